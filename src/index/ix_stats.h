/* What a store wrote (ix_store.h), in a header of its own so the store's inside (ix_internal.h)
 * can hold it without including the store's public header. */
#ifndef CTINDEX_IX_STATS_H
#define CTINDEX_IX_STATS_H

#include <stdint.h>

typedef struct ix_write_stats {
    uint64_t adds;      /* documents added or replaced */
    uint64_t unchanged; /* adds identical to what was stored */
    uint64_t deletes;   /* documents deleted (a delete of a missing id counts too, as CloudSearch does) */
    uint64_t derived;   /* stored as their raw record only (the other fields are rebuilt from it) */
    uint64_t stored_bytes;
} ix_write_stats;

#endif
