/* Stored documents. A document ctindex built is kept as its raw record alone when the document
 * builder gives back exactly the same document from it ("derived": every other field is
 * rebuilt when the document is read); any other document (another client's, or one built
 * without raw) is kept whole. Either is compressed with zstd and a dictionary trained on the
 * index's first records, whichever writers stored them: a writer that opens an index without a
 * dictionary samples the records stored before it (sample_stored), and the writer that trains
 * compresses the records stored before the dictionary again with it (recompress_stored).
 *
 * Why zstd (libzstd, Debian): one record of the bench corpus (1,663 B of JSON) costs, per
 * document, with a 32 KB dictionary: zlib 1.2.13 deflate 60-83 us (deflateSetDictionary hashes
 * the whole dictionary for every document) for 338-430 B; ISA-L 9.6-13 us for 408-435 B; zstd
 * 1.5.4 level 3 with a trained dictionary 3.0 us for 286 B (and 2 us to decompress).
 *
 * Blob: byte 0 the kind (1 derived, 2 whole), byte 1 the dictionary id (0: none), a zstd frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define ZSTD_STATIC_LINKING_ONLY  /* ZSTD_createCDict_advanced */
#define ZDICT_STATIC_LINKING_ONLY /* ZDICT_trainFromBuffer_fastCover, exported by libzstd 1.5 */
#include <zdict.h>

#include "index/ix_internal.h"

enum { KIND_DERIVED = 1, KIND_WHOLE = 2 };

#define SAMPLES_MIN 1000
#define SAMPLES_MIN_BYTES (1u << 20)
#define SAMPLES_MAX_BYTES (8u << 20)
#define RECOMPRESS_MAX (SAMPLES_MIN * 8)
#define BUILT_CAP (DOCB_DEFAULT_MAX_DOC + 65536)

int ix__doc_init(ix_store *s) {
    s->cctx = ZSTD_createCCtx();
    s->dctx = ZSTD_createDCtx();
    docb_options o;
    docb_options_default(&o); /* what the indexer uses for SDF with raw */
    s->builder = docb_new(&o);
    s->raw_cap = SDF_MAX_DOC_BYTES + 16;
    s->raw = malloc(s->raw_cap);
    s->built_cap = BUILT_CAP;
    s->built = malloc(s->built_cap);
    s->z_cap = ZSTD_compressBound(SDF_MAX_DOC_BYTES + 16) + 16;
    s->z = malloc(s->z_cap);
    s->unz_cap = SDF_MAX_DOC_BYTES + 16;
    s->unz = malloc(s->unz_cap);
    buf_init(&s->samples, SAMPLES_MAX_BYTES);
    if (!s->cctx || !s->dctx || !s->builder || !s->raw || !s->built || !s->z || !s->unz) return -1;
    if (json_doc_init(&s->jd, SDF_MAX_TOKENS) != JSON_OK) return -1;
    ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, IX_ZSTD_LEVEL);
    ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_dictIDFlag, 0);
    /* Huffman-coded literals even where the dictionary's accelerated search would skip them
     * (make_cdict): 361 -> 299 B a record for 3k instructions. */
    ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_literalCompressionMode, ZSTD_ps_enable);
    return 0;
}

void ix__doc_free(ix_store *s) {
    ZSTD_freeCCtx(s->cctx);
    ZSTD_freeDCtx(s->dctx);
    ZSTD_freeCDict(s->cdict);
    for (size_t i = 0; i < sizeof s->ddicts / sizeof s->ddicts[0]; i++) ZSTD_freeDDict(s->ddicts[i]);
    docb_free(s->builder);
    json_doc_free(&s->jd);
    free(s->raw);
    free(s->built);
    free(s->z);
    free(s->unz);
    buf_free(&s->samples);
    free(s->sample_sizes);
}

/* A compression dictionary with level 1's parameters but matches of at least 7 bytes (6) and a
 * hash table of 2^15 entries (2^13): on records of the bench corpus, 33.1k -> 31.7k instructions
 * and 292 -> 283 B a record with 2^14 (callgrind over 9,388 records; the same 2.4 us natively).
 * Level 1 itself picks these for a whole record's size, and the parameters of a context are
 * ignored when it attaches a dictionary: only the dictionary's own count.
 * targetLength 5 (0): the fast strategy's acceleration, which looks for matches at fewer
 * positions where it found none: 32.5k -> 25.6k instructions and 288 -> 299 B a record with 3
 * (the same harness and records). 5 with 2^15 entries: 29.5k -> 27.6k instructions for
 * 355 -> 360 B a record against 3 with 2^14 (callgrind, 5,000 records of a 1M-record index,
 * one in 200; 29.3k -> 27.4k for 352 -> 356 B on another 5,000); 6 with 2^16 entries 27.2k for
 * 371 B, 12 27.0k for 424 B: what is left is per sequence (44 a record), not per position.
 * An accelerated search leaves literals uncompressed unless told otherwise (+75 B a record for
 * 4k instructions less): ix__doc_init forces their compression. */
static ZSTD_CDict *make_cdict(const void *dict, size_t n) {
    ZSTD_compressionParameters cp = ZSTD_getCParams(IX_ZSTD_LEVEL, 2048, n);
    cp.minMatch = 7;
    cp.hashLog = 15;
    cp.targetLength = 5;
    return ZSTD_createCDict_advanced(dict, n, ZSTD_dlm_byCopy, ZSTD_dct_auto, cp, ZSTD_defaultCMem);
}

static void samples_free(ix_store *s) {
    buf_free(&s->samples);
    free(s->sample_sizes);
    s->sample_sizes = NULL;
    s->nsamples = 0;
}

static int samples_enough(const ix_store *s) {
    return (s->nsamples >= SAMPLES_MIN && s->samples.len >= SAMPLES_MIN_BYTES) || s->nsamples >= SAMPLES_MIN * 8 ||
           s->samples.len + 65536 > SAMPLES_MAX_BYTES;
}

static void sample_keep(ix_store *s, const char *raw, size_t n) {
    if (!s->sample_sizes) {
        s->sample_sizes = calloc(SAMPLES_MIN * 8, sizeof *s->sample_sizes);
        if (!s->sample_sizes) return;
    }
    if (s->nsamples < SAMPLES_MIN * 8 && buf_append(&s->samples, raw, n) == 0) s->sample_sizes[s->nsamples++] = n;
}

static void train(ix_store *s);
static long unpack_blob(ix_store *s, const unsigned char *b, size_t n, char *err, size_t errcap);

/* Samples from the records the index already stores without a dictionary (those of earlier
 * writers: an index filled by many small processes, none of which stored enough records alone
 * to train), the first rows until there are enough, at most as many as a writer keeps; trains
 * when they are enough. Once per process and dictionary-less index, in a transaction. */
static void sample_stored(ix_store *s) {
    sqlite3_stmt *st = NULL;
    s->stored_sampled = 1;
    if (sqlite3_prepare_v2(s->db, "SELECT z FROM store ORDER BY rowid LIMIT ?1", -1, &st, NULL) != SQLITE_OK) return;
    sqlite3_bind_int(st, 1, SAMPLES_MIN * 8);
    char ignored[128];
    while (!samples_enough(s) && sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *b = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        if (n < 3 || b[0] != KIND_DERIVED || b[1]) continue; /* the writer samples raw records only */
        long out = unpack_blob(s, b, n, ignored, sizeof ignored);
        if (out >= 0) sample_keep(s, s->unz, (size_t)out);
    }
    sqlite3_finalize(st);
    if (samples_enough(s)) train(s);
}

/* The dictionary of the index's writer: the newest in the table. Without one, the records the
 * index already holds are sampled (sample_stored). */
int ix__doc_use_dict(ix_store *s) {
    if (s->cdict_id) return 0;
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT id, d FROM dicts ORDER BY id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        s->cdict = make_cdict(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
        if (s->cdict) s->cdict_id = sqlite3_column_int(st, 0);
        else rc = -1;
        samples_free(s); /* another writer trained it */
    }
    sqlite3_finalize(st);
    if (!s->cdict_id && !s->sampling_done && !s->stored_sampled && s->in_tx) sample_stored(s);
    return rc;
}

/* The dictionary was trained in a transaction that rolled back: it is gone, and so are the
 * records it would have been used for. The next transaction samples the index again. */
void ix__doc_drop_dict(ix_store *s) {
    if (s->cdict_id > 0 && s->cdict_id < (int)(sizeof s->ddicts / sizeof s->ddicts[0])) {
        ZSTD_freeDDict(s->ddicts[s->cdict_id]);
        s->ddicts[s->cdict_id] = NULL;
    }
    ZSTD_freeCDict(s->cdict);
    s->cdict = NULL;
    s->cdict_id = 0;
    s->sampling_done = 0;
    s->stored_sampled = 0;
}

/* The first rows stored without a dictionary (at most RECOMPRESS_MAX: the records before the
 * first dictionary, of this writer or earlier ones), compressed again with the one just trained:
 * each decompresses to the same bytes, and is now what ix__doc_pack makes of the same record, so
 * a redelivered record is found unchanged (ix_write.c same_blob). Part of the transaction that
 * stores the dictionary: both are gone if it rolls back. Updating the row the statement stands
 * on is safe in SQLite (isolation.html). */
static void recompress_stored(ix_store *s) {
    sqlite3_stmt *get = NULL, *put = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT rowid, z FROM store ORDER BY rowid LIMIT ?1", -1, &get, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(s->db, "UPDATE store SET z=?2 WHERE rowid=?1", -1, &put, NULL) == SQLITE_OK) {
        sqlite3_bind_int(get, 1, RECOMPRESS_MAX);
        ZSTD_CCtx_refCDict(s->cctx, s->cdict);
        char ignored[128];
        while (sqlite3_step(get) == SQLITE_ROW) {
            const unsigned char *b = sqlite3_column_blob(get, 1);
            size_t n = (size_t)sqlite3_column_bytes(get, 1);
            if (n < 3 || b[1]) continue; /* compressed with a dictionary already */
            long out = unpack_blob(s, b, n, ignored, sizeof ignored);
            if (out < 0) continue; /* damaged: left as it is, for the reader to report */
            s->z[0] = (char)b[0];
            s->z[1] = (char)s->cdict_id;
            size_t zn = ZSTD_compress2(s->cctx, s->z + 2, s->z_cap - 2, s->unz, (size_t)out);
            if (ZSTD_isError(zn)) continue;
            sqlite3_bind_int64(put, 1, sqlite3_column_int64(get, 0));
            sqlite3_bind_blob(put, 2, s->z, (int)zn + 2, SQLITE_STATIC);
            int rc = sqlite3_step(put);
            sqlite3_reset(put);
            if (rc != SQLITE_DONE) break; /* the rows left keep their blob: readable, only larger */
        }
    }
    sqlite3_finalize(get);
    sqlite3_finalize(put);
}

static void train(ix_store *s) {
    char *dict = malloc(IX_DICT_BYTES);
    if (!dict) return;
    /* fastCover with fixed parameters: 0.02 s on 1,000 records where ZDICT_trainFromBuffer's search
     * over parameters takes 0.14 s, for a dictionary 2% worse (300 B against 293 B a record). */
    ZDICT_fastCover_params_t p;
    memset(&p, 0, sizeof p);
    p.k = 1000;
    p.d = 8;
    p.f = 20;
    p.accel = 1;
    p.zParams.compressionLevel = IX_ZSTD_LEVEL;
    size_t n = ZDICT_trainFromBuffer_fastCover(dict, IX_DICT_BYTES, s->samples.data, s->sample_sizes, s->nsamples, p);
    if (ZDICT_isError(n)) {
        if (s->samples.len < SAMPLES_MAX_BYTES / 2) { /* try again with more */
            free(dict);
            return;
        }
        n = 0;
    }
    int id = 1;
    sqlite3_stmt *st = NULL;
    if (n && sqlite3_prepare_v2(s->db, "SELECT coalesce(max(id), 0) + 1 FROM dicts", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (n && id < (int)(sizeof s->ddicts / sizeof s->ddicts[0])) {
        sqlite3_bind_int(s->q_dict_put, 1, id);
        sqlite3_bind_blob(s->q_dict_put, 2, dict, (int)n, SQLITE_STATIC);
        int rc = sqlite3_step(s->q_dict_put);
        sqlite3_reset(s->q_dict_put);
        if (rc == SQLITE_DONE) {
            s->cdict = make_cdict(dict, n);
            if (s->cdict) {
                s->cdict_id = id;
                s->dict_in_tx = 1;
            }
        }
    }
    if (s->cdict_id) recompress_stored(s);
    /* Done sampling either way: a failed training does not repeat for every document. */
    samples_free(s);
    s->sampling_done = 1;
    free(dict);
}

void ix__doc_sample(ix_store *s, const char *raw, size_t n) {
    if (s->cdict_id || s->sampling_done) return;
    sample_keep(s, raw, n);
    if (samples_enough(s)) train(s);
}

long ix__doc_pack(ix_store *s, const char *js, size_t len, const char *raw, size_t raw_len, int *derived) {
    if (raw && !*derived) { /* not vouched for: rebuild to see */
        docb_result res;
        long r = docb_build(s->builder, raw, raw_len, s->built, s->built_cap, &res);
        *derived = r > 0 && (size_t)r == len && memcmp(s->built, js, len) == 0;
    }
    const char *src = *derived ? raw : js;
    size_t n = *derived ? raw_len : len;
    if (*derived) ix__doc_sample(s, raw, raw_len);
    s->z[0] = (char)(*derived ? KIND_DERIVED : KIND_WHOLE);
    s->z[1] = (char)s->cdict_id;
    /* The context keeps its parameters (no dictionary id, no checksum: 4 + 4 bytes a document). */
    ZSTD_CCtx_refCDict(s->cctx, s->cdict);
    size_t zn = ZSTD_compress2(s->cctx, s->z + 2, s->z_cap - 2, src, n);
    if (ZSTD_isError(zn)) return -1;
    return (long)zn + 2;
}

static ZSTD_DDict *ddict(ix_store *s, int id) {
    if (id <= 0 || id >= (int)(sizeof s->ddicts / sizeof s->ddicts[0])) return NULL;
    if (s->ddicts[id]) return s->ddicts[id];
    sqlite3_bind_int(s->q_dict_get, 1, id);
    if (sqlite3_step(s->q_dict_get) == SQLITE_ROW)
        s->ddicts[id] =
            ZSTD_createDDict(sqlite3_column_blob(s->q_dict_get, 0), (size_t)sqlite3_column_bytes(s->q_dict_get, 0));
    sqlite3_reset(s->q_dict_get);
    return s->ddicts[id];
}

/* Decompresses a stored blob (its kind checked, with its dictionary) into s->unz: its length, or
 * -1 with err when it is damaged or its dictionary is missing. */
static long unpack_blob(ix_store *s, const unsigned char *b, size_t n, char *err, size_t errcap) {
    if (n < 3 || (b[0] != KIND_DERIVED && b[0] != KIND_WHOLE)) {
        snprintf(err, errcap, "index: a stored document is damaged");
        return -1;
    }
    size_t out;
    if (b[1]) {
        ZSTD_DDict *d = ddict(s, b[1]);
        if (!d) {
            snprintf(err, errcap, "index: compression dictionary %d is missing", b[1]);
            return -1;
        }
        out = ZSTD_decompress_usingDDict(s->dctx, s->unz, s->unz_cap, b + 2, n - 2, d);
    } else {
        out = ZSTD_decompressDCtx(s->dctx, s->unz, s->unz_cap, b + 2, n - 2);
    }
    if (ZSTD_isError(out)) {
        snprintf(err, errcap, "index: a stored document does not decompress: %s", ZSTD_getErrorName(out));
        return -1;
    }
    return (long)out;
}

int ix__doc_unpack(ix_store *s, const void *blob, size_t n, const char **text, size_t *len, char *err, size_t errcap) {
    const unsigned char *b = blob;
    long unz = unpack_blob(s, b, n, err, errcap);
    if (unz < 0) return -1;
    size_t out = (size_t)unz;
    if (b[0] == KIND_WHOLE) {
        *text = s->unz;
        *len = out;
        return 0;
    }
    docb_result res;
    long r = docb_build(s->builder, s->unz, out, s->built, s->built_cap, &res);
    if (r <= 0) {
        snprintf(err, errcap, "index: a stored record no longer builds a document");
        return -1;
    }
    *text = s->built;
    *len = (size_t)r;
    return 0;
}

int ix__doc_load(ix_store *s, int64_t rowid, sdf_op *op, char *err, size_t errcap) {
    sqlite3_bind_int64(s->q_store_get, 1, rowid);
    int rc = sqlite3_step(s->q_store_get);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s->q_store_get);
        if (rc == SQLITE_DONE) return 1;
        return ix__sqlerr(s, err, errcap, "reading a document");
    }
    const char *text;
    size_t len;
    int u = ix__doc_unpack(s, sqlite3_column_blob(s->q_store_get, 0), (size_t)sqlite3_column_bytes(s->q_store_get, 0),
                           &text, &len, err, errcap);
    sqlite3_reset(s->q_store_get);
    if (u != 0) return -1;
    if (sdf_parse_trusted(&s->jd, text, len, 1, &s->scratch, op, err, errcap) != 0) return -1;
    op->raw = NULL; /* it would be in s->scratch, which doc_columns reuses */
    s->loaded = text;
    s->loaded_len = len;
    s->loaded_derived = text == s->built;
    return 0;
}
