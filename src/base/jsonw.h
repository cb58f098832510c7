/* Writing JSON string bodies that CloudSearch (and OpenSearch) accept.
 *
 * CloudSearch rejects a whole batch when one document holds invalid UTF-8 or a character
 * that XML 1.0 forbids, *after* JSON decoding (CloudSearch Developer Guide, "Preparing your
 * data"). Allowed code points:
 * U+0009, U+000A, U+000D, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF. Everything else
 * is dropped here and counted, so callers can report it.
 *
 * Neither function writes the surrounding quotes. Neither allocates. Output never exceeds
 * `cap` bytes; bytes between the returned length and cap may be overwritten (the bulk copy
 * stores whole words); no NUL terminator is written. */
#ifndef CTINDEX_JSONW_H
#define CTINDEX_JSONW_H

#include <stddef.h>
#include <stdint.h>

#define JSONW_NO_LIMIT SIZE_MAX

enum {
    /* When `out` is full, stop at a character boundary and return what was written (with
     * stats.truncated set) instead of failing with -1. Used to trim oversized fields. */
    JSONW_TRUNCATE = 1
};

typedef struct jsonw_stats {
    size_t dropped; /* removed input units: each invalid UTF-8 byte, forbidden character or bad escape */
    size_t chars;   /* code points in the written (decoded) value */
    int truncated;  /* stopped early: max_chars reached, or out full under JSONW_TRUNCATE */
} jsonw_stats;

/* Escape raw bytes (any text: e.g. the JSON text of a whole record) as a JSON string body:
 * `"` and `\` get a backslash, TAB/LF/CR become \t \n \r, other C0 controls, invalid UTF-8
 * (overlong, surrogates, > U+10FFFF, truncated) and U+FFFE/U+FFFF are dropped.
 * At most `max_chars` code points are written (JSONW_NO_LIMIT: no limit).
 * Returns bytes written, or -1 when it does not fit in cap (unless JSONW_TRUNCATE).
 * `st` may be NULL; it is overwritten, not accumulated. */
long jsonw_escape(const char *in, size_t n, char *out, size_t cap, size_t max_chars, unsigned flags, jsonw_stats *st);

/* What jsonw_escape(in, n, out, cap, JSONW_NO_LIMIT, 0, st) writes with room enough, without
 * writing it: the length it returns, and in st (may be NULL) the same stats. For a caller that
 * must know whether a text escapes whole and clean (nothing dropped) and how long it would be, at
 * about a fifth of the cost of the escape (16 bytes a step where the text is ASCII). */
size_t jsonw_escape_len(const char *in, size_t n, jsonw_stats *st);

/* A NUL-terminated text as a JSON string body (jsonw_escape, cut to fit), NUL-terminated in out
 * (cap >= 1): for short messages such as a health status reason. Returns its length. */
size_t jsonw_text(const char *text, char *out, size_t cap);

/* Re-emit the content of a JSON string token (bytes between the quotes, still escaped) so
 * that its *decoded* value is valid: valid escapes are kept, \b \f and \u0000-\u001f (except
 * tab, LF, CR) are dropped, as are lone surrogate escapes and \uFFFE \uFFFF; surrogate pairs
 * are kept; raw bytes are validated as in jsonw_escape. A malformed escape loses its backslash.
 * Same return convention as jsonw_escape. */
long jsonw_reescape(const char *in, size_t n, char *out, size_t cap, size_t max_chars, unsigned flags, jsonw_stats *st);

/* jsonw_escape's fast paths for ASCII text, chosen at run time on x86-64: 1, a byte shuffle
 * (SSSE3); 2, a byte expand 32 bytes a step (AVX-512 VBMI2) before the shuffle. The best the CPU
 * has is on by default. enable 0 turns them off, 1 allows the shuffle only, 2 both where present,
 * -1 asks. Returns the level on (0, 1 or 2). For tests and benchmarks, which compare the paths. */
int jsonw_fast_path(int enable);

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 if p starts an invalid one.
 * Exposed for tests and the document builder's truncation. */
int jsonw_utf8_len(const unsigned char *p, size_t n);

#endif
