/* Streaming gunzip (the only module that uses zlib or ISA-L).
 * Decides by the first two bytes: 1f 8b is gzip (concatenated members are inflated one
 * after another), anything else passes through unchanged as plain JSON. The caller owns
 * both buffers; nothing is allocated per call.
 *
 * Two inflaters sit behind the same contract: ISA-L's igzip (about 2x zlib, when built with
 * libisal-dev) and stock zlib, the fallback. gunzip_new() takes ISA-L when it is there, unless
 * the environment says CTINDEX_INFLATE=zlib. */
#ifndef CTINDEX_GUNZIP_H
#define CTINDEX_GUNZIP_H

#include <stddef.h>
#include <stdint.h>

typedef struct gunzip gunzip;

enum { GUNZIP_OK = 0, GUNZIP_ERR = -1 };

enum gunzip_backend { GUNZIP_DEFAULT = 0, GUNZIP_ZLIB = 1, GUNZIP_ISAL = 2 };

gunzip *gunzip_new(void);
/* A given inflater; NULL when this build lacks it (or out of memory). */
gunzip *gunzip_new_backend(enum gunzip_backend b);
/* 1 if this build has the inflater. */
int gunzip_backend_available(enum gunzip_backend b);
/* "zlib" or "isa-l". */
const char *gunzip_backend_name(const gunzip *g);
void gunzip_free(gunzip *g);
/* Ready for a new file (keeps the zlib state allocation). */
void gunzip_reset(gunzip *g);

/* Consume input from in[0..inlen) and write output into out[0..outcap). Sets *consumed and
 * *produced. Call again with the rest of the input while *consumed < inlen (the output was
 * full). Returns GUNZIP_OK or GUNZIP_ERR (corrupt data: see gunzip_error). Every byte counted in
 * *produced is the stream's own, also on GUNZIP_ERR (the output short of the fault may then be
 * less than zlib would give). */
int gunzip_step(gunzip *g, const uint8_t *in, size_t inlen, size_t *consumed, uint8_t *out, size_t outcap,
                size_t *produced);
/* End of input: GUNZIP_ERR if a gzip member is incomplete (truncated file). An empty file is OK. */
int gunzip_finish(gunzip *g);
/* 1 if the input was detected as gzip. */
int gunzip_is_gzip(const gunzip *g);
const char *gunzip_error(const gunzip *g);
/* Bytes of input consumed and output produced since the last reset. */
uint64_t gunzip_total_in(const gunzip *g);
uint64_t gunzip_total_out(const gunzip *g);

#endif
