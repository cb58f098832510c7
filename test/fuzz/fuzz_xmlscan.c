/* Any bytes: scanning and decoding stay within the input and the output buffer. */
#include <stdint.h>
#include <stdlib.h>

#include "base/xmlscan.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *tags[] = {"Key", "Contents", "Code", "IsTruncated"};
    const char *xml = (const char *)data;
    for (int t = 0; t < 4; t++) {
        size_t pos = 0;
        xml_span s;
        int guard = 0;
        while (xml_next(xml, size, &pos, tags[t], &s) == 0) {
            if (s.p < xml || s.p + s.n > xml + size || pos > size) abort();
            char out[64];
            long n = xml_decode(&s, out, sizeof out);
            if (n >= (long)sizeof out) abort();
            if (++guard > 100000) abort();
        }
    }
    return 0;
}
