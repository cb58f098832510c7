/* The document builder: one CloudTrail record (the exact JSON text of one element of
 * "Records") in, one search document out, written straight into the caller's buffer
 * (normally batch_space). Fields come from the schema table, in its order, those of the chosen
 * profile only (original, standard, full: schema.h); missing, null
 * and empty values are omitted (CloudSearch forbids null and empty arrays), every string is
 * sanitised by jsonw. No allocation per record: the token array is allocated once. */
#ifndef CTINDEX_DOCBUILD_H
#define CTINDEX_DOCBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/batch.h"
#include "pipeline/schema.h"

#define DOCB_NOSPACE 0L /* did not fit in cap: flush the batch, retry with an empty one */
#define DOCB_BAD (-1L)  /* not a JSON object / unparsable / nothing to index: see res->error */

#define DOCB_DEFAULT_MAX_DOC 1048576u     /* CloudSearch document limit */
#define DOCB_MIN_MAX_DOC 16384u           /* room for every non-trimmable field */
#define DOCB_DEFAULT_MAX_RECORD 2097152u  /* CloudTrail events are <= 256 KB; keep a margin */
#define DOCB_LIMIT_MAX_RECORD (64u << 20) /* the token array is ~10x the record size */
#define DOCB_DEFAULT_INDEX_PATTERN "cloudtrail-%Y.%m.%d"

typedef struct docb_options {
    int format;                /* BATCH_SDF (also when 0) or BATCH_BULK */
    size_t max_doc_bytes;      /* 0 -> DOCB_DEFAULT_MAX_DOC; at least DOCB_MIN_MAX_DOC. BULK: action + source */
    int include_raw;           /* emit the whole record as `raw` */
    const char *index_pattern; /* BULK index name; %Y %m %d %H from eventTime, otherwise
                                * lower-case [a-z0-9._+-]. NULL -> DOCB_DEFAULT_INDEX_PATTERN */
    size_t max_record_bytes;   /* 0 -> DOCB_DEFAULT_MAX_RECORD, at most DOCB_LIMIT_MAX_RECORD;
                                * longer records are DOCB_BAD */
    unsigned max_tokens;       /* 0 -> max_record_bytes / 2 + 1 (enough for any record of that size) */
    schema_profile profile;    /* which schema fields documents carry (default SCHEMA_PROFILE_DEFAULT) */
} docb_options;

/* SDF, 1 MiB documents, raw included, the default field profile, default pattern and limits. */
void docb_options_default(docb_options *o);

typedef struct docb_result {
    char id[132]; /* document id, NUL-terminated */
    size_t id_len;
    int id_fallback;         /* 1: eventID missing or unusable, id is "h_" + hash of the record */
    int trimmed;             /* 1: fields were cut to respect max_doc_bytes, or a literal value at
                              * 4096 code points, or an array at 1000 values (ctindex_trimmed=true) */
    size_t dropped;          /* invalid bytes / forbidden characters removed, summed over fields */
    size_t truncated_values; /* literal values cut at 4096 code points, array values past 1000 */
    size_t skipped_values;   /* values present but unusable (wrong JSON type, malformed date) */
    unsigned fields;         /* fields emitted */
    int64_t event_time;      /* eventTime, seconds since 1970; 0 when none usable (or before 1970) */
    /* raw, when written: its value (the string's bytes between the quotes) is out[raw_at..raw_at +
     * raw_len), the escaped rec[record_at..record_at + record_len); raw_len 0: not written */
    size_t raw_at, raw_len;
    size_t record_at, record_len;
    /* docb_build_fields with skip_raw: raw's value was left out (the document holds "" there,
     * raw_len 0) and would have taken this many bytes escaped; 0: written */
    size_t raw_unwritten;
    const char *error; /* DOCB_BAD: why (static string) */
} docb_result;

/* The document's field list, written as the document is (SDF only): every value's place in it,
 * so a reader that trusts the builder need not parse the text (the index sink). */
typedef struct docb_fields {
    batch_field *fields; /* room for cap entries (batch_field_space) */
    size_t cap;
    size_t n;     /* out: entries written */
    int complete; /* out: 1 when they describe every field of the document (0: more than cap, or BULK) */
    /* in: raw's value may be left out of the document when the document is otherwise exactly what
     * docb_build writes and is derived from raw (nothing dropped, trimmed or cut, the record
     * escapes clean, the whole document would fit): the caller keeps the record beside it (it
     * has room for len bytes) and puts raw back wherever the document leaves the process. */
    int skip_raw;
} docb_fields;

typedef struct doc_builder doc_builder;

/* NULL on invalid options (logged) or out of memory. o may be NULL for defaults. */
doc_builder *docb_new(const docb_options *o);
void docb_free(doc_builder *b);

/* Build the document for record rec[0..len) into out[0..cap). Returns bytes written (> 0),
 * DOCB_NOSPACE or DOCB_BAD. A document larger than max_doc_bytes is trimmed (when cap
 * allows max_doc_bytes; otherwise DOCB_NOSPACE), never dropped. out is not NUL-terminated.
 * Formats: SDF  {"type":"add","id":"ID","fields":{...}}
 *          BULK {"index":{"_index":"IDX","_id":"ID"}}\n{...}\n */
long docb_build(doc_builder *b, const char *rec, size_t len, char *out, size_t cap, docb_result *res);
/* docb_build, also writing the document's field list into fl (fl->fields and cap set by the
 * caller; may be NULL: then it is docb_build). The document is the same bytes docb_build writes,
 * except raw's value when fl->skip_raw left it out (res->raw_unwritten > 0). */
long docb_build_fields(doc_builder *b, const char *rec, size_t len, char *out, size_t cap, docb_fields *fl,
                       docb_result *res);

#endif
