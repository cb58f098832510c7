#include "sources/trail_layout.h"

#include <stdio.h>
#include <string.h>

#include "base/date.h"

static int fail(char *why, size_t cap, const char *msg) {
    if (why && cap) snprintf(why, cap, "%s", msg);
    return -1;
}

int trail_parse_s3_url(const char *url, char *bucket, size_t bucket_cap, char *prefix, size_t prefix_cap, char *why,
                       size_t why_cap) {
    if (!url || strncmp(url, "s3://", 5) != 0) return fail(why, why_cap, "expected s3://BUCKET[/PREFIX]");
    const char *b = url + 5;
    size_t bn = strcspn(b, "/");
    if (bn < 3 || bn > 63) return fail(why, why_cap, "the bucket name must have 3 to 63 characters");
    for (size_t i = 0; i < bn; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_'))
            return fail(why, why_cap, "the bucket name may hold letters, digits, '.', '-' and '_' only");
    }
    if (bn + 1 > bucket_cap) return fail(why, why_cap, "bucket name too long");
    memcpy(bucket, b, bn);
    bucket[bn] = '\0';
    const char *p = b[bn] == '/' ? b + bn + 1 : b + bn;
    size_t pn = strlen(p);
    if (pn > TRAIL_MAX_PREFIX) return fail(why, why_cap, "the prefix is too long (512 bytes at most)");
    for (size_t i = 0; i < pn; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            return fail(why, why_cap, "the prefix holds a control character");
    /* "//" would name an empty folder that CloudTrail never writes. */
    if (strstr(p, "//") || p[0] == '/') return fail(why, why_cap, "the prefix holds an empty folder name ('//')");
    int slash = pn > 0 && p[pn - 1] != '/';
    if (pn + (size_t)slash + 1 > prefix_cap) return fail(why, why_cap, "prefix too long");
    memcpy(prefix, p, pn);
    if (slash) prefix[pn++] = '/';
    prefix[pn] = '\0';
    return 0;
}

static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int32_t trail_parse_day(const char *s) {
    int y, m, d;
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &m) || digits(s + 8, 2, &d)) return -1;
    if (y < 1970 || !date_valid(y, m, d)) return -1;
    return (int32_t)date_days_from_civil(y, m, d); /* four-digit years: fits */
}

void trail_format_day(int32_t day, char out[11]) {
    int64_t y;
    int m, d;
    if (day < TRAIL_DAY_MIN) day = TRAIL_DAY_MIN;
    if (day > TRAIL_DAY_MAX) day = TRAIL_DAY_MAX;
    date_civil_from_days(day, &y, &m, &d);
    /* By hand: the compiler cannot see that y has four digits once day is clamped. */
    const int parts[3] = {(int)y, m, d}, widths[3] = {4, 2, 2};
    char *p = out;
    for (int i = 0; i < 3; i++) {
        for (int k = widths[i] - 1, v = parts[i]; k >= 0; k--, v /= 10) p[k] = (char)('0' + v % 10);
        p += widths[i];
        *p++ = i < 2 ? '-' : '\0';
    }
}

int32_t trail_day_of_time(int64_t epoch_s) {
    if (epoch_s < 0) return TRAIL_DAY_MIN;
    int64_t d = epoch_s / 86400;
    return d > TRAIL_DAY_MAX ? TRAIL_DAY_MAX : (int32_t)d;
}

/* snprintf's answer: 0 when the text fitted in cap bytes. */
static int put(size_t cap, int w) { return (w < 0 || (size_t)w >= cap) ? -1 : 0; }

int trail_logs_prefix(const char *prefix, char *out, size_t cap) {
    return put(cap, snprintf(out, cap, "%sAWSLogs/", prefix ? prefix : ""));
}

int trail_series_prefix(const char *prefix, const char *org, const char *account, const char *region, int insight,
                        char *out, size_t cap) {
    int has_org = org && *org;
    return put(cap, snprintf(out, cap, "%sAWSLogs/%s%s%s/%s/%s/", prefix ? prefix : "", has_org ? org : "",
                             has_org ? "/" : "", account, insight ? TRAIL_INSIGHT_FOLDER : TRAIL_LOG_FOLDER, region));
}

int trail_day_prefix(const char *series_prefix, int32_t day, char *out, size_t cap) {
    char d[11];
    trail_format_day(day, d);
    return put(cap, snprintf(out, cap, "%s%.4s/%.2s/%.2s/", series_prefix, d, d + 5, d + 8));
}

int trail_series_name(const char *org, const char *account, const char *region, int insight, char *out, size_t cap) {
    int has_org = org && *org;
    return put(cap, snprintf(out, cap, "%s%s%s/%s%s", has_org ? org : "", has_org ? "/" : "", account,
                             insight ? TRAIL_INSIGHT_FOLDER "/" : "", region));
}

int trail_is_series_name(const char *name, size_t n) {
    if (n == sizeof TRAIL_DATED_SERIES - 1 && memcmp(name, TRAIL_DATED_SERIES, n) == 0) return 1;
    if (n == 0 || n > TRAIL_MAX_SERIES) return 0;
    enum { MAX_SEG = 4 };
    const char *seg[MAX_SEG + 1];
    size_t len[MAX_SEG + 1];
    int k = 0;
    for (const char *p = name, *end = name + n; k <= MAX_SEG;) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        seg[k] = p;
        len[k] = (size_t)((slash ? slash : end) - p);
        k++;
        if (!slash) break;
        p = slash + 1;
    }
    if (k > MAX_SEG) return 0;
    int i = 0;
    if (trail_is_org(seg[i], len[i])) i++;
    if (i >= k || !trail_is_account(seg[i], len[i])) return 0;
    i++;
    size_t il = sizeof TRAIL_INSIGHT_FOLDER - 1;
    if (i < k && len[i] == il && memcmp(seg[i], TRAIL_INSIGHT_FOLDER, il) == 0) i++;
    return i == k - 1 && trail_is_region(seg[i], len[i]);
}

const char *trail_last_segment(const char *common_prefix, size_t *len) {
    size_t n = common_prefix ? strlen(common_prefix) : 0;
    if (n < 2 || common_prefix[n - 1] != '/') return NULL;
    size_t start = n - 1;
    while (start > 0 && common_prefix[start - 1] != '/') start--;
    if (start == n - 1) return NULL;
    *len = n - 1 - start;
    return common_prefix + start;
}

static int all_of(const char *s, size_t n, const char *set) {
    for (size_t i = 0; i < n; i++)
        if (!strchr(set, s[i]) || s[i] == '\0') return 0;
    return 1;
}

static const char DIGITS[] = "0123456789";
static const char LOWER_DIGITS[] = "abcdefghijklmnopqrstuvwxyz0123456789";

int trail_is_account(const char *s, size_t n) { return n == TRAIL_ACCOUNT_LEN && all_of(s, n, DIGITS); }

int trail_is_org(const char *s, size_t n) {
    return n >= 12 && n <= 34 && s[0] == 'o' && s[1] == '-' && all_of(s + 2, n - 2, LOWER_DIGITS);
}

/* Lower-case words joined by '-', the last one a number: us-east-1, us-gov-west-1, ap-southeast-4. */
int trail_is_region(const char *s, size_t n) {
    if (n < 4 || n >= TRAIL_MAX_REGION || !all_of(s, n, "abcdefghijklmnopqrstuvwxyz0123456789-")) return 0;
    if (s[0] == '-' || s[n - 1] == '-' || memchr(s, '-', n) == NULL) return 0;
    for (size_t i = 1; i < n; i++)
        if (s[i] == '-' && s[i - 1] == '-') return 0;
    size_t last = n;
    while (last > 0 && s[last - 1] != '-') last--;
    return all_of(s + last, n - last, DIGITS) && (s[0] < '0' || s[0] > '9');
}

/* Split arg at commas and hand each non-empty item to add. */
static int add_items(const char *arg, int (*ok)(const char *, size_t), char *list, size_t width, int cap, int *n,
                     const char *what, char *why, size_t why_cap) {
    const char *p = arg ? arg : "";
    if (!*p) return fail(why, why_cap, "an empty list");
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0 || !ok(p, len) || len >= width) {
            if (why && why_cap) snprintf(why, why_cap, "'%.*s' is not %s", (int)(len ? len : 1), len ? p : ",", what);
            return -1;
        }
        int dup = 0;
        for (int i = 0; i < *n && !dup; i++)
            dup = strlen(list + (size_t)i * width) == len && !memcmp(list + (size_t)i * width, p, len);
        if (!dup) {
            if (*n >= cap) return fail(why, why_cap, "too many items");
            memcpy(list + (size_t)*n * width, p, len);
            list[(size_t)*n * width + len] = '\0';
            (*n)++;
        }
        p += len;
        if (*p == ',') p++;
    }
    return 0;
}

int trail_add_accounts(const char *arg, char (*list)[TRAIL_ACCOUNT_LEN + 1], int cap, int *n, char *why,
                       size_t why_cap) {
    return add_items(arg, trail_is_account, &list[0][0], TRAIL_ACCOUNT_LEN + 1, cap, n, "a 12-digit account ID", why,
                     why_cap);
}

int trail_add_regions(const char *arg, char (*list)[TRAIL_MAX_REGION], int cap, int *n, char *why, size_t why_cap) {
    return add_items(arg, trail_is_region, &list[0][0], TRAIL_MAX_REGION, cap, n, "a region name (like us-east-1)", why,
                     why_cap);
}
