/* Shared by the benchmark programs: a corpus held in memory, CPU clocks, and the "ceiling"
 * passes that run parts of the engine's CPU path over a corpus with no network at all, so the
 * whole engine can be compared with what its parts alone can do on the same bytes. */
#ifndef CTINDEX_BENCHLIB_H
#define CTINDEX_BENCHLIB_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct bench_blob {
    uint8_t *data;
    size_t len;
    char *path; /* NULL for generated blobs */
} bench_blob;

typedef struct bench_corpus {
    bench_blob *files;
    size_t n, cap;
    uint64_t bytes;
} bench_corpus;

/* Every regular file under dir (recursively, sorted by path). Returns 0, or -1 with a
 * message on stderr. Files above 2 GiB or more than 1,000,000 files are refused. */
int bench_corpus_load_dir(bench_corpus *c, const char *dir);
int bench_corpus_add_file(bench_corpus *c, const char *path);
/* Takes ownership of data (malloc'ed). */
int bench_corpus_add(bench_corpus *c, uint8_t *data, size_t len);
void bench_corpus_free(bench_corpus *c);

static inline double bench_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double bench_wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The passes, each a prefix of the engine's path. Input goes in 16 KiB pieces, as libcurl
 * delivers an S3 body; output windows are what rsplit offers (<= 192 KiB). */
typedef enum {
    CEIL_INFLATE,     /* gunzip into a fixed window */
    CEIL_SPLIT,       /* gunzip -> rsplit (records counted) */
    CEIL_TOKENIZE,    /* gunzip -> rsplit -> json_parse of every record (jsmn + strict checks) */
    CEIL_BUILD,       /* gunzip -> rsplit -> docb_build into 5 MB batches (the whole CPU path, no I/O) */
    CEIL_SPLIT_PLAIN, /* rsplit over already inflated files */
    CEIL_NMODES
} ceil_mode;

const char *ceil_mode_name(ceil_mode m);

typedef struct ceil_totals {
    uint64_t in_bytes;   /* bytes fed */
    uint64_t json_bytes; /* inflated bytes */
    uint64_t records;
    uint64_t record_bytes; /* the records' own JSON, as the splitter hands them over (not CEIL_INFLATE) */
    uint64_t bad;          /* records json_parse or docb_build refused */
    uint64_t doc_bytes;    /* CEIL_BUILD: document bytes */
} ceil_totals;

typedef struct ceil_result {
    ceil_totals t; /* of one pass */
    double median; /* CPU seconds per pass */
    double best;
    int reps;
} ceil_result;

typedef struct ceiling ceiling;

/* include_raw: CEIL_BUILD indexes the whole record as `raw`, as the engine does by default. */
ceiling *ceiling_new(int include_raw);
void ceiling_free(ceiling *c);
/* One pass over every file. 0, or -1 (corrupt file: message on stderr). */
int ceiling_pass(ceiling *c, ceil_mode mode, const bench_corpus *corpus, ceil_totals *t);
/* One warm-up pass, then reps timed passes (CPU time of this process). */
int ceiling_measure(ceiling *c, ceil_mode mode, const bench_corpus *corpus, int reps, ceil_result *r);
/* CEIL_BUILD calls fn with every full batch (and the last one at the end of a pass) before it
 * is emptied: a consumer of the documents (bench_index) sees exactly what the engine builds. */
struct batch;
void ceiling_on_batch(ceiling *c, void (*fn)(void *ud, struct batch *b), void *ud);
/* "zlib" or "isa-l": the inflater the passes (and the engine, by default) use. */
const char *ceiling_inflater(const ceiling *c);
/* Inflated copies of every file (for CEIL_SPLIT_PLAIN). */
int ceiling_inflate_all(ceiling *c, const bench_corpus *in, bench_corpus *out);

#endif
