/* Applying document operations: what one document puts in each table, and how it is taken out
 * again. Both directions go through doc_columns, so a contentless FTS5 'delete' gets exactly
 * the values that were inserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/ix_internal.h"
#include "index/ix_store.h"

size_t ix__varint_put(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

int ix__varint_get(const uint8_t *p, size_t n, size_t *pos, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; *pos < n && shift < 64; shift += 7) {
        uint8_t b = p[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Written in place while the buffer has room (about 50 a document: a call to buf_append and
 * memcpy each cost more than the bytes). */
static inline int put_varint(buf *b, uint64_t v) {
    if (b->cap - b->len >= 10) {
        b->len += ix__varint_put((uint8_t *)b->data + b->len, v);
        return 0;
    }
    uint8_t tmp[10];
    return buf_append(b, tmp, ix__varint_put(tmp, v));
}

/* "00" to "zz": the base-36 digit pairs of 0 to 1295 */
static const char b36_pairs[36 * 36 * 2 + 1] =
    "000102030405060708090a0b0c0d0e0f0g0h0i0j0k0l0m0n0o0p0q0r0s0t0u0v0w0x0y0z"
    "101112131415161718191a1b1c1d1e1f1g1h1i1j1k1l1m1n1o1p1q1r1s1t1u1v1w1x1y1z"
    "202122232425262728292a2b2c2d2e2f2g2h2i2j2k2l2m2n2o2p2q2r2s2t2u2v2w2x2y2z"
    "303132333435363738393a3b3c3d3e3f3g3h3i3j3k3l3m3n3o3p3q3r3s3t3u3v3w3x3y3z"
    "404142434445464748494a4b4c4d4e4f4g4h4i4j4k4l4m4n4o4p4q4r4s4t4u4v4w4x4y4z"
    "505152535455565758595a5b5c5d5e5f5g5h5i5j5k5l5m5n5o5p5q5r5s5t5u5v5w5x5y5z"
    "606162636465666768696a6b6c6d6e6f6g6h6i6j6k6l6m6n6o6p6q6r6s6t6u6v6w6x6y6z"
    "707172737475767778797a7b7c7d7e7f7g7h7i7j7k7l7m7n7o7p7q7r7s7t7u7v7w7x7y7z"
    "808182838485868788898a8b8c8d8e8f8g8h8i8j8k8l8m8n8o8p8q8r8s8t8u8v8w8x8y8z"
    "909192939495969798999a9b9c9d9e9f9g9h9i9j9k9l9m9n9o9p9q9r9s9t9u9v9w9x9y9z"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafagahaiajakalamanaoapaqarasatauavawaxayaz"
    "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfbgbhbibjbkblbmbnbobpbqbrbsbtbubvbwbxbybz"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfcgchcicjckclcmcncocpcqcrcsctcucvcwcxcycz"
    "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfdgdhdidjdkdldmdndodpdqdrdsdtdudvdwdxdydz"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeefegeheiejekelemeneoepeqereseteuevewexeyez"
    "f0f1f2f3f4f5f6f7f8f9fafbfcfdfefffgfhfifjfkflfmfnfofpfqfrfsftfufvfwfxfyfz"
    "g0g1g2g3g4g5g6g7g8g9gagbgcgdgegfggghgigjgkglgmgngogpgqgrgsgtgugvgwgxgygz"
    "h0h1h2h3h4h5h6h7h8h9hahbhchdhehfhghhhihjhkhlhmhnhohphqhrhshthuhvhwhxhyhz"
    "i0i1i2i3i4i5i6i7i8i9iaibicidieifigihiiijikiliminioipiqirisitiuiviwixiyiz"
    "j0j1j2j3j4j5j6j7j8j9jajbjcjdjejfjgjhjijjjkjljmjnjojpjqjrjsjtjujvjwjxjyjz"
    "k0k1k2k3k4k5k6k7k8k9kakbkckdkekfkgkhkikjkkklkmknkokpkqkrksktkukvkwkxkykz"
    "l0l1l2l3l4l5l6l7l8l9lalblcldlelflglhliljlklllmlnlolplqlrlsltlulvlwlxlylz"
    "m0m1m2m3m4m5m6m7m8m9mambmcmdmemfmgmhmimjmkmlmmmnmompmqmrmsmtmumvmwmxmymz"
    "n0n1n2n3n4n5n6n7n8n9nanbncndnenfngnhninjnknlnmnnnonpnqnrnsntnunvnwnxnynz"
    "o0o1o2o3o4o5o6o7o8o9oaobocodoeofogohoiojokolomonooopoqorosotouovowoxoyoz"
    "p0p1p2p3p4p5p6p7p8p9papbpcpdpepfpgphpipjpkplpmpnpopppqprpsptpupvpwpxpypz"
    "q0q1q2q3q4q5q6q7q8q9qaqbqcqdqeqfqgqhqiqjqkqlqmqnqoqpqqqrqsqtquqvqwqxqyqz"
    "r0r1r2r3r4r5r6r7r8r9rarbrcrdrerfrgrhrirjrkrlrmrnrorprqrrrsrtrurvrwrxryrz"
    "s0s1s2s3s4s5s6s7s8s9sasbscsdsesfsgshsisjskslsmsnsospsqsrssstsusvswsxsysz"
    "t0t1t2t3t4t5t6t7t8t9tatbtctdtetftgthtitjtktltmtntotptqtrtstttutvtwtxtytz"
    "u0u1u2u3u4u5u6u7u8u9uaubucudueufuguhuiujukulumunuoupuqurusutuuuvuwuxuyuz"
    "v0v1v2v3v4v5v6v7v8v9vavbvcvdvevfvgvhvivjvkvlvmvnvovpvqvrvsvtvuvvvwvxvyvz"
    "w0w1w2w3w4w5w6w7w8w9wawbwcwdwewfwgwhwiwjwkwlwmwnwowpwqwrwswtwuwvwwwxwywz"
    "x0x1x2x3x4x5x6x7x8x9xaxbxcxdxexfxgxhxixjxkxlxmxnxoxpxqxrxsxtxuxvxwxxxyxz"
    "y0y1y2y3y4y5y6y7y8y9yaybycydyeyfygyhyiyjykylymynyoypyqyrysytyuyvywyxyyyz"
    "z0z1z2z3z4z5z6z7z8z9zazbzczdzezfzgzhzizjzkzlzmznzozpzqzrzsztzuzvzwzxzyzz";

/* Base 36, two digits a step from the end (a 64-bit division a digit cost about as much as the
 * rest of a document's tokens). */
size_t ix__token(char kind, uint64_t v, char *out) {
    char digits[32] = {0}; /* written from 16 down; out gets 16 bytes from the first digit on */
    int d = 16;
    for (; v >= 36 * 36; v /= 36 * 36) {
        d -= 2;
        memcpy(digits + d, b36_pairs + 2 * (v % (36 * 36)), 2);
    }
    if (v >= 36) {
        d -= 2;
        memcpy(digits + d, b36_pairs + 2 * v, 2);
    } else {
        digits[--d] = b36_pairs[2 * v + 1];
    }
    size_t n = (size_t)(16 - d);
    out[0] = kind;
    memcpy(out + 1, digits + d, 16); /* a fixed size: a move, not a call */
    out[n + 1] = '\0';
    return n + 1;
}

static inline int put_token(buf *b, char kind, uint64_t v) {
    if (b->cap - b->len >= 24) { /* ix__token writes 17 bytes at most */
        b->data[b->len] = ' ';
        b->len += 1 + ix__token(kind, v, b->data + b->len + 1);
        return 0;
    }
    char tmp[24];
    tmp[0] = ' ';
    return buf_append(b, tmp, 1 + ix__token(kind, v, tmp + 1));
}

/* Decode a string token into b (replacing its content); NUL-terminated. plain: nothing in it is
 * escaped (sdf_field.plain): copied as it is. */
static int decode_into(buf *b, const json_doc *doc, int tok, int plain) {
    size_t n = json_tok_len(doc, tok);
    buf_clear(b);
    if (buf_reserve(b, n + 1) != 0) return -1;
    if (plain) {
        memcpy(b->data, json_tok_ptr(doc, tok), n);
        b->data[n] = '\0';
        b->len = n;
        return 0;
    }
    long r = json_tok_decode(doc, tok, b->data, b->cap);
    if (r < 0) return -1;
    b->len = (size_t)r;
    return 0;
}

static int append_decoded(buf *b, const json_doc *doc, int tok) {
    size_t n = json_tok_len(doc, tok);
    if (b->len && buf_append(b, "\n", 1) != 0) return -1;
    if (buf_reserve(b, n + 1) != 0) return -1;
    long r = json_tok_decode(doc, tok, b->data + b->len, b->cap - b->len);
    if (r < 0) return -1;
    b->len += (size_t)r;
    return 0;
}

/* The decoded bytes of a string token: the token itself when it holds no escape (the common
 * case; known without a look when plain, sdf_field.plain), else decoded into scratch. NULL on
 * error. */
static const char *token_value(const json_doc *doc, int tok, int plain, buf *scratch, size_t *len) {
    const char *p = json_tok_ptr(doc, tok);
    size_t n = json_tok_len(doc, tok);
    if (plain || !memchr(p, '\\', n)) {
        *len = n;
        return p;
    }
    if (decode_into(scratch, doc, tok, 0) != 0) return NULL;
    *len = scratch->len;
    return scratch->data;
}

/* A literal value's dictionary id (counting delta documents), from a string token. */
static int64_t literal_id(ix_store *s, const json_doc *doc, int tok, int plain, int fid, int create, int delta) {
    size_t len;
    const char *v = token_value(doc, tok, plain, &s->scratch, &len);
    return v ? ix__dict_id(s, fid, v, len, create, delta) : -1;
}

uint64_t ix__value_hash(int fid, const char *v, size_t n) { return ix__hash(fid, v, n) & IX_HASH_TOKEN_MASK; }

static uint64_t literal_hash(const json_doc *doc, int tok, int plain, int fid, buf *scratch) {
    size_t len;
    const char *v = token_value(doc, tok, plain, scratch, &len);
    return v ? ix__value_hash(fid, v, len) : 0;
}

/* memmem(p, n, "\\" rest) for a needle that starts with a backslash: memchr skips the long runs
 * without one, where glibc's memmem walked every byte of raw (13k instructions a record). */
static int has_backslash_then(const char *p, size_t n, const char *rest, size_t rn) {
    for (const char *e = p + n; (p = memchr(p, '\\', (size_t)(e - p))) != NULL; p++)
        if ((size_t)(e - p) > rn && memcmp(p + 1, rest, rn) == 0) return 1;
    return 0;
}

/* Fills s->cols (text columns), s->lit (tokens) and s->packed for op, whose tokens are in doc.
 * delta: +1 when the document goes in, -1 when it comes out (dictionary counts); values are
 * created only going in. */
static int doc_columns(ix_store *s, const json_doc *doc, const sdf_op *op, int derived, int delta, const char *raw,
                       size_t raw_len) {
    int slot_of[IXF_MAX];
    int nslots = ixf_slots();
    for (int k = 0; k < nslots; k++) slot_of[k] = -1;
    for (int c = 0; c < IXT_COLUMNS; c++) buf_clear(&s->cols[c]);
    buf_clear(&s->lit);
    buf_clear(&s->packed);
    int rc = -1;
    /* Covered text is found through raw, unless raw has \u escapes: then its tokens differ from
     * the decoded text ("u00e9" against "é"), and the text goes to `other` too. */
    int covered_in_other = !derived;
    s->raw_col = raw;
    s->raw_col_len = raw_len;
    if (raw && derived && has_backslash_then(raw, raw_len, "u", 1)) covered_in_other = 1;
    for (int i = 0; i < op->nfields; i++) {
        const ixf_field *f = op->fields[i].f;
        int tok = op->fields[i].tok;
        if (f->slot >= 0) slot_of[f->slot] = i;
        if (f->kind == IXF_TEXT) {
            if (f->column == IXT_RAW && raw) continue; /* decoded already */
            if (decode_into(&s->cols[f->column], doc, tok, op->fields[i].plain) != 0) goto out;
            if (f->column == IXT_RAW && derived &&
                has_backslash_then(json_tok_ptr(doc, tok), json_tok_len(doc, tok), "\\u", 2))
                covered_in_other = 1;
        }
    }
    /* Search-only literals (event ids, request ids: unique values) are found through raw when raw
     * holds them; only documents without it get a hashed token (about 20 B each). */
    for (int i = 0; covered_in_other && i < op->nfields; i++)
        if (op->fields[i].f->kind == IXF_LITERAL_HASH &&
            put_token(&s->lit, 'h',
                      literal_hash(doc, op->fields[i].tok, op->fields[i].plain, op->fields[i].f->fid, &s->scratch)) !=
                0)
            goto out;
    for (int i = 0; covered_in_other && i < op->nfields; i++)
        if (op->fields[i].f->kind == IXF_TEXT_COVERED) {
            int tok = op->fields[i].tok;
            if (doc->toks[tok].type == JSON_ARRAY) {
                for (int e = tok + 1, k = 0; k < doc->toks[tok].size; e = json_next(doc, e), k++)
                    if (append_decoded(&s->cols[IXT_OTHER], doc, e) != 0) goto out;
            } else if (append_decoded(&s->cols[IXT_OTHER], doc, tok) != 0) {
                goto out;
            }
        }
    int last_nonzero = 0;
    for (int k = 0; k < nslots; k++) {
        int i = slot_of[k];
        if (i < 0) {
            if (put_varint(&s->packed, 0) != 0) goto out;
            continue;
        }
        const ixf_field *f = op->fields[i].f;
        int tok = op->fields[i].tok;
        if (f->kind == IXF_LITERAL) {
            int64_t id = literal_id(s, doc, tok, op->fields[i].plain, f->fid, delta > 0, delta);
            if (id <= 0 || put_varint(&s->packed, (uint64_t)id + 1) != 0 || put_token(&s->lit, 'v', (uint64_t)id) != 0)
                goto out;
        } else if (f->kind == IXF_LITERAL_UNIQUE) {
            uint64_t hs[SDF_MAX_VALUES];
            int n = 0;
            if (f->is_array) {
                for (int e = tok + 1, k2 = 0; k2 < doc->toks[tok].size; e = json_next(doc, e), k2++) {
                    uint64_t h = literal_hash(doc, e, 0, f->fid, &s->scratch);
                    int dup = 0;
                    for (int j = 0; j < n && !dup; j++) dup = hs[j] == h;
                    if (!dup) hs[n++] = h;
                }
                if (put_varint(&s->packed, (uint64_t)n + 1) != 0) goto out;
            } else {
                hs[n++] = literal_hash(doc, tok, op->fields[i].plain, f->fid, &s->scratch);
            }
            for (int j = 0; j < n; j++)
                if (put_varint(&s->packed, f->is_array ? hs[j] : hs[j] + 1) != 0 || put_token(&s->lit, 'h', hs[j]) != 0)
                    goto out;
        } else if (f->kind == IXF_LITERAL_ARRAY) {
            int64_t ids[SDF_MAX_VALUES];
            int n = 0;
            for (int e = tok + 1, k2 = 0; k2 < doc->toks[tok].size; e = json_next(doc, e), k2++) {
                int64_t id = literal_id(s, doc, e, 0, f->fid, delta > 0, delta);
                if (id <= 0) goto out;
                int dup = 0;
                for (int j = 0; j < n && !dup; j++) dup = ids[j] == id;
                if (dup) literal_id(s, doc, e, 0, f->fid, 0, -delta); /* a document counts once per value */
                else ids[n++] = id;
            }
            if (put_varint(&s->packed, (uint64_t)n + 1) != 0) goto out;
            for (int j = 0; j < n; j++)
                if (put_varint(&s->packed, (uint64_t)ids[j]) != 0 || put_token(&s->lit, 'v', (uint64_t)ids[j]) != 0)
                    goto out;
        } else if (put_varint(&s->packed, ix__zigzag(op->fields[i].v) + 1) != 0) { /* a date or an int: as checked */
            goto out;
        }
        last_nonzero = (int)s->packed.len;
    }
    s->packed.len = (size_t)last_nonzero; /* absent trailing slots cost nothing */
    buf_terminate(&s->lit);               /* bound as terminated when it could be (bind_lit) */
    rc = 0;
out:
    return rc;
}

/* Row ids: (hour << 24) | sequence within the hour, so documents sort by hour everywhere. */
static int64_t alloc_rowid(ix_store *s, int has_time, int64_t t_ms, char *err, size_t errcap) {
    int64_t hour = has_time && t_ms >= 0 ? t_ms / 3600000 : 0;
    if (hour > IX_MAX_HOUR) hour = IX_MAX_HOUR;
    unsigned i;
    for (i = 0; i < s->nhours && s->hours[i].hour != hour; i++) {}
    if (i == s->nhours) {
        int64_t base = hour << IX_SEQ_BITS, last = base | ((INT64_C(1) << IX_SEQ_BITS) - 1);
        int64_t top = ix__pending_max_rowid(s, base, last); /* the hour's held rows count too */
        sqlite3_bind_int64(s->q_row_max, 1, base);
        sqlite3_bind_int64(s->q_row_max, 2, last);
        if (sqlite3_step(s->q_row_max) == SQLITE_ROW && sqlite3_column_int64(s->q_row_max, 0) > top)
            top = sqlite3_column_int64(s->q_row_max, 0);
        sqlite3_reset(s->q_row_max);
        /* sequences start at 1: row id 0 is never used */
        int64_t next = top ? (top & ((INT64_C(1) << IX_SEQ_BITS) - 1)) + 1 : 1;
        if (s->nhours < IX_HOURS_CACHED) i = s->nhours++;
        else { /* replace the oldest entry */
            memmove(s->hours, s->hours + 1, (IX_HOURS_CACHED - 1) * sizeof s->hours[0]);
            i = IX_HOURS_CACHED - 1;
        }
        s->hours[i] = (ix_hourseq){hour, next};
    }
    if (s->hours[i].next >= (INT64_C(1) << IX_SEQ_BITS)) {
        snprintf(err, errcap, "more than %lld documents with an eventTime in the same hour",
                 (long long)((INT64_C(1) << IX_SEQ_BITS) - 1));
        return -1;
    }
    return (hour << IX_SEQ_BITS) | s->hours[i].next++;
}

int ix__step_rebound(ix_store *s, sqlite3_stmt *st, char *err, size_t errcap, const char *what) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : ix__sqlerr(s, err, errcap, what);
}

int ix__step_done(ix_store *s, sqlite3_stmt *st, char *err, size_t errcap, const char *what) {
    int rc = ix__step_rebound(s, st, err, errcap, what);
    sqlite3_clear_bindings(st);
    return rc;
}

int ix_text_len(const char *p, size_t n) { return p[n] == '\0' && strlen(p) == n ? -1 : (int)n; }

/* Takes the stored document at rowid out of every table but ids. */
static int remove_doc(ix_store *s, int64_t rowid, char *err, size_t errcap) {
    int rc = ix__doc_load(s, rowid, &s->old, err, errcap);
    if (rc == 1) return 0;
    if (rc != 0) return -2;
    if (doc_columns(s, &s->jd, &s->old, s->loaded_derived, -1, NULL, 0) != 0) {
        snprintf(err, errcap, "index: cannot take out the stored document %s", s->old.id);
        return -2;
    }
    if (ix__fts_queue(s, 1, rowid, err, errcap) != 0) return -2;
    sqlite3_bind_int64(s->q_doc_del, 1, rowid);
    if (ix__step_done(s, s->q_doc_del, err, errcap, "deleting a document") != 0) return -2;
    sqlite3_bind_int64(s->q_store_del, 1, rowid);
    if (ix__step_done(s, s->q_store_del, err, errcap, "deleting a document") != 0) return -2;
    return 0;
}

/* 1 when the stored blob at rowid is byte for byte z[0..n). */
static int same_blob(ix_store *s, int64_t rowid, const char *z, size_t n) {
    int same = 0;
    sqlite3_bind_int64(s->q_store_get, 1, rowid);
    if (sqlite3_step(s->q_store_get) == SQLITE_ROW)
        same = (size_t)sqlite3_column_bytes(s->q_store_get, 0) == n &&
               memcmp(sqlite3_column_blob(s->q_store_get, 0), z, n) == 0;
    sqlite3_reset(s->q_store_get);
    return same;
}

int ix_apply(ix_store *s, json_doc *doc, const sdf_op *op, const char *js, size_t len, unsigned flags, char *err,
             size_t errcap) {
    if (!s->in_tx) {
        snprintf(err, errcap, "index: no transaction");
        return -2;
    }
    ix_idref ref;
    int64_t old = ix__find_id(s, op->id, op->id_len, &ref, err, errcap);
    if (old < 0) return -2;
    if (op->is_delete) {
        s->tx.deletes++;
        if (!old) return 0;
        if (remove_doc(s, old, err, errcap) != 0 || ix__id_drop(s, &ref, old, err, errcap) != 0) return -2;
        s->doc_delta--;
        return 0;
    }
    const char *raw = op->raw; /* decoded by sdf_parse_trusted already, or NULL */
    size_t raw_len = op->raw_len;
    for (int i = 0; i < op->nfields && !raw; i++)
        if (op->fields[i].f->column == IXT_RAW && doc->toks[op->fields[i].tok].type == JSON_STRING) {
            const char *p = json_tok_ptr(doc, op->fields[i].tok);
            size_t n = json_tok_len(doc, op->fields[i].tok);
            if (!memchr(p, '\\', n)) { /* nothing to decode: use it where it is */
                raw = p;
                raw_len = n;
                continue;
            }
            long r = json_tok_decode(doc, op->fields[i].tok, s->raw, s->raw_cap);
            if (r >= 0) {
                raw = s->raw;
                raw_len = (size_t)r;
            }
        }
    int derived;
    derived = raw && (flags & IX_APPLY_DERIVED);
    long zn = ix__doc_pack(s, js, len, raw, raw_len, &derived);
    if (zn < 0) {
        snprintf(err, errcap, "index: cannot compress document %s", op->id);
        return -2;
    }
    if (old) {
        if (same_blob(s, old, s->z, (size_t)zn)) {
            s->tx.adds++;
            s->tx.unchanged++;
            return 0;
        }
        if (remove_doc(s, old, err, errcap) != 0 || ix__id_drop(s, &ref, old, err, errcap) != 0) return -2;
    }
    int64_t rowid = alloc_rowid(s, op->has_time, op->time_ms, err, errcap);
    if (rowid < 0) return old ? -2 : -1; /* the old one is already out: do not commit half */
    if (doc_columns(s, doc, op, derived, +1, raw, raw_len) != 0) {
        snprintf(err, errcap, "index: cannot index document %s", op->id);
        return -2;
    }
    /* Written at once while a compression dictionary may still be trained: training compresses
     * the stored rows again (ix_doc.c). */
    if (ix__pending_add(s, rowid, op->has_time, op->time_ms, s->packed.data, s->packed.len, s->z, (size_t)zn, ref.h,
                        err, errcap) != 0 ||
        (!s->cdict_id && !s->sampling_done && ix__pending_flush(s, err, errcap) != 0))
        return -2;
    ix__id_added(s, ref.h);
    if (ix__fts_queue(s, 0, rowid, err, errcap) != 0) return -2;
    s->tx.adds++;
    s->tx.derived += derived;
    s->tx.stored_bytes += (uint64_t)zn;
    if (!old) s->doc_delta++;
    return 0;
}
