/* Throughput of gunzip alone vs gunzip + rsplit, per CPU second.
 *
 *   bench_split [-r REPS] [FILE.json.gz ...]
 *
 * With no files it builds a synthetic corpus in memory: CloudTrail-like records of about 1.5 KB
 * (S3 data events and STS AssumeRole with long tokens and an escaped policy document) with random
 * ids, gzipped at level 6 in files of 1000 records. Input is fed in 16 KiB chunks as libcurl
 * delivers it. Each mode runs once to warm up, then REPS times; median and best are printed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "benchlib.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void rand_chars(char *out, size_t n, const char *alphabet) {
    size_t k = strlen(alphabet);
    for (size_t i = 0; i < n; i++) out[i] = alphabet[next_rand() % k];
    out[n] = '\0';
}

static size_t make_record(char *out, size_t cap) {
    char id[40], req[20], key[24], akid[17], ip[20], tok[700], host[64];
    rand_chars(id, 36, "0123456789abcdef");
    id[8] = id[13] = id[18] = id[23] = '-';
    rand_chars(req, 16, "0123456789ABCDEF");
    rand_chars(key, 20, "abcdefghijklmnopqrstuvwxyz0123456789/");
    rand_chars(akid, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    snprintf(ip, sizeof ip, "%u.%u.%u.%u", (unsigned)(next_rand() % 223 + 1), (unsigned)(next_rand() % 256),
             (unsigned)(next_rand() % 256), (unsigned)(next_rand() % 256));
    unsigned long long acct = 100000000000ull + next_rand() % 899999999999ull;
    int mm = (int)(next_rand() % 60), ss = (int)(next_rand() % 60);
    snprintf(host, sizeof host, "bucket-%llu", (unsigned long long)(next_rand() % 50));
    const char *ident_fmt =
        "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"AssumedRole\",\"principalId\":\"AROA%s:worker\","
        "\"arn\":\"arn:aws:sts::%llu:assumed-role/app-role/worker\",\"accountId\":\"%llu\",\"accessKeyId\":\"ASIA%s\","
        "\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"AROA%s\",\"arn\":\"arn:aws:iam::%"
        "llu:"
        "role/app-role\",\"accountId\":\"%llu\",\"userName\":\"app-role\"},\"webIdFederationData\":{},\"attributes\":"
        "{\"creationDate\":\"2024-05-01T10:%02d:%02dZ\",\"mfaAuthenticated\":\"false\"}}},\"eventTime\":\"2024-05-"
        "01T11:"
        "%02d:%02dZ\",";
    int n = snprintf(out, cap, ident_fmt, akid, acct, acct, akid, akid, acct, acct, mm, ss, ss, mm);
    if (next_rand() % 100 < 60) {
        n += snprintf(
            out + n, cap - (size_t)n,
            "\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\",\"awsRegion\":\"us-east-1\","
            "\"sourceIPAddress\":\"%s\",\"userAgent\":\"[aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 "
            "md/GOOS#linux md/GOARCH#amd64 api/s3#1.47.7]\",\"requestParameters\":{\"bucketName\":\"%s\","
            "\"Host\":\"%s.s3.us-east-1.amazonaws.com\",\"key\":\"data/%s.parquet\"},\"responseElements\":null,"
            "\"additionalEventData\":{\"SignatureVersion\":\"SigV4\",\"CipherSuite\":\"ECDHE-RSA-AES128-GCM-"
            "SHA256\",\"bytesTransferredIn\":0,\"AuthenticationMethod\":\"AuthHeader\",\"x-amz-id-2\":\"%s%s\","
            "\"bytesTransferredOut\":%llu},\"requestID\":\"%s\",\"eventID\":\"%s\",\"readOnly\":true,"
            "\"resources\":[{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::%s/data/%s.parquet\"},"
            "{\"accountId\":\"%llu\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::%s\"}],\"eventType\":"
            "\"AwsApiCall\",\"managementEvent\":false,\"recipientAccountId\":\"%llu\",\"eventCategory\":\"Data\"",
            ip, host, host, key, key, id, (unsigned long long)(next_rand() % 10000000), req, id, host, key, acct, host,
            acct);
    } else {
        rand_chars(tok, 600, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
        n += snprintf(
            out + n, cap - (size_t)n,
            "\"eventSource\":\"sts.amazonaws.com\",\"eventName\":\"AssumeRole\",\"awsRegion\":\"us-east-1\","
            "\"sourceIPAddress\":\"%s\",\"userAgent\":\"aws-cli/2.15.0 Python/3.11.6\",\"requestParameters\":"
            "{\"roleArn\":\"arn:aws:iam::%llu:role/deploy\",\"roleSessionName\":\"s-%s\",\"policy\":\"{\\\"Ver"
            "sion\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\",\\\"Action\\\":\\\"s3:*"
            "\\\",\\\"Resource\\\":\\\"*\\\"}]}\"},\"responseElements\":{\"credentials\":{\"accessKeyId\":\"ASIA%s\","
            "\"sessionToken\":\"%s\",\"expiration\":\"May 1, 2024, 12:%02d:%02d PM\"}},\"requestID\":\"%s\","
            "\"eventID\":\"%s\",\"readOnly\":true,\"eventType\":\"AwsApiCall\",\"managementEvent\":true,"
            "\"recipientAccountId\":\"%llu\",\"eventCategory\":\"Management\"",
            ip, acct, req, akid, tok, mm, ss, req, id, acct);
    }
    n += snprintf(out + n, cap - (size_t)n,
                  ",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\","
                  "\"clientProvidedHostHeader\":\"%s.amazonaws.com\"}}",
                  host);
    return (size_t)n;
}

/* gzip level 6 (the gzip default, as CloudTrail writes) into a malloc'ed buffer. */
static int gzip_add(bench_corpus *c, const char *data, size_t len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    size_t cap = deflateBound(&z, (uLong)len);
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (!out || deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return bench_corpus_add(c, out, n);
}

static void synthetic_corpus(bench_corpus *c, int nfiles, int per_file) {
    size_t cap = (size_t)per_file * 4096 + 64;
    char *json = malloc(cap);
    if (!json) abort();
    for (int f = 0; f < nfiles; f++) {
        size_t n = (size_t)sprintf(json, "{\"Records\":[");
        for (int r = 0; r < per_file; r++) {
            if (r) json[n++] = ',';
            n += make_record(json + n, cap - n);
        }
        n += (size_t)sprintf(json + n, "]}");
        if (gzip_add(c, json, n) != 0) abort();
    }
    free(json);
}

int main(int argc, char **argv) {
    int reps = 7, argi = 1;
    if (argc > 2 && strcmp(argv[1], "-r") == 0) {
        reps = atoi(argv[2]);
        argi = 3;
    }
    if (reps < 1 || reps > 101) reps = 7;
    bench_corpus files = {0}, plain = {0};
    if (argi < argc) {
        for (int i = argi; i < argc; i++)
            if (bench_corpus_add_file(&files, argv[i]) != 0) return 2;
    } else {
        synthetic_corpus(&files, 12, 1000);
    }
    ceiling *c = ceiling_new(1);
    if (!c || ceiling_inflate_all(c, &files, &plain) != 0) return 1;

    static const ceil_mode modes[] = {CEIL_INFLATE, CEIL_SPLIT, CEIL_SPLIT_PLAIN};
    ceil_result res[3];
    for (int i = 0; i < 3; i++) {
        if (ceiling_measure(c, modes[i], modes[i] == CEIL_SPLIT_PLAIN ? &plain : &files, reps, &res[i]) != 0) return 1;
    }
    uint64_t records = res[1].t.records, json_bytes = res[0].t.json_bytes;
    printf("corpus: %zu files, %.1f MB gz, %.1f MB json, %llu records (%.0f B avg), %d reps: median (best)\n", files.n,
           (double)files.bytes / 1e6, (double)json_bytes / 1e6, (unsigned long long)records,
           records ? (double)json_bytes / (double)records : 0.0, reps);
    for (int i = 0; i < 3; i++)
        printf("%-16s  %7.1f MB/s (%7.1f)  %9.0f records/s (%9.0f)\n", ceil_mode_name(modes[i]),
               (double)json_bytes / 1e6 / res[i].median, (double)json_bytes / 1e6 / res[i].best,
               (double)records / res[i].median, (double)records / res[i].best);
    ceiling_free(c);
    bench_corpus_free(&files);
    bench_corpus_free(&plain);
    return 0;
}
