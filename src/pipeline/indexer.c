#include "pipeline/indexer.h"

#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/log.h"
#include "pipeline/batch.h"
#include "pipeline/deadletter.h"
#include "pipeline/docbuild.h"

/* Dead-lettered records waiting, in durable mode, for the dead-letter file's sync: a count per
 * owner, acknowledged together at the next indexer_flush (or when DEAD_WAIT_RUNS owners wait),
 * so a file of many bad records pays one fsync, not one per record. */
#define DEAD_WAIT_RUNS 64

typedef struct dead_wait {
    indexer_owner *owner;
    uint32_t n;
} dead_wait;

struct indexer {
    indexer_options opt;
    sink *sink;
    doc_builder *db;
    batch *pool;
    batch **free_batches;
    int nfree;
    batch *cur;
    batch *held;   /* full, waiting to be hashed together with the next full one (see seal_full) */
    int pair_full; /* hold full batches for a partner: the sink hashes bodies, pairs are faster */
    int in_flight;
    indexer_stats st;
    void (*space_fn)(void *);
    void *space_ud;
    deadletter *dead;
    dead_wait waiting[DEAD_WAIT_RUNS];
    int nwaiting;
    uint32_t waiting_records;
    uint64_t waiting_first; /* dead-letter entry number of the first waiting record */
    int64_t *event_times;   /* with clock_s: batch i's document k at [i * batch_docs + k] */
};

void indexer_options_default(indexer_options *o) {
    memset(o, 0, sizeof *o);
    o->batch_bytes = 5000000;
    o->batch_docs = 50000;
    o->batches = 3;
    o->include_raw = 1;
    o->fields = SCHEMA_PROFILE_DEFAULT;
    o->max_record = 2u << 20;
    o->max_doc_bytes = 1u << 20;
    o->index_pattern = "cloudtrail-%Y.%m.%d";
}

/* Each stored document's delay since its record's eventTime (0 when it had none). */
static void observe_delays(indexer *ix, const batch *b) {
    const int64_t *t = ix->event_times + (size_t)(b - ix->pool) * ix->opt.batch_docs;
    int64_t now = ix->opt.clock_s();
    uint32_t n = batch_count(b);
    for (uint32_t i = 0; i < n; i++)
        if (t[i] > 0) histogram_observe(&ix->st.record_delay, now > t[i] ? (double)(now - t[i]) : 0.0);
}

static void on_batch_done(void *ud, batch *b, int ok) {
    indexer *ix = ud;
    if (ok && ix->event_times) observe_delays(ix, b);
    /* Acknowledge in the order the records arrived; an owner may finish (and be reused) here. */
    uint32_t nruns = 0;
    const batch_owner_run *runs = batch_owners(b, &nruns);
    for (uint32_t i = 0; i < nruns; i++) {
        indexer_owner *o = runs[i].owner;
        if (o) o->acked(o, runs[i].count, ok);
    }
    if (!ok) ix->st.batches_failed++;
    batch_reset(b);
    ix->free_batches[ix->nfree++] = b;
    ix->in_flight--;
    if (ix->space_fn) ix->space_fn(ix->space_ud);
}

indexer *indexer_new(const indexer_options *o, sink *s) {
    indexer *ix = calloc(1, sizeof *ix);
    if (!ix) return NULL;
    ix->opt = *o;
    ix->sink = s;
    s->done = on_batch_done;
    s->done_ud = ix;
    ix->pair_full = s->hashes_bodies && crypto_sha256_pair_faster();
    if (ix->opt.batches < 1) ix->opt.batches = 1;
    if (ix->pair_full) ix->opt.batches++; /* the one held for its partner (seal_full) */
    docb_options dbo;
    docb_options_default(&dbo);
    dbo.format = o->bulk ? BATCH_BULK : BATCH_SDF;
    dbo.include_raw = o->include_raw;
    dbo.profile = o->fields;
    dbo.max_record_bytes = o->max_record;
    if (o->max_doc_bytes) dbo.max_doc_bytes = o->max_doc_bytes;
    if (o->index_pattern) dbo.index_pattern = o->index_pattern;
    ix->db = docb_new(&dbo);
    ix->pool = calloc((size_t)ix->opt.batches, sizeof *ix->pool);
    ix->free_batches = calloc((size_t)ix->opt.batches, sizeof *ix->free_batches);
    ix->dead = o->dead;
    histogram_init(&ix->st.record_delay, histogram_delay_seconds, histogram_delay_seconds_n);
    if (o->clock_s && ix->opt.batch_docs > 0)
        ix->event_times = calloc((size_t)ix->opt.batches * ix->opt.batch_docs, sizeof *ix->event_times);
    if (!ix->db || !ix->pool || !ix->free_batches || (o->clock_s && ix->opt.batch_docs > 0 && !ix->event_times))
        goto fail;
    for (int i = 0; i < ix->opt.batches; i++) {
        if (batch_init(&ix->pool[i], o->bulk ? BATCH_BULK : BATCH_SDF, o->batch_bytes, o->batch_docs) != 0) goto fail;
        if (s->keeps_records && batch_keep_records(&ix->pool[i]) != 0) goto fail;
        ix->free_batches[ix->nfree++] = &ix->pool[i];
    }
    return ix;
fail:
    log_error("indexer: cannot allocate its buffers");
    indexer_free(ix);
    return NULL;
}

void indexer_free(indexer *ix) {
    if (!ix) return;
    if (ix->sink) sink_close(ix->sink);
    for (int i = 0; ix->pool && i < ix->opt.batches; i++) batch_free(&ix->pool[i]);
    free(ix->pool);
    free(ix->free_batches);
    free(ix->event_times);
    docb_free(ix->db);
    free(ix);
}

static batch *take_batch(indexer *ix) {
    if (!ix->cur && ix->nfree > 0) ix->cur = ix->free_batches[--ix->nfree];
    return ix->cur;
}

static void settle_dead_letters(indexer *ix, indexer_owner *owner, uint32_t n, int ok) {
    if (ok) ix->st.bad_records += n;
    else ix->st.dead_failed += n;
    owner->acked(owner, n, ok);
}

/* Acknowledges the waiting records once their entries are on disk; when the sync failed, tells
 * their owners they were not stored. An owner may start more work from its callback (even add
 * records here): the list is emptied before the first call. */
static void release_dead_letters(indexer *ix) {
    if (ix->nwaiting == 0) return;
    dead_wait runs[DEAD_WAIT_RUNS];
    int n = ix->nwaiting;
    memcpy(runs, ix->waiting, (size_t)n * sizeof *runs);
    ix->nwaiting = 0;
    ix->waiting_records = 0;
    int ok = deadletter_sync(ix->dead, ix->waiting_first) == 0; /* before any callback can add more */
    for (int i = 0; i < n; i++) settle_dead_letters(ix, runs[i].owner, runs[i].n, ok);
}

/* A record that cannot become a document: acknowledged once its dead-letter entry is written
 * (and synced, in durable mode), never before; not stored when the entry cannot be written.
 * part: where a record the producer could not hand over whole was, or NULL. */
static void dead_letter_record(indexer *ix, indexer_owner *owner, const char *why, const deadletter_part *part,
                               const char *data, size_t len) {
    if (!ix->dead) {
        if (part)
            log_warn("unusable record from %s at byte %llu: %s", owner->source, (unsigned long long)part->offset, why);
        else log_warn("unusable record from %s: %s", owner->source, why);
        settle_dead_letters(ix, owner, 1, 1);
        return;
    }
    if (deadletter_append(ix->dead, "record", owner->source, why, part, data, len) != 0) {
        settle_dead_letters(ix, owner, 1, 0);
        return;
    }
    if (!deadletter_durable(ix->dead)) {
        settle_dead_letters(ix, owner, 1, 1);
        return;
    }
    if (ix->nwaiting == 0) ix->waiting_first = deadletter_count(ix->dead);
    int i = 0;
    while (i < ix->nwaiting && ix->waiting[i].owner != owner) i++;
    if (i < ix->nwaiting) ix->waiting[i].n++;
    else ix->waiting[ix->nwaiting++] = (dead_wait){owner, 1};
    ix->waiting_records++;
    if (ix->nwaiting == DEAD_WAIT_RUNS) release_dead_letters(ix);
}

static void submit(indexer *ix, batch *b) {
    ix->in_flight++;
    ix->st.batches++;
    sink_submit(ix->sink, b); /* completes later, from the loop (pipeline/sink.h) */
}

/* Sends the held batch and b (either may be NULL), oldest first, hashed together when the
 * sink hashes bodies. */
static void submit_pair(indexer *ix, batch *b) {
    batch *h = ix->held;
    ix->held = NULL;
    if (!h && !b) return;
    if (ix->sink->hashes_bodies) batch_hash_bodies(h ? h : b, h ? b : NULL); /* a failure leaves "": the sink hashes */
    if (h) submit(ix, h);
    if (b) submit(ix, b);
}

/* The current batch is full while input keeps coming. A sink that hashes its bodies (SigV4)
 * gets full batches two at a time where the SHA extensions hash two bodies at once in about 2/3
 * of the time of one after the other (base/sha256_x2.h; without them a pair is no faster and
 * nothing waits: pair_full). The first of a pair waits for the next to fill, only while that
 * delays nothing or cannot block:
 * - a free batch is there to build the partner in (input that keeps coming fills it soon), or
 * - the sink has more batches than it sends at once: one waits in its queue and keeps it busy,
 *   and a completion will free a batch for the partner (the pool has one batch more for this).
 * When input stops, the source's indexer_flush (end of input, no download flowing, linger,
 * drain) sends what waits: indexer_pending_docs counts it. */
static void seal_full(indexer *ix) {
    release_dead_letters(ix);
    batch *b = ix->cur;
    ix->cur = NULL;
    int partner_possible = ix->nfree > 0 || ix->in_flight > ix->sink->max_in_flight;
    if (ix->held || !ix->pair_full || !partner_possible) submit_pair(ix, b);
    else ix->held = b;
}

void indexer_flush(indexer *ix) {
    release_dead_letters(ix);
    batch *b = ix->cur && batch_count(ix->cur) > 0 ? ix->cur : NULL;
    if (b) ix->cur = NULL;
    submit_pair(ix, b);
}

/* Commits document n (built at space) with its record beside it when derived (a memcpy, against
 * the sink scanning and decoding raw again) and its field list. A document the batch does not
 * take so is built again with raw written and committed alone: a document never goes without
 * raw's value unless its record is beside it. Returns the document's length. */
static long commit_kept(indexer *ix, batch *b, const char *rec, size_t len, char *space, size_t avail, docb_fields *fl,
                        int derived, long n, indexer_owner *owner, docb_result *res) {
    batch_kept k = {0};
    if (derived && res->raw_at) {
        k.rec = rec + res->record_at;
        k.rec_len = res->record_len;
        k.raw_at = res->raw_at;
        k.raw_len = res->raw_len;
        k.unwritten = res->raw_unwritten;
    }
    k.nfields = fl->complete ? fl->n : 0;
    if ((derived || !res->raw_unwritten) && batch_commit_kept(b, (size_t)n, owner, owner->source, &k) == 0) return n;
    if (res->raw_unwritten) { /* cannot happen (the room was asked for before): written whole, it fits */
        fl->skip_raw = 0;
        n = docb_build_fields(ix->db, rec, len, space, avail, fl, res);
        if (n <= 0) return n;
    }
    batch_commit(b, (size_t)n, owner, owner->source);
    return n;
}

int indexer_add(indexer *ix, const char *rec, size_t len, indexer_owner *owner) {
    for (int attempt = 0; attempt < 2; attempt++) {
        batch *b = take_batch(ix);
        if (!b) {
            ix->st.busy++;
            return INDEXER_BUSY;
        }
        size_t avail = 0;
        char *space = batch_space(b, &avail);
        docb_result res;
        /* Nothing of the record dropped or cut, and the builder runs with the defaults (the
         * default field profile too): the document is docb_build(raw), which a store may rely on
         * (the index sink keeps raw alone and rebuilds the rest with the defaults). */
        int may_derive = !ix->opt.bulk && ix->opt.include_raw && ix->opt.max_doc_bytes == DOCB_DEFAULT_MAX_DOC &&
                         ix->opt.fields == SCHEMA_PROFILE_DEFAULT;
        docb_fields fl = {0};
        if (b->records) { /* the sink reads the field list and the record, not the text */
            fl.fields = batch_field_space(b, &fl.cap);
            fl.skip_raw = may_derive && len <= b->max_bytes - b->rec_len;
        }
        long n = docb_build_fields(ix->db, rec, len, space, avail, b->records ? &fl : NULL, &res);
        if (n == DOCB_NOSPACE && batch_count(b) > 0) {
            seal_full(ix); /* full: send it and build into a fresh batch */
            continue;
        }
        ix->st.records++;
        if (n <= 0) {
            const char *why = n == DOCB_NOSPACE ? "document larger than an empty batch" : res.error;
            dead_letter_record(ix, owner, why ? why : "unusable record", NULL, rec, len);
            return INDEXER_BAD;
        }
        if (ix->event_times)
            ix->event_times[(size_t)(b - ix->pool) * ix->opt.batch_docs + batch_count(b)] = res.event_time;
        int derived = may_derive && !res.dropped && !res.trimmed;
        if (b->records && (n = commit_kept(ix, b, rec, len, space, avail, &fl, derived, n, owner, &res)) <= 0) {
            dead_letter_record(ix, owner, "document could not be built again with raw", NULL, rec, len);
            return INDEXER_BAD;
        }
        if (!b->records) batch_commit(b, (size_t)n, owner, owner->source);
        if (derived) batch_flag_last(b, BATCH_DOC_DERIVED);
        ix->st.docs++;
        ix->st.doc_bytes += (uint64_t)n + res.raw_unwritten; /* the whole document's bytes */
        ix->st.chars_dropped += res.dropped;
        if (res.trimmed) ix->st.trimmed++;
        if (batch_full(b)) seal_full(ix);
        return INDEXER_OK;
    }
    ix->st.busy++;
    return INDEXER_BUSY;
}

void indexer_reject(indexer *ix, indexer_owner *owner, const char *why, uint64_t offset, uint64_t size,
                    const char *head, size_t head_len) {
    ix->st.records++;
    const deadletter_part part = {offset, size};
    dead_letter_record(ix, owner, why, &part, head, head_len);
}

int indexer_reject_file(indexer *ix, const char *source, const char *why, uint64_t size, const char *head,
                        size_t head_len) {
    if (!ix->dead) return 0; /* ingest logged it */
    return deadletter_write_part(ix->dead, "file", source, why, 0, size, head, head_len);
}

int indexer_in_flight(const indexer *ix) { return ix->in_flight; }
uint32_t indexer_pending_docs(const indexer *ix) {
    return (ix->cur ? batch_count(ix->cur) : 0) + (ix->held ? batch_count(ix->held) : 0) + ix->waiting_records;
}

void indexer_on_space(indexer *ix, void (*fn)(void *ud), void *ud) {
    ix->space_fn = fn;
    ix->space_ud = ud;
}

const indexer_stats *indexer_get_stats(const indexer *ix) { return &ix->st; }
sink *indexer_sink(const indexer *ix) { return ix->sink; }
