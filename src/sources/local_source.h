/* Local files as a source: folders (walked recursively, in name order) and files, read on the
 * loop in chunks and fed to the CPU path, which judges each by content (pipeline/ingest.h).
 * A walk reads the names key_classify reads (sources/trail_key.h) and skips the others and the
 * CloudTrail-Digest files, naming each skipped one at debug level; a file given by name is always
 * read. */
#ifndef CTINDEX_LOCAL_SOURCE_H
#define CTINDEX_LOCAL_SOURCE_H

#include <stdint.h>
#include <uv.h>

#include "pipeline/indexer.h"

typedef struct local_stats {
    uint64_t files_total;      /* files to index */
    uint64_t files_done;       /* finished, all records acknowledged */
    uint64_t files_indexed;    /* of them, files that held records, all stored */
    uint64_t files_failed;     /* unreadable, corrupt or truncated (their good records are kept) */
    uint64_t files_refused;    /* none of the accepted shapes (named on stderr, in the dead-letter file) */
    uint64_t files_empty;      /* one of the shapes, without records ({"Records":[]}) */
    uint64_t digests;          /* CloudTrail digests: skipped by name in a walk, or read and found to be one */
    uint64_t others;           /* skipped by name in a walk: another extension (named with --verbose) */
    uint64_t control_messages; /* CloudWatch Logs CONTROL_MESSAGEs: no records */
    uint64_t records;
    uint64_t records_failed; /* records the sink could not store */
    uint64_t bytes_in;       /* file bytes read */
    uint64_t bytes_json;     /* inflated JSON bytes */
} local_stats;

typedef struct local_options {
    size_t max_record;
    int progress; /* 1: show progress on stderr */
} local_options;

/* Index every path (files or folders). Runs the loop until every record is acknowledged.
 * Returns 0 when every file was indexed completely (digests and files without records count as
 * such), 1 when some file was not (failed, refused, or skipped by name in a walk), -1 on setup
 * errors. */
int local_source_run(uv_loop_t *loop, indexer *ix, char **paths, int npaths, const local_options *o, local_stats *st);

#endif
