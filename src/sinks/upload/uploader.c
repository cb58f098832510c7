/* The upload scheduler; see uploader.h for the contract.
 *
 * Jobs wait in two lists: `ready` (FIFO, waiting for a place on the wire) and `backoff` (unsorted:
 * a handful of batches at most, each with the loop time of its next attempt). One uv timer serves
 * both: armed at 0 ms to pump from a fresh stack after a submit or a release, otherwise at the
 * earliest backoff. */
#include "sinks/upload/uploader.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "net/retry.h"

enum { JOB_IDLE = 0, JOB_READY, JOB_BACKOFF, JOB_WIRE };

struct uploader {
    uv_loop_t *loop;
    aws_ctx *aws;
    char name[32];
    upload_ops ops;
    sink_stats *st;
    retry_policy policy;
    int max_attempts;
    int limit;
    int in_flight;
    int jobs;
    int holds;
    upload_job *ready_head, *ready_tail;
    upload_job *backoff;
    uv_timer_t timer;
    int closing, closed_timer, pumping;
    void (*closed)(void *ud);
    void *closed_ud;
    upload_observer observer;
    void *observer_ud;
};

void upload_options_default(upload_options *o) {
    memset(o, 0, sizeof *o);
    o->max_in_flight = 2;
    o->backoff_base_ms = 200;
    o->backoff_cap_ms = 20000;
}

int upload_options_parse(upload_options *o, const char *sink_name, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq) return 0;
    size_t klen = (size_t)(eq - kv);
    int inflight = klen == 8 && strncmp(kv, "inflight", 8) == 0;
    int attempts = klen == 8 && strncmp(kv, "attempts", 8) == 0;
    if (!inflight && !attempts) return 0;
    char *end = NULL;
    long v = strtol(eq + 1, &end, 10);
    int num_ok = end != eq + 1 && *end == '\0';
    if (inflight && num_ok && v >= 1 && v <= 64) {
        o->max_in_flight = (int)v;
        return 1;
    }
    if (attempts && num_ok && v >= 0 && v <= 1000000) {
        o->max_attempts = (int)v;
        return 1;
    }
    log_error("%s: bad value in sink option '%s' (%s)", sink_name, kv, UPLOAD_SPEC_HELP);
    return -1;
}

void upload_body_start(const char *body, size_t len, char *out, size_t cap) {
    if (cap < 4) {
        if (cap) out[0] = '\0';
        return;
    }
    size_t n = len < cap - 4 ? len : cap - 4;
    for (size_t i = 0; i < n; i++) out[i] = (unsigned char)body[i] < 0x20 || body[i] == 0x7f ? ' ' : body[i];
    if (n < len) memcpy(out + n, "...", 3), n += 3;
    out[n] = '\0';
}

/* ---------- lists ---------- */

static void ready_push(uploader *u, upload_job *j, int front) {
    j->where = JOB_READY;
    j->next_wait = NULL;
    if (!u->ready_head) {
        u->ready_head = u->ready_tail = j;
    } else if (front) {
        j->next_wait = u->ready_head;
        u->ready_head = j;
    } else {
        u->ready_tail->next_wait = j;
        u->ready_tail = j;
    }
}

static upload_job *ready_pop(uploader *u) {
    upload_job *j = u->ready_head;
    if (!j) return NULL;
    u->ready_head = j->next_wait;
    if (!u->ready_head) u->ready_tail = NULL;
    j->next_wait = NULL;
    return j;
}

static void on_timer(uv_timer_t *t);

/* Arm the timer for the earliest thing to do: now when jobs are ready, else the next backoff. */
static void arm(uploader *u) {
    if (u->closed_timer) return;
    uint64_t now = uv_now(u->loop), due = UINT64_MAX;
    if (u->ready_head && u->holds == 0 && u->in_flight < u->limit) due = now;
    for (upload_job *j = u->backoff; j; j = j->next_wait)
        if (j->due_ms < due) due = j->due_ms;
    if (due == UINT64_MAX) {
        uv_timer_stop(&u->timer);
        return;
    }
    uv_timer_start(&u->timer, on_timer, due > now ? due - now : 0, 0);
}

/* ---------- completion ---------- */

static void close_timer(uploader *u);

static void finish(uploader *u, upload_job *j, int ok) {
    j->where = JOB_IDLE;
    j->call = NULL;
    u->jobs--;
    u->st->batches++;
    if (!ok) u->st->batches_failed++;
    u->ops.finished(j, ok); /* may submit another job, or close */
    if (u->closing && u->jobs == 0 && !u->pumping) close_timer(u);
}

/* ---------- sending ---------- */

static void on_answer(void *ud, aws_response *r);

static void pump(uploader *u) {
    if (u->pumping) return; /* a finished() below submitted or released: the outer loop goes on */
    u->pumping = 1;
    while (u->holds == 0 && u->in_flight < u->limit && u->ready_head) {
        upload_job *j = ready_pop(u);
        aws_request rq;
        memset(&rq, 0, sizeof rq);
        uint32_t docs = 0;
        upload_next n = u->ops.next(j, &rq, &docs);
        if (n != UPLOAD_SEND) {
            finish(u, j, n == UPLOAD_DONE);
            continue;
        }
        rq.max_attempts = 1; /* every retry is decided here */
        rq.on_done = on_answer;
        rq.ud = j;
        j->docs = docs;
        j->bytes = rq.body_len;
        j->t0 = uv_hrtime();
        j->where = JOB_WIRE;
        j->call = aws_send(u->aws, &rq);
        if (!j->call) {
            log_error("%s: cannot start an upload to %s (closing, or a bad URL)", u->name, rq.url ? rq.url : "?");
            finish(u, j, 0);
            continue;
        }
        u->in_flight++;
        u->st->requests++;
        u->st->bytes += rq.body_len;
    }
    u->pumping = 0;
    if (u->closing && u->jobs == 0) close_timer(u);
    else arm(u);
}

static void on_timer(uv_timer_t *t) {
    uploader *u = t->data;
    uint64_t now = uv_now(u->loop);
    /* Due backoffs join the ready queue in the order they came due. */
    for (upload_job **pp = &u->backoff; *pp;) {
        upload_job *j = *pp;
        if (j->due_ms <= now) {
            *pp = j->next_wait;
            ready_push(u, j, 0);
        } else {
            pp = &j->next_wait;
        }
    }
    pump(u);
}

/* One line saying what went wrong with an answer the uploader judges itself. */
static void describe(const aws_response *r, char *out, size_t cap) {
    if (r->result != HTTP_OK) {
        snprintf(out, cap, "%s (%s)", r->message[0] ? r->message : "no response", http_result_name(r->result));
        return;
    }
    /* First line only: AWS appends the expected canonical request (with its timestamp) to
     * SignatureDoesNotMatch, which would make every occurrence look new and span lines. */
    int first = (int)strcspn(r->message, "\r\n");
    snprintf(out, cap, "HTTP %d%s%s: %.*s", r->status, r->code[0] ? " " : "", r->code, first,
             r->message[0] ? r->message : "(no message)");
}

static int is_throttling(const aws_response *r) {
    return r->status == 429 || r->status == 503 || r->status == 507 || r->status == 509 ||
           retry_code_is_throttling(r->code);
}

/* The uploader's own verdicts: transport trouble and answers every service means the same way.
 * Returns 1 with *v set, or 0 when the sink must judge. */
static int classify(const aws_response *r, upload_verdict *v, upload_answer *a) {
    if (r->result != HTTP_OK) {
        *v = retry_result_is_retryable(r->result) ? UPLOAD_RETRY : UPLOAD_REFUSED;
        describe(r, a->why, sizeof a->why);
        return 1;
    }
    if (r->ok) return 0;
    if (retry_status_is_retryable(r->status) || retry_code_is_retryable(r->code) || r->credentials_expired) {
        *v = UPLOAD_RETRY;
        a->throttled = is_throttling(r);
        describe(r, a->why, sizeof a->why);
        return 1;
    }
    return 0;
}

static void count(uploader *u, upload_verdict v, const upload_answer *a) {
    sink_stats *st = u->st;
    st->docs_accepted += a->accepted;
    st->dead_lettered += a->refused;
    st->splits += a->split ? 1 : 0;
    st->warnings += (uint64_t)a->warnings;
    if (a->throttled) st->throttled++;
    else if (v == UPLOAD_RETRY || v == UPLOAD_REFUSED) st->request_errors++;
}

static void retry_later(uploader *u, upload_job *j, const upload_answer *a) {
    j->fails++;
    if (u->max_attempts > 0 && j->fails >= u->max_attempts) {
        log_error("%s: upload of %" PRIu32 " documents failed after %d attempts: %s; batch failed", u->name, j->docs,
                  j->fails, a->why);
        finish(u, j, 0);
        return;
    }
    uint64_t delay = retry_backoff_ms(&u->policy, j->fails - 1);
    if (a->retry_after_ms > delay) delay = a->retry_after_ms < u->policy.cap_ms ? a->retry_after_ms : u->policy.cap_ms;
    u->st->retries++;
    u->st->docs_retried += a->retry;
    log_warn("%s: upload of %" PRIu32 " documents (%zu bytes) failed: %s; attempt %d, retrying in %" PRIu64 " ms",
             u->name, j->docs, j->bytes, a->why, j->fails, delay);
    j->due_ms = uv_now(u->loop) + delay;
    j->where = JOB_BACKOFF;
    j->next_wait = u->backoff;
    u->backoff = j;
}

static void on_answer(void *ud, aws_response *r) {
    upload_job *j = ud;
    uploader *u = j->u;
    j->call = NULL;
    u->in_flight--;
    uint64_t latency = uv_hrtime() - j->t0;
    u->st->upload_ns += latency;
    upload_answer a;
    memset(&a, 0, sizeof a);
    a.retry_after_ms = retry_after_ms(r->http);
    upload_verdict v;
    if (!classify(r, &v, &a)) v = u->ops.judge(j, r, &a);
    if (v == UPLOAD_RETRY && !a.why[0]) snprintf(a.why, sizeof a.why, "the service asked to send it again");
    count(u, v, &a);
    if (u->observer) {
        upload_outcome o = {v, a.throttled, r->result != HTTP_OK, r->status, j->docs, j->bytes, latency, u->in_flight};
        u->observer(u->observer_ud, &o);
    }
    switch (v) {
    case UPLOAD_OK:
        j->fails = 0;
        ready_push(u, j, 1); /* the batch goes on first: batches finish in order */
        break;
    case UPLOAD_RETRY: retry_later(u, j, &a); break;
    case UPLOAD_REFUSED:
        if (r->result != HTTP_OK) log_error("%s: upload failed: %s; batch failed", u->name, a.why);
        finish(u, j, 0);
        break;
    case UPLOAD_FAILED: finish(u, j, 0); break;
    }
    pump(u);
}

/* ---------- life ---------- */

uploader *uploader_new(uv_loop_t *loop, aws_ctx *aws, const char *name, const upload_options *o, const upload_ops *ops,
                       sink_stats *stats) {
    uploader *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->loop = loop;
    u->aws = aws;
    snprintf(u->name, sizeof u->name, "%s", name);
    u->ops = *ops;
    u->st = stats;
    retry_policy_init(&u->policy);
    u->policy.max_attempts = 0;
    u->policy.base_ms = o->backoff_base_ms ? o->backoff_base_ms : 200;
    u->policy.cap_ms = o->backoff_cap_ms ? o->backoff_cap_ms : 20000;
    if (u->policy.base_ms > u->policy.cap_ms) u->policy.base_ms = u->policy.cap_ms;
    u->max_attempts = o->max_attempts > 0 ? o->max_attempts : 0;
    u->limit = o->max_in_flight > 0 ? o->max_in_flight : 2;
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    return u;
}

void uploader_submit(uploader *u, upload_job *j) {
    j->u = u;
    j->fails = 0;
    j->call = NULL;
    u->jobs++;
    ready_push(u, j, 0);
    arm(u); /* the pump runs from the loop: nothing calls back from inside submit */
}

void uploader_hold(uploader *u) { u->holds++; }

void uploader_release(uploader *u) {
    if (u->holds > 0) u->holds--;
    arm(u);
}

void uploader_set_limit(uploader *u, int limit) {
    u->limit = limit < 1 ? 1 : limit;
    arm(u);
}

int uploader_limit(const uploader *u) { return u->limit; }
int uploader_in_flight(const uploader *u) { return u->in_flight; }
int uploader_jobs(const uploader *u) { return u->jobs; }

void uploader_observe(uploader *u, upload_observer fn, void *ud) {
    u->observer = fn;
    u->observer_ud = ud;
}

static void on_closed(uv_handle_t *h) {
    uploader *u = h->data;
    void (*closed)(void *) = u->closed;
    void *ud = u->closed_ud;
    free(u);
    if (closed) closed(ud);
}

static void close_timer(uploader *u) {
    if (u->closed_timer) return;
    u->closed_timer = 1;
    const sink_stats *st = u->st;
    log_info("%s: %" PRIu64 " batches (%" PRIu64 " failed), %" PRIu64 " documents stored, %" PRIu64
             " items retried, %" PRIu64 " dead-lettered, %" PRIu64 " requests (%" PRIu64 " retried, %" PRIu64
             " split), %.1f MB sent",
             u->name, st->batches, st->batches_failed, st->docs_accepted, st->docs_retried, st->dead_lettered,
             st->requests, st->retries, st->splits, (double)st->bytes / 1e6);
    uv_close((uv_handle_t *)&u->timer, on_closed);
}

void uploader_close(uploader *u, void (*closed)(void *ud), void *ud) {
    u->closing = 1;
    u->closed = closed;
    u->closed_ud = ud;
    if (u->jobs == 0 && !u->pumping) close_timer(u);
}
