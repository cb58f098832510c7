/* SHA-256 of two messages at once (crypto_sha256_pair and, where the CPU has the SHA
 * extensions, the interleaved code itself) against libcrypto's one-shot digest
 * (crypto_sha256): every length from 0 to 4,200 bytes paired with other lengths, unaligned
 * starts, 5 MB batches, and the OPENSSL_ia32cap mask that must switch the interleaved code off. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/crypto.h"
#include "base/sha256_x2.h"
#include "testlib.h"

#define BIG (5u * 1024 * 1024)

static uint8_t *pattern(size_t n, uint32_t seed) {
    uint8_t *p = malloc(n + 8);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n + 8; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (uint8_t)x;
    }
    return p;
}

/* One pair through fn, compared with libcrypto one message at a time. */
typedef void (*pair_fn)(const void *a, size_t na, const void *b, size_t nb, uint8_t da[32], uint8_t db[32]);

static int pair_matches(pair_fn fn, const uint8_t *a, size_t na, const uint8_t *b, size_t nb) {
    uint8_t ra[32], rb[32], da[32], db[32];
    if (crypto_sha256(a, na, ra) != 0 || crypto_sha256(b, nb, rb) != 0) return 0;
    memset(da, 0, sizeof da);
    memset(db, 0, sizeof db);
    fn(a, na, b, nb, da, db);
    return memcmp(ra, da, 32) == 0 && memcmp(rb, db, 32) == 0;
}

static void via_api(const void *a, size_t na, const void *b, size_t nb, uint8_t da[32], uint8_t db[32]) {
    if (crypto_sha256_pair(a, na, b, nb, da, db) != 0) memset(da, 0, 32);
}

static void check_lengths(pair_fn fn) {
    uint8_t *a = pattern(4200, 1), *b = pattern(4200, 2);
    int bad = 0;
    for (size_t na = 0; na <= 4200; na++) {
        size_t nb = (na * 7 + 13) % 4201; /* shorter, longer and equal partners */
        bad += !pair_matches(fn, a, na, b, nb);
        bad += !pair_matches(fn, a, na, b, na);
        bad += !pair_matches(fn, a + na % 4, na < 4196 ? na : 4196, b + 3, nb < 4197 ? nb : 4197); /* unaligned */
    }
    CHECK_EQ_INT(bad, 0);
    free(a);
    free(b);
}

static void check_batches(pair_fn fn) {
    uint8_t *a = pattern(BIG, 3), *b = pattern(BIG, 4);
    CHECK(pair_matches(fn, a, BIG, b, BIG));
    CHECK(pair_matches(fn, a, BIG, b, BIG - 4999)); /* the longer one ends alone */
    CHECK(pair_matches(fn, a + 1, 3, b, BIG - 1));
    CHECK(pair_matches(fn, a, 0, b, BIG));
    free(a);
    free(b);
}

static void test_interleaved_code(void) {
    if (!sha256x2_available()) {
        fprintf(stderr, "note: no SHA extensions here (or masked): the interleaved code is not tested\n");
        return;
    }
    check_lengths(sha256x2_digests);
    check_batches(sha256x2_digests);
}

static void test_pair_api(void) {
    check_lengths(via_api);
    check_batches(via_api);
    uint8_t da[32], db[32];
    char ha[65], hb[65];
    CHECK_EQ_INT(crypto_sha256_pair(NULL, 0, "abc", 3, da, db), 0); /* NULL is the empty message */
    crypto_hex(da, 32, ha);
    CHECK_EQ_STR(ha, CRYPTO_SHA256_EMPTY_HEX);
    CHECK_EQ_INT(crypto_sha256_hex_pair("abc", 3, NULL, 0, ha, hb), 0);
    CHECK_EQ_STR(ha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_EQ_STR(hb, CRYPTO_SHA256_EMPTY_HEX);
    /* FIPS 180-2's two-block message beside one million 'a' */
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    CHECK_EQ_INT(crypto_sha256_hex_pair(two, strlen(two), million, 1000000, ha, hb), 0);
    CHECK_EQ_STR(ha, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK_EQ_STR(hb, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}

static void test_openssl_mask_parsing(void) {
    CHECK_EQ_INT(sha256x2_env_allows(NULL), 1);
    CHECK_EQ_INT(sha256x2_env_allows(""), 1);
    CHECK_EQ_INT(sha256x2_env_allows(":~0x20000000"), 0);         /* bench_e2e --no-sha-ext */
    CHECK_EQ_INT(sha256x2_env_allows("~0x20000000"), 1);          /* first word only: leaf 1 */
    CHECK_EQ_INT(sha256x2_env_allows("0x1:~0x20000008"), 0);      /* both words */
    CHECK_EQ_INT(sha256x2_env_allows(":~0x8"), 1);                /* other leaf-7 bits */
    CHECK_EQ_INT(sha256x2_env_allows(":0x20000000"), 1);          /* a plain value replaces the word */
    CHECK_EQ_INT(sha256x2_env_allows(":0"), 0);                   /* ... without the SHA bit */
    CHECK_EQ_INT(sha256x2_env_allows(":~536870912"), 0);          /* decimal */
    CHECK_EQ_INT(sha256x2_env_allows(":~0x2000000000000000"), 1); /* leaf 7 ECX, not EBX */
}

/* The mask is read once per process: a child with it set must not use the interleaved code. */
static char *self_path;

static void test_mask_switches_it_off(void) {
    pid_t pid = fork();
    if (pid == 0) {
        setenv("OPENSSL_ia32cap", ":~0x20000000", 1);
        char *argv[] = {self_path, "--expect-unavailable", NULL};
        execv(self_path, argv);
        _exit(127);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--expect-unavailable") == 0) {
        /* and the pair still gives libcrypto's digests */
        uint8_t da[32], db[32], r[32];
        crypto_sha256_pair("abc", 3, "de", 2, da, db);
        crypto_sha256("abc", 3, r);
        return sha256x2_available() == 0 && memcmp(da, r, 32) == 0 ? 0 : 1;
    }
    RUN(test_interleaved_code);
    RUN(test_pair_api);
    RUN(test_openssl_mask_parsing);
    self_path = argv[0];
    RUN(test_mask_switches_it_off);
    TEST_MAIN_END();
}
