/* The subcommands; each parses its own options and returns the process exit code:
 * 0 success, 1 some input could not be indexed, 2 usage or setup error. */
#ifndef CTINDEX_COMMANDS_H
#define CTINDEX_COMMANDS_H

#include <stdio.h>

/* Where `replay DIR` indexes when no --sink is given, and where `search` and `serve` look. */
#define CTINDEX_DEFAULT_INDEX "ctindex.db"

int cmd_convert(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_replay_s3(int argc, char **argv);
int cmd_domain(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* The S3 part of 'ctindex replay --help'. */
void replay_s3_help(FILE *f);

#endif
