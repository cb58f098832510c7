/* Document builder throughput: a few thousand realistic CloudTrail records (~1.5 KB each)
 * generated in memory, built into 5 MB SDF batches over and over. Prints records per
 * CPU-second, input MB/s and allocations per record in the measured loop.
 *
 *   bench_build [SECONDS] [raw|noraw] [sdf|bulk]      (defaults: 3 raw sdf)
 *
 * Allocation counting wraps the allocator (alloc_wrap.h); it is disabled under AddressSanitizer,
 * which owns the allocator. Measure a non-sanitized build. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/batch.h"
#include "pipeline/docbuild.h"

#include "alloc_wrap.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char *EVENTS[][2] = {
    {"s3.amazonaws.com", "GetObject"},
    {"s3.amazonaws.com", "PutObject"},
    {"ec2.amazonaws.com", "DescribeInstances"},
    {"ec2.amazonaws.com", "RunInstances"},
    {"iam.amazonaws.com", "GetRole"},
    {"sts.amazonaws.com", "AssumeRole"},
    {"kms.amazonaws.com", "Decrypt"},
    {"lambda.amazonaws.com", "Invoke"},
    {"monitoring.amazonaws.com", "PutMetricData"},
    {"signin.amazonaws.com", "ConsoleLogin"},
};
static const char *REGIONS[] = {"us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"};

/* One record of roughly 1.2-2 KB with the usual CloudTrail shape. */
static int make_record(char *p, size_t cap, int i) {
    const char **ev = EVENTS[rnd(10)];
    const char *region = REGIONS[rnd(4)];
    unsigned acct = 100000000u + rnd(900000000u);
    int err = rnd(10) == 0;
    char extra[400];
    int k = snprintf(extra, sizeof extra, "\"bucketName\":\"bucket-%u\",\"key\":\"logs/2024/%02u/%05u/part-%u.gz\"",
                     rnd(50), rnd(12) + 1, rnd(99999), rnd(1000));
    if (rnd(4) == 0)
        snprintf(extra + k, sizeof extra - (size_t)k, ",\"comment\":\"caf\xc3\xa9 \\u00e9 \\ud83d\\ude00 tab\\t\"");
    return snprintf(
        p, cap,
        "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"AssumedRole\",\"principalId\":\"AROA%08uEXAMPLE:"
        "session-%u\","
        "\"arn\":\"arn:aws:sts::%012u:assumed-role/Role%u/"
        "session-%u\",\"accountId\":\"%012u\",\"accessKeyId\":\"ASIA%012u\","
        "\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"AROA%08uEXAMPLE\","
        "\"arn\":\"arn:aws:iam::%012u:role/Role%u\",\"accountId\":\"%012u\",\"userName\":\"Role%u\"},"
        "\"webIdFederationData\":{},\"attributes\":{\"creationDate\":\"2024-03-05T09:%02u:00Z\",\"mfaAuthenticated\":"
        "\"false\"}}},"
        "\"eventTime\":\"2024-03-05T10:%02u:%02uZ\",\"eventSource\":\"%s\",\"eventName\":\"%s\",\"awsRegion\":\"%s\","
        "\"sourceIPAddress\":\"198.51.%u.%u\",\"userAgent\":\"aws-sdk-go/1.44.%u (go1.20; linux; amd64) "
        "exec-env/AWS_ECS_FARGATE\","
        "%s\"requestParameters\":{%s},\"responseElements\":%s,"
        "\"additionalEventData\":{\"SignatureVersion\":\"SigV4\",\"CipherSuite\":\"ECDHE-RSA-AES128-GCM-SHA256\","
        "\"bytesTransferredIn\":%u,"
        "\"AuthenticationMethod\":\"AuthHeader\",\"x-amz-id-2\":\"Zm9vYmFyYmF6cXV4%08u\",\"bytesTransferredOut\":%u},"
        "\"requestID\":\"%08X%08X\",\"eventID\":\"%08x-%04x-4%03x-a%03x-%012u\",\"readOnly\":%s,"
        "\"resources\":[{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::bucket-%u/logs/part-%u.gz\"},"
        "{\"accountId\":\"%012u\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::bucket-%u\"}],"
        "\"eventType\":\"AwsApiCall\",\"managementEvent\":false,\"recipientAccountId\":\"%012u\",\"eventCategory\":"
        "\"Data\","
        "\"tlsDetails\":{\"tlsVersion\":\"TLSv1.2\",\"cipherSuite\":\"ECDHE-RSA-AES128-GCM-SHA256\","
        "\"clientProvidedHostHeader\":\"bucket-%u.s3.%s.amazonaws.com\"}}",
        rnd(100000000), i, acct, rnd(20), i, acct, rnd(1000000), rnd(100000000), acct, rnd(20), acct, rnd(20), rnd(60),
        rnd(60), rnd(60), ev[0], ev[1], region, rnd(256), rnd(256), rnd(300),
        err ? "\"errorCode\":\"AccessDenied\",\"errorMessage\":\"User is not authorized to perform this action\"," : "",
        extra, rnd(3) ? "null" : "{\"x-amz-server-side-encryption\":\"AES256\"}", rnd(5000), rnd(100000000),
        rnd(100000), rnd(0x7fffffff), rnd(0x7fffffff), rnd(0x7fffffff), rnd(0xffff), rnd(0xfff), rnd(0xfff),
        rnd(1000000000), rnd(2) ? "true" : "false", rnd(50), rnd(1000), acct, rnd(50), acct, rnd(50), region);
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    int raw = !(argc > 2 && strcmp(argv[2], "noraw") == 0);
    int format = argc > 3 && strcmp(argv[3], "bulk") == 0 ? BATCH_BULK : BATCH_SDF;
    enum { NREC = 4000 };
    static char *recs[NREC];
    static size_t lens[NREC];
    size_t total = 0;
    for (int i = 0; i < NREC; i++) {
        char tmp[8192];
        int n = make_record(tmp, sizeof tmp, i);
        if (n <= 0 || (size_t)n >= sizeof tmp) return 1;
        recs[i] = malloc((size_t)n);
        memcpy(recs[i], tmp, (size_t)n);
        lens[i] = (size_t)n;
        total += (size_t)n;
    }

    docb_options o;
    docb_options_default(&o);
    o.include_raw = raw;
    o.format = format;
    doc_builder *b = docb_new(&o);
    batch bt;
    if (!b || batch_init(&bt, format, 0, 0) != 0) return 1;

    docb_result res;
    size_t docs = 0, in_bytes = 0, doc_bytes = 0, out_bytes = 0, batches = 0, bad = 0, dropped = 0;
    uint64_t allocs_before = ctalloc_allocs();
    double t0 = cpu_now(), t = t0;
    while (t - t0 < seconds) {
        for (int i = 0; i < NREC; i++) {
            size_t avail;
            char *p = batch_space(&bt, &avail);
            long n = p ? docb_build(b, recs[i], lens[i], p, avail, &res) : DOCB_NOSPACE;
            if (n == DOCB_NOSPACE) {
                size_t len;
                batch_body(&bt, &len);
                out_bytes += len;
                batches++;
                batch_reset(&bt);
                p = batch_space(&bt, &avail);
                n = docb_build(b, recs[i], lens[i], p, avail, &res);
            }
            if (n < 0) {
                bad++;
                continue;
            }
            batch_commit(&bt, (size_t)n, NULL, NULL);
            docs++;
            in_bytes += lens[i];
            doc_bytes += (size_t)n;
            dropped += res.dropped;
        }
        t = cpu_now();
    }
    uint64_t allocs = ctalloc_allocs() - allocs_before;
    double el = t - t0;
    printf("records: %d distinct, avg %.0f B; format %s, raw %s\n", NREC, (double)total / NREC,
           format == BATCH_SDF ? "SDF" : "BULK", raw ? "on" : "off");
    printf("built %zu docs in %.2f CPU s: %.0f records/s, %.1f MB/s in, avg doc %.0f B, %zu full batches, %zu bad\n",
           docs, el, (double)docs / el, (double)in_bytes / el / 1e6, docs ? (double)doc_bytes / (double)docs : 0.0,
           batches, bad);
    if (ALLOC_WRAP_ACTIVE)
        printf("allocations in the loop: %llu (%.6f per record); during setup: %llu (proves the counter works)\n",
               (unsigned long long)allocs, docs ? (double)allocs / (double)docs : 0.0,
               (unsigned long long)allocs_before);
    else printf("allocations: not counted under AddressSanitizer\n");
    printf("sanitiser drops: %zu; %.1f MB in full batches\n", dropped, (double)out_bytes / 1e6);
    batch_free(&bt);
    docb_free(b);
    for (int i = 0; i < NREC; i++) free(recs[i]);
    return 0;
}
