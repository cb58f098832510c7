#include "net/retry_timer.h"

#include <stddef.h>

int retry_timer_init(uv_loop_t *loop, retry_timer *t) {
    t->fire = NULL;
    t->ud = NULL;
    t->closed = NULL;
    t->last_delay_ms = 0;
    int rc = uv_timer_init(loop, &t->timer);
    t->timer.data = t;
    return rc;
}

static void on_retry_timer(uv_timer_t *h) {
    retry_timer *t = h->data;
    void (*fire)(void *) = t->fire;
    t->fire = NULL; /* fire may re-arm */
    if (fire) fire(t->ud);
}

int retry_timer_start(retry_timer *t, uint64_t delay_ms, void (*fire)(void *ud), void *ud) {
    t->fire = fire;
    t->ud = ud;
    t->last_delay_ms = delay_ms;
    return uv_timer_start(&t->timer, on_retry_timer, delay_ms, 0);
}

int retry_timer_schedule(retry_timer *t, const retry_policy *p, int retry, void (*fire)(void *ud), void *ud) {
    return retry_timer_start(t, retry_backoff_ms(p, retry), fire, ud);
}

void retry_timer_stop(retry_timer *t) {
    t->fire = NULL;
    uv_timer_stop(&t->timer);
}

int retry_timer_pending(const retry_timer *t) {
    return t->fire != NULL && uv_is_active((const uv_handle_t *)&t->timer);
}

static void on_retry_timer_closed(uv_handle_t *h) {
    retry_timer *t = h->data;
    if (t->closed) t->closed(t);
}

void retry_timer_close(retry_timer *t, void (*closed)(retry_timer *t)) {
    retry_timer_stop(t);
    t->closed = closed;
    uv_close((uv_handle_t *)&t->timer, on_retry_timer_closed);
}
