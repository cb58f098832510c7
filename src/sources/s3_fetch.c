#include "sources/s3_fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/s3.h"
#include "base/log.h"
#include "base/serial.h"
#include "pipeline/ingest.h"

typedef struct fetch_obj {
    ingest_obj io; /* stays at this address until reported */
    s3_fetch *f;
    void *tag;
    s3_call *call;
    int paused;        /* the transfer is paused until the indexer has room */
    int download_done; /* the transfer ended while input was still kept back */
    int on_stalled, cancel_asked;
    int status;           /* ingest's verdict, kept until the object is reported */
    const char *fail_why; /* the download could not start (reported without ingest) */
    struct fetch_obj *stall_next;
    struct fetch_obj *next_report; /* finished, waiting to be reported from the loop */
    struct fetch_obj *prev, *next; /* objects whose input has not ended */
    char *key;
    char bucket[S3_MAX_BUCKET + 1];
} fetch_obj;

struct s3_fetch {
    aws_ctx *aws;
    indexer *ix;
    s3_fetch_options o;
    s3_fetch_done_fn done;
    void (*wake)(void *ud);
    void *ud;
    ingest_pipe **pipes;
    int npipes_free;
    int open;
    int cancelling;
    serial space;       /* on_space must not nest (see on_space) */
    fetch_obj *flowing; /* list head */
    int nflowing;
    fetch_obj *stalled; /* waiting for the indexer, oldest first */
    /* Objects are reported from this timer only: never inside s3_fetch_start or
     * s3_fetch_cancel, whatever made them finish. */
    uv_timer_t kick;
    fetch_obj *report_head, *report_tail;
};

void s3_fetch_options_default(s3_fetch_options *o) {
    memset(o, 0, sizeof *o);
    o->downloads = 8;
    o->max_open = 512;
    o->max_record = 2u << 20;
}

static void wake(s3_fetch *f) {
    if (f->wake) f->wake(f->ud);
}

static void unlink_flowing(s3_fetch *f, fetch_obj *o) {
    if (o->prev) o->prev->next = o->next;
    else f->flowing = o->next;
    if (o->next) o->next->prev = o->prev;
    o->prev = o->next = NULL;
    f->nflowing--;
}

static void remove_stalled(s3_fetch *f, fetch_obj *o) {
    if (!o->on_stalled) return;
    for (fetch_obj **pp = &f->stalled; *pp; pp = &(*pp)->stall_next) {
        if (*pp == o) {
            *pp = o->stall_next;
            break;
        }
    }
    o->on_stalled = 0;
    o->stall_next = NULL;
}

static void add_stalled(s3_fetch *f, fetch_obj *o) {
    if (o->on_stalled) return;
    o->on_stalled = 1;
    fetch_obj **pp = &f->stalled;
    while (*pp) pp = &(*pp)->stall_next;
    *pp = o;
}

static void report(s3_fetch *f, fetch_obj *o) {
    ingest_obj *io = &o->io;
    s3_fetch_result r = {
        .bucket = o->bucket,
        .key = o->key,
        .ok = !o->fail_why && o->status == 0,
        .outcome = o->fail_why ? INGEST_FAILED : io->outcome,
        .error = o->fail_why ? o->fail_why
                 : io->error ? io->errmsg
                             : "",
        .records = o->fail_why ? 0 : io->records,
        .records_failed = o->fail_why ? 0 : io->failed,
        .bytes_in = o->fail_why ? 0 : io->bytes_in,
        .bytes_json = o->fail_why ? 0 : io->bytes_out,
        .control_messages = o->fail_why ? 0 : io->control_messages,
    };
    f->open--;
    f->done(f->ud, o->tag, &r);
    ingest_obj_free(&o->io);
    free(o->key);
    free(o);
}

static void on_kick(uv_timer_t *t) {
    s3_fetch *f = t->data;
    fetch_obj *o = f->report_head;
    f->report_head = f->report_tail = NULL;
    while (o) {
        fetch_obj *next = o->next_report;
        report(f, o);
        o = next;
    }
    wake(f);
}

static void report_later(s3_fetch *f, fetch_obj *o) {
    o->next_report = NULL;
    if (f->report_tail) f->report_tail->next_report = o;
    else f->report_head = o;
    f->report_tail = o;
    uv_timer_start(&f->kick, on_kick, 0, 0);
}

static void on_obj_done(ingest_obj *io, int status, void *ud) {
    (void)io;
    fetch_obj *o = ud;
    o->status = status;
    report_later(o->f, o);
}

/* The object's input is over (complete, failed or cancelled): give its pipe back. */
static void end_input(fetch_obj *o, const char *abort_why) {
    s3_fetch *f = o->f;
    remove_stalled(f, o);
    unlink_flowing(f, o);
    ingest_pipe *p = NULL;
    if (abort_why) ingest_abort(&o->io, abort_why, &p);
    else ingest_end(&o->io, &p); /* may queue the object's report */
    if (p) f->pipes[f->npipes_free++] = p;
}

static int on_data(void *ud, const char *p, size_t n) {
    fetch_obj *o = ud;
    if (o->io.stalled) {
        o->paused = 1;
        return HTTP_PAUSE;
    }
    int rc = ingest_feed(&o->io, (const uint8_t *)p, n);
    if (rc == INGEST_FULL) add_stalled(o->f, o); /* the bytes were kept: consumed */
    return rc == INGEST_ERR ? -1 : 0;
}

static void on_get_done(void *ud, const s3_result *r) {
    fetch_obj *o = ud;
    s3_fetch *f = o->f;
    o->call = NULL;
    if (!r->ok && !o->io.error) {
        char why[700];
        snprintf(why, sizeof why, "download failed: %s %s (status %d)", r->code, r->message, r->status);
        end_input(o, why);
    } else if (o->io.stalled && !o->io.error) {
        o->download_done = 1; /* finish once the kept input has been indexed */
        return;
    } else {
        end_input(o, NULL);
    }
    wake(f);
}

static void resume_stalled(void *ud) {
    s3_fetch *f = ud;
    while (f->stalled && !f->cancelling) {
        fetch_obj *o = f->stalled;
        if (ingest_resume(&o->io) == INGEST_FULL) break;
        remove_stalled(f, o);
        if (o->download_done) {
            end_input(o, NULL);
        } else if (o->paused) {
            o->paused = 0;
            if (o->call) s3_call_resume(o->call);
        }
    }
}

static void on_space(void *ud) {
    s3_fetch *f = ud;
    /* Sinks complete from the loop (pipeline/sink.h), so this should never nest inside
     * ingest_resume; if a sink broke that rule, the outer call would go on instead of
     * re-entering the splitter that is calling out, and wake the owner once. */
    int outer = !f->space.running;
    serial_run(&f->space, resume_stalled, f, &f->cancelling);
    if (outer) wake(f);
}

s3_fetch *s3_fetch_new(aws_ctx *aws, indexer *ix, const s3_fetch_options *o, s3_fetch_done_fn done,
                       void (*wake_fn)(void *ud), void *ud) {
    s3_fetch *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    uv_timer_init(aws_ctx_loop(aws), &f->kick);
    f->kick.data = f;
    f->aws = aws;
    f->ix = ix;
    f->o = *o;
    if (f->o.downloads < 1) f->o.downloads = 1;
    if (f->o.max_open < f->o.downloads) f->o.max_open = f->o.downloads;
    f->done = done;
    f->wake = wake_fn;
    f->ud = ud;
    f->pipes = calloc((size_t)f->o.downloads, sizeof *f->pipes);
    if (!f->pipes) goto fail;
    for (int i = 0; i < f->o.downloads; i++) {
        ingest_pipe *p = ingest_pipe_new(f->o.max_record);
        if (!p) goto fail;
        f->pipes[f->npipes_free++] = p;
    }
    indexer_on_space(ix, on_space, f);
    return f;
fail:
    log_error("s3 downloads: cannot allocate their buffers");
    s3_fetch_free(f);
    return NULL;
}

static void on_closed(uv_handle_t *h) { free(h->data); }

void s3_fetch_free(s3_fetch *f) {
    if (!f) return;
    if (f->open) log_error("s3 downloads: freed with %d object(s) open", f->open);
    if (f->pipes && f->ix) indexer_on_space(f->ix, NULL, NULL);
    for (int i = 0; f->pipes && i < f->npipes_free; i++) ingest_pipe_free(f->pipes[i]);
    free(f->pipes);
    f->pipes = NULL;
    uv_close((uv_handle_t *)&f->kick, on_closed);
}

int s3_fetch_room(const s3_fetch *f) {
    if (f->cancelling) return 0;
    int by_open = f->o.max_open - f->open;
    return f->npipes_free < by_open ? f->npipes_free : by_open;
}

void s3_fetch_start(s3_fetch *f, const char *bucket, const char *key, void *tag) {
    size_t bl = strlen(bucket);
    fetch_obj *o = calloc(1, sizeof *o);
    char *k = strdup(key);
    if (!o || !k) {
        /* Without the object nothing can report it from the loop; nothing was read yet. */
        log_error("s3 downloads: out of memory");
        abort();
    }
    snprintf(o->bucket, sizeof o->bucket, "%s", bucket);
    o->key = k;
    o->f = f;
    o->tag = tag;
    f->open++;
    /* Report it like any failed object, so the caller's accounting stays in one place. */
    if (bl > S3_MAX_BUCKET || f->npipes_free == 0) {
        o->fail_why = "cannot start the download (bad bucket name, or no download free)";
        report_later(f, o);
        return;
    }
    o->call = s3_get(f->aws, bucket, key, on_data, on_get_done, o); /* answers from the loop */
    if (!o->call) {
        o->fail_why = "cannot start the download";
        report_later(f, o);
        return;
    }
    o->next = f->flowing;
    if (f->flowing) f->flowing->prev = o;
    f->flowing = o;
    f->nflowing++;
    char name[S3_MAX_BUCKET + S3_MAX_KEY + 8];
    snprintf(name, sizeof name, "s3://%s/%s", bucket, key);
    ingest_begin(&o->io, f->ix, f->pipes[--f->npipes_free], name, on_obj_done, o);
}

int s3_fetch_flowing(const s3_fetch *f) { return f->nflowing; }
int s3_fetch_open(const s3_fetch *f) { return f->open; }

void s3_fetch_cancel(s3_fetch *f) {
    f->cancelling = 1;
    /* A cancel can finish an object before it returns: rescan from the head each time. */
    for (;;) {
        fetch_obj *o = f->flowing;
        while (o && o->cancel_asked) o = o->next;
        if (!o) break;
        o->cancel_asked = 1;
        if (o->call) s3_call_cancel(o->call);
        else end_input(o, "cancelled"); /* download over, input still kept back */
    }
}
