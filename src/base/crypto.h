/* Hashing for request signing: SHA-256 (one-shot, two messages at once, streaming), HMAC-SHA256,
 * hex. The only module that includes mbedTLS (HMAC) and OpenSSL (SHA-256) headers; the streaming context is opaque
 * storage here so callers never see OpenSSL types. crypto_sha256_init allocates a context that crypto_sha256_final
 * frees: every successful init needs its final. */
#ifndef CTINDEX_CRYPTO_H
#define CTINDEX_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_SHA256_HEX_LEN 64 /* without the NUL */

/* Hex SHA-256 of the empty string: the payload hash of every body-less request. */
#define CRYPTO_SHA256_EMPTY_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Holds a pointer to the library's context (checked in crypto.c). */
typedef struct crypto_sha256_ctx {
    union {
        unsigned char bytes[160];
        uint64_t align_;
        void *align_ptr_;
    } opaque;
} crypto_sha256_ctx;

/* Streaming SHA-256. Return 0, or -1 on a library failure (out of memory). */
int crypto_sha256_init(crypto_sha256_ctx *c);
int crypto_sha256_update(crypto_sha256_ctx *c, const void *data, size_t n);
int crypto_sha256_final(crypto_sha256_ctx *c, uint8_t out[CRYPTO_SHA256_LEN]);

int crypto_sha256(const void *data, size_t n, uint8_t out[CRYPTO_SHA256_LEN]);
/* The digests of two independent messages (either may be NULL when its length is 0). With the
 * SHA extensions the two are hashed interleaved (base/sha256_x2.h: ~1.5x the throughput of two
 * calls); elsewhere, or with OPENSSL_ia32cap masking them, libcrypto hashes one after the other.
 * Same results either way. */
int crypto_sha256_pair(const void *a, size_t na, const void *b, size_t nb, uint8_t da[CRYPTO_SHA256_LEN],
                       uint8_t db[CRYPTO_SHA256_LEN]);
/* Lower-case hex digest, NUL-terminated (out holds 65 bytes). */
int crypto_sha256_hex(const void *data, size_t n, char out[CRYPTO_SHA256_HEX_LEN + 1]);
int crypto_sha256_hex_pair(const void *a, size_t na, const void *b, size_t nb, char ha[CRYPTO_SHA256_HEX_LEN + 1],
                           char hb[CRYPTO_SHA256_HEX_LEN + 1]);
/* 1 when crypto_sha256_pair hashes two messages faster than one after the other (the SHA
 * extensions, not masked): only then is it worth waiting for a second message. */
int crypto_sha256_pair_faster(void);

int crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n, uint8_t out[CRYPTO_SHA256_LEN]);

/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void crypto_hex(const uint8_t *in, size_t n, char *out);

/* Compare two byte strings in time independent of their contents (equal length). */
int crypto_equal(const void *a, const void *b, size_t n);

#endif
