/* The OpenSearch `_bulk` sink (see sink_opensearch.h for the rules it follows).
 *
 * Every submitted batch gets a job. A job keeps the list of its documents still to be stored
 * ("pending", in batch order) and sends them in rounds: a round takes the first documents of
 * the list (all of them, unless a 400/413 forced smaller requests or max_request_bytes applies),
 * sends them, and rewrites the list from the answer: accepted and dead-lettered documents leave
 * it, documents to retry stay at its front. While the documents of a round are consecutive in
 * the batch, the request body points straight into the batch buffer; otherwise (a retry of some
 * items) they are copied into the job's own bounded buffer. */
#include "sinks/opensearch/sink_opensearch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "base/base64.h"
#include "base/container_of.h"
#include "base/json.h"
#include "base/log.h"
#include "net/retry.h"
#include "net/retry_timer.h"
#include "pipeline/batch.h"
#include "pipeline/deadletter.h"
#include "pipeline/indexer.h"
#include "sinks/opensearch/bulk_response.h"

typedef struct os_sink os_sink;

typedef struct os_job {
    os_sink *s;
    struct os_job *next_all;  /* every job ever allocated (teardown) */
    struct os_job *next_free; /* free list / wait queue link */
    batch *b;                 /* NULL while the job is free */
    uint32_t *pending;        /* batch document indices still to store; the first ncur are being sent */
    uint32_t *spare;          /* next pending list, built while reading an answer */
    uint32_t cap;             /* capacity of pending and spare */
    uint32_t npending, ncur, nspare;
    uint32_t limit_docs; /* documents per request; halved by 400/413 answers */
    buf body;            /* copy of non-consecutive documents (item retries) */
    const char *req;
    size_t req_len;
    int fails;  /* consecutive failed rounds: backoff exponent and attempt limit */
    int failed; /* the batch completes with ok = 0 */
    retry_timer timer;
    aws_call *call;
} os_job;

struct os_sink {
    sink base;
    uv_loop_t *loop;
    aws_ctx *aws;
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
    retry_policy policy;
    deadletter *dead;
    json_doc jd; /* response tokens, sized from the documents of a request, reused */
    os_job *all, *free_jobs, *wait_head, *wait_tail;
    int active;    /* requests on the wire */
    int busy_jobs; /* jobs holding a batch */
    int closing, torn_down, timers_open;
    int auth_errors_logged;
    int id_hint_logged;
    sink_opensearch_stats st;
};

static const sink_ops os_ops;

void sink_opensearch_options_default(sink_opensearch_options *o) {
    memset(o, 0, sizeof *o);
    o->auth = OS_AUTH_AUTO;
    o->max_in_flight = SINK_OPENSEARCH_DEFAULT_IN_FLIGHT;
    o->backoff_base_ms = 200;
    o->backoff_cap_ms = 20000;
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

static void on_timer_closed(retry_timer *t) {
    os_job *j = container_of(t, os_job, timer);
    os_sink *s = j->s;
    if (--s->timers_open == 0) free_sink(s);
}

static void teardown(os_sink *s) {
    if (s->torn_down) return;
    s->torn_down = 1;
    const sink_opensearch_stats *st = &s->st;
    log_info("opensearch: %llu batches (%llu failed), %llu documents stored, %llu items retried, %llu dead-lettered, "
             "%llu requests (%llu retried, %llu split), %.1f MB sent",
             (unsigned long long)st->batches, (unsigned long long)st->batches_failed, (unsigned long long)st->documents,
             (unsigned long long)st->retried_items, (unsigned long long)st->dead_lettered,
             (unsigned long long)st->requests, (unsigned long long)st->request_retries, (unsigned long long)st->splits,
             (double)st->bytes / 1e6);
    s->timers_open = 0;
    for (os_job *j = s->all; j; j = j->next_all) s->timers_open++;
    if (s->timers_open == 0) {
        free_sink(s);
        return;
    }
    for (os_job *j = s->all; j; j = j->next_all) retry_timer_close(&j->timer, on_timer_closed);
}

static void os_close(sink *base) {
    os_sink *s = (os_sink *)base;
    s->closing = 1;
    if (s->busy_jobs == 0) teardown(s);
}

/* ---------- completion ---------- */

static void finish(os_job *j) {
    os_sink *s = j->s;
    batch *b = j->b;
    int ok = !j->failed;
    if (!ok) s->st.batches_failed++;
    j->b = NULL;
    j->next_free = s->free_jobs;
    s->free_jobs = j;
    s->busy_jobs--;
    s->base.done(s->base.done_ud, b, ok); /* may submit the next batch right away */
    if (s->closing && s->busy_jobs == 0) teardown(s);
}

static void fail_batch(os_job *j, const char *why) {
    log_error("opensearch: batch of %u documents failed (%u not stored): %s", batch_count(j->b), j->npending, why);
    j->failed = 1;
    finish(j);
}

/* The owner (and so the source) of document i, from the batch's run-length owner list. */
static const char *doc_source(const batch *b, uint32_t i) {
    uint32_t nruns = 0, first = 0;
    const batch_owner_run *runs = batch_owners(b, &nruns);
    for (uint32_t r = 0; r < nruns; r++) {
        if (i < first + runs[r].count) {
            const indexer_owner *o = runs[r].owner;
            return o && o->source ? o->source : "?";
        }
        first += runs[r].count;
    }
    return "?";
}

static void dead_letter_doc(os_job *j, uint32_t doc, const char *reason) {
    os_sink *s = j->s;
    size_t len = 0;
    const char *p = batch_doc(j->b, doc, &len);
    const char *src = doc_source(j->b, doc);
    if (s->dead) deadletter_write(s->dead, "document", src, reason, p, len);
    else log_warn("opensearch: document from %s rejected: %s", src, reason);
    s->st.dead_lettered++;
    s->base.dead_lettered++;
}

/* ---------- sending ---------- */

static void send_round(os_job *j);
static void start_round(os_job *j);

static void on_retry_timer(void *ud) { start_round(ud); }

/* Another try of the pending documents after a backoff; the batch fails past the attempt limit. */
static void retry_later(os_job *j, const char *why, uint64_t retry_after_ms) {
    os_sink *s = j->s;
    j->fails++;
    if (!retry_may_retry(&s->policy, j->fails)) {
        char msg[1100];
        snprintf(msg, sizeof msg, "%s (gave up after %d attempts)", why, j->fails);
        fail_batch(j, msg);
        return;
    }
    uint64_t delay = retry_backoff_ms(&s->policy, j->fails - 1);
    if (retry_after_ms > delay) delay = retry_after_ms < s->policy.cap_ms ? retry_after_ms : s->policy.cap_ms;
    log_warn("opensearch: %s; sending %u documents again in %llu ms", why, j->npending, (unsigned long long)delay);
    retry_timer_start(&j->timer, delay, on_retry_timer, j);
}

/* Pick the documents of the next request and point req at their bytes. */
static void start_round(os_job *j) {
    os_sink *s = j->s;
    if (j->npending == 0) {
        finish(j);
        return;
    }
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
    if (consecutive) {
        j->req = batch_doc(j->b, j->pending[0], &len); /* BULK documents are contiguous, no separators */
        j->req_len = bytes;
    } else {
        buf_clear(&j->body);
        for (uint32_t i = 0; i < k; i++) {
            const char *p = batch_doc(j->b, j->pending[i], &len);
            if (buf_append(&j->body, p, len) != 0) {
                fail_batch(j, "out of memory for a retry body");
                return;
            }
        }
        j->req = j->body.data;
        j->req_len = j->body.len;
    }
    if (s->active >= s->base.max_in_flight) { /* wait for a free request slot */
        j->next_free = NULL;
        if (s->wait_tail) s->wait_tail->next_free = j;
        else s->wait_head = j;
        s->wait_tail = j;
        return;
    }
    send_round(j);
}

static void on_bulk_done(void *ud, aws_response *r);

static void send_round(os_job *j) {
    os_sink *s = j->s;
    aws_request rq;
    memset(&rq, 0, sizeof rq);
    rq.service = s->service;
    rq.region = s->region;
    rq.method = "POST";
    rq.url = s->bulk_url;
    rq.headers = s->headers;
    rq.nheaders = s->nheaders;
    rq.body = j->req;
    rq.body_len = j->req_len;
    rq.sign_flags = s->sign_flags;
    rq.anonymous = s->auth != OS_AUTH_SIGV4;
    /* Unsigned requests need no payload hash: spare the SHA-256 of every body byte. */
    if (rq.anonymous) rq.payload_hash = SIGV4_UNSIGNED_PAYLOAD;
    rq.max_attempts = 1; /* retries are ours: the sink decides per item and per status */
    rq.timeout_ms = s->timeout_ms;
    /* about 250 bytes per success item, up to ~1 KB for a failure with its reason */
    size_t max_body = (size_t)j->ncur * 2048 + (1u << 20);
    rq.max_body = max_body < (256u << 20) ? max_body : (256u << 20);
    rq.on_done = on_bulk_done;
    rq.ud = j;
    j->call = aws_send(s->aws, &rq);
    if (!j->call) {
        fail_batch(j, "the request could not be started (bad URL or closing)");
        return;
    }
    s->active++;
    s->st.requests++;
    s->st.bytes += j->req_len;
}

static void pump_waiting(os_sink *s) {
    while (s->wait_head && s->active < s->base.max_in_flight) {
        os_job *j = s->wait_head;
        s->wait_head = j->next_free;
        if (!s->wait_head) s->wait_tail = NULL;
        send_round(j);
    }
}

/* ---------- answers ---------- */

typedef struct item_ctx {
    os_job *j;
    uint32_t ok, retry, dead;
} item_ctx;

static void on_item(void *ud, const os_bulk_item *it) {
    item_ctx *c = ud;
    os_job *j = c->j;
    uint32_t doc = j->pending[it->index];
    if (it->id) { /* the bulk API answers in request order; check it did */
        size_t dl = 0, il = 0;
        const char *d = batch_doc(j->b, doc, &dl);
        const char *id = os_bulk_doc_id(d, dl, &il);
        if (id && (il != it->id_len || memcmp(id, it->id, il) != 0)) {
            if (j->s->st.id_mismatches++ == 0)
                log_warn("opensearch: item %u answers for _id %.*s, expected %.*s", it->index, (int)it->id_len, it->id,
                         (int)il, id);
        }
    }
    if (it->verdict == OS_ITEM_OK) {
        c->ok++;
    } else if (it->verdict == OS_ITEM_RETRY) {
        j->spare[j->nspare++] = doc;
        c->retry++;
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
        dead_letter_doc(j, doc, reason);
        c->dead++;
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

static void handle_items(os_job *j, const char *body, size_t len) {
    os_sink *s = j->s;
    item_ctx c = {j, 0, 0, 0};
    int errors = 0, rc;
    unsigned want = os_bulk_tokens_for(j->ncur);
    const unsigned most = 64u + 256u * j->ncur; /* error items with deep caused_by chains */
    j->nspare = 0;
    for (;;) {
        if (ensure_tokens(s, want) != 0) {
            rc = OS_BULK_ETOKENS;
            break;
        }
        rc = os_bulk_parse_response(&s->jd, body, len, j->ncur, &errors, on_item, &c);
        if (rc != OS_BULK_ETOKENS || want >= most) break;
        want = want * 2 < most ? want * 2 : most;
    }
    if (rc != OS_BULK_OK) {
        j->nspare = 0;
        s->st.request_retries++;
        retry_later(
            j, rc == OS_BULK_ECOUNT ? "the bulk answer holds a different number of items" : "unreadable bulk answer",
            0);
        return;
    }
    if (!errors) c.ok = j->ncur;
    s->st.documents += c.ok;
    s->st.retried_items += c.retry;
    rebuild_pending(j);
    if (c.retry == 0) {
        j->fails = 0;
        start_round(j);
        return;
    }
    char why[160];
    snprintf(why, sizeof why, "%u of %u documents refused for now (429/5xx), %u stored, %u dead-lettered", c.retry,
             c.ok + c.retry + c.dead, c.ok, c.dead);
    retry_later(j, why, 0);
}

static uint64_t retry_after_ms(const aws_response *r) {
    const char *h = r->http ? http_response_header(r->http, "Retry-After") : NULL;
    if (!h) return 0;
    char *end;
    unsigned long v = strtoul(h, &end, 10);
    return end != h && *end == '\0' && v < 3600 ? (uint64_t)v * 1000 : 0;
}

static void on_bulk_done(void *ud, aws_response *r) {
    os_job *j = ud;
    os_sink *s = j->s;
    j->call = NULL;
    s->active--;
    pump_waiting(s);
    char reason[600], why[1024];
    if (r->result != HTTP_OK) {
        snprintf(why, sizeof why, "%s: %s", http_result_name(r->result), r->message);
        if (retry_result_is_retryable(r->result)) {
            s->st.request_retries++;
            retry_later(j, why, 0);
        } else {
            fail_batch(j, why);
        }
        return;
    }
    if (r->status >= 200 && r->status < 300) {
        handle_items(j, r->body.data, r->body.len);
        return;
    }
    os_bulk_error_reason(&s->jd, r->body.data, r->body.len, reason, sizeof reason);
    snprintf(why, sizeof why, "HTTP %d from %s: %s", r->status, s->bulk_url, reason);
    if (r->status == 401 || r->status == 403) {
        if (s->auth_errors_logged++ == 0)
            log_error("opensearch: the endpoint refused our credentials (auth %s%s): %s; check --os-auth, the "
                      "AWS credentials or OPENSEARCH_USERNAME/OPENSEARCH_PASSWORD",
                      s->auth == OS_AUTH_SIGV4   ? "sigv4 "
                      : s->auth == OS_AUTH_BASIC ? "basic"
                                                 : "none",
                      s->auth == OS_AUTH_SIGV4 ? s->service : "", why);
        fail_batch(j, why);
    } else if (retry_status_is_retryable(r->status)) {
        s->st.request_retries++;
        retry_later(j, why, retry_after_ms(r));
    } else if (r->status == 400 || r->status == 413) {
        if (j->ncur > 1) { /* find the culprit: halves, down to single documents */
            j->limit_docs = (j->ncur + 1) / 2;
            s->st.splits++;
            log_warn("opensearch: %s; splitting into requests of %u documents", why, j->limit_docs);
            j->ncur = 0;
            start_round(j);
        } else {
            dead_letter_doc(j, j->pending[0], why);
            j->nspare = 0;
            rebuild_pending(j);
            start_round(j);
        }
    } else {
        fail_batch(j, why);
    }
}

/* ---------- submit ---------- */

static os_job *take_job(os_sink *s) {
    os_job *j = s->free_jobs;
    if (j) {
        s->free_jobs = j->next_free;
        return j;
    }
    j = calloc(1, sizeof *j);
    if (!j) return NULL;
    if (retry_timer_init(s->loop, &j->timer) != 0) {
        free(j);
        return NULL;
    }
    j->s = s;
    buf_init(&j->body, 0);
    j->next_all = s->all;
    s->all = j;
    return j;
}

static void os_submit(sink *base, batch *b) {
    os_sink *s = (os_sink *)base;
    uint32_t n = batch_count(b);
    s->st.batches++;
    if (s->closing || b->format != BATCH_BULK) {
        log_error("opensearch: %s", s->closing ? "batch submitted after close" : "batch is not in _bulk format");
        s->st.batches_failed++;
        s->base.done(s->base.done_ud, b, 0);
        return;
    }
    if (n == 0) {
        s->base.done(s->base.done_ud, b, 1);
        return;
    }
    os_job *j = take_job(s);
    if (j && j->cap < n) {
        uint32_t *p = realloc(j->pending, sizeof(uint32_t) * n),
                 *q = p ? realloc(j->spare, sizeof(uint32_t) * n) : NULL;
        if (p) j->pending = p;
        if (q) j->spare = q;
        if (p && q) j->cap = n;
    }
    if (!j || j->cap < n) {
        if (j) {
            j->next_free = s->free_jobs;
            s->free_jobs = j;
        }
        log_error("opensearch: out of memory for a batch of %u documents", n);
        s->st.batches_failed++;
        s->base.done(s->base.done_ud, b, 0);
        return;
    }
    s->busy_jobs++;
    j->b = b;
    for (uint32_t i = 0; i < n; i++) j->pending[i] = i;
    j->npending = n;
    j->ncur = j->nspare = 0;
    j->limit_docs = n;
    j->fails = 0;
    j->failed = 0;
    j->body.max = b->max_bytes;  /* a retry body is a subset of the batch */
    batch_body(b, &(size_t){0}); /* close the batch: no more documents while it is out */
    start_round(j);
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
    s->base.max_in_flight = o->max_in_flight > 0 ? o->max_in_flight : SINK_OPENSEARCH_DEFAULT_IN_FLIGHT;
    s->loop = o->loop;
    s->aws = aws;
    snprintf(s->bulk_url, sizeof s->bulk_url, "%s/_bulk", sp.base_url);
    snprintf(s->pattern, sizeof s->pattern, "%s", sp.pattern);
    s->has_pattern = sp.pattern[0] != '\0';
    s->max_request_bytes = o->max_request_bytes && o->max_request_bytes < SINK_OPENSEARCH_MAX_REQUEST_BYTES
                               ? o->max_request_bytes
                               : SINK_OPENSEARCH_MAX_REQUEST_BYTES;
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 300000;
    retry_policy_init(&s->policy);
    s->policy.max_attempts = o->max_attempts > 0 ? o->max_attempts : 0;
    s->policy.base_ms = o->backoff_base_ms ? o->backoff_base_ms : 200;
    s->policy.cap_ms = o->backoff_cap_ms ? o->backoff_cap_ms : 20000;
    if (s->policy.base_ms > s->policy.cap_ms) s->policy.base_ms = s->policy.cap_ms;
    s->headers[s->nheaders++] = "Content-Type: application/x-ndjson";

    const char *env_user = awsconf_getenv(aws_ctx_env(aws), "OPENSEARCH_USERNAME");
    s->auth = sink_opensearch_resolve_auth(o->auth, &sp, o->username != NULL, env_user && *env_user);
    snprintf(s->service, sizeof s->service, "%s", o->service ? o->service : sp.service[0] ? sp.service : "es");
    snprintf(s->region, sizeof s->region, "%s", o->region ? o->region : sp.region[0] ? sp.region : aws_ctx_region(aws));
    if (s->auth == OS_AUTH_SIGV4) {
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

void sink_opensearch_get_stats(const sink *base, sink_opensearch_stats *out) {
    memset(out, 0, sizeof *out);
    if (base && base->ops == &os_ops) *out = ((const os_sink *)base)->st;
}

const char *sink_opensearch_index_pattern(const sink *base) {
    if (!base || base->ops != &os_ops) return NULL;
    const os_sink *s = (const os_sink *)base;
    return s->has_pattern ? s->pattern : NULL;
}

int sink_opensearch_is_spec(const char *arg) { return arg && strncmp(arg, "opensearch:", 11) == 0; }

sink *sink_opensearch_from_spec(uv_loop_t *loop, aws_ctx *aws, const char *spec, const char *auth_name, int in_flight,
                                deadletter *dead) {
    sink_opensearch_options o;
    sink_opensearch_options_default(&o);
    o.loop = loop;
    o.dead = dead;
    if (in_flight > 0) o.max_in_flight = in_flight;
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
        if (strncmp(kv, "auth=", 5) == 0) auth = sink_opensearch_parse_auth(kv + 5);
        else if (strncmp(kv, "service=", 8) == 0 && (strcmp(kv + 8, "es") == 0 || strcmp(kv + 8, "aoss") == 0))
            o.service = kv + 8;
        else if (strncmp(kv, "region=", 7) == 0 && kv[7]) o.region = kv + 7;
        else if (strncmp(kv, "inflight=", 9) == 0 && num_ok && v >= 1 && v <= 64) o.max_in_flight = (int)v;
        else if (strncmp(kv, "attempts=", 9) == 0 && num_ok && v >= 0 && v <= 1000000) o.max_attempts = (int)v;
        else if (strncmp(kv, "max-request=", 12) == 0 && num_ok && v >= 65536 && v <= SINK_OPENSEARCH_MAX_REQUEST_BYTES)
            o.max_request_bytes = (size_t)v;
        else {
            log_error("opensearch: unknown sink option '%s' (auth=none|basic|sigv4, service=es|aoss, region=R, "
                      "inflight=1..64, attempts=N, max-request=BYTES)",
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
