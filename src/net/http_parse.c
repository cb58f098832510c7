#include "net/http_parse.h"

#include <string.h>

/* RFC 9110 tchar: the characters of methods and header names. */
static int is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }

static int span_ieq(httpp_span s, const char *lit) {
    size_t n = strlen(lit);
    if (s.n != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s.p[i]) != lower((unsigned char)lit[i])) return 0;
    return 1;
}

int httpp_span_eq(httpp_span s, const char *lit) { return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0; }

size_t httpp_head_end(const char *buf, size_t len, size_t *scanned) {
    /* Look for LF (CR)? LF; step back so a terminator split across two arrivals is found. */
    size_t i = *scanned > 3 ? *scanned - 3 : 0;
    for (; i < len; i++) {
        if (buf[i] != '\n') continue;
        if (i + 1 < len && buf[i + 1] == '\n') return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
    }
    *scanned = len;
    return 0;
}

/* One line of the head starting at *pos; its end excludes CR LF. 0 at the end of the head. */
static int next_line(const char *buf, size_t end, size_t *pos, httpp_span *line) {
    if (*pos >= end) return 0;
    const char *p = buf + *pos;
    const char *nl = memchr(p, '\n', end - *pos);
    if (!nl) return 0; /* cannot happen for a head found by httpp_head_end */
    size_t n = (size_t)(nl - p);
    if (n && p[n - 1] == '\r') n--;
    line->p = p;
    line->n = n;
    *pos += (size_t)(nl - p) + 1;
    return 1;
}

static int parse_request_line(httpp_span l, size_t max_target, httpp_head *h) {
    size_t i = 0;
    while (i < l.n && is_tchar((unsigned char)l.p[i])) i++;
    if (i == 0 || i > HTTPP_MAX_METHOD || i >= l.n || l.p[i] != ' ') return HTTPP_EBAD;
    h->method = (httpp_span){l.p, i};
    size_t t = ++i;
    while (i < l.n && (unsigned char)l.p[i] > 0x20 && (unsigned char)l.p[i] < 0x7f) i++;
    if (i == t || i >= l.n || l.p[i] != ' ') return HTTPP_EBAD;
    if (i - t > max_target) return HTTPP_ETARGET;
    h->target = (httpp_span){l.p + t, i - t};
    if (h->target.p[0] != '/') return HTTPP_EBAD; /* origin-form only: no proxy requests */
    const char *q = memchr(h->target.p, '?', h->target.n);
    if (q) {
        h->path = (httpp_span){h->target.p, (size_t)(q - h->target.p)};
        h->query = (httpp_span){q + 1, h->target.n - h->path.n - 1};
    } else {
        h->path = h->target;
        h->query = (httpp_span){h->target.p + h->target.n, 0};
    }
    httpp_span v = {l.p + i + 1, l.n - i - 1};
    if (v.n != 8 || memcmp(v.p, "HTTP/", 5) != 0 || v.p[6] != '.' || v.p[5] < '0' || v.p[5] > '9' || v.p[7] < '0' ||
        v.p[7] > '9')
        return HTTPP_EBAD;
    if (v.p[5] != '1' || (v.p[7] != '0' && v.p[7] != '1')) return HTTPP_EVERSION;
    h->minor = v.p[7] - '0';
    return HTTPP_OK;
}

/* Content-Length: 1 to 18 digits, nothing else (no lists, no signs). */
static int parse_length(httpp_span v, int64_t *out) {
    if (v.n == 0 || v.n > 18) return -1;
    int64_t x = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9') return -1;
        x = x * 10 + (v.p[i] - '0');
    }
    *out = x;
    return 0;
}

/* Connection: a comma-separated list of tokens; "close" and "keep-alive" decide. */
static void parse_connection(httpp_span v, httpp_head *h) {
    size_t i = 0;
    while (i < v.n) {
        while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ',')) i++;
        size_t s = i;
        while (i < v.n && v.p[i] != ',' && v.p[i] != ' ' && v.p[i] != '\t') i++;
        httpp_span tok = {v.p + s, i - s};
        if (span_ieq(tok, "close")) h->keep_alive = 0;
        else if (span_ieq(tok, "keep-alive") && h->minor == 0) h->keep_alive = 1;
    }
}

static int parse_header_line(httpp_span l, httpp_head *h, int *have_host, int *have_te) {
    size_t i = 0;
    while (i < l.n && is_tchar((unsigned char)l.p[i])) i++;
    if (i == 0 || i >= l.n || l.p[i] != ':') return HTTPP_EBAD; /* also obs-fold and "Name :" */
    httpp_span name = {l.p, i};
    size_t s = i + 1, e = l.n;
    while (s < e && (l.p[s] == ' ' || l.p[s] == '\t')) s++;
    while (e > s && (l.p[e - 1] == ' ' || l.p[e - 1] == '\t')) e--;
    for (size_t k = s; k < e; k++) {
        unsigned char c = (unsigned char)l.p[k];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return HTTPP_EBAD;
    }
    httpp_span value = {l.p + s, e - s};
    if (h->nheaders >= HTTPP_MAX_HEADERS) return HTTPP_ETOOLARGE;
    h->names[h->nheaders] = name;
    h->values[h->nheaders] = value;
    h->nheaders++;
    if (span_ieq(name, "content-length")) {
        int64_t n;
        if (parse_length(value, &n) != 0) return HTTPP_EBAD;
        if (h->content_length >= 0 && h->content_length != n) return HTTPP_EBAD;
        h->content_length = n;
    } else if (span_ieq(name, "transfer-encoding")) {
        *have_te = 1;
    } else if (span_ieq(name, "connection")) {
        parse_connection(value, h);
    } else if (span_ieq(name, "expect")) {
        if (!span_ieq(value, "100-continue")) return HTTPP_EEXPECT;
        h->expect_continue = 1;
    } else if (span_ieq(name, "host")) {
        if (*have_host) return HTTPP_EBAD; /* RFC 9112 3.2: exactly one Host */
        *have_host = 1;
    }
    return HTTPP_OK;
}

int httpp_parse(const char *buf, size_t head_len, size_t max_target, httpp_head *h) {
    memset(h, 0, sizeof *h);
    h->content_length = -1;
    h->head_len = head_len;
    size_t pos = 0;
    httpp_span line;
    /* RFC 9112 2.2: empty lines before the request line are ignored (at most a few). */
    for (int skipped = 0;; skipped++) {
        if (!next_line(buf, head_len, &pos, &line)) return HTTPP_EBAD;
        if (line.n) break;
        if (skipped >= 2) return HTTPP_EBAD;
    }
    int rc = parse_request_line(line, max_target, h);
    if (rc != HTTPP_OK) return rc;
    h->keep_alive = h->minor == 1;
    int have_host = 0, have_te = 0;
    while (next_line(buf, head_len, &pos, &line) && line.n) {
        rc = parse_header_line(line, h, &have_host, &have_te);
        if (rc != HTTPP_OK) return rc;
    }
    if (h->minor == 1 && !have_host) return HTTPP_EBAD;
    if (have_te) return h->content_length >= 0 ? HTTPP_EBAD : HTTPP_ELENGTH; /* both: request smuggling */
    return HTTPP_OK;
}

int httpp_status(int err) {
    switch (err) {
    case HTTPP_ETOOLARGE: return 431;
    case HTTPP_EVERSION: return 505;
    case HTTPP_ELENGTH: return 411;
    case HTTPP_EEXPECT: return 417;
    case HTTPP_ETARGET: return 414;
    default: return 400;
    }
}

const httpp_span *httpp_header(const httpp_head *h, const char *name) {
    for (unsigned i = 0; i < h->nheaders; i++)
        if (span_ieq(h->names[i], name)) return &h->values[i];
    return NULL;
}

int httpp_form_next(const char *s, size_t n, size_t *pos, httpp_span *key, httpp_span *value) {
    while (*pos < n) {
        size_t start = *pos;
        const char *amp = memchr(s + start, '&', n - start);
        size_t end = amp ? (size_t)(amp - s) : n;
        *pos = amp ? end + 1 : n;
        if (end == start) continue;
        const char *eq = memchr(s + start, '=', end - start);
        if (eq) {
            *key = (httpp_span){s + start, (size_t)(eq - (s + start))};
            *value = (httpp_span){eq + 1, (size_t)(s + end - (eq + 1))};
        } else {
            *key = (httpp_span){s + start, end - start};
            *value = (httpp_span){s + end, 0};
        }
        return 1;
    }
    return 0;
}
