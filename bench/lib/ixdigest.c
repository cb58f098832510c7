/* Digests of an embedded index's content (ixdigest.h). */
#include "ixdigest.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Each statement orders its rows by a key that does not depend on page layout or segments. */
static const struct {
    const char *name, *sql;
} reads[IXDIGEST_PARTS] = {
    {"meta", "SELECT k, v FROM meta ORDER BY k"},
    {"docs", "SELECT rowid, t, p FROM docs ORDER BY rowid"},
    {"store", "SELECT rowid, z FROM store ORDER BY rowid"},
    {"ids (both levels)", "SELECT h, doc FROM ids UNION ALL SELECT h, doc FROM ids_new ORDER BY 1, 2"},
    {"vals", "SELECT id, fid, h, n, v FROM vals ORDER BY id"},
    {"dicts", "SELECT id, d FROM dicts ORDER BY id"},
    {"text terms", "SELECT term, col, doc, cnt FROM temp.ixd_text ORDER BY term, col"},
    {"lit terms", "SELECT term, doc FROM temp.ixd_lit ORDER BY term"},
};

static int digest_rows(sqlite3 *db, const char *sql, ixdigest_part *p) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    uint64_t h = 14695981039346656037ull;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        p->rows++;
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            unsigned char type = (unsigned char)sqlite3_column_type(st, c);
            h = fnv(h, &type, 1);
            if (type == SQLITE_INTEGER) {
                int64_t v = sqlite3_column_int64(st, c);
                h = fnv(h, &v, sizeof v);
            } else if (type != SQLITE_NULL) {
                const void *b = sqlite3_column_blob(st, c);
                size_t n = (size_t)sqlite3_column_bytes(st, c);
                h = fnv(h, &n, sizeof n);
                if (n) h = fnv(h, b, n);
            }
        }
    }
    sqlite3_finalize(st);
    p->digest = h;
    return rc == SQLITE_DONE ? 0 : -1;
}

int ixdigest_compute(const char *path, ixdigest_part parts[IXDIGEST_PARTS], char *err, size_t errcap) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errcap, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return -1;
    }
    /* fts5vocab: FTS5's terms with the documents and occurrences of each, whatever segments hold them. */
    int rc = sqlite3_exec(db,
                          "CREATE VIRTUAL TABLE temp.ixd_text USING fts5vocab(main, 'text', 'col');"
                          "CREATE VIRTUAL TABLE temp.ixd_lit USING fts5vocab(main, 'lit', 'row');",
                          NULL, NULL, NULL);
    for (int i = 0; rc == SQLITE_OK && i < IXDIGEST_PARTS; i++) {
        memset(&parts[i], 0, sizeof parts[i]);
        parts[i].name = reads[i].name;
        if (digest_rows(db, reads[i].sql, &parts[i]) != 0) rc = SQLITE_ERROR;
    }
    if (rc != SQLITE_OK) snprintf(err, errcap, "%s: %s", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc == SQLITE_OK ? IXDIGEST_PARTS : -1;
}
