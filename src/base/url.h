/* Percent-decoding, shared by everything that reads URL-encoded text: S3 event keys, S3 list
 * keys (encoding-type=url), query strings and form bodies. */
#ifndef CTINDEX_URL_H
#define CTINDEX_URL_H

#include <stddef.h>

/* Decode in[0..n) into out (NUL-terminated): %XX is a byte, '+' a space when plus_is_space. A '%'
 * not followed by two hex digits is refused. Returns the decoded length, or -1 when malformed or
 * when it does not fit in cap (the NUL included). out may be in (decoding never outruns input). */
long url_decode(const char *in, size_t n, char *out, size_t cap, int plus_is_space);

#endif
