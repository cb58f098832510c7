/* Any bytes as two messages (the first two bytes say where the second starts): the SHA-256 of
 * two messages at once, through crypto_sha256_pair and, where the CPU has the SHA extensions,
 * the interleaved code itself, equals libcrypto's one-shot digest of each. */
#include <stdint.h>
#include <string.h>

#include "base/crypto.h"
#include "base/sha256_x2.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t split = ((size_t)data[0] << 8 | data[1]) % (size - 1);
    const uint8_t *a = data + 2, *b = data + 2 + split;
    size_t na = split, nb = size - 2 - split;
    uint8_t ra[32], rb[32], da[32], db[32];
    REQUIRE(crypto_sha256(a, na, ra) == 0 && crypto_sha256(b, nb, rb) == 0);
    REQUIRE(crypto_sha256_pair(a, na, b, nb, da, db) == 0);
    REQUIRE(memcmp(ra, da, 32) == 0 && memcmp(rb, db, 32) == 0);
    if (sha256x2_available()) {
        sha256x2_digests(b, nb, a, na, db, da); /* the other order too */
        REQUIRE(memcmp(ra, da, 32) == 0 && memcmp(rb, db, 32) == 0);
    }
    return 0;
}
