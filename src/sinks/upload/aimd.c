#include "sinks/upload/aimd.h"

#include <math.h>
#include <string.h>

void aimd_init(aimd *a, const aimd_options *o) {
    memset(a, 0, sizeof *a);
    a->o = *o;
    if (a->o.max < 1) a->o.max = 1;
    if (a->o.initial < 1) a->o.initial = 1;
    if (a->o.initial > a->o.max) a->o.initial = a->o.max;
    if (!(a->o.decrease_ratio > 0 && a->o.decrease_ratio < 1)) a->o.decrease_ratio = 0.9;
    if (!(a->o.throttle_ratio > 0 && a->o.throttle_ratio < 1)) a->o.throttle_ratio = 0.5;
    if (!(a->o.ewma_alpha > 0 && a->o.ewma_alpha <= 1)) a->o.ewma_alpha = 0.4;
    if (!(a->o.deviation_scale > 0)) a->o.deviation_scale = 2.5;
    if (!(a->o.min_rise > 0)) a->o.min_rise = 0.25;
    if (a->o.min_window_ms == 0) a->o.min_window_ms = 50;
    if (a->o.ceiling_windows <= 0) a->o.ceiling_windows = 60;
    a->limit = a->o.initial;
}

void aimd_reset(aimd *a) {
    aimd_options o = a->o;
    uint64_t inc = a->increases, dec = a->decreases, undone = a->undone;
    aimd_init(a, &o);
    a->increases = inc;
    a->decreases = dec;
    a->undone = undone;
}

void aimd_sent(aimd *a, int in_flight) {
    if (in_flight >= a->limit) a->reached_limit = 1;
}

/* limit * ratio, rounded down, but at least one less and at least 1. */
static void cut(aimd *a, double ratio) {
    int next = (int)floor((double)a->limit * ratio);
    if (next >= a->limit) next = a->limit - 1;
    a->limit = next < 1 ? 1 : next;
    a->decreases++;
    a->grew_from = 0; /* a cut ends any check */
}

static void new_window(aimd *a, uint64_t now_ms) {
    double len = a->have_baseline ? a->base_mean : 0;
    uint64_t ms = len > (double)a->o.min_window_ms ? (uint64_t)len : a->o.min_window_ms;
    a->window_end_ms = now_ms + ms;
    a->sum_ms = 0;
    a->n = 0;
    a->reached_limit = a->pushed_back = a->cut_this_window = 0;
}

/* EWMA of mean and variance (West's incremental form). */
static void learn(aimd *a, double mean) {
    double diff = mean - a->base_mean, incr = a->o.ewma_alpha * diff;
    a->base_mean += incr;
    a->base_var = (1 - a->o.ewma_alpha) * (a->base_var + diff * incr);
}

/* The second window after a growth (the first mostly answers requests sent before it): did the
 * extra request buy throughput? 1 when the growth was undone. */
static int check_growth(aimd *a, double mean) {
    if (a->grow_wait-- > 0) return 0;
    int from = a->grew_from;
    a->grew_from = 0;
    if (!a->reached_limit || a->limit != from + 1) return 0; /* no evidence either way */
    double before = (double)from / a->grew_from_lat, after = (double)a->limit / mean;
    if (after >= before * (1.0 + 0.5 / from)) return 0;
    a->limit = from; /* it only queued in the service */
    a->ceiling = from + 1;
    a->ceiling_left = a->o.ceiling_windows;
    a->undone++;
    return 1;
}

static void grow(aimd *a, double mean) {
    if (a->limit >= a->o.max || (a->ceiling && a->limit + 1 >= a->ceiling)) return;
    a->grew_from = a->limit;
    a->grew_from_lat = mean;
    a->grow_wait = 1;
    a->limit++;
    a->increases++;
}

static void close_window(aimd *a, uint64_t now_ms) {
    if (a->ceiling && --a->ceiling_left <= 0) a->ceiling = 0;
    if (a->n > 0) {
        double mean = a->sum_ms / a->n;
        if (!a->have_baseline) {
            a->have_baseline = 1;
            a->base_mean = mean;
            a->base_var = 0;
        } else {
            double spread = a->o.deviation_scale * sqrt(a->base_var), rise = a->o.min_rise * a->base_mean;
            if (mean > a->base_mean + (spread > rise ? spread : rise)) {
                /* Congested: requests queue in the service. Cut, and keep this window out of the
                 * baseline, which must stay the latency of a service that is not overloaded; at
                 * a limit of 1 there is nothing to cut, and the service is slower for good:
                 * learn it. */
                if (a->limit > 1 && !a->cut_this_window) cut(a, a->o.decrease_ratio);
                else if (a->limit == 1) learn(a, mean);
            } else if (a->grew_from) {
                if (!check_growth(a, mean)) learn(a, mean); /* an undone growth's window was congested */
            } else {
                if (!a->pushed_back && a->reached_limit && mean <= a->base_mean) grow(a, mean);
                learn(a, mean);
            }
        }
    }
    new_window(a, now_ms);
}

int aimd_answer(aimd *a, uint64_t now_ms, double latency_ms, int accepted, int throttled) {
    if (a->window_end_ms == 0) new_window(a, now_ms);
    else if (now_ms >= a->window_end_ms) close_window(a, now_ms); /* this answer starts the next window */
    if (throttled) {
        a->pushed_back = 1;
        if (!a->cut_this_window) {
            if (a->limit > 1) cut(a, a->o.throttle_ratio);
            /* A new window: answers to requests sent before the cut say nothing about the new limit. */
            new_window(a, now_ms);
            a->pushed_back = a->cut_this_window = 1;
        }
    } else if (accepted && latency_ms >= 0) {
        a->sum_ms += latency_ms;
        a->n++;
    }
    return a->limit;
}
