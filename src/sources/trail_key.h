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

/* Pieces of a CloudTrail key; empty strings when absent. Returns 0 when the key has the
 * AWSLogs/.../CloudTrail.../REGION/YYYY/MM/DD/ layout, -1 otherwise. */
typedef struct key_parts {
    char org[40];
    char account[16];
    char region[32];
    char date[11]; /* YYYY-MM-DD */
} key_parts;
int key_parse(const char *key, size_t len, key_parts *out);

#endif
