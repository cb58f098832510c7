/* ctindex run: the SQS-driven indexing service. Long-polls the queue, downloads every object a
 * notification names (streamed through the CPU path), and deletes a message only after every
 * record of every object it names was accepted by the sink. Visibility is extended while work
 * is in progress; a message whose objects failed is made visible again for a retry. */
#ifndef CTINDEX_SERVICE_H
#define CTINDEX_SERVICE_H

#include <stdint.h>
#include <uv.h>

#include "aws/aws.h"
#include "pipeline/indexer.h"

typedef struct service_options {
    const char *queue_url;
    int receivers;          /* long polls in flight (default 2) */
    int max_messages;       /* messages in flight (default 64) */
    int max_objects;        /* concurrent downloads (default 8) */
    int visibility_s;       /* visibility held while working (default 300) */
    int retry_visibility_s; /* a failed or malformed message becomes visible after this (default 30) */
    int wait_s;             /* long-poll wait (default 20) */
    int linger_ms;          /* send a partial batch after this long (default 3000) */
    int stats_interval_s;   /* stats line period (default 60; 0 = only at exit) */
    int exit_when_idle;     /* exit after this many empty receives with nothing in flight (0 = never) */
    int drain_timeout_s;    /* on SIGTERM: time to finish in-flight work (default 60) */
    size_t max_record;      /* record size limit */
} service_options;

void service_options_default(service_options *o);

typedef struct service_stats {
    uint64_t receives, receive_errors;
    uint64_t messages;          /* received, duplicates included */
    uint64_t messages_deleted;  /* confirmed by DeleteMessageBatch */
    uint64_t messages_retried;  /* an object failed: made visible again after retry_visibility_s */
    uint64_t messages_released; /* given back unfinished when stopping (visible again at once) */
    uint64_t messages_bad, messages_ignored;
    uint64_t redelivered; /* ApproximateReceiveCount > 1 */
    uint64_t duplicates;  /* received again while still in progress here: the newest receipt handle is kept */
    uint64_t objects, objects_done, objects_failed, objects_skipped;
    uint64_t objects_refused; /* of objects_done: none of the shapes (0 bytes too), recorded in the dead-letter file */
    uint64_t objects_empty;   /* of objects_done: one of the shapes without records ({"Records":[]}), or a digest */
    uint64_t records, records_failed, bytes_in, bytes_json;
    uint64_t control_messages; /* CloudWatch Logs CONTROL_MESSAGEs: no records */
    uint64_t delete_errors, visibility_errors, visibility_extensions;
    int forced; /* stopped with work still in flight: exit the process without cleanup */
} service_stats;

/* Runs until SIGTERM/SIGINT (then drains) or exit_when_idle. Returns 0 on a clean stop. */
int service_run(uv_loop_t *loop, aws_ctx *aws, indexer *ix, const service_options *o, service_stats *st);

#endif
