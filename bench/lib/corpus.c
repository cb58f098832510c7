/* A corpus of files held in memory, so that timed passes never touch the disk. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "benchlib.h"

#define FILE_MAX ((size_t)2 << 30)
#define FILES_MAX 1000000u
#define DEPTH_MAX 32

static int push(bench_corpus *c, uint8_t *data, size_t len, char *path) {
    if (c->n == FILES_MAX) {
        fprintf(stderr, "corpus: more than %u files\n", FILES_MAX);
        return -1;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        bench_blob *f = realloc(c->files, cap * sizeof *f);
        if (!f) return -1;
        c->files = f;
        c->cap = cap;
    }
    c->files[c->n++] = (bench_blob){data, len, path};
    c->bytes += len;
    return 0;
}

int bench_corpus_add(bench_corpus *c, uint8_t *data, size_t len) {
    if (push(c, data, len, NULL) != 0) {
        free(data);
        return -1;
    }
    return 0;
}

int bench_corpus_add_file(bench_corpus *c, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "corpus: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size < 0 || (size_t)sb.st_size > FILE_MAX) {
        fprintf(stderr, "corpus: %s: not a readable file of at most 2 GiB\n", path);
        fclose(f);
        return -1;
    }
    size_t len = (size_t)sb.st_size;
    uint8_t *data = malloc(len ? len : 1);
    char *name = strdup(path);
    if (!data || !name || fread(data, 1, len, f) != len) {
        fprintf(stderr, "corpus: %s: cannot read it\n", path);
        free(data);
        free(name);
        fclose(f);
        return -1;
    }
    fclose(f);
    if (push(c, data, len, name) != 0) {
        free(data);
        free(name);
        return -1;
    }
    return 0;
}

static int walk(bench_corpus *c, const char *dir, int depth) {
    if (depth > DEPTH_MAX) {
        fprintf(stderr, "corpus: %s: nested too deep\n", dir);
        return -1;
    }
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "corpus: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        if (rc == 0 && strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0) {
            char path[4096];
            struct stat sb;
            if (snprintf(path, sizeof path, "%s/%s", dir, nm) >= (int)sizeof path) {
                fprintf(stderr, "corpus: path too long under %s\n", dir);
                rc = -1;
            } else if (stat(path, &sb) != 0) {
                fprintf(stderr, "corpus: %s: %s\n", path, strerror(errno));
                rc = -1;
            } else if (S_ISDIR(sb.st_mode)) {
                rc = walk(c, path, depth + 1);
            } else if (S_ISREG(sb.st_mode)) {
                rc = bench_corpus_add_file(c, path);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int bench_corpus_load_dir(bench_corpus *c, const char *dir) { return walk(c, dir, 0); }

void bench_corpus_free(bench_corpus *c) {
    for (size_t i = 0; i < c->n; i++) {
        free(c->files[i].data);
        free(c->files[i].path);
    }
    free(c->files);
    memset(c, 0, sizeof *c);
}
