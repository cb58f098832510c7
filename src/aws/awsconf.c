/* Credentials, region and endpoints from the environment and the shared AWS files. */
#include "aws/awsconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/date.h"
#include "base/ini.h"
#include "base/log.h"

static const char *process_getenv(void *ctx, const char *name) {
    (void)ctx;
    return getenv(name);
}

static const awsconf_env PROCESS_ENV = {process_getenv, NULL};

const awsconf_env *awsconf_env_process(void) { return &PROCESS_ENV; }

const char *awsconf_getenv(const awsconf_env *env, const char *name) {
    if (!env) env = &PROCESS_ENV;
    const char *v = env->getenv ? env->getenv(env->ctx, name) : getenv(name);
    return v && *v ? v : NULL;
}

static int env_true(const awsconf_env *env, const char *name) {
    const char *v = awsconf_getenv(env, name);
    return v && strcasecmp(v, "true") == 0;
}

/* Copy with a hard limit: too long is an error, not a truncation. */
static int copy_bounded(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) return AWSCONF_ETOOBIG;
    memcpy(dst, src, n + 1);
    return AWSCONF_OK;
}

const char *awsconf_profile_name(const awsconf_env *env) {
    const char *p = awsconf_getenv(env, "AWS_PROFILE");
    if (!p) p = awsconf_getenv(env, "AWS_DEFAULT_PROFILE");
    return p ? p : "default";
}

/* ---- shared files ---- */

typedef struct load_ctx {
    aws_profile *p;
    int from_credentials_file;
    int pass; /* config file: 1 = the profile, 2 = its [services NAME] section */
    int err;
} load_ctx;

static void set_field(load_ctx *c, char *dst, size_t cap, const char *value, const char *what) {
    if (copy_bounded(dst, cap, value) != AWSCONF_OK) {
        log_warn("profile %s: %s longer than %zu bytes: ignored", c->p->name, what, cap - 1);
        c->err = AWSCONF_ETOOBIG;
    }
}

static int profile_setting(void *ctx, const char *section, const char *key, const char *value) {
    load_ctx *c = ctx;
    aws_profile *p = c->p;
    if (c->pass == 2) {
        /* [services NAME]: "sqs =\n  endpoint_url = URL" arrives as key "sqs.endpoint_url" */
        char want[AWSCONF_MAX_NAME + 16];
        snprintf(want, sizeof want, "services %s", p->services);
        const char *dot = strchr(key, '.');
        if (strcmp(section, want) != 0 || !dot || strcmp(dot + 1, "endpoint_url") != 0) return 0;
        size_t klen = (size_t)(dot - key);
        if (klen >= sizeof p->service_endpoints[0].key ||
            p->nservice_endpoints == (int)(sizeof p->service_endpoints / sizeof p->service_endpoints[0]))
            return 0;
        memcpy(p->service_endpoints[p->nservice_endpoints].key, key, klen);
        p->service_endpoints[p->nservice_endpoints].key[klen] = '\0';
        set_field(c, p->service_endpoints[p->nservice_endpoints].url, AWSCONF_MAX_URL + 1, value, "endpoint_url");
        p->nservice_endpoints++;
        return 0;
    }
    /* credentials file: [NAME]; config file: [profile NAME], and [default] for default */
    int match;
    if (c->from_credentials_file) {
        match = strcmp(section, p->name) == 0;
    } else {
        match = (strncmp(section, "profile ", 8) == 0 && strcmp(section + 8, p->name) == 0) ||
                (strcmp(p->name, "default") == 0 && strcmp(section, "default") == 0);
    }
    if (!match) return 0;
    p->found = 1;
    if (strcmp(key, "aws_access_key_id") == 0) set_field(c, p->access_key_id, sizeof p->access_key_id, value, key);
    else if (strcmp(key, "aws_secret_access_key") == 0)
        set_field(c, p->secret_access_key, sizeof p->secret_access_key, value, key);
    else if (strcmp(key, "aws_session_token") == 0 || strcmp(key, "aws_security_token") == 0)
        set_field(c, p->session_token, sizeof p->session_token, value, key);
    else if (strcmp(key, "region") == 0) set_field(c, p->region, sizeof p->region, value, key);
    else if (strcmp(key, "endpoint_url") == 0) set_field(c, p->endpoint_url, sizeof p->endpoint_url, value, key);
    else if (strcmp(key, "services") == 0) set_field(c, p->services, sizeof p->services, value, key);
    else if (strcmp(key, "ignore_configured_endpoint_urls") == 0)
        p->ignore_configured_endpoint_urls = strcasecmp(value, "true") == 0;
    return 0;
}

/* AWS_CONFIG_FILE etc. may start with "~/". */
static int file_path(const awsconf_env *env, const char *var, const char *dflt, char *out, size_t cap) {
    const char *v = awsconf_getenv(env, var);
    const char *home = awsconf_getenv(env, "HOME");
    int n;
    if (v && strncmp(v, "~/", 2) == 0) {
        if (!home) return AWSCONF_ENOTFOUND;
        n = snprintf(out, cap, "%s/%s", home, v + 2);
    } else if (v) {
        n = snprintf(out, cap, "%s", v);
    } else {
        if (!home) return AWSCONF_ENOTFOUND;
        n = snprintf(out, cap, "%s/.aws/%s", home, dflt);
    }
    return n < 0 || (size_t)n >= cap ? AWSCONF_ETOOBIG : AWSCONF_OK;
}

static int load_file(const awsconf_env *env, const char *var, const char *dflt, load_ctx *c) {
    char path[AWSCONF_MAX_PATH];
    int rc = file_path(env, var, dflt, path, sizeof path);
    if (rc == AWSCONF_ENOTFOUND) return AWSCONF_OK;
    if (rc) return rc;
    char *text;
    size_t len;
    rc = ini_read_file(path, &text, &len);
    if (rc == -1) {
        /* A missing default file is normal; a missing file named in the environment is
         * worth a word, but botocore also carries on without it. */
        if (awsconf_getenv(env, var)) log_warn("%s=%s: cannot open", var, path);
        return AWSCONF_OK;
    }
    if (rc) return AWSCONF_EIO;
    c->pass = 1;
    int bad = ini_parse(text, len, profile_setting, c);
    if (!c->from_credentials_file && c->p->services[0]) {
        c->pass = 2;
        ini_parse(text, len, profile_setting, c);
    }
    if (bad) log_warn("%s: %d malformed line(s) skipped", path, bad);
    free(text);
    return AWSCONF_OK;
}

int awsconf_load_profile(const awsconf_env *env, const char *name, aws_profile *p) {
    memset(p, 0, sizeof *p);
    if (!name) name = awsconf_profile_name(env);
    if (copy_bounded(p->name, sizeof p->name, name)) return AWSCONF_ETOOBIG;
    /* config first, then the credentials file overrides it (botocore merges the same way) */
    load_ctx c = {.p = p, .from_credentials_file = 0};
    int rc = load_file(env, "AWS_CONFIG_FILE", "config", &c);
    if (rc) return rc;
    c.from_credentials_file = 1;
    rc = load_file(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials", &c);
    if (rc) return rc;
    return c.err;
}

/* ---- credentials ---- */

static int fill_credentials(aws_credentials *out, const char *id, const char *secret, const char *token,
                            const char *source) {
    memset(out, 0, sizeof *out);
    if (copy_bounded(out->access_key_id, sizeof out->access_key_id, id) ||
        copy_bounded(out->secret_access_key, sizeof out->secret_access_key, secret) ||
        copy_bounded(out->session_token, sizeof out->session_token, token ? token : "") ||
        copy_bounded(out->source, sizeof out->source, source))
        return AWSCONF_ETOOBIG;
    /* These go into HTTP headers: no control characters or spaces. */
    for (const char *s = out->access_key_id; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f) return AWSCONF_EINVAL;
    for (const char *s = out->session_token; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return AWSCONF_EINVAL;
    return AWSCONF_OK;
}

int awsconf_static_credentials(const awsconf_env *env, const aws_profile *p, aws_credentials *out) {
    const char *id = awsconf_getenv(env, "AWS_ACCESS_KEY_ID");
    const char *secret = awsconf_getenv(env, "AWS_SECRET_ACCESS_KEY");
    if (id || secret) {
        if (!id || !secret) {
            log_warn("only one of AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY is set");
            return AWSCONF_EINVAL;
        }
        const char *token = awsconf_getenv(env, "AWS_SESSION_TOKEN");
        if (!token) token = awsconf_getenv(env, "AWS_SECURITY_TOKEN");
        int rc = fill_credentials(out, id, secret, token, "env");
        if (rc) return rc;
        const char *exp = awsconf_getenv(env, "AWS_CREDENTIAL_EXPIRATION");
        if (exp && date_rfc3339_epoch(exp, strlen(exp), &out->expiration) != 0) {
            log_warn("AWS_CREDENTIAL_EXPIRATION is not an RFC 3339 time: ignored");
            out->expiration = 0;
        }
        return AWSCONF_OK;
    }
    if (p && (p->access_key_id[0] || p->secret_access_key[0])) {
        if (!p->access_key_id[0] || !p->secret_access_key[0]) {
            log_warn("profile %s: aws_access_key_id and aws_secret_access_key must both be set", p->name);
            return AWSCONF_EINVAL;
        }
        char source[AWSCONF_MAX_NAME + 16];
        snprintf(source, sizeof source, "profile %s", p->name);
        return fill_credentials(out, p->access_key_id, p->secret_access_key, p->session_token, source);
    }
    return AWSCONF_ENOTFOUND;
}

/* ---- region and endpoints ---- */

static int valid_region(const char *r) {
    size_t n = strlen(r);
    if (n == 0 || n > AWSCONF_MAX_REGION) return 0;
    for (; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-')) return 0;
    return 1;
}

int awsconf_region(const awsconf_env *env, const aws_profile *p, char *out, size_t cap) {
    const char *r = awsconf_getenv(env, "AWS_REGION");
    if (!r) r = awsconf_getenv(env, "AWS_DEFAULT_REGION");
    if (!r && p && p->region[0]) r = p->region;
    if (!r) return AWSCONF_ENOTFOUND;
    /* The region becomes part of host names and the signing scope. */
    if (!valid_region(r)) {
        log_warn("region '%.64s' is not a valid region name", r);
        return AWSCONF_EINVAL;
    }
    return copy_bounded(out, cap, r);
}

typedef struct service_info {
    const char *id;
    const char *env_suffix[2];  /* AWS_ENDPOINT_URL_<suffix> */
    const char *config_key;     /* key in a [services NAME] section */
    const char *default_prefix; /* https://PREFIX.REGION.amazonaws.com, NULL: no default */
} service_info;

static const service_info SERVICES[] = {
    {"s3", {"S3", NULL}, "s3", "s3"},
    {"sqs", {"SQS", NULL}, "sqs", "sqs"},
    {"cloudsearch", {"CLOUDSEARCH", NULL}, "cloudsearch", "cloudsearch"},
    {"cloudsearch_domain", {"CLOUDSEARCH_DOMAIN", NULL}, "cloudsearch_domain", NULL},
    /* the SDKs' name for the OpenSearch service is "OpenSearch"; accept our short id too */
    {"es", {"ES", "OPENSEARCH"}, "opensearch", NULL},
};

static int set_endpoint(const char *url, const char *from, char *out, size_t cap) {
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
        log_warn("%s: endpoint '%.128s' is not an http(s) URL", from, url);
        return AWSCONF_EINVAL;
    }
    for (const char *s = url; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f) {
            log_warn("%s: endpoint contains spaces or control characters", from);
            return AWSCONF_EINVAL;
        }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') n--;
    if (n >= cap || n > AWSCONF_MAX_URL) return AWSCONF_ETOOBIG;
    memcpy(out, url, n);
    out[n] = '\0';
    return AWSCONF_OK;
}

int awsconf_endpoint(const awsconf_env *env, const aws_profile *p, const char *service_id, const char *region,
                     char *out, size_t cap) {
    const service_info *s = NULL;
    for (size_t i = 0; i < sizeof SERVICES / sizeof SERVICES[0]; i++)
        if (strcmp(SERVICES[i].id, service_id) == 0) s = &SERVICES[i];
    if (!s || cap == 0) return AWSCONF_EINVAL;
    out[0] = '\0';

    int ignore = env_true(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") || (p && p->ignore_configured_endpoint_urls);
    if (!ignore) {
        for (int k = 0; k < 2 && s->env_suffix[k]; k++) {
            char var[64];
            snprintf(var, sizeof var, "AWS_ENDPOINT_URL_%s", s->env_suffix[k]);
            const char *v = awsconf_getenv(env, var);
            if (v) return set_endpoint(v, var, out, cap);
        }
        const char *v = awsconf_getenv(env, "AWS_ENDPOINT_URL");
        if (v) return set_endpoint(v, "AWS_ENDPOINT_URL", out, cap);
        if (p) {
            for (int k = 0; k < p->nservice_endpoints; k++)
                if (strcmp(p->service_endpoints[k].key, s->config_key) == 0)
                    return set_endpoint(p->service_endpoints[k].url, "config services", out, cap);
            if (p->endpoint_url[0]) return set_endpoint(p->endpoint_url, "config endpoint_url", out, cap);
        }
    }
    if (!s->default_prefix) return AWSCONF_ENOTFOUND;
    if (!region || !valid_region(region)) return AWSCONF_EINVAL;
    /* China partition regions live under amazonaws.com.cn */
    const char *suffix = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
    int n = snprintf(out, cap, "https://%s.%s.%s", s->default_prefix, region, suffix);
    return n < 0 || (size_t)n >= cap ? AWSCONF_ETOOBIG : AWSCONF_OK;
}
