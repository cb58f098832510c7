#include "sources/service_metrics.h"

#include <stdio.h>

#include "base/prom.h"

/* One family with one sample. */
static void one(prom_writer *w, const char *type, const char *name, const char *help, const char *labels, uint64_t v) {
    prom_family(w, name, type, help);
    prom_uint(w, name, labels, v);
}

static void counter(prom_writer *w, const char *name, const char *help, uint64_t v) {
    one(w, "counter", name, help, NULL, v);
}

static void gauge(prom_writer *w, const char *name, const char *help, int64_t v) {
    prom_family(w, name, "gauge", help);
    prom_double(w, name, NULL, (double)v);
}

static void queue_metrics(prom_writer *w, const service_metrics_view *v) {
    const service_stats *s = v->svc;
    counter(w, "ctindex_sqs_receives_total", "ReceiveMessage calls answered (failed ones included).", s->receives);
    counter(w, "ctindex_sqs_receive_errors_total", "ReceiveMessage calls that failed.", s->receive_errors);
    counter(w, "ctindex_sqs_messages_received_total", "Messages received, redeliveries included.", s->messages);
    counter(w, "ctindex_sqs_messages_deleted_total",
            "Messages deleted (DeleteMessageBatch confirmed) after every record they name was stored.",
            s->messages_deleted);
    prom_family(w, "ctindex_sqs_messages_given_back_total", "counter",
                "Messages made visible again instead of deleted, by cause: retry (an object failed: back after "
                "--retry-visibility), not_understood (a body that is no notification, left for the redrive "
                "policy), stopping (released unfinished at shutdown).");
    prom_uint(w, "ctindex_sqs_messages_given_back_total", "cause=\"retry\"", s->messages_retried);
    prom_uint(w, "ctindex_sqs_messages_given_back_total", "cause=\"not_understood\"", s->messages_bad);
    prom_uint(w, "ctindex_sqs_messages_given_back_total", "cause=\"stopping\"", s->messages_released);
    counter(w, "ctindex_sqs_messages_dead_lettered_total",
            "Messages given back on their last receive before the queue's redrive policy moves them to its "
            "dead-letter queue (receive count at maxReceiveCount; counted when the policy could be read).",
            s->messages_dead_lettered);
    counter(w, "ctindex_sqs_messages_ignored_total",
            "Messages deleted without work: S3 test events, CloudTrail validation messages.", s->messages_ignored);
    counter(w, "ctindex_sqs_messages_redelivered_total", "Messages received with a receive count above 1.",
            s->redelivered);
    counter(w, "ctindex_sqs_visibility_extensions_total",
            "Visibility extensions of messages in progress (ChangeMessageVisibilityBatch entries).",
            s->visibility_extensions);
    counter(w, "ctindex_sqs_delete_errors_total", "Message deletes that failed (the message comes back).",
            s->delete_errors);
    counter(w, "ctindex_sqs_visibility_errors_total", "Visibility changes that failed.", s->visibility_errors);
    gauge(w, "ctindex_sqs_messages_in_flight", "Messages received and not yet deleted or given back.",
          v->messages_in_flight);
    prom_family(w, "ctindex_sqs_oldest_message_age_seconds", "gauge",
                "Age of the oldest message held, since it was sent to the queue (queue lag); 0 when none is held.");
    prom_double(w, "ctindex_sqs_oldest_message_age_seconds", NULL, v->oldest_message_age_s);
    gauge(w, "ctindex_receiving",
          "1 while messages are received; 0 while receiving is paused (the sink cannot take documents) or the "
          "service stops.",
          v->receiving);
}

static void object_metrics(prom_writer *w, const service_metrics_view *v) {
    const service_stats *s = v->svc;
    counter(w, "ctindex_objects_read_total", "S3 objects read whole (refused and empty ones included).",
            s->objects_done);
    counter(w, "ctindex_objects_failed_total", "S3 objects that could not be read or stored (retried).",
            s->objects_failed);
    counter(w, "ctindex_objects_skipped_total", "Named objects not read: CloudTrail digests, folder markers.",
            s->objects_skipped);
    counter(w, "ctindex_objects_refused_total", "Objects of none of the accepted shapes, in the dead-letter file.",
            s->objects_refused);
    counter(w, "ctindex_s3_read_bytes_total", "Bytes downloaded from S3 (as stored, compressed).", s->bytes_in);
    counter(w, "ctindex_json_read_bytes_total", "Bytes of JSON after inflating.", s->bytes_json);
    gauge(w, "ctindex_objects_in_flight", "Objects started, or waiting for a download slot, and not yet done.",
          v->objects_in_flight);
    gauge(w, "ctindex_downloads_in_flight", "Downloads whose bytes are still coming.", v->downloads_in_flight);
}

static void record_metrics(prom_writer *w, const service_metrics_view *v) {
    const indexer_stats *ix = v->ix;
    counter(w, "ctindex_records_read_total", "Records read from objects.", ix->records);
    counter(w, "ctindex_records_indexed_total", "Documents the sink stored.", v->sink->docs_accepted);
    prom_family(w, "ctindex_records_dead_lettered_total", "counter",
                "Records kept in the dead-letter file instead of the index, by cause: unusable (not a record, "
                "too large, broken), refused (the sink refused the document).");
    prom_uint(w, "ctindex_records_dead_lettered_total", "cause=\"unusable\"", ix->bad_records);
    prom_uint(w, "ctindex_records_dead_lettered_total", "cause=\"refused\"", v->sink->dead_lettered);
    counter(w, "ctindex_records_trimmed_total", "Documents trimmed to fit the sink's document size limit.",
            ix->trimmed);
    counter(w, "ctindex_records_not_stored_total",
            "Records whose batch the sink did not store (their message comes back).", v->svc->records_failed);
    counter(w, "ctindex_invalid_characters_removed_total",
            "Invalid UTF-8 bytes and characters XML 1.0 forbids, removed from documents.", ix->chars_dropped);
    counter(w, "ctindex_batches_total", "Batches handed to the sink.", ix->batches);
    counter(w, "ctindex_batches_failed_total", "Batches the sink did not store.", ix->batches_failed);
    gauge(w, "ctindex_batches_in_flight", "Batches handed to the sink and not yet done.", v->batches_in_flight);
    prom_family(w, "ctindex_record_delay_seconds", "histogram",
                "Time from a record's eventTime to the acknowledgement of its document by the sink.");
    prom_histogram(w, "ctindex_record_delay_seconds", NULL, &ix->record_delay);
}

static void upload_metrics(prom_writer *w, const service_metrics_view *v, const char *label) {
    const sink_stats *k = v->sink;
    const sink_state *ks = v->sink_state;
    char lab[128];
    prom_family(w, "ctindex_upload_requests_total", "counter",
                "Requests sent to the sink, by what their answer meant: accepted (stored, or documents refused "
                "one by one and dead-lettered), retry (throttled, a transient failure, not the service's answer), "
                "refused (refused as a whole), failed (the sink could not go on).");
    const char *outcomes[] = {"accepted", "retry", "refused", "failed"};
    const uint64_t counts[] = {k->answers_accepted, k->answers_retry, k->answers_refused, k->answers_failed};
    for (int i = 0; i < 4; i++) {
        snprintf(lab, sizeof lab, "%s,outcome=\"%s\"", label, outcomes[i]);
        prom_uint(w, "ctindex_upload_requests_total", lab, counts[i]);
    }
    one(w, "counter", "ctindex_upload_throttled_total",
        "Answers asking to slow down (429/503/507/509, throttling codes, item 429s).", label, k->throttled);
    one(w, "counter", "ctindex_upload_retries_total", "Requests sent again after a failed one.", label, k->retries);
    one(w, "counter", "ctindex_upload_request_errors_total",
        "Requests not accepted for a reason other than throttling.", label, k->request_errors);
    one(w, "counter", "ctindex_upload_bytes_total", "Request body bytes sent to the sink.", label, k->bytes);
    one(w, "counter", "ctindex_upload_documents_retried_total", "Documents sent again alone after a refusal for now.",
        label, k->docs_retried);
    one(w, "gauge", "ctindex_uploads_in_flight", "Requests to the sink on the wire.", label,
        (uint64_t)(ks->in_flight > 0 ? ks->in_flight : 0));
    one(w, "gauge", "ctindex_upload_concurrency_limit",
        "Requests the sink may have on the wire now (adaptive: grows while answers are fast, cut on throttling).",
        label, (uint64_t)(ks->limit > 0 ? ks->limit : 0));
    one(w, "gauge", "ctindex_upload_concurrency_max", "The most requests the sink may have on the wire (--uploads).",
        label, (uint64_t)(ks->max_limit > 0 ? ks->max_limit : 0));
    one(w, "gauge", "ctindex_upload_rate_limit_bytes_per_second",
        "Bytes per second uploads are paced at now: --max-upload-rate less 5%, or the rate learned after "
        "throttling at one request at a time; 0 when not paced.",
        label, ks->rate_bps);
    prom_family(w, "ctindex_sink_condition", "gauge",
                "1 for the sink's condition now: ok (documents are taken), refusing (whole requests refused: "
                "receiving pauses), unreachable (requests fail in a row: receiving pauses).");
    const sink_condition conds[] = {SINK_OK, SINK_REFUSING, SINK_UNREACHABLE};
    for (int i = 0; i < 3; i++) {
        snprintf(lab, sizeof lab, "%s,condition=\"%s\"", label, sink_condition_name(conds[i]));
        prom_uint(w, "ctindex_sink_condition", lab, ks->condition == conds[i]);
    }
    one(w, "counter", "ctindex_sink_degraded_total", "Times the sink became refusing or unreachable.", label,
        ks->degraded);
    one(w, "counter", "ctindex_sink_probes_total", "Requests sent to probe a refusing or unreachable sink.", label,
        ks->probes);
    prom_family(w, "ctindex_upload_duration_seconds", "histogram", "Time a request to the sink was on the wire.");
    prom_histogram(w, "ctindex_upload_duration_seconds", label, &k->latency);
}

static void aws_metrics(prom_writer *w, const aws_stats *a) {
    counter(w, "ctindex_aws_requests_total", "Signed HTTP requests sent: S3, SQS and sink uploads, every attempt.",
            a->attempts);
    counter(w, "ctindex_aws_retries_total",
            "S3 and SQS requests sent again after a transient failure (sink retries: ctindex_upload_retries_total).",
            a->retries);
    counter(w, "ctindex_aws_throttled_total", "Answers asking to slow down, S3, SQS and sink uploads.", a->throttled);
}

int service_metrics_write(buf *out, const service_metrics_view *v) {
    prom_writer w;
    prom_init(&w, out);
    char label[96];
    if (prom_label(label, sizeof label, "sink", v->sink_name ? v->sink_name : "unknown") < 0) return -1;
    queue_metrics(&w, v);
    object_metrics(&w, v);
    record_metrics(&w, v);
    upload_metrics(&w, v, label);
    if (v->aws) aws_metrics(&w, v->aws);
    return prom_finish(&w);
}
