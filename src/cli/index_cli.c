#include "cli/index_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/log.h"
#include "sinks/dir/sink_dir.h"
#include "sinks/opensearch/sink_opensearch.h"
#include "sinks/sinks.h"

const char index_cli_help[] =
    "  --format sdf|bulk     document format: CloudSearch SDF batches (default) or OpenSearch _bulk NDJSON\n"
    "  --fields PROFILE      which fields documents carry (see 'ctindex schema --help'): original (the\n"
    "                        original cloudtrail-1 domain's 15 fields), standard (default: original and\n"
    "                        the literals detection rules filter on) or full (every field, JSON-text\n"
    "                        copies of requestParameters, responseElements, ... included)\n"
    "  --no-raw              do not index the whole record in the 'raw' field\n"
    "  --max-record BYTES    largest record accepted (default 2097152); larger ones, and parts of a file\n"
    "                        that hold no record (a broken line), go to the dead-letter file with their start\n"
    "  --batch-bytes BYTES   batch size limit (default and CloudSearch maximum 5000000)\n"
    "  --dead-letter FILE    unusable records and documents the sink refused, as JSON lines (default\n"
    "                        OUT/dead-letter.jsonl; ctindex-dead-letter.jsonl for network sinks; mode 0600).\n"
    "                        A file with a record that cannot be written there fails (exit 1)\n"
    "  --no-progress         no progress display on stderr\n"
    "  --quiet               only warnings and errors on stderr\n"
    "  --verbose             debug logging\n"
    "  --os-auth MODE        opensearch sink: none, basic (OPENSEARCH_USERNAME/PASSWORD) or sigv4\n"
    "  --uploads N           uploads in flight for network sinks, at most (default 2); the number in\n"
    "                        flight adapts below it: it starts at 1, grows while the sink answers fast,\n"
    "                        and is cut when it throttles or slows down (,adaptive=0 in the spec: fixed)\n"
    "  --max-upload-rate BYTES[/SECONDS]  request bytes per second to a network sink, at most; e.g.\n"
    "                        5000000/10 for a CloudSearch domain of the default size (one 5 MB batch per\n"
    "                        10 s); default: no cap\n";

const char index_cli_sinks[] =
    "  index:FILE                 the embedded search index (SQLite + FTS5) in FILE, created when missing;\n"
    "                             search it with 'ctindex search' and 'ctindex serve'\n"
    "  dir:OUT                    write batch files OUT/batch-NNNNNN.json (.ndjson with --format bulk)\n"
    "  cloudsearch:URL|DOMAIN     upload to a CloudSearch document endpoint, or a domain looked up\n"
    "                             with DescribeDomains ([,inflight=N][,region=R][,attempts=N])\n"
    "  opensearch:https://HOST[/INDEX-PATTERN]   OpenSearch/Elasticsearch _bulk, id = eventID\n"
    "                             (pattern default cloudtrail-%Y.%m.%d from eventTime, zeros when a\n"
    "                             record has none: cloudtrail-0000.00.00; [,auth=none|basic|sigv4]\n"
    "                             [,service=es|aoss][,region=R][,inflight=N][,attempts=N]\n"
    "                             [,max-request=BYTES]); see 'ctindex run --help'\n"
    "  network sinks: inflight=N requests at once, at most (default --uploads); adaptive=0: always\n"
    "  that many (default 1: adaptive); attempts=N: a batch fails after N failed requests in a row\n"
    "  (default: retried with backoff until it is stored)\n";

void index_cli_init(index_cli *c) {
    memset(c, 0, sizeof *c);
    indexer_options_default(&c->ix);
    c->progress = 1;
}

int index_cli_number(const char *name, const char *arg, long lo, long hi, long *out) {
    char *end;
    long long v = strtoll(arg, &end, 10);
    if (end == arg || *end || v < lo || v > hi) {
        fprintf(stderr, "ctindex: %s must be a number from %ld to %ld\n", name, lo, hi);
        return -1;
    }
    *out = (long)v;
    return 0;
}

int index_cli_rate(const char *arg, uint64_t *bytes_per_s) {
    char *end;
    errno = 0;
    unsigned long long bytes = strtoull(arg, &end, 10);
    if (end == arg || *arg == '-' || errno || bytes == 0 || bytes > (1ull << 40)) return -1;
    unsigned long long secs = 1;
    if (*end == '/') {
        const char *p = end + 1;
        secs = strtoull(p, &end, 10);
        if (end == p || *p == '-' || errno || secs == 0 || secs > 86400) return -1;
    }
    if (*end) return -1;
    *bytes_per_s = bytes / secs ? bytes / secs : 1;
    return 0;
}

int index_cli_option(index_cli *c, int ch, const char *arg) {
    long v;
    switch (ch) {
    case 'o': c->out_dir = arg; return 1;
    case 's': c->sink_spec = arg; return 1;
    case INDEX_CLI_NO_RAW: c->ix.include_raw = 0; return 1;
    case INDEX_CLI_FIELDS:
        if (schema_profile_parse(arg, &c->ix.fields) != 0) {
            fprintf(stderr, "ctindex: --fields must be original, standard or full\n");
            return -1;
        }
        return 1;
    case INDEX_CLI_FORMAT:
        if (strcmp(arg, "bulk") == 0) c->bulk = 1;
        else if (strcmp(arg, "sdf") == 0) c->bulk = 0;
        else {
            fprintf(stderr, "ctindex: --format must be sdf or bulk\n");
            return -1;
        }
        return 1;
    case INDEX_CLI_MAX_RECORD:
        if (index_cli_number("--max-record (bytes)", arg, 1024, 1L << 30, &v) != 0) return -1;
        c->ix.max_record = (size_t)v;
        return 1;
    case INDEX_CLI_BATCH_BYTES:
        if (index_cli_number("--batch-bytes", arg, 2L << 20, 5000000, &v) != 0) return -1;
        c->ix.batch_bytes = (size_t)v;
        return 1;
    case INDEX_CLI_DEAD: c->dead_letter = arg; return 1;
    case INDEX_CLI_NO_PROGRESS: c->progress = 0; return 1;
    case INDEX_CLI_QUIET:
        log_set_level(LOG_WARN);
        c->progress = 0;
        return 1;
    case INDEX_CLI_VERBOSE: log_set_level(LOG_DEBUG); return 1;
    case INDEX_CLI_OS_AUTH:
        if (sink_opensearch_parse_auth(arg) < 0) {
            fprintf(stderr, "ctindex: --os-auth must be none, basic, sigv4 or auto\n");
            return -1;
        }
        c->os_auth = arg;
        return 1;
    case INDEX_CLI_UPLOADS:
        if (index_cli_number("--uploads", arg, 1, 16, &v) != 0) return -1;
        c->uploads = (int)v;
        return 1;
    case INDEX_CLI_MAX_UPLOAD_RATE:
        if (index_cli_rate(arg, &c->max_upload_rate) != 0) {
            fprintf(stderr, "ctindex: --max-upload-rate must be BYTES or BYTES/SECONDS (e.g. 5000000/10), both "
                            "whole numbers above 0\n");
            return -1;
        }
        return 1;
    default: return 0;
    }
}

void index_cli_sink_spec(const index_cli *c, char *out, size_t cap) {
    if (c->out_dir) snprintf(out, cap, "%s%s", c->bulk ? "dir-bulk:" : "dir:", c->out_dir);
    else if (c->bulk && c->sink_spec && strncmp(c->sink_spec, "dir:", 4) == 0)
        snprintf(out, cap, "dir-bulk:%s", c->sink_spec + 4);
    else snprintf(out, cap, "%s", c->sink_spec ? c->sink_spec : "");
}

/* The folder of a dir: or dir-bulk: sink, else NULL. */
static const char *sink_dir_path(const char *spec) {
    if (strncmp(spec, "dir:", 4) == 0) return spec + 4;
    if (strncmp(spec, "dir-bulk:", 9) == 0) return spec + 9;
    return NULL;
}

int index_setup_base(index_setup *s, index_cli *c, const http_client_options *ho) {
    memset(s, 0, sizeof *s);
    uv_loop_init(&s->loop);
    s->loop_ready = 1;
    index_cli_sink_spec(c, s->spec, sizeof s->spec);
    const char *dir = sink_dir_path(s->spec);
    if (c->dead_letter) snprintf(s->dead_path, sizeof s->dead_path, "%s", c->dead_letter);
    else if (dir) snprintf(s->dead_path, sizeof s->dead_path, "%s/dead-letter.jsonl", dir);
    else snprintf(s->dead_path, sizeof s->dead_path, "ctindex-dead-letter.jsonl");
    s->http = http_client_new(&s->loop, ho);
    aws_ctx_options ao = {.region = c->region};
    s->aws = s->http ? aws_ctx_new(&s->loop, s->http, &ao) : NULL;
    return s->aws ? 0 : -1;
}

int index_setup_open(index_setup *s, index_cli *c, const http_client_options *ho, int with_sink) {
    if (index_setup_base(s, c, ho) != 0) return -1;
    return with_sink ? index_setup_sink(s, c) : 0; /* nothing indexed: no dead letters either */
}

int index_setup_sink(index_setup *s, index_cli *c) {
    const char *dir = sink_dir_path(s->spec);
    if (dir) {
        /* The dead-letter file lives beside the batches: create the folder first. */
        if (sink_dir_prepare(dir) != 0) return -1;
    }
    s->dead = deadletter_open(s->dead_path, c->durable);
    if (!s->dead) return -1;
    sinks_options so;
    sinks_options_default(&so);
    so.spec = s->spec[0] ? s->spec : NULL;
    so.domain = c->domain;
    so.doc_endpoint = c->doc_endpoint;
    so.dead = s->dead;
    so.os_auth = c->os_auth;
    so.durable = c->durable;
    if (c->uploads) so.uploads = c->uploads;
    if (c->bulk && strncmp(s->spec, "index:", 6) == 0) {
        log_error("the index sink takes CloudSearch documents: drop --format bulk");
        return -1;
    }
    so.max_upload_rate = c->max_upload_rate;
    so.hold_refused = c->hold_refused;
    so.probe_cap_ms = c->probe_cap_ms;
    sinks_result sr;
    if (sinks_create(&s->loop, s->aws, &so, &sr) != 0) return -1;
    c->ix.bulk = sr.bulk;
    c->ix.dead = s->dead;
    c->ix.batches = sr.sink->max_in_flight + 1;
    if (sr.index_pattern[0]) c->ix.index_pattern = sr.index_pattern;
    s->ix = indexer_new(&c->ix, sr.sink);
    return s->ix ? 0 : -1;
}

void index_setup_close(index_setup *s) {
    if (!s->loop_ready) return;
    if (s->ix) indexer_free(s->ix); /* closes the sink */
    if (s->aws) aws_ctx_free(s->aws);
    if (s->http) http_client_close(s->http);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    deadletter_close(s->dead);
    s->ix = NULL;
    s->aws = NULL;
    s->http = NULL;
    s->dead = NULL;
    s->loop_ready = 0;
}

double index_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Peak resident memory since exec: VmHWM. getrusage's ru_maxrss also counts the parent's pages
 * when it started us with vfork or posix_spawn, as Python's subprocess and bench_index do (a
 * replay of 4 records started from a 400 MB Python process said "peak RSS 413.6 MB"). */
static long peak_rss_kb(const struct rusage *ru) {
    long kb = -1;
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb >= 0 ? kb : ru->ru_maxrss;
}

double index_cpu_s(long *maxrss_kb) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (maxrss_kb) *maxrss_kb = peak_rss_kb(&ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

void index_print_totals(const indexer *ix, uint64_t records, uint64_t records_failed, uint64_t bytes_in,
                        uint64_t bytes_json, double wall, double cpu, long rss_kb) {
    const indexer_stats *is = indexer_get_stats(ix);
    /* the builder dead-letters unusable records, the sink the documents the service refused */
    uint64_t refused = sink_get_stats(indexer_sink(ix))->dead_lettered;
    printf("records: %llu read, %llu documents, %llu trimmed to fit, %llu dead-lettered (%llu unusable, %llu refused "
           "by the sink), %llu not stored, %llu invalid characters removed\n",
           (unsigned long long)records, (unsigned long long)is->docs, (unsigned long long)is->trimmed,
           (unsigned long long)(is->bad_records + refused), (unsigned long long)is->bad_records,
           (unsigned long long)refused, (unsigned long long)records_failed, (unsigned long long)is->chars_dropped);
    printf("batches: %llu (%llu failed); %.1f MB read, %.1f MB JSON, %.1f MB of documents\n",
           (unsigned long long)is->batches, (unsigned long long)is->batches_failed, (double)bytes_in / 1e6,
           (double)bytes_json / 1e6, (double)is->doc_bytes / 1e6);
    printf("time:    %.2f s wall, %.2f s CPU, %.0f records/s, %.0f records per CPU-second, peak RSS %.1f MB\n", wall,
           cpu, wall > 0 ? (double)records / wall : 0, cpu > 0 ? (double)records / cpu : 0, (double)rss_kb / 1024.0);
}
