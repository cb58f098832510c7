/* Document builder throughput: CloudTrail records built into 5 MB batches over and over. Prints
 * records per CPU-second, input MB/s, document bytes per record and allocations per record in
 * the measured loop.
 *
 *   bench_build [SECONDS] [raw|noraw] [sdf|bulk] [original|standard|full] [--corpus DIR]
 *               [--max-records N] [--field-bytes] [--no-fast-escape]     (defaults: 3 raw sdf standard)
 *
 * Records: 4,000 generated in memory (~1.5 KB each), or those of the CloudTrail files under DIR
 * (a ctgen corpus, e.g. bench_e2e's /tmp/ctindex-bench-40-2-50000-1), at most N (default 100000).
 * --field-bytes: what each field of the documents costs, in bytes per record (its ,"name":value
 * in the document, averaged over every record) and how often it is present, for the chosen profile.
 * --no-fast-escape: jsonw's SSE2 loop only, without the shuffle path for ASCII (jsonw_fast_path), to
 * compare the two.
 *
 * Allocation counting wraps the allocator (alloc_wrap.h); it is disabled under AddressSanitizer,
 * which owns the allocator. Measure a non-sanitized build. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/jsonw.h"
#include "benchlib.h"
#include "pipeline/batch.h"
#include "pipeline/docbuild.h"
#include "pipeline/rsplit.h"
#include "pipeline/schema.h"

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

/* The records, in one arena. */
typedef struct recset {
    char **recs;
    size_t *lens;
    size_t n, cap, max;
    uint64_t bytes;
} recset;

static int recset_add(void *ud, const char *rec, size_t len) {
    recset *r = ud;
    if (r->n == r->max) return RSPLIT_TAKEN;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4096;
        r->recs = realloc(r->recs, r->cap * sizeof *r->recs);
        r->lens = realloc(r->lens, r->cap * sizeof *r->lens);
        if (!r->recs || !r->lens) abort();
    }
    char *copy = malloc(len ? len : 1);
    if (!copy) abort();
    memcpy(copy, rec, len);
    r->recs[r->n] = copy;
    r->lens[r->n++] = len;
    r->bytes += len;
    return RSPLIT_TAKEN;
}

/* Every element of every file under dir (gzip or plain), in path order. */
static int load_corpus(recset *r, const char *dir) {
    bench_corpus files = {0}, plain = {0};
    ceiling *c = ceiling_new(1);
    rsplit *rs = rsplit_new(DOCB_DEFAULT_MAX_RECORD);
    if (!c || !rs || bench_corpus_load_dir(&files, dir) != 0 || ceiling_inflate_all(c, &files, &plain) != 0) return -1;
    for (size_t i = 0; i < plain.n && r->n < r->max; i++) {
        rsplit_reset(rs);
        for (size_t off = 0; off < plain.files[i].len;) {
            size_t avail;
            char *space = rsplit_space(rs, &avail);
            size_t k = plain.files[i].len - off < avail ? plain.files[i].len - off : avail;
            memcpy(space, plain.files[i].data + off, k);
            if (rsplit_commit(rs, k, recset_add, r) != RSPLIT_OK) break;
            off += k;
        }
        rsplit_finish(rs);
    }
    rsplit_free(rs);
    ceiling_free(c);
    bench_corpus_free(&files);
    bench_corpus_free(&plain);
    return r->n ? 0 : -1;
}

static void generate(recset *r) {
    enum { NREC = 4000 };
    for (int i = 0; i < NREC; i++) {
        char tmp[8192];
        int n = make_record(tmp, sizeof tmp, i);
        if (n <= 0 || (size_t)n >= sizeof tmp) abort();
        recset_add(r, tmp, (size_t)n);
    }
}

/* Bytes of each field of the documents, summed over every record. */
typedef struct field_bytes {
    uint64_t bytes[SCHEMA_MAX_FIELDS];
    uint64_t present[SCHEMA_MAX_FIELDS];
    uint64_t docs, doc_bytes, rec_bytes;
} field_bytes;

/* One built document: its fields object, each ,"name":value counted (the comma of the first one
 * too: it stands for the separator every field but one pays). */
static void count_fields(field_bytes *fb, json_doc *d, const char *doc, size_t n, int format) {
    const char *src = doc;
    size_t len = n;
    if (format == BATCH_BULK) { /* the source line */
        const char *nl = memchr(doc, '\n', n);
        src = nl + 1;
        len = n - (size_t)(src - doc) - 1;
    }
    if (json_parse(d, src, len) != JSON_OK) abort();
    int obj = format == BATCH_BULK ? 0 : json_obj_get(d, 0, "fields");
    int k = obj + 1;
    for (int e = 0; e < d->toks[obj].size; e++) {
        int v = k + 1;
        char name[80];
        if (json_tok_decode(d, k, name, sizeof name) < 0) abort();
        const schema_field *f = schema_find(name);
        if (!f) abort();
        size_t i = (size_t)(f - schema_field_at(0));
        int quoted = d->toks[v].type == JSON_STRING;
        fb->bytes[i] += (uint64_t)(d->toks[v].end + quoted - (d->toks[k].start - 1)) + 1;
        fb->present[i]++;
        k = json_next(d, v);
    }
    fb->docs++;
    fb->doc_bytes += n;
}

static void print_field_bytes(const field_bytes *fb, schema_profile p) {
    double docs = (double)fb->docs;
    uint64_t in_fields = 0;
    printf("\nfield bytes, profile %s (,\"name\":value per record, averaged over %llu records):\n",
           schema_profile_name(p), (unsigned long long)fb->docs);
    printf("  %-40s %10s %9s\n", "field", "B/record", "present");
    for (size_t i = 0; i < schema_count(); i++) {
        if (!schema_in_profile(schema_field_at(i), p)) continue;
        in_fields += fb->bytes[i];
        printf("  %-40s %10.1f %8.1f%%\n", schema_field_at(i)->name, (double)fb->bytes[i] / docs,
               100.0 * (double)fb->present[i] / docs);
    }
    double rec = (double)fb->rec_bytes / docs;
    printf("  %-40s %10.1f\n", "envelope (id, type, brackets)", (double)(fb->doc_bytes - in_fields) / docs);
    printf("  %-40s %10.1f   %.2fx of the record JSON (%.0f B/record)\n", "document", (double)fb->doc_bytes / docs,
           (double)fb->doc_bytes / (double)fb->rec_bytes, rec);
}

int main(int argc, char **argv) {
    double seconds = 3.0;
    int raw = 1, format = BATCH_SDF, want_field_bytes = 0;
    schema_profile profile = SCHEMA_PROFILE_DEFAULT;
    const char *corpus = NULL;
    recset rs = {.max = 100000};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "raw") == 0 || strcmp(a, "noraw") == 0) raw = a[0] == 'r';
        else if (strcmp(a, "sdf") == 0 || strcmp(a, "bulk") == 0) format = a[0] == 's' ? BATCH_SDF : BATCH_BULK;
        else if (schema_profile_parse(a, &profile) == 0) continue;
        else if (strcmp(a, "--corpus") == 0 && i + 1 < argc) corpus = argv[++i];
        else if (strcmp(a, "--max-records") == 0 && i + 1 < argc) rs.max = (size_t)atol(argv[++i]);
        else if (strcmp(a, "--field-bytes") == 0) want_field_bytes = 1;
        else if (strcmp(a, "--no-fast-escape") == 0) jsonw_fast_path(0);
        else if (atof(a) > 0) seconds = atof(a);
        else {
            fprintf(stderr, "usage: bench_build [SECONDS] [raw|noraw] [sdf|bulk] [original|standard|full] "
                            "[--corpus DIR] [--max-records N] [--field-bytes] [--no-fast-escape]\n");
            return 2;
        }
    }
    if (corpus ? load_corpus(&rs, corpus) != 0 : (generate(&rs), 0)) {
        fprintf(stderr, "bench_build: no records in %s\n", corpus);
        return 1;
    }

    docb_options o;
    docb_options_default(&o);
    o.include_raw = raw;
    o.format = format;
    o.profile = profile;
    doc_builder *b = docb_new(&o);
    batch bt;
    if (!b || batch_init(&bt, format, 0, 0) != 0) return 1;

    docb_result res;
    size_t docs = 0, in_bytes = 0, doc_bytes = 0, out_bytes = 0, batches = 0, bad = 0, dropped = 0;
    uint64_t allocs_before = ctalloc_allocs();
    double t0 = cpu_now(), t = t0;
    while (t - t0 < seconds) {
        for (size_t i = 0; i < rs.n; i++) {
            size_t avail;
            char *p = batch_space(&bt, &avail);
            long n = p ? docb_build(b, rs.recs[i], rs.lens[i], p, avail, &res) : DOCB_NOSPACE;
            if (n == DOCB_NOSPACE) {
                size_t len;
                batch_body(&bt, &len);
                out_bytes += len;
                batches++;
                batch_reset(&bt);
                p = batch_space(&bt, &avail);
                n = docb_build(b, rs.recs[i], rs.lens[i], p, avail, &res);
            }
            if (n < 0) {
                bad++;
                continue;
            }
            batch_commit(&bt, (size_t)n, NULL, NULL);
            docs++;
            in_bytes += rs.lens[i];
            doc_bytes += (size_t)n;
            dropped += res.dropped;
        }
        t = cpu_now();
    }
    uint64_t allocs = ctalloc_allocs() - allocs_before;
    double el = t - t0;
    printf("records: %zu distinct (%s), avg %.0f B; format %s, raw %s, fields %s, escaping fast path %s\n", rs.n,
           corpus ? corpus : "generated", (double)rs.bytes / (double)rs.n, format == BATCH_SDF ? "SDF" : "BULK",
           raw ? "on" : "off", schema_profile_name(profile), jsonw_fast_path(-1) ? "on" : "off");
    printf("built %zu docs in %.2f CPU s: %.0f records/s, %.1f MB/s in, avg doc %.0f B (%.2fx of the record JSON), "
           "%zu full batches, %zu bad\n",
           docs, el, (double)docs / el, (double)in_bytes / el / 1e6, docs ? (double)doc_bytes / (double)docs : 0.0,
           in_bytes ? (double)doc_bytes / (double)in_bytes : 0.0, batches, bad);
    if (ALLOC_WRAP_ACTIVE)
        printf("allocations in the loop: %llu (%.6f per record); during setup: %llu (proves the counter works)\n",
               (unsigned long long)allocs, docs ? (double)allocs / (double)docs : 0.0,
               (unsigned long long)allocs_before);
    else printf("allocations: not counted under AddressSanitizer\n");
    printf("sanitiser drops: %zu; %.1f MB in full batches\n", dropped, (double)out_bytes / 1e6);

    if (want_field_bytes) {
        static field_bytes fb;
        static char doc[DOCB_DEFAULT_MAX_DOC + 4096];
        json_doc d;
        if (json_doc_init(&d, DOCB_DEFAULT_MAX_DOC / 2 + 1) != JSON_OK) return 1;
        for (size_t i = 0; i < rs.n; i++) {
            long n = docb_build(b, rs.recs[i], rs.lens[i], doc, sizeof doc, &res);
            if (n <= 0) continue;
            count_fields(&fb, &d, doc, (size_t)n, format);
            fb.rec_bytes += rs.lens[i];
        }
        print_field_bytes(&fb, profile);
        json_doc_free(&d);
    }
    batch_free(&bt);
    docb_free(b);
    for (size_t i = 0; i < rs.n; i++) free(rs.recs[i]);
    free(rs.recs);
    free(rs.lens);
    return 0;
}
