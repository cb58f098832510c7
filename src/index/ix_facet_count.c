/* Counting facet values over the matches: a hash table of key -> documents, filled from the
 * packed rows of the matches. */
#include <stdlib.h>
#include <string.h>

#include "index/ix_search_internal.h"

int ix__counter_add(ix_counter *c, int64_t key) {
    if ((c->n + 1) * 2 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        int64_t *k = malloc(cap * sizeof *k), *v = calloc(cap, sizeof *v);
        if (!k || !v) {
            free(k);
            free(v);
            return -1;
        }
        for (size_t i = 0; i < cap; i++) k[i] = INT64_MIN;
        for (size_t i = 0; i < c->cap; i++) {
            if (c->keys[i] == INT64_MIN) continue;
            size_t j = ((uint64_t)c->keys[i] * 0x9E3779B97F4A7C15ULL) & (cap - 1);
            while (k[j] != INT64_MIN) j = (j + 1) & (cap - 1);
            k[j] = c->keys[i];
            v[j] = c->counts[i];
        }
        free(c->keys);
        free(c->counts);
        c->keys = k;
        c->counts = v;
        c->cap = cap;
    }
    size_t j = ((uint64_t)key * 0x9E3779B97F4A7C15ULL) & (c->cap - 1);
    while (c->keys[j] != INT64_MIN && c->keys[j] != key) j = (j + 1) & (c->cap - 1);
    if (c->keys[j] == INT64_MIN) {
        c->keys[j] = key;
        c->n++;
    }
    c->counts[j]++;
    return 0;
}

int64_t ix__counter_get(const ix_counter *c, int64_t key) {
    if (!c || !c->cap) return 0; /* no counter: counts come from the dictionary */
    size_t j = ((uint64_t)key * 0x9E3779B97F4A7C15ULL) & (c->cap - 1);
    while (c->keys[j] != INT64_MIN) {
        if (c->keys[j] == key) return c->counts[j];
        j = (j + 1) & (c->cap - 1);
    }
    return 0;
}

/* The packed rows of every match read once, each facet's slot counted into counts[i]. */
int ix__facet_scan(ix_run *rn, ix_counter *counts) {
    const ix_request *r = rn->r;
    int rc;
    buf sql;
    buf_init(&sql, FRAG_MAX * 2);
    sqlite3_stmt *st = NULL;
    if (ix__where_clause(rn, &sql, "d.p", "") || ix__run_prepare(rn, sql.data, &st) != 0) {
        buf_free(&sql);
        return IX_SEARCH_ERR;
    }
    buf_free(&sql);
    int want[IXF_MAX]; /* slot -> facet index + 1 */
    memset(want, 0, sizeof want);
    int max_slot = -1;
    for (int i = 0; i < r->nfacets; i++) {
        want[r->facets[i].f->slot] = i + 1;
        if (r->facets[i].f->slot > max_slot) max_slot = r->facets[i].f->slot;
    }
    int sr;
    while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
        const uint8_t *p = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0), pos = 0;
        for (int k = 0; k <= max_slot && pos < n; k++) {
            uint64_t v;
            if (ix__varint_get(p, n, &pos, &v) != 0) break;
            const ixf_field *f = ixf_by_slot(k);
            ix_counter *c = want[k] ? &counts[want[k] - 1] : NULL;
            if (f->is_array) {
                for (uint64_t j = 0; v && j + 1 < v; j++) {
                    uint64_t x;
                    if (ix__varint_get(p, n, &pos, &x) != 0) break;
                    if (c && ix__counter_add(c, (int64_t)x)) sr = SQLITE_NOMEM;
                }
            } else if (v && c) {
                int64_t key =
                    f->kind == IXF_LITERAL || f->kind == IXF_LITERAL_UNIQUE ? (int64_t)(v - 1) : ix__unzigzag(v - 1);
                if (ix__counter_add(c, key)) sr = SQLITE_NOMEM;
            }
        }
        if (sr == SQLITE_NOMEM) break;
    }
    rc = ix__step_error(rn, sr == SQLITE_ROW ? SQLITE_DONE : sr);
    sqlite3_finalize(st);
    return rc;
}
