/* cs_fields_to_define: a DescribeIndexFields answer against the schema. */
#include "pipeline/schema.h"
#include "sinks/cloudsearch/cloudsearch_proto.h"
#include "testlib.h"

static const char *type_opts(const schema_field *f, char *out, size_t cap) {
    const char *block = f->cs_type == CS_TEXT            ? "TextOptions"
                        : f->cs_type == CS_DATE          ? "DateOptions"
                        : f->cs_type == CS_INT           ? "IntOptions"
                        : f->cs_type == CS_LITERAL_ARRAY ? "LiteralArrayOptions"
                        : f->cs_type == CS_TEXT_ARRAY    ? "TextArrayOptions"
                                                         : "LiteralOptions";
    int text = f->cs_type == CS_TEXT || f->cs_type == CS_TEXT_ARRAY;
    int n = snprintf(out, cap, "<%s>", block);
    if (!text)
        n += snprintf(out + n, cap - (size_t)n, "<SearchEnabled>%s</SearchEnabled><FacetEnabled>%s</FacetEnabled>",
                      f->options & SF_SEARCH ? "true" : "false", f->options & SF_FACET ? "true" : "false");
    n += snprintf(out + n, cap - (size_t)n, "<ReturnEnabled>%s</ReturnEnabled>",
                  f->options & SF_RETURN ? "true" : "false");
    if (f->cs_type != CS_LITERAL_ARRAY && f->cs_type != CS_TEXT_ARRAY)
        n += snprintf(out + n, cap - (size_t)n, "<SortEnabled>%s</SortEnabled>",
                      f->options & SF_SORT ? "true" : "false");
    if (text)
        n += snprintf(out + n, cap - (size_t)n, "<HighlightEnabled>%s</HighlightEnabled>",
                      f->options & SF_HIGHLIGHT ? "true" : "false");
    snprintf(out + n, cap - (size_t)n, "</%s>", block);
    return out;
}

/* An answer defining every schema field except `skip`, with `bad` given another type. */
static void answer(buf *b, const char *skip, const char *bad) {
    buf_clear(b);
    buf_append_str(b, "<DescribeIndexFieldsResponse><DescribeIndexFieldsResult><IndexFields>");
    for (size_t i = 0; i < schema_count(); i++) {
        const schema_field *f = schema_field_at(i);
        if (skip && strcmp(f->name, skip) == 0) continue;
        char opts[512];
        buf_printf(b,
                   "<member><Options><IndexFieldName>%s</IndexFieldName><IndexFieldType>%s</IndexFieldType>%s"
                   "</Options><Status><State>Active</State></Status></member>",
                   f->name, bad && strcmp(f->name, bad) == 0 ? "int" : schema_cs_type_name(f->cs_type),
                   type_opts(f, opts, sizeof opts));
    }
    buf_append_str(b, "</IndexFields></DescribeIndexFieldsResult></DescribeIndexFieldsResponse>");
}

static size_t index_of(const char *name) {
    for (size_t i = 0; i < schema_count(); i++)
        if (strcmp(schema_field_at(i)->name, name) == 0) return i;
    return (size_t)-1;
}

static void test_compare(void) {
    buf b;
    buf_init(&b, 1 << 20);
    unsigned char todo[SCHEMA_MAX_FIELDS];
    answer(&b, NULL, NULL);
    CHECK_EQ_INT(cs_fields_to_define(b.data, b.len, todo), 0);
    answer(&b, "raw", "error_code");
    CHECK_EQ_INT(cs_fields_to_define(b.data, b.len, todo), 2);
    CHECK(todo[index_of("raw")] && todo[index_of("error_code")] && !todo[index_of("event_name")]);
    /* an option with another value counts as different */
    answer(&b, NULL, NULL);
    char *p = strstr(b.data, "<IndexFieldName>event_name</IndexFieldName>");
    CHECK(p != NULL);
    char *f = p ? strstr(p, "<FacetEnabled>true</FacetEnabled>") : NULL;
    if (f) memcpy(f + strlen("<FacetEnabled>"), "TRUE", 4);
    CHECK_EQ_INT(cs_fields_to_define(b.data, b.len, todo), 1);
    CHECK(todo[index_of("event_name")]);
    /* an option left out counts as different too (CloudSearch enables what is not said) */
    answer(&b, NULL, NULL);
    p = strstr(b.data, "<IndexFieldName>event_id</IndexFieldName>");
    f = p ? strstr(p, "<SortEnabled>false</SortEnabled>") : NULL;
    CHECK(f != NULL);
    if (f) memset(f, ' ', strlen("<SortEnabled>false</SortEnabled>"));
    CHECK_EQ_INT(cs_fields_to_define(b.data, b.len, todo), 1);
    CHECK(todo[index_of("event_id")]);
    /* no fields at all: everything to define; not an IndexFields answer: -1 */
    const char *empty = "<DescribeIndexFieldsResponse><DescribeIndexFieldsResult><IndexFields/>"
                        "</DescribeIndexFieldsResult></DescribeIndexFieldsResponse>";
    CHECK_EQ_INT(cs_fields_to_define(empty, strlen(empty), todo), (long long)schema_count());
    const char *other = "<ErrorResponse><Error><Code>X</Code></Error></ErrorResponse>";
    CHECK_EQ_INT(cs_fields_to_define(other, strlen(other), todo), -1);
    buf_free(&b);
}

int main(void) {
    RUN(test_compare);
    TEST_MAIN_END();
}
