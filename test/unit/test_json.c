#include "json.h"
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
    const char *bad[] = {"{\"a\":1", "{\"a\":tru}", "1 2", "{} x", "", "[1,]", "{\"a\":1,}", "{\"a\"}",
                         "{:\"a\":1}", "{\"a\"::1}", "{,\"a\":1}", "[1,,2]", "[1 2]", "[{}8]", "{\"a\":1 \"b\":2}",
                         "01", "1.", "1e", "-", "[-]", "[.5]", "[1x]", "[truex]", "nul", "[\"a\\x\"]", "[\"\\u12g4\"]",
                         "{\"a\":[}]}", "]", "{\"a\":1}}", "[\"a\"", "{1:2}", "[\"\\\"]", " ", "{\"a\":1}\n,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = json_parse(&doc, bad[i], strlen(bad[i]));
        CHECK(rc != JSON_OK);
        if (rc == JSON_OK) fprintf(stderr, "accepted: %s\n", bad[i]);
    }
    /* a NUL ends nothing: inside a string it is an error, not the end of the input */
    CHECK(json_parse(&doc, "[\"a\0b\"]", 7) != JSON_OK);
    CHECK(json_parse(&doc, "[1]\0", 4) != JSON_OK);
    /* truncated input says so */
    CHECK_EQ_INT(json_parse(&doc, "{\"a\":[1,2", 9), JSON_EPART);
    CHECK_EQ_INT(json_parse(&doc, "\"abc", 4), JSON_EPART);
    CHECK_EQ_INT(json_parse(&doc, "[tr", 3), JSON_EPART);
}

/* Tokens in jsmn's layout with parent links: preorder, a value's parent is its key. */
static void test_layout(void) {
    const char *js = " {\"a\":[1,\"x\",{}],\"b\":{\"c\":null},\"d\":-1.5e+3} ";
    CHECK_EQ_INT(json_parse(&doc, js, strlen(js)), JSON_OK);
    static const json_tok want[] = {
        {JSON_OBJECT, 1, 44, 3, -1, 12},   {JSON_STRING, 3, 4, 1, 0, 2},     {JSON_ARRAY, 6, 16, 3, 1, 6},
        {JSON_PRIMITIVE, 7, 8, 0, 2, 4},   {JSON_STRING, 10, 11, 0, 2, 5},   {JSON_OBJECT, 13, 15, 0, 2, 6},
        {JSON_STRING, 18, 19, 1, 0, 7},    {JSON_OBJECT, 21, 31, 1, 6, 10},  {JSON_STRING, 23, 24, 1, 7, 9},
        {JSON_PRIMITIVE, 26, 30, 0, 8, 10}, {JSON_STRING, 33, 34, 1, 0, 11}, {JSON_PRIMITIVE, 36, 43, 0, 10, 12},
    };
    CHECK_EQ_INT(doc.ntoks, sizeof want / sizeof want[0]);
    for (unsigned i = 0; i < doc.ntoks && i < sizeof want / sizeof want[0]; i++) {
        const json_tok *t = &doc.toks[i];
        int same = t->type == want[i].type && t->start == want[i].start && t->end == want[i].end &&
                   t->size == want[i].size && t->parent == want[i].parent && t->next == want[i].next;
        CHECK(same);
        if (!same)
            fprintf(stderr, "token %u: %d %d %d %d %d %d\n", i, t->type, t->start, t->end, t->size, t->parent, t->next);
    }
    /* a scalar root, raw control bytes in strings (the writers drop them), deep nesting without
     * recursion */
    CHECK_EQ_INT(json_parse(&doc, "-0", 2), JSON_OK);
    CHECK_EQ_INT(json_parse(&doc, "[\"a\tb\x01\"]", 8), JSON_OK);
    static char deep[20001];
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    json_doc big;
    json_doc_init(&big, 10001);
    CHECK_EQ_INT(json_parse(&big, deep, 20000), JSON_OK);
    CHECK_EQ_INT(big.ntoks, 10000);
    CHECK_EQ_INT(big.toks[9999].parent, 9998);
    CHECK_EQ_INT(big.toks[0].end, 20000);
    json_doc_free(&big);
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

/* next must be what walking the tokens says: the first token starting at or after the end of
 * this one's text (for a key: its value). */
static int next_is_consistent(const json_doc *d) {
    for (unsigned i = 0; i < d->ntoks; i++) {
        unsigned j = i + 1;
        int is_key = d->toks[i].type == JSON_STRING && d->toks[i].size == 1;
        if (!is_key)
            while (j < d->ntoks && d->toks[j].start < d->toks[i].end) j++;
        if ((unsigned)d->toks[i].next != j) return 0;
    }
    return 1;
}

static void test_next(void) {
    const char *docs[] = {
        "{\"a\":1,\"b\":{\"c\":\"x\\\"y\",\"d\":[1,2,{\"e\":null}]},\"f\":true}",
        "[[],[[1]],{},{\"k\":{\"k\":{\"k\":[]}}},\"s\"]",
        "{\"Records\":[{\"eventID\":\"1\",\"userIdentity\":{\"type\":\"Root\",\"sessionContext\":{\"attributes\":{}}},"
        "\"resources\":[{\"ARN\":\"a\"},{\"ARN\":\"b\"}]}]}",
        "7",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        CHECK_EQ_INT(json_parse(&doc, docs[i], strlen(docs[i])), JSON_OK);
        CHECK(next_is_consistent(&doc));
    }
}

int main(void) {
    json_doc_init(&doc, 256);
    RUN(test_object_lookup);
    RUN(test_rejects);
    RUN(test_layout);
    RUN(test_next);
    RUN(test_nomem);
    RUN(test_decode);
    json_doc_free(&doc);
    TEST_MAIN_END();
}
