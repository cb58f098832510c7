/* Amazon SQS client, AWS JSON 1.0 protocol, on the signed-request layer (aws.h).
 *
 * Every call is a POST to the SQS endpoint (aws_ctx_endpoint "sqs"), never to the queue's own
 * path: the QueueUrl travels in the JSON body. Headers: Content-Type application/x-amz-json-1.0
 * and X-Amz-Target AmazonSQS.<Operation>; SigV4 service "sqs".
 *
 * Errors: code from "__type" after the last '#' (and before any ':'), message from "message" or
 * "Message"; the legacy code from the x-amzn-query-error header; an XML (Query-style) error body
 * is understood too. Batch calls report every entry: "Failed" is checked even on HTTP 200, and an
 * entry the answer does not mention counts as failed. */
#ifndef CTINDEX_SQS_H
#define CTINDEX_SQS_H

#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"
#include "base/json.h"

#define SQS_MAX_BATCH 10
#define SQS_MAX_RECEIVE 10
#define SQS_MAX_WAIT_S 20
#define SQS_MAX_VISIBILITY_S 43200
#define SQS_MAX_MESSAGE (1u << 20) /* 1 MiB, SQS's largest MaximumMessageSize */
/* A receive answer: 10 bodies of 1 MiB, JSON-escaped (\uXXXX can triple 4-byte UTF-8), plus handles. */
#define SQS_MAX_RECEIVE_BODY (10u * 3u * SQS_MAX_MESSAGE + (1u << 20))
#define SQS_MAX_ANSWER_BODY (1u << 20) /* answers of the other calls */

typedef struct sqs_call sqs_call;

typedef struct sqs_result {
    int ok; /* 2xx and the answer parsed */
    int status;
    http_result result;
    char code[128]; /* "QueueDoesNotExist", "SignatureDoesNotMatch", "BadResponse", "Cancelled"... */
    char message[512];
    char query_error[128]; /* x-amzn-query-error: "AWS.SimpleQueueService.NonExistentQueue;Sender" */
    int attempts;
} sqs_result;

typedef struct sqs_message {
    const char *message_id;
    const char *receipt_handle;
    const char *body; /* decoded; NUL-terminated, body_len excludes the NUL */
    size_t body_len;
    int receive_count;      /* ApproximateReceiveCount, 0 if absent */
    int64_t sent_timestamp; /* SentTimestamp, epoch milliseconds, 0 if absent */
} sqs_message;

/* Per-entry outcome of a batch call, in the order the entries were given. */
typedef struct sqs_entry_result {
    int ok;
    int sender_fault;
    char code[64]; /* "ReceiptHandleIsInvalid", "MissingFromAnswer", ... */
    char message[256];
    char message_id[128]; /* send_batch: MessageId of a sent entry */
} sqs_entry_result;

/* All pointers valid during the callback only; msgs/entries NULL when !r->ok. */
typedef void (*sqs_receive_fn)(void *ud, const sqs_result *r, const sqs_message *msgs, int n);
typedef void (*sqs_batch_fn)(void *ud, const sqs_result *r, const sqs_entry_result *entries, int n);
/* value: MessageId (send) or QueueUrl (get_queue_url); NULL when !r->ok. */
typedef void (*sqs_value_fn)(void *ud, const sqs_result *r, const char *value);

/* ReceiveMessage: max 1..10, wait_s 0..20 (long poll), visibility_s < 0 for the queue's default.
 * Asks for ApproximateReceiveCount and SentTimestamp. The per-attempt timeout is wait_s + 15 s. */
sqs_call *sqs_receive(aws_ctx *aws, const char *queue_url, int max, int wait_s, int visibility_s, sqs_receive_fn cb,
                      void *ud);
/* DeleteMessageBatch of n (1..10) receipt handles; entry i is answered in entries[i]. */
sqs_call *sqs_delete_batch(aws_ctx *aws, const char *queue_url, const char *const *handles, int n, sqs_batch_fn cb,
                           void *ud);
/* ChangeMessageVisibilityBatch: every handle gets timeout_s (0..43200). */
sqs_call *sqs_change_visibility_batch(aws_ctx *aws, const char *queue_url, const char *const *handles, int n,
                                      int timeout_s, sqs_batch_fn cb, void *ud);
/* SendMessage. The body must be valid UTF-8 of the characters SQS allows (the XML 1.0 set):
 * anything else is refused (NULL), never altered. */
sqs_call *sqs_send(aws_ctx *aws, const char *queue_url, const char *body, size_t len, sqs_value_fn cb, void *ud);
/* SendMessageBatch of n (1..10) bodies; entries[i].message_id for those sent. */
sqs_call *sqs_send_batch(aws_ctx *aws, const char *queue_url, const char *const *bodies, const size_t *lens, int n,
                         sqs_batch_fn cb, void *ud);
/* GetQueueUrl for a queue name. */
sqs_call *sqs_get_queue_url(aws_ctx *aws, const char *name, sqs_value_fn cb, void *ud);

/* Stop a call: its callback follows, from the loop, with code "Cancelled". No callback of this
 * module runs inside the call that started it or inside this one. */
void sqs_call_cancel(sqs_call *c);

/* The queue's redrive policy: after max_receive_count receives a message goes to dlq_arn. */
#define SQS_REDRIVE_MAX 2048
typedef struct sqs_redrive {
    int max_receive_count; /* 0: the queue has no redrive policy (or it could not be read) */
    char dlq_arn[512];
} sqs_redrive;
typedef void (*sqs_redrive_fn)(void *ud, const sqs_result *r, const sqs_redrive *policy);

/* GetQueueAttributes for RedrivePolicy. policy is filled (max_receive_count 0 without a policy)
 * when r->ok. */
sqs_call *sqs_get_redrive(aws_ctx *aws, const char *queue_url, sqs_redrive_fn cb, void *ud);

/* ---- pure helpers (exposed for tests) ---- */

/* Error of an answer (JSON or XML body, optional x-amzn-query-error header value). Fields not
 * found stay "". Returns 0 when a code was found. */
int sqs_parse_error(const char *body, size_t len, const char *query_error_header, char *code, size_t code_cap,
                    char *message, size_t message_cap);

/* ReceiveMessage answer. Strings are decoded into arena (size it at least len + 4 per message);
 * msgs has room for max. Returns the number of messages (0 for "{}"), or -1 with why filled. */
int sqs_parse_receive(json_doc *doc, const char *js, size_t len, char *arena, size_t arena_cap, sqs_message *msgs,
                      int max, char *why, size_t why_cap);

/* Batch answer {"Successful":[{"Id":"eN",...}],"Failed":[{"Id":"eN","SenderFault":..,"Code":..,"Message":..}]}
 * for entries named e0..e(n-1). Fills out[0..n). Returns 0, or -1 with why when not understood. */
int sqs_parse_batch(json_doc *doc, const char *js, size_t len, sqs_entry_result *out, int n, char *why, size_t why_cap);

/* A value of a one-field answer ({"MessageId":..} / {"QueueUrl":..}) decoded into out. */
int sqs_parse_value(json_doc *doc, const char *js, size_t len, const char *field, char *out, size_t cap);

/* GetQueueAttributes answer {"Attributes":{"RedrivePolicy":"{\"deadLetterTargetArn\":..,
 * \"maxReceiveCount\":N}"}} (N a number or a numeric string, 1..1000). 0 with out filled, 1 when the
 * queue has no redrive policy, -1 when the answer is not understood. */
int sqs_parse_redrive(json_doc *doc, const char *js, size_t len, sqs_redrive *out);

#endif
