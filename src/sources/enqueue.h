/* One SQS notification per S3 object, so that a fleet of `ctindex run` services shares a
 * backfill: SendMessageBatch with 10 entries a call and a few calls in flight. The body is the
 * message CloudTrail publishes to SNS, {"s3Bucket":"B","s3ObjectKey":["K"]}, which `ctindex run`
 * reads as raw delivery. An entry SQS refuses is sent again (3 attempts in all); each object is
 * reported once: sent, or failed with the reason. */
#ifndef CTINDEX_ENQUEUE_H
#define CTINDEX_ENQUEUE_H

#include <stddef.h>

#include "aws/aws.h"

#define ENQUEUE_MAX_BODY 6400 /* a 1024-byte key escaped as \uXXXX throughout, plus the bucket */

typedef struct enqueuer enqueuer;

/* ok = 0: why says what failed. */
typedef void (*enqueue_done_fn)(void *ud, void *tag, int ok, const char *why);

/* calls: SendMessageBatch calls in flight at once (1..16). wake() runs when room may have grown. */
enqueuer *enqueuer_new(aws_ctx *aws, const char *queue_url, int calls, enqueue_done_fn done, void (*wake)(void *ud),
                       void *ud);
/* Only once enqueuer_open() is 0. Closes a uv handle: run the loop afterwards. */
void enqueuer_free(enqueuer *e);
/* Objects that can be added now. */
int enqueuer_room(const enqueuer *e);
/* Queue one object (room must be > 0); a full batch of 10 is sent at once. The result always
 * follows through done, from the loop (never inside this call, also for a key that cannot be
 * sent). */
void enqueuer_add(enqueuer *e, const char *bucket, const char *key, void *tag);
/* Send the partial batch now (no more input for a while). */
void enqueuer_flush(enqueuer *e);
int enqueuer_open(const enqueuer *e); /* added and not yet reported */

/* Pure: the notification body, ASCII only (every non-ASCII character as a \u escape, so SQS's
 * character rules can never refuse it). Returns its length, or -1 when the key is not UTF-8 or
 * out is too small. */
long enqueue_body(const char *bucket, const char *key, char *out, size_t cap);

#endif
