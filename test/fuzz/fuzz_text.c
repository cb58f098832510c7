/* Any bytes, percent-decoded with every flag: the result fits, is NUL-terminated, never
 * grows, honours the flags, and decoding in place gives the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char out[4096], inplace[4096];
    if (size >= sizeof inplace) return 0;
    const char *in = (const char *)data;
    for (unsigned flags = 0; flags < 4; flags++) {
        long n = text_pct_decode(in, size, out, sizeof out, flags);
        memcpy(inplace, in, size);
        long m = text_pct_decode(inplace, size, inplace, size + 1, flags);
        REQUIRE(n == m);
        if (n < 0) continue;
        REQUIRE((size_t)n <= size && out[n] == '\0' && memcmp(out, inplace, (size_t)n + 1) == 0);
        if (flags & TEXT_PCT_NO_NUL) REQUIRE(strlen(out) == (size_t)n);
        /* without escapes, decoding copies (or turns '+' into ' ') */
        if (!memchr(in, '%', size)) {
            REQUIRE((size_t)n == size);
            for (size_t i = 0; i < size; i++)
                REQUIRE(out[i] == ((flags & TEXT_PCT_PLUS_SPACE) && in[i] == '+' ? ' ' : in[i]));
        }
    }
    return 0;
}
