#include "index/search_params.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "net/http_parse.h"

static int rerr(ix_request *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rerr(ix_request *r, const char *fmt, ...) {
    if (r->error[0]) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    return -1;
}

void ixr_init(ix_request *r) {
    memset(r, 0, sizeof *r);
    r->size = 10;
    r->parser = IXQ_SIMPLE;
}

static int eq(const char *s, size_t n, const char *lit) { return n == strlen(lit) && memcmp(s, lit, n) == 0; }

static int parse_count(const char *v, size_t n, int64_t max, int64_t *out) {
    if (n == 0 || n > 12) return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        x = x * 10 + (v[i] - '0');
    }
    if (x > max) return -1;
    *out = x;
    return 0;
}

/* ---- relaxed JSON for facet options: {sort:'count', size:5}, {"buckets":["a","b"]} ---------- */

typedef struct rj {
    const char *s;
    size_t n, i;
} rj;

static void rj_ws(rj *j) {
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r')) j->i++;
}

/* A key or a string value: 'x', "x" or a bare word; decoded into out. */
static int rj_string(rj *j, char *out, size_t cap) {
    rj_ws(j);
    if (j->i >= j->n) return -1;
    char q = j->s[j->i];
    size_t o = 0;
    if (q == '\'' || q == '"') {
        j->i++;
        while (j->i < j->n && j->s[j->i] != q) {
            char c = j->s[j->i];
            if (c == '\\' && j->i + 1 < j->n) c = j->s[++j->i];
            if (o + 1 >= cap) return -1;
            out[o++] = c;
            j->i++;
        }
        if (j->i >= j->n) return -1;
        j->i++;
    } else {
        while (j->i < j->n && ((j->s[j->i] >= 'a' && j->s[j->i] <= 'z') || (j->s[j->i] >= 'A' && j->s[j->i] <= 'Z') ||
                               (j->s[j->i] >= '0' && j->s[j->i] <= '9') || j->s[j->i] == '_' || j->s[j->i] == '-')) {
            if (o + 1 >= cap) return -1;
            out[o++] = j->s[j->i++];
        }
        if (!o) return -1;
    }
    out[o] = '\0';
    return 0;
}

static int rj_expect(rj *j, char c) {
    rj_ws(j);
    if (j->i < j->n && j->s[j->i] == c) {
        j->i++;
        return 0;
    }
    return -1;
}

static int rj_peek(rj *j, char c) {
    rj_ws(j);
    return j->i < j->n && j->s[j->i] == c;
}

static int facet_options(ix_request *r, ixr_facet *fc, rj *j) {
    const char *name = fc->f->sf->name;
    if (rj_expect(j, '{')) return rerr(r, "facet.%s: options must be an object such as {sort:'count',size:10}", name);
    int have_sort = 0, have_size = 0;
    while (!rj_peek(j, '}')) {
        char key[32], val[128];
        if (rj_string(j, key, sizeof key) || rj_expect(j, ':')) return rerr(r, "facet.%s: malformed options", name);
        if (!strcmp(key, "sort")) {
            if (rj_string(j, val, sizeof val)) return rerr(r, "facet.%s: malformed sort", name);
            if (!strcmp(val, "bucket")) fc->sort_bucket = 1;
            else if (!strcmp(val, "count")) fc->sort_bucket = 0;
            else return rerr(r, "facet.%s: sort must be 'bucket' or 'count'", name);
            have_sort = 1;
        } else if (!strcmp(key, "size")) {
            int64_t v;
            if (rj_string(j, val, sizeof val) || parse_count(val, strlen(val), 10000, &v))
                return rerr(r, "facet.%s: size must be a number from 0 to 10000", name);
            fc->size = (int)v;
            have_size = 1;
        } else if (!strcmp(key, "buckets")) {
            if (rj_expect(j, '[')) return rerr(r, "facet.%s: buckets must be an array", name);
            while (!rj_peek(j, ']')) {
                if (fc->nbuckets >= IXR_MAX_BUCKETS)
                    return rerr(r, "facet.%s: more than %d buckets", name, IXR_MAX_BUCKETS);
                if (rj_string(j, fc->buckets[fc->nbuckets], sizeof fc->buckets[0]))
                    return rerr(r, "facet.%s: malformed bucket", name);
                fc->nbuckets++;
                if (!rj_peek(j, ']') && rj_expect(j, ',')) return rerr(r, "facet.%s: malformed buckets", name);
            }
            j->i++;
        } else {
            return rerr(r, "facet.%s: unknown option '%s'", name, key);
        }
        if (!rj_peek(j, '}') && rj_expect(j, ',')) return rerr(r, "facet.%s: malformed options", name);
    }
    j->i++;
    if (fc->nbuckets && (have_sort || have_size))
        return rerr(r, "facet.%s: sort and size are not valid with buckets", name);
    return 0;
}

static int add_facet(ix_request *r, const char *field, size_t flen, rj *opts) {
    const ixf_field *f = ixf_find(field, flen);
    if (!f) return rerr(r, "facet: unknown field '%.*s'", (int)(flen > 64 ? 64 : flen), field);
    if (!f->facet) return rerr(r, "facet: field '%s' is not facet enabled", f->sf->name);
    for (int i = 0; i < r->nfacets; i++)
        if (r->facets[i].f == f) return rerr(r, "facet: field '%s' given twice", f->sf->name);
    if (r->nfacets >= IXR_MAX_FACETS) return rerr(r, "facet: more than %d facets", IXR_MAX_FACETS);
    ixr_facet *fc = &r->facets[r->nfacets++];
    memset(fc, 0, sizeof *fc);
    fc->f = f;
    fc->size = 10;
    if (!opts || opts->n == 0) return 0;
    if (facet_options(r, fc, opts) != 0) return -1;
    rj_ws(opts);
    return 0;
}

/* The SDK's form: facet={"FIELD":{...},"OTHER":{}} */
static int facet_map(ix_request *r, const char *v, size_t n) {
    rj j = {v, n, 0};
    if (rj_expect(&j, '{')) return rerr(r, "facet: must be a JSON object of fields");
    while (!rj_peek(&j, '}')) {
        char field[80];
        if (rj_string(&j, field, sizeof field) || rj_expect(&j, ':')) return rerr(r, "facet: malformed object");
        if (add_facet(r, field, strlen(field), &j) != 0) return -1;
        if (!rj_peek(&j, '}') && rj_expect(&j, ',')) return rerr(r, "facet: malformed object");
    }
    return 0;
}

static int parse_return(ix_request *r, const char *v, size_t n) {
    r->return_mode = IXR_RETURN_LIST;
    memset(r->ret, 0, sizeof r->ret);
    r->ret_score = 0;
    size_t i = 0;
    while (i <= n) {
        size_t s = i;
        while (i < n && v[i] != ',') i++;
        size_t a = s, b = i;
        while (a < b && v[a] == ' ') a++;
        while (b > a && v[b - 1] == ' ') b--;
        if (eq(v + a, b - a, "_all_fields")) r->return_mode = IXR_RETURN_ALL;
        else if (eq(v + a, b - a, "_no_fields")) r->return_mode = IXR_RETURN_NONE;
        else if (eq(v + a, b - a, "_score")) r->ret_score = 1;
        else if (b > a) {
            const ixf_field *f = ixf_find(v + a, b - a);
            if (!f) return rerr(r, "return: unknown field '%.*s'", (int)(b - a > 64 ? 64 : b - a), v + a);
            if (!(f->sf->options & SF_RETURN)) return rerr(r, "return: field '%s' is not return enabled", f->sf->name);
            r->ret[f - ixf_at(0)] = 1;
        }
        i++;
    }
    return 0;
}

static int parse_sort(ix_request *r, const char *v, size_t n) {
    r->nsort = 0;
    size_t i = 0;
    while (i < n) {
        size_t s = i;
        while (i < n && v[i] != ',') i++;
        size_t a = s, b = i++;
        while (a < b && v[a] == ' ') a++;
        while (b > a && v[b - 1] == ' ') b--;
        size_t sp = a;
        while (sp < b && v[sp] != ' ') sp++;
        size_t d = sp;
        while (d < b && v[d] == ' ') d++;
        int desc;
        if (eq(v + d, b - d, "desc")) desc = 1;
        else if (eq(v + d, b - d, "asc")) desc = 0;
        else return rerr(r, "sort: '%.*s' needs a direction (asc or desc)", (int)(b - a > 64 ? 64 : b - a), v + a);
        if (r->nsort >= IXR_MAX_SORT) return rerr(r, "sort: at most %d fields", IXR_MAX_SORT);
        ixr_sort *so = &r->sort[r->nsort++];
        so->desc = desc;
        so->f = NULL;
        if (eq(v + a, sp - a, "_score")) so->kind = IXR_SORT_SCORE;
        else if (eq(v + a, sp - a, "_id")) so->kind = IXR_SORT_ID;
        else {
            so->kind = IXR_SORT_FIELD;
            so->f = ixf_find(v + a, sp - a);
            if (!so->f) return rerr(r, "sort: unknown field '%.*s'", (int)(sp - a > 64 ? 64 : sp - a), v + a);
            if (!so->f->sort) return rerr(r, "sort: field '%s' is not sort enabled", so->f->sf->name);
        }
    }
    return 0;
}

int ixr_param(ix_request *r, const char *key, size_t klen, const char *val, size_t vlen) {
    if (eq(key, klen, "q") || eq(key, klen, "fq")) {
        int isq = key[0] == 'q';
        if (vlen > QP_MAX_QUERY) return rerr(r, "%s is longer than %d bytes", isq ? "q" : "fq", QP_MAX_QUERY);
        memcpy(isq ? r->q : r->fq, val, vlen);
        (isq ? r->q : r->fq)[vlen] = '\0';
        if (isq) {
            r->q_len = vlen;
            r->have_q = 1;
        } else {
            r->fq_len = vlen;
        }
        return 0;
    }
    if (eq(key, klen, "q.parser")) {
        if (eq(val, vlen, "simple")) r->parser = IXQ_SIMPLE;
        else if (eq(val, vlen, "structured")) r->parser = IXQ_STRUCTURED;
        else if (eq(val, vlen, "lucene") || eq(val, vlen, "dismax"))
            return rerr(r, "q.parser=%.*s is not supported by ctindex (use simple or structured)", (int)vlen, val);
        else return rerr(r, "q.parser must be simple or structured");
        return 0;
    }
    if (eq(key, klen, "size") || eq(key, klen, "start")) {
        int64_t v;
        if (parse_count(val, vlen, IXR_MAX_HITS, &v))
            return rerr(r, "%.*s must be a number from 0 to %d", (int)klen, key, IXR_MAX_HITS);
        if (key[1] == 'i') r->size = v;
        else r->start = v;
        return 0;
    }
    if (eq(key, klen, "return")) return parse_return(r, val, vlen);
    if (eq(key, klen, "sort")) return parse_sort(r, val, vlen);
    if (eq(key, klen, "facet")) return facet_map(r, val, vlen);
    if (klen > 6 && memcmp(key, "facet.", 6) == 0) {
        rj opts = {val, vlen, 0};
        return add_facet(r, key + 6, klen - 6, &opts);
    }
    if (eq(key, klen, "format")) {
        if (eq(val, vlen, "sdk")) r->sdk = 1;
        else if (eq(val, vlen, "json")) r->sdk = 0;
        else return rerr(r, "format=%.*s is not supported by ctindex (json or sdk)", (int)(vlen > 16 ? 16 : vlen), val);
        return 0;
    }
    if (eq(key, klen, "pretty") || eq(key, klen, "partial") || eq(key, klen, "q.options")) return 0;
    if (eq(key, klen, "cursor")) return rerr(r, "cursor is not supported by ctindex: page with start and size");
    if ((klen >= 5 && memcmp(key, "expr", 4) == 0) || (klen >= 9 && memcmp(key, "highlight", 9) == 0) ||
        (klen >= 5 && memcmp(key, "stats", 5) == 0))
        return rerr(r, "%.*s is not supported by ctindex", (int)(klen > 40 ? 40 : klen), key);
    return rerr(r, "unknown parameter '%.*s'", (int)(klen > 40 ? 40 : klen), key);
}

int ixr_parse_form(ix_request *r, const char *s, size_t n) {
    char key[256];
    char *val = NULL;
    size_t pos = 0;
    httpp_span k, v;
    int rc = 0;
    while (rc == 0 && httpp_form_next(s, n, &pos, &k, &v)) {
        if (!val && !(val = malloc(QP_MAX_QUERY * 3 + 16))) return rerr(r, "out of memory");
        long kl = text_pct_decode(k.p, k.n, key, sizeof key, TEXT_PCT_PLUS_SPACE | TEXT_PCT_NO_NUL);
        long vl = text_pct_decode(v.p, v.n, val, QP_MAX_QUERY * 3 + 16, TEXT_PCT_PLUS_SPACE | TEXT_PCT_NO_NUL);
        if (kl < 0) rc = rerr(r, "a malformed or too long parameter name");
        else if (vl < 0) rc = rerr(r, "%s: malformed percent-encoding, or longer than %d bytes", key, QP_MAX_QUERY * 3);
        else rc = ixr_param(r, key, (size_t)kl, val, (size_t)vl);
    }
    free(val);
    return rc;
}

int ixr_finish(ix_request *r) {
    if (!r->have_q) return rerr(r, "q is required (use q=matchall&q.parser=structured to match every document)");
    if (r->start + r->size > IXR_MAX_HITS)
        return rerr(r, "start + size must be at most %d (narrow the query)", IXR_MAX_HITS);
    return 0;
}
