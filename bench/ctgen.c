/* ctgen — writes a deterministic, seeded corpus of realistic CloudTrail log files.
 *
 * Tests, the README demo and the benchmarks need CloudTrail files we may ship and regenerate,
 * so this program invents them: the real S3 key layout, gzip level 6, one compact line
 * {"Records":[...]} per file, a realistic mix of services and identities (~1.5 KB a record).
 * --shape writes the same records in the other shapes users hold them in (a top-level array,
 * JSON lines, back-to-back JSON, EventBridge events, CloudWatch Logs subscription payloads as
 * multi-member gzip, lookup-events output), --layout firehose the way Firehose names its
 * objects, --crlf and --broken-line the awkward variants of the line shapes.
 * --edge-cases adds the awkward inputs the indexer must survive, --digest the digest files it
 * must skip, --insights files of Insights events (CloudTrail-Insight/), --ids the list of every
 * eventID so a test can prove nothing was lost.
 *
 * Same seed and options => byte-identical files. Normal files come first and use the main
 * random stream; edge cases and then Insights files come after them and digests use a stream of
 * their own, so adding --edge-cases, --insights or --digest never changes the normal files. */
#define ZLIB_CONST
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "base/buf.h"
#include "base/date.h"

/* ---------------------------------------------------------------- limits */

#define MAX_FILES 10000000ull
#define MAX_RECORDS_PER_FILE 100000ull
#define MAX_ACCOUNTS 1000ull
#define MAX_DAYS 3660ull
#define FILE_BUF_MAX ((size_t)1 << 30) /* one file's JSON or gzip; ~300 MB at the record cap */
#define KEYS_BUF_MAX ((size_t)1 << 30)
#define KEY_MAX 400
#define PATH_MAX_LEN 4096
#define JW_MAX_DEPTH 32

/* ---------------------------------------------------------------- random */

#define GOLDEN 0x9E3779B97F4A7C15ull

/* splitmix64: fast, good enough for synthetic data, and its finaliser is a bijection, which
 * the unique-id scheme below relies on. */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rng_next(rng *r) {
    r->s += GOLDEN;
    return mix64(r->s);
}

static inline unsigned rng_below(rng *r, unsigned n) { return (unsigned)(((rng_next(r) >> 32) * (uint64_t)n) >> 32); }

static inline int rng_pct(rng *r, unsigned pct) { return rng_below(r, 100) < pct; }

static const char *pick_str(rng *r, const char *const *arr, unsigned n) { return arr[rng_below(r, n)]; }
#define COUNT(arr) ((unsigned)(sizeof(arr) / sizeof((arr)[0])))
#define PICK(r, arr) pick_str((r), (arr), COUNT(arr))

static const char ALNUM[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static const char UPPER32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"; /* AWS key-id alphabet */
static const char HEXL[] = "0123456789abcdef";
static const char HEXU[] = "0123456789ABCDEF";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char DIGITS[] = "0123456789";

/* n random characters of `alpha` (alen <= 1024); 10 bits per character, 6 per rng call. */
static void fill_rand(char *dst, rng *r, const char *alpha, unsigned alen, size_t n) {
    uint64_t x = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (bits < 10) {
            x = rng_next(r);
            bits = 64;
        }
        dst[i] = alpha[((x & 1023u) * alen) >> 10];
        x >>= 10;
        bits -= 10;
    }
}

/* ---------------------------------------------------------------- time */

typedef struct civil {
    int y;
    unsigned mo, d, h, mi, s;
} civil;

static civil civil_from_time(int64_t t) {
    civil c;
    int64_t days = t / 86400, sod = t % 86400;
    c.h = (unsigned)(sod / 3600);
    c.mi = (unsigned)(sod / 60 % 60);
    c.s = (unsigned)(sod % 60);
    int64_t y;
    int m, d;
    date_civil_from_days(days, &y, &m, &d);
    c.y = (int)y;
    c.mo = (unsigned)m;
    c.d = (unsigned)d;
    return c;
}

static void put2(char *p, unsigned v) {
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

/* "YYYY-MM-DDTHH:MM:SSZ", 20 characters, no NUL. */
static void fmt_iso(char out[20], int64_t t) {
    civil c = civil_from_time(t);
    put2(out, (unsigned)c.y / 100);
    put2(out + 2, (unsigned)c.y % 100);
    out[4] = '-';
    put2(out + 5, c.mo);
    out[7] = '-';
    put2(out + 8, c.d);
    out[10] = 'T';
    put2(out + 11, c.h);
    out[13] = ':';
    put2(out + 14, c.mi);
    out[16] = ':';
    put2(out + 17, c.s);
    out[19] = 'Z';
}

static const char *const MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The US-style dates some services put in responseElements: "May 1, 2024, 2:05:07 PM". */
static void fmt_us(char *out, size_t cap, int64_t t, int comma_after_year) {
    civil c = civil_from_time(t);
    unsigned h12 = c.h % 12 ? c.h % 12 : 12;
    snprintf(out, cap, "%s %u, %d%s %u:%02u:%02u %s", MONTHS[c.mo - 1], c.d, c.y, comma_after_year ? "," : "", h12,
             c.mi, c.s, c.h < 12 ? "AM" : "PM");
}

/* ---------------------------------------------------------------- JSON writer */

/* Appends compact JSON to a bounded buffer and places commas itself. Errors (buffer bound hit,
 * nesting too deep) latch in `err`, checked once per record. */
typedef struct jw {
    buf *b;
    int err;
    int depth;
    int after_key;
    unsigned char first[JW_MAX_DEPTH];
} jw;

static void jw_reset(jw *w, buf *b) {
    w->b = b;
    w->err = 0;
    w->depth = 0;
    w->after_key = 0;
    w->first[0] = 1;
}

static void put(jw *w, const void *p, size_t n) {
    buf *b = w->b;
    if (n == 0) return;
    if (n > b->cap - b->len && buf_reserve(b, n) != 0) {
        w->err = 1;
        return;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void putc1(jw *w, char c) { put(w, &c, 1); }
static void puts_(jw *w, const char *s) { put(w, s, strlen(s)); }
#define PUTS(w, lit) put((w), (lit), sizeof(lit) - 1)

static void put_rand(jw *w, rng *r, const char *alpha, unsigned alen, size_t n) {
    char tmp[256];
    while (n) {
        size_t k = n < sizeof tmp ? n : sizeof tmp;
        fill_rand(tmp, r, alpha, alen, k);
        put(w, tmp, k);
        n -= k;
    }
}
#define PUT_RAND(w, r, alpha, n) put_rand((w), (r), (alpha), sizeof(alpha) - 1, (n))

static void put_u64(jw *w, uint64_t v) {
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(w, tmp + i, sizeof tmp - (size_t)i);
}

/* Separator before a value: none right after a key, a comma between array elements. */
static void sep(jw *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (!w->first[w->depth]) putc1(w, ',');
    w->first[w->depth] = 0;
}

static void key_n(jw *w, const char *k, size_t n) {
    if (!w->first[w->depth]) putc1(w, ',');
    w->first[w->depth] = 0;
    putc1(w, '"');
    put(w, k, n);
    put(w, "\":", 2);
    w->after_key = 1;
}
#define KEY(w, lit) key_n((w), (lit), sizeof(lit) - 1)

static void open_c(jw *w, char c) {
    sep(w);
    putc1(w, c);
    if (w->depth + 1 >= JW_MAX_DEPTH) {
        w->err = 1;
        return;
    }
    w->first[++w->depth] = 1;
}

static void close_c(jw *w, char c) {
    putc1(w, c);
    if (w->depth > 0) w->depth--;
    else w->err = 1;
}
#define OBJ(w) open_c((w), '{')
#define END_OBJ(w) close_c((w), '}')
#define ARR(w) open_c((w), '[')
#define END_ARR(w) close_c((w), ']')

static void str_open(jw *w) {
    sep(w);
    putc1(w, '"');
}
static void str_close(jw *w) { putc1(w, '"'); }

/* String content with JSON escaping of quotes, backslashes and control characters. */
static void put_escaped(jw *w, const char *s, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(w, s + start, i - start);
        start = i + 1;
        if (c == '"') PUTS(w, "\\\"");
        else if (c == '\\') PUTS(w, "\\\\");
        else if (c == '\n') PUTS(w, "\\n");
        else if (c == '\t') PUTS(w, "\\t");
        else {
            char e[6] = {'\\', 'u', '0', '0', HEXL[c >> 4], HEXL[c & 15]};
            put(w, e, sizeof e);
        }
    }
    put(w, s + start, n - start);
}

static void jstr(jw *w, const char *s) {
    str_open(w);
    put_escaped(w, s, strlen(s));
    str_close(w);
}
/* A string whose content is already valid JSON-escaped text (edge cases). */
static void jstr_raw(jw *w, const char *json_content) {
    str_open(w);
    puts_(w, json_content);
    str_close(w);
}
#define SLIT(w, lit) (sep(w), put((w), "\"" lit "\"", sizeof(lit) + 1))
#define KS(w, k, lit) (KEY(w, k), SLIT(w, lit))
#define KSTR(w, k, s) (KEY(w, k), jstr((w), (s)))
static void jraw(jw *w, const char *lit) {
    sep(w);
    puts_(w, lit);
}
static void jnum(jw *w, uint64_t v) {
    sep(w);
    put_u64(w, v);
}
static void jbool(jw *w, int v) { jraw(w, v ? "true" : "false"); }
static void jtime(jw *w, int64_t t) {
    char s[20];
    fmt_iso(s, t);
    str_open(w);
    put(w, s, sizeof s);
    str_close(w);
}
#define KNUM(w, k, v) (KEY(w, k), jnum((w), (v)))

/* ---------------------------------------------------------------- content pools */

static const char *const REGIONS[] = {
    "us-east-1",      "eu-west-1", "us-west-2",      "ap-northeast-1", "eu-central-1", "us-east-2",
    "ap-southeast-2", "sa-east-1", "ca-central-1",   "ap-south-1",     "eu-north-1",   "us-west-1",
    "ap-southeast-1", "eu-west-2", "ap-northeast-2", "eu-west-3",      "af-south-1"};

static const char *const VERSIONS[] = {"1.08", "1.09", "1.10", "1.11"};

enum session_kind { SESS_EMAIL, SESS_INSTANCE, SESS_SDK, SESS_FIXED, SESS_FUNCTION, SESS_ECS };

static const struct role {
    const char *name;
    const char *path;
    enum session_kind session;
} ROLES[] = {
    {"OrganizationAccountAccessRole", "", SESS_EMAIL},
    {"AWSReservedSSO_AdministratorAccess_5d3f8a1c2b4e6f70", "aws-reserved/sso.amazonaws.com/", SESS_EMAIL},
    {"AWSReservedSSO_ReadOnlyAccess_0a9b8c7d6e5f4321", "aws-reserved/sso.amazonaws.com/", SESS_EMAIL},
    {"GitHubActionsDeployRole", "", SESS_FIXED},
    {"TerraformExecutionRole", "", SESS_SDK},
    {"ecsTaskExecutionRole", "", SESS_ECS},
    {"KarpenterNodeRole-prod", "", SESS_INSTANCE},
    {"DataPipelineRole", "service-role/", SESS_SDK},
    {"lambda-image-resizer-role", "service-role/", SESS_FUNCTION},
    {"eks-cluster-autoscaler", "", SESS_SDK},
    {"AmazonSSMRoleForInstancesQuickSetup", "", SESS_INSTANCE},
    {"backup-operator", "", SESS_SDK},
};

static const char *const USERS[] = {"alice",      "bob",         "carol.jones",    "dave",        "erin.smith",
                                    "frank",      "grace",       "heidi",          "ivan.petrov", "judy",
                                    "svc-backup", "ci-deployer", "monitoring-bot", "legacy-etl"};

static const char *const FUNCTIONS[] = {"image-resizer",  "order-processor", "auth-authorizer",
                                        "nightly-report", "slack-notifier",  "etl-transform"};

static const char *const BUCKET_PREFIXES[] = {"datalake-raw", "app-assets", "cloudtrail-archive", "ml-training-data",
                                              "web-static",   "backups",    "logs-central",       "customer-uploads"};

/* '@' becomes a random digit. */
static const char *const UA_SDK[] = {
    "aws-cli/2.15.@@ Python/3.11.8 Linux/6.1.0-18-cloud-amd64 exe/x86_64.debian.12 prompt/off command/s3.cp",
    "aws-cli/2.13.@ Python/3.11.4 Darwin/23.4.0 exe/x86_64 prompt/off command/ec2.describe-instances",
    "Boto3/1.34.@@ md/Botocore#1.34.@@ ua/2.0 os/linux#5.10.210-201.852.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.@@",
    "aws-sdk-java/2.25.@@ Linux/5.10.213-201.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS "
    "Java/17.0.10 vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_FARGATE io/sync http/Apache "
    "cfg/retry-mode/legacy",
    "aws-sdk-go-v2/1.26.@ os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.53.@",
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.@ (+https://www.terraform.io) terraform-provider-aws/5.4@.0 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 "
    "md/GOOS#linux md/GOARCH#amd64 api/ec2#1.152.0",
    "aws-sdk-nodejs/2.15@@.0 linux/v18.19.0 exec-env/AWS_Lambda_nodejs18.x promise",
    "aws-sdk-js/3.54@.0 ua/2.0 os/linux#5.10.214-223.866.amzn2.x86_64 lang/js md/nodejs#20.12.0 "
    "api/kms#3.54@.0",
    "Karpenter/v0.35.@ aws-sdk-go/1.51.@@ (go1.22.1; linux; amd64)",
};

static const char *const UA_CONSOLE[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/12@.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:12@.0) Gecko/20100101 Firefox/12@.0",
};

static const char *const UA_S3_CONSOLE =
    "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.6@@ Linux/5.10.215-181.850.amzn2int.x86_64 "
    "OpenJDK_64-Bit_Server_VM/25.402-b08 java/1.8.0_402 vendor/Oracle_Corporation cfg/retry-mode/standard]";

/* ---------------------------------------------------------------- generator state */

typedef struct file_meta {
    unsigned acct, region, day;
    int64_t oldest, newest; /* -1 when the file has no records */
    size_t key_off;
    unsigned key_len;
} file_meta;

/* The shapes a file's records can be written in (--shape). */
typedef enum shape {
    SHAPE_S3,           /* {"Records":[...]}, as CloudTrail delivers */
    SHAPE_ARRAY,        /* [record,\nrecord,...] */
    SHAPE_NDJSON,       /* one record a line */
    SHAPE_CONCAT,       /* records back to back, no separator (Firehose's default) */
    SHAPE_EVENTBRIDGE,  /* one EventBridge event a line, "detail" before "detail-type" in every other one */
    SHAPE_CWLOGS,       /* CloudWatch Logs subscription payloads, one gzip member each, a CONTROL_MESSAGE first */
    SHAPE_LOOKUP,       /* `aws cloudtrail lookup-events` output, as the CLI prints it */
    SHAPE_LOOKUP_LINES, /* its Events one a line (jq -c '.Events[]') */
    SHAPE_STRINGS,      /* each record as a JSON string, one a line (jq '.Events[].CloudTrailEvent') */
    SHAPE_COUNT
} shape;

static const char *const SHAPE_NAMES[SHAPE_COUNT] = {"s3",     "array",  "ndjson",       "concat", "eventbridge",
                                                     "cwlogs", "lookup", "lookup-lines", "strings"};

/* Shapes with one value a line: they can have CRLF line ends and a broken line. */
static int shape_has_lines(shape s) {
    return s == SHAPE_NDJSON || s == SHAPE_EVENTBRIDGE || s == SHAPE_LOOKUP_LINES || s == SHAPE_STRINGS;
}

typedef struct options {
    const char *out;
    const char *ids_path;
    const char *broken_ids_path;
    uint64_t files, min_records, max_records, seed, accounts, regions, days, insights;
    int64_t start; /* epoch seconds of --start, midnight UTC */
    int plain, edge_cases, digest;
    shape shape;
    int firehose; /* --layout firehose */
    int crlf, broken_line;
} options;

typedef struct gen {
    options o;
    rng r;            /* content */
    rng dr;           /* digest files only */
    uint64_t uid_key; /* unique-id bijection key */
    uint64_t uid_count;
    char (*accounts)[13];
    char external_account[13];
    char bucket_suffix[9];
    buf json, gz, keys;
    buf shaped;    /* the file in its --shape, when not s3 */
    size_t *spans; /* [start, end) of every record of the current file in json */
    size_t nspans, capspans;
    size_t *members; /* cwlogs: where each payload (gzip member) ends in shaped */
    size_t nmembers, capmembers;
    FILE *broken_ids;
    uint64_t broken;
    jw w;
    z_stream zs;
    FILE *ids;
    /* current file */
    unsigned acct, region, day;
    int64_t hour_start, deliver, oldest, newest;
    size_t record_start;
    /* metadata of CloudTrail/ log files, for digests */
    file_meta *meta;
    size_t nmeta, capmeta;
    /* totals for the summary line (log and Insights files; digests counted apart) */
    uint64_t files, records, json_bytes, gz_bytes, digests, ids_written;
    char last_dir[PATH_MAX_LEN];
} gen;

static _Noreturn void die(const char *what) {
    fprintf(stderr, "ctgen: %s\n", what);
    exit(1);
}

static _Noreturn void die_errno(const char *what, const char *path) {
    fprintf(stderr, "ctgen: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

/* A 64-bit value distinct for every call in a run: mix64 is a bijection and the counter
 * never repeats, so ids built from it cannot collide (unlike purely random ones). */
static uint64_t uniq_next(gen *g) { return mix64(g->uid_key + (++g->uid_count) * GOLDEN); }

/* UUID v4 text: 64 unique bits fill time_low, time_mid, the 12 bits after the version nibble
 * and 4 bits after the variant nibble; the rest is random. */
static void make_uuid(gen *g, char out[36]) {
    uint64_t u = uniq_next(g), r = rng_next(&g->r);
    char *p = out;
    for (int i = 0; i < 12; i++) {
        *p++ = HEXL[(u >> 60) & 15];
        u <<= 4;
        if (i == 7) *p++ = '-';
    }
    *p++ = '-';
    *p++ = '4';
    for (int i = 0; i < 3; i++) {
        *p++ = HEXL[(u >> 60) & 15];
        u <<= 4;
    }
    *p++ = '-';
    *p++ = HEXL[8 + (r & 3)];
    r >>= 2;
    *p++ = HEXL[(u >> 60) & 15];
    for (int i = 0; i < 2; i++) {
        *p++ = HEXL[r & 15];
        r >>= 4;
    }
    *p++ = '-';
    fill_rand(p, &g->r, HEXL, 16, 12);
}

/* A random (not necessarily unique) UUID-shaped string, for request ids and the like. */
static void put_rand_uuid(jw *w, rng *r) {
    char u[36];
    fill_rand(u, r, HEXL, 16, 36);
    u[8] = u[13] = u[18] = u[23] = '-';
    u[14] = '4';
    u[19] = "89ab"[u[19] & 3];
    put(w, u, sizeof u);
}

/* Identifiers that must stay the same for one entity (a role's AROA id, a user's key id, a
 * KMS key's UUID) come from a stream seeded by the entity, not from the content stream. */
static rng entity_rng(const gen *g, unsigned tag, unsigned acct, unsigned idx) {
    rng e = {mix64(g->o.seed ^ ((uint64_t)tag << 48) ^ ((uint64_t)acct << 24) ^ idx)};
    return e;
}

static void put_entity(jw *w, const gen *g, unsigned tag, unsigned acct, unsigned idx, const char *alpha, unsigned alen,
                       size_t n) {
    rng e = entity_rng(g, tag, acct, idx);
    put_rand(w, &e, alpha, alen, n);
}
enum { ENT_ROLE = 1, ENT_USER, ENT_USER_KEY, ENT_KMS, ENT_VPC, ENT_SG, ENT_VPCE };

static void put_template(jw *w, rng *r, const char *t) {
    char tmp[512];
    size_t n = 0;
    for (; *t && n < sizeof tmp; t++) tmp[n++] = *t == '@' ? DIGITS[rng_below(r, 10)] : *t;
    put_escaped(w, tmp, n);
}

/* ---------------------------------------------------------------- records */

enum ev_kind { EV_RANDOM, EV_S3, EV_STS, EV_EC2, EV_KMS, EV_IAM, EV_LAMBDA, EV_SIGNIN, EV_MISC };
enum id_kind { ID_ROLE, ID_USER, ID_SERVICE, ID_ROOT, ID_FEDERATED, ID_ACCOUNT };
enum origin { ORIGIN_SDK, ORIGIN_CONSOLE, ORIGIN_SERVICE };

typedef struct ident {
    enum id_kind kind;
    unsigned acct; /* index into g->accounts */
    unsigned who;  /* role or user index */
    const char *invoked_by;
    int hidden_name; /* failed console sign-in */
    char session[64];
    char arn[224];
} ident;

typedef struct rec {
    /* overrides, set by edge cases; zero means "generate normally" */
    enum ev_kind kind;
    const char *ua_json;  /* already-escaped JSON text for userAgent */
    const char *key_json; /* already-escaped JSON text for the S3 object key */
    int null_bodies;      /* requestParameters and responseElements are null */
    int no_event_id;
    int force_error;
    size_t big_bytes; /* S3 DeleteObjects record grown to about this many bytes */
    /* chosen while generating */
    int64_t t;
    const char *source, *name, *event_type;
    int data_event;
    int read_only; /* 1, 0, or -1 for "omit" */
    int err;
    int shared_event; /* write a sharedEventID */
    enum origin origin;
    ident id;
    char host[160];
    char ip[48];
} rec;

static const char *acct_id(const gen *g, unsigned i) { return g->accounts[i]; }
static const char *region_name(const gen *g) { return REGIONS[g->region]; }

static void make_session(gen *g, ident *id) {
    rng *R = &g->r;
    char tmp[24];
    switch (ROLES[id->who].session) {
    case SESS_EMAIL: snprintf(id->session, sizeof id->session, "%s@example.com", PICK(R, USERS)); break;
    case SESS_INSTANCE:
        fill_rand(tmp, R, HEXL, 16, 17);
        tmp[0] = '0';
        snprintf(id->session, sizeof id->session, "i-%.17s", tmp);
        break;
    case SESS_SDK: snprintf(id->session, sizeof id->session, "botocore-session-17%08u", rng_below(R, 100000000)); break;
    case SESS_FIXED: snprintf(id->session, sizeof id->session, "GitHubActions"); break;
    case SESS_FUNCTION: snprintf(id->session, sizeof id->session, "%s", PICK(R, FUNCTIONS)); break;
    case SESS_ECS:
        fill_rand(tmp, R, HEXL, 16, 24);
        snprintf(id->session, sizeof id->session, "%.24s", tmp);
        break;
    }
}

/* Choose who made the call. `invoker`: the AWS service that may call on its own behalf. */
static void pick_identity(gen *g, rec *r, const char *invoker, unsigned service_pct) {
    rng *R = &g->r;
    ident *id = &r->id;
    memset(id, 0, sizeof *id);
    id->acct = g->acct;
    unsigned p = rng_below(R, 100);
    const char *a = acct_id(g, id->acct);
    if (invoker && p < service_pct) {
        id->kind = ID_SERVICE;
        id->invoked_by = invoker;
        return;
    }
    p = rng_below(R, 100);
    if (p < 18) {
        id->kind = ID_USER;
        id->who = rng_below(R, COUNT(USERS));
        snprintf(id->arn, sizeof id->arn, "arn:aws:iam::%s:user/%s", a, USERS[id->who]);
    } else if (p < 21) {
        id->kind = ID_ROOT;
        snprintf(id->arn, sizeof id->arn, "arn:aws:iam::%s:root", a);
    } else if (p < 25) {
        id->kind = ID_FEDERATED;
        id->who = rng_below(R, COUNT(USERS));
        snprintf(id->session, sizeof id->session, "%s", PICK(R, USERS));
        snprintf(id->arn, sizeof id->arn, "arn:aws:sts::%s:federated-user/%s", a, id->session);
    } else {
        id->kind = ID_ROLE;
        id->who = rng_below(R, COUNT(ROLES));
        make_session(g, id);
        snprintf(id->arn, sizeof id->arn, "arn:aws:sts::%s:assumed-role/%s/%s", a, ROLES[id->who].name, id->session);
        /* Services acting with a caller's role (CloudFormation, S3 for SSE-KMS) name themselves. */
        if (invoker && rng_pct(R, 15)) id->invoked_by = invoker;
    }
}

static void put_role_arn(jw *w, const gen *g, unsigned acct, unsigned role) {
    PUTS(w, "arn:aws:iam::");
    puts_(w, acct_id(g, acct));
    PUTS(w, ":role/");
    puts_(w, ROLES[role].path);
    puts_(w, ROLES[role].name);
}

static void write_session_context(gen *g, rec *r, int mfa, int with_issuer) {
    jw *w = &g->w;
    ident *id = &r->id;
    KEY(w, "sessionContext");
    OBJ(w);
    KEY(w, "sessionIssuer");
    OBJ(w);
    if (with_issuer == 1) { /* role */
        KS(w, "type", "Role");
        KEY(w, "principalId");
        str_open(w);
        PUTS(w, "AROA");
        put_entity(w, g, ENT_ROLE, id->acct, id->who, UPPER32, 32, 17);
        str_close(w);
        KEY(w, "arn");
        str_open(w);
        put_role_arn(w, g, id->acct, id->who);
        str_close(w);
        KSTR(w, "accountId", acct_id(g, id->acct));
        KSTR(w, "userName", ROLES[id->who].name);
    } else if (with_issuer == 2) { /* IAM user issuing a federation token */
        KS(w, "type", "IAMUser");
        KEY(w, "principalId");
        str_open(w);
        PUTS(w, "AIDA");
        put_entity(w, g, ENT_USER, id->acct, id->who, UPPER32, 32, 17);
        str_close(w);
        KEY(w, "arn");
        str_open(w);
        PUTS(w, "arn:aws:iam::");
        puts_(w, acct_id(g, id->acct));
        PUTS(w, ":user/");
        puts_(w, USERS[id->who]);
        str_close(w);
        KSTR(w, "accountId", acct_id(g, id->acct));
        KSTR(w, "userName", USERS[id->who]);
    }
    END_OBJ(w);
    KEY(w, "webIdFederationData");
    OBJ(w);
    END_OBJ(w);
    KEY(w, "attributes");
    OBJ(w);
    KEY(w, "creationDate");
    jtime(w, r->t - (int64_t)rng_below(&g->r, 3600));
    KEY(w, "mfaAuthenticated");
    jstr(w, mfa ? "true" : "false");
    END_OBJ(w);
    if (with_issuer == 1 && ROLES[id->who].session == SESS_INSTANCE) KS(w, "ec2RoleDelivery", "2.0");
    END_OBJ(w);
}

static void put_session_key(gen *g) {
    KEY(&g->w, "accessKeyId");
    str_open(&g->w);
    PUTS(&g->w, "ASIA");
    PUT_RAND(&g->w, &g->r, UPPER32, 16);
    str_close(&g->w);
}

static void write_identity(gen *g, rec *r) {
    jw *w = &g->w;
    ident *id = &r->id;
    const char *a = acct_id(g, id->acct);
    int console = r->origin == ORIGIN_CONSOLE;
    OBJ(w);
    switch (id->kind) {
    case ID_SERVICE:
        KS(w, "type", "AWSService");
        KSTR(w, "invokedBy", id->invoked_by);
        break;
    case ID_ACCOUNT:
        KS(w, "type", "AWSAccount");
        KEY(w, "principalId");
        str_open(w);
        PUTS(w, "AIDA");
        put_entity(w, g, ENT_USER, 999, id->who, UPPER32, 32, 17);
        str_close(w);
        KSTR(w, "accountId", g->external_account);
        break;
    case ID_USER:
        KS(w, "type", "IAMUser");
        KEY(w, "principalId");
        str_open(w);
        PUTS(w, "AIDA");
        put_entity(w, g, ENT_USER, id->acct, id->who, UPPER32, 32, 17);
        str_close(w);
        KSTR(w, "arn", id->arn);
        KSTR(w, "accountId", a);
        if (console) {
            put_session_key(g);
        } else {
            KEY(w, "accessKeyId");
            str_open(w);
            PUTS(w, "AKIA");
            put_entity(w, g, ENT_USER_KEY, id->acct, id->who, UPPER32, 32, 16);
            str_close(w);
        }
        KSTR(w, "userName", id->hidden_name ? "HIDDEN_DUE_TO_SECURITY_REASONS" : USERS[id->who]);
        if (console) write_session_context(g, r, 1, 0);
        break;
    case ID_ROOT:
        KS(w, "type", "Root");
        KSTR(w, "principalId", a);
        KSTR(w, "arn", id->arn);
        KSTR(w, "accountId", a);
        put_session_key(g);
        write_session_context(g, r, 1, 0);
        break;
    case ID_FEDERATED:
        KS(w, "type", "FederatedUser");
        KEY(w, "principalId");
        str_open(w);
        puts_(w, a);
        putc1(w, ':');
        puts_(w, id->session);
        str_close(w);
        KSTR(w, "arn", id->arn);
        KSTR(w, "accountId", a);
        put_session_key(g);
        write_session_context(g, r, 0, 2);
        break;
    case ID_ROLE:
        KS(w, "type", "AssumedRole");
        KEY(w, "principalId");
        str_open(w);
        PUTS(w, "AROA");
        put_entity(w, g, ENT_ROLE, id->acct, id->who, UPPER32, 32, 17);
        putc1(w, ':');
        puts_(w, id->session);
        str_close(w);
        KSTR(w, "arn", id->arn);
        KSTR(w, "accountId", a);
        put_session_key(g);
        write_session_context(g, r, console || ROLES[id->who].session == SESS_EMAIL, 1);
        if (id->invoked_by) KSTR(w, "invokedBy", id->invoked_by);
        break;
    }
    END_OBJ(w);
}

static void make_ip(rng *R, char *out, size_t cap) {
    if (rng_pct(R, 6)) {
        snprintf(out, cap, "2600:1f18:%x:%x:%x:%x:%x:%x", rng_below(R, 65536), rng_below(R, 65536), rng_below(R, 65536),
                 rng_below(R, 65536), rng_below(R, 65536), rng_below(R, 65536));
        return;
    }
    unsigned a = 3 + rng_below(R, 220);
    if (a == 10 || a == 127 || a == 172 || a == 192) a = 52;
    snprintf(out, cap, "%u.%u.%u.%u", a, rng_below(R, 256), rng_below(R, 256), 1 + rng_below(R, 254));
}

static int has_tls(const rec *r) { return r->origin != ORIGIN_SERVICE; }

/* The opening of every API-call record, up to and including errorCode/errorMessage. */
static void write_error(gen *g, rec *r);

static void head(gen *g, rec *r) {
    jw *w = &g->w;
    rng *R = &g->r;
    if (r->id.invoked_by) r->origin = ORIGIN_SERVICE;
    if (r->origin == ORIGIN_SERVICE) {
        snprintf(r->ip, sizeof r->ip, "%s", rng_pct(R, 10) ? "AWS Internal" : r->id.invoked_by);
    } else {
        make_ip(R, r->ip, sizeof r->ip);
    }
    OBJ(w);
    KEY(w, "eventVersion");
    jstr(w, PICK(R, VERSIONS));
    KEY(w, "userIdentity");
    write_identity(g, r);
    KEY(w, "eventTime");
    jtime(w, r->t);
    KSTR(w, "eventSource", r->source);
    KSTR(w, "eventName", r->name);
    KSTR(w, "awsRegion", region_name(g));
    KSTR(w, "sourceIPAddress", r->ip);
    KEY(w, "userAgent");
    if (r->ua_json) {
        jstr_raw(w, r->ua_json);
    } else if (r->origin == ORIGIN_SERVICE) {
        jstr(w, r->id.invoked_by);
    } else {
        str_open(w);
        if (r->origin == ORIGIN_CONSOLE)
            put_template(w, R, !strcmp(r->source, "s3.amazonaws.com") ? UA_S3_CONSOLE : PICK(R, UA_CONSOLE));
        else put_template(w, R, PICK(R, UA_SDK));
        str_close(w);
    }
    if (r->err) write_error(g, r);
}

/* Writes "requestParameters": and returns 1 when the caller should write the object. */
static int params(gen *g, rec *r) {
    KEY(&g->w, "requestParameters");
    if (r->null_bodies) {
        jraw(&g->w, "null");
        return 0;
    }
    return 1;
}

/* Writes "responseElements": and returns 1 when the caller should write the object. */
static int response(gen *g, rec *r, int has_body) {
    KEY(&g->w, "responseElements");
    if (r->null_bodies || r->err || !has_body) {
        jraw(&g->w, "null");
        return 0;
    }
    return 1;
}

static void ids(gen *g, rec *r, int s3_style_request_id) {
    jw *w = &g->w;
    if (r->event_type && !strcmp(r->event_type, "AwsConsoleSignIn")) {
        /* ConsoleLogin carries no requestID. */
    } else {
        KEY(w, "requestID");
        str_open(w);
        if (s3_style_request_id) PUT_RAND(w, &g->r, HEXU, 16);
        else put_rand_uuid(w, &g->r);
        str_close(w);
    }
    if (!r->no_event_id) {
        char id[36];
        make_uuid(g, id);
        KEY(w, "eventID");
        str_open(w);
        put(w, id, sizeof id);
        str_close(w);
        if (g->ids) {
            if (fwrite(id, 1, sizeof id, g->ids) != sizeof id || fputc('\n', g->ids) == EOF)
                die("cannot write the --ids file");
            g->ids_written++;
        }
    }
    if (r->read_only >= 0) {
        KEY(w, "readOnly");
        jbool(w, r->read_only);
    }
}

static void tail(gen *g, rec *r) {
    jw *w = &g->w;
    rng *R = &g->r;
    KSTR(w, "eventType", r->event_type ? r->event_type : "AwsApiCall");
    if (!strcmp(r->source, "lambda.amazonaws.com")) KS(w, "apiVersion", "2015-03-31");
    KEY(w, "managementEvent");
    jbool(w, !r->data_event);
    KSTR(w, "recipientAccountId", acct_id(g, g->acct));
    if (r->shared_event) {
        KEY(w, "sharedEventID");
        str_open(w);
        put_rand_uuid(w, R);
        str_close(w);
    }
    if (r->data_event && r->origin == ORIGIN_SDK && rng_pct(R, 20)) {
        KEY(w, "vpcEndpointId");
        str_open(w);
        PUTS(w, "vpce-0");
        put_entity(w, g, ENT_VPCE, g->acct, g->region, HEXL, 16, 16);
        str_close(w);
    }
    KSTR(w, "eventCategory", r->data_event ? "Data" : "Management");
    if (has_tls(r)) {
        KEY(w, "tlsDetails");
        OBJ(w);
        if (rng_pct(R, 70)) {
            KS(w, "tlsVersion", "TLSv1.3");
            KS(w, "cipherSuite", "TLS_AES_128_GCM_SHA256");
        } else {
            KS(w, "tlsVersion", "TLSv1.2");
            KS(w, "cipherSuite", "ECDHE-RSA-AES128-GCM-SHA256");
        }
        KSTR(w, "clientProvidedHostHeader", r->host);
        END_OBJ(w);
    }
    if (r->origin == ORIGIN_CONSOLE && (r->id.kind == ID_ROLE || r->id.kind == ID_ROOT) &&
        (!r->event_type || strcmp(r->event_type, "AwsConsoleSignIn")))
        KS(w, "sessionCredentialFromConsole", "true");
    END_OBJ(w);
}

static void set_host(gen *g, rec *r, const char *service, int regional) {
    if (regional) snprintf(r->host, sizeof r->host, "%s.%s.amazonaws.com", service, region_name(g));
    else snprintf(r->host, sizeof r->host, "%s.amazonaws.com", service);
}

static void write_error(gen *g, rec *r) {
    jw *w = &g->w;
    rng *R = &g->r;
    char action[96], msg[640];
    const char *dot = strchr(r->source, '.');
    int svc_len = dot ? (int)(dot - r->source) : (int)strlen(r->source);
    snprintf(action, sizeof action, "%.*s:%s", svc_len, r->source, r->name);
    const char *who = r->id.arn[0] ? r->id.arn : r->id.invoked_by ? r->id.invoked_by : "anonymous";
    unsigned p = rng_below(R, 100);
    if (!strcmp(r->source, "s3.amazonaws.com")) {
        if (p < 60) {
            KS(w, "errorCode", "AccessDenied");
            KS(w, "errorMessage", "Access Denied");
        } else {
            KS(w, "errorCode", "NoSuchKey");
            KS(w, "errorMessage", "The specified key does not exist.");
        }
        return;
    }
    if (!strcmp(r->source, "ec2.amazonaws.com")) {
        KS(w, "errorCode", "Client.UnauthorizedOperation");
        snprintf(msg, sizeof msg,
                 "You are not authorized to perform this operation. User: %s is not authorized to perform: %s "
                 "because no identity-based policy allows the %s action",
                 who, action, action);
        KSTR(w, "errorMessage", msg);
        return;
    }
    if (p < 20) {
        KS(w, "errorCode", "ThrottlingException");
        KS(w, "errorMessage", "Rate exceeded");
        return;
    }
    if (!strcmp(r->source, "lambda.amazonaws.com") && p < 45) {
        KS(w, "errorCode", "ResourceNotFoundException");
        snprintf(msg, sizeof msg, "Function not found: arn:aws:lambda:%s:%s:function:%s", region_name(g),
                 acct_id(g, g->acct), PICK(R, FUNCTIONS));
        KSTR(w, "errorMessage", msg);
        return;
    }
    int exc = !strcmp(r->source, "kms.amazonaws.com") || !strcmp(r->source, "lambda.amazonaws.com") ||
              !strcmp(r->source, "secretsmanager.amazonaws.com") || !strcmp(r->source, "dynamodb.amazonaws.com");
    KSTR(w, "errorCode", exc ? "AccessDeniedException" : "AccessDenied");
    snprintf(msg, sizeof msg,
             "User: %s is not authorized to perform: %s because no identity-based policy allows the %s action", who,
             action, action);
    KSTR(w, "errorMessage", msg);
}

/* --- S3 data events */

static void put_s3_key(gen *g, rec *r, const char *key) {
    if (r->key_json) puts_(&g->w, r->key_json);
    else put_escaped(&g->w, key, strlen(key));
}

static void make_s3_key(gen *g, rec *r, char *out, size_t cap) {
    rng *R = &g->r;
    civil c = civil_from_time(r->t);
    char a[33];
    fill_rand(a, R, HEXL, 16, 32);
    switch (rng_below(R, 8)) { /* long partitioned keys are common, ELB log keys rarer */
    case 0:
    case 1:
        snprintf(out, cap,
                 "raw/events/year=%d/month=%02u/day=%02u/hour=%02u/part-%05u-%.8s-%.4s-4%.3s-8%.3s-%.12s"
                 ".c000.snappy.parquet",
                 c.y, c.mo, c.d, c.h, rng_below(R, 2000), a, a + 8, a + 12, a + 15, a + 18);
        break;
    case 2:
    case 3: snprintf(out, cap, "uploads/users/%07u/%.16s.jpg", rng_below(R, 10000000), a); break;
    case 4:
        snprintf(out, cap,
                 "AWSLogs/%s/elasticloadbalancing/%s/%d/%02u/%02u/%s_elasticloadbalancing_%s_app.web-prod.%.16s_"
                 "%d%02u%02uT%02u%02uZ_10.0.%u.%u_%.8s.log.gz",
                 acct_id(g, g->acct), region_name(g), c.y, c.mo, c.d, acct_id(g, g->acct), region_name(g), a, c.y, c.mo,
                 c.d, c.h, c.mi, rng_below(R, 256), rng_below(R, 256), a + 16);
        break;
    case 5:
        snprintf(out, cap, "backups/postgres/prod/%d-%02u-%02u/base-%010u.tar.zst", c.y, c.mo, c.d,
                 rng_below(R, 4000000000u));
        break;
    default: snprintf(out, cap, "static/js/main.%.8s.chunk.js", a); break;
    }
}

static void put_kms_key_arn(jw *w, gen *g, unsigned idx) {
    PUTS(w, "arn:aws:kms:");
    puts_(w, region_name(g));
    putc1(w, ':');
    puts_(w, acct_id(g, g->acct));
    PUTS(w, ":key/");
    rng e = entity_rng(g, ENT_KMS, g->acct * 64 + g->region, idx);
    put_rand_uuid(w, &e);
}

/* Extra "Object" entries until the record reaches r->big_bytes (DeleteObjects edge case). */
static void put_delete_objects(gen *g, rec *r) {
    jw *w = &g->w;
    KEY(w, "delete");
    OBJ(w);
    KS(w, "xmlns", "http://s3.amazonaws.com/doc/2006-03-01/");
    KEY(w, "Object");
    ARR(w);
    unsigned i = 0;
    while (g->json.len - g->record_start < r->big_bytes && !w->err) {
        OBJ(w);
        KEY(w, "Key");
        str_open(w);
        PUTS(w, "tmp/spark-staging/job-");
        put_u64(w, i / 1000);
        PUTS(w, "/part-");
        put_u64(w, i++);
        putc1(w, '-');
        PUT_RAND(w, &g->r, HEXL, 32);
        PUTS(w, ".snappy.parquet");
        str_close(w);
        END_OBJ(w);
    }
    END_ARR(w);
    KS(w, "Quiet", "true");
    END_OBJ(w);
}

static void ev_s3(gen *g, rec *r) {
    jw *w = &g->w;
    rng *R = &g->r;
    enum { GET, PUT, HEAD_, DEL, DELS } op;
    static const char *const NAMES[] = {"GetObject", "PutObject", "HeadObject", "DeleteObject", "DeleteObjects"};
    unsigned p = rng_below(R, 100);
    op = r->big_bytes ? DELS : p < 55 ? GET : p < 80 ? PUT : p < 95 ? HEAD_ : DEL;
    r->source = "s3.amazonaws.com";
    r->name = NAMES[op];
    r->data_event = 1;
    r->read_only = op == GET || op == HEAD_;
    r->origin = rng_pct(R, 8) ? ORIGIN_CONSOLE : ORIGIN_SDK;
    pick_identity(g, r, rng_pct(R, 30) ? "athena.amazonaws.com" : NULL, 30);
    if (r->id.kind != ID_SERVICE && rng_pct(R, 5)) { /* cross-account reader */
        memset(&r->id, 0, sizeof r->id);
        r->id.kind = ID_ACCOUNT;
        r->id.acct = g->acct;
        r->id.who = rng_below(R, 4);
        r->shared_event = 1;
    }
    char bucket[64], key[320];
    snprintf(bucket, sizeof bucket, "%s-%s", PICK(R, BUCKET_PREFIXES), acct_id(g, g->acct));
    make_s3_key(g, r, key, sizeof key);
    snprintf(r->host, sizeof r->host, "%s.s3.%s.amazonaws.com", bucket, region_name(g));
    head(g, r);
    if (params(g, r)) {
        OBJ(w);
        KSTR(w, "bucketName", bucket);
        KSTR(w, "Host", r->host);
        if (op == DELS) {
            put_delete_objects(g, r);
        } else {
            KEY(w, "key");
            str_open(w);
            put_s3_key(g, r, key);
            str_close(w);
        }
        if (op == PUT) KS(w, "x-amz-server-side-encryption", "aws:kms");
        END_OBJ(w);
    }
    if (response(g, r, op == PUT)) {
        OBJ(w);
        KS(w, "x-amz-server-side-encryption", "aws:kms");
        KEY(w, "x-amz-server-side-encryption-aws-kms-key-id");
        str_open(w);
        put_kms_key_arn(w, g, 0);
        str_close(w);
        KEY(w, "x-amz-version-id");
        str_open(w);
        PUT_RAND(w, R, ALNUM, 32);
        str_close(w);
        KS(w, "x-amz-server-side-encryption-bucket-key-enabled", "true");
        END_OBJ(w);
    }
    KEY(w, "additionalEventData");
    OBJ(w);
    KS(w, "SignatureVersion", "SigV4");
    KS(w, "CipherSuite", "TLS_AES_128_GCM_SHA256");
    KNUM(w, "bytesTransferredIn", op == PUT ? 1 + (uint64_t)rng_below(R, 50000000) : 0);
    if (op == PUT || op == GET) KS(w, "SSEApplied", "SSE_KMS");
    KS(w, "AuthenticationMethod", "AuthHeader");
    KEY(w, "x-amz-id-2");
    str_open(w);
    PUT_RAND(w, R, B64, 76);
    str_close(w);
    KNUM(w, "bytesTransferredOut", op == GET && !r->err ? 1 + (uint64_t)rng_below(R, 80000000) : 0);
    END_OBJ(w);
    ids(g, r, 1);
    KEY(w, "resources");
    ARR(w);
    if (op != DELS) {
        OBJ(w);
        KS(w, "type", "AWS::S3::Object");
        KEY(w, "ARN");
        str_open(w);
        PUTS(w, "arn:aws:s3:::");
        puts_(w, bucket);
        putc1(w, '/');
        put_s3_key(g, r, key);
        str_close(w);
        END_OBJ(w);
    }
    OBJ(w);
    KSTR(w, "accountId", acct_id(g, g->acct));
    KS(w, "type", "AWS::S3::Bucket");
    KEY(w, "ARN");
    str_open(w);
    PUTS(w, "arn:aws:s3:::");
    puts_(w, bucket);
    str_close(w);
    END_OBJ(w);
    END_ARR(w);
    tail(g, r);
}

/* --- STS */

static void ev_sts(gen *g, rec *r) {
    jw *w = &g->w;
    rng *R = &g->r;
    static const char *const INVOKERS[] = {"ecs-tasks.amazonaws.com", "lambda.amazonaws.com", "ec2.amazonaws.com",
                                           "eks.amazonaws.com"};
    int assume = rng_pct(R, 85);
    r->source = "sts.amazonaws.com";
    r->name = assume ? "AssumeRole" : "GetCallerIdentity";
    r->read_only = 1;
    r->origin = ORIGIN_SDK;
    pick_identity(g, r, PICK(R, INVOKERS), assume ? 40 : 0);
    set_host(g, r, "sts", rng_pct(R, 60));
    unsigned target_acct = g->o.accounts > 1 && rng_pct(R, 30) ? rng_below(R, (unsigned)g->o.accounts) : g->acct;
    unsigned target = rng_below(R, COUNT(ROLES));
    r->shared_event = assume && target_acct != g->acct;
    char session[64];
    if (r->id.kind == ID_SERVICE && !strcmp(r->id.invoked_by, "lambda.amazonaws.com"))
        snprintf(session, sizeof session, "%s", PICK(R, FUNCTIONS));
    else if (r->id.kind == ID_SERVICE) snprintf(session, sizeof session, "%016" PRIx64, rng_next(R));
    else snprintf(session, sizeof session, "%s-%u", PICK(R, USERS), rng_below(R, 100000));
    head(g, r);
    if (params(g, r)) {
        if (assume) {
            OBJ(w);
            KEY(w, "roleArn");
            str_open(w);
            put_role_arn(w, g, target_acct, target);
            str_close(w);
            KSTR(w, "roleSessionName", session);
            KNUM(w, "durationSeconds", 3600);
            END_OBJ(w);
        } else {
            jraw(w, "null");
        }
    }
    if (response(g, r, assume)) {
        char exp[48];
        fmt_us(exp, sizeof exp, r->t + 3600, 1);
        OBJ(w);
        KEY(w, "credentials");
        OBJ(w);
        KEY(w, "accessKeyId");
        str_open(w);
        PUTS(w, "ASIA");
        PUT_RAND(w, R, UPPER32, 16);
        str_close(w);
        KEY(w, "sessionToken");
        str_open(w);
        PUTS(w, "IQoJb3JpZ2luX2VjE");
        PUT_RAND(w, R, B64, 400 + rng_below(R, 400));
        str_close(w);
        KSTR(w, "expiration", exp);
        END_OBJ(w);
        KEY(w, "assumedRoleUser");
        OBJ(w);
        KEY(w, "assumedRoleId");
        str_open(w);
        PUTS(w, "AROA");
        put_entity(w, g, ENT_ROLE, target_acct, target, UPPER32, 32, 17);
        putc1(w, ':');
        put_escaped(w, session, strlen(session));
        str_close(w);
        KEY(w, "arn");
        str_open(w);
        PUTS(w, "arn:aws:sts::");
        puts_(w, acct_id(g, target_acct));
        PUTS(w, ":assumed-role/");
        puts_(w, ROLES[target].name);
        putc1(w, '/');
        put_escaped(w, session, strlen(session));
        str_close(w);
        END_OBJ(w);
        END_OBJ(w);
    }
    ids(g, r, 0);
    if (assume) {
        KEY(w, "resources");
        ARR(w);
        OBJ(w);
        KSTR(w, "accountId", acct_id(g, target_acct));
        KS(w, "type", "AWS::IAM::Role");
        KEY(w, "ARN");
        str_open(w);
        put_role_arn(w, g, target_acct, target);
        str_close(w);
        END_OBJ(w);
        END_ARR(w);
    }
    tail(g, r);
}

/* --- EC2 */

static void put_ec2_id(jw *w, rng *R, const char *prefix) {
    puts_(w, prefix);
    putc1(w, '0');
    PUT_RAND(w, R, HEXL, 16);
}

/* {"items":[{"<field>":"<prefix>0..."}, ...]} with 1..4 items */
static void put_id_items(jw *w, rng *R, const char *field, const char *prefix) {
    OBJ(w);
    KEY(w, "items");
    ARR(w);
    unsigned n = 1 + rng_below(R, 4);
    for (unsigned i = 0; i < n; i++) {
        OBJ(w);
        key_n(w, field, strlen(field));
        str_open(w);
        put_ec2_id(w, R, prefix);
        str_close(w);
        END_OBJ(w);
    }
    END_ARR(w);
    END_OBJ(w);
}

static void put_filter(jw *w, const char *name, const char *value) {
    OBJ(w);
    KSTR(w, "name", name);
    KEY(w, "valueSet");
    OBJ(w);
    KEY(w, "items");
    ARR(w);
    OBJ(w);
    KSTR(w, "value", value);
    END_OBJ(w);
    END_ARR(w);
    END_OBJ(w);
    END_OBJ(w);
}

static void empty_obj(jw *w) {
    OBJ(w);
    END_OBJ(w);
}

static void ev_ec2(gen *g, rec *r) {
    jw *w = &g->w;
    rng *R = &g->r;
    static const char *const NAMES[] = {
        "DescribeInstances",      "DescribeInstances",         "DescribeInstances", "DescribeVolumes",
        "DescribeSecurityGroups", "DescribeNetworkInterfaces", "DescribeSnapshots", "DescribeInstanceStatus",
        "DescribeTags",           "DescribeRegions",           "CreateTags"};
    unsigned which = rng_below(R, COUNT(NAMES));
    r->source = "ec2.amazonaws.com";
    r->name = NAMES[which];
    r->read_only = which != 10;
    r->origin = rng_pct(R, 10) ? ORIGIN_CONSOLE : ORIGIN_SDK;
    pick_identity(g, r, rng_pct(R, 50) ? "autoscaling.amazonaws.com" : "ssm.amazonaws.com", 12);
    set_host(g, r, "ec2", 1);
    head(g, r);
    if (params(g, r)) {
        char tmp[24];
        OBJ(w);
        switch (which) {
        case 0:
        case 1:
        case 2:
            KEY(w, "instancesSet");
            if (rng_pct(R, 50)) put_id_items(w, R, "instanceId", "i-");
            else empty_obj(w);
            KEY(w, "filterSet");
            OBJ(w);
            KEY(w, "items");
            ARR(w);
            put_filter(w, "instance-state-name", "running");
            put_filter(w, "tag:karpenter.sh/nodepool", "default");
            END_ARR(w);
            END_OBJ(w);
            break;
        case 3:
            KEY(w, "volumeSet");
            put_id_items(w, R, "volumeId", "vol-");
            KEY(w, "filterSet");
            empty_obj(w);
            break;
        case 4:
            KEY(w, "securityGroupSet");
            empty_obj(w);
            KEY(w, "securityGroupIdSet");
            put_id_items(w, R, "groupId", "sg-");
            KEY(w, "filterSet");
            empty_obj(w);
            break;
        case 5:
            KEY(w, "networkInterfaceIdSet");
            empty_obj(w);
            KEY(w, "filterSet");
            OBJ(w);
            KEY(w, "items");
            ARR(w);
            fill_rand(tmp, R, HEXL, 16, 17);
            tmp[0] = '0';
            {
                char vpc[32];
                snprintf(vpc, sizeof vpc, "vpc-%.17s", tmp);
                put_filter(w, "vpc-id", vpc);
            }
            END_ARR(w);
            END_OBJ(w);
            break;
        case 6:
            KEY(w, "snapshotSet");
            empty_obj(w);
            KEY(w, "ownersSet");
            OBJ(w);
            KEY(w, "items");
            ARR(w);
            OBJ(w);
            KS(w, "owner", "self");
            END_OBJ(w);
            END_ARR(w);
            END_OBJ(w);
            KEY(w, "restorableBySet");
            empty_obj(w);
            KEY(w, "filterSet");
            empty_obj(w);
            KEY(w, "sharedUsersSet");
            empty_obj(w);
            break;
        case 7:
            KEY(w, "instancesSet");
            put_id_items(w, R, "instanceId", "i-");
            KEY(w, "filterSet");
            empty_obj(w);
            KEY(w, "includeAllInstances");
            jbool(w, 0);
            break;
        case 8:
            KEY(w, "filterSet");
            OBJ(w);
            KEY(w, "items");
            ARR(w);
            fill_rand(tmp, R, HEXL, 16, 17);
            {
                char inst[32];
                snprintf(inst, sizeof inst, "i-0%.16s", tmp);
                put_filter(w, "resource-id", inst);
            }
            END_ARR(w);
            END_OBJ(w);
            break;
        case 9:
            KEY(w, "regionSet");
            empty_obj(w);
            KEY(w, "allRegions");
            jbool(w, 0);
            break;
        default:
            KEY(w, "resourcesSet");
            put_id_items(w, R, "resourceId", "i-");
            KEY(w, "tagSet");
            OBJ(w);
            KEY(w, "items");
            ARR(w);
            OBJ(w);
            KS(w, "key", "Name");
            KEY(w, "value");
            str_open(w);
            PUTS(w, "web-");
            put_u64(w, rng_below(R, 100));
            str_close(w);
            END_OBJ(w);
            OBJ(w);
            KS(w, "key", "karpenter.sh/nodeclaim");
            KEY(w, "value");
            str_open(w);
            PUTS(w, "default-");
            PUT_RAND(w, R, "abcdefghijklmnopqrstuvwxyz0123456789", 5);
            str_close(w);
            END_OBJ(w);
            END_ARR(w);
            END_OBJ(w);
            break;
        }
        END_OBJ(w);
    }
    if (response(g, r, which == 10)) {
        OBJ(w);
        KEY(w, "requestId");
        str_open(w);
        put_rand_uuid(w, R);
        str_close(w);
        KEY(w, "_return");
        jbool(w, 1);
        END_OBJ(w);
    }
    ids(g, r, 0);
    tail(g, r);
}

/* --- KMS */

static void put_enc_context(gen *g, rec *r, int lambda) {
    jw *w = &g->w;
    (void)r;
    KEY(w, "encryptionContext");
    OBJ(w);
    if (lambda) {
        KEY(w, "aws:lambda:FunctionArn");
        str_open(w);
        PUTS(w, "arn:aws:lambda:");
        puts_(w, region_name(g));
        putc1(w, ':');
        puts_(w, acct_id(g, g->acct));
        PUTS(w, ":function:");
        puts_(w, PICK(&g->r, FUNCTIONS));
        str_close(w);
    } else {
        KEY(w, "aws:s3:arn");
        str_open(w);
        PUTS(w, "arn:aws:s3:::");
        puts_(w, PICK(&g->r, BUCKET_PREFIXES));
        putc1(w, '-');
        puts_(w, acct_id(g, g->acct));
        if (rng_pct(&g->r, 50)) {
            PUTS(w, "/data/");
            PUT_RAND(w, &g->r, HEXL, 24);
        }
        str_close(w);
    }
    END_OBJ(w);
}

static void ev_kms(gen *g, rec *r) {
    jw *w = &g->w;
    rng *R = &g->r;
    static const char *const INVOKERS[] = {"s3.amazonaws.com", "secretsmanager.amazonaws.com", "ebs.amazonaws.com",
                                           "dynamodb.amazonaws.com"};
    unsigned p = rng_below(R, 100);
    int op = p < 50 ? 0 : p < 85 ? 1 : p < 93 ? 2 : 3;
    static const char *const NAMES[] = {"Decrypt", "GenerateDataKey", "Encrypt", "DescribeKey"};
    r->source = "kms.amazonaws.com";
    r->name = NAMES[op];
    r->read_only = op != 2 && op != 1 ? 1 : 0;
    r->origin = ORIGIN_SDK;
    pick_identity(g, r, PICK(R, INVOKERS), 35);
    set_host(g, r, "kms", 1);
    unsigned key_idx = rng_below(R, 4);
    int lambda = rng_pct(R, 20);
    head(g, r);
    if (params(g, r)) {
        OBJ(w);
        if (op == 1 || op == 3) {
            KEY(w, "keyId");
            str_open(w);
            if (rng_pct(R, 50)) put_kms_key_arn(w, g, key_idx);
            else puts_(w, op == 3 ? "alias/aws/ebs" : "alias/aws/s3");
            str_close(w);
        }
        if (op == 2) KS(w, "keyId", "alias/app-secrets");
        if (op <= 1) put_enc_context(g, r, lambda);
        if (op == 1) KS(w, "keySpec", "AES_256");
        if (op == 0 || op == 2) KS(w, "encryptionAlgorithm", "SYMMETRIC_DEFAULT");
        END_OBJ(w);
    }
    response(g, r, 0);
    ids(g, r, 0);
    KEY(w, "resources");
    ARR(w);
    OBJ(w);
    KSTR(w, "accountId", acct_id(g, g->acct));
    KS(w, "type", "AWS::KMS::Key");
    KEY(w, "ARN");
    str_open(w);
    put_kms_key_arn(w, g, key_idx);
    str_close(w);
    END_OBJ(w);
    END_ARR(w);
    tail(g, r);
}

/* --- IAM (global service: its events live in us-east-1 files) */

static const char TRUST_POLICY[] =
    "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n"
    "      \"Principal\": {\n        \"Service\": \"lambda.amazonaws.com\"\n      },\n"
    "      \"Action\": \"sts:AssumeRole\"\n    }\n  ]\n}";
static const char INLINE_POLICY[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\","
    "\"s3:PutObject\"],\"Resource\":\"arn:aws:s3:::datalake-raw/*\"}]}";

static void ev_iam(gen *g, rec *r) {
    jw *w = &g->w;
    rng *R = &g->r;
    static const char *const NAMES[] = {"ListRoles",     "GetRole",        "GetRole", "ListAttachedRolePolicies",
                                        "GetPolicy",     "ListUsers",      "GetUser", "CreateRole",
                                        "PutRolePolicy", "CreateAccessKey"};
    unsigned which = rng_below(R, COUNT(NAMES));
    r->source = "iam.amazonaws.com";
    r->name = NAMES[which];
    r->read_only = which < 7;
    r->origin = rng_pct(R, 25) ? ORIGIN_CONSOLE : ORIGIN_SDK;
    pick_identity(g, r, "cloudformation.amazonaws.com", 5);
    set_host(g, r, "iam", 0);
    unsigned role = rng_below(R, COUNT(ROLES)), user = rng_below(R, COUNT(USERS));
    char name[64];
    snprintf(name, sizeof name, "app-role-%05u", rng_below(R, 100000));
    head(g, r);
    if (params(g, r)) {
        OBJ(w);
        switch (which) {
        case 0: KNUM(w, "maxItems", 1000); break;
        case 1:
        case 2:
        case 3: KSTR(w, "roleName", ROLES[role].name); break;
        case 4: KS(w, "policyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess"); break;
        case 5: KS(w, "pathPrefix", "/"); break;
        case 6:
        case 9: KSTR(w, "userName", USERS[user]); break;
        case 7:
            KSTR(w, "roleName", name);
            KSTR(w, "assumeRolePolicyDocument", TRUST_POLICY);
            KS(w, "description", "Allows Lambda functions to call AWS services on your behalf.");
            break;
        default:
            KSTR(w, "roleName", ROLES[role].name);
            KS(w, "policyName", "inline-s3-access");
            KSTR(w, "policyDocument", INLINE_POLICY);
            break;
        }
        END_OBJ(w);
    }
    if (response(g, r, which == 7 || which == 9)) {
        char date[48];
        fmt_us(date, sizeof date, r->t, 0);
        OBJ(w);
        if (which == 7) {
            KEY(w, "role");
            OBJ(w);
            KS(w, "path", "/");
            KSTR(w, "roleName", name);
            KEY(w, "roleId");
            str_open(w);
            PUTS(w, "AROA");
            PUT_RAND(w, R, UPPER32, 17);
            str_close(w);
            KEY(w, "arn");
            str_open(w);
            PUTS(w, "arn:aws:iam::");
            puts_(w, acct_id(g, g->acct));
            PUTS(w, ":role/");
            puts_(w, name);
            str_close(w);
            KSTR(w, "createDate", date);
            KS(w, "assumeRolePolicyDocument",
               "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C"
               "%22Principal%22%3A%7B%22Service%22%3A%22lambda.amazonaws.com%22%7D%2C%22Action%22%3A%22sts"
               "%3AAssumeRole%22%7D%5D%7D");
            END_OBJ(w);
        } else {
            KEY(w, "accessKey");
            OBJ(w);
            KEY(w, "accessKeyId");
            str_open(w);
            PUTS(w, "AKIA");
            PUT_RAND(w, R, UPPER32, 16);
            str_close(w);
            KS(w, "status", "Active");
            KSTR(w, "userName", USERS[user]);
            KSTR(w, "createDate", date);
            END_OBJ(w);
        }
        END_OBJ(w);
    }
    ids(g, r, 0);
    tail(g, r);
}

/* --- Lambda */

static void put_function_arn(jw *w, gen *g, const char *fn) {
    PUTS(w, "arn:aws:lambda:");
    puts_(w, region_name(g));
    putc1(w, ':');
    puts_(w, acct_id(g, g->acct));
    PUTS(w, ":function:");
    puts_(w, fn);
}

static void ev_lambda(gen *g, rec *r) {
    jw *w = &g->w;
    rng *R = &g->r;
    static const char *const INVOKERS[] = {"apigateway.amazonaws.com", "events.amazonaws.com", "s3.amazonaws.com",
                                           "sqs.amazonaws.com"};
    static const char *const NAMES[] = {"Invoke", "ListFunctions20150331", "GetFunction20150331v2",
                                        "UpdateFunctionCode20150331v2", "GetFunctionConfiguration20150331v2"};
    unsigned p = rng_below(R, 100);
    unsigned which = p < 50 ? 0 : p < 65 ? 1 : p < 85 ? 2 : p < 92 ? 3 : 4;
    const char *fn = PICK(R, FUNCTIONS);
    r->source = "lambda.amazonaws.com";
    r->name = NAMES[which];
    r->data_event = which == 0;
    r->read_only = which != 0 && which != 3;
    r->origin = ORIGIN_SDK;
    pick_identity(g, r, PICK(R, INVOKERS), which == 0 ? 60 : 0);
    set_host(g, r, "lambda", 1);
    head(g, r);
    if (params(g, r)) {
        OBJ(w);
        if (which == 0) {
            KEY(w, "functionName");
            str_open(w);
            put_function_arn(w, g, fn);
            str_close(w);
            KSTR(w, "invocationType", rng_pct(R, 50) ? "Event" : "RequestResponse");
        } else if (which == 1) {
            KS(w, "functionVersion", "ALL");
        } else {
            KSTR(w, "functionName", fn);
        }
        if (which == 3) {
            KEY(w, "s3Bucket");
            str_open(w);
            PUTS(w, "app-assets-");
            puts_(w, acct_id(g, g->acct));
            str_close(w);
            KEY(w, "s3Key");
            str_open(w);
            PUTS(w, "lambda/");
            puts_(w, fn);
            putc1(w, '/');
            PUT_RAND(w, R, HEXL, 32);
            PUTS(w, ".zip");
            str_close(w);
            KEY(w, "publish");
            jbool(w, 0);
            KEY(w, "dryRun");
            jbool(w, 0);
        }
        END_OBJ(w);
    }
    if (response(g, r, which == 3)) {
        char when[20];
        fmt_iso(when, r->t);
        OBJ(w);
        KSTR(w, "functionName", fn);
        KEY(w, "functionArn");
        str_open(w);
        put_function_arn(w, g, fn);
        str_close(w);
        KS(w, "runtime", "python3.12");
        KEY(w, "role");
        str_open(w);
        put_role_arn(w, g, g->acct, 8);
        str_close(w);
        KS(w, "handler", "app.handler");
        KNUM(w, "codeSize", 1000 + rng_below(R, 5000000));
        KS(w, "description", "");
        KNUM(w, "timeout", 30);
        KNUM(w, "memorySize", 512);
        KEY(w, "lastModified");
        str_open(w);
        put(w, when, 19);
        PUTS(w, ".000+0000");
        str_close(w);
        KEY(w, "codeSha256");
        str_open(w);
        PUT_RAND(w, R, B64, 43);
        putc1(w, '=');
        str_close(w);
        KS(w, "version", "$LATEST");
        KEY(w, "tracingConfig");
        OBJ(w);
        KS(w, "mode", "PassThrough");
        END_OBJ(w);
        KEY(w, "revisionId");
        str_open(w);
        put_rand_uuid(w, R);
        str_close(w);
        KS(w, "state", "Active");
        KS(w, "lastUpdateStatus", "InProgress");
        KS(w, "packageType", "Zip");
        KEY(w, "architectures");
        ARR(w);
        SLIT(w, "arm64");
        END_ARR(w);
        KEY(w, "ephemeralStorage");
        OBJ(w);
        KNUM(w, "size", 512);
        END_OBJ(w);
        END_OBJ(w);
    }
    if (which == 0) {
        KEY(w, "additionalEventData");
        OBJ(w);
        KEY(w, "functionVersion");
        str_open(w);
        put_function_arn(w, g, fn);
        PUTS(w, ":$LATEST");
        str_close(w);
        END_OBJ(w);
    }
    ids(g, r, 0);
    if (which == 0) {
        KEY(w, "resources");
        ARR(w);
        OBJ(w);
        KSTR(w, "accountId", acct_id(g, g->acct));
        KS(w, "type", "AWS::Lambda::Function");
        KEY(w, "ARN");
        str_open(w);
        put_function_arn(w, g, fn);
        str_close(w);
        END_OBJ(w);
        END_ARR(w);
    }
    tail(g, r);
}

/* --- Console sign-in (global, us-east-1 files) */

static void ev_signin(gen *g, rec *r) {
    jw *w = &g->w;
    rng *R = &g->r;
    r->source = "signin.amazonaws.com";
    r->name = "ConsoleLogin";
    r->event_type = "AwsConsoleSignIn";
    r->read_only = 0;
    r->origin = ORIGIN_CONSOLE;
    r->err = 0; /* sign-in failures carry only errorMessage, written below */
    pick_identity(g, r, NULL, 0);
    int failed = r->force_error || rng_pct(R, 10);
    if (failed && r->id.kind == ID_USER) r->id.hidden_name = 1;
    snprintf(r->host, sizeof r->host, "signin.aws.amazon.com");
    head(g, r);
    if (failed) KS(w, "errorMessage", "Failed authentication");
    if (params(g, r)) jraw(w, "null");
    KEY(w, "responseElements");
    if (r->null_bodies) {
        jraw(w, "null");
    } else {
        OBJ(w);
        KSTR(w, "ConsoleLogin", failed ? "Failure" : "Success");
        END_OBJ(w);
    }
    KEY(w, "additionalEventData");
    OBJ(w);
    KEY(w, "LoginTo");
    str_open(w);
    PUTS(w, "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_");
    PUT_RAND(w, R, HEXL, 16);
    str_close(w);
    KS(w, "MobileVersion", "No");
    KSTR(w, "MFAUsed", r->id.kind == ID_USER && !failed ? "Yes" : "No");
    END_OBJ(w);
    ids(g, r, 0);
    tail(g, r);
}

/* --- assorted other services */

static void ev_misc(gen *g, rec *r) {
    jw *w = &g->w;
    rng *R = &g->r;
    unsigned which = rng_below(R, 5);
    static const char *const SOURCES[] = {"logs.amazonaws.com", "monitoring.amazonaws.com", "ssm.amazonaws.com",
                                          "secretsmanager.amazonaws.com", "dynamodb.amazonaws.com"};
    static const char *const NAMES[] = {"CreateLogStream", "GetMetricData", "GetParameter", "GetSecretValue",
                                        "DescribeTable"};
    static const char *const HOSTS[] = {"logs", "monitoring", "ssm", "secretsmanager", "dynamodb"};
    r->source = SOURCES[which];
    r->name = NAMES[which];
    r->read_only = which != 0;
    r->origin = rng_pct(R, 10) ? ORIGIN_CONSOLE : ORIGIN_SDK;
    pick_identity(g, r, which == 0 ? "lambda.amazonaws.com" : NULL, 40);
    set_host(g, r, HOSTS[which], 1);
    head(g, r);
    if (params(g, r)) {
        OBJ(w);
        switch (which) {
        case 0: {
            civil c = civil_from_time(r->t);
            char stream[80];
            char hex[32];
            fill_rand(hex, R, HEXL, 16, 32);
            KEY(w, "logGroupName");
            str_open(w);
            PUTS(w, "/aws/lambda/");
            puts_(w, PICK(R, FUNCTIONS));
            str_close(w);
            snprintf(stream, sizeof stream, "%d/%02u/%02u/[$LATEST]%.32s", c.y, c.mo, c.d, hex);
            KSTR(w, "logStreamName", stream);
            break;
        }
        case 1: {
            char t0[48], t1[48];
            fmt_us(t0, sizeof t0, r->t - 3600, 1);
            fmt_us(t1, sizeof t1, r->t, 1);
            KEY(w, "metricDataQueries");
            ARR(w);
            OBJ(w);
            KS(w, "id", "m1");
            KEY(w, "metricStat");
            OBJ(w);
            KEY(w, "metric");
            OBJ(w);
            KS(w, "namespace", "AWS/EC2");
            KS(w, "metricName", "CPUUtilization");
            KEY(w, "dimensions");
            ARR(w);
            OBJ(w);
            KS(w, "name", "InstanceId");
            KEY(w, "value");
            str_open(w);
            put_ec2_id(w, R, "i-");
            str_close(w);
            END_OBJ(w);
            END_ARR(w);
            END_OBJ(w);
            KNUM(w, "period", 300);
            KS(w, "stat", "Average");
            END_OBJ(w);
            KEY(w, "returnData");
            jbool(w, 1);
            END_OBJ(w);
            END_ARR(w);
            KSTR(w, "startTime", t0);
            KSTR(w, "endTime", t1);
            break;
        }
        case 2:
            KEY(w, "name");
            str_open(w);
            PUTS(w, "/app/prod/");
            puts_(w, PICK(R, FUNCTIONS));
            PUTS(w, "/db-password");
            str_close(w);
            KEY(w, "withDecryption");
            jbool(w, 1);
            break;
        case 3:
            KEY(w, "secretId");
            str_open(w);
            PUTS(w, "arn:aws:secretsmanager:");
            puts_(w, region_name(g));
            putc1(w, ':');
            puts_(w, acct_id(g, g->acct));
            PUTS(w, ":secret:prod/app/db-");
            PUT_RAND(w, R, ALNUM, 6);
            str_close(w);
            break;
        default: KS(w, "tableName", "orders"); break;
        }
        END_OBJ(w);
    }
    response(g, r, 0);
    ids(g, r, 0);
    tail(g, r);
}

/* --- one record */

static enum ev_kind pick_kind(gen *g) {
    unsigned p = rng_below(&g->r, 1000);
    int global_ok = g->region == 0; /* REGIONS[0] is us-east-1, home of global-service events */
    if (p < 350) return EV_S3;
    if (p < 500) return EV_STS;
    if (p < 700) return EV_EC2;
    if (p < 850) return EV_KMS;
    if (p < 900) return global_ok ? EV_IAM : EV_MISC;
    if (p < 950) return EV_LAMBDA;
    if (p < 965) return global_ok ? EV_SIGNIN : EV_EC2;
    return EV_MISC;
}

/* The record written since start (after its separating comma) is one of the file's records. */
static void note_span(gen *g, size_t start) {
    if (start < g->json.len && g->json.data[start] == ',') start++;
    if (g->nspans == g->capspans) {
        size_t cap = g->capspans ? g->capspans * 2 : 1024;
        size_t *p = realloc(g->spans, cap * 2 * sizeof *p);
        if (!p) die("out of memory");
        g->spans = p;
        g->capspans = cap;
    }
    g->spans[2 * g->nspans] = start;
    g->spans[2 * g->nspans + 1] = g->json.len;
    g->nspans++;
}

static void add_record(gen *g, rec *r) {
    if (g->deliver > g->hour_start)
        r->t = g->hour_start + (int64_t)rng_below(&g->r, (unsigned)(g->deliver - g->hour_start));
    else r->t = g->hour_start;
    if (r->kind == EV_RANDOM) r->kind = pick_kind(g);
    r->read_only = -1;
    r->err = r->force_error || rng_pct(&g->r, 4);
    g->record_start = g->json.len;
    switch (r->kind) {
    case EV_S3: ev_s3(g, r); break;
    case EV_STS: ev_sts(g, r); break;
    case EV_EC2: ev_ec2(g, r); break;
    case EV_KMS: ev_kms(g, r); break;
    case EV_IAM: ev_iam(g, r); break;
    case EV_LAMBDA: ev_lambda(g, r); break;
    case EV_SIGNIN: ev_signin(g, r); break;
    default: ev_misc(g, r); break;
    }
    if (g->w.err) die("a log file passed its size limit (1 GiB); lower --max-records");
    note_span(g, g->record_start);
    if (g->oldest < 0 || r->t < g->oldest) g->oldest = r->t;
    if (r->t > g->newest) g->newest = r->t;
    g->records++;
}

static void add_random_record(gen *g) {
    rec r;
    memset(&r, 0, sizeof r);
    add_record(g, &r);
}

/* ---------------------------------------------------------------- files */

static void mkdir_parents(gen *g, char *path) {
    char *slash = strrchr(path, '/');
    if (!slash) return;
    *slash = '\0';
    if (strcmp(path, g->last_dir) != 0) {
        for (char *p = path + 1; *p; p++) {
            if (*p != '/') continue;
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) die_errno("cannot create directory", path);
            *p = '/';
        }
        if (mkdir(path, 0755) != 0 && errno != EEXIST) die_errno("cannot create directory", path);
        snprintf(g->last_dir, sizeof g->last_dir, "%s", path);
    }
    *slash = '/';
}

static void write_out(gen *g, const char *key, const char *data, size_t len) {
    char path[PATH_MAX_LEN];
    int n = snprintf(path, sizeof path, "%s/%s", g->o.out, key);
    if (n < 0 || (size_t)n >= sizeof path) die("output path too long");
    mkdir_parents(g, path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die_errno("cannot create", path);
    while (len) {
        ssize_t k = write(fd, data, len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) die_errno("cannot write", path);
        data += k;
        len -= (size_t)k;
    }
    if (close(fd) != 0) die_errno("cannot close", path);
}

/* Compresses p[0..n) as one complete gzip member appended to g->gz. */
static void gzip_member(gen *g, const char *p, size_t n) {
    if (deflateReset(&g->zs) != Z_OK) die("deflateReset failed");
    uLong bound = deflateBound(&g->zs, (uLong)n) + 64;
    if (buf_reserve(&g->gz, bound) != 0) die("gzip buffer limit reached");
    g->zs.next_in = (const Bytef *)p;
    g->zs.avail_in = (uInt)n;
    g->zs.next_out = (Bytef *)g->gz.data + g->gz.len;
    g->zs.avail_out = (uInt)bound;
    if (deflate(&g->zs, Z_FINISH) != Z_STREAM_END) die("deflate did not finish");
    g->gz.len += bound - g->zs.avail_out;
}

/* ---------------------------------------------------------------- shapes */

static void out_bytes(gen *g, const void *p, size_t n) {
    if (buf_append(&g->shaped, p, n) != 0) die("a file passed its size limit (1 GiB); lower --max-records");
}
static void out_str(gen *g, const char *str) { out_bytes(g, str, strlen(str)); }
static void out_eol(gen *g) { out_str(g, g->o.crlf ? "\r\n" : "\n"); }

/* p[0..n) as the content of a JSON string. */
static void out_escaped(gen *g, const char *p, size_t n) {
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c != '"' && c != '\\' && c >= 0x20) continue;
        out_bytes(g, p + run, i - run);
        char e[8];
        if (c == '"' || c == '\\') snprintf(e, sizeof e, "\\%c", c);
        else snprintf(e, sizeof e, "\\u%04x", c);
        out_str(g, e);
        run = i + 1;
    }
    out_bytes(g, p + run, n - run);
}

/* The first "key":"value" of a record (what the wrappers' own fields repeat); its length. */
static size_t record_field(const char *record, size_t n, const char *key, const char **val) {
    char pat[48];
    int pl = snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = memmem(record, n, pat, (size_t)pl);
    *val = "";
    if (!p) return 0;
    p += pl;
    const char *e = p;
    while (e < record + n && *e != '"') e += *e == '\\' ? 2 : 1;
    *val = p;
    return (size_t)(e - p);
}

static void out_field(gen *g, const char *record, size_t n, const char *key) {
    const char *v;
    size_t vn = record_field(record, n, key, &v);
    out_bytes(g, v, vn);
}

/* Record i of the current file. */
static const char *span_rec(const gen *g, size_t i, size_t *n) {
    *n = g->spans[2 * i + 1] - g->spans[2 * i];
    return g->json.data + g->spans[2 * i];
}

/* --broken-line: the middle record of a file of three or more. */
static int is_broken(const gen *g, size_t i) { return g->o.broken_line && g->nspans >= 3 && i == g->nspans / 2; }

/* The record will not arrive whole: its eventID goes to --broken-ids instead of counting as indexed. */
static void note_broken(gen *g, const char *record, size_t n) {
    const char *id;
    size_t idn = record_field(record, n, "eventID", &id);
    g->broken++;
    if (g->broken_ids && idn && (fwrite(id, 1, idn, g->broken_ids) != idn || fputc('\n', g->broken_ids) == EOF))
        die("cannot write the --broken-ids file");
}

static void out_eventbridge(gen *g, size_t i, const char *record, size_t n) {
    const char *type, *src;
    size_t tn = record_field(record, n, "eventType", &type), sn = record_field(record, n, "eventSource", &src);
    const char *dt = "AWS API Call via CloudTrail";
    if (tn == 16 && !memcmp(type, "AwsConsoleSignIn", 16)) dt = "AWS Console Sign In via CloudTrail";
    else if (tn == 15 && !memcmp(type, "AwsServiceEvent", 15)) dt = "AWS Service Event via CloudTrail";
    else if (tn == 20 && !memcmp(type, "AwsCloudTrailInsight", 20)) dt = "AWS Insight via CloudTrail";
    const char *dot = memchr(src, '.', sn);
    char id[40];
    uint64_t u = mix64(g->o.seed ^ (g->files * 1000003u + i));
    snprintf(id, sizeof id, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(u >> 32), (unsigned)(u >> 16) & 0xffff,
             (unsigned)u & 0xffff, (unsigned)(u >> 48), (unsigned long long)(mix64(u) & 0xffffffffffffull));
    int detail_first = i & 1; /* keys in any order: the detail before the detail-type */
    out_str(g, "{");
    if (detail_first) {
        out_str(g, "\"detail\":");
        out_bytes(g, record, n);
        out_str(g, ",");
    }
    out_str(g, "\"version\":\"0\",\"id\":\"");
    out_str(g, id);
    out_str(g, "\",\"detail-type\":\"");
    out_str(g, dt);
    out_str(g, "\",\"source\":\"aws.");
    out_bytes(g, src, dot ? (size_t)(dot - src) : sn);
    out_str(g, "\",\"account\":\"");
    out_field(g, record, n, "recipientAccountId");
    out_str(g, "\",\"time\":\"");
    out_field(g, record, n, "eventTime");
    out_str(g, "\",\"region\":\"");
    out_field(g, record, n, "awsRegion");
    out_str(g, "\",\"resources\":[]");
    if (!detail_first) {
        out_str(g, ",\"detail\":");
        out_bytes(g, record, n);
    }
    out_str(g, "}");
}

/* One entry of lookup-events output; pretty as the AWS CLI prints it, or compact. */
static void out_lookup_event(gen *g, const char *record, size_t n, int pretty) {
    const char *nl = pretty ? "\n            " : "", *sp = pretty ? " " : "";
    const char *t;
    size_t tn = record_field(record, n, "eventTime", &t);
    char when[40];
    snprintf(when, sizeof when, "%.*s+00:00", (int)(tn ? tn - 1 : 0), t); /* the CLI prints an offset */
    out_str(g, "{");
    static const char *const FIELDS[][2] = {{"EventId", "eventID"},
                                            {"EventName", "eventName"},
                                            {"AccessKeyId", "accessKeyId"},
                                            {"EventSource", "eventSource"},
                                            {"Username", "userName"}};
    for (unsigned f = 0; f < COUNT(FIELDS); f++) {
        buf_printf(&g->shaped, "%s%s\"%s\":%s\"", f ? "," : "", nl, FIELDS[f][0], sp);
        out_field(g, record, n, FIELDS[f][1]);
        out_str(g, "\"");
    }
    buf_printf(&g->shaped,
               ",%s\"ReadOnly\":%s\"%s\",%s\"EventTime\":%s\"%s\",%s\"Resources\":%s[],%s\"CloudTrailEvent\":%s\"", nl,
               sp, memmem(record, n, "\"readOnly\":true", 15) ? "true" : "false", nl, sp, when, nl, sp, nl, sp);
    out_escaped(g, record, n);
    out_str(g, pretty ? "\"\n        }" : "\"}");
}

/* CloudWatch Logs subscription payloads of up to 40 records, each a gzip member, after a
 * CONTROL_MESSAGE; messageType comes last in every other payload. */
static void end_member(gen *g) {
    if (g->nmembers == g->capmembers) {
        size_t cap = g->capmembers ? g->capmembers * 2 : 64;
        size_t *m = realloc(g->members, cap * sizeof *m);
        if (!m) die("out of memory");
        g->members = m;
        g->capmembers = cap;
    }
    g->members[g->nmembers++] = g->shaped.len;
}

static void out_cwlogs(gen *g) {
    const char *acct = acct_id(g, g->acct), *reg = region_name(g);
    int64_t ms = g->deliver * 1000;
    buf_printf(&g->shaped,
               "{\"messageType\":\"CONTROL_MESSAGE\",\"owner\":\"CloudwatchLogs\",\"logGroup\":\"\","
               "\"logStream\":\"\",\"subscriptionFilters\":[],\"logEvents\":[{\"id\":\"\",\"timestamp\":%lld,"
               "\"message\":\"CWL CONTROL MESSAGE: Checking health of destination Firehose.\"}]}",
               (long long)ms);
    end_member(g);
    for (size_t first = 0, payload = 0; first < g->nspans; first += 40, payload++) {
        int type_last = payload & 1;
        buf_printf(&g->shaped,
                   "{%s\"owner\":\"%s\",\"logGroup\":\"aws-cloudtrail-logs-%s\",\"logStream\":\"%s_CloudTrail_%s\","
                   "\"subscriptionFilters\":[\"ctindex\"],\"logEvents\":[",
                   type_last ? "" : "\"messageType\":\"DATA_MESSAGE\",", acct, acct, acct, reg);
        for (size_t i = first; i < g->nspans && i < first + 40; i++) {
            size_t n;
            const char *record = span_rec(g, i, &n);
            buf_printf(&g->shaped, "%s{\"id\":\"%020llu%020llu\",\"timestamp\":%lld,\"message\":\"",
                       i > first ? "," : "", (unsigned long long)(mix64(g->files ^ i) % 100000000000000000ull),
                       (unsigned long long)i, (long long)(ms + (int64_t)i));
            size_t at = g->shaped.len;
            out_escaped(g, record, n);
            if (is_broken(g, i)) { /* a message cut in half: that log event holds no record */
                g->shaped.len = at + (g->shaped.len - at) / 2;
                while (g->shaped.len > at && g->shaped.data[g->shaped.len - 1] == '\\') g->shaped.len--;
                note_broken(g, record, n);
            }
            out_str(g, "\"}");
        }
        out_str(g, type_last ? "],\"messageType\":\"DATA_MESSAGE\"}" : "]}");
        if (g->shaped.len > g->shaped.max) die("a file passed its size limit");
        end_member(g);
    }
}

/* The current file's records in --shape, into g->shaped; 0 when the shape has nothing to write
 * for a file without records (JSON lines of nothing is an empty file, which is no shape). */
static int build_shape(gen *g) {
    buf_clear(&g->shaped);
    g->nmembers = 0;
    shape sh = g->o.shape;
    if (g->nspans == 0 && sh != SHAPE_ARRAY && sh != SHAPE_LOOKUP && sh != SHAPE_CWLOGS) return 0;
    if (sh == SHAPE_CWLOGS) {
        out_cwlogs(g);
        return 1;
    }
    if (sh == SHAPE_ARRAY) out_str(g, "[\n");
    if (sh == SHAPE_LOOKUP) out_str(g, "{\n    \"Events\": [");
    for (size_t i = 0; i < g->nspans; i++) {
        size_t n, line = g->shaped.len;
        const char *record = span_rec(g, i, &n);
        switch (sh) {
        case SHAPE_ARRAY:
            out_str(g, i ? ",\n" : "");
            out_bytes(g, record, n);
            break;
        case SHAPE_NDJSON:
        case SHAPE_CONCAT: out_bytes(g, record, n); break;
        case SHAPE_EVENTBRIDGE: out_eventbridge(g, i, record, n); break;
        case SHAPE_LOOKUP:
            out_str(g, i ? ",\n        " : "\n        ");
            out_lookup_event(g, record, n, 1);
            break;
        case SHAPE_LOOKUP_LINES: out_lookup_event(g, record, n, 0); break;
        case SHAPE_STRINGS:
            out_str(g, "\"");
            out_escaped(g, record, n);
            out_str(g, "\"");
            break;
        default: break;
        }
        if (shape_has_lines(sh) && is_broken(g, i)) { /* cut the line in half, keep its end */
            g->shaped.len = line + (g->shaped.len - line) / 2;
            note_broken(g, record, n);
        }
        if (shape_has_lines(sh)) out_eol(g);
    }
    if (sh == SHAPE_ARRAY) out_str(g, "\n]\n");
    if (sh == SHAPE_LOOKUP) {
        char token[40];
        fill_rand(token, &g->dr, ALNUM, 62, 32);
        token[32] = '\0';
        buf_printf(&g->shaped, "%s],\n    \"NextToken\": \"%s\"\n}\n", g->nspans ? "\n    " : "", token);
    }
    if (g->shaped.len >= g->shaped.max) die("a file passed its size limit");
    return 1;
}

/* Writes the file (g->json, or g->shaped for another --shape); `members` > 1 splits it across that
 * many gzip members; CloudWatch Logs payloads are one member each. */
static size_t emit(gen *g, const char *key, unsigned members) {
    const buf *src = g->o.shape == SHAPE_S3 ? &g->json : &g->shaped;
    if (g->o.plain) {
        write_out(g, key, src->data, src->len);
        return 0;
    }
    buf_clear(&g->gz);
    size_t done = 0;
    if (g->o.shape == SHAPE_CWLOGS) {
        for (size_t i = 0; i < g->nmembers; i++) {
            gzip_member(g, src->data + done, g->members[i] - done);
            done = g->members[i];
        }
    } else {
        for (unsigned i = 1; i <= members; i++) {
            size_t upto = src->len / members * i;
            if (i == members) upto = src->len;
            gzip_member(g, src->data + done, upto - done);
            done = upto;
        }
    }
    write_out(g, key, g->gz.data, g->gz.len);
    return g->gz.len;
}

/* Key of a log file: AWSLogs/ACCT/DIR/REGION/YYYY/MM/DD/ACCT_DIR_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz */
static void make_log_key(gen *g, char *out, size_t cap, const char *dir) {
    civil c = civil_from_time(g->deliver);
    char uniq[17];
    uint64_t u = uniq_next(g); /* 11 base-62 digits of a run-unique value, then 5 random */
    for (int i = 0; i < 11; i++) {
        uniq[i] = ALNUM[u % 62];
        u /= 62;
    }
    fill_rand(uniq + 11, &g->r, ALNUM, 62, 5);
    uniq[16] = '\0';
    const char *a = acct_id(g, g->acct), *reg = region_name(g);
    int n = snprintf(out, cap, "AWSLogs/%s/%s/%s/%04d/%02u/%02u/%s_%s_%s_%04d%02u%02uT%02u%02uZ_%s.%s", a, dir, reg,
                     c.y, c.mo, c.d, a, dir, reg, c.y, c.mo, c.d, c.h, c.mi, uniq, g->o.plain ? "json" : "json.gz");
    if (g->o.firehose) /* as Firehose names objects: YYYY/MM/DD/HH/STREAM-VERSION-DATE-TIME-RANDOM, no extension */
        n = snprintf(out, cap, "%04d/%02u/%02u/%02u/ctgen-stream-1-%04d-%02u-%02u-%02u-%02u-%02u-%s", c.y, c.mo, c.d,
                     c.h, c.y, c.mo, c.d, c.h, c.mi, c.s, uniq);
    if (n < 0 || (size_t)n >= cap) die("key too long");
}

/* Starts a file for account/region, delivered `deliver` seconds after day 0 of --start. */
static void begin_file(gen *g, unsigned acct, unsigned region, unsigned day, unsigned hour, unsigned minute) {
    g->acct = acct;
    g->region = region;
    g->day = day;
    g->hour_start = g->o.start + (int64_t)day * 86400 + (int64_t)hour * 3600;
    g->deliver = g->hour_start + (int64_t)minute * 60;
    g->oldest = g->newest = -1;
    g->nspans = 0;
    buf_clear(&g->json);
    jw_reset(&g->w, &g->json);
    OBJ(&g->w);
    KEY(&g->w, "Records");
    ARR(&g->w);
}

static void end_file(gen *g, const char *dir, unsigned members) {
    char key[KEY_MAX];
    END_ARR(&g->w);
    END_OBJ(&g->w);
    if (g->w.err) die("a log file passed its size limit");
    make_log_key(g, key, sizeof key, dir); /* always: the random stream stays the same for every shape */
    if (g->o.shape != SHAPE_S3 && !build_shape(g)) return;
    size_t gz = emit(g, key, members);
    g->files++;
    g->json_bytes += g->o.shape == SHAPE_S3 ? g->json.len : g->shaped.len;
    g->gz_bytes += gz;
    if (strcmp(dir, "CloudTrail") != 0 || g->o.firehose) return;
    if (g->nmeta == g->capmeta) {
        size_t cap = g->capmeta ? g->capmeta * 2 : 1024;
        file_meta *m = realloc(g->meta, cap * sizeof *m);
        if (!m) die("out of memory");
        g->meta = m;
        g->capmeta = cap;
    }
    file_meta *m = &g->meta[g->nmeta++];
    m->acct = g->acct;
    m->region = g->region;
    m->day = g->day;
    m->oldest = g->oldest;
    m->newest = g->newest;
    m->key_off = g->keys.len;
    m->key_len = (unsigned)strlen(key);
    if (buf_append(&g->keys, key, m->key_len) != 0) die("too many files for the digest key list");
}

static unsigned loguniform(rng *R, unsigned a, unsigned b) {
    double u = (double)(rng_next(R) >> 11) * 0x1.0p-53;
    double v = exp(log((double)a) + u * (log((double)b + 1.0) - log((double)a)));
    unsigned n = (unsigned)v;
    return n < a ? a : n > b ? b : n;
}

/* A file of a random account, region, day and delivery time. */
static void begin_random_file(gen *g) {
    rng *R = &g->r;
    unsigned acct = rng_below(R, (unsigned)g->o.accounts);
    unsigned region = rng_below(R, (unsigned)g->o.regions);
    unsigned day = rng_below(R, (unsigned)g->o.days);
    unsigned hour = rng_below(R, 24), minute = 5 + rng_below(R, 55);
    begin_file(g, acct, region, day, hour, minute);
}

static void gen_normal_files(gen *g) {
    for (uint64_t i = 0; i < g->o.files; i++) {
        begin_random_file(g);
        unsigned n = loguniform(&g->r, (unsigned)g->o.min_records, (unsigned)g->o.max_records);
        for (unsigned k = 0; k < n; k++) add_random_record(g);
        end_file(g, "CloudTrail", 1);
    }
}

/* ---------------------------------------------------------------- edge cases */

static void add_s3_with(gen *g, const char *ua_json, const char *key_json) {
    rec r;
    memset(&r, 0, sizeof r);
    r.kind = EV_S3;
    r.ua_json = ua_json;
    r.key_json = key_json;
    add_record(g, &r);
}

static void insight_record(gen *g, int start, const char *shared, int error_rate) {
    jw *w = &g->w;
    rng *R = &g->r;
    size_t span_start = g->json.len;
    int64_t t = g->hour_start + (start ? 60 : 1800);
    char id[36];
    const char *a = acct_id(g, g->acct);
    OBJ(w);
    KS(w, "eventVersion", "1.08");
    KEY(w, "eventTime");
    jtime(w, t);
    KSTR(w, "awsRegion", region_name(g));
    make_uuid(g, id);
    KEY(w, "eventID");
    str_open(w);
    put(w, id, sizeof id);
    str_close(w);
    if (g->ids) {
        if (fwrite(id, 1, sizeof id, g->ids) != sizeof id || fputc('\n', g->ids) == EOF)
            die("cannot write the --ids file");
        g->ids_written++;
    }
    KS(w, "eventType", "AwsCloudTrailInsight");
    KSTR(w, "recipientAccountId", a);
    KSTR(w, "sharedEventID", shared);
    KEY(w, "insightDetails");
    OBJ(w);
    KSTR(w, "state", start ? "Start" : "End");
    KSTR(w, "eventSource", error_rate ? "kms.amazonaws.com" : "ec2.amazonaws.com");
    KSTR(w, "eventName", error_rate ? "Decrypt" : "RunInstances");
    KSTR(w, "insightType", error_rate ? "ApiErrorRateInsight" : "ApiCallRateInsight");
    if (error_rate) KS(w, "errorCode", "AccessDeniedException");
    KEY(w, "insightContext");
    OBJ(w);
    KEY(w, "statistics");
    OBJ(w);
    KEY(w, "baseline");
    OBJ(w);
    KEY(w, "average");
    jraw(w, "0.0020777");
    END_OBJ(w);
    KEY(w, "insight");
    OBJ(w);
    KEY(w, "average");
    jnum(w, 5 + rng_below(R, 20));
    END_OBJ(w);
    if (!start) KNUM(w, "insightDuration", 29);
    KNUM(w, "baselineDuration", 11459);
    END_OBJ(w);
    KEY(w, "attributions");
    ARR(w);
    static const char *const ATTRS[] = {"userIdentityArn", "userAgent", "errorCode"};
    for (unsigned i = 0; i < COUNT(ATTRS); i++) {
        OBJ(w);
        KSTR(w, "attribute", ATTRS[i]);
        for (int side = 0; side < 2; side++) {
            if (side == 0) KEY(w, "insight");
            else KEY(w, "baseline");
            ARR(w);
            OBJ(w);
            KEY(w, "value");
            if (i == 0) {
                str_open(w);
                PUTS(w, "arn:aws:sts::");
                puts_(w, a);
                PUTS(w, ":assumed-role/KarpenterNodeRole-prod/i-0");
                PUT_RAND(w, R, HEXL, 16);
                str_close(w);
            } else if (i == 1) {
                SLIT(w, "autoscaling.amazonaws.com");
            } else {
                jstr(w, error_rate ? "AccessDeniedException" : "null");
            }
            KEY(w, "average");
            jraw(w, side == 0 ? "4.5" : "0.0017");
            END_OBJ(w);
            END_ARR(w);
        }
        END_OBJ(w);
    }
    END_ARR(w);
    END_OBJ(w);
    END_OBJ(w);
    KS(w, "eventCategory", "Insight");
    END_OBJ(w);
    if (w->err) die("insight record too large");
    note_span(g, span_start);
    if (g->oldest < 0 || t < g->oldest) g->oldest = t;
    if (t > g->newest) g->newest = t;
    g->records++;
}

/* An Insights event's start and end record, sharing their sharedEventID. */
static void insight_pair(gen *g, int error_rate) {
    char shared[37];
    fill_rand(shared, &g->r, HEXL, 16, 36);
    shared[8] = shared[13] = shared[18] = shared[23] = '-';
    shared[14] = '4';
    shared[36] = '\0';
    insight_record(g, 1, shared, error_rate);
    insight_record(g, 0, shared, error_rate);
}

static void gen_edge_files(gen *g) {
    unsigned hour = 0;
    /* Non-ASCII text, raw UTF-8 and \u-escaped (including a valid surrogate pair). */
    begin_file(g, 0, 0, 0, hour++, 30);
    add_s3_with(g, "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Résumé-Uploader/1.0 日本語クライアント 😀",
                "photos/été/東京タワー🗼 night.jpg");
    add_s3_with(g, "caf\\u00e9-client/2.0 \\u65e5\\u672c\\u8a9e \\ud83d\\ude80",
                "docs/na\\u00efve-r\\u00e9sum\\u00e9-\\u6771\\u4eac.pdf");
    add_s3_with(g, "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 (Ελληνικά; русский; עברית)", "музыка/🎵/canción.mp3");
    add_random_record(g);
    end_file(g, "CloudTrail", 1);

    /* Escapes the indexer must sanitise: C0 controls, NUL, backspace, lone surrogates. */
    begin_file(g, 0, 0, 0, hour++, 30);
    add_s3_with(g, "curl/8.5.0\\u0001\\u0000 \\ud800 tail",
                "ctl\\u0001char/nul\\u0000byte/back\\bspace/lone\\ud800surrogate.txt");
    add_s3_with(g, "python-requests/2.31.0\\b\\f", "ends-with-high-surrogate\\ud800");
    add_s3_with(g, "Go-http-client/1.1 \\udc00 lone low", "low\\udc00first\\u001f\\u007f.bin");
    add_s3_with(g, NULL, "\\\"quoted\\\" \\\\ back \\/ slash\\t\\n\\r\\f.log");
    end_file(g, "CloudTrail", 1);

    /* A ~100 KB record (at CloudTrail's requestParameters cap) and a ~1.2 MB one, which is past
     * CloudSearch's 1 MB document limit and must be trimmed by the indexer. */
    begin_file(g, 0, 0, 0, hour++, 30);
    add_random_record(g);
    {
        rec r;
        memset(&r, 0, sizeof r);
        r.kind = EV_S3;
        r.big_bytes = 100 * 1000;
        add_record(g, &r);
    }
    add_random_record(g);
    {
        rec r;
        memset(&r, 0, sizeof r);
        r.kind = EV_S3;
        r.big_bytes = 1200 * 1000;
        add_record(g, &r);
    }
    end_file(g, "CloudTrail", 1);

    /* Insights events: their own folder and shape (no eventName/userIdentity at top level). */
    begin_file(g, 0, 0, 0, hour++, 45);
    for (int pair = 0; pair < 2; pair++) insight_pair(g, pair);
    end_file(g, "CloudTrail-Insight", 1);

    /* Errors, null bodies, and one record without an eventID. */
    begin_file(g, 0, 0, 0, hour++, 30);
    static const enum ev_kind ERR_KINDS[] = {EV_S3, EV_EC2, EV_KMS, EV_STS, EV_LAMBDA, EV_MISC, EV_SIGNIN};
    for (unsigned i = 0; i < COUNT(ERR_KINDS); i++) {
        rec r;
        memset(&r, 0, sizeof r);
        r.kind = ERR_KINDS[i];
        r.force_error = 1;
        add_record(g, &r);
    }
    for (unsigned i = 0; i < 3; i++) {
        rec r;
        memset(&r, 0, sizeof r);
        r.kind = i == 0 ? EV_S3 : i == 1 ? EV_EC2 : EV_KMS;
        r.null_bodies = 1;
        add_record(g, &r);
    }
    {
        rec r;
        memset(&r, 0, sizeof r);
        r.kind = EV_EC2;
        r.no_event_id = 1;
        add_record(g, &r);
    }
    add_random_record(g);
    end_file(g, "CloudTrail", 1);

    /* {"Records":[]} */
    begin_file(g, 0, 0, 0, hour++, 30);
    end_file(g, "CloudTrail", 1);

    /* Two gzip members, the JSON cut in the middle (inside a record). */
    begin_file(g, 0, 0, 0, hour++, 30);
    for (int i = 0; i < 20; i++) add_random_record(g);
    end_file(g, "CloudTrail", 2);
}

/* ---------------------------------------------------------------- digests */

static int meta_cmp(const void *pa, const void *pb) {
    const file_meta *a = pa, *b = pb;
    if (a->acct != b->acct) return a->acct < b->acct ? -1 : 1;
    if (a->region != b->region) return a->region < b->region ? -1 : 1;
    if (a->day != b->day) return a->day < b->day ? -1 : 1;
    return a->key_off < b->key_off ? -1 : a->key_off > b->key_off;
}

static void put_hex_str(jw *w, rng *R, size_t n) {
    str_open(w);
    put_rand(w, R, HEXL, 16, n);
    str_close(w);
}

static void jtime_or_null(jw *w, int64_t t) {
    if (t < 0) jraw(w, "null");
    else jtime(w, t);
}

/* One digest per account/region/day, listing that day's CloudTrail/ log files. Real trails
 * write one an hour; one a day keeps the shape with fewer files. */
static void gen_digests(gen *g) {
    jw *w = &g->w;
    rng *R = &g->dr;
    char bucket[64];
    snprintf(bucket, sizeof bucket, "aws-cloudtrail-logs-%s-%s", acct_id(g, 0), g->bucket_suffix);
    qsort(g->meta, g->nmeta, sizeof *g->meta, meta_cmp);
    size_t mi = 0;
    for (unsigned a = 0; a < g->o.accounts; a++) {
        for (unsigned reg = 0; reg < g->o.regions; reg++) {
            char prev_key[KEY_MAX] = "";
            for (unsigned d = 0; d < g->o.days; d++) {
                size_t first = mi;
                int64_t oldest = -1, newest = -1;
                while (mi < g->nmeta && g->meta[mi].acct == a && g->meta[mi].region == reg && g->meta[mi].day == d) {
                    const file_meta *m = &g->meta[mi++];
                    if (m->oldest >= 0 && (oldest < 0 || m->oldest < oldest)) oldest = m->oldest;
                    if (m->newest > newest) newest = m->newest;
                }
                int64_t day0 = g->o.start + (int64_t)d * 86400, end = day0 + 86399;
                civil c = civil_from_time(end);
                char key[KEY_MAX];
                const char *acct = acct_id(g, a), *rn = REGIONS[reg];
                int n =
                    snprintf(key, sizeof key,
                             "AWSLogs/%s/CloudTrail-Digest/%s/%04d/%02u/%02u/"
                             "%s_CloudTrail-Digest_%s_trail_%s_%04d%02u%02uT235959Z.%s",
                             acct, rn, c.y, c.mo, c.d, acct, rn, rn, c.y, c.mo, c.d, g->o.plain ? "json" : "json.gz");
                if (n < 0 || (size_t)n >= sizeof key) die("key too long");
                buf_clear(&g->json);
                jw_reset(w, &g->json);
                OBJ(w);
                KSTR(w, "awsAccountId", acct);
                KEY(w, "digestStartTime");
                jtime(w, day0);
                KEY(w, "digestEndTime");
                jtime(w, end);
                KSTR(w, "digestS3Bucket", bucket);
                KSTR(w, "digestS3Object", key);
                KEY(w, "digestPublicKeyFingerprint");
                put_hex_str(w, R, 32);
                KS(w, "digestSignatureAlgorithm", "SHA256withRSA");
                KEY(w, "newestEventTime");
                jtime_or_null(w, newest);
                KEY(w, "oldestEventTime");
                jtime_or_null(w, oldest);
                if (prev_key[0]) {
                    KSTR(w, "previousDigestS3Bucket", bucket);
                    KSTR(w, "previousDigestS3Object", prev_key);
                    KEY(w, "previousDigestHashValue");
                    put_hex_str(w, R, 64);
                    KS(w, "previousDigestHashAlgorithm", "SHA-256");
                    KEY(w, "previousDigestSignature");
                    put_hex_str(w, R, 512);
                } else {
                    KEY(w, "previousDigestS3Bucket");
                    jraw(w, "null");
                    KEY(w, "previousDigestS3Object");
                    jraw(w, "null");
                    KEY(w, "previousDigestHashValue");
                    jraw(w, "null");
                    KEY(w, "previousDigestHashAlgorithm");
                    jraw(w, "null");
                    KEY(w, "previousDigestSignature");
                    jraw(w, "null");
                }
                KEY(w, "logFiles");
                ARR(w);
                for (size_t k = first; k < mi; k++) {
                    const file_meta *m = &g->meta[k];
                    OBJ(w);
                    KSTR(w, "s3Bucket", bucket);
                    KEY(w, "s3Object");
                    str_open(w);
                    put(w, g->keys.data + m->key_off, m->key_len);
                    str_close(w);
                    KEY(w, "hashValue");
                    put_hex_str(w, R, 64);
                    KS(w, "hashAlgorithm", "SHA-256");
                    KEY(w, "newestEventTime");
                    jtime_or_null(w, m->newest);
                    KEY(w, "oldestEventTime");
                    jtime_or_null(w, m->oldest);
                    END_OBJ(w);
                }
                END_ARR(w);
                END_OBJ(w);
                if (w->err) die("digest file passed its size limit");
                emit(g, key, 1);
                g->digests++;
                snprintf(prev_key, sizeof prev_key, "%s", key);
            }
        }
    }
}

/* Insights files like CloudTrail delivers them: their own folder, start/end pairs of events. */
static void gen_insight_files(gen *g) {
    for (uint64_t i = 0; i < g->o.insights; i++) {
        begin_random_file(g);
        unsigned pairs = 1 + rng_below(&g->r, 3);
        for (unsigned pair = 0; pair < pairs; pair++) insight_pair(g, (int)(pair & 1));
        end_file(g, "CloudTrail-Insight", 1);
    }
}

/* ---------------------------------------------------------------- command line */

static const char USAGE[] =
    "usage: ctgen --out DIR [--files N] [--min-records A] [--max-records B] [--seed S]\n"
    "             [--accounts K] [--regions R] [--start YYYY-MM-DD] [--days D]\n"
    "             [--plain] [--edge-cases] [--insights N] [--digest] [--ids FILE]\n"
    "             [--shape S] [--layout cloudtrail|firehose] [--crlf] [--broken-line] [--broken-ids FILE]\n"
    "\n"
    "Writes a deterministic corpus of CloudTrail log files under DIR/AWSLogs/ACCOUNT/CloudTrail/...\n"
    "  --out DIR          output directory (created if missing)\n"
    "  --files N          number of ordinary log files (default 10)\n"
    "  --min-records A    fewest records in a file (default 1)\n"
    "  --max-records B    most records in a file, log-uniform in [A,B] (default 500, at most 100000)\n"
    "  --seed S           random seed; same seed and options give identical files (default 1)\n"
    "  --accounts K       number of 12-digit accounts (default 2)\n"
    "  --regions R        number of regions, us-east-1 first (default 2, at most 17)\n"
    "  --start DATE       first day, UTC (default 2024-05-01)\n"
    "  --days D           files spread over D days (default 1)\n"
    "  --plain            write .json without gzip\n"
    "  --edge-cases       also write awkward files: non-ASCII, control escapes, lone surrogates,\n"
    "                     100 KB and 1.2 MB records, Insights, errors, nulls, a record without\n"
    "                     eventID, an empty Records array, a two-member gzip file\n"
    "  --insights N       also write N files of Insights events (CloudTrail-Insight/, 2 to 6 records,\n"
    "                     spread over the accounts, regions and days like the ordinary files)\n"
    "  --digest           also write one digest file per account/region/day (CloudTrail-Digest/)\n"
    "  --ids FILE         write every generated eventID to FILE, one a line\n"
    "  --shape S          the records of each file written as (default s3):\n"
    "                       s3            {\"Records\":[...]}, as CloudTrail delivers them\n"
    "                       array         a top-level JSON array, one record a line\n"
    "                       ndjson        JSON lines, one record a line\n"
    "                       concat        records back to back without a separator (Firehose's default)\n"
    "                       eventbridge   EventBridge events, one a line, \"detail\" first in every other one\n"
    "                       cwlogs        CloudWatch Logs subscription payloads of up to 40 records, one gzip\n"
    "                                     member each (a multi-member file), a CONTROL_MESSAGE first, messageType\n"
    "                                     last in every other one\n"
    "                       lookup        `aws cloudtrail lookup-events` output as the CLI prints it\n"
    "                       lookup-lines  its Events one a line (jq -c '.Events[]')\n"
    "                       strings       each record as a JSON string, one a line (jq '.Events[].CloudTrailEvent')\n"
    "                     A file without records is not written in the line shapes (it would be empty).\n"
    "  --layout L         cloudtrail (default): AWSLogs/... keys; firehose: YYYY/MM/DD/HH/ctgen-stream-1-...\n"
    "                     names without an extension, as Firehose writes them (no digests)\n"
    "  --crlf             end lines with CRLF (line shapes)\n"
    "  --broken-line      cut the middle record of every file of three or more in half (line shapes: the\n"
    "                     line; cwlogs: the log event's message); those records are counted as broken\n"
    "  --broken-ids FILE  write the eventIDs of the cut records to FILE (they stay in --ids)\n"
    "Prints one summary line: files records json_bytes gzip_bytes digest_files broken.\n";

static _Noreturn void usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "ctgen: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(try ctgen --help)\n");
    exit(2);
}

static uint64_t parse_num(const char *opt, const char *s, uint64_t lo, uint64_t hi) {
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ') usage_error("%s needs a non-negative integer", opt);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) usage_error("%s needs a non-negative integer", opt);
    if (v < lo || v > hi) {
        fprintf(stderr, "ctgen: %s must be between %" PRIu64 " and %" PRIu64 "\n(try ctgen --help)\n", opt, lo, hi);
        exit(2);
    }
    return v;
}

static int64_t parse_date(const char *s) {
    int y;
    unsigned m, d;
    char tail;
    if (!s || sscanf(s, "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3 || strlen(s) != 10)
        usage_error("--start needs a date YYYY-MM-DD, got '%s'", s ? s : "");
    if (y < 1970 || y > 9999 || !date_valid(y, (int)m, (int)d)) usage_error("--start: no such date '%s'", s);
    return date_days_from_civil(y, (int)m, (int)d) * 86400;
}

static shape parse_shape(const char *v) {
    for (int i = 0; i < SHAPE_COUNT; i++)
        if (!strcmp(v, SHAPE_NAMES[i])) return (shape)i;
    usage_error(
        "--shape: one of s3, array, ndjson, concat, eventbridge, cwlogs, lookup, lookup-lines, strings, not '%s'", v);
}

static void parse_args(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    o->files = 10;
    o->min_records = 1;
    o->max_records = 500;
    o->seed = 1;
    o->accounts = 2;
    o->regions = 2;
    o->days = 1;
    o->start = parse_date("2024-05-01");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            exit(0);
        }
        if (!strcmp(a, "--plain")) {
            o->plain = 1;
            continue;
        }
        if (!strcmp(a, "--edge-cases")) {
            o->edge_cases = 1;
            continue;
        }
        if (!strcmp(a, "--digest")) {
            o->digest = 1;
            continue;
        }
        if (!strcmp(a, "--crlf") || !strcmp(a, "--broken-line")) {
            *(a[2] == 'c' ? &o->crlf : &o->broken_line) = 1;
            continue;
        }
        /* options with a value: "--opt value" or "--opt=value" */
        static const char *const WITH_VALUE[] = {"--out",      "--files",   "--min-records", "--max-records", "--seed",
                                                 "--accounts", "--regions", "--start",       "--days",        "--ids",
                                                 "--insights", "--shape",   "--layout",      "--broken-ids"};
        const char *eq = strchr(a, '=');
        size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
        const char *name = NULL;
        for (unsigned k = 0; k < COUNT(WITH_VALUE); k++)
            if (strlen(WITH_VALUE[k]) == name_len && !strncmp(a, WITH_VALUE[k], name_len)) name = WITH_VALUE[k];
        if (!name) usage_error("unknown option '%s'", a);
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) usage_error("%s needs a value", name);
        if (!strcmp(name, "--out")) o->out = v;
        else if (!strcmp(name, "--ids")) o->ids_path = v;
        else if (!strcmp(name, "--broken-ids")) o->broken_ids_path = v;
        else if (!strcmp(name, "--shape")) o->shape = parse_shape(v);
        else if (!strcmp(name, "--layout")) {
            if (strcmp(v, "cloudtrail") && strcmp(v, "firehose"))
                usage_error("--layout: cloudtrail or firehose, not '%s'", v);
            o->firehose = !strcmp(v, "firehose");
        } else if (!strcmp(name, "--files")) o->files = parse_num(name, v, 0, MAX_FILES);
        else if (!strcmp(name, "--min-records")) o->min_records = parse_num(name, v, 1, MAX_RECORDS_PER_FILE);
        else if (!strcmp(name, "--max-records")) o->max_records = parse_num(name, v, 1, MAX_RECORDS_PER_FILE);
        else if (!strcmp(name, "--seed")) o->seed = parse_num(name, v, 0, UINT64_MAX);
        else if (!strcmp(name, "--accounts")) o->accounts = parse_num(name, v, 1, MAX_ACCOUNTS);
        else if (!strcmp(name, "--regions")) o->regions = parse_num(name, v, 1, COUNT(REGIONS));
        else if (!strcmp(name, "--days")) o->days = parse_num(name, v, 1, MAX_DAYS);
        else if (!strcmp(name, "--insights")) o->insights = parse_num(name, v, 0, MAX_FILES);
        else o->start = parse_date(v);
    }
    if (!o->out || !*o->out) usage_error("%s", "--out DIR is required");
    if (strlen(o->out) > PATH_MAX_LEN - KEY_MAX - 2) usage_error("--out path too long: %s", o->out);
    if (o->min_records > o->max_records) usage_error("%s", "--min-records must not exceed --max-records");
    if (o->crlf && !shape_has_lines(o->shape)) usage_error("--crlf needs a line shape, not %s", SHAPE_NAMES[o->shape]);
    if (o->broken_line && !shape_has_lines(o->shape) && o->shape != SHAPE_CWLOGS)
        usage_error("--broken-line needs a line shape or cwlogs, not %s", SHAPE_NAMES[o->shape]);
    if (o->digest && o->firehose) usage_error("%s", "--digest needs the cloudtrail layout");
}

/* ---------------------------------------------------------------- main */

static void make_accounts(gen *g) {
    rng R = {mix64(g->o.seed ^ 0xACC0u)};
    g->accounts = calloc(g->o.accounts, sizeof *g->accounts);
    if (!g->accounts) die("out of memory");
    for (unsigned i = 0; i < g->o.accounts; i++) {
        for (;;) {
            g->accounts[i][0] = (char)('1' + rng_below(&R, 9));
            fill_rand(g->accounts[i] + 1, &R, DIGITS, 10, 11);
            g->accounts[i][12] = '\0';
            unsigned k = 0;
            while (k < i && strcmp(g->accounts[k], g->accounts[i])) k++;
            if (k == i) break;
        }
    }
    g->external_account[0] = '9';
    fill_rand(g->external_account + 1, &R, DIGITS, 10, 11);
    g->external_account[12] = '\0';
    fill_rand(g->bucket_suffix, &R, "abcdefghijklmnopqrstuvwxyz0123456789", 36, 8);
    g->bucket_suffix[8] = '\0';
}

int main(int argc, char **argv) {
    static gen g; /* large; zero-initialised */
    parse_args(argc, argv, &g.o);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    g.r.s = mix64(g.o.seed);
    g.dr.s = mix64(g.o.seed ^ 0xD16E57u);
    g.uid_key = mix64(g.o.seed ^ 0x1D5u);
    make_accounts(&g);
    buf_init(&g.json, FILE_BUF_MAX);
    buf_init(&g.gz, FILE_BUF_MAX);
    buf_init(&g.keys, KEYS_BUF_MAX);
    buf_init(&g.shaped, FILE_BUF_MAX);
    if (buf_reserve(&g.json, 1 << 20) != 0) die("out of memory");
    if (deflateInit2(&g.zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) die("deflateInit2 failed");
    if (mkdir(g.o.out, 0755) != 0 && errno != EEXIST) die_errno("cannot create directory", g.o.out);
    if (g.o.ids_path) {
        g.ids = fopen(g.o.ids_path, "w");
        if (!g.ids) die_errno("cannot create", g.o.ids_path);
    }
    if (g.o.broken_ids_path && !(g.broken_ids = fopen(g.o.broken_ids_path, "w")))
        die_errno("cannot create", g.o.broken_ids_path);

    gen_normal_files(&g);
    if (g.o.edge_cases) gen_edge_files(&g);
    gen_insight_files(&g);
    if (g.o.digest) gen_digests(&g);

    if (g.ids && fclose(g.ids) != 0) die_errno("cannot write", g.o.ids_path);
    if (g.broken_ids && fclose(g.broken_ids) != 0) die_errno("cannot write", g.o.broken_ids_path);
    deflateEnd(&g.zs);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("ctgen: files=%" PRIu64 " records=%" PRIu64 " json_bytes=%" PRIu64 " gzip_bytes=%" PRIu64
           " digest_files=%" PRIu64 " broken=%" PRIu64 "\n",
           g.files, g.records, g.json_bytes, g.gz_bytes, g.digests, g.broken);
    fprintf(stderr, "ctgen: %.2f s, %.0f records/s, %.1f MB/s of JSON\n", secs,
            secs > 0 ? (double)g.records / secs : 0.0, secs > 0 ? (double)g.json_bytes / secs / 1e6 : 0.0);
    buf_free(&g.json);
    buf_free(&g.gz);
    buf_free(&g.keys);
    buf_free(&g.shaped);
    free(g.spans);
    free(g.members);
    free(g.meta);
    free(g.accounts);
    return 0;
}
