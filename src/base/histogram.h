/* A fixed-bucket histogram, the shape Prometheus exposes: counts of observations at or below each
 * upper bound, their sum and their number. Observing is a short scan of the bounds, no allocation
 * and no clock, so it can sit on hot paths (one observation per record acknowledged). Pure. */
#ifndef CTINDEX_HISTOGRAM_H
#define CTINDEX_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_MAX_BOUNDS 20

typedef struct histogram {
    const double *bounds;                      /* upper bounds, ascending, not owned (static tables) */
    int nbounds;                               /* at most HISTOGRAM_MAX_BOUNDS */
    uint64_t counts[HISTOGRAM_MAX_BOUNDS + 1]; /* per bucket, not cumulative; the last is above every bound */
    uint64_t count;
    double sum;
} histogram;

/* bounds: nbounds ascending values that live as long as h (nbounds is clamped to the maximum). */
void histogram_init(histogram *h, const double *bounds, int nbounds);
/* One observation. A value equal to a bound falls in that bound's bucket (Prometheus' "le"). */
static inline void histogram_observe(histogram *h, double v) {
    int i = 0;
    while (i < h->nbounds && v > h->bounds[i]) i++;
    h->counts[i]++;
    h->count++;
    h->sum += v;
}
/* Observations at or below bounds[i] (i == nbounds: every observation). */
uint64_t histogram_cumulative(const histogram *h, int i);

/* Bounds in seconds shared by the histograms ctindex exposes. */
extern const double histogram_upload_seconds[]; /* 5 ms .. 120 s: one request to a sink */
extern const int histogram_upload_seconds_n;
extern const double histogram_delay_seconds[]; /* 1 s .. 1 day: event time to acknowledgement */
extern const int histogram_delay_seconds_n;

#endif
