/* Two SHA-256 messages interleaved on the SHA extensions; see sha256_x2.h.
 *
 * The state lives in two registers as the instructions want it: ABEF (a, b, e, f from the
 * highest lane down) and CDGH. Every four rounds take four message-schedule words plus their
 * constants; sha256rnds2 does two rounds with the low two of them. The schedule after the first
 * sixteen words comes from sha256msg1/sha256msg2 (FIPS 180-4, section 6.2.2). Only functions
 * marked SHA_NI use the extensions; nothing here runs unless sha256x2_available() said so. */
#include "base/sha256_x2.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SHA256X2_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* OpenSSL's capability word 2 is CPUID leaf 7's EBX; bit 29 is the SHA extensions. */
#define CPUID7_EBX_SHA (1u << 29)

int sha256x2_env_allows(const char *env) {
    const char *colon = env ? strchr(env, ':') : NULL;
    if (!colon) return 1;
    const char *v = colon + 1;
    int clear = *v == '~';
    unsigned long long word = strtoull(v + clear, NULL, 0);
    return clear ? !(word & CPUID7_EBX_SHA) : (word & CPUID7_EBX_SHA) != 0;
}

#if SHA256X2_X86

#define SHA_NI __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t sha_k[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t sha_iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

typedef struct sha_state {
    __m128i abef, cdgh;
} sha_state;

static SHA_NI sha_state state_load(const uint32_t h[8]) {
    __m128i dcba = _mm_loadu_si128((const __m128i *)h); /* lanes a b c d, lowest first */
    __m128i hgfe = _mm_loadu_si128((const __m128i *)(h + 4));
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    sha_state s = {_mm_alignr_epi8(cdab, efgh, 8), _mm_blend_epi16(efgh, cdab, 0xF0)};
    return s;
}

static SHA_NI void state_store(sha_state s, uint32_t h[8]) {
    __m128i feba = _mm_shuffle_epi32(s.abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(s.cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)h, _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(dchg, feba, 8));
}

/* Message words are big-endian. */
static SHA_NI __m128i load_words(const uint8_t *p) {
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), swap);
}

/* Words t..t+3 of the schedule from words t-16..t-1 (m0 the oldest four). */
static SHA_NI __m128i next_words(__m128i m0, __m128i m1, __m128i m2, __m128i m3) {
    __m128i t = _mm_add_epi32(_mm_sha256msg1_epu32(m0, m1), _mm_alignr_epi8(m3, m2, 4));
    return _mm_sha256msg2_epu32(t, m3);
}

/* Four rounds with schedule words plus constants wk. */
static SHA_NI void rounds4(sha_state *s, __m128i wk) {
    s->cdgh = _mm_sha256rnds2_epu32(s->cdgh, s->abef, wk);
    s->abef = _mm_sha256rnds2_epu32(s->abef, s->cdgh, _mm_shuffle_epi32(wk, 0x0E));
}

static SHA_NI void blocks1(uint32_t h[8], const uint8_t *p, size_t n) {
    sha_state s = state_load(h);
    for (; n > 0; n--, p += 64) {
        sha_state start = s;
        __m128i m[4];
        for (int i = 0; i < 4; i++) m[i] = load_words(p + 16 * i);
#pragma GCC unroll 16
        for (int g = 0; g < 16; g++) {
            if (g >= 4) m[g & 3] = next_words(m[g & 3], m[(g + 1) & 3], m[(g + 2) & 3], m[(g + 3) & 3]);
            rounds4(&s, _mm_add_epi32(m[g & 3], _mm_load_si128((const __m128i *)(sha_k + 4 * g))));
        }
        s.abef = _mm_add_epi32(s.abef, start.abef);
        s.cdgh = _mm_add_epi32(s.cdgh, start.cdgh);
    }
    state_store(s, h);
}

/* The same steps for two messages, one after the other at every step, so each one's rounds
 * run while the other's wait. */
static SHA_NI void blocks2(uint32_t ha[8], const uint8_t *pa, uint32_t hb[8], const uint8_t *pb, size_t n) {
    sha_state a = state_load(ha), b = state_load(hb);
    for (; n > 0; n--, pa += 64, pb += 64) {
        sha_state a0 = a, b0 = b;
        __m128i ma[4], mb[4];
        for (int i = 0; i < 4; i++) {
            ma[i] = load_words(pa + 16 * i);
            mb[i] = load_words(pb + 16 * i);
        }
#pragma GCC unroll 16
        for (int g = 0; g < 16; g++) {
            if (g >= 4) {
                ma[g & 3] = next_words(ma[g & 3], ma[(g + 1) & 3], ma[(g + 2) & 3], ma[(g + 3) & 3]);
                mb[g & 3] = next_words(mb[g & 3], mb[(g + 1) & 3], mb[(g + 2) & 3], mb[(g + 3) & 3]);
            }
            __m128i k = _mm_load_si128((const __m128i *)(sha_k + 4 * g));
            __m128i wa = _mm_add_epi32(ma[g & 3], k), wb = _mm_add_epi32(mb[g & 3], k);
            a.cdgh = _mm_sha256rnds2_epu32(a.cdgh, a.abef, wa);
            b.cdgh = _mm_sha256rnds2_epu32(b.cdgh, b.abef, wb);
            a.abef = _mm_sha256rnds2_epu32(a.abef, a.cdgh, _mm_shuffle_epi32(wa, 0x0E));
            b.abef = _mm_sha256rnds2_epu32(b.abef, b.cdgh, _mm_shuffle_epi32(wb, 0x0E));
        }
        a.abef = _mm_add_epi32(a.abef, a0.abef);
        a.cdgh = _mm_add_epi32(a.cdgh, a0.cdgh);
        b.abef = _mm_add_epi32(b.abef, b0.abef);
        b.cdgh = _mm_add_epi32(b.cdgh, b0.cdgh);
    }
    state_store(a, ha);
    state_store(b, hb);
}

/* The last partial block, the 0x80 byte, zeros and the length in bits (one or two blocks). */
static SHA_NI void finish(uint32_t h[8], const uint8_t *tail, size_t tail_len, uint64_t total, uint8_t out[32]) {
    uint8_t pad[128];
    memset(pad, 0, sizeof pad);
    if (tail_len) memcpy(pad, tail, tail_len);
    pad[tail_len] = 0x80;
    size_t n = tail_len < 56 ? 64 : 128;
    uint64_t bits = total * 8;
    for (int i = 0; i < 8; i++) pad[n - 1 - i] = (uint8_t)(bits >> (8 * i));
    blocks1(h, pad, n / 64);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

__attribute__((target("avx"))) static void vzeroupper(void) { _mm256_zeroupper(); }

void sha256x2_clear_upper(void) {
    static int avx = -1; /* the loop's thread only */
    if (avx < 0) avx = __builtin_cpu_supports("avx") != 0;
    if (avx) vzeroupper();
}

void sha256x2_digests(const void *a, size_t na, const void *b, size_t nb, uint8_t da[32], uint8_t db[32]) {
    sha256x2_clear_upper();
    const uint8_t *pa = a, *pb = b;
    uint32_t ha[8], hb[8];
    memcpy(ha, sha_iv, sizeof ha);
    memcpy(hb, sha_iv, sizeof hb);
    size_t ba = na / 64, bb = nb / 64, both = ba < bb ? ba : bb;
    if (both) blocks2(ha, pa, hb, pb, both);
    if (ba > both) blocks1(ha, pa + both * 64, ba - both);
    if (bb > both) blocks1(hb, pb + both * 64, bb - both);
    finish(ha, pa + ba * 64, na % 64, na, da);
    finish(hb, pb + bb * 64, nb % 64, nb, db);
}

static int cpu_has_sha_ni(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & bit_SSSE3) || !(c & bit_SSE4_1)) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & CPUID7_EBX_SHA) != 0;
}

int sha256x2_available(void) {
    static int known = -1; /* the loop's thread only */
    if (known < 0) known = cpu_has_sha_ni() && sha256x2_env_allows(getenv("OPENSSL_ia32cap"));
    return known;
}

#else

int sha256x2_available(void) { return 0; }

void sha256x2_clear_upper(void) {}

void sha256x2_digests(const void *a, size_t na, const void *b, size_t nb, uint8_t da[32], uint8_t db[32]) {
    (void)a, (void)na, (void)b, (void)nb, (void)da, (void)db;
    abort(); /* never called: crypto.c asks sha256x2_available() first */
}

#endif
