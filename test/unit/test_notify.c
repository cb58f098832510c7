#include "sources/notification.h"
#include "testlib.h"

static json_doc doc;
static char scratch[65536];
static notify_object objs[8];
static notify_result res;

static void parse(const char *body) { notify_parse(&doc, body, strlen(body), scratch, sizeof scratch, objs, 8, &res); }

static void test_cloudtrail_sns(void) {
    parse("{\"Type\" : \"Notification\",\"MessageId\" : \"908d\",\"TopicArn\" : \"arn:aws:sns:us-west-2:1:t\","
          "\"Message\" : "
          "\"{\\\"s3Bucket\\\":\\\"trail-bucket\\\",\\\"s3ObjectKey\\\":[\\\"AWSLogs/1/CloudTrail/a.json.gz\\\","
          "\\\"AWSLogs/1/CloudTrail/b c+d.json.gz\\\"]}\",\"Timestamp\" : \"2023-12-16T00:21:11.830Z\"}");
    CHECK_EQ_INT(res.kind, NOTIFY_OBJECTS);
    CHECK_EQ_STR(res.source, "cloudtrail");
    CHECK_EQ_INT(res.n, 2);
    CHECK_EQ_STR(objs[0].bucket, "trail-bucket");
    CHECK_EQ_STR(objs[0].key, "AWSLogs/1/CloudTrail/a.json.gz");
    /* CloudTrail keys are plain, not URL-encoded: '+' stays. */
    CHECK_EQ_STR(objs[1].key, "AWSLogs/1/CloudTrail/b c+d.json.gz");
}

static void test_raw_delivery(void) {
    parse("{\"s3Bucket\":\"b1\",\"s3ObjectKey\":[\"k1\"]}");
    CHECK_EQ_INT(res.kind, NOTIFY_OBJECTS);
    CHECK_EQ_INT(res.n, 1);
    CHECK_EQ_STR(objs[0].key, "k1");
}

static void test_s3_event(void) {
    parse("{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\","
          "\"s3\":{\"bucket\":{\"name\":\"mybucket\"},\"object\":{\"key\":\"AWSLogs/"
          "red+flower%2Bx%2F.json.gz\",\"size\":3}}},"
          "{\"eventName\":\"ObjectRemoved:Delete\",\"s3\":{\"bucket\":{\"name\":\"mybucket\"},\"object\":{\"key\":"
          "\"gone\"}}}]}");
    CHECK_EQ_INT(res.kind, NOTIFY_OBJECTS);
    CHECK_EQ_STR(res.source, "s3");
    CHECK_EQ_INT(res.n, 1);
    CHECK_EQ_STR(objs[0].key, "AWSLogs/red flower+x/.json.gz");
    /* The same inside SNS. */
    parse(
        "{\"Type\":\"Notification\",\"Subject\":\"Amazon S3 Notification\",\"Message\":\"{\\\"Records\\\":[{\\\"s3\\\":"
        "{\\\"bucket\\\":{\\\"name\\\":\\\"b\\\"},\\\"object\\\":{\\\"key\\\":\\\"a%20b\\\"}}}]}\"}");
    CHECK_EQ_INT(res.kind, NOTIFY_OBJECTS);
    CHECK_EQ_STR(objs[0].key, "a b");
}

static void test_eventbridge(void) {
    parse("{\"version\":\"0\",\"id\":\"1\",\"detail-type\":\"Object "
          "Created\",\"source\":\"aws.s3\",\"detail\":{\"version\":\"0\","
          "\"bucket\":{\"name\":\"eb-bucket\"},\"object\":{\"key\":\"AWSLogs/x+y.json.gz\",\"size\":5}}}");
    CHECK_EQ_INT(res.kind, NOTIFY_OBJECTS);
    CHECK_EQ_STR(res.source, "eventbridge");
    CHECK_EQ_STR(objs[0].bucket, "eb-bucket");
    CHECK_EQ_STR(objs[0].key, "AWSLogs/x+y.json.gz");
}

static void test_ignored(void) {
    parse("{\"Service\":\"Amazon "
          "S3\",\"Event\":\"s3:TestEvent\",\"Time\":\"2014-10-13T15:57:02.089Z\",\"Bucket\":\"b\"}");
    CHECK_EQ_INT(res.kind, NOTIFY_IGNORE);
    parse("{\"Type\":\"Notification\",\"Message\":\"CloudTrail validation message.\"}");
    CHECK_EQ_INT(res.kind, NOTIFY_IGNORE);
    CHECK_EQ_STR(res.source, "validation");
}

static void test_bad(void) {
    const char *bodies[] = {
        "not json",
        "[1,2]",
        "{\"hello\":1}",
        "{\"s3Bucket\":\"b\"}",
        "{\"s3Bucket\":\"b\",\"s3ObjectKey\":[1]}",
        "{\"s3Bucket\":\"b\",\"s3ObjectKey\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}",
        "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"bad%zz\"}}}]}",
        /* a NUL in a key or bucket, URL- or JSON-escaped (found by fuzz_notify: the key read as "") */
        "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"%00c\"}}}]}",
        "{\"s3Bucket\":\"b\",\"s3ObjectKey\":[\"\\u0000c\"]}",
        "{\"s3Bucket\":\"\\u0000b\",\"s3ObjectKey\":[\"k\"]}",
        "{\"Type\":\"Notification\",\"Message\":\"{\\\"Type\\\":\\\"Notification\\\",\\\"Message\\\":\\\"x\\\"}\"}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        parse(bodies[i]);
        if (res.kind != NOTIFY_BAD) fprintf(stderr, "body %zu was not rejected\n", i);
        CHECK_EQ_INT(res.kind, NOTIFY_BAD);
        CHECK_EQ_INT(res.n, 0);
        CHECK(res.why[0] != '\0');
    }
}

int main(void) {
    json_doc_init(&doc, 4096);
    RUN(test_cloudtrail_sns);
    RUN(test_raw_delivery);
    RUN(test_s3_event);
    RUN(test_eventbridge);
    RUN(test_ignored);
    RUN(test_bad);
    json_doc_free(&doc);
    TEST_MAIN_END();
}
