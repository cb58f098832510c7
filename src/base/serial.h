/* A function that must not run inside itself. Completions can arrive while it runs (a sink that
 * acknowledges at once, a callback made before the call that caused it returns): a call made
 * then asks for one more round instead of nesting into state the outer round is changing, and
 * the outer call runs that round when the current one ends. One thread, one loop: no locking. */
#ifndef CTINDEX_SERIAL_H
#define CTINDEX_SERIAL_H

typedef struct serial {
    int running;
    int again; /* set (also by fn itself) to ask for one more round */
} serial;

/* fn(ud) now, or once more after the current round when called from inside it. No further round
 * starts once *stop is non-zero (stop may be NULL). */
static inline void serial_run(serial *g, void (*fn)(void *ud), void *ud, const int *stop) {
    if (g->running) {
        g->again = 1;
        return;
    }
    g->running = 1;
    do {
        g->again = 0;
        fn(ud);
    } while (g->again && !(stop && *stop));
    g->running = 0;
}

#endif
