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

/* Writes doc at batch_space and commits it with k (the record, where raw is, its field list). */
static int add_kept(batch *b, const char *doc, const batch_kept *k) {
    size_t avail;
    char *p = batch_space(b, &avail);
    size_t n = strlen(doc);
    if (!p || n > avail) return -1;
    memcpy(p, doc, n);
    return batch_commit_kept(b, n, NULL, NULL, k);
}

/* Records kept beside documents: only when asked for, per document, bounded, gone on reset; all
 * or nothing with their document. */
static void test_keep_records(void) {
    batch b;
    CHECK_EQ_INT(batch_init(&b, BATCH_SDF, 64, 0), 0);
    const char *d1 = "{\"raw\":\"{\\\"a\\\":1}\"}";
    size_t len = 0, at = 0, rl = 0;
    batch_kept k = {"{\"a\":1}", 7, 8, 9, 0, 0};
    CHECK_EQ_INT(add_kept(&b, d1, &k), -1); /* not asked for */
    CHECK_EQ_INT(batch_count(&b), 0);
    CHECK_EQ_INT(batch_keep_records(&b), 0);
    CHECK_EQ_INT(batch_keep_records(&b), 0); /* idempotent */
    /* the document is {"raw":"{\"a\":1}"}: raw's value is at 8, 9 bytes, a quote after it */
    batch_kept bad[] = {{"{\"a\":1}", 7, 8, 11, 0, 0}, /* runs to the end: no room for its quote */
                        {"{\"a\":1}", 7, 0, 9, 0, 0},  {"{\"a\":1}", 0, 8, 9, 0, 0},
                        {"{\"a\":1}", 7, 8, 9, 0, 1},  /* a field list never written */
                        {"{\"a\":1}", 7, 8, 9, 11, 0}, /* left out, yet raw_len > 0 */
                        {NULL, 0, 8, 0, 11, 0}};       /* left out without its record */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t room;
        batch_field_space(&b, &room);
        if (bad[i].nfields) bad[i].nfields = room + 1;
        CHECK_EQ_INT(add_kept(&b, d1, &bad[i]), -1);
        CHECK_EQ_INT(batch_count(&b), 0); /* nothing committed */
    }
    CHECK_EQ_INT(add_kept(&b, d1, &k), 0);
    const char *r = batch_doc_record(&b, 0, &len, &at, &rl);
    CHECK(r && len == 7 && memcmp(r, "{\"a\":1}", 7) == 0 && at == 8 && rl == 9);
    CHECK_EQ_INT(batch_doc_unwritten(&b, 0), 0);
    size_t dl;
    const char *doc = batch_doc(&b, 0, &dl);
    CHECK(doc[at - 1] == '"' && doc[at + rl] == '"');
    batch_kept none = {0};
    CHECK_EQ_INT(add_kept(&b, "{\"b\":2}", &none), 0); /* a document without one */
    CHECK(batch_doc_record(&b, 1, &len, &at, &rl) == NULL);
    CHECK(batch_doc_record(&b, 2, &len, &at, &rl) == NULL);
    /* the room: max_bytes of records in all, more is refused */
    static char big[80];
    memset(big, 'x', sizeof big);
    batch_kept kb = {big, 57, 1, 2, 0, 0};
    CHECK_EQ_INT(add_kept(&b, "{\"\"}", &kb), 0);
    kb.rec_len = 1;
    CHECK_EQ_INT(add_kept(&b, "{\"\"}", &kb), -1);
    CHECK(batch_doc_record(&b, 2, &len, &at, &rl) != NULL && len == 57);
    batch_reset(&b);
    CHECK_EQ_INT(add_kept(&b, "{\"x\":1}", &none), 0);
    CHECK(batch_doc_record(&b, 0, &len, &at, &rl) == NULL); /* not carried over */
    kb.rec_len = 64;
    CHECK_EQ_INT(add_kept(&b, "{\"\"}", &kb), 0); /* the whole room again */
    batch_free(&b);
}

/* raw left out of a document: its escaped bytes count as used, batch_doc_whole puts it back, the
 * field list is the document's, and a reset forgets both. */
static void test_unwritten_raw(void) {
    batch b;
    CHECK_EQ_INT(batch_init(&b, BATCH_SDF, 64, 0), 0);
    CHECK_EQ_INT(batch_keep_records(&b), 0);
    size_t cap;
    batch_field *fl = batch_field_space(&b, &cap);
    CHECK(fl != NULL && cap == 64 / 16);
    /* {"n":"v","raw":""} for the record {"a":"b"}: raw's value at 16, 12 bytes escaped */
    const char *rec = "{\"a\":\"b\"}";
    fl[0] = (batch_field){6, 1, 3, BATCH_FIELD_STRING | BATCH_FIELD_PLAIN, 0};
    fl[1] = (batch_field){16, 0, 4, BATCH_FIELD_STRING | BATCH_FIELD_KEPT, 0};
    batch_kept k = {rec, 9, 16, 0, 13, 2};
    size_t before;
    batch_space(&b, &before);
    CHECK_EQ_INT(add_kept(&b, "{\"n\":\"v\",\"raw\":\"\"}", &k), 0);
    size_t after;
    batch_space(&b, &after);
    CHECK_EQ_INT(before - after, 18 + 13 + 1); /* the document, raw's bytes and a separator */
    CHECK_EQ_INT(batch_doc_unwritten(&b, 0), 1);
    size_t n;
    const batch_field *got = batch_doc_fields(&b, 0, &n);
    CHECK(got && n == 2 && got[1].at == 16 && (got[1].flags & BATCH_FIELD_KEPT) && got[0].fid == 3);
    batch_field_space(&b, &cap);
    CHECK_EQ_INT(cap, 2);
    char whole[64];
    CHECK_EQ_INT(batch_doc_whole_len(&b, 0), 31);
    CHECK_EQ_INT(batch_doc_whole(&b, 0, whole, 30), 0); /* too small */
    size_t w = batch_doc_whole(&b, 0, whole, sizeof whole);
    CHECK(w == 31 && memcmp(whole, "{\"n\":\"v\",\"raw\":\"{\\\"a\\\":\\\"b\\\"}\"}", 31) == 0);
    /* more than the room, counting what was left out: refused whole */
    batch_kept k2 = {rec, 9, 16, 0, 20, 0};
    CHECK_EQ_INT(add_kept(&b, "{\"n\":\"v\",\"raw\":\"\"}", &k2), -1);
    CHECK_EQ_INT(batch_count(&b), 1);
    batch_kept plain = {0};
    CHECK_EQ_INT(add_kept(&b, "{\"x\":1}", &plain), 0); /* copied as it is */
    CHECK(batch_doc_fields(&b, 1, &n) == NULL && n == 0);
    CHECK(batch_doc_whole(&b, 1, whole, sizeof whole) == 7 && memcmp(whole, "{\"x\":1}", 7) == 0);
    batch_reset(&b);
    batch_space(&b, &after);
    CHECK_EQ_INT(after, 62);
    batch_field_space(&b, &cap);
    CHECK_EQ_INT(cap, 4);
    batch_free(&b);
}

int main(void) {
    RUN(test_sdf);
    RUN(test_keep_records);
    RUN(test_unwritten_raw);
    RUN(test_doc_source);
    RUN(test_sdf_limits);
    RUN(test_bulk);
    TEST_MAIN_END();
}
