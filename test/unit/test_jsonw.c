#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/jsonw.h"
#include "testlib.h"

static char out[4096];

/* Escapes `in` (raw mode) and NUL-terminates the result for CHECK_EQ_STR. */
static const char *esc(const char *in, size_t n, size_t *dropped) {
    jsonw_stats st;
    long r = jsonw_escape(in, n, out, sizeof out - 1, JSONW_NO_LIMIT, 0, &st);
    if (r < 0) return "(fail)";
    out[r] = '\0';
    if (dropped) *dropped = st.dropped;
    return out;
}

static const char *reesc(const char *in, size_t *dropped) {
    jsonw_stats st;
    long r = jsonw_reescape(in, strlen(in), out, sizeof out - 1, JSONW_NO_LIMIT, 0, &st);
    if (r < 0) return "(fail)";
    out[r] = '\0';
    if (dropped) *dropped = st.dropped;
    return out;
}

static void test_escape_basic(void) {
    size_t d = 99;
    CHECK_EQ_STR(esc("plain ascii text that is longer than eight bytes", 48, &d),
                 "plain ascii text that is longer than eight bytes");
    CHECK_EQ_INT(d, 0);
    CHECK_EQ_STR(esc("a\"b\\c\td\ne\rf", 11, &d), "a\\\"b\\\\c\\td\\ne\\rf");
    CHECK_EQ_INT(d, 0);
    /* C0 controls other than TAB/LF/CR, including NUL, are dropped and counted. */
    CHECK_EQ_STR(esc("x\x01y\x00z\x1f\x7f", 7, &d), "xyz\x7f");
    CHECK_EQ_INT(d, 3);
    CHECK_EQ_STR(esc("", 0, &d), "");
}

static void test_escape_utf8(void) {
    size_t d = 99;
    /* é, €, emoji (supplementary plane, kept), U+FFFD kept */
    CHECK_EQ_STR(esc("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd", 12, &d),
                 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd");
    CHECK_EQ_INT(d, 0);
    /* overlong '/' (C0 AF), overlong 3-byte (E0 80 AF) */
    CHECK_EQ_STR(esc("a\xc0\xaf"
                     "b\xe0\x80\xaf"
                     "c",
                     8, &d),
                 "abc");
    CHECK_EQ_INT(d, 5);
    /* UTF-8-encoded surrogate U+D800 (ED A0 80), > U+10FFFF (F4 90 80 80), F5 lead */
    CHECK_EQ_STR(esc("\xed\xa0\x80|\xf4\x90\x80\x80|\xf5", 10, &d), "||");
    CHECK_EQ_INT(d, 8);
    /* U+FFFE and U+FFFF are well-formed but forbidden: one drop each */
    CHECK_EQ_STR(esc("<\xef\xbf\xbe\xef\xbf\xbf>", 8, &d), "<>");
    CHECK_EQ_INT(d, 2);
    /* truncated sequence at end and before ASCII */
    CHECK_EQ_STR(esc("\xe2\x82"
                     "A\xf0\x9f\x98",
                     6, &d),
                 "A");
    CHECK_EQ_INT(d, 5);
    /* lone continuation byte; U+10FFFF max code point kept; U+D7FF and U+E000 kept */
    CHECK_EQ_STR(esc("\x80\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80", 11, &d),
                 "\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80");
    CHECK_EQ_INT(d, 1);
    /* C1 control U+0085 is a legal XML character */
    CHECK_EQ_STR(esc("\xc2\x85", 2, &d), "\xc2\x85");
}

static void test_reescape(void) {
    size_t d = 99;
    CHECK_EQ_STR(reesc("a\\\"b\\\\c\\/d\\ne\\tf\\rg", &d), "a\\\"b\\\\c\\/d\\ne\\tf\\rg");
    CHECK_EQ_INT(d, 0);
    CHECK_EQ_STR(reesc("x\\by\\fz", &d), "xyz");
    CHECK_EQ_INT(d, 2);
    CHECK_EQ_STR(reesc("\\u0000\\u0001\\u001F!\\u0009\\u000a\\u000D", &d), "!\\t\\n\\r");
    CHECK_EQ_INT(d, 3);
    CHECK_EQ_STR(reesc("\\u00e9\\u20AC\\uFFFD", &d), "\\u00e9\\u20AC\\uFFFD");
    CHECK_EQ_INT(d, 0);
    CHECK_EQ_STR(reesc("\\uFFFE\\uffff", &d), "");
    CHECK_EQ_INT(d, 2);
    /* pair kept; lone high, lone low, high followed by non-low: dropped */
    CHECK_EQ_STR(reesc("\\ud83d\\ude00", &d), "\\ud83d\\ude00");
    CHECK_EQ_INT(d, 0);
    CHECK_EQ_STR(reesc("a\\ud83db\\ude00c\\ud83d\\u0041", &d), "abc\\u0041");
    CHECK_EQ_INT(d, 3);
    CHECK_EQ_STR(reesc("end\\ud83d", &d), "end");
    /* malformed escapes lose their backslash */
    CHECK_EQ_STR(reesc("\\q\\u12", &d), "qu12");
    CHECK_EQ_INT(d, 2);
    CHECK_EQ_STR(reesc("tail\\", &d), "tail");
    /* raw bytes inside the token are validated as in raw mode */
    CHECK_EQ_STR(reesc("\xc3\xa9\xff\x01\t\"", &d), "\xc3\xa9\\t\\\"");
    CHECK_EQ_INT(d, 2);
}

static void test_bounds(void) {
    char small[8];
    memset(small, 'Z', sizeof small);
    /* does not fit: -1 and nothing written past cap */
    CHECK_EQ_INT(jsonw_escape("abcdefghij", 10, small, 5, JSONW_NO_LIMIT, 0, NULL), -1);
    CHECK(small[5] == 'Z');
    CHECK_EQ_INT(jsonw_escape("abcd\"", 5, small, 5, JSONW_NO_LIMIT, 0, NULL), -1);
    CHECK_EQ_INT(jsonw_escape("abcd", 4, small, 4, JSONW_NO_LIMIT, 0, NULL), 4);
    /* truncation never splits an escape or a character */
    jsonw_stats st;
    CHECK_EQ_INT(jsonw_escape("abc\"d", 5, small, 4, JSONW_NO_LIMIT, JSONW_TRUNCATE, &st), 3);
    CHECK_EQ_INT(st.truncated, 1);
    CHECK_EQ_INT(jsonw_escape("ab\xe2\x82\xac", 5, small, 4, JSONW_NO_LIMIT, JSONW_TRUNCATE, &st), 2);
    CHECK_EQ_INT(st.chars, 2);
    CHECK_EQ_INT(jsonw_reescape("a\\ud83d\\ude00", 13, small, 8, JSONW_NO_LIMIT, JSONW_TRUNCATE, &st), 1);
    /* max_chars counts code points, not bytes */
    CHECK_EQ_INT(jsonw_escape("\xc3\xa9\xc3\xa9\xc3\xa9", 6, small, 8, 2, 0, &st), 4);
    CHECK_EQ_INT(st.chars, 2);
    CHECK_EQ_INT(st.truncated, 1);
    CHECK_EQ_INT(jsonw_reescape("\\u00e9xyz", 9, small, 8, 2, 0, &st), 7);
    CHECK(memcmp(small, "\\u00e9x", 7) == 0);
    /* exactly at the limit is not truncated */
    CHECK_EQ_INT(jsonw_escape("abc", 3, small, 8, 3, 0, &st), 3);
    CHECK_EQ_INT(st.truncated, 0);
}

static void test_long_bulk(void) {
    /* A long run mixing plain blocks and specials at every offset of a 8-byte word. */
    char in[600], expect[1200];
    size_t e = 0;
    for (int i = 0; i < 600; i++) {
        in[i] = (i % 13 == 5) ? '"' : (char)('a' + i % 26);
        if (in[i] == '"') expect[e++] = '\\';
        expect[e++] = in[i];
    }
    long n = jsonw_escape(in, sizeof in, out, sizeof out, JSONW_NO_LIMIT, 0, NULL);
    CHECK_EQ_INT(n, (long)e);
    CHECK(n > 0 && memcmp(out, expect, e) == 0);
    CHECK_EQ_INT(jsonw_utf8_len((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
    CHECK_EQ_INT(jsonw_utf8_len((const unsigned char *)"\xc1\xbf", 2), 0);
}

/* The block-at-a-time path must respect cap exactly like the careful one: for a quote or an
 * escape at every offset of a 16-byte block and every cap, the output is the longest prefix
 * of the full result that ends on a unit, and nothing is written at or past cap. */
static void test_bulk_bounds(void) {
    int bad = 0;
    for (int mode = 0; mode < 2; mode++) {
        for (size_t before = 0; before < 34; before++) {
            char in[96];
            memset(in, 'a', before);
            size_t n = before;
            const char *tail =
                mode == 0 ? "\"bc\\de\"fghijklmnopqrstuvwxyz0123456789" : "\\nbc\\\"de\\/fghijklmnopqrstuvwxyz012345";
            memcpy(in + n, tail, strlen(tail));
            n += strlen(tail);
            char full[256], buf[256];
            long fl = mode == 0 ? jsonw_escape(in, n, full, sizeof full, JSONW_NO_LIMIT, 0, NULL)
                                : jsonw_reescape(in, n, full, sizeof full, JSONW_NO_LIMIT, 0, NULL);
            if (fl <= 0) {
                bad++;
                continue;
            }
            for (size_t cap = 0; cap <= (size_t)fl + 2; cap++) {
                for (int trunc = 0; trunc < 2; trunc++) {
                    memset(buf, 'Z', sizeof buf);
                    unsigned flags = trunc ? JSONW_TRUNCATE : 0;
                    long r = mode == 0 ? jsonw_escape(in, n, buf, cap, JSONW_NO_LIMIT, flags, NULL)
                                       : jsonw_reescape(in, n, buf, cap, JSONW_NO_LIMIT, flags, NULL);
                    for (size_t k = cap; k < sizeof buf; k++) bad += buf[k] != 'Z';
                    if (cap >= (size_t)fl) {
                        bad += r != fl || memcmp(buf, full, (size_t)fl) != 0;
                    } else if (!trunc) {
                        bad += r != -1;
                    } else {
                        /* cut before a 2-byte escape at most one byte short, never inside it */
                        bad += r < 0 || (size_t)r > cap || (size_t)r + 1 < cap || memcmp(buf, full, (size_t)r) != 0 ||
                               (r > 0 && full[r - 1] == '\\' && (r < 2 || full[r - 2] != '\\'));
                    }
                }
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
}

/* Short and odd-length inputs (the padded tail path) against a plain reference escaper. */
static void test_short_against_reference(void) {
    static const char *const pieces[] = {"a", "\"", "\\", "\n", "\x01", "\xc3\xa9", "bcdefgh", "\t"};
    static const char *const escaped[] = {"a", "\\\"", "\\\\", "\\n", "", "\xc3\xa9", "bcdefgh", "\\t"};
    uint32_t r = 99;
    int bad = 0;
    for (int iter = 0; iter < 3000; iter++) {
        char in[128], want[256], got[256];
        size_t n = 0, wn = 0;
        int count = 1 + iter % 12;
        for (int k = 0; k < count; k++) {
            r = r * 1103515245u + 12345u;
            size_t p = (r >> 16) % 8;
            memcpy(in + n, pieces[p], strlen(pieces[p]));
            n += strlen(pieces[p]);
            memcpy(want + wn, escaped[p], strlen(escaped[p]));
            wn += strlen(escaped[p]);
        }
        long got_n = jsonw_escape(in, n, got, sizeof got, JSONW_NO_LIMIT, 0, NULL);
        if (got_n != (long)wn || memcmp(got, want, wn) != 0) bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

/* The ASCII fast path (jsonw_fast_path) against the SSE2 loop on record-like text: long runs of
 * ASCII with quotes and backslashes at every density (none, some, every byte), UTF-8, controls and
 * bad bytes between them, every cap around the full length and char limits. Same bytes, same
 * stats, and nothing written at or past cap. */
static void test_fast_path_same_output(void) {
    int best = jsonw_fast_path(2);
    if (best < 2)
        fprintf(stderr, "     (this CPU has %s: compared the SSE2 loop with it)\n",
                best ? "no VBMI2 path" : "no fast path");
    static const char *const pieces[] = {"abcdefgh", "\"",   "\\",   "{\"k\":\"v\"},", "0123456789ABCDEF",   "\xc3\xa9",
                                         "\n",       "\x01", "\xff", "\xef\xbf\xbe",   "\"\"\"\"\"\"\"\"\"", "\t"};
    uint32_t r = 7;
    int bad = 0, compared = 0;
    for (int iter = 0; iter < 4000; iter++) {
        char in[700], a[1500], b[1500];
        size_t n = 0;
        int count = 1 + iter % 60;
        for (int k = 0; k < count && n < sizeof in - 20; k++) {
            r = r * 1103515245u + 12345u;
            /* mostly ASCII pieces, as in records; one in eight is one of the others */
            size_t p = ((r >> 16) & 7) ? (r >> 20) % 5 : 5 + (r >> 20) % 7;
            memcpy(in + n, pieces[p], strlen(pieces[p]));
            n += strlen(pieces[p]);
        }
        r = r * 1103515245u + 12345u;
        size_t caps[] = {sizeof a, 2 * n, n + (r >> 16) % (n + 1), (r >> 8) % (2 * n + 1)};
        size_t limit = iter % 5 == 0 ? (r >> 4) % (n + 1) : JSONW_NO_LIMIT;
        for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
            size_t cap = caps[c] < sizeof a ? caps[c] : sizeof a;
            for (unsigned flags = 0; flags <= JSONW_TRUNCATE; flags += JSONW_TRUNCATE) {
                for (int level = 1; level <= 2; level++) { /* the shuffle, then VBMI2 and the shuffle */
                    jsonw_stats sa, sb;
                    memset(a, 'Z', sizeof a);
                    memset(b, 'Z', sizeof b);
                    jsonw_fast_path(0);
                    long la = jsonw_escape(in, n, a, cap, limit, flags, &sa);
                    jsonw_fast_path(level);
                    long lb = jsonw_escape(in, n, b, cap, limit, flags, &sb);
                    for (size_t k = cap; k < sizeof b; k++) bad += b[k] != 'Z';
                    bad += la != lb || sa.chars != sb.chars || sa.dropped != sb.dropped ||
                           sa.truncated != sb.truncated || (la > 0 && memcmp(a, b, (size_t)la) != 0);
                    compared++;
                }
            }
        }
    }
    CHECK(compared == 64000);
    CHECK_EQ_INT(bad, 0);
}

/* Short values (the size of most fields) at every length around the word sizes, with one byte to
 * look at in every position: plain ASCII comes back as it was; a control byte is dropped, a
 * backslash escape kept, UTF-8 kept, wherever they are; a cap or a char limit below the length
 * still fails or cuts as for long values. */
static void test_reescape_short(void) {
    int bad = 0;
    for (size_t n = 1; n <= 40; n++) {
        char v[48], got[128], want[128];
        for (size_t i = 0; i < n; i++) v[i] = (char)('a' + (i * 5) % 26);
        jsonw_stats st;
        long w = jsonw_reescape(v, n, got, sizeof out, JSONW_NO_LIMIT, 0, &st);
        bad += w != (long)n || memcmp(got, v, n) != 0 || st.chars != n || st.dropped || st.truncated;
        bad += jsonw_reescape(v, n, got, n - 1, JSONW_NO_LIMIT, 0, &st) != -1;
        w = jsonw_reescape(v, n, got, sizeof out, n - 1, 0, &st);
        bad += w != (long)n - 1 || !st.truncated || st.chars != n - 1;
        for (size_t k = 0; k < n; k++) {
            char c[48];
            memcpy(c, v, n);
            c[k] = '\x01'; /* dropped */
            memcpy(want, v, k);
            memcpy(want + k, v + k + 1, n - k - 1);
            w = jsonw_reescape(c, n, got, sizeof out, JSONW_NO_LIMIT, 0, &st);
            bad += w != (long)n - 1 || memcmp(got, want, n - 1) != 0 || st.dropped != 1 || st.chars != n - 1;
            if (k + 1 < n) { /* an escape: kept as it is */
                c[k] = '\\';
                c[k + 1] = 'n';
                w = jsonw_reescape(c, n, got, sizeof out, JSONW_NO_LIMIT, 0, &st);
                bad += w != (long)n || memcmp(got, c, n) != 0 || st.chars != n - 1 || st.dropped;
                c[k] = '\xc3'; /* é */
                c[k + 1] = '\xa9';
                w = jsonw_reescape(c, n, got, sizeof out, JSONW_NO_LIMIT, 0, &st);
                bad += w != (long)n || memcmp(got, c, n) != 0 || st.chars != n - 1 || st.dropped;
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
}

/* A status reason as a JSON string body: escaped, NUL-terminated, cut to fit. */
static void test_text(void) {
    char text[16];
    CHECK_EQ_INT((int)jsonw_text("a \"b\"\\\n", text, sizeof text), 11);
    CHECK_EQ_STR(text, "a \\\"b\\\"\\\\\\n");
    CHECK(jsonw_text("0123456789abcdefghij", text, sizeof text) == 15 && strlen(text) == 15);
    char one[1];
    CHECK(jsonw_text("x", one, sizeof one) == 0 && one[0] == '\0');
}

/* jsonw_escape_len: the length and stats of jsonw_escape's output, for texts whose specials fall
 * inside and across 16-byte blocks. */
static void test_escape_len(void) {
    static const char *cases[] = {"",
                                  "plain",
                                  "{\"eventID\":\"a\",\"n\":1}",
                                  "0123456789abcde\"0123456789abcdef\\x",
                                  "tab\tline\ncr\r bell\a end",
                                  "0123456789abcd\xc3\xa9 split across a block",
                                  "bad \xc3( \xed\xa0\x80 \xef\xbf\xbe \xef\xbf\xbf \xf4\x90\x80\x80 \xe2\x82\xac ok",
                                  "0123456789abcdef0123456789abcdef\x01"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i]);
        jsonw_stats se, sl;
        long le = jsonw_escape(cases[i], n, out, sizeof out, JSONW_NO_LIMIT, 0, &se);
        size_t ll = jsonw_escape_len(cases[i], n, &sl);
        CHECK(le >= 0 && (size_t)le == ll);
        CHECK(se.chars == sl.chars && se.dropped == sl.dropped && sl.truncated == 0);
    }
    jsonw_stats st;
    /* every byte a quote, far past what a byte lane counts before it is summed */
    static char quotes[20000];
    memset(quotes, '"', sizeof quotes);
    CHECK_EQ_INT((int)jsonw_escape_len(quotes, sizeof quotes, &st), 40000);
    CHECK_EQ_INT((int)jsonw_escape_len(quotes, 8161, &st), 16322);
    CHECK_EQ_INT((int)jsonw_escape_len("a\"b\\c", 5, &st), 7);
    CHECK_EQ_INT((int)st.chars, 5);
    CHECK_EQ_INT((int)jsonw_escape_len("a\x01\xff", 3, &st), 1);
    CHECK_EQ_INT((int)st.dropped, 2);
    CHECK_EQ_INT((int)jsonw_escape_len("x", 1, NULL), 1);
}

static void run_all(void) {
    RUN(test_escape_len);
    RUN(test_escape_basic);
    RUN(test_escape_utf8);
    RUN(test_reescape);
    RUN(test_bounds);
    RUN(test_bulk_bounds);
    RUN(test_short_against_reference);
    RUN(test_long_bulk);
    RUN(test_reescape_short);
}

int main(void) {
    /* every test with the fast path (where the CPU has it) and without */
    int fast = jsonw_fast_path(-1);
    fprintf(stderr, "fast path %s\n", fast == 2 ? "VBMI2 and shuffle" : fast ? "shuffle" : "absent");
    run_all();
    if (fast == 2) {
        jsonw_fast_path(1);
        fprintf(stderr, "fast path: shuffle only\n");
        run_all();
    }
    jsonw_fast_path(0);
    fprintf(stderr, "fast path off\n");
    run_all();
    RUN(test_fast_path_same_output);
    RUN(test_text);
    TEST_MAIN_END();
}
