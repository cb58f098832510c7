/* gunzip: detection, chunking (down to 1-byte input and output), members, padding, errors;
 * every test runs once per inflater this build has (zlib, ISA-L). */
#include <stdint.h>
#include <zlib.h>

#include "pipeline/gunzip.h"
#include "testlib.h"

static enum gunzip_backend backend; /* the inflater under test */
static gunzip *new_g(void) {
    gunzip *g = gunzip_new_backend(backend);
    if (!g) abort();
    return g;
}

/* Compresses with zlib's gzip wrapper (the test may use zlib directly). Caller frees. */
static uint8_t *gz(const void *data, size_t len, size_t *outlen) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    size_t cap = deflateBound(&z, (uLong)len) + 64;
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    *outlen = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* JSON-ish text of about n bytes that compresses with long matches (exercises pending output). */
static char *sample_text(size_t n) {
    char *t = malloc(n + 1);
    uint32_t r = 12345;
    for (size_t i = 0; i < n; i++) {
        r = r * 1103515245u + 12345u;
        t[i] = (i % 97 < 60) ? "{\"eventName\":\"GetObject\",\"x\":[1,2,3]}"[i % 37] : (char)('a' + (r >> 16) % 26);
    }
    t[n] = '\0';
    return t;
}

typedef struct result {
    uint8_t *out;
    size_t len, cap;
    int step_rc, finish_rc;
} result;

/* Feeds `in` in chunks (chunk == 0: random sizes 1..64) into an output window of outcap. */
static result run(gunzip *g, const uint8_t *in, size_t n, size_t chunk, size_t outcap) {
    result r = {malloc(n * 8 + 4096), 0, n * 8 + 4096, GUNZIP_OK, GUNZIP_OK};
    uint8_t *win = malloc(outcap);
    uint32_t seed = (uint32_t)n * 2654435761u + (uint32_t)outcap;
    size_t off = 0;
    while (off < n && r.step_rc == GUNZIP_OK) {
        size_t c = chunk;
        if (c == 0) {
            seed = seed * 1103515245u + 12345u;
            c = 1 + (seed >> 16) % 64;
        }
        if (c > n - off) c = n - off;
        size_t done = 0;
        while (done < c) {
            size_t used = 0, made = 0;
            r.step_rc = gunzip_step(g, in + off + done, c - done, &used, win, outcap, &made);
            if (made > r.cap - r.len) abort();
            memcpy(r.out + r.len, win, made);
            r.len += made;
            done += used;
            if (r.step_rc != GUNZIP_OK) break;
            if (used == 0 && made == 0) {
                fprintf(stderr, "no progress\n");
                r.step_rc = 99;
                break;
            }
        }
        off += c;
    }
    if (r.step_rc == GUNZIP_OK) r.finish_rc = gunzip_finish(g);
    free(win);
    return r;
}

static void test_plain_passthrough(void) {
    gunzip *g = new_g();
    const char *js = "{\"Records\":[{\"a\":1}]}";
    result r = run(g, (const uint8_t *)js, strlen(js), 5, 7);
    CHECK_EQ_INT(r.step_rc, GUNZIP_OK);
    CHECK_EQ_INT(r.finish_rc, GUNZIP_OK);
    CHECK_EQ_INT(r.len, strlen(js));
    CHECK(memcmp(r.out, js, strlen(js)) == 0);
    CHECK_EQ_INT(gunzip_is_gzip(g), 0);
    CHECK_EQ_INT(gunzip_total_in(g), strlen(js));
    CHECK_EQ_INT(gunzip_total_out(g), strlen(js));
    free(r.out);
    gunzip_free(g);
}

static void test_gzip_detected(void) {
    size_t n = 300000, zn;
    char *text = sample_text(n);
    uint8_t *z = gz(text, n, &zn);
    gunzip *g = new_g();
    result r = run(g, z, zn, 16384, 65536);
    CHECK_EQ_INT(r.step_rc, GUNZIP_OK);
    CHECK_EQ_INT(r.finish_rc, GUNZIP_OK);
    CHECK_EQ_INT(r.len, n);
    CHECK(r.len == n && memcmp(r.out, text, n) == 0);
    CHECK_EQ_INT(gunzip_is_gzip(g), 1);
    CHECK_EQ_INT(gunzip_total_in(g), zn);
    CHECK_EQ_INT(gunzip_total_out(g), n);
    free(r.out);
    /* The same object reused after reset. */
    gunzip_reset(g);
    r = run(g, z, zn, 0, 4096);
    CHECK_EQ_INT(r.finish_rc, GUNZIP_OK);
    CHECK(r.len == n && memcmp(r.out, text, n) == 0);
    free(r.out);
    gunzip_free(g);
    free(z);
    free(text);
}

/* Every small input chunk size against every small output size: catches output that zlib still
 * holds when the input runs out exactly as the output fills. */
static void test_tiny_chunks_and_windows(void) {
    size_t n = 3000, zn;
    char *text = sample_text(n);
    uint8_t *z = gz(text, n, &zn);
    gunzip *g = new_g();
    int bad = 0;
    for (size_t chunk = 1; chunk <= 9; chunk++) {
        for (size_t outcap = 1; outcap <= 17; outcap++) {
            gunzip_reset(g);
            result r = run(g, z, zn, chunk, outcap);
            if (r.step_rc != GUNZIP_OK || r.finish_rc != GUNZIP_OK || r.len != n || memcmp(r.out, text, n) != 0) {
                fprintf(stderr, "chunk %zu outcap %zu: rc %d/%d len %zu\n", chunk, outcap, r.step_rc, r.finish_rc,
                        r.len);
                bad++;
            }
            free(r.out);
        }
    }
    CHECK_EQ_INT(bad, 0);
    gunzip_free(g);
    free(z);
    free(text);
}

static void test_one_byte_first_chunk(void) {
    const char *js = "{\"Records\":[]}";
    size_t zn;
    uint8_t *z = gz(js, strlen(js), &zn);
    gunzip *g = new_g();
    size_t used, made;
    uint8_t out[256];
    /* gzip: the first chunk is only 0x1f */
    CHECK_EQ_INT(gunzip_step(g, z, 1, &used, out, sizeof out, &made), GUNZIP_OK);
    CHECK_EQ_INT(used, 1);
    CHECK_EQ_INT(made, 0);
    CHECK_EQ_INT(gunzip_step(g, z + 1, zn - 1, &used, out, sizeof out, &made), GUNZIP_OK);
    CHECK_EQ_INT(used, zn - 1);
    CHECK_EQ_INT(made, strlen(js));
    CHECK(memcmp(out, js, strlen(js)) == 0);
    CHECK_EQ_INT(gunzip_is_gzip(g), 1);
    CHECK_EQ_INT(gunzip_finish(g), GUNZIP_OK);

    /* plain: 0x1f then something other than 0x8b is data, and the held byte comes out first */
    gunzip_reset(g);
    const uint8_t a[] = {0x1f}, b[] = {'x', 'y'};
    CHECK_EQ_INT(gunzip_step(g, a, 1, &used, out, sizeof out, &made), GUNZIP_OK);
    CHECK_EQ_INT(made, 0);
    CHECK_EQ_INT(gunzip_step(g, b, 2, &used, out, sizeof out, &made), GUNZIP_OK);
    CHECK_EQ_INT(used, 2);
    CHECK_EQ_INT(made, 3);
    CHECK(memcmp(out, "\x1fxy", 3) == 0);
    CHECK_EQ_INT(gunzip_is_gzip(g), 0);
    CHECK_EQ_INT(gunzip_finish(g), GUNZIP_OK);
    CHECK_EQ_INT(gunzip_total_in(g), 3);
    CHECK_EQ_INT(gunzip_total_out(g), 3);

    /* plain: 1-byte first chunk that is not 0x1f passes straight through */
    gunzip_reset(g);
    CHECK_EQ_INT(gunzip_step(g, (const uint8_t *)"{", 1, &used, out, sizeof out, &made), GUNZIP_OK);
    CHECK_EQ_INT(made, 1);
    CHECK_EQ_INT(out[0], '{');

    /* a file that is just 0x1f: truncated gzip */
    gunzip_reset(g);
    CHECK_EQ_INT(gunzip_step(g, a, 1, &used, out, sizeof out, &made), GUNZIP_OK);
    CHECK_EQ_INT(gunzip_finish(g), GUNZIP_ERR);
    gunzip_free(g);
    free(z);
}

/* A member whose header carries every optional field (FEXTRA, FNAME, FCOMMENT, FHCRC), as
 * some writers produce: the fields are skipped, the data comes out. */
static void test_header_fields(void) {
    const char *text = "{\"Records\":[{\"eventID\":\"x\"}]}";
    size_t n = strlen(text);
    uint8_t buf[512];
    size_t k = 0;
    static const uint8_t head[] = {0x1f, 0x8b, 8, 0x1e, 0, 0, 0, 0, 0, 3};
    memcpy(buf, head, sizeof head);
    k = sizeof head;
    buf[k++] = 4; /* XLEN */
    buf[k++] = 0;
    memcpy(buf + k, "ab\0\0", 4);
    k += 4;
    memcpy(buf + k, "log.json", 9); /* with its NUL */
    k += 9;
    memcpy(buf + k, "a comment", 10);
    k += 10;
    uLong hcrc = crc32(0, buf, (uInt)k);
    buf[k++] = (uint8_t)(hcrc & 0xff);
    buf[k++] = (uint8_t)((hcrc >> 8) & 0xff);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    z.next_in = (Bytef *)(uintptr_t)text;
    z.avail_in = (uInt)n;
    z.next_out = buf + k;
    z.avail_out = (uInt)(sizeof buf - k - 8);
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    k = sizeof buf - 8 - z.avail_out;
    deflateEnd(&z);
    uLong crc = crc32(0, (const Bytef *)text, (uInt)n);
    for (int i = 0; i < 4; i++) buf[k++] = (uint8_t)(crc >> (8 * i));
    for (int i = 0; i < 4; i++) buf[k++] = (uint8_t)(n >> (8 * i));
    gunzip *g = new_g();
    size_t chunks[] = {1, 3, 7, 1000};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        gunzip_reset(g);
        result r = run(g, buf, k, chunks[i], 16);
        CHECK_EQ_INT(r.step_rc, GUNZIP_OK);
        CHECK_EQ_INT(r.finish_rc, GUNZIP_OK);
        CHECK(r.len == n && memcmp(r.out, text, n) == 0);
        CHECK_EQ_INT(gunzip_total_in(g), k);
        free(r.out);
    }
    /* a wrong header CRC, or a reserved flag bit, is corrupt data (zlib says so too) */
    size_t hcrc_at = 10 + 2 + 4 + 9 + 10;
    for (int bad = 0; bad < 2; bad++) {
        size_t at = bad == 0 ? hcrc_at : 3;
        uint8_t flip = bad == 0 ? 0x01 : 0x80;
        buf[at] ^= flip;
        gunzip_reset(g);
        result r = run(g, buf, k, 5, 16);
        CHECK_EQ_INT(r.step_rc, GUNZIP_ERR);
        CHECK_EQ_INT(r.len, 0);
        CHECK(strstr(gunzip_error(g), "corrupt") != NULL);
        buf[at] ^= flip;
        free(r.out);
    }
    gunzip_free(g);
}

static void test_concatenated_members_and_padding(void) {
    const char *p1 = "{\"Records\":[{\"a\":1},", *p2 = "{\"b\":2}]}";
    size_t n1, n2;
    uint8_t *z1 = gz(p1, strlen(p1), &n1), *z2 = gz(p2, strlen(p2), &n2);
    size_t pad = 700;
    uint8_t *cat = calloc(1, n1 + n2 + pad + 1);
    memcpy(cat, z1, n1);
    memcpy(cat + n1, z2, n2);
    const char *want = "{\"Records\":[{\"a\":1},{\"b\":2}]}";
    gunzip *g = new_g();
    for (size_t chunk = 0; chunk <= 3; chunk++) {
        gunzip_reset(g);
        result r = run(g, cat, n1 + n2, chunk, 8);
        CHECK_EQ_INT(r.finish_rc, GUNZIP_OK);
        CHECK(r.len == strlen(want) && memcmp(r.out, want, r.len) == 0);
        free(r.out);
        /* with zero padding after the last member */
        gunzip_reset(g);
        r = run(g, cat, n1 + n2 + pad, chunk, 8);
        CHECK_EQ_INT(r.step_rc, GUNZIP_OK);
        CHECK_EQ_INT(r.finish_rc, GUNZIP_OK);
        CHECK(r.len == strlen(want) && memcmp(r.out, want, r.len) == 0);
        CHECK_EQ_INT(gunzip_total_in(g), n1 + n2 + pad);
        free(r.out);
    }
    /* several larger members, every small chunk size and a few windows: ISA-L reads ahead
     * across member ends and hands bytes back, sometimes from an earlier chunk */
    {
        char *t = sample_text(30000);
        size_t parts[] = {1000, 7, 12000, 1, 16992}, off = 0, zlen = 0, zcap = 40000;
        uint8_t *zs = malloc(zcap);
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            size_t zn;
            uint8_t *z = gz(t + off, parts[i], &zn);
            if (zlen + zn > zcap) abort();
            memcpy(zs + zlen, z, zn);
            zlen += zn;
            off += parts[i];
            free(z);
        }
        static const size_t windows[] = {1, 9, 4096};
        int bad = 0;
        for (size_t chunk = 1; chunk <= 20; chunk++) {
            for (size_t w = 0; w < 3; w++) {
                gunzip_reset(g);
                result r = run(g, zs, zlen, chunk, windows[w]);
                if (r.step_rc != GUNZIP_OK || r.finish_rc != GUNZIP_OK || r.len != off || memcmp(r.out, t, off) != 0 ||
                    gunzip_total_in(g) != zlen) {
                    fprintf(stderr, "members: chunk %zu window %zu: %s\n", chunk, windows[w], gunzip_error(g));
                    bad++;
                }
                free(r.out);
            }
        }
        CHECK_EQ_INT(bad, 0);
        free(zs);
        free(t);
    }
    /* non-zero garbage after the padding is an error */
    cat[n1 + n2 + pad] = 'x';
    gunzip_reset(g);
    result r = run(g, cat, n1 + n2 + pad + 1, 64, 256);
    CHECK_EQ_INT(r.step_rc, GUNZIP_ERR);
    CHECK(strstr(gunzip_error(g), "padding") != NULL);
    free(r.out);
    /* a second member cut short */
    gunzip_reset(g);
    r = run(g, cat, n1 + 12, 5, 64);
    CHECK_EQ_INT(r.step_rc, GUNZIP_OK);
    CHECK_EQ_INT(r.finish_rc, GUNZIP_ERR);
    /* member 1 complete, maybe a few literals of member 2: all of it correct */
    CHECK(r.len >= strlen(p1) && r.len < strlen(want) && memcmp(r.out, want, r.len) == 0);
    free(r.out);
    gunzip_free(g);
    free(cat);
    free(z1);
    free(z2);
}

static void test_truncated(void) {
    size_t n = 50000, zn;
    char *text = sample_text(n);
    uint8_t *z = gz(text, n, &zn);
    gunzip *g = new_g();
    /* Cut inside the 8-byte trailer, in the middle of the data, and right after the header. */
    size_t cuts[] = {zn - 1, zn - 4, zn - 8, zn / 2, 10, 3};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        gunzip_reset(g);
        result r = run(g, z, cuts[i], 1000, 4096);
        CHECK_EQ_INT(r.step_rc, GUNZIP_OK);
        CHECK_EQ_INT(r.finish_rc, GUNZIP_ERR);
        CHECK(strstr(gunzip_error(g), "truncated") != NULL);
        CHECK(r.len <= n && memcmp(r.out, text, r.len) == 0); /* what came out is still right */
        free(r.out);
    }
    gunzip_free(g);
    free(z);
    free(text);
}

static void test_corrupt(void) {
    size_t n = 20000, zn;
    char *text = sample_text(n);
    uint8_t *z = gz(text, n, &zn);
    gunzip *g = new_g();
    /* a flipped byte in the CRC-32 trailer */
    z[zn - 6] ^= 0x55;
    result r = run(g, z, zn, 512, 4096);
    CHECK_EQ_INT(r.step_rc, GUNZIP_ERR);
    CHECK(strstr(gunzip_error(g), "corrupt") != NULL);
    /* zlib notices once it has read the 4 CRC bytes, ISA-L once it has the whole trailer */
    char where[64];
    snprintf(where, sizeof where, "at input byte %zu)", backend == GUNZIP_ZLIB ? zn - 4 : zn);
    CHECK(strstr(gunzip_error(g), where) != NULL);
    if (!strstr(gunzip_error(g), where)) fprintf(stderr, "%s: %s\n", gunzip_backend_name(g), gunzip_error(g));
    free(r.out);
    z[zn - 6] ^= 0x55;
    /* a wrong length (ISIZE) in the trailer */
    gunzip_reset(g);
    z[zn - 3] ^= 0x01;
    r = run(g, z, zn, 512, 4096);
    CHECK_EQ_INT(r.step_rc, GUNZIP_ERR);
    CHECK(strstr(gunzip_error(g), "corrupt") != NULL);
    z[zn - 3] ^= 0x01;
    free(r.out);
    /* a bad compression method in the header */
    gunzip_reset(g);
    z[2] = 9;
    r = run(g, z, zn, 512, 4096);
    CHECK_EQ_INT(r.step_rc, GUNZIP_ERR);
    CHECK_EQ_INT(r.len, 0);
    free(r.out);
    z[2] = 8;
    /* garbage in the deflate data: an error, never a crash or a silent success */
    gunzip_reset(g);
    memset(z + 20, 0xff, 40);
    r = run(g, z, zn, 512, 4096);
    CHECK(r.step_rc == GUNZIP_ERR || r.finish_rc == GUNZIP_ERR);
    free(r.out);
    /* errors stick until reset */
    size_t used, made;
    uint8_t out[16];
    CHECK_EQ_INT(gunzip_step(g, (const uint8_t *)"x", 1, &used, out, sizeof out, &made), GUNZIP_ERR);
    gunzip_free(g);
    free(z);
    free(text);
}

/* A gzip member whose deflate data refers back into a preset dictionary the reader lacks: the
 * stream is valid up to the first such reference, then "invalid distance too far back". */
static uint8_t *gz_with_missing_dictionary(const char *dict, const char *text, size_t *outlen) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    if (deflateSetDictionary(&z, (const Bytef *)dict, (uInt)strlen(dict)) != Z_OK) abort();
    size_t len = strlen(text), cap = deflateBound(&z, (uLong)len) + 64;
    uint8_t *out = malloc(cap);
    static const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    memcpy(out, header, sizeof header);
    z.next_in = (Bytef *)(uintptr_t)text;
    z.avail_in = (uInt)len;
    z.next_out = out + sizeof header;
    z.avail_out = (uInt)(cap - sizeof header - 8);
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    size_t n = cap - 8 - z.avail_out;
    deflateEnd(&z);
    uLong crc = crc32(0, (const Bytef *)text, (uInt)len);
    for (int i = 0; i < 4; i++) out[n + (size_t)i] = (uint8_t)(crc >> (8 * i));
    for (int i = 0; i < 4; i++) out[n + 4 + (size_t)i] = (uint8_t)(len >> (8 * i));
    *outlen = n + 8;
    return out;
}

/* Every byte handed out before an error is the stream's own: ISA-L copies a too-far match
 * from memory it never wrote before it reports the fault (found by fuzz_gunzip). */
static void test_bad_distance_hands_out_no_garbage(void) {
    char dict[600], text[4000];
    for (size_t i = 0; i < sizeof dict - 1; i++)
        dict[i] = "qwertyuiopasdfghjklzxcvbnm0123456789"[(i * 7 + i / 36) % 36];
    dict[sizeof dict - 1] = '\0';
    /* 200 bytes of its own, text only the dictionary has, then enough input after the fault for
     * ISA-L's fast loop (it checks a distance only after moving its output cursor past the match) */
    char *fresh = sample_text(3000);
    snprintf(text, sizeof text, "%.200s%.400s%s", fresh, dict + 100, fresh + 200);
    free(fresh);
    size_t zn;
    uint8_t *z = gz_with_missing_dictionary(dict, text, &zn);
    static const size_t chunks[] = {1, 7, 64, 100000}, windows[] = {1, 13, 4096, 1 << 20};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
            gunzip *g = new_g();
            result r = run(g, z, zn, chunks[c], windows[w]);
            CHECK_EQ_INT(r.step_rc, GUNZIP_ERR);
            CHECK(strstr(gunzip_error(g), "invalid distance too far back") != NULL);
            CHECK(r.len <= strlen(text));
            if (r.len > strlen(text) || memcmp(r.out, text, r.len) != 0) {
                fprintf(stderr, "%s chunk %zu window %zu: %zu bytes out, not the text's\n", gunzip_backend_name(g),
                        chunks[c], windows[w], r.len);
                CHECK(0);
            }
            free(r.out);
            gunzip_free(g);
        }
    }
    free(z);
}

static void test_empty(void) {
    gunzip *g = new_g();
    CHECK_EQ_INT(gunzip_finish(g), GUNZIP_OK);
    CHECK_EQ_INT(gunzip_is_gzip(g), 0);
    CHECK_EQ_INT(gunzip_total_in(g), 0);
    size_t used = 7, made = 7;
    uint8_t out[4];
    CHECK_EQ_INT(gunzip_step(g, NULL, 0, &used, out, sizeof out, &made), GUNZIP_OK);
    CHECK_EQ_INT(used, 0);
    CHECK_EQ_INT(made, 0);
    CHECK_EQ_INT(gunzip_finish(g), GUNZIP_OK);
    /* a gzip of zero bytes is fine too */
    size_t zn;
    uint8_t *z = gz("", 0, &zn);
    gunzip_reset(g);
    result r = run(g, z, zn, 3, 4);
    CHECK_EQ_INT(r.finish_rc, GUNZIP_OK);
    CHECK_EQ_INT(r.len, 0);
    free(r.out);
    free(z);
    gunzip_free(g);
}

int main(void) {
    static const enum gunzip_backend all[] = {GUNZIP_ZLIB, GUNZIP_ISAL};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        backend = all[i];
        if (!gunzip_backend_available(backend)) {
            printf("skip: this build has no %s inflater\n", backend == GUNZIP_ISAL ? "ISA-L" : "zlib");
            continue;
        }
        gunzip *g = new_g();
        printf("-- inflater: %s\n", gunzip_backend_name(g));
        gunzip_free(g);
        RUN(test_plain_passthrough);
        RUN(test_gzip_detected);
        RUN(test_tiny_chunks_and_windows);
        RUN(test_one_byte_first_chunk);
        RUN(test_header_fields);
        RUN(test_concatenated_members_and_padding);
        RUN(test_truncated);
        RUN(test_corrupt);
        RUN(test_bad_distance_hands_out_no_garbage);
        RUN(test_empty);
    }
    TEST_MAIN_END();
}
