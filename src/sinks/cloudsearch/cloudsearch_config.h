/* CloudSearch configuration API client (Query protocol, 2013-01-01) on aws_send: find a
 * domain's document endpoint, create a domain, define the schema's index fields.
 * Endpoint: aws_ctx_endpoint(c, "cloudsearch", region) (AWS_ENDPOINT_URL_CLOUDSEARCH overrides).
 * Every call returns 0 when started (cb then runs exactly once, from the loop) or -1 when it
 * could not start (cb not called; logged). */
#ifndef CTINDEX_CLOUDSEARCH_CONFIG_H
#define CTINDEX_CLOUDSEARCH_CONFIG_H

#include "aws/aws.h"
#include "sinks/cloudsearch/cloudsearch_proto.h"

typedef struct cloudsearch_domain_info {
    cs_domain_status status;
    /* The URL to upload to: DocService.Endpoint with the scheme of the configuration endpoint
     * (https for AWS; a local fake served over http gets http). "" when there is none yet. */
    char doc_url[CS_URL_MAX];
} cloudsearch_domain_info;

/* ok = 1: info valid. ok = 0: error says what went wrong in one line (info may be NULL). */
typedef void (*cloudsearch_domain_cb)(void *ud, int ok, const cloudsearch_domain_info *info, const char *error);
typedef void (*cloudsearch_done_cb)(void *ud, int ok, const char *error);

/* DescribeDomains for one name. Fails (ok = 0) when the domain does not exist, is being
 * deleted, or has no document endpoint yet (still being created), saying which. */
int cloudsearch_describe_domain(aws_ctx *aws, const char *name, cloudsearch_domain_cb cb, void *ud);
/* CreateDomain (idempotent in AWS: an existing domain is returned as it is). The endpoint may
 * still be empty: a new domain takes minutes to become active. */
int cloudsearch_create_domain(aws_ctx *aws, const char *name, cloudsearch_domain_cb cb, void *ud);
/* DefineIndexField for the fields of schema.h flagged in which (schema_count() entries; NULL:
 * all), an upsert, so running it again is harmless; then IndexDocuments so the domain builds
 * its index with them. Returns 1 and sends nothing when none is flagged: IndexDocuments
 * rebuilds the whole index, so a domain that already has the schema is left alone. */
int cloudsearch_define_some_fields(aws_ctx *aws, const char *name, const unsigned char *which, cloudsearch_done_cb cb,
                                   void *ud);

/* DescribeIndexFields, compared with the schema (cs_fields_to_define): todo[i] is 1 for each
 * field to (re)define, n how many. todo is NULL when ok = 0. */
typedef void (*cloudsearch_fields_cb)(void *ud, int ok, const unsigned char *todo, size_t n, const char *error);
int cloudsearch_check_fields(aws_ctx *aws, const char *name, cloudsearch_fields_cb cb, void *ud);

#endif
