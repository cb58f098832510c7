/* Literal fields as `lit` tokens: dictionary ids, hashed values, enumerated prefixes and
 * ranges, and the candidate sets checked document by document (ctv) where the indexes can only
 * narrow the search down. */
#include <string.h>

#include "index/ix_search_internal.h"

#define MAX_ENUM 10000 /* values a prefix or range of a literal field may match */

int ix__lit_token(ix_frag *out, char kind, uint64_t v) {
    char tok[24];
    ix__token(kind, v, tok);
    out->kind = FR_LIT;
    return buf_append_str(&out->b, tok);
}

/* The ids of field f's values that a prefix or range selects, as "v1 OR v2 ...". */
int ix__literal_enum(ix_cctx *cc, const qnode *nd, const ixf_field *f, ix_frag *out) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(cc->s->db, "SELECT id, v FROM vals WHERE fid=?1 AND n > 0", -1, &st, NULL) != SQLITE_OK)
        return ix__sqlerr(cc->s, cc->err, cc->errcap, "enumerating values");
    sqlite3_bind_int(st, 1, f->fid);
    int count = 0, rc;
    const char *pre = qp_s(cc->t, nd->value);
    size_t pn = nd->value.len;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_blob(st, 1);
        size_t vn = (size_t)sqlite3_column_bytes(st, 1);
        int take;
        if (nd->kind == QN_PREFIX) take = vn >= pn && memcmp(v, pre, pn) == 0;
        else {
            take = 1;
            if (nd->lo.present) {
                int c = ix__cmp_bytes(v, vn, qp_s(cc->t, nd->lo), nd->lo.len);
                take = nd->lo_incl ? c >= 0 : c > 0;
            }
            if (take && nd->hi.present) {
                int c = ix__cmp_bytes(v, vn, qp_s(cc->t, nd->hi), nd->hi.len);
                take = nd->hi_incl ? c <= 0 : c < 0;
            }
        }
        if (!take) continue;
        if (++count > MAX_ENUM) {
            sqlite3_finalize(st);
            return ix__qfail(cc, "the %s on %s matches more than %d values: make it narrower",
                             nd->kind == QN_PREFIX ? "prefix" : "range", f->sf->name, MAX_ENUM);
        }
        char tok[24];
        ix__token('v', (uint64_t)sqlite3_column_int64(st, 0), tok);
        if ((count > 1 && buf_append_str(&out->b, " OR ")) || buf_append_str(&out->b, tok)) {
            sqlite3_finalize(st);
            return ix__qfail(cc, "the query is too long");
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return ix__sqlerr(cc->s, cc->err, cc->errcap, "enumerating values");
    if (!count) {
        out->kind = FR_FALSE;
        buf_clear(&out->b);
        return 0;
    }
    out->kind = FR_LIT;
    if (count > 1) { /* parenthesize */
        buf tmp = out->b;
        buf_init(&out->b, FRAG_MAX);
        int r = buf_append(&out->b, "(", 1) | buf_append(&out->b, tmp.data, tmp.len) | buf_append(&out->b, ")", 1);
        buf_free(&tmp);
        if (r) return ix__qfail(cc, "the query is too long");
    }
    return 0;
}

/* A candidate set checked document by document: ctv(rowid, k) runs the node on the stored doc. */
int ix__verified(ix_cctx *cc, const qnode *nd, int node, const ixf_field *f, ix_frag *cand, ix_frag *out) {
    if (cc->nv >= MAX_VERIFY) return ix__qfail(cc, "the query is too complex");
    int k = cc->nv++;
    cc->ver[k] = (ix_verify_item){cc->t, node, f};
    (void)nd;
    int b = ix__bind_str(cc, cand->b.data, cand->b.len);
    if (b < 0) return -1;
    out->kind = FR_SQL;
    return buf_printf(&out->b, "(d.rowid IN (SELECT rowid FROM %s WHERE %s MATCH ?%d) AND ctv(d.rowid, %d))",
                      cand->kind == FR_LIT ? "lit" : "text", cand->kind == FR_LIT ? "lit" : "text", b, k)
               ? ix__qfail(cc, "the query is too long")
               : 0;
}

/* A search-only literal: the value's words as a phrase in raw (documents built with raw), or its
 * hashed token (documents without), then the value compared on each candidate. */
int ix__hashed_literal(ix_cctx *cc, const qnode *nd, int node, const ixf_field *f, ix_frag *out) {
    static __thread ix_words t;
    const char *v = qp_s(cc->t, nd->value);
    if (ix__query_words(cc, v, nd->value.len, &t) != 0) return -1;
    if (cc->nv >= MAX_VERIFY) return ix__qfail(cc, "the query is too complex");
    int k = cc->nv++;
    cc->ver[k] = (ix_verify_item){cc->t, node, f};
    char tok[24];
    ix__token('h', ix__value_hash(f->fid, v, nd->value.len), tok);
    int bh = ix__bind_str(cc, tok, strlen(tok));
    if (bh < 0) return -1;
    out->kind = FR_SQL;
    if (t.n == 0) /* no words: only a check of every document can tell */
        return buf_printf(&out->b, "ctv(d.rowid, %d)", k) ? ix__qfail(cc, "the query is too long") : 0;
    buf phrase;
    buf_init(&phrase, FRAG_MAX);
    qnode as_phrase = *nd;
    as_phrase.kind = QN_PHRASE;
    int rc = buf_append_str(&phrase, "raw : ") | ix__text_inner(&as_phrase, &t, &phrase);
    int bp = rc ? -1 : ix__bind_str(cc, phrase.data, phrase.len);
    buf_free(&phrase);
    if (bp < 0) return rc ? ix__qfail(cc, "the query is too long") : -1;
    return buf_printf(&out->b,
                      "((d.rowid IN (SELECT rowid FROM text WHERE text MATCH ?%d) OR d.rowid IN (SELECT rowid FROM lit "
                      "WHERE lit MATCH ?%d)) AND ctv(d.rowid, %d))",
                      bp, bh, k)
               ? ix__qfail(cc, "the query is too long")
               : 0;
}

/* A prefix of a nearly unique literal (an IP range such as '10.0.'): its words as a prefix phrase
 * in raw find candidates, each checked against its value. */
int ix__unique_prefix(ix_cctx *cc, const qnode *nd, int node, const ixf_field *f, ix_frag *out) {
    ix_frag cand;
    ix__frag_init(&cand, FR_TEXT);
    qnode as_prefix = *nd;
    as_prefix.kind = QN_PREFIX;
    int rc = ix__text_leaf(cc, &as_prefix, 1u << IXT_RAW, &cand);
    if (rc == 0 && cand.kind == FR_FALSE) {
        if (cc->nv >= MAX_VERIFY) rc = ix__qfail(cc, "the query is too complex");
        else { /* no words in the prefix: every document is a candidate */ int k = cc->nv++;
            cc->ver[k] = (ix_verify_item){cc->t, node, f};
            out->kind = FR_SQL;
            rc = buf_printf(&out->b, "ctv(d.rowid, %d)", k) ? ix__qfail(cc, "the query is too long") : 0;
        }
    } else if (rc == 0) {
        rc = ix__verified(cc, nd, node, f, &cand, out);
    }
    buf_free(&cand.b);
    return rc;
}
