/* The dead-letter file: records or documents that can never be indexed (unparsable record,
 * document the service rejects) are appended here as JSON lines with the reason, so nothing is
 * lost silently and an operator can fix and replay them. */
#ifndef CTINDEX_DEADLETTER_H
#define CTINDEX_DEADLETTER_H

#include <stddef.h>
#include <stdint.h>

typedef struct deadletter deadletter;

/* path NULL: a dead letter is only logged (and counted). The file is created on the first entry
 * (a run without any leaves none behind); NULL when it could not be written there. */
deadletter *deadletter_open(const char *path);
void deadletter_close(deadletter *d);
/* kind: "record" or "document". Returns 0 when written (or logged when no file). */
int deadletter_write(deadletter *d, const char *kind, const char *source, const char *reason, const char *data,
                     size_t len);
/* Part of something too large to keep whole: data holds its first len bytes; offset is where it
 * starts in its source (bytes of the inflated stream), size its full length. The entry gets
 * "offset", "size" and, when len < size, "truncated":true. */
int deadletter_write_part(deadletter *d, const char *kind, const char *source, const char *reason, uint64_t offset,
                          uint64_t size, const char *data, size_t len);
uint64_t deadletter_count(const deadletter *d);

#endif
