/* ctindex replay s3://BUCKET[/PREFIX]: backfill a date range of a CloudTrail bucket into a sink,
 * or into an SQS queue for a fleet of `ctindex run` services, resumable with a checkpoint. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "cli/commands.h"
#include "cli/index_cli.h"
#include "sources/checkpoint.h"
#include "sources/s3_replay.h"
#include "sources/trail_layout.h"

#define MAX_FILTERS 256
#define MAX_SPAN_DAYS 7305 /* 20 years: CloudTrail began in 2013 */

enum {
    OPT_SINCE = INDEX_CLI_NEXT,
    OPT_UNTIL,
    OPT_ACCOUNT,
    OPT_REGION,
    OPT_CHECKPOINT,
    OPT_ENQUEUE,
    OPT_LISTINGS,
    OPT_DOWNLOADS,
    OPT_AWS_REGION,
    OPT_NO_INSIGHTS,
    OPT_PREFIX
};

static const struct option s3_opts[] = {
    INDEX_CLI_OPTIONS,
    {"since", required_argument, 0, OPT_SINCE},
    {"until", required_argument, 0, OPT_UNTIL},
    {"account", required_argument, 0, OPT_ACCOUNT},
    {"region", required_argument, 0, OPT_REGION},
    {"checkpoint", required_argument, 0, OPT_CHECKPOINT},
    {"enqueue", required_argument, 0, OPT_ENQUEUE},
    {"listings", required_argument, 0, OPT_LISTINGS},
    {"downloads", required_argument, 0, OPT_DOWNLOADS},
    {"no-insights", no_argument, 0, OPT_NO_INSIGHTS},
    {"aws-region", required_argument, 0, OPT_AWS_REGION},
    {"prefix", required_argument, 0, OPT_PREFIX},
    INDEX_CLI_END,
};

void replay_s3_help(FILE *f) {
    fprintf(
        f,
        "\n"
        "usage: ctindex replay s3://BUCKET[/PREFIX] --since DATE [--until DATE] [--account ID...] [--region R...]\n"
        "                      (--sink SINK | --enqueue QUEUE_URL) [--checkpoint FILE] [options]\n"
        "       ctindex replay s3://BUCKET --prefix PREFIX --since DATE [--until DATE] (--sink SINK | --enqueue URL)\n"
        "                      [--checkpoint FILE] [options]\n"
        "\n"
        "Replays the CloudTrail logs of a bucket for a range of days (UTC, inclusive). Finds the accounts\n"
        "and regions under PREFIX/AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/ (log files) and\n"
        ".../CloudTrail-Insight/REGION/ (Insights events) with delimiter listings, then lists only the day\n"
        "folders YYYY/MM/DD/ in range, several at once, and indexes every log file (GetObject streamed\n"
        "into the same pipeline as 'ctindex run'). Digest folders are not read. A progress bar with ETA is\n"
        "shown on a terminal (a plain line every 10 s otherwise).\n"
        "\n"
        "With --prefix, the bucket is not laid out like CloudTrail's: the day folders PREFIX/YYYY/MM/DD/ (UTC)\n"
        "of the range are listed with everything below them, as Kinesis Data Firehose writes (YYYY/MM/DD/HH/);\n"
        "--prefix / is the bucket's root. The same date range, checkpoints and --enqueue apply.\n"
        "\n"
        "A listed key is read when its name ends in .json, .json.gz, .gz, .jsonl, .ndjson or .log or has no\n"
        "extension (others are counted; --verbose names them), and each file is judged by its content: S3\n"
        "delivery files, JSON arrays, JSON lines or back-to-back JSON of CloudTrail records, EventBridge events\n"
        "or CloudWatch Logs subscription payloads (multi-member gzip too), and lookup-events output.\n"
        "\n"
        "With --enqueue, no file is downloaded: one message per file, {\"s3Bucket\":..,\"s3ObjectKey\":[..]},\n"
        "goes into the SQS queue (SendMessageBatch, 10 a call), for 'ctindex run' services to share.\n"
        "\n"
        "With --checkpoint FILE the replay is resumable: a day is recorded there once every record of it\n"
        "was acknowledged by the sink (or every message sent), and a rerun with the same FILE neither lists\n"
        "nor indexes recorded days again. A day with a failed file, or less than an hour past its end, is\n"
        "not recorded. The file names its bucket and sink, and is refused for another replay.\n"
        "SIGTERM/SIGINT: stop, store what was read, save the checkpoint, exit 1; a second signal exits at once.\n"
        "\n"
        "s3 options:\n"
        "  --since DATE          first day, YYYY-MM-DD (required)\n"
        "  --until DATE          last day (default: today, UTC)\n"
        "  --account ID[,ID]     only these 12-digit accounts (repeatable; default: every account)\n"
        "  --region R[,R]        only these trail regions (repeatable; default: every region)\n"
        "  --checkpoint FILE     record finished days in FILE and skip those already there\n"
        "  --enqueue QUEUE_URL   send one SQS message per log file instead of indexing\n"
        "  --no-insights         skip the CloudTrail-Insight folders (Insights events)\n"
        "  --prefix PREFIX       list PREFIX/YYYY/MM/DD/ instead of the CloudTrail layout (s3://BUCKET only)\n"
        "  --listings N          ListObjectsV2 calls in flight, 1..64 (default 8)\n"
        "  --downloads N         concurrent S3 downloads, 1..64 (default 8)\n"
        "  --aws-region R        AWS region for signing (default: AWS_REGION, AWS_DEFAULT_REGION, profile)\n"
        "\n"
        "Exit codes: 0 every day in range finished, 1 some days not finished (named on stderr; rerun with the\n"
        "checkpoint) or some listed files not indexed (refused as none of the shapes, which the dead-letter\n"
        "file records, or not read by their name), 2 usage error or the bucket could not be listed.\n");
}

static void usage_full(FILE *f) {
    replay_s3_help(f);
    fprintf(f, "\nsinks (--sink):\n%s\nindexing options:\n%s", index_cli_sinks, index_cli_help);
}

typedef struct s3_cli {
    index_cli ix;
    const char *url, *since, *until, *checkpoint, *enqueue, *dated_prefix;
    char accounts[MAX_FILTERS][TRAIL_ACCOUNT_LEN + 1];
    char regions[MAX_FILTERS][TRAIL_MAX_REGION];
    int naccounts, nregions;
    long listings, downloads;
    int no_insights;
} s3_cli;

static int parse(s3_cli *c, int argc, char **argv) {
    memset(c, 0, sizeof *c);
    index_cli_init(&c->ix);
    int ch;
    char why[256];
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:s:h", s3_opts, NULL)) != -1) {
        int r = index_cli_option(&c->ix, ch, optarg);
        if (r < 0) return 2;
        if (r > 0) continue;
        switch (ch) {
        case OPT_SINCE: c->since = optarg; break;
        case OPT_UNTIL: c->until = optarg; break;
        case OPT_ACCOUNT:
            if (trail_add_accounts(optarg, c->accounts, MAX_FILTERS, &c->naccounts, why, sizeof why) != 0) {
                fprintf(stderr, "ctindex replay: --account: %s\n", why);
                return 2;
            }
            break;
        case OPT_REGION:
            if (trail_add_regions(optarg, c->regions, MAX_FILTERS, &c->nregions, why, sizeof why) != 0) {
                fprintf(stderr, "ctindex replay: --region: %s\n", why);
                return 2;
            }
            break;
        case OPT_CHECKPOINT: c->checkpoint = optarg; break;
        case OPT_ENQUEUE: c->enqueue = optarg; break;
        case OPT_LISTINGS:
            if (index_cli_number("--listings", optarg, 1, 64, &c->listings) != 0) return 2;
            break;
        case OPT_DOWNLOADS:
            if (index_cli_number("--downloads", optarg, 1, 64, &c->downloads) != 0) return 2;
            break;
        case OPT_AWS_REGION: c->ix.region = optarg; break;
        case OPT_NO_INSIGHTS: c->no_insights = 1; break;
        case OPT_PREFIX: c->dated_prefix = optarg; break;
        case 'h': usage_full(stdout); return 0;
        default: return 2;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (c->url || strncmp(argv[i], "s3://", 5) != 0) {
            fprintf(stderr, "ctindex replay: give one s3://BUCKET[/PREFIX] (unexpected '%s')\n", argv[i]);
            return 2;
        }
        c->url = argv[i];
    }
    if (!c->since) {
        fprintf(stderr, "ctindex replay: --since DATE is required for an s3:// replay (try 'ctindex replay --help')\n");
        return 2;
    }
    if (c->dated_prefix && (c->naccounts || c->nregions || c->no_insights)) {
        fprintf(stderr, "ctindex replay: --prefix reads a bucket without CloudTrail's layout: --account, --region and "
                        "--no-insights do not apply\n");
        return 2;
    }
    if (!c->enqueue == !(c->ix.sink_spec || c->ix.out_dir)) {
        fprintf(stderr, "ctindex replay: say where the files go: --sink SINK or --enqueue QUEUE_URL (one of them)\n");
        return 2;
    }
    return -1;
}

static void print_summary(const s3_cli *c, const s3_source_stats *st, const indexer *ix, double wall, double cpu,
                          long rss) {
    uint64_t left = st->days_total - st->days_skipped - st->days_done - st->days_failed - st->days_open;
    if (st->days_total < st->days_skipped + st->days_done + st->days_failed + st->days_open) left = 0;
    printf("days:    %llu in range over %llu series (%llu of Insights events): %llu finished, %llu finished before "
           "(checkpoint), %llu failed, "
           "%llu indexed but too recent to record, %llu not done\n",
           (unsigned long long)st->days_total, (unsigned long long)st->series, (unsigned long long)st->series_insight,
           (unsigned long long)st->days_done, (unsigned long long)st->days_skipped, (unsigned long long)st->days_failed,
           (unsigned long long)st->days_open, (unsigned long long)left);
    printf("files:   %llu %s, %llu failed, %llu refused (not CloudTrail records), %llu without records, %llu other "
           "objects skipped; %llu listings\n",
           (unsigned long long)(st->files_done - st->files_refused), c->enqueue ? "enqueued" : "indexed",
           (unsigned long long)st->files_failed, (unsigned long long)st->files_refused,
           (unsigned long long)st->files_empty, (unsigned long long)st->others, (unsigned long long)st->list_calls);
    if (st->control_messages)
        printf("         %llu CloudWatch Logs control messages (no records)\n",
               (unsigned long long)st->control_messages);
    if (ix) index_print_totals(ix, st->records, st->records_failed, st->bytes_in, st->bytes_json, wall, cpu, rss);
    else printf("time:    %.2f s wall, %.2f s CPU, peak RSS %.1f MB\n", wall, cpu, (double)rss / 1024.0);
}

/* What a checkpoint names as its sink: where the documents end up, without the tuning options
 * (",inflight=4" may change between runs), and a folder by its absolute path (a rerun from
 * another directory must not take "dir:out" for the same place). */
static void checkpoint_target(const char *spec, char *out, size_t cap) {
    const char *colon = strchr(spec, ':');
    size_t kind = colon ? (size_t)(colon - spec) + 1 : 0;
    char real[PATH_MAX];
    if (kind && strncmp(spec, "dir", 3) == 0 && realpath(spec + kind, real))
        snprintf(out, cap, "%.*s%s", (int)kind, spec, real);
    else if (kind && strncmp(spec, "dir", 3) != 0) snprintf(out, cap, "%.*s", (int)strcspn(spec, ","), spec);
    else snprintf(out, cap, "%s", spec);
}

/* The bucket and the prefix to read: from the URL, or from --prefix (dated mode). 0, or -1 with why. */
static int resolve_location(const s3_cli *c, char *bucket, size_t bcap, char *prefix, size_t pcap, char *why,
                            size_t wcap) {
    if (trail_parse_s3_url(c->url, bucket, bcap, prefix, pcap, why, wcap) != 0) return -1;
    if (!c->dated_prefix) return 0;
    if (*prefix) {
        snprintf(why, wcap, "give the prefix either in the URL or with --prefix, not both");
        return -1;
    }
    const char *p = c->dated_prefix;
    while (*p == '/') p++; /* "/" is the root */
    char url[TRAIL_MAX_PREFIX + 80];
    snprintf(url, sizeof url, "s3://%s/%s", bucket, p);
    return trail_parse_s3_url(url, bucket, bcap, prefix, pcap, why, wcap);
}

static int32_t today_utc(void) { return trail_day_of_time((int64_t)time(NULL)); }

static int32_t parse_day_opt(const char *name, const char *v) {
    int32_t d = trail_parse_day(v);
    if (d < 0) fprintf(stderr, "ctindex replay: %s needs a date YYYY-MM-DD (a real one), not '%s'\n", name, v);
    return d;
}

/* The days to replay, from --since and --until (default and cap: today, UTC); 2 on a usage error. */
static int day_range(const s3_cli *c, int32_t *since, int32_t *until) {
    int32_t today = today_utc();
    *since = parse_day_opt("--since", c->since);
    *until = c->until ? parse_day_opt("--until", c->until) : today;
    if (*since < 0 || *until < 0) return 2;
    if (*until > today) {
        log_info("--until is after today: stopping at today");
        *until = today;
    }
    if (*since > *until) {
        fprintf(stderr, "ctindex replay: --since is after --until (or after today)\n");
        return 2;
    }
    if (*until - *since + 1 > MAX_SPAN_DAYS) {
        fprintf(stderr, "ctindex replay: at most %d days (20 years) in one replay\n", MAX_SPAN_DAYS);
        return 2;
    }
    return 0;
}

/* --checkpoint FILE: lock it (one replay per file at a time) and load the days it records for
 * this source and target. -1 (logged) when it cannot be used; *cp and *lock_fd are set as far
 * as they got, for the caller to release. */
static int open_checkpoint(const char *path, const char *source, const char *target, checkpoint **cp, int *lock_fd) {
    char why[512];
    if ((*lock_fd = checkpoint_lock(path, why, sizeof why)) < 0) {
        log_error("--checkpoint: %s", why);
        return -1;
    }
    *cp = checkpoint_new(source, target);
    if (!*cp) {
        log_error("--checkpoint: the sink or queue name holds characters a checkpoint cannot record");
        return -1;
    }
    int lr = checkpoint_load(*cp, path, why, sizeof why);
    if (lr < 0) {
        log_error("checkpoint %s: %s (use another --checkpoint file for another replay)", path, why);
        return -1;
    }
    if (lr == 0)
        log_info("checkpoint %s: resuming (%zu series with finished days)", path, checkpoint_series_count(*cp));
    return 0;
}

/* Runs the replay and prints its summary; returns the exit code (a second signal exits here). */
static int run_replay(index_setup *s, const s3_cli *c, const s3_source_options *so) {
    s3_source_stats st;
    double t0 = index_now_s(), c0 = index_cpu_s(NULL);
    int rc = s3_source_run(&s->loop, s->aws, so, &st);
    long rss = 0;
    double wall = index_now_s() - t0, cpu = index_cpu_s(&rss) - c0;
    if (rc != 2) print_summary(c, &st, s->ix, wall, cpu, rss);
    if (st.interrupted)
        log_warn("interrupted: %s", c->checkpoint ? "rerun the same command to continue from the checkpoint"
                                                  : "without --checkpoint a rerun starts over");
    if (st.forced) {
        fflush(NULL);
        _exit(1);
    }
    return rc;
}

int cmd_replay_s3(int argc, char **argv) {
    s3_cli c;
    int rc = parse(&c, argc, argv);
    if (rc >= 0) return rc;
    char bucket[64], prefix[TRAIL_MAX_PREFIX + 2], why[512];
    if (resolve_location(&c, bucket, sizeof bucket, prefix, sizeof prefix, why, sizeof why) != 0) {
        fprintf(stderr, "ctindex replay: %s: %s\n", c.url, why);
        return 2;
    }
    int32_t since, until;
    if (day_range(&c, &since, &until) != 0) return 2;
    signal(SIGPIPE, SIG_IGN);
    http_client_options ho = {0};
    long listings = c.listings ? c.listings : 8, downloads = c.downloads ? c.downloads : 8;
    ho.max_host_connections = (int)(listings + downloads + 4);
    ho.max_total_connections = ho.max_host_connections + 24;
    index_setup s;
    rc = 2;
    checkpoint *cp = NULL;
    int lock_fd = -1;
    c.ix.durable = c.checkpoint != NULL; /* a day is recorded only once its batches would survive a crash */
    if (index_setup_open(&s, &c.ix, &ho, !c.enqueue) != 0) goto out;
    char source[TRAIL_MAX_PREFIX + 100], target[4300];
    snprintf(source, sizeof source, "s3://%s/%s%s", bucket, prefix, c.dated_prefix ? "YYYY/MM/DD/" : "");
    if (c.enqueue) snprintf(target, sizeof target, "sqs:%s", c.enqueue);
    else checkpoint_target(s.spec, target, sizeof target);
    if (c.checkpoint && open_checkpoint(c.checkpoint, source, target, &cp, &lock_fd) != 0) goto out;
    s3_source_options so = {
        .bucket = bucket,
        .prefix = prefix,
        .since = since,
        .until = until,
        .accounts = (const char(*)[TRAIL_ACCOUNT_LEN + 1]) c.accounts,
        .naccounts = c.naccounts,
        .regions = (const char(*)[TRAIL_MAX_REGION])c.regions,
        .nregions = c.nregions,
        .listings = (int)listings,
        .downloads = (int)downloads,
        .insights = !c.no_insights,
        .dated = c.dated_prefix != NULL,
        .max_record = c.ix.ix.max_record,
        .ix = s.ix,
        .enqueue_url = c.enqueue,
        .cp = cp,
        .checkpoint_path = c.checkpoint,
        .progress = c.ix.progress,
    };
    rc = run_replay(&s, &c, &so);
out:
    index_setup_close(&s);
    checkpoint_free(cp);
    if (lock_fd >= 0) close(lock_fd);
    return rc;
}
