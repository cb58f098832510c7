/* The map of document ids to row ids, in two levels: `ids` (the large one) and `ids_new` (the
 * ids added since the last merge). Both are multimaps keyed (h, doc), h a 63-bit hash of the id:
 * an id is found by reading every entry of its hash in both levels (normally none or one) and
 * checking each against the stored document's id, so a collision needs no probing and a delete
 * leaves nothing behind.
 *
 * Why two levels: a hashed key is random, so a batch of new ids written straight into `ids`
 * dirtied a page of it per id (1,384 of its 6,121 pages a commit at 1M documents, 38% of the WAL:
 * bench/README.md, "The embedded index"). New ids go into `ids_new`, a few hundred pages at most;
 * once it holds more than ix__ids_new_full allows, ix_begin merges it into `ids` in key order (each
 * page of `ids` written once for many ids) and empties it, inside the transaction it starts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/ix_internal.h"
#include "index/ix_store.h"

int64_t ix__id_hash(const ix_store *s, const char *id, size_t n) {
    return (int64_t)(ix__hash(-1, id, n) >> 1) & s->id_hash_mask;
}

/* The hashes of ids_new's entries, in memory (open addressing, h + 1, 0 empty), so that an id
 * not among them is looked up in ids alone: one B-tree seek instead of two for a new document.
 * A superset is enough (an entry taken out of ids_new may stay): it is loaded when ids_new is
 * counted (ix_begin, after a rollback or another writer's commit), emptied by a merge, and given
 * up above IX_IDN_SLOTS_MAX slots (every lookup then reads both levels, as before).
 * Measured: ix__find_id 4.73k -> 3.06k instructions a record (callgrind --toggle-collect, the
 * first 3 files of /tmp/add80k, 17,987 records, appended to a copy of the 1M-record index). */
#define IX_IDN_SLOTS_MAX (1u << 22) /* 32 MB; ids_new holds about 64 sqrt(N) entries: 200k at 10M */

static void idn_add(ix_store *s, int64_t h) {
    if (!s->idn_ok) return;
    if ((s->idn_n + 1) * 2 > s->idn_cap) {
        uint32_t cap = s->idn_cap ? s->idn_cap * 2 : 4096;
        uint64_t *set = cap <= IX_IDN_SLOTS_MAX ? calloc(cap, sizeof *set) : NULL;
        if (!set) { /* too many: both levels are read */
            ix__idn_free(s);
            return;
        }
        for (uint32_t i = 0; i < s->idn_cap; i++)
            if (s->idn_set[i]) ix__hset_put(set, cap, (int64_t)(s->idn_set[i] - 1));
        free(s->idn_set);
        s->idn_set = set;
        s->idn_cap = cap;
    }
    ix__hset_put(s->idn_set, s->idn_cap, h);
    s->idn_n++;
}

static int idn_may_have(const ix_store *s, int64_t h) {
    if (!s->idn_ok || s->ids_new_n < 0) return 1;
    return s->idn_n && ix__hset_has(s->idn_set, s->idn_cap, h);
}

static void idn_clear(ix_store *s) {
    if (s->idn_set) memset(s->idn_set, 0, (size_t)s->idn_cap * sizeof *s->idn_set);
    s->idn_n = 0;
    s->idn_ok = 1;
}

void ix__idn_free(ix_store *s) {
    free(s->idn_set);
    s->idn_set = NULL;
    s->idn_cap = s->idn_n = 0;
    s->idn_ok = 0;
}

void ix__id_added(ix_store *s, int64_t h) {
    if (s->ids_new_n < 0) return;
    s->ids_new_n++;
    idn_add(s, h);
}

/* Fingerprints of the hashes in ids, in memory, so that an id in neither level (almost every id a
 * replay brings) is known to be new without a B-tree probe: such probes were 3.7% of a replay's
 * CPU (perf, 80,718 records appended to a 1M-record index) for 0.46% of its instructions, each a
 * few cache misses deep in a 21 MB table. A fingerprint is the top 32 bits of the hash, kept at the
 * slot its top bits name (linear probing): an absent id matches a stored one about once in 4,000
 * lookups at 1M ids, and is then looked up in ids as before. A superset is enough: entries of ids
 * deleted since stay. The set is loaded by one pass over ids (perf: about as much CPU as 20k
 * probes at 1M ids) once IX_IDM_WAIT_DIV-th of the index's documents were looked up in ids: a
 * replay of fewer records than that into a large index probes as before and never pays for the
 * whole index, and a larger one pays for the pass at most about the probes it made. It gains
 * the entries of ids_new at each merge, is forgotten when another writer committed (ix_begin) or
 * when the transaction that loaded it is rolled back (it may lack entries that transaction
 * deleted), and is given up above IX_IDM_SLOTS_MAX slots. */
#define IX_IDM_SLOTS_MAX (1u << 23) /* 32 MB: 5.8M ids */
#ifndef IX_IDM_WAIT_DIV
#define IX_IDM_WAIT_DIV 64 /* -D to measure another */
#endif
#define IX_IDM_NEVER INT64_MAX /* too many ids: not loaded until forgotten */

/* The top 32 bits of the 63-bit hash, whose top bits name the slot: ids, read in key order,
 * fills the set front to back (a mixed fingerprint put each of 1M entries at a random place in
 * 8 MB: the load cost what the probes it saves did). */
static uint32_t idm_fp(int64_t h) {
    uint32_t fp = (uint32_t)((uint64_t)h >> 31);
    return fp ? fp : 1; /* 0 is an empty slot */
}

static uint32_t idm_slot(uint32_t fp, uint32_t cap) { return fp >> (32 - __builtin_ctz(cap)); }

/* The slot holding fp, or the empty slot where it would go. */
static uint32_t idm_find(const uint32_t *set, uint32_t cap, uint32_t fp) {
    uint32_t k = idm_slot(fp, cap);
    while (set[k] && set[k] != fp) k = (k + 1) & (cap - 1);
    return k;
}

/* 1 when fp was put, 0 when it was there. */
static int idm_put(uint32_t *set, uint32_t cap, uint32_t fp) {
    uint32_t k = idm_find(set, cap, fp);
    if (set[k]) return 0;
    set[k] = fp;
    return 1;
}

static void idm_drop(ix_store *s) {
    free(s->idm_set);
    s->idm_set = NULL;
    s->idm_cap = s->idm_n = 0;
    s->idm_ok = 0;
    s->idm_in_tx = 0;
}

void ix__idm_forget(ix_store *s) {
    idm_drop(s);
    s->idm_wait = -1;
}

static void idm_add(ix_store *s, int64_t h) {
    if (!s->idm_ok) return;
    if ((uint64_t)(s->idm_n + 1) * 10 > (uint64_t)s->idm_cap * 7) {
        uint32_t cap = s->idm_cap * 2;
        uint32_t *set = cap <= IX_IDM_SLOTS_MAX ? calloc(cap, sizeof *set) : NULL;
        if (!set) { /* too many: ids is probed */
            idm_drop(s);
            s->idm_wait = IX_IDM_NEVER;
            return;
        }
        for (uint32_t i = 0; i < s->idm_cap; i++)
            if (s->idm_set[i]) idm_put(set, cap, s->idm_set[i]);
        free(s->idm_set);
        s->idm_set = set;
        s->idm_cap = cap;
    }
    s->idm_n += (uint32_t)idm_put(s->idm_set, s->idm_cap, idm_fp(h));
}

/* ctidm(h), an aggregate: puts every h of the rows into the set. One statement steps over ids
 * (SELECT ctidm(h) FROM ids) instead of one sqlite3_step and sqlite3_column_int64 a row. */
static void idm_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    idm_add(sqlite3_user_data(ctx), sqlite3_value_int64(argv[0]));
}

static void idm_final(sqlite3_context *ctx) { sqlite3_result_null(ctx); }

int ix__ids_functions(ix_store *s) {
    return sqlite3_create_function(s->db, "ctidm", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, s, NULL, idm_step, idm_final);
}

/* Loads the set from ids (in the open transaction). 0, or -1 with err. */
static int idm_load(ix_store *s, int64_t docs, char *err, size_t errcap) {
    uint32_t cap = 4096;
    while (cap <= IX_IDM_SLOTS_MAX / 2 && (uint64_t)docs * 10 > (uint64_t)cap * 7) cap *= 2;
    s->idm_set = calloc(cap, sizeof *s->idm_set);
    if (!s->idm_set) {
        s->idm_wait = IX_IDM_NEVER;
        return 0;
    }
    s->idm_cap = cap;
    s->idm_n = 0;
    s->idm_ok = 1;
    s->idm_in_tx = 1;
    int rc = sqlite3_step(s->q_id_all);
    sqlite3_reset(s->q_id_all);
    if (rc != SQLITE_ROW) {
        idm_drop(s);
        return ix__sqlerr(s, err, errcap, "reading ids");
    }
    return 0;
}

/* 1 when ids may hold an entry of hash h, 0 when it holds none, -1 on error (err). Counts the
 * lookups that go to ids, and loads the set when they are enough. Only in a write transaction:
 * between two, another writer may change ids (ix_begin then forgets the set). */
static int idm_may_have(ix_store *s, int64_t h, char *err, size_t errcap) {
    if (!s->in_tx) return 1; /* a reader's lookup (tests): kept only within a writer's transactions */
    if (!s->idm_ok && s->idm_wait != IX_IDM_NEVER) {
        if (s->idm_wait < 0) {
            int64_t docs = ix_doc_count(s);
            s->idm_wait = (uint64_t)docs * 10 > (uint64_t)IX_IDM_SLOTS_MAX * 7 ? IX_IDM_NEVER : docs / IX_IDM_WAIT_DIV;
        }
        if (s->idm_wait == 0) {
            if (idm_load(s, ix_doc_count(s), err, errcap) != 0) return -1;
        } else if (s->idm_wait != IX_IDM_NEVER) {
            s->idm_wait--;
        }
    }
    if (!s->idm_ok) return 1;
    return s->idm_set[idm_find(s->idm_set, s->idm_cap, idm_fp(h))] != 0;
}

void ix__idm_commit(ix_store *s) { s->idm_in_tx = 0; }

void ix__idm_rollback(ix_store *s) {
    if (s->idm_in_tx) ix__idm_forget(s);
}

int64_t ix__find_id(ix_store *s, const char *id, size_t n, ix_idref *ref, char *err, size_t errcap) {
    int64_t h = ix__id_hash(s, id, n), found = 0;
    ref->h = h;
    ref->level = IX_IDS_NEW;
    /* A redelivery within the transaction: its first copy's rows are to be written first. */
    if (ix__pending_has(s, h) && ix__pending_flush(s, err, errcap) != 0) return -1;
    int in_new = idn_may_have(s, h), in_main = idm_may_have(s, h, err, errcap);
    if (in_main < 0) return -1;
    if (!in_new && !in_main) return 0;
    sqlite3_stmt *st = in_new ? s->q_id_get : s->q_id_get_main;
    sqlite3_bind_int64(st, 1, h);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t row = sqlite3_column_int64(st, 0);
        int lrc = ix__doc_load(s, row, &s->old, err, errcap);
        if (lrc < 0) {
            sqlite3_reset(st);
            return -1;
        }
        if (lrc == 0 && s->old.id_len == n && memcmp(s->old.id, id, n) == 0) {
            ref->level = sqlite3_column_int(st, 1);
            found = row;
            break;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return ix__sqlerr(s, err, errcap, "reading ids");
    return found;
}

static int step_ids(ix_store *s, sqlite3_stmt *st, int64_t h, int64_t doc, char *err, size_t errcap) {
    sqlite3_bind_int64(st, 1, h);
    sqlite3_bind_int64(st, 2, doc);
    return ix__step_done(s, st, err, errcap, "writing ids");
}

int ix__id_drop(ix_store *s, const ix_idref *ref, int64_t doc, char *err, size_t errcap) {
    int in_new = ref->level == IX_IDS_NEW;
    if (step_ids(s, in_new ? s->q_idnew_del : s->q_id_del, ref->h, doc, err, errcap) != 0) return -1;
    if (in_new && s->ids_new_n > 0) s->ids_new_n--;
    return 0;
}

/* When ids_new is merged. Each commit writes about every page of ids_new (its ids are random), a
 * merge every page of ids: with E entries a page, a batch of b documents and N documents in all,
 * pages written a document are about B / (2 E b) + N / (E B) for a bound B, least at B =
 * sqrt(2 b N). b is about 2,000 documents a batch for a replay (5 MB batches): B = 64 sqrt(N),
 * 64k entries at 1M documents (about 350 pages of ids_new), at least IX_IDS_NEW_MIN. */
#ifndef IX_IDS_NEW_K
#define IX_IDS_NEW_K 4096 /* B^2 / N; -D to measure another */
#endif
int ix__ids_new_full(const ix_store *s, int64_t n, int64_t docs) {
    if (s->ids_new_max) return n > s->ids_new_max;
    if (n <= IX_IDS_NEW_MIN) return 0;
    return docs <= 0 || (uint64_t)n * (uint64_t)n > (uint64_t)IX_IDS_NEW_K * (uint64_t)docs;
}

int ix__ids_merge_when_full(ix_store *s, char *err, size_t errcap) {
    if (s->ids_new_n < 0) { /* counted, and their hashes kept */
        int rc;
        int64_t n = 0;
        idn_clear(s);
        while ((rc = sqlite3_step(s->q_idnew_count)) == SQLITE_ROW) {
            idn_add(s, sqlite3_column_int64(s->q_idnew_count, 0));
            n++;
        }
        sqlite3_reset(s->q_idnew_count);
        if (rc != SQLITE_DONE) return ix__sqlerr(s, err, errcap, "counting new ids");
        s->ids_new_n = n;
    }
    if (!ix__ids_new_full(s, s->ids_new_n, ix_doc_count(s))) return 0;
    /* ids_new is read in key order: each page of ids is written once for all its new entries.
     * OR IGNORE (an entry is in one level: nothing to ignore) lets SQLite write without a
     * statement journal, which keeps the old content of every page a statement of many rows
     * changes, in memory under temp_store=MEMORY: 21 MB more peak memory merging 64k entries into
     * 1M (a Python sqlite3 3.40 check), 11-13 MB more peak RSS for a replay of 514k records. */
    /* ids gains ids_new's entries: so does what is kept of it (idn_set holds at least them) */
    if (s->idm_ok && s->idn_ok)
        for (uint32_t i = 0; i < s->idn_cap && s->idm_ok; i++)
            if (s->idn_set[i]) idm_add(s, (int64_t)(s->idn_set[i] - 1));
    if (s->idm_ok && !s->idn_ok) ix__idm_forget(s);
    if (ix__exec(s,
                 "INSERT OR IGNORE INTO ids(h, doc) SELECT h, doc FROM ids_new ORDER BY h, doc; "
                 "DELETE FROM ids_new",
                 err, errcap) != 0)
        return -1;
    s->ids_new_n = 0;
    idn_clear(s);
    return 0;
}
