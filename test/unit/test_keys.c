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

int main(void) {
    RUN(test_classify);
    TEST_MAIN_END();
}
