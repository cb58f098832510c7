/* The OpenSearch `_bulk` sink (see sink_opensearch.h for the rules it follows).
 *
 * Every submitted batch is a job of the uploader (sinks/upload/uploader.h), which decides when each
 * request goes and whether it goes again. A job keeps the list of its documents still to be
 * stored ("pending", in batch order) and sends them in rounds: a round takes the first documents
 * of the list (all of them, unless a 400/413 forced smaller requests or max_request_bytes
 * applies), sends them, and rewrites the list from the answer: accepted and dead-lettered
 * documents leave it, documents to retry stay at its front. While the documents of a round are
 * consecutive in the batch, the request body points straight into the batch buffer; otherwise (a
 * retry of some items) they are copied into the job's own bounded buffer. */
#include "sinks/opensearch/sink_opensearch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "base/base64.h"
#include "base/json.h"
#include "base/log.h"
#include "pipeline/batch.h"
#include "pipeline/deadletter.h"
#include "sinks/opensearch/bulk_response.h"
#include "sinks/upload/uploader.h"

typedef struct os_sink os_sink;

typedef struct os_job {
    upload_job up; /* first: the uploader hands it back */
    os_sink *s;
    struct os_job *next_all;  /* every job ever allocated (teardown) */
    struct os_job *next_free; /* free list */
    batch *b;                 /* NULL while the job is free */
    uint32_t *pending;        /* batch document indices still to store; the first ncur are being sent */
    uint32_t *spare;          /* next pending list, built while reading an answer */
    uint32_t cap;             /* capacity of pending and spare */
    uint32_t npending, ncur, nspare;
    uint32_t limit_docs; /* documents per request; halved by 400/413 answers */
    buf body;            /* copy of non-consecutive documents (item retries) */
    int no_memory;       /* the batch could not get its lists: it fails */
} os_job;

struct os_sink {
    sink base;
    aws_ctx *aws;
    uploader *up;
    char bulk_url[OS_SPEC_URL_MAX + 8];
    char pattern[OS_SPEC_PATTERN_MAX];
    int has_pattern;
    char service[8];
    char region[64];
    os_auth auth;
    unsigned sign_flags;
    char auth_header[32 + 4 * OS_SPEC_USER_MAX]; /* "Authorization: Basic ..." (never logged) */
    const char *headers[2];
    size_t nheaders;
    size_t max_request_bytes;
    long timeout_ms;
    deadletter *dead;
    json_doc jd; /* response tokens, sized from the documents of a request, reused */
    os_job *all, *free_jobs;
    int closing;
    int auth_errors_logged;
    int id_hint_logged;
};

static const sink_ops os_ops;

void sink_opensearch_options_default(sink_opensearch_options *o) {
    memset(o, 0, sizeof *o);
    o->auth = OS_AUTH_AUTO;
    upload_options_default(&o->upload);
    o->upload.max_in_flight = SINK_OPENSEARCH_DEFAULT_IN_FLIGHT;
    o->timeout_ms = 300000;
}

/* ---------- teardown ---------- */

static void free_sink(os_sink *s) {
    for (os_job *j = s->all, *next; j; j = next) {
        next = j->next_all;
        free(j->pending);
        free(j->spare);
        buf_free(&j->body);
        free(j);
    }
    json_doc_free(&s->jd);
    memset(s->auth_header, 0, sizeof s->auth_header);
    free(s);
}

static void on_uploader_closed(void *ud) { free_sink(ud); }

static void os_close(sink *base) {
    os_sink *s = (os_sink *)base;
    if (s->closing) return;
    s->closing = 1;
    uploader_close(s->up, on_uploader_closed, s);
}

/* ---------- documents ---------- */

static void batch_failed_log(os_job *j, const char *why) {
    log_error("opensearch: batch of %u documents failed (%u not stored): %s", batch_count(j->b), j->npending, why);
}

/* Keep a refused document in the dead-letter file. -1 when the entry could not be written: the
 * document is then not stored anywhere, and its batch must not be acknowledged. */
static int dead_letter_doc(os_job *j, uint32_t doc, const char *reason) {
    os_sink *s = j->s;
    size_t len = 0;
    const char *p = batch_doc(j->b, doc, &len);
    const char *src = batch_doc_source(j->b, doc);
    if (!s->dead) {
        log_warn("opensearch: document from %s rejected: %s", src, reason);
        return 0;
    }
    if (deadletter_write(s->dead, "document", src, reason, p, len) == 0) return 0;
    log_error("opensearch: a document from %s was refused (%s) and could not be written to the dead-letter file: "
              "its batch is not acknowledged",
              src, reason);
    return -1;
}

/* ---------- requests ---------- */

/* Pick the documents of the next round and describe the request. */
static upload_next os_next(upload_job *uj, aws_request *rq, uint32_t *docs) {
    os_job *j = (os_job *)uj;
    os_sink *s = j->s;
    if (j->no_memory) return UPLOAD_STOP;
    if (j->npending == 0) return UPLOAD_DONE;
    uint32_t k = j->npending < j->limit_docs ? j->npending : j->limit_docs;
    size_t bytes = 0, len = 0;
    int consecutive = 1;
    for (uint32_t i = 0; i < k; i++) {
        batch_doc(j->b, j->pending[i], &len);
        if (i > 0 && bytes + len > s->max_request_bytes) {
            k = i;
            break;
        }
        bytes += len;
        if (i > 0 && j->pending[i] != j->pending[i - 1] + 1) consecutive = 0;
    }
    j->ncur = k;
    const char *body;
    size_t body_len;
    if (consecutive) {
        body = batch_doc(j->b, j->pending[0], &len); /* BULK documents are contiguous, no separators */
        body_len = bytes;
    } else {
        buf_clear(&j->body);
        for (uint32_t i = 0; i < k; i++) {
            const char *p = batch_doc(j->b, j->pending[i], &len);
            if (buf_append(&j->body, p, len) != 0) {
                batch_failed_log(j, "out of memory for a retry body");
                return UPLOAD_STOP;
            }
        }
        body = j->body.data;
        body_len = j->body.len;
    }
    rq->service = s->service;
    rq->region = s->region;
    rq->method = "POST";
    rq->url = s->bulk_url;
    rq->headers = s->headers;
    rq->nheaders = s->nheaders;
    rq->body = body;
    rq->body_len = body_len;
    rq->sign_flags = s->sign_flags;
    rq->anonymous = s->auth != OS_AUTH_SIGV4;
    /* Unsigned requests need no payload hash: spare the SHA-256 of every body byte. A request of
     * the whole batch takes the hash the indexer computed. */
    size_t whole = 0;
    if (rq->anonymous) rq->payload_hash = SIGV4_UNSIGNED_PAYLOAD;
    else if (j->b->sha256_hex[0] && body == batch_body(j->b, &whole) && body_len == whole)
        rq->payload_hash = j->b->sha256_hex;
    rq->timeout_ms = s->timeout_ms;
    /* about 250 bytes per success item, up to ~1 KB for a failure with its reason */
    size_t max_body = (size_t)k * 2048 + (1u << 20);
    rq->max_body = max_body < (256u << 20) ? max_body : (256u << 20);
    *docs = k;
    return UPLOAD_SEND;
}

/* ---------- answers ---------- */

typedef struct item_ctx {
    os_job *j;
    uint32_t ok, retry, dead, throttled, dead_failed;
} item_ctx;

/* The bulk API answers in request order: the id of the document sent at place i. */
static const char *sent_id(void *ud, uint32_t i, size_t *len) {
    os_job *j = ud;
    size_t dl = 0;
    const char *d = batch_doc(j->b, j->pending[i], &dl);
    return os_bulk_doc_id(d, dl, len);
}

static void on_item(void *ud, const os_bulk_item *it) {
    item_ctx *c = ud;
    os_job *j = c->j;
    uint32_t doc = j->pending[it->index];
    if (it->verdict == OS_ITEM_OK) {
        c->ok++;
    } else if (it->verdict == OS_ITEM_RETRY) {
        j->spare[j->nspare++] = doc;
        c->retry++;
        if (it->status == 429 || it->status == 503) c->throttled++;
    } else {
        char reason[OS_BULK_REASON_MAX + 32];
        snprintf(reason, sizeof reason, "HTTP %d %s", it->status, it->reason);
        /* Serverless time series and vector collections assign their own ids: every document fails. */
        if (!j->s->id_hint_logged && strstr(it->reason, "Document ID is not supported")) {
            j->s->id_hint_logged = 1;
            log_error("opensearch: the collection refuses document ids (an OpenSearch Serverless time series or "
                      "vector search collection); ctindex keys documents by eventID so that redeliveries overwrite: "
                      "index into a search collection");
        }
        if (dead_letter_doc(j, doc, reason) != 0) c->dead_failed++;
        else c->dead++;
    }
}

/* pending := spare (retries) + pending[ncur..] */
static void rebuild_pending(os_job *j) {
    uint32_t rest = j->npending - j->ncur;
    memcpy(j->spare + j->nspare, j->pending + j->ncur, sizeof(uint32_t) * rest);
    uint32_t *t = j->pending;
    j->pending = j->spare;
    j->spare = t;
    j->npending = j->nspare + rest;
    j->nspare = 0;
    j->ncur = 0;
}

/* Token array big enough for n items; grows (once per larger size), never shrinks. */
static int ensure_tokens(os_sink *s, unsigned want) {
    if (s->jd.cap >= want) return 0;
    json_doc_free(&s->jd);
    if (json_doc_init(&s->jd, want) != JSON_OK) {
        json_doc_init(&s->jd, 0);
        return -1;
    }
    return 0;
}

static upload_verdict handle_items(os_job *j, const char *body, size_t len, upload_answer *a) {
    os_sink *s = j->s;
    item_ctx c = {j, 0, 0, 0, 0, 0};
    int errors = 0, rc;
    unsigned want = os_bulk_tokens_for(j->ncur);
    const unsigned most = 64u + 256u * j->ncur; /* error items with deep caused_by chains */
    j->nspare = 0;
    for (;;) {
        if (ensure_tokens(s, want) != 0) {
            rc = OS_BULK_ETOKENS;
            break;
        }
        rc = os_bulk_parse_checked(&s->jd, body, len, j->ncur, &errors, sent_id, j, on_item, &c);
        if (rc != OS_BULK_ETOKENS || want >= most) break;
        want = want * 2 < most ? want * 2 : most;
    }
    if (rc != OS_BULK_OK) {
        /* A 2xx that is not the answer to this request (a proxy's page, a truncated body, items for
         * other documents): nothing is known to be stored, so it is a failed request. */
        j->nspare = 0;
        char start[84];
        upload_body_start(body ? body : "", len, start, sizeof start);
        snprintf(a->why, sizeof a->why, "HTTP 2xx with %s for %u documents (%s): not taken as stored",
                 rc == OS_BULK_ECOUNT   ? "a bulk answer holding another number of items"
                 : rc == OS_BULK_EORDER ? "a bulk answer whose items name other documents"
                                        : "an answer that is not a bulk result",
                 j->ncur, start);
        return UPLOAD_RETRY;
    }
    if (c.dead_failed) {
        batch_failed_log(j, "documents refused by the service could not be written to the dead-letter file");
        snprintf(a->why, sizeof a->why, "dead-letter file not writable");
        return UPLOAD_FAILED;
    }
    if (!errors) c.ok = j->ncur;
    a->accepted = c.ok;
    a->retry = c.retry;
    a->refused = c.dead;
    a->throttled = c.throttled > 0;
    rebuild_pending(j);
    if (c.retry == 0) return UPLOAD_OK;
    snprintf(a->why, sizeof a->why, "%u of %u documents refused for now (429/5xx), %u stored, %u dead-lettered",
             c.retry, c.ok + c.retry + c.dead, c.ok, c.dead);
    return UPLOAD_RETRY;
}

static upload_verdict os_judge(upload_job *uj, const aws_response *r, upload_answer *a) {
    os_job *j = (os_job *)uj;
    os_sink *s = j->s;
    if (r->status >= 200 && r->status < 300) return handle_items(j, r->body.data, r->body.len, a);
    char reason[300];
    os_bulk_error_reason(&s->jd, r->body.data, r->body.len, reason, sizeof reason);
    snprintf(a->why, sizeof a->why, "HTTP %d from %.300s: %s", r->status, s->bulk_url, reason);
    if (r->status == 400 || r->status == 413) {
        if (j->ncur > 1) { /* find the culprit: halves, down to single documents */
            j->limit_docs = (j->ncur + 1) / 2;
            a->split = 1;
            log_warn("opensearch: %s; splitting into requests of %u documents", a->why, j->limit_docs);
            j->ncur = 0;
            return UPLOAD_OK;
        }
        if (dead_letter_doc(j, j->pending[0], a->why) != 0) {
            batch_failed_log(j, "a document refused by the service could not be written to the dead-letter file");
            return UPLOAD_FAILED;
        }
        a->refused = 1;
        j->nspare = 0;
        rebuild_pending(j);
        return UPLOAD_OK;
    }
    if ((r->status == 401 || r->status == 403) && s->auth_errors_logged++ == 0)
        log_error("opensearch: the endpoint refused our credentials (auth %s%s): %s; check --os-auth, the "
                  "AWS credentials or OPENSEARCH_USERNAME/OPENSEARCH_PASSWORD",
                  s->auth == OS_AUTH_SIGV4   ? "sigv4 "
                  : s->auth == OS_AUTH_BASIC ? "basic"
                                             : "none",
                  s->auth == OS_AUTH_SIGV4 ? s->service : "", a->why);
    return UPLOAD_REFUSED; /* the uploader says what becomes of the batch */
}

static void os_finished(upload_job *uj, int ok) {
    os_job *j = (os_job *)uj;
    os_sink *s = j->s;
    batch *b = j->b;
    j->b = NULL;
    j->next_free = s->free_jobs;
    s->free_jobs = j;
    s->base.done(s->base.done_ud, b, ok); /* may submit the next batch right away */
}

static const upload_ops os_upload_ops = {os_next, os_judge, os_finished};

/* ---------- submit ---------- */

static os_job *take_job(os_sink *s) {
    os_job *j = s->free_jobs;
    if (j) {
        s->free_jobs = j->next_free;
        return j;
    }
    j = calloc(1, sizeof *j);
    if (!j) {
        /* No way to report the batch from the loop without its job: a few hundred bytes cannot be
         * had, so the process cannot go on anyway; nothing was acknowledged. */
        log_error("opensearch: out of memory");
        abort();
    }
    j->s = s;
    buf_init(&j->body, 0);
    j->next_all = s->all;
    s->all = j;
    return j;
}

static void os_submit(sink *base, batch *b) {
    os_sink *s = (os_sink *)base;
    if (s->closing) {
        log_error("opensearch: batch submitted after close: ignored");
        return;
    }
    uint32_t n = batch_count(b);
    os_job *j = take_job(s);
    j->b = b;
    j->no_memory = 0;
    if (b->format != BATCH_BULK) {
        log_error("opensearch: batch is not in _bulk format");
        j->no_memory = 1;
    } else if (j->cap < n) {
        uint32_t *p = realloc(j->pending, sizeof(uint32_t) * n),
                 *q = p ? realloc(j->spare, sizeof(uint32_t) * n) : NULL;
        if (p) j->pending = p;
        if (q) j->spare = q;
        if (p && q) j->cap = n;
        else {
            log_error("opensearch: out of memory for a batch of %u documents", n);
            j->no_memory = 1;
        }
    }
    if (!j->no_memory)
        for (uint32_t i = 0; i < n; i++) j->pending[i] = i;
    j->npending = j->no_memory ? 0 : n;
    j->ncur = j->nspare = 0;
    j->limit_docs = n;
    j->body.max = b->max_bytes;  /* a retry body is a subset of the batch */
    batch_body(b, &(size_t){0}); /* close the batch: no more documents while it is out */
    uploader_submit(s->up, &j->up);
}

static const sink_ops os_ops = {"opensearch", os_submit, os_close};

/* ---------- construction ---------- */

static int setup_basic(os_sink *s, const sink_opensearch_options *o, const os_spec *sp) {
    const awsconf_env *env = aws_ctx_env(s->aws);
    const char *user = o->username, *pass = o->password;
    if (!user && sp->has_userinfo) {
        user = sp->user;
        pass = sp->pass;
    }
    if (!user) {
        user = awsconf_getenv(env, "OPENSEARCH_USERNAME");
        pass = awsconf_getenv(env, "OPENSEARCH_PASSWORD");
    }
    if (!user || !*user) {
        log_error(
            "opensearch: basic auth needs a user: user:pass@ in the URL or OPENSEARCH_USERNAME/OPENSEARCH_PASSWORD");
        return -1;
    }
    if (!pass) pass = "";
    char plain[2 * OS_SPEC_USER_MAX + 2];
    int n = snprintf(plain, sizeof plain, "%s:%s", user, pass);
    if (n < 0 || (size_t)n >= sizeof plain) {
        log_error("opensearch: basic auth user name or password too long");
        return -1;
    }
    static const char prefix[] = "Authorization: Basic ";
    memcpy(s->auth_header, prefix, sizeof prefix);
    long e =
        base64_encode(plain, (size_t)n, s->auth_header + sizeof prefix - 1, sizeof s->auth_header - sizeof prefix + 1);
    memset(plain, 0, sizeof plain);
    if (e < 0) return -1;
    s->headers[s->nheaders++] = s->auth_header;
    return 0;
}

sink *sink_opensearch_new(aws_ctx *aws, const sink_opensearch_options *o) {
    char err[200];
    os_spec sp;
    if (!aws || !o || !o->loop) {
        log_error("opensearch: sink needs an AWS context and a loop");
        return NULL;
    }
    if (sink_opensearch_parse_spec(o->url, &sp, err, sizeof err) != 0) {
        log_error("opensearch: %s", err);
        return NULL;
    }
    os_sink *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.ops = &os_ops;
    upload_options uo = o->upload;
    if (uo.max_in_flight <= 0) uo.max_in_flight = SINK_OPENSEARCH_DEFAULT_IN_FLIGHT;
    s->base.max_in_flight = uo.max_in_flight;
    s->aws = aws;
    snprintf(s->bulk_url, sizeof s->bulk_url, "%s/_bulk", sp.base_url);
    snprintf(s->pattern, sizeof s->pattern, "%s", sp.pattern);
    s->has_pattern = sp.pattern[0] != '\0';
    s->max_request_bytes = o->max_request_bytes && o->max_request_bytes < SINK_OPENSEARCH_MAX_REQUEST_BYTES
                               ? o->max_request_bytes
                               : SINK_OPENSEARCH_MAX_REQUEST_BYTES;
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 300000;
    s->headers[s->nheaders++] = "Content-Type: application/x-ndjson";

    const char *env_user = awsconf_getenv(aws_ctx_env(aws), "OPENSEARCH_USERNAME");
    s->auth = sink_opensearch_resolve_auth(o->auth, &sp, o->username != NULL, env_user && *env_user);
    snprintf(s->service, sizeof s->service, "%s", o->service ? o->service : sp.service[0] ? sp.service : "es");
    snprintf(s->region, sizeof s->region, "%s", o->region ? o->region : sp.region[0] ? sp.region : aws_ctx_region(aws));
    if (s->auth == OS_AUTH_SIGV4) {
        s->base.hashes_bodies = 1; /* the indexer hashes whole batches two at a time */
        if (strcmp(s->service, "es") != 0 && strcmp(s->service, "aoss") != 0) {
            log_error("opensearch: SigV4 service must be es or aoss, not '%s'", s->service);
            goto fail;
        }
        /* Serverless (aoss) requires the payload hash header on signed requests. */
        if (strcmp(s->service, "aoss") == 0) s->sign_flags |= SIGV4_CONTENT_SHA256;
    } else if (s->auth == OS_AUTH_BASIC) {
        if (setup_basic(s, o, &sp) != 0) goto fail;
        if (!sp.tls) log_warn("opensearch: basic auth over plain http sends the password in clear");
    }
    if (json_doc_init(&s->jd, os_bulk_tokens_for(1000)) != JSON_OK) goto fail;
    s->dead = o->dead;
    s->up = uploader_new(o->loop, aws, "opensearch", &uo, &os_upload_ops, &s->base);
    if (!s->up) goto fail;
    log_info("opensearch: %s, auth %s%s%s%s, %d requests in flight", s->bulk_url,
             s->auth == OS_AUTH_SIGV4   ? "sigv4 "
             : s->auth == OS_AUTH_BASIC ? "basic"
                                        : "none",
             s->auth == OS_AUTH_SIGV4 ? s->service : "", s->auth == OS_AUTH_SIGV4 ? " " : "",
             s->auth == OS_AUTH_SIGV4 ? s->region : "", s->base.max_in_flight);
    return &s->base;
fail:
    json_doc_free(&s->jd);
    memset(s->auth_header, 0, sizeof s->auth_header);
    free(s);
    return NULL;
}

const char *sink_opensearch_index_pattern(const sink *base) {
    if (!base || base->ops != &os_ops) return NULL;
    const os_sink *s = (const os_sink *)base;
    return s->has_pattern ? s->pattern : NULL;
}

int sink_opensearch_is_spec(const char *arg) { return arg && strncmp(arg, "opensearch:", 11) == 0; }

sink *sink_opensearch_from_spec(uv_loop_t *loop, aws_ctx *aws, const char *spec, const char *auth_name,
                                const upload_options *up, deadletter *dead) {
    sink_opensearch_options o;
    sink_opensearch_options_default(&o);
    o.loop = loop;
    o.dead = dead;
    if (up) {
        int in_flight = o.upload.max_in_flight;
        o.upload = *up;
        if (up->max_in_flight <= 0) o.upload.max_in_flight = in_flight;
    }
    o.url = spec;
    char err[200], opts[512];
    os_spec sp;
    if (sink_opensearch_parse_spec(spec, &sp, err, sizeof err) != 0) {
        log_error("opensearch: %s", err);
        return NULL;
    }
    int auth = sink_opensearch_parse_auth(auth_name);
    if (sp.options && snprintf(opts, sizeof opts, "%s", sp.options) >= (int)sizeof opts) {
        log_error("opensearch: sink options too long");
        return NULL;
    }
    char *save = NULL;
    for (char *kv = sp.options ? strtok_r(opts, ",", &save) : NULL; kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        char *end = NULL;
        long long v = eq ? strtoll(eq + 1, &end, 10) : 0;
        int num_ok = eq && end != eq + 1 && *end == '\0';
        int known = upload_options_parse(&o.upload, "opensearch", kv);
        if (known < 0) return NULL;
        if (known > 0) continue;
        if (strncmp(kv, "auth=", 5) == 0) auth = sink_opensearch_parse_auth(kv + 5);
        else if (strncmp(kv, "service=", 8) == 0 && (strcmp(kv + 8, "es") == 0 || strcmp(kv + 8, "aoss") == 0))
            o.service = kv + 8;
        else if (strncmp(kv, "region=", 7) == 0 && kv[7]) o.region = kv + 7;
        else if (strncmp(kv, "max-request=", 12) == 0 && num_ok && v >= 65536 && v <= SINK_OPENSEARCH_MAX_REQUEST_BYTES)
            o.max_request_bytes = (size_t)v;
        else {
            log_error("opensearch: unknown sink option '%s' (auth=none|basic|sigv4, service=es|aoss, "
                      "region=R, " UPLOAD_SPEC_HELP ", max-request=BYTES)",
                      kv);
            return NULL;
        }
        if (auth < 0) break;
    }
    if (auth < 0) {
        log_error("opensearch: auth must be none, basic or sigv4");
        return NULL;
    }
    o.auth = (os_auth)auth;
    /* The strings only need to live through sink_opensearch_new, which copies them. */
    return sink_opensearch_new(aws, &o);
}
