/* The index sink (sinks/index): a batch is done with ok only once each of its documents is stored
 * or dead-lettered. A document the index refuses while the dead-letter file cannot be written
 * (/dev/full: ENOSPC on every write) fails its batch: the indexer then acknowledges none of its
 * records (a replay reports their file and exits 1, a run leaves the message on the queue); the
 * documents stored with it are found by id when the records come back. With a dead-letter file
 * that can be written, the refused document is in it with its reason and source, and the batch
 * is done with ok. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "index/ix_store.h"
#include "pipeline/batch.h"
#include "pipeline/deadletter.h"
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

/* Submits b to a new index sink at path (dead-letter file dead_path) and waits for its answer;
 * *out gets the sink's counters. */
static int store(const char *path, const char *dead_path, sink_stats *out) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    deadletter *dead = deadletter_open(dead_path, 0);
    CHECK(dead != NULL);
    sink *s = sink_index_open(&loop, path, 0, dead);
    CHECK(s != NULL);
    batch b;
    CHECK_EQ_INT(batch_init(&b, BATCH_SDF, 0, 0), 0);
    fill(&b);
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
    FILE *f = fopen(dead_path, "r");
    CHECK(f != NULL);
    char line[4096] = "";
    int lines = 0;
    while (f && fgets(line, sizeof line, f)) {
        lines++;
        CHECK(strstr(line, "\"document\"") != NULL);
        CHECK(strstr(line, "nosuchfield") != NULL);
        CHECK(strstr(line, SOURCE) != NULL);
        CHECK(strstr(line, "bad-1") != NULL);
    }
    if (f) fclose(f);
    CHECK_EQ_INT(lines, 1);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

int main(void) {
    RUN(test_dead_letter_full);
    return test_failures ? 1 : 0;
}
