/* Arbitrary bytes as an INI file and as a credential JSON document: no crash, no overflow,
 * and a successful credential parse always yields bounded, control-free header values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/awsconf.h"
#include "base/ini.h"
#include "base/log.h"

#include "fuzz_check.h"

static int count_settings(void *ctx, const char *section, const char *key, const char *value) {
    (void)section;
    if (strlen(key) == 0) abort(); /* the parser never reports an empty key */
    *(size_t *)ctx += strlen(value);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    log_set_level(LOG_OFF);
    size_t total = 0;
    ini_parse((const char *)data, size, count_settings, &total);
    static aws_credentials c;
    if (awsconf_parse_credentials_json((const char *)data, size, 1, "fuzz", &c) == AWSCONF_OK) {
        for (const char *s = c.session_token; *s; s++)
            if ((unsigned char)*s < 0x20) abort();
        if (!c.access_key_id[0] || !c.expiration) abort();
    }
    return 0;
}
