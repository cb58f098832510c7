/* Any bytes as a search request's query string or form body: every parameter is read or refused
 * with a message, and what is kept stays within its limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "index/search_params.h"

static ix_request r;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ixr_init(&r);
    int rc = ixr_parse_form(&r, (const char *)data, size);
    if (rc == 0) rc = ixr_finish(&r);
    if (rc != 0) REQUIRE(r.error[0] != '\0' && memchr(r.error, '\0', sizeof r.error));
    REQUIRE(r.nfacets >= 0 && r.nfacets <= IXR_MAX_FACETS);
    REQUIRE(r.nsort >= 0 && r.nsort <= IXR_MAX_SORT);
    REQUIRE(r.q_len <= QP_MAX_QUERY && r.fq_len <= QP_MAX_QUERY);
    REQUIRE(r.size >= 0 && r.size <= IXR_MAX_HITS && r.start >= 0 && r.start <= IXR_MAX_HITS);
    for (int i = 0; i < r.nfacets; i++) {
        REQUIRE(r.facets[i].f && r.facets[i].f->facet);
        REQUIRE(r.facets[i].nbuckets >= 0 && r.facets[i].nbuckets <= IXR_MAX_BUCKETS);
        for (int b = 0; b < r.facets[i].nbuckets; b++) REQUIRE(memchr(r.facets[i].buckets[b], '\0', 128));
    }
    return 0;
}
