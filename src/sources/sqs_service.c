#include "sources/sqs_service.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/sqs.h"
#include "base/jsonw.h"
#include "base/log.h"
#include "base/serial.h"
#include "sources/notification.h"
#include "sources/s3_fetch.h"
#include "sources/service_metrics.h"
#include "sources/trail_key.h"

#define MAX_OBJECTS_PER_MESSAGE 1000
#define NOTIFY_TOKENS 65536
/* Objects started or waiting to start, beyond which no more messages are received: a message
 * may name up to 1000 objects, and each object costs a few KB until its records are acked. */
#define MAX_OPEN_OBJECTS 2048
#define EXTEND_RETRY_MS 5000   /* a failed visibility extension is tried again this soon */
#define GIVE_BACK_WAIT_MS 5000 /* after the drain timeout: time for the give-back calls */
#define RECEIVE_FAILING 3      /* failed receives in a row after which health says so */

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
    char *receipt;               /* the newest one: SQS deletes only with the latest receipt handle */
    char id[128];
    int receive_count;
    int nobjs, done, failed;
    int released;           /* objects given back unstarted (stopping) */
    uint64_t extend_due_ms; /* when its visibility must be extended next */
    int64_t sent_ms;        /* SentTimestamp (epoch ms), 0 when absent */
    uint64_t received_ms;   /* loop time it was received */
} svc_msg;

/* A ChangeMessageVisibilityBatch that extends work in progress: on failure the same messages
 * are tried again soon instead of at the next half-timeout, when they may be visible already. */
typedef struct vis_call {
    svc *s;
    int n;
    char ids[SQS_MAX_BATCH][128];
} vis_call;

typedef struct recv_slot {
    svc *s;
    sqs_call *call;
} recv_slot;

/* The GetQueueAttributes call for the redrive policy; it may answer after the service is gone
 * (s is then NULL), so it owns itself. */
typedef struct redrive_ask {
    svc *s;
} redrive_ask;

#define MAX_RECEIVERS 16

/* An object a message names, waiting for a download slot. */
typedef struct svc_obj {
    svc_msg *msg;
    struct svc_obj *next; /* pending queue */
    char bucket[NOTIFY_BUCKET_MAX];
    char key[NOTIFY_KEY_MAX];
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
    s3_fetch *fetch; /* the downloads, streamed into the indexer */
    svc_obj *pending_head, *pending_tail;
    int npending; /* objects waiting for a download slot */
    int receives; /* receive calls in flight */
    recv_slot slots[MAX_RECEIVERS];
    serial pumping;
    svc_msg *msgs;
    int nmsgs;
    /* deletes waiting to be sent, and calls in flight */
    char *del[SQS_MAX_BATCH];
    int ndel;
    int deletes_inflight;
    int visibility_inflight;
    uv_timer_t tick; /* linger, delete flush, visibility, stats */
    uv_timer_t receive_backoff;
    int backoff_active;
    uv_signal_t sigterm, sigint;
    uint64_t pending_since_ms, last_stats_ms, last_vis_ms, start_ms;
    uint64_t linger_batches; /* batches submitted when pending_since_ms was set */
    uint64_t last_stats_records;
    int empty_polls;
    int draining;
    int giving_back; /* drain timed out: in-flight messages were made visible again */
    uint64_t drain_started_ms, give_back_ms;
    int stopped;
    int rc;
    uint64_t last_receive_error_log_ms;
    int received_ok;       /* a ReceiveMessage succeeded at least once */
    int receive_streak;    /* receives failed in a row */
    char receive_why[320]; /* the last receive failure */
    int held_for_sink;     /* receiving is paused: the sink cannot take documents */
    uint64_t held_since_ms;
    sqs_redrive redrive; /* the queue's redrive policy (max_receive_count 0: none or unknown) */
    redrive_ask *redrive_ask;
};

static void pump(svc *s);

/* ---------- deletes and visibility ---------- */

static void on_delete_done(void *ud, const sqs_result *r, const sqs_entry_result *e, int n) {
    svc *s = ud;
    s->deletes_inflight--;
    if (!r->ok) {
        s->st->delete_errors += (uint64_t)n;
        log_warn("DeleteMessageBatch failed: %s %s (the messages will be delivered again; documents are keyed by "
                 "eventID, so this only repeats work)",
                 r->code, r->message);
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

static svc_msg *find_msg(svc *s, const char *id) {
    for (svc_msg *m = s->msgs; m; m = m->next)
        if (strncmp(m->id, id, sizeof m->id - 1) == 0) return m;
    return NULL;
}

static void on_visibility_done(void *ud, const sqs_result *r, const sqs_entry_result *e, int n) {
    vis_call *vc = ud;
    svc *s = vc->s;
    s->visibility_inflight--;
    int failed = 0;
    if (!r->ok) {
        failed = vc->n;
        log_warn("ChangeMessageVisibilityBatch failed: %s %s", r->code, r->message);
    } else {
        for (int i = 0; i < n; i++) {
            if (e[i].ok) continue;
            failed++;
            log_warn("visibility change failed: %s %s", e[i].code, e[i].message);
        }
    }
    s->st->visibility_errors += (uint64_t)failed;
    /* An extension that did not happen is tried again soon (a call that failed as a whole only;
     * an entry refused on its own, e.g. an outdated receipt handle, would fail the same way). */
    if (!r->ok && strcmp(r->code, "Cancelled") != 0) {
        for (int i = 0; i < vc->n; i++) {
            svc_msg *m = vc->ids[i][0] ? find_msg(s, vc->ids[i]) : NULL;
            if (m) m->extend_due_ms = uv_now(s->loop) + EXTEND_RETRY_MS;
        }
    }
    free(vc);
    pump(s);
}

/* ids (may be NULL): the messages, when a failure should bring the call back. */
static void change_visibility(svc *s, const char *const *handles, const char *const *ids, int n, int timeout_s) {
    vis_call *vc = calloc(1, sizeof *vc);
    if (!vc) {
        s->st->visibility_errors += (uint64_t)n;
        log_warn("cannot send ChangeMessageVisibilityBatch (out of memory)");
        return;
    }
    vc->s = s;
    vc->n = n;
    for (int i = 0; ids && i < n; i++) snprintf(vc->ids[i], sizeof vc->ids[i], "%s", ids[i]);
    s->visibility_inflight++;
    if (!sqs_change_visibility_batch(s->aws, s->o.queue_url, handles, n, timeout_s, on_visibility_done, vc)) {
        s->visibility_inflight--;
        s->st->visibility_errors += (uint64_t)n;
        free(vc);
        log_warn("cannot send ChangeMessageVisibilityBatch");
    }
}

/* Set the visibility of every in-flight message that is due (all of them when due_only is 0),
 * ten to a call. */
static void set_visibility_all(svc *s, uint64_t now, int due_only, int timeout_s) {
    const char *h[SQS_MAX_BATCH], *ids[SQS_MAX_BATCH];
    int n = 0;
    for (svc_msg *m = s->msgs; m; m = m->next) {
        if (due_only && now < m->extend_due_ms) continue;
        m->extend_due_ms = now + (uint64_t)s->o.visibility_s * 500;
        h[n] = m->receipt;
        ids[n++] = m->id;
        if (due_only) s->st->visibility_extensions++;
        if (n == SQS_MAX_BATCH) {
            change_visibility(s, h, ids, n, timeout_s);
            n = 0;
        }
    }
    if (n) change_visibility(s, h, ids, n, timeout_s);
}

/* Keep messages we are still working on invisible to other consumers: extended at half the
 * visibility timeout, so one failed call still leaves time to try again. */
static void extend_visibility(svc *s, uint64_t now) { set_visibility_all(s, now, 1, s->o.visibility_s); }

/* ---------- messages ---------- */

static void msg_unlink(svc *s, svc_msg *m) {
    if (m->prev) m->prev->next = m->next;
    else s->msgs = m->next;
    if (m->next) m->next->prev = m->prev;
    s->nmsgs--;
}

/* A message given back for a cause of its own (an object failed, a body that is no notification)
 * comes back until the queue's redrive policy moves it to its dead-letter queue: say when this
 * was its last receive. (A message held while the sink cannot take documents is never given
 * back: its visibility is extended instead.) */
static void note_poison(svc *s, const char *id, int receive_count) {
    if (s->redrive.max_receive_count <= 0 || receive_count < s->redrive.max_receive_count) return;
    s->st->messages_dead_lettered++;
    log_warn("message %s: receive count %d reached the queue's maxReceiveCount %d: SQS moves it to the dead-letter "
             "queue %s",
             id, receive_count, s->redrive.max_receive_count, s->redrive.dlq_arn);
}

static void msg_finish(svc_msg *m) {
    svc *s = m->s;
    msg_unlink(s, m);
    const char *h[1] = {m->receipt};
    if (m->failed) {
        /* Let the queue deliver it again soon; its redrive policy catches poison messages. */
        log_warn("message %s: %d of %d object(s) failed; it will be retried in %d s (receive count %d)", m->id,
                 m->failed, m->nobjs, s->o.retry_visibility_s, m->receive_count);
        change_visibility(s, h, NULL, 1, s->o.retry_visibility_s);
        s->st->messages_retried++;
        note_poison(s, m->id, m->receive_count);
    } else if (m->released) {
        /* Stopping before some of its objects started: another consumer may take it now. */
        change_visibility(s, h, NULL, 1, 0);
        s->st->messages_released++;
    } else {
        queue_delete(s, m->receipt); /* takes the receipt */
        m->receipt = NULL;
    }
    free(m->receipt);
    free(m);
}

/* status: 0 done, -1 failed, 1 given back unstarted */
static void msg_object_done(svc_msg *m, int status) {
    m->done++;
    if (status < 0) m->failed++;
    if (status > 0) m->released++;
    if (m->done == m->nobjs) msg_finish(m);
}

/* ---------- objects ---------- */

static void on_fetched(void *ud, void *tag, const s3_fetch_result *r) {
    svc *s = ud;
    s->st->records += r->records;
    s->st->records_failed += r->records_failed;
    s->st->bytes_in += r->bytes_in;
    s->st->bytes_json += r->bytes_json;
    s->st->control_messages += r->control_messages;
    if (r->ok) s->st->objects_done++;
    else s->st->objects_failed++;
    if (r->ok && r->outcome == INGEST_REFUSED) s->st->objects_refused++; /* named by ingest, dead-lettered */
    if (r->ok && (r->outcome == INGEST_EMPTY || r->outcome == INGEST_DIGEST)) s->st->objects_empty++;
    msg_object_done(tag, r->ok ? 0 : -1);
    pump(s);
}

static void wake(void *ud) { pump(ud); }

static int objects_open(const svc *s) { return s3_fetch_open(s->fetch); }

/* ---------- receiving ---------- */

/* The same message again while we still work on it: the visibility timeout ran out (or the
 * queue handed it out twice). Keep the work going under the newest receipt handle, the only one
 * SQS is sure to delete with. 1 when m was such a message. */
static int adopt_redelivery(svc *s, const sqs_message *m) {
    svc_msg *cur = find_msg(s, m->message_id);
    if (!cur) return 0;
    char *receipt = strdup(m->receipt_handle);
    if (receipt) {
        free(cur->receipt);
        cur->receipt = receipt;
    }
    cur->receive_count = m->receive_count;
    cur->extend_due_ms = uv_now(s->loop) + (uint64_t)s->o.visibility_s * 500; /* the receive set it anew */
    s->st->duplicates++;
    log_info("message %s received again while in progress (receive count %d): continuing with the new receipt "
             "handle",
             m->message_id, m->receive_count);
    return 1;
}

/* Room for the parser's decoded copy of a message body; -1 (logged) when out of memory. */
static int notify_scratch_fit(svc *s, const sqs_message *m) {
    if (m->body_len + 1 <= s->notify_scratch_cap) return 0;
    char *p = realloc(s->notify_scratch, m->body_len + 1);
    if (!p) {
        log_error("message %s: no memory for its %zu bytes; it will be delivered again", m->message_id, m->body_len);
        return -1;
    }
    s->notify_scratch = p;
    s->notify_scratch_cap = m->body_len + 1;
    return 0;
}

/* A message that is not a notification is never deleted: it comes back after
 * retry_visibility_s until the queue's redrive policy moves it. */
static void leave_bad_message(svc *s, const sqs_message *m, const char *why) {
    const char *h[1] = {m->receipt_handle};
    s->st->messages_bad++;
    log_warn("message %s (receive count %d) not understood: %s; left for the queue's redrive policy", m->message_id,
             m->receive_count, why);
    change_visibility(s, h, NULL, 1, s->o.retry_visibility_s);
    note_poison(s, m->message_id, m->receive_count);
}

/* A message in flight, owning receipt; NULL (logged) when out of memory. */
static svc_msg *msg_new(svc *s, const sqs_message *m, char *receipt) {
    svc_msg *msg = calloc(1, sizeof *msg);
    if (!msg) {
        log_error("message %s: out of memory; it will be delivered again", m->message_id);
        return NULL;
    }
    /* The id first: scan-build forgets every field set before a call that writes into *msg, and
     * then reports a use after free in msg_finish (it no longer knows msg->s and msg->prev). */
    snprintf(msg->id, sizeof msg->id, "%s", m->message_id);
    msg->s = s;
    msg->receipt = receipt;
    msg->receive_count = m->receive_count;
    msg->extend_due_ms = uv_now(s->loop) + (uint64_t)s->o.visibility_s * 500;
    msg->sent_ms = m->sent_timestamp;
    msg->received_ms = uv_now(s->loop);
    return msg;
}

static void msg_link(svc *s, svc_msg *msg) {
    msg->next = s->msgs;
    if (s->msgs) s->msgs->prev = msg;
    s->msgs = msg;
    s->nmsgs++;
}

/* The message's log files join the pending queue (digests and other names are skipped). An
 * object without memory counts as failed at once, so the message is retried. */
static void queue_objects(svc *s, svc_msg *msg, const notify_result *nr) {
    for (int i = 0; i < nr->n; i++) {
        const char *k = s->nobjs[i].key;
        /* A named object is read whatever its name, and judged by content; only digests (by
         * their folder) and folder markers hold nothing to read. */
        key_kind kind = key_classify(k, strlen(k));
        if (kind == KEY_DIGEST || kind == KEY_FOLDER) {
            s->st->objects_skipped++;
            log_debug("skipping s3://%s/%s (%s)", s->nobjs[i].bucket, k,
                      kind == KEY_DIGEST ? "a CloudTrail digest" : "a folder marker");
            continue;
        }
        svc_obj *o = calloc(1, sizeof *o);
        if (!o) {
            log_error("message %s: out of memory; it will be retried", msg->id);
            msg->failed++; /* counted as a failed object: the message is retried */
            continue;
        }
        o->msg = msg;
        memcpy(o->bucket, s->nobjs[i].bucket, sizeof o->bucket);
        memcpy(o->key, s->nobjs[i].key, sizeof o->key);
        if (s->pending_tail) s->pending_tail->next = o;
        else s->pending_head = o;
        s->pending_tail = o;
        s->npending++;
        msg->nobjs++;
        s->st->objects++;
    }
    msg->nobjs += msg->failed;
    msg->done = msg->failed;
}

static void handle_message(svc *s, const sqs_message *m) {
    s->st->messages++;
    if (m->receive_count > 1) {
        s->st->redelivered++;
        log_info("message %s delivered again (receive count %d)", m->message_id, m->receive_count);
    }
    if (adopt_redelivery(s, m)) return;
    if (notify_scratch_fit(s, m) != 0) return;
    notify_result nr;
    notify_parse(&s->notify_doc, m->body, m->body_len, s->notify_scratch, s->notify_scratch_cap, s->nobjs,
                 MAX_OBJECTS_PER_MESSAGE, &nr);
    if (nr.kind == NOTIFY_BAD) {
        leave_bad_message(s, m, nr.why);
        return;
    }
    char *receipt = strdup(m->receipt_handle);
    if (!receipt) {
        log_error("message %s: out of memory; it will be delivered again", m->message_id);
        return;
    }
    if (nr.kind == NOTIFY_IGNORE) {
        s->st->messages_ignored++;
        log_info("message %s: %s, deleted", m->message_id, nr.why);
        queue_delete(s, receipt);
        return;
    }
    svc_msg *msg = msg_new(s, m, receipt);
    if (!msg) {
        free(receipt);
        return;
    }
    queue_objects(s, msg, &nr);
    msg_link(s, msg);
    if (msg->done == msg->nobjs) msg_finish(msg); /* nothing to index (digests only) or all failed */
}

static void on_backoff(uv_timer_t *t) {
    svc *s = t->data;
    s->backoff_active = 0;
    pump(s);
}

/* Arrived while stopping: give it back at once (unless it is work in progress here). */
static void release_message(svc *s, const sqs_message *m) {
    s->st->messages++;
    if (adopt_redelivery(s, m)) return;
    const char *h[1] = {m->receipt_handle};
    change_visibility(s, h, NULL, 1, 0);
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
            s->receive_streak++;
            snprintf(s->receive_why, sizeof s->receive_why, "%.100s %.180s (status %d)", r->code, r->message,
                     r->status);
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
    s->received_ok = 1;
    s->receive_streak = 0;
    /* Idle means empty answers while nothing is in flight: a poll that came back empty while
     * a message was still being worked on says nothing about what that message will do. */
    if (n == 0 && s->nmsgs == 0 && objects_open(s) == 0 && !s->pending_head) s->empty_polls++;
    else s->empty_polls = 0;
    for (int i = 0; i < n; i++) {
        if (s->draining) release_message(s, &msgs[i]);
        else handle_message(s, &msgs[i]);
    }
    pump(s);
}

/* ---------- the pump ---------- */

static void start_drain(svc *s, const char *why);

static int idle(const svc *s) {
    return s->nmsgs == 0 && objects_open(s) == 0 && !s->pending_head && s->receives == 0 && s->ndel == 0 &&
           s->deletes_inflight == 0 && s->visibility_inflight == 0 && indexer_in_flight(s->ix) == 0 &&
           indexer_pending_docs(s->ix) == 0;
}

static void stop(svc *s) {
    if (s->stopped) return;
    s->stopped = 1;
    if (s->redrive_ask) s->redrive_ask->s = NULL; /* its answer finds no one */
    indexer_on_space(s->ix, NULL, NULL);
    uv_timer_stop(&s->tick);
    uv_timer_stop(&s->receive_backoff);
    uv_signal_stop(&s->sigterm);
    uv_signal_stop(&s->sigint);
}

/* ---------- the sink's condition ---------- */

/* Receiving pauses while the sink cannot take documents: what would be received could only wait,
 * and a message that waits past its visibility timeout comes back with a higher receive count
 * (and, at the queue's maxReceiveCount, goes to its dead-letter queue). The messages held keep
 * their visibility extended meanwhile. Logs each change once. */
static int watch_sink(svc *s) {
    const sink_state *ks = sink_get_state(indexer_sink(s->ix));
    /* The sink is probed with the batches it holds: once none is left (a spec's attempts=N
     * failed them), new messages must bring one, or nothing would ever tell that it is back. */
    int held = ks->condition != SINK_OK && indexer_in_flight(s->ix) > 0;
    if (held == s->held_for_sink) return held;
    uint64_t now = uv_now(s->loop);
    s->held_for_sink = held;
    if (held) {
        s->held_since_ms = now;
        s->st->receive_pauses++;
        log_warn("receiving paused: the sink is %s (%s); %d message(s) held, their visibility extended every %d s; "
                 "receiving resumes once the sink accepts documents again",
                 sink_condition_name(ks->condition), ks->why, s->nmsgs, (s->o.visibility_s + 1) / 2);
    } else {
        log_info("receiving resumed: %s (paused for %llu s)",
                 ks->condition == SINK_OK ? "the sink accepts documents again"
                                          : "no batch is left to probe the sink with",
                 (unsigned long long)((now - s->held_since_ms) / 1000));
    }
    return held;
}

static void pump_once(void *ud);

/* Completions can call pump from inside pump (a synchronous sink acknowledges at once):
 * run it again afterwards instead of nesting. */
static void pump(svc *s) { serial_run(&s->pumping, pump_once, s, &s->stopped); }

static void pump_once(void *ud) {
    svc *s = ud;
    if (s->stopped) return;
    /* Downloads first: they free messages. */
    while (s->pending_head && s3_fetch_room(s->fetch) > 0 && !s->draining) {
        svc_obj *o = s->pending_head;
        s->pending_head = o->next;
        if (!s->pending_head) s->pending_tail = NULL;
        s->npending--;
        s3_fetch_start(s->fetch, o->bucket, o->key, o->msg); /* copies what it keeps */
        free(o);
    }
    if (s->draining) {
        /* Objects not started are released: their messages become visible again. */
        while (s->pending_head) {
            svc_obj *o = s->pending_head;
            s->pending_head = o->next;
            if (!s->pending_head) s->pending_tail = NULL;
            svc_msg *m = o->msg;
            free(o);
            s->npending--;
            msg_object_done(m, 1);
        }
    }
    /* No input is flowing: a partial batch would only wait. */
    if (s3_fetch_flowing(s->fetch) == 0 && !s->pending_head && indexer_pending_docs(s->ix) > 0) indexer_flush(s->ix);
    int sink_held = watch_sink(s);
    if (!s->draining) {
        /* Bounded work in flight whatever the queue depth: messages, objects (a receive may
         * bring up to 10 messages, so room for 10 is kept per receive), batches (the indexer). */
        int room = s->o.max_messages - s->nmsgs;
        while (s->receives < s->o.receivers && room >= (s->receives + 1) * SQS_MAX_RECEIVE && !s->backoff_active &&
               !sink_held && !s->pending_head && objects_open(s) + s->npending < MAX_OPEN_OBJECTS) {
            recv_slot *slot = NULL;
            for (int i = 0; i < MAX_RECEIVERS && !slot; i++)
                if (!s->slots[i].call) slot = &s->slots[i];
            if (!slot) break;
            slot->s = s;
            s->receives++;
            slot->call =
                sqs_receive(s->aws, s->o.queue_url, SQS_MAX_RECEIVE, s->o.wait_s, s->o.visibility_s, on_receive, slot);
            if (!slot->call) {
                s->receives--;
                log_error("cannot start ReceiveMessage");
                break;
            }
        }
        if (s->o.exit_when_idle > 0 && s->empty_polls >= s->o.exit_when_idle && s->nmsgs == 0 && objects_open(s) == 0 &&
            !s->pending_head)
            start_drain(s, "the queue is empty");
    }
    if (s->draining) {
        flush_deletes(s);
        if (idle(s)) stop(s);
    }
}

/* One logfmt-style line: easy to read, and to grep or graph. */
static void print_stats(svc *s, const char *when) {
    const indexer_stats *is = indexer_get_stats(s->ix);
    const service_stats *st = s->st;
    const sink_stats *sk = sink_get_stats(indexer_sink(s->ix));
    aws_stats as;
    aws_ctx_stats(s->aws, &as);
    uint64_t now = uv_now(s->loop);
    double secs = (double)(now - s->start_ms) / 1000.0;
    double since = (double)(now - s->last_stats_ms) / 1000.0;
    uint64_t errors = st->receive_errors + st->delete_errors + st->visibility_errors + st->messages_bad +
                      st->objects_failed + is->batches_failed + sk->request_errors;
    log_info(
        "%s: messages=%llu deleted=%llu retried=%llu released=%llu bad=%llu ignored=%llu redelivered=%llu "
        "duplicates=%llu objects=%llu objects_done=%llu objects_failed=%llu objects_skipped=%llu "
        "objects_refused=%llu objects_empty=%llu control_messages=%llu records=%llu "
        "records_failed=%llu bytes_in=%llu bytes_json=%llu batches=%llu batches_failed=%llu dead_lettered=%llu "
        "retries=%llu errors=%llu upload_errors=%llu throttled=%llu visibility_extensions=%llu receive_pauses=%llu "
        "inflight_messages=%d inflight_objects=%d inflight_downloads=%d inflight_batches=%d upload_limit=%d "
        "rate=%.0f rate_now=%.0f",
        when, (unsigned long long)st->messages, (unsigned long long)st->messages_deleted,
        (unsigned long long)st->messages_retried, (unsigned long long)st->messages_released,
        (unsigned long long)st->messages_bad, (unsigned long long)st->messages_ignored,
        (unsigned long long)st->redelivered, (unsigned long long)st->duplicates, (unsigned long long)st->objects,
        (unsigned long long)st->objects_done, (unsigned long long)st->objects_failed,
        (unsigned long long)st->objects_skipped, (unsigned long long)st->objects_refused,
        (unsigned long long)st->objects_empty, (unsigned long long)st->control_messages,
        (unsigned long long)st->records, (unsigned long long)st->records_failed, (unsigned long long)st->bytes_in,
        (unsigned long long)st->bytes_json, (unsigned long long)is->batches, (unsigned long long)is->batches_failed,
        (unsigned long long)(is->bad_records + sk->dead_lettered), (unsigned long long)(sk->retries + as.retries),
        (unsigned long long)errors, (unsigned long long)sk->request_errors, (unsigned long long)sk->throttled,
        (unsigned long long)st->visibility_extensions, (unsigned long long)st->receive_pauses, s->nmsgs,
        objects_open(s) + s->npending, s3_fetch_flowing(s->fetch), indexer_in_flight(s->ix),
        sink_get_state(indexer_sink(s->ix))->limit, secs > 0 ? (double)is->records / secs : 0,
        since > 0 ? (double)(is->records - s->last_stats_records) / since : 0);
    s->last_stats_ms = now;
    s->last_stats_records = is->records;
}

/* The batch being built goes out linger_ms after its first document, even while input flows
 * slowly. A batch that went out full starts the wait anew for the next one. */
static void check_linger(svc *s, uint64_t now) {
    uint64_t submitted = indexer_get_stats(s->ix)->batches;
    if (indexer_pending_docs(s->ix) == 0) {
        s->pending_since_ms = 0;
    } else if (s->pending_since_ms == 0 || submitted != s->linger_batches) {
        s->pending_since_ms = now;
        s->linger_batches = submitted;
    } else if (now - s->pending_since_ms >= (uint64_t)s->o.linger_ms) {
        indexer_flush(s->ix);
        s->pending_since_ms = 0;
    }
}

/* The drain took too long (a sink that keeps refusing, a stuck download): make every message
 * still in progress visible again so another consumer takes it now, not after its timeout. */
static void give_back(svc *s, uint64_t now) {
    log_warn("drain timeout: giving back %d message(s) still in progress; they will be delivered again", s->nmsgs);
    s->giving_back = 1;
    s->give_back_ms = now;
    s->st->forced = 1;
    s->st->messages_released += (uint64_t)s->nmsgs;
    set_visibility_all(s, now, 0, 0);
}

static void on_tick(uv_timer_t *t) {
    svc *s = t->data;
    uint64_t now = uv_now(s->loop);
    flush_deletes(s);
    check_linger(s, now);
    if (now - s->last_vis_ms >= 1000 && !s->giving_back) {
        s->last_vis_ms = now;
        extend_visibility(s, now);
    }
    if (s->o.stats_interval_s > 0 && now - s->last_stats_ms >= (uint64_t)s->o.stats_interval_s * 1000)
        print_stats(s, "stats");
    if (s->draining && !s->giving_back && now - s->drain_started_ms > (uint64_t)s->o.drain_timeout_s * 1000)
        give_back(s, now);
    if (s->giving_back && (s->visibility_inflight == 0 || now - s->give_back_ms > GIVE_BACK_WAIT_MS)) {
        stop(s);
        return;
    }
    pump(s);
}

static void start_drain(svc *s, const char *why) {
    if (s->draining) return;
    s->draining = 1;
    s->drain_started_ms = uv_now(s->loop);
    log_info("%s: stopping (finishing %d message(s), %d object(s) in flight)", why, s->nmsgs, objects_open(s));
    /* Long polls could hold the exit for up to 20 s: stop them. A message SQS had already picked
     * for a cancelled poll is not lost: it stays invisible for its visibility timeout, then is
     * delivered again (to the next run). Waiting for the polls instead would delay every stop. */
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

/* ---------- the queue's redrive policy ---------- */

static void on_redrive(void *ud, const sqs_result *r, const sqs_redrive *policy) {
    redrive_ask *ask = ud;
    svc *s = ask->s;
    free(ask);
    if (!s) return;
    s->redrive_ask = NULL;
    if (!r->ok) {
        log_warn("cannot read the queue's redrive policy (GetQueueAttributes: %s %s); messages given back are not "
                 "told apart when they reach the dead-letter queue (allow sqs:GetQueueAttributes to see it)",
                 r->code, r->message);
    } else if (policy->max_receive_count == 0) {
        log_warn("the queue has no redrive policy: a message that keeps failing (a corrupt or missing file) comes "
                 "back forever; give it a dead-letter queue");
    } else {
        s->redrive = *policy;
        log_info("the queue's redrive policy: after %d receives a message goes to %s", policy->max_receive_count,
                 policy->dlq_arn);
    }
}

static void ask_redrive(svc *s) {
    redrive_ask *ask = calloc(1, sizeof *ask);
    if (!ask) return;
    ask->s = s;
    s->redrive_ask = ask;
    if (!sqs_get_redrive(s->aws, s->o.queue_url, on_redrive, ask)) {
        s->redrive_ask = NULL;
        free(ask);
    }
}

/* ---------- health and metrics ---------- */

/* GET /: 200 only while work can flow. 503 before the first successful receive, while receives
 * keep failing, while the sink refuses or cannot be reached, and while stopping. */
static int svc_health(void *ud, char *out, size_t cap) {
    svc *s = ud;
    watch_sink(s); /* the sink's condition may have changed since the last pump */
    const sink *k = indexer_sink(s->ix);
    const sink_state *ks = sink_get_state(k);
    uint64_t now = uv_now(s->loop);
    const char *status = "ok";
    char reason[700] = "";
    if (s->draining) {
        status = "stopping";
        snprintf(reason, sizeof reason, "stopping: finishing the work in flight");
    } else if (ks->condition != SINK_OK) {
        status = "degraded";
        snprintf(reason, sizeof reason, "the sink is %s (for %llu s): %s; %s, %d message(s) held",
                 sink_condition_name(ks->condition), (unsigned long long)((now - ks->since_ms) / 1000), ks->why,
                 s->held_for_sink ? "receiving paused" : "receiving until a batch can probe it", s->nmsgs);
    } else if (s->receive_streak >= RECEIVE_FAILING || (!s->received_ok && s->receive_streak > 0)) {
        status = "degraded";
        snprintf(reason, sizeof reason, "ReceiveMessage keeps failing (%d in a row): %s", s->receive_streak,
                 s->receive_why);
    } else if (!s->received_ok) {
        status = "starting";
        snprintf(reason, sizeof reason, "waiting for the first successful ReceiveMessage");
    }
    char why[900];
    jsonw_text(reason, why, sizeof why);
    const service_stats *st = s->st;
    snprintf(out, cap,
             "{\"status\":\"%s\",\"reason\":\"%s\",\"sink\":\"%s\",\"sink_condition\":\"%s\",\"upload_limit\":%d,"
             "\"messages_in_flight\":%d,\"messages\":%llu,\"messages_deleted\":%llu,\"objects_done\":%llu,"
             "\"objects_failed\":%llu,\"records\":%llu,\"receive_errors\":%llu}",
             status, why, k->ops->name, sink_condition_name(ks->condition), ks->limit, s->nmsgs,
             (unsigned long long)st->messages, (unsigned long long)st->messages_deleted,
             (unsigned long long)st->objects_done, (unsigned long long)st->objects_failed,
             (unsigned long long)st->records, (unsigned long long)st->receive_errors);
    return strcmp(status, "ok") == 0 ? 200 : 503;
}

/* Seconds since the oldest message held was sent to the queue (SentTimestamp; since it was
 * received when the queue did not say). */
static double oldest_message_age_s(const svc *s) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    uint64_t now = uv_now(s->loop);
    double oldest = 0;
    for (const svc_msg *m = s->msgs; m; m = m->next) {
        int64_t age = m->sent_ms > 0 ? wall_ms - m->sent_ms : (int64_t)(now - m->received_ms);
        if (age > 0 && (double)age / 1000.0 > oldest) oldest = (double)age / 1000.0;
    }
    return oldest;
}

static int svc_metrics(void *ud, buf *out) {
    svc *s = ud;
    watch_sink(s); /* ctindex_receiving agrees with ctindex_sink_condition */
    const sink *k = indexer_sink(s->ix);
    aws_stats as;
    aws_ctx_stats(s->aws, &as);
    service_metrics_view v = {
        .svc = s->st,
        .ix = indexer_get_stats(s->ix),
        .sink_name = k->ops->name,
        .sink = sink_get_stats(k),
        .sink_state = sink_get_state(k),
        .aws = &as,
        .messages_in_flight = s->nmsgs,
        .objects_in_flight = objects_open(s) + s->npending,
        .downloads_in_flight = s3_fetch_flowing(s->fetch),
        .batches_in_flight = indexer_in_flight(s->ix),
        .oldest_message_age_s = oldest_message_age_s(s),
        .receiving = !s->draining && !s->held_for_sink,
    };
    return service_metrics_write(out, &v);
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
    if (!s.nobjs || json_doc_init(&s.notify_doc, NOTIFY_TOKENS) != JSON_OK) goto out;
    s3_fetch_options fo;
    s3_fetch_options_default(&fo);
    fo.downloads = s.o.max_objects;
    fo.max_open = MAX_OPEN_OBJECTS; /* receiving stops before this many */
    fo.max_record = s.o.max_record;
    if (!(s.fetch = s3_fetch_new(aws, ix, &fo, on_fetched, wake, &s))) goto out;
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
    health_set_provider(s.o.health, svc_health, svc_metrics, &s);
    ask_redrive(&s);
    pump(&s);
    while (!s.stopped && uv_run(loop, UV_RUN_ONCE)) {}
    health_set_provider(s.o.health, NULL, NULL, NULL); /* s is about to go */
    print_stats(&s, "final");
    rc = s.rc;
    uv_close((uv_handle_t *)&s.tick, NULL);
    uv_close((uv_handle_t *)&s.receive_backoff, NULL);
    uv_close((uv_handle_t *)&s.sigterm, NULL);
    uv_close((uv_handle_t *)&s.sigint, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
out:
    if (rc < 0) log_error("run: cannot allocate its buffers");
    /* A forced stop leaves downloads open: the process exits without freeing them. */
    if (!st->forced) s3_fetch_free(s.fetch);
    free(s.nobjs);
    free(s.notify_scratch);
    for (int i = 0; i < s.ndel; i++) free(s.del[i]);
    json_doc_free(&s.notify_doc);
    return rc;
}
