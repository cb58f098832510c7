/* Small text helpers several layers share: hex digits, RFC 3986 unreserved bytes, UTF-8
 * encoding and percent-decoding. Pure. The per-byte helpers are static inline because the
 * JSON reader and writer use them on every escape of every record. */
#ifndef CTINDEX_TEXT_H
#define CTINDEX_TEXT_H

#include <stddef.h>

/* Value of a hex digit of either case, or -1. */
static inline int text_hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Value (0..0xFFFF) of the four hex digits at p, or -1 when one of them is not a hex digit. */
static inline long text_hex4(const char *p) {
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int h = text_hexval((unsigned char)p[k]);
        if (h < 0) return -1;
        v = (v << 4) | h;
    }
    return v;
}

/* The hex digit of the low four bits of v. */
static inline char text_hex_lower(unsigned v) { return "0123456789abcdef"[v & 15]; }
static inline char text_hex_upper(unsigned v) { return "0123456789ABCDEF"[v & 15]; }

/* RFC 3986 unreserved characters (ALPHA, DIGIT, '-', '.', '_', '~'): never percent-encoded. */
static inline int text_url_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

/* Writes code point cp (at most 0x10FFFF) as UTF-8 into o, which has room for 4 bytes, and
 * returns the bytes written. Surrogates are encoded as they are: the caller decides whether
 * to accept them. */
static inline size_t text_utf8_put(char *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

enum {
    TEXT_PCT_PLUS_SPACE = 1, /* '+' is a space (HTML forms, S3 event notification keys) */
    TEXT_PCT_NO_NUL = 2,     /* a NUL byte, written or decoded, is an error (C strings follow) */
};

/* Percent-decodes in[0..n) into out and NUL-terminates it: %XX (either case) is one byte,
 * other bytes are copied. Returns the decoded length, or -1 when a '%' is not followed by two
 * hex digits, when the result and its NUL do not fit in cap bytes, or (TEXT_PCT_NO_NUL) on a
 * NUL byte. out may be in: the output never runs ahead of the input. */
long text_pct_decode(const char *in, size_t n, char *out, size_t cap, unsigned flags);

#endif
