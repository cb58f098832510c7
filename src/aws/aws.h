/* Signed AWS requests on the loop: sign (SigV4), send (http.c), retry transient failures with
 * backoff (re-signed per attempt), and parse the AWS error code. Credentials come from the
 * chain (environment, shared files, ECS container endpoint, EC2 IMDSv2), resolved before the
 * first request and refreshed before they expire; requests wait while credentials are fetched. */
#ifndef CTINDEX_AWS_H
#define CTINDEX_AWS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "aws/awsconf.h"
#include "base/buf.h"
#include "net/http.h"

typedef struct aws_ctx aws_ctx;
typedef struct aws_call aws_call;

typedef struct aws_ctx_options {
    const char *region;     /* NULL: AWS_REGION, AWS_DEFAULT_REGION, profile, else us-east-1 */
    const char *profile;    /* NULL: AWS_PROFILE / AWS_DEFAULT_PROFILE / default */
    const awsconf_env *env; /* NULL: the process environment */
    int no_credentials;     /* never sign (anonymous); for tests of unsigned peers */
} aws_ctx_options;

typedef struct aws_stats {
    uint64_t calls;    /* aws_send accepted */
    uint64_t attempts; /* HTTP requests sent */
    uint64_t retries;
    uint64_t throttled; /* attempts answered with a throttling code or 429/503 */
    uint64_t failed;    /* calls that ended without a 2xx */
    uint64_t credential_fetches;
} aws_stats;

aws_ctx *aws_ctx_new(uv_loop_t *loop, http_client *http, const aws_ctx_options *o);
/* Cancels running calls (their on_done runs with an error: before this returns for calls not
 * on the wire, like http_client_close) and frees the context after its handles close; run the
 * loop afterwards. */
void aws_ctx_free(aws_ctx *c);
const char *aws_ctx_region(const aws_ctx *c);
/* The loop the context runs on (for callers that must defer their own callbacks). */
uv_loop_t *aws_ctx_loop(const aws_ctx *c);
const awsconf_env *aws_ctx_env(const aws_ctx *c);
/* Endpoint URL for a service id ("s3", "sqs", "cloudsearch", ...), see awsconf_endpoint. */
int aws_ctx_endpoint(const aws_ctx *c, const char *service_id, const char *region, char *out, size_t cap);
/* Resolve credentials now (normally lazy). done(ud, ok) runs once, from the loop (never inside
 * this call; aws_ctx_free answers waiting callers with ok = 0). -1 when it cannot be asked
 * (out of memory, context closing): done is then not called. */
int aws_ctx_resolve_credentials(aws_ctx *c, void (*done)(void *ud, int ok), void *ud);
void aws_ctx_stats(const aws_ctx *c, aws_stats *out);

typedef struct aws_response {
    http_result result; /* transport outcome of the last attempt */
    int status;         /* HTTP status of the last attempt, 0 when none */
    int ok;             /* 2xx */
    char code[128];     /* AWS error code ("SlowDown", "QueueDoesNotExist", ...), "" if none */
    char message[512];  /* AWS error message or transport error text */
    int attempts;
    int credentials_expired;   /* the answer said the credentials expired: new ones are fetched for the next call */
    buf body;                  /* collected body (non-streaming calls, or the error body) */
    const http_response *http; /* headers of the last attempt; valid during on_done only */
} aws_response;

typedef struct aws_request {
    const char *service;        /* signing name: "s3", "sqs", "cloudsearch", "es", "aoss" */
    const char *region;         /* NULL: the context's region */
    const char *method;         /* "GET", "POST", "PUT", ... */
    const char *url;            /* full URL as sent on the wire (path and query already encoded); copied */
    const char *const *headers; /* extra "Name: value" lines (Content-Type, X-Amz-Target, ...); copied */
    size_t nheaders;
    const void *body; /* NOT copied: keep it alive until on_done */
    size_t body_len;
    const char *payload_hash; /* NULL: SHA-256 of body (computed once per call), or SIGV4_UNSIGNED_PAYLOAD */
    unsigned sign_flags;      /* SIGV4_S3, SIGV4_CONTENT_SHA256 */
    int anonymous;            /* send without signing (basic auth given in headers, or public peers) */
    int max_attempts;         /* 0: 5 */
    long timeout_ms;          /* per attempt; 0: none (the low-speed limit still applies) */
    size_t max_body;          /* bound for a collected body; 0: 16 MiB */
    /* Streaming (S3 GET): 2xx body bytes go here, as http_request.on_data (HTTP_PAUSE pauses).
     * A call is retried only while no byte has been delivered. */
    int (*on_data)(void *ud, const char *p, size_t n);
    void (*on_done)(void *ud, aws_response *r); /* exactly once per accepted call, from the loop */
    void *ud;
} aws_request;

/* NULL when the call cannot start (bad URL, too large, context closing): on_done not called.
 * Otherwise on_done runs exactly once, always from the loop: never from inside aws_send (also
 * when credentials cannot be found, signing fails or the HTTP request cannot start), nor from
 * inside aws_call_cancel or aws_call_resume. */
aws_call *aws_send(aws_ctx *c, const aws_request *rq);
void aws_call_resume(aws_call *call);
/* on_done follows, from the loop, with result HTTP_ERR_CANCELLED. */
void aws_call_cancel(aws_call *call);

#endif
