/* Pure parts of the OpenSearch sink: the --sink URL, --os-auth, _bulk answers, Basic auth. */
#include "base/base64.h"
#include "pipeline/index_pattern.h"
#include "sinks/opensearch/bulk_response.h"
#include "sinks/opensearch/sink_opensearch.h"
#include "testlib.h"

static void test_spec_managed_domain(void) {
    os_spec sp;
    char err[200];
    CHECK_EQ_INT(sink_opensearch_parse_spec("https://Search-Logs-abc123.eu-west-3.es.amazonaws.com/ct-%Y.%m", &sp, err,
                                            sizeof err),
                 0);
    CHECK_EQ_INT(sp.tls, 1);
    CHECK_EQ_STR(sp.host, "search-logs-abc123.eu-west-3.es.amazonaws.com");
    CHECK_EQ_STR(sp.base_url, "https://search-logs-abc123.eu-west-3.es.amazonaws.com");
    CHECK_EQ_STR(sp.pattern, "ct-%Y.%m");
    CHECK_EQ_STR(sp.region, "eu-west-3");
    CHECK_EQ_STR(sp.service, "es");
    CHECK_EQ_INT(sp.has_userinfo, 0);
}

static void test_spec_serverless_and_plain(void) {
    os_spec sp;
    char err[200];
    CHECK_EQ_INT(sink_opensearch_parse_spec("https://x1y2z3.us-west-2.aoss.amazonaws.com/", &sp, err, sizeof err), 0);
    CHECK_EQ_STR(sp.service, "aoss");
    CHECK_EQ_STR(sp.region, "us-west-2");
    CHECK_EQ_STR(sp.pattern, "");
    /* no scheme: https; a port is kept; a self-managed host has no region or service */
    CHECK_EQ_INT(sink_opensearch_parse_spec("search.internal:9200", &sp, err, sizeof err), 0);
    CHECK_EQ_INT(sp.tls, 1);
    CHECK_EQ_STR(sp.base_url, "https://search.internal:9200");
    CHECK_EQ_STR(sp.region, "");
    CHECK_EQ_STR(sp.service, "");
    /* http for local peers; %25 decodes to '%' in the pattern */
    CHECK_EQ_INT(sink_opensearch_parse_spec("http://127.0.0.1:45123/trail-%25Y%25m", &sp, err, sizeof err), 0);
    CHECK_EQ_INT(sp.tls, 0);
    CHECK_EQ_STR(sp.host, "127.0.0.1:45123");
    CHECK_EQ_STR(sp.pattern, "trail-%Y%m");
    CHECK_EQ_INT(sink_opensearch_parse_spec("http://[::1]:9200/logs", &sp, err, sizeof err), 0);
    CHECK_EQ_STR(sp.host, "[::1]:9200");
    CHECK_EQ_STR(sp.pattern, "logs");
}

static void test_spec_userinfo(void) {
    os_spec sp;
    char err[200];
    CHECK_EQ_INT(sink_opensearch_parse_spec("https://admin:p%40ss:w@es.example.com:9200", &sp, err, sizeof err), 0);
    CHECK_EQ_INT(sp.has_userinfo, 1);
    CHECK_EQ_STR(sp.user, "admin");
    CHECK_EQ_STR(sp.pass, "p@ss:w");
    CHECK_EQ_STR(sp.host, "es.example.com:9200");
    CHECK_EQ_STR(sp.base_url, "https://es.example.com:9200"); /* the password never reaches the URL */
    CHECK(sp.options == NULL);
    /* the "opensearch:" prefix is optional; sink options follow the first ',' */
    CHECK_EQ_INT(
        sink_opensearch_parse_spec("opensearch:http://u:a%2Cb@h:1/ix,auth=basic,inflight=4", &sp, err, sizeof err), 0);
    CHECK_EQ_STR(sp.pass, "a,b");
    CHECK_EQ_STR(sp.pattern, "ix");
    CHECK_EQ_STR(sp.options, "auth=basic,inflight=4");
}

static void test_spec_rejects(void) {
    os_spec sp;
    char err[200];
    const char *bad[] = {"",
                         "ftp://host/x",
                         "https://host/a/b",
                         "https://host/Upper",
                         "https://host/_bulk",
                         "https://host?x=1",
                         "https://:9200/x",
                         "https://host:99999999/x",
                         "https://us%zz:p@host",
                         "https://host/a b",
                         "https://host/logs-%y",
                         "https://host/logs-%",
                         "https://host/logs-%%", /* the builder has no %% */
                         "https://host/logs-%25%25"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK_EQ_INT(sink_opensearch_parse_spec(bad[i], &sp, err, sizeof err), -1);
        CHECK(err[0] != '\0');
    }
    CHECK_EQ_INT(sink_opensearch_parse_auth("sigv4"), OS_AUTH_SIGV4);
    CHECK_EQ_INT(sink_opensearch_parse_auth("basic"), OS_AUTH_BASIC);
    CHECK_EQ_INT(sink_opensearch_parse_auth("none"), OS_AUTH_NONE);
    CHECK_EQ_INT(sink_opensearch_parse_auth(NULL), OS_AUTH_AUTO);
    CHECK_EQ_INT(sink_opensearch_parse_auth("kerberos"), -1);
    CHECK_EQ_INT(sink_opensearch_is_spec("opensearch:https://h"), 1);
    CHECK_EQ_INT(sink_opensearch_is_spec("dir:out"), 0);
}

/* One rule set for the URL, the builder and the template: what one accepts the others do. */
static void test_index_patterns(void) {
    char err[160];
    const char *good[] = {"cloudtrail-%Y.%m.%d", "ct", "a.b_c+d-e", "logs-%H", "%Y", ".hidden-%Y"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK_EQ_INT(index_pattern_check(good[i], 0, err, sizeof err), 0);
        CHECK_EQ_INT(index_pattern_check(good[i], 1, err, sizeof err), 0);
    }
    const char *bad[] = {"",    "-x",  "_x", "+x",  ".",   "..",  "Ct",   "a b", "a/b",
                         "a,b", "a#b", "a%", "a%%", "a%y", "a%M", "a\"b", "a*"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK_EQ_INT(index_pattern_check(bad[i], 0, err, sizeof err), -1);
        CHECK(err[0] != '\0');
    }
    CHECK_EQ_INT(index_pattern_check("cloudtrail-*", 1, err, sizeof err), 0); /* templates take wildcards */
    CHECK_EQ_INT(index_pattern_check("a\"b", 1, err, sizeof err), -1);
    char longest[INDEX_PATTERN_MAX + 2];
    memset(longest, 'a', sizeof longest);
    longest[INDEX_PATTERN_MAX] = '\0';
    CHECK_EQ_INT(index_pattern_check(longest, 0, NULL, 0), 0);
    longest[INDEX_PATTERN_MAX] = 'a';
    longest[INDEX_PATTERN_MAX + 1] = '\0';
    CHECK_EQ_INT(index_pattern_check(longest, 0, NULL, 0), -1);
    /* a pattern the URL accepts is one the document builder accepts */
    os_spec sp;
    CHECK_EQ_INT(sink_opensearch_parse_spec("https://h/ct-%25Y.%m.%d-%H", &sp, err, sizeof err), 0);
    CHECK_EQ_STR(sp.pattern, "ct-%Y.%m.%d-%H");
    CHECK_EQ_INT(index_pattern_check(sp.pattern, 0, NULL, 0), 0);
}

static void test_auth_auto(void) {
    os_spec aws, aws_user, plain;
    char err[200];
    CHECK_EQ_INT(sink_opensearch_parse_spec("https://search-d-x.eu-west-1.es.amazonaws.com", &aws, err, sizeof err), 0);
    CHECK_EQ_INT(sink_opensearch_parse_spec("https://master:pw@search-d-x.eu-west-1.es.amazonaws.com", &aws_user, err,
                                            sizeof err),
                 0);
    CHECK_EQ_INT(sink_opensearch_parse_spec("https://es.internal:9200", &plain, err, sizeof err), 0);
    CHECK_EQ_INT(sink_opensearch_resolve_auth(OS_AUTH_AUTO, &aws, 0, 0), OS_AUTH_SIGV4);
    CHECK_EQ_INT(sink_opensearch_resolve_auth(OS_AUTH_AUTO, &aws, 0, 1), OS_AUTH_SIGV4); /* env does not override */
    /* fine-grained access control: the master user in the URL wins over the AWS host */
    CHECK_EQ_INT(sink_opensearch_resolve_auth(OS_AUTH_AUTO, &aws_user, 0, 0), OS_AUTH_BASIC);
    CHECK_EQ_INT(sink_opensearch_resolve_auth(OS_AUTH_AUTO, &aws, 1, 0), OS_AUTH_BASIC);
    CHECK_EQ_INT(sink_opensearch_resolve_auth(OS_AUTH_AUTO, &plain, 0, 1), OS_AUTH_BASIC);
    CHECK_EQ_INT(sink_opensearch_resolve_auth(OS_AUTH_AUTO, &plain, 0, 0), OS_AUTH_NONE);
    CHECK_EQ_INT(sink_opensearch_resolve_auth(OS_AUTH_SIGV4, &plain, 0, 0), OS_AUTH_SIGV4);
    CHECK_EQ_INT(sink_opensearch_resolve_auth(OS_AUTH_NONE, &aws_user, 1, 1), OS_AUTH_NONE);
}

static void test_verdicts(void) {
    CHECK_EQ_INT(os_bulk_item_verdict(200), OS_ITEM_OK);
    CHECK_EQ_INT(os_bulk_item_verdict(201), OS_ITEM_OK);
    CHECK_EQ_INT(os_bulk_item_verdict(429), OS_ITEM_RETRY);
    CHECK_EQ_INT(os_bulk_item_verdict(503), OS_ITEM_RETRY);
    CHECK_EQ_INT(os_bulk_item_verdict(400), OS_ITEM_REJECT);
    CHECK_EQ_INT(os_bulk_item_verdict(409), OS_ITEM_REJECT);
    CHECK_EQ_INT(os_bulk_item_verdict(0), OS_ITEM_REJECT);
}

typedef struct seen {
    int n;
    int status[8];
    int verdict[8];
    char id[8][32];
    char reason[8][OS_BULK_REASON_MAX];
} seen;

static void collect(void *ud, const os_bulk_item *it) {
    seen *s = ud;
    if (s->n >= 8) return;
    s->status[s->n] = it->status;
    s->verdict[s->n] = it->verdict;
    snprintf(s->id[s->n], sizeof s->id[0], "%.*s", (int)it->id_len, it->id ? it->id : "");
    snprintf(s->reason[s->n], sizeof s->reason[0], "%s", it->reason);
    CHECK_EQ_INT(it->index, s->n);
    s->n++;
}

static const char MIXED[] =
    "{\"took\":7,\"errors\":true,\"items\":["
    "{\"index\":{\"_index\":\"cloudtrail-2024.05.01\",\"_id\":\"e1\",\"_version\":1,\"result\":\"created\","
    "\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},\"_seq_no\":0,\"_primary_term\":1,\"status\":201}},"
    "{\"index\":{\"_index\":\"cloudtrail-2024.05.01\",\"_id\":\"e2\",\"status\":429,\"error\":{\"type\":"
    "\"es_rejected_execution_exception\",\"reason\":\"rejected execution of coordinating operation\"}}},"
    "{\"index\":{\"_index\":\"cloudtrail-2024.05.01\",\"_id\":\"e3\",\"status\":400,\"error\":{\"type\":"
    "\"mapper_parsing_exception\",\"reason\":\"failed to parse field [x] of type [long] in document \\\"q\\\"\","
    "\"caused_by\":{\"type\":\"illegal_argument_exception\",\"reason\":\"For input string: \\\"abc\\\"\"}}}},"
    "{\"create\":{\"_index\":\"i\",\"_id\":\"e4\",\"status\":200}}"
    "]}";

static void test_parse_mixed(void) {
    json_doc d;
    CHECK_EQ_INT(json_doc_init(&d, os_bulk_tokens_for(4)), JSON_OK);
    seen s;
    memset(&s, 0, sizeof s);
    int errors = -1;
    CHECK_EQ_INT(os_bulk_parse_response(&d, MIXED, strlen(MIXED), 4, &errors, collect, &s), OS_BULK_OK);
    CHECK_EQ_INT(errors, 1);
    CHECK_EQ_INT(s.n, 4);
    CHECK_EQ_INT(s.status[0], 201);
    CHECK_EQ_INT(s.verdict[0], OS_ITEM_OK);
    CHECK_EQ_STR(s.id[0], "e1");
    CHECK_EQ_STR(s.reason[0], "");
    CHECK_EQ_INT(s.status[1], 429);
    CHECK_EQ_INT(s.verdict[1], OS_ITEM_RETRY);
    CHECK_EQ_STR(s.reason[1], "es_rejected_execution_exception: rejected execution of coordinating operation");
    CHECK_EQ_INT(s.status[2], 400);
    CHECK_EQ_INT(s.verdict[2], OS_ITEM_REJECT);
    CHECK_EQ_STR(s.id[2], "e3");
    CHECK_EQ_STR(s.reason[2], "mapper_parsing_exception: failed to parse field [x] of type [long] in document \"q\" "
                              "(caused by illegal_argument_exception: For input string: \"abc\")");
    CHECK_EQ_INT(s.status[3], 200);
    CHECK_EQ_STR(s.id[3], "e4");
    /* wrong item count: nothing reported */
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(os_bulk_parse_response(&d, MIXED, strlen(MIXED), 5, NULL, collect, &s), OS_BULK_ECOUNT);
    CHECK_EQ_INT(s.n, 0);
    json_doc_free(&d);
}

static void test_parse_all_ok_and_bad(void) {
    json_doc d;
    CHECK_EQ_INT(json_doc_init(&d, os_bulk_tokens_for(2)), JSON_OK);
    seen s;
    memset(&s, 0, sizeof s);
    int errors = -1;
    const char *ok = "{\"took\":1,\"errors\":false,\"items\":[{\"index\":{\"_id\":\"a\",\"status\":201}},"
                     "{\"index\":{\"_id\":\"b\",\"status\":200}}]}";
    CHECK_EQ_INT(os_bulk_parse_response(&d, ok, strlen(ok), 2, &errors, collect, &s), OS_BULK_OK);
    CHECK_EQ_INT(errors, 0);
    CHECK_EQ_INT(s.n, 0); /* errors:false -> no per-item work */
    const char *bad[] = {"<html>502 Bad Gateway</html>", "{\"took\":1}", "{\"errors\":true}",
                         "{\"errors\":true,\"items\":[1,2]}", "{\"errors\":\"no\",\"items\":[]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(os_bulk_parse_response(&d, bad[i], strlen(bad[i]), 2, NULL, collect, &s), OS_BULK_EINVAL);
    CHECK_EQ_INT(s.n, 0);
    /* the token array too small for the answer: the caller is told to grow it */
    json_doc tiny;
    CHECK_EQ_INT(json_doc_init(&tiny, 8), JSON_OK);
    CHECK_EQ_INT(os_bulk_parse_response(&tiny, MIXED, strlen(MIXED), 4, NULL, collect, &s), OS_BULK_ETOKENS);
    json_doc_free(&tiny);
    json_doc_free(&d);
}

static const char *ids_e(void *ud, uint32_t i, size_t *len) {
    static const char *const ids[] = {"e1", "e2", "e3", "e4"};
    (void)ud;
    *len = 2;
    return i < 4 ? ids[i] : NULL;
}

/* The checked parse decides acknowledgements: items must be there (also with errors:false), each
 * with a status, each for the document sent at its place; otherwise nothing is reported. */
static void test_parse_checked(void) {
    json_doc d;
    CHECK_EQ_INT(json_doc_init(&d, os_bulk_tokens_for(4)), JSON_OK);
    seen s;
    memset(&s, 0, sizeof s);
    int errors = -1;
    CHECK_EQ_INT(os_bulk_parse_checked(&d, MIXED, strlen(MIXED), 4, &errors, ids_e, NULL, collect, &s), OS_BULK_OK);
    CHECK_EQ_INT(errors, 1);
    CHECK_EQ_INT(s.n, 4);
    const char *ok = "{\"took\":1,\"errors\":false,\"items\":[{\"index\":{\"_id\":\"e1\",\"status\":201}},"
                     "{\"index\":{\"_id\":\"e2\",\"status\":200}}]}";
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(os_bulk_parse_checked(&d, ok, strlen(ok), 2, &errors, ids_e, NULL, collect, &s), OS_BULK_OK);
    CHECK_EQ_INT(s.n, 0);
    const char *swapped = "{\"took\":1,\"errors\":false,\"items\":[{\"index\":{\"_id\":\"e2\",\"status\":201}},"
                          "{\"index\":{\"_id\":\"e1\",\"status\":200}}]}";
    CHECK_EQ_INT(os_bulk_parse_checked(&d, swapped, strlen(swapped), 2, NULL, ids_e, NULL, collect, &s),
                 OS_BULK_EORDER);
    /* the lenient parse takes the same answer */
    CHECK_EQ_INT(os_bulk_parse_response(&d, swapped, strlen(swapped), 2, NULL, collect, &s), OS_BULK_OK);
    const char *no_items = "{\"took\":1,\"errors\":false}";
    CHECK_EQ_INT(os_bulk_parse_checked(&d, no_items, strlen(no_items), 2, NULL, ids_e, NULL, collect, &s),
                 OS_BULK_EINVAL);
    const char *no_status = "{\"took\":1,\"errors\":false,\"items\":[{\"index\":{\"_id\":\"e1\"}},"
                            "{\"index\":{\"_id\":\"e2\",\"status\":200}}]}";
    CHECK_EQ_INT(os_bulk_parse_checked(&d, no_status, strlen(no_status), 2, NULL, ids_e, NULL, collect, &s),
                 OS_BULK_EINVAL);
    const char *html = "<html><body>Welcome to nginx!</body></html>";
    CHECK_EQ_INT(os_bulk_parse_checked(&d, html, strlen(html), 2, NULL, ids_e, NULL, collect, &s), OS_BULK_EINVAL);
    CHECK_EQ_INT(os_bulk_parse_checked(&d, ok, strlen(ok), 3, NULL, ids_e, NULL, collect, &s), OS_BULK_ECOUNT);
    CHECK_EQ_INT(s.n, 0);
    json_doc_free(&d);
}

static void test_error_reason(void) {
    json_doc d;
    json_doc_init(&d, 64);
    char out[128];
    const char *es = "{\"error\":{\"type\":\"security_exception\",\"reason\":\"missing credentials\"},\"status\":401}";
    os_bulk_error_reason(&d, es, strlen(es), out, sizeof out);
    CHECK_EQ_STR(out, "security_exception: missing credentials");
    const char *awsmsg = "{\"message\":\"The request signature we calculated does not match\",\"__type\":\"x\"}";
    os_bulk_error_reason(&d, awsmsg, strlen(awsmsg), out, sizeof out);
    CHECK_EQ_STR(out, "The request signature we calculated does not match");
    const char *html = "<html>\n413 Request Entity Too Large\n</html>";
    os_bulk_error_reason(&d, html, strlen(html), out, 20);
    CHECK_EQ_STR(out, "<html> 413 Request ");
    const char *multi = "{\"message\":\"line one\\nline two\"}";
    os_bulk_error_reason(&d, multi, strlen(multi), out, sizeof out);
    CHECK_EQ_STR(out, "line one line two");
    os_bulk_error_reason(&d, NULL, 0, out, sizeof out);
    CHECK_EQ_STR(out, "");
    os_bulk_error_reason(&d, NULL, 5, out, sizeof out); /* no body, whatever the length says */
    CHECK_EQ_STR(out, "");
    json_doc_free(&d);
}

static void test_doc_id(void) {
    const char doc[] = "{\"index\":{\"_index\":\"cloudtrail-2024.05.01\",\"_id\":\"3f9a-b\\\"c\"}}\n{\"_id\":\"no\"}\n";
    size_t n = 0;
    const char *id = os_bulk_doc_id(doc, strlen(doc), &n);
    CHECK(id != NULL);
    CHECK_EQ_INT(n, 9);
    CHECK(id && memcmp(id, "3f9a-b\\\"c", 9) == 0);
    const char noid[] = "{\"index\":{\"_index\":\"x\"}}\n{\"_id\":\"src\"}\n";
    CHECK(os_bulk_doc_id(noid, strlen(noid), &n) == NULL); /* never from the source line */
}

static void test_base64(void) {
    char out[32];
    CHECK_EQ_INT(base64_encode("admin:secret", 12, out, sizeof out), 16);
    CHECK_EQ_STR(out, "YWRtaW46c2VjcmV0");
    CHECK_EQ_INT(base64_encode("a", 1, out, sizeof out), 4);
    CHECK_EQ_STR(out, "YQ==");
    CHECK_EQ_INT(base64_encode("ab", 2, out, sizeof out), 4);
    CHECK_EQ_STR(out, "YWI=");
    CHECK_EQ_INT(base64_encode("", 0, out, sizeof out), 0);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(base64_encode("\xff\xfe\xfd", 3, out, sizeof out), 4);
    CHECK_EQ_STR(out, "//79");
    CHECK_EQ_INT(base64_encode("abcd", 4, out, 8), -1); /* needs 9 */
}

int main(void) {
    RUN(test_spec_managed_domain);
    RUN(test_spec_serverless_and_plain);
    RUN(test_spec_userinfo);
    RUN(test_spec_rejects);
    RUN(test_index_patterns);
    RUN(test_auth_auto);
    RUN(test_verdicts);
    RUN(test_parse_mixed);
    RUN(test_parse_all_ok_and_bad);
    RUN(test_parse_checked);
    RUN(test_error_reason);
    RUN(test_doc_id);
    RUN(test_base64);
    TEST_MAIN_END();
}
