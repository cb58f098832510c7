/* Element shapes. See shape.h.
 *
 * A small forward-only walker over one complete JSON value: the keys of an object are read one
 * by one and every value is skipped with a bracket counter (no recursion, no token array), so
 * the cost is linear in the element's size and no nesting can make it more. Values are not
 * checked beyond what finding their end needs: the document builder parses every record fully. */
#include "pipeline/shape.h"

#include <stdio.h>

#include "base/json.h"

const char shape_accepted[] = "accepted: CloudTrail's {\"Records\":[...]} files, and JSON arrays, JSON lines or "
                              "back-to-back JSON of records, EventBridge events, CloudWatch Logs payloads or "
                              "lookup-events output, plain or gzipped";

const char *shape_kind_name(shape_kind k) {
    switch (k) {
    case SHAPE_RECORD: return "CloudTrail record";
    case SHAPE_EVENTBRIDGE: return "EventBridge event";
    case SHAPE_LOOKUP_EVENT: return "lookup-events entry";
    case SHAPE_CWL_DATA: return "CloudWatch Logs payload";
    case SHAPE_CWL_CONTROL: return "CloudWatch Logs control message";
    case SHAPE_DIGEST: return "CloudTrail digest";
    default: return "unknown value";
    }
}

/* ---------------------------------------------------------------- walking JSON */

typedef struct span {
    const char *p;
    size_t n;
} span;

static int is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && is_ws(*p)) p++;
    return p;
}

/* Just past the string that starts at p (on its quote), or NULL when it does not end. */
static const char *skip_string(const char *p, const char *end) {
    for (p++; p < end; p++) {
        if (*p == '\\') p++;
        else if (*p == '"') return p + 1;
    }
    return NULL;
}

static int is_scalar_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '+' ||
           c == '.';
}

/* Just past the value that starts at p, or NULL when none starts there or it does not end. */
static const char *skip_value(const char *p, const char *end) {
    if (p >= end) return NULL;
    if (*p == '"') return skip_string(p, end);
    if (*p != '{' && *p != '[') {
        const char *q = p;
        while (q < end && is_scalar_char(*q)) q++;
        return q > p ? q : NULL;
    }
    size_t depth = 0;
    for (; p < end; p++) {
        char c = *p;
        if (c == '"') {
            if (!(p = skip_string(p, end))) return NULL;
            p--;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) return p + 1;
        }
    }
    return NULL;
}

/* The members of an object, one by one. */
typedef struct members {
    const char *p, *end;
    int first;
} members;

/* p on the '{'. */
static void members_begin(members *m, const char *p, const char *end) {
    m->p = p + 1;
    m->end = end;
    m->first = 1;
}

/* 1 with the next key (raw, without its quotes) and value, 0 at the '}', -1 when malformed. */
static int members_next(members *m, span *key, span *val) {
    const char *p = skip_ws(m->p, m->end);
    if (p < m->end && *p == '}') {
        m->p = p + 1;
        return 0;
    }
    if (!m->first) {
        if (p >= m->end || *p != ',') return -1;
        p = skip_ws(p + 1, m->end);
    }
    m->first = 0;
    const char *k = p;
    if (p >= m->end || *p != '"' || !(p = skip_string(p, m->end))) return -1;
    key->p = k + 1;
    key->n = (size_t)(p - k - 2);
    p = skip_ws(p, m->end);
    if (p >= m->end || *p != ':') return -1;
    p = skip_ws(p + 1, m->end);
    const char *v = p;
    if (!(p = skip_value(p, m->end))) return -1;
    val->p = v;
    val->n = (size_t)(p - v);
    m->p = p;
    return 1;
}

static int span_is(span s, const char *lit) {
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* The text of string s (with its quotes) decoded into out; its length, or -1. Runs without
 * escapes are copied whole: CloudTrail records in strings are mostly such runs. */
static long decode_string(span s, char *out, size_t cap) {
    if (s.n < 2 || s.p[0] != '"') return -1;
    const char *p = s.p + 1, *end = s.p + s.n - 1;
    size_t o = 0;
    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        size_t run = (size_t)((bs ? bs : end) - p);
        if (o + run + 1 > cap) return -1;
        memcpy(out + o, p, run);
        o += run;
        p += run;
        if (!bs) break;
        /* One escape: \X, \uXXXX, or a surrogate pair \uXXXX\uXXXX, decoded by the base decoder. */
        size_t n = 2;
        if (end - p >= 6 && p[1] == 'u') {
            n = 6;
            if (end - p >= 12 && (p[2] == 'd' || p[2] == 'D') && p[3] && strchr("89abAB", p[3]) && p[6] == '\\' &&
                p[7] == 'u')
                n = 12;
        }
        if ((size_t)(end - p) < n) return -1;
        long w = json_str_decode(p, n, out + o, cap - o);
        if (w < 0) return -1;
        o += (size_t)w;
        p += n;
    }
    if (o + 1 > cap) return -1;
    out[o] = '\0';
    return (long)o;
}

/* ---------------------------------------------------------------- what an object is */

/* The members of an object that tell its kind. */
typedef struct traits {
    int record;       /* eventVersion, eventID or eventTime */
    int digest;       /* digestStartTime or digestPublicKeyFingerprint */
    span detail_type; /* string */
    span detail;      /* object */
    span ct_event;    /* CloudTrailEvent: string */
    span msg_type;    /* messageType: string */
    span log_events;  /* logEvents: array */
    span message;     /* message: string (of a log event) */
    char keys[120];   /* the first keys, for messages */
    size_t keys_len;
    int nkeys;
} traits;

static void note_key(traits *t, span k) {
    t->nkeys++;
    if (t->nkeys > 6) return;
    int w = snprintf(t->keys + t->keys_len, sizeof t->keys - t->keys_len, "%s\"%.*s\"", t->nkeys > 1 ? ", " : "",
                     (int)(k.n < 30 ? k.n : 30), k.p);
    if (w > 0 && (size_t)w < sizeof t->keys - t->keys_len) t->keys_len += (size_t)w;
}

/* Reads the members of the object at p..end (p on '{'); 0, or -1 when it is malformed. *after
 * gets the end of the object. */
static int read_traits(const char *p, const char *end, traits *t, const char **after) {
    memset(t, 0, sizeof *t);
    members m;
    members_begin(&m, p, end);
    span k, v;
    int r;
    while ((r = members_next(&m, &k, &v)) > 0) {
        note_key(t, k);
        char first = v.p[0];
        if (span_is(k, "eventVersion") || span_is(k, "eventID") || span_is(k, "eventTime")) t->record = 1;
        else if (span_is(k, "digestStartTime") || span_is(k, "digestPublicKeyFingerprint")) t->digest = 1;
        else if (first == '"' && span_is(k, "detail-type")) t->detail_type = v;
        else if (first == '{' && span_is(k, "detail")) t->detail = v;
        else if (first == '"' && span_is(k, "CloudTrailEvent")) t->ct_event = v;
        else if (first == '"' && span_is(k, "messageType")) t->msg_type = v;
        else if (first == '[' && span_is(k, "logEvents")) t->log_events = v;
        else if (first == '"' && span_is(k, "message")) t->message = v;
    }
    *after = m.p;
    return r < 0 ? -1 : 0;
}

/* "an object with keys "a", "b", ...", "a number", ..., for messages. */
static void describe(const char *p, const char *end, const traits *t, char *out, size_t cap) {
    p = skip_ws(p, end);
    if (p >= end) {
        snprintf(out, cap, "nothing");
    } else if (*p == '{' && t) {
        snprintf(out, cap, "an object with keys %s%s", t->nkeys ? t->keys : "(none)", t->nkeys > 6 ? ", ..." : "");
    } else {
        const char *what = *p == '['                                 ? "an array"
                           : *p == '"'                               ? "a string"
                           : (*p == '-' || (*p >= '0' && *p <= '9')) ? "a number"
                                                                     : "text that is not a JSON object";
        char head[28];
        size_t n = 0;
        for (; p < end && n < 24; p++) head[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '.';
        head[n] = '\0';
        snprintf(out, cap, "%s ('%s')", what, head);
    }
}

/* A whole JSON text that is one object and nothing else: its traits and its span. */
static int one_object(const char *p, const char *end, traits *t, span *obj) {
    p = skip_ws(p, end);
    const char *after;
    if (p >= end || *p != '{' || read_traits(p, end, t, &after) != 0) return -1;
    if (skip_ws(after, end) != end) return -1;
    obj->p = p;
    obj->n = (size_t)(after - p);
    return 0;
}

/* The record that a JSON text (the content of a string) holds: the text itself when it is a
 * record, or the detail of an EventBridge event. 0, or -1 with why. */
static int record_in_text(const char *p, size_t n, span *rec, char *why, size_t cap) {
    traits t, dt;
    span obj;
    const char *end = p + n, *after;
    if (one_object(p, end, &t, &obj) != 0) {
        char found[120];
        describe(p, end, NULL, found, sizeof found);
        snprintf(why, cap, "%s", found);
        if (skip_ws(p, end) < end && *skip_ws(p, end) == '{') snprintf(why, cap, "not one complete JSON object");
        return -1;
    }
    if (t.record) {
        *rec = obj;
        return 0;
    }
    if (t.detail.n && read_traits(t.detail.p, t.detail.p + t.detail.n, &dt, &after) == 0 && dt.record) {
        *rec = t.detail;
        return 0;
    }
    char found[160];
    describe(obj.p, end, &t, found, sizeof found);
    snprintf(why, cap, "%s, not a CloudTrail record", found);
    return -1;
}

/* The log events of a CloudWatch Logs payload: offset of the first one in v. */
static size_t first_log_event(const char *v, span log_events) {
    return (size_t)(skip_ws(log_events.p + 1, log_events.p + log_events.n) - v);
}

shape_kind shape_look(shape_cursor *c, const char *v, size_t n, int vouched, char *scratch, size_t cap, char *why,
                      size_t why_cap) {
    memset(c, 0, sizeof *c);
    char found[160];
    const char *end = v + n, *after;
    const char *p = skip_ws(v, end);
    if (p < end && *p == '"') {
        const char *str_end = skip_value(p, end);
        span s = {p, str_end ? (size_t)(str_end - p) : 0};
        long len = s.n ? decode_string(s, scratch, cap) : -1;
        span rec;
        char inner[200];
        if (len < 0) {
            if (why) snprintf(why, why_cap, "a string that is not valid JSON text");
            return SHAPE_UNKNOWN;
        }
        if (record_in_text(scratch, (size_t)len, &rec, inner, sizeof inner) != 0) {
            if (why) snprintf(why, why_cap, "a string holding %s", inner);
            return SHAPE_UNKNOWN;
        }
        c->in_string = 1;
        c->kind = rec.p == skip_ws(scratch, scratch + len) ? SHAPE_RECORD : SHAPE_EVENTBRIDGE;
        return c->kind;
    }
    traits t;
    if (p >= end || *p != '{' || read_traits(p, end, &t, &after) != 0 || skip_ws(after, end) != end) {
        describe(p, end, NULL, found, sizeof found);
        if (why) snprintf(why, why_cap, "%s", p < end && *p == '{' ? "an object that is not valid JSON" : found);
        return SHAPE_UNKNOWN;
    }
    if (t.record) return c->kind = SHAPE_RECORD;
    if (t.detail_type.n && t.detail.n) {
        traits dt;
        if (read_traits(t.detail.p, t.detail.p + t.detail.n, &dt, &after) == 0 && dt.record)
            return c->kind = SHAPE_EVENTBRIDGE;
        if (why)
            snprintf(why, why_cap,
                     "an EventBridge event of detail-type %.*s, not from CloudTrail (its detail is no "
                     "CloudTrail record)",
                     (int)(t.detail_type.n < 80 ? t.detail_type.n : 80), t.detail_type.p);
        return SHAPE_UNKNOWN;
    }
    if (t.ct_event.n) return c->kind = SHAPE_LOOKUP_EVENT;
    if (t.log_events.n && t.msg_type.n) {
        if (span_is(t.msg_type, "\"CONTROL_MESSAGE\"")) return c->kind = SHAPE_CWL_CONTROL;
        if (span_is(t.msg_type, "\"DATA_MESSAGE\"")) {
            c->next = first_log_event(v, t.log_events);
            return c->kind = SHAPE_CWL_DATA;
        }
        if (why)
            snprintf(why, why_cap,
                     "a CloudWatch Logs payload of messageType %.*s (expected DATA_MESSAGE or "
                     "CONTROL_MESSAGE)",
                     (int)(t.msg_type.n < 40 ? t.msg_type.n : 40), t.msg_type.p);
        return SHAPE_UNKNOWN;
    }
    if (t.digest) return c->kind = SHAPE_DIGEST;
    if (vouched) return c->kind = SHAPE_RECORD;
    describe(p, end, &t, found, sizeof found);
    if (why)
        snprintf(why, why_cap,
                 "%s: no eventVersion, detail, CloudTrailEvent or logEvents, so not a CloudTrail record, "
                 "EventBridge event, lookup-events entry or CloudWatch Logs payload",
                 found);
    return SHAPE_UNKNOWN;
}

/* ---------------------------------------------------------------- the records */

static int bad_part(shape_part *out, const char *v, const char *p, size_t n) {
    out->data = p;
    out->len = n;
    out->offset = (uint64_t)(p - v);
    return SHAPE_BAD;
}

/* The next log event of a DATA_MESSAGE: its message's record. */
static int next_log_event(shape_cursor *c, const char *v, size_t n, char *scratch, size_t cap, shape_part *out) {
    const char *end = v + n, *p = v + c->next;
    if (p >= end || *p == ']') return SHAPE_END;
    const char *ev = p, *after = skip_value(p, end);
    if (!after) { /* not a value: the rest of the array is one bad part */
        c->next = n;
        snprintf(out->why, sizeof out->why, "the logEvents of a CloudWatch Logs payload are not valid JSON");
        return bad_part(out, v, ev, (size_t)(end - ev));
    }
    p = skip_ws(after, end);
    if (p < end && *p == ',') p = skip_ws(p + 1, end);
    c->next = (size_t)(p - v);
    uint32_t index = c->index++;
    traits t;
    const char *obj_end;
    span rec;
    char inner[160];
    if (*ev != '{' || read_traits(ev, after, &t, &obj_end) != 0 || !t.message.n) {
        snprintf(out->why, sizeof out->why, "log event %u of a CloudWatch Logs payload has no message string",
                 (unsigned)index);
        return bad_part(out, v, ev, (size_t)(after - ev));
    }
    long len = decode_string(t.message, scratch, cap);
    if (len < 0 || record_in_text(scratch, (size_t)len, &rec, inner, sizeof inner) != 0) {
        snprintf(out->why, sizeof out->why, "the message of log event %u of a CloudWatch Logs payload is %s",
                 (unsigned)index, len < 0 ? "not a valid JSON string" : inner);
        return bad_part(out, v, ev, (size_t)(after - ev));
    }
    out->data = rec.p;
    out->len = rec.n;
    return SHAPE_REC;
}

/* The record of an element that holds one (or, from a string, of its decoded text). */
static int the_record(shape_cursor *c, const char *v, size_t n, char *scratch, size_t cap, shape_part *out) {
    const char *end = v + n, *p = skip_ws(v, end), *after;
    c->next = 1;
    span rec;
    char inner[160];
    if (c->in_string || c->kind == SHAPE_LOOKUP_EVENT) {
        span s = {p, (size_t)(end - p)};
        traits t;
        if (c->kind == SHAPE_LOOKUP_EVENT) {
            if (read_traits(p, end, &t, &after) != 0) return bad_part(out, v, v, n);
            s = t.ct_event;
        } else {
            s.n = (size_t)(skip_value(p, end) - p);
        }
        long len = decode_string(s, scratch, cap);
        if (len < 0 || record_in_text(scratch, (size_t)len, &rec, inner, sizeof inner) != 0) {
            snprintf(out->why, sizeof out->why, "%s is %s",
                     c->kind == SHAPE_LOOKUP_EVENT ? "the CloudTrailEvent of a lookup-events entry" : "a string",
                     len < 0 ? "not a valid JSON string" : inner);
            return bad_part(out, v, v, n);
        }
    } else if (c->kind == SHAPE_EVENTBRIDGE) {
        traits t;
        if (read_traits(p, end, &t, &after) != 0) return bad_part(out, v, v, n);
        rec = t.detail;
    } else { /* the element itself, without the whitespace around it */
        rec.p = p;
        rec.n = (size_t)(skip_value(p, end) - p);
    }
    out->data = rec.p;
    out->len = rec.n;
    return SHAPE_REC;
}

int shape_next(shape_cursor *c, const char *v, size_t n, char *scratch, size_t cap, shape_part *out) {
    out->why[0] = '\0';
    switch (c->kind) {
    case SHAPE_RECORD:
    case SHAPE_EVENTBRIDGE:
    case SHAPE_LOOKUP_EVENT: return c->next ? SHAPE_END : the_record(c, v, n, scratch, cap, out);
    case SHAPE_CWL_DATA: return next_log_event(c, v, n, scratch, cap, out);
    default: return SHAPE_END;
    }
}
