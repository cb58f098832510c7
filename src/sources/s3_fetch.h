/* S3 objects into the CPU path, several at once: each object's bytes stream from GetObject
 * through gunzip and the record splitter into the indexer as they arrive. While the indexer is
 * busy a download is paused (its last chunk kept) and resumed once a batch is free, so memory
 * is bounded by the number of downloads whatever the object sizes. An object is reported once,
 * after every record it delivered was acknowledged by the sink (or failed).
 *
 * The fetcher owns the indexer's on_space hook; it calls wake() whenever more room may exist
 * (a download ended, a batch came back), so its owner can start more work or flush. */
#ifndef CTINDEX_S3_FETCH_H
#define CTINDEX_S3_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"
#include "pipeline/indexer.h"
#include "pipeline/ingest.h"

typedef struct s3_fetch s3_fetch;

typedef struct s3_fetch_options {
    int downloads;     /* objects with bytes flowing at once (default 8) */
    int max_open;      /* objects started and not yet reported (default 512): bounds the
                          objects whose records wait in batches */
    size_t max_record; /* record size limit of the splitter */
} s3_fetch_options;

typedef struct s3_fetch_result {
    const char *bucket, *key;
    int ok;                 /* the whole file was read and everything stored (records indexed or dead-lettered; a
                             * refused file recorded in the dead-letter file) */
    ingest_outcome outcome; /* what the file was (INGEST_REFUSED: none of the shapes, see error) */
    const char *error;      /* why, when !ok or refused ("" when only the sink failed records) */
    uint64_t records, records_failed, bytes_in, bytes_json;
    uint64_t control_messages; /* CloudWatch Logs CONTROL_MESSAGEs: no records */
} s3_fetch_result;

/* tag: what the caller passed to s3_fetch_start. r is valid during the call only. */
typedef void (*s3_fetch_done_fn)(void *ud, void *tag, const s3_fetch_result *r);

void s3_fetch_options_default(s3_fetch_options *o);
s3_fetch *s3_fetch_new(aws_ctx *aws, indexer *ix, const s3_fetch_options *o, s3_fetch_done_fn done,
                       void (*wake)(void *ud), void *ud);
/* Frees everything; only once s3_fetch_open() is 0. Gives the indexer's on_space hook back.
 * Closes a uv handle: run the loop afterwards. */
void s3_fetch_free(s3_fetch *f);

/* How many objects could start now. */
int s3_fetch_room(const s3_fetch *f);
/* Start one (room must be > 0). Its result always follows through done, from the loop: never
 * inside this call (also when the download cannot start) nor inside s3_fetch_cancel. */
void s3_fetch_start(s3_fetch *f, const char *bucket, const char *key, void *tag);
int s3_fetch_flowing(const s3_fetch *f); /* downloads whose bytes are still coming */
int s3_fetch_open(const s3_fetch *f);    /* started and not yet reported */
/* Stop every download; those objects are reported as failed once their delivered records settle. */
void s3_fetch_cancel(s3_fetch *f);

#endif
