/* The counters of `ctindex run` (sources/sqs_service.c keeps them; the stats line, the health
 * endpoint and /metrics read them). */
#ifndef CTINDEX_SERVICE_STATS_H
#define CTINDEX_SERVICE_STATS_H

#include <stdint.h>

typedef struct service_stats {
    uint64_t receives, receive_errors;
    uint64_t messages;          /* received, duplicates included */
    uint64_t messages_deleted;  /* confirmed by DeleteMessageBatch */
    uint64_t messages_retried;  /* an object failed: made visible again after retry_visibility_s */
    uint64_t messages_released; /* given back unfinished when stopping (visible again at once) */
    uint64_t messages_bad, messages_ignored;
    uint64_t messages_dead_lettered; /* given back on their last receive (maxReceiveCount, when known) */
    uint64_t receive_pauses;         /* times receiving paused because the sink could not take documents */
    uint64_t redelivered;            /* ApproximateReceiveCount > 1 */
    uint64_t duplicates; /* received again while still in progress here: the newest receipt handle is kept */
    uint64_t objects, objects_done, objects_failed, objects_skipped;
    uint64_t objects_refused; /* of objects_done: none of the shapes (0 bytes too), recorded in the dead-letter file */
    uint64_t objects_empty;   /* of objects_done: one of the shapes without records ({"Records":[]}), or a digest */
    uint64_t records, records_failed, bytes_in, bytes_json;
    uint64_t control_messages; /* CloudWatch Logs CONTROL_MESSAGEs: no records */
    uint64_t delete_errors, visibility_errors, visibility_extensions;
    int forced; /* stopped with work still in flight: exit the process without cleanup */
} service_stats;

#endif
