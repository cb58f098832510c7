/* Retry policy (pure: no I/O, no allocation): which results deserve another attempt, and how
 * long to wait before it (exponential backoff with full jitter). The caller performs the retry
 * itself, because AWS requests must be signed again for every attempt; retry_timer.h schedules
 * it on the loop. */
#ifndef CTINDEX_RETRY_H
#define CTINDEX_RETRY_H

#include <stddef.h>
#include <stdint.h>

#include "net/http.h"

typedef enum retry_verdict {
    RETRY_SUCCESS = 0, /* complete 2xx response */
    RETRY_AGAIN,       /* transient: connection trouble, timeout, 5xx, throttling */
    RETRY_FAIL         /* final: fix the request (4xx, bad URL, TLS verification, cancelled, ...) */
} retry_verdict;

/* Statuses worth retrying: 500, 502, 503, 504, 507, 509, 429 (and 408). */
int retry_status_is_retryable(int status);
/* AWS error codes for throttling and transient server trouble ("Throttling", "SlowDown",
 * "RequestTimeout", "InternalError", ...). Exact, case-sensitive match as AWS sends them. */
int retry_code_is_retryable(const char *aws_code);
int retry_code_is_throttling(const char *aws_code);
/* Transport results worth retrying: connect failures, timeouts, broken connections. */
int retry_result_is_retryable(http_result result);

/* aws_code may be NULL or "" when unknown (see retry_aws_error_code). */
retry_verdict retry_classify(http_result result, int status, const char *aws_code);
/* Convenience: extracts the AWS error code from r and classifies it. */
retry_verdict retry_classify_response(const http_response *r);

/* The AWS error code of a failed response, from the x-amzn-ErrorType / x-amzn-query-error header,
 * an XML <Code> element, or a JSON "__type"/"code" member (the part after '#').
 * Writes a NUL-terminated code into out (truncated to cap-1) and returns its length, 0 if none. */
size_t retry_aws_error_code(const http_response *r, char *out, size_t cap);

/* How long a Retry-After value asks to wait, in ms: delta-seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT", against now, epoch seconds). 0 when absent, unreadable or in
 * the past; at most 3600 s (a longer wish is not honoured). */
uint64_t retry_after_parse(const char *value, int64_t now);
/* retry_after_parse of r's Retry-After header at the current time (r may be NULL). */
uint64_t retry_after_ms(const http_response *r);

typedef struct retry_policy {
    int max_attempts;             /* attempts in all, first included; <= 0 = unlimited */
    uint64_t base_ms;             /* first retry waits up to base_ms */
    uint64_t cap_ms;              /* no wait is longer */
    uint64_t (*rand64)(void *ud); /* uniform 64-bit source; NULL = built-in xorshift */
    void *rand_ud;
} retry_policy;

/* 5 attempts, base 100 ms, cap 20 s (botocore's cap), built-in RNG. */
void retry_policy_init(retry_policy *p);
/* 1 if another attempt is allowed after `attempts_made` attempts. */
int retry_may_retry(const retry_policy *p, int attempts_made);
/* Full jitter: uniform in [0, min(cap, base * 2^retry)], retry = 0 for the first retry. */
uint64_t retry_backoff_ms(const retry_policy *p, int retry);

#endif
