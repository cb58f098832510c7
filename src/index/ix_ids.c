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
#include <string.h>

#include "index/ix_internal.h"
#include "index/ix_store.h"

int64_t ix__id_hash(const ix_store *s, const char *id, size_t n) {
    return (int64_t)(ix__hash(-1, id, n) >> 1) & s->id_hash_mask;
}

int64_t ix__find_id(ix_store *s, const char *id, size_t n, ix_idref *ref, char *err, size_t errcap) {
    int64_t h = ix__id_hash(s, id, n), found = 0;
    ref->h = h;
    ref->level = IX_IDS_NEW;
    /* A redelivery within the transaction: its first copy's rows are to be written first. */
    if (ix__pending_has(s, h) && ix__pending_flush(s, err, errcap) != 0) return -1;
    sqlite3_bind_int64(s->q_id_get, 1, h);
    int rc;
    while ((rc = sqlite3_step(s->q_id_get)) == SQLITE_ROW) {
        int64_t row = sqlite3_column_int64(s->q_id_get, 0);
        int lrc = ix__doc_load(s, row, &s->old, err, errcap);
        if (lrc < 0) {
            sqlite3_reset(s->q_id_get);
            return -1;
        }
        if (lrc == 0 && s->old.id_len == n && memcmp(s->old.id, id, n) == 0) {
            ref->level = sqlite3_column_int(s->q_id_get, 1);
            found = row;
            break;
        }
    }
    sqlite3_reset(s->q_id_get);
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
    if (s->ids_new_n < 0) {
        int rc = sqlite3_step(s->q_idnew_count);
        if (rc == SQLITE_ROW) s->ids_new_n = sqlite3_column_int64(s->q_idnew_count, 0);
        sqlite3_reset(s->q_idnew_count);
        if (rc != SQLITE_ROW) return ix__sqlerr(s, err, errcap, "counting new ids");
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
    return 0;
}
