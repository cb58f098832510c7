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
