/* Any bytes as an HTTP request head, fed whole and in two pieces: finding the end is the same
 * either way, parsing stays inside the buffer, every span is inside the head, and decoding the
 * query and form pairs stays within its output buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "fuzz_check.h"
#include "net/http_parse.h"

static int inside(httpp_span s, const char *buf, size_t len) {
    return s.n == 0 || (s.p >= buf && s.p + s.n <= buf + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    size_t scanned = 0;
    size_t end = httpp_head_end(buf, size, &scanned);
    REQUIRE(end <= size);
    /* Resumable: the same end when the bytes arrive in two pieces. */
    size_t cut = size / 3, s2 = 0;
    size_t e2 = httpp_head_end(buf, cut, &s2);
    if (!e2) e2 = httpp_head_end(buf, size, &s2);
    REQUIRE(e2 == end);
    if (!end) return 0;
    httpp_head h;
    int rc = httpp_parse(buf, end, 4096, &h);
    REQUIRE(rc <= 0);
    REQUIRE(httpp_status(rc) >= 400 || rc == HTTPP_OK);
    if (rc != HTTPP_OK) return 0;
    REQUIRE(inside(h.method, buf, end) && inside(h.target, buf, end) && inside(h.path, buf, end));
    REQUIRE(inside(h.query, buf, end) || h.query.n == 0);
    REQUIRE(h.method.n > 0 && h.method.n <= HTTPP_MAX_METHOD && h.path.n > 0 && h.path.p[0] == '/');
    REQUIRE(h.nheaders <= HTTPP_MAX_HEADERS && h.content_length >= -1 && h.head_len == end);
    for (unsigned i = 0; i < h.nheaders; i++) REQUIRE(inside(h.names[i], buf, end) && inside(h.values[i], buf, end));
    char out[64];
    size_t pos = 0, pairs = 0;
    httpp_span k, v;
    while (httpp_form_next(h.query.p, h.query.n, &pos, &k, &v)) {
        REQUIRE(++pairs <= h.query.n);
        long n = text_pct_decode(v.p, v.n, out, sizeof out, TEXT_PCT_PLUS_SPACE);
        REQUIRE(n < (long)sizeof out && (n < 0 || out[n] == '\0'));
        n = text_pct_decode(k.p, k.n, out, sizeof out, 0);
        REQUIRE(n < (long)sizeof out);
    }
    return 0;
}
