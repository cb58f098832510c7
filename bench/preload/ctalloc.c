/* libctalloc.so: counts the heap allocations of any program it is LD_PRELOADed into, into the
 * shared counter file named by $CTINDEX_ALLOC_COUNTERS (see ctalloc.h), so that bench_e2e can
 * sample them while the engine runs. Nothing else changes for the program. */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc_wrap.h"

/* Counts made before this ran (by the dynamic loader, other constructors) are carried over. */
__attribute__((constructor)) static void ctalloc_init(void) {
    const char *path = getenv(CTALLOC_ENV);
    if (!path || !*path) return;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return;
    void *m = mmap(NULL, CTALLOC_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return;
    ctalloc_counters *shared = m;
    shared->allocs += ctalloc_local.allocs;
    shared->frees += ctalloc_local.frees;
    shared->bytes += ctalloc_local.bytes;
    __atomic_store_n(&shared->magic, CTALLOC_MAGIC, __ATOMIC_RELEASE);
    ctalloc_ctr = shared;
}
