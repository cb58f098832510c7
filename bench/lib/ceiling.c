/* Ceiling passes: the engine's own modules (gunzip, rsplit, json, docbuild, batch) run over a
 * corpus in memory, with no loop and no network. See benchlib.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "benchlib.h"
#include "pipeline/batch.h"
#include "pipeline/docbuild.h"
#include "pipeline/gunzip.h"
#include "pipeline/rsplit.h"

#define IN_CHUNK (16u * 1024u)             /* what libcurl hands the write callback at most */
#define OUT_WINDOW (192u * 1024u)          /* what rsplit_space offers at most */
#define MAX_RECORD DOCB_DEFAULT_MAX_RECORD /* the engine's default record limit */

struct ceiling {
    gunzip *gz;
    rsplit *rs;
    uint8_t *window;
    json_doc doc;
    doc_builder *db;
    batch bt;
    ceil_totals *t; /* of the pass running */
    void (*on_batch)(void *ud, batch *b);
    void *on_batch_ud;
};

void ceiling_on_batch(ceiling *c, void (*fn)(void *ud, batch *b), void *ud) {
    c->on_batch = fn;
    c->on_batch_ud = ud;
}

const char *ceil_mode_name(ceil_mode m) {
    static const char *const names[CEIL_NMODES] = {
        "inflate only", "inflate + split", "inflate + split + tokenize", "inflate + split + build", "split only",
    };
    return m < CEIL_NMODES ? names[m] : "?";
}

ceiling *ceiling_new(int include_raw) {
    ceiling *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    docb_options o;
    docb_options_default(&o);
    o.include_raw = include_raw;
    c->gz = gunzip_new();
    c->rs = rsplit_new(MAX_RECORD);
    c->window = malloc(OUT_WINDOW);
    c->db = docb_new(&o);
    /* The builder's own token budget, so tokenizing costs what it costs in the engine. */
    int ok = c->gz && c->rs && c->window && c->db && json_doc_init(&c->doc, MAX_RECORD / 2 + 1) == JSON_OK &&
             batch_init(&c->bt, BATCH_SDF, 0, 0) == 0;
    if (!ok) {
        ceiling_free(c);
        return NULL;
    }
    return c;
}

void ceiling_free(ceiling *c) {
    if (!c) return;
    gunzip_free(c->gz);
    rsplit_free(c->rs);
    free(c->window);
    json_doc_free(&c->doc);
    docb_free(c->db);
    if (c->bt.data) batch_free(&c->bt);
    free(c);
}

static int on_split(void *ud, const char *rec, size_t len) {
    (void)rec;
    ceiling *c = ud;
    c->t->records++;
    c->t->record_bytes += len;
    return 0;
}

static int on_tokenize(void *ud, const char *rec, size_t len) {
    ceiling *c = ud;
    c->t->records++;
    c->t->record_bytes += len;
    if (json_parse(&c->doc, rec, len) != JSON_OK) c->t->bad++;
    return 0;
}

static int on_build(void *ud, const char *rec, size_t len) {
    ceiling *c = ud;
    docb_result res;
    c->t->records++;
    c->t->record_bytes += len;
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t avail = 0;
        char *p = batch_space(&c->bt, &avail);
        long n = p ? docb_build(c->db, rec, len, p, avail, &res) : DOCB_NOSPACE;
        if (n == DOCB_NOSPACE && attempt == 0) {
            if (c->on_batch) c->on_batch(c->on_batch_ud, &c->bt);
            batch_reset(&c->bt); /* "uploaded" */
            continue;
        }
        if (n <= 0) break;
        batch_commit(&c->bt, (size_t)n, NULL, NULL);
        c->t->doc_bytes += (uint64_t)n;
        return 0;
    }
    c->t->bad++;
    return 0;
}

static int one_file(ceiling *c, ceil_mode mode, const bench_blob *f) {
    static const rsplit_record_fn fns[CEIL_NMODES] = {
        [CEIL_SPLIT] = on_split,
        [CEIL_TOKENIZE] = on_tokenize,
        [CEIL_BUILD] = on_build,
        [CEIL_SPLIT_PLAIN] = on_split,
    };
    rsplit_record_fn fn = fns[mode];
    gunzip_reset(c->gz);
    rsplit_reset(c->rs);
    const char *what = NULL;
    for (size_t off = 0; off < f->len && !what;) {
        size_t chunk = f->len - off < IN_CHUNK ? f->len - off : IN_CHUNK;
        if (mode == CEIL_SPLIT_PLAIN) chunk = f->len - off; /* copied in as much as fits */
        size_t done = 0;
        while (done < chunk) {
            size_t used = 0, made = 0, avail = OUT_WINDOW;
            uint8_t *dst = mode == CEIL_INFLATE ? c->window : (uint8_t *)rsplit_space(c->rs, &avail);
            if (mode == CEIL_SPLIT_PLAIN) {
                used = made = chunk - done < avail ? chunk - done : avail;
                memcpy(dst, f->data + off + done, used);
            } else if (gunzip_step(c->gz, f->data + off + done, chunk - done, &used, dst, avail, &made) != GUNZIP_OK) {
                what = gunzip_error(c->gz);
                break;
            }
            if (fn && rsplit_commit(c->rs, made, fn, c) != RSPLIT_OK) {
                what = rsplit_error(c->rs);
                break;
            }
            c->t->json_bytes += made;
            done += used;
        }
        off += chunk;
    }
    if (!what && mode != CEIL_SPLIT_PLAIN && gunzip_finish(c->gz) != GUNZIP_OK) what = gunzip_error(c->gz);
    if (!what && fn && rsplit_finish(c->rs) != RSPLIT_OK) what = rsplit_error(c->rs);
    if (what) {
        fprintf(stderr, "%s: %s\n", f->path ? f->path : "(generated file)", what);
        return -1;
    }
    c->t->in_bytes += f->len;
    return 0;
}

int ceiling_pass(ceiling *c, ceil_mode mode, const bench_corpus *corpus, ceil_totals *t) {
    memset(t, 0, sizeof *t);
    if (mode >= CEIL_NMODES) return -1;
    c->t = t;
    batch_reset(&c->bt);
    for (size_t i = 0; i < corpus->n; i++)
        if (one_file(c, mode, &corpus->files[i]) != 0) return -1;
    if (mode == CEIL_BUILD && c->on_batch && batch_count(&c->bt)) c->on_batch(c->on_batch_ud, &c->bt);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int ceiling_measure(ceiling *c, ceil_mode mode, const bench_corpus *corpus, int reps, ceil_result *r) {
    double secs[101];
    if (reps < 1) reps = 1;
    if (reps > 101) reps = 101;
    memset(r, 0, sizeof *r);
    if (ceiling_pass(c, mode, corpus, &r->t) != 0) return -1; /* warm-up: caches, page faults */
    for (int i = 0; i < reps; i++) {
        ceil_totals t;
        double t0 = bench_cpu_seconds();
        if (ceiling_pass(c, mode, corpus, &t) != 0) return -1;
        secs[i] = bench_cpu_seconds() - t0;
    }
    qsort(secs, (size_t)reps, sizeof secs[0], cmp_double);
    r->median = secs[reps / 2];
    r->best = secs[0];
    r->reps = reps;
    return 0;
}

const char *ceiling_inflater(const ceiling *c) { return gunzip_backend_name(c->gz); }

int ceiling_inflate_all(ceiling *c, const bench_corpus *in, bench_corpus *out) {
    for (size_t i = 0; i < in->n; i++) {
        const bench_blob *f = &in->files[i];
        ceil_totals t;
        bench_corpus one = {.files = (bench_blob *)f, .n = 1, .cap = 1, .bytes = f->len};
        if (ceiling_pass(c, CEIL_INFLATE, &one, &t) != 0) return -1;
        uint8_t *plain = malloc(t.json_bytes ? t.json_bytes : 1);
        if (!plain) return -1;
        size_t len = 0, off = 0;
        gunzip_reset(c->gz);
        while (off < f->len && len < t.json_bytes) {
            size_t used = 0, made = 0;
            gunzip_step(c->gz, f->data + off, f->len - off, &used, plain + len, t.json_bytes - len, &made);
            if (!used && !made) break;
            off += used;
            len += made;
        }
        if (bench_corpus_add(out, plain, len) != 0) return -1;
    }
    return 0;
}
