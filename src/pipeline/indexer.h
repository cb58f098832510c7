/* The indexer turns records into documents in the current batch and hands full batches to the
 * sink; to a sink that signs its bodies, on a CPU whose SHA extensions hash two bodies at once,
 * two at a time, hashed together (indexer.c, seal_full). It keeps a fixed pool of batches: when
 * all are in flight it answers INDEXER_BUSY and the producers wait (backpressure), so memory
 * stays bounded whatever the input rate.
 * Every record added is eventually acknowledged to its owner, exactly once: when the batch that
 * holds its document is done (ok or failed), or, when the record is unusable, once its
 * dead-letter entry is written: at once, or in durable mode at the next indexer_flush, after one
 * sync for all the entries written since the last. When the entry cannot be written (a full
 * disk), the record is acknowledged as not stored. */
#ifndef CTINDEX_INDEXER_H
#define CTINDEX_INDEXER_H

#include <stddef.h>
#include <stdint.h>

#include "base/histogram.h"
#include "pipeline/schema.h"
#include "pipeline/sink.h"

typedef struct indexer indexer;

/* Whoever produced records (an S3 object, a local file) embeds this to hear about them. */
typedef struct indexer_owner {
    /* n of its records are done; ok == 0 means the sink could not store them. */
    void (*acked)(struct indexer_owner *o, uint32_t n, int ok);
    const char *source; /* for dead-letter entries: s3://bucket/key or a path */
} indexer_owner;

typedef struct indexer_options {
    int bulk;                  /* 0: CloudSearch SDF, 1: OpenSearch _bulk NDJSON */
    size_t batch_bytes;        /* SDF: 5,000,000 max */
    uint32_t batch_docs;       /* documents per batch at most */
    int batches;               /* pool size: batches being built or in flight (+1 where full ones are paired) */
    int include_raw;           /* index the whole record as "raw" */
    schema_profile fields;     /* which schema fields documents carry (--fields) */
    size_t max_record;         /* bytes; also bounds the token array */
    size_t max_doc_bytes;      /* CloudSearch: 1 MB */
    const char *index_pattern; /* bulk: e.g. "cloudtrail-%Y.%m.%d" */
    struct deadletter *dead;   /* where unusable records go (not owned); NULL: logged only */
    /* The wall clock, seconds since 1970; NULL: no record delay is measured. When set, each stored
     * document's delay (now - its record's eventTime) is observed into indexer_stats.record_delay
     * when its batch is acknowledged. */
    int64_t (*clock_s)(void);
} indexer_options;

void indexer_options_default(indexer_options *o);

typedef struct indexer_stats {
    uint64_t records;       /* records offered */
    uint64_t docs;          /* documents built */
    uint64_t trimmed;       /* documents trimmed to fit max_doc_bytes */
    uint64_t bad_records;   /* unusable records, dead-lettered */
    uint64_t dead_failed;   /* unusable records whose dead-letter entry could not be written: not stored */
    uint64_t chars_dropped; /* invalid UTF-8 / XML-forbidden characters removed */
    uint64_t batches;       /* batches submitted */
    uint64_t batches_failed;
    uint64_t doc_bytes;     /* bytes of documents built */
    uint64_t busy;          /* times a producer had to wait */
    histogram record_delay; /* seconds from eventTime to acknowledgement (with options.clock_s) */
} indexer_stats;

enum { INDEXER_OK = 0, INDEXER_BUSY = 1, INDEXER_BAD = 2, INDEXER_ERR = -1 };

indexer *indexer_new(const indexer_options *o, sink *s);
/* Flushes nothing: call indexer_flush first. Frees the sink too. */
void indexer_free(indexer *ix);
int indexer_add(indexer *ix, const char *rec, size_t len, indexer_owner *owner);
/* A record the producer could not hand over whole (larger than the record limit, or an element
 * of Records that is not an object): dead-lettered with where it was and its first bytes,
 * counted as unusable, acknowledged to its owner like any unusable record (see the top). The
 * owner counts it as one record. */
void indexer_reject(indexer *ix, indexer_owner *owner, const char *why, uint64_t offset, uint64_t size,
                    const char *head, size_t head_len);
/* A whole file that holds nothing to index and is none of the accepted shapes (refused by
 * ingest): dead-lettered as kind "file" with its size and first bytes. Counts no record and
 * acknowledges nothing. 0 when the entry was written (or logged, without a dead-letter file). */
int indexer_reject_file(indexer *ix, const char *source, const char *why, uint64_t size, const char *head,
                        size_t head_len);
/* Submit the batch being built, if it holds anything (end of input, or a linger timer), and a
 * full one that waits for a partner to be hashed with (sinks with hashes_bodies), and
 * acknowledge the dead-lettered records that wait for a sync. */
void indexer_flush(indexer *ix);
/* Number of batches submitted and not yet done. */
int indexer_in_flight(const indexer *ix);
/* Documents waiting in the batch being built or in a full one held for its partner, and
 * dead-lettered records waiting for their sync: what only indexer_flush sends or acknowledges. */
uint32_t indexer_pending_docs(const indexer *ix);
/* Called (from the sink's completion) every time a batch becomes free again, so producers
 * that saw INDEXER_BUSY, or wait for acknowledgements, can go on. */
void indexer_on_space(indexer *ix, void (*fn)(void *ud), void *ud);
const indexer_stats *indexer_get_stats(const indexer *ix);
sink *indexer_sink(const indexer *ix);

#endif
