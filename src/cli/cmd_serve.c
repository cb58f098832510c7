/* ctindex serve: the embedded index behind CloudSearch's search and document APIs and a search
 * page, until SIGINT/SIGTERM. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/log.h"
#include "cli/commands.h"
#include "cli/index_cli.h"
#include "serve/serve.h"

enum { OPT_INDEX = 256, OPT_LISTEN, OPT_MAX_CONN, OPT_TIMEOUT, OPT_SEARCHERS, OPT_QUIET };

static const struct option serve_opts[] = {
    {"index", required_argument, 0, OPT_INDEX},
    {"listen", required_argument, 0, OPT_LISTEN},
    {"max-connections", required_argument, 0, OPT_MAX_CONN},
    {"search-timeout", required_argument, 0, OPT_TIMEOUT},
    {"searchers", required_argument, 0, OPT_SEARCHERS},
    {"quiet", no_argument, 0, OPT_QUIET},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

static void serve_usage(FILE *f) {
    fprintf(f,
            "usage: ctindex serve [--index FILE] [--listen ADDR:PORT] [options]\n"
            "\n"
            "Serves the embedded index (created when missing) over HTTP with Amazon CloudSearch's 2013-01-01\n"
            "APIs, so CloudSearch clients work against it unchanged, and a search page:\n"
            "  http://ADDR:PORT/                             the search page (query box, sample queries, facets)\n"
            "  GET|POST /2013-01-01/search                   search: q, q.parser, fq, size, start, sort, return,\n"
            "                                                facet.FIELD, format (the AWS CLI's form posts too)\n"
            "  POST /2013-01-01/documents/batch              JSON document batches, all or nothing, at most 5 MB:\n"
            "                                                `ctindex replay ... --sink cloudsearch:http://ADDR:PORT`\n"
            "e.g. aws cloudsearchdomain search --endpoint-url http://127.0.0.1:8080 --search-query matchall \\\n"
            "       --query-parser structured --facet '{\"event_name\":{}}'\n"
            "(the AWS CLI signs its requests; serve does not check signatures: keep it on a trusted address)\n"
            "\n"
            "options:\n"
            "  --index FILE              the index (default " CTINDEX_DEFAULT_INDEX ")\n"
            "  --listen ADDR:PORT        where to listen (default 127.0.0.1:8080; PORT 0 picks a free one)\n"
            "  --max-connections N       open connections at most (default 64)\n"
            "  --search-timeout MS       a search running longer is answered 504 (default 10000)\n"
            "  --searchers N             searches run at once, each on its own reader (default 2)\n"
            "  --quiet                   only warnings and errors\n"
            "Prints \"listening on http://ADDR:PORT/\" once ready. SIGINT/SIGTERM: stop, exit 0.\n");
}

static uv_signal_t sig_int, sig_term;
static serve *running;

static void on_signal(uv_signal_t *h, int signum) {
    (void)signum;
    log_info("serve: stopping");
    serve_stop(running);
    running = NULL;
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
    (void)h;
}

int cmd_serve(int argc, char **argv) {
    serve_options o;
    serve_options_default(&o);
    o.index_path = CTINDEX_DEFAULT_INDEX;
    static char addr[256];
    snprintf(addr, sizeof addr, "127.0.0.1");
    int ch;
    long v;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", serve_opts, NULL)) != -1) {
        switch (ch) {
        case OPT_INDEX: o.index_path = optarg; break;
        case OPT_LISTEN: {
            const char *colon = strrchr(optarg, ':');
            if (!colon || colon == optarg || (size_t)(colon - optarg) >= sizeof addr ||
                index_cli_number("--listen port", colon + 1, 0, 65535, &v) != 0) {
                fprintf(stderr, "ctindex serve: --listen takes ADDR:PORT, e.g. 127.0.0.1:8080\n");
                return 2;
            }
            snprintf(addr, sizeof addr, "%.*s", (int)(colon - optarg), optarg);
            if (addr[0] == '[' && addr[strlen(addr) - 1] == ']') { /* [::1]:8080 */
                memmove(addr, addr + 1, strlen(addr));
                addr[strlen(addr) - 1] = '\0';
            }
            o.port = (int)v;
            break;
        }
        case OPT_MAX_CONN:
            if (index_cli_number("--max-connections", optarg, 1, 10000, &v) != 0) return 2;
            o.max_connections = (int)v;
            break;
        case OPT_TIMEOUT:
            if (index_cli_number("--search-timeout", optarg, 10, 3600000, &v) != 0) return 2;
            o.search_timeout_ms = (unsigned)v;
            break;
        case OPT_SEARCHERS:
            if (index_cli_number("--searchers", optarg, 1, 8, &v) != 0) return 2;
            o.searchers = (int)v;
            break;
        case OPT_QUIET: log_set_level(LOG_WARN); break;
        case 'h': serve_usage(stdout); return 0;
        default: return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ctindex serve: unexpected argument '%s' (try --help)\n", argv[optind]);
        return 2;
    }
    o.addr = addr;
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    running = serve_start(&loop, &o);
    if (!running) {
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return 2;
    }
    const char *host = strchr(addr, ':') ? "[" : "";
    printf("listening on http://%s%s%s:%d/ (index %s)\n", host, addr, host[0] ? "]" : "", serve_port(running),
           o.index_path);
    fflush(stdout);
    uv_signal_init(&loop, &sig_int);
    uv_signal_init(&loop, &sig_term);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
