/* The parameters of a CloudSearch search request (2013-01-01 search API), read from a query
 * string or a form body (the AWS CLI POSTs one, with format=sdk). Pure.
 *
 *   q, q.parser=simple|structured (simple by default, as CloudSearch), fq, size (10), start,
 *   sort=FIELD asc|desc,..., return=_all_fields|_no_fields|_score|FIELD,...,
 *   facet.FIELD={sort:'count'|'bucket', size:N} or {buckets:[...]}, and the SDK's
 *   facet={"FIELD":{...},...}; format=json|sdk; pretty, partial and q.options are accepted and
 *   have no effect. lucene/dismax parsers, cursor, expr, highlight, stats and format=xml are
 *   refused with a message. */
#ifndef CTINDEX_SEARCH_PARAMS_H
#define CTINDEX_SEARCH_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "index/index_fields.h"
#include "index/query_parse.h"

#define IXR_MAX_FACETS 16
#define IXR_MAX_BUCKETS 32
#define IXR_MAX_SORT 10
#define IXR_MAX_HITS 10000 /* start + size */

enum { IXQ_SIMPLE = 0, IXQ_STRUCTURED = 1 };
enum { IXR_RETURN_ALL = 0, IXR_RETURN_NONE = 1, IXR_RETURN_LIST = 2 };
enum { IXR_SORT_FIELD = 0, IXR_SORT_SCORE = 1, IXR_SORT_ID = 2 };

typedef struct ixr_facet {
    const ixf_field *f;
    int sort_bucket; /* 1: by value, ascending; 0: by count, descending */
    int size;
    int nbuckets; /* explicit buckets: values, or ranges "[a,b]" for int/date fields */
    char buckets[IXR_MAX_BUCKETS][128];
} ixr_facet;

typedef struct ixr_sort {
    int kind; /* IXR_SORT_* */
    const ixf_field *f;
    int desc;
} ixr_sort;

typedef struct ix_request {
    char q[QP_MAX_QUERY + 1];
    size_t q_len;
    int have_q;
    int parser;
    char fq[QP_MAX_QUERY + 1];
    size_t fq_len;
    int64_t start, size;
    ixr_sort sort[IXR_MAX_SORT];
    int nsort;
    int return_mode;
    unsigned char ret[IXF_MAX]; /* by field index, for IXR_RETURN_LIST */
    int ret_score;
    ixr_facet facets[IXR_MAX_FACETS];
    int nfacets;
    int sdk; /* format=sdk: every field value is a list of strings */
    char error[256];
} ix_request;

void ixr_init(ix_request *r);
/* One parameter, key and value already decoded. 0, or -1 with r->error. */
int ixr_param(ix_request *r, const char *key, size_t klen, const char *val, size_t vlen);
/* Every key=value of a query string or form body (percent-encoded). 0 or -1. */
int ixr_parse_form(ix_request *r, const char *s, size_t n);
/* Checks once every parameter is in: q present, limits. 0 or -1. */
int ixr_finish(ix_request *r);

#endif
