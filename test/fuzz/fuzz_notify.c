/* Any SQS body: the parser must classify it without crashing, and objects it returns must be
 * NUL-terminated, non-empty and within bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sources/notification.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static json_doc doc;
    static char scratch[1 << 16];
    static notify_object objs[16];
    if (!doc.toks) json_doc_init(&doc, 8192);
    if (size > sizeof scratch) return 0;
    notify_result r;
    notify_parse(&doc, (const char *)data, size, scratch, sizeof scratch, objs, 16, &r);
    if (r.kind != NOTIFY_OBJECTS && r.n != 0) abort();
    if (r.n < 0 || r.n > 16) abort();
    for (int i = 0; i < r.n; i++) {
        if (memchr(objs[i].bucket, '\0', sizeof objs[i].bucket) == NULL) abort();
        if (memchr(objs[i].key, '\0', sizeof objs[i].key) == NULL) abort();
        if (objs[i].key[0] == '\0' || objs[i].bucket[0] == '\0') abort();
    }
    return 0;
}
