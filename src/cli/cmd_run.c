/* ctindex run: the options, and the setup every indexing command shares (index_cli: loop, HTTP
 * client, AWS credentials, dead-letter file, sink, indexer) around the SQS service. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "base/log.h"
#include "cli/commands.h"
#include "cli/index_cli.h"
#include "net/health.h"
#include "sources/sqs_service.h"

enum {
    OPT_QUEUE = INDEX_CLI_NEXT,
    OPT_REGION,
    OPT_DOMAIN,
    OPT_DOC_ENDPOINT,
    OPT_RECEIVERS,
    OPT_DOWNLOADS,
    OPT_VISIBILITY,
    OPT_LINGER,
    OPT_STATS,
    OPT_EXIT_IDLE,
    OPT_DRAIN,
    OPT_MAX_MESSAGES,
    OPT_WAIT,
    OPT_HEALTH_PORT,
    OPT_HEALTH_ADDR,
    OPT_RETRY_VISIBILITY,
    OPT_SINK_PROBE_MAX
};

static const struct option run_opts[] = {
    INDEX_CLI_SINK_OPTIONS,
    {"queue", required_argument, 0, OPT_QUEUE},
    {"region", required_argument, 0, OPT_REGION},
    {"domain", required_argument, 0, OPT_DOMAIN},
    {"doc-endpoint", required_argument, 0, OPT_DOC_ENDPOINT},
    {"receivers", required_argument, 0, OPT_RECEIVERS},
    {"downloads", required_argument, 0, OPT_DOWNLOADS},
    {"max-messages", required_argument, 0, OPT_MAX_MESSAGES},
    {"visibility", required_argument, 0, OPT_VISIBILITY},
    {"retry-visibility", required_argument, 0, OPT_RETRY_VISIBILITY},
    {"wait", required_argument, 0, OPT_WAIT},
    {"linger-ms", required_argument, 0, OPT_LINGER},
    {"stats-interval", required_argument, 0, OPT_STATS},
    {"exit-when-idle", required_argument, 0, OPT_EXIT_IDLE},
    {"drain-timeout", required_argument, 0, OPT_DRAIN},
    {"health-port", required_argument, 0, OPT_HEALTH_PORT},
    {"health-addr", required_argument, 0, OPT_HEALTH_ADDR},
    {"sink-probe-max", required_argument, 0, OPT_SINK_PROBE_MAX},
    INDEX_CLI_END,
};

static void run_usage(FILE *f) {
    fprintf(
        f,
        "usage: ctindex run --queue URL (--domain NAME [--region R] | --doc-endpoint URL | --sink SINK) [options]\n"
        "\n"
        "Consumes CloudTrail notifications from an SQS queue forever: downloads every log file a message\n"
        "names, indexes its records and deletes the message only after the sink accepted every record.\n"
        "Understands CloudTrail SNS notifications (with or without raw delivery), S3 event notifications\n"
        "and EventBridge Object Created events. SIGTERM/SIGINT: stop receiving, finish in-flight work (what\n"
        "is left after --drain-timeout goes back to the queue), exit 0. A file that fails (missing, corrupt,\n"
        "in a batch the sink would not store, or with a record the dead-letter file could not take) makes\n"
        "its message come back for a retry, until the queue's redrive policy moves it; a single document\n"
        "the sink rejects goes to the dead-letter file (synced to disk before the message is deleted).\n"
        "\n"
        "When the sink cannot take documents - it refuses whole requests (401/403, a missing domain or index,\n"
        "the same refusal for every batch) or is unreachable (requests fail in a row) - the queue is held, not\n"
        "drained: no more messages are received, the messages held keep their visibility extended (so their\n"
        "receive count does not grow), the sink is probed with one request at a time after a growing wait (up\n"
        "to --sink-probe-max), and everything resumes on its own once it accepts again. A batch refused again\n"
        "while the sink accepts others is at fault itself: it fails and its messages come back as above.\n"
        "Poison messages (a corrupt or missing file, a body that is no notification) still reach the queue's\n"
        "dead-letter queue by its redrive policy; the log says which cause held or returned a message.\n"
        "Every object a message names is read whatever its name (digests, by their folder, are skipped) and\n"
        "judged by content: CloudTrail files, JSON arrays, JSON lines or back-to-back JSON of records,\n"
        "EventBridge events or CloudWatch Logs subscription payloads, lookup-events output. One that holds\n"
        "none of these (a 0-byte object too) is named, recorded in the dead-letter file and counted\n"
        "(objects_refused), and its message is deleted.\n"
        "Logs a stats line (name=value) every --stats-interval seconds and at exit.\n"
        "\n"
        "where to index (one of):\n"
        "  --domain NAME            CloudSearch domain; its document endpoint is looked up (DescribeDomains)\n"
        "  --doc-endpoint URL       CloudSearch document endpoint (doc-NAME-ID.REGION.cloudsearch.amazonaws.com)\n"
        "  --sink SINK              cloudsearch:URL | opensearch:https://HOST[/INDEX-PATTERN] | dir:PATH |\n"
        "                           index:FILE (the embedded index; search it with 'ctindex search' or 'serve')\n"
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
        "  --uploads N              concurrent uploads to the sink, at most (default 2; ,inflight=N in a --sink\n"
        "                           spec wins); how many go at once adapts below it: it starts at 1, grows by one\n"
        "                           while answers come back accepted and no slower than their recent average, and\n"
        "                           is cut on throttling (429/503/507/509) or on latency well above that average;\n"
        "                           Retry-After is honoured; throttled at one request, requests are paced at\n"
        "                           the byte rate the sink accepted lately (,adaptive=0 in the spec: always N)\n"
        "  --max-upload-rate BYTES[/SECONDS]  request bytes per second to the sink, at most: a CloudSearch domain\n"
        "                           of the default size takes about one 5 MB batch per 10 s: 5000000/10\n"
        "                           (default: no cap)\n"
        "  --sink-probe-max SECONDS longest wait between probes of a refusing or unreachable sink (default 60;\n"
        "                           the first comes after about 1 s, each next one after about twice as long)\n"
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
        "  --dead-letter FILE       unusable records (also those over --max-record) and documents the sink\n"
        "                           refused (default ctindex-dead-letter.jsonl; PATH/dead-letter.jsonl for dir:PATH)\n"
        "  --max-record BYTES       largest record indexed (default 2097152); larger ones go to the dead-letter file\n"
        "  --batch-bytes BYTES      batch size limit (default and CloudSearch maximum 5000000)\n"
        "  --fields PROFILE         which fields documents carry: original (the original cloudtrail-1\n"
        "                           domain's 15), standard (default) or full ('ctindex schema --help')\n"
        "  --no-raw                 do not index the whole record as 'raw'\n"
        "  --health-port PORT       health endpoint (see below; at most 32 connections, idle ones and\n"
        "                           unfinished requests closed after 5 s); 0 picks a free port (logged)\n"
        "  --health-addr ADDR       address for the health endpoint (default 127.0.0.1)\n"
        "  --verbose / --quiet      more / less logging\n"
        "\n"
        "Health endpoint (--health-port): GET / answers a JSON object with \"status\", \"reason\" and counters:\n"
        "  200 ok        messages are received and the sink takes documents\n"
        "  503 starting  the sink is being set up, or no ReceiveMessage has succeeded yet\n"
        "  503 degraded  the sink refuses requests or cannot be reached (receiving paused), or ReceiveMessage\n"
        "                keeps failing (3 in a row, or every one so far: wrong credentials, a missing queue)\n"
        "  503 stopping  after SIGTERM/SIGINT or --exit-when-idle, while in-flight work finishes\n"
        "GET /metrics answers Prometheus text format 0.0.4: ctindex_* counters of messages, objects, bytes,\n"
        "records and upload requests (by sink and outcome), gauges of the work in flight, the upload\n"
        "concurrency limit, the sink's condition and the age of the oldest message held, and histograms of\n"
        "upload latency and record delay (eventTime to acknowledgement).\n"
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

static int64_t wall_clock_s(void) { return (int64_t)time(NULL); }

/* CPU per record is the figure that matters on a burstable instance: report it at exit. */
static void report_usage(const service_stats *st) {
    long rss_kb = 0;
    double cpu = index_cpu_s(&rss_kb);
    log_info("usage: %.2f s CPU, %.0f records per CPU-second, peak RSS %.1f MB", cpu,
             cpu > 0 ? (double)st->records / cpu : 0, (double)rss_kb / 1024.0);
}

int cmd_run(int argc, char **argv) {
    service_options so;
    service_options_default(&so);
    index_cli c;
    index_cli_init(&c);
    c.progress = 0;
    int health_port_opt = -1;
    int probe_max_s = 60;
    const char *health_addr = "127.0.0.1";
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "s:h", run_opts, NULL)) != -1) {
        int r = index_cli_option(&c, ch, optarg);
        if (r < 0) return 2;
        if (r > 0) continue;
        int bad = 0;
        switch (ch) {
        case OPT_QUEUE: so.queue_url = optarg; break;
        case OPT_REGION: c.region = optarg; break;
        case OPT_DOMAIN: c.domain = optarg; break;
        case OPT_DOC_ENDPOINT: c.doc_endpoint = optarg; break;
        case OPT_RECEIVERS: bad = parse_int("--receivers", optarg, 1, 16, &so.receivers); break;
        case OPT_DOWNLOADS: bad = parse_int("--downloads", optarg, 1, 256, &so.max_objects); break;
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
        case OPT_HEALTH_PORT: bad = parse_int("--health-port", optarg, 0, 65535, &health_port_opt); break;
        case OPT_HEALTH_ADDR: health_addr = optarg; break;
        case OPT_SINK_PROBE_MAX: bad = parse_int("--sink-probe-max", optarg, 1, 3600, &probe_max_s); break;
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
    const char *param1 = getenv("PARAM1"), *param2 = getenv("PARAM2");
    if (!c.domain && !c.doc_endpoint && !c.sink_spec && param1 && *param1) c.domain = param1;
    if (!c.region && param2 && *param2) c.region = param2;
    if (!so.queue_url) {
        fprintf(stderr, "ctindex run: --queue URL is required (try 'ctindex run --help')\n");
        return 2;
    }
    if (!c.domain && !c.doc_endpoint && !c.sink_spec) {
        fprintf(stderr, "ctindex run: say where to index: --domain NAME, --doc-endpoint URL or --sink SINK\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    http_client_options ho = {0};
    ho.max_host_connections = so.max_objects + 4;
    ho.max_total_connections = so.max_objects + so.receivers + 8;
    c.durable = 1; /* a dir batch or a dead letter is acknowledged to SQS (deleted there): it must survive a crash */
    c.hold_refused = 1; /* a refusing sink holds the queue instead of draining it into the DLQ */
    c.probe_cap_ms = (uint64_t)probe_max_s * 1000;
    c.ix.clock_s = wall_clock_s; /* record delay, for /metrics */
    index_setup s;
    int rc = 2;
    health *hl = NULL;
    service_stats st;
    memset(&st, 0, sizeof st);
    if (index_setup_base(&s, &c, &ho) != 0) goto out;
    if (health_port_opt >= 0) { /* 503 while the sink is set up (a domain lookup may take a while) */
        hl = health_start(&s.loop, health_addr, health_port_opt);
        if (!hl) goto out;
        health_set_starting(hl, "setting up the sink");
    }
    if (index_setup_sink(&s, &c) != 0) goto out;
    so.max_record = c.ix.max_record;
    so.health = hl;
    int src = service_run(&s.loop, s.aws, s.ix, &so, &st);
    report_usage(&st);
    if (st.forced) {
        fflush(NULL);
        _exit(0);
    }
    rc = src == 0 ? 0 : 1;
out:
    health_stop(hl);
    index_setup_close(&s);
    return rc;
}
