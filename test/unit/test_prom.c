/* The histogram (base/histogram.c) and the Prometheus text writer (base/prom.c): bucket edges,
 * cumulative counts, escaping, number forms, bounded output. */
#include <math.h>
#include <string.h>

#include "base/histogram.h"
#include "base/prom.h"
#include "testlib.h"

static const double bounds[] = {0.5, 1, 2.5};

static void test_histogram(void) {
    histogram h;
    histogram_init(&h, bounds, 3);
    histogram_observe(&h, 0.1);
    histogram_observe(&h, 0.5); /* on a bound: that bound's bucket */
    histogram_observe(&h, 0.75);
    histogram_observe(&h, 2.5);
    histogram_observe(&h, 10);
    CHECK_EQ_INT(h.count, 5);
    CHECK_EQ_INT(h.counts[0], 2);
    CHECK_EQ_INT(h.counts[1], 1);
    CHECK_EQ_INT(h.counts[2], 1);
    CHECK_EQ_INT(h.counts[3], 1);
    CHECK_EQ_INT(histogram_cumulative(&h, 0), 2);
    CHECK_EQ_INT(histogram_cumulative(&h, 2), 4);
    CHECK_EQ_INT(histogram_cumulative(&h, 3), 5);
    CHECK_EQ_INT(histogram_cumulative(&h, 99), 5);
    CHECK(fabs(h.sum - 13.85) < 1e-9);
    histogram_init(&h, bounds, 1000); /* clamped */
    CHECK_EQ_INT(h.nbounds, HISTOGRAM_MAX_BOUNDS);
    CHECK(histogram_upload_seconds_n <= HISTOGRAM_MAX_BOUNDS && histogram_delay_seconds_n <= HISTOGRAM_MAX_BOUNDS);
    for (int i = 1; i < histogram_upload_seconds_n; i++)
        CHECK(histogram_upload_seconds[i] > histogram_upload_seconds[i - 1]);
    for (int i = 1; i < histogram_delay_seconds_n; i++)
        CHECK(histogram_delay_seconds[i] > histogram_delay_seconds[i - 1]);
}

static void test_exposition(void) {
    buf b;
    buf_init(&b, 1 << 16);
    prom_writer w;
    prom_init(&w, &b);
    prom_family(&w, "x_total", "counter", "Help with \\ and\nnewline.");
    prom_uint(&w, "x_total", NULL, 18446744073709551615ull);
    prom_uint(&w, "x_total", "sink=\"a\",outcome=\"ok\"", 3);
    prom_family(&w, "g", "gauge", "A gauge.");
    prom_double(&w, "g", NULL, 0.25);
    prom_double(&w, "g", "k=\"nan\"", NAN);
    prom_double(&w, "g", "k=\"inf\"", INFINITY);
    prom_double(&w, "g", "k=\"-inf\"", -INFINITY);
    histogram h;
    histogram_init(&h, bounds, 3);
    histogram_observe(&h, 0.5);
    histogram_observe(&h, 3);
    prom_family(&w, "lat_seconds", "histogram", "Latency.");
    prom_histogram(&w, "lat_seconds", "sink=\"a\"", &h);
    CHECK_EQ_INT(prom_finish(&w), 0);
    buf_terminate(&b);
    const char *want = "# HELP x_total Help with \\\\ and\\nnewline.\n"
                       "# TYPE x_total counter\n"
                       "x_total 18446744073709551615\n"
                       "x_total{sink=\"a\",outcome=\"ok\"} 3\n"
                       "# HELP g A gauge.\n"
                       "# TYPE g gauge\n"
                       "g 0.25\n"
                       "g{k=\"nan\"} NaN\n"
                       "g{k=\"inf\"} +Inf\n"
                       "g{k=\"-inf\"} -Inf\n"
                       "# HELP lat_seconds Latency.\n"
                       "# TYPE lat_seconds histogram\n"
                       "lat_seconds_bucket{sink=\"a\",le=\"0.5\"} 1\n"
                       "lat_seconds_bucket{sink=\"a\",le=\"1\"} 1\n"
                       "lat_seconds_bucket{sink=\"a\",le=\"2.5\"} 1\n"
                       "lat_seconds_bucket{sink=\"a\",le=\"+Inf\"} 2\n"
                       "lat_seconds_sum{sink=\"a\"} 3.5\n"
                       "lat_seconds_count{sink=\"a\"} 2\n";
    CHECK_EQ_STR(b.data, want);
    buf_free(&b);
}

static void test_labels_and_bounds(void) {
    char out[64];
    CHECK_EQ_INT(prom_label(out, sizeof out, "sink", "a\"b\\c\nd"), 17);
    CHECK_EQ_STR(out, "sink=\"a\\\"b\\\\c\\nd\"");
    CHECK_EQ_INT(prom_label(out, 8, "sink", "cloudsearch"), -1); /* does not fit */
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(prom_label(out, 10, "k", "1234567"), -1); /* k="1234567" is 11 bytes with the NUL */
    CHECK_EQ_INT(prom_label(out, 12, "k", "1234567"), 11);
    /* A full buffer: the failure sticks, nothing is written past the bound. */
    buf b;
    buf_init(&b, 40);
    prom_writer w;
    prom_init(&w, &b);
    prom_family(&w, "a_long_metric_name_total", "counter", "Some help text that does not fit.");
    prom_uint(&w, "a_total", NULL, 1);
    CHECK_EQ_INT(prom_finish(&w), -1);
    CHECK(b.len <= 40);
    buf_free(&b);
}

int main(void) {
    RUN(test_histogram);
    RUN(test_exposition);
    RUN(test_labels_and_bounds);
    TEST_MAIN_END();
}
