/* A tiny health endpoint on the loop: any GET answers 200 with a JSON status once the service is
 * ready, 503 before (the original worker answered GET / with 503 until its domain was found), so
 * load balancers and systemd-style checks can watch the process. It runs on net/http_server, so
 * its connections are capped and time out (idle, slow request, slow reader): clients of the
 * health port can never take the file descriptors the engine needs for S3, SQS and the sink. */
#ifndef CTINDEX_HEALTH_H
#define CTINDEX_HEALTH_H

#include <uv.h>

#include "net/http_server.h"

typedef struct health health;

/* Writes a short JSON object describing the state into out (at most cap bytes). */
typedef void (*health_status_fn)(void *ud, char *out, size_t cap);

/* The limits of the health port: few connections, short clocks. */
#define HEALTH_MAX_CONNECTIONS 32
#define HEALTH_TIMEOUT_MS 5000

/* addr "127.0.0.1" / "0.0.0.0"; port 0 picks a free one (logged). NULL on failure. */
health *health_start(uv_loop_t *loop, const char *addr, int port, health_status_fn fn, void *ud);
void health_set_ready(health *h, int ready);
/* The server under the endpoint, to add routes before the catch-all status route, e.g.
 * http_server_route(health_server(h), "GET", "/metrics", 0, fn, ud). Routes added later are
 * tried first. */
http_server *health_server(health *h);
void health_stop(health *h);

#endif
