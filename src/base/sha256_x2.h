/* SHA-256 of two messages at once with the x86 SHA extensions (SHA-NI), for crypto.c only.
 *
 * One SHA-256 message is a chain: every sha256rnds2 waits for the one before, and the unit
 * could start another before that one is done. Two independent messages interleaved round by
 * round fill those gaps: about 1.5x the bytes per second of hashing them one after the other
 * with libcrypto on the same core (bench/bench_sha256). SigV4 hashes every uploaded byte, and
 * the indexer finishes batches in pairs for it (pipeline/indexer.c).
 *
 * Callers go through crypto_sha256_pair, which falls back to libcrypto where this code cannot
 * run: another architecture, a CPU without the SHA extensions, or OPENSSL_ia32cap masking them
 * (":~0x20000000", how bench_e2e --no-sha-ext emulates a t2.micro's Haswell/Broadwell: the mask
 * must switch this code off as it switches off libcrypto's). */
#ifndef CTINDEX_SHA256_X2_H
#define CTINDEX_SHA256_X2_H

#include <stddef.h>
#include <stdint.h>

/* 1 when sha256x2_digests may run here: x86-64 with SHA, SSSE3 and SSE4.1, and the SHA bit of
 * OPENSSL_ia32cap's second word (CPUID leaf 7 EBX bit 29) not cleared. Decided once. */
int sha256x2_available(void);

/* The SHA-256 digests of a[0..na) and b[0..nb), each what a one-message SHA-256 gives. The
 * blocks both messages have are hashed interleaved, the rest of the longer one alone. Only when
 * sha256x2_available(). */
void sha256x2_digests(const void *a, size_t na, const void *b, size_t nb, uint8_t da[32], uint8_t db[32]);

/* Executes vzeroupper where the CPU has AVX (elsewhere nothing). The SHA extensions exist only
 * in legacy SSE encoding, and SSE code that runs while the upper halves of the vector registers
 * are dirty (AVX code ran before it without vzeroupper: something among the engine's libraries
 * does) pays for every instruction: in the engine, a pair of 5 MB bodies took 8.7 ms of CPU
 * instead of 4.0 ms, and libcrypto's one-message SHA-NI code lost about 15% the same way. Called
 * before every SHA-256 (crypto.c, sha256x2_digests); it costs a few cycles. */
void sha256x2_clear_upper(void);

/* For tests: whether OPENSSL_ia32cap's value `env` (NULL: unset) leaves the SHA extensions on,
 * read as OpenSSL 3 reads it ("[~]WORD0[:[~]WORD1]"; a "~" clears the bits given, a plain value
 * replaces the word). */
int sha256x2_env_allows(const char *env);

#endif
