#include "pipeline/deadletter.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/jsonw.h"
#include "base/log.h"

struct deadletter {
    char *path; /* opened on the first entry: a run that has none leaves no file behind */
    int fd;     /* -1 until then */
    int durable;
    int created;        /* this run created the file: its folder is synced once too */
    int folder_synced;  /* the folder entry of a created file is on disk */
    int unsynced;       /* entries appended since the last sync */
    uint64_t lost_upto; /* entries numbered up to this one were covered by a failed sync */
    int torn;           /* a failed write could not be cut off: start the next entry on a new line */
    char *line;         /* one entry: the escaped payload takes at most 6 bytes per byte in */
    size_t line_cap;
    deadletter_stats st;
};

/* Whether the file could be appended to, without creating it: the file itself when it exists,
 * else its folder. So a bad --dead-letter is refused at start, not at the first dead letter. */
static int can_append(const char *path) {
    if (access(path, F_OK) == 0) return access(path, W_OK);
    if (errno != ENOENT) return -1;
    char *copy = strdup(path);
    if (!copy) return -1;
    int rc = access(dirname(copy), W_OK | X_OK);
    free(copy);
    return rc;
}

deadletter *deadletter_open(const char *path, int durable) {
    deadletter *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->fd = -1;
    d->durable = durable;
    if (path) {
        if (can_append(path) != 0) {
            log_error("cannot write the dead-letter file %s: %s", path, strerror(errno));
            free(d);
            return NULL;
        }
        if (!(d->path = strdup(path))) {
            free(d);
            return NULL;
        }
    }
    return d;
}

void deadletter_close(deadletter *d) {
    if (!d) return;
    if (d->fd >= 0) close(d->fd);
    free(d->path);
    free(d->line);
    free(d);
}

/* Opens the file for appending, creating it with mode 0600 (set again after creation, since
 * the umask may have taken bits away). 0 or -1 with errno. */
static int open_file(deadletter *d) {
    int fd = open(d->path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (fchmod(fd, 0600) != 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        d->created = 1;
    } else if (errno == EEXIST) {
        fd = open(d->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    }
    if (fd < 0) return -1;
    d->fd = fd;
    return 0;
}

/* Whole entry or nothing: a short write (a full disk, a file size limit) is cut off again so
 * the file keeps holding whole JSON lines. 0 or -1 with errno. */
static int write_line(deadletter *d, const char *p, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(d->fd, p + done, n - done);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        int e = w < 0 ? errno : ENOSPC;
        struct stat st;
        if (done > 0 &&
            (fstat(d->fd, &st) != 0 || st.st_size < (off_t)done || ftruncate(d->fd, st.st_size - (off_t)done) != 0))
            d->torn = 1;
        errno = e;
        return -1;
    }
    return 0;
}

/* Makes room for an entry of head_len bytes plus len bytes of data escaped. */
static int reserve(deadletter *d, size_t head_len, size_t len) {
    if (len > (SIZE_MAX - head_len - 64) / 6) return -1;
    size_t need = head_len + len * 6 + 64;
    if (need <= d->line_cap) return 0;
    char *p = realloc(d->line, need);
    if (!p) return -1;
    d->line = p;
    d->line_cap = need;
    return 0;
}

/* The entry as one JSON line in d->line; its length, or -1. */
static long format_entry(deadletter *d, const char *kind, const char *source, const char *reason,
                         const deadletter_part *part, const char *data, size_t len) {
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* Escape the short fields first, each into its own stack buffer. */
    char src[2200], why[1100], head[3500];
    long ns = jsonw_escape(source ? source : "", source ? strlen(source) : 0, src, sizeof src, JSONW_NO_LIMIT,
                           JSONW_TRUNCATE, NULL);
    long nw = jsonw_escape(reason ? reason : "", reason ? strlen(reason) : 0, why, sizeof why, JSONW_NO_LIMIT,
                           JSONW_TRUNCATE, NULL);
    if (ns < 0 || nw < 0) return -1;
    char where[96] = "";
    if (part)
        snprintf(where, sizeof where, ",\"offset\":%llu,\"size\":%llu%s", (unsigned long long)part->offset,
                 (unsigned long long)part->size, len < part->size ? ",\"truncated\":true" : "");
    int nh = snprintf(head, sizeof head,
                      "%s{\"time\":\"%s\",\"kind\":\"%s\",\"source\":\"%.*s\",\"reason\":\"%.*s\"%s,\"data\":\"",
                      d->torn ? "\n" : "", when, kind, (int)ns, src, (int)nw, why, where);
    if (nh < 0 || (size_t)nh >= sizeof head || reserve(d, (size_t)nh, len) != 0) return -1;
    memcpy(d->line, head, (size_t)nh);
    size_t room = d->line_cap - (size_t)nh - 3;
    long nd = jsonw_escape(data ? data : "", data ? len : 0, d->line + nh, room, JSONW_NO_LIMIT, 0, NULL);
    if (nd < 0) return -1;
    size_t n = (size_t)nh + (size_t)nd;
    memcpy(d->line + n, "\"}\n", 3);
    return (long)(n + 3);
}

int deadletter_append(deadletter *d, const char *kind, const char *source, const char *reason,
                      const deadletter_part *part, const char *data, size_t len) {
    if (!d) return -1;
    const char *from = source ? source : "?";
    log_warn("dead letter (%s) from %s: %s", kind, from, reason ? reason : "?");
    if (!d->path) {
        d->st.written++;
        return 0;
    }
    const char *what = "cannot open it";
    int e = ENOMEM;
    if (d->fd >= 0 || open_file(d) == 0) {
        long n = format_entry(d, kind, source, reason, part, data, len);
        what = "cannot write the entry";
        if (n > 0 && write_line(d, d->line, (size_t)n) == 0) {
            d->torn = 0;
            d->unsynced = 1;
            d->st.written++;
            return 0;
        }
        if (n > 0) e = errno;
    } else {
        e = errno;
    }
    d->st.failed++;
    log_error("dead-letter file %s: %s for the %s from %s: %s (the %s is not acknowledged)", d->path, what, kind, from,
              strerror(e), kind);
    return -1;
}

/* fsync that takes "this kind of file cannot be synced" (a pipe, /dev/null) as done. */
static int sync_fd(int fd) { return fsync(fd) == 0 || errno == EINVAL || errno == EROFS ? 0 : -1; }

/* The folder entry of a file this run created must reach the disk too, once. */
static int sync_folder(deadletter *d) {
    char *copy = strdup(d->path);
    if (!copy) return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0) return -1;
    int rc = sync_fd(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int deadletter_sync(deadletter *d, uint64_t first) {
    if (!deadletter_durable(d)) return 0;
    if (d->unsynced) {
        d->unsynced = 0;
        d->st.syncs++;
        if (sync_fd(d->fd) == 0 && (!d->created || d->folder_synced || sync_folder(d) == 0)) {
            d->folder_synced = d->created;
        } else {
            /* After a failed fsync the kernel may have dropped the pages: the entries since the
             * last good sync are lost for good, whatever a later fsync says. */
            d->lost_upto = d->st.written;
            d->st.sync_failed++;
            log_error("dead-letter file %s: cannot sync it to disk: %s (what its recent entries stand for is not "
                      "acknowledged)",
                      d->path, strerror(errno));
        }
    }
    return first <= d->lost_upto ? -1 : 0;
}

int deadletter_durable(const deadletter *d) { return d && d->durable && d->path; }

int deadletter_write(deadletter *d, const char *kind, const char *source, const char *reason, const char *data,
                     size_t len) {
    if (deadletter_append(d, kind, source, reason, NULL, data, len) != 0) return -1;
    return deadletter_sync(d, deadletter_count(d));
}

int deadletter_write_part(deadletter *d, const char *kind, const char *source, const char *reason, uint64_t offset,
                          uint64_t size, const char *data, size_t len) {
    const deadletter_part part = {offset, size};
    if (deadletter_append(d, kind, source, reason, &part, data, len) != 0) return -1;
    return deadletter_sync(d, deadletter_count(d));
}

const deadletter_stats *deadletter_get_stats(const deadletter *d) {
    static const deadletter_stats none;
    return d ? &d->st : &none;
}

uint64_t deadletter_count(const deadletter *d) { return d ? d->st.written : 0; }
