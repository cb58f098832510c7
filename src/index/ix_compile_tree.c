/* A query tree as one fragment: each leaf by its field's kind, AND/OR/NOT merged into one FTS5
 * query where the parts are of one table, SQL conditions on the document rows otherwise. */
#include <stdlib.h>
#include <string.h>

#include "index/ix_search_internal.h"

static int leaf(ix_cctx *cc, int node, ix_frag *out) {
    const qnode *nd = &cc->t->nodes[node];
    const char *v = qp_s(cc->t, nd->value);
    if (!nd->field.present || nd->field.len == 0) {
        if (nd->kind == QN_RANGE) return ix__qfail(cc, "a range needs a field (field:[a,b] or (range field=F [a,b]))");
        return ix__text_leaf(cc, nd, (1u << IXT_COLUMNS) - 1, out);
    }
    const char *fname = qp_s(cc->t, nd->field);
    if (!strcmp(fname, "_id")) {
        /* ids are kept by hash: exact ids only, each hit checked */
        if (nd->kind == QN_RANGE || nd->kind == QN_PREFIX)
            return ix__qfail(cc, "_id: only exact ids can be searched (ids are kept by their hash)");
        if (cc->nv >= MAX_VERIFY) return ix__qfail(cc, "the query is too complex");
        int64_t h = ix__id_hash(cc->s, v, nd->value.len);
        int k = cc->nv++;
        cc->ver[k] = (ix_verify_item){cc->t, node, NULL};
        int b = ix__bind_int(cc, h);
        if (b < 0) return -1;
        out->kind = FR_SQL;
        return buf_printf(&out->b,
                          "(d.rowid IN (SELECT doc FROM ids WHERE h=?%d UNION ALL SELECT doc FROM ids_new WHERE h=?%d) "
                          "AND ctv(d.rowid, %d))",
                          b, b, k)
                   ? ix__qfail(cc, "the query is too long")
                   : 0;
    }
    const ixf_field *f = ixf_find(fname, nd->field.len);
    if (!f) return ix__qfail(cc, "Syntax error in query: field '%s' does not exist (offset %u)", fname, nd->pos);
    switch (f->kind) {
    case IXF_TEXT:
    case IXF_TEXT_COVERED:
        if (nd->kind == QN_RANGE)
            return ix__qfail(cc, "%s is a text field: ranges work on dates, numbers and literals", fname);
        if (f->kind == IXF_TEXT) return ix__text_leaf(cc, nd, 1u << f->column, out);
        {
            ix_frag cand;
            ix__frag_init(&cand, FR_TEXT);
            int rc = ix__text_leaf(cc, nd, (1u << IXT_RAW) | (1u << IXT_OTHER), &cand);
            if (rc == 0) {
                if (cand.kind == FR_FALSE) out->kind = FR_FALSE;
                else rc = ix__verified(cc, nd, node, f, &cand, out);
            }
            buf_free(&cand.b);
            return rc;
        }
    case IXF_LITERAL:
    case IXF_LITERAL_ARRAY:
        if (nd->kind == QN_PREFIX || nd->kind == QN_RANGE) return ix__literal_enum(cc, nd, f, out);
        {
            int64_t id = ix__dict_id(cc->s, f->fid, v, nd->value.len, 0, 0);
            if (id < 0) return ix__sqlerr(cc->s, cc->err, cc->errcap, "reading the dictionary");
            if (!id) return out->kind = FR_FALSE, 0;
            return ix__lit_token(out, 'v', (uint64_t)id);
        }
    case IXF_LITERAL_UNIQUE:
        if (nd->kind == QN_RANGE)
            return ix__qfail(cc, "%s: ranges are not supported on it (its values are kept by hash)", fname);
        if (nd->kind == QN_PREFIX) return ix__unique_prefix(cc, nd, node, f, out);
        /* The value's 60-bit hash: two values of one field would have to collide (about one chance
         * in 10^12 per search with a million distinct values) for a wrong match. */
        return ix__lit_token(out, 'h', ix__value_hash(f->fid, v, nd->value.len));
    case IXF_LITERAL_HASH:
        if (nd->kind == QN_PREFIX || nd->kind == QN_RANGE)
            return ix__qfail(cc, "%s is search-only (one value per record): %s searches are not supported on it", fname,
                             nd->kind == QN_PREFIX ? "prefix" : "range");
        return ix__hashed_literal(cc, nd, node, f, out);
    case IXF_DATE:
    case IXF_INT: return ix__slot_leaf(cc, nd, f, out);
    }
    return ix__qfail(cc, "cannot search %s", fname);
}

/* LIT/TEXT/TRUE/FALSE/SQL as an SQL condition on docs d. */
int ix__to_sql(ix_cctx *cc, ix_frag *f) {
    if (f->kind == FR_SQL) return 0;
    buf b;
    buf_init(&b, FRAG_MAX);
    int rc = 0;
    if (f->kind == FR_TRUE) rc = buf_append_str(&b, "1");
    else if (f->kind == FR_FALSE) rc = buf_append_str(&b, "0");
    else {
        int n = ix__bind_str(cc, f->b.data, f->b.len);
        if (n < 0) return -1;
        const char *t = f->kind == FR_LIT ? "lit" : "text";
        rc = buf_printf(&b, "%sd.rowid IN (SELECT rowid FROM %s WHERE %s MATCH ?%d)", f->neg ? "NOT " : "", t, t, n);
    }
    buf_free(&f->b);
    f->b = b;
    f->kind = FR_SQL;
    f->neg = 0;
    return rc ? ix__qfail(cc, "the query is too long") : 0;
}

/* AND of frags: positive FTS parts of one table become one FTS query, negative ones are
 * subtracted with FTS5's NOT; the rest are SQL conditions. Consumes the frags. */
int ix__combine_and(ix_cctx *cc, ix_frag *fs, int n, ix_frag *out) {
    int rc = 0;
    for (int i = 0; i < n; i++)
        if (fs[i].kind == FR_FALSE) {
            out->kind = FR_FALSE;
            return 0;
        }
    ix_frag group[2];
    for (int g = 0; g < 2; g++) {
        int kind = g ? FR_TEXT : FR_LIT;
        ix__frag_init(&group[g], FR_TRUE);
        int pos = 0;
        for (int i = 0; i < n; i++)
            if (fs[i].kind == kind && !fs[i].neg) {
                rc |= buf_printf(&group[g].b, "%s(%.*s)", pos ? " AND " : "", (int)fs[i].b.len, fs[i].b.data);
                pos++;
                fs[i].kind = FR_TRUE;
            }
        if (!pos) continue;
        group[g].kind = kind;
        for (int i = 0; i < n; i++)
            if (fs[i].kind == kind && fs[i].neg) {
                buf w;
                buf_init(&w, FRAG_MAX);
                rc |= buf_printf(&w, "(%.*s) NOT (%.*s)", (int)group[g].b.len, group[g].b.data, (int)fs[i].b.len,
                                 fs[i].b.data);
                buf_free(&group[g].b);
                group[g].b = w;
                fs[i].kind = FR_TRUE;
            }
    }
    /* what is left: SQL parts (and negative FTS parts without a positive one to subtract from) */
    ix_frag *parts[64];
    int np = 0;
    for (int g = 0; g < 2; g++)
        if (group[g].kind != FR_TRUE) parts[np++] = &group[g];
    for (int i = 0; i < n && np < 64; i++)
        if (fs[i].kind != FR_TRUE) parts[np++] = &fs[i];
    if (np == 0) out->kind = FR_TRUE;
    else if (np == 1) {
        buf_free(&out->b);
        *out = *parts[0];
        buf_init(&parts[0]->b, FRAG_MAX);
    } else {
        out->kind = FR_SQL;
        for (int i = 0; i < np && rc == 0; i++) {
            rc |= ix__to_sql(cc, parts[i]);
            rc |= buf_printf(&out->b, "%s(%.*s)", i ? " AND " : "", (int)parts[i]->b.len, parts[i]->b.data);
        }
    }
    buf_free(&group[0].b);
    buf_free(&group[1].b);
    return rc ? (cc->bad ? -1 : ix__qfail(cc, "the query is too long")) : 0;
}

static int compile_children(ix_cctx *cc, int node, ix_frag *fs, int *n) {
    *n = 0;
    for (int c = cc->t->nodes[node].child; c >= 0; c = cc->t->nodes[c].next) {
        ix__frag_init(&fs[*n], FR_TRUE);
        (*n)++;
        if (ix__compile(cc, c, &fs[*n - 1]) != 0) return -1;
    }
    return 0;
}

int ix__compile(ix_cctx *cc, int node, ix_frag *out) {
    const qnode *nd = &cc->t->nodes[node];
    if (nd->kind == QN_MATCHALL) {
        out->kind = FR_TRUE;
        return 0;
    }
    if (nd->kind == QN_NOT) {
        if (ix__compile(cc, nd->child, out) != 0) return -1;
        if (out->kind == FR_TRUE) out->kind = FR_FALSE;
        else if (out->kind == FR_FALSE) out->kind = FR_TRUE;
        else if (out->kind == FR_SQL) {
            buf b;
            buf_init(&b, FRAG_MAX);
            int rc = buf_printf(&b, "NOT (%.*s)", (int)out->b.len, out->b.data);
            buf_free(&out->b);
            out->b = b;
            if (rc) return ix__qfail(cc, "the query is too long");
        } else out->neg = !out->neg;
        return 0;
    }
    if (nd->kind != QN_AND && nd->kind != QN_OR) return leaf(cc, node, out);
    ix_frag *fs = calloc((size_t)nd->nchildren, sizeof *fs);
    if (!fs) return ix__qfail(cc, "out of memory");
    int n = 0, rc = compile_children(cc, node, fs, &n);
    if (rc == 0 && nd->kind == QN_AND) rc = ix__combine_and(cc, fs, n, out);
    else if (rc == 0) { /* OR */ int all_lit = 1, all_text = 1, live = 0;
        for (int i = 0; i < n; i++) {
            if (fs[i].kind == FR_TRUE) {
                out->kind = FR_TRUE;
                goto done;
            }
            if (fs[i].kind == FR_FALSE) continue;
            live++;
            all_lit &= fs[i].kind == FR_LIT && !fs[i].neg;
            all_text &= fs[i].kind == FR_TEXT && !fs[i].neg;
        }
        if (!live) out->kind = FR_FALSE;
        else {
            out->kind = all_lit ? FR_LIT : all_text ? FR_TEXT : FR_SQL;
            int k = 0;
            for (int i = 0; i < n && rc == 0; i++) {
                if (fs[i].kind == FR_FALSE) continue;
                if (out->kind == FR_SQL) rc |= ix__to_sql(cc, &fs[i]);
                rc |= buf_printf(&out->b, "%s(%.*s)", k++ ? " OR " : "", (int)fs[i].b.len, fs[i].b.data);
            }
            if (rc && !cc->bad) ix__qfail(cc, "the query is too long");
        }
    }
done:
    for (int i = 0; i < n; i++) buf_free(&fs[i].b);
    free(fs);
    return rc;
}
