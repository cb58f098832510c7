#include "net/retry.h"

#include <string.h>
#include <time.h>

/* Codes from botocore's standard retry mode (botocore/retries/standard.py), the CloudSearch
 * Developer Guide ("Handling errors") and the S3 API reference ("Error responses"). */
static const char *const throttling_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "AWS.SimpleQueueService.RequestThrottled",
};

static const char *const transient_codes[] = {
    "RequestTimeout",  "RequestTimeoutException", "InternalError",
    "InternalFailure", "ServiceUnavailable",      "ServiceUnavailableException",
};

static int in_list(const char *code, const char *const *list, size_t n) {
    if (!code || !*code) return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(code, list[i]) == 0) return 1;
    return 0;
}

int retry_code_is_throttling(const char *aws_code) {
    return in_list(aws_code, throttling_codes, sizeof throttling_codes / sizeof throttling_codes[0]);
}

int retry_code_is_retryable(const char *aws_code) {
    return retry_code_is_throttling(aws_code) ||
           in_list(aws_code, transient_codes, sizeof transient_codes / sizeof transient_codes[0]);
}

int retry_status_is_retryable(int status) {
    switch (status) {
    case 408: /* request timeout */
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
    case 507: /* CloudSearch: upload overload */
    case 509: /* CloudSearch: bandwidth exceeded */ return 1;
    default: return 0;
    }
}

int retry_result_is_retryable(http_result result) {
    return result == HTTP_ERR_CONNECT || result == HTTP_ERR_TIMEOUT || result == HTTP_ERR_CONNECTION;
}

retry_verdict retry_classify(http_result result, int status, const char *aws_code) {
    if (result != HTTP_OK) return retry_result_is_retryable(result) ? RETRY_AGAIN : RETRY_FAIL;
    if (status >= 200 && status < 300) return RETRY_SUCCESS;
    if (retry_status_is_retryable(status) || retry_code_is_retryable(aws_code)) return RETRY_AGAIN;
    return RETRY_FAIL;
}

retry_verdict retry_classify_response(const http_response *r) {
    char code[128];
    if (r->result != HTTP_OK || (r->status >= 200 && r->status < 300))
        return retry_classify(r->result, r->status, NULL);
    retry_aws_error_code(r, code, sizeof code);
    return retry_classify(r->result, r->status, code);
}

/* ---------- error code extraction ---------- */

static int code_char(char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
           ch == '-';
}

/* Copy the code in [p, end): after the last '#', up to the first character that cannot be part
 * of a code (':' or ';' end the header forms). */
static size_t copy_code(const char *p, const char *end, char *out, size_t cap) {
    const char *hash = NULL;
    const char *q = p;
    while (q < end && (code_char(*q) || *q == '#')) {
        if (*q == '#') hash = q;
        q++;
    }
    if (hash) p = hash + 1;
    size_t n = (size_t)(q - p);
    if (n >= cap) n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

static const char *find_bounded(const char *hay, size_t len, const char *needle) {
    size_t nl = strlen(needle);
    if (nl == 0 || len < nl) return NULL;
    for (size_t i = 0; i + nl <= len; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, nl) == 0) return hay + i;
    return NULL;
}

/* Value of the JSON string member `"key"` : "value" found by scanning; error bodies are tiny. */
static size_t json_member_code(const char *body, size_t len, const char *quoted_key, char *out, size_t cap) {
    const char *end = body + len;
    const char *k = find_bounded(body, len, quoted_key);
    if (!k) return 0;
    const char *p = k + strlen(quoted_key);
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    if (p >= end || *p != ':') return 0;
    p++;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    if (p >= end || *p != '"') return 0;
    return copy_code(p + 1, end, out, cap);
}

size_t retry_aws_error_code(const http_response *r, char *out, size_t cap) {
    if (!out || cap == 0) return 0;
    out[0] = '\0';
    if (!r) return 0;
    const char *h = http_response_header(r, "x-amzn-ErrorType");
    if (!h) h = http_response_header(r, "x-amzn-query-error");
    if (h && *h) {
        size_t n = copy_code(h, h + strlen(h), out, cap);
        if (n) return n;
    }
    if (!r->body.data || r->body.len == 0) return 0;
    size_t len = r->body.len < 8192 ? r->body.len : 8192; /* the code sits near the start */
    const char *b = r->body.data;
    const char *x = find_bounded(b, len, "<Code>");
    if (x) {
        x += 6;
        return copy_code(x, b + len, out, cap);
    }
    size_t n = json_member_code(b, len, "\"__type\"", out, cap);
    if (!n) n = json_member_code(b, len, "\"code\"", out, cap);
    if (!n) n = json_member_code(b, len, "\"Code\"", out, cap);
    return n;
}

/* ---------- Retry-After ---------- */

#define RETRY_AFTER_MAX_S 3600

uint64_t retry_after_parse(const char *value, int64_t now) {
    if (!value) return 0;
    while (*value == ' ' || *value == '\t') value++;
    if (*value >= '0' && *value <= '9') {
        uint64_t sec = 0;
        const char *p = value;
        for (; *p >= '0' && *p <= '9'; p++) {
            sec = sec * 10 + (uint64_t)(*p - '0');
            if (sec > RETRY_AFTER_MAX_S) return 0;
        }
        while (*p == ' ' || *p == '\t') p++;
        return *p == '\0' ? sec * 1000 : 0;
    }
    /* IMF-fixdate, the form RFC 9110 requires senders to use. */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0') return 0;
    int64_t at = (int64_t)timegm(&tm);
    if (at <= now || at - now > RETRY_AFTER_MAX_S) return 0;
    return (uint64_t)(at - now) * 1000;
}

uint64_t retry_after_ms(const http_response *r) {
    return r ? retry_after_parse(http_response_header(r, "Retry-After"), (int64_t)time(NULL)) : 0;
}

/* ---------- backoff ---------- */

static uint64_t builtin_rand64(void *ud) {
    (void)ud;
    static uint64_t state;
    if (state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&ts;
        if (state == 0) state = 0x9E3779B97F4A7C15ull;
    }
    /* xorshift64* */
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1Dull;
}

void retry_policy_init(retry_policy *p) {
    memset(p, 0, sizeof *p);
    p->max_attempts = 5;
    p->base_ms = 100;
    p->cap_ms = 20000;
}

int retry_may_retry(const retry_policy *p, int attempts_made) {
    return p->max_attempts <= 0 || attempts_made < p->max_attempts;
}

uint64_t retry_backoff_ms(const retry_policy *p, int retry) {
    if (retry < 0) retry = 0;
    uint64_t limit = p->cap_ms;
    /* base * 2^retry without overflow: stop doubling once the cap is reached. */
    if (retry < 63 && p->base_ms <= (p->cap_ms >> retry)) limit = p->base_ms << retry;
    uint64_t x = (p->rand64 ? p->rand64 : builtin_rand64)(p->rand_ud);
    if (limit == UINT64_MAX) return x;
    return x % (limit + 1);
}
