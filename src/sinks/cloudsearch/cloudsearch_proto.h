/* CloudSearch wire formats, pure (no I/O): the document service's upload response, endpoint
 * URLs and the signing region, and the configuration API's Query forms and XML answers.
 * Used by sink_cloudsearch.c and cloudsearch_config.c; kept apart so it can be tested alone. */
#ifndef CTINDEX_CLOUDSEARCH_PROTO_H
#define CTINDEX_CLOUDSEARCH_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/json.h"
#include "pipeline/schema.h"

#define CS_BATCH_PATH "/2013-01-01/documents/batch"
#define CS_API_VERSION "2013-01-01"
#define CS_MESSAGE_MAX 512
#define CS_URL_MAX 1024

/* documents/batch answer: {"status":"success"|"error","adds":N,"deletes":N,
 * "warnings":[{"message":..}],"errors":[{"message":..}],"message":..} */
typedef struct cs_upload_result {
    int is_cloudsearch;    /* body is a JSON object with a "status" string */
    int success;           /* status == "success" */
    int too_big;           /* more tokens than d holds: not parsed */
    int64_t adds, deletes; /* -1 when absent */
    uint32_t nwarnings, nerrors;
    char message[CS_MESSAGE_MAX]; /* outer "message", else the first error's message, else "" */
} cs_upload_result;

/* Called for each warnings[]/errors[] message (decoded, NUL-terminated, possibly truncated). */
typedef void (*cs_message_fn)(void *ud, int is_error, const char *msg);

/* Parses body with d (its token array bounds the work). Returns 0 when the body was a JSON
 * object (out filled as far as it goes), -1 otherwise (out->is_cloudsearch = 0). fn may be NULL. */
int cs_parse_upload_response(json_doc *d, const char *body, size_t len, cs_upload_result *out, cs_message_fn fn,
                             void *ud);

/* "doc-x-abc.us-west-2.cloudsearch.amazonaws.com" (URL or bare host) -> "us-west-2".
 * 0, or -1 when the host has no ".REGION.cloudsearch." label (e.g. 127.0.0.1:PORT). */
int cs_region_from_endpoint(const char *endpoint, char *out, size_t cap);

/* Upload URL from a document endpoint: a bare host gets https:// (default_scheme when not NULL),
 * a trailing '/' is dropped, and CS_BATCH_PATH is appended. 0, or -1 (empty, too long, has '?'). */
int cs_batch_url(const char *endpoint, const char *default_scheme, char *out, size_t cap);

/* Appends "&key=value" (no '&' when b is empty), value percent-encoded as the Query
 * protocol wants (unreserved characters kept). -1 when b is full. */
int cs_form_add(buf *b, const char *key, const char *value);

/* DefineIndexField form for one schema field: IndexField.IndexFieldName, .IndexFieldType and
 * the options block that belongs to the type (LiteralOptions.SearchEnabled=true, ...). */
int cs_form_define_field(buf *b, const char *domain, const schema_field *f);

/* A DescribeIndexFields answer against the schema: todo[i] (schema_count() entries) becomes 1
 * for every schema field the domain lacks or defines with another type or other options (an
 * option the answer leaves out counts as different). Returns how many, or -1 when xml is not an
 * IndexFields answer. */
int cs_fields_to_define(const char *xml, size_t len, unsigned char *todo);

/* What DescribeDomains / CreateDomain say about a domain. */
typedef struct cs_domain_status {
    char name[64];
    char doc_endpoint[256]; /* DocService.Endpoint as given (a host, no scheme); "" when absent */
    int created, deleted, processing, requires_index_documents;
} cs_domain_status;

/* Finds the <member> (DescribeDomains) or <DomainStatus> (CreateDomain) for domain `name`.
 * 0 when found, -1 when the answer does not mention it. */
int cs_parse_domain_status(const char *xml, size_t len, const char *name, cs_domain_status *out);

/* Domain names: [a-z][a-z0-9-]{2,27}. */
int cs_domain_name_valid(const char *name);

#endif
