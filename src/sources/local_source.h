/* Local files as a source: a folder of CloudTrail logs (walked recursively, in name order) or an
 * explicit list of files, read on the loop in chunks and fed to the CPU path. */
#ifndef CTINDEX_LOCAL_SOURCE_H
#define CTINDEX_LOCAL_SOURCE_H

#include <stdint.h>
#include <uv.h>

#include "pipeline/indexer.h"

typedef struct local_stats {
    uint64_t files_total;  /* files to index */
    uint64_t files_done;   /* finished, all records acknowledged */
    uint64_t files_failed; /* unreadable, corrupt or truncated (their good records are kept) */
    uint64_t files_empty;  /* no Records array (digest-like content) */
    uint64_t digests;      /* skipped by name: CloudTrail-Digest */
    uint64_t others;       /* skipped: not a .json/.json.gz/.gz file */
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
 * Returns 0 when every file was indexed completely, 1 when some failed, -1 on setup errors. */
int local_source_run(uv_loop_t *loop, indexer *ix, char **paths, int npaths, const local_options *o, local_stats *st);

#endif
