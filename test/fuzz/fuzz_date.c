/* Any bytes as an RFC 3339 timestamp: a parse that succeeds gives a real date whose day count
 * converts back to it, and the epoch seconds fall on that day at that hour and minute. */
#include <stdint.h>
#include <stdlib.h>

#include "base/date.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    date_time t;
    int64_t epoch;
    int rc = date_parse_rfc3339((const char *)data, size, &t);
    REQUIRE(rc == date_rfc3339_epoch((const char *)data, size, &epoch));
    if (rc != 0) return 0;
    REQUIRE(date_valid(t.year, t.month, t.day) && t.hour <= 23 && t.minute <= 59 && t.second <= 60);
    REQUIRE(t.nanos < 1000000000u && (t.frac_digits > 0 || t.nanos == 0));
    REQUIRE(t.offset_s > -86400 && t.offset_s < 86400 && t.offset_s % 60 == 0);
    int64_t days = date_days_from_civil(t.year, t.month, t.day), y;
    int m, d;
    date_civil_from_days(days, &y, &m, &d);
    REQUIRE(y == t.year && m == t.month && d == t.day);
    REQUIRE(epoch == date_time_epoch(&t));
    int64_t into_day = epoch + t.offset_s - days * 86400; /* local time of day, in seconds */
    REQUIRE(into_day >= 0 && into_day < 86400 && into_day / 3600 == t.hour && into_day / 60 % 60 == t.minute);
    return 0;
}
