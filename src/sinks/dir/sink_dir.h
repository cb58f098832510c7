/* The dir sink: batch files in a local folder. */
#ifndef CTINDEX_SINK_DIR_H
#define CTINDEX_SINK_DIR_H

#include "pipeline/sink.h"

/* Writes each batch body to DIR/batch-NNNNNN.json (or .ndjson) and completes at once. */
sink *sink_dir_new(const char *dir, int bulk_format);
/* The same; durable: fsync each batch file and the folder before completing it. */
sink *sink_dir_open(const char *dir, int bulk_format, int durable);

#endif
