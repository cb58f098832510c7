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
 * What the uploader owns (and issue 12's adaptive concurrency plugs into):
 * - the limit of requests on the wire (upload_options.max_in_flight; uploader_set_limit changes
 *   it at run time) and the FIFO of jobs waiting for a place (a job that made progress goes
 *   first, so batches finish in order);
 * - every retry: one attempt per aws_send (max_attempts 1, re-signed each time), exponential
 *   backoff with full jitter (net/retry.h), Retry-After honoured up to backoff_cap_ms, at most
 *   max_attempts consecutive failed requests per batch; one timer for all waiting jobs;
 * - the outcome of every request, reported once to an optional observer (upload_observer:
 *   verdict, throttled, transport failure, status, documents, bytes, latency, requests still on
 *   the wire) after judge and before the uploader acts on it;
 * - the sink's statistics (sink_stats): requests, bytes, time on the wire, retries, throttles,
 *   request errors, documents accepted / retried / refused, batches.
 *
 * Where issue 12's adaptive concurrency goes: an observer (or code in on_answer) computes AIMD
 * (grow on fast UPLOAD_OK, cut on `throttled` or on latency well above its baseline) and applies
 * it with uploader_set_limit (never above the sink's max_in_flight); a byte-rate cap delays sends
 * in pump()/arm(), the one place a request leaves (its body length is known from next());
 * UPLOAD_REFUSED answers (401/403, missing domain or index) and transport failures in a row are
 * the "sink refusing / unreachable" degraded signal, and uploader_hold/release pause sending
 * while the service is probed.
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
    int max_in_flight;        /* requests on the wire at once; 0: 2 */
    int max_attempts;         /* consecutive failed requests of a batch before it fails; 0: unlimited */
    uint64_t backoff_base_ms; /* first retry waits up to this; 0: 200 */
    uint64_t backoff_cap_ms;  /* no wait is longer; 0: 20000 */
} upload_options;

void upload_options_default(upload_options *o);
/* A sink spec option ("inflight=N", "attempts=N"): 1 when it was one of them and valid, 0 when it
 * is not an uploader option, -1 when it is one with a bad value (logged, naming the sink). */
int upload_options_parse(upload_options *o, const char *sink_name, const char *kv);
#define UPLOAD_SPEC_HELP "inflight=1..64, attempts=N"

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
};

/* name: for logs ("cloudsearch"); stats: the sink's counters (sink_stats), kept by the uploader.
 * NULL when out of memory. */
uploader *uploader_new(uv_loop_t *loop, aws_ctx *aws, const char *name, const upload_options *o, const upload_ops *ops,
                       sink_stats *stats);
/* Start a job (its batch): it waits for a place, then next() is asked. */
void uploader_submit(uploader *u, upload_job *j);
/* Hold: no request starts until uploader_release (jobs queue meanwhile). Counted. */
void uploader_hold(uploader *u);
void uploader_release(uploader *u);
/* Change the limit of requests on the wire (>= 1); takes effect for the next sends. */
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
