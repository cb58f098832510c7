#include "pipeline/batch.h"
#include "testlib.h"

static int add(batch *b, const char *doc, void *owner) {
    size_t avail;
    char *p = batch_space(b, &avail);
    size_t n = strlen(doc);
    if (!p || n > avail) return -1;
    memcpy(p, doc, n);
    return batch_commit(b, n, owner, NULL);
}

static void test_sdf(void) {
    batch b;
    CHECK_EQ_INT(batch_init(&b, BATCH_SDF, 0, 0), 0);
    CHECK_EQ_INT(b.max_bytes, 5000000);
    int o1, o2;
    CHECK_EQ_INT(add(&b, "{\"a\":1}", &o1), 0);
    CHECK_EQ_INT(add(&b, "{\"b\":2}", &o1), 0);
    CHECK_EQ_INT(add(&b, "{\"c\":3}", &o2), 0);
    CHECK_EQ_INT(add(&b, "{\"d\":4}", &o1), 0);
    CHECK_EQ_INT(batch_count(&b), 4);
    size_t len;
    const char *doc = batch_doc(&b, 2, &len);
    CHECK(doc && len == 7 && memcmp(doc, "{\"c\":3}", 7) == 0);
    CHECK(batch_doc(&b, 4, &len) == NULL);
    uint32_t nruns;
    const batch_owner_run *runs = batch_owners(&b, &nruns);
    CHECK_EQ_INT(nruns, 3);
    CHECK(runs[0].owner == &o1 && runs[0].count == 2);
    CHECK(runs[1].owner == &o2 && runs[1].count == 1);
    CHECK(runs[2].owner == &o1 && runs[2].count == 1);
    const char *body = batch_body(&b, &len);
    const char *expect = "[{\"a\":1},{\"b\":2},{\"c\":3},{\"d\":4}]";
    CHECK(len == strlen(expect) && memcmp(body, expect, len) == 0);
    /* idempotent, and closed for new documents */
    body = batch_body(&b, &len);
    CHECK(len == strlen(expect) && memcmp(body, expect, len) == 0);
    CHECK(batch_full(&b));
    CHECK_EQ_INT(add(&b, "{}", &o1), -1);
    batch_reset(&b);
    CHECK_EQ_INT(batch_count(&b), 0);
    CHECK(!batch_full(&b));
    CHECK_EQ_INT(add(&b, "{\"e\":5}", NULL), 0);
    body = batch_body(&b, &len);
    CHECK(len == 9 && memcmp(body, "[{\"e\":5}]", 9) == 0);
    batch_free(&b);
}

static void test_sdf_limits(void) {
    batch b;
    /* 12 bytes: "[" + "]" held back, so the first doc may take 10; later docs one less (comma) */
    CHECK_EQ_INT(batch_init(&b, BATCH_SDF, 12, 0), 0);
    size_t avail;
    CHECK(batch_space(&b, &avail) != NULL);
    CHECK_EQ_INT(avail, 10);
    CHECK_EQ_INT(batch_commit(&b, 11, NULL, NULL), -1);
    CHECK_EQ_INT(batch_commit(&b, 0, NULL, NULL), -1);
    CHECK_EQ_INT(add(&b, "12345", NULL), 0);
    batch_space(&b, &avail);
    CHECK_EQ_INT(avail, 4); /* 12 - "[12345" (6) - "," - "]" */
    CHECK_EQ_INT(add(&b, "12345", NULL), -1);
    CHECK_EQ_INT(add(&b, "1234", NULL), 0);
    CHECK(batch_full(&b));
    CHECK(batch_space(&b, &avail) == NULL && avail == 0);
    size_t len;
    const char *body = batch_body(&b, &len);
    CHECK(len == 12 && memcmp(body, "[12345,1234]", 12) == 0);
    batch_free(&b);

    /* document count limit */
    CHECK_EQ_INT(batch_init(&b, BATCH_SDF, 1000, 2), 0);
    CHECK_EQ_INT(add(&b, "{}", NULL), 0);
    CHECK(!batch_full(&b));
    CHECK_EQ_INT(add(&b, "{}", NULL), 0);
    CHECK(batch_full(&b));
    CHECK_EQ_INT(add(&b, "{}", NULL), -1);
    batch_free(&b);
    CHECK_EQ_INT(batch_init(&b, 7, 1000, 2), -1);
    CHECK_EQ_INT(batch_init(&b, BATCH_SDF, (size_t)1 << 33, 2), -1);
}

static void test_bulk(void) {
    batch b;
    CHECK_EQ_INT(batch_init(&b, BATCH_BULK, 40, 0), 0);
    size_t avail;
    batch_space(&b, &avail);
    CHECK_EQ_INT(avail, 40);
    int o;
    CHECK_EQ_INT(add(&b, "{\"index\":{}}\n{\"a\":1}\n", &o), 0);
    CHECK_EQ_INT(add(&b, "{\"index\":{}}\n{\"b\":2}\n", &o), -1); /* 40 - 21 = 19 left */
    size_t len;
    const char *doc = batch_doc(&b, 0, &len);
    CHECK(len == 21 && memcmp(doc, "{\"index\":{}}\n{\"a\":1}\n", 21) == 0);
    const char *body = batch_body(&b, &len);
    CHECK(len == 21 && memcmp(body, "{\"index\":{}}\n{\"a\":1}\n", 21) == 0);
    uint32_t nruns;
    CHECK(batch_owners(&b, &nruns)[0].owner == &o && nruns == 1);
    batch_free(&b);
}

/* Each owner run carries its source, so a sink can name where a document came from. */
static void test_doc_source(void) {
    batch b;
    CHECK_EQ_INT(batch_init(&b, BATCH_SDF, 1000, 0), 0);
    int o1, o2;
    size_t avail;
    const char *docs[] = {"{\"a\":1}", "{\"a\":2}", "{\"a\":3}"};
    void *owners[] = {&o1, &o1, &o2};
    const char *sources[] = {"s3://b/one", "s3://b/one", "/tmp/two.json"};
    for (int i = 0; i < 3; i++) {
        char *space = batch_space(&b, &avail);
        size_t n = strlen(docs[i]);
        memcpy(space, docs[i], n);
        CHECK_EQ_INT(batch_commit(&b, n, owners[i], sources[i]), 0);
    }
    CHECK_EQ_STR(batch_doc_source(&b, 0), "s3://b/one");
    CHECK_EQ_STR(batch_doc_source(&b, 1), "s3://b/one");
    CHECK_EQ_STR(batch_doc_source(&b, 2), "/tmp/two.json");
    CHECK_EQ_STR(batch_doc_source(&b, 3), "?");
    {
        char *space = batch_space(&b, &avail);
        memcpy(space, "{}", 2);
        CHECK_EQ_INT(batch_commit(&b, 2, &o1, NULL), 0);
        CHECK_EQ_STR(batch_doc_source(&b, 3), "?");
    }
    batch_free(&b);
}

/* Records kept beside documents: only when asked for, per document, bounded, gone on reset. */
static void test_keep_records(void) {
    batch b;
    CHECK_EQ_INT(batch_init(&b, BATCH_SDF, 64, 0), 0);
    int o;
    CHECK_EQ_INT(add(&b, "{\"raw\":\"{\\\"a\\\":1}\"}", &o), 0);
    size_t len = 0, at = 0, rl = 0;
    CHECK_EQ_INT(batch_keep_record(&b, "{\"a\":1}", 7, 8, 9), -1); /* not asked for */
    CHECK(batch_doc_record(&b, 0, &len, &at, &rl) == NULL);
    CHECK_EQ_INT(batch_keep_records(&b), 0);
    CHECK_EQ_INT(batch_keep_records(&b), 0); /* idempotent */
    CHECK(batch_doc_record(&b, 0, &len, &at, &rl) == NULL);
    /* the document is {"raw":"{\"a\":1}"}: raw's value is at 8, 9 bytes, a quote after it */
    CHECK_EQ_INT(batch_keep_record(&b, "{\"a\":1}", 7, 8, 11), -1); /* runs to the end: no room for its quote */
    CHECK_EQ_INT(batch_keep_record(&b, "{\"a\":1}", 7, 0, 9), -1);
    CHECK_EQ_INT(batch_keep_record(&b, "{\"a\":1}", 0, 8, 9), -1);
    CHECK_EQ_INT(batch_keep_record(&b, "{\"a\":1}", 7, 8, 9), 0);
    const char *r = batch_doc_record(&b, 0, &len, &at, &rl);
    CHECK(r && len == 7 && memcmp(r, "{\"a\":1}", 7) == 0 && at == 8 && rl == 9);
    size_t dl;
    const char *doc = batch_doc(&b, 0, &dl);
    CHECK(doc[at - 1] == '"' && doc[at + rl] == '"');
    CHECK_EQ_INT(add(&b, "{\"b\":2}", &o), 0); /* a document without one */
    CHECK(batch_doc_record(&b, 1, &len, &at, &rl) == NULL);
    CHECK(batch_doc_record(&b, 2, &len, &at, &rl) == NULL);
    /* the room: max_bytes of records in all, more is refused */
    static char big[80];
    memset(big, 'x', sizeof big);
    CHECK_EQ_INT(batch_keep_record(&b, big, 57, 1, 2), 0);
    CHECK_EQ_INT(batch_keep_record(&b, big, 1, 1, 2), -1);
    CHECK(batch_doc_record(&b, 1, &len, &at, &rl) != NULL && len == 57);
    batch_reset(&b);
    CHECK_EQ_INT(add(&b, "{\"raw\":\"{\\\"a\\\":1}\"}", &o), 0);
    CHECK(batch_doc_record(&b, 0, &len, &at, &rl) == NULL); /* not carried over */
    CHECK_EQ_INT(batch_keep_record(&b, big, 64, 8, 9), 0);  /* the whole room again */
    batch_free(&b);
}

int main(void) {
    RUN(test_sdf);
    RUN(test_keep_records);
    RUN(test_doc_source);
    RUN(test_sdf_limits);
    RUN(test_bulk);
    TEST_MAIN_END();
}
