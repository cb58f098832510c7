#include "serve/serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "index/ix_search.h"
#include "index/ix_store.h"
#include "index/sdf_parse.h"
#include "index/search_json.h"
#include "index/search_params.h"
#include "net/http_server.h"
#include "serve/search_page.h"

#define MAX_SEARCHERS 8
#define SEARCH_QUEUE_MAX 32
#define BATCH_QUEUE_MAX 8
#define BATCH_MAX_BYTES (5u * 1024u * 1024u) /* CloudSearch's batch limit */
#define SEARCH_MAX_BODY (256u * 1024u)
#define MAX_ERRORS 50

enum { JOB_SEARCH, JOB_BATCH };

typedef struct job job;

struct serve {
    uv_loop_t *loop;
    http_server *http;
    serve_options o;
    char path[4096];
    ix_store *writer;
    ix_store *readers[MAX_SEARCHERS];
    int nreaders, free_readers[MAX_SEARCHERS], nfree;
    job *sq_head, *sq_tail, *bq_head, *bq_tail;
    int sq_len, bq_len, searching, writing;
    int stopping, jobs;
    unsigned long rid;
};

struct job {
    serve *sv;
    http_exchange *x;
    uv_work_t work;
    int kind;
    int reader; /* index in readers, for a search */
    ix_request *req;
    ix_result res;
    const char *body;
    size_t body_len;
    int status;
    const char *error_type; /* x-amzn-ErrorType for an error answer */
    buf out;
    double t0;
    job *next;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void serve_options_default(serve_options *o) {
    memset(o, 0, sizeof *o);
    o->addr = "127.0.0.1";
    o->port = 8080;
    o->max_connections = 64;
    o->search_timeout_ms = 10000;
    o->searchers = 2;
}

static void job_free(job *j) {
    free(j->req);
    ix_result_free(&j->res);
    buf_free(&j->out);
    free(j);
}

/* A search error as CloudSearch's search service writes them, with the type botocore reads. */
static void answer_error(http_exchange *x, int status, const char *type, const char *msg) {
    buf b;
    buf_init(&b, 64 * 1024);
    search_json_error(type, msg, &b);
    char hdr[128];
    snprintf(hdr, sizeof hdr, "x-amzn-ErrorType: %s\r\n", type);
    http_exchange_reply(x, status, "application/json", hdr, b.data, b.len);
    buf_free(&b);
}

static void maybe_free(serve *sv);
static void start_jobs(serve *sv);
static void run_batch(uv_work_t *w);

/* ---- searches ------------------------------------------------------------------------------ */

static void run_search(uv_work_t *w) {
    job *j = w->data;
    serve *sv = j->sv;
    char err[512];
    ix_result_init(&j->res);
    int rc = ix_search(sv->readers[j->reader], j->req, &j->res, sv->o.search_timeout_ms, err, sizeof err);
    buf_init(&j->out, 512u << 20);
    char rid[32];
    snprintf(rid, sizeof rid, "ctindex-%lu", (unsigned long)(uintptr_t)j & 0xffffff);
    if (rc == IX_SEARCH_OK) {
        j->status = 200;
        if (search_json_result(j->req, &j->res, rid, (long)(now_ms() - j->t0), &j->out) != 0) {
            buf_clear(&j->out);
            j->status = 500;
            j->error_type = "InternalError";
            search_json_error(j->error_type, "the response is too large", &j->out);
        }
    } else {
        j->status = rc == IX_SEARCH_BAD ? 400 : rc == IX_SEARCH_TIMEOUT ? 504 : 500;
        j->error_type = rc == IX_SEARCH_BAD ? "SearchException" : rc == IX_SEARCH_TIMEOUT ? "Timeout" : "InternalError";
        search_json_error(j->error_type, err, &j->out);
    }
    ix_result_free(&j->res);
}

static void job_done(uv_work_t *w, int status) {
    job *j = w->data;
    serve *sv = j->sv;
    if (j->kind == JOB_SEARCH) {
        sv->free_readers[sv->nfree++] = j->reader;
        sv->searching--;
    } else {
        sv->writing = 0;
    }
    sv->jobs--;
    if (status != 0) answer_error(j->x, 500, "InternalError", uv_strerror(status));
    else {
        char hdr[128] = "";
        if (j->error_type) snprintf(hdr, sizeof hdr, "x-amzn-ErrorType: %s\r\n", j->error_type);
        char *body = j->out.data;
        size_t len = j->out.len;
        buf_init(&j->out, 0); /* the body now belongs to the answer */
        http_exchange_reply_owned(j->x, j->status, "application/json", hdr[0] ? hdr : NULL, body, len);
    }
    job_free(j);
    start_jobs(sv);
    maybe_free(sv);
}

static int reader_for(serve *sv) {
    if (sv->nfree) return sv->free_readers[--sv->nfree];
    if (sv->nreaders >= sv->o.searchers) return -1;
    char err[512];
    ix_store *r = ix_open(sv->path, IX_READ, err, sizeof err);
    if (!r) {
        log_error("serve: %s", err);
        return -1;
    }
    sv->readers[sv->nreaders] = r;
    return sv->nreaders++;
}

static void start_jobs(serve *sv) {
    while (sv->sq_head && sv->searching < sv->o.searchers) {
        int r = reader_for(sv);
        if (r < 0) break;
        job *j = sv->sq_head;
        sv->sq_head = j->next;
        if (!sv->sq_head) sv->sq_tail = NULL;
        sv->sq_len--;
        j->reader = r;
        j->work.data = j;
        sv->searching++;
        sv->jobs++;
        uv_queue_work(sv->loop, &j->work, run_search, job_done);
    }
    while (sv->bq_head && !sv->writing) {
        job *j = sv->bq_head;
        sv->bq_head = j->next;
        if (!sv->bq_head) sv->bq_tail = NULL;
        sv->bq_len--;
        j->work.data = j;
        sv->writing = 1;
        sv->jobs++;
        uv_queue_work(sv->loop, &j->work, run_batch, job_done);
    }
}

static void enqueue(serve *sv, job *j) {
    job **head = j->kind == JOB_SEARCH ? &sv->sq_head : &sv->bq_head,
        **tail = j->kind == JOB_SEARCH ? &sv->sq_tail : &sv->bq_tail;
    j->next = NULL;
    if (*tail) (*tail)->next = j;
    else *head = j;
    *tail = j;
    if (j->kind == JOB_SEARCH) sv->sq_len++;
    else sv->bq_len++;
    start_jobs(sv);
}

static void on_search(void *ud, http_exchange *x, const http_server_request *rq) {
    serve *sv = ud;
    job *j = calloc(1, sizeof *j);
    ix_request *req = j ? malloc(sizeof *req) : NULL;
    if (!req) {
        free(j);
        answer_error(x, 500, "InternalError", "out of memory");
        return;
    }
    j->sv = sv;
    j->x = x;
    j->kind = JOB_SEARCH;
    j->req = req;
    j->t0 = now_ms();
    buf_init(&j->out, 0);
    ixr_init(req);
    int rc = ixr_parse_form(req, rq->head->query.p, rq->head->query.n);
    if (rc == 0 && rq->body_len) {
        const httpp_span *ct = httpp_header(rq->head, "content-type");
        if (ct && (ct->n < 33 || strncasecmp(ct->p, "application/x-www-form-urlencoded", 33) != 0)) {
            snprintf(req->error, sizeof req->error, "a search body must be application/x-www-form-urlencoded");
            rc = -1;
        } else {
            rc = ixr_parse_form(req, rq->body, rq->body_len);
        }
    }
    if (rc == 0) rc = ixr_finish(req);
    if (rc != 0) {
        answer_error(x, 400, "SearchException", req->error);
        job_free(j);
        return;
    }
    if (sv->sq_len >= SEARCH_QUEUE_MAX || sv->stopping) {
        answer_error(x, 503, "ServiceUnavailable", "too many searches in progress: try again");
        job_free(j);
        return;
    }
    enqueue(sv, j);
}

/* ---- document batches ---------------------------------------------------------------------- */

/* CloudSearch's error answer; the outer message (what SDKs show) carries the first error. */
static void batch_errors(job *j, char msgs[][512], int n, int more) {
    buf_clear(&j->out);
    buf_append_str(&j->out, "{\"status\":\"error\",\"adds\":0,\"deletes\":0,\"errors\":[");
    for (int i = 0; i < n; i++) {
        buf_append_str(&j->out, i ? ",{\"message\":" : "{\"message\":");
        search_json_string(&j->out, msgs[i], strlen(msgs[i]));
        buf_append_str(&j->out, "}");
    }
    if (more) buf_printf(&j->out, ",{\"message\":\"%d more errors\"}", more);
    char outer[700];
    snprintf(outer, sizeof outer, "%s (%d invalid document%s: nothing was stored)", n ? msgs[0] : "invalid batch",
             n + more, n + more == 1 ? "" : "s");
    buf_append_str(&j->out, "],\"message\":");
    search_json_string(&j->out, outer, strlen(outer));
    buf_append_str(&j->out, "}");
}

/* On a worker: check every operation first (CloudSearch stores a batch whole or not at all), then
 * apply them in one transaction. */
static void run_batch(uv_work_t *w) {
    job *j = w->data;
    serve *sv = j->sv;
    char(*msgs)[512] = calloc(MAX_ERRORS, sizeof *msgs);
    int nerr = 0, more = 0;
    json_doc doc;
    buf scratch;
    sdf_op *op = malloc(sizeof *op);
    buf_init(&scratch, SDF_MAX_DOC_BYTES + 16);
    buf_init(&j->out, 1u << 20);
    if (!op || !msgs || json_doc_init(&doc, SDF_MAX_TOKENS) != JSON_OK) {
        j->status = 500;
        buf_append_str(&j->out, "{\"status\":\"error\",\"adds\":0,\"deletes\":0,\"message\":\"out of memory\"}");
        free(op);
        free(msgs);
        buf_free(&scratch);
        return;
    }
    size_t pos = 0, elen;
    const char *e;
    char err[512];
    unsigned n = 0, adds = 0, deletes = 0;
    int rc;
    while ((rc = sdf_next(j->body, j->body_len, &pos, &e, &elen, err, sizeof err)) == 1) {
        n++;
        if (sdf_parse_op(&doc, e, elen, n, 0, &scratch, op, err, sizeof err) == 0) {
            if (op->is_delete) deletes++;
            else adds++;
            continue;
        }
        if (nerr < MAX_ERRORS) snprintf(msgs[nerr++], sizeof msgs[0], "%s", err);
        else more++;
    }
    if (rc < 0 && nerr < MAX_ERRORS) snprintf(msgs[nerr++], sizeof msgs[0], "%s", err);
    if (nerr) {
        j->status = 400;
        j->error_type = "DocumentServiceException";
        batch_errors(j, msgs, nerr, more);
    } else if (ix_begin(sv->writer, err, sizeof err) != 0) {
        j->status = 503;
        j->error_type = "DocumentServiceException";
        snprintf(msgs[0], sizeof msgs[0], "%s", err);
        batch_errors(j, msgs, 1, 0);
    } else {
        pos = 0;
        n = 0;
        int fail = 0;
        while (!fail && sdf_next(j->body, j->body_len, &pos, &e, &elen, err, sizeof err) == 1) {
            n++;
            if (sdf_parse_op(&doc, e, elen, n, 1, NULL, op, err, sizeof err) != 0 ||
                (rc = ix_apply(sv->writer, &doc, op, e, elen, 0, err, sizeof err)) != 0) {
                fail = rc == -2 ? 500 : 400;
                snprintf(msgs[0], sizeof msgs[0], "%s", err);
            }
        }
        if (!fail && ix_commit(sv->writer, err, sizeof err) != 0) {
            fail = 500;
            snprintf(msgs[0], sizeof msgs[0], "%s", err);
        }
        if (fail) {
            ix_rollback(sv->writer);
            j->status = fail;
            j->error_type = "DocumentServiceException";
            batch_errors(j, msgs, 1, 0);
        } else {
            j->status = 200;
            buf_printf(&j->out, "{\"status\":\"success\",\"adds\":%u,\"deletes\":%u}", adds, deletes);
        }
    }
    json_doc_free(&doc);
    buf_free(&scratch);
    free(op);
    free(msgs);
}

static int json_charset_ok(const char *p, size_t n) {
    /* Content-Type: application/json[; charset=utf-8|us-ascii|iso-8859-1] */
    const char *semi = memchr(p, ';', n);
    if (!semi) return 1;
    const char *cs = semi + 1;
    while (cs < p + n && *cs == ' ') cs++;
    size_t rest = (size_t)(p + n - cs);
    if (rest < 8 || strncasecmp(cs, "charset=", 8) != 0) return 1;
    cs += 8;
    rest -= 8;
    static const char *ok[] = {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin1"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (rest == strlen(ok[i]) && strncasecmp(cs, ok[i], rest) == 0) return 1;
    return 0;
}

static void on_batch(void *ud, http_exchange *x, const http_server_request *rq) {
    serve *sv = ud;
    const httpp_span *ct = httpp_header(rq->head, "content-type");
    char msg[256];
    if (rq->head->content_length < 0) {
        answer_error(x, 411, "DocumentServiceException", "Content-Length is required");
        return;
    }
    if (!ct) {
        answer_error(x, 400, "DocumentServiceException", "Content-Type is required (application/json)");
        return;
    }
    if (ct->n >= 15 && strncasecmp(ct->p, "application/xml", 15) == 0) {
        answer_error(x, 415, "DocumentServiceException",
                     "XML batches are not supported by ctindex serve: send the JSON form (application/json)");
        return;
    }
    if (ct->n < 16 || strncasecmp(ct->p, "application/json", 16) != 0 || !json_charset_ok(ct->p, ct->n)) {
        snprintf(msg, sizeof msg,
                 "Content-Type header must be one of ['application/xml', 'application/json'] (was %.*s)",
                 (int)(ct->n > 100 ? 100 : ct->n), ct->p);
        answer_error(x, 415, "DocumentServiceException", msg);
        return;
    }
    if (sv->bq_len >= BATCH_QUEUE_MAX || sv->stopping) {
        answer_error(x, 503, "DocumentServiceException", "too many batches in progress: try again");
        return;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        answer_error(x, 500, "InternalError", "out of memory");
        return;
    }
    j->sv = sv;
    j->x = x;
    j->kind = JOB_BATCH;
    j->body = rq->body; /* the server keeps it until the answer */
    j->body_len = rq->body_len;
    j->t0 = now_ms();
    buf_init(&j->out, 0);
    enqueue(sv, j);
}

static void on_page(void *ud, http_exchange *x, const http_server_request *rq) {
    (void)ud;
    (void)rq;
    http_exchange_reply(x, 200, "text/html; charset=utf-8", "Cache-Control: no-cache\r\n", serve_page_html,
                        serve_page_html_len);
}

/* ---- life ---------------------------------------------------------------------------------- */

serve *serve_start(uv_loop_t *loop, const serve_options *o) {
    serve *sv = calloc(1, sizeof *sv);
    if (!sv) return NULL;
    sv->o = *o;
    if (sv->o.searchers < 1) sv->o.searchers = 1;
    if (sv->o.searchers > MAX_SEARCHERS) sv->o.searchers = MAX_SEARCHERS;
    sv->loop = loop;
    snprintf(sv->path, sizeof sv->path, "%s", o->index_path);
    char err[512];
    sv->writer = ix_open(sv->path, IX_WRITE | IX_DURABLE, err, sizeof err); /* batches are acknowledged */
    if (!sv->writer) {
        log_error("serve: %s", err);
        free(sv);
        return NULL;
    }
    int r = reader_for(sv); /* fail now, not at the first search */
    if (r < 0) {
        ix_close(sv->writer);
        free(sv);
        return NULL;
    }
    sv->free_readers[sv->nfree++] = r;
    http_server_options ho;
    http_server_options_default(&ho);
    ho.addr = o->addr;
    ho.port = o->port;
    ho.name = "serve";
    if (o->max_connections > 0) ho.max_connections = o->max_connections;
    ho.idle_timeout_ms = 30000;
    ho.request_timeout_ms = 30000; /* a 5 MB batch on a slow link */
    ho.write_timeout_ms = 30000;
    sv->http = http_server_start(loop, &ho);
    if (!sv->http || http_server_route(sv->http, "GET", "/", 0, on_page, sv) ||
        http_server_route(sv->http, "GET", "/2013-01-01/search", 0, on_search, sv) ||
        http_server_route(sv->http, "POST", "/2013-01-01/search", SEARCH_MAX_BODY, on_search, sv) ||
        http_server_route(sv->http, "POST", "/2013-01-01/documents/batch", BATCH_MAX_BYTES, on_batch, sv)) {
        http_server_stop(sv->http);
        for (int i = 0; i < sv->nreaders; i++) ix_close(sv->readers[i]);
        ix_close(sv->writer);
        free(sv);
        return NULL;
    }
    return sv;
}

int serve_port(const serve *sv) { return http_server_port(sv->http); }

static void maybe_free(serve *sv) {
    if (!sv->stopping || sv->jobs) return;
    for (int i = 0; i < sv->nreaders; i++) ix_close(sv->readers[i]);
    ix_close(sv->writer);
    free(sv);
}

void serve_stop(serve *sv) {
    if (!sv || sv->stopping) return;
    sv->stopping = 1;
    http_server_stop(sv->http);
    /* queued work is dropped (its connections are closed); running work finishes first */
    for (job *j = sv->sq_head, *n; j; j = n) {
        n = j->next;
        http_exchange_reply(j->x, 503, NULL, NULL, NULL, 0);
        job_free(j);
    }
    for (job *j = sv->bq_head, *n; j; j = n) {
        n = j->next;
        http_exchange_reply(j->x, 503, NULL, NULL, NULL, 0);
        job_free(j);
    }
    sv->sq_head = sv->sq_tail = sv->bq_head = sv->bq_tail = NULL;
    sv->sq_len = sv->bq_len = 0;
    maybe_free(sv);
}
