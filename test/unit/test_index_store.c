/* The embedded index's write path: documents built by the document builder go in (stored as
 * their raw record only), come back field for field, an identical add is left alone, a changed
 * add replaces, a delete removes, and what a rolled-back transaction did is gone. Documents from
 * another client (no raw) are stored whole. The ids map keeps that in both its levels, through
 * merges and hash collisions. An index of another format is refused. The compression dictionary
 * comes whatever the size of the writers: an index filled by many small ones gets it and stores
 * about as few bytes a record as one filled by one writer; the records stored before it are
 * compressed again with it, read back byte for byte and are found unchanged when redelivered; a
 * writer killed or rolled back while training leaves a usable index, trained later; blobs
 * compressed with the dictionary parameters of earlier writers, or in their layout, read the
 * same. The held ids_new keys are written in the index's order. */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createCDict_advanced */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "index/ix_internal.h"
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

/* A record whose raw holds quotes, backslashes, a slash and a tab. */
static const char *TRUSTED_REC = "{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-05-01T01:00:00Z\",\"eventSource\":"
                                 "\"s3.amazonaws.com\",\"eventName\":\"GetObject\",\"awsRegion\":\"us-east-1\","
                                 "\"userAgent\":\"cli \\\"quoted\\\" C:\\\\dir\\/x\\ttab\",\"eventID\":\"ev-t1\"}";

/* The sink's way in: sdf_parse_trusted decodes raw as it scans it (op.raw), and the document it
 * stores is byte for byte the one the full parse's decoding stores: added again through
 * sdf_parse_op, it is found unchanged. */
static void test_trusted_raw(void) {
    char err[256], file[300];
    ix_store *s = open_fresh(".trusted", file, sizeof file);
    if (!s) return;
    const char *rec = TRUSTED_REC;
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

/* rec added again through the full parse (the one document of s, stored another way before): found
 * unchanged. Then s is closed and removed, plain freed. */
static void readd_unchanged(ix_store *s, const char *rec, const char *file, json_doc *plain) {
    char err[256];
    const ix_write_stats *ws = ix_get_write_stats(s);
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    CHECK_EQ_INT(add_record(s, rec), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_INT(ws->unchanged, 1);
    CHECK_EQ_INT(ix_doc_count(s), 1);
    json_doc_free(plain);
    ix_close(s);
    test_remove_db(file);
}

/* The sink's way in with the builder's hint (batch_doc_record): the same tokens as without it,
 * raw is the kept record itself (nothing decoded), and what is stored is the same; a hint that
 * does not fit the document is not used (raw is left to the caller to decode). */
static void test_hinted_raw(void) {
    char err[256], file[300];
    ix_store *s = open_fresh(".hinted", file, sizeof file);
    if (!s) return;
    const char *rec = TRUSTED_REC;
    docb_result res;
    long n = docb_build(builder, rec, strlen(rec), docbuf, sizeof docbuf, &res);
    CHECK(n > 0 && res.raw_len > 0);
    if (n <= 0) return;
    static json_doc plain;
    static sdf_op pop;
    CHECK_EQ_INT(json_doc_init(&plain, SDF_MAX_TOKENS), JSON_OK);
    CHECK_EQ_INT(sdf_parse_trusted(&plain, docbuf, (size_t)n, 1, &scratch, &pop, err, sizeof err), 0);
    sdf_hint hint = {res.raw_at, res.raw_len, rec + res.record_at, res.record_len};
    CHECK_EQ_INT(sdf_parse_hinted(&jd, docbuf, (size_t)n, 1, &hint, &scratch, &op, err, sizeof err), 0);
    CHECK(op.raw == hint.rec && op.raw_len == strlen(rec)); /* the record itself */
    CHECK(jd.ntoks == plain.ntoks && op.nfields == pop.nfields);
    for (unsigned t = 0; t < jd.ntoks; t++)
        CHECK(jd.toks[t].type == plain.toks[t].type && jd.toks[t].start == plain.toks[t].start &&
              jd.toks[t].end == plain.toks[t].end && jd.toks[t].size == plain.toks[t].size &&
              jd.toks[t].parent == plain.toks[t].parent);
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    CHECK_EQ_INT(ix_apply(s, &jd, &op, docbuf, (size_t)n, IX_APPLY_DERIVED, err, sizeof err), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    /* hints that do not fit: off by one either way, past the end, on another string */
    sdf_hint bad[] = {{res.raw_at + 1, res.raw_len - 1, "x", 1},
                      {res.raw_at, res.raw_len - 1, "x", 1},
                      {res.raw_at, (size_t)n, "x", 1},
                      {(size_t)n, 0, "x", 1},
                      {8, 3, "x", 1}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK_EQ_INT(sdf_parse_hinted(&jd, docbuf, (size_t)n, 1, &bad[k], &scratch, &op, err, sizeof err), 0);
        CHECK(op.raw == NULL);
        CHECK(jd.ntoks == plain.ntoks && op.nfields == pop.nfields);
        for (unsigned t = 0; t < jd.ntoks; t++) CHECK(jd.toks[t].end == plain.toks[t].end);
    }
    /* added again through the full parse: found unchanged */
    readd_unchanged(s, rec, file, &plain);
}

/* The sink's way in with the builder's field list (batch_doc_fields), raw left out of the
 * document: the same fields and values as the full parse of the whole document, raw is the kept
 * record, and what is stored is the same; a list that does not describe the text is an error. */
static void test_fields_path(void) {
    char err[256], file[300];
    ix_store *s = open_fresh(".fields", file, sizeof file);
    if (!s) return;
    const char *rec = TRUSTED_REC;
    static batch_field list[64];
    docb_fields fl = {list, 64, 0, 0, 1};
    docb_result res;
    long n = docb_build_fields(builder, rec, strlen(rec), docbuf, sizeof docbuf, &fl, &res);
    CHECK(n > 0 && fl.complete && res.raw_unwritten > 0);
    if (n <= 0) return;
    static char whole[4096];
    long wn = docb_build(builder, rec, strlen(rec), whole, sizeof whole, &(docb_result){0});
    static json_doc plain;
    static sdf_op pop;
    CHECK_EQ_INT(json_doc_init(&plain, SDF_MAX_TOKENS), JSON_OK);
    CHECK_EQ_INT(sdf_parse_op(&plain, whole, (size_t)wn, 1, 0, &scratch, &pop, err, sizeof err), 0);
    sdf_hint hint = {res.raw_at, res.raw_len, rec + res.record_at, res.record_len};
    CHECK_EQ_INT(sdf_parse_fields(&jd, docbuf, (size_t)n, 1, list, fl.n, &hint, &op, err, sizeof err), 0);
    CHECK(op.raw == hint.rec && op.raw_len == strlen(rec));
    CHECK(op.nfields == pop.nfields && op.id_len == pop.id_len && memcmp(op.id, pop.id, op.id_len) == 0);
    CHECK(op.has_time && op.time_ms == pop.time_ms);
    for (int i = 0; i < op.nfields; i++) {
        CHECK(op.fields[i].f == pop.fields[i].f);
        if (op.fields[i].f->column == IXT_RAW) continue;
        int a = op.fields[i].tok, b = pop.fields[i].tok;
        CHECK(json_tok_len(&jd, a) == json_tok_len(&plain, b) &&
              memcmp(json_tok_ptr(&jd, a), json_tok_ptr(&plain, b), json_tok_len(&jd, a)) == 0);
    }
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    CHECK_EQ_INT(ix_apply(s, &jd, &op, docbuf, (size_t)n, IX_APPLY_DERIVED, err, sizeof err), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    /* lists that do not describe the text: an error, whatever is wrong */
    CHECK_EQ_INT(sdf_parse_fields(&jd, docbuf, (size_t)n, 1, list, fl.n, NULL, &op, err, sizeof err), -1);
    CHECK(strstr(err, "raw left out") != NULL); /* and no record beside it */
    for (size_t k = 0; k < fl.n; k++) {
        batch_field keep = list[k];
        uint32_t *what[] = {&list[k].at, &list[k].len};
        for (int w = 0; w < 2; w++)
            for (int d = -1; d <= 1; d += 2) {
                *what[w] += (uint32_t)d;
                int rc = sdf_parse_fields(&jd, docbuf, (size_t)n, 1, list, fl.n, &hint, &op, err, sizeof err);
                CHECK_EQ_INT(rc, -1);
                list[k] = keep;
            }
        list[k].fid = (uint8_t)(list[k].fid + 1);
        CHECK_EQ_INT(sdf_parse_fields(&jd, docbuf, (size_t)n, 1, list, fl.n, &hint, &op, err, sizeof err), -1);
        list[k] = keep;
    }
    CHECK_EQ_INT(sdf_parse_fields(&jd, docbuf, (size_t)n, 1, list, fl.n - 1, &hint, &op, err, sizeof err), -1);
    CHECK_EQ_INT(sdf_parse_fields(&jd, docbuf, (size_t)n - 1, 1, list, fl.n, &hint, &op, err, sizeof err), -1);
    /* added again through the full parse of the whole document: found unchanged */
    readd_unchanged(s, rec, file, &plain);
}

/* Text is bound as NUL-terminated only when it is: a NUL right after it and none inside. */
static void test_text_len(void) {
    CHECK_EQ_INT(ix_text_len("abc", 3), -1);
    CHECK_EQ_INT(ix_text_len("abcd", 3), 3);
    CHECK_EQ_INT(ix_text_len("a\0c\0", 3), 3);
    CHECK_EQ_INT(ix_text_len("", 0), -1);
}

/* lit tokens and value hashes are stored: ix__token and ix__hash give what the plain forms (a
 * division a digit, a byte a step) give, for every length and digit count. */
static void test_tokens_and_hashes(void) {
    uint64_t vals[] = {0,
                       1,
                       35,
                       36,
                       37,
                       1295,
                       1296,
                       1297,
                       46655,
                       46656,
                       UINT64_C(2176782335),
                       UINT64_C(2176782336),
                       IX_HASH_TOKEN_MASK,
                       UINT64_MAX};
    uint64_t x = 88172645463325252ull;
    for (int k = 0; k < 2000; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t v = k < (int)(sizeof vals / sizeof vals[0]) ? vals[k] : x >> (k % 64);
        char want[32], got[32], digits[16];
        int d = 0;
        uint64_t t = v;
        do {
            digits[d++] = "0123456789abcdefghijklmnopqrstuvwxyz"[t % 36];
            t /= 36;
        } while (t);
        size_t n = 0;
        want[n++] = 'h';
        while (d) want[n++] = digits[--d];
        want[n] = '\0';
        CHECK_EQ_INT(ix__token('h', v, got), n);
        CHECK_EQ_STR(got, want);
    }
    char text[64];
    for (int i = 0; i < 64; i++) text[i] = (char)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof text; n++) {
        uint64_t h = 1469598103934665603ULL ^ 7u;
        h *= 1099511628211ULL;
        for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)text[i]) * 1099511628211ULL;
        CHECK(ix__hash(7, text, n) == h);
    }
}

/* One number from file, read by a connection of its own (what is committed), or -1. */
static long long sql_count(const char *file, const char *sql) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Runs sql on file through a connection of its own; 0 or -1. */
static int sql_exec(const char *file, const char *sql) {
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(file, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
                     sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK
                 ? 0
                 : -1;
    sqlite3_close(db);
    return rc;
}

/* text's 'hashsize' option as stored in the file, or -1. */
#define FTS_HASH_SIZE "SELECT v FROM text_config WHERE k='hashsize'"

/* A writer gives FTS5 room for a whole batch of pending terms (one segment per transaction), in
 * a new file and in one made before the option was set. */
static void test_fts_hash_size(void) {
    char err[256], file[300];
    ix_store *s = open_fresh(".hash", file, sizeof file);
    ix_close(s);
    CHECK_EQ_INT(sql_count(file, FTS_HASH_SIZE), IX_FTS_HASH_BYTES);
    CHECK_EQ_INT(sql_exec(file, "DELETE FROM text_config WHERE k='hashsize'"), 0);
    CHECK_EQ_INT(sql_count(file, FTS_HASH_SIZE), -1);
    s = ix_open(file, IX_READ, err, sizeof err); /* a reader leaves the file alone */
    CHECK(s != NULL);
    ix_close(s);
    CHECK_EQ_INT(sql_count(file, FTS_HASH_SIZE), -1);
    s = ix_open(file, IX_WRITE, err, sizeof err);
    CHECK(s != NULL);
    ix_close(s);
    CHECK_EQ_INT(sql_count(file, FTS_HASH_SIZE), IX_FTS_HASH_BYTES);
    test_remove_db(file);
}

/* lit's merge options as stored in the file, or -1. */
#define LIT_AUTOMERGE "SELECT v FROM lit_config WHERE k='automerge'"
#define LIT_CRISISMERGE "SELECT v FROM lit_config WHERE k='crisismerge'"

/* Commits n transactions of one record each (records first..first+n-1); 0 or -1. */
static int add_one_per_tx(ix_store *s, int first, int n) {
    char err[256];
    for (int i = first; i < first + n; i++)
        if (ix_begin(s, err, sizeof err) != 0 ||
            add_record(s, record(i, i % 2 ? "CreateUser" : "AttachUserPolicy", "10.0.0.1")) != 0 ||
            ix_commit(s, err, sizeof err) != 0)
            return -1;
    return 0;
}

/* Documents whose lit tokens hold eventName's value v, counted on the lit table itself. */
static long long lit_count(const char *file, const char *v) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM lit WHERE lit MATCH (SELECT 'v' || substr('0123456789abcdefghijklmnopqrstuvwxyz', "
             "id + 1, 1) FROM vals WHERE v='%s' AND id < 36)", /* ids of one base-36 digit */
             v);
    return sql_count(file, sql);
}

/* lit merges 16 segments a level (IX_LIT_AUTOMERGE) in a new file, and in a file made before the
 * options were set (as main made them) once a writer opens it; a reader leaves it alone; every
 * document stays found through its tokens across the merges, in both. */
static void test_lit_merge_options(void) {
    char err[256], file[300];
    ix_store *s = open_fresh(".litm", file, sizeof file);
    CHECK_EQ_INT(add_one_per_tx(s, 1, 40), 0);
    ix_close(s);
    CHECK_EQ_INT(sql_count(file, LIT_AUTOMERGE), IX_LIT_AUTOMERGE);
    CHECK_EQ_INT(sql_count(file, LIT_CRISISMERGE), IX_LIT_CRISISMERGE);
    CHECK_EQ_INT(sql_count(file, "SELECT v FROM text_config WHERE k='automerge'"), -1); /* text keeps the default */
    CHECK_EQ_INT(lit_count(file, "CreateUser"), 20);
    CHECK_EQ_INT(lit_count(file, "AttachUserPolicy"), 20);
    CHECK_EQ_INT(sql_exec(file, "DELETE FROM lit_config WHERE k IN ('automerge', 'crisismerge')"), 0);
    CHECK_EQ_INT(sql_count(file, LIT_AUTOMERGE), -1);
    s = ix_open(file, IX_READ, err, sizeof err);
    CHECK(s != NULL);
    ix_close(s);
    CHECK_EQ_INT(sql_count(file, LIT_AUTOMERGE), -1);
    s = ix_open(file, IX_WRITE, err, sizeof err);
    CHECK(s != NULL);
    CHECK_EQ_INT(sql_count(file, LIT_AUTOMERGE), IX_LIT_AUTOMERGE);
    CHECK_EQ_INT(add_one_per_tx(s, 41, 40), 0);
    ix_close(s);
    CHECK_EQ_INT(lit_count(file, "CreateUser"), 40);
    CHECK_EQ_INT(lit_count(file, "AttachUserPolicy"), 40);
    test_remove_db(file);
}

/* A new index has 16 KB pages (a WAL frame and a checkpoint copy per 16 KB: a quarter of the
 * kernel calls of 4 KB pages); a file made with 4 KB pages keeps them, and is written and read as
 * before. */
static void test_page_size(void) {
    char err[256], file[300];
    ix_store *s = open_fresh(".page", file, sizeof file);
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    CHECK_EQ_INT(add_record(s, record(1, "CreateUser", "10.0.0.1")), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    ix_close(s);
    CHECK_EQ_INT(sql_count(file, "PRAGMA page_size"), 16384);
    test_remove_db(file);
    /* an empty file of 4 KB pages, as a ctindex before this one made them */
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(file, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "PRAGMA page_size=4096; CREATE TABLE t(x); DROP TABLE t", NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    CHECK_EQ_INT(sql_count(file, "PRAGMA page_size"), 4096);
    s = ix_open(file, IX_WRITE, err, sizeof err);
    CHECK(s != NULL);
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    CHECK_EQ_INT(add_record(s, record(2, "DeleteUser", "10.0.0.2")), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    ix_close(s);
    CHECK_EQ_INT(sql_count(file, "PRAGMA page_size"), 4096);
    CHECK_EQ_INT(sql_count(file, "SELECT count(*) FROM docs"), 1);
    s = ix_open(file, IX_READ, err, sizeof err);
    CHECK(s != NULL);
    CHECK_EQ_INT(ix_doc_count(s), 1);
    ix_close(s);
    test_remove_db(file);
}

/* Entries of ids, of ids_new, rows of docs and the meta count: "ids/ids_new/docs/meta". */
static const char *levels(const char *file) {
    static char out[96];
    snprintf(out, sizeof out, "%lld/%lld/%lld/%lld", sql_count(file, "SELECT count(*) FROM ids"),
             sql_count(file, "SELECT count(*) FROM ids_new"), sql_count(file, "SELECT count(*) FROM docs"),
             sql_count(file, "SELECT v FROM meta WHERE k='docs'"));
    return out;
}

/* A writer whose ids_new is merged past 4 entries, and whose ids fall on four hashes (every
 * lookup meets collisions, in both levels) when colliding; else it holds its new rows until they
 * are written together (ix_pending.c): no dictionary training, which writes each row at once. */
static ix_store *open_test_writer(const char *file, int colliding) {
    char err[256];
    ix_store *s = ix_open(file, IX_WRITE, err, sizeof err);
    if (!s) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    if (colliding) s->id_hash_mask = 3;
    else s->sampling_done = 1;
    s->ids_new_max = 4;
    return s;
}

static ix_store *open_colliding(const char *file) { return open_test_writer(file, 1); }

static const char moved_11[] = "{\"type\":\"add\",\"id\":\"ev-0011\",\"fields\":{\"event_name\":\"Moved\","
                               "\"event_time\":\"2024-06-01T12:00:00Z\"}}";

/* Every document as it should be now, again: each is found and left alone (none added). */
static void expect_all_unchanged(ix_store *s, const char *file, const char *want_levels) {
    char err[256];
    const ix_write_stats *ws = ix_get_write_stats(s);
    uint64_t unchanged = ws->unchanged;
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    for (int i = 0; i < 15; i++) {
        if (i == 5 || i == 10) continue; /* deleted */
        if (i == 11) CHECK_EQ_INT(apply_json(s, moved_11, err, sizeof err), 0);
        else CHECK_EQ_INT(add_record(s, record(i, i == 3 ? "DeleteUser" : "CreateUser", "10.0.0.1")), 0);
    }
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_INT(ws->unchanged - unchanged, 13);
    CHECK_EQ_STR(levels(file), want_levels);
}

/* Redelivered and deleted ids in each level, before and after a merge, with colliding hashes;
 * a merge rolled back or cut short by the writer's death loses nothing. */
static void test_ids_levels(void) {
    char err[256], file[300];
    snprintf(file, sizeof file, "%s.ids", path);
    test_remove_db(file);
    ix_store *s = open_colliding(file);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(add_record(s, record(i, "CreateUser", "10.0.0.1")), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_STR(levels(file), "0/10/10/10"); /* new ids wait in ids_new */

    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);                       /* merges: 10 > 4 */
    CHECK_EQ_INT(add_record(s, record(3, "DeleteUser", "10.0.0.1")), 0); /* in ids: replaced */
    CHECK_EQ_INT(add_record(s, record(10, "CreateUser", "10.0.0.1")), 0);
    CHECK_EQ_INT(add_record(s, record(11, "CreateUser", "10.0.0.1")), 0);
    CHECK_EQ_INT(apply_json(s, moved_11, err, sizeof err), 0); /* in ids_new, another time: replaced */
    CHECK_EQ_INT(apply_json(s, "{\"type\":\"delete\",\"id\":\"ev-0005\"}", err, sizeof err), 0); /* in ids */
    CHECK_EQ_INT(apply_json(s, "{\"type\":\"delete\",\"id\":\"ev-0010\"}", err, sizeof err), 0); /* ids_new */
    CHECK_EQ_INT(apply_json(s, "{\"type\":\"delete\",\"id\":\"ev-0005\"}", err, sizeof err), 0); /* gone */
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_INT(ix_doc_count(s), 10);
    /* ev-0003 and ev-0011 in ids_new, the 8 others in ids */
    CHECK_EQ_STR(levels(file), "8/2/10/10");

    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    for (int i = 12; i < 15; i++) CHECK_EQ_INT(add_record(s, record(i, "CreateUser", "10.0.0.1")), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_STR(levels(file), "8/5/13/13");

    /* a merge rolled back: ids_new is still whole */
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0); /* merges: 5 > 4 */
    CHECK_EQ_INT(add_record(s, record(15, "CreateUser", "10.0.0.1")), 0);
    CHECK_EQ_INT(apply_json(s, "{\"type\":\"delete\",\"id\":\"ev-0012\"}", err, sizeof err), 0);
    ix_rollback(s);
    CHECK_EQ_STR(levels(file), "8/5/13/13");
    CHECK_EQ_INT(ix_doc_count(s), 13);

    /* a writer that dies in the middle of its merge */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ix_store *w = open_colliding(file);
        if (w && ix_begin(w, err, sizeof err) == 0 && add_record(w, record(16, "CreateUser", "10.0.0.1")) == 0)
            _exit(0); /* no commit, no close */
        _exit(1);
    }
    int st = -1;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ_STR(levels(file), "8/5/13/13");

    /* this begin merges: ids_new is counted again after the rollbacks */
    expect_all_unchanged(s, file, "13/0/13/13");
    ix_close(s);

    /* after the merge, a redelivery and a delete of ids now in ids */
    s = open_colliding(file);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    CHECK_EQ_INT(apply_json(s, "{\"type\":\"delete\",\"id\":\"ev-0014\"}", err, sizeof err), 0);
    CHECK_EQ_INT(add_record(s, record(14, "CreateUser", "10.0.0.1")), 0); /* back, into ids_new */
    CHECK_EQ_INT(add_record(s, record(13, "DeleteUser", "10.0.0.1")), 0);
    CHECK_EQ_INT(add_record(s, record(13, "CreateUser", "10.0.0.1")), 0); /* and back again */
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_STR(levels(file), "11/2/13/13");
    expect_all_unchanged(s, file, "11/2/13/13");
    ix_close(s);
    test_remove_db(file);
}

/* Adds record(i) for i in [from, to) with the event name each has now (name_of), in one
 * transaction; returns how many of them were found unchanged. */
static long long readd(ix_store *s, int from, int to, const char *(*name_of)(int)) {
    char err[256];
    uint64_t before = ix_get_write_stats(s)->unchanged;
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    for (int i = from; i < to; i++) CHECK_EQ_INT(add_record(s, record(i, name_of(i), "10.0.0.1")), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    return (long long)(ix_get_write_stats(s)->unchanged - before);
}

static const char *held_name(int i) { return i == 3 || i == 10 ? "DeleteUser" : "CreateUser"; }

static ix_store *open_holding(const char *file) { return open_test_writer(file, 0); }

/* The rows a transaction adds to docs, store and ids_new are held and written together: a
 * redelivery within the transaction (of a held document), in the next one, after a merge of
 * ids_new and from another writer still replaces or is found unchanged, never duplicates; a
 * rollback takes the held rows with it. */
static void test_ids_held(void) {
    char err[256], file[300];
    snprintf(file, sizeof file, "%s.held", path);
    test_remove_db(file);
    ix_store *s = open_holding(file);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(add_record(s, record(i, "CreateUser", "10.0.0.1")), 0);
    CHECK_EQ_INT((int)s->pend_n, 10);                                    /* held */
    CHECK_EQ_INT(add_record(s, record(3, "DeleteUser", "10.0.0.1")), 0); /* held: replaced */
    CHECK_EQ_INT(add_record(s, record(4, "CreateUser", "10.0.0.1")), 0); /* held: unchanged */
    CHECK_EQ_INT(apply_json(s, "{\"type\":\"delete\",\"id\":\"ev-0007\"}", err, sizeof err), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_INT((long long)ix_get_write_stats(s)->unchanged, 1);
    CHECK_EQ_STR(levels(file), "0/9/9/9");

    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);                        /* merges: 9 > 4 */
    CHECK_EQ_INT(add_record(s, record(7, "CreateUser", "10.0.0.1")), 0);  /* back */
    CHECK_EQ_INT(add_record(s, record(10, "CreateUser", "10.0.0.1")), 0); /* new, held */
    CHECK_EQ_INT(add_record(s, record(10, "DeleteUser", "10.0.0.1")), 0); /* held: replaced */
    CHECK_EQ_INT(add_record(s, record(3, "DeleteUser", "10.0.0.1")), 0);  /* in ids: unchanged */
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_STR(levels(file), "9/2/11/11");

    /* a rollback takes the held rows with it */
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    CHECK_EQ_INT(add_record(s, record(11, "CreateUser", "10.0.0.1")), 0);
    CHECK_EQ_INT(add_record(s, record(2, "DeleteUser", "10.0.0.1")), 0);
    ix_rollback(s);
    CHECK_EQ_STR(levels(file), "9/2/11/11");
    CHECK_EQ_INT(readd(s, 0, 11, held_name), 11);
    ix_close(s);

    /* another writer: every id is found, in both levels, after another merge */
    s = open_holding(file);
    CHECK(s != NULL);
    if (!s) return;
    s->ids_new_max = 1;
    CHECK_EQ_INT(readd(s, 0, 11, held_name), 11);
    CHECK_EQ_STR(levels(file), "11/0/11/11");
    CHECK_EQ_INT(readd(s, 0, 11, held_name), 11);

    /* ids another writer put into ids_new while this one was open are found (the hashes of
     * ids_new this one keeps are read again) */
    ix_store *w = open_holding(file);
    CHECK(w != NULL);
    if (!w) return;
    CHECK_EQ_INT(readd(w, 11, 14, held_name), 0);
    ix_close(w);
    CHECK_EQ_STR(levels(file), "11/3/14/14");
    s->ids_new_max = 100; /* no merge */
    CHECK_EQ_INT(readd(s, 0, 14, held_name), 14);
    CHECK_EQ_STR(levels(file), "11/3/14/14");
    ix_close(s);
    test_remove_db(file);
}

static const char *create_name(int i) {
    (void)i;
    return "CreateUser";
}

/* Times the statement that reads ids alone ran: a new id's lookup that the fingerprints of ids
 * kept in memory (ix_ids.c) answered does not run it. */
static int main_lookups(ix_store *s) { return sqlite3_stmt_status(s->q_id_get_main, SQLITE_STMTSTATUS_RUN, 0); }

/* The fingerprints of ids kept in memory: new ids are not looked up in ids once they are loaded;
 * ids deleted in the transaction that loaded them and rolled back, and ids another writer merged
 * into ids, are still found (each would be added a second time with fingerprints kept too
 * long). */
static void test_ids_in_memory(void) {
    char err[256], file[300];
    snprintf(file, sizeof file, "%s.idm", path);
    test_remove_db(file);
    ix_store *s = open_holding(file);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(readd(s, 0, 10, create_name), 0);
    CHECK_EQ_INT(readd(s, 10, 12, create_name), 0); /* merges 10 > 4 */
    CHECK_EQ_STR(levels(file), "10/2/12/12");
    CHECK(s->idm_ok);
    int before = main_lookups(s);
    CHECK_EQ_INT(readd(s, 12, 20, create_name), 0);
    CHECK_EQ_INT(main_lookups(s) - before, 0); /* 8 new ids, ids not read */
    CHECK_EQ_INT(readd(s, 0, 20, create_name), 20);
    ix_close(s);

    /* loaded after a delete of an id in ids, in a transaction rolled back */
    s = open_holding(file);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_STR(levels(file), "20/0/20/20");
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    s->idm_wait = 1; /* loaded at the second lookup */
    CHECK_EQ_INT(apply_json(s, "{\"type\":\"delete\",\"id\":\"ev-0003\"}", err, sizeof err), 0);
    CHECK(!s->idm_ok);
    CHECK_EQ_INT(add_record(s, record(20, "CreateUser", "10.0.0.1")), 0);
    CHECK(s->idm_ok);
    ix_rollback(s);
    CHECK_EQ_STR(levels(file), "20/0/20/20");
    CHECK_EQ_INT(readd(s, 0, 20, create_name), 20);
    CHECK(s->idm_ok);

    /* another writer merges new ids into ids while this one keeps its fingerprints */
    ix_store *w = open_holding(file);
    CHECK(w != NULL);
    if (!w) return;
    w->ids_new_max = 1;
    CHECK_EQ_INT(readd(w, 20, 23, create_name), 0);
    CHECK_EQ_INT(readd(w, 20, 23, create_name), 3); /* merges */
    ix_close(w);
    CHECK_EQ_STR(levels(file), "23/0/23/23");
    CHECK_EQ_INT(readd(s, 0, 23, create_name), 23);
    CHECK_EQ_STR(levels(file), "23/0/23/23");
    ix_close(s);
    test_remove_db(file);
}

/* Rows written into text_data and lit_data (FTS5 leaf pages and structure records, new segments
 * and merges), counted by an update hook on the writer's connection. */
static long long fts_rows_written;
static void count_fts_rows(void *ud, int what, const char *dbname, const char *table, sqlite3_int64 rowid) {
    (void)ud, (void)dbname, (void)rowid;
    if (what != SQLITE_DELETE && (strcmp(table, "text_data") == 0 || strcmp(table, "lit_data") == 0))
        fts_rows_written++;
}

/* Everything table (text or lit) holds, each instance of a term named by its document's id hash
 * (row ids differ between two files when documents were replaced): "instances:fnv-1a". */
static const char *fts_content(const char *file, const char *table) {
    static char out[64];
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT v.term, i.h, v.col, v.offset FROM temp.v JOIN "
             "(SELECT h, doc FROM ids UNION ALL SELECT h, doc FROM ids_new) i ON i.doc = v.doc ORDER BY 1, 2, 3, 4");
    char vocab[128];
    snprintf(vocab, sizeof vocab, "CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, %s, instance)", table);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    unsigned long long h = 1469598103934665603ull, n = 0;
    if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_exec(db, vocab, NULL, NULL, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            n++;
            for (int c = 0; c < 4; c++) {
                const unsigned char *v = sqlite3_column_text(st, c);
                for (; v && *v; v++) h = (h ^ *v) * 1099511628211ull;
                h = (h ^ 0xff) * 1099511628211ull;
            }
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    snprintf(out, sizeof out, "%llu:%016llx", n, h);
    return out;
}

/* The checks FTS5 makes of its own structures. */
static int fts_intact(const char *file) {
    return sql_exec(file, "INSERT INTO text(text) VALUES('integrity-check'); "
                          "INSERT INTO lit(lit) VALUES('integrity-check')");
}

/* Documents 0 to n-1 in one transaction; record(i) is in hour i % 10: in that order they
 * alternate between ten hours, in hour order they come hour by hour (the same row ids). Returns
 * the rows FTS5 wrote. */
static long long add_batch(const char *file, int n, int hour_order) {
    char err[256];
    test_remove_db(file);
    ix_store *s = ix_open(file, IX_WRITE, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return -1;
    fts_rows_written = 0;
    sqlite3_update_hook(s->db, count_fts_rows, NULL);
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    for (int k = 0; k < n; k++) {
        int i = hour_order ? (k % (n / 10)) * 10 + k / (n / 10) : k;
        CHECK_EQ_INT(add_record(s, record(i, i % 3 ? "CreateUser" : "AttachUserPolicy", "10.0.0.1")), 0);
    }
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    ix_close(s);
    return fts_rows_written;
}

/* FTS5 starts a new segment at every write with a lower row id than the one before: a batch whose
 * documents alternate between hours went in as one segment a document, merged again (2.8 times the
 * CPU for records of two hours interleaved). The writes are applied in row id order at commit: such
 * a batch writes what the same batch in hour order writes, and the index holds the same. */
static void test_rowid_order(void) {
    char a[300], b[300];
    snprintf(a, sizeof a, "%s.mixed", path);
    snprintf(b, sizeof b, "%s.sorted", path);
    long long mixed = add_batch(a, 400, 0), sorted = add_batch(b, 400, 1);
    fprintf(stderr, "FTS5 rows written: %lld alternating hours, %lld in hour order\n", mixed, sorted);
    CHECK(sorted > 0);
    CHECK(mixed <= sorted + 2);
    CHECK_EQ_INT(sql_count(a, "SELECT count(*) FROM text_data"), sql_count(b, "SELECT count(*) FROM text_data"));
    CHECK_EQ_STR(fts_content(a, "text"), fts_content(b, "text"));
    CHECK_EQ_STR(fts_content(a, "lit"), fts_content(b, "lit"));
    CHECK_EQ_INT(sql_count(a, "SELECT count(*) FROM text WHERE text MATCH 'attachuserpolicy'"), 134);
    CHECK_EQ_INT(fts_intact(a), 0);
    test_remove_db(a);
    test_remove_db(b);
}

/* Replacements and deletes in a transaction whose writes wait for its commit: of documents
 * committed before, and of documents added in the same transaction (their insert still queued),
 * leave the index as adding the final documents at once does. */
static void test_rowid_order_replace(void) {
    char a[300], b[300], err[256];
    snprintf(a, sizeof a, "%s.replaced", path);
    snprintf(b, sizeof b, "%s.final", path);
    ix_close(open_fresh(".replaced", a, sizeof a));
    ix_store *s = ix_open(a, IX_WRITE, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    for (int i = 0; i < 100; i++) CHECK_EQ_INT(add_record(s, record(i, "CreateUser", "10.0.0.1")), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    for (int i = 0; i < 20; i++) CHECK_EQ_INT(add_record(s, record(i, "DeleteUser", "192.0.2.7")), 0);
    for (int i = 20; i < 30; i++) {
        char del[64];
        snprintf(del, sizeof del, "{\"type\":\"delete\",\"id\":\"ev-%04d\"}", i);
        CHECK_EQ_INT(apply_json(s, del, err, sizeof err), 0);
    }
    for (int i = 100; i < 120; i++) CHECK_EQ_INT(add_record(s, record(i, "CreateUser", "10.0.0.1")), 0);
    CHECK_EQ_INT(apply_json(s, "{\"type\":\"delete\",\"id\":\"ev-0100\"}", err, sizeof err), 0); /* queued */
    CHECK_EQ_INT(add_record(s, record(101, "PutUserPolicy", "198.51.100.1")), 0);                /* queued */
    CHECK_EQ_INT(add_record(s, record(101, "TagUser", "198.51.100.2")), 0);                      /* again */
    CHECK_EQ_INT(apply_json(s, "{\"type\":\"delete\",\"id\":\"ev-0102\"}", err, sizeof err), 0);
    CHECK_EQ_INT(add_record(s, record(102, "CreateUser", "10.0.0.1")), 0);  /* back */
    CHECK_EQ_INT(add_record(s, record(3, "DeleteUser", "203.0.113.3")), 0); /* replaced twice */
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_INT(ix_doc_count(s), 109);
    ix_close(s);

    s = open_fresh(".final", b, sizeof b);
    if (!s) return;
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    for (int i = 0; i < 120; i++) {
        if ((i >= 20 && i < 30) || i == 100) continue;
        const char *name = i < 20 ? "DeleteUser" : i == 101 ? "TagUser" : "CreateUser";
        const char *ip = i == 3 ? "203.0.113.3" : i < 20 ? "192.0.2.7" : i == 101 ? "198.51.100.2" : "10.0.0.1";
        CHECK_EQ_INT(add_record(s, record(i, name, ip)), 0);
    }
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_INT(ix_doc_count(s), 109);
    ix_close(s);
    CHECK_EQ_STR(fts_content(a, "text"), fts_content(b, "text"));
    CHECK_EQ_STR(fts_content(a, "lit"), fts_content(b, "lit"));
    CHECK_EQ_INT(sql_count(a, "SELECT count(*) FROM text WHERE text MATCH 'tagUser'"), 1);
    CHECK_EQ_INT(sql_count(a, "SELECT count(*) FROM text WHERE text MATCH 'putuserpolicy'"), 0);
    CHECK_EQ_INT(fts_intact(a), 0);
    test_remove_db(a);
    test_remove_db(b);
}

/* An index made by an older ctindex (another format) is refused with a message that says so. */
static void test_refuse_old_format(void) {
    char err[256], file[300];
    ix_close(open_fresh(".old", file, sizeof file));
    CHECK_EQ_INT(sql_exec(file, "UPDATE meta SET v='ctindex-index-1' WHERE k='format'"), 0);
    for (int mode = IX_READ; mode <= IX_WRITE; mode++) {
        err[0] = '\0';
        ix_store *s = ix_open(file, mode, err, sizeof err);
        CHECK(s == NULL);
        ix_close(s);
        CHECK(strstr(err, "another ctindex version (format ctindex-index-1, this one reads " IX_FORMAT
                          "): index into a new file") != NULL);
    }
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

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* Record i, varied the way CloudTrail records vary (about 1.3 KB), the same for the same i. */
static const char *varied_record(int i) {
    static const char *names[] = {"GetObject",   "PutObject",  "AssumeRole", "DescribeInstances",
                                  "ListBuckets", "CreateUser", "Decrypt",    "GetCallerIdentity"};
    static const char *sources[] = {"s3.amazonaws.com", "sts.amazonaws.com", "ec2.amazonaws.com", "kms.amazonaws.com",
                                    "iam.amazonaws.com"};
    static const char *agents[] = {
        "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.ubuntu.22",
        "Boto3/1.34.2 md/Botocore#1.34.2 ua/2.0 os/linux#5.15 md/arch#x86_64 lang/python#3.12",
        "aws-sdk-java/2.21.10 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.8", "console.amazonaws.com"};
    static char r[4096];
    uint64_t h = mix((uint64_t)i + 1), g = mix(h), k = mix(g);
    snprintf(
        r, sizeof r,
        "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"AssumedRole\",\"principalId\":\"AROA%08llX:s-%llu\","
        "\"arn\":\"arn:aws:sts::1111222%05llu:assumed-role/role-%llu/session-%llu\",\"accountId\":\"1111222%05llu\","
        "\"accessKeyId\":\"ASIA%012llX\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\","
        "\"principalId\":\"AROA%08llX\",\"arn\":\"arn:aws:iam::1111222%05llu:role/role-%llu\","
        "\"accountId\":\"1111222%05llu\",\"userName\":\"role-%llu\"},\"attributes\":{\"creationDate\":"
        "\"2024-05-01T%02d:%02d:00Z\",\"mfaAuthenticated\":\"false\"}}},"
        "\"eventTime\":\"2024-05-%02dT%02d:%02d:%02dZ\",\"eventSource\":\"%s\",\"eventName\":\"%s\","
        "\"awsRegion\":\"us-east-%d\",\"sourceIPAddress\":\"%llu.%llu.%llu.%llu\",\"userAgent\":\"%s\","
        "\"requestParameters\":{\"bucketName\":\"bucket-%llu\",\"key\":\"data/%llx/%llx.json.gz\","
        "\"Host\":\"bucket-%llu.s3.us-east-1.amazonaws.com\"},\"responseElements\":null,"
        "\"additionalEventData\":{\"bytesTransferredIn\":%llu,\"bytesTransferredOut\":%llu,"
        "\"x-amz-id-2\":\"%016llx%016llx\"},\"requestID\":\"%016llX\",\"eventID\":\"%08x-%04llx-%04llx-%012llx\","
        "\"readOnly\":%s,\"resources\":[{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::bucket-%llu/data/"
        "%llx\"}],\"eventType\":\"AwsApiCall\",\"managementEvent\":false,\"recipientAccountId\":\"1111222%05llu\","
        "\"eventCategory\":\"Data\"}",
        (unsigned long long)(h & 0xffffffff), (unsigned long long)(g % 1000), (unsigned long long)(h % 7),
        (unsigned long long)(g % 13), (unsigned long long)(k % 100000), (unsigned long long)(h % 7),
        (unsigned long long)(k & 0xffffffffffffULL), (unsigned long long)(h & 0xffffffff), (unsigned long long)(h % 7),
        (unsigned long long)(g % 13), (unsigned long long)(h % 7), (unsigned long long)(g % 13), (int)(h % 24),
        (int)(g % 60), 1 + i % 28, (int)(k % 24), (int)(h % 60), (int)(g % 60), sources[h % 5], names[g % 8],
        1 + (int)(k % 2), (unsigned long long)(h >> 56), (unsigned long long)((g >> 40) & 255),
        (unsigned long long)((k >> 8) & 255), (unsigned long long)(h & 255), agents[k % 4],
        (unsigned long long)(g % 50), (unsigned long long)(k & 0xfffff), (unsigned long long)(h & 0xffffffff),
        (unsigned long long)(g % 50), (unsigned long long)(k % 4096), (unsigned long long)(h % 100000),
        (unsigned long long)g, (unsigned long long)k, (unsigned long long)(k ^ h), (unsigned)i,
        (unsigned long long)(h & 0xffff), (unsigned long long)(g & 0xffff), (unsigned long long)(k & 0xffffffffffffULL),
        g & 1 ? "true" : "false", (unsigned long long)(g % 50), (unsigned long long)(k & 0xfffff),
        (unsigned long long)(h % 7));
    return r;
}

/* Records [from, from + n) in one transaction of a writer of its own; 0 when committed. */
static int writer(const char *file, int from, int n) {
    char err[256];
    ix_store *s = ix_open(file, IX_WRITE, err, sizeof err);
    if (!s) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    int rc = ix_begin(s, err, sizeof err);
    for (int i = from; i < from + n && rc == 0; i++) rc = add_record(s, varied_record(i));
    if (rc == 0) rc = ix_commit(s, err, sizeof err);
    ix_close(s);
    return rc;
}

static long long dicts(const char *file) { return sql_count(file, "SELECT count(*) FROM dicts"); }
static long long without_dict(const char *file) {
    return sql_count(file, "SELECT count(*) FROM store WHERE hex(substr(z, 2, 1)) = '00'");
}
static long long stored_bytes(const char *file) { return sql_count(file, "SELECT sum(length(z)) FROM store"); }

/* Every record in [0, n) reads back as the document built from it, byte for byte. */
static int reads_back(const char *file, int n) {
    char err[256];
    ix_store *s = ix_open(file, IX_READ, err, sizeof err);
    if (!s) return 0;
    int ok = ix_doc_count(s) == n;
    for (int i = 0; i < n && ok; i++) {
        docb_result res;
        const char *rec = varied_record(i);
        long len = docb_build(builder, rec, strlen(rec), docbuf, sizeof docbuf, &res);
        ix_idref ref;
        if (len <= 0 || sdf_parse_op(&jd, docbuf, (size_t)len, 1, 1, &scratch, &op, err, sizeof err) != 0 ||
            ix__find_id(s, op.id, op.id_len, &ref, err, sizeof err) <= 0 || s->loaded_len != (size_t)len ||
            memcmp(s->loaded, docbuf, (size_t)len) != 0) {
            fprintf(stderr, "record %d does not read back\n", i);
            ok = 0;
        }
    }
    ix_close(s);
    return ok;
}

static void name(char *file, size_t cap, const char *suffix) {
    snprintf(file, cap, "%s%s", path, suffix);
    test_remove_db(file);
}

/* 30 writers of 100 records against one of 3,000: both get a dictionary, no record is left
 * without it, and the stored bytes are within 10%. */
static void test_many_small_writers(void) {
    char one[300], many[300];
    name(one, sizeof one, "-one.db");
    name(many, sizeof many, "-many.db");
    CHECK_EQ_INT(writer(one, 0, 3000), 0);
    for (int w = 0; w < 30; w++) CHECK_EQ_INT(writer(many, w * 100, 100), 0);
    CHECK_EQ_INT(dicts(one), 1);
    CHECK_EQ_INT(dicts(many), 1);
    CHECK_EQ_INT(without_dict(one), 0);
    CHECK_EQ_INT(without_dict(many), 0);
    long long b1 = stored_bytes(one), bm = stored_bytes(many);
    printf("stored bytes a record: one writer %.1f, 30 writers %.1f\n", b1 / 3000.0, bm / 3000.0);
    CHECK(b1 > 0 && bm > 0 && bm * 10 <= b1 * 11);
    CHECK(reads_back(one, 3000));
    CHECK(reads_back(many, 3000));

    /* The first writer's records, redelivered: compressed again with the dictionary, they are
     * what the writer makes of them now, so nothing is replaced. */
    char err[256];
    ix_store *s = ix_open(many, IX_WRITE, err, sizeof err);
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
        for (int i = 0; i < 100; i++) CHECK_EQ_INT(add_record(s, varied_record(i)), 0);
        CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
        CHECK_EQ_INT(ix_get_write_stats(s)->unchanged, 100);
        CHECK_EQ_INT(ix_doc_count(s), 3000);
        ix_close(s);
    }
    test_remove_db(one);
    test_remove_db(many);
}

/* A writer killed while its transaction holds a new dictionary (and the records it compressed
 * again), and one that rolls back: the index keeps its committed records, readable, without a
 * dictionary; the next transaction trains it. */
static void test_killed_while_training(void) {
    char file[300];
    name(file, sizeof file, "-killed.db");
    for (int w = 0; w < 9; w++) CHECK_EQ_INT(writer(file, w * 100, 100), 0);
    CHECK_EQ_INT(dicts(file), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char err[256];
        ix_store *s = ix_open(file, IX_WRITE, err, sizeof err);
        if (!s || ix_begin(s, err, sizeof err) != 0) _exit(2);
        for (int i = 900; i < 1100; i++)
            if (add_record(s, varied_record(i)) != 0) _exit(3);
        _exit(s->dict_in_tx ? 0 : 4); /* no commit, no rollback: as kill -9 */
    }
    int st = -1;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0); /* it had trained */
    CHECK_EQ_INT(dicts(file), 0);
    CHECK_EQ_INT(without_dict(file), 900);
    CHECK(reads_back(file, 900));

    /* trained in a transaction rolled back, then in the next one of the same writer */
    char err[256];
    ix_store *s = ix_open(file, IX_WRITE, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    for (int i = 900; i < 1100; i++) CHECK_EQ_INT(add_record(s, varied_record(i)), 0);
    CHECK(s->dict_in_tx);
    ix_rollback(s);
    CHECK_EQ_INT(dicts(file), 0);
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    for (int i = 900; i < 1000; i++) CHECK_EQ_INT(add_record(s, varied_record(i)), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    ix_close(s);
    CHECK_EQ_INT(dicts(file), 1);
    CHECK_EQ_INT(without_dict(file), 0);
    CHECK(reads_back(file, 1000));
    test_remove_db(file);
}

/* Compresses every stored blob of file again with the dictionary parameters of the index's
 * first writers (matches of 7 bytes, 2^14 hash entries, acceleration 3: before session 6), as
 * their blobs are in the indexes they wrote; how many blobs came out different. */
static int store_with_earlier_parameters(const char *file) {
    sqlite3 *db = NULL;
    sqlite3_stmt *d = NULL, *get = NULL, *put = NULL;
    ZSTD_CDict *cdict = NULL;
    ZSTD_DDict *ddict = NULL;
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    static char z[1 << 16], unz[1 << 16];
    int changed = 0;
    if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT d FROM dicts WHERE id=1", -1, &d, NULL) != SQLITE_OK ||
        sqlite3_step(d) != SQLITE_ROW)
        goto done;
    size_t dn = (size_t)sqlite3_column_bytes(d, 0);
    ZSTD_compressionParameters cp = ZSTD_getCParams(1, 2048, dn);
    cp.minMatch = 7;
    cp.hashLog = 14;
    cp.targetLength = 3;
    cdict =
        ZSTD_createCDict_advanced(sqlite3_column_blob(d, 0), dn, ZSTD_dlm_byCopy, ZSTD_dct_auto, cp, ZSTD_defaultCMem);
    ddict = ZSTD_createDDict(sqlite3_column_blob(d, 0), dn);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_literalCompressionMode, ZSTD_ps_enable);
    if (cctx && cdict && ddict && dctx && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT rowid, z FROM store", -1, &get, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "UPDATE store SET z=?2 WHERE rowid=?1", -1, &put, NULL) == SQLITE_OK) {
        while (sqlite3_step(get) == SQLITE_ROW) {
            const unsigned char *b = sqlite3_column_blob(get, 1);
            size_t n = (size_t)sqlite3_column_bytes(get, 1);
            if (n < 3 || b[1] != 1) continue;
            size_t un = ZSTD_decompress_usingDDict(dctx, unz, sizeof unz, b + 2, n - 2, ddict);
            if (ZSTD_isError(un)) continue;
            z[0] = (char)b[0];
            z[1] = 1;
            ZSTD_CCtx_refCDict(cctx, cdict);
            size_t zn = ZSTD_compress2(cctx, z + 2, sizeof z - 2, unz, un);
            if (ZSTD_isError(zn)) continue;
            changed += zn + 2 != n || memcmp(z, b, n) != 0;
            sqlite3_bind_int64(put, 1, sqlite3_column_int64(get, 0));
            sqlite3_bind_blob(put, 2, z, (int)zn + 2, SQLITE_STATIC);
            sqlite3_step(put);
            sqlite3_reset(put);
        }
        sqlite3_finalize(get);
        get = NULL;
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
done:
    ZSTD_freeDDict(ddict);
    ZSTD_freeDCtx(dctx);
    sqlite3_finalize(d);
    sqlite3_finalize(get);
    sqlite3_finalize(put);
    sqlite3_close(db);
    ZSTD_freeCDict(cdict);
    ZSTD_freeCCtx(cctx);
    return changed;
}

/* An index written before the dictionary's parameters changed reads the same: its blobs are
 * plain zstd frames, which decompress whatever parameters compressed them. A redelivered
 * record is compressed with today's parameters: it replaces the old copy, never duplicates. */
static void test_blobs_of_earlier_parameters(void) {
    char file[300];
    name(file, sizeof file, "-earlier.db");
    CHECK_EQ_INT(writer(file, 0, 1500), 0);
    CHECK_EQ_INT(dicts(file), 1);
    CHECK_EQ_INT(without_dict(file), 0);
    int changed = store_with_earlier_parameters(file);
    printf("blobs that differ under the earlier parameters: %d of 1500\n", changed);
    CHECK(changed > 0); /* else this test would not see the earlier parameters at all */
    CHECK(reads_back(file, 1500));
    char err[256];
    ix_store *s = ix_open(file, IX_WRITE, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(ix_begin(s, err, sizeof err), 0);
    for (int i = 0; i < 100; i++) CHECK_EQ_INT(add_record(s, varied_record(i)), 0);
    CHECK_EQ_INT(ix_commit(s, err, sizeof err), 0);
    CHECK_EQ_INT(ix_doc_count(s), 1500);
    ix_close(s);
    CHECK(reads_back(file, 1500));
    test_remove_db(file);
}

static int key_order(const void *a, const void *b) {
    const ix_pend_key *x = a, *y = b;
    if (x->h != y->h) return (x->h > y->h) - (x->h < y->h);
    return (x->doc > y->doc) - (x->doc < y->doc);
}

/* The held ids_new keys are sorted by (h, doc) as the index orders them: negative and positive
 * hashes, hashes equal in their high bytes or whole (collisions, whose docs come ascending), and
 * the sizes where a pass is skipped. */
static void test_pending_key_order(void) {
    enum { N = 3000 };
    static ix_pend_key k[N], tmp[N], want[N];
    uint64_t x = 88172645463325252u;
    uint32_t sizes[] = {0, 1, 2, 7, 256, N};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
        for (int shape = 0; shape < 3; shape++) {
            uint32_t n = sizes[z];
            for (uint32_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                int64_t h = (int64_t)x;
                if (shape == 1) h = (int64_t)(x % 5) - 2; /* many equal, some negative */
                if (shape == 2) h = (int64_t)((x & 0xff00u) | UINT64_C(0x8123450000000000)); /* equal bytes */
                k[i] = (ix_pend_key){h, (int64_t)i + 1};                                     /* docs ascending */
            }
            memcpy(want, k, n * sizeof *k);
            qsort(want, n, sizeof *want, key_order);
            ix__pending_sort_keys(k, tmp, n);
            CHECK(n == 0 || memcmp(k, want, n * sizeof *k) == 0);
        }
}

int main(void) {
    snprintf(path, sizeof path, "/tmp/ctindex-test-store-%d.db", (int)getpid());
    unlink(path);
    json_doc_init(&jd, SDF_MAX_TOKENS);
    buf_init(&scratch, SDF_MAX_DOC_BYTES + 16);
    builder = docb_new(NULL);
    RUN(test_write_read);
    RUN(test_fts_hash_size);
    RUN(test_lit_merge_options);
    RUN(test_page_size);
    RUN(test_ids_levels);
    RUN(test_ids_held);
    RUN(test_ids_in_memory);
    RUN(test_rowid_order);
    RUN(test_rowid_order_replace);
    RUN(test_refuse_old_format);
    RUN(test_trusted_raw);
    RUN(test_hinted_raw);
    RUN(test_fields_path);
    RUN(test_text_len);
    RUN(test_tokens_and_hashes);
    RUN(test_refuse_foreign_file);
    RUN(test_many_small_writers);
    RUN(test_killed_while_training);
    RUN(test_blobs_of_earlier_parameters);
    RUN(test_pending_key_order);
    docb_free(builder);
    json_doc_free(&jd);
    buf_free(&scratch);
    test_remove_db(path);
    TEST_MAIN_END();
}
