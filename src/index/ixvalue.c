#include "index/ixvalue.h"

#include <stdio.h>

/* The two digits at s as a number, or -1. */
static inline int two_digits(const char *s) {
    unsigned a = (unsigned char)s[0] - '0', b = (unsigned char)s[1] - '0';
    return a < 10 && b < 10 ? (int)(a * 10 + b) : -1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), valid for any year 0..9999. */
static int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int month_days(int y, int m) {
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return dm[m - 1] + (m == 2 && leap);
}

int ixvalue_date(const char *s, size_t n, int64_t *ms) {
    /* yyyy-mm-ddTHH:mm:ss by position: one comparison a byte (a loop over a template cost 500
     * instructions a date, two dates a document) */
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return -1;
    int c = two_digits(s), yy = two_digits(s + 2), mo = two_digits(s + 5), d = two_digits(s + 8);
    int h = two_digits(s + 11), mi = two_digits(s + 14), se = two_digits(s + 17);
    if ((c | yy | mo | d | h | mi | se) < 0) return -1;
    int y = c * 100 + yy;
    if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || se > 59) return -1;
    size_t i = 19;
    int frac = 0;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3) frac = frac * 10 + (s[i] - '0');
            i++;
        }
        if (i == start) return -1;
        for (size_t k = i - start; k < 3; k++) frac *= 10;
    }
    if (i + 1 != n || s[i] != 'Z') return -1;
    *ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) * 1000) + frac;
    return 0;
}

void ixvalue_date_format(int64_t ms, char *out, size_t cap) {
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    /* civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
    if (frac)
        snprintf(out, cap, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03dZ", (long long)y, (long long)m, (long long)d,
                 (long long)(rem / 3600), (long long)(rem / 60 % 60), (long long)(rem % 60), frac);
    else
        snprintf(out, cap, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", (long long)y, (long long)m, (long long)d,
                 (long long)(rem / 3600), (long long)(rem / 60 % 60), (long long)(rem % 60));
}

int ixvalue_int(const char *s, int64_t *out) {
    int neg = *s == '-';
    const char *p = s + neg;
    if (!*p) return -1;
    uint64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        if (v > (UINT64_C(9223372036854775808) - (uint64_t)(*p - '0')) / 10) return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (!neg && v > INT64_MAX) return -1;
    if (out) *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}
