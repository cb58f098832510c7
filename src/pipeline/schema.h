/* The one table of search fields: what the document builder emits, what the CloudSearch
 * domain must define (DefineIndexField) and what the OpenSearch index template maps.
 * Every field the builder can emit is in this table, because CloudSearch rejects a whole
 * batch that holds an undefined field. */
#ifndef CTINDEX_SCHEMA_H
#define CTINDEX_SCHEMA_H

#include <stddef.h>
#include <stdio.h>

typedef enum {
    CS_LITERAL,
    CS_TEXT,
    CS_DATE,
    CS_INT,
    CS_LITERAL_ARRAY,
    CS_TEXT_ARRAY,
} schema_cs_type;

typedef enum { OS_KEYWORD, OS_TEXT, OS_DATE, OS_BOOLEAN, OS_LONG } schema_os_type;

/* CloudSearch index options (which ones apply depends on the type, see schema_print_cloudsearch). */
enum { SF_SEARCH = 1, SF_FACET = 2, SF_RETURN = 4, SF_SORT = 8, SF_HIGHLIGHT = 16 };

/* How the builder gets a value from a record. */
typedef enum {
    SRC_VALUE,   /* string (or number/boolean, as text) at `path` */
    SRC_BOOL,    /* JSON boolean (or "true"/"false") at `path`: "true"/"false" (OpenSearch: a boolean) */
    SRC_DATE,    /* RFC 3339 timestamp at `path`, in UTC (utc_date); omitted when it is no real time */
    SRC_INT,     /* 64-bit integer at `path` */
    SRC_JSON,    /* any value at `path`, kept as its JSON text (a string value: its content) */
    SRC_MEMBERS, /* array of objects at `path`: every element's `member` string */
    SRC_RECORD,  /* the whole record's JSON text */
    SRC_TRIMMED, /* "true" when the builder had to trim the document to fit the size limit */
} schema_source;

typedef struct schema_field {
    const char *name; /* [a-z][a-z0-9_]*, 3..64 chars */
    schema_cs_type cs_type;
    unsigned options; /* SF_* */
    schema_os_type os_type;
    schema_source source;
    const char *path;   /* dotted path of object keys in the record, NULL for SRC_RECORD/SRC_TRIMMED */
    const char *member; /* SRC_MEMBERS: key read from each array element */
    /* 0: never shortened. Otherwise the field may be cut when a document is too big; the
     * table keeps these last, highest rank first, so rank 1 (raw) is cut first. */
    unsigned trim_rank;
    const char *note; /* why the field is the way it is, when not obvious; may be NULL */
} schema_field;

#define SCHEMA_MAX_FIELDS 200         /* CloudSearch: 200 index fields per domain and per document */
#define SCHEMA_LITERAL_MAX_CHARS 4096 /* CloudSearch: literal values hold at most 4096 code points */
#define SCHEMA_ARRAY_MAX_VALUES 1000  /* CloudSearch: values per array field */

size_t schema_count(void);
const schema_field *schema_field_at(size_t i); /* NULL when out of range */
const schema_field *schema_find(const char *name);
const char *schema_cs_type_name(schema_cs_type t); /* "literal", "text-array", ... */
const char *schema_os_type_name(schema_os_type t); /* "keyword", "long", ... */

/* A JSON array of IndexField structures exactly as DefineIndexField takes them, e.g.
 * {"IndexFieldName":"event_name","IndexFieldType":"literal","LiteralOptions":{"SearchEnabled":true,...}}.
 * It stays strictly machine-readable (no comments), so the field notes are left out. */
void schema_print_cloudsearch(FILE *f);
/* An OpenSearch composable index template. index_pattern is the builder's index name pattern
 * (e.g. "cloudtrail-%Y.%m.%d"): everything from the first '%' on becomes '*'. The field notes
 * travel in mappings._meta. */
void schema_print_opensearch(FILE *f, const char *index_pattern);

#endif
