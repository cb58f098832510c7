/* A tiny health endpoint on the loop. GET / (any path but /metrics) answers with the status the
 * service gives (200 when work flows, 503 with a JSON reason when it does not) and, before the
 * service says anything, 503 {"status":"starting"} (the original worker answered GET / with 503
 * until its domain was found), so load balancers and systemd-style checks can watch the process.
 * GET /metrics answers the service's metrics in Prometheus text format (503 before the service
 * runs). It runs on net/http_server, so its connections are capped and time out (idle, slow
 * request, slow reader): clients of the health port can never take the file descriptors the
 * engine needs for S3, SQS and the sink. */
#ifndef CTINDEX_HEALTH_H
#define CTINDEX_HEALTH_H

#include <uv.h>

#include "base/buf.h"
#include "net/http_server.h"

typedef struct health health;

/* The service's state: writes a JSON object (at most cap bytes, NUL-terminated) and returns the
 * HTTP status, 200 or 503. */
typedef int (*health_status_fn)(void *ud, char *out, size_t cap);
/* The metrics, Prometheus text format 0.0.4, appended to out (bounded). 0, or -1 when they could
 * not be written whole. */
typedef int (*health_metrics_fn)(void *ud, buf *out);

/* The limits of the health port: few connections, short clocks. */
#define HEALTH_MAX_CONNECTIONS 32
#define HEALTH_TIMEOUT_MS 5000
#define HEALTH_MAX_METRICS (1u << 20)

/* addr "127.0.0.1" / "0.0.0.0"; port 0 picks a free one (logged). NULL on failure. */
health *health_start(uv_loop_t *loop, const char *addr, int port);
/* Who answers from now on (the service, while it runs): status for GET /, metrics for GET
 * /metrics (either may be NULL). All NULL: back to "starting" (call it before ud goes away). */
void health_set_provider(health *h, health_status_fn status, health_metrics_fn metrics, void *ud);
/* What GET / says while no provider is set: 503 {"status":"starting","reason":REASON}. */
void health_set_starting(health *h, const char *reason);
/* The server under the endpoint, to add routes before the catch-all status route, e.g.
 * http_server_route(health_server(h), "GET", "/x", 0, fn, ud). Routes added later are tried
 * first. */
http_server *health_server(health *h);
void health_stop(health *h);

#endif
