#include "sinks/cloudsearch/cloudsearch_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "pipeline/schema.h"

typedef enum { OP_DESCRIBE, OP_CREATE, OP_DEFINE, OP_FIELDS } cs_op;

typedef struct cs_config_call {
    aws_ctx *aws;
    cs_op op;
    char name[64];
    char url[CS_URL_MAX]; /* configuration endpoint, with the trailing '/' */
    char scheme[16];      /* of the configuration endpoint, reused for the document URL */
    buf form;             /* request body; alive until the call's on_done */
    size_t field;         /* OP_DEFINE: next schema field; schema_count() = IndexDocuments */
    unsigned char *todo;  /* OP_DEFINE: the fields to define (NULL: all) */
    size_t defined;       /* OP_DEFINE: DefineIndexField calls sent */
    const char *action;
    cloudsearch_domain_cb dcb;
    cloudsearch_done_cb fcb;
    cloudsearch_fields_cb xcb;
    void *ud;
} cs_config_call;

static const char *const form_headers[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8"};

static void on_config_done(void *ud, aws_response *r);

static void call_free(cs_config_call *c) {
    buf_free(&c->form);
    free(c->todo);
    free(c);
}

static int send_form(cs_config_call *c) {
    aws_request rq = {
        .service = "cloudsearch",
        .method = "POST",
        .url = c->url,
        .headers = form_headers,
        .nheaders = 1,
        .body = c->form.data,
        .body_len = c->form.len,
        .max_body = 1u << 20,
        .timeout_ms = 30000,
        .on_done = on_config_done,
        .ud = c,
    };
    return aws_send(c->aws, &rq) ? 0 : -1;
}

/* One line for the log and the callback. */
static void describe_failure(const cs_config_call *c, const aws_response *r, char *out, size_t cap) {
    if (r->result != HTTP_OK)
        snprintf(out, cap, "CloudSearch %s: cannot reach %s: %s (%s)", c->action, c->url, r->message,
                 http_result_name(r->result));
    else
        snprintf(out, cap, "CloudSearch %s for domain '%s': HTTP %d %s%s%s", c->action, c->name, r->status,
                 r->code[0] ? r->code : "", r->code[0] ? ": " : "", r->message[0] ? r->message : "(no message)");
}

static void finish_domain(cs_config_call *c, const aws_response *r) {
    char err[2400];
    if (!r->ok) {
        describe_failure(c, r, err, sizeof err);
        c->dcb(c->ud, 0, NULL, err);
        return;
    }
    cloudsearch_domain_info info;
    memset(&info, 0, sizeof info);
    const char *body = r->body.data ? r->body.data : "";
    if (cs_parse_domain_status(body, r->body.len, c->name, &info.status) != 0) {
        if (c->op == OP_DESCRIBE)
            snprintf(err, sizeof err, "CloudSearch domain '%s' does not exist in %s (configuration endpoint %s)",
                     c->name, aws_ctx_region(c->aws), c->url);
        else
            snprintf(err, sizeof err, "CloudSearch CreateDomain '%s': the answer does not describe the domain",
                     c->name);
        c->dcb(c->ud, 0, NULL, err);
        return;
    }
    if (info.status.doc_endpoint[0] &&
        cs_batch_url(info.status.doc_endpoint, c->scheme, info.doc_url, sizeof info.doc_url) == 0) {
        /* cs_batch_url appends the upload path; the caller wants the endpoint itself. */
        info.doc_url[strlen(info.doc_url) - strlen(CS_BATCH_PATH)] = '\0';
    } else {
        info.doc_url[0] = '\0';
    }
    if (c->op == OP_DESCRIBE) {
        if (info.status.deleted) {
            snprintf(err, sizeof err, "CloudSearch domain '%s' is being deleted", c->name);
            c->dcb(c->ud, 0, &info, err);
            return;
        }
        if (!info.doc_url[0]) {
            snprintf(err, sizeof err,
                     "CloudSearch domain '%s' is not active yet (no document endpoint%s); a new domain takes "
                     "about ten minutes: try again later",
                     c->name, info.status.created ? "" : ", still being created");
            c->dcb(c->ud, 0, &info, err);
            return;
        }
        if (info.status.processing)
            log_info("CloudSearch domain '%s' is processing changes: uploads may be slow meanwhile", c->name);
        if (info.status.requires_index_documents)
            log_warn("CloudSearch domain '%s' has index field changes waiting for IndexDocuments", c->name);
    }
    c->dcb(c->ud, 1, &info, NULL);
}

/* Builds the next request of a define_fields run: a DefineIndexField per field asked for, then
 * IndexDocuments. Returns 1 when nothing was asked for (no request: the domain is left alone,
 * since IndexDocuments rebuilds the whole index). */
static int next_define(cs_config_call *c) {
    buf_clear(&c->form);
    while (c->todo && c->field < schema_count() && !c->todo[c->field]) c->field++;
    const schema_field *f = schema_field_at(c->field);
    if (f) {
        c->action = "DefineIndexField";
        c->defined++;
        if (cs_form_define_field(&c->form, c->name, f) != 0) return -1;
    } else if (c->defined == 0) {
        return 1;
    } else {
        c->action = "IndexDocuments";
        if (cs_form_add(&c->form, "Action", "IndexDocuments") || cs_form_add(&c->form, "Version", CS_API_VERSION) ||
            cs_form_add(&c->form, "DomainName", c->name))
            return -1;
    }
    return send_form(c);
}

static void finish_fields(cs_config_call *c, const aws_response *r) {
    char err[2400];
    if (!r->ok) {
        describe_failure(c, r, err, sizeof err);
        c->xcb(c->ud, 0, NULL, 0, err);
        return;
    }
    unsigned char todo[SCHEMA_MAX_FIELDS];
    int n = cs_fields_to_define(r->body.data ? r->body.data : "", r->body.len, todo);
    if (n < 0) {
        snprintf(err, sizeof err, "CloudSearch DescribeIndexFields for domain '%s': the answer lists no IndexFields",
                 c->name);
        c->xcb(c->ud, 0, NULL, 0, err);
        return;
    }
    c->xcb(c->ud, 1, todo, (size_t)n, NULL);
}

static void on_config_done(void *ud, aws_response *r) {
    cs_config_call *c = ud;
    if (c->op == OP_FIELDS) {
        finish_fields(c, r);
        call_free(c);
        return;
    }
    if (c->op != OP_DEFINE) {
        finish_domain(c, r);
        call_free(c);
        return;
    }
    char err[2400];
    if (!r->ok) {
        describe_failure(c, r, err, sizeof err);
        if (c->field < schema_count()) {
            size_t n = strlen(err);
            snprintf(err + n, sizeof err - n, " (field %s)", schema_field_at(c->field)->name);
        }
        c->fcb(c->ud, 0, err);
        call_free(c);
        return;
    }
    if (c->field >= schema_count()) { /* IndexDocuments answered */
        log_info("CloudSearch domain '%s': %zu index field(s) defined, indexing started", c->name, c->defined);
        c->fcb(c->ud, 1, NULL);
        call_free(c);
        return;
    }
    c->field++;
    if (next_define(c) != 0) {
        snprintf(err, sizeof err, "CloudSearch %s for domain '%s': cannot send the request", c->action, c->name);
        c->fcb(c->ud, 0, err);
        call_free(c);
    }
}

static cs_config_call *call_new(aws_ctx *aws, cs_op op, const char *name) {
    if (!cs_domain_name_valid(name)) {
        log_error("CloudSearch domain name '%s' is not valid: 3 to 28 characters, a-z 0-9 and '-', "
                  "starting with a letter",
                  name ? name : "");
        return NULL;
    }
    char endpoint[CS_URL_MAX];
    if (aws_ctx_endpoint(aws, "cloudsearch", NULL, endpoint, sizeof endpoint) != 0) {
        log_error("CloudSearch: no configuration endpoint for region %s", aws_ctx_region(aws));
        return NULL;
    }
    cs_config_call *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->aws = aws;
    c->op = op;
    snprintf(c->name, sizeof c->name, "%s", name);
    size_t n = strlen(endpoint);
    int w = snprintf(c->url, sizeof c->url, "%s%s", endpoint, n && endpoint[n - 1] == '/' ? "" : "/");
    const char *sep = strstr(endpoint, "://");
    size_t sl = sep ? (size_t)(sep - endpoint) : 0;
    if (w < 0 || (size_t)w >= sizeof c->url || sl == 0 || sl >= sizeof c->scheme) {
        log_error("CloudSearch: configuration endpoint '%s' is not a URL", endpoint);
        free(c);
        return NULL;
    }
    memcpy(c->scheme, endpoint, sl);
    buf_init(&c->form, 64 * 1024);
    return c;
}

static int start_domain_call(aws_ctx *aws, cs_op op, const char *name, cloudsearch_domain_cb cb, void *ud) {
    cs_config_call *c = call_new(aws, op, name);
    if (!c) return -1;
    c->dcb = cb;
    c->ud = ud;
    c->action = op == OP_DESCRIBE ? "DescribeDomains" : "CreateDomain";
    int bad = cs_form_add(&c->form, "Action", c->action) || cs_form_add(&c->form, "Version", CS_API_VERSION) ||
              cs_form_add(&c->form, op == OP_DESCRIBE ? "DomainNames.member.1" : "DomainName", name);
    if (bad || send_form(c) != 0) {
        log_error("CloudSearch %s: cannot send the request", c->action);
        call_free(c);
        return -1;
    }
    return 0;
}

int cloudsearch_describe_domain(aws_ctx *aws, const char *name, cloudsearch_domain_cb cb, void *ud) {
    return start_domain_call(aws, OP_DESCRIBE, name, cb, ud);
}

int cloudsearch_create_domain(aws_ctx *aws, const char *name, cloudsearch_domain_cb cb, void *ud) {
    return start_domain_call(aws, OP_CREATE, name, cb, ud);
}

int cloudsearch_define_some_fields(aws_ctx *aws, const char *name, const unsigned char *which, cloudsearch_done_cb cb,
                                   void *ud) {
    cs_config_call *c = call_new(aws, OP_DEFINE, name);
    if (!c) return -1;
    c->fcb = cb;
    c->ud = ud;
    c->field = 0;
    if (which && !(c->todo = malloc(schema_count()))) {
        call_free(c);
        return -1;
    }
    if (which) memcpy(c->todo, which, schema_count());
    int rc = next_define(c);
    if (rc == 1) { /* nothing asked for */
        call_free(c);
        return 1;
    }
    if (rc != 0) {
        log_error("CloudSearch DefineIndexField: cannot send the request");
        call_free(c);
        return -1;
    }
    return 0;
}

int cloudsearch_check_fields(aws_ctx *aws, const char *name, cloudsearch_fields_cb cb, void *ud) {
    cs_config_call *c = call_new(aws, OP_FIELDS, name);
    if (!c) return -1;
    c->xcb = cb;
    c->ud = ud;
    c->action = "DescribeIndexFields";
    if (cs_form_add(&c->form, "Action", c->action) || cs_form_add(&c->form, "Version", CS_API_VERSION) ||
        cs_form_add(&c->form, "DomainName", name) || send_form(c) != 0) {
        log_error("CloudSearch DescribeIndexFields: cannot send the request");
        call_free(c);
        return -1;
    }
    return 0;
}
