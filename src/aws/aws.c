#include "aws/aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/sigv4.h"
#include "base/container_of.h"
#include "base/crypto.h"
#include "base/json.h"
#include "base/log.h"
#include "base/xmlscan.h"
#include "net/retry.h"
#include "net/retry_timer.h"

#define MAX_CALL_HEADERS 16
#define DEFAULT_ATTEMPTS 5

typedef enum { CRED_NONE, CRED_FETCHING, CRED_READY, CRED_FAILED } cred_state;

typedef struct cred_waiter {
    void (*done)(void *ud, int ok);
    void *ud;
    struct cred_waiter *next;
} cred_waiter;

struct aws_call {
    aws_ctx *ctx;
    aws_request rq; /* url and headers point into owned copies */
    char *url;
    buf hdrs; /* header lines, NUL-separated */
    const char *hdr[MAX_CALL_HEADERS];
    char payload_hash[65];
    int attempts;
    int delivered; /* a streaming byte reached the caller: no retry */
    int cancelled;
    int refreshed_creds; /* one retry after an expired-token answer */
    int creds_expired;   /* the last answer said the credentials expired */
    http_req *req;
    retry_timer timer;
    int timer_live;
    aws_call *prev, *next; /* calls alive (for cancel on free) */
    aws_call *wait_next;   /* waiting for credentials */
    int waiting;
    aws_call *defer_next; /* failed without an answer: reported from the loop (see fail_later) */
    int deferred;
    char defer_msg[160];
};

struct aws_ctx {
    uv_loop_t *loop;
    http_client *http;
    awsconf_env env;
    aws_profile profile;
    char region[AWSCONF_MAX_REGION + 1];
    int anonymous;
    aws_credentials creds;
    cred_state cstate;
    uint64_t cred_failed_at; /* loop ms */
    cred_waiter *cwaiters;
    aws_call *waiting_head, *waiting_tail;
    /* credential fetch in progress */
    int fetch_step;
    char imds_base[AWSCONF_MAX_URL + 1];
    char imds_token[256];
    char imds_role[256];
    awsconf_http_target ecs;
    char fetch_url[AWSCONF_MAX_URL + 300];
    char fetch_hdr[AWSCONF_MAX_TOKEN + 64];
    uv_timer_t refresh;
    sigv4_key_cache keys;
    sigv4_signed *signed_scratch;
    retry_policy policy;
    aws_call *calls;
    aws_stats st;
    int closing;
    int fetch_inflight;
    int refresh_is_closed;
    /* Work that must not run inside the call that caused it: failures of calls that got no
     * answer, a credential fetch, resolve_credentials callbacks. */
    uv_timer_t kick;
    int kick_is_closed;
    int fetch_pending;
    aws_call *deferred_head, *deferred_tail;
};

/* ---------- context ---------- */

aws_ctx *aws_ctx_new(uv_loop_t *loop, http_client *http, const aws_ctx_options *o) {
    aws_ctx_options none = {0};
    if (!o) o = &none;
    aws_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->signed_scratch = malloc(sizeof *c->signed_scratch);
    if (!c->signed_scratch) {
        free(c);
        return NULL;
    }
    c->loop = loop;
    c->http = http;
    c->env = o->env ? *o->env : *awsconf_env_process();
    c->anonymous = o->no_credentials;
    if (awsconf_load_profile(&c->env, o->profile, &c->profile) != AWSCONF_OK)
        log_warn("the AWS config/credentials files could not be read completely");
    if (o->region && o->region[0]) snprintf(c->region, sizeof c->region, "%s", o->region);
    else if (awsconf_region(&c->env, &c->profile, c->region, sizeof c->region) != AWSCONF_OK)
        snprintf(c->region, sizeof c->region, "us-east-1");
    sigv4_key_cache_init(&c->keys);
    retry_policy_init(&c->policy);
    uv_timer_init(loop, &c->refresh);
    c->refresh.data = c;
    uv_unref((uv_handle_t *)&c->refresh);
    uv_timer_init(loop, &c->kick);
    c->kick.data = c;
    return c;
}

const char *aws_ctx_region(const aws_ctx *c) { return c->region; }
uv_loop_t *aws_ctx_loop(const aws_ctx *c) { return c->loop; }
const awsconf_env *aws_ctx_env(const aws_ctx *c) { return &c->env; }

int aws_ctx_endpoint(const aws_ctx *c, const char *service_id, const char *region, char *out, size_t cap) {
    return awsconf_endpoint(&c->env, &c->profile, service_id, region ? region : c->region, out, cap);
}

void aws_ctx_stats(const aws_ctx *c, aws_stats *out) { *out = c->st; }

static void ctx_release(aws_ctx *c) {
    if (!c->refresh_is_closed || !c->kick_is_closed || c->fetch_inflight) return;
    sigv4_key_cache_wipe(&c->keys);
    memset(&c->creds, 0, sizeof c->creds);
    free(c->signed_scratch);
    free(c);
}

static void refresh_closed(uv_handle_t *h) {
    aws_ctx *c = h->data;
    c->refresh_is_closed = 1;
    ctx_release(c);
}

static void kick_closed(uv_handle_t *h) {
    aws_ctx *c = h->data;
    c->kick_is_closed = 1;
    ctx_release(c);
}

static void finish(aws_call *call, http_response *hr, const char *errmsg);
static void notify_cred_waiters(aws_ctx *c);
static void on_kick(uv_timer_t *t);

static void kick(aws_ctx *c) {
    if (!c->closing) uv_timer_start(&c->kick, on_kick, 0, 0);
}

/* A call that ends without an answer (no credentials, cannot sign, cannot start, cancelled
 * while not on the wire) is reported from the loop, never from inside aws_send or
 * aws_call_cancel: its caller may still be writing the handle aws_send returns. c is the call's
 * context and going says whether it is NULL or closing (see start_attempt for why the caller
 * may read that itself). */
static void fail_later_in(aws_ctx *c, int going, aws_call *call, const char *why) {
    if (call->deferred) return;
    if (going) { /* the context is going: its timer runs no more (see aws_ctx_free) */
        finish(call, NULL, why);
        return;
    }
    call->deferred = 1;
    snprintf(call->defer_msg, sizeof call->defer_msg, "%s", why);
    call->defer_next = NULL;
    if (c->deferred_tail) c->deferred_tail->defer_next = call;
    else c->deferred_head = call;
    c->deferred_tail = call;
    kick(c);
}

static void fail_later(aws_call *call, const char *why) {
    fail_later_in(call->ctx, !call->ctx || call->ctx->closing, call, why);
}

static void finish_deferred(aws_ctx *c) {
    aws_call *call = c->deferred_head;
    c->deferred_head = c->deferred_tail = NULL;
    while (call) {
        aws_call *next = call->defer_next;
        finish(call, NULL, call->defer_msg);
        call = next;
    }
}

void aws_ctx_free(aws_ctx *c) {
    if (!c) return;
    c->closing = 1;
    uv_timer_stop(&c->kick);
    finish_deferred(c);                       /* like the calls below: reported before this returns */
    c->waiting_head = c->waiting_tail = NULL; /* those calls are also on c->calls */
    while (c->calls) {
        aws_call *call = c->calls;
        if (call->req) {
            http_cancel(call->req); /* on_done follows from the loop */
            call->cancelled = 1;
            /* unlink so the loop terminates; the http callback still finishes it */
            c->calls = call->next;
            if (c->calls) c->calls->prev = NULL;
            call->prev = call->next = NULL;
            call->ctx = NULL;
        } else {
            finish(call, NULL, "AWS context closed");
        }
    }
    notify_cred_waiters(c); /* those still waiting hear "no credentials" */
    uv_close((uv_handle_t *)&c->refresh, refresh_closed);
    uv_close((uv_handle_t *)&c->kick, kick_closed);
}

/* ---------- credentials ---------- */

static int64_t now_epoch(void) { return (int64_t)time(NULL); }

static void start_waiting_calls(aws_ctx *c);
static void fail_waiting_calls(aws_ctx *c, const char *why);
static void fetch_credentials(aws_ctx *c);
static void refresh_tick(uv_timer_t *t);

static void cred_done(aws_ctx *c, int ok) {
    if (ok) {
        c->cstate = CRED_READY;
        char desc[256];
        log_info("AWS credentials: %s", awsconf_describe_credentials(&c->creds, desc, sizeof desc));
        int64_t at = awsconf_refresh_at(&c->creds);
        if (at > 0) {
            int64_t in = at - now_epoch();
            if (in < 1) in = 1;
            uv_timer_start(&c->refresh, refresh_tick, (uint64_t)in * 1000, 0);
        }
        start_waiting_calls(c);
    } else {
        /* Keep valid credentials while a background refresh fails; they may still work. */
        if (c->creds.access_key_id[0] && !awsconf_needs_refresh(&c->creds, now_epoch() - 240)) {
            c->cstate = CRED_READY;
            start_waiting_calls(c);
        } else {
            c->cstate = CRED_FAILED;
            c->cred_failed_at = uv_now(c->loop);
            fail_waiting_calls(c, "no AWS credentials (environment, shared files, container endpoint and "
                                  "instance metadata all failed)");
        }
    }
    notify_cred_waiters(c);
}

/* resolve_credentials callers, once the state is settled (or the context closes). */
static void notify_cred_waiters(aws_ctx *c) {
    int ok = c->anonymous || c->cstate == CRED_READY;
    if (!ok && c->cstate != CRED_FAILED && !c->closing) return; /* still fetching */
    cred_waiter *w = c->cwaiters;
    c->cwaiters = NULL;
    while (w) {
        cred_waiter *next = w->next;
        w->done(w->ud, ok);
        free(w);
        w = next;
    }
}

static void on_kick(uv_timer_t *t) {
    aws_ctx *c = t->data;
    if (c->fetch_pending) {
        c->fetch_pending = 0;
        fetch_credentials(c);
    }
    notify_cred_waiters(c);
    finish_deferred(c);
}

static void refresh_tick(uv_timer_t *t) {
    aws_ctx *c = t->data;
    if (c->cstate == CRED_READY) {
        log_info("refreshing AWS credentials before they expire");
        c->cstate = CRED_FETCHING;
        fetch_credentials(c);
    }
}

enum { STEP_ECS = 1, STEP_IMDS_TOKEN, STEP_IMDS_ROLE, STEP_IMDS_CREDS };

static void fetch_step(aws_ctx *c);

static void on_fetch_done(void *ud, http_response *r) {
    aws_ctx *c = ud;
    c->fetch_inflight = 0;
    if (c->closing) return ctx_release(c);
    int ok2xx = r->result == HTTP_OK && r->status >= 200 && r->status < 300;
    const char *body = r->body.data ? r->body.data : "";
    switch (c->fetch_step) {
    case STEP_ECS:
        if (ok2xx && awsconf_parse_credentials_json(body, r->body.len, now_epoch(), "ecs", &c->creds) == AWSCONF_OK)
            return cred_done(c, 1);
        log_warn("container credentials endpoint: %s (status %d)", r->error[0] ? r->error : "bad answer", r->status);
        return cred_done(c, 0);
    case STEP_IMDS_TOKEN:
        if (ok2xx && r->body.len > 0 && r->body.len < sizeof c->imds_token) {
            memcpy(c->imds_token, body, r->body.len);
            c->imds_token[r->body.len] = '\0';
        } else if (r->result == HTTP_OK && (r->status == 403 || r->status == 404 || r->status == 405)) {
            c->imds_token[0] = '\0'; /* IMDSv1 only: go on without a token */
        } else {
            log_debug("instance metadata not reachable (%s)", r->error[0] ? r->error : "no token");
            return cred_done(c, 0);
        }
        c->fetch_step = STEP_IMDS_ROLE;
        return fetch_step(c);
    case STEP_IMDS_ROLE: {
        size_t n = r->body.len;
        while (n > 0 && (body[n - 1] == '\n' || body[n - 1] == '\r' || body[n - 1] == ' ')) n--;
        const char *nl = memchr(body, '\n', n);
        if (nl) n = (size_t)(nl - body);
        if (!ok2xx || n == 0 || n >= sizeof c->imds_role) {
            log_warn("instance metadata: no IAM role attached (status %d)", r->status);
            return cred_done(c, 0);
        }
        memcpy(c->imds_role, body, n);
        c->imds_role[n] = '\0';
        c->fetch_step = STEP_IMDS_CREDS;
        return fetch_step(c);
    }
    case STEP_IMDS_CREDS:
        if (ok2xx && awsconf_parse_credentials_json(body, r->body.len, now_epoch(), "imds", &c->creds) == AWSCONF_OK)
            return cred_done(c, 1);
        log_warn("instance metadata credentials: bad answer (status %d)", r->status);
        return cred_done(c, 0);
    }
}

static void fetch_step(aws_ctx *c) {
    http_request rq;
    memset(&rq, 0, sizeof rq);
    const char *hdrs[1];
    rq.headers = hdrs;
    rq.on_done = on_fetch_done;
    rq.ud = c;
    rq.max_body = 64 * 1024;
    rq.timeout_ms = 2000;
    switch (c->fetch_step) {
    case STEP_ECS:
        rq.url = c->ecs.url;
        if (c->ecs.authorization[0]) {
            snprintf(c->fetch_hdr, sizeof c->fetch_hdr, "Authorization: %s", c->ecs.authorization);
            hdrs[0] = c->fetch_hdr;
            rq.nheaders = 1;
        }
        break;
    case STEP_IMDS_TOKEN:
        snprintf(c->fetch_url, sizeof c->fetch_url, "%s/latest/api/token", c->imds_base);
        rq.url = c->fetch_url;
        rq.method = "PUT";
        hdrs[0] = "X-aws-ec2-metadata-token-ttl-seconds: 21600";
        rq.nheaders = 1;
        rq.timeout_ms = 1000;
        break;
    case STEP_IMDS_ROLE:
    case STEP_IMDS_CREDS:
        snprintf(c->fetch_url, sizeof c->fetch_url, "%s/latest/meta-data/iam/security-credentials/%s", c->imds_base,
                 c->fetch_step == STEP_IMDS_CREDS ? c->imds_role : "");
        rq.url = c->fetch_url;
        if (c->imds_token[0]) {
            snprintf(c->fetch_hdr, sizeof c->fetch_hdr, "X-aws-ec2-metadata-token: %s", c->imds_token);
            hdrs[0] = c->fetch_hdr;
            rq.nheaders = 1;
        }
        break;
    }
    c->st.credential_fetches++;
    c->fetch_inflight = 1;
    if (!http_start(c->http, &rq)) {
        c->fetch_inflight = 0;
        cred_done(c, 0);
    }
}

static void fetch_credentials(aws_ctx *c) {
    aws_credentials cr;
    int rc = awsconf_static_credentials(&c->env, &c->profile, &cr);
    if (rc == AWSCONF_OK) {
        c->creds = cr;
        return cred_done(c, 1);
    }
    if (rc != AWSCONF_ENOTFOUND) {
        log_error("AWS credentials in the environment or profile are incomplete or malformed");
        return cred_done(c, 0);
    }
    rc = awsconf_ecs_target(&c->env, &c->ecs);
    if (rc == AWSCONF_OK) {
        c->fetch_step = STEP_ECS;
        return fetch_step(c);
    }
    if (awsconf_imds_base(&c->env, c->imds_base, sizeof c->imds_base) == AWSCONF_OK) {
        c->fetch_step = STEP_IMDS_TOKEN;
        return fetch_step(c);
    }
    cred_done(c, 0);
}

/* The fetch starts from the loop: its outcome (even one known at once, such as keys in the
 * environment) never reaches callers from inside aws_send or aws_ctx_resolve_credentials. */
static void ensure_credentials(aws_ctx *c) {
    if (c->cstate == CRED_FETCHING || c->cstate == CRED_READY) return;
    c->cstate = CRED_FETCHING;
    c->fetch_pending = 1;
    kick(c);
}

int aws_ctx_resolve_credentials(aws_ctx *c, void (*done)(void *ud, int ok), void *ud) {
    cred_waiter *w = calloc(1, sizeof *w);
    if (!w || c->closing) {
        free(w);
        return -1;
    }
    w->done = done;
    w->ud = ud;
    w->next = c->cwaiters;
    c->cwaiters = w;
    if (c->anonymous || c->cstate == CRED_READY) {
        kick(c); /* answered from the loop */
        return 0;
    }
    if (c->cstate == CRED_FAILED) c->cstate = CRED_NONE;
    ensure_credentials(c);
    return 0;
}

/* ---------- calls ---------- */

static void start_attempt(aws_call *call);

static void unlink_call(aws_call *call) {
    aws_ctx *c = call->ctx;
    if (!c) return;
    if (call->prev) call->prev->next = call->next;
    else if (c->calls == call) c->calls = call->next;
    if (call->next) call->next->prev = call->prev;
    call->prev = call->next = NULL;
}

static void call_free(aws_call *call) {
    free(call->url);
    buf_free(&call->hdrs);
    free(call);
}

static void timer_closed(retry_timer *t) {
    aws_call *call = container_of(t, aws_call, timer);
    call_free(call);
}

/* Pull the error message out of a JSON ("message"/"Message") or XML (<Message>) error body. */
static void error_message(const http_response *hr, char *out, size_t cap) {
    out[0] = '\0';
    if (!hr || !hr->body.data || hr->body.len == 0) return;
    const char *b = hr->body.data;
    size_t n = hr->body.len;
    size_t pos = 0;
    xml_span s;
    if (xml_next(b, n, &pos, "Message", &s) == 0) {
        if (xml_decode(&s, out, cap) < 0) out[0] = '\0';
        return;
    }
    if (n > 65536) return;
    json_doc d;
    if (json_doc_init(&d, 512) != JSON_OK) return;
    if (json_parse(&d, b, n) == JSON_OK) {
        int m = json_obj_get(&d, 0, "message");
        if (m < 0) m = json_obj_get(&d, 0, "Message");
        if (m >= 0 && d.toks[m].type == JSON_STRING && json_tok_decode(&d, m, out, cap) < 0) out[0] = '\0';
    }
    json_doc_free(&d);
}

static void finish(aws_call *call, http_response *hr, const char *errmsg) {
    aws_ctx *c = call->ctx;
    aws_response r;
    memset(&r, 0, sizeof r);
    buf_init(&r.body, 0);
    r.attempts = call->attempts;
    r.credentials_expired = call->creds_expired;
    if (hr) {
        r.result = hr->result;
        r.status = hr->status;
        r.ok = hr->result == HTTP_OK && hr->status >= 200 && hr->status < 300;
        r.http = hr;
        if (!r.ok) {
            retry_aws_error_code(hr, r.code, sizeof r.code);
            error_message(hr, r.message, sizeof r.message);
            if (!r.message[0] && hr->result != HTTP_OK) snprintf(r.message, sizeof r.message, "%s", hr->error);
        }
        r.body = hr->body;
        buf_init(&hr->body, 0); /* taken */
    } else {
        r.result = HTTP_ERR_CANCELLED;
        snprintf(r.message, sizeof r.message, "%s", errmsg ? errmsg : "cancelled");
    }
    if (call->cancelled && !r.ok) r.result = HTTP_ERR_CANCELLED;
    if (c && !r.ok) c->st.failed++;
    unlink_call(call);
    call->rq.on_done(call->rq.ud, &r);
    buf_free(&r.body);
    if (call->timer_live) retry_timer_close(&call->timer, timer_closed);
    else call_free(call);
}

static int is_expired_token(const char *code) {
    return strcmp(code, "ExpiredToken") == 0 || strcmp(code, "ExpiredTokenException") == 0 ||
           strcmp(code, "RequestExpired") == 0 || strcmp(code, "TokenRefreshRequired") == 0;
}

static void retry_fire(void *ud) { start_attempt(ud); }

static void on_http_done(void *ud, http_response *hr) {
    aws_call *call = ud;
    call->req = NULL;
    aws_ctx *c = call->ctx;
    if (!c || call->cancelled) return finish(call, hr, "cancelled");
    char code[128] = "";
    retry_verdict v = retry_classify_response(hr);
    if (v != RETRY_SUCCESS) retry_aws_error_code(hr, code, sizeof code);
    if (v != RETRY_SUCCESS && (hr->status == 429 || hr->status == 503 || retry_code_is_throttling(code)))
        c->st.throttled++;
    call->creds_expired = 0;
    if (v == RETRY_FAIL && hr->status == 403 && is_expired_token(code)) {
        /* Credentials expired under us: fetch new ones for the next attempt (of this call, once,
         * or of the caller's next call when it retries itself). */
        call->creds_expired = 1;
        if (c->cstate == CRED_READY) c->cstate = CRED_NONE;
        if (!call->refreshed_creds) {
            call->refreshed_creds = 1;
            v = RETRY_AGAIN;
        }
    }
    int max = call->rq.max_attempts > 0 ? call->rq.max_attempts : DEFAULT_ATTEMPTS;
    if (v == RETRY_AGAIN && !call->delivered && call->attempts < max && !c->closing) {
        if (!call->timer_live) {
            retry_timer_init(c->loop, &call->timer);
            call->timer_live = 1;
        }
        retry_timer_schedule(&call->timer, &c->policy, call->attempts - 1, retry_fire, call);
        c->st.retries++;
        log_debug("%s %s: %s%s%d, retry %d in %llu ms", call->rq.method, call->rq.service, code[0] ? code : "",
                  code[0] ? " / " : "status ", hr->status, call->attempts,
                  (unsigned long long)call->timer.last_delay_ms);
        return;
    }
    finish(call, hr, NULL);
}

static int on_http_data(void *ud, const char *p, size_t n) {
    aws_call *call = ud;
    int r = call->rq.on_data(call->rq.ud, p, n);
    if (r == 0) call->delivered = 1;
    return r;
}

/* Split "Name: value" lines for the signer (names and values stay in the call's storage). */
static int signer_headers(aws_call *call, sigv4_header *out, char names[][SIGV4_MAX_HEADER_NAME + 1]) {
    for (size_t i = 0; i < call->rq.nheaders; i++) {
        const char *line = call->hdr[i];
        const char *colon = strchr(line, ':');
        if (!colon || (size_t)(colon - line) > SIGV4_MAX_HEADER_NAME) return -1;
        memcpy(names[i], line, (size_t)(colon - line));
        names[i][colon - line] = '\0';
        const char *v = colon + 1;
        while (*v == ' ') v++;
        out[i].name = names[i];
        out[i].value = v;
    }
    return 0;
}

static void start_attempt(aws_call *call) {
    aws_ctx *c = call->ctx;
    if (!c) return fail_later(call, "AWS context closed");
    /* Read now for the failures below: the calls in between get call, and through it c, so
     * scan-build takes c->closing as changed by them, and then sees aws_send's call freed. */
    const int going = c->closing;
    if (!call->rq.anonymous && !c->anonymous && c->cstate != CRED_READY) {
        /* Wait for credentials (first call, or a refresh after an expired token). */
        call->waiting = 1;
        call->wait_next = NULL;
        if (c->waiting_tail) c->waiting_tail->wait_next = call;
        else c->waiting_head = call;
        c->waiting_tail = call;
        if (c->cstate == CRED_FAILED && uv_now(c->loop) - c->cred_failed_at > 5000) c->cstate = CRED_NONE;
        if (c->cstate == CRED_FAILED) {
            fail_waiting_calls(c, "no AWS credentials");
            return;
        }
        ensure_credentials(c);
        return;
    }
    const char *lines[MAX_CALL_HEADERS + 4];
    size_t nl = 0;
    for (size_t i = 0; i < call->rq.nheaders; i++) lines[nl++] = call->hdr[i];
    if (!call->rq.anonymous && !c->anonymous) {
        sigv4_url u;
        int rc = sigv4_url_parse(call->url, &u);
        sigv4_header sh[MAX_CALL_HEADERS];
        char names[MAX_CALL_HEADERS][SIGV4_MAX_HEADER_NAME + 1];
        if (rc == SIGV4_OK && signer_headers(call, sh, names) != 0) rc = SIGV4_EINVAL;
        if (rc == SIGV4_OK) {
            sigv4_request sr = {
                .method = call->rq.method,
                .host = u.host,
                .path = u.path,
                .query = u.query[0] ? u.query : NULL,
                .headers = sh,
                .nheaders = call->rq.nheaders,
                .payload_hash = call->payload_hash,
                .region = call->rq.region ? call->rq.region : c->region,
                .service = call->rq.service,
                .time = now_epoch(),
                .flags = call->rq.sign_flags,
            };
            sigv4_credentials cr = {c->creds.access_key_id, c->creds.secret_access_key,
                                    c->creds.session_token[0] ? c->creds.session_token : NULL};
            rc = sigv4_sign(&sr, &cr, &c->keys, c->signed_scratch);
        }
        if (rc != SIGV4_OK) {
            char msg[128];
            snprintf(msg, sizeof msg, "cannot sign the request: %s", sigv4_strerror(rc));
            return fail_later_in(c, going, call, msg);
        }
        /* The signed lines point into the shared scratch: http_start copies them at once. */
        for (size_t i = 0; i < c->signed_scratch->nlines; i++) lines[nl++] = c->signed_scratch->lines[i];
    }
    http_request hq;
    memset(&hq, 0, sizeof hq);
    hq.method = call->rq.method;
    hq.url = call->url;
    hq.headers = lines;
    hq.nheaders = nl;
    hq.body = call->rq.body;
    hq.body_len = call->rq.body_len;
    hq.timeout_ms = call->rq.timeout_ms;
    hq.max_body = call->rq.max_body;
    hq.on_data = call->rq.on_data ? on_http_data : NULL;
    hq.on_done = on_http_done;
    hq.ud = call;
    call->attempts++;
    c->st.attempts++;
    call->req = http_start(c->http, &hq);
    if (!call->req) fail_later_in(c, going, call, "the HTTP request could not start");
}

static void start_waiting_calls(aws_ctx *c) {
    aws_call *call = c->waiting_head;
    c->waiting_head = c->waiting_tail = NULL;
    while (call) {
        aws_call *next = call->wait_next;
        call->waiting = 0;
        start_attempt(call);
        call = next;
    }
}

static void fail_waiting_calls(aws_ctx *c, const char *why) {
    aws_call *call = c->waiting_head;
    c->waiting_head = c->waiting_tail = NULL;
    while (call) {
        aws_call *next = call->wait_next;
        call->waiting = 0;
        fail_later(call, why);
        call = next;
    }
}

aws_call *aws_send(aws_ctx *c, const aws_request *rq) {
    if (c->closing || !rq->url || !rq->method || !rq->service || !rq->on_done || rq->nheaders > MAX_CALL_HEADERS)
        return NULL;
    aws_call *call = calloc(1, sizeof *call);
    if (!call) return NULL;
    call->rq = *rq;
    call->url = strdup(rq->url);
    buf_init(&call->hdrs, 64 * 1024);
    size_t offs[MAX_CALL_HEADERS];
    int ok = call->url != NULL;
    for (size_t i = 0; ok && i < rq->nheaders; i++) {
        offs[i] = call->hdrs.len;
        ok = buf_append(&call->hdrs, rq->headers[i], strlen(rq->headers[i]) + 1) == 0;
    }
    if (!ok) {
        call_free(call);
        return NULL;
    }
    for (size_t i = 0; i < rq->nheaders; i++) call->hdr[i] = call->hdrs.data + offs[i];
    call->rq.url = call->url;
    call->rq.headers = call->hdr;
    if (rq->payload_hash) {
        snprintf(call->payload_hash, sizeof call->payload_hash, "%s", rq->payload_hash);
    } else if (crypto_sha256_hex(rq->body ? rq->body : "", rq->body_len, call->payload_hash) != 0) {
        call_free(call);
        return NULL;
    }
    /* The context only now: set before the calls above, scan-build takes it as changed by them
     * (they write into *call), and then sees start_attempt finish the call at once. */
    call->ctx = c;
    call->next = c->calls;
    if (c->calls) c->calls->prev = call;
    c->calls = call;
    c->st.calls++;
    start_attempt(call);
    return call;
}

void aws_call_resume(aws_call *call) {
    if (call->req) http_resume(call->req);
}

void aws_call_cancel(aws_call *call) {
    call->cancelled = 1;
    if (call->req) {
        http_cancel(call->req);
    } else if (call->timer_live && retry_timer_pending(&call->timer)) {
        retry_timer_stop(&call->timer);
        fail_later(call, "cancelled");
    } else if (call->waiting) {
        /* unlink from the waiting list */
        aws_ctx *c = call->ctx;
        aws_call **pp = &c->waiting_head, *prev = NULL;
        while (*pp && *pp != call) {
            prev = *pp;
            pp = &(*pp)->wait_next;
        }
        if (*pp) {
            *pp = call->wait_next;
            if (c->waiting_tail == call) c->waiting_tail = prev;
        }
        call->waiting = 0;
        fail_later(call, "cancelled");
    }
}
