#include "pipeline/schema.h"

#include <string.h>

#define SFR (SF_SEARCH | SF_FACET | SF_RETURN)
#define SR (SF_SEARCH | SF_RETURN)

/* Field order is emission order. The first block keeps the original app's fields with
 * their original types (README.md, "Documents"), so existing domains keep working.
 * Fields with a trim_rank come last, highest rank first: when a document exceeds the size
 * limit the builder fills them greedily in this order, so `raw` (rank 1, last) is cut first. */
static const schema_field fields[] = {
    {"ctindex_trimmed", CS_LITERAL, SFR, OS_BOOLEAN, SRC_TRIMMED, NULL, NULL, 0,
     "present (true) only on documents the indexer shortened: fields cut to fit the 1 MB document limit, a literal "
     "value cut at 4096 characters, or an array field at 1000 values"},

    /* Original fields. */
    {"event_id", CS_LITERAL, SR, OS_KEYWORD, SRC_VALUE, "eventID", NULL, 0, NULL},
    {"event_time", CS_DATE, SR | SF_SORT, OS_DATE, SRC_DATE, "eventTime", NULL, 0,
     "in UTC (an RFC 3339 time with an offset is converted); left out when the record has no valid RFC 3339 "
     "eventTime; OpenSearch puts such documents in the index "
     "whose date parts are zeros (cloudtrail-0000.00.00), so a redelivery lands in the same place"},
    {"event_name", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "eventName", NULL, 0, NULL},
    {"event_source", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "eventSource", NULL, 0, NULL},
    {"aws_region", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "awsRegion", NULL, 0, NULL},
    {"source_ip_address", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "sourceIPAddress", NULL, 0,
     "literal, not an IP type: CloudTrail also puts service DNS names and 'AWS Internal' here"},
    {"user_identity_account_id", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "userIdentity.accountId", NULL, 0, NULL},
    {"user_identity_type", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "userIdentity.type", NULL, 0, NULL},
    {"user_identity_user_name", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "userIdentity.userName", NULL, 0, NULL},
    {"request_id", CS_LITERAL, SR, OS_KEYWORD, SRC_VALUE, "requestID", NULL, 0, NULL},
    /* The original domain declared error_code as int, but CloudTrail's errorCode is a string
     * ("AccessDenied", "Client.UnauthorizedOperation"): an int field would reject every batch
     * holding a failed call. */
    {"error_code", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "errorCode", NULL, 0,
     "literal, not int as in the original domain: CloudTrail errorCode is a string such as AccessDenied; "
     "redefine the field as literal on existing domains"},

    /* Added top-level fields. */
    {"event_type", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "eventType", NULL, 0, NULL},
    {"event_category", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "eventCategory", NULL, 0, NULL},
    {"event_version", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "eventVersion", NULL, 0, NULL},
    {"recipient_account_id", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "recipientAccountId", NULL, 0, NULL},
    {"read_only", CS_LITERAL, SFR, OS_BOOLEAN, SRC_BOOL, "readOnly", NULL, 0,
     "true or false, as text (OpenSearch: boolean)"},
    {"management_event", CS_LITERAL, SFR, OS_BOOLEAN, SRC_BOOL, "managementEvent", NULL, 0,
     "true or false, as text (OpenSearch: boolean)"},
    {"session_credential_from_console", CS_LITERAL, SFR, OS_BOOLEAN, SRC_BOOL, "sessionCredentialFromConsole", NULL, 0,
     "true or false, as text (OpenSearch: boolean)"},
    {"api_version", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "apiVersion", NULL, 0, NULL},
    {"shared_event_id", CS_LITERAL, SR, OS_KEYWORD, SRC_VALUE, "sharedEventID", NULL, 0, NULL},
    {"vpc_endpoint_id", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "vpcEndpointId", NULL, 0, NULL},

    /* userIdentity details. */
    {"user_identity_principal_id", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "userIdentity.principalId", NULL, 0, NULL},
    {"user_identity_access_key_id", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "userIdentity.accessKeyId", NULL, 0, NULL},
    {"user_identity_invoked_by", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "userIdentity.invokedBy", NULL, 0, NULL},
    {"user_identity_identity_provider", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "userIdentity.identityProvider", NULL,
     0, NULL},
    {"user_identity_session_issuer_arn", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE,
     "userIdentity.sessionContext.sessionIssuer.arn", NULL, 0, NULL},
    {"user_identity_session_issuer_user_name", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE,
     "userIdentity.sessionContext.sessionIssuer.userName", NULL, 0, NULL},
    {"user_identity_session_issuer_type", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE,
     "userIdentity.sessionContext.sessionIssuer.type", NULL, 0, NULL},
    {"user_identity_session_issuer_account_id", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE,
     "userIdentity.sessionContext.sessionIssuer.accountId", NULL, 0, NULL},
    {"user_identity_mfa_authenticated", CS_LITERAL, SFR, OS_BOOLEAN, SRC_BOOL,
     "userIdentity.sessionContext.attributes.mfaAuthenticated", NULL, 0,
     "true or false, as text (OpenSearch: boolean)"},
    {"user_identity_session_creation_date", CS_DATE, SR | SF_SORT, OS_DATE, SRC_DATE,
     "userIdentity.sessionContext.attributes.creationDate", NULL, 0, NULL},
    {"user_identity_source_identity", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE,
     "userIdentity.sessionContext.sourceIdentity", NULL, 0, NULL},

    /* resources[]: one value per element. */
    {"resource_arns", CS_LITERAL_ARRAY, SFR, OS_KEYWORD, SRC_MEMBERS, "resources", "ARN", 0, NULL},
    {"resource_types", CS_LITERAL_ARRAY, SFR, OS_KEYWORD, SRC_MEMBERS, "resources", "type", 0, NULL},
    {"resource_account_ids", CS_LITERAL_ARRAY, SFR, OS_KEYWORD, SRC_MEMBERS, "resources", "accountId", 0, NULL},

    {"tls_version", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "tlsDetails.tlsVersion", NULL, 0, NULL},
    {"tls_cipher_suite", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "tlsDetails.cipherSuite", NULL, 0, NULL},
    {"tls_client_provided_host_header", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "tlsDetails.clientProvidedHostHeader",
     NULL, 0, NULL},

    /* Insights events carry their subject in insightDetails instead of the top level. */
    {"insight_type", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "insightDetails.insightType", NULL, 0, NULL},
    {"insight_state", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "insightDetails.state", NULL, 0, NULL},
    {"insight_event_name", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "insightDetails.eventName", NULL, 0, NULL},
    {"insight_event_source", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "insightDetails.eventSource", NULL, 0, NULL},
    {"insight_duration", CS_INT, SFR | SF_SORT, OS_LONG, SRC_INT,
     "insightDetails.insightContext.statistics.insightDuration", NULL, 0, "minutes"},

    {"addendum_reason", CS_LITERAL, SFR, OS_KEYWORD, SRC_VALUE, "addendum.reason", NULL, 0, NULL},
    {"addendum_original_event_id", CS_LITERAL, SR, OS_KEYWORD, SRC_VALUE, "addendum.originalEventID", NULL, 0, NULL},

    /* Trimmable text, highest rank first (cut last). Original: user_identity_arn, user_agent,
     * error_message, raw. */
    {"user_identity_arn", CS_TEXT, SF_RETURN, OS_TEXT, SRC_VALUE, "userIdentity.arn", NULL, 9, NULL},
    {"user_agent", CS_TEXT, SF_RETURN, OS_TEXT, SRC_VALUE, "userAgent", NULL, 8, NULL},
    {"error_message", CS_TEXT, SF_RETURN | SF_SORT, OS_TEXT, SRC_VALUE, "errorMessage", NULL, 7, NULL},
    {"edge_device_details", CS_TEXT, SF_RETURN, OS_TEXT, SRC_JSON, "edgeDeviceDetails", NULL, 6, "JSON text"},
    {"additional_event_data", CS_TEXT, SF_RETURN, OS_TEXT, SRC_JSON, "additionalEventData", NULL, 5, "JSON text"},
    {"service_event_details", CS_TEXT, SF_RETURN, OS_TEXT, SRC_JSON, "serviceEventDetails", NULL, 4, "JSON text"},
    {"response_elements", CS_TEXT, SF_RETURN, OS_TEXT, SRC_JSON, "responseElements", NULL, 3, "JSON text"},
    {"request_parameters", CS_TEXT, SF_RETURN, OS_TEXT, SRC_JSON, "requestParameters", NULL, 2, "JSON text"},
    {"raw", CS_TEXT, SF_RETURN | SF_HIGHLIGHT, OS_TEXT, SRC_RECORD, NULL, NULL, 1,
     "the whole record as JSON text; cut first when a document exceeds 1 MB"},
};

_Static_assert(sizeof fields / sizeof fields[0] <= SCHEMA_MAX_FIELDS, "CloudSearch allows 200 index fields");

size_t schema_count(void) { return sizeof fields / sizeof fields[0]; }

const schema_field *schema_field_at(size_t i) { return i < schema_count() ? &fields[i] : NULL; }

const schema_field *schema_find(const char *name) {
    for (size_t i = 0; i < schema_count(); i++)
        if (strcmp(fields[i].name, name) == 0) return &fields[i];
    return NULL;
}

const char *schema_cs_type_name(schema_cs_type t) {
    switch (t) {
    case CS_LITERAL: return "literal";
    case CS_TEXT: return "text";
    case CS_DATE: return "date";
    case CS_INT: return "int";
    case CS_LITERAL_ARRAY: return "literal-array";
    case CS_TEXT_ARRAY: return "text-array";
    }
    return "?";
}

const char *schema_os_type_name(schema_os_type t) {
    switch (t) {
    case OS_KEYWORD: return "keyword";
    case OS_TEXT: return "text";
    case OS_DATE: return "date";
    case OS_BOOLEAN: return "boolean";
    case OS_LONG: return "long";
    }
    return "?";
}

static const char *tf(unsigned opts, unsigned bit) { return (opts & bit) ? "true" : "false"; }

/* Options member name and the option keys that exist for each type (CloudSearch API reference, IndexField);
 * every key is printed explicitly because CloudSearch enables omitted options. */
void schema_print_cloudsearch(FILE *f) {
    fputs("[\n", f);
    for (size_t i = 0; i < schema_count(); i++) {
        const schema_field *s = &fields[i];
        unsigned o = s->options;
        fprintf(f, "  {\"IndexFieldName\":\"%s\",\"IndexFieldType\":\"%s\",", s->name, schema_cs_type_name(s->cs_type));
        switch (s->cs_type) {
        case CS_LITERAL:
        case CS_DATE:
        case CS_INT:
            fprintf(f, "\"%s\":{\"SearchEnabled\":%s,\"FacetEnabled\":%s,\"ReturnEnabled\":%s,\"SortEnabled\":%s}",
                    s->cs_type == CS_LITERAL ? "LiteralOptions"
                    : s->cs_type == CS_DATE  ? "DateOptions"
                                             : "IntOptions",
                    tf(o, SF_SEARCH), tf(o, SF_FACET), tf(o, SF_RETURN), tf(o, SF_SORT));
            break;
        case CS_LITERAL_ARRAY:
            fprintf(f, "\"LiteralArrayOptions\":{\"SearchEnabled\":%s,\"FacetEnabled\":%s,\"ReturnEnabled\":%s}",
                    tf(o, SF_SEARCH), tf(o, SF_FACET), tf(o, SF_RETURN));
            break;
        case CS_TEXT:
            fprintf(f, "\"TextOptions\":{\"ReturnEnabled\":%s,\"SortEnabled\":%s,\"HighlightEnabled\":%s}",
                    tf(o, SF_RETURN), tf(o, SF_SORT), tf(o, SF_HIGHLIGHT));
            break;
        case CS_TEXT_ARRAY:
            fprintf(f, "\"TextArrayOptions\":{\"ReturnEnabled\":%s,\"HighlightEnabled\":%s}", tf(o, SF_RETURN),
                    tf(o, SF_HIGHLIGHT));
            break;
        }
        fprintf(f, "}%s\n", i + 1 < schema_count() ? "," : "");
    }
    fputs("]\n", f);
}

/* Notes are fixed ASCII text without quotes or backslashes (checked by test_schema). */
void schema_print_opensearch(FILE *f, const char *index_pattern) {
    const char *p = index_pattern ? index_pattern : "cloudtrail-%Y.%m.%d";
    size_t prefix = strcspn(p, "%");
    fprintf(f, "{\"index_patterns\":[\"%.*s%s\"],\"template\":{\"mappings\":{\n", (int)prefix, p, p[prefix] ? "*" : "");
    fputs("  \"_meta\":{\"generator\":\"ctindex\",\"notes\":{", f);
    int first = 1;
    for (size_t i = 0; i < schema_count(); i++) {
        if (!fields[i].note) continue;
        fprintf(f, "%s\"%s\":\"%s\"", first ? "" : ",", fields[i].name, fields[i].note);
        first = 0;
    }
    fputs("}},\n  \"properties\":{\n", f);
    for (size_t i = 0; i < schema_count(); i++)
        fprintf(f, "    \"%s\":{\"type\":\"%s\"}%s\n", fields[i].name, schema_os_type_name(fields[i].os_type),
                i + 1 < schema_count() ? "," : "");
    fputs("  }\n}}}\n", f);
}
