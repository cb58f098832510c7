/* SHA-256 and HMAC-SHA256 on OpenSSL's libcrypto (the library libcurl already loads).
 *
 * Why libcrypto: SigV4 hashes every uploaded byte, and its SHA-256 uses the CPU's SHA
 * extensions (or AVX2 where there are none), measured 1.8 GB/s here against 170 MB/s for the
 * portable C of mbedTLS 2.28. The low-level SHA256_* calls are deprecated in OpenSSL 3.0 in
 * favour of EVP, but they are the only interface that keeps its state in caller storage: EVP
 * allocates a context per hash. HMAC (RFC 2104) is built on them here for the same reason. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "crypto.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((crypto_sha256_ctx *)0)->opaque),
               "crypto_sha256_ctx storage too small for SHA256_CTX");
_Static_assert(_Alignof(SHA256_CTX) <= _Alignof(crypto_sha256_ctx), "crypto_sha256_ctx alignment too small");

static SHA256_CTX *ctx_of(crypto_sha256_ctx *c) { return (SHA256_CTX *)(void *)c->opaque.bytes; }

int crypto_sha256_init(crypto_sha256_ctx *c) { return SHA256_Init(ctx_of(c)) == 1 ? 0 : -1; }

int crypto_sha256_update(crypto_sha256_ctx *c, const void *data, size_t n) {
    if (n == 0) return 0;
    return SHA256_Update(ctx_of(c), data, n) == 1 ? 0 : -1;
}

int crypto_sha256_final(crypto_sha256_ctx *c, uint8_t out[CRYPTO_SHA256_LEN]) {
    int rc = SHA256_Final(out, ctx_of(c));
    OPENSSL_cleanse(c, sizeof *c);
    return rc == 1 ? 0 : -1;
}

int crypto_sha256(const void *data, size_t n, uint8_t out[CRYPTO_SHA256_LEN]) {
    crypto_sha256_ctx c;
    if (crypto_sha256_init(&c) != 0 || crypto_sha256_update(&c, data, n) != 0) return -1;
    return crypto_sha256_final(&c, out);
}

int crypto_sha256_hex(const void *data, size_t n, char out[CRYPTO_SHA256_HEX_LEN + 1]) {
    uint8_t d[CRYPTO_SHA256_LEN];
    if (crypto_sha256(data, n, d) != 0) {
        out[0] = '\0';
        return -1;
    }
    crypto_hex(d, sizeof d, out);
    return 0;
}

#define SHA256_BLOCK 64

/* H((K ^ opad) || H((K ^ ipad) || msg)), K padded (or first hashed) to the block size. */
int crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
                       uint8_t out[CRYPTO_SHA256_LEN]) {
    uint8_t k[SHA256_BLOCK] = {0}, pad[SHA256_BLOCK], inner[CRYPTO_SHA256_LEN];
    int rc = 0;
    if (keylen > SHA256_BLOCK) rc |= crypto_sha256(key, keylen, k);
    else if (keylen) memcpy(k, key, keylen);
    crypto_sha256_ctx c;
    for (int i = 0; i < SHA256_BLOCK; i++) pad[i] = k[i] ^ 0x36;
    rc |= crypto_sha256_init(&c) | crypto_sha256_update(&c, pad, sizeof pad) | crypto_sha256_update(&c, msg, n) |
          crypto_sha256_final(&c, inner);
    for (int i = 0; i < SHA256_BLOCK; i++) pad[i] = k[i] ^ 0x5c;
    rc |= crypto_sha256_init(&c) | crypto_sha256_update(&c, pad, sizeof pad) |
          crypto_sha256_update(&c, inner, sizeof inner) | crypto_sha256_final(&c, out);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(inner, sizeof inner);
    return rc ? -1 : 0;
}

void crypto_hex(const uint8_t *in, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int crypto_equal(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}
