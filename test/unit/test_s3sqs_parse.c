/* The pure parts of the S3 and SQS clients: URLs and queries that sign as sent, ListObjectsV2
 * pages, S3 and SQS errors, ReceiveMessage and batch answers (Failed entries on HTTP 200). */
#include <stdint.h>
#include <string.h>

#include "aws/s3.h"
#include "aws/sqs.h"
#include "testlib.h"

static void test_object_url(void) {
    char url[S3_MAX_URL];
    CHECK_EQ_INT(s3_object_url("http://127.0.0.1:4566", "b", "a b+c=d~e/\xc3\xbc.txt", url, sizeof url), 0);
    CHECK_EQ_STR(url, "http://127.0.0.1:4566/b/a%20b%2Bc%3Dd~e/%C3%BC.txt");
    CHECK_EQ_INT(s3_object_url("http://h:1/", "b", "k", url, sizeof url), 0);
    CHECK_EQ_STR(url, "http://h:1/b/k");
    /* AWS's own endpoint: virtual-hosted for DNS-safe names, path style for dotted ones */
    CHECK_EQ_INT(
        s3_object_url("https://s3.us-west-2.amazonaws.com", "my-trail", "AWSLogs/1/x.json.gz", url, sizeof url), 0);
    CHECK_EQ_STR(url, "https://my-trail.s3.us-west-2.amazonaws.com/AWSLogs/1/x.json.gz");
    CHECK_EQ_INT(s3_object_url("https://s3.us-west-2.amazonaws.com", "my.trail", "k", url, sizeof url), 0);
    CHECK_EQ_STR(url, "https://s3.us-west-2.amazonaws.com/my.trail/k");
    CHECK_EQ_INT(s3_object_url("https://s3.us-west-2.amazonaws.com", "My_Old", "k", url, sizeof url), 0);
    CHECK_EQ_STR(url, "https://s3.us-west-2.amazonaws.com/My_Old/k");
    CHECK_EQ_INT(s3_object_url("https://s3.cn-north-1.amazonaws.com.cn", "trail", "k", url, sizeof url), 0);
    CHECK_EQ_STR(url, "https://trail.s3.cn-north-1.amazonaws.com.cn/k");
    /* an endpoint that only looks like AWS (port, path) keeps path style */
    CHECK_EQ_INT(s3_object_url("https://s3.us-west-2.amazonaws.com:8443", "trail", "k", url, sizeof url), 0);
    CHECK_EQ_STR(url, "https://s3.us-west-2.amazonaws.com:8443/trail/k");
    /* bucket URL (list) */
    CHECK_EQ_INT(s3_object_url("http://127.0.0.1:9000", "logs", NULL, url, sizeof url), 0);
    CHECK_EQ_STR(url, "http://127.0.0.1:9000/logs");
    /* refused: dot segments curl would collapse, empty/oversized keys, bad buckets, tiny buffers */
    CHECK_EQ_INT(s3_object_url("http://h", "b", "a/../b", url, sizeof url), -1);
    CHECK_EQ_INT(s3_object_url("http://h", "b", "./a", url, sizeof url), -1);
    CHECK_EQ_INT(s3_object_url("http://h", "b", "a/..", url, sizeof url), -1);
    CHECK_EQ_INT(s3_object_url("http://h", "b", "a/...", url, sizeof url), 0);
    CHECK_EQ_STR(url, "http://h/b/a/...");
    CHECK_EQ_INT(s3_object_url("http://h", "b", "", url, sizeof url), -1);
    char big[S3_MAX_KEY + 2];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_EQ_INT(s3_object_url("http://h", "b", big, url, sizeof url), -1);
    big[S3_MAX_KEY] = '\0';
    CHECK_EQ_INT(s3_object_url("http://h", "b", big, url, sizeof url), 0);
    CHECK_EQ_INT(strlen(url), strlen("http://h/b/") + S3_MAX_KEY);
    CHECK_EQ_INT(s3_object_url("http://h", "b/c", "k", url, sizeof url), -1);
    CHECK_EQ_INT(s3_object_url("ftp://h", "b", "k", url, sizeof url), -1);
    CHECK_EQ_INT(s3_object_url("http://h", "b", "\xc3\xbc", url, 12), -1); /* "http://h/b/%C3%BC" needs 18 */
}

static void test_list_query(void) {
    char q[1024];
    CHECK_EQ_INT(s3_list_query("AWSLogs/1/", "a b", "1ueG+x/Y=", "/", 5, q, sizeof q), 0);
    CHECK_EQ_STR(q, "continuation-token=1ueG%2Bx%2FY%3D&delimiter=%2F&encoding-type=url&list-type=2&max-keys=5&"
                    "prefix=AWSLogs%2F1%2F&start-after=a%20b");
    CHECK_EQ_INT(s3_list_query(NULL, "", NULL, NULL, 0, q, sizeof q), 0);
    CHECK_EQ_STR(q, "encoding-type=url&list-type=2");
    CHECK_EQ_INT(s3_list_query("p", NULL, NULL, NULL, 5000, q, sizeof q), 0);
    CHECK_EQ_STR(q, "encoding-type=url&list-type=2&max-keys=1000&prefix=p");
    CHECK_EQ_INT(s3_list_query("a-long-prefix", NULL, NULL, NULL, 0, q, 30), -1);
}

static const char list_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>bucket</Name><Prefix/><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
    "<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "<Contents><Key>happyface.jpg</Key><LastModified>2014-11-21T19:40:05.000Z</LastModified>"
    "<ETag>&quot;70ee1738b6b21e2c8a43f3a5ab0eee71&quot;</ETag><Size>11</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>a+b%2Bc%3Dd~e/%C3%BC%20x</Key><LastModified>2026-01-02T03:04:05Z</LastModified>"
    "<Size>18446744073709551615</Size></Contents>"
    "<Contents><Key>x%26y%3Cz</Key><Size>0</Size></Contents>"
    "<CommonPrefixes><Prefix>photos/2006/February/</Prefix></CommonPrefixes>"
    "<CommonPrefixes><Prefix>with+space/</Prefix></CommonPrefixes>"
    "</ListBucketResult>";

static void test_list_parse(void) {
    s3_list_parsed p;
    char why[160];
    CHECK_EQ_INT(s3_list_parse(list_xml, strlen(list_xml), &p, why, sizeof why), 0);
    CHECK_EQ_INT(p.page.nobjects, 3);
    CHECK_EQ_INT(p.page.nprefixes, 2);
    CHECK_EQ_INT(p.page.truncated, 1);
    CHECK_EQ_STR(p.page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    if (p.page.nobjects == 3) {
        CHECK_EQ_STR(p.page.objects[0].key, "happyface.jpg");
        CHECK_EQ_INT(p.page.objects[0].key_len, 13);
        CHECK_EQ_INT(p.page.objects[0].size, 11);
        CHECK_EQ_INT(p.page.objects[0].last_modified, 1416598805);
        CHECK_EQ_STR(p.page.objects[0].etag, "\"70ee1738b6b21e2c8a43f3a5ab0eee71\"");
        /* '+' is a space (S3's encoding), %2B a plus */
        CHECK_EQ_STR(p.page.objects[1].key, "a b+c=d~e/\xc3\xbc x");
        CHECK(p.page.objects[1].size == UINT64_MAX);
        CHECK_EQ_INT(p.page.objects[1].last_modified, 1767323045);
        CHECK_EQ_STR(p.page.objects[1].etag, "");
        CHECK_EQ_STR(p.page.objects[2].key, "x&y<z");
        CHECK_EQ_INT(p.page.objects[2].size, 0);
        CHECK_EQ_INT(p.page.objects[2].last_modified, 0);
    }
    if (p.page.nprefixes == 2) {
        CHECK_EQ_STR(p.page.prefixes[0], "photos/2006/February/");
        CHECK_EQ_STR(p.page.prefixes[1], "with space/");
    }
    s3_list_parsed_free(&p);

    const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>";
    CHECK_EQ_INT(s3_list_parse(last, strlen(last), &p, why, sizeof why), 0);
    CHECK_EQ_INT(p.page.nobjects, 0);
    CHECK_EQ_INT(p.page.truncated, 0);
    CHECK_EQ_STR(p.page.next_token, "");
    s3_list_parsed_free(&p);

    static const struct {
        const char *xml, *why;
    } bad[] = {
        {"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
         "IsTruncated is true but NextContinuationToken is missing"},
        {"<Error><Code>NoSuchBucket</Code></Error>", "answer is not a ListBucketResult"},
        {"<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>", "Contents without a valid Size"},
        {"<ListBucketResult><Contents><Key>k</Key><Size>18446744073709551616</Size></Contents></ListBucketResult>",
         "Contents without a valid Size"},
        {"<ListBucketResult><Contents><Key>k%zz</Key><Size>1</Size></Contents></ListBucketResult>",
         "Contents with a missing or malformed Key"},
        {"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
         "Contents with a missing or malformed Key"},
        {"<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
         "IsTruncated is neither true nor false"},
        {"<ListBucketResult><Contents><Key>k", "answer is not a ListBucketResult"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        CHECK_EQ_INT(s3_list_parse(bad[i].xml, strlen(bad[i].xml), &p, why, sizeof why), -1);
        CHECK_EQ_STR(why, bad[i].why);
        CHECK(p.arena == NULL && p.objects == NULL);
    }
}

static void test_s3_error(void) {
    char code[64], msg[128], region[32];
    const char *e1 = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                     "<Message>The resource you requested does not exist</Message>"
                     "<Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>";
    CHECK_EQ_INT(s3_parse_error(e1, strlen(e1), code, sizeof code, msg, sizeof msg, region, sizeof region), 0);
    CHECK_EQ_STR(code, "NoSuchKey");
    CHECK_EQ_STR(msg, "The resource you requested does not exist");
    CHECK_EQ_STR(region, "");
    const char *e2 = "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region &apos;us-east-1&apos; is "
                     "wrong; expecting &apos;eu-west-1&apos;</Message><Region>eu-west-1</Region></Error>";
    CHECK_EQ_INT(s3_parse_error(e2, strlen(e2), code, sizeof code, msg, sizeof msg, region, sizeof region), 0);
    CHECK_EQ_STR(code, "AuthorizationHeaderMalformed");
    CHECK_EQ_STR(msg, "the region 'us-east-1' is wrong; expecting 'eu-west-1'");
    CHECK_EQ_STR(region, "eu-west-1");
    /* a message longer than the buffer is cut, not lost */
    char small[8];
    CHECK_EQ_INT(s3_parse_error(e1, strlen(e1), code, sizeof code, small, sizeof small, NULL, 0), 0);
    CHECK_EQ_STR(small, "The res");
    CHECK_EQ_INT(s3_parse_error("oops", 4, code, sizeof code, msg, sizeof msg, region, sizeof region), -1);
    CHECK_EQ_STR(code, "");
}

static void test_sqs_error(void) {
    char code[64], msg[128];
    const char *j = "{\"__type\": \"com.amazonaws.sqs#QueueDoesNotExist\", \"message\": \"The specified queue does "
                    "not exist.\"}";
    CHECK_EQ_INT(sqs_parse_error(j, strlen(j), "AWS.SimpleQueueService.NonExistentQueue;Sender", code, sizeof code, msg,
                                 sizeof msg),
                 0);
    CHECK_EQ_STR(code, "QueueDoesNotExist");
    CHECK_EQ_STR(msg, "The specified queue does not exist.");
    const char *j2 = "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException:http://internal.amazon.com/"
                     "coral/com.amazon.coral.service/\",\"Message\":\"The security token included in the request is "
                     "invalid.\"}";
    CHECK_EQ_INT(sqs_parse_error(j2, strlen(j2), NULL, code, sizeof code, msg, sizeof msg), 0);
    CHECK_EQ_STR(code, "UnrecognizedClientException");
    CHECK_EQ_STR(msg, "The security token included in the request is invalid.");
    /* moto answers a bad signature on the JSON protocol with a Query-style XML body */
    const char *x = "<ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><Error><Type>Sender</Type>"
                    "<Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match"
                    "</Message></Error><RequestId>r</RequestId></ErrorResponse>";
    CHECK_EQ_INT(sqs_parse_error(x, strlen(x), NULL, code, sizeof code, msg, sizeof msg), 0);
    CHECK_EQ_STR(code, "SignatureDoesNotMatch");
    CHECK_EQ_STR(msg, "The request signature we calculated does not match");
    /* only the header */
    CHECK_EQ_INT(
        sqs_parse_error("", 0, "AWS.SimpleQueueService.NonExistentQueue;Sender", code, sizeof code, msg, sizeof msg),
        0);
    CHECK_EQ_STR(code, "AWS.SimpleQueueService.NonExistentQueue");
    CHECK_EQ_STR(msg, "");
    CHECK_EQ_INT(sqs_parse_error("Internal Server Error", 21, NULL, code, sizeof code, msg, sizeof msg), -1);
    CHECK_EQ_STR(code, "");
    CHECK_EQ_INT(sqs_parse_error("{\"message\":\"no type\"}", 21, NULL, code, sizeof code, msg, sizeof msg), -1);
    CHECK_EQ_STR(msg, "no type");
}

static void test_sqs_receive(void) {
    json_doc doc;
    CHECK_EQ_INT(json_doc_init(&doc, 256), JSON_OK);
    const char *js = "{\"Messages\":[{\"MessageId\":\"m-1\",\"ReceiptHandle\":\"rh\\/1+==\",\"MD5OfBody\":\"x\","
                     "\"Body\":\"{\\\"Type\\\":\\\"Notification\\\"}\\n\\u00fc\","
                     "\"Attributes\":{\"ApproximateReceiveCount\":\"3\",\"SentTimestamp\":\"1545082649183\"}},"
                     "{\"MessageId\":\"m-2\",\"ReceiptHandle\":\"rh2\",\"Body\":\"plain\"}]}";
    char arena[512];
    sqs_message m[10];
    char why[160];
    int n = sqs_parse_receive(&doc, js, strlen(js), arena, sizeof arena, m, 10, why, sizeof why);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_EQ_STR(m[0].message_id, "m-1");
        CHECK_EQ_STR(m[0].receipt_handle, "rh/1+==");
        CHECK_EQ_STR(m[0].body, "{\"Type\":\"Notification\"}\n\xc3\xbc");
        CHECK_EQ_INT(m[0].body_len, 26);
        CHECK_EQ_INT(m[0].receive_count, 3);
        CHECK(m[0].sent_timestamp == 1545082649183LL);
        CHECK_EQ_STR(m[1].body, "plain");
        CHECK_EQ_INT(m[1].receive_count, 0);
        CHECK_EQ_INT(m[1].sent_timestamp, 0);
    }
    CHECK_EQ_INT(sqs_parse_receive(&doc, "{}", 2, arena, sizeof arena, m, 10, why, sizeof why), 0);
    CHECK_EQ_INT(sqs_parse_receive(&doc, js, strlen(js), arena, sizeof arena, m, 1, why, sizeof why), -1);
    CHECK_EQ_STR(why, "more messages than asked for");
    const char *nohandle = "{\"Messages\":[{\"MessageId\":\"m\",\"Body\":\"b\"}]}";
    CHECK_EQ_INT(sqs_parse_receive(&doc, nohandle, strlen(nohandle), arena, sizeof arena, m, 10, why, sizeof why), -1);
    CHECK_EQ_INT(sqs_parse_receive(&doc, js, strlen(js), arena, 20, m, 10, why, sizeof why), -1); /* arena too small */
    CHECK_EQ_INT(sqs_parse_receive(&doc, "<html>", 6, arena, sizeof arena, m, 10, why, sizeof why), -1);
    CHECK_EQ_STR(why, "ReceiveMessage answer is not a JSON object");
    CHECK_EQ_INT(sqs_parse_receive(&doc, "{\"Messages\":{}}", 15, arena, sizeof arena, m, 10, why, sizeof why), -1);
    json_doc_free(&doc);
}

static void test_sqs_batch(void) {
    json_doc doc;
    CHECK_EQ_INT(json_doc_init(&doc, 256), JSON_OK);
    sqs_entry_result e[10];
    char why[160];
    const char *js = "{\"Successful\":[{\"Id\":\"e0\"},{\"Id\":\"e2\",\"MessageId\":\"mid-2\"}],"
                     "\"Failed\":[{\"Id\":\"e1\",\"SenderFault\":true,\"Code\":\"ReceiptHandleIsInvalid\","
                     "\"Message\":\"The input receipt handle is invalid.\"}]}";
    CHECK_EQ_INT(sqs_parse_batch(&doc, js, strlen(js), e, 4, why, sizeof why), 0);
    CHECK_EQ_INT(e[0].ok, 1);
    CHECK_EQ_STR(e[0].code, "");
    CHECK_EQ_INT(e[1].ok, 0);
    CHECK_EQ_INT(e[1].sender_fault, 1);
    CHECK_EQ_STR(e[1].code, "ReceiptHandleIsInvalid");
    CHECK_EQ_STR(e[1].message, "The input receipt handle is invalid.");
    CHECK_EQ_INT(e[2].ok, 1);
    CHECK_EQ_STR(e[2].message_id, "mid-2");
    /* an entry the answer forgets is a failure, never a success */
    CHECK_EQ_INT(e[3].ok, 0);
    CHECK_EQ_STR(e[3].code, "MissingFromAnswer");

    const char *failed_only = "{\"Failed\":[{\"Id\":\"e0\",\"SenderFault\":false,\"Code\":\"InternalError\"}],"
                              "\"Successful\":[]}";
    CHECK_EQ_INT(sqs_parse_batch(&doc, failed_only, strlen(failed_only), e, 1, why, sizeof why), 0);
    CHECK_EQ_INT(e[0].ok, 0);
    CHECK_EQ_INT(e[0].sender_fault, 0);
    CHECK_EQ_STR(e[0].code, "InternalError");

    const char *unknown = "{\"Successful\":[{\"Id\":\"e5\"}]}";
    CHECK_EQ_INT(sqs_parse_batch(&doc, unknown, strlen(unknown), e, 2, why, sizeof why), -1);
    CHECK_EQ_STR(why, "a batch entry has an Id we did not send");
    const char *twice = "{\"Successful\":[{\"Id\":\"e0\"}],\"Failed\":[{\"Id\":\"e0\",\"Code\":\"X\"}]}";
    CHECK_EQ_INT(sqs_parse_batch(&doc, twice, strlen(twice), e, 2, why, sizeof why), -1);
    CHECK_EQ_STR(why, "a batch entry is answered twice");
    CHECK_EQ_INT(sqs_parse_batch(&doc, "[]", 2, e, 2, why, sizeof why), -1);
    CHECK_EQ_INT(sqs_parse_batch(&doc, "{}", 2, e, 11, why, sizeof why), -1);

    char v[64];
    CHECK_EQ_INT(
        sqs_parse_value(&doc, "{\"MessageId\":\"abc-1\",\"MD5OfMessageBody\":\"x\"}", 44, "MessageId", v, sizeof v), 0);
    CHECK_EQ_STR(v, "abc-1");
    CHECK_EQ_INT(sqs_parse_value(&doc, "{\"QueueUrl\":\"http:\\/\\/h\\/1\\/q\"}", 31, "QueueUrl", v, sizeof v), 0);
    CHECK_EQ_STR(v, "http://h/1/q");
    CHECK_EQ_INT(sqs_parse_value(&doc, "{}", 2, "QueueUrl", v, sizeof v), -1);
    json_doc_free(&doc);
}

static int redrive(const char *js, sqs_redrive *out) {
    json_doc doc;
    CHECK_EQ_INT(json_doc_init(&doc, 64), JSON_OK);
    int rc = sqs_parse_redrive(&doc, js, strlen(js), out);
    json_doc_free(&doc);
    return rc;
}

/* GetQueueAttributes(RedrivePolicy): the policy is JSON inside a string; maxReceiveCount comes as a
 * number (the API) or a string (CloudFormation, the console). */
static void test_sqs_redrive(void) {
    sqs_redrive r;
    CHECK_EQ_INT(redrive("{\"Attributes\":{\"RedrivePolicy\":\"{\\\"deadLetterTargetArn\\\":\\\"arn:aws:sqs:us-east-1:"
                         "123456789012:ct-dlq\\\",\\\"maxReceiveCount\\\":3}\"}}",
                         &r),
                 0);
    CHECK_EQ_INT(r.max_receive_count, 3);
    CHECK_EQ_STR(r.dlq_arn, "arn:aws:sqs:us-east-1:123456789012:ct-dlq");
    CHECK_EQ_INT(
        redrive("{\"Attributes\":{\"RedrivePolicy\":\"{\\\"maxReceiveCount\\\":\\\"5\\\",\\\"deadLetterTargetArn\\\":"
                "\\\"arn:x\\\"}\"}}",
                &r),
        0);
    CHECK_EQ_INT(r.max_receive_count, 5);
    CHECK_EQ_INT(redrive("{}", &r), 1); /* no policy */
    CHECK_EQ_INT(r.max_receive_count, 0);
    CHECK_EQ_INT(redrive("{\"Attributes\":{}}", &r), 1);
    CHECK_EQ_INT(redrive("{\"Attributes\":{\"RedrivePolicy\":\"{\\\"deadLetterTargetArn\\\":\\\"a\\\"}\"}}", &r), -1);
    CHECK_EQ_INT(redrive("{\"Attributes\":{\"RedrivePolicy\":\"{\\\"deadLetterTargetArn\\\":\\\"a\\\","
                         "\\\"maxReceiveCount\\\":0}\"}}",
                         &r),
                 -1); /* out of SQS's range */
    CHECK_EQ_INT(redrive("{\"Attributes\":{\"RedrivePolicy\":\"{\\\"deadLetterTargetArn\\\":\\\"a\\\","
                         "\\\"maxReceiveCount\\\":\\\"3x\\\"}\"}}",
                         &r),
                 -1);
    CHECK_EQ_INT(redrive("{\"Attributes\":{\"RedrivePolicy\":\"not json\"}}", &r), -1);
    CHECK_EQ_INT(redrive("{\"Attributes\":{\"RedrivePolicy\":3}}", &r), -1);
    CHECK_EQ_INT(redrive("[]", &r), -1);
}

int main(void) {
    RUN(test_object_url);
    RUN(test_list_query);
    RUN(test_list_parse);
    RUN(test_s3_error);
    RUN(test_sqs_error);
    RUN(test_sqs_receive);
    RUN(test_sqs_batch);
    RUN(test_sqs_redrive);
    TEST_MAIN_END();
}
