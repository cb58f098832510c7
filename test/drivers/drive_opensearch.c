/* Driver for test/e2e/test_opensearch_sink.py: indexes local CloudTrail files into the OpenSearch
 * sink and prints the sink's own counters, which `ctindex replay` does not show.
 *
 *   drive_opensearch --sink opensearch:URL[,OPTIONS] [--os-auth none|basic|sigv4] [--dead-letter FILE]
 *                  [--batch-bytes N] [--batch-docs N] PATH...
 *
 * The sink is made by sink_opensearch_from_spec, as the command line will make it.
 *
 * Credentials and region come from the environment (AWS_ACCESS_KEY_ID, ..., AWS_REGION,
 * OPENSEARCH_USERNAME/PASSWORD). Prints one JSON line of counters on stdout; exit 0 when every
 * file was indexed and every batch stored, 1 otherwise, 2 on setup errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "aws.h"
#include "deadletter.h"
#include "http.h"
#include "indexer.h"
#include "local_source.h"
#include "log.h"
#include "sink_opensearch.h"

static const char *arg_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "drive_opensearch: %s needs a value\n", argv[*i]);
        exit(2);
    }
    return argv[++*i];
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: drive_opensearch --sink opensearch:URL [OPTIONS] PATH...\n");
        return 2;
    }
    const char *spec = NULL, *auth = NULL, *dead_path = NULL;
    size_t batch_bytes = 0;
    unsigned batch_docs = 0;
    char *paths[64];
    int npaths = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--sink") == 0) spec = arg_value(argc, argv, &i);
        else if (strcmp(a, "--os-auth") == 0) auth = arg_value(argc, argv, &i);
        else if (strcmp(a, "--dead-letter") == 0) dead_path = arg_value(argc, argv, &i);
        else if (strcmp(a, "--batch-bytes") == 0) batch_bytes = strtoul(arg_value(argc, argv, &i), NULL, 10);
        else if (strcmp(a, "--batch-docs") == 0) batch_docs = (unsigned)strtoul(arg_value(argc, argv, &i), NULL, 10);
        else if (a[0] == '-') {
            fprintf(stderr, "drive_opensearch: unknown option %s\n", a);
            return 2;
        } else if (npaths < 64) paths[npaths++] = argv[i];
    }
    if (!spec || npaths == 0) {
        fprintf(stderr, "usage: drive_opensearch --sink opensearch:URL [options] PATH...\n");
        return 2;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    http_client *http = http_client_new(&loop, NULL);
    aws_ctx *aws = http ? aws_ctx_new(&loop, http, NULL) : NULL;
    deadletter *dead = deadletter_open(dead_path);
    if (!aws || !dead) return 2;
    sink *s = sink_opensearch_from_spec(&loop, aws, spec, auth, 0, dead);
    if (!s) return 2;

    indexer_options io;
    indexer_options_default(&io);
    io.bulk = 1;
    io.dead = dead;
    io.batches = s->max_in_flight + 1;
    if (batch_bytes) io.batch_bytes = batch_bytes;
    if (batch_docs) io.batch_docs = batch_docs;
    const char *pattern = sink_opensearch_index_pattern(s);
    if (pattern) io.index_pattern = pattern;
    indexer *ix = indexer_new(&io, s);
    if (!ix) return 2;

    local_options lo = {.max_record = io.max_record, .progress = 0};
    local_stats st;
    int rc = local_source_run(&loop, ix, paths, npaths, &lo, &st);
    const indexer_stats *is = indexer_get_stats(ix);
    sink_opensearch_stats os;
    sink_opensearch_get_stats(s, &os);
    printf("{\"rc\":%d,\"records\":%llu,\"records_failed\":%llu,\"docs\":%llu,\"bad_records\":%llu,"
           "\"batches\":%llu,\"batches_failed\":%llu,\"stored\":%llu,\"retried_items\":%llu,"
           "\"dead_lettered\":%llu,\"requests\":%llu,\"request_retries\":%llu,\"splits\":%llu,"
           "\"bytes\":%llu,\"id_mismatches\":%llu,\"pattern\":\"%s\"}\n",
           rc, (unsigned long long)st.records, (unsigned long long)st.records_failed,
           (unsigned long long)is->docs, (unsigned long long)is->bad_records, (unsigned long long)os.batches,
           (unsigned long long)os.batches_failed, (unsigned long long)os.documents,
           (unsigned long long)os.retried_items, (unsigned long long)os.dead_lettered,
           (unsigned long long)os.requests, (unsigned long long)os.request_retries, (unsigned long long)os.splits,
           (unsigned long long)os.bytes, (unsigned long long)os.id_mismatches, pattern ? pattern : "");
    fflush(stdout);
    indexer_free(ix); /* closes the sink */
    deadletter_close(dead);
    aws_ctx_free(aws);
    http_client_close(http);
    uv_run(&loop, UV_RUN_DEFAULT);
    int closed = uv_loop_close(&loop);
    if (closed != 0) fprintf(stderr, "drive_opensearch: loop still has handles\n");
    if (rc < 0) return 2;
    return rc != 0 || os.batches_failed || st.records_failed || closed ? 1 : 0;
}
