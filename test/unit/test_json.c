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

int main(void) {
    json_doc_init(&doc, 256);
    RUN(test_object_lookup);
    RUN(test_rejects);
    RUN(test_nomem);
    RUN(test_decode);
    json_doc_free(&doc);
    TEST_MAIN_END();
}
