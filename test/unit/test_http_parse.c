#include "base/text.h"
#include "net/http_parse.h"

#include <string.h>

#include "testlib.h"

static int parse(const char *s, httpp_head *h) {
    size_t scanned = 0;
    size_t end = httpp_head_end(s, strlen(s), &scanned);
    if (!end) return 99;
    return httpp_parse(s, end, 8192, h);
}

static void test_request_line_and_headers(void) {
    httpp_head h = {0}; /* read by the checks even when a parse fails */
    const char *r = "POST /2013-01-01/search?q=x&size=2 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n"
                    "X-Empty:\r\nX-Pad:   v  v \t\r\n\r\nbody";
    CHECK_EQ_INT(parse(r, &h), HTTPP_OK);
    CHECK(httpp_span_eq(h.method, "POST"));
    CHECK(httpp_span_eq(h.path, "/2013-01-01/search"));
    CHECK(httpp_span_eq(h.query, "q=x&size=2"));
    CHECK_EQ_INT(h.minor, 1);
    CHECK_EQ_INT(h.content_length, 12);
    CHECK_EQ_INT(h.keep_alive, 1);
    CHECK_EQ_INT(h.head_len, strlen(r) - 4);
    const httpp_span *v = httpp_header(&h, "x-pad");
    CHECK(v && httpp_span_eq(*v, "v  v"));
    v = httpp_header(&h, "X-EMPTY");
    CHECK(v && v->n == 0);
    CHECK(httpp_header(&h, "missing") == NULL);
}

static void test_keep_alive_rules(void) {
    httpp_head h = {0}; /* read by the checks even when a parse fails */
    CHECK_EQ_INT(parse("GET / HTTP/1.0\r\n\r\n", &h), HTTPP_OK);
    CHECK_EQ_INT(h.keep_alive, 0);
    CHECK_EQ_INT(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h), HTTPP_OK);
    CHECK_EQ_INT(h.keep_alive, 1);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n", &h), HTTPP_OK);
    CHECK_EQ_INT(h.keep_alive, 0);
    /* bare LF line ends are accepted */
    CHECK_EQ_INT(parse("GET /x HTTP/1.1\nHost: x\n\n", &h), HTTPP_OK);
    CHECK(httpp_span_eq(h.path, "/x") && h.query.n == 0);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", &h), HTTPP_OK);
    CHECK_EQ_INT(h.expect_continue, 1);
}

static void test_refusals(void) {
    httpp_head h = {0}; /* read by the checks even when a parse fails */
    struct {
        const char *req;
        int status;
    } cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", 400},                                                       /* no Host */
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},                                 /* two Hosts */
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},                                            /* version */
        {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},                                           /* trailing space */
        {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},                                           /* double space */
        {"GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},                                    /* absolute form */
        {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},                                            /* method chars */
        {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400},                                 /* obs-fold */
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},                                           /* space before : */
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400},                               /* control char */
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400}, /* two lengths */
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999999999999999\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400}, /* smuggling */
        {"GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", 417},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse(cases[i].req, &h);
        if (rc >= 0 || httpp_status(rc) != cases[i].status) {
            fprintf(stderr, "case %zu: rc %d status %d, expected %d\n", i, rc, rc < 0 ? httpp_status(rc) : 0,
                    cases[i].status);
            test_failures++;
        }
    }
    /* Same two lengths are fine. */
    CHECK_EQ_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n", &h), HTTPP_OK);
    /* Too many headers: 431. */
    char big[8192] = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < HTTPP_MAX_HEADERS; i++) strcat(big, "X-A: b\r\n");
    strcat(big, "\r\n");
    CHECK_EQ_INT(httpp_status(parse(big, &h)), 431);
    /* Target longer than the limit: 414. */
    size_t scanned = 0;
    const char *t = "GET /0123456789 HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK_EQ_INT(httpp_parse(t, httpp_head_end(t, strlen(t), &scanned), 5, &h), HTTPP_ETARGET);
}

static void test_head_end_resumes(void) {
    const char *r = "GET / HTTP/1.1\r\nHost: x\r\n\r\nNEXT";
    size_t n = strlen(r), scanned = 0, end = 0;
    /* Feed one byte at a time: the end is found exactly when the blank line is complete. */
    for (size_t len = 1; len <= n && !end; len++) {
        end = httpp_head_end(r, len, &scanned);
        if (end) CHECK_EQ_INT(len, n - 4);
    }
    CHECK_EQ_INT(end, n - 4);
    scanned = 0;
    CHECK_EQ_INT(httpp_head_end("GET / HTTP/1.1\r\nHost: x\r\n", 25, &scanned), 0);
}

static void test_forms(void) {
    const char *q = "q=event_source%3A%27sqs%27&&q.parser=structured&flag&facet.event_name=%7B%7D&size=";
    size_t pos = 0;
    httpp_span k, v;
    char out[64];
    CHECK(httpp_form_next(q, strlen(q), &pos, &k, &v));
    CHECK(httpp_span_eq(k, "q"));
    CHECK_EQ_INT(text_pct_decode(v.p, v.n, out, sizeof out, TEXT_PCT_PLUS_SPACE), 18);
    CHECK_EQ_STR(out, "event_source:'sqs'");
    CHECK(httpp_form_next(q, strlen(q), &pos, &k, &v) && httpp_span_eq(k, "q.parser"));
    CHECK(httpp_form_next(q, strlen(q), &pos, &k, &v) && httpp_span_eq(k, "flag") && v.n == 0);
    CHECK(httpp_form_next(q, strlen(q), &pos, &k, &v) && httpp_span_eq(k, "facet.event_name"));
    CHECK(httpp_form_next(q, strlen(q), &pos, &k, &v) && httpp_span_eq(k, "size") && v.n == 0);
    CHECK(!httpp_form_next(q, strlen(q), &pos, &k, &v));
}

int main(void) {
    RUN(test_request_line_and_headers);
    RUN(test_keep_alive_rules);
    RUN(test_refusals);
    RUN(test_head_end_resumes);
    RUN(test_forms);
    TEST_MAIN_END();
}
