#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/scan_common.h"
#include "scanner/source_git.h"
#include "common/banned.h"

/* clang-format off */
static const char usage[] =
	"usage: bstscan staged [options] [REPO]\n\n"
	"Scans what `git commit` would record now: the lines the index adds to HEAD\n"
	"(everything in the index on an unborn branch), new and binary files included.\n"
	"Old secrets elsewhere in a touched file are not reported again; a line holding\n"
	"\"bstscan:allow\" is never reported. REPO defaults to the repository holding the\n"
	"current directory. In a git hook, the index git names in GIT_INDEX_FILE is used\n"
	"(so `git commit -a` and `git commit PATH` are checked as they will be recorded).\n"
	"The pre-commit hook (bstscan hook install) runs this command.\n";
/* clang-format on */

int cmd_staged(int argc, char **argv)
{
	static const struct option longopts[] = {
	    CLI_SCAN_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	cli_scan_opts o;
	cli_scan_env env;
	bs_git_opts go;
	bs_error err = BS_ERROR_INIT;
	const char *repo;
	int c, rc;

	cli_scan_opts_init(&o, "staged");
	while ((c = getopt_long(argc, argv, CLI_SCAN_SHORT, longopts, NULL)) != -1) {
		int r = cli_scan_opt(&o, c, optarg);
		if (r < 0)
			goto usage_fail;
		if (r > 0)
			continue;
		cli_scan_bad_option(&o, argv);
		goto usage_fail;
	}
	if (o.help) {
		cli_scan_print_help(usage);
		cli_scan_opts_free(&o);
		return CLI_EXIT_CLEAN;
	}
	if (argc - optind > 1) {
		cli_usage_error("staged", "takes at most one repository");
		goto usage_fail;
	}
	repo = optind < argc ? argv[optind] : ".";
	rc = cli_scan_setup(&o, repo, &env);
	if (rc) {
		cli_scan_opts_free(&o);
		return rc;
	}
	memset(&go, 0, sizeof(go));
	go.repository = repo;
	go.on_error = cli_scan_warn_input;
	go.ud = &o;
	go.index_file = getenv("GIT_INDEX_FILE");
	/* In a hook, git names the repository in GIT_DIR (a bare repository with a separate work tree has no .git). */
	if (optind >= argc) {
		go.git_dir = getenv("GIT_DIR");
		go.work_tree = getenv("GIT_WORK_TREE");
	}
	if (bs_git_scan_staged(env.scanner, repo, &go, &env.findings, NULL, &err) < 0) {
		cli_fatal(&err);
		/* Nothing was scanned: no report saying nothing was found. */
		o.output = "/dev/null";
		o.baseline_out = NULL;
		rc = cli_scan_finish(&o, &env);
		cli_scan_opts_free(&o);
		return rc == CLI_EXIT_CLEAN ? CLI_EXIT_ERROR : rc;
	}
	rc = cli_scan_finish(&o, &env);
	cli_scan_opts_free(&o);
	return rc;

usage_fail:
	cli_scan_opts_free(&o);
	return CLI_EXIT_ERROR;
}
