/* A tiny health endpoint on the loop: any GET answers 200 with a JSON status once the service is
 * ready, 503 before (the original worker answered GET / with 503 until its domain was found), so
 * load balancers and systemd-style checks can watch the process. */
#ifndef CTINDEX_HEALTH_H
#define CTINDEX_HEALTH_H

#include <uv.h>

typedef struct health health;

/* Writes a short JSON object describing the state into out (at most cap bytes). */
typedef void (*health_status_fn)(void *ud, char *out, size_t cap);

/* addr "127.0.0.1" / "0.0.0.0"; port 0 picks a free one (logged). NULL on failure. */
health *health_start(uv_loop_t *loop, const char *addr, int port, health_status_fn fn, void *ud);
void health_set_ready(health *h, int ready);
void health_stop(health *h);

#endif
