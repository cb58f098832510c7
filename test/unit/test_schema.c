#include "base/json.h"
#include "pipeline/schema.h"
#include "testlib.h"

static json_doc doc;

static int valid_name(const char *s) {
    size_t n = strlen(s);
    if (n < 3 || n > 64 || !(s[0] >= 'a' && s[0] <= 'z')) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return 0;
    return strcmp(s, "score") != 0; /* reserved by CloudSearch */
}

static void test_names(void) {
    size_t n = schema_count();
    CHECK(n >= 40 && n <= SCHEMA_MAX_FIELDS);
    for (size_t i = 0; i < n; i++) {
        const schema_field *f = schema_field_at(i);
        if (!valid_name(f->name)) {
            fprintf(stderr, "bad field name '%s'\n", f->name);
            CHECK(0);
        }
        for (size_t j = i + 1; j < n; j++) CHECK(strcmp(f->name, schema_field_at(j)->name) != 0);
        CHECK(schema_find(f->name) == f);
        /* a path is required exactly when the value comes from a key of the record */
        CHECK((f->path != NULL) == (f->source != SRC_RECORD && f->source != SRC_TRIMMED));
        CHECK((f->member != NULL) == (f->source == SRC_MEMBERS));
        CHECK((f->source == SRC_MEMBERS) == (f->cs_type == CS_LITERAL_ARRAY || f->cs_type == CS_TEXT_ARRAY));
        if (f->path) CHECK(f->path[0] != '.' && strstr(f->path, "..") == NULL && f->path[strlen(f->path) - 1] != '.');
        /* text cannot facet; arrays cannot sort (CloudSearch Developer Guide, "Configuring index fields") */
        if (f->cs_type == CS_TEXT || f->cs_type == CS_TEXT_ARRAY) CHECK(!(f->options & SF_FACET));
        if (f->cs_type == CS_LITERAL_ARRAY || f->cs_type == CS_TEXT_ARRAY) CHECK(!(f->options & SF_SORT));
        if (f->note) CHECK(strchr(f->note, '"') == NULL && strchr(f->note, '\\') == NULL);
    }
    CHECK(schema_field_at(n) == NULL);
    CHECK(schema_find("no_such_field") == NULL);
}

static void expect(const char *name, schema_cs_type t, unsigned opts) {
    const schema_field *f = schema_find(name);
    if (!f) {
        fprintf(stderr, "missing field %s\n", name);
        CHECK(0);
        return;
    }
    CHECK_EQ_STR(schema_cs_type_name(f->cs_type), schema_cs_type_name(t));
    if (f->options != opts) fprintf(stderr, "%s: options %u, expected %u\n", name, f->options, opts);
    CHECK_EQ_INT(f->options, opts);
}

static void test_original_fields(void) {
    const unsigned sfr = SF_SEARCH | SF_FACET | SF_RETURN;
    const char *facets[] = {"event_name",         "aws_region",
                            "source_ip_address",  "user_identity_account_id",
                            "user_identity_type", "user_identity_user_name",
                            "event_source"};
    for (size_t i = 0; i < sizeof facets / sizeof facets[0]; i++) expect(facets[i], CS_LITERAL, sfr);
    expect("event_id", CS_LITERAL, SF_SEARCH | SF_RETURN);
    expect("request_id", CS_LITERAL, SF_SEARCH | SF_RETURN);
    expect("error_message", CS_TEXT, SF_RETURN | SF_SORT);
    expect("user_agent", CS_TEXT, SF_RETURN);
    expect("user_identity_arn", CS_TEXT, SF_RETURN);
    expect("event_time", CS_DATE, SF_SEARCH | SF_RETURN | SF_SORT);
    expect("raw", CS_TEXT, SF_RETURN | SF_HIGHLIGHT);
    /* the original said int; CloudTrail errorCode is a string */
    const schema_field *ec = schema_find("error_code");
    CHECK(ec && ec->cs_type == CS_LITERAL && ec->note && strstr(ec->note, "int"));
    CHECK_EQ_STR(schema_find("resource_arns")->path, "resources");
    CHECK_EQ_STR(schema_find("resource_arns")->member, "ARN");
    CHECK_EQ_STR(schema_cs_type_name(schema_find("resource_types")->cs_type), "literal-array");
    CHECK_EQ_STR(schema_os_type_name(schema_find("read_only")->os_type), "boolean");
    CHECK_EQ_STR(schema_find("user_identity_session_issuer_arn")->path,
                 "userIdentity.sessionContext.sessionIssuer.arn");
}

/* The builder fills trimmable fields greedily in table order: they must come last,
 * highest rank first, with raw (rank 1) at the very end. */
static void test_trim_order(void) {
    size_t n = schema_count();
    unsigned prev = 0;
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned r = schema_field_at(i)->trim_rank;
        if (r == 0) CHECK(!seen);
        else {
            if (seen) CHECK(r < prev);
            seen = 1;
            prev = r;
        }
    }
    CHECK_EQ_STR(schema_field_at(n - 1)->name, "raw");
    CHECK_EQ_INT(schema_field_at(n - 1)->trim_rank, 1);
    CHECK_EQ_INT(schema_find("request_parameters")->trim_rank, 2);
}

/* The OpenSearch type must take the JSON the builder writes in _bulk documents: booleans as
 * true/false, dates as RFC 3339 strings, integers as numbers, everything else as strings
 * (literals: keyword; text and JSON text: text). */
static void test_opensearch_types(void) {
    for (size_t i = 0; i < schema_count(); i++) {
        const schema_field *f = schema_field_at(i);
        schema_os_type want;
        switch (f->source) {
        case SRC_BOOL:
        case SRC_TRIMMED: want = OS_BOOLEAN; break;
        case SRC_DATE: want = OS_DATE; break;
        case SRC_INT: want = OS_LONG; break;
        case SRC_JSON:
        case SRC_RECORD: want = OS_TEXT; break;
        default: want = f->cs_type == CS_TEXT || f->cs_type == CS_TEXT_ARRAY ? OS_TEXT : OS_KEYWORD; break;
        }
        if (f->os_type != want)
            fprintf(stderr, "%s: OpenSearch type %s, the builder writes %s\n", f->name, schema_os_type_name(f->os_type),
                    schema_os_type_name(want));
        CHECK_EQ_INT(f->os_type, want);
    }
}

static char *capture(void (*fn)(FILE *, const char *), const char *arg, size_t *len) {
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    fn(f, arg);
    fclose(f);
    return text;
}

static void print_cs(FILE *f, const char *unused) {
    (void)unused;
    schema_print_cloudsearch(f);
}

static void test_print_cloudsearch(void) {
    size_t len;
    char *text = capture(print_cs, NULL, &len);
    CHECK_EQ_INT(json_parse(&doc, text, len), JSON_OK);
    CHECK(doc.toks[0].type == JSON_ARRAY);
    CHECK_EQ_INT(doc.toks[0].size, (long)schema_count());
    int found = 0;
    for (int i = 0; i < doc.toks[0].size; i++) {
        int el = json_array_at(&doc, 0, i);
        int name = json_obj_get(&doc, el, "IndexFieldName");
        if (json_tok_streq(&doc, name, "event_name")) {
            found++;
            CHECK(json_tok_streq(&doc, json_obj_get(&doc, el, "IndexFieldType"), "literal"));
            CHECK_EQ_INT(json_tok_bool(&doc, json_path(&doc, el, "LiteralOptions.FacetEnabled")), 1);
            CHECK_EQ_INT(json_tok_bool(&doc, json_path(&doc, el, "LiteralOptions.SortEnabled")), 0);
        } else if (json_tok_streq(&doc, name, "raw")) {
            found++;
            CHECK_EQ_INT(json_tok_bool(&doc, json_path(&doc, el, "TextOptions.HighlightEnabled")), 1);
            CHECK_EQ_INT(json_tok_bool(&doc, json_path(&doc, el, "TextOptions.SortEnabled")), 0);
        } else if (json_tok_streq(&doc, name, "resource_types")) {
            found++;
            CHECK(json_tok_streq(&doc, json_obj_get(&doc, el, "IndexFieldType"), "literal-array"));
            CHECK_EQ_INT(json_tok_bool(&doc, json_path(&doc, el, "LiteralArrayOptions.FacetEnabled")), 1);
        } else if (json_tok_streq(&doc, name, "event_time")) {
            found++;
            CHECK_EQ_INT(json_tok_bool(&doc, json_path(&doc, el, "DateOptions.SortEnabled")), 1);
        } else if (json_tok_streq(&doc, name, "error_code")) {
            found++;
            CHECK(json_tok_streq(&doc, json_obj_get(&doc, el, "IndexFieldType"), "literal"));
        }
        /* exactly one options block per field */
        CHECK_EQ_INT(doc.toks[el].size, 3);
    }
    CHECK_EQ_INT(found, 5);
    free(text);
}

static void test_print_opensearch(void) {
    size_t len;
    char *text = capture(schema_print_opensearch, "ct-%Y.%m", &len);
    CHECK_EQ_INT(json_parse(&doc, text, len), JSON_OK);
    CHECK(json_tok_streq(&doc, json_array_at(&doc, json_obj_get(&doc, 0, "index_patterns"), 0), "ct-*"));
    int props = json_path(&doc, 0, "template.mappings.properties");
    CHECK(props > 0);
    CHECK_EQ_INT(doc.toks[props].size, (long)schema_count());
    CHECK(json_tok_streq(&doc, json_path(&doc, props, "read_only.type"), "boolean"));
    CHECK(json_tok_streq(&doc, json_path(&doc, props, "event_time.type"), "date"));
    CHECK(json_tok_streq(&doc, json_path(&doc, props, "raw.type"), "text"));
    CHECK(json_tok_streq(&doc, json_path(&doc, props, "event_name.type"), "keyword"));
    CHECK(json_tok_streq(&doc, json_path(&doc, props, "insight_duration.type"), "long"));
    CHECK(json_path(&doc, 0, "template.mappings._meta.notes.error_code") > 0);
    free(text);
    text = capture(schema_print_opensearch, "fixed-name", &len);
    CHECK_EQ_INT(json_parse(&doc, text, len), JSON_OK);
    CHECK(json_tok_streq(&doc, json_array_at(&doc, json_obj_get(&doc, 0, "index_patterns"), 0), "fixed-name"));
    free(text);
}

int main(void) {
    json_doc_init(&doc, 4096);
    RUN(test_names);
    RUN(test_original_fields);
    RUN(test_trim_order);
    RUN(test_opensearch_types);
    RUN(test_print_cloudsearch);
    RUN(test_print_opensearch);
    json_doc_free(&doc);
    TEST_MAIN_END();
}
