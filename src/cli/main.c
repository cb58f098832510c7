/* ctindex command-line entry point: dispatches to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static void usage(FILE *f) {
    fprintf(f, "usage: ctindex COMMAND [OPTIONS]\n"
               "\n"
               "Makes AWS CloudTrail logs searchable: reads CloudTrail log files into an embedded search index\n"
               "(or writes or uploads search documents: Amazon CloudSearch batches, OpenSearch _bulk).\n"
               "\n"
               "commands:\n"
               "  run --queue URL ...        the indexing service: SQS notifications -> S3 -> search sink\n"
               "  convert FILE... -o DIR     convert log files into CloudSearch batch files (or _bulk bodies)\n"
               "  replay DIR [--sink SINK]   index every log file under a local folder (default sink: the\n"
               "                             embedded index " CTINDEX_DEFAULT_INDEX " in the current folder)\n"
               "  search QUERY               search the embedded index (CloudSearch query syntax, facets)\n"
               "  serve                      the embedded index over CloudSearch's search and document APIs,\n"
               "                             and a search page (http://127.0.0.1:8080/)\n"
               "  replay s3://BUCKET[/PREFIX] --since DATE (--sink SINK | --enqueue QUEUE_URL)\n"
               "                             index (or enqueue) a date range of a CloudTrail bucket, resumable\n"
               "                             with --checkpoint FILE\n"
               "  domain create|describe --domain NAME\n"
               "                             create a CloudSearch domain with the index fields of a profile,\n"
               "                             or check one\n"
               "  schema [--opensearch]      print the index fields (CloudSearch) or an index template\n"
               "  help                       show this text\n"
               "\n"
               "Every command that builds or describes documents takes --fields original|standard|full\n"
               "(default standard): which fields documents carry ('ctindex schema --help').\n"
               "\n"
               "Run 'ctindex COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "convert") == 0) return cmd_convert(argc - 1, argv + 1);
    if (strcmp(cmd, "replay") == 0) return cmd_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "schema") == 0) return cmd_schema(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "domain") == 0) return cmd_domain(argc - 1, argv + 1);
    if (strcmp(cmd, "search") == 0) return cmd_search(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0) return cmd_serve(argc - 1, argv + 1);
    fprintf(stderr, "ctindex: unknown command '%s' (try 'ctindex help')\n", cmd);
    return 2;
}
