#include "base/date.h"

int date_is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int date_days_in_month(int64_t y, int m) {
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12) return 0;
    return days[m - 1] + (m == 2 && date_is_leap(y));
}

int date_valid(int64_t y, int m, int d) { return d >= 1 && d <= date_days_in_month(y, m); }

/* Howard Hinnant's algorithms: years start on March 1st, so the leap day is the last day of a
 * year, and 400-year eras of 146097 days repeat exactly. */
int64_t date_days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void date_civil_from_days(int64_t days, int64_t *y, int *m, int *d) {
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* The number written with exactly count decimal digits at s[at]; -1 when s is too short or one
 * of them is not a digit. */
static int digits(const char *s, size_t n, size_t at, size_t count, int *out) {
    if (at + count > n) return -1;
    int v = 0;
    for (size_t i = 0; i < count; i++) {
        char c = s[at + i];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 0;
}

int date_parse_rfc3339(const char *s, size_t n, date_time *t) {
    if (n < 19 || digits(s, n, 0, 4, &t->year) || s[4] != '-' || digits(s, n, 5, 2, &t->month) || s[7] != '-' ||
        digits(s, n, 8, 2, &t->day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s, n, 11, 2, &t->hour) || s[13] != ':' || digits(s, n, 14, 2, &t->minute) || s[16] != ':' ||
        digits(s, n, 17, 2, &t->second))
        return -1;
    if (!date_valid(t->year, t->month, t->day) || t->hour > 23 || t->minute > 59 || t->second > 60) return -1;
    size_t i = 19;
    t->nanos = 0;
    t->frac_digits = 0;
    if (i < n && s[i] == '.') {
        i++;
        size_t start = i;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (i - start < 9) t->nanos = t->nanos * 10 + (uint32_t)(s[i] - '0');
        if (i == start) return -1;
        t->frac_digits = i - start;
        for (size_t k = t->frac_digits; k < 9; k++) t->nanos *= 10;
    }
    t->offset_s = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' || digits(s, n, i + 4, 2, &om) || oh > 23 ||
            om > 59)
            return -1;
        t->offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return -1;
    }
    return i == n ? 0 : -1;
}

int64_t date_time_epoch(const date_time *t) {
    int sec = t->second > 59 ? 59 : t->second;
    return date_days_from_civil(t->year, t->month, t->day) * 86400 + t->hour * 3600 + t->minute * 60 + sec -
           t->offset_s;
}

int date_rfc3339_epoch(const char *s, size_t n, int64_t *epoch) {
    date_time t;
    if (date_parse_rfc3339(s, n, &t) != 0) return -1;
    *epoch = date_time_epoch(&t);
    return 0;
}
