/* Inside the embedded index: the store's state, shared by its files (ix_store.c opens and
 * creates, ix_dict.c keeps the value dictionary, ix_doc.c stores and rebuilds documents,
 * ix_write.c applies batches, ix_search_run.c and the files of ix_search_internal.h run
 * queries). Not for use outside src/index/.
 *
 * Tables:
 *   docs(rowid, t, p)       one row per document: t = event_time in ms, p = packed slots
 *                           (dictionary ids, dates, ints: index_fields.h). The row id is
 *                           (hour of event_time << 24) | sequence: every table and both
 *                           full-text indexes iterate documents in hour order, so "the newest
 *                           hits" reads from the end and stops after one or two hours.
 *   store(rowid, z)         the document, compressed (ix_doc.c)
 *   ids(h, doc)             document id -> row id: a multimap keyed by a 63-bit hash of the id
 *   ids_new(h, doc)         and the row id (20 B a document instead of 54 for the text); every
 *                           entry of the id's hash is checked against the stored document's id.
 *                           New ids go into ids_new, merged into ids in key order when it is
 *                           full (ix_ids.c); an id is in one of them.
 *   vals(id, fid, h, n, v)  the dictionary of literal values: field, hash, documents holding
 *                           the value (matchall facets), the value; index (fid, h)
 *   dicts(id, d)            zstd dictionaries trained on the first documents
 *   meta(k, v)              format, field table, document count
 *   text                    FTS5, contentless: raw, user_identity_arn, user_agent,
 *                           error_message, other (unicode61, positions for phrases)
 *   lit                     FTS5, contentless, no positions: one token per literal value;
 *                           merges 16 segments a level */
#ifndef CTINDEX_IX_INTERNAL_H
#define CTINDEX_IX_INTERNAL_H

#include <sqlite3.h>
#include <stdint.h>
#include <zstd.h>

#include "base/buf.h"
#include "base/json.h"
#include "index/index_fields.h"
#include "index/ix_stats.h"
#include "index/sdf_parse.h"
#include "pipeline/docbuild.h"

typedef struct ix_store ix_store;

#define IX_FORMAT "ctindex-index-2" /* 2: ids in two levels keyed (h, doc) */
#define IX_SEQ_BITS 24
#define IX_MAX_HOUR ((INT64_C(1) << 38) - 1)
#define IX_DICT_BYTES 32768
#define IX_ZSTD_LEVEL 1

/* A cached dictionary entry: (fid, value) -> id. */
typedef struct ix_dent {
    uint64_t h;
    int64_t id;
    uint32_t off, len; /* value bytes in the arena */
    int32_t fid;
    int32_t delta; /* documents added minus removed in this transaction */
    int is_new;    /* not in vals yet: inserted at commit */
} ix_dent;

/* A full-text write held until the commit (ix_fts_queue.c). */
typedef struct ix_ftsop {
    int64_t rowid;
    uint32_t seq; /* arrival: writes on one row id keep their order */
    uint32_t is_delete;
    size_t off; /* in fq_text: the text columns, then the lit tokens, each NUL-terminated */
    uint32_t len[IXT_COLUMNS + 1];
} ix_ftsop;

typedef struct ix_hourseq {
    int64_t hour;
    int64_t next;
} ix_hourseq;

#define IX_HOURS_CACHED 64

/* A document's rows held until they are written together (ix_pending.c). */
typedef struct ix_pend {
    int64_t rowid, t, h;
    uint32_t off, plen, zlen; /* in pend_bytes: the packed row, then the compressed document */
    int has_t;
} ix_pend;

typedef struct ix_pend_key {
    int64_t h, doc;
} ix_pend_key;

struct ix_store {
    sqlite3 *db;
    int mode;
    fts5_tokenizer tk_api;
    Fts5Tokenizer *tk;
    /* statements */
    sqlite3_stmt *q_id_get, *q_id_get_main, *q_id_all, *q_id_del, *q_idnew_del, *q_idnew_count;
    sqlite3_stmt *q_doc_del, *q_doc_get;
    sqlite3_stmt *q_store_del, *q_store_get;
    sqlite3_stmt *q_text_put, *q_text_del, *q_lit_put, *q_lit_del;
    sqlite3_stmt *q_val_find, *q_val_put, *q_val_add, *q_val_get, *q_val_max, *q_row_max;
    sqlite3_stmt *q_count_get, *q_count_put, *q_dict_get, *q_dict_put, *q_datav;
    sqlite3_stmt *q_pend_docs, *q_pend_store, *q_pend_ids;
    /* dictionary cache: open addressing over ents */
    ix_dent *ents;
    uint32_t nents, cap_ents;
    int32_t *slots; /* index into ents, -1 empty */
    uint32_t nslots;
    buf arena;
    int64_t next_val_id;
    /* compression */
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    ZSTD_CDict *cdict;
    int cdict_id;   /* dictionary used for new documents, 0 = none yet */
    int dict_in_tx; /* it was trained in the open transaction (dropped on rollback) */
    int sampling_done;
    int stored_sampled; /* the records the index held without a dictionary were sampled */
    ZSTD_DDict *ddicts[8];
    buf samples; /* raw records kept to train the first dictionary */
    size_t *sample_sizes;
    unsigned nsamples;
    /* rebuilding documents from raw */
    doc_builder *builder;
    json_doc jd;        /* stored documents as they are loaded */
    sdf_op old;         /* the stored document an add replaces, or a delete removes */
    const char *loaded; /* its text (in unz or built) */
    size_t loaded_len;
    int loaded_derived;
    /* scratch */
    char *raw; /* a decoded raw record */
    size_t raw_cap;
    char *built; /* docb_build output */
    size_t built_cap;
    char *z; /* compressed document */
    size_t z_cap;
    char *unz; /* decompressed document */
    size_t unz_cap;
    buf cols[IXT_COLUMNS]; /* text column values of one document */
    const char *raw_col;   /* raw, when it was decoded before (into s->raw) */
    size_t raw_col_len;
    buf lit;     /* lit tokens of one document */
    buf packed;  /* packed slots of one document */
    buf scratch; /* a decoded value */
    /* transaction */
    int in_tx;
    int64_t data_version;
    int64_t doc_delta;
    ix_ftsop *fq; /* full-text writes of the transaction, applied sorted at commit */
    uint32_t fq_n, fq_cap;
    buf fq_text;
    ix_hourseq hours[IX_HOURS_CACHED];
    unsigned nhours;
    void *search_ctx; /* the query being run (an ix_cctx: ix_search_functions.c's ctv reads it) */
    /* the ids map (ix_ids.c) */
    int64_t ids_new_n;    /* entries in ids_new, -1 when unknown (counted at the next ix_begin) */
    int64_t id_hash_mask; /* INT64_MAX; tests narrow it to force hash collisions */
    int64_t ids_new_max;  /* 0: merge by ix__ids_new_full's rule; tests set a small bound */
    uint64_t *idn_set;    /* hashes of ids_new's entries + 1 (ix_ids.c), valid when idn_ok */
    uint32_t idn_cap, idn_n;
    int idn_ok;
    uint32_t *idm_set; /* fingerprints of ids's hashes (ix_ids.c), valid when idm_ok */
    uint32_t idm_cap, idm_n;
    int idm_ok, idm_in_tx; /* idm_in_tx: loaded in the open transaction */
    int64_t idm_wait;      /* lookups in ids before idm_set is loaded; -1: not counted yet */
    /* rows of docs, store and ids_new held until they are written together (ix_pending.c) */
    ix_pend *pend;
    ix_pend_key *pend_keys; /* (h, doc) of the held rows, sorted when written */
    uint32_t pend_n;
    uint64_t *pend_set; /* their hashes + 1, open addressing, 0 empty */
    buf pend_bytes;
    ix_write_stats ws; /* committed */
    ix_write_stats tx; /* in the open transaction */
};

/* ix_store.c */
#ifndef IX_READ_MAP_MAX
#define IX_READ_MAP_MAX 2147418112LL /* SQLite's SQLITE_MAX_MMAP_SIZE; -D to measure another */
#endif
/* Bytes of the file a reader maps: a quarter of the machine's memory (ram_bytes, 0 when unknown),
 * at most IX_READ_MAP_MAX, and 256 MB when pointers have fewer than 8 bytes. */
long long ix__read_map_bound(long long ram_bytes, int pointer_bytes);
long long ix__read_map_bytes(void); /* for this machine and process */
int ix__exec(ix_store *s, const char *sql, char *err, size_t errcap);
int ix__sqlerr(ix_store *s, char *err, size_t errcap, const char *what);
/* Tokenize text with the `text` table's tokenizer; cb gets each token (folded). */
int ix__tokenize(ix_store *s, const char *text, size_t n,
                 int (*cb)(void *ud, const char *tok, int len, int start, int end), void *ud);

/* ix_ids.c: the ids map */
enum { IX_IDS_MAIN = 0, IX_IDS_NEW = 1 };
#ifndef IX_IDS_NEW_MIN
#define IX_IDS_NEW_MIN 16384 /* -D to measure another */
#endif
typedef struct ix_idref {
    int64_t h; /* the id's hash */
    int level; /* IX_IDS_MAIN or IX_IDS_NEW: where its entry is (when found) */
} ix_idref;
int64_t ix__id_hash(const ix_store *s, const char *id, size_t n);
/* The row id of document id (s->old then holds its stored document), 0 when none, -1 on error;
 * ref gets the id's hash and the level of its entry. */
int64_t ix__find_id(ix_store *s, const char *id, size_t n, ix_idref *ref, char *err, size_t errcap);
/* Takes out the entry of a document found by ix__find_id. 0 or -1. (New entries go into ids_new
 * through ix_pending.c.) */
int ix__id_drop(ix_store *s, const ix_idref *ref, int64_t doc, char *err, size_t errcap);
/* An entry of hash h is to go into ids_new (held: ix_pending.c): counted, and its hash kept. */
void ix__id_added(ix_store *s, int64_t h);
void ix__idn_free(ix_store *s);
/* What is kept of ids in memory: forgotten when another writer committed (and at close); kept at
 * a commit; forgotten at a rollback of the transaction that loaded it. */
void ix__idm_forget(ix_store *s);
void ix__idm_commit(ix_store *s);
void ix__idm_rollback(ix_store *s);
int ix__ids_functions(ix_store *s); /* registers ctidm on the writer's connection: SQLITE_OK or not */
/* 1 when ids_new, with n entries in an index of docs documents, is to be merged. */
int ix__ids_new_full(const ix_store *s, int64_t n, int64_t docs);
/* Merges ids_new into ids and empties it when full; in the open transaction (ix_begin). */
int ix__ids_merge_when_full(ix_store *s, char *err, size_t errcap);

/* ix_pending.c: the rows a document adds to docs, store and ids_new, held in memory and written
 * together (ix__pending_flush: when full, at ix_commit, and before anything in the transaction
 * reads those tables where a held row could be). ix__pending_has: 1 when a held row has id hash
 * h. ix__pending_add copies p and z. 0, or -1 with err. */
int ix__pending_init(ix_store *s);
void ix__pending_free(ix_store *s);
void ix__pending_clear(ix_store *s);
int ix__pending_has(const ix_store *s, int64_t h);
int64_t ix__pending_max_rowid(const ix_store *s, int64_t lo, int64_t hi); /* the largest held in [lo, hi], or 0 */
int ix__pending_add(ix_store *s, int64_t rowid, int has_t, int64_t t, const void *p, size_t plen, const void *z,
                    size_t zlen, int64_t h, char *err, size_t errcap);
int ix__pending_flush(ix_store *s, char *err, size_t errcap);
/* Sorts k[0..n) by h, signed, keeping the order of equal hashes; tmp[0..n) is scratch. */
void ix__pending_sort_keys(ix_pend_key *k, ix_pend_key *tmp, uint32_t n);

/* ix_fts_queue.c: the transaction's writes to `text` and `lit`, applied in row id order (FTS5
 * starts a new segment at every step back). ix__fts_queue takes the values doc_columns left in s
 * (a delete when is_delete); ix__fts_flush applies and empties the queue (ix_commit, and the queue
 * itself when full). 0 or -1 with err. */
int ix__fts_queue_init(ix_store *s);
void ix__fts_queue_free(ix_store *s);
void ix__fts_queue_clear(ix_store *s);
int ix__fts_queue(ix_store *s, int is_delete, int64_t rowid, char *err, size_t errcap);
int ix__fts_flush(ix_store *s, char *err, size_t errcap);

/* ix_write.c: steps st (then resets it and clears its bindings); 0, or -1 with err naming what. */
int ix__step_done(ix_store *s, sqlite3_stmt *st, char *err, size_t errcap, const char *what);
/* The same, bindings kept: for a statement whose every parameter is bound before each step (the
 * full-text writes, two a document: clearing cost about 95 instructions each). */
int ix__step_rebound(ix_store *s, sqlite3_stmt *st, char *err, size_t errcap, const char *what);

/* ix_search_functions.c: registers ctv, ctslot and ctkey on the connection */
int ix__search_functions(ix_store *s);

/* ix_dict.c: the value dictionary */
void ix__dict_reset(ix_store *s); /* forget the cache (another writer committed, or it grew too big) */
/* Id of (fid, value), creating it when create (in a transaction); delta (+1, -1, 0) is added to
 * the count of documents holding it. 0 when absent (!create), -1 on error. */
int64_t ix__dict_id(ix_store *s, int fid, const char *v, size_t n, int create, int delta);
/* Writes new values and count changes; part of ix_commit. */
int ix__dict_flush(ix_store *s, char *err, size_t errcap);
/* Value of id (its field in *fid) into out; length or -1. */
long ix__dict_value(ix_store *s, int64_t id, int *fid, char *out, size_t cap);
uint64_t ix__hash(int fid, const char *v, size_t n);

/* ix_doc.c: stored documents */
/* Compress the document for the store: derived (only raw, which the fields are rebuilt from) when
 * docb_build(raw) gives back exactly js, else the whole operation. *derived: in, 1 when the caller
 * vouches for it (no rebuild); out, which it is. Returns the compressed length (in s->z) or -1.
 * raw: the decoded raw field or NULL. */
long ix__doc_pack(ix_store *s, const char *js, size_t len, const char *raw, size_t raw_len, int *derived);
/* Load the document at rowid and parse it into op (s->jd); s->loaded and s->loaded_derived tell
 * its text and kind. 0, 1 when there is none, -1 on error. */
int ix__doc_load(ix_store *s, int64_t rowid, sdf_op *op, char *err, size_t errcap);
/* Decompress a stored blob into the operation's JSON text (rebuilt from raw when derived). */
int ix__doc_unpack(ix_store *s, const void *blob, size_t n, const char **text, size_t *len, char *err, size_t errcap);
/* Use the newest compression dictionary of the file (at the start of a transaction; without one,
 * the first time, sample the records stored already and train when they are enough); forget it
 * (when the transaction that trained it is rolled back: the next transaction samples again). */
int ix__doc_use_dict(ix_store *s);
void ix__doc_drop_dict(ix_store *s);
/* Keeps raw records until there are enough to train the compression dictionary. */
void ix__doc_sample(ix_store *s, const char *raw, size_t n);
int ix__doc_init(ix_store *s);
void ix__doc_free(ix_store *s);

/* lit tokens: "v<id>" for dictionary values, "h<hash>" for search-only literals, base 36; out
 * needs 17 bytes (the token and its NUL take 15 at most). Returns the length. */
#define IX_HASH_TOKEN_MASK ((UINT64_C(1) << 60) - 1)
/* The 60-bit hash of a field's value: its "h" token and, for nearly unique literals, its slot. */
uint64_t ix__value_hash(int fid, const char *v, size_t n);
size_t ix__token(char kind, uint64_t v, char *out);

/* packed slots */
size_t ix__varint_put(uint8_t *p, uint64_t v);
int ix__varint_get(const uint8_t *p, size_t n, size_t *pos, uint64_t *v);
/* A set of 63-bit hashes (h >= 0) in cap slots (a power of two), open addressing: a slot holds
 * h + 1, 0 when empty. Used for ids_new's hashes (ix_ids.c) and the held rows' (ix_pending.c). */
static inline uint32_t ix__hset_slot(int64_t h, uint32_t cap) {
    return (uint32_t)((uint64_t)h * UINT64_C(0x9E3779B97F4A7C15) >> 32) & (cap - 1);
}
static inline void ix__hset_put(uint64_t *set, uint32_t cap, int64_t h) {
    uint32_t k = ix__hset_slot(h, cap);
    while (set[k] && set[k] != (uint64_t)h + 1) k = (k + 1) & (cap - 1);
    set[k] = (uint64_t)h + 1;
}
static inline int ix__hset_has(const uint64_t *set, uint32_t cap, int64_t h) {
    for (uint32_t k = ix__hset_slot(h, cap);; k = (k + 1) & (cap - 1)) {
        if (set[k] == (uint64_t)h + 1) return 1;
        if (!set[k]) return 0;
    }
}

static inline uint64_t ix__zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t ix__unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

#endif
