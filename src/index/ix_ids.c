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

int64_t ix__find_id(ix_store *s, const char *id, size_t n, ix_idref *ref, char *err, size_t errcap) {
    int64_t h = ix__id_hash(s, id, n), found = 0;
    ref->h = h;
    ref->level = IX_IDS_NEW;
    /* A redelivery within the transaction: its first copy's rows are to be written first. */
    if (ix__pending_has(s, h) && ix__pending_flush(s, err, errcap) != 0) return -1;
    sqlite3_stmt *st = idn_may_have(s, h) ? s->q_id_get : s->q_id_get_main;
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
    if (ix__exec(s,
                 "INSERT OR IGNORE INTO ids(h, doc) SELECT h, doc FROM ids_new ORDER BY h, doc; "
                 "DELETE FROM ids_new",
                 err, errcap) != 0)
        return -1;
    s->ids_new_n = 0;
    idn_clear(s);
    return 0;
}
