/* convert and replay of local files: the CPU path on its own, into batch files (or any sink). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "aws.h"
#include "commands.h"
#include "http.h"
#include "sinks.h"
#include "deadletter.h"
#include "indexer.h"
#include "local_source.h"
#include "log.h"

typedef struct local_cli {
    const char *out_dir;
    const char *sink_spec;
    const char *dead_letter;
    const char *region;
    const char *os_auth;
    int uploads;
    int bulk;
    int progress;
    indexer_options ix;
} local_cli;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(long *maxrss_kb) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (maxrss_kb) *maxrss_kb = ru.ru_maxrss;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

/* refused: documents the sink refused for good (dead-lettered by the sink, not by the builder). */
static void print_summary(const local_stats *st, const indexer_stats *is, uint64_t refused, double wall, double cpu,
                          long rss_kb) {
    printf("files:   %llu indexed, %llu failed, %llu without records, %llu digests skipped, %llu other files skipped\n",
           (unsigned long long)(st->files_done - st->files_failed), (unsigned long long)st->files_failed,
           (unsigned long long)st->files_empty, (unsigned long long)st->digests, (unsigned long long)st->others);
    printf("records: %llu read, %llu documents, %llu trimmed to fit, %llu dead-lettered (%llu unusable, %llu refused "
           "by the sink), %llu not stored, %llu invalid characters removed\n",
           (unsigned long long)st->records, (unsigned long long)is->docs, (unsigned long long)is->trimmed,
           (unsigned long long)(is->bad_records + refused), (unsigned long long)is->bad_records,
           (unsigned long long)refused, (unsigned long long)st->records_failed,
           (unsigned long long)is->chars_dropped);
    printf("batches: %llu (%llu failed); %.1f MB read, %.1f MB JSON, %.1f MB of documents\n",
           (unsigned long long)is->batches, (unsigned long long)is->batches_failed, (double)st->bytes_in / 1e6,
           (double)st->bytes_json / 1e6, (double)is->doc_bytes / 1e6);
    printf("time:    %.2f s wall, %.2f s CPU, %.0f records/s, %.0f records per CPU-second, peak RSS %.1f MB\n", wall,
           cpu, wall > 0 ? (double)st->records / wall : 0, cpu > 0 ? (double)st->records / cpu : 0,
           (double)rss_kb / 1024.0);
}

static int run_local(local_cli *c, char **paths, int npaths) {
    char spec[4200];
    if (c->out_dir) {
        snprintf(spec, sizeof spec, "%s%s", c->bulk ? "dir-bulk:" : "dir:", c->out_dir);
    } else if (c->bulk && strncmp(c->sink_spec, "dir:", 4) == 0) {
        snprintf(spec, sizeof spec, "dir-bulk:%s", c->sink_spec + 4);
    } else {
        snprintf(spec, sizeof spec, "%s", c->sink_spec);
    }
    const char *dir = strncmp(spec, "dir:", 4) == 0 ? spec + 4 : strncmp(spec, "dir-bulk:", 9) == 0 ? spec + 9 : NULL;
    char dead_default[4300];
    if (!c->dead_letter) {
        if (dir) snprintf(dead_default, sizeof dead_default, "%s/dead-letter.jsonl", dir);
        else snprintf(dead_default, sizeof dead_default, "ctindex-dead-letter.jsonl");
        c->dead_letter = dead_default;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    http_client *http = http_client_new(&loop, NULL);
    aws_ctx_options ao = {.region = c->region};
    aws_ctx *aws = http ? aws_ctx_new(&loop, http, &ao) : NULL;
    deadletter *dead = NULL;
    indexer *ix = NULL;
    sinks_result sr;
    int rc = 2;
    if (!aws) goto out;
    if (dir) {
        /* The dead-letter file lives beside the batches: create the folder first. */
        sink *probe = sink_dir_new(dir, 0);
        if (!probe) goto out;
        sink_close(probe);
    }
    dead = deadletter_open(c->dead_letter);
    if (!dead) goto out;
    sinks_options so;
    sinks_options_default(&so);
    so.spec = spec;
    so.dead = dead;
    so.os_auth = c->os_auth;
    if (c->uploads) so.uploads = c->uploads;
    if (sinks_create(&loop, aws, &so, &sr) != 0) goto out;
    c->ix.bulk = sr.bulk;
    c->ix.dead = dead;
    c->ix.batches = sr.sink->max_in_flight + 1;
    if (sr.index_pattern[0]) c->ix.index_pattern = sr.index_pattern;
    ix = indexer_new(&c->ix, sr.sink);
    if (!ix) goto out;
    local_options lo = {.max_record = c->ix.max_record, .progress = c->progress};
    local_stats st;
    double t0 = now_s(), c0 = cpu_s(NULL);
    int lrc = local_source_run(&loop, ix, paths, npaths, &lo, &st);
    long rss = 0;
    double wall = now_s() - t0, cpu = cpu_s(&rss) - c0;
    if (lrc >= 0) print_summary(&st, indexer_get_stats(ix), indexer_sink(ix)->dead_lettered, wall, cpu, rss);
    rc = lrc < 0 ? 2 : lrc;
out:
    if (ix) indexer_free(ix); /* closes the sink */
    if (aws) aws_ctx_free(aws);
    if (http) http_client_close(http);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    deadletter_close(dead);
    return rc;
}

enum {
    OPT_NO_RAW = 256, OPT_BULK, OPT_MAX_RECORD, OPT_BATCH_BYTES, OPT_DEAD, OPT_NO_PROGRESS, OPT_QUIET, OPT_REGION,
    OPT_OS_AUTH, OPT_UPLOADS
};

static const struct option local_opts[] = {
    {"output", required_argument, 0, 'o'},
    {"sink", required_argument, 0, 's'},
    {"no-raw", no_argument, 0, OPT_NO_RAW},
    {"format", required_argument, 0, OPT_BULK},
    {"max-record", required_argument, 0, OPT_MAX_RECORD},
    {"batch-bytes", required_argument, 0, OPT_BATCH_BYTES},
    {"dead-letter", required_argument, 0, OPT_DEAD},
    {"no-progress", no_argument, 0, OPT_NO_PROGRESS},
    {"quiet", no_argument, 0, OPT_QUIET},
    {"region", required_argument, 0, OPT_REGION},
    {"os-auth", required_argument, 0, OPT_OS_AUTH},
    {"uploads", required_argument, 0, OPT_UPLOADS},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

static const char *common_help =
    "  --format sdf|bulk     document format: CloudSearch SDF batches (default) or OpenSearch _bulk NDJSON\n"
    "  --no-raw              do not index the whole record in the 'raw' field\n"
    "  --max-record BYTES    largest record accepted (default 2097152); larger ones are skipped and reported\n"
    "  --batch-bytes BYTES   batch size limit (default and CloudSearch maximum 5000000)\n"
    "  --dead-letter FILE    unusable records and documents the sink refused, as JSON lines (default\n"
    "                        OUT/dead-letter.jsonl; ctindex-dead-letter.jsonl for network sinks)\n"
    "  --no-progress         no progress display on stderr\n"
    "  --quiet               only warnings and errors on stderr\n"
    "  --region R            AWS region for signing (default: AWS_REGION, AWS_DEFAULT_REGION, profile)\n"
    "  --os-auth MODE        opensearch sink: none, basic (OPENSEARCH_USERNAME/PASSWORD) or sigv4\n"
    "  --uploads N           uploads in flight for network sinks (default 2)\n";

static int parse_size(const char *s, size_t lo, size_t hi, size_t *out) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = (size_t)v;
    return 0;
}

/* Returns -1 to continue, or an exit code. */
static int parse_local(local_cli *c, int argc, char **argv, const char *usage_line, const char *what) {
    memset(c, 0, sizeof *c);
    indexer_options_default(&c->ix);
    c->progress = 1;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:s:h", local_opts, NULL)) != -1) {
        switch (ch) {
        case 'o': c->out_dir = optarg; break;
        case 's': c->sink_spec = optarg; break;
        case OPT_NO_RAW: c->ix.include_raw = 0; break;
        case OPT_BULK:
            if (strcmp(optarg, "bulk") == 0) c->bulk = 1;
            else if (strcmp(optarg, "sdf") == 0) c->bulk = 0;
            else {
                fprintf(stderr, "ctindex: --format must be sdf or bulk\n");
                return 2;
            }
            break;
        case OPT_MAX_RECORD:
            if (parse_size(optarg, 1024, (size_t)1 << 30, &c->ix.max_record) != 0) {
                fprintf(stderr, "ctindex: --max-record must be a number of bytes between 1024 and 1073741824\n");
                return 2;
            }
            break;
        case OPT_BATCH_BYTES:
            if (parse_size(optarg, 2u << 20, 5000000, &c->ix.batch_bytes) != 0) {
                fprintf(stderr, "ctindex: --batch-bytes must be between 2097152 and 5000000\n");
                return 2;
            }
            break;
        case OPT_DEAD: c->dead_letter = optarg; break;
        case OPT_NO_PROGRESS: c->progress = 0; break;
        case OPT_QUIET: log_set_level(LOG_WARN); c->progress = 0; break;
        case OPT_REGION: c->region = optarg; break;
        case OPT_OS_AUTH: c->os_auth = optarg; break;
        case OPT_UPLOADS: {
            size_t u;
            if (parse_size(optarg, 1, 16, &u) != 0) {
                fprintf(stderr, "ctindex: --uploads must be from 1 to 16\n");
                return 2;
            }
            c->uploads = (int)u;
            break;
        }
        case 'h': printf("%s\n\n%s\n\noptions:\n%s", usage_line, what, common_help); return 0;
        default: return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "%s\n", usage_line);
        return 2;
    }
    return -1;
}

int cmd_convert(int argc, char **argv) {
    local_cli c;
    int rc = parse_local(&c, argc, argv, "usage: ctindex convert FILE... -o DIR [options]",
                         "Converts CloudTrail log files (.json.gz or .json) into CloudSearch document batch files\n"
                         "DIR/batch-NNNNNN.json (at most 5 MB each), ready for 'aws cloudsearchdomain\n"
                         "upload-documents'; with --format bulk, OpenSearch _bulk bodies DIR/batch-NNNNNN.ndjson,\n"
                         "each ready for POST /_bulk. Folders given are walked; digest files are skipped and counted.");
    if (rc >= 0) return rc;
    if (!c.out_dir) {
        fprintf(stderr, "ctindex convert: -o DIR is required\n");
        return 2;
    }
    return run_local(&c, argv + optind, argc - optind);
}

int cmd_replay(int argc, char **argv) {
    local_cli c;
    int rc = parse_local(&c, argc, argv, "usage: ctindex replay DIR... --sink dir:OUT [options]",
                         "Indexes every CloudTrail log file under the given folders (recursively, in name order),\n"
                         "skipping CloudTrail-Digest files, and shows progress. Sinks:\n"
                         "  dir:OUT                    write batch files OUT/batch-NNNNNN.json (.ndjson with --format bulk)\n"
                         "  cloudsearch:URL|DOMAIN     upload to a CloudSearch document endpoint, or a domain looked up\n"
                         "                             with DescribeDomains ([,inflight=N][,region=R][,attempts=N])\n"
                         "  opensearch:https://HOST[/INDEX-PATTERN]   OpenSearch/Elasticsearch _bulk, id = eventID\n"
                         "                             (pattern default cloudtrail-%Y.%m.%d from eventTime, zeros when a\n"
                         "                             record has none: cloudtrail-0000.00.00; [,auth=none|basic|sigv4]\n"
                         "                             [,service=es|aoss][,region=R][,inflight=N][,attempts=N]\n"
                         "                             [,max-request=BYTES]); see 'ctindex run --help'");
    if (rc >= 0) return rc;
    if (!c.sink_spec && !c.out_dir) {
        fprintf(stderr, "ctindex replay: --sink is required (e.g. --sink dir:out)\n");
        return 2;
    }
    return run_local(&c, argv + optind, argc - optind);
}
