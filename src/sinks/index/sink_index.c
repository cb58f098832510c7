#include "sinks/index/sink_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "index/ix_store.h"
#include "index/sdf_parse.h"
#include "pipeline/batch.h"
#include "pipeline/deadletter.h"
#include "pipeline/indexer.h"

#define QUEUE_MAX 8

typedef struct refusal {
    uint32_t doc;
    char why[256];
} refusal;

typedef struct ix_sink {
    sink base;
    uv_loop_t *loop;
    ix_store *store;
    deadletter *dead;
    char path[4096];
    uv_work_t work;
    int busy, closing, closed;
    /* Failures found inside index_submit are reported from the loop (an asynchronous API never
     * calls back from inside the call that started it): defer runs on_defer. */
    uv_timer_t defer;
    int queue_rc;     /* uv_queue_work's error for cur, reported as its result */
    batch **rejected; /* submitted to a full queue: failed by on_defer (grows with a caller past
                       * max_in_flight: only pointers to its own batches) */
    int nrejected, cap_rejected;
    batch *queue[QUEUE_MAX];
    double queued_at[QUEUE_MAX];
    int qhead, qlen;
    /* the job being written (touched by the worker only while busy) */
    batch *cur;
    json_doc jd;
    buf prefix; /* sdf_parse_trusted's copy */
    buf whole;  /* a refused document with raw put back (batch_doc_whole), for its dead letter */
    sdf_op op;
    int ok;
    char err[512];
    refusal *refused;
    uint32_t nrefused, cap_refused;
    double job_s;
    sink_index_stats st;
} ix_sink;

static const sink_ops index_ops;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void refuse(ix_sink *s, uint32_t doc, const char *why) {
    if (s->nrefused == s->cap_refused) {
        uint32_t cap = s->cap_refused ? s->cap_refused * 2 : 16;
        refusal *r = realloc(s->refused, cap * sizeof *r);
        if (!r) {
            s->ok = 0; /* cannot even remember it: fail the batch rather than lose the document */
            return;
        }
        s->refused = r;
        s->cap_refused = cap;
    }
    s->refused[s->nrefused].doc = doc;
    /* a reason longer than the slot is cut: it only has to say what went wrong */
    snprintf(s->refused[s->nrefused].why, sizeof s->refused[0].why, "%.*s", (int)sizeof s->refused[0].why - 1, why);
    s->nrefused++;
}

/* On a worker thread: the whole batch in one transaction. */
static void write_batch(uv_work_t *w) {
    ix_sink *s = w->data;
    double t0 = now_s();
    batch *b = s->cur;
    s->ok = 1;
    s->nrefused = 0;
    s->err[0] = '\0';
    if (ix_begin(s->store, s->err, sizeof s->err) != 0) {
        s->ok = 0;
        return;
    }
    char why[512];
    for (uint32_t i = 0; i < batch_count(b) && s->ok; i++) {
        size_t len = 0;
        const char *doc = batch_doc(b, i, &len);
        sdf_hint hint;
        hint.rec = batch_doc_record(b, i, &hint.rec_len, &hint.raw_at, &hint.raw_len);
        size_t nfl;
        const batch_field *fl = batch_doc_fields(b, i, &nfl);
        /* the builder's field list where it kept one: the text is not parsed */
        int rc =
            fl ? sdf_parse_fields(&s->jd, doc, len, i + 1, fl, nfl, hint.rec ? &hint : NULL, &s->op, why, sizeof why)
               : sdf_parse_hinted(&s->jd, doc, len, i + 1, hint.rec ? &hint : NULL, &s->prefix, &s->op, why,
                                  sizeof why);
        if (rc != 0) {
            refuse(s, i, why);
            continue;
        }
        unsigned flags = (batch_doc_flags(b, i) & BATCH_DOC_DERIVED) ? IX_APPLY_DERIVED : 0;
        rc = ix_apply(s->store, &s->jd, &s->op, doc, len, flags, why, sizeof why);
        if (rc == -1) refuse(s, i, why);
        else if (rc != 0) {
            snprintf(s->err, sizeof s->err, "%s", why);
            s->ok = 0;
        }
    }
    if (s->ok && ix_commit(s->store, s->err, sizeof s->err) != 0) s->ok = 0;
    if (!s->ok) ix_rollback(s->store);
    s->job_s = now_s() - t0;
}

static void start_next(ix_sink *s);
static void on_defer(uv_timer_t *t);

static void batch_written(uv_work_t *w, int status) {
    ix_sink *s = w->data;
    batch *b = s->cur;
    s->busy = 0;
    s->cur = NULL;
    int ok = status == 0 && s->ok;
    s->st.batches++;
    s->st.work_s += s->job_s;
    if (!ok) {
        log_error("index %s: batch of %u documents not stored: %s", s->path, batch_count(b),
                  status ? uv_strerror(status) : s->err);
    } else {
        /* Refused documents are kept in the dead-letter file before the batch is acknowledged;
         * one that cannot be written there fails the batch: its records come back, and the
         * documents already stored are found by id and left alone then. */
        for (uint32_t i = 0; i < s->nrefused && ok; i++) {
            uint32_t d = s->refused[i].doc;
            /* the document whole: raw's value is put back where the builder left it out */
            size_t len = batch_doc_whole_len(b, d);
            buf_clear(&s->whole);
            if (buf_reserve(&s->whole, len) == 0) s->whole.len = batch_doc_whole(b, d, s->whole.data, s->whole.cap);
            const char *src = batch_doc_source(b, d);
            if (!s->dead) {
                log_warn("index %s: document from %s refused: %s", s->path, src, s->refused[i].why);
            } else if (s->whole.len != len ||
                       deadletter_write(s->dead, "document", src, s->refused[i].why, s->whole.data, len) != 0) {
                log_error("index %s: a document from %s was refused (%s) and could not be written to the "
                          "dead-letter file: its batch is not acknowledged",
                          s->path, src, s->refused[i].why);
                ok = 0;
                break;
            }
            s->base.stats.dead_lettered++;
            s->st.refused++;
        }
        const ix_write_stats *ws = ix_get_write_stats(s->store);
        s->st.adds = ws->adds;
        s->st.unchanged = ws->unchanged;
        s->st.stored_bytes = ws->stored_bytes;
    }
    s->st.batches_failed += !ok;
    s->base.stats.batches++;
    if (ok) s->base.stats.docs_accepted += batch_count(b) - s->nrefused;
    else s->base.stats.batches_failed++;
    s->base.done(s->base.done_ud, b, ok);
    start_next(s);
}

static void on_closed(uv_handle_t *h) { free(h->data); }

static void finish_close(ix_sink *s) {
    if (s->closed) return;
    s->closed = 1;
    if (s->st.batches)
        log_info("index %s: %llu batches (%llu failed), %llu documents stored (%llu unchanged), %llu refused, "
                 "%.2f s writing, %lld documents in the index",
                 s->path, (unsigned long long)s->st.batches, (unsigned long long)s->st.batches_failed,
                 (unsigned long long)s->st.adds, (unsigned long long)s->st.unchanged, (unsigned long long)s->st.refused,
                 s->st.work_s, (long long)ix_doc_count(s->store));
    ix_close(s->store);
    json_doc_free(&s->jd);
    buf_free(&s->prefix);
    buf_free(&s->whole);
    free(s->refused);
    free(s->rejected);
    uv_close((uv_handle_t *)&s->defer, on_closed); /* frees s */
}

static void start_next(ix_sink *s) {
    if (s->busy) return;
    if (!s->qlen) {
        if (s->closing && !s->nrejected) finish_close(s);
        return;
    }
    s->cur = s->queue[s->qhead];
    s->st.commit_wait_s += now_s() - s->queued_at[s->qhead];
    s->qhead = (s->qhead + 1) % QUEUE_MAX;
    s->qlen--;
    s->busy = 1;
    s->work.data = s;
    int rc = uv_queue_work(s->loop, &s->work, write_batch, batch_written);
    if (rc != 0) { /* cannot happen with a valid loop: the batch fails, from the loop, as written */
        s->queue_rc = rc;
        s->job_s = 0;
        uv_timer_start(&s->defer, on_defer, 0, 0);
    }
}

static void on_defer(uv_timer_t *t) {
    ix_sink *s = t->data;
    while (s->nrejected) {
        batch *b = s->rejected[0];
        s->nrejected--;
        memmove(s->rejected, s->rejected + 1, (size_t)s->nrejected * sizeof s->rejected[0]);
        s->base.done(s->base.done_ud, b, 0);
    }
    if (s->queue_rc) {
        int rc = s->queue_rc;
        s->queue_rc = 0;
        batch_written(&s->work, rc); /* goes on with the next batch */
    } else {
        start_next(s); /* closes when closing and idle */
    }
}

static void index_submit(sink *base, batch *b) {
    ix_sink *s = (ix_sink *)base;
    if (s->qlen == QUEUE_MAX) { /* the indexer never has more in flight than max_in_flight */
        log_error("index %s: too many batches queued", s->path);
        if (s->nrejected == s->cap_rejected) {
            int cap = s->cap_rejected ? s->cap_rejected * 2 : QUEUE_MAX;
            batch **r = realloc(s->rejected, (size_t)cap * sizeof *r);
            if (!r) { /* out of memory: the only case that still answers inside submit */
                s->base.done(s->base.done_ud, b, 0);
                return;
            }
            s->rejected = r;
            s->cap_rejected = cap;
        }
        s->rejected[s->nrejected++] = b;
        uv_timer_start(&s->defer, on_defer, 0, 0);
        return;
    }
    int tail = (s->qhead + s->qlen) % QUEUE_MAX;
    s->queue[tail] = b;
    s->queued_at[tail] = now_s();
    s->qlen++;
    start_next(s);
}

static void index_close(sink *base) {
    ix_sink *s = (ix_sink *)base;
    s->closing = 1;
    if (!s->busy && !s->qlen && !s->nrejected) finish_close(s);
}

static const sink_ops index_ops = {"index", index_submit, index_close};

sink *sink_index_open(uv_loop_t *loop, const char *path, int durable, deadletter *dead) {
    ix_sink *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    char err[512];
    s->store = ix_open(path, durable ? IX_WRITE | IX_DURABLE : IX_WRITE, err, sizeof err);
    if (!s->store) {
        log_error("%s", err);
        free(s);
        return NULL;
    }
    if (json_doc_init(&s->jd, SDF_MAX_TOKENS) != JSON_OK) {
        ix_close(s->store);
        free(s);
        return NULL;
    }
    buf_init(&s->prefix, SDF_MAX_DOC_BYTES + 16);
    buf_init(&s->whole, UINT32_MAX); /* a document is never larger than its batch */
    s->base.ops = &index_ops;
    s->base.keeps_records = 1; /* raw's record beside each document: stored without decoding raw */
    s->base.max_in_flight = 2; /* one being written, one waiting: the loop builds the next meanwhile */
    s->loop = loop;
    uv_timer_init(loop, &s->defer);
    s->defer.data = s;
    s->dead = dead;
    snprintf(s->path, sizeof s->path, "%s", path);
    return &s->base;
}

int sink_index_get_stats(const sink *base, sink_index_stats *out) {
    if (!base || base->ops != &index_ops) return -1;
    *out = ((const ix_sink *)base)->st;
    return 0;
}
