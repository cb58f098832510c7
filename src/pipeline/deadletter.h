/* The dead-letter file: records or documents that can never be indexed (unparsable record,
 * document the service rejects) are appended here as JSON lines with the reason, so nothing is
 * lost silently and an operator can fix and replay them. It holds raw records: it is created
 * with mode 0600 whatever the umask.
 *
 * Acknowledgement rule: whatever an entry stands for may be acknowledged only once the entry is
 * written, and in durable mode synced to disk. A function below that returns -1 wrote nothing
 * usable (a failed or short write is cut off again, so the file stays whole JSON lines): the
 * caller must not acknowledge what the entry stood for (the SQS message comes back, a replay
 * reports the file as failed). */
#ifndef CTINDEX_DEADLETTER_H
#define CTINDEX_DEADLETTER_H

#include <stddef.h>
#include <stdint.h>

typedef struct deadletter deadletter;

/* path NULL: a dead letter is only logged (and counted). The file is created on the first entry
 * (a run without any leaves none behind); NULL when it could not be written there. durable: an
 * entry counts as written only once fsync'ed (run, and an S3 replay with a checkpoint: they
 * acknowledge to something that forgets, a queue or a checkpoint file). */
deadletter *deadletter_open(const char *path, int durable);
void deadletter_close(deadletter *d);

/* Where a part of something too large to keep whole came from: offset where it starts in its
 * source (bytes of the inflated stream), size its full length. */
typedef struct deadletter_part {
    uint64_t offset;
    uint64_t size;
} deadletter_part;

/* Append one entry. kind: "record" or "document"; part NULL for a whole thing, else data holds
 * its first len bytes and the entry gets "offset", "size" and, when len < size, "truncated":true.
 * Returns 0 once the entry is in the file (or logged, without a file), -1 (logged) when not.
 * Entries are numbered from 1 in the order appended: the one just appended is number
 * deadletter_count(d). In durable mode it is not on disk yet: call deadletter_sync before
 * acknowledging what it stands for. So a caller with many entries pays one fsync for all. */
int deadletter_append(deadletter *d, const char *kind, const char *source, const char *reason,
                      const deadletter_part *part, const char *data, size_t len);
/* Durable mode: fsync what was appended since the last sync, then answer for the entries
 * numbered first and up: 0 when every one of them is on disk, -1 (logged) when some may be lost
 * (a sync failed after they were appended: the kernel may have dropped their pages, whatever a
 * later fsync says). Not durable, or no file: 0. */
int deadletter_sync(deadletter *d, uint64_t first);
int deadletter_durable(const deadletter *d);

/* deadletter_append, then deadletter_sync: 0 when the entry is written (and synced in durable
 * mode), so what it stands for may be acknowledged now; -1 when it must not be. */
int deadletter_write(deadletter *d, const char *kind, const char *source, const char *reason, const char *data,
                     size_t len);
int deadletter_write_part(deadletter *d, const char *kind, const char *source, const char *reason, uint64_t offset,
                          uint64_t size, const char *data, size_t len);

typedef struct deadletter_stats {
    uint64_t written;     /* entries in the file (or logged, without a file) */
    uint64_t failed;      /* entries that could not be written */
    uint64_t syncs;       /* syncs done (durable mode) */
    uint64_t sync_failed; /* of which failed */
} deadletter_stats;

const deadletter_stats *deadletter_get_stats(const deadletter *d);
/* Entries appended: deadletter_get_stats()->written, 0 for NULL. */
uint64_t deadletter_count(const deadletter *d);

#endif
