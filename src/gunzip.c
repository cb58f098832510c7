/* Streaming gunzip: the only zlib user. See gunzip.h for the contract. */
#include "gunzip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum gz_mode {
    MODE_UNDECIDED, /* no byte seen yet, or only a lone 0x1f */
    MODE_PLAIN,
    MODE_GZIP,
    MODE_ERROR,
};

enum gz_member {
    MEMBER_IN,      /* inside a gzip member: the end of input here means truncation */
    MEMBER_BETWEEN, /* a member ended; more members or zero padding may follow */
};

struct gunzip {
    z_stream z;
    int z_ready;         /* inflateInit2 succeeded once; the state is kept across files */
    enum gz_mode mode;
    enum gz_member member;
    int held_magic;      /* first chunk was the single byte 0x1f: not yet consumed by zlib */
    int seen_padding;    /* zero bytes followed the last member */
    int is_gzip;
    const Bytef *chunk_start; /* the caller's input of the current gzip step, for error offsets */
    uint64_t total_in;
    uint64_t total_out;
    char err[160];
};

gunzip *gunzip_new(void) {
    gunzip *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    /* 15 + 16: gzip wrapper only, 32 KiB window. */
    if (inflateInit2(&g->z, 15 + 16) != Z_OK) {
        free(g);
        return NULL;
    }
    g->z_ready = 1;
    gunzip_reset(g);
    return g;
}

void gunzip_free(gunzip *g) {
    if (!g) return;
    if (g->z_ready) inflateEnd(&g->z);
    free(g);
}

void gunzip_reset(gunzip *g) {
    inflateReset(&g->z);
    g->mode = MODE_UNDECIDED;
    g->member = MEMBER_IN;
    g->held_magic = 0;
    g->seen_padding = 0;
    g->is_gzip = 0;
    g->chunk_start = NULL;
    g->total_in = 0;
    g->total_out = 0;
    g->err[0] = '\0';
}

static int fail(gunzip *g, const char *what, const char *detail) {
    uint64_t at = g->total_in;
    if (g->chunk_start) at += (uint64_t)(g->z.next_in - g->chunk_start);
    snprintf(g->err, sizeof g->err, "gunzip: %s%s%s (at input byte %llu)", what, detail ? ": " : "",
             detail ? detail : "", (unsigned long long)at);
    g->mode = MODE_ERROR;
    return GUNZIP_ERR;
}

/* Inflates from the current z.next_in/avail_in into z.next_out/avail_out, going through member
 * boundaries and trailing zero padding. Returns GUNZIP_OK or GUNZIP_ERR. Stops when the input is
 * used up or the output is full. */
static int inflate_members(gunzip *g) {
    z_stream *z = &g->z;
    while (z->avail_in > 0 || (g->member == MEMBER_IN && z->avail_out > 0)) {
        if (g->member == MEMBER_BETWEEN) {
            /* Zero bytes after the last member are padding (tape/block writers add them). */
            while (z->avail_in > 0 && *z->next_in == 0) {
                z->next_in++;
                z->avail_in--;
                g->seen_padding = 1;
            }
            if (z->avail_in == 0) return GUNZIP_OK;
            if (g->seen_padding) return fail(g, "data after the trailing zero padding", NULL);
            inflateReset(z); /* a concatenated member follows */
            g->member = MEMBER_IN;
        }
        if (z->avail_out == 0) return GUNZIP_OK;
        uInt in_before = z->avail_in, out_before = z->avail_out;
        int rc = inflate(z, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            g->member = MEMBER_BETWEEN;
            continue;
        }
        if (rc == Z_BUF_ERROR || (rc == Z_OK && z->avail_in == in_before && z->avail_out == out_before))
            return GUNZIP_OK; /* needs more input (or more room): not an error while streaming */
        if (rc != Z_OK) {
            const char *what = rc == Z_NEED_DICT ? "gzip member needs a preset dictionary"
                               : rc == Z_MEM_ERROR ? "out of memory"
                                                   : "corrupt gzip data";
            return fail(g, what, z->msg);
        }
    }
    return GUNZIP_OK;
}

static int step_gzip(gunzip *g, const uint8_t *in, size_t inlen, size_t *consumed, uint8_t *out, size_t outcap,
                     size_t *produced) {
    z_stream *z = &g->z;
    /* zlib counts in uInt: feed at most 1 GiB per call so the counters cannot wrap. */
    uInt in_now = inlen > (1u << 30) ? (1u << 30) : (uInt)inlen;
    uInt out_now = outcap > (1u << 30) ? (1u << 30) : (uInt)outcap;
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = in_now;
    z->next_out = out;
    z->avail_out = out_now;
    if (g->held_magic) {
        /* The lone 0x1f from a 1-byte first chunk: give it to zlib first. */
        static const Bytef magic0 = 0x1f;
        const Bytef *saved_in = z->next_in;
        uInt saved_avail = z->avail_in;
        z->next_in = (Bytef *)(uintptr_t)&magic0;
        z->avail_in = 1;
        int rc = inflate(z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_BUF_ERROR) return fail(g, "corrupt gzip header", z->msg);
        g->held_magic = 0;
        z->next_in = (Bytef *)(uintptr_t)saved_in;
        z->avail_in = saved_avail;
    }
    g->chunk_start = in;
    int rc = inflate_members(g);
    g->chunk_start = NULL;
    *consumed = in_now - z->avail_in;
    *produced = out_now - z->avail_out;
    /* When the input runs out exactly as the output fills, zlib may still hold output for that
     * input; it comes out on the next call (with the next chunk). The end of a member never hides
     * there: zlib reads the 8-byte trailer only after writing all output, so a complete file
     * always leaves input for one more call. */
    return rc;
}

int gunzip_step(gunzip *g, const uint8_t *in, size_t inlen, size_t *consumed, uint8_t *out, size_t outcap,
                size_t *produced) {
    *consumed = 0;
    *produced = 0;
    if (g->mode == MODE_ERROR) return GUNZIP_ERR;
    if (inlen == 0 && !(g->mode == MODE_GZIP && outcap > 0)) return GUNZIP_OK;

    if (g->mode == MODE_UNDECIDED) {
        if (g->held_magic) {
            /* Previous chunk was just 0x1f: this byte decides. */
            if (inlen == 0) return GUNZIP_OK;
            if (in[0] == 0x8b) {
                g->mode = MODE_GZIP;
                g->is_gzip = 1;
            } else {
                if (outcap == 0) return GUNZIP_OK;
                g->mode = MODE_PLAIN;
                g->held_magic = 0;
                out[0] = 0x1f; /* the held byte was plain data after all */
                out++;
                outcap--;
                *produced = 1;
                g->total_out++;
            }
        } else if (in[0] == 0x1f && inlen == 1) {
            g->held_magic = 1;
            *consumed = 1;
            g->total_in++;
            return GUNZIP_OK;
        } else {
            g->is_gzip = in[0] == 0x1f && in[1] == 0x8b;
            g->mode = g->is_gzip ? MODE_GZIP : MODE_PLAIN;
        }
    }

    if (g->mode == MODE_PLAIN) {
        size_t n = inlen < outcap ? inlen : outcap;
        if (n) memcpy(out, in, n);
        *consumed = n;
        *produced += n;
        g->total_in += n;
        g->total_out += n;
        return GUNZIP_OK;
    }

    int rc = step_gzip(g, in, inlen, consumed, out, outcap, produced);
    g->total_in += *consumed;
    g->total_out += *produced;
    return rc;
}

int gunzip_finish(gunzip *g) {
    switch (g->mode) {
    case MODE_ERROR:
        return GUNZIP_ERR;
    case MODE_PLAIN:
        return GUNZIP_OK;
    case MODE_UNDECIDED:
        if (g->held_magic) return fail(g, "truncated gzip file (1 byte)", NULL);
        return GUNZIP_OK; /* empty file */
    case MODE_GZIP:
        if (g->member == MEMBER_IN) {
            char detail[64];
            snprintf(detail, sizeof detail, "%llu bytes inflated", (unsigned long long)g->total_out);
            return fail(g, "truncated gzip member", detail);
        }
        return GUNZIP_OK;
    }
    return GUNZIP_ERR;
}

int gunzip_is_gzip(const gunzip *g) { return g->is_gzip; }

const char *gunzip_error(const gunzip *g) { return g->err[0] ? g->err : "no error"; }
uint64_t gunzip_total_in(const gunzip *g) { return g->total_in; }
uint64_t gunzip_total_out(const gunzip *g) { return g->total_out; }
