/* HTTP/1.1 request heads, parsed strictly and within fixed bounds (the server side of net/).
 *
 * Pure: no loop, no allocation; every span points into the caller's buffer. The server finds
 * where a head ends with httpp_head_end (resumable, so a head that arrives a byte at a time
 * costs linear time), then parses it once with httpp_parse. Anything the parser does not
 * accept comes back as a negative code whose HTTP status httpp_status gives: requests are
 * refused, never guessed at (RFC 9112: no obs-fold, no whitespace before ':', one consistent
 * Content-Length, no Transfer-Encoding: bodies must come with a Content-Length, as
 * CloudSearch's document service requires). */
#ifndef CTINDEX_HTTP_PARSE_H
#define CTINDEX_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define HTTPP_MAX_HEADERS 64
#define HTTPP_MAX_METHOD 16

typedef struct httpp_span {
    const char *p;
    size_t n;
} httpp_span;

typedef struct httpp_head {
    httpp_span method; /* e.g. "GET" */
    httpp_span target; /* request-target as sent: "/2013-01-01/search?q=x" */
    httpp_span path;   /* target up to '?' (still percent-encoded) */
    httpp_span query;  /* after '?', without it; n == 0 when none */
    int minor;         /* HTTP/1.<minor>: 0 or 1 */
    httpp_span names[HTTPP_MAX_HEADERS];
    httpp_span values[HTTPP_MAX_HEADERS]; /* without surrounding whitespace */
    unsigned nheaders;
    int64_t content_length; /* -1 when absent */
    int keep_alive;         /* the connection may carry another request after this one */
    int expect_continue;    /* "Expect: 100-continue" */
    size_t head_len;        /* bytes of the head, blank line included */
} httpp_head;

enum {
    HTTPP_OK = 0,
    HTTPP_EBAD = -1,      /* 400 malformed request line or header */
    HTTPP_ETOOLARGE = -2, /* 431 head longer than the limit, or too many headers */
    HTTPP_EVERSION = -3,  /* 505 not HTTP/1.0 or HTTP/1.1 */
    HTTPP_ELENGTH = -4,   /* 411 Transfer-Encoding without Content-Length (chunked bodies are not read) */
    HTTPP_EEXPECT = -5,   /* 417 an expectation other than 100-continue */
    HTTPP_ETARGET = -6,   /* 414 request-target too long */
};

/* Where the head in buf[0..len) ends: the offset just past the blank line (CRLF CRLF, or bare
 * LF LF), or 0 when it has not arrived yet. *scanned carries the resume point between calls
 * for the same buffer (start it at 0); bytes before it are not looked at again. */
size_t httpp_head_end(const char *buf, size_t len, size_t *scanned);

/* Parse a complete head buf[0..head_len) (as found by httpp_head_end) into h. HTTPP_OK or a
 * negative HTTPP_E* code. The target may be at most max_target bytes. */
int httpp_parse(const char *buf, size_t head_len, size_t max_target, httpp_head *h);

/* The status code to answer a parse error with (400 for unknown codes). */
int httpp_status(int err);

/* The value of header `name` (ASCII case-insensitive), or NULL. */
const httpp_span *httpp_header(const httpp_head *h, const char *name);

/* 1 when span s equals the NUL-terminated string lit (case-sensitive). */
int httpp_span_eq(httpp_span s, const char *lit);

/* Iterate over key=value pairs of a query string or a form body: *pos starts at 0; returns 1 and
 * fills key/value (raw, still percent-encoded; value.n == 0 when there is no '='), or 0 at the
 * end. Empty pairs ("a=1&&b=2") are skipped. Decode keys and values with text_pct_decode (base/text.h). */
int httpp_form_next(const char *s, size_t n, size_t *pos, httpp_span *key, httpp_span *value);

#endif
