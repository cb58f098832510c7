#include "base/xmlscan.h"
#include "testlib.h"

static const char *list_xml =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bucket</Name><Prefix/>"
    "<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "<Contents><Key>a%20b&amp;c.json.gz</Key><LastModified>2014-11-21T19:40:05.000Z</LastModified>"
    "<ETag>&quot;70ee&quot;</ETag><Size>11</Size><StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>k2</Key><Size>0</Size></Contents>"
    "<CommonPrefixes><Prefix>photos/2006/February/</Prefix></CommonPrefixes></ListBucketResult>";

static void test_list(void) {
    size_t len = strlen(list_xml), pos = 0;
    xml_span s, k;
    char out[128];
    CHECK_EQ_INT(xml_next(list_xml, len, &pos, "IsTruncated", &s), 0);
    CHECK(xml_eq(&s, "true"));
    pos = 0;
    CHECK_EQ_INT(xml_next(list_xml, len, &pos, "Prefix", &s), 0);
    CHECK_EQ_INT((long)s.n, 0);
    pos = 0;
    int n = 0;
    const char *keys[2] = {"a%20b&c.json.gz", "k2"};
    while (xml_next(list_xml, len, &pos, "Contents", &s) == 0) {
        CHECK_EQ_INT(xml_child(&s, "Key", &k), 0);
        CHECK(xml_decode(&k, out, sizeof out) > 0);
        if (n < 2) CHECK_EQ_STR(out, keys[n]);
        n++;
    }
    CHECK_EQ_INT(n, 2);
    pos = 0;
    CHECK_EQ_INT(xml_next(list_xml, len, &pos, "NextContinuationToken", &s), 0);
    CHECK(xml_eq(&s, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="));
    pos = 0;
    CHECK_EQ_INT(xml_next(list_xml, len, &pos, "Missing", &s), -1);
    /* "Key" must not match "KeyCount". */
    pos = 0;
    CHECK_EQ_INT(xml_next(list_xml, len, &pos, "Key", &s), 0);
    CHECK(xml_eq(&s, "a%20b&amp;c.json.gz") == 0);
}

static void test_decode(void) {
    char out[16];
    xml_span s = {"&lt;&#233;&#x41;&apos;", 22};
    CHECK_EQ_INT(xml_decode(&s, out, sizeof out), 5);
    CHECK_EQ_STR(out, "<\xc3\xa9"
                      "A'");
    xml_span bad1 = {"&bogus;", 7}, bad2 = {"&#xD800;", 8}, bad3 = {"a&amp", 5};
    CHECK_EQ_INT(xml_decode(&bad1, out, sizeof out), -1);
    CHECK_EQ_INT(xml_decode(&bad2, out, sizeof out), -1);
    CHECK_EQ_INT(xml_decode(&bad3, out, sizeof out), -1);
    xml_span big = {"0123456789abcdef", 16};
    CHECK_EQ_INT(xml_decode(&big, out, sizeof out), -1);
}

static void test_error(void) {
    const char *e = "<Error><Code>NoSuchKey</Code><Message>The resource you requested does not exist</Message></Error>";
    size_t pos = 0;
    xml_span s;
    CHECK_EQ_INT(xml_next(e, strlen(e), &pos, "Code", &s), 0);
    CHECK(xml_eq(&s, "NoSuchKey"));
    /* Truncated documents never read past the end. */
    pos = 0;
    CHECK_EQ_INT(xml_next(e, 15, &pos, "Code", &s), -1);
}

int main(void) {
    RUN(test_list);
    RUN(test_decode);
    RUN(test_error);
    TEST_MAIN_END();
}
