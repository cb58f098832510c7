/* The metrics of `ctindex run` in Prometheus text format 0.0.4 (GET /metrics on the health port):
 * counters of the queue, the objects, the records and the uploads, gauges of the work in flight,
 * the sink's pacing and condition, and histograms of upload latency and record delay. Names
 * follow Prometheus' conventions: `ctindex_` prefix, `_total` on counters, base units (seconds,
 * bytes); the sink is a label.
 *
 * Pure: renders a snapshot of the counters the service, the indexer, the sink and the AWS layer
 * keep (plain increments where they happen: nothing here costs anything per record). */
#ifndef CTINDEX_SERVICE_METRICS_H
#define CTINDEX_SERVICE_METRICS_H

#include "aws/aws.h"
#include "base/buf.h"
#include "pipeline/indexer.h"
#include "pipeline/sink.h"
#include "sources/service_stats.h"

typedef struct service_metrics_view {
    const service_stats *svc;
    const indexer_stats *ix;
    const char *sink_name; /* "cloudsearch", "opensearch", "dir" */
    const sink_stats *sink;
    const sink_state *sink_state;
    const aws_stats *aws;
    int messages_in_flight;
    int objects_in_flight; /* started or waiting for a download slot */
    int downloads_in_flight;
    int batches_in_flight;
    double oldest_message_age_s; /* 0 when none is held */
    int receiving;               /* 1 while messages are received (not paused for the sink, not stopping) */
} service_metrics_view;

/* Appends the exposition to out. 0, or -1 when out is full (the output is then incomplete). */
int service_metrics_write(buf *out, const service_metrics_view *v);

#endif
