/* Any bytes as a structured and as a simple query: parsing ends, the tree is well formed (links
 * inside the node array, no cycles, strings inside the string area and NUL-terminated), or an
 * error message says where. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "index/query_parse.h"

static qtree t;

static void check_str(qp_str s) {
    if (!s.present) return;
    REQUIRE(s.off + s.len < sizeof t.strings);
    REQUIRE(t.strings[s.off + s.len] == '\0');
}

static int walk(int n, int depth) {
    REQUIRE(n >= 0 && n < t.n && depth <= QP_MAX_DEPTH * 2 + 4);
    const qnode *nd = &t.nodes[n];
    check_str(nd->field);
    check_str(nd->value);
    check_str(nd->lo);
    check_str(nd->hi);
    int count = 1, kids = 0;
    for (int c = nd->child; c >= 0; c = t.nodes[c].next) {
        REQUIRE(++kids <= t.n);
        count += walk(c, depth + 1);
    }
    REQUIRE(kids == nd->nchildren);
    if (nd->kind == QN_NOT) REQUIRE(kids == 1);
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int structured = 0; structured < 2; structured++) {
        int rc = structured ? qp_structured((const char *)data, size, &t) : qp_simple((const char *)data, size, &t);
        if (rc != 0) {
            REQUIRE(t.error[0] != '\0' && memchr(t.error, '\0', sizeof t.error));
            continue;
        }
        REQUIRE(t.n > 0 && t.n <= QP_MAX_NODES);
        REQUIRE(walk(t.root, 0) <= t.n); /* every node reached once at most: no cycles */
    }
    return 0;
}
