/* The index sink (sinks/index): a batch is done with ok only once each of its documents is stored
 * or dead-lettered. A document the index refuses while the dead-letter file cannot be written
 * (/dev/full: ENOSPC on every write) fails its batch: the indexer then acknowledges none of its
 * records (a replay reports their file and exits 1, a run leaves the message on the queue); the
 * documents stored with it are found by id when the records come back. With a dead-letter file
 * that can be written, the refused document is in it with its reason and source, and the batch
 * is done with ok. A refused document whose raw value the builder left out (its record kept
 * beside it) is dead-lettered whole, raw put back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "index/ix_store.h"
#include "pipeline/batch.h"
#include "pipeline/deadletter.h"
#include "pipeline/docbuild.h"
#include "sinks/index/sink_index.h"
#include "testlib.h"

#define SOURCE "111122223333_CloudTrail_us-east-1_20240501T0000Z_x.json.gz"

static int done_calls, done_ok;

static void on_done(void *ud, batch *b, int ok) {
    (void)ud;
    (void)b;
    done_calls++;
    done_ok = ok;
}

static void add_doc(batch *b, const char *doc) {
    size_t avail = 0;
    char *space = batch_space(b, &avail);
    CHECK(space != NULL && avail >= strlen(doc));
    memcpy(space, doc, strlen(doc));
    CHECK_EQ_INT(batch_commit(b, strlen(doc), NULL, SOURCE), 0);
}

/* One good document and one the index refuses (a field the schema does not have). */
static void fill(batch *b) {
    add_doc(b, "{\"type\":\"add\",\"id\":\"good-1\",\"fields\":{\"event_name\":\"GetObject\","
               "\"event_time\":\"2024-05-01T00:00:00Z\"}}");
    add_doc(b, "{\"type\":\"add\",\"id\":\"bad-1\",\"fields\":{\"nosuchfield\":\"x\"}}");
}

/* Two documents built as the indexer builds them for the index sink (raw left out, records and
 * field lists kept); the second one's list is made wrong, so the index refuses it. */
static const char *REC2 =
    "{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-05-01T00:00:00Z\",\"eventSource\":"
    "\"s3.amazonaws.com\",\"eventName\":\"GetObject\",\"requestParameters\":{\"bucketName\":\"uniqueMarker42\"},"
    "\"eventID\":\"kept-2\"}";
static void fill_kept(batch *b) {
    CHECK_EQ_INT(batch_keep_records(b), 0);
    doc_builder *db = docb_new(NULL);
    CHECK(db != NULL);
    const char *recs[] = {"{\"eventTime\":\"2024-05-01T00:00:00Z\",\"eventName\":\"A\",\"eventID\":\"kept-1\"}", REC2};
    for (int i = 0; i < 2; i++) {
        size_t avail = 0;
        char *space = batch_space(b, &avail);
        docb_fields fl = {0};
        fl.fields = batch_field_space(b, &fl.cap);
        fl.skip_raw = 1;
        docb_result res;
        long n = docb_build_fields(db, recs[i], strlen(recs[i]), space, avail, &fl, &res);
        CHECK(n > 0 && fl.complete && res.raw_unwritten > 0);
        if (i == 1) fl.fields[0].fid++; /* not the field its key names */
        batch_kept k = {recs[i] + res.record_at, res.record_len, res.raw_at, res.raw_len, res.raw_unwritten, fl.n};
        CHECK_EQ_INT(batch_commit_kept(b, (size_t)n, NULL, SOURCE, &k), 0);
        batch_flag_last(b, BATCH_DOC_DERIVED);
    }
    docb_free(db);
}

/* Submits b to a new index sink at path (dead-letter file dead_path) and waits for its answer;
 * *out gets the sink's counters. */
static int store_batch(const char *path, const char *dead_path, sink_stats *out, void (*fill_fn)(batch *b)) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    deadletter *dead = deadletter_open(dead_path, 0);
    CHECK(dead != NULL);
    sink *s = sink_index_open(&loop, path, 0, dead);
    CHECK(s != NULL);
    batch b;
    CHECK_EQ_INT(batch_init(&b, BATCH_SDF, 0, 0), 0);
    fill_fn(&b);
    s->done = on_done;
    done_calls = 0;
    done_ok = -1;
    sink_submit(s, &b);
    for (int i = 0; i < 100000 && done_calls == 0; i++) uv_run(&loop, UV_RUN_ONCE);
    CHECK_EQ_INT(done_calls, 1);
    *out = s->stats;
    sink_close(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    deadletter_close(dead);
    batch_free(&b);
    return done_ok;
}

static int store(const char *path, const char *dead_path, sink_stats *out) {
    return store_batch(path, dead_path, out, fill);
}

/* The lines of the dead-letter file at path, each checked to hold every string of want. */
static int dead_lines(const char *path, const char *const *want) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    static char line[1 << 16];
    int lines = 0;
    while (f && fgets(line, sizeof line, f)) {
        lines++;
        for (const char *const *w = want; *w; w++) CHECK(strstr(line, *w) != NULL);
    }
    if (f) fclose(f);
    return lines;
}

static long long docs_in(const char *path) {
    char err[512];
    ix_store *ix = ix_open(path, IX_READ, err, sizeof err);
    CHECK(ix != NULL);
    long long n = ix ? (long long)ix_doc_count(ix) : -1;
    ix_close(ix);
    return n;
}

static void test_dead_letter_full(void) {
    if (access("/dev/full", W_OK) != 0) {
        printf("no /dev/full: skipped\n");
        return;
    }
    char dir[] = "/tmp/ctindex-sink-index-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/index.db", dir);
    sink_stats st;
    CHECK_EQ_INT(store(path, "/dev/full", &st), 0); /* not acknowledged */
    CHECK_EQ_INT(st.batches, 1);
    CHECK_EQ_INT(st.batches_failed, 1);
    CHECK_EQ_INT(st.dead_lettered, 0);
    CHECK_EQ_INT(st.docs_accepted, 0);
    CHECK_EQ_INT(docs_in(path), 1); /* the good one, found by id when the records come back */

    /* the records come back: once the dead-letter file can be written, the batch is done */
    char dead_path[160];
    snprintf(dead_path, sizeof dead_path, "%s/dead.jsonl", dir);
    CHECK_EQ_INT(store(path, dead_path, &st), 1);
    CHECK_EQ_INT(st.batches_failed, 0);
    CHECK_EQ_INT(st.dead_lettered, 1);
    CHECK_EQ_INT(st.docs_accepted, 1);
    CHECK_EQ_INT(docs_in(path), 1); /* replaced, not duplicated */
    static const char *const want[] = {"\"document\"", "nosuchfield", SOURCE, "bad-1", NULL};
    CHECK_EQ_INT(dead_lines(dead_path, want), 1);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* The refused document in the dead-letter file is the whole one: raw's value is there. */
static void test_dead_letter_whole(void) {
    char dir[] = "/tmp/ctindex-sink-index-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128], dead_path[160];
    snprintf(path, sizeof path, "%s/index.db", dir);
    snprintf(dead_path, sizeof dead_path, "%s/dead.jsonl", dir);
    sink_stats st;
    CHECK_EQ_INT(store_batch(path, dead_path, &st, fill_kept), 1);
    CHECK_EQ_INT(st.dead_lettered, 1);
    CHECK_EQ_INT(st.docs_accepted, 1);
    CHECK_EQ_INT(docs_in(path), 1);
    /* raw put back: no field holds uniqueMarker42 */
    static const char *const want[] = {"kept-2", "field list", "uniqueMarker42", "s3.amazonaws.com", NULL};
    CHECK_EQ_INT(dead_lines(dead_path, want), 1);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

int main(void) {
    RUN(test_dead_letter_full);
    RUN(test_dead_letter_whole);
    return test_failures ? 1 : 0;
}
