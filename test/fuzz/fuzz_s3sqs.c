/* Any bytes as an S3 or SQS answer: the parsers stay within their buffers, hand out only
 * strings inside their arenas, and never report more entries than there is room for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/s3.h"
#include "aws/sqs.h"

#include "fuzz_check.h"

static void in_arena(const char *s, const char *arena, size_t cap) {
    if (s && *s && (s < arena || s >= arena + cap)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    s3_list_parsed p;
    char why[160];
    if (s3_list_parse(in, size, &p, why, sizeof why) == 0) {
        for (size_t i = 0; i < p.page.nobjects; i++) {
            const s3_object_info *o = &p.page.objects[i];
            in_arena(o->key, p.arena, p.arena_cap);
            if (o->key_len == 0 || o->key_len > S3_MAX_KEY || o->key[o->key_len] != '\0') abort();
        }
        for (size_t i = 0; i < p.page.nprefixes; i++) in_arena(p.page.prefixes[i], p.arena, p.arena_cap);
        if (p.page.truncated && !*p.page.next_token) abort();
        if (p.arena_len > p.arena_cap) abort();
        s3_list_parsed_free(&p);
    }
    char code[32], msg[64], region[16];
    s3_parse_error(in, size, code, sizeof code, msg, sizeof msg, region, sizeof region);
    if (strlen(code) >= sizeof code || strlen(msg) >= sizeof msg || strlen(region) >= sizeof region) abort();
    sqs_parse_error(in, size, "X;Sender", code, sizeof code, msg, sizeof msg);
    if (strlen(code) >= sizeof code || strlen(msg) >= sizeof msg) abort();

    json_doc doc;
    if (json_doc_init(&doc, 512) != JSON_OK) return 0;
    size_t cap = size + 4 * SQS_MAX_RECEIVE + 16;
    char *arena = malloc(cap);
    sqs_message m[SQS_MAX_RECEIVE];
    int n = sqs_parse_receive(&doc, in, size, arena, cap, m, SQS_MAX_RECEIVE, why, sizeof why);
    if (n > SQS_MAX_RECEIVE) abort();
    for (int i = 0; i < n; i++) {
        in_arena(m[i].body, arena, cap);
        if (m[i].body[m[i].body_len] != '\0') abort();
    }
    sqs_entry_result e[SQS_MAX_BATCH];
    if (sqs_parse_batch(&doc, in, size, e, 3, why, sizeof why) == 0)
        for (int i = 0; i < 3; i++)
            if (!e[i].ok && !e[i].code[0]) abort(); /* a failure always says why */
    free(arena);
    json_doc_free(&doc);
    return 0;
}
