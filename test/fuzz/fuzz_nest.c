/* Fuzzes the splitter's nested-value scanner (src/pipeline/rsplit_nest.h: 64-byte blocks while
 * they hold no backslash, byte-wise otherwise) against the plain byte loop of nest_ref.h:
 * input = [piece seed][text]. The text is scanned in one piece and in pieces the seed decides;
 * every answer, position and saved state must be the reference's (nest_ref_compare aborts). */
#include <stdint.h>

#include "fuzz_check.h"
#include "nest_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint32_t seed = 1u + data[0];
    unsigned a = nest_ref_compare(data + 1, size - 1, 0);
    unsigned b = nest_ref_compare(data + 1, size - 1, seed);
    REQUIRE(a == b);
    return 0;
}
