/* One source object (an S3 object or a local file) flowing through the CPU path:
 * compressed bytes -> gunzip -> element splitter (rsplit) -> shapes -> indexer. The heavy state
 * (zlib, the element buffer, the scratch for records held in strings) lives in an ingest_pipe
 * that is held only while bytes flow; the light ingest_obj stays until every record of the
 * object has been acknowledged by the sink.
 *
 * Every shape of rsplit.h and shape.h is read, judged by content, never by name or key order.
 * What an object turned out to be is its outcome (below). A file that is none of the shapes is
 * refused: reported, and recorded in the dead-letter file with its first bytes (so it counts as
 * handled, like a dead-lettered record); a broken line, an element or a log event that holds no
 * record goes to the dead-letter file on its own, and the records around it are indexed. */
#ifndef CTINDEX_INGEST_H
#define CTINDEX_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/indexer.h"
#include "pipeline/rsplit.h"
#include "pipeline/shape.h"

typedef struct ingest_pipe ingest_pipe;
typedef struct ingest_obj ingest_obj;

enum {
    INGEST_OK = 0,   /* all input consumed */
    INGEST_FULL = 1, /* the indexer is busy: input was kept; call ingest_resume when it has space */
    INGEST_ERR = -1, /* the object is malformed or refused (see errmsg); records before stay indexed */
};

/* What an object was, once its input ended. */
typedef enum ingest_outcome {
    INGEST_READ = 0, /* it held records (indexed, or some dead-lettered) */
    INGEST_EMPTY,    /* one of the shapes, with no record in it ({"Records":[]}, CloudWatch control messages) */
    INGEST_DIGEST,   /* a CloudTrail digest file: nothing to index */
    INGEST_REFUSED,  /* none of the shapes (or no JSON at all, 0 bytes included): errmsg says what it was */
    INGEST_FAILED,   /* damaged (corrupt gzip, truncated wrapper) or the download failed: errmsg */
} ingest_outcome;

/* Called once when input ended and every record was acknowledged (or on error, once the
 * records delivered before the error are acknowledged). status: 0 when everything the object
 * held is stored (indexed, or in the dead-letter file; a refused file too, once its entry is
 * written), -1 when something failed (a damaged file, a download error, the sink refused a batch,
 * a dead-letter write failed).
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
    uint64_t records;  /* handed to the indexer, dead-lettered ones included */
    uint64_t acked;
    uint64_t failed;           /* records whose batch the sink could not store */
    uint64_t dead_lettered;    /* parts that held no record: broken lines, elements, log events */
    uint64_t control_messages; /* CloudWatch Logs CONTROL_MESSAGEs (no records) */
    uint64_t bytes_in;
    uint64_t bytes_out;  /* inflated JSON bytes */
    unsigned kinds;      /* 1 << shape_kind of every element seen */
    unsigned containers; /* RSPLIT_SAW_* */
    ingest_outcome outcome;
    int input_ended;
    int error;   /* gunzip/split error, or refused */
    int refused; /* error is a refusal: none of the shapes */
    int reported;
    char errmsg[512];
    char head[RSPLIT_HEAD]; /* the first inflated bytes, for the dead-letter entry of a refused file */
    size_t head_len;
    /* an element whose records are being handed over (the indexer was busy in the middle) */
    int expanding;
    shape_cursor cursor;
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
/* No more input: judges the file (outcome) and gives the pipe back (returned via *pipe_out). */
int ingest_end(ingest_obj *o, ingest_pipe **pipe_out);
/* Abort the input (download failed): the object will report failure once its acks settle. */
void ingest_abort(ingest_obj *o, const char *why, ingest_pipe **pipe_out);
void ingest_obj_free(ingest_obj *o);

/* "a CloudTrail file ({"Records":[...]})", "JSON lines of EventBridge events", ..., for messages. */
void ingest_describe(const ingest_obj *o, char *out, size_t cap);

#endif
