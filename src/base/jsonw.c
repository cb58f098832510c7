#include "base/jsonw.h"

#include <string.h>

#include "base/text.h"

/* Bytes that leave the bulk-copy path: C0 controls, '"', '\\' and anything non-ASCII. */
static inline int is_special(unsigned char c) { return c < 0x20 || c == '"' || c == '\\' || c >= 0x80; }

#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#define JSONW_BULK 16
/* Bit i set where byte i of p[0..16) may be special: < 0x20 or >= 0x80 (one signed compare
 * catches both), '"' or '\\'. */
static inline unsigned special_masks(const unsigned char *p, unsigned *quote_bs) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i qb = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    *quote_bs = (unsigned)_mm_movemask_epi8(qb);
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)), qb));
}
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
#define JSONW_BULK 8
/* High bit set in the byte lanes of v that may be special. Each term is the classic
 * "has byte less than / equal to" bit trick; the lowest flagged lane is always a true
 * positive (borrows only travel towards higher lanes), which is all the caller uses. */
static inline uint64_t special_masks(const unsigned char *p, unsigned *quote_bs) {
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t v;
    memcpy(&v, p, 8);
    uint64_t q = v ^ (ones * 0x22), b = v ^ (ones * 0x5C);
    *quote_bs = 0; /* not needed without the 16-byte path */
    return (((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((b - ones) & ~b) | v) & high;
}
#endif

int jsonw_utf8_len(const unsigned char *p, size_t n) {
    if (n == 0) return 0;
    unsigned c = p[0];
    if (c < 0x80) return 1;
    /* Table 3-7 of the Unicode standard: the second byte's range depends on the lead byte,
     * which excludes overlongs, UTF-8-encoded surrogates and code points above U+10FFFF. */
    unsigned lo = 0x80, hi = 0xBF;
    int len;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) len = 3, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;
    else return 0;
    if ((size_t)len > n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (int k = 2; k < len; k++)
        if (p[k] < 0x80 || p[k] > 0xBF) return 0;
    return len;
}

/* \uXXXX at p (6 bytes available): code unit, or -1 if malformed. */
static long u_escape(const unsigned char *p) {
    if (p[0] != '\\' || p[1] != 'u') return -1;
    return text_hex4((const char *)p + 2);
}

/* One output unit is written whole or not at all, so truncation never splits a character
 * or an escape. Returns 0 to continue, 1 to stop (limit reached), -1 for "does not fit". */
typedef struct wstate {
    char *out;
    size_t cap, o, max_chars;
    unsigned flags;
    jsonw_stats st;
} wstate;

/* Fixed-size fast paths for the common units (memcpy of a variable length is a call). */
static inline int unit_room(wstate *w, size_t len) {
    if (w->st.chars >= w->max_chars) {
        w->st.truncated = 1;
        return 1;
    }
    if (len > w->cap - w->o) {
        if (!(w->flags & JSONW_TRUNCATE)) return -1;
        w->st.truncated = 1;
        return 1;
    }
    return 0;
}

static inline int put_byte(wstate *w, unsigned char c) {
    int r = unit_room(w, 1);
    if (r) return r;
    w->out[w->o++] = (char)c;
    w->st.chars++;
    return 0;
}

static inline int put2(wstate *w, char a, char b) {
    int r = unit_room(w, 2);
    if (r) return r;
    w->out[w->o] = a;
    w->out[w->o + 1] = b;
    w->o += 2;
    w->st.chars++;
    return 0;
}

static inline int put_unit(wstate *w, const void *p, size_t len) {
    int r = unit_room(w, len);
    if (r) return r;
    memcpy(w->out + w->o, p, len);
    w->o += len;
    w->st.chars++;
    return 0;
}

enum { RAW_DROP = 0, RAW_COPY = 1 };
/* What becomes of one raw byte sequence starting at in[i] that is not plain ASCII and not a
 * backslash escape (quote, control byte or UTF-8), for jsonw_escape and jsonw_escape_len alike:
 * RAW_DROP, RAW_COPY (a UTF-8 sequence written as it is) or the letter of its two-byte escape.
 * Sets *adv to the bytes consumed. */
static inline int raw_special(const unsigned char *in, size_t n, size_t i, size_t *adv) {
    unsigned char c = in[i];
    *adv = 1;
    if (c < 0x80) {
        switch (c) {
        case '"': return '"';
        case '\\': return '\\';
        case '\t': return 't';
        case '\n': return 'n';
        case '\r': return 'r';
        default: return RAW_DROP; /* other C0 controls are not XML characters */
        }
    }
    int len = jsonw_utf8_len(in + i, n - i);
    if (len == 0) return RAW_DROP; /* resynchronise at the next byte */
    *adv = (size_t)len;
    /* U+FFFE and U+FFFF are well-formed UTF-8 but not XML characters. */
    if (len == 3 && c == 0xEF && in[i + 1] == 0xBF && (in[i + 2] == 0xBE || in[i + 2] == 0xBF)) return RAW_DROP;
    return RAW_COPY;
}

static inline int put_raw_special(wstate *w, const unsigned char *in, size_t n, size_t i, size_t *adv) {
    int k = raw_special(in, n, i, adv);
    if (k == RAW_DROP) {
        w->st.dropped++;
        return 0;
    }
    return k == RAW_COPY ? put_unit(w, in + i, *adv) : put2(w, '\\', (char)k);
}

/* Handles the escape sequence at in[i] == '\\' of a JSON string token. */
static inline int put_escape(wstate *w, const unsigned char *in, size_t n, size_t i, size_t *adv) {
    *adv = 1;
    if (i + 1 >= n) {
        w->st.dropped++;
        return 0;
    }
    switch (in[i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'n':
    case 'r':
    case 't': *adv = 2; return put2(w, '\\', (char)in[i + 1]);
    case 'b':
    case 'f': /* U+0008, U+000C: not XML characters */
        *adv = 2;
        w->st.dropped++;
        return 0;
    case 'u': break;
    default:
        w->st.dropped++; /* malformed escape: drop the backslash, keep what follows */
        return 0;
    }
    long cu = i + 6 <= n ? u_escape(in + i) : -1;
    if (cu < 0) {
        w->st.dropped++;
        return 0;
    }
    *adv = 6;
    if (cu < 0x20) {
        if (cu == 0x09) return put2(w, '\\', 't');
        if (cu == 0x0A) return put2(w, '\\', 'n');
        if (cu == 0x0D) return put2(w, '\\', 'r');
        w->st.dropped++;
        return 0;
    }
    if (cu >= 0xD800 && cu <= 0xDBFF) {
        long lo = i + 12 <= n ? u_escape(in + i + 6) : -1;
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            *adv = 12;
            return put_unit(w, in + i, 12);
        }
        w->st.dropped++; /* lone high surrogate */
        return 0;
    }
    if ((cu >= 0xDC00 && cu <= 0xDFFF) || cu == 0xFFFE || cu == 0xFFFF) {
        w->st.dropped++;
        return 0;
    }
    return put_unit(w, in + i, 6);
}

#ifdef JSONW_BULK
/* Bulk path: store whole blocks and advance over their plain prefix only; the bytes stored
 * past it are rewritten next (they are always within cap). The common special bytes are
 * handled without leaving the loop: quotes (a record's JSON text has one every few bytes),
 * and backslashes (raw mode: doubled; re-escaping: the plain two-byte escapes are kept).
 * Returns where the byte-at-a-time path must go on. */
static inline size_t bulk(wstate *w, const unsigned char *in, size_t n, size_t i, int reescape) {
    while (n - i >= JSONW_BULK && w->cap - w->o >= JSONW_BULK && w->max_chars - w->st.chars >= JSONW_BULK) {
        memcpy(w->out + w->o, in + i, JSONW_BULK);
        unsigned qb;
        uint64_t m = special_masks(in + i, &qb);
        if (!m) {
            w->o += JSONW_BULK;
            i += JSONW_BULK;
            w->st.chars += JSONW_BULK;
            continue;
        }
#if JSONW_BULK == 16
        /* Raw text (a record's JSON) has a quote every few bytes: when every special byte of the
         * block is a quote or backslash, put a backslash before each and take the whole block.
         * Each piece is copied with a 16-byte store; the room asked for covers the overlap. */
        if (!reescape && m == qb && n - i >= 32 && w->cap - w->o >= 48) {
            unsigned src = 0;
            do {
                unsigned k = (unsigned)__builtin_ctz((unsigned)m);
                memcpy(w->out + w->o, in + i + src, 16);
                w->o += k - src;
                w->out[w->o++] = '\\';
                src = k;
                m &= m - 1;
            } while (m);
            memcpy(w->out + w->o, in + i + src, 16);
            w->o += 16 - src;
            i += 16;
            w->st.chars += 16;
            continue;
        }
#endif
        size_t k = (size_t)__builtin_ctzll(m);
        if (JSONW_BULK == 8) k >>= 3; /* SWAR: lanes are bytes */
        w->o += k;
        i += k;
        w->st.chars += k;
        unsigned char c = in[i];
        char second;
        if (w->cap - w->o < 2) break; /* a 2-byte escape is written whole or not at all */
        if (c == '"' || (c == '\\' && !reescape)) {
            second = (char)c;
            i++;
        } else if (c == '\\' && i + 1 < n &&
                   (in[i + 1] == '"' || in[i + 1] == '\\' || in[i + 1] == '/' || in[i + 1] == 'n' || in[i + 1] == 'r' ||
                    in[i + 1] == 't')) {
            second = (char)in[i + 1];
            i += 2;
        } else {
            break; /* controls, UTF-8, \\u and malformed escapes: the careful path */
        }
        w->out[w->o] = '\\';
        w->out[w->o + 1] = second;
        w->o += 2;
        w->st.chars++;
    }
#if JSONW_BULK == 16
    /* A tail shorter than a block (most field values are): look at it through a padded copy
     * rather than byte by byte, and take its plain prefix. */
    size_t t = n - i;
    if (t > 0 && t < 16 && w->cap - w->o >= 16 && w->max_chars - w->st.chars >= 16) {
        unsigned char tmp[16];
        memset(tmp, 'a', sizeof tmp);
        memcpy(tmp, in + i, t);
        unsigned qb, m = special_masks(tmp, &qb) | (1u << t); /* stop at the end */
        size_t k = (size_t)__builtin_ctz(m);
        memcpy(w->out + w->o, tmp, 16);
        w->o += k;
        i += k;
        w->st.chars += k;
    }
#endif
    return i;
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#include <tmmintrin.h>
#define JSONW_EXPAND 1
/* Raw text with a quote every few bytes (a record's JSON: about one in ten bytes) spends the
 * 16-byte loop above in its quote loop, one unpredictable branch per quote. With SSSE3's
 * byte shuffle a block of pure ASCII takes no branch per quote: each 8-byte half is spread out
 * by a table entry chosen by its quote/backslash mask (byte j of the half goes where it lands
 * after the backslashes before it; a slot marked 0x80 reads as 0 and becomes the backslash). */
typedef struct expand_table {
    unsigned char shuf[256][16]; /* per 8-bit mask: source byte per output byte, 0x80 = a backslash */
    unsigned char len[256];      /* output bytes: 8 + bits set */
} expand_table;

static expand_table xt;
/* -1: not chosen yet; 0: the SSE2 loop only; 1: the shuffle path first; 2: the VBMI2 path, then the shuffle path */
static int fast_path = -1;

static void expand_table_init(void) {
    for (unsigned m = 0; m < 256; m++) {
        unsigned o = 0;
        memset(xt.shuf[m], 0x80, 16);
        for (unsigned j = 0; j < 8; j++) {
            if (m & (1u << j)) o++; /* the backslash slot stays 0x80 */
            xt.shuf[m][o++] = (unsigned char)j;
        }
        xt.len[m] = (unsigned char)o;
    }
}

/* Whole blocks of ASCII without controls, from in[i]; stops at the first block holding anything
 * else (the 16-byte loop and the careful path take it) or when fewer than 16 bytes, 32 bytes of
 * room or 16 characters are left. Returns where to go on. */
__attribute__((target("ssse3"))) static size_t bulk_expand(wstate *w, const unsigned char *in, size_t n, size_t i) {
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20),
                  slot = _mm_set1_epi8((char)0x80), eight = _mm_set1_epi8(8);
    /* Locals, not w->: the stores through out could alias w and force reloads every block. */
    size_t blocks = (n - i) / 16, by_chars = (w->max_chars - w->st.chars) / 16;
    if (blocks > by_chars) blocks = by_chars;
    if (w->cap - w->o < 32) return i;
    char *o = w->out + w->o, *o_last = w->out + (w->cap - 32); /* a block writes at most 32 bytes */
    const unsigned char *p = in + i, *end = p + 16 * blocks;
    while (p < end && o <= o_last) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* < 0x20 or >= 0x80 in one signed compare */
        if (_mm_movemask_epi8(_mm_cmplt_epi8(v, space))) break;
        unsigned mq = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
        if (!mq) {
            _mm_storeu_si128((__m128i *)(void *)o, v);
            o += 16;
        } else {
            unsigned lo = mq & 0xFF, hi = mq >> 8;
            __m128i tl = _mm_loadu_si128((const __m128i *)(const void *)xt.shuf[lo]);
            __m128i th = _mm_loadu_si128((const __m128i *)(const void *)xt.shuf[hi]);
            __m128i ol = _mm_or_si128(_mm_shuffle_epi8(v, tl), _mm_and_si128(_mm_cmpeq_epi8(tl, slot), bslash));
            /* the high half reads bytes 8..15: 0x80 + 8 keeps its top bit, so slots stay 0 */
            __m128i oh = _mm_or_si128(_mm_shuffle_epi8(v, _mm_add_epi8(th, eight)),
                                      _mm_and_si128(_mm_cmpeq_epi8(th, slot), bslash));
            _mm_storeu_si128((__m128i *)(void *)o, ol);
            o += xt.len[lo];
            _mm_storeu_si128((__m128i *)(void *)o, oh);
            o += xt.len[hi];
        }
        p += 16;
    }
    size_t done = (size_t)(p - (in + i));
    w->o = (size_t)(o - w->out);
    w->st.chars += done;
    return i + done;
}

#include <immintrin.h>
/* The same, 32 bytes a step, where AVX-512 VBMI2 is present (Ice Lake, Zen 4 and later): the
 * byte expand instruction places the input bytes in order at the output lanes of a mask and
 * fills the others (the backslashes) from a second register, so a block costs a few instructions
 * whatever its quotes. The lane mask comes from the quote/backslash mask m: spread to two bits
 * per input byte, "1" for a plain byte and "01" for a quoted one (pdep), then the data bits packed
 * (pext). Every CPU with VBMI2 has single-cycle pdep/pext. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi2,bmi2,popcnt"))) static size_t
bulk_expand_vbmi2(wstate *w, const unsigned char *in, size_t n, size_t i) {
    const __m256i quote = _mm256_set1_epi8('"'), bslash = _mm256_set1_epi8('\\'), space = _mm256_set1_epi8(0x20);
    const __m512i fill = _mm512_set1_epi8('\\');
    const uint64_t odd = 0xAAAAAAAAAAAAAAAAull, even = 0x5555555555555555ull;
    size_t blocks = (n - i) / 32, by_chars = (w->max_chars - w->st.chars) / 32;
    if (blocks > by_chars) blocks = by_chars;
    if (w->cap - w->o < 64) return i;
    char *o = w->out + w->o, *o_last = w->out + (w->cap - 64); /* a block writes 64 bytes */
    const unsigned char *p = in + i, *end = p + 32 * blocks;
    while (p < end && o <= o_last) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
        if (_mm256_cmpgt_epi8_mask(space, v)) break; /* < 0x20 or >= 0x80 (signed) */
        uint32_t m = _mm256_cmpeq_epi8_mask(v, quote) | _mm256_cmpeq_epi8_mask(v, bslash);
        if (!m) {
            _mm256_storeu_si256((__m256i *)(void *)o, v);
            o += 32;
        } else {
            uint64_t lanes = _pext_u64(odd, _pdep_u64(m, even) | odd);
            _mm512_storeu_si512((void *)o, _mm512_mask_expand_epi8(fill, (__mmask64)lanes, _mm512_castsi256_si512(v)));
            o += 32 + _mm_popcnt_u32(m);
        }
        p += 32;
    }
    size_t done = (size_t)(p - (in + i));
    w->o = (size_t)(o - w->out);
    w->st.chars += done;
    return i + done;
}

static int fast_path_on(void) {
    if (fast_path < 0) jsonw_fast_path(2);
    return fast_path;
}
#endif

int jsonw_fast_path(int enable) {
#ifdef JSONW_EXPAND
    if (enable >= 0) {
        fast_path = enable && __builtin_cpu_supports("ssse3");
        if (fast_path) expand_table_init();
        if (fast_path && enable >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi2") &&
            __builtin_cpu_supports("bmi2"))
            fast_path = 2;
    }
    return fast_path_on();
#else
    (void)enable;
    return 0;
#endif
}

static inline long run(const char *in_, size_t n, char *out, size_t cap, size_t max_chars, unsigned flags,
                       jsonw_stats *st, int reescape) {
    const unsigned char *in = (const unsigned char *)in_;
    wstate w = {.out = out, .cap = cap, .o = 0, .max_chars = max_chars, .flags = flags};
    int r = 0;
    size_t i = 0;
#ifdef JSONW_EXPAND
    int expand = !reescape && n >= 16 ? fast_path_on() : 0;
#endif
    while (i < n) {
#ifdef JSONW_EXPAND
        if (expand == 2) i = bulk_expand_vbmi2(&w, in, n, i);
        if (expand) i = bulk_expand(&w, in, n, i);
#endif
#ifdef JSONW_BULK
        i = bulk(&w, in, n, i, reescape);
        if (i >= n) break;
#endif
        unsigned char c = in[i];
        size_t adv = 1;
        if (!is_special(c)) r = put_byte(&w, c);
        else if (c == '"') r = put2(&w, '\\', '"');
        else if (c == '\\') r = reescape ? put_escape(&w, in, n, i, &adv) : put2(&w, '\\', '\\');
        else r = put_raw_special(&w, in, n, i, &adv);
        if (r) break;
        i += adv;
    }
    if (st) *st = w.st;
    if (r < 0) return -1;
    return (long)w.o;
}

long jsonw_escape(const char *in, size_t n, char *out, size_t cap, size_t max_chars, unsigned flags, jsonw_stats *st) {
    return run(in, n, out, cap, max_chars, flags, st, 0);
}

#if JSONW_BULK == 16
/* n bytes (w <= n <= 2w, w 4 or 8: a constant where this is inlined, so the moves are fixed) seen
 * through two overlapping words; copied to out when none holds a byte to look at. */
static inline int plain_words(const unsigned char *in, size_t n, char *out, size_t w) {
    unsigned char v[16];
    memcpy(v, in, w);
    memcpy(v + w, in + n - w, w);
    if (w == 4) memcpy(v + 8, v, 8);
    unsigned qb;
    if (special_masks(v, &qb)) return 0;
    memcpy(out, in, w);
    memcpy(out + n - w, in + n - w, w);
    return 1;
}

/* Most field values (names, ids, regions, addresses, keys) are 4..32 bytes of plain ASCII: seen
 * through two overlapping loads (every byte inside the value) and copied with two overlapping
 * stores, without the loop's set-up and a variable-length copy. Returns the length written, or -1
 * when the value holds anything to look at (the loop then takes it from the start). */
static inline long plain_short(const char *in_, size_t n, char *out, size_t cap, size_t max_chars, jsonw_stats *st) {
    const unsigned char *in = (const unsigned char *)in_;
    if (n < 4 || n > 32 || n > cap || n > max_chars) return -1;
    unsigned qb;
    int plain;
    if (n >= 16) {
        plain = !(special_masks(in, &qb) | special_masks(in + n - 16, &qb));
        if (plain) {
            memcpy(out, in, 16);
            memcpy(out + n - 16, in + n - 16, 16);
        }
    } else {
        plain = n >= 8 ? plain_words(in, n, out, 8) : plain_words(in, n, out, 4);
    }
    if (!plain) return -1;
    if (st) *st = (jsonw_stats){.chars = n};
    return (long)n;
}
#endif

long jsonw_reescape(const char *in, size_t n, char *out, size_t cap, size_t max_chars, unsigned flags,
                    jsonw_stats *st) {
#if JSONW_BULK == 16
    long w = plain_short(in, n, out, cap, max_chars, st);
    if (w >= 0) return w;
#endif
    return run(in, n, out, cap, max_chars, flags, st, 1);
}

size_t jsonw_escape_len(const char *in_, size_t n, jsonw_stats *st) {
    const unsigned char *in = (const unsigned char *)in_;
    size_t o = 0, i = 0, chars = 0, dropped = 0;
    while (i < n) {
#if defined(__SSE2__) && defined(__GNUC__)
        /* 32 bytes a step while they are ASCII without controls: each quote or backslash is one
         * byte more, counted per byte lane (a compare gives -1, subtracted; two a step) and summed
         * every 127 steps at most, before a lane could wrap */
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
        size_t start = i;
        while (n - i >= 32) {
            __m128i acc = _mm_setzero_si128();
            size_t steps = 0;
            for (; n - i >= 32 && steps < 127; steps++, i += 32) {
                __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(in + i));
                __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(in + i + 16));
                /* < 0x20 or >= 0x80 (one signed compare): the careful path below */
                if (_mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(a, space), _mm_cmplt_epi8(b, space)))) break;
                acc = _mm_sub_epi8(acc, _mm_or_si128(_mm_cmpeq_epi8(a, quote), _mm_cmpeq_epi8(a, bslash)));
                acc = _mm_sub_epi8(acc, _mm_or_si128(_mm_cmpeq_epi8(b, quote), _mm_cmpeq_epi8(b, bslash)));
            }
            uint64_t sums[2];
            _mm_storeu_si128((__m128i *)(void *)sums, _mm_sad_epu8(acc, _mm_setzero_si128()));
            o += (size_t)(sums[0] + sums[1]);
            if (steps < 127) break;
        }
        o += i - start;
        chars += i - start;
        if (i >= n) break;
#endif
        /* a byte at a time: what jsonw_escape's careful path writes (raw_special) */
        size_t adv = 1;
        int k = is_special(in[i]) ? raw_special(in, n, i, &adv) : RAW_COPY;
        if (k == RAW_DROP) {
            dropped++;
        } else {
            o += k == RAW_COPY ? adv : 2;
            chars++;
        }
        i += adv;
    }
    if (st) *st = (jsonw_stats){.dropped = dropped, .chars = chars, .truncated = 0};
    return o;
}

size_t jsonw_text(const char *text, char *out, size_t cap) {
    long n = jsonw_escape(text, strlen(text), out, cap - 1, JSONW_NO_LIMIT, JSONW_TRUNCATE, NULL);
    size_t len = n > 0 ? (size_t)n : 0;
    out[len] = '\0';
    return len;
}
