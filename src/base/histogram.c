#include "base/histogram.h"

#include <string.h>

/* Uploads: a small _bulk answers in milliseconds, a 5 MB CloudSearch batch in a second or two, a
 * struggling cluster in tens of seconds (the sinks' request timeouts are 120-300 s). */
const double histogram_upload_seconds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
const int histogram_upload_seconds_n = (int)(sizeof histogram_upload_seconds / sizeof histogram_upload_seconds[0]);

/* Record delay: CloudTrail delivers a file about 5 minutes after its events (up to 15), so the
 * useful range is minutes; a backlog shows in the hour and day buckets. */
const double histogram_delay_seconds[] = {1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400};
const int histogram_delay_seconds_n = (int)(sizeof histogram_delay_seconds / sizeof histogram_delay_seconds[0]);

void histogram_init(histogram *h, const double *bounds, int nbounds) {
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds = nbounds < 0 ? 0 : nbounds > HISTOGRAM_MAX_BOUNDS ? HISTOGRAM_MAX_BOUNDS : nbounds;
}

uint64_t histogram_cumulative(const histogram *h, int i) {
    if (i > h->nbounds) i = h->nbounds;
    uint64_t n = 0;
    for (int k = 0; k <= i; k++) n += h->counts[k];
    return n;
}
