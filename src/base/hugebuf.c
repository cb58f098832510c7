#include "base/hugebuf.h"

#include <stdint.h>
#include <stdlib.h>

#if HUGEBUF_MAPS
#include <sys/mman.h>
#define HUGE_PAGE ((size_t)2 << 20)

static size_t page_round(size_t n) { return (n + 4095) & ~(size_t)4095; }

/* Mapped with a huge page of slack, then trimmed so the buffer starts on a 2 MB boundary: a huge
 * page can only back an aligned 2 MB range. */
static void *map_aligned(size_t n) {
    size_t len = page_round(n), span = len + HUGE_PAGE;
    char *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    char *p = (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (p > m) munmap(m, (size_t)(p - m));
    size_t tail = (size_t)(m + span - (p + len));
    if (tail) munmap(p + len, tail);
#ifdef MADV_HUGEPAGE
    (void)madvise(p, len, MADV_HUGEPAGE); /* advice only: without it the buffer is still good */
#endif
    return p;
}
#endif

void *hugebuf_alloc(size_t n) {
#if HUGEBUF_MAPS
    if (n >= HUGEBUF_MIN) return map_aligned(n);
#endif
    return malloc(n ? n : 1);
}

void hugebuf_free(void *p, size_t n) {
    if (!p) return;
#if HUGEBUF_MAPS
    if (n >= HUGEBUF_MIN) {
        munmap(p, page_round(n));
        return;
    }
#endif
    (void)n;
    free(p);
}
