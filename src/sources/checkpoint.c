#include "sources/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sources/trail_layout.h"

#define MAGIC "ctindex-checkpoint 1"

typedef struct day_range {
    int32_t lo, hi; /* inclusive */
} day_range;

struct checkpoint_series {
    char name[TRAIL_MAX_SERIES + 1];
    uint32_t hash;
    day_range *r; /* sorted, disjoint, not adjacent */
    size_t n, cap;
};

struct checkpoint {
    char *source, *target;
    checkpoint_series **table; /* open addressing by name hash */
    size_t table_cap, count;
    int dirty;
};

static int ident_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > CHECKPOINT_MAX_IDENT) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
    return 1;
}

checkpoint *checkpoint_new(const char *source, const char *target) {
    if (!ident_ok(source) || !ident_ok(target)) return NULL;
    checkpoint *cp = calloc(1, sizeof *cp);
    if (!cp) return NULL;
    cp->source = strdup(source);
    cp->target = strdup(target);
    cp->table_cap = 64;
    cp->table = calloc(cp->table_cap, sizeof *cp->table);
    if (!cp->source || !cp->target || !cp->table) {
        checkpoint_free(cp);
        return NULL;
    }
    return cp;
}

void checkpoint_free(checkpoint *cp) {
    if (!cp) return;
    for (size_t i = 0; cp->table && i < cp->table_cap; i++) {
        if (!cp->table[i]) continue;
        free(cp->table[i]->r);
        free(cp->table[i]);
    }
    free(cp->table);
    free(cp->source);
    free(cp->target);
    free(cp);
}

static uint32_t hash_name(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static checkpoint_series **slot_for(checkpoint *cp, const char *name, size_t n, uint32_t h) {
    size_t mask = cp->table_cap - 1, i = h & mask;
    while (cp->table[i] &&
           !(cp->table[i]->hash == h && strlen(cp->table[i]->name) == n && memcmp(cp->table[i]->name, name, n) == 0))
        i = (i + 1) & mask;
    return &cp->table[i];
}

static int grow_table(checkpoint *cp) {
    size_t cap = cp->table_cap * 2;
    checkpoint_series **t = calloc(cap, sizeof *t), **old = cp->table;
    if (!t) return -1;
    size_t old_cap = cp->table_cap;
    cp->table = t;
    cp->table_cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i]) continue;
        *slot_for(cp, old[i]->name, strlen(old[i]->name), old[i]->hash) = old[i];
    }
    free(old);
    return 0;
}

static checkpoint_series *series_get(checkpoint *cp, const char *name, size_t n) {
    if (!trail_is_series_name(name, n)) return NULL;
    uint32_t h = hash_name(name, n);
    checkpoint_series **slot = slot_for(cp, name, n, h);
    if (*slot) return *slot;
    if (cp->count >= CHECKPOINT_MAX_SERIES) return NULL;
    if ((cp->count + 1) * 10 > cp->table_cap * 7) {
        if (grow_table(cp) != 0) return NULL;
        slot = slot_for(cp, name, n, h);
    }
    checkpoint_series *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    memcpy(s->name, name, n);
    s->hash = h;
    *slot = s;
    cp->count++;
    return s;
}

checkpoint_series *checkpoint_series_get(checkpoint *cp, const char *name) {
    return name ? series_get(cp, name, strlen(name)) : NULL;
}

size_t checkpoint_series_count(const checkpoint *cp) { return cp->count; }

/* Index of the first range whose hi >= day (n when none). */
static size_t lower_bound(const checkpoint_series *s, int32_t day) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->r[mid].hi < day) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int checkpoint_is_done(const checkpoint_series *s, int32_t day) {
    size_t i = lower_bound(s, day);
    return i < s->n && s->r[i].lo <= day;
}

/* Adds [lo, hi], merging with every range it overlaps or touches. */
static int add_range(checkpoint_series *s, int32_t lo, int32_t hi) {
    size_t i = lower_bound(s, lo - 1); /* first range that could touch lo */
    size_t j = i;
    while (j < s->n && s->r[j].lo <= hi + 1) {
        if (s->r[j].lo < lo) lo = s->r[j].lo;
        if (s->r[j].hi > hi) hi = s->r[j].hi;
        j++;
    }
    if (j > i) { /* replace r[i..j) by one range */
        s->r[i].lo = lo;
        s->r[i].hi = hi;
        memmove(s->r + i + 1, s->r + j, (s->n - j) * sizeof *s->r);
        s->n -= j - i - 1;
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        day_range *r = realloc(s->r, cap * sizeof *r);
        if (!r) return -1;
        s->r = r;
        s->cap = cap;
    }
    memmove(s->r + i + 1, s->r + i, (s->n - i) * sizeof *s->r);
    s->r[i].lo = lo;
    s->r[i].hi = hi;
    s->n++;
    return 0;
}

int checkpoint_mark(checkpoint *cp, checkpoint_series *s, int32_t day) {
    if (day < TRAIL_DAY_MIN || day > TRAIL_DAY_MAX) return -1;
    if (checkpoint_is_done(s, day)) return 0;
    if (add_range(s, day, day) != 0) return -1;
    cp->dirty = 1;
    return 0;
}

uint32_t checkpoint_count_done(const checkpoint_series *s, int32_t from, int32_t to) {
    uint32_t total = 0;
    for (size_t i = lower_bound(s, from); i < s->n && s->r[i].lo <= to; i++) {
        int32_t lo = s->r[i].lo < from ? from : s->r[i].lo;
        int32_t hi = s->r[i].hi > to ? to : s->r[i].hi;
        if (hi >= lo) total += (uint32_t)(hi - lo + 1);
    }
    return total;
}

int checkpoint_dirty(const checkpoint *cp) { return cp->dirty; }

/* ---- text form ---- */

static int perr(char *why, size_t cap, size_t line, const char *msg) {
    if (why && cap) snprintf(why, cap, "line %zu: %s", line, msg);
    return -1;
}

/* "DAY" or "DAY..DAY", comma-separated. */
static int parse_ranges(checkpoint_series *s, const char *p, size_t n) {
    if (n == 0) return -1;
    while (n > 0) {
        size_t item = 0;
        while (item < n && p[item] != ',') item++;
        char a[11], b[11];
        if (item == 10) {
            memcpy(a, p, 10);
            a[10] = '\0';
            memcpy(b, a, 11);
        } else if (item == 22 && p[10] == '.' && p[11] == '.') {
            memcpy(a, p, 10);
            a[10] = '\0';
            memcpy(b, p + 12, 10);
            b[10] = '\0';
        } else {
            return -1;
        }
        int32_t lo = trail_parse_day(a), hi = trail_parse_day(b);
        if (lo < 0 || hi < lo || add_range(s, lo, hi) != 0) return -1;
        p += item;
        n -= item;
        if (n > 0) { /* the comma; a trailing one is malformed */
            p++;
            n--;
            if (n == 0) return -1;
        }
    }
    return 0;
}

static int field_is(const char *line, size_t n, const char *key, const char **value, size_t *vlen) {
    size_t k = strlen(key);
    if (n < k + 1 || memcmp(line, key, k) != 0 || line[k] != ' ') return 0;
    *value = line + k + 1;
    *vlen = n - k - 1;
    return 1;
}

static int same(const char *v, size_t n, const char *want) { return strlen(want) == n && memcmp(v, want, n) == 0; }

int checkpoint_parse(checkpoint *cp, const char *text, size_t len, char *why, size_t why_cap) {
    enum { WANT_MAGIC, HEADER, BODY, ENDED } state = WANT_MAGIC;
    int have_source = 0, have_target = 0;
    size_t lineno = 0;
    const char *p = text, *end = text + len;
    if (memchr(text, '\0', len)) return perr(why, why_cap, 0, "the file holds a NUL byte: not a checkpoint");
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return perr(why, why_cap, lineno + 1, "the file is truncated (no newline at the end)");
        const char *line = p;
        size_t n = (size_t)(nl - p);
        p = nl + 1;
        lineno++;
        if (n == 0 || line[0] == '#') continue;
        if (state == ENDED) return perr(why, why_cap, lineno, "text after 'end'");
        const char *v;
        size_t vn;
        if (state == WANT_MAGIC) {
            if (!same(line, n, MAGIC))
                return perr(why, why_cap, lineno, "not a ctindex checkpoint (or another version)");
            state = HEADER;
        } else if (field_is(line, n, "source", &v, &vn)) {
            if (state != HEADER || have_source) return perr(why, why_cap, lineno, "misplaced 'source'");
            if (!same(v, vn, cp->source)) {
                if (why && why_cap)
                    snprintf(why, why_cap, "it belongs to a replay of %.*s, not of %s", (int)(vn > 600 ? 600 : vn), v,
                             cp->source);
                return -1;
            }
            have_source = 1;
        } else if (field_is(line, n, "target", &v, &vn)) {
            if (state != HEADER || have_target) return perr(why, why_cap, lineno, "misplaced 'target'");
            if (!same(v, vn, cp->target)) {
                if (why && why_cap)
                    snprintf(why, why_cap, "it belongs to a replay into %.*s, not into %s", (int)(vn > 600 ? 600 : vn),
                             v, cp->target);
                return -1;
            }
            have_target = 1;
        } else if (field_is(line, n, "done", &v, &vn)) {
            if (!have_source || !have_target) return perr(why, why_cap, lineno, "'done' before 'source' and 'target'");
            state = BODY;
            const char *sp = memchr(v, ' ', vn);
            if (!sp) return perr(why, why_cap, lineno, "'done' needs a series and days");
            checkpoint_series *s = series_get(cp, v, (size_t)(sp - v));
            if (!s) return perr(why, why_cap, lineno, "not a series name ([o-ORG/]ACCOUNT/REGION) or too many series");
            if (parse_ranges(s, sp + 1, vn - (size_t)(sp - v) - 1) != 0)
                return perr(why, why_cap, lineno, "days must be YYYY-MM-DD or FROM..TO (FROM <= TO), comma-separated");
        } else if (same(line, n, "end")) {
            if (!have_source || !have_target) return perr(why, why_cap, lineno, "'end' before 'source' and 'target'");
            state = ENDED;
        } else {
            return perr(why, why_cap, lineno, "unknown line");
        }
    }
    if (state != ENDED) return perr(why, why_cap, lineno, "the file is truncated (no 'end' line)");
    return 0;
}

static int cmp_series(const void *a, const void *b) {
    return strcmp((*(checkpoint_series *const *)a)->name, (*(checkpoint_series *const *)b)->name);
}

int checkpoint_format(checkpoint *cp, buf *out) {
    checkpoint_series **all = malloc((cp->count ? cp->count : 1) * sizeof *all);
    if (!all) return -1;
    size_t k = 0;
    for (size_t i = 0; i < cp->table_cap; i++)
        if (cp->table[i] && cp->table[i]->n) all[k++] = cp->table[i];
    qsort(all, k, sizeof *all, cmp_series);
    int bad = buf_printf(out,
                         "# ctindex replay checkpoint: day partitions whose every record was acknowledged\n" MAGIC
                         "\nsource %s\ntarget %s\n",
                         cp->source, cp->target);
    for (size_t i = 0; i < k && !bad; i++) {
        bad |= buf_printf(out, "done %s ", all[i]->name);
        for (size_t j = 0; j < all[i]->n && !bad; j++) {
            char a[11], b[11];
            trail_format_day(all[i]->r[j].lo, a);
            trail_format_day(all[i]->r[j].hi, b);
            if (all[i]->r[j].lo == all[i]->r[j].hi) bad |= buf_printf(out, "%s%s", j ? "," : "", a);
            else bad |= buf_printf(out, "%s%s..%s", j ? "," : "", a, b);
        }
        bad |= buf_append_str(out, "\n");
    }
    bad |= buf_append_str(out, "end\n");
    free(all);
    if (bad) return -1;
    cp->dirty = 0;
    return 0;
}

/* ---- files ---- */

static int ferr(char *why, size_t cap, const char *what, const char *path) {
    if (why && cap) snprintf(why, cap, "%s %s: %s", what, path, strerror(errno));
    return -1;
}

int checkpoint_load(checkpoint *cp, const char *path, char *why, size_t why_cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 1;
        return ferr(why, why_cap, "cannot open", path);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > CHECKPOINT_MAX_FILE) {
        close(fd);
        if (why && why_cap) snprintf(why, why_cap, "%s is not a regular file of at most 64 MB", path);
        return -1;
    }
    size_t len = (size_t)sb.st_size, got = 0;
    char *text = malloc(len + 1);
    if (!text) {
        close(fd);
        if (why && why_cap) snprintf(why, why_cap, "out of memory reading %s", path);
        return -1;
    }
    while (got < len) {
        ssize_t r = read(fd, text + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    text[got] = '\0';
    int rc;
    if (got != len) {
        rc = -1;
        if (why && why_cap) snprintf(why, why_cap, "cannot read %s", path);
    } else {
        rc = checkpoint_parse(cp, text, len, why, why_cap);
    }
    free(text);
    return rc;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int checkpoint_save(checkpoint *cp, const char *path, char *why, size_t why_cap) {
    buf text;
    buf_init(&text, CHECKPOINT_MAX_FILE);
    int dirty = cp->dirty;
    if (checkpoint_format(cp, &text) != 0) {
        buf_free(&text);
        cp->dirty = dirty;
        if (why && why_cap) snprintf(why, why_cap, "the checkpoint would pass 64 MB");
        return -1;
    }
    char tmp[4200];
    int rc = -1;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        if (why && why_cap) snprintf(why, why_cap, "checkpoint path too long");
        goto out;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        ferr(why, why_cap, "cannot create", tmp);
        goto out;
    }
    if (write_all(fd, text.data, text.len) != 0 || fsync(fd) != 0) {
        ferr(why, why_cap, "cannot write", tmp);
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        ferr(why, why_cap, "cannot rename onto", path);
        unlink(tmp);
        goto out;
    }
    /* The rename itself must reach the disk, or a crash could bring the old file back. */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = 0;
out:
    if (rc != 0) cp->dirty = dirty;
    buf_free(&text);
    return rc;
}

int checkpoint_lock(const char *path, char *why, size_t why_cap) {
    char lock[4200];
    if (snprintf(lock, sizeof lock, "%s.lock", path) >= (int)sizeof lock) {
        if (why && why_cap) snprintf(why, why_cap, "checkpoint path too long");
        return -1;
    }
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ferr(why, why_cap, "cannot create", lock);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (why && why_cap) snprintf(why, why_cap, "%s is held by another replay using this checkpoint", lock);
        close(fd);
        return -1;
    }
    return fd;
}
