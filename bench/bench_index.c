/* bench_index: the embedded index on a generated corpus of about a million records.
 *
 *   1. corpus: ctgen (reused when already there);
 *   2. indexing speed, engine against ceiling, measured in slices (the default): the corpus's
 *      files, in the order `ctindex replay` reads them, are cut into K slices of about equal
 *      record counts (--slices K; by default one slice per ~75,000 records). For each slice
 *      - the engine: `ctindex replay FILE... --sink index:INDEX`, the slice's files given by name,
 *        appending to the same growing index; its CPU (user + sys of every thread, from wait4);
 *      - the ceiling: FTS5 alone inserting the same documents' text fields into its own growing
 *        database, kept open across slices (the index's `text` table: same columns, tokenizer
 *        and options, same batches and pragmas); CPU of the inserts and commits only;
 *      which of the two runs first alternates from slice to slice. The machine is shared and one
 *      binary's CPU time for the same work moves by up to 45% between runs minutes apart: run
 *      side by side in short slices, both meet the same conditions. The figure is the ratio of
 *      the totals, (records / engine CPU) / (documents / ceiling CPU); every slice's ratio, their
 *      median and spread are printed beside it. Each replay's start and stop is the engine's cost
 *      (its CPU is counted), measured here on replays of a file without records.
 *      --single measures as before slices: the ceiling over the whole corpus before and after
 *      one replay of the whole corpus, averaged (and once more with a 1 GB map of its file);
 *   3. size: bytes of the index file per record, and per table;
 *   4. latency: p50/p99 of searches on the index (wall time of ix_search): a literal term, a date
 *      range of one day, an and of two literals, a full-text term on raw, each for the 10 newest
 *      hits, and a top-10 facet on event_name over matchall.
 * --compare-whole (sliced runs): one more replay, of the whole corpus into INDEX-whole.db, and the
 * two indexes' content compared (bench/lib/ixdigest.h) with their sizes: slicing must not change
 * what is indexed.
 * Targets (issue 14): engine >= 0.7x the ceiling, <= 1.5 KB per record, p99 <= 100 ms for the
 * four queries and <= 500 ms for the facet. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"
#include "index/index_fields.h"
#include "index/ix_search.h"
#include "index/ix_store.h"
#include "index/sdf_parse.h"
#include "ixdigest.h"
#include "pipeline/batch.h"
#include "sources/trail_key.h"

extern char **environ;

/* Records a slice holds by default. A replay's start and stop costs about 40 ms of CPU (measured
 * in every run), 0.5% of the 7-10 s a slice this size takes the engine; at ~20 s of wall time
 * for a slice's pair the engine and the ceiling meet the same load, and 1M records give 14
 * slices, enough for a median and a spread. */
#define SLICE_RECORDS 75000
/* Bytes of file names one replay's command line may take (Linux allows 2 MB with the
 * environment). */
#define ARGS_MAX (1u << 20)

typedef struct options {
    int files, min_records, max_records, seed, days, reps, skip_index, ceiling_only, slices, single, compare_whole;
    const char *corpus, *index;
} options;

static char bindir[4096];

static void die(const char *fmt, const char *a) {
    fprintf(stderr, "bench_index: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    exit(1);
}

/* Runs argv to the end with stdout into out_path; its rusage in ru. Exit status or -1. */
static int run_child(char *const argv[], const char *out_path, struct rusage *ru) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    int status;
    if (wait4(pid, &status, 0, ru) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static double tv_seconds(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

static void remove_index(const char *path) {
    char p[4200];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- the engine: one `ctindex replay` ----------------------------------------------------- */

typedef struct replay_run {
    double wall, cpu, user, sys, peak_mb;
    uint64_t records;
    uint64_t faults; /* minor page faults (wait4): each replay fills its caches and buffers anew */
} replay_run;

/* `ctindex replay PATH... --sink SINK --no-progress` to the end, its output in log_path. Exits
 * the program when the replay fails. */
static void replay_paths(const char *ctindex, const char *sink, char *const *paths, size_t n, const char *log_path,
                         replay_run *r) {
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += strlen(paths[i]) + 1 + sizeof(char *);
    if (bytes > ARGS_MAX) die("%s", "one slice's file names exceed 1 MB of arguments: ask for more --slices");
    char **av = calloc(n + 6, sizeof *av);
    if (!av) die("%s", "out of memory");
    av[0] = (char *)ctindex;
    av[1] = "replay";
    memcpy(av + 2, paths, n * sizeof *av);
    av[n + 2] = "--sink";
    av[n + 3] = (char *)sink;
    av[n + 4] = "--no-progress";
    struct rusage ru;
    double w0 = bench_wall_seconds();
    if (run_child(av, log_path, &ru) != 0) die("ctindex replay failed (its output: %s)", log_path);
    free(av);
    memset(r, 0, sizeof *r);
    r->wall = bench_wall_seconds() - w0;
    r->user = tv_seconds(ru.ru_utime);
    r->sys = tv_seconds(ru.ru_stime);
    r->cpu = r->user + r->sys;
    r->faults = (uint64_t)ru.ru_minflt;
    /* The replay's own peak RSS (VmHWM), from its log: wait4's ru_maxrss also counts this
     * process's pages (the corpus in memory), which posix_spawn's child starts with. */
    r->peak_mb = (double)ru.ru_maxrss / 1024.0;
    FILE *lf = fopen(log_path, "r");
    char line[1024];
    while (lf && fgets(line, sizeof line, lf)) {
        const char *pk = strstr(line, "peak RSS ");
        unsigned long long rec;
        if (pk) sscanf(pk, "peak RSS %lf MB", &r->peak_mb);
        if (sscanf(line, "records: %llu read", &rec) == 1) r->records = rec;
    }
    if (lf) fclose(lf);
}

/* replay_paths of the files of part, given by name in its order. */
static void replay_part(const char *ctindex, const char *sink, const bench_corpus *part, const char *log_path,
                        replay_run *r) {
    char **paths = calloc(part->n ? part->n : 1, sizeof *paths);
    if (!paths) die("%s", "out of memory");
    for (size_t i = 0; i < part->n; i++) paths[i] = part->files[i].path;
    replay_paths(ctindex, sink, paths, part->n, log_path, r);
    free(paths);
}

/* ---- the ceiling: FTS5 alone on the documents' text fields ------------------------------ */

typedef struct fts_only {
    sqlite3 *db;
    sqlite3_stmt *ins;
    ceiling *pass;
    json_doc jd;
    sdf_op op;
    double cpu;
    uint64_t docs;
    int64_t rowid;
} fts_only;

__attribute__((noinline)) static void fts_insert_batch(fts_only *f, uint32_t n, char *vals[][IXT_COLUMNS],
                                                       size_t lens[][IXT_COLUMNS]) {
    sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL);
    for (uint32_t i = 0; i < n && i < 100000; i++) {
        sqlite3_bind_int64(f->ins, 1, ++f->rowid);
        for (int c = 0; c < IXT_COLUMNS; c++) {
            if (lens[i][c])
                sqlite3_bind_text(f->ins, 2 + c, vals[i][c], ix_text_len(vals[i][c], lens[i][c]), SQLITE_STATIC);
            else sqlite3_bind_null(f->ins, 2 + c);
        }
        sqlite3_step(f->ins);
        sqlite3_reset(f->ins);
    }
    sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL);
}

static void fts_batch(void *ud, batch *b) {
    fts_only *f = ud;
    /* Untimed: take each document's text columns the way the index does (decoded values). */
    static char *vals[100000][IXT_COLUMNS];
    static size_t lens[100000][IXT_COLUMNS];
    uint32_t n = batch_count(b);
    buf store;
    buf_init(&store, 1u << 30);
    size_t *offs = calloc((size_t)n * IXT_COLUMNS, sizeof *offs);
    for (uint32_t i = 0; i < n && i < 100000; i++) {
        size_t len;
        const char *doc = batch_doc(b, i, &len);
        char err[256];
        if (sdf_parse_op(&f->jd, doc, len, i + 1, 1, NULL, &f->op, err, sizeof err) != 0) continue;
        for (int c = 0; c < IXT_COLUMNS; c++) lens[i][c] = 0;
        for (int k = 0; k < f->op.nfields; k++) {
            const ixf_field *fld = f->op.fields[k].f;
            if (fld->kind != IXF_TEXT) continue;
            int tok = f->op.fields[k].tok;
            buf_reserve(&store, json_tok_len(&f->jd, tok) + 1);
            long r = json_tok_decode(&f->jd, tok, store.data + store.len, store.cap - store.len);
            if (r < 0) continue;
            offs[(size_t)i * IXT_COLUMNS + (size_t)fld->column] = store.len;
            lens[i][fld->column] = (size_t)r;
            store.len += (size_t)r + 1;
        }
    }
    for (uint32_t i = 0; i < n && i < 100000; i++)
        for (int c = 0; c < IXT_COLUMNS; c++) vals[i][c] = store.data + offs[(size_t)i * IXT_COLUMNS + (size_t)c];
    double t0 = bench_cpu_seconds();
    fts_insert_batch(f, n, vals, lens);
    f->cpu += bench_cpu_seconds() - t0;
    f->docs += n;
    free(offs);
    buf_free(&store);
}

/* A new FTS5 database at path, the index's `text` table in it. mapped: a 1 GB map of the file,
 * as the ceiling had before it took the writer's pragmas (the writer maps nothing since its peak
 * RSS reached 1 GB at 1M records): printed apart by --single, to compare with the figures
 * measured then. */
static void fts_open(fts_only *f, const char *path, int mapped) {
    remove_index(path);
    memset(f, 0, sizeof *f);
    if (sqlite3_open(path, &f->db) != SQLITE_OK) die("cannot create %s", path);
    /* the index's own pragmas (as replay opens it: not durable) and `text` table */
    sqlite3_exec(f->db, IX_COMMON_PRAGMAS "; " IX_WRITER_PRAGMAS "; PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    if (mapped) sqlite3_exec(f->db, "PRAGMA mmap_size=1073741824", NULL, NULL, NULL);
    sqlite3_exec(f->db,
                 "CREATE VIRTUAL TABLE text USING fts5(raw, user_identity_arn, user_agent, error_message, other, "
                 "content='', columnsize=0, tokenize='unicode61 remove_diacritics 2');",
                 NULL, NULL, NULL);
    char hs[128];
    snprintf(hs, sizeof hs, "INSERT INTO text(text, rank) VALUES('hashsize', %d)", IX_FTS_HASH_BYTES);
    sqlite3_exec(f->db, hs, NULL, NULL, NULL);
    sqlite3_prepare_v2(f->db,
                       "INSERT INTO text(rowid, raw, user_identity_arn, user_agent, error_message, other) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                       -1, &f->ins, NULL);
    json_doc_init(&f->jd, SDF_MAX_TOKENS);
    f->pass = ceiling_new(1);
    ceiling_on_batch(f->pass, fts_batch, f);
}

/* Builds the documents of part (the engine's own batches: ceiling_on_batch) and inserts their
 * text fields. Returns the CPU seconds of the inserts and commits; *docs: the documents. */
static double fts_feed(fts_only *f, const bench_corpus *part, uint64_t *docs) {
    double cpu0 = f->cpu;
    uint64_t docs0 = f->docs;
    ceil_totals t;
    if (ceiling_pass(f->pass, CEIL_BUILD, part, &t) != 0) die("%s", "the ceiling pass failed");
    *docs = f->docs - docs0;
    return f->cpu - cpu0;
}

static void fts_close(fts_only *f, const char *path) {
    ceiling_free(f->pass);
    sqlite3_finalize(f->ins);
    sqlite3_close(f->db);
    json_doc_free(&f->jd);
    remove_index(path);
}

static double measure_ceiling(const bench_corpus *corpus, const char *path, uint64_t *docs, int mapped) {
    fts_only f;
    fts_open(&f, path, mapped);
    double cpu = fts_feed(&f, corpus, docs);
    fts_close(&f, path);
    return cpu;
}

/* ---- the engine and the ceiling in slices ------------------------------------------------- */

static int cmp_blob_path(const void *a, const void *b) {
    return key_replay_cmp(((const bench_blob *)a)->path, ((const bench_blob *)b)->path);
}

/* The files a replay of the corpus folder reads, in its order (local_source.c: the names
 * key_classify calls logs or Insights, sorted by key_replay_cmp: the time in their names). out holds c->n entries,
 * which point into c. Returns their count. */
static size_t replay_order(const bench_corpus *c, bench_blob *out) {
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) {
        key_kind k = key_classify(c->files[i].path, strlen(c->files[i].path));
        if (k == KEY_LOG || k == KEY_INSIGHT) out[n++] = c->files[i];
    }
    qsort(out, n, sizeof *out, cmp_blob_path);
    return n;
}

typedef struct slice {
    size_t first, n; /* the files order[first .. first + n) */
    uint64_t expect; /* records the splitter counted in them */
    int engine_first;
    replay_run eng;
    double ceil_cpu;
    uint64_t docs;
} slice;

/* Cuts n files (recs[i] records each) into k <= n slices of about equal records, in order,
 * each at least one file. */
static void cut_slices(const uint64_t *recs, size_t n, int k, slice *out) {
    uint64_t total = 0, cum = 0;
    for (size_t i = 0; i < n; i++) total += recs[i];
    size_t j = 0;
    for (int s = 0; s < k; s++) {
        memset(&out[s], 0, sizeof out[s]);
        out[s].first = j;
        uint64_t target = total * (uint64_t)(s + 1) / (uint64_t)k;
        size_t last = s == k - 1 ? n : n - (size_t)(k - 1 - s); /* a file left for each later slice */
        do {
            cum += recs[j];
            out[s].expect += recs[j];
            j++;
        } while (j < last && (s == k - 1 || cum + recs[j] / 2 < target));
        out[s].n = j - out[s].first;
    }
}

static double slice_ratio(const slice *s) {
    return ((double)s->eng.records / s->eng.cpu) / ((double)s->docs / s->ceil_cpu);
}

/* For each slice: the engine appends its files to index (sink), the ceiling inserts the same
 * documents into its database at ceil_db (open across slices); the first of the two alternates. */
static void run_slices(const char *ctindex, const char *sink, const bench_blob *order, slice *sl, int k,
                       const char *ceil_db, const char *log_path) {
    fts_only f;
    fts_open(&f, ceil_db, 0);
    for (int s = 0; s < k; s++) {
        slice *c = &sl[s];
        bench_corpus part = {.files = (bench_blob *)order + c->first, .n = c->n, .cap = c->n};
        for (size_t i = 0; i < c->n; i++) part.bytes += part.files[i].len;
        c->engine_first = s % 2 == 0;
        fprintf(stderr, "slice %d/%d: %zu files, %s first\n", s + 1, k, c->n, c->engine_first ? "engine" : "ceiling");
        for (int step = 0; step < 2; step++) {
            if ((step == 0) == c->engine_first) replay_part(ctindex, sink, &part, log_path, &c->eng);
            else c->ceil_cpu = fts_feed(&f, &part, &c->docs);
        }
        printf("slice %2d/%d: %3zu files, %7llu records, %-7s first: engine %7.2f s CPU (%6.0f records/CPU-s), "
               "ceiling %6.2f s CPU (%6.0f documents/CPU-s): ratio %.2fx\n",
               s + 1, k, c->n, (unsigned long long)c->eng.records, c->engine_first ? "engine" : "ceiling", c->eng.cpu,
               (double)c->eng.records / c->eng.cpu, c->ceil_cpu, (double)c->docs / c->ceil_cpu, slice_ratio(c));
        fflush(stdout);
    }
    fts_close(&f, ceil_db);
}

/* CPU seconds of a replay that reads nothing into index (a file without records): what a
 * replay's start and stop cost, with the index open. Median of 3. */
static double replay_fixed_cost(const char *ctindex, const char *sink, const char *index, const char *log_path) {
    char empty[4200];
    snprintf(empty, sizeof empty, "%s-empty.json", index);
    FILE *e = fopen(empty, "w");
    if (!e || fputs("{\"Records\":[]}\n", e) < 0 || fclose(e) != 0) die("cannot write %s", empty);
    double cpu[3];
    for (int i = 0; i < 3; i++) {
        replay_run r;
        char *p = empty;
        replay_paths(ctindex, sink, &p, 1, log_path, &r);
        cpu[i] = r.cpu;
    }
    unlink(empty);
    qsort(cpu, 3, sizeof cpu[0], cmp_double);
    return cpu[1];
}

static void print_slice_totals(const slice *sl, int k, double fixed_cpu) {
    replay_run e = {0};
    double ccpu = 0;
    uint64_t docs = 0;
    double *ratios = calloc((size_t)k, sizeof *ratios);
    if (!ratios) die("%s", "out of memory");
    for (int s = 0; s < k; s++) {
        e.wall += sl[s].eng.wall;
        e.user += sl[s].eng.user;
        e.sys += sl[s].eng.sys;
        e.cpu += sl[s].eng.cpu;
        e.records += sl[s].eng.records;
        e.faults += sl[s].eng.faults;
        if (sl[s].eng.peak_mb > e.peak_mb) e.peak_mb = sl[s].eng.peak_mb;
        ccpu += sl[s].ceil_cpu;
        docs += sl[s].docs;
        ratios[s] = slice_ratio(&sl[s]);
    }
    qsort(ratios, (size_t)k, sizeof *ratios, cmp_double);
    double median = k % 2 ? ratios[k / 2] : (ratios[k / 2 - 1] + ratios[k / 2]) / 2;
    printf("engine (ctindex replay into index:, whole path, %d replays of one slice each): %.2f s wall, %.2f s CPU "
           "(user %.2f, sys %.2f), %.0f records per CPU-second, peak RSS %.1f MB (the largest of the replays)\n",
           k, e.wall, e.cpu, e.user, e.sys, (double)e.records / e.cpu, e.peak_mb);
    printf("  a replay's start and stop: %.3f s CPU (median of 3 replays of a file without records into the index), "
           "%.2f s for %d replays: %.1f%% of the engine's CPU, counted in it\n",
           fixed_cpu, fixed_cpu * k, k, 100.0 * fixed_cpu * k / e.cpu);
    /* Not in that figure: each replay faults in its caches and buffers again (SQLite's page
     * cache, batches), which one replay does once; compare with a whole replay's faults. */
    printf("  page faults: %llu in %d replays (%llu a replay)\n", (unsigned long long)e.faults, k,
           (unsigned long long)(e.faults / (uint64_t)k));
    printf("ceiling (FTS5 alone, text fields of the same %llu documents, slice by slice into one database): %.2f s "
           "CPU, %.0f documents per CPU-second\n",
           (unsigned long long)docs, ccpu, (double)docs / ccpu);
    if (docs != e.records)
        printf("  WARNING: the replays read %llu records, the ceiling built %llu documents\n",
               (unsigned long long)e.records, (unsigned long long)docs);
    double ratio = ((double)e.records / e.cpu) / ((double)docs / ccpu);
    printf("ratio: %.2fx of the ceiling (target >= 0.70: %s)\n", ratio, ratio >= 0.7 ? "met" : "NOT met");
    printf("slices: %d, ratio median %.2fx, min %.2fx, max %.2fx, spread %.0f%% of the median\n", k, median, ratios[0],
           ratios[k - 1], 100.0 * (ratios[k - 1] - ratios[0]) / median);
    free(ratios);
}

/* ---- one replay, as before slices (--single) ---------------------------------------------- */

/* c: the files a replay of the corpus folder reads, in its order (given to one replay by name). */
static uint64_t run_single(const bench_corpus *c, const options *o, const char *ctindex, const char *sink,
                           const char *ceil_db, const char *log_path) {
    /* The machine may be shared: the ceiling is measured before and after the engine and
     * averaged, so a change of load during the run shows as a spread, not as a bias. */
    fprintf(stderr, "ceiling: FTS5 alone on the same documents' text fields\n");
    uint64_t docs = 0;
    double fcpu1 = measure_ceiling(c, ceil_db, &docs, 0);
    fprintf(stderr, "engine: ctindex replay (the %zu files of %s) --sink %s\n", c->n, o->corpus, sink);
    replay_run e;
    replay_part(ctindex, sink, c, log_path, &e);
    fprintf(stderr, "ceiling again\n");
    double fcpu2 = measure_ceiling(c, ceil_db, &docs, 0);
    fprintf(stderr, "ceiling with a 1 GB map\n");
    double fcpu_map = measure_ceiling(c, ceil_db, &docs, 1);
    double fcpu = (fcpu1 + fcpu2) / 2;
    printf("corpus: %zu files, %llu records, %.0f MB gzip (%s)\n", c->n, (unsigned long long)e.records,
           (double)c->bytes / 1e6, o->corpus);
    printf("engine (ctindex replay into index:, whole path): %.2f s wall, %.2f s CPU (user %.2f, sys %.2f), "
           "%.0f records per CPU-second, peak RSS %.1f MB, %llu page faults\n",
           e.wall, e.cpu, e.user, e.sys, (double)e.records / e.cpu, e.peak_mb, (unsigned long long)e.faults);
    printf("ceiling (FTS5 alone, text fields of the same %llu documents): %.2f s CPU (%.2f before the engine, "
           "%.2f after), %.0f documents per CPU-second\n",
           (unsigned long long)docs, fcpu, fcpu1, fcpu2, (double)docs / fcpu);
    double ratio = ((double)e.records / e.cpu) / ((double)docs / fcpu);
    printf("ratio: %.2fx of the ceiling (target >= 0.70: %s)\n", ratio, ratio >= 0.7 ? "met" : "NOT met");
    printf("ceiling with a 1 GB map of the file (the writer maps none): %.2f s CPU, %.0f documents per CPU-second: "
           "ratio %.2fx\n",
           fcpu_map, (double)docs / fcpu_map, ((double)e.records / e.cpu) / ((double)docs / fcpu_map));
    return e.records;
}

/* ---- latency ---------------------------------------------------------------------------- */

typedef struct qset {
    const char *name;
    char q[64][512];
    int n;
    const char *facet; /* facet.event_name options, or NULL */
    int size;
} qset;

static void time_set(ix_store *s, const qset *qs, int reps, double target_ms) {
    static ix_request r;
    ix_result res;
    ix_result_init(&res);
    double *ms = calloc((size_t)reps, sizeof *ms), *cpu = calloc((size_t)reps, sizeof *cpu);
    double found = 0;
    char err[512];
    for (int i = 0; i < reps; i++) {
        const char *q = qs->q[i % qs->n];
        ixr_init(&r);
        ixr_param(&r, "q.parser", 8, "structured", 10);
        ixr_param(&r, "q", 1, q, strlen(q));
        char sz[16];
        snprintf(sz, sizeof sz, "%d", qs->size);
        ixr_param(&r, "size", 4, sz, strlen(sz));
        if (qs->facet) ixr_param(&r, "facet.event_name", 16, qs->facet, strlen(qs->facet));
        if (ixr_finish(&r) != 0) die("bad query: %s", r.error);
        double t0 = bench_wall_seconds(), c0 = bench_cpu_seconds();
        int rc = ix_search(s, &r, &res, 0, err, sizeof err);
        ms[i] = (bench_wall_seconds() - t0) * 1000.0;
        cpu[i] = (bench_cpu_seconds() - c0) * 1000.0;
        if (rc != IX_SEARCH_OK) {
            fprintf(stderr, "query %s: %s\n", q, err);
            exit(1);
        }
        found += (double)res.found;
    }
    qsort(ms, (size_t)reps, sizeof *ms, cmp_double);
    qsort(cpu, (size_t)reps, sizeof *cpu, cmp_double);
    int i99 = (reps * 99) / 100 < reps ? (reps * 99) / 100 : reps - 1;
    printf("  %-34s wall p50 %6.1f p99 %6.1f ms, cpu p50 %6.1f p99 %6.1f ms (target p99 <= %.0f ms: %s), avg found "
           "%.0f\n",
           qs->name, ms[reps / 2], ms[i99], cpu[reps / 2], cpu[i99], target_ms,
           ms[i99] <= target_ms ? "met" : "NOT met", found / reps);
    free(ms);
    free(cpu);
    ix_result_free(&res);
}

/* Values of a facet over matchall, to build queries from the data itself. */
static int top_values(ix_store *s, const char *field, char out[][128], int max) {
    static ix_request r;
    ix_result res;
    ix_result_init(&res);
    ixr_init(&r);
    ixr_param(&r, "q.parser", 8, "structured", 10);
    ixr_param(&r, "q", 1, "matchall", 8);
    ixr_param(&r, "size", 4, "0", 1);
    char key[96], opts[32];
    snprintf(key, sizeof key, "facet.%s", field);
    snprintf(opts, sizeof opts, "{size:%d}", max);
    ixr_param(&r, key, strlen(key), opts, strlen(opts));
    char err[256];
    int n = 0;
    if (ixr_finish(&r) == 0 && ix_search(s, &r, &res, 0, err, sizeof err) == IX_SEARCH_OK && res.nfacets)
        for (; n < res.facets[0].nbuckets && n < max; n++)
            snprintf(out[n], 128, "%.*s", (int)res.facets[0].buckets[n].value_len,
                     res.text.data + res.facets[0].buckets[n].value_off);
    ix_result_free(&res);
    return n;
}

static void latency(const options *o) {
    char err[512];
    ix_store *s = ix_open(o->index, IX_READ, err, sizeof err);
    if (!s) die("%s", err);
    static qset lit = {.name = "literal term, 10 newest", .size = 10};
    static qset day = {.name = "date range of one day, 10 newest", .size = 10};
    static qset and2 = {.name = "and of two literals, 10 newest", .size = 10};
    static qset text = {.name = "full-text term on raw, 10 newest", .size = 10};
    static qset facet = {.name = "top-10 facet event_name, matchall", .size = 0, .facet = "{size:10}"};
    char names[32][128], sources[8][128], regions[4][128], users[16][128];
    int nn = top_values(s, "event_name", names, 32), ns = top_values(s, "event_source", sources, 8);
    int nr = top_values(s, "aws_region", regions, 4),
        nu = top_values(s, "user_identity_session_issuer_user_name", users, 16);
    for (int i = 0; i < nn && lit.n < 64; i++) snprintf(lit.q[lit.n++], 512, "event_name:'%.120s'", names[i]);
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < nr && and2.n < 64; j++)
            snprintf(and2.q[and2.n++], 512, "(and event_source:'%.120s' aws_region:'%.120s')", sources[i], regions[j]);
    for (int d = 0; d < o->days && day.n < 64; d++)
        snprintf(day.q[day.n++], 512, "event_time:['2024-05-%02dT00:00:00Z','2024-05-%02dT00:00:00Z'}", 1 + d, 2 + d);
    static const char *words[] = {"terraform", "boto3", "accessdenied", "console", "athena", "lambda", "mfa", "true"};
    for (int i = 0; i < nu && text.n < 48; i++) {
        char w[128];
        snprintf(w, sizeof w, "%.100s", users[i]);
        w[strcspn(w, "-_.@/")] = '\0';
        if (w[0]) snprintf(text.q[text.n++], 512, "raw:'%.100s'", w);
    }
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        snprintf(text.q[text.n++], 512, "raw:'%.100s'", words[i]);
    snprintf(facet.q[0], 512, "matchall");
    facet.n = 1;
    printf("latency (%d searches each, index %s, %lld documents):\n", o->reps, o->index, (long long)ix_doc_count(s));
    time_set(s, &lit, o->reps, 100);
    time_set(s, &day, o->reps, 100);
    time_set(s, &and2, o->reps, 100);
    time_set(s, &text, o->reps, 100);
    time_set(s, &facet, o->reps, 500);
    ix_close(s);
}

/* Bytes of each table and index of the file at path (dbstat), largest first. Returns the count. */
static int table_bytes(const char *path, char names[][64], double *bytes, int max) {
    sqlite3 *db;
    int n = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return 0;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC", -1, &st, NULL) ==
        SQLITE_OK) {
        for (; n < max && sqlite3_step(st) == SQLITE_ROW; n++) {
            snprintf(names[n], 64, "%s", (const char *)sqlite3_column_text(st, 0));
            bytes[n] = (double)sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

/* Pages of the file that hold nothing (freed by FTS5's merges and the ids' merges). */
static long long free_pages(const char *path) {
    sqlite3 *db;
    sqlite3_stmt *st;
    long long n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA freelist_count", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

static double file_bytes(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (double)sb.st_size : 0;
}

static void sizes(const char *path, uint64_t records) {
    char names[64][64];
    double bytes[64];
    int n = table_bytes(path, names, bytes, 64);
    printf("size: %.1f MB, %.0f bytes per record (target <= 1536)\n", file_bytes(path) / 1e6,
           file_bytes(path) / (double)records);
    printf("  per table:");
    for (int i = 0; i < n; i++)
        if (bytes[i] / (double)records >= 1) printf(" %s %.0f,", names[i], bytes[i] / (double)records);
    printf(" bytes per record\n");
}

/* --compare-whole: the whole corpus (files, in replay order) in one replay into whole_db, then its content and sizes
 * against the sliced index's. Returns 0 when the content is the same. */
static int compare_whole(const char *ctindex, const bench_corpus *files, const char *index, const char *whole_db,
                         const char *log_path) {
    remove_index(whole_db);
    char sink[4300];
    snprintf(sink, sizeof sink, "index:%s", whole_db);
    fprintf(stderr, "compare: ctindex replay (every file of the slices, in one replay) --sink %s\n", sink);
    replay_run r;
    replay_part(ctindex, sink, files, log_path, &r);
    printf("whole replay (--compare-whole): %llu records, %.2f s CPU (user %.2f, sys %.2f), %.0f records per "
           "CPU-second, %llu page faults, into %s\n",
           (unsigned long long)r.records, r.cpu, r.user, r.sys, (double)r.records / r.cpu, (unsigned long long)r.faults,
           whole_db);
    ixdigest_part a[IXDIGEST_PARTS], b[IXDIGEST_PARTS];
    char err[512];
    if (ixdigest_compute(index, a, err, sizeof err) < 0 || ixdigest_compute(whole_db, b, err, sizeof err) < 0)
        die("%s", err);
    int same = 1;
    printf("  content, sliced / whole:");
    for (int i = 0; i < IXDIGEST_PARTS; i++) {
        int eq = a[i].rows == b[i].rows && a[i].digest == b[i].digest;
        same &= eq;
        if (a[i].rows == b[i].rows)
            printf(" %s %llu rows %s;", a[i].name, (unsigned long long)a[i].rows, eq ? "same" : "DIFFERENT");
        else
            printf(" %s %llu / %llu rows DIFFERENT;", a[i].name, (unsigned long long)a[i].rows,
                   (unsigned long long)b[i].rows);
    }
    printf("\n");
    char na[64][64], nb[64][64];
    double ba[64], bb[64];
    int ka = table_bytes(index, na, ba, 64), kb = table_bytes(whole_db, nb, bb, 64);
    double fa = file_bytes(index), fb = file_bytes(whole_db);
    printf("  file: sliced %.1f MB, whole %.1f MB (%+.2f%%), free pages %lld / %lld; per table, MB sliced / whole:",
           fa / 1e6, fb / 1e6, 100.0 * (fa - fb) / fb, free_pages(index), free_pages(whole_db));
    for (int i = 0; i < ka; i++)
        for (int j = 0; j < kb; j++)
            if (strcmp(na[i], nb[j]) == 0 && (ba[i] >= 1e5 || bb[j] >= 1e5))
                printf(" %s %.1f / %.1f,", na[i], ba[i] / 1e6, bb[j] / 1e6);
    printf("\ncontent: %s\n",
           same ? "the same in both (every table's rows, FTS5 terms with their documents and counts)" : "DIFFERENT");
    remove_index(whole_db);
    return same ? 0 : -1;
}

int main(int argc, char **argv) {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); /* as the index does (ix_store.c) */
    options o = {.files = 0, .min_records = 3000, .max_records = 10000, .seed = 7, .days = 10, .reps = 100};
    long want_records = 1050000;
    static const struct option opts[] = {{"records", required_argument, 0, 'n'},
                                         {"files", required_argument, 0, 'f'},
                                         {"min-records", required_argument, 0, 'a'},
                                         {"max-records", required_argument, 0, 'b'},
                                         {"seed", required_argument, 0, 's'},
                                         {"days", required_argument, 0, 'd'},
                                         {"reps", required_argument, 0, 'r'},
                                         {"corpus", required_argument, 0, 'c'},
                                         {"index", required_argument, 0, 'i'},
                                         {"slices", required_argument, 0, 'K'},
                                         {"single", no_argument, 0, 'S'},
                                         {"compare-whole", no_argument, 0, 'W'},
                                         {"skip-index", no_argument, 0, 'k'},
                                         {"ceiling-only", no_argument, 0, 'C'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'n': want_records = atol(optarg) > 0 ? atol(optarg) : 1; break;
        case 'f': o.files = atoi(optarg); break;
        case 'a': o.min_records = atoi(optarg); break;
        case 'b': o.max_records = atoi(optarg); break;
        case 's': o.seed = atoi(optarg); break;
        case 'd': o.days = atoi(optarg); break;
        case 'r': o.reps = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
        case 'c': o.corpus = optarg; break;
        case 'i': o.index = optarg; break;
        case 'K': o.slices = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
        case 'S': o.single = 1; break;
        case 'W': o.compare_whole = 1; break;
        case 'k': o.skip_index = 1; break;
        case 'C': o.ceiling_only = 1; break;
        case 'h':
            printf("usage: bench_index [--records N] [--files N] [--min-records A] [--max-records B] [--seed S]\n"
                   "                   [--days D] [--corpus DIR] [--index FILE] [--reps N] [--slices K | --single]\n"
                   "                   [--compare-whole] [--skip-index] [--ceiling-only]\n"
                   "Defaults: about 1,050,000 records (--records: files of 3000..10000 records, log-uniform, about\n"
                   "5,550 a file; --files sets the count instead), seed 7, 10 days from 2024-05-01, 100 searches\n"
                   "per kind; corpus /tmp/ctindex-bench-index-F-A-B-S (generated once, reused), index\n"
                   "/tmp/ctindex-bench-index.db. --records 50000 is a quick check.\n"
                   "Indexing speed is measured in K slices of the corpus's files (default: one per %d records):\n"
                   "for each, `ctindex replay` of its files appends to the index and FTS5 alone inserts the same\n"
                   "documents' text fields into its own database, the first of the two alternating; the ratio\n"
                   "of the totals is the figure, each slice's ratio printed beside it. --single measures as\n"
                   "before: the ceiling over the whole corpus before and after one replay of the whole corpus.\n"
                   "--compare-whole (slices) replays the whole corpus once more into FILE-whole.db and compares\n"
                   "the two indexes' content and sizes (exit 1 if the content differs).\n"
                   "--skip-index measures the searches on an index already built; --ceiling-only runs the\n"
                   "ceiling alone (for callgrind --toggle-collect=fts_insert_batch*).\n",
                   SLICE_RECORDS);
            return 0;
        default: return 2;
        }
    }
    if (o.single && (o.slices || o.compare_whole)) die("%s", "--single takes neither --slices nor --compare-whole");
    if (o.files <= 0) o.files = (int)((want_records + 5549) / 5550);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) die("%s", "cannot find myself");
    self[n] = '\0';
    snprintf(bindir, sizeof bindir, "%s", self);
    char *slash = strrchr(bindir, '/');
    if (slash) *slash = '\0';
    char corpus[4096], idx[4096], ctgen[4300], ctindex[4300];
    snprintf(corpus, sizeof corpus, "/tmp/ctindex-bench-index-%d-%d-%d-%d", o.files, o.min_records, o.max_records,
             o.seed);
    if (!o.corpus) o.corpus = corpus;
    snprintf(idx, sizeof idx, "/tmp/ctindex-bench-index.db");
    if (!o.index) o.index = idx;
    snprintf(ctgen, sizeof ctgen, "%s/ctgen", bindir);
    snprintf(ctindex, sizeof ctindex, "%s/../ctindex", bindir);
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/AWSLogs", o.corpus);
    struct stat sb;
    struct rusage ru;
    if (stat(probe, &sb) != 0) {
        char f[16], a[16], b[16], s[16], d[16];
        snprintf(f, sizeof f, "%d", o.files);
        snprintf(a, sizeof a, "%d", o.min_records);
        snprintf(b, sizeof b, "%d", o.max_records);
        snprintf(s, sizeof s, "%d", o.seed);
        snprintf(d, sizeof d, "%d", o.days);
        char *av[] = {ctgen,
                      "--out",
                      (char *)o.corpus,
                      "--files",
                      f,
                      "--min-records",
                      a,
                      "--max-records",
                      b,
                      "--seed",
                      s,
                      "--days",
                      d,
                      "--accounts",
                      "3",
                      "--regions",
                      "3",
                      NULL};
        fprintf(stderr, "corpus: generating into %s (once)\n", o.corpus);
        if (run_child(av, "/tmp/ctindex-bench-index-ctgen.log", &ru) != 0) die("%s", "ctgen failed");
    }
    bench_corpus c = {0};
    if (bench_corpus_load_dir(&c, o.corpus) != 0) die("cannot load %s", o.corpus);
    uint64_t records = 0;
    int rc = 0;
    /* next to the index: two runs with different --index do not share files */
    char ceil_db[4200], replay_log[4200], whole_db[4200], sink[4200];
    snprintf(ceil_db, sizeof ceil_db, "%s-ceiling.db", o.index);
    snprintf(replay_log, sizeof replay_log, "%s-replay.log", o.index);
    snprintf(whole_db, sizeof whole_db, "%s-whole.db", o.index);
    snprintf(sink, sizeof sink, "index:%s", o.index);
    if (o.ceiling_only) { /* for instruction counts: callgrind --toggle-collect=fts_insert_batch */
        uint64_t docs = 0;
        double cpu = measure_ceiling(&c, ceil_db, &docs, 0);
        printf("ceiling: %llu documents, %.2f s CPU\n", (unsigned long long)docs, cpu);
        bench_corpus_free(&c);
        return 0;
    }
    /* The files a replay of the folder reads, in its order: both the engine and the ceiling get
     * these (a file the walk skips, such as a digest, would fail the ceiling's pass). */
    bench_blob *order = calloc(c.n ? c.n : 1, sizeof *order);
    if (!order) die("%s", "out of memory");
    bench_corpus logs = {.files = order, .n = replay_order(&c, order)};
    logs.cap = logs.n;
    for (size_t i = 0; i < logs.n; i++) logs.bytes += order[i].len;
    if (!o.skip_index && logs.n == 0) die("no log files under %s", o.corpus);
    if (!o.skip_index && o.single) {
        remove_index(o.index);
        records = run_single(&logs, &o, ctindex, sink, ceil_db, replay_log);
    } else if (!o.skip_index) {
        remove_index(o.index);
        size_t nf = logs.n;
        uint64_t *recs = calloc(nf, sizeof *recs), expect = 0;
        if (!recs) die("%s", "out of memory");
        /* Records per file, to cut slices of equal size (the splitter's count, untimed). */
        ceiling *counter = ceiling_new(1);
        for (size_t i = 0; i < nf; i++) {
            bench_corpus one = {.files = &order[i], .n = 1, .cap = 1, .bytes = order[i].len};
            ceil_totals t;
            if (ceiling_pass(counter, CEIL_SPLIT, &one, &t) != 0) die("cannot read %s", order[i].path);
            recs[i] = t.records;
            expect += t.records;
        }
        ceiling_free(counter);
        int k = o.slices ? o.slices : (int)llround((double)expect / SLICE_RECORDS);
        if (k < 1) k = 1;
        if ((size_t)k > nf) k = (int)nf;
        slice *sl = calloc((size_t)k, sizeof *sl);
        if (!sl) die("%s", "out of memory");
        cut_slices(recs, nf, k, sl);
        printf("corpus: %zu files, %llu records, %.0f MB gzip (%s)\n", nf, (unsigned long long)expect,
               (double)logs.bytes / 1e6, o.corpus);
        printf("method: %d slices of about %llu records, the files in replay order; the engine and the ceiling on "
               "each slice in turn, appending to their growing index and database\n",
               k, (unsigned long long)(expect / (uint64_t)k));
        run_slices(ctindex, sink, order, sl, k, ceil_db, replay_log);
        double fixed = replay_fixed_cost(ctindex, sink, o.index, replay_log);
        print_slice_totals(sl, k, fixed);
        for (int s = 0; s < k; s++) records += sl[s].eng.records;
        if (o.compare_whole && compare_whole(ctindex, &logs, o.index, whole_db, replay_log) != 0) rc = 1;
        free(sl);
        free(recs);
    } else {
        ix_store *s;
        char err[256];
        if (!(s = ix_open(o.index, IX_READ, err, sizeof err))) die("%s", err);
        records = (uint64_t)ix_doc_count(s);
        ix_close(s);
    }
    sizes(o.index, records);
    latency(&o);
    free(order);
    bench_corpus_free(&c);
    return rc;
}
