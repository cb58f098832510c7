/* Which hits, in which order: the newest (or oldest) by row id and time, any other order sorted
 * by SQLite; start and size select the page. */
#include <stdio.h>
#include <stdlib.h>

#include "index/ix_search_internal.h"

#define MAX_SLOW_SORT 200000

typedef struct cand {
    int64_t rowid, t;
} cand;

static int cand_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? 1 : -1;
    return x->rowid < y->rowid ? 1 : x->rowid > y->rowid ? -1 : 0;
}
static int cand_asc(const void *a, const void *b) { return cand_desc(b, a); }

/* The newest (or oldest) hits: rows come in hour order, so only the hours holding the
 * start+size-th match need their times compared. */
int ix__hits_by_time(ix_run *rn, int desc) {
    int64_t need = rn->r->start + rn->r->size;
    if (need == 0 || rn->res->found == 0) return IX_SEARCH_OK;
    buf sql;
    buf_init(&sql, FRAG_MAX * 2);
    char tail[64];
    snprintf(tail, sizeof tail, "ORDER BY d.rowid %s", desc ? "DESC" : "ASC");
    int rc;
    if (rn->pure) {
        const char *t = rn->F->kind == FR_LIT ? "lit" : "text";
        rc = buf_printf(&sql, "SELECT rowid FROM %s WHERE %s MATCH ?1 ORDER BY rowid %s", t, t, desc ? "DESC" : "ASC");
    } else {
        rc = ix__where_clause(rn, &sql, "d.rowid", tail);
    }
    sqlite3_stmt *st = NULL;
    if (rc || ix__run_prepare(rn, sql.data, &st) != 0) {
        buf_free(&sql);
        return IX_SEARCH_ERR;
    }
    buf_free(&sql);
    size_t cap = (size_t)need + 64, n = 0;
    cand *c = malloc(cap * sizeof *c);
    if (!c) {
        sqlite3_finalize(st);
        return IX_SEARCH_ERR;
    }
    int64_t stop_hour = -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t rowid = sqlite3_column_int64(st, 0), hour = rowid >> IX_SEQ_BITS;
        if (stop_hour >= 0 && hour != stop_hour) break;
        if (n == cap) {
            cand *g = realloc(c, cap * 2 * sizeof *c);
            if (!g) break;
            c = g;
            cap *= 2;
        }
        c[n++].rowid = rowid;
        if ((int64_t)n == need) stop_hour = hour;
    }
    int out = ix__step_error(rn, rc == SQLITE_ROW ? SQLITE_DONE : rc);
    sqlite3_finalize(st);
    for (size_t i = 0; i < n && out == IX_SEARCH_OK; i++) {
        sqlite3_bind_int64(rn->s->q_doc_get, 1, c[i].rowid);
        c[i].t = INT64_MIN;
        if (sqlite3_step(rn->s->q_doc_get) == SQLITE_ROW && sqlite3_column_type(rn->s->q_doc_get, 0) != SQLITE_NULL)
            c[i].t = sqlite3_column_int64(rn->s->q_doc_get, 0);
        sqlite3_reset(rn->s->q_doc_get);
    }
    qsort(c, n, sizeof *c, desc ? cand_desc : cand_asc);
    for (size_t i = (size_t)rn->r->start; i < n && (int64_t)i < need && out == IX_SEARCH_OK; i++)
        out = ix__add_hit(rn, c[i].rowid);
    free(c);
    return out;
}

/* Any other order: SQLite sorts every match by the keys. */
int ix__hits_sorted(ix_run *rn) {
    const ix_request *r = rn->r;
    if (r->size == 0 || rn->res->found == 0) return IX_SEARCH_OK;
    buf order;
    buf_init(&order, 4096);
    int slow = 0, rc = buf_append_str(&order, "ORDER BY ");
    for (int i = 0; i < r->nsort; i++) {
        const ixr_sort *so = &r->sort[i];
        const char *dir = so->desc ? "DESC" : "ASC";
        if (so->kind == IXR_SORT_SCORE) continue; /* every hit scores 1 */
        if (so->kind == IXR_SORT_ID) {
            rc |= buf_printf(&order, "ctkey(d.rowid, d.p, -1) %s, ", dir);
            slow = 1;
        } else if (so->f->is_time) rc |= buf_printf(&order, "d.t %s, ", dir);
        else if (so->f->slot >= 0 && (so->f->kind == IXF_DATE || so->f->kind == IXF_INT))
            rc |= buf_printf(&order, "ctslot(d.p, %d) %s, ", so->f->slot, dir);
        else {
            rc |= buf_printf(&order, "ctkey(d.rowid, d.p, %d) %s, ", so->f->fid, dir);
            slow = 1;
        }
    }
    rc |= buf_printf(&order, "d.rowid DESC LIMIT %lld OFFSET %lld", (long long)r->size, (long long)r->start);
    if (slow && rn->res->found > MAX_SLOW_SORT) {
        buf_free(&order);
        ix__qfail(rn->cc,
                  "sorting on a field read from the documents needs a query with at most %d hits (this one has %lld)",
                  MAX_SLOW_SORT, (long long)rn->res->found);
        return IX_SEARCH_BAD;
    }
    buf sql;
    buf_init(&sql, FRAG_MAX * 2);
    rc |= ix__where_clause(rn, &sql, "d.rowid", order.data);
    buf_free(&order);
    sqlite3_stmt *st = NULL;
    if (rc || ix__run_prepare(rn, sql.data, &st) != 0) {
        buf_free(&sql);
        return IX_SEARCH_ERR;
    }
    buf_free(&sql);
    int64_t rows[IXR_MAX_HITS];
    int n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < IXR_MAX_HITS) rows[n++] = sqlite3_column_int64(st, 0);
    int out = ix__step_error(rn, rc == SQLITE_ROW ? SQLITE_DONE : rc);
    sqlite3_finalize(st);
    for (int i = 0; i < n && out == IX_SEARCH_OK; i++) out = ix__add_hit(rn, rows[i]);
    return out;
}
