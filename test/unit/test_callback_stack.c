/* Every asynchronous API calls back from a fresh stack, never from inside the call that started
 * the work (nor from inside its cancel): a flag is set around each starting call and every
 * callback checks it (libuv's test-callback-stack.c idea). The failures that used to call back at
 * once are provoked on purpose: no credentials at all (AWS_EC2_METADATA_DISABLED, no keys), a
 * closed HTTP client, a bad bucket name, a key that is not UTF-8, empty batches, a libuv work queue
 * that refuses work (uv_queue_work wrapped at link time: -Wl,--wrap, test/CMakeLists.txt), a
 * full queue of the index sink.
 *
 * Also the regression test for s3.c's use-after-free: s3_get without credentials wrote into its
 * call after the callback had freed it (AddressSanitizer: heap-use-after-free). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "aws/aws.h"
#include "aws/s3.h"
#include "aws/sqs.h"
#include "net/http.h"
#include "pipeline/batch.h"
#include "pipeline/indexer.h"
#include "sinks/cloudsearch/cloudsearch_config.h"
#include "sinks/cloudsearch/sink_cloudsearch.h"
#include "sinks/dir/sink_dir.h"
#include "sinks/index/sink_index.h"
#include "sinks/opensearch/sink_opensearch.h"
#include "sources/enqueue.h"
#include "sources/s3_fetch.h"
#include "testlib.h"

static int inside; /* 1 while a starting (or cancelling) call runs */
static int called; /* callbacks seen */

#define START(expr) \
    do {            \
        inside = 1; \
        expr;       \
        inside = 0; \
    } while (0)

static void seen(void) {
    CHECK(!inside);
    called++;
}

/* An environment without any credentials, shared files or instance metadata. */
static const char *no_creds_getenv(void *ctx, const char *name) {
    (void)ctx;
    if (strcmp(name, "AWS_EC2_METADATA_DISABLED") == 0) return "true";
    if (strcmp(name, "AWS_CONFIG_FILE") == 0 || strcmp(name, "AWS_SHARED_CREDENTIALS_FILE") == 0) return "/dev/null";
    if (strcmp(name, "HOME") == 0) return "/nonexistent";
    if (strcmp(name, "AWS_ENDPOINT_URL") == 0) return "http://127.0.0.1:9";
    return NULL;
}
static const awsconf_env NO_CREDS = {no_creds_getenv, NULL};

typedef struct env {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps uv_run(ONCE) from blocking */
    http_client *http;
    aws_ctx *aws;
} env;

static void on_tick(uv_timer_t *t) { (void)t; }

static void env_open(env *e, int anonymous) {
    uv_loop_init(&e->loop);
    uv_timer_init(&e->loop, &e->tick);
    uv_timer_start(&e->tick, on_tick, 1, 1);
    e->http = http_client_new(&e->loop, NULL);
    aws_ctx_options o = {.region = "us-east-1", .env = &NO_CREDS, .no_credentials = anonymous};
    e->aws = aws_ctx_new(&e->loop, e->http, &o);
    called = 0;
}

static void wait_for(env *e, int n) {
    for (int i = 0; i < 20000 && called < n; i++) uv_run(&e->loop, UV_RUN_ONCE);
    CHECK_EQ_INT(called, n);
}

static void env_close(env *e) {
    uv_close((uv_handle_t *)&e->tick, NULL);
    aws_ctx_free(e->aws);
    http_client_close(e->http);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&e->loop), 0);
}

/* ---- net/http ---- */

static void on_http(void *ud, http_response *r) {
    (void)ud;
    (void)r;
    seen();
}

static void test_http_start(void) {
    env e;
    env_open(&e, 1);
    http_request rq = {.url = "http://127.0.0.1:9/nothing-listens", .on_done = on_http};
    http_req *r;
    START(r = http_start(e.http, &rq));
    CHECK(r != NULL);
    http_request rq2 = {.url = "http://127.0.0.1:9/cancelled", .on_done = on_http};
    START(r = http_start(e.http, &rq2); if (r) http_cancel(r));
    wait_for(&e, 2);
    env_close(&e);
}

/* ---- aws ---- */

static int last_result;

static void on_aws(void *ud, aws_response *r) {
    (void)ud;
    last_result = r->result;
    seen();
}

static aws_request aws_rq(const char *service) {
    aws_request rq = {.service = service, .method = "POST", .url = "http://127.0.0.1:9/", .on_done = on_aws};
    return rq;
}

static void test_aws_send_without_credentials(void) {
    env e;
    env_open(&e, 0);
    aws_request rq = aws_rq("sqs");
    aws_call *c1, *c2;
    START(c1 = aws_send(e.aws, &rq));
    START(c2 = aws_send(e.aws, &rq)); /* the second finds the failure recorded */
    CHECK(c1 != NULL && c2 != NULL);
    wait_for(&e, 2);
    CHECK_EQ_INT(last_result, HTTP_ERR_CANCELLED);
    /* and once more after the failure is known */
    START(c1 = aws_send(e.aws, &rq));
    wait_for(&e, 3);
    env_close(&e);
}

static void test_aws_send_http_cannot_start(void) {
    env e;
    env_open(&e, 1);
    http_client_close(e.http); /* http_start refuses from now on */
    aws_request rq = aws_rq("es");
    aws_call *c;
    START(c = aws_send(e.aws, &rq));
    CHECK(c != NULL);
    wait_for(&e, 1);
    aws_ctx_free(e.aws);
    uv_close((uv_handle_t *)&e.tick, NULL);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
}

static void test_aws_call_cancel(void) {
    env e;
    env_open(&e, 0);
    aws_request rq = aws_rq("sqs");
    aws_call *c;
    START(c = aws_send(e.aws, &rq); aws_call_cancel(c)); /* waiting for credentials */
    wait_for(&e, 1);
    env_close(&e);
}

static void on_creds(void *ud, int ok) {
    *(int *)ud = ok;
    seen();
}

static void test_resolve_credentials(void) {
    env e;
    env_open(&e, 1);
    int ok = -1;
    START(CHECK_EQ_INT(aws_ctx_resolve_credentials(e.aws, on_creds, &ok), 0)); /* anonymous: ready at once */
    wait_for(&e, 1);
    CHECK_EQ_INT(ok, 1);
    env_close(&e);
    env_open(&e, 0);
    START(CHECK_EQ_INT(aws_ctx_resolve_credentials(e.aws, on_creds, &ok), 0)); /* none to be found */
    wait_for(&e, 1);
    CHECK_EQ_INT(ok, 0);
    env_close(&e);
}

/* ---- s3, sqs, cloudsearch configuration ---- */

static int on_s3_data(void *ud, const char *p, size_t n) {
    (void)ud;
    (void)p;
    (void)n;
    return 0;
}

static void on_s3(void *ud, const s3_result *r) {
    (void)ud;
    CHECK(!r->ok);
    seen();
}

static void on_s3_list(void *ud, const s3_result *r, const s3_list_page *page) {
    (void)ud;
    CHECK(!r->ok && page == NULL);
    seen();
}

/* The use-after-free: s3_get stored the aws call into its own state after aws_send had already
 * called back and freed that state. Under ASan this aborted. */
static void test_s3_without_credentials(void) {
    env e;
    env_open(&e, 0);
    s3_call *c;
    START(c = s3_get(e.aws, "trail", "AWSLogs/1/x.json.gz", on_s3_data, on_s3, NULL));
    CHECK(c != NULL);
    START(c = s3_list(e.aws, "trail", "AWSLogs/", NULL, NULL, "/", 10, on_s3_list, NULL));
    CHECK(c != NULL);
    START(c = s3_get(e.aws, "trail", "AWSLogs/1/y.json.gz", on_s3_data, on_s3, NULL); s3_call_cancel(c));
    wait_for(&e, 3);
    env_close(&e);
}

static void on_receive(void *ud, const sqs_result *r, const sqs_message *m, int n) {
    (void)ud;
    CHECK(!r->ok && m == NULL && n == 0);
    seen();
}

static void on_batch(void *ud, const sqs_result *r, const sqs_entry_result *en, int n) {
    (void)ud;
    (void)en;
    (void)n;
    CHECK(!r->ok);
    seen();
}

static void test_sqs_without_credentials(void) {
    env e;
    env_open(&e, 0);
    const char *q = "http://127.0.0.1:9/123456789012/q";
    const char *handles[] = {"h1"};
    sqs_call *c;
    START(c = sqs_receive(e.aws, q, 10, 0, 30, on_receive, NULL));
    CHECK(c != NULL);
    START(c = sqs_delete_batch(e.aws, q, handles, 1, on_batch, NULL));
    CHECK(c != NULL);
    START(c = sqs_receive(e.aws, q, 10, 0, 30, on_receive, NULL); sqs_call_cancel(c));
    wait_for(&e, 3);
    env_close(&e);
}

static void on_domain(void *ud, int ok, const cloudsearch_domain_info *info, const char *error) {
    (void)ud;
    (void)info;
    CHECK(!ok && error != NULL);
    seen();
}

static void on_fields(void *ud, int ok, const char *error) {
    (void)ud;
    CHECK(!ok && error != NULL);
    seen();
}

static void test_cloudsearch_config_without_credentials(void) {
    env e;
    env_open(&e, 0);
    START(CHECK_EQ_INT(cloudsearch_describe_domain(e.aws, "trail-one", on_domain, NULL), 0));
    START(CHECK_EQ_INT(cloudsearch_create_domain(e.aws, "trail-one", on_domain, NULL), 0));
    START(CHECK_EQ_INT(cloudsearch_define_some_fields(e.aws, "trail-one", NULL, on_fields, NULL), 0));
    wait_for(&e, 3);
    env_close(&e);
}

/* ---- sinks ---- */

static int sink_ok, sink_failed;

static void on_sink_done(void *ud, batch *b, int ok) {
    (void)ud;
    (void)b;
    sink_ok = ok;
    sink_failed += !ok;
    seen();
}

static void fill(batch *b, int bulk) {
    const char *doc =
        bulk ? "{\"index\":{\"_index\":\"i\",\"_id\":\"a\"}}\n{\"x\":1}\n" : "{\"type\":\"add\",\"id\":\"a\"}";
    size_t avail = 0;
    char *space = batch_space(b, &avail);
    memcpy(space, doc, strlen(doc));
    batch_commit(b, strlen(doc), NULL, "test");
}

static void submit_and_wait(env *e, sink *s, batch *b, int expect_ok) {
    s->done = on_sink_done;
    s->done_ud = NULL;
    int before = called;
    START(sink_submit(s, b));
    CHECK_EQ_INT(called, before);
    wait_for(e, before + 1);
    CHECK_EQ_INT(sink_ok, expect_ok);
}

static void test_sink_submit(void) {
    env e;
    env_open(&e, 0);
    batch b, bb;
    CHECK_EQ_INT(batch_init(&b, BATCH_SDF, 0, 0), 0);
    CHECK_EQ_INT(batch_init(&bb, BATCH_BULK, 0, 0), 0);

    char dir[] = "/tmp/ctindex-cbstack-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    sink *d = sink_dir_open(&e.loop, dir, 0, 0);
    submit_and_wait(&e, d, &b, 1); /* empty */
    batch_reset(&b);
    fill(&b, 0);
    submit_and_wait(&e, d, &b, 1);
    sink_close(d);

    sink_cloudsearch_options co;
    sink_cloudsearch_options_default(&co);
    co.loop = &e.loop;
    co.endpoint = "http://127.0.0.1:9";
    sink *cs = sink_cloudsearch_new(e.aws, &co);
    batch_reset(&b);
    submit_and_wait(&e, cs, &b, 1); /* empty: nothing to store */
    batch_reset(&b);
    fill(&b, 0);
    submit_and_wait(&e, cs, &b, 0); /* no credentials: refused, from the loop */
    sink_close(cs);

    sink_opensearch_options oo;
    sink_opensearch_options_default(&oo);
    oo.loop = &e.loop;
    oo.url = "http://127.0.0.1:9";
    oo.auth = OS_AUTH_NONE;
    oo.upload.max_attempts = 1;
    oo.upload.backoff_cap_ms = 1;
    sink *os = sink_opensearch_new(e.aws, &oo);
    submit_and_wait(&e, os, &bb, 1); /* empty */
    batch_reset(&bb);
    fill(&bb, 1);
    submit_and_wait(&e, os, &bb, 0); /* nothing listens: fails after its one attempt */
    sink_close(os);

    env_close(&e);
    batch_free(&b);
    batch_free(&bb);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* The index sink writes on libuv's work queue; this one refuses work while fail_queue_work is set. */
int __real_uv_queue_work(uv_loop_t *loop, uv_work_t *req, uv_work_cb work_cb, uv_after_work_cb after_work_cb);
int __wrap_uv_queue_work(uv_loop_t *loop, uv_work_t *req, uv_work_cb work_cb, uv_after_work_cb after_work_cb);
static int fail_queue_work;
int __wrap_uv_queue_work(uv_loop_t *loop, uv_work_t *req, uv_work_cb work_cb, uv_after_work_cb after_work_cb) {
    if (fail_queue_work) return UV_ENOMEM;
    return __real_uv_queue_work(loop, req, work_cb, after_work_cb);
}

static void test_index_sink_submit(void) {
    env e;
    env_open(&e, 0);
    char dir[] = "/tmp/ctindex-cbstack-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/index.db", dir);
    sink *ix = sink_index_open(&e.loop, path, 0, NULL);
    CHECK(ix != NULL);
    batch b[10];
    for (int i = 0; i < 10; i++) {
        CHECK_EQ_INT(batch_init(&b[i], BATCH_SDF, 0, 0), 0);
        fill(&b[i], 0);
    }
    submit_and_wait(&e, ix, &b[0], 1);
    fail_queue_work = 1;
    submit_and_wait(&e, ix, &b[1], 0); /* the work queue refuses it: failed, from the loop */
    fail_queue_work = 0;
    submit_and_wait(&e, ix, &b[2], 1); /* the next one is written again */

    /* Past max_in_flight: one being written, 8 queued, the tenth has no room and fails, from
     * the loop; the other nine are written. */
    int before = called;
    sink_failed = 0;
    START(for (int i = 0; i < 10; i++) sink_submit(ix, &b[i]));
    CHECK_EQ_INT(called, before);
    wait_for(&e, before + 10);
    CHECK_EQ_INT(sink_failed, 1);

    sink_close(ix);
    env_close(&e); /* runs the loop until the sink closed its timer */
    for (int i = 0; i < 10; i++) batch_free(&b[i]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* ---- sources ---- */

static void on_fetched(void *ud, void *tag, const s3_fetch_result *r) {
    (void)ud;
    (void)tag;
    CHECK(!r->ok);
    seen();
}

static void on_enqueued(void *ud, void *tag, int ok, const char *why) {
    (void)ud;
    (void)tag;
    CHECK(!ok && why != NULL);
    seen();
}

static void test_s3_fetch_and_enqueue(void) {
    env e;
    env_open(&e, 0);
    char dir[] = "/tmp/ctindex-cbstack-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    indexer_options io;
    indexer_options_default(&io);
    indexer *ix = indexer_new(&io, sink_dir_open(&e.loop, dir, 0, 0));
    s3_fetch_options fo;
    s3_fetch_options_default(&fo);
    s3_fetch *f = s3_fetch_new(e.aws, ix, &fo, on_fetched, NULL, NULL);
    char long_bucket[80];
    memset(long_bucket, 'b', sizeof long_bucket - 1);
    long_bucket[sizeof long_bucket - 1] = '\0';
    START(s3_fetch_start(f, long_bucket, "k.json.gz", NULL));     /* cannot start */
    START(s3_fetch_start(f, "trail", "AWSLogs/k.json.gz", NULL)); /* no credentials */
    wait_for(&e, 2);
    CHECK_EQ_INT(s3_fetch_open(f), 0);
    s3_fetch_free(f);

    enqueuer *q = enqueuer_new(e.aws, "http://127.0.0.1:9/123456789012/q", 2, on_enqueued, NULL, NULL);
    START(enqueuer_add(q, "trail", "bad \xff key", NULL));
    START(enqueuer_add(q, "trail", "good key", NULL); enqueuer_flush(q)); /* no credentials */
    wait_for(&e, 4);
    CHECK_EQ_INT(enqueuer_open(q), 0);
    enqueuer_free(q);
    indexer_free(ix);
    env_close(&e);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

int main(void) {
    RUN(test_http_start);
    RUN(test_aws_send_without_credentials);
    RUN(test_aws_send_http_cannot_start);
    RUN(test_aws_call_cancel);
    RUN(test_resolve_credentials);
    RUN(test_s3_without_credentials);
    RUN(test_sqs_without_credentials);
    RUN(test_cloudsearch_config_without_credentials);
    RUN(test_sink_submit);
    RUN(test_index_sink_submit);
    RUN(test_s3_fetch_and_enqueue);
    TEST_MAIN_END();
}
