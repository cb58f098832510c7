/* Searching the embedded index with CloudSearch's semantics.
 *
 * A query tree (query_parse.h) is compiled into SQL over the index's tables: literal values
 * become tokens of the `lit` full-text table (AND/OR/NOT of them stay one FTS5 query, merged in
 * its doclists), text becomes FTS5 queries on `text` ("same field" for the words of one string,
 * phrases by position, prefixes), dates and numbers compare on the document rows. What the
 * indexes can only narrow down (fields found through raw, hashed literal values) is checked
 * against the stored document.
 *
 * Order: CloudSearch sorts by relevance by default; ctindex computes no relevance (_score is 1
 * for every hit) and returns the newest first (event_time descending), which row ids give
 * cheaply: they are ordered by hour, so the newest hits come from the last hour or two that
 * match. Other sort fields sort every match.
 *
 * Facets count documents per value over every match: from the dictionary's counts for
 * matchall, else by reading the packed rows of the matches. */
#ifndef CTINDEX_IX_SEARCH_H
#define CTINDEX_IX_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "index/ix_store.h"
#include "index/search_params.h"

typedef struct ix_hit {
    char id[SDF_MAX_ID + 1];
    size_t fields_off, fields_len; /* a JSON object in ix_result.text */
} ix_hit;

typedef struct ix_bucket {
    size_t value_off, value_len; /* in ix_result.text (not NUL-terminated) */
    int64_t count;
} ix_bucket;

typedef struct ix_facet_result {
    const ixf_field *f;
    ix_bucket *buckets;
    int nbuckets;
} ix_facet_result;

typedef struct ix_result {
    int64_t found, start;
    ix_hit *hits;
    int nhits;
    ix_facet_result facets[IXR_MAX_FACETS];
    int nfacets;
    buf text;
} ix_result;

void ix_result_init(ix_result *res);
void ix_result_free(ix_result *res);

enum { IX_SEARCH_OK = 0, IX_SEARCH_BAD = -1, IX_SEARCH_ERR = -2, IX_SEARCH_TIMEOUT = -3 };

/* Runs r (checked by ixr_finish) against s into res (reset first). IX_SEARCH_OK; _BAD when the
 * query is wrong (err has a message for the user: a syntax error with its offset, an unknown
 * field, ...); _ERR when the index failed; _TIMEOUT past timeout_ms (0: none). */
int ix_search(ix_store *s, const ix_request *r, ix_result *res, unsigned timeout_ms, char *err, size_t errcap);

/* The value of field f of a hit as the text of its JSON object (res->text) holds it: the first
 * string (decoded) into out, or "" when absent. For readers of results (the CLI). */
void ix_hit_field(const ix_result *res, const ix_hit *h, const char *name, char *out, size_t cap);

#endif
