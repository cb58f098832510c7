/* deadletter: the file appears with the first entry, not before; a place it cannot be written
 * is refused when opening. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    deadletter *d = deadletter_open(path);
    CHECK(d != NULL);
    if (!d) return;
    CHECK(!exists(path));
    deadletter_close(d);
    CHECK(!exists(path)); /* opened and closed without entries: no litter */
    d = deadletter_open(path);
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
    d = deadletter_open(path);
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
    CHECK(deadletter_open(path) == NULL);
    snprintf(path, sizeof path, "%s/no-such-folder", dir);
    CHECK(!exists(path));
    if (geteuid() != 0) { /* root writes anywhere */
        snprintf(path, sizeof path, "%s/ro", dir);
        mkdir(path, 0500);
        snprintf(path, sizeof path, "%s/ro/dl.jsonl", dir);
        CHECK(deadletter_open(path) == NULL);
        snprintf(path, sizeof path, "%s/ro", dir);
        rmdir(path);
    }
}

static void test_no_path_only_counts(void) {
    deadletter *d = deadletter_open(NULL);
    CHECK(d != NULL);
    CHECK_EQ_INT(deadletter_write(d, "record", "x", "y", "z", 1), 0);
    CHECK_EQ_INT(deadletter_count(d), 1);
    deadletter_close(d);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    RUN(test_created_on_first_entry);
    RUN(test_unwritable_refused);
    RUN(test_no_path_only_counts);
    rmdir(dir);
    TEST_MAIN_END();
}
