/* What every fuzz harness includes: the entry point's prototype (libFuzzer ships no header, and
 * the build warns on a function without one) and property checks shared by the harnesses. A
 * failed check aborts, which libFuzzer and the corpus replayer both report as a crash with the
 * input that caused it. */
#ifndef CTINDEX_FUZZ_CHECK_H
#define CTINDEX_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/json.h"

/* Called by libFuzzer (or replay_main.c) once per input; returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)         \
    do {                   \
        if (!(c)) abort(); \
    } while (0)

/* Requires p[0..n) to be valid UTF-8 of XML 1.0 characters only (what CloudSearch accepts);
 * returns the number of code points. */
static inline size_t fuzz_xml_clean_chars(const unsigned char *p, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; count++) {
        unsigned c = p[i], cp, len;
        if (c < 0x80) cp = c, len = 1;
        else if ((c & 0xE0) == 0xC0) cp = c & 0x1F, len = 2;
        else if ((c & 0xF0) == 0xE0) cp = c & 0x0F, len = 3;
        else if ((c & 0xF8) == 0xF0) cp = c & 0x07, len = 4;
        else abort();
        REQUIRE(i + len <= n);
        for (unsigned k = 1; k < len; k++) {
            REQUIRE((p[i + k] & 0xC0) == 0x80);
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        static const unsigned min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
        REQUIRE(cp >= min_cp[len] && cp <= 0x10FFFF);
        REQUIRE(!(cp >= 0xD800 && cp <= 0xDFFF) && cp != 0xFFFE && cp != 0xFFFF);
        REQUIRE(cp >= 0x20 || cp == 9 || cp == 10 || cp == 13);
        i += len;
    }
    return count;
}

/* The parent-link steps jsmn took to close the containers of d's last parse (json.c: the cost
 * json_parse bounds). A container closes when every token of its subtree is made, so the walk
 * starts at the subtree's last token and climbs to the container. */
static inline uint64_t fuzz_jsmn_close_steps(const json_doc *d) {
    unsigned n = d->ntoks;
    unsigned *depth = calloc(n ? n : 1, sizeof *depth), *last = calloc(n ? n : 1, sizeof *last);
    REQUIRE(depth && last);
    for (unsigned i = 0; i < n; i++) {
        int p = d->toks[i].parent;
        depth[i] = p < 0 ? 0 : depth[p] + 1;
        last[i] = i;
    }
    for (unsigned i = n; i-- > 0;) { /* children come after their parent */
        int p = d->toks[i].parent;
        if (p >= 0 && last[i] > last[p]) last[p] = last[i];
    }
    uint64_t steps = 0;
    for (unsigned i = 0; i < n; i++)
        if (d->toks[i].type == JSON_OBJECT || d->toks[i].type == JSON_ARRAY) steps += depth[last[i]] - depth[i] + 1;
    free(depth);
    free(last);
    return steps;
}

/* What json_parse promises about that cost (json.c): at most 4 steps a byte plus 65536. */
#define FUZZ_JSMN_STEPS_MAX(len) ((uint64_t)(len)*4 + 65536)

#endif
