/* One source object (an S3 object or a local file) flowing through the CPU path:
 * compressed bytes -> gunzip -> record splitter -> indexer. The heavy state (zlib, the record
 * buffer) lives in an ingest_pipe that is held only while bytes flow; the light ingest_obj
 * stays until every record of the object has been acknowledged by the sink. */
#ifndef CTINDEX_INGEST_H
#define CTINDEX_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/indexer.h"

typedef struct ingest_pipe ingest_pipe;
typedef struct ingest_obj ingest_obj;

enum {
    INGEST_OK = 0,   /* all input consumed */
    INGEST_FULL = 1, /* the indexer is busy: input was kept; call ingest_resume when it has space */
    INGEST_ERR = -1, /* the object is malformed (see ingest_error); records before stay indexed */
};

/* Called once when input ended and every record was acknowledged (or on error, once the
 * records delivered before the error are acknowledged). status: 0 ok, -1 failed.
 * Ingest is a synchronous state machine without a loop: done runs inside ingest_end or
 * ingest_abort when every record was already acknowledged, else inside the indexer's
 * acknowledgement (which comes from the loop: sinks never complete inside submit). Owners that
 * offer an asynchronous API on top (s3_fetch) report to their callers from the loop. */
typedef void (*ingest_done_fn)(ingest_obj *o, int status, void *ud);

struct ingest_obj {
    indexer_owner owner; /* first: the indexer acknowledges through it */
    indexer *ix;
    ingest_pipe *pipe; /* NULL once input ended */
    char name[1024];   /* for messages: s3://bucket/key or a path */
    uint64_t records;  /* delivered to the indexer (or rejected there: too large, not an object) */
    uint64_t acked;
    uint64_t failed; /* records whose batch the sink could not store */
    uint64_t bytes_in;
    uint64_t bytes_out; /* inflated JSON bytes */
    int input_ended;
    int error;       /* gunzip/split error */
    int digest_like; /* the file had no Records array */
    int reported;
    char errmsg[256];
    /* input kept back while the indexer was busy (at most one network chunk) */
    uint8_t *stash;
    size_t stash_len, stash_off, stash_cap;
    int stalled;
    ingest_done_fn done;
    void *ud;
};

ingest_pipe *ingest_pipe_new(size_t max_record);
void ingest_pipe_free(ingest_pipe *p);

/* Start an object on a pipe. The object must stay at the same address until done. */
void ingest_begin(ingest_obj *o, indexer *ix, ingest_pipe *p, const char *name, ingest_done_fn done, void *ud);
int ingest_feed(ingest_obj *o, const uint8_t *data, size_t n);
/* Continue after INGEST_FULL; returns INGEST_OK when the kept input is consumed. */
int ingest_resume(ingest_obj *o);
/* No more input: checks the file is complete and gives the pipe back (returned via *pipe_out). */
int ingest_end(ingest_obj *o, ingest_pipe **pipe_out);
/* Abort the input (download failed): the object will report failure once its acks settle. */
void ingest_abort(ingest_obj *o, const char *why, ingest_pipe **pipe_out);
void ingest_obj_free(ingest_obj *o);

#endif
