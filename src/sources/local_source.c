#include "sources/local_source.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/progress.h"
#include "pipeline/ingest.h"
#include "sources/trail_key.h"

#define READ_CHUNK (64 * 1024)
/* Objects whose input has ended but whose records still sit in unacknowledged batches. */
#define MAX_OBJECTS 256

typedef struct file_list {
    char **paths;
    size_t n, cap;
} file_list;

typedef struct local_run {
    uv_loop_t *loop;
    indexer *ix;
    local_stats *st;
    const local_options *opt;
    file_list files;
    size_t next;
    ingest_pipe *pipe;
    ingest_obj *objs;
    int *free_slots;
    int nfree;
    ingest_obj *cur;
    int fd;
    uint8_t *chunk;
    uv_idle_t idle;
    int idle_on;
    progress prog;
} local_run;

static local_stats *walk_stats; /* nftw has no user pointer */
static file_list *walk_list;

static int list_add(file_list *l, const char *path) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->paths, cap * sizeof *p);
        if (!p) return -1;
        l->paths = p;
        l->cap = cap;
    }
    l->paths[l->n] = strdup(path);
    if (!l->paths[l->n]) return -1;
    l->n++;
    return 0;
}

static int walk_one(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    if (type != FTW_F) return 0;
    switch (key_classify(path, strlen(path))) {
    case KEY_DIGEST:
        walk_stats->digests++;
        log_debug("%s: skipped: a CloudTrail digest (by its folder)", path);
        return 0;
    case KEY_OTHER:
    case KEY_FOLDER:
        walk_stats->others++;
        log_debug("%s: not read: a walk reads names with " KEY_READ_NAMES " (give the file by name to read it)", path);
        return 0;
    default: return list_add(walk_list, path) == 0 ? 0 : -1;
    }
}

static int cmp_path(const void *a, const void *b) { return key_replay_cmp(*(char *const *)a, *(char *const *)b); }

static int collect(local_run *r, char **paths, int npaths) {
    walk_stats = r->st;
    walk_list = &r->files;
    for (int i = 0; i < npaths; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) != 0) {
            log_error("%s: %s", paths[i], strerror(errno));
            return -1;
        }
        if (S_ISDIR(sb.st_mode)) {
            size_t before = r->files.n;
            if (nftw(paths[i], walk_one, 32, FTW_PHYS) != 0) {
                log_error("%s: cannot walk the folder", paths[i]);
                return -1;
            }
            /* An empty folder adds nothing, and paths may still be NULL (qsort wants an array). */
            if (r->files.n > before) qsort(r->files.paths + before, r->files.n - before, sizeof(char *), cmp_path);
        } else if (list_add(&r->files, paths[i]) != 0) {
            return -1;
        }
    }
    r->st->files_total = r->files.n;
    return 0;
}

static void pump(local_run *r);

static void on_obj_done(ingest_obj *o, int status, void *ud) {
    local_run *r = ud;
    r->st->records += o->records;
    r->st->records_failed += o->failed;
    r->st->control_messages += o->control_messages;
    r->st->bytes_in += o->bytes_in;
    r->st->bytes_json += o->bytes_out;
    switch (o->outcome) {
    case INGEST_READ: r->st->files_indexed += status == 0; break;
    case INGEST_REFUSED: r->st->files_refused++; break;
    case INGEST_EMPTY: r->st->files_empty++; break;
    case INGEST_DIGEST: r->st->digests++; break;
    default: break;
    }
    if (status != 0) r->st->files_failed++;
    r->st->files_done++;
    r->free_slots[r->nfree++] = (int)(o - r->objs);
    progress_update(&r->prog, r->st->files_done, r->st->records);
}

static void on_idle(uv_idle_t *h) { pump(h->data); }

static void on_space(void *ud) {
    local_run *r = ud;
    if (r->cur && r->cur->stalled) {
        int rc = ingest_resume(r->cur);
        if (rc == INGEST_FULL) return;
    }
    if (!r->idle_on) {
        r->idle_on = 1;
        uv_idle_start(&r->idle, on_idle);
    }
}

static void stop_idle(local_run *r) {
    if (r->idle_on) {
        r->idle_on = 0;
        uv_idle_stop(&r->idle);
    }
}

static void finish_current(local_run *r) {
    ingest_pipe *p = NULL;
    ingest_end(r->cur, &p);
    r->pipe = p;
    close(r->fd);
    r->fd = -1;
    r->cur = NULL;
}

/* One step: open the next file or read one chunk of the current one. */
static void pump(local_run *r) {
    if (!r->cur) {
        if (r->next >= r->files.n) {
            /* All input read: send the last partial batch; the loop ends when acks settle. */
            indexer_flush(r->ix);
            stop_idle(r);
            return;
        }
        if (r->nfree == 0) {
            /* Every slot waits for acks that sit in the partial batch. */
            indexer_flush(r->ix);
            if (r->nfree == 0) {
                stop_idle(r); /* resumed by on_space when a batch completes */
                return;
            }
        }
        const char *path = r->files.paths[r->next++];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            log_error("%s: %s", path, strerror(errno));
            r->st->files_failed++;
            r->st->files_done++;
            return;
        }
        ingest_obj *o = &r->objs[r->free_slots[--r->nfree]];
        ingest_begin(o, r->ix, r->pipe, path, on_obj_done, r);
        r->pipe = NULL;
        r->cur = o;
        r->fd = fd;
    }
    ssize_t n = read(r->fd, r->chunk, READ_CHUNK);
    if (n < 0) {
        if (errno == EINTR) return;
        ingest_pipe *p = NULL;
        ingest_abort(r->cur, strerror(errno), &p);
        r->pipe = p;
        close(r->fd);
        r->fd = -1;
        r->cur = NULL;
        return;
    }
    if (n == 0) {
        finish_current(r);
        return;
    }
    int rc = ingest_feed(r->cur, r->chunk, (size_t)n);
    if (rc == INGEST_FULL) {
        stop_idle(r);
    } else if (rc == INGEST_ERR) {
        finish_current(r); /* the error is recorded on the object; its good records stay */
    }
}

int local_source_run(uv_loop_t *loop, indexer *ix, char **paths, int npaths, const local_options *o, local_stats *st) {
    local_run r;
    memset(&r, 0, sizeof r);
    memset(st, 0, sizeof *st);
    r.loop = loop;
    r.ix = ix;
    r.st = st;
    r.opt = o;
    r.fd = -1;
    int rc = -1;
    if (collect(&r, paths, npaths) != 0) goto out;
    r.pipe = ingest_pipe_new(o->max_record);
    r.objs = calloc(MAX_OBJECTS, sizeof *r.objs);
    r.free_slots = calloc(MAX_OBJECTS, sizeof *r.free_slots);
    r.chunk = malloc(READ_CHUNK);
    if (!r.pipe || !r.objs || !r.free_slots || !r.chunk) {
        log_error("out of memory");
        goto out;
    }
    for (int i = MAX_OBJECTS - 1; i >= 0; i--) r.free_slots[r.nfree++] = i;
    progress_init(&r.prog, loop, o->progress, "files", r.files.n);
    indexer_on_space(ix, on_space, &r);
    uv_idle_init(loop, &r.idle);
    r.idle.data = &r;
    r.idle_on = 1;
    uv_idle_start(&r.idle, on_idle);
    uv_run(loop, UV_RUN_DEFAULT);
    progress_stop(&r.prog);
    indexer_on_space(ix, NULL, NULL);
    uv_close((uv_handle_t *)&r.idle, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    if (st->files_done < st->files_total)
        log_error("%llu file(s) were not finished", (unsigned long long)(st->files_total - st->files_done));
    if (st->others)
        log_warn("%llu file(s) in the folders were not read: a walk reads names with " KEY_READ_NAMES
                 " (--verbose names them)",
                 (unsigned long long)st->others);
    rc = (st->files_failed || st->files_refused || st->others || st->records_failed || st->files_done < st->files_total)
             ? 1
             : 0;
out:
    for (int i = 0; r.objs && i < MAX_OBJECTS; i++) ingest_obj_free(&r.objs[i]);
    free(r.objs);
    free(r.free_slots);
    free(r.chunk);
    ingest_pipe_free(r.pipe);
    for (size_t i = 0; i < r.files.n; i++) free(r.files.paths[i]);
    free(r.files.paths);
    return rc;
}
