#include "sources/trail_key.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Find "/NAME/" or a leading "NAME/" as a whole path segment. */
static int has_segment(const char *s, size_t n, const char *name) {
    size_t m = strlen(name);
    for (size_t i = 0; i + m <= n; i++) {
        if ((i == 0 || s[i - 1] == '/') && memcmp(s + i, name, m) == 0 && i + m < n && s[i + m] == '/') return 1;
    }
    return 0;
}

/* The extension of the last path segment: what follows its last '.', when that is 1 to 8
 * letters or digits ("x.json.gz" -> "gz"); empty when the name has none (Firehose's
 * "stream-1-2024-05-01-10-00-00-a1b2", or "my.stream-1-..." where the dot starts no extension). */
static size_t extension(const char *s, size_t n, const char **ext) {
    size_t i = n;
    while (i > 0 && s[i - 1] != '/' && s[i - 1] != '.') i--;
    *ext = s + i;
    if (i == 0 || s[i - 1] != '.' || n - i == 0 || n - i > 8) return 0;
    for (size_t k = i; k < n; k++)
        if (!isalnum((unsigned char)s[k])) return 0;
    return n - i;
}

static int ext_is(const char *ext, size_t n, const char *want) {
    return strlen(want) == n && strncasecmp(ext, want, n) == 0;
}

key_kind key_classify(const char *key, size_t len) {
    if (len == 0 || key[len - 1] == '/') return KEY_FOLDER;
    if (has_segment(key, len, "CloudTrail-Digest")) return KEY_DIGEST;
    size_t base = len;
    while (base > 0 && key[base - 1] != '/') base--;
    if (key[base] == '.') return KEY_OTHER; /* a hidden file (.DS_Store, ...) */
    const char *ext;
    size_t n = extension(key, len, &ext);
    int readable = n == 0 || ext_is(ext, n, "json") || ext_is(ext, n, "gz") || ext_is(ext, n, "jsonl") ||
                   ext_is(ext, n, "ndjson") || ext_is(ext, n, "log");
    if (!readable) return KEY_OTHER;
    if (has_segment(key, len, "CloudTrail-Insight")) return KEY_INSIGHT;
    return KEY_LOG;
}

long long key_stamp(const char *key, size_t len) {
    size_t base = len;
    while (base > 0 && key[base - 1] != '/') base--;
    /* "_" 8 digits "T" 4 digits "Z_" */
    for (size_t i = base; i + 16 <= len; i++) {
        if (key[i] != '_' || key[i + 9] != 'T' || key[i + 14] != 'Z' || key[i + 15] != '_') continue;
        long long v = 0;
        size_t k;
        for (k = i + 1; k < i + 14; k++) {
            if (k == i + 9) continue;
            if (!isdigit((unsigned char)key[k])) break;
            v = v * 10 + (key[k] - '0');
        }
        if (k == i + 14) return v;
    }
    return -1;
}

int key_replay_cmp(const char *a, const char *b) {
    long long x = key_stamp(a, strlen(a)), y = key_stamp(b, strlen(b));
    if ((x < 0) != (y < 0)) return x < 0 ? 1 : -1;
    if (x != y) return x < y ? -1 : 1;
    return strcmp(a, b);
}
