/* S3 GetObject (streaming) and ListObjectsV2 on aws_send, with a single retry in the bucket's
 * own region when S3 says it lives elsewhere. The pure parts are in s3_parse.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/s3.h"
#include "aws/sigv4.h"
#include "base/log.h"

enum { S3_GET, S3_LIST };

struct s3_call {
    aws_ctx *aws;
    aws_call *call;
    int kind;
    int redirected; /* already moved to the bucket's region once */
    int attempts;   /* over finished sends */
    char bucket[S3_MAX_BUCKET + 1];
    char region[AWSCONF_MAX_REGION + 1];
    char bucket_region[AWSCONF_MAX_REGION + 1];
    char *key;   /* GET */
    char *query; /* LIST */
    uint64_t bytes;
    int (*on_data)(void *ud, const char *p, size_t n);
    s3_done_fn on_done;
    s3_list_fn on_list;
    void *ud;
};

static void call_done(void *ud, aws_response *r);

static int call_data(void *ud, const char *p, size_t n) {
    s3_call *c = ud;
    int rc = c->on_data(c->ud, p, n);
    if (rc == 0) c->bytes += n; /* paused bytes come again later; count them then */
    return rc;
}

static void call_free(s3_call *c) {
    free(c->key);
    free(c->query);
    free(c);
}

/* Build the URL for the current region and send. 0 when the call is running. */
static int call_send(s3_call *c) {
    char endpoint[AWSCONF_MAX_URL + 1];
    char url[S3_MAX_URL];
    if (aws_ctx_endpoint(c->aws, "s3", c->region, endpoint, sizeof endpoint) != 0) {
        log_error("s3: no endpoint for region %s", c->region);
        return -1;
    }
    if (s3_object_url(endpoint, c->bucket, c->kind == S3_GET ? c->key : NULL, url, sizeof url) != 0) {
        log_error("s3: cannot build a URL for bucket '%s'%s", c->bucket,
                  c->kind == S3_GET ? " and this key (empty, too long, or with a '.'/'..' segment)" : "");
        return -1;
    }
    if (c->kind == S3_LIST) {
        size_t ul = strlen(url), ql = strlen(c->query);
        if (ul + 1 + ql + 1 > sizeof url) return -1;
        url[ul] = '?';
        memcpy(url + ul + 1, c->query, ql + 1);
    }
    aws_request rq;
    memset(&rq, 0, sizeof rq);
    rq.service = "s3";
    rq.region = c->region;
    rq.method = "GET";
    rq.url = url;
    rq.sign_flags = SIGV4_S3;
    rq.on_done = call_done;
    rq.ud = c;
    if (c->kind == S3_GET) {
        /* Nothing to hash on a GET; UNSIGNED-PAYLOAD is what S3 documents for streaming reads. */
        rq.payload_hash = SIGV4_UNSIGNED_PAYLOAD;
        rq.on_data = call_data;
    } else {
        rq.max_body = S3_MAX_LIST_BODY;
        rq.timeout_ms = 60000;
    }
    c->call = aws_send(c->aws, &rq);
    return c->call ? 0 : -1;
}

static int region_name_ok(const char *r) {
    size_t n = strlen(r);
    if (n < 4 || n > AWSCONF_MAX_REGION) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-')) return 0;
    return 1;
}

static void fill_result(s3_call *c, aws_response *r, s3_result *res) {
    memset(res, 0, sizeof *res);
    res->ok = r->ok;
    res->status = r->status;
    res->result = r->result;
    res->attempts = c->attempts;
    res->bytes = c->bytes;
    snprintf(res->code, sizeof res->code, "%s", r->code);
    snprintf(res->message, sizeof res->message, "%s", r->message);
    snprintf(res->bucket_region, sizeof res->bucket_region, "%s", c->bucket_region);
    if (r->result == HTTP_ERR_CANCELLED) snprintf(res->code, sizeof res->code, "Cancelled");
}

/* Region S3 names for the bucket in a redirect/wrong-region answer, or "" */
static void wrong_region(aws_response *r, const char *xml_region, char *out, size_t cap) {
    out[0] = '\0';
    if (!(r->status == 301 || r->status == 400)) return;
    if (r->status == 400 && strcmp(r->code, "AuthorizationHeaderMalformed") != 0) return;
    const char *h = r->http ? http_response_header(r->http, "x-amz-bucket-region") : NULL;
    snprintf(out, cap, "%s", h && *h ? h : xml_region);
    if (!region_name_ok(out)) out[0] = '\0';
}

static void call_done(void *ud, aws_response *r) {
    s3_call *c = ud;
    c->call = NULL;
    c->attempts += r->attempts;
    if (!r->ok && r->body.data && r->body.len) {
        char code[128], message[512], region[AWSCONF_MAX_REGION + 1];
        if (s3_parse_error(r->body.data, r->body.len, code, sizeof code, message, sizeof message, region,
                           sizeof region) == 0) {
            snprintf(r->code, sizeof r->code, "%s", code);
            if (message[0]) snprintf(r->message, sizeof r->message, "%s", message);
        }
        char moved[AWSCONF_MAX_REGION + 1];
        wrong_region(r, region, moved, sizeof moved);
        if (moved[0] && strcmp(moved, c->region) != 0) {
            snprintf(c->bucket_region, sizeof c->bucket_region, "%s", moved);
            if (!c->redirected) {
                log_warn("s3: bucket %s is in region %s, not %s (%s): retrying there; configure that region", c->bucket,
                         moved, c->region, r->code);
                c->redirected = 1;
                snprintf(c->region, sizeof c->region, "%s", moved);
                if (call_send(c) == 0) return;
            }
        } else if (r->status == 301) {
            log_error("s3: bucket %s answered 301 %s without naming its region: set the bucket's region", c->bucket,
                      r->code);
        }
    }
    s3_result res;
    fill_result(c, r, &res);
    if (c->kind == S3_GET) {
        c->on_done(c->ud, &res);
    } else if (!res.ok) {
        c->on_list(c->ud, &res, NULL);
    } else {
        s3_list_parsed parsed;
        char why[160];
        if (s3_list_parse(r->body.data, r->body.len, &parsed, why, sizeof why) != 0) {
            res.ok = 0;
            snprintf(res.code, sizeof res.code, "BadResponse");
            snprintf(res.message, sizeof res.message, "ListObjectsV2 on %s: %s", c->bucket, why);
            log_error("s3: %s", res.message);
            c->on_list(c->ud, &res, NULL);
        } else {
            c->on_list(c->ud, &res, &parsed.page);
            s3_list_parsed_free(&parsed);
        }
    }
    call_free(c);
}

static s3_call *call_new(aws_ctx *aws, const char *bucket, int kind, void *ud) {
    if (!aws || !bucket || strlen(bucket) > S3_MAX_BUCKET) return NULL;
    s3_call *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->aws = aws;
    c->kind = kind;
    c->ud = ud;
    snprintf(c->bucket, sizeof c->bucket, "%s", bucket);
    snprintf(c->region, sizeof c->region, "%s", aws_ctx_region(aws));
    return c;
}

s3_call *s3_get(aws_ctx *aws, const char *bucket, const char *key, int (*on_data)(void *ud, const char *p, size_t n),
                s3_done_fn on_done, void *ud) {
    if (!key || !on_data || !on_done || strlen(key) > S3_MAX_KEY) return NULL;
    s3_call *c = call_new(aws, bucket, S3_GET, ud);
    if (!c) return NULL;
    c->on_data = on_data;
    c->on_done = on_done;
    if (!(c->key = strdup(key)) || call_send(c) != 0) {
        call_free(c);
        return NULL;
    }
    return c;
}

s3_call *s3_list(aws_ctx *aws, const char *bucket, const char *prefix, const char *start_after,
                 const char *continuation_token, const char *delimiter, int max_keys, s3_list_fn cb, void *ud) {
    if (!cb) return NULL;
    s3_call *c = call_new(aws, bucket, S3_LIST, ud);
    if (!c) return NULL;
    c->on_list = cb;
    char query[SIGV4_MAX_QUERY + 1];
    if (s3_list_query(prefix, start_after, continuation_token, delimiter, max_keys, query, sizeof query) != 0) {
        log_error("s3: ListObjectsV2 parameters for %s do not fit in a query", bucket);
        call_free(c);
        return NULL;
    }
    if (!(c->query = strdup(query)) || call_send(c) != 0) {
        call_free(c);
        return NULL;
    }
    return c;
}

void s3_call_resume(s3_call *c) {
    if (c && c->call) aws_call_resume(c->call);
}

void s3_call_cancel(s3_call *c) {
    if (c && c->call) aws_call_cancel(c->call);
}
