#include "index/query_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct qp {
    const char *q;
    size_t n, i;
    qtree *t;
    int depth;
} qp;

static int qerr(qp *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int qerr(qp *p, size_t at, const char *fmt, ...) {
    if (p->t->error[0]) return -1; /* keep the first, innermost message */
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(p->t->error, sizeof p->t->error, "Syntax error in query: %s at offset %zu", what, at);
    return -1;
}

static int new_node(qp *p, qn_kind kind, size_t pos) {
    if (p->t->n >= QP_MAX_NODES) return qerr(p, pos, "more than %d terms and operators", QP_MAX_NODES);
    int k = p->t->n++;
    qnode *nd = &p->t->nodes[k];
    memset(nd, 0, sizeof *nd);
    nd->kind = kind;
    nd->child = nd->next = -1;
    nd->pos = (uint32_t)pos;
    return k;
}

static void add_child(qtree *t, int parent, int child) {
    qnode *pa = &t->nodes[parent];
    if (pa->child < 0) pa->child = child;
    else {
        int c = pa->child;
        while (t->nodes[c].next >= 0) c = t->nodes[c].next;
        t->nodes[c].next = child;
    }
    pa->nchildren++;
}

/* Appends bytes to the string area; strings are NUL-terminated. */
static qp_str str_begin(qp *p) { return (qp_str){p->t->slen, 0, 1}; }
static int str_put(qp *p, qp_str *s, char c) {
    if (p->t->slen + 2 >= sizeof p->t->strings) return -1;
    p->t->strings[p->t->slen++] = c;
    s->len++;
    return 0;
}
static void str_end(qp *p) {
    if (p->t->slen < sizeof p->t->strings) p->t->strings[p->t->slen++] = '\0';
}
/* Copies of field names and numbers: each is a distinct part of the query, so the area (the
 * query's length and a margin) always holds them. */
static qp_str str_copy(qp *p, const char *s, size_t n) {
    qp_str r = str_begin(p);
    for (size_t i = 0; i < n && str_put(p, &r, s[i]) == 0; i++) {}
    str_end(p);
    return r;
}

static void skip_ws(qp *p) {
    while (p->i < p->n && (p->q[p->i] == ' ' || p->q[p->i] == '\t' || p->q[p->i] == '\n' || p->q[p->i] == '\r')) p->i++;
}

static int is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
}

/* ---- structured ---------------------------------------------------------------------- */

/* 'string' with \' and \\ escapes. */
static int parse_quoted(qp *p, qp_str *out) {
    size_t start = p->i;
    p->i++; /* the quote */
    *out = str_begin(p);
    while (p->i < p->n && p->q[p->i] != '\'') {
        char c = p->q[p->i];
        if (c == '\\') {
            if (p->i + 1 >= p->n) return qerr(p, p->i, "a backslash at the end of a string");
            c = p->q[++p->i];
        }
        if (str_put(p, out, c) != 0) return qerr(p, p->i, "query too long");
        p->i++;
    }
    if (p->i >= p->n) return qerr(p, start, "unterminated string (a single quote is missing)");
    p->i++;
    str_end(p);
    return 0;
}

/* A number: -?digits(.digits)? */
static int parse_number(qp *p, qp_str *out) {
    size_t s = p->i;
    if (p->i < p->n && p->q[p->i] == '-') p->i++;
    size_t d = p->i;
    while (p->i < p->n && p->q[p->i] >= '0' && p->q[p->i] <= '9') p->i++;
    if (p->i < p->n && p->q[p->i] == '.') {
        p->i++;
        while (p->i < p->n && p->q[p->i] >= '0' && p->q[p->i] <= '9') p->i++;
    }
    if (p->i == d) return qerr(p, s, "expected a number");
    *out = str_copy(p, p->q + s, p->i - s);
    return 0;
}

static int parse_bound(qp *p, qp_str *out) {
    skip_ws(p);
    if (p->i < p->n && p->q[p->i] == '\'') return parse_quoted(p, out);
    if (p->i < p->n && (p->q[p->i] == '-' || (p->q[p->i] >= '0' && p->q[p->i] <= '9'))) return parse_number(p, out);
    *out = (qp_str){0, 0, 0};
    return 0;
}

/* [a,b] {a,b} [a,} {,b] */
static int parse_range(qp *p, int node) {
    qnode *nd;
    size_t start = p->i;
    char open = p->q[p->i++];
    qp_str lo, hi;
    if (parse_bound(p, &lo) != 0) return -1;
    skip_ws(p);
    if (p->i >= p->n || p->q[p->i] != ',') return qerr(p, p->i, "expected ',' in a range");
    p->i++;
    if (parse_bound(p, &hi) != 0) return -1;
    skip_ws(p);
    if (p->i >= p->n || (p->q[p->i] != ']' && p->q[p->i] != '}'))
        return qerr(p, p->i, "expected ']' or '}' to close the range");
    char close = p->q[p->i++];
    if ((!lo.present && open == '[') || (!hi.present && close == ']'))
        return qerr(p, start, "an omitted range bound needs a brace ('{' or '}')");
    if (!lo.present && !hi.present) return qerr(p, start, "a range needs at least one bound");
    nd = &p->t->nodes[node];
    nd->kind = QN_RANGE;
    nd->lo = lo;
    nd->hi = hi;
    nd->lo_incl = open == '[';
    nd->hi_incl = close == ']';
    return 0;
}

/* The value after FIELD: or an operator's options: 'string', number, or a range. */
static int parse_value(qp *p, int node) {
    skip_ws(p);
    if (p->i >= p->n) return qerr(p, p->i, "expected a value");
    char c = p->q[p->i];
    if (c == '\'') return parse_quoted(p, &p->t->nodes[node].value);
    if (c == '[' || c == '{') return parse_range(p, node);
    if (c == '-' || (c >= '0' && c <= '9')) {
        if (parse_number(p, &p->t->nodes[node].value) != 0) return -1;
        p->t->nodes[node].is_number = 1;
        return 0;
    }
    return qerr(p, p->i, "expected a quoted string, a number or a range");
}

static int parse_expr(qp *p);

static int read_word(qp *p, const char **w, size_t *wl) {
    size_t s = p->i;
    while (p->i < p->n && is_word_char(p->q[p->i])) p->i++;
    *w = p->q + s;
    *wl = p->i - s;
    return (int)*wl;
}

static int word_is(const char *w, size_t n, const char *lit) { return n == strlen(lit) && memcmp(w, lit, n) == 0; }

static int field_name_ok(const char *w, size_t n) {
    if (word_is(w, n, "_id")) return 1;
    if (n == 0 || n > 64 || w[0] < 'a' || w[0] > 'z') return 0;
    for (size_t i = 0; i < n; i++)
        if (!((w[i] >= 'a' && w[i] <= 'z') || (w[i] >= '0' && w[i] <= '9') || w[i] == '_')) return 0;
    return 1;
}

/* (op options... args...) */
static int parse_compound(qp *p) {
    size_t open = p->i++;
    skip_ws(p);
    const char *w;
    size_t wl;
    size_t at = p->i;
    read_word(p, &w, &wl);
    qn_kind kind;
    if (word_is(w, wl, "and")) kind = QN_AND;
    else if (word_is(w, wl, "or")) kind = QN_OR;
    else if (word_is(w, wl, "not")) kind = QN_NOT;
    else if (word_is(w, wl, "term")) kind = QN_TERM;
    else if (word_is(w, wl, "phrase")) kind = QN_PHRASE;
    else if (word_is(w, wl, "prefix")) kind = QN_PREFIX;
    else if (word_is(w, wl, "range")) kind = QN_RANGE;
    else if (word_is(w, wl, "near")) kind = QN_NEAR;
    else
        return qerr(p, at, "unknown operator '%.*s' (expected and, or, not, term, phrase, prefix, range or near)",
                    (int)(wl > 40 ? 40 : wl), w);
    int node = new_node(p, kind, open);
    if (node < 0) return -1;
    int has_distance = 0;
    /* options: name=value */
    for (;;) {
        skip_ws(p);
        size_t save = p->i;
        const char *ow;
        size_t ol;
        if (!read_word(p, &ow, &ol) || p->i >= p->n || p->q[p->i] != '=') {
            p->i = save;
            break;
        }
        p->i++;
        skip_ws(p);
        if (word_is(ow, ol, "field")) {
            const char *fv;
            size_t fl;
            if (p->i < p->n && p->q[p->i] == '\'') {
                qp_str s;
                if (parse_quoted(p, &s) != 0) return -1;
                fv = qp_s(p->t, s);
                fl = s.len;
            } else {
                read_word(p, &fv, &fl);
            }
            if (!field_name_ok(fv, fl)) return qerr(p, save, "invalid field name '%.*s'", (int)(fl > 64 ? 64 : fl), fv);
            p->t->nodes[node].field = str_copy(p, fv, fl);
        } else if (word_is(ow, ol, "boost") || word_is(ow, ol, "distance")) {
            qp_str num;
            if (parse_number(p, &num) != 0) return -1;
            if (word_is(ow, ol, "distance")) {
                long d = 0;
                const char *ns = qp_s(p->t, num);
                for (const char *c = ns; *c; c++) {
                    if (*c < '0' || *c > '9' || d > 1000000)
                        return qerr(p, save, "distance must be a positive integer");
                    d = d * 10 + (*c - '0');
                }
                if (d < 1) return qerr(p, save, "distance must be a positive integer");
                p->t->nodes[node].distance = (int)d;
                has_distance = 1;
            }
        } else {
            return qerr(p, save, "unknown option '%.*s'", (int)(ol > 40 ? 40 : ol), ow);
        }
    }
    if (kind == QN_AND || kind == QN_OR || kind == QN_NOT) {
        if (p->depth >= QP_MAX_DEPTH) return qerr(p, open, "nested deeper than %d", QP_MAX_DEPTH);
        for (;;) {
            skip_ws(p);
            if (p->i >= p->n) return qerr(p, open, "expected ')' to close the '(' here");
            if (p->q[p->i] == ')') break;
            int child;
            if (p->q[p->i] == '\'' && p->t->nodes[node].field.present) {
                /* (not field=genres 'Sci-Fi'): a term in that field */
                child = new_node(p, QN_TERM, p->i);
                if (child < 0 || parse_quoted(p, &p->t->nodes[child].value) != 0) return -1;
                p->t->nodes[child].field = p->t->nodes[node].field;
            } else {
                p->depth++;
                child = parse_expr(p);
                p->depth--;
                if (child < 0) return -1;
            }
            add_child(p->t, node, child);
        }
        p->i++;
        int nc = p->t->nodes[node].nchildren;
        if (kind == QN_NOT && nc != 1) return qerr(p, open, "'not' takes exactly one expression");
        if (nc == 0) return qerr(p, open, "'%s' needs at least one expression", kind == QN_AND ? "and" : "or");
        return node;
    }
    /* term, phrase, prefix, range, near: one value */
    if (kind == QN_RANGE) {
        skip_ws(p);
        if (!p->t->nodes[node].field.present) return qerr(p, open, "'range' needs a field= option");
        if (p->i >= p->n || (p->q[p->i] != '[' && p->q[p->i] != '{')) return qerr(p, p->i, "expected a range");
        if (parse_range(p, node) != 0) return -1;
    } else {
        if (parse_value(p, node) != 0) return -1;
        qnode *nd = &p->t->nodes[node];
        if (nd->kind == QN_RANGE && kind != QN_TERM)
            return qerr(p, open, "a range is only valid with 'range' or 'term'");
        if (kind != QN_TERM && nd->is_number) return qerr(p, open, "expected a quoted string");
        if (kind == QN_NEAR && !has_distance) return qerr(p, open, "'near' needs a distance= option");
    }
    skip_ws(p);
    if (p->i >= p->n || p->q[p->i] != ')') return qerr(p, p->i, "expected ')'");
    p->i++;
    return node;
}

static int parse_expr(qp *p) {
    skip_ws(p);
    if (p->i >= p->n) return qerr(p, p->i, "expected an expression");
    char c = p->q[p->i];
    if (c == '(') return parse_compound(p);
    if (c == '\'') {
        int node = new_node(p, QN_TERM, p->i);
        if (node < 0 || parse_quoted(p, &p->t->nodes[node].value) != 0) return -1;
        return node;
    }
    size_t at = p->i;
    const char *w;
    size_t wl;
    read_word(p, &w, &wl);
    if (word_is(w, wl, "matchall")) return new_node(p, QN_MATCHALL, at);
    if (wl && p->i < p->n && p->q[p->i] == ':') {
        if (!field_name_ok(w, wl)) return qerr(p, at, "invalid field name '%.*s'", (int)(wl > 64 ? 64 : wl), w);
        p->i++;
        int node = new_node(p, QN_TERM, at);
        if (node < 0) return -1;
        p->t->nodes[node].field = str_copy(p, w, wl);
        if (parse_value(p, node) != 0) return -1;
        return node;
    }
    if (!wl) return qerr(p, at, "unexpected '%c'", c);
    return qerr(p, at, "unexpected word '%.*s' (a string needs single quotes, a field a ':')", (int)(wl > 40 ? 40 : wl),
                w);
}

static int start(qp *p, const char *q, size_t n, qtree *t) {
    memset(p, 0, sizeof *p);
    p->q = q;
    p->n = n;
    p->t = t;
    t->n = 0;
    t->slen = 0;
    t->root = -1;
    t->error[0] = '\0';
    t->strings[0] = '\0';
    t->strings[sizeof t->strings - 1] = '\0';
    t->slen = 1; /* offset 0 is the empty string */
    if (n > QP_MAX_QUERY) return qerr(p, 0, "the query is longer than %d bytes", QP_MAX_QUERY);
    return 0;
}

int qp_structured(const char *q, size_t n, qtree *t) {
    qp p;
    if (start(&p, q, n, t) != 0) return -1;
    int root = parse_expr(&p);
    if (root < 0) return -1;
    skip_ws(&p);
    if (p.i < p.n)
        return qerr(&p, p.i, "unexpected text after the expression (combine expressions with (and ...) or (or ...))");
    t->root = root;
    return 0;
}

/* ---- simple -------------------------------------------------------------------------- */

static int simple_clauses(qp *p, int closing);

/* One term, phrase or group; *op is '+', '-' or '|'. */
static int simple_clause(qp *p, char *op) {
    *op = '+';
    char c = p->q[p->i];
    if (c == '+' || c == '-' || c == '|') {
        *op = c;
        p->i++;
        if (p->i >= p->n || p->q[p->i] == ' ') return qerr(p, p->i - 1, "'%c' must be followed by a term", c);
        c = p->q[p->i];
    }
    size_t at = p->i;
    if (c == '(') {
        if (p->depth >= QP_MAX_DEPTH) return qerr(p, at, "nested deeper than %d", QP_MAX_DEPTH);
        p->i++;
        p->depth++;
        int g = simple_clauses(p, 1);
        p->depth--;
        if (g < 0) return -1;
        if (p->i >= p->n || p->q[p->i] != ')') return qerr(p, at, "expected ')' to close the '(' here");
        p->i++;
        return g;
    }
    if (c == '"') {
        p->i++;
        int node = new_node(p, QN_PHRASE, at);
        if (node < 0) return -1;
        qp_str s = str_begin(p);
        while (p->i < p->n && p->q[p->i] != '"') {
            char ch = p->q[p->i];
            if (ch == '\\' && p->i + 1 < p->n) ch = p->q[++p->i];
            if (str_put(p, &s, ch) != 0) return qerr(p, p->i, "query too long");
            p->i++;
        }
        if (p->i >= p->n) return qerr(p, at, "unterminated phrase (a double quote is missing)");
        p->i++;
        str_end(p);
        p->t->nodes[node].value = s;
        if (p->i < p->n && p->q[p->i] == '~') { /* sloppy phrase */
            p->i++;
            size_t ds = p->i;
            long d = 0;
            while (p->i < p->n && p->q[p->i] >= '0' && p->q[p->i] <= '9' && d < 1000000)
                d = d * 10 + (p->q[p->i++] - '0');
            if (p->i == ds || d < 1) return qerr(p, ds, "'~' after a phrase needs a positive distance");
            p->t->nodes[node].kind = QN_NEAR;
            p->t->nodes[node].distance = (int)d;
        }
        return node;
    }
    int node = new_node(p, QN_TERM, at);
    if (node < 0) return -1;
    qp_str s = str_begin(p);
    while (p->i < p->n) {
        char ch = p->q[p->i];
        /* '+' and '|' are operators wherever they are ("war|trek"); '-' only before a term */
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '(' || ch == ')' || ch == '"' || ch == '|' ||
            ch == '+')
            break;
        if (ch == '\\') {
            if (p->i + 1 >= p->n) return qerr(p, p->i, "a backslash at the end of the query");
            ch = p->q[++p->i];
        } else if (ch == '*') {
            p->t->nodes[node].kind = QN_PREFIX;
            p->i++;
            break;
        } else if (ch == '~') {
            return qerr(p, p->i, "fuzzy search (term~N) is not supported by ctindex");
        }
        if (str_put(p, &s, ch) != 0) return qerr(p, p->i, "query too long");
        p->i++;
    }
    str_end(p);
    if (s.len == 0) return qerr(p, at, "a prefix needs at least one character before '*'");
    p->t->nodes[node].value = s;
    return node;
}

/* Clauses up to the end (or ')' when closing): required AND not excluded, or optional ones. */
#define QP_MAX_CLAUSES 256

static int simple_clauses(qp *p, int closing) {
    int req[QP_MAX_CLAUSES], exc[QP_MAX_CLAUSES], opt[QP_MAX_CLAUSES];
    int nr = 0, nx = 0, no = 0;
    size_t at = p->i;
    for (;;) {
        skip_ws(p);
        if (p->i >= p->n || (closing && p->q[p->i] == ')')) break;
        if (p->q[p->i] == ')') return qerr(p, p->i, "unexpected ')'");
        if (nr + nx + no >= QP_MAX_CLAUSES) return qerr(p, p->i, "more than %d terms in a group", QP_MAX_CLAUSES);
        char op;
        int c = simple_clause(p, &op);
        if (c < 0) return -1;
        if (op == '-') exc[nx++] = c;
        else if (op == '|') opt[no++] = c;
        else req[nr++] = c;
    }
    if (nr + nx + no == 0)
        return qerr(p, at, "empty query (use matchall with the structured parser to match everything)");
    int base = -1;
    if (nr + nx) {
        if (nr == 1 && nx == 0) base = req[0];
        else {
            base = new_node(p, QN_AND, at);
            if (base < 0) return -1;
            if (nr == 0) {
                int all = new_node(p, QN_MATCHALL, at);
                if (all < 0) return -1;
                add_child(p->t, base, all);
            }
            for (int i = 0; i < nr; i++) add_child(p->t, base, req[i]);
            for (int i = 0; i < nx; i++) {
                int n = new_node(p, QN_NOT, p->t->nodes[exc[i]].pos);
                if (n < 0) return -1;
                add_child(p->t, n, exc[i]);
                add_child(p->t, base, n);
            }
        }
    }
    if (!no) return base;
    int any = new_node(p, QN_OR, at);
    if (any < 0) return -1;
    if (base >= 0) add_child(p->t, any, base);
    for (int i = 0; i < no; i++) add_child(p->t, any, opt[i]);
    return any;
}

int qp_simple(const char *q, size_t n, qtree *t) {
    qp p;
    if (start(&p, q, n, t) != 0) return -1;
    int root = simple_clauses(&p, 0);
    if (root < 0) return -1;
    t->root = root;
    return 0;
}
