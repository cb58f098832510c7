/* hugepool: blocks are handed out once each until given back, the lowest free one first (the
 * pages already touched), only to the pool's own pointers; sizes above a block and a full pool
 * say NULL; two threads taking and giving back at once never share a block; a block used again
 * takes no new page faults. Where hugebuf does not map (sanitizer builds) the pool is empty. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/hugebuf.h"
#include "base/hugepool.h"
#include "testlib.h"

#define MB ((size_t)1 << 20)

static void test_arguments(void) {
    hugepool p;
    CHECK_EQ_INT(hugepool_init(&p, 0, 4), -1);
    CHECK_EQ_INT(hugepool_init(&p, 2 * MB, 0), -1);
    CHECK_EQ_INT(hugepool_init(&p, 2 * MB, HUGEPOOL_MAX_BLOCKS + 1), -1);
    CHECK_EQ_INT(hugepool_init(&p, SIZE_MAX - 5, 2), -1);
    CHECK(hugepool_get(&p, 1) == NULL); /* a failed init leaves an empty pool */
    CHECK_EQ_INT(hugepool_put(&p, NULL), 0);
    hugepool_destroy(&p);
}

static void test_empty_without_mapping(void) {
    if (HUGEBUF_MAPS) return;
    hugepool p;
    CHECK_EQ_INT(hugepool_init(&p, 2 * MB, 4), 0);
    CHECK(hugepool_get(&p, 100) == NULL);
    hugepool_destroy(&p);
}

static void test_get_put(void) {
    if (!HUGEBUF_MAPS) return;
    hugepool p;
    size_t bl = 3 * MB + 4096;
    CHECK_EQ_INT(hugepool_init(&p, 3 * MB + 1, 3), 0); /* rounded up to whole pages */
    CHECK_EQ_INT(p.block, bl);
    CHECK(hugepool_get(&p, bl + 1) == NULL);
    char *a = hugepool_get(&p, bl), *b = hugepool_get(&p, 1), *c = hugepool_get(&p, 2 * MB);
    CHECK(a && b && c && a != b && b != c && a != c);
    if (!a || !b || !c) return;
    CHECK_EQ_INT((uintptr_t)a % HUGEBUF_MIN, 0); /* the mapping starts on a huge page */
    CHECK_EQ_INT(b - a, bl);
    CHECK_EQ_INT(c - b, bl);
    CHECK(hugepool_get(&p, 1) == NULL); /* all three in use */
    memset(a, 1, bl);
    memset(b, 2, bl);
    memset(c, 3, bl);
    CHECK(a[bl - 1] == 1 && b[0] == 2 && b[bl - 1] == 2 && c[0] == 3 && c[bl - 1] == 3);

    char *other = malloc(64);
    CHECK_EQ_INT(hugepool_owns(&p, other), 0);
    CHECK_EQ_INT(hugepool_put(&p, other), 0); /* not the pool's: the caller frees it */
    free(other);
    CHECK_EQ_INT(hugepool_owns(&p, b + 1), 0);
    CHECK_EQ_INT(hugepool_put(&p, b + 1), 0); /* inside a block, not its start */
    CHECK(hugepool_get(&p, 1) == NULL);       /* so b is still in use */

    CHECK_EQ_INT(hugepool_owns(&p, b), 1);
    CHECK_EQ_INT(hugepool_put(&p, b), 1);
    CHECK_EQ_INT(hugepool_put(&p, a), 1);
    CHECK(hugepool_get(&p, 10) == a); /* the lowest free block first */
    CHECK(hugepool_get(&p, 10) == b);
    CHECK(hugepool_get(&p, 10) == NULL);
    hugepool_destroy(&p);
    CHECK(hugepool_get(&p, 1) == NULL);
}

/* Blocks smaller than a huge page share the mapping's huge pages. */
static void test_small_blocks(void) {
    if (!HUGEBUF_MAPS) return;
    hugepool p;
    size_t bl = 264 * 1024;
    CHECK_EQ_INT(hugepool_init(&p, bl, 20), 0);
    CHECK_EQ_INT(p.block, bl);
    char *blocks[20];
    for (int i = 0; i < 20; i++) {
        blocks[i] = hugepool_get(&p, bl);
        CHECK(blocks[i] != NULL);
        if (!blocks[i]) return;
        memset(blocks[i], i, bl);
    }
    CHECK(hugepool_get(&p, 100) == NULL);
    for (int i = 0; i < 20; i++) {
        CHECK(blocks[i][0] == (char)i && blocks[i][bl - 1] == (char)i);
        CHECK_EQ_INT(hugepool_put(&p, blocks[i]), 1);
    }
    hugepool_destroy(&p);
}

/* Filling a block the second time takes no page faults: the pool keeps its pages. */
static void test_reuse_keeps_pages(void) {
    if (!HUGEBUF_MAPS) return;
    hugepool p;
    CHECK_EQ_INT(hugepool_init(&p, 2 * MB, 2), 0);
    char *a = hugepool_get(&p, 2 * MB);
    CHECK(a != NULL);
    if (!a) return;
    memset(a, 7, 2 * MB);
    long first = test_minor_faults();
    CHECK_EQ_INT(hugepool_put(&p, a), 1);
    char *again = hugepool_get(&p, 2 * MB);
    CHECK(again == a);
    memset(again, 9, 2 * MB);
    long faults = test_minor_faults() - first;
    fprintf(stderr, "  refilling a block: %ld page faults\n", faults);
    CHECK(faults < 4);
    hugepool_destroy(&p);
}

enum { ROUNDS = 20000 };

typedef struct worker {
    hugepool *p;
    unsigned char id;
    long got, shared;
} worker;

/* Takes a block, marks it, checks nobody else wrote it meanwhile, gives it back. */
static void work(void *arg) {
    worker *w = arg;
    for (int i = 0; i < ROUNDS; i++) {
        unsigned char *b = hugepool_get(w->p, 64);
        if (!b) continue;
        w->got++;
        memset(b, w->id, 64);
        for (int k = 0; k < 64; k++) w->shared += b[k] != w->id;
        if (hugepool_put(w->p, b) != 1) w->shared++;
    }
}

static void test_two_threads(void) {
    if (!HUGEBUF_MAPS) return;
    hugepool p;
    CHECK_EQ_INT(hugepool_init(&p, 2 * MB, 2), 0); /* fewer blocks than takers at times */
    worker w[3] = {{&p, 1, 0, 0}, {&p, 2, 0, 0}, {&p, 3, 0, 0}};
    uv_thread_t t[3];
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(uv_thread_create(&t[i], work, &w[i]), 0);
    for (int i = 0; i < 3; i++) uv_thread_join(&t[i]);
    for (int i = 0; i < 3; i++) {
        CHECK(w[i].got > 0);
        CHECK_EQ_INT(w[i].shared, 0);
    }
    CHECK(hugepool_get(&p, 1) != NULL && hugepool_get(&p, 1) != NULL); /* all given back */
    hugepool_destroy(&p);
}

int main(void) {
    RUN(test_arguments);
    RUN(test_empty_without_mapping);
    RUN(test_get_put);
    RUN(test_small_blocks);
    RUN(test_reuse_keeps_pages);
    RUN(test_two_threads);
    TEST_MAIN_END();
}
