/* awsconf: credentials/region/endpoint resolution with a fake environment and temp files,
 * INI parsing, ECS/IMDS credential documents, RFC 3339, refresh and redaction. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/awsconf.h"
#include "base/ini.h"
#include "testlib.h"

/* ---- fake environment ---- */

typedef struct fake_env {
    const char *vars[32][2];
    int n;
} fake_env;

static const char *fake_getenv(void *ctx, const char *name) {
    fake_env *f = ctx;
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->vars[i][0], name) == 0) return f->vars[i][1];
    return NULL;
}

static void fset(fake_env *f, const char *name, const char *value) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->vars[i][0], name) == 0) {
            f->vars[i][1] = value;
            return;
        }
    f->vars[f->n][0] = name;
    f->vars[f->n][1] = value;
    f->n++;
}

static char tmpdir[256];

static void write_file(const char *rel, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static const char *CONFIG = "# comment line\n"
                            "; another comment\n"
                            "[default]\n"
                            "region = eu-west-1\n"
                            "\n"
                            "[profile   work ]\n"
                            "  region=ap-southeast-2  \n"
                            "aws_access_key_id = AKIACONFIGWORK\n"
                            "aws_secret_access_key = config-secret\n"
                            "s3 =\n"
                            "    addressing_style = path\n"
                            "services = local\n"
                            "\n"
                            "[services local]\n"
                            "sqs =\n"
                            "  endpoint_url = http://localhost:4566/\n"
                            "\n"
                            "[profile partial]\n"
                            "aws_access_key_id = AKIAONLYID\n"
                            "[profile ignorer]\n"
                            "endpoint_url = http://profile-endpoint:1234\n"
                            "ignore_configured_endpoint_urls = true\n"
                            "[profile withurl]\n"
                            "endpoint_url = http://profile-endpoint:1234\n";

static const char *CREDENTIALS = "[default]\n"
                                 "aws_access_key_id=AKIADEFAULT\n"
                                 "aws_secret_access_key = default/secret+key\n"
                                 "\n"
                                 "[work]\n"
                                 "AWS_ACCESS_KEY_ID = AKIACREDWORK\n"
                                 "aws_secret_access_key: cred-secret ; not a comment\n"
                                 "aws_security_token = legacy-token\n"
                                 "this line is malformed\n";

static void setup_files(fake_env *e) {
    fset(e, "HOME", tmpdir);
    char d[300];
    snprintf(d, sizeof d, "%s/.aws", tmpdir);
    mkdir(d, 0700);
    write_file(".aws/config", CONFIG);
    write_file(".aws/credentials", CREDENTIALS);
}

/* ---- INI ---- */

typedef struct collected {
    char lines[32][160];
    int n;
} collected;

static int collect(void *ctx, const char *section, const char *key, const char *value) {
    collected *c = ctx;
    if (c->n < 32) snprintf(c->lines[c->n++], sizeof c->lines[0], "%s|%s|%s", section, key, value);
    return 0;
}

static void test_ini_parse(void) {
    collected c = {0};
    const char *text = "top=1\n[ sec ]\r\nKey = Value with ; semicolon \n# c\n  ;c\nnested =\n  sub = x\n"
                       "other = y\n  notnested = z\n[bad\nlost = 1\n[profile  a b]\nk:v\nnovalue\n=x\n";
    int bad = ini_parse(text, strlen(text), collect, &c);
    CHECK_EQ_INT(bad, 3); /* "[bad", "novalue", "=x" */
    CHECK_EQ_INT(c.n, 7);
    CHECK_EQ_STR(c.lines[0], "|top|1");
    CHECK_EQ_STR(c.lines[1], "sec|key|Value with ; semicolon");
    CHECK_EQ_STR(c.lines[2], "sec|nested|");
    CHECK_EQ_STR(c.lines[3], "sec|nested.sub|x");
    CHECK_EQ_STR(c.lines[4], "sec|other|y");
    CHECK_EQ_STR(c.lines[5], "sec|notnested|z"); /* indented, but "other" had a value */
    CHECK_EQ_STR(c.lines[6], "profile a b|k|v");

    /* an over-long line is skipped whole and reported, the next line still parses */
    static char big[INI_MAX_LINE + 64];
    memset(big, 'x', INI_MAX_LINE + 10);
    memcpy(big, "[s]\nk=", 6);
    strcpy(big + INI_MAX_LINE + 10, "\nz=1\n");
    collected c2 = {0};
    CHECK_EQ_INT(ini_parse(big, strlen(big), collect, &c2), 1);
    CHECK_EQ_INT(c2.n, 1);
    CHECK_EQ_STR(c2.lines[0], "s|z|1");
}

/* ---- credentials, region, endpoints ---- */

static void test_env_credentials_first(void) {
    fake_env f = {0};
    awsconf_env e = {fake_getenv, &f};
    setup_files(&f);
    fset(&f, "AWS_ACCESS_KEY_ID", "AKIAENV");
    fset(&f, "AWS_SECRET_ACCESS_KEY", "envsecret");
    fset(&f, "AWS_SECURITY_TOKEN", "legacy");
    aws_profile p;
    CHECK_EQ_INT(awsconf_load_profile(&e, NULL, &p), AWSCONF_OK);
    aws_credentials c;
    CHECK_EQ_INT(awsconf_static_credentials(&e, &p, &c), AWSCONF_OK);
    CHECK_EQ_STR(c.access_key_id, "AKIAENV");
    CHECK_EQ_STR(c.secret_access_key, "envsecret");
    CHECK_EQ_STR(c.session_token, "legacy");
    CHECK_EQ_STR(c.source, "env");
    CHECK_EQ_INT(c.expiration, 0);
    fset(&f, "AWS_SESSION_TOKEN", "modern"); /* preferred over the legacy name */
    fset(&f, "AWS_CREDENTIAL_EXPIRATION", "2020-11-05T02:02:26Z");
    CHECK_EQ_INT(awsconf_static_credentials(&e, &p, &c), AWSCONF_OK);
    CHECK_EQ_STR(c.session_token, "modern");
    CHECK_EQ_INT(c.expiration, 1604541746);
    /* half a key pair is an error, not a silent fall-through to the files */
    fset(&f, "AWS_SECRET_ACCESS_KEY", "");
    CHECK_EQ_INT(awsconf_static_credentials(&e, &p, &c), AWSCONF_EINVAL);
}

static void test_profile_files(void) {
    fake_env f = {0};
    awsconf_env e = {fake_getenv, &f};
    setup_files(&f);
    aws_profile p;
    aws_credentials c;
    char region[64];

    CHECK_EQ_STR(awsconf_profile_name(&e), "default");
    CHECK_EQ_INT(awsconf_load_profile(&e, NULL, &p), AWSCONF_OK);
    CHECK_EQ_INT(p.found, 1);
    CHECK_EQ_INT(awsconf_static_credentials(&e, &p, &c), AWSCONF_OK);
    CHECK_EQ_STR(c.access_key_id, "AKIADEFAULT");
    CHECK_EQ_STR(c.secret_access_key, "default/secret+key");
    CHECK_EQ_STR(c.session_token, "");
    CHECK_EQ_STR(c.source, "profile default");
    CHECK_EQ_INT(awsconf_region(&e, &p, region, sizeof region), AWSCONF_OK);
    CHECK_EQ_STR(region, "eu-west-1");

    /* AWS_PROFILE wins over AWS_DEFAULT_PROFILE; credentials file overrides config */
    fset(&f, "AWS_DEFAULT_PROFILE", "partial");
    fset(&f, "AWS_PROFILE", "work");
    CHECK_EQ_STR(awsconf_profile_name(&e), "work");
    CHECK_EQ_INT(awsconf_load_profile(&e, NULL, &p), AWSCONF_OK);
    CHECK_EQ_INT(awsconf_static_credentials(&e, &p, &c), AWSCONF_OK);
    CHECK_EQ_STR(c.access_key_id, "AKIACREDWORK");
    CHECK_EQ_STR(c.secret_access_key, "cred-secret ; not a comment");
    CHECK_EQ_STR(c.session_token, "legacy-token");
    CHECK_EQ_INT(awsconf_region(&e, &p, region, sizeof region), AWSCONF_OK);
    CHECK_EQ_STR(region, "ap-southeast-2");
    fset(&f, "AWS_DEFAULT_REGION", "us-west-2");
    CHECK_EQ_INT(awsconf_region(&e, &p, region, sizeof region), AWSCONF_OK);
    CHECK_EQ_STR(region, "us-west-2");
    fset(&f, "AWS_REGION", "eu-central-1");
    CHECK_EQ_INT(awsconf_region(&e, &p, region, sizeof region), AWSCONF_OK);
    CHECK_EQ_STR(region, "eu-central-1");
    fset(&f, "AWS_REGION", "eu-central-1.evil.com/");
    CHECK_EQ_INT(awsconf_region(&e, &p, region, sizeof region), AWSCONF_EINVAL);

    fset(&f, "AWS_PROFILE", "");
    CHECK_EQ_STR(awsconf_profile_name(&e), "partial");
    CHECK_EQ_INT(awsconf_load_profile(&e, NULL, &p), AWSCONF_OK);
    CHECK_EQ_INT(awsconf_static_credentials(&e, &p, &c), AWSCONF_EINVAL);

    CHECK_EQ_INT(awsconf_load_profile(&e, "nosuch", &p), AWSCONF_OK);
    CHECK_EQ_INT(p.found, 0);
    CHECK_EQ_INT(awsconf_static_credentials(&e, &p, &c), AWSCONF_ENOTFOUND);

    /* files named in the environment, "~/" expanded; missing files are not fatal */
    write_file("other-creds", "[default]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = s\n");
    fset(&f, "AWS_SHARED_CREDENTIALS_FILE", "~/other-creds");
    fset(&f, "AWS_CONFIG_FILE", "/nonexistent/config");
    CHECK_EQ_INT(awsconf_load_profile(&e, "default", &p), AWSCONF_OK);
    CHECK_EQ_INT(awsconf_static_credentials(&e, &p, &c), AWSCONF_OK);
    CHECK_EQ_STR(c.access_key_id, "AKIAOTHER");
    CHECK_EQ_STR(p.region, "");

    /* nothing anywhere */
    fake_env empty = {0};
    awsconf_env e2 = {fake_getenv, &empty};
    CHECK_EQ_INT(awsconf_load_profile(&e2, NULL, &p), AWSCONF_OK);
    CHECK_EQ_INT(awsconf_static_credentials(&e2, &p, &c), AWSCONF_ENOTFOUND);
    CHECK_EQ_INT(awsconf_region(&e2, &p, region, sizeof region), AWSCONF_ENOTFOUND);
}

static void test_oversized_secret_rejected(void) {
    fake_env f = {0};
    awsconf_env e = {fake_getenv, &f};
    static char longtok[AWSCONF_MAX_TOKEN + 50];
    memset(longtok, 'T', sizeof longtok - 1);
    fset(&f, "AWS_ACCESS_KEY_ID", "AKIA");
    fset(&f, "AWS_SECRET_ACCESS_KEY", "s");
    fset(&f, "AWS_SESSION_TOKEN", longtok);
    aws_credentials c;
    CHECK_EQ_INT(awsconf_static_credentials(&e, NULL, &c), AWSCONF_ETOOBIG);
    fset(&f, "AWS_SESSION_TOKEN", "tok\r\nX-Injected: 1");
    CHECK_EQ_INT(awsconf_static_credentials(&e, NULL, &c), AWSCONF_EINVAL);
}

static void test_endpoints(void) {
    fake_env f = {0};
    awsconf_env e = {fake_getenv, &f};
    setup_files(&f);
    char url[AWSCONF_MAX_URL + 1];
    CHECK_EQ_INT(awsconf_endpoint(&e, NULL, "sqs", "us-east-1", url, sizeof url), AWSCONF_OK);
    CHECK_EQ_STR(url, "https://sqs.us-east-1.amazonaws.com");
    CHECK_EQ_INT(awsconf_endpoint(&e, NULL, "s3", "eu-west-1", url, sizeof url), AWSCONF_OK);
    CHECK_EQ_STR(url, "https://s3.eu-west-1.amazonaws.com");
    CHECK_EQ_INT(awsconf_endpoint(&e, NULL, "cloudsearch", "cn-north-1", url, sizeof url), AWSCONF_OK);
    CHECK_EQ_STR(url, "https://cloudsearch.cn-north-1.amazonaws.com.cn");
    CHECK_EQ_INT(awsconf_endpoint(&e, NULL, "cloudsearch_domain", "us-east-1", url, sizeof url), AWSCONF_ENOTFOUND);
    CHECK_EQ_INT(awsconf_endpoint(&e, NULL, "es", "us-east-1", url, sizeof url), AWSCONF_ENOTFOUND);
    CHECK_EQ_INT(awsconf_endpoint(&e, NULL, "ftp", "us-east-1", url, sizeof url), AWSCONF_EINVAL);
    CHECK_EQ_INT(awsconf_endpoint(&e, NULL, "sqs", "us-east-1/../x", url, sizeof url), AWSCONF_EINVAL);

    /* profile [services] section, then profile endpoint_url */
    aws_profile p;
    CHECK_EQ_INT(awsconf_load_profile(&e, "work", &p), AWSCONF_OK);
    CHECK_EQ_STR(p.services, "local");
    CHECK_EQ_INT(awsconf_endpoint(&e, &p, "sqs", "us-east-1", url, sizeof url), AWSCONF_OK);
    CHECK_EQ_STR(url, "http://localhost:4566");
    CHECK_EQ_INT(awsconf_endpoint(&e, &p, "s3", "us-east-1", url, sizeof url), AWSCONF_OK);
    CHECK_EQ_STR(url, "https://s3.us-east-1.amazonaws.com");
    aws_profile pu;
    CHECK_EQ_INT(awsconf_load_profile(&e, "withurl", &pu), AWSCONF_OK);
    CHECK_EQ_INT(awsconf_endpoint(&e, &pu, "s3", "us-east-1", url, sizeof url), AWSCONF_OK);
    CHECK_EQ_STR(url, "http://profile-endpoint:1234");
    aws_profile pi;
    CHECK_EQ_INT(awsconf_load_profile(&e, "ignorer", &pi), AWSCONF_OK);
    CHECK_EQ_INT(awsconf_endpoint(&e, &pi, "s3", "us-east-1", url, sizeof url), AWSCONF_OK);
    CHECK_EQ_STR(url, "https://s3.us-east-1.amazonaws.com");

    /* environment: service-specific beats global beats the profile */
    fset(&f, "AWS_ENDPOINT_URL", "http://global:4566/");
    CHECK_EQ_INT(awsconf_endpoint(&e, &p, "sqs", "us-east-1", url, sizeof url), AWSCONF_OK);
    CHECK_EQ_STR(url, "http://global:4566");
    fset(&f, "AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9324");
    CHECK_EQ_INT(awsconf_endpoint(&e, &p, "sqs", "us-east-1", url, sizeof url), AWSCONF_OK);
    CHECK_EQ_STR(url, "http://127.0.0.1:9324");
    CHECK_EQ_INT(awsconf_endpoint(&e, &p, "cloudsearch_domain", "us-east-1", url, sizeof url), AWSCONF_OK);
    CHECK_EQ_STR(url, "http://global:4566");
    fset(&f, "AWS_ENDPOINT_URL_CLOUDSEARCH_DOMAIN", "https://doc-x.us-east-1.cloudsearch.amazonaws.com");
    CHECK_EQ_INT(awsconf_endpoint(&e, &p, "cloudsearch_domain", "us-east-1", url, sizeof url), AWSCONF_OK);
    CHECK_EQ_STR(url, "https://doc-x.us-east-1.cloudsearch.amazonaws.com");
    fset(&f, "AWS_ENDPOINT_URL_OPENSEARCH", "https://search-x.es.amazonaws.com");
    CHECK_EQ_INT(awsconf_endpoint(&e, &p, "es", "us-east-1", url, sizeof url), AWSCONF_OK);
    CHECK_EQ_STR(url, "https://search-x.es.amazonaws.com");
    fset(&f, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE");
    CHECK_EQ_INT(awsconf_endpoint(&e, &p, "sqs", "us-east-1", url, sizeof url), AWSCONF_OK);
    CHECK_EQ_STR(url, "https://sqs.us-east-1.amazonaws.com");
    fset(&f, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false");
    fset(&f, "AWS_ENDPOINT_URL_SQS", "localhost:9324");
    CHECK_EQ_INT(awsconf_endpoint(&e, &p, "sqs", "us-east-1", url, sizeof url), AWSCONF_EINVAL);
    char small[16];
    fset(&f, "AWS_ENDPOINT_URL_SQS", "http://a-rather-long-host:1");
    CHECK_EQ_INT(awsconf_endpoint(&e, &p, "sqs", "us-east-1", small, sizeof small), AWSCONF_ETOOBIG);
}

/* ---- credential documents ---- */

static void test_imds_and_ecs_documents(void) {
    const char *imds = "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2020-11-04T19:47:39Z\",\n"
                       "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIAEXAMPLE\",\n"
                       "  \"SecretAccessKey\" : \"sec\\/ret\",\n  \"Token\" : \"IQoJb3JpZ2luX2VjE\",\n"
                       "  \"Expiration\" : \"2020-11-05T02:02:26Z\"\n}";
    aws_credentials c;
    CHECK_EQ_INT(awsconf_parse_credentials_json(imds, strlen(imds), 1604519259, "imds", &c), AWSCONF_OK);
    CHECK_EQ_STR(c.access_key_id, "ASIAEXAMPLE");
    CHECK_EQ_STR(c.secret_access_key, "sec/ret");
    CHECK_EQ_STR(c.session_token, "IQoJb3JpZ2luX2VjE");
    CHECK_EQ_INT(c.expiration, 1604541746);
    CHECK_EQ_INT(c.obtained_at, 1604519259);
    CHECK_EQ_STR(c.source, "imds");

    const char *ecs = "{\"AccessKeyId\":\"ASIAECS\",\"Expiration\":\"2024-02-29T23:59:59.123+01:00\","
                      "\"RoleArn\":\"arn:aws:iam::1:role/r\",\"SecretAccessKey\":\"s\",\"Token\":\"t\"}";
    CHECK_EQ_INT(awsconf_parse_credentials_json(ecs, strlen(ecs), 0, "ecs", &c), AWSCONF_OK);
    CHECK_EQ_STR(c.access_key_id, "ASIAECS");
    CHECK_EQ_INT(c.expiration, 1709247599); /* 22:59:59Z */

    const char *failed = "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\","
                         "\"Token\":\"t\",\"Expiration\":\"2020-11-05T02:02:26Z\"}";
    CHECK_EQ_INT(awsconf_parse_credentials_json(failed, strlen(failed), 0, "imds", &c), AWSCONF_EINVAL);
    CHECK_EQ_STR(c.access_key_id, ""); /* nothing half-filled */
    const char *no_token = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Expiration\":\"2020-11-05T02:02:26Z\"}";
    CHECK_EQ_INT(awsconf_parse_credentials_json(no_token, strlen(no_token), 0, "ecs", &c), AWSCONF_EINVAL);
    const char *bad_time = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Token\":\"t\",\"Expiration\":\"soon\"}";
    CHECK_EQ_INT(awsconf_parse_credentials_json(bad_time, strlen(bad_time), 0, "ecs", &c), AWSCONF_EINVAL);
    const char *numeric =
        "{\"AccessKeyId\":1,\"SecretAccessKey\":\"s\",\"Token\":\"t\",\"Expiration\":\"2020-11-05T02:02:26Z\"}";
    CHECK_EQ_INT(awsconf_parse_credentials_json(numeric, strlen(numeric), 0, "ecs", &c), AWSCONF_EINVAL);
    const char *inject = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Token\":\"t\\r\\nX: y\","
                         "\"Expiration\":\"2020-11-05T02:02:26Z\"}";
    CHECK_EQ_INT(awsconf_parse_credentials_json(inject, strlen(inject), 0, "ecs", &c), AWSCONF_EINVAL);
    CHECK_EQ_INT(awsconf_parse_credentials_json("[1,2]", 5, 0, "ecs", &c), AWSCONF_EINVAL);
    CHECK_EQ_INT(awsconf_parse_credentials_json("{\"AccessKeyId\":", 15, 0, "ecs", &c), AWSCONF_EINVAL);
    /* a key id longer than the limit is an error, not a truncated key */
    static char big[600];
    snprintf(big, sizeof big,
             "{\"AccessKeyId\":\"%0200d\",\"SecretAccessKey\":\"s\",\"Token\":\"t\","
             "\"Expiration\":\"2020-11-05T02:02:26Z\"}",
             7);
    CHECK_EQ_INT(awsconf_parse_credentials_json(big, strlen(big), 0, "ecs", &c), AWSCONF_ETOOBIG);
}

static void test_refresh_decision(void) {
    aws_credentials c;
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(awsconf_needs_refresh(&c, 0), 1); /* no keys yet */
    strcpy(c.access_key_id, "AKIA");
    CHECK_EQ_INT(awsconf_refresh_at(&c), 0); /* static keys never expire */
    CHECK_EQ_INT(awsconf_needs_refresh(&c, 4000000000LL), 0);
    /* 6 h IMDS credentials: 10% (36 min) beats 5 min */
    c.obtained_at = 1000000;
    c.expiration = 1000000 + 6 * 3600;
    CHECK_EQ_INT(awsconf_refresh_at(&c), c.expiration - 2160);
    CHECK_EQ_INT(awsconf_needs_refresh(&c, c.expiration - 2161), 0);
    CHECK_EQ_INT(awsconf_needs_refresh(&c, c.expiration - 2160), 1);
    /* 15 min credentials: the 5 minute floor applies */
    c.expiration = c.obtained_at + 900;
    CHECK_EQ_INT(awsconf_refresh_at(&c), c.expiration - 300);
    /* unknown fetch time: 5 minutes */
    c.obtained_at = 0;
    CHECK_EQ_INT(awsconf_refresh_at(&c), c.expiration - 300);
    CHECK_EQ_INT(awsconf_needs_refresh(&c, c.expiration + 1), 1);
}

static void test_describe_never_leaks(void) {
    aws_credentials c;
    memset(&c, 0, sizeof c);
    strcpy(c.access_key_id, "ASIAEXAMPLE");
    strcpy(c.secret_access_key, "TOPSECRETVALUE");
    strcpy(c.session_token, "SESSIONTOKENVALUE");
    strcpy(c.source, "imds");
    c.expiration = 1604541746;
    char buf[256];
    awsconf_describe_credentials(&c, buf, sizeof buf);
    CHECK_EQ_STR(buf, "key id ASIAEXAMPLE from imds, session token, expires 2020-11-05T02:02:26Z");
    CHECK(strstr(buf, "TOPSECRET") == NULL && strstr(buf, "SESSIONTOKEN") == NULL);
    char tiny[8];
    awsconf_describe_credentials(&c, tiny, sizeof tiny);
    CHECK_EQ_STR(tiny, "key id ");
}

static void test_fetch_targets(void) {
    fake_env f = {0};
    awsconf_env e = {fake_getenv, &f};
    awsconf_http_target t;
    char base[128];
    CHECK_EQ_INT(awsconf_ecs_target(&e, &t), AWSCONF_ENOTFOUND);
    CHECK_EQ_INT(awsconf_imds_base(&e, base, sizeof base), AWSCONF_OK);
    CHECK_EQ_STR(base, "http://169.254.169.254");
    fset(&f, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6");
    CHECK_EQ_INT(awsconf_imds_base(&e, base, sizeof base), AWSCONF_OK);
    CHECK_EQ_STR(base, "http://[fd00:ec2::254]");
    fset(&f, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:5000/");
    CHECK_EQ_INT(awsconf_imds_base(&e, base, sizeof base), AWSCONF_OK);
    CHECK_EQ_STR(base, "http://127.0.0.1:5000");
    fset(&f, "AWS_EC2_METADATA_DISABLED", "true");
    CHECK_EQ_INT(awsconf_imds_base(&e, base, sizeof base), AWSCONF_ENOTFOUND);

    fset(&f, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc");
    CHECK_EQ_INT(awsconf_ecs_target(&e, &t), AWSCONF_OK);
    CHECK_EQ_STR(t.url, "http://169.254.170.2/v2/credentials/abc");
    CHECK_EQ_STR(t.authorization, "");
    fset(&f, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "");
    fset(&f, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials");
    fset(&f, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok123");
    CHECK_EQ_INT(awsconf_ecs_target(&e, &t), AWSCONF_OK);
    CHECK_EQ_STR(t.url, "http://169.254.170.23/v1/credentials");
    CHECK_EQ_STR(t.authorization, "tok123");
    write_file("ecs-token", "file-token\n");
    char path[300];
    snprintf(path, sizeof path, "%s/ecs-token", tmpdir);
    fset(&f, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path);
    CHECK_EQ_INT(awsconf_ecs_target(&e, &t), AWSCONF_OK);
    CHECK_EQ_STR(t.authorization, "file-token");
    fset(&f, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "");
    fset(&f, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "a\r\nX-Evil: 1");
    CHECK_EQ_INT(awsconf_ecs_target(&e, &t), AWSCONF_EINVAL);
    fset(&f, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "");
    fset(&f, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://attacker.example.com/creds");
    CHECK_EQ_INT(awsconf_ecs_target(&e, &t), AWSCONF_EINVAL);
    fset(&f, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:8080/creds");
    CHECK_EQ_INT(awsconf_ecs_target(&e, &t), AWSCONF_OK);
    fset(&f, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "https://creds.example.com/x");
    CHECK_EQ_INT(awsconf_ecs_target(&e, &t), AWSCONF_OK);
}

static void remove_tree(void) {
    const char *files[] = {".aws/config", ".aws/credentials", "other-creds", "ecs-token"};
    char path[512];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/.aws", tmpdir);
    rmdir(path);
    rmdir(tmpdir);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_awsconf.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_ini_parse);
    RUN(test_env_credentials_first);
    RUN(test_profile_files);
    RUN(test_oversized_secret_rejected);
    RUN(test_endpoints);
    RUN(test_imds_and_ecs_documents);
    RUN(test_refresh_decision);
    RUN(test_describe_never_leaks);
    RUN(test_fetch_targets);
    remove_tree();
    TEST_MAIN_END();
}
