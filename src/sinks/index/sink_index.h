/* The index sink: batches go into the embedded index (src/index), one SQLite transaction each.
 * A batch is done (ok) only once its transaction committed (and, durable, synced); a document the index
 * refuses goes to the dead-letter file with the reason, the others are stored. The commit runs on
 * libuv's work queue, so the loop keeps downloading and building documents meanwhile; a batch
 * waits while the previous one is being written (one writer per file). */
#ifndef CTINDEX_SINK_INDEX_H
#define CTINDEX_SINK_INDEX_H

#include <stdint.h>
#include <uv.h>

#include "pipeline/sink.h"

struct deadletter;

/* Opens (creating when missing) the index file at path. durable: a commit is synced to disk
 * before its batch is acknowledged (run, a replay with a checkpoint); otherwise a committed batch
 * survives a crash of the process, not of the machine (SQLite's WAL with synchronous=NORMAL), as
 * the dir sink's files without --durable. NULL with the reason logged. */
sink *sink_index_open(uv_loop_t *loop, const char *path, int durable, struct deadletter *dead);

typedef struct sink_index_stats {
    uint64_t batches, batches_failed;
    uint64_t adds, unchanged, refused;
    uint64_t stored_bytes; /* compressed documents written */
    double commit_wait_s;  /* loop time batches spent queued behind another commit */
    double work_s;         /* time on the work queue (parse, index, commit) */
} sink_index_stats;

/* 0, or -1 when s is not an index sink. */
int sink_index_get_stats(const sink *s, sink_index_stats *out);

#endif
