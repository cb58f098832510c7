/* Random URL, header and query input must never crash or overflow the signer.
 * Input layout (lines split on '\n'): URL, then header lines "Name: value", and the
 * first byte picks flags. Invalid pieces must come back as errors, never as a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "base/crypto.h"

#include "fuzz_check.h"

#define MAX_INPUT 65536

static sigv4_signed out;
static sigv4_url url;
static sigv4_key_cache cache;
static char text[MAX_INPUT + 1];
static char encoded[3 * MAX_INPUT + 1];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0 || size > MAX_INPUT) return 0;
    unsigned flags = data[0] & 3;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';

    /* The encoder on the raw bytes (NULs included), with a cap that is sometimes too small. */
    sigv4_uri_encode((const char *)data, size, encoded, (size * 7) % sizeof encoded + 1, data[0] & 4);

    char *save = NULL;
    char *first = strtok_r(text, "\n", &save);
    if (!first) return 0;
    sigv4_header hdrs[SIGV4_MAX_HEADERS + 2];
    size_t nh = 0;
    for (char *line; (line = strtok_r(NULL, "\n", &save)) != NULL && nh < SIGV4_MAX_HEADERS + 2;) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = '\0';
        hdrs[nh].name = line;
        hdrs[nh].value = colon + 1;
        nh++;
    }
    sigv4_credentials cr = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                            (data[0] & 8) ? "session-token" : NULL};
    sigv4_request r = {.method = "POST",
                       .headers = hdrs,
                       .nheaders = nh,
                       .region = "us-east-1",
                       .service = (data[0] & 16) ? "s3" : "sqs",
                       .time = 1440938160,
                       .flags = flags};
    if (sigv4_url_parse(first, &url) == SIGV4_OK) {
        r.host = url.host;
        r.path = url.path;
        r.query = url.query;
    } else {
        /* Not a URL: use the line as both path and query to reach the canonicalisers. */
        r.host = "example.amazonaws.com";
        r.path = first;
        r.query = first;
    }
    int rc = sigv4_sign(&r, &cr, (data[0] & 32) ? &cache : NULL, &out);
    if (rc == SIGV4_OK) {
        /* Whatever was signed must be well-formed and NUL-terminated. */
        if (strlen(out.signature) != 64 || out.nlines < 2 || strlen(out.canonical_request) != out.canonical_request_len)
            abort();
    }
    return 0;
}
