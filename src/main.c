/* ctindex command-line entry point: dispatches to the subcommands. */
#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: ctindex COMMAND [OPTIONS]\n"
            "\n"
            "commands:\n"
            "  help       show this text\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "ctindex: unknown command '%s' (try 'ctindex help')\n", argv[1]);
    return 2;
}
