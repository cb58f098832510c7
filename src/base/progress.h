/* Progress on stderr for long work: a bar with rate and ETA on a terminal, a plain line every
 * 10 s otherwise (logs stay readable). Its timer never keeps the loop alive. */
#ifndef CTINDEX_PROGRESS_H
#define CTINDEX_PROGRESS_H

#include <stdint.h>
#include <uv.h>

typedef struct progress {
    uv_timer_t timer;
    int enabled, tty, active;
    const char *unit;
    uint64_t total, done, records;
    uint64_t start_ms, last_plain_ms;
} progress;

void progress_init(progress *p, uv_loop_t *loop, int enabled, const char *unit, uint64_t total);
void progress_set_total(progress *p, uint64_t total);
void progress_update(progress *p, uint64_t done, uint64_t records);
/* Prints the final state and closes the timer (run the loop once more to finish closing). */
void progress_stop(progress *p);
/* "1h02m", "3m05s", "12s" */
void progress_format_duration(char *out, size_t cap, double seconds);

#endif
