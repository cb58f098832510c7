#include "base/text.h"
#include "testlib.h"

static void test_hex(void) {
    CHECK_EQ_INT(text_hexval('0'), 0);
    CHECK_EQ_INT(text_hexval('9'), 9);
    CHECK_EQ_INT(text_hexval('a'), 10);
    CHECK_EQ_INT(text_hexval('F'), 15);
    CHECK_EQ_INT(text_hexval('g'), -1);
    CHECK_EQ_INT(text_hexval('/'), -1);
    CHECK_EQ_INT(text_hexval(0xC3), -1);
    CHECK_EQ_INT(text_hex4("00e9"), 0xE9);
    CHECK_EQ_INT(text_hex4("FFFF"), 0xFFFF);
    CHECK_EQ_INT(text_hex4("d83D"), 0xD83D);
    CHECK_EQ_INT(text_hex4("12g4"), -1);
    CHECK_EQ_INT(text_hex4("123\0"), -1);
    char lower[17] = {0}, upper[17] = {0};
    for (unsigned v = 0; v < 16; v++) {
        lower[v] = text_hex_lower(v + 32); /* only the low four bits count */
        upper[v] = text_hex_upper(v);
    }
    CHECK_EQ_STR(lower, "0123456789abcdef");
    CHECK_EQ_STR(upper, "0123456789ABCDEF");
}

static void test_url_unreserved(void) {
    int n = 0;
    for (int c = 0; c < 256; c++) n += text_url_unreserved((unsigned char)c);
    CHECK_EQ_INT(n, 26 + 26 + 10 + 4);
    CHECK(text_url_unreserved('~') && text_url_unreserved('-') && text_url_unreserved('.') && text_url_unreserved('_'));
    CHECK(!text_url_unreserved('/') && !text_url_unreserved('%') && !text_url_unreserved('+') &&
          !text_url_unreserved(' '));
}

static void test_utf8_put(void) {
    static const struct {
        unsigned cp;
        const char *utf8;
    } cases[] = {
        {0x41, "A"},
        {0x7F, "\x7F"},
        {0x80, "\xC2\x80"},
        {0xE9, "\xC3\xA9"},
        {0x7FF, "\xDF\xBF"},
        {0x800, "\xE0\xA0\x80"},
        {0x20AC, "\xE2\x82\xAC"},
        {0xD800, "\xED\xA0\x80"}, /* a surrogate is encoded as it is */
        {0xFFFF, "\xEF\xBF\xBF"},
        {0x10000, "\xF0\x90\x80\x80"},
        {0x1F600, "\xF0\x9F\x98\x80"},
        {0x10FFFF, "\xF4\x8F\xBF\xBF"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[5] = {0};
        size_t n = text_utf8_put(out, cases[i].cp);
        CHECK_EQ_INT(n, strlen(cases[i].utf8));
        CHECK_EQ_STR(out, cases[i].utf8);
    }
}

static void test_pct_decode(void) {
    char out[8];
    CHECK_EQ_INT(text_pct_decode("a+b%41", 6, out, sizeof out, TEXT_PCT_PLUS_SPACE), 4);
    CHECK_EQ_STR(out, "a bA");
    CHECK_EQ_INT(text_pct_decode("a+b", 3, out, sizeof out, 0), 3);
    CHECK_EQ_STR(out, "a+b");
    CHECK_EQ_INT(text_pct_decode("%4", 2, out, sizeof out, TEXT_PCT_PLUS_SPACE), -1);
    CHECK_EQ_INT(text_pct_decode("%", 1, out, sizeof out, TEXT_PCT_PLUS_SPACE), -1);
    CHECK_EQ_INT(text_pct_decode("12345678", 8, out, sizeof out, TEXT_PCT_PLUS_SPACE), -1);
    CHECK_EQ_INT(text_pct_decode("1234567", 7, out, sizeof out, 0), 7); /* exactly fits with its NUL */
    CHECK_EQ_STR(out, "1234567");
    CHECK_EQ_INT(text_pct_decode("%2b%2F", 6, out, sizeof out, TEXT_PCT_PLUS_SPACE), 2);
    CHECK_EQ_STR(out, "+/");
    CHECK_EQ_INT(text_pct_decode("%g0", 3, out, sizeof out, 0), -1);
    CHECK_EQ_INT(text_pct_decode("", 0, out, sizeof out, 0), 0);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(text_pct_decode("", 0, out, 0, 0), -1); /* no room for the NUL */
    /* NUL bytes: kept (with the length telling) unless the caller refuses them */
    CHECK_EQ_INT(text_pct_decode("a%00b", 5, out, sizeof out, 0), 3);
    CHECK(memcmp(out, "a\0b", 4) == 0);
    CHECK_EQ_INT(text_pct_decode("a%00b", 5, out, sizeof out, TEXT_PCT_NO_NUL), -1);
    CHECK_EQ_INT(text_pct_decode("a\0b", 3, out, sizeof out, TEXT_PCT_NO_NUL), -1);
    /* in place */
    char key[] = "AWSLogs/a%20b+c.json";
    CHECK_EQ_INT(text_pct_decode(key, strlen(key), key, sizeof key, TEXT_PCT_PLUS_SPACE), 18);
    CHECK_EQ_STR(key, "AWSLogs/a b c.json");
}

int main(void) {
    RUN(test_hex);
    RUN(test_url_unreserved);
    RUN(test_utf8_put);
    RUN(test_pct_decode);
    TEST_MAIN_END();
}
