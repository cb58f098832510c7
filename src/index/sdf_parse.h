/* CloudSearch document batches (SDF, JSON form) read and checked the way CloudSearch's document
 * service does, for the embedded index: the `index:` sink (ctindex's own documents) and
 * `serve`'s POST /2013-01-01/documents/batch (any client's). Pure: no allocation beyond the
 * caller's json_doc; every message names the document (by id, or by position) and the problem.
 *
 * Rules (aws-protocols.md 1.3-1.6): a JSON array of at least one operation; each is
 * {"type":"add","id":ID,"fields":{...}} or {"type":"delete","id":ID}; ids are 1-128 of
 * [A-Za-z0-9_-=#;:/?@&]; an add has 1-200 fields, each defined by the schema; values are a
 * string or a number or (array fields only) a non-empty array of at most 1000 of them; null,
 * objects and booleans are refused; literal values hold at most 4096 code points; dates are RFC
 * 3339 UTC; ints fit 64 bits; text must be valid UTF-8 of characters XML 1.0 allows; a document
 * is at most 1 MB. */
#ifndef CTINDEX_SDF_PARSE_H
#define CTINDEX_SDF_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/json.h"
#include "index/index_fields.h"
#include "pipeline/batch.h"

#define SDF_MAX_DOC_BYTES (1024 * 1024)
#define SDF_MAX_ID 128
#define SDF_MAX_FIELDS 200
#define SDF_MAX_VALUES 1000
/* Tokens for the largest document SDF allows: 200 fields of 1000 values, plus keys. */
#define SDF_MAX_TOKENS (SDF_MAX_FIELDS * (SDF_MAX_VALUES + 2) + 16)

typedef struct sdf_field {
    const ixf_field *f;
    int tok;   /* the value token: a string, a number, or an array of them */
    int plain; /* a string whose bytes are its value (nothing escaped), by the builder's word */
    int64_t v; /* a date field's milliseconds, an int field's value, as checked (else 0) */
} sdf_field;

typedef struct sdf_op {
    int is_delete;
    char id[SDF_MAX_ID + 1];
    size_t id_len;
    sdf_field fields[SDF_MAX_FIELDS]; /* in document order */
    int nfields;
    int64_t time_ms; /* event_time, when present and valid */
    int has_time;
    /* raw's value decoded (json_tok_decode's bytes), when sdf_parse_trusted decoded it as it
     * scanned it (in its scratch: valid until scratch is used again); else NULL */
    const char *raw;
    size_t raw_len;
} sdf_op;

/* What ctindex's own builder knows of a document it wrote (batch_doc_record): raw's value is
 * js[raw_at..raw_at + raw_len) (the bytes between its quotes), and decodes to rec[0..rec_len). */
typedef struct sdf_hint {
    size_t raw_at, raw_len;
    const char *rec;
    size_t rec_len;
} sdf_hint;

/* Walks the top-level array of a batch: *pos starts at 0. Returns 1 with the next element's
 * JSON text, 0 after the last one, -1 (err filled) when the batch is not a JSON array, is empty,
 * or is malformed between elements. Element contents are not validated here. */
int sdf_next(const char *s, size_t n, size_t *pos, const char **elem, size_t *elem_len, char *err, size_t errcap);

/* Parses and checks one operation (JSON text js[0..len), the index-th of its batch, from 1). doc
 * must hold SDF_MAX_TOKENS tokens; scratch (bounded by SDF_MAX_DOC_BYTES) checks string values,
 * unused when trusted (then it may be NULL). trusted: the document comes from ctindex's own builder, which
 * already guarantees valid characters and literal lengths: those string checks are skipped
 * (structure, field names, types and dates are still checked). 0, or -1 with err ("document
 * ID: problem"). On success the tokens in op refer to doc, valid until doc is reused. */
int sdf_parse_op(json_doc *doc, const char *js, size_t len, unsigned index, int trusted, buf *scratch, sdf_op *op,
                 char *err, size_t errcap);
/* The same for a trusted document, faster: the builder writes raw last, so when the document ends
 * with a well-formed "raw" string, everything before it is tokenized from a copy in scratch and
 * raw's token is made to span its text in js (the tokenizer never walks the 1-2 KB of the record).
 * Tokens then refer to js (doc->js is js), as with sdf_parse_op. A compact document's raw (a
 * string without \u escapes) is decoded as it is scanned: op->raw, in scratch, NUL-terminated.
 * scratch is required here (bounded by SDF_MAX_DOC_BYTES + 16). */
int sdf_parse_trusted(json_doc *doc, const char *js, size_t len, unsigned index, buf *scratch, sdf_op *op, char *err,
                      size_t errcap);
/* sdf_parse_trusted with the builder's word on where raw is (hint, may be NULL): the scan steps
 * over raw's value without reading it, and op->raw is hint->rec (nothing decoded). A hint that
 * does not fit the text is not used (op->raw is then NULL: the caller decodes raw's token). */
int sdf_parse_hinted(json_doc *doc, const char *js, size_t len, unsigned index, const sdf_hint *hint, buf *scratch,
                     sdf_op *op, char *err, size_t errcap);
/* A document ctindex's builder wrote, taken from its field list (fl[0..nfl), batch_doc_fields)
 * instead of its text: the tokens sdf_parse_op would give are made from the list, which must
 * describe js exactly: the operation's head and the id, then each field's key, value and
 * separator where the list puts them, and the end; field ids known and each once; arrays only
 * for array fields. The values' bytes are trusted as sdf_parse_trusted trusts them (dates and
 * ints are still checked), and so is a string's BATCH_FIELD_PLAIN (sdf_field.plain: its bytes
 * are taken as its value, not decoded). raw left out of the document (BATCH_FIELD_KEPT) needs the hint of its
 * record; with a hint at raw's place, op->raw is the record. 0, or -1 with err: a document the
 * list does not describe (never read otherwise), or a value refused. */
int sdf_parse_fields(json_doc *doc, const char *js, size_t len, unsigned index, const batch_field *fl, size_t nfl,
                     const sdf_hint *hint, sdf_op *op, char *err, size_t errcap);

#endif
