#include "pipeline/docbuild.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/date.h"
#include "base/json.h"
#include "base/jsonw.h"
#include "base/log.h"
#include "base/text.h"
#include "pipeline/index_pattern.h"
#include "pipeline/schema.h"
#include "pipeline/utc_date.h"

/* Schema paths are compiled once into a tree of object keys, so one walk over the keys of
 * each visited object finds every field of a record: no repeated json_path lookups. A small
 * hash of (parent, key) makes each key of the record cost about one comparison. */
typedef struct pnode {
    const char *key;
    size_t keylen;
    int parent;
    int has_children;
    int hnext; /* next node in the same hash bucket */
} pnode;

#define PATH_HASH 256

/* One field of the profile, in emission order, with what emitting it needs at hand: its
 * ,"name": written once here, copied with one fixed-size move per document (a call to memcpy
 * for each of its four pieces cost more than the rest of an absent field's work). */
#define PREFIX_COPY 64 /* bytes moved at once; a prefix this long or less takes the fixed move */
typedef struct efield {
    const schema_field *f;
    int fid;       /* index of f in the schema table */
    int node;      /* path node of f->path, or -1 */
    unsigned plen; /* prefix bytes: ,"name": */
    char prefix[SCHEMA_NAME_MAX + 8];
} efield;
_Static_assert(SCHEMA_NAME_MAX + 8 >= PREFIX_COPY + 1, "the fixed move reads PREFIX_COPY bytes from prefix + 1");
_Static_assert(SCHEMA_MAX_FIELDS <= 256 && SCHEMA_ARRAY_MAX_VALUES <= 65535, "a batch_field's fid and n");

struct doc_builder {
    docb_options opt;
    json_doc doc;
    pnode *nodes;
    int nnodes;
    int *slot;    /* per node: value token of the current record, or -1 */
    efield *emit; /* the profile's fields, in table order */
    size_t nemit;
    int node_event_id, node_event_time;
    int hash_head[PATH_HASH];
    char pattern[128];
};

void docb_options_default(docb_options *o) {
    memset(o, 0, sizeof *o);
    o->format = BATCH_SDF;
    o->max_doc_bytes = DOCB_DEFAULT_MAX_DOC;
    o->include_raw = 1;
    o->index_pattern = DOCB_DEFAULT_INDEX_PATTERN;
    o->max_record_bytes = DOCB_DEFAULT_MAX_RECORD;
    o->profile = SCHEMA_PROFILE_DEFAULT;
}

/* ---- path tree ---------------------------------------------------------------------- */

static inline unsigned path_hash(int parent, const char *key, size_t n) {
    unsigned h = (unsigned)parent * 131u + (unsigned)n * 31u;
    if (n) h += (unsigned char)key[0] * 7u + (unsigned char)key[n - 1];
    return h & (PATH_HASH - 1);
}

static inline int child_find(const doc_builder *b, int parent, const char *key, size_t n) {
    for (int c = b->hash_head[path_hash(parent, key, n)]; c >= 0; c = b->nodes[c].hnext) {
        const pnode *p = &b->nodes[c];
        if (p->parent == parent && p->keylen == n && json_bytes_eq(p->key, key, n)) return c;
    }
    return -1;
}

/* Inserts a dotted path below the root (node 0); returns its leaf node. Keys point into the
 * static schema strings, so nothing is copied. */
static int add_path(doc_builder *b, const char *path) {
    int cur = 0;
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        int c = child_find(b, cur, p, n);
        if (c < 0) {
            c = b->nnodes++;
            unsigned h = path_hash(cur, p, n);
            b->nodes[c] = (pnode){p, n, cur, 0, b->hash_head[h]};
            b->hash_head[h] = c;
            b->nodes[cur].has_children = 1;
        }
        cur = c;
        if (!dot) return cur;
        p = dot + 1;
    }
}

static size_t path_parts(const char *p) {
    size_t n = 1;
    for (; *p; p++) n += *p == '.';
    return n;
}

/* Fills b->slot for the keys of object `obj` that node `parent` knows; first key wins. */
static void resolve(doc_builder *b, int obj, int parent) {
    const json_doc *d = &b->doc;
    int n = d->toks[obj].size;
    int k = obj + 1;
    for (int e = 0; e < n && (unsigned)k + 1 < d->ntoks; e++) { /* bound: defence in depth */
        int v = k + 1;
        int c = child_find(b, parent, json_tok_ptr(d, k), json_tok_len(d, k));
        if (c >= 0 && b->slot[c] < 0) {
            b->slot[c] = v;
            if (b->nodes[c].has_children && d->toks[v].type == JSON_OBJECT) resolve(b, v, c);
        }
        /* a string or primitive is one token: no need to scan for the end of the value */
        k = d->toks[v].type == JSON_OBJECT || d->toks[v].type == JSON_ARRAY ? json_next(d, v) : v + 1;
    }
}

/* ---- options ------------------------------------------------------------------------ */

doc_builder *docb_new(const docb_options *o) {
    docb_options opt;
    if (o) opt = *o;
    else docb_options_default(&opt);
    if (opt.format == 0) opt.format = BATCH_SDF;
    if (!opt.max_doc_bytes) opt.max_doc_bytes = DOCB_DEFAULT_MAX_DOC;
    if (!opt.max_record_bytes) opt.max_record_bytes = DOCB_DEFAULT_MAX_RECORD;
    if (!opt.index_pattern) opt.index_pattern = DOCB_DEFAULT_INDEX_PATTERN;
    if (opt.format != BATCH_SDF && opt.format != BATCH_BULK) {
        log_error("docbuild: unknown format %d", opt.format);
        return NULL;
    }
    if (opt.max_doc_bytes < DOCB_MIN_MAX_DOC) {
        log_error("docbuild: max document size %zu is below %u", opt.max_doc_bytes, DOCB_MIN_MAX_DOC);
        return NULL;
    }
    if (opt.max_record_bytes > DOCB_LIMIT_MAX_RECORD) {
        log_error("docbuild: max record size %zu is too large", opt.max_record_bytes);
        return NULL;
    }
    if ((unsigned)opt.profile > SCHEMA_FULL) {
        log_error("docbuild: unknown field profile %d", (int)opt.profile);
        return NULL;
    }
    if (opt.format == BATCH_BULK && index_pattern_check(opt.index_pattern, 0, NULL, 0) != 0) {
        log_error("docbuild: invalid index pattern '%s'", opt.index_pattern);
        return NULL;
    }
    if (!opt.max_tokens) opt.max_tokens = (unsigned)(opt.max_record_bytes / 2 + 1);

    doc_builder *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->opt = opt;
    snprintf(b->pattern, sizeof b->pattern, "%s", opt.index_pattern);
    b->opt.index_pattern = b->pattern;

    size_t nf = schema_count(), maxnodes = 3; /* root, eventID, eventTime */
    for (size_t i = 0; i < nf; i++)
        if (schema_field_at(i)->path) maxnodes += path_parts(schema_field_at(i)->path);
    b->nodes = calloc(maxnodes, sizeof *b->nodes);
    b->slot = calloc(maxnodes, sizeof *b->slot);
    b->emit = calloc(nf, sizeof *b->emit);
    if (!b->nodes || !b->slot || !b->emit || json_doc_init(&b->doc, opt.max_tokens) != JSON_OK) {
        docb_free(b);
        return NULL;
    }
    for (int i = 0; i < PATH_HASH; i++) b->hash_head[i] = -1;
    b->nodes[0] = (pnode){"", 0, -1, 0, -1};
    b->nnodes = 1;
    for (size_t i = 0; i < nf; i++) {
        const schema_field *f = schema_field_at(i);
        if (!schema_in_profile(f, opt.profile)) continue;
        efield *e = &b->emit[b->nemit++];
        e->f = f;
        e->fid = (int)i;
        e->node = f->path ? add_path(b, f->path) : -1; /* only the profile's paths are looked for */
        e->plen = (unsigned)snprintf(e->prefix, sizeof e->prefix, ",\"%s\":", f->name);
    }
    b->node_event_id = add_path(b, "eventID");
    b->node_event_time = add_path(b, "eventTime");
    return b;
}

void docb_free(doc_builder *b) {
    if (!b) return;
    json_doc_free(&b->doc);
    free(b->nodes);
    free(b->slot);
    free(b->emit);
    free(b);
}

/* ---- output ------------------------------------------------------------------------- */

typedef struct wctx {
    doc_builder *b;
    char *out;
    size_t len, cap;
    int trim; /* second pass: cut fields to fit instead of failing */
    int mark; /* a literal value was cut in an earlier pass: emit ctindex_trimmed */
    unsigned nfields;
    docb_result *res;
    docb_fields *fl; /* the field list, or NULL */
    int plain;       /* the last string value written has as many characters as bytes */
} wctx;

/* Appends a field list entry; past fl's room the list is incomplete (and no longer written). */
static inline __attribute__((always_inline)) void add_entry(wctx *c, size_t at, size_t len, int fid, unsigned flags) {
    docb_fields *fl = c->fl;
    if (!fl || !fl->complete) return;
    if (fl->n == fl->cap) {
        fl->complete = 0;
        return;
    }
    fl->fields[fl->n++] = (batch_field){(uint32_t)at, (uint32_t)len, (uint8_t)fid, (uint8_t)flags, 0};
}

static inline int put(wctx *c, const char *s, size_t n) {
    if (n > c->cap - c->len) return -1;
    memcpy(c->out + c->len, s, n);
    c->len += n;
    return 0;
}

#define PUT_LIT(c, s) put((c), (s), sizeof(s) - 1)

/* "content" of a string token (re-escaped) or of a non-null primitive, with quotes.
 * Returns code points written (0: empty, caller omits the field) or -1: no room. */
static long put_string_value(wctx *c, int tok, size_t max_chars, int *cut) {
    const json_doc *d = &c->b->doc;
    const json_tok *t = &d->toks[tok];
    if (PUT_LIT(c, "\"") < 0) return -1;
    size_t room = c->cap - c->len;
    if (room == 0) return -1;
    room--; /* closing quote */
    jsonw_stats st;
    unsigned flags = c->trim ? JSONW_TRUNCATE : 0;
    long n =
        t->type == JSON_STRING
            ? jsonw_reescape(json_tok_ptr(d, tok), json_tok_len(d, tok), c->out + c->len, room, max_chars, flags, &st)
            : jsonw_escape(json_tok_ptr(d, tok), json_tok_len(d, tok), c->out + c->len, room, max_chars, flags, &st);
    if (n < 0) return -1;
    c->len += (size_t)n;
    c->plain = (size_t)n == st.chars; /* an escape or a UTF-8 sequence takes more bytes than characters */
    c->res->dropped += st.dropped;
    if (st.truncated) {
        if (st.chars >= max_chars) c->res->truncated_values++;
        else *cut = 1;
    }
    c->out[c->len++] = '"';
    return (long)st.chars;
}

/* The RFC 3339 time of a string token, in UTC (utc_date), or 0 when it is none. */
static size_t tok_utc_date(const json_doc *d, int tok, char out[UTC_DATE_MAX]) {
    if (tok < 0 || d->toks[tok].type != JSON_STRING) return 0;
    return utc_date(json_tok_ptr(d, tok), json_tok_len(d, tok), out);
}

/* Seconds since 1970 of an RFC 3339 time (any offset, the fraction dropped); 0 for another token,
 * and for a time before 1970 or past 9999 in UTC (no delay is measured from those). */
static int64_t tok_epoch(const json_doc *d, int tok) {
    int64_t epoch = 0;
    if (tok < 0 || d->toks[tok].type != JSON_STRING) return 0;
    if (date_rfc3339_epoch(json_tok_ptr(d, tok), json_tok_len(d, tok), &epoch) != 0) return 0;
    return epoch > 0 && epoch <= 253402300799 ? epoch : 0; /* 9999-12-31T23:59:59Z */
}

static int is_empty_container(const json_doc *d, int tok) {
    return (d->toks[tok].type == JSON_OBJECT || d->toks[tok].type == JSON_ARRAY) && d->toks[tok].size == 0;
}

/* Boolean: 1, 0, or -1 when the token is neither true/false nor "true"/"false". */
static int tok_bool(const json_doc *d, int tok) {
    int v = json_tok_bool(d, tok);
    if (v >= 0) return v;
    if (json_tok_streq(d, tok, "true")) return 1;
    if (json_tok_streq(d, tok, "false")) return 0;
    return -1;
}

static int put_bool(wctx *c, int v) {
    if (c->b->opt.format == BATCH_BULK) return v ? PUT_LIT(c, "true") : PUT_LIT(c, "false");
    return v ? PUT_LIT(c, "\"true\"") : PUT_LIT(c, "\"false\"");
}

/* Array of every element's `member`, at most SCHEMA_ARRAY_MAX_VALUES. Returns values written
 * (0: the caller leaves the field out), or -1 when they do not fit (first pass only). */
static long put_members(wctx *c, int arr, const char *member, int fid, size_t max_chars, int *cut) {
    const json_doc *d = &c->b->doc;
    if (c->cap - c->len < 2) return -1;
    c->out[c->len++] = '[';
    c->cap--; /* hold back the closing bracket */
    long nvals = 0;
    int saved_trim = c->trim;
    c->trim = 0; /* values are never cut mid-way: a shortened ARN would be a wrong ARN */
    int el = arr + 1;
    for (int e = 0; e < d->toks[arr].size && (unsigned)el < d->ntoks; e++, el = json_next(d, el)) {
        int v = json_obj_get(d, el, member);
        if (v < 0 || json_tok_is_null(d, v) || d->toks[v].type == JSON_OBJECT || d->toks[v].type == JSON_ARRAY)
            continue;
        if (nvals == SCHEMA_ARRAY_MAX_VALUES) {
            c->res->truncated_values++;
            break;
        }
        size_t mark = c->len;
        long n = (nvals && PUT_LIT(c, ",") < 0) ? -1 : put_string_value(c, v, max_chars, cut);
        if (n < 0) {
            c->len = mark;
            if (!saved_trim) nvals = -1;
            else *cut = 1;
            break;
        }
        if (n == 0) {
            c->len = mark;
        } else {
            nvals++;
            size_t at = mark + (nvals > 1) + 1; /* past the comma and the quote */
            add_entry(c, at, c->len - 1 - at, fid, BATCH_FIELD_STRING | (c->plain ? BATCH_FIELD_PLAIN : 0));
        }
    }
    c->trim = saved_trim;
    c->cap++;
    if (nvals > 0) c->out[c->len++] = ']';
    return nvals;
}

static uint64_t fnv1a64(const char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* 1 when every byte of p[0..n) is A-Z, a-z, 0-9, '_' or '-'. Without a branch per byte: an
 * eventID mixes letters and digits at random, and range tests (compiled to branches) mispredicted
 * often enough to be 70% of docb_build's own time (perf, bench_build). Bit c % 64 of word c / 64
 * is set for each such byte c. */
static int id_chars_ok(const char *p, size_t n) {
    static const uint64_t words[4] = {0x03ff200000000000ull, /* '-' (45), '0'..'9' (48..57) */
                                      0x07fffffe87fffffeull, /* 'A'..'Z' (65..90), '_' (95), 'a'..'z' (97..122) */
                                      0, 0};
    uint64_t ok = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)p[i];
        ok &= words[c >> 6] >> (c & 63);
    }
    return (int)(ok & 1);
}

static void make_id(doc_builder *b, docb_result *res) {
    const json_doc *d = &b->doc;
    int t = b->slot[b->node_event_id];
    if (t >= 0 && d->toks[t].type == JSON_STRING) {
        size_t n = json_tok_len(d, t);
        const char *p = json_tok_ptr(d, t);
        if (n >= 1 && n <= 128 && id_chars_ok(p, n)) {
            memcpy(res->id, p, n);
            res->id[n] = '\0';
            res->id_len = n;
            return;
        }
    }
    /* No usable eventID: the id must still be a function of the record alone, so that a
     * redelivered log file overwrites its documents instead of adding duplicates. */
    uint64_t h = fnv1a64(d->js + d->toks[0].start, json_tok_len(d, 0));
    res->id[0] = 'h';
    res->id[1] = '_';
    for (int i = 0; i < 16; i++) res->id[2 + i] = text_hex_lower((unsigned)(h >> (60 - 4 * i)));
    res->id[18] = '\0';
    res->id_len = 18;
    res->id_fallback = 1;
}

/* Index name from the pattern and eventTime; a missing or malformed eventTime gives zeros
 * (deterministic, like the id: a redelivery must land in the same index). */
static size_t expand_index(const doc_builder *b, char *out, size_t cap) {
    const json_doc *d = &b->doc;
    char utc[UTC_DATE_MAX];
    const char *ts = tok_utc_date(d, b->slot[b->node_event_time], utc) ? utc : "0000-00-00T00:00:00Z";
    size_t o = 0;
    for (const char *p = b->pattern; *p && o + 4 < cap; p++) {
        if (*p != '%') {
            out[o++] = *p;
            continue;
        }
        p++;
        switch (*p) {
        case 'Y':
            memcpy(out + o, ts, 4);
            o += 4;
            break;
        case 'm':
            memcpy(out + o, ts + 5, 2);
            o += 2;
            break;
        case 'd':
            memcpy(out + o, ts + 8, 2);
            o += 2;
            break;
        case 'H':
            memcpy(out + o, ts + 11, 2);
            o += 2;
            break;
        default: break; /* index_pattern_check admits nothing else */
        }
    }
    return o;
}

/* ---- fields ------------------------------------------------------------------------- */

/* Whether field e has something to emit in this pass; *tok: its value token (-1 for the fields
 * that do not come from a path). */
static int field_present(const wctx *c, const efield *e, int *tok) {
    const doc_builder *b = c->b;
    const schema_field *f = e->f;
    *tok = -1;
    if (e->node >= 0) {
        *tok = b->slot[e->node];
        return *tok >= 0 && !json_tok_is_null(&b->doc, *tok);
    }
    if (f->source == SRC_TRIMMED) return c->trim || c->mark;
    if (f->source == SRC_RECORD) return b->opt.include_raw;
    return 1;
}

/* Bytes of ,"name": as put_field_name writes it. */
static unsigned put_field_name_len(const wctx *c, const efield *e) { return e->plen - (c->nfields == 0); }

/* ,"name": (without the comma before the first field). The bytes the fixed move writes past the
 * prefix are within cap and overwritten by what follows. */
static int put_field_name(wctx *c, const efield *e) {
    const char *p = e->prefix + (c->nfields == 0);
    size_t n = put_field_name_len(c, e);
    if (n > PREFIX_COPY || c->cap - c->len < PREFIX_COPY) return put(c, p, n);
    memcpy(c->out + c->len, p, PREFIX_COPY);
    c->len += n;
    return 0;
}

/* The value functions below return > 0 when they wrote a value, 0 when the record holds
 * nothing usable (a value of the wrong type is counted in skipped_values), -1 when it does not
 * fit. */

static long put_bool_value(wctx *c, int tok) {
    int v = tok_bool(&c->b->doc, tok);
    if (v < 0) {
        c->res->skipped_values++;
        return 0;
    }
    return put_bool(c, v) < 0 ? -1 : 1;
}

/* In UTC whatever the offset it was written with: the sinks take only that form. */
static long put_date(wctx *c, int tok) {
    char utc[UTC_DATE_MAX];
    size_t n = tok_utc_date(&c->b->doc, tok, utc);
    if (n == 0) {
        c->res->skipped_values++;
        return 0;
    }
    if (PUT_LIT(c, "\"") < 0 || put(c, utc, n) < 0 || PUT_LIT(c, "\"") < 0) return -1;
    return 1;
}

static long put_int(wctx *c, int tok) {
    const json_doc *d = &c->b->doc;
    int64_t v;
    if (json_tok_int64(d, tok, &v) != 0) {
        c->res->skipped_values++;
        return 0;
    }
    return put(c, json_tok_ptr(d, tok), json_tok_len(d, tok)) < 0 ? -1 : 1;
}

/* The whole record's text. The root token spans the object, so surrounding whitespace is not
 * indexed. */
static long put_record(wctx *c, int *cut) {
    const json_doc *d = &c->b->doc;
    /* Left out when the document is derived from raw (nothing dropped, trimmed or cut so far, as
     * the indexer's BATCH_DOC_DERIVED asks) and the record escapes clean: the record kept beside
     * the document is raw's value. It must fit where it would have been written: a document that
     * would not fit without leaving it out does not fit with it. */
    docb_result *res = c->res;
    if (c->fl && c->fl->skip_raw && !c->trim && !c->mark && !res->dropped && !res->trimmed && !res->truncated_values &&
        c->b->opt.format == BATCH_SDF) {
        jsonw_stats st;
        size_t w = jsonw_escape_len(json_tok_ptr(d, 0), json_tok_len(d, 0), &st);
        if (!st.dropped) {
            if (w + 2 > c->cap - c->len) return -1;
            PUT_LIT(c, "\"\"");
            res->raw_unwritten = w;
            c->plain = 0;
            return (long)st.chars;
        }
    }
    if (PUT_LIT(c, "\"") < 0 || c->len >= c->cap) return -1;
    jsonw_stats st;
    long w = jsonw_escape(json_tok_ptr(d, 0), json_tok_len(d, 0), c->out + c->len, c->cap - c->len - 1, JSONW_NO_LIMIT,
                          c->trim ? JSONW_TRUNCATE : 0, &st);
    if (w < 0) return -1;
    c->len += (size_t)w;
    c->out[c->len++] = '"';
    c->res->dropped += st.dropped;
    c->plain = (size_t)w == st.chars;
    if (st.truncated) *cut = 1;
    return (long)st.chars;
}

/* Field f's value from token tok, as its source says. *cut: the value was shortened. */
static long put_field_value(wctx *c, const schema_field *f, int fid, int tok, int *cut) {
    const json_doc *d = &c->b->doc;
    size_t max_chars =
        f->cs_type == CS_LITERAL || f->cs_type == CS_LITERAL_ARRAY ? SCHEMA_LITERAL_MAX_CHARS : JSONW_NO_LIMIT;
    json_type ty = tok >= 0 ? d->toks[tok].type : JSON_UNDEF;
    switch (f->source) {
    case SRC_VALUE:
        if (ty == JSON_OBJECT || ty == JSON_ARRAY) {
            c->res->skipped_values++;
            return 0;
        }
        return put_string_value(c, tok, max_chars, cut);
    case SRC_BOOL: return put_bool_value(c, tok);
    case SRC_DATE: return put_date(c, tok);
    case SRC_INT: return put_int(c, tok);
    case SRC_JSON: return is_empty_container(d, tok) ? 0 : put_string_value(c, tok, max_chars, cut);
    case SRC_MEMBERS:
        if (ty != JSON_ARRAY) {
            c->res->skipped_values++;
            return 0;
        }
        return put_members(c, tok, f->member, fid, max_chars, cut);
    case SRC_RECORD: return put_record(c, cut);
    case SRC_TRIMMED: return put_bool(c, 1) < 0 ? -1 : 1;
    }
    return 0;
}

/* Emits one field, or nothing when the record has no usable value. Returns -1 only in the
 * first pass when the field does not fit; in the trim pass a field that does not fit is cut
 * or left out. */
static int emit_field(wctx *c, const efield *e) {
    int tok;
    if (!field_present(c, e, &tok)) return 0;
    size_t mark = c->len;
    size_t saved_cap = c->cap;
    size_t fmark = c->fl ? c->fl->n : 0;
    int is_array = e->f->source == SRC_MEMBERS;
    if (is_array) add_entry(c, 0, 0, e->fid, BATCH_FIELD_ARRAY); /* its elements follow */
    int cut = 0;
    c->plain = 1; /* dates, booleans: ASCII written as it is */
    long n = put_field_name(c, e) < 0 ? -1 : put_field_value(c, e->f, e->fid, tok, &cut);
    c->cap = saved_cap;
    if (n < 0 && !c->trim) return -1;
    if (n <= 0) {
        c->len = mark; /* nothing usable, or (trim pass) no room at all: leave the field out */
        if (c->fl) c->fl->n = fmark;
        if (n < 0) c->res->trimmed = 1;
        return 0;
    }
    if (cut) c->res->trimmed = 1;
    if (c->fl && c->fl->complete) {
        size_t v = mark + (size_t)put_field_name_len(c, e); /* the value's first byte */
        if (is_array) {
            batch_field *a = &c->fl->fields[fmark];
            a->at = (uint32_t)v;
            a->len = (uint32_t)(c->len - v);
            a->n = (uint16_t)(c->fl->n - fmark - 1);
        } else if (c->out[v] == '"') {
            unsigned flags = BATCH_FIELD_STRING | (c->plain ? BATCH_FIELD_PLAIN : 0);
            if (e->f->source == SRC_RECORD && c->res->raw_unwritten) flags |= BATCH_FIELD_KEPT;
            add_entry(c, v + 1, c->len - v - 2, e->fid, flags);
        } else {
            add_entry(c, v, c->len - v, e->fid, 0); /* a number */
        }
    }
    if (e->f->source == SRC_RECORD) { /* between the name and the closing quote */
        const json_doc *d = &c->b->doc;
        c->res->raw_at = mark + (size_t)put_field_name_len(c, e) + 1;
        c->res->raw_len = c->len - 1 - c->res->raw_at;
        c->res->record_at = (size_t)d->toks[0].start;
        c->res->record_len = json_tok_len(d, 0);
    }
    c->nfields++;
    return 0;
}

/* One attempt at the whole document within cap. Returns length, or -1 if it did not fit. */
static long build_pass(doc_builder *b, char *out, size_t cap, int trim, int mark, docb_fields *fl, docb_result *res) {
    const size_t closing = 2; /* "}}" (SDF) or "}\n" (BULK) */
    if (cap < closing) return -1;
    wctx c = {.b = b,
              .out = out,
              .len = 0,
              .cap = cap - closing,
              .trim = trim,
              .mark = mark,
              .nfields = 0,
              .res = res,
              .fl = fl,
              .plain = 0};
    res->raw_at = res->raw_len = res->record_at = res->record_len = res->raw_unwritten = 0;
    if (fl) {
        fl->n = 0;
        fl->complete = b->opt.format == BATCH_SDF;
    }
    if (b->opt.format == BATCH_SDF) {
        if (PUT_LIT(&c, "{\"type\":\"add\",\"id\":\"") < 0 || put(&c, res->id, res->id_len) < 0 ||
            PUT_LIT(&c, "\",\"fields\":{") < 0)
            return -1;
    } else {
        char idx[256];
        size_t il = expand_index(b, idx, sizeof idx);
        if (PUT_LIT(&c, "{\"index\":{\"_index\":\"") < 0 || put(&c, idx, il) < 0 || PUT_LIT(&c, "\",\"_id\":\"") < 0 ||
            put(&c, res->id, res->id_len) < 0 || PUT_LIT(&c, "\"}}\n{") < 0)
            return -1;
    }
    for (size_t i = 0; i < b->nemit; i++)
        if (emit_field(&c, &b->emit[i]) < 0) return -1;
    res->fields = c.nfields;
    c.cap += closing;
    if (b->opt.format == BATCH_SDF) PUT_LIT(&c, "}}");
    else PUT_LIT(&c, "}\n");
    return (long)c.len;
}

static void reset_counts(docb_result *res) {
    res->trimmed = 0;
    res->dropped = res->truncated_values = res->skipped_values = 0;
    res->fields = 0;
}

static long build_doc(doc_builder *b, const char *rec, size_t len, char *out, size_t cap, docb_fields *fl,
                      docb_result *res) {
    memset(res, 0, sizeof *res);
    if (fl) {
        fl->n = 0;
        fl->complete = 0;
    }
    if (len > b->opt.max_record_bytes) {
        res->error = "record larger than the maximum record size";
        return DOCB_BAD;
    }
    int r = json_parse(&b->doc, rec, len);
    if (r != JSON_OK) {
        res->error = r == JSON_ENOMEM  ? "record has too many JSON tokens"
                     : r == JSON_EDEEP ? "record is nested too deeply for its size"
                                       : "record is not valid JSON";
        return DOCB_BAD;
    }
    if (b->doc.toks[0].type != JSON_OBJECT) {
        res->error = "record is not a JSON object";
        return DOCB_BAD;
    }
    for (int i = 0; i < b->nnodes; i++) b->slot[i] = -1;
    resolve(b, 0, 0);
    make_id(b, res);
    res->event_time = tok_epoch(&b->doc, b->slot[b->node_event_time]);

    size_t limit = cap < b->opt.max_doc_bytes ? cap : b->opt.max_doc_bytes;
    long n = build_pass(b, out, limit, 0, 0, fl, res);
    if (n >= 0 && res->truncated_values > 0) {
        /* A literal value was cut at 4096 characters (or an array at 1000 values): the
         * document must say so, and its flag comes first. Rare, so built again. */
        reset_counts(res);
        n = build_pass(b, out, limit, 0, 1, fl, res);
        res->trimmed = 1;
    }
    if (n < 0) {
        /* Too big for cap, or for the document limit. Only the latter is trimmed: a batch
         * that is merely full gets flushed by the caller. */
        if (cap < b->opt.max_doc_bytes) return DOCB_NOSPACE;
        reset_counts(res);
        n = build_pass(b, out, limit, 1, 0, fl, res);
        if (n < 0) {
            res->error = "document header does not fit the maximum document size";
            return DOCB_BAD;
        }
        res->trimmed = 1;
    }
    if (res->fields == 0) {
        res->error = "record has no indexable fields";
        return DOCB_BAD;
    }
    return n;
}

long docb_build_fields(doc_builder *b, const char *rec, size_t len, char *out, size_t cap, docb_fields *fl,
                       docb_result *res) {
    long n = build_doc(b, rec, len, out, cap, fl, res);
    if (n <= 0 && fl) fl->complete = 0;
    return n;
}

long docb_build(doc_builder *b, const char *rec, size_t len, char *out, size_t cap, docb_result *res) {
    return build_doc(b, rec, len, out, cap, NULL, res);
}
