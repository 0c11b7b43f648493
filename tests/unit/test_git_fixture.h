/* Fixture repositories for the git tests, built at test time with the `git` command (the product itself never runs
 * git). Everything is deterministic: fixed identities, increasing commit dates, no user or system config.
 * Included by tests/unit/test_git_*.c and test_hooks*.c only. */
#ifndef BS_TESTS_GIT_FIXTURE_H
#define BS_TESTS_GIT_FIXTURE_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "tests/support/testutil.h"

static int fx_date_counter;
static char fx_home[4096];

/* HOME for git and bstscan: a temporary directory, so no user config leaks in. */
static inline const char *fx_home_dir(void)
{
	if (!fx_home[0]) {
		char *d = bs_test_mkdtemp();
		snprintf(fx_home, sizeof(fx_home), "%s", d);
		free(d);
	}
	return fx_home;
}

/* PATH with the build directory first, so hooks and the pre-commit framework find the bstscan under test. */
static inline const char *fx_path_env(void)
{
	static char buf[8192];
	if (!buf[0]) {
		const char *p = getenv("PATH");
		snprintf(buf, sizeof(buf), "PATH=%s:%s", BS_BUILD_DIR, p ? p : "/usr/bin:/bin");
	}
	return buf;
}

/* Runs git with argv (NULL-terminated) in dir; stdin_data may be NULL. Aborts the test on failure unless
 * allow_fail; returns the exit status. out receives stdout when not NULL. */
static inline int fx_git_full(const char *dir, const char *const *args, const char *stdin_data, bs_buf *out,
                              bs_buf *err_out, int allow_fail)
{
	const char *argv[64];
	char date[64], home[4200], xdg[4300], pch[4300];
	size_t n = 0;
	bs_test_proc p;
	int st;
	snprintf(date, sizeof(date), "GIT_DATE_FX=%d", fx_date_counter);
	snprintf(home, sizeof(home), "HOME=%s", fx_home_dir());
	snprintf(xdg, sizeof(xdg), "XDG_CONFIG_HOME=%s/.config", fx_home_dir());
	snprintf(pch, sizeof(pch), "PRE_COMMIT_HOME=%s/.pre-commit", fx_home_dir());
	{
		char ad[80], cd[80];
		snprintf(ad, sizeof(ad), "GIT_AUTHOR_DATE=%d +0000", 1700000000 + fx_date_counter * 60);
		snprintf(cd, sizeof(cd), "GIT_COMMITTER_DATE=%d +0000", 1700000000 + fx_date_counter * 60);
		const char *env[] = {"GIT_AUTHOR_NAME=Ada Author",
		                     "GIT_AUTHOR_EMAIL=ada@example.com",
		                     "GIT_COMMITTER_NAME=Cy Committer",
		                     "GIT_COMMITTER_EMAIL=cy@example.com",
		                     ad,
		                     cd,
		                     home,
		                     xdg,
		                     pch,
		                     fx_path_env(),
		                     "GIT_CONFIG_NOSYSTEM=1",
		                     "GIT_TERMINAL_PROMPT=0",
		                     "NO_COLOR=1",
		                     NULL};
		argv[n++] = "/usr/bin/git";
		argv[n++] = "-c";
		argv[n++] = "init.defaultBranch=main";
		argv[n++] = "-c";
		argv[n++] = "commit.gpgsign=false";
		argv[n++] = "-c";
		argv[n++] = "tag.gpgsign=false";
		argv[n++] = "-c";
		argv[n++] = "gc.auto=0";
		for (size_t i = 0; args[i] && n < 62; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		cr_assert_eq(bs_test_run(&p, argv, dir, env, stdin_data, stdin_data ? strlen(stdin_data) : 0, 120), 0);
	}
	fx_date_counter++;
	st = p.status;
	if (st != 0 && !allow_fail)
		cr_assert_fail("git %s failed (%d): %s", args[0], st, p.err.ptr);
	if (out)
		bs_buf_add(out, p.out.ptr, p.out.len);
	if (err_out)
		bs_buf_add(err_out, p.err.ptr, p.err.len);
	bs_test_proc_free(&p);
	return st;
}

static inline int fx_git_argv(const char *dir, const char *const *args, const char *stdin_data, bs_buf *out,
                              int allow_fail)
{
	return fx_git_full(dir, args, stdin_data, out, NULL, allow_fail);
}

#define FX_GIT(dir, ...)                                                                                               \
	do {                                                                                                           \
		const char *fx_args_[] = {__VA_ARGS__, NULL};                                                          \
		fx_git_argv((dir), fx_args_, NULL, NULL, 0);                                                           \
	} while (0)

/* The trimmed stdout of a git command, as a heap string. */
static inline char *fx_git_out(const char *dir, const char *const *args)
{
	bs_buf out = BS_BUF_INIT;
	fx_git_argv(dir, args, NULL, &out, 0);
	while (out.len && (out.ptr[out.len - 1] == '\n' || out.ptr[out.len - 1] == '\r'))
		bs_buf_truncate(&out, out.len - 1);
	return bs_buf_detach(&out, NULL);
}

static inline char *fx_rev(const char *dir, const char *rev)
{
	const char *args[] = {"rev-parse", rev, NULL};
	return fx_git_out(dir, args);
}

/* A new repository (non-bare) in a fresh temporary directory. */
static inline char *fx_repo_new(void)
{
	char *d = bs_test_mkdtemp();
	FX_GIT(d, "init", "-q");
	return d;
}

/* Writes a file and commits everything with message msg. */
static inline void fx_commit_file(const char *dir, const char *rel, const char *content, const char *msg)
{
	if (rel)
		bs_test_write_str(dir, rel, content);
	FX_GIT(dir, "add", "-A");
	FX_GIT(dir, "commit", "-q", "--allow-empty", "-m", msg);
}

static inline char *fx_token(void)
{
	char t[48];
	bs_test_make_bst_token(t);
	return bs_xstrdup(t);
}

/* Runs the built bstscan with args (NULL-terminated) in cwd, with a private HOME and cache. */
static inline void fx_bstscan(bs_test_proc *p, const char *cwd, const char *const *args, const char *stdin_data)
{
	const char *argv[64];
	char home[4200], cache[4300], xdg[4300];
	size_t n = 0;
	snprintf(home, sizeof(home), "HOME=%s", fx_home_dir());
	snprintf(cache, sizeof(cache), "XDG_CACHE_HOME=%s/.cache", fx_home_dir());
	snprintf(xdg, sizeof(xdg), "XDG_CONFIG_HOME=%s/.config", fx_home_dir());
	const char *env[] = {home, cache, xdg, fx_path_env(), "NO_COLOR=1", "GIT_INDEX_FILE=", "GIT_DIR=", NULL};
	argv[n++] = BSTSCAN_BIN;
	for (size_t i = 0; args[i] && n < 62; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	cr_assert_eq(bs_test_run(p, argv, cwd, env, stdin_data, stdin_data ? strlen(stdin_data) : 0, 120), 0);
}

#define FX_BSTSCAN(proc, cwd, stdin_data, ...)                                                                         \
	do {                                                                                                           \
		const char *fx_bargs_[] = {__VA_ARGS__, NULL};                                                         \
		fx_bstscan((proc), (cwd), fx_bargs_, (stdin_data));                                                    \
	} while (0)

#endif
