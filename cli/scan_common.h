/* What `scan`, `git` and `staged` share: the report, rule, suppression and
 * check/revoke options, and the steps around the scan itself:
 *
 *   cli_scan_opts o; cli_scan_opts_init(&o, "scan");
 *   while ((c = getopt_long(argc, argv, CLI_SCAN_SHORT "...", longopts, NULL)) != -1)
 *       if (cli_scan_opt(&o, c, optarg) == 0) ... the command's own options ...
 *   cli_scan_setup(&o, root, &env);      // rules, config, baseline, scanner
 *   ... the command scans into env.findings ...
 *   return cli_scan_finish(&o, &env);    // suppress, sort, check/revoke, report, exit code
 *
 * Long options are listed with CLI_SCAN_LONG_OPTIONS inside the command's
 * own struct option array.
 */
#ifndef BS_CLI_SCAN_COMMON_H
#define BS_CLI_SCAN_COMMON_H

#include <getopt.h>
#include <stdio.h>

#include "scanner/engine.h"
#include "scanner/report.h"
#include "scanner/suppress.h"

enum {
	CLI_OPT_FORMAT = 1000,
	CLI_OPT_OUTPUT,
	CLI_OPT_SHOW_SECRET,
	CLI_OPT_NO_COLOR,
	CLI_OPT_EXIT_CODE,
	CLI_OPT_RULES,
	CLI_OPT_NO_DEFAULT_RULES,
	CLI_OPT_BASELINE,
	CLI_OPT_BASELINE_OUT,
	CLI_OPT_CONFIG,
	CLI_OPT_REPORT_INVALID,
	CLI_OPT_QUIET,
	CLI_OPT_VERBOSE,
	CLI_OPT_CHECK,
	CLI_OPT_ONLY_ACTIVE,
	CLI_OPT_REVOKE,
	CLI_OPT_YES,
	CLI_OPT_DRY_RUN,
	CLI_OPT_FAIL_ON_CHECK_ERROR,
	CLI_OPT_SERVER,
	CLI_OPT_JOBS = 'j',
	CLI_OPT_HELP = 'h',
};

#define CLI_SCAN_SHORT "j:hqo:f:"
#define CLI_SCAN_LONG_OPTIONS                                                                                  \
	{ "format", required_argument, NULL, CLI_OPT_FORMAT },                                                 \
	{ "output", required_argument, NULL, CLI_OPT_OUTPUT },                                                 \
	{ "show-secret", no_argument, NULL, CLI_OPT_SHOW_SECRET },                                             \
	{ "no-color", no_argument, NULL, CLI_OPT_NO_COLOR },                                                   \
	{ "exit-code", required_argument, NULL, CLI_OPT_EXIT_CODE },                                           \
	{ "rules", required_argument, NULL, CLI_OPT_RULES },                                                   \
	{ "no-default-rules", no_argument, NULL, CLI_OPT_NO_DEFAULT_RULES },                                   \
	{ "baseline", required_argument, NULL, CLI_OPT_BASELINE },                                             \
	{ "baseline-out", required_argument, NULL, CLI_OPT_BASELINE_OUT },                                     \
	{ "config", required_argument, NULL, CLI_OPT_CONFIG },                                                 \
	{ "report-invalid", no_argument, NULL, CLI_OPT_REPORT_INVALID },                                       \
	{ "quiet", no_argument, NULL, CLI_OPT_QUIET },                                                         \
	{ "verbose", no_argument, NULL, CLI_OPT_VERBOSE },                                                     \
	{ "check", no_argument, NULL, CLI_OPT_CHECK },                                                         \
	{ "only-active", no_argument, NULL, CLI_OPT_ONLY_ACTIVE },                                             \
	{ "revoke", no_argument, NULL, CLI_OPT_REVOKE },                                                       \
	{ "yes", no_argument, NULL, CLI_OPT_YES },                                                             \
	{ "dry-run", no_argument, NULL, CLI_OPT_DRY_RUN },                                                     \
	{ "fail-on-check-error", no_argument, NULL, CLI_OPT_FAIL_ON_CHECK_ERROR },                             \
	{ "server", required_argument, NULL, CLI_OPT_SERVER },                                                 \
	{ "jobs", required_argument, NULL, CLI_OPT_JOBS },                                                     \
	{ "help", no_argument, NULL, CLI_OPT_HELP }

/* The options text shared by the commands' help. */
extern const char cli_scan_options_help[];

typedef struct cli_scan_opts {
	const char *cmd;
	bs_report_format format;
	const char *output;
	int show_secret;
	int no_color;
	int exit_found;          /* exit code when something is found (default 1) */
	const char **rule_paths;
	size_t n_rule_paths;
	int no_default_rules;
	const char *baseline;
	const char *baseline_out;
	const char *config;
	int report_invalid;
	int quiet;
	int verbose;
	int jobs;                /* 0 = number of CPUs */
	int check, only_active, revoke, yes, dry_run, fail_on_check_error;
	const char *server;
	int help;
} cli_scan_opts;

typedef struct cli_scan_env {
	bs_ruleset *rules;
	bs_scanner *scanner;
	bs_allowlist *allow;
	bs_findings findings;
	int had_errors;          /* some input could not be read */
} cli_scan_env;

void cli_scan_opts_init(cli_scan_opts *o, const char *cmd);
void cli_scan_opts_free(cli_scan_opts *o);
/* Handles one common option: 1 handled, 0 not a common option, -1 usage
 * error already printed (return 2). */
int cli_scan_opt(cli_scan_opts *o, int c, const char *arg);
/* Prints the usage error for the option getopt_long just refused; returns 2. */
int cli_scan_bad_option(const cli_scan_opts *o, char **argv);
/* Prints the command's usage and the shared options (for --help); returns 0. */
int cli_scan_print_help(const char *usage);
/* An on_error callback for sources (ud is the cli_scan_opts): one warning
 * line per unreadable input unless --quiet. */
void cli_scan_warn_input(void *ud, const char *what, const char *reason);
/* Loads rules (default pack, --rules, the config's), the config file
 * (--config, else ROOT/.bstscan.json when root is given and the file exists),
 * the baseline, and builds the scanner. Returns 0, or 2 after printing. */
int cli_scan_setup(cli_scan_opts *o, const char *root, cli_scan_env *env);
/* Drops allowlisted findings, sorts, writes --baseline-out, runs --check /
 * --revoke when asked, writes the report, frees env and returns the exit code. */
int cli_scan_finish(cli_scan_opts *o, cli_scan_env *env);

/* Implemented in cli/check_revoke.c: fills each issuer finding's check result
 * and revokes when asked; returns 0, or the exit code to use instead (2 fatal,
 * 3 a revocation failed). */
int cli_check_and_revoke(cli_scan_opts *o, bs_findings *fs);

#endif
