/* Standard base64 (RFC 4648, with '=' padding): HTTP Basic authentication. */
#ifndef CTINDEX_BASE64_H
#define CTINDEX_BASE64_H

#include <stddef.h>

/* Bytes base64_encode writes for n input bytes, NUL excluded. */
static inline size_t base64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

/* Encode in[0..n) into out (NUL-terminated). Returns the length written, or -1 when out
 * cannot hold base64_encoded_len(n) + 1 bytes. */
long base64_encode(const void *in, size_t n, char *out, size_t cap);

#endif
