/* A small HTTP/1.1 server on the loop, for the health port and `ctindex serve`.
 *
 * It is built to be exposed to clients it does not trust: heads are parsed by net/http_parse
 * (bounded, strict), bodies need a Content-Length within the route's limit, and every
 * connection is on a clock: an idle keep-alive connection is closed after idle_timeout_ms, a
 * request must arrive whole within request_timeout_ms of its first byte (slow senders get 408),
 * a response must be taken within write_timeout_ms. At most max_connections are open: a new one
 * past the cap closes the longest-idle connection, or is answered 503 when none is idle, so
 * clients can never hold more than max_connections (+1 being refused) file descriptors of the
 * process, whatever they do. One request per connection is handled at a time; pipelined
 * requests wait their turn.
 *
 * Routes: http_server_route(s, "GET", "/metrics", ...) adds a handler; the path is exact, or a
 * prefix when it ends with '*' ("*" alone matches every path). The route added last is tried
 * first, so specific routes can be added after a catch-all. HEAD is answered by GET routes
 * (without the body). */
#ifndef CTINDEX_HTTP_SERVER_H
#define CTINDEX_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/http_parse.h"

typedef struct http_server http_server;
typedef struct http_exchange http_exchange;

typedef struct http_server_request {
    const httpp_head *head; /* method, path, query, headers */
    const char *body;       /* Content-Length bytes (NUL-terminated for convenience) */
    size_t body_len;
} http_server_request;

/* Runs on the loop for every complete request of a matching route. The handler answers with
 * http_exchange_reply, either before returning or later from the loop: it owns x (and rq stays
 * valid) until then. It must answer exactly once. */
typedef void (*http_handler)(void *ud, http_exchange *x, const http_server_request *rq);

typedef struct http_server_options {
    const char *addr;            /* "127.0.0.1" (default), "0.0.0.0", "::1" */
    int port;                    /* 0: any free port (http_server_port tells) */
    int max_connections;         /* default 64 */
    size_t max_head_bytes;       /* request line + headers; default 16384 */
    unsigned idle_timeout_ms;    /* keep-alive connection without a request; default 5000 */
    unsigned request_timeout_ms; /* from a request's first byte to its last; default 10000 */
    unsigned write_timeout_ms;   /* to take a response; default 10000 */
    const char *name;            /* for log lines, e.g. "health endpoint" */
} http_server_options;

typedef struct http_server_stats {
    uint64_t accepted;  /* connections accepted */
    uint64_t evicted;   /* idle connections closed to make room for a new one */
    uint64_t refused;   /* connections answered 503 because every slot was busy */
    uint64_t timeouts;  /* connections closed by a timeout (idle, slow request or slow reader) */
    uint64_t requests;  /* requests handed to a route */
    uint64_t malformed; /* requests refused by the parser or the limits */
    int open;           /* connections open now */
} http_server_stats;

void http_server_options_default(http_server_options *o);

/* Listens on o->addr:o->port. NULL on failure (logged with the name and the reason). */
http_server *http_server_start(uv_loop_t *loop, const http_server_options *o);
/* Adds a route. method: "GET", "POST", ... (GET routes also answer HEAD). max_body: bodies longer
 * are answered 413 without being read. 0, or -1 when the table is full (16 routes). */
int http_server_route(http_server *s, const char *method, const char *path, size_t max_body, http_handler fn, void *ud);
int http_server_port(const http_server *s);
void http_server_get_stats(const http_server *s, http_server_stats *out);
/* Stops listening and closes every connection; handlers that have not answered yet keep their
 * exchange until they do (their answer is dropped). The server frees itself once every handle
 * is closed: run the loop. */
void http_server_stop(http_server *s);

/* The answer to a request. headers: extra "Name: value\r\n" lines, or NULL; Content-Length and
 * Connection are added here. The body is copied. */
void http_exchange_reply(http_exchange *x, int status, const char *content_type, const char *headers, const void *body,
                         size_t len);
/* The same, taking ownership of a malloc'd body (freed once written). */
void http_exchange_reply_owned(http_exchange *x, int status, const char *content_type, const char *headers, char *body,
                               size_t len);

/* The reason phrase of a status code ("Not Found"). */
const char *http_status_text(int status);

#endif
