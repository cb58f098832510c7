#include "index/ix_search.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "index/ix_internal.h"
#include "index/ixvalue.h"
#include "index/query_parse.h"

#define MAX_BINDS 512
#define MAX_VERIFY 64
#define MAX_ENUM 10000 /* values a prefix or range of a literal field may match */
#define MAX_TOKENS 256 /* words of one query string */
#define MAX_SLOW_SORT 200000
#define FRAG_MAX (4u << 20)

enum { FR_TRUE, FR_FALSE, FR_LIT, FR_TEXT, FR_SQL };

typedef struct frag {
    int kind;
    int neg; /* LIT/TEXT: the documents that do NOT match */
    buf b;
} frag;

typedef struct bindv {
    int is_int;
    int64_t i;
    char *s;
    size_t n;
} bindv;

typedef struct verify_item {
    const qtree *t;
    int node;
    const ixf_field *f;
} verify_item;

typedef struct cctx {
    ix_store *s;
    const qtree *t;
    bindv binds[MAX_BINDS];
    int nb;
    verify_item ver[MAX_VERIFY];
    int nv;
    char *err;
    size_t errcap;
    int bad; /* the user's mistake (400), not the index's */
    clock_t deadline;
} cctx;

static int cfail(cctx *cc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cfail(cctx *cc, const char *fmt, ...) {
    if (!cc->bad) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cc->err, cc->errcap, fmt, ap);
        va_end(ap);
    }
    cc->bad = 1;
    return -1;
}

static void frag_init(frag *f, int kind) {
    f->kind = kind;
    f->neg = 0;
    buf_init(&f->b, FRAG_MAX);
}

static int add_bind_str(cctx *cc, const char *s, size_t n) {
    if (cc->nb >= MAX_BINDS) return cfail(cc, "the query is too complex (more than %d parts)", MAX_BINDS);
    char *c = malloc(n + 1);
    if (!c) return -1;
    memcpy(c, s, n);
    c[n] = '\0';
    cc->binds[cc->nb] = (bindv){0, 0, c, n};
    return ++cc->nb;
}

static int add_bind_int(cctx *cc, int64_t v) {
    if (cc->nb >= MAX_BINDS) return cfail(cc, "the query is too complex (more than %d parts)", MAX_BINDS);
    cc->binds[cc->nb] = (bindv){1, v, NULL, 0};
    return ++cc->nb;
}

static void bind_all(const cctx *cc, sqlite3_stmt *st) {
    for (int i = 0; i < cc->nb; i++) {
        if (cc->binds[i].is_int) sqlite3_bind_int64(st, i + 1, cc->binds[i].i);
        else sqlite3_bind_text(st, i + 1, cc->binds[i].s, (int)cc->binds[i].n, SQLITE_STATIC);
    }
}

/* ---- text: tokens of a query string ----------------------------------------------------- */

typedef struct toks {
    char buf[QP_MAX_QUERY + 2 * MAX_TOKENS];
    size_t off[MAX_TOKENS], len[MAX_TOKENS];
    int n, overflow;
    size_t used;
} toks;

static int collect_token(void *ud, const char *tok, int len, int start, int end) {
    toks *t = ud;
    (void)start;
    (void)end;
    if (t->n >= MAX_TOKENS || t->used + (size_t)len + 1 > sizeof t->buf) {
        t->overflow = 1;
        return SQLITE_OK;
    }
    memcpy(t->buf + t->used, tok, (size_t)len);
    t->off[t->n] = t->used;
    t->len[t->n] = (size_t)len;
    t->used += (size_t)len + 1;
    t->n++;
    return SQLITE_OK;
}

static int tokenize(cctx *cc, const char *v, size_t n, toks *t) {
    t->n = t->overflow = 0;
    t->used = 0;
    if (ix__tokenize(cc->s, v, n, collect_token, t) != 0) return cfail(cc, "cannot tokenize the query");
    if (t->overflow) return cfail(cc, "a query string has more than %d words", MAX_TOKENS);
    return 0;
}

static int put_quoted(buf *b, const char *s, size_t n) {
    if (buf_append(b, "\"", 1)) return -1;
    for (size_t i = 0; i < n; i++)
        if ((s[i] == '"' && buf_append(b, "\"", 1)) || buf_append(b, s + i, 1)) return -1;
    return buf_append(b, "\"", 1);
}

/* The FTS5 expression for one node's words, without a column filter. */
static int text_inner(const qnode *nd, const toks *t, buf *b) {
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
static int text_leaf(cctx *cc, const qnode *nd, unsigned columns, frag *out) {
    static __thread toks t; /* large: not on the stack */
    const char *v = qp_s(cc->t, nd->value);
    if (tokenize(cc, v, nd->value.len, &t) != 0) return -1;
    if (t.n == 0) { /* only punctuation: nothing can match */
        out->kind = FR_FALSE;
        return 0;
    }
    out->kind = FR_TEXT;
    buf inner;
    buf_init(&inner, FRAG_MAX);
    int rc = text_inner(nd, &t, &inner);
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
    return rc ? cfail(cc, "the query is too long") : 0;
}

/* ---- literals ------------------------------------------------------------------------- */

static int lit_token(frag *out, char kind, uint64_t v) {
    char tok[24];
    ix__token(kind, v, tok);
    out->kind = FR_LIT;
    return buf_append_str(&out->b, tok);
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an < bn ? -1 : an > bn);
}

/* The ids of field f's values that a prefix or range selects, as "v1 OR v2 ...". */
static int literal_enum(cctx *cc, const qnode *nd, const ixf_field *f, frag *out) {
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
                int c = cmp_bytes(v, vn, qp_s(cc->t, nd->lo), nd->lo.len);
                take = nd->lo_incl ? c >= 0 : c > 0;
            }
            if (take && nd->hi.present) {
                int c = cmp_bytes(v, vn, qp_s(cc->t, nd->hi), nd->hi.len);
                take = nd->hi_incl ? c <= 0 : c < 0;
            }
        }
        if (!take) continue;
        if (++count > MAX_ENUM) {
            sqlite3_finalize(st);
            return cfail(cc, "the %s on %s matches more than %d values: make it narrower",
                         nd->kind == QN_PREFIX ? "prefix" : "range", f->sf->name, MAX_ENUM);
        }
        char tok[24];
        ix__token('v', (uint64_t)sqlite3_column_int64(st, 0), tok);
        if ((count > 1 && buf_append_str(&out->b, " OR ")) || buf_append_str(&out->b, tok)) {
            sqlite3_finalize(st);
            return cfail(cc, "the query is too long");
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
        if (r) return cfail(cc, "the query is too long");
    }
    return 0;
}

/* A candidate set checked document by document: ctv(rowid, k) runs the node on the stored doc. */
static int verified(cctx *cc, const qnode *nd, int node, const ixf_field *f, frag *cand, frag *out) {
    if (cc->nv >= MAX_VERIFY) return cfail(cc, "the query is too complex");
    int k = cc->nv++;
    cc->ver[k] = (verify_item){cc->t, node, f};
    (void)nd;
    int b = add_bind_str(cc, cand->b.data, cand->b.len);
    if (b < 0) return -1;
    out->kind = FR_SQL;
    return buf_printf(&out->b, "(d.rowid IN (SELECT rowid FROM %s WHERE %s MATCH ?%d) AND ctv(d.rowid, %d))",
                      cand->kind == FR_LIT ? "lit" : "text", cand->kind == FR_LIT ? "lit" : "text", b, k)
               ? cfail(cc, "the query is too long")
               : 0;
}

/* ---- numbers and dates ---------------------------------------------------------------- */

static int parse_scalar(cctx *cc, const ixf_field *f, qp_str s, int64_t *out) {
    const char *v = qp_s(cc->t, s);
    if (f->kind == IXF_DATE) {
        if (ixvalue_date(v, s.len, out) != 0)
            return cfail(cc, "'%.40s' is not a date for %s (RFC 3339 in UTC: yyyy-mm-ddTHH:mm:ssZ)", v, f->sf->name);
        return 0;
    }
    if (ixvalue_int(v, out) != 0) return cfail(cc, "'%.40s' is not an integer for %s", v, f->sf->name);
    return 0;
}

/* The first row id of an hour (row ids are hour << IX_SEQ_BITS | sequence), hours clamped to
 * [0, IX_MAX_HOUR]. */
static int64_t hour_row(int64_t hour) {
    if (hour < 0) hour = 0;
    if (hour > IX_MAX_HOUR) hour = IX_MAX_HOUR;
    return (int64_t)((uint64_t)hour << IX_SEQ_BITS);
}

static int slot_leaf(cctx *cc, const qnode *nd, const ixf_field *f, frag *out) {
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    if (nd->kind == QN_RANGE) {
        if (nd->lo.present && parse_scalar(cc, f, nd->lo, &lo) != 0) return -1;
        if (nd->hi.present && parse_scalar(cc, f, nd->hi, &hi) != 0) return -1;
        if (nd->lo.present && !nd->lo_incl) {
            if (lo == INT64_MAX) return out->kind = FR_FALSE, 0;
            lo++;
        }
        if (nd->hi.present && !nd->hi_incl) {
            if (hi == INT64_MIN) return out->kind = FR_FALSE, 0;
            hi--;
        }
    } else if (nd->kind == QN_TERM) {
        if (parse_scalar(cc, f, nd->value, &lo) != 0) return -1;
        hi = lo;
    } else {
        return cfail(cc, "%s is a %s field: use a value or a range", f->sf->name, schema_cs_type_name(f->sf->cs_type));
    }
    if (lo > hi) return out->kind = FR_FALSE, 0;
    out->kind = FR_SQL;
    int bl = add_bind_int(cc, lo), bh = add_bind_int(cc, hi);
    if (bl < 0 || bh < 0) return -1;
    int rc;
    if (f->is_time) {
        /* The row id's hour narrows the rows; in the hours the range covers whole, every row
         * matches without reading t (a one-day count then walks row ids only). Hour 0 (documents
         * without a time) and the last hour (times past it are kept there) are always checked. */
        const int64_t H = 3600000, mask = (INT64_C(1) << IX_SEQ_BITS) - 1;
        int64_t hlo = lo <= 0 ? 0 : (lo / H > IX_MAX_HOUR ? IX_MAX_HOUR : lo / H);
        int64_t hhi = hi < 0 ? -1 : (hi / H > IX_MAX_HOUR ? IX_MAX_HOUR : hi / H);
        int64_t full_lo = (lo > 0 && lo % H == 0) ? hlo : hlo + 1;
        int64_t full_hi = (hi >= 0 && hi % H == H - 1 && hhi < IX_MAX_HOUR) ? hhi : hhi - 1;
        if (full_lo < 1) full_lo = 1;
        int brl = add_bind_int(cc, hhi < 0 ? 0 : hour_row(hlo)),
            brh = add_bind_int(cc, hhi < 0 ? -1 : hour_row(hhi) | mask);
        if (brl < 0 || brh < 0) return -1;
        if (full_lo <= full_hi) {
            int bfl = add_bind_int(cc, hour_row(full_lo)), bfh = add_bind_int(cc, hour_row(full_hi) | mask);
            if (bfl < 0 || bfh < 0) return -1;
            rc = buf_printf(
                &out->b, "(d.rowid BETWEEN ?%d AND ?%d AND (d.rowid BETWEEN ?%d AND ?%d OR d.t BETWEEN ?%d AND ?%d))",
                brl, brh, bfl, bfh, bl, bh);
        } else {
            rc = buf_printf(&out->b, "(d.rowid BETWEEN ?%d AND ?%d AND d.t BETWEEN ?%d AND ?%d)", brl, brh, bl, bh);
        }
    } else {
        rc = buf_printf(&out->b, "(ctslot(d.p, %d) BETWEEN ?%d AND ?%d)", f->slot, bl, bh);
    }
    return rc ? cfail(cc, "the query is too long") : 0;
}

/* A search-only literal: the value's words as a phrase in raw (documents built with raw), or its
 * hashed token (documents without), then the value compared on each candidate. */
static int hashed_literal(cctx *cc, const qnode *nd, int node, const ixf_field *f, frag *out) {
    static __thread toks t;
    const char *v = qp_s(cc->t, nd->value);
    if (tokenize(cc, v, nd->value.len, &t) != 0) return -1;
    if (cc->nv >= MAX_VERIFY) return cfail(cc, "the query is too complex");
    int k = cc->nv++;
    cc->ver[k] = (verify_item){cc->t, node, f};
    char tok[24];
    ix__token('h', ix__value_hash(f->fid, v, nd->value.len), tok);
    int bh = add_bind_str(cc, tok, strlen(tok));
    if (bh < 0) return -1;
    out->kind = FR_SQL;
    if (t.n == 0) /* no words: only a check of every document can tell */
        return buf_printf(&out->b, "ctv(d.rowid, %d)", k) ? cfail(cc, "the query is too long") : 0;
    buf phrase;
    buf_init(&phrase, FRAG_MAX);
    qnode as_phrase = *nd;
    as_phrase.kind = QN_PHRASE;
    int rc = buf_append_str(&phrase, "raw : ") | text_inner(&as_phrase, &t, &phrase);
    int bp = rc ? -1 : add_bind_str(cc, phrase.data, phrase.len);
    buf_free(&phrase);
    if (bp < 0) return rc ? cfail(cc, "the query is too long") : -1;
    return buf_printf(&out->b,
                      "((d.rowid IN (SELECT rowid FROM text WHERE text MATCH ?%d) OR d.rowid IN (SELECT rowid FROM lit "
                      "WHERE lit MATCH ?%d)) AND ctv(d.rowid, %d))",
                      bp, bh, k)
               ? cfail(cc, "the query is too long")
               : 0;
}

/* A prefix of a nearly unique literal (an IP range such as '10.0.'): its words as a prefix phrase
 * in raw find candidates, each checked against its value. */
static int unique_prefix(cctx *cc, const qnode *nd, int node, const ixf_field *f, frag *out) {
    frag cand;
    frag_init(&cand, FR_TEXT);
    qnode as_prefix = *nd;
    as_prefix.kind = QN_PREFIX;
    int rc = text_leaf(cc, &as_prefix, 1u << IXT_RAW, &cand);
    if (rc == 0 && cand.kind == FR_FALSE) {
        if (cc->nv >= MAX_VERIFY) rc = cfail(cc, "the query is too complex");
        else { /* no words in the prefix: every document is a candidate */ int k = cc->nv++;
            cc->ver[k] = (verify_item){cc->t, node, f};
            out->kind = FR_SQL;
            rc = buf_printf(&out->b, "ctv(d.rowid, %d)", k) ? cfail(cc, "the query is too long") : 0;
        }
    } else if (rc == 0) {
        rc = verified(cc, nd, node, f, &cand, out);
    }
    buf_free(&cand.b);
    return rc;
}

/* ---- the tree --------------------------------------------------------------------------- */

static int leaf(cctx *cc, int node, frag *out) {
    const qnode *nd = &cc->t->nodes[node];
    const char *v = qp_s(cc->t, nd->value);
    if (!nd->field.present || nd->field.len == 0) {
        if (nd->kind == QN_RANGE) return cfail(cc, "a range needs a field (field:[a,b] or (range field=F [a,b]))");
        return text_leaf(cc, nd, (1u << IXT_COLUMNS) - 1, out);
    }
    const char *fname = qp_s(cc->t, nd->field);
    if (!strcmp(fname, "_id")) {
        /* ids are kept by hash: exact ids only, each hit checked */
        if (nd->kind == QN_RANGE || nd->kind == QN_PREFIX)
            return cfail(cc, "_id: only exact ids can be searched (ids are kept by their hash)");
        if (cc->nv >= MAX_VERIFY) return cfail(cc, "the query is too complex");
        int64_t h = ix__id_hash(v, nd->value.len);
        int k = cc->nv++;
        cc->ver[k] = (verify_item){cc->t, node, NULL};
        int b1 = add_bind_int(cc, h), b2 = add_bind_int(cc, h + 63 < h ? INT64_MAX : h + 63);
        if (b1 < 0 || b2 < 0) return -1;
        out->kind = FR_SQL;
        return buf_printf(&out->b,
                          "(d.rowid IN (SELECT doc FROM ids WHERE h BETWEEN ?%d AND ?%d) AND ctv(d.rowid, %d))", b1, b2,
                          k)
                   ? cfail(cc, "the query is too long")
                   : 0;
    }
    const ixf_field *f = ixf_find(fname, nd->field.len);
    if (!f) return cfail(cc, "Syntax error in query: field '%s' does not exist (offset %u)", fname, nd->pos);
    switch (f->kind) {
    case IXF_TEXT:
    case IXF_TEXT_COVERED:
        if (nd->kind == QN_RANGE)
            return cfail(cc, "%s is a text field: ranges work on dates, numbers and literals", fname);
        if (f->kind == IXF_TEXT) return text_leaf(cc, nd, 1u << f->column, out);
        {
            frag cand;
            frag_init(&cand, FR_TEXT);
            int rc = text_leaf(cc, nd, (1u << IXT_RAW) | (1u << IXT_OTHER), &cand);
            if (rc == 0) {
                if (cand.kind == FR_FALSE) out->kind = FR_FALSE;
                else rc = verified(cc, nd, node, f, &cand, out);
            }
            buf_free(&cand.b);
            return rc;
        }
    case IXF_LITERAL:
    case IXF_LITERAL_ARRAY:
        if (nd->kind == QN_PREFIX || nd->kind == QN_RANGE) return literal_enum(cc, nd, f, out);
        {
            int64_t id = ix__dict_id(cc->s, f->fid, v, nd->value.len, 0, 0);
            if (id < 0) return ix__sqlerr(cc->s, cc->err, cc->errcap, "reading the dictionary");
            if (!id) return out->kind = FR_FALSE, 0;
            return lit_token(out, 'v', (uint64_t)id);
        }
    case IXF_LITERAL_UNIQUE:
        if (nd->kind == QN_RANGE)
            return cfail(cc, "%s: ranges are not supported on it (its values are kept by hash)", fname);
        if (nd->kind == QN_PREFIX) return unique_prefix(cc, nd, node, f, out);
        /* The value's 60-bit hash: two values of one field would have to collide (about one chance
         * in 10^12 per search with a million distinct values) for a wrong match. */
        return lit_token(out, 'h', ix__value_hash(f->fid, v, nd->value.len));
    case IXF_LITERAL_HASH:
        if (nd->kind == QN_PREFIX || nd->kind == QN_RANGE)
            return cfail(cc, "%s is search-only (one value per record): %s searches are not supported on it", fname,
                         nd->kind == QN_PREFIX ? "prefix" : "range");
        return hashed_literal(cc, nd, node, f, out);
    case IXF_DATE:
    case IXF_INT: return slot_leaf(cc, nd, f, out);
    }
    return cfail(cc, "cannot search %s", fname);
}

/* LIT/TEXT/TRUE/FALSE/SQL as an SQL condition on docs d. */
static int to_sql(cctx *cc, frag *f) {
    if (f->kind == FR_SQL) return 0;
    buf b;
    buf_init(&b, FRAG_MAX);
    int rc = 0;
    if (f->kind == FR_TRUE) rc = buf_append_str(&b, "1");
    else if (f->kind == FR_FALSE) rc = buf_append_str(&b, "0");
    else {
        int n = add_bind_str(cc, f->b.data, f->b.len);
        if (n < 0) return -1;
        const char *t = f->kind == FR_LIT ? "lit" : "text";
        rc = buf_printf(&b, "%sd.rowid IN (SELECT rowid FROM %s WHERE %s MATCH ?%d)", f->neg ? "NOT " : "", t, t, n);
    }
    buf_free(&f->b);
    f->b = b;
    f->kind = FR_SQL;
    f->neg = 0;
    return rc ? cfail(cc, "the query is too long") : 0;
}

static int compile(cctx *cc, int node, frag *out);

/* AND of frags: positive FTS parts of one table become one FTS query, negative ones are
 * subtracted with FTS5's NOT; the rest are SQL conditions. Consumes the frags. */
static int combine_and(cctx *cc, frag *fs, int n, frag *out) {
    int rc = 0;
    for (int i = 0; i < n; i++)
        if (fs[i].kind == FR_FALSE) {
            out->kind = FR_FALSE;
            return 0;
        }
    frag group[2];
    for (int g = 0; g < 2; g++) {
        int kind = g ? FR_TEXT : FR_LIT;
        frag_init(&group[g], FR_TRUE);
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
    frag *parts[64];
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
            rc |= to_sql(cc, parts[i]);
            rc |= buf_printf(&out->b, "%s(%.*s)", i ? " AND " : "", (int)parts[i]->b.len, parts[i]->b.data);
        }
    }
    buf_free(&group[0].b);
    buf_free(&group[1].b);
    return rc ? (cc->bad ? -1 : cfail(cc, "the query is too long")) : 0;
}

static int compile_children(cctx *cc, int node, frag *fs, int *n) {
    *n = 0;
    for (int c = cc->t->nodes[node].child; c >= 0; c = cc->t->nodes[c].next) {
        frag_init(&fs[*n], FR_TRUE);
        (*n)++;
        if (compile(cc, c, &fs[*n - 1]) != 0) return -1;
    }
    return 0;
}

static int compile(cctx *cc, int node, frag *out) {
    const qnode *nd = &cc->t->nodes[node];
    if (nd->kind == QN_MATCHALL) {
        out->kind = FR_TRUE;
        return 0;
    }
    if (nd->kind == QN_NOT) {
        if (compile(cc, nd->child, out) != 0) return -1;
        if (out->kind == FR_TRUE) out->kind = FR_FALSE;
        else if (out->kind == FR_FALSE) out->kind = FR_TRUE;
        else if (out->kind == FR_SQL) {
            buf b;
            buf_init(&b, FRAG_MAX);
            int rc = buf_printf(&b, "NOT (%.*s)", (int)out->b.len, out->b.data);
            buf_free(&out->b);
            out->b = b;
            if (rc) return cfail(cc, "the query is too long");
        } else out->neg = !out->neg;
        return 0;
    }
    if (nd->kind != QN_AND && nd->kind != QN_OR) return leaf(cc, node, out);
    frag *fs = calloc((size_t)nd->nchildren, sizeof *fs);
    if (!fs) return cfail(cc, "out of memory");
    int n = 0, rc = compile_children(cc, node, fs, &n);
    if (rc == 0 && nd->kind == QN_AND) rc = combine_and(cc, fs, n, out);
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
                if (out->kind == FR_SQL) rc |= to_sql(cc, &fs[i]);
                rc |= buf_printf(&out->b, "%s(%.*s)", k++ ? " OR " : "", (int)fs[i].b.len, fs[i].b.data);
            }
            if (rc && !cc->bad) cfail(cc, "the query is too long");
        }
    }
done:
    for (int i = 0; i < n; i++) buf_free(&fs[i].b);
    free(fs);
    return rc;
}

/* ---- checking a stored document (ctv) --------------------------------------------------- */

typedef struct match_ctx {
    const toks *q;
    int kind, distance;
    int pos;                       /* position of the current field token */
    int nearest[MAX_TOKENS];       /* TERM, NEAR: where each query word was last seen */
    unsigned char run[MAX_TOKENS]; /* PHRASE, PREFIX: run[i] = words 0..i end at the last token */
    int ok;
} match_ctx;

static int tok_eq(const toks *q, int i, const char *t, int n, int prefix) {
    size_t ql = q->len[i];
    if (prefix) return (size_t)n >= ql && memcmp(t, q->buf + q->off[i], ql) == 0;
    return (size_t)n == ql && memcmp(t, q->buf + q->off[i], ql) == 0;
}

/* The field's tokens stream in, in order. */
static int match_token(void *ud, const char *t, int n, int start, int end) {
    match_ctx *m = ud;
    (void)start;
    (void)end;
    int p = m->pos++;
    const toks *q = m->q;
    if (m->ok) return SQLITE_OK;
    if (m->kind == QN_PHRASE || m->kind == QN_PREFIX) {
        int last = q->n - 1;
        for (int i = last; i >= 0; i--) /* backwards: run[i - 1] is still the previous token's */
            m->run[i] = (i == 0 || m->run[i - 1]) && tok_eq(q, i, t, n, m->kind == QN_PREFIX && i == last);
        if (m->run[last]) m->ok = 1;
        return SQLITE_OK;
    }
    for (int i = 0; i < q->n; i++)
        if (tok_eq(q, i, t, n, 0)) m->nearest[i] = p;
    int lo = INT32_MAX, hi = -1;
    for (int i = 0; i < q->n; i++) {
        if (m->nearest[i] < 0) return SQLITE_OK;
        if (m->nearest[i] < lo) lo = m->nearest[i];
        if (m->nearest[i] > hi) hi = m->nearest[i];
    }
    /* every word seen; NEAR also wants them within distance words of each other */
    if (m->kind != QN_NEAR || hi - lo - (q->n - 1) <= m->distance) m->ok = 1;
    return SQLITE_OK;
}

/* Does text value (decoded) satisfy the node's words? */
static int text_matches(ix_store *s, const qnode *nd, const toks *q, const char *v, size_t n) {
    match_ctx m;
    memset(&m, 0, sizeof m);
    m.q = q;
    m.kind = nd->kind;
    m.distance = nd->distance;
    for (int i = 0; i < q->n; i++) m.nearest[i] = -1;
    if (q->n == 0) return 0;
    ix__tokenize(s, v, n, match_token, &m);
    return m.ok;
}

static void ctv_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    ix_store *s = sqlite3_user_data(ctx);
    cctx *cc = s->search_ctx;
    (void)argc;
    int k = sqlite3_value_int(argv[1]);
    if (!cc || k < 0 || k >= cc->nv) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    const verify_item *vi = &cc->ver[k];
    const qnode *nd = &vi->t->nodes[vi->node];
    char err[256];
    if (ix__doc_load(s, sqlite3_value_int64(argv[0]), &s->old, err, sizeof err) != 0) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    if (!vi->f) { /* _id */
        sqlite3_result_int(ctx, s->old.id_len == nd->value.len &&
                                    memcmp(s->old.id, qp_s(vi->t, nd->value), s->old.id_len) == 0);
        return;
    }
    static __thread toks q;
    int is_text = vi->f->kind == IXF_TEXT_COVERED;
    if (is_text) {
        q.n = q.overflow = 0;
        q.used = 0;
        ix__tokenize(s, qp_s(vi->t, nd->value), nd->value.len, collect_token, &q);
    }
    int ok = 0;
    for (int i = 0; i < s->old.nfields && !ok; i++) {
        if (s->old.fields[i].f != vi->f) continue;
        int tok = s->old.fields[i].tok;
        int first = tok, count = 1;
        if (s->jd.toks[tok].type == JSON_ARRAY) {
            first = tok + 1;
            count = s->jd.toks[tok].size;
        }
        for (int e = first, j = 0; j < count && !ok; e = json_next(&s->jd, e), j++) {
            if (s->jd.toks[e].type != JSON_STRING) continue;
            buf_clear(&s->scratch);
            if (buf_reserve(&s->scratch, json_tok_len(&s->jd, e) + 1) != 0) continue;
            long len = json_tok_decode(&s->jd, e, s->scratch.data, s->scratch.cap);
            if (len < 0) continue;
            if (is_text) ok = text_matches(s, nd, &q, s->scratch.data, (size_t)len);
            else if (nd->kind == QN_PREFIX)
                ok =
                    (size_t)len >= nd->value.len && memcmp(s->scratch.data, qp_s(vi->t, nd->value), nd->value.len) == 0;
            else ok = (size_t)len == nd->value.len && memcmp(s->scratch.data, qp_s(vi->t, nd->value), (size_t)len) == 0;
        }
    }
    sqlite3_result_int(ctx, ok);
}

/* ctslot(p, k): the integer in slot k of a packed row (date ms, int, dictionary id), or NULL. */
static int64_t slot_decode(const uint8_t *p, size_t n, int want, int *present) {
    size_t pos = 0;
    *present = 0;
    for (int k = 0; pos < n; k++) {
        uint64_t v;
        if (ix__varint_get(p, n, &pos, &v) != 0) return 0;
        const ixf_field *f = ixf_by_slot(k);
        if (f && f->is_array && v > 0) {
            for (uint64_t j = 0; j + 1 < v; j++) {
                uint64_t x;
                if (ix__varint_get(p, n, &pos, &x) != 0) return 0;
                if (k == want && j == 0) {
                    *present = 1;
                    return (int64_t)x;
                }
            }
            continue;
        }
        if (k == want) {
            if (!v) return 0;
            *present = 1;
            return f && (f->kind == IXF_LITERAL || f->kind == IXF_LITERAL_UNIQUE) ? (int64_t)(v - 1)
                                                                                  : ix__unzigzag(v - 1);
        }
    }
    return 0;
}

static void ctslot_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    const uint8_t *p = sqlite3_value_blob(argv[0]);
    size_t n = (size_t)sqlite3_value_bytes(argv[0]);
    int present;
    int64_t v = slot_decode(p, n, sqlite3_value_int(argv[1]), &present);
    if (present) sqlite3_result_int64(ctx, v);
    else sqlite3_result_null(ctx);
}

/* ctkey(rowid, p, fid): the sort key of a field (-1: the document id). */
static void ctkey_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    ix_store *s = sqlite3_user_data(ctx);
    (void)argc;
    int fid = sqlite3_value_int(argv[2]);
    const ixf_field *f = fid >= 0 ? ixf_at((size_t)fid) : NULL;
    if (f && (f->kind == IXF_DATE || f->kind == IXF_INT) && f->slot >= 0) {
        int present;
        int64_t v = slot_decode(sqlite3_value_blob(argv[1]), (size_t)sqlite3_value_bytes(argv[1]), f->slot, &present);
        if (present) sqlite3_result_int64(ctx, v);
        else sqlite3_result_null(ctx);
        return;
    }
    char err[256];
    if (ix__doc_load(s, sqlite3_value_int64(argv[0]), &s->old, err, sizeof err) != 0) {
        sqlite3_result_null(ctx);
        return;
    }
    if (!f) {
        sqlite3_result_text(ctx, s->old.id, (int)s->old.id_len, SQLITE_TRANSIENT);
        return;
    }
    for (int i = 0; i < s->old.nfields; i++)
        if (s->old.fields[i].f == f && s->jd.toks[s->old.fields[i].tok].type == JSON_STRING) {
            int tok = s->old.fields[i].tok;
            buf_clear(&s->scratch);
            if (buf_reserve(&s->scratch, json_tok_len(&s->jd, tok) + 1) != 0) break;
            long len = json_tok_decode(&s->jd, tok, s->scratch.data, s->scratch.cap);
            if (len >= 0) {
                sqlite3_result_text(ctx, s->scratch.data, (int)len, SQLITE_TRANSIENT);
                return;
            }
        }
    sqlite3_result_null(ctx);
}

int ix__search_functions(ix_store *s) {
    int rc = sqlite3_create_function(s->db, "ctv", 2, SQLITE_UTF8, s, ctv_func, NULL, NULL);
    rc |= sqlite3_create_function(s->db, "ctslot", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, s, ctslot_func, NULL, NULL);
    rc |= sqlite3_create_function(s->db, "ctkey", 3, SQLITE_UTF8, s, ctkey_func, NULL, NULL);
    return rc == SQLITE_OK ? 0 : -1;
}

/* ---- running a search ------------------------------------------------------------------ */

void ix_result_init(ix_result *res) {
    memset(res, 0, sizeof *res);
    buf_init(&res->text, 256u << 20);
}

void ix_result_free(ix_result *res) {
    free(res->hits);
    for (int i = 0; i < res->nfacets; i++) free(res->facets[i].buckets);
    buf_free(&res->text);
    memset(res, 0, sizeof *res);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

typedef struct run {
    ix_store *s;
    const ix_request *r;
    ix_result *res;
    cctx *cc;
    frag *F;
    int pure; /* F is one positive FTS query */
    double deadline;
    int timed_out;
} run;

static int on_progress(void *ud) {
    run *rn = ud;
    if (rn->deadline > 0 && now_ms() > rn->deadline) {
        rn->timed_out = 1;
        return 1;
    }
    return 0;
}

static int prepare(run *rn, const char *sql, sqlite3_stmt **st) {
    if (sqlite3_prepare_v2(rn->s->db, sql, -1, st, NULL) != SQLITE_OK)
        return ix__sqlerr(rn->s, rn->cc->err, rn->cc->errcap, "preparing the query");
    if (rn->pure) sqlite3_bind_text(*st, 1, rn->F->b.data, (int)rn->F->b.len, SQLITE_STATIC);
    else bind_all(rn->cc, *st);
    return 0;
}

/* "FROM ... WHERE ..." for the matches, rows named d (for the pure case, the FTS table). */
static int where_clause(run *rn, buf *b, const char *cols, const char *tail) {
    const char *t = rn->F->kind == FR_LIT ? "lit" : "text";
    if (rn->F->kind == FR_TRUE) return buf_printf(b, "SELECT %s FROM docs d %s", cols, tail);
    if (rn->pure)
        return buf_printf(b, "SELECT %s FROM docs d WHERE d.rowid IN (SELECT rowid FROM %s WHERE %s MATCH ?1) %s", cols,
                          t, t, tail);
    return buf_printf(b, "SELECT %s FROM docs d WHERE %.*s %s", cols, (int)rn->F->b.len, rn->F->b.data, tail);
}

static int step_error(run *rn, int rc) {
    if (rn->timed_out) return IX_SEARCH_TIMEOUT;
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return IX_SEARCH_OK;
    return ix__sqlerr(rn->s, rn->cc->err, rn->cc->errcap, "running the query"), IX_SEARCH_ERR;
}

static int run_count(run *rn) {
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
        rc = where_clause(rn, &sql, "count(*)", "");
    }
    if (rc || prepare(rn, sql.data, &st) != 0) {
        buf_free(&sql);
        return IX_SEARCH_ERR;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) rn->res->found = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    buf_free(&sql);
    return step_error(rn, rc);
}

typedef struct cand {
    int64_t rowid, t;
} cand;

static int cand_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? 1 : -1;
    return x->rowid < y->rowid ? 1 : x->rowid > y->rowid ? -1 : 0;
}
static int cand_asc(const void *a, const void *b) { return cand_desc(b, a); }

static int add_hit_row(run *rn, int64_t rowid);

/* The newest (or oldest) hits: rows come in hour order, so only the hours holding the
 * start+size-th match need their times compared. */
static int hits_by_time(run *rn, int desc) {
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
        rc = where_clause(rn, &sql, "d.rowid", tail);
    }
    sqlite3_stmt *st = NULL;
    if (rc || prepare(rn, sql.data, &st) != 0) {
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
    int out = step_error(rn, rc == SQLITE_ROW ? SQLITE_DONE : rc);
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
        out = add_hit_row(rn, c[i].rowid);
    free(c);
    return out;
}

/* Any other order: SQLite sorts every match by the keys. */
static int hits_sorted(run *rn) {
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
        cfail(rn->cc,
              "sorting on a field read from the documents needs a query with at most %d hits (this one has %lld)",
              MAX_SLOW_SORT, (long long)rn->res->found);
        return IX_SEARCH_BAD;
    }
    buf sql;
    buf_init(&sql, FRAG_MAX * 2);
    rc |= where_clause(rn, &sql, "d.rowid", order.data);
    buf_free(&order);
    sqlite3_stmt *st = NULL;
    if (rc || prepare(rn, sql.data, &st) != 0) {
        buf_free(&sql);
        return IX_SEARCH_ERR;
    }
    buf_free(&sql);
    int64_t rows[IXR_MAX_HITS];
    int n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < IXR_MAX_HITS) rows[n++] = sqlite3_column_int64(st, 0);
    int out = step_error(rn, rc == SQLITE_ROW ? SQLITE_DONE : rc);
    sqlite3_finalize(st);
    for (int i = 0; i < n && out == IX_SEARCH_OK; i++) out = add_hit_row(rn, rows[i]);
    return out;
}

/* One field value as CloudSearch returns it: strings (numbers too), a list for arrays (and for
 * every value with format=sdk). */
static int put_value(buf *o, const json_doc *d, int tok, int list) {
    int rc = 0;
    if (d->toks[tok].type == JSON_ARRAY) {
        rc |= buf_append(o, "[", 1);
        for (int e = tok + 1, i = 0; i < d->toks[tok].size; e = json_next(d, e), i++)
            rc |= (i ? buf_append(o, ",", 1) : 0) | put_value(o, d, e, 0);
        return rc | buf_append(o, "]", 1);
    }
    if (list) rc |= buf_append(o, "[", 1);
    rc |= buf_append(o, "\"", 1) | buf_append(o, json_tok_ptr(d, tok), json_tok_len(d, tok)) | buf_append(o, "\"", 1);
    if (list) rc |= buf_append(o, "]", 1);
    return rc;
}

static int add_hit_row(run *rn, int64_t rowid) {
    ix_store *s = rn->s;
    ix_result *res = rn->res;
    const ix_request *r = rn->r;
    if (ix__doc_load(s, rowid, &s->old, rn->cc->err, rn->cc->errcap) != 0) return IX_SEARCH_ERR;
    if (res->nhits % 64 == 0) {
        ix_hit *g = realloc(res->hits, ((size_t)res->nhits + 64) * sizeof *g);
        if (!g) return IX_SEARCH_ERR;
        res->hits = g;
    }
    ix_hit *h = &res->hits[res->nhits++];
    memcpy(h->id, s->old.id, s->old.id_len + 1);
    h->fields_off = res->text.len;
    buf *o = &res->text;
    int rc = buf_append(o, "{", 1), first = 1;
    for (int i = 0; i < s->old.nfields && r->return_mode != IXR_RETURN_NONE; i++) {
        const ixf_field *f = s->old.fields[i].f;
        int want = r->return_mode == IXR_RETURN_ALL ? (f->sf->options & SF_RETURN) != 0 : r->ret[f - ixf_at(0)];
        if (!want) continue;
        rc |= buf_printf(o, "%s\"%s\":", first ? "" : ",", f->sf->name);
        rc |= put_value(o, &s->jd, s->old.fields[i].tok, r->sdk);
        first = 0;
    }
    if (r->ret_score) rc |= buf_printf(o, "%s\"_score\":%s", first ? "" : ",", r->sdk ? "[\"1.0\"]" : "\"1.0\"");
    rc |= buf_append(o, "}", 1);
    h->fields_len = res->text.len - h->fields_off;
    return rc ? IX_SEARCH_ERR : IX_SEARCH_OK;
}

/* ---- facets ------------------------------------------------------------------------------ */

typedef struct counter {
    int64_t *keys, *counts;
    size_t cap, n;
} counter;

static int counter_add(counter *c, int64_t key) {
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

static int64_t counter_get(const counter *c, int64_t key) {
    if (!c || !c->cap) return 0; /* no counter: counts come from the dictionary */
    size_t j = ((uint64_t)key * 0x9E3779B97F4A7C15ULL) & (c->cap - 1);
    while (c->keys[j] != INT64_MIN) {
        if (c->keys[j] == key) return c->counts[j];
        j = (j + 1) & (c->cap - 1);
    }
    return 0;
}

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
    return cmp_bytes(sort_text + x->off, x->len, sort_text + y->off, y->len);
}

static int by_count_value(const void *a, const void *b) {
    int c = by_count(a, b);
    return c ? c : by_value(a, b);
}

/* The value behind a hash: read from one document holding it (found by its token). */
static int unique_value(run *rn, const ixf_field *f, uint64_t h, buf *t) {
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
static int value_text(run *rn, const ixf_field *f, int64_t key, size_t *off, size_t *len) {
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

static int keep_buckets(run *rn, ix_facet_result *fr, fentry *e, size_t n, int limit) {
    if ((size_t)limit > n) limit = (int)n;
    fr->buckets = calloc((size_t)limit + 1, sizeof *fr->buckets);
    if (!fr->buckets) return -1;
    (void)rn;
    for (int i = 0; i < limit; i++) fr->buckets[i] = (ix_bucket){e[i].off, e[i].len, e[i].count};
    fr->nbuckets = limit;
    return 0;
}

/* Explicit buckets: values (or "[a,b]" ranges for ints). */
static int explicit_buckets(run *rn, const ixr_facet *fc, ix_facet_result *fr, const counter *c, int from_dict) {
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
                cfail(rn->cc, "facet.%s: bucket '%s' is not a range such as [1,10]", fc->f->sf->name, b);
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
            if (ixvalue_int(b, &v) == 0) count = counter_get(c, v);
        } else if (fc->f->kind == IXF_LITERAL_UNIQUE) {
            count = counter_get(c, (int64_t)ix__value_hash(fc->f->fid, b, blen));
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
                count = counter_get(c, id);
            }
        }
        size_t off = rn->res->text.len;
        if (buf_append(&rn->res->text, b, blen)) return -1;
        fr->buckets[fr->nbuckets++] = (ix_bucket){off, blen, count};
    }
    return 0;
}

/* Top values from the counts of one facet's keys. */
static int top_buckets(run *rn, const ixr_facet *fc, ix_facet_result *fr, const counter *c) {
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
static int facet_from_dict(run *rn, const ixr_facet *fc, ix_facet_result *fr) {
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

static int run_facets(run *rn) {
    const ix_request *r = rn->r;
    counter counts[IXR_MAX_FACETS];
    memset(counts, 0, sizeof counts);
    int need_scan = 0, rc = IX_SEARCH_OK;
    for (int i = 0; i < r->nfacets; i++) {
        rn->res->facets[i].f = r->facets[i].f;
        int dict = r->facets[i].f->kind == IXF_LITERAL || r->facets[i].f->kind == IXF_LITERAL_ARRAY;
        if (rn->F->kind == FR_FALSE) continue;
        if (!(rn->F->kind == FR_TRUE && dict)) need_scan = 1;
    }
    rn->res->nfacets = r->nfacets;
    if (need_scan) {
        buf sql;
        buf_init(&sql, FRAG_MAX * 2);
        sqlite3_stmt *st = NULL;
        if (where_clause(rn, &sql, "d.p", "") || prepare(rn, sql.data, &st) != 0) {
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
                counter *c = want[k] ? &counts[want[k] - 1] : NULL;
                if (f->is_array) {
                    for (uint64_t j = 0; v && j + 1 < v; j++) {
                        uint64_t x;
                        if (ix__varint_get(p, n, &pos, &x) != 0) break;
                        if (c && counter_add(c, (int64_t)x)) sr = SQLITE_NOMEM;
                    }
                } else if (v && c) {
                    int64_t key = f->kind == IXF_LITERAL || f->kind == IXF_LITERAL_UNIQUE ? (int64_t)(v - 1)
                                                                                          : ix__unzigzag(v - 1);
                    if (counter_add(c, key)) sr = SQLITE_NOMEM;
                }
            }
            if (sr == SQLITE_NOMEM) break;
        }
        rc = step_error(rn, sr == SQLITE_ROW ? SQLITE_DONE : sr);
        sqlite3_finalize(st);
    }
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

/* ---- the whole search -------------------------------------------------------------------- */

int ix_search(ix_store *s, const ix_request *r, ix_result *res, unsigned timeout_ms, char *err, size_t errcap) {
    ix_result_free(res);
    ix_result_init(res);
    res->start = r->start;
    qtree *qt = malloc(sizeof *qt), *ft = r->fq_len ? malloc(sizeof *ft) : NULL;
    cctx *cc = calloc(1, sizeof *cc);
    frag F, G;
    frag_init(&F, FR_TRUE);
    frag_init(&G, FR_TRUE);
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
    if (compile(cc, qt->root, &F) != 0) {
        rc = cc->bad ? IX_SEARCH_BAD : IX_SEARCH_ERR;
        goto out;
    }
    if (ft) {
        cc->t = ft;
        if (compile(cc, ft->root, &G) != 0) {
            rc = cc->bad ? IX_SEARCH_BAD : IX_SEARCH_ERR;
            goto out;
        }
        frag both[2] = {F, G}, joined;
        frag_init(&joined, FR_TRUE);
        buf_init(&F.b, FRAG_MAX);
        buf_init(&G.b, FRAG_MAX);
        int crc = combine_and(cc, both, 2, &joined);
        buf_free(&both[0].b);
        buf_free(&both[1].b);
        buf_free(&F.b);
        F = joined;
        if (crc != 0) {
            rc = cc->bad ? IX_SEARCH_BAD : IX_SEARCH_ERR;
            goto out;
        }
    }
    run rn = {s, r, res, cc, &F, 0, timeout_ms ? now_ms() + timeout_ms : 0, 0};
    rn.pure = (F.kind == FR_LIT || F.kind == FR_TEXT) && !F.neg;
    if (!rn.pure && F.kind != FR_TRUE && F.kind != FR_FALSE && to_sql(cc, &F) != 0) goto out;
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
    if (rc == IX_SEARCH_OK && F.kind != FR_FALSE) rc = by_time ? hits_by_time(&rn, desc) : hits_sorted(&rn);
    if (rc == IX_SEARCH_OK) rc = run_facets(&rn);
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

void ix_hit_field(const ix_result *res, const ix_hit *h, const char *name, char *out, size_t cap) {
    out[0] = '\0';
    json_doc d;
    if (json_doc_init(&d, 4096) != JSON_OK) return;
    if (json_parse(&d, res->text.data + h->fields_off, h->fields_len) == JSON_OK) {
        int v = json_obj_get(&d, 0, name);
        if (v >= 0 && d.toks[v].type == JSON_ARRAY) v = d.toks[v].size ? v + 1 : -1;
        if (v >= 0 && d.toks[v].type == JSON_STRING && json_tok_decode(&d, v, out, cap) < 0) out[0] = '\0';
    }
    json_doc_free(&d);
}
