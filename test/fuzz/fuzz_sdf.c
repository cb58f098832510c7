/* Any bytes as a CloudSearch document batch: the array walk ends, each operation is read or
 * refused with a message naming it, kept fields are defined ones with tokens inside the
 * document, and the trusted fast paths (the compact scan, the copy of the head) read a document
 * exactly as the full parse does, token for token, and raw decoded as it is scanned is what
 * json_tok_decode gives; with the builder's hint of where raw is, the same tokens, and raw is
 * the hinted record. A field list made from the full parse's tokens (as the builder writes one)
 * is read by sdf_parse_fields as the same tokens and fields, or refused; the list changed in one
 * place (by the last input byte) is refused or read the same, never otherwise. Dates' and ints'
 * values are what decoding and parsing their tokens gives. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "index/ixvalue.h"
#include "index/sdf_parse.h"

static json_doc a, b;
static sdf_op oa, ob;
static buf scratch;
static int ready;
static batch_field list[SDF_MAX_TOKENS];

/* A date's or an int's value read the plain way (the token decoded, then parsed up to a NUL);
 * 0 for other fields. */
static int64_t value_of(const json_doc *d, const sdf_field *fd) {
    char tmp[64];
    int64_t v = 0;
    if (fd->f->kind != IXF_DATE && fd->f->kind != IXF_INT) return 0;
    if (d->toks[fd->tok].type != JSON_STRING) return json_tok_int64(d, fd->tok, &v) == 0 ? v : INT64_MIN;
    if (json_tok_decode(d, fd->tok, tmp, sizeof tmp) < 0) return INT64_MIN;
    int bad = fd->f->kind == IXF_DATE ? ixvalue_date(tmp, strlen(tmp), &v) : ixvalue_int(tmp, &v);
    return bad ? INT64_MIN : v;
}

/* As many characters as bytes, as the builder's BATCH_FIELD_PLAIN says: ASCII, no escape. */
static int plain_bytes(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80 || p[i] == '\\') return 0;
    return 1;
}

/* The field list the builder would write for the operation the full parse read (oa, tokens a). */
static size_t list_of(void) {
    size_t n = 0;
    for (int i = 0; i < oa.nfields; i++) {
        int t = oa.fields[i].tok;
        const json_tok *x = &a.toks[t];
        uint8_t fid = (uint8_t)oa.fields[i].f->fid;
        unsigned flags = x->type == JSON_STRING ? BATCH_FIELD_STRING : x->type == JSON_ARRAY ? BATCH_FIELD_ARRAY : 0;
        if (x->type == JSON_STRING && plain_bytes(json_tok_ptr(&a, t), json_tok_len(&a, t))) flags |= BATCH_FIELD_PLAIN;
        list[n++] = (batch_field){(uint32_t)x->start, (uint32_t)(x->end - x->start), fid, (uint8_t)flags,
                                  (uint16_t)(x->type == JSON_ARRAY ? x->size : 0)};
        for (int e = 0; x->type == JSON_ARRAY && e < x->size; e++) {
            const json_tok *y = &a.toks[t + 1 + e];
            list[n++] = (batch_field){(uint32_t)y->start, (uint32_t)(y->end - y->start), fid,
                                      y->type == JSON_STRING ? BATCH_FIELD_STRING : 0, 0};
        }
    }
    return n;
}

/* sdf_parse_fields gave what the full parse gave: the same tokens and fields; with the list as
 * the builder writes it (builders_list), plain exactly for the strings with nothing escaped (a
 * PLAIN flag is believed: set on a string with an escape, that string is taken undecoded). */
static void same_as_full(int builders_list) {
    REQUIRE(b.ntoks == a.ntoks && ob.nfields == oa.nfields && ob.id_len == oa.id_len &&
            !memcmp(ob.id, oa.id, oa.id_len) && ob.has_time == oa.has_time &&
            (!oa.has_time || ob.time_ms == oa.time_ms));
    for (unsigned k = 0; k < a.ntoks; k++) {
        const json_tok *x = &a.toks[k], *y = &b.toks[k];
        REQUIRE(x->type == y->type && x->start == y->start && x->end == y->end && x->size == y->size &&
                x->parent == y->parent);
    }
    for (int i = 0; i < oa.nfields; i++) {
        REQUIRE(ob.fields[i].f == oa.fields[i].f && ob.fields[i].tok == oa.fields[i].tok &&
                ob.fields[i].v == oa.fields[i].v);
        int t = ob.fields[i].tok;
        REQUIRE(!builders_list || ob.fields[i].plain == (b.toks[t].type == JSON_STRING &&
                                                         plain_bytes(json_tok_ptr(&b, t), json_tok_len(&b, t))));
    }
}

static void check_list(const char *e, size_t elen, uint8_t sel) {
    if (oa.is_delete || oa.nfields == 0) return;
    char err[256];
    size_t n = list_of();
    if (sdf_parse_fields(&b, e, elen, 1, list, n, NULL, &ob, err, sizeof err) != 0) {
        REQUIRE(err[0] != '\0'); /* a text not in the builder's layout (spaces, other members, ...) */
        return;
    }
    same_as_full(1);
    /* one entry changed: refused, or read the same */
    batch_field *x = &list[sel % n];
    switch ((sel >> 4) % 6) {
    case 0: x->at += sel & 8 ? 1 : (uint32_t)-1; break;
    case 1: x->len += sel & 8 ? 1 : (uint32_t)-1; break;
    case 2: x->fid = (uint8_t)(x->fid + 1 + (sel & 7)); break;
    case 3: x->flags ^= (uint8_t)(1u << (sel & 3)); break;
    case 4: x->n = (uint16_t)(x->n + (sel & 8 ? 1 : -1)); break;
    default: n = sel % n; break; /* fewer entries */
    }
    if (sdf_parse_fields(&b, e, elen, 1, list, n, NULL, &ob, err, sizeof err) == 0) same_as_full(0);
    else REQUIRE(err[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ready) {
        json_doc_init(&a, SDF_MAX_TOKENS);
        json_doc_init(&b, SDF_MAX_TOKENS);
        buf_init(&scratch, SDF_MAX_DOC_BYTES + 16);
        ready = 1;
    }
    const char *s = (const char *)data;
    size_t pos = 0, elen;
    const char *e;
    char err[256];
    int guard = 0;
    int rc;
    while ((rc = sdf_next(s, size, &pos, &e, &elen, err, sizeof err)) == 1) {
        REQUIRE(e >= s && e + elen <= s + size && elen > 0);
        REQUIRE(++guard <= (int)size + 1);
        if (sdf_parse_op(&a, e, elen, (unsigned)guard, 0, &scratch, &oa, err, sizeof err) != 0) {
            REQUIRE(err[0] != '\0');
            continue;
        }
        REQUIRE(oa.id_len >= 1 && oa.id_len <= SDF_MAX_ID && oa.nfields >= 0 && oa.nfields <= SDF_MAX_FIELDS);
        check_list(e, elen, size ? data[size - 1] : 0);
        REQUIRE(sdf_parse_op(&a, e, elen, (unsigned)guard, 0, &scratch, &oa, err, sizeof err) == 0); /* a again */
        for (int i = 0; i < oa.nfields; i++) {
            REQUIRE(oa.fields[i].f != NULL && oa.fields[i].tok > 0 && (unsigned)oa.fields[i].tok < a.ntoks);
            REQUIRE(oa.fields[i].v == value_of(&a, &oa.fields[i]));
        }
        /* the fast path agrees with the full parse, value by value */
        REQUIRE(sdf_parse_trusted(&b, e, elen, 1, &scratch, &ob, err, sizeof err) == 0);
        REQUIRE(ob.nfields == oa.nfields && ob.id_len == oa.id_len && !memcmp(ob.id, oa.id, oa.id_len));
        /* Tokens, one for one (the copy of a document's head that the other fast path tokenizes
         * ends its containers early: their ends are compared only when they are the text's). */
        REQUIRE(b.ntoks == a.ntoks && b.js == e && b.len == elen);
        int whole = b.toks[0].end == a.toks[0].end;
        for (unsigned t = 0; t < a.ntoks; t++) {
            const json_tok *x = &a.toks[t], *y = &b.toks[t];
            int container = x->type == JSON_OBJECT || x->type == JSON_ARRAY;
            REQUIRE(x->type == y->type && x->start == y->start && x->size == y->size && x->parent == y->parent);
            REQUIRE(x->end == y->end || (container && !whole));
        }
        int raw_seen = 0;
        for (int i = 0; i < oa.nfields; i++) {
            REQUIRE(ob.fields[i].f == oa.fields[i].f && ob.fields[i].v == oa.fields[i].v);
            size_t la = json_tok_len(&a, oa.fields[i].tok), lb = json_tok_len(&b, ob.fields[i].tok);
            if (a.toks[oa.fields[i].tok].type == JSON_STRING) {
                REQUIRE(la == lb &&
                        !memcmp(json_tok_ptr(&a, oa.fields[i].tok), json_tok_ptr(&b, ob.fields[i].tok), la));
            }
            /* raw decoded as it was scanned: exactly json_tok_decode's bytes */
            if (ob.raw && ob.fields[i].f->column == IXT_RAW) {
                static char dec[SDF_MAX_DOC_BYTES + 16];
                long r = json_tok_decode(&a, oa.fields[i].tok, dec, sizeof dec);
                REQUIRE(r >= 0 && (size_t)r == ob.raw_len && !memcmp(dec, ob.raw, ob.raw_len));
                raw_seen = 1;
            }
        }
        REQUIRE(!ob.raw || raw_seen);
        int compact_raw = ob.raw != NULL; /* the compact scan read this text and decoded raw */
        /* with the builder's hint (raw's bounds and its decoded record, from the full parse): the
         * same tokens, and raw is the hint's record itself when the compact scan read the text */
        for (int i = 0; i < oa.nfields; i++) {
            int t = oa.fields[i].tok;
            if (oa.fields[i].f->column != IXT_RAW || a.toks[t].type != JSON_STRING) continue;
            static char rec[SDF_MAX_DOC_BYTES + 16];
            long r = json_tok_decode(&a, t, rec, sizeof rec);
            if (r < 0) continue;
            sdf_hint h = {(size_t)a.toks[t].start, json_tok_len(&a, t), rec, (size_t)r};
            REQUIRE(sdf_parse_hinted(&b, e, elen, 1, &h, &scratch, &ob, err, sizeof err) == 0);
            REQUIRE(b.ntoks == a.ntoks && ob.nfields == oa.nfields);
            int whole2 = b.toks[0].end == a.toks[0].end; /* as above */
            for (unsigned k = 0; k < a.ntoks; k++) {
                const json_tok *x = &a.toks[k], *y = &b.toks[k];
                int container = x->type == JSON_OBJECT || x->type == JSON_ARRAY;
                REQUIRE(x->type == y->type && x->start == y->start && x->size == y->size && x->parent == y->parent);
                REQUIRE(x->end == y->end || (container && !whole2));
            }
            REQUIRE(!ob.raw || (ob.raw_len == (size_t)r && !memcmp(ob.raw, rec, (size_t)r)));
            if (compact_raw) REQUIRE(ob.raw == rec); /* the compact scan: taken, not decoded */
        }
    }
    if (rc < 0) REQUIRE(err[0] != '\0');
    return 0;
}
