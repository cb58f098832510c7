/* Writing the Prometheus text exposition format, version 0.0.4 (Content-Type
 * "text/plain; version=0.0.4; charset=utf-8"): one family is a "# HELP" line, a "# TYPE" line and
 * its samples, all together; a sample is `name{label="value",...} value`; a histogram is its
 * cumulative `_bucket{le="..."}` samples ending with le="+Inf", then `_sum` and `_count`.
 * HELP text escapes backslash and newline, label values also the double quote.
 *
 * Names are the caller's (they follow Prometheus' conventions: [a-zA-Z_:][a-zA-Z0-9_:]*,
 * `_total` on counters, base units such as `_seconds` and `_bytes`); labels are passed
 * preformatted without braces (`sink="cloudsearch",outcome="accepted"`, built with prom_label),
 * or NULL. Pure: writes into a bounded buf; the first failure (buffer full) sticks. */
#ifndef CTINDEX_PROM_H
#define CTINDEX_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/histogram.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct prom_writer {
    buf *out;
    int failed; /* a write did not fit: the output is incomplete */
} prom_writer;

void prom_init(prom_writer *w, buf *out);
/* "# HELP name help" and "# TYPE name type"; type: "counter", "gauge" or "histogram". */
void prom_family(prom_writer *w, const char *name, const char *type, const char *help);
void prom_uint(prom_writer *w, const char *name, const char *labels, uint64_t v);
/* Doubles as Prometheus reads them, NaN and infinities included ("NaN", "+Inf", "-Inf"). */
void prom_double(prom_writer *w, const char *name, const char *labels, double v);
/* The _bucket samples of h (cumulative, le="+Inf" last), then _sum and _count. */
void prom_histogram(prom_writer *w, const char *name, const char *labels, const histogram *h);
/* One label pair `name="value"` with the value escaped, into out (cap bytes, NUL-terminated).
 * Returns the length, or -1 when it does not fit. */
int prom_label(char *out, size_t cap, const char *name, const char *value);
/* 0 when everything fit, -1 otherwise. */
int prom_finish(const prom_writer *w);

#endif
