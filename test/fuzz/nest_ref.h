/* The plain byte loop the splitter's nested-value scanner (src/pipeline/rsplit_nest.h) must agree
 * with, byte for byte: inside a string only `"` (its end) and `\` (skip the next byte) matter;
 * outside strings only `"` and the brackets, whose kinds must match up to NEST_CHECKED levels.
 * Shared by test/unit/test_rsplit.c and test/fuzz/fuzz_nest.c, which feed both the same bytes
 * in the same pieces and compare every answer and the state saved between pieces. */
#ifndef CTINDEX_NEST_REF_H
#define CTINDEX_NEST_REF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/rsplit_nest.h"

typedef struct nest_ref {
    uint32_t depth;
    int in_str, esc;
    unsigned char kinds[NEST_CHECKED]; /* the bracket opened at each depth */
} nest_ref;

static inline void nest_ref_open(nest_ref *r, unsigned char c) {
    r->depth = 1;
    r->in_str = r->esc = 0;
    r->kinds[0] = c;
}

/* Like nest_scan: 1 when the value closed (*pos just past its bracket), -1 on a mismatch (*pos
 * on it), 0 at end (state kept). */
static inline int nest_ref_scan(nest_ref *r, const unsigned char *p, size_t *pos, size_t end) {
    for (size_t i = *pos; i < end; i++) {
        unsigned char c = p[i];
        if (r->esc) {
            r->esc = 0;
        } else if (r->in_str) {
            if (c == '\\') r->esc = 1;
            else if (c == '"') r->in_str = 0;
        } else if (c == '"') {
            r->in_str = 1;
        } else if (c == '{' || c == '[') {
            if (r->depth == UINT32_MAX) {
                *pos = i;
                r->depth = 0;
                return -1;
            }
            if (r->depth < NEST_CHECKED) r->kinds[r->depth] = c;
            r->depth++;
        } else if (c == '}' || c == ']') {
            r->depth--;
            if (r->depth < NEST_CHECKED && (r->kinds[r->depth] == '{') != (c == '}')) {
                *pos = i;
                r->depth = 0;
                return -1;
            }
            if (r->depth == 0) {
                *pos = i + 1;
                return 1;
            }
        }
    }
    *pos = end;
    return 0;
}

/* Feeds data[0..n) to both scanners in pieces whose lengths come from seed (0: one piece), as
 * rsplit does: a value opens at a bracket, and after it closes the next bracket opens the next.
 * Aborts on the first difference; returns the number of values closed. */
static inline unsigned nest_ref_compare_one(const unsigned char *data, size_t n, uint32_t seed) {
    static nest_ref ref;
    rsplit_nest nest;
    memset(&nest, 0, sizeof nest);
    size_t pos = 0, at = 0;
    unsigned closed = 0;
    int open = 0;
    while (pos < n) {
        size_t piece = n - at;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            piece = (seed >> 16) % 3 == 0 ? 1 + (seed >> 18) % 8 : 1 + (seed >> 18) % 300;
        }
        size_t end = n - at < piece ? n : at + piece;
        while (pos < end) {
            if (!open) { /* between values: look for the next opening bracket */
                unsigned char c = data[pos++];
                if (c == '{' || c == '[') {
                    nest_open(&nest, c);
                    nest_ref_open(&ref, c);
                    open = 1;
                }
                continue;
            }
            const unsigned char *p = data + pos;
            int a = nest_scan(&nest, &p, data + end);
            size_t rpos = pos;
            int b = nest_ref_scan(&ref, data, &rpos, end);
            if (a != b || (size_t)(p - data) != rpos) abort();
            if (a == 0 && (nest.depth != ref.depth || nest.in_str != ref.in_str || nest.esc != ref.esc)) abort();
            pos = rpos;
            if (a != 0) {
                open = 0;
                closed++;
                if (a < 0) pos++; /* past the mismatched bracket */
            }
        }
        at = end;
    }
    return closed;
}

/* nest_ref_compare_one with each block loop this machine runs: SSE2 (x86-64's baseline), and
 * AVX2 where the CPU has it; they must close the same values. */
static inline unsigned nest_ref_compare(const unsigned char *data, size_t n, uint32_t seed) {
#if defined(NEST_HAVE_AVX2)
    nest_avx2 = -1;
    int loops = 1 + nest_pick_avx2();
    unsigned closed = 0;
    for (int avx2 = 0; avx2 < loops; avx2++) {
        nest_avx2 = avx2;
        unsigned c = nest_ref_compare_one(data, n, seed);
        if (avx2 && c != closed) abort();
        closed = c;
    }
    nest_avx2 = -1;
    return closed;
#else
    return nest_ref_compare_one(data, n, seed);
#endif
}

#endif
