#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sources/checkpoint.h"
#include "sources/trail_layout.h"
#include "testlib.h"

#define SRC "s3://trail/logs/"
#define TGT "dir:/tmp/out"

static int32_t D(const char *s) { return trail_parse_day(s); }

static char *format(checkpoint *cp) {
    static buf b;
    buf_free(&b);
    buf_init(&b, 1 << 20);
    if (checkpoint_format(cp, &b) != 0 || buf_terminate(&b) != 0) return NULL;
    return b.data;
}

static void test_ranges(void) {
    checkpoint *cp = checkpoint_new(SRC, TGT);
    CHECK(cp != NULL);
    checkpoint_series *s = checkpoint_series_get(cp, "111122223333/us-east-1");
    CHECK(s != NULL);
    CHECK(checkpoint_series_get(cp, "111122223333/us-east-1") == s);
    CHECK_EQ_INT(checkpoint_dirty(cp), 0);
    /* out of order, with gaps, then the gaps filled */
    const char *days[] = {"2024-05-03", "2024-05-01", "2024-05-07", "2024-05-02", "2024-05-05", "2024-05-05"};
    for (size_t i = 0; i < 6; i++) CHECK_EQ_INT(checkpoint_mark(cp, s, D(days[i])), 0);
    CHECK_EQ_INT(checkpoint_dirty(cp), 1);
    CHECK(checkpoint_is_done(s, D("2024-05-02")));
    CHECK(!checkpoint_is_done(s, D("2024-05-04")));
    CHECK(!checkpoint_is_done(s, D("2024-04-30")));
    CHECK(!checkpoint_is_done(s, D("2024-05-08")));
    CHECK_EQ_INT(checkpoint_count_done(s, D("2024-05-01"), D("2024-05-31")), 5);
    CHECK_EQ_INT(checkpoint_count_done(s, D("2024-05-02"), D("2024-05-05")), 3);
    CHECK_EQ_INT(checkpoint_count_done(s, D("2024-06-01"), D("2024-06-30")), 0);
    const char *text = format(cp);
    CHECK(text && strstr(text, "\ndone 111122223333/us-east-1 2024-05-01..2024-05-03,2024-05-05,2024-05-07\n"));
    CHECK_EQ_INT(checkpoint_dirty(cp), 0);
    CHECK_EQ_INT(checkpoint_mark(cp, s, D("2024-05-06")), 0);
    CHECK_EQ_INT(checkpoint_mark(cp, s, D("2024-05-04")), 0);
    text = format(cp);
    CHECK(text && strstr(text, "\ndone 111122223333/us-east-1 2024-05-01..2024-05-07\n"));
    /* a whole year, marked backwards, stays one range */
    checkpoint_series *t = checkpoint_series_get(cp, "o-abcdefghij/444455556666/eu-west-1");
    CHECK(t != NULL);
    for (int32_t d = D("2023-12-31"); d >= D("2023-01-01"); d--) checkpoint_mark(cp, t, d);
    text = format(cp);
    CHECK(text && strstr(text, "\ndone o-abcdefghij/444455556666/eu-west-1 2023-01-01..2023-12-31\n"));
    CHECK_EQ_INT(checkpoint_count_done(t, D("2023-01-01"), D("2023-12-31")), 365);
    /* malformed names */
    CHECK(checkpoint_series_get(cp, "111122223333") == NULL);
    CHECK(checkpoint_series_get(cp, "1111/us-east-1") == NULL);
    CHECK(checkpoint_series_get(cp, "111122223333/us-east-1/x") == NULL);
    CHECK(checkpoint_series_get(cp, "o-abc/111122223333/us-east-1") == NULL);
    CHECK(checkpoint_series_get(cp, "") == NULL);
    CHECK_EQ_INT(checkpoint_series_count(cp), 2);
    checkpoint_free(cp);
    CHECK(checkpoint_new("", TGT) == NULL);
    CHECK(checkpoint_new(SRC, "dir:a\nb") == NULL);
}

static void test_many_series(void) {
    checkpoint *cp = checkpoint_new(SRC, TGT);
    char name[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "%012d/us-east-%d", i, i % 3 + 1);
        checkpoint_series *s = checkpoint_series_get(cp, name);
        CHECK(s != NULL);
        if (s) checkpoint_mark(cp, s, 19000 + i % 7);
    }
    CHECK_EQ_INT(checkpoint_series_count(cp), 5000);
    snprintf(name, sizeof name, "%012d/us-east-%d", 4321, 4321 % 3 + 1);
    checkpoint_series *s = checkpoint_series_get(cp, name);
    CHECK(s && checkpoint_is_done(s, 19000 + 4321 % 7));
    CHECK_EQ_INT(checkpoint_series_count(cp), 5000);
    checkpoint_free(cp);
}

/* A fresh checkpoint of SRC/TGT with text parsed into it (which must succeed). */
static checkpoint *parsed(const char *text) {
    checkpoint *cp = checkpoint_new(SRC, TGT);
    char why[256] = "";
    CHECK_EQ_INT(checkpoint_parse(cp, text, strlen(text), why, sizeof why), 0);
    return cp;
}

static void test_parse_round_trip(void) {
    const char *text = "# comment\n"
                       "ctindex-checkpoint 1\n"
                       "source " SRC "\n"
                       "target " TGT "\n"
                       "\n"
                       "done 111122223333/us-east-1 2024-05-09,2024-05-01..2024-05-07,2024-05-08\n"
                       "done o-abcdefghij/444455556666/eu-west-1 2024-05-01\n"
                       "end\n";
    checkpoint *cp = parsed(text);
    checkpoint_series *s = checkpoint_series_get(cp, "111122223333/us-east-1");
    CHECK_EQ_INT(checkpoint_count_done(s, D("2024-05-01"), D("2024-05-31")), 9);
    const char *out = format(cp);
    CHECK(out && strstr(out, "done 111122223333/us-east-1 2024-05-01..2024-05-09\n"
                             "done o-abcdefghij/444455556666/eu-west-1 2024-05-01\nend\n"));
    /* formatting what was parsed parses to the same text */
    char *copy = strdup(out);
    checkpoint *again = parsed(copy);
    CHECK_EQ_STR(format(again), copy);
    free(copy);
    checkpoint_free(again);
    checkpoint_free(cp);
}

/* A checkpoint written before Insights were replayed loads as it is; the Insights series of the
 * same account and region is a series of its own, empty until its days finish, and is saved
 * beside the log series. */
static void test_insight_series(void) {
    const char *old = "ctindex-checkpoint 1\n"
                      "source " SRC "\n"
                      "target " TGT "\n"
                      "done 111122223333/us-east-1 2024-05-01..2024-05-07\n"
                      "end\n";
    checkpoint *cp = parsed(old);
    checkpoint_series *logs = checkpoint_series_get(cp, "111122223333/us-east-1");
    checkpoint_series *ins = checkpoint_series_get(cp, "111122223333/CloudTrail-Insight/us-east-1");
    CHECK(logs && ins && logs != ins);
    CHECK_EQ_INT(checkpoint_count_done(logs, D("2024-05-01"), D("2024-05-31")), 7);
    CHECK_EQ_INT(checkpoint_count_done(ins, D("2024-05-01"), D("2024-05-31")), 0);
    CHECK_EQ_INT(checkpoint_mark(cp, ins, D("2024-05-02")), 0);
    CHECK(checkpoint_series_get(cp, "o-abcdefghij/444455556666/CloudTrail-Insight/eu-west-1") != NULL);
    CHECK(checkpoint_series_get(cp, "111122223333/CloudTrail-Digest/us-east-1") == NULL);
    const char *out = format(cp);
    CHECK(out && strstr(out, "done 111122223333/CloudTrail-Insight/us-east-1 2024-05-02\n"
                             "done 111122223333/us-east-1 2024-05-01..2024-05-07\nend\n"));
    char *copy = strdup(out);
    checkpoint *again = parsed(copy);
    CHECK(
        checkpoint_is_done(checkpoint_series_get(again, "111122223333/CloudTrail-Insight/us-east-1"), D("2024-05-02")));
    CHECK(!checkpoint_is_done(checkpoint_series_get(again, "111122223333/us-east-1"), D("2024-05-08")));
    free(copy);
    checkpoint_free(again);
    checkpoint_free(cp);
}

static void expect_refused(const char *text, const char *source, const char *target, const char *reason) {
    checkpoint *cp = checkpoint_new(source, target);
    char why[512] = "";
    int rc = checkpoint_parse(cp, text, strlen(text), why, sizeof why);
    CHECK_EQ_INT(rc, -1);
    if (!strstr(why, reason)) {
        fprintf(stderr, "  expected '%s' in '%s'\n", reason, why);
        test_failures++;
    }
    checkpoint_free(cp);
}

static void test_refused(void) {
    const char *head = "ctindex-checkpoint 1\nsource " SRC "\ntarget " TGT "\n";
    char t[1024];
    expect_refused("ctindex-checkpoint 2\nend\n", SRC, TGT, "another version");
    snprintf(t, sizeof t, "%sdone 111122223333/us-east-1 2024-05-01\n", head);
    expect_refused(t, SRC, TGT, "truncated (no 'end'");
    snprintf(t, sizeof t, "%sdone 111122223333/us-east-1 2024-05-01\nend", head);
    expect_refused(t, SRC, TGT, "truncated (no newline");
    snprintf(t, sizeof t, "%send\n", head);
    expect_refused(t, "s3://other/", TGT, "belongs to a replay of s3://trail/logs/");
    expect_refused(t, SRC, "opensearch:http://x", "belongs to a replay into dir:/tmp/out");
    snprintf(t, sizeof t, "%sdone 111122223333/us-east-1 2024-05-03..2024-05-01\nend\n", head);
    expect_refused(t, SRC, TGT, "line 4: days must be");
    snprintf(t, sizeof t, "%sdone 111122223333/us-east-1 2024-02-30\nend\n", head);
    expect_refused(t, SRC, TGT, "days must be");
    snprintf(t, sizeof t, "%sdone 111122223333/us-east-1 2024-05-01,\nend\n", head);
    expect_refused(t, SRC, TGT, "days must be");
    snprintf(t, sizeof t, "%sdone 1111/us-east-1 2024-05-01\nend\n", head);
    expect_refused(t, SRC, TGT, "not a series name");
    snprintf(t, sizeof t, "%sdone 111122223333/us-east-1\nend\n", head);
    expect_refused(t, SRC, TGT, "needs a series and days");
    snprintf(t, sizeof t, "%sdone 111122223333/us-east-1 2024-05-01\nend\ndone 111122223333/us-east-1 2024-05-02\n",
             head);
    expect_refused(t, SRC, TGT, "after 'end'");
    snprintf(t, sizeof t, "%ssomething else\nend\n", head);
    expect_refused(t, SRC, TGT, "unknown line");
    expect_refused("ctindex-checkpoint 1\ndone 111122223333/us-east-1 2024-05-01\nend\n", SRC, TGT, "before 'source'");
    const char nul[] = "ctindex-checkpoint 1\n\0\n";
    checkpoint *cp = checkpoint_new(SRC, TGT);
    char why[128];
    CHECK_EQ_INT(checkpoint_parse(cp, nul, sizeof nul - 1, why, sizeof why), -1);
    checkpoint_free(cp);
}

static void test_files(void) {
    char dir[] = "/tmp/ctindex-cp-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], why[512];
    snprintf(path, sizeof path, "%s/replay.checkpoint", dir);
    checkpoint *cp = checkpoint_new(SRC, TGT);
    CHECK_EQ_INT(checkpoint_load(cp, path, why, sizeof why), 1); /* absent: a new replay */
    checkpoint_series *s = checkpoint_series_get(cp, "111122223333/us-east-1");
    checkpoint_mark(cp, s, D("2024-05-02"));
    CHECK_EQ_INT(checkpoint_save(cp, path, why, sizeof why), 0);
    CHECK_EQ_INT(checkpoint_dirty(cp), 0);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0); /* renamed away */
    checkpoint *back = checkpoint_new(SRC, TGT);
    CHECK_EQ_INT(checkpoint_load(back, path, why, sizeof why), 0);
    CHECK(checkpoint_is_done(checkpoint_series_get(back, "111122223333/us-east-1"), D("2024-05-02")));
    checkpoint_free(back);
    /* another replay's checkpoint is refused with the reason */
    checkpoint *other = checkpoint_new("s3://elsewhere/", TGT);
    CHECK_EQ_INT(checkpoint_load(other, path, why, sizeof why), -1);
    CHECK(strstr(why, "belongs to a replay of") != NULL);
    checkpoint_free(other);
    /* saving into a folder that does not exist fails and says why */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/missing/cp", dir);
    CHECK_EQ_INT(checkpoint_save(cp, bad, why, sizeof why), -1);
    CHECK(strstr(why, "cannot create") != NULL);
    checkpoint_free(cp);
    /* one replay at a time per checkpoint */
    int a = checkpoint_lock(path, why, sizeof why);
    CHECK(a >= 0);
    CHECK_EQ_INT(checkpoint_lock(path, why, sizeof why), -1);
    CHECK(strstr(why, "held by another replay") != NULL);
    if (a >= 0) close(a);
    int b = checkpoint_lock(path, why, sizeof why);
    CHECK(b >= 0);
    if (b >= 0) close(b);
    char lock[300];
    snprintf(lock, sizeof lock, "%s.lock", path);
    unlink(lock);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    RUN(test_ranges);
    RUN(test_many_series);
    RUN(test_parse_round_trip);
    RUN(test_insight_series);
    RUN(test_refused);
    RUN(test_files);
    TEST_MAIN_END();
}
