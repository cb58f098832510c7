/* The embedded index's write path: documents built by the document builder go in (stored as
 * their raw record only), come back field for field, an identical add is left alone, a changed
 * add replaces, a delete removes, and what a rolled-back transaction did is gone. Documents from
 * another client (no raw) are stored whole. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/ix_store.h"
#include "index/sdf_parse.h"
#include "pipeline/docbuild.h"
#include "testlib.h"

static char path[256];
static json_doc jd;
static buf scratch;
static sdf_op op;
static doc_builder *builder;
static char docbuf[1 << 20];

static const char *record(int i, const char *name, const char *ip) {
    static char r[2048];
    snprintf(r, sizeof r,
             "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"IAMUser\",\"accountId\":\"111122223333\","
             "\"arn\":\"arn:aws:iam::111122223333:user/alice\",\"userName\":\"alice\"},"
             "\"eventTime\":\"2024-05-01T0%d:00:0%dZ\",\"eventSource\":\"iam.amazonaws.com\",\"eventName\":\"%s\","
             "\"awsRegion\":\"us-east-1\",\"sourceIPAddress\":\"%s\",\"userAgent\":\"aws-cli/2.15 Python/3.11\","
             "\"requestParameters\":{\"userName\":\"bob\",\"policyArn\":\"arn:aws:iam::aws:policy/Admin\"},"
             "\"responseElements\":null,\"requestID\":\"req-%d\",\"eventID\":\"ev-%04d\",\"readOnly\":false,"
             "\"resources\":[{\"ARN\":\"arn:aws:iam::111122223333:user/bob\",\"type\":\"AWS::IAM::User\"},"
             "{\"ARN\":\"arn:aws:iam::111122223333:user/bob\",\"type\":\"AWS::IAM::User\"}],"
             "\"eventType\":\"AwsApiCall\",\"managementEvent\":true,\"recipientAccountId\":\"111122223333\"}",
             i % 10, i % 10, name, ip, i, i);
    return r;
}

/* Builds the document of a record and applies it; returns ix_apply's answer. */
static int add_record(ix_store *s, const char *rec) {
    docb_result res;
    long n = docb_build(builder, rec, strlen(rec), docbuf, sizeof docbuf, &res);
    if (n <= 0) return -9;
    char err[256];
    if (sdf_parse_op(&jd, docbuf, (size_t)n, 1, 1, &scratch, &op, err, sizeof err) != 0) {
        fprintf(stderr, "parse: %s\n", err);
        return -9;
    }
    int rc = ix_apply(s, &jd, &op, docbuf, (size_t)n, 0, err, sizeof err);
    if (rc) fprintf(stderr, "apply: %s\n", err);
    return rc;
}

static int apply_json(ix_store *s, const char *js, char *err, size_t cap) {
    if (sdf_parse_op(&jd, js, strlen(js), 1, 0, &scratch, &op, err, cap) != 0) return -9;
    return ix_apply(s, &jd, &op, js, strlen(js), 0, err, cap);
}

static void test_write_read(void) {
    char err[256];
    ix_store *s = ix_open(path, IX_WRITE, err, sizeof err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    for (int i = 0; i < 20; i++)
        CHECK_EQ_INT(add_record(s, record(i, i % 2 ? "CreateUser" : "AttachUserPolicy", "10.0.0.1")), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    const ix_write_stats *ws = ix_get_write_stats(s);
    CHECK_EQ_INT(ws->adds, 20);
    CHECK_EQ_INT(ws->derived, 20);
    CHECK_EQ_INT(ix_doc_count(s), 20);

    /* the same documents again: unchanged, nothing added */
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    for (int i = 0; i < 20; i++)
        CHECK_EQ_INT(add_record(s, record(i, i % 2 ? "CreateUser" : "AttachUserPolicy", "10.0.0.1")), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_INT(ws->unchanged, 20);
    CHECK_EQ_INT(ix_doc_count(s), 20);

    /* changed: replaced, still 20 */
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    CHECK_EQ_INT(add_record(s, record(3, "DeleteUser", "192.0.2.9")), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_INT(ix_doc_count(s), 20);

    /* a delete, and a delete of an id that does not exist */
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    CHECK_EQ_INT(apply_json(s, "{\"type\":\"delete\",\"id\":\"ev-0004\"}", err, sizeof err), 0);
    CHECK_EQ_INT(apply_json(s, "{\"type\":\"delete\",\"id\":\"nope\"}", err, sizeof err), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_INT(ix_doc_count(s), 19);

    /* a rolled-back batch leaves nothing */
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    CHECK_EQ_INT(add_record(s, record(50, "NewInRollback", "203.0.113.5")), 0);
    ix_rollback(s);
    CHECK_EQ_INT(ix_doc_count(s), 19);

    /* another client's document: no raw, stored whole; a refused one */
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    CHECK_EQ_INT(
        apply_json(s,
                   "{\"type\":\"add\",\"id\":\"other-1\",\"fields\":{\"event_name\":\"PutObject\","
                   "\"event_time\":\"2024-05-02T10:00:00.250Z\",\"request_parameters\":\"bucket \\u00e9t\\u00e9\","
                   "\"resource_types\":[\"AWS::S3::Object\",\"AWS::S3::Bucket\"],\"insight_duration\":5}}",
                   err, sizeof err),
        0);
    CHECK_EQ_INT(apply_json(s, "{\"type\":\"add\",\"id\":\"bad\",\"fields\":{\"nosuchfield\":\"x\"}}", err, sizeof err),
                 -9);
    CHECK(strstr(err, "nosuchfield") != NULL);
    /* another client's values are checked as CloudSearch checks them */
    CHECK_EQ_INT(
        apply_json(s, "{\"type\":\"add\",\"id\":\"c1\",\"fields\":{\"event_name\":\"a\\u0001b\"}}", err, sizeof err),
        -9);
    CHECK(strstr(err, "XML") != NULL);
    CHECK_EQ_INT(apply_json(s, "{\"type\":\"add\",\"id\":\"c2\",\"fields\":{\"event_time\":\"2024-13-01T00:00:00Z\"}}",
                            err, sizeof err),
                 -9);
    CHECK(strstr(err, "RFC 3339") != NULL);
    CHECK_EQ_INT(
        apply_json(s, "{\"type\":\"add\",\"id\":\"c3\",\"fields\":{\"event_name\":[\"a\",\"b\"]}}", err, sizeof err),
        -9);
    CHECK(strstr(err, "single-valued") != NULL);
    static char big[6000];
    int o = snprintf(big, sizeof big, "{\"type\":\"add\",\"id\":\"c4\",\"fields\":{\"event_name\":\"");
    memset(big + o, 'x', 4097);
    snprintf(big + o + 4097, sizeof big - (size_t)o - 4097, "\"}}");
    CHECK_EQ_INT(apply_json(s, big, err, sizeof err), -9);
    CHECK(strstr(err, "4096") != NULL);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_INT(ix_doc_count(s), 20);
    CHECK_EQ_INT(ws->derived, 21);
    ix_close(s);

    /* reopen read-only */
    s = ix_open(path, IX_READ, err, sizeof err);
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ_INT(ix_doc_count(s), 20);
        CHECK(ix_size_bytes(s) > 0);
        ix_close(s);
    }
}

/* A fresh writer on path + suffix (its name in file). */
static ix_store *open_fresh(const char *suffix, char *file, size_t cap) {
    char err[256];
    snprintf(file, cap, "%s%s", path, suffix);
    test_remove_db(file);
    ix_store *s = ix_open(file, IX_WRITE, err, sizeof err);
    CHECK(s != NULL);
    return s;
}

/* The sink's way in: sdf_parse_trusted decodes raw as it scans it (op.raw), and the document it
 * stores is byte for byte the one the full parse's decoding stores: added again through
 * sdf_parse_op, it is found unchanged. */
static void test_trusted_raw(void) {
    char err[256], file[300];
    ix_store *s = open_fresh(".trusted", file, sizeof file);
    if (!s) return;
    const char *rec = "{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-05-01T01:00:00Z\",\"eventSource\":"
                      "\"s3.amazonaws.com\",\"eventName\":\"GetObject\",\"awsRegion\":\"us-east-1\","
                      "\"userAgent\":\"cli \\\"quoted\\\" C:\\\\dir\\/x\\ttab\",\"eventID\":\"ev-t1\"}";
    docb_result res;
    long n = docb_build(builder, rec, strlen(rec), docbuf, sizeof docbuf, &res);
    CHECK(n > 0);
    if (n <= 0) return;
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    CHECK_EQ_INT(sdf_parse_trusted(&jd, docbuf, (size_t)n, 1, &scratch, &op, err, sizeof err), 0);
    CHECK(op.raw != NULL);
    CHECK(op.raw && op.raw_len == strlen(rec) && memcmp(op.raw, rec, op.raw_len) == 0 && op.raw[op.raw_len] == '\0');
    CHECK_EQ_INT(ix_apply(s, &jd, &op, docbuf, (size_t)n, IX_APPLY_DERIVED, err, sizeof err), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    const ix_write_stats *ws = ix_get_write_stats(s);
    CHECK_EQ_INT(ws->derived, 1);
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    CHECK_EQ_INT(add_record(s, rec), 0);
    CHECK_EQ_INT(op.raw == NULL, 1);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_INT(ws->unchanged, 1);
    CHECK_EQ_INT(ix_doc_count(s), 1);
    ix_close(s);
    test_remove_db(file);
}

/* Text is bound as NUL-terminated only when it is: a NUL right after it and none inside. */
static void test_text_len(void) {
    CHECK_EQ_INT(ix_text_len("abc", 3), -1);
    CHECK_EQ_INT(ix_text_len("abcd", 3), 3);
    CHECK_EQ_INT(ix_text_len("a\0c\0", 3), 3);
    CHECK_EQ_INT(ix_text_len("", 0), -1);
}

/* text's 'hashsize' option as stored in the file, or -1. */
static long fts_hash_size(const char *file) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long v = -1;
    if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT v FROM text_config WHERE k='hashsize'", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* A writer gives FTS5 room for a whole batch of pending terms (one segment per transaction), in
 * a new file and in one made before the option was set. */
static void test_fts_hash_size(void) {
    char err[256], file[300];
    ix_store *s = open_fresh(".hash", file, sizeof file);
    ix_close(s);
    CHECK_EQ_INT(fts_hash_size(file), IX_FTS_HASH_BYTES);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2(file, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "DELETE FROM text_config WHERE k='hashsize'", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK_EQ_INT(fts_hash_size(file), -1);
    s = ix_open(file, IX_READ, err, sizeof err); /* a reader leaves the file alone */
    CHECK(s != NULL);
    ix_close(s);
    CHECK_EQ_INT(fts_hash_size(file), -1);
    s = ix_open(file, IX_WRITE, err, sizeof err);
    CHECK(s != NULL);
    ix_close(s);
    CHECK_EQ_INT(fts_hash_size(file), IX_FTS_HASH_BYTES);
    test_remove_db(file);
}

static void test_refuse_foreign_file(void) {
    char err[256], other[300];
    snprintf(other, sizeof other, "%s.other", path);
    FILE *f = fopen(other, "w");
    fputs("not a database at all, just text", f);
    fclose(f);
    ix_store *s = ix_open(other, IX_READ, err, sizeof err);
    CHECK(s == NULL);
    CHECK(strstr(err, "index") != NULL);
    unlink(other);
}

int main(void) {
    snprintf(path, sizeof path, "/tmp/ctindex-test-store-%d.db", (int)getpid());
    unlink(path);
    json_doc_init(&jd, SDF_MAX_TOKENS);
    buf_init(&scratch, SDF_MAX_DOC_BYTES + 16);
    builder = docb_new(NULL);
    RUN(test_write_read);
    RUN(test_fts_hash_size);
    RUN(test_trusted_raw);
    RUN(test_text_len);
    RUN(test_refuse_foreign_file);
    docb_free(builder);
    json_doc_free(&jd);
    buf_free(&scratch);
    test_remove_db(path);
    TEST_MAIN_END();
}
