/* enqueue_body: the notification `ctindex replay --enqueue` sends must be ASCII and must read back,
 * through the parser `ctindex run` uses, as exactly the bucket and key it names. */
#include "sources/enqueue.h"
#include "sources/notification.h"
#include "testlib.h"

static void round_trip(const char *bucket, const char *key) {
    char body[ENQUEUE_MAX_BODY];
    long n = enqueue_body(bucket, key, body, sizeof body);
    CHECK(n > 0);
    if (n <= 0) return;
    for (long i = 0; i < n; i++) CHECK((unsigned char)body[i] >= 0x20 && (unsigned char)body[i] < 0x7f);
    static json_doc doc;
    if (!doc.toks) json_doc_init(&doc, 1024);
    static char scratch[ENQUEUE_MAX_BODY];
    notify_object objs[2];
    notify_result r;
    notify_parse(&doc, body, (size_t)n, scratch, sizeof scratch, objs, 2, &r);
    CHECK_EQ_INT(r.kind, NOTIFY_OBJECTS);
    CHECK_EQ_INT(r.n, 1);
    if (r.n == 1) {
        CHECK_EQ_STR(objs[0].bucket, bucket);
        CHECK_EQ_STR(objs[0].key, key);
    }
}

static void test_bodies(void) {
    char body[256];
    long n = enqueue_body("trail", "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/f.json.gz", body, sizeof body);
    CHECK(n > 0);
    body[n > 0 ? n : 0] = '\0';
    CHECK_EQ_STR(body, "{\"s3Bucket\":\"trail\",\"s3ObjectKey\":"
                       "[\"AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/f.json.gz\"]}");
    round_trip("trail", "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/f.json.gz");
    round_trip("my.bucket", "with \"quotes\" and \\back\\slashes/x.json.gz");
    round_trip("b-1", "ctl\x01\x1f\x7f tab\there.json.gz");
    round_trip("b-1", "caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80/\xef\xbf\xbe.json.gz"); /* é € 😀 U+FFFE */
    round_trip("b-1", "plus+and%25percent space.json.gz");
}

static void test_refused(void) {
    char body[64];
    CHECK_EQ_INT(enqueue_body("trail",
                              "bad\xff"
                              "utf8",
                              body, sizeof body),
                 -1);
    CHECK_EQ_INT(enqueue_body("trail", "lone\xed\xa0\x80surrogate", body, sizeof body), -1);
    CHECK_EQ_INT(enqueue_body("trail", "a-key-too-long-for-this-small-buffer-of-64-bytes.json.gz", body, sizeof body),
                 -1);
    /* the largest key fits the documented bound even when every byte is escaped */
    static char key[1025], big[ENQUEUE_MAX_BODY];
    memset(key, 1, 1024);
    key[1024] = '\0';
    CHECK(enqueue_body("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc", key, big, sizeof big) > 0);
}

int main(void) {
    RUN(test_bodies);
    RUN(test_refused);
    TEST_MAIN_END();
}
