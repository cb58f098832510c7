/* Large buffers (megabytes, kept for the life of a component) backed by transparent huge pages
 * where the kernel offers them.
 *
 * Why: every 4 KB page touched for the first time costs a page fault. On the bench's virtual
 * machine a fault costs about 13 us (0.3 us per 4 KB in a 2 MB page), and the engine's four 5 MB
 * batches alone were 5,000 faults. hugebuf_alloc maps the buffer 2 MB-aligned and asks for huge
 * pages (madvise MADV_HUGEPAGE, which the kernel's default "madvise" mode honours), over whole
 * 2 MB pages up to and including the one holding the last byte; the memory is resident once
 * touched, as with malloc (in 2 MB steps).
 *
 * Contract: hugebuf_alloc returns n bytes (uninitialised) or NULL; hugebuf_free takes the same
 * pointer and n (NULL is fine). Buffers below HUGEBUF_MIN, other systems and sanitizer builds
 * (which must see the buffer's bounds) get malloc. */
#pragma once

#include <stddef.h>

#define HUGEBUF_MIN ((size_t)2 << 20)

/* HUGEBUF_MAPS: 1 where hugebuf_alloc maps (Linux, no AddressSanitizer), else 0 (malloc). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HUGEBUF_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define HUGEBUF_SANITIZED 1
#endif
#if defined(__linux__) && !defined(HUGEBUF_SANITIZED)
#define HUGEBUF_MAPS 1
#else
#define HUGEBUF_MAPS 0
#endif

void *hugebuf_alloc(size_t n);
void hugebuf_free(void *p, size_t n);
