/* rsplit: elements split at every chunk boundary, strings, nesting, skipped values, oversized
 * elements, every container (Records, Events, top-level arrays, JSON lines, values back to back),
 * broken lines, refusals, errors and backpressure. Delivered elements are compared byte for
 * byte. */
#include <stdint.h>

#include "../fuzz/nest_ref.h"
#include "base/log.h"
#include "pipeline/rsplit.h"
#include "testlib.h"

/* Collects delivered records as "rec\n" lines; can refuse every first offer of a record. */
typedef struct sink {
    char *text;
    size_t len, cap;
    int count;
    int calls;
    int refuse_first; /* refuse each record once, accept it when offered again */
    int refused;
    int bad_shape; /* a record that does not start with '{' and end with '}' */
    rsplit *where; /* when set, each line starts with the element's container: T R E A */
} sink;

static int collect(void *ud, const char *rec, size_t len) {
    sink *k = ud;
    k->calls++;
    if (len < 2 || !((rec[0] == '{' && rec[len - 1] == '}') || (rec[0] == '"' && rec[len - 1] == '"'))) k->bad_shape++;
    if (k->refuse_first && !k->refused) {
        k->refused = 1;
        return 1;
    }
    k->refused = 0;
    if (k->len + len + 2 > k->cap) {
        k->cap = (k->len + len + 2) * 2;
        k->text = realloc(k->text, k->cap);
    }
    if (k->where) k->text[k->len++] = "TREA"[rsplit_container_of(k->where)];
    memcpy(k->text + k->len, rec, len);
    k->len += len;
    k->text[k->len++] = '\n';
    k->count++;
    return 0;
}

/* Skipped elements as "offset size head\n" lines (or "offset size\n" when input is set, after
 * checking the head is the input's own bytes there). */
typedef struct skips {
    char text[8192];
    size_t len;
    int count;
    const char *input;
    size_t input_len;
    char reasons[4096];
} skips;

static void on_skip(void *ud, const rsplit_skip *x) {
    skips *k = ud;
    k->count++;
    if (x->head_len > x->size || x->head_len > RSPLIT_HEAD || !x->reason || !*x->reason) k->count += 1000;
    int n;
    if (k->input) {
        if (x->offset + x->size > k->input_len || memcmp(x->head, k->input + x->offset, x->head_len) != 0 ||
            (x->head_len < RSPLIT_HEAD && x->head_len < x->size))
            k->count += 1000;
        n = snprintf(k->text + k->len, sizeof k->text - k->len, "%llu %llu\n", (unsigned long long)x->offset,
                     (unsigned long long)x->size);
    } else {
        n = snprintf(k->text + k->len, sizeof k->text - k->len, "%llu %llu %.*s\n", (unsigned long long)x->offset,
                     (unsigned long long)x->size, (int)x->head_len, x->head);
    }
    if (n > 0 && (size_t)n < sizeof k->text - k->len) k->len += (size_t)n;
    size_t r = strlen(k->reasons);
    snprintf(k->reasons + r, sizeof k->reasons - r, "%s\n", x->reason);
}

static void sink_reset(sink *k) {
    free(k->text);
    memset(k, 0, sizeof *k);
}

typedef struct outcome {
    int commit_rc; /* last non-OK commit result, or RSPLIT_OK */
    int finish_rc;
    int stops;
    int small_space; /* times rsplit_space offered < 64 KiB */
} outcome;

/* Feeds data in chunks: chunk > 0 fixed size, chunk == 0 random 1..300, chunk < 0 first -chunk
 * bytes then the rest. STOPPED is resumed with commit(0) until it goes through. */
static outcome feed(rsplit *s, sink *k, const char *data, size_t n, long chunk, uint32_t seed) {
    outcome o = {RSPLIT_OK, RSPLIT_OK, 0, 0};
    size_t off = 0;
    int first = 1;
    while (off < n) {
        size_t c;
        if (chunk > 0) {
            c = (size_t)chunk;
        } else if (chunk == 0) {
            seed = seed * 1103515245u + 12345u;
            c = 1 + (seed >> 16) % 300;
        } else {
            c = first ? (size_t)-chunk : n;
        }
        first = 0;
        if (c > n - off) c = n - off;
        size_t avail;
        char *dst = rsplit_space(s, &avail);
        if (avail < 64 * 1024) o.small_space++;
        if (c > avail) c = avail;
        memcpy(dst, data + off, c);
        off += c;
        int rc = rsplit_commit(s, c, collect, k);
        while (rc == RSPLIT_STOPPED) {
            o.stops++;
            rc = rsplit_commit(s, 0, collect, k);
        }
        if (rc != RSPLIT_OK) {
            o.commit_rc = rc;
            return o;
        }
        if (c == 0) break;
    }
    o.finish_rc = rsplit_finish(s);
    return o;
}

/* A small file with everything awkward: keys around Records, escapes, braces and brackets in
 * strings, nesting, non-object elements, whitespace everywhere. */
static const char *tricky_file =
    " \n{ \"before\" : {\"Records\":[{\"decoy\":1}], \"s\":\"}]\\\"\"},\"n\":-12.5e3,\"t\":true,\"z\":null,"
    "\"Records\" : [ {\"a\":\"x\\\"}{[\",\"b\":\"\\\\\"}, 7 , \"str{\" ,"
    "{\"nested\":{\"o\":[1,{\"p\":[[]]},\"]\"],\"q\":{}},\"u\":\"\\u007b\"},[{\"inner\":1}], null,"
    "{\"esc\":\"\\\\\\\\\\\"\",\"k\\\"}\":\"v\"}\t,{} ] , \"after\":[\"Records\",{\"x\":\"{\"}], \"f\":false }\r\n ";
static const char *tricky_expected = "{\"a\":\"x\\\"}{[\",\"b\":\"\\\\\"}\n"
                                     "\"str{\"\n"
                                     "{\"nested\":{\"o\":[1,{\"p\":[[]]},\"]\"],\"q\":{}},\"u\":\"\\u007b\"}\n"
                                     "{\"esc\":\"\\\\\\\\\\\"\",\"k\\\"}\":\"v\"}\n"
                                     "{}\n";

/* What a skip line of the tricky file must be: the element's offset, size and as much of its
 * start as the write it began in held (the rest of that write, from the element on). */
static size_t skip_line(char *out, size_t cap, const char *elem, size_t write_left) {
    const char *at = strstr(strstr(tricky_file, "\"Records\" : ["), elem); /* the real one */
    size_t len = strlen(elem), head = write_left < len ? write_left : len;
    return (size_t)snprintf(out, cap, "%zu %zu %.*s\n", (size_t)(at - tricky_file), len, (int)head, elem);
}

static void check_tricky(long chunk, uint32_t seed, int *bad) {
    rsplit *s = rsplit_new(4096);
    sink k = {0};
    skips sk = {0};
    rsplit_on_skip(s, on_skip, &sk);
    outcome o = feed(s, &k, tricky_file, strlen(tricky_file), chunk, seed);
    const rsplit_stats *st = rsplit_get_stats(s);
    int ok = o.commit_rc == RSPLIT_OK && o.finish_rc == RSPLIT_OK && k.count == 5 && k.len == strlen(tricky_expected) &&
             memcmp(k.text, tricky_expected, k.len) == 0 && st->elements == 5 && st->non_objects == 3 &&
             st->oversized == 0 && st->containers == RSPLIT_SAW_RECORDS && k.bad_shape == 0;
    /* Whole writes (one chunk, or the file): every skipped element reported with its full start. */
    if (chunk < 0 && (size_t)-chunk >= strlen(tricky_file)) {
        char want[1024];
        size_t n = 0;
        const char *elems[] = {"7", "[{\"inner\":1}]", "null"};
        for (int i = 0; i < 3; i++) n += skip_line(want + n, sizeof want - n, elems[i], 1000);
        ok = ok && sk.len == n && memcmp(sk.text, want, n) == 0;
    }
    ok = ok && sk.count == 3;
    if (!ok) {
        fprintf(stderr, "chunk %ld seed %u: rc %d/%d count %d: %s\n%.*s\nskips (%d):\n%.*s", chunk, seed, o.commit_rc,
                o.finish_rc, k.count, rsplit_error(s), (int)k.len, k.text ? k.text : "", sk.count, (int)sk.len,
                sk.text);
        (*bad)++;
    }
    sink_reset(&k);
    rsplit_free(s);
}

static void test_every_chunk_boundary(void) {
    int bad = 0;
    size_t n = strlen(tricky_file);
    check_tricky(1, 0, &bad);                                                 /* one byte at a time */
    check_tricky(-(long)n, 0, &bad);                                          /* all at once */
    for (size_t cut = 1; cut < n; cut++) check_tricky(-(long)cut, 0, &bad);   /* every single split point */
    for (uint32_t seed = 1; seed <= 200; seed++) check_tricky(0, seed, &bad); /* random chunk sizes */
    check_tricky(3, 0, &bad);
    CHECK_EQ_INT(bad, 0);
}

static void test_basic_and_stats(void) {
    rsplit *s = rsplit_new(1000);
    sink k = {0};
    const char *f = "{\"Records\":[{\"a\":1},{\"bb\":\"22\"}]}";
    outcome o = feed(s, &k, f, strlen(f), 1000, 0);
    CHECK_EQ_INT(o.commit_rc, RSPLIT_OK);
    CHECK_EQ_INT(o.finish_rc, RSPLIT_OK);
    CHECK_EQ_INT(k.count, 2);
    CHECK(k.text && memcmp(k.text, "{\"a\":1}\n{\"bb\":\"22\"}\n", k.len) == 0);
    const rsplit_stats *st = rsplit_get_stats(s);
    CHECK_EQ_INT(st->elements, 2);
    CHECK_EQ_INT(st->largest, 11);
    CHECK_EQ_INT(st->containers, RSPLIT_SAW_RECORDS);
    CHECK_EQ_INT(st->values, 1);
    /* reset and reuse for an empty Records array */
    rsplit_reset(s);
    sink_reset(&k);
    o = feed(s, &k, "{\"Records\":[]}", 14, 5, 0);
    CHECK_EQ_INT(o.finish_rc, RSPLIT_OK);
    CHECK_EQ_INT(k.count, 0);
    CHECK_EQ_INT(rsplit_get_stats(s)->containers, RSPLIT_SAW_RECORDS);
    CHECK_EQ_INT(rsplit_get_stats(s)->elements, 0);
    sink_reset(&k);
    rsplit_free(s);
}

/* A top-level object without a wrapper key is an element itself (a digest's content is judged
 * by shape.c); a file without any value says so in its stats. */
static void test_digest_and_empty(void) {
    rsplit *s = rsplit_new(1000);
    sink k = {0};
    const char *digest = "{\"awsAccountId\":\"111122223333\",\"digestStartTime\":\"2024-01-01T00:00:00Z\","
                         "\"previousDigestSignature\":null,\"logFiles\":[{\"s3Bucket\":\"b\",\"s3Object\":\"k\","
                         "\"hashValue\":\"ab\",\"newestEventTime\":\"2024-01-01T00:59:00Z\"}]}\n";
    outcome o = feed(s, &k, digest, strlen(digest), 7, 0);
    CHECK_EQ_INT(o.commit_rc, RSPLIT_OK);
    CHECK_EQ_INT(o.finish_rc, RSPLIT_OK);
    CHECK_EQ_INT(k.count, 1);
    CHECK(k.len == strlen(digest) && memcmp(k.text, digest, k.len) == 0);
    CHECK_EQ_INT(rsplit_get_stats(s)->containers, 0);
    rsplit_reset(s);
    CHECK_EQ_INT(rsplit_finish(s), RSPLIT_OK); /* 0 bytes */
    CHECK_EQ_INT(rsplit_get_stats(s)->values, 0);
    rsplit_reset(s);
    sink_reset(&k);
    o = feed(s, &k, " \r\n\t ", 5, 1, 0); /* whitespace only */
    CHECK_EQ_INT(o.finish_rc, RSPLIT_OK);
    CHECK_EQ_INT(rsplit_get_stats(s)->values, 0);
    CHECK_EQ_INT(k.count, 0);
    sink_reset(&k);
    rsplit_free(s);
}

/* Runs a file expected to fail; returns the number of records delivered before the error. */
static int expect_error(const char *f, const char *what, int at_finish) {
    rsplit *s = rsplit_new(1000);
    sink k = {0};
    outcome o = feed(s, &k, f, strlen(f), 1, 0);
    if (at_finish) {
        CHECK_EQ_INT(o.commit_rc, RSPLIT_OK);
        CHECK_EQ_INT(o.finish_rc, RSPLIT_ERR);
    } else {
        CHECK_EQ_INT(o.commit_rc, RSPLIT_ERR);
    }
    if (!strstr(rsplit_error(s), what)) {
        fprintf(stderr, "input %s: error \"%s\" lacks \"%s\"\n", f, rsplit_error(s), what);
        test_failures++;
    }
    /* an error sticks */
    size_t avail;
    rsplit_space(s, &avail);
    CHECK_EQ_INT(rsplit_commit(s, 0, collect, &k), RSPLIT_ERR);
    int n = k.count;
    sink_reset(&k);
    rsplit_free(s);
    return n;
}

/* Inside a wrapper or an array (one document) damage is fatal: the file is corrupt. */
static void test_errors(void) {
    CHECK_EQ_INT(expect_error("{\"Records\":[{\"a\":1},{\"b\":", "truncated", 1), 1);
    CHECK_EQ_INT(expect_error("{\"Records\":[{\"a\":\"x\\", "truncated", 1), 0);
    CHECK_EQ_INT(expect_error("{\"Records\":[{\"a\":1}", "inside Records", 1), 1);
    CHECK_EQ_INT(expect_error("{\"Events\":[{\"a\":1}],\"NextToken\":\"x", "truncated", 1), 1);
    CHECK_EQ_INT(expect_error("[{\"a\":1},", "inside the top-level array", 1), 1);
    CHECK_EQ_INT(expect_error("{\"Records\":[{\"a\":[1}]}", "mismatched", 0), 0);
    CHECK_EQ_INT(expect_error("{\"Records\":[{\"a\":1},{\"a\":{]}]}", "mismatched", 0), 1);
    CHECK_EQ_INT(expect_error("{\"Records\":[{\"a\":1},]}", "element", 0), 1);
    CHECK_EQ_INT(expect_error("{\"Records\":[{\"a\":1} {\"b\":1}]}", "',' or ']'", 0), 1);
    CHECK_EQ_INT(expect_error("[{\"a\":1} {\"b\":1}]", "',' or ']'", 0), 1);
    CHECK_EQ_INT(expect_error("{\"Records\":[],\"x\":[1,2}", "mismatched", 0), 0);
    CHECK_EQ_INT(expect_error("{\"Records\":[] \"x\":1}", "',' or '}'", 0), 0);
}

/* A record past max_record is skipped while being streamed; its neighbours arrive intact. The
 * big one is longer than the whole buffer, so it cannot have been buffered. */
static void test_oversized(void) {
    size_t big = 600 * 1024, max_record = 2000;
    const char *head = "{\"Records\":[{\"n\":1},{\"big\":\"";
    const char *tail = "\"},{\"n\":2,\"s\":\"}\"}]}";
    size_t n = strlen(head) + big + strlen(tail);
    char *f = malloc(n);
    memcpy(f, head, strlen(head));
    /* brackets and escaped quotes all through the string, none of which may count */
    char *body = f + strlen(head);
    for (size_t i = 0; i < big; i++) body[i] = "ab{}[]c x"[i % 9];
    for (size_t i = 10; i + 1 < big; i += 50) {
        body[i] = '\\';
        body[i + 1] = '"';
    }
    memcpy(f + strlen(head) + big, tail, strlen(tail));
    long chunks[] = {4096, 0, 65536};
    for (size_t c = 0; c < 3; c++) {
        rsplit *s = rsplit_new(max_record);
        sink k = {0};
        skips sk = {0};
        rsplit_on_skip(s, on_skip, &sk);
        outcome o = feed(s, &k, f, n, chunks[c], 9);
        /* reported once, with where it starts, its whole size and its first RSPLIT_HEAD bytes */
        char want_skip[RSPLIT_HEAD + 64];
        size_t big_at = strlen("{\"Records\":[{\"n\":1},"), big_len = strlen(head) - big_at + big + 2;
        int wl = snprintf(want_skip, sizeof want_skip, "%zu %zu %.*s\n", big_at, big_len, RSPLIT_HEAD, f + big_at);
        CHECK_EQ_INT(sk.count, 1);
        CHECK(sk.len == (size_t)wl && memcmp(sk.text, want_skip, (size_t)wl) == 0);
        CHECK_EQ_INT(o.commit_rc, RSPLIT_OK);
        CHECK_EQ_INT(o.finish_rc, RSPLIT_OK);
        CHECK_EQ_INT(o.small_space, 0);
        CHECK_EQ_INT(k.count, 2);
        const char *want = "{\"n\":1}\n{\"n\":2,\"s\":\"}\"}\n";
        CHECK(k.len == strlen(want) && memcmp(k.text, want, k.len) == 0);
        CHECK_EQ_INT(rsplit_get_stats(s)->oversized, 1);
        CHECK_EQ_INT(rsplit_get_stats(s)->elements, 2);
        sink_reset(&k);
        rsplit_free(s);
    }
    /* a record just over the limit, complete inside one chunk, is skipped the same way */
    rsplit *s = rsplit_new(11); /* exactly the size of the first record */
    sink k = {0};
    const char *g = "{\"Records\":[{\"a\":12345},{\"a\":123456},{\"a\":1234}]}";
    skips sk = {0};
    rsplit_on_skip(s, on_skip, &sk);
    outcome o = feed(s, &k, g, strlen(g), 1000, 0);
    CHECK_EQ_INT(o.finish_rc, RSPLIT_OK);
    CHECK(k.len == 23 && memcmp(k.text, "{\"a\":12345}\n{\"a\":1234}\n", 23) == 0);
    CHECK_EQ_INT(rsplit_get_stats(s)->oversized, 1);
    CHECK_EQ_INT(sk.count, 1);
    CHECK_EQ_STR(sk.text, "24 12 {\"a\":123456}\n");
    sink_reset(&k);
    rsplit_free(s);
    free(f);
}

static void test_backpressure(void) {
    rsplit *s = rsplit_new(1000);
    sink k = {0};
    k.refuse_first = 1;
    const char *f = "{\"Records\":[{\"a\":1},{\"b\":2},{\"c\":3}]}";
    size_t avail;
    char *dst = rsplit_space(s, &avail);
    memcpy(dst, f, strlen(f));
    CHECK_EQ_INT(rsplit_commit(s, strlen(f), collect, &k), RSPLIT_STOPPED);
    CHECK_EQ_INT(k.count, 0);
    CHECK_EQ_INT(rsplit_get_stats(s)->elements, 0);
    CHECK_EQ_INT(rsplit_finish(s), RSPLIT_ERR); /* finishing with a record pending would lose it */
    rsplit_reset(s);
    sink_reset(&k);
    k.refuse_first = 1;
    dst = rsplit_space(s, &avail);
    memcpy(dst, f, strlen(f));
    int stops = 0, rc = rsplit_commit(s, strlen(f), collect, &k);
    while (rc == RSPLIT_STOPPED && stops < 10) {
        stops++;
        rc = rsplit_commit(s, 0, collect, &k);
    }
    CHECK_EQ_INT(rc, RSPLIT_OK);
    CHECK_EQ_INT(stops, 3);
    CHECK_EQ_INT(k.calls, 6); /* each record offered twice */
    CHECK_EQ_INT(k.count, 3);
    CHECK(k.len == 24 && memcmp(k.text, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n", 24) == 0);
    CHECK_EQ_INT(rsplit_finish(s), RSPLIT_OK);
    CHECK_EQ_INT(rsplit_get_stats(s)->elements, 3);
    sink_reset(&k);
    /* the same over the tricky file, 1 byte at a time */
    rsplit_reset(s);
    k.refuse_first = 1;
    outcome o = feed(s, &k, tricky_file, strlen(tricky_file), 1, 0);
    CHECK_EQ_INT(o.finish_rc, RSPLIT_OK);
    CHECK_EQ_INT(o.stops, 5);
    CHECK(k.len == strlen(tricky_expected) && memcmp(k.text, tricky_expected, k.len) == 0);
    sink_reset(&k);
    rsplit_free(s);
}

/* Thousands of CloudTrail-sized records through random chunks: exercises compaction. */
static void test_many_records(void) {
    const int nrec = 3000;
    size_t cap = 16 + (size_t)nrec * 2100;
    char *f = malloc(cap), *want = malloc(cap);
    size_t n = 0, wn = 0;
    n += (size_t)sprintf(f + n, "{\"Records\":[");
    uint32_t r = 7;
    for (int i = 0; i < nrec; i++) {
        r = r * 1103515245u + 12345u;
        int pad = 200 + (int)((r >> 16) % 1600);
        size_t start = n;
        n += (size_t)sprintf(f + n,
                             "%s{\"eventID\":\"id-%d\",\"requestParameters\":{\"p\":[\"%d\",{\"q\":\"\\\"}\"}]},"
                             "\"pad\":\"",
                             i ? "," : "", i, i);
        for (int j = 0; j < pad; j++) f[n++] = (char)('a' + (j * 7 + i) % 26);
        n += (size_t)sprintf(f + n, "\"}");
        size_t rs = start + (i ? 1 : 0);
        memcpy(want + wn, f + rs, n - rs);
        wn += n - rs;
        want[wn++] = '\n';
    }
    n += (size_t)sprintf(f + n, "]}");
    uint32_t seeds[] = {1, 2};
    long chunks[] = {0, 16384, 65536 * 3};
    for (int c = 0; c < 3; c++) {
        rsplit *s = rsplit_new(4096);
        sink k = {0};
        outcome o = feed(s, &k, f, n, chunks[c], seeds[c % 2]);
        CHECK_EQ_INT(o.finish_rc, RSPLIT_OK);
        CHECK_EQ_INT(o.small_space, 0);
        CHECK_EQ_INT(k.count, nrec);
        CHECK(k.len == wn && memcmp(k.text, want, wn) == 0);
        sink_reset(&k);
        rsplit_free(s);
    }
    free(f);
    free(want);
}

/* With room for a 2 MB record, 1.5 KB records in 16 KB writes stay in the buffer's first window
 * and a half: a small tail is moved to the front once a window was written, so the rest of the
 * buffer is never touched (each new page is a fault and resident memory). A 300 KB record still
 * gets room beyond that. */
static void test_front_of_buffer(void) {
    rsplit *s = rsplit_new(2u << 20);
    sink k = {0};
    size_t avail, hi = 0, written = 0;
    char *base = rsplit_space(s, &avail);
    char rec[1500];
    memset(rec, 'a', sizeof rec);
    memcpy(rec, "{\"k\":\"", 6);
    memcpy(rec + sizeof rec - 2, "\"}", 2);
    const size_t total = 8u << 20;
    char *chunk = malloc(16384 + sizeof rec);
    size_t cn = 0, recs = 0;
    while (written < total) {
        while (cn < 16384) {
            chunk[cn++] = recs++ ? ',' : '[';
            memcpy(chunk + cn, rec, sizeof rec);
            cn += sizeof rec;
        }
        char *dst = rsplit_space(s, &avail);
        CHECK(avail >= 16384);
        memcpy(dst, chunk, 16384);
        if ((size_t)(dst - base) + 16384 > hi) hi = (size_t)(dst - base) + 16384;
        CHECK_EQ_INT(rsplit_commit(s, 16384, collect, &k), RSPLIT_OK);
        memmove(chunk, chunk + 16384, cn - 16384);
        cn -= 16384;
        written += 16384;
    }
    char *dst = rsplit_space(s, &avail); /* the rest of the last record */
    memcpy(dst, chunk, cn);
    CHECK_EQ_INT(rsplit_commit(s, cn, collect, &k), RSPLIT_OK);
    CHECK_EQ_INT(k.count, (int)recs);
    CHECK(k.bad_shape == 0 && k.len == recs * (sizeof rec + 1));
    CHECK(hi <= (512u << 10)); /* was 2 MB + 256 KB: the whole buffer */
    /* A large element: it is kept whole, and the buffer grows into the rest for it. */
    size_t big = 300u << 10;
    dst = rsplit_space(s, &avail);
    dst[0] = ',';
    memcpy(dst + 1, "{\"k\":\"", 6);
    CHECK_EQ_INT(rsplit_commit(s, 7, collect, &k), RSPLIT_OK);
    int before = k.count;
    for (size_t left = big; left > 0;) {
        dst = rsplit_space(s, &avail);
        size_t w = left < avail ? left : avail;
        memset(dst, 'b', w);
        CHECK_EQ_INT(rsplit_commit(s, w, collect, &k), RSPLIT_OK);
        left -= w;
    }
    dst = rsplit_space(s, &avail);
    memcpy(dst, "\"}]", 3);
    CHECK_EQ_INT(rsplit_commit(s, 3, collect, &k), RSPLIT_OK);
    CHECK_EQ_INT(rsplit_finish(s), RSPLIT_OK);
    CHECK_EQ_INT(k.count, before + 1);
    CHECK(k.len == recs * (sizeof rec + 1) + 6 + big + 2 + 1);
    sink_reset(&k);
    free(chunk);
    rsplit_free(s);
}

/* Runs in every chunking (one piece, 1 byte, every split point, random sizes) and compares the
 * elements (prefixed with their container) and the skipped stretches ("offset size"). */
static void check_split(const char *label, const char *in, size_t max_record, const char *want_elems,
                        const char *want_skips, const char *want_reason) {
    size_t n = strlen(in);
    int bad = 0;
    for (long mode = -1; mode <= (long)n + 20; mode++) {
        long chunk = mode < 0 ? -(long)n : mode == 0 ? 1 : mode <= (long)n ? -mode : 0;
        uint32_t seed = mode > (long)n ? (uint32_t)mode : 0;
        rsplit *s = rsplit_new(max_record);
        sink k = {0};
        k.where = s;
        skips sk = {0};
        sk.input = in;
        sk.input_len = n;
        rsplit_on_skip(s, on_skip, &sk);
        outcome o = feed(s, &k, in, n, chunk, seed);
        int ok = o.commit_rc == RSPLIT_OK && o.finish_rc == RSPLIT_OK && k.bad_shape == 0 && sk.count < 1000 &&
                 k.len == strlen(want_elems) && (!k.len || memcmp(k.text, want_elems, k.len) == 0) &&
                 sk.len == strlen(want_skips) && memcmp(sk.text, want_skips, sk.len) == 0 &&
                 (!want_reason || strstr(sk.reasons, want_reason));
        if (!ok && bad++ < 3)
            fprintf(stderr, "%s (chunk %ld seed %u, %d skips): rc %d/%d %s\nelements:\n%.*s\nskips:\n%.*s%s", label,
                    chunk, seed, sk.count, o.commit_rc, o.finish_rc, rsplit_error(s), (int)k.len, k.text ? k.text : "",
                    (int)sk.len, sk.text, sk.reasons);
        sink_reset(&k);
        rsplit_free(s);
    }
    if (bad) test_failures++;
}

/* Every container, keys in any order, whitespace and CRLF everywhere. */
static void test_containers(void) {
    check_split("lookup-events output, keys reordered",
                "{\"NextToken\":\"t]\",\"Events\":[{\"EventId\":\"1\",\"CloudTrailEvent\":\"{\\\"e\\\":[]}\"},"
                "{\"EventId\":\"2\"}],\"Other\":[1,{}]}",
                1000, "E{\"EventId\":\"1\",\"CloudTrailEvent\":\"{\\\"e\\\":[]}\"}\nE{\"EventId\":\"2\"}\n", "", NULL);
    check_split("pretty top-level array", "[\n  {\"a\": 1},\n  {\"b\": [2]}\n]\n", 1000, "A{\"a\": 1}\nA{\"b\": [2]}\n",
                "", NULL);
    check_split("JSON lines with CRLF",
                "{\"eventVersion\":\"1.08\",\"x\":\"}\"}\r\n{\"eventVersion\":\"1.09\"}\r\n\r\n{\"v\":2}\r\n", 1000,
                "T{\"eventVersion\":\"1.08\",\"x\":\"}\"}\nT{\"eventVersion\":\"1.09\"}\nT{\"v\":2}\n", "", NULL);
    check_split("values back to back", "{\"a\":1}{\"b\":2}\"s\"[{\"c\":3}]{\"Records\":[{\"d\":4}]}", 1000,
                "T{\"a\":1}\nT{\"b\":2}\nT\"s\"\nA{\"c\":3}\nR{\"d\":4}\n", "", NULL);
    check_split(
        "pretty values, as jq prints them",
        "{\n  \"eventVersion\": \"1.08\",\n  \"userIdentity\": {\n    \"type\": \"Root\"\n  },\n  \"r\": [\n    {\n"
        "      \"ARN\": \"x\"\n    }\n  ]\n}\n{\n  \"eventVersion\": \"1.08\"\n}\n",
        1000,
        "T{\n  \"eventVersion\": \"1.08\",\n  \"userIdentity\": {\n    \"type\": \"Root\"\n  },\n  \"r\": [\n    {\n"
        "      \"ARN\": \"x\"\n    }\n  ]\n}\nT{\n  \"eventVersion\": \"1.08\"\n}\n",
        "", NULL);
    check_split("a wrapper key after other values", "{\"meta\":{\"x\":[1,2,{\"y\":\"]\"}]},\"Records\":[{\"a\":1}]}",
                1000, "R{\"a\":1}\n", "", NULL);
    check_split("Records that is not an array: an element", "{\"Records\":{\"a\":1}}", 1000,
                "T{\"Records\":{\"a\":1}}\n", "", NULL);
    check_split("a byte order mark", "\xEF\xBB\xBF{\"Records\":[{\"a\":1}]}", 1000, "R{\"a\":1}\n", "", NULL);
    check_split("strings, one per line",
                "\"{\\\"eventVersion\\\":\\\"1\\\"}\"\n[\"x\\\"\",\"y\"]\n\"{\\\"eventVersion\\\":\\\"2\\\"}\"\n", 1000,
                "T\"{\\\"eventVersion\\\":\\\"1\\\"}\"\nA\"x\\\"\"\nA\"y\"\nT\"{\\\"eventVersion\\\":\\\"2\\\"}\"\n",
                "", NULL);
}

/* A broken line between top-level values is reported on its own; the lines around it are read. */
static void test_broken_lines(void) {
    check_split(
        "a line that ends inside a string",
        "{\"eventVersion\":\"1\",\"a\":\"x\"}\n{\"eventVersion\":\"1\",\"a\":\"trun\n{\"eventVersion\":\"2\"}\n", 1000,
        "T{\"eventVersion\":\"1\",\"a\":\"x\"}\nT{\"eventVersion\":\"2\"}\n", "29 30\n", "inside a string");
    check_split("a line cut outside strings", "{\"eventVersion\":\"1\",\"a\":{\"b\":1}\n{\"eventVersion\":\"2\"}\n",
                1000, "T{\"eventVersion\":\"2\"}\n", "0 32\n", "starts a new object");
    check_split("a line cut in a key", "{\"a\":1}\n{\"b\":1,\"c\n{\"d\":1}", 1000, "T{\"a\":1}\nT{\"d\":1}\n", "8 10\n",
                "inside a string");
    check_split("a line that is not JSON", "{\"a\":1}\nthis is not json\n  {\"x\":1}\n{\"b\":2}\n", 1000,
                "T{\"a\":1}\nT{\"b\":2}\n", "8 27\n", "text that is not JSON");
    check_split("a closing brace too many", "{\"a\":1}}\r\n{\"b\":2}", 1000, "T{\"a\":1}\nT{\"b\":2}\n", "7 3\n", NULL);
    check_split("a mismatched bracket", "{\"a\":[1}\n{\"b\":2}\n", 1000, "T{\"b\":2}\n", "0 9\n", "mismatched");
    check_split("a cut last line", "{\"a\":1}\n{\"b\":", 1000, "T{\"a\":1}\n", "8 5\n", "ends inside");
    check_split("a number between values", "{\"a\":1}\n42\n{\"b\":2}", 1000, "T{\"a\":1}\nT{\"b\":2}\n", "8 3\n",
                "a number");
    check_split("a top-level object that breaks in its keys", "{\"x\" 1}\n{\"b\":2}", 1000, "T{\"b\":2}\n", "0 8\n",
                "':'");
    check_split("a string with a raw line break", "\"ab\ncd\"\n\"ok\"", 1000, "T\"ok\"\n", "0 8\n", "inside a string");
    /* too large between lines: reported as oversized, the next line is read */
    char big[3000];
    size_t n = (size_t)snprintf(big, sizeof big, "{\"a\":1}\n{\"eventVersion\":\"");
    memset(big + n, 'x', 1500);
    n += 1500;
    snprintf(big + n, sizeof big - n, "\"}\n{\"b\":2}\n");
    char want_skip[64];
    snprintf(want_skip, sizeof want_skip, "8 %zu\n", 1500 + strlen("{\"eventVersion\":\"\"}"));
    check_split("a line over the limit", big, 1000, "T{\"a\":1}\nT{\"b\":2}\n", want_skip,
                "larger than the record limit");
}

/* A file that is none of the shapes is refused at its first value, not read line by line. */
static void expect_refused(const char *f, int refused, const char *what) {
    rsplit *s = rsplit_new(1000);
    sink k = {0};
    outcome o = feed(s, &k, f, strlen(f), 1000, 0);
    CHECK_EQ_INT(o.commit_rc, refused ? RSPLIT_ERR : RSPLIT_OK);
    CHECK_EQ_INT(rsplit_refused(s), refused);
    if (what && !strstr(rsplit_error(s), what)) {
        fprintf(stderr, "input %s: error \"%s\" lacks \"%s\"\n", f, rsplit_error(s), what);
        test_failures++;
    }
    CHECK_EQ_INT(k.count, 0);
    sink_reset(&k);
    rsplit_free(s);
}

static void test_refused(void) {
    expect_refused("hello world\n{\"a\":1}", 1, "first value is text that is not JSON ('hello world");
    expect_refused("42\n", 1, "a number");
    expect_refused("[1,{\"a\":1}]", 1, "first element of the array is a number");
    expect_refused("{\"Events\":[true]}", 1, "a boolean");
    expect_refused("[[{\"a\":1}]]", 1, "an array");
    expect_refused("{\"Records\":[1]}", 0, NULL);                 /* an element of Records: skipped and reported */
    expect_refused(" \xBB{\"a\":1}", 1, "text that is not JSON"); /* a byte order mark only at the start */
}

/* The nested-value scanner (64-byte blocks, byte-wise around backslashes) against the plain
 * byte loop of nest_ref.h, on random texts in random pieces: every answer, every position and
 * the state saved between pieces must agree (nest_ref_compare aborts otherwise). The texts mix
 * long runs of string bytes, where the blocks go fast, with dense structure, backslashes at
 * every density (also last in a piece or a block), bytes above 0x7f, the bytes the block scan
 * first takes for brackets ('Y', '_', 'y', DEL) and mismatched brackets. */
static void test_nest_scan_differential(void) {
    static unsigned char text[1 << 14];
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    unsigned closed = 0;
    for (int round = 0; round < 3000; round++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        size_t n = 1 + (size_t)(rng % sizeof text);
        unsigned backslash_per_mille = (unsigned)(rng >> 20) % 4 == 0 ? 0 : (unsigned)(rng >> 24) % 60;
        unsigned structure_per_mille = 5 + (unsigned)(rng >> 32) % 300;
        text[0] = (rng >> 40) & 1 ? '{' : '[';
        for (size_t i = 1; i < n; i++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            unsigned roll = (unsigned)(rng % 1000);
            if (roll < backslash_per_mille) text[i] = '\\';
            else if (roll < backslash_per_mille + structure_per_mille)
                text[i] = "\"\"\"{}[]{}:,Y_\x7fy"[(rng >> 12) % 15];
            else text[i] = (rng >> 16) % 50 == 0 ? (unsigned char)(0x80 + (rng >> 24) % 128) : 'a' + (rng >> 24) % 26;
        }
        closed += nest_ref_compare(text, n, 0);
        closed += nest_ref_compare(text, n, (uint32_t)(rng >> 8) | 1u);
    }
    /* A record as CloudTrail writes it, with an escaped policy document, many times over. */
    const char *rec = "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"AssumedRole\",\"arn\":\"arn:aws:sts::1:"
                      "assumed-role/r/s\"},\"requestParameters\":{\"policy\":\"{\\\"Version\\\":\\\"2012-10-17\\\","
                      "\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\",\\\"Resource\\\":\\\"*\\\"}]}\",\"tags\":[]},"
                      "\"resources\":[{\"ARN\":\"arn:aws:s3:::b\"},{\"ARN\":\"arn:aws:s3:::c\"}],\"x\":\"\\\\\"}";
    size_t n = 0, m = strlen(rec);
    while (n + m + 1 < sizeof text) {
        memcpy(text + n, rec, m);
        n += m;
        text[n++] = ',';
    }
    unsigned records = nest_ref_compare(text, n, 0);
    CHECK_EQ_INT(records, n / (m + 1));
    CHECK_EQ_INT(nest_ref_compare(text, n, 7), records);
    CHECK(closed > 1000); /* values do close, so both answers are compared, not only "go on" */
}

int main(void) {
    RUN(test_containers);
    RUN(test_broken_lines);
    RUN(test_refused);
    RUN(test_basic_and_stats);
    RUN(test_every_chunk_boundary);
    RUN(test_digest_and_empty);
    RUN(test_errors);
    RUN(test_oversized);
    RUN(test_backpressure);
    RUN(test_many_records);
    RUN(test_front_of_buffer);
    RUN(test_nest_scan_differential);
    TEST_MAIN_END();
}
