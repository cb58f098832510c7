#include "pipeline/utc_date.h"

#include <stdint.h>
#include <string.h>

#include "base/date.h"

static void put_digits(char *out, int64_t v, int k) {
    for (int i = k - 1; i >= 0; i--, v /= 10) out[i] = (char)('0' + v % 10);
}

size_t utc_date(const char *p, size_t n, char out[UTC_DATE_MAX]) {
    date_time t;
    if (date_parse_rfc3339(p, n, &t) != 0) return 0;
    int64_t year = t.year;
    int month = t.month, day = t.day, hour = t.hour, minute = t.minute, second = t.second;
    if (t.offset_s != 0 || second > 59) {
        /* Through the day count: the offset may move the time across a day, month or year. */
        int64_t secs = date_time_epoch(&t);
        int64_t days = secs / 86400, rest = secs % 86400;
        if (rest < 0) {
            rest += 86400;
            days--;
        }
        date_civil_from_days(days, &year, &month, &day);
        hour = (int)(rest / 3600);
        minute = (int)(rest / 60 % 60);
        second = (int)(rest % 60);
    }
    if (year < 0 || year > 9999) return 0;
    memcpy(out, "0000-00-00T00:00:00", 19);
    put_digits(out, year, 4);
    put_digits(out + 5, month, 2);
    put_digits(out + 8, day, 2);
    put_digits(out + 11, hour, 2);
    put_digits(out + 14, minute, 2);
    put_digits(out + 17, second, 2);
    size_t o = 19;
    if (t.frac_digits) {
        size_t keep = t.frac_digits < 9 ? t.frac_digits : 9;
        memcpy(out + o, p + 19, keep + 1); /* the dot and the digits */
        o += keep + 1;
    }
    out[o++] = 'Z';
    out[o] = '\0';
    return o;
}
