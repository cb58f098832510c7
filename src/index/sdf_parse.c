#include "index/sdf_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/jsonw.h"
#include "base/text.h"
#include "index/ixvalue.h"

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static size_t skip_ws(const char *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* End of the JSON value starting at i (one past it), or 0 when it does not end inside s. Only
 * brackets and strings are tracked: the value is parsed properly later. Depth is bounded. */
static size_t value_end(const char *s, size_t n, size_t i) {
    int depth = 0, in_str = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') {
                in_str = 0;
                if (depth == 0) return i + 1;
            }
            continue;
        }
        if (c == '"') in_str = 1;
        else if (c == '{' || c == '[') {
            if (++depth > 64) return 0;
        } else if (c == '}' || c == ']') {
            if (--depth < 0) return 0;
            if (depth == 0) return i + 1;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
            return i; /* end of a bare number or word */
        }
    }
    return depth == 0 && !in_str ? n : 0;
}

int sdf_next(const char *s, size_t n, size_t *pos, const char **elem, size_t *elem_len, char *err, size_t errcap) {
    size_t i = *pos;
    if (i == 0) {
        i = skip_ws(s, n, 0);
        if (i >= n || s[i] != '[') return fail(err, errcap, "The batch must be a JSON array of document operations");
        i = skip_ws(s, n, i + 1);
        if (i < n && s[i] == ']') return fail(err, errcap, "The batch must contain at least one document operation");
    } else {
        i = skip_ws(s, n, i);
        if (i < n && s[i] == ']') {
            if (skip_ws(s, n, i + 1) != n) return fail(err, errcap, "Invalid JSON: data after the closing ']'");
            *pos = n + 1; /* done */
            return 0;
        }
        if (i >= n || s[i] != ',') return fail(err, errcap, "Invalid JSON: expected ',' or ']' at offset %zu", i);
        i = skip_ws(s, n, i + 1);
    }
    if (*pos > n) return 0;
    size_t e = i < n ? value_end(s, n, i) : 0;
    if (!e || e == i) return fail(err, errcap, "Invalid JSON: unterminated or empty element at offset %zu", i);
    *elem = s + i;
    *elem_len = e - i;
    *pos = e;
    return 1;
}

/* A string value (escaped, as in the token) that CloudSearch takes: its decoded characters all
 * allowed by XML 1.0 (jsonw_reescape drops, and counts, any other) and at most max_cp of them. */
static const char *check_string(const char *p, size_t n, size_t max_cp, buf *scratch) {
    if (!scratch) return NULL; /* trusted documents: the builder guarantees it */
    jsonw_stats st;
    buf_clear(scratch);
    if (buf_reserve(scratch, n + 8) != 0) return "a value too large";
    long w =
        jsonw_reescape(p, n, scratch->data, scratch->cap, max_cp == (size_t)-1 ? JSONW_NO_LIMIT : max_cp + 1, 0, &st);
    if (w < 0 || st.dropped) return "invalid UTF-8, a malformed escape or a character XML 1.0 does not allow";
    if (max_cp != (size_t)-1 && st.chars > max_cp) return "a value longer than 4096 characters";
    return NULL;
}

/* A string's or number's value for field f, checked; a date's milliseconds or an int's value in
 * *v (0 for other kinds). */
static int check_value(const json_doc *d, int tok, const ixf_field *f, sdf_op *op, buf *scratch, const char **why,
                       int64_t *v) {
    const json_tok *t = &d->toks[tok];
    const char *p = json_tok_ptr(d, tok);
    size_t n = json_tok_len(d, tok);
    *v = 0;
    if (t->type == JSON_OBJECT) return *why = "an object is not a valid value", -1;
    if (t->type == JSON_ARRAY) return *why = "nested arrays are not valid values", -1;
    if (t->type == JSON_PRIMITIVE) {
        if (json_tok_is_null(d, tok)) return *why = "null is not allowed (omit the field instead)", -1;
        if (json_tok_bool(d, tok) >= 0) return *why = "boolean values are not supported", -1;
        if (f->kind != IXF_INT) return *why = "the value must be a string", -1;
        if (json_tok_int64(d, tok, v) != 0) return *why = "an int value must be a 64-bit integer", -1;
        return 0;
    }
    /* a string */
    switch (f->kind) {
    case IXF_INT: { /* XML batches carry numbers as text; accept the same in JSON */
        char num[24];
        if (n == 0 || n >= sizeof num || json_tok_decode(d, tok, num, sizeof num) < 0 || ixvalue_int(num, v) != 0)
            return *why = "an int value must be a 64-bit integer", -1;
        return 0;
    }
    case IXF_DATE: {
        /* The token's own bytes when they are a date: then they hold no escape, and decoding
         * them would give them back. Else decoded (up to a NUL, as before). */
        char date[64];
        if (n >= sizeof date || (ixvalue_date(p, n, v) != 0 && (json_tok_decode(d, tok, date, sizeof date) < 0 ||
                                                                ixvalue_date(date, strlen(date), v) != 0)))
            return *why = "a date must be RFC 3339 in UTC (yyyy-mm-ddTHH:mm:ss[.SSS]Z)", -1;
        if (f->is_time) {
            op->time_ms = *v;
            op->has_time = 1;
        }
        return 0;
    }
    default: break;
    }
    int literal = f->kind == IXF_LITERAL || f->kind == IXF_LITERAL_ARRAY || f->kind == IXF_LITERAL_HASH;
    *why = check_string(p, n, literal ? SCHEMA_LITERAL_MAX_CHARS : (size_t)-1, scratch);
    return *why ? -1 : 0;
}

/* [A-Za-z0-9_-=#;:/?@&]: bit c % 64 of word c / 64 (a call to strchr for each '-' of an id cost
 * more than the rest of its check). */
static int id_char(char c) {
    static const uint64_t words[4] = {0xafffa04800000000ull, 0x07fffffe87ffffffull, 0, 0};
    unsigned u = (unsigned char)c;
    return (int)((words[u >> 6] >> (u & 63)) & 1);
}

/* ---- compact JSON without jsmn -------------------------------------------------------------
 * The builder's documents are JSON without whitespace, three levels deep at most (the operation,
 * its fields, an array of values), holding strings and integers. scan_compact gives exactly the
 * tokens json_parse gives for such a text (jsmn's strict mode, parent links: a key's size is 1,
 * a value's parent is its key) and -1 for anything else (whitespace, true/false/null, a fraction,
 * deeper nesting, a control character, more tokens than doc holds), which then goes the usual
 * way: a different text is never read differently, only more slowly. jsmn costs about 15
 * instructions a byte of a document; this loop about 4 (fuzz_sdf checks both agree). */

/* Bytes that end a run of plain string bytes: the quote, the backslash, control characters. */
static const unsigned char cs_stop[256] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,         1,
                                           1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1};

typedef struct cscan {
    json_doc *d;
    const char *js;
    size_t i, n;
    /* raw's value decoded while it is scanned (NULL: not wanted, or no room) */
    char *dec;
    size_t dec_len;
    int dec_tok; /* raw's token, -1 until it was scanned */
    int dec_bad; /* it holds a \u escape: left to json_tok_decode (surrogate pairs) */
    /* raw's value as the builder placed it (sdf_hint): stepped over, not read; 0: no hint */
    size_t skip_at, skip_end;
    int skip_tok; /* its token, -1 until it was met */
} cscan;

static int cs_token(cscan *c, json_type type, size_t start, int parent) {
    if (c->d->ntoks >= c->d->cap) return -1;
    json_tok *t = &c->d->toks[c->d->ntoks];
    *t = (json_tok){type, (int)start, -1, 0, parent};
    if (parent >= 0) c->d->toks[parent].size++;
    return (int)c->d->ntoks++;
}

/* A string at c->i (its opening quote), escapes checked as jsmn checks them. With out, its text
 * is also decoded there as json_str_decode decodes it (the one-character escapes; *bad set at a
 * \u, whose decoding is left to it): out needs room for the string's bytes plus 16. Inlined
 * into both callers, so the scan without out pays nothing for it. */
static inline __attribute__((always_inline)) int cs_string_into(cscan *c, int parent, char *out, size_t *out_len,
                                                                int *bad) {
    const unsigned char *s = (const unsigned char *)c->js;
    size_t i = c->i + 1, n = c->n, o = 0;
    for (;;) {
#if defined(__SSE2__)
        /* 16 bytes a step to the next stop byte: a raw record has one every 10-20 bytes */
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1f);
        while (i + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            if (out) _mm_storeu_si128((__m128i *)(void *)(out + o), v); /* the bytes past a stop are written over */
            __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                     _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v));
            unsigned bits = (unsigned)_mm_movemask_epi8(m);
            if (!bits) {
                i += 16;
                o += 16;
                continue;
            }
            unsigned k = (unsigned)__builtin_ctz(bits);
            i += k;
            o += k;
            /* raw's own quotes, most of its escapes: decoded here without leaving the loop */
            if (out && s[i] == '\\' && i + 1 < n && s[i + 1] == '"') {
                out[o++] = '"';
                i += 2;
                continue;
            }
            break;
        }
#endif
        if (out)
            while (i < n && !cs_stop[s[i]]) out[o++] = (char)s[i++];
        else
            while (i < n && !cs_stop[s[i]]) i++;
        if (i >= n || s[i] < 0x20) return -1;
        if (s[i] == '"') break;
        if (i + 1 >= n) return -1;
        char e = 0;
        switch (s[i + 1]) {
        case '"': e = '"'; break;
        case '/': e = '/'; break;
        case '\\': e = '\\'; break;
        case 'b': e = '\b'; break;
        case 'f': e = '\f'; break;
        case 'r': e = '\r'; break;
        case 'n': e = '\n'; break;
        case 't': e = '\t'; break;
        case 'u':
            if (n - i < 6 || text_hex4((const char *)s + i + 2) < 0) return -1;
            i += 6;
            if (out) *bad = 1;
            continue;
        default: return -1;
        }
        if (out) out[o++] = e;
        i += 2;
    }
    int t = cs_token(c, JSON_STRING, c->i + 1, parent);
    if (t < 0) return -1;
    c->d->toks[t].end = (int)i;
    c->i = i + 1;
    if (out) {
        out[o] = '\0'; /* room: o <= the string's length */
        *out_len = o;
    }
    return t;
}

static int cs_string(cscan *c, int parent) { return cs_string_into(c, parent, NULL, NULL, NULL); }

/* raw's value, decoded into c->dec as it is scanned: json_tok_decode would walk it again. */
static int cs_string_dec(cscan *c, int parent) {
    int t = cs_string_into(c, parent, c->dec, &c->dec_len, &c->dec_bad);
    c->dec_tok = t;
    return t;
}

/* 1 when token k is the key "raw" (asked of every field's string value: without a call). */
static inline int is_raw_key(const json_doc *d, int k) {
    const char *p = d->js + d->toks[k].start;
    return d->toks[k].end - d->toks[k].start == 3 && p[0] == 'r' && p[1] == 'a' && p[2] == 'w';
}

/* raw's value where the builder says it is: one token up to the closing quote it recorded. */
static int cs_skip(cscan *c, int parent) {
    if (c->skip_end >= c->n || c->js[c->skip_end] != '"') return -1;
    int t = cs_token(c, JSON_STRING, c->skip_at, parent);
    if (t < 0) return -1;
    c->d->toks[t].end = (int)c->skip_end;
    c->i = c->skip_end + 1;
    c->skip_tok = t;
    return 0;
}

static int cs_value(cscan *c, int parent, int depth) {
    if (c->i >= c->n) return -1;
    char ch = c->js[c->i];
    if (ch == '"') {
        /* a hint that does not fit (no quote where it ends) is not used: the string is read */
        if (c->i + 1 == c->skip_at && depth == 2 && is_raw_key(c->d, parent) && cs_skip(c, parent) == 0) return 0;
        /* raw: a member "raw" of the operation's members' object (parse_op checks it is fields) */
        int dec = c->dec && depth == 2 && c->dec_tok < 0 && is_raw_key(c->d, parent);
        return (dec ? cs_string_dec(c, parent) : cs_string(c, parent)) < 0 ? -1 : 0;
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) { /* an integer: -?(0|[1-9][0-9]*) */
        size_t i = c->i + (ch == '-');
        if (i >= c->n || c->js[i] < '0' || c->js[i] > '9') return -1;
        if (c->js[i] == '0') i++;
        else
            while (i < c->n && c->js[i] >= '0' && c->js[i] <= '9') i++;
        if (i < c->n && c->js[i] != ',' && c->js[i] != ']' && c->js[i] != '}') return -1;
        int t = cs_token(c, JSON_PRIMITIVE, c->i, parent);
        if (t < 0) return -1;
        c->d->toks[t].end = (int)i;
        c->i = i;
        return 0;
    }
    if ((ch != '{' && ch != '[') || depth >= 3) return -1;
    int obj = ch == '{', t = cs_token(c, obj ? JSON_OBJECT : JSON_ARRAY, c->i, parent);
    if (t < 0) return -1;
    char close = obj ? '}' : ']';
    c->i++;
    if (c->i < c->n && c->js[c->i] == close) {
        c->d->toks[t].end = (int)++c->i;
        return 0;
    }
    for (;;) {
        if (obj) {
            if (c->i >= c->n || c->js[c->i] != '"') return -1;
            int key = cs_string(c, t);
            if (key < 0 || c->i >= c->n || c->js[c->i] != ':') return -1;
            c->i++;
            if (cs_value(c, key, depth + 1) != 0) return -1;
        } else if (cs_value(c, t, depth + 1) != 0) {
            return -1;
        }
        if (c->i >= c->n) return -1;
        if (c->js[c->i] == close) break;
        if (c->js[c->i] != ',') return -1;
        c->i++;
    }
    c->d->toks[t].end = (int)++c->i;
    return 0;
}

/* dec (room for len + 16 bytes, or NULL): where raw's value is decoded; *dec_tok gets its token
 * (-1: none, or it holds a \u escape) and *dec_len its length. hint (or NULL; dec is then not
 * used): *skip_tok gets the token of raw's value when it was where the hint says, else -1. */
static int scan_compact(json_doc *d, const char *js, size_t len, char *dec, const sdf_hint *hint, int *dec_tok,
                        size_t *dec_len, int *skip_tok) {
    d->js = js;
    d->len = len;
    d->ntoks = 0;
    *dec_tok = *skip_tok = -1;
    if (len > (size_t)0x7fffffff) return -1;
    /* with a hint raw is not decoded, even when it is met elsewhere (a hint that does not fit,
     * which the builder never gives): the caller decodes it then (op->raw NULL) */
    cscan c = {d, js, 0, len, hint ? NULL : dec, 0, -1, 0, 0, 0, -1};
    if (hint && hint->raw_at > 0 && hint->raw_at < len && hint->raw_len < len - hint->raw_at) {
        c.skip_at = hint->raw_at;
        c.skip_end = hint->raw_at + hint->raw_len;
    }
    if (cs_value(&c, -1, 0) != 0 || c.i != len) {
        d->ntoks = 0;
        return -1;
    }
    *skip_tok = c.skip_tok;
    if (!c.dec_bad) *dec_tok = c.dec_tok;
    *dec_len = c.dec_len;
    return 0;
}

/* An empty operation: what a refused document leaves. */
static void op_clear(sdf_op *op) {
    op->nfields = 0;
    op->raw = NULL;
    op->raw_len = 0;
    op->is_delete = 0;
    op->id[0] = '\0';
    op->id_len = 0;
    op->has_time = 0;
}

/* sdf_parse_op once the document is tokenized (tokenized) or not yet. */
static int parse_op(json_doc *doc, const char *js, size_t len, unsigned index, int trusted, buf *scratch, sdf_op *op,
                    char *err, size_t errcap, int tokenized) {
    op_clear(op);
    if (len > SDF_MAX_DOC_BYTES)
        return fail(err, errcap, "document %u: %zu bytes, larger than the 1 MB document limit", index, len);
    int rc = tokenized ? JSON_OK : json_parse(doc, js, len);
    if (rc != JSON_OK)
        return fail(err, errcap, "document %u: %s", index, rc == JSON_ENOMEM ? "too many values" : "invalid JSON");
    if (doc->toks[0].type != JSON_OBJECT)
        return fail(err, errcap, "document %u: an operation must be an object", index);
    int type = json_obj_get(doc, 0, "type"), id = json_obj_get(doc, 0, "id"), fields = json_obj_get(doc, 0, "fields");
    if (id < 0 || doc->toks[id].type != JSON_STRING)
        return fail(err, errcap, "document %u: missing \"id\" (a string)", index);
    long idn = json_tok_decode(doc, id, op->id, sizeof op->id);
    if (idn <= 0 || idn > SDF_MAX_ID)
        return fail(err, errcap, "document %u: the id must be 1 to 128 characters", index);
    for (long i = 0; i < idn; i++)
        if (!id_char(op->id[i]))
            return fail(err, errcap, "document %u: invalid character in document id \"%.40s\"", index, op->id);
    op->id_len = (size_t)idn;
    if (type < 0 || (!json_tok_streq(doc, type, "add") && !json_tok_streq(doc, type, "delete")))
        return fail(err, errcap, "%s: \"type\" must be \"add\" or \"delete\"", op->id);
    /* unknown members: CloudSearch refuses them */
    for (int k = 1, seen = 0; k < (int)doc->ntoks && seen < doc->toks[0].size; k = json_next(doc, k + 1), seen++) {
        if (!json_tok_streq(doc, k, "type") && !json_tok_streq(doc, k, "id") && !json_tok_streq(doc, k, "fields") &&
            !json_tok_streq(doc, k, "version") && !json_tok_streq(doc, k, "lang"))
            return fail(err, errcap, "%s: unexpected member \"%.*s\"", op->id, (int)json_tok_len(doc, k),
                        json_tok_ptr(doc, k));
    }
    if (json_tok_streq(doc, type, "delete")) {
        op->is_delete = 1;
        return 0;
    }
    if (fields < 0 || doc->toks[fields].type != JSON_OBJECT)
        return fail(err, errcap, "%s: an add needs a \"fields\" object", op->id);
    int nkeys = doc->toks[fields].size;
    if (nkeys == 0) return fail(err, errcap, "%s: an add needs at least one field", op->id);
    if (nkeys > SDF_MAX_FIELDS) return fail(err, errcap, "%s: %d fields, more than 200", op->id, nkeys);
    uint64_t seen_mask[(IXF_MAX + 63) / 64] = {0};
    for (int k = fields + 1, seen = 0; seen < nkeys; seen++) {
        int v = k + 1;
        const char *name = json_tok_ptr(doc, k);
        size_t nlen = json_tok_len(doc, k);
        const ixf_field *f = ixf_find(name, nlen);
        if (!f) return fail(err, errcap, "%s: field '%.*s' is not defined in the schema", op->id, (int)nlen, name);
        if (seen_mask[f->fid / 64] & (UINT64_C(1) << (f->fid % 64)))
            return fail(err, errcap, "%s: field '%s' appears twice", op->id, f->sf->name);
        seen_mask[f->fid / 64] |= UINT64_C(1) << (f->fid % 64);
        const char *why = NULL;
        int64_t val = 0, ignored;
        if (doc->toks[v].type == JSON_ARRAY) {
            int is_array = f->sf->cs_type == CS_LITERAL_ARRAY || f->sf->cs_type == CS_TEXT_ARRAY;
            int nv = doc->toks[v].size;
            if (!is_array) why = "multiple values for a single-valued field";
            else if (nv == 0) why = "multi-valued fields must contain at least one value";
            else if (nv > SDF_MAX_VALUES) why = "more than 1000 values";
            for (int e = v + 1, i = 0; !why && i < nv; e = json_next(doc, e), i++)
                if (!trusted || doc->toks[e].type != JSON_STRING || f->kind == IXF_DATE)
                    check_value(doc, e, f, op, trusted ? NULL : scratch, &why, &ignored);
        } else if (!trusted || doc->toks[v].type != JSON_STRING || f->kind == IXF_DATE || f->kind == IXF_INT) {
            check_value(doc, v, f, op, trusted ? NULL : scratch, &why, &val);
        }
        if (why) return fail(err, errcap, "%s: field '%s': %s", op->id, f->sf->name, why);
        op->fields[op->nfields] = (sdf_field){f, v, 0, val};
        op->nfields++;
        /* a string or a number is one token: no walk to find the next key */
        k = doc->toks[v].type == JSON_ARRAY || doc->toks[v].type == JSON_OBJECT ? json_next(doc, v) : v + 1;
    }
    return 0;
}

int sdf_parse_op(json_doc *doc, const char *js, size_t len, unsigned index, int trusted, buf *scratch, sdf_op *op,
                 char *err, size_t errcap) {
    return parse_op(doc, js, len, index, trusted, scratch, op, err, errcap, 0);
}

/* 1 when the quote at q (inside s) is escaped: an odd number of backslashes before it. */
static int escaped_at(const char *s, const char *q) {
    size_t n = 0;
    while (q > s && q[-1] == '\\') {
        q--;
        n++;
    }
    return (int)(n & 1);
}

int sdf_parse_trusted(json_doc *doc, const char *js, size_t len, unsigned index, buf *scratch, sdf_op *op, char *err,
                      size_t errcap) {
    return sdf_parse_hinted(doc, js, len, index, NULL, scratch, op, err, errcap);
}

int sdf_parse_hinted(json_doc *doc, const char *js, size_t len, unsigned index, const sdf_hint *hint, buf *scratch,
                     sdf_op *op, char *err, size_t errcap) {
    char *dec = len <= SDF_MAX_DOC_BYTES && buf_reserve(scratch, len + 16) == 0 ? scratch->data : NULL;
    int dec_tok, skip_tok;
    size_t dec_len = 0;
    if (len <= SDF_MAX_DOC_BYTES && scan_compact(doc, js, len, dec, hint, &dec_tok, &dec_len, &skip_tok) == 0) {
        if (parse_op(doc, js, len, index, 1, NULL, op, err, errcap, 1) != 0) return -1;
        for (int i = 0; i < op->nfields && (dec_tok >= 0 || skip_tok >= 0); i++)
            if (op->fields[i].f->column == IXT_RAW && op->fields[i].tok == skip_tok) {
                op->raw = hint->rec;
                op->raw_len = hint->rec_len;
            } else if (op->fields[i].f->column == IXT_RAW && op->fields[i].tok == dec_tok) {
                op->raw = dec;
                op->raw_len = dec_len;
            }
        return 0;
    }
    static const char key[] = ",\"raw\":\"";
    const char *k = len > 16 ? memmem(js, len, key, sizeof key - 1) : NULL;
    size_t vstart = k ? (size_t)(k - js) + sizeof key - 1 : 0, vend = len >= 3 ? len - 3 : 0;
    int fast = k && vend >= vstart && js[len - 1] == '}' && js[len - 2] == '}' && js[vend] == '"' &&
               !escaped_at(js, js + vend);
    /* raw's text must be one string: every quote in it escaped */
    for (const char *q = fast ? js + vstart : NULL; q && fast;) {
        q = memchr(q, '"', (size_t)(js + vend - q));
        if (!q) break;
        if (!escaped_at(js, q)) fast = 0;
        q++;
    }
    size_t pre = fast ? vstart : 0;
    if (!fast || buf_reserve(scratch, pre + 4) != 0) return sdf_parse_op(doc, js, len, index, 1, NULL, op, err, errcap);
    buf_clear(scratch);
    buf_append(scratch, js, pre);
    buf_append(scratch, "\"}}", 3);
    if (sdf_parse_op(doc, scratch->data, scratch->len, index, 1, NULL, op, err, errcap) != 0) return -1;
    /* The copy is js byte for byte up to raw's text: the tokens' offsets hold for js; raw's token
     * (the last one, empty in the copy) now ends where raw ends in js. */
    doc->js = js;
    doc->len = len;
    doc->toks[doc->ntoks - 1].end = (int)vend;
    return 0;
}

/* ---- a document taken from the builder's field list -----------------------------------------
 * The list is written with the text, in the same process, into the batch's own memory: it is
 * trusted as the text is (values are not checked, as sdf_parse_trusted does not check them),
 * but never believed where believing it could read outside the text or read a value under
 * another field's name: every byte between the values (head, keys, quotes, separators, end) is
 * compared with what the list says is there, so the list describes the text's layout exactly
 * and the values are what a parse of the text finds. A mismatch is an error, not a guess. */

static const char sdf_head[] = "{\"type\":\"add\",\"id\":\"", sdf_fields_key[] = "\",\"fields\":{";

static int fl_token(json_doc *d, json_type type, size_t start, size_t end, int parent) {
    json_tok *t = &d->toks[d->ntoks];
    *t = (json_tok){type, (int)start, (int)end, 0, parent};
    if (parent >= 0) d->toks[parent].size++;
    return (int)d->ntoks++;
}

/* A string value the list places at e->at: its quotes where they belong. Returns the offset
 * past its closing quote, or 0. */
static size_t fl_string(const char *js, size_t len, size_t q, const batch_field *e) {
    if (!(e->flags & BATCH_FIELD_STRING) || q >= len || js[q] != '"' || e->at != q + 1 || e->len >= len - e->at)
        return 0;
    size_t end = (size_t)e->at + e->len;
    return js[end] == '"' ? end + 1 : 0;
}

int sdf_parse_fields(json_doc *doc, const char *js, size_t len, unsigned index, const batch_field *fl, size_t nfl,
                     const sdf_hint *hint, sdf_op *op, char *err, size_t errcap) {
    op_clear(op);
    doc->js = js;
    doc->len = len;
    doc->ntoks = 0;
    if (len > SDF_MAX_DOC_BYTES)
        return fail(err, errcap, "document %u: %zu bytes, larger than the 1 MB document limit", index, len);
    /* the head and the id: {"type":"add","id":"ID","fields":{ */
    size_t h = sizeof sdf_head - 1, i = h;
    if (len < h + sizeof sdf_fields_key + 2 || memcmp(js, sdf_head, h) != 0)
        return fail(err, errcap, "document %u: not as its field list says", index);
    while (i < len && i - h <= SDF_MAX_ID && js[i] != '"' && id_char(js[i])) i++;
    size_t idn = i - h;
    if (idn == 0 || idn > SDF_MAX_ID || len - i < sizeof sdf_fields_key - 1 ||
        memcmp(js + i, sdf_fields_key, sizeof sdf_fields_key - 1) != 0)
        return fail(err, errcap, "document %u: not as its field list says (its id)", index);
    memcpy(op->id, js + h, idn);
    op->id[idn] = '\0';
    op->id_len = idn;
    /* tokens: the operation, type, add, id, the id, fields, its object; then per entry 2 at most */
    if (doc->cap < 7 + 2 * nfl) return fail(err, errcap, "%s: too many values", op->id);
    /* offsets in sdf_head: "type" at 2..6, "add" at 9..12, "id" at 15..17; "fields" after the id */
    int root = fl_token(doc, JSON_OBJECT, 0, len, -1);
    fl_token(doc, JSON_STRING, 9, 12, fl_token(doc, JSON_STRING, 2, 6, root));
    fl_token(doc, JSON_STRING, h, i, fl_token(doc, JSON_STRING, 15, 17, root));
    int obj = fl_token(doc, JSON_OBJECT, i + sizeof sdf_fields_key - 2, len - 1,
                       fl_token(doc, JSON_STRING, i + 3, i + 9, root));
    size_t p = i + sizeof sdf_fields_key - 1; /* where the next key's quote must be */
    uint64_t seen_mask[(IXF_MAX + 63) / 64] = {0};
    size_t nknown = ixf_count(), k = 0;
    const ixf_field *table = ixf_at(0); /* the fields by schema index, once: not a call a field */
    while (k < nfl) {
        const batch_field *e = &fl[k];
        const ixf_field *f = e->fid < nknown ? &table[e->fid] : NULL;
        if (!f || op->nfields == SDF_MAX_FIELDS) return fail(err, errcap, "%s: its field list is wrong", op->id);
        const char *name = f->sf->name;
        size_t nlen = f->name_len;
        if (seen_mask[f->fid / 64] & (UINT64_C(1) << (f->fid % 64)))
            return fail(err, errcap, "%s: field '%s' appears twice", op->id, name);
        seen_mask[f->fid / 64] |= UINT64_C(1) << (f->fid % 64);
        /* "name": (compared inline: a call to memcmp a field cost more than the rest of its checks) */
        if (len - p < nlen + 4 || js[p] != '"' || !json_bytes_eq(js + p + 1, name, nlen) || js[p + 1 + nlen] != '"' ||
            js[p + 2 + nlen] != ':')
            return fail(err, errcap, "%s: field '%s' is not where its field list says", op->id, name);
        int key = fl_token(doc, JSON_STRING, p + 1, p + 1 + nlen, obj);
        size_t q = p + 3 + nlen, end = 0; /* the value's first byte, and one past its last */
        const char *why = NULL;
        int v;
        int64_t val = 0, ignored;
        int plain = 0;
        if (e->flags & BATCH_FIELD_ARRAY) {
            size_t ne = e->n;
            if (f->sf->cs_type != CS_LITERAL_ARRAY && f->sf->cs_type != CS_TEXT_ARRAY)
                why = "multiple values for a single-valued field";
            else if (ne == 0 || ne > SDF_MAX_VALUES || ne > nfl - k - 1) why = "its field list is wrong";
            if (why) return fail(err, errcap, "%s: field '%s': %s", op->id, name, why);
            if (js[q] != '[' || e->at != q || e->len < 2 || e->len > len - q || js[q + e->len - 1] != ']')
                return fail(err, errcap, "%s: field '%s' is not where its field list says", op->id, name);
            v = fl_token(doc, JSON_ARRAY, q, q + e->len, key);
            size_t r = q + 1;
            for (size_t j = 1; j <= ne; j++) {
                const batch_field *el = &e[j];
                size_t after = el->fid == e->fid ? fl_string(js, len, r, el) : 0;
                if (!after || (js[after] != ',' && js[after] != ']') || (js[after] == ']') != (j == ne))
                    return fail(err, errcap, "%s: field '%s' is not where its field list says", op->id, name);
                int t = fl_token(doc, JSON_STRING, el->at, (size_t)el->at + el->len, v);
                if (f->kind == IXF_DATE) check_value(doc, t, f, op, NULL, &why, &ignored);
                r = after + 1;
            }
            end = r;
            if (end != q + e->len)
                return fail(err, errcap, "%s: field '%s' is not where its field list says", op->id, name);
            k += 1 + ne;
        } else if (e->flags & BATCH_FIELD_STRING) {
            end = fl_string(js, len, q, e);
            if (!end) return fail(err, errcap, "%s: field '%s' is not where its field list says", op->id, name);
            v = fl_token(doc, JSON_STRING, e->at, (size_t)e->at + e->len, key);
            plain = (e->flags & BATCH_FIELD_PLAIN) != 0;
            if (f->kind == IXF_DATE || f->kind == IXF_INT) check_value(doc, v, f, op, NULL, &why, &val);
            if (f->column == IXT_RAW && hint && hint->raw_at == e->at && hint->raw_len == e->len) {
                op->raw = hint->rec;
                op->raw_len = hint->rec_len;
            } else if (e->flags & BATCH_FIELD_KEPT) {
                why = "raw left out without its record";
            }
            k++;
        } else { /* a number: its digits checked as the field's kind asks */
            if (e->at != q || e->len == 0 || e->len > len - q)
                return fail(err, errcap, "%s: field '%s' is not where its field list says", op->id, name);
            end = q + e->len;
            v = fl_token(doc, JSON_PRIMITIVE, q, end, key);
            check_value(doc, v, f, op, NULL, &why, &val);
            k++;
        }
        if (why) return fail(err, errcap, "%s: field '%s': %s", op->id, name, why);
        op->fields[op->nfields] = (sdf_field){f, v, plain, val};
        op->nfields++;
        if (end < len && js[end] == ',' && k < nfl) {
            p = end + 1;
        } else if (k == nfl && end + 2 == len && js[end] == '}' && js[end + 1] == '}') {
            return 0;
        } else {
            return fail(err, errcap, "%s: fields are not where its field list says", op->id);
        }
    }
    return fail(err, errcap, "%s: an add needs at least one field", op->id);
}
