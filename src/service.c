#include "service.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "keys.h"
#include "log.h"
#include "notify.h"
#include "s3.h"
#include "sqs.h"

#define MAX_OBJECTS_PER_MESSAGE 1000
#define NOTIFY_TOKENS 65536

void service_options_default(service_options *o) {
    memset(o, 0, sizeof *o);
    o->receivers = 2;
    o->max_messages = 64;
    o->max_objects = 8;
    o->visibility_s = 300;
    o->retry_visibility_s = 30;
    o->wait_s = 20;
    o->linger_ms = 3000;
    o->stats_interval_s = 60;
    o->drain_timeout_s = 60;
    o->max_record = 2u << 20;
}

typedef struct svc svc;

typedef struct svc_msg {
    svc *s;
    struct svc_msg *prev, *next; /* in-flight messages */
    char *receipt;
    char id[128];
    int receive_count;
    int nobjs, done, failed;
    uint64_t last_extend_ms;
} svc_msg;

typedef struct recv_slot {
    svc *s;
    sqs_call *call;
} recv_slot;

#define MAX_RECEIVERS 16

typedef struct svc_obj {
    ingest_obj io;               /* stays at this address until done */
    svc *s;
    svc_msg *msg;
    char bucket[NOTIFY_BUCKET_MAX];
    char key[NOTIFY_KEY_MAX];
    s3_call *call;
    int paused;                  /* the download is paused (backpressure) */
    int download_done;           /* the download finished while input was still stashed */
    int on_stalled;
    struct svc_obj *next;        /* pending queue or stalled list */
} svc_obj;

struct svc {
    uv_loop_t *loop;
    aws_ctx *aws;
    indexer *ix;
    service_options o;
    service_stats *st;
    json_doc notify_doc;
    char *notify_scratch;
    size_t notify_scratch_cap;
    notify_object *nobjs;
    ingest_pipe **pipes;
    int npipes_free;
    svc_obj *pending_head, *pending_tail;
    svc_obj *stalled;
    int downloads;               /* objects with input flowing */
    int objects_open;            /* objects started and not yet done */
    int receives;                /* receive calls in flight */
    recv_slot slots[MAX_RECEIVERS];
    int in_pump, pump_again;
    svc_msg *msgs;
    int nmsgs;
    /* deletes waiting to be sent, and calls in flight */
    char *del[SQS_MAX_BATCH];
    int ndel;
    int deletes_inflight;
    int visibility_inflight;
    uv_timer_t tick;             /* linger, delete flush, visibility, stats */
    uv_timer_t receive_backoff;
    int backoff_active;
    uv_signal_t sigterm, sigint;
    uint64_t pending_since_ms, last_stats_ms, last_vis_ms, start_ms;
    int empty_polls;
    int draining;
    uint64_t drain_started_ms;
    int stopped;
    int rc;
    uint64_t last_receive_error_log_ms;
};

static void pump(svc *s);

/* ---------- deletes and visibility ---------- */

static void on_delete_done(void *ud, const sqs_result *r, const sqs_entry_result *e, int n) {
    svc *s = ud;
    s->deletes_inflight--;
    if (!r->ok) {
        s->st->delete_errors += (uint64_t)n;
        log_warn("DeleteMessageBatch failed: %s %s (the messages will be delivered again; documents are keyed by "
                 "eventID, so this only repeats work)", r->code, r->message);
    } else {
        for (int i = 0; i < n; i++) {
            if (e[i].ok) s->st->messages_deleted++;
            else {
                s->st->delete_errors++;
                log_warn("delete failed: %s %s", e[i].code, e[i].message);
            }
        }
    }
    pump(s);
}

static void flush_deletes(svc *s) {
    if (s->ndel == 0) return;
    const char *h[SQS_MAX_BATCH];
    for (int i = 0; i < s->ndel; i++) h[i] = s->del[i];
    int n = s->ndel;
    s->deletes_inflight++;
    if (!sqs_delete_batch(s->aws, s->o.queue_url, h, n, on_delete_done, s)) {
        s->deletes_inflight--;
        s->st->delete_errors += (uint64_t)n;
        log_error("cannot send DeleteMessageBatch");
    }
    for (int i = 0; i < n; i++) free(s->del[i]);
    s->ndel = 0;
}

static void queue_delete(svc *s, char *receipt) {
    s->del[s->ndel++] = receipt;
    if (s->ndel == SQS_MAX_BATCH) flush_deletes(s);
}

static void on_visibility_done(void *ud, const sqs_result *r, const sqs_entry_result *e, int n) {
    svc *s = ud;
    s->visibility_inflight--;
    if (!r->ok) log_warn("ChangeMessageVisibilityBatch failed: %s %s", r->code, r->message);
    else
        for (int i = 0; i < n; i++)
            if (!e[i].ok) log_warn("visibility change failed: %s %s", e[i].code, e[i].message);
    pump(s);
}

static void change_visibility(svc *s, const char *const *handles, int n, int timeout_s) {
    s->visibility_inflight++;
    if (!sqs_change_visibility_batch(s->aws, s->o.queue_url, handles, n, timeout_s, on_visibility_done, s)) {
        s->visibility_inflight--;
        log_warn("cannot send ChangeMessageVisibilityBatch");
    }
}

/* Keep messages we are still working on invisible to other consumers. */
static void extend_visibility(svc *s, uint64_t now) {
    const char *h[SQS_MAX_BATCH];
    int n = 0;
    uint64_t half = (uint64_t)s->o.visibility_s * 500;
    for (svc_msg *m = s->msgs; m; m = m->next) {
        if (now - m->last_extend_ms < half) continue;
        m->last_extend_ms = now;
        h[n++] = m->receipt;
        s->st->visibility_extensions++;
        if (n == SQS_MAX_BATCH) {
            change_visibility(s, h, n, s->o.visibility_s);
            n = 0;
        }
    }
    if (n) change_visibility(s, h, n, s->o.visibility_s);
}

/* ---------- messages ---------- */

static void msg_unlink(svc *s, svc_msg *m) {
    if (m->prev) m->prev->next = m->next;
    else s->msgs = m->next;
    if (m->next) m->next->prev = m->prev;
    s->nmsgs--;
}

static void msg_finish(svc_msg *m) {
    svc *s = m->s;
    msg_unlink(s, m);
    if (m->failed == 0) {
        queue_delete(s, m->receipt); /* takes the receipt */
        m->receipt = NULL;
    } else {
        /* Let the queue deliver it again soon; its redrive policy catches poison messages. */
        const char *h[1] = {m->receipt};
        log_warn("message %s: %d of %d object(s) failed; it will be retried (receive count %d)", m->id, m->failed,
                 m->nobjs, m->receive_count);
        change_visibility(s, h, 1, s->o.retry_visibility_s);
        s->st->messages_released++;
    }
    free(m->receipt);
    free(m);
}

static void msg_object_done(svc_msg *m, int ok) {
    m->done++;
    if (!ok) m->failed++;
    if (m->done == m->nobjs) msg_finish(m);
}

/* ---------- objects ---------- */

static void obj_free(svc_obj *o) {
    ingest_obj_free(&o->io);
    free(o);
}

static void on_obj_done(ingest_obj *io, int status, void *ud) {
    svc_obj *o = ud;
    svc *s = o->s;
    (void)io;
    s->objects_open--;
    s->st->records += o->io.records;
    s->st->records_failed += o->io.failed;
    s->st->bytes_in += o->io.bytes_in;
    s->st->bytes_json += o->io.bytes_out;
    if (status == 0) s->st->objects_done++;
    else s->st->objects_failed++;
    svc_msg *m = o->msg;
    obj_free(o);
    msg_object_done(m, status == 0);
    pump(s);
}

static void give_back_pipe(svc *s, ingest_pipe *p) {
    if (p) s->pipes[s->npipes_free++] = p;
}

static void finish_input(svc_obj *o) {
    svc *s = o->s;
    ingest_pipe *p = NULL;
    s->downloads--;
    ingest_end(&o->io, &p); /* may complete the object (and free it) */
    give_back_pipe(s, p);
}

static void remove_stalled(svc *s, svc_obj *o) {
    for (svc_obj **pp = &s->stalled; *pp; pp = &(*pp)->next) {
        if (*pp == o) {
            *pp = o->next;
            break;
        }
    }
    o->on_stalled = 0;
    o->next = NULL;
}

static void add_stalled(svc *s, svc_obj *o) {
    if (o->on_stalled) return;
    o->on_stalled = 1;
    o->next = NULL;
    svc_obj **pp = &s->stalled;
    while (*pp) pp = &(*pp)->next;
    *pp = o;
}

static int on_s3_data(void *ud, const char *p, size_t n) {
    svc_obj *o = ud;
    if (o->io.stalled) {
        o->paused = 1;
        return HTTP_PAUSE;
    }
    int rc = ingest_feed(&o->io, (const uint8_t *)p, n);
    if (rc == INGEST_FULL) add_stalled(o->s, o); /* the bytes were kept: consumed */
    return rc == INGEST_ERR ? -1 : 0;
}

static void on_s3_done(void *ud, const s3_result *r) {
    svc_obj *o = ud;
    svc *s = o->s;
    o->call = NULL;
    if (!r->ok && !o->io.error) {
        char why[700];
        snprintf(why, sizeof why, "download failed: %s %s (status %d)", r->code, r->message, r->status);
        if (o->on_stalled) remove_stalled(s, o);
        ingest_pipe *p = NULL;
        s->downloads--;
        ingest_abort(&o->io, why, &p);
        give_back_pipe(s, p);
    } else if (o->io.stalled && !o->io.error) {
        o->download_done = 1; /* finish when the kept input has been indexed */
    } else {
        if (o->on_stalled) remove_stalled(s, o);
        finish_input(o);
    }
    pump(s);
}

static void on_space(void *ud) {
    svc *s = ud;
    while (s->stalled) {
        svc_obj *o = s->stalled;
        int rc = ingest_resume(&o->io);
        if (rc == INGEST_FULL) break;
        remove_stalled(s, o);
        if (o->download_done) {
            finish_input(o);
        } else if (o->paused) {
            o->paused = 0;
            if (o->call) s3_call_resume(o->call);
        }
    }
    pump(s);
}

static void start_object(svc *s, svc_obj *o) {
    ingest_pipe *p = s->pipes[--s->npipes_free];
    char name[NOTIFY_BUCKET_MAX + NOTIFY_KEY_MAX + 8];
    snprintf(name, sizeof name, "s3://%s/%s", o->bucket, o->key);
    s->downloads++;
    s->objects_open++;
    ingest_begin(&o->io, s->ix, p, name, on_obj_done, o);
    o->call = s3_get(s->aws, o->bucket, o->key, on_s3_data, on_s3_done, o);
    if (!o->call) {
        ingest_pipe *back = NULL;
        s->downloads--;
        ingest_abort(&o->io, "cannot start the download", &back);
        give_back_pipe(s, back);
    }
}

/* ---------- receiving ---------- */

static void handle_message(svc *s, const sqs_message *m) {
    s->st->messages++;
    if (m->receive_count > 1) {
        s->st->redelivered++;
        log_info("message %s delivered again (receive count %d)", m->message_id, m->receive_count);
    }
    if (m->body_len + 1 > s->notify_scratch_cap) {
        char *p = realloc(s->notify_scratch, m->body_len + 1);
        if (!p) return;
        s->notify_scratch = p;
        s->notify_scratch_cap = m->body_len + 1;
    }
    notify_result nr;
    notify_parse(&s->notify_doc, m->body, m->body_len, s->notify_scratch, s->notify_scratch_cap, s->nobjs,
                 MAX_OBJECTS_PER_MESSAGE, &nr);
    if (nr.kind == NOTIFY_BAD) {
        s->st->messages_bad++;
        log_warn("message %s (receive count %d) not understood: %s; left for the queue's redrive policy",
                 m->message_id, m->receive_count, nr.why);
        return;
    }
    char *receipt = strdup(m->receipt_handle);
    if (!receipt) return;
    if (nr.kind == NOTIFY_IGNORE) {
        s->st->messages_ignored++;
        log_info("message %s: %s, deleted", m->message_id, nr.why);
        queue_delete(s, receipt);
        return;
    }
    svc_msg *msg = calloc(1, sizeof *msg);
    if (!msg) {
        free(receipt);
        return;
    }
    msg->s = s;
    msg->receipt = receipt;
    msg->receive_count = m->receive_count;
    msg->last_extend_ms = uv_now(s->loop);
    snprintf(msg->id, sizeof msg->id, "%s", m->message_id);
    for (int i = 0; i < nr.n; i++) {
        const char *k = s->nobjs[i].key;
        key_kind kind = key_classify(k, strlen(k));
        if (kind == KEY_DIGEST || kind == KEY_OTHER) {
            s->st->objects_skipped++;
            log_debug("skipping s3://%s/%s (%s)", s->nobjs[i].bucket, k, key_kind_name(kind));
            continue;
        }
        svc_obj *o = calloc(1, sizeof *o);
        if (!o) {
            msg->failed++; /* counted as a failed object: the message is retried */
            continue;
        }
        o->s = s;
        o->msg = msg;
        memcpy(o->bucket, s->nobjs[i].bucket, sizeof o->bucket);
        memcpy(o->key, s->nobjs[i].key, sizeof o->key);
        if (s->pending_tail) s->pending_tail->next = o;
        else s->pending_head = o;
        s->pending_tail = o;
        msg->nobjs++;
        s->st->objects++;
    }
    msg->nobjs += msg->failed;
    msg->done = msg->failed;
    msg->next = s->msgs;
    if (s->msgs) s->msgs->prev = msg;
    s->msgs = msg;
    s->nmsgs++;
    if (msg->done == msg->nobjs) msg_finish(msg); /* nothing to index (digests only) or all failed */
}

static void on_backoff(uv_timer_t *t) {
    svc *s = t->data;
    s->backoff_active = 0;
    pump(s);
}

static void release_message(svc *s, const sqs_message *m) {
    const char *h[1] = {m->receipt_handle};
    change_visibility(s, h, 1, 0);
    s->st->messages_released++;
}

static void on_receive(void *ud, const sqs_result *r, const sqs_message *msgs, int n) {
    recv_slot *slot = ud;
    svc *s = slot->s;
    slot->call = NULL;
    s->receives--;
    s->st->receives++;
    if (!r->ok) {
        if (strcmp(r->code, "Cancelled") != 0 && !s->draining) {
            s->st->receive_errors++;
            uint64_t now = uv_now(s->loop);
            if (now - s->last_receive_error_log_ms > 10000) {
                s->last_receive_error_log_ms = now;
                log_error("ReceiveMessage failed: %s %s (status %d); retrying", r->code, r->message, r->status);
            }
            if (!s->backoff_active) {
                s->backoff_active = 1;
                uv_timer_start(&s->receive_backoff, on_backoff, 2000, 0);
            }
        }
        pump(s);
        return;
    }
    if (n == 0) s->empty_polls++;
    else s->empty_polls = 0;
    for (int i = 0; i < n; i++) {
        if (s->draining) release_message(s, &msgs[i]); /* arrived while stopping: give it back */
        else handle_message(s, &msgs[i]);
    }
    pump(s);
}

/* ---------- the pump ---------- */

static void start_drain(svc *s, const char *why);

static int idle(const svc *s) {
    return s->nmsgs == 0 && s->objects_open == 0 && !s->pending_head && s->receives == 0 && s->ndel == 0 &&
           s->deletes_inflight == 0 && s->visibility_inflight == 0 && indexer_in_flight(s->ix) == 0 &&
           indexer_pending_docs(s->ix) == 0;
}

static void stop(svc *s) {
    if (s->stopped) return;
    s->stopped = 1;
    indexer_on_space(s->ix, NULL, NULL);
    uv_timer_stop(&s->tick);
    uv_timer_stop(&s->receive_backoff);
    uv_signal_stop(&s->sigterm);
    uv_signal_stop(&s->sigint);
}

static void pump_once(svc *s);

/* Completions can call pump from inside pump (a synchronous sink acknowledges at once):
 * run it again afterwards instead of nesting. */
static void pump(svc *s) {
    if (s->in_pump) {
        s->pump_again = 1;
        return;
    }
    s->in_pump = 1;
    do {
        s->pump_again = 0;
        pump_once(s);
    } while (s->pump_again && !s->stopped);
    s->in_pump = 0;
}

static void pump_once(svc *s) {
    if (s->stopped) return;
    /* Downloads first: they free messages. */
    while (s->pending_head && s->npipes_free > 0 && !s->draining) {
        svc_obj *o = s->pending_head;
        s->pending_head = o->next;
        if (!s->pending_head) s->pending_tail = NULL;
        o->next = NULL;
        start_object(s, o);
    }
    if (s->draining) {
        /* Objects not started are released: their messages become visible again. */
        while (s->pending_head) {
            svc_obj *o = s->pending_head;
            s->pending_head = o->next;
            if (!s->pending_head) s->pending_tail = NULL;
            svc_msg *m = o->msg;
            obj_free(o);
            msg_object_done(m, 0);
        }
    }
    /* No input is flowing: a partial batch would only wait. */
    if (s->downloads == 0 && !s->pending_head && indexer_pending_docs(s->ix) > 0) indexer_flush(s->ix);
    if (!s->draining) {
        int room = s->o.max_messages - s->nmsgs;
        while (s->receives < s->o.receivers && room >= (s->receives + 1) * SQS_MAX_RECEIVE && !s->backoff_active &&
               !s->pending_head) {
            recv_slot *slot = NULL;
            for (int i = 0; i < MAX_RECEIVERS && !slot; i++)
                if (!s->slots[i].call) slot = &s->slots[i];
            if (!slot) break;
            slot->s = s;
            s->receives++;
            slot->call = sqs_receive(s->aws, s->o.queue_url, SQS_MAX_RECEIVE, s->o.wait_s, s->o.visibility_s,
                                     on_receive, slot);
            if (!slot->call) {
                s->receives--;
                log_error("cannot start ReceiveMessage");
                break;
            }
        }
        if (s->o.exit_when_idle > 0 && s->empty_polls >= s->o.exit_when_idle && s->nmsgs == 0 &&
            s->objects_open == 0 && !s->pending_head)
            start_drain(s, "the queue is empty");
    }
    if (s->draining) {
        flush_deletes(s);
        if (idle(s)) stop(s);
    }
}

static void print_stats(svc *s, const char *when) {
    const indexer_stats *is = indexer_get_stats(s->ix);
    double secs = (double)(uv_now(s->loop) - s->start_ms) / 1000.0;
    log_info("%s: messages %llu (deleted %llu, retried %llu, bad %llu, ignored %llu), objects %llu done %llu failed "
             "%llu skipped, records %llu, %.1f MB in, %.1f MB JSON, batches %llu (%llu failed), dead-lettered %llu, "
             "in flight: %d messages %d objects %d batches, %.0f records/s",
             when, (unsigned long long)s->st->messages, (unsigned long long)s->st->messages_deleted,
             (unsigned long long)s->st->messages_released, (unsigned long long)s->st->messages_bad,
             (unsigned long long)s->st->messages_ignored, (unsigned long long)s->st->objects_done,
             (unsigned long long)s->st->objects_failed, (unsigned long long)s->st->objects_skipped,
             (unsigned long long)s->st->records, (double)s->st->bytes_in / 1e6, (double)s->st->bytes_json / 1e6,
             (unsigned long long)is->batches, (unsigned long long)is->batches_failed,
             (unsigned long long)is->bad_records, s->nmsgs, s->objects_open, indexer_in_flight(s->ix),
             secs > 0 ? (double)s->st->records / secs : 0);
}

static void on_tick(uv_timer_t *t) {
    svc *s = t->data;
    uint64_t now = uv_now(s->loop);
    flush_deletes(s);
    if (indexer_pending_docs(s->ix) > 0) {
        if (s->pending_since_ms == 0) s->pending_since_ms = now;
        else if (now - s->pending_since_ms >= (uint64_t)s->o.linger_ms) {
            indexer_flush(s->ix);
            s->pending_since_ms = 0;
        }
    } else {
        s->pending_since_ms = 0;
    }
    if (now - s->last_vis_ms >= 1000) {
        s->last_vis_ms = now;
        extend_visibility(s, now);
    }
    if (s->o.stats_interval_s > 0 && now - s->last_stats_ms >= (uint64_t)s->o.stats_interval_s * 1000) {
        s->last_stats_ms = now;
        print_stats(s, "stats");
    }
    if (s->draining && now - s->drain_started_ms > (uint64_t)s->o.drain_timeout_s * 1000) {
        log_warn("drain timeout: %d message(s) still in flight stay invisible until their visibility timeout, then "
                 "are delivered again",
                 s->nmsgs);
        s->rc = 0;
        s->st->forced = 1;
        stop(s);
        return;
    }
    pump(s);
}

static void start_drain(svc *s, const char *why) {
    if (s->draining) return;
    s->draining = 1;
    s->drain_started_ms = uv_now(s->loop);
    log_info("%s: stopping (finishing %d message(s), %d object(s) in flight)", why, s->nmsgs, s->objects_open);
    /* Long polls could hold the exit for up to 20 s: stop them. */
    for (int i = 0; i < MAX_RECEIVERS; i++)
        if (s->slots[i].call) sqs_call_cancel(s->slots[i].call);
    pump(s);
}

static void on_signal(uv_signal_t *h, int signum) {
    svc *s = h->data;
    if (s->draining) {
        log_warn("second signal: exiting now; unfinished messages will be delivered again");
        s->st->forced = 1;
        stop(s);
        return;
    }
    start_drain(s, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

int service_run(uv_loop_t *loop, aws_ctx *aws, indexer *ix, const service_options *o, service_stats *st) {
    svc s;
    memset(&s, 0, sizeof s);
    memset(st, 0, sizeof *st);
    s.loop = loop;
    s.aws = aws;
    s.ix = ix;
    s.o = *o;
    s.st = st;
    if (s.o.max_objects < 1) s.o.max_objects = 1;
    if (s.o.receivers < 1) s.o.receivers = 1;
    if (s.o.receivers > MAX_RECEIVERS) s.o.receivers = MAX_RECEIVERS;
    if (s.o.max_messages < SQS_MAX_RECEIVE) s.o.max_messages = SQS_MAX_RECEIVE;
    int rc = -1;
    s.nobjs = calloc(MAX_OBJECTS_PER_MESSAGE, sizeof *s.nobjs);
    s.pipes = calloc((size_t)s.o.max_objects, sizeof *s.pipes);
    if (!s.nobjs || !s.pipes || json_doc_init(&s.notify_doc, NOTIFY_TOKENS) != JSON_OK) goto out;
    for (int i = 0; i < s.o.max_objects; i++) {
        ingest_pipe *p = ingest_pipe_new(s.o.max_record);
        if (!p) goto out;
        s.pipes[s.npipes_free++] = p;
    }
    indexer_on_space(ix, on_space, &s);
    uv_timer_init(loop, &s.tick);
    s.tick.data = &s;
    uv_timer_init(loop, &s.receive_backoff);
    s.receive_backoff.data = &s;
    uv_signal_init(loop, &s.sigterm);
    uv_signal_init(loop, &s.sigint);
    s.sigterm.data = s.sigint.data = &s;
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    s.start_ms = s.last_stats_ms = s.last_vis_ms = uv_now(loop);
    uv_timer_start(&s.tick, on_tick, 100, 100);
    log_info("consuming %s (%d receivers, %d concurrent downloads, visibility %d s)", s.o.queue_url, s.o.receivers,
             s.o.max_objects, s.o.visibility_s);
    pump(&s);
    while (!s.stopped && uv_run(loop, UV_RUN_ONCE)) {
    }
    print_stats(&s, "final");
    rc = s.rc;
    uv_close((uv_handle_t *)&s.tick, NULL);
    uv_close((uv_handle_t *)&s.receive_backoff, NULL);
    uv_close((uv_handle_t *)&s.sigterm, NULL);
    uv_close((uv_handle_t *)&s.sigint, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
out:
    if (rc < 0) log_error("run: cannot allocate its buffers");
    for (int i = 0; i < s.npipes_free; i++) ingest_pipe_free(s.pipes[i]);
    free(s.pipes);
    free(s.nobjs);
    free(s.notify_scratch);
    for (int i = 0; i < s.ndel; i++) free(s.del[i]);
    json_doc_free(&s.notify_doc);
    return rc;
}
