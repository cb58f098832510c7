/* CloudSearch document upload sink; see sink_cloudsearch.h for the behaviour.
 *
 * Each batch in flight owns a slot. A slot uploads "pieces": first the whole batch body (sent
 * as the indexer built it), and, after a 400 naming bad documents, halves of it rebuilt as
 * [doc,...] in the slot's own buffer. Pending halves wait on a small stack (depth-first, so at
 * most log2(documents) + 1 entries). Retries are scheduled by the slot's timer; each attempt is
 * a fresh aws_send with max_attempts = 1 so this file decides about every retry and logs it. */
#include "sinks/cloudsearch/sink_cloudsearch.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/log.h"
#include "net/retry.h"
#include "net/retry_timer.h"
#include "pipeline/batch.h"
#include "pipeline/indexer.h"
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

typedef struct cs_slot {
    cs_sink *s;
    batch *b; /* NULL: slot free */
    retry_timer timer;
    int timer_live;
    aws_call *call;
    cs_range cur; /* the piece being uploaded */
    const char *body;
    size_t body_len;
    char hash[CRYPTO_SHA256_HEX_LEN + 1]; /* computed once per piece, reused by its retries */
    int attempt;                          /* attempts made for cur */
    uint64_t t0;
    cs_range stack[CS_SPLIT_DEPTH];
    int depth;
    buf sub;               /* body of a split piece */
    uint32_t dead, splits; /* for this batch */
    int warnings_logged;
} cs_slot;

struct cs_sink {
    sink base;
    aws_ctx *aws;
    uv_loop_t *loop;
    char url[CS_URL_MAX]; /* upload URL; "" while the endpoint is looked up */
    char endpoint[CS_URL_MAX];
    char region[64];
    char domain[64];
    int region_given;
    int resolving, resolve_failed;
    deadletter *dead;
    int max_attempts;
    long timeout_ms;
    retry_policy policy;
    cs_slot *slots;
    int nslots;
    batch **queue; /* FIFO ring of batches waiting for a slot */
    size_t qcap, qhead, qlen;
    json_doc jd;
    int closing, freeing, in_callback, timers_open;
    uint32_t errlog[CS_ERRLOG_SLOTS];
    unsigned nerrlog;
    sink_cloudsearch_counters st;
};

static const char *const json_headers[] = {"Content-Type: application/json"};

static void start_batch(cs_slot *sl, batch *b);
static void maybe_free(cs_sink *s);

void sink_cloudsearch_options_default(sink_cloudsearch_options *o) {
    memset(o, 0, sizeof *o);
    o->max_in_flight = 2;
    o->retry_base_ms = 200;
    o->retry_max_ms = 20000;
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

/* ---- queue -------------------------------------------------------------------------------- */

static int queue_push(cs_sink *s, batch *b) {
    if (s->qlen == s->qcap) {
        size_t ncap = s->qcap ? s->qcap * 2 : 8;
        batch **q = malloc(ncap * sizeof *q);
        if (!q) return -1;
        for (size_t i = 0; i < s->qlen; i++) q[i] = s->queue[(s->qhead + i) % s->qcap];
        free(s->queue);
        s->queue = q;
        s->qcap = ncap;
        s->qhead = 0;
    }
    s->queue[(s->qhead + s->qlen) % s->qcap] = b;
    s->qlen++;
    return 0;
}

static batch *queue_pop(cs_sink *s) {
    if (s->qlen == 0) return NULL;
    batch *b = s->queue[s->qhead];
    s->qhead = (s->qhead + 1) % s->qcap;
    s->qlen--;
    return b;
}

/* ---- completion --------------------------------------------------------------------------- */

static void finish_batch(cs_sink *s, batch *b, int ok) {
    if (ok) s->st.batches++;
    else s->st.batches_failed++;
    s->in_callback++;
    s->base.done(s->base.done_ud, b, ok);
    s->in_callback--;
}

/* Hand waiting batches to free slots. */
static void pump(cs_sink *s) {
    batch *b;
    if (s->resolve_failed) { /* no endpoint: nothing can be stored (the reason was logged) */
        while ((b = queue_pop(s))) finish_batch(s, b, 0);
        return;
    }
    if (!s->url[0]) return; /* endpoint being looked up */
    for (int i = 0; i < s->nslots && s->qlen > 0; i++)
        if (!s->slots[i].b) start_batch(&s->slots[i], queue_pop(s));
}

static void complete(cs_slot *sl, int ok) {
    cs_sink *s = sl->s;
    batch *b = sl->b;
    if (sl->splits)
        log_info("cloudsearch: batch of %" PRIu32 " documents done after %" PRIu32 " splits: %" PRIu32
                 " documents dead-lettered%s",
                 batch_count(b), sl->splits, sl->dead, ok ? "" : ", batch failed");
    sl->b = NULL;
    sl->depth = 0;
    /* Held across the callbacks so a nested completion never frees the sink under us. */
    s->in_callback++;
    finish_batch(s, b, ok);
    pump(s);
    s->in_callback--;
    maybe_free(s);
}

/* ---- uploads ------------------------------------------------------------------------------ */

static void on_upload_done(void *ud, aws_response *r);

static void send_piece(cs_slot *sl) {
    cs_sink *s = sl->s;
    aws_request rq = {
        .service = "cloudsearch",
        .region = s->region,
        .method = "POST",
        .url = s->url,
        .headers = json_headers,
        .nheaders = 1,
        .body = sl->body,
        .body_len = sl->body_len,
        .payload_hash = sl->hash,
        .max_attempts = 1,
        .timeout_ms = s->timeout_ms,
        .max_body = CS_MAX_RESPONSE,
        .on_done = on_upload_done,
        .ud = sl,
    };
    sl->attempt++;
    s->st.uploads++;
    s->st.bytes_uploaded += sl->body_len;
    sl->t0 = uv_hrtime();
    sl->call = aws_send(s->aws, &rq);
    if (!sl->call) {
        char text[CS_URL_MAX + 128];
        snprintf(text, sizeof text, "cloudsearch: cannot start an upload to %s (closing, or a bad URL)", s->url);
        log_once(s, text);
        complete(sl, 0);
    }
}

static void retry_fire(void *ud) { send_piece(ud); }

/* Starts uploading documents [r.lo, r.hi): the batch body itself when r is the whole batch,
 * otherwise a copy of those documents as a new array in the slot's buffer. */
static void start_piece(cs_slot *sl, cs_range r) {
    batch *b = sl->b;
    sl->cur = r;
    sl->attempt = 0;
    if (r.lo == 0 && r.hi == batch_count(b)) {
        sl->body = batch_body(b, &sl->body_len);
    } else {
        if (sl->sub.max < b->max_bytes) {
            buf_free(&sl->sub);
            buf_init(&sl->sub, b->max_bytes); /* a part is never longer than the whole */
        }
        buf_clear(&sl->sub);
        int bad = buf_append(&sl->sub, "[", 1);
        for (uint32_t i = r.lo; i < r.hi && !bad; i++) {
            size_t n = 0;
            const char *d = batch_doc(b, i, &n);
            bad = !d || (i > r.lo && buf_append(&sl->sub, ",", 1)) || buf_append(&sl->sub, d, n);
        }
        if (bad || buf_append(&sl->sub, "]", 1)) {
            log_error("cloudsearch: cannot build a part of a rejected batch (out of memory)");
            complete(sl, 0);
            return;
        }
        sl->body = sl->sub.data;
        sl->body_len = sl->sub.len;
    }
    crypto_sha256_hex(sl->body, sl->body_len, sl->hash);
    send_piece(sl);
}

static void start_batch(cs_slot *sl, batch *b) {
    sl->b = b;
    sl->depth = 0;
    sl->dead = sl->splits = 0;
    cs_range all = {0, batch_count(b)};
    start_piece(sl, all);
}

static void next_piece(cs_slot *sl) {
    if (sl->depth == 0) {
        complete(sl, 1);
        return;
    }
    start_piece(sl, sl->stack[--sl->depth]);
}

static void on_message(void *ud, int is_error, const char *msg) {
    cs_slot *sl = ud;
    if (is_error) return;
    sl->s->st.warnings++;
    if (sl->warnings_logged++ < CS_WARNINGS_LOGGED) log_warn("cloudsearch: warning from the service: %s", msg);
}

static void accepted(cs_slot *sl, const aws_response *r) {
    cs_sink *s = sl->s;
    uint32_t n = sl->cur.hi - sl->cur.lo;
    cs_upload_result res;
    sl->warnings_logged = 0;
    cs_parse_upload_response(&s->jd, r->body.data, r->body.len, &res, on_message, sl);
    if (sl->warnings_logged > CS_WARNINGS_LOGGED)
        log_warn("cloudsearch: %d more warnings in that answer", sl->warnings_logged - CS_WARNINGS_LOGGED);
    if (!res.is_cloudsearch)
        log_warn("cloudsearch: HTTP %d with an answer that is not a CloudSearch result; taking the %" PRIu32
                 " documents as accepted",
                 r->status, n);
    else if (res.adds >= 0 && (uint64_t)res.adds != n) {
        s->st.adds_mismatch++;
        log_warn("cloudsearch: %" PRIu32 " documents sent but the service reports %" PRId64 " added (%" PRId64
                 " difference)",
                 n, res.adds, (int64_t)n - res.adds);
    }
    s->st.docs_accepted += n;
    next_piece(sl);
}

/* A 400 about documents: isolate the bad ones by halving; a document rejected alone is kept in
 * the dead-letter file with the service's reason. */
static void rejected(cs_slot *sl, const char *reason) {
    cs_sink *s = sl->s;
    uint32_t n = sl->cur.hi - sl->cur.lo;
    if (n == 1) {
        size_t len = 0;
        const char *doc = batch_doc(sl->b, sl->cur.lo, &len);
        deadletter_write(s->dead, "document", indexer_doc_source(sl->b, sl->cur.lo), reason, doc, len);
        sl->dead++;
        s->st.dead_lettered++;
        s->base.dead_lettered++;
        if (sl->dead > CS_MAX_DEAD_PER_BATCH) {
            /* So many bad documents means the domain, not the data, is wrong (undefined fields):
             * stop instead of uploading every document alone. */
            char text[CS_MESSAGE_MAX + 256];
            snprintf(text, sizeof text,
                     "cloudsearch: more than %d documents of one batch rejected one by one (last: %s); the domain's "
                     "index fields probably do not match 'ctindex schema': batch failed",
                     CS_MAX_DEAD_PER_BATCH, reason);
            log_once(s, text);
            complete(sl, 0);
            return;
        }
        next_piece(sl);
        return;
    }
    if (sl->depth + 2 > CS_SPLIT_DEPTH) { /* cannot happen: depth <= log2(n) + 1 */
        log_error("cloudsearch: split stack exhausted");
        complete(sl, 0);
        return;
    }
    s->st.splits++;
    sl->splits++;
    log_info("cloudsearch: %" PRIu32 " documents rejected (%s): uploading them in halves to isolate the bad ones", n,
             reason);
    uint32_t mid = sl->cur.lo + n / 2;
    cs_range left = {sl->cur.lo, mid}, right = {mid, sl->cur.hi};
    sl->stack[sl->depth++] = right;
    sl->stack[sl->depth++] = left;
    next_piece(sl);
}

static uint64_t retry_after_ms(const aws_response *r) {
    const char *v = r->http ? http_response_header(r->http, "Retry-After") : NULL;
    if (!v) return 0;
    char *end;
    unsigned long long sec = strtoull(v, &end, 10);
    return (end != v && *end == '\0' && sec < 3600) ? sec * 1000 : 0;
}

static void describe_error(const cs_sink *s, const aws_response *r, char *out, size_t cap) {
    if (r->result != HTTP_OK) {
        snprintf(out, cap, "%s (%s)", r->message[0] ? r->message : "no response", http_result_name(r->result));
        return;
    }
    /* First line only: AWS appends the expected canonical request (with its timestamp) to
     * SignatureDoesNotMatch, which would make every occurrence look new and span lines. */
    int first = (int)strcspn(r->message, "\r\n");
    snprintf(out, cap, "HTTP %d%s%s: %.*s", r->status, r->code[0] ? " " : "", r->code, first,
             r->message[0] ? r->message : "(no message)");
    (void)s;
}

static void schedule_retry(cs_slot *sl, const aws_response *r) {
    cs_sink *s = sl->s;
    char why[700];
    describe_error(s, r, why, sizeof why);
    if (s->max_attempts > 0 && sl->attempt >= s->max_attempts) {
        char text[2000];
        snprintf(text, sizeof text, "cloudsearch: upload to %s failed after %d attempts: %s; batch failed", s->url,
                 sl->attempt, why);
        log_once(s, text);
        complete(sl, 0);
        return;
    }
    int throttled = r->status == 429 || r->status == 503 || r->status == 507 || r->status == 509 ||
                    retry_code_is_throttling(r->code);
    if (throttled) s->st.throttled++;
    s->st.retries++;
    uint64_t delay = retry_backoff_ms(&s->policy, sl->attempt - 1);
    uint64_t hint = retry_after_ms(r);
    if (hint > delay) delay = hint < s->policy.cap_ms ? hint : s->policy.cap_ms;
    log_warn("cloudsearch: upload of %" PRIu32 " documents (%zu bytes) failed: %s; attempt %d, retrying in %" PRIu64
             " ms",
             sl->cur.hi - sl->cur.lo, sl->body_len, why, sl->attempt, delay);
    retry_timer_start(&sl->timer, delay, retry_fire, sl);
}

static void on_upload_done(void *ud, aws_response *r) {
    cs_slot *sl = ud;
    cs_sink *s = sl->s;
    sl->call = NULL;
    s->st.upload_ns += uv_hrtime() - sl->t0;
    if (r->ok) {
        accepted(sl, r);
        return;
    }
    int retryable = r->result != HTTP_OK ? retry_result_is_retryable(r->result)
                                         : (retry_status_is_retryable(r->status) || retry_code_is_retryable(r->code));
    if (retryable) {
        schedule_retry(sl, r);
        return;
    }
    if (r->result == HTTP_OK && r->status == 400) {
        cs_upload_result res;
        cs_parse_upload_response(&s->jd, r->body.data, r->body.len, &res, NULL, NULL);
        if ((res.is_cloudsearch && !res.success) || res.too_big) {
            rejected(sl, res.message[0] ? res.message : r->message[0] ? r->message : "rejected by CloudSearch");
            return;
        }
    }
    char why[700], text[2000];
    describe_error(s, r, why, sizeof why);
    snprintf(text, sizeof text, "cloudsearch: upload to %s refused: %s%s; the batch's records are not acknowledged",
             s->url, why, r->status == 403 ? " (check the credentials, region and the domain's access policy)" : "");
    log_once(s, text);
    complete(sl, 0);
}

/* ---- endpoint ----------------------------------------------------------------------------- */

static int set_endpoint(cs_sink *s, const char *endpoint) {
    if (cs_batch_url(endpoint, NULL, s->url, sizeof s->url) != 0) {
        s->url[0] = '\0';
        log_error("cloudsearch: '%s' is not a usable document endpoint", endpoint);
        return -1;
    }
    snprintf(s->endpoint, sizeof s->endpoint, "%s", endpoint);
    if (!s->region_given && cs_region_from_endpoint(endpoint, s->region, sizeof s->region) != 0)
        snprintf(s->region, sizeof s->region, "%s", aws_ctx_region(s->aws));
    log_info("cloudsearch: uploading to %s (region %s, %d at once)", s->url, s->region, s->nslots);
    return 0;
}

static void on_resolved(void *ud, int ok, const cloudsearch_domain_info *info, const char *error) {
    cs_sink *s = ud;
    s->resolving = 0;
    if (!ok || set_endpoint(s, info->doc_url) != 0) {
        if (!ok) log_error("cloudsearch: %s", error);
        s->resolve_failed = 1;
    }
    s->in_callback++;
    pump(s);
    s->in_callback--;
    maybe_free(s);
}

/* ---- sink ops ----------------------------------------------------------------------------- */

static void cs_submit(sink *base, batch *b) {
    cs_sink *s = (cs_sink *)base;
    if (s->closing) {
        log_error("cloudsearch: batch submitted after close");
        finish_batch(s, b, 0);
        return;
    }
    if (batch_count(b) == 0) { /* "[]" is refused by CloudSearch; nothing to store */
        finish_batch(s, b, 1);
        return;
    }
    if (queue_push(s, b) != 0) {
        log_error("cloudsearch: out of memory");
        finish_batch(s, b, 0);
        return;
    }
    pump(s);
}

static void on_timer_closed(retry_timer *t) {
    cs_slot *sl = (cs_slot *)((char *)t - offsetof(cs_slot, timer));
    cs_sink *s = sl->s;
    if (--s->timers_open > 0) return;
    for (int i = 0; i < s->nslots; i++) buf_free(&s->slots[i].sub);
    free(s->slots);
    free(s->queue);
    json_doc_free(&s->jd);
    free(s);
}

static int busy(const cs_sink *s) {
    if (s->qlen > 0 || s->resolving) return 1;
    for (int i = 0; i < s->nslots; i++)
        if (s->slots[i].b) return 1;
    return 0;
}

/* Frees the sink once closed and idle; the memory goes when the last timer has closed. */
static void maybe_free(cs_sink *s) {
    if (!s->closing || s->freeing || s->in_callback || busy(s)) return;
    s->freeing = 1;
    if (s->timers_open == 0) {
        s->timers_open = 1; /* nothing to close: free through the same path */
        on_timer_closed(&s->slots[0].timer);
        return;
    }
    for (int i = 0; i < s->nslots; i++)
        if (s->slots[i].timer_live) retry_timer_close(&s->slots[i].timer, on_timer_closed);
}

static void cs_close(sink *base) {
    cs_sink *s = (cs_sink *)base;
    s->closing = 1;
    maybe_free(s);
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
    s->loop = o->loop;
    s->dead = o->dead;
    s->nslots = o->max_in_flight > 0 ? o->max_in_flight : 2;
    if (s->nslots > 64) s->nslots = 64;
    s->base.max_in_flight = s->nslots;
    s->max_attempts = o->max_attempts;
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 120000;
    retry_policy_init(&s->policy);
    s->policy.max_attempts = 0;
    s->policy.base_ms = o->retry_base_ms ? o->retry_base_ms : 200;
    s->policy.cap_ms = o->retry_max_ms ? o->retry_max_ms : 20000;
    if (o->region && o->region[0]) {
        snprintf(s->region, sizeof s->region, "%s", o->region);
        s->region_given = 1;
    }
    s->slots = calloc((size_t)s->nslots, sizeof *s->slots);
    if (!s->slots || json_doc_init(&s->jd, CS_TOKENS) != JSON_OK) goto fail;
    for (int i = 0; i < s->nslots; i++) {
        s->slots[i].s = s;
        buf_init(&s->slots[i].sub, 0);
        if (retry_timer_init(s->loop, &s->slots[i].timer) != 0) goto fail_timers;
        s->slots[i].timer_live = 1;
        s->timers_open++;
    }
    if (o->endpoint) {
        if (set_endpoint(s, o->endpoint) != 0) goto fail_timers;
    } else {
        snprintf(s->domain, sizeof s->domain, "%s", o->domain);
        s->resolving = 1;
        if (cloudsearch_describe_domain(aws, o->domain, on_resolved, s) != 0) goto fail_timers;
        log_info("cloudsearch: looking up the document endpoint of domain '%s'", o->domain);
    }
    return &s->base;
fail_timers:
    /* Timers already initialised must be closed through the loop. */
    s->resolving = 0;
    s->closing = 1;
    if (s->timers_open > 0) {
        maybe_free(s);
        return NULL;
    }
fail:
    if (s->slots) free(s->slots);
    json_doc_free(&s->jd);
    free(s);
    return NULL;
}

/* ---- spec, stats -------------------------------------------------------------------------- */

sink *sink_cloudsearch_from_spec(uv_loop_t *loop, aws_ctx *aws, const char *spec, int in_flight, deadletter *dead) {
    sink_cloudsearch_options o;
    sink_cloudsearch_options_default(&o);
    o.loop = loop;
    o.dead = dead;
    if (in_flight > 0) o.max_in_flight = in_flight;
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
        char *eq = strchr(kv, '=');
        char *end = NULL;
        long v = eq ? strtol(eq + 1, &end, 10) : 0;
        int num_ok = eq && end != eq + 1 && *end == '\0';
        if (eq && strncmp(kv, "region=", 7) == 0 && eq[1]) o.region = eq + 1;
        else if (strncmp(kv, "inflight=", 9) == 0 && num_ok && v >= 1 && v <= 64) o.max_in_flight = (int)v;
        else if (strncmp(kv, "attempts=", 9) == 0 && num_ok && v >= 0 && v <= 1000000) o.max_attempts = (int)v;
        else {
            log_error("cloudsearch: unknown sink option '%s' (region=R, inflight=1..64, attempts=N)", kv);
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

int sink_cloudsearch_stats(const sink *s, sink_cloudsearch_counters *out) {
    if (!s || s->ops != &cs_ops) return -1;
    *out = ((const cs_sink *)s)->st;
    return 0;
}

const char *sink_cloudsearch_endpoint(const sink *s) {
    if (!s || s->ops != &cs_ops) return "";
    return ((const cs_sink *)s)->endpoint;
}
