/* A few equal blocks of memory in transparent huge pages, taken and given back again and again
 * and never returned to the kernel: libcurl's 2 MB upload buffers, which libcurl frees after
 * every transfer and allocates again for the next, and its 256 KB download buffers and paused
 * downloads' data (net/http.c).
 *
 * Why: a 2 MB block from malloc is a mapping of its own (above glibc's mmap threshold), mapped
 * and faulted in again for every upload: 512 page faults of 7-13 us each on the bench's virtual
 * machine; even from the heap, its first touch is 512 faults, and blocks of a few hundred KB
 * freed and taken again in other sizes keep reaching fresh heap pages. Blocks here lie in huge
 * pages (hugebuf.h): a fault per 2 MB, once.
 *
 * Contract: hugepool_init maps `count` (1..64) blocks of `block` bytes (rounded up to 4 KB) in
 * one 2 MB-aligned mapping (a 2 MB block is one huge page), resident only once touched and until
 * hugepool_destroy; 0 on success, -1 when the mapping failed or the arguments are out of range.
 * Where hugebuf does not map (sanitizer builds, which must see every block's bounds; other
 * systems) the pool stays empty: init succeeds and hugepool_get always returns NULL.
 * hugepool_get returns an unused block of at least n bytes, uninitialised (or as its last user
 * left it), the lowest free one (the pages already touched), or NULL when n is larger than a
 * block or every block is in use: the caller then allocates elsewhere. hugepool_put gives a
 * block back and returns 1, or returns 0 and does nothing for a pointer that is not the start
 * of one of the pool's blocks (so a caller can put every pointer it frees here first);
 * hugepool_owns tells the same without giving anything back. hugepool_get and hugepool_put may
 * be called from several threads at once (libcurl's resolver thread frees memory through the
 * same callbacks); init and destroy may not. */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define HUGEPOOL_MAX_BLOCKS 64

typedef struct hugepool {
    char *base;            /* NULL: the pool is empty */
    size_t block;          /* bytes per block, a multiple of 4 KB */
    unsigned count;        /* blocks */
    _Atomic uint64_t used; /* bit i: block i is handed out */
} hugepool;

int hugepool_init(hugepool *p, size_t block, unsigned count);
void hugepool_destroy(hugepool *p);
void *hugepool_get(hugepool *p, size_t n);
int hugepool_put(hugepool *p, void *b);
int hugepool_owns(const hugepool *p, const void *b);
