/* SHA-256 and HMAC-SHA256 on mbedTLS 2.28 (the *_ret functions: the older names are
 * deprecated and warn). */
#include "crypto.h"

#include <mbedtls/md.h>
#include <mbedtls/sha256.h>

_Static_assert(sizeof(mbedtls_sha256_context) <= sizeof(((crypto_sha256_ctx *)0)->opaque),
               "crypto_sha256_ctx storage too small for mbedtls_sha256_context");
_Static_assert(_Alignof(mbedtls_sha256_context) <= _Alignof(crypto_sha256_ctx),
               "crypto_sha256_ctx alignment too small");

static mbedtls_sha256_context *ctx_of(crypto_sha256_ctx *c) {
    return (mbedtls_sha256_context *)(void *)c->opaque.bytes;
}

int crypto_sha256_init(crypto_sha256_ctx *c) {
    mbedtls_sha256_init(ctx_of(c));
    return mbedtls_sha256_starts_ret(ctx_of(c), 0) == 0 ? 0 : -1;
}

int crypto_sha256_update(crypto_sha256_ctx *c, const void *data, size_t n) {
    if (n == 0) return 0;
    return mbedtls_sha256_update_ret(ctx_of(c), data, n) == 0 ? 0 : -1;
}

int crypto_sha256_final(crypto_sha256_ctx *c, uint8_t out[CRYPTO_SHA256_LEN]) {
    int rc = mbedtls_sha256_finish_ret(ctx_of(c), out);
    mbedtls_sha256_free(ctx_of(c));
    return rc == 0 ? 0 : -1;
}

int crypto_sha256(const void *data, size_t n, uint8_t out[CRYPTO_SHA256_LEN]) {
    return mbedtls_sha256_ret(data, n, out, 0) == 0 ? 0 : -1;
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

int crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
                       uint8_t out[CRYPTO_SHA256_LEN]) {
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (!md) return -1;
    return mbedtls_md_hmac(md, key, keylen, msg, n, out) == 0 ? 0 : -1;
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
