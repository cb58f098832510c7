/* A byte buffer with a hard upper bound. It grows by doubling up to `max` and never past it,
 * so every buffer filled from input has a limit that input cannot raise. */
#ifndef CTINDEX_BUF_H
#define CTINDEX_BUF_H

#include <stddef.h>

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} buf;

void buf_init(buf *b, size_t max);
void buf_free(buf *b);
void buf_clear(buf *b);
/* Ensure room for `extra` more bytes; 0 on success, -1 when it would pass `max` or malloc fails. */
int buf_reserve(buf *b, size_t extra);
int buf_append(buf *b, const void *p, size_t n);
int buf_append_str(buf *b, const char *s);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NUL-terminates without counting the NUL in len; -1 when full. */
int buf_terminate(buf *b);

#endif
