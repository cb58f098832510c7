/* ctindex search: one query against the embedded index, for a person (hit lines and facets) or,
 * with --json, exactly the JSON CloudSearch's search API answers. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "cli/commands.h"
#include "index/ix_search.h"
#include "index/ix_store.h"
#include "index/search_json.h"
#include "index/search_params.h"

enum { OPT_INDEX = 256, OPT_PARSER, OPT_FACET, OPT_SIZE, OPT_START, OPT_SORT, OPT_RETURN, OPT_FQ, OPT_JSON };

static const struct option search_opts[] = {
    {"index", required_argument, 0, OPT_INDEX},
    {"parser", required_argument, 0, OPT_PARSER},
    {"facet", required_argument, 0, OPT_FACET},
    {"size", required_argument, 0, OPT_SIZE},
    {"start", required_argument, 0, OPT_START},
    {"sort", required_argument, 0, OPT_SORT},
    {"return", required_argument, 0, OPT_RETURN},
    {"fq", required_argument, 0, OPT_FQ},
    {"json", no_argument, 0, OPT_JSON},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

static void search_usage(FILE *f) {
    fprintf(f,
            "usage: ctindex search QUERY [--index FILE] [options]\n"
            "\n"
            "Searches the embedded index (what 'ctindex replay DIR' writes, by default " CTINDEX_DEFAULT_INDEX
            " in the\n"
            "current folder) with CloudSearch's query languages and prints the hits, newest first, and facets.\n"
            "\n"
            "structured queries (the default):\n"
            "  matchall                                   every document\n"
            "  event_source:'sqs.amazonaws.com'           a literal field: exact, case-sensitive\n"
            "  event_time:['2024-05-01T00:00:00Z','2024-05-02T00:00:00Z'}   a date range ([ ] include, { } exclude)\n"
            "  user_agent:'terraform'                     a text field: its words, any case\n"
            "  (and event_name:'ConsoleLogin' (not error_code:'AccessDenied'))\n"
            "  (or (prefix field=event_name 'Delete') (phrase field=raw 'mfa used no'))\n"
            "  (term field=aws_region 'us-east-1'), (range field=event_time [...]), (near field=F distance=N '...')\n"
            "simple queries (--parser simple): words and \"phrases\" over the text fields, +required -excluded\n"
            "  |optional, prefix*\n"
            "\n"
            "options:\n"
            "  --index FILE          the index (default " CTINDEX_DEFAULT_INDEX ")\n"
            "  --parser P            structured (default) or simple\n"
            "  --fq QUERY            a structured filter, ANDed with the query\n"
            "  --facet FIELD[:N]     count the top N (default 10) values of a literal field; repeatable\n"
            "  --size N              hits to show (default 10)\n"
            "  --start N             skip the first N hits\n"
            "  --sort 'FIELD DIR'    order: event_time desc (the default), or another sortable field, asc|desc\n"
            "  --return FIELDS       fields of each hit, comma-separated (_all_fields, _no_fields, _score)\n"
            "  --json                print CloudSearch's search response JSON instead\n"
            "\n"
            "Exit status: 0 (also for no hits), 1 the index could not be read, 2 a bad query or option.\n");
}

static void print_hits(const ix_result *res, double secs) {
    printf("%lld hit%s (%.3f s)", (long long)res->found, res->found == 1 ? "" : "s", secs);
    if (res->nhits) printf(", showing %lld-%lld", (long long)res->start + 1, (long long)res->start + res->nhits);
    printf("\n");
    for (int i = 0; i < res->nhits; i++) {
        const ix_hit *h = &res->hits[i];
        char t[64], name[128], src[128], who[512], ip[128], code[128], msg[256];
        ix_hit_field(res, h, "event_time", t, sizeof t);
        ix_hit_field(res, h, "event_name", name, sizeof name);
        ix_hit_field(res, h, "event_source", src, sizeof src);
        ix_hit_field(res, h, "user_identity_arn", who, sizeof who);
        if (!who[0]) ix_hit_field(res, h, "user_identity_user_name", who, sizeof who);
        if (!who[0]) ix_hit_field(res, h, "user_identity_type", who, sizeof who);
        ix_hit_field(res, h, "source_ip_address", ip, sizeof ip);
        ix_hit_field(res, h, "error_code", code, sizeof code);
        ix_hit_field(res, h, "error_message", msg, sizeof msg);
        printf("%-20s  %-28s %-26s %-s  %s", t[0] ? t : "-", name[0] ? name : "-", src[0] ? src : "-",
               who[0] ? who : "-", ip[0] ? ip : "-");
        if (code[0]) printf("  %s%s%.120s", code, msg[0] ? ": " : "", msg);
        printf("  [%s]\n", h->id);
    }
    for (int f = 0; f < res->nfacets; f++) {
        const ix_facet_result *fr = &res->facets[f];
        printf("%s%s:", f == 0 ? "facets:\n  " : "  ", fr->f->sf->name);
        if (!fr->nbuckets) printf(" (none)");
        for (int b = 0; b < fr->nbuckets; b++)
            printf("%s %.*s (%lld)", b ? "," : "", (int)fr->buckets[b].value_len,
                   res->text.data + fr->buckets[b].value_off, (long long)fr->buckets[b].count);
        printf("\n");
    }
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_search(int argc, char **argv) {
    static ix_request r; /* large: not on the stack */
    ixr_init(&r);
    r.parser = IXQ_STRUCTURED;
    const char *path = CTINDEX_DEFAULT_INDEX;
    int json = 0, custom_return = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", search_opts, NULL)) != -1) {
        int rc = 0;
        const char *v = optarg;
        switch (ch) {
        case OPT_INDEX: path = v; break;
        case OPT_PARSER: rc = ixr_param(&r, "q.parser", 8, v, strlen(v)); break;
        case OPT_FQ: rc = ixr_param(&r, "fq", 2, v, strlen(v)); break;
        case OPT_SIZE: rc = ixr_param(&r, "size", 4, v, strlen(v)); break;
        case OPT_START: rc = ixr_param(&r, "start", 5, v, strlen(v)); break;
        case OPT_SORT: rc = ixr_param(&r, "sort", 4, v, strlen(v)); break;
        case OPT_RETURN:
            custom_return = 1;
            rc = ixr_param(&r, "return", 6, v, strlen(v));
            break;
        case OPT_FACET: {
            const char *colon = strchr(v, ':');
            char key[96], opts[48] = "";
            snprintf(key, sizeof key, "facet.%.*s", (int)(colon ? (size_t)(colon - v) : strlen(v)), v);
            if (colon) snprintf(opts, sizeof opts, "{size:%s}", colon + 1);
            rc = ixr_param(&r, key, strlen(key), opts, strlen(opts));
            break;
        }
        case OPT_JSON: json = 1; break;
        case 'h': search_usage(stdout); return 0;
        default: return 2;
        }
        if (rc != 0) {
            fprintf(stderr, "ctindex search: %s\n", r.error);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: ctindex search QUERY [--index FILE] [options] (try --help)\n");
        return 2;
    }
    if (ixr_param(&r, "q", 1, argv[optind], strlen(argv[optind])) != 0 || ixr_finish(&r) != 0) {
        fprintf(stderr, "ctindex search: %s\n", r.error);
        return 2;
    }
    if (!json && !custom_return)
        ixr_param(&r, "return", 6,
                  "event_time,event_name,event_source,user_identity_arn,user_identity_user_name,user_identity_type,"
                  "source_ip_address,error_code,error_message",
                  strlen("event_time,event_name,event_source,user_identity_arn,user_identity_user_name,"
                         "user_identity_type,source_ip_address,error_code,error_message"));
    char err[512];
    ix_store *s = ix_open(path, IX_READ, err, sizeof err);
    if (!s) {
        fprintf(stderr, "ctindex search: %s\n", err);
        return 1;
    }
    ix_result res;
    ix_result_init(&res);
    double t0 = mono_s();
    int rc = ix_search(s, &r, &res, 0, err, sizeof err);
    double secs = mono_s() - t0;
    int exit_code = 0;
    if (rc == IX_SEARCH_BAD) {
        fprintf(stderr, "ctindex search: %s\n", err);
        exit_code = 2;
    } else if (rc != IX_SEARCH_OK) {
        fprintf(stderr, "ctindex search: %s\n", err);
        exit_code = 1;
    } else if (json) {
        buf out;
        buf_init(&out, 512u << 20);
        if (search_json_result(&r, &res, "ctindex", (long)(secs * 1000), &out) == 0) {
            fwrite(out.data, 1, out.len, stdout);
            fputc('\n', stdout);
        } else {
            exit_code = 1;
        }
        buf_free(&out);
    } else {
        print_hits(&res, secs);
    }
    ix_result_free(&res);
    ix_close(s);
    return exit_code;
}
