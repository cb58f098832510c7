/* convert and replay of local files: the CPU path on its own, into batch files (or any sink). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/index_cli.h"
#include "sources/local_source.h"

static void print_summary(const local_stats *st, const indexer *ix, double wall, double cpu, long rss_kb) {
    printf("files:   %llu indexed, %llu failed, %llu refused (not CloudTrail records), %llu without records, %llu "
           "digests skipped, %llu other files skipped",
           (unsigned long long)st->files_indexed, (unsigned long long)st->files_failed,
           (unsigned long long)st->files_refused, (unsigned long long)st->files_empty, (unsigned long long)st->digests,
           (unsigned long long)st->others);
    if (st->control_messages)
        printf("; %llu CloudWatch Logs control messages (no records)", (unsigned long long)st->control_messages);
    printf("\n");
    index_print_totals(ix, st->records, st->records_failed, st->bytes_in, st->bytes_json, wall, cpu, rss_kb);
}

static int run_local(index_cli *c, char **paths, int npaths) {
    index_setup s;
    int rc = 2;
    if (index_setup_open(&s, c, NULL, 1) == 0) {
        local_options lo = {.max_record = c->ix.max_record, .progress = c->progress};
        local_stats st;
        double t0 = index_now_s(), c0 = index_cpu_s(NULL);
        int lrc = local_source_run(&s.loop, s.ix, paths, npaths, &lo, &st);
        long rss = 0;
        double wall = index_now_s() - t0, cpu = index_cpu_s(&rss) - c0;
        if (lrc >= 0) print_summary(&st, s.ix, wall, cpu, rss);
        rc = lrc < 0 ? 2 : lrc;
    }
    index_setup_close(&s);
    return rc;
}

enum { OPT_REGION = INDEX_CLI_NEXT };

static const struct option local_opts[] = {
    INDEX_CLI_OPTIONS,
    {"region", required_argument, 0, OPT_REGION},
    INDEX_CLI_END,
};

static const char region_help[] =
    "  --region R            AWS region for signing (default: AWS_REGION, AWS_DEFAULT_REGION, profile)\n";

/* Returns -1 to continue, or an exit code. */
static int parse_local(index_cli *c, int argc, char **argv, const char *usage_line, const char *what) {
    index_cli_init(c);
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:s:h", local_opts, NULL)) != -1) {
        int r = index_cli_option(c, ch, optarg);
        if (r < 0) return 2;
        if (r > 0) continue;
        switch (ch) {
        case OPT_REGION: c->region = optarg; break;
        case 'h': printf("%s\n\n%s\n\noptions:\n%s%s", usage_line, what, index_cli_help, region_help); return 0;
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
    index_cli c;
    int rc = parse_local(&c, argc, argv, "usage: ctindex convert FILE... -o DIR [options]",
                         "Converts files of CloudTrail records into CloudSearch document batch files\n"
                         "DIR/batch-NNNNNN.json (at most 5 MB each), ready for 'aws cloudsearchdomain\n"
                         "upload-documents'; with --format bulk, OpenSearch _bulk bodies DIR/batch-NNNNNN.ndjson,\n"
                         "each ready for POST /_bulk. Each file is judged by its content, whatever its name:\n"
                         "CloudTrail's {\"Records\":[...]} files, JSON arrays, JSON lines or back-to-back JSON of\n"
                         "records, EventBridge events or CloudWatch Logs subscription payloads, and lookup-events\n"
                         "output, plain or gzipped (multi-member too). Folders given are walked: names ending in\n"
                         ".json, .json.gz, .gz, .jsonl, .ndjson or .log, or without an extension, are read (--verbose\n"
                         "names the others); digest files are skipped and counted. A file that holds none of the\n"
                         "shapes is named with the reason and recorded in the dead-letter file; exit 1 when a file\n"
                         "was not indexed (refused, damaged, or skipped by its name).");
    if (rc >= 0) return rc;
    if (!c.out_dir) {
        fprintf(stderr, "ctindex convert: -o DIR is required\n");
        return 2;
    }
    return run_local(&c, argv + optind, argc - optind);
}

/* The S3 form takes over when a source is s3://...; --help shows both forms. */
int cmd_replay(int argc, char **argv) {
    int help = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "s3://", 5) == 0) return cmd_replay_s3(argc, argv);
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) help = 1;
    }
    char what[2048];
    snprintf(what, sizeof what,
             "Indexes every file of CloudTrail records under the given folders (recursively, in the order of\n"
             "the time in CloudTrail's file names, then of the names; files given by name in their order),\n"
             "skipping CloudTrail-Digest files, and shows progress. A walk reads names ending in .json,\n"
             ".json.gz, .gz, .jsonl, .ndjson or .log, or without an extension (--verbose names the others),\n"
             "and judges each file by content: CloudTrail's {\"Records\":[...]} files, JSON arrays, JSON lines\n"
             "or back-to-back JSON of records, EventBridge events or CloudWatch Logs subscription payloads,\n"
             "and lookup-events output, plain or gzipped. A broken line is dead-lettered on its own; a file\n"
             "of none of these shapes is named and dead-lettered, and makes the exit status 1. Without --sink\n"
             "the records go into the embedded index index:" CTINDEX_DEFAULT_INDEX " in the current folder. Sinks:\n%s",
             index_cli_sinks);
    what[strlen(what) - 1] = '\0'; /* parse_local adds the line break */
    index_cli c;
    int rc = parse_local(&c, argc, argv, "usage: ctindex replay DIR... [--sink SINK] [options]", what);
    if (help) {
        replay_s3_help(stdout);
        return 0;
    }
    if (rc >= 0) return rc;
    if (!c.sink_spec && !c.out_dir) c.sink_spec = "index:" CTINDEX_DEFAULT_INDEX;
    return run_local(&c, argv + optind, argc - optind);
}
