/* The rows a transaction adds to docs, store and ids_new, held in memory and written together:
 * one INSERT ... SELECT a table, reading the rows from the eponymous virtual table ix_pending.
 *
 * Why: one INSERT statement a row and table cost a statement's start, bindings, a seek from the
 * root and a reset each (about 5k instructions a document for ids_new, more for docs and store:
 * the lead's callgrind profile of 80,718 records appended to 1M, issue 14). Written by one
 * statement, docs and store get their rows in row id order, each next to the one before (SQLite
 * steps the cursor on instead of seeking), and ids_new its entries in key order.
 *
 * The rows are in the same transaction as the document's other writes (ix_commit flushes before
 * it commits; a rollback drops them), so a kill -9 keeps the same guarantees. What reads these
 * tables inside the transaction must see them: ix__find_id flushes when the id's hash is among
 * the held ones (a redelivery within the transaction), alloc_rowid counts the held row ids of an
 * hour with the largest stored one, and ix_apply writes through while the index has no compression dictionary
 * (its training compresses the stored rows again). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/ix_internal.h"

/* Bounds: rows and bytes (packed rows and compressed documents, about 400 B a document). A 5 MB
 * batch holds about 2,000 documents; a larger one is written in several flushes. */
#define IX_PEND_ROWS 8192u
#define IX_PEND_BYTES (16u << 20)
#define IX_PEND_SLOTS (IX_PEND_ROWS * 2u) /* the set of held hashes, open addressing */

/* --- the virtual table: columns r (row id), t, p, z, h, and hidden ord: 0 row id order (docs,
 * store), 1 key order (h, doc) (ids_new). */
typedef struct pend_vtab {
    sqlite3_vtab base;
    ix_store *s;
} pend_vtab;

typedef struct pend_cursor {
    sqlite3_vtab_cursor base;
    uint32_t i;
    int by_key;
} pend_cursor;

enum { COL_R, COL_T, COL_P, COL_Z, COL_H, COL_ORD };

static int pend_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err) {
    (void)argc;
    (void)argv;
    (void)err;
    int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(r, t, p, z, h, ord HIDDEN)");
    if (rc != SQLITE_OK) return rc;
    pend_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v) return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->s = aux;
    *out = &v->base;
    return SQLITE_OK;
}

static int pend_disconnect(sqlite3_vtab *v) {
    sqlite3_free(v);
    return SQLITE_OK;
}

static int pend_best_index(sqlite3_vtab *v, sqlite3_index_info *info) {
    (void)v;
    info->idxNum = 0;
    for (int i = 0; i < info->nConstraint; i++)
        if (info->aConstraint[i].usable && info->aConstraint[i].iColumn == COL_ORD &&
            info->aConstraint[i].op == SQLITE_INDEX_CONSTRAINT_EQ) {
            info->aConstraintUsage[i].argvIndex = 1;
            info->aConstraintUsage[i].omit = 1;
            info->idxNum = 1;
        }
    info->estimatedCost = 1000;
    return SQLITE_OK;
}

static int pend_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out) {
    (void)v;
    pend_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c) return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static int pend_close(sqlite3_vtab_cursor *c) {
    sqlite3_free(c);
    return SQLITE_OK;
}

static int pend_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc, sqlite3_value **argv) {
    (void)idx_str;
    pend_cursor *c = (pend_cursor *)cur;
    c->i = 0;
    c->by_key = idx_num == 1 && argc == 1 && sqlite3_value_int(argv[0]) == 1;
    return SQLITE_OK;
}

static int pend_next(sqlite3_vtab_cursor *cur) {
    ((pend_cursor *)cur)->i++;
    return SQLITE_OK;
}

static int pend_eof(sqlite3_vtab_cursor *cur) {
    pend_cursor *c = (pend_cursor *)cur;
    return c->i >= ((pend_vtab *)cur->pVtab)->s->pend_n;
}

static int pend_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
    pend_cursor *c = (pend_cursor *)cur;
    ix_store *s = ((pend_vtab *)cur->pVtab)->s;
    if (c->by_key) { /* the (h, doc) keys, sorted */
        const ix_pend_key *k = &s->pend_keys[c->i];
        if (col == COL_H) sqlite3_result_int64(ctx, k->h);
        else if (col == COL_R) sqlite3_result_int64(ctx, k->doc);
        else if (col == COL_ORD) sqlite3_result_int(ctx, 1);
        else sqlite3_result_null(ctx);
        return SQLITE_OK;
    }
    const ix_pend *p = &s->pend[c->i];
    const char *bytes = s->pend_bytes.data ? s->pend_bytes.data : "";
    switch (col) {
    case COL_R: sqlite3_result_int64(ctx, p->rowid); break;
    case COL_T:
        if (p->has_t) sqlite3_result_int64(ctx, p->t);
        else sqlite3_result_null(ctx);
        break;
    case COL_P: sqlite3_result_blob(ctx, bytes + p->off, (int)p->plen, SQLITE_STATIC); break;
    case COL_Z: sqlite3_result_blob(ctx, bytes + p->off + p->plen, (int)p->zlen, SQLITE_STATIC); break;
    case COL_H: sqlite3_result_int64(ctx, p->h); break;
    default: sqlite3_result_int(ctx, 0); break;
    }
    return SQLITE_OK;
}

static int pend_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *rowid) {
    *rowid = ((pend_cursor *)cur)->i;
    return SQLITE_OK;
}

static const sqlite3_module pend_module = {
    .iVersion = 0,
    .xConnect = pend_connect, /* eponymous only: xCreate stays NULL */
    .xBestIndex = pend_best_index,
    .xDisconnect = pend_disconnect,
    .xOpen = pend_open,
    .xClose = pend_close,
    .xFilter = pend_filter,
    .xNext = pend_next,
    .xEof = pend_eof,
    .xColumn = pend_column,
    .xRowid = pend_rowid,
};

/* --- the held rows */

int ix__pending_init(ix_store *s) {
    buf_init(&s->pend_bytes, IX_PEND_BYTES);
    s->pend = malloc(IX_PEND_ROWS * sizeof *s->pend);
    s->pend_keys = malloc(2 * IX_PEND_ROWS * sizeof *s->pend_keys); /* the second half: scratch */
    s->pend_set = calloc(IX_PEND_SLOTS, sizeof *s->pend_set);
    if (!s->pend || !s->pend_keys || !s->pend_set) return -1;
    return sqlite3_create_module(s->db, "ix_pending", &pend_module, s) == SQLITE_OK ? 0 : -1;
}

void ix__pending_free(ix_store *s) {
    free(s->pend);
    free(s->pend_keys);
    free(s->pend_set);
    s->pend = NULL;
    s->pend_keys = NULL;
    s->pend_set = NULL;
    buf_free(&s->pend_bytes);
}

void ix__pending_clear(ix_store *s) {
    if (s->pend_set && s->pend_n) memset(s->pend_set, 0, IX_PEND_SLOTS * sizeof *s->pend_set);
    s->pend_n = 0;
    buf_clear(&s->pend_bytes);
}

int ix__pending_has(const ix_store *s, int64_t h) { return s->pend_n && ix__hset_has(s->pend_set, IX_PEND_SLOTS, h); }

int64_t ix__pending_max_rowid(const ix_store *s, int64_t lo, int64_t hi) {
    int64_t top = 0;
    for (uint32_t i = 0; i < s->pend_n; i++)
        if (s->pend[i].rowid >= lo && s->pend[i].rowid <= hi && s->pend[i].rowid > top) top = s->pend[i].rowid;
    return top;
}

static int by_rowid(const void *a, const void *b) {
    int64_t x = ((const ix_pend *)a)->rowid, y = ((const ix_pend *)b)->rowid;
    return (x > y) - (x < y);
}

static unsigned key_byte(int64_t h, int shift) {
    return (unsigned)((((uint64_t)h) ^ (UINT64_C(1) << 63)) >> shift) & 255u;
}

/* The keys come in row id order, so sorting by h alone and keeping the order of equal hashes
 * gives (h, doc), the index's order: a radix sort by bytes. 8 passes of about 13 instructions a key where qsort took
 * about 270 for the 2,000 keys of a 5 MB batch (callgrind, the append of /tmp/add80k to the 1M index). */
void ix__pending_sort_keys(ix_pend_key *k, ix_pend_key *tmp, uint32_t n) {
    ix_pend_key *from = k, *to = tmp;
    uint32_t count[256];
    for (int shift = 0; shift < 64 && n > 1; shift += 8) {
        memset(count, 0, sizeof count);
        for (uint32_t i = 0; i < n; i++) count[key_byte(from[i].h, shift)]++;
        if (count[key_byte(from[0].h, shift)] == n) continue; /* every key has this byte */
        uint32_t sum = 0;
        for (unsigned b = 0; b < 256; b++) {
            uint32_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++) to[count[key_byte(from[i].h, shift)]++] = from[i];
        ix_pend_key *t = from;
        from = to;
        to = t;
    }
    if (from != k) memcpy(k, from, n * sizeof *k);
}

static int rows_sorted(const ix_pend *p, uint32_t n) {
    for (uint32_t i = 1; i < n; i++)
        if (p[i].rowid < p[i - 1].rowid) return 0;
    return 1;
}

/* One INSERT ... SELECT; OR IGNORE keeps SQLite from opening a statement journal (see
 * ix__ids_merge_when_full), and a row it would have ignored (a row id or key taken: never, row
 * ids are allocated unique) is reported as an error instead. */
static int insert_all(ix_store *s, sqlite3_stmt *st, const char *what, char *err, size_t errcap) {
    int64_t before = sqlite3_total_changes64(s->db);
    if (ix__step_done(s, st, err, errcap, what) != 0) return -1;
    if (sqlite3_total_changes64(s->db) - before != (int64_t)s->pend_n) {
        snprintf(err, errcap, "index: %s: a row id or key is taken already", what);
        return -1;
    }
    return 0;
}

int ix__pending_flush(ix_store *s, char *err, size_t errcap) {
    if (!s->pend_n) return 0;
    /* Held in the order documents came, which is mostly row id order already. */
    if (!rows_sorted(s->pend, s->pend_n)) qsort(s->pend, s->pend_n, sizeof *s->pend, by_rowid);
    for (uint32_t i = 0; i < s->pend_n; i++) s->pend_keys[i] = (ix_pend_key){s->pend[i].h, s->pend[i].rowid};
    ix__pending_sort_keys(s->pend_keys, s->pend_keys + IX_PEND_ROWS, s->pend_n);
    int rc = insert_all(s, s->q_pend_docs, "writing documents", err, errcap);
    if (rc == 0) rc = insert_all(s, s->q_pend_store, "writing documents", err, errcap);
    if (rc == 0) rc = insert_all(s, s->q_pend_ids, "writing ids", err, errcap);
    ix__pending_clear(s);
    return rc;
}

int ix__pending_add(ix_store *s, int64_t rowid, int has_t, int64_t t, const void *p, size_t plen, const void *z,
                    size_t zlen, int64_t h, char *err, size_t errcap) {
    if ((s->pend_n == IX_PEND_ROWS || s->pend_bytes.len + plen + zlen > IX_PEND_BYTES) &&
        ix__pending_flush(s, err, errcap) != 0)
        return -1;
    size_t off = s->pend_bytes.len;
    if ((plen && buf_append(&s->pend_bytes, p, plen) != 0) || (zlen && buf_append(&s->pend_bytes, z, zlen) != 0)) {
        snprintf(err, errcap, "index: out of memory");
        return -1;
    }
    s->pend[s->pend_n++] = (ix_pend){rowid, t, h, (uint32_t)off, (uint32_t)plen, (uint32_t)zlen, has_t};
    ix__hset_put(s->pend_set, IX_PEND_SLOTS, h);
    return 0;
}
