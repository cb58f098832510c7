/* What an embedded index holds, reduced to a few digests that do not depend on how it was
 * written: two indexes built from the same records in one replay or in several (appending to
 * the same file) must give the same digests, while their pages, FTS5 segments and the split of
 * ids between `ids` and `ids_new` may differ. bench_index compares a sliced build with one
 * whole replay this way (--compare-whole). */
#ifndef CTINDEX_BENCH_IXDIGEST_H
#define CTINDEX_BENCH_IXDIGEST_H

#include <stddef.h>
#include <stdint.h>

#define IXDIGEST_PARTS 8

typedef struct ixdigest_part {
    const char *name; /* what was read: "docs", "store", "ids (both levels)", ... */
    uint64_t rows;
    uint64_t digest; /* FNV-1a 64 of every value of every row, in a fixed order */
} ixdigest_part;

/* Reads the index at path (read-only; FTS5 through fts5vocab tables in the temp schema) into
 * parts[0..IXDIGEST_PARTS). Returns the number of parts, or -1 with a message in err. Reads
 * every row of every table: seconds for a few hundred thousand records. */
int ixdigest_compute(const char *path, ixdigest_part parts[IXDIGEST_PARTS], char *err, size_t errcap);

#endif
