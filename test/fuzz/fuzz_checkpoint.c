/* Any checkpoint file: parsing must not crash, and what parses must format to a text that parses
 * back to the same text (ranges normalised, nothing invented or lost). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "sources/checkpoint.h"

static char *format(checkpoint *cp) {
    buf b;
    buf_init(&b, CHECKPOINT_MAX_FILE);
    REQUIRE(checkpoint_format(cp, &b) == 0 && buf_terminate(&b) == 0);
    return b.data;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    checkpoint *cp = checkpoint_new("s3://trail/logs/", "dir:/tmp/out");
    REQUIRE(cp != NULL);
    char why[256];
    if (checkpoint_parse(cp, (const char *)data, size, why, sizeof why) == 0) {
        char *first = format(cp);
        checkpoint *again = checkpoint_new("s3://trail/logs/", "dir:/tmp/out");
        REQUIRE(checkpoint_parse(again, first, strlen(first), why, sizeof why) == 0);
        char *second = format(again);
        REQUIRE(strcmp(first, second) == 0);
        REQUIRE(checkpoint_series_count(again) <= checkpoint_series_count(cp));
        free(first);
        free(second);
        checkpoint_free(again);
    } else {
        REQUIRE(why[0] != '\0');
    }
    checkpoint_free(cp);
    return 0;
}
