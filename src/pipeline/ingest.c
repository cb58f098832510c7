#include "pipeline/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "pipeline/gunzip.h"
#include "pipeline/rsplit.h"

struct ingest_pipe {
    gunzip *gz;
    rsplit *rs;
};

ingest_pipe *ingest_pipe_new(size_t max_record) {
    ingest_pipe *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->gz = gunzip_new();
    p->rs = rsplit_new(max_record);
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
    free(p);
}

static void maybe_done(ingest_obj *o) {
    if (o->reported || !o->input_ended || o->acked + o->failed < o->records) return;
    o->reported = 1;
    int status = (o->error || o->failed) ? -1 : 0;
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

/* Too large or not an object: dead-lettered, and counted as one of the object's records, done. */
static void on_skipped(void *ud, const rsplit_skip *k) {
    ingest_obj *o = ud;
    o->records++;
    indexer_reject(o->ix, &o->owner, k->reason, k->offset, k->size, k->head, k->head_len);
}

static int on_record(void *ud, const char *rec, size_t len) {
    ingest_obj *o = ud;
    int r = indexer_add(o->ix, rec, len, &o->owner);
    if (r == INDEXER_BUSY) return 1;
    /* OK and BAD both consumed the record; BAD was dead-lettered and acknowledged already. */
    o->records++;
    return 0;
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
    log_warn("%s: %s (records before this point are kept)", o->name, o->errmsg);
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
        o->bytes_out += produced;
        int r = rsplit_commit(p->rs, produced, on_record, o);
        if (r == RSPLIT_ERR) {
            set_error(o, "split", rsplit_error(p->rs));
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
    /* First the record that was refused, then the kept input. */
    int r = rsplit_commit(o->pipe->rs, 0, on_record, o);
    if (r == RSPLIT_STOPPED) return INGEST_FULL;
    if (r == RSPLIT_ERR) {
        set_error(o, "split", rsplit_error(o->pipe->rs));
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

int ingest_end(ingest_obj *o, ingest_pipe **pipe_out) {
    ingest_pipe *p = o->pipe;
    if (!o->error && o->stalled) {
        set_error(o, "internal", "input ended while stalled");
    }
    if (!o->error && gunzip_finish(p->gz) != GUNZIP_OK) set_error(o, "gunzip", gunzip_error(p->gz));
    if (!o->error && rsplit_finish(p->rs) != RSPLIT_OK) set_error(o, "split", rsplit_error(p->rs));
    const rsplit_stats *st = rsplit_get_stats(p->rs);
    if (!o->error && !st->saw_records) o->digest_like = 1;
    o->pipe = NULL;
    o->input_ended = 1;
    if (pipe_out) *pipe_out = p;
    int status = o->error ? INGEST_ERR : INGEST_OK;
    maybe_done(o);
    return status;
}

void ingest_abort(ingest_obj *o, const char *why, ingest_pipe **pipe_out) {
    set_error(o, "aborted", why);
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
