/* Facets: counts per value over every match (the dictionary's counts for matchall, else the
 * packed rows of the matches), the top values or the buckets asked for, as text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/ix_search_internal.h"
#include "index/ixvalue.h"
#include "index/query_parse.h"

typedef struct fentry {
    int64_t key, count;
    size_t off, len; /* value text in res->text */
} fentry;

static int by_count(const void *a, const void *b) {
    const fentry *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static __thread const char *sort_text; /* qsort has no context: the value texts being sorted */

static int by_value(const void *a, const void *b) {
    const fentry *x = a, *y = b;
    return ix__cmp_bytes(sort_text + x->off, x->len, sort_text + y->off, y->len);
}

static int by_count_value(const void *a, const void *b) {
    int c = by_count(a, b);
    return c ? c : by_value(a, b);
}

/* The value behind a hash: read from one document holding it (found by its token). */
static int unique_value(ix_run *rn, const ixf_field *f, uint64_t h, buf *t) {
    ix_store *s = rn->s;
    char tok[24];
    ix__token('h', h, tok);
    sqlite3_stmt *st = NULL;
    int64_t row = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT rowid FROM lit WHERE lit MATCH ?1 LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, tok, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) row = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    char err[256];
    if (!row || ix__doc_load(s, row, &s->old, err, sizeof err) != 0) return buf_append_str(t, "?");
    for (int i = 0; i < s->old.nfields; i++) {
        if (s->old.fields[i].f != f) continue;
        int tk = s->old.fields[i].tok, first = tk, count = 1;
        if (s->jd.toks[tk].type == JSON_ARRAY) {
            first = tk + 1;
            count = s->jd.toks[tk].size;
        }
        for (int e = first, j = 0; j < count; e = json_next(&s->jd, e), j++) {
            buf_clear(&s->scratch);
            if (buf_reserve(&s->scratch, json_tok_len(&s->jd, e) + 1) != 0) continue;
            long len = json_tok_decode(&s->jd, e, s->scratch.data, s->scratch.cap);
            if (len >= 0 && ix__value_hash(f->fid, s->scratch.data, (size_t)len) == h)
                return buf_append(t, s->scratch.data, (size_t)len);
        }
    }
    return buf_append_str(t, "?");
}

/* The text of a facet value (dictionary id, hash or number) appended to res->text. */
static int value_text(ix_run *rn, const ixf_field *f, int64_t key, size_t *off, size_t *len) {
    buf *t = &rn->res->text;
    *off = t->len;
    if (f->kind == IXF_INT) {
        if (buf_printf(t, "%lld", (long long)key)) return -1;
    } else if (f->kind == IXF_LITERAL_UNIQUE) {
        if (unique_value(rn, f, (uint64_t)key, t) != 0) return -1;
    } else {
        char v[SCHEMA_LITERAL_MAX_CHARS * 4 + 8];
        long n = ix__dict_value(rn->s, key, NULL, v, sizeof v);
        if (n < 0 || buf_append(t, v, (size_t)n)) return -1;
    }
    *len = t->len - *off;
    return 0;
}

static int keep_buckets(ix_run *rn, ix_facet_result *fr, fentry *e, size_t n, int limit) {
    if ((size_t)limit > n) limit = (int)n;
    fr->buckets = calloc((size_t)limit + 1, sizeof *fr->buckets);
    if (!fr->buckets) return -1;
    (void)rn;
    for (int i = 0; i < limit; i++) fr->buckets[i] = (ix_bucket){e[i].off, e[i].len, e[i].count};
    fr->nbuckets = limit;
    return 0;
}

/* Explicit buckets: values (or "[a,b]" ranges for ints). */
static int explicit_buckets(ix_run *rn, const ixr_facet *fc, ix_facet_result *fr, const ix_counter *c, int from_dict) {
    fr->buckets = calloc((size_t)fc->nbuckets + 1, sizeof *fr->buckets);
    if (!fr->buckets) return -1;
    for (int i = 0; i < fc->nbuckets; i++) {
        const char *b = fc->buckets[i];
        int64_t count = 0;
        size_t blen = strlen(b);
        if (fc->f->kind == IXF_INT && (b[0] == '[' || b[0] == '{')) {
            qtree *t = malloc(sizeof *t);
            char q[160];
            snprintf(q, sizeof q, "x:%s", b);
            if (!t || qp_structured(q, strlen(q), t) != 0 || t->nodes[t->root].kind != QN_RANGE) {
                free(t);
                ix__qfail(rn->cc, "facet.%s: bucket '%s' is not a range such as [1,10]", fc->f->sf->name, b);
                return -1;
            }
            const qnode *nd = &t->nodes[t->root];
            int64_t lo = INT64_MIN, hi = INT64_MAX;
            int bad = (nd->lo.present && ixvalue_int(qp_s(t, nd->lo), &lo)) ||
                      (nd->hi.present && ixvalue_int(qp_s(t, nd->hi), &hi));
            for (size_t j = 0; !bad && c && j < c->cap; j++) {
                int64_t k = c->keys[j];
                if (k == INT64_MIN) continue;
                if ((nd->lo_incl ? k >= lo : k > lo) && (nd->hi_incl ? k <= hi : k < hi)) count += c->counts[j];
            }
            free(t);
        } else if (fc->f->kind == IXF_INT) {
            int64_t v;
            if (ixvalue_int(b, &v) == 0) count = ix__counter_get(c, v);
        } else if (fc->f->kind == IXF_LITERAL_UNIQUE) {
            count = ix__counter_get(c, (int64_t)ix__value_hash(fc->f->fid, b, blen));
        } else {
            int64_t id = ix__dict_id(rn->s, fc->f->fid, b, blen, 0, 0);
            if (id > 0 && from_dict) {
                sqlite3_stmt *st = NULL;
                if (sqlite3_prepare_v2(rn->s->db, "SELECT n FROM vals WHERE id=?1", -1, &st, NULL) == SQLITE_OK) {
                    sqlite3_bind_int64(st, 1, id);
                    if (sqlite3_step(st) == SQLITE_ROW) count = sqlite3_column_int64(st, 0);
                }
                sqlite3_finalize(st);
            } else if (id > 0) {
                count = ix__counter_get(c, id);
            }
        }
        size_t off = rn->res->text.len;
        if (buf_append(&rn->res->text, b, blen)) return -1;
        fr->buckets[fr->nbuckets++] = (ix_bucket){off, blen, count};
    }
    return 0;
}

/* Top values from the counts of one facet's keys. */
static int top_buckets(ix_run *rn, const ixr_facet *fc, ix_facet_result *fr, const ix_counter *c) {
    size_t n = 0;
    fentry *e = malloc((c->n + 1) * sizeof *e);
    if (!e) return -1;
    for (size_t j = 0; j < c->cap; j++)
        if (c->keys[j] != INT64_MIN) e[n++] = (fentry){c->keys[j], c->counts[j], 0, 0};
    size_t take = n;
    if (!fc->sort_bucket) {
        /* by count; the values are only needed to order ties at the cut */
        qsort(e, n, sizeof *e, by_count);
        if (n > (size_t)fc->size) {
            int64_t cut = fc->size ? e[fc->size - 1].count : INT64_MAX;
            take = (size_t)fc->size;
            while (take < n && e[take].count == cut) take++;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < take && rc == 0; i++) rc = value_text(rn, fc->f, e[i].key, &e[i].off, &e[i].len);
    if (rc == 0) {
        sort_text = rn->res->text.data;
        qsort(e, take, sizeof *e, fc->sort_bucket ? by_value : by_count_value);
        rc = keep_buckets(rn, fr, e, take, fc->size);
    }
    free(e);
    return rc;
}

/* matchall over a dictionary-coded field: the counts the dictionary keeps. */
static int facet_from_dict(ix_run *rn, const ixr_facet *fc, ix_facet_result *fr) {
    if (fc->nbuckets) return explicit_buckets(rn, fc, fr, NULL, 1);
    sqlite3_stmt *st = NULL;
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT v, n FROM vals WHERE fid=?1 AND n > 0 ORDER BY %s LIMIT ?2",
             fc->sort_bucket ? "v ASC" : "n DESC, v ASC");
    if (sqlite3_prepare_v2(rn->s->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_int(st, 1, fc->f->fid);
    sqlite3_bind_int(st, 2, fc->size);
    fr->buckets = calloc((size_t)fc->size + 1, sizeof *fr->buckets);
    int rc = SQLITE_NOMEM;
    while (fr->buckets && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t off = rn->res->text.len, len = (size_t)sqlite3_column_bytes(st, 0);
        if (buf_append(&rn->res->text, sqlite3_column_blob(st, 0), len)) break;
        fr->buckets[fr->nbuckets++] = (ix_bucket){off, len, sqlite3_column_int64(st, 1)};
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1; /* a read error or no memory fails the search, not a short list */
}

int ix__run_facets(ix_run *rn) {
    const ix_request *r = rn->r;
    ix_counter counts[IXR_MAX_FACETS];
    memset(counts, 0, sizeof counts);
    int need_scan = 0, rc = IX_SEARCH_OK;
    for (int i = 0; i < r->nfacets; i++) {
        rn->res->facets[i].f = r->facets[i].f;
        int dict = r->facets[i].f->kind == IXF_LITERAL || r->facets[i].f->kind == IXF_LITERAL_ARRAY;
        if (rn->F->kind == FR_FALSE) continue;
        if (!(rn->F->kind == FR_TRUE && dict)) need_scan = 1;
    }
    rn->res->nfacets = r->nfacets;
    if (need_scan) rc = ix__facet_scan(rn, counts);
    for (int i = 0; i < r->nfacets && rc == IX_SEARCH_OK; i++) {
        const ixr_facet *fc = &r->facets[i];
        ix_facet_result *fr = &rn->res->facets[i];
        int dict = fc->f->kind == IXF_LITERAL || fc->f->kind == IXF_LITERAL_ARRAY;
        int e;
        if (rn->F->kind == FR_FALSE) e = fc->nbuckets ? explicit_buckets(rn, fc, fr, &counts[i], 0) : 0;
        else if (rn->F->kind == FR_TRUE && dict) e = facet_from_dict(rn, fc, fr);
        else if (fc->nbuckets) e = explicit_buckets(rn, fc, fr, &counts[i], 0);
        else e = top_buckets(rn, fc, fr, &counts[i]);
        if (e) rc = rn->cc->bad ? IX_SEARCH_BAD : IX_SEARCH_ERR;
    }
    for (int i = 0; i < r->nfacets; i++) {
        free(counts[i].keys);
        free(counts[i].counts);
    }
    return rc;
}
