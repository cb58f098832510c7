#include <stdlib.h>

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
    const char *bad[] = {"{\"a\":1", "{\"a\":tru}", "1 2", "{} x", "", "[1,]"};
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

int main(void) {
    json_doc_init(&doc, 256);
    RUN(test_object_lookup);
    RUN(test_rejects);
    RUN(test_nomem);
    RUN(test_decode);
    RUN(test_deep_nesting_linear);
    json_doc_free(&doc);
    TEST_MAIN_END();
}
