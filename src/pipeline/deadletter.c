#include "pipeline/deadletter.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/jsonw.h"
#include "base/log.h"

struct deadletter {
    char *path; /* opened on the first entry: a run that has none leaves no file behind */
    FILE *f;
    char *scratch; /* escaped payload: at most 6 bytes out per byte in, bounded by the record limit */
    size_t scratch_cap;
    uint64_t count;
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

deadletter *deadletter_open(const char *path) {
    deadletter *d = calloc(1, sizeof *d);
    if (!d) return NULL;
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
    if (d->f) fclose(d->f);
    free(d->path);
    free(d->scratch);
    free(d);
}

/* Escape s into the scratch buffer (grown as needed, up to 6x the input). */
static long escape(deadletter *d, const char *s, size_t n) {
    size_t need = n * 6 + 16;
    if (need > d->scratch_cap) {
        char *p = realloc(d->scratch, need);
        if (!p) return -1;
        d->scratch = p;
        d->scratch_cap = need;
    }
    return jsonw_escape(s, n, d->scratch, d->scratch_cap, JSONW_NO_LIMIT, 0, NULL);
}

/* part: where the data sits in its source and how large the whole was, or NULL. */
static int write_entry(deadletter *d, const char *kind, const char *source, const char *reason, const uint64_t *part,
                       const char *data, size_t len) {
    if (!d) return -1;
    d->count++;
    log_warn("dead letter (%s) from %s: %s", kind, source ? source : "?", reason ? reason : "?");
    if (!d->path) return 0;
    if (!d->f && !(d->f = fopen(d->path, "a"))) {
        log_error("cannot open the dead-letter file %s: %s (the entry above is only in this log)", d->path,
                  strerror(errno));
        return -1;
    }
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* Escape the short fields first, each into its own stack buffer. */
    char src[2200], why[1100];
    long ns = jsonw_escape(source ? source : "", source ? strlen(source) : 0, src, sizeof src, JSONW_NO_LIMIT,
                           JSONW_TRUNCATE, NULL);
    long nw = jsonw_escape(reason ? reason : "", reason ? strlen(reason) : 0, why, sizeof why, JSONW_NO_LIMIT,
                           JSONW_TRUNCATE, NULL);
    long nd = escape(d, data, len);
    if (ns < 0 || nw < 0 || nd < 0) {
        log_error("dead letter from %s could not be written", source ? source : "?");
        return -1;
    }
    char where[96] = "";
    if (part)
        snprintf(where, sizeof where, ",\"offset\":%llu,\"size\":%llu%s", (unsigned long long)part[0],
                 (unsigned long long)part[1], len < part[1] ? ",\"truncated\":true" : "");
    fprintf(d->f, "{\"time\":\"%s\",\"kind\":\"%s\",\"source\":\"%.*s\",\"reason\":\"%.*s\"%s,\"data\":\"%.*s\"}\n",
            when, kind, (int)ns, src, (int)nw, why, where, (int)nd, d->scratch);
    if (fflush(d->f) != 0) {
        log_error("dead-letter file: write failed");
        return -1;
    }
    return 0;
}

int deadletter_write(deadletter *d, const char *kind, const char *source, const char *reason, const char *data,
                     size_t len) {
    return write_entry(d, kind, source, reason, NULL, data, len);
}

int deadletter_write_part(deadletter *d, const char *kind, const char *source, const char *reason, uint64_t offset,
                          uint64_t size, const char *data, size_t len) {
    const uint64_t part[2] = {offset, size};
    return write_entry(d, kind, source, reason, part, data, len);
}

uint64_t deadletter_count(const deadletter *d) { return d ? d->count : 0; }
