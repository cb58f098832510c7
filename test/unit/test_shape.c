/* shape: what an element is, by its keys in any order, and the records it holds, byte for byte. */
#include <stdint.h>

#include "pipeline/shape.h"
#include "testlib.h"

static char scratch[1 << 20];

typedef struct read_out {
    shape_kind kind;
    char why[600];
    char recs[8192]; /* records as lines, bad parts as "BAD offset len: why" lines */
    size_t len;
    int nrec, nbad;
} read_out;

/* Looks at v and reads every record, each one twice (the second time from a copy of the cursor,
 * as ingest does when the indexer was busy): both reads must agree. */
static void read_all(const char *v, int vouched, read_out *o) {
    memset(o, 0, sizeof *o);
    size_t n = strlen(v);
    shape_cursor c;
    o->kind = shape_look(&c, v, n, vouched, scratch, sizeof scratch, o->why, sizeof o->why);
    for (int guard = 0; guard < 1000; guard++) {
        shape_cursor before = c;
        shape_part a, b;
        int r = shape_next(&c, v, n, scratch, sizeof scratch, &a);
        char first[4096];
        size_t alen = r != SHAPE_END ? a.len : 0;
        if (alen > sizeof first) alen = sizeof first;
        memcpy(first, a.data ? a.data : "", r != SHAPE_END ? alen : 0);
        shape_cursor again = before;
        int r2 = shape_next(&again, v, n, scratch, sizeof scratch, &b);
        CHECK_EQ_INT(r2, r);
        CHECK(r == SHAPE_END || (b.len == a.len && memcmp(b.data, first, alen) == 0));
        CHECK(again.kind == c.kind && again.in_string == c.in_string && again.next == c.next && again.index == c.index);
        if (r == SHAPE_END) break;
        int w;
        if (r == SHAPE_REC) {
            o->nrec++;
            w = snprintf(o->recs + o->len, sizeof o->recs - o->len, "%.*s\n", (int)a.len, a.data);
        } else {
            o->nbad++;
            CHECK(a.data >= v && a.data + a.len <= v + n && a.offset == (uint64_t)(a.data - v) && a.why[0]);
            w = snprintf(o->recs + o->len, sizeof o->recs - o->len, "BAD %llu %zu: %s\n", (unsigned long long)a.offset,
                         a.len, a.why);
        }
        if (w > 0 && (size_t)w < sizeof o->recs - o->len) o->len += (size_t)w;
    }
}

#define REC "{\"eventVersion\":\"1.08\",\"eventID\":\"e1\",\"x\":\"}]\\\"\"}"
#define REC_ESC "{\\\"eventVersion\\\":\\\"1.08\\\",\\\"eventID\\\":\\\"e1\\\",\\\"x\\\":\\\"}]\\\\\\\"\\\"}"

static void test_records(void) {
    read_out o;
    CHECK(shape_is_plain_record(REC, strlen(REC)));
    read_all(REC, 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_RECORD);
    CHECK_EQ_STR(o.recs, REC "\n");
    /* not first, with whitespace: still a record, by eventID or eventTime */
    read_all(" { \"eventTime\" : \"2024-05-01T00:00:00Z\", \"eventName\":\"X\" } ", 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_RECORD);
    CHECK_EQ_INT(o.nrec, 1);
    /* an object of no kind: a record only where CloudTrail vouches for it (in Records) */
    read_all("{\"name\":\"pkg\",\"version\":\"1.0\"}", 1, &o);
    CHECK_EQ_INT(o.kind, SHAPE_RECORD);
    read_all("{\"name\":\"pkg\",\"version\":\"1.0\"}", 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_UNKNOWN);
    CHECK(strstr(o.why, "an object with keys \"name\", \"version\"") != NULL);
    CHECK_EQ_INT(o.nrec, 0);
    read_all("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7}", 0, &o);
    CHECK(strstr(o.why, "\"f\", ...") != NULL);
    read_all("{\"a\":[1}", 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_UNKNOWN);
    CHECK(strstr(o.why, "not valid JSON") != NULL);
    read_all("{\"digestStartTime\":\"x\",\"logFiles\":[]}", 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_DIGEST);
    CHECK_EQ_INT(o.nrec, 0);
}

static void test_eventbridge(void) {
    read_out o;
    /* detail before detail-type: key order does not matter */
    read_all("{\"version\":\"0\",\"id\":\"1\",\"detail\":" REC
             ",\"source\":\"aws.s3\",\"detail-type\":\"AWS API Call via "
             "CloudTrail\",\"resources\":[]}",
             0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_EVENTBRIDGE);
    CHECK_EQ_STR(o.recs, REC "\n");
    read_all("{\"detail-type\":\"EC2 Instance State-change Notification\",\"detail\":{\"state\":\"running\"}}", 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_UNKNOWN);
    CHECK(strstr(o.why, "\"EC2 Instance State-change Notification\", not from CloudTrail") != NULL);
}

static void test_lookup_events(void) {
    read_out o;
    read_all("{\"EventId\":\"e1\",\"EventName\":\"GetObject\",\"CloudTrailEvent\":\"" REC_ESC "\",\"Resources\":[]}", 0,
             &o);
    CHECK_EQ_INT(o.kind, SHAPE_LOOKUP_EVENT);
    CHECK_EQ_STR(o.recs, REC "\n");
    read_all("{\"EventId\":\"e1\",\"CloudTrailEvent\":\"not json\"}", 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_LOOKUP_EVENT);
    CHECK_EQ_INT(o.nbad, 1);
    CHECK(strstr(o.recs, "BAD 0 ") && strstr(o.recs, "CloudTrailEvent of a lookup-events entry is text"));
}

static void test_cloudwatch(void) {
    read_out o;
    /* messageType last, a bad message between two records, an EventBridge event in a message */
    const char *v =
        "{\"owner\":\"1\",\"logGroup\":\"g\",\"logStream\":\"s\",\"subscriptionFilters\":[\"f\"],\"logEvents\":["
        "{\"id\":\"1\",\"timestamp\":1,\"message\":\"" REC_ESC "\"},"
        " {\"id\":\"2\",\"timestamp\":2,\"message\":\"CWL says hello\"} ,"
        "{\"message\":\"{\\\"detail-type\\\":\\\"x\\\",\\\"detail\\\":{\\\"eventID\\\":\\\"e2\\\"}}\",\"id\":\"3\"}],"
        "\"messageType\":\"DATA_MESSAGE\"}";
    read_all(v, 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_CWL_DATA);
    CHECK_EQ_INT(o.nrec, 2);
    CHECK_EQ_INT(o.nbad, 1);
    const char *bad = "{\"id\":\"2\",\"timestamp\":2,\"message\":\"CWL says hello\"}";
    char want_bad[300];
    snprintf(want_bad, sizeof want_bad,
             "BAD %zu %zu: the message of log event 1 of a CloudWatch Logs payload is text that is not a JSON object "
             "('CWL says hello')\n",
             (size_t)(strstr(v, bad) - v), strlen(bad));
    CHECK(strstr(o.recs, want_bad) != NULL);
    CHECK(strncmp(o.recs, REC "\n", strlen(REC) + 1) == 0);
    CHECK(strstr(o.recs, "\n{\"eventID\":\"e2\"}\n") != NULL);
    read_all("{\"messageType\":\"CONTROL_MESSAGE\",\"logEvents\":[{\"id\":\"\",\"timestamp\":1,\"message\":\"CWL "
             "CONTROL MESSAGE: Checking health of destination Firehose.\"}]}",
             0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_CWL_CONTROL);
    CHECK_EQ_INT(o.nrec + o.nbad, 0);
    read_all("{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[]}", 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_CWL_DATA);
    CHECK_EQ_INT(o.nrec + o.nbad, 0);
    read_all("{\"messageType\":\"OTHER\",\"logEvents\":[]}", 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_UNKNOWN);
    /* a log event without a message, and one that is not an object */
    read_all("{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[{\"id\":\"1\"},7]}", 0, &o);
    CHECK_EQ_INT(o.nbad, 2);
}

static void test_strings(void) {
    read_out o;
    read_all("\"" REC_ESC "\"", 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_RECORD);
    CHECK_EQ_STR(o.recs, REC "\n");
    /* escapes of every kind, a surrogate pair, and surrounding whitespace in the text */
    read_all("\" {\\\"eventID\\\":\\\"\\u00e9\\ud83d\\ude00\\/\\t\\\"}\\n\"", 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_RECORD);
    CHECK_EQ_STR(o.recs, "{\"eventID\":\"\xc3\xa9\xf0\x9f\x98\x80/\t\"}\n");
    read_all("\"{\\\"detail-type\\\":\\\"x\\\",\\\"detail\\\":" REC_ESC "}\"", 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_EVENTBRIDGE);
    CHECK_EQ_STR(o.recs, REC "\n");
    read_all("\"not a record\"", 1, &o);
    CHECK_EQ_INT(o.kind, SHAPE_UNKNOWN);
    CHECK(strstr(o.why, "a string holding text that is not a JSON object ('not a record')") != NULL);
    read_all("\"{\\\"eventID\\\":1} {}\"", 0, &o); /* two values in one string */
    CHECK_EQ_INT(o.kind, SHAPE_UNKNOWN);
    read_all("\"\\x\"", 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_UNKNOWN);
}

/* The walker counts brackets instead of recursing: a deeply nested value costs its length. */
static void test_deep(void) {
    size_t depth = 200000, n = 0;
    char *v = malloc(depth * 2 + 200);
    n += (size_t)sprintf(v, "{\"detail-type\":\"x\",\"other\":");
    for (size_t i = 0; i < depth; i++) v[n++] = '[';
    for (size_t i = 0; i < depth; i++) v[n++] = ']';
    sprintf(v + n, ",\"detail\":{\"eventID\":\"d\"}}");
    read_out o;
    read_all(v, 0, &o);
    CHECK_EQ_INT(o.kind, SHAPE_EVENTBRIDGE);
    CHECK_EQ_STR(o.recs, "{\"eventID\":\"d\"}\n");
    free(v);
}

int main(void) {
    RUN(test_records);
    RUN(test_eventbridge);
    RUN(test_lookup_events);
    RUN(test_cloudwatch);
    RUN(test_strings);
    RUN(test_deep);
    TEST_MAIN_END();
}
