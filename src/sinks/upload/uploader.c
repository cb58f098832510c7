/* The upload scheduler; see uploader.h for the contract.
 *
 * Jobs wait in two lists: `ready` (FIFO, waiting for a place on the wire) and `backoff` (unsorted:
 * a handful of batches at most, each with the loop time of its next attempt). One uv timer serves
 * both: armed at 0 ms to pump from a fresh stack after a submit or a release, otherwise at the
 * earliest moment something can go: a backoff that ends, the byte-rate cap's next room, the end of
 * a Retry-After pause, the next probe of a degraded sink.
 *
 * pump() is the one place a request leaves. It asks next() for the head job's request once and
 * keeps it in the job (`prepared`) while the cap or a probe makes it wait, so the cap knows the
 * body's length before it lets the request go. */
#include "sinks/upload/uploader.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "net/retry.h"
#include "sinks/upload/aimd.h"

enum { JOB_IDLE = 0, JOB_READY, JOB_BACKOFF, JOB_WIRE };

/* Pacing below one request (adaptive): accepted answers remembered to measure the service's rate. */
#define LEARN_WINDOW 8
#define LEARN_MAX_AGE_MS 60000 /* older answers say nothing about the service now */
#define LEARN_GROWTH 1.003     /* per accepted answer: about +35% after 100 */
#define LEARN_FORGET 200       /* accepted answers in a row after which the learned rate is dropped */

struct uploader {
    uv_loop_t *loop;
    aws_ctx *aws;
    char name[32];
    upload_ops ops;
    sink_stats *st;
    sink_state *state;
    retry_policy policy;
    int max_attempts;
    int max_limit;
    int limit;
    int adaptive;
    aimd aimd;
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
    /* byte-rate pacing: a token bucket refilled at rate_bps (bytes), up to bucket_cap; rate_bps
     * is the lower of the cap (cap_bps) and the rate learned below one request (learned_bps) */
    double rate_bps, tokens, bucket_cap;
    double cap_bps, learned_bps;
    int learned_quiet;   /* accepted answers in a row since the last throttle, while learned_bps is set */
    int throttle_streak; /* throttling answers in a row (any batch) */
    /* the last accepted answers (loop time, bytes), oldest first: what the service took lately */
    uint64_t acc_ms[LEARN_WINDOW];
    size_t acc_bytes[LEARN_WINDOW];
    int nacc;
    uint64_t tokens_ms;
    int tokens_started;
    /* Retry-After: no request starts before this loop time */
    uint64_t quiet_until_ms;
    /* the sink's condition */
    int hold_refused;
    int unreachable_after;
    int failed_in_row;     /* requests failed in a row without an answer, or with a server error */
    uint64_t accepted_seq; /* accepted answers so far */
    retry_policy probe_policy;
    int probe_round;       /* probes sent in this degraded spell */
    int probing;           /* a probe is on the wire */
    uint64_t probe_due_ms; /* the next probe may leave at this loop time */
};

void upload_options_default(upload_options *o) {
    memset(o, 0, sizeof *o);
    o->max_in_flight = 2;
    o->adaptive = 1;
    o->backoff_base_ms = 200;
    o->backoff_cap_ms = 20000;
    o->probe_base_ms = 1000;
    o->probe_cap_ms = 60000;
    o->unreachable_after = 3;
}

int upload_options_parse(upload_options *o, const char *sink_name, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq) return 0;
    size_t klen = (size_t)(eq - kv);
    int inflight = klen == 8 && strncmp(kv, "inflight", 8) == 0;
    int attempts = klen == 8 && strncmp(kv, "attempts", 8) == 0;
    int adaptive = klen == 8 && strncmp(kv, "adaptive", 8) == 0;
    if (!inflight && !attempts && !adaptive) return 0;
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
    if (adaptive && num_ok && (v == 0 || v == 1)) {
        o->adaptive = (int)v;
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

/* ---------- limit, byte rate, condition ---------- */

static void publish_limit(uploader *u) {
    u->state->limit = u->limit;
    u->state->in_flight = u->in_flight;
}

/* The byte-rate cap is paced 5% below the rate given: the service measures on its own clock, and a
 * request that reaches it a little later than the one after it must not look like a burst. With
 * no headroom a fake CloudSearch with a bucket of one batch throttled 5 of 22 requests
 * (bench/bench_pacing.py). */
#define RATE_HEADROOM 0.95

static void rate_refill(uploader *u, uint64_t now) {
    if (now > u->tokens_ms) {
        u->tokens += u->rate_bps * (double)(now - u->tokens_ms) / 1000.0;
        if (u->tokens > u->bucket_cap) u->tokens = u->bucket_cap;
    }
    u->tokens_ms = now;
}

/* Loop time at which a body of len bytes may leave under the cap (now when there is no cap). The
 * bucket holds the largest body seen, so any body fits once it is full, and no more: after a pause
 * one request leaves at once, the next ones at the rate. It starts full. */
static uint64_t rate_due(uploader *u, size_t len, uint64_t now) {
    if (u->rate_bps <= 0) return now;
    if ((double)len > u->bucket_cap) {
        if (!u->tokens_started) u->tokens = (double)len;
        u->bucket_cap = (double)len;
    }
    if (!u->tokens_started) {
        u->tokens_started = 1;
        u->tokens = u->bucket_cap;
        u->tokens_ms = now;
    }
    rate_refill(u, now);
    if (u->tokens >= (double)len) return now;
    /* +1 ms: whole milliseconds of the loop clock never leave the bucket short at the due time */
    return now + (uint64_t)ceil(((double)len - u->tokens) * 1000.0 / u->rate_bps) + 1;
}

static void rate_spend(uploader *u, size_t len) {
    if (u->rate_bps > 0) u->tokens -= (double)len;
}

static void rate_apply(uploader *u) {
    double r = u->cap_bps;
    if (u->learned_bps > 0 && (r <= 0 || u->learned_bps < r)) r = u->learned_bps;
    u->rate_bps = r;
    u->state->rate_bps = (uint64_t)r;
}

/* ---------- pacing below one request ----------
 * Concurrency cannot go below one request; a service that meters bytes (CloudSearch: about 5 MB
 * per 10 s) still throttles one request at a time when each goes as soon as the last is answered.
 * So a throttling answer while the limit is already 1 sets a byte rate: 95% of what the service
 * accepted over the last answers (it throttled beyond that), or half the last rate when that
 * cannot be measured. Each accepted answer raises it a little (LEARN_GROWTH) to find room again;
 * after LEARN_FORGET accepted answers in a row it is dropped. */

static void learn_accepted(uploader *u, size_t bytes) {
    uint64_t now = uv_now(u->loop);
    if (u->nacc == LEARN_WINDOW) {
        memmove(u->acc_ms, u->acc_ms + 1, (LEARN_WINDOW - 1) * sizeof u->acc_ms[0]);
        memmove(u->acc_bytes, u->acc_bytes + 1, (LEARN_WINDOW - 1) * sizeof u->acc_bytes[0]);
        u->nacc--;
    }
    u->acc_ms[u->nacc] = now;
    u->acc_bytes[u->nacc++] = bytes;
    if (u->learned_bps <= 0) return;
    if (++u->learned_quiet >= LEARN_FORGET) {
        log_info("%s: no throttling for %d answers: requests are no longer paced (was %.0f bytes/s)", u->name,
                 u->learned_quiet, u->learned_bps);
        u->learned_bps = 0;
    } else {
        u->learned_bps *= LEARN_GROWTH;
    }
    rate_apply(u);
}

/* Bytes per second the service accepted between the oldest recent answer and now; 0 when fewer
 * than two recent answers say. */
static double learn_measure(const uploader *u, uint64_t now) {
    int first = 0;
    while (first < u->nacc && now - u->acc_ms[first] > LEARN_MAX_AGE_MS) first++;
    if (u->nacc - first < 2 || now <= u->acc_ms[first]) return 0;
    double bytes = 0;
    for (int i = first + 1; i < u->nacc; i++) bytes += (double)u->acc_bytes[i];
    return bytes * 1000.0 / (double)(now - u->acc_ms[first]);
}

static void learn_throttled(uploader *u) {
    double measured = learn_measure(u, uv_now(u->loop)), was = u->learned_bps;
    if (measured > 0) u->learned_bps = measured * RATE_HEADROOM;
    else if (was > 0) u->learned_bps = was / 2;
    else return;                                               /* nothing measured yet: the retry backoff alone */
    if (was > 0 && u->learned_bps > was) u->learned_bps = was; /* a throttle never raises it */
    u->learned_quiet = 0;
    rate_apply(u);
    if (was <= 0)
        log_info("%s: throttled at one request at a time: pacing requests at %.0f bytes/s", u->name, u->learned_bps);
}

static int degraded(const uploader *u) { return u->state->condition != SINK_OK; }

/* The next probe's wait: about probe_base_ms doubling per probe up to probe_cap_ms, the upper
 * half of it drawn at random so several processes do not probe in step. */
static uint64_t probe_wait_ms(uploader *u) {
    int shift = u->probe_round < 30 ? u->probe_round : 30;
    uint64_t full = u->probe_policy.base_ms << shift;
    if (full > u->probe_policy.cap_ms || full >> shift != u->probe_policy.base_ms) full = u->probe_policy.cap_ms;
    uint64_t jitter = retry_backoff_ms(&u->probe_policy, u->probe_round); /* uniform in [0, full] */
    if (jitter > full) jitter = full;
    return full / 2 + jitter / 2;
}

static void become_degraded(uploader *u, sink_condition c, const char *why) {
    sink_state *st = u->state;
    snprintf(st->why, sizeof st->why, "%s", why);
    if (st->condition == c) return;
    int was_ok = st->condition == SINK_OK;
    st->condition = c;
    if (!was_ok) return; /* refusing <-> unreachable: the same spell */
    st->since_ms = uv_now(u->loop);
    st->degraded++;
    u->probe_round = 0;
    u->probe_due_ms = uv_now(u->loop) + probe_wait_ms(u);
    log_error("%s: the sink is %s (%s): %d batch(es) wait; probing it with one request at a time, the next in %" PRIu64
              " ms",
              u->name, c == SINK_REFUSING ? "refusing requests" : "unreachable", why, u->jobs,
              u->probe_due_ms - uv_now(u->loop));
}

static void become_ok(uploader *u) {
    sink_state *st = u->state;
    if (st->condition == SINK_OK) return;
    uint64_t secs = (uv_now(u->loop) - st->since_ms) / 1000;
    log_info("%s: the sink accepts requests again after %" PRIu64 " s (%d probe(s)); sending resumes", u->name, secs,
             u->probe_round);
    st->condition = SINK_OK;
    st->why[0] = '\0';
    st->since_ms = uv_now(u->loop);
    u->failed_in_row = 0;
    if (u->adaptive) { /* what the sink takes now is unknown: start low again */
        aimd_reset(&u->aimd);
        u->limit = aimd_limit(&u->aimd);
        u->learned_bps = 0;
        u->nacc = 0;
        rate_apply(u);
    }
    publish_limit(u);
}

/* ---------- timer ---------- */

static void on_timer(uv_timer_t *t);

/* The earliest loop time the ready queue's head may leave, or UINT64_MAX when only an answer (or
 * a release) can let it. */
static uint64_t ready_due(uploader *u, uint64_t now) {
    upload_job *j = u->ready_head;
    if (!j || u->holds > 0) return UINT64_MAX;
    if (degraded(u) && !u->closing) {
        if (u->probing) return UINT64_MAX;
        return u->probe_due_ms > now ? u->probe_due_ms : now;
    }
    if (u->in_flight >= u->limit) return UINT64_MAX;
    uint64_t due = now;
    if (u->quiet_until_ms > due) due = u->quiet_until_ms;
    if (j->prepared) {
        uint64_t r = rate_due(u, j->rq.body_len, now);
        if (r > due) due = r;
    }
    return due;
}

/* Arm the timer for the earliest thing to do. */
static void arm(uploader *u) {
    if (u->closed_timer) return;
    uint64_t now = uv_now(u->loop), due = ready_due(u, now);
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
    j->prepared = 0;
    u->jobs--;
    u->st->batches++;
    if (!ok) u->st->batches_failed++;
    u->ops.finished(j, ok); /* may submit another job, or close */
    if (u->closing && u->jobs == 0 && !u->pumping) close_timer(u);
}

/* ---------- sending ---------- */

static void on_answer(void *ud, aws_response *r);

/* Send j's prepared request. 0, or -1 when it could not start (the job is finished). */
static int send_prepared(uploader *u, upload_job *j) {
    aws_request rq = j->rq;
    j->prepared = 0;
    rq.max_attempts = 1; /* every retry is decided here */
    rq.on_done = on_answer;
    rq.ud = j;
    j->docs = j->rq_docs;
    j->bytes = rq.body_len;
    j->t0 = uv_hrtime();
    j->where = JOB_WIRE;
    j->call = aws_send(u->aws, &rq);
    if (!j->call) {
        log_error("%s: cannot start an upload to %s (closing, or a bad URL)", u->name, rq.url ? rq.url : "?");
        finish(u, j, 0);
        return -1;
    }
    rate_spend(u, rq.body_len);
    u->in_flight++;
    u->st->requests++;
    u->st->bytes += rq.body_len;
    if (u->adaptive) aimd_sent(&u->aimd, u->in_flight);
    publish_limit(u);
    return 0;
}

static void pump(uploader *u) {
    if (u->pumping) return; /* a finished() below submitted or released: the outer loop goes on */
    u->pumping = 1;
    uint64_t now = uv_now(u->loop);
    while (u->ready_head && u->holds == 0) {
        int probe = degraded(u) && !u->closing;
        if (probe ? u->probing || now < u->probe_due_ms : u->in_flight >= u->limit) break;
        if (!probe && now < u->quiet_until_ms) break;
        upload_job *j = u->ready_head;
        if (!j->prepared) {
            memset(&j->rq, 0, sizeof j->rq);
            j->rq_docs = 0;
            upload_next n = u->ops.next(j, &j->rq, &j->rq_docs);
            if (n != UPLOAD_SEND) {
                ready_pop(u);
                finish(u, j, n == UPLOAD_DONE);
                continue;
            }
            j->prepared = 1;
        }
        if (u->closing && degraded(u)) {
            /* Closing while the sink cannot take documents: nothing will store this batch. */
            ready_pop(u);
            log_warn("%s: closing while the sink is %s: a batch of %" PRIu32 " documents is not stored", u->name,
                     sink_condition_name(u->state->condition), j->rq_docs);
            finish(u, j, 0);
            continue;
        }
        if (!probe && rate_due(u, j->rq.body_len, now) > now) break;
        ready_pop(u);
        j->probe = probe;
        if (send_prepared(u, j) != 0) continue;
        if (probe) {
            u->probing = 1;
            u->state->probes++;
            u->probe_round++;
        }
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

/* ---------- answers ---------- */

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

static void count(uploader *u, upload_verdict v, const upload_answer *a, uint64_t latency_ns) {
    sink_stats *st = u->st;
    st->docs_accepted += a->accepted;
    st->dead_lettered += a->refused;
    st->splits += a->split ? 1 : 0;
    st->warnings += (uint64_t)a->warnings;
    if (a->throttled) st->throttled++;
    else if (v == UPLOAD_RETRY || v == UPLOAD_REFUSED) st->request_errors++;
    switch (v) {
    case UPLOAD_OK: st->answers_accepted++; break;
    case UPLOAD_RETRY: st->answers_retry++; break;
    case UPLOAD_REFUSED: st->answers_refused++; break;
    case UPLOAD_FAILED: st->answers_failed++; break;
    }
    histogram_observe(&st->latency, (double)latency_ns / 1e9);
}

/* Put j back to wait for a place: after a backoff, or (degraded) for the next probe. Counts toward
 * max_attempts. */
static void retry_later(uploader *u, upload_job *j, const upload_answer *a) {
    j->fails++;
    if (u->max_attempts > 0 && j->fails >= u->max_attempts) {
        log_error("%s: upload of %" PRIu32 " documents failed after %d attempts: %s; batch failed", u->name, j->docs,
                  j->fails, a->why);
        finish(u, j, 0);
        return;
    }
    u->st->retries++;
    u->st->docs_retried += a->retry;
    if (degraded(u)) {
        /* The probes decide when it goes again. To the back: the next probe tries another batch,
         * so a batch the sink refuses on its own cannot pass for a refusing sink. */
        log_debug("%s: upload of %" PRIu32 " documents failed: %s; waiting for the sink", u->name, j->docs, a->why);
        ready_push(u, j, 0);
        return;
    }
    uint64_t delay = retry_backoff_ms(&u->policy, j->fails - 1);
    if (a->retry_after_ms > delay) delay = a->retry_after_ms < u->policy.cap_ms ? a->retry_after_ms : u->policy.cap_ms;
    log_warn("%s: upload of %" PRIu32 " documents (%zu bytes) failed: %s; attempt %d, retrying in %" PRIu64 " ms",
             u->name, j->docs, j->bytes, a->why, j->fails, delay);
    j->due_ms = uv_now(u->loop) + delay;
    /* Throttled at one request at a time: the place this job leaves must not go to the next
     * batch at once (every batch would be throttled in turn, each on its own timer): all wait,
     * for a pause that doubles with the throttles in a row, whichever batch they hit. */
    if (a->throttled && u->adaptive && u->limit == 1) {
        int shift = u->throttle_streak > 1 ? u->throttle_streak - 1 : 0;
        uint64_t pause = u->policy.base_ms << (shift < 16 ? shift : 16);
        if (pause > u->policy.cap_ms) pause = u->policy.cap_ms;
        uint64_t until = uv_now(u->loop) + pause;
        if (j->due_ms > until) until = j->due_ms;
        if (until > u->quiet_until_ms) u->quiet_until_ms = until;
    }
    j->where = JOB_BACKOFF;
    j->next_wait = u->backoff;
    u->backoff = j;
}

/* A request refused as a whole. With hold_refused the batch waits for the sink, unless it was
 * refused before and other requests were accepted since: then the batch is at fault. */
static void on_refused(uploader *u, upload_job *j, const aws_response *r, const upload_answer *a) {
    int shutting = u->closing || r->result == HTTP_ERR_CANCELLED || r->result == HTTP_ERR_CLOSED;
    if (!u->hold_refused || shutting) {
        /* An answer's refusal was logged by the sink (once per distinct error: a wrong secret fails
         * every batch the same way); a transport failure is said here. */
        if (r->result != HTTP_OK) log_error("%s: upload failed: %s; batch failed", u->name, a->why);
        else log_warn("%s: a batch of %" PRIu32 " documents is not stored (refused: %s)", u->name, j->docs, a->why);
        finish(u, j, 0);
        return;
    }
    j->refusals++;
    if (j->refusals >= 2 && j->refused_seq != u->accepted_seq) {
        log_error("%s: a batch of %" PRIu32 " documents was refused again (%s) while the sink accepted other "
                  "requests: the batch, not the sink, is at fault; batch failed (its messages go back to the queue, "
                  "and to its dead-letter queue after maxReceiveCount receives)",
                  u->name, j->docs, a->why);
        finish(u, j, 0);
        return;
    }
    j->refused_seq = u->accepted_seq;
    become_degraded(u, SINK_REFUSING, a->why);
    retry_later(u, j, a);
}

static void adapt(uploader *u, upload_verdict v, const upload_answer *a, uint64_t latency_ns, size_t bytes) {
    uint64_t now = uv_now(u->loop);
    if (a->throttled && a->retry_after_ms > 0) {
        uint64_t wait = a->retry_after_ms < u->policy.cap_ms ? a->retry_after_ms : u->policy.cap_ms;
        if (now + wait > u->quiet_until_ms) u->quiet_until_ms = now + wait;
    }
    if (!u->adaptive) return;
    int accepted = v == UPLOAD_OK && !a->throttled;
    if (a->throttled) u->throttle_streak++;
    else if (accepted) u->throttle_streak = 0;
    if (a->throttled && u->limit == 1) learn_throttled(u);
    else if (accepted) learn_accepted(u, bytes);
    int limit = aimd_answer(&u->aimd, now, (double)latency_ns / 1e6, accepted, a->throttled);
    if (limit != u->limit) {
        log_debug("%s: %d request(s) at once (was %d)%s", u->name, limit, u->limit, a->throttled ? ": throttled" : "");
        u->limit = limit;
    }
}

static void on_answer(void *ud, aws_response *r) {
    upload_job *j = ud;
    uploader *u = j->u;
    j->call = NULL;
    u->in_flight--;
    int was_probe = j->probe;
    j->probe = 0;
    if (was_probe) u->probing = 0;
    uint64_t latency = uv_hrtime() - j->t0;
    u->st->upload_ns += latency;
    upload_answer a;
    memset(&a, 0, sizeof a);
    a.retry_after_ms = retry_after_ms(r->http);
    upload_verdict v;
    int own = classify(r, &v, &a);
    if (!own) v = u->ops.judge(j, r, &a);
    if (v == UPLOAD_RETRY && !a.why[0]) snprintf(a.why, sizeof a.why, "the service asked to send it again");
    if (v == UPLOAD_REFUSED && !a.why[0]) snprintf(a.why, sizeof a.why, "HTTP %d: refused by the service", r->status);
    count(u, v, &a, latency);
    if (u->observer) {
        upload_outcome o = {v, a.throttled, r->result != HTTP_OK, r->status, j->docs, j->bytes, latency, u->in_flight};
        u->observer(u->observer_ud, &o);
    }
    adapt(u, v, &a, latency, j->bytes);
    /* No answer, or a server error that is not throttling: counts toward "unreachable". */
    int failed = v == UPLOAD_RETRY && !a.throttled && (r->result != HTTP_OK || r->status >= 500);
    if (v == UPLOAD_OK) {
        u->accepted_seq++;
        u->failed_in_row = 0;
        become_ok(u);
    } else if (failed && ++u->failed_in_row >= u->unreachable_after) {
        become_degraded(u, SINK_UNREACHABLE, a.why);
    }
    if (was_probe && degraded(u)) u->probe_due_ms = uv_now(u->loop) + probe_wait_ms(u);
    switch (v) {
    case UPLOAD_OK:
        j->fails = 0;
        ready_push(u, j, 1); /* the batch goes on first: batches finish in order */
        break;
    case UPLOAD_RETRY: retry_later(u, j, &a); break;
    case UPLOAD_REFUSED: on_refused(u, j, r, &a); break;
    case UPLOAD_FAILED: finish(u, j, 0); break;
    }
    publish_limit(u);
    pump(u);
}

/* ---------- life ---------- */

uploader *uploader_new(uv_loop_t *loop, aws_ctx *aws, const char *name, const upload_options *o, const upload_ops *ops,
                       sink *sk) {
    uploader *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->loop = loop;
    u->aws = aws;
    snprintf(u->name, sizeof u->name, "%s", name);
    u->ops = *ops;
    u->st = &sk->stats;
    u->state = &sk->state;
    retry_policy_init(&u->policy);
    u->policy.max_attempts = 0;
    u->policy.base_ms = o->backoff_base_ms ? o->backoff_base_ms : 200;
    u->policy.cap_ms = o->backoff_cap_ms ? o->backoff_cap_ms : 20000;
    if (u->policy.base_ms > u->policy.cap_ms) u->policy.base_ms = u->policy.cap_ms;
    retry_policy_init(&u->probe_policy);
    u->probe_policy.max_attempts = 0;
    u->probe_policy.base_ms = o->probe_base_ms ? o->probe_base_ms : 1000;
    u->probe_policy.cap_ms = o->probe_cap_ms ? o->probe_cap_ms : 60000;
    if (u->probe_policy.base_ms > u->probe_policy.cap_ms) u->probe_policy.base_ms = u->probe_policy.cap_ms;
    u->max_attempts = o->max_attempts > 0 ? o->max_attempts : 0;
    u->max_limit = o->max_in_flight > 0 ? o->max_in_flight : 2;
    u->adaptive = o->adaptive;
    aimd_options ao = {.initial = 1, .max = u->max_limit};
    aimd_init(&u->aimd, &ao);
    u->limit = u->adaptive ? aimd_limit(&u->aimd) : u->max_limit;
    u->cap_bps = (double)o->max_rate_bps * RATE_HEADROOM;
    rate_apply(u);
    u->bucket_cap = 0; /* raised to the largest body: no burst beyond one request */
    u->hold_refused = o->hold_refused;
    u->unreachable_after = o->unreachable_after > 0 ? o->unreachable_after : 3;
    histogram_init(&u->st->latency, histogram_upload_seconds, histogram_upload_seconds_n);
    u->state->max_limit = u->max_limit;
    publish_limit(u);
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    return u;
}

void uploader_submit(uploader *u, upload_job *j) {
    j->u = u;
    j->fails = 0;
    j->call = NULL;
    j->prepared = j->probe = j->refusals = 0;
    j->refused_seq = 0;
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
    u->adaptive = 0;
    u->limit = limit < 1 ? 1 : limit;
    publish_limit(u);
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
    else arm(u); /* a degraded sink's waiting batches are failed from the loop */
}
