/* SQS calls (JSON 1.0 protocol) on aws_send: request bodies are built here, answers parsed by
 * sqs_parse.c. One call = one small allocation for its state and body, none per message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "aws/sqs.h"
#include "base/jsonw.h"
#include "base/log.h"

enum sqs_op {
    OP_RECEIVE,
    OP_DELETE_BATCH,
    OP_VISIBILITY_BATCH,
    OP_SEND,
    OP_SEND_BATCH,
    OP_GET_QUEUE_URL,
    OP_GET_REDRIVE
};

static const char *const op_target[] = {
    "ReceiveMessage",   "DeleteMessageBatch", "ChangeMessageVisibilityBatch", "SendMessage",
    "SendMessageBatch", "GetQueueUrl",        "GetQueueAttributes",
};

/* Request bodies: 10 messages of 1 MiB escaped (\" \\ \n grow by 2x at most) plus the envelope. */
#define SQS_MAX_REQUEST_BODY (2u * SQS_MAX_BATCH * SQS_MAX_MESSAGE + (64u << 10))
#define SQS_ANSWER_TOKENS 1024

struct sqs_call {
    aws_ctx *aws;
    aws_call *call;
    enum sqs_op op;
    int n;    /* batch entries, or the receive maximum */
    buf body; /* request body; aws.c does not copy it */
    sqs_receive_fn on_receive;
    sqs_batch_fn on_batch;
    sqs_value_fn on_value;
    sqs_redrive_fn on_redrive;
    void *ud;
};

/* ---- request bodies ---- */

/* Append a JSON string; -1 when the text had to be altered (invalid UTF-8 or characters SQS
 * does not allow): callers refuse rather than send something else than asked. */
static int put_str(buf *b, const char *s, size_t n) {
    size_t need = 2 * n + 2; /* jsonw_escape at most doubles a byte (\" \\ \t \n \r) */
    if (buf_reserve(b, need) != 0) return -1;
    b->data[b->len++] = '"';
    jsonw_stats st;
    long w = jsonw_escape(s, n, b->data + b->len, b->cap - b->len, JSONW_NO_LIMIT, 0, &st);
    if (w < 0 || st.dropped) return -1;
    b->len += (size_t)w;
    b->data[b->len++] = '"';
    return 0;
}

static int begin_body(buf *b, const char *queue_url) {
    if (buf_append_str(b, "{\"QueueUrl\":") != 0) return -1;
    return put_str(b, queue_url, strlen(queue_url));
}

/* "Entries":[{"Id":"e0","ReceiptHandle":"..."(,"VisibilityTimeout":T)}, ...] */
static int put_handle_entries(buf *b, const char *const *handles, int n, int timeout_s) {
    if (buf_append_str(b, ",\"Entries\":[") != 0) return -1;
    for (int i = 0; i < n; i++) {
        if (!handles[i] || !*handles[i]) return -1;
        if (buf_printf(b, "%s{\"Id\":\"e%d\",\"ReceiptHandle\":", i ? "," : "", i) != 0) return -1;
        if (put_str(b, handles[i], strlen(handles[i])) != 0) return -1;
        if (timeout_s >= 0 && buf_printf(b, ",\"VisibilityTimeout\":%d", timeout_s) != 0) return -1;
        if (buf_append_str(b, "}") != 0) return -1;
    }
    return buf_append_str(b, "]");
}

/* ---- answers ---- */

static void call_free(sqs_call *c) {
    buf_free(&c->body);
    free(c);
}

static void deliver_failure(sqs_call *c, const sqs_result *res) {
    switch (c->op) {
    case OP_RECEIVE: c->on_receive(c->ud, res, NULL, 0); break;
    case OP_DELETE_BATCH:
    case OP_VISIBILITY_BATCH:
    case OP_SEND_BATCH: c->on_batch(c->ud, res, NULL, 0); break;
    case OP_SEND:
    case OP_GET_QUEUE_URL: c->on_value(c->ud, res, NULL); break;
    case OP_GET_REDRIVE: c->on_redrive(c->ud, res, NULL); break;
    }
}

static void bad_answer(sqs_call *c, sqs_result *res, const char *why) {
    res->ok = 0;
    snprintf(res->code, sizeof res->code, "BadResponse");
    snprintf(res->message, sizeof res->message, "%s answer: %s", op_target[c->op], why);
    log_error("sqs: %s", res->message);
    deliver_failure(c, res);
}

static void deliver_receive(sqs_call *c, sqs_result *res, const aws_response *r) {
    json_doc doc;
    size_t arena_cap = r->body.len + 4u * (size_t)c->n + 16;
    char *arena = malloc(arena_cap);
    sqs_message msgs[SQS_MAX_RECEIVE];
    char why[160];
    if (!arena || json_doc_init(&doc, SQS_ANSWER_TOKENS) != JSON_OK) {
        free(arena);
        bad_answer(c, res, "out of memory");
        return;
    }
    int n = sqs_parse_receive(&doc, r->body.data ? r->body.data : "", r->body.len, arena, arena_cap, msgs, c->n, why,
                              sizeof why);
    if (n < 0) bad_answer(c, res, why);
    else c->on_receive(c->ud, res, msgs, n);
    json_doc_free(&doc);
    free(arena);
}

static void deliver_batch(sqs_call *c, sqs_result *res, const aws_response *r) {
    json_doc doc;
    sqs_entry_result entries[SQS_MAX_BATCH];
    char why[160];
    if (json_doc_init(&doc, SQS_ANSWER_TOKENS) != JSON_OK) {
        bad_answer(c, res, "out of memory");
        return;
    }
    if (sqs_parse_batch(&doc, r->body.data ? r->body.data : "", r->body.len, entries, c->n, why, sizeof why) != 0) {
        bad_answer(c, res, why);
    } else {
        int failed = 0, first = -1;
        for (int i = 0; i < c->n; i++)
            if (!entries[i].ok && failed++ == 0) first = i;
        if (failed)
            log_warn("sqs: %s: %d of %d entries failed (entry %d: %s %s)", op_target[c->op], failed, c->n, first,
                     entries[first].code, entries[first].message);
        c->on_batch(c->ud, res, entries, c->n);
    }
    json_doc_free(&doc);
}

static void deliver_value(sqs_call *c, sqs_result *res, const aws_response *r) {
    json_doc doc;
    char value[AWSCONF_MAX_URL + 1];
    const char *field = c->op == OP_SEND ? "MessageId" : "QueueUrl";
    if (json_doc_init(&doc, 64) != JSON_OK) {
        bad_answer(c, res, "out of memory");
        return;
    }
    if (sqs_parse_value(&doc, r->body.data ? r->body.data : "", r->body.len, field, value, sizeof value) != 0)
        bad_answer(c, res, field[0] == 'M' ? "no MessageId" : "no QueueUrl");
    else c->on_value(c->ud, res, value);
    json_doc_free(&doc);
}

static void deliver_redrive(sqs_call *c, sqs_result *res, const aws_response *r) {
    json_doc doc;
    sqs_redrive policy;
    if (json_doc_init(&doc, 64) != JSON_OK) {
        bad_answer(c, res, "out of memory");
        return;
    }
    if (sqs_parse_redrive(&doc, r->body.data ? r->body.data : "", r->body.len, &policy) < 0)
        bad_answer(c, res, "a RedrivePolicy that is not understood");
    else c->on_redrive(c->ud, res, &policy);
    json_doc_free(&doc);
}

static void call_done(void *ud, aws_response *r) {
    sqs_call *c = ud;
    c->call = NULL;
    sqs_result res;
    memset(&res, 0, sizeof res);
    res.ok = r->ok;
    res.status = r->status;
    res.result = r->result;
    res.attempts = r->attempts;
    snprintf(res.code, sizeof res.code, "%s", r->code);
    snprintf(res.message, sizeof res.message, "%s", r->message);
    const char *qe = r->http ? http_response_header(r->http, "x-amzn-query-error") : NULL;
    if (qe) snprintf(res.query_error, sizeof res.query_error, "%s", qe);
    if (r->result == HTTP_ERR_CANCELLED) snprintf(res.code, sizeof res.code, "Cancelled");
    if (!r->ok) {
        char code[128], message[512];
        if (sqs_parse_error(r->body.data, r->body.len, qe, code, sizeof code, message, sizeof message) == 0) {
            snprintf(res.code, sizeof res.code, "%s", code);
            if (message[0]) snprintf(res.message, sizeof res.message, "%s", message);
        }
        deliver_failure(c, &res);
    } else if (c->op == OP_RECEIVE) {
        deliver_receive(c, &res, r);
    } else if (c->op == OP_SEND || c->op == OP_GET_QUEUE_URL) {
        deliver_value(c, &res, r);
    } else if (c->op == OP_GET_REDRIVE) {
        deliver_redrive(c, &res, r);
    } else {
        deliver_batch(c, &res, r);
    }
    call_free(c);
}

/* ---- sending ---- */

/* Region of an AWS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME) into out, or "" */
static void region_of_queue_url(const char *url, char *out, size_t cap) {
    out[0] = '\0';
    const char *h = strstr(url, "://");
    if (!h || strncmp(h + 3, "sqs.", 4) != 0) return;
    h += 7;
    size_t n = strcspn(h, ".");
    if (n == 0 || n >= cap || strncmp(h + n, ".amazonaws.com", 14) != 0) return;
    memcpy(out, h, n);
    out[n] = '\0';
}

static sqs_call *call_new(aws_ctx *aws, enum sqs_op op, int n, void *ud) {
    sqs_call *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->aws = aws;
    c->op = op;
    c->n = n;
    c->ud = ud;
    buf_init(&c->body, SQS_MAX_REQUEST_BODY);
    return c;
}

/* Finish the body and send it; frees c and returns NULL when it cannot start. */
static sqs_call *call_start(sqs_call *c, const char *queue_url, long timeout_ms, size_t max_answer) {
    char region[AWSCONF_MAX_REGION + 1] = "";
    char endpoint[AWSCONF_MAX_URL + 1];
    char target[64];
    if (queue_url) region_of_queue_url(queue_url, region, sizeof region);
    const char *rg = region[0] ? region : aws_ctx_region(c->aws);
    if (buf_append_str(&c->body, "}") != 0 || aws_ctx_endpoint(c->aws, "sqs", rg, endpoint, sizeof endpoint) != 0) {
        log_error("sqs: cannot build the %s request", op_target[c->op]);
        call_free(c);
        return NULL;
    }
    /* The endpoint's root path: QueueUrl is in the body, whatever path the queue URL has. */
    size_t el = strlen(endpoint);
    if (el + 2 > sizeof endpoint) {
        call_free(c);
        return NULL;
    }
    if (el == 0 || endpoint[el - 1] != '/') memcpy(endpoint + el, "/", 2);
    snprintf(target, sizeof target, "X-Amz-Target: AmazonSQS.%s", op_target[c->op]);
    const char *headers[] = {"Content-Type: application/x-amz-json-1.0", target};
    aws_request rq;
    memset(&rq, 0, sizeof rq);
    rq.service = "sqs";
    rq.region = rg;
    rq.method = "POST";
    rq.url = endpoint;
    rq.headers = headers;
    rq.nheaders = 2;
    rq.body = c->body.data;
    rq.body_len = c->body.len;
    rq.timeout_ms = timeout_ms;
    rq.max_body = max_answer;
    rq.on_done = call_done;
    rq.ud = c;
    c->call = aws_send(c->aws, &rq);
    if (!c->call) {
        call_free(c);
        return NULL;
    }
    return c;
}

static int queue_ok(const char *queue_url) { return queue_url && *queue_url && strlen(queue_url) <= AWSCONF_MAX_URL; }

sqs_call *sqs_receive(aws_ctx *aws, const char *queue_url, int max, int wait_s, int visibility_s, sqs_receive_fn cb,
                      void *ud) {
    if (!aws || !cb || !queue_ok(queue_url) || max < 1 || max > SQS_MAX_RECEIVE || wait_s < 0 ||
        wait_s > SQS_MAX_WAIT_S || visibility_s > SQS_MAX_VISIBILITY_S)
        return NULL;
    sqs_call *c = call_new(aws, OP_RECEIVE, max, ud);
    if (!c) return NULL;
    c->on_receive = cb;
    int rc = begin_body(&c->body, queue_url);
    if (rc == 0)
        rc = buf_printf(&c->body,
                        ",\"MaxNumberOfMessages\":%d,\"WaitTimeSeconds\":%d,"
                        "\"MessageSystemAttributeNames\":[\"ApproximateReceiveCount\",\"SentTimestamp\"]",
                        max, wait_s);
    if (rc == 0 && visibility_s >= 0) rc = buf_printf(&c->body, ",\"VisibilityTimeout\":%d", visibility_s);
    if (rc != 0) {
        call_free(c);
        return NULL;
    }
    /* The long poll holds the answer for wait_s: the timeout must be well above it. */
    return call_start(c, queue_url, (wait_s + 15) * 1000L, SQS_MAX_RECEIVE_BODY);
}

static sqs_call *handle_batch(aws_ctx *aws, enum sqs_op op, const char *queue_url, const char *const *handles, int n,
                              int timeout_s, sqs_batch_fn cb, void *ud) {
    if (!aws || !cb || !handles || !queue_ok(queue_url) || n < 1 || n > SQS_MAX_BATCH) return NULL;
    sqs_call *c = call_new(aws, op, n, ud);
    if (!c) return NULL;
    c->on_batch = cb;
    if (begin_body(&c->body, queue_url) != 0 || put_handle_entries(&c->body, handles, n, timeout_s) != 0) {
        log_error("sqs: %s: a receipt handle is empty or not valid text", op_target[op]);
        call_free(c);
        return NULL;
    }
    return call_start(c, queue_url, 30000, SQS_MAX_ANSWER_BODY);
}

sqs_call *sqs_delete_batch(aws_ctx *aws, const char *queue_url, const char *const *handles, int n, sqs_batch_fn cb,
                           void *ud) {
    return handle_batch(aws, OP_DELETE_BATCH, queue_url, handles, n, -1, cb, ud);
}

sqs_call *sqs_change_visibility_batch(aws_ctx *aws, const char *queue_url, const char *const *handles, int n,
                                      int timeout_s, sqs_batch_fn cb, void *ud) {
    if (timeout_s < 0 || timeout_s > SQS_MAX_VISIBILITY_S) return NULL;
    return handle_batch(aws, OP_VISIBILITY_BATCH, queue_url, handles, n, timeout_s, cb, ud);
}

sqs_call *sqs_send(aws_ctx *aws, const char *queue_url, const char *body, size_t len, sqs_value_fn cb, void *ud) {
    if (!aws || !cb || !body || len == 0 || len > SQS_MAX_MESSAGE || !queue_ok(queue_url)) return NULL;
    sqs_call *c = call_new(aws, OP_SEND, 1, ud);
    if (!c) return NULL;
    c->on_value = cb;
    if (begin_body(&c->body, queue_url) != 0 || buf_append_str(&c->body, ",\"MessageBody\":") != 0 ||
        put_str(&c->body, body, len) != 0) {
        log_error("sqs: SendMessage: the body is not valid UTF-8 of characters SQS allows");
        call_free(c);
        return NULL;
    }
    return call_start(c, queue_url, 30000, SQS_MAX_ANSWER_BODY);
}

sqs_call *sqs_send_batch(aws_ctx *aws, const char *queue_url, const char *const *bodies, const size_t *lens, int n,
                         sqs_batch_fn cb, void *ud) {
    if (!aws || !cb || !bodies || !lens || !queue_ok(queue_url) || n < 1 || n > SQS_MAX_BATCH) return NULL;
    sqs_call *c = call_new(aws, OP_SEND_BATCH, n, ud);
    if (!c) return NULL;
    c->on_batch = cb;
    int rc = begin_body(&c->body, queue_url);
    if (rc == 0) rc = buf_append_str(&c->body, ",\"Entries\":[");
    for (int i = 0; rc == 0 && i < n; i++) {
        if (!bodies[i] || lens[i] == 0 || lens[i] > SQS_MAX_MESSAGE) rc = -1;
        if (rc == 0) rc = buf_printf(&c->body, "%s{\"Id\":\"e%d\",\"MessageBody\":", i ? "," : "", i);
        if (rc == 0) rc = put_str(&c->body, bodies[i], lens[i]);
        if (rc == 0) rc = buf_append_str(&c->body, "}");
    }
    if (rc == 0) rc = buf_append_str(&c->body, "]");
    if (rc != 0) {
        log_error("sqs: SendMessageBatch: a body is empty, too large or not valid UTF-8 of characters SQS allows");
        call_free(c);
        return NULL;
    }
    return call_start(c, queue_url, 60000, SQS_MAX_ANSWER_BODY);
}

sqs_call *sqs_get_queue_url(aws_ctx *aws, const char *name, sqs_value_fn cb, void *ud) {
    if (!aws || !cb || !name || !*name || strlen(name) > 80) return NULL;
    sqs_call *c = call_new(aws, OP_GET_QUEUE_URL, 1, ud);
    if (!c) return NULL;
    c->on_value = cb;
    if (buf_append_str(&c->body, "{\"QueueName\":") != 0 || put_str(&c->body, name, strlen(name)) != 0) {
        call_free(c);
        return NULL;
    }
    return call_start(c, NULL, 30000, SQS_MAX_ANSWER_BODY);
}

sqs_call *sqs_get_redrive(aws_ctx *aws, const char *queue_url, sqs_redrive_fn cb, void *ud) {
    if (!aws || !cb || !queue_ok(queue_url)) return NULL;
    sqs_call *c = call_new(aws, OP_GET_REDRIVE, 1, ud);
    if (!c) return NULL;
    c->on_redrive = cb;
    if (begin_body(&c->body, queue_url) != 0 ||
        buf_append_str(&c->body, ",\"AttributeNames\":[\"RedrivePolicy\"]") != 0) {
        call_free(c);
        return NULL;
    }
    return call_start(c, queue_url, 30000, SQS_MAX_ANSWER_BODY);
}

void sqs_call_cancel(sqs_call *c) {
    if (c && c->call) aws_call_cancel(c->call);
}
