/* Reading OpenSearch / Elasticsearch `_bulk` responses (pure: no I/O, no allocation).
 *
 *   {"took":3,"errors":true,"items":[{"index":{"_index":"i","_id":"a","status":201,...}},
 *                                    {"index":{"_id":"b","status":429,"error":{"type":..,"reason":..}}}]}
 *
 * Items come back in request order, one per action. Their statuses decide the fate of each
 * document: 2xx accepted, 429 and 5xx worth sending again, any other status final. */
#ifndef CTINDEX_OS_BULK_RESPONSE_H
#define CTINDEX_OS_BULK_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "base/json.h"

typedef enum os_item_verdict {
    OS_ITEM_OK = 0,    /* 2xx */
    OS_ITEM_RETRY = 1, /* 429 (es_rejected_execution_exception), 5xx: send the document again */
    OS_ITEM_REJECT = 2 /* other status (mapper_parsing_exception, ...): dead-letter it */
} os_item_verdict;

os_item_verdict os_bulk_item_verdict(int status);

#define OS_BULK_REASON_MAX 512

typedef struct os_bulk_item {
    uint32_t index; /* position in the request */
    int status;     /* item status; 0 when missing (counts as a rejection) */
    os_item_verdict verdict;
    const char *id; /* raw (still escaped) _id, or NULL */
    size_t id_len;
    char reason[OS_BULK_REASON_MAX]; /* "TYPE: reason" (decoded, truncated) when not OK, else "" */
} os_bulk_item;

typedef void (*os_bulk_item_fn)(void *ud, const os_bulk_item *it);

enum {
    OS_BULK_OK = 0,
    OS_BULK_ETOKENS = -1, /* the token array is too small: grow it and parse again */
    OS_BULK_EINVAL = -2,  /* not a bulk response (no "errors"/"items", invalid JSON, bad item) */
    OS_BULK_ECOUNT = -3,  /* the number of items differs from the number of documents sent */
    OS_BULK_EORDER = -4   /* (checked) an item answers for another _id than the document at its place */
};

/* Tokens enough for a response to n documents in the usual shapes (about 25 per success
 * item, 30-40 per failed one); on OS_BULK_ETOKENS the caller doubles, within a bound. */
static inline unsigned os_bulk_tokens_for(uint32_t n) { return 64u + 40u * n; }

/* Parse body[0..len) as the answer to a request of `expected` documents. With "errors":false
 * every document was accepted and fn is not called; otherwise fn runs once per item in order.
 * *errors (may be NULL) gets the response's "errors" flag. Returns OS_BULK_OK or OS_BULK_E*. */
int os_bulk_parse_response(json_doc *d, const char *body, size_t len, uint32_t expected, int *errors,
                           os_bulk_item_fn fn, void *ud);

/* The raw _id of the document sent at place i of the request (NULL when it has none). */
typedef const char *(*os_bulk_id_fn)(void *ud, uint32_t i, size_t *len);

/* os_bulk_parse_response for an answer that decides what is acknowledged: besides the above, the
 * answer must hold "items" (also with "errors":false), one per document, each with a status, and
 * an item's _id, when it has one, must be the id of the document sent at its place (id_of, may be
 * NULL to skip that). Nothing is reported through fn unless all of it holds. */
int os_bulk_parse_checked(json_doc *d, const char *body, size_t len, uint32_t expected, int *errors,
                          os_bulk_id_fn id_of, void *id_ud, os_bulk_item_fn fn, void *ud);

/* A one-line reason for a failed whole request, from an Elasticsearch error body
 * {"error":{"type":T,"reason":R},"status":S}, {"error":"text"}, or an AWS {"message":M}
 * (else the start of the body). body may be NULL (no body). Always NUL-terminates out (cap > 0). */
void os_bulk_error_reason(json_doc *d, const char *body, size_t len, char *out, size_t cap);

/* The raw _id of a BULK document "{"index":{"_index":"..","_id":"ID"}}\n{...}\n" as written by
 * the document builder; NULL when the action line has none. */
const char *os_bulk_doc_id(const char *doc, size_t len, size_t *id_len);

#endif
