/* `bstscan hook`, the hook scripts under real git commits and pushes, and the pre-commit framework. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fs.h"
#include "tests/support/testutil.h"
#include "tests/unit/test_git_fixture.h"

TestSuite(hooks, .timeout = 180);

static char *read_all(const char *path)
{
	bs_buf b = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	cr_assert_eq(bs_fs_read_file(&b, path, 1 << 20, &err), 0, "%s", err.message);
	return bs_buf_detach(&b, NULL);
}

static char *path_join(const char *a, const char *b)
{
	return bs_xasprintf("%s/%s", a, b);
}

Test(hooks, print_gives_the_scripts_of_the_hooks_directory)
{
	const char *names[] = {"pre-commit", "pre-push"};
	for (int i = 0; i < 2; i++) {
		bs_test_proc p;
		char *file = bs_xasprintf("%s/hooks/%s", BS_SOURCE_DIR, names[i]), *want = read_all(file);
		FX_BSTSCAN(&p, "/", NULL, "hook", "print", names[i]);
		cr_assert_eq(p.status, 0);
		cr_assert_str_eq(p.out.ptr, want, "hooks/%s and the embedded script differ", names[i]);
		bs_test_proc_free(&p);
		free(file);
		free(want);
	}
}

Test(hooks, install_update_refusal_and_force)
{
	char *repo = fx_repo_new(), *pc = path_join(repo, ".git/hooks/pre-commit"),
	     *pp = path_join(repo, ".git/hooks/pre-push");
	char *text, *backup = bs_xasprintf("%s.bstscan-backup", pc), bin[PATH_MAX];
	bs_test_proc p;
	struct stat st;

	cr_assert_not_null(realpath(BSTSCAN_BIN, bin));
	FX_BSTSCAN(&p, repo, NULL, "hook", "install");
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.out.ptr, "installed pre-commit hook"));
	bs_test_proc_free(&p);
	cr_assert_eq(stat(pc, &st), 0);
	cr_assert(st.st_mode & S_IXUSR);
	cr_assert_eq(stat(pp, &st), 0);
	text = read_all(pc);
	cr_assert_not_null(strstr(text, "# bstscan-hook: pre-commit"));
	cr_assert_not_null(strstr(text, bin), "the hook calls the bstscan that installed it");
	free(text);

	/* Our own hook is updated in place. */
	FX_BSTSCAN(&p, repo, NULL, "hook", "install", "--pre-commit");
	cr_assert_eq(p.status, 0);
	cr_assert_not_null(strstr(p.out.ptr, "updated pre-commit hook"), "%s", p.out.ptr);
	bs_test_proc_free(&p);

	/* Somebody else's hook is left alone, and we say so. */
	bs_test_write_str(repo, ".git/hooks/pre-commit", "#!/bin/sh\necho my own hook\n");
	FX_BSTSCAN(&p, repo, NULL, "hook", "install", "--pre-commit");
	cr_assert_eq(p.status, 2);
	cr_assert_not_null(strstr(p.err.ptr, "not written by bstscan"), "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, "--force"));
	bs_test_proc_free(&p);
	text = read_all(pc);
	cr_assert_str_eq(text, "#!/bin/sh\necho my own hook\n");
	free(text);

	FX_BSTSCAN(&p, repo, NULL, "hook", "install", "--pre-commit", "--force");
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.out.ptr, "bstscan-backup"));
	bs_test_proc_free(&p);
	text = read_all(backup);
	cr_assert_str_eq(text, "#!/bin/sh\necho my own hook\n");
	free(text);
	text = read_all(pc);
	cr_assert_not_null(strstr(text, "# bstscan-hook: pre-commit"));
	free(text);

	FX_BSTSCAN(&p, repo, NULL, "hook", "frobnicate");
	cr_assert_eq(p.status, 2);
	bs_test_proc_free(&p);
	free(pc);
	free(pp);
	free(backup);
	bs_test_rmtree(repo);
	free(repo);
}

Test(hooks, core_hooks_path_is_honoured)
{
	char *repo = fx_repo_new(), *pc = path_join(repo, ".githooks/pre-commit"),
	     *dflt = path_join(repo, ".git/hooks/pre-commit");
	bs_test_proc p;
	struct stat st;
	FX_GIT(repo, "config", "core.hooksPath", ".githooks");
	FX_BSTSCAN(&p, repo, NULL, "hook", "install", "--pre-commit");
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	bs_test_proc_free(&p);
	cr_assert_eq(stat(pc, &st), 0, "installed into core.hooksPath");
	cr_assert_neq(stat(dflt, &st), 0);
	free(pc);
	free(dflt);
	bs_test_rmtree(repo);
	free(repo);
}

static int git_commit(const char *repo, const char *msg, int all, bs_buf *err)
{
	const char *with_all[] = {"commit", "-q", "-a", "-m", msg, NULL};
	const char *plain[] = {"commit", "-q", "-m", msg, NULL};
	return fx_git_full(repo, all ? with_all : plain, NULL, NULL, err, 1);
}

Test(hooks, pre_commit_hook_refuses_a_token_and_lets_clean_commits_through)
{
	char *repo = fx_repo_new(), *tok = fx_token(), *head_before, *head_after;
	bs_buf b = BS_BUF_INIT, err = BS_BUF_INIT;
	bs_test_proc p;

	fx_commit_file(repo, "README", "hello\n", "first");
	FX_BSTSCAN(&p, repo, NULL, "hook", "install", "--pre-commit");
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	bs_test_proc_free(&p);

	head_before = fx_rev(repo, "HEAD");
	bs_buf_addf(&b, "x\nTOKEN=%s\n", tok);
	bs_test_write_str(repo, "conf/leak.env", b.ptr);
	FX_GIT(repo, "add", "-A");
	cr_assert_neq(git_commit(repo, "leak", 0, &err), 0, "the commit is refused");
	cr_assert_not_null(strstr(err.ptr, "conf/leak.env"), "what and where: %s", err.ptr);
	cr_assert_not_null(strstr(err.ptr, "bstscan:allow"), "how to allow: %s", err.ptr);
	cr_assert_not_null(strstr(err.ptr, "--no-verify"), "%s", err.ptr);
	cr_assert_null(strstr(err.ptr, tok), "the raw token is not printed");
	head_after = fx_rev(repo, "HEAD");
	cr_assert_str_eq(head_before, head_after);
	free(head_after);

	/* Unstaged, the same file is fine to leave; a clean commit goes through. */
	FX_GIT(repo, "reset", "-q");
	bs_test_write_str(repo, "clean.txt", "nothing here\n");
	FX_GIT(repo, "add", "clean.txt");
	bs_buf_reset(&err);
	cr_assert_eq(git_commit(repo, "clean", 0, &err), 0, "%s", err.ptr);

	/* `git commit -a` commits through a temporary index: that is the one checked. */
	FX_GIT(repo, "add", "conf/leak.env");
	FX_GIT(repo, "commit", "-q", "--no-verify", "-m", "leak committed deliberately");
	bs_buf_reset(&b);
	bs_buf_addf(&b, "x\nTOKEN=%s\nTOKEN2=%s\n", tok, tok);
	bs_test_write_str(repo, "conf/leak.env", b.ptr);
	bs_buf_reset(&err);
	cr_assert_neq(git_commit(repo, "second copy", 1, &err), 0, "commit -a is checked: %s", err.ptr);
	cr_assert_not_null(strstr(err.ptr, "conf/leak.env:3"), "only the added line is reported: %s", err.ptr);
	cr_assert_null(strstr(err.ptr, "conf/leak.env:2"), "%s", err.ptr);

	free(head_before);
	free(tok);
	bs_buf_free(&b);
	bs_buf_free(&err);
	bs_test_rmtree(repo);
	free(repo);
}

Test(hooks, pre_push_hook_with_an_existing_and_a_new_branch)
{
	char *dir = bs_test_mkdtemp(), *remote = path_join(dir, "remote.git"), *work = path_join(dir, "work");
	char *old = fx_token(), *tok = fx_token(), *remote_main, *after;
	bs_buf b = BS_BUF_INIT, err = BS_BUF_INIT;
	const char *push_main[] = {"push", "-q", "origin", "main", NULL};
	const char *push_clean[] = {"push", "-q", "origin", "clean-branch", NULL};
	const char *push_leaky[] = {"push", "-q", "origin", "leaky-branch", NULL};
	const char *ls_leaky[] = {"ls-remote", remote, "refs/heads/leaky-branch", NULL};
	bs_test_proc p;

	FX_GIT(dir, "init", "-q", "--bare", remote);
	FX_GIT(dir, "clone", "-q", remote, work);
	bs_buf_addf(&b, "OLD=%s\n", old);
	fx_commit_file(work, "old.env", b.ptr, "an old token, already on the remote");
	FX_GIT(work, "push", "-q", "origin", "main");
	FX_BSTSCAN(&p, work, NULL, "hook", "install", "--pre-push");
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	bs_test_proc_free(&p);

	/* Existing branch: a new commit with a token is refused. */
	remote_main = fx_rev(work, "origin/main");
	bs_buf_reset(&b);
	bs_buf_addf(&b, "a\nb\nNEW=%s\n", tok);
	fx_commit_file(work, "new.env", b.ptr, "add a token");
	cr_assert_neq(fx_git_full(work, push_main, NULL, NULL, &err, 1), 0, "push refused");
	cr_assert_not_null(strstr(err.ptr, "new.env"), "%s", err.ptr);
	cr_assert_not_null(strstr(err.ptr, "push refused"), "%s", err.ptr);
	after = fx_rev(remote, "main");
	cr_assert_str_eq(after, remote_main, "the remote did not move");
	free(after);

	/* A clean new branch is pushed, although older history holds a token the remote already has. */
	FX_GIT(work, "reset", "-q", "--hard", "HEAD~1");
	FX_GIT(work, "checkout", "-q", "-b", "clean-branch");
	fx_commit_file(work, "fine.txt", "fine\n", "clean work");
	bs_buf_reset(&err);
	cr_assert_eq(fx_git_full(work, push_clean, NULL, NULL, &err, 1), 0, "%s", err.ptr);

	/* A new branch carrying a token is refused. */
	FX_GIT(work, "checkout", "-q", "-b", "leaky-branch");
	bs_buf_reset(&b);
	bs_buf_addf(&b, "k=%s\n", tok);
	fx_commit_file(work, "leak.txt", b.ptr, "leak on a new branch");
	bs_buf_reset(&err);
	cr_assert_neq(fx_git_full(work, push_leaky, NULL, NULL, &err, 1), 0, "%s", err.ptr);
	cr_assert_not_null(strstr(err.ptr, "leak.txt"), "%s", err.ptr);
	{
		char *ls = fx_git_out(dir, ls_leaky);
		cr_assert_str_eq(ls, "", "the branch did not reach the remote");
		free(ls);
	}
	free(remote_main);
	free(old);
	free(tok);
	bs_buf_free(&b);
	bs_buf_free(&err);
	bs_test_rmtree(dir);
	free(dir);
	free(remote);
	free(work);
}

Test(hooks, pre_commit_framework_runs_bstscan)
{
	char *hooks_repo = fx_repo_new(), *repo = fx_repo_new(), *tok = fx_token(), *rev, *src, *yaml;
	bs_buf cfg = BS_BUF_INIT, b = BS_BUF_INIT, err = BS_BUF_INIT;
	const char *install[] = {"-c", "core.hooksPath=", NULL};
	bs_test_proc p;
	struct stat st;

	if (stat("/usr/bin/pre-commit", &st) != 0)
		cr_assert_fail("the pre-commit package is not installed (scripts/deps lists it)");
	/* A hooks repository holding this project's .pre-commit-hooks.yaml, as pre-commit clones it. */
	src = bs_xasprintf("%s/.pre-commit-hooks.yaml", BS_SOURCE_DIR);
	yaml = read_all(src);
	bs_test_write_str(hooks_repo, ".pre-commit-hooks.yaml", yaml);
	fx_commit_file(hooks_repo, NULL, NULL, "hooks");
	rev = fx_rev(hooks_repo, "HEAD");

	bs_buf_addf(&cfg, "repos:\n  - repo: %s\n    rev: %s\n    hooks:\n      - id: bstscan\n", hooks_repo, rev);
	fx_commit_file(repo, ".pre-commit-config.yaml", cfg.ptr, "pre-commit config");
	{
		const char *argv[] = {"/usr/bin/pre-commit", "install", NULL};
		char home[4200], pch[4300];
		snprintf(home, sizeof(home), "HOME=%s", fx_home_dir());
		snprintf(pch, sizeof(pch), "PRE_COMMIT_HOME=%s/.pre-commit", fx_home_dir());
		const char *env[] = {home, pch, fx_path_env(), "GIT_CONFIG_NOSYSTEM=1", NULL};
		cr_assert_eq(bs_test_run(&p, argv, repo, env, NULL, 0, 120), 0);
		cr_assert_eq(p.status, 0, "pre-commit install: %s%s", p.out.ptr, p.err.ptr);
		bs_test_proc_free(&p);
	}
	(void)install;

	bs_buf_addf(&b, "TOKEN=%s\n", tok);
	bs_test_write_str(repo, "leak.env", b.ptr);
	FX_GIT(repo, "add", "leak.env");
	cr_assert_neq(git_commit(repo, "leak", 0, &err), 0, "refused by pre-commit: %s", err.ptr);
	cr_assert_not_null(strstr(err.ptr, "leak.env"), "%s", err.ptr);
	FX_GIT(repo, "reset", "-q");
	bs_test_write_str(repo, "clean.txt", "clean\n");
	FX_GIT(repo, "add", "clean.txt");
	bs_buf_reset(&err);
	cr_assert_eq(git_commit(repo, "clean", 0, &err), 0, "a clean commit goes through: %s", err.ptr);

	free(rev);
	free(src);
	free(yaml);
	free(tok);
	bs_buf_free(&cfg);
	bs_buf_free(&b);
	bs_buf_free(&err);
	bs_test_rmtree(hooks_repo);
	bs_test_rmtree(repo);
	free(hooks_repo);
	free(repo);
}
