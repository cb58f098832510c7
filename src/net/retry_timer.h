/* A uv timer for "try this request again in N ms", embedded in the caller's request state.
 * retry_timer_schedule() computes the backoff for the given retry and arms the timer. */
#ifndef CTINDEX_RETRY_TIMER_H
#define CTINDEX_RETRY_TIMER_H

#include <uv.h>

#include "net/retry.h"

typedef struct retry_timer {
    uv_timer_t timer;
    void (*fire)(void *ud);
    void *ud;
    void (*closed)(struct retry_timer *t);
    uint64_t last_delay_ms;
} retry_timer;

int retry_timer_init(uv_loop_t *loop, retry_timer *t);
/* Arm: fire(ud) runs once after delay_ms (re-arming replaces the previous schedule). */
int retry_timer_start(retry_timer *t, uint64_t delay_ms, void (*fire)(void *ud), void *ud);
/* Arm with retry_backoff_ms(p, retry); the chosen delay is kept in t->last_delay_ms. */
int retry_timer_schedule(retry_timer *t, const retry_policy *p, int retry, void (*fire)(void *ud), void *ud);
void retry_timer_stop(retry_timer *t);
int retry_timer_pending(const retry_timer *t);
/* Stop and close; closed(t) (may be NULL) runs from the loop once t's memory may be freed. */
void retry_timer_close(retry_timer *t, void (*closed)(retry_timer *t));

#endif
