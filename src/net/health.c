#include "net/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonw.h"
#include "base/log.h"

#define HEALTH_BODY_MAX 2048

struct health {
    http_server *srv;
    health_status_fn status;
    health_metrics_fn metrics;
    void *ud;
    char starting[256];
    buf scratch; /* the metrics body, reused */
};

static void health_answer(void *ud, http_exchange *x, const http_server_request *rq) {
    health *h = ud;
    (void)rq;
    char body[HEALTH_BODY_MAX];
    int status = 503;
    if (h->status) {
        body[0] = '\0';
        status = h->status(h->ud, body, sizeof body);
    } else {
        char reason[512];
        jsonw_text(h->starting, reason, sizeof reason);
        snprintf(body, sizeof body, "{\"status\":\"starting\",\"reason\":\"%s\"}", reason);
    }
    http_exchange_reply(x, status, "application/json", NULL, body, strlen(body));
}

static void metrics_answer(void *ud, http_exchange *x, const http_server_request *rq) {
    health *h = ud;
    (void)rq;
    if (!h->metrics) {
        static const char msg[] = "# the service is not running yet\n";
        http_exchange_reply(x, 503, "text/plain; charset=utf-8", NULL, msg, sizeof msg - 1);
        return;
    }
    buf_clear(&h->scratch);
    if (h->metrics(h->ud, &h->scratch) != 0) {
        static const char msg[] = "# the metrics do not fit in their buffer\n";
        log_warn("health endpoint: the metrics do not fit in %u bytes", HEALTH_MAX_METRICS);
        http_exchange_reply(x, 500, "text/plain; charset=utf-8", NULL, msg, sizeof msg - 1);
        return;
    }
    http_exchange_reply(x, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, h->scratch.data, h->scratch.len);
}

health *health_start(uv_loop_t *loop, const char *addr, int port) {
    health *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    snprintf(h->starting, sizeof h->starting, "the service is starting");
    buf_init(&h->scratch, HEALTH_MAX_METRICS);
    http_server_options o;
    http_server_options_default(&o);
    o.addr = addr;
    o.port = port;
    o.name = "health endpoint";
    o.max_connections = HEALTH_MAX_CONNECTIONS;
    o.max_head_bytes = 4096;
    o.idle_timeout_ms = o.request_timeout_ms = o.write_timeout_ms = HEALTH_TIMEOUT_MS;
    h->srv = http_server_start(loop, &o);
    if (!h->srv || http_server_route(h->srv, "GET", "*", 0, health_answer, h) != 0 ||
        http_server_route(h->srv, "GET", "/metrics", 0, metrics_answer, h) != 0) {
        http_server_stop(h->srv);
        buf_free(&h->scratch);
        free(h);
        return NULL;
    }
    log_info("health endpoint on http://%s:%d/ (metrics: /metrics)", addr, http_server_port(h->srv));
    return h;
}

void health_set_provider(health *h, health_status_fn status, health_metrics_fn metrics, void *ud) {
    if (!h) return;
    h->status = status;
    h->metrics = metrics;
    h->ud = ud;
}

void health_set_starting(health *h, const char *reason) {
    if (h) snprintf(h->starting, sizeof h->starting, "%s", reason);
}

http_server *health_server(health *h) { return h->srv; }

void health_stop(health *h) {
    if (!h) return;
    http_server_stop(h->srv);
    buf_free(&h->scratch);
    free(h);
}
