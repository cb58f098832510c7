/* The full-text writes of the open transaction, held until its commit and then applied in row id
 * order.
 *
 * Why: FTS5 turns its pending terms into a new segment whenever a write has a lower row id than
 * the one before (or repeats an added one). Row ids are (hour << 24) | sequence, so a batch whose
 * documents alternate between hours (several downloads in flight in `run`, a file that straddles
 * an hour, a redelivery that replaces old documents) wrote one small segment per step back, which
 * FTS5 merged again: 100k records of two hours interleaved took 2.8 times the CPU of the same
 * records in hour order (bench/README.md, "Row ids out of order"). Sorted, a batch is one run of
 * ascending row ids for both tables.
 *
 * Writes on one row id keep their order (the sort is by row id, then arrival): a committed
 * document's delete comes before the insert of a document that reuses its row id, and a document
 * added and taken out again in the transaction is inserted, then deleted, with the values it
 * went in with. Rows of different ids are independent in the index, so only that order matters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/ix_internal.h"
#include "index/ix_store.h"

/* Bound of the queue: its text and its count of writes. A 5 MB batch queues about 4 MB of text
 * (raw and the other text columns, the lit tokens); a batch of deletes of large documents may
 * queue more: the queue is then applied when full (one step back each time) and filled again. */
#define IX_FTSQ_BYTES (16u << 20)
#define IX_FTSQ_OPS 65536u

int ix__fts_queue_init(ix_store *s) {
    buf_init(&s->fq_text, IX_FTSQ_BYTES);
    return 0;
}

void ix__fts_queue_free(ix_store *s) {
    buf_free(&s->fq_text);
    free(s->fq);
    s->fq = NULL;
    s->fq_n = s->fq_cap = 0;
}

void ix__fts_queue_clear(ix_store *s) {
    buf_clear(&s->fq_text);
    s->fq_n = 0;
}

/* The text of one write: the text columns, then the lit tokens. */
typedef struct fts_values {
    const char *p[IXT_COLUMNS + 1];
    size_t n[IXT_COLUMNS + 1];
    int lit_open; /* the lit tokens may end at their buffer's end (p[n] not readable) */
} fts_values;

/* The values doc_columns left in s (raw where s->raw_col says when it was decoded before). */
static void current_values(const ix_store *s, fts_values *v) {
    for (int c = 0; c < IXT_COLUMNS; c++) {
        v->p[c] = s->cols[c].data;
        v->n[c] = s->cols[c].len;
        if (c == IXT_RAW && s->raw_col) {
            v->p[c] = s->raw_col;
            v->n[c] = s->raw_col_len;
        }
    }
    v->p[IXT_COLUMNS] = s->lit.data;
    v->n[IXT_COLUMNS] = s->lit.len;
    v->lit_open = s->lit.len >= s->lit.cap;
}

/* Each value is bound terminated when it is (ix_text_len): the queue's copies always are. (Bound
 * with -1, FTS5 reads the value where it is; with a length, sqlite3_value_text copies it to
 * add the terminator.) The lit tokens are ours, letters, digits and spaces: terminated, never
 * a NUL inside, unless they filled their buffer (lit_open). */
static int write_now(ix_store *s, int is_delete, int64_t rowid, const fts_values *v, char *err, size_t errcap) {
    sqlite3_stmt *st = is_delete ? s->q_text_del : s->q_text_put;
    sqlite3_bind_int64(st, 1, rowid);
    for (int c = 0; c < IXT_COLUMNS; c++) {
        if (v->n[c]) sqlite3_bind_text(st, 2 + c, v->p[c], ix_text_len(v->p[c], v->n[c]), SQLITE_STATIC);
        else sqlite3_bind_null(st, 2 + c);
    }
    if (ix__step_rebound(s, st, err, errcap, is_delete ? "deleting text" : "indexing text") != 0) return -1;
    st = is_delete ? s->q_lit_del : s->q_lit_put;
    sqlite3_bind_int64(st, 1, rowid);
    const char *lp = v->p[IXT_COLUMNS];
    size_t ln = v->n[IXT_COLUMNS];
    if (!lp) sqlite3_bind_text(st, 2, "", 0, SQLITE_STATIC);
    else sqlite3_bind_text(st, 2, lp, v->lit_open ? (int)ln : -1, SQLITE_STATIC);
    return ix__step_rebound(s, st, err, errcap, is_delete ? "deleting values" : "indexing values");
}

/* The writes' statements keep their values bound from one write to the next (every parameter is
 * bound again before each step): let go of them once the values may go away. */
static void release_values(ix_store *s) {
    sqlite3_clear_bindings(s->q_text_put);
    sqlite3_clear_bindings(s->q_text_del);
    sqlite3_clear_bindings(s->q_lit_put);
    sqlite3_clear_bindings(s->q_lit_del);
}

static int op_order(const void *a, const void *b) {
    const ix_ftsop *x = a, *y = b;
    if (x->rowid != y->rowid) return x->rowid < y->rowid ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int ix__fts_flush(ix_store *s, char *err, size_t errcap) {
    if (s->fq_n > 1) qsort(s->fq, s->fq_n, sizeof s->fq[0], op_order);
    int rc = 0;
    for (uint32_t i = 0; i < s->fq_n && rc == 0; i++) {
        const ix_ftsop *o = &s->fq[i];
        fts_values v = {.lit_open = 0};
        size_t off = o->off;
        for (int c = 0; c <= IXT_COLUMNS; c++) {
            v.p[c] = s->fq_text.data + off;
            v.n[c] = o->len[c];
            off += o->len[c] + 1;
        }
        rc = write_now(s, o->is_delete, o->rowid, &v, err, errcap);
    }
    release_values(s);
    ix__fts_queue_clear(s);
    return rc;
}

int ix__fts_queue(ix_store *s, int is_delete, int64_t rowid, char *err, size_t errcap) {
    fts_values v;
    current_values(s, &v);
    size_t need = 0;
    for (int c = 0; c <= IXT_COLUMNS; c++) need += v.n[c] + 1;
    if (s->fq_n == IX_FTSQ_OPS || need > s->fq_text.max - s->fq_text.len) {
        if (ix__fts_flush(s, err, errcap) != 0) return -1;
        if (need > s->fq_text.max) { /* larger than the whole queue: after what came before it */
            int rc = write_now(s, is_delete, rowid, &v, err, errcap);
            release_values(s);
            return rc;
        }
    }
    if (s->fq_n == s->fq_cap) {
        uint32_t cap = s->fq_cap ? s->fq_cap * 2 : 1024;
        ix_ftsop *q = realloc(s->fq, cap * sizeof *q);
        if (!q) {
            snprintf(err, errcap, "index: out of memory");
            return -1;
        }
        s->fq = q;
        s->fq_cap = cap;
    }
    if (buf_reserve(&s->fq_text, need) != 0) {
        snprintf(err, errcap, "index: out of memory");
        return -1;
    }
    ix_ftsop *o = &s->fq[s->fq_n];
    o->rowid = rowid;
    o->seq = s->fq_n++; /* the queue is emptied before fq_n passes IX_FTSQ_OPS */
    o->is_delete = is_delete != 0;
    o->off = s->fq_text.len;
    for (int c = 0; c <= IXT_COLUMNS; c++) {
        char *d = s->fq_text.data + s->fq_text.len;
        if (v.n[c]) memcpy(d, v.p[c], v.n[c]);
        d[v.n[c]] = '\0';
        o->len[c] = (uint32_t)v.n[c];
        s->fq_text.len += v.n[c] + 1;
    }
    return 0;
}
