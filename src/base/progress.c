#include "base/progress.h"

#include <stdio.h>
#include <unistd.h>

static void render(progress *p, int final) {
    uint64_t now = uv_now(p->timer.loop);
    double secs = (double)(now - p->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)p->records / secs : 0;
    char eta[32] = "?";
    if (p->done > 0 && p->total >= p->done) {
        double remain = secs * (double)(p->total - p->done) / (double)p->done;
        progress_format_duration(eta, sizeof eta, remain);
    }
    if (p->tty) {
        int width = 30;
        int fill = p->total ? (int)((double)width * (double)p->done / (double)p->total) : 0;
        if (fill > width) fill = width;
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %llu/%llu %s, %llu records, %.0f rec/s, ETA %s   %s", bar, (unsigned long long)p->done,
                (unsigned long long)p->total, p->unit, (unsigned long long)p->records, rate, final ? "0s" : eta,
                final ? "\n" : "");
    } else {
        fprintf(stderr, "progress: %llu/%llu %s, %llu records, %.0f rec/s, ETA %s\n", (unsigned long long)p->done,
                (unsigned long long)p->total, p->unit, (unsigned long long)p->records, rate, final ? "0s" : eta);
    }
    fflush(stderr);
}

static void on_tick(uv_timer_t *t) {
    progress *p = t->data;
    if (!p->tty) {
        uint64_t now = uv_now(t->loop);
        if (now - p->last_plain_ms < 10000) return;
        p->last_plain_ms = now;
    }
    render(p, 0);
}

void progress_init(progress *p, uv_loop_t *loop, int enabled, const char *unit, uint64_t total) {
    p->enabled = enabled;
    p->tty = isatty(STDERR_FILENO);
    p->unit = unit;
    p->total = total;
    p->done = p->records = 0;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    p->start_ms = p->last_plain_ms = uv_now(loop);
    p->active = 1;
    if (enabled) {
        uv_timer_start(&p->timer, on_tick, 1000, 1000);
        uv_unref((uv_handle_t *)&p->timer);
    }
}

void progress_set_total(progress *p, uint64_t total) { p->total = total; }

void progress_update(progress *p, uint64_t done, uint64_t records) {
    p->done = done;
    p->records = records;
}

void progress_stop(progress *p) {
    if (!p->active) return;
    p->active = 0;
    if (p->enabled && p->tty) render(p, 1);
    uv_close((uv_handle_t *)&p->timer, NULL);
}

void progress_format_duration(char *out, size_t cap, double seconds) {
    if (seconds < 0) seconds = 0;
    unsigned long s = (unsigned long)(seconds + 0.5);
    if (s >= 3600) snprintf(out, cap, "%luh%02lum", s / 3600, (s % 3600) / 60);
    else if (s >= 60) snprintf(out, cap, "%lum%02lus", s / 60, s % 60);
    else snprintf(out, cap, "%lus", s);
}
