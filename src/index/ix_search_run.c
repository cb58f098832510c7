/* Running a search (ix_search.h): the query and the filter compiled, then the count, the page of
 * hits and the facets in one read transaction, under the time limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "index/ix_search_internal.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int on_progress(void *ud) {
    ix_run *rn = ud;
    if (rn->deadline > 0 && now_ms() > rn->deadline) {
        rn->timed_out = 1;
        return 1;
    }
    return 0;
}

int ix__run_prepare(ix_run *rn, const char *sql, sqlite3_stmt **st) {
    if (sqlite3_prepare_v2(rn->s->db, sql, -1, st, NULL) != SQLITE_OK)
        return ix__sqlerr(rn->s, rn->cc->err, rn->cc->errcap, "preparing the query");
    if (rn->pure) sqlite3_bind_text(*st, 1, rn->F->b.data, (int)rn->F->b.len, SQLITE_STATIC);
    else ix__bind_all(rn->cc, *st);
    return 0;
}

/* "FROM ... WHERE ..." for the matches, rows named d (for the pure case, the FTS table). */
int ix__where_clause(ix_run *rn, buf *b, const char *cols, const char *tail) {
    const char *t = rn->F->kind == FR_LIT ? "lit" : "text";
    if (rn->F->kind == FR_TRUE) return buf_printf(b, "SELECT %s FROM docs d %s", cols, tail);
    if (rn->pure)
        return buf_printf(b, "SELECT %s FROM docs d WHERE d.rowid IN (SELECT rowid FROM %s WHERE %s MATCH ?1) %s", cols,
                          t, t, tail);
    return buf_printf(b, "SELECT %s FROM docs d WHERE %.*s %s", cols, (int)rn->F->b.len, rn->F->b.data, tail);
}

int ix__step_error(ix_run *rn, int rc) {
    if (rn->timed_out) return IX_SEARCH_TIMEOUT;
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return IX_SEARCH_OK;
    return ix__sqlerr(rn->s, rn->cc->err, rn->cc->errcap, "running the query"), IX_SEARCH_ERR;
}

static int run_count(ix_run *rn) {
    if (rn->F->kind == FR_TRUE) {
        rn->res->found = ix_doc_count(rn->s);
        return IX_SEARCH_OK;
    }
    sqlite3_stmt *st = NULL;
    buf sql;
    buf_init(&sql, FRAG_MAX * 2);
    int rc;
    if (rn->pure) {
        const char *t = rn->F->kind == FR_LIT ? "lit" : "text";
        rc = buf_printf(&sql, "SELECT count(*) FROM %s WHERE %s MATCH ?1", t, t);
    } else {
        rc = ix__where_clause(rn, &sql, "count(*)", "");
    }
    if (rc || ix__run_prepare(rn, sql.data, &st) != 0) {
        buf_free(&sql);
        return IX_SEARCH_ERR;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) rn->res->found = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    buf_free(&sql);
    return ix__step_error(rn, rc);
}

/* ---- the whole search -------------------------------------------------------------------- */

int ix_search(ix_store *s, const ix_request *r, ix_result *res, unsigned timeout_ms, char *err, size_t errcap) {
    ix_result_free(res);
    ix_result_init(res);
    res->start = r->start;
    qtree *qt = malloc(sizeof *qt), *ft = r->fq_len ? malloc(sizeof *ft) : NULL;
    ix_cctx *cc = calloc(1, sizeof *cc);
    ix_frag F, G;
    ix__frag_init(&F, FR_TRUE);
    ix__frag_init(&G, FR_TRUE);
    int rc = IX_SEARCH_ERR;
    if (!qt || !cc || (r->fq_len && !ft)) {
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    cc->s = s;
    cc->err = err;
    cc->errcap = errcap;
    err[0] = '\0';
    int prc = r->parser == IXQ_STRUCTURED ? qp_structured(r->q, r->q_len, qt) : qp_simple(r->q, r->q_len, qt);
    if (prc != 0) {
        snprintf(err, errcap, "%s", qt->error);
        rc = IX_SEARCH_BAD;
        goto out;
    }
    if (ft && qp_structured(r->fq, r->fq_len, ft) != 0) {
        snprintf(err, errcap, "fq: %s", ft->error);
        rc = IX_SEARCH_BAD;
        goto out;
    }
    s->search_ctx = cc;
    cc->t = qt;
    if (ix__compile(cc, qt->root, &F) != 0) {
        rc = cc->bad ? IX_SEARCH_BAD : IX_SEARCH_ERR;
        goto out;
    }
    if (ft) {
        cc->t = ft;
        if (ix__compile(cc, ft->root, &G) != 0) {
            rc = cc->bad ? IX_SEARCH_BAD : IX_SEARCH_ERR;
            goto out;
        }
        ix_frag both[2] = {F, G}, joined;
        ix__frag_init(&joined, FR_TRUE);
        buf_init(&F.b, FRAG_MAX);
        buf_init(&G.b, FRAG_MAX);
        int crc = ix__combine_and(cc, both, 2, &joined);
        buf_free(&both[0].b);
        buf_free(&both[1].b);
        buf_free(&F.b);
        F = joined;
        if (crc != 0) {
            rc = cc->bad ? IX_SEARCH_BAD : IX_SEARCH_ERR;
            goto out;
        }
    }
    ix_run rn = {s, r, res, cc, &F, 0, timeout_ms ? now_ms() + timeout_ms : 0, 0};
    rn.pure = (F.kind == FR_LIT || F.kind == FR_TEXT) && !F.neg;
    if (!rn.pure && F.kind != FR_TRUE && F.kind != FR_FALSE && ix__to_sql(cc, &F) != 0) goto out;
    sqlite3_progress_handler(s->db, 4000, on_progress, &rn);
    /* One read transaction: the count, hits and facets see one snapshot, and the file is locked
     * and checked once instead of for every statement (per-statement locking was half the CPU of
     * a one-day range search, which looks up the time of each row in its last hour). */
    int in_txn = sqlite3_get_autocommit(s->db) && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    if (F.kind == FR_FALSE) rc = IX_SEARCH_OK;
    else rc = run_count(&rn);
    int by_time = r->nsort == 0 || (r->nsort == 1 && (r->sort[0].kind == IXR_SORT_SCORE ||
                                                      (r->sort[0].kind == IXR_SORT_FIELD && r->sort[0].f->is_time)));
    int desc = !(r->nsort == 1 && r->sort[0].kind == IXR_SORT_FIELD && !r->sort[0].desc);
    if (rc == IX_SEARCH_OK && F.kind != FR_FALSE) rc = by_time ? ix__hits_by_time(&rn, desc) : ix__hits_sorted(&rn);
    if (rc == IX_SEARCH_OK) rc = ix__run_facets(&rn);
    sqlite3_progress_handler(s->db, 0, NULL, NULL);
    if (in_txn) sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc == IX_SEARCH_TIMEOUT) snprintf(err, errcap, "the search took longer than %u ms", timeout_ms);
    if (rc != IX_SEARCH_OK && cc->bad) rc = IX_SEARCH_BAD;
out:
    s->search_ctx = NULL;
    if (cc)
        for (int i = 0; i < cc->nb; i++) free(cc->binds[i].s);
    buf_free(&F.b);
    buf_free(&G.b);
    free(cc);
    free(qt);
    free(ft);
    return rc;
}
