/* CloudSearch semantics of the embedded index on six hand-made records (expected answers worked
 * out from the records): literal = exact and case-sensitive, text = words in any case, phrases in
 * order, prefixes, date ranges with [ ] and { }, and/or/not, fields found through raw and checked,
 * hashed values, _id, facets (matchall from the dictionary, filtered by counting), paging, order
 * (newest first), return lists, errors; then a replaced and a deleted document. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/ix_internal.h"
#include "index/ix_search.h"
#include "index/ix_store.h"
#include "index/sdf_parse.h"
#include "pipeline/docbuild.h"
#include "testlib.h"

#define RUN_ARG(fn, a)                                                               \
    do {                                                                             \
        int before_ = test_failures;                                                 \
        fn(a);                                                                       \
        fprintf(stderr, "%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

static char path[256];
static json_doc jd;
static buf scratch;
static sdf_op op;
static doc_builder *builder;     /* the full profile: every kind of field */
static doc_builder *builder_std; /* the default profile, as the sink vouches for (IX_APPLY_DERIVED) */
static char docbuf[1 << 16];
static ix_request rq;
static ix_result res;

static const char *records[] = {
    /* 1 */ "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"Root\",\"accountId\":\"111122223333\","
            "\"arn\":\"arn:aws:iam::111122223333:root\"},\"eventTime\":\"2024-05-01T10:00:00Z\","
            "\"eventSource\":\"signin.amazonaws.com\",\"eventName\":\"ConsoleLogin\",\"awsRegion\":\"us-east-1\","
            "\"sourceIPAddress\":\"198.51.100.7\",\"userAgent\":\"Mozilla/5.0 (Windows NT 10.0)\","
            "\"additionalEventData\":{\"MFAUsed\":\"No\"},\"responseElements\":{\"ConsoleLogin\":\"Success\"},"
            "\"eventID\":\"ev-1\",\"eventType\":\"AwsConsoleSignIn\"}",
    /* 2 */
    "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"IAMUser\",\"accountId\":\"111122223333\","
    "\"arn\":\"arn:aws:iam::111122223333:user/alice\",\"userName\":\"alice\"},"
    "\"eventTime\":\"2024-05-01T11:00:00Z\",\"eventSource\":\"signin.amazonaws.com\","
    "\"eventName\":\"ConsoleLogin\",\"awsRegion\":\"us-east-1\",\"sourceIPAddress\":\"203.0.113.9\","
    "\"userAgent\":\"Mozilla/5.0 (Macintosh)\",\"errorMessage\":\"Failed authentication\","
    "\"additionalEventData\":{\"MFAUsed\":\"Yes\"},\"responseElements\":{\"ConsoleLogin\":\"Failure\"},"
    "\"eventID\":\"ev-2\",\"eventType\":\"AwsConsoleSignIn\"}",
    /* 3 */
    "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"AssumedRole\",\"accountId\":\"111122223333\","
    "\"arn\":\"arn:aws:sts::111122223333:assumed-role/deploy/ci\"},\"eventTime\":\"2024-05-02T09:30:00Z\","
    "\"eventSource\":\"sts.amazonaws.com\",\"eventName\":\"AssumeRole\",\"awsRegion\":\"eu-west-1\","
    "\"sourceIPAddress\":\"10.0.0.5\",\"userAgent\":\"aws-cli/2.15.0 Python/3.11\","
    "\"requestParameters\":{\"roleArn\":\"arn:aws:iam::111122223333:role/deploy\"},"
    "\"requestID\":\"req-3\",\"eventID\":\"ev-3\",\"eventType\":\"AwsApiCall\","
    "\"resources\":[{\"ARN\":\"arn:aws:iam::111122223333:role/deploy\",\"type\":\"AWS::IAM::Role\"}]}",
    /* 4 */
    "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"IAMUser\",\"accountId\":\"111122223333\","
    "\"arn\":\"arn:aws:iam::111122223333:user/bob\",\"userName\":\"bob\"},"
    "\"eventTime\":\"2024-05-02T10:00:00Z\",\"eventSource\":\"cloudtrail.amazonaws.com\","
    "\"eventName\":\"DeleteTrail\",\"awsRegion\":\"us-east-1\",\"sourceIPAddress\":\"192.0.2.44\","
    "\"userAgent\":\"console.amazonaws.com\",\"errorCode\":\"AccessDenied\","
    "\"errorMessage\":\"User: arn:aws:iam::111122223333:user/bob is not authorized\","
    "\"requestParameters\":{\"name\":\"main-trail\"},\"requestID\":\"req-4\",\"eventID\":\"ev-4\","
    "\"eventType\":\"AwsApiCall\"}",
    /* 5 */
    "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"AssumedRole\",\"accountId\":\"111122223333\"},"
    "\"eventTime\":\"2024-05-03T00:00:00Z\",\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\","
    "\"awsRegion\":\"eu-west-1\",\"sourceIPAddress\":\"10.0.0.5\",\"userAgent\":\"aws-sdk-go/1.44\","
    "\"requestParameters\":{\"bucketName\":\"logs-bucket\",\"key\":\"a/b.txt\"},\"eventID\":\"ev-5\","
    "\"eventType\":\"AwsApiCall\",\"resources\":[{\"ARN\":\"arn:aws:s3:::logs-bucket/a/b.txt\","
    "\"type\":\"AWS::S3::Object\"},{\"ARN\":\"arn:aws:s3:::logs-bucket\",\"type\":\"AWS::S3::Bucket\"}]}",
    /* 6 */
    "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"IAMUser\",\"accountId\":\"444455556666\"},"
    "\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"ListBuckets\",\"awsRegion\":\"us-east-1\","
    "\"sourceIPAddress\":\"192.0.2.44\",\"eventID\":\"ev-6\",\"eventType\":\"AwsApiCall\"}",
};

static int add(ix_store *s, const char *rec, unsigned flags) {
    docb_result r;
    long n = docb_build(flags & IX_APPLY_DERIVED ? builder_std : builder, rec, strlen(rec), docbuf, sizeof docbuf, &r);
    char err[256];
    if (n <= 0 || sdf_parse_op(&jd, docbuf, (size_t)n, 1, 1, &scratch, &op, err, sizeof err) != 0) return -9;
    return ix_apply(s, &jd, &op, docbuf, (size_t)n, flags, err, sizeof err);
}

static int search(ix_store *s, int structured, const char *q, const char *extra_key, const char *extra_val) {
    ixr_init(&rq);
    rq.parser = structured ? IXQ_STRUCTURED : IXQ_SIMPLE;
    ixr_param(&rq, "q", 1, q, strlen(q));
    ixr_param(&rq, "size", 4, "20", 2);
    if (extra_key && ixr_param(&rq, extra_key, strlen(extra_key), extra_val, strlen(extra_val)) != 0) return -5;
    if (ixr_finish(&rq) != 0) return -5;
    char err[512];
    int rc = ix_search(s, &rq, &res, 0, err, sizeof err);
    if (rc != IX_SEARCH_OK && rc != IX_SEARCH_BAD) fprintf(stderr, "search [%s]: %s\n", q, err);
    return rc;
}

/* The hit ids in order, "ev-5,ev-4". */
static const char *ids(void) {
    static char out[512];
    out[0] = '\0';
    for (int i = 0; i < res.nhits; i++) {
        if (i) strcat(out, ",");
        strcat(out, res.hits[i].id);
    }
    return out;
}

static void expect_ids(ix_store *s, int structured, const char *q, const char *want) {
    int rc = search(s, structured, q, NULL, NULL);
    if (rc != IX_SEARCH_OK || strcmp(ids(), want) != 0 ||
        res.found != (int64_t)(want[0] ? 1 + (strlen(want) - 4) / 5 : 0)) {
        fprintf(stderr, "%s [%s]: got rc %d found %lld [%s], want [%s]\n", structured ? "structured" : "simple", q, rc,
                (long long)res.found, ids(), want);
        test_failures++;
    }
}

static const char *facet_text(int f) {
    static char out[1024];
    out[0] = '\0';
    if (f >= res.nfacets) return "(no facet)";
    for (int b = 0; b < res.facets[f].nbuckets; b++) {
        size_t o = strlen(out);
        snprintf(out + o, sizeof out - o, "%s%.*s=%lld", b ? "," : "", (int)res.facets[f].buckets[b].value_len,
                 res.text.data + res.facets[f].buckets[b].value_off, (long long)res.facets[f].buckets[b].count);
    }
    return out;
}

static void expect_facet(ix_store *s, const char *q, const char *field, const char *opts, const char *want) {
    char key[80];
    snprintf(key, sizeof key, "facet.%s", field);
    int rc = search(s, 1, q, key, opts);
    if (rc != IX_SEARCH_OK || strcmp(facet_text(0), want) != 0) {
        fprintf(stderr, "facet %s on [%s]: got rc %d [%s], want [%s]\n", field, q, rc, facet_text(0), want);
        test_failures++;
    }
}

static void expect_bad(ix_store *s, const char *q, const char *fragment) {
    char err[512];
    ixr_init(&rq);
    rq.parser = IXQ_STRUCTURED;
    ixr_param(&rq, "q", 1, q, strlen(q));
    ixr_finish(&rq);
    int rc = ix_search(s, &rq, &res, 0, err, sizeof err);
    if (rc != IX_SEARCH_BAD || !strstr(err, fragment)) {
        fprintf(stderr, "[%s]: expected a bad-query error with '%s', got rc %d '%s'\n", q, fragment, rc, err);
        test_failures++;
    }
}

static void test_semantics(ix_store *s) {
    expect_ids(s, 1, "matchall", "ev-5,ev-4,ev-3,ev-2,ev-1,ev-6"); /* newest first, no time last */
    expect_ids(s, 1, "event_name:'ConsoleLogin'", "ev-2,ev-1");
    expect_ids(s, 1, "event_name:'consolelogin'", ""); /* literal: case matters */
    expect_ids(s, 1, "user_agent:'PYTHON'", "ev-3");   /* text: any case */
    expect_ids(s, 1, "(phrase field=user_agent 'aws cli')", "ev-3");
    expect_ids(s, 1, "(phrase field=user_agent 'cli aws')", "");
    expect_ids(s, 1, "event_time:['2024-05-02T00:00:00Z','2024-05-03T00:00:00Z'}", "ev-4,ev-3");
    expect_ids(s, 1, "event_time:['2024-05-02T00:00:00Z','2024-05-03T00:00:00Z']", "ev-5,ev-4,ev-3");
    expect_ids(s, 1, "(range field=event_time {'2024-05-02T09:30:00Z',})", "ev-5,ev-4");
    /* Hours a range covers whole match on row ids alone; the edges still compare times. */
    expect_ids(s, 1, "event_time:['2024-05-01T10:00:00Z','2024-05-01T11:00:00Z'}", "ev-1");
    expect_ids(s, 1, "event_time:{'2024-05-01T10:00:00Z','2024-05-01T11:00:00Z']", "ev-2");
    expect_ids(s, 1, "event_time:['2024-05-02T09:00:00Z','2024-05-02T09:30:00Z'}", "");
    expect_ids(s, 1, "event_time:['2024-05-02T09:00:00Z','2024-05-02T10:00:00Z'}", "ev-3");
    expect_ids(s, 1, "event_time:{,'2024-05-01T10:59:59Z']", "ev-1");
    expect_ids(s, 1, "event_time:['2024-05-01T09:00:00Z','2024-05-02T09:59:59.999Z']", "ev-3,ev-2,ev-1");
    expect_ids(s, 1, "(and event_name:'ConsoleLogin' (not user_identity_type:'Root'))", "ev-2");
    expect_ids(s, 1, "(or event_name:'DeleteTrail' error_code:'AccessDenied')", "ev-4");
    expect_ids(s, 1, "(prefix field=event_name 'Con')", "ev-2,ev-1");
    expect_ids(s, 1, "source_ip_address:'10.0.0.5'", "ev-5,ev-3");
    expect_ids(s, 1, "source_ip_address:'10.0.0'", "");
    expect_ids(s, 1, "source_ip_address:'192.0.2.44'", "ev-4,ev-6");
    expect_ids(s, 1, "(prefix field=source_ip_address '10.0.')", "ev-5,ev-3");
    expect_ids(s, 1, "resource_types:'AWS::S3::Bucket'", "ev-5");
    expect_ids(s, 1, "resource_arns:'arn:aws:s3:::logs-bucket'", "ev-5");
    /* fields found through raw, checked on the document */
    expect_ids(s, 1, "request_parameters:'logs'", "ev-5");
    expect_ids(s, 1, "request_parameters:'authentication'", ""); /* in ev-2's raw, not in its request_parameters */
    expect_ids(s, 1, "additional_event_data:'no'", "ev-1");
    expect_ids(s, 1, "event_id:'ev-4'", "ev-4");
    expect_ids(s, 1, "request_id:'req-3'", "ev-3");
    expect_ids(s, 1, "event_id:'ev'", ""); /* a literal is the whole value */
    expect_ids(s, 1, "_id:'ev-3'", "ev-3");
    expect_ids(s, 1, "raw:'mfaused'", "ev-2,ev-1");
    expect_ids(s, 1, "'failed authentication'", "ev-2"); /* default fields: the words in one field */
    expect_ids(s, 1, "(and 'mozilla' (not 'macintosh'))", "ev-1");
    expect_ids(s, 1, "(near field=error_message distance=2 'user authorized')", "");
    expect_ids(s, 1, "(near field=error_message distance=4 'bob authorized')", "ev-4");
    /* simple parser */
    expect_ids(s, 0, "consolelogin", "ev-2,ev-1");
    expect_ids(s, 0, "-consolelogin", "ev-5,ev-4,ev-3,ev-6");
    expect_ids(s, 0, "cli |deletetrail", "ev-4,ev-3");
    expect_ids(s, 0, "\"failed authentication\"", "ev-2");
    expect_ids(s, 0, "macint*", "ev-2");
    /* paging and order */
    int rc = search(s, 1, "matchall", "start", "1");
    if (rc == IX_SEARCH_OK) {
        ixr_param(&rq, "size", 4, "2", 1);
        char err[256];
        ix_search(s, &rq, &res, 0, err, sizeof err);
    }
    CHECK_EQ_STR(ids(), "ev-4,ev-3");
    CHECK_EQ_INT(res.found, 6);
    CHECK_EQ_INT(search(s, 1, "matchall", "sort", "event_time asc"), IX_SEARCH_OK);
    CHECK_EQ_STR(ids(), "ev-6,ev-1,ev-2,ev-3,ev-4,ev-5");
    /* return */
    CHECK_EQ_INT(search(s, 1, "event_id:'ev-4'", "return", "event_name,error_code"), IX_SEARCH_OK);
    CHECK(res.nhits == 1 && res.hits[0].fields_len > 0);
    const char *want_fields = "{\"event_name\":\"DeleteTrail\",\"error_code\":\"AccessDenied\"}";
    if (res.nhits == 1)
        CHECK(res.hits[0].fields_len == strlen(want_fields) &&
              memcmp(res.text.data + res.hits[0].fields_off, want_fields, res.hits[0].fields_len) == 0);
    /* facets: matchall (dictionary counts), filtered (counted), nearly unique values, explicit buckets */
    expect_facet(s, "matchall", "event_name", "{}",
                 "ConsoleLogin=2,AssumeRole=1,DeleteTrail=1,GetObject=1,ListBuckets=1");
    expect_facet(s, "matchall", "event_name", "{sort:'bucket',size:2}", "AssumeRole=1,ConsoleLogin=2");
    expect_facet(s, "event_time:['2024-05-02T00:00:00Z',}", "event_name", "{}",
                 "AssumeRole=1,DeleteTrail=1,GetObject=1");
    expect_facet(s, "matchall", "source_ip_address", "{size:2}", "10.0.0.5=2,192.0.2.44=2");
    expect_facet(s, "matchall", "resource_types", "{}", "AWS::IAM::Role=1,AWS::S3::Bucket=1,AWS::S3::Object=1");
    expect_facet(s, "matchall", "user_identity_type", "{buckets:['Root','IAMUser','Nobody']}",
                 "Root=1,IAMUser=3,Nobody=0");
    /* mistakes */
    expect_bad(s, "no_such_field:'x'", "does not exist");
    expect_bad(s, "user_agent:['a','b']", "text field");
    expect_bad(s, "event_time:'yesterday'", "not a date");
    expect_bad(s, "(prefix field=event_id 'ev')", "search-only");
}

static void test_changes(ix_store *s) {
    char err[256];
    /* ev-1 again with another event name: the old values are gone everywhere */
    char changed[4096];
    snprintf(changed, sizeof changed, "%s", records[0]);
    char *at = strstr(changed, "\"eventName\":\"ConsoleLogin\"");
    memcpy(at, "\"eventName\":\"SwitchRole__\"", strlen("\"eventName\":\"SwitchRole__\""));
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    CHECK_EQ_INT(add(s, changed, 0), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    expect_ids(s, 1, "event_name:'ConsoleLogin'", "ev-2");
    expect_ids(s, 1, "event_name:'SwitchRole__'", "ev-1");
    expect_facet(s, "matchall", "event_name", "{size:2}", "AssumeRole=1,ConsoleLogin=1");
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    const char *del = "{\"type\":\"delete\",\"id\":\"ev-2\"}";
    CHECK_EQ_INT(sdf_parse_op(&jd, del, strlen(del), 1, 0, &scratch, &op, err, sizeof err), 0);
    CHECK_EQ_INT(ix_apply(s, &jd, &op, del, strlen(del), 0, err, sizeof err), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    expect_ids(s, 1, "event_name:'ConsoleLogin'", "");
    expect_ids(s, 1, "matchall", "ev-5,ev-4,ev-3,ev-1,ev-6");
    expect_facet(s, "matchall", "user_identity_type", "{}", "AssumedRole=2,IAMUser=2,Root=1");
}

/* _id over both levels of the ids map with hashes that collide: ids on two hashes, ids_new merged
 * into ids past 2 entries (at the second transaction: ev-1..3 in ids, ev-4..6 in ids_new). */
static void test_id_collisions(const char *file) {
    char err[256];
    test_remove_db(file);
    ix_store *s = ix_open(file, IX_WRITE, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    s->id_hash_mask = 1;
    s->ids_new_max = 2;
    for (int i = 0; i < 7; i++) {
        if (i == 0 || i == 3 || i == 5) CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
        CHECK_EQ_INT(add(s, records[i % 6], 0), 0); /* ev-1 twice: unchanged */
        if (i == 2 || i == 4 || i == 6) CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    }
    sqlite3_stmt *st = NULL;
    CHECK_EQ_INT(
        sqlite3_prepare_v2(s->db, "SELECT (SELECT count(*) FROM ids), (SELECT count(*) FROM ids_new)", -1, &st, NULL),
        SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int64(st, 0), 3);
    CHECK_EQ_INT(sqlite3_column_int64(st, 1), 3);
    sqlite3_finalize(st);
    char q[32], want[8];
    for (int i = 1; i <= 6; i++) {
        snprintf(q, sizeof q, "_id:'ev-%d'", i);
        snprintf(want, sizeof want, "ev-%d", i);
        expect_ids(s, 1, q, want);
    }
    expect_ids(s, 1, "_id:'ev-7'", "");
    expect_ids(s, 1, "(or _id:'ev-2' _id:'ev-6')", "ev-2,ev-6");
    ix_close(s);
    test_remove_db(file);
}

/* How much of the file a reader maps: bounded by the machine's memory and the address space, and
 * what a reader asks SQLite for. */
static void test_read_map(ix_store *s) {
    const long long GiB = 1LL << 30;
    CHECK_EQ_INT(ix__read_map_bound(1 * GiB, 8), 256LL << 20); /* a t2.micro: not 2 GB */
    CHECK_EQ_INT(ix__read_map_bound(64 * GiB, 8), 2147418112LL);
    CHECK_EQ_INT(ix__read_map_bound(0, 8), 2147418112LL); /* memory unknown */
    CHECK_EQ_INT(ix__read_map_bound(64 * GiB, 4), 256LL << 20);
    CHECK_EQ_INT(ix__read_map_bound(512LL << 20, 4), 128LL << 20);
    sqlite3_stmt *st = NULL;
    CHECK_EQ_INT(sqlite3_prepare_v2(s->db, "PRAGMA mmap_size", -1, &st, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int64(st, 0), ix__read_map_bytes());
    sqlite3_finalize(st);
}

/* A file larger than the map: SQLite reads the pages past it; every search answers the same. */
static void test_past_the_map(ix_store *s) {
    CHECK_EQ_INT(sqlite3_exec(s->db, "PRAGMA mmap_size=4096", NULL, NULL, NULL), SQLITE_OK);
    test_semantics(s);
}

int main(void) {
    snprintf(path, sizeof path, "/tmp/ctindex-test-search-%d.db", (int)getpid());
    unlink(path);
    json_doc_init(&jd, SDF_MAX_TOKENS);
    buf_init(&scratch, SDF_MAX_DOC_BYTES + 16);
    /* every field a document can carry (the default profile leaves the array and JSON-text
     * fields out), so each kind of field is searched */
    docb_options dopt;
    docb_options_default(&dopt);
    dopt.profile = SCHEMA_FULL;
    builder = docb_new(&dopt);
    builder_std = docb_new(NULL);
    ix_result_init(&res);
    char err[256];
    ix_store *s = ix_open(path, IX_WRITE, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return 1;
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    /* three as the sink sends default-profile documents (vouched derived); the others, which the
     * queries on fields outside the default profile need, in the full profile, checked by
     * rebuilding (and kept whole) */
    for (int i = 0; i < 6; i++) CHECK_EQ_INT(add(s, records[i], i % 2 ? IX_APPLY_DERIVED : 0), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    ix_close(s);
    s = ix_open(path, IX_READ, err, sizeof err); /* searches read as serve and search do */
    RUN_ARG(test_semantics, s);
    RUN_ARG(test_read_map, s);
    RUN_ARG(test_past_the_map, s);
    ix_close(s);
    s = ix_open(path, IX_WRITE, err, sizeof err);
    RUN_ARG(test_changes, s);
    ix_close(s);
    char file[300];
    snprintf(file, sizeof file, "%s.ids", path);
    RUN_ARG(test_id_collisions, file);
    ix_result_free(&res);
    docb_free(builder);
    docb_free(builder_std);
    json_doc_free(&jd);
    buf_free(&scratch);
    test_remove_db(path);
    TEST_MAIN_END();
}
