/* Builds the sink named on the command line: index:FILE, dir:PATH, cloudsearch:URL (or a
 * CloudSearch domain name / document endpoint), opensearch:URL. Also tells the indexer which document format and
 * index pattern the sink needs. */
#ifndef CTINDEX_SINKS_H
#define CTINDEX_SINKS_H

#include <stdint.h>
#include <uv.h>

#include "aws/aws.h"
#include "pipeline/sink.h"

struct deadletter;

typedef struct sinks_options {
    const char *spec;         /* --sink */
    const char *domain;       /* --domain: CloudSearch domain name, endpoint looked up */
    const char *doc_endpoint; /* --doc-endpoint */
    int uploads;              /* requests in flight, at most (0: the sink's default) */
    uint64_t max_upload_rate; /* network sinks: request bytes per second, at most (0: no cap) */
    int hold_refused;         /* network sinks: a refused batch waits while the sink is probed (run) */
    uint64_t probe_cap_ms;    /* network sinks: longest wait between probes of a degraded sink (0: 60 s) */
    const char *os_auth;      /* --os-auth for opensearch: none|basic|sigv4 (NULL: auto) */
    int durable;              /* dir and index sinks: sync each batch before acknowledging it */
    struct deadletter *dead;
} sinks_options;

typedef struct sinks_result {
    sink *sink;
    int bulk;                /* documents in _bulk format */
    char index_pattern[256]; /* "" unless the sink chose one */
} sinks_result;

void sinks_options_default(sinks_options *o);
/* 0 on success; -1 with the reason logged. May run the loop (domain lookup). */
int sinks_create(uv_loop_t *loop, aws_ctx *aws, const sinks_options *o, sinks_result *out);

#endif
