#include "sources/trail_layout.h"
#include "testlib.h"

static void test_s3_url(void) {
    char b[64], p[TRAIL_MAX_PREFIX + 2], why[128];
    CHECK_EQ_INT(trail_parse_s3_url("s3://my-trail", b, sizeof b, p, sizeof p, why, sizeof why), 0);
    CHECK_EQ_STR(b, "my-trail");
    CHECK_EQ_STR(p, "");
    CHECK_EQ_INT(trail_parse_s3_url("s3://my-trail/", b, sizeof b, p, sizeof p, why, sizeof why), 0);
    CHECK_EQ_STR(p, "");
    CHECK_EQ_INT(trail_parse_s3_url("s3://b.example/org/logs", b, sizeof b, p, sizeof p, why, sizeof why), 0);
    CHECK_EQ_STR(b, "b.example");
    CHECK_EQ_STR(p, "org/logs/");
    CHECK_EQ_INT(trail_parse_s3_url("s3://b.example/org/logs/", b, sizeof b, p, sizeof p, why, sizeof why), 0);
    CHECK_EQ_STR(p, "org/logs/");
    static const char *const bad[] = {"my-trail",    "s3://",         "s3://ab",       "s3://has space/x",
                                      "s3://b-b//x", "s3://bbb/a//b", "s3://bbb/a\tb", "http://bbb/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        CHECK_EQ_INT(trail_parse_s3_url(bad[i], b, sizeof b, p, sizeof p, why, sizeof why), -1);
        CHECK(why[0] != '\0');
    }
    char longp[700] = "s3://bucket/";
    memset(longp + 12, 'a', 600);
    longp[612] = '\0';
    CHECK_EQ_INT(trail_parse_s3_url(longp, b, sizeof b, p, sizeof p, why, sizeof why), -1);
}

static void test_days(void) {
    CHECK_EQ_INT(trail_parse_day("1970-01-01"), 0);
    CHECK_EQ_INT(trail_parse_day("1970-01-02"), 1);
    CHECK_EQ_INT(trail_parse_day("2000-03-01"), 11017);
    CHECK_EQ_INT(trail_parse_day("2024-05-01"), 19844);
    CHECK_EQ_INT(trail_parse_day("9999-12-31"), TRAIL_DAY_MAX);
    CHECK_EQ_INT(trail_parse_day("2024-02-29"), trail_parse_day("2024-02-28") + 1);
    CHECK_EQ_INT(trail_parse_day("2024-03-01"), trail_parse_day("2024-02-29") + 1);
    CHECK_EQ_INT(trail_parse_day("2023-03-01"), trail_parse_day("2023-02-28") + 1);
    static const char *const bad[] = {"2023-02-29",  "2023-02-30", "2024-13-01", "2024-00-10",
                                      "2024-04-31",  "1969-12-31", "2024-5-01",  "2024/05/01",
                                      "2024-05-01x", "",           "abcd-ef-gh"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_EQ_INT(trail_parse_day(bad[i]), -1);
    CHECK_EQ_INT(trail_parse_day(NULL), -1);
    /* every day of four centuries round-trips */
    char s[11];
    int bad_round = 0;
    for (int32_t d = 0; d < 146097 * 2; d++) {
        trail_format_day(d, s);
        if (trail_parse_day(s) != d) bad_round++;
    }
    CHECK_EQ_INT(bad_round, 0);
    trail_format_day(19844, s);
    CHECK_EQ_STR(s, "2024-05-01");
    CHECK_EQ_INT(trail_day_of_time(1714521600), 19844); /* 2024-05-01T00:00:00Z */
    CHECK_EQ_INT(trail_day_of_time(1714521600 - 1), 19843);
}

static void test_prefixes(void) {
    char out[1200];
    CHECK_EQ_INT(trail_logs_prefix("", out, sizeof out), 0);
    CHECK_EQ_STR(out, "AWSLogs/");
    CHECK_EQ_INT(trail_logs_prefix("a/b/", out, sizeof out), 0);
    CHECK_EQ_STR(out, "a/b/AWSLogs/");
    CHECK_EQ_INT(trail_series_prefix("p/", "", "111122223333", "us-east-1", 0, out, sizeof out), 0);
    CHECK_EQ_STR(out, "p/AWSLogs/111122223333/CloudTrail/us-east-1/");
    CHECK_EQ_INT(trail_series_prefix("p/", "", "111122223333", "us-east-1", 1, out, sizeof out), 0);
    CHECK_EQ_STR(out, "p/AWSLogs/111122223333/CloudTrail-Insight/us-east-1/");
    CHECK_EQ_INT(trail_series_prefix("", "o-abcdefghij", "111122223333", "eu-west-1", 0, out, sizeof out), 0);
    CHECK_EQ_STR(out, "AWSLogs/o-abcdefghij/111122223333/CloudTrail/eu-west-1/");
    char day[1300];
    CHECK_EQ_INT(trail_day_prefix(out, trail_parse_day("2024-02-09"), day, sizeof day), 0);
    CHECK_EQ_STR(day, "AWSLogs/o-abcdefghij/111122223333/CloudTrail/eu-west-1/2024/02/09/");
    CHECK_EQ_INT(trail_day_prefix(out, 0, day, 20), -1);
    CHECK_EQ_INT(trail_series_name(NULL, "111122223333", "us-east-1", 0, out, sizeof out), 0);
    CHECK_EQ_STR(out, "111122223333/us-east-1");
    CHECK_EQ_INT(trail_series_name("o-abcdefghij", "111122223333", "us-east-1", 0, out, sizeof out), 0);
    CHECK_EQ_STR(out, "o-abcdefghij/111122223333/us-east-1");
    CHECK_EQ_INT(trail_series_name("", "111122223333", "us-east-1", 1, out, sizeof out), 0);
    CHECK_EQ_STR(out, "111122223333/CloudTrail-Insight/us-east-1");
    CHECK_EQ_INT(trail_series_name("o-abcdefghij", "111122223333", "us-east-1", 1, out, sizeof out), 0);
    CHECK_EQ_STR(out, "o-abcdefghij/111122223333/CloudTrail-Insight/us-east-1");
    /* every name it makes is a series name; nothing else is */
    CHECK(trail_is_series_name(out, strlen(out)));
    static const char *const good[] = {"111122223333/us-east-1", "o-abcdefghij/111122223333/us-east-1",
                                       "111122223333/CloudTrail-Insight/us-east-1", TRAIL_DATED_SERIES};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) CHECK(trail_is_series_name(good[i], strlen(good[i])));
    static const char *const bad[] = {"",
                                      "111122223333",
                                      "111122223333/",
                                      "1111/us-east-1",
                                      "111122223333/us-east-1/x",
                                      "o-abc/111122223333/us-east-1",
                                      "111122223333/CloudTrail-Digest/us-east-1",
                                      "111122223333/CloudTrail/us-east-1",
                                      "111122223333/us-east-1/CloudTrail-Insight",
                                      "CloudTrail-Insight/us-east-1",
                                      "o-abcdefghij/111122223333/CloudTrail-Insight/us-east-1/x",
                                      "o-abcdefghij/CloudTrail-Insight/us-east-1",
                                      "YYYY/MM/DD/x",
                                      "YYYY/MM"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (trail_is_series_name(bad[i], strlen(bad[i]))) fprintf(stderr, "taken for a series name: %s\n", bad[i]);
        CHECK(!trail_is_series_name(bad[i], strlen(bad[i])));
    }
}

static void test_segments(void) {
    size_t n = 0;
    const char *s = trail_last_segment("x/AWSLogs/o-abcdefghij/", &n);
    CHECK(s && n == 12 && memcmp(s, "o-abcdefghij", 12) == 0);
    s = trail_last_segment("111122223333/", &n);
    CHECK(s && n == 12);
    CHECK(trail_last_segment("x/AWSLogs", &n) == NULL);
    CHECK(trail_last_segment("x//", &n) == NULL);
    CHECK(trail_last_segment("/", &n) == NULL);
    CHECK(trail_is_account("111122223333", 12));
    CHECK(!trail_is_account("11112222333a", 12));
    CHECK(!trail_is_account("11112222333", 11));
    CHECK(trail_is_org("o-abcdefghij", 12));
    CHECK(!trail_is_org("o-abc", 5));
    CHECK(!trail_is_org("o-ABCDEFGHIJ", 12));
    CHECK(!trail_is_org("x-abcdefghij", 12));
    static const char *const regions[] = {"us-east-1", "us-gov-west-1", "cn-north-1", "ap-southeast-4", "il-central-1"};
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++)
        CHECK(trail_is_region(regions[i], strlen(regions[i])));
    static const char *const not_regions[] = {"us-east",    "US-EAST-1",  "-us-1",   "us--east-1",
                                              "us-east-1-", "1us-east-1", "useast1", "us_east_1"};
    for (size_t i = 0; i < sizeof not_regions / sizeof not_regions[0]; i++)
        CHECK(!trail_is_region(not_regions[i], strlen(not_regions[i])));
}

static void test_lists(void) {
    char acc[4][TRAIL_ACCOUNT_LEN + 1];
    char reg[3][TRAIL_MAX_REGION];
    int na = 0, nr = 0;
    char why[128];
    CHECK_EQ_INT(trail_add_accounts("111122223333,444455556666", acc, 4, &na, why, sizeof why), 0);
    CHECK_EQ_INT(trail_add_accounts("111122223333", acc, 4, &na, why, sizeof why), 0); /* duplicate: kept once */
    CHECK_EQ_INT(na, 2);
    CHECK_EQ_STR(acc[1], "444455556666");
    CHECK_EQ_INT(trail_add_accounts("12345", acc, 4, &na, why, sizeof why), -1);
    CHECK(strstr(why, "12345") != NULL);
    CHECK_EQ_INT(trail_add_accounts("111122223333,,444455556666", acc, 4, &na, why, sizeof why), -1);
    CHECK_EQ_INT(trail_add_accounts("", acc, 4, &na, why, sizeof why), -1);
    CHECK_EQ_INT(trail_add_accounts("777788889999,000011112222,333344445555", acc, 4, &na, why, sizeof why), -1);
    CHECK_EQ_INT(na, 4); /* filled up to the cap, then refused */
    CHECK_EQ_INT(trail_add_regions("us-east-1,eu-west-1", reg, 3, &nr, why, sizeof why), 0);
    CHECK_EQ_INT(nr, 2);
    CHECK_EQ_INT(trail_add_regions("us_east_1", reg, 3, &nr, why, sizeof why), -1);
    CHECK_EQ_INT(nr, 2);
}

int main(void) {
    RUN(test_s3_url);
    RUN(test_days);
    RUN(test_prefixes);
    RUN(test_segments);
    RUN(test_lists);
    TEST_MAIN_END();
}
