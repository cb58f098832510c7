/* The CloudSearch sink: uploads each batch to POST /2013-01-01/documents/batch (SigV4 service
 * "cloudsearch"), the batch body sent as it is, without a copy.
 *
 * - Throttling and transient failures (connection errors, timeouts, 5xx, 429, throttling
 *   codes) are retried with exponential backoff and full jitter, without limit by default:
 *   under throttling data waits (the indexer's backpressure holds the input), it is never lost.
 * - A 400 naming bad documents rejects the whole batch (CloudSearch is all-or-nothing): the
 *   batch is split in halves, recursively, until the offending documents are alone; each of
 *   those goes to the dead-letter file with the service's message. The batch then completes ok.
 * - Other 4xx (403 auth or access policy, 404 path, 413 ...) fail the batch (ok = 0, its records
 *   are not acknowledged); each distinct error is logged once at error level.
 *
 * Uses uv handles: after sink_close (or indexer_free) the loop must run until the sink's timers
 * have closed (uv_run until it returns 0), before uv_loop_close. Free the aws context only
 * after every submitted batch is done (a pending retry would use it). */
#ifndef CTINDEX_SINK_CLOUDSEARCH_H
#define CTINDEX_SINK_CLOUDSEARCH_H

#include <stdint.h>
#include <uv.h>

#include "aws/aws.h"
#include "pipeline/deadletter.h"
#include "pipeline/sink.h"

typedef struct sink_cloudsearch_options {
    uv_loop_t *loop; /* required: the loop the aws context runs on */
    /* Document endpoint: https://doc-NAME-ID.REGION.cloudsearch.amazonaws.com, a bare host
     * (https is assumed) or http://127.0.0.1:PORT. NULL: look it up with DescribeDomains
     * for `domain` before the first upload (batches wait meanwhile). */
    const char *endpoint;
    const char *domain;     /* used when endpoint is NULL */
    const char *region;     /* signing region; NULL: the endpoint's ".REGION.cloudsearch." label,
                               else the context's region */
    int max_in_flight;      /* uploads at once; 0: 2 (a domain takes ~1 batch / 10 s) */
    deadletter *dead;       /* rejected documents go here; NULL: they are only logged */
    int max_attempts;       /* per upload, first included; 0: unlimited */
    uint64_t retry_base_ms; /* 0: 200 */
    uint64_t retry_max_ms;  /* longest wait between attempts; 0: 20000 */
    long timeout_ms;        /* per attempt; 0: 120000 */
} sink_cloudsearch_options;

void sink_cloudsearch_options_default(sink_cloudsearch_options *o);

/* NULL on bad options (logged). */
sink *sink_cloudsearch_new(aws_ctx *aws, const sink_cloudsearch_options *o);

/* From a command-line spec, "cloudsearch:" prefix optional:
 *   cloudsearch:URL_OR_HOST[,inflight=N][,region=R][,attempts=N]   a document endpoint
 *   cloudsearch:DOMAIN[,...]                                         looked up with DescribeDomains
 * in_flight (e.g. from --uploads; 0 = the sink's default) applies unless the spec has inflight=.
 * NULL when the spec is not understood (logged). */
sink *sink_cloudsearch_from_spec(uv_loop_t *loop, aws_ctx *aws, const char *spec, int in_flight, deadletter *dead);

typedef struct sink_cloudsearch_counters {
    uint64_t batches;        /* batches completed ok */
    uint64_t batches_failed; /* completed with ok = 0 */
    uint64_t uploads;        /* HTTP uploads sent, retries and split halves included */
    uint64_t docs_accepted;
    uint64_t retries;
    uint64_t throttled;      /* retries caused by 429/503/507/509 or a throttling code */
    uint64_t splits;         /* rejected (sub-)batches split in halves */
    uint64_t dead_lettered;  /* documents rejected alone */
    uint64_t warnings;       /* warnings[] in accepted answers */
    uint64_t adds_mismatch;  /* answers whose adds differed from the documents sent */
    uint64_t bytes_uploaded; /* request body bytes sent, all attempts */
    uint64_t upload_ns;      /* time uploads were on the wire, summed over uploads */
} sink_cloudsearch_counters;

/* 0, or -1 when s is not a CloudSearch sink. */
int sink_cloudsearch_stats(const sink *s, sink_cloudsearch_counters *out);

#endif
