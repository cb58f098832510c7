/* The state a query's compilation carries (ix_search_internal.h): the user's mistakes, the SQL
 * parameters a query binds, the words of a query string. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/ix_search_internal.h"

int ix__qfail(ix_cctx *cc, const char *fmt, ...) {
    if (!cc->bad) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cc->err, cc->errcap, fmt, ap);
        va_end(ap);
    }
    cc->bad = 1;
    return -1;
}

void ix__frag_init(ix_frag *f, int kind) {
    f->kind = kind;
    f->neg = 0;
    buf_init(&f->b, FRAG_MAX);
}

int ix__bind_str(ix_cctx *cc, const char *s, size_t n) {
    if (cc->nb >= MAX_BINDS) return ix__qfail(cc, "the query is too complex (more than %d parts)", MAX_BINDS);
    char *c = malloc(n + 1);
    if (!c) return -1;
    memcpy(c, s, n);
    c[n] = '\0';
    cc->binds[cc->nb] = (ix_bind){0, 0, c, n};
    return ++cc->nb;
}

int ix__bind_int(ix_cctx *cc, int64_t v) {
    if (cc->nb >= MAX_BINDS) return ix__qfail(cc, "the query is too complex (more than %d parts)", MAX_BINDS);
    cc->binds[cc->nb] = (ix_bind){1, v, NULL, 0};
    return ++cc->nb;
}

void ix__bind_all(const ix_cctx *cc, sqlite3_stmt *st) {
    for (int i = 0; i < cc->nb; i++) {
        if (cc->binds[i].is_int) sqlite3_bind_int64(st, i + 1, cc->binds[i].i);
        else sqlite3_bind_text(st, i + 1, cc->binds[i].s, (int)cc->binds[i].n, SQLITE_STATIC);
    }
}

int ix__collect_word(void *ud, const char *tok, int len, int start, int end) {
    ix_words *t = ud;
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

int ix__query_words(ix_cctx *cc, const char *v, size_t n, ix_words *t) {
    t->n = t->overflow = 0;
    t->used = 0;
    if (ix__tokenize(cc->s, v, n, ix__collect_word, t) != 0) return ix__qfail(cc, "cannot ix__query_words the query");
    if (t->overflow) return ix__qfail(cc, "a query string has more than %d words", MAX_TOKENS);
    return 0;
}
