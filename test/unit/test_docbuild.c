#include "base/json.h"
#include "base/jsonw.h"
#include "pipeline/docbuild.h"
#include "testlib.h"

static json_doc pd; /* parses the produced documents */
static char *out;   /* document output buffer */
static const size_t OUTCAP = 4u << 20;
static char val[2u << 20]; /* decoded field values */

static const char *REC =
    "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"AssumedRole\",\"principalId\":\"AROAEXAMPLE:alice\","
    "\"arn\":\"arn:aws:sts::123456789012:assumed-role/Admin/alice\",\"accountId\":\"123456789012\","
    "\"accessKeyId\":\"ASIAEXAMPLE\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\","
    "\"principalId\":\"AROAEXAMPLE\",\"arn\":\"arn:aws:iam::123456789012:role/Admin\",\"accountId\":\"123456789012\","
    "\"userName\":\"Admin\"},\"webIdFederationData\":{},\"attributes\":{\"creationDate\":\"2024-03-05T10:00:00Z\","
    "\"mfaAuthenticated\":\"true\"}}},\"eventTime\":\"2024-03-05T10:11:12Z\",\"eventSource\":\"s3.amazonaws.com\","
    "\"eventName\":\"PutObject\",\"awsRegion\":\"eu-west-1\",\"sourceIPAddress\":\"203.0.113.7\","
    "\"userAgent\":\"aws-cli/2.15.0 Python/3.11\",\"requestParameters\":{\"bucketName\":\"my-bucket\","
    "\"key\":\"a \\\"quoted\\\" key\",\"Host\":\"my-bucket.s3.eu-west-1.amazonaws.com\"},\"responseElements\":null,"
    "\"additionalEventData\":{\"bytesTransferredIn\":42},\"requestID\":\"ABCD1234\","
    "\"eventID\":\"8d4b1e2c-1f1a-4c3b-9f6e-0123456789ab\",\"readOnly\":false,\"resources\":[{\"type\":\"AWS::S3::"
    "Object\","
    "\"ARN\":\"arn:aws:s3:::my-bucket/key\"},{\"accountId\":\"123456789012\",\"type\":\"AWS::S3::Bucket\","
    "\"ARN\":\"arn:aws:s3:::my-bucket\"}],\"eventType\":\"AwsApiCall\",\"managementEvent\":false,"
    "\"recipientAccountId\":\"123456789012\",\"eventCategory\":\"Data\",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\","
    "\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":\"my-bucket.s3.eu-west-1.amazonaws.com\"}"
    "}";

/* Independent check that every decoded string holds only XML 1.0 characters in valid UTF-8. */
static int clean_utf8(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = p[i], cp, len;
        if (c < 0x80) cp = c, len = 1;
        else if ((c & 0xE0) == 0xC0) cp = c & 0x1F, len = 2;
        else if ((c & 0xF0) == 0xE0) cp = c & 0x0F, len = 3;
        else if ((c & 0xF8) == 0xF0) cp = c & 0x07, len = 4;
        else return 0;
        if (i + len > n) return 0;
        for (unsigned k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        static const unsigned min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
            return 0;
        if (cp < 0x20 && cp != 9 && cp != 10 && cp != 13) return 0;
        i += len;
    }
    return 1;
}

static int doc_clean(void) {
    for (unsigned i = 0; i < pd.ntoks; i++) {
        if (pd.toks[i].type != JSON_STRING) continue;
        long n = json_tok_decode(&pd, (int)i, val, sizeof val);
        if (n < 0 || !clean_utf8((const unsigned char *)val, (size_t)n)) return 0;
    }
    return 1;
}

/* Parses an SDF document and returns its "fields" object token, or -1. */
static int parse_sdf(long n) {
    if (n <= 0 || json_parse(&pd, out, (size_t)n) != JSON_OK) return -1;
    if (!json_tok_streq(&pd, json_obj_get(&pd, 0, "type"), "add")) return -1;
    if (!doc_clean()) return -1;
    return json_obj_get(&pd, 0, "fields");
}

/* Decoded value of a string field, or NULL when absent / not a string. */
static const char *fstr(int fields, const char *name) {
    int t = json_obj_get(&pd, fields, name);
    if (t < 0 || pd.toks[t].type != JSON_STRING) return NULL;
    return json_tok_decode(&pd, t, val, sizeof val) < 0 ? NULL : val;
}

static doc_builder *builder_profile(int format, int raw, schema_profile profile) {
    docb_options o;
    docb_options_default(&o);
    o.format = format;
    o.include_raw = raw;
    o.profile = profile;
    return docb_new(&o);
}

/* The full profile: every field, so the tests below see each value source at work. */
static doc_builder *builder(int format, int raw) { return builder_profile(format, raw, SCHEMA_FULL); }

static void test_realistic(void) {
    doc_builder *b = builder(BATCH_SDF, 1);
    docb_result res;
    long n = docb_build(b, REC, strlen(REC), out, OUTCAP, &res);
    int f = parse_sdf(n);
    CHECK(f > 0);
    CHECK_EQ_STR(res.id, "8d4b1e2c-1f1a-4c3b-9f6e-0123456789ab");
    CHECK_EQ_INT(res.id_fallback, 0);
    CHECK_EQ_INT(res.trimmed, 0);
    CHECK_EQ_INT(res.dropped, 0);
    CHECK(json_tok_streq(&pd, json_obj_get(&pd, 0, "id"), "8d4b1e2c-1f1a-4c3b-9f6e-0123456789ab"));
    CHECK_EQ_INT(pd.toks[f].size, (long)res.fields);
    CHECK_EQ_INT(res.fields, 34);
    CHECK_EQ_STR(fstr(f, "event_id"), "8d4b1e2c-1f1a-4c3b-9f6e-0123456789ab");
    CHECK_EQ_STR(fstr(f, "event_name"), "PutObject");
    CHECK_EQ_STR(fstr(f, "event_time"), "2024-03-05T10:11:12Z");
    CHECK_EQ_STR(fstr(f, "event_source"), "s3.amazonaws.com");
    CHECK_EQ_STR(fstr(f, "aws_region"), "eu-west-1");
    CHECK_EQ_STR(fstr(f, "source_ip_address"), "203.0.113.7");
    CHECK_EQ_STR(fstr(f, "user_identity_type"), "AssumedRole");
    CHECK_EQ_STR(fstr(f, "user_identity_account_id"), "123456789012");
    CHECK_EQ_STR(fstr(f, "user_identity_arn"), "arn:aws:sts::123456789012:assumed-role/Admin/alice");
    CHECK_EQ_STR(fstr(f, "user_identity_session_issuer_user_name"), "Admin");
    CHECK_EQ_STR(fstr(f, "user_identity_session_issuer_arn"), "arn:aws:iam::123456789012:role/Admin");
    CHECK_EQ_STR(fstr(f, "user_identity_mfa_authenticated"), "true");
    CHECK_EQ_STR(fstr(f, "user_identity_session_creation_date"), "2024-03-05T10:00:00Z");
    CHECK_EQ_STR(fstr(f, "read_only"), "false");
    CHECK_EQ_STR(fstr(f, "management_event"), "false");
    CHECK_EQ_STR(fstr(f, "request_id"), "ABCD1234");
    CHECK_EQ_STR(fstr(f, "event_type"), "AwsApiCall");
    CHECK_EQ_STR(fstr(f, "event_category"), "Data");
    CHECK_EQ_STR(fstr(f, "event_version"), "1.08");
    CHECK_EQ_STR(fstr(f, "tls_version"), "TLSv1.3");
    CHECK_EQ_STR(fstr(f, "user_agent"), "aws-cli/2.15.0 Python/3.11");
    CHECK_EQ_STR(fstr(f, "request_parameters"), "{\"bucketName\":\"my-bucket\",\"key\":\"a \\\"quoted\\\" "
                                                "key\",\"Host\":\"my-bucket.s3.eu-west-1.amazonaws.com\"}");
    CHECK_EQ_STR(fstr(f, "additional_event_data"), "{\"bytesTransferredIn\":42}");
    CHECK_EQ_STR(fstr(f, "raw"), REC);
    int arns = json_obj_get(&pd, f, "resource_arns");
    CHECK(arns > 0 && pd.toks[arns].type == JSON_ARRAY && pd.toks[arns].size == 2);
    CHECK(json_tok_streq(&pd, json_array_at(&pd, arns, 0), "arn:aws:s3:::my-bucket/key"));
    CHECK(json_tok_streq(&pd, json_array_at(&pd, arns, 1), "arn:aws:s3:::my-bucket"));
    int accts = json_obj_get(&pd, f, "resource_account_ids");
    CHECK(accts > 0 && pd.toks[accts].size == 1);
    /* absent or null in the record: omitted */
    CHECK_EQ_INT(json_obj_get(&pd, f, "response_elements"), -1);
    CHECK_EQ_INT(json_obj_get(&pd, f, "error_code"), -1);
    CHECK_EQ_INT(json_obj_get(&pd, f, "ctindex_trimmed"), -1);
    CHECK_EQ_INT(json_obj_get(&pd, f, "user_identity_user_name"), -1);
    /* output exactly as expected at the start */
    const char *head = "{\"type\":\"add\",\"id\":\"8d4b1e2c-1f1a-4c3b-9f6e-0123456789ab\",\"fields\":{\"event_id\":";
    CHECK(strncmp(out, head, strlen(head)) == 0);
    /* same builder, same record: byte-identical document (no state leaks between records) */
    char *copy = malloc((size_t)n);
    memcpy(copy, out, (size_t)n);
    CHECK_EQ_INT(docb_build(b, REC, strlen(REC), out, OUTCAP, &res), n);
    CHECK(memcmp(copy, out, (size_t)n) == 0);
    free(copy);
    docb_free(b);
}

static void test_omitted(void) {
    doc_builder *b = builder(BATCH_SDF, 0);
    docb_result res;
    const char *rec = " {\"eventID\":\"abc\",\"eventName\":\"X\",\"requestParameters\":null,\"responseElements\":{},"
                      "\"resources\":[],\"userIdentity\":{},\"errorCode\":\"\",\"readOnly\":null,"
                      "\"eventTime\":\"yesterday\",\"awsRegion\":{\"a\":1}}\n";
    long n = docb_build(b, rec, strlen(rec), out, OUTCAP, &res);
    int f = parse_sdf(n);
    CHECK(f > 0);
    CHECK_EQ_INT(res.fields, 2);
    CHECK_EQ_INT(pd.toks[f].size, 2);
    CHECK_EQ_STR(fstr(f, "event_id"), "abc");
    CHECK_EQ_STR(fstr(f, "event_name"), "X");
    CHECK_EQ_INT(res.skipped_values, 2); /* malformed eventTime, object awsRegion */
    /* nothing to index at all */
    n = docb_build(b, "{\"foo\":1}", 9, out, OUTCAP, &res);
    CHECK_EQ_INT(n, DOCB_BAD);
    CHECK(res.error && strstr(res.error, "no indexable"));
    docb_free(b);
}

static void test_sanitised(void) {
    doc_builder *b = builder(BATCH_SDF, 1);
    docb_result res;
    const char *rec = "{\"eventName\":\"Put\\u0001Obj\xff\xfe"
                      "ect\\b\",\"userAgent\":\"ua \\ud83d\\ude00 \xf0\x9f\x98\x80\","
                      "\"errorMessage\":\"lone \\udc00 low \\uffff end\",\"eventID\":\"e1\"}";
    long n = docb_build(b, rec, strlen(rec), out, OUTCAP, &res);
    int f = parse_sdf(n);
    CHECK(f > 0);
    CHECK_EQ_STR(fstr(f, "event_name"), "PutObject");
    CHECK_EQ_STR(fstr(f, "user_agent"), "ua \xf0\x9f\x98\x80 \xf0\x9f\x98\x80");
    CHECK_EQ_STR(fstr(f, "error_message"), "lone  low  end");
    /* \u0001, \xff, \xfe, \b in event_name; \udc00, \uffff; \xff \xfe again in raw */
    CHECK_EQ_INT(res.dropped, 8);
    const char *raw = fstr(f, "raw");
    CHECK(raw && strstr(raw, "Put\\u0001Objece") == NULL && strstr(raw, "Put\\u0001Object\\b") != NULL);
    docb_free(b);
}

static void test_id_fallback(void) {
    doc_builder *b = builder(BATCH_SDF, 0);
    docb_result res;
    const char *rec = "{\"eventName\":\"X\"}";
    CHECK(docb_build(b, rec, strlen(rec), out, OUTCAP, &res) > 0);
    CHECK_EQ_STR(res.id, "h_88b5e613aa7d3474"); /* FNV-1a 64 of the record bytes */
    CHECK_EQ_INT(res.id_fallback, 1);
    int f = parse_sdf(docb_build(b, rec, strlen(rec), out, OUTCAP, &res));
    CHECK(f > 0 && json_tok_streq(&pd, json_obj_get(&pd, 0, "id"), "h_88b5e613aa7d3474"));
    CHECK_EQ_INT(json_obj_get(&pd, f, "event_id"), -1);
    const char *rec2 = "{\"eventName\":\"Y\"}";
    CHECK(docb_build(b, rec2, strlen(rec2), out, OUTCAP, &res) > 0);
    CHECK(strcmp(res.id, "h_88b5e613aa7d3474") != 0 && strncmp(res.id, "h_", 2) == 0);
    /* an eventID CloudSearch could reject is not used as the id (but still indexed) */
    const char *rec3 = "{\"eventName\":\"X\",\"eventID\":\"has space\"}";
    f = parse_sdf(docb_build(b, rec3, strlen(rec3), out, OUTCAP, &res));
    CHECK_EQ_INT(res.id_fallback, 1);
    CHECK(f > 0);
    CHECK_EQ_STR(fstr(f, "event_id"), "has space");
    char longid[200];
    memset(longid, 'a', sizeof longid);
    char rec4[300];
    snprintf(rec4, sizeof rec4, "{\"eventID\":\"%.129s\"}", longid);
    CHECK(docb_build(b, rec4, strlen(rec4), out, OUTCAP, &res) > 0);
    CHECK_EQ_INT(res.id_fallback, 1);
    snprintf(rec4, sizeof rec4, "{\"eventID\":\"%.128s\"}", longid);
    CHECK(docb_build(b, rec4, strlen(rec4), out, OUTCAP, &res) > 0);
    CHECK_EQ_INT(res.id_fallback, 0);
    CHECK_EQ_INT(res.id_len, 128);
    /* Every byte value in an eventID: only A-Z, a-z, 0-9, '_' and '-' keep it as the id. */
    for (int c = 1; c < 256; c++) {
        char rec5[64];
        int kept = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (c == '"' || c == '\\') snprintf(rec5, sizeof rec5, "{\"eventID\":\"a\\%cz\"}", c);
        else snprintf(rec5, sizeof rec5, "{\"eventID\":\"a%cz\"}", c);
        long r = docb_build(b, rec5, strlen(rec5), out, OUTCAP, &res);
        if (r <= 0) continue; /* a byte jsmn refuses in a string */
        if (res.id_fallback != !kept) fprintf(stderr, "  byte %d: id_fallback %d\n", c, res.id_fallback);
        CHECK_EQ_INT(res.id_fallback, !kept);
    }
    docb_free(b);
}

/* A literal value longer than CloudSearch's 4096 code points is cut there, and the document
 * says so (ctindex_trimmed), as when fields are cut to fit the document limit; so does an
 * array field cut at 1000 values. A document with nothing cut carries no flag. */
static void test_literal_truncation(void) {
    doc_builder *b = builder(BATCH_SDF, 0);
    docb_result res;
    static char rec[40000];
    char *p = rec;
    p += sprintf(p, "{\"eventName\":\"");
    for (int i = 0; i < 5000; i++) *p++ = 'a';
    p += sprintf(p, "\",\"eventSource\":\"");
    for (int i = 0; i < 5000; i++) p += sprintf(p, "\xc3\xa9");
    p += sprintf(p, "\",\"userAgent\":\"");
    for (int i = 0; i < 5000; i++) *p++ = 'u';
    p += sprintf(p, "\"}");
    int f = parse_sdf(docb_build(b, rec, (size_t)(p - rec), out, OUTCAP, &res));
    CHECK(f > 0);
    CHECK_EQ_INT(res.truncated_values, 2);
    CHECK_EQ_INT(strlen(fstr(f, "event_name")), 4096);
    CHECK_EQ_INT(strlen(fstr(f, "event_source")), 8192); /* 4096 code points of 2 bytes */
    CHECK_EQ_INT(strlen(fstr(f, "user_agent")), 5000);   /* text: no limit */
    CHECK_EQ_INT(res.trimmed, 1);
    CHECK_EQ_STR(fstr(f, "ctindex_trimmed"), "true");

    /* exactly 4096: nothing cut, no flag */
    p = rec + sprintf(rec, "{\"eventName\":\"");
    for (int i = 0; i < 4096; i++) *p++ = 'a';
    p += sprintf(p, "\"}");
    f = parse_sdf(docb_build(b, rec, (size_t)(p - rec), out, OUTCAP, &res));
    CHECK(f > 0 && res.trimmed == 0 && res.truncated_values == 0 && json_obj_get(&pd, f, "ctindex_trimmed") == -1);

    /* 1001 resources: the array field keeps 1000 values, and the document says so */
    p = rec + sprintf(rec, "{\"eventName\":\"x\",\"resources\":[");
    for (int i = 0; i < 1001; i++) p += sprintf(p, "%s{\"type\":\"t%d\"}", i ? "," : "", i);
    p += sprintf(p, "]}");
    f = parse_sdf(docb_build(b, rec, (size_t)(p - rec), out, OUTCAP, &res));
    CHECK(f > 0 && res.trimmed == 1 && res.truncated_values == 1);
    CHECK_EQ_INT(pd.toks[json_obj_get(&pd, f, "resource_types")].size, 1000);
    CHECK_EQ_STR(fstr(f, "ctindex_trimmed"), "true");
    docb_free(b);

    /* OpenSearch: the flag is a JSON boolean there */
    b = builder(BATCH_BULK, 0);
    p = rec + sprintf(rec, "{\"eventID\":\"long\",\"userAgent\":\"u\",\"errorCode\":\"");
    for (int i = 0; i < 5000; i++) *p++ = 'e';
    p += sprintf(p, "\"}");
    long n = docb_build(b, rec, (size_t)(p - rec), out, OUTCAP, &res);
    char *nl = n > 0 ? memchr(out, '\n', (size_t)n) : NULL;
    CHECK(nl && json_parse(&pd, nl + 1, (size_t)(out + n - nl - 1)) == JSON_OK);
    CHECK(res.trimmed == 1 && json_tok_bool(&pd, json_obj_get(&pd, 0, "ctindex_trimmed")) == 1);
    CHECK_EQ_INT(json_tok_len(&pd, json_obj_get(&pd, 0, "error_code")), 4096);
    docb_free(b);
}

/* head, `big` letters a..z over and over, tail: a record too big for one document (malloc'ed,
 * room for big + 200 bytes). */
static char *big_record(const char *head, size_t big, const char *tail, size_t *len) {
    char *rec = malloc(big + 200);
    char *p = rec + sprintf(rec, "%s", head);
    for (size_t i = 0; i < big; i++) *p++ = (char)('a' + i % 26);
    p += sprintf(p, "%s", tail);
    *len = (size_t)(p - rec);
    return rec;
}

/* A record with a huge requestParameters string: raw goes first, then request_parameters is cut. */
static void test_trim(void) {
    doc_builder *b = builder(BATCH_SDF, 1);
    docb_result res;
    size_t big = 1500000, len;
    char *rec = big_record("{\"eventID\":\"big1\",\"eventName\":\"Big\",\"requestParameters\":\"", big,
                           "\",\"eventTime\":\"2024-01-02T03:04:05Z\"}", &len);
    char *p;
    long n = docb_build(b, rec, len, out, OUTCAP, &res);
    CHECK(n > 0 && n <= 1048576);
    CHECK(n > 1048576 - 64); /* filled, not emptied */
    int f = parse_sdf(n);
    CHECK(f > 0);
    CHECK_EQ_INT(res.trimmed, 1);
    CHECK_EQ_STR(fstr(f, "ctindex_trimmed"), "true");
    CHECK_EQ_STR(fstr(f, "event_name"), "Big");
    CHECK_EQ_STR(fstr(f, "event_time"), "2024-01-02T03:04:05Z");
    CHECK_EQ_INT(json_obj_get(&pd, f, "raw"), -1);
    const char *rp = fstr(f, "request_parameters");
    CHECK(rp && strlen(rp) > 1000000 && strlen(rp) < big && strncmp(rp, "abcdefghij", 10) == 0);
    /* NOSPACE when cap is smaller than the document limit: the caller flushes first */
    CHECK_EQ_INT(docb_build(b, rec, len, out, 900000, &res), DOCB_NOSPACE);

    /* 550 KB parameters + 550 KB raw: only raw is cut */
    p = rec;
    p += sprintf(p, "{\"eventID\":\"big2\",\"requestParameters\":{\"k\":\"");
    for (size_t i = 0; i < 550000; i++) *p++ = (char)(i % 1000 ? 'x' : 'y');
    p += sprintf(p, "\"},\"eventName\":\"Mid\"}");
    len = (size_t)(p - rec);
    n = docb_build(b, rec, len, out, OUTCAP, &res);
    f = parse_sdf(n);
    CHECK(f > 0 && n <= 1048576);
    CHECK_EQ_INT(res.trimmed, 1);
    rp = fstr(f, "request_parameters");
    CHECK(rp && strlen(rp) == 550000 + 8);
    const char *raw = fstr(f, "raw");
    CHECK(raw && strlen(raw) < len && strlen(raw) > 450000 && strncmp(raw, rec, strlen(raw)) == 0);
    free(rec);
    docb_free(b);
}

static void test_nospace(void) {
    doc_builder *b = builder(BATCH_SDF, 1);
    docb_result res;
    long n = docb_build(b, REC, strlen(REC), out, OUTCAP, &res);
    CHECK(n > 0);
    char *copy = malloc((size_t)n);
    memcpy(copy, out, (size_t)n);
    CHECK_EQ_INT(docb_build(b, REC, strlen(REC), out, 50, &res), DOCB_NOSPACE);
    CHECK_EQ_INT(docb_build(b, REC, strlen(REC), out, (size_t)n - 1, &res), DOCB_NOSPACE);
    /* exact fit, and nothing written past cap */
    out[n] = 'Z';
    CHECK_EQ_INT(docb_build(b, REC, strlen(REC), out, (size_t)n, &res), n);
    CHECK(memcmp(copy, out, (size_t)n) == 0 && out[n] == 'Z');
    free(copy);
    docb_free(b);
}

static void test_bulk(void) {
    doc_builder *b = builder(BATCH_BULK, 0);
    docb_result res;
    long n = docb_build(b, REC, strlen(REC), out, OUTCAP, &res);
    CHECK(n > 0);
    char *nl = memchr(out, '\n', (size_t)n);
    CHECK(nl && out[n - 1] == '\n' && memchr(nl + 1, '\n', (size_t)(out + n - nl - 2)) == NULL);
    if (!nl) return;
    const char *action =
        "{\"index\":{\"_index\":\"cloudtrail-2024.03.05\",\"_id\":\"8d4b1e2c-1f1a-4c3b-9f6e-0123456789ab\"}}";
    CHECK((size_t)(nl - out) == strlen(action) && memcmp(out, action, strlen(action)) == 0);
    CHECK_EQ_INT(json_parse(&pd, nl + 1, (size_t)(out + n - nl - 1)), JSON_OK);
    CHECK(doc_clean());
    CHECK_EQ_STR(fstr(0, "event_name"), "PutObject");
    CHECK_EQ_INT(json_tok_bool(&pd, json_obj_get(&pd, 0, "read_only")), 0);
    CHECK_EQ_INT(json_tok_bool(&pd, json_obj_get(&pd, 0, "user_identity_mfa_authenticated")), 1);
    CHECK_EQ_INT(pd.toks[json_obj_get(&pd, 0, "resource_types")].size, 2);
    CHECK_EQ_INT(json_obj_get(&pd, 0, "raw"), -1);
    /* no eventTime: a fixed, recognisable index */
    const char *rec = "{\"eventID\":\"x1\",\"eventName\":\"A\"}";
    n = docb_build(b, rec, strlen(rec), out, OUTCAP, &res);
    const char *expect = "{\"index\":{\"_index\":\"cloudtrail-0000.00.00\",\"_id\":\"x1\"}}\n{\"event_id\":\"x1\","
                         "\"event_name\":\"A\"}\n";
    CHECK(n == (long)strlen(expect) && memcmp(out, expect, strlen(expect)) == 0);
    docb_free(b);

    docb_options o;
    docb_options_default(&o);
    o.format = BATCH_BULK;
    o.index_pattern = "ct-%Y%m%d-%H";
    o.include_raw = 0;
    b = docb_new(&o);
    CHECK(b != NULL);
    n = docb_build(b, REC, strlen(REC), out, OUTCAP, &res);
    CHECK(n > 30 && memcmp(out, "{\"index\":{\"_index\":\"ct-20240305-10\"", 34) == 0);
    /* an eventTime with an offset goes to the index of its UTC date, not cloudtrail-0000.00.00 */
    rec = "{\"eventID\":\"x2\",\"eventTime\":\"2023-12-31T23:30:00-02:00\"}";
    n = docb_build(b, rec, strlen(rec), out, OUTCAP, &res);
    CHECK(n > 30 && memcmp(out, "{\"index\":{\"_index\":\"ct-20240101-01\"", 34) == 0);
    docb_free(b);
    const char *bad[] = {"Upper", "a b", "-x", "a%q", "a\"b", "a/b", "a%%", "a%"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.index_pattern = bad[i];
        CHECK(docb_new(&o) == NULL);
    }
}

static void test_insight_and_bad(void) {
    doc_builder *b = builder(BATCH_SDF, 0);
    docb_result res;
    const char *rec =
        "{\"eventVersion\":\"1.07\",\"eventTime\":\"2024-01-02T03:04:05.250Z\",\"awsRegion\":\"us-east-1\","
        "\"eventID\":\"ins-1\",\"eventType\":\"AwsCloudTrailInsight\",\"eventCategory\":\"Insight\","
        "\"insightDetails\":{\"state\":\"Start\",\"eventSource\":\"ec2.amazonaws.com\",\"eventName\":\"RunInstances\","
        "\"insightType\":\"ApiCallRateInsight\",\"insightContext\":{\"statistics\":{\"baseline\":{\"average\":0.1},"
        "\"insight\":{\"average\":5.0},\"insightDuration\":7}}}}";
    int f = parse_sdf(docb_build(b, rec, strlen(rec), out, OUTCAP, &res));
    CHECK(f > 0);
    CHECK_EQ_STR(fstr(f, "insight_state"), "Start");
    CHECK_EQ_STR(fstr(f, "insight_type"), "ApiCallRateInsight");
    CHECK_EQ_STR(fstr(f, "insight_event_name"), "RunInstances");
    CHECK_EQ_STR(fstr(f, "event_time"), "2024-01-02T03:04:05.250Z");
    int64_t dur = 0;
    CHECK_EQ_INT(json_tok_int64(&pd, json_obj_get(&pd, f, "insight_duration"), &dur), 0);
    CHECK_EQ_INT(dur, 7);
    CHECK_EQ_INT(json_obj_get(&pd, f, "event_name"), -1);

    /* the last two: a key without a value (jsmn alone accepts them) */
    const char *bad[] = {"not json",
                         "[1,2]",
                         "{\"a\":",
                         "\"str\"",
                         "",
                         "{\"eventName\":\"x\"} {}",
                         "{\"eventName\":\"x\",\"c\",\"eventID\":\"y\"}",
                         "{\"resources\":[{\"ARN\":\"a\",\"type\"}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(docb_build(b, bad[i], strlen(bad[i]), out, OUTCAP, &res), DOCB_BAD);
        CHECK(res.error != NULL);
    }
    /* not dates: out of range, no offset, a day the month lacks (also before the offset),
     * a malformed offset, a year that leaves 0000-9999 in UTC */
    const char *dates[] = {"2024-13-01T00:00:00Z",      "2024-01-01T24:00:00Z",      "2024-01-01T00:00:00",
                           "2024-01-01T00:00:00.Z",     "2024-02-30T00:00:00Z",      "2023-02-29T00:00:00Z",
                           "2024-04-31T00:00:00Z",      "2024-02-30T00:00:00+01:00", "2024-01-01T00:00:00+24:00",
                           "2024-01-01T00:00:00+01:60", "2024-01-01T00:00:00+0100",  "2024-01-01T00:00:00+01",
                           "0000-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "2024-01-01T00:00:00Z "};
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        char r[200];
        snprintf(r, sizeof r, "{\"eventName\":\"x\",\"eventTime\":\"%s\"}", dates[i]);
        f = parse_sdf(docb_build(b, r, strlen(r), out, OUTCAP, &res));
        CHECK(f > 0 && json_obj_get(&pd, f, "event_time") == -1 && res.skipped_values == 1);
        CHECK(res.event_time == 0);
    }
    const char *leap = "{\"eventTime\":\"2024-02-29T23:59:59.123456789Z\"}";
    f = parse_sdf(docb_build(b, leap, strlen(leap), out, OUTCAP, &res));
    CHECK(f > 0);
    CHECK_EQ_STR(fstr(f, "event_time"), "2024-02-29T23:59:59.123456789Z");
    /* RFC 3339 with an offset is the same instant: indexed in UTC (both date fields) */
    const char *offset = "{\"eventTime\":\"2023-01-10T21:04:02+02:00\",\"userIdentity\":{\"sessionContext\":"
                         "{\"attributes\":{\"creationDate\":\"2024-02-28T23:30:00.5-01:00\"}}}}";
    f = parse_sdf(docb_build(b, offset, strlen(offset), out, OUTCAP, &res));
    CHECK(f > 0 && res.skipped_values == 0);
    CHECK_EQ_STR(fstr(f, "event_time"), "2023-01-10T19:04:02Z");
    CHECK_EQ_STR(fstr(f, "user_identity_session_creation_date"), "2024-02-29T00:30:00.5Z");
    CHECK(res.event_time == 1673377442); /* 2023-01-10T19:04:02Z, for the record delay */
    /* RFC 3339 also allows a space for the T; a leap second is indexed as :59 */
    const char *spaced = "{\"eventTime\":\"2024-01-01 00:00:00Z\",\"userIdentity\":{\"sessionContext\":"
                         "{\"attributes\":{\"creationDate\":\"2016-12-31T23:59:60Z\"}}}}";
    f = parse_sdf(docb_build(b, spaced, strlen(spaced), out, OUTCAP, &res));
    CHECK(f > 0 && res.skipped_values == 0);
    CHECK_EQ_STR(fstr(f, "event_time"), "2024-01-01T00:00:00Z");
    CHECK_EQ_STR(fstr(f, "user_identity_session_creation_date"), "2016-12-31T23:59:59Z");
    docb_free(b);

    docb_options o;
    docb_options_default(&o);
    o.max_record_bytes = 64;
    b = docb_new(&o);
    CHECK_EQ_INT(docb_build(b, REC, strlen(REC), out, OUTCAP, &res), DOCB_BAD);
    CHECK(res.error && strstr(res.error, "larger"));
    docb_free(b);
    o.max_doc_bytes = 1000;
    CHECK(docb_new(&o) == NULL);
}

/* Each profile emits its fields and only them, with the same values as the full profile; the
 * default is standard; the original profile trims without a marker field (the original domain
 * has none). */
static void test_profiles(void) {
    docb_options o;
    docb_options_default(&o);
    CHECK_EQ_INT(o.profile, SCHEMA_STANDARD);
    docb_result res;
    doc_builder *full = builder(BATCH_SDF, 1);
    long n = docb_build(full, REC, strlen(REC), out, OUTCAP, &res);
    CHECK(n > 0);
    char *full_doc = malloc((size_t)n);
    memcpy(full_doc, out, (size_t)n);
    size_t full_len = (size_t)n;
    static const unsigned expect_fields[] = {12, 16, 34}; /* REC: no user_name, error_code, error_message */
    for (int p = SCHEMA_ORIGINAL; p <= SCHEMA_FULL; p++) {
        doc_builder *b = builder_profile(BATCH_SDF, 1, (schema_profile)p);
        n = docb_build(b, REC, strlen(REC), out, OUTCAP, &res);
        int f = parse_sdf(n);
        CHECK(f > 0);
        CHECK_EQ_INT(res.fields, expect_fields[p]);
        /* every field of the profile, and nothing else; values as in the full document */
        json_doc fd;
        json_doc_init(&fd, 1u << 12);
        CHECK_EQ_INT(json_parse(&fd, full_doc, full_len), JSON_OK);
        int ff = json_obj_get(&fd, 0, "fields");
        for (size_t i = 0; i < schema_count(); i++) {
            const schema_field *sf = schema_field_at(i);
            int v = json_obj_get(&pd, f, sf->name), fv = json_obj_get(&fd, ff, sf->name);
            if (!schema_in_profile(sf, (schema_profile)p)) {
                CHECK_EQ_INT(v, -1);
                continue;
            }
            CHECK((v >= 0) == (fv >= 0));
            if (v >= 0 && fv >= 0)
                CHECK(json_tok_len(&pd, v) == json_tok_len(&fd, fv) &&
                      memcmp(json_tok_ptr(&pd, v), json_tok_ptr(&fd, fv), json_tok_len(&pd, v)) == 0);
        }
        json_doc_free(&fd);
        CHECK_EQ_STR(fstr(f, "raw"), REC);
        if (p == SCHEMA_STANDARD) {
            CHECK_EQ_STR(fstr(f, "user_identity_access_key_id"), "ASIAEXAMPLE");
            CHECK_EQ_STR(fstr(f, "recipient_account_id"), "123456789012");
            CHECK_EQ_INT(json_obj_get(&pd, f, "request_parameters"), -1);
        }
        docb_free(b);
    }
    free(full_doc);
    docb_free(full);

    /* a record too big for one document: trimmed in every profile, marked where the profile can */
    size_t len;
    char *rec = big_record("{\"eventID\":\"big3\",\"eventName\":\"Big\",\"requestParameters\":{\"k\":\"", 1200000,
                           "\"}}", &len);
    for (int p = SCHEMA_ORIGINAL; p <= SCHEMA_FULL; p++) {
        doc_builder *b = builder_profile(BATCH_SDF, 1, (schema_profile)p);
        int f = parse_sdf(docb_build(b, rec, len, out, OUTCAP, &res));
        CHECK(f > 0 && res.trimmed == 1);
        CHECK((json_obj_get(&pd, f, "ctindex_trimmed") >= 0) == (p != SCHEMA_ORIGINAL));
        CHECK_EQ_STR(fstr(f, "event_name"), "Big");
        docb_free(b);
    }
    free(rec);
    o.profile = (schema_profile)3;
    CHECK(docb_new(&o) == NULL);
}

/* The intended use: documents written straight into a batch, flushed on NOSPACE. */
static void test_with_batch(void) {
    doc_builder *b = builder(BATCH_SDF, 1);
    batch bt;
    CHECK_EQ_INT(batch_init(&bt, BATCH_SDF, 5000, 0), 0);
    docb_result res;
    int flushes = 0, docs = 0, owner;
    for (int i = 0; i < 5; i++) {
        size_t avail;
        char *p = batch_space(&bt, &avail);
        long n = docb_build(b, REC, strlen(REC), p, avail, &res);
        if (n == DOCB_NOSPACE) {
            size_t len;
            const char *body = batch_body(&bt, &len);
            CHECK_EQ_INT(json_parse(&pd, body, len), JSON_OK);
            CHECK_EQ_INT(pd.toks[0].size, (long)batch_count(&bt));
            docs += pd.toks[0].size;
            flushes++;
            batch_reset(&bt);
            p = batch_space(&bt, &avail);
            n = docb_build(b, REC, strlen(REC), p, avail, &res);
        }
        CHECK(n > 0);
        CHECK_EQ_INT(batch_commit(&bt, (size_t)n, &owner, NULL), 0);
    }
    docs += (int)batch_count(&bt);
    CHECK_EQ_INT(docs, 5);
    CHECK(flushes >= 1);
    batch_free(&bt);
    docb_free(b);
}

/* Where raw went (raw_at, raw_len) and what it holds (record_at, record_len): the string between
 * those bounds decodes to exactly that part of the record, in every format; none without raw. */
static void test_raw_bounds(void) {
    static const char *recs[] = {"  {\"eventID\":\"r1\",\"eventName\":\"A\\\"b\\\\c\\u00e9\\n\"} \n", NULL};
    recs[1] = REC;
    for (int format = BATCH_SDF; format <= BATCH_BULK; format++)
        for (int i = 0; i < 2; i++) {
            doc_builder *b = builder(format, 1);
            docb_result res;
            long n = docb_build(b, recs[i], strlen(recs[i]), out, OUTCAP, &res);
            CHECK(n > 0 && res.raw_len > 0 && res.raw_at + res.raw_len < (size_t)n);
            CHECK(out[res.raw_at - 1] == '"' && out[res.raw_at + res.raw_len] == '"');
            CHECK(memcmp(out + res.raw_at - 7, "\"raw\":\"", 7) == 0);
            json_doc one;
            CHECK_EQ_INT(json_doc_init(&one, 4), JSON_OK);
            CHECK_EQ_INT(json_parse(&one, out + res.raw_at - 1, res.raw_len + 2), JSON_OK);
            long d = json_tok_decode(&one, 0, val, sizeof val);
            CHECK(d > 0 && (size_t)d == res.record_len && memcmp(val, recs[i] + res.record_at, res.record_len) == 0 &&
                  recs[i][res.record_at] == '{');
            json_doc_free(&one);
            docb_free(b);
            b = builder(format, 0);
            CHECK(docb_build(b, recs[i], strlen(recs[i]), out, OUTCAP, &res) > 0);
            CHECK_EQ_INT(res.raw_len, 0);
            docb_free(b);
        }
}

/* The field list against a parse of the document out[0..n): one entry a field (and one an array
 * element) in document order, each at its value's bytes, naming the field its key names. */
static int list_matches(long n, const docb_fields *fl) {
    int fields = parse_sdf(n);
    if (fields < 0 || !fl->complete) return 0;
    size_t e = 0;
    int k = fields + 1;
    for (int i = 0; i < pd.toks[fields].size; i++, k = json_next(&pd, k + 1)) {
        int v = k + 1;
        const json_tok *t = &pd.toks[v];
        if (e >= fl->n) return 0;
        const batch_field *x = &fl->fields[e++];
        if (!json_tok_streq(&pd, k, schema_field_at(x->fid)->name) || x->at != (uint32_t)t->start) return 0;
        if (t->type == JSON_ARRAY) {
            if (x->flags != BATCH_FIELD_ARRAY || x->n != t->size || x->at + x->len != (uint32_t)t->end) return 0;
            for (int j = 0; j < t->size; j++, e++) {
                const json_tok *y = &pd.toks[v + 1 + j];
                if (e >= fl->n || fl->fields[e].fid != x->fid || fl->fields[e].at != (uint32_t)y->start ||
                    fl->fields[e].len != (uint32_t)(y->end - y->start) || !(fl->fields[e].flags & BATCH_FIELD_STRING))
                    return 0;
            }
            continue;
        }
        if (x->len != (uint32_t)(t->end - t->start) || !(x->flags & BATCH_FIELD_STRING) != (t->type != JSON_STRING))
            return 0;
        /* plain: no escape (every byte one character) */
        if ((x->flags & BATCH_FIELD_PLAIN) && memchr(out + x->at, '\\', x->len)) return 0;
    }
    return e == fl->n;
}

/* docb_build_fields: the same document as docb_build with its field list; raw left out only when
 * asked and the document is derived from raw, and then the document with raw put back is
 * docb_build's; a list without room, or a BULK document, is incomplete (the document the same). */
static void test_field_list(void) {
    static char whole[1 << 16];
    static batch_field list[256];
    doc_builder *full = builder(BATCH_SDF, 1), *dflt = builder_profile(BATCH_SDF, 1, SCHEMA_PROFILE_DEFAULT);
    static const char *recs[] = {NULL,
                                 "{\"eventID\":\"x1\",\"eventName\":\"caf\xc3\xa9 \\u0041\\\"q\",\"insightDetails\":"
                                 "{\"insightContext\":{\"statistics\":{\"insightDuration\":42}}}}"};
    recs[0] = REC;
    doc_builder *bs[] = {full, dflt};
    for (int bi = 0; bi < 2; bi++)
        for (int i = 0; i < 2; i++) {
            docb_result res, rf;
            long n = docb_build(bs[bi], recs[i], strlen(recs[i]), whole, sizeof whole, &res);
            CHECK(n > 0);
            docb_fields fl = {list, 256, 0, 0, 0};
            long m = docb_build_fields(bs[bi], recs[i], strlen(recs[i]), out, OUTCAP, &fl, &rf);
            CHECK(m == n && memcmp(out, whole, (size_t)n) == 0 && rf.raw_unwritten == 0);
            CHECK(list_matches(m, &fl));
            CHECK((fl.fields[fl.n - 1].flags & BATCH_FIELD_KEPT) == 0 && fl.fields[fl.n - 1].at == rf.raw_at);
            /* raw left out: the rest the same bytes, raw put back gives docb_build's document */
            fl.skip_raw = 1;
            m = docb_build_fields(bs[bi], recs[i], strlen(recs[i]), out, OUTCAP, &fl, &rf);
            CHECK(m > 0 && rf.raw_unwritten > 0 && rf.raw_len == 0 && (size_t)m + rf.raw_unwritten == (size_t)n);
            CHECK(memcmp(out, whole, rf.raw_at) == 0 &&
                  memcmp(out + rf.raw_at, whole + rf.raw_at + rf.raw_unwritten, (size_t)m - rf.raw_at) == 0);
            CHECK(jsonw_escape(recs[i] + rf.record_at, rf.record_len, val, sizeof val, JSONW_NO_LIMIT, 0, NULL) ==
                      (long)rf.raw_unwritten &&
                  memcmp(val, whole + rf.raw_at, rf.raw_unwritten) == 0);
            CHECK(list_matches(m, &fl));
            const batch_field *raw = &fl.fields[fl.n - 1];
            CHECK(raw->at == rf.raw_at && raw->len == 0 && (raw->flags & BATCH_FIELD_KEPT));
            /* no room for the list: incomplete, the document the same */
            fl.cap = 3;
            CHECK(docb_build_fields(bs[bi], recs[i], strlen(recs[i]), out, OUTCAP, &fl, &rf) == m && !fl.complete);
            fl.cap = 256;
            /* a batch with room for the document only without raw: no room (what docb_build says) */
            CHECK(docb_build_fields(bs[bi], recs[i], strlen(recs[i]), out, (size_t)n - 1, &fl, &rf) == DOCB_NOSPACE);
        }
    /* the escapes of the second record's event_name: not plain; an int is a number */
    docb_fields fl = {list, 256, 0, 0, 1};
    docb_result rf;
    long m = docb_build_fields(full, recs[1], strlen(recs[1]), out, OUTCAP, &fl, &rf);
    int seen_int = 0, seen_escaped = 0;
    for (size_t e = 0; e < fl.n; e++) {
        const schema_field *f = schema_field_at(fl.fields[e].fid);
        if (f->cs_type == CS_INT) seen_int = fl.fields[e].flags == 0 && memcmp(out + fl.fields[e].at, "42", 2) == 0;
        if (strcmp(f->name, "event_name") == 0) seen_escaped = !(fl.fields[e].flags & BATCH_FIELD_PLAIN);
    }
    CHECK(m > 0 && seen_int && seen_escaped);
    /* what raw would drop (an invalid byte), a trimmed document: raw written */
    const char *bad = "{\"eventID\":\"x2\",\"eventName\":\"A\",\"userAgent\":\"\xff\"}";
    m = docb_build_fields(dflt, bad, strlen(bad), out, OUTCAP, &fl, &rf);
    CHECK(m > 0 && rf.raw_unwritten == 0 && rf.raw_len > 0 && rf.dropped > 0 && list_matches(m, &fl));
    size_t blen;
    char *big = big_record("{\"eventID\":\"x3\",\"userAgent\":\"", DOCB_DEFAULT_MAX_DOC, "\"}", &blen);
    m = docb_build_fields(dflt, big, blen, out, OUTCAP, &fl, &rf);
    CHECK(m > 0 && rf.trimmed && rf.raw_unwritten == 0 && list_matches(m, &fl));
    free(big);
    /* BULK: no list */
    doc_builder *bulk = builder(BATCH_BULK, 1);
    CHECK(docb_build_fields(bulk, REC, strlen(REC), out, OUTCAP, &fl, &rf) > 0 && !fl.complete &&
          rf.raw_unwritten == 0);
    docb_free(bulk);
    docb_free(full);
    docb_free(dflt);
}

int main(void) {
    out = malloc(OUTCAP + 1);
    json_doc_init(&pd, 1u << 16);
    RUN(test_realistic);
    RUN(test_omitted);
    RUN(test_sanitised);
    RUN(test_id_fallback);
    RUN(test_literal_truncation);
    RUN(test_trim);
    RUN(test_nospace);
    RUN(test_bulk);
    RUN(test_insight_and_bad);
    RUN(test_with_batch);
    RUN(test_raw_bounds);
    RUN(test_field_list);
    RUN(test_profiles);
    json_doc_free(&pd);
    free(out);
    TEST_MAIN_END();
}
