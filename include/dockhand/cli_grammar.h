/* The command line's grammar in one table: every command, the words and options it takes,
 * and its usage lines. cli_main checks a command line against it before anything else —
 * no database connection, no key file — so `dockhand COMMAND --help` and usage errors
 * (exit 2) never depend on the environment. The usage text is printed from the same table. */
#pragma once
#include <stdio.h>

/* What cli_grammar_check found. */
enum cli_check {
    CLI_RUN,   /* a well-formed command: run it */
    CLI_HELP,  /* --help (or -h) was asked for: the usage was printed to stdout, exit 0 */
    CLI_USAGE, /* malformed: why and the command's usage went to stderr, exit 2 */
};

/* Checks argv[0..argc) (the words after `dockhand`, settings already taken out). */
enum cli_check cli_grammar_check(int argc, char **argv);

/* The whole usage text: every command's lines, then the notes. */
void cli_grammar_usage(FILE *out);

/* Prints "dockhand: why" (when why is not NULL) and the usage lines of group's verb (all of
 * group's when verb is NULL; the whole text when group is NULL) to stderr. Returns 2, the
 * exit code of a usage error. */
int cli_usage_error(const char *group, const char *verb, const char *why);
