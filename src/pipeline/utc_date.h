/* RFC 3339 timestamps to the one form CloudSearch and OpenSearch dates take: UTC with a Z.
 * CloudTrail writes "2023-01-10T21:04:02Z", but a record may carry any RFC 3339 time
 * ("2023-01-10T21:04:02+02:00", "...T21:04:02.5z"): the same instant, once converted. */
#ifndef CTINDEX_UTC_DATE_H
#define CTINDEX_UTC_DATE_H

#include <stddef.h>

#define UTC_DATE_MAX 32 /* "YYYY-MM-DDTHH:MM:SS.fffffffffZ" and a NUL */

/* p[0..n): an RFC 3339 date-time as date_parse_rfc3339 (base/date.h) takes it. Writes the same
 * instant as YYYY-MM-DDTHH:MM:SS[.fraction]Z into out, NUL-terminated, and returns its length
 * (20..30): the fraction as written, cut to nine digits (nanoseconds: what the sinks keep); a
 * leap second as :59, as date_time_epoch counts it (the sinks refuse :60). Returns 0 when p is
 * not such a date-time (a day its month does not have, a field out of range, another shape) or
 * its year leaves 0000-9999 once in UTC. Pure; no allocation. */
size_t utc_date(const char *p, size_t n, char out[UTC_DATE_MAX]);

#endif
