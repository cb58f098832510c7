/* ctindex domain create|describe: set up the CloudSearch domain the sink writes to, with every
 * index field the document builder emits in the chosen field profile, and check an existing one. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "aws/aws.h"
#include "base/log.h"
#include "cli/commands.h"
#include "net/http.h"
#include "pipeline/schema.h"
#include "sinks/cloudsearch/cloudsearch_config.h"

typedef struct step {
    int done, ok;
    int have_info;
    cloudsearch_domain_info info;
    schema_profile profile; /* fields outside it are neither checked nor defined */
    unsigned char todo[SCHEMA_MAX_FIELDS];
    size_t ntodo;
    char error[2400];
} step;

static void on_domain(void *ud, int ok, const cloudsearch_domain_info *info, const char *error) {
    step *s = ud;
    s->done = 1;
    s->ok = ok;
    if (info) {
        s->info = *info;
        s->have_info = 1;
    }
    snprintf(s->error, sizeof s->error, "%s", error ? error : "");
}

static void on_fields(void *ud, int ok, const unsigned char *todo, size_t n, const char *error) {
    step *s = ud;
    s->done = 1;
    s->ok = ok;
    (void)n;
    s->ntodo = 0;
    for (size_t i = 0; todo && i < schema_count(); i++) {
        s->todo[i] = todo[i] && schema_in_profile(schema_field_at(i), s->profile);
        s->ntodo += s->todo[i];
    }
    snprintf(s->error, sizeof s->error, "%s", error ? error : "");
}

static void on_defined(void *ud, int ok, const char *error) {
    step *s = ud;
    s->done = 1;
    s->ok = ok;
    snprintf(s->error, sizeof s->error, "%s", error ? error : "");
}

/* started: the call's return (0 = its callback will come). */
static int wait_step(uv_loop_t *loop, int started, step *s) {
    if (started != 0) return 0;
    while (!s->done && uv_run(loop, UV_RUN_ONCE)) {}
    if (!s->done) snprintf(s->error, sizeof s->error, "no answer");
    if (!s->ok) log_error("%s", s->error);
    return s->ok;
}

static const char *state_name(const cs_domain_status *d, int have_endpoint) {
    if (d->deleted) return "being deleted";
    if (!d->created) return "being created";
    if (!have_endpoint) return "created, not active yet (a new domain takes about ten minutes)";
    if (d->processing) return "active, processing changes";
    return "active";
}

static void print_domain(const char *name, const char *region, const step *d, const step *f) {
    printf("domain:        %s (region %s)\n", name, region);
    if (d->have_info) {
        printf("state:         %s\n", state_name(&d->info.status, d->info.doc_url[0] != '\0'));
        printf("doc endpoint:  %s\n", d->info.doc_url[0] ? d->info.doc_url : "(none yet)");
        printf("needs IndexDocuments: %s\n", d->info.status.requires_index_documents ? "yes" : "no");
    }
    if (f && f->ok) {
        size_t nprofile = schema_profile_count(f->profile);
        printf("index fields:  %zu of %zu fields of the %s profile defined as ctindex emits them\n",
               nprofile - f->ntodo, nprofile, schema_profile_name(f->profile));
        if (f->ntodo) {
            printf("missing or different:");
            for (size_t i = 0; i < schema_count(); i++)
                if (f->todo[i]) printf(" %s", schema_field_at(i)->name);
            printf("\n");
        }
    }
}

static void domain_usage(FILE *f) {
    fprintf(f,
            "usage: ctindex domain create --domain NAME [--region R] [--fields PROFILE]\n"
            "       ctindex domain describe --domain NAME [--region R] [--fields PROFILE]\n"
            "\n"
            "create    CreateDomain (an existing domain is kept as it is), then defines every index field of\n"
            "          'ctindex schema --fields PROFILE' that the domain lacks or defines differently\n"
            "          (DefineIndexField), and only then IndexDocuments. Running it again changes nothing. A new\n"
            "          domain takes about ten minutes to become active; 'describe' tells when its document\n"
            "          endpoint is there. Fields the domain has beyond the profile's are left alone.\n"
            "describe  the domain's state, its document endpoint, and the profile's fields it lacks.\n"
            "--fields  the field profile the indexing commands use: original, standard (default) or full\n"
            "          ('ctindex schema --help'). A domain made for a larger profile takes the documents of a\n"
            "          smaller one.\n"
            "\n"
            "CloudSearch configuration API, signed with SigV4 (service cloudsearch). Credentials: as 'ctindex run';\n"
            "endpoint override: AWS_ENDPOINT_URL_CLOUDSEARCH. CloudSearch is closed to new AWS accounts; new\n"
            "users index into OpenSearch ('ctindex schema --opensearch' prints its index template).\n"
            "Exit codes: 0 done (describe: active, every field defined), 1 failed or (describe) not ready, 2 usage.\n");
}

int cmd_domain(int argc, char **argv) {
    static const struct option opts[] = {
        {"domain", required_argument, 0, 'd'},
        {"region", required_argument, 0, 'r'},
        {"fields", required_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *name = NULL, *region = NULL;
    schema_profile profile = SCHEMA_PROFILE_DEFAULT;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd': name = optarg; break;
        case 'r': region = optarg; break;
        case 'f':
            if (schema_profile_parse(optarg, &profile) != 0) {
                fprintf(stderr, "ctindex domain: --fields must be original, standard or full\n");
                return 2;
            }
            break;
        case 'h': domain_usage(stdout); return 0;
        default: return 2;
        }
    }
    const char *action = optind < argc ? argv[optind] : NULL;
    int create = action && strcmp(action, "create") == 0;
    if (!action || (!create && strcmp(action, "describe") != 0) || optind + 1 != argc) {
        domain_usage(stderr);
        return 2;
    }
    if (!name) {
        fprintf(stderr, "ctindex domain %s: --domain NAME is required\n", action);
        return 2;
    }
    if (!cs_domain_name_valid(name)) {
        fprintf(stderr,
                "ctindex domain: '%s' is not a CloudSearch domain name (3 to 28 characters of a-z, 0-9 and "
                "'-', starting with a letter)\n",
                name);
        return 2;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    http_client *http = http_client_new(&loop, NULL);
    aws_ctx_options ao = {.region = region};
    aws_ctx *aws = http ? aws_ctx_new(&loop, http, &ao) : NULL;
    int rc = 2;
    if (aws) {
        step d = {0}, f = {.profile = profile}, def = {0};
        rc = 1;
        if (create) {
            if (!wait_step(&loop, cloudsearch_create_domain(aws, name, on_domain, &d), &d)) goto out;
            if (!wait_step(&loop, cloudsearch_check_fields(aws, name, on_fields, &f), &f)) goto out;
            if (f.ntodo == 0) {
                log_info("CloudSearch domain '%s' already defines every field of the %s profile: nothing changed", name,
                         schema_profile_name(profile));
            } else {
                int started = cloudsearch_define_some_fields(aws, name, f.todo, on_defined, &def);
                if (!wait_step(&loop, started, &def)) goto out;
                memset(f.todo, 0, sizeof f.todo);
                f.ntodo = 0;
                d.info.status.requires_index_documents = 0; /* IndexDocuments just ran */
            }
            rc = 0;
        } else {
            wait_step(&loop, cloudsearch_describe_domain(aws, name, on_domain, &d), &d);
            if (!d.have_info) goto out;
            if (!wait_step(&loop, cloudsearch_check_fields(aws, name, on_fields, &f), &f)) goto out;
            rc = d.ok && f.ntodo == 0 ? 0 : 1;
        }
        print_domain(name, aws_ctx_region(aws), &d, &f);
        if (rc == 0 && !d.info.doc_url[0])
            printf("next:          wait until 'ctindex domain describe --domain %s' shows a document endpoint\n", name);
    }
out:
    if (aws) aws_ctx_free(aws);
    if (http) http_client_close(http);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return rc;
}
