/* AWS configuration without network access: credentials and region from the environment
 * and the shared config/credentials files, endpoint URLs (overrides or AWS defaults),
 * parsing of the credential documents served by the ECS container endpoint and EC2 IMDS,
 * and the refresh decision. The environment is injectable (getenv function + context) so
 * tests can use a fake one; HOME from that environment locates ~/.aws. */
#ifndef CTINDEX_AWSCONF_H
#define CTINDEX_AWSCONF_H

#include <stddef.h>
#include <stdint.h>

#define AWSCONF_MAX_KEY_ID 128
#define AWSCONF_MAX_SECRET 128
#define AWSCONF_MAX_TOKEN 4096
#define AWSCONF_MAX_REGION 32
#define AWSCONF_MAX_URL 1024
#define AWSCONF_MAX_NAME 128 /* profile names */
#define AWSCONF_MAX_PATH 4096

enum {
    AWSCONF_OK = 0,
    AWSCONF_ENOTFOUND = -1, /* nothing configured here: try the next source */
    AWSCONF_EINVAL = -2,    /* configured but malformed (partial keys, bad URL, bad JSON...) */
    AWSCONF_ETOOBIG = -3,   /* a value over the limits above */
    AWSCONF_EIO = -4,       /* a configured file could not be read */
};

typedef const char *(*awsconf_getenv_fn)(void *ctx, const char *name);

typedef struct awsconf_env {
    awsconf_getenv_fn getenv; /* NULL: the process environment */
    void *ctx;
} awsconf_env;

/* The process environment (getenv). */
const awsconf_env *awsconf_env_process(void);
/* Value of name, or NULL when unset or empty. env may be NULL (process environment). */
const char *awsconf_getenv(const awsconf_env *env, const char *name);

typedef struct aws_credentials {
    char access_key_id[AWSCONF_MAX_KEY_ID + 1];
    char secret_access_key[AWSCONF_MAX_SECRET + 1];
    char session_token[AWSCONF_MAX_TOKEN + 1]; /* "" when none */
    int64_t expiration;                        /* epoch seconds; 0 = does not expire (static keys) */
    int64_t obtained_at;                       /* epoch seconds when fetched (for the lifetime-based refresh) */
    char source[AWSCONF_MAX_NAME + 16];        /* "env", "profile NAME", "ecs", "imds" */
} aws_credentials;

/* What the shared files say about one profile (credentials file overrides config file). */
typedef struct aws_profile {
    char name[AWSCONF_MAX_NAME + 1];
    char access_key_id[AWSCONF_MAX_KEY_ID + 1];
    char secret_access_key[AWSCONF_MAX_SECRET + 1];
    char session_token[AWSCONF_MAX_TOKEN + 1];
    char region[AWSCONF_MAX_REGION + 1];
    char endpoint_url[AWSCONF_MAX_URL + 1]; /* profile-wide endpoint_url */
    char services[AWSCONF_MAX_NAME + 1];    /* name of a [services NAME] section */
    int ignore_configured_endpoint_urls;
    int found; /* the profile exists in at least one file */
    /* Per-service endpoint_url from the [services NAME] section, by config key. */
    struct {
        char key[32];
        char url[AWSCONF_MAX_URL + 1];
    } service_endpoints[8];
    int nservice_endpoints;
} aws_profile;

/* Profile name: AWS_PROFILE, then AWS_DEFAULT_PROFILE, then "default". */
const char *awsconf_profile_name(const awsconf_env *env);

/* Load profile `name` (NULL: awsconf_profile_name) from AWS_CONFIG_FILE (~/.aws/config) and
 * AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials). Missing files are not an error; returns
 * AWSCONF_OK (p->found tells whether the profile exists) or AWSCONF_EIO/ETOOBIG/EINVAL. */
int awsconf_load_profile(const awsconf_env *env, const char *name, aws_profile *p);

/* Static credentials: environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN or AWS_SECURITY_TOKEN, optional AWS_CREDENTIAL_EXPIRATION), else the
 * profile (p may be NULL). AWSCONF_ENOTFOUND means: go on to ECS / IMDS. A key id without
 * a secret (or the reverse) is AWSCONF_EINVAL, as in botocore. */
int awsconf_static_credentials(const awsconf_env *env, const aws_profile *p, aws_credentials *out);

/* Region: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region (p may be NULL). */
int awsconf_region(const awsconf_env *env, const aws_profile *p, char *out, size_t cap);

/* Endpoint for a service id ("s3", "sqs", "cloudsearch", "cloudsearch_domain", "es"):
 * AWS_ENDPOINT_URL_<ID>, AWS_ENDPOINT_URL, the profile's [services] entry, the profile's
 * endpoint_url (all skipped when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true or the profile
 * says ignore_configured_endpoint_urls = true), else the AWS default for the region
 * (https://sqs.REGION.amazonaws.com ...). cloudsearch_domain and es have no default:
 * AWSCONF_ENOTFOUND (the domain endpoint must be configured). No trailing '/'. */
int awsconf_endpoint(const awsconf_env *env, const aws_profile *p, const char *service_id, const char *region,
                     char *out, size_t cap);

/* Credential JSON of the ECS container endpoint or EC2 IMDS:
 * {"AccessKeyId":..,"SecretAccessKey":..,"Token":..,"Expiration":"2020-11-05T02:02:26Z"}
 * (IMDS adds "Code":"Success"; any other Code is an error). All four fields are required.
 * now is stored as obtained_at. */
int awsconf_parse_credentials_json(const char *js, size_t len, int64_t now, const char *source, aws_credentials *out);

/* When to refresh: when less than max(5 minutes, 10% of the lifetime) remains.
 * Returns the epoch second from which credentials should be refreshed, or 0 for never. */
int64_t awsconf_refresh_at(const aws_credentials *c);
/* 1 when c should be refreshed at time now (or has no keys), 0 otherwise. */
int awsconf_needs_refresh(const aws_credentials *c, int64_t now);

/* Safe text for logs: key id, source, whether a session token is present, expiry.
 * Never the secret or the token. Returns buf. */
const char *awsconf_describe_credentials(const aws_credentials *c, char *buf, size_t cap);

/* Where to fetch temporary credentials (the HTTP requests are done by the caller). */
typedef struct awsconf_http_target {
    char url[AWSCONF_MAX_URL + 1];
    /* Authorization header value for ECS ("" when none). */
    char authorization[AWSCONF_MAX_TOKEN + 1];
} awsconf_http_target;

/* ECS/EKS container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI ->
 * http://169.254.170.2<uri>; else AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or http to a
 * loopback address, 169.254.170.2, 169.254.170.23 or [fd00:ec2::23]) with the token from
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read now) or AWS_CONTAINER_AUTHORIZATION_TOKEN.
 * AWSCONF_ENOTFOUND when not in a container. */
int awsconf_ecs_target(const awsconf_env *env, awsconf_http_target *t);

/* IMDS base URL without trailing '/': AWS_EC2_METADATA_SERVICE_ENDPOINT, or
 * http://[fd00:ec2::254] when AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6, else
 * http://169.254.169.254. AWSCONF_ENOTFOUND when AWS_EC2_METADATA_DISABLED=true. */
int awsconf_imds_base(const awsconf_env *env, char *out, size_t cap);

#endif
