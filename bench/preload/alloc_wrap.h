/* Replacements for the glibc allocator entry points that count every call into *ctalloc_ctr
 * and then let glibc's __libc_* functions do the work. glibc supports replacing malloc this way
 * and routes its own internal allocations through these too.
 *
 * Included by exactly one file of a program (or of libctalloc.so) that wants its allocations
 * counted. Not under AddressSanitizer, which owns the allocator: there ALLOC_WRAP_ACTIVE is 0
 * and nothing is defined. */
#ifndef CTINDEX_ALLOC_WRAP_H
#define CTINDEX_ALLOC_WRAP_H

#include <errno.h>
#include <malloc.h> /* memalign and valloc, replaced below */
#include <stddef.h>
#include <stdlib.h>

#include "ctalloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_WRAP_ACTIVE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_WRAP_ACTIVE 0
#endif
#endif
#ifndef ALLOC_WRAP_ACTIVE
#define ALLOC_WRAP_ACTIVE 1
#endif

/* Where the counts go; a program may point it elsewhere (libctalloc.so: the shared file). */
static ctalloc_counters ctalloc_local;
static ctalloc_counters *ctalloc_ctr = &ctalloc_local;

#if ALLOC_WRAP_ACTIVE
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);

static inline void ctalloc_count(size_t n) {
    /* Atomic: libcurl's resolver thread allocates too. */
    __atomic_fetch_add(&ctalloc_ctr->allocs, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&ctalloc_ctr->bytes, n, __ATOMIC_RELAXED);
}

void *malloc(size_t n) {
    ctalloc_count(n);
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b) {
    ctalloc_count(a * b);
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n) {
    ctalloc_count(n);
    return __libc_realloc(p, n);
}

void free(void *p) {
    if (p) __atomic_fetch_add(&ctalloc_ctr->frees, 1, __ATOMIC_RELAXED);
    __libc_free(p);
}

void *memalign(size_t align, size_t n) {
    ctalloc_count(n);
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n) {
    ctalloc_count(n);
    return __libc_memalign(align, n);
}

void *valloc(size_t n) {
    ctalloc_count(n);
    return __libc_valloc(n);
}

int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    ctalloc_count(n);
    void *p = __libc_memalign(align, n);
    if (!p && n) return ENOMEM;
    *out = p;
    return 0;
}
#endif

/* Allocation calls counted so far (0 when not counting). */
static inline uint64_t ctalloc_allocs(void) { return ctalloc_load(&ctalloc_ctr->allocs); }

#endif
