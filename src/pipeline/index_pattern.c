#include "pipeline/index_pattern.h"

#include <stdio.h>
#include <string.h>

static int fail(char *err, size_t cap, const char *msg) {
    if (err && cap) snprintf(err, cap, "%s", msg);
    return -1;
}

int index_pattern_check(const char *p, int allow_wildcard, char *err, size_t errcap) {
    size_t n = p ? strlen(p) : 0;
    if (n == 0) return fail(err, errcap, "the index pattern is empty");
    if (n > INDEX_PATTERN_MAX) return fail(err, errcap, "the index pattern is longer than 100 characters");
    if (strchr("_-+", p[0]))
        return fail(err, errcap, "an index name cannot start with _, - or + (is the URL path /_bulk?)");
    if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0) return fail(err, errcap, "an index name cannot be . or ..");
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '%') {
            if (!p[i + 1] || !strchr("YmdH", p[i + 1]))
                return fail(err, errcap, "the index pattern knows only the directives %Y %m %d %H");
            i++;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._+-", c) ||
                     (allow_wildcard && c == '*'))) {
            return fail(err, errcap,
                        allow_wildcard ? "the index pattern may hold only lower-case letters, digits, . _ + - * "
                                         "and %Y %m %d %H"
                                       : "the index pattern may hold only lower-case letters, digits, . _ + - "
                                         "and %Y %m %d %H");
        }
    }
    return 0;
}
