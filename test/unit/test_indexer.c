/* indexer: an unusable record is acknowledged only once its dead-letter entry is written (and,
 * in durable mode, synced: once for many records, at the next flush); when the entry cannot be
 * written (a full disk), the record is acknowledged as not stored, so its message comes back.
 * A sink that signs its bodies gets full batches in pairs, hashed together. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/crypto.h"
#include "pipeline/batch.h"
#include "pipeline/deadletter.h"
#include "pipeline/indexer.h"
#include "testlib.h"

/* ---- a sink that stores every batch at once ---- */

static void ok_submit(sink *s, batch *b) { s->done(s->done_ud, b, 1); }
static void ok_close(sink *s) { (void)s; }
static const sink_ops ok_ops = {"ok", ok_submit, ok_close};
static sink ok_sink = {.ops = &ok_ops, .max_in_flight = 1};

/* ---- an owner that counts its acknowledgements ---- */

typedef struct counted {
    indexer_owner owner;
    uint32_t ok, not_ok;
    int calls;
    /* when set, the first acknowledgement adds one more unusable record (an owner that starts
     * new work from its callback) */
    indexer *reenter;
} counted;

static void on_acked(indexer_owner *o, uint32_t n, int ok) {
    counted *c = (counted *)o;
    c->calls++;
    if (ok) c->ok += n;
    else c->not_ok += n;
    if (c->reenter) {
        indexer *ix = c->reenter;
        c->reenter = NULL;
        CHECK_EQ_INT(indexer_add(ix, "not json", 8, o), INDEXER_BAD);
    }
}

static void counted_init(counted *c, const char *source) {
    memset(c, 0, sizeof *c);
    c->owner.acked = on_acked;
    c->owner.source = source;
}

static indexer *new_indexer(deadletter *dead) {
    indexer_options io;
    indexer_options_default(&io);
    io.batches = 2;
    io.dead = dead;
    return indexer_new(&io, &ok_sink);
}

/* A dead-letter file in a fresh temporary file, and the indexer writing to it. */
typedef struct rig {
    char path[64];
    deadletter *dead;
    indexer *ix;
} rig;

static void rig_open(rig *r, int durable) {
    snprintf(r->path, sizeof r->path, "/tmp/ctindex-ix-dl-XXXXXX");
    int fd = mkstemp(r->path);
    CHECK(fd >= 0);
    close(fd);
    r->dead = deadletter_open(r->path, durable);
    r->ix = new_indexer(r->dead);
}

static void rig_close(rig *r) {
    indexer_free(r->ix);
    deadletter_close(r->dead);
    unlink(r->path);
}

static const char *GOOD = "{\"eventID\":\"e1\",\"eventName\":\"GetObject\",\"eventTime\":\"2024-05-01T00:00:00Z\"}";

static int64_t fixed_clock(void) { return 1714521600 + 90; } /* 2024-05-01T00:01:30Z */

/* With a clock, each stored document's delay since its eventTime is observed when its batch is
 * acknowledged; a record without a usable eventTime is not observed. */
static void test_record_delay(void) {
    indexer_options io;
    indexer_options_default(&io);
    io.batches = 2;
    io.clock_s = fixed_clock;
    indexer *ix = indexer_new(&io, &ok_sink);
    CHECK(ix != NULL);
    counted c;
    counted_init(&c, "test");
    const char *none = "{\"eventID\":\"e2\",\"eventName\":\"GetObject\"}";
    CHECK_EQ_INT(indexer_add(ix, GOOD, strlen(GOOD), &c.owner), INDEXER_OK);
    CHECK_EQ_INT(indexer_add(ix, none, strlen(none), &c.owner), INDEXER_OK);
    const histogram *h = &indexer_get_stats(ix)->record_delay;
    CHECK(h->count == 0); /* nothing acknowledged yet */
    indexer_flush(ix);
    CHECK_EQ_INT((int)c.ok, 2);
    CHECK(h->count == 1 && h->sum == 90.0);
    CHECK(histogram_cumulative(h, 4) == 0 && histogram_cumulative(h, 5) == 1); /* above le 60, in le 120 */
    indexer_free(ix);
}

/* The dead-letter file is on a full disk: unusable and rejected records are not acknowledged
 * as stored; good records beside them are. */
static void test_full_disk_not_acknowledged(void) {
    if (access("/dev/full", W_OK) != 0) {
        fprintf(stderr, "skip: no /dev/full\n");
        return;
    }
    for (int durable = 0; durable < 2; durable++) {
        deadletter *dead = deadletter_open("/dev/full", durable);
        indexer *ix = new_indexer(dead);
        counted c;
        counted_init(&c, "s3://bucket/full.json.gz");
        CHECK_EQ_INT(indexer_add(ix, GOOD, strlen(GOOD), &c.owner), INDEXER_OK);
        CHECK_EQ_INT(indexer_add(ix, "{\"a\":", 5, &c.owner), INDEXER_BAD);
        indexer_reject(ix, &c.owner, "element of Records is not an object", 100, 2, "42", 2);
        indexer_flush(ix);
        CHECK_EQ_INT(c.ok, 1);
        CHECK_EQ_INT(c.not_ok, 2);
        CHECK_EQ_INT(indexer_get_stats(ix)->dead_failed, 2);
        CHECK_EQ_INT(indexer_get_stats(ix)->bad_records, 0);
        CHECK_EQ_INT(indexer_pending_docs(ix), 0);
        indexer_free(ix);
        deadletter_close(dead);
    }
}

/* Not durable: an unusable record is acknowledged as soon as its entry is written. */
static void test_written_acknowledged_at_once(void) {
    rig r;
    rig_open(&r, 0);
    indexer *ix = r.ix;
    counted c;
    counted_init(&c, "f.json");
    CHECK_EQ_INT(indexer_add(ix, "[1]", 3, &c.owner), INDEXER_BAD);
    CHECK_EQ_INT(c.ok, 1);
    CHECK_EQ_INT(indexer_get_stats(ix)->bad_records, 1);
    CHECK_EQ_INT(indexer_pending_docs(ix), 0);
    rig_close(&r);
}

/* Durable: unusable records wait for the next flush, which syncs once for all of them and
 * then acknowledges them; the producers see them as pending, so they do flush. */
static void test_durable_waits_for_one_sync(void) {
    rig r;
    rig_open(&r, 1);
    indexer *ix = r.ix;
    deadletter *dead = r.dead;
    counted a, b;
    counted_init(&a, "a.json");
    counted_init(&b, "b.json");
    for (int i = 0; i < 300; i++) CHECK_EQ_INT(indexer_add(ix, "nope", 4, i % 3 ? &a.owner : &b.owner), INDEXER_BAD);
    CHECK_EQ_INT(indexer_add(ix, GOOD, strlen(GOOD), &a.owner), INDEXER_OK);
    CHECK_EQ_INT(a.calls + b.calls, 0);
    CHECK_EQ_INT(indexer_pending_docs(ix), 301);
    CHECK_EQ_INT(deadletter_get_stats(dead)->syncs, 0);
    indexer_flush(ix);
    CHECK_EQ_INT(a.ok, 201);
    CHECK_EQ_INT(b.ok, 100);
    CHECK_EQ_INT(a.not_ok + b.not_ok, 0);
    CHECK_EQ_INT(deadletter_get_stats(dead)->syncs, 1);
    CHECK_EQ_INT(indexer_get_stats(ix)->bad_records, 300);
    CHECK_EQ_INT(indexer_pending_docs(ix), 0);
    indexer_flush(ix); /* nothing new: no sync */
    CHECK_EQ_INT(deadletter_get_stats(dead)->syncs, 1);
    rig_close(&r);
}

/* The list of waiting owners is bounded: when it fills, it is synced and acknowledged without
 * waiting for a flush. An owner that adds a record from its callback is served too. */
static void test_durable_bounded_and_reentrant(void) {
    rig r;
    rig_open(&r, 1);
    indexer *ix = r.ix;
    deadletter *dead = r.dead;
    static counted owners[200];
    for (int i = 0; i < 200; i++) {
        counted_init(&owners[i], "many.json");
        owners[i].reenter = i == 0 ? ix : NULL;
        CHECK_EQ_INT(indexer_add(ix, "nope", 4, &owners[i].owner), INDEXER_BAD);
    }
    /* 64 runs each: owners 0-63, then the record owner 0 added from its callback and 64-126,
     * then 127-190; 191-199 wait for the flush. */
    CHECK_EQ_INT(deadletter_get_stats(dead)->syncs, 3);
    CHECK_EQ_INT(owners[0].ok, 2);
    CHECK_EQ_INT(owners[190].ok, 1);
    CHECK_EQ_INT(owners[191].ok, 0);
    CHECK_EQ_INT(indexer_pending_docs(ix), 9);
    indexer_flush(ix);
    CHECK_EQ_INT(deadletter_get_stats(dead)->syncs, 4);
    uint32_t total = 0;
    for (int i = 0; i < 200; i++) total += owners[i].ok;
    CHECK_EQ_INT(total, 201); /* 200 + the one added from a callback */
    CHECK_EQ_INT(indexer_pending_docs(ix), 0);
    rig_close(&r);
}

/* A literal value cut at 4096 characters counts as a trimmed document, like a cut field. */
static void test_cut_literal_counted(void) {
    indexer *ix = new_indexer(NULL);
    counted c;
    counted_init(&c, "long.json");
    static char rec[6000];
    int n = snprintf(rec, sizeof rec, "{\"eventID\":\"e\",\"eventName\":\"%05000d\"}", 0);
    CHECK_EQ_INT(indexer_add(ix, rec, (size_t)n, &c.owner), INDEXER_OK);
    CHECK_EQ_INT(indexer_get_stats(ix)->trimmed, 1);
    CHECK_EQ_INT(indexer_add(ix, GOOD, strlen(GOOD), &c.owner), INDEXER_OK);
    CHECK_EQ_INT(indexer_get_stats(ix)->trimmed, 1);
    indexer_flush(ix);
    CHECK_EQ_INT(c.ok, 2);
    indexer_free(ix);
}

/* ---- a signing sink: keeps what it gets until the test completes it ---- */

typedef struct keeper {
    sink base;
    batch *got[8];
    int n;
} keeper;

static void keep_submit(sink *s, batch *b) {
    keeper *k = (keeper *)s;
    if (k->n < 8) k->got[k->n++] = b;
}
static const sink_ops keep_ops = {"keep", keep_submit, ok_close};

static void keeper_init(keeper *k, int hashes) {
    memset(k, 0, sizeof *k);
    k->base.ops = &keep_ops;
    k->base.max_in_flight = 2;
    k->base.hashes_bodies = hashes;
}

static void keeper_done(keeper *k, int i) { k->base.done(k->base.done_ud, k->got[i], 1); }

/* The hash a batch carries is the SHA-256 of its body. */
static int hash_is_body_hash(batch *b) {
    size_t len = 0;
    const char *body = batch_body(b, &len);
    char hex[65];
    crypto_sha256_hex(body, len, hex);
    return strcmp(hex, b->sha256_hex) == 0;
}

static indexer *small_batches(sink *s, int batches) {
    indexer_options io;
    indexer_options_default(&io);
    io.batches = batches;
    io.batch_docs = 3; /* full after three documents */
    return indexer_new(&io, s);
}

/* n records, each with its own eventID (so no two batches have the same body). */
static void add_n(indexer *ix, counted *c, int n) {
    static int id;
    for (int i = 0; i < n; i++) {
        char rec[128];
        int len = snprintf(rec, sizeof rec, "{\"eventID\":\"e%d\",\"eventName\":\"GetObject\"}", id++);
        CHECK_EQ_INT(indexer_add(ix, rec, (size_t)len, &c->owner), INDEXER_OK);
    }
}

/* A sink that signs its bodies gets full batches two at a time, each with its body's hash; the
 * first waits for the second, and counts as pending until then. Without the SHA extensions (or
 * with OPENSSL_ia32cap masking them: the no_sha_ext run of this test) a pair is no faster, and
 * every full batch goes at once, hashed. */
static void test_full_batches_hashed_in_pairs(void) {
    keeper k;
    keeper_init(&k, 1);
    indexer *ix = small_batches(&k.base, 3);
    counted c;
    counted_init(&c, "pairs.json");
    add_n(ix, &c, 3);
    if (!crypto_sha256_pair_faster()) {
        CHECK_EQ_INT(k.n, 1);
        CHECK_EQ_INT(indexer_pending_docs(ix), 0);
        CHECK(k.n == 1 && hash_is_body_hash(k.got[0]));
        keeper_done(&k, 0);
        CHECK_EQ_INT(c.ok, 3);
        indexer_free(ix);
        return;
    }
    CHECK_EQ_INT(k.n, 0); /* held for its partner */
    CHECK_EQ_INT(indexer_pending_docs(ix), 3);
    add_n(ix, &c, 2);
    CHECK_EQ_INT(k.n, 0);
    CHECK_EQ_INT(indexer_pending_docs(ix), 5);
    add_n(ix, &c, 1);
    CHECK_EQ_INT(k.n, 2);
    CHECK_EQ_INT(indexer_pending_docs(ix), 0);
    CHECK_EQ_INT(indexer_in_flight(ix), 2);
    CHECK(k.n == 2 && batch_count(k.got[0]) == 3 && batch_count(k.got[1]) == 3);
    CHECK(k.n == 2 && hash_is_body_hash(k.got[0]) && hash_is_body_hash(k.got[1]));
    CHECK(k.n == 2 && strcmp(k.got[0]->sha256_hex, k.got[1]->sha256_hex) != 0 && k.got[0]->sha256_hex[0]);
    keeper_done(&k, 0);
    keeper_done(&k, 1);
    CHECK_EQ_INT(c.ok, 6);
    indexer_free(ix);
}

/* indexer_flush (input stopped) sends the held batch with the partial one, both hashed; a held
 * batch alone goes alone. */
static void test_flush_sends_held_batch(void) {
    keeper k;
    keeper_init(&k, 1);
    indexer *ix = small_batches(&k.base, 3);
    counted c;
    counted_init(&c, "flush.json");
    add_n(ix, &c, 4);
    indexer_flush(ix);
    CHECK_EQ_INT(k.n, 2);
    CHECK(k.n == 2 && batch_count(k.got[0]) == 3 && batch_count(k.got[1]) == 1);
    CHECK(k.n == 2 && hash_is_body_hash(k.got[0]) && hash_is_body_hash(k.got[1]));
    keeper_done(&k, 0);
    keeper_done(&k, 1);
    add_n(ix, &c, 3);
    CHECK_EQ_INT(k.n, crypto_sha256_pair_faster() ? 2 : 3);
    indexer_flush(ix);
    CHECK_EQ_INT(k.n, 3);
    CHECK(k.n == 3 && batch_count(k.got[2]) == 3 && hash_is_body_hash(k.got[2]));
    keeper_done(&k, 2);
    CHECK_EQ_INT(c.ok, 7);
    indexer_free(ix);
}

/* A full batch goes at once when no batch is free for its partner and the sink has a free
 * place: holding it would leave the sink idle until a completion. (Without the SHA extensions
 * nothing is ever held: test_full_batches_hashed_in_pairs.) */
static void test_no_hold_when_sink_has_room(void) {
    if (!crypto_sha256_pair_faster()) return;
    keeper k;
    keeper_init(&k, 1);                      /* sends 2 at once */
    indexer *ix = small_batches(&k.base, 1); /* one batch, and one for a partner */
    counted c;
    counted_init(&c, "room.json");
    add_n(ix, &c, 6);
    CHECK_EQ_INT(k.n, 2);
    CHECK_EQ_INT(indexer_add(ix, GOOD, strlen(GOOD), &c.owner), INDEXER_BUSY);
    keeper_done(&k, 0);
    add_n(ix, &c, 3);
    CHECK_EQ_INT(k.n, 3);
    CHECK_EQ_INT(indexer_pending_docs(ix), 0);
    CHECK(k.n == 3 && hash_is_body_hash(k.got[2]));
    keeper_done(&k, 1);
    keeper_done(&k, 2);
    CHECK_EQ_INT(c.ok, 9);
    indexer_free(ix);
}

/* When the sink has more batches than it sends at once, one waits in its queue and keeps it
 * busy: a full batch then waits for its partner even without a free batch, since a completion
 * will free one (the producer sees INDEXER_BUSY meanwhile). */
static void test_hold_while_sink_queue_busy(void) {
    if (!crypto_sha256_pair_faster()) return;
    keeper k;
    keeper_init(&k, 1);
    k.base.max_in_flight = 1;
    indexer *ix = small_batches(&k.base, 2); /* 3 with the partner's */
    counted c;
    counted_init(&c, "queue.json");
    add_n(ix, &c, 6); /* a pair: one sent, one queued in the sink */
    CHECK_EQ_INT(k.n, 2);
    add_n(ix, &c, 3); /* full, no batch free, the sink's queue busy: held */
    CHECK_EQ_INT(k.n, 2);
    CHECK_EQ_INT(indexer_pending_docs(ix), 3);
    CHECK_EQ_INT(indexer_add(ix, GOOD, strlen(GOOD), &c.owner), INDEXER_BUSY);
    keeper_done(&k, 0);
    add_n(ix, &c, 3); /* the partner, in the batch the completion freed */
    CHECK_EQ_INT(k.n, 4);
    CHECK(k.n == 4 && batch_count(k.got[2]) == 3 && batch_count(k.got[3]) == 3);
    CHECK(k.n == 4 && hash_is_body_hash(k.got[2]) && hash_is_body_hash(k.got[3]));
    for (int i = 1; i < k.n; i++) keeper_done(&k, i);
    CHECK_EQ_INT(c.ok, 12);
    indexer_free(ix);
}

/* A sink that does not sign gets every batch at once, unhashed, from a pool without a partner's
 * batch. */
static void test_unsigned_sink_not_held(void) {
    keeper k;
    keeper_init(&k, 0);
    indexer *ix = small_batches(&k.base, 1);
    counted c;
    counted_init(&c, "unsigned.json");
    add_n(ix, &c, 3);
    CHECK_EQ_INT(k.n, 1);
    CHECK(k.n == 1 && k.got[0]->sha256_hex[0] == '\0');
    CHECK_EQ_INT(indexer_add(ix, GOOD, strlen(GOOD), &c.owner), INDEXER_BUSY);
    keeper_done(&k, 0);
    CHECK_EQ_INT(c.ok, 3);
    indexer_free(ix);
}

/* The index sink keeps a document flagged BATCH_DOC_DERIVED as its raw record alone and rebuilds
 * the rest with the default builder: only documents of the default field profile may carry the
 * flag (a --fields full document read back would lose its other fields). */
static void test_derived_only_in_default_profile(void) {
    static const schema_profile profiles[] = {SCHEMA_ORIGINAL, SCHEMA_STANDARD, SCHEMA_FULL};
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
        keeper k;
        keeper_init(&k, 0);
        indexer_options io;
        indexer_options_default(&io);
        io.batches = 2;
        io.fields = profiles[i];
        indexer *ix = indexer_new(&io, &k.base);
        counted c;
        counted_init(&c, "p.json");
        CHECK_EQ_INT(indexer_add(ix, GOOD, strlen(GOOD), &c.owner), INDEXER_OK);
        indexer_flush(ix);
        CHECK_EQ_INT(k.n, 1);
        if (k.n != 1) continue;
        CHECK_EQ_INT(batch_doc_flags(k.got[0], 0), profiles[i] == SCHEMA_PROFILE_DEFAULT ? BATCH_DOC_DERIVED : 0);
        keeper_done(&k, 0);
        CHECK_EQ_INT(c.ok, 1);
        indexer_free(ix);
    }
}

int main(void) {
    RUN(test_record_delay);
    RUN(test_full_disk_not_acknowledged);
    RUN(test_written_acknowledged_at_once);
    RUN(test_durable_waits_for_one_sync);
    RUN(test_durable_bounded_and_reentrant);
    RUN(test_cut_literal_counted);
    RUN(test_derived_only_in_default_profile);
    RUN(test_full_batches_hashed_in_pairs);
    RUN(test_flush_sends_held_batch);
    RUN(test_no_hold_when_sink_has_room);
    RUN(test_hold_while_sink_queue_busy);
    RUN(test_unsigned_sink_not_held);
    TEST_MAIN_END();
}
