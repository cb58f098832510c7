/* AWS Signature Version 4, following botocore's SigV4Auth/S3SigV4Auth and the AWS SigV4
 * test suite. Everything is written into bounded buffers; overflowing one is an error. */
#include "aws/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/crypto.h"
#include "base/text.h"

/* ---- bounded writer ---- */

typedef struct wbuf {
    char *p;
    size_t len;
    size_t cap; /* includes room for the NUL */
    int overflow;
} wbuf;

static void w_init(wbuf *w, char *p, size_t cap) {
    w->p = p;
    w->len = 0;
    w->cap = cap;
    w->overflow = 0;
    p[0] = '\0';
}

static void w_mem(wbuf *w, const char *s, size_t n) {
    if (w->overflow || n >= w->cap - w->len) {
        w->overflow = 1;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

static void w_str(wbuf *w, const char *s) { w_mem(w, s, strlen(s)); }
static void w_chr(wbuf *w, char c) { w_mem(w, &c, 1); }

/* ---- character classes and percent-encoding ---- */

static void w_pct(wbuf *w, unsigned char c) {
    char e[3] = {'%', text_hex_upper(c >> 4), text_hex_upper(c)};
    w_mem(w, e, 3);
}

/* UriEncode of raw bytes. */
static void w_uri_encode(wbuf *w, const char *in, size_t n, int keep_slash) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (text_url_unreserved(c) || (keep_slash && c == '/')) w_chr(w, (char)c);
        else w_pct(w, c);
    }
}

/* Canonical form of an already percent-encoded component: valid %XX escapes are decoded,
 * then everything is UriEncoded again, so "a b", "a%20b" and "a%20b" all give "a%20b".
 * A '%' not followed by two hex digits is a literal '%'. */
static void w_reencode(wbuf *w, const char *in, size_t n, int keep_slash) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        int hi = c == '%' && i + 2 < n ? text_hexval((unsigned char)in[i + 1]) : -1;
        int lo = hi >= 0 ? text_hexval((unsigned char)in[i + 2]) : -1;
        if (lo >= 0) {
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (text_url_unreserved(c) || (keep_slash && c == '/')) w_chr(w, (char)c);
        else w_pct(w, c);
    }
}

long sigv4_uri_encode(const char *in, size_t n, char *out, size_t cap, int keep_slash) {
    if (!out || cap == 0) return -1;
    wbuf w;
    w_init(&w, out, cap);
    w_uri_encode(&w, in, n, keep_slash);
    if (w.overflow) {
        out[0] = '\0';
        return -1;
    }
    return (long)w.len;
}

/* ---- canonical URI ---- */

/* RFC 3986 remove_dot_segments plus collapsing of empty segments, as botocore does for
 * every service but S3. Output is never longer than the input. */
static size_t remove_dot_segments(const char *path, size_t n, char *out) {
    size_t olen = 0, count = 0, i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && path[j] != '/') j++;
        const char *seg = path + i;
        size_t slen = j - i;
        if (slen == 0 || (slen == 1 && seg[0] == '.')) {
            /* skip */
        } else if (slen == 2 && seg[0] == '.' && seg[1] == '.') {
            if (count > 0) {
                while (olen > 0 && out[olen - 1] != '/') olen--;
                if (olen > 0) olen--; /* drop the separator too */
                count--;
            }
        } else {
            if (count > 0) out[olen++] = '/';
            memcpy(out + olen, seg, slen);
            olen += slen;
            count++;
        }
        i = j + 1;
    }
    /* Re-add the leading and trailing slashes the split removed. */
    int lead = n > 0 && path[0] == '/';
    int trail = n > 0 && path[n - 1] == '/' && count > 0;
    if (lead) {
        memmove(out + 1, out, olen);
        out[0] = '/';
        olen++;
    }
    if (trail) out[olen++] = '/';
    return olen;
}

static void w_canonical_uri(wbuf *w, const char *path, int s3) {
    size_t n = path ? strlen(path) : 0;
    if (n == 0) {
        w_chr(w, '/');
        return;
    }
    if (s3) {
        /* S3 signs the path as sent, encoded once. */
        w_reencode(w, path, n, 1);
        return;
    }
    /* n <= SIGV4_MAX_PATH (checked); +2 for the slashes re-added. */
    char norm[SIGV4_MAX_PATH + 2];
    size_t m = remove_dot_segments(path, n, norm);
    if (m == 0) {
        w_chr(w, '/');
        return;
    }
    /* Encoding the already-encoded path again is what AWS calls double encoding. */
    w_uri_encode(w, norm, m, 1);
}

/* ---- canonical query ---- */

typedef struct qparam {
    const char *key;
    const char *val;
} qparam;

static int qparam_cmp(const void *a, const void *b) {
    const qparam *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c != 0 ? c : strcmp(x->val, y->val);
}

static int w_canonical_query(wbuf *w, const char *query) {
    if (!query || !*query) return SIGV4_OK;
    size_t n = strlen(query);
    char scratch[3 * SIGV4_MAX_QUERY + 2 * SIGV4_MAX_QUERY_PARAMS + 2];
    qparam params[SIGV4_MAX_QUERY_PARAMS];
    size_t np = 0;
    wbuf s;
    w_init(&s, scratch, sizeof scratch);
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && query[j] != '&') j++;
        if (j > i) { /* an empty pair ("a=1&&b=2") carries nothing to sign */
            if (np == SIGV4_MAX_QUERY_PARAMS) return SIGV4_ETOOBIG;
            size_t eq = i;
            while (eq < j && query[eq] != '=') eq++;
            size_t koff = s.len;
            w_reencode(&s, query + i, eq - i, 0);
            w_chr(&s, '\0');
            size_t voff = s.len;
            if (eq < j) w_reencode(&s, query + eq + 1, j - eq - 1, 0);
            w_chr(&s, '\0');
            if (s.overflow) return SIGV4_ETOOBIG;
            params[np].key = scratch + koff;
            params[np].val = scratch + voff;
            np++;
        }
        i = j + 1;
    }
    qsort(params, np, sizeof params[0], qparam_cmp);
    for (size_t k = 0; k < np; k++) {
        if (k) w_chr(w, '&');
        w_str(w, params[k].key);
        w_chr(w, '=');
        w_str(w, params[k].val);
    }
    return w->overflow ? SIGV4_ETOOBIG : SIGV4_OK;
}

/* ---- headers ---- */

typedef struct hentry {
    char name[SIGV4_MAX_HEADER_NAME + 1]; /* lower-case */
    const char *value;
    size_t order;
} hentry;

/* Headers botocore never signs: hop-by-hop ones a proxy or curl may change or add. */
static const char *const UNSIGNED_HEADERS[] = {
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
    NULL,
};

static int in_list(const char *name, const char *const *list) {
    for (size_t i = 0; list[i]; i++)
        if (strcmp(name, list[i]) == 0) return 1;
    return 0;
}

static int is_tchar(unsigned char c) { return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c); }

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Trimmed value with inner whitespace runs collapsed to one space. */
static void w_header_value(wbuf *w, const char *v) {
    int pending_space = 0, any = 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (is_space(*p)) {
            pending_space = any;
            continue;
        }
        if (pending_space) w_chr(w, ' ');
        pending_space = 0;
        any = 1;
        w_chr(w, (char)*p);
    }
}

static int add_entry(hentry *h, size_t *nh, size_t cap, const char *lname, const char *value) {
    if (*nh == cap) return SIGV4_ETOOBIG;
    hentry *e = &h[*nh];
    size_t n = strlen(lname);
    if (n > SIGV4_MAX_HEADER_NAME) return SIGV4_ETOOBIG;
    memcpy(e->name, lname, n + 1);
    e->value = value;
    e->order = *nh;
    (*nh)++;
    return SIGV4_OK;
}

static int hentry_before(const hentry *a, const hentry *b) {
    int c = strcmp(a->name, b->name);
    return c < 0 || (c == 0 && a->order < b->order);
}

/* ---- validation helpers ---- */

static int check_len(const char *s, size_t min, size_t max) {
    if (!s) return SIGV4_EINVAL;
    size_t n = strnlen(s, max + 1);
    if (n > max) return SIGV4_ETOOBIG;
    return n < min ? SIGV4_EINVAL : SIGV4_OK;
}

/* Scope parts end up between '/' in the credential scope: keep them to a safe alphabet. */
static int check_scope_part(const char *s) {
    int rc = check_len(s, 1, SIGV4_MAX_SCOPE_PART);
    if (rc) return rc;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_' || *p == '.'))
            return SIGV4_EINVAL;
    return SIGV4_OK;
}

static int check_printable(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return SIGV4_EINVAL;
    return SIGV4_OK;
}

static int check_payload_hash(const char *h) {
    if (strcmp(h, SIGV4_UNSIGNED_PAYLOAD) == 0) return SIGV4_OK;
    size_t n = strnlen(h, 65);
    if (n != 64) return SIGV4_EINVAL;
    for (size_t i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return SIGV4_EINVAL;
    return SIGV4_OK;
}

/* ---- signing key cache ---- */

void sigv4_key_cache_init(sigv4_key_cache *c) { memset(c, 0, sizeof *c); }

void sigv4_key_cache_wipe(sigv4_key_cache *c) {
    /* volatile so the compiler cannot drop the stores of secrets it thinks are dead */
    volatile unsigned char *p = (volatile unsigned char *)c;
    for (size_t i = 0; i < sizeof *c; i++) p[i] = 0;
}

static int derive_key(const char *secret, const char *date8, const char *region, const char *service, uint8_t key[32]) {
    char k0[4 + SIGV4_MAX_SECRET + 1];
    size_t sn = strlen(secret);
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, sn);
    uint8_t a[32], b[32];
    int rc = crypto_hmac_sha256(k0, 4 + sn, date8, strlen(date8), a);
    rc |= crypto_hmac_sha256(a, 32, region, strlen(region), b);
    rc |= crypto_hmac_sha256(b, 32, service, strlen(service), a);
    rc |= crypto_hmac_sha256(a, 32, "aws4_request", 12, key);
    volatile unsigned char *z = (volatile unsigned char *)k0;
    for (size_t i = 0; i < sizeof k0; i++) z[i] = 0;
    return rc ? SIGV4_ECRYPTO : SIGV4_OK;
}

int sigv4_signing_key(sigv4_key_cache *cache, const char *secret, const char *date8, const char *region,
                      const char *service, uint8_t key[32]) {
    int rc;
    if ((rc = check_len(secret, 1, SIGV4_MAX_SECRET)) || (rc = check_len(date8, 8, 8)) ||
        (rc = check_scope_part(region)) || (rc = check_scope_part(service)))
        return rc;
    if (!cache) return derive_key(secret, date8, region, service, key);

    uint8_t fp[32];
    if (crypto_sha256(secret, strlen(secret), fp) != 0) return SIGV4_ECRYPTO;
    cache->tick++;
    size_t victim = 0;
    for (size_t i = 0; i < SIGV4_KEY_CACHE_SLOTS; i++) {
        if (cache->slot[i].used && strcmp(cache->slot[i].date, date8) == 0 &&
            strcmp(cache->slot[i].region, region) == 0 && strcmp(cache->slot[i].service, service) == 0 &&
            crypto_equal(cache->slot[i].secret_fp, fp, 32)) {
            cache->slot[i].last_use = cache->tick;
            memcpy(key, cache->slot[i].key, 32);
            return SIGV4_OK;
        }
        /* least recently used (unused slots have last_use 0) */
        if (cache->slot[i].last_use < cache->slot[victim].last_use) victim = i;
    }
    if ((rc = derive_key(secret, date8, region, service, key))) return rc;
    cache->derivations++;
    sigv4_key_slot *s = &cache->slot[victim];
    s->used = 1;
    s->last_use = cache->tick;
    memcpy(s->date, date8, 9);
    memcpy(s->region, region, strlen(region) + 1);
    memcpy(s->service, service, strlen(service) + 1);
    memcpy(s->secret_fp, fp, 32);
    memcpy(s->key, key, 32);
    return SIGV4_OK;
}

/* ---- signing ---- */

static int format_amz_date(int64_t t, char out[17]) {
    /* Up to 9999-12-31T23:59:59Z; time_t may be 32-bit elsewhere, so check first. */
    if (t < 0 || t > 253402300799LL) return SIGV4_EINVAL;
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) return SIGV4_EINVAL;
    if (strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16) return SIGV4_EINVAL;
    return SIGV4_OK;
}

static int validate_request(const sigv4_request *req, const sigv4_credentials *creds) {
    int rc;
    if (!req || !creds) return SIGV4_EINVAL;
    if ((rc = check_len(req->method, 1, 16))) return rc;
    for (const char *p = req->method; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))) return SIGV4_EINVAL;
    if ((rc = check_len(req->host, 1, SIGV4_MAX_HOST)) || (rc = check_printable(req->host))) return rc;
    if (req->path && (rc = check_len(req->path, 0, SIGV4_MAX_PATH))) return rc;
    if (req->query && (rc = check_len(req->query, 0, SIGV4_MAX_QUERY))) return rc;
    if (req->nheaders > SIGV4_MAX_HEADERS) return SIGV4_ETOOBIG;
    if (req->nheaders && !req->headers) return SIGV4_EINVAL;
    if (req->payload_hash && (rc = check_payload_hash(req->payload_hash))) return rc;
    if ((rc = check_scope_part(req->region)) || (rc = check_scope_part(req->service))) return rc;
    if ((rc = check_len(creds->access_key_id, 1, SIGV4_MAX_KEY_ID))) return rc;
    /* AWS key ids are alphanumeric; emulators hand out ids like "test-key". What must never
     * appear is what would break the Credential= scope or the header: '/', ',', '=', spaces. */
    for (const char *p = creds->access_key_id; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_' || *p == '.'))
            return SIGV4_EINVAL;
    if ((rc = check_len(creds->secret_access_key, 1, SIGV4_MAX_SECRET))) return rc;
    if (creds->session_token && *creds->session_token &&
        ((rc = check_len(creds->session_token, 1, SIGV4_MAX_TOKEN)) || (rc = check_printable(creds->session_token))))
        return rc;
    return SIGV4_OK;
}

/* What one signature is made of, shared by the steps of sigv4_sign. */
typedef struct signing {
    const sigv4_request *req;
    const char *payload;             /* hex SHA-256 of the body, or UNSIGNED-PAYLOAD */
    const char *token;               /* session token, NULL when none */
    int s3;                          /* S3's rules: path encoded once, X-Amz-Content-Sha256 always */
    int want_sha;                    /* sign and send X-Amz-Content-Sha256 */
    hentry h[SIGV4_MAX_HEADERS + 4]; /* headers to sign, sorted by name (duplicates in the caller's order) */
    size_t nh;
} signing;

/* The lower-case form of a caller's header name of n bytes (n <= SIGV4_MAX_HEADER_NAME), which
 * must be an RFC 9110 token. */
static int lower_header_name(const char *name, size_t n, char lname[SIGV4_MAX_HEADER_NAME + 1]) {
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)name[k];
        if (!is_tchar(c)) return SIGV4_EINVAL;
        lname[k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    lname[n] = '\0';
    return SIGV4_OK;
}

/* Headers the signer leaves out of the caller's: hop-by-hop ones, and the ones it sets itself
 * (so a retried request is not signed twice). */
static int skipped_header(const signing *g, const char *lname) {
    return in_list(lname, UNSIGNED_HEADERS) || strcmp(lname, "authorization") == 0 ||
           strcmp(lname, "x-amz-date") == 0 || (g->token && strcmp(lname, "x-amz-security-token") == 0) ||
           (g->want_sha && strcmp(lname, "x-amz-content-sha256") == 0);
}

/* Stable insertion sort: duplicates keep the caller's order when joined with ','. */
static void sort_headers(hentry *h, size_t nh) {
    for (size_t i = 1; i < nh; i++) {
        hentry tmp = h[i];
        size_t j = i;
        while (j > 0 && hentry_before(&tmp, &h[j - 1])) {
            h[j] = h[j - 1];
            j--;
        }
        h[j] = tmp;
    }
}

/* The headers to sign: the caller's, then host (unless given), X-Amz-Date and the optional
 * token and content hash; sorted. */
static int collect_headers(signing *g, const char *amz_date) {
    const sigv4_request *req = g->req;
    int have_host = 0, rc;
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *name = req->headers[i].name, *value = req->headers[i].value;
        if (!name || !value) return SIGV4_EINVAL;
        size_t n = strnlen(name, SIGV4_MAX_HEADER_NAME + 1);
        if (n > SIGV4_MAX_HEADER_NAME) return SIGV4_ETOOBIG;
        if (n == 0) return SIGV4_EINVAL;
        if ((rc = check_len(value, 0, SIGV4_MAX_HEADER_VALUE))) return rc;
        char lname[SIGV4_MAX_HEADER_NAME + 1];
        if ((rc = lower_header_name(name, n, lname))) return rc;
        if (skipped_header(g, lname)) continue;
        if (strcmp(lname, "host") == 0) have_host = 1;
        add_entry(g->h, &g->nh, SIGV4_MAX_HEADERS, lname, value);
    }
    if (!have_host) add_entry(g->h, &g->nh, SIGV4_MAX_HEADERS + 4, "host", req->host);
    add_entry(g->h, &g->nh, SIGV4_MAX_HEADERS + 4, "x-amz-date", amz_date);
    if (g->token) add_entry(g->h, &g->nh, SIGV4_MAX_HEADERS + 4, "x-amz-security-token", g->token);
    if (g->want_sha) add_entry(g->h, &g->nh, SIGV4_MAX_HEADERS + 4, "x-amz-content-sha256", g->payload);
    sort_headers(g->h, g->nh);
    return SIGV4_OK;
}

/* "host;x-amz-date;...": each name once. */
static int w_signed_headers(const signing *g, sigv4_signed *out) {
    wbuf sh;
    w_init(&sh, out->signed_headers, sizeof out->signed_headers);
    for (size_t i = 0; i < g->nh; i++) {
        if (i > 0 && strcmp(g->h[i].name, g->h[i - 1].name) == 0) continue;
        if (sh.len) w_chr(&sh, ';');
        w_str(&sh, g->h[i].name);
    }
    return sh.overflow ? SIGV4_ETOOBIG : SIGV4_OK;
}

/* Method, canonical URI and query, "name:value" lines (a repeated name's values joined with
 * ','), the signed header names and the payload hash, one per line. */
static int w_canonical_request(const signing *g, sigv4_signed *out) {
    const sigv4_request *req = g->req;
    int rc;
    wbuf cr;
    w_init(&cr, out->canonical_request, sizeof out->canonical_request);
    for (const char *p = req->method; *p; p++) w_chr(&cr, (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p));
    w_chr(&cr, '\n');
    w_canonical_uri(&cr, req->path, g->s3);
    w_chr(&cr, '\n');
    if ((rc = w_canonical_query(&cr, req->query))) return rc;
    w_chr(&cr, '\n');
    for (size_t i = 0; i < g->nh; i++) {
        int same_as_prev = i > 0 && strcmp(g->h[i].name, g->h[i - 1].name) == 0;
        if (same_as_prev) {
            w_chr(&cr, ',');
        } else {
            if (i > 0) w_chr(&cr, '\n');
            w_str(&cr, g->h[i].name);
            w_chr(&cr, ':');
        }
        w_header_value(&cr, g->h[i].value);
    }
    w_str(&cr, "\n\n");
    w_str(&cr, out->signed_headers);
    w_chr(&cr, '\n');
    w_str(&cr, g->payload);
    if (cr.overflow) return SIGV4_ETOOBIG;
    out->canonical_request_len = cr.len;
    return SIGV4_OK;
}

/* Scope, string to sign, signature (with the day's signing key) and the Authorization value. */
static int sign_canonical_request(const signing *g, const sigv4_credentials *creds, sigv4_key_cache *cache,
                                  sigv4_signed *out) {
    const sigv4_request *req = g->req;
    char date8[9];
    memcpy(date8, out->amz_date, 8);
    date8[8] = '\0';
    snprintf(out->scope, sizeof out->scope, "%s/%s/%s/aws4_request", date8, req->region, req->service);
    char cr_hash[65];
    if (crypto_sha256_hex(out->canonical_request, out->canonical_request_len, cr_hash) != 0) return SIGV4_ECRYPTO;
    int n = snprintf(out->string_to_sign, sizeof out->string_to_sign, "AWS4-HMAC-SHA256\n%s\n%s\n%s", out->amz_date,
                     out->scope, cr_hash);
    if (n < 0 || (size_t)n >= sizeof out->string_to_sign) return SIGV4_ETOOBIG;

    uint8_t key[32], sig[32];
    int rc = sigv4_signing_key(cache, creds->secret_access_key, date8, req->region, req->service, key);
    if (rc) return rc;
    rc = crypto_hmac_sha256(key, sizeof key, out->string_to_sign, (size_t)n, sig);
    memset(key, 0, sizeof key);
    if (rc) return SIGV4_ECRYPTO;
    crypto_hex(sig, sizeof sig, out->signature);

    n = snprintf(out->authorization, sizeof out->authorization,
                 "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s", creds->access_key_id, out->scope,
                 out->signed_headers, out->signature);
    return n < 0 || (size_t)n >= sizeof out->authorization ? SIGV4_ETOOBIG : SIGV4_OK;
}

/* One "Name: value" line, NUL-terminated inside out->storage; its offset goes to offs. */
static void w_line(wbuf *st, size_t *offs, sigv4_signed *out, const char *name, const char *value) {
    offs[out->nlines++] = st->len;
    w_str(st, name);
    w_str(st, value);
    w_chr(st, '\0');
}

/* The header lines to add to the request, pointing into out->storage. */
static int w_header_lines(const signing *g, sigv4_signed *out) {
    wbuf st;
    w_init(&st, out->storage, sizeof out->storage);
    size_t offs[4];
    out->nlines = 0;
    w_line(&st, offs, out, "Authorization: ", out->authorization);
    w_line(&st, offs, out, "X-Amz-Date: ", out->amz_date);
    if (g->token) w_line(&st, offs, out, "X-Amz-Security-Token: ", g->token);
    if (g->want_sha) w_line(&st, offs, out, "X-Amz-Content-Sha256: ", g->payload);
    if (st.overflow) return SIGV4_ETOOBIG;
    for (size_t i = 0; i < out->nlines; i++) out->lines[i] = out->storage + offs[i];
    return SIGV4_OK;
}

int sigv4_sign(const sigv4_request *req, const sigv4_credentials *creds, sigv4_key_cache *cache, sigv4_signed *out) {
    int rc = validate_request(req, creds);
    if (rc) return rc;
    if ((rc = format_amz_date(req->time, out->amz_date))) return rc;
    signing g;
    g.req = req;
    g.s3 = (req->flags & SIGV4_S3) != 0;
    g.want_sha = g.s3 || (req->flags & SIGV4_CONTENT_SHA256);
    g.payload = req->payload_hash ? req->payload_hash : CRYPTO_SHA256_EMPTY_HEX;
    g.token = creds->session_token && *creds->session_token ? creds->session_token : NULL;
    g.nh = 0;
    if ((rc = collect_headers(&g, out->amz_date)) || (rc = w_signed_headers(&g, out)) ||
        (rc = w_canonical_request(&g, out)) || (rc = sign_canonical_request(&g, creds, cache, out)))
        return rc;
    return w_header_lines(&g, out);
}

const char *sigv4_strerror(int err) {
    switch (err) {
    case SIGV4_OK: return "ok";
    case SIGV4_EINVAL: return "invalid request or credentials for signing";
    case SIGV4_ETOOBIG: return "request part over the signer's size limits";
    case SIGV4_ECRYPTO: return "crypto failure while signing";
    default: return "unknown signing error";
    }
}

/* ---- URL splitting ---- */

int sigv4_url_parse(const char *url, sigv4_url *u) {
    if (!url || !u) return SIGV4_EINVAL;
    const char *p;
    if (strncmp(url, "https://", 8) == 0) {
        u->https = 1;
        p = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        u->https = 0;
        p = url + 7;
    } else {
        return SIGV4_EINVAL;
    }
    const char *auth_end = p + strcspn(p, "/?#");
    /* userinfo never goes into the Host header */
    const char *at = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@') at = q;
    const char *h = at ? at + 1 : p;
    const char *host_end;
    const char *port = NULL;
    if (*h == '[') { /* IPv6 literal */
        const char *rb = memchr(h, ']', (size_t)(auth_end - h));
        if (!rb) return SIGV4_EINVAL;
        host_end = rb + 1;
        if (host_end < auth_end) {
            if (*host_end != ':') return SIGV4_EINVAL;
            port = host_end + 1;
        }
    } else {
        host_end = h;
        while (host_end < auth_end && *host_end != ':') host_end++;
        if (host_end < auth_end) port = host_end + 1;
    }
    size_t hlen = (size_t)(host_end - h);
    if (hlen == 0) return SIGV4_EINVAL;
    long portnum = -1;
    if (port) {
        if (port == auth_end) {
            port = NULL; /* "host:" means the default port */
        } else {
            portnum = 0;
            for (const char *q = port; q < auth_end; q++) {
                if (*q < '0' || *q > '9') return SIGV4_EINVAL;
                portnum = portnum * 10 + (*q - '0');
                if (portnum > 65535) return SIGV4_EINVAL;
            }
        }
    }
    int default_port = portnum < 0 || (u->https && portnum == 443) || (!u->https && portnum == 80);
    size_t need = hlen + (default_port ? 0 : 6);
    if (need > SIGV4_MAX_HOST) return SIGV4_ETOOBIG;
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= 0x20 || c == 0x7f) return SIGV4_EINVAL;
        u->host[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    u->host[hlen] = '\0';
    if (!default_port) snprintf(u->host + hlen, sizeof u->host - hlen, ":%ld", portnum);

    const char *path = auth_end;
    size_t plen = strcspn(path, "?#");
    if (plen > SIGV4_MAX_PATH) return SIGV4_ETOOBIG;
    if (plen == 0) {
        strcpy(u->path, "/");
    } else {
        memcpy(u->path, path, plen);
        u->path[plen] = '\0';
    }
    u->query[0] = '\0';
    if (path[plen] == '?') {
        const char *q = path + plen + 1;
        size_t qlen = strcspn(q, "#");
        if (qlen > SIGV4_MAX_QUERY) return SIGV4_ETOOBIG;
        memcpy(u->query, q, qlen);
        u->query[qlen] = '\0';
    }
    return SIGV4_OK;
}
