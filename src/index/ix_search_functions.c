/* The SQL functions searches call: ctv (a node checked on the stored document), ctslot (one slot
 * of a packed row) and ctkey (a sort key). */
#include <string.h>

#include "index/ix_search_internal.h"

typedef struct match_ctx {
    const ix_words *q;
    int kind, distance;
    int pos;                       /* position of the current field token */
    int nearest[MAX_TOKENS];       /* TERM, NEAR: where each query word was last seen */
    unsigned char run[MAX_TOKENS]; /* PHRASE, PREFIX: run[i] = words 0..i end at the last token */
    int ok;
} match_ctx;

static int tok_eq(const ix_words *q, int i, const char *t, int n, int prefix) {
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
    const ix_words *q = m->q;
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
static int text_matches(ix_store *s, const qnode *nd, const ix_words *q, const char *v, size_t n) {
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
    ix_cctx *cc = s->search_ctx;
    (void)argc;
    int k = sqlite3_value_int(argv[1]);
    if (!cc || k < 0 || k >= cc->nv) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    const ix_verify_item *vi = &cc->ver[k];
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
    static __thread ix_words q;
    int is_text = vi->f->kind == IXF_TEXT_COVERED;
    if (is_text) {
        q.n = q.overflow = 0;
        q.used = 0;
        ix__tokenize(s, qp_s(vi->t, nd->value), nd->value.len, ix__collect_word, &q);
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
