/* JSON reading: a strict one-pass tokenizer that fills a fixed token array in jsmn's layout
 * (JSMN_PARENT_LINKS: a value's parent is its key, a key's or element's parent its container).
 *
 * Why not jsmn itself: it looks at strings a byte at a time and accepts non-JSON (bare words,
 * trailing commas, keys without values), which needed a second pass over every token to
 * reject; tokenizing was the largest single cost per record. Here strings are scanned 16 bytes
 * at a time and the grammar (RFC 8259) is checked as the tokens are made. Like jsmn, raw
 * control characters inside strings are let through (the writers drop them), a NUL is not. */
#include "json.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

int json_doc_init(json_doc *d, unsigned max_tokens) {
    memset(d, 0, sizeof *d);
    d->toks = calloc(max_tokens ? max_tokens : 1, sizeof(json_tok));
    if (!d->toks) return JSON_ENOMEM;
    d->cap = max_tokens;
    return JSON_OK;
}

void json_doc_free(json_doc *d) {
    free(d->toks);
    d->toks = NULL;
    d->cap = d->ntoks = 0;
}

static inline int is_ws(unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* First '"', backslash or NUL in p[0..end), or end. */
static inline const unsigned char *string_stop(const unsigned char *p, const unsigned char *end) {
#if defined(__SSE2__) && defined(__GNUC__)
    const __m128i q = _mm_set1_epi8('"'), b = _mm_set1_epi8('\\'), z = _mm_setzero_si128();
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, b)), _mm_cmpeq_epi8(v, z)));
        if (m) return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && *p != 0) p++;
    return p;
}

static inline int is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* A string whose opening quote is at *pp: on success *pp is just past the closing quote and
 * *close at it. JSON_EPART when the input ends first, JSON_EINVAL for a bad escape or NUL. */
static inline __attribute__((always_inline)) int scan_string(const unsigned char **pp, const unsigned char *end, const unsigned char **close) {
    const unsigned char *p = *pp + 1;
    for (;;) {
        p = string_stop(p, end);
        if (p == end) return JSON_EPART;
        if (*p == '"') break;
        if (*p == 0) return JSON_EINVAL;
        /* backslash */
        if (end - p < 2) return JSON_EPART;
        unsigned char e = p[1];
        if (e == 'u') {
            if (end - p < 6) return JSON_EPART;
            if (!is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5])) return JSON_EINVAL;
            p += 6;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
            p += 2;
        } else {
            return JSON_EINVAL;
        }
    }
    *close = p;
    *pp = p + 1;
    return JSON_OK;
}

/* A number (RFC 8259 grammar) or true/false/null starting at *pp; *pp moves past it. The byte
 * after it must end it: a delimiter or the end of input. */
static int scan_primitive(const unsigned char **pp, const unsigned char *end) {
    const unsigned char *p = *pp;
    unsigned char c = *p;
    if (c == 't' || c == 'f' || c == 'n') {
        const char *word = c == 't' ? "true" : c == 'f' ? "false" : "null";
        size_t n = c == 'f' ? 5 : 4;
        if ((size_t)(end - p) < n) return memcmp(p, word, (size_t)(end - p)) == 0 ? JSON_EPART : JSON_EINVAL;
        /* fixed-size compares, inlined: literals are frequent */
        int ok = c == 'f' ? memcmp(p, "false", 5) == 0 : memcmp(p, word, 4) == 0;
        if (!ok) return JSON_EINVAL;
        p += n;
    } else {
        if (p < end && *p == '-') p++;
        if (p == end) return JSON_EPART;
        if (*p == '0') p++;
        else if (*p >= '1' && *p <= '9') while (p < end && is_digit(*p)) p++;
        else return JSON_EINVAL;
        if (p < end && *p == '.') {
            p++;
            if (p == end) return JSON_EPART;
            if (!is_digit(*p)) return JSON_EINVAL;
            while (p < end && is_digit(*p)) p++;
        }
        if (p < end && (*p == 'e' || *p == 'E')) {
            p++;
            if (p < end && (*p == '+' || *p == '-')) p++;
            if (p == end) return JSON_EPART;
            if (!is_digit(*p)) return JSON_EINVAL;
            while (p < end && is_digit(*p)) p++;
        }
    }
    if (p < end && !is_ws(*p) && *p != ',' && *p != '}' && *p != ']') return JSON_EINVAL;
    *pp = p;
    return JSON_OK;
}

/* What the next significant byte may be. */
enum expect { X_VALUE, X_VALUE_OR_CLOSE, X_KEY, X_KEY_OR_CLOSE, X_COLON, X_COMMA_OR_CLOSE, X_NOTHING };

int json_parse(json_doc *d, const char *js, size_t len) {
    d->js = js;
    d->len = len;
    d->ntoks = 0;
    /* Token offsets are int, as in jsmn. */
    if (len > (size_t)0x7fffffff) return JSON_ETOOBIG;
    const unsigned char *b = (const unsigned char *)js, *p = b, *end = b + len;
    json_tok *t = d->toks;
    unsigned n = 0, cap = d->cap;
    int super = -1; /* the token new ones attach to: a container, or the key awaiting its value */
    enum expect x = X_VALUE;
    for (;;) {
        while (p < end && is_ws(*p)) p++;
        if (p == end) break;
        unsigned char c = *p;
        int rc;
        switch (x) {
        case X_COLON:
            if (c != ':') return JSON_EINVAL;
            p++;
            x = X_VALUE;
            continue;
        case X_COMMA_OR_CLOSE:
            if (c == ',') {
                p++;
                x = t[super].type == JSON_OBJECT ? X_KEY : X_VALUE;
                continue;
            }
            if (c == '}' || c == ']') goto close;
            return JSON_EINVAL;
        case X_KEY_OR_CLOSE:
            if (c == '}') goto close;
            /* fall through */
        case X_KEY: {
            if (c != '"') return JSON_EINVAL;
            const unsigned char *s = p, *q;
            if ((rc = scan_string(&p, end, &q)) != JSON_OK) return rc;
            if (n == cap) return JSON_ENOMEM;
            /* a key's "subtree" is the key alone: next is its value */
            t[n] = (json_tok){JSON_STRING, (int)(s + 1 - b), (int)(q - b), 0, super, (int)n + 1};
            t[super].size++;
            super = (int)n++;
            x = X_COLON;
            continue;
        }
        case X_VALUE_OR_CLOSE:
            if (c == ']') goto close;
            /* fall through */
        case X_VALUE:
            if (n == cap) return JSON_ENOMEM;
            if (super >= 0) t[super].size++;
            if (c == '{' || c == '[') {
                t[n] = (json_tok){c == '{' ? JSON_OBJECT : JSON_ARRAY, (int)(p - b), -1, 0, super, 0};
                super = (int)n++;
                p++;
                x = c == '{' ? X_KEY_OR_CLOSE : X_VALUE_OR_CLOSE;
                continue;
            }
            if (c == '"') {
                const unsigned char *s = p, *q;
                if ((rc = scan_string(&p, end, &q)) != JSON_OK) return rc;
                t[n] = (json_tok){JSON_STRING, (int)(s + 1 - b), (int)(q - b), 0, super, (int)n + 1};
                n++;
            } else {
                const unsigned char *s = p;
                if ((rc = scan_primitive(&p, end)) != JSON_OK) return rc;
                t[n] = (json_tok){JSON_PRIMITIVE, (int)(s - b), (int)(p - b), 0, super, (int)n + 1};
                n++;
            }
            goto value_done;
        case X_NOTHING:
            return JSON_EINVAL; /* exactly one root value */
        }
    close:
        /* c closes the container super is in (super is never a key here) */
        if ((c == '}') != (t[super].type == JSON_OBJECT)) return JSON_EINVAL;
        p++;
        t[super].end = (int)(p - b);
        t[super].next = (int)n;
        super = t[super].parent;
    value_done:
        if (super < 0) {
            x = X_NOTHING;
        } else {
            if (t[super].type == JSON_STRING) super = t[super].parent; /* the key got its value */
            x = X_COMMA_OR_CLOSE;
        }
    }
    d->ntoks = n;
    return x == X_NOTHING ? JSON_OK : JSON_EPART;
}

int json_obj_getn(const json_doc *d, int obj, const char *key, size_t keylen) {
    if (obj < 0 || (unsigned)obj >= d->ntoks || d->toks[obj].type != JSON_OBJECT) return -1;
    int n = d->toks[obj].size;
    int k = obj + 1;
    for (int e = 0; e < n; e++) {
        int v = k + 1;
        if (d->toks[k].type == JSON_STRING && json_tok_len(d, k) == keylen &&
            json_bytes_eq(json_tok_ptr(d, k), key, keylen))
            return v;
        k = json_next(d, v);
    }
    return -1;
}

int json_obj_get(const json_doc *d, int obj, const char *key) { return json_obj_getn(d, obj, key, strlen(key)); }

int json_path(const json_doc *d, int obj, const char *dotted) {
    int cur = obj;
    const char *p = dotted;
    while (cur >= 0) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        cur = json_obj_getn(d, cur, p, n);
        if (!dot) return cur;
        p = dot + 1;
    }
    return -1;
}

int json_array_at(const json_doc *d, int arr, int idx) {
    if (arr < 0 || (unsigned)arr >= d->ntoks || d->toks[arr].type != JSON_ARRAY) return -1;
    if (idx < 0 || idx >= d->toks[arr].size) return -1;
    int t = arr + 1;
    for (int e = 0; e < idx; e++) t = json_next(d, t);
    return t;
}

int json_tok_streq(const json_doc *d, int i, const char *s) {
    if (i < 0 || d->toks[i].type != JSON_STRING) return 0;
    size_t n = strlen(s);
    return json_tok_len(d, i) == n && memcmp(json_tok_ptr(d, i), s, n) == 0;
}

static int prim_is(const json_doc *d, int i, const char *word) {
    if (i < 0 || d->toks[i].type != JSON_PRIMITIVE) return 0;
    size_t n = strlen(word);
    return json_tok_len(d, i) == n && memcmp(json_tok_ptr(d, i), word, n) == 0;
}

int json_tok_is_null(const json_doc *d, int i) { return prim_is(d, i, "null"); }

int json_tok_bool(const json_doc *d, int i) {
    if (prim_is(d, i, "true")) return 1;
    if (prim_is(d, i, "false")) return 0;
    return -1;
}

int json_tok_int64(const json_doc *d, int i, int64_t *out) {
    if (i < 0 || d->toks[i].type != JSON_PRIMITIVE) return -1;
    const char *p = json_tok_ptr(d, i);
    size_t n = json_tok_len(d, i);
    size_t k = 0;
    int neg = 0;
    if (k < n && p[k] == '-') neg = 1, k++;
    if (k == n) return -1;
    uint64_t v = 0;
    for (; k < n; k++) {
        if (p[k] < '0' || p[k] > '9') return -1;
        unsigned digit = (unsigned)(p[k] - '0');
        if (v > (UINT64_C(9223372036854775808) - digit) / 10) return -1;
        v = v * 10 + digit;
    }
    if (!neg && v > INT64_MAX) return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static size_t utf8_put(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

long json_str_decode(const char *in, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char tmp[4];
        size_t w;
        if (in[i] != '\\') {
            tmp[0] = in[i++];
            w = 1;
        } else {
            if (i + 1 >= n) return -1;
            char e = in[i + 1];
            i += 2;
            switch (e) {
            case '"': tmp[0] = '"'; w = 1; break;
            case '\\': tmp[0] = '\\'; w = 1; break;
            case '/': tmp[0] = '/'; w = 1; break;
            case 'b': tmp[0] = '\b'; w = 1; break;
            case 'f': tmp[0] = '\f'; w = 1; break;
            case 'n': tmp[0] = '\n'; w = 1; break;
            case 'r': tmp[0] = '\r'; w = 1; break;
            case 't': tmp[0] = '\t'; w = 1; break;
            case 'u': {
                unsigned cp, lo;
                if (i + 4 > n || hex4(in + i, &cp) != 0) return -1;
                i += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n && in[i] == '\\' && in[i + 1] == 'u' &&
                    hex4(in + i + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
                w = utf8_put(tmp, cp); /* a lone surrogate is encoded as-is; sanitisers drop it */
                break;
            }
            default: return -1;
            }
        }
        if (o + w + 1 > cap) return -1;
        memcpy(out + o, tmp, w);
        o += w;
    }
    if (o + 1 > cap) return -1;
    out[o] = '\0';
    return (long)o;
}

long json_tok_decode(const json_doc *d, int i, char *out, size_t cap) {
    if (i < 0 || (unsigned)i >= d->ntoks) return -1;
    return json_str_decode(json_tok_ptr(d, i), json_tok_len(d, i), out, cap);
}
