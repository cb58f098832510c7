/* Where CloudTrail puts its files in a bucket, for replays that list instead of walking:
 *   [PREFIX/]AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/FILE
 * and Insights events in CloudTrail-Insight/ in place of CloudTrail/.
 * s3:// locations, calendar days as integers (so ranges are plain arithmetic), the prefixes of a
 * trail series (one account and region) and of one of its days, and what a listed folder name
 * is. Pure: no loop, no network. */
#ifndef CTINDEX_TRAIL_LAYOUT_H
#define CTINDEX_TRAIL_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define TRAIL_MAX_PREFIX 512 /* bytes of a user's key prefix; keys stay well under S3's 1024 */
#define TRAIL_MAX_ORG 40     /* "o-" and 10..32 characters */
#define TRAIL_MAX_REGION 32
#define TRAIL_ACCOUNT_LEN 12
#define TRAIL_LOG_FOLDER "CloudTrail"
#define TRAIL_INSIGHT_FOLDER "CloudTrail-Insight"
/* A series name "[o-ORG/]ACCOUNT/REGION", or "[o-ORG/]ACCOUNT/CloudTrail-Insight/REGION" for
 * the Insights events: what a checkpoint records days of. */
#define TRAIL_MAX_SERIES (TRAIL_MAX_ORG + 1 + TRAIL_ACCOUNT_LEN + 1 + sizeof TRAIL_INSIGHT_FOLDER + TRAIL_MAX_REGION)
/* The one series of a dated replay (--prefix: PREFIX/YYYY/MM/DD/..., a Firehose bucket's layout). */
#define TRAIL_DATED_SERIES "YYYY/MM/DD"
#define TRAIL_DAY_MIN 0       /* 1970-01-01 */
#define TRAIL_DAY_MAX 2932896 /* 9999-12-31 */

/* s3://BUCKET[/PREFIX]: the bucket (S3's naming rules, 3..63 characters) and the prefix, which
 * gets a trailing '/' unless empty ("s3://b/logs" and "s3://b/logs/" mean the same folder).
 * Returns 0, or -1 with why filled. */
int trail_parse_s3_url(const char *url, char *bucket, size_t bucket_cap, char *prefix, size_t prefix_cap, char *why,
                       size_t why_cap);

/* "YYYY-MM-DD" (a real calendar date, 1970..9999) to days since 1970-01-01; -1 when not one. */
int32_t trail_parse_day(const char *s);
/* The inverse: out gets "YYYY-MM-DD" (11 bytes with the NUL). */
void trail_format_day(int32_t day, char out[11]);
/* The day of an epoch time in seconds (UTC). */
int32_t trail_day_of_time(int64_t epoch_s);

/* PREFIX + "AWSLogs/" */
int trail_logs_prefix(const char *prefix, char *out, size_t cap);
/* PREFIX + "AWSLogs/[ORG/]ACCOUNT/CloudTrail/REGION/" (CloudTrail-Insight/ when insight); org may
 * be "" or NULL. 0, or -1 if it does not fit. */
int trail_series_prefix(const char *prefix, const char *org, const char *account, const char *region, int insight,
                        char *out, size_t cap);
/* series_prefix + "YYYY/MM/DD/" */
int trail_day_prefix(const char *series_prefix, int32_t day, char *out, size_t cap);
/* "[ORG/]ACCOUNT/REGION", or "[ORG/]ACCOUNT/CloudTrail-Insight/REGION" when insight */
int trail_series_name(const char *org, const char *account, const char *region, int insight, char *out, size_t cap);
/* Whether name is one trail_series_name makes, or TRAIL_DATED_SERIES. */
int trail_is_series_name(const char *name, size_t n);

/* The last folder name of a listed CommonPrefix ("a/AWSLogs/o-x1/" -> "o-x1"); NULL when the
 * prefix does not end with '/' or the name is empty. */
const char *trail_last_segment(const char *common_prefix, size_t *len);
int trail_is_account(const char *s, size_t n); /* 12 digits */
int trail_is_org(const char *s, size_t n);     /* "o-" + 10..32 of [a-z0-9] */
int trail_is_region(const char *s, size_t n);  /* e.g. us-east-1, us-gov-west-1, cn-north-1 */

/* Comma-separated lists of accounts or regions, as given on the command line, appended to
 * list (cap entries of width bytes each, *n in use; duplicates are kept once). 0, or -1 with
 * why filled when an item is malformed or the list is full. */
int trail_add_accounts(const char *arg, char (*list)[TRAIL_ACCOUNT_LEN + 1], int cap, int *n, char *why,
                       size_t why_cap);
int trail_add_regions(const char *arg, char (*list)[TRAIL_MAX_REGION], int cap, int *n, char *why, size_t why_cap);

#endif
