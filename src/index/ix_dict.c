/* The dictionary of literal values. Every (field, value) of a facetable literal field gets an id
 * once; documents carry ids (in their packed row and as "v<id>" tokens in `lit`). Lookups go
 * through a cache in memory (bounded: forgotten after a commit once it passes IX_DICT_CACHE
 * entries); a miss reads vals by the value's hash. New values and count changes are written at
 * commit, so a batch costs one row per new value and one update per value it touched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/ix_internal.h"

#define IX_DICT_CACHE (1u << 18)

/* FNV-1a over the field and the value's bytes (stored: vals.h, the "h" tokens). Four bytes a
 * step: the loop's own count and test cost as much as a byte's xor and multiply. */
uint64_t ix__hash(int fid, const char *v, size_t n) {
    const uint64_t prime = 1099511628211ULL;
    const unsigned char *p = (const unsigned char *)v;
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(unsigned)fid;
    h *= prime;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        h = (h ^ p[i]) * prime;
        h = (h ^ p[i + 1]) * prime;
        h = (h ^ p[i + 2]) * prime;
        h = (h ^ p[i + 3]) * prime;
    }
    for (; i < n; i++) h = (h ^ p[i]) * prime;
    return h;
}

/* The 32 bits kept in vals.h: enough to find a value among its field's, compared in full after. */
static int64_t h32(uint64_t h) { return (int64_t)(int32_t)(uint32_t)(h ^ (h >> 32)); }

void ix__dict_reset(ix_store *s) {
    s->nents = 0;
    if (s->slots) memset(s->slots, 0xff, (size_t)s->nslots * sizeof *s->slots);
    buf_clear(&s->arena);
    s->next_val_id = 0;
}

static int grow(ix_store *s) {
    uint32_t cap = s->cap_ents ? s->cap_ents * 2 : 4096;
    ix_dent *e = realloc(s->ents, (size_t)cap * sizeof *e);
    if (!e) return -1;
    s->ents = e;
    s->cap_ents = cap;
    uint32_t ns = cap * 2;
    int32_t *sl = malloc((size_t)ns * sizeof *sl);
    if (!sl) return -1;
    memset(sl, 0xff, (size_t)ns * sizeof *sl);
    for (uint32_t i = 0; i < s->nents; i++) {
        uint32_t k = (uint32_t)s->ents[i].h & (ns - 1);
        while (sl[k] >= 0) k = (k + 1) & (ns - 1);
        sl[k] = (int32_t)i;
    }
    free(s->slots);
    s->slots = sl;
    s->nslots = ns;
    return 0;
}

static ix_dent *cache_find(ix_store *s, int fid, const char *v, size_t n, uint64_t h) {
    if (!s->nslots) return NULL;
    for (uint32_t k = (uint32_t)h & (s->nslots - 1);; k = (k + 1) & (s->nslots - 1)) {
        int32_t i = s->slots[k];
        if (i < 0) return NULL;
        ix_dent *e = &s->ents[i];
        if (e->h == h && e->fid == fid && e->len == n && memcmp(s->arena.data + e->off, v, n) == 0) return e;
    }
}

static ix_dent *cache_add(ix_store *s, int fid, const char *v, size_t n, uint64_t h, int64_t id, int is_new) {
    if (s->nents + 1 > s->cap_ents && grow(s) != 0) return NULL;
    size_t off = s->arena.len;
    if (buf_append(&s->arena, v, n) != 0) return NULL;
    ix_dent *e = &s->ents[s->nents];
    *e = (ix_dent){h, id, (uint32_t)off, (uint32_t)n, fid, 0, is_new};
    uint32_t k = (uint32_t)h & (s->nslots - 1);
    while (s->slots[k] >= 0) k = (k + 1) & (s->nslots - 1);
    s->slots[k] = (int32_t)s->nents++;
    return e;
}

static int64_t next_id(ix_store *s) {
    if (!s->next_val_id) {
        s->next_val_id = 1;
        if (sqlite3_step(s->q_val_max) == SQLITE_ROW) s->next_val_id = sqlite3_column_int64(s->q_val_max, 0) + 1;
        sqlite3_reset(s->q_val_max);
    }
    return s->next_val_id++;
}

int64_t ix__dict_id(ix_store *s, int fid, const char *v, size_t n, int create, int delta) {
    uint64_t h = ix__hash(fid, v, n);
    ix_dent *e = cache_find(s, fid, v, n, h);
    if (e) {
        e->delta += delta;
        return e->id;
    }
    if (!s->in_tx && s->nents >= IX_DICT_CACHE) ix__dict_reset(s); /* a long-lived reader */
    int64_t id = 0;
    sqlite3_bind_int(s->q_val_find, 1, fid);
    sqlite3_bind_int64(s->q_val_find, 2, h32(h));
    int rc;
    while ((rc = sqlite3_step(s->q_val_find)) == SQLITE_ROW) {
        const void *t = sqlite3_column_blob(s->q_val_find, 1);
        if ((size_t)sqlite3_column_bytes(s->q_val_find, 1) == n && (n == 0 || memcmp(t, v, n) == 0)) {
            id = sqlite3_column_int64(s->q_val_find, 0);
            break;
        }
    }
    sqlite3_reset(s->q_val_find);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return -1;
    if (!id && !create) return 0;
    int is_new = !id;
    if (is_new) id = next_id(s);
    /* Values created in a transaction must stay findable until it ends: the cache is only
     * trimmed after a commit. */
    e = cache_add(s, fid, v, n, h, id, is_new);
    if (!e) return -1;
    e->delta = delta;
    return id;
}

int ix__dict_flush(ix_store *s, char *err, size_t errcap) {
    for (uint32_t i = 0; i < s->nents; i++) {
        ix_dent *e = &s->ents[i];
        if (!e->is_new && !e->delta) continue;
        sqlite3_stmt *st = e->is_new ? s->q_val_put : s->q_val_add;
        sqlite3_bind_int64(st, 1, e->id);
        if (e->is_new) {
            sqlite3_bind_int(st, 2, e->fid);
            sqlite3_bind_int64(st, 3, h32(e->h));
            sqlite3_bind_int64(st, 4, e->delta);
            sqlite3_bind_text(st, 5, s->arena.data + e->off, (int)e->len, SQLITE_STATIC);
        } else {
            sqlite3_bind_int64(st, 2, e->delta);
        }
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return ix__sqlerr(s, err, errcap, "writing the dictionary");
        e->is_new = 0;
        e->delta = 0;
    }
    if (s->nents > IX_DICT_CACHE) ix__dict_reset(s);
    return 0;
}

long ix__dict_value(ix_store *s, int64_t id, int *fid, char *out, size_t cap) {
    long n = -1;
    sqlite3_bind_int64(s->q_val_get, 1, id);
    if (sqlite3_step(s->q_val_get) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(s->q_val_get, 1);
        if (fid) *fid = sqlite3_column_int(s->q_val_get, 0);
        if (len < cap) {
            memcpy(out, sqlite3_column_blob(s->q_val_get, 1), len);
            out[len] = '\0';
            n = (long)len;
        }
    }
    sqlite3_reset(s->q_val_get);
    return n;
}
