#include "pipeline/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "pipeline/gunzip.h"

struct ingest_pipe {
    gunzip *gz;
    rsplit *rs;
    size_t max_record;
    char *scratch; /* the text of records held in strings; allocated on the first one */
    size_t scratch_cap;
};

ingest_pipe *ingest_pipe_new(size_t max_record) {
    ingest_pipe *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->gz = gunzip_new();
    p->rs = rsplit_new(max_record);
    p->max_record = max_record;
    if (!p->gz || !p->rs) {
        ingest_pipe_free(p);
        return NULL;
    }
    return p;
}

void ingest_pipe_free(ingest_pipe *p) {
    if (!p) return;
    gunzip_free(p->gz);
    rsplit_free(p->rs);
    free(p->scratch);
    free(p);
}

static void maybe_done(ingest_obj *o) {
    if (o->reported || !o->input_ended || o->acked + o->failed < o->records) return;
    o->reported = 1;
    int status = (o->outcome == INGEST_FAILED || o->failed) ? -1 : 0;
    if (o->done) o->done(o, status, o->ud);
}

static void on_acked(indexer_owner *owner, uint32_t n, int ok) {
    ingest_obj *o = (ingest_obj *)owner;
    if (ok) o->acked += n;
    else o->failed += n;
    maybe_done(o);
}

static void on_skipped(void *ud, const rsplit_skip *k);

void ingest_begin(ingest_obj *o, indexer *ix, ingest_pipe *p, const char *name, ingest_done_fn done, void *ud) {
    uint8_t *stash = o->stash;
    size_t stash_cap = o->stash_cap;
    memset(o, 0, sizeof *o);
    o->stash = stash;
    o->stash_cap = stash_cap;
    o->owner.acked = on_acked;
    o->ix = ix;
    o->pipe = p;
    o->done = done;
    o->ud = ud;
    snprintf(o->name, sizeof o->name, "%s", name);
    o->owner.source = o->name;
    gunzip_reset(p->gz);
    rsplit_reset(p->rs);
    rsplit_on_skip(p->rs, on_skipped, o);
}

/* Something that holds no record: dead-lettered (where it was, why, its first bytes), and
 * counted as one of the object's records, done at once. */
static void reject(ingest_obj *o, const char *why, uint64_t offset, uint64_t size, const char *head, size_t head_len) {
    o->records++;
    o->dead_lettered++;
    indexer_reject(o->ix, &o->owner, why, offset, size, head, head_len);
}

/* Too large, not an object or a string, or a broken line. */
static void on_skipped(void *ud, const rsplit_skip *k) {
    reject(ud, k->reason, k->offset, k->size, k->head, k->head_len);
}

/* What the object is refused as: none of the shapes. */
static void refuse(ingest_obj *o, const char *found) {
    o->stalled = 0;
    if (o->error) return;
    o->error = o->refused = 1;
    snprintf(o->errmsg, sizeof o->errmsg, "%s (%s)", found, shape_accepted);
}

static int ensure_scratch(ingest_pipe *p) {
    if (p->scratch) return 0;
    /* A string's text is never longer than the string: the element limit bounds it. */
    p->scratch = malloc(p->max_record + 1);
    if (!p->scratch) return -1;
    p->scratch_cap = p->max_record + 1;
    return 0;
}

/* An element that is not plainly a record: what it is, then its records one by one. A busy
 * indexer stops it in the middle; the splitter delivers the same element again, and the cursor
 * says where it was. */
static int expand_element(ingest_obj *o, const char *v, size_t n) {
    ingest_pipe *p = o->pipe;
    uint64_t at = rsplit_element_offset(p->rs);
    if (!o->expanding) {
        if (ensure_scratch(p) != 0) {
            reject(o, "out of memory for the text of a record held in a string", at, n, v, n);
            return RSPLIT_TAKEN;
        }
        rsplit_container where = rsplit_container_of(p->rs);
        const rsplit_stats *st = rsplit_get_stats(p->rs);
        int first = st->elements + st->oversized + st->non_objects + st->broken == 0;
        char why[400];
        shape_kind k =
            shape_look(&o->cursor, v, n, where == RSPLIT_RECORDS, p->scratch, p->scratch_cap, why, sizeof why);
        o->kinds |= 1u << k;
        if (k == SHAPE_UNKNOWN) {
            if (first && where != RSPLIT_RECORDS) {
                char found[480];
                snprintf(found, sizeof found, "its first %s is %s",
                         where == RSPLIT_TOP      ? "value"
                         : where == RSPLIT_EVENTS ? "element of Events"
                                                  : "array element",
                         why);
                refuse(o, found);
                return RSPLIT_ABORT;
            }
            reject(o, why, at, n, v, n);
            return RSPLIT_TAKEN;
        }
        if (k == SHAPE_CWL_CONTROL) o->control_messages++;
        o->expanding = 1;
    }
    for (;;) {
        shape_cursor before = o->cursor;
        shape_part part;
        int r = shape_next(&o->cursor, v, n, p->scratch, p->scratch_cap, &part);
        if (r == SHAPE_END) break;
        if (r == SHAPE_BAD) {
            reject(o, part.why, at + part.offset, part.len, part.data, part.len);
            continue;
        }
        if (indexer_add(o->ix, part.data, part.len, &o->owner) == INDEXER_BUSY) {
            o->cursor = before;
            return RSPLIT_WAIT;
        }
        o->records++;
    }
    o->expanding = 0;
    return RSPLIT_TAKEN;
}

static int on_element(void *ud, const char *v, size_t n) {
    ingest_obj *o = ud;
    /* The hot path: CloudTrail's own records need no look inside. */
    if (!o->expanding && shape_is_plain_record(v, n)) {
        if (indexer_add(o->ix, v, n, &o->owner) == INDEXER_BUSY) return RSPLIT_WAIT;
        /* OK and BAD both consumed the record; BAD was dead-lettered and acknowledged already. */
        o->records++;
        return RSPLIT_TAKEN;
    }
    return expand_element(o, v, n);
}

/* What happened to the records, for the message of an error. */
static void records_so_far(const ingest_obj *o, char *out, size_t cap) {
    if (o->records == 0) snprintf(out, cap, "no record of it was read");
    else
        snprintf(out, cap, "the %llu record(s) read before this point are kept, the rest is not read",
                 (unsigned long long)o->records);
}

static void set_error(ingest_obj *o, const char *what, const char *msg) {
    /* An object in error never resumes: it must not look stalled (its producer would wait
     * for a resume that never comes). */
    o->stalled = 0;
    if (o->error) return;
    o->error = 1;
    if (!msg) msg = "error";
    /* Module messages usually name the module already. */
    if (strncmp(msg, what, strlen(what)) == 0) snprintf(o->errmsg, sizeof o->errmsg, "%s", msg);
    else snprintf(o->errmsg, sizeof o->errmsg, "%s: %s", what, msg);
    char kept[120];
    records_so_far(o, kept, sizeof kept);
    log_warn("%s: %s; %s", o->name, o->errmsg, kept);
}

/* The splitter stopped with an error: the file is damaged, or none of the shapes. */
static void split_error(ingest_obj *o) {
    rsplit *rs = o->pipe->rs;
    if (o->refused) return; /* the callback refused it and said why */
    if (rsplit_refused(rs)) refuse(o, rsplit_error(rs));
    else set_error(o, "split", rsplit_error(rs));
}

/* Keep what the indexer could not take yet; at most one chunk is outstanding. */
static int stash_rest(ingest_obj *o, const uint8_t *data, size_t n) {
    if (n > o->stash_cap) {
        uint8_t *s = realloc(o->stash, n);
        if (!s) {
            set_error(o, "memory", "cannot keep input");
            return INGEST_ERR;
        }
        o->stash = s;
        o->stash_cap = n;
    }
    if (n) memmove(o->stash, data, n);
    o->stash_len = n;
    o->stash_off = 0;
    o->stalled = 1;
    return INGEST_FULL;
}

static void keep_head(ingest_obj *o, const char *data, size_t n) {
    size_t room = sizeof o->head - o->head_len;
    if (n > room) n = room;
    memcpy(o->head + o->head_len, data, n);
    o->head_len += n;
}

/* Inflate and split data; on backpressure, keep the unconsumed input in the stash. */
static int pump(ingest_obj *o, const uint8_t *data, size_t n, int from_stash) {
    ingest_pipe *p = o->pipe;
    size_t off = 0;
    while (off < n) {
        size_t avail = 0, consumed = 0, produced = 0;
        char *space = rsplit_space(p->rs, &avail);
        if (!space) {
            set_error(o, "split", rsplit_error(p->rs));
            return INGEST_ERR;
        }
        if (gunzip_step(p->gz, data + off, n - off, &consumed, (uint8_t *)space, avail, &produced) != GUNZIP_OK) {
            set_error(o, "gunzip", gunzip_error(p->gz));
            return INGEST_ERR;
        }
        off += consumed;
        if (o->head_len < sizeof o->head) keep_head(o, space, produced);
        o->bytes_out += produced;
        int r = rsplit_commit(p->rs, produced, on_element, o);
        if (r == RSPLIT_ERR) {
            split_error(o);
            return INGEST_ERR;
        }
        if (r == RSPLIT_STOPPED) {
            if (from_stash) {
                o->stash_off += off;
                o->stalled = 1;
                return INGEST_FULL;
            }
            return stash_rest(o, data + off, n - off);
        }
        if (consumed == 0 && produced == 0) {
            set_error(o, "gunzip", "no progress");
            return INGEST_ERR;
        }
    }
    if (from_stash) o->stash_off += off;
    return INGEST_OK;
}

int ingest_feed(ingest_obj *o, const uint8_t *data, size_t n) {
    if (o->error) return INGEST_ERR;
    if (o->stalled) return INGEST_FULL;
    o->bytes_in += n;
    return pump(o, data, n, 0);
}

int ingest_resume(ingest_obj *o) {
    if (o->error) return INGEST_ERR;
    if (!o->stalled) return INGEST_OK;
    /* First the element that was refused, then the kept input. */
    int r = rsplit_commit(o->pipe->rs, 0, on_element, o);
    if (r == RSPLIT_STOPPED) return INGEST_FULL;
    if (r == RSPLIT_ERR) {
        split_error(o);
        return INGEST_ERR;
    }
    o->stalled = 0;
    if (o->stash_off < o->stash_len) {
        r = pump(o, o->stash + o->stash_off, o->stash_len - o->stash_off, 1);
        if (r != INGEST_OK) return r;
    }
    o->stash_len = o->stash_off = 0;
    return INGEST_OK;
}

/* A file without a single JSON value: empty, or whitespace only. */
static void refuse_empty(ingest_obj *o) {
    char found[120];
    if (o->bytes_out == 0)
        snprintf(found, sizeof found, "an empty file (%llu bytes%s)", (unsigned long long)o->bytes_in,
                 o->bytes_in ? " of gzip" : "");
    else snprintf(found, sizeof found, "a file of whitespace only (%llu bytes)", (unsigned long long)o->bytes_out);
    refuse(o, found);
}

/* The object is over: what it was. A refused file is dead-lettered here, once. */
static void judge(ingest_obj *o) {
    const rsplit_stats *st = rsplit_get_stats(o->pipe->rs);
    o->containers = st->containers;
    if (!o->error && st->values == 0) refuse_empty(o);
    if (o->refused) {
        o->outcome = INGEST_REFUSED;
        log_warn("%s: not indexed: %s", o->name, o->errmsg);
        if (indexer_reject_file(o->ix, o->name, o->errmsg, o->bytes_out, o->head, o->head_len) != 0) {
            o->outcome = INGEST_FAILED; /* not recorded anywhere: it must come back */
            snprintf(o->errmsg, sizeof o->errmsg, "refused, and its dead-letter entry could not be written");
        }
    } else if (o->error) {
        o->outcome = INGEST_FAILED;
    } else if (o->records > 0) {
        o->outcome = INGEST_READ;
    } else {
        o->outcome = (o->kinds & (1u << SHAPE_DIGEST)) ? INGEST_DIGEST : INGEST_EMPTY;
        char what[160];
        ingest_describe(o, what, sizeof what);
        log_debug("%s: %s, no records", o->name, what);
    }
}

int ingest_end(ingest_obj *o, ingest_pipe **pipe_out) {
    ingest_pipe *p = o->pipe;
    if (!o->error && o->stalled) set_error(o, "internal", "input ended while stalled");
    if (!o->error && gunzip_finish(p->gz) != GUNZIP_OK) set_error(o, "gunzip", gunzip_error(p->gz));
    if (!o->error && rsplit_finish(p->rs) != RSPLIT_OK) split_error(o);
    judge(o);
    o->pipe = NULL;
    o->input_ended = 1;
    if (pipe_out) *pipe_out = p;
    int status = o->outcome == INGEST_FAILED || o->outcome == INGEST_REFUSED ? INGEST_ERR : INGEST_OK;
    maybe_done(o);
    return status;
}

void ingest_abort(ingest_obj *o, const char *why, ingest_pipe **pipe_out) {
    set_error(o, "aborted", why);
    o->outcome = INGEST_FAILED;
    if (pipe_out) *pipe_out = o->pipe;
    o->pipe = NULL;
    o->stalled = 0;
    o->input_ended = 1;
    maybe_done(o);
}

void ingest_obj_free(ingest_obj *o) {
    free(o->stash);
    o->stash = NULL;
    o->stash_cap = 0;
}

void ingest_describe(const ingest_obj *o, char *out, size_t cap) {
    const char *container = (o->containers & RSPLIT_SAW_RECORDS)  ? "a {\"Records\":[...]} file"
                            : (o->containers & RSPLIT_SAW_EVENTS) ? "lookup-events output"
                            : (o->containers & RSPLIT_SAW_ARRAY)  ? "a JSON array"
                                                                  : "JSON values";
    char kinds[200] = "";
    size_t len = 0;
    for (int k = SHAPE_RECORD; k < SHAPE_NKINDS; k++) {
        if (!(o->kinds & (1u << k))) continue;
        int w = snprintf(kinds + len, sizeof kinds - len, "%s%ss", len ? ", " : "", shape_kind_name((shape_kind)k));
        if (w > 0 && (size_t)w < sizeof kinds - len) len += (size_t)w;
    }
    snprintf(out, cap, "%s%s%s", container, len ? " of " : "", kinds);
}
