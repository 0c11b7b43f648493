/* `bstscan staged` end to end: the added lines of the index against HEAD. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/secure.h"
#include "tests/support/testutil.h"
#include "tests/unit/test_git_fixture.h"

TestSuite(git_staged, .timeout = 120);

static cJSON *run_staged(const char *repo, int expect_status, bs_test_proc *p)
{
	cJSON *a;
	FX_BSTSCAN(p, repo, NULL, "staged", "-f", "json");
	cr_assert_eq(p->status, expect_status, "status %d\nstdout: %s\nstderr: %s", p->status, p->out.ptr, p->err.ptr);
	a = cJSON_Parse(p->out.ptr);
	cr_assert(cJSON_IsArray(a), "%s", p->out.ptr);
	return a;
}

static const cJSON *by_token(const cJSON *a, const char *tok)
{
	char hash[65];
	const cJSON *f;
	bs_sha256_hex(tok, strlen(tok), hash);
	cJSON_ArrayForEach(f, a)
	{
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(f, "token_hash");
		if (cJSON_IsString(h) && !strcmp(h->valuestring, hash))
			return f;
	}
	return NULL;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	cr_assert(cJSON_IsNumber(v), "%s", k);
	return v->valuedouble;
}

Test(git_staged, new_and_modified_files_report_only_added_lines)
{
	char *repo = fx_repo_new(), *old = fx_token(), *t1 = fx_token(), *t2 = fx_token();
	bs_buf b = BS_BUF_INIT;
	bs_test_proc p;
	cJSON *a;
	const cJSON *f;

	bs_buf_addf(&b, "a\nOLD=%s\nc\n", old);
	fx_commit_file(repo, "mod.env", b.ptr, "old token committed long ago");

	/* Nothing staged: clean. */
	a = run_staged(repo, 0, &p);
	cr_assert_eq(cJSON_GetArraySize(a), 0);
	cJSON_Delete(a);
	bs_test_proc_free(&p);

	bs_buf_reset(&b);
	bs_buf_addf(&b, "a\nOLD=%s\nc\nd\nNEW=%s\n", old, t1);
	bs_test_write_str(repo, "mod.env", b.ptr);
	bs_buf_reset(&b);
	bs_buf_addf(&b, "first\nsecond\nthird %s\n", t2);
	bs_test_write_str(repo, "dir/new.txt", b.ptr);
	FX_GIT(repo, "add", "-A");

	a = run_staged(repo, 1, &p);
	cr_assert_eq(cJSON_GetArraySize(a), 2, "%s", p.out.ptr);
	cr_assert_null(by_token(a, old), "the old token is not staged anew");
	f = by_token(a, t1);
	cr_assert_not_null(f);
	cr_assert_eq(num(f, "line"), 5);
	f = by_token(a, t2);
	cr_assert_not_null(f);
	cr_assert_eq(num(f, "line"), 3);
	cr_assert_eq(num(f, "column"), 7);
	cJSON_Delete(a);
	bs_test_proc_free(&p);

	/* Unstaged edits are not what will be committed. */
	FX_GIT(repo, "reset", "-q");
	a = run_staged(repo, 0, &p);
	cJSON_Delete(a);
	bs_test_proc_free(&p);
	free(old);
	free(t1);
	free(t2);
	bs_buf_free(&b);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_staged, binary_file_allow_marker_and_unborn_branch)
{
	char *repo = fx_repo_new(), *tb = fx_token(), *ta = fx_token(), *tu = fx_token();
	bs_buf b = BS_BUF_INIT;
	bs_test_proc p;
	cJSON *a;
	const cJSON *f;

	/* Unborn branch: the whole index is new. */
	bs_buf_addf(&b, "x\n%s\n", tu);
	bs_test_write_str(repo, "first.txt", b.ptr);
	FX_GIT(repo, "add", "-A");
	a = run_staged(repo, 1, &p);
	cr_assert_eq(cJSON_GetArraySize(a), 1);
	cr_assert_not_null(by_token(a, tu));
	cJSON_Delete(a);
	bs_test_proc_free(&p);
	FX_GIT(repo, "commit", "-q", "-m", "first");

	/* A binary file (NUL bytes) and an allowed line. */
	bs_buf_reset(&b);
	bs_buf_add(&b,
	           "\x7f"
	           "ELF\0\0\0\x01",
	           8);
	bs_buf_addf(&b, "%s", tb);
	bs_buf_add(&b, "\0\0\xff", 3);
	bs_test_write_file(repo, "blob.bin", b.ptr, b.len);
	bs_buf_reset(&b);
	bs_buf_addf(&b, "TEST_TOKEN=%s  # bstscan:allow fixture\n", ta);
	bs_test_write_str(repo, "allowed.env", b.ptr);
	FX_GIT(repo, "add", "-A");
	a = run_staged(repo, 1, &p);
	cr_assert_eq(cJSON_GetArraySize(a), 1, "%s", p.out.ptr);
	f = by_token(a, tb);
	cr_assert_not_null(f);
	cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "binary")));
	cr_assert_null(by_token(a, ta), "bstscan:allow is honoured");
	cJSON_Delete(a);
	bs_test_proc_free(&p);
	FX_GIT(repo, "commit", "-q", "-m", "binary");

	/* Editing the binary file elsewhere does not report its old token again. */
	bs_buf_reset(&b);
	bs_buf_add(&b,
	           "\x7f"
	           "ELF\0\0\0\x02",
	           8);
	bs_buf_addf(&b, "%s", tb);
	bs_buf_add(&b, "\0\0\xfe", 3);
	bs_test_write_file(repo, "blob.bin", b.ptr, b.len);
	FX_GIT(repo, "add", "-A");
	a = run_staged(repo, 0, &p);
	cJSON_Delete(a);
	bs_test_proc_free(&p);
	free(tb);
	free(ta);
	free(tu);
	bs_buf_free(&b);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_staged, renamed_file_is_not_reported_again_and_bare_is_an_error)
{
	char *repo = fx_repo_new(), *tok = fx_token(), *bare = bs_test_mkdtemp();
	bs_buf b = BS_BUF_INIT;
	bs_test_proc p;
	cJSON *a;

	bs_buf_addf(&b, "one\ntwo\nthree\n%s\nfive\nsix\n", tok);
	fx_commit_file(repo, "before.txt", b.ptr, "token committed");
	FX_GIT(repo, "mv", "before.txt", "after.txt");
	a = run_staged(repo, 0, &p);
	cJSON_Delete(a);
	bs_test_proc_free(&p);

	FX_GIT(bare, "init", "-q", "--bare", ".");
	FX_BSTSCAN(&p, bare, NULL, "staged");
	cr_assert_eq(p.status, 2);
	cr_assert_not_null(strstr(p.err.ptr, "bare"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	free(tok);
	bs_buf_free(&b);
	bs_test_rmtree(repo);
	bs_test_rmtree(bare);
	free(repo);
	free(bare);
}

/* The index is read by our own reader (versions 2 to 4) and, when it holds something that reader leaves to
 * libgit2 (an intent-to-add entry here), by libgit2: both give the same answer. */
Test(git_staged, index_versions_and_the_libgit2_fallback)
{
	char *repo = fx_repo_new(), *old = fx_token(), *tok = fx_token();
	bs_buf b = BS_BUF_INIT;
	const char *versions[] = {"2", "3", "4"};
	bs_test_proc p;
	cJSON *a;

	bs_buf_addf(&b, "keep=%s\n", old);
	fx_commit_file(repo, "dir/a.env", b.ptr, "base");
	for (int i = 0; i < 30; i++) {
		char name[64];
		snprintf(name, sizeof(name), "dir/sub%d/file%d.txt", i % 4, i);
		bs_test_write_str(repo, name, "filler\n");
	}
	fx_commit_file(repo, NULL, NULL, "more files");
	bs_buf_reset(&b);
	bs_buf_addf(&b, "keep=%s\nadded=%s\n", old, tok);
	bs_test_write_str(repo, "dir/a.env", b.ptr);
	bs_test_write_str(repo, "dir/sub1/new.txt", "new file\n");
	FX_GIT(repo, "add", "-A");
	for (int v = 0; v < 3; v++) {
		FX_GIT(repo, "update-index", "--index-version", versions[v]);
		a = run_staged(repo, 1, &p);
		cr_assert_eq(cJSON_GetArraySize(a), 1, "index v%s: %s", versions[v], p.out.ptr);
		cr_assert_not_null(by_token(a, tok));
		cr_assert_eq(num(by_token(a, tok), "line"), 2);
		cJSON_Delete(a);
		bs_test_proc_free(&p);
	}
	bs_test_write_str(repo, "later.txt", "intent to add\n");
	FX_GIT(repo, "add", "-N", "later.txt");
	a = run_staged(repo, 1, &p);
	cr_assert_eq(cJSON_GetArraySize(a), 1, "through libgit2: %s", p.out.ptr);
	cr_assert_not_null(by_token(a, tok));
	cJSON_Delete(a);
	bs_test_proc_free(&p);
	free(old);
	free(tok);
	bs_buf_free(&b);
	bs_test_rmtree(repo);
	free(repo);
}

/* A bare repository with a separate work tree (the "dotfiles" layout): git runs hooks with GIT_DIR set and the work
 * tree as the current directory, which holds no .git. */
Test(git_staged, repository_named_by_git_dir)
{
	char *dir = bs_test_mkdtemp(), *tok = fx_token();
	bs_buf gitdir = BS_BUF_INIT, work = BS_BUF_INIT, b = BS_BUF_INIT, e1 = BS_BUF_INIT, e2 = BS_BUF_INIT;
	bs_test_proc p;
	const char *argv[] = {BSTSCAN_BIN, "staged", "-f", "json", NULL};

	bs_buf_addf(&gitdir, "%s/cfg.git", dir);
	bs_buf_addf(&work, "%s/home", dir);
	FX_GIT(dir, "init", "-q", "--bare", gitdir.ptr);
	bs_buf_addf(&b, "TOKEN=%s\n", tok);
	bs_test_write_str(work.ptr, ".env", b.ptr);
	FX_GIT(work.ptr, "--git-dir", gitdir.ptr, "--work-tree", work.ptr, "add", ".env");
	bs_buf_addf(&e1, "GIT_DIR=%s", gitdir.ptr);
	bs_buf_addf(&e2, "GIT_WORK_TREE=%s", work.ptr);
	{
		const char *env[] = {e1.ptr, e2.ptr, "GIT_INDEX_FILE=", NULL};
		cr_assert_eq(bs_test_run(&p, argv, work.ptr, env, NULL, 0, 60), 0);
	}
	cr_assert_eq(p.status, 1, "%s%s", p.out.ptr, p.err.ptr);
	cr_assert_not_null(strstr(p.out.ptr, ".env"));
	bs_test_proc_free(&p);
	free(tok);
	bs_buf_free(&gitdir);
	bs_buf_free(&work);
	bs_buf_free(&b);
	bs_buf_free(&e1);
	bs_buf_free(&e2);
	bs_test_rmtree(dir);
	free(dir);
}
