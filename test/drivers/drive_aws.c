/* Command-line driver for the S3 and SQS clients, used by test/e2e/test_aws_moto.py.
 *
 *   get BUCKET KEY OUT          object to file OUT ("-": stdout), pausing the stream now and then
 *   getcancel BUCKET KEY OUT    the same, cancelled from inside the first data callback
 *   list BUCKET PREFIX [MAX_KEYS [DELIMITER [START_AFTER]]]   every page, following tokens
 *   receive QUEUE_URL N [WAIT [VISIBILITY]]
 *   delete QUEUE_URL HANDLE...
 *   visibility QUEUE_URL SECS HANDLE...
 *   send QUEUE_URL BODY|@FILE
 *   sendbatch QUEUE_URL BODY...
 *   queueurl NAME
 *   creds                       resolve the credential chain
 *
 * Configuration comes from the environment (keys, region, AWS_ENDPOINT_URL*, IMDS...).
 * Output: one JSON object per line on stdout (for get: on stderr when OUT is "-").
 * Exit 0 on success, 2 when the call failed ({"error":...} printed), 1 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "aws/aws.h"
#include "aws/s3.h"
#include "aws/sqs.h"
#include "base/jsonw.h"
#include "base/log.h"

static uv_loop_t loop;
static aws_ctx *aws;
static int exit_code = 0;
static FILE *report; /* where JSON lines go */

/* Print s as a JSON string (with quotes). */
static void pstr(const char *s, size_t n) {
    char *tmp = malloc(2 * n + 1);
    if (!tmp) exit(3);
    long w = jsonw_escape(s, n, tmp, 2 * n + 1, JSONW_NO_LIMIT, 0, NULL);
    fprintf(report, "\"%.*s\"", (int)(w < 0 ? 0 : w), tmp);
    free(tmp);
}

static void print_error(int status, http_result result, const char *code, const char *message, int attempts,
                        const char *extra_name, const char *extra) {
    fprintf(report, "{\"error\":{\"status\":%d,\"result\":", status);
    pstr(http_result_name(result), strlen(http_result_name(result)));
    fprintf(report, ",\"code\":");
    pstr(code, strlen(code));
    fprintf(report, ",\"message\":");
    pstr(message, strlen(message));
    fprintf(report, ",\"attempts\":%d", attempts);
    if (extra_name) {
        fprintf(report, ",\"%s\":", extra_name);
        pstr(extra, strlen(extra));
    }
    fprintf(report, "}}\n");
    exit_code = 2;
}

/* ---- get ---- */

static struct {
    s3_call *call;
    FILE *out;
    uv_timer_t resume;
    unsigned chunks, pauses;
    int paused;
    int cancel; /* getcancel */
} get;

static void get_resume(uv_timer_t *t) {
    (void)t;
    s3_call_resume(get.call);
}

static int get_data(void *ud, const char *p, size_t n) {
    (void)ud;
    /* Every 4th chunk is refused once (HTTP_PAUSE) and taken after a 2 ms pause: the client
     * must deliver the very same bytes again after the resume. */
    if (!get.paused && ++get.chunks % 4 == 0) {
        get.paused = 1;
        get.pauses++;
        uv_timer_start(&get.resume, get_resume, 2, 0);
        return HTTP_PAUSE;
    }
    get.paused = 0;
    if (fwrite(p, 1, n, get.out) != n) return -1;
    if (get.cancel) s3_call_cancel(get.call);
    return 0;
}

static void get_done(void *ud, const s3_result *r) {
    (void)ud;
    uv_close((uv_handle_t *)&get.resume, NULL);
    if (get.out != stdout) fclose(get.out);
    else fflush(stdout);
    if (!r->ok) {
        print_error(r->status, r->result, r->code, r->message, r->attempts, "bucket_region", r->bucket_region);
        fprintf(report, "{\"get_failed\":{\"bytes\":%llu}}\n", (unsigned long long)r->bytes);
        return;
    }
    fprintf(report,
            "{\"get\":{\"bytes\":%llu,\"pauses\":%u,\"attempts\":%d,\"bucket_region\":", (unsigned long long)r->bytes,
            get.pauses, r->attempts);
    pstr(r->bucket_region, strlen(r->bucket_region));
    fprintf(report, "}}\n");
}

static int cmd_get(int argc, char **argv) {
    if (argc != 5) return -1;
    if (strcmp(argv[4], "-") == 0) {
        get.out = stdout;
        report = stderr;
    } else if (!(get.out = fopen(argv[4], "wb"))) {
        perror(argv[4]);
        return -1;
    }
    uv_timer_init(&loop, &get.resume);
    get.call = s3_get(aws, argv[2], argv[3], get_data, get_done, NULL);
    if (!get.call) {
        uv_close((uv_handle_t *)&get.resume, NULL);
        print_error(0, HTTP_ERR_OTHER, "NotStarted", "s3_get refused the request", 0, NULL, NULL);
    }
    return 0;
}

/* ---- list ---- */

static struct {
    const char *bucket, *prefix, *delimiter;
    int max_keys, pages;
    unsigned long long objects;
} lst;

static void list_page(void *ud, const s3_result *r, const s3_list_page *page) {
    (void)ud;
    if (!r->ok) {
        print_error(r->status, r->result, r->code, r->message, r->attempts, "bucket_region", r->bucket_region);
        return;
    }
    lst.pages++;
    for (size_t i = 0; i < page->nobjects; i++) {
        const s3_object_info *o = &page->objects[i];
        fprintf(report, "{\"key\":");
        pstr(o->key, o->key_len);
        fprintf(report, ",\"size\":%llu,\"mtime\":%lld,\"etag\":", (unsigned long long)o->size,
                (long long)o->last_modified);
        pstr(o->etag, strlen(o->etag));
        fprintf(report, "}\n");
    }
    for (size_t i = 0; i < page->nprefixes; i++) {
        fprintf(report, "{\"prefix\":");
        pstr(page->prefixes[i], strlen(page->prefixes[i]));
        fprintf(report, "}\n");
    }
    lst.objects += page->nobjects;
    if (page->truncated) {
        /* The token lives only during this callback: s3_list copies it into the next request. */
        if (!s3_list(aws, lst.bucket, lst.prefix, NULL, page->next_token, lst.delimiter, lst.max_keys, list_page, NULL))
            print_error(0, HTTP_ERR_OTHER, "NotStarted", "s3_list refused the next page", 0, NULL, NULL);
        return;
    }
    fprintf(report, "{\"list\":{\"pages\":%d,\"objects\":%llu}}\n", lst.pages, lst.objects);
}

static int cmd_list(int argc, char **argv) {
    if (argc < 4 || argc > 7) return -1;
    lst.bucket = argv[2];
    lst.prefix = argv[3];
    lst.max_keys = argc > 4 ? atoi(argv[4]) : 0;
    lst.delimiter = argc > 5 ? argv[5] : NULL;
    const char *start_after = argc > 6 ? argv[6] : NULL;
    if (!s3_list(aws, lst.bucket, lst.prefix, start_after, NULL, lst.delimiter, lst.max_keys, list_page, NULL))
        print_error(0, HTTP_ERR_OTHER, "NotStarted", "s3_list refused the request", 0, NULL, NULL);
    return 0;
}

/* ---- sqs ---- */

static void receive_done(void *ud, const sqs_result *r, const sqs_message *m, int n) {
    (void)ud;
    if (!r->ok) {
        print_error(r->status, r->result, r->code, r->message, r->attempts, "query_error", r->query_error);
        return;
    }
    for (int i = 0; i < n; i++) {
        fprintf(report, "{\"id\":");
        pstr(m[i].message_id, strlen(m[i].message_id));
        fprintf(report, ",\"handle\":");
        pstr(m[i].receipt_handle, strlen(m[i].receipt_handle));
        fprintf(report, ",\"body\":");
        pstr(m[i].body, m[i].body_len);
        fprintf(report, ",\"body_len\":%zu,\"count\":%d,\"sent\":%lld}\n", m[i].body_len, m[i].receive_count,
                (long long)m[i].sent_timestamp);
    }
    fprintf(report, "{\"received\":%d}\n", n);
}

static void batch_done(void *ud, const sqs_result *r, const sqs_entry_result *e, int n) {
    (void)ud;
    if (!r->ok) {
        print_error(r->status, r->result, r->code, r->message, r->attempts, "query_error", r->query_error);
        return;
    }
    for (int i = 0; i < n; i++) {
        fprintf(report, "{\"entry\":%d,\"ok\":%s,\"sender_fault\":%s,\"code\":", i, e[i].ok ? "true" : "false",
                e[i].sender_fault ? "true" : "false");
        pstr(e[i].code, strlen(e[i].code));
        fprintf(report, ",\"message_id\":");
        pstr(e[i].message_id, strlen(e[i].message_id));
        fprintf(report, "}\n");
    }
    fprintf(report, "{\"batch\":%d}\n", n);
}

static void value_done(void *ud, const sqs_result *r, const char *value) {
    const char *name = ud;
    if (!r->ok) {
        print_error(r->status, r->result, r->code, r->message, r->attempts, "query_error", r->query_error);
        return;
    }
    fprintf(report, "{\"%s\":", name);
    pstr(value, strlen(value));
    fprintf(report, "}\n");
}

static void not_started(const void *call, const char *what) {
    if (!call) print_error(0, HTTP_ERR_OTHER, "NotStarted", what, 0, NULL, NULL);
}

static int cmd_sqs(int argc, char **argv) {
    const char *cmd = argv[1];
    if (strcmp(cmd, "receive") == 0 && argc >= 4 && argc <= 6) {
        int wait = argc > 4 ? atoi(argv[4]) : 0, vis = argc > 5 ? atoi(argv[5]) : -1;
        not_started(sqs_receive(aws, argv[2], atoi(argv[3]), wait, vis, receive_done, NULL), "sqs_receive refused");
    } else if (strcmp(cmd, "delete") == 0 && argc >= 4) {
        not_started(sqs_delete_batch(aws, argv[2], (const char *const *)argv + 3, argc - 3, batch_done, NULL),
                    "sqs_delete_batch refused");
    } else if (strcmp(cmd, "visibility") == 0 && argc >= 5) {
        not_started(sqs_change_visibility_batch(aws, argv[2], (const char *const *)argv + 4, argc - 4, atoi(argv[3]),
                                                batch_done, NULL),
                    "sqs_change_visibility_batch refused");
    } else if (strcmp(cmd, "send") == 0 && argc == 4) {
        /* "@FILE": the body is the file's content (command-line arguments stop at 128 KiB) */
        static char filebody[2 * SQS_MAX_MESSAGE];
        const char *body = argv[3];
        size_t len = strlen(body);
        if (body[0] == '@') {
            FILE *f = fopen(body + 1, "rb");
            if (!f) return -1;
            len = fread(filebody, 1, sizeof filebody, f);
            fclose(f);
            body = filebody;
        }
        not_started(sqs_send(aws, argv[2], body, len, value_done, "message_id"), "sqs_send refused");
    } else if (strcmp(cmd, "sendbatch") == 0 && argc >= 4) {
        size_t lens[SQS_MAX_BATCH];
        int n = argc - 3;
        for (int i = 0; i < n && i < SQS_MAX_BATCH; i++) lens[i] = strlen(argv[3 + i]);
        not_started(n <= SQS_MAX_BATCH
                        ? sqs_send_batch(aws, argv[2], (const char *const *)argv + 3, lens, n, batch_done, NULL)
                        : NULL,
                    "sqs_send_batch refused");
    } else if (strcmp(cmd, "queueurl") == 0 && argc == 3) {
        not_started(sqs_get_queue_url(aws, argv[2], value_done, "queue_url"), "sqs_get_queue_url refused");
    } else {
        return -1;
    }
    return 0;
}

/* ---- creds ---- */

static void creds_done(void *ud, int ok) {
    (void)ud;
    aws_stats st;
    aws_ctx_stats(aws, &st);
    fprintf(report, "{\"creds\":{\"ok\":%s,\"fetches\":%llu,\"region\":", ok ? "true" : "false",
            (unsigned long long)st.credential_fetches);
    pstr(aws_ctx_region(aws), strlen(aws_ctx_region(aws)));
    fprintf(report, "}}\n");
    if (!ok) exit_code = 2;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: drive_aws COMMAND ARGS... (see the comment at the top of test/drivers/drive_aws.c)\n");
        return 1;
    }
    report = stdout;
    const char *lv = getenv("CTINDEX_LOG_LEVEL");
    log_set_level(lv && strcmp(lv, "debug") == 0 ? LOG_DEBUG : LOG_WARN);
    uv_loop_init(&loop);
    http_client *http = http_client_new(&loop, NULL);
    if (!http || !(aws = aws_ctx_new(&loop, http, NULL))) return 3;

    const char *cmd = argv[1];
    int rc;
    if (strcmp(cmd, "get") == 0) rc = cmd_get(argc, argv);
    else if (strcmp(cmd, "getcancel") == 0) {
        get.cancel = 1;
        rc = cmd_get(argc, argv);
    } else if (strcmp(cmd, "list") == 0) rc = cmd_list(argc, argv);
    else if (strcmp(cmd, "creds") == 0) {
        rc = aws_ctx_resolve_credentials(aws, creds_done, NULL) == 0 ? 0 : 1;
    } else rc = cmd_sqs(argc, argv);
    if (rc != 0) {
        fprintf(stderr, "usage: see the comment at the top of drive_aws.c\n");
        exit_code = 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    aws_ctx_free(aws);
    http_client_close(http);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    fflush(report);
    return exit_code;
}
