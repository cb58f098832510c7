/* Amazon S3 client on the signed-request layer (aws.h): streaming GetObject and one page of
 * ListObjectsV2, plus the pure pieces (URL building, list and error parsing) for tests.
 *
 * Addressing: virtual-hosted style (https://BUCKET.s3.REGION.amazonaws.com/KEY) when the S3
 * endpoint is AWS's default and the bucket name is DNS-safe without dots; path style
 * (ENDPOINT/BUCKET/KEY) otherwise, which is what endpoint overrides (moto, MinIO) need.
 *
 * Wrong region: a bucket in another region answers 301 PermanentRedirect or 400
 * AuthorizationHeaderMalformed, naming its region in `x-amz-bucket-region` or <Region>. The
 * call is then repeated once in that region (logged); s3_result.bucket_region tells the caller,
 * who should use that region for the bucket from then on. */
#ifndef CTINDEX_S3_H
#define CTINDEX_S3_H

#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"

#define S3_MAX_BUCKET 63
#define S3_MAX_KEY 1024             /* bytes of UTF-8 */
#define S3_MAX_URL 8192             /* endpoint + bucket + key encoded (3 bytes per key byte at worst) */
#define S3_MAX_LIST_KEYS 1000       /* S3's own page limit; larger max_keys are clamped */
#define S3_MAX_LIST_BODY (8u << 20) /* 1000 keys of 1024 bytes URL-encoded fit comfortably */

typedef struct s3_call s3_call;

/* Outcome of a call, valid during the callback only. */
typedef struct s3_result {
    int ok;             /* 2xx and (list) the answer parsed */
    int status;         /* HTTP status of the last attempt, 0 if none */
    http_result result; /* transport outcome */
    char code[128];     /* "NoSuchKey", "SignatureDoesNotMatch", "Cancelled", "BadResponse"... */
    char message[512];
    char bucket_region[AWSCONF_MAX_REGION + 1]; /* the region S3 said the bucket is in, when it differed; else "" */
    int attempts;                               /* HTTP attempts, over both regions */
    uint64_t bytes;                             /* body bytes delivered to on_data (get) */
} s3_result;

/* ---- GetObject ---- */

/* on_data: as http_request.on_data: 0 consumed, HTTP_PAUSE to keep the bytes and stop until
 * s3_call_resume, -1 to abort. on_done runs exactly once, from the loop. The object's bytes are
 * delivered exactly as stored (no Accept-Encoding; gzip is the caller's business). A failed
 * attempt is retried by aws.c only while no byte has been delivered. */
typedef void (*s3_done_fn)(void *ud, const s3_result *r);
s3_call *s3_get(aws_ctx *aws, const char *bucket, const char *key, int (*on_data)(void *ud, const char *p, size_t n),
                s3_done_fn on_done, void *ud);

/* Resume a transfer paused by on_data. */
void s3_call_resume(s3_call *c);
/* Stop a get or list: its callback follows, from the loop, with code "Cancelled". Callbacks of
 * s3_get and s3_list never run inside the call that started them or inside this one. */
void s3_call_cancel(s3_call *c);

/* ---- ListObjectsV2 ---- */

typedef struct s3_object_info {
    const char *key; /* decoded (XML entities, then URL encoding) */
    size_t key_len;
    uint64_t size;
    int64_t last_modified; /* epoch seconds, 0 if absent or unreadable */
    const char *etag;      /* as sent, with its quotes; "" if absent */
} s3_object_info;

/* One page. Every pointer is owned by the library and valid during the callback only. */
typedef struct s3_list_page {
    const s3_object_info *objects;
    size_t nobjects;
    const char *const *prefixes; /* CommonPrefixes (decoded), with a delimiter */
    size_t nprefixes;
    int truncated;          /* IsTruncated */
    const char *next_token; /* NextContinuationToken, "" when not truncated */
} s3_list_page;

/* page is NULL when r->ok is 0. */
typedef void (*s3_list_fn)(void *ud, const s3_result *r, const s3_list_page *page);

/* One ListObjectsV2 page (list-type=2, encoding-type=url). prefix, start_after,
 * continuation_token, delimiter: NULL or "" to leave out; max_keys <= 0: S3's default (1000).
 * Pagination is the caller's loop: when page->truncated, copy page->next_token and call
 * s3_list again with it as continuation_token (start_after only matters on the first page). */
s3_call *s3_list(aws_ctx *aws, const char *bucket, const char *prefix, const char *start_after,
                 const char *continuation_token, const char *delimiter, int max_keys, s3_list_fn cb, void *ud);

/* ---- pure helpers (exposed for tests) ---- */

/* URL of an object (key != NULL) or of the bucket (key NULL, no trailing '/').
 * Returns 0, or -1 for an invalid bucket or key (empty, too long, a "." or ".." segment that
 * HTTP clients would collapse) or when out is too small. */
int s3_object_url(const char *endpoint, const char *bucket, const char *key, char *out, size_t cap);

/* ListObjectsV2 query string (without '?'), parameters sorted and encoded so that it signs as sent. */
int s3_list_query(const char *prefix, const char *start_after, const char *continuation_token, const char *delimiter,
                  int max_keys, char *out, size_t cap);

/* Parsed page with its own storage: s3_list_parse fills it, s3_list_parsed_free releases. */
typedef struct s3_list_parsed {
    s3_list_page page;
    s3_object_info *objects;
    const char **prefixes;
    char *arena; /* decoded strings */
    size_t arena_len, arena_cap;
} s3_list_parsed;

/* Parse a ListBucketResult (encoding-type=url). Returns 0, or -1 with why filled when the
 * document is not a ListBucketResult or a field is malformed (no partial page is handed out). */
int s3_list_parse(const char *xml, size_t len, s3_list_parsed *out, char *why, size_t why_cap);
void s3_list_parsed_free(s3_list_parsed *p);

/* S3 error body <Error><Code>..</Code><Message>..</Message><Region>..</Region></Error>; fields
 * not present are left "". Returns 0 when a <Code> was found, else -1. */
int s3_parse_error(const char *xml, size_t len, char *code, size_t code_cap, char *message, size_t message_cap,
                   char *region, size_t region_cap);

#endif
