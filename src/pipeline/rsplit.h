/* Streaming splitter for the containers CloudTrail records come in. It finds the elements (one
 * JSON value each, normally one record) and hands each one over whole; what an element holds
 * (a record, an EventBridge event, a CloudWatch Logs payload, ...) is pipeline/shape.h's job.
 *
 * A file is a sequence of top-level values (one, or many: JSON lines, or values back to back):
 *   {"Records":[E,...]}    CloudTrail's S3 delivery file: every element of Records is an element
 *   {"Events":[E,...],...} `aws cloudtrail lookup-events` output: every element of Events
 *   [E,...]                a top-level array: every element
 *   {...} or "..."         any other top-level object or string is an element itself
 * A top-level object is a wrapper when it has a "Records" or "Events" key whose value is an
 * array (whatever the key order); until that is known it is buffered as a possible element.
 *
 * It owns one buffer of max_record + window bytes. The producer (gunzip) writes straight into
 * rsplit_space(); rsplit_commit() scans the new bytes and calls back once per complete element
 * with a pointer into that buffer (no copy). Only the unfinished tail is moved to the front, so
 * memory is bounded by the largest element, not by the file.
 *
 * Nothing is dropped silently: an element that cannot be delivered (larger than max_record, or
 * an element of an array that is neither an object nor a string) and a stretch of a sequence
 * that is not a JSON value (a broken line) are reported through rsplit_on_skip, and the values
 * around them are delivered as usual. Between top-level values the splitter recovers at lines:
 * a top-level value that a line ends inside of a string, or that the next line starts a new
 * object ('{' in the first column) before it ended, is reported as broken, and scanning goes on
 * at that line. Inside a wrapper or an array (one document) an error is fatal: RSPLIT_ERR. */
#ifndef CTINDEX_RSPLIT_H
#define CTINDEX_RSPLIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct rsplit rsplit;

/* What the record callback answers. */
enum {
    RSPLIT_TAKEN = 0, /* consumed: go on */
    RSPLIT_WAIT = 1,  /* not consumed: rsplit_commit returns RSPLIT_STOPPED and delivers the same
                       * element again on the next commit (with n == 0 to resume): backpressure */
    RSPLIT_ABORT = 2, /* stop reading this file: rsplit_commit returns RSPLIT_ERR */
};

/* Called once per element. The bytes (a JSON object "{...}" or string "\"...\"") are valid until
 * the callback returns; rsplit_container() says where the element comes from. */
typedef int (*rsplit_record_fn)(void *ud, const char *rec, size_t len);

enum {
    RSPLIT_OK = 0,
    RSPLIT_STOPPED = 1, /* the callback answered RSPLIT_WAIT; call rsplit_commit(s, 0, ...) to resume */
    RSPLIT_ERR = -1,    /* see rsplit_error; elements already delivered stay valid */
};

/* Where an element comes from. */
typedef enum rsplit_container {
    RSPLIT_TOP = 0,     /* a top-level value of the file (JSON lines, values back to back, a lone value) */
    RSPLIT_RECORDS = 1, /* the "Records" array of a wrapper object */
    RSPLIT_EVENTS = 2,  /* the "Events" array of a wrapper object */
    RSPLIT_ARRAY = 3,   /* a top-level array */
} rsplit_container;

/* Something not delivered: an element larger than max_record, an element of an array that is
 * neither an object nor a string, or a broken stretch between top-level values. Its first bytes
 * come along as far as they were still buffered when it was recognised, so the consumer can
 * report it instead of dropping it silently. */
#define RSPLIT_HEAD 512
typedef struct rsplit_skip {
    const char *reason; /* what was found, e.g. "record of N bytes is larger than the record limit (M bytes)" */
    uint64_t offset;    /* input byte of its first byte */
    uint64_t size;      /* its length in bytes */
    const char *head;   /* its first head_len bytes (head_len <= RSPLIT_HEAD and <= size) */
    size_t head_len;
} rsplit_skip;
/* Called during rsplit_commit or rsplit_finish, once per skipped element; must not call back
 * into the splitter. */
typedef void (*rsplit_skip_fn)(void *ud, const rsplit_skip *k);

/* Which containers a file had (rsplit_stats.containers). */
enum {
    RSPLIT_SAW_RECORDS = 1 << RSPLIT_RECORDS,
    RSPLIT_SAW_EVENTS = 1 << RSPLIT_EVENTS,
    RSPLIT_SAW_ARRAY = 1 << RSPLIT_ARRAY
};

typedef struct rsplit_stats {
    uint64_t elements;    /* delivered to the callback */
    uint64_t oversized;   /* elements larger than max_record: skipped, reported */
    uint64_t non_objects; /* elements of an array that are neither objects nor strings: skipped, reported */
    uint64_t broken;      /* broken stretches between top-level values: skipped, reported */
    uint64_t values;      /* top-level values begun (0: the file held no JSON at all) */
    uint64_t largest;     /* bytes of the largest element delivered */
    unsigned containers;  /* RSPLIT_SAW_* */
} rsplit_stats;

rsplit *rsplit_new(size_t max_record);
void rsplit_free(rsplit *s);
void rsplit_reset(rsplit *s);
/* Who hears about skipped elements (kept across rsplit_reset). Without one they are only logged. */
void rsplit_on_skip(rsplit *s, rsplit_skip_fn fn, void *ud);

/* Free space to write the next bytes into; *avail is at least 64 KiB unless in error (and at
 * most 192 KiB). After RSPLIT_STOPPED, resume with rsplit_commit(s, 0, ...) before writing more. */
char *rsplit_space(rsplit *s, size_t *avail);
/* n bytes were written at rsplit_space(); scan them and deliver complete elements. */
int rsplit_commit(rsplit *s, size_t n, rsplit_record_fn cb, void *ud);
/* End of input: RSPLIT_ERR when a wrapper or array is incomplete (a truncated file); a top-level
 * value left open is reported as a broken stretch instead. An empty file is not an error:
 * stats.values is 0. */
int rsplit_finish(rsplit *s);
/* During the record callback: where the element being delivered comes from, and the input byte
 * it starts at. */
rsplit_container rsplit_container_of(const rsplit *s);
uint64_t rsplit_element_offset(const rsplit *s);
const rsplit_stats *rsplit_get_stats(const rsplit *s);
const char *rsplit_error(const rsplit *s);
/* After RSPLIT_ERR: 1 when the file is not one of the accepted shapes at all (its first value is
 * not an object, an array or a string, or an array's first element is neither an object nor a
 * string), rather than a damaged one. */
int rsplit_refused(const rsplit *s);

#endif
