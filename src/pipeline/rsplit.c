/* Streaming record splitter for {"Records":[{...},...]}. See rsplit.h for the contract.
 *
 * Layout of the one buffer: [0, len) holds bytes written by the producer; [0, pos) is scanned.
 * Offsets inside the buffer change when the tail is compacted to the front, so every position
 * that must survive a commit is kept as an absolute input offset (base = offset of buf[0]).
 *
 * The top-level object is walked by a small byte-at-a-time state machine (a few bytes per
 * record). Records and skipped values go through scan_nested(), the hot loop, which only looks
 * at `"{}[]` outside strings and only at `"` and `\` inside them. */
#include "pipeline/rsplit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define RSPLIT_WINDOW (256u * 1024u)
#define RSPLIT_MIN_SPACE (64u * 1024u)
/* At most this much is offered per write: a stopped record (<= max_record) plus the unscanned
 * rest of one write must still leave RSPLIT_MIN_SPACE free after compaction. */
#define RSPLIT_MAX_WRITE (RSPLIT_WINDOW - RSPLIT_MIN_SPACE)
/* Bracket kinds are checked up to this depth; deeper levels are only counted. */
#define NEST_CHECKED 1024u

enum state {
    ST_BEGIN,       /* before the top-level '{' */
    ST_OBJ_OPEN,    /* after '{': a key or '}' */
    ST_OBJ_KEY,     /* after ',': a key */
    ST_KEY,         /* inside a top-level key string */
    ST_COLON,       /* after a key */
    ST_VALUE,       /* after ':' */
    ST_OBJ_SEP,     /* after a top-level value: ',' or '}' */
    ST_ARR_OPEN,    /* after "Records":[ : an element or ']' */
    ST_ARR_ELEM,    /* after ',' in Records: an element */
    ST_ARR_SEP,     /* after an element: ',' or ']' */
    ST_RECORD,      /* inside an object element of Records */
    ST_SKIP_NESTED, /* inside an object/array being skipped */
    ST_SKIP_STRING, /* inside a string being skipped */
    ST_SKIP_SCALAR, /* inside a number or literal being skipped */
    ST_DONE,        /* after the top-level '}': only whitespace */
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
    /* Nested-value scanner, saved between commits. */
    uint32_t depth;
    int in_str;
    int esc;
    uint64_t kinds[NEST_CHECKED / 64]; /* bit set = '{' opened at that depth, clear = '[' */
    /* Current record. */
    uint64_t rec_start; /* input offset of its '{' */
    uint64_t rec_end;   /* input offset just past its '}' (while stopped) */
    int discard;        /* it grew past max_record: no longer buffered */
    int stopped;        /* the callback refused rec_start..rec_end */
    /* Top-level key being read. */
    int key_match; /* bytes of "Records" matched so far, -1 once it differs */
    int key_is_records;
    /* Element being skipped: an oversized record, or a non-object of Records. */
    uint64_t skip_start;    /* input offset of a non-object's first byte */
    int skipping_elem;      /* the value being skipped is an element of Records */
    char head[RSPLIT_HEAD]; /* its first bytes, copied while still buffered */
    size_t head_len;
    rsplit_skip_fn skip_fn;
    void *skip_ud;
    rsplit_stats stats;
    char err[160];
};

/* Outside strings only these bytes matter in a nested value. */
enum { C_NONE = 0, C_QUOTE, C_OPEN_OBJ, C_OPEN_ARR, C_CLOSE_OBJ, C_CLOSE_ARR };
static const unsigned char k_outside[256] = {
    ['"'] = C_QUOTE, ['{'] = C_OPEN_OBJ, ['['] = C_OPEN_ARR, ['}'] = C_CLOSE_OBJ, [']'] = C_CLOSE_ARR,
};
/* Inside strings only the end quote and escapes matter. */
static const unsigned char k_in_string[256] = {['"'] = 1, ['\\'] = 1};

/* First '"' or backslash in [p, end), or end. Strings are most of a record's bytes, so this is the
 * hottest loop: 8 bytes per step with the classic "has a zero byte" bit trick where the byte
 * order allows, the class table for the tail. */
static const unsigned char *find_quote_or_backslash(const unsigned char *p, const unsigned char *end) {
#if defined(__SSE2__) && defined(__GNUC__)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)));
        if (m) return p + __builtin_ctz(m);
        p += 16;
    }
#endif
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
        /* A byte of q or b is zero where x holds the byte we look for. The lowest flagged byte
         * is always a true match (false flags only appear above a true one). */
        uint64_t hit = ((q - ones) & ~q) | ((b - ones) & ~b);
        hit &= highs;
        if (hit) return p + (__builtin_ctzll(hit) >> 3);
        p += 8;
    }
#endif
    while (p < end && !k_in_string[*p]) p++;
    return p;
}

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
    s->state = ST_BEGIN;
    s->after_skip = ST_BEGIN;
    s->depth = 0;
    s->in_str = s->esc = 0;
    s->rec_start = s->rec_end = 0;
    s->discard = s->stopped = 0;
    s->key_match = -1;
    s->key_is_records = 0;
    s->skip_start = 0;
    s->skipping_elem = 0;
    s->head_len = 0;
    memset(&s->stats, 0, sizeof s->stats);
    s->err[0] = '\0';
}

void rsplit_on_skip(rsplit *s, rsplit_skip_fn fn, void *ud) {
    s->skip_fn = fn;
    s->skip_ud = ud;
}

static void keep_head(rsplit *s, const char *p, size_t avail) {
    s->head_len = avail < RSPLIT_HEAD ? avail : RSPLIT_HEAD;
    memcpy(s->head, p, s->head_len);
}

static void report_skip(rsplit *s, const char *reason, uint64_t offset, uint64_t size, const char *head,
                        size_t head_len) {
    rsplit_skip k = {reason, offset, size, head, head_len < size ? head_len : (size_t)size};
    if (s->skip_fn) s->skip_fn(s->skip_ud, &k);
    else log_debug("rsplit: skipped an element of Records at input byte %llu: %s", (unsigned long long)offset, reason);
}

static void report_oversized(rsplit *s, uint64_t size) {
    char why[160];
    snprintf(why, sizeof why, "record of %llu bytes is larger than the record limit (%zu bytes)",
             (unsigned long long)size, s->max_record);
    s->stats.oversized++;
    if (s->discard) {
        report_skip(s, why, s->rec_start, size, s->head, s->head_len);
    } else { /* it closed in the write that took it past the limit: still all buffered */
        report_skip(s, why, s->rec_start, size, s->buf + (size_t)(s->rec_start - s->base), RSPLIT_HEAD);
    }
    s->discard = 0;
}

/* A skipped value ended just before offset end: back to where it came from. */
static void end_skip(rsplit *s, uint64_t end) {
    s->state = s->after_skip;
    if (!s->skipping_elem) return;
    s->skipping_elem = 0;
    report_skip(s, "element of Records is not an object", s->skip_start, end - s->skip_start, s->head, s->head_len);
}

static int fail_at(rsplit *s, uint64_t offset, const char *what) {
    snprintf(s->err, sizeof s->err, "rsplit: %s at input byte %llu", what, (unsigned long long)offset);
    s->state = ST_ERROR;
    return RSPLIT_ERR;
}

/* Where the bytes that must be kept begin (buffer offset). */
static size_t keep_from(const rsplit *s) {
    if (s->stopped || (s->state == ST_RECORD && !s->discard)) return (size_t)(s->rec_start - s->base);
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
    /* Move the unfinished tail to the front only when space runs short: at most one record
     * moves per (max_record + window) bytes. (Compacting early to stay in a cache-warm front
     * part measured no faster.) */
    if (keep > 0 && s->cap - s->len < RSPLIT_MIN_SPACE) {
        memmove(s->buf, s->buf + keep, retained);
        s->base += keep;
        s->pos -= keep;
        s->len = retained;
    }
    size_t room = s->cap - s->len;
    *avail = room < RSPLIT_MAX_WRITE ? room : RSPLIT_MAX_WRITE;
    return s->buf + s->len;
}

/* A bracket outside strings: 1 when it closed the value, 0 to go on, -1 on a mismatch. */
static inline int bracket(rsplit *s, uint32_t *depth, unsigned char c) {
    if (c == '{' || c == '[') {
        if (*depth == UINT32_MAX) return -1;
        if (*depth < NEST_CHECKED) {
            uint64_t bit = (uint64_t)1 << (*depth % 64);
            if (c == '{') s->kinds[*depth / 64] |= bit;
            else s->kinds[*depth / 64] &= ~bit;
        }
        ++*depth;
        return 0;
    }
    --*depth;
    if (*depth < NEST_CHECKED) {
        int opened_obj = (s->kinds[*depth / 64] >> (*depth % 64)) & 1;
        if (opened_obj != (c == '}')) return -1;
    }
    return *depth == 0;
}

/* Scans the nested value the saved scanner state is in, from *pp up to end. Returns 1 when the
 * value closed (*pp just past its closing bracket), 0 at end of data (state saved), -1 on a
 * bracket mismatch (*pp at the offending byte). This is the hot loop. */
static int scan_nested(rsplit *s, const unsigned char **pp, const unsigned char *end) {
    const unsigned char *p = *pp;
    uint32_t depth = s->depth;
    int in_str = s->in_str;
    int r;
    if (s->esc) {
        if (p == end) return 0;
        p++; /* the escaped byte, left over from the previous chunk */
        s->esc = 0;
    }
    for (;;) {
        if (in_str) {
            for (;;) {
                p = find_quote_or_backslash(p, end);
                if (p == end) goto out_of_data;
                if (*p == '"') {
                    p++;
                    in_str = 0;
                    break;
                }
                /* backslash: skip it and the byte it escapes */
                if (end - p < 2) {
                    s->esc = 1;
                    p = end;
                    goto out_of_data;
                }
                p += 2;
            }
        }
#if defined(__SSE2__) && defined(__GNUC__)
        /* 16 bytes at a time while a block holds no backslash: then a byte is inside a string
         * exactly when an odd number of quotes precede it in the block (a prefix XOR of the
         * quote bits), so the brackets outside strings are known without a byte loop. Records
         * switch between strings and structure every few bytes; this takes both at once. */
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            if (_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')))) break;
            unsigned q = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
            __m128i br = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('{')), _mm_cmpeq_epi8(v, _mm_set1_epi8('}'))),
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('[')), _mm_cmpeq_epi8(v, _mm_set1_epi8(']'))));
            unsigned inside = q;
            inside ^= inside << 1;
            inside ^= inside << 2;
            inside ^= inside << 4;
            inside ^= inside << 8;
            unsigned m = (unsigned)_mm_movemask_epi8(br) & ~inside;
            while (m) {
                unsigned k = (unsigned)__builtin_ctz(m);
                m &= m - 1;
                if ((r = bracket(s, &depth, p[k])) != 0) {
                    p += k;
                    if (r < 0) {
                        *pp = p;
                        return -1;
                    }
                    s->depth = 0;
                    s->in_str = 0;
                    *pp = p + 1;
                    return 1;
                }
            }
            p += 16;
            /* an odd count: the block ends inside a string, past its last quote */
            if (__builtin_popcount(q) & 1) {
                in_str = 1;
                break;
            }
        }
        if (in_str) continue;
#endif
        while (end - p >= 4) {
            if (k_outside[p[0]]) goto out_hit;
            if (k_outside[p[1]]) {
                p += 1;
                goto out_hit;
            }
            if (k_outside[p[2]]) {
                p += 2;
                goto out_hit;
            }
            if (k_outside[p[3]]) {
                p += 3;
                goto out_hit;
            }
            p += 4;
        }
        while (p < end && !k_outside[*p]) p++;
        if (p == end) goto out_of_data;
    out_hit:
        if (*p == '"') {
            in_str = 1;
            p++;
            continue;
        }
        if ((r = bracket(s, &depth, *p)) != 0) {
            if (r < 0) {
                *pp = p;
                return -1;
            }
            s->depth = 0;
            s->in_str = 0;
            *pp = p + 1;
            return 1;
        }
        p++;
    }
out_of_data:
    s->depth = depth;
    s->in_str = in_str;
    *pp = p;
    return 0;
}

/* Enter a nested value whose opening bracket is at *p. */
static void open_nested(rsplit *s, unsigned char bracket) {
    s->depth = 1;
    s->in_str = 0;
    s->esc = 0;
    if (bracket == '{') s->kinds[0] |= 1;
    else s->kinds[0] &= ~(uint64_t)1;
}

/* Start skipping the value whose first byte is *p; returns 0 or -1 (not a value). */
static int start_skip(rsplit *s, const unsigned char **pp, enum state after) {
    unsigned char c = **pp;
    s->after_skip = after;
    if (c == '"') {
        s->state = ST_SKIP_STRING;
        s->esc = 0;
        (*pp)++;
    } else if (c == '{' || c == '[') {
        open_nested(s, c);
        s->state = ST_SKIP_NESTED;
        (*pp)++;
    } else if (is_scalar_char(c)) {
        s->state = ST_SKIP_SCALAR;
    } else {
        return -1;
    }
    return 0;
}

/* Hands the finished record to the callback; RSPLIT_OK or RSPLIT_STOPPED. */
static int deliver(rsplit *s, rsplit_record_fn cb, void *ud) {
    size_t len = (size_t)(s->rec_end - s->rec_start);
    const char *rec = s->buf + (size_t)(s->rec_start - s->base);
    if (cb(ud, rec, len) != 0) {
        s->stopped = 1;
        return RSPLIT_STOPPED;
    }
    s->stopped = 0;
    s->stats.records++;
    if (len > s->stats.largest_record) s->stats.largest_record = len;
    return RSPLIT_OK;
}

static int scan(rsplit *s, rsplit_record_fn cb, void *ud) {
    const unsigned char *b = (const unsigned char *)s->buf;
    const unsigned char *p = b + s->pos, *end = b + s->len;
    int rc = RSPLIT_OK;
#define AT(ptr) (s->base + (uint64_t)((ptr)-b))
#define SKIP_WS()                     \
    while (p < end && is_ws(*p)) p++; \
    if (p == end) goto done
    while (p < end) {
        switch (s->state) {
        case ST_BEGIN:
            SKIP_WS();
            if (*p != '{') {
                rc = fail_at(s, AT(p), "file does not start with a JSON object");
                goto done;
            }
            s->state = ST_OBJ_OPEN;
            p++;
            break;
        case ST_OBJ_OPEN:
        case ST_OBJ_KEY:
            SKIP_WS();
            if (*p == '}' && s->state == ST_OBJ_OPEN) {
                s->state = ST_DONE;
            } else if (*p == '"') {
                s->state = ST_KEY;
                s->key_match = 0;
                s->esc = 0;
            } else {
                rc = fail_at(s, AT(p), "expected a key in the top-level object");
                goto done;
            }
            p++;
            break;
        case ST_KEY:
            /* Keys are short: byte by byte, matching "Records" as we go. A key spelled with
             * escapes is taken literally (CloudTrail never escapes it). */
            while (p < end) {
                unsigned char c = *p++;
                if (s->esc) {
                    s->esc = 0;
                } else if (c == '\\') {
                    s->esc = 1;
                    s->key_match = -1;
                } else if (c == '"') {
                    s->key_is_records = s->key_match == 7;
                    s->state = ST_COLON;
                    break;
                } else if (s->key_match >= 0) {
                    int next = s->key_match < 7 && c == (unsigned char)"Records"[s->key_match];
                    s->key_match = next ? s->key_match + 1 : -1;
                }
            }
            break;
        case ST_COLON:
            SKIP_WS();
            if (*p != ':') {
                rc = fail_at(s, AT(p), "expected ':' after a key");
                goto done;
            }
            s->state = ST_VALUE;
            p++;
            break;
        case ST_VALUE:
            SKIP_WS();
            if (s->key_is_records) {
                if (*p != '[') {
                    rc = fail_at(s, AT(p), "\"Records\" is not an array");
                    goto done;
                }
                s->stats.saw_records = 1;
                s->state = ST_ARR_OPEN;
                p++;
            } else if (start_skip(s, &p, ST_OBJ_SEP) != 0) {
                rc = fail_at(s, AT(p), "expected a value");
                goto done;
            }
            break;
        case ST_OBJ_SEP:
            SKIP_WS();
            if (*p == ',') {
                s->state = ST_OBJ_KEY;
            } else if (*p == '}') {
                s->state = ST_DONE;
            } else {
                rc = fail_at(s, AT(p), "expected ',' or '}' in the top-level object");
                goto done;
            }
            p++;
            break;
        case ST_ARR_OPEN:
        case ST_ARR_ELEM:
            SKIP_WS();
            if (*p == ']' && s->state == ST_ARR_OPEN) {
                s->state = ST_OBJ_SEP;
                p++;
            } else if (*p == '{') {
                s->rec_start = AT(p);
                s->discard = 0;
                open_nested(s, '{');
                s->state = ST_RECORD;
                p++;
            } else {
                s->skip_start = AT(p);
                keep_head(s, (const char *)p, (size_t)(end - p));
                if (start_skip(s, &p, ST_ARR_SEP) != 0) {
                    rc = fail_at(s, AT(p), "expected an element of Records");
                    goto done;
                }
                s->skipping_elem = 1;
                s->stats.non_objects++;
            }
            break;
        case ST_ARR_SEP:
            SKIP_WS();
            if (*p == ',') {
                s->state = ST_ARR_ELEM;
            } else if (*p == ']') {
                s->state = ST_OBJ_SEP;
            } else {
                rc = fail_at(s, AT(p), "expected ',' or ']' in Records");
                goto done;
            }
            p++;
            break;
        case ST_RECORD: {
            int r = scan_nested(s, &p, end);
            if (r < 0) {
                rc = fail_at(s, AT(p), "mismatched bracket in a record");
                goto done;
            }
            if (r == 0) break; /* p == end */
            s->rec_end = AT(p);
            s->state = ST_ARR_SEP;
            uint64_t size = s->rec_end - s->rec_start;
            if (s->discard || size > s->max_record) {
                report_oversized(s, size);
                break;
            }
            rc = deliver(s, cb, ud);
            if (rc != RSPLIT_OK) goto done;
            break;
        }
        case ST_SKIP_NESTED: {
            int r = scan_nested(s, &p, end);
            if (r < 0) {
                rc = fail_at(s, AT(p), "mismatched bracket");
                goto done;
            }
            if (r == 1) end_skip(s, AT(p));
            break;
        }
        case ST_SKIP_STRING:
            while (p < end) {
                unsigned char c = *p++;
                if (s->esc) {
                    s->esc = 0;
                } else if (c == '\\') {
                    s->esc = 1;
                } else if (c == '"') {
                    end_skip(s, AT(p));
                    break;
                }
            }
            break;
        case ST_SKIP_SCALAR:
            while (p < end && is_scalar_char(*p)) p++;
            if (p == end) goto done;
            if (!is_ws(*p) && *p != ',' && *p != '}' && *p != ']') {
                rc = fail_at(s, AT(p), "bad character after a number or literal");
                goto done;
            }
            end_skip(s, AT(p)); /* the delimiter is read by the state it returns to */
            break;
        case ST_DONE:
            SKIP_WS();
            rc = fail_at(s, AT(p), "data after the end of the top-level object");
            goto done;
        case ST_ERROR: return RSPLIT_ERR;
        }
    }
done:
#undef SKIP_WS
#undef AT
    s->pos = (size_t)(p - b);
    if (rc == RSPLIT_OK && s->state == ST_RECORD && !s->discard &&
        s->len - (size_t)(s->rec_start - s->base) > s->max_record) {
        /* Stop buffering it: the rest is scanned as it streams past, and only its start is kept
         * for the report. */
        size_t off = (size_t)(s->rec_start - s->base);
        keep_head(s, s->buf + off, s->len - off);
        s->discard = 1;
    }
    return rc;
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
    if (s->state == ST_ERROR) return RSPLIT_ERR;
    if (s->stopped) return fail_at(s, s->rec_start, "finish while a record still waits for the consumer");
    if (s->state == ST_DONE) return RSPLIT_OK;
    if (s->state == ST_BEGIN) return RSPLIT_OK; /* empty (or whitespace-only) file */
    return fail_at(s, s->base + s->len, "truncated file: input ended inside the top-level object");
}

const rsplit_stats *rsplit_get_stats(const rsplit *s) { return &s->stats; }
const char *rsplit_error(const rsplit *s) { return s->err[0] ? s->err : "no error"; }
