/* Pure parts of the SQS client: the JSON answers of ReceiveMessage, the batch calls and the
 * one-value calls, and errors (JSON or Query-style XML). No loop, no network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sqs.h"
#include "base/xmlscan.h"

static int fail(char *why, size_t cap, const char *msg) {
    if (why && cap) snprintf(why, cap, "%s", msg);
    return -1;
}

static void copy_cut(char *out, size_t cap, const char *p, size_t n) {
    if (!out || cap == 0) return;
    if (n > cap - 1) n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

/* Decode string token tok into out, cutting long values instead of failing (messages are for logs). */
static void tok_text(const json_doc *d, int tok, char *out, size_t cap) {
    if (tok < 0 || d->toks[tok].type != JSON_STRING) return;
    if (json_tok_decode(d, tok, out, cap) < 0) copy_cut(out, cap, json_tok_ptr(d, tok), json_tok_len(d, tok));
}

static int parse_json_error(const char *body, size_t len, char *code, size_t code_cap, char *message,
                            size_t message_cap) {
    json_doc d;
    if (json_doc_init(&d, 64) != JSON_OK) return -1;
    int found = -1;
    if (json_parse(&d, body, len) == JSON_OK && d.toks[0].type == JSON_OBJECT) {
        int t = json_obj_get(&d, 0, "__type");
        if (t < 0) t = json_obj_get(&d, 0, "code");
        if (t >= 0 && d.toks[t].type == JSON_STRING) {
            char type[256] = "";
            tok_text(&d, t, type, sizeof type);
            /* "com.amazonaws.sqs#QueueDoesNotExist" -> after the last '#', before any ':' */
            const char *c = strrchr(type, '#');
            c = c ? c + 1 : type;
            size_t n = strcspn(c, ":");
            if (n > 0) {
                copy_cut(code, code_cap, c, n);
                found = 0;
            }
        }
        int m = json_obj_get(&d, 0, "message");
        if (m < 0) m = json_obj_get(&d, 0, "Message");
        tok_text(&d, m, message, message_cap);
    }
    json_doc_free(&d);
    return found;
}

static int parse_xml_error(const char *body, size_t len, char *code, size_t code_cap, char *message,
                           size_t message_cap) {
    xml_span root, s;
    size_t pos = 0;
    if (xml_next(body, len, &pos, "Error", &root) != 0) return -1;
    if (xml_child(&root, "Message", &s) == 0 && message && message_cap && xml_decode(&s, message, message_cap) < 0)
        copy_cut(message, message_cap, s.p, s.n);
    if (xml_child(&root, "Code", &s) != 0 || s.n == 0) return -1;
    if (xml_decode(&s, code, code_cap) < 0) copy_cut(code, code_cap, s.p, s.n);
    return 0;
}

int sqs_parse_error(const char *body, size_t len, const char *query_error_header, char *code, size_t code_cap,
                    char *message, size_t message_cap) {
    if (code && code_cap) code[0] = '\0';
    if (message && message_cap) message[0] = '\0';
    int rc = -1;
    if (body && len) {
        size_t i = 0;
        while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) i++;
        if (i < len && body[i] == '{') rc = parse_json_error(body, len, code, code_cap, message, message_cap);
        else if (i < len && body[i] == '<') rc = parse_xml_error(body, len, code, code_cap, message, message_cap);
    }
    /* "AWS.SimpleQueueService.NonExistentQueue;Sender": the legacy code, when nothing better */
    if (rc != 0 && query_error_header && *query_error_header) {
        size_t n = strcspn(query_error_header, ";");
        if (n > 0) {
            copy_cut(code, code_cap, query_error_header, n);
            rc = 0;
        }
    }
    return rc;
}

/* Copy the decoded string token into the arena. */
static const char *arena_str(const json_doc *d, int tok, char *arena, size_t cap, size_t *used, size_t *len_out) {
    if (tok < 0 || d->toks[tok].type != JSON_STRING) return NULL;
    char *dst = arena + *used;
    long n = json_tok_decode(d, tok, dst, cap - *used);
    if (n < 0) return NULL;
    *used += (size_t)n + 1;
    if (len_out) *len_out = (size_t)n;
    return dst;
}

/* Attributes values are decimal strings ("1", "1545082649183"). */
static int64_t attr_int(const json_doc *d, int attrs, const char *name) {
    if (attrs < 0) return 0;
    int t = json_obj_get(d, attrs, name);
    if (t < 0) return 0;
    const char *p = json_tok_ptr(d, t);
    size_t n = json_tok_len(d, t);
    if (n == 0 || n > 18) return 0;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int sqs_parse_receive(json_doc *doc, const char *js, size_t len, char *arena, size_t arena_cap, sqs_message *msgs,
                      int max, char *why, size_t why_cap) {
    if (json_parse(doc, js, len) != JSON_OK || doc->toks[0].type != JSON_OBJECT)
        return fail(why, why_cap, "ReceiveMessage answer is not a JSON object");
    int list = json_obj_get(doc, 0, "Messages");
    if (list < 0) return 0; /* empty poll: "{}" */
    if (doc->toks[list].type != JSON_ARRAY) return fail(why, why_cap, "Messages is not an array");
    int n = doc->toks[list].size;
    if (n > max) return fail(why, why_cap, "more messages than asked for");
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        int m = json_array_at(doc, list, i);
        if (m < 0 || doc->toks[m].type != JSON_OBJECT) return fail(why, why_cap, "a message is not an object");
        sqs_message *out = &msgs[i];
        memset(out, 0, sizeof *out);
        out->message_id = arena_str(doc, json_obj_get(doc, m, "MessageId"), arena, arena_cap, &used, NULL);
        out->receipt_handle = arena_str(doc, json_obj_get(doc, m, "ReceiptHandle"), arena, arena_cap, &used, NULL);
        out->body = arena_str(doc, json_obj_get(doc, m, "Body"), arena, arena_cap, &used, &out->body_len);
        if (!out->message_id || !out->receipt_handle || !out->body || !*out->receipt_handle)
            return fail(why, why_cap, "a message lacks MessageId, ReceiptHandle or Body (or they do not fit)");
        int attrs = json_obj_get(doc, m, "Attributes");
        if (attrs >= 0 && doc->toks[attrs].type != JSON_OBJECT) attrs = -1;
        out->receive_count = (int)attr_int(doc, attrs, "ApproximateReceiveCount");
        out->sent_timestamp = attr_int(doc, attrs, "SentTimestamp");
    }
    return n;
}

/* "e7" -> 7 when 0 <= 7 < n, else -1 */
static int entry_index(const json_doc *d, int tok, int n) {
    if (tok < 0 || d->toks[tok].type != JSON_STRING) return -1;
    const char *p = json_tok_ptr(d, tok);
    size_t len = json_tok_len(d, tok);
    if (len < 2 || len > 3 || p[0] != 'e') return -1;
    int v = 0;
    for (size_t i = 1; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v < n ? v : -1;
}

int sqs_parse_batch(json_doc *doc, const char *js, size_t len, sqs_entry_result *out, int n, char *why,
                    size_t why_cap) {
    int seen[SQS_MAX_BATCH] = {0};
    if (n < 0 || n > SQS_MAX_BATCH) return fail(why, why_cap, "bad entry count");
    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        snprintf(out[i].code, sizeof out[i].code, "MissingFromAnswer");
        snprintf(out[i].message, sizeof out[i].message, "the answer did not mention this entry");
    }
    if (json_parse(doc, js, len) != JSON_OK || doc->toks[0].type != JSON_OBJECT)
        return fail(why, why_cap, "batch answer is not a JSON object");
    int ok_list = json_obj_get(doc, 0, "Successful");
    int bad_list = json_obj_get(doc, 0, "Failed");
    if ((ok_list >= 0 && doc->toks[ok_list].type != JSON_ARRAY) ||
        (bad_list >= 0 && doc->toks[bad_list].type != JSON_ARRAY))
        return fail(why, why_cap, "Successful/Failed is not an array");
    for (int pass = 0; pass < 2; pass++) {
        int list = pass == 0 ? ok_list : bad_list;
        if (list < 0) continue;
        for (int k = 0; k < doc->toks[list].size; k++) {
            int e = json_array_at(doc, list, k);
            if (e < 0 || doc->toks[e].type != JSON_OBJECT) return fail(why, why_cap, "a batch entry is not an object");
            int idx = entry_index(doc, json_obj_get(doc, e, "Id"), n);
            if (idx < 0) return fail(why, why_cap, "a batch entry has an Id we did not send");
            if (seen[idx]) return fail(why, why_cap, "a batch entry is answered twice");
            seen[idx] = 1;
            sqs_entry_result *r = &out[idx];
            r->code[0] = r->message[0] = '\0';
            if (pass == 0) {
                r->ok = 1;
                tok_text(doc, json_obj_get(doc, e, "MessageId"), r->message_id, sizeof r->message_id);
            } else {
                r->ok = 0;
                r->sender_fault = json_tok_bool(doc, json_obj_get(doc, e, "SenderFault")) == 1;
                tok_text(doc, json_obj_get(doc, e, "Code"), r->code, sizeof r->code);
                tok_text(doc, json_obj_get(doc, e, "Message"), r->message, sizeof r->message);
                if (!r->code[0]) snprintf(r->code, sizeof r->code, "Failed");
            }
        }
    }
    return 0;
}

int sqs_parse_value(json_doc *doc, const char *js, size_t len, const char *field, char *out, size_t cap) {
    if (json_parse(doc, js, len) != JSON_OK || doc->toks[0].type != JSON_OBJECT) return -1;
    int t = json_obj_get(doc, 0, field);
    if (t < 0 || doc->toks[t].type != JSON_STRING) return -1;
    return json_tok_decode(doc, t, out, cap) > 0 ? 0 : -1;
}

int sqs_parse_redrive(json_doc *doc, const char *js, size_t len, sqs_redrive *out) {
    memset(out, 0, sizeof *out);
    if (json_parse(doc, js, len) != JSON_OK || doc->toks[0].type != JSON_OBJECT) return -1;
    int attrs = json_obj_get(doc, 0, "Attributes");
    if (attrs < 0) return 1; /* no attribute asked for is set */
    if (doc->toks[attrs].type != JSON_OBJECT) return -1;
    int t = json_obj_get(doc, attrs, "RedrivePolicy");
    if (t < 0) return 1;
    if (doc->toks[t].type != JSON_STRING) return -1;
    /* The policy is JSON held in a string: decode it, then parse it on its own. */
    char policy[SQS_REDRIVE_MAX];
    long n = json_tok_decode(doc, t, policy, sizeof policy);
    if (n <= 0) return -1;
    if (json_parse(doc, policy, (size_t)n) != JSON_OK || doc->toks[0].type != JSON_OBJECT) return -1;
    int arn = json_obj_get(doc, 0, "deadLetterTargetArn");
    int count = json_obj_get(doc, 0, "maxReceiveCount");
    if (arn < 0 || count < 0 || doc->toks[arn].type != JSON_STRING) return -1;
    int64_t v = 0;
    if (doc->toks[count].type == JSON_PRIMITIVE) { /* a number, as the API documents */
        if (json_tok_int64(doc, count, &v) != 0) return -1;
    } else if (doc->toks[count].type == JSON_STRING) { /* "3", as CloudFormation and the console write it */
        char num[24];
        long k = json_tok_decode(doc, count, num, sizeof num);
        char *end = NULL;
        if (k <= 0) return -1;
        long long x = strtoll(num, &end, 10);
        if (end != num + k) return -1;
        v = x;
    } else {
        return -1;
    }
    if (v < 1 || v > 1000) return -1; /* SQS's range */
    if (json_tok_decode(doc, arn, out->dlq_arn, sizeof out->dlq_arn) <= 0) return -1;
    out->max_receive_count = (int)v;
    return 0;
}
