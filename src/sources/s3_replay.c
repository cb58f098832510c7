#include "sources/s3_replay.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/s3.h"
#include "base/log.h"
#include "base/progress.h"
#include "base/serial.h"
#include "sources/enqueue.h"
#include "sources/s3_fetch.h"
#include "sources/trail_key.h"

#define MAX_SERIES 200000
#define MAX_LISTINGS 64
#define PREFIX_CAP (TRAIL_MAX_PREFIX + 160)
#define SAVE_INTERVAL_MS 1000
#define LINGER_MS 2000
#define RECENT_S 3600 /* a day may still receive files until this long after its end */

typedef struct src src;

typedef struct series {
    char org[TRAIL_MAX_ORG + 1];
    char account[TRAIL_ACCOUNT_LEN + 1];
    char region[TRAIL_MAX_REGION];
    int insight; /* CloudTrail-Insight/: Insights events */
    char name[TRAIL_MAX_SERIES + 1];
    checkpoint_series *cs;
} series;

/* A delimiter listing that finds series: the AWSLogs/ level, an organization, or an account. */
typedef enum { JOB_ROOT, JOB_ORG, JOB_ACCOUNT } job_kind;

typedef struct disc_job {
    src *r;
    job_kind kind;
    char org[TRAIL_MAX_ORG + 1];
    char account[TRAIL_ACCOUNT_LEN + 1];
    int insight; /* JOB_ACCOUNT: lists CloudTrail-Insight/ instead of CloudTrail/ */
    char *token;
    s3_call *call;
    struct disc_job *next;
} disc_job;

typedef struct day_task {
    src *r;
    series *s;
    int32_t day;
    char prefix[PREFIX_CAP];
    char *token; /* continuation of the listing */
    s3_call *call;
    int list_done, list_failed;
    char *keys;                /* the current page: NUL-separated keys */
    size_t keys_len, next_key; /* byte offset of the next key to hand out */
    int open;                  /* files handed out, not yet reported */
    int failed;
    uint64_t files;
    struct day_task *next;
} day_task;

struct src {
    uv_loop_t *loop;
    aws_ctx *aws;
    s3_source_options o;
    s3_source_stats *st;
    s3_fetch *fetch;
    enqueuer *enq;
    char logs_prefix[TRAIL_MAX_PREFIX + 16]; /* PREFIX + "AWSLogs/" */
    /* discovery */
    disc_job *jobs;    /* waiting */
    disc_job *running; /* in flight */
    int disc_failed, discovering;
    char(*found_accounts); /* per filter entry: seen */
    char(*found_regions);
    series *series;
    size_t nseries, series_cap;
    /* days */
    int32_t it_day;
    size_t it_series;
    int it_done;
    day_task *days, *days_tail;
    int listings;
    uint64_t days_reaped;
    /* loop */
    uv_timer_t tick;
    uv_signal_t sigterm, sigint;
    progress prog;
    int progress_on;
    serial pumping; /* pump, which completions re-enter */
    int stopped, interrupted;
    int rc;
    uint64_t pending_since_ms, last_save_ms;
};

static void pump(src *r);

/* ---------- the consumer: downloads or notifications ---------- */

static int consumer_room(src *r) { return r->fetch ? s3_fetch_room(r->fetch) : enqueuer_room(r->enq); }
static int consumer_open(src *r) { return r->fetch ? s3_fetch_open(r->fetch) : enqueuer_open(r->enq); }
static int consumer_flowing(src *r) { return r->fetch ? s3_fetch_flowing(r->fetch) : 0; }

static void consumer_start(src *r, const char *key, day_task *d) {
    if (r->fetch) s3_fetch_start(r->fetch, r->o.bucket, key, d);
    else enqueuer_add(r->enq, r->o.bucket, key, d);
}

/* Nothing more is coming for a while: send what waits in a partial batch. */
static void consumer_flush(src *r) {
    if (r->fetch) {
        if (indexer_pending_docs(r->o.ix) > 0) indexer_flush(r->o.ix);
    } else {
        enqueuer_flush(r->enq);
    }
    r->pending_since_ms = 0;
}

static void file_done(src *r, day_task *d, int ok, const char *key, const char *why) {
    d->open--;
    if (ok) {
        r->st->files_done++;
    } else {
        d->failed++;
        r->st->files_failed++;
        if (!r->interrupted && why && *why) log_warn("s3://%s/%s: %s", r->o.bucket, key, why);
    }
    pump(r);
}

static void on_fetched(void *ud, void *tag, const s3_fetch_result *res) {
    src *r = ud;
    r->st->records += res->records;
    r->st->records_failed += res->records_failed;
    r->st->bytes_in += res->bytes_in;
    r->st->bytes_json += res->bytes_json;
    r->st->control_messages += res->control_messages;
    if (res->ok && (res->outcome == INGEST_EMPTY || res->outcome == INGEST_DIGEST)) r->st->files_empty++;
    if (res->ok && res->outcome == INGEST_REFUSED) r->st->files_refused++;
    /* A download or data error was logged where it happened; only the sink's refusal is news here. */
    const char *why = res->ok || (res->error && *res->error) ? NULL : "the sink could not store some of its records";
    file_done(r, tag, res->ok, res->key, why);
}

static void on_enqueued(void *ud, void *tag, int ok, const char *why) { file_done(ud, tag, ok, "", why); }

static void wake(void *ud) { pump(ud); }

/* ---------- discovery ---------- */

static void push_job(src *r, job_kind kind, const char *org, const char *account, int insight) {
    disc_job *j = calloc(1, sizeof *j);
    if (!j) {
        log_error("out of memory while exploring the bucket");
        r->disc_failed = 1;
        return;
    }
    j->r = r;
    j->kind = kind;
    snprintf(j->org, sizeof j->org, "%s", org ? org : "");
    snprintf(j->account, sizeof j->account, "%s", account ? account : "");
    j->insight = insight;
    j->next = r->jobs;
    r->jobs = j;
}

static int wanted(const char *s, size_t n, const char *list, size_t width, int count, char *found) {
    if (count == 0) return 1;
    for (int i = 0; i < count; i++) {
        const char *item = list + (size_t)i * width;
        if (strlen(item) == n && memcmp(item, s, n) == 0) {
            found[i] = 1;
            return 1;
        }
    }
    return 0;
}

static void add_series(src *r, const disc_job *j, const char *region, size_t n) {
    if (!wanted(region, n, &r->o.regions[0][0], TRAIL_MAX_REGION, r->o.nregions, r->found_regions)) return;
    if (r->nseries == r->series_cap) {
        size_t cap = r->series_cap ? r->series_cap * 2 : 64;
        series *s = cap <= MAX_SERIES ? realloc(r->series, cap * sizeof *s) : NULL;
        if (!s) {
            log_error("more than %d trail series (accounts x regions): narrow the replay with --account/--region",
                      MAX_SERIES);
            r->disc_failed = 1;
            return;
        }
        r->series = s;
        r->series_cap = cap;
    }
    series *s = &r->series[r->nseries];
    memset(s, 0, sizeof *s);
    snprintf(s->org, sizeof s->org, "%s", j->org);
    snprintf(s->account, sizeof s->account, "%s", j->account);
    memcpy(s->region, region, n);
    s->insight = j->insight;
    trail_series_name(s->org, s->account, s->region, s->insight, s->name, sizeof s->name);
    if (r->o.cp && !(s->cs = checkpoint_series_get(r->o.cp, s->name))) {
        log_error("checkpoint: cannot track series %s", s->name);
        r->disc_failed = 1;
        return;
    }
    r->nseries++;
}

/* What one listed folder name means at the job's level. */
static void found_folder(src *r, const disc_job *j, const char *seg, size_t n) {
    if (j->kind == JOB_ACCOUNT) {
        if (trail_is_region(seg, n)) add_series(r, j, seg, n);
        return;
    }
    if (j->kind == JOB_ROOT && trail_is_org(seg, n)) {
        char org[TRAIL_MAX_ORG + 1];
        memcpy(org, seg, n);
        org[n] = '\0';
        push_job(r, JOB_ORG, org, NULL, 0);
        return;
    }
    /* an account, directly under AWSLogs/ or under an organization */
    if (!trail_is_account(seg, n)) {
        log_debug("ignoring s3://%s/%s%.*s/ (not an account or organization)", r->o.bucket, r->logs_prefix, (int)n,
                  seg);
        return;
    }
    if (!wanted(seg, n, &r->o.accounts[0][0], TRAIL_ACCOUNT_LEN + 1, r->o.naccounts, r->found_accounts)) return;
    char account[TRAIL_ACCOUNT_LEN + 1];
    memcpy(account, seg, n);
    account[n] = '\0';
    push_job(r, JOB_ACCOUNT, j->org, account, 0);
    if (r->o.insights) push_job(r, JOB_ACCOUNT, j->org, account, 1);
}

static int job_prefix(src *r, const disc_job *j, char *out, size_t cap) {
    int w;
    if (j->kind == JOB_ROOT) w = snprintf(out, cap, "%s", r->logs_prefix);
    else if (j->kind == JOB_ORG) w = snprintf(out, cap, "%s%s/", r->logs_prefix, j->org);
    else
        w = snprintf(out, cap, "%s%s%s%s/%s/", r->logs_prefix, j->org, j->org[0] ? "/" : "", j->account,
                     j->insight ? TRAIL_INSIGHT_FOLDER : TRAIL_LOG_FOLDER);
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}

static void unlink_running(src *r, disc_job *j) {
    for (disc_job **pp = &r->running; *pp; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    }
    j->next = NULL;
}

static void on_disc_list(void *ud, const s3_result *res, const s3_list_page *page) {
    disc_job *j = ud;
    src *r = j->r;
    j->call = NULL;
    r->listings--;
    r->st->list_calls++;
    unlink_running(r, j);
    if (!res->ok) {
        if (!r->interrupted) { /* a cancelled listing is no failure of the bucket */
            char where[PREFIX_CAP];
            job_prefix(r, j, where, sizeof where);
            log_error("cannot list s3://%s/%s: %s %s (status %d)", r->o.bucket, where, res->code, res->message,
                      res->status);
            r->st->list_errors++;
            r->disc_failed = 1;
        }
        free(j->token);
        free(j);
        pump(r);
        return;
    }
    for (size_t i = 0; i < page->nprefixes; i++) {
        size_t n = 0;
        const char *seg = trail_last_segment(page->prefixes[i], &n);
        if (seg) found_folder(r, j, seg, n);
    }
    free(j->token);
    j->token = NULL;
    if (page->truncated && page->next_token[0]) {
        j->token = strdup(page->next_token);
        if (!j->token) r->disc_failed = 1;
        j->next = r->jobs; /* its next page */
        r->jobs = j;
    } else {
        free(j);
    }
    pump(r);
}

static void start_disc_job(src *r) {
    disc_job *j = r->jobs;
    r->jobs = j->next;
    char prefix[PREFIX_CAP];
    if (job_prefix(r, j, prefix, sizeof prefix) != 0) {
        r->disc_failed = 1;
        free(j->token);
        free(j);
        return;
    }
    j->next = r->running;
    r->running = j;
    r->listings++;
    j->call = s3_list(r->aws, r->o.bucket, prefix, NULL, j->token, "/", 0, on_disc_list, j);
    if (!j->call) {
        r->listings--;
        unlink_running(r, j);
        log_error("cannot start listing s3://%s/%s", r->o.bucket, prefix);
        r->disc_failed = 1;
        free(j->token);
        free(j);
    }
}

static int cmp_series(const void *a, const void *b) {
    return strcmp(((const series *)a)->name, ((const series *)b)->name);
}

static void warn_unmatched(src *r) {
    for (int i = 0; i < r->o.naccounts; i++)
        if (!r->found_accounts[i])
            log_warn("account %s has no folder under s3://%s/%s", r->o.accounts[i], r->o.bucket, r->logs_prefix);
    for (int i = 0; i < r->o.nregions; i++)
        if (!r->found_regions[i])
            log_warn("region %s has no CloudTrail folder in the accounts replayed", r->o.regions[i]);
}

static void stop(src *r);

/* Discovery is over: fix the order of the series and count the days. */
static void begin_days(src *r) {
    r->discovering = 0;
    if (r->disc_failed || r->interrupted) {
        r->rc = r->interrupted && !r->disc_failed ? 1 : 2;
        stop(r);
        return;
    }
    warn_unmatched(r);
    if (r->nseries == 0) {
        log_error("no CloudTrail logs under s3://%s/%s%s", r->o.bucket, r->logs_prefix,
                  r->o.naccounts || r->o.nregions ? " for the accounts and regions asked" : "");
        r->rc = 2;
        stop(r);
        return;
    }
    qsort(r->series, r->nseries, sizeof *r->series, cmp_series);
    uint64_t span = (uint64_t)(r->o.until - r->o.since + 1);
    r->st->series = r->nseries;
    for (size_t i = 0; i < r->nseries; i++) r->st->series_insight += (uint64_t)r->series[i].insight;
    r->st->days_total = span * r->nseries;
    for (size_t i = 0; r->o.cp && i < r->nseries; i++)
        r->st->days_skipped += checkpoint_count_done(r->series[i].cs, r->o.since, r->o.until);
    char a[11], b[11];
    trail_format_day(r->o.since, a);
    trail_format_day(r->o.until, b);
    if (r->o.dated)
        log_info("s3://%s/%sYYYY/MM/DD/, %s to %s: %llu day folders, %llu already finished%s", r->o.bucket, r->o.prefix,
                 a, b, (unsigned long long)r->st->days_total, (unsigned long long)r->st->days_skipped,
                 r->o.cp ? " (checkpoint)" : "");
    else
        log_info("s3://%s/%s: %zu trail series (account x region, %llu of them Insights events), %s to %s: %llu day "
                 "partitions, %llu already finished%s",
                 r->o.bucket, r->o.prefix, r->nseries, (unsigned long long)r->st->series_insight, a, b,
                 (unsigned long long)r->st->days_total, (unsigned long long)r->st->days_skipped,
                 r->o.cp ? " (checkpoint)" : "");
    r->it_day = r->o.since;
    r->it_series = 0;
    progress_set_total(&r->prog, r->st->days_total - r->st->days_skipped);
}

/* ---------- days ---------- */

static day_task *next_day(src *r) {
    while (!r->it_done) {
        if (r->it_series >= r->nseries) {
            r->it_series = 0;
            if (++r->it_day > r->o.until) {
                r->it_done = 1;
                break;
            }
        }
        series *s = &r->series[r->it_series++];
        if (s->cs && checkpoint_is_done(s->cs, r->it_day)) continue;
        day_task *d = calloc(1, sizeof *d);
        char sp[PREFIX_CAP];
        int bad = r->o.dated
                      ? snprintf(sp, sizeof sp, "%s", r->o.prefix) >= (int)sizeof sp
                      : trail_series_prefix(r->o.prefix, s->org, s->account, s->region, s->insight, sp, sizeof sp) != 0;
        if (!d || bad || trail_day_prefix(sp, r->it_day, d->prefix, sizeof d->prefix) != 0) {
            log_error("out of memory (or a prefix too long) for the listing of %s", s->name);
            free(d);
            r->rc = 1;
            continue;
        }
        d->r = r;
        d->s = s;
        d->day = r->it_day;
        return d;
    }
    return NULL;
}

static int keys_left(const day_task *d) { return d->keys && d->next_key < d->keys_len; }
static int day_active(const day_task *d) { return !d->list_done || keys_left(d); }

/* Whether a listed object is read; the others are counted, and named at debug level. */
static int wanted_key(src *r, const s3_object_info *ob) {
    key_kind k = key_classify(ob->key, ob->key_len);
    if (memchr(ob->key, '\0', ob->key_len)) k = KEY_OTHER;
    switch (k) {
    case KEY_LOG:
    case KEY_INSIGHT: return 1;
    case KEY_FOLDER: return 0; /* a folder marker: no file */
    case KEY_DIGEST:
        r->st->digests++;
        log_debug("s3://%s/%.*s: not read: a CloudTrail digest", r->o.bucket, (int)ob->key_len, ob->key);
        return 0;
    default:
        r->st->others++;
        log_debug("s3://%s/%.*s: not read: a listing reads names with " KEY_READ_NAMES, r->o.bucket, (int)ob->key_len,
                  ob->key);
        return 0;
    }
}

static void on_day_list(void *ud, const s3_result *res, const s3_list_page *page) {
    day_task *d = ud;
    src *r = d->r;
    d->call = NULL;
    r->listings--;
    r->st->list_calls++;
    free(d->token);
    d->token = NULL;
    if (!res->ok) {
        if (!r->interrupted) {
            log_error("cannot list s3://%s/%s: %s %s (status %d); this day is not finished", r->o.bucket, d->prefix,
                      res->code, res->message, res->status);
            r->st->list_errors++;
        }
        d->list_failed = d->list_done = 1;
        pump(r);
        return;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < page->nobjects; i++) bytes += page->objects[i].key_len + 1;
    free(d->keys);
    d->keys = malloc(bytes + 1); /* never NULL on success, even for a page without keys */
    d->keys_len = d->next_key = 0;
    if (!d->keys) {
        log_error("out of memory for a page of keys of s3://%s/%s", r->o.bucket, d->prefix);
        d->list_failed = d->list_done = 1;
        pump(r);
        return;
    }
    for (size_t i = 0; i < page->nobjects; i++) {
        const s3_object_info *ob = &page->objects[i];
        if (!wanted_key(r, ob)) continue;
        memcpy(d->keys + d->keys_len, ob->key, ob->key_len);
        d->keys_len += ob->key_len;
        d->keys[d->keys_len++] = '\0';
    }
    if (page->truncated && page->next_token[0]) {
        if (!(d->token = strdup(page->next_token))) d->list_failed = d->list_done = 1;
    } else {
        d->list_done = 1;
    }
    pump(r);
}

static void start_day_list(src *r, day_task *d) {
    log_debug("listing day s3://%s/%s%s", r->o.bucket, d->prefix, d->token ? " (next page)" : "");
    r->listings++;
    d->call = s3_list(r->aws, r->o.bucket, d->prefix, NULL, d->token, NULL, 0, on_day_list, d);
    if (!d->call) {
        r->listings--;
        log_error("cannot start listing s3://%s/%s", r->o.bucket, d->prefix);
        d->list_failed = d->list_done = 1;
    }
}

static int64_t now_s(const src *r) { return r->o.now_s ? r->o.now_s : (int64_t)time(NULL); }

static void finish_day(src *r, day_task *d) {
    char day[11];
    trail_format_day(d->day, day);
    int complete = d->list_done && !d->list_failed && d->failed == 0 && !keys_left(d);
    if (!complete) {
        if (!r->interrupted) {
            r->st->days_failed++;
            log_warn("%s %s: not finished (%d of %llu file(s) failed%s); a rerun does this day again", d->s->name, day,
                     d->failed, (unsigned long long)d->files, d->list_failed ? ", listing failed" : "");
        }
    } else if (now_s(r) < ((int64_t)d->day + 1) * 86400 + RECENT_S) {
        r->st->days_open++; /* CloudTrail may still deliver files into it */
        log_info("%s %s: indexed, but not recorded as finished: the day may still receive files", d->s->name, day);
    } else {
        r->st->days_done++;
        if (r->o.cp && checkpoint_mark(r->o.cp, d->s->cs, d->day) != 0) log_error("checkpoint: out of memory");
    }
    r->days_reaped++;
    progress_update(&r->prog, r->days_reaped, r->st->records);
    free(d->token);
    free(d->keys);
    free(d);
}

/* Finished days leave the list; only here, so no callback frees a day under a loop. */
static void reap_days(src *r) {
    day_task **pp = &r->days;
    r->days_tail = NULL;
    while (*pp) {
        day_task *d = *pp;
        int settled = d->open == 0 && !d->call && (!day_active(d) || r->interrupted);
        if (settled) {
            *pp = d->next;
            finish_day(r, d);
        } else {
            r->days_tail = d;
            pp = &d->next;
        }
    }
}

static void pump_days(src *r) {
    int active = 0;
    for (day_task *d = r->days; d; d = d->next) active += day_active(d);
    while (!r->interrupted && active < r->o.listings) {
        day_task *d = next_day(r);
        if (!d) break;
        if (r->days_tail) r->days_tail->next = d;
        else r->days = d;
        r->days_tail = d;
        active++;
    }
    for (day_task *d = r->days; d && !r->interrupted; d = d->next) {
        if (r->listings >= r->o.listings) break;
        if (!d->list_done && !d->call && !keys_left(d)) start_day_list(r, d);
    }
    /* Oldest day first, so days finish roughly in order. */
    int waiting = 0;
    for (day_task *d = r->days; d && !r->interrupted; d = d->next) {
        while (keys_left(d) && consumer_room(r) > 0) {
            const char *key = d->keys + d->next_key;
            d->next_key += strlen(key) + 1;
            d->open++;
            d->files++;
            r->st->files++;
            consumer_start(r, key, d);
        }
        if (keys_left(d)) waiting = 1;
        else if (d->keys) {
            free(d->keys); /* page handed out: the next one is listed on the next round */
            d->keys = NULL;
            d->keys_len = d->next_key = 0;
            if (!d->list_done) r->pumping.again = 1;
        }
    }
    /* Nothing flows: a partial batch would only wait. Send it when files are ready but have no
     * room (the open ones wait for that very batch), or nothing is ready and no listing is due;
     * while a listing may bring more, give it a moment. */
    uint64_t now = uv_now(r->loop);
    if (consumer_flowing(r) > 0) {
        r->pending_since_ms = 0;
    } else if (waiting || r->listings == 0 || r->interrupted) {
        consumer_flush(r);
    } else if (r->pending_since_ms == 0) {
        r->pending_since_ms = now;
    } else if (now - r->pending_since_ms >= LINGER_MS) {
        consumer_flush(r);
    }
    reap_days(r);
    if (r->it_done && !r->days && consumer_open(r) == 0) stop(r);
    if (r->interrupted && !r->days && consumer_open(r) == 0 && r->listings == 0) stop(r);
}

/* ---------- the pump, timers and signals ---------- */

/* Dated mode has nothing to discover: one series, the prefix's day folders. */
static void use_dated_series(src *r) {
    r->series = calloc(1, sizeof *r->series);
    if (!r->series) {
        log_error("out of memory");
        r->disc_failed = 1;
        return;
    }
    series *s = &r->series[0];
    snprintf(s->name, sizeof s->name, "%s", TRAIL_DATED_SERIES);
    if (r->o.cp && !(s->cs = checkpoint_series_get(r->o.cp, s->name))) {
        log_error("checkpoint: cannot track the day folders");
        r->disc_failed = 1;
        return;
    }
    r->nseries = 1;
}

static void pump_once(void *ud) {
    src *r = ud;
    if (r->stopped) return;
    if (r->discovering && r->o.dated) {
        use_dated_series(r);
        begin_days(r);
        if (r->stopped) return;
    }
    if (r->discovering) {
        while (r->jobs && r->listings < r->o.listings && !r->interrupted && !r->disc_failed) start_disc_job(r);
        if (r->listings == 0 && (!r->jobs || r->interrupted || r->disc_failed)) begin_days(r);
        if (r->discovering || r->stopped) return;
    }
    pump_days(r);
}

static void pump(src *r) { serial_run(&r->pumping, pump_once, r, &r->stopped); }

static void save_checkpoint(src *r) {
    if (!r->o.cp) return;
    char why[512];
    if (checkpoint_save(r->o.cp, r->o.checkpoint_path, why, sizeof why) != 0) {
        if (!r->st->checkpoint_failed) log_error("checkpoint not saved: %s", why);
        r->st->checkpoint_failed = 1;
    } else {
        r->st->checkpoint_failed = 0;
    }
    r->last_save_ms = uv_now(r->loop);
}

static void on_tick(uv_timer_t *t) {
    src *r = t->data;
    if (r->o.cp && checkpoint_dirty(r->o.cp) && uv_now(r->loop) - r->last_save_ms >= SAVE_INTERVAL_MS)
        save_checkpoint(r);
    pump(r);
}

static void stop(src *r) {
    if (r->stopped) return;
    r->stopped = 1;
    uv_timer_stop(&r->tick);
    uv_signal_stop(&r->sigterm);
    uv_signal_stop(&r->sigint);
}

static void on_signal(uv_signal_t *h, int signum) {
    src *r = h->data;
    if (r->interrupted) {
        log_warn("second signal: saving the checkpoint and exiting now");
        r->st->forced = 1;
        stop(r);
        return;
    }
    r->interrupted = 1;
    r->st->interrupted = 1;
    log_info("%s: stopping (the records already read are being stored, then the checkpoint is saved)",
             signum == SIGTERM ? "SIGTERM" : "SIGINT");
    for (disc_job *j = r->running; j; j = j->next)
        if (j->call) s3_call_cancel(j->call);
    for (day_task *d = r->days; d; d = d->next)
        if (d->call) s3_call_cancel(d->call);
    if (r->fetch) s3_fetch_cancel(r->fetch);
    pump(r);
}

int s3_source_run(uv_loop_t *loop, aws_ctx *aws, const s3_source_options *o, s3_source_stats *st) {
    src r;
    memset(&r, 0, sizeof r);
    memset(st, 0, sizeof *st);
    r.loop = loop;
    r.aws = aws;
    r.o = *o;
    r.st = st;
    if (r.o.listings < 1) r.o.listings = 8;
    if (r.o.listings > MAX_LISTINGS) r.o.listings = MAX_LISTINGS;
    r.discovering = 1;
    int rc = 2;
    if (trail_logs_prefix(r.o.prefix, r.logs_prefix, sizeof r.logs_prefix) != 0) goto out;
    r.found_accounts = calloc((size_t)r.o.naccounts + 1, 1);
    r.found_regions = calloc((size_t)r.o.nregions + 1, 1);
    if (!r.found_accounts || !r.found_regions) goto out;
    if (r.o.enqueue_url) {
        r.enq = enqueuer_new(aws, r.o.enqueue_url, 4, on_enqueued, wake, &r);
    } else {
        s3_fetch_options fo;
        s3_fetch_options_default(&fo);
        if (r.o.downloads > 0) fo.downloads = r.o.downloads;
        if (r.o.max_record) fo.max_record = r.o.max_record;
        r.fetch = s3_fetch_new(aws, r.o.ix, &fo, on_fetched, wake, &r);
    }
    if (!r.enq && !r.fetch) goto out;
    if (!r.o.dated) push_job(&r, JOB_ROOT, NULL, NULL, 0);
    progress_init(&r.prog, loop, r.o.progress, "days", 0);
    r.progress_on = 1;
    uv_timer_init(loop, &r.tick);
    r.tick.data = &r;
    uv_signal_init(loop, &r.sigterm);
    uv_signal_init(loop, &r.sigint);
    r.sigterm.data = r.sigint.data = &r;
    uv_signal_start(&r.sigterm, on_signal, SIGTERM);
    uv_signal_start(&r.sigint, on_signal, SIGINT);
    r.last_save_ms = uv_now(loop);
    uv_timer_start(&r.tick, on_tick, 200, 200);
    pump(&r);
    while (!r.stopped && uv_run(loop, UV_RUN_ONCE)) {}
    progress_stop(&r.prog);
    save_checkpoint(&r);
    uv_close((uv_handle_t *)&r.tick, NULL);
    uv_close((uv_handle_t *)&r.sigterm, NULL);
    uv_close((uv_handle_t *)&r.sigint, NULL);
    if (!st->forced) uv_run(loop, UV_RUN_NOWAIT);
    rc = r.rc;
    if (st->others)
        log_warn("%llu listed object(s) not read: a listing reads names with " KEY_READ_NAMES " (--verbose names them)",
                 (unsigned long long)st->others);
    if (rc == 0 && (st->interrupted || st->days_failed || st->checkpoint_failed || st->files_refused || st->others ||
                    st->days_done + st->days_open + st->days_skipped < st->days_total))
        rc = 1;
out:
    if (!st->forced) {
        /* A forced stop leaves work in flight: the process exits without freeing it. */
        while (r.jobs) {
            disc_job *j = r.jobs;
            r.jobs = j->next;
            free(j->token);
            free(j);
        }
        s3_fetch_free(r.fetch);
        enqueuer_free(r.enq);
        free(r.series);
    }
    free(r.found_accounts);
    free(r.found_regions);
    return rc;
}
