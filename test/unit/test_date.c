#include "base/date.h"
#include "testlib.h"

/* Moved from test_awsconf.c with awsconf_parse_rfc3339; assertions unchanged. */
static void test_rfc3339_epoch(void) {
    int64_t t = -1;
    CHECK_EQ_INT(date_rfc3339_epoch("1970-01-01T00:00:00Z", 20, &t), 0);
    CHECK_EQ_INT(t, 0);
    CHECK_EQ_INT(date_rfc3339_epoch("2015-08-30T12:36:00Z", 20, &t), 0);
    CHECK_EQ_INT(t, 1440938160);
    CHECK_EQ_INT(date_rfc3339_epoch("2000-03-01T00:00:00.5-00:30", 27, &t), 0);
    CHECK_EQ_INT(t, 951868800 + 1800);
    CHECK_EQ_INT(date_rfc3339_epoch("2100-02-29T00:00:00Z", 20, &t), -1); /* not a leap year */
    CHECK_EQ_INT(date_rfc3339_epoch("2024-13-01T00:00:00Z", 20, &t), -1);
    CHECK_EQ_INT(date_rfc3339_epoch("2024-01-01T00:00:00", 19, &t), -1); /* no zone */
    CHECK_EQ_INT(date_rfc3339_epoch("2024-01-01T00:00:00Zjunk", 24, &t), -1);
    CHECK_EQ_INT(date_rfc3339_epoch("2024-01-01", 10, &t), -1);
}

static int parse(const char *s, date_time *t) { return date_parse_rfc3339(s, strlen(s), t); }

static void test_rfc3339_fields(void) {
    date_time t;
    CHECK_EQ_INT(parse("2023-01-10T21:04:02+02:00", &t), 0);
    CHECK(t.year == 2023 && t.month == 1 && t.day == 10 && t.hour == 21 && t.minute == 4 && t.second == 2);
    CHECK_EQ_INT(t.offset_s, 7200);
    CHECK_EQ_INT(t.frac_digits, 0);
    CHECK_EQ_INT(t.nanos, 0);
    CHECK_EQ_INT(date_time_epoch(&t), 1673384642 - 7200);            /* 2023-01-10T19:04:02Z */
    CHECK_EQ_INT(parse("2024-02-29t23:59:59.123456789123z", &t), 0); /* lower case, 12 digits */
    CHECK_EQ_INT(t.nanos, 123456789);
    CHECK_EQ_INT(t.frac_digits, 12);
    CHECK_EQ_INT(t.offset_s, 0);
    CHECK_EQ_INT(parse("2024-05-01 00:00:00.05-00:30", &t), 0);
    CHECK_EQ_INT(t.nanos, 50000000);
    CHECK_EQ_INT(t.offset_s, -1800);
    CHECK_EQ_INT(date_time_epoch(&t), 1714521600 + 1800);
    CHECK_EQ_INT(parse("2016-12-31T23:59:60Z", &t), 0); /* a leap second counts as :59 */
    CHECK_EQ_INT(date_time_epoch(&t), 1483228799);
    static const char *const bad[] = {
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:60:00Z",
        "2024-01-01T00:00:61Z",
        "2023-02-29T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-00-10T00:00:00Z",
        "2024-01-00T00:00:00Z",
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00+01:60",
        "2024-01-01T00:00:00+0100",
        "2024-01-01T00:00:00+01:0",
        "2024-01-01X00:00:00Z",
        "2024/01/01T00:00:00Z",
        "+2024-01-01T00:00:00Z",
        "2024-1-01T00:00:00Z",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i], &t) != -1) fprintf(stderr, "accepted %s\n", bad[i]);
        CHECK_EQ_INT(parse(bad[i], &t), -1);
    }
}

static void test_calendar(void) {
    CHECK(date_is_leap(2024) && date_is_leap(2000) && !date_is_leap(1900) && !date_is_leap(2023));
    CHECK_EQ_INT(date_days_in_month(2024, 2), 29);
    CHECK_EQ_INT(date_days_in_month(2023, 2), 28);
    CHECK_EQ_INT(date_days_in_month(2023, 12), 31);
    CHECK_EQ_INT(date_days_in_month(2023, 4), 30);
    CHECK_EQ_INT(date_days_in_month(2023, 13), 0);
    CHECK_EQ_INT(date_days_in_month(2023, 0), 0);
    CHECK(date_valid(2024, 2, 29) && !date_valid(2100, 2, 29) && !date_valid(2023, 4, 31) && !date_valid(2023, 1, 0));
    CHECK_EQ_INT(date_days_from_civil(1970, 1, 1), 0);
    CHECK_EQ_INT(date_days_from_civil(1969, 12, 31), -1);
    CHECK_EQ_INT(date_days_from_civil(2000, 3, 1), 11017);
    CHECK_EQ_INT(date_days_from_civil(1, 1, 1), -719162);
    CHECK_EQ_INT(date_days_from_civil(9999, 12, 31), 2932896);
    /* every day of 800 years around the epoch, both ways, one day apart */
    int64_t prev = date_days_from_civil(1599, 12, 31);
    for (int64_t y = 1600; y < 2400; y++)
        for (int m = 1; m <= 12; m++)
            for (int d = 1; d <= date_days_in_month(y, m); d++) {
                int64_t days = date_days_from_civil(y, m, d), y2;
                int m2, d2;
                if (days != prev + 1) CHECK_EQ_INT(days, prev + 1);
                date_civil_from_days(days, &y2, &m2, &d2);
                if (y2 != y || m2 != m || d2 != d) CHECK(0);
                prev = days;
            }
}

int main(void) {
    RUN(test_rfc3339_epoch);
    RUN(test_rfc3339_fields);
    RUN(test_calendar);
    TEST_MAIN_END();
}
