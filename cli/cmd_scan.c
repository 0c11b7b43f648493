#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/scan_common.h"
#include "scanner/source_files.h"
#include "common/banned.h"

enum { OPT_EXCLUDE = 2000, OPT_FOLLOW, OPT_STDIN_NAME };

static const char usage[] =
	"usage: bstscan scan [options] [PATH...]\n"
	"       bstscan scan [options] -            (scan standard input)\n\n"
	"Scans files and directories (default: the current directory) recursively for\n"
	"secrets. .git directories are skipped; symbolic links are not followed unless\n"
	"asked. Files that cannot be read are reported on standard error and the scan\n"
	"goes on.\n\n"
	"Sources:\n"
	"      --exclude GLOB      skip paths (or base names) matching GLOB (repeatable)\n"
	"      --follow-symlinks   follow symbolic links (loops are detected)\n"
	"      --stdin-name NAME   the path to report for standard input (default: -)\n";

int cmd_scan(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_SCAN_LONG_OPTIONS,
		{ "exclude", required_argument, NULL, OPT_EXCLUDE },
		{ "follow-symlinks", no_argument, NULL, OPT_FOLLOW },
		{ "stdin-name", required_argument, NULL, OPT_STDIN_NAME },
		{ NULL, 0, NULL, 0 },
	};
	cli_scan_opts o;
	cli_scan_env env;
	bs_files_opts fo = { 0 };
	const char **excludes = NULL;
	size_t n_excludes = 0;
	const char *stdin_name = "-";
	int c, rc, use_stdin = 0;
	bs_error err = BS_ERROR_INIT;

	cli_scan_opts_init(&o, "scan");
	while ((c = getopt_long(argc, argv, CLI_SCAN_SHORT, longopts, NULL)) != -1) {
		int r = cli_scan_opt(&o, c, optarg);
		if (r < 0)
			goto usage_fail;
		if (r > 0)
			continue;
		switch (c) {
		case OPT_EXCLUDE:
			excludes = bs_xrealloc(excludes, (n_excludes + 1) * sizeof(char *));
			excludes[n_excludes++] = optarg;
			break;
		case OPT_FOLLOW:
			fo.follow_symlinks = 1;
			break;
		case OPT_STDIN_NAME:
			stdin_name = optarg;
			break;
		default:
			cli_scan_bad_option(&o, argv);
			goto usage_fail;
		}
	}
	if (o.help) {
		cli_scan_print_help(usage);
		cli_scan_opts_free(&o);
		free(excludes);
		return CLI_EXIT_CLEAN;
	}
	for (int i = optind; i < argc; i++)
		if (strcmp(argv[i], "-") == 0)
			use_stdin = 1;
	if (use_stdin && argc - optind > 1) {
		cli_usage_error("scan", "'-' (standard input) cannot be combined with paths");
		goto usage_fail;
	}
	if (o.revoke && !o.yes && !o.dry_run && use_stdin) {
		cli_usage_error("scan", "--revoke on standard input needs --yes or --dry-run (no terminal to ask)");
		goto usage_fail;
	}

	rc = cli_scan_setup(&o, use_stdin ? NULL : (optind < argc ? argv[optind] : "."), &env);
	if (rc) {
		cli_scan_opts_free(&o);
		free(excludes);
		return rc;
	}
	if (use_stdin) {
		rc = bs_scan_fd(env.scanner, STDIN_FILENO, stdin_name, &env.findings, &err);
	} else {
		fo.paths = (const char *const *)argv + optind;
		fo.n_paths = (size_t)(argc - optind);
		fo.excludes = excludes;
		fo.n_excludes = n_excludes;
		fo.jobs = o.jobs;
		fo.on_error = cli_scan_warn_input;
		fo.ud = &o;
		rc = bs_scan_files(env.scanner, &fo, &env.findings, NULL, &err);
	}
	if (rc < 0) {
		cli_fatal(&err);
		rc = cli_scan_finish(&o, &env);
		cli_scan_opts_free(&o);
		free(excludes);
		return rc == CLI_EXIT_CLEAN ? CLI_EXIT_ERROR : rc;
	}
	rc = cli_scan_finish(&o, &env);
	cli_scan_opts_free(&o);
	free(excludes);
	return rc;

usage_fail:
	cli_scan_opts_free(&o);
	free(excludes);
	return CLI_EXIT_ERROR;
}
