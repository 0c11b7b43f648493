#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "common/buf.h"
#include "common/fs.h"
#include "scanner/source_git.h"
#include "common/banned.h"

/* The hook scripts, byte for byte those of hooks/ (a test compares them), so an installed bstscan needs no source
 * tree. The marker line tells a hook we wrote from one we must not overwrite. */
#define HOOK_MARKER "# bstscan-hook: "
#define HOOK_DEFAULT_BIN "BSTSCAN=${BSTSCAN:-bstscan}\n"

/* clang-format off */
static const char pre_commit_script[] =
	"#!/bin/sh\n"
	"# bstscan-hook: pre-commit (written by `bstscan hook install`; reinstalling replaces this file)\n"
	"#\n"
	"# Refuses a commit whose staged changes add a secret: runs `bstscan staged` on\n"
	"# exactly what is being committed (git's GIT_INDEX_FILE for `commit -a`/`PATH`).\n"
	"BSTSCAN=${BSTSCAN:-bstscan}\n"
	"command -v \"$BSTSCAN\" >/dev/null 2>&1 || BSTSCAN=bstscan\n"
	"if ! command -v \"$BSTSCAN\" >/dev/null 2>&1; then\n"
	"\techo \"bstscan pre-commit hook: '$BSTSCAN' not found; install bstscan or put it on PATH.\" >&2\n"
	"\techo \"(git commit --no-verify skips the check, and every other hook.)\" >&2\n"
	"\texit 1\n"
	"fi\n"
	"\"$BSTSCAN\" staged --no-color >&2\n"
	"status=$?\n"
	"if [ \"$status\" -eq 1 ]; then\n"
	"\tcat >&2 <<'MSG'\n"
	"\n"
	"bstscan: commit refused: the staged changes above add a secret.\n"
	"  - Remove it from the file, `git add` the file again and commit. If the\n"
	"    secret is real, revoke it (bstscan revoke) - it was on your disk.\n"
	"  - A deliberate test value: put the comment  bstscan:allow  on its line, or add\n"
	"    its fingerprint to \"allow\": {\"fingerprints\": [...]} in .bstscan.json.\n"
	"  - Last resort, skipping every check: git commit --no-verify\n"
	"MSG\n"
	"elif [ \"$status\" -ne 0 ]; then\n"
	"\techo \"bstscan: the pre-commit check failed (exit $status); commit refused.\" >&2\n"
	"fi\n"
	"exit \"$status\"\n";
/* clang-format on */

/* clang-format off */
static const char pre_push_script[] =
	"#!/bin/sh\n"
	"# bstscan-hook: pre-push (written by `bstscan hook install`; reinstalling replaces this file)\n"
	"#\n"
	"# Refuses a push whose commits add a secret. git passes the remote's name and\n"
	"# URL as arguments and one line per ref on standard input:\n"
	"#   <local ref> <local sha> <remote ref> <remote sha>\n"
	"# bstscan scans exactly the commits being pushed: remote sha..local sha, or for\n"
	"# a new branch the commits on no remote-tracking ref. Deletions are skipped.\n"
	"BSTSCAN=${BSTSCAN:-bstscan}\n"
	"command -v \"$BSTSCAN\" >/dev/null 2>&1 || BSTSCAN=bstscan\n"
	"if ! command -v \"$BSTSCAN\" >/dev/null 2>&1; then\n"
	"\techo \"bstscan pre-push hook: '$BSTSCAN' not found; install bstscan or put it on PATH.\" >&2\n"
	"\techo \"(git push --no-verify skips the check, and every other hook.)\" >&2\n"
	"\texit 1\n"
	"fi\n"
	"\"$BSTSCAN\" git --pre-push --no-color >&2\n"
	"status=$?\n"
	"if [ \"$status\" -eq 1 ]; then\n"
	"\tcat >&2 <<'MSG'\n"
	"\n"
	"bstscan: push refused: the commits above add a secret.\n"
	"  - Rewrite the commit that added it (git rebase -i, or git commit --amend for\n"
	"    the last one) so that no pushed commit holds it, and revoke the secret if\n"
	"    it is real (bstscan revoke): it is in your local history.\n"
	"  - A deliberate test value: put the comment  bstscan:allow  on its line, or add\n"
	"    its fingerprint to \"allow\": {\"fingerprints\": [...]} in .bstscan.json.\n"
	"  - Last resort, skipping every check: git push --no-verify\n"
	"MSG\n"
	"elif [ \"$status\" -ne 0 ]; then\n"
	"\techo \"bstscan: the pre-push check failed (exit $status); push refused.\" >&2\n"
	"fi\n"
	"exit \"$status\"\n";
/* clang-format on */

/* clang-format off */
static const char usage[] =
	"usage: bstscan hook install [--pre-commit] [--pre-push] [--force] [REPO]\n"
	"       bstscan hook print pre-commit|pre-push\n\n"
	"install writes the hooks into the repository's hooks directory (core.hooksPath\n"
	"when set); without --pre-commit or --pre-push, both. The pre-commit hook runs\n"
	"`bstscan staged`; the pre-push hook runs `bstscan git --pre-push` on the commits\n"
	"being pushed. A hook that bstscan did not write is never replaced unless --force\n"
	"(the old one is then kept as <hook>.bstscan-backup). Installed hooks call the\n"
	"bstscan binary that installed them (or bstscan on PATH if it has moved).\n"
	"print writes a hook script to standard output (to chain it from your own hook).\n\n"
	"  -f, --force             replace hooks bstscan did not write\n"
	"  -h, --help              show this help\n";
/* clang-format on */

static const char *script_for(const char *name)
{
	if (!strcmp(name, "pre-commit"))
		return pre_commit_script;
	if (!strcmp(name, "pre-push"))
		return pre_push_script;
	return NULL;
}

/* The script with this binary's absolute path as the default, when it is one a shell can quote simply. */
static char *script_with_binary(const char *script)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *at = strstr(script, HOOK_DEFAULT_BIN);
	bs_buf out = BS_BUF_INIT;
	if (n <= 0 || !at || memchr(self, '\'', (size_t)n) || memchr(self, '\n', (size_t)n))
		return bs_xstrdup(script);
	self[n] = '\0';
	bs_buf_add(&out, script, (size_t)(at - script));
	bs_buf_addf(&out, "BSTSCAN=${BSTSCAN:-'%s'}\n", self);
	bs_buf_adds(&out, at + strlen(HOOK_DEFAULT_BIN));
	return bs_buf_detach(&out, NULL);
}

static int install_one(const char *dir, const char *name, int force)
{
	char *path = bs_xasprintf("%s/%s", dir, name), *script = script_with_binary(script_for(name));
	bs_buf old = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	int rc = 0, existed = 0;
	struct stat st;

	if (lstat(path, &st) == 0) {
		existed = 1;
		if (bs_fs_read_file(&old, path, 16 * 1024 * 1024, &err) < 0 && !force) {
			cli_error("%s exists and cannot be read (%s); not replaced (--force replaces it)", path,
			          err.message);
			rc = CLI_EXIT_ERROR;
			goto out;
		}
		if (!strstr(old.ptr, HOOK_MARKER)) {
			char *backup;
			if (!force) {
				cli_error("%s exists and was not written by bstscan: not replaced.\n"
				          "  Use --force to replace it (it is kept as %s.bstscan-backup), or call\n"
				          "  `bstscan hook print %s` from it.",
				          path, name, name);
				rc = CLI_EXIT_ERROR;
				goto out;
			}
			backup = bs_xasprintf("%s.bstscan-backup", path);
			if (rename(path, backup) < 0) {
				cli_error("cannot keep %s as %s: %s", path, backup, strerror(errno));
				free(backup);
				rc = CLI_EXIT_ERROR;
				goto out;
			}
			printf("replaced %s (the old hook is kept as %s)\n", path, backup);
			free(backup);
		}
	}
	if (bs_fs_mkdir_p(dir, 0755, &err) < 0 || bs_fs_write_atomic(path, script, strlen(script), 0755, &err) < 0) {
		rc = cli_fatal(&err);
		goto out;
	}
	printf("%s %s hook: %s\n", existed ? "updated" : "installed", name, path);
out:
	bs_buf_free(&old);
	free(script);
	free(path);
	return rc;
}

int cmd_hook(int argc, char **argv)
{
	enum { OPT_PRE_COMMIT = 2000, OPT_PRE_PUSH };
	static const struct option longopts[] = {
	    {"pre-commit", no_argument, NULL, OPT_PRE_COMMIT},
	    {"pre-push", no_argument, NULL, OPT_PRE_PUSH},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, pre_commit = 0, pre_push = 0, force = 0, rc = 0;
	const char *action;
	char *dir = NULL;
	bs_error err = BS_ERROR_INIT;

	while ((c = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_PRE_COMMIT:
			pre_commit = 1;
			break;
		case OPT_PRE_PUSH:
			pre_push = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_EXIT_CLEAN;
		default:
			return cli_usage_error("hook", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("hook", "missing action (install or print)");
	action = argv[optind++];
	if (!strcmp(action, "print")) {
		const char *script;
		if (optind + 1 != argc || !(script = script_for(argv[optind])))
			return cli_usage_error("hook", "print takes pre-commit or pre-push");
		fputs(script, stdout);
		return CLI_EXIT_CLEAN;
	}
	if (strcmp(action, "install") != 0)
		return cli_usage_error("hook", "unknown action '%s' (install or print)", action);
	if (argc - optind > 1)
		return cli_usage_error("hook", "install takes at most one repository");
	if (!pre_commit && !pre_push)
		pre_commit = pre_push = 1;
	if (bs_git_hooks_dir(&dir, optind < argc ? argv[optind] : ".", &err) < 0)
		return cli_fatal(&err);
	if (pre_commit)
		rc = install_one(dir, "pre-commit", force);
	if (pre_push) {
		int r = install_one(dir, "pre-push", force);
		if (!rc)
			rc = r;
	}
	free(dir);
	return rc;
}
