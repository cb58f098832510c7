/* Minimal test helpers: CHECK records a failure and continues; the program's exit code is
 * the number of failures (capped), so ctest sees any failed check. */
#ifndef CTINDEX_TESTLIB_H
#define CTINDEX_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static int test_failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            test_failures++;                                                         \
        }                                                                            \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                                           \
    do {                                                                                                             \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                                        \
        if (va_ != vb_) {                                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, #a, #b, va_, vb_); \
            test_failures++;                                                                                         \
        }                                                                                                            \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                                    \
    do {                                                                                                      \
        const char *sa_ = (a), *sb_ = (b);                                                                    \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__, __LINE__, #a, #b, \
                    sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                                              \
            test_failures++;                                                                                  \
        }                                                                                                     \
    } while (0)

#define RUN(fn)                                                                      \
    do {                                                                             \
        int before_ = test_failures;                                                 \
        fn();                                                                        \
        fprintf(stderr, "%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

/* Removes an SQLite file and its -wal and -shm companions. */
static inline void test_remove_db(const char *path) {
    char p[4200];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        remove(p);
    }
}

/* Minor page faults of this process so far (first touches of pages). */
static inline long test_minor_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* The kernel's count of huge page faults that fell back to 4 KB pages (-1: unknown). */
static inline long test_thp_fallbacks(void) {
    FILE *f = fopen("/proc/vmstat", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "thp_fault_fallback %ld", &v) == 1) break;
    fclose(f);
    return v;
}

/* 1 when the kernel gives huge pages to MADV_HUGEPAGE mappings ("always" or "madvise"). */
static inline int test_thp_offered(void) {
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f) return 0;
    char line[128] = "";
    int ok = fgets(line, sizeof line, f) != NULL && strstr(line, "[never]") == NULL;
    fclose(f);
    return ok;
}

#define TEST_MAIN_END() return test_failures > 100 ? 100 : test_failures

#endif
