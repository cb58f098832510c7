/* Fuzzes the shape detector: input = [flags byte][one element]. shape_look must classify any
 * bytes without reading outside them; every part shape_next hands out must lie in the element
 * (a bad part, at its offset) or in the scratch (a record from a string), the reading must end
 * within a bound, and reading again from a copy of the cursor (as ingest does when the indexer
 * is busy) must give the same part. A record found is a JSON object. Plain records (the fast
 * path) must be what shape_look calls records. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "pipeline/shape.h"

static int same_part(int r, const shape_part *a, const shape_part *b) {
    if (r == SHAPE_END) return 1;
    return a->len == b->len && a->data == b->data && (r != SHAPE_BAD || a->offset == b->offset);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int vouched = data[0] & 1;
    size_t n = size - 1;
    /* The element in a buffer of its own size, so any read past it is caught by ASan. */
    char *v = malloc(n ? n : 1);
    memcpy(v, data + 1, n);
    size_t cap = n + 1;
    char *scratch = malloc(cap);
    char why[300];
    shape_cursor c;
    shape_kind k = shape_look(&c, v, n, vouched, scratch, cap, why, sizeof why);
    REQUIRE(k >= SHAPE_UNKNOWN && k < SHAPE_NKINDS);
    if (k == SHAPE_UNKNOWN) REQUIRE(memchr(why, '\0', sizeof why) && why[0]);
    if (shape_is_plain_record(v, n)) REQUIRE(k == SHAPE_RECORD || k == SHAPE_UNKNOWN); /* unknown: malformed */
    size_t parts = 0;
    for (;;) {
        shape_cursor before = c;
        shape_part a, b;
        int r = shape_next(&c, v, n, scratch, cap, &a);
        REQUIRE(r == SHAPE_END || r == SHAPE_REC || r == SHAPE_BAD);
        if (k == SHAPE_UNKNOWN || k == SHAPE_DIGEST || k == SHAPE_CWL_CONTROL) REQUIRE(r == SHAPE_END);
        if (r == SHAPE_END) break;
        REQUIRE(++parts <= n + 1); /* every part takes at least one byte of the element */
        if (r == SHAPE_REC) {
            int in_v = a.data >= v && a.data + a.len <= v + n;
            int in_scratch = a.data >= scratch && a.data + a.len < scratch + cap;
            REQUIRE(in_v || in_scratch);
            REQUIRE(a.len >= 2 && a.data[0] == '{' && a.data[a.len - 1] == '}');
        } else {
            REQUIRE(a.data >= v && a.data + a.len <= v + n && a.offset == (uint64_t)(a.data - v));
            REQUIRE(memchr(a.why, '\0', sizeof a.why) && a.why[0]);
        }
        shape_cursor again = before;
        int r2 = shape_next(&again, v, n, scratch, cap, &b);
        REQUIRE(r2 == r && same_part(r, &a, &b) && again.next == c.next && again.index == c.index);
    }
    free(scratch);
    free(v);
    return 0;
}
