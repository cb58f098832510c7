/* Text nodes (terms, phrases, prefixes, NEAR) as FTS5 expressions on the `text` table. */
#include <string.h>

#include "index/ix_search_internal.h"

static int put_quoted(buf *b, const char *s, size_t n) {
    if (buf_append(b, "\"", 1)) return -1;
    for (size_t i = 0; i < n; i++)
        if ((s[i] == '"' && buf_append(b, "\"", 1)) || buf_append(b, s + i, 1)) return -1;
    return buf_append(b, "\"", 1);
}

/* The FTS5 expression for one node's words, without a column filter. */
int ix__text_inner(const qnode *nd, const ix_words *t, buf *b) {
    int rc = 0;
    if (nd->kind == QN_PHRASE || nd->kind == QN_PREFIX) {
        rc |= buf_append(b, "\"", 1);
        for (int i = 0; i < t->n; i++) {
            if (i) rc |= buf_append(b, " ", 1);
            rc |= buf_append(b, t->buf + t->off[i], t->len[i]);
        }
        rc |= buf_append(b, nd->kind == QN_PREFIX ? "\" *" : "\"", nd->kind == QN_PREFIX ? 3 : 1);
    } else if (nd->kind == QN_NEAR && t->n > 1) {
        rc |= buf_append_str(b, "NEAR(");
        for (int i = 0; i < t->n; i++) rc |= buf_append(b, " ", 1) | put_quoted(b, t->buf + t->off[i], t->len[i]);
        rc |= buf_printf(b, ", %d)", nd->distance);
    } else {
        rc |= buf_append(b, "(", 1);
        for (int i = 0; i < t->n; i++) {
            if (i) rc |= buf_append_str(b, " AND ");
            rc |= put_quoted(b, t->buf + t->off[i], t->len[i]);
        }
        rc |= buf_append(b, ")", 1);
    }
    return rc;
}

/* Text node on some columns (mask of IXT_*): the words of a string must be in one column. */
int ix__text_leaf(ix_cctx *cc, const qnode *nd, unsigned columns, ix_frag *out) {
    static __thread ix_words t; /* large: not on the stack */
    const char *v = qp_s(cc->t, nd->value);
    if (ix__query_words(cc, v, nd->value.len, &t) != 0) return -1;
    if (t.n == 0) { /* only punctuation: nothing can match */
        out->kind = FR_FALSE;
        return 0;
    }
    out->kind = FR_TEXT;
    buf inner;
    buf_init(&inner, FRAG_MAX);
    int rc = ix__text_inner(nd, &t, &inner);
    if (columns == (1u << IXT_COLUMNS) - 1 && (t.n == 1 || nd->kind != QN_TERM)) {
        /* any column: a phrase, a prefix phrase or NEAR is within one column anyway */
        rc |= buf_append(&out->b, inner.data, inner.len);
    } else {
        int first = 1;
        rc |= buf_append(&out->b, "(", 1);
        for (int c = 0; c < IXT_COLUMNS; c++) {
            if (!(columns & (1u << c))) continue;
            rc |= buf_printf(&out->b, "%s(%s : %.*s)", first ? "" : " OR ", ixf_column_name(c), (int)inner.len,
                             inner.data);
            first = 0;
        }
        rc |= buf_append(&out->b, ")", 1);
    }
    buf_free(&inner);
    return rc ? ix__qfail(cc, "the query is too long") : 0;
}
