/* Runs a libFuzzer harness over every file of a corpus directory, so the corpus is an
 * ordinary regression test under gcc (and under the sanitizers). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *dir = opendir(argv[1]);
    if (!dir) {
        perror(argv[1]);
        return 2;
    }
    int files = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
        size_t got = n > 0 ? fread(data, 1, (size_t)n, f) : 0;
        fclose(f);
        LLVMFuzzerTestOneInput(data, got);
        free(data);
        files++;
    }
    closedir(dir);
    printf("%d corpus files replayed\n", files);
    /* An empty corpus would make this test pass without testing anything. */
    return files > 0 ? 0 : 1;
}
