/* HTTP client on the libuv loop (the only module that uses libcurl).
 *
 * One curl multi handle is driven by the caller's uv_loop_t (curl's multi-socket API).
 * Connections are kept alive and reused through the multi's connection cache; easy handles
 * and request objects are pooled. Request bodies are sent with Content-Length (never chunked)
 * and without "Expect: 100-continue"; response bodies are never decoded (no Accept-Encoding).
 *
 * Callback rules (all on the loop thread):
 * - on_done runs exactly once for every request http_start() accepted, always from the loop
 *   (never from inside http_start/http_cancel/http_resume), except that http_client_close()
 *   reports still-running requests (HTTP_ERR_CLOSED) before it returns.
 * - on_data runs from the loop or while the client resumes a paused transfer; it may call
 *   http_resume/http_cancel/http_start/http_client_close: those only record what to do and the
 *   client acts once it is back out of libcurl.
 * - The http_req pointer and the http_response are invalid after on_done returns. */
#ifndef CTINDEX_HTTP_H
#define CTINDEX_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"

typedef struct http_client http_client;
typedef struct http_req http_req;

typedef struct http_client_options {
    int max_total_connections; /* 0 = 16 */
    int max_host_connections;  /* 0 = 8; extra transfers to a host wait for a free connection */
    long connect_timeout_ms;   /* 0 = 10000 */
    long low_speed_time_s;     /* abort when < 1 byte/s flows for this long; 0 = 60 (above SQS's 20 s long poll) */
    const char *ca_bundle;     /* NULL = $AWS_CA_BUNDLE, else the system store */
    int verbose;               /* curl's own trace on stderr */
} http_client_options;

/* What happened to a request. HTTP_OK means a complete response arrived, whatever its status. */
typedef enum http_result {
    HTTP_OK = 0,
    HTTP_ERR_CONNECT,           /* resolve/connect/TLS handshake failed */
    HTTP_ERR_TIMEOUT,           /* connect timeout, low-speed limit or timeout_ms */
    HTTP_ERR_CONNECTION,        /* connection broke: send/receive error, truncated body, empty reply */
    HTTP_ERR_TLS,               /* certificate could not be verified (not worth retrying) */
    HTTP_ERR_BODY_TOO_LARGE,    /* collected body would pass max_body */
    HTTP_ERR_HEADERS_TOO_LARGE, /* response headers passed HTTP_MAX_HEADER_BYTES */
    HTTP_ERR_ABORTED,           /* on_data returned -1 */
    HTTP_ERR_CANCELLED,         /* http_cancel */
    HTTP_ERR_CLOSED,            /* http_client_close while the request was running */
    HTTP_ERR_OTHER              /* anything else curl reports (bad URL, out of memory, ...) */
} http_result;

enum {
    HTTP_PAUSE = 1,                    /* on_data: keep these bytes, deliver them again after http_resume */
    HTTP_MAX_HEADER_BYTES = 32 * 1024, /* bound for the headers of one response */
    HTTP_DEFAULT_MAX_BODY = 16 * 1024 * 1024,
    HTTP_DEFAULT_MAX_ERROR_BODY = 64 * 1024 /* streaming requests: bound for a non-2xx body */
};

typedef struct http_response {
    http_result result;
    int status;      /* status of the final response (after any 1xx), 0 if none arrived */
    int curl_code;   /* CURLcode, for logs */
    char error[256]; /* human-readable error, "" on HTTP_OK */
    /* The body when on_data is NULL, or when on_data is set and the status is not 2xx (so callers
     * can read the AWS error). Always NUL-terminated when body.data != NULL. The caller may take
     * the buffer: copy the struct and buf_init(&r->body, 0) before returning. */
    buf body;
    buf headers;        /* internal: "Name: value\0" entries; use http_response_header() */
    int new_connection; /* this transfer had to open a connection */
    uint64_t bytes_up, bytes_down;
} http_response;

/* Value of response header `name` (case-insensitive, first match, trimmed) or NULL. */
const char *http_response_header(const http_response *r, const char *name);
const char *http_result_name(http_result r);

typedef struct http_request {
    const char *method; /* NULL = GET without body, POST with one; HEAD, PUT, DELETE, ... */
    const char *url;
    const char *const *headers; /* "Name: value" lines, copied */
    size_t nheaders;
    const void *body; /* NOT copied: kept alive by the caller until on_done */
    size_t body_len;  /* sent with Content-Length, also when 0 for POST/PUT */
    long timeout_ms;  /* whole transfer, including time queued for a connection; 0 = none */
    size_t max_body;  /* bound for a collected body; 0 = HTTP_DEFAULT_MAX_BODY (or _MAX_ERROR_BODY when streaming) */
    /* Optional streaming sink for 2xx bodies: return 0 when consumed, HTTP_PAUSE to pause (the
     * same bytes come again after http_resume), -1 to abort the transfer (HTTP_ERR_ABORTED). */
    int (*on_data)(void *ud, const char *p, size_t n);
    void (*on_done)(void *ud, http_response *r); /* required */
    void *ud;
    long low_speed_time_s; /* 0 = the client's */
} http_request;

typedef struct http_stats {
    uint64_t requests;    /* started */
    uint64_t ok;          /* finished with HTTP_OK (any status) */
    uint64_t failed;      /* finished with an error */
    uint64_t connections; /* connections opened */
    uint64_t bytes_up, bytes_down;
} http_stats;

/* NULL on failure (logged). o may be NULL for defaults. */
http_client *http_client_new(uv_loop_t *loop, const http_client_options *o);
/* Finishes every running request with HTTP_ERR_CLOSED, then closes the client's handles;
 * run the loop until it is empty before closing it. Safe from inside callbacks. */
void http_client_close(http_client *c);

/* Starts a request; NULL when it cannot start (bad arguments, client closing, out of
 * memory): then on_done is not called. */
http_req *http_start(http_client *c, const http_request *rq);
/* Resume a transfer paused by on_data returning HTTP_PAUSE. No-op when not paused. */
void http_resume(http_req *r);
/* Stop a running request: on_done follows with HTTP_ERR_CANCELLED. */
void http_cancel(http_req *r);

void http_client_stats(const http_client *c, http_stats *out);
/* Share of finished requests that reused a connection (0..1). */
double http_stats_reuse_ratio(const http_stats *s);

#endif
