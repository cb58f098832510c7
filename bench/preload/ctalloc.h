/* The allocation counter shared between libctalloc.so (LD_PRELOADed into the process being
 * measured) and whoever reads it (bench_e2e). The reader creates a file of CTALLOC_FILE_SIZE
 * bytes and names it in CTALLOC_ENV; the library maps it and counts into it, so the reader
 * can sample the counts at any moment, while the process runs, without signals or pipes. */
#ifndef CTINDEX_CTALLOC_H
#define CTINDEX_CTALLOC_H

#include <stdint.h>

#define CTALLOC_ENV "CTINDEX_ALLOC_COUNTERS"
#define CTALLOC_MAGIC 0x6374616c6c6f6331ull /* "ctalloc1": the library mapped the file */
#define CTALLOC_FILE_SIZE 4096

typedef struct ctalloc_counters {
    uint64_t magic;
    uint64_t allocs; /* malloc, calloc, realloc, memalign family: every call */
    uint64_t frees;  /* free of a non-NULL pointer */
    uint64_t bytes;  /* bytes requested by those calls */
} ctalloc_counters;

/* The library may be counting on another thread (libcurl resolves names on one). */
static inline uint64_t ctalloc_load(const uint64_t *field) { return __atomic_load_n(field, __ATOMIC_RELAXED); }

#endif
