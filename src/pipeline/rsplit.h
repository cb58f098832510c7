/* Streaming splitter for CloudTrail files: {"Records":[ {...}, {...} ]}.
 * It owns one buffer of max_record + window bytes. The producer (gunzip) writes straight into
 * rsplit_space(); rsplit_commit() scans the new bytes and calls back once per complete record
 * with a pointer into that buffer (no copy). Only the unfinished tail is moved to the front,
 * so memory is bounded by the largest record, not by the file. */
#ifndef CTINDEX_RSPLIT_H
#define CTINDEX_RSPLIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct rsplit rsplit;

/* Called for each element of the top-level "Records" array that is a JSON object. The bytes are
 * valid until the callback returns. Return 0 to continue, non-zero to stop (rsplit_commit then
 * returns RSPLIT_STOPPED; the record is NOT consumed and is delivered again on the next commit
 * call with n == 0 — this is how the consumer applies backpressure). */
typedef int (*rsplit_record_fn)(void *ud, const char *rec, size_t len);

enum {
    RSPLIT_OK = 0,
    RSPLIT_STOPPED = 1, /* callback asked to stop; call rsplit_commit(s, 0, ...) to resume */
    RSPLIT_ERR = -1,    /* malformed file: see rsplit_error; records already delivered stay valid */
};

/* An element of Records that is not delivered: a record larger than max_record, or a value that
 * is not an object. Its first bytes come along as far as they were still buffered when it was
 * recognised (the whole start of an oversized record; what the current write held of a
 * non-object), so the consumer can report it instead of dropping it silently. */
#define RSPLIT_HEAD 512
typedef struct rsplit_skip {
    const char *reason; /* e.g. "record of N bytes is larger than the record limit (M bytes)" */
    uint64_t offset;    /* input byte of its first byte */
    uint64_t size;      /* its length in bytes */
    const char *head;   /* its first head_len bytes (head_len <= RSPLIT_HEAD and <= size) */
    size_t head_len;
} rsplit_skip;
/* Called during rsplit_commit, once per skipped element; must not call back into the splitter. */
typedef void (*rsplit_skip_fn)(void *ud, const rsplit_skip *k);

typedef struct rsplit_stats {
    uint64_t records;        /* delivered to the callback */
    uint64_t oversized;      /* records larger than max_record: skipped, counted, reported */
    uint64_t non_objects;    /* elements of Records that are not objects: skipped, counted */
    uint64_t largest_record; /* bytes */
    int saw_records;         /* a top-level "Records" array was found */
} rsplit_stats;

rsplit *rsplit_new(size_t max_record);
void rsplit_free(rsplit *s);
void rsplit_reset(rsplit *s);
/* Who hears about skipped elements (kept across rsplit_reset). Without one they are only logged. */
void rsplit_on_skip(rsplit *s, rsplit_skip_fn fn, void *ud);

/* Free space to write the next bytes into; *avail is at least 64 KiB unless in error (and at
 * most 192 KiB). After RSPLIT_STOPPED, resume with rsplit_commit(s, 0, ...) before writing more. */
char *rsplit_space(rsplit *s, size_t *avail);
/* n bytes were written at rsplit_space(); scan them and deliver complete records. */
int rsplit_commit(rsplit *s, size_t n, rsplit_record_fn cb, void *ud);
/* End of input: RSPLIT_ERR unless the top-level value is complete. A file with no "Records"
 * key (e.g. a digest file) is not an error: stats.saw_records tells. */
int rsplit_finish(rsplit *s);
const rsplit_stats *rsplit_get_stats(const rsplit *s);
const char *rsplit_error(const rsplit *s);

#endif
