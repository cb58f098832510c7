/* Calendar dates and RFC 3339 timestamps. Days count from 1970-01-01 on the proleptic
 * Gregorian calendar (the one RFC 3339 uses), negative before it. Pure. */
#ifndef CTINDEX_DATE_H
#define CTINDEX_DATE_H

#include <stddef.h>
#include <stdint.h>

/* 1 when y is a Gregorian leap year. */
int date_is_leap(int64_t y);
/* Days in month m (1..12) of year y; 0 when m is not a month. */
int date_days_in_month(int64_t y, int m);
/* 1 when y-m-d names a day of the calendar (2024-02-29 does, 2100-02-29 and 2023-04-31 do not). */
int date_valid(int64_t y, int m, int d);
/* Days since 1970-01-01 of the valid date y-m-d. */
int64_t date_days_from_civil(int64_t y, int m, int d);
/* The date of a day count: the inverse of date_days_from_civil. */
void date_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* An RFC 3339 timestamp as written. */
typedef struct date_time {
    int year, month, day;
    int hour, minute, second; /* second 60 is a leap second */
    uint32_t nanos;           /* the fraction's first nine digits, as nanoseconds */
    size_t frac_digits;       /* digits after the '.': 0 without a fraction */
    int offset_s;             /* offset east of UTC in seconds: "Z" 0, "+02:00" 7200, "-00:30" -1800 */
} date_time;

/* Parses the whole of s[0..n) as an RFC 3339 date-time:
 * YYYY-MM-DD('T'|'t'|' ')hh:mm:ss[.fraction]('Z'|'z'|('+'|'-')hh:mm), fraction any number of
 * digits. The date must exist (date_valid), hh <= 23, mm <= 59, ss <= 60, offset hours <= 23.
 * Returns 0 and fills *out, or -1 when s is not such a timestamp (out is then unspecified). */
int date_parse_rfc3339(const char *s, size_t n, date_time *out);
/* Seconds since 1970-01-01T00:00:00Z of t, the offset applied; a leap second counts as :59. */
int64_t date_time_epoch(const date_time *t);
/* date_parse_rfc3339, then date_time_epoch into *epoch. 0 on success, -1 if malformed. */
int date_rfc3339_epoch(const char *s, size_t n, int64_t *epoch);

#endif
