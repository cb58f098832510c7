#include "base/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define JSMN_PARENT_LINKS
#define JSMN_STRICT
#define JSMN_STATIC
#include <jsmn.h>

#include "base/text.h"

/* json_parse hands d->toks to jsmn as jsmntok_t and callers read them back as json_tok: the
 * layouts and the type values must agree. Newer jsmn releases number the types as bit flags
 * (JSMN_STRING = 4, JSMN_PRIMITIVE = 8); without these checks such an upgrade would compile
 * and silently read strings as primitives. */
_Static_assert(sizeof(jsmntok_t) == sizeof(json_tok), "json_tok must mirror jsmntok_t");
_Static_assert(sizeof(jsmntype_t) == sizeof(json_type), "json_type must have jsmntype_t's size");
_Static_assert(offsetof(jsmntok_t, type) == offsetof(json_tok, type), "json_tok must mirror jsmntok_t");
_Static_assert(offsetof(jsmntok_t, start) == offsetof(json_tok, start), "json_tok must mirror jsmntok_t");
_Static_assert(offsetof(jsmntok_t, end) == offsetof(json_tok, end), "json_tok must mirror jsmntok_t");
_Static_assert(offsetof(jsmntok_t, size) == offsetof(json_tok, size), "json_tok must mirror jsmntok_t");
_Static_assert(offsetof(jsmntok_t, parent) == offsetof(json_tok, parent), "json_tok must mirror jsmntok_t");
_Static_assert((int)JSMN_UNDEFINED == (int)JSON_UNDEF, "json_type values must be jsmn's");
_Static_assert((int)JSMN_OBJECT == (int)JSON_OBJECT, "json_type values must be jsmn's");
_Static_assert((int)JSMN_ARRAY == (int)JSON_ARRAY, "json_type values must be jsmn's");
_Static_assert((int)JSMN_STRING == (int)JSON_STRING, "json_type values must be jsmn's");
_Static_assert((int)JSMN_PRIMITIVE == (int)JSON_PRIMITIVE, "json_type values must be jsmn's");

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

static int valid_number(const char *p, size_t n) {
    size_t i = 0;
    if (i < n && p[i] == '-') i++;
    if (i == n) return 0;
    if (p[i] == '0') i++;
    else if (p[i] >= '1' && p[i] <= '9')
        while (i < n && p[i] >= '0' && p[i] <= '9') i++;
    else return 0;
    if (i < n && p[i] == '.') {
        i++;
        size_t s = i;
        while (i < n && p[i] >= '0' && p[i] <= '9') i++;
        if (i == s) return 0;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-')) i++;
        size_t s = i;
        while (i < n && p[i] >= '0' && p[i] <= '9') i++;
        if (i == s) return 0;
    }
    return i == n;
}

static int valid_primitive(const char *p, size_t n) {
    return (n == 4 && memcmp(p, "true", 4) == 0) || (n == 5 && memcmp(p, "false", 5) == 0) ||
           (n == 4 && memcmp(p, "null", 4) == 0) || valid_number(p, n);
}

/* A non-empty object or array whose last member is followed by a comma: [1,] or {"a":1,}. */
static int trailing_comma(const char *js, const json_tok *t) {
    int k = t->end - 2;
    while (k > t->start && (js[k] == ' ' || js[k] == '\t' || js[k] == '\n' || js[k] == '\r')) k--;
    return js[k] == ',';
}

/* jsmn is lenient: it takes any word starting like a literal or number, and trailing commas.
 * Strict JSON matters here because documents built from it are rejected whole by the sink.
 * jsmn also takes {"a":1,"b"} and ["a":1]: every member of an object must be a key with exactly
 * one value, and nothing else may have a value, or walks that step key, value, key... run off
 * the token array. Every record pays for this walk over its ~90 tokens, so each token costs one
 * switch: a string's size must be 1 in an object and 0 elsewhere, a primitive (never in an
 * object) must be a literal or a number, a container (never in an object) must not end in a
 * comma. */
static int validate(const json_doc *d) {
    const json_tok *toks = d->toks;
    for (unsigned i = 0; i < d->ntoks; i++) {
        const json_tok *t = &toks[i];
        int in_object = t->parent >= 0 && toks[t->parent].type == JSON_OBJECT;
        switch (t->type) {
        case JSON_STRING:
            if (t->size != in_object) return -1;
            break;
        case JSON_PRIMITIVE:
            if (in_object || t->size != 0 || !valid_primitive(d->js + t->start, (size_t)(t->end - t->start))) return -1;
            break;
        case JSON_OBJECT:
        case JSON_ARRAY:
            if (in_object || (t->size > 0 && trailing_comma(d->js, t))) return -1;
            break;
        default:
            if (in_object) return -1;
        }
    }
    return 0;
}

/* ---- nesting cost ----------------------------------------------------------------------
 * jsmn closes a container by walking parent links up from the last token it made, through
 * every container closed since then. So a run of k closing brackets costs about k*k steps:
 * "[[[...]]]" nested n deep costs n*n/2, and a 2 MB record of a million levels took minutes on
 * the one loop. Before jsmn runs, that cost is bounded: a close is charged 2r+3 steps, r the
 * closes since the last token began (a key adds a step per level), and a text whose charge
 * passes JSON_NEST_STEPS_PER_BYTE per byte plus JSON_NEST_STEPS_BASE is refused. Real records
 * stay far below (a few closes after each value); a deep chain still passes in a large text. */
#define JSON_NEST_STEPS_PER_BYTE 4u
#define JSON_NEST_STEPS_BASE 65536u

/* Bytes that are '{' or '[' (ORing 0x20 maps '[' onto '{' and nothing else), strings included:
 * an upper bound of the containers. Every record pays for this pass, so it goes 64 bytes a
 * round in byte counters (summed before they can reach 256) and ends with one masked block. */
static uint64_t count_openers(const char *p, size_t n) {
    uint64_t count = 0;
    size_t i = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        static const unsigned char last_k[32] = {0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
                                                 0,    0,    0,    0,    0,    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        const __m128i lower = _mm_set1_epi8(0x20), open = _mm_set1_epi8('{'), zero = _mm_setzero_si128();
#define OPENERS_AT(q) _mm_cmpeq_epi8(_mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(q)), lower), open)
        __m128i acc = zero; /* per byte lane: hits, as 0 - (-1) each */
        int rounds = 0;
        for (; i + 64 <= n; i += 64) {
            __m128i hits = _mm_add_epi8(_mm_add_epi8(OPENERS_AT(p + i), OPENERS_AT(p + i + 16)),
                                        _mm_add_epi8(OPENERS_AT(p + i + 32), OPENERS_AT(p + i + 48)));
            acc = _mm_sub_epi8(acc, hits);
            if (++rounds == 63) { /* 63 * 4 = 252 per lane at most */
                __m128i sums = _mm_sad_epu8(acc, zero);
                count += (uint64_t)_mm_cvtsi128_si32(sums) + (uint64_t)_mm_extract_epi16(sums, 4);
                acc = zero;
                rounds = 0;
            }
        }
        for (; i + 16 <= n; i += 16) acc = _mm_sub_epi8(acc, OPENERS_AT(p + i)); /* + 3 */
        if (i < n) /* the last n - i bytes, in the block that ends at n: + 1 */
            acc = _mm_sub_epi8(acc, _mm_and_si128(OPENERS_AT(p + n - 16),
                                                  _mm_loadu_si128((const __m128i *)(const void *)(last_k + (n - i)))));
#undef OPENERS_AT
        __m128i sums = _mm_sad_epu8(acc, zero);
        return count + (uint64_t)_mm_cvtsi128_si32(sums) + (uint64_t)_mm_extract_epi16(sums, 4);
    }
#endif
    for (; i < n; i++) count += ((unsigned char)p[i] | 0x20) == '{';
    return count;
}

/* The charge of the text above, exactly as jsmn will see it (strings skipped with their
 * escapes, so brackets inside them are not counted); 0 when it stays within budget. */
static int nesting_too_costly(const char *js, size_t len, uint64_t budget) {
    uint64_t cost = 0, run = 0;
    for (size_t i = 0; i < len; i++) {
        switch (js[i]) {
        case '"':
            for (i++; i < len && js[i] != '"'; i++)
                if (js[i] == '\\') i++;
            run = 0;
            break;
        case '}':
        case ']':
            cost += 2 * run + 3;
            if (cost > budget) return 1;
            run++;
            break;
        case ' ':
        case '\t':
        case '\n':
        case '\r':
        case ',':
        case ':': break;
        default: run = 0; /* an opening bracket or a primitive: a new token */
        }
    }
    return 0;
}

/* A run of k closes is charged k*k+2k and the runs hold at most count_openers closes in all,
 * so when that count is small (every ordinary record) the exact walk is not needed. */
static int nesting_within_budget(const char *js, size_t len) {
    uint64_t budget = (uint64_t)len * JSON_NEST_STEPS_PER_BYTE + JSON_NEST_STEPS_BASE;
    if (len <= 254) return 1; /* 254 * 256 < JSON_NEST_STEPS_BASE */
    uint64_t openers = count_openers(js, len);
    if (openers * (openers + 2) <= budget) return 1;
    return !nesting_too_costly(js, len, budget);
}

int json_parse(json_doc *d, const char *js, size_t len) {
    d->js = js;
    d->len = len;
    d->ntoks = 0;
    /* jsmn keeps offsets in int. */
    if (len > (size_t)0x7fffffff) return JSON_ETOOBIG;
    if (!nesting_within_budget(js, len)) return JSON_EDEEP;
    jsmn_parser p;
    jsmn_init(&p);
    int r = jsmn_parse(&p, js, len, (jsmntok_t *)d->toks, d->cap);
    if (r == JSMN_ERROR_NOMEM) return JSON_ENOMEM;
    if (r == JSMN_ERROR_PART) return JSON_EPART;
    if (r < 0) return JSON_EINVAL;
    if (r == 0) return JSON_EPART;
    d->ntoks = (unsigned)r;
    if (validate(d) != 0) return JSON_EINVAL;
    /* Exactly one root value: jsmn happily parses "1 2" as two roots. Tokens are numbered in
     * the order they start, so every token is inside the root exactly when the last one starts
     * before the root ends (what json_next(d, 0) == ntoks says, without walking them all). */
    if (d->ntoks > 1 && d->toks[d->ntoks - 1].start >= d->toks[0].end) return JSON_EINVAL;
    for (size_t i = p.pos; i < len; i++) {
        char c = js[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return JSON_EINVAL;
    }
    return JSON_OK;
}

int json_next(const json_doc *d, int i) {
    int end = d->toks[i].end;
    int j = i + 1;
    while ((unsigned)j < d->ntoks && d->toks[j].start < end) j++;
    return j;
}

int json_obj_getn(const json_doc *d, int obj, const char *key, size_t keylen) {
    if (obj < 0 || (unsigned)obj >= d->ntoks || d->toks[obj].type != JSON_OBJECT) return -1;
    int n = d->toks[obj].size;
    int k = obj + 1;
    for (int e = 0; e < n; e++) {
        int v = k + 1;
        if (d->toks[k].type == JSON_STRING && json_tok_len(d, k) == keylen &&
            memcmp(json_tok_ptr(d, k), key, keylen) == 0)
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

long json_str_decode(const char *in, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char tmp[4];
        size_t w;
        if (in[i] != '\\') { /* a run without escapes: copied whole (raw records have one every few bytes) */
            const char *bs = memchr(in + i, '\\', n - i);
            size_t run = bs ? (size_t)(bs - (in + i)) : n - i;
            if (o + run + 1 > cap) return -1;
            memcpy(out + o, in + i, run);
            o += run;
            i += run;
            continue;
        } else {
            if (i + 1 >= n) return -1;
            char e = in[i + 1];
            i += 2;
            switch (e) {
            case '"':
                tmp[0] = '"';
                w = 1;
                break;
            case '\\':
                tmp[0] = '\\';
                w = 1;
                break;
            case '/':
                tmp[0] = '/';
                w = 1;
                break;
            case 'b':
                tmp[0] = '\b';
                w = 1;
                break;
            case 'f':
                tmp[0] = '\f';
                w = 1;
                break;
            case 'n':
                tmp[0] = '\n';
                w = 1;
                break;
            case 'r':
                tmp[0] = '\r';
                w = 1;
                break;
            case 't':
                tmp[0] = '\t';
                w = 1;
                break;
            case 'u': {
                long cp = i + 4 <= n ? text_hex4(in + i) : -1;
                if (cp < 0) return -1;
                i += 4;
                int pair = cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n && in[i] == '\\' && in[i + 1] == 'u';
                long lo = pair ? text_hex4(in + i + 2) : -1;
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
                w = text_utf8_put(tmp, (unsigned)cp); /* a lone surrogate is encoded as-is; sanitisers drop it */
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
