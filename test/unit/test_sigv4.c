/* SigV4 signer and crypto tests. Expected signatures come from the AWS SigV4 test suite
 * (get-vanilla, get-utf8, get-space, get-header-*: the aws-c-auth suite values) and, for the
 * rest, from botocore's SigV4Auth/S3SigV4Auth as an independent oracle (computed once and
 * pasted here as literals). test/e2e/test_sigv4_oracle.py repeats the comparison with
 * botocore on random requests through the --sign mode of this program. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "base/crypto.h"
#include "testlib.h"

#define SUITE_TIME 1440938160LL /* 20150830T123600Z */
#define SUITE_HOST "example.amazonaws.com"

static const sigv4_credentials SUITE_CREDS = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};

static sigv4_signed out; /* ~80 KB: static, as a real caller would keep one */

static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static void hex_sha256(const char *s, char hex[65]) { crypto_sha256_hex(s, strlen(s), hex); }

/* ---- crypto ---- */

static void test_sha256_known_values(void) {
    char hex[65];
    hex_sha256("", hex);
    CHECK_EQ_STR(hex, CRYPTO_SHA256_EMPTY_HEX);
    hex_sha256("abc", hex);
    CHECK_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hex_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex);
    CHECK_EQ_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_streaming_matches_one_shot(void) {
    static char data[100000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 131 + 7);
    uint8_t a[32], b[32];
    CHECK_EQ_INT(crypto_sha256(data, sizeof data, a), 0);
    crypto_sha256_ctx c;
    CHECK_EQ_INT(crypto_sha256_init(&c), 0);
    size_t off = 0, step = 1;
    while (off < sizeof data) { /* uneven chunks cross the 64-byte block boundary */
        size_t n = sizeof data - off < step ? sizeof data - off : step;
        CHECK_EQ_INT(crypto_sha256_update(&c, data + off, n), 0);
        off += n;
        step = step * 3 % 997 + 1;
    }
    CHECK_EQ_INT(crypto_sha256_final(&c, b), 0);
    CHECK(memcmp(a, b, 32) == 0);
    /* one million 'a' (FIPS 180-2 test vector) */
    CHECK_EQ_INT(crypto_sha256_init(&c), 0);
    memset(data, 'a', 1000);
    for (int i = 0; i < 1000; i++) crypto_sha256_update(&c, data, 1000);
    crypto_sha256_final(&c, a);
    char hex[65];
    crypto_hex(a, 32, hex);
    CHECK_EQ_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_hmac_rfc4231(void) {
    uint8_t mac[32];
    char hex[65];
    CHECK_EQ_INT(crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac), 0);
    crypto_hex(mac, 32, hex);
    CHECK_EQ_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* RFC 4231 case 6: key longer than the block size (131 bytes of 0xaa) */
    uint8_t key[131];
    memset(key, 0xaa, sizeof key);
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    CHECK_EQ_INT(crypto_hmac_sha256(key, sizeof key, msg, strlen(msg), mac), 0);
    crypto_hex(mac, 32, hex);
    CHECK_EQ_STR(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* ---- signing helpers ---- */

typedef struct suite_case {
    const char *name;
    const char *method;
    const char *path;
    const char *query;
    sigv4_header headers[4];
    size_t nheaders;
    const char *body;
    const char *token;
    const char *signed_headers;
    const char *signature;
} suite_case;

static int sign_case(const suite_case *c, sigv4_key_cache *cache) {
    char body_hash[65];
    hex_sha256(c->body ? c->body : "", body_hash);
    sigv4_request r = {
        .method = c->method,
        .host = SUITE_HOST,
        .path = c->path,
        .query = c->query,
        .headers = c->headers,
        .nheaders = c->nheaders,
        .payload_hash = body_hash,
        .region = "us-east-1",
        .service = "service",
        .time = SUITE_TIME,
    };
    sigv4_credentials cr = SUITE_CREDS;
    cr.session_token = c->token;
    return sigv4_sign(&r, &cr, cache, &out);
}

static const char *STS_TOKEN =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTf"
    "lfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HF"
    "vlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKT"
    "r4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

#define HS "host;x-amz-date"
static const suite_case CASES[] = {
    {"get-vanilla",
     "GET",
     "/",
     NULL,
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-vanilla-query-order-key",
     "GET",
     "/",
     "Param1=value2&Param1=value1",
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
    {"get-vanilla-query-order-key-case",
     "GET",
     "/",
     "Param2=value2&Param1=value1",
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"get-vanilla-query-order-value",
     "GET",
     "/",
     "Param1=value2&Param1=Value1",
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"},
    {"get-vanilla-query-unreserved",
     "GET",
     "/",
     "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
     "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
    /* raw UTF-8 and its percent-encoded form sign the same */
    {"get-vanilla-utf8-query",
     "GET",
     "/",
     "\xe1\x88\xb4=bar",
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {"get-vanilla-utf8-query-encoded",
     "GET",
     "/",
     "%E1%88%B4=bar",
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {"get-vanilla-query-order-encoded",
     "GET",
     "/",
     "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"},
    {"get-utf8",
     "GET",
     "/\xe1\x88\xb4",
     NULL,
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
    {"get-space",
     "GET",
     "/example space/",
     NULL,
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
    {"get-relative",
     "GET",
     "/example/..",
     NULL,
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-relative-relative",
     "GET",
     "/example1/example2/../..",
     NULL,
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-slash",
     "GET",
     "//",
     NULL,
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-slash-dot-slash",
     "GET",
     "/./",
     NULL,
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-slash-pointless-dot",
     "GET",
     "/./example",
     NULL,
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
    {"get-slashes",
     "GET",
     "//example//",
     NULL,
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
    {"get-header-value-trim",
     "GET",
     "/",
     NULL,
     {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}},
     2,
     NULL,
     NULL,
     "host;my-header1;my-header2;x-amz-date",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
    {"get-header-key-duplicate",
     "GET",
     "/",
     NULL,
     {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}},
     3,
     NULL,
     NULL,
     "host;my-header1;x-amz-date",
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
    {"get-header-value-order",
     "GET",
     "/",
     NULL,
     {{"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"}, {"My-Header1", "value2"}},
     4,
     NULL,
     NULL,
     "host;my-header1;x-amz-date",
     "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
    {"get-header-value-multiline",
     "GET",
     "/",
     NULL,
     {{"My-Header1", "value1\n  value2\n     value3"}},
     1,
     NULL,
     NULL,
     "host;my-header1;x-amz-date",
     "cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd"},
    {"post-vanilla-query",
     "POST",
     "/",
     "Param1=value1",
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
    {"post-x-www-form-urlencoded",
     "POST",
     "/",
     NULL,
     {{"Content-Type", "application/x-www-form-urlencoded"}},
     1,
     "Param1=value1",
     NULL,
     "content-type;host;x-amz-date",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
    {"post-sts-header-before",
     "POST",
     "/",
     NULL,
     {{0}},
     0,
     NULL,
     NULL /* token set below */,
     "host;x-amz-date;x-amz-security-token",
     "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
    {"get-vanilla-with-session-token",
     "GET",
     "/",
     NULL,
     {{0}},
     0,
     NULL,
     "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
     "host;x-amz-date;x-amz-security-token",
     "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"},
    /* a wire path that is already encoded is encoded again for non-S3 services */
    {"double-encoded-path",
     "GET",
     "/a%20b/c%2Fd",
     NULL,
     {{0}},
     0,
     NULL,
     NULL,
     HS,
     "a015660cab6eca543492741e8b7debfa9e32f17beca099c5272132c01cdde558"},
};

static void test_suite_cases(void) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        suite_case c = CASES[i];
        if (strcmp(c.name, "post-sts-header-before") == 0) c.token = STS_TOKEN;
        int rc = sign_case(&c, NULL);
        if (rc != SIGV4_OK || strcmp(out.signature, c.signature) != 0 ||
            strcmp(out.signed_headers, c.signed_headers) != 0) {
            fprintf(stderr, "case %s: rc=%d signature %s (want %s) signed %s\ncanonical:\n%s\n", c.name, rc,
                    out.signature, c.signature, out.signed_headers, out.canonical_request);
            test_failures++;
        }
        char want_auth[512];
        snprintf(want_auth, sizeof want_auth,
                 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                 "SignedHeaders=%s, Signature=%s",
                 c.signed_headers, c.signature);
        CHECK_EQ_STR(out.authorization, want_auth);
    }
}

static void test_get_vanilla_intermediate_values(void) {
    CHECK_EQ_INT(sign_case(&CASES[0], NULL), SIGV4_OK);
    CHECK_EQ_STR(out.canonical_request, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                                        "host;x-amz-date\n" CRYPTO_SHA256_EMPTY_HEX);
    char h[65];
    hex_sha256(out.canonical_request, h);
    CHECK_EQ_STR(h, "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    CHECK_EQ_STR(out.string_to_sign, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                                     "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    CHECK_EQ_STR(out.amz_date, "20150830T123600Z");
    CHECK_EQ_INT(out.nlines, 2);
    CHECK_EQ_STR(out.lines[0], "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                               "aws4_request, SignedHeaders=host;x-amz-date, "
                               "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    CHECK_EQ_STR(out.lines[1], "X-Amz-Date: 20150830T123600Z");
}

static void test_canonical_forms(void) {
    suite_case c = CASES[0];
    c.query = "b=2&a&c=x y&a=%7e&d=%zz+";
    CHECK_EQ_INT(sign_case(&c, NULL), SIGV4_OK);
    /* bare key -> "a=", %7e -> "~", space -> %20, a bad escape is a literal '%', '+' is literal */
    CHECK(strstr(out.canonical_request, "\na=&a=~&b=2&c=x%20y&d=%25zz%2B\n") != NULL);
    c.query = "&&x=1&";
    CHECK_EQ_INT(sign_case(&c, NULL), SIGV4_OK);
    CHECK(starts_with(out.canonical_request, "GET\n/\nx=1\n"));
    c.query = NULL;
    c.path = "/a/./b/../../c//d%2F/";
    CHECK_EQ_INT(sign_case(&c, NULL), SIGV4_OK);
    CHECK(starts_with(out.canonical_request, "GET\n/c/d%252F/\n\n"));
    c.path = "";
    CHECK_EQ_INT(sign_case(&c, NULL), SIGV4_OK);
    CHECK(starts_with(out.canonical_request, "GET\n/\n\n"));
    c.method = "post";
    CHECK_EQ_INT(sign_case(&c, NULL), SIGV4_OK);
    CHECK(starts_with(out.canonical_request, "POST\n"));
}

static void test_unsigned_and_own_headers_skipped(void) {
    /* A retried request still carries the old Authorization/X-Amz-Date; hop-by-hop headers
     * must not be signed: the signature must equal plain get-vanilla. */
    suite_case c = CASES[0];
    c.headers[0] = (sigv4_header){"Authorization", "AWS4-HMAC-SHA256 stale"};
    c.headers[1] = (sigv4_header){"X-Amz-Date", "20000101T000000Z"};
    c.headers[2] = (sigv4_header){"User-Agent", "ctindex/1.0"};
    c.headers[3] = (sigv4_header){"Expect", "100-continue"};
    c.nheaders = 4;
    CHECK_EQ_INT(sign_case(&c, NULL), SIGV4_OK);
    CHECK_EQ_STR(out.signature, CASES[0].signature);
    /* an explicit Host header is used instead of req->host */
    c.headers[0] = (sigv4_header){"HOST", SUITE_HOST};
    c.nheaders = 1;
    CHECK_EQ_INT(sign_case(&c, NULL), SIGV4_OK);
    CHECK_EQ_STR(out.signature, CASES[0].signature);
}

static void test_s3_vector(void) {
    sigv4_header hdr[] = {{"Range", "bytes=0-9"}};
    sigv4_request r = {.method = "GET",
                       .host = "examplebucket.s3.amazonaws.com",
                       .path = "/test.txt",
                       .headers = hdr,
                       .nheaders = 1,
                       .payload_hash = CRYPTO_SHA256_EMPTY_HEX,
                       .region = "us-east-1",
                       .service = "s3",
                       .time = 1369353600LL,
                       .flags = SIGV4_S3};
    sigv4_credentials cr = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL};
    CHECK_EQ_INT(sigv4_sign(&r, &cr, NULL, &out), SIGV4_OK);
    CHECK_EQ_STR(out.signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
    CHECK_EQ_STR(out.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    CHECK_EQ_INT(out.nlines, 3);
    CHECK_EQ_STR(out.lines[2], "X-Amz-Content-Sha256: " CRYPTO_SHA256_EMPTY_HEX);
}

static void test_s3_path_not_normalised(void) {
    /* botocore S3SigV4Auth oracle: PUT http://127.0.0.1:9000/bucket/my%20key%2Bx//a/../b?x-id=PutObject */
    sigv4_header hdr[] = {{"Content-Type", "application/json"}};
    char body_hash[65];
    hex_sha256("{\"a\":1}", body_hash);
    sigv4_request r = {.method = "PUT",
                       .host = "127.0.0.1:9000",
                       .path = "/bucket/my%20key%2Bx//a/../b",
                       .query = "x-id=PutObject",
                       .headers = hdr,
                       .nheaders = 1,
                       .payload_hash = body_hash,
                       .region = "us-east-1",
                       .service = "s3",
                       .time = SUITE_TIME,
                       .flags = SIGV4_S3};
    CHECK_EQ_INT(sigv4_sign(&r, &SUITE_CREDS, NULL, &out), SIGV4_OK);
    CHECK(starts_with(out.canonical_request, "PUT\n/bucket/my%20key%2Bx//a/../b\nx-id=PutObject\n"));
    CHECK_EQ_STR(out.signature, "e8aa1344c94ab40e5b22419fd4211fa6a3592bc113c586fbda341589fbac0619");
    /* S3 encodes a raw space once, like the AWS suite's unnormalized get-space */
    r.path = "/example space/";
    r.query = NULL;
    CHECK_EQ_INT(sigv4_sign(&r, &SUITE_CREDS, NULL, &out), SIGV4_OK);
    CHECK(starts_with(out.canonical_request, "PUT\n/example%20space/\n\n"));
}

static void test_session_token_and_content_sha_lines(void) {
    sigv4_header hdr[] = {{"Content-Type", "application/json"}};
    char body_hash[65];
    hex_sha256("[]", body_hash);
    sigv4_request r = {.method = "POST",
                       .host = "doc-ct-abc.us-east-1.cloudsearch.amazonaws.com",
                       .path = "/2013-01-01/documents/batch",
                       .query = "format=sdk",
                       .headers = hdr,
                       .nheaders = 1,
                       .payload_hash = body_hash,
                       .region = "us-east-1",
                       .service = "cloudsearch",
                       .time = SUITE_TIME};
    sigv4_credentials cr = SUITE_CREDS;
    cr.session_token = "TOKEN123";
    CHECK_EQ_INT(sigv4_sign(&r, &cr, NULL, &out), SIGV4_OK);
    /* botocore SigV4Auth oracle for the same request */
    CHECK_EQ_STR(out.signature, "e82a846c42c654d9f6d25926660961777aa3270aaa81f23a38a6732e726a415e");
    CHECK_EQ_INT(out.nlines, 3);
    CHECK_EQ_STR(out.lines[2], "X-Amz-Security-Token: TOKEN123");
    r.flags = SIGV4_CONTENT_SHA256;
    CHECK_EQ_INT(sigv4_sign(&r, &cr, NULL, &out), SIGV4_OK);
    CHECK_EQ_INT(out.nlines, 4);
    CHECK_EQ_STR(out.signed_headers, "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
    r.payload_hash = SIGV4_UNSIGNED_PAYLOAD;
    CHECK_EQ_INT(sigv4_sign(&r, &cr, NULL, &out), SIGV4_OK);
    CHECK_EQ_STR(out.lines[3], "X-Amz-Content-Sha256: UNSIGNED-PAYLOAD");
    CHECK(strstr(out.canonical_request, "\nUNSIGNED-PAYLOAD") != NULL);
}

static void test_limits_are_errors(void) {
    static char big[SIGV4_MAX_PATH + 2];
    suite_case c = CASES[0];
    memset(big, 'a', sizeof big - 1);
    big[0] = '/';
    big[sizeof big - 1] = '\0';
    c.path = big; /* one byte over */
    CHECK_EQ_INT(sign_case(&c, NULL), SIGV4_ETOOBIG);
    big[SIGV4_MAX_PATH] = '\0'; /* exactly at the limit is fine */
    CHECK_EQ_INT(sign_case(&c, NULL), SIGV4_OK);
    c.path = "/";

    static char q[SIGV4_MAX_QUERY + 1];
    size_t n = 0;
    for (int i = 0; i < SIGV4_MAX_QUERY_PARAMS + 1; i++) n += (size_t)snprintf(q + n, sizeof q - n, "k%d&", i);
    c.query = q;
    CHECK_EQ_INT(sign_case(&c, NULL), SIGV4_ETOOBIG);
    c.query = NULL;

    static char val[SIGV4_MAX_HEADER_VALUE + 2];
    memset(val, 'v', sizeof val - 1);
    c.headers[0] = (sigv4_header){"X-Big", val};
    c.nheaders = 1;
    CHECK_EQ_INT(sign_case(&c, NULL), SIGV4_ETOOBIG);
    c.headers[0] = (sigv4_header){"Bad:Name", "v"};
    CHECK_EQ_INT(sign_case(&c, NULL), SIGV4_EINVAL);
    c.headers[0] = (sigv4_header){"", "v"};
    CHECK_EQ_INT(sign_case(&c, NULL), SIGV4_EINVAL);
    c.headers[0] = (sigv4_header){"X-Null", NULL};
    CHECK_EQ_INT(sign_case(&c, NULL), SIGV4_EINVAL);
    c.nheaders = 0;

    sigv4_header many[SIGV4_MAX_HEADERS + 1];
    for (size_t i = 0; i < SIGV4_MAX_HEADERS + 1; i++) many[i] = (sigv4_header){"X-H", "v"};
    sigv4_request r = {.method = "GET",
                       .host = SUITE_HOST,
                       .path = "/",
                       .headers = many,
                       .nheaders = SIGV4_MAX_HEADERS + 1,
                       .region = "us-east-1",
                       .service = "service",
                       .time = SUITE_TIME};
    CHECK_EQ_INT(sigv4_sign(&r, &SUITE_CREDS, NULL, &out), SIGV4_ETOOBIG);
    r.nheaders = SIGV4_MAX_HEADERS;
    CHECK_EQ_INT(sigv4_sign(&r, &SUITE_CREDS, NULL, &out), SIGV4_OK);
    r.nheaders = 0;
    r.payload_hash = "E3B0";
    CHECK_EQ_INT(sigv4_sign(&r, &SUITE_CREDS, NULL, &out), SIGV4_EINVAL);
    r.payload_hash = NULL;
    r.region = "us/east";
    CHECK_EQ_INT(sigv4_sign(&r, &SUITE_CREDS, NULL, &out), SIGV4_EINVAL);
    r.region = "us-east-1";
    r.time = -1;
    CHECK_EQ_INT(sigv4_sign(&r, &SUITE_CREDS, NULL, &out), SIGV4_EINVAL);
    r.time = SUITE_TIME;
    r.method = "GE T";
    CHECK_EQ_INT(sigv4_sign(&r, &SUITE_CREDS, NULL, &out), SIGV4_EINVAL);
    r.method = "GET";
    sigv4_credentials bad = SUITE_CREDS;
    bad.session_token = "tok\r\nX-Evil: 1";
    CHECK_EQ_INT(sigv4_sign(&r, &bad, NULL, &out), SIGV4_EINVAL);
    bad = SUITE_CREDS;
    bad.secret_access_key = "";
    CHECK_EQ_INT(sigv4_sign(&r, &bad, NULL, &out), SIGV4_EINVAL);
    const char *bad_ids[] = {"AKID/2024", "AK ID", "AKID,x", "AKID=1", "AKID\r\n"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        bad = SUITE_CREDS;
        bad.access_key_id = bad_ids[i];
        CHECK_EQ_INT(sigv4_sign(&r, &bad, NULL, &out), SIGV4_EINVAL);
    }
    bad = SUITE_CREDS;
    bad.access_key_id = "test-key"; /* moto's IMDS key id */
    CHECK_EQ_INT(sigv4_sign(&r, &bad, NULL, &out), SIGV4_OK);
    CHECK(strstr(out.authorization, "Credential=test-key/") != NULL);
    CHECK_EQ_INT(sigv4_sign(&r, &SUITE_CREDS, NULL, &out), SIGV4_OK);
}

static void test_key_cache(void) {
    static sigv4_key_cache cache;
    sigv4_key_cache_init(&cache);
    for (int i = 0; i < 100; i++) {
        CHECK_EQ_INT(sign_case(&CASES[0], &cache), SIGV4_OK);
        CHECK_EQ_STR(out.signature, CASES[0].signature);
    }
    CHECK_EQ_INT(cache.derivations, 1);

    uint8_t k1[32], k2[32];
    CHECK_EQ_INT(sigv4_signing_key(&cache, SUITE_CREDS.secret_access_key, "20150830", "us-east-1", "sqs", k1), 0);
    CHECK_EQ_INT(cache.derivations, 2);
    CHECK_EQ_INT(sigv4_signing_key(NULL, SUITE_CREDS.secret_access_key, "20150830", "us-east-1", "sqs", k2), 0);
    CHECK(memcmp(k1, k2, 32) == 0);
    /* next day, other region, rotated secret: each derives once */
    sigv4_signing_key(&cache, SUITE_CREDS.secret_access_key, "20150831", "us-east-1", "sqs", k1);
    sigv4_signing_key(&cache, SUITE_CREDS.secret_access_key, "20150831", "eu-west-1", "sqs", k1);
    sigv4_signing_key(&cache, "rotatedSECRET", "20150831", "eu-west-1", "sqs", k2);
    CHECK_EQ_INT(cache.derivations, 5);
    CHECK(memcmp(k1, k2, 32) != 0);
    sigv4_signing_key(&cache, "rotatedSECRET", "20150831", "eu-west-1", "sqs", k2);
    CHECK_EQ_INT(cache.derivations, 5);
    /* more combinations than slots: old entries are evicted, results stay correct */
    char svc[16];
    for (int i = 0; i < 3 * SIGV4_KEY_CACHE_SLOTS; i++) {
        snprintf(svc, sizeof svc, "svc%d", i);
        sigv4_signing_key(&cache, "s", "20150831", "us-east-1", svc, k1);
    }
    CHECK_EQ_INT(sign_case(&CASES[0], &cache), SIGV4_OK);
    CHECK_EQ_STR(out.signature, CASES[0].signature);
    sigv4_key_cache_wipe(&cache);
    CHECK_EQ_INT(cache.slot[0].used, 0);
}

static void test_url_parse(void) {
    static sigv4_url u;
    CHECK_EQ_INT(sigv4_url_parse("https://user:pw@Example.COM:443/p%20q?x=1&y#frag", &u), SIGV4_OK);
    CHECK_EQ_STR(u.host, "example.com");
    CHECK_EQ_STR(u.path, "/p%20q");
    CHECK_EQ_STR(u.query, "x=1&y");
    CHECK_EQ_INT(u.https, 1);
    CHECK_EQ_INT(sigv4_url_parse("http://localhost:4566", &u), SIGV4_OK);
    CHECK_EQ_STR(u.host, "localhost:4566");
    CHECK_EQ_STR(u.path, "/");
    CHECK_EQ_STR(u.query, "");
    CHECK_EQ_INT(sigv4_url_parse("http://h:80?a=b", &u), SIGV4_OK);
    CHECK_EQ_STR(u.host, "h");
    CHECK_EQ_STR(u.query, "a=b");
    CHECK_EQ_INT(sigv4_url_parse("https://[::1]:9000/x", &u), SIGV4_OK);
    CHECK_EQ_STR(u.host, "[::1]:9000");
    CHECK_EQ_INT(sigv4_url_parse("ftp://h/", &u), SIGV4_EINVAL);
    CHECK_EQ_INT(sigv4_url_parse("https:///nohost", &u), SIGV4_EINVAL);
    CHECK_EQ_INT(sigv4_url_parse("https://h:99999/", &u), SIGV4_EINVAL);
    CHECK_EQ_INT(sigv4_url_parse("https://h:8x/", &u), SIGV4_EINVAL);
    CHECK_EQ_INT(sigv4_url_parse("https://[::1/", &u), SIGV4_EINVAL);
}

static void test_uri_encode(void) {
    char o[64];
    CHECK_EQ_INT(sigv4_uri_encode("a b/\xc3\xbc~+", 8, o, sizeof o, 1), 16);
    CHECK_EQ_STR(o, "a%20b/%C3%BC~%2B");
    CHECK_EQ_INT(sigv4_uri_encode("a/b", 3, o, sizeof o, 0), 5);
    CHECK_EQ_STR(o, "a%2Fb");
    CHECK_EQ_INT(sigv4_uri_encode("abc", 3, o, 3, 0), -1); /* no room for the NUL */
    CHECK_EQ_INT(sigv4_uri_encode("   ", 3, o, 9, 0), -1);
    CHECK_EQ_INT(sigv4_uri_encode("   ", 3, o, 10, 0), 9);
}

/* ---- CLI for the botocore oracle e2e test ----
 * test_sigv4 --sign METHOD URL SERVICE REGION BODYFILE [--time EPOCH] [--header 'Name: value']...
 * Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
 * Service "s3" uses the S3 rules. Prints the header lines to add, Authorization first. */
static int sign_cli(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s --sign METHOD URL SERVICE REGION BODYFILE [--time EPOCH] [--header 'N: v']...\n",
                argv[0]);
        return 2;
    }
    static sigv4_url u;
    int rc = sigv4_url_parse(argv[3], &u);
    if (rc) {
        fprintf(stderr, "url: %s\n", sigv4_strerror(rc));
        return 1;
    }
    FILE *f = fopen(argv[6], "rb");
    if (!f) {
        perror(argv[6]);
        return 1;
    }
    crypto_sha256_ctx c;
    crypto_sha256_init(&c);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) crypto_sha256_update(&c, chunk, got);
    fclose(f);
    uint8_t d[32];
    char payload[65];
    crypto_sha256_final(&c, d);
    crypto_hex(d, 32, payload);

    static sigv4_header hdrs[SIGV4_MAX_HEADERS + 1];
    static char hstore[SIGV4_MAX_HEADERS + 1][SIGV4_MAX_HEADER_VALUE + SIGV4_MAX_HEADER_NAME + 8];
    size_t nh = 0;
    int64_t when = 0;
    for (int i = 7; i < argc; i++) {
        if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
            when = strtoll(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--header") == 0 && i + 1 < argc && nh <= SIGV4_MAX_HEADERS) {
            snprintf(hstore[nh], sizeof hstore[nh], "%s", argv[++i]);
            char *colon = strchr(hstore[nh], ':');
            if (!colon) return 2;
            *colon = '\0';
            hdrs[nh].name = hstore[nh];
            hdrs[nh].value = colon + 1;
            nh++;
        } else {
            fprintf(stderr, "bad argument %s\n", argv[i]);
            return 2;
        }
    }
    sigv4_credentials cr = {getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN")};
    sigv4_request r = {.method = argv[2],
                       .host = u.host,
                       .path = u.path,
                       .query = u.query,
                       .headers = hdrs,
                       .nheaders = nh,
                       .payload_hash = payload,
                       .region = argv[5],
                       .service = argv[4],
                       .time = when,
                       .flags = strcmp(argv[4], "s3") == 0 ? SIGV4_S3 : 0};
    rc = sigv4_sign(&r, &cr, NULL, &out);
    if (rc) {
        fprintf(stderr, "sign: %s\n", sigv4_strerror(rc));
        return 1;
    }
    for (size_t i = 0; i < out.nlines; i++) printf("%s\n", out.lines[i]);
    if (getenv("SIGV4_DEBUG")) fprintf(stderr, "%s\n----\n%s\n", out.canonical_request, out.string_to_sign);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--sign") == 0) return sign_cli(argc, argv);
    RUN(test_sha256_known_values);
    RUN(test_sha256_streaming_matches_one_shot);
    RUN(test_hmac_rfc4231);
    RUN(test_suite_cases);
    RUN(test_get_vanilla_intermediate_values);
    RUN(test_canonical_forms);
    RUN(test_unsigned_and_own_headers_skipped);
    RUN(test_s3_vector);
    RUN(test_s3_path_not_normalised);
    RUN(test_session_token_and_content_sha_lines);
    RUN(test_limits_are_errors);
    RUN(test_key_cache);
    RUN(test_url_parse);
    RUN(test_uri_encode);
    TEST_MAIN_END();
}
