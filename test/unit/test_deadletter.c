/* deadletter: the file appears with the first entry, not before, with mode 0600; a place it
 * cannot be written is refused when opening; an entry that cannot be written (a full disk, a
 * short write, a file that cannot be opened any more) is reported, never counted as written,
 * and leaves the file holding whole lines; durable mode syncs once for many entries. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/deadletter.h"
#include "testlib.h"

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = calloc(1, 65536);
    if (buf) fread(buf, 1, 65535, f);
    fclose(f);
    return buf;
}

static char dir[] = "/tmp/ctindex-dl-XXXXXX";

static void test_created_on_first_entry(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/dl.jsonl", dir);
    deadletter *d = deadletter_open(path, 0);
    CHECK(d != NULL);
    if (!d) return;
    CHECK(!exists(path));
    deadletter_close(d);
    CHECK(!exists(path)); /* opened and closed without entries: no litter */
    d = deadletter_open(path, 0);
    CHECK_EQ_INT(deadletter_write(d, "record", "s3://b/k", "too big", "{\"a\":1}", 7), 0);
    CHECK(exists(path));
    CHECK_EQ_INT(deadletter_write(d, "record", "s3://b/k", "second", "x", 1), 0);
    CHECK_EQ_INT(deadletter_count(d), 2);
    deadletter_close(d);
    char *text = slurp(path);
    CHECK(text && strstr(text, "\"source\":\"s3://b/k\",\"reason\":\"too big\",\"data\":\"{\\\"a\\\":1}\""));
    CHECK(text && strstr(text, "\"reason\":\"second\""));
    int lines = 0;
    for (const char *p = text; p && *p; p++) lines += *p == '\n';
    CHECK_EQ_INT(lines, 2);
    free(text);
    /* Appends to what is there. */
    d = deadletter_open(path, 0);
    CHECK_EQ_INT(deadletter_write(d, "record", "x", "third", "", 0), 0);
    deadletter_close(d);
    text = slurp(path);
    lines = 0;
    for (const char *p = text; p && *p; p++) lines += *p == '\n';
    CHECK_EQ_INT(lines, 3);
    free(text);
    unlink(path);
}

static void test_unwritable_refused(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/no-such-folder/dl.jsonl", dir);
    CHECK(deadletter_open(path, 0) == NULL);
    snprintf(path, sizeof path, "%s/no-such-folder", dir);
    CHECK(!exists(path));
    if (geteuid() != 0) { /* root writes anywhere */
        snprintf(path, sizeof path, "%s/ro", dir);
        mkdir(path, 0500);
        snprintf(path, sizeof path, "%s/ro/dl.jsonl", dir);
        CHECK(deadletter_open(path, 0) == NULL);
        snprintf(path, sizeof path, "%s/ro", dir);
        rmdir(path);
    }
}

static void test_no_path_only_counts(void) {
    deadletter *d = deadletter_open(NULL, 0);
    CHECK(d != NULL);
    CHECK_EQ_INT(deadletter_write(d, "record", "x", "y", "z", 1), 0);
    CHECK_EQ_INT(deadletter_count(d), 1);
    deadletter_close(d);
}

static int count_lines(const char *text) {
    int lines = 0;
    for (const char *p = text; p && *p; p++) lines += *p == '\n';
    return lines;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The file holds raw records: 0600 whatever the umask (even one that takes the owner's bits). */
static void test_mode_0600(void) {
    const mode_t masks[] = {0, 022, 0277};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/mode-%zu.jsonl", dir, i);
        mode_t old = umask(masks[i]);
        deadletter *d = deadletter_open(path, 0);
        CHECK_EQ_INT(deadletter_write(d, "record", "s", "r", "x", 1), 0);
        umask(old);
        deadletter_close(d);
        struct stat st;
        CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
        unlink(path);
    }
}

/* A full disk: the entry is not written, and says so; nothing is counted as written. */
static void test_full_disk(void) {
    if (access("/dev/full", W_OK) != 0) {
        fprintf(stderr, "skip: no /dev/full\n");
        return;
    }
    for (int durable = 0; durable < 2; durable++) {
        deadletter *d = deadletter_open("/dev/full", durable);
        CHECK(d != NULL);
        CHECK_EQ_INT(deadletter_write(d, "record", "s3://b/k", "bad", "{}", 2), -1);
        CHECK_EQ_INT(deadletter_write_part(d, "record", "s3://b/k", "big", 5, 9000, "{\"a\"", 4), -1);
        CHECK_EQ_INT(deadletter_count(d), 0);
        CHECK_EQ_INT(deadletter_get_stats(d)->failed, 2);
        deadletter_close(d);
    }
}

/* A write cut short (here by a file size limit, as a disk filling up mid-entry would): the
 * partial line is cut off again, so the entries before and after stay whole JSON lines. */
static void test_short_write_leaves_whole_lines(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/short.jsonl", dir);
    deadletter *d = deadletter_open(path, 0);
    CHECK_EQ_INT(deadletter_write(d, "record", "s", "first", "{}", 2), 0);
    long size = file_size(path);
    CHECK(size > 0);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)size + 40; /* room for part of the next entry only */
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK_EQ_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
    static char big[4000];
    memset(big, 'x', sizeof big);
    int rc = deadletter_write(d, "record", "s", "second", big, sizeof big);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, was);
    CHECK_EQ_INT(rc, -1);
    CHECK_EQ_INT(file_size(path), size);
    CHECK_EQ_INT(deadletter_write(d, "record", "s", "third", "{}", 2), 0);
    CHECK_EQ_INT(deadletter_count(d), 2);
    deadletter_close(d);
    char *text = slurp(path);
    CHECK_EQ_INT(count_lines(text), 2);
    CHECK(text && strstr(text, "\"reason\":\"first\"") && strstr(text, "\"reason\":\"third\"") &&
          !strstr(text, "second"));
    CHECK(text && text[0] == '{' && strstr(text, "}\n{\"time\""));
    free(text);
    unlink(path);
}

/* A place that was fine at start but is gone when the first entry arrives: the entry is not
 * written and says so (it is not just logged and counted); once the place is back, the next
 * entry is written. */
static void test_open_fails_at_first_entry(void) {
    char sub[256], path[300];
    snprintf(sub, sizeof sub, "%s/later", dir);
    mkdir(sub, 0700);
    snprintf(path, sizeof path, "%s/dl.jsonl", sub);
    deadletter *d = deadletter_open(path, 1);
    CHECK(d != NULL);
    rmdir(sub);
    CHECK_EQ_INT(deadletter_write(d, "record", "s", "r", "x", 1), -1);
    CHECK_EQ_INT(deadletter_count(d), 0);
    CHECK_EQ_INT(deadletter_get_stats(d)->failed, 1);
    mkdir(sub, 0700);
    CHECK_EQ_INT(deadletter_write(d, "record", "s", "r", "x", 1), 0);
    CHECK_EQ_INT(deadletter_count(d), 1);
    deadletter_close(d);
    CHECK(exists(path));
    unlink(path);
    rmdir(sub);
}

/* Durable mode: appends are not synced one by one; one sync covers them all, and a sync with
 * nothing new does not fsync again. deadletter_write syncs its own entry. Not durable: never. */
static void test_durable_syncs_once(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/durable.jsonl", dir);
    deadletter *d = deadletter_open(path, 1);
    CHECK(deadletter_durable(d));
    for (int i = 0; i < 50; i++) CHECK_EQ_INT(deadletter_append(d, "record", "s", "r", NULL, "x", 1), 0);
    CHECK_EQ_INT(deadletter_get_stats(d)->syncs, 0);
    CHECK_EQ_INT(deadletter_sync(d, 1), 0);
    CHECK_EQ_INT(deadletter_get_stats(d)->syncs, 1);
    CHECK_EQ_INT(deadletter_sync(d, 1), 0);
    CHECK_EQ_INT(deadletter_get_stats(d)->syncs, 1);
    CHECK_EQ_INT(deadletter_write(d, "document", "s", "r", "y", 1), 0);
    CHECK_EQ_INT(deadletter_get_stats(d)->syncs, 2);
    CHECK_EQ_INT(deadletter_count(d), 51);
    deadletter_close(d);
    unlink(path);

    d = deadletter_open(path, 0);
    CHECK(!deadletter_durable(d));
    CHECK_EQ_INT(deadletter_write(d, "record", "s", "r", "x", 1), 0);
    CHECK_EQ_INT(deadletter_get_stats(d)->syncs, 0);
    deadletter_close(d);
    unlink(path);

    /* A file that cannot be synced by its nature (/dev/null: an operator discarding dead
     * letters) does not block acknowledgements. */
    d = deadletter_open("/dev/null", 1);
    CHECK_EQ_INT(deadletter_write(d, "record", "s", "r", "x", 1), 0);
    deadletter_close(d);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    RUN(test_created_on_first_entry);
    RUN(test_unwritable_refused);
    RUN(test_no_path_only_counts);
    RUN(test_mode_0600);
    RUN(test_full_disk);
    RUN(test_short_write_leaves_whole_lines);
    RUN(test_open_fails_at_first_entry);
    RUN(test_durable_syncs_once);
    rmdir(dir);
    TEST_MAIN_END();
}
