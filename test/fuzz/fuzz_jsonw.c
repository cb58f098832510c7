/* jsonw on arbitrary bytes, both entry points. Properties:
 * - with room for 2n bytes the call never fails (the output is at most twice the input);
 * - '"' + output + '"' is a JSON string that json_parse accepts and whose decoded value is
 *   valid UTF-8 made of XML 1.0 characters only, with exactly st.chars code points;
 * - a smaller cap (JSONW_TRUNCATE) or a max_chars limit yields a prefix of the full output;
 *   without JSONW_TRUNCATE a smaller cap either fails (-1) or gives the full output;
 * - jsonw_escape gives the same bytes and stats with its ASCII fast path (jsonw_fast_path) as
 *   without, at any cap;
 * - jsonw_escape_len gives the length and stats jsonw_escape does with room for everything. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/jsonw.h"
#include "fuzz_check.h"

typedef long (*jsonw_fn)(const char *, size_t, char *, size_t, size_t, unsigned, jsonw_stats *);

static void check_mode(jsonw_fn fn, const char *in, size_t n, uint8_t sel) {
    static json_doc doc;
    if (!doc.toks) json_doc_init(&doc, 4);
    size_t cap = 2 * n + 8;
    char *full = malloc(cap + 2);
    jsonw_stats st;
    long len = fn(in, n, full + 1, cap, JSONW_NO_LIMIT, 0, &st);
    REQUIRE(len >= 0 && (size_t)len <= 2 * n && !st.truncated);
    full[0] = '"';
    full[len + 1] = '"';
    REQUIRE(json_parse(&doc, full, (size_t)len + 2) == JSON_OK);
    REQUIRE(doc.toks[0].type == JSON_STRING);
    char *dec = malloc((size_t)len + 1);
    long dl = json_tok_decode(&doc, 0, dec, (size_t)len + 1);
    REQUIRE(dl >= 0);
    REQUIRE(fuzz_xml_clean_chars((const unsigned char *)dec, (size_t)dl) == st.chars);
    free(dec);

    /* shorter cap, truncating: a prefix */
    size_t small = len > 0 ? (size_t)(sel % (unsigned)(len + 1)) : 0;
    char *part = malloc(small + 1);
    jsonw_stats st2;
    long pl = fn(in, n, part, small, JSONW_NO_LIMIT, JSONW_TRUNCATE, &st2);
    REQUIRE(pl >= 0 && (size_t)pl <= small && memcmp(part, full + 1, (size_t)pl) == 0);
    REQUIRE(st2.truncated == ((size_t)pl < (size_t)len));
    /* not truncating: all or nothing */
    pl = fn(in, n, part, small, JSONW_NO_LIMIT, 0, &st2);
    REQUIRE(small >= (size_t)len ? pl == len : pl == -1);
    free(part);

    /* max_chars: a prefix with exactly min(limit, chars) code points */
    size_t limit = sel % 17;
    char *lim = malloc(cap);
    pl = fn(in, n, lim, cap, limit, 0, &st2);
    REQUIRE(pl >= 0 && memcmp(lim, full + 1, (size_t)pl) == 0);
    REQUIRE(st2.chars == (limit < st.chars ? limit : st.chars));
    free(lim);
    free(full);
}

/* The fast path against the SSE2 loop, with room for everything and with a cap cut by sel. */
static void check_fast_path(const char *in, size_t n, uint8_t sel) {
    size_t full = 2 * n + 8;
    char *a = malloc(full), *b = malloc(full);
    for (int round = 0; round < 4; round++) { /* room for all, then a cap; the shuffle, then VBMI2 too */
        size_t cap = round & 1 ? (size_t)sel * n / 255 : full;
        unsigned flags = round & 1 ? JSONW_TRUNCATE : 0;
        jsonw_stats sa, sb;
        jsonw_fast_path(0);
        long la = jsonw_escape(in, n, a, cap, JSONW_NO_LIMIT, flags, &sa);
        jsonw_fast_path(1 + (round >> 1));
        long lb = jsonw_escape(in, n, b, cap, JSONW_NO_LIMIT, flags, &sb);
        REQUIRE(la == lb && sa.chars == sb.chars && sa.dropped == sb.dropped && sa.truncated == sb.truncated);
        REQUIRE(la <= 0 || memcmp(a, b, (size_t)la) == 0);
    }
    free(a);
    free(b);
}

/* The measure against the escape itself. */
static void check_len(const char *in, size_t n) {
    char *out = malloc(2 * n + 8);
    jsonw_stats se, sl;
    long le = jsonw_escape(in, n, out, 2 * n + 8, JSONW_NO_LIMIT, 0, &se);
    size_t ll = jsonw_escape_len(in, n, &sl);
    REQUIRE(le >= 0 && (size_t)le == ll && se.chars == sl.chars && se.dropped == sl.dropped && !sl.truncated);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t sel = size ? data[0] : 0;
    check_len((const char *)data, size);
    check_fast_path((const char *)data, size, sel);
    check_mode(jsonw_escape, (const char *)data, size, sel);
    check_mode(jsonw_reescape, (const char *)data, size, sel);
    return 0;
}
