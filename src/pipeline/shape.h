/* What one element of a file is, and the CloudTrail records it holds. The splitter (rsplit.h)
 * finds the elements of the containers; this module looks inside one:
 *   a CloudTrail record           {"eventVersion":...} (or with eventID / eventTime): the record
 *   an EventBridge event          {"detail-type":...,"detail":{record},...}: its detail
 *   a lookup-events entry         {"EventId":...,"CloudTrailEvent":"<record as a JSON string>"}
 *   a CloudWatch Logs payload     {"messageType":"DATA_MESSAGE","logEvents":[{"message":"<record>"},...],...}:
 *                                 every message; a CONTROL_MESSAGE holds none
 *   a CloudTrail digest           {"digestStartTime":...}: holds none
 *   a JSON string                 whose text is a record or an EventBridge event
 * by their keys, in any order. Pure: no loop, no allocation, linear in the element's size
 * whatever its nesting. */
#ifndef CTINDEX_SHAPE_H
#define CTINDEX_SHAPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum shape_kind {
    SHAPE_UNKNOWN = 0,  /* none of the above: why says what was found */
    SHAPE_RECORD,       /* a CloudTrail record */
    SHAPE_EVENTBRIDGE,  /* an EventBridge event whose detail is a CloudTrail record */
    SHAPE_LOOKUP_EVENT, /* an element of lookup-events output */
    SHAPE_CWL_DATA,     /* a CloudWatch Logs DATA_MESSAGE */
    SHAPE_CWL_CONTROL,  /* a CloudWatch Logs CONTROL_MESSAGE: no records */
    SHAPE_DIGEST,       /* a CloudTrail digest: no records */
    SHAPE_NKINDS
} shape_kind;

/* Where shape_next is in an element; a plain value, so the caller can keep a copy to read the
 * same record again. */
typedef struct shape_cursor {
    shape_kind kind;
    int in_string;  /* the element is a JSON string: its text (decoded into the scratch) is the value */
    size_t next;    /* CWL_DATA: offset in the element of the next log event; else 0 before the record, 1 after */
    uint32_t index; /* CWL_DATA: log events read */
} shape_cursor;

/* Looks at a complete element v[0..n) (a JSON object or string, as rsplit delivers one).
 * vouched: an object of none of the kinds is taken as a record (an element of "Records", where
 * CloudTrail puts nothing else). scratch: cap >= n + 1 bytes, for the text of a string element.
 * Returns the kind and readies c for shape_next; for SHAPE_UNKNOWN, why (if given) says what was
 * found. */
shape_kind shape_look(shape_cursor *c, const char *v, size_t n, int vouched, char *scratch, size_t cap, char *why,
                      size_t why_cap);

enum { SHAPE_END = 0, SHAPE_REC = 1, SHAPE_BAD = -1 };

typedef struct shape_part {
    const char *data; /* SHAPE_REC: the record (in v or in scratch); SHAPE_BAD: the part's own bytes */
    size_t len;
    uint64_t offset; /* SHAPE_BAD: where the part starts in v */
    char why[400];   /* SHAPE_BAD: what the part holds instead of a record */
} shape_part;

/* The next record of the element v (the bytes shape_look saw): SHAPE_REC, SHAPE_END when none is
 * left, or SHAPE_BAD for a part that holds no record (a log event whose message is not one): the
 * caller dead-letters it. c advances past the part either way. The record may live in scratch
 * until the next call. */
int shape_next(shape_cursor *c, const char *v, size_t n, char *scratch, size_t cap, shape_part *out);

/* 1 when v is plainly a CloudTrail record, it begins with {"eventVersion": the fast path, which
 * needs no shape_look. */
static inline int shape_is_plain_record(const char *v, size_t n) {
    return n > 16 && memcmp(v, "{\"eventVersion\"", 15) == 0;
}

/* "CloudTrail record", "EventBridge event", ... for messages. */
const char *shape_kind_name(shape_kind k);

/* The shapes accepted, in one sentence, for messages that refuse a file. */
extern const char shape_accepted[];

#endif
