/* Adaptive concurrency (sinks/upload/aimd.c), pure: the rules one by one with made-up times, then
 * simulated services (a closed loop of requests against servers that queue) to see where the
 * limit settles. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sinks/upload/aimd.h"
#include "testlib.h"

static void init(aimd *a, int initial, int max) {
    aimd_options o = {.initial = initial, .max = max, .min_window_ms = 50};
    aimd_init(a, &o);
}

/* One window of n answers of lat ms each, every request sent at the limit; returns the limit. */
static int window(aimd *a, uint64_t *now, double lat, int n) {
    for (int i = 0; i < n; i++) aimd_sent(a, a->limit);
    int limit = a->limit;
    for (int i = 0; i < n; i++) {
        *now += (uint64_t)(lat / n) + 1;
        limit = aimd_answer(a, *now, lat, 1, 0);
    }
    *now += 200; /* past the window's end: the next answer closes it */
    return limit;
}

static void test_starts_low_and_grows(void) {
    aimd a;
    init(&a, 0, 6);
    CHECK_EQ_INT(aimd_limit(&a), 1);
    uint64_t now = 1000;
    for (int w = 0; w < 40; w++) window(&a, &now, 100, 4);
    CHECK_EQ_INT(aimd_limit(&a), 6); /* steady latency: grows to the most, never past it */
    CHECK(a.increases >= 5);
}

static void test_no_growth_without_demand(void) {
    aimd a;
    init(&a, 1, 6);
    uint64_t now = 1000;
    for (int w = 0; w < 40; w++) { /* one request at a time while the limit is higher: no evidence */
        now += 100;
        aimd_answer(&a, now, 100, 1, 0);
        now += 200;
        if (w == 5) {
            aimd_sent(&a, a.limit); /* once at the limit: one step */
        }
    }
    CHECK(aimd_limit(&a) <= 2);
}

static void test_throttling_halves_once_per_window(void) {
    aimd a;
    init(&a, 8, 8);
    uint64_t now = 1000;
    window(&a, &now, 100, 8); /* a baseline */
    CHECK_EQ_INT(aimd_limit(&a), 8);
    CHECK_EQ_INT(aimd_answer(&a, now, 0, 0, 1), 4);     /* at once */
    CHECK_EQ_INT(aimd_answer(&a, now + 1, 0, 0, 1), 4); /* the same burst: no second cut */
    now += 500;
    CHECK_EQ_INT(aimd_answer(&a, now, 0, 0, 1), 2); /* a later window: cut again */
    now += 500;
    CHECK_EQ_INT(aimd_answer(&a, now, 0, 0, 1), 1);
    now += 500;
    CHECK_EQ_INT(aimd_answer(&a, now, 0, 0, 1), 1); /* never below 1 */
    /* After throttling stops, it grows back. */
    for (int w = 0; w < 40; w++) window(&a, &now, 100, 8);
    CHECK_EQ_INT(aimd_limit(&a), 8);
}

static void test_latency_rise_cuts_and_keeps_baseline(void) {
    aimd a;
    init(&a, 8, 8);
    uint64_t now = 1000;
    for (int w = 0; w < 10; w++) window(&a, &now, 100 + (w % 2) * 4, 8);
    double base = a.base_mean;
    CHECK(base > 99 && base < 105);
    CHECK_EQ_INT(aimd_limit(&a), 8);
    for (int i = 0; i < 8; i++) { /* one window of answers three times slower */
        now += 5;
        aimd_answer(&a, now, 300, 1, 0);
    }
    now += 200;
    aimd_answer(&a, now, 100, 1, 0); /* closes it */
    CHECK_EQ_INT(aimd_limit(&a), 7);
    CHECK(a.base_mean < base + 5); /* the congested window did not raise the baseline */
    /* A rise of 10% is noise, not congestion. */
    aimd b;
    init(&b, 4, 4);
    now = 1000;
    for (int w = 0; w < 10; w++) window(&b, &now, 100, 4);
    for (int i = 0; i < 4; i++) {
        now += 5;
        aimd_answer(&b, now, 110, 1, 0);
    }
    now += 200;
    aimd_answer(&b, now, 100, 1, 0);
    CHECK_EQ_INT(aimd_limit(&b), 4);
}

static void test_slower_service_learned_at_one(void) {
    aimd a;
    init(&a, 4, 4);
    uint64_t now = 1000;
    for (int w = 0; w < 10; w++) window(&a, &now, 100, 4);
    for (int w = 0; w < 200; w++) window(&a, &now, 390 + (w % 2) * 20, 4); /* slower for good, whatever the load */
    CHECK(a.base_mean > 300);                                              /* learned */
    CHECK(aimd_limit(&a) >= 3);                                            /* and it grew back */
}

static void test_reset(void) {
    aimd a;
    init(&a, 1, 5);
    uint64_t now = 1000;
    for (int w = 0; w < 40; w++) window(&a, &now, 100, 4);
    CHECK_EQ_INT(aimd_limit(&a), 5);
    aimd_reset(&a);
    CHECK_EQ_INT(aimd_limit(&a), 1);
    CHECK_EQ_INT(a.have_baseline, 0);
    CHECK(a.increases >= 4); /* counters survive */
}

/* ---- simulation: a closed loop of requests against `servers` that each take service_ms per
 * request (plus a little deterministic noise); requests beyond them wait in a FIFO queue. */

typedef struct sim_req {
    uint64_t sent, done;
} sim_req;

typedef struct sim_result {
    double mean_limit; /* time-weighted over the second half */
    int max_limit_late;
    double throughput; /* answers per second, second half */
} sim_result;

static uint64_t noise_state = 88172645463325252ull;
static int noise(int spread) {
    noise_state ^= noise_state << 13;
    noise_state ^= noise_state >> 7;
    noise_state ^= noise_state << 17;
    return spread ? (int)(noise_state % (uint64_t)(2 * spread + 1)) - spread : 0;
}

static sim_result simulate(int servers, int service_ms, int spread, int max_limit, uint64_t duration_ms) {
    enum { MAX_REQ = 64, MAX_SERVERS = 256 };
    aimd a;
    init(&a, 1, max_limit);
    uint64_t free_at[MAX_SERVERS] = {0};
    sim_req q[MAX_REQ];
    int n = 0;
    uint64_t now = 0, half = duration_ms / 2, answers_late = 0;
    double limit_time = 0;
    int max_late = 0;
    sim_result r;
    for (;;) {
        while (n < aimd_limit(&a) && n < MAX_REQ) { /* send up to the limit, now */
            int best = 0;
            for (int s = 1; s < servers; s++)
                if (free_at[s] < free_at[best]) best = s;
            uint64_t start = free_at[best] > now ? free_at[best] : now;
            free_at[best] = start + (uint64_t)(service_ms + noise(spread));
            q[n].sent = now;
            q[n].done = free_at[best];
            n++;
            aimd_sent(&a, n);
        }
        if (n == 0) break; /* not reached: the limit is at least 1 (said for scan-build) */
        int first = 0;
        for (int i = 1; i < n; i++)
            if (q[i].done < q[first].done) first = i;
        uint64_t t = q[first].done;
        if (t >= duration_ms) break;
        if (t > half) limit_time += (double)aimd_limit(&a) * (double)(t - (now > half ? now : half));
        now = t;
        double lat = (double)(q[first].done - q[first].sent);
        q[first] = q[--n];
        aimd_answer(&a, now, lat, 1, 0);
        if (now > half) {
            answers_late++;
            if (aimd_limit(&a) > max_late) max_late = aimd_limit(&a);
        }
    }
    r.mean_limit = limit_time / (double)(now - half);
    r.max_limit_late = max_late;
    r.throughput = (double)answers_late * 1000.0 / (double)(now - half);
    return r;
}

static void test_sim_settles_at_capacity(void) {
    /* 4 servers of 100 ms: 40 answers/s at most; beyond 4 in flight requests only queue. */
    sim_result r = simulate(4, 100, 5, 16, 120000);
    fprintf(stderr, "  4 servers, limit up to 16: mean limit %.2f, most %d, %.1f answers/s\n", r.mean_limit,
            r.max_limit_late, r.throughput);
    CHECK(r.mean_limit >= 3.0 && r.mean_limit <= 5.5);
    CHECK(r.max_limit_late <= 7);
    CHECK(r.throughput >= 0.85 * 40);
}

static void test_sim_grows_when_there_is_room(void) {
    /* 64 servers: nothing queues below 16 in flight: the limit should sit at its most. */
    sim_result r = simulate(64, 100, 10, 16, 120000);
    fprintf(stderr, "  64 servers, limit up to 16: mean limit %.2f, most %d, %.1f answers/s\n", r.mean_limit,
            r.max_limit_late, r.throughput);
    CHECK(r.mean_limit >= 14);
    CHECK_EQ_INT(r.max_limit_late, 16);
}

int main(void) {
    RUN(test_starts_low_and_grows);
    RUN(test_no_growth_without_demand);
    RUN(test_throttling_halves_once_per_window);
    RUN(test_latency_rise_cuts_and_keeps_baseline);
    RUN(test_slower_service_learned_at_one);
    RUN(test_reset);
    RUN(test_sim_settles_at_capacity);
    RUN(test_sim_grows_when_there_is_room);
    TEST_MAIN_END();
}
