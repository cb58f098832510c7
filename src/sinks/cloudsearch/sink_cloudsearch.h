/* The CloudSearch sink: uploads each batch to POST /2013-01-01/documents/batch (SigV4 service
 * "cloudsearch"), the batch body sent as it is, without a copy. When and whether a request is
 * sent again is the uploader's business (sinks/upload/uploader.h); this sink says what an answer means.
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
#include "sinks/upload/uploader.h"

typedef struct sink_cloudsearch_options {
    uv_loop_t *loop; /* required: the loop the aws context runs on */
    /* Document endpoint: https://doc-NAME-ID.REGION.cloudsearch.amazonaws.com, a bare host
     * (https is assumed) or http://127.0.0.1:PORT. NULL: look it up with DescribeDomains
     * for `domain` before the first upload (batches wait meanwhile). */
    const char *endpoint;
    const char *domain;    /* used when endpoint is NULL */
    const char *region;    /* signing region; NULL: the endpoint's ".REGION.cloudsearch." label,
                              else the context's region */
    upload_options upload; /* in flight (default 2: a domain takes ~1 batch / 10 s), attempts, backoff */
    long timeout_ms;       /* per request; 0: 120000 */
    deadletter *dead;      /* rejected documents go here; NULL: they are only logged */
} sink_cloudsearch_options;

void sink_cloudsearch_options_default(sink_cloudsearch_options *o);

/* NULL on bad options (logged). */
sink *sink_cloudsearch_new(aws_ctx *aws, const sink_cloudsearch_options *o);

/* From a command-line spec, "cloudsearch:" prefix optional:
 *   cloudsearch:URL_OR_HOST[,inflight=N][,region=R][,attempts=N]   a document endpoint
 *   cloudsearch:DOMAIN[,...]                                         looked up with DescribeDomains
 * up (may be NULL): the uploader's options from the command line (--uploads, --max-upload-rate, ...;
 * max_in_flight 0 = the sink's default); options in the spec win. NULL when the spec is not
 * understood (logged). */
sink *sink_cloudsearch_from_spec(uv_loop_t *loop, aws_ctx *aws, const char *spec, const upload_options *up,
                                 deadletter *dead);

#endif
