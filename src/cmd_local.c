/* convert and replay of local files: the CPU path on its own, into batch files (or any sink). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "commands.h"
#include "deadletter.h"
#include "indexer.h"
#include "local_source.h"
#include "log.h"

typedef struct local_cli {
    const char *out_dir;
    const char *sink_spec;
    const char *dead_letter;
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

static void print_summary(const local_stats *st, const indexer_stats *is, double wall, double cpu, long rss_kb) {
    printf("files:   %llu indexed, %llu failed, %llu without records, %llu digests skipped, %llu other files skipped\n",
           (unsigned long long)(st->files_done - st->files_failed), (unsigned long long)st->files_failed,
           (unsigned long long)st->files_empty, (unsigned long long)st->digests, (unsigned long long)st->others);
    printf("records: %llu read, %llu documents, %llu trimmed to fit, %llu dead-lettered, %llu not stored, "
           "%llu invalid characters removed\n",
           (unsigned long long)st->records, (unsigned long long)is->docs, (unsigned long long)is->trimmed,
           (unsigned long long)is->bad_records, (unsigned long long)st->records_failed,
           (unsigned long long)is->chars_dropped);
    printf("batches: %llu (%llu failed); %.1f MB read, %.1f MB JSON, %.1f MB of documents\n",
           (unsigned long long)is->batches, (unsigned long long)is->batches_failed, (double)st->bytes_in / 1e6,
           (double)st->bytes_json / 1e6, (double)is->doc_bytes / 1e6);
    printf("time:    %.2f s wall, %.2f s CPU, %.0f records/s, %.0f records per CPU-second, peak RSS %.1f MB\n", wall,
           cpu, wall > 0 ? (double)st->records / wall : 0, cpu > 0 ? (double)st->records / cpu : 0,
           (double)rss_kb / 1024.0);
}

static sink *make_sink(local_cli *c) {
    if (c->out_dir) return sink_dir_new(c->out_dir, c->bulk);
    if (!c->sink_spec) {
        fprintf(stderr, "ctindex: no sink given (use --sink dir:OUT)\n");
        return NULL;
    }
    if (strncmp(c->sink_spec, "dir:", 4) == 0 && c->sink_spec[4]) {
        c->out_dir = c->sink_spec + 4;
        return sink_dir_new(c->out_dir, c->bulk);
    }
    fprintf(stderr, "ctindex: unknown sink '%s' (expected dir:PATH)\n", c->sink_spec);
    return NULL;
}

static int run_local(local_cli *c, char **paths, int npaths) {
    sink *s = make_sink(c);
    if (!s) return 2;
    char dead_default[4200];
    if (!c->dead_letter && c->out_dir) {
        snprintf(dead_default, sizeof dead_default, "%s/dead-letter.jsonl", c->out_dir);
        c->dead_letter = dead_default;
    }
    deadletter *dead = deadletter_open(c->dead_letter);
    if (!dead) {
        sink_close(s);
        return 2;
    }
    c->ix.bulk = c->bulk;
    c->ix.dead = dead;
    c->ix.batches = s->max_in_flight + 1;
    indexer *ix = indexer_new(&c->ix, s);
    if (!ix) {
        sink_close(s);
        deadletter_close(dead);
        return 2;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    local_options lo = {.max_record = c->ix.max_record, .progress = c->progress};
    local_stats st;
    double t0 = now_s(), c0 = cpu_s(NULL);
    int rc = local_source_run(&loop, ix, paths, npaths, &lo, &st);
    long rss = 0;
    double wall = now_s() - t0, cpu = cpu_s(&rss) - c0;
    if (rc >= 0) print_summary(&st, indexer_get_stats(ix), wall, cpu, rss);
    indexer_free(ix);
    deadletter_close(dead);
    uv_loop_close(&loop);
    if (rc < 0) return 2;
    return rc;
}

enum { OPT_NO_RAW = 256, OPT_BULK, OPT_MAX_RECORD, OPT_BATCH_BYTES, OPT_DEAD, OPT_NO_PROGRESS, OPT_QUIET };

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
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

static const char *common_help =
    "  --format sdf|bulk     document format: CloudSearch SDF batches (default) or OpenSearch _bulk NDJSON\n"
    "  --no-raw              do not index the whole record in the 'raw' field\n"
    "  --max-record BYTES    largest record accepted (default 2097152); larger ones are skipped and reported\n"
    "  --batch-bytes BYTES   batch size limit (default and CloudSearch maximum 5000000)\n"
    "  --dead-letter FILE    where unusable records go as JSON lines (default OUT/dead-letter.jsonl)\n"
    "  --no-progress         no progress display on stderr\n"
    "  --quiet               only warnings and errors on stderr\n";

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
                         "upload-documents'. Folders given are walked; digest files are skipped and counted.");
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
                         "  dir:OUT   write batch files OUT/batch-NNNNNN.json");
    if (rc >= 0) return rc;
    if (!c.sink_spec && !c.out_dir) {
        fprintf(stderr, "ctindex replay: --sink is required (e.g. --sink dir:out)\n");
        return 2;
    }
    return run_local(&c, argv + optind, argc - optind);
}
