/* bench_index: the embedded index on a generated corpus of about a million records.
 *
 *   1. corpus: ctgen (reused when already there);
 *   2. the engine: `ctindex replay CORPUS --sink index:FILE`, its CPU (user + sys of every thread,
 *      from wait4) -> records per CPU-second into the index;
 *   3. the ceiling, measured in this run on the same documents: FTS5 alone inserting their text
 *      fields (the index's `text` table: same columns, tokenizer and options, same batches and
 *      pragmas), CPU of the inserts and commits only;
 *   4. size: bytes of the index file per record, and per table;
 *   5. latency: p50/p99 of searches on the index (wall time of ix_search): a literal term, a date
 *      range of one day, an and of two literals, a full-text term on raw, each for the 10 newest
 *      hits, and a top-10 facet on event_name over matchall.
 * Targets (issue 14): engine >= 0.7x the ceiling, <= 1.5 KB per record, p99 <= 100 ms for the
 * four queries and <= 500 ms for the facet. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include "pipeline/batch.h"

extern char **environ;

typedef struct options {
    int files, min_records, max_records, seed, days, reps, skip_index, ceiling_only;
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

static double ru_cpu(const struct rusage *ru) {
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 + (double)ru->ru_stime.tv_sec +
           (double)ru->ru_stime.tv_usec / 1e6;
}

static void remove_index(const char *path) {
    char p[4200];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* ---- the ceiling: FTS5 alone on the documents' text fields ------------------------------ */

typedef struct fts_only {
    sqlite3 *db;
    sqlite3_stmt *ins;
    json_doc jd;
    sdf_op op;
    buf cols[IXT_COLUMNS];
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

/* mapped: a 1 GB map of the file, as the ceiling had before it took the writer's pragmas (the
 * writer maps nothing since its peak RSS reached 1 GB at 1M records): printed apart, to compare
 * with the figures measured then. */
static double measure_ceiling(const bench_corpus *corpus, const char *path, uint64_t *docs, int mapped) {
    remove_index(path);
    fts_only f;
    memset(&f, 0, sizeof f);
    if (sqlite3_open(path, &f.db) != SQLITE_OK) die("cannot create %s", path);
    /* the index's own pragmas (as replay opens it: not durable) and `text` table */
    sqlite3_exec(f.db, IX_COMMON_PRAGMAS "; " IX_WRITER_PRAGMAS "; PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    if (mapped) sqlite3_exec(f.db, "PRAGMA mmap_size=1073741824", NULL, NULL, NULL);
    sqlite3_exec(f.db,
                 "CREATE VIRTUAL TABLE text USING fts5(raw, user_identity_arn, user_agent, error_message, other, "
                 "content='', columnsize=0, tokenize='unicode61 remove_diacritics 2');",
                 NULL, NULL, NULL);
    char hs[128];
    snprintf(hs, sizeof hs, "INSERT INTO text(text, rank) VALUES('hashsize', %d)", IX_FTS_HASH_BYTES);
    sqlite3_exec(f.db, hs, NULL, NULL, NULL);
    sqlite3_prepare_v2(f.db,
                       "INSERT INTO text(rowid, raw, user_identity_arn, user_agent, error_message, other) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                       -1, &f.ins, NULL);
    json_doc_init(&f.jd, SDF_MAX_TOKENS);
    ceiling *c = ceiling_new(1);
    ceiling_on_batch(c, fts_batch, &f);
    ceil_totals t;
    if (ceiling_pass(c, CEIL_BUILD, corpus, &t) != 0) die("%s", "the ceiling pass failed");
    ceiling_free(c);
    sqlite3_finalize(f.ins);
    sqlite3_close(f.db);
    json_doc_free(&f.jd);
    remove_index(path);
    *docs = f.docs;
    return f.cpu;
}

/* ---- latency ---------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

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

static void sizes(const char *path, uint64_t records) {
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return;
    sqlite3_stmt *st;
    struct stat sb;
    if (stat(path, &sb) == 0)
        printf("size: %.1f MB, %.0f bytes per record (target <= 1536)\n", (double)sb.st_size / 1e6,
               (double)sb.st_size / (double)records);
    if (sqlite3_prepare_v2(db, "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC", -1, &st, NULL) ==
        SQLITE_OK) {
        printf("  per table:");
        while (sqlite3_step(st) == SQLITE_ROW) {
            double b = (double)sqlite3_column_int64(st, 1) / (double)records;
            if (b >= 1) printf(" %s %.0f,", sqlite3_column_text(st, 0), b);
        }
        printf(" bytes per record\n");
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
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
        case 'k': o.skip_index = 1; break;
        case 'C': o.ceiling_only = 1; break;
        case 'h':
            printf("usage: bench_index [--records N] [--files N] [--min-records A] [--max-records B] [--seed S]\n"
                   "                   [--days D] [--corpus DIR] [--index FILE] [--reps N] [--skip-index]\n"
                   "                   [--ceiling-only]\n"
                   "Defaults: about 1,050,000 records (--records: files of 3000..10000 records, log-uniform, about\n"
                   "5,550 a file; --files sets the count instead), seed 7, 10 days from 2024-05-01, 100 searches\n"
                   "per kind; corpus /tmp/ctindex-bench-index-F-A-B-S (generated once, reused), index\n"
                   "/tmp/ctindex-bench-index.db. --records 50000 is a quick check.\n"
                   "--skip-index measures the searches on an index already built; --ceiling-only runs the\n"
                   "ceiling alone (for callgrind --toggle-collect=fts_insert_batch*).\n");
            return 0;
        default: return 2;
        }
    }
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
    /* next to the index: two runs with different --index do not share files */
    char ceil_db[4200], replay_log[4200];
    snprintf(ceil_db, sizeof ceil_db, "%s-ceiling.db", o.index);
    snprintf(replay_log, sizeof replay_log, "%s-replay.log", o.index);
    if (o.ceiling_only) { /* for instruction counts: callgrind --toggle-collect=fts_insert_batch */
        uint64_t docs = 0;
        double cpu = measure_ceiling(&c, ceil_db, &docs, 0);
        printf("ceiling: %llu documents, %.2f s CPU\n", (unsigned long long)docs, cpu);
        bench_corpus_free(&c);
        return 0;
    }
    if (!o.skip_index) {
        remove_index(o.index);
        char sink[4200];
        snprintf(sink, sizeof sink, "index:%s", o.index);
        char *av[] = {ctindex, "replay", (char *)o.corpus, "--sink", sink, "--no-progress", NULL};
        /* The machine may be shared: the ceiling is measured before and after the engine and
         * averaged, so a change of load during the run shows as a spread, not as a bias. */
        fprintf(stderr, "ceiling: FTS5 alone on the same documents' text fields\n");
        uint64_t docs = 0;
        double fcpu1 = measure_ceiling(&c, ceil_db, &docs, 0);
        fprintf(stderr, "engine: ctindex replay %s --sink %s\n", o.corpus, sink);
        double w0 = bench_wall_seconds();
        if (run_child(av, replay_log, &ru) != 0) die("%s", "ctindex replay failed");
        double wall = bench_wall_seconds() - w0, cpu = ru_cpu(&ru);
        /* The replay's own peak RSS (VmHWM), from its log: wait4's ru_maxrss also counts this
         * process's pages (the corpus in memory), which posix_spawn's child starts with. */
        double peak_mb = (double)ru.ru_maxrss / 1024.0;
        FILE *lf = fopen(replay_log, "r");
        char line[1024];
        while (lf && fgets(line, sizeof line, lf)) {
            const char *pk = strstr(line, "peak RSS ");
            if (pk) sscanf(pk, "peak RSS %lf MB", &peak_mb);
            sscanf(line, "records: %llu read", (unsigned long long *)&records);
        }
        if (lf) fclose(lf);
        fprintf(stderr, "ceiling again\n");
        double fcpu2 = measure_ceiling(&c, ceil_db, &docs, 0);
        fprintf(stderr, "ceiling with a 1 GB map\n");
        double fcpu_map = measure_ceiling(&c, ceil_db, &docs, 1);
        double fcpu = (fcpu1 + fcpu2) / 2;
        printf("corpus: %zu files, %llu records, %.0f MB gzip (%s)\n", c.n, (unsigned long long)records,
               (double)c.bytes / 1e6, o.corpus);
        printf("engine (ctindex replay into index:, whole path): %.2f s wall, %.2f s CPU (user %.2f, sys %.2f), "
               "%.0f records per CPU-second, peak RSS %.1f MB\n",
               wall, cpu, (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, (double)records / cpu, peak_mb);
        printf("ceiling (FTS5 alone, text fields of the same %llu documents): %.2f s CPU (%.2f before the engine, "
               "%.2f after), %.0f documents per CPU-second\n",
               (unsigned long long)docs, fcpu, fcpu1, fcpu2, (double)docs / fcpu);
        double ratio = ((double)records / cpu) / ((double)docs / fcpu);
        printf("ratio: %.2fx of the ceiling (target >= 0.70: %s)\n", ratio, ratio >= 0.7 ? "met" : "NOT met");
        printf("ceiling with a 1 GB map of the file (the writer maps none): %.2f s CPU, %.0f documents per CPU-second: "
               "ratio %.2fx\n",
               fcpu_map, (double)docs / fcpu_map, ((double)records / cpu) / ((double)docs / fcpu_map));
    } else {
        ix_store *s;
        char err[256];
        if (!(s = ix_open(o.index, IX_READ, err, sizeof err))) die("%s", err);
        records = (uint64_t)ix_doc_count(s);
        ix_close(s);
    }
    sizes(o.index, records);
    latency(&o);
    bench_corpus_free(&c);
    return 0;
}
