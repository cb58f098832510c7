/* utc_date: RFC 3339 times to UTC with a Z; whatever is not a real time is refused. */
#include "pipeline/utc_date.h"
#include "testlib.h"

static void expect(const char *in, const char *want) {
    char out[UTC_DATE_MAX];
    size_t n = utc_date(in, strlen(in), out);
    if (!want) {
        if (n != 0) fprintf(stderr, "%s: taken as %s\n", in, out);
        CHECK_EQ_INT(n, 0);
        return;
    }
    CHECK_EQ_INT(n, strlen(want));
    if (n) CHECK_EQ_STR(out, want);
}

static void test_converted(void) {
    expect("2023-01-10T21:04:02Z", "2023-01-10T21:04:02Z");
    expect("2023-01-10T21:04:02+02:00", "2023-01-10T19:04:02Z");
    expect("2023-01-10T21:04:02-05:30", "2023-01-11T02:34:02Z");
    expect("2023-01-10t21:04:02.5z", "2023-01-10T21:04:02.5Z");
    expect("2023-01-10T21:04:02.123456789-00:00", "2023-01-10T21:04:02.123456789Z");
    /* across days, months, years and leap days, both ways */
    expect("2023-01-01T01:30:00+02:00", "2022-12-31T23:30:00Z");
    expect("2022-12-31T23:30:00-00:31", "2023-01-01T00:01:00Z");
    expect("2024-03-01T00:10:00+00:20", "2024-02-29T23:50:00Z");
    expect("2023-03-01T00:10:00+00:20", "2023-02-28T23:50:00Z");
    expect("2024-02-28T23:30:00-01:00", "2024-02-29T00:30:00Z");
    expect("2100-02-28T23:30:00-01:00", "2100-03-01T00:30:00Z"); /* 2100 is not a leap year */
    expect("2000-02-28T23:30:00-01:00", "2000-02-29T00:30:00Z"); /* 2000 is */
    expect("2024-04-30T23:59:59-23:59", "2024-05-01T23:58:59Z");
    expect("2024-05-01T00:00:00+23:59", "2024-04-30T00:01:00Z");
    expect("0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z");
    expect("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z");
    /* what RFC 3339 also allows, in the one form the sinks take */
    expect("2023-01-10 21:04:02Z", "2023-01-10T21:04:02Z");
    expect("2023-01-10T21:04:02.1234567891Z", "2023-01-10T21:04:02.123456789Z"); /* nanoseconds kept */
    expect("2016-12-31T23:59:60Z", "2016-12-31T23:59:59Z");                      /* a leap second */
    expect("2017-01-01T00:59:60.5+01:00", "2016-12-31T23:59:59.5Z");
}

static void test_refused(void) {
    const char *bad[] = {
        "",
        "2023-01-10T21:04:02",       /* no offset */
        "2023-01-10T21:04:02.Z",     /* an empty fraction */
        "2023-01-10T21:04:02+0200",  /* offset without a colon */
        "2023-01-10T21:04:02+02",    /* offset without minutes */
        "2023-01-10T21:04:02+24:00", /* offset hour */
        "2023-01-10T21:04:02+02:60", /* offset minute */
        "2023-01-10T21:04:02ZZ",     /* trailing bytes */
        "2023-01-10T21:04:02Z ",
        "2023-13-10T21:04:02Z", /* month */
        "2023-00-10T21:04:02Z",
        "2023-01-00T21:04:02Z",      /* day */
        "2023-02-29T12:00:00Z",      /* not a leap year */
        "2024-02-30T12:00:00+05:00", /* checked before the offset moves it */
        "1900-02-29T12:00:00Z",
        "2023-04-31T12:00:00Z",
        "2023-01-10T24:00:00Z", /* hour */
        "2023-01-10T21:60:02Z", /* minute */
        "2023-1-10T21:04:02Z",
        "2023-01-10T21:04:0xZ",
        "+2023-01-10T21:04:02Z",
        "0000-01-01T00:30:00+01:00", /* year -1 in UTC */
        "9999-12-31T23:30:00-01:00", /* year 10000 in UTC */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) expect(bad[i], NULL);
}

int main(void) {
    RUN(test_converted);
    RUN(test_refused);
    TEST_MAIN_END();
}
