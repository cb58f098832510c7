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
 * (the string's bytes between the quotes, offsets from the document's start). unwritten > 0:
 * raw's value was left out of the document (raw_len 0, the string there is ""), and would take
 * that many bytes escaped (batch_doc_whole puts it back). fields, nfields: the document's field
 * list (batch_field), nfields 0 when none was kept. */
typedef struct batch_record {
    uint32_t off, len;
    uint32_t raw_at, raw_len;
    uint32_t unwritten;
    uint32_t fields, nfields;
} batch_record;

/* One value of a document, as the builder wrote it (docb_build_fields): its bytes are
 * [at, at + len) of the document (offsets from its start; a string's bytes between its quotes,
 * a number's digits). The document's fields come in document order, each under its key
 * ("name":); an array field's entry spans its brackets and is followed by its n elements'. */
typedef struct batch_field {
    uint32_t at, len;
    uint8_t fid;   /* the field: index in the schema table (schema_field_at) */
    uint8_t flags; /* BATCH_FIELD_* */
    uint16_t n;    /* an array: its elements; else 0 */
} batch_field;

enum {
    BATCH_FIELD_STRING = 1, /* a string (else a number, or an array) */
    BATCH_FIELD_ARRAY = 2,
    BATCH_FIELD_PLAIN = 4, /* a string of as many characters as bytes: no escape to decode */
    BATCH_FIELD_KEPT = 8,  /* raw, left out: its value is the record kept beside the document */
};

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
    size_t unwritten;           /* bytes of raw values left out of documents, counted as used */
    struct batch_field *fields; /* documents' field lists, max_fields entries at most */
    size_t nfields, max_fields;
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
/* The finished body (closes it; idempotent). A document whose raw value was left out holds ""
 * there (only a batch that keeps records has such documents: its sink reads them one by one,
 * batch_doc_whole). An SDF batch without documents is "[]", which
 * CloudSearch rejects: callers do not upload empty batches. */
const char *batch_body(batch *b, size_t *len);
/* Flags of the last committed document (BATCH_DOC_*), and of document i (0 when out of range). */
void batch_flag_last(batch *b, uint8_t flags);
static inline uint8_t batch_doc_flags(const batch *b, uint32_t i) { return i < b->ndocs ? b->doc_flags[i] : 0; }
/* Closes a and b (b may be NULL) and fills their sha256_hex: two bodies are hashed at once
 * (crypto_sha256_pair), which the SHA extensions do in about 2/3 of the time of one after the
 * other. 0, or -1 (hashes left "") when the library fails. */
int batch_hash_bodies(batch *a, batch *b);
/* Makes b keep, beside documents, the records their raw fields hold and their field lists
 * (batch_commit_kept), so that a store which needs the record itself (the index sink) neither
 * scans nor decodes raw again, nor parses the document. Allocates max_bytes for records once (a
 * record is never longer than its escaped copy would be in the body) and max_bytes / 16 field
 * entries (a document's list that does not fit is not kept). 0, or -1 (out of memory). */
int batch_keep_records(batch *b);
/* What the builder says of a document beside its bytes (batch_commit_kept). */
typedef struct batch_kept {
    const char *rec; /* the record raw holds (NULL: none kept), rec_len bytes */
    size_t rec_len;
    size_t raw_at, raw_len; /* raw's value in the document */
    size_t unwritten;       /* raw's escaped bytes left out of the document (raw_len 0 then) */
    size_t nfields;         /* entries written at batch_field_space for it (0: none) */
} batch_kept;
/* Where the builder may write the next document's field list: room for *cap entries (0 when
 * b keeps none). */
batch_field *batch_field_space(batch *b, size_t *cap);
/* batch_commit for a document of a batch that keeps records, with what k says of it, all or
 * nothing: 0, or -1 (as batch_commit; or k's record does not fit, its bounds are outside the
 * document, raw's value is left out without a record or with raw_len > 0, its unwritten bytes do
 * not fit the batch's room, more fields than written): then nothing is committed. */
int batch_commit_kept(batch *b, size_t n, void *owner, const char *source, const batch_kept *k);
/* The record kept for document i (NULL when none) and where its raw value is in the document. */
const char *batch_doc_record(const batch *b, uint32_t i, size_t *len, size_t *raw_at, size_t *raw_len);
/* Document i's field list (NULL when none was kept) and its entries. */
const batch_field *batch_doc_fields(const batch *b, uint32_t i, size_t *n);
/* 1 when document i's raw value was left out (its record is kept beside it). */
int batch_doc_unwritten(const batch *b, uint32_t i);
/* Document i as a whole, with raw's value written where it was left out, into out[0..cap):
 * its length, or 0 when cap is too small. Any other document is copied as it is. For dead
 * letters: what leaves the process is always the whole document. */
size_t batch_doc_whole(const batch *b, uint32_t i, char *out, size_t cap);
/* The bytes batch_doc_whole needs for document i. */
size_t batch_doc_whole_len(const batch *b, uint32_t i);
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
