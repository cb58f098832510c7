/* CloudSearch document upload sink; see sink_cloudsearch.h for the behaviour.
 *
 * Each batch in flight is a job of the uploader (sinks/upload/uploader.h), which decides when to send
 * and whether to send again. A job uploads "pieces": first the whole batch body (sent as the
 * indexer built it), and, after a 400 naming bad documents, halves of it rebuilt as [doc,...] in
 * the job's own buffer. Pending halves wait on a small stack (depth-first, so at most
 * log2(documents) + 1 entries). This file only says what each answer means. */
#include "sinks/cloudsearch/sink_cloudsearch.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/log.h"
#include "pipeline/batch.h"
#include "sinks/cloudsearch/cloudsearch_config.h"
#include "sinks/cloudsearch/cloudsearch_proto.h"

#define CS_TOKENS 16384 /* response tokens: ~3 per error message; 320 KB per sink */
#define CS_MAX_RESPONSE (4u << 20)
#define CS_SPLIT_DEPTH 64 /* > log2(UINT32_MAX) + 1 */
#define CS_ERRLOG_SLOTS 32
#define CS_WARNINGS_LOGGED 5 /* per answer; the rest are only counted */
#define CS_MAX_DEAD_PER_BATCH 100

typedef struct cs_range {
    uint32_t lo, hi; /* documents [lo, hi) of the batch */
} cs_range;

typedef struct cs_sink cs_sink;

typedef struct cs_job {
    upload_job up; /* first: the uploader hands it back */
    cs_sink *s;
    struct cs_job *next_all, *next_free;
    batch *b;
    int started;     /* the whole batch went out once */
    int piece_ready; /* cur is chosen and not yet settled (a retry sends it again) */
    cs_range cur;    /* the piece being uploaded */
    const char *body;
    size_t body_len;
    char hash[CRYPTO_SHA256_HEX_LEN + 1]; /* computed once per piece, reused by its retries */
    cs_range stack[CS_SPLIT_DEPTH];
    int depth;
    buf sub;               /* body of a split piece */
    uint32_t dead, splits; /* for this batch */
    int warnings_logged;
} cs_job;

struct cs_sink {
    sink base;
    aws_ctx *aws;
    uploader *up;
    char url[CS_URL_MAX]; /* upload URL; "" while the endpoint is looked up */
    char region[64];
    int region_given;
    int resolving, resolve_failed;
    deadletter *dead;
    long timeout_ms;
    int in_flight_limit;
    cs_job *all, *free_jobs;
    json_doc jd;
    int closing, uploader_gone;
    uint32_t errlog[CS_ERRLOG_SLOTS];
    unsigned nerrlog;
};

static const char *const json_headers[] = {"Content-Type: application/json"};

void sink_cloudsearch_options_default(sink_cloudsearch_options *o) {
    memset(o, 0, sizeof *o);
    upload_options_default(&o->upload);
    o->timeout_ms = 120000;
}

/* ---- logging an error once ---------------------------------------------------------------- */

static uint32_t fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Error level the first time a text is seen, debug afterwards: a wrong secret fails every
 * batch the same way and one line says it. */
static void log_once(cs_sink *s, const char *text) {
    uint32_t h = fnv1a(text);
    unsigned n = s->nerrlog < CS_ERRLOG_SLOTS ? s->nerrlog : CS_ERRLOG_SLOTS;
    for (unsigned i = 0; i < n; i++) {
        if (s->errlog[i] == h) {
            log_debug("%s", text);
            return;
        }
    }
    s->errlog[s->nerrlog++ % CS_ERRLOG_SLOTS] = h;
    log_error("%s", text);
}

/* ---- teardown ----------------------------------------------------------------------------- */

static void maybe_free(cs_sink *s) {
    if (!s->uploader_gone || s->resolving) return;
    for (cs_job *j = s->all, *next; j; j = next) {
        next = j->next_all;
        buf_free(&j->sub);
        free(j);
    }
    json_doc_free(&s->jd);
    free(s);
}

static void on_uploader_closed(void *ud) {
    cs_sink *s = ud;
    s->uploader_gone = 1;
    maybe_free(s);
}

static void cs_close(sink *base) {
    cs_sink *s = (cs_sink *)base;
    if (s->closing) return;
    s->closing = 1;
    uploader_close(s->up, on_uploader_closed, s);
}

/* ---- pieces ------------------------------------------------------------------------------- */

/* Prepares documents [r.lo, r.hi): the batch body itself when r is the whole batch, otherwise a
 * copy of those documents as a new array in the job's buffer. -1 when out of memory. */
static int prepare_piece(cs_job *j, cs_range r) {
    batch *b = j->b;
    j->cur = r;
    if (r.lo == 0 && r.hi == batch_count(b)) {
        j->body = batch_body(b, &j->body_len);
        if (b->sha256_hex[0]) { /* the indexer hashed it, two batches at once */
            memcpy(j->hash, b->sha256_hex, sizeof j->hash);
            j->piece_ready = 1;
            return 0;
        }
    } else {
        if (j->sub.max < b->max_bytes) {
            buf_free(&j->sub);
            buf_init(&j->sub, b->max_bytes); /* a part is never longer than the whole */
        }
        buf_clear(&j->sub);
        int bad = buf_append(&j->sub, "[", 1);
        for (uint32_t i = r.lo; i < r.hi && !bad; i++) {
            size_t n = 0;
            const char *d = batch_doc(b, i, &n);
            bad = !d || (i > r.lo && buf_append(&j->sub, ",", 1)) || buf_append(&j->sub, d, n);
        }
        if (bad || buf_append(&j->sub, "]", 1)) {
            log_error("cloudsearch: cannot build a part of a rejected batch (out of memory)");
            return -1;
        }
        j->body = j->sub.data;
        j->body_len = j->sub.len;
    }
    crypto_sha256_hex(j->body, j->body_len, j->hash);
    j->piece_ready = 1;
    return 0;
}

static upload_next cs_next(upload_job *uj, aws_request *rq, uint32_t *docs) {
    cs_job *j = (cs_job *)uj;
    cs_sink *s = j->s;
    if (s->resolve_failed) return UPLOAD_STOP; /* no endpoint: nothing can be stored (logged) */
    if (!j->piece_ready) {
        cs_range r = {0, batch_count(j->b)};
        if (j->started) {
            if (j->depth == 0) return UPLOAD_DONE;
            r = j->stack[--j->depth];
        }
        j->started = 1;
        if (r.hi == 0) return UPLOAD_DONE; /* "[]" is refused by CloudSearch; nothing to store */
        if (prepare_piece(j, r) != 0) return UPLOAD_STOP;
    }
    rq->service = "cloudsearch";
    rq->region = s->region;
    rq->method = "POST";
    rq->url = s->url;
    rq->headers = json_headers;
    rq->nheaders = 1;
    rq->body = j->body;
    rq->body_len = j->body_len;
    rq->payload_hash = j->hash;
    rq->timeout_ms = s->timeout_ms;
    rq->max_body = CS_MAX_RESPONSE;
    *docs = j->cur.hi - j->cur.lo;
    return UPLOAD_SEND;
}

/* ---- answers ------------------------------------------------------------------------------ */

static void on_message(void *ud, int is_error, const char *msg) {
    cs_job *j = ud;
    if (is_error) return;
    if (j->warnings_logged++ < CS_WARNINGS_LOGGED) log_warn("cloudsearch: warning from the service: %s", msg);
}

/* A 2xx is taken as stored only when it is CloudSearch's documented answer for this piece:
 * {"status":"success","adds":N,"deletes":0} with N the documents sent. Anything else (a proxy's or a
 * load balancer's page, another count) says nothing about what was stored: a failed request. */
static upload_verdict accepted(cs_job *j, const aws_response *r, upload_answer *a) {
    cs_sink *s = j->s;
    uint32_t n = j->cur.hi - j->cur.lo;
    cs_upload_result res;
    j->warnings_logged = 0;
    cs_parse_upload_response(&s->jd, r->body.data, r->body.len, &res, on_message, j);
    if (!res.is_cloudsearch || !res.success || res.adds != (int64_t)n || res.deletes != 0) {
        char start[84];
        upload_body_start(r->body.data ? r->body.data : "", r->body.len, start, sizeof start);
        if (!res.is_cloudsearch)
            snprintf(a->why, sizeof a->why, "HTTP %d with an answer that is not a CloudSearch result (%s)", r->status,
                     start);
        else
            snprintf(a->why, sizeof a->why,
                     "HTTP %d: CloudSearch answered status %s, %" PRId64 " added, %" PRId64 " deleted for %" PRIu32
                     " documents sent",
                     r->status, res.success ? "success" : "not success", res.adds, res.deletes, n);
        return UPLOAD_RETRY; /* the piece stays ready: the same documents go again */
    }
    if (j->warnings_logged > CS_WARNINGS_LOGGED)
        log_warn("cloudsearch: %d more warnings in that answer", j->warnings_logged - CS_WARNINGS_LOGGED);
    a->warnings = j->warnings_logged;
    a->accepted = n;
    j->piece_ready = 0;
    return UPLOAD_OK;
}

/* A 400 about documents: isolate the bad ones by halving; a document rejected alone is kept in
 * the dead-letter file with the service's reason. */
static upload_verdict rejected(cs_job *j, const char *reason, upload_answer *a) {
    cs_sink *s = j->s;
    uint32_t n = j->cur.hi - j->cur.lo;
    if (n == 1 && j->dead >= CS_MAX_DEAD_PER_BATCH) {
        /* So many bad documents means the domain, not the data, is wrong (undefined fields): stop
         * instead of uploading every document alone. This document is not dead-lettered: the piece
         * stays ready, so a batch held while the sink is refusing sends it again once the domain
         * is fixed. */
        char text[CS_MESSAGE_MAX + 256];
        snprintf(text, sizeof text,
                 "cloudsearch: more than %d documents of one batch rejected one by one (last: %s); the domain's "
                 "index fields probably do not match 'ctindex schema'",
                 CS_MAX_DEAD_PER_BATCH, reason);
        log_once(s, text);
        snprintf(a->why, sizeof a->why, "too many documents rejected one by one (%.400s)", reason);
        return UPLOAD_REFUSED;
    }
    j->piece_ready = 0;
    if (n == 1) {
        size_t len = 0;
        const char *doc = batch_doc(j->b, j->cur.lo, &len);
        const char *src = batch_doc_source(j->b, j->cur.lo);
        if (!s->dead) {
            log_warn("cloudsearch: document from %s rejected: %s", src, reason);
        } else if (deadletter_write(s->dead, "document", src, reason, doc, len) != 0) {
            /* Not in the service, not in the file: the batch's records must come back. */
            log_error("cloudsearch: a document from %s was rejected (%s) and could not be written to the dead-letter "
                      "file: its batch is not acknowledged",
                      src, reason);
            snprintf(a->why, sizeof a->why, "dead-letter file not writable");
            return UPLOAD_FAILED;
        }
        j->dead++;
        a->refused = 1;
        return UPLOAD_OK;
    }
    if (j->depth + 2 > CS_SPLIT_DEPTH) { /* cannot happen: depth <= log2(n) + 1 */
        log_error("cloudsearch: split stack exhausted");
        return UPLOAD_FAILED;
    }
    j->splits++;
    a->split = 1;
    log_info("cloudsearch: %" PRIu32 " documents rejected (%s): uploading them in halves to isolate the bad ones", n,
             reason);
    uint32_t mid = j->cur.lo + n / 2;
    cs_range left = {j->cur.lo, mid}, right = {mid, j->cur.hi};
    j->stack[j->depth++] = right;
    j->stack[j->depth++] = left;
    return UPLOAD_OK;
}

static upload_verdict cs_judge(upload_job *uj, const aws_response *r, upload_answer *a) {
    cs_job *j = (cs_job *)uj;
    cs_sink *s = j->s;
    if (r->ok) return accepted(j, r, a);
    if (r->status == 400) {
        cs_upload_result res;
        cs_parse_upload_response(&s->jd, r->body.data, r->body.len, &res, NULL, NULL);
        if ((res.is_cloudsearch && !res.success) || res.too_big)
            return rejected(j,
                            res.message[0]  ? res.message
                            : r->message[0] ? r->message
                                            : "rejected by CloudSearch",
                            a);
    }
    int first = (int)strcspn(r->message, "\r\n"); /* see uploader.c's describe */
    snprintf(a->why, sizeof a->why, "HTTP %d%s%s: %.*s", r->status, r->code[0] ? " " : "", r->code, first,
             r->message[0] ? r->message : "(no message)");
    char text[1900];
    snprintf(text, sizeof text, "cloudsearch: upload to %s refused: %s%s", s->url, a->why,
             r->status == 403 ? " (check the credentials, region and the domain's access policy)" : "");
    log_once(s, text);
    return UPLOAD_REFUSED;
}

static void cs_finished(upload_job *uj, int ok) {
    cs_job *j = (cs_job *)uj;
    cs_sink *s = j->s;
    batch *b = j->b;
    if (j->splits)
        log_info("cloudsearch: batch of %" PRIu32 " documents done after %" PRIu32 " splits: %" PRIu32
                 " documents dead-lettered%s",
                 batch_count(b), j->splits, j->dead, ok ? "" : ", batch failed");
    j->b = NULL;
    j->next_free = s->free_jobs;
    s->free_jobs = j;
    s->base.done(s->base.done_ud, b, ok);
}

static const upload_ops cs_upload_ops = {cs_next, cs_judge, cs_finished};

/* ---- endpoint ----------------------------------------------------------------------------- */

static int set_endpoint(cs_sink *s, const char *endpoint) {
    if (cs_batch_url(endpoint, NULL, s->url, sizeof s->url) != 0) {
        s->url[0] = '\0';
        log_error("cloudsearch: '%s' is not a usable document endpoint", endpoint);
        return -1;
    }
    if (!s->region_given && cs_region_from_endpoint(endpoint, s->region, sizeof s->region) != 0)
        snprintf(s->region, sizeof s->region, "%s", aws_ctx_region(s->aws));
    log_info("cloudsearch: uploading to %s (region %s, %d at once)", s->url, s->region, s->in_flight_limit);
    return 0;
}

static void on_resolved(void *ud, int ok, const cloudsearch_domain_info *info, const char *error) {
    cs_sink *s = ud;
    s->resolving = 0;
    if (!ok || set_endpoint(s, info->doc_url) != 0) {
        if (!ok) log_error("cloudsearch: %s", error);
        s->resolve_failed = 1; /* the batches waiting fail (cs_next) */
    }
    if (s->uploader_gone) maybe_free(s);
    else uploader_release(s->up);
}

/* ---- sink ops ----------------------------------------------------------------------------- */

static cs_job *take_job(cs_sink *s) {
    cs_job *j = s->free_jobs;
    if (j) {
        s->free_jobs = j->next_free;
        return j;
    }
    j = calloc(1, sizeof *j);
    if (!j) {
        /* No way to report the batch from the loop without its job: a few hundred bytes cannot be
         * had, so the process cannot go on anyway; nothing was acknowledged. */
        log_error("cloudsearch: out of memory");
        abort();
    }
    j->s = s;
    buf_init(&j->sub, 0);
    j->next_all = s->all;
    s->all = j;
    return j;
}

static void cs_submit(sink *base, batch *b) {
    cs_sink *s = (cs_sink *)base;
    if (s->closing) {
        log_error("cloudsearch: batch submitted after close: ignored");
        return;
    }
    cs_job *j = take_job(s);
    j->b = b;
    j->started = j->piece_ready = 0;
    j->depth = 0;
    j->dead = j->splits = 0;
    uploader_submit(s->up, &j->up);
}

static const sink_ops cs_ops = {"cloudsearch", cs_submit, cs_close};

sink *sink_cloudsearch_new(aws_ctx *aws, const sink_cloudsearch_options *o) {
    if (!aws || !o || !o->loop || (!o->endpoint && !o->domain)) {
        log_error("cloudsearch: a loop, an aws context and an endpoint or domain are required");
        return NULL;
    }
    cs_sink *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.ops = &cs_ops;
    s->aws = aws;
    s->dead = o->dead;
    upload_options uo = o->upload;
    if (uo.max_in_flight <= 0) uo.max_in_flight = 2;
    if (uo.max_in_flight > 64) uo.max_in_flight = 64;
    s->in_flight_limit = uo.max_in_flight;
    s->base.max_in_flight = uo.max_in_flight;
    s->base.hashes_bodies = 1; /* every upload is signed with the SHA-256 of its body */
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 120000;
    if (o->region && o->region[0]) {
        snprintf(s->region, sizeof s->region, "%s", o->region);
        s->region_given = 1;
    }
    if (json_doc_init(&s->jd, CS_TOKENS) != JSON_OK) {
        free(s);
        return NULL;
    }
    s->up = uploader_new(o->loop, aws, "cloudsearch", &uo, &cs_upload_ops, &s->base);
    if (!s->up) {
        json_doc_free(&s->jd);
        free(s);
        return NULL;
    }
    int bad = 0;
    if (o->endpoint) {
        bad = set_endpoint(s, o->endpoint) != 0;
    } else {
        s->resolving = 1;
        uploader_hold(s->up); /* batches wait for the endpoint */
        if (cloudsearch_describe_domain(aws, o->domain, on_resolved, s) != 0) {
            s->resolving = 0;
            bad = 1;
        } else {
            log_info("cloudsearch: looking up the document endpoint of domain '%s'", o->domain);
        }
    }
    if (bad) {
        cs_close(&s->base); /* frees it once the uploader's timer has closed */
        return NULL;
    }
    return &s->base;
}

/* ---- spec --------------------------------------------------------------------------------- */

sink *sink_cloudsearch_from_spec(uv_loop_t *loop, aws_ctx *aws, const char *spec, const upload_options *up,
                                 deadletter *dead) {
    sink_cloudsearch_options o;
    sink_cloudsearch_options_default(&o);
    o.loop = loop;
    o.dead = dead;
    if (up) {
        int in_flight = o.upload.max_in_flight;
        o.upload = *up;
        if (up->max_in_flight <= 0) o.upload.max_in_flight = in_flight;
    }
    if (strncmp(spec, "cloudsearch:", 12) == 0) spec += 12;
    char copy[CS_URL_MAX + 256];
    if (snprintf(copy, sizeof copy, "%s", spec) >= (int)sizeof copy) {
        log_error("cloudsearch: sink spec too long");
        return NULL;
    }
    char *save = NULL;
    char *target = strtok_r(copy, ",", &save);
    if (!target || !*target) {
        log_error("cloudsearch: the sink needs an endpoint URL or a domain name (cloudsearch:URL or cloudsearch:NAME)");
        return NULL;
    }
    for (char *kv; (kv = strtok_r(NULL, ",", &save));) {
        int known = upload_options_parse(&o.upload, "cloudsearch", kv);
        if (known < 0) return NULL;
        if (known > 0) continue;
        if (strncmp(kv, "region=", 7) == 0 && kv[7]) {
            o.region = kv + 7;
        } else {
            log_error("cloudsearch: unknown sink option '%s' (region=R, " UPLOAD_SPEC_HELP ")", kv);
            return NULL;
        }
    }
    /* A domain name has no '.', ':' or '/': anything else is an endpoint. */
    if (strpbrk(target, ".:/")) {
        o.endpoint = target;
    } else if (cs_domain_name_valid(target)) {
        o.domain = target;
    } else {
        log_error("cloudsearch: '%s' is neither a document endpoint nor a domain name", target);
        return NULL;
    }
    /* The strings only need to live through sink_cloudsearch_new, which copies them. */
    return sink_cloudsearch_new(aws, &o);
}
