/* A small HTTP/1.1 server on libuv for tests and benches (127.0.0.1, port 0). Keep-alive
 * always; requests are served by path:
 *   /hello           200 "hello world" with X-Test-Header: Value-42, Content-Type: text/plain
 *   /echo            any method: 200 "len=N sum=XXXXXXXX cl=C chunked=K expect=E method=M ctype=T"
 *                    (N body bytes, FNV-1a of them, C = Content-Length header seen)
 *   /flaky           500 with an XML InternalError, then 200 "recovered", alternating
 *   /throttle        400 {"__type":"com.amazonaws.sqs#ThrottlingException",...}
 *   /cutoff          headers promise 1000 bytes, 100 are sent, then the connection closes
 *   /stall           never answers
 *   /bytes/N         200 with N pattern bytes (ts_pattern), written as fast as possible
 *   /slow/N          same, 64 KiB per write with a 1 ms pause between writes
 *   /delay/MS        200 "delayed" after MS milliseconds
 *   /retry-after/S   429 with Retry-After: S, then 200 "ok", alternating
 *   /load/MS/CAP     200 "loaded" after MS milliseconds while at most CAP such requests are being
 *                    answered, MS * (1 + active - CAP) beyond: latency that grows with load
 * The server counts accepted connections and requests. Chunked request bodies get 411. */
#ifndef CTINDEX_HTTP_TEST_SERVER_H
#define CTINDEX_HTTP_TEST_SERVER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define TS_CHUNK (64 * 1024)

static inline uint8_t ts_pattern(uint64_t i) { return (uint8_t)(i * 131u + (i >> 12) * 7u + (i >> 20)); }

static inline uint32_t ts_fnv(uint32_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    return h;
}
#define TS_FNV_INIT 2166136261u

typedef struct ts_server ts_server;

typedef struct ts_conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* paces /slow */
    ts_server *s;
    struct ts_conn *prev, *next;
    int handles; /* open uv handles; freed at 0 */
    int closing;
    char hdr[8192];
    size_t hlen;
    char method[16];
    char path[256];
    int in_body;
    uint64_t body_left, body_len;
    uint32_t body_sum;
    int had_cl, chunked, expect, conn_close;
    char ctype[64]; /* request Content-Type, "" when absent */
    int busy;       /* a response is being produced; further input waits (curl does not pipeline) */
    int stalled;    /* /stall: ignore everything */
    uint64_t stream_left, stream_pos;
    int stream_slow;
    int loaded; /* this connection's request counts in s->loaded */
} ts_conn;

struct ts_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int port;
    int accepted;
    int requests;
    int flaky_hits;
    int retry_after_hits;
    int listener_open;
    int loaded;     /* /load requests being answered */
    int max_loaded; /* the most at once */
    ts_conn *conns;
    char rbuf[TS_CHUNK];
    uint64_t ignored_bytes;
};

typedef struct ts_write {
    uv_write_t req;
    ts_conn *conn;
    int close_after;
    int continue_stream;
    char data[];
} ts_write;

static inline void ts_conn_close(ts_conn *c);
static inline void ts_stream_next(ts_conn *c);
static inline void ts_feed(ts_conn *c, const char *p, size_t n);

static inline void ts_conn_handle_closed(uv_handle_t *h) {
    ts_conn *c = h->data;
    if (--c->handles == 0) free(c);
}

static inline void ts_conn_close(ts_conn *c) {
    if (c->closing) return;
    c->closing = 1;
    ts_server *s = c->s;
    if (c->loaded) s->loaded--;
    c->loaded = 0;
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, ts_conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, ts_conn_handle_closed);
}

static inline void ts_on_pace(uv_timer_t *t) { ts_stream_next(t->data); }

static inline void ts_on_written(uv_write_t *req, int status) {
    ts_write *w = (ts_write *)req;
    ts_conn *c = w->conn;
    int close_after = w->close_after, cont = w->continue_stream;
    free(w);
    if (c->closing) return;
    if (status < 0 || close_after) {
        ts_conn_close(c);
        return;
    }
    if (cont) {
        if (c->stream_slow) uv_timer_start(&c->timer, ts_on_pace, 1, 0);
        else ts_stream_next(c);
    }
}

/* Queue bytes (copied). Returns the write so the caller can flag it before it completes. */
static inline ts_write *ts_send(ts_conn *c, const void *p, size_t n, int close_after) {
    ts_write *w = malloc(sizeof *w + (n ? n : 1));
    if (!w) abort();
    w->conn = c;
    w->close_after = close_after;
    w->continue_stream = 0;
    memcpy(w->data, p, n);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, ts_on_written) != 0) {
        free(w);
        ts_conn_close(c);
        return NULL;
    }
    return w;
}

static inline void ts_request_done(ts_conn *c) {
    c->busy = 0;
    c->hlen = 0;
}

static inline void ts_reply(ts_conn *c, int status, const char *reason, const char *extra_headers, const char *body,
                            size_t blen) {
    char head[1024];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s%s\r\n", status, reason, blen,
                     extra_headers ? extra_headers : "", c->conn_close ? "Connection: close\r\n" : "");
    size_t total = (size_t)n + blen;
    char *all = malloc(total ? total : 1);
    if (!all) abort();
    memcpy(all, head, (size_t)n);
    if (blen) memcpy(all + n, body, blen);
    ts_send(c, all, total, c->conn_close);
    free(all);
    ts_request_done(c);
}

static inline void ts_stream_next(ts_conn *c) {
    if (c->closing) return;
    if (c->stream_left == 0) {
        ts_request_done(c);
        return;
    }
    size_t n = c->stream_left < TS_CHUNK ? (size_t)c->stream_left : TS_CHUNK;
    char chunk[TS_CHUNK];
    for (size_t i = 0; i < n; i++) chunk[i] = (char)ts_pattern(c->stream_pos + i);
    c->stream_pos += n;
    c->stream_left -= n;
    ts_write *w = ts_send(c, chunk, n, 0);
    if (w) w->continue_stream = 1; /* next chunk once this one is written */
}

static inline void ts_on_delay(uv_timer_t *t) {
    ts_conn *c = t->data;
    if (c->loaded) {
        c->loaded = 0;
        c->s->loaded--;
        ts_reply(c, 200, "OK", "Content-Type: text/plain\r\n", "loaded", 6);
    } else {
        ts_reply(c, 200, "OK", "Content-Type: text/plain\r\n", "delayed", 7);
    }
}

static inline void ts_respond(ts_conn *c) {
    ts_server *s = c->s;
    s->requests++;
    const char *path = c->path;
    if (strcmp(path, "/hello") == 0) {
        ts_reply(c, 200, "OK", "Content-Type: text/plain\r\nX-Test-Header:   Value-42  \r\n", "hello world", 11);
    } else if (strcmp(path, "/echo") == 0) {
        char body[256];
        int n = snprintf(body, sizeof body, "len=%llu sum=%08x cl=%d chunked=%d expect=%d method=%s ctype=%s",
                         (unsigned long long)c->body_len, c->body_sum, c->had_cl, c->chunked, c->expect, c->method,
                         c->ctype);
        ts_reply(c, 200, "OK", "Content-Type: text/plain\r\n", body, (size_t)n);
    } else if (strcmp(path, "/flaky") == 0) {
        if (s->flaky_hits++ % 2 == 0) {
            const char *x =
                "<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>try again</Message></Error>";
            ts_reply(c, 500, "Internal Server Error", "Content-Type: application/xml\r\n", x, strlen(x));
        } else {
            ts_reply(c, 200, "OK", NULL, "recovered", 9);
        }
    } else if (strcmp(path, "/throttle") == 0) {
        const char *j = "{\"__type\":\"com.amazonaws.sqs#ThrottlingException\",\"message\":\"Rate exceeded\"}";
        ts_reply(c, 400, "Bad Request", "Content-Type: application/x-amz-json-1.0\r\n", j, strlen(j));
    } else if (strcmp(path, "/cutoff") == 0) {
        char msg[200];
        int n = snprintf(msg, sizeof msg, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        memset(msg + n, 'x', 100);
        ts_send(c, msg, (size_t)n + 100, 1);
        c->busy = 1;
    } else if (strncmp(path, "/retry-after/", 13) == 0) {
        if (s->retry_after_hits++ % 2 == 0) {
            char h[64];
            snprintf(h, sizeof h, "Retry-After: %d\r\n", atoi(path + 13));
            ts_reply(c, 429, "Too Many Requests", h, "slow down", 9);
        } else {
            ts_reply(c, 200, "OK", NULL, "ok", 2);
        }
    } else if (strncmp(path, "/delay/", 7) == 0) {
        uv_timer_start(&c->timer, ts_on_delay, strtoull(path + 7, NULL, 10), 0);
    } else if (strncmp(path, "/load/", 6) == 0) {
        char *end = NULL;
        uint64_t ms = strtoull(path + 6, &end, 10);
        int cap = end && *end == '/' ? atoi(end + 1) : 1;
        c->loaded = 1;
        if (++s->loaded > s->max_loaded) s->max_loaded = s->loaded;
        uint64_t over = s->loaded > cap ? (uint64_t)(s->loaded - cap) : 0;
        uv_timer_start(&c->timer, ts_on_delay, ms * (1 + over), 0);
    } else if (strcmp(path, "/stall") == 0) {
        c->stalled = 1;
    } else if (strncmp(path, "/bytes/", 7) == 0 || strncmp(path, "/slow/", 6) == 0) {
        int slow = path[1] == 's';
        uint64_t n = strtoull(path + (slow ? 6 : 7), NULL, 10);
        char head[128];
        int hn = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n\r\n", (unsigned long long)n);
        c->stream_left = n;
        c->stream_pos = 0;
        c->stream_slow = slow;
        ts_write *w = ts_send(c, head, (size_t)hn, 0);
        if (w) w->continue_stream = 1;
    } else {
        ts_reply(c, 404, "Not Found", NULL, "no such path", 12);
    }
}

/* The request head is complete in c->hdr[0..hlen). */
static inline void ts_parse_head(ts_conn *c) {
    c->hdr[c->hlen] = '\0';
    c->body_len = c->body_left = 0;
    c->body_sum = TS_FNV_INIT;
    c->had_cl = c->chunked = c->expect = c->conn_close = 0;
    c->method[0] = c->path[0] = c->ctype[0] = '\0';
    if (sscanf(c->hdr, "%15s %255s", c->method, c->path) != 2) {
        c->conn_close = 1;
        ts_reply(c, 400, "Bad Request", NULL, "", 0);
        return;
    }
    char *line = strstr(c->hdr, "\r\n");
    while (line && line[2] != '\r') {
        line += 2;
        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            c->had_cl = 1;
            c->body_len = c->body_left = strtoull(line + 15, NULL, 10);
        } else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 && strstr(line, "chunked")) {
            c->chunked = 1;
        } else if (strncasecmp(line, "Content-Type:", 13) == 0) {
            sscanf(line + 13, " %63[^\r]", c->ctype);
        } else if (strncasecmp(line, "Expect:", 7) == 0 && strstr(line, "100")) {
            c->expect = 1;
        } else if (strncasecmp(line, "Connection:", 11) == 0 && strstr(line, "close")) {
            c->conn_close = 1;
        }
        line = strstr(line, "\r\n");
    }
    c->busy = 1;
    if (c->chunked) { /* the client under test must never send chunked bodies */
        c->conn_close = 1;
        ts_reply(c, 411, "Length Required", NULL, "chunked", 7);
        return;
    }
    if (c->expect) ts_send(c, "HTTP/1.1 100 Continue\r\n\r\n", 25, 0);
    if (c->body_left > 0) c->in_body = 1;
    else ts_respond(c);
}

static inline void ts_feed(ts_conn *c, const char *p, size_t n) {
    while (n > 0 && !c->closing) {
        if (c->stalled || (c->busy && !c->in_body)) {
            c->s->ignored_bytes += n;
            return;
        }
        if (c->in_body) {
            size_t take = c->body_left < n ? (size_t)c->body_left : n;
            c->body_sum = ts_fnv(c->body_sum, p, take);
            c->body_left -= take;
            p += take;
            n -= take;
            if (c->body_left == 0) {
                c->in_body = 0;
                ts_respond(c);
            }
            continue;
        }
        if (c->hlen >= sizeof c->hdr - 1) {
            c->conn_close = 1;
            c->busy = 1;
            ts_reply(c, 431, "Request Header Fields Too Large", NULL, "", 0);
            return;
        }
        c->hdr[c->hlen++] = *p++;
        n--;
        if (c->hlen >= 4 && memcmp(c->hdr + c->hlen - 4, "\r\n\r\n", 4) == 0) ts_parse_head(c);
    }
}

static inline void ts_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    (void)suggested;
    ts_conn *c = h->data;
    *b = uv_buf_init(c->s->rbuf, sizeof c->s->rbuf);
}

static inline void ts_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b) {
    ts_conn *c = st->data;
    if (nread < 0) {
        ts_conn_close(c);
        return;
    }
    ts_feed(c, b->base, (size_t)nread);
}

static inline void ts_on_connection(uv_stream_t *l, int status) {
    ts_server *s = l->data;
    if (status < 0) return;
    ts_conn *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->s = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->timer, ts_conn_handle_closed);
        uv_close((uv_handle_t *)&c->tcp, ts_conn_handle_closed);
        return;
    }
    s->accepted++;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    uv_read_start((uv_stream_t *)&c->tcp, ts_alloc, ts_on_read);
}

/* 0 on success; s->port holds the port. */
static inline int ts_server_start(ts_server *s, uv_loop_t *loop) {
    memset(s, 0, sizeof *s);
    s->loop = loop;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    if (uv_tcp_init(loop, &s->listener) != 0) return -1;
    s->listener.data = s;
    s->listener_open = 1;
    if (uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0) != 0) return -1;
    if (uv_listen((uv_stream_t *)&s->listener, 128, ts_on_connection) != 0) return -1;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

/* Close the listener and every connection (their handles close on the next loop turns). */
static inline void ts_server_stop(ts_server *s) {
    if (s->listener_open) {
        s->listener_open = 0;
        uv_close((uv_handle_t *)&s->listener, NULL);
    }
    while (s->conns) ts_conn_close(s->conns);
}

static inline void ts_url(const ts_server *s, char *out, size_t cap, const char *path) {
    snprintf(out, cap, "http://127.0.0.1:%d%s", s->port, path);
}

#endif
