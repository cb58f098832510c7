/* SHA-256 throughput of crypto.c: every uploaded byte is hashed for SigV4, so this bounds upload
 * CPU. Hashes 5 MB batches (the CloudSearch batch size) for ~2 s each way: one-shot (libcrypto),
 * two at once (crypto_sha256_pair: interleaved on the SHA extensions, libcrypto twice without),
 * streamed in 64 KB pieces; then the cost of one full SigV4 signature. CPU time of this process,
 * so other processes on the machine disturb the figures less than wall time would.
 * OPENSSL_ia32cap=":~0x20000000" shows a CPU without the SHA extensions. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/sigv4.h"
#include "base/crypto.h"
#include "base/sha256_x2.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
static int dirty_upper_possible(void) { return __builtin_cpu_supports("avx") != 0; }
/* Sets ymm15's upper half without vzeroupper, as AVX code of some library may leave it. */
static void dirty_upper(void) { __asm__ volatile("vpcmpeqd %%ymm15, %%ymm15, %%ymm15" ::: "xmm15"); }
#else
static int dirty_upper_possible(void) { return 0; }
static void dirty_upper(void) {}
#endif

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    const size_t batch = 5u * 1024 * 1024;
    char *data = malloc(batch), *data2 = malloc(batch);
    if (!data || !data2) {
        free(data);
        free(data2);
        return 1;
    }
    for (size_t i = 0; i < batch; i++) data[i] = (char)(i * 2654435761u >> 13);
    for (size_t i = 0; i < batch; i++) data2[i] = (char)(i * 40503u >> 7);
    printf("SHA extensions: %s\n",
           sha256x2_available() ? "used for pairs (base/sha256_x2.c)" : "not used (absent, masked or not x86-64)");

    uint8_t d[32];
    double t0 = now_s(), t;
    size_t bytes = 0;
    do {
        crypto_sha256(data, batch, d);
        bytes += batch;
    } while ((t = now_s()) - t0 < seconds);
    double mbps = bytes / 1e6 / (t - t0);
    printf("sha256 one-shot : %8.1f MB/s (%zu MB in %.2f s; %.1f ms per 5 MB batch)\n", mbps, bytes >> 20, t - t0,
           batch / 1e6 / mbps * 1e3);

    uint8_t d2[32];
    t0 = now_s();
    bytes = 0;
    do {
        crypto_sha256_pair(data, batch, data2, batch, d, d2);
        bytes += 2 * batch;
    } while ((t = now_s()) - t0 < seconds);
    double pair_mbps = bytes / 1e6 / (t - t0);
    printf("sha256 pairs    : %8.1f MB/s (two 5 MB batches at once; %.2fx one-shot; %.1f ms per pair)\n", pair_mbps,
           pair_mbps / mbps, 2 * batch / 1e6 / pair_mbps * 1e3);

    t0 = now_s();
    bytes = 0;
    do {
        crypto_sha256_ctx c;
        crypto_sha256_init(&c);
        for (size_t off = 0; off < batch; off += 65536)
            crypto_sha256_update(&c, data + off, batch - off < 65536 ? batch - off : 65536);
        crypto_sha256_final(&c, d);
        bytes += batch;
    } while ((t = now_s()) - t0 < seconds);
    printf("sha256 streaming: %8.1f MB/s (64 KB updates)\n", bytes / 1e6 / (t - t0));

    /* As in the engine, where AVX code ran before and left the vector registers' upper halves
     * dirty: crypto.c clears them first (sha256x2_clear_upper), or legacy-SSE SHA code pays. */
    if (dirty_upper_possible()) {
        t0 = now_s();
        bytes = 0;
        do {
            dirty_upper();
            crypto_sha256(data, batch, d);
            bytes += batch;
        } while ((t = now_s()) - t0 < seconds / 2);
        printf("sha256 one-shot after AVX code: %8.1f MB/s\n", bytes / 1e6 / (t - t0));
        t0 = now_s();
        bytes = 0;
        do {
            dirty_upper();
            crypto_sha256_pair(data, batch, data2, batch, d, d2);
            bytes += 2 * batch;
        } while ((t = now_s()) - t0 < seconds / 2);
        printf("sha256 pairs after AVX code   : %8.1f MB/s\n", bytes / 1e6 / (t - t0));
    }

    /* Signing cost without the payload hash: canonical request + 1 HMAC (cached key) vs
     * the full 5-HMAC chain. */
    static sigv4_signed out;
    static sigv4_key_cache cache;
    sigv4_key_cache_init(&cache);
    sigv4_header h[] = {{"Content-Type", "application/json"}};
    sigv4_request r = {.method = "POST",
                       .host = "doc-ct-abcdefghijklmnopqrstuvwxyz.us-east-1.cloudsearch.amazonaws.com",
                       .path = "/2013-01-01/documents/batch",
                       .query = "format=sdk",
                       .headers = h,
                       .nheaders = 1,
                       .payload_hash = CRYPTO_SHA256_EMPTY_HEX,
                       .region = "us-east-1",
                       .service = "cloudsearch",
                       .time = 1700000000};
    sigv4_credentials cr = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "IQoJb3JpZ2luX2VjEXAMPLE"};
    for (int cached = 1; cached >= 0; cached--) {
        int n = 0;
        t0 = now_s();
        do {
            for (int i = 0; i < 100; i++) sigv4_sign(&r, &cr, cached ? &cache : NULL, &out);
            n += 100;
        } while ((t = now_s()) - t0 < seconds / 2);
        printf("sigv4_sign %-8s: %8.2f us/request\n", cached ? "cached" : "uncached", (t - t0) * 1e6 / n);
    }
    free(data);
    free(data2);
    return 0;
}
