/* The document builder on arbitrary input. It must either fail cleanly (DOCB_BAD with a
 * reason, DOCB_NOSPACE) or produce a document that CloudSearch/OpenSearch would accept:
 * valid JSON, a safe id, only schema fields, each at most once, no null, no empty array,
 * strings of valid UTF-8 without characters XML 1.0 forbids, literals <= 4096 code points,
 * dates in UTC, size within cap and max_doc_bytes, only the fields of the builder's profile.
 * jsmn's work on any record it takes stays linear; a record nested too deeply for that is
 * refused with a reason. The SDF builders use the smallest document limit so that trimming is
 * exercised by ordinary inputs: the full profile (every field), and the original one, which
 * has no field to mark a trimmed document with. With a field list (docb_build_fields), the
 * document is the same bytes, or with raw left out exactly those bytes once raw is put back (and
 * only when nothing was dropped or cut); the index reads it from the list (sdf_parse_fields) as
 * it reads the whole text (sdf_parse_trusted): the same fields and values, raw the record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/jsonw.h"
#include "fuzz_check.h"
#include "index/sdf_parse.h"
#include "pipeline/docbuild.h"
#include "pipeline/schema.h"
#include "pipeline/utc_date.h"

static doc_builder *sdf, *orig, *bulk, *dflt;
static json_doc doc;
static char *out, *dec;
#define OUTCAP (1u << 21)
#define SDF_MAX_DOC DOCB_MIN_MAX_DOC

static size_t check_string(int t) {
    REQUIRE(doc.toks[t].type == JSON_STRING);
    long n = json_tok_decode(&doc, t, dec, OUTCAP);
    REQUIRE(n >= 0);
    return fuzz_xml_clean_chars((const unsigned char *)dec, (size_t)n);
}

static void check_id(int t, const docb_result *res) {
    REQUIRE(json_tok_streq(&doc, t, res->id));
    size_t n = json_tok_len(&doc, t);
    REQUIRE(n >= 1 && n <= 128);
    for (size_t i = 0; i < n; i++) {
        char c = json_tok_ptr(&doc, t)[i];
        REQUIRE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-');
    }
}

/* Checks the fields object; returns the number of fields. */
static int check_fields(int obj, int booleans_as_json, schema_profile profile) {
    REQUIRE(doc.toks[obj].type == JSON_OBJECT);
    int n = doc.toks[obj].size;
    REQUIRE(n >= 1 && n <= SCHEMA_MAX_FIELDS);
    int k = obj + 1;
    unsigned char seen[SCHEMA_MAX_FIELDS] = {0};
    for (int e = 0; e < n; e++) {
        int v = k + 1;
        size_t idx = schema_count();
        for (size_t i = 0; i < schema_count(); i++)
            if (json_tok_streq(&doc, k, schema_field_at(i)->name)) idx = i;
        REQUIRE(idx < schema_count() && !seen[idx]);
        seen[idx] = 1;
        const schema_field *f = schema_field_at(idx);
        REQUIRE(schema_in_profile(f, profile));
        size_t max = f->cs_type == CS_LITERAL || f->cs_type == CS_LITERAL_ARRAY ? SCHEMA_LITERAL_MAX_CHARS : (size_t)-1;
        const json_tok *t = &doc.toks[v];
        if (f->cs_type == CS_LITERAL_ARRAY || f->cs_type == CS_TEXT_ARRAY) {
            REQUIRE(t->type == JSON_ARRAY && t->size >= 1 && t->size <= SCHEMA_ARRAY_MAX_VALUES);
            for (int a = 0; a < t->size; a++) {
                size_t c = check_string(v + 1 + a);
                REQUIRE(c >= 1 && c <= max);
            }
        } else if (f->cs_type == CS_INT) {
            int64_t x;
            REQUIRE(json_tok_int64(&doc, v, &x) == 0);
        } else if (f->cs_type == CS_DATE) {
            /* RFC 3339 in UTC, a real calendar time: converting it again changes nothing */
            char utc[UTC_DATE_MAX];
            size_t len = json_tok_len(&doc, v);
            REQUIRE(t->type == JSON_STRING && utc_date(json_tok_ptr(&doc, v), len, utc) == len);
            REQUIRE(memcmp(utc, json_tok_ptr(&doc, v), len) == 0 && utc[len - 1] == 'Z');
        } else if (booleans_as_json && f->os_type == OS_BOOLEAN) {
            REQUIRE(json_tok_bool(&doc, v) >= 0);
        } else {
            size_t c = check_string(v);
            REQUIRE(c >= 1 && c <= max);
            if (f->os_type == OS_BOOLEAN) REQUIRE(json_tok_streq(&doc, v, "true") || json_tok_streq(&doc, v, "false"));
        }
        k = json_next(&doc, v);
    }
    return n;
}

static void check_sdf(long n, const docb_result *res, size_t cap, schema_profile profile) {
    if (n == DOCB_BAD) {
        REQUIRE(res->error != NULL);
        return;
    }
    if (n == DOCB_NOSPACE) {
        REQUIRE(cap < SDF_MAX_DOC);
        return;
    }
    REQUIRE((size_t)n <= cap && (size_t)n <= SDF_MAX_DOC);
    REQUIRE(json_parse(&doc, out, (size_t)n) == JSON_OK && doc.toks[0].type == JSON_OBJECT);
    REQUIRE(doc.toks[0].size == 3);
    REQUIRE(json_tok_streq(&doc, json_obj_get(&doc, 0, "type"), "add"));
    check_id(json_obj_get(&doc, 0, "id"), res);
    int nf = check_fields(json_obj_get(&doc, 0, "fields"), 0, profile);
    REQUIRE((unsigned)nf == res->fields);
    int marked = json_obj_get(&doc, json_obj_get(&doc, 0, "fields"), "ctindex_trimmed") >= 0;
    REQUIRE(marked == (res->trimmed && profile != SCHEMA_ORIGINAL));
}

static batch_field list[1u << 14];
static char *whole;

/* The document with its field list against the one docb_build wrote (out[0..n), res). */
static void check_list(doc_builder *b, const char *rec, size_t size, size_t cap, long n, const docb_result *res,
                       int skip) {
    static json_doc a, d;
    static sdf_op oa, od;
    static buf scratch;
    if (!a.toks) {
        json_doc_init(&a, SDF_MAX_TOKENS);
        json_doc_init(&d, SDF_MAX_TOKENS);
        buf_init(&scratch, SDF_MAX_DOC_BYTES + 16);
    }
    if (n <= 0) return;
    memcpy(whole, out, (size_t)n);
    docb_fields fl = {list, skip ? sizeof list / sizeof list[0] : 5, 0, 0, skip}; /* 5: often too few */
    docb_result rf;
    long m = docb_build_fields(b, rec, size, out, cap, &fl, &rf);
    REQUIRE(rf.fields == res->fields && rf.raw_at == res->raw_at && rf.record_len == res->record_len);
    if (!rf.raw_unwritten) {
        REQUIRE(m == n && memcmp(out, whole, (size_t)n) == 0);
    } else { /* raw put back: the same bytes */
        REQUIRE(skip && !rf.dropped && !rf.trimmed && rf.raw_len == 0 && (size_t)m + rf.raw_unwritten == (size_t)n);
        REQUIRE(memcmp(out, whole, rf.raw_at) == 0 &&
                memcmp(out + rf.raw_at, whole + n - (m - (long)rf.raw_at), (size_t)m - rf.raw_at) == 0);
        long w = jsonw_escape(rec + rf.record_at, rf.record_len, dec, OUTCAP, JSONW_NO_LIMIT, 0, NULL);
        REQUIRE(w == (long)rf.raw_unwritten && memcmp(dec, whole + rf.raw_at, (size_t)w) == 0);
    }
    if (!fl.complete) return;
    /* the index's two ways in agree */
    char err[256];
    int ra = sdf_parse_trusted(&a, whole, (size_t)n, 1, &scratch, &oa, err, sizeof err);
    sdf_hint h = {rf.raw_at, rf.raw_len, rec + rf.record_at, rf.record_len};
    int rd = sdf_parse_fields(&d, out, (size_t)m, 1, fl.fields, fl.n, rf.raw_at ? &h : NULL, &od, err, sizeof err);
    REQUIRE(ra == rd);
    if (ra != 0) return;
    REQUIRE(oa.nfields == od.nfields && oa.id_len == od.id_len && !memcmp(oa.id, od.id, oa.id_len));
    REQUIRE(oa.has_time == od.has_time && (!oa.has_time || oa.time_ms == od.time_ms));
    for (int i = 0; i < oa.nfields; i++) {
        int ta = oa.fields[i].tok, td = od.fields[i].tok;
        REQUIRE(oa.fields[i].f == od.fields[i].f && a.toks[ta].type == d.toks[td].type &&
                a.toks[ta].size == d.toks[td].size);
        if (oa.fields[i].f->column == IXT_RAW) {
            REQUIRE(od.raw == rec + rf.record_at && od.raw_len == rf.record_len);
            continue;
        }
        for (int e = 0; e <= (a.toks[ta].type == JSON_ARRAY ? a.toks[ta].size : 0); e++) {
            int x = ta + e, y = td + e; /* the value, then its elements */
            size_t la = json_tok_len(&a, x);
            REQUIRE(la == json_tok_len(&d, y) && !memcmp(json_tok_ptr(&a, x), json_tok_ptr(&d, y), la));
            /* plain: nothing to decode */
            const batch_field *fe = NULL;
            for (size_t k = 0; k < fl.n && !fe; k++)
                if (fl.fields[k].at == (uint32_t)d.toks[y].start && d.toks[y].type != JSON_ARRAY) fe = &fl.fields[k];
            if (fe && (fe->flags & BATCH_FIELD_PLAIN)) REQUIRE(!memchr(json_tok_ptr(&d, y), '\\', la));
        }
    }
}

static void check_bulk(long n, const docb_result *res) {
    if (n == DOCB_BAD) {
        REQUIRE(res->error != NULL);
        return;
    }
    REQUIRE(n > 0 && n <= (long)DOCB_DEFAULT_MAX_DOC && out[n - 1] == '\n');
    char *nl = memchr(out, '\n', (size_t)n);
    REQUIRE(nl && nl < out + n - 1);
    REQUIRE(memchr(nl + 1, '\n', (size_t)(out + n - nl - 2)) == NULL);
    REQUIRE(json_parse(&doc, out, (size_t)(nl - out)) == JSON_OK);
    check_id(json_path(&doc, 0, "index._id"), res);
    int idx = json_path(&doc, 0, "index._index");
    REQUIRE(idx > 0 && json_tok_len(&doc, idx) >= 1);
    REQUIRE(json_parse(&doc, nl + 1, (size_t)(out + n - nl - 2)) == JSON_OK);
    check_fields(0, 1, SCHEMA_PROFILE_DEFAULT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!sdf) {
        docb_options o;
        docb_options_default(&o);
        o.max_doc_bytes = SDF_MAX_DOC;
        o.max_record_bytes = 1u << 20;
        o.profile = SCHEMA_FULL;
        sdf = docb_new(&o);
        o.profile = SCHEMA_ORIGINAL;
        orig = docb_new(&o);
        o.profile = SCHEMA_PROFILE_DEFAULT;
        o.format = BATCH_BULK;
        o.max_doc_bytes = 0;
        o.include_raw = 0;
        bulk = docb_new(&o);
        o.format = BATCH_SDF;
        o.include_raw = 1;
        o.max_doc_bytes = 0;
        dflt = docb_new(&o);
        json_doc_init(&doc, 1u << 14);
        out = malloc(OUTCAP);
        dec = malloc(OUTCAP);
        whole = malloc(OUTCAP);
        REQUIRE(sdf && orig && bulk && dflt && out && dec && whole);
    }
    const char *rec = (const char *)data;
    docb_result res;
    /* Nesting: whatever jsmn takes costs linear work; what would not is refused with a reason. */
    int parsed = json_parse(&doc, rec, size);
    if (parsed == JSON_OK) REQUIRE(fuzz_jsmn_close_steps(&doc) <= FUZZ_JSMN_STEPS_MAX(size));
    long n = docb_build(sdf, rec, size, out, OUTCAP, &res);
    if (parsed == JSON_EDEEP) REQUIRE(n == DOCB_BAD && strstr(res.error, "nested too deeply"));
    check_sdf(n, &res, OUTCAP, SCHEMA_FULL);
    check_list(sdf, rec, size, OUTCAP, n, &res, 1);
    check_list(sdf, rec, size, OUTCAP, docb_build(sdf, rec, size, out, OUTCAP, &res), &res, 0);
    n = docb_build(dflt, rec, size, out, OUTCAP, &res); /* the index sink's builder */
    check_list(dflt, rec, size, OUTCAP, n, &res, 1);
    n = docb_build(sdf, rec, size, out, OUTCAP, &res);
    if (n > 0) {
        /* deterministic: same input, same bytes */
        char *copy = malloc((size_t)n);
        memcpy(copy, out, (size_t)n);
        REQUIRE(docb_build(sdf, rec, size, out, OUTCAP, &res) == n && memcmp(copy, out, (size_t)n) == 0);
        free(copy);
    }
    /* a nearly full batch */
    size_t cap = size ? (size_t)data[size - 1] * 40 : 0;
    n = docb_build(sdf, rec, size, out, cap, &res);
    check_sdf(n, &res, cap, SCHEMA_FULL);
    check_list(sdf, rec, size, cap, n, &res, 1);

    n = docb_build(orig, rec, size, out, OUTCAP, &res);
    check_sdf(n, &res, OUTCAP, SCHEMA_ORIGINAL);

    n = docb_build(bulk, rec, size, out, OUTCAP, &res);
    check_bulk(n, &res);
    return 0;
}
