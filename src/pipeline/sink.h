/* A sink takes finished batches and reports, asynchronously, when each is safely stored.
 * "Done" means every document of the batch is either accepted by the service or preserved in
 * the dead-letter file: only then may the records' sources be acknowledged. */
#ifndef CTINDEX_SINK_H
#define CTINDEX_SINK_H

#include <stdint.h>

struct batch;
typedef struct sink sink;

/* Called exactly once per submitted batch. ok == 0 means the batch could not be stored at all
 * (e.g. the sink gave up after its retries): its records must not be acknowledged. */
typedef void (*sink_done_fn)(void *ud, struct batch *b, int ok);

typedef struct sink_ops {
    const char *name;
    /* Take ownership of b until done is called (possibly before submit returns). */
    void (*submit)(sink *s, struct batch *b);
    /* Stop: no more submits; pending batches still complete. Frees the sink after the last one. */
    void (*close)(sink *s);
} sink_ops;

struct sink {
    const sink_ops *ops;
    sink_done_fn done;
    void *done_ud;
    int max_in_flight;      /* batches the sink wants at once */
    uint64_t dead_lettered; /* documents written to the dead-letter file */
};

static inline void sink_submit(sink *s, struct batch *b) { s->ops->submit(s, b); }
static inline void sink_close(sink *s) { s->ops->close(s); }

#endif
