/* AWS Signature Version 4 (header signing), pure: no clock, no network, no allocation.
 * The caller passes the request pieces and the time; sigv4_sign fills a sigv4_signed with
 * the canonical request, string to sign, signature and the header lines to add.
 * Inputs over the limits below are rejected with SIGV4_ETOOBIG, never truncated. */
#ifndef CTINDEX_SIGV4_H
#define CTINDEX_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#define SIGV4_MAX_HOST 262   /* host[:port] */
#define SIGV4_MAX_PATH 4096  /* wire path bytes */
#define SIGV4_MAX_QUERY 4096 /* wire query bytes (without '?') */
#define SIGV4_MAX_QUERY_PARAMS 128
#define SIGV4_MAX_HEADERS 32 /* caller headers */
#define SIGV4_MAX_HEADER_NAME 64
#define SIGV4_MAX_HEADER_VALUE 4096
#define SIGV4_MAX_SCOPE_PART 63 /* region, service */
#define SIGV4_MAX_KEY_ID 128
#define SIGV4_MAX_SECRET 128
#define SIGV4_MAX_TOKEN 4096 /* session tokens from STS/IMDS are ~1-2 KB */

#define SIGV4_CANON_MAX 65536
#define SIGV4_STS_MAX 256
#define SIGV4_SIGNED_HEADERS_MAX ((SIGV4_MAX_HEADERS + 4) * (SIGV4_MAX_HEADER_NAME + 1))
#define SIGV4_AUTH_MAX (SIGV4_SIGNED_HEADERS_MAX + 512)
#define SIGV4_LINES_MAX (SIGV4_AUTH_MAX + SIGV4_MAX_TOKEN + 256)

#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

enum { SIGV4_OK = 0, SIGV4_EINVAL = -1, SIGV4_ETOOBIG = -2, SIGV4_ECRYPTO = -3 };

enum sigv4_flags {
    /* S3 path rules: no dot-segment normalisation, no second encoding of the path; also
     * implies SIGV4_CONTENT_SHA256 (S3 requires the header on every request). */
    SIGV4_S3 = 1u << 0,
    /* Add and sign X-Amz-Content-Sha256 (OpenSearch Serverless wants it too). */
    SIGV4_CONTENT_SHA256 = 1u << 1,
};

typedef struct sigv4_header {
    const char *name; /* NUL-terminated; any case */
    const char *value;
} sigv4_header;

typedef struct sigv4_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "" when none */
} sigv4_credentials;

typedef struct sigv4_request {
    const char *method;          /* "GET", "POST", ... */
    const char *host;            /* Host header value: lower-case host[:port], default port omitted */
    const char *path;            /* wire path as sent (percent-encoded); NULL or "" means "/" */
    const char *query;           /* wire query without '?', or NULL */
    const sigv4_header *headers; /* extra headers that will be sent; hop-by-hop ones are skipped */
    size_t nheaders;
    const char *payload_hash; /* 64 lower-case hex chars or "UNSIGNED-PAYLOAD"; NULL = empty body */
    const char *region;
    const char *service;
    int64_t time;   /* seconds since the epoch, UTC */
    unsigned flags; /* enum sigv4_flags */
} sigv4_request;

/* Results. Large (~80 KB): allocate one per signing site and reuse it. */
typedef struct sigv4_signed {
    char amz_date[17]; /* YYYYMMDDTHHMMSSZ */
    char scope[SIGV4_MAX_SCOPE_PART * 2 + 32];
    char canonical_request[SIGV4_CANON_MAX];
    size_t canonical_request_len;
    char string_to_sign[SIGV4_STS_MAX];
    char signed_headers[SIGV4_SIGNED_HEADERS_MAX];
    char signature[65];
    char authorization[SIGV4_AUTH_MAX]; /* value of the Authorization header */
    /* "Name: value" lines to add to the request (Authorization, X-Amz-Date, then
     * X-Amz-Security-Token and X-Amz-Content-Sha256 when used); they point into storage. */
    const char *lines[4];
    size_t nlines;
    char storage[SIGV4_LINES_MAX];
} sigv4_signed;

/* Signing keys depend only on (secret, date, region, service): cache them so a busy process
 * runs the 4-HMAC derivation once per day per service, not per request. */
#define SIGV4_KEY_CACHE_SLOTS 8
typedef struct sigv4_key_slot {
    int used;
    uint64_t last_use;
    char date[9];
    char region[SIGV4_MAX_SCOPE_PART + 1];
    char service[SIGV4_MAX_SCOPE_PART + 1];
    uint8_t secret_fp[32]; /* SHA-256 of the secret: rotated credentials miss the cache */
    uint8_t key[32];
} sigv4_key_slot;

typedef struct sigv4_key_cache {
    sigv4_key_slot slot[SIGV4_KEY_CACHE_SLOTS];
    uint64_t tick;
    uint64_t derivations; /* number of full derivations done (for tests and stats) */
} sigv4_key_cache;

void sigv4_key_cache_init(sigv4_key_cache *c);
/* Zero every cached key (e.g. at exit or when credentials are revoked). */
void sigv4_key_cache_wipe(sigv4_key_cache *c);
/* kSigning for date "YYYYMMDD"; cache may be NULL. Returns SIGV4_OK or an error. */
int sigv4_signing_key(sigv4_key_cache *cache, const char *secret, const char *date8, const char *region,
                      const char *service, uint8_t key[32]);

/* Sign. cache may be NULL. Returns SIGV4_OK or a negative SIGV4_E* code (out is then unusable). */
int sigv4_sign(const sigv4_request *req, const sigv4_credentials *creds, sigv4_key_cache *cache, sigv4_signed *out);

const char *sigv4_strerror(int err);

/* A URL split for signing: host as the Host header carries it (lower-case, no userinfo,
 * default port dropped), wire path ("/" when empty) and query (no '?', fragment dropped). */
typedef struct sigv4_url {
    int https;
    char host[SIGV4_MAX_HOST + 1];
    char path[SIGV4_MAX_PATH + 1];
    char query[SIGV4_MAX_QUERY + 1];
} sigv4_url;

/* Only http:// and https:// URLs. Returns SIGV4_OK, SIGV4_EINVAL or SIGV4_ETOOBIG. */
int sigv4_url_parse(const char *url, sigv4_url *u);

/* Percent-encode every byte outside A-Z a-z 0-9 - _ . ~ (and '/', when keep_slash), with
 * upper-case hex: the AWS "UriEncode". Writes a NUL; returns the length or -1 if cap is
 * too small. Use it to build wire paths (S3 keys) and query values that sign as sent. */
long sigv4_uri_encode(const char *in, size_t n, char *out, size_t cap, int keep_slash);

#endif
