/* Driver for the CloudSearch sink and configuration client, used by
 * test/e2e/test_cloudsearch_sink.py against test/fakes/fake_search.py.
 *
 *   drive_cloudsearch [--create-domain NAME] [--define-fields NAME] [--describe NAME]
 *                         [--files PATH... (--endpoint URL | --domain NAME | --spec SPEC)]
 *                         [--dead-letter FILE] [--inflight N] [--attempts N] [--retry-max-ms MS]
 *                         [--batch-docs N]
 *
 * Credentials and endpoints come from the environment (AWS_ACCESS_KEY_ID, ...,
 * AWS_ENDPOINT_URL_CLOUDSEARCH). Prints key=value lines; exit 0 when everything was stored,
 * 1 when some records or a configuration call failed, 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "aws/aws.h"
#include "base/log.h"
#include "net/http.h"
#include "pipeline/deadletter.h"
#include "pipeline/indexer.h"
#include "sinks/cloudsearch/cloudsearch_config.h"
#include "sinks/cloudsearch/sink_cloudsearch.h"
#include "sources/local_source.h"

typedef struct wait_state {
    int done, ok;
    char doc_url[CS_URL_MAX];
} wait_state;

static void on_domain(void *ud, int ok, const cloudsearch_domain_info *info, const char *error) {
    wait_state *w = ud;
    w->done = 1;
    w->ok = ok;
    if (info) snprintf(w->doc_url, sizeof w->doc_url, "%s", info->doc_url);
    if (!ok) printf("config_error=%s\n", error);
}

static void on_fields(void *ud, int ok, const char *error) {
    wait_state *w = ud;
    w->done = 1;
    w->ok = ok;
    if (!ok) printf("config_error=%s\n", error);
}

static void wait_for(uv_loop_t *loop, wait_state *w) {
    while (!w->done) uv_run(loop, UV_RUN_ONCE);
}

static long arg_num(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0) {
        fprintf(stderr, "bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: drive_cloudsearch [OPTIONS] (see test/drivers/drive_cloudsearch.c)\n");
        return 2;
    }
    const char *create = NULL, *define = NULL, *describe = NULL, *endpoint = NULL, *domain = NULL, *spec = NULL;
    const char *dead_path = NULL;
    char **files = NULL;
    int nfiles = 0;
    sink_cloudsearch_options so;
    sink_cloudsearch_options_default(&so);
    long batch_docs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--files") == 0) {
            files = argv + i + 1;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) i++, nfiles++;
        } else if (!has) {
            fprintf(stderr, "missing value after %s\n", a);
            return 2;
        } else if (strcmp(a, "--create-domain") == 0) create = argv[++i];
        else if (strcmp(a, "--define-fields") == 0) define = argv[++i];
        else if (strcmp(a, "--describe") == 0) describe = argv[++i];
        else if (strcmp(a, "--endpoint") == 0) endpoint = argv[++i];
        else if (strcmp(a, "--domain") == 0) domain = argv[++i];
        else if (strcmp(a, "--spec") == 0) spec = argv[++i];
        else if (strcmp(a, "--dead-letter") == 0) dead_path = argv[++i];
        else if (strcmp(a, "--inflight") == 0) so.upload.max_in_flight = (int)arg_num(argv[++i]);
        else if (strcmp(a, "--attempts") == 0) so.upload.max_attempts = (int)arg_num(argv[++i]);
        else if (strcmp(a, "--retry-max-ms") == 0) so.upload.backoff_cap_ms = (uint64_t)arg_num(argv[++i]);
        else if (strcmp(a, "--batch-docs") == 0) batch_docs = arg_num(argv[++i]);
        else {
            fprintf(stderr, "unknown argument %s\n", a);
            return 2;
        }
    }
    log_set_level(getenv("CTINDEX_DEBUG") ? LOG_DEBUG : LOG_INFO);
    uv_loop_t loop;
    uv_loop_init(&loop);
    http_client *http = http_client_new(&loop, NULL);
    aws_ctx *aws = http ? aws_ctx_new(&loop, http, NULL) : NULL;
    if (!aws) return 2;
    int rc = 0;
    deadletter *dead = NULL;
    if (create) {
        wait_state w = {0};
        if (cloudsearch_create_domain(aws, create, on_domain, &w) != 0) return 2;
        wait_for(&loop, &w);
        if (w.ok) printf("created=%s\ncreated_endpoint=%s\n", create, w.doc_url);
        else rc = 1;
    }
    if (define && rc == 0) {
        wait_state w = {0};
        if (cloudsearch_define_some_fields(aws, define, NULL, on_fields, &w) != 0) return 2;
        wait_for(&loop, &w);
        if (w.ok) printf("fields_defined=%s\n", define);
        else rc = 1;
    }
    if (describe && rc == 0) {
        wait_state w = {0};
        if (cloudsearch_describe_domain(aws, describe, on_domain, &w) != 0) return 2;
        wait_for(&loop, &w);
        if (w.ok) printf("endpoint=%s\n", w.doc_url);
        else rc = 1;
    }
    if (nfiles > 0 && rc == 0) {
        dead = deadletter_open(dead_path, 0);
        so.loop = &loop;
        so.dead = dead;
        so.endpoint = endpoint;
        so.domain = domain;
        sink *s = spec ? sink_cloudsearch_from_spec(&loop, aws, spec, NULL, dead) : sink_cloudsearch_new(aws, &so);
        if (!s) return 2;
        indexer_options io;
        indexer_options_default(&io);
        io.dead = dead;
        io.batches = s->max_in_flight + 1;
        if (batch_docs > 0) io.batch_docs = (uint32_t)batch_docs;
        indexer *ix = indexer_new(&io, s);
        if (!ix) return 2;
        local_options lo = {.max_record = io.max_record, .progress = 0};
        local_stats ls;
        int lrc = local_source_run(&loop, ix, files, nfiles, &lo, &ls);
        const sink_stats *st = sink_get_stats(s);
        const indexer_stats *is = indexer_get_stats(ix);
        printf("local_rc=%d\nrecords=%llu\nrecords_failed=%llu\ndocs=%llu\nbad_records=%llu\n", lrc,
               (unsigned long long)ls.records, (unsigned long long)ls.records_failed, (unsigned long long)is->docs,
               (unsigned long long)is->bad_records);
        /* batches= counts the batches stored (done ok) */
        printf("batches=%llu\nbatches_failed=%llu\nuploads=%llu\naccepted=%llu\nretries=%llu\nthrottled=%llu\n"
               "splits=%llu\ndead_lettered=%llu\nrequest_errors=%llu\nbytes_uploaded=%llu\nupload_ms=%.1f\n",
               (unsigned long long)(st->batches - st->batches_failed), (unsigned long long)st->batches_failed,
               (unsigned long long)st->requests, (unsigned long long)st->docs_accepted, (unsigned long long)st->retries,
               (unsigned long long)st->throttled, (unsigned long long)st->splits, (unsigned long long)st->dead_lettered,
               (unsigned long long)st->request_errors, (unsigned long long)st->bytes, (double)st->upload_ns / 1e6);
        if (lrc != 0 || st->batches_failed) rc = 1;
        indexer_free(ix); /* closes the sink: its timers close on the next loop run */
    }
    aws_ctx_free(aws);
    http_client_close(http);
    uv_run(&loop, UV_RUN_DEFAULT);
    deadletter_close(dead);
    int lc = uv_loop_close(&loop);
    if (lc != 0) printf("loop_close=%s\n", uv_strerror(lc));
    fflush(stdout);
    return rc;
}
