/* What an S3 key (or a local path) of a CloudTrail bucket holds, judged by its path:
 * AWSLogs/[o-ORG/]ACCOUNT/CloudTrail[-Digest or -Insight]/REGION/YYYY/MM/DD/FILE. */
#ifndef CTINDEX_KEYS_H
#define CTINDEX_KEYS_H

#include <stddef.h>

typedef enum {
    KEY_LOG = 0, /* a CloudTrail log file: index it */
    KEY_INSIGHT, /* CloudTrail-Insight: Insights events, index them too */
    KEY_DIGEST,  /* CloudTrail-Digest: integrity digests, no records: skip */
    KEY_OTHER,   /* not a log file (folder marker, other data): skip */
} key_kind;

key_kind key_classify(const char *key, size_t len);

#endif
