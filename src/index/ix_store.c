/* Opening and creating the index file, the statements every part uses, the tokenizer,
 * transactions. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/hugebuf.h"
#include "index/ix_internal.h"
#include "index/ix_store.h"

int ix__sqlerr(ix_store *s, char *err, size_t errcap, const char *what) {
    if (err) snprintf(err, errcap, "index: %s: %s", what, s->db ? sqlite3_errmsg(s->db) : "no database");
    return -1;
}

int ix__exec(ix_store *s, const char *sql, char *err, size_t errcap) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        if (err) snprintf(err, errcap, "index: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* The field table the index was made with: a field's number is stored in the dictionary and its
 * place in the packed row, so a different table means another format. */
static void field_signature(char *out, size_t cap) {
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ixf_count() && o < cap; i++) {
        const ixf_field *f = ixf_at(i);
        int n = snprintf(out + o, cap - o, "%s:%s:%d,", f->sf->name, schema_cs_type_name(f->sf->cs_type), f->kind);
        if (n < 0) break;
        o += (size_t)n;
    }
}

static const char schema_sql[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
    "CREATE TABLE docs(rowid INTEGER PRIMARY KEY, t INTEGER, p BLOB);"
    "CREATE TABLE store(rowid INTEGER PRIMARY KEY, z BLOB);"
    "CREATE TABLE ids(h INTEGER NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY(h, doc)) WITHOUT ROWID;"
    "CREATE TABLE ids_new(h INTEGER NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY(h, doc)) WITHOUT ROWID;"
    "CREATE TABLE vals(id INTEGER PRIMARY KEY, fid INTEGER NOT NULL, h INTEGER NOT NULL, n INTEGER NOT NULL, "
    "v TEXT NOT NULL);"
    "CREATE INDEX vals_fh ON vals(fid, h);"
    "CREATE TABLE dicts(id INTEGER PRIMARY KEY, d BLOB NOT NULL);"
    "CREATE VIRTUAL TABLE text USING fts5(raw, user_identity_arn, user_agent, error_message, other, content='', "
    "columnsize=0, tokenize='unicode61 remove_diacritics 2');"
    "CREATE VIRTUAL TABLE lit USING fts5(v, content='', columnsize=0, detail=none, tokenize='ascii');";

static int create_schema(ix_store *s, char *err, size_t errcap) {
    char sig[8192];
    field_signature(sig, sizeof sig);
    if (ix__exec(s, "BEGIN IMMEDIATE", err, errcap) != 0) return -1;
    /* Another process may have created it meanwhile. */
    sqlite3_stmt *st = NULL;
    int exists = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE name='meta'", -1, &st, NULL) == SQLITE_OK)
        exists = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!exists && ix__exec(s, schema_sql, err, errcap) != 0) goto fail;
    /* Also on a file made before the options were set (kept in each table's own config table); a
     * file that is no index fails check_schema next, with a better message than this would give. */
    char opts[320];
    snprintf(opts, sizeof opts,
             "INSERT INTO text(text, rank) VALUES('hashsize', %d);"
             "INSERT INTO lit(lit, rank) VALUES('automerge', %d);"
             "INSERT INTO lit(lit, rank) VALUES('crisismerge', %d)",
             IX_FTS_HASH_BYTES, IX_LIT_AUTOMERGE, IX_LIT_CRISISMERGE);
    if (ix__exec(s, opts, exists ? NULL : err, errcap) != 0 && !exists) goto fail;
    if (exists) return ix__exec(s, "COMMIT", err, errcap);
    if (sqlite3_prepare_v2(s->db, "INSERT INTO meta(k, v) VALUES('format', ?1), ('fields', ?2), ('docs', 0)", -1, &st,
                           NULL) != SQLITE_OK)
        goto sqlfail;
    sqlite3_bind_text(st, 1, IX_FORMAT, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sig, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) goto sqlfail;
    return ix__exec(s, "COMMIT", err, errcap);
sqlfail:
    ix__sqlerr(s, err, errcap, "creating the tables");
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int check_schema(ix_store *s, char *err, size_t errcap) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT (SELECT v FROM meta WHERE k='format'), (SELECT v FROM meta WHERE k='fields')",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errcap, "index: not a ctindex index (%s)", sqlite3_errmsg(s->db));
        return -1;
    }
    int ok = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *fmt = (const char *)sqlite3_column_text(st, 0), *fields = (const char *)sqlite3_column_text(st, 1);
        char sig[8192];
        field_signature(sig, sizeof sig);
        if (fmt && strncmp(fmt, "ctindex-index-", 14) == 0 && strcmp(fmt, IX_FORMAT) != 0)
            snprintf(err, errcap,
                     "index: made by another ctindex version (format %s, this one reads %s): index into a new file",
                     fmt, IX_FORMAT);
        else if (!fmt || strcmp(fmt, IX_FORMAT) != 0)
            snprintf(err, errcap, "index: not a ctindex index of format %s (found %s)", IX_FORMAT, fmt ? fmt : "none");
        else if (!fields || strcmp(fields, sig) != 0)
            snprintf(err, errcap,
                     "index: made with another field table (another ctindex version): index into a new file");
        else ok = 0;
    }
    sqlite3_finalize(st);
    return ok;
}

static int prep(ix_store *s, sqlite3_stmt **st, const char *sql) {
    return sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK ? 0 : -1;
}

static int prepare_all(ix_store *s) {
    int rc = 0;
    /* ids_new first: documents replaced or deleted soon after they came are found there. */
    rc |= prep(s, &s->q_id_get, "SELECT doc, 1 FROM ids_new WHERE h=?1 UNION ALL SELECT doc, 0 FROM ids WHERE h=?1");
    rc |= prep(s, &s->q_doc_get, "SELECT t, p FROM docs WHERE rowid=?1");
    rc |= prep(s, &s->q_store_get, "SELECT z FROM store WHERE rowid=?1");
    rc |= prep(s, &s->q_val_find, "SELECT id, v FROM vals WHERE fid=?1 AND h=?2");
    rc |= prep(s, &s->q_val_get, "SELECT fid, v FROM vals WHERE id=?1");
    rc |= prep(s, &s->q_count_get, "SELECT v FROM meta WHERE k='docs'");
    rc |= prep(s, &s->q_dict_get, "SELECT d FROM dicts WHERE id=?1");
    rc |= prep(s, &s->q_datav, "PRAGMA data_version");
    if (s->mode != IX_WRITE || rc) return rc;
    if (ix__pending_init(s) != 0) return -1;
    rc |= prep(s, &s->q_id_del, "DELETE FROM ids WHERE h=?1 AND doc=?2");
    rc |= prep(s, &s->q_idnew_del, "DELETE FROM ids_new WHERE h=?1 AND doc=?2");
    rc |= prep(s, &s->q_id_get_main, "SELECT doc, 0 FROM ids WHERE h=?1");
    rc |= prep(s, &s->q_idnew_count, "SELECT h FROM ids_new");
    rc |= ix__ids_functions(s);
    rc |= prep(s, &s->q_id_all, "SELECT ctidm(h) FROM ids");
    rc |=
        prep(s, &s->q_pend_docs, "INSERT OR IGNORE INTO docs(rowid, t, p) SELECT r, t, p FROM ix_pending WHERE ord=0");
    rc |= prep(s, &s->q_pend_store, "INSERT OR IGNORE INTO store(rowid, z) SELECT r, z FROM ix_pending WHERE ord=0");
    rc |= prep(s, &s->q_pend_ids, "INSERT OR IGNORE INTO ids_new(h, doc) SELECT h, r FROM ix_pending WHERE ord=1");
    rc |= prep(s, &s->q_doc_del, "DELETE FROM docs WHERE rowid=?1");
    rc |= prep(s, &s->q_store_del, "DELETE FROM store WHERE rowid=?1");
    rc |= prep(s, &s->q_text_put,
               "INSERT INTO text(rowid, raw, user_identity_arn, user_agent, error_message, other) "
               "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    rc |= prep(s, &s->q_text_del,
               "INSERT INTO text(text, rowid, raw, user_identity_arn, user_agent, error_message, other) "
               "VALUES('delete', ?1, ?2, ?3, ?4, ?5, ?6)");
    rc |= prep(s, &s->q_lit_put, "INSERT INTO lit(rowid, v) VALUES(?1, ?2)");
    rc |= prep(s, &s->q_lit_del, "INSERT INTO lit(lit, rowid, v) VALUES('delete', ?1, ?2)");
    rc |= prep(s, &s->q_val_put, "INSERT INTO vals(id, fid, h, n, v) VALUES(?1, ?2, ?3, ?4, ?5)");
    rc |= prep(s, &s->q_val_add, "UPDATE vals SET n = n + ?2 WHERE id=?1");
    rc |= prep(s, &s->q_val_max, "SELECT max(id) FROM vals");
    rc |= prep(s, &s->q_row_max, "SELECT max(rowid) FROM docs WHERE rowid BETWEEN ?1 AND ?2");
    rc |= prep(s, &s->q_count_put, "UPDATE meta SET v = v + ?1 WHERE k='docs'");
    rc |= prep(s, &s->q_dict_put, "INSERT INTO dicts(id, d) VALUES(?1, ?2)");
    return rc;
}

static int open_tokenizer(ix_store *s) {
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    if (!api) return -1;
    void *ud = NULL;
    if (api->xFindTokenizer(api, "unicode61", &ud, &s->tk_api) != SQLITE_OK) return -1;
    const char *args[] = {"remove_diacritics", "2"};
    return s->tk_api.xCreate(ud, args, 2, &s->tk) == SQLITE_OK ? 0 : -1;
}

typedef struct tok_ctx {
    int (*cb)(void *, const char *, int, int, int);
    void *ud;
} tok_ctx;

static int tok_tramp(void *ctx, int tflags, const char *tok, int n, int start, int end) {
    tok_ctx *t = ctx;
    (void)tflags;
    return t->cb(t->ud, tok, n, start, end);
}

int ix__tokenize(ix_store *s, const char *text, size_t n,
                 int (*cb)(void *ud, const char *tok, int len, int start, int end), void *ud) {
    if (n > INT32_MAX) return -1;
    tok_ctx t = {cb, ud};
    return s->tk_api.xTokenize(s->tk, &t, FTS5_TOKENIZE_DOCUMENT, text, (int)n, tok_tramp) == SQLITE_OK ? 0 : -1;
}

/* SQLite's page cache in huge pages (base/hugebuf): from malloc, a writer's 64 MB cache is 16k
 * pages of 4 KB, each a page fault (7-13 us here) the first time a process fills it: for a
 * replay of 20,000 records into an index of 1M (appending, RelWithDebInfo, perf stat, two runs
 * each alternating) 24,185 -> 7,605 page faults and 2.48-2.51 -> 2.04-2.11 s CPU (system time
 * 0.63-0.65 -> 0.33 s). Slots fit the largest page an index has (16 KB); the cache takes the
 * writer's 64 MB (IX_WRITER_PRAGMAS) and a reader's 16 MB; pages past them come from malloc.
 * Sanitizer builds keep malloc, which sees each page's bounds. */
enum { IX_CACHE_PAGE_MAX = 16384, IX_CACHE_BYTES = 68 << 20 };

static void sqlite_page_cache(void) {
#if HUGEBUF_MAPS
    int hdr = 0;
    if (sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &hdr) != SQLITE_OK || hdr <= 0 || hdr > 4096) return;
    size_t slot = ((size_t)IX_CACHE_PAGE_MAX + (size_t)hdr + 63) & ~(size_t)63;
    void *mem = hugebuf_alloc(IX_CACHE_BYTES); /* the process's whole life: never freed */
    if (mem && sqlite3_config(SQLITE_CONFIG_PAGECACHE, mem, (int)slot, (int)(IX_CACHE_BYTES / slot)) != SQLITE_OK)
        hugebuf_free(mem, IX_CACHE_BYTES);
#endif
}

static void sqlite_setup(void) {
    /* No allocation statistics: they cost a mutex and bookkeeping on every malloc, and FTS5
     * allocates for every new term it buffers. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite_page_cache();
    sqlite3_initialize();
}

/* SQLite maps the first min(file size, mmap_size) bytes and reads the pages past them through the
 * page cache (16 MB for a reader), a read() copy each: an index larger than the map is searched
 * the same, only dearer where it is not mapped. Mapped pages a search touched count in the
 * process's resident memory until the kernel takes them back (clean file pages, but a serve on a
 * 1 GiB t2.micro showed as much of a 1.5 GB index as its searches had read): the map is held to
 * a quarter of the machine's memory, at most SQLite's own 2 GB, and 256 MB in a 32-bit process
 * (3 GB of address space for everything). */
long long ix__read_map_bound(long long ram_bytes, int pointer_bytes) {
    long long cap = IX_READ_MAP_MAX;
    if (pointer_bytes < 8 && cap > (256LL << 20)) cap = 256LL << 20;
    if (ram_bytes > 0 && ram_bytes / 4 < cap) cap = ram_bytes / 4;
    return cap;
}

long long ix__read_map_bytes(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return ix__read_map_bound(pages > 0 && page > 0 ? (long long)pages * page : 0, (int)sizeof(void *));
}

ix_store *ix_open(const char *path, int flags_in, char *err, size_t errcap) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_setup);
    ix_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "index: out of memory");
        return NULL;
    }
    int mode = flags_in & IX_WRITE, durable = (flags_in & IX_DURABLE) != 0;
    s->mode = mode;
    s->ids_new_n = -1;
    s->idm_wait = -1;
    s->id_hash_mask = INT64_MAX;
    int flags = mode == IX_WRITE ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    flags |= SQLITE_OPEN_NOMUTEX; /* one thread per store */
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errcap, "index: cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 10000);
    sqlite3_extended_result_codes(s->db, 1);
    /* WAL: readers (search, serve) never wait for the writer. A durable commit is synced (FULL):
     * it acknowledges records to SQS; otherwise NORMAL, where a commit survives the process but not
     * the machine (what the dir sink's files without sync give). Debian builds SQLite with
     * secure_delete on: it only costs writes here (merged FTS segments are rewritten zeros). */
    if (ix__exec(s, IX_COMMON_PRAGMAS, err, errcap) != 0) goto fail;
    if (mode == IX_WRITE) {
        /* The writer reads through its 64 MB page cache, without a map: a mapped file counts in
         * the process's memory as its pages are touched (peak RSS 1,020 MB at 1M documents with a
         * 1 GB map, on instances of 1 GiB), and the map saved no CPU measurably (75k records:
         * 7.90-8.58 s CPU mapped, 7.91-8.10 s not). */
        if (ix__exec(s, IX_WRITER_PRAGMAS, err, errcap) != 0 ||
            ix__exec(s, durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", err, errcap) != 0)
            goto fail;
        if (create_schema(s, err, errcap) != 0) goto fail;
    } else {
        /* Reads map the file: a search then touches pages without a read() copy each, which was
         * most of a one-day range count's CPU at 1M documents. */
        char pragma[96];
        snprintf(pragma, sizeof pragma, "PRAGMA cache_size=-16384; PRAGMA mmap_size=%lld", ix__read_map_bytes());
        if (ix__exec(s, pragma, err, errcap) != 0) goto fail;
    }
    if (check_schema(s, err, errcap) != 0) goto fail;
    if (prepare_all(s) != 0) {
        ix__sqlerr(s, err, errcap, "preparing statements");
        goto fail;
    }
    if (ix__search_functions(s) != 0) {
        ix__sqlerr(s, err, errcap, "registering functions");
        goto fail;
    }
    if (open_tokenizer(s) != 0) {
        snprintf(err, errcap, "index: SQLite has no FTS5 unicode61 tokenizer");
        goto fail;
    }
    if (ix__doc_init(s) != 0 || ix__fts_queue_init(s) != 0) {
        snprintf(err, errcap, "index: out of memory");
        goto fail;
    }
    buf_init(&s->arena, 256u << 20);
    buf_init(&s->lit, 16u << 20);
    buf_init(&s->packed, 1u << 20);
    buf_init(&s->scratch, SDF_MAX_DOC_BYTES + 16);
    for (int c = 0; c < IXT_COLUMNS; c++) buf_init(&s->cols[c], 4u << 20);
    return s;
fail:
    ix_close(s);
    return NULL;
}

void ix_close(ix_store *s) {
    if (!s) return;
    if (s->in_tx) ix_rollback(s);
    sqlite3_stmt **all[] = {&s->q_id_get,      &s->q_id_get_main, &s->q_pend_docs, &s->q_id_del,    &s->q_idnew_del,
                            &s->q_idnew_count, &s->q_pend_store,  &s->q_doc_del,   &s->q_doc_get,   &s->q_pend_ids,
                            &s->q_store_del,   &s->q_store_get,   &s->q_text_put,  &s->q_text_del,  &s->q_lit_put,
                            &s->q_lit_del,     &s->q_val_find,    &s->q_val_put,   &s->q_val_add,   &s->q_val_get,
                            &s->q_val_max,     &s->q_row_max,     &s->q_count_get, &s->q_count_put, &s->q_dict_get,
                            &s->q_dict_put,    &s->q_datav,       &s->q_id_all};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) sqlite3_finalize(*all[i]);
    if (s->tk) s->tk_api.xDelete(s->tk);
    ix__doc_free(s);
    ix__fts_queue_free(s);
    ix__pending_free(s);
    ix__idn_free(s);
    ix__idm_forget(s);
    free(s->ents);
    free(s->slots);
    buf_free(&s->arena);
    buf_free(&s->lit);
    buf_free(&s->packed);
    buf_free(&s->scratch);
    for (int c = 0; c < IXT_COLUMNS; c++) buf_free(&s->cols[c]);
    if (s->db) sqlite3_close(s->db);
    free(s);
}

static int64_t data_version(ix_store *s) {
    int64_t v = -1;
    if (sqlite3_step(s->q_datav) == SQLITE_ROW) v = sqlite3_column_int64(s->q_datav, 0);
    sqlite3_reset(s->q_datav);
    return v;
}

int ix_begin(ix_store *s, char *err, size_t errcap) {
    if (s->mode != IX_WRITE) {
        snprintf(err, errcap, "index: opened read-only");
        return -1;
    }
    if (ix__exec(s, "BEGIN IMMEDIATE", err, errcap) != 0) return -1;
    s->in_tx = 1;
    /* Another writer committed since our last transaction: what we cached may be stale. */
    int64_t dv = data_version(s);
    if (dv != s->data_version) {
        ix__dict_reset(s);
        s->nhours = 0;
        s->ids_new_n = -1;
        ix__idm_forget(s);
        s->data_version = dv;
    }
    s->doc_delta = 0;
    s->dict_in_tx = 0;
    ix__fts_queue_clear(s);
    ix__pending_clear(s);
    memset(&s->tx, 0, sizeof s->tx);
    ix__doc_use_dict(s);
    if (ix__ids_merge_when_full(s, err, errcap) != 0) {
        ix_rollback(s);
        return -1;
    }
    return 0;
}

int ix_commit(ix_store *s, char *err, size_t errcap) {
    if (!s->in_tx) return 0;
    if (ix__pending_flush(s, err, errcap) != 0 || ix__fts_flush(s, err, errcap) != 0 ||
        ix__dict_flush(s, err, errcap) != 0)
        goto fail;
    if (s->doc_delta) {
        sqlite3_bind_int64(s->q_count_put, 1, s->doc_delta);
        int rc = sqlite3_step(s->q_count_put);
        sqlite3_reset(s->q_count_put);
        if (rc != SQLITE_DONE) {
            ix__sqlerr(s, err, errcap, "counting documents");
            goto fail;
        }
    }
    if (ix__exec(s, "COMMIT", err, errcap) != 0) goto fail;
    ix__idm_commit(s);
    s->ws.adds += s->tx.adds;
    s->ws.unchanged += s->tx.unchanged;
    s->ws.deletes += s->tx.deletes;
    s->ws.derived += s->tx.derived;
    s->ws.stored_bytes += s->tx.stored_bytes;
    s->in_tx = 0;
    s->doc_delta = 0;
    s->dict_in_tx = 0;
    return 0;
fail:
    ix_rollback(s);
    return -1;
}

void ix_rollback(ix_store *s) {
    if (!s->in_tx) return;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = 0;
    s->doc_delta = 0;
    ix__fts_queue_clear(s);
    ix__pending_clear(s);
    /* Ids handed out, hours counted and a dictionary trained in the transaction are gone with it. */
    ix__dict_reset(s);
    s->nhours = 0;
    s->ids_new_n = -1; /* a merge or entries of the transaction are gone with it */
    ix__idm_rollback(s);
    if (s->dict_in_tx) ix__doc_drop_dict(s);
    s->dict_in_tx = 0;
}

const ix_write_stats *ix_get_write_stats(const ix_store *s) { return &s->ws; }

int64_t ix_doc_count(ix_store *s) {
    int64_t n = 0;
    if (sqlite3_step(s->q_count_get) == SQLITE_ROW) n = sqlite3_column_int64(s->q_count_get, 0);
    sqlite3_reset(s->q_count_get);
    return n;
}

int64_t ix_size_bytes(ix_store *s) {
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT (SELECT page_count FROM pragma_page_count()) - "
                           "(SELECT freelist_count FROM pragma_freelist_count()), "
                           "(SELECT page_size FROM pragma_page_size())",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0) * sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    return n;
}
