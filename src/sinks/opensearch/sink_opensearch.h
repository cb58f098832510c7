/* The OpenSearch / Elasticsearch sink: each batch (BATCH_BULK) is sent as `POST /_bulk`
 * (application/x-ndjson, body straight from the batch buffer), several requests in flight.
 *
 * When and whether a request is sent again is the uploader's business (sinks/upload/uploader.h); this
 * sink says what an answer means. Per-item results decide each document: 2xx accepted; 429 and 5xx sent again alone (a
 * follow-up body of just those documents, after a backoff); any other item status is final and
 * the document goes to the dead-letter file with the reason. A batch is done (ok) once every
 * document is accepted or dead-lettered. Whole-request failures: 429/5xx/connection trouble are
 * retried with backoff (no limit by default); 400/413 split the request in halves down to single
 * documents (a single document refused that way is dead-lettered); 401/403 and other statuses
 * fail the batch (ok = 0, its records are not acknowledged).
 *
 * Documents carry their index and _id (eventID) in the action line, written by the document
 * builder: the index from the URL's pattern and the record's eventTime; a record without a valid
 * eventTime gets zeros for the date parts (cloudtrail-0000.00.00), a deterministic place, so a
 * redelivered file overwrites its documents there instead of duplicating them elsewhere.
 *
 * Auth: SigV4 (service "es" for managed domains, "aoss" for Serverless, which also gets
 * X-Amz-Content-Sha256), HTTP Basic, or none. */
#ifndef CTINDEX_SINK_OPENSEARCH_H
#define CTINDEX_SINK_OPENSEARCH_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "aws/aws.h"
#include "pipeline/deadletter.h"
#include "pipeline/sink.h"
#include "sinks/upload/uploader.h"

#define OS_SPEC_HOST_MAX 256
#define OS_SPEC_PATTERN_MAX 256
#define OS_SPEC_USER_MAX 256
#define OS_SPEC_URL_MAX 300

#define SINK_OPENSEARCH_DEFAULT_IN_FLIGHT 2
#define SINK_OPENSEARCH_MAX_REQUEST_BYTES (100u * 1024 * 1024) /* largest OpenSearch Service payload */

typedef enum os_auth {
    OS_AUTH_AUTO = 0, /* see sink_opensearch_resolve_auth */
    OS_AUTH_NONE,
    OS_AUTH_BASIC,
    OS_AUTH_SIGV4
} os_auth;

/* A parsed `[opensearch:]https://[USER:PASS@]HOST[:PORT][/INDEX-PATTERN][,OPTIONS]`. */
typedef struct os_spec {
    int tls;                           /* 1 https (default when no scheme is given), 0 http */
    char host[OS_SPEC_HOST_MAX];       /* lower-case host[:port] */
    char base_url[OS_SPEC_URL_MAX];    /* scheme://host[:port], no trailing slash */
    char pattern[OS_SPEC_PATTERN_MAX]; /* index pattern from the path ("%25" decoded to '%'), "" if none */
    int has_userinfo;
    char user[OS_SPEC_USER_MAX]; /* percent-decoded */
    char pass[OS_SPEC_USER_MAX];
    char region[64];     /* from *.REGION.es|aoss.amazonaws.com[.cn], else "" */
    char service[8];     /* "es", "aoss", or "" for other hosts */
    const char *options; /* text after the first ',' (sink options), NULL when none */
} os_spec;

/* 0, or -1 with a message in err (a query string, bad characters, names too long, ...). The URL
 * ends at the first ',' (a ',' in a password must be written %2C). The pattern may hold
 * lower-case [a-z0-9._+-] and the directives %Y %m %d %H %% (%25 is read as '%'). */
int sink_opensearch_parse_spec(const char *url, os_spec *out, char *err, size_t errcap);
/* "none", "basic", "sigv4", "auto" -> OS_AUTH_*; -1 when unknown. */
int sink_opensearch_parse_auth(const char *name);
/* What OS_AUTH_AUTO means for this URL: Basic when a user is given in the URL or the options
 * (a managed domain with fine-grained access control takes its master user that way), SigV4
 * for *.es.amazonaws.com and *.aoss.amazonaws.com, Basic when the environment names a user
 * (OPENSEARCH_USERNAME), else none. Other values are returned as they are. */
os_auth sink_opensearch_resolve_auth(os_auth requested, const os_spec *sp, int given_user, int env_user);

typedef struct sink_opensearch_options {
    uv_loop_t *loop; /* required: the uploader's timers run on it */
    const char *url; /* https://HOST[/PATTERN]; http:// for local peers */
    os_auth auth;
    const char *service;  /* SigV4 service; NULL: from the host ("es" or "aoss"), else "es" */
    const char *region;   /* NULL: from the host, else the context's region */
    const char *username; /* Basic; NULL: URL user info, else $OPENSEARCH_USERNAME/$OPENSEARCH_PASSWORD */
    const char *password;
    upload_options upload;    /* requests in flight (default 2), attempts, backoff: see sinks/upload/uploader.h */
    size_t max_request_bytes; /* larger batches go out in several requests; 0: no limit but the batch's */
    long timeout_ms;          /* per request; 0: 300000 */
    deadletter *dead;         /* rejected documents go here (not owned); NULL: they are only logged */
} sink_opensearch_options;

void sink_opensearch_options_default(sink_opensearch_options *o);

/* NULL on a bad URL or options (logged). aws is borrowed: it must outlive the sink. */
sink *sink_opensearch_new(aws_ctx *aws, const sink_opensearch_options *o);
/* The index pattern taken from the URL path, or NULL when the URL had none; valid while the
 * sink lives. Hand it to the document builder (indexer_options.index_pattern). */
const char *sink_opensearch_index_pattern(const sink *s);

/* Factory for the command line: `--sink SPEC` with SPEC
 *   opensearch:URL[,auth=none|basic|sigv4][,service=es|aoss][,region=R][,inflight=N][,attempts=N]
 *                 [,max-request=BYTES]
 * auth_name (e.g. from --os-auth; NULL = auto) applies unless the spec has auth=; up (may be NULL)
 * holds the uploader's options from the command line (--uploads, --max-upload-rate, ...;
 * max_in_flight 0 = 2), which options in the spec override. The "opensearch:" prefix is optional.
 * NULL when the spec is not understood (logged). Uses uv handles: after sink_close run the
 * loop until it is empty before uv_loop_close. */
sink *sink_opensearch_from_spec(uv_loop_t *loop, aws_ctx *aws, const char *spec, const char *auth_name,
                                const upload_options *up, deadletter *dead);
/* 1 when arg names this sink ("opensearch:..."). */
int sink_opensearch_is_spec(const char *arg);

#endif
