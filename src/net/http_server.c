#include "net/http_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define MAX_ROUTES 16
#define MAX_REFUSING 8 /* connections being answered 503 at once; more are closed at once */

typedef struct route {
    char method[HTTPP_MAX_METHOD + 1];
    char path[128];
    int prefix;
    size_t max_body;
    http_handler fn;
    void *ud;
} route;

enum conn_state { C_HEAD, C_BODY, C_HANDLING, C_WRITING };

typedef struct conn conn;

struct http_exchange {
    conn *c;
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    http_server *s;
    conn *prev, *next;
    int handles;     /* open uv handles; the conn is freed when 0 and not held */
    int held;        /* a handler owns the exchange */
    int closing;     /* uv_close was called */
    int refusing;    /* accepted past the cap: answered 503, then closed */
    int close_after; /* close once the response is written */
    int head_method; /* the request was HEAD: no body in the answer */
    enum conn_state state;
    uint64_t idle_since; /* loop time the connection last became idle */
    char *head;          /* max_head_bytes */
    size_t head_len, scanned;
    size_t next_off; /* in head: where the next (pipelined) request starts, once answered */
    httpp_head req;
    char *body;
    size_t body_got;
    const route *rt;
    http_exchange x;
    uv_write_t wr;
    char status_line[512];
    char *out_body;
    size_t out_len;
};

struct http_server {
    uv_tcp_t listener;
    uv_loop_t *loop;
    http_server_options o;
    char addr[64];
    char name[64];
    route routes[MAX_ROUTES];
    int nroutes;
    conn *conns; /* open connections (not closing, not refusing) */
    int nconns;
    int allocated; /* conns not yet freed, of every kind */
    int refusing;
    int listener_open;
    int stopping;
    http_server_stats st;
};

static void conn_close(conn *c);
static void conn_process(conn *c);
static void conn_resume_reading(conn *c);

void http_server_options_default(http_server_options *o) {
    memset(o, 0, sizeof *o);
    o->addr = "127.0.0.1";
    o->max_connections = 64;
    o->max_head_bytes = 16384;
    o->idle_timeout_ms = 5000;
    o->request_timeout_ms = 10000;
    o->write_timeout_ms = 10000;
    o->name = "http server";
}

const char *http_status_text(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
    }
}

static void server_maybe_free(http_server *s) {
    if (s->stopping && !s->listener_open && s->allocated == 0) free(s);
}

static void conn_free_if_done(conn *c) {
    if (c->handles > 0 || c->held) return;
    http_server *s = c->s;
    free(c->head);
    free(c->body);
    free(c->out_body);
    free(c);
    s->allocated--;
    server_maybe_free(s);
}

static void on_handle_closed(uv_handle_t *h) {
    conn *c = h->data;
    c->handles--;
    conn_free_if_done(c);
}

static void list_remove(conn *c) {
    http_server *s = c->s;
    if (c->refusing) {
        s->refusing--;
        return;
    }
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    s->nconns--;
    s->st.open = s->nconns;
}

static void conn_close(conn *c) {
    if (c->closing) return;
    c->closing = 1;
    list_remove(c);
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_timer(uv_timer_t *t);

static void arm(conn *c, unsigned ms) {
    uv_timer_stop(&c->timer);
    if (ms) uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void become_idle(conn *c) {
    c->state = C_HEAD;
    c->idle_since = uv_now(c->s->loop);
    arm(c, c->s->o.idle_timeout_ms);
}

static void on_written(uv_write_t *w, int status) {
    conn *c = w->data;
    free(c->out_body);
    c->out_body = NULL;
    if (c->closing) return;
    if (status < 0 || c->close_after || c->refusing || c->s->stopping) {
        conn_close(c);
        return;
    }
    /* Keep-alive: the next request may already be in the buffer (pipelining). */
    size_t rest = c->head_len - c->next_off;
    memmove(c->head, c->head + c->next_off, rest);
    c->head_len = rest;
    c->scanned = 0;
    c->next_off = 0;
    free(c->body);
    c->body = NULL;
    c->body_got = 0;
    c->rt = NULL;
    become_idle(c);
    if (rest) {
        arm(c, c->s->o.request_timeout_ms);
        conn_process(c);
        if (c->state != C_HEAD && c->state != C_BODY) return;
    }
    conn_resume_reading(c);
}

/* Writes status line + headers (+ body) and takes ownership of body. */
static void conn_send(conn *c, int status, const char *ctype, const char *extra, char *body, size_t len) {
    int keep = c->req.keep_alive && !c->close_after && !c->refusing && !c->s->stopping;
    if (!keep) c->close_after = 1;
    int n = snprintf(c->status_line, sizeof c->status_line,
                     "HTTP/1.1 %d %s\r\nServer: ctindex\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: %s\r\n%s\r\n",
                     status, http_status_text(status), ctype ? ctype : "text/plain; charset=utf-8", len,
                     keep ? "keep-alive" : "close", extra ? extra : "");
    if (n < 0 || (size_t)n >= sizeof c->status_line) { /* oversized extra headers: drop them */
        n = snprintf(c->status_line, sizeof c->status_line,
                     "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
                     http_status_text(status), len);
        c->close_after = 1;
    }
    c->out_body = body;
    c->out_len = len;
    uv_buf_t bufs[2] = {uv_buf_init(c->status_line, (unsigned)n), uv_buf_init(body, (unsigned)len)};
    int nb = (body && len && !c->head_method) ? 2 : 1;
    c->state = C_WRITING;
    uv_read_stop((uv_stream_t *)&c->tcp);
    arm(c, c->s->o.write_timeout_ms);
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, bufs, (unsigned)nb, on_written) != 0) {
        free(c->out_body);
        c->out_body = NULL;
        conn_close(c);
    }
}

/* A refusal from the server itself (parse errors, limits, timeouts): plain text, then close. */
static void conn_fail(conn *c, int status) {
    c->s->st.malformed += status != 408 && status != 503;
    c->close_after = 1;
    char *body = malloc(64);
    size_t len = 0;
    if (body) len = (size_t)snprintf(body, 64, "%d %s\n", status, http_status_text(status));
    conn_send(c, status, NULL, NULL, body, len);
}

static void on_timer(uv_timer_t *t) {
    conn *c = t->data;
    if (c->closing) return;
    c->s->st.timeouts++;
    if (c->state == C_BODY || (c->state == C_HEAD && c->head_len > 0)) conn_fail(c, 408); /* too slow */
    else conn_close(c); /* idle keep-alive connection, or a client that does not read its answer */
}

static const route *find_route(http_server *s, const httpp_head *h, int *method_ok) {
    *method_ok = 0;
    const route *by_path = NULL;
    for (int i = s->nroutes - 1; i >= 0; i--) { /* the most recent first: specific routes before a catch-all */
        const route *r = &s->routes[i];
        size_t pl = strlen(r->path);
        int match = r->prefix ? (h->path.n >= pl && memcmp(h->path.p, r->path, pl) == 0)
                              : (h->path.n == pl && memcmp(h->path.p, r->path, pl) == 0);
        if (!match) continue;
        if (!by_path) by_path = r;
        if (httpp_span_eq(h->method, r->method) || (httpp_span_eq(h->method, "HEAD") && !strcmp(r->method, "GET"))) {
            *method_ok = 1;
            return r;
        }
    }
    return by_path;
}

static void dispatch(conn *c) {
    http_server *s = c->s;
    c->state = C_HANDLING;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    s->st.requests++;
    c->held = 1;
    c->x.c = c;
    http_server_request rq = {&c->req, c->body ? c->body : "", c->body ? c->body_got : 0};
    c->rt->fn(c->rt->ud, &c->x, &rq);
}

/* A complete head may be in the buffer: parse it and decide what to do with the request. */
static void conn_process(conn *c) {
    http_server *s = c->s;
    size_t end = httpp_head_end(c->head, c->head_len, &c->scanned);
    if (!end) {
        if (c->head_len >= s->o.max_head_bytes) conn_fail(c, 431);
        return;
    }
    int rc = httpp_parse(c->head, end, s->o.max_head_bytes, &c->req);
    if (rc != HTTPP_OK) {
        conn_fail(c, httpp_status(rc));
        return;
    }
    c->head_method = httpp_span_eq(c->req.method, "HEAD");
    int method_ok;
    c->rt = find_route(s, &c->req, &method_ok);
    int64_t cl = c->req.content_length > 0 ? c->req.content_length : 0;
    if (!c->rt || !method_ok) {
        /* Unread body bytes would be taken for the next request: close instead. */
        if (cl) c->close_after = 1;
        s->st.malformed++;
        char body[160];
        int n = snprintf(body, sizeof body, "%d %s\n", c->rt ? 405 : 404, http_status_text(c->rt ? 405 : 404));
        char allow[64] = "";
        if (c->rt) snprintf(allow, sizeof allow, "Allow: %s\r\n", c->rt->method);
        char *copy = malloc((size_t)n);
        if (copy) memcpy(copy, body, (size_t)n);
        c->next_off = end + (size_t)cl <= c->head_len ? end + (size_t)cl : c->head_len;
        conn_send(c, c->rt ? 405 : 404, NULL, allow, copy, copy ? (size_t)n : 0);
        return;
    }
    if ((uint64_t)cl > c->rt->max_body) {
        conn_fail(c, 413);
        return;
    }
    size_t avail = c->head_len - end;
    size_t take = avail < (size_t)cl ? avail : (size_t)cl;
    c->next_off = end + take;
    if (cl) {
        c->body = malloc((size_t)cl + 1);
        if (!c->body) {
            conn_fail(c, 503);
            return;
        }
        memcpy(c->body, c->head + end, take);
        c->body_got = take;
        c->body[cl] = '\0';
        if (take < (size_t)cl) {
            c->state = C_BODY;
            if (c->req.expect_continue) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                uv_buf_t b = uv_buf_init((char *)cont, sizeof cont - 1);
                uv_try_write((uv_stream_t *)&c->tcp, &b, 1); /* best effort: the client sends anyway after a while */
            }
            return;
        }
    }
    dispatch(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    conn *c = h->data;
    (void)suggested;
    if (c->state == C_BODY) {
        b->base = c->body + c->body_got;
        b->len = (size_t)c->req.content_length - c->body_got;
    } else {
        b->base = c->head + c->head_len;
        b->len = c->s->o.max_head_bytes - c->head_len;
    }
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
    conn *c = st->data;
    (void)b;
    if (c->closing) return;
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n == 0) return;
    if (c->state == C_BODY) {
        c->body_got += (size_t)n;
        if (c->body_got == (size_t)c->req.content_length) dispatch(c);
        return;
    }
    if (c->state != C_HEAD) return;
    if (c->head_len == 0) arm(c, c->s->o.request_timeout_ms); /* the clock of a request starts */
    c->head_len += (size_t)n;
    conn_process(c);
}

/* After an answer was written (keep-alive): read the next request. */
static void conn_resume_reading(conn *c) {
    if (!c->closing && (c->state == C_HEAD || c->state == C_BODY))
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void reply_common(http_exchange *x, int status, const char *ctype, const char *headers, char *body, size_t len) {
    conn *c = x->c;
    c->held = 0;
    if (c->closing) {
        free(body);
        conn_free_if_done(c);
        return;
    }
    conn_send(c, status, ctype, headers, body, len);
}

void http_exchange_reply_owned(http_exchange *x, int status, const char *content_type, const char *headers, char *body,
                               size_t len) {
    reply_common(x, status, content_type, headers, body, body ? len : 0);
}

void http_exchange_reply(http_exchange *x, int status, const char *content_type, const char *headers, const void *body,
                         size_t len) {
    char *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (copy) memcpy(copy, body, len);
        else len = 0;
    }
    reply_common(x, status, content_type, headers, copy, len);
}

static conn *oldest_idle(http_server *s) {
    conn *best = NULL;
    for (conn *c = s->conns; c; c = c->next)
        if (c->state == C_HEAD && c->head_len == 0 && (!best || c->idle_since < best->idle_since)) best = c;
    return best;
}

static void on_connection(uv_stream_t *server, int status) {
    http_server *s = server->data;
    if (status < 0 || s->stopping) return;
    conn *c = calloc(1, sizeof *c);
    char *head = c ? malloc(s->o.max_head_bytes) : NULL;
    if (!head) {
        free(c);
        return; /* libuv keeps the pending connection; it is retried on the next one */
    }
    c->head = head;
    c->s = s;
    s->allocated++;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->req.keep_alive = 1;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        c->refusing = 1; /* never listed */
        s->refusing++;
        conn_close(c);
        return;
    }
    s->st.accepted++;
    if (s->nconns >= s->o.max_connections) {
        conn *victim = oldest_idle(s);
        if (victim) {
            s->st.evicted++;
            conn_close(victim);
        } else {
            c->refusing = 1;
            s->refusing++;
            s->st.refused++;
            if (s->refusing > MAX_REFUSING) conn_close(c);
            else conn_fail(c, 503);
            return;
        }
    }
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    s->st.open = s->nconns;
    become_idle(c);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) conn_close(c);
}

static void on_listener_closed(uv_handle_t *h) {
    http_server *s = h->data;
    s->listener_open = 0;
    server_maybe_free(s);
}

http_server *http_server_start(uv_loop_t *loop, const http_server_options *o) {
    http_server *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    http_server_options_default(&s->o);
    if (o) s->o = *o;
    http_server_options d;
    http_server_options_default(&d);
    if (!s->o.addr) s->o.addr = d.addr;
    if (!s->o.name) s->o.name = d.name;
    if (s->o.max_connections <= 0) s->o.max_connections = d.max_connections;
    if (s->o.max_head_bytes < 256) s->o.max_head_bytes = d.max_head_bytes;
    snprintf(s->addr, sizeof s->addr, "%s", s->o.addr);
    snprintf(s->name, sizeof s->name, "%s", s->o.name);
    s->o.addr = s->addr;
    s->o.name = s->name;
    s->loop = loop;
    struct sockaddr_storage sa;
    if (uv_ip4_addr(s->addr, s->o.port, (struct sockaddr_in *)&sa) != 0 &&
        uv_ip6_addr(s->addr, s->o.port, (struct sockaddr_in6 *)&sa) != 0) {
        log_error("%s: bad address %s", s->name, s->addr);
        free(s);
        return NULL;
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->listener_open = 1;
    int rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&sa, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&s->listener, 128, on_connection);
    if (rc != 0) {
        log_error("%s: cannot listen on %s:%d: %s", s->name, s->addr, s->o.port, uv_strerror(rc));
        s->stopping = 1;
        uv_close((uv_handle_t *)&s->listener, on_listener_closed);
        return NULL;
    }
    return s;
}

int http_server_route(http_server *s, const char *method, const char *path, size_t max_body, http_handler fn,
                      void *ud) {
    if (s->nroutes >= MAX_ROUTES || strlen(method) > HTTPP_MAX_METHOD || strlen(path) >= sizeof s->routes[0].path)
        return -1;
    route *r = &s->routes[s->nroutes++];
    snprintf(r->method, sizeof r->method, "%s", method);
    size_t pl = strlen(path);
    r->prefix = pl > 0 && path[pl - 1] == '*';
    snprintf(r->path, sizeof r->path, "%.*s", (int)(r->prefix ? pl - 1 : pl), path);
    r->max_body = max_body;
    r->fn = fn;
    r->ud = ud;
    return 0;
}

int http_server_port(const http_server *s) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) != 0) return -1;
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void http_server_get_stats(const http_server *s, http_server_stats *out) { *out = s->st; }

void http_server_stop(http_server *s) {
    if (!s || s->stopping) return;
    s->stopping = 1;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    while (s->conns) conn_close(s->conns);
}
