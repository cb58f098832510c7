/* ctindex run: wires the loop, the HTTP client, AWS credentials, the sink and the indexer
 * around the SQS service. */
#include <getopt.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "aws.h"
#include "commands.h"
#include "deadletter.h"
#include "health.h"
#include "http.h"
#include "indexer.h"
#include "log.h"
#include "service.h"
#include "sink_opensearch.h"
#include "sinks.h"

enum {
    OPT_QUEUE = 256, OPT_REGION, OPT_DOMAIN, OPT_DOC_ENDPOINT, OPT_SINK, OPT_RECEIVERS, OPT_DOWNLOADS,
    OPT_VISIBILITY, OPT_LINGER, OPT_STATS, OPT_EXIT_IDLE, OPT_DEAD, OPT_NO_RAW, OPT_DRAIN, OPT_UPLOADS,
    OPT_VERBOSE, OPT_QUIET, OPT_MAX_MESSAGES, OPT_WAIT, OPT_HEALTH_PORT, OPT_HEALTH_ADDR, OPT_OS_AUTH,
    OPT_RETRY_VISIBILITY
};

static const struct option run_opts[] = {
    {"queue", required_argument, 0, OPT_QUEUE},
    {"region", required_argument, 0, OPT_REGION},
    {"domain", required_argument, 0, OPT_DOMAIN},
    {"doc-endpoint", required_argument, 0, OPT_DOC_ENDPOINT},
    {"sink", required_argument, 0, OPT_SINK},
    {"os-auth", required_argument, 0, OPT_OS_AUTH},
    {"receivers", required_argument, 0, OPT_RECEIVERS},
    {"downloads", required_argument, 0, OPT_DOWNLOADS},
    {"uploads", required_argument, 0, OPT_UPLOADS},
    {"max-messages", required_argument, 0, OPT_MAX_MESSAGES},
    {"visibility", required_argument, 0, OPT_VISIBILITY},
    {"retry-visibility", required_argument, 0, OPT_RETRY_VISIBILITY},
    {"wait", required_argument, 0, OPT_WAIT},
    {"linger-ms", required_argument, 0, OPT_LINGER},
    {"stats-interval", required_argument, 0, OPT_STATS},
    {"exit-when-idle", required_argument, 0, OPT_EXIT_IDLE},
    {"drain-timeout", required_argument, 0, OPT_DRAIN},
    {"dead-letter", required_argument, 0, OPT_DEAD},
    {"no-raw", no_argument, 0, OPT_NO_RAW},
    {"health-port", required_argument, 0, OPT_HEALTH_PORT},
    {"health-addr", required_argument, 0, OPT_HEALTH_ADDR},
    {"verbose", no_argument, 0, OPT_VERBOSE},
    {"quiet", no_argument, 0, OPT_QUIET},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

static void run_usage(FILE *f) {
    fprintf(f,
            "usage: ctindex run --queue URL (--domain NAME [--region R] | --doc-endpoint URL | --sink SINK) [options]\n"
            "\n"
            "Consumes CloudTrail notifications from an SQS queue forever: downloads every log file a message\n"
            "names, indexes its records and deletes the message only after the sink accepted every record.\n"
            "Understands CloudTrail SNS notifications (with or without raw delivery), S3 event notifications\n"
            "and EventBridge Object Created events. SIGTERM/SIGINT: stop receiving, finish in-flight work (what\n"
            "is left after --drain-timeout goes back to the queue), exit 0. A file that fails (missing, corrupt,\n"
            "or in a batch the sink would not store) makes its message come back for a retry, until the queue's\n"
            "redrive policy moves it; a single document the sink rejects goes to the dead-letter file.\n"
            "Logs a stats line (name=value) every --stats-interval seconds and at exit.\n"
            "\n"
            "where to index (one of):\n"
            "  --domain NAME            CloudSearch domain; its document endpoint is looked up (DescribeDomains)\n"
            "  --doc-endpoint URL       CloudSearch document endpoint (doc-NAME-ID.REGION.cloudsearch.amazonaws.com)\n"
            "  --sink SINK              cloudsearch:URL | opensearch:https://HOST[/INDEX-PATTERN] | dir:PATH\n"
            "  (PARAM1 and PARAM2 in the environment are read as domain name and region, as the original app did)\n"
            "\n"
            "opensearch:https://HOST[/INDEX-PATTERN][,OPTIONS] sends _bulk requests (id = eventID, so a redelivery\n"
            "overwrites). INDEX-PATTERN defaults to cloudtrail-%%Y.%%m.%%d (%%Y %%m %%d %%H from eventTime; a record\n"
            "without a valid eventTime gets zeros: cloudtrail-0000.00.00). Items refused with 429/5xx are sent\n"
            "again, other refusals go to the dead-letter file with the reason. OPTIONS: auth=none|basic|sigv4,\n"
            "service=es|aoss, region=R, inflight=N, attempts=N, max-request=BYTES. Auth by default: Basic with\n"
            "user:pass@ in the URL, else SigV4 for *.es.amazonaws.com (es) and *.aoss.amazonaws.com (aoss), else\n"
            "Basic with OPENSEARCH_USERNAME/OPENSEARCH_PASSWORD, else none.\n"
            "\n"
            "options:\n"
            "  --region R               AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, profile, us-east-1)\n"
            "  --receivers N            long polls in flight (default 2)\n"
            "  --downloads N            concurrent S3 downloads (default 8)\n"
            "  --uploads N              concurrent uploads to the sink (default 2; ,inflight=N in a --sink spec wins)\n"
            "  --os-auth MODE           opensearch sink: none, basic or sigv4 (default: from the URL, see above)\n"
            "  --max-messages N         messages in flight at most (default 64)\n"
            "  --visibility SECONDS     visibility timeout held while working, extended at half of it (default 300)\n"
            "  --retry-visibility SECONDS  a message whose file failed (or that is not understood) comes back\n"
            "                           after this long, until the queue's redrive policy moves it (default 30)\n"
            "  --wait SECONDS           long-poll wait, 0..20 (default 20)\n"
            "  --linger-ms MS           send a partial batch after this long (default 3000)\n"
            "  --stats-interval SECONDS stats line period (default 60; 0: only at exit)\n"
            "  --exit-when-idle N       exit after N empty receives with nothing in flight (default: never)\n"
            "  --drain-timeout SECONDS  time to finish in-flight work after SIGTERM; then what is left is made\n"
            "                           visible again for another consumer (default 60)\n"
            "  --dead-letter FILE       unusable records and rejected documents (default ctindex-dead-letter.jsonl)\n"
            "  --no-raw                 do not index the whole record as 'raw'\n"
            "  --health-port PORT       answer GET / with 200 and a JSON status once running, 503 before\n"
            "  --health-addr ADDR       address for the health endpoint (default 127.0.0.1)\n"
            "  --verbose / --quiet      more / less logging\n"
            "\n"
            "Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws profiles (AWS_PROFILE), the ECS container\n"
            "endpoint or EC2 instance metadata. Endpoints: AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SQS, _S3, _CLOUDSEARCH.\n");
}

static int parse_int(const char *name, const char *v, int lo, int hi, int *out) {
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "ctindex run: %s must be a number from %d to %d\n", name, lo, hi);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static void health_status(void *ud, char *out, size_t cap) {
    const service_stats *st = ud;
    snprintf(out, cap,
             "{\"messages\":%llu,\"messages_deleted\":%llu,\"objects_done\":%llu,\"objects_failed\":%llu,"
             "\"records\":%llu,\"receive_errors\":%llu}",
             (unsigned long long)st->messages, (unsigned long long)st->messages_deleted,
             (unsigned long long)st->objects_done, (unsigned long long)st->objects_failed,
             (unsigned long long)st->records, (unsigned long long)st->receive_errors);
}

/* CPU per record is the figure that matters on a burstable instance: report it at exit. */
static void report_usage(const service_stats *st) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec / 1e6;
    log_info("usage: %.2f s CPU, %.0f records per CPU-second, peak RSS %.1f MB", cpu,
             cpu > 0 ? (double)st->records / cpu : 0, (double)ru.ru_maxrss / 1024.0);
}

int cmd_run(int argc, char **argv) {
    service_options so;
    service_options_default(&so);
    sinks_options sk;
    sinks_options_default(&sk);
    const char *region = NULL, *dead_path = "ctindex-dead-letter.jsonl";
    int include_raw = 1;
    int health_port_opt = -1;
    const char *health_addr = "127.0.0.1";
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", run_opts, NULL)) != -1) {
        int bad = 0;
        switch (ch) {
        case OPT_QUEUE: so.queue_url = optarg; break;
        case OPT_REGION: region = optarg; break;
        case OPT_DOMAIN: sk.domain = optarg; break;
        case OPT_DOC_ENDPOINT: sk.doc_endpoint = optarg; break;
        case OPT_SINK: sk.spec = optarg; break;
        case OPT_OS_AUTH:
            if (sink_opensearch_parse_auth(optarg) < 0) {
                fprintf(stderr, "ctindex run: --os-auth must be none, basic, sigv4 or auto\n");
                return 2;
            }
            sk.os_auth = optarg;
            break;
        case OPT_RECEIVERS: bad = parse_int("--receivers", optarg, 1, 16, &so.receivers); break;
        case OPT_DOWNLOADS: bad = parse_int("--downloads", optarg, 1, 256, &so.max_objects); break;
        case OPT_UPLOADS: bad = parse_int("--uploads", optarg, 1, 16, &sk.uploads); break;
        case OPT_MAX_MESSAGES: bad = parse_int("--max-messages", optarg, 10, 100000, &so.max_messages); break;
        case OPT_VISIBILITY: bad = parse_int("--visibility", optarg, 10, 43200, &so.visibility_s); break;
        case OPT_RETRY_VISIBILITY:
            bad = parse_int("--retry-visibility", optarg, 0, 43200, &so.retry_visibility_s);
            break;
        case OPT_WAIT: bad = parse_int("--wait", optarg, 0, 20, &so.wait_s); break;
        case OPT_LINGER: bad = parse_int("--linger-ms", optarg, 10, 600000, &so.linger_ms); break;
        case OPT_STATS: bad = parse_int("--stats-interval", optarg, 0, 86400, &so.stats_interval_s); break;
        case OPT_EXIT_IDLE: bad = parse_int("--exit-when-idle", optarg, 1, 1000000, &so.exit_when_idle); break;
        case OPT_DRAIN: bad = parse_int("--drain-timeout", optarg, 1, 86400, &so.drain_timeout_s); break;
        case OPT_DEAD: dead_path = optarg; break;
        case OPT_NO_RAW: include_raw = 0; break;
        case OPT_HEALTH_PORT: bad = parse_int("--health-port", optarg, 0, 65535, &health_port_opt); break;
        case OPT_HEALTH_ADDR: health_addr = optarg; break;
        case OPT_VERBOSE: log_set_level(LOG_DEBUG); break;
        case OPT_QUIET: log_set_level(LOG_WARN); break;
        case 'h': run_usage(stdout); return 0;
        default: return 2;
        }
        if (bad) return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "ctindex run: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    /* The original worker took the domain and region from PARAM1 / PARAM2. */
    if (!sk.domain && !sk.doc_endpoint && !sk.spec && getenv("PARAM1") && *getenv("PARAM1")) sk.domain = getenv("PARAM1");
    if (!region && getenv("PARAM2") && *getenv("PARAM2")) region = getenv("PARAM2");
    if (!so.queue_url) {
        fprintf(stderr, "ctindex run: --queue URL is required (try 'ctindex run --help')\n");
        return 2;
    }
    if (!sk.domain && !sk.doc_endpoint && !sk.spec) {
        fprintf(stderr, "ctindex run: say where to index: --domain NAME, --doc-endpoint URL or --sink SINK\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    http_client_options ho = {0};
    ho.max_host_connections = so.max_objects + 4;
    ho.max_total_connections = so.max_objects + so.receivers + 8;
    http_client *http = http_client_new(&loop, &ho);
    aws_ctx_options ao = {.region = region};
    aws_ctx *aws = http ? aws_ctx_new(&loop, http, &ao) : NULL;
    deadletter *dead = deadletter_open(dead_path);
    int rc = 2;
    health *hl = NULL;
    service_stats st;
    memset(&st, 0, sizeof st);
    if (!aws || !dead) goto out;
    if (health_port_opt >= 0) {
        hl = health_start(&loop, health_addr, health_port_opt, health_status, &st);
        if (!hl) goto out;
    }
    sinks_result sr;
    sk.dead = dead;
    sk.durable = 1; /* a dir sink's batch is acknowledged to SQS (deleted there): it must survive a crash */
    if (sinks_create(&loop, aws, &sk, &sr) != 0) goto out;
    indexer_options io;
    indexer_options_default(&io);
    io.bulk = sr.bulk;
    io.include_raw = include_raw;
    io.dead = dead;
    io.batches = sr.sink->max_in_flight + 1;
    if (sr.index_pattern[0]) io.index_pattern = sr.index_pattern;
    so.max_record = io.max_record;
    indexer *ix = indexer_new(&io, sr.sink);
    if (!ix) goto out;
    health_set_ready(hl, 1);
    int src = service_run(&loop, aws, ix, &so, &st);
    report_usage(&st);
    if (st.forced) {
        fflush(NULL);
        _exit(0);
    }
    rc = src == 0 ? 0 : 1;
    indexer_free(ix);
out:
    health_stop(hl);
    if (aws) aws_ctx_free(aws);
    if (http) http_client_close(http);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    deadletter_close(dead);
    return rc;
}
