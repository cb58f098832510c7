/* aws_send's contract when a call fails before any request exists (no credentials, a request
 * that cannot be signed): it still returns the call, on_done runs exactly once and only from
 * the loop, never inside aws_send (callers store the returned pointer in the state on_done
 * frees), and the call can be cancelled or its context freed until then. */
#include <string.h>
#include <uv.h>

#include "aws/aws.h"
#include "testlib.h"

/* No credentials anywhere: no keys, /dev/null for the shared files, no container endpoint,
 * instance metadata disabled. The chain then fails at once, inside the first aws_send. */
static const char *no_creds_getenv(void *ctx, const char *name) {
    (void)ctx;
    if (strcmp(name, "AWS_EC2_METADATA_DISABLED") == 0) return "true";
    if (strcmp(name, "AWS_CONFIG_FILE") == 0 || strcmp(name, "AWS_SHARED_CREDENTIALS_FILE") == 0) return "/dev/null";
    if (strcmp(name, "AWS_REGION") == 0) return "us-east-1";
    return NULL;
}

typedef struct outcome {
    int done;
    int ok;
    http_result result;
    char message[512];
} outcome;

static int in_send; /* set around every aws_send below */
static int called_inside_send;

static void on_done(void *ud, aws_response *r) {
    outcome *o = ud;
    if (in_send) called_inside_send++;
    o->done++;
    o->ok = r->ok;
    o->result = r->result;
    snprintf(o->message, sizeof o->message, "%s", r->message);
}

typedef struct env {
    uv_loop_t loop;
    http_client *http;
    aws_ctx *aws;
} env;

static void env_open(env *e) {
    memset(e, 0, sizeof *e);
    uv_loop_init(&e->loop);
    e->http = http_client_new(&e->loop, NULL);
    CHECK(e->http != NULL);
    awsconf_env ae = {no_creds_getenv, NULL};
    aws_ctx_options o = {.env = &ae};
    e->aws = aws_ctx_new(&e->loop, e->http, &o);
    CHECK(e->aws != NULL);
}

static void env_close(env *e) {
    if (e->aws) aws_ctx_free(e->aws);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    http_client_close(e->http);
    CHECK_EQ_INT(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    CHECK_EQ_INT(uv_loop_close(&e->loop), 0);
}

static aws_call *send_one(env *e, const char *const *headers, size_t nheaders, outcome *out) {
    aws_request rq;
    memset(&rq, 0, sizeof rq);
    rq.service = "sqs";
    rq.method = "POST";
    rq.url = "http://127.0.0.1:9/";
    rq.headers = headers;
    rq.nheaders = nheaders;
    rq.body = "{}";
    rq.body_len = 2;
    rq.on_done = on_done;
    rq.ud = out;
    in_send = 1;
    aws_call *call = aws_send(e->aws, &rq);
    in_send = 0;
    return call;
}

static void run_until_done(env *e, const outcome *o) {
    for (int i = 0; i < 1000 && !o->done; i++) uv_run(&e->loop, UV_RUN_ONCE);
}

static void test_no_credentials(void) {
    env e;
    env_open(&e);
    called_inside_send = 0;
    /* The first call runs the credential chain; the second finds it failed moments ago. */
    for (int i = 0; i < 2; i++) {
        outcome o = {0};
        aws_call *call = send_one(&e, NULL, 0, &o);
        CHECK(call != NULL);
        CHECK_EQ_INT(o.done, 0);
        run_until_done(&e, &o);
        CHECK_EQ_INT(o.done, 1);
        CHECK_EQ_INT(o.ok, 0);
        CHECK(strstr(o.message, "no AWS credentials") != NULL);
    }
    CHECK_EQ_INT(called_inside_send, 0);
    aws_stats st;
    aws_ctx_stats(e.aws, &st);
    CHECK_EQ_INT(st.calls, 2);
    CHECK_EQ_INT(st.failed, 2);
    CHECK_EQ_INT(st.attempts, 0);
    env_close(&e);
}

static void test_cannot_sign(void) {
    env e;
    env_open(&e);
    aws_credentials cr;
    memset(&cr, 0, sizeof cr);
    snprintf(cr.access_key_id, sizeof cr.access_key_id, "AKIDEXAMPLE");
    snprintf(cr.secret_access_key, sizeof cr.secret_access_key, "secret");
    aws_ctx_set_credentials(e.aws, &cr);
    called_inside_send = 0;
    static const char *const bad[] = {"a header line without a colon"};
    outcome o = {0};
    CHECK(send_one(&e, bad, 1, &o) != NULL);
    CHECK_EQ_INT(o.done, 0);
    run_until_done(&e, &o);
    CHECK_EQ_INT(o.done, 1);
    CHECK(strstr(o.message, "cannot sign the request") != NULL);
    CHECK_EQ_INT(called_inside_send, 0);
    env_close(&e);
}

/* Until its on_done, a call that failed inside aws_send is an ordinary call: cancelling it, or
 * freeing its context, ends it exactly once. */
static void test_cancel_and_free_before_the_report(void) {
    env e;
    env_open(&e);
    called_inside_send = 0;
    outcome a = {0}, b = {0};
    aws_call *call = send_one(&e, NULL, 0, &a);
    CHECK(call != NULL);
    aws_call_cancel(call);
    CHECK_EQ_INT(a.done, 1);
    CHECK_EQ_INT(a.result, HTTP_ERR_CANCELLED);
    CHECK(send_one(&e, NULL, 0, &b) != NULL);
    CHECK_EQ_INT(b.done, 0);
    aws_ctx_free(e.aws);
    e.aws = NULL;
    CHECK_EQ_INT(b.done, 1);
    CHECK_EQ_INT(b.ok, 0);
    env_close(&e);
    CHECK_EQ_INT(a.done, 1);
    CHECK_EQ_INT(b.done, 1);
    CHECK_EQ_INT(called_inside_send, 0);
}

int main(void) {
    RUN(test_no_credentials);
    RUN(test_cannot_sign);
    RUN(test_cancel_and_free_before_the_report);
    TEST_MAIN_END();
}
