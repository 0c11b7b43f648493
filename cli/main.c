#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "common/banned.h"

static const cli_command commands[] = {
	{ "scan", cmd_scan, "Scan files, directories or standard input for secrets" },
	{ "git", cmd_git, "Scan a repository's full history, or a range of commits" },
	{ "staged", cmd_staged, "Scan what `git commit` would record now" },
	{ "hook", cmd_hook, "Install the pre-commit and pre-push hooks" },
	{ "rules", cmd_rules, "List the rules, or test rule files against their examples" },
	{ "auth", cmd_auth, "Log in to the issuer, show status, print a token, log out" },
	{ "revoke", cmd_revoke, "Revoke leaked tokens from a report or by hash" },
	{ "webhook", cmd_webhook, "Serve the partner-program webhook that revokes reported tokens" },
};

const cli_command *cli_find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int print_usage(FILE *f)
{
	fprintf(f, "usage: bstscan [--version] [--help] <command> [<args>]\n\n"
		   "bstscan finds leaked secrets (Bastionary bst_ tokens first) and gets them revoked.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "  %-9s %s\n\n", "help", "Show help for bstscan or for one command");
	fprintf(f, "Exit codes: 0 nothing found, 1 secrets found, 2 usage or fatal error,\n"
		   "3 secrets found and a revocation failed.\n"
		   "Run 'bstscan help <command>' for a command's options.\n");
	return 0;
}

static int run_command(const cli_command *c, int argc, char **argv)
{
	/* Each command parses its own options from a fresh getopt state. */
	optind = 1;
	opterr = 0;
	return c->fn(argc, argv);
}

int main(int argc, char **argv)
{
	const cli_command *c;
	setlocale(LC_CTYPE, "");
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		return print_usage(stderr), CLI_EXIT_ERROR;
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("bstscan %s\n", BS_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return print_usage(stdout);
	if (!strcmp(argv[1], "help")) {
		char *help_argv[] = { NULL, "--help", NULL };
		if (argc < 3)
			return print_usage(stdout);
		c = cli_find_command(argv[2]);
		if (!c)
			return cli_usage_error(NULL, "'%s' is not a bstscan command", argv[2]);
		help_argv[0] = argv[2];
		return run_command(c, 2, help_argv);
	}
	if (argv[1][0] == '-')
		return cli_usage_error(NULL, "unknown option '%s'", argv[1]);
	c = cli_find_command(argv[1]);
	if (!c)
		return cli_usage_error(NULL, "'%s' is not a bstscan command", argv[1]);
	return run_command(c, argc - 1, argv + 1);
}
