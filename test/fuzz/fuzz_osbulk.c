/* Any _bulk answer and any --sink opensearch: URL. The answer parser must report items in
 * order, with the verdict their status gives and a bounded one-line reason, or change
 * nothing at all when the answer is malformed; ids must point into the body. A URL the spec
 * parser accepts must give NUL-terminated parts and an index pattern the builder accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "pipeline/index_pattern.h"
#include "sinks/opensearch/bulk_response.h"
#include "sinks/opensearch/sink_opensearch.h"

typedef struct seen {
    const char *body;
    size_t len;
    uint32_t n;
} seen;

static void one_line_bounded(const char *s, size_t cap) {
    size_t n = strnlen(s, cap);
    REQUIRE(n < cap);
    for (size_t i = 0; i < n; i++) REQUIRE((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

static void on_item(void *ud, const os_bulk_item *it) {
    seen *s = ud;
    REQUIRE(it->index == s->n++);
    REQUIRE(it->verdict == os_bulk_item_verdict(it->status));
    REQUIRE(it->status >= 0 && it->status < 1000);
    if (it->id) REQUIRE(it->id >= s->body && it->id + it->id_len <= s->body + s->len);
    one_line_bounded(it->reason, sizeof it->reason);
    REQUIRE((it->verdict == OS_ITEM_OK) == (it->reason[0] == '\0'));
}

static const char *fuzz_id(void *ud, uint32_t i, size_t *len) {
    (void)ud;
    *len = 1;
    return i % 2 ? "b" : "a";
}

static void check_spec(const uint8_t *data, size_t size) {
    char url[1024];
    if (size >= sizeof url) size = sizeof url - 1;
    memcpy(url, data, size);
    url[size] = '\0';
    os_spec sp;
    char err[200];
    if (sink_opensearch_parse_spec(url, &sp, err, sizeof err) != 0) {
        one_line_bounded(err, sizeof err);
        return;
    }
    REQUIRE(memchr(sp.host, '\0', sizeof sp.host) && sp.host[0]);
    REQUIRE(memchr(sp.base_url, '\0', sizeof sp.base_url));
    REQUIRE(memchr(sp.user, '\0', sizeof sp.user) && memchr(sp.pass, '\0', sizeof sp.pass));
    REQUIRE(memchr(sp.region, '\0', sizeof sp.region) && memchr(sp.service, '\0', sizeof sp.service));
    REQUIRE(sp.pattern[0] == '\0' || index_pattern_check(sp.pattern, 0, NULL, 0) == 0);
    REQUIRE(strchr(sp.base_url, '@') == NULL); /* credentials never reach the URL */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static json_doc doc;
    if (!doc.toks) json_doc_init(&doc, 4096);
    if (size < 1) return 0;
    uint32_t expected = data[0] % 8;
    seen s = {(const char *)data + 1, size - 1, 0};
    int errors = -1;
    int rc = os_bulk_parse_response(&doc, s.body, s.len, expected, &errors, on_item, &s);
    if (rc == OS_BULK_OK) REQUIRE(s.n == (errors ? expected : 0) && (errors == 0 || errors == 1));
    else REQUIRE(s.n == 0 && (rc == OS_BULK_ETOKENS || rc == OS_BULK_EINVAL || rc == OS_BULK_ECOUNT));

    /* The checked parse is stricter: it may refuse what the lenient one took, never the reverse. */
    seen c = {s.body, s.len, 0};
    int rc2 = os_bulk_parse_checked(&doc, c.body, c.len, expected, &errors, fuzz_id, NULL, on_item, &c);
    if (rc2 == OS_BULK_OK) REQUIRE(rc == OS_BULK_OK && c.n == s.n);
    else REQUIRE(c.n == 0);

    char reason[64];
    os_bulk_error_reason(&doc, s.body, s.len, reason, sizeof reason);
    one_line_bounded(reason, sizeof reason);

    size_t id_len = 0;
    const char *id = os_bulk_doc_id(s.body, s.len, &id_len);
    if (id) REQUIRE(id >= s.body && id + id_len <= s.body + s.len);

    check_spec(data + 1, size - 1);
    return 0;
}
