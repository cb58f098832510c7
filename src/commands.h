/* The subcommands; each parses its own options and returns the process exit code:
 * 0 success, 1 some input could not be indexed, 2 usage or setup error. */
#ifndef CTINDEX_COMMANDS_H
#define CTINDEX_COMMANDS_H

int cmd_convert(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_run(int argc, char **argv);

#endif
