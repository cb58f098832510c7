/* CloudSearch's search response JSON (2013-01-01), written from a result. Pure.
 *
 *   {"status":{"rid":"...","time-ms":N},
 *    "hits":{"found":N,"start":N,"hit":[{"id":"...","fields":{"name":"value",...}}]},
 *    "facets":{"field":{"buckets":[{"value":"...","count":N}]}}}
 *
 * With format=sdk (what the AWS SDKs and CLI ask for) every field value is a list of strings and
 * the time is "timems"; facets appear only when asked for. Errors:
 *   {"error":{"code":"...","msg":"..."},"message":"..."} */
#ifndef CTINDEX_SEARCH_JSON_H
#define CTINDEX_SEARCH_JSON_H

#include "base/buf.h"
#include "index/ix_search.h"

/* rid: the request id (any short token). 0, or -1 when out is full. */
int search_json_result(const ix_request *r, const ix_result *res, const char *rid, long ms, buf *out);
int search_json_error(const char *code, const char *msg, buf *out);
/* s[0..n) as a JSON string (quotes included; invalid characters dropped). 0 or -1. */
int search_json_string(buf *out, const char *s, size_t n);

#endif
