/* The structured and simple query parsers: trees for what CloudSearch accepts, and errors that say
 * what and where for what it does not. */
#include "index/query_parse.h"

#include <string.h>

#include "testlib.h"

static qtree t;

/* A compact rendering of a tree: and(term(f=v),not(...)), ranges as [a,b} etc. */
static void show(int n, char *out, size_t cap) {
    const qnode *nd = &t.nodes[n];
    static const char *names[] = {"all", "and", "or", "not", "term", "phrase", "prefix", "near", "range"};
    size_t o = strlen(out);
    if (nd->kind == QN_MATCHALL) {
        snprintf(out + o, cap - o, "all");
        return;
    }
    snprintf(out + o, cap - o, "%s(", names[nd->kind]);
    if (nd->kind == QN_AND || nd->kind == QN_OR || nd->kind == QN_NOT) {
        for (int c = nd->child, first = 1; c >= 0; c = t.nodes[c].next, first = 0) {
            if (!first) strncat(out, ",", cap - strlen(out) - 1);
            show(c, out, cap);
        }
    } else {
        o = strlen(out);
        if (nd->field.present) snprintf(out + o, cap - o, "%s=", qp_s(&t, nd->field));
        o = strlen(out);
        if (nd->kind == QN_RANGE)
            snprintf(out + o, cap - o, "%c%s,%s%c", nd->lo_incl ? '[' : '{', nd->lo.present ? qp_s(&t, nd->lo) : "",
                     nd->hi.present ? qp_s(&t, nd->hi) : "", nd->hi_incl ? ']' : '}');
        else snprintf(out + o, cap - o, "%s%s", qp_s(&t, nd->value), nd->is_number ? "#" : "");
        if (nd->kind == QN_NEAR) {
            o = strlen(out);
            snprintf(out + o, cap - o, "~%d", nd->distance);
        }
    }
    strncat(out, ")", cap - strlen(out) - 1);
}

static void expect(int structured, const char *q, const char *want) {
    int rc = structured ? qp_structured(q, strlen(q), &t) : qp_simple(q, strlen(q), &t);
    char got[2048] = "";
    if (rc == 0) show(t.root, got, sizeof got);
    else snprintf(got, sizeof got, "ERROR %s", t.error);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "%s query [%s]\n  got  %s\n  want %s\n", structured ? "structured" : "simple", q, got, want);
        test_failures++;
    }
}

static void expect_error(int structured, const char *q, const char *fragment) {
    int rc = structured ? qp_structured(q, strlen(q), &t) : qp_simple(q, strlen(q), &t);
    if (rc == 0 || !strstr(t.error, fragment)) {
        fprintf(stderr, "query [%s]: expected an error with '%s', got %s\n", q, fragment, rc ? t.error : "no error");
        test_failures++;
    }
}

static void test_structured(void) {
    /* the article's three queries */
    expect(1, "matchall", "all");
    expect(1, "event_source:'sqs.amazonaws.com'", "term(event_source=sqs.amazonaws.com)");
    expect(1, "event_time:['2014-09-01T00:00:00Z','2014-09-02T00:00:00Z']",
           "range(event_time=[2014-09-01T00:00:00Z,2014-09-02T00:00:00Z])");
    expect(1, "year:{,2011]", "range(year={,2011])");
    expect(1, "year:[1998,}", "range(year=[1998,})");
    expect(1, "year:2000", "term(year=2000#)");
    expect(1, "'star wars'", "term(star wars)");
    expect(1, "(and title:'star' (or actors:'Harrison Ford' actors:'William Shatner')(not actors:'Zachary Quinto'))",
           "and(term(title=star),or(term(actors=Harrison Ford),term(actors=William Shatner)),not(term(actors=Zachary "
           "Quinto)))");
    expect(1, "(and (not field=genres 'Sci-Fi')(or (term field=title boost=2 'star')(term field=plot 'star')))",
           "and(not(term(genres=Sci-Fi)),or(term(title=star),term(plot=star)))");
    expect(1, "(phrase field=plot 'teenage girl')", "phrase(plot=teenage girl)");
    expect(1, "(prefix field=title 'sta')", "prefix(title=sta)");
    expect(1, "(near field=plot distance=10 'teenage vampire')", "near(plot=teenage vampire~10)");
    expect(1, "(range field=year [1990,2000])", "range(year=[1990,2000])");
    expect(1, "(term field=year 2000)", "term(year=2000#)");
    expect(1, "  ( and\n event_name:'a\\'b'   user_agent:'c\\\\d' )  ",
           "and(term(event_name=a'b),term(user_agent=c\\d))");
    expect(1, "_id:'abc-1'", "term(_id=abc-1)");
}

static void test_structured_errors(void) {
    expect_error(1, "event_source:'sqs", "unterminated string");
    expect_error(1, "(and event_name:'a'", "expected ')'");
    expect_error(1, "(xor 'a' 'b')", "unknown operator 'xor'");
    expect_error(1, "Event:'x'", "invalid field name");
    expect_error(1, "event_name:'a' event_source:'b'", "unexpected text after the expression");
    expect_error(1, "star", "a string needs single quotes");
    expect_error(1, "year:[,2000]", "omitted range bound needs a brace");
    expect_error(1, "year:{,}", "at least one bound");
    expect_error(1, "(not 'a' 'b')", "exactly one expression");
    expect_error(1, "(range 'a')", "needs a field= option");
    expect_error(1, "(near field=plot 'a b')", "needs a distance= option");
    expect_error(1, "(and)", "at least one expression");
    expect_error(1, "(term field=x bogus=1 'a')", "unknown option");
    /* where: offsets point at the problem */
    expect_error(1, "(and event_name:'a' ]", "at offset 20");
    char deep[2048] = "";
    for (int i = 0; i < 40; i++) strcat(deep, "(and ");
    strcat(deep, "'x'");
    for (int i = 0; i < 40; i++) strcat(deep, ")");
    expect_error(1, deep, "nested deeper than");
    char many[16384] = "(or";
    for (int i = 0; i < 1100; i++) strcat(many, " 'a'");
    strcat(many, ")");
    expect_error(1, many, "more than 1024");
}

static void test_simple(void) {
    expect(0, "star", "term(star)");
    expect(0, "star wars", "and(term(star),term(wars))");
    expect(0, "\"with love\"", "phrase(with love)");
    expect(0, "\"with love\"~3", "near(with love~3)");
    expect(0, "sta*", "prefix(sta)");
    expect(0, "-star wars", "and(term(wars),not(term(star)))");
    expect(0, "star wars |trek", "or(and(term(star),term(wars)),term(trek))");
    expect(0, "-star", "and(all,not(term(star)))");
    expect(0, "+(war|trek)+star", "and(or(term(war),term(trek)),term(star))");
    expect(0, "10.0.0.1 arn:aws:iam", "and(term(10.0.0.1),term(arn:aws:iam))");
    expect(0, "M\\*A\\*S\\*H", "term(M*A*S*H)");
    expect_error(0, "\"open", "unterminated phrase");
    expect_error(0, "stor~1", "fuzzy search");
    expect_error(0, "(a b", "expected ')'");
    expect_error(0, "   ", "empty query");
    expect_error(0, "*", "at least one character before '*'");
}

int main(void) {
    RUN(test_structured);
    RUN(test_structured_errors);
    RUN(test_simple);
    TEST_MAIN_END();
}
