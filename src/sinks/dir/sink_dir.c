/* The dir sink: every batch becomes one file, written whole to a temporary name and renamed,
 * so a batch file that exists is complete. Durable mode also syncs the file and the folder before
 * acknowledging, for callers that act on the acknowledgement (a replay checkpoint): a crash can
 * then never lose a batch that was reported stored. It costs system time (about 30% more CPU for
 * a local replay), so only they ask for it.
 * Numbering continues after the batch files already in the folder: a resumed replay into the
 * same folder never overwrites the batches of the days it recorded as finished.
 * Submitted batches are written from the loop (a zero-delay timer), so their completion never
 * runs inside submit, as pipeline/sink.h requires. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "pipeline/batch.h"
#include "sinks/dir/sink_dir.h"

typedef struct dir_sink {
    sink base;
    char dir[4096];
    int bulk;
    int durable;
    unsigned long seq;
    uv_timer_t kick;
    struct batch **queue; /* FIFO ring of submitted batches not yet written */
    size_t qcap, qhead, qlen;
    int closing;
} dir_sink;

static int write_all(const char *path, const char *data, size_t len, int durable) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    int rc = (w == len && (!durable || (fflush(f) == 0 && fsync(fileno(f)) == 0))) ? 0 : -1;
    if (fclose(f) != 0) rc = -1;
    return rc;
}

/* The rename must reach the disk before the batch is acknowledged. */
static void sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    fsync(fd);
    close(fd);
}

/* Highest N of the batch-N.json / batch-N.ndjson files in dir (0 when none). */
static unsigned long last_batch(const char *dir) {
    unsigned long max = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned long n;
        char ext[8];
        if (sscanf(e->d_name, "batch-%lu.%7s", &n, ext) == 2 && (!strcmp(ext, "json") || !strcmp(ext, "ndjson")) &&
            n > max)
            max = n;
    }
    closedir(d);
    return max;
}

static void write_batch(dir_sink *d, struct batch *b) {
    sink *s = &d->base;
    size_t len = 0;
    const char *body = batch_body(b, &len);
    char tmp[4300], path[4200];
    d->seq++;
    snprintf(path, sizeof path, "%s/batch-%06lu.%s", d->dir, d->seq, d->bulk ? "ndjson" : "json");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int ok = write_all(tmp, body, len, d->durable) == 0 && rename(tmp, path) == 0;
    if (ok && d->durable) sync_dir(d->dir);
    if (!ok) {
        log_error("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    s->stats.batches++;
    if (ok) {
        s->stats.docs_accepted += batch_count(b);
        s->stats.bytes += len;
    } else {
        s->stats.batches_failed++;
    }
    s->done(s->done_ud, b, ok);
}

static void on_closed(uv_handle_t *h) {
    dir_sink *d = h->data;
    free(d->queue);
    free(d);
}

/* Write what was submitted, oldest first; done may submit more (written on the next turn). */
static void on_kick(uv_timer_t *t) {
    dir_sink *d = t->data;
    size_t n = d->qlen;
    while (n-- > 0) {
        struct batch *b = d->queue[d->qhead];
        d->qhead = (d->qhead + 1) % d->qcap;
        d->qlen--;
        write_batch(d, b);
    }
    if (d->qlen > 0) uv_timer_start(&d->kick, on_kick, 0, 0);
    else if (d->closing) uv_close((uv_handle_t *)&d->kick, on_closed);
}

static void dir_submit(sink *s, struct batch *b) {
    dir_sink *d = (dir_sink *)s;
    if (d->qlen == d->qcap) {
        size_t ncap = d->qcap ? d->qcap * 2 : 8;
        struct batch **q = malloc(ncap * sizeof *q);
        if (!q) {
            /* No room to remember the batch: nothing else can complete it from the loop. */
            log_error("dir sink: out of memory");
            abort();
        }
        for (size_t i = 0; i < d->qlen; i++) q[i] = d->queue[(d->qhead + i) % d->qcap];
        free(d->queue);
        d->queue = q;
        d->qcap = ncap;
        d->qhead = 0;
    }
    d->queue[(d->qhead + d->qlen) % d->qcap] = b;
    d->qlen++;
    uv_timer_start(&d->kick, on_kick, 0, 0);
}

static void dir_close(sink *s) {
    dir_sink *d = (dir_sink *)s;
    if (d->closing) return;
    d->closing = 1;
    if (d->qlen == 0) uv_close((uv_handle_t *)&d->kick, on_closed); /* else once written */
}

static const sink_ops dir_ops = {"dir", dir_submit, dir_close};

static int mkdirs(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
    return 0;
}

int sink_dir_prepare(const char *dir) {
    if (strlen(dir) >= 4000) {
        log_error("output directory name too long");
        return -1;
    }
    if (mkdirs(dir) != 0) {
        log_error("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

sink *sink_dir_open(uv_loop_t *loop, const char *dir, int bulk_format, int durable) {
    if (sink_dir_prepare(dir) != 0) return NULL;
    dir_sink *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->base.ops = &dir_ops;
    d->base.max_in_flight = 1;
    d->base.state.limit = d->base.state.max_limit = 1; /* one file at a time */
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    d->bulk = bulk_format;
    d->durable = durable;
    d->seq = last_batch(dir);
    uv_timer_init(loop, &d->kick);
    d->kick.data = d;
    return &d->base;
}
