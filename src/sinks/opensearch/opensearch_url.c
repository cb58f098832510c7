/* Parsing `--sink opensearch:URL` (pure). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/text.h"
#include "pipeline/index_pattern.h"
#include "sinks/opensearch/sink_opensearch.h"

static int fail(char *err, size_t cap, const char *msg) {
    if (err && cap) snprintf(err, cap, "%s", msg);
    return -1;
}

/* Region and signing service from a managed endpoint's name:
 * search-DOMAIN-ID.REGION.es.amazonaws.com[.cn], ID.REGION.aoss.amazonaws.com[.cn]. */
static void region_from_host(const char *host, size_t n, os_spec *o) {
    static const struct {
        const char *suffix, *service;
    } S[] = {
        {".es.amazonaws.com", "es"},
        {".es.amazonaws.com.cn", "es"},
        {".aoss.amazonaws.com", "aoss"},
        {".aoss.amazonaws.com.cn", "aoss"},
    };
    for (size_t k = 0; k < sizeof S / sizeof S[0]; k++) {
        size_t sl = strlen(S[k].suffix);
        if (n <= sl || memcmp(host + n - sl, S[k].suffix, sl) != 0) continue;
        size_t end = n - sl, start = end;
        while (start > 0 && host[start - 1] != '.') start--;
        if (end > start && end - start < sizeof o->region) {
            memcpy(o->region, host + start, end - start);
            o->region[end - start] = '\0';
        }
        snprintf(o->service, sizeof o->service, "%s", S[k].service);
        return;
    }
}

static int valid_host(const char *h, size_t n) {
    size_t i = 0;
    if (n == 0) return 0;
    if (h[0] == '[') { /* IPv6 literal */
        const char *close = memchr(h, ']', n);
        if (!close || close == h + 1) return 0;
        for (const char *p = h + 1; p < close; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.') return 0;
        i = (size_t)(close - h) + 1;
    } else {
        while (i < n && (isalnum((unsigned char)h[i]) || h[i] == '.' || h[i] == '-' || h[i] == '_')) i++;
        if (i == 0) return 0;
    }
    if (i == n) return 1;
    if (h[i] != ':' || i + 1 == n || n - i - 1 > 5) return 0;
    for (i++; i < n; i++)
        if (!isdigit((unsigned char)h[i])) return 0;
    return 1;
}

int sink_opensearch_parse_spec(const char *url, os_spec *o, char *err, size_t errcap) {
    memset(o, 0, sizeof *o);
    if (!url) return fail(err, errcap, "empty OpenSearch URL");
    if (strncmp(url, "opensearch:", 11) == 0) url += 11;
    char copy[OS_SPEC_URL_MAX + OS_SPEC_PATTERN_MAX + 2 * OS_SPEC_USER_MAX];
    size_t ulen = strcspn(url, ",");
    if (url[ulen] == ',') o->options = url + ulen + 1;
    if (ulen == 0) return fail(err, errcap, "empty OpenSearch URL");
    if (ulen >= sizeof copy) return fail(err, errcap, "OpenSearch URL too long");
    memcpy(copy, url, ulen);
    copy[ulen] = '\0';
    if (strpbrk(copy, "?#"))
        return fail(err, errcap, "query strings and fragments are not supported in the OpenSearch URL");
    const char *p = copy;
    o->tls = 1;
    if (strncmp(p, "https://", 8) == 0) {
        p += 8;
    } else if (strncmp(p, "http://", 7) == 0) {
        p += 7;
        o->tls = 0;
    } else if (strstr(p, "://")) {
        return fail(err, errcap, "the OpenSearch URL must start with https:// or http://");
    }
    const char *slash = strchr(p, '/');
    size_t alen = slash ? (size_t)(slash - p) : strlen(p);
    /* user info: everything up to the last '@' of the authority */
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (p[i] == '@') at = p + i;
    const char *host = p;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t user_len = colon ? (size_t)(colon - p) : (size_t)(at - p);
        if (user_len == 0 || text_pct_decode(p, user_len, o->user, sizeof o->user, TEXT_PCT_NO_NUL) < 0)
            return fail(err, errcap, "bad user name in the OpenSearch URL");
        if (colon && text_pct_decode(colon + 1, (size_t)(at - colon - 1), o->pass, sizeof o->pass, TEXT_PCT_NO_NUL) < 0)
            return fail(err, errcap, "bad password in the OpenSearch URL");
        o->has_userinfo = 1;
        host = at + 1;
    }
    size_t hlen = (size_t)(p + alen - host);
    if (!valid_host(host, hlen)) return fail(err, errcap, "missing or invalid host in the OpenSearch URL");
    if (hlen >= sizeof o->host) return fail(err, errcap, "host name too long in the OpenSearch URL");
    for (size_t i = 0; i < hlen; i++) o->host[i] = (char)tolower((unsigned char)host[i]);
    o->host[hlen] = '\0';
    snprintf(o->base_url, sizeof o->base_url, "%s://%s", o->tls ? "https" : "http", o->host);
    const char *colon = o->host[0] == '[' ? strchr(strchr(o->host, ']'), ':') : strchr(o->host, ':');
    region_from_host(o->host, colon ? (size_t)(colon - o->host) : hlen, o);

    if (slash) {
        const char *path = slash + 1;
        size_t plen = strlen(path);
        while (plen > 0 && path[plen - 1] == '/') plen--;
        if (plen > 0) {
            if (memchr(path, '/', plen))
                return fail(err, errcap, "the OpenSearch URL path must be one index pattern (no '/')");
            /* Only %25 is decoded: any other '%' is a directive of the pattern. */
            size_t n = 0;
            for (size_t i = 0; i < plen; i++) {
                char c = path[i];
                if (c == '%' && i + 3 <= plen && strncmp(path + i, "%25", 3) == 0) i += 2;
                if (n + 1 >= sizeof o->pattern)
                    return fail(err, errcap, "the index pattern is longer than 100 characters");
                o->pattern[n++] = c;
            }
            o->pattern[n] = '\0';
            if (index_pattern_check(o->pattern, 0, err, errcap) != 0) return -1;
        }
    }
    return 0;
}

os_auth sink_opensearch_resolve_auth(os_auth requested, const os_spec *sp, int given_user, int env_user) {
    if (requested != OS_AUTH_AUTO) return requested;
    if (sp->has_userinfo || given_user) return OS_AUTH_BASIC;
    if (sp->service[0]) return OS_AUTH_SIGV4;
    return env_user ? OS_AUTH_BASIC : OS_AUTH_NONE;
}

int sink_opensearch_parse_auth(const char *name) {
    if (!name || strcmp(name, "auto") == 0) return OS_AUTH_AUTO;
    if (strcmp(name, "none") == 0) return OS_AUTH_NONE;
    if (strcmp(name, "basic") == 0) return OS_AUTH_BASIC;
    if (strcmp(name, "sigv4") == 0) return OS_AUTH_SIGV4;
    return -1;
}
