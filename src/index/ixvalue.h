/* Values as CloudSearch reads them. Dates: RFC 3339 in UTC, yyyy-mm-ddTHH:mm:ss[.fraction]Z,
 * kept as milliseconds since 1970 (negative before). Ints: decimal, signed 64-bit. Pure. */
#ifndef CTINDEX_IXVALUE_H
#define CTINDEX_IXVALUE_H

#include <stddef.h>
#include <stdint.h>

/* 0 and *ms, or -1 when s[0..n) is not such a date (a real calendar date, hour < 24, ...). Digits
 * after the milliseconds are ignored. */
int ixvalue_date(const char *s, size_t n, int64_t *ms);
/* yyyy-mm-ddTHH:mm:ssZ, or with .SSS when ms has a fraction; NUL-terminated, out >= 32 bytes. */
void ixvalue_date_format(int64_t ms, char *out, size_t cap);

/* A decimal 64-bit integer s (NUL-terminated), optionally negative, nothing else: 0 and *out
 * (out may be NULL), or -1. */
int ixvalue_int(const char *s, int64_t *out);

#endif
