#include "sources/trail_key.h"

#include <string.h>

static int has_suffix(const char *s, size_t n, const char *suf) {
    size_t m = strlen(suf);
    return n >= m && memcmp(s + n - m, suf, m) == 0;
}

/* Find "/NAME/" or a leading "NAME/" as a whole path segment. */
static int has_segment(const char *s, size_t n, const char *name) {
    size_t m = strlen(name);
    for (size_t i = 0; i + m <= n; i++) {
        if ((i == 0 || s[i - 1] == '/') && memcmp(s + i, name, m) == 0 && i + m < n && s[i + m] == '/') return 1;
    }
    return 0;
}

key_kind key_classify(const char *key, size_t len) {
    if (len == 0 || key[len - 1] == '/') return KEY_OTHER;
    if (has_segment(key, len, "CloudTrail-Digest")) return KEY_DIGEST;
    int json = has_suffix(key, len, ".json.gz") || has_suffix(key, len, ".json") || has_suffix(key, len, ".gz");
    if (!json) return KEY_OTHER;
    if (has_segment(key, len, "CloudTrail-Insight")) return KEY_INSIGHT;
    return KEY_LOG;
}

static int all_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return n > 0;
}

int key_parse(const char *key, size_t len, key_parts *out) {
    memset(out, 0, sizeof *out);
    /* Split into at most 16 segments after the last "AWSLogs/". */
    const char *p = NULL;
    for (size_t i = 0; i + 8 <= len; i++)
        if ((i == 0 || key[i - 1] == '/') && memcmp(key + i, "AWSLogs/", 8) == 0) p = key + i + 8;
    if (!p) return -1;
    const char *end = key + len;
    const char *seg[8];
    size_t seglen[8];
    int n = 0;
    while (p < end && n < 8) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        if (!slash) break; /* the file name itself */
        seg[n] = p;
        seglen[n] = (size_t)(slash - p);
        n++;
        p = slash + 1;
    }
    int i = 0;
    if (n > 0 && seglen[0] > 2 && memcmp(seg[0], "o-", 2) == 0) {
        if (seglen[0] >= sizeof out->org) return -1;
        memcpy(out->org, seg[0], seglen[0]);
        i = 1;
    }
    /* ACCOUNT / CloudTrail* / REGION / YYYY / MM / DD */
    if (n - i < 6) return -1;
    if (seglen[i] != 12 || !all_digits(seg[i], 12)) return -1;
    if (seglen[i + 1] < 10 || memcmp(seg[i + 1], "CloudTrail", 10) != 0) return -1;
    if (seglen[i + 2] == 0 || seglen[i + 2] >= sizeof out->region) return -1;
    if (seglen[i + 3] != 4 || seglen[i + 4] != 2 || seglen[i + 5] != 2) return -1;
    if (!all_digits(seg[i + 3], 4) || !all_digits(seg[i + 4], 2) || !all_digits(seg[i + 5], 2)) return -1;
    memcpy(out->account, seg[i], 12);
    memcpy(out->region, seg[i + 2], seglen[i + 2]);
    memcpy(out->date, seg[i + 3], 4);
    out->date[4] = '-';
    memcpy(out->date + 5, seg[i + 4], 2);
    out->date[7] = '-';
    memcpy(out->date + 8, seg[i + 5], 2);
    return 0;
}
