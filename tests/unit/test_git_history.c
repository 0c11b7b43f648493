/* The full-history scan (scanner/source_git.c) on fixture repositories built with the git command. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fs.h"
#include "scanner/engine.h"
#include "scanner/rule.h"
#include "scanner/source_git.h"
#include "tests/support/testutil.h"
#include "tests/unit/test_git_fixture.h"

static bs_ruleset *rules;
static bs_scanner *scanner;

typedef struct err_log {
	bs_buf text;
	int count;
} err_log;

static void on_error(void *ud, const char *what, const char *reason)
{
	err_log *l = ud;
	bs_buf_addf(&l->text, "%s: %s\n", what, reason);
	l->count++;
}

static void setup(void)
{
	bs_error err = BS_ERROR_INIT;
	rules = bs_ruleset_new();
	cr_assert_eq(bs_ruleset_load_default(rules, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scanner_new(&scanner, rules, NULL, &err), 0, "%s", err.message);
}

static void teardown(void)
{
	bs_scanner_free(scanner);
	bs_ruleset_free(rules);
}

TestSuite(git_history, .init = setup, .fini = teardown, .timeout = 120);

/* Scans path; returns the findings (sorted) and fills the error log. */
static bs_findings scan_opts(const char *path, int jobs, int all_objects, err_log *log)
{
	bs_findings fs = BS_FINDINGS_INIT;
	bs_git_opts o;
	bs_git_stats st;
	bs_error err = BS_ERROR_INIT;
	memset(&o, 0, sizeof(o));
	o.repository = "fixture";
	o.jobs = jobs;
	o.all_objects = all_objects;
	o.on_error = on_error;
	o.ud = log;
	cr_assert_eq(bs_git_scan_history(scanner, path, &o, &fs, &st, &err), 0, "%s", err.message);
	bs_findings_sort(&fs);
	return fs;
}

static bs_findings scan(const char *path, err_log *log)
{
	return scan_opts(path, 2, 0, log);
}

static const bs_finding *find_secret(const bs_findings *fs, const char *tok)
{
	for (size_t i = 0; i < fs->len; i++)
		if (fs->items[i]->secret && !strcmp(fs->items[i]->secret, tok))
			return fs->items[i];
	return NULL;
}

static size_t count_secret(const bs_findings *fs, const char *tok)
{
	size_t n = 0;
	for (size_t i = 0; i < fs->len; i++)
		n += fs->items[i]->secret && !strcmp(fs->items[i]->secret, tok);
	return n;
}

Test(git_history, token_added_then_deleted_is_attributed_to_the_adding_commit)
{
	char *repo = fx_repo_new(), *tok = fx_token(), *adding;
	bs_buf content = BS_BUF_INIT;
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs;
	const bs_finding *f;

	fx_commit_file(repo, "README", "hello\n", "first");
	bs_buf_addf(&content, "line one\nAPI_TOKEN=%s\n", tok);
	fx_commit_file(repo, "config/app.env", content.ptr, "add config\n\nlonger body");
	adding = fx_rev(repo, "HEAD");
	fx_commit_file(repo, "config/app.env", "line one\n", "remove the token");
	fx_commit_file(repo, "other", "x\n", "later");

	fs = scan(repo, &log);
	cr_assert_eq(log.count, 0, "%s", log.text.ptr);
	cr_assert_eq(fs.len, 1);
	f = fs.items[0];
	cr_assert_str_eq(f->secret, tok);
	cr_assert_str_eq(f->path, "config/app.env");
	cr_assert_eq(f->line, 2);
	cr_assert_not_null(f->git);
	cr_assert_str_eq(f->git->commit, adding);
	cr_assert_str_eq(f->git->repository, "fixture");
	cr_assert_str_eq(f->git->author_name, "Ada Author");
	cr_assert_str_eq(f->git->author_email, "ada@example.com");
	cr_assert_str_eq(f->git->summary, "add config");
	cr_assert_eq(strlen(f->git->date), 20);
	cr_assert_eq(f->git->date[19], 'Z');
	cr_assert_eq(f->git->in_head, 0);
	cr_assert_eq(f->git->reachable, 1);
	cr_assert_eq(strlen(f->git->blob), 40);
	bs_findings_free(&fs);
	free(adding);
	free(tok);
	bs_buf_free(&content);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_history, token_still_in_head_is_marked_in_head_and_found_once)
{
	char *repo = fx_repo_new(), *tok = fx_token(), *first;
	bs_buf a = BS_BUF_INIT, b = BS_BUF_INIT;
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs;

	bs_buf_addf(&a, "key = \"%s\"\n", tok);
	fx_commit_file(repo, "a.py", a.ptr, "one");
	first = fx_rev(repo, "HEAD");
	/* The same blob at another path, and an edit elsewhere in the file later: one blob, one finding. */
	bs_test_write_str(repo, "copy/a.py", a.ptr);
	fx_commit_file(repo, NULL, NULL, "copy");
	bs_buf_addf(&b, "# header\nkey = \"%s\"\n", tok);
	fx_commit_file(repo, "a.py", b.ptr, "edit");

	fs = scan(repo, &log);
	cr_assert_eq(log.count, 0, "%s", log.text.ptr);
	/* Two distinct blobs hold the token: the original (a.py and its copy) and the edited a.py. */
	cr_assert_eq(count_secret(&fs, tok), 2);
	for (size_t i = 0; i < fs.len; i++) {
		cr_assert_str_eq(fs.items[i]->path, "a.py");
		cr_assert_eq(fs.items[i]->git->in_head, 1, "the token is still in HEAD's a.py");
	}
	cr_assert(strcmp(fs.items[0]->git->commit, first) == 0 || strcmp(fs.items[1]->git->commit, first) == 0);
	bs_findings_free(&fs);
	free(first);
	free(tok);
	bs_buf_free(&a);
	bs_buf_free(&b);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_history, token_only_on_a_tag_and_in_messages)
{
	char *repo = fx_repo_new(), *t1 = fx_token(), *t2 = fx_token(), *t3 = fx_token(), *tagged;
	bs_buf content = BS_BUF_INIT, msg = BS_BUF_INIT, tagmsg = BS_BUF_INIT;
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs;
	const bs_finding *f;

	fx_commit_file(repo, "README", "hello\n", "first");
	FX_GIT(repo, "checkout", "-q", "-b", "release");
	bs_buf_addf(&content, "%s\n", t1);
	bs_buf_addf(&msg, "release notes\n\ntoken=%s\n", t2);
	fx_commit_file(repo, "secret.txt", content.ptr, msg.ptr);
	tagged = fx_rev(repo, "HEAD");
	bs_buf_addf(&tagmsg, "v1 with %s", t3);
	FX_GIT(repo, "tag", "-a", "v1", "-m", tagmsg.ptr);
	FX_GIT(repo, "checkout", "-q", "main");
	FX_GIT(repo, "branch", "-q", "-D", "release");

	fs = scan(repo, &log);
	cr_assert_eq(log.count, 0, "%s", log.text.ptr);
	cr_assert_eq(fs.len, 3);
	f = find_secret(&fs, t1);
	cr_assert_not_null(f);
	cr_assert_str_eq(f->path, "secret.txt");
	cr_assert_str_eq(f->git->commit, tagged);
	cr_assert_eq(f->git->in_head, 0);
	f = find_secret(&fs, t2);
	cr_assert_not_null(f, "commit message token");
	cr_assert_str_eq(f->path, "");
	cr_assert_str_eq(f->git->commit, tagged);
	cr_assert_eq(f->line, 3);
	f = find_secret(&fs, t3);
	cr_assert_not_null(f, "annotated tag message token");
	cr_assert_str_eq(f->path, "");
	cr_assert_str_eq(f->git->commit, tagged);
	cr_assert_str_eq(f->git->author_name, "Cy Committer");
	bs_findings_free(&fs);
	free(tagged);
	free(t1);
	free(t2);
	free(t3);
	bs_buf_free(&content);
	bs_buf_free(&msg);
	bs_buf_free(&tagmsg);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_history, renamed_file_keeps_its_original_path_and_commit)
{
	char *repo = fx_repo_new(), *tok = fx_token(), *adding;
	bs_buf content = BS_BUF_INIT;
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs;

	bs_buf_addf(&content, "x\n%s\n", tok);
	fx_commit_file(repo, "old/name.txt", content.ptr, "add");
	adding = fx_rev(repo, "HEAD");
	FX_GIT(repo, "mv", "old/name.txt", "new-name.txt");
	fx_commit_file(repo, NULL, NULL, "rename");

	fs = scan(repo, &log);
	cr_assert_eq(fs.len, 1);
	cr_assert_str_eq(fs.items[0]->path, "old/name.txt");
	cr_assert_str_eq(fs.items[0]->git->commit, adding);
	cr_assert_eq(fs.items[0]->git->in_head, 0);
	bs_findings_free(&fs);
	free(adding);
	free(tok);
	bs_buf_free(&content);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_history, token_introduced_by_a_merge_commit)
{
	char *repo = fx_repo_new(), *tok = fx_token(), *merge, *branch_tok = fx_token(), *branch_commit;
	bs_buf content = BS_BUF_INIT, bc = BS_BUF_INIT;
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs;
	const bs_finding *f;

	fx_commit_file(repo, "README", "hello\n", "first");
	FX_GIT(repo, "checkout", "-q", "-b", "topic");
	bs_buf_addf(&bc, "%s\n", branch_tok);
	fx_commit_file(repo, "topic.txt", bc.ptr, "topic work");
	branch_commit = fx_rev(repo, "HEAD");
	FX_GIT(repo, "checkout", "-q", "main");
	fx_commit_file(repo, "main.txt", "m\n", "main work");
	FX_GIT(repo, "merge", "-q", "--no-ff", "--no-commit", "topic");
	bs_buf_addf(&content, "resolved %s\n", tok);
	bs_test_write_str(repo, "merge-only.txt", content.ptr);
	FX_GIT(repo, "add", "-A");
	FX_GIT(repo, "commit", "-q", "-m", "merge topic");
	merge = fx_rev(repo, "HEAD");

	fs = scan(repo, &log);
	cr_assert_eq(log.count, 0, "%s", log.text.ptr);
	cr_assert_eq(fs.len, 2);
	f = find_secret(&fs, tok);
	cr_assert_not_null(f);
	cr_assert_str_eq(f->git->commit, merge);
	cr_assert_eq(f->git->in_head, 1);
	/* The branch's token came in with the branch commit, not with the merge that brought it to main. */
	f = find_secret(&fs, branch_tok);
	cr_assert_not_null(f);
	cr_assert_str_eq(f->git->commit, branch_commit);
	bs_findings_free(&fs);
	free(merge);
	free(branch_commit);
	free(tok);
	free(branch_tok);
	bs_buf_free(&content);
	bs_buf_free(&bc);
	bs_test_rmtree(repo);
	free(repo);
}

static void assert_same_findings(const bs_findings *a, const bs_findings *b)
{
	cr_assert_eq(a->len, b->len);
	for (size_t i = 0; i < a->len; i++) {
		cr_assert_str_eq(a->items[i]->fingerprint, b->items[i]->fingerprint);
		cr_assert_str_eq(a->items[i]->git->commit, b->items[i]->git->commit);
		cr_assert_eq(a->items[i]->line, b->items[i]->line);
	}
}

Test(git_history, packed_and_loose_give_the_same_findings_whatever_jobs)
{
	char *repo = fx_repo_new();
	err_log log = {BS_BUF_INIT, 0};
	bs_findings loose, packed, single;
	char *toks[12];

	for (int i = 0; i < 12; i++) {
		bs_buf c = BS_BUF_INIT;
		char name[32], msg[32];
		toks[i] = fx_token();
		snprintf(name, sizeof(name), "dir%d/f%d.txt", i % 3, i);
		snprintf(msg, sizeof(msg), "commit %d", i);
		for (int k = 0; k < 50; k++)
			bs_buf_addf(&c, "filler line %d of file %d\n", k, i);
		bs_buf_addf(&c, "tok=%s\n", toks[i]);
		fx_commit_file(repo, name, c.ptr, msg);
		bs_buf_free(&c);
	}
	loose = scan(repo, &log);
	cr_assert_eq(loose.len, 12);
	FX_GIT(repo, "gc", "-q", "--aggressive");
	packed = scan(repo, &log);
	single = scan_opts(repo, 1, 0, &log);
	cr_assert_eq(log.count, 0, "%s", log.text.ptr);
	assert_same_findings(&loose, &packed);
	assert_same_findings(&packed, &single);
	bs_findings_free(&loose);
	bs_findings_free(&packed);
	bs_findings_free(&single);
	for (int i = 0; i < 12; i++)
		free(toks[i]);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_history, empty_repository_and_unborn_branch)
{
	char *repo = fx_repo_new(), *tok = fx_token();
	bs_buf c = BS_BUF_INIT;
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs = scan(repo, &log);
	cr_assert_eq(fs.len, 0);
	cr_assert_eq(log.count, 0);
	bs_findings_free(&fs);

	/* HEAD on an unborn branch while another branch holds history. */
	bs_buf_addf(&c, "%s\n", tok);
	fx_commit_file(repo, "t.txt", c.ptr, "one");
	FX_GIT(repo, "checkout", "-q", "--orphan", "fresh");
	FX_GIT(repo, "rm", "-q", "-r", "--cached", ".");
	fs = scan(repo, &log);
	cr_assert_eq(log.count, 0, "%s", log.text.ptr);
	cr_assert_eq(fs.len, 1);
	cr_assert_eq(fs.items[0]->git->in_head, 0);
	bs_findings_free(&fs);
	free(tok);
	bs_buf_free(&c);
	bs_test_rmtree(repo);
	free(repo);
}

static void write_big_blob(const char *repo, const char *tok)
{
	bs_buf path = BS_BUF_INIT;
	char line[128];
	FILE *f;
	size_t written = 0;
	bs_buf_addf(&path, "%s/big.log", repo);
	f = fopen(path.ptr, "w");
	cr_assert_not_null(f);
	for (unsigned i = 0; written < (size_t)50 * 1024 * 1024; i++) {
		int n = snprintf(line, sizeof(line), "%08u some log line that does not hold anything of interest\n", i);
		fwrite(line, 1, (size_t)n, f);
		written += (size_t)n;
	}
	fprintf(f, "late: %s\ntail\n", tok);
	fclose(f);
	bs_buf_free(&path);
}

Test(git_history, fifty_megabyte_blob_loose_and_packed)
{
	char *repo = fx_repo_new(), *tok = fx_token();
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs;

	write_big_blob(repo, tok);
	fx_commit_file(repo, NULL, NULL, "big");
	fs = scan(repo, &log);
	cr_assert_eq(log.count, 0, "%s", log.text.ptr);
	cr_assert_eq(fs.len, 1);
	cr_assert_str_eq(fs.items[0]->secret, tok);
	cr_assert_str_eq(fs.items[0]->path, "big.log");
	cr_assert(fs.items[0]->line > 700000);
	bs_findings_free(&fs);
	FX_GIT(repo, "gc", "-q");
	fs = scan(repo, &log);
	cr_assert_eq(fs.len, 1);
	cr_assert_str_eq(fs.items[0]->secret, tok);
	bs_findings_free(&fs);
	free(tok);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_history, corrupt_loose_object_is_reported_and_the_scan_goes_on)
{
	char *repo = fx_repo_new(), *good = fx_token(), *bad = fx_token(), *bad_id;
	bs_buf c1 = BS_BUF_INIT, c2 = BS_BUF_INIT, obj = BS_BUF_INIT;
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs;
	const char *args[] = {"rev-parse", "HEAD:bad.txt", NULL};
	int fd;

	bs_buf_addf(&c1, "%s\n", good);
	bs_buf_addf(&c2, "%s\n", bad);
	bs_test_write_str(repo, "good.txt", c1.ptr);
	fx_commit_file(repo, "bad.txt", c2.ptr, "two files");
	bad_id = fx_git_out(repo, args);
	bs_buf_addf(&obj, "%s/.git/objects/%.2s/%s", repo, bad_id, bad_id + 2);
	chmod(obj.ptr, 0644);
	fd = open(obj.ptr, O_WRONLY);
	cr_assert(fd >= 0);
	/* Keep the zlib header, garble the compressed data. */
	cr_assert_eq(pwrite(fd, "\xde\xad\xbe\xef\xde\xad\xbe\xef\xde\xad", 10, 2), 10);
	close(fd);

	fs = scan(repo, &log);
	cr_assert_eq(fs.len, 1, "the good blob is still scanned");
	cr_assert_str_eq(fs.items[0]->secret, good);
	cr_assert_eq(log.count, 1, "%s", log.text.ptr);
	cr_assert_not_null(strstr(log.text.ptr, bad_id), "%s", log.text.ptr);
	bs_findings_free(&fs);
	free(bad_id);
	free(good);
	free(bad);
	bs_buf_free(&c1);
	bs_buf_free(&c2);
	bs_buf_free(&obj);
	bs_buf_free(&log.text);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_history, shallow_clone_and_bare_repository)
{
	char *repo = fx_repo_new(), *old = fx_token(), *cur = fx_token(), *work = bs_test_mkdtemp();
	bs_buf c = BS_BUF_INIT, url = BS_BUF_INIT, shallow = BS_BUF_INIT, bare = BS_BUF_INIT;
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs;

	bs_buf_addf(&c, "%s\n", old);
	fx_commit_file(repo, "old.txt", c.ptr, "old");
	fx_commit_file(repo, "mid.txt", "m\n", "mid");
	bs_buf_reset(&c);
	bs_buf_addf(&c, "%s\n", cur);
	fx_commit_file(repo, "cur.txt", c.ptr, "cur");
	FX_GIT(repo, "rm", "-q", "old.txt");
	fx_commit_file(repo, NULL, NULL, "drop old");

	bs_buf_addf(&url, "file://%s", repo);
	bs_buf_addf(&shallow, "%s/shallow", work);
	bs_buf_addf(&bare, "%s/bare.git", work);
	FX_GIT(work, "clone", "-q", "--depth", "1", url.ptr, shallow.ptr);
	FX_GIT(work, "clone", "-q", "--bare", repo, bare.ptr);

	fs = scan(shallow.ptr, &log);
	cr_assert_eq(log.count, 0, "a shallow boundary is not an error: %s", log.text.ptr);
	cr_assert_eq(fs.len, 1);
	cr_assert_str_eq(fs.items[0]->secret, cur);
	cr_assert_eq(fs.items[0]->git->in_head, 1);
	bs_findings_free(&fs);

	fs = scan(bare.ptr, &log);
	cr_assert_eq(log.count, 0, "%s", log.text.ptr);
	cr_assert_eq(fs.len, 2);
	cr_assert_not_null(find_secret(&fs, old));
	cr_assert_eq(find_secret(&fs, cur)->git->in_head, 1);
	cr_assert_eq(find_secret(&fs, old)->git->in_head, 0);
	bs_findings_free(&fs);
	free(old);
	free(cur);
	bs_buf_free(&c);
	bs_buf_free(&url);
	bs_buf_free(&shallow);
	bs_buf_free(&bare);
	bs_test_rmtree(repo);
	bs_test_rmtree(work);
	free(repo);
	free(work);
}

Test(git_history, stash_entries_and_unreachable_objects)
{
	char *repo = fx_repo_new(), *s1 = fx_token(), *s2 = fx_token(), *dangling = fx_token();
	bs_buf c = BS_BUF_INIT;
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs;
	const bs_finding *f;

	fx_commit_file(repo, "README", "hello\n", "first");
	bs_buf_addf(&c, "%s\n", s1);
	bs_test_write_str(repo, "README", c.ptr);
	FX_GIT(repo, "stash", "-q");
	bs_buf_reset(&c);
	bs_buf_addf(&c, "%s\n", s2);
	bs_test_write_str(repo, "README", c.ptr);
	FX_GIT(repo, "stash", "-q"); /* s1 is now only in the stash's reflog */
	bs_buf_reset(&c);
	bs_buf_addf(&c, "%s\n", dangling);
	fx_commit_file(repo, "d.txt", c.ptr, "soon dangling");
	FX_GIT(repo, "reset", "-q", "--hard", "HEAD~1");

	fs = scan(repo, &log);
	cr_assert_eq(log.count, 0, "%s", log.text.ptr);
	cr_assert_not_null(find_secret(&fs, s1), "older stash entry");
	cr_assert_not_null(find_secret(&fs, s2), "newest stash entry");
	cr_assert_null(find_secret(&fs, dangling), "no ref reaches it");
	bs_findings_free(&fs);

	fs = scan_opts(repo, 2, 1, &log);
	f = find_secret(&fs, dangling);
	cr_assert_not_null(f, "--all-objects finds it");
	cr_assert_eq(f->git->reachable, 0);
	cr_assert_str_eq(f->path, "d.txt");
	cr_assert_str_eq(f->git->summary, "soon dangling");
	cr_assert_eq(find_secret(&fs, s1)->git->reachable, 1);
	bs_findings_free(&fs);
	free(s1);
	free(s2);
	free(dangling);
	bs_buf_free(&c);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_history, missing_repository_is_an_error)
{
	bs_findings fs = BS_FINDINGS_INIT;
	bs_git_opts o;
	bs_error err = BS_ERROR_INIT;
	char *d = bs_test_mkdtemp();
	memset(&o, 0, sizeof(o));
	cr_assert_lt(bs_git_scan_history(scanner, d, &o, &fs, NULL, &err), 0);
	cr_assert_neq(err.message[0], '\0');
	bs_test_rmtree(d);
	free(d);
}

Test(git_history, url_helpers)
{
	char *d;
	cr_assert(bs_git_is_url("https://example.com/a.git"));
	cr_assert(bs_git_is_url("git@github.com:org/repo.git"));
	cr_assert(bs_git_is_url("file:///tmp/x"));
	cr_assert_not(bs_git_is_url("/tmp/x"));
	cr_assert_not(bs_git_is_url("./repo"));
	d = bs_git_url_display("https://user:s3cret@example.com/a.git");
	cr_assert_str_eq(d, "https://user:***@example.com/a.git");
	free(d);
	d = bs_git_url_display("https://ghp_tokenvalue@example.com/a.git");
	cr_assert_str_eq(d, "https://***@example.com/a.git");
	free(d);
	d = bs_git_url_display("ssh://git@example.com/a.git");
	cr_assert_str_eq(d, "ssh://git@example.com/a.git");
	free(d);
}

Test(git_history, file_url_is_mirrored_then_fetched)
{
	char *repo = fx_repo_new(), *cache = bs_test_mkdtemp(), *t1 = fx_token(), *t2 = fx_token();
	char *p1 = NULL, *p2 = NULL;
	bs_buf url = BS_BUF_INIT, c = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs;

	bs_buf_addf(&c, "%s\n", t1);
	fx_commit_file(repo, "a.txt", c.ptr, "one");
	bs_buf_addf(&url, "file://%s", repo);
	cr_assert_eq(bs_git_mirror(&p1, url.ptr, cache, &err), 0, "%s", err.message);
	fs = scan(p1, &log);
	cr_assert_eq(fs.len, 1);
	bs_findings_free(&fs);
	bs_buf_reset(&c);
	bs_buf_addf(&c, "%s\n", t2);
	fx_commit_file(repo, "b.txt", c.ptr, "two");
	cr_assert_eq(bs_git_mirror(&p2, url.ptr, cache, &err), 0, "%s", err.message);
	cr_assert_str_eq(p1, p2);
	fs = scan(p2, &log);
	cr_assert_eq(fs.len, 2, "the second run fetched the new commit");
	cr_assert_eq(find_secret(&fs, t2)->git->in_head, 1);
	bs_findings_free(&fs);
	free(p1);
	free(p2);
	free(t1);
	free(t2);
	bs_buf_free(&url);
	bs_buf_free(&c);
	bs_test_rmtree(repo);
	bs_test_rmtree(cache);
	free(repo);
	free(cache);
}

Test(git_history, submodules_only_when_asked_and_checked_out)
{
	char *sub = fx_repo_new(), *top = fx_repo_new(), *tok = fx_token(), *work = bs_test_mkdtemp();
	bs_buf c = BS_BUF_INIT, clone = BS_BUF_INIT;
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs = BS_FINDINGS_INIT;
	bs_git_opts o;
	bs_error err = BS_ERROR_INIT;

	bs_buf_addf(&c, "%s\n", tok);
	fx_commit_file(sub, "inner.txt", c.ptr, "sub");
	fx_commit_file(top, "README", "top\n", "top");
	FX_GIT(top, "-c", "protocol.file.allow=always", "submodule", "add", "-q", sub, "vendor/sub");
	fx_commit_file(top, NULL, NULL, "add submodule");

	fs = scan(top, &log);
	cr_assert_eq(fs.len, 0, "the submodule is not scanned unless asked");
	bs_findings_free(&fs);

	memset(&o, 0, sizeof(o));
	o.repository = "top";
	o.recurse_submodules = 1;
	o.on_error = on_error;
	o.ud = &log;
	cr_assert_eq(bs_git_scan_history(scanner, top, &o, &fs, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(log.count, 0, "%s", log.text.ptr);
	cr_assert_eq(fs.len, 1);
	cr_assert_str_eq(fs.items[0]->git->repository, "top/vendor/sub");
	cr_assert_str_eq(fs.items[0]->path, "inner.txt");
	bs_findings_free(&fs);

	/* A clone whose submodule is not checked out: nothing to scan there, and no error. */
	bs_buf_addf(&clone, "%s/clone", work);
	FX_GIT(work, "clone", "-q", top, clone.ptr);
	cr_assert_eq(bs_git_scan_history(scanner, clone.ptr, &o, &fs, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(fs.len, 0);
	cr_assert_eq(log.count, 0, "%s", log.text.ptr);
	bs_findings_free(&fs);
	free(tok);
	bs_buf_free(&c);
	bs_buf_free(&clone);
	bs_test_rmtree(sub);
	bs_test_rmtree(top);
	bs_test_rmtree(work);
	free(sub);
	free(top);
	free(work);
}

Test(git_history, a_blob_a_ref_reaches_is_reachable_even_if_a_dangling_commit_had_it_first)
{
	char *repo = fx_repo_new(), *tok = fx_token(), *reachable;
	bs_buf c = BS_BUF_INIT;
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs;

	fx_commit_file(repo, "README", "hello\n", "first");
	bs_buf_addf(&c, "%s\n", tok);
	fx_commit_file(repo, "key.txt", c.ptr, "older, soon dangling");
	FX_GIT(repo, "reset", "-q", "--hard", "HEAD~1");
	fx_commit_file(repo, "key.txt", c.ptr, "the same content, on main");
	reachable = fx_rev(repo, "HEAD");

	fs = scan_opts(repo, 2, 1, &log);
	cr_assert_eq(fs.len, 1, "one blob, one finding");
	cr_assert_eq(fs.items[0]->git->reachable, 1);
	cr_assert_str_eq(fs.items[0]->git->commit, reachable);
	bs_findings_free(&fs);
	free(reachable);
	free(tok);
	bs_buf_free(&c);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_history, missing_blob_is_reported_with_its_id_path_and_commit)
{
	char *repo = fx_repo_new(), *good = fx_token(), *id, *commit;
	bs_buf c = BS_BUF_INIT, obj = BS_BUF_INIT;
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs;
	const char *args[] = {"rev-parse", "HEAD:gone.txt", NULL};

	bs_buf_addf(&c, "%s\n", good);
	bs_test_write_str(repo, "good.txt", c.ptr);
	fx_commit_file(repo, "gone.txt", "this blob will vanish\n", "two files");
	commit = fx_rev(repo, "HEAD");
	id = fx_git_out(repo, args);
	bs_buf_addf(&obj, "%s/.git/objects/%.2s/%s", repo, id, id + 2);
	cr_assert_eq(unlink(obj.ptr), 0);

	fs = scan(repo, &log);
	cr_assert_eq(fs.len, 1, "the rest is still scanned");
	cr_assert_eq(log.count, 1, "%s", log.text.ptr);
	cr_assert_not_null(strstr(log.text.ptr, id), "%s", log.text.ptr);
	cr_assert_not_null(strstr(log.text.ptr, "missing blob (gone.txt in commit"), "%s", log.text.ptr);
	cr_assert_not_null(strstr(log.text.ptr, commit), "%s", log.text.ptr);
	bs_findings_free(&fs);
	free(id);
	free(commit);
	free(good);
	bs_buf_free(&c);
	bs_buf_free(&obj);
	bs_buf_free(&log.text);
	bs_test_rmtree(repo);
	free(repo);
}

Test(git_history, corrupt_pack_data_is_reported_and_the_rest_scanned)
{
	char *repo = fx_repo_new(), *pack_dir = bs_xasprintf("%s/.git/objects/pack", repo);
	err_log log = {BS_BUF_INIT, 0};
	bs_findings fs;
	bs_buf pack = BS_BUF_INIT, data = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	DIR *d;
	struct dirent *de;

	for (int i = 0; i < 20; i++) {
		char name[32], *tok = fx_token();
		bs_buf c = BS_BUF_INIT;
		snprintf(name, sizeof(name), "f%02d.txt", i);
		/* Different enough that git stores each whole. */
		for (int k = 0; k < 40; k++)
			bs_buf_addf(&c, "%d-%d %s\n", i, k, k == 20 ? tok : "unrelated");
		bs_test_write_str(repo, name, c.ptr);
		bs_buf_free(&c);
		free(tok);
	}
	fx_commit_file(repo, NULL, NULL, "twenty files");
	FX_GIT(repo, "gc", "-q");
	d = opendir(pack_dir);
	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".pack"))
			bs_buf_addf(&pack, "%s/%s", pack_dir, de->d_name);
	closedir(d);
	cr_assert_eq(bs_fs_read_file(&data, pack.ptr, 1 << 24, &err), 0, "%s", err.message);
	/* Garble some compressed bytes well inside the pack (blobs come after commits and trees). */
	for (size_t k = data.len * 3 / 4; k < data.len * 3 / 4 + 64 && k < data.len - 20; k++)
		data.ptr[k] ^= 0x5a;
	chmod(pack.ptr, 0644);
	cr_assert_eq(bs_fs_write_atomic(pack.ptr, data.ptr, data.len, 0644, &err), 0, "%s", err.message);

	fs = scan(repo, &log);
	cr_assert_geq(log.count, 1, "the damaged object is reported");
	cr_assert_not_null(strstr(log.text.ptr, "cannot read"), "%s", log.text.ptr);
	cr_assert_gt(fs.len, 10, "the other blobs are still scanned (%zu found)", fs.len);
	cr_assert_lt(fs.len, 20);
	bs_findings_free(&fs);
	bs_buf_free(&pack);
	bs_buf_free(&data);
	bs_buf_free(&log.text);
	free(pack_dir);
	bs_test_rmtree(repo);
	free(repo);
}
