/* Replay checkpoints: which day partitions of which trail series ("[o-ORG/]ACCOUNT/REGION", and
 * "[o-ORG/]ACCOUNT/CloudTrail-Insight/REGION" for Insights events) are finished, i.e. every record of every file of
 * that day was acknowledged by the sink (or every file was enqueued). Stored as ranges of days per series, so the state
 * grows with the gaps between finished days, never with the number of objects.
 *
 * The file is text, rewritten whole and atomically (temporary file, fsync, rename, fsync of the
 * folder), so after a crash it holds either the previous or the next state:
 *
 *   ctindex-checkpoint 1
 *   source s3://bucket/prefix/
 *   target dir:/data/out
 *   done 111122223333/us-east-1 2024-05-01..2024-05-07,2024-05-09
 *   done o-abcdefghij/444455556666/eu-west-1 2024-05-01
 *   done 111122223333/CloudTrail-Insight/us-east-1 2024-05-01..2024-05-07
 *   end
 *
 * A checkpoint names the replay it belongs to (source and target): loading it for another one
 * is refused, so a checkpoint of one sink can never make a replay into another skip days. */
#ifndef CTINDEX_CHECKPOINT_H
#define CTINDEX_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define CHECKPOINT_MAX_FILE (64u << 20) /* bytes; a file is refused beyond this */
#define CHECKPOINT_MAX_SERIES (1u << 20)
#define CHECKPOINT_MAX_IDENT 4096 /* source and target strings */

typedef struct checkpoint checkpoint;
typedef struct checkpoint_series checkpoint_series;

/* NULL on bad arguments (empty, too long, control characters) or out of memory. */
checkpoint *checkpoint_new(const char *source, const char *target);
void checkpoint_free(checkpoint *cp);

/* The series of this name, created empty when absent. The pointer stays valid until
 * checkpoint_free. NULL for a malformed name, too many series, or out of memory. */
checkpoint_series *checkpoint_series_get(checkpoint *cp, const char *name);
size_t checkpoint_series_count(const checkpoint *cp);
int checkpoint_is_done(const checkpoint_series *s, int32_t day);
/* Record a finished day. 0, or -1 out of memory. */
int checkpoint_mark(checkpoint *cp, checkpoint_series *s, int32_t day);
/* Finished days in [from, to]. */
uint32_t checkpoint_count_done(const checkpoint_series *s, int32_t from, int32_t to);
/* Changed since the last format/save. */
int checkpoint_dirty(const checkpoint *cp);

/* Read a whole checkpoint text into cp, whose source and target must be the file's. On error
 * (malformed, truncated, another replay's) returns -1 with why filled, and cp is unchanged in
 * meaning only if it was empty before (callers parse into a fresh checkpoint). */
int checkpoint_parse(checkpoint *cp, const char *text, size_t len, char *why, size_t why_cap);
/* The text form (series sorted by name). -1 when out is too small. Clears the dirty flag. */
int checkpoint_format(checkpoint *cp, buf *out);

/* 0 loaded, 1 the file does not exist (a new replay), -1 error with why. */
int checkpoint_load(checkpoint *cp, const char *path, char *why, size_t why_cap);
/* Atomic replace of path. 0, or -1 with why (the previous file is then left as it was). */
int checkpoint_save(checkpoint *cp, const char *path, char *why, size_t why_cap);
/* Hold PATH.lock (flock) while a replay uses the checkpoint, so two replays never interleave
 * their saves. The descriptor to close at the end, or -1 with why (e.g. held by another). */
int checkpoint_lock(const char *path, char *why, size_t why_cap);

#endif
