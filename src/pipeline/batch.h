/* The body of one upload, built in place: documents are written straight into the batch's
 * buffer (batch_space), then committed. Memory is allocated once by batch_init.
 *
 *   SDF  (CloudSearch): [doc,doc,...]           5,000,000-byte default, brackets included
 *   BULK (OpenSearch):  action\nsource\n...     each document brings its own trailing '\n'
 *
 * Per-document offsets let a rejected batch be split and retried in halves; a run-length
 * list of owners (consecutive documents of the same owner share one entry) lets the caller
 * acknowledge the records of an accepted batch, and tells a sink where each document came from
 * (for its dead-letter entries) without knowing who the owners are. */
#ifndef CTINDEX_BATCH_H
#define CTINDEX_BATCH_H

#include <stddef.h>
#include <stdint.h>

enum { BATCH_SDF = 1, BATCH_BULK = 2 };

/* Per-document flags. DERIVED: the document is exactly what the builder makes from its own raw
 * field (raw holds the whole record, nothing was dropped or trimmed), so a store may keep raw
 * alone and rebuild the rest (the index sink does). */
enum { BATCH_DOC_DERIVED = 1 };

#define BATCH_DEFAULT_MAX_BYTES 5000000u /* CloudSearch batch limit */
#define BATCH_DEFAULT_MAX_DOCS 100000u

typedef struct batch_owner_run {
    void *owner;
    const char *source; /* where the owner's records come from (s3://bucket/key, a path); not owned */
    uint32_t count;     /* consecutive documents */
} batch_owner_run;

/* A record kept beside document i: its text in rec_data[off..off + len), which is exactly the
 * decoded value of the document's raw field, held in the document at [raw_at, raw_at + raw_len)
 * (the string's bytes between the quotes, offsets from the document's start). */
typedef struct batch_record {
    uint32_t off, len;
    uint32_t raw_at, raw_len;
} batch_record;

typedef struct batch {
    int format;
    char *data;
    size_t max_bytes;
    size_t len; /* bytes used, without the closing bracket */
    uint32_t max_docs;
    uint32_t ndocs;
    uint32_t *doc_off; /* start of each document */
    uint32_t *doc_len;
    uint8_t *doc_flags;
    /* Records kept beside their documents (batch_keep_records; NULL when not asked for) */
    struct batch_record *records; /* per document; len 0: none kept */
    char *rec_data;               /* their text, max_bytes at most */
    size_t rec_len;
    batch_owner_run *runs;
    uint32_t nruns;
    int closed; /* batch_body was called: no more documents until batch_reset */
    /* SHA-256 (hex) of the closed body, for a SigV4 payload hash; "" until batch_hash_bodies */
    char sha256_hex[65];
} batch;

/* max_bytes 0 -> BATCH_DEFAULT_MAX_BYTES (must be < 4 GiB); max_docs 0 -> BATCH_DEFAULT_MAX_DOCS.
 * Returns 0, or -1 (bad arguments, out of memory). */
int batch_init(batch *b, int format, size_t max_bytes, uint32_t max_docs);
void batch_free(batch *b);
void batch_reset(batch *b);

/* Where the next document goes and how many bytes it may take (room for its separator and
 * the closing bracket is already held back). NULL with *avail = 0 when full or closed. */
char *batch_space(batch *b, size_t *avail);
/* Appends the n bytes written at batch_space as one document of `owner`, whose records come from
 * `source` (may be NULL; must outlive the batch's use). 0, or -1 when n is 0, larger than the
 * space, or the batch is full/closed. */
int batch_commit(batch *b, size_t n, void *owner, const char *source);
/* The finished body (closes it; idempotent). An SDF batch without documents is "[]", which
 * CloudSearch rejects: callers do not upload empty batches. */
const char *batch_body(batch *b, size_t *len);
/* Flags of the last committed document (BATCH_DOC_*), and of document i (0 when out of range). */
void batch_flag_last(batch *b, uint8_t flags);
static inline uint8_t batch_doc_flags(const batch *b, uint32_t i) { return i < b->ndocs ? b->doc_flags[i] : 0; }
/* Closes a and b (b may be NULL) and fills their sha256_hex: two bodies are hashed at once
 * (crypto_sha256_pair), which the SHA extensions do in about 2/3 of the time of one after the
 * other. 0, or -1 (hashes left "") when the library fails. */
int batch_hash_bodies(batch *a, batch *b);
/* Makes b keep, beside documents, the records their raw fields hold (batch_keep_record), so that
 * a store which needs the record itself (the index sink) neither scans nor decodes raw again.
 * Allocates max_bytes once: a record is never longer than its escaped copy in the body. 0, or -1
 * (out of memory). */
int batch_keep_records(batch *b);
/* Keeps rec[0..len) for the last committed document, whose raw value (escaped rec, nothing
 * dropped) is at [raw_at, raw_at + raw_len) of it. 0, or -1 (b keeps no records, no document,
 * bounds outside the document, no room): the document then has none kept. */
int batch_keep_record(batch *b, const char *rec, size_t len, size_t raw_at, size_t raw_len);
/* The record kept for document i (NULL when none) and where its raw value is in the document. */
const char *batch_doc_record(const batch *b, uint32_t i, size_t *len, size_t *raw_at, size_t *raw_len);
/* Bytes of document i (without separators), or NULL when i is out of range. */
const char *batch_doc(const batch *b, uint32_t i, size_t *len);
/* 1 when no further document can be committed. */
int batch_full(const batch *b);
static inline uint32_t batch_count(const batch *b) { return b->ndocs; }
/* Owner runs in document order. */
const batch_owner_run *batch_owners(const batch *b, uint32_t *nruns);
/* The source of document i ("?" when unknown or i is out of range); walks the runs. */
const char *batch_doc_source(const batch *b, uint32_t i);

#endif
