/* The upload scheduler (sinks/uploader.c) against the in-process HTTP server: who decides a
 * retry, when the sink is asked, the limit of requests on the wire, the attempt limit, and that no
 * callback ever runs inside uploader_submit. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "aws/aws.h"
#include "http_test_server.h"
#include "net/http.h"
#include "net/retry.h"
#include "sinks/upload/uploader.h"
#include "testlib.h"

static int inside_submit; /* set around uploader_submit: no callback may see it set */

typedef struct fake_job {
    upload_job up;
    const char *path;
    int requests_left; /* requests the job makes before next() says DONE */
    upload_verdict answer;
    int judged, finished, ok;
    char url[128];
} fake_job;

typedef struct fixture {
    uv_loop_t loop;
    ts_server srv;
    http_client *http;
    aws_ctx *aws;
    uploader *u;
    sink_stats st;
    uv_timer_t tick; /* wakes uv_run(ONCE) up, whatever is pending */
    int max_seen_in_flight, outcomes, throttled_outcomes, closed;
} fixture;

static fixture *fx;

static upload_next f_next(upload_job *uj, aws_request *rq, uint32_t *docs) {
    fake_job *j = (fake_job *)uj;
    CHECK(!inside_submit);
    if (j->requests_left == 0) return UPLOAD_DONE;
    ts_url(&fx->srv, j->url, sizeof j->url, j->path);
    rq->service = "es";
    rq->method = "POST";
    rq->url = j->url;
    rq->body = "{}";
    rq->body_len = 2;
    rq->anonymous = 1;
    *docs = 1;
    return UPLOAD_SEND;
}

static upload_verdict f_judge(upload_job *uj, const aws_response *r, upload_answer *a) {
    fake_job *j = (fake_job *)uj;
    CHECK(!inside_submit);
    j->judged++;
    CHECK(r->result == HTTP_OK);
    if (j->answer == UPLOAD_OK) {
        j->requests_left--;
        a->accepted = 1;
    } else if (j->answer == UPLOAD_RETRY) {
        a->retry = 1;
        snprintf(a->why, sizeof a->why, "the test says again");
    }
    return j->answer;
}

static void f_finished(upload_job *uj, int ok) {
    fake_job *j = (fake_job *)uj;
    CHECK(!inside_submit);
    j->finished++;
    j->ok = ok;
}

static void f_observe(void *ud, const upload_outcome *o) {
    fixture *f = ud;
    f->outcomes++;
    if (o->throttled) f->throttled_outcomes++;
    if (o->in_flight + 1 > f->max_seen_in_flight) f->max_seen_in_flight = o->in_flight + 1;
}

static const upload_ops fake_ops = {f_next, f_judge, f_finished};

static void on_tick(uv_timer_t *t) { (void)t; }

static void setup(fixture *f, int limit, int attempts) {
    memset(f, 0, sizeof *f);
    fx = f;
    uv_loop_init(&f->loop);
    CHECK_EQ_INT(ts_server_start(&f->srv, &f->loop), 0);
    f->http = http_client_new(&f->loop, NULL);
    aws_ctx_options ao = {.region = "us-east-1", .no_credentials = 1};
    f->aws = aws_ctx_new(&f->loop, f->http, &ao);
    upload_options o;
    upload_options_default(&o);
    o.max_in_flight = limit;
    o.max_attempts = attempts;
    o.backoff_base_ms = 1;
    o.backoff_cap_ms = 5;
    f->u = uploader_new(&f->loop, f->aws, "test", &o, &fake_ops, &f->st);
    uploader_observe(f->u, f_observe, f);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_start(&f->tick, on_tick, 1, 1);
}

static void submit(fixture *f, fake_job *j) {
    inside_submit = 1;
    uploader_submit(f->u, &j->up);
    inside_submit = 0;
}

static void run_until_finished(fixture *f, fake_job *jobs, int n) {
    for (int guard = 0; guard < 100000; guard++) {
        int done = 0;
        for (int i = 0; i < n; i++) done += jobs[i].finished;
        if (done == n) return;
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    CHECK(!"jobs did not finish");
}

static void on_closed(void *ud) { ((fixture *)ud)->closed = 1; }

static void teardown(fixture *f) {
    uv_close((uv_handle_t *)&f->tick, NULL);
    uploader_close(f->u, on_closed, f);
    aws_ctx_free(f->aws);
    http_client_close(f->http);
    ts_server_stop(&f->srv);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    CHECK(f->closed);
    CHECK_EQ_INT(uv_loop_close(&f->loop), 0);
}

/* A 500 is the uploader's to retry: the sink only judges the 200 that follows. */
static void test_transient_status_retried_by_uploader(void) {
    fixture f;
    setup(&f, 2, 0);
    fake_job j = {.path = "/flaky", .requests_left = 1, .answer = UPLOAD_OK};
    submit(&f, &j);
    CHECK_EQ_INT(j.finished, 0); /* nothing happens inside submit */
    run_until_finished(&f, &j, 1);
    CHECK_EQ_INT(j.finished, 1);
    CHECK_EQ_INT(j.ok, 1);
    CHECK_EQ_INT(j.judged, 1);
    CHECK_EQ_INT(f.st.requests, 2);
    CHECK_EQ_INT(f.st.retries, 1);
    CHECK_EQ_INT(f.st.request_errors, 1);
    CHECK_EQ_INT(f.st.docs_accepted, 1);
    CHECK_EQ_INT(f.st.batches, 1);
    CHECK_EQ_INT(f.st.batches_failed, 0);
    CHECK_EQ_INT(f.outcomes, 2);
    teardown(&f);
}

/* A throttling code is retried and counted as throttling, not as an error; the attempt limit
 * ends the batch. */
static void test_throttling_and_attempt_limit(void) {
    fixture f;
    setup(&f, 2, 3);
    fake_job j = {.path = "/throttle", .requests_left = 1, .answer = UPLOAD_OK};
    submit(&f, &j);
    run_until_finished(&f, &j, 1);
    CHECK_EQ_INT(j.ok, 0);
    CHECK_EQ_INT(j.judged, 0);
    CHECK_EQ_INT(f.st.requests, 3);
    CHECK_EQ_INT(f.st.retries, 2);
    CHECK_EQ_INT(f.st.throttled, 3);
    CHECK_EQ_INT(f.st.request_errors, 0);
    CHECK_EQ_INT(f.throttled_outcomes, 3);
    CHECK_EQ_INT(f.st.batches_failed, 1);
    teardown(&f);
}

/* The sink's RETRY goes through the same backoff and limit; REFUSED ends the batch at once. */
static void test_sink_verdicts(void) {
    fixture f;
    setup(&f, 2, 2);
    fake_job again = {.path = "/hello", .requests_left = 1, .answer = UPLOAD_RETRY};
    fake_job refused = {.path = "/hello", .requests_left = 1, .answer = UPLOAD_REFUSED};
    submit(&f, &again);
    submit(&f, &refused);
    run_until_finished(&f, &again, 1);
    run_until_finished(&f, &refused, 1);
    CHECK_EQ_INT(again.ok, 0);
    CHECK_EQ_INT(again.judged, 2);
    CHECK_EQ_INT(refused.ok, 0);
    CHECK_EQ_INT(refused.judged, 1);
    CHECK_EQ_INT(f.st.retries, 1);
    CHECK_EQ_INT(f.st.docs_retried, 1); /* the second RETRY hit the limit: not sent again */
    CHECK_EQ_INT(f.st.batches_failed, 2);
    teardown(&f);
}

/* Several jobs, several requests each, never more than the limit on the wire. */
static void test_limit(void) {
    fixture f;
    setup(&f, 2, 0);
    fake_job jobs[5];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < 5; i++) {
        jobs[i].path = "/hello";
        jobs[i].requests_left = 3;
        jobs[i].answer = UPLOAD_OK;
        submit(&f, &jobs[i]);
    }
    run_until_finished(&f, jobs, 5);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(jobs[i].ok, 1);
    CHECK_EQ_INT(f.st.requests, 15);
    CHECK_EQ_INT(f.max_seen_in_flight, 2);
    CHECK_EQ_INT(f.st.docs_accepted, 15);
    teardown(&f);
}

/* A held uploader sends nothing until released; a batch with nothing to send completes from
 * the loop. */
static void test_hold_and_empty(void) {
    fixture f;
    setup(&f, 1, 0);
    fake_job empty = {.path = "/hello", .requests_left = 0, .answer = UPLOAD_OK};
    uploader_hold(f.u);
    submit(&f, &empty);
    for (int i = 0; i < 5; i++) uv_run(&f.loop, UV_RUN_NOWAIT);
    CHECK_EQ_INT(empty.finished, 0);
    uploader_release(f.u);
    CHECK_EQ_INT(empty.finished, 0); /* not inside release either */
    run_until_finished(&f, &empty, 1);
    CHECK_EQ_INT(empty.ok, 1);
    CHECK_EQ_INT(f.st.requests, 0);
    teardown(&f);
}

static void test_options_parse(void) {
    upload_options o;
    upload_options_default(&o);
    CHECK_EQ_INT(upload_options_parse(&o, "t", "inflight=5"), 1);
    CHECK_EQ_INT(o.max_in_flight, 5);
    CHECK_EQ_INT(upload_options_parse(&o, "t", "attempts=7"), 1);
    CHECK_EQ_INT(o.max_attempts, 7);
    CHECK_EQ_INT(upload_options_parse(&o, "t", "inflight=0"), -1);
    CHECK_EQ_INT(upload_options_parse(&o, "t", "inflight=x"), -1);
    CHECK_EQ_INT(upload_options_parse(&o, "t", "region=x"), 0);
    CHECK_EQ_INT(upload_options_parse(&o, "t", "inflightx=1"), 0);
}

static void test_retry_after(void) {
    CHECK_EQ_INT(retry_after_parse("3", 0), 3000);
    CHECK_EQ_INT(retry_after_parse(" 0 ", 0), 0);
    CHECK_EQ_INT(retry_after_parse("3600", 0), 3600000);
    CHECK_EQ_INT(retry_after_parse("3601", 0), 0);
    CHECK_EQ_INT(retry_after_parse("99999999999999999999999", 0), 0);
    CHECK_EQ_INT(retry_after_parse("3s", 0), 0);
    CHECK_EQ_INT(retry_after_parse(NULL, 0), 0);
    /* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
    CHECK_EQ_INT(retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 12), 12000);
    CHECK_EQ_INT(retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 + 1), 0);
    CHECK_EQ_INT(retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 7200), 0);
    CHECK_EQ_INT(retry_after_parse("Wed, 21 Oct 2015 07:28:00", 0), 0);
}

int main(void) {
    RUN(test_transient_status_retried_by_uploader);
    RUN(test_throttling_and_attempt_limit);
    RUN(test_sink_verdicts);
    RUN(test_limit);
    RUN(test_hold_and_empty);
    RUN(test_options_parse);
    RUN(test_retry_after);
    TEST_MAIN_END();
}
