/* ctindex run: the SQS-driven indexing service. Long-polls the queue, downloads every object a
 * notification names (streamed through the CPU path), and deletes a message only after every
 * record of every object it names was accepted by the sink. Visibility is extended while work
 * is in progress; a message whose objects failed is made visible again for a retry.
 *
 * While the sink cannot take documents (refusing or unreachable: pipeline/sink.h sink_state) no
 * message is received: the messages held keep their visibility extended, so their receive count
 * does not grow and the queue is not drained into its dead-letter queue; receiving resumes on its
 * own once the sink accepts again. With a health endpoint, GET / says which of these states the
 * service is in (200 only when work flows) and GET /metrics gives its counters. */
#ifndef CTINDEX_SERVICE_H
#define CTINDEX_SERVICE_H

#include <stdint.h>
#include <uv.h>

#include "aws/aws.h"
#include "net/health.h"
#include "pipeline/indexer.h"
#include "sources/service_stats.h"

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
    health *health;         /* answers GET / and GET /metrics from the service while it runs; may be NULL */
} service_options;

void service_options_default(service_options *o);

/* Runs until SIGTERM/SIGINT (then drains) or exit_when_idle. Returns 0 on a clean stop. */
int service_run(uv_loop_t *loop, aws_ctx *aws, indexer *ix, const service_options *o, service_stats *st);

#endif
