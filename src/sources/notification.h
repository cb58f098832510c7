/* Parses the body of an SQS message into the S3 objects it announces. Understands, on one queue:
 * CloudTrail's SNS notification (s3Bucket + s3ObjectKey list), the same with SNS raw message
 * delivery, S3 event notifications (Records[].s3, keys URL-encoded with '+' for space, directly or
 * inside SNS), and EventBridge "Object Created" events. Test events and CloudTrail's validation
 * message are recognised so they can be deleted. Pure: no loop, no network. */
#ifndef CTINDEX_NOTIFY_H
#define CTINDEX_NOTIFY_H

#include <stddef.h>

#include "base/json.h"

#define NOTIFY_BUCKET_MAX 64 /* S3 bucket names are 3..63 characters */
#define NOTIFY_KEY_MAX 1025  /* S3 keys are at most 1024 bytes of UTF-8 */

typedef struct notify_object {
    char bucket[NOTIFY_BUCKET_MAX];
    char key[NOTIFY_KEY_MAX];
} notify_object;

typedef enum {
    NOTIFY_OBJECTS = 0, /* objects[0..n) to index (n may be 0 for an S3 event with no records) */
    NOTIFY_IGNORE,      /* a test event or validation message: delete it */
    NOTIFY_BAD,         /* not understood: leave it to the queue's redrive policy */
} notify_kind;

typedef struct notify_result {
    notify_kind kind;
    int n;           /* objects filled */
    char source[16]; /* "cloudtrail", "s3", "eventbridge", "test", "validation" */
    char why[160];   /* for NOTIFY_BAD and NOTIFY_IGNORE */
} notify_result;

/* doc: a token array big enough for the body; scratch: room to decode an embedded SNS Message
 * (at least the body length). objects: room for max entries; more than max is NOTIFY_BAD. */
void notify_parse(json_doc *doc, const char *body, size_t len, char *scratch, size_t scratch_cap,
                  notify_object *objects, int max, notify_result *res);

#endif
