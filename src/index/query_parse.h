/* CloudSearch's query languages parsed into a tree (pure: no index, no allocation).
 *
 * Structured (q.parser=structured, and always fq):
 *   matchall | 'string' | FIELD:'string' | FIELD:number | FIELD:RANGE
 *   (and|or [boost=N] EXPR...) | (not [boost=N] EXPR)
 *   (term|phrase|prefix [field=F] [boost=N] 'string'|number) | (range field=F RANGE)
 *   (near [field=F] distance=N 'string')
 *   RANGE = [a,b] {a,b] [a,} {,b] ...: '[' ']' include the bound, '{' '}' exclude it, an omitted
 *   bound needs a brace; bounds are 'strings' (dates) or numbers. A field= option on and/or/not
 *   applies to their bare strings. Strings are single-quoted, \' and \\ escape.
 * Simple (q.parser=simple, CloudSearch's default): words and "phrases" over the text fields;
 *   +word (required: the default), -word (excluded), |word (optional), word* (prefix),
 *   "phrase"~N (near), ( ) for precedence, \ escapes the next character. '+' and '|' end a word
 *   ("war|trek"); '-' is an operator only in front of a word ("us-east-1" is one word).
 *
 * Limits: a query is at most QP_MAX_QUERY bytes, QP_MAX_NODES nodes, QP_MAX_DEPTH deep. Errors
 * say what was wrong and where ("expected ')' at offset 23"), like CloudSearch's. */
#ifndef CTINDEX_QUERY_PARSE_H
#define CTINDEX_QUERY_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define QP_MAX_QUERY 16384
#define QP_MAX_NODES 1024
#define QP_MAX_DEPTH 32

typedef enum {
    QN_MATCHALL,
    QN_AND,
    QN_OR,
    QN_NOT,
    QN_TERM,   /* field (or the default text fields) holds the value */
    QN_PHRASE, /* the words in order */
    QN_PREFIX,
    QN_NEAR, /* the words within distance of each other */
    QN_RANGE,
} qn_kind;

typedef struct qp_str {
    uint32_t off, len; /* in qtree.strings; len 0 with off 0 and !present: absent */
    int present;
} qp_str;

typedef struct qnode {
    qn_kind kind;
    int child, next; /* first child and next sibling, -1 when none */
    int nchildren;
    qp_str field;  /* empty: the default fields */
    qp_str value;  /* TERM, PHRASE, PREFIX, NEAR */
    int is_number; /* the value was a bare number */
    qp_str lo, hi; /* RANGE bounds (present or not) */
    int lo_incl, hi_incl;
    int distance; /* NEAR */
    uint32_t pos; /* offset in the query, for messages */
} qnode;

typedef struct qtree {
    qnode nodes[QP_MAX_NODES];
    int n;
    int root;
    char strings[QP_MAX_QUERY + 64]; /* decoded strings, NUL after each */
    uint32_t slen;
    char error[256];
} qtree;

/* 0 and t->root, or -1 with t->error. */
int qp_structured(const char *q, size_t n, qtree *t);
int qp_simple(const char *q, size_t n, qtree *t);

static inline const char *qp_s(const qtree *t, qp_str s) { return t->strings + s.off; }

#endif
