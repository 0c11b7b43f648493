/* The bstscan subcommands.
 *
 * How to add a command (as git's builtin.h):
 *   1. write cli/cmd_<name>.c with `int cmd_<name>(int argc, char **argv)`;
 *      argv[0] is the command name, options follow; return the exit code
 *      (0 clean, 1 findings, 2 usage or fatal error, 3 revocation failed);
 *   2. make it answer `-h`/`--help` by printing its usage to stdout and
 *      returning 0 (`bstscan help <name>` runs `<name> --help`);
 *   3. declare it below and add one row to the table in cli/main.c;
 *   4. parse options with getopt_long and report usage errors with
 *      cli_usage_error(), which prints one line and a hint and returns 2.
 */
#ifndef BS_CLI_COMMANDS_H
#define BS_CLI_COMMANDS_H

int cmd_scan(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_git(int argc, char **argv);
int cmd_staged(int argc, char **argv);
int cmd_hook(int argc, char **argv);
int cmd_auth(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_webhook(int argc, char **argv);

typedef struct cli_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} cli_command;

/* Finds a command by name among those linked in, or NULL. */
const cli_command *cli_find_command(const char *name);

#endif
