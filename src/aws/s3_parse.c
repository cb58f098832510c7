/* Pure parts of the S3 client: object URLs, the ListObjectsV2 query, and the parsing of
 * ListBucketResult and Error documents. No loop, no network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/s3.h"
#include "aws/sigv4.h"
#include "base/date.h"
#include "base/text.h"
#include "base/xmlscan.h"

/* ---- URLs ---- */

static int bucket_valid(const char *b) {
    size_t n = strlen(b);
    if (n == 0 || n > S3_MAX_BUCKET) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* Usable as a DNS label under s3.REGION.amazonaws.com with the wildcard certificate: lower-case
 * letters, digits and '-', starting and ending with a letter or digit, no dots. */
static int bucket_virtual_host_ok(const char *b) {
    size_t n = strlen(b);
    if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return 0;
    }
    return 1;
}

/* libcurl collapses "." and ".." path segments (RFC 3986 dot removal): such a key would
 * silently fetch another object, so it is refused. */
static int key_valid(const char *k) {
    size_t n = strlen(k);
    if (n == 0 || n > S3_MAX_KEY) return 0;
    const char *seg = k;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || k[i] == '/') {
            size_t len = (size_t)(k + i - seg);
            if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) return 0;
            seg = k + i + 1;
        }
    }
    return 1;
}

/* Host of an https endpoint that is AWS's own S3 (s3.amazonaws.com, s3.REGION.amazonaws.com[.cn]),
 * with nothing after it; NULL otherwise. */
static const char *aws_default_s3_host(const char *endpoint, size_t n) {
    static const char https[] = "https://";
    if (n <= sizeof https - 1 || memcmp(endpoint, https, sizeof https - 1) != 0) return NULL;
    const char *host = endpoint + sizeof https - 1;
    size_t hn = n - (sizeof https - 1);
    if (memchr(host, '/', hn) || memchr(host, ':', hn) || memchr(host, '@', hn)) return NULL;
    if (hn < 3 || memcmp(host, "s3.", 3) != 0) return NULL;
    static const char *const suffixes[] = {".amazonaws.com", ".amazonaws.com.cn"};
    for (size_t i = 0; i < 2; i++) {
        size_t sl = strlen(suffixes[i]);
        if (hn > sl && memcmp(host + hn - sl, suffixes[i], sl) == 0) return host;
    }
    return NULL;
}

int s3_object_url(const char *endpoint, const char *bucket, const char *key, char *out, size_t cap) {
    if (!endpoint || !bucket || !bucket_valid(bucket) || (key && !key_valid(key))) return -1;
    size_t en = strlen(endpoint);
    while (en > 0 && endpoint[en - 1] == '/') en--;
    if (!(en > 7 && memcmp(endpoint, "http://", 7) == 0) && !(en > 8 && memcmp(endpoint, "https://", 8) == 0))
        return -1;
    const char *host = aws_default_s3_host(endpoint, en);
    int w;
    if (host && bucket_virtual_host_ok(bucket))
        w = snprintf(out, cap, "https://%s.%.*s", bucket, (int)(en - (size_t)(host - endpoint)), host);
    else w = snprintf(out, cap, "%.*s/%s", (int)en, endpoint, bucket);
    if (w < 0 || (size_t)w >= cap) return -1;
    if (!key) return 0;
    size_t pos = (size_t)w;
    if (pos + 2 > cap) return -1;
    out[pos++] = '/';
    out[pos] = '\0';
    return sigv4_uri_encode(key, strlen(key), out + pos, cap - pos, 1) < 0 ? -1 : 0;
}

/* Append "&name=ENCODED" (or without '&' when first) to out. */
static int add_param(char *out, size_t cap, size_t *pos, const char *name, const char *value, int encode) {
    size_t nl = strlen(name);
    if (*pos + nl + 3 > cap) return -1;
    if (*pos) out[(*pos)++] = '&';
    memcpy(out + *pos, name, nl);
    *pos += nl;
    out[(*pos)++] = '=';
    out[*pos] = '\0';
    if (!encode) {
        size_t vl = strlen(value);
        if (*pos + vl + 1 > cap) return -1;
        memcpy(out + *pos, value, vl + 1);
        *pos += vl;
        return 0;
    }
    long e = sigv4_uri_encode(value, strlen(value), out + *pos, cap - *pos, 0);
    if (e < 0) return -1;
    *pos += (size_t)e;
    return 0;
}

int s3_list_query(const char *prefix, const char *start_after, const char *continuation_token, const char *delimiter,
                  int max_keys, char *out, size_t cap) {
    if (cap == 0) return -1;
    size_t pos = 0;
    out[0] = '\0';
    char mk[16];
    if (max_keys > S3_MAX_LIST_KEYS) max_keys = S3_MAX_LIST_KEYS;
    snprintf(mk, sizeof mk, "%d", max_keys);
    /* Alphabetical order: the canonical query is sorted anyway, this keeps the wire identical. */
    if (continuation_token && *continuation_token &&
        add_param(out, cap, &pos, "continuation-token", continuation_token, 1))
        return -1;
    if (delimiter && *delimiter && add_param(out, cap, &pos, "delimiter", delimiter, 1)) return -1;
    if (add_param(out, cap, &pos, "encoding-type", "url", 0)) return -1;
    if (add_param(out, cap, &pos, "list-type", "2", 0)) return -1;
    if (max_keys > 0 && add_param(out, cap, &pos, "max-keys", mk, 0)) return -1;
    if (prefix && *prefix && add_param(out, cap, &pos, "prefix", prefix, 1)) return -1;
    if (start_after && *start_after && add_param(out, cap, &pos, "start-after", start_after, 1)) return -1;
    return 0;
}

/* ---- parsing ---- */

static int fail(char *why, size_t cap, const char *msg) {
    if (why && cap) snprintf(why, cap, "%s", msg);
    return -1;
}

/* Decode an element's text into the arena; url: also undo encoding-type=url ('+' is a space,
 * as S3 writes it; a literal '+' comes as %2B). */
static const char *arena_put(s3_list_parsed *p, const xml_span *s, int url, size_t *len_out) {
    char *dst = p->arena + p->arena_len;
    size_t room = p->arena_cap - p->arena_len;
    long n = xml_decode(s, dst, room);
    if (n < 0) return NULL;
    if (url) {
        n = text_pct_decode(dst, (size_t)n, dst, room, TEXT_PCT_PLUS_SPACE); /* in place */
        if (n < 0) return NULL;
    }
    p->arena_len += (size_t)n + 1;
    if (len_out) *len_out = (size_t)n;
    return dst;
}

static int parse_u64(const xml_span *s, uint64_t *out) {
    if (s->n == 0 || s->n > 20) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < s->n; i++) {
        char c = s->p[i];
        if (c < '0' || c > '9') return -1;
        uint64_t d = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static size_t count_elements(const xml_span *in, const char *tag) {
    size_t pos = 0, n = 0;
    xml_span s;
    while (xml_next(in->p, in->n, &pos, tag, &s) == 0) n++;
    return n;
}

int s3_list_parse(const char *xml, size_t len, s3_list_parsed *p, char *why, size_t why_cap) {
    memset(p, 0, sizeof *p);
    xml_span root, s;
    size_t pos = 0;
    if (!xml || xml_next(xml, len, &pos, "ListBucketResult", &root) != 0)
        return fail(why, why_cap, "answer is not a ListBucketResult");
    size_t ncontents = count_elements(&root, "Contents");
    size_t nprefixes = count_elements(&root, "CommonPrefixes");
    /* Decoded text is never longer than its source, and each string comes from a distinct
     * part of root: root.n bytes plus one NUL per string is enough. */
    p->arena_cap = root.n + 2 * ncontents + nprefixes + 8;
    p->arena = malloc(p->arena_cap);
    p->objects = calloc(ncontents ? ncontents : 1, sizeof *p->objects);
    p->prefixes = calloc(nprefixes ? nprefixes : 1, sizeof *p->prefixes);
    if (!p->arena || !p->objects || !p->prefixes) {
        s3_list_parsed_free(p);
        return fail(why, why_cap, "out of memory");
    }

    size_t i = 0;
    pos = 0;
    xml_span c;
    while (xml_next(root.p, root.n, &pos, "Contents", &c) == 0) {
        s3_object_info *o = &p->objects[i];
        if (xml_child(&c, "Key", &s) != 0 || !(o->key = arena_put(p, &s, 1, &o->key_len)) || o->key_len == 0 ||
            o->key_len > S3_MAX_KEY)
            goto bad_key;
        if (xml_child(&c, "Size", &s) != 0 || parse_u64(&s, &o->size) != 0) {
            s3_list_parsed_free(p);
            return fail(why, why_cap, "Contents without a valid Size");
        }
        o->last_modified = 0;
        if (xml_child(&c, "LastModified", &s) == 0 && date_rfc3339_epoch(s.p, s.n, &o->last_modified) != 0)
            o->last_modified = 0;
        o->etag = "";
        if (xml_child(&c, "ETag", &s) == 0) {
            const char *e = arena_put(p, &s, 0, NULL);
            if (e) o->etag = e;
        }
        i++;
    }
    size_t np = 0;
    pos = 0;
    while (xml_next(root.p, root.n, &pos, "CommonPrefixes", &c) == 0) {
        if (xml_child(&c, "Prefix", &s) != 0 || !(p->prefixes[np] = arena_put(p, &s, 1, NULL))) {
            s3_list_parsed_free(p);
            return fail(why, why_cap, "CommonPrefixes without a valid Prefix");
        }
        np++;
    }
    p->page.truncated = 0;
    pos = 0;
    if (xml_next(root.p, root.n, &pos, "IsTruncated", &s) == 0) {
        if (xml_eq(&s, "true")) p->page.truncated = 1;
        else if (!xml_eq(&s, "false")) {
            s3_list_parsed_free(p);
            return fail(why, why_cap, "IsTruncated is neither true nor false");
        }
    }
    p->page.next_token = "";
    pos = 0;
    if (xml_next(root.p, root.n, &pos, "NextContinuationToken", &s) == 0) {
        const char *t = arena_put(p, &s, 0, NULL);
        if (!t) {
            s3_list_parsed_free(p);
            return fail(why, why_cap, "NextContinuationToken is malformed");
        }
        p->page.next_token = t;
    }
    /* Without a token a truncated listing cannot go on: following it would restart the loop. */
    if (p->page.truncated && !*p->page.next_token) {
        s3_list_parsed_free(p);
        return fail(why, why_cap, "IsTruncated is true but NextContinuationToken is missing");
    }
    p->page.objects = p->objects;
    p->page.nobjects = i;
    p->page.prefixes = p->prefixes;
    p->page.nprefixes = np;
    return 0;

bad_key:
    s3_list_parsed_free(p);
    return fail(why, why_cap, "Contents with a missing or malformed Key");
}

void s3_list_parsed_free(s3_list_parsed *p) {
    free(p->arena);
    free(p->objects);
    free(p->prefixes);
    memset(p, 0, sizeof *p);
}

/* Decoded text of span, or its raw bytes cut to fit when decoding is impossible. */
static void copy_text(const xml_span *s, char *out, size_t cap) {
    if (!out || cap == 0) return;
    if (xml_decode(s, out, cap) >= 0) return;
    size_t n = s->n < cap - 1 ? s->n : cap - 1;
    memcpy(out, s->p, n);
    out[n] = '\0';
}

int s3_parse_error(const char *xml, size_t len, char *code, size_t code_cap, char *message, size_t message_cap,
                   char *region, size_t region_cap) {
    if (code && code_cap) code[0] = '\0';
    if (message && message_cap) message[0] = '\0';
    if (region && region_cap) region[0] = '\0';
    xml_span root, s;
    size_t pos = 0;
    if (!xml || xml_next(xml, len, &pos, "Error", &root) != 0) return -1;
    if (xml_child(&root, "Message", &s) == 0) copy_text(&s, message, message_cap);
    if (xml_child(&root, "Region", &s) == 0) copy_text(&s, region, region_cap);
    if (xml_child(&root, "Code", &s) != 0) return -1;
    copy_text(&s, code, code_cap);
    return 0;
}
