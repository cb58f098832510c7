/* What an S3 key (or a local path) holds, judged by its path, for listings and folder walks
 * (what a notification or the command line names is read whatever its name):
 * AWSLogs/[o-ORG/]ACCOUNT/CloudTrail[-Digest or -Insight]/REGION/YYYY/MM/DD/FILE in a CloudTrail
 * bucket, and names a file of records may have elsewhere (a Firehose bucket writes names without
 * an extension). What a file really holds is judged by its content (pipeline/ingest.h). */
#ifndef CTINDEX_KEYS_H
#define CTINDEX_KEYS_H

#include <stddef.h>

typedef enum {
    KEY_LOG = 0, /* may hold records (.json, .json.gz, .gz, .jsonl, .ndjson, .log or no extension): read it */
    KEY_INSIGHT, /* CloudTrail-Insight: Insights events, read them too */
    KEY_DIGEST,  /* CloudTrail-Digest: integrity digests, no records: skip */
    KEY_OTHER,   /* another extension (.txt, .csv, ...): skip */
    KEY_FOLDER,  /* an empty key or a folder marker ("a/b/"): nothing to read */
} key_kind;

key_kind key_classify(const char *key, size_t len);
/* The time in a CloudTrail file's name (ACCOUNT_CloudTrail[-Insight]_REGION_YYYYMMDDTHHmmZ_...,
 * the end of the 5 minutes its records come from) as the number YYYYMMDDHHmm; -1 when the last
 * path segment has none. */
long long key_stamp(const char *key, size_t len);
/* The order a replay reads a folder's files in: by the time in their names, then by path; names
 * without one after them, by path. A bucket's folders hold one account and region each, so path
 * order would read each series whole before the next: in time order the records arrive as
 * CloudTrail delivered them, and the index appends where it would otherwise insert in the middle
 * of every earlier hour. NUL-terminated paths; a total order (qsort's contract). */
int key_replay_cmp(const char *a, const char *b);

/* What key_classify reads, for messages. */
#define KEY_READ_NAMES ".json, .json.gz, .gz, .jsonl, .ndjson, .log or no extension"

#endif
