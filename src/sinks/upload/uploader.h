/* The upload scheduler of the network sinks: the one place that decides when a sink request is
 * sent, whether it is sent again, and after how long.
 *
 * A sink turns each batch into a job (upload_job, embedded in the sink's per-batch state) and
 * only says two things about it, through upload_ops:
 *   next(job, rq)          what to send now (an aws_request without on_done/ud), or that nothing
 *                          is left (the batch is stored), or that the batch cannot go on;
 *   judge(job, r, answer)  what an answer means: UPLOAD_OK (the documents sent are settled:
 *                          accepted, or refused one by one and dead-lettered), UPLOAD_RETRY (send
 *                          these documents again), UPLOAD_REFUSED (the service refuses the batch),
 *                          UPLOAD_FAILED (the sink cannot go on: a dead-letter entry could not be
 *                          written, memory) -- like Fluent Bit's FLB_OK / FLB_RETRY / FLB_ERROR.
 * Transport failures and the answers every service means the same way (429, 5xx, AWS throttling
 * and transient codes, expired credentials that aws.c refreshes) never reach judge: the uploader
 * classifies them itself as "retry" (or, for a TLS failure, a cancelled call, ... as refused).
 *
 * What the uploader owns:
 * - the limit of requests on the wire and the FIFO of jobs waiting for a place (a job that made
 *   progress goes first, so batches finish in order). The limit adapts (upload_options.adaptive,
 *   aimd.h): it starts at 1, grows by one while answers come back accepted and no slower than
 *   their recent baseline, and is cut multiplicatively on throttling answers or on latency well
 *   above that baseline; it never passes max_in_flight. uploader_set_limit fixes it instead;
 * - the byte-rate cap (upload_options.max_rate_bps): a request leaves only once a token bucket
 *   refilled at 95% of that rate holds its body's bytes (the bucket holds the largest body: no
 *   burst beyond one request), so a sink that takes "5 MB per 10 s" is never sent more, even as
 *   measured on its own clock;
 * - pacing below one request (adaptive): a throttling answer while the limit is already 1 sets
 *   a byte rate, 95% of what the service accepted over its last answers (half the last one when
 *   that cannot be measured), raised by 0.3% per accepted answer and dropped after 200 accepted
 *   answers in a row; the lower of it and max_rate_bps paces requests (sink_state.rate_bps);
 * - Retry-After: a throttling answer that carries it stops every new request until it passes
 *   (up to backoff_cap_ms);
 * - every retry: one attempt per aws_send (max_attempts 1, re-signed each time), exponential
 *   backoff with full jitter (net/retry.h), Retry-After honoured up to backoff_cap_ms, at most
 *   max_attempts consecutive failed requests per batch; one timer for all waiting jobs;
 * - the sink's condition (pipeline/sink.h sink_state): UNREACHABLE after unreachable_after
 *   requests in a row failed without an answer or with a server error, REFUSING when the
 *   service refuses a whole request (UPLOAD_REFUSED: 401/403, a missing domain or index, a TLS
 *   failure) and hold_refused is set. While degraded no job is sent except one probe at a time,
 *   after a backoff that grows from probe_base_ms to probe_cap_ms (with jitter); the probe is
 *   the next real request, and the first accepted answer makes the sink OK again (the limit
 *   starts low again). A refused job waits for the sink instead of failing, unless it is
 *   refused again while other requests were accepted in between: then the batch, not the sink,
 *   is at fault, and it fails (logged as such). Without hold_refused (replays) a refused batch
 *   fails at once, as a refusal says the same thing about every batch;
 * - the outcome of every request, reported once to an optional observer (upload_observer:
 *   verdict, throttled, transport failure, status, documents, bytes, latency, requests still on
 *   the wire) after judge and before the uploader acts on it;
 * - the sink's statistics (sink_stats): requests, bytes, time on the wire and its histogram,
 *   answers by verdict, retries, throttles, request errors, documents accepted / retried /
 *   refused, batches; and its sink_state (condition, limit, requests on the wire).
 *
 * Contract: callbacks (next, judge, finished, the observer) always run from the loop, never from
 * inside uploader_submit or uploader_close. One job is in at most one place at a time (on the
 * wire, waiting for a place, or waiting for its backoff), and it is finished exactly once. */
#ifndef CTINDEX_UPLOADER_H
#define CTINDEX_UPLOADER_H

#include <stdint.h>
#include <uv.h>

#include "aws/aws.h"
#include "pipeline/sink.h"

typedef struct uploader uploader;
typedef struct upload_job upload_job;

typedef enum upload_verdict {
    UPLOAD_OK = 0,  /* settled: go on with the job's next request at once */
    UPLOAD_RETRY,   /* some documents must go again: after a backoff (counts toward max_attempts) */
    UPLOAD_REFUSED, /* the service refuses the request as a whole (401/403, 404, ...): the batch fails */
    UPLOAD_FAILED   /* the sink cannot go on (a dead-letter write failed, memory): the batch fails */
} upload_verdict;

/* What judge says about an answer, besides the verdict. Counts are documents of the request. */
typedef struct upload_answer {
    uint32_t accepted;       /* stored by the service */
    uint32_t retry;          /* to send again */
    uint32_t refused;        /* refused one by one and dead-lettered by the sink */
    int throttled;           /* the service asked to slow down (e.g. item 429s) */
    int split;               /* the request was split to isolate refused documents */
    int warnings;            /* warnings in an accepted answer */
    uint64_t retry_after_ms; /* the service's wish (the uploader fills it from Retry-After) */
    char why[640];           /* RETRY / REFUSED / FAILED: what happened, for the log */
} upload_answer;

typedef enum upload_next {
    UPLOAD_SEND = 0, /* rq is filled: send it */
    UPLOAD_DONE,     /* nothing left: the batch is stored */
    UPLOAD_STOP      /* the batch cannot go on (reason logged by the sink): it fails */
} upload_next;

typedef struct upload_ops {
    /* Fill rq (zeroed; body, url, headers... must live until judge) and *docs (documents in it). */
    upload_next (*next)(upload_job *j, aws_request *rq, uint32_t *docs);
    /* Only 2xx answers and error statuses that are not transient come here. */
    upload_verdict (*judge)(upload_job *j, const aws_response *r, upload_answer *a);
    /* The job is over; ok = 0 when its batch could not be stored. The job may be reused at once. */
    void (*finished)(upload_job *j, int ok);
} upload_ops;

/* Everything the uploader knows about one request once its answer is judged. */
typedef struct upload_outcome {
    upload_verdict verdict;
    int throttled;
    int transport; /* no HTTP answer (connection trouble, timeout) */
    int status;    /* HTTP status, 0 when none */
    uint32_t docs;
    uint64_t bytes;
    uint64_t latency_ns;
    int in_flight; /* requests on the wire after this one left */
} upload_outcome;

typedef void (*upload_observer)(void *ud, const upload_outcome *o);

/* The options every network sink takes, with the same names (spec options inflight=, attempts=). */
typedef struct upload_options {
    int max_in_flight;        /* requests on the wire at once, at most; 0: 2 */
    int adaptive;             /* 1: the limit adapts within [1, max_in_flight] (default); 0: it is max_in_flight */
    int max_attempts;         /* consecutive failed requests of a batch before it fails; 0: unlimited */
    uint64_t backoff_base_ms; /* first retry waits up to this; 0: 200 */
    uint64_t backoff_cap_ms;  /* no wait is longer; 0: 20000 */
    uint64_t max_rate_bps;    /* request body bytes per second, at most; 0: no cap */
    int hold_refused;         /* a refused request holds its batch while the sink is probed (the service) */
    uint64_t probe_base_ms;   /* degraded: the first probe waits about this; 0: 1000 */
    uint64_t probe_cap_ms;    /* degraded: no wait between probes is longer; 0: 60000 */
    int unreachable_after;    /* failed requests in a row (no answer, 5xx) that make the sink unreachable; 0: 3 */
} upload_options;

void upload_options_default(upload_options *o);
/* A sink spec option ("inflight=N", "attempts=N", "adaptive=0|1"): 1 when it was one of them and
 * valid, 0 when it is not an uploader option, -1 when it is one with a bad value (logged, naming
 * the sink). */
int upload_options_parse(upload_options *o, const char *sink_name, const char *kv);
#define UPLOAD_SPEC_HELP "inflight=1..64, attempts=N, adaptive=0|1"

/* The start of an answer's body as one printable line for a log ("..." appended when cut). */
void upload_body_start(const char *body, size_t len, char *out, size_t cap);

struct upload_job {
    uploader *u;
    upload_job *next_wait; /* ready FIFO or backoff list */
    uint64_t due_ms;       /* backoff: loop time of the next attempt */
    aws_call *call;
    uint64_t t0; /* hrtime of the request on the wire */
    uint32_t docs;
    size_t bytes;
    int fails; /* consecutive failed requests */
    int where; /* internal: idle, ready, backoff, on the wire */
    /* internal: the next request, asked of next() and waiting for the byte-rate cap or a probe */
    aws_request rq;
    uint32_t rq_docs;
    int prepared;
    int probe;            /* the request on the wire probes a degraded sink */
    int refusals;         /* requests of this batch refused as a whole */
    uint64_t refused_seq; /* the uploader's accepted-answer count at the last refusal */
};

/* name: for logs ("cloudsearch"); sk: the sink whose stats and state (sink_stats, sink_state)
 * the uploader keeps. NULL when out of memory. */
uploader *uploader_new(uv_loop_t *loop, aws_ctx *aws, const char *name, const upload_options *o, const upload_ops *ops,
                       sink *sk);
/* Start a job (its batch): it waits for a place, then next() is asked. */
void uploader_submit(uploader *u, upload_job *j);
/* Hold: no request starts until uploader_release (jobs queue meanwhile). Counted. */
void uploader_hold(uploader *u);
void uploader_release(uploader *u);
/* Fix the limit of requests on the wire (>= 1; adaptation stops); takes effect for the next sends. */
void uploader_set_limit(uploader *u, int limit);
int uploader_limit(const uploader *u);
int uploader_in_flight(const uploader *u);
void uploader_observe(uploader *u, upload_observer fn, void *ud);
/* Jobs submitted and not finished. */
int uploader_jobs(const uploader *u);
/* No more submits. Once every job has finished, logs the closing counters line and closes the
 * timers; closed(ud) runs from the loop when the uploader's memory is gone. */
void uploader_close(uploader *u, void (*closed)(void *ud), void *ud);

#endif
