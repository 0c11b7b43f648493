/* `bstscan git` end to end: the real binary on fixture repositories, JSON output and exit codes. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/secure.h"
#include "tests/support/testutil.h"
#include "tests/unit/test_git_fixture.h"

TestSuite(git_cli, .timeout = 120);

static cJSON *parse_report(const bs_test_proc *p)
{
	cJSON *a = cJSON_Parse(p->out.ptr);
	cr_assert_not_null(a, "not JSON: %s\nstderr: %s", p->out.ptr, p->err.ptr);
	cr_assert(cJSON_IsArray(a));
	return a;
}

static const char *str_field(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	cr_assert(cJSON_IsString(v), "field %s missing or not a string", k);
	return v->valuestring;
}

static double num_field(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	cr_assert(cJSON_IsNumber(v), "field %s missing or not a number", k);
	return v->valuedouble;
}

static int bool_field(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	cr_assert(cJSON_IsBool(v), "field %s missing or not a boolean", k);
	return cJSON_IsTrue(v);
}

/* The finding whose token_hash matches tok's, or NULL. */
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

static void write_tok_file(const char *repo, const char *rel, const char *before, const char *tok, const char *after)
{
	bs_buf b = BS_BUF_INIT;
	bs_buf_addf(&b, "%sTOKEN=%s\n%s", before, tok, after);
	bs_test_write_str(repo, rel, b.ptr);
	bs_buf_free(&b);
}

Test(git_cli, full_history_json_has_provenance_and_exit_codes)
{
	char *repo = fx_repo_new(), *tok = fx_token(), *adding;
	bs_test_proc p;
	cJSON *a;
	const cJSON *f;

	fx_commit_file(repo, "README", "clean\n", "first");
	FX_BSTSCAN(&p, repo, NULL, "git", "-f", "json", ".");
	cr_assert_eq(p.status, 0, "clean history exits 0: %s", p.err.ptr);
	bs_test_proc_free(&p);

	write_tok_file(repo, "src/app.cfg", "a\nb\n", tok, "c\n");
	fx_commit_file(repo, NULL, NULL, "add app config");
	adding = fx_rev(repo, "HEAD");
	FX_GIT(repo, "rm", "-q", "src/app.cfg");
	fx_commit_file(repo, NULL, NULL, "remove it");

	FX_BSTSCAN(&p, repo, NULL, "git", "--format", "json", "-j", "2", ".");
	cr_assert_eq(p.status, 1, "%s", p.err.ptr);
	a = parse_report(&p);
	cr_assert_eq(cJSON_GetArraySize(a), 1);
	f = by_token(a, tok);
	cr_assert_not_null(f);
	cr_assert_str_eq(str_field(f, "path"), "src/app.cfg");
	cr_assert_eq(num_field(f, "line"), 3);
	cr_assert_str_eq(str_field(f, "repository"), ".");
	cr_assert_str_eq(str_field(f, "commit"), adding);
	cr_assert_str_eq(str_field(f, "author_name"), "Ada Author");
	cr_assert_str_eq(str_field(f, "author_email"), "ada@example.com");
	cr_assert_str_eq(str_field(f, "summary"), "add app config");
	cr_assert_eq(strlen(str_field(f, "date")), 20);
	cr_assert_eq(bool_field(f, "in_head"), 0);
	cr_assert_eq(bool_field(f, "reachable"), 1);
	cr_assert_null(strstr(p.out.ptr, tok), "the raw secret is not printed");
	cr_assert_eq(p.err.len, 0, "no progress line when stderr is not a terminal: %s", p.err.ptr);
	cJSON_Delete(a);
	bs_test_proc_free(&p);

	/* --exit-code and the text format name the commit too. */
	FX_BSTSCAN(&p, repo, NULL, "git", "--exit-code", "7");
	cr_assert_eq(p.status, 7);
	cr_assert_not_null(strstr(p.out.ptr, "src/app.cfg"));
	bs_test_proc_free(&p);
	free(adding);
	free(tok);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_cli, range_scans_only_added_lines_with_new_file_line_numbers)
{
	char *repo = fx_repo_new(), *old = fx_token(), *new_tok = fx_token(), *msg_tok = fx_token(), *base, *tip;
	bs_buf content = BS_BUF_INIT, msg = BS_BUF_INIT, range = BS_BUF_INIT;
	bs_test_proc p;
	cJSON *a;
	const cJSON *f;

	write_tok_file(repo, "app.env", "one\n", old, "three\nfour\n");
	fx_commit_file(repo, NULL, NULL, "base with an old token");
	base = fx_rev(repo, "HEAD");
	/* The new token lands on line 5 of the new file; the old one (line 2) is untouched. */
	bs_buf_addf(&content, "one\nTOKEN=%s\nthree\nfour\nNEW=%s\nsix\n", old, new_tok);
	bs_test_write_str(repo, "app.env", content.ptr);
	bs_buf_addf(&msg, "add new\n\npasted %s\n", msg_tok);
	fx_commit_file(repo, NULL, NULL, msg.ptr);
	tip = fx_rev(repo, "HEAD");
	fx_commit_file(repo, "later.txt", "nothing\n", "later");

	bs_buf_addf(&range, "%s..%s", base, tip);
	FX_BSTSCAN(&p, repo, NULL, "git", "-f", "json", "--range", range.ptr);
	cr_assert_eq(p.status, 1, "%s", p.err.ptr);
	a = parse_report(&p);
	cr_assert_eq(cJSON_GetArraySize(a), 2, "%s", p.out.ptr);
	cr_assert_null(by_token(a, old), "an old token in a touched file is not reported again");
	f = by_token(a, new_tok);
	cr_assert_not_null(f);
	cr_assert_str_eq(str_field(f, "path"), "app.env");
	cr_assert_eq(num_field(f, "line"), 5);
	cr_assert_eq(num_field(f, "column"), 5);
	cr_assert_str_eq(str_field(f, "commit"), tip);
	cr_assert_eq(bool_field(f, "in_head"), 1);
	f = by_token(a, msg_tok);
	cr_assert_not_null(f, "the commit message is scanned too");
	cr_assert_str_eq(str_field(f, "path"), "");
	cJSON_Delete(a);
	bs_test_proc_free(&p);

	FX_BSTSCAN(&p, repo, NULL, "git", "-f", "json", "--since-commit", base);
	cr_assert_eq(p.status, 1);
	a = parse_report(&p);
	cr_assert_eq(cJSON_GetArraySize(a), 2);
	cJSON_Delete(a);
	bs_test_proc_free(&p);

	FX_BSTSCAN(&p, repo, NULL, "git", "-f", "json", "--since-commit", tip);
	cr_assert_eq(p.status, 0, "nothing added after tip: %s", p.out.ptr);
	bs_test_proc_free(&p);

	FX_BSTSCAN(&p, repo, NULL, "git", "--range", "nosuchref..HEAD");
	cr_assert_eq(p.status, 2);
	cr_assert_not_null(strstr(p.err.ptr, "nosuchref"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	free(base);
	free(tip);
	free(old);
	free(new_tok);
	free(msg_tok);
	bs_buf_free(&content);
	bs_buf_free(&msg);
	bs_buf_free(&range);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_cli, several_repositories_a_url_and_one_that_fails)
{
	char *r1 = fx_repo_new(), *r2 = fx_repo_new(), *t1 = fx_token(), *t2 = fx_token(), *missing = bs_test_mkdtemp();
	bs_buf url = BS_BUF_INIT, cache = BS_BUF_INIT;
	bs_test_proc p;
	cJSON *a;
	struct stat st;

	write_tok_file(r1, "a.txt", "", t1, "");
	fx_commit_file(r1, NULL, NULL, "one");
	write_tok_file(r2, "b.txt", "", t2, "");
	fx_commit_file(r2, NULL, NULL, "two");
	bs_buf_addf(&url, "file://%s", r2);

	FX_BSTSCAN(&p, "/", NULL, "git", "-f", "json", r1, missing, url.ptr);
	cr_assert_eq(p.status, 1, "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, missing), "the failing repository is named: %s", p.err.ptr);
	a = parse_report(&p);
	cr_assert_eq(cJSON_GetArraySize(a), 2);
	cr_assert_str_eq(str_field(by_token(a, t1), "repository"), r1);
	cr_assert_str_eq(str_field(by_token(a, t2), "repository"), url.ptr);
	cJSON_Delete(a);
	bs_test_proc_free(&p);
	bs_buf_addf(&cache, "%s/.cache/bstscan/repos", fx_home_dir());
	cr_assert_eq(stat(cache.ptr, &st), 0, "the URL was cloned into the cache");

	/* Nothing found but a repository failed: the run failed. */
	FX_BSTSCAN(&p, "/", NULL, "git", "-f", "json", missing);
	cr_assert_eq(p.status, 2);
	cr_assert_eq(p.out.len, 0, "no report when nothing was scanned: %s", p.out.ptr);
	bs_test_proc_free(&p);
	free(t1);
	free(t2);
	bs_buf_free(&url);
	bs_buf_free(&cache);
	bs_test_rmtree(r1);
	bs_test_rmtree(r2);
	bs_test_rmtree(missing);
	free(r1);
	free(r2);
	free(missing);
}

Test(git_cli, corrupt_object_is_named_on_stderr)
{
	char *repo = fx_repo_new(), *good = fx_token(), *id;
	bs_buf obj = BS_BUF_INIT;
	const char *args[] = {"rev-parse", "HEAD:other.txt", NULL};
	bs_test_proc p;
	int fd;

	write_tok_file(repo, "good.txt", "", good, "");
	fx_commit_file(repo, "other.txt", "some other content that will be garbled\n", "files");
	id = fx_git_out(repo, args);
	bs_buf_addf(&obj, "%s/.git/objects/%.2s/%s", repo, id, id + 2);
	chmod(obj.ptr, 0644);
	fd = open(obj.ptr, O_WRONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(pwrite(fd, "\xde\xad\xbe\xef\xde\xad\xbe\xef", 8, 2), 8);
	close(fd);
	FX_BSTSCAN(&p, repo, NULL, "git", "-f", "json");
	cr_assert_eq(p.status, 1, "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, id), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	free(id);
	free(good);
	bs_buf_free(&obj);
	bs_test_rmtree(repo);
	free(repo);
}

/* A clone with a bare "remote": what pre-push sees. */
typedef struct push_fixture {
	char *dir, *remote, *work;
	char *old_tok;
} push_fixture;

static void push_fixture_new(push_fixture *px)
{
	bs_buf r = BS_BUF_INIT, w = BS_BUF_INIT;
	px->dir = bs_test_mkdtemp();
	bs_buf_addf(&r, "%s/remote.git", px->dir);
	bs_buf_addf(&w, "%s/work", px->dir);
	px->remote = bs_buf_detach(&r, NULL);
	px->work = bs_buf_detach(&w, NULL);
	FX_GIT(px->dir, "init", "-q", "--bare", px->remote);
	FX_GIT(px->dir, "clone", "-q", px->remote, px->work);
	px->old_tok = fx_token();
	/* History the remote already has holds a token: pushes must not re-report it. */
	write_tok_file(px->work, "old.env", "", px->old_tok, "");
	fx_commit_file(px->work, NULL, NULL, "old token, already pushed");
	FX_GIT(px->work, "push", "-q", "origin", "main");
}

static void push_fixture_free(push_fixture *px)
{
	bs_test_rmtree(px->dir);
	free(px->dir);
	free(px->remote);
	free(px->work);
	free(px->old_tok);
}

Test(git_cli, pre_push_scans_exactly_the_pushed_commits)
{
	push_fixture px;
	char *tok = fx_token(), *remote_sha, *local_sha, *branch_sha;
	bs_buf lines = BS_BUF_INIT;
	bs_test_proc p;
	cJSON *a;
	const char *zero = "0000000000000000000000000000000000000000";

	push_fixture_new(&px);
	remote_sha = fx_rev(px.work, "origin/main");
	fx_commit_file(px.work, "clean.txt", "clean\n", "clean change");
	local_sha = fx_rev(px.work, "HEAD");

	/* Existing branch, clean commits: allowed although older history holds a token. */
	bs_buf_addf(&lines, "refs/heads/main %s refs/heads/main %s\n", local_sha, remote_sha);
	FX_BSTSCAN(&p, px.work, lines.ptr, "git", "--pre-push", "-f", "json");
	cr_assert_eq(p.status, 0, "%s%s", p.out.ptr, p.err.ptr);
	bs_test_proc_free(&p);

	/* A new branch with a token, plus a deletion line that must be skipped. */
	FX_GIT(px.work, "checkout", "-q", "-b", "feature");
	write_tok_file(px.work, "feature.env", "x\n", tok, "");
	fx_commit_file(px.work, NULL, NULL, "feature with token");
	branch_sha = fx_rev(px.work, "HEAD");
	bs_buf_reset(&lines);
	bs_buf_addf(&lines, "refs/heads/feature %s refs/heads/feature %s\n(delete) %s refs/heads/gone %s\n", branch_sha,
	            zero, zero, remote_sha);
	FX_BSTSCAN(&p, px.work, lines.ptr, "git", "--pre-push", "-f", "json");
	cr_assert_eq(p.status, 1, "%s", p.err.ptr);
	a = parse_report(&p);
	cr_assert_eq(cJSON_GetArraySize(a), 1, "%s", p.out.ptr);
	cr_assert_not_null(by_token(a, tok));
	cr_assert_str_eq(str_field(cJSON_GetArrayItem(a, 0), "commit"), branch_sha);
	cr_assert_eq(num_field(cJSON_GetArrayItem(a, 0), "line"), 2);
	cJSON_Delete(a);
	bs_test_proc_free(&p);

	/* Only deletions: nothing to scan. */
	bs_buf_reset(&lines);
	bs_buf_addf(&lines, "(delete) %s refs/heads/gone %s\n", zero, remote_sha);
	FX_BSTSCAN(&p, px.work, lines.ptr, "git", "--pre-push", "-f", "json");
	cr_assert_eq(p.status, 0);
	bs_test_proc_free(&p);

	free(tok);
	free(remote_sha);
	free(local_sha);
	free(branch_sha);
	bs_buf_free(&lines);
	push_fixture_free(&px);
}

Test(git_cli, usage_errors_exit_2)
{
	bs_test_proc p;
	FX_BSTSCAN(&p, "/", NULL, "git", "--range", "a..b", "--since-commit", "c");
	cr_assert_eq(p.status, 2);
	bs_test_proc_free(&p);
	FX_BSTSCAN(&p, "/", NULL, "git", "--bogus");
	cr_assert_eq(p.status, 2);
	bs_test_proc_free(&p);
	FX_BSTSCAN(&p, "/", NULL, "git", "--help");
	cr_assert_eq(p.status, 0);
	cr_assert_not_null(strstr(p.out.ptr, "--range"));
	bs_test_proc_free(&p);
}

Test(git_cli, progress_line_only_on_a_terminal_and_not_quiet)
{
	char *repo = fx_repo_new();
	bs_buf cmd = BS_BUF_INIT;
	bs_test_proc p;
	const char *argv[] = {"/usr/bin/script", "-qec", NULL, "/dev/null", NULL};
	fx_commit_file(repo, "README", "clean\n", "first");
	/* script(1) gives the command a terminal; its output is what the terminal showed. */
	bs_buf_addf(&cmd, "%s git -f json -o /dev/null %s", BSTSCAN_BIN, repo);
	argv[2] = cmd.ptr;
	cr_assert_eq(bs_test_run(&p, argv, NULL, NULL, NULL, 0, 60), 0);
	cr_assert_eq(p.status, 0, "%s", p.out.ptr);
	cr_assert_not_null(strstr(p.out.ptr, "objects"), "progress on a terminal: %s", p.out.ptr);
	bs_test_proc_free(&p);
	bs_buf_addf(&cmd, " --quiet");
	argv[2] = cmd.ptr;
	cr_assert_eq(bs_test_run(&p, argv, NULL, NULL, NULL, 0, 60), 0);
	cr_assert_null(strstr(p.out.ptr, "objects"), "--quiet: %s", p.out.ptr);
	bs_test_proc_free(&p);
	bs_buf_free(&cmd);
	bs_test_rmtree(repo);
	free(repo);
}

/* Peak RSS in KB of bstscan git on repo (a bound under the blob's 50 MB, with room for sanitizer builds), from
 * /usr/bin/time; checks one finding came out. */
static long peak_rss_kb(const char *repo)
{
	bs_test_proc p;
	const char *argv[] = {"/usr/bin/time", "-f", "RSS=%M", BSTSCAN_BIN, "git", "-q", "-f", "jsonl", repo, NULL};
	const char *rss;
	long kb;
	cr_assert_eq(bs_test_run(&p, argv, NULL, NULL, NULL, 0, 120), 0);
	cr_assert_eq(p.status, 1, "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.out.ptr, "big.log"));
	rss = strstr(p.err.ptr, "RSS=");
	cr_assert_not_null(rss, "%s", p.err.ptr);
	kb = strtol(rss + 4, NULL, 10);
	bs_test_proc_free(&p);
	return kb;
}

Test(git_cli, fifty_megabyte_blob_is_streamed_in_bounded_memory)
{
	char *repo = fx_repo_new(), *tok = fx_token(), *path = bs_xasprintf("%s/big.log", repo);
	FILE *f = fopen(path, "w");
	size_t written = 0;
	long kb;
	cr_assert_not_null(f);
	for (unsigned i = 0; written < (size_t)50 * 1024 * 1024; i++)
		written += (size_t)fprintf(f, "%08u some log line that does not hold anything of interest\n", i);
	fprintf(f, "late: %s\n", tok);
	fclose(f);
	fx_commit_file(repo, NULL, NULL, "big");
	kb = peak_rss_kb(repo);
	cr_assert_lt(kb, 46 * 1024, "loose: peak RSS %ld KB holds the 50 MB blob", kb);
	FX_GIT(repo, "gc", "-q");
	kb = peak_rss_kb(repo);
	cr_assert_lt(kb, 46 * 1024, "packed: peak RSS %ld KB holds the 50 MB blob", kb);
	free(path);
	free(tok);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_cli, range_through_a_merge_reports_only_what_the_merge_added)
{
	char *repo = fx_repo_new(), *upstream_tok = fx_token(), *evil = fx_token(), *merge;
	bs_buf b = BS_BUF_INIT;
	bs_test_proc p;
	cJSON *a;

	fx_commit_file(repo, "README", "base\n", "base");
	FX_GIT(repo, "checkout", "-q", "-b", "feature");
	fx_commit_file(repo, "feature.txt", "clean work\n", "feature work");
	FX_GIT(repo, "checkout", "-q", "main");
	write_tok_file(repo, "upstream.env", "", upstream_tok, "");
	fx_commit_file(repo, NULL, NULL, "upstream already has this token");
	FX_GIT(repo, "checkout", "-q", "feature");
	/* Merge main into the branch, and slip a new token into the merge itself. */
	FX_GIT(repo, "merge", "-q", "--no-ff", "--no-commit", "main");
	bs_buf_addf(&b, "clean work\nEVIL=%s\n", evil);
	bs_test_write_str(repo, "feature.txt", b.ptr);
	FX_GIT(repo, "add", "-A");
	FX_GIT(repo, "commit", "-q", "-m", "merge main");
	merge = fx_rev(repo, "HEAD");

	FX_BSTSCAN(&p, repo, NULL, "git", "-f", "json", "--range", "main..feature");
	cr_assert_eq(p.status, 1, "%s", p.err.ptr);
	a = parse_report(&p);
	cr_assert_eq(cJSON_GetArraySize(a), 1, "%s", p.out.ptr);
	cr_assert_null(by_token(a, upstream_tok), "what main already had is not the branch's doing");
	cr_assert_not_null(by_token(a, evil));
	cr_assert_str_eq(str_field(by_token(a, evil), "commit"), merge);
	cr_assert_eq(num_field(by_token(a, evil), "line"), 2);
	cJSON_Delete(a);
	bs_test_proc_free(&p);
	free(merge);
	free(upstream_tok);
	free(evil);
	bs_buf_free(&b);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_cli, range_on_a_shallow_clone)
{
	char *repo = fx_repo_new(), *work = bs_test_mkdtemp(), *tok = fx_token(), *old = fx_token();
	bs_buf url = BS_BUF_INIT, clone = BS_BUF_INIT;
	bs_test_proc p;
	cJSON *a;

	write_tok_file(repo, "old.env", "", old, "");
	fx_commit_file(repo, NULL, NULL, "old");
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d.txt", i);
		fx_commit_file(repo, name, "x\n", "filler");
	}
	write_tok_file(repo, "new.env", "", tok, "");
	fx_commit_file(repo, NULL, NULL, "new token");
	bs_buf_addf(&url, "file://%s", repo);
	bs_buf_addf(&clone, "%s/shallow", work);
	FX_GIT(work, "clone", "-q", "--depth", "3", url.ptr, clone.ptr);

	/* libgit2's own revision walk fails on the missing parents; ours treats the boundary as a root. */
	FX_BSTSCAN(&p, clone.ptr, NULL, "git", "-f", "json", "--range", "HEAD~1..HEAD");
	cr_assert_eq(p.status, 1, "%s", p.err.ptr);
	a = parse_report(&p);
	cr_assert_eq(cJSON_GetArraySize(a), 1);
	cr_assert_not_null(by_token(a, tok));
	cJSON_Delete(a);
	bs_test_proc_free(&p);
	free(tok);
	free(old);
	bs_buf_free(&url);
	bs_buf_free(&clone);
	bs_test_rmtree(repo);
	bs_test_rmtree(work);
	free(repo);
	free(work);
}
