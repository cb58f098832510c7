#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "pipeline/index_pattern.h"
#include "pipeline/schema.h"

int cmd_schema(int argc, char **argv) {
    static const struct option opts[] = {
        {"opensearch", no_argument, 0, 'o'},
        {"index-pattern", required_argument, 0, 'i'},
        {"fields", required_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int opensearch = 0;
    schema_profile profile = SCHEMA_PROFILE_DEFAULT;
    const char *pattern = "cloudtrail-*";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': opensearch = 1; break;
        case 'i': pattern = optarg; break;
        case 'f':
            if (schema_profile_parse(optarg, &profile) != 0) {
                fprintf(stderr, "ctindex schema: --fields must be original, standard or full\n");
                return 2;
            }
            break;
        case 'h':
            printf("usage: ctindex schema [--fields PROFILE] [--opensearch [--index-pattern PATTERN]]\n"
                   "\n"
                   "Prints the fields ctindex emits. Without options: the CloudSearch index fields, as a JSON\n"
                   "array of IndexField definitions (what DefineIndexField takes). With --opensearch: an\n"
                   "OpenSearch/Elasticsearch composable index template (PUT _index_template/NAME) for PATTERN:\n"
                   "the sink's index pattern (cloudtrail-%%Y.%%m.%%d: everything from the first %% becomes *)\n"
                   "or a wildcard (default cloudtrail-*).\n"
                   "\n"
                   "--fields PROFILE: the fields of the documents that the indexing commands' --fields builds:\n"
                   "  original  the original application's cloudtrail-1 domain (%zu fields: event_id, event_time,\n"
                   "            event_name, event_source, aws_region, source_ip_address, user_identity_account_id,\n"
                   "            user_identity_type, user_identity_user_name, request_id, error_code (a literal:\n"
                   "            the original declared it int), user_identity_arn, user_agent, error_message, raw)\n"
                   "  standard  the default (%zu fields): original and the literals detection rules and\n"
                   "            investigations filter and group on most (bench/README.md says which and why)\n"
                   "  full      every field (%zu), JSON-text copies of requestParameters, responseElements,\n"
                   "            additionalEventData, serviceEventDetails and edgeDeviceDetails included\n",
                   schema_profile_count(SCHEMA_ORIGINAL), schema_profile_count(SCHEMA_STANDARD),
                   schema_profile_count(SCHEMA_FULL));
            return 0;
        default: return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ctindex schema: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    char err[160];
    if (opensearch && index_pattern_check(pattern, 1, err, sizeof err) != 0) {
        fprintf(stderr, "ctindex schema: --index-pattern '%s': %s\n", pattern, err);
        return 2;
    }
    if (opensearch) schema_print_opensearch(stdout, pattern, profile);
    else schema_print_cloudsearch(stdout, profile);
    return fflush(stdout) == 0 ? 0 : 1;
}
