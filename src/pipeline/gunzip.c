/* Streaming gunzip: the only zlib and ISA-L user. See gunzip.h for the contract.
 *
 * The gzip framing that matters to us (detection, a 1-byte first chunk, concatenated members,
 * zero padding, truncation, error offsets) is handled here once; an inflater only has to turn
 * one member's bytes into output and say when the member ended (its trailer checked). */
#include "pipeline/gunzip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#ifdef CTINDEX_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

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

/* What one inflater call did. */
enum { INF_OK, INF_END, INF_ERR };

/* Where the gzip header parser is (ISA-L only; zlib parses its own). */
enum gz_header { H_FIXED, H_XLEN, H_EXTRA, H_NAME, H_COMMENT, H_HCRC, H_DONE };
enum { FHCRC = 2, FEXTRA = 4, FNAME = 8, FCOMMENT = 16, FRESERVED = 0xe0 };

struct gunzip {
    enum gunzip_backend backend;
    z_stream z;
    int z_ready; /* inflateInit2 succeeded once; the state is kept across files */
#ifdef CTINDEX_HAVE_ISAL
    struct inflate_state *isal; /* ~80 KB, allocated once */
#endif
    enum gz_header hstate;
    uint8_t hbuf[10]; /* the fixed header part, then XLEN / HCRC */
    uint32_t hgot, hneed;
    uLong hcrc; /* CRC-32 of the header bytes so far (FHCRC) */
    /* ISA-L reads up to 8 bytes ahead into its bit buffer and, at the end of a member, hands
     * back the ones it did not use, by moving next_in back, possibly into an earlier call's
     * input: the last bytes it was given are kept to replay them from. */
    uint8_t fed[8], replay[8];
    uint32_t nfed, nreplay;
    /* The cursor both inflaters work on (zlib counts in uInt, ISA-L in uint32_t). */
    const uint8_t *next_in;
    uint8_t *next_out;
    uint32_t avail_in, avail_out;
    const char *inf_what, *inf_msg; /* INF_ERR: what failed, and the inflater's words for it */
    enum gz_mode mode;
    enum gz_member member;
    int held_magic;   /* first chunk was the single byte 0x1f: not yet given to the inflater */
    int owed_byte;    /* the last byte of the previous step was fed but reported unconsumed */
    int seen_padding; /* zero bytes followed the last member */
    int is_gzip;
    const uint8_t *chunk_start; /* the caller's input of the current gzip step, for error offsets */
    uint64_t total_in;
    uint64_t total_out;
    char err[160];
};

/* ---- inflaters ---------------------------------------------------------------------- */

static void member_start(gunzip *g) {
#ifdef CTINDEX_HAVE_ISAL
    if (g->backend == GUNZIP_ISAL) {
        isal_inflate_reset(g->isal);
        g->isal->crc_flag = ISAL_GZIP_NO_HDR_VER; /* deflate data, then CRC-32 and ISIZE checked */
        g->hstate = H_FIXED;
        g->hgot = 0;
        g->hcrc = crc32(0, NULL, 0);
        return;
    }
#endif
    inflateReset(&g->z);
}

static int zlib_inflate(gunzip *g) {
    z_stream *z = &g->z;
    z->next_in = (Bytef *)(uintptr_t)g->next_in;
    z->avail_in = g->avail_in;
    z->next_out = g->next_out;
    z->avail_out = g->avail_out;
    int rc = inflate(z, Z_NO_FLUSH);
    g->next_in = z->next_in;
    g->avail_in = z->avail_in;
    g->next_out = z->next_out;
    g->avail_out = z->avail_out;
    if (rc == Z_STREAM_END) return INF_END;
    if (rc == Z_OK || rc == Z_BUF_ERROR) return INF_OK; /* Z_BUF_ERROR: needs input or room */
    g->inf_what = rc == Z_NEED_DICT   ? "gzip member needs a preset dictionary"
                  : rc == Z_MEM_ERROR ? "out of memory"
                                      : "corrupt gzip data";
    g->inf_msg = z->msg;
    return INF_ERR;
}

#ifdef CTINDEX_HAVE_ISAL
/* ISA-L 2.30 checks a header CRC (FHCRC) wrongly when the header arrives in more than one
 * call, so for it the header is parsed here (RFC 1952 2.3) and ISA-L gets the deflate data and
 * the trailer (ISAL_GZIP_NO_HDR_VER: it checks CRC-32 and ISIZE). Returns INF_OK (needs more
 * input), INF_END (header done) or INF_ERR. */
static int header_step(gunzip *g) {
    while (g->avail_in > 0) {
        uint8_t c = *g->next_in++;
        g->avail_in--;
        if (g->hstate != H_HCRC) g->hcrc = crc32(g->hcrc, &c, 1);
        switch (g->hstate) {
        case H_FIXED:
            g->hbuf[g->hgot++] = c;
            if (g->hgot < 10) break;
            if (g->hbuf[0] != 0x1f || g->hbuf[1] != 0x8b) goto bad_magic;
            if (g->hbuf[2] != 8) {
                g->inf_msg = "unknown compression method";
                return INF_ERR;
            }
            if (g->hbuf[3] & FRESERVED) {
                g->inf_msg = "unknown header flags set";
                return INF_ERR;
            }
            g->hgot = 0;
            g->hstate = H_XLEN;
            if (!(g->hbuf[3] & FEXTRA)) goto after_extra;
            break;
        case H_XLEN:
            g->hneed = g->hgot == 0 ? c : g->hneed | (uint32_t)c << 8;
            if (++g->hgot < 2) break;
            g->hstate = H_EXTRA;
            if (g->hneed == 0) goto after_extra;
            break;
        case H_EXTRA:
            if (--g->hneed == 0) goto after_extra;
            break;
        case H_NAME:
            if (c == 0) goto after_name;
            break;
        case H_COMMENT:
            if (c == 0) goto after_comment;
            break;
        case H_HCRC:
            g->hbuf[g->hgot++] = c;
            if (g->hgot < 2) break;
            if ((unsigned)(g->hbuf[0] | g->hbuf[1] << 8) != (g->hcrc & 0xffff)) {
                g->inf_msg = "header crc mismatch";
                return INF_ERR;
            }
            g->hstate = H_DONE;
            return INF_END;
        case H_DONE: return INF_END;
        }
        continue;
    after_extra:
        g->hstate = H_NAME;
        if (g->hbuf[3] & FNAME) continue;
    after_name:
        g->hstate = H_COMMENT;
        if (g->hbuf[3] & FCOMMENT) continue;
    after_comment:
        g->hgot = 0;
        g->hstate = H_HCRC;
        if (g->hbuf[3] & FHCRC) continue;
        g->hstate = H_DONE;
        return INF_END;
    }
    return INF_OK;
bad_magic:
    g->inf_msg = "incorrect header check";
    return INF_ERR;
}

/* zlib's words for the same faults, so messages do not depend on the inflater. */
static const char *isal_message(int rc) {
    switch (rc) {
    case ISAL_INVALID_BLOCK: return "invalid block type";
    case ISAL_INVALID_SYMBOL: return "invalid code";
    case ISAL_INVALID_LOOKBACK: return "invalid distance too far back";
    case ISAL_INVALID_WRAPPER: return "incorrect header check";
    case ISAL_UNSUPPORTED_METHOD: return "unknown compression method";
    case ISAL_INCORRECT_CHECKSUM: return "incorrect data check";
    default: return "invalid data";
    }
}

static int isal_step(gunzip *g) {
    if (g->hstate != H_DONE) {
        int h = header_step(g);
        if (h == INF_ERR) g->inf_what = "corrupt gzip data";
        if (h != INF_END) return h;
    }
    struct inflate_state *st = g->isal;
    const uint8_t *start = g->next_in;
    uint32_t given = g->avail_in;
    uint8_t *out_start = g->next_out;
    uint32_t out_given = g->avail_out;
    st->next_in = (uint8_t *)(uintptr_t)start;
    st->avail_in = given;
    st->next_out = g->next_out;
    st->avail_out = g->avail_out;
    int rc = isal_inflate(st);
    g->next_out = st->next_out;
    g->avail_out = st->avail_out;
    uint32_t left = st->avail_in, back = 0;
    if (left > given) { /* bytes handed back from before this call */
        back = left - given;
        left = given;
    }
    g->next_in = start + (given - left);
    g->avail_in = left;
    /* Remember the last 8 bytes ISA-L took, in stream order. */
    uint32_t took = given - left, keep = took < 8 ? took : 8;
    if (g->nfed + keep > 8) {
        uint32_t drop = g->nfed + keep - 8;
        memmove(g->fed, g->fed + drop, g->nfed - drop);
        g->nfed -= drop;
    }
    memcpy(g->fed + g->nfed, start + took - keep, keep);
    g->nfed += keep;
    if (rc != ISAL_DECOMP_OK) {
        /* ISA-L's fast loop moves its output cursor past a match before it checks the match's
         * distance, so a failed call ends with up to 258 bytes it never wrote: none of this
         * call's output is handed on. */
        g->next_out = out_start;
        g->avail_out = out_given;
        g->inf_what = rc == ISAL_NEED_DICT ? "gzip member needs a preset dictionary" : "corrupt gzip data";
        g->inf_msg = rc == ISAL_NEED_DICT ? NULL : isal_message(rc);
        return INF_ERR;
    }
    if (back) {
        /* took == 0 here (next_in went back past start), so fed ends with the bytes to replay. */
        if (back > g->nfed || took != 0) {
            g->inf_what = "corrupt gzip data";
            g->inf_msg = "inflater handed back more input than it was given";
            return INF_ERR;
        }
        memcpy(g->replay, g->fed + g->nfed - back, back);
        g->nreplay = back;
        g->nfed -= back;
    }
    return st->block_state == ISAL_BLOCK_FINISH ? INF_END : INF_OK;
}
#endif

static int inflate_some(gunzip *g) {
#ifdef CTINDEX_HAVE_ISAL
    if (g->backend == GUNZIP_ISAL) return isal_step(g);
#endif
    return zlib_inflate(g);
}

int gunzip_backend_available(enum gunzip_backend b) {
#ifdef CTINDEX_HAVE_ISAL
    if (b == GUNZIP_ISAL) return 1;
#endif
    return b == GUNZIP_ZLIB || b == GUNZIP_DEFAULT;
}

const char *gunzip_backend_name(const gunzip *g) { return g->backend == GUNZIP_ISAL ? "isa-l" : "zlib"; }

static enum gunzip_backend default_backend(void) {
    const char *want = getenv("CTINDEX_INFLATE");
    if (want && strcmp(want, "zlib") == 0) return GUNZIP_ZLIB;
    return gunzip_backend_available(GUNZIP_ISAL) ? GUNZIP_ISAL : GUNZIP_ZLIB;
}

gunzip *gunzip_new_backend(enum gunzip_backend b) {
    if (b == GUNZIP_DEFAULT) b = default_backend();
    if (!gunzip_backend_available(b)) return NULL;
    gunzip *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->backend = b;
#ifdef CTINDEX_HAVE_ISAL
    if (b == GUNZIP_ISAL) {
        g->isal = malloc(sizeof *g->isal);
        if (!g->isal) {
            free(g);
            return NULL;
        }
        isal_inflate_init(g->isal);
    }
#endif
    /* zlib is set up for every backend: cheap, and it keeps gunzip_free simple. 15 + 16: gzip
     * wrapper only, 32 KiB window. */
    if (inflateInit2(&g->z, 15 + 16) != Z_OK) {
        gunzip_free(g);
        return NULL;
    }
    g->z_ready = 1;
    gunzip_reset(g);
    return g;
}

gunzip *gunzip_new(void) { return gunzip_new_backend(GUNZIP_DEFAULT); }

void gunzip_free(gunzip *g) {
    if (!g) return;
    if (g->z_ready) inflateEnd(&g->z);
#ifdef CTINDEX_HAVE_ISAL
    free(g->isal);
#endif
    free(g);
}

void gunzip_reset(gunzip *g) {
    member_start(g);
    g->mode = MODE_UNDECIDED;
    g->member = MEMBER_IN;
    g->held_magic = 0;
    g->owed_byte = 0;
    g->nfed = g->nreplay = 0;
    g->seen_padding = 0;
    g->is_gzip = 0;
    g->chunk_start = NULL;
    g->total_in = 0;
    g->total_out = 0;
    g->err[0] = '\0';
}

static int fail(gunzip *g, const char *what, const char *detail) {
    uint64_t at = g->total_in;
    if (g->chunk_start) at += (uint64_t)(g->next_in - g->chunk_start);
    snprintf(g->err, sizeof g->err, "gunzip: %s%s%s (at input byte %llu)", what, detail ? ": " : "",
             detail ? detail : "", (unsigned long long)at);
    g->mode = MODE_ERROR;
    return GUNZIP_ERR;
}

static int members_loop(gunzip *g);

/* Bytes ISA-L handed back at the end of a member go through the loop before the cursor's. */
static int replay_first(gunzip *g) {
    const uint8_t *saved_in = g->next_in, *saved_chunk = g->chunk_start;
    uint32_t saved_avail = g->avail_in;
    uint8_t bytes[8];
    memcpy(bytes, g->replay, g->nreplay);
    g->next_in = bytes;
    g->avail_in = g->nreplay;
    g->nreplay = 0;
    g->chunk_start = NULL; /* error offsets: counted input only */
    int rc = members_loop(g);
    if (rc == GUNZIP_OK && g->avail_in > 0) { /* the output filled first: keep the rest */
        memcpy(g->replay, g->next_in, g->avail_in);
        g->nreplay = g->avail_in;
    }
    g->next_in = saved_in;
    g->avail_in = saved_avail;
    g->chunk_start = saved_chunk;
    return rc;
}

/* Inflates from the cursor, going through member boundaries and trailing zero padding.
 * Returns GUNZIP_OK or GUNZIP_ERR. Stops when the input is used up or the output is full. */
static int members_loop(gunzip *g) {
    while (g->avail_in > 0 || g->nreplay > 0 || (g->member == MEMBER_IN && g->avail_out > 0)) {
        if (g->nreplay > 0) {
            int rc = replay_first(g);
            if (rc != GUNZIP_OK) return rc;
            if (g->nreplay > 0) return GUNZIP_OK;
        }
        if (g->member == MEMBER_BETWEEN) {
            /* Zero bytes after the last member are padding (tape/block writers add them). */
            while (g->avail_in > 0 && *g->next_in == 0) {
                g->next_in++;
                g->avail_in--;
                g->seen_padding = 1;
            }
            if (g->avail_in == 0) return GUNZIP_OK;
            if (g->seen_padding) return fail(g, "data after the trailing zero padding", NULL);
            member_start(g); /* a concatenated member follows */
            g->member = MEMBER_IN;
        }
        if (g->avail_out == 0) return GUNZIP_OK;
        uint32_t in_before = g->avail_in, out_before = g->avail_out;
        int rc = inflate_some(g);
        if (rc == INF_END) {
            g->member = MEMBER_BETWEEN;
            continue;
        }
        if (rc == INF_ERR) return fail(g, g->inf_what, g->inf_msg);
        if (g->avail_in == in_before && g->avail_out == out_before && g->nreplay == 0)
            return GUNZIP_OK; /* needs more input (or more room): not an error while streaming */
    }
    return GUNZIP_OK;
}

static int step_gzip(gunzip *g, const uint8_t *in, size_t inlen, size_t *consumed, uint8_t *out, size_t outcap,
                     size_t *produced) {
    /* The inflaters count in 32 bits: feed at most 1 GiB per call so the counters cannot wrap. */
    uint32_t in_now = inlen > (1u << 30) ? (1u << 30) : (uint32_t)inlen;
    uint32_t out_now = outcap > (1u << 30) ? (1u << 30) : (uint32_t)outcap;
    g->next_out = out;
    g->avail_out = out_now;
    if (g->held_magic) {
        /* The lone 0x1f from a 1-byte first chunk: give it to the inflater first. */
        static const uint8_t magic0 = 0x1f;
        g->next_in = &magic0;
        g->avail_in = 1;
        if (inflate_some(g) == INF_ERR || g->avail_in != 0) return fail(g, "corrupt gzip header", g->inf_msg);
        g->next_out = out; /* nothing came out of one header byte */
        g->avail_out = out_now;
        g->held_magic = 0;
    }
    size_t skip = 0;
    if (g->owed_byte) {
        /* in[0] was fed last time; first let out what the inflater still holds. */
        g->owed_byte = 0;
        g->next_in = in;
        g->avail_in = 0;
        g->chunk_start = in;
        int rc = members_loop(g);
        if (rc != GUNZIP_OK || g->avail_out == 0 || in_now == 0) {
            g->chunk_start = NULL;
            *consumed = 0;
            *produced = out_now - g->avail_out;
            if (rc == GUNZIP_OK && in_now > 0) g->owed_byte = 1; /* still owed: the output filled again */
            return rc;
        }
        skip = 1;
    }
    g->next_in = in + skip;
    g->avail_in = in_now - (uint32_t)skip;
    g->chunk_start = in;
    int rc = members_loop(g);
    g->chunk_start = NULL;
    *consumed = in_now - g->avail_in;
    *produced = out_now - g->avail_out;
    /* When the input runs out exactly as the output fills, the inflater may still hold output
     * for that input. zlib reads a member's trailer only after writing all its output, so a
     * complete file always leaves input for one more call, and that call lets the rest out.
     * ISA-L reads ahead into its bit buffer and may have swallowed the trailer already: then
     * the last byte is reported unconsumed, so that the caller calls again. */
    if (rc == GUNZIP_OK && g->backend == GUNZIP_ISAL && g->avail_in == 0 && g->avail_out == 0 &&
        g->member == MEMBER_IN && *consumed > 0) {
        g->owed_byte = 1;
        (*consumed)--;
    }
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
    case MODE_ERROR: return GUNZIP_ERR;
    case MODE_PLAIN: return GUNZIP_OK;
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
