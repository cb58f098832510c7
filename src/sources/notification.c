#include "sources/notification.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/text.h"

static void bad(notify_result *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    r->kind = NOTIFY_BAD;
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

/* Copy a decoded JSON string token into a fixed field; -1 when absent, empty, too long or
 * holding a NUL ("\u0000"): no S3 bucket or key has one, and a C string would end there. */
static int get_str(json_doc *d, int tok, char *out, size_t cap) {
    if (tok < 0 || d->toks[tok].type != JSON_STRING) return -1;
    long n = json_tok_decode(d, tok, out, cap);
    return n > 0 && strlen(out) == (size_t)n ? 0 : -1;
}

static int add_object(notify_result *r, notify_object *objs, int max, const char *bucket, const char *key) {
    if (r->n >= max) return -1;
    snprintf(objs[r->n].bucket, sizeof objs[r->n].bucket, "%s", bucket);
    snprintf(objs[r->n].key, sizeof objs[r->n].key, "%s", key);
    r->n++;
    return 0;
}

static void parse_cloudtrail(json_doc *d, notify_object *objs, int max, notify_result *r) {
    char bucket[NOTIFY_BUCKET_MAX], key[NOTIFY_KEY_MAX];
    snprintf(r->source, sizeof r->source, "cloudtrail");
    if (get_str(d, json_obj_get(d, 0, "s3Bucket"), bucket, sizeof bucket) != 0)
        return bad(r, "CloudTrail notification without a valid s3Bucket");
    int keys = json_obj_get(d, 0, "s3ObjectKey");
    if (keys < 0 || d->toks[keys].type != JSON_ARRAY)
        return bad(r, "CloudTrail notification without an s3ObjectKey list");
    int n = d->toks[keys].size;
    if (n > max) return bad(r, "CloudTrail notification names %d objects (at most %d)", n, max);
    int t = keys + 1;
    for (int i = 0; i < n; i++, t = json_next(d, t)) {
        if (get_str(d, t, key, sizeof key) != 0) return bad(r, "s3ObjectKey[%d] is not a valid key", i);
        add_object(r, objs, max, bucket, key);
    }
}

static void parse_s3_event(json_doc *d, int records, notify_object *objs, int max, notify_result *r) {
    char bucket[NOTIFY_BUCKET_MAX], raw[NOTIFY_KEY_MAX * 3], key[NOTIFY_KEY_MAX];
    snprintf(r->source, sizeof r->source, "s3");
    int n = d->toks[records].size;
    if (n > max) return bad(r, "S3 event names %d objects (at most %d)", n, max);
    int t = records + 1;
    for (int i = 0; i < n; i++, t = json_next(d, t)) {
        int s3 = json_obj_get(d, t, "s3");
        if (s3 < 0) return bad(r, "Records[%d] has no s3 member", i);
        /* Only object-created events announce new log files. */
        int name = json_obj_get(d, t, "eventName");
        if (name >= 0 && d->toks[name].type == JSON_STRING && json_tok_len(d, name) >= 13 &&
            memcmp(json_tok_ptr(d, name), "ObjectCreated", 13) != 0)
            continue;
        if (get_str(d, json_path(d, s3, "bucket.name"), bucket, sizeof bucket) != 0)
            return bad(r, "Records[%d].s3.bucket.name missing", i);
        if (get_str(d, json_path(d, s3, "object.key"), raw, sizeof raw) != 0)
            return bad(r, "Records[%d].s3.object.key missing", i);
        if (text_pct_decode(raw, strlen(raw), key, sizeof key, TEXT_PCT_PLUS_SPACE | TEXT_PCT_NO_NUL) <= 0)
            return bad(r, "Records[%d].s3.object.key is not a valid URL-encoded key", i);
        add_object(r, objs, max, bucket, key);
    }
}

static void parse_eventbridge(json_doc *d, notify_object *objs, int max, notify_result *r) {
    char bucket[NOTIFY_BUCKET_MAX], key[NOTIFY_KEY_MAX];
    snprintf(r->source, sizeof r->source, "eventbridge");
    int detail = json_obj_get(d, 0, "detail");
    if (get_str(d, json_path(d, detail, "bucket.name"), bucket, sizeof bucket) != 0)
        return bad(r, "EventBridge event without detail.bucket.name");
    /* EventBridge keys are not form-encoded: '+' stays '+'. */
    if (get_str(d, json_path(d, detail, "object.key"), key, sizeof key) != 0)
        return bad(r, "EventBridge event without detail.object.key");
    add_object(r, objs, max, bucket, key);
}

static void parse_payload(json_doc *d, const char *body, size_t len, char *scratch, size_t scap, notify_object *objs,
                          int max, notify_result *r, int depth) {
    /* SNS may carry CloudTrail's plain-text validation message. */
    static const char validation[] = "CloudTrail validation message.";
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) i++;
    if (len - i >= sizeof validation - 1 && memcmp(body + i, validation, sizeof validation - 1) == 0) {
        r->kind = NOTIFY_IGNORE;
        snprintf(r->source, sizeof r->source, "validation");
        snprintf(r->why, sizeof r->why, "CloudTrail validation message");
        return;
    }
    int rc = json_parse(d, body, len);
    if (rc != JSON_OK) return bad(r, rc == JSON_ENOMEM ? "message too complex" : "message body is not JSON");
    if (d->toks[0].type != JSON_OBJECT) return bad(r, "message body is not a JSON object");

    int type = json_obj_get(d, 0, "Type");
    int message = json_obj_get(d, 0, "Message");
    if (type >= 0 && json_tok_streq(d, type, "Notification") && message >= 0 && d->toks[message].type == JSON_STRING) {
        if (depth > 0) return bad(r, "SNS envelope inside an SNS envelope");
        long n = json_tok_decode(d, message, scratch, scap);
        if (n < 0) return bad(r, "SNS Message is not a valid string or is too long");
        /* The decoded text lives in scratch; the same token array parses it. */
        return parse_payload(d, scratch, (size_t)n, NULL, 0, objs, max, r, depth + 1);
    }
    if (json_obj_get(d, 0, "s3Bucket") >= 0) return parse_cloudtrail(d, objs, max, r);
    int records = json_obj_get(d, 0, "Records");
    if (records >= 0 && d->toks[records].type == JSON_ARRAY) return parse_s3_event(d, records, objs, max, r);
    int event = json_obj_get(d, 0, "Event");
    if (event >= 0 && json_tok_streq(d, event, "s3:TestEvent")) {
        r->kind = NOTIFY_IGNORE;
        snprintf(r->source, sizeof r->source, "test");
        snprintf(r->why, sizeof r->why, "S3 test event");
        return;
    }
    int src = json_obj_get(d, 0, "source");
    if (json_obj_get(d, 0, "detail-type") >= 0 && json_tok_streq(d, src, "aws.s3")) {
        if (!json_tok_streq(d, json_obj_get(d, 0, "detail-type"), "Object Created")) {
            r->kind = NOTIFY_IGNORE;
            snprintf(r->source, sizeof r->source, "eventbridge");
            snprintf(r->why, sizeof r->why, "EventBridge S3 event that is not Object Created");
            return;
        }
        return parse_eventbridge(d, objs, max, r);
    }
    bad(r, "unknown notification shape");
}

void notify_parse(json_doc *doc, const char *body, size_t len, char *scratch, size_t scratch_cap,
                  notify_object *objects, int max, notify_result *res) {
    memset(res, 0, sizeof *res);
    res->kind = NOTIFY_OBJECTS;
    parse_payload(doc, body, len, scratch, scratch_cap, objects, max, res, 0);
    if (res->kind == NOTIFY_BAD) res->n = 0;
}
