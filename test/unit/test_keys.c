#include "sources/trail_key.h"
#include "testlib.h"

#define K(s) s, strlen(s)

static void test_classify(void) {
    CHECK_EQ_INT(key_classify(K("AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/"
                                "111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz")),
                 KEY_LOG);
    CHECK_EQ_INT(key_classify(K("p/AWSLogs/o-abc/111122223333/CloudTrail-Digest/us-east-2/2015/08/01/x.json.gz")),
                 KEY_DIGEST);
    CHECK_EQ_INT(key_classify(K("AWSLogs/111122223333/CloudTrail-Insight/us-east-2/2015/08/01/x.json.gz")),
                 KEY_INSIGHT);
    CHECK_EQ_INT(key_classify(K("AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/")), KEY_FOLDER);
    CHECK_EQ_INT(key_classify(K("AWSLogs/111122223333/Config/us-east-2/x.txt")), KEY_OTHER);
    CHECK_EQ_INT(key_classify(K("local/file.json")), KEY_LOG);
    CHECK_EQ_INT(key_classify(K("")), KEY_FOLDER);
    /* Names that may hold records, whatever the shape inside: read and judged by content. */
    CHECK_EQ_INT(key_classify(K("export/events.jsonl")), KEY_LOG);
    CHECK_EQ_INT(key_classify(K("export/events.NDJSON")), KEY_LOG);
    CHECK_EQ_INT(key_classify(K("export/events.ndjson.gz")), KEY_LOG);
    CHECK_EQ_INT(key_classify(K("cloudtrail.log")), KEY_LOG);
    CHECK_EQ_INT(key_classify(K("fh/2024/05/01/10/ct-stream-1-2024-05-01-10-00-00-0a1b2c3d-4e5f")), KEY_LOG);
    CHECK_EQ_INT(key_classify(K("fh/2024/05/01/10/my.stream-1-2024-05-01-10-00-00-0a1b2c3d-4e5f")), KEY_LOG);
    CHECK_EQ_INT(key_classify(K("README")), KEY_LOG);
    CHECK_EQ_INT(key_classify(K("notes/a.csv")), KEY_OTHER);
    CHECK_EQ_INT(key_classify(K("notes/a.json.bz2")), KEY_OTHER);
    CHECK_EQ_INT(key_classify(K("logs/.DS_Store")), KEY_OTHER);
    CHECK_EQ_INT(key_classify(K("v1.2/x.json")), KEY_LOG);
}

static void test_stamp(void) {
    CHECK(key_stamp(K("AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/"
                      "111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz")) == 201508010210LL);
    CHECK(key_stamp(K("111122223333_CloudTrail-Insight_eu-west-1_20240501T2355Z_x.json.gz")) == 202405012355LL);
    /* the name's stamp only, never a folder's */
    CHECK(key_stamp(K("a_20150801T0210Z_b/plain.json")) == -1);
    CHECK(key_stamp(K("fh/2024/05/01/10/ct-stream-1-2024-05-01-10-00-00-0a1b2c3d-4e5f")) == -1);
    CHECK(key_stamp(K("x_2015080xT0210Z_y.json")) == -1);
    CHECK(key_stamp(K("x_20150801T0210Z")) == -1); /* no '_' after it: not CloudTrail's shape */
    CHECK(key_stamp(K("")) == -1);
}

/* Two regions' files: path order reads eu-west-1 whole, then us-east-1; a replay reads them by
 * the time in their names, then stamp-less names by path. */
static int cmp_for_qsort(const void *a, const void *b) { return key_replay_cmp(*(char *const *)a, *(char *const *)b); }

static void test_replay_order(void) {
    const char *files[] = {
        "notes/z.json",
        "AWSLogs/1/CloudTrail/us-east-1/2024/05/01/1_CloudTrail_us-east-1_20240501T0005Z_b.json.gz",
        "AWSLogs/1/CloudTrail/eu-west-1/2024/05/02/1_CloudTrail_eu-west-1_20240502T0000Z_c.json.gz",
        "AWSLogs/1/CloudTrail/eu-west-1/2024/05/01/1_CloudTrail_eu-west-1_20240501T0005Z_a.json.gz",
        "AWSLogs/1/CloudTrail/us-east-1/2024/05/01/1_CloudTrail_us-east-1_20240501T2355Z_d.json.gz",
        "notes/a.json",
    };
    const char *want[] = {
        "AWSLogs/1/CloudTrail/eu-west-1/2024/05/01/1_CloudTrail_eu-west-1_20240501T0005Z_a.json.gz",
        "AWSLogs/1/CloudTrail/us-east-1/2024/05/01/1_CloudTrail_us-east-1_20240501T0005Z_b.json.gz",
        "AWSLogs/1/CloudTrail/us-east-1/2024/05/01/1_CloudTrail_us-east-1_20240501T2355Z_d.json.gz",
        "AWSLogs/1/CloudTrail/eu-west-1/2024/05/02/1_CloudTrail_eu-west-1_20240502T0000Z_c.json.gz",
        "notes/a.json",
        "notes/z.json",
    };
    size_t n = sizeof files / sizeof files[0];
    qsort(files, n, sizeof files[0], cmp_for_qsort);
    for (size_t i = 0; i < n; i++) CHECK_EQ_STR(files[i], want[i]);
    for (size_t i = 0; i < n; i++) CHECK_EQ_INT(key_replay_cmp(want[i], want[i]), 0);
    for (size_t i = 0; i + 1 < n; i++) {
        CHECK(key_replay_cmp(want[i], want[i + 1]) < 0);
        CHECK(key_replay_cmp(want[i + 1], want[i]) > 0);
    }
}

int main(void) {
    RUN(test_classify);
    RUN(test_stamp);
    RUN(test_replay_order);
    TEST_MAIN_END();
}
