#include "pipeline/batch.h"

#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/hugebuf.h"
#include "base/jsonw.h"

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
    /* a document of N bytes has at most about N / 4 values; an average CloudTrail one about N / 20 */
    b->max_fields = b->max_bytes / 16;
    b->fields = malloc(b->max_fields * sizeof *b->fields);
    if (!b->records || !b->rec_data || !b->fields) {
        free(b->records);
        hugebuf_free(b->rec_data, b->max_bytes);
        free(b->fields);
        b->records = NULL;
        b->rec_data = NULL;
        b->fields = NULL;
        b->max_fields = 0;
        return -1;
    }
    b->rec_len = b->unwritten = b->nfields = 0;
    return 0;
}

void batch_free(batch *b) {
    hugebuf_free(b->data, b->max_bytes);
    hugebuf_free(b->rec_data, b->max_bytes);
    free(b->records);
    free(b->fields);
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
    b->rec_len = b->unwritten = b->nfields = 0;
    if (b->format == BATCH_SDF) b->data[b->len++] = '[';
}

/* Bytes written before the next document, and held back after the last one. */
static size_t sep_len(const batch *b) { return b->format == BATCH_SDF && b->ndocs > 0 ? 1 : 0; }
static size_t tail_len(const batch *b) { return b->format == BATCH_SDF ? 1 : 0; }

/* Bytes the next document may take; 0 when no document can be added. Raw values left out of
 * documents count as written: a batch holds the documents it would hold with them. */
static size_t room(const batch *b) {
    if (b->closed || b->ndocs >= b->max_docs) return 0;
    size_t used = b->len + b->unwritten + sep_len(b) + tail_len(b);
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
    if (b->records) b->records[b->ndocs] = (batch_record){0};
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

batch_field *batch_field_space(batch *b, size_t *cap) {
    *cap = b->fields ? b->max_fields - b->nfields : 0;
    return b->fields ? b->fields + b->nfields : NULL;
}

int batch_commit_kept(batch *b, size_t n, void *owner, const char *source, const batch_kept *k) {
    if (!b->records) return -1;
    size_t rl = k->rec ? k->rec_len : 0;
    if (k->rec && (rl == 0 || rl > b->max_bytes - b->rec_len)) return -1;
    /* raw's value inside the document, a quote after it; left out only with its record beside it */
    if (k->rec && (k->raw_at == 0 || k->raw_at > n || k->raw_len >= n - k->raw_at)) return -1;
    if (k->unwritten && (!k->rec || k->raw_len)) return -1;
    if (k->nfields > b->max_fields - b->nfields) return -1;
    size_t r = room(b);
    if (n == 0 || n > r || k->unwritten > r - n) return -1;
    if (batch_commit(b, n, owner, source) != 0) return -1;
    batch_record *rec = &b->records[b->ndocs - 1];
    if (k->rec) {
        memcpy(b->rec_data + b->rec_len, k->rec, rl);
        rec->off = (uint32_t)b->rec_len;
        rec->len = (uint32_t)rl;
        rec->raw_at = (uint32_t)k->raw_at;
        rec->raw_len = (uint32_t)k->raw_len;
        rec->unwritten = (uint32_t)k->unwritten;
        b->rec_len += rl;
        b->unwritten += k->unwritten;
    }
    rec->fields = (uint32_t)b->nfields;
    rec->nfields = (uint32_t)k->nfields;
    b->nfields += k->nfields;
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

const batch_field *batch_doc_fields(const batch *b, uint32_t i, size_t *n) {
    *n = 0;
    if (!b->records || i >= b->ndocs || b->records[i].nfields == 0) return NULL;
    *n = b->records[i].nfields;
    return b->fields + b->records[i].fields;
}

int batch_doc_unwritten(const batch *b, uint32_t i) {
    return b->records && i < b->ndocs && b->records[i].len && b->records[i].unwritten;
}

size_t batch_doc_whole_len(const batch *b, uint32_t i) {
    size_t len = 0;
    batch_doc(b, i, &len);
    return len + (batch_doc_unwritten(b, i) ? b->records[i].unwritten : 0);
}

size_t batch_doc_whole(const batch *b, uint32_t i, char *out, size_t cap) {
    size_t len = 0;
    const char *doc = batch_doc(b, i, &len);
    size_t whole = batch_doc_whole_len(b, i);
    if (!doc || whole > cap) return 0;
    if (!batch_doc_unwritten(b, i)) {
        memcpy(out, doc, len);
        return len;
    }
    const batch_record *r = &b->records[i];
    memcpy(out, doc, r->raw_at);
    /* escaped as the builder would have written it: it measured these bytes (jsonw_escape_len) */
    long w = jsonw_escape(b->rec_data + r->off, r->len, out + r->raw_at, r->unwritten, JSONW_NO_LIMIT, 0, NULL);
    if (w != (long)r->unwritten) return 0;
    memcpy(out + r->raw_at + r->unwritten, doc + r->raw_at, len - r->raw_at);
    return whole;
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
