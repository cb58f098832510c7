#include "base/hugepool.h"

#include <string.h>

#include "base/hugebuf.h"

#define POOL_PAGE ((size_t)4096) /* blocks are whole pages */

int hugepool_init(hugepool *p, size_t block, unsigned count) {
    memset(p, 0, sizeof *p);
    atomic_init(&p->used, 0);
    if (block == 0 || count == 0 || count > HUGEPOOL_MAX_BLOCKS) return -1;
    if (block > SIZE_MAX - POOL_PAGE) return -1;
    block = (block + POOL_PAGE - 1) & ~(POOL_PAGE - 1);
    if (block > SIZE_MAX / count) return -1;
#if HUGEBUF_MAPS
    size_t len = block * count;
    p->base = hugebuf_alloc(len < HUGEBUF_MIN ? HUGEBUF_MIN : len); /* 2 MB-aligned, whole huge pages */
    if (!p->base) return -1;
#endif
    p->block = block;
    p->count = count;
    return 0;
}

void hugepool_destroy(hugepool *p) {
    size_t len = p->block * p->count;
    if (p->base) hugebuf_free(p->base, len < HUGEBUF_MIN ? HUGEBUF_MIN : len);
    memset(p, 0, sizeof *p);
}

/* The lowest free block, so the blocks already touched are the ones used again. */
void *hugepool_get(hugepool *p, size_t n) {
    if (!p->base || n > p->block) return NULL;
    uint64_t all = p->count == 64 ? ~(uint64_t)0 : ((uint64_t)1 << p->count) - 1;
    uint64_t used = atomic_load(&p->used);
    for (;;) {
        uint64_t free_bits = ~used & all;
        if (!free_bits) return NULL;
        uint64_t bit = free_bits & (0 - free_bits);
        if (atomic_compare_exchange_weak(&p->used, &used, used | bit))
            return p->base + (size_t)__builtin_ctzll(bit) * p->block;
    }
}

/* Compared as integers: the pointer may belong to any other allocation. */
int hugepool_owns(const hugepool *p, const void *b) {
    uintptr_t base = (uintptr_t)p->base, a = (uintptr_t)b;
    return p->base && a >= base && a - base < p->block * p->count && (a - base) % p->block == 0;
}

int hugepool_put(hugepool *p, void *b) {
    if (!hugepool_owns(p, b)) return 0;
    size_t i = (size_t)((uintptr_t)b - (uintptr_t)p->base) / p->block;
    atomic_fetch_and(&p->used, ~((uint64_t)1 << i));
    return 1;
}
