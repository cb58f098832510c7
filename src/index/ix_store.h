/* The embedded index: one SQLite file with FTS5 (the only module that includes sqlite3.h, with
 * its helpers in src/index/). A store is used by one thread at a time; several stores (in one
 * process or several) may open the same file: readers never wait for the writer (WAL), writers
 * take turns.
 *
 * Writing is one transaction per batch: ix_begin, ix_apply for each operation, ix_commit. A
 * batch is stored only once ix_commit returned 0 (the transaction is on disk, synced): that is
 * when its records may be acknowledged. Documents are keyed by id: an add replaces the stored
 * document with that id (an identical one is left alone and counted as unchanged), so a
 * redelivered file never duplicates.
 *
 * How fields are kept is in index_fields.h; how searches run is in ix_search.h. */
#ifndef CTINDEX_IX_STORE_H
#define CTINDEX_IX_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/json.h"
#include "index/ix_stats.h"
#include "index/sdf_parse.h"

typedef struct ix_store ix_store;

enum { IX_READ = 0, IX_WRITE = 1, IX_DURABLE = 2 };

/* FTS5's buffer of pending terms for the `text` table (its 'hashsize' option; 1 MB by default).
 * FTS5 writes a segment whenever the buffer fills: a batch of 5 MB of documents filled the
 * default one or two times before its commit, and each extra segment is merged again later.
 * With room for a whole batch, a transaction writes one segment (callgrind, 10,388 records:
 * 457k instructions a record -> 410k). bench_index gives its ceiling the same option. */
#define IX_FTS_HASH_BYTES (16 * 1024 * 1024)

/* How FTS5 merges the `lit` table's segments (its 'automerge' and 'crisismerge' options; 4 and 16
 * by default): a level is merged into the next once it holds IX_LIT_AUTOMERGE segments. Every
 * transaction writes a small segment (about 1,900 documents a batch), and with the default each
 * entry was copied again at every one of five levels: merging was most of lit's cost at commit.
 * 16 segments a level make about half as many levels; a literal search reads each segment's
 * doclist, up to 15 a level (bench/README.md, "lit: 16 segments a level").
 * `text` keeps FTS5's defaults. */
#define IX_LIT_AUTOMERGE 16
#define IX_LIT_CRISISMERGE 32

/* Pragmas of every store, then the writer's (with synchronous=NORMAL, or FULL when durable):
 * bench_index's ceiling runs FTS5 under the same ones. ix_store.c says why each.
 * page_size applies to a new file only (before journal_mode=WAL, which fixes it): 16 KB pages,
 * where SQLite's default is 4 KB, take a WAL frame (two pwrites) and a checkpoint's copy (a pread
 * and a pwrite) per 16 KB instead of per 4 KB: 531k -> 145k pwrites and 184k -> 38k preads for
 * 202,937 records (bench/README.md, "16 KB pages"). wal_autocheckpoint counts pages: 2,048 of
 * 16 KB keep the 32 MB WAL that 8,192 of 4 KB gave. A file made with 4 KB pages keeps them. */
#define IX_COMMON_PRAGMAS "PRAGMA secure_delete=OFF; PRAGMA temp_store=MEMORY"
#define IX_WRITER_PRAGMAS                                                                             \
    "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA cache_size=-65536; PRAGMA mmap_size=0; " \
    "PRAGMA wal_autocheckpoint=2048; PRAGMA journal_size_limit=67108864"

/* The length to bind text p[0..n) with (p[n] must be readable): -1 when p[n] is its NUL and none
 * comes before (SQLite then knows the string is terminated), else n. FTS5 reads every value with
 * sqlite3_value_text, which copies a string not known to be terminated (a malloc and a memcpy of
 * a 2 KB raw record for every document); the index and bench_index's ceiling bind alike. */
int ix_text_len(const char *p, size_t n);

/* Opens the index file at path (IX_WRITE creates it when missing; IX_WRITE | IX_DURABLE also
 * syncs every commit: without it a commit survives the process, not the machine). NULL with err
 * filled: the file is not an index, was made by an incompatible ctindex (another field table),
 * or cannot be opened. */
ix_store *ix_open(const char *path, int mode, char *err, size_t errcap);
void ix_close(ix_store *s);

/* Starts a write transaction (waits up to 10 s for another writer). 0 or -1 (err). */
int ix_begin(ix_store *s, char *err, size_t errcap);
/* IX_APPLY_DERIVED: the caller knows the document is exactly what the document builder makes from
 * its raw field (BATCH_DOC_DERIVED): it is stored as raw alone without rebuilding it to check. */
enum { IX_APPLY_DERIVED = 1 };

/* Applies one operation parsed by sdf_parse_op or sdf_parse_trusted from js[0..len) (doc still
 * holds its tokens; op->raw, when set, is taken as raw's decoded text and must still be valid).
 * 0 applied; -1 the document is refused (err says why, the transaction goes on); -2 storage
 * failed (err; call ix_rollback). */
int ix_apply(ix_store *s, json_doc *doc, const sdf_op *op, const char *js, size_t len, unsigned flags, char *err,
             size_t errcap);
/* Commits (and syncs when durable). 0, or -1 (err; the transaction was rolled back). */
int ix_commit(ix_store *s, char *err, size_t errcap);
void ix_rollback(ix_store *s);
const ix_write_stats *ix_get_write_stats(const ix_store *s);

/* Documents in the index. */
int64_t ix_doc_count(ix_store *s);
/* The file's pages in use, in bytes (for the size report). */
int64_t ix_size_bytes(ix_store *s);

#endif
