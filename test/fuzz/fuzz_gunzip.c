/* Fuzzes gunzip: input = [chunk size byte][window size byte][data]. The data is inflated twice,
 * once in the chunking the first two bytes choose and once in large pieces; both runs must agree
 * on every output byte and on success or failure, and each call must make progress. When the
 * build has ISA-L, the large-piece run is repeated with zlib: the two inflaters must produce the
 * same bytes, and the same length when both accept the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/gunzip.h"

#include "fuzz_check.h"

#define OUT_LIMIT (1u << 20) /* stop comparing past 1 MiB of output (zip bombs) */

typedef struct run_result {
    uint8_t *out;
    size_t len;
    int ok;
} run_result;

/* The three runs' outputs, allocated once: a fresh 1 MiB each input held the harness to under
 * 100 inputs a second under ASan. */
static uint8_t *out_space(int which) {
    static uint8_t *space[3];
    if (!space[which] && !(space[which] = malloc(OUT_LIMIT))) abort();
    return space[which];
}

static run_result run(gunzip *g, int which, const uint8_t *data, size_t size, size_t chunk, size_t window) {
    run_result r = {out_space(which), 0, 1};
    uint8_t *win = malloc(window);
    gunzip_reset(g);
    size_t off = 0;
    while (off < size && r.len < OUT_LIMIT) {
        size_t c = size - off < chunk ? size - off : chunk;
        size_t done = 0;
        while (done < c && r.len < OUT_LIMIT) {
            size_t used = 0, made = 0;
            int rc = gunzip_step(g, data + off + done, c - done, &used, win, window, &made);
            if (used > c - done || made > window) abort();
            if (rc == GUNZIP_OK && used == 0 && made == 0) abort(); /* would loop forever */
            size_t keep = made < OUT_LIMIT - r.len ? made : OUT_LIMIT - r.len;
            memcpy(r.out + r.len, win, keep);
            r.len += keep;
            done += used;
            if (rc != GUNZIP_OK) {
                if (gunzip_error(g)[0] == '\0') abort();
                r.ok = 0;
                free(win);
                return r;
            }
        }
        off += c;
    }
    if (r.len < OUT_LIMIT) {
        r.ok = gunzip_finish(g) == GUNZIP_OK;
        if (r.ok && gunzip_total_in(g) != size) abort();
    }
    free(win);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t chunk = 1 + data[0] % 64, window = 1 + (size_t)data[1] * 3;
    data += 2;
    size -= 2;
    static gunzip *g, *zl;
    if (!g) g = gunzip_new();
    if (!zl) zl = gunzip_new_backend(GUNZIP_ZLIB);
    run_result a = run(g, 0, data, size, chunk, window);
    int a_gzip = gunzip_is_gzip(g);
    run_result b = run(g, 1, data, size, 1 << 16, 1 << 18);
    if (a_gzip != gunzip_is_gzip(g)) abort();
    size_t n = a.len < b.len ? a.len : b.len;
    if (memcmp(a.out, b.out, n) != 0) abort();
    if (a.len < OUT_LIMIT && b.len < OUT_LIMIT) {
        if (a.ok != b.ok) abort();
        /* A failed (e.g. truncated) stream may leave a few bytes inside zlib when the window was
         * full as the input ran out; only complete streams must match in length. */
        if (a.ok && a.len != b.len) abort();
        if (!a_gzip && a.ok && (a.len != size || memcmp(a.out, data, size) != 0)) abort();
    }
    if (strcmp(gunzip_backend_name(g), gunzip_backend_name(zl)) != 0) {
        run_result c = run(zl, 2, data, size, 1 << 16, 1 << 18);
        size_t m = b.len < c.len ? b.len : c.len;
        if (memcmp(b.out, c.out, m) != 0) abort();
        if (b.ok && c.ok && b.len != c.len) abort();
        if (b.len < OUT_LIMIT && c.len < OUT_LIMIT && b.ok != c.ok) abort();
    }
    return 0;
}
