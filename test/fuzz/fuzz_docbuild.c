/* The document builder on arbitrary input. It must either fail cleanly (DOCB_BAD with a
 * reason, DOCB_NOSPACE) or produce a document that CloudSearch/OpenSearch would accept:
 * valid JSON, a safe id, only schema fields, each at most once, no null, no empty array,
 * strings of valid UTF-8 without characters XML 1.0 forbids, literals <= 4096 code points,
 * dates in UTC, size within cap and max_doc_bytes. jsmn's work on any record it takes stays
 * linear; a record nested too deeply for that is refused with a reason. The SDF builder uses
 * the smallest document limit so that trimming is exercised by ordinary inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "fuzz_check.h"
#include "pipeline/docbuild.h"
#include "pipeline/schema.h"
#include "pipeline/utc_date.h"

static doc_builder *sdf, *bulk;
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
static int check_fields(int obj, int booleans_as_json) {
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

static void check_sdf(const char *rec, size_t len, long n, const docb_result *res, size_t cap) {
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
    int nf = check_fields(json_obj_get(&doc, 0, "fields"), 0);
    REQUIRE((unsigned)nf == res->fields);
    REQUIRE((json_obj_get(&doc, json_obj_get(&doc, 0, "fields"), "ctindex_trimmed") >= 0) == (res->trimmed != 0));
    (void)rec;
    (void)len;
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
    check_fields(0, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!sdf) {
        docb_options o;
        docb_options_default(&o);
        o.max_doc_bytes = SDF_MAX_DOC;
        o.max_record_bytes = 1u << 20;
        sdf = docb_new(&o);
        o.format = BATCH_BULK;
        o.max_doc_bytes = 0;
        o.include_raw = 0;
        bulk = docb_new(&o);
        json_doc_init(&doc, 1u << 14);
        out = malloc(OUTCAP);
        dec = malloc(OUTCAP);
        REQUIRE(sdf && bulk && out && dec);
    }
    const char *rec = (const char *)data;
    docb_result res;
    /* Nesting: whatever jsmn takes costs linear work; what would not is refused with a reason. */
    int parsed = json_parse(&doc, rec, size);
    if (parsed == JSON_OK) REQUIRE(fuzz_jsmn_close_steps(&doc) <= FUZZ_JSMN_STEPS_MAX(size));
    long n = docb_build(sdf, rec, size, out, OUTCAP, &res);
    if (parsed == JSON_EDEEP) REQUIRE(n == DOCB_BAD && strstr(res.error, "nested too deeply"));
    check_sdf(rec, size, n, &res, OUTCAP);
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
    check_sdf(rec, size, n, &res, cap);

    n = docb_build(bulk, rec, size, out, OUTCAP, &res);
    check_bulk(n, &res);
    return 0;
}
