#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fuzz_check.h"
#include "base/json.h"
#include "testlib.h"

static json_doc doc;

static void test_object_lookup(void) {
    const char *js = "{\"a\":1,\"b\":{\"c\":\"x\\\"y\",\"d\":[1,2,{\"e\":null}]},\"f\":true}";
    CHECK_EQ_INT(json_parse(&doc, js, strlen(js)), JSON_OK);
    int b = json_obj_get(&doc, 0, "b");
    CHECK(b > 0 && doc.toks[b].type == JSON_OBJECT);
    int c = json_path(&doc, 0, "b.c");
    CHECK(c > 0);
    char out[16];
    CHECK_EQ_INT(json_tok_decode(&doc, c, out, sizeof out), 3);
    CHECK_EQ_STR(out, "x\"y");
    int d = json_path(&doc, 0, "b.d");
    CHECK_EQ_INT(doc.toks[d].size, 3);
    int e = json_obj_get(&doc, json_array_at(&doc, d, 2), "e");
    CHECK(json_tok_is_null(&doc, e));
    CHECK_EQ_INT(json_tok_bool(&doc, json_obj_get(&doc, 0, "f")), 1);
    int64_t v = 0;
    CHECK_EQ_INT(json_tok_int64(&doc, json_obj_get(&doc, 0, "a"), &v), 0);
    CHECK_EQ_INT(v, 1);
    CHECK_EQ_INT(json_obj_get(&doc, 0, "zz"), -1);
    CHECK_EQ_INT(json_path(&doc, 0, "b.c.x"), -1);
}

static void test_rejects(void) {
    /* second roots right after the first one ends: {}[] and [0]0 */
    const char *bad[] = {"{\"a\":1", "{\"a\":tru}", "1 2", "{} x", "", "[1,]", "{}[]", "[]{}", "[0]0 ", "\"a\"\"b\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(json_parse(&doc, bad[i], strlen(bad[i])) != JSON_OK);
}

static void test_nomem(void) {
    json_doc small;
    json_doc_init(&small, 3);
    CHECK_EQ_INT(json_parse(&small, "[1,2,3,4]", 9), JSON_ENOMEM);
    json_doc_free(&small);
}

static void test_decode(void) {
    char out[32];
    CHECK_EQ_INT(json_str_decode("\\u00e9\\ud83d\\ude00", 18, out, sizeof out), 6);
    CHECK(memcmp(out, "\xc3\xa9\xf0\x9f\x98\x80", 6) == 0);
    CHECK_EQ_INT(json_str_decode("abc\\q", 5, out, sizeof out), -1);
    CHECK_EQ_INT(json_str_decode("abcdef", 6, out, 6), -1); /* no room for NUL */
    int64_t v;
    json_parse(&doc, "[9223372036854775807,-9223372036854775808,9223372036854775808,1.5]", 66);
    CHECK_EQ_INT(json_tok_int64(&doc, 1, &v), 0);
    CHECK(v == INT64_MAX);
    CHECK_EQ_INT(json_tok_int64(&doc, 2, &v), 0);
    CHECK(v == INT64_MIN);
    CHECK_EQ_INT(json_tok_int64(&doc, 3, &v), -1);
    CHECK_EQ_INT(json_tok_int64(&doc, 4, &v), -1);
}

/* text = prefix, then `reps` times: `depth` x open, leaf, `depth` x close (comma-separated),
 * then suffix. obj: {"k": levels instead of [ levels. */
static size_t nested(char *out, const char *prefix, int reps, int depth, int obj, const char *suffix) {
    size_t n = (size_t)sprintf(out, "%s", prefix);
    for (int r = 0; r < reps; r++) {
        if (r) out[n++] = ',';
        for (int i = 0; i < depth; i++) n += (size_t)sprintf(out + n, "%s", obj ? "{\"k\":" : "[");
        out[n++] = '1';
        for (int i = 0; i < depth; i++) out[n++] = obj ? '}' : ']';
    }
    n += (size_t)sprintf(out + n, "%s", suffix);
    return n;
}

/* jsmn walks parent links on every close, so nesting is quadratic there. Texts whose nesting
 * would cost more than linear time are refused before jsmn sees them; before that check, the
 * first one here took about 17 minutes of CPU (the test would hit its timeout). Ordinary
 * nesting, even a deep chain in a text of ordinary size, is still parsed, and jsmn's steps for
 * what is parsed (counted from the tokens) stay within 4 a byte. */
static void test_deep_nesting_linear(void) {
    size_t cap = 7u << 20;
    char *text = malloc(cap);
    json_doc big;
    CHECK_EQ_INT(json_doc_init(&big, 3u << 20), JSON_OK);
    /* a million levels (2 MB, under the default record limit) and a third as many objects */
    size_t n = nested(text, "{\"a\":", 1, 1000000, 0, "}");
    CHECK_EQ_INT(json_parse(&big, text, n), JSON_EDEEP);
    n = nested(text, "{\"a\":", 1, 350000, 1, "}");
    CHECK_EQ_INT(json_parse(&big, text, n), JSON_EDEEP);
    /* 2 MB of 64-level runs, and of 8-level runs: each costs 8 to 40 steps per byte in jsmn */
    n = nested(text, "[", 16000, 64, 0, "]");
    CHECK_EQ_INT(json_parse(&big, text, n), JSON_EDEEP);
    n = nested(text, "[", 120000, 8, 0, "]");
    CHECK_EQ_INT(json_parse(&big, text, n), JSON_EDEEP);
    /* 2 MB of 4-level runs costs about what a flat array does: parsed */
    n = nested(text, "[", 200000, 4, 0, "]");
    CHECK_EQ_INT(json_parse(&big, text, n), JSON_OK);
    CHECK_EQ_INT(big.ntoks, 1 + 200000 * 5);
    CHECK(fuzz_jsmn_close_steps(&big) <= FUZZ_JSMN_STEPS_MAX(n));
    /* a chain 200 levels deep in a small record, and 100 deep objects: parsed */
    n = nested(text, "{\"eventID\":\"x\",\"a\":", 1, 200, 0, "}");
    CHECK_EQ_INT(json_parse(&big, text, n), JSON_OK);
    /* level k (depth k+1) climbs from the leaf at depth 202: 202-k steps; the root 203 */
    CHECK_EQ_INT(fuzz_jsmn_close_steps(&big), 200 * 202 - 200 * 201 / 2 + 203);
    CHECK(fuzz_jsmn_close_steps(&big) <= FUZZ_JSMN_STEPS_MAX(n));
    n = nested(text, "{\"eventID\":\"x\",\"a\":", 1, 100, 1, "}");
    CHECK_EQ_INT(json_parse(&big, text, n), JSON_OK);
    CHECK_EQ_INT(big.ntoks, 4 + 100 * 2 + 1);
    CHECK(fuzz_jsmn_close_steps(&big) <= FUZZ_JSMN_STEPS_MAX(n));
    /* brackets inside strings cost nothing: a million of them, and 100k empty arrays side by side */
    n = (size_t)sprintf(text, "{\"s\":\"");
    memset(text + n, '[', 1000000);
    n += 1000000;
    n += (size_t)sprintf(text + n, "\\\"]]\",\"t\":[");
    for (int i = 0; i < 100000; i++) n += (size_t)sprintf(text + n, "%s[]", i ? "," : "");
    n += (size_t)sprintf(text + n, "]}");
    CHECK_EQ_INT(json_parse(&big, text, n), JSON_OK);
    CHECK_EQ_INT(big.ntoks, 5 + 100000);
    CHECK(fuzz_jsmn_close_steps(&big) <= FUZZ_JSMN_STEPS_MAX(n));
    json_doc_free(&big);
    free(text);
}

/* ---- the strictness pass against the way it was first written ------------------------------
 * json.c's checks after jsmn (one switch per token, and an O(1) test for a second root) must
 * accept exactly what the first, plainer version accepted: that version is kept here as the
 * reference, run on the tokens json_parse leaves behind (jsmn's tokens stay in d->toks when the
 * checks refuse them). Its numbers are judged by RFC 8259's grammar as a POSIX regular
 * expression, not by a copy of json.c's number scanner, so that part is checked too. */
static int ref_valid_number(const char *p, size_t n) {
    static regex_t re;
    static int compiled;
    if (!compiled) {
        CHECK_EQ_INT(regcomp(&re, "^-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][+-]?[0-9]+)?$", REG_EXTENDED | REG_NOSUB), 0);
        compiled = 1;
    }
    char *z = malloc(n + 1);
    CHECK(z != NULL);
    memcpy(z, p, n);
    z[n] = '\0';
    int ok = memchr(p, '\0', n) == NULL && regexec(&re, z, 0, NULL, 0) == 0;
    free(z);
    return ok;
}

static int ref_validate(const json_doc *d) {
    for (unsigned i = 0; i < d->ntoks; i++) {
        const json_tok *t = &d->toks[i];
        const char *p = d->js + t->start;
        size_t n = (size_t)(t->end - t->start);
        int in_object = t->parent >= 0 && d->toks[t->parent].type == JSON_OBJECT;
        if (in_object ? (t->type != JSON_STRING || t->size != 1)
                      : ((t->type == JSON_STRING || t->type == JSON_PRIMITIVE) && t->size != 0))
            return -1;
        if (t->type == JSON_PRIMITIVE) {
            if (!((n == 4 && memcmp(p, "true", 4) == 0) || (n == 5 && memcmp(p, "false", 5) == 0) ||
                  (n == 4 && memcmp(p, "null", 4) == 0) || ref_valid_number(p, n)))
                return -1;
        } else if ((t->type == JSON_OBJECT || t->type == JSON_ARRAY) && t->size > 0) {
            int k = t->end - 2;
            while (k > t->start && (d->js[k] == ' ' || d->js[k] == '\t' || d->js[k] == '\n' || d->js[k] == '\r')) k--;
            if (d->js[k] == ',') return -1;
        }
    }
    return 0;
}

/* What json_parse answered, as the reference would have: JSON_OK only when jsmn made tokens
 * that pass ref_validate and form one root. (The texts below hold no NUL byte, so jsmn reads
 * them to their end and json_parse's check for bytes after the root has nothing to find.) */
static int ref_accepts(const json_doc *d) {
    return d->ntoks > 0 && ref_validate(d) == 0 && (unsigned)json_next(d, 0) == d->ntoks;
}

static uint64_t diff_rng = 0x243f6a8885a308d3ull;
static unsigned diff_next(unsigned bound) {
    diff_rng ^= diff_rng << 13;
    diff_rng ^= diff_rng >> 7;
    diff_rng ^= diff_rng << 17;
    return (unsigned)((diff_rng >> 11) % bound);
}

static const char *const diff_scalars[] = {"\"a\"", "\"\"", "1",  "-0", "1.5e+3", "true", "false",
                                           "null",  "01",   "1.", "-",  "tru",    "nul",  "x"};

/* Appends a random JSON value (scalars include a few words that only look like JSON). */
static void diff_value(char *out, size_t *n, size_t cap, int depth) {
    unsigned kind = depth > 3 ? 2 : diff_next(5);
    if (kind >= 2 || *n + 40 > cap) {
        const char *v = diff_scalars[diff_next(kind >= 4 ? 14 : 8)];
        size_t m = strlen(v);
        if (*n + m < cap) memcpy(out + *n, v, m), *n += m;
        return;
    }
    out[(*n)++] = kind == 0 ? '{' : '[';
    unsigned members = diff_next(4);
    for (unsigned i = 0; i < members && *n + 40 < cap; i++) {
        if (i) out[(*n)++] = ',';
        if (diff_next(3) == 0) out[(*n)++] = ' ';
        if (kind == 0) {
            memcpy(out + *n, "\"k\":", 4);
            *n += 4;
        }
        diff_value(out, n, cap, depth + 1);
    }
    out[(*n)++] = kind == 0 ? '}' : ']';
}

static void test_strict_differential(void) {
    /* Random values, half of them then broken by one edit: a byte dropped, or one of the bytes
     * the checks care about put in (keys without values, values without keys, trailing commas,
     * second roots, words that look like literals). */
    static const char edits[] = "{}[]\":, 1tnx";
    char text[512];
    unsigned ok = 0, refused = 0, mismatches = 0;
    for (int round = 0; round < 300000; round++) {
        size_t n = 0;
        diff_value(text, &n, sizeof text - 8, 0);
        if (diff_next(2)) {
            size_t at = diff_next((unsigned)n + 1);
            if (diff_next(2) && at < n) {
                memmove(text + at, text + at + 1, n - at - 1);
                n--;
            } else {
                memmove(text + at + 1, text + at, n - at);
                text[at] = edits[diff_next(sizeof edits - 1)];
                n++;
            }
        }
        int r = json_parse(&doc, text, n);
        int want = ref_accepts(&doc);
        if ((r == JSON_OK) != want && mismatches++ < 5)
            fprintf(stderr, "strictness differs on '%.*s': %d, reference %d\n", (int)n, text, r, want);
        if (r == JSON_OK) ok++;
        else refused++;
    }
    CHECK_EQ_INT(mismatches, 0);
    /* The generator must reach both answers often, or the comparison proves little. */
    CHECK(ok > 30000);
    CHECK(refused > 30000);
    fprintf(stderr, "strictness: %u accepted, %u refused, as the reference\n", ok, refused);
}

/* json_bytes_eq against memcmp: every length to 40, equal and with one byte changed anywhere. */
static void test_bytes_eq(void) {
    char a[48], b[48];
    for (int i = 0; i < 48; i++) a[i] = b[i] = (char)('a' + i % 26);
    for (size_t n = 0; n <= 40; n++) {
        CHECK_EQ_INT(json_bytes_eq(a, b, n), 1);
        for (size_t k = 0; k < n; k++) {
            b[k] ^= 0x20;
            CHECK_EQ_INT(json_bytes_eq(a, b, n), 0);
            CHECK_EQ_INT(json_bytes_eq(a + 1, b + 1, n), k == 0); /* unaligned; the change at k only */
            b[k] ^= 0x20;
        }
    }
}

int main(void) {
    json_doc_init(&doc, 256);
    RUN(test_bytes_eq);
    RUN(test_object_lookup);
    RUN(test_rejects);
    RUN(test_nomem);
    RUN(test_decode);
    RUN(test_deep_nesting_linear);
    RUN(test_strict_differential);
    json_doc_free(&doc);
    TEST_MAIN_END();
}
