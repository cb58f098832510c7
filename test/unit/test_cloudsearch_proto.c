/* CloudSearch wire formats: upload answers, endpoints and regions, Query forms, domain XML. */
#include "sinks/cloudsearch/cloudsearch_proto.h"
#include "testlib.h"

static int nwarn, nerr;
static char last_warn[128], last_err[128];

static void collect(void *ud, int is_error, const char *msg) {
    (void)ud;
    if (is_error) {
        nerr++;
        snprintf(last_err, sizeof last_err, "%s", msg);
    } else {
        nwarn++;
        snprintf(last_warn, sizeof last_warn, "%s", msg);
    }
}

static void test_upload_success(void) {
    json_doc d;
    CHECK_EQ_INT(json_doc_init(&d, 256), JSON_OK);
    const char *ok = "{\"status\": \"success\", \"adds\": 5000, \"deletes\": 0, "
                     "\"warnings\": [{\"message\": \"w1\"}, {\"message\": \"field \\\"x\\\" ignored\"}]}";
    cs_upload_result r;
    nwarn = nerr = 0;
    CHECK_EQ_INT(cs_parse_upload_response(&d, ok, strlen(ok), &r, collect, NULL), 0);
    CHECK(r.is_cloudsearch);
    CHECK(r.success);
    CHECK_EQ_INT(r.adds, 5000);
    CHECK_EQ_INT(r.deletes, 0);
    CHECK_EQ_INT(r.nwarnings, 2);
    CHECK_EQ_INT(nwarn, 2);
    CHECK_EQ_STR(last_warn, "field \"x\" ignored");
    CHECK_EQ_STR(r.message, "");
    json_doc_free(&d);
}

static void test_upload_error(void) {
    json_doc d;
    CHECK_EQ_INT(json_doc_init(&d, 256), JSON_OK);
    const char *bad = "{\"status\":\"error\",\"adds\":0,\"deletes\":0,\"errors\":[{\"message\":\"document x: "
                      "bad field\"},{\"message\":\"document y: too big\"}],\"message\":\"document x: bad field\"}";
    cs_upload_result r;
    nwarn = nerr = 0;
    CHECK_EQ_INT(cs_parse_upload_response(&d, bad, strlen(bad), &r, collect, NULL), 0);
    CHECK(r.is_cloudsearch);
    CHECK(!r.success);
    CHECK_EQ_INT(r.nerrors, 2);
    CHECK_EQ_INT(nerr, 2);
    CHECK_EQ_STR(last_err, "document y: too big");
    CHECK_EQ_STR(r.message, "document x: bad field");
    /* Only the outer message (model's DocumentServiceException). */
    const char *outer = "{\"status\":\"error\",\"message\":\"Request forbidden\"}";
    CHECK_EQ_INT(cs_parse_upload_response(&d, outer, strlen(outer), &r, NULL, NULL), 0);
    CHECK_EQ_STR(r.message, "Request forbidden");
    CHECK_EQ_INT(r.adds, -1);
    /* XML (5xx from the routing layer) and garbage are not CloudSearch results. */
    const char *xml = "<html>504 Gateway Time-out</html>";
    CHECK_EQ_INT(cs_parse_upload_response(&d, xml, strlen(xml), &r, NULL, NULL), -1);
    CHECK(!r.is_cloudsearch);
    CHECK(!r.too_big);
    const char *other = "{\"__type\":\"AccessDenied\",\"message\":\"no\"}";
    CHECK_EQ_INT(cs_parse_upload_response(&d, other, strlen(other), &r, NULL, NULL), 0);
    CHECK(!r.is_cloudsearch);
    json_doc_free(&d);
    /* More tokens than the document holds: flagged, not parsed. */
    CHECK_EQ_INT(json_doc_init(&d, 8), JSON_OK);
    CHECK_EQ_INT(cs_parse_upload_response(&d, bad, strlen(bad), &r, NULL, NULL), -1);
    CHECK(r.too_big);
    json_doc_free(&d);
}

static void test_region_and_url(void) {
    char region[32], url[256];
    CHECK_EQ_INT(cs_region_from_endpoint("https://doc-movies-m4fcjhuxgj6i76smhyiz7pfxsu.us-east-1.cloudsearch."
                                         "amazonaws.com",
                                         region, sizeof region),
                 0);
    CHECK_EQ_STR(region, "us-east-1");
    CHECK_EQ_INT(cs_region_from_endpoint("doc-t-abc.eu-west-3.cloudsearch.amazonaws.com:443/", region, sizeof region),
                 0);
    CHECK_EQ_STR(region, "eu-west-3");
    CHECK_EQ_INT(cs_region_from_endpoint("http://127.0.0.1:8080", region, sizeof region), -1);
    CHECK_EQ_INT(cs_region_from_endpoint("cloudsearch.us-east-1.amazonaws.com", region, sizeof region), -1);
    CHECK_EQ_INT(cs_region_from_endpoint("doc-x.us-east-1.cloudsearch.amazonaws.com", region, 4), -1);

    CHECK_EQ_INT(cs_batch_url("doc-x-1.us-east-1.cloudsearch.amazonaws.com", NULL, url, sizeof url), 0);
    CHECK_EQ_STR(url, "https://doc-x-1.us-east-1.cloudsearch.amazonaws.com/2013-01-01/documents/batch");
    CHECK_EQ_INT(cs_batch_url("http://127.0.0.1:9000/", NULL, url, sizeof url), 0);
    CHECK_EQ_STR(url, "http://127.0.0.1:9000/2013-01-01/documents/batch");
    CHECK_EQ_INT(cs_batch_url("127.0.0.1:9000", "http", url, sizeof url), 0);
    CHECK_EQ_STR(url, "http://127.0.0.1:9000/2013-01-01/documents/batch");
    CHECK_EQ_INT(cs_batch_url("http://h/?x=1", NULL, url, sizeof url), -1);
    CHECK_EQ_INT(cs_batch_url("", NULL, url, sizeof url), -1);
    CHECK_EQ_INT(cs_batch_url("http://a-very-long-host.example.com", NULL, url, 40), -1);
}

static void test_forms(void) {
    buf b;
    buf_init(&b, 4096);
    CHECK_EQ_INT(cs_form_add(&b, "Action", "DescribeDomains"), 0);
    CHECK_EQ_INT(cs_form_add(&b, "DomainNames.member.1", "a b&c=d/é"), 0);
    CHECK_EQ_INT(buf_terminate(&b), 0);
    CHECK_EQ_STR(b.data, "Action=DescribeDomains&DomainNames.member.1=a%20b%26c%3Dd%2F%C3%A9");

    buf_clear(&b);
    const schema_field *name = schema_find("event_name");
    CHECK(name != NULL);
    if (name) {
        CHECK_EQ_INT(cs_form_define_field(&b, "cloudtrail-1", name), 0);
        CHECK_EQ_INT(buf_terminate(&b), 0);
        /* the original domain's event_name: literal (search, facet, return); README.md, Documents */
        CHECK_EQ_STR(b.data, "Action=DefineIndexField&Version=2013-01-01&DomainName=cloudtrail-1"
                             "&IndexField.IndexFieldName=event_name&IndexField.IndexFieldType=literal"
                             "&IndexField.LiteralOptions.SearchEnabled=true"
                             "&IndexField.LiteralOptions.FacetEnabled=true"
                             "&IndexField.LiteralOptions.ReturnEnabled=true"
                             "&IndexField.LiteralOptions.SortEnabled=false");
    }
    buf_clear(&b);
    const schema_field *raw = schema_find("raw");
    CHECK(raw != NULL);
    if (raw) {
        CHECK_EQ_INT(cs_form_define_field(&b, "d01", raw), 0);
        CHECK_EQ_INT(buf_terminate(&b), 0);
        /* text (return, highlight): no Search/Facet keys exist for text fields. */
        CHECK(strstr(b.data, "IndexField.IndexFieldType=text&") != NULL);
        CHECK(strstr(b.data, "TextOptions.HighlightEnabled=true") != NULL);
        CHECK(strstr(b.data, "TextOptions.ReturnEnabled=true") != NULL);
        CHECK(strstr(b.data, "SearchEnabled") == NULL);
        CHECK(strstr(b.data, "FacetEnabled") == NULL);
    }
    /* Every schema field has a form that fits and names its own options block. */
    for (size_t i = 0; i < schema_count(); i++) {
        buf_clear(&b);
        CHECK_EQ_INT(cs_form_define_field(&b, "cloudtrail-1", schema_field_at(i)), 0);
    }
    buf_free(&b);
    buf_init(&b, 10);
    CHECK_EQ_INT(cs_form_add(&b, "Action", "DescribeDomains"), -1);
    buf_free(&b);
}

static const char *describe_xml =
    "<DescribeDomainsResponse xmlns=\"http://cloudsearch.amazonaws.com/doc/2013-01-01/\"><DescribeDomainsResult>"
    "<DomainStatusList><member><DomainId>1/other</DomainId><DomainName>other</DomainName><Created>true</Created>"
    "<DocService><Endpoint>doc-other-x.us-east-1.cloudsearch.amazonaws.com</Endpoint></DocService></member>"
    "<member><DomainId>1/movies</DomainId><DomainName>movies</DomainName><Created>true</Created>"
    "<Deleted>false</Deleted><DocService><Endpoint>doc-movies-m4fc.us-east-1.cloudsearch.amazonaws.com</Endpoint>"
    "</DocService><SearchService><Endpoint>search-movies-m4fc.us-east-1.cloudsearch.amazonaws.com</Endpoint>"
    "</SearchService><RequiresIndexDocuments>true</RequiresIndexDocuments><Processing>false</Processing></member>"
    "<member><DomainName>young</DomainName><Created>false</Created><Processing>true</Processing></member>"
    "</DomainStatusList></DescribeDomainsResult></DescribeDomainsResponse>";

static void test_domain_status(void) {
    cs_domain_status st;
    size_t n = strlen(describe_xml);
    CHECK_EQ_INT(cs_parse_domain_status(describe_xml, n, "movies", &st), 0);
    CHECK_EQ_STR(st.name, "movies");
    CHECK_EQ_STR(st.doc_endpoint, "doc-movies-m4fc.us-east-1.cloudsearch.amazonaws.com");
    CHECK(st.created && !st.deleted && !st.processing && st.requires_index_documents);
    CHECK_EQ_INT(cs_parse_domain_status(describe_xml, n, "young", &st), 0);
    CHECK_EQ_STR(st.doc_endpoint, "");
    CHECK(!st.created && st.processing);
    CHECK_EQ_INT(cs_parse_domain_status(describe_xml, n, "absent", &st), -1);
    CHECK_EQ_INT(cs_parse_domain_status(describe_xml, n, "movie", &st), -1);
    const char *create = "<CreateDomainResponse><CreateDomainResult><DomainStatus><DomainName>new-one</DomainName>"
                         "<Created>false</Created></DomainStatus></CreateDomainResult></CreateDomainResponse>";
    CHECK_EQ_INT(cs_parse_domain_status(create, strlen(create), "new-one", &st), 0);
    CHECK(!st.created);

    CHECK(cs_domain_name_valid("cloudtrail-1"));
    CHECK(!cs_domain_name_valid("ab"));
    CHECK(!cs_domain_name_valid("1abc"));
    CHECK(!cs_domain_name_valid("Upper"));
    CHECK(!cs_domain_name_valid("a-name-that-is-far-too-long-x"));
    CHECK(cs_domain_name_valid("a-name-that-is-far-too-long"));
}

int main(void) {
    RUN(test_upload_success);
    RUN(test_upload_error);
    RUN(test_region_and_url);
    RUN(test_forms);
    RUN(test_domain_status);
    TEST_MAIN_END();
}
