/* SigV4's crypto: HMAC-SHA256 (signing key and signature) on mbedTLS 2.28, and SHA-256 on
 * OpenSSL's libcrypto (EVP), or, for two messages at once on a CPU with the SHA extensions, on
 * base/sha256_x2.c. Every uploaded byte is hashed for SigV4's payload hash, and
 * libcrypto uses the CPU's SHA extensions: about ten times the throughput of mbedTLS 2.28 on
 * the same core (bench/bench_sha256). libcurl already loads libcrypto. The HMACs cover a few
 * hundred bytes per request, where mbedTLS's speed does not matter. */
#include "base/crypto.h"

#include <string.h>

#include <mbedtls/md.h>
#include <openssl/evp.h>

#include "base/sha256_x2.h"
#include "base/text.h"

_Static_assert(sizeof(EVP_MD_CTX *) <= sizeof(((crypto_sha256_ctx *)0)->opaque),
               "crypto_sha256_ctx storage too small for a context pointer");

/* Fetched once: an implicit fetch per call would cost a lookup in the provider tables. */
static EVP_MD *sha256_md(void) {
    static EVP_MD *md;
    if (!md) md = EVP_MD_fetch(NULL, "SHA256", NULL);
    return md;
}

static EVP_MD_CTX *ctx_of(const crypto_sha256_ctx *c) {
    EVP_MD_CTX *m;
    memcpy(&m, c->opaque.bytes, sizeof m);
    return m;
}

int crypto_sha256_init(crypto_sha256_ctx *c) {
    EVP_MD_CTX *m = sha256_md() ? EVP_MD_CTX_new() : NULL;
    if (m && EVP_DigestInit_ex(m, sha256_md(), NULL) != 1) {
        EVP_MD_CTX_free(m);
        m = NULL;
    }
    memcpy(c->opaque.bytes, &m, sizeof m);
    return m ? 0 : -1;
}

int crypto_sha256_update(crypto_sha256_ctx *c, const void *data, size_t n) {
    if (n == 0) return 0;
    sha256x2_clear_upper();
    EVP_MD_CTX *m = ctx_of(c);
    return m && EVP_DigestUpdate(m, data, n) == 1 ? 0 : -1;
}

int crypto_sha256_final(crypto_sha256_ctx *c, uint8_t out[CRYPTO_SHA256_LEN]) {
    EVP_MD_CTX *m = ctx_of(c);
    int ok = m && EVP_DigestFinal_ex(m, out, NULL) == 1;
    EVP_MD_CTX_free(m);
    memset(c->opaque.bytes, 0, sizeof c->opaque.bytes);
    return ok ? 0 : -1;
}

int crypto_sha256(const void *data, size_t n, uint8_t out[CRYPTO_SHA256_LEN]) {
    sha256x2_clear_upper(); /* libcrypto's SHA-NI code is legacy SSE too (base/sha256_x2.h) */
    return sha256_md() && EVP_Digest(data, n, out, NULL, sha256_md(), NULL) == 1 ? 0 : -1;
}

int crypto_sha256_pair(const void *a, size_t na, const void *b, size_t nb, uint8_t da[CRYPTO_SHA256_LEN],
                       uint8_t db[CRYPTO_SHA256_LEN]) {
    if (!a) a = "";
    if (!b) b = "";
    if (sha256x2_available()) {
        sha256x2_digests(a, na, b, nb, da, db);
        return 0;
    }
    return crypto_sha256(a, na, da) == 0 && crypto_sha256(b, nb, db) == 0 ? 0 : -1;
}

int crypto_sha256_pair_faster(void) { return sha256x2_available(); }

int crypto_sha256_hex_pair(const void *a, size_t na, const void *b, size_t nb, char ha[CRYPTO_SHA256_HEX_LEN + 1],
                           char hb[CRYPTO_SHA256_HEX_LEN + 1]) {
    uint8_t da[CRYPTO_SHA256_LEN], db[CRYPTO_SHA256_LEN];
    if (crypto_sha256_pair(a, na, b, nb, da, db) != 0) {
        ha[0] = hb[0] = '\0';
        return -1;
    }
    crypto_hex(da, sizeof da, ha);
    crypto_hex(db, sizeof db, hb);
    return 0;
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

int crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n, uint8_t out[CRYPTO_SHA256_LEN]) {
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (!md) return -1;
    return mbedtls_md_hmac(md, key, keylen, msg, n, out) == 0 ? 0 : -1;
}

void crypto_hex(const uint8_t *in, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = text_hex_lower(in[i] >> 4);
        out[2 * i + 1] = text_hex_lower(in[i]);
    }
    out[2 * n] = '\0';
}

int crypto_equal(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}
