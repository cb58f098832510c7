/* bench_e2e: the whole flow, SQS -> S3 -> CloudSearch, measured in one command.
 *
 * It makes (or reuses) a ctgen corpus, measures the ceilings on it (inflate only, inflate +
 * split + tokenize, the whole CPU path without I/O), then starts fakeaws serving that corpus on
 * one core and the real engine, `ctindex run --queue ... --sink cloudsearch:...`, pinned to the
 * other (what `taskset -c` does), and watches it until every message is deleted. The engine's
 * CPU time and peak RSS come from wait4(); its allocations from libctalloc.so (LD_PRELOAD,
 * counters in a shared file sampled while it runs); progress and the documents that arrived
 * from fakeaws's /_fake/stats. Every record of the corpus must arrive: a lost one fails the run.
 *
 * Steady state is the part of the run between 10% and 90% of the documents accepted: startup
 * (first receive, first download) and the tail (last upload) are left out of the per-record
 * allocation and CPU figures.
 *
 * Run `bench_e2e --help` for the options. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "alloc_wrap.h"
#include "base/json.h"
#include "benchlib.h"

#define MAX_EXTRA_ARGS 32
#define STATS_MAX (64u * 1024u)
#define POLL_MS 20
/* OpenSSL's capability mask: after the colon, the CPUID leaf 7 word; bit 29 of its EBX half is the
 * SHA extensions. Masked, libcrypto hashes as on a CPU without them (a t2.micro's Haswell/Broadwell). */
#define OPENSSL_CAP_ENV "OPENSSL_ia32cap"
#define NO_SHA_EXT_MASK ":~0x20000000"

extern char **environ;

typedef struct options {
    const char *corpus;
    int files, min_records, max_records, seed;
    int engine_cpu, fake_cpu; /* -1 with --no-pin: left to the scheduler */
    int repeat;
    int reps;
    int engine_reps; /* --engine-reps: runs of the engine, the median run reported */
    int timeout_s;
    int keep;
    const char *perf_out;      /* --perf FILE: perf record the engine */
    const char *callgrind_out; /* --callgrind FILE: run the engine under callgrind */
    int include_raw;
    int no_sha_ext; /* --no-sha-ext: the engine's OpenSSL without the SHA extensions */
    char *extra[MAX_EXTRA_ARGS];
    int nextra;
} options;

/* What the driver samples while the engine runs. */
typedef struct sample {
    double wall;
    double engine_cpu, fake_cpu; /* seconds, from /proc/PID/stat */
    uint64_t allocs;
    uint64_t docs, doc_bytes, requests, msgs_deleted, msgs_total, rejected;
    uint64_t core_busy, core_total; /* the engine core, from /proc/stat (ticks) */
    double engine_peak_mb;          /* VmHWM */
    int valid;
} sample;

static char bindir[4096];
static char workdir[4096] = "";

/* ---- small helpers --------------------------------------------------------------------- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static pid_t engine_pid = -1, fake_pid = -1, perf_pid = -1;

static void stop_children(void) {
    pid_t *pids[] = {&perf_pid, &engine_pid, &fake_pid};
    for (int i = 0; i < 3; i++)
        if (*pids[i] > 0) kill(*pids[i], SIGKILL);
    for (int i = 0; i < 3; i++)
        if (*pids[i] > 0) waitpid(*pids[i], NULL, 0);
    perf_pid = engine_pid = fake_pid = -1;
}

static void vsay(const char *fmt, va_list ap) {
    fputs("bench_e2e: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
    stop_children();
    if (workdir[0]) fprintf(stderr, "bench_e2e: logs kept in %s\n", workdir);
    exit(1);
}

/* Long work says what it is doing, on stderr; the report goes to stdout. */
static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
}

static void path_in(char *out, size_t cap, const char *dir, const char *name) {
    if (snprintf(out, cap, "%s/%s", dir, name) >= (int)cap) die("path too long: %s/%s", dir, name);
}

static void find_bindir(void) {
    ssize_t n = readlink("/proc/self/exe", bindir, sizeof bindir - 1);
    if (n <= 0) die("cannot read /proc/self/exe: %s", strerror(errno));
    bindir[n] = '\0';
    char *slash = strrchr(bindir, '/');
    if (!slash) die("odd executable path %s", bindir);
    *slash = '\0';
}

static void need_exec(const char *path) {
    if (access(path, X_OK) != 0) die("%s: %s (build the whole project first)", path, strerror(errno));
}

/* cpu < 0: not pinned (--no-pin), nothing to do. */
static int pin_to(pid_t pid, int cpu) {
    if (cpu < 0) return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(pid, sizeof set, &set);
}

/* fork + exec with stdout/stderr into files and the child pinned to one CPU. The child dies
 * with the driver (PR_SET_PDEATHSIG), so nothing is left running after a crash or ^C. */
static pid_t spawn(char *const argv[], int cpu, const char *out_path, const char *err_path,
                   const char *const *env_set) {
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid > 0) return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (cpu >= 0 && pin_to(0, cpu) != 0) {
        fprintf(stderr, "cannot pin to CPU %d: %s\n", cpu, strerror(errno));
        _exit(127);
    }
    int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = err_path ? open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : fo;
    if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0) _exit(127);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    if (env_set) {
        /* The engine must see only the fake: no profile, token or endpoint from the caller. */
        char names[64][128];
        int nn = 0;
        for (char **e = environ; *e && nn < 64; e++) {
            const char *eq = strchr(*e, '=');
            if (strncmp(*e, "AWS_", 4) == 0 && eq && (size_t)(eq - *e) < sizeof names[0]) {
                memcpy(names[nn], *e, (size_t)(eq - *e));
                names[nn++][eq - *e] = '\0';
            }
        }
        for (int i = 0; i < nn; i++) unsetenv(names[i]);
        unsetenv(OPENSSL_CAP_ENV); /* the CPU features are the run's choice (--no-sha-ext), not inherited */
        for (const char *const *kv = env_set; kv[0]; kv += 2) setenv(kv[0], kv[1], 1);
    }
    execv(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static int run_to_end(char *const argv[], const char *log_path) {
    pid_t pid = spawn(argv, -1, log_path, NULL, NULL);
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void print_tail(const char *path, int lines) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    static char ring[32][512];
    int n = 0;
    while (fgets(ring[n % 32], sizeof ring[0], f)) n++;
    fclose(f);
    int first = n > lines ? n - lines : 0;
    fprintf(stderr, "---- last lines of %s\n", path);
    for (int i = first; i < n; i++) fputs(ring[i % 32], stderr);
}

/* ---- corpus ---------------------------------------------------------------------------- */

static int dir_has_files(const char *dir) {
    char probe[4096];
    path_in(probe, sizeof probe, dir, "AWSLogs");
    struct stat sb;
    return stat(probe, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void ensure_corpus(const options *o) {
    if (dir_has_files(o->corpus)) {
        progress("corpus: reusing %s", o->corpus);
        return;
    }
    char ctgen[4096], files[16], lo[16], hi[16], seed[16], log[4096];
    path_in(ctgen, sizeof ctgen, bindir, "ctgen");
    need_exec(ctgen);
    snprintf(files, sizeof files, "%d", o->files);
    snprintf(lo, sizeof lo, "%d", o->min_records);
    snprintf(hi, sizeof hi, "%d", o->max_records);
    snprintf(seed, sizeof seed, "%d", o->seed);
    path_in(log, sizeof log, workdir, "ctgen.log");
    char *argv[] = {ctgen,           "--out", (char *)o->corpus, "--files", files, "--min-records", lo,
                    "--max-records", hi,      "--seed",          seed,      NULL};
    progress("corpus: generating %d files of %d..%d records into %s (once; reused next time)", o->files, o->min_records,
             o->max_records, o->corpus);
    if (run_to_end(argv, log) != 0) {
        print_tail(log, 10);
        die("ctgen failed");
    }
}

/* ---- /proc ----------------------------------------------------------------------------- */

static double proc_cpu_seconds(pid_t pid) {
    char path[64], line[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')'); /* the command name may hold spaces */
    if (!p) return -1;
    unsigned long long ut = 0, st = 0;
    /* fields after ')': state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Peak RSS of the process since its exec. (wait4's ru_maxrss would also count the driver's
 * pages the child held between fork and exec.) */
static double proc_peak_rss_mb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    double mb = -1;
    unsigned long kb;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lu kB", &kb) == 1) mb = (double)kb / 1024.0;
    fclose(f);
    return mb;
}

static void proc_core(int cpu, uint64_t *busy, uint64_t *total) {
    char want[16], line[512];
    snprintf(want, sizeof want, "cpu%d ", cpu);
    *busy = *total = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, want, strlen(want)) != 0) continue;
        unsigned long long v[8] = {0};
        sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &v[6], &v[7]);
        for (int i = 0; i < 8; i++) *total += v[i];
        *busy = *total - v[3] - v[4]; /* minus idle and iowait */
        break;
    }
    fclose(f);
}

/* ---- fakeaws stats --------------------------------------------------------------------- */

static int stats_u64(const json_doc *d, const char *path, uint64_t *out) {
    int t = json_path(d, 0, path);
    int64_t v;
    if (t < 0 || json_tok_int64(d, t, &v) != 0 || v < 0) return -1;
    *out = (uint64_t)v;
    return 0;
}

/* GET /_fake/stats on a fresh connection (Connection: close keeps this trivially correct). */
static int fetch_stats(int port, sample *s) {
    static char resp[STATS_MAX + 1];
    static json_doc doc;
    if (!doc.toks && json_doc_init(&doc, 512) != JSON_OK) return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char rq[] = "GET /_fake/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    size_t len = 0;
    int ok =
        connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, rq, sizeof rq - 1) == (ssize_t)(sizeof rq - 1);
    while (ok && len < STATS_MAX) {
        ssize_t n = read(fd, resp + len, STATS_MAX - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd);
    resp[len] = '\0';
    const char *body = ok ? strstr(resp, "\r\n\r\n") : NULL;
    if (!body || strncmp(resp, "HTTP/1.1 200", 12) != 0) return -1;
    body += 4;
    if (json_parse(&doc, body, (size_t)(resp + len - body)) != JSON_OK) return -1;
    int64_t v = 0;
    int rc = stats_u64(&doc, "documents_accepted", &s->docs) | stats_u64(&doc, "document_bytes", &s->doc_bytes) |
             stats_u64(&doc, "messages.total", &s->msgs_total) | stats_u64(&doc, "messages.deleted", &s->msgs_deleted) |
             stats_u64(&doc, "rejected_batches", &s->rejected);
    /* Requests the engine made: every counter but the driver's own stats polls. */
    int req = json_obj_get(&doc, 0, "requests");
    s->requests = 0;
    for (int k = req + 1; req >= 0 && k < (int)doc.ntoks && doc.toks[k].start < doc.toks[req].end; k += 2) {
        if (json_tok_streq(&doc, k, "stats")) continue;
        if (json_tok_int64(&doc, k + 1, &v) == 0 && v > 0) s->requests += (uint64_t)v;
    }
    return rc ? -1 : 0;
}

/* ---- the run --------------------------------------------------------------------------- */

typedef struct run_result {
    sample start, a, b, end; /* engine start, 10%, 90%, all messages deleted */
    struct rusage engine_ru, fake_ru;
    int engine_status;
    uint64_t expected_docs;
    uint64_t instructions; /* --callgrind: the engine's, whole run */
    char fake_final[STATS_MAX];
} run_result;

static void take_sample(sample *s, int port, const ctalloc_counters *ac, int engine_cpu) {
    sample t = {0};
    t.wall = bench_wall_seconds();
    if (fetch_stats(port, &t) != 0) return;
    t.engine_cpu = proc_cpu_seconds(engine_pid);
    t.engine_peak_mb = proc_peak_rss_mb(engine_pid);
    t.fake_cpu = proc_cpu_seconds(fake_pid);
    t.allocs = ac ? ctalloc_load(&ac->allocs) : 0;
    if (engine_cpu >= 0) proc_core(engine_cpu, &t.core_busy, &t.core_total);
    t.valid = 1;
    *s = t;
}

static void wait_ready(const char *ready, int *port) {
    for (int i = 0; i < 1200; i++) { /* fakeaws reads the whole corpus into memory first */
        FILE *f = fopen(ready, "r");
        if (f) {
            int ok = fscanf(f, "%d", port) == 1;
            fclose(f);
            if (ok) return;
        }
        int status;
        if (waitpid(fake_pid, &status, WNOHANG) == fake_pid) {
            fake_pid = -1;
            die("fakeaws exited before it was ready (see %s/fakeaws.log)", workdir);
        }
        usleep(100 * 1000);
    }
    die("fakeaws was not ready after 120 s");
}

static void run_engine(const options *o, uint64_t expected_records, run_result *r) {
    char fakeaws[4096], ctindex[4096], ready[4096], fout[4096], flog[4096], elog[4096], dead[4096], counters[4096],
        preload[4096], repeat[16];
    path_in(fakeaws, sizeof fakeaws, bindir, "fakeaws");
    path_in(ctindex, sizeof ctindex, bindir, "../ctindex");
    path_in(preload, sizeof preload, bindir, "libctalloc.so");
    need_exec(fakeaws);
    need_exec(ctindex);
    path_in(ready, sizeof ready, workdir, "fakeaws.port");
    path_in(fout, sizeof fout, workdir, "fakeaws.out");
    path_in(flog, sizeof flog, workdir, "fakeaws.log");
    path_in(elog, sizeof elog, workdir, "engine.log");
    path_in(dead, sizeof dead, workdir, "dead-letter.jsonl");
    path_in(counters, sizeof counters, workdir, "alloc.counters");
    snprintf(repeat, sizeof repeat, "%d", o->repeat);
    r->expected_docs = expected_records * (uint64_t)o->repeat;

    unlink(ready); /* a file left by the previous run names that run's port */
    char *fargv[] = {fakeaws, "--port",       "0",   "--dir", (char *)o->corpus, "--repeat",
                     repeat,  "--ready-file", ready, NULL};
    fake_pid = spawn(fargv, o->fake_cpu, fout, flog, NULL);
    int port = 0;
    wait_ready(ready, &port);

    /* The allocation counters: a file the preloaded library maps and counts into. */
    ctalloc_counters *ac = NULL;
    int use_counter = ALLOC_WRAP_ACTIVE && !o->callgrind_out && access(preload, R_OK) == 0;
    if (use_counter) {
        int fd = open(counters, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || ftruncate(fd, CTALLOC_FILE_SIZE) != 0) die("%s: %s", counters, strerror(errno));
        void *m = mmap(NULL, CTALLOC_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED) die("mmap %s: %s", counters, strerror(errno));
        ac = m;
    }

    char endpoint[64], queue[128], sink[96];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", port);
    snprintf(queue, sizeof queue, "%s/000000000000/fakeaws-queue", endpoint);
    snprintf(sink, sizeof sink, "cloudsearch:%s", endpoint);
    char *eargv[20 + MAX_EXTRA_ARGS];
    int na = 0;
    char cg_arg[4200];
    if (o->callgrind_out) {
        /* Instruction counts do not depend on what else the machine runs. valgrind brings its
         * own allocator, so no allocation counter then. */
        snprintf(cg_arg, sizeof cg_arg, "--callgrind-out-file=%s", o->callgrind_out);
        eargv[na++] = "/usr/bin/valgrind";
        eargv[na++] = "--tool=callgrind";
        eargv[na++] = cg_arg;
    }
    eargv[na++] = ctindex;
    eargv[na++] = "run";
    eargv[na++] = "--queue";
    eargv[na++] = queue;
    eargv[na++] = "--sink";
    eargv[na++] = sink;
    eargv[na++] = "--dead-letter";
    eargv[na++] = dead;
    eargv[na++] = "--stats-interval";
    eargv[na++] = "0";
    for (int i = 0; i < o->nextra; i++) eargv[na++] = o->extra[i];
    eargv[na] = NULL;
    const char *env[24] = {"AWS_ACCESS_KEY_ID",
                           "AKIDBENCHMARK",
                           "AWS_SECRET_ACCESS_KEY",
                           "bench-secret",
                           "AWS_REGION",
                           "us-east-1",
                           "AWS_ENDPOINT_URL",
                           endpoint,
                           "AWS_EC2_METADATA_DISABLED",
                           "true",
                           "AWS_CONFIG_FILE",
                           "/dev/null",
                           "AWS_SHARED_CREDENTIALS_FILE",
                           "/dev/null"};
    int ne = 14;
    if (o->no_sha_ext) {
        env[ne++] = OPENSSL_CAP_ENV;
        env[ne++] = NO_SHA_EXT_MASK;
    }
    if (use_counter) {
        env[ne++] = "LD_PRELOAD";
        env[ne++] = preload;
        env[ne++] = CTALLOC_ENV;
        env[ne++] = counters;
    }
    env[ne] = env[ne + 1] = NULL;
    /* The driver only polls: keep it off the engine's core. */
    pin_to(0, o->fake_cpu);
    r->start.wall = bench_wall_seconds();
    engine_pid = spawn(eargv, o->engine_cpu, elog, NULL, env);
    if (o->perf_out) {
        /* Attached from the fake's core, so the engine's core runs only the engine. */
        char pid[16], plog[4096];
        snprintf(pid, sizeof pid, "%d", (int)engine_pid);
        path_in(plog, sizeof plog, workdir, "perf.log");
        char *pargv[] = {"/usr/bin/perf", "record", "-F", "1999", "-g", "-p", pid, "-o", (char *)o->perf_out, NULL};
        perf_pid = spawn(pargv, o->fake_cpu, plog, NULL, NULL);
    }

    uint64_t last_docs = 0;
    double last_change = bench_wall_seconds(), last_print = last_change;
    for (;;) {
        usleep(POLL_MS * 1000);
        int status;
        if (waitpid(engine_pid, &status, WNOHANG) == engine_pid) {
            engine_pid = -1;
            print_tail(elog, 15);
            die("the engine exited before the queue was drained (status %d)", status);
        }
        sample s;
        s.valid = 0;
        take_sample(&s, port, ac, o->engine_cpu);
        if (!s.valid) continue;
        if (!r->a.valid && s.docs >= r->expected_docs / 10) r->a = s;
        if (!r->b.valid && s.docs >= r->expected_docs - r->expected_docs / 10) r->b = s;
        if (s.docs != last_docs) {
            last_docs = s.docs;
            last_change = s.wall;
        }
        if (s.wall - last_print >= 2.0) {
            last_print = s.wall;
            progress("engine: %llu of %llu documents, %llu of %llu messages deleted", (unsigned long long)s.docs,
                     (unsigned long long)r->expected_docs, (unsigned long long)s.msgs_deleted,
                     (unsigned long long)s.msgs_total);
        }
        if (s.msgs_total > 0 && s.msgs_deleted == s.msgs_total) {
            r->end = s;
            break;
        }
        if (s.wall - last_change > o->timeout_s) {
            print_tail(elog, 15);
            die("no progress for %d s (%llu of %llu documents)", o->timeout_s, (unsigned long long)s.docs,
                (unsigned long long)r->expected_docs);
        }
    }
    if (perf_pid > 0) {
        kill(perf_pid, SIGINT); /* perf writes its file and exits */
        waitpid(perf_pid, NULL, 0);
        perf_pid = -1;
    }
    /* SIGTERM: the engine drains (nothing is left) and exits 0. */
    kill(engine_pid, SIGTERM);
    int status;
    if (wait4(engine_pid, &status, 0, &r->engine_ru) < 0) die("wait4: %s", strerror(errno));
    engine_pid = -1;
    r->engine_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (ac) r->end.allocs = ctalloc_load(&ac->allocs);
    kill(fake_pid, SIGTERM); /* prints its final stats line on stdout */
    if (wait4(fake_pid, &status, 0, &r->fake_ru) < 0) die("wait4: %s", strerror(errno));
    fake_pid = -1;
    FILE *f = fopen(fout, "r");
    r->fake_final[0] = '\0';
    if (f) {
        char line[STATS_MAX];
        while (fgets(line, sizeof line, f))
            if (line[0] == '{') snprintf(r->fake_final, sizeof r->fake_final, "%s", line);
        fclose(f);
    }
    if (ac) {
        if (ctalloc_load(&ac->magic) != CTALLOC_MAGIC) r->end.allocs = r->a.allocs = r->b.allocs = UINT64_MAX;
        munmap(ac, CTALLOC_FILE_SIZE);
    }
    if (o->callgrind_out) {
        FILE *cg = fopen(o->callgrind_out, "r");
        char line[256];
        unsigned long long ir;
        while (cg && fgets(line, sizeof line, cg))
            if (sscanf(line, "summary: %llu", &ir) == 1 || sscanf(line, "totals: %llu", &ir) == 1) r->instructions = ir;
        if (cg) fclose(cg);
    }
    pin_to(0, o->engine_cpu);
}

/* ---- report ---------------------------------------------------------------------------- */

static const ceil_mode shown[] = {CEIL_INFLATE, CEIL_TOKENIZE, CEIL_BUILD};
#define NSHOWN (sizeof shown / sizeof shown[0])

typedef struct ceilings {
    const char *inflater;
    ceil_result r[CEIL_NMODES];
    uint64_t allocs[CEIL_NMODES]; /* allocation calls during the passes (this process) */
} ceilings;

static double ru_cpu(const struct rusage *ru, int sys) {
    const struct timeval *tv = sys ? &ru->ru_stime : &ru->ru_utime;
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static const char *yes_no(int ok) { return ok ? "met" : "NOT met"; }

/* Whether this CPU has the SHA extensions (CPUID leaf 7, EBX bit 29), as OpenSSL reads it. */
static int cpu_has_sha_ext(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 29 & 1);
#else
    return 0;
#endif
}

static const char *sha_ext_state(const options *o) {
    if (!cpu_has_sha_ext()) return "SHA extensions absent (this CPU)";
    return o->no_sha_ext ? "SHA extensions masked (" OPENSSL_CAP_ENV "=" NO_SHA_EXT_MASK ")" : "SHA extensions on";
}

/* Records per CPU-second of a run: whole run, and the steady window (0 when it has none). */
static double run_rpcpu(const run_result *r) {
    double cpu = ru_cpu(&r->engine_ru, 0) + ru_cpu(&r->engine_ru, 1);
    return cpu > 0 ? (double)r->expected_docs / cpu : 0;
}

static double run_steady_rpcpu(const run_result *r) {
    double win_cpu = r->b.engine_cpu - r->a.engine_cpu;
    return r->a.valid && r->b.valid && win_cpu > 0 ? (double)(r->b.docs - r->a.docs) / win_cpu : 0;
}

/* A run that lost records, failed or had batches rejected: it fails the whole bench. */
static int run_failed(const run_result *r) {
    return r->end.docs < r->expected_docs || r->engine_status != 0 || r->end.rejected != 0;
}

/* The run whose whole-run records per CPU-second is the median of the n runs (the lower one of
 * the middle two when n is even), so every figure printed comes from one real run. */
static int median_run(const run_result *runs, int n) {
    int order[64];
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++) /* insertion sort: n is small */
        for (int j = i; j > 0 && run_rpcpu(&runs[order[j]]) < run_rpcpu(&runs[order[j - 1]]); j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    return order[(n - 1) / 2];
}

/* One line: every run's figures and their spread ((max - min) / median), the median run marked. */
static void report_runs(const run_result *runs, int n, int shown_run) {
    double lo = 0, hi = 0, slo = 0, shi = 0;
    printf("runs       %d engine run%s, the median one (by records per CPU-second) shown:", n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++) {
        double v = run_rpcpu(&runs[i]), sv = run_steady_rpcpu(&runs[i]);
        printf(" %.0f%s", v, i == shown_run ? "*" : "");
        if (i == 0 || v < lo) lo = v;
        if (i == 0 || v > hi) hi = v;
        if (i == 0 || sv < slo) slo = sv;
        if (i == 0 || sv > shi) shi = sv;
    }
    double med = run_rpcpu(&runs[shown_run]), smed = run_steady_rpcpu(&runs[shown_run]);
    printf("\n           spread %.0f%% of the median", med > 0 ? (hi - lo) / med * 100 : 0);
    if (slo > 0 && smed > 0) printf(" (steady %.0f..%.0f, %.0f%%)\n", slo, shi, (shi - slo) / smed * 100);
    else printf(" (a run without a steady window)\n");
}

static void report(const options *o, const bench_corpus *c, const ceil_totals *corpus_t, const ceilings *cs,
                   const run_result *runs, int nruns, int shown_run) {
    const run_result *r = &runs[shown_run];
    double wall = r->end.wall - r->start.wall;
    double ucpu = ru_cpu(&r->engine_ru, 0), scpu = ru_cpu(&r->engine_ru, 1), cpu = ucpu + scpu;
    double fcpu = ru_cpu(&r->fake_ru, 0) + ru_cpu(&r->fake_ru, 1);
    double recs = (double)r->expected_docs;
    double json_mb = (double)corpus_t->json_bytes * o->repeat / 1e6;
    double rps = recs / wall, rpcpu = recs / cpu;
    double peak_mb = r->end.engine_peak_mb;
    const sample *a = &r->a, *b = &r->b;
    double win_wall = b->wall - a->wall, win_cpu = b->engine_cpu - a->engine_cpu;
    double win_docs = (double)(b->docs - a->docs);
    double steady_rpcpu = win_cpu > 0 ? win_docs / win_cpu : 0;
    double core_busy = b->core_total > a->core_total
                           ? (double)(b->core_busy - a->core_busy) / (double)(b->core_total - a->core_total)
                           : 0;
    double share = win_wall > 0 ? win_cpu / win_wall : 0;
    double fake_share = win_wall > 0 ? (b->fake_cpu - a->fake_cpu) / win_wall : 0;

    printf("\n== ctindex end to end: SQS -> S3 -> CloudSearch against fakeaws ==\n");
    double rec_json = corpus_t->records ? (double)corpus_t->record_bytes / (double)corpus_t->records : 0.0;
    printf("corpus     %s: %zu files, %llu records (%d..%d per file), %.1f MB JSON, %.1f MB gzip, %.0f B/record%s\n",
           o->corpus, c->n, (unsigned long long)corpus_t->records, o->min_records, o->max_records,
           (double)corpus_t->json_bytes / 1e6, (double)c->bytes / 1e6, rec_json,
           o->repeat > 1 ? " (each file queued --repeat times)" : "");
    char where[64] = "not pinned (--no-pin)";
    if (o->engine_cpu >= 0) snprintf(where, sizeof where, "CPU %d; fakeaws on CPU %d", o->engine_cpu, o->fake_cpu);
    printf("engine     ctindex run, default concurrency%s%s, inflater %s, %s; %s\n",
           o->include_raw ? ", raw on" : ", raw off", o->nextra ? " + extra options" : "", cs->inflater,
           sha_ext_state(o), where);
    for (int i = 0; i < o->nextra; i++) printf("%s%s", i ? " " : "           options: ", o->extra[i]);
    if (o->nextra) printf("\n");
    printf("documents  %llu accepted of %llu expected, %llu rejected batches, %llu messages deleted; engine exit %d\n",
           (unsigned long long)r->end.docs, (unsigned long long)r->expected_docs, (unsigned long long)r->end.rejected,
           (unsigned long long)r->end.msgs_deleted, r->engine_status);
    /* Bytes the sink takes (and SigV4 hashes, and the kernel copies) per record, beside the record. */
    double doc_b = r->end.docs ? (double)r->end.doc_bytes / (double)r->end.docs : 0.0;
    printf("doc bytes  %.0f B/record, %.2fx of the record JSON\n", doc_b, rec_json > 0 ? doc_b / rec_json : 0.0);
    printf("\nwhole run  %.2f s wall: %9.0f records/s  %7.1f MB/s of JSON\n", wall, rps, json_mb / wall);
    printf("engine CPU %.2f s (user %.2f, sys %.2f): %9.0f records per CPU-second (%.2f us/record)\n", cpu, ucpu, scpu,
           rpcpu, cpu / recs * 1e6);
    report_runs(runs, nruns, shown_run);
    /* A window of under 0.2 s or 1000 documents says more about polling than about the engine. */
    int steady = a->valid && b->valid && win_wall >= 0.2 && win_docs >= 1000;
    if (steady) {
        printf("steady     10%%..90%% of the documents: %.2f s wall, %9.0f records/s, %9.0f records per CPU-second\n",
               win_wall, win_docs / win_wall, steady_rpcpu);
        if (o->engine_cpu >= 0)
            printf("           engine used %.0f%% of its core, the core was %.0f%% busy in all%s\n", share * 100,
                   core_busy * 100,
                   core_busy - share > 0.05 ? " (other processes shared it: trust the CPU figures, not wall)" : "");
        else printf("           engine used %.0f%% of a core\n", share * 100);
        printf("           fakeaws used %.0f%% of its core (%.2f s CPU in the whole run)%s\n", fake_share * 100, fcpu,
               fake_share < 0.7 ? ": not the bottleneck" : ": close to saturation, the figures may be the fake's");
    } else {
        printf("steady     the run is too short for a steady-state window: use a larger corpus\n");
    }
    if (o->callgrind_out)
        printf("callgrind  %llu instructions: %.0f per record (the CPU and RSS figures are valgrind's)\n",
               (unsigned long long)r->instructions, (double)r->instructions / recs);
    printf("peak RSS   %.1f MB (engine, VmHWM at the end of the run)\n", peak_mb);
    /* Each fault costs a kernel entry and a zeroed page: memory released and taken again per request shows here. */
    printf("faults     %ld minor page faults of the engine (%.3f per record)\n", r->engine_ru.ru_minflt,
           (double)r->engine_ru.ru_minflt / recs);
    int counted = ALLOC_WRAP_ACTIVE && r->end.allocs != 0 && r->end.allocs != UINT64_MAX;
    double per_rec = 0, per_req = 0;
    if (!counted) {
        printf("allocs     not counted (%s)\n", !ALLOC_WRAP_ACTIVE ? "sanitizer build"
                                                : r->end.allocs    ? "libctalloc.so did not map the counter file"
                                                                   : "libctalloc.so missing");
    } else {
        if (steady) {
            uint64_t win_allocs = b->allocs - a->allocs, win_reqs = b->requests - a->requests;
            per_rec = (double)win_allocs / win_docs;
            per_req = win_reqs ? (double)win_allocs / (double)win_reqs : 0.0;
            printf("allocs     steady state: %llu for %.0f records = %.4f per record; %llu HTTP requests = %.1f per "
                   "request\n",
                   (unsigned long long)win_allocs, win_docs, per_rec, (unsigned long long)win_reqs, per_req);
        }
        printf("%s whole run: %llu (%.4f per record)\n", steady ? "          " : "allocs    ",
               (unsigned long long)r->end.allocs, (double)r->end.allocs / recs);
    }
    printf("\nceilings   same corpus, one core, no I/O, CPU time (median of %d passes); engine records per\n"
           "           CPU-second (whole run, steady state) and records/s (wall) as a fraction of each\n",
           cs->r[CEIL_INFLATE].reps);
    for (size_t i = 0; i < NSHOWN; i++) {
        const ceil_result *x = &cs->r[shown[i]];
        double crps = (double)corpus_t->records / x->median;
        char st[32] = "-";
        if (steady) snprintf(st, sizeof st, "%.2fx", steady_rpcpu / crps);
        printf("  %-28s %7.1f MB/s %9.0f records/s   engine %.2fx (steady %s, wall %.2fx)\n", ceil_mode_name(shown[i]),
               (double)x->t.json_bytes / 1e6 / x->median, crps, rpcpu / crps, st, rps / crps);
    }
    const ceil_result *cb = &cs->r[CEIL_BUILD];
    if (ALLOC_WRAP_ACTIVE)
        printf("  per-record path (%s, %d passes): %llu allocations for %llu records\n", ceil_mode_name(CEIL_BUILD),
               cb->reps + 1, (unsigned long long)cs->allocs[CEIL_BUILD],
               (unsigned long long)(corpus_t->records * (uint64_t)(cb->reps + 1)));
    double inflate_rps = (double)corpus_t->records / cs->r[CEIL_INFLATE].median;
    printf("\ntargets    >= 200k records/s on one core: %s (%.0f wall, %.0f per CPU-second)\n", yes_no(rps >= 200000),
           rps, rpcpu);
    printf("           >= 0.5x inflate-only: %s (%.2fx per CPU-second)\n", yes_no(rpcpu >= 0.5 * inflate_rps),
           rpcpu / inflate_rps);
    printf("           peak RSS <= 64 MB: %s (%.1f MB)\n", yes_no(peak_mb <= 64.0), peak_mb);
    if (ALLOC_WRAP_ACTIVE) {
        uint64_t path_allocs = cs->allocs[CEIL_BUILD];
        printf("           0 allocations per record in steady state: %s in the per-record path (%llu allocations)",
               yes_no(path_allocs == 0), (unsigned long long)path_allocs);
        if (counted && steady) printf("; the engine: %.4f per record, %.1f per HTTP request", per_rec, per_req);
        printf("\n");
    }
}

/* ---- main ------------------------------------------------------------------------------ */

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: bench_e2e [--corpus DIR] [--files N] [--min-records A] [--max-records B] [--seed S]\n"
        "                 [--engine-cpu C] [--fake-cpu C] [--no-pin] [--repeat R] [--reps N] [--timeout S] [--keep]\n"
        "                 [--engine-reps N]\n"
        "                 [--no-sha-ext] [--perf FILE] [--callgrind FILE]\n"
        "                 [-- CTINDEX-RUN-OPTION...]\n"
        "\n"
        "Runs the whole flow (SQS -> S3 -> CloudSearch) with `ctindex run` pinned to one core against\n"
        "fakeaws on another, and prints records/s, MB/s of JSON, records per CPU-second, peak RSS,\n"
        "allocations per record of the engine and the document bytes per record the fake accepted,\n"
        "beside the ceilings measured on the same corpus:\n"
        "inflate only, inflate + split + tokenize, inflate + split + build (the CPU path without I/O).\n"
        "Fails (exit 1) if any record of the corpus does not reach the fake CloudSearch.\n"
        "\n"
        "  --corpus DIR        ctgen corpus to use; generated there first if DIR has no AWSLogs/\n"
        "                      (default /tmp/ctindex-bench-FILES-A-B-S)\n"
        "  --files N           files to generate (default 40)\n"
        "  --min-records A     fewest records per file (default 2)\n"
        "  --max-records B     most records per file, log-uniform (default 50000)\n"
        "  --seed S            ctgen seed (default 1)\n"
        "  --engine-cpu C      core for the engine and the ceilings (default 0)\n"
        "  --fake-cpu C        core for fakeaws and this driver's polling (default 1)\n"
        "  --no-pin            pin nothing: leave the engine, fakeaws and this driver to the scheduler\n"
        "                      (tests on a busy machine, where a pinned core may be taken by others)\n"
        "  --repeat R          queue every file R times (fakeaws --repeat; default 1)\n"
        "  --reps N            timed passes per ceiling, median printed (default 3)\n"
        "  --engine-reps N     runs of the engine, each against a fresh fakeaws; the run with the median\n"
        "                      records per CPU-second is reported, beside every run's figure and their\n"
        "                      spread (default 3; 1 with --perf or --callgrind)\n"
        "  --timeout S         fail after S seconds without a document arriving (default 120)\n"
        "  --keep              keep the work directory (logs, dead letters)\n"
        "  --no-sha-ext        run the engine with OpenSSL's use of the SHA extensions masked\n"
        "                      (" OPENSSL_CAP_ENV "=" NO_SHA_EXT_MASK "): SigV4 hashing as on a CPU without them,\n"
        "                      a t2.micro's Haswell/Broadwell\n"
        "  --perf FILE         record a CPU profile of the engine with perf (perf report -i FILE; the\n"
        "                      last run's when --engine-reps is above 1)\n"
        "  --callgrind FILE    run the engine under valgrind's callgrind: prints instructions per record,\n"
        "                      which, unlike CPU time, other processes cannot disturb (use a small corpus)\n"
        "  -- OPTIONS          passed to `ctindex run` (e.g. -- --no-raw --downloads 4)\n"
        "\n"
        "Binaries are taken from this program's build directory (ctindex, bench/fakeaws, bench/ctgen,\n"
        "bench/libctalloc.so). Build without sanitizers to measure: allocations are not counted there.\n");
}

static int int_arg(const char *name, const char *v, int lo, int hi) {
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "bench_e2e: %s must be a number from %d to %d\n", name, lo, hi);
        exit(2);
    }
    return (int)x;
}

static void parse_args(int argc, char **argv, options *o) {
    enum {
        O_CORPUS = 256,
        O_FILES,
        O_MIN,
        O_MAX,
        O_SEED,
        O_ECPU,
        O_FCPU,
        O_REPEAT,
        O_REPS,
        O_TIMEOUT,
        O_KEEP,
        O_NO_PIN,
        O_PERF,
        O_CALLGRIND,
        O_NO_SHA_EXT,
        O_ENGINE_REPS
    };
    static const struct option opts[] = {
        {"corpus", required_argument, 0, O_CORPUS},
        {"files", required_argument, 0, O_FILES},
        {"min-records", required_argument, 0, O_MIN},
        {"max-records", required_argument, 0, O_MAX},
        {"seed", required_argument, 0, O_SEED},
        {"engine-cpu", required_argument, 0, O_ECPU},
        {"fake-cpu", required_argument, 0, O_FCPU},
        {"repeat", required_argument, 0, O_REPEAT},
        {"reps", required_argument, 0, O_REPS},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"keep", no_argument, 0, O_KEEP},
        {"no-pin", no_argument, 0, O_NO_PIN},
        {"perf", required_argument, 0, O_PERF},
        {"callgrind", required_argument, 0, O_CALLGRIND},
        {"no-sha-ext", no_argument, 0, O_NO_SHA_EXT},
        {"engine-reps", required_argument, 0, O_ENGINE_REPS},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *o = (options){.files = 40,
                   .min_records = 2,
                   .max_records = 50000,
                   .seed = 1,
                   .engine_cpu = 0,
                   .fake_cpu = 1,
                   .repeat = 1,
                   .reps = 3,
                   .engine_reps = 0, /* 3, or 1 under --perf/--callgrind, unless given */
                   .timeout_s = 120,
                   .include_raw = 1};
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    int ch, no_pin = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case O_CORPUS: o->corpus = optarg; break;
        case O_FILES: o->files = int_arg("--files", optarg, 1, 100000); break;
        case O_MIN: o->min_records = int_arg("--min-records", optarg, 1, 100000); break;
        case O_MAX: o->max_records = int_arg("--max-records", optarg, 1, 100000); break;
        case O_SEED: o->seed = int_arg("--seed", optarg, 0, 1 << 30); break;
        case O_ECPU: o->engine_cpu = int_arg("--engine-cpu", optarg, 0, ncpu - 1); break;
        case O_FCPU: o->fake_cpu = int_arg("--fake-cpu", optarg, 0, ncpu - 1); break;
        case O_REPEAT: o->repeat = int_arg("--repeat", optarg, 1, 1000); break;
        case O_REPS: o->reps = int_arg("--reps", optarg, 1, 101); break;
        case O_TIMEOUT: o->timeout_s = int_arg("--timeout", optarg, 1, 86400); break;
        case O_KEEP: o->keep = 1; break;
        case O_NO_PIN: no_pin = 1; break;
        case O_PERF: o->perf_out = optarg; break;
        case O_CALLGRIND: o->callgrind_out = optarg; break;
        case O_NO_SHA_EXT: o->no_sha_ext = 1; break;
        case O_ENGINE_REPS: o->engine_reps = int_arg("--engine-reps", optarg, 1, 64); break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (o->nextra == MAX_EXTRA_ARGS) {
            fprintf(stderr, "bench_e2e: at most %d options for ctindex run\n", MAX_EXTRA_ARGS);
            exit(2);
        }
        if (strcmp(argv[i], "--no-raw") == 0) o->include_raw = 0;
        o->extra[o->nextra++] = argv[i];
    }
    if (o->min_records > o->max_records) {
        fprintf(stderr, "bench_e2e: --min-records is larger than --max-records\n");
        exit(2);
    }
    /* One profile, or one count (callgrind's does not vary), is what --perf and --callgrind want. */
    if (o->engine_reps == 0) o->engine_reps = o->perf_out || o->callgrind_out ? 1 : 3;
    if (no_pin) o->engine_cpu = o->fake_cpu = -1;
    else if (o->engine_cpu == o->fake_cpu && ncpu > 1) {
        fprintf(stderr, "bench_e2e: --engine-cpu and --fake-cpu must differ\n");
        exit(2);
    }
    if (ncpu < 2) progress("only one CPU: the engine and fakeaws share it, wall-clock figures include the fake");
}

static void remove_workdir(void) {
    static const char *const names[] = {"fakeaws.port",      "fakeaws.out",    "fakeaws.log", "engine.log",
                                        "dead-letter.jsonl", "alloc.counters", "ctgen.log",   "perf.log"};
    char p[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        path_in(p, sizeof p, workdir, names[i]);
        unlink(p);
    }
    rmdir(workdir);
}

int main(int argc, char **argv) {
    options o;
    parse_args(argc, argv, &o);
    find_bindir();
    static char corpus_default[256];
    if (!o.corpus) {
        snprintf(corpus_default, sizeof corpus_default, "/tmp/ctindex-bench-%d-%d-%d-%d", o.files, o.min_records,
                 o.max_records, o.seed);
        o.corpus = corpus_default;
    }
    snprintf(workdir, sizeof workdir, "/tmp/ctindex-bench-run-XXXXXX");
    if (!mkdtemp(workdir)) die("mkdtemp: %s", strerror(errno));
    signal(SIGPIPE, SIG_IGN);
    ensure_corpus(&o);

    bench_corpus corpus = {0};
    if (bench_corpus_load_dir(&corpus, o.corpus) != 0 || corpus.n == 0) die("cannot load the corpus %s", o.corpus);
    if (pin_to(0, o.engine_cpu) != 0) die("cannot pin to CPU %d: %s", o.engine_cpu, strerror(errno));
    ceiling *cl = ceiling_new(o.include_raw);
    if (!cl) die("out of memory");
    ceilings cs;
    memset(&cs, 0, sizeof cs);
    for (size_t i = 0; i < NSHOWN; i++) {
        ceil_mode m = shown[i];
        progress("ceiling: %s (%d passes after a warm-up)", ceil_mode_name(m), o.reps);
        uint64_t a0 = ctalloc_allocs();
        if (ceiling_measure(cl, m, &corpus, o.reps, &cs.r[m]) != 0) die("the corpus has a corrupt file");
        cs.allocs[m] = ctalloc_allocs() - a0;
    }
    cs.inflater = ceiling_inflater(cl);
    ceiling_free(cl);
    ceil_totals corpus_t = cs.r[CEIL_TOKENIZE].t;
    if (corpus_t.bad) progress("note: %llu records of the corpus are not valid JSON", (unsigned long long)corpus_t.bad);

    /* Every run against a fresh fakeaws (a new queue holding every file), like the ceilings'
     * passes; the first run that fails is the one reported. */
    run_result *runs = calloc((size_t)o.engine_reps, sizeof *runs);
    if (!runs) die("out of memory");
    int nruns = 0, shown_run = -1;
    while (nruns < o.engine_reps) {
        if (o.engine_cpu >= 0)
            progress("engine: run %d of %d, fakeaws on CPU %d and ctindex run on CPU %d", nruns + 1, o.engine_reps,
                     o.fake_cpu, o.engine_cpu);
        else progress("engine: run %d of %d, fakeaws and ctindex run (not pinned)", nruns + 1, o.engine_reps);
        run_engine(&o, corpus_t.records - corpus_t.bad, &runs[nruns]);
        if (run_failed(&runs[nruns++])) {
            shown_run = nruns - 1;
            break;
        }
    }
    if (shown_run < 0) shown_run = median_run(runs, nruns);
    report(&o, &corpus, &corpus_t, &cs, runs, nruns, shown_run);

    const run_result *rr = &runs[shown_run];
    int lost = rr->end.docs < rr->expected_docs;
    int ok = !run_failed(rr);
    if (!ok) {
        printf("\nFAILED: %s\n", lost                ? "records were lost"
                                 : rr->engine_status ? "the engine failed"
                                                     : "batches were rejected");
        char elog[4096];
        path_in(elog, sizeof elog, workdir, "engine.log");
        print_tail(elog, 15);
    }
    free(runs);
    bench_corpus_free(&corpus);
    if (o.keep || !ok) printf("work directory kept: %s\n", workdir);
    else remove_workdir();
    return ok ? 0 : 1;
}
