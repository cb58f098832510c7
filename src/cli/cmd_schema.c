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
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int opensearch = 0;
    const char *pattern = "cloudtrail-*";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': opensearch = 1; break;
        case 'i': pattern = optarg; break;
        case 'h':
            printf("usage: ctindex schema [--opensearch [--index-pattern PATTERN]]\n"
                   "\n"
                   "Prints the fields ctindex emits. Without options: the CloudSearch index fields, as a JSON\n"
                   "array of IndexField definitions (what DefineIndexField takes). With --opensearch: an\n"
                   "OpenSearch/Elasticsearch composable index template (PUT _index_template/NAME) for PATTERN:\n"
                   "the sink's index pattern (cloudtrail-%%Y.%%m.%%d: everything from the first %% becomes *)\n"
                   "or a wildcard (default cloudtrail-*).\n");
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
    if (opensearch) schema_print_opensearch(stdout, pattern);
    else schema_print_cloudsearch(stdout);
    return fflush(stdout) == 0 ? 0 : 1;
}
