/* How each search field of pipeline/schema.h (the same table `ctindex schema` prints) is kept in
 * the embedded index, and why. Pure: a table computed once from the schema.
 *
 *   literal, facet enabled   a dictionary id per value: a token "v<id>" in the `lit` full-text
 *                            table (exact, case-sensitive match; AND/OR by doclist merges) and a
 *                            slot in the document's packed row (facets, sort, return)
 *   literal-array            the same, one id per value
 *   literal, facet enabled,  (source_ip_address, user_identity_access_key_id, principal ids,
 *     nearly one value       resource ARNs) a dictionary would cost a row per record (about 60 B
 *     per record             and two SQL statements): the value's 60-bit hash is its token "h..."
 *                            and its slot; a facet shows the value of one document holding it
 *   literal, search only     (event_id, request_id, ...: unique per record) found through raw, or
 *                            with a hashed token when a document has no raw; matches of hashed
 *                            values are checked against the stored document, so a collision
 *                            cannot leak
 *   date, int                a slot of the packed row (event_time also in its own column, which
 *                            orders and ranges documents cheaply)
 *   text, indexed            a column of the `text` full-text table: raw first (the cheapest
 *                            position lists), then user_identity_arn, user_agent, error_message
 *   text, covered            the JSON sub-objects (request_parameters, response_elements, ...):
 *                            their text is inside raw, so they are found through raw and checked
 *                            against the stored document; documents without raw put their text
 *                            in the `other` column instead. This keeps the index under 1.5 KB
 *                            per record: five more position lists would cost about 110 B. */
#ifndef CTINDEX_INDEX_FIELDS_H
#define CTINDEX_INDEX_FIELDS_H

#include <stddef.h>

#include "pipeline/schema.h"

typedef enum {
    IXF_LITERAL, /* dictionary-coded, facetable */
    IXF_LITERAL_ARRAY /* dictionary-coded, several values */,
    IXF_LITERAL_UNIQUE, /* facetable, nearly unique values: hashed token and slot (scalar or array) */
    IXF_LITERAL_HASH,   /* search-only literal: through raw, or a hashed token */
    IXF_DATE,
    IXF_INT,
    IXF_TEXT,        /* its own column of `text` */
    IXF_TEXT_COVERED /* found through raw (or `other`) and checked */
} ixf_kind;

/* Columns of the `text` table, in order. raw must stay first: FTS5 writes column 0's positions
 * without a column marker (measured: raw first costs 776 B per record for these four columns,
 * raw last 1,003 B). */
enum { IXT_RAW = 0, IXT_ARN, IXT_AGENT, IXT_ERROR, IXT_OTHER, IXT_COLUMNS };

typedef struct ixf_field {
    const schema_field *sf;
    size_t name_len;
    ixf_kind kind;
    int fid;      /* index in the schema table (stable: stored in the dictionary) */
    int slot;     /* slot in the packed row, -1 if none */
    int column;   /* IXT_* for IXF_TEXT, -1 otherwise */
    int facet;    /* facet enabled (literal kinds, int) */
    int sort;     /* sort enabled */
    int is_time;  /* event_time: the t column and the row id's hour */
    int is_array; /* a literal-array field (IXF_LITERAL_ARRAY, or IXF_LITERAL_UNIQUE over one) */
} ixf_field;

#define IXF_MAX 200

/* The table (built on first use; thread-safe after the first call, which ctindex makes at
 * startup through ixf_count). */
size_t ixf_count(void);
const ixf_field *ixf_at(size_t i); /* one array: ixf_at(0)[i] is ixf_at(i), for a caller that loops */
/* By name, or NULL. "_id" is not a field (the document id is handled by the caller). */
const ixf_field *ixf_find(const char *name, size_t len);
/* The number of packed slots, and the field of slot k (NULL when out of range). */
int ixf_slots(void);
const ixf_field *ixf_by_slot(int k);
/* The column name of the `text` table for IXT_* (raw, user_identity_arn, ...). */
const char *ixf_column_name(int column);

#endif
