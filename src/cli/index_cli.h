/* What the commands that index (convert, replay of folders, replay of S3, run) share: the
 * options for documents, sink, dead letters and progress, and the setup they all need (loop,
 * HTTP client, AWS context, dead-letter file, sink, indexer), opened and closed together. */
#ifndef CTINDEX_INDEX_CLI_H
#define CTINDEX_INDEX_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <uv.h>

#include "aws/aws.h"
#include "net/http.h"
#include "pipeline/deadletter.h"
#include "pipeline/indexer.h"

typedef struct index_cli {
    const char *out_dir;      /* -o DIR (convert) */
    const char *sink_spec;    /* --sink */
    const char *domain;       /* run: CloudSearch domain, its endpoint looked up (when no --sink) */
    const char *doc_endpoint; /* run: CloudSearch document endpoint (when no --sink) */
    const char *dead_letter;  /* NULL: OUT/dead-letter.jsonl beside batch files, else ctindex-dead-letter.jsonl */
    const char *region;       /* signing region; NULL: the environment's */
    const char *os_auth;
    int uploads;
    uint64_t max_upload_rate; /* --max-upload-rate, bytes per second (0: no cap) */
    int hold_refused;         /* run: a refused batch waits while the sink is probed */
    uint64_t probe_cap_ms;    /* run: --sink-probe-max */
    int bulk;
    int progress;
    int durable; /* dir and index sinks, dead-letter file: synced before acknowledged (a queue or checkpoint relies on
                    it) */
    indexer_options ix;
} index_cli;

/* getopt_long ids of the shared options; a command's own ids start at INDEX_CLI_NEXT. */
enum {
    INDEX_CLI_NO_RAW = 256,
    INDEX_CLI_FORMAT,
    INDEX_CLI_MAX_RECORD,
    INDEX_CLI_BATCH_BYTES,
    INDEX_CLI_DEAD,
    INDEX_CLI_NO_PROGRESS,
    INDEX_CLI_QUIET,
    INDEX_CLI_VERBOSE,
    INDEX_CLI_OS_AUTH,
    INDEX_CLI_UPLOADS,
    INDEX_CLI_FIELDS,
    INDEX_CLI_MAX_UPLOAD_RATE,
    INDEX_CLI_NEXT
};

/* Entries of a struct option table. Every indexing command: -s/--sink, documents, dead letters,
 * uploads, logging. */
#define INDEX_CLI_SINK_OPTIONS                                                                                \
    {"sink", required_argument, 0, 's'}, {"no-raw", no_argument, 0, INDEX_CLI_NO_RAW},                        \
        {"fields", required_argument, 0, INDEX_CLI_FIELDS},                                                   \
        {"max-record", required_argument, 0, INDEX_CLI_MAX_RECORD},                                           \
        {"batch-bytes", required_argument, 0, INDEX_CLI_BATCH_BYTES},                                         \
        {"dead-letter", required_argument, 0, INDEX_CLI_DEAD}, {"quiet", no_argument, 0, INDEX_CLI_QUIET},    \
        {"verbose", no_argument, 0, INDEX_CLI_VERBOSE}, {"os-auth", required_argument, 0, INDEX_CLI_OS_AUTH}, \
        {"uploads", required_argument, 0, INDEX_CLI_UPLOADS}, {                                               \
        "max-upload-rate", required_argument, 0, INDEX_CLI_MAX_UPLOAD_RATE                                    \
    }
/* The commands that index files: also -o/--output, --format and --no-progress. */
#define INDEX_CLI_OPTIONS                                                                                              \
    INDEX_CLI_SINK_OPTIONS, {"output", required_argument, 0, 'o'}, {"format", required_argument, 0, INDEX_CLI_FORMAT}, \
    {                                                                                                                  \
        "no-progress", no_argument, 0, INDEX_CLI_NO_PROGRESS                                                           \
    }
/* The end of every table: --help and the terminator. */
#define INDEX_CLI_END \
    {"help", no_argument, 0, 'h'}, { 0, 0, 0, 0 }

extern const char index_cli_help[];  /* the shared options, for --help */
extern const char index_cli_sinks[]; /* the sink forms, for --help */

void index_cli_init(index_cli *c);
/* One getopt_long answer: 1 handled, 0 not a shared option, -1 bad value (message printed). */
int index_cli_option(index_cli *c, int ch, const char *arg);
/* The sink spec the options name ("dir:OUT", "dir-bulk:OUT", "cloudsearch:...", ...). */
void index_cli_sink_spec(const index_cli *c, char *out, size_t cap);
/* Parse a bounded number option; prints "ctindex: NAME must be ..." and returns -1 when bad. */
int index_cli_number(const char *name, const char *arg, long lo, long hi, long *out);
/* A byte rate "BYTES" or "BYTES/SECONDS" ("5000000/10": 5 MB per 10 s) in bytes per second
 * (rounded down, at least 1). 0, or -1 when it is not one (nothing printed). */
int index_cli_rate(const char *arg, uint64_t *bytes_per_s);

typedef struct index_setup {
    uv_loop_t loop;
    http_client *http;
    aws_ctx *aws;
    deadletter *dead;
    indexer *ix;
    char spec[4200];
    char dead_path[4300];
    int loop_ready;
} index_setup;

/* Everything up to the indexer; with_sink 0 stops after the AWS context (a replay that only
 * enqueues: no sink, no dead-letter file). ho may be NULL. 0, or -1 (logged): call
 * index_setup_close anyway. */
int index_setup_open(index_setup *s, index_cli *c, const http_client_options *ho, int with_sink);
/* The same in two steps, for a caller with work in between (run starts its health endpoint
 * before a domain lookup that may take a while): the loop, HTTP client and AWS context; then
 * the dead-letter file, the sink and the indexer. */
int index_setup_base(index_setup *s, index_cli *c, const http_client_options *ho);
int index_setup_sink(index_setup *s, index_cli *c);
/* Closes the indexer (and its sink), the AWS context and the client, and runs the loop dry. */
void index_setup_close(index_setup *s);

/* Wall clock (monotonic) and CPU seconds, peak RSS in KiB: what the summaries report. */
double index_now_s(void);
double index_cpu_s(long *maxrss_kb);
/* The "records / batches / time" lines of a summary on stdout. */
void index_print_totals(const indexer *ix, uint64_t records, uint64_t records_failed, uint64_t bytes_in,
                        uint64_t bytes_json, double wall, double cpu, long rss_kb);

#endif
