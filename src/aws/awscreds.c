/* Temporary credentials: the JSON documents of the ECS container endpoint and EC2 IMDS,
 * their expiry and refresh, where to fetch them, and a log-safe description. The second half
 * of awsconf.h: it reads the environment through awsconf.c, which never calls into this file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/awsconf.h"
#include "base/date.h"
#include "base/ini.h"
#include "base/json.h"
#include "base/log.h"

/* ---- credential documents ---- */

static int get_string(const json_doc *d, const char *key, char *out, size_t cap, int *rc) {
    int t = json_obj_get(d, 0, key);
    if (t < 0 || d->toks[t].type != JSON_STRING) {
        *rc = AWSCONF_EINVAL;
        return -1;
    }
    if (json_tok_decode(d, t, out, cap) < 0) {
        *rc = AWSCONF_ETOOBIG;
        return -1;
    }
    return 0;
}

int awsconf_parse_credentials_json(const char *js, size_t len, int64_t now, const char *source, aws_credentials *out) {
    memset(out, 0, sizeof *out);
    if (len > 64 * 1024) return AWSCONF_ETOOBIG; /* a credential document is < 4 KB */
    json_doc d;
    if (json_doc_init(&d, 128) != JSON_OK) return AWSCONF_EINVAL;
    int rc = AWSCONF_OK;
    char code[64], expiration[64];
    if (json_parse(&d, js, len) != JSON_OK || d.toks[0].type != JSON_OBJECT) {
        rc = AWSCONF_EINVAL;
        goto done;
    }
    int t = json_obj_get(&d, 0, "Code");
    if (t >= 0 && (json_tok_decode(&d, t, code, sizeof code) < 0 || strcmp(code, "Success") != 0)) {
        log_warn("%s credentials: Code is not Success", source ? source : "remote");
        rc = AWSCONF_EINVAL;
        goto done;
    }
    if (get_string(&d, "AccessKeyId", out->access_key_id, sizeof out->access_key_id, &rc) ||
        get_string(&d, "SecretAccessKey", out->secret_access_key, sizeof out->secret_access_key, &rc) ||
        get_string(&d, "Token", out->session_token, sizeof out->session_token, &rc) ||
        get_string(&d, "Expiration", expiration, sizeof expiration, &rc))
        goto done;
    if (!out->access_key_id[0] || !out->secret_access_key[0] ||
        date_rfc3339_epoch(expiration, strlen(expiration), &out->expiration) != 0) {
        rc = AWSCONF_EINVAL;
        goto done;
    }
    /* Decoded JSON may hold anything; these values go into HTTP headers. */
    for (const char *s = out->access_key_id; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f) rc = AWSCONF_EINVAL;
    for (const char *s = out->session_token; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) rc = AWSCONF_EINVAL;
    if (rc) goto done;
    out->obtained_at = now;
    snprintf(out->source, sizeof out->source, "%s", source ? source : "remote");
done:
    json_doc_free(&d);
    if (rc) memset(out, 0, sizeof *out); /* never leave half a secret behind */
    return rc;
}

/* ---- refresh ---- */

int64_t awsconf_refresh_at(const aws_credentials *c) {
    if (c->expiration == 0) return 0;
    int64_t margin = 300;
    if (c->obtained_at > 0 && c->expiration > c->obtained_at) {
        int64_t tenth = (c->expiration - c->obtained_at) / 10;
        if (tenth > margin) margin = tenth;
    }
    return c->expiration - margin;
}

int awsconf_needs_refresh(const aws_credentials *c, int64_t now) {
    if (!c->access_key_id[0]) return 1;
    int64_t at = awsconf_refresh_at(c);
    return at != 0 && now >= at;
}

const char *awsconf_describe_credentials(const aws_credentials *c, char *buf, size_t cap) {
    char exp[32] = "never";
    if (c->expiration) {
        time_t t = (time_t)c->expiration;
        struct tm tm;
        if (gmtime_r(&t, &tm)) strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    snprintf(buf, cap, "key id %s from %s, %s, expires %s", c->access_key_id[0] ? c->access_key_id : "(none)",
             c->source[0] ? c->source : "?", c->session_token[0] ? "session token" : "no session token", exp);
    return buf;
}

/* ---- where to fetch ---- */

static int url_host_allowed_for_http(const char *url) {
    /* http:// full URIs are allowed only to the container agent or loopback (botocore). */
    const char *h = url + 7;
    size_t n = strcspn(h, "/?#");
    char host[300];
    if (n >= sizeof host) return 0;
    memcpy(host, h, n);
    host[n] = '\0';
    char *port = host[0] == '[' ? strstr(host, "]:") : strchr(host, ':');
    if (port) port[host[0] == '[' ? 1 : 0] = '\0';
    static const char *const ok[] = {"169.254.170.2", "169.254.170.23", "[fd00:ec2::23]", "localhost", "[::1]", NULL};
    for (int i = 0; ok[i]; i++)
        if (strcasecmp(host, ok[i]) == 0) return 1;
    return strncmp(host, "127.", 4) == 0;
}

static int no_ctl(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

int awsconf_ecs_target(const awsconf_env *env, awsconf_http_target *t) {
    memset(t, 0, sizeof *t);
    const char *rel = awsconf_getenv(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = awsconf_getenv(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    int n;
    if (rel) {
        if (rel[0] != '/' || !no_ctl(rel) || strchr(rel, ' ')) return AWSCONF_EINVAL;
        n = snprintf(t->url, sizeof t->url, "http://169.254.170.2%s", rel);
    } else if (full) {
        if (!no_ctl(full) || strchr(full, ' ')) return AWSCONF_EINVAL;
        if (strncmp(full, "https://", 8) != 0 &&
            !(strncmp(full, "http://", 7) == 0 && url_host_allowed_for_http(full))) {
            log_warn("AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or a loopback/container-agent address");
            return AWSCONF_EINVAL;
        }
        n = snprintf(t->url, sizeof t->url, "%s", full);
    } else {
        return AWSCONF_ENOTFOUND;
    }
    if (n < 0 || (size_t)n >= sizeof t->url) return AWSCONF_ETOOBIG;

    const char *token_file = awsconf_getenv(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *token = awsconf_getenv(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (token_file) { /* re-read on every fetch: EKS rotates it */
        char *text;
        size_t len;
        if (ini_read_file(token_file, &text, &len) != 0) {
            log_warn("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: cannot read %s", token_file);
            return AWSCONF_EIO;
        }
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ')) text[--len] = '\0';
        int ok = len < sizeof t->authorization && strlen(text) == len && no_ctl(text);
        if (ok) memcpy(t->authorization, text, len + 1);
        free(text);
        if (!ok) return len >= sizeof t->authorization ? AWSCONF_ETOOBIG : AWSCONF_EINVAL;
    } else if (token) {
        /* a CR/LF here would inject headers */
        if (!no_ctl(token)) return AWSCONF_EINVAL;
        n = snprintf(t->authorization, sizeof t->authorization, "%s", token);
        if (n < 0 || (size_t)n >= sizeof t->authorization) return AWSCONF_ETOOBIG;
    }
    return AWSCONF_OK;
}

int awsconf_imds_base(const awsconf_env *env, char *out, size_t cap) {
    const char *dis = awsconf_getenv(env, "AWS_EC2_METADATA_DISABLED");
    if (dis && strcasecmp(dis, "true") == 0) return AWSCONF_ENOTFOUND;
    const char *ep = awsconf_getenv(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *mode = awsconf_getenv(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    const char *url = "http://169.254.169.254";
    if (ep) {
        if ((strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) || !no_ctl(ep) || strchr(ep, ' '))
            return AWSCONF_EINVAL;
        url = ep;
    } else if (mode && strcasecmp(mode, "IPv6") == 0) {
        url = "http://[fd00:ec2::254]";
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') n--;
    if (n >= cap) return AWSCONF_ETOOBIG;
    memcpy(out, url, n);
    out[n] = '\0';
    return AWSCONF_OK;
}
