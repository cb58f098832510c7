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
#include <time.h>
#include <zlib.h>

#include "gunzip.h"
#include "rsplit.h"

#define IN_CHUNK (16u * 1024u)
#define OUT_WINDOW (192u * 1024u) /* what rsplit_space offers at most: same window for both */
#define MAX_RECORD (1024u * 1024u)

typedef struct blob {
    uint8_t *data;
    size_t len;
} blob;

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
        "\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"AROA%s\",\"arn\":\"arn:aws:iam::%llu:"
        "role/app-role\",\"accountId\":\"%llu\",\"userName\":\"app-role\"},\"webIdFederationData\":{},\"attributes\":"
        "{\"creationDate\":\"2024-05-01T10:%02d:%02dZ\",\"mfaAuthenticated\":\"false\"}}},\"eventTime\":\"2024-05-01T11:"
        "%02d:%02dZ\",";
    int n = snprintf(out, cap, ident_fmt, akid, acct, acct, akid, akid, acct, acct, mm, ss, ss, mm);
    if (next_rand() % 100 < 60) {
        n += snprintf(out + n, cap - (size_t)n,
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
                      ip, host, host, key, key, id, (unsigned long long)(next_rand() % 10000000), req, id, host, key,
                      acct, host, acct);
    } else {
        rand_chars(tok, 600, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
        n += snprintf(out + n, cap - (size_t)n,
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

static blob gzip_blob(const char *data, size_t len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    blob b;
    size_t cap = deflateBound(&z, (uLong)len);
    b.data = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = b.data;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    b.len = cap - z.avail_out;
    deflateEnd(&z);
    return b;
}

static int synthetic_corpus(blob *files, int nfiles, int per_file, uint64_t *json_bytes) {
    size_t cap = (size_t)per_file * 4096 + 64;
    char *json = malloc(cap);
    for (int f = 0; f < nfiles; f++) {
        size_t n = (size_t)sprintf(json, "{\"Records\":[");
        for (int r = 0; r < per_file; r++) {
            if (r) json[n++] = ',';
            n += make_record(json + n, cap - n);
        }
        n += (size_t)sprintf(json + n, "]}");
        *json_bytes += n;
        files[f] = gzip_blob(json, n);
    }
    free(json);
    return nfiles;
}

static blob read_file(const char *path) {
    blob b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.data = malloc(n > 0 ? (size_t)n : 1);
    b.len = n > 0 ? fread(b.data, 1, (size_t)n, f) : 0;
    fclose(f);
    return b;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_record(void *ud, const char *rec, size_t len) {
    (void)rec;
    (void)len;
    ++*(uint64_t *)ud;
    return 0;
}

typedef struct totals {
    uint64_t out_bytes, records;
} totals;

/* mode 0: inflate only; 1: inflate + split; 2: split only (input already plain). */
static totals run_once(int mode, blob *files, int nfiles, gunzip *g, rsplit *s, uint8_t *window) {
    totals t = {0, 0};
    for (int f = 0; f < nfiles; f++) {
        gunzip_reset(g);
        rsplit_reset(s);
        const uint8_t *in = files[f].data;
        size_t len = files[f].len;
        for (size_t off = 0; off < len;) {
            size_t chunk = len - off < IN_CHUNK ? len - off : IN_CHUNK;
            if (mode == 2) chunk = len - off; /* plain: copy as much as fits */
            size_t done = 0;
            while (done < chunk) {
                size_t used = 0, made = 0, avail = OUT_WINDOW;
                uint8_t *dst = mode == 0 ? window : (uint8_t *)rsplit_space(s, &avail);
                if (mode == 2) {
                    used = chunk - done < avail ? chunk - done : avail;
                    memcpy(dst, in + off + done, used);
                    made = used;
                } else if (gunzip_step(g, in + off + done, chunk - done, &used, dst, avail, &made) != GUNZIP_OK) {
                    fprintf(stderr, "file %d: %s\n", f, gunzip_error(g));
                    exit(1);
                }
                if (mode != 0 && rsplit_commit(s, made, count_record, &t.records) != RSPLIT_OK) {
                    fprintf(stderr, "file %d: %s\n", f, rsplit_error(s));
                    exit(1);
                }
                t.out_bytes += made;
                done += used;
            }
            off += chunk;
        }
        if (mode != 2 && gunzip_finish(g) != GUNZIP_OK) {
            fprintf(stderr, "file %d: %s\n", f, gunzip_error(g));
            exit(1);
        }
        if (mode != 0 && rsplit_finish(s) != RSPLIT_OK) {
            fprintf(stderr, "file %d: %s\n", f, rsplit_error(s));
            exit(1);
        }
    }
    return t;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int reps = 7, argi = 1;
    if (argc > 2 && strcmp(argv[1], "-r") == 0) {
        reps = atoi(argv[2]);
        argi = 3;
    }
    if (reps < 1 || reps > 101) reps = 7;
    int nfiles = argc - argi;
    blob *files;
    uint64_t json_bytes = 0;
    if (nfiles > 0) {
        files = calloc((size_t)nfiles, sizeof *files);
        for (int i = 0; i < nfiles; i++) files[i] = read_file(argv[argi + i]);
    } else {
        nfiles = 12;
        files = calloc((size_t)nfiles, sizeof *files);
        synthetic_corpus(files, nfiles, 1000, &json_bytes);
    }
    gunzip *g = gunzip_new();
    rsplit *s = rsplit_new(MAX_RECORD);
    uint8_t *window = malloc(OUT_WINDOW);

    /* Plain copies of the inflated files for the split-only mode. */
    blob *plain = calloc((size_t)nfiles, sizeof *plain);
    uint64_t gz_bytes = 0;
    for (int f = 0; f < nfiles; f++) {
        gz_bytes += files[f].len;
        blob one = files[f];
        totals t = run_once(0, &one, 1, g, s, window);
        plain[f].data = malloc(t.out_bytes ? t.out_bytes : 1);
        plain[f].len = 0;
        gunzip_reset(g);
        for (size_t off = 0; off < one.len;) {
            size_t used, made;
            gunzip_step(g, one.data + off, one.len - off, &used, plain[f].data + plain[f].len,
                        t.out_bytes - plain[f].len, &made);
            plain[f].len += made;
            off += used;
            if (!used && !made) break;
        }
    }

    static const char *names[] = {"inflate only   ", "inflate + split", "split only     "};
    totals t[3];
    double median[3], best[3];
    for (int mode = 0; mode < 3; mode++) {
        blob *set = mode == 2 ? plain : files;
        t[mode] = run_once(mode, set, nfiles, g, s, window); /* warm-up */
        double secs[101];
        for (int r = 0; r < reps; r++) {
            double t0 = cpu_seconds();
            run_once(mode, set, nfiles, g, s, window);
            secs[r] = cpu_seconds() - t0;
        }
        qsort(secs, (size_t)reps, sizeof secs[0], cmp_double);
        median[mode] = secs[reps / 2];
        best[mode] = secs[0];
    }
    uint64_t records = t[1].records;
    printf("corpus: %d files, %.1f MB gz, %.1f MB json, %llu records (%.0f B avg), %d reps: median (best)\n", nfiles,
           (double)gz_bytes / 1e6, (double)t[0].out_bytes / 1e6, (unsigned long long)records,
           records ? (double)t[0].out_bytes / (double)records : 0.0, reps);
    for (int mode = 0; mode < 3; mode++)
        printf("%s  %7.1f MB/s (%7.1f)  %9.0f records/s (%9.0f)\n", names[mode],
               (double)t[0].out_bytes / 1e6 / median[mode], (double)t[0].out_bytes / 1e6 / best[mode],
               (double)records / median[mode], (double)records / best[mode]);
    (void)json_bytes;
    for (int f = 0; f < nfiles; f++) {
        free(files[f].data);
        free(plain[f].data);
    }
    free(files);
    free(plain);
    free(window);
    gunzip_free(g);
    rsplit_free(s);
    return 0;
}
