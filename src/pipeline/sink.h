/* A sink takes finished batches and reports, asynchronously, when each is safely stored.
 * "Done" means every document of the batch is either accepted by the service or preserved in
 * the dead-letter file: only then may the records' sources be acknowledged. */
#ifndef CTINDEX_SINK_H
#define CTINDEX_SINK_H

#include <stdint.h>

#include "base/histogram.h"

struct batch;
typedef struct sink sink;

/* Called exactly once per submitted batch, always from the loop: never from inside submit (nor
 * close). ok == 0 means the batch could not be stored at all (the service refused it, the sink
 * gave up after its retries, a dead-letter entry could not be written): its records must not be
 * acknowledged. */
typedef void (*sink_done_fn)(void *ud, struct batch *b, int ok);

typedef struct sink_ops {
    const char *name;
    /* Take ownership of b until done is called (later, from the loop). */
    void (*submit)(sink *s, struct batch *b);
    /* Stop: no more submits; pending batches still complete. Frees the sink after the last one
     * (sinks with loop handles need the loop to run until it is empty afterwards). */
    void (*close)(sink *s);
} sink_ops;

/* What every sink counts, in one shape, for stats lines and whoever reports on sinks. */
typedef struct sink_stats {
    uint64_t batches;        /* batches done, ok or not */
    uint64_t batches_failed; /* done with ok = 0: their records are not acknowledged */
    uint64_t docs_accepted;  /* documents the service (or the folder) stored */
    uint64_t docs_retried;   /* documents sent again alone after the service refused them for now */
    uint64_t dead_lettered;  /* documents refused for good, kept in the dead-letter file */
    uint64_t requests;       /* requests sent: every attempt, split parts included */
    uint64_t request_errors; /* requests not accepted for a reason other than throttling: transport trouble,
                                an error status, an answer that is not the service's */
    uint64_t retries;        /* requests sent again after a backoff */
    uint64_t throttled;      /* answers asking to slow down (429/503/507/509, throttling codes, item 429s) */
    uint64_t splits;         /* requests split in halves to isolate refused documents */
    uint64_t bytes;          /* request body bytes sent (or written) */
    uint64_t upload_ns;      /* time requests were on the wire, summed over requests */
    uint64_t warnings;       /* warnings in accepted answers */
    /* requests by what their answer meant (they add up to requests once every answer is in) */
    uint64_t answers_accepted; /* settled: stored, or refused one by one and dead-lettered */
    uint64_t answers_retry;    /* to send again: throttled, transient failure, not the service's answer */
    uint64_t answers_refused;  /* refused as a whole (401/403, missing domain or index, ...) */
    uint64_t answers_failed;   /* the sink could not go on (a dead-letter write failed, memory) */
    histogram latency;         /* seconds on the wire per request (network sinks) */
} sink_stats;

/* Whether the service behind a sink takes documents now (network sinks; a folder always does). */
typedef enum sink_condition {
    SINK_OK = 0,      /* answers come back and are accepted */
    SINK_REFUSING,    /* the service refuses whole requests (credentials, policy, missing domain or index) */
    SINK_UNREACHABLE, /* requests fail in a row without an answer, or with server errors */
} sink_condition;

/* What the sink's pacing sees now, for the service (hold the queue while the sink cannot take
 * documents), the health endpoint and metrics. Kept by the sink. */
typedef struct sink_state {
    sink_condition condition;
    uint64_t since_ms; /* loop time the condition began */
    char why[256];     /* the refusal or failure behind a degraded condition ("" when OK) */
    uint64_t degraded; /* times the sink became refusing or unreachable */
    uint64_t probes;   /* requests sent to probe a degraded sink */
    int limit;         /* requests allowed on the wire now (adaptive concurrency) */
    int max_limit;     /* the configured most (--uploads, inflight=) */
    int in_flight;     /* requests on the wire */
    uint64_t rate_bps; /* bytes/s requests are paced at now (--max-upload-rate less 5%, or learned); 0: none */
} sink_state;

static inline const char *sink_condition_name(sink_condition c) {
    return c == SINK_REFUSING ? "refusing" : c == SINK_UNREACHABLE ? "unreachable" : "ok";
}

struct sink {
    const sink_ops *ops;
    sink_done_fn done;
    void *done_ud;
    int max_in_flight; /* batches the sink wants at once */
    /* The sink signs every batch body with its SHA-256 (SigV4): the indexer hashes full batches
     * two at a time for it (batch.sha256_hex, batch_hash_bodies) before submitting them. */
    int hashes_bodies;
    /* The sink reads each derived document's record itself (the index sink stores it): the
     * indexer keeps it beside the document (batch_keep_record), so it is not decoded from raw. */
    int keeps_records;
    sink_stats stats; /* kept by the sink; read with sink_get_stats */
    sink_state state; /* kept by the sink; read with sink_get_state */
};

static inline void sink_submit(sink *s, struct batch *b) { s->ops->submit(s, b); }
static inline void sink_close(sink *s) { s->ops->close(s); }
static inline const sink_stats *sink_get_stats(const sink *s) { return &s->stats; }
static inline const sink_state *sink_get_state(const sink *s) { return &s->state; }
static inline int sink_degraded(const sink *s) { return s->state.condition != SINK_OK; }

#endif
