/* The dir sink: batch files in a local folder. */
#ifndef CTINDEX_SINK_DIR_H
#define CTINDEX_SINK_DIR_H

#include <uv.h>

#include "pipeline/sink.h"

/* Writes each batch body to DIR/batch-NNNNNN.json (or .ndjson) from the loop, then completes it
 * (never inside submit). durable: fsync each batch file and the folder before completing it.
 * Uses a uv handle: after sink_close run the loop until it is empty. NULL when the folder cannot
 * be made (logged). */
sink *sink_dir_open(uv_loop_t *loop, const char *dir, int bulk_format, int durable);
/* Make the folder (and its parents). 0, or -1 with the reason logged. */
int sink_dir_prepare(const char *dir);

#endif
