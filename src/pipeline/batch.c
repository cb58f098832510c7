#include "pipeline/batch.h"

#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/hugebuf.h"

int batch_init(batch *b, int format, size_t max_bytes, uint32_t max_docs) {
    memset(b, 0, sizeof *b);
    if (format != BATCH_SDF && format != BATCH_BULK) return -1;
    if (max_bytes == 0) max_bytes = BATCH_DEFAULT_MAX_BYTES;
    if (max_docs == 0) max_docs = BATCH_DEFAULT_MAX_DOCS;
    /* Offsets are 32-bit; SDF needs at least "[" + one byte + "]". */
    if (max_bytes > UINT32_MAX || max_bytes < 3) return -1;
    b->format = format;
    b->max_bytes = max_bytes;
    b->max_docs = max_docs;
    b->data = hugebuf_alloc(max_bytes); /* 5 MB filled again and again: huge pages fault 1/512 as often */
    b->doc_off = malloc(sizeof(uint32_t) * max_docs);
    b->doc_len = malloc(sizeof(uint32_t) * max_docs);
    b->doc_flags = malloc(max_docs);
    b->runs = malloc(sizeof(batch_owner_run) * max_docs);
    if (!b->data || !b->doc_off || !b->doc_len || !b->doc_flags || !b->runs) {
        batch_free(b);
        return -1;
    }
    batch_reset(b);
    return 0;
}

int batch_keep_records(batch *b) {
    if (b->records) return 0;
    b->records = calloc(b->max_docs, sizeof *b->records);
    b->rec_data = hugebuf_alloc(b->max_bytes);
    if (!b->records || !b->rec_data) {
        free(b->records);
        hugebuf_free(b->rec_data, b->max_bytes);
        b->records = NULL;
        b->rec_data = NULL;
        return -1;
    }
    b->rec_len = 0;
    return 0;
}

void batch_free(batch *b) {
    hugebuf_free(b->data, b->max_bytes);
    hugebuf_free(b->rec_data, b->max_bytes);
    free(b->records);
    free(b->doc_off);
    free(b->doc_len);
    free(b->doc_flags);
    free(b->runs);
    memset(b, 0, sizeof *b);
}

void batch_reset(batch *b) {
    b->ndocs = 0;
    b->nruns = 0;
    b->closed = 0;
    b->sha256_hex[0] = '\0';
    b->len = 0;
    b->rec_len = 0;
    if (b->format == BATCH_SDF) b->data[b->len++] = '[';
}

/* Bytes written before the next document, and held back after the last one. */
static size_t sep_len(const batch *b) { return b->format == BATCH_SDF && b->ndocs > 0 ? 1 : 0; }
static size_t tail_len(const batch *b) { return b->format == BATCH_SDF ? 1 : 0; }

/* Bytes the next document may take; 0 when no document can be added. */
static size_t room(const batch *b) {
    if (b->closed || b->ndocs >= b->max_docs) return 0;
    size_t used = b->len + sep_len(b) + tail_len(b);
    return used < b->max_bytes ? b->max_bytes - used : 0;
}

char *batch_space(batch *b, size_t *avail) {
    *avail = room(b);
    return *avail ? b->data + b->len + sep_len(b) : NULL;
}

int batch_commit(batch *b, size_t n, void *owner, const char *source) {
    if (n == 0 || n > room(b)) return -1;
    if (sep_len(b)) b->data[b->len++] = ',';
    b->doc_off[b->ndocs] = (uint32_t)b->len;
    b->doc_len[b->ndocs] = (uint32_t)n;
    b->doc_flags[b->ndocs] = 0;
    if (b->records) b->records[b->ndocs].len = 0;
    b->ndocs++;
    b->len += n;
    if (b->nruns > 0 && b->runs[b->nruns - 1].owner == owner) {
        b->runs[b->nruns - 1].count++;
    } else {
        b->runs[b->nruns].owner = owner;
        b->runs[b->nruns].source = source;
        b->runs[b->nruns].count = 1;
        b->nruns++;
    }
    return 0;
}

void batch_flag_last(batch *b, uint8_t flags) {
    if (b->ndocs) b->doc_flags[b->ndocs - 1] = flags;
}

int batch_keep_record(batch *b, const char *rec, size_t len, size_t raw_at, size_t raw_len) {
    if (!b->records || !b->ndocs || len == 0 || len > b->max_bytes - b->rec_len) return -1;
    uint32_t i = b->ndocs - 1;
    if (raw_at == 0 || raw_at > b->doc_len[i] || raw_len >= b->doc_len[i] - raw_at) return -1; /* a quote follows */
    memcpy(b->rec_data + b->rec_len, rec, len);
    b->records[i] = (batch_record){(uint32_t)b->rec_len, (uint32_t)len, (uint32_t)raw_at, (uint32_t)raw_len};
    b->rec_len += len;
    return 0;
}

const char *batch_doc_record(const batch *b, uint32_t i, size_t *len, size_t *raw_at, size_t *raw_len) {
    if (!b->records || i >= b->ndocs || b->records[i].len == 0) return NULL;
    const batch_record *r = &b->records[i];
    *len = r->len;
    *raw_at = r->raw_at;
    *raw_len = r->raw_len;
    return b->rec_data + r->off;
}

const char *batch_body(batch *b, size_t *len) {
    if (!b->closed) {
        if (b->format == BATCH_SDF) b->data[b->len++] = ']'; /* space held back by batch_space */
        b->closed = 1;
    }
    *len = b->len;
    return b->data;
}

int batch_hash_bodies(batch *a, batch *b) {
    size_t na = 0, nb = 0;
    const char *pa = batch_body(a, &na);
    if (!b) return crypto_sha256_hex(pa, na, a->sha256_hex);
    const char *pb = batch_body(b, &nb);
    return crypto_sha256_hex_pair(pa, na, pb, nb, a->sha256_hex, b->sha256_hex);
}

const char *batch_doc(const batch *b, uint32_t i, size_t *len) {
    if (i >= b->ndocs) {
        *len = 0;
        return NULL;
    }
    *len = b->doc_len[i];
    return b->data + b->doc_off[i];
}

int batch_full(const batch *b) { return room(b) == 0; }

const batch_owner_run *batch_owners(const batch *b, uint32_t *nruns) {
    *nruns = b->nruns;
    return b->runs;
}

const char *batch_doc_source(const batch *b, uint32_t i) {
    uint32_t first = 0;
    for (uint32_t r = 0; r < b->nruns; r++) {
        if (i < first + b->runs[r].count) return b->runs[r].source ? b->runs[r].source : "?";
        first += b->runs[r].count;
    }
    return "?";
}
