/* ingest: an object through gunzip -> splitter -> indexer, with a sink that holds batches until
 * the test completes them, so backpressure (INGEST_FULL / ingest_resume) is under control. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/batch.h"
#include "pipeline/deadletter.h"
#include "pipeline/indexer.h"
#include "pipeline/ingest.h"
#include "pipeline/rsplit.h"
#include "testlib.h"

/* ---- a sink that keeps what it is given ---- */

typedef struct held_sink {
    sink base;
    batch *held[8];
    int nheld;
} held_sink;

static void held_submit(sink *s, batch *b) {
    held_sink *h = (held_sink *)s;
    h->held[h->nheld++] = b;
}

static void held_close(sink *s) { (void)s; }

static const sink_ops held_ops = {"held", held_submit, held_close};

/* Complete the oldest held batch. */
static void held_complete(held_sink *h, int ok) {
    batch *b = h->held[0];
    memmove(h->held, h->held + 1, (size_t)(h->nheld - 1) * sizeof *h->held);
    h->nheld--;
    h->base.done(h->base.done_ud, b, ok);
}

typedef struct outcome {
    int calls, status;
} outcome;

static void on_done(ingest_obj *o, int status, void *ud) {
    (void)o;
    outcome *out = ud;
    out->calls++;
    out->status = status;
}

static const char *record(int i, char *buf, size_t cap) {
    snprintf(buf, cap,
             "{\"eventVersion\":\"1.08\",\"eventID\":\"id-%04d\",\"eventTime\":\"2024-05-01T00:00:00Z\","
             "\"eventName\":\"GetObject\",\"eventSource\":\"s3.amazonaws.com\",\"awsRegion\":\"us-east-1\"}",
             i);
    return buf;
}

/* {"Records":[r0,...,r(n-1)<tail> */
static size_t file_of(char *out, size_t cap, int n, const char *tail) {
    size_t len = (size_t)snprintf(out, cap, "{\"Records\":[");
    char rec[512];
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "", record(i, rec, sizeof rec));
    len += (size_t)snprintf(out + len, cap - len, "%s", tail);
    return len;
}

typedef struct rig {
    char file[8192];
    held_sink hs;
    indexer *ix;
    ingest_pipe *pipe;
    ingest_obj obj;
    outcome out;
} rig;

/* One batch of two documents in the pool: the third record finds the indexer busy. Feeds the
 * whole file {"Records":[n records<tail> at once; returns what ingest_feed said. */
static int rig_start(rig *r, int n, const char *tail) {
    memset(r, 0, sizeof *r);
    r->hs.base.ops = &held_ops;
    r->hs.base.max_in_flight = 1;
    indexer_options io;
    indexer_options_default(&io);
    io.batches = 1;
    io.batch_docs = 2;
    r->ix = indexer_new(&io, &r->hs.base);
    r->pipe = ingest_pipe_new(io.max_record);
    ingest_begin(&r->obj, r->ix, r->pipe, "test-object", on_done, &r->out);
    size_t len = file_of(r->file, sizeof r->file, n, tail);
    return ingest_feed(&r->obj, (const uint8_t *)r->file, len);
}

/* End of input; the batch being built goes out and is stored (ok): the object reports once. */
static void rig_end(rig *r, int want_end, int want_status) {
    ingest_pipe *back = NULL;
    CHECK_EQ_INT(ingest_end(&r->obj, &back), want_end);
    CHECK(back == r->pipe);
    CHECK_EQ_INT(r->out.calls, 0); /* the last records are still in the batch being built */
    indexer_flush(r->ix);
    held_complete(&r->hs, 1);
    CHECK_EQ_INT(r->out.calls, 1);
    CHECK_EQ_INT(r->out.status, want_status);
}

static void rig_free(rig *r) {
    ingest_obj_free(&r->obj);
    ingest_pipe_free(r->pipe);
    r->hs.nheld = 0;
    indexer_free(r->ix);
}

/* The whole file at once: two records fill the only batch, the third waits for space. */
static void test_backpressure_then_done(void) {
    static rig r;
    CHECK_EQ_INT(rig_start(&r, 5, "]}"), INGEST_FULL);
    CHECK(r.obj.stalled);
    CHECK_EQ_INT(r.hs.nheld, 1);
    held_complete(&r.hs, 1);
    CHECK_EQ_INT(ingest_resume(&r.obj), INGEST_FULL); /* records 3 and 4 fill it again */
    held_complete(&r.hs, 1);
    CHECK_EQ_INT(ingest_resume(&r.obj), INGEST_OK);
    CHECK(!r.obj.stalled);
    rig_end(&r, INGEST_OK, 0);
    CHECK_EQ_INT(r.obj.records, 5);
    CHECK_EQ_INT(r.obj.acked, 5);
    rig_free(&r);
}

/* A syntax error found while resuming (it was in the input kept back) fails the object and
 * leaves it not stalled: a stalled object's download stays paused until it is resumed, and an
 * object in error is never resumed, so it would wait forever. */
static void test_error_while_resuming_is_not_stalled(void) {
    static rig r;
    CHECK_EQ_INT(rig_start(&r, 3, ", ### not json"), INGEST_FULL);
    held_complete(&r.hs, 1);
    CHECK_EQ_INT(ingest_resume(&r.obj), INGEST_ERR);
    CHECK(r.obj.error);
    CHECK(!r.obj.stalled);
    CHECK_EQ_INT(ingest_feed(&r.obj, (const uint8_t *)"]}", 2), INGEST_ERR);
    rig_end(&r, INGEST_ERR, -1); /* after the third record, delivered before the error, is stored */
    CHECK_EQ_INT(r.obj.records, 3);
    CHECK_EQ_INT(r.obj.acked, 3);
    rig_free(&r);
}

/* A failed batch fails the object once its other records are in. */
static void test_failed_batch_fails_object(void) {
    static rig r;
    CHECK_EQ_INT(rig_start(&r, 2, "]}"), INGEST_OK);
    ingest_pipe *back = NULL;
    CHECK_EQ_INT(ingest_end(&r.obj, &back), INGEST_OK);
    CHECK_EQ_INT(r.out.calls, 0);
    held_complete(&r.hs, 0);
    CHECK_EQ_INT(r.out.calls, 1);
    CHECK_EQ_INT(r.out.status, -1);
    CHECK_EQ_INT(r.obj.failed, 2);
    rig_free(&r);
}

/* A record over the limit and an element that is no object are not dropped silently: each
 * becomes one dead-letter entry (source, offset in the inflated stream, size, first bytes),
 * counts as unusable, and the object still completes ok once its good records are stored. */
static void test_skipped_elements_dead_lettered(void) {
    char path[] = "/tmp/ctindex-ingest-dl-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    static held_sink hs;
    memset(&hs, 0, sizeof hs);
    hs.base.ops = &held_ops;
    hs.base.max_in_flight = 1;
    deadletter *dead = deadletter_open(path, 0);
    indexer_options io;
    indexer_options_default(&io);
    io.batches = 1;
    io.dead = dead;
    indexer *ix = indexer_new(&io, &hs.base);
    ingest_pipe *pipe = ingest_pipe_new(1024);
    static ingest_obj obj;
    outcome out = {0, 0};
    ingest_begin(&obj, ix, pipe, "s3://bucket/key.json.gz", on_done, &out);
    static char file[8192], big[3000];
    char r0[512], r1[512];
    size_t blen = (size_t)snprintf(big, sizeof big, "{\"eventID\":\"big\",\"pad\":\"");
    while (blen < 2000) big[blen++] = 'x';
    blen += (size_t)snprintf(big + blen, sizeof big - blen, "\"}");
    int prefix = snprintf(file, sizeof file, "{\"Records\":[%s,", record(0, r0, sizeof r0));
    int len = snprintf(file, sizeof file, "{\"Records\":[%s,%s, 42 ,%s]}", r0, big, record(1, r1, sizeof r1));
    size_t at42 = (size_t)prefix + blen + 2;
    CHECK_EQ_INT(ingest_feed(&obj, (const uint8_t *)file, (size_t)len), INGEST_OK);
    ingest_pipe *back = NULL;
    CHECK_EQ_INT(ingest_end(&obj, &back), INGEST_OK);
    indexer_flush(ix);
    held_complete(&hs, 1);
    CHECK_EQ_INT(out.calls, 1);
    CHECK_EQ_INT(out.status, 0);
    CHECK_EQ_INT(obj.records, 4);
    CHECK_EQ_INT(obj.acked, 4);
    CHECK_EQ_INT(indexer_get_stats(ix)->bad_records, 2);
    CHECK_EQ_INT(indexer_get_stats(ix)->docs, 2);
    CHECK_EQ_INT(deadletter_count(dead), 2);
    deadletter_close(dead);
    char text[8192] = "", want[1024];
    FILE *f = fopen(path, "r");
    size_t got = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[got] = '\0';
    if (f) fclose(f);
    snprintf(
        want, sizeof want,
        "\"source\":\"s3://bucket/key.json.gz\",\"reason\":\"record of %zu bytes is larger than the record "
        "limit (1024 bytes)\",\"offset\":%d,\"size\":%zu,\"truncated\":true,\"data\":\"{\\\"eventID\\\":\\\"big\\\",",
        blen, prefix, blen);
    CHECK(strstr(text, want) != NULL);
    /* the data is the record's first RSPLIT_HEAD bytes, escaped */
    char head[2 * RSPLIT_HEAD + 16];
    size_t hl = (size_t)snprintf(head, sizeof head, "\"data\":\"");
    for (size_t i = 0; i < RSPLIT_HEAD; i++) {
        if (big[i] == '"') head[hl++] = '\\';
        head[hl++] = big[i];
    }
    snprintf(head + hl, sizeof head - hl, "\"}\n");
    CHECK(strstr(text, head) != NULL);
    snprintf(want, sizeof want,
             "\"reason\":\"element of Records is a number, not a record\",\"offset\":%zu,\"size\":2,\"data\":\"42\"}\n",
             at42);
    CHECK(strstr(text, want) != NULL);
    int lines = 0;
    for (const char *p = text; *p; p++) lines += *p == '\n';
    CHECK_EQ_INT(lines, 2);
    unlink(path);
    ingest_obj_free(&obj);
    ingest_pipe_free(pipe);
    indexer_free(ix);
}

/* The ids of the documents in a held batch, appended to ids as "id," each. */
static void held_ids(held_sink *h, int i, char *ids, size_t cap) {
    for (uint32_t d = 0; d < batch_count(h->held[i]); d++) {
        size_t len;
        const char *doc = batch_doc(h->held[i], d, &len);
        const char *id = strstr(doc, "\"id\":\"");
        if (!id || (size_t)(id - doc) > len) continue;
        id += 6;
        size_t n = strcspn(id, "\"");
        size_t at = strlen(ids);
        snprintf(ids + at, cap - at, "%.*s,", (int)n, id);
    }
}

/* A CloudWatch Logs payload holds several records: a busy indexer stops it between two of them,
 * and the rest follows on resume, each record once and in order, the bad log event dead-lettered
 * once. */
static void test_busy_inside_an_element(void) {
    static rig r;
    memset(&r, 0, sizeof r);
    r.hs.base.ops = &held_ops;
    r.hs.base.max_in_flight = 1;
    indexer_options io;
    indexer_options_default(&io);
    io.batches = 1;
    io.batch_docs = 2;
    r.ix = indexer_new(&io, &r.hs.base);
    r.pipe = ingest_pipe_new(io.max_record);
    ingest_begin(&r.obj, r.ix, r.pipe, "cwl-object", on_done, &r.out);
    size_t len = (size_t)snprintf(r.file, sizeof r.file, "{\"owner\":\"1\",\"logEvents\":[");
    char rec[512];
    for (int i = 0; i < 6; i++) {
        len += (size_t)snprintf(r.file + len, sizeof r.file - len, "%s{\"id\":\"%d\",\"message\":\"", i ? "," : "", i);
        if (i == 3) {
            len += (size_t)snprintf(r.file + len, sizeof r.file - len, "not a record");
        } else {
            record(i, rec, sizeof rec);
            for (const char *p = rec; *p; p++) { /* as a JSON string */
                if (*p == '"' || *p == '\\') r.file[len++] = '\\';
                r.file[len++] = *p;
            }
        }
        len += (size_t)snprintf(r.file + len, sizeof r.file - len, "\"}");
    }
    len += (size_t)snprintf(r.file + len, sizeof r.file - len, "],\"messageType\":\"DATA_MESSAGE\"}\n");
    char ids[256] = "";
    CHECK_EQ_INT(ingest_feed(&r.obj, (const uint8_t *)r.file, len), INGEST_FULL); /* records 0 and 1 fill the batch */
    CHECK_EQ_INT(r.hs.nheld, 1);
    held_ids(&r.hs, 0, ids, sizeof ids);
    held_complete(&r.hs, 1);
    CHECK_EQ_INT(ingest_resume(&r.obj), INGEST_FULL); /* 2, the bad one, 4 */
    held_ids(&r.hs, 0, ids, sizeof ids);
    held_complete(&r.hs, 1);
    CHECK_EQ_INT(ingest_resume(&r.obj), INGEST_OK); /* 5, in the batch being built */
    ingest_pipe *back = NULL;
    CHECK_EQ_INT(ingest_end(&r.obj, &back), INGEST_OK);
    indexer_flush(r.ix);
    held_ids(&r.hs, 0, ids, sizeof ids);
    held_complete(&r.hs, 1);
    CHECK_EQ_STR(ids, "id-0000,id-0001,id-0002,id-0004,id-0005,");
    CHECK_EQ_INT(r.obj.records, 6);
    CHECK_EQ_INT(r.obj.dead_lettered, 1);
    CHECK_EQ_INT(r.obj.acked, 6);
    CHECK_EQ_INT(r.out.calls, 1);
    CHECK_EQ_INT(r.out.status, 0);
    CHECK_EQ_INT(r.obj.outcome, INGEST_READ);
    CHECK(r.obj.kinds & (1u << SHAPE_CWL_DATA));
    rig_free(&r);
}

/* A file of none of the shapes is refused whole and counts as handled once dead-lettered; one
 * without any JSON too; {"Records":[]} is an ordinary empty file. */
static void test_outcomes(void) {
    static const struct {
        const char *text;
        ingest_outcome outcome;
        const char *why;
    } cases[] = {
        {"{\"name\":\"pkg\",\"version\":\"1\"}", INGEST_REFUSED, "its first value is an object with keys \"name\""},
        {"", INGEST_REFUSED, "an empty file (0 bytes)"},
        {" \r\n", INGEST_REFUSED, "whitespace only"},
        {"hello", INGEST_REFUSED, "text that is not JSON ('hello')"},
        {"{\"Records\":[]}", INGEST_EMPTY, NULL},
        {"{\"messageType\":\"CONTROL_MESSAGE\",\"logEvents\":[]}", INGEST_EMPTY, NULL},
        {"{\"digestStartTime\":\"x\",\"logFiles\":[]}", INGEST_DIGEST, NULL},
        {"{\"Records\":[{\"a\":1}", INGEST_FAILED, "truncated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        static rig r;
        memset(&r, 0, sizeof r);
        r.hs.base.ops = &held_ops;
        r.hs.base.max_in_flight = 1;
        indexer_options io;
        indexer_options_default(&io);
        r.ix = indexer_new(&io, &r.hs.base);
        r.pipe = ingest_pipe_new(io.max_record);
        ingest_begin(&r.obj, r.ix, r.pipe, "obj", on_done, &r.out);
        ingest_feed(&r.obj, (const uint8_t *)cases[i].text, strlen(cases[i].text));
        ingest_pipe *back = NULL;
        ingest_end(&r.obj, &back);
        indexer_flush(r.ix); /* the records read before an error */
        while (r.hs.nheld) held_complete(&r.hs, 1);
        CHECK_EQ_INT(r.obj.outcome, cases[i].outcome);
        CHECK_EQ_INT(r.out.calls, 1);
        CHECK_EQ_INT(r.out.status, (cases[i].outcome == INGEST_FAILED ? -1 : 0));
        if (cases[i].why && !strstr(r.obj.errmsg, cases[i].why)) {
            fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, r.obj.errmsg, cases[i].why);
            test_failures++;
        }
        if (cases[i].outcome == INGEST_REFUSED) CHECK(strstr(r.obj.errmsg, shape_accepted) != NULL);
        rig_free(&r);
    }
}

int main(void) {
    RUN(test_busy_inside_an_element);
    RUN(test_outcomes);
    RUN(test_backpressure_then_done);
    RUN(test_error_while_resuming_is_not_stalled);
    RUN(test_failed_batch_fails_object);
    RUN(test_skipped_elements_dead_lettered);
    TEST_MAIN_END();
}
