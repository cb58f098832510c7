/* Inside ix_search (ix_search.h): the state shared by the files of a search. Not for use outside
 * them (src/index/ix_search_run.c, ix_search_functions.c, ix_compile_*.c, ix_hits_order.c,
 * ix_result.c, ix_facet*.c).
 *
 * A search compiles its query tree into one fragment (ix_compile_tree.c, from the leaves of
 * ix_compile_text.c, ix_compile_literal.c and ix_compile_range.c), then runs it (ix_search_run.c):
 * the count, the hits in order (ix_hits_order.c) read into the result (ix_result.c), the facets
 * (ix_facets.c, counting with ix_facet_count.c). ix_search_functions.c registers the SQL
 * functions a compiled query calls back into (ctv, ctslot, ctkey).
 *
 * Errors of the compile side: a function returning int gives 0 (or a bind number > 0) on success and -1 on failure;
 * ix__qfail marks a failure as the user's mistake (cc->bad, a message in cc->err), anything else
 * is the index's (the message, when there is one, also in cc->err). */
#ifndef CTINDEX_IX_SEARCH_INTERNAL_H
#define CTINDEX_IX_SEARCH_INTERNAL_H

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "index/ix_internal.h"
#include "index/ix_search.h"
#include "index/query_parse.h"

#define MAX_BINDS 512
#define MAX_VERIFY 64
#define MAX_TOKENS 256 /* words of one query string */
#define FRAG_MAX (4u << 20)

/* What a fragment of a compiled query is: every document, none, an FTS5 query on `lit` or on
 * `text` (b), or an SQL condition on the document rows named d (b). */
enum { FR_TRUE, FR_FALSE, FR_LIT, FR_TEXT, FR_SQL };

typedef struct ix_frag {
    int kind;
    int neg; /* LIT/TEXT: the documents that do NOT match */
    buf b;
} ix_frag;

typedef struct ix_bind {
    int is_int;
    int64_t i;
    char *s;
    size_t n;
} ix_bind;

/* A node the indexes only narrow down: ctv(rowid, k) checks item k on the stored document. */
typedef struct ix_verify_item {
    const qtree *t;
    int node;
    const ixf_field *f; /* NULL: _id */
} ix_verify_item;

/* A compilation: the parameters bound to ?1..?nb and the nodes ctv checks (owned: the strings of
 * binds, freed by ix_search). */
typedef struct ix_cctx {
    ix_store *s;
    const qtree *t;
    ix_bind binds[MAX_BINDS];
    int nb;
    ix_verify_item ver[MAX_VERIFY];
    int nv;
    char *err;
    size_t errcap;
    int bad; /* the user's mistake (400), not the index's */
    clock_t deadline;
} ix_cctx;

/* The words of a query string as the `text` table's tokenizer folds them. */
typedef struct ix_words {
    char buf[QP_MAX_QUERY + 2 * MAX_TOKENS];
    size_t off[MAX_TOKENS], len[MAX_TOKENS];
    int n, overflow;
    size_t used;
} ix_words;

/* One search being run over the compiled fragment F. */
typedef struct ix_run {
    ix_store *s;
    const ix_request *r;
    ix_result *res;
    ix_cctx *cc;
    ix_frag *F;
    int pure; /* F is one positive FTS query */
    double deadline;
    int timed_out;
} ix_run;

static inline int ix__cmp_bytes(const char *a, size_t an, const char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an < bn ? -1 : an > bn);
}

/* ix_compile_ctx.c */
/* Marks the compilation failed by the user's query (the first message is kept); returns -1. */
int ix__qfail(ix_cctx *cc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ix__frag_init(ix_frag *f, int kind);
/* A parameter (the string copied): its number for ?N, or -1 (too many: the user's mistake). */
int ix__bind_str(ix_cctx *cc, const char *s, size_t n);
int ix__bind_int(ix_cctx *cc, int64_t v);
/* Binds every parameter to st (the strings stay owned by cc: cc outlives st's steps). */
void ix__bind_all(const ix_cctx *cc, sqlite3_stmt *st);
/* The tokenizer's callback filling an ix_words (overflow set past its room). */
int ix__collect_word(void *ud, const char *tok, int len, int start, int end);
/* v[0..n) into t; -1 (the user's mistake) with more than MAX_TOKENS words. */
int ix__query_words(ix_cctx *cc, const char *v, size_t n, ix_words *t);

/* ix_compile_text.c */
/* The FTS5 expression of a node's words t, without a column filter, appended to b. */
int ix__text_inner(const qnode *nd, const ix_words *t, buf *b);
/* A text node on some columns (mask of 1 << IXT_*) into out (FR_TEXT, or FR_FALSE without words). */
int ix__text_leaf(ix_cctx *cc, const qnode *nd, unsigned columns, ix_frag *out);

/* ix_compile_literal.c: leaves of literal fields into out (f: the node's field). */
int ix__lit_token(ix_frag *out, char kind, uint64_t v);
int ix__literal_enum(ix_cctx *cc, const qnode *nd, const ixf_field *f, ix_frag *out);
/* cand (FR_LIT or FR_TEXT) narrowed to the documents where node holds (ctv); cand is not consumed. */
int ix__verified(ix_cctx *cc, const qnode *nd, int node, const ixf_field *f, ix_frag *cand, ix_frag *out);
int ix__hashed_literal(ix_cctx *cc, const qnode *nd, int node, const ixf_field *f, ix_frag *out);
int ix__unique_prefix(ix_cctx *cc, const qnode *nd, int node, const ixf_field *f, ix_frag *out);

/* ix_compile_range.c: a value or range of a date or int field into out. */
int ix__slot_leaf(ix_cctx *cc, const qnode *nd, const ixf_field *f, ix_frag *out);

/* ix_compile_tree.c */
/* Node of cc->t into out (initialized by the caller with ix__frag_init). */
int ix__compile(ix_cctx *cc, int node, ix_frag *out);
/* AND of fs[0..n) into out; consumes the fragments (their buffers may move into out). */
int ix__combine_and(ix_cctx *cc, ix_frag *fs, int n, ix_frag *out);
/* Turns a LIT/TEXT/TRUE/FALSE fragment into an SQL condition on docs d (SQL stays). */
int ix__to_sql(ix_cctx *cc, ix_frag *f);

/* ix_search_run.c: running the statements of a search (IX_SEARCH_* codes) */
/* Prepares sql with the run's parameters bound; 0 or -1 (message in cc->err). */
int ix__run_prepare(ix_run *rn, const char *sql, sqlite3_stmt **st);
/* "SELECT cols FROM docs d WHERE <the matches> tail" appended to b. */
int ix__where_clause(ix_run *rn, buf *b, const char *cols, const char *tail);
/* The IX_SEARCH_* code of a finished sqlite3_step (timeout, done or error). */
int ix__step_error(ix_run *rn, int rc);

/* ix_hits_order.c: the page of hits (r->start, r->size), added with ix__add_hit. */
int ix__hits_by_time(ix_run *rn, int desc);
int ix__hits_sorted(ix_run *rn);

/* ix_result.c: the document at rowid appended to rn->res as a hit with the fields asked for. */
int ix__add_hit(ix_run *rn, int64_t rowid);

/* ix_facet_count.c: documents per key (keys INT64_MIN are free slots); zeroed to start, the
 * caller frees keys and counts. */
typedef struct ix_counter {
    int64_t *keys, *counts;
    size_t cap, n;
} ix_counter;
int ix__counter_add(ix_counter *c, int64_t key); /* 0 or -1 (no memory) */
int64_t ix__counter_get(const ix_counter *c, int64_t key);
/* Counts the values of rn->r's facets over the matches (counts[i] for facet i); IX_SEARCH_*. */
int ix__facet_scan(ix_run *rn, ix_counter *counts);

/* ix_facets.c: the facets of rn->r into rn->res. */
int ix__run_facets(ix_run *rn);

#endif
