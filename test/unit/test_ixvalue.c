/* Dates and ints as the index reads them (ixvalue.h): known values, and every one-byte change of
 * a date read as a plain reading of the rule says (RFC 3339 in UTC, a real calendar day). */
#include "index/ixvalue.h"

#include <stdint.h>
#include <string.h>

#include "testlib.h"

static int64_t date_ms(const char *s) {
    int64_t ms = INT64_MIN;
    return ixvalue_date(s, strlen(s), &ms) == 0 ? ms : INT64_MIN;
}

static void test_date_values(void) {
    CHECK_EQ_INT(date_ms("1970-01-01T00:00:00Z"), 0);
    CHECK_EQ_INT(date_ms("1970-01-01T00:00:01.5Z"), 1500);
    CHECK_EQ_INT(date_ms("1970-01-01T00:00:01.123456Z"), 1123); /* digits past the ms ignored */
    CHECK_EQ_INT(date_ms("1969-12-31T23:59:59Z"), -1000);
    CHECK_EQ_INT(date_ms("2014-09-01T12:34:56Z"), INT64_C(1409574896000));
    CHECK_EQ_INT(date_ms("2000-02-29T00:00:00Z"), INT64_C(951782400000));
    CHECK_EQ_INT(date_ms("9999-12-31T23:59:59.999Z"), INT64_C(253402300799999));
    CHECK_EQ_INT(date_ms("0000-03-01T00:00:00Z"), INT64_C(-62162035200000));
    const char *bad[] = {"",
                         "2014-09-01T12:34:56",
                         "2014-09-01T12:34:56z",
                         "2014-09-01 12:34:56Z",
                         "2014-09-01T12:34:56+00:00",
                         "2014-09-01T12:34:56.Z",
                         "2014-09-01T12:34:56ZZ",
                         "2014-9-01T12:34:56Z",
                         "2014-13-01T12:34:56Z",
                         "2014-00-01T12:34:56Z",
                         "2014-09-00T12:34:56Z",
                         "2014-09-31T12:34:56Z",
                         "2001-02-29T00:00:00Z",
                         "1900-02-29T00:00:00Z",
                         "2014-09-01T24:00:00Z",
                         "2014-09-01T23:60:00Z",
                         "2014-09-01T23:59:60Z",
                         "+014-09-01T12:34:56Z",
                         "2014-09-01T12:34:5 Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (date_ms(bad[i]) != INT64_MIN) fprintf(stderr, "taken: %s\n", bad[i]);
        CHECK(date_ms(bad[i]) == INT64_MIN);
    }
}

/* The rule read byte by byte: digits where the form has them, its separators elsewhere. */
static int plain_form(const char *s) {
    static const char form[] = "dddd-dd-ddTdd:dd:dd";
    for (int i = 0; form[i]; i++)
        if (form[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != form[i]) return 0;
    return 1;
}

/* Every byte of a valid date replaced by each value: taken exactly when the form still holds and
 * the fields are in range (the form's fields at their places). */
static void test_date_bytes(void) {
    char s[] = "2016-02-29T23:59:58Z";
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        char was = s[i];
        for (int c = 1; c < 256; c++) {
            s[i] = (char)c;
            int64_t ms;
            int got = ixvalue_date(s, n, &ms) == 0;
            int want = 0;
            if (plain_form(s) && s[19] == 'Z') {
                int y = atoi(s), mo = atoi(s + 5), d = atoi(s + 8), h = atoi(s + 11), mi = atoi(s + 14),
                    se = atoi(s + 17);
                int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
                static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
                want = mo >= 1 && mo <= 12 && d >= 1 && d <= dm[mo - 1] + (mo == 2 && leap) && h < 24 && mi < 60 &&
                       se < 60;
            }
            if (got != want) fprintf(stderr, "byte %zu = %d: got %d\n", i, c, got);
            CHECK_EQ_INT(got, want);
        }
        s[i] = was;
    }
}

int main(void) {
    RUN(test_date_values);
    RUN(test_date_bytes);
    TEST_MAIN_END();
}
