/* A CloudTrail bucket as a source: replay of a date range.
 *
 * Dated mode (o->dated, `--prefix`): a bucket not laid out like CloudTrail's, such as Firehose's
 * PREFIX/YYYY/MM/DD/HH/: no discovery, one series (TRAIL_DATED_SERIES) whose day partitions are
 * PREFIX/YYYY/MM/DD/, listed recursively; everything below is the same. In both modes a listed
 * key is read when key_classify reads its name, and every file is judged by content.
 *
 * Finds the trail series (ACCOUNT x REGION, under an optional o-ORG level, for the log files in
 * CloudTrail/ and the Insights events in CloudTrail-Insight/) with delimiter listings of
 * PREFIX/AWSLogs/, keeps those the filters name, then lists the day partitions
 * .../CloudTrail[-Insight]/REGION/YYYY/MM/DD/ of the range, several at once, one page of keys per
 * day held at a time, and hands every log file to the consumer: downloads into the indexer
 * (s3_fetch) or notifications into SQS (enqueue). Digest folders are never listed.
 *
 * A day is finished when every file of it is done: all its records acknowledged by the sink (or,
 * enqueuing, every message sent). Finished days go into the checkpoint (saved at most once a
 * second and at the end); a day already in it is neither listed nor indexed again. A day that had
 * a failed file, or that may still receive files (less than an hour past its end), is not
 * recorded, so a rerun does it again; documents are keyed by eventID, so that only repeats work.
 *
 * SIGTERM/SIGINT: stop listing and downloading, let delivered records settle, save the
 * checkpoint, return. A second signal saves the checkpoint and returns at once. */
#ifndef CTINDEX_S3_SOURCE_H
#define CTINDEX_S3_SOURCE_H

#include <stdint.h>
#include <uv.h>

#include "aws/aws.h"
#include "pipeline/indexer.h"
#include "sources/checkpoint.h"
#include "sources/trail_layout.h"

typedef struct s3_source_options {
    const char *bucket;
    const char *prefix;                            /* "" or ending with '/' */
    int32_t since, until;                          /* days, inclusive */
    const char (*accounts)[TRAIL_ACCOUNT_LEN + 1]; /* filter; naccounts 0: every account */
    int naccounts;
    const char (*regions)[TRAIL_MAX_REGION];
    int nregions;
    int listings;  /* ListObjectsV2 calls in flight (default 8) */
    int downloads; /* concurrent GetObject (default 8) */
    int insights;  /* also replay CloudTrail-Insight/ */
    int dated;     /* PREFIX/YYYY/MM/DD/ instead of the CloudTrail layout */
    size_t max_record;
    indexer *ix;             /* download mode */
    const char *enqueue_url; /* enqueue mode (ix unused) */
    checkpoint *cp;          /* NULL: no checkpoint */
    const char *checkpoint_path;
    int progress;
    int64_t now_s; /* wall clock, for "may still receive files"; 0: time(NULL) */
} s3_source_options;

typedef struct s3_source_stats {
    uint64_t series;                            /* trail series selected */
    uint64_t series_insight;                    /* of them, Insights events */
    uint64_t days_total;                        /* in range, over every series */
    uint64_t days_skipped;                      /* finished in an earlier run (checkpoint) */
    uint64_t days_done, days_failed, days_open; /* open: finished but too recent to record */
    uint64_t list_calls, list_errors;
    uint64_t files, files_done, files_failed;
    uint64_t files_refused; /* of files_done: none of the shapes, recorded in the dead-letter file */
    uint64_t files_empty;   /* of files_done: no records (one of the shapes, or a digest) */
    uint64_t others;        /* listed and not read: another extension (named with --verbose) */
    uint64_t digests;       /* listed and not read: a CloudTrail-Digest key */
    uint64_t records, records_failed, bytes_in, bytes_json;
    uint64_t control_messages; /* CloudWatch Logs CONTROL_MESSAGEs: no records */
    int interrupted;           /* stopped by a signal */
    int forced;                /* second signal: work was still in flight */
    int checkpoint_failed;     /* the last save failed */
} s3_source_stats;

/* Runs the loop until the range is done or a signal stops it. Returns 0 when every day was
 * finished and every listed file indexed, 1 when some were not (failed files, interrupted,
 * checkpoint not saved, files refused or not read by their name), 2 when the bucket could not be
 * explored (nothing indexed: the reason is logged). */
int s3_source_run(uv_loop_t *loop, aws_ctx *aws, const s3_source_options *o, s3_source_stats *st);

#endif
