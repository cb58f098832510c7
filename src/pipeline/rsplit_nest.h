/* The hot loop of the splitter (rsplit.c, its only user): the bytes of one nested JSON value, an
 * object or an array, scanned for the bracket that closes it. Outside strings only `"{}[]`
 * matter, inside them only `"` and `\`; the state (depth, inside a string, a pending escape, the
 * kinds of the open brackets) is saved between chunks. Strings are most of a record's bytes, so
 * they are searched 16 bytes at a time, and blocks without a backslash are taken whole.
 * Everything here is static and inline: the compiler folds it into the state machine. */
#ifndef CTINDEX_RSPLIT_NEST_H
#define CTINDEX_RSPLIT_NEST_H

#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Forced inline: the pieces of this scanner, and the few steps of rsplit.c's state machine every
 * element of a Records array takes. Measured with callgrind, leaving them to the compiler costs
 * about 2% of the splitter's instructions. */
#if defined(__GNUC__)
#define RSPLIT_HOT __attribute__((always_inline))
#else
#define RSPLIT_HOT
#endif

/* Bracket kinds are checked up to this depth; deeper levels are only counted. */
#define NEST_CHECKED 1024u

typedef struct rsplit_nest {
    uint32_t depth;
    int in_str;
    int esc;                           /* the data ended right after a backslash */
    uint64_t kinds[NEST_CHECKED / 64]; /* bit set = '{' opened at that depth, clear = '[' */
} rsplit_nest;

/* Outside strings only these bytes matter in a nested value. */
enum { C_NONE = 0, C_QUOTE, C_OPEN_OBJ, C_OPEN_ARR, C_CLOSE_OBJ, C_CLOSE_ARR };
static const unsigned char k_outside[256] = {
    ['"'] = C_QUOTE, ['{'] = C_OPEN_OBJ, ['['] = C_OPEN_ARR, ['}'] = C_CLOSE_OBJ, [']'] = C_CLOSE_ARR,
};
/* Inside strings only the end quote and escapes matter. */
static const unsigned char k_in_string[256] = {['"'] = 1, ['\\'] = 1};

/* First '"' or backslash in [p, end), or end. Strings are most of a record's bytes, so this is the
 * hottest loop: 16 bytes per step with SSE2, else 8 with the classic "has a zero byte" bit trick
 * where the byte order allows, the class table for the tail. */
static const unsigned char *find_quote_or_backslash(const unsigned char *p, const unsigned char *end) {
#if defined(__SSE2__) && defined(__GNUC__)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)));
        if (m) return p + __builtin_ctz(m);
        p += 16;
    }
#endif
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
        /* A byte of q or b is zero where x holds the byte we look for. The lowest flagged byte
         * is always a true match (false flags only appear above a true one). */
        uint64_t hit = ((q - ones) & ~q) | ((b - ones) & ~b);
        hit &= highs;
        if (hit) return p + (__builtin_ctzll(hit) >> 3);
        p += 8;
    }
#endif
    while (p < end && !k_in_string[*p]) p++;
    return p;
}

/* First byte in [p, end) that matters outside strings (a quote or a bracket), or end. */
static inline const unsigned char *find_structural(const unsigned char *p, const unsigned char *end) {
    while (end - p >= 4) {
        if (k_outside[p[0]]) return p;
        if (k_outside[p[1]]) return p + 1;
        if (k_outside[p[2]]) return p + 2;
        if (k_outside[p[3]]) return p + 3;
        p += 4;
    }
    while (p < end && !k_outside[*p]) p++;
    return p;
}

/* Inside a string: just past its closing quote, or NULL when the data ends first (then *esc
 * tells whether it ended right after a backslash, whose escaped byte comes with the next data). */
RSPLIT_HOT static inline const unsigned char *nest_string_rest(const unsigned char *p, const unsigned char *end,
                                                               int *esc) {
    for (;;) {
        p = find_quote_or_backslash(p, end);
        if (p == end) return NULL;
        if (*p == '"') return p + 1;
        if (end - p < 2) { /* backslash: skip it and the byte it escapes */
            *esc = 1;
            return NULL;
        }
        p += 2;
    }
}

/* A bracket outside strings: 1 when it closed the value, 0 to go on, -1 on a mismatch. */
static inline int bracket(rsplit_nest *n, uint32_t *depth, unsigned char c) {
    if (c == '{' || c == '[') {
        if (*depth == UINT32_MAX) return -1;
        if (*depth < NEST_CHECKED) {
            uint64_t bit = (uint64_t)1 << (*depth % 64);
            if (c == '{') n->kinds[*depth / 64] |= bit;
            else n->kinds[*depth / 64] &= ~bit;
        }
        ++*depth;
        return 0;
    }
    --*depth;
    if (*depth < NEST_CHECKED) {
        int opened_obj = (n->kinds[*depth / 64] >> (*depth % 64)) & 1;
        if (opened_obj != (c == '}')) return -1;
    }
    return *depth == 0;
}

#if defined(__SSE2__) && defined(__GNUC__)
/* 16 bytes at a time while a block holds no backslash: then a byte is inside a string exactly
 * when an odd number of quotes precede it in the block (a prefix XOR of the quote bits), so the
 * brackets outside strings are known without a byte loop. Records switch between strings and
 * structure every few bytes; this takes both at once. Returns like bracket() (with *pp on the
 * bracket that closed or mismatched), or 0 when it stopped at a backslash, near the end, or
 * inside a string (*in_str set). */
static inline int scan_blocks(rsplit_nest *n, const unsigned char **pp, const unsigned char *end, uint32_t *depth,
                              int *in_str) {
    const unsigned char *p = *pp;
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')))) break;
        unsigned q = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
        __m128i br =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('{')), _mm_cmpeq_epi8(v, _mm_set1_epi8('}'))),
                         _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('[')), _mm_cmpeq_epi8(v, _mm_set1_epi8(']'))));
        unsigned inside = q;
        inside ^= inside << 1;
        inside ^= inside << 2;
        inside ^= inside << 4;
        inside ^= inside << 8;
        unsigned m = (unsigned)_mm_movemask_epi8(br) & ~inside;
        while (m) {
            unsigned k = (unsigned)__builtin_ctz(m);
            m &= m - 1;
            int r = bracket(n, depth, p[k]);
            if (r != 0) {
                *pp = p + k;
                return r;
            }
        }
        p += 16;
        if (__builtin_popcount(q) & 1) { /* an odd count: the block ends inside a string */
            *in_str = 1;
            break;
        }
    }
    *pp = p;
    return 0;
}
#endif

/* Scans the nested value the saved scanner state is in, from *pp up to end. Returns 1 when the
 * value closed (*pp just past its closing bracket), 0 at end of data (state saved), -1 on a
 * bracket mismatch (*pp at the offending byte). This is the hot loop. */
static int nest_scan(rsplit_nest *n, const unsigned char **pp, const unsigned char *end) {
    const unsigned char *p = *pp;
    uint32_t depth = n->depth;
    int in_str = n->in_str, r = 0;
    if (n->esc) {
        if (p == end) return 0;
        p++; /* the escaped byte, left over from the previous chunk */
        n->esc = 0;
    }
    for (;;) {
        if (in_str) {
            const unsigned char *q = nest_string_rest(p, end, &n->esc);
            if (!q) {
                p = end;
                break;
            }
            p = q;
            in_str = 0;
        }
#if defined(__SSE2__) && defined(__GNUC__)
        if ((r = scan_blocks(n, &p, end, &depth, &in_str)) != 0) break;
        if (in_str) continue;
#endif
        p = find_structural(p, end);
        if (p == end) break;
        if (*p == '"') {
            in_str = 1;
            p++;
            continue;
        }
        if ((r = bracket(n, &depth, *p)) != 0) break;
        p++;
    }
    if (r != 0) { /* the value closed (p on its bracket) or a bracket mismatched (p on it) */
        n->depth = 0;
        n->in_str = 0;
        *pp = r > 0 ? p + 1 : p;
        return r;
    }
    n->depth = depth; /* out of data: the state waits for the next bytes */
    n->in_str = in_str;
    *pp = p;
    return 0;
}

/* Enter a nested value whose opening bracket was just read. */
static void nest_open(rsplit_nest *n, unsigned char bracket_char) {
    n->depth = 1;
    n->in_str = 0;
    n->esc = 0;
    if (bracket_char == '{') n->kinds[0] |= 1;
    else n->kinds[0] &= ~(uint64_t)1;
}

#endif
