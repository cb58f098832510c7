/* hugebuf: large buffers are usable over their whole length, start on a 2 MB boundary where they
 * are mapped (so a huge page can back them), and small ones come from malloc. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/hugebuf.h"
#include "testlib.h"

static void fill_and_check(unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 31u + 7u);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += p[i] != (unsigned char)(i * 31u + 7u);
    CHECK_EQ_INT(bad, 0);
}

static void test_large(void) {
    size_t sizes[] = {HUGEBUF_MIN, 5u * 1000u * 1000u + 7u, (4u << 20) + 1u};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        unsigned char *a = hugebuf_alloc(sizes[k]), *b = hugebuf_alloc(sizes[k]);
        CHECK(a != NULL && b != NULL && a != b);
        if (!a || !b) continue;
        if (HUGEBUF_MAPS) CHECK_EQ_INT((uintptr_t)a % HUGEBUF_MIN, 0);
        fill_and_check(a, sizes[k]);
        fill_and_check(b, sizes[k]);
        hugebuf_free(a, sizes[k]);
        hugebuf_free(b, sizes[k]);
    }
}

/* A batch of 5,000,000 bytes is backed by huge pages to its last byte: filling it takes a few
 * faults, not the 190 of a 4 KB-paged tail after its last whole 2 MB (the mapping used to end at
 * n rounded to 4 KB). Checked only where the build maps and the kernel offers huge pages, and
 * not when the kernel fell back to small pages meanwhile (no free 2 MB of memory). */
static void test_huge_to_the_end(void) {
    if (!HUGEBUF_MAPS || !test_thp_offered()) {
        fprintf(stderr, "  skipped: no mapping or no transparent huge pages here\n");
        return;
    }
    size_t n = 5u * 1000u * 1000u;
    unsigned char *p = hugebuf_alloc(n);
    CHECK(p != NULL);
    if (!p) return;
    long fallbacks = test_thp_fallbacks(), before = test_minor_faults();
    memset(p, 0x5a, n);
    long faults = test_minor_faults() - before;
    fprintf(stderr, "  filling %zu bytes: %ld page faults\n", n, faults);
    if (fallbacks >= 0 && test_thp_fallbacks() == fallbacks) CHECK(faults < 16);
    CHECK(p[n - 1] == 0x5a);
    hugebuf_free(p, n);
}

static void test_small_and_null(void) {
    unsigned char *p = hugebuf_alloc(100);
    CHECK(p != NULL);
    if (p) fill_and_check(p, 100);
    hugebuf_free(p, 100);
    p = hugebuf_alloc(0);
    CHECK(p != NULL);
    hugebuf_free(p, 0);
    hugebuf_free(NULL, 5u << 20); /* nothing to do */
}

int main(void) {
    RUN(test_large);
    RUN(test_small_and_null);
    RUN(test_huge_to_the_end);
    TEST_MAIN_END();
}
