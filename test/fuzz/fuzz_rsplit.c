/* Fuzzes rsplit: input = [chunk seed][max_record byte][refusal byte][JSON]. The JSON is split
 * twice, once in random chunks with the callback sometimes refusing (backpressure) and once in
 * one piece; both runs must deliver the same elements (count, sizes, bytes and containers
 * hashed) with the same stats and outcome. Every element must be {...} or "..." and within
 * max_record. Skipped elements and broken stretches must be reported alike in both runs
 * (offset, size), inside the input, with heads that are the input's own bytes there. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "pipeline/rsplit.h"

#include "fuzz_check.h"

typedef struct tally {
    uint64_t count, hash;
    size_t max_record;
    unsigned refuse_mask, calls;
    int refused_last;
    rsplit *s;
} tally;

static int on_record(void *ud, const char *rec, size_t len) {
    tally *t = ud;
    int obj = len >= 2 && rec[0] == '{' && rec[len - 1] == '}', str = len >= 2 && rec[0] == '"' && rec[len - 1] == '"';
    if ((!obj && !str) || len > t->max_record) abort();
    t->calls++;
    /* Refuse some first offers (never the same record twice in a row, so it always ends). */
    if (!t->refused_last && (t->refuse_mask >> (t->calls % 8)) & 1) {
        t->refused_last = 1;
        return 1;
    }
    t->refused_last = 0;
    t->count++;
    for (size_t i = 0; i < len; i++) t->hash = (t->hash ^ (unsigned char)rec[i]) * 1099511628211ull;
    t->hash = (t->hash ^ len) * 1099511628211ull;
    t->hash = (t->hash ^ (unsigned)rsplit_container_of(t->s)) * 1099511628211ull;
    t->hash = (t->hash ^ rsplit_element_offset(t->s)) * 1099511628211ull;
    return 0;
}

typedef struct skips {
    const uint8_t *input;
    size_t input_len;
    uint64_t count, hash;
} skips;

static void on_skip(void *ud, const rsplit_skip *k) {
    skips *t = ud;
    if (k->head_len > k->size || k->head_len > RSPLIT_HEAD || k->offset + k->size > t->input_len || !k->reason ||
        memcmp(k->head, t->input + k->offset, k->head_len) != 0)
        abort();
    t->count++;
    t->hash = (t->hash ^ k->offset) * 1099511628211ull;
    t->hash = (t->hash ^ k->size) * 1099511628211ull;
}

typedef struct outcome {
    int rc;
    tally t;
    skips k;
    rsplit_stats st;
} outcome;

static outcome run(const uint8_t *data, size_t size, size_t max_record, uint32_t seed, unsigned refuse_mask) {
    outcome o;
    memset(&o, 0, sizeof o);
    o.t.hash = 1469598103934665603ull;
    o.t.max_record = max_record;
    o.t.refuse_mask = refuse_mask;
    rsplit *s = rsplit_new(max_record);
    o.t.s = s;
    o.k.input = data;
    o.k.input_len = size;
    rsplit_on_skip(s, on_skip, &o.k);
    size_t off = 0;
    o.rc = RSPLIT_OK;
    while (off < size && o.rc == RSPLIT_OK) {
        size_t avail;
        char *dst = rsplit_space(s, &avail);
        if (avail < 64 * 1024) abort();
        size_t c = size - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            c = 1 + (seed >> 16) % 40;
            if (c > size - off) c = size - off;
        }
        if (c > avail) c = avail;
        memcpy(dst, data + off, c);
        off += c;
        o.rc = rsplit_commit(s, c, on_record, &o.t);
        while (o.rc == RSPLIT_STOPPED) o.rc = rsplit_commit(s, 0, on_record, &o.t);
    }
    if (o.rc == RSPLIT_OK) o.rc = rsplit_finish(s);
    if (o.rc == RSPLIT_ERR && rsplit_error(s)[0] == '\0') abort();
    o.st = *rsplit_get_stats(s);
    if (o.st.elements != o.t.count) abort();
    if (o.rc == RSPLIT_OK && o.k.count != o.st.oversized + o.st.non_objects + o.st.broken) abort();
    if (o.rc == RSPLIT_ERR && rsplit_refused(s) && (o.t.count || o.k.count)) abort(); /* refused before anything */
    rsplit_free(s);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    log_set_level(LOG_ERROR); /* oversized records are expected here; keep the output quiet */
    if (size < 3) return 0;
    uint32_t seed = 1u + data[0];
    size_t max_record = 2 + (size_t)data[1] * 4;
    unsigned refuse_mask = data[2];
    data += 3;
    size -= 3;
    outcome a = run(data, size, max_record, seed, refuse_mask);
    outcome b = run(data, size, max_record, 0, 0);
    if (a.rc != b.rc || a.t.count != b.t.count || a.t.hash != b.t.hash) abort();
    if (a.rc == RSPLIT_OK && (a.k.count != b.k.count || a.k.hash != b.k.hash)) abort();
    if (a.st.oversized != b.st.oversized || a.st.non_objects != b.st.non_objects || a.st.broken != b.st.broken ||
        a.st.largest != b.st.largest || a.st.containers != b.st.containers || a.st.values != b.st.values)
        abort();
    return 0;
}
