/* Streaming element splitter. See rsplit.h for the contract and the shapes.
 *
 * Layout of the one buffer: [0, len) holds bytes written by the producer; [0, pos) is scanned.
 * Offsets inside the buffer change when the tail is compacted to the front, so every position
 * that must survive a commit is kept as an absolute input offset (base = offset of buf[0]).
 *
 * The structure around elements (top-level values, the keys of a top-level object, the commas of
 * an array) is walked by a small state machine, one function per state, a few bytes per element.
 * Elements and skipped values go through nest_scan() (rsplit_nest.h), the hot loop, which only
 * looks at `"{}[]` outside strings and only at `"` and `\` inside them. */
#include "pipeline/rsplit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "pipeline/rsplit_nest.h"

#define RSPLIT_WINDOW (256u * 1024u)
#define RSPLIT_MIN_SPACE (64u * 1024u)
/* At most this much is offered per write: a stopped element (<= max_record) plus the unscanned
 * rest of one write must still leave RSPLIT_MIN_SPACE free after compaction. */
#define RSPLIT_MAX_WRITE (RSPLIT_WINDOW - RSPLIT_MIN_SPACE)
/* A tail this small is moved to the front once a window was written (rsplit_space). */
#define RSPLIT_EARLY_MOVE (16u * 1024u)
/* Keys of a top-level object are compared up to this length ("eventVersion" is the longest). */
#define KEY_MAX 15

enum state {
    ST_TOP,         /* between top-level values */
    ST_OBJ_OPEN,    /* top-level object, after '{': a key or '}' */
    ST_OBJ_KEY,     /* after ',': a key */
    ST_KEY,         /* inside a key string of the top-level object */
    ST_COLON,       /* after a key */
    ST_VALUE,       /* after ':' */
    ST_OBJ_SEP,     /* after a value of the top-level object: ',' or '}' */
    ST_ARR_OPEN,    /* a container array, after '[': an element or ']' */
    ST_ARR_ELEM,    /* after ',' in a container array: an element */
    ST_ARR_SEP,     /* after an element: ',' or ']' */
    ST_ELEMENT,     /* inside an object element */
    ST_ELEM_STRING, /* inside a string element */
    ST_SKIP_NESTED, /* inside an object/array being skipped */
    ST_SKIP_STRING, /* inside a string being skipped */
    ST_SKIP_SCALAR, /* inside a number or literal being skipped */
    ST_RESYNC,      /* a broken stretch between top-level values: up to the next line that starts a value */
    ST_ERROR,
};

struct rsplit {
    char *buf;
    size_t cap;
    size_t max_record;
    size_t len;    /* bytes written into buf */
    size_t pos;    /* bytes of buf scanned */
    uint64_t base; /* input offset of buf[0] */
    enum state state;
    enum state after_skip; /* where a skipped value returns to */
    rsplit_container container;
    rsplit_nest nest; /* the nested-value scanner, saved between commits; its esc serves every string */
    /* The value being buffered: an element, or a top-level object that may still be one. */
    uint64_t val_start; /* input offset of its first byte */
    uint64_t val_end;   /* input offset just past it (while stopped) */
    int buffering;      /* val_start.. is being kept */
    int candidate;      /* a top-level object not (yet) known to be a wrapper */
    int discard;        /* it grew past max_record: no longer buffered, only its head */
    int stopped;        /* the callback refused val_start..val_end */
    /* Key of the top-level object being read. */
    char key[KEY_MAX];
    int key_len; /* -1: longer than KEY_MAX or escaped, so none of the keys looked for */
    int first_key;
    /* Line checks between top-level values (see rsplit.h). */
    int after_newline; /* the last byte scanned ended a line */
    unsigned bom;      /* bytes of a byte order mark read at the start */
    /* A value being skipped: an element of an array, or a broken stretch. */
    uint64_t skip_start;
    int skipping_elem;
    char head[RSPLIT_HEAD]; /* its first bytes, copied while still buffered */
    size_t head_len;
    uint64_t head_end; /* a broken stretch: input offset just past the bytes in head */
    char resync_why[160];
    rsplit_skip_fn skip_fn;
    void *skip_ud;
    rsplit_stats stats;
    int refused;
    char err[200];
};

/* ---------------------------------------------------------------- setup */

static int is_ws(unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
static int is_scalar_char(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '+' ||
           c == '.';
}

rsplit *rsplit_new(size_t max_record) {
    if (max_record > SIZE_MAX - RSPLIT_WINDOW) return NULL;
    rsplit *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cap = max_record + RSPLIT_WINDOW;
    s->max_record = max_record;
    s->buf = malloc(s->cap);
    if (!s->buf) {
        free(s);
        return NULL;
    }
    rsplit_reset(s);
    return s;
}

void rsplit_free(rsplit *s) {
    if (!s) return;
    free(s->buf);
    free(s);
}

void rsplit_reset(rsplit *s) {
    s->len = s->pos = 0;
    s->base = 0;
    s->state = ST_TOP;
    s->after_skip = ST_TOP;
    s->container = RSPLIT_TOP;
    s->nest.depth = 0;
    s->nest.in_str = s->nest.esc = 0;
    s->val_start = s->val_end = 0;
    s->buffering = s->candidate = s->discard = s->stopped = 0;
    s->key_len = -1;
    s->first_key = 0;
    s->after_newline = 0;
    s->bom = 0;
    s->skip_start = 0;
    s->skipping_elem = 0;
    s->head_len = 0;
    s->resync_why[0] = '\0';
    memset(&s->stats, 0, sizeof s->stats);
    s->refused = 0;
    s->err[0] = '\0';
}

void rsplit_on_skip(rsplit *s, rsplit_skip_fn fn, void *ud) {
    s->skip_fn = fn;
    s->skip_ud = ud;
}

/* ---------------------------------------------------------------- reports and errors */

static void keep_head(rsplit *s, const char *p, size_t avail) {
    s->head_len = avail < RSPLIT_HEAD ? avail : RSPLIT_HEAD;
    memcpy(s->head, p, s->head_len);
}

static void report_skip(rsplit *s, const char *reason, uint64_t offset, uint64_t size, const char *head,
                        size_t head_len) {
    if (head_len > RSPLIT_HEAD) head_len = RSPLIT_HEAD;
    rsplit_skip k = {reason, offset, size, head, head_len < size ? head_len : (size_t)size};
    if (s->skip_fn) s->skip_fn(s->skip_ud, &k);
    else
        log_debug("rsplit: skipped %llu bytes at input byte %llu: %s", (unsigned long long)size,
                  (unsigned long long)offset, reason);
}

/* The start of the value being buffered, as far as it is still in the buffer. */
static const char *value_head(const rsplit *s, size_t *n) {
    if (s->discard) {
        *n = s->head_len;
        return s->head;
    }
    size_t off = (size_t)(s->val_start - s->base);
    *n = s->len - off;
    return s->buf + off;
}

static void report_oversized(rsplit *s, uint64_t size) {
    char why[160];
    const char *what = s->container == RSPLIT_RECORDS ? "record"
                       : s->container == RSPLIT_TOP   ? "top-level value"
                                                      : "element";
    snprintf(why, sizeof why, "%s of %llu bytes is larger than the record limit (%zu bytes)", what,
             (unsigned long long)size, s->max_record);
    s->stats.oversized++;
    size_t n;
    const char *head = value_head(s, &n);
    report_skip(s, why, s->val_start, size, head, n);
    s->discard = 0;
}

/* The array elements come from, for messages. */
static const char *container_name(rsplit_container c) {
    return c == RSPLIT_RECORDS ? "Records" : c == RSPLIT_EVENTS ? "Events" : "the top-level array";
}

static int fail_at(rsplit *s, uint64_t offset, const char *what) {
    snprintf(s->err, sizeof s->err, "rsplit: %s at input byte %llu", what, (unsigned long long)offset);
    s->state = ST_ERROR;
    return RSPLIT_ERR;
}

/* Whether p..end begins with the word, and then a delimiter or the end of the data. */
static int starts_word(const unsigned char *p, const unsigned char *end, const char *word) {
    size_t n = strlen(word), have = (size_t)(end - p);
    return have >= n && memcmp(p, word, n) == 0 && (have == n || !is_scalar_char(p[n]));
}

/* What a value that begins at p is, for messages. */
static const char *value_kind(const unsigned char *p, const unsigned char *end) {
    unsigned char c = *p;
    if (c == '[') return "an array";
    if (c == '{') return "an object";
    if (c == '"') return "a string";
    if (c == '-' || (c >= '0' && c <= '9')) return "a number";
    if (starts_word(p, end, "true") || starts_word(p, end, "false")) return "a boolean";
    if (starts_word(p, end, "null")) return "null";
    return "text that is not JSON";
}

/* The file is not one of the shapes at all: refused, not damaged. */
static int refuse(rsplit *s, uint64_t offset, const unsigned char *p, const unsigned char *end, const char *where,
                  const char *expected) {
    char found[40];
    size_t n = 0;
    for (const unsigned char *q = p; q < end && n < 24; q++) found[n++] = (*q >= 0x20 && *q < 0x7f) ? (char)*q : '.';
    found[n] = '\0';
    snprintf(s->err, sizeof s->err, "%s is %s ('%s'), not %s (input byte %llu)", where, value_kind(p, end), found,
             expected, (unsigned long long)offset);
    s->refused = 1;
    s->state = ST_ERROR;
    return RSPLIT_ERR;
}

/* ---------------------------------------------------------------- the state machine */

/* What one scan pass works on: the buffer, the bytes left, and whom to hand elements to. */
typedef struct scan_ctx {
    rsplit *s;
    const unsigned char *b; /* buf */
    const unsigned char *p; /* next byte */
    const unsigned char *end;
    rsplit_record_fn cb;
    void *ud;
    const unsigned char *next_nl; /* the first '\n' at or after the last search, or data_end; NULL: not searched */
    const unsigned char *data_end;
} scan_ctx;

RSPLIT_HOT static inline uint64_t at(const scan_ctx *c, const unsigned char *p) {
    return c->s->base + (uint64_t)(p - c->b);
}

/* Skips whitespace; 1 when a byte follows, 0 at the end of the data. */
RSPLIT_HOT static inline int skip_ws(scan_ctx *c) {
    while (c->p < c->end && is_ws(*c->p)) c->p++;
    return c->p < c->end;
}

/* A top-level value that is (or may be) an element is checked line by line. */
RSPLIT_HOT static inline int line_checked(const rsplit *s) { return s->container == RSPLIT_TOP && s->buffering; }

/* Start buffering the value whose first byte is at p. */
RSPLIT_HOT static inline void begin_value(rsplit *s, uint64_t start) {
    s->val_start = start;
    s->buffering = 1;
    s->discard = 0;
}

/* A broken stretch begins at the value being read (or at offset when none is): skip to the next
 * line that starts a value, and report the stretch then. */
static int begin_resync(scan_ctx *c, uint64_t offset, const char *why) {
    rsplit *s = c->s;
    if (s->buffering) {
        size_t n;
        const char *head = value_head(s, &n);
        s->skip_start = s->val_start;
        s->head_len = n < RSPLIT_HEAD ? n : RSPLIT_HEAD;
        memmove(s->head, head, s->head_len);
    } else {
        s->skip_start = offset;
        keep_head(s, (const char *)c->b + (size_t)(offset - s->base), s->len - (size_t)(offset - s->base));
    }
    s->head_end = s->skip_start + s->head_len;
    s->buffering = s->candidate = s->discard = 0;
    s->container = RSPLIT_TOP;
    snprintf(s->resync_why, sizeof s->resync_why, "%s", why);
    s->state = ST_RESYNC;
    return RSPLIT_OK;
}

/* The broken stretch ends just before offset end (a line that starts a value, or the input's end). */
static void end_resync(rsplit *s, uint64_t end) {
    s->stats.broken++;
    report_skip(s, s->resync_why, s->skip_start, end - s->skip_start, s->head, s->head_len);
    s->state = ST_TOP;
}

/* The value being read is broken where a new one starts (at c->p): report it, go on from there. */
static int break_value(scan_ctx *c, const char *why) {
    begin_resync(c, at(c, c->p), why);
    end_resync(c->s, at(c, c->p));
    return RSPLIT_OK;
}

/* A malformed byte: a broken stretch between top-level values, fatal inside a wrapper or array. */
static int malformed(scan_ctx *c, const unsigned char *p, const char *what) {
    if (line_checked(c->s)) {
        char why[160];
        snprintf(why, sizeof why,
                 "not valid JSON (%s at input byte %llu); skipped up to the next line that starts a JSON value", what,
                 (unsigned long long)at(c, p));
        c->p = p;
        return begin_resync(c, at(c, p), why);
    }
    return fail_at(c->s, at(c, p), what);
}

/* Hands the finished element to the callback; RSPLIT_OK, RSPLIT_STOPPED or RSPLIT_ERR. */
RSPLIT_HOT static inline int deliver(rsplit *s, rsplit_record_fn cb, void *ud) {
    size_t len = (size_t)(s->val_end - s->val_start);
    const char *rec = s->buf + (size_t)(s->val_start - s->base);
    int answer = cb(ud, rec, len);
    if (answer == RSPLIT_WAIT) {
        s->stopped = 1;
        return RSPLIT_STOPPED;
    }
    s->stopped = 0;
    if (answer != RSPLIT_TAKEN) return fail_at(s, s->val_start, "stopped by the consumer");
    s->stats.elements++;
    if (len > s->stats.largest) s->stats.largest = len;
    return RSPLIT_OK;
}

/* An element (or a top-level object that was one) ended just before p. */
RSPLIT_HOT static inline int finish_element(scan_ctx *c, const unsigned char *p) {
    rsplit *s = c->s;
    s->val_end = at(c, p);
    s->buffering = s->candidate = 0;
    s->state = s->container == RSPLIT_TOP ? ST_TOP : ST_ARR_SEP;
    uint64_t size = s->val_end - s->val_start;
    if (s->discard || size > s->max_record) {
        report_oversized(s, size);
        return RSPLIT_OK;
    }
    return deliver(s, c->cb, c->ud);
}

/* A skipped value ended just before offset end: back to where it came from. */
static void end_skip(rsplit *s, uint64_t end) {
    s->state = s->after_skip;
    if (!s->skipping_elem) return;
    s->skipping_elem = 0;
    char why[160];
    snprintf(why, sizeof why, "element of %s is %s, not a record", container_name(s->container),
             value_kind((const unsigned char *)s->head, (const unsigned char *)s->head + s->head_len));
    report_skip(s, why, s->skip_start, end - s->skip_start, s->head, s->head_len);
}

/* Start skipping the value whose first byte is at c->p; returns 0, or -1 when none starts there. */
static int start_skip(scan_ctx *c, enum state after) {
    rsplit *s = c->s;
    unsigned char ch = *c->p;
    s->after_skip = after;
    if (ch == '"') {
        s->state = ST_SKIP_STRING;
        s->nest.esc = 0;
        c->p++;
    } else if (ch == '{' || ch == '[') {
        nest_open(&s->nest, ch);
        s->state = ST_SKIP_NESTED;
        c->p++;
    } else if (is_scalar_char(ch)) {
        s->state = ST_SKIP_SCALAR;
    } else {
        return -1;
    }
    return 0;
}

static int none_seen(const rsplit *s) {
    return s->stats.elements + s->stats.oversized + s->stats.non_objects + s->stats.broken == 0;
}

/* Between top-level values: an object (a wrapper or an element), an array, or a string element. */
static int st_top(scan_ctx *c) {
    rsplit *s = c->s;
    if (!skip_ws(c)) return RSPLIT_OK;
    const unsigned char *p = c->p;
    uint64_t off = at(c, p);
    if (off == s->bom && off < 3 && *p == (unsigned char)"\xEF\xBB\xBF"[off]) {
        s->bom++; /* a UTF-8 byte order mark, as some editors save JSON: byte by byte, it may be split */
        c->p++;
        return RSPLIT_OK;
    }
    if (*p == '{') {
        begin_value(s, off);
        s->candidate = 1;
        s->first_key = 1;
        s->state = ST_OBJ_OPEN;
    } else if (*p == '[') {
        s->container = RSPLIT_ARRAY;
        s->stats.containers |= RSPLIT_SAW_ARRAY;
        s->state = ST_ARR_OPEN;
    } else if (*p == '"') {
        begin_value(s, off);
        s->nest.esc = 0;
        s->state = ST_ELEM_STRING;
    } else if (s->stats.values == 0) {
        return refuse(s, off, p, c->end, "the file's first value", "a JSON object, array or string");
    } else {
        char why[120];
        snprintf(why, sizeof why, "%s where a JSON value should start; skipped up to the next line that starts one",
                 value_kind(p, c->end));
        return begin_resync(c, off, why);
    }
    s->stats.values++;
    c->p++;
    return RSPLIT_OK;
}

/* After '{' (a key or '}') or ',' (a key) in the top-level object. */
static int st_obj_key(scan_ctx *c) {
    rsplit *s = c->s;
    if (!skip_ws(c)) return RSPLIT_OK;
    if (*c->p == '}' && s->state == ST_OBJ_OPEN) { /* {}: an element, as no wrapper key came */
        c->p++;
        return finish_element(c, c->p);
    }
    if (*c->p != '"') return malformed(c, c->p, "expected a key in a top-level object");
    s->state = ST_KEY;
    s->key_len = 0;
    s->nest.esc = 0;
    c->p++;
    return RSPLIT_OK;
}

/* Inside a key of the top-level object. Keys are short: byte by byte, keeping the first bytes
 * to compare. A key spelled with escapes matches nothing (CloudTrail never escapes one). */
static int st_key(scan_ctx *c) {
    rsplit *s = c->s;
    while (c->p < c->end) {
        unsigned char ch = *c->p++;
        if (s->nest.esc) {
            s->nest.esc = 0;
        } else if (ch == '\\') {
            s->nest.esc = 1;
            s->key_len = -1;
        } else if (ch == '"') {
            s->state = ST_COLON;
            break;
        } else if (s->key_len >= 0) {
            if (s->key_len < KEY_MAX) s->key[s->key_len++] = (char)ch;
            else s->key_len = -1;
        }
    }
    return RSPLIT_OK;
}

static int st_colon(scan_ctx *c) {
    if (!skip_ws(c)) return RSPLIT_OK;
    if (*c->p != ':') return malformed(c, c->p, "expected ':' after a key");
    c->s->state = ST_VALUE;
    c->p++;
    return RSPLIT_OK;
}

static int key_is(const rsplit *s, const char *k) {
    size_t n = strlen(k);
    return s->key_len == (int)n && memcmp(s->key, k, n) == 0;
}

/* A value of the top-level object: a wrapper's array, the rest of a record, or a value to skip. */
static int st_value(scan_ctx *c) {
    rsplit *s = c->s;
    if (!skip_ws(c)) return RSPLIT_OK;
    int first = s->first_key;
    s->first_key = 0;
    rsplit_container inner = key_is(s, "Records") ? RSPLIT_RECORDS : key_is(s, "Events") ? RSPLIT_EVENTS : RSPLIT_TOP;
    if (inner != RSPLIT_TOP && *c->p == '[') {
        /* A wrapper: its array's elements are the elements, the object itself is none. */
        s->buffering = s->candidate = s->discard = 0;
        s->container = inner;
        s->stats.containers |= 1u << inner;
        s->state = ST_ARR_OPEN;
        c->p++;
        return RSPLIT_OK;
    }
    if (first && s->candidate && key_is(s, "eventVersion")) {
        /* A record begins with eventVersion: no wrapper key can follow, scan the rest at full speed. */
        nest_open(&s->nest, '{');
        s->candidate = 0;
        s->state = ST_ELEMENT;
        return RSPLIT_OK;
    }
    if (start_skip(c, ST_OBJ_SEP) != 0) return malformed(c, c->p, "expected a value");
    return RSPLIT_OK;
}

static int st_obj_sep(scan_ctx *c) {
    rsplit *s = c->s;
    if (!skip_ws(c)) return RSPLIT_OK;
    unsigned char ch = *c->p;
    if (ch == ',') {
        s->state = ST_OBJ_KEY;
        c->p++;
        return RSPLIT_OK;
    }
    if (ch != '}') return malformed(c, c->p, "expected ',' or '}' in a top-level object");
    c->p++;
    if (s->candidate) return finish_element(c, c->p);
    s->state = ST_TOP;
    return RSPLIT_OK;
}

/* The end of a container array: back to the wrapper's keys, or to the top level. */
static void end_container(rsplit *s) {
    s->state = s->container == RSPLIT_ARRAY ? ST_TOP : ST_OBJ_SEP;
    s->container = RSPLIT_TOP;
}

/* After '[' (an element or ']') or ',' (an element) in a container array. */
RSPLIT_HOT static inline int st_arr_elem(scan_ctx *c) {
    rsplit *s = c->s;
    if (!skip_ws(c)) return RSPLIT_OK;
    const unsigned char *p = c->p;
    if (*p == ']' && s->state == ST_ARR_OPEN) {
        end_container(s);
        c->p++;
        return RSPLIT_OK;
    }
    if (*p == '{') {
        begin_value(s, at(c, p));
        nest_open(&s->nest, '{');
        s->state = ST_ELEMENT;
        c->p++;
        return RSPLIT_OK;
    }
    if (*p == '"') {
        begin_value(s, at(c, p));
        s->nest.esc = 0;
        s->state = ST_ELEM_STRING;
        c->p++;
        return RSPLIT_OK;
    }
    if (s->container != RSPLIT_RECORDS && none_seen(s))
        return refuse(s, at(c, p), p, c->end, "the first element of the array", "a JSON object or string");
    s->skip_start = at(c, p);
    keep_head(s, (const char *)p, (size_t)(c->end - p));
    if (start_skip(c, ST_ARR_SEP) != 0) {
        char what[60];
        snprintf(what, sizeof what, "expected an element of %s", container_name(s->container));
        return fail_at(s, at(c, p), what);
    }
    s->skipping_elem = 1;
    s->stats.non_objects++;
    return RSPLIT_OK;
}

RSPLIT_HOT static inline int st_arr_sep(scan_ctx *c) {
    rsplit *s = c->s;
    if (!skip_ws(c)) return RSPLIT_OK;
    if (*c->p == ',') {
        s->state = ST_ARR_ELEM;
    } else if (*c->p == ']') {
        end_container(s);
    } else {
        char what[60];
        snprintf(what, sizeof what, "expected ',' or ']' in %s", container_name(s->container));
        return fail_at(s, at(c, c->p), what);
    }
    c->p++;
    return RSPLIT_OK;
}

RSPLIT_HOT static inline int st_element(scan_ctx *c) {
    int r = nest_scan(&c->s->nest, &c->p, c->end);
    if (r < 0) return malformed(c, c->p, "mismatched bracket");
    return r > 0 ? finish_element(c, c->p) : RSPLIT_OK;
}

static int st_elem_string(scan_ctx *c) {
    rsplit *s = c->s;
    if (s->nest.esc) {
        s->nest.esc = 0;
        c->p++; /* the escaped byte, left over from the previous chunk */
    }
    const unsigned char *q = nest_string_rest(c->p, c->end, &s->nest.esc);
    c->p = q ? q : c->end;
    return q ? finish_element(c, q) : RSPLIT_OK;
}

static int st_skip_nested(scan_ctx *c) {
    int r = nest_scan(&c->s->nest, &c->p, c->end);
    if (r < 0) return malformed(c, c->p, "mismatched bracket");
    if (r > 0) end_skip(c->s, at(c, c->p));
    return RSPLIT_OK;
}

static int st_skip_string(scan_ctx *c) {
    rsplit *s = c->s;
    if (s->nest.esc) {
        s->nest.esc = 0;
        c->p++;
    }
    const unsigned char *q = nest_string_rest(c->p, c->end, &s->nest.esc);
    c->p = q ? q : c->end;
    if (q) end_skip(s, at(c, q));
    return RSPLIT_OK;
}

static int st_skip_scalar(scan_ctx *c) {
    while (c->p < c->end && is_scalar_char(*c->p)) c->p++;
    if (c->p == c->end) return RSPLIT_OK;
    unsigned char ch = *c->p;
    if (!is_ws(ch) && ch != ',' && ch != '}' && ch != ']')
        return malformed(c, c->p, "bad character after a number or literal");
    end_skip(c->s, at(c, c->p)); /* the delimiter is read by the state it returns to */
    return RSPLIT_OK;
}

static int starts_value(unsigned char ch) { return ch == '{' || ch == '[' || ch == '"'; }

/* The head of a broken stretch grows with the bytes scanned past, up to RSPLIT_HEAD. */
static void grow_head(scan_ctx *c, const unsigned char *from, const unsigned char *to) {
    rsplit *s = c->s;
    uint64_t a = at(c, from), b = at(c, to);
    if (a < s->head_end) a = s->head_end;
    if (b > s->skip_start + RSPLIT_HEAD) b = s->skip_start + RSPLIT_HEAD;
    if (a != s->head_end || b <= a) return;
    memcpy(s->head + s->head_len, c->b + (size_t)(a - s->base), (size_t)(b - a));
    s->head_len += (size_t)(b - a);
    s->head_end = b;
}

/* A broken stretch: line by line until a line starts with '{', '[' or '"'. */
static int st_resync(scan_ctx *c) {
    rsplit *s = c->s;
    if (s->after_newline) {
        s->after_newline = 0;
        if (starts_value(*c->p)) {
            end_resync(s, at(c, c->p));
            return RSPLIT_OK;
        }
    }
    const unsigned char *from = c->p, *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    c->p = nl ? nl + 1 : c->end;
    s->after_newline = nl != NULL;
    grow_head(c, from, c->p);
    return RSPLIT_OK;
}

/* Runs the state of the moment over c->p .. c->end; RSPLIT_OK, RSPLIT_STOPPED or RSPLIT_ERR. */
RSPLIT_HOT static inline int step(scan_ctx *c) {
    switch (c->s->state) {
    case ST_TOP: return st_top(c);
    case ST_OBJ_OPEN:
    case ST_OBJ_KEY: return st_obj_key(c);
    case ST_KEY: return st_key(c);
    case ST_COLON: return st_colon(c);
    case ST_VALUE: return st_value(c);
    case ST_OBJ_SEP: return st_obj_sep(c);
    case ST_ARR_OPEN:
    case ST_ARR_ELEM: return st_arr_elem(c);
    case ST_ARR_SEP: return st_arr_sep(c);
    case ST_ELEMENT: return st_element(c);
    case ST_ELEM_STRING: return st_elem_string(c);
    case ST_SKIP_NESTED: return st_skip_nested(c);
    case ST_SKIP_STRING: return st_skip_string(c);
    case ST_SKIP_SCALAR: return st_skip_scalar(c);
    case ST_RESYNC: return st_resync(c);
    case ST_ERROR: break;
    }
    return RSPLIT_ERR;
}

/* Whether the scan is inside a string (of a key, a skipped value or an element). */
static int in_string(const rsplit *s) {
    switch (s->state) {
    case ST_KEY:
    case ST_SKIP_STRING:
    case ST_ELEM_STRING: return 1;
    case ST_ELEMENT:
    case ST_SKIP_NESTED: return s->nest.in_str;
    default: return 0;
    }
}

/* One line of a top-level value that may be an element (see rsplit.h): a line start with '{'
 * inside it, or a line end inside a string, means it is broken. */
static int scan_line(scan_ctx *c) {
    rsplit *s = c->s;
    if (s->after_newline) {
        s->after_newline = 0;
        if (*c->p == '{')
            return break_value(c, "truncated or broken: the next line starts a new object before this value ended");
    }
    /* Values back to back on one line each come here: search the line's end once. */
    if (!c->next_nl || c->next_nl < c->p) {
        const unsigned char *nl = memchr(c->p, '\n', (size_t)(c->data_end - c->p));
        c->next_nl = nl ? nl : c->data_end;
    }
    int ends_line = c->next_nl < c->data_end;
    c->end = ends_line ? c->next_nl + 1 : c->data_end;
    int rc = RSPLIT_OK;
    while (rc == RSPLIT_OK && c->p < c->end && line_checked(s)) rc = step(c);
    if (rc == RSPLIT_OK && line_checked(s) && c->p == c->end && ends_line) {
        if (in_string(s)) {
            c->end = c->data_end;
            begin_resync(c, at(c, c->p),
                         "truncated or broken: a line ends inside a string; skipped up to the next line that starts a "
                         "JSON value");
            s->after_newline = 1; /* the stretch may end right at this line */
            return RSPLIT_OK;
        }
        s->after_newline = 1;
    }
    c->end = c->data_end;
    return rc;
}

static int scan(rsplit *s, rsplit_record_fn cb, void *ud) {
    const unsigned char *b = (const unsigned char *)s->buf;
    scan_ctx c = {s, b, b + s->pos, b + s->len, cb, ud, NULL, b + s->len};
    int rc = RSPLIT_OK;
    while (rc == RSPLIT_OK && c.p < c.end) {
        if (line_checked(s)) {
            rc = scan_line(&c);
        } else {
            s->after_newline = s->state == ST_RESYNC && s->after_newline;
            while (rc == RSPLIT_OK && c.p < c.end && !line_checked(s)) rc = step(&c);
        }
    }
    s->pos = (size_t)(c.p - b);
    if (rc == RSPLIT_OK && s->buffering && !s->discard && s->len - (size_t)(s->val_start - s->base) > s->max_record) {
        /* Stop buffering it: the rest is scanned as it streams past, and only its start is kept
         * for the report. */
        size_t off = (size_t)(s->val_start - s->base);
        keep_head(s, s->buf + off, s->len - off);
        s->discard = 1;
    }
    return rc;
}

/* ---------------------------------------------------------------- the interface */

/* Where the bytes that must be kept begin (buffer offset). */
static size_t keep_from(const rsplit *s) {
    if (s->stopped || (s->buffering && !s->discard)) return (size_t)(s->val_start - s->base);
    return s->pos;
}

char *rsplit_space(rsplit *s, size_t *avail) {
    if (s->state == ST_ERROR) {
        /* Anything written now is ignored by rsplit_commit; give harmless room. */
        s->len = s->pos = 0;
        *avail = s->cap < RSPLIT_MAX_WRITE ? s->cap : RSPLIT_MAX_WRITE;
        return s->buf;
    }
    size_t keep = keep_from(s);
    size_t retained = s->len - keep;
    /* Move the unfinished tail to the front when space runs short, and also as soon as a window
     * was written and the tail is small (an ordinary record's remainder): then only the first
     * window or so of the buffer is ever touched, not max_record of it. Each page touched for the
     * first time costs a fault, 13 us on the bench's virtual machine (8 pipes of 2.25 MB were a
     * third of the engine's faults), and resident memory. At most RSPLIT_EARLY_MOVE bytes move per
     * window less one write (<= 1/15 of the bytes written; about 1/150 for CloudTrail records). */
    if (keep > 0 &&
        (s->cap - s->len < RSPLIT_MIN_SPACE || (s->len >= RSPLIT_WINDOW && retained <= RSPLIT_EARLY_MOVE))) {
        memmove(s->buf, s->buf + keep, retained);
        s->base += keep;
        s->pos -= keep;
        s->len = retained;
    }
    size_t room = s->cap - s->len;
    *avail = room < RSPLIT_MAX_WRITE ? room : RSPLIT_MAX_WRITE;
    return s->buf + s->len;
}

int rsplit_commit(rsplit *s, size_t n, rsplit_record_fn cb, void *ud) {
    if (s->state == ST_ERROR) return RSPLIT_ERR;
    if (n > s->cap - s->len) return fail_at(s, s->base + s->len, "commit larger than the space offered");
    s->len += n;
    if (s->stopped) {
        int rc = deliver(s, cb, ud);
        if (rc != RSPLIT_OK) return rc;
    }
    return scan(s, cb, ud);
}

int rsplit_finish(rsplit *s) {
    uint64_t end = s->base + s->len;
    if (s->state == ST_ERROR) return RSPLIT_ERR;
    if (s->stopped) return fail_at(s, s->val_start, "finish while an element still waits for the consumer");
    if (s->state == ST_TOP) return RSPLIT_OK;
    if (s->state == ST_RESYNC) {
        end_resync(s, end);
        return RSPLIT_OK;
    }
    if (line_checked(s)) { /* a top-level value cut short: the values before it stay good */
        scan_ctx c = {s, (const unsigned char *)s->buf, NULL, NULL, NULL, NULL, NULL, NULL};
        begin_resync(&c, end, "truncated: the input ends inside this value");
        end_resync(s, end);
        return RSPLIT_OK;
    }
    char why[120];
    snprintf(why, sizeof why, "truncated file: the input ends inside %s",
             s->container == RSPLIT_TOP ? "a top-level object" : container_name(s->container));
    return fail_at(s, end, why);
}

rsplit_container rsplit_container_of(const rsplit *s) { return s->container; }
uint64_t rsplit_element_offset(const rsplit *s) { return s->val_start; }
const rsplit_stats *rsplit_get_stats(const rsplit *s) { return &s->stats; }
const char *rsplit_error(const rsplit *s) { return s->err[0] ? s->err : "no error"; }
int rsplit_refused(const rsplit *s) { return s->refused; }
