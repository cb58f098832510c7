#include "base/text.h"

long text_pct_decode(const char *in, size_t n, char *out, size_t cap, unsigned flags) {
    if (cap == 0) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int hi = text_hexval((unsigned char)in[i + 1]), lo = text_hexval((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && (flags & TEXT_PCT_PLUS_SPACE)) {
            c = ' ';
        }
        if ((c == 0 && (flags & TEXT_PCT_NO_NUL)) || o + 1 >= cap) return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (long)o;
}
