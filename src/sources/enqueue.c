#include "sources/enqueue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sqs.h"
#include "base/jsonw.h"
#include "base/log.h"
#include "base/text.h"

#define MAX_CALLS 16
#define MAX_ATTEMPTS 3

typedef struct entry {
    void *tag;
    struct entry *next_failed; /* failed before any call: reported from the loop */
    const char *fail_why;
    int attempts;
    size_t len;
    char body[ENQUEUE_MAX_BODY];
} entry;

typedef struct send_call {
    enqueuer *e;
    entry *items[SQS_MAX_BATCH];
    int n;
} send_call;

struct enqueuer {
    aws_ctx *aws;
    char *queue_url;
    int max_calls, calls;
    enqueue_done_fn done;
    void (*wake)(void *ud);
    void *ud;
    /* entries waiting for a call; room is kept for every in-flight entry to come back */
    entry **pending;
    int npending, cap;
    int open;
    uv_timer_t kick; /* reports failed entries from the loop, never inside enqueuer_add */
    entry *failed_head, *failed_tail;
};

/* \uXXXX for a UTF-16 unit */
static int put_escape(char *out, size_t cap, size_t *pos, unsigned v) {
    if (*pos + 6 > cap) return -1;
    char *p = out + *pos;
    p[0] = '\\';
    p[1] = 'u';
    for (int i = 0; i < 4; i++) p[2 + i] = text_hex_lower(v >> (12 - 4 * i));
    *pos += 6;
    return 0;
}

/* s as a JSON string body, ASCII only. */
static int put_ascii(char *out, size_t cap, size_t *pos, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c >= 0x80) {
            int len = jsonw_utf8_len(p + i, n - i);
            if (len <= 1) return -1;
            unsigned cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
            for (int k = 1; k < len; k++) cp = (cp << 6) | (p[i + (size_t)k] & 0x3f);
            i += (size_t)len;
            if (cp >= 0x10000) { /* a surrogate pair */
                cp -= 0x10000;
                if (put_escape(out, cap, pos, 0xd800 | (cp >> 10)) || put_escape(out, cap, pos, 0xdc00 | (cp & 0x3ff)))
                    return -1;
            } else if (put_escape(out, cap, pos, cp)) {
                return -1;
            }
            continue;
        }
        i++;
        if (c < 0x20 || c == 0x7f) {
            if (put_escape(out, cap, pos, c)) return -1;
            continue;
        }
        if (*pos + 2 > cap) return -1;
        if (c == '"' || c == '\\') out[(*pos)++] = '\\';
        out[(*pos)++] = (char)c;
    }
    return 0;
}

long enqueue_body(const char *bucket, const char *key, char *out, size_t cap) {
    size_t pos = 0;
    static const char a[] = "{\"s3Bucket\":\"", b[] = "\",\"s3ObjectKey\":[\"", c[] = "\"]}";
    if (cap < sizeof a) return -1;
    memcpy(out, a, sizeof a - 1);
    pos = sizeof a - 1;
    if (put_ascii(out, cap, &pos, bucket) != 0 || pos + sizeof b > cap) return -1;
    memcpy(out + pos, b, sizeof b - 1);
    pos += sizeof b - 1;
    if (put_ascii(out, cap, &pos, key) != 0 || pos + sizeof c > cap) return -1;
    memcpy(out + pos, c, sizeof c - 1);
    pos += sizeof c - 1;
    return (long)pos;
}

enqueuer *enqueuer_new(aws_ctx *aws, const char *queue_url, int calls, enqueue_done_fn done, void (*wake)(void *ud),
                       void *ud) {
    enqueuer *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->aws = aws;
    e->max_calls = calls < 1 ? 1 : calls > MAX_CALLS ? MAX_CALLS : calls;
    e->done = done;
    e->wake = wake;
    e->ud = ud;
    e->cap = SQS_MAX_BATCH * (e->max_calls + 1);
    e->queue_url = strdup(queue_url);
    e->pending = calloc((size_t)e->cap, sizeof *e->pending);
    if (!e->queue_url || !e->pending) {
        free(e->pending);
        free(e->queue_url);
        free(e);
        return NULL;
    }
    uv_timer_init(aws_ctx_loop(aws), &e->kick);
    e->kick.data = e;
    return e;
}

static void on_closed(uv_handle_t *h) {
    enqueuer *e = h->data;
    free(e->pending);
    free(e->queue_url);
    free(e);
}

void enqueuer_free(enqueuer *e) {
    if (!e) return;
    for (int i = 0; i < e->npending; i++) free(e->pending[i]);
    for (entry *it = e->failed_head, *next; it; it = next) {
        next = it->next_failed;
        free(it);
    }
    e->npending = 0;
    uv_close((uv_handle_t *)&e->kick, on_closed);
}

int enqueuer_room(const enqueuer *e) {
    int room = e->cap - e->npending - e->calls * SQS_MAX_BATCH;
    return room > 0 ? room : 0;
}

int enqueuer_open(const enqueuer *e) { return e->open; }

static void finish(enqueuer *e, entry *it, int ok, const char *why) {
    void *tag = it->tag;
    free(it);
    e->open--;
    e->done(e->ud, tag, ok, why);
}

static void send_some(enqueuer *e, int partial_ok);

static void on_kick(uv_timer_t *t) {
    enqueuer *e = t->data;
    entry *it = e->failed_head;
    e->failed_head = e->failed_tail = NULL;
    while (it) {
        entry *next = it->next_failed;
        finish(e, it, 0, it->fail_why);
        it = next;
    }
    if (e->wake) e->wake(e->ud);
}

static void fail_later(enqueuer *e, entry *it, const char *why) {
    it->fail_why = why;
    it->next_failed = NULL;
    if (e->failed_tail) e->failed_tail->next_failed = it;
    else e->failed_head = it;
    e->failed_tail = it;
    uv_timer_start(&e->kick, on_kick, 0, 0);
}

/* Back into the queue for another attempt, or failed for good. */
static void retry_or_fail(enqueuer *e, entry *it, const char *why) {
    if (it->attempts < MAX_ATTEMPTS) e->pending[e->npending++] = it;
    else finish(e, it, 0, why);
}

static void on_sent(void *ud, const sqs_result *r, const sqs_entry_result *res, int n) {
    send_call *c = ud;
    enqueuer *e = c->e;
    e->calls--;
    char why[700];
    for (int i = 0; i < c->n; i++) {
        entry *it = c->items[i];
        if (r->ok && i < n && res[i].ok) {
            finish(e, it, 1, NULL);
            continue;
        }
        if (!r->ok)
            snprintf(why, sizeof why, "SendMessageBatch failed: %s %s (status %d)", r->code, r->message, r->status);
        else
            snprintf(why, sizeof why, "SQS refused the message: %s %s", i < n ? res[i].code : "?",
                     i < n ? res[i].message : "");
        retry_or_fail(e, it, why);
    }
    free(c);
    send_some(e, 1); /* retries go out at once */
    if (e->wake) e->wake(e->ud);
}

static void start_call(enqueuer *e, int n) {
    /* take from the front, so objects go out in the order they came */
    entry *items[SQS_MAX_BATCH];
    memcpy(items, e->pending, (size_t)n * sizeof *items);
    memmove(e->pending, e->pending + n, (size_t)(e->npending - n) * sizeof *e->pending);
    e->npending -= n;
    send_call *c = calloc(1, sizeof *c);
    if (c) {
        const char *bodies[SQS_MAX_BATCH];
        size_t lens[SQS_MAX_BATCH];
        for (int i = 0; i < n; i++) {
            items[i]->attempts++;
            bodies[i] = items[i]->body;
            lens[i] = items[i]->len;
            c->items[i] = items[i];
        }
        c->e = e;
        c->n = n;
        e->calls++;
        if (sqs_send_batch(e->aws, e->queue_url, bodies, lens, n, on_sent, c)) return;
        e->calls--;
        free(c);
    }
    /* Could not even start: nothing will answer, so report each entry (from the loop). */
    for (int i = 0; i < n; i++) fail_later(e, items[i], "cannot send SendMessageBatch");
}

static void send_some(enqueuer *e, int partial_ok) {
    while (e->calls < e->max_calls && (e->npending >= SQS_MAX_BATCH || (partial_ok && e->npending > 0)))
        start_call(e, e->npending < SQS_MAX_BATCH ? e->npending : SQS_MAX_BATCH);
}

void enqueuer_add(enqueuer *e, const char *bucket, const char *key, void *tag) {
    entry *it = malloc(sizeof *it);
    if (!it) {
        /* Without the entry nothing can report the object from the loop; nothing was sent yet. */
        log_error("enqueue: out of memory");
        abort();
    }
    e->open++;
    it->tag = tag;
    long len = enqueue_body(bucket, key, it->body, sizeof it->body);
    if (len < 0 || e->npending >= e->cap) {
        fail_later(e, it, len < 0 ? "the key is not valid UTF-8" : "internal: queue full");
        return;
    }
    it->attempts = 0;
    it->len = (size_t)len;
    e->pending[e->npending++] = it;
    send_some(e, 0);
}

void enqueuer_flush(enqueuer *e) { send_some(e, 1); }
