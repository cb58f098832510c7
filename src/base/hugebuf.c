#include "base/hugebuf.h"

#include <stdint.h>
#include <stdlib.h>

#if HUGEBUF_MAPS
#include <sys/mman.h>
#define HUGE_PAGE ((size_t)2 << 20)

/* The mapping's length: whole huge pages. A huge page can only back an aligned 2 MB range that
 * lies wholly inside the mapping, so a 5 MB batch mapped to its 4 KB-rounded length had its last
 * 0.77 MB in 4 KB pages: about 190 faults per batch, some 760 per bench run (13 us each on the
 * bench's virtual machine), against one huge page fault more. Resident memory grows by what the
 * last huge page holds beyond n (at most 2 MB less 4 KB per buffer), once that part is touched. */
static size_t map_length(size_t n) { return (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1); }

/* Mapped with a huge page of slack, then trimmed so the buffer starts on a 2 MB boundary. */
static void *map_aligned(size_t n) {
    size_t len = map_length(n), span = len + HUGE_PAGE;
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
        munmap(p, map_length(n));
        return;
    }
#endif
    (void)n;
    free(p);
}
