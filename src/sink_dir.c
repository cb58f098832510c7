/* The dir sink: every batch becomes one file, written whole to a temporary name and renamed,
 * so a batch file that exists is complete. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "log.h"
#include "sink.h"

typedef struct dir_sink {
    sink base;
    char dir[4096];
    int bulk;
    unsigned long seq;
} dir_sink;

static int write_all(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    int rc = (w == len) ? 0 : -1;
    if (fclose(f) != 0) rc = -1;
    return rc;
}

static void dir_submit(sink *s, struct batch *b) {
    dir_sink *d = (dir_sink *)s;
    size_t len = 0;
    const char *body = batch_body(b, &len);
    char tmp[4300], path[4200];
    d->seq++;
    snprintf(path, sizeof path, "%s/batch-%06lu.%s", d->dir, d->seq, d->bulk ? "ndjson" : "json");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int ok = write_all(tmp, body, len) == 0 && rename(tmp, path) == 0;
    if (!ok) {
        log_error("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    s->done(s->done_ud, b, ok);
}

static void dir_close(sink *s) { free(s); }

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

sink *sink_dir_new(const char *dir, int bulk_format) {
    if (strlen(dir) >= 4000) {
        log_error("output directory name too long");
        return NULL;
    }
    if (mkdirs(dir) != 0) {
        log_error("cannot create %s: %s", dir, strerror(errno));
        return NULL;
    }
    dir_sink *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->base.ops = &dir_ops;
    d->base.max_in_flight = 1;
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    d->bulk = bulk_format;
    return &d->base;
}
