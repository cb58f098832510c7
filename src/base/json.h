/* JSON reading on top of jsmn (the only module that includes jsmn.h).
 * A json_doc owns a fixed token array allocated once; parsing never allocates, so one doc
 * can be reused for millions of records. Tokens carry parent links (JSMN_PARENT_LINKS):
 * without them jsmn is quadratic on long arrays. */
#ifndef CTINDEX_JSON_H
#define CTINDEX_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The values of jsmn's jsmntype_t (json.c asserts it at compile time). */
typedef enum { JSON_UNDEF = 0, JSON_OBJECT = 1, JSON_ARRAY = 2, JSON_STRING = 3, JSON_PRIMITIVE = 4 } json_type;

/* Same layout as jsmntok_t with parent links (checked in json.c). For strings, start/end
 * exclude the quotes and the bytes are still JSON-escaped. */
typedef struct json_tok {
    json_type type;
    int start;
    int end;
    int size; /* objects: number of keys; arrays: number of elements */
    int parent;
} json_tok;

typedef struct json_doc {
    const char *js;
    size_t len;
    json_tok *toks;
    unsigned ntoks; /* tokens used by the last parse */
    unsigned cap;
} json_doc;

/* JSON_EDEEP: nested so deeply for its size that jsmn would need more than linear time (see
 * json.c); CloudTrail records are shallow, so such a text is refused before it is tokenized. */
enum { JSON_OK = 0, JSON_ENOMEM = -1, JSON_EINVAL = -2, JSON_EPART = -3, JSON_ETOOBIG = -4, JSON_EDEEP = -5 };

int json_doc_init(json_doc *d, unsigned max_tokens);
void json_doc_free(json_doc *d);

/* Parse exactly one complete JSON value (surrounding whitespace allowed). Token 0 is the
 * root. Returns JSON_OK or a negative JSON_E* code; strict JSON (no bare words). The cost is
 * linear in len whatever the shape (JSON_EDEEP otherwise). */
int json_parse(json_doc *d, const char *js, size_t len);

/* Index of the first token after the subtree rooted at i (its next sibling, if any). */
int json_next(const json_doc *d, int i);
/* Value token of `key` in object `obj`, or -1. Keys are compared as raw (escaped) bytes. */
int json_obj_get(const json_doc *d, int obj, const char *key);
int json_obj_getn(const json_doc *d, int obj, const char *key, size_t keylen);
/* Follow a dotted path of object keys from `obj`: "userIdentity.sessionContext.sessionIssuer.arn". */
int json_path(const json_doc *d, int obj, const char *dotted);
/* Element `idx` of array `arr`, or -1. */
int json_array_at(const json_doc *d, int arr, int idx);

/* n bytes of a and b equal. Keys and words are short: comparing them inline, a word at a
 * time, costs less than a call to memcmp, which showed in the profile. */
static inline int json_bytes_eq(const char *a, const char *b, size_t n) {
    uint64_t x, y;
    if (n >= 8) { /* words, the last one overlapping the one before: no byte loop for the tail */
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y) return 0;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t u, v, u2, v2;
        memcpy(&u, a, 4);
        memcpy(&v, b, 4);
        memcpy(&u2, a + n - 4, 4);
        memcpy(&v2, b + n - 4, 4);
        return u == v && u2 == v2;
    }
    while (n--)
        if (*a++ != *b++) return 0;
    return 1;
}

/* Token text (raw, still escaped for strings). */
static inline const char *json_tok_ptr(const json_doc *d, int i) { return d->js + d->toks[i].start; }
static inline size_t json_tok_len(const json_doc *d, int i) { return (size_t)(d->toks[i].end - d->toks[i].start); }
/* 1 if token i is a string equal (raw bytes) to s. */
int json_tok_streq(const json_doc *d, int i, const char *s);
int json_tok_is_null(const json_doc *d, int i);
/* Boolean value: 1 true, 0 false, -1 not a boolean. */
int json_tok_bool(const json_doc *d, int i);
/* Integer value of a primitive; -1 on failure (not an integer or out of range), 0 on success. */
int json_tok_int64(const json_doc *d, int i, int64_t *out);

/* Decode the JSON escapes of a string token into out as UTF-8 (no sanitising; \u0000 is
 * decoded). NUL-terminates. Returns decoded length or -1 when it does not fit / is malformed. */
long json_str_decode(const char *in, size_t n, char *out, size_t cap);
long json_tok_decode(const json_doc *d, int i, char *out, size_t cap);

#endif
