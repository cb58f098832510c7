/* Adaptive upload concurrency: how many requests a sink gets at once, learned from its answers.
 * The shape is Vector's adaptive request concurrency (ARC), written for ctindex: additive
 * increase, multiplicative decrease, judged once per observation window.
 *
 * - A window lasts about one mean round trip (the baseline, below; at least min_window_ms). In
 *   it, the latencies of accepted requests are averaged, and it is noted whether the service
 *   pushed back (a throttling answer) and whether requests ever filled the limit.
 * - At the end of a window: if the limit was reached, nothing pushed back and the window's mean
 *   latency is at or below the baseline, the limit grows by one (never past max). If the mean
 *   latency rose well above the baseline (more than deviation_scale standard deviations and more
 *   than min_rise of the baseline), the limit is cut to decrease_ratio of itself.
 * - A throttling answer cuts at once to throttle_ratio of the limit (once per window: a burst of
 *   throttled answers to requests sent together is one signal), and starts a new window.
 * - The baseline is an exponentially weighted mean (and variance) of the windows' mean
 *   latencies (weight ewma_alpha for the newest), learned from windows that were not congested,
 *   so a sudden rise stands out against it; at a limit of 1 every window counts, so a service
 *   that became slower for good is learned.
 * - Each growth is checked: the second window after it (the first mostly answers requests sent
 *   before it) must show more throughput (limit / mean latency) than the window before it, by at
 *   least half of what one more request could add (1 / (2 x old limit)). A service at its capacity only queues the
 * extra request: its latency grows in proportion and its throughput does not, in steps too small to look "well above"
 * any baseline. Then the growth is undone and the limit stays below that value for ceiling_windows windows before it is
 * tried again. (Vector's rule alone lets the limit creep to its maximum against such a service: each step raises the
 * baseline a little.) The limit starts at `initial` (low: a sink is not flooded before anything is known) and stays
 * within [1, max].
 *
 * Pure: times come from the caller, nothing is allocated, no loop. */
#ifndef CTINDEX_AIMD_H
#define CTINDEX_AIMD_H

#include <stdint.h>

typedef struct aimd_options {
    int initial;            /* 0: 1 */
    int max;                /* the sink's configured requests in flight (>= 1) */
    double decrease_ratio;  /* latency well above the baseline; 0: 0.9 (at least one less) */
    double throttle_ratio;  /* a throttling answer; 0: 0.5 */
    double ewma_alpha;      /* weight of the newest window in the baseline; 0: 0.4 */
    double deviation_scale; /* "well above": mean + this many deviations; 0: 2.5 */
    double min_rise;        /* "well above": and at least this fraction above the mean; 0: 0.25 */
    uint64_t min_window_ms; /* 0: 50 */
    int ceiling_windows;    /* a growth that bought no throughput is not tried again for this long; 0: 60 */
} aimd_options;

typedef struct aimd {
    aimd_options o;
    int limit;
    int have_baseline;
    double base_mean, base_var; /* ms */
    uint64_t window_end_ms;     /* 0: no window yet (the first answer opens one) */
    double sum_ms;              /* accepted latencies in this window */
    uint32_t n;
    int reached_limit, pushed_back, cut_this_window;
    /* the last growth, while it is checked */
    int grew_from;                         /* the limit before it; 0: none being checked */
    int grow_wait;                         /* windows to let pass before the check */
    double grew_from_lat;                  /* the mean latency at that limit */
    int ceiling;                           /* the limit may not reach this value (0: no ceiling) */
    int ceiling_left;                      /* windows before the ceiling is forgotten */
    uint64_t increases, decreases, undone; /* for logs and tests */
} aimd;

void aimd_init(aimd *a, const aimd_options *o);
/* Back to the start (after the sink was unreachable or refusing: its state is unknown). The
 * baseline is forgotten too. */
void aimd_reset(aimd *a);
/* A request left; in_flight counts it. */
void aimd_sent(aimd *a, int in_flight);
/* An answer at now_ms: accepted (latency_ms is a valid round trip) or not; throttled when the
 * service asked to slow down. Returns the limit to apply from now on. */
int aimd_answer(aimd *a, uint64_t now_ms, double latency_ms, int accepted, int throttled);
static inline int aimd_limit(const aimd *a) { return a->limit; }

#endif
