#include "net/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define REQ_MAX 4096

struct health {
    uv_tcp_t server;
    int ready;
    int port;
    health_status_fn fn;
    void *ud;
};

typedef struct health_conn {
    uv_tcp_t tcp;
    health *h;
    char req[REQ_MAX];
    size_t len;
    uv_write_t wr;
    char resp[2048];
    int answered;
} health_conn;

static void conn_closed(uv_handle_t *h) { free(h->data); }

static void conn_close(health_conn *c) {
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void on_written(uv_write_t *w, int status) {
    (void)status;
    conn_close(w->data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    health_conn *c = h->data;
    (void)suggested;
    b->base = c->req + c->len;
    b->len = REQ_MAX - 1 - c->len;
}

static void answer(health_conn *c) {
    c->answered = 1;
    char body[1536] = "{}";
    if (c->h->fn) c->h->fn(c->h->ud, body, sizeof body);
    int ok = c->h->ready;
    int n =
        snprintf(c->resp, sizeof c->resp,
                 "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 ok ? "200 OK" : "503 Service Unavailable", strlen(body), body);
    if (n < 0 || (size_t)n >= sizeof c->resp) n = (int)strlen(c->resp);
    uv_buf_t b = uv_buf_init(c->resp, (unsigned)n);
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    health_conn *c = s->data;
    (void)b;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    c->req[c->len] = '\0';
    if (c->answered) return;
    if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
        uv_read_stop(s);
        answer(c);
    } else if (c->len >= REQ_MAX - 1) {
        conn_close(c); /* an oversized request gets no answer */
    }
}

static void on_connection(uv_stream_t *server, int status) {
    health *h = server->data;
    if (status < 0) return;
    health_conn *c = calloc(1, sizeof *c);
    if (!c) return;
    c->h = h;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c);
}

health *health_start(uv_loop_t *loop, const char *addr, int port, health_status_fn fn, void *ud) {
    health *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->fn = fn;
    h->ud = ud;
    struct sockaddr_in sa;
    if (uv_ip4_addr(addr, port, &sa) != 0) {
        log_error("health endpoint: bad address %s", addr);
        free(h);
        return NULL;
    }
    uv_tcp_init(loop, &h->server);
    h->server.data = h;
    int rc = uv_tcp_bind(&h->server, (const struct sockaddr *)&sa, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&h->server, 64, on_connection);
    if (rc != 0) {
        log_error("health endpoint: cannot listen on %s:%d: %s", addr, port, uv_strerror(rc));
        uv_close((uv_handle_t *)&h->server, conn_closed);
        h->server.data = h;
        return NULL;
    }
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&h->server, (struct sockaddr *)&ss, &len);
    h->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    log_info("health endpoint on http://%s:%d/", addr, h->port);
    return h;
}

void health_set_ready(health *h, int ready) {
    if (h) h->ready = ready;
}

void health_stop(health *h) {
    if (h) uv_close((uv_handle_t *)&h->server, conn_closed);
}
