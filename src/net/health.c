#include "net/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

struct health {
    http_server *srv;
    int ready;
    health_status_fn fn;
    void *ud;
};

static void health_answer(void *ud, http_exchange *x, const http_server_request *rq) {
    health *h = ud;
    (void)rq;
    char body[1536] = "{}";
    if (h->fn) h->fn(h->ud, body, sizeof body);
    http_exchange_reply(x, h->ready ? 200 : 503, "application/json", NULL, body, strlen(body));
}

health *health_start(uv_loop_t *loop, const char *addr, int port, health_status_fn fn, void *ud) {
    health *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->fn = fn;
    h->ud = ud;
    http_server_options o;
    http_server_options_default(&o);
    o.addr = addr;
    o.port = port;
    o.name = "health endpoint";
    o.max_connections = HEALTH_MAX_CONNECTIONS;
    o.max_head_bytes = 4096;
    o.idle_timeout_ms = o.request_timeout_ms = o.write_timeout_ms = HEALTH_TIMEOUT_MS;
    h->srv = http_server_start(loop, &o);
    if (!h->srv || http_server_route(h->srv, "GET", "*", 0, health_answer, h) != 0) {
        http_server_stop(h->srv);
        free(h);
        return NULL;
    }
    log_info("health endpoint on http://%s:%d/", addr, http_server_port(h->srv));
    return h;
}

void health_set_ready(health *h, int ready) {
    if (h) h->ready = ready;
}

http_server *health_server(health *h) { return h->srv; }

void health_stop(health *h) {
    if (!h) return;
    http_server_stop(h->srv);
    free(h);
}
