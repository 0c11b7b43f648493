/* Bad inputs for the scanners, through the real bstscan binary: unreadable files and directories
 * (as an unprivileged user: root reads everything), a file that shrinks and grows while it is read,
 * a 2 GB file (sparse) with bounded memory, a 10 MB line with invalid UTF-8 and NUL bytes, and a
 * repository with 100,000 refs. See docs/reliability.md for the whole table. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/testutil.h"
#include "tests/unit/test_git_fixture.h"

#if defined(__SANITIZE_ADDRESS__)
#define RSS_LIMIT_KB (768L * 1024) /* ASan's shadow memory and quarantine */
#else
#define RSS_LIMIT_KB (96L * 1024)
#endif

static int run_in(bs_test_proc *p, const char *cwd, const char *const *args)
{
	const char *argv[24];
	size_t n = 0;
	argv[n++] = BSTSCAN_BIN;
	for (; *args && n < 23; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	cr_assert_eq(bs_test_run(p, argv, cwd, NULL, NULL, 0, 300), 0);
	return p->status;
}

static cJSON *json_array(const bs_test_proc *p)
{
	cJSON *j = cJSON_Parse(p->out.ptr);
	cr_assert(cJSON_IsArray(j), "not a JSON array: %.300s / %.300s", p->out.ptr, p->err.ptr);
	return j;
}

/* Runs bstscan with args in cwd as the user nobody (65534), when we are root. */
static int run_as_nobody(bs_test_proc *p, const char *cwd, const char *const *args)
{
	const char *argv[24] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BSTSCAN_BIN };
	size_t n = 5;
	for (; *args && n < 23; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	cr_assert_eq(bs_test_run(p, argv, cwd, NULL, NULL, 0, 120), 0);
	return p->status;
}

Test(reliability_inputs, unreadable_files_and_directories_are_reported_and_the_scan_goes_on)
{
	char *dir = bs_test_mkdtemp();
	char tok[48], *locked_dir, *locked_file;
	bs_buf c = BS_BUF_INIT;
	bs_test_proc p;
	cJSON *arr;
	bs_test_make_bst_token(tok);
	bs_buf_addf(&c, "k=%s\n", tok);
	bs_test_write_str(dir, "tree/good.txt", c.ptr);
	bs_test_write_str(dir, "tree/locked-dir/inside.txt", c.ptr);
	bs_test_write_str(dir, "tree/locked-file.txt", c.ptr);
	locked_dir = bs_xasprintf("%s/tree/locked-dir", dir);
	locked_file = bs_xasprintf("%s/tree/locked-file.txt", dir);
	cr_assert_eq(chmod(dir, 0755), 0);
	cr_assert_eq(chmod(locked_dir, 0), 0);
	cr_assert_eq(chmod(locked_file, 0), 0);
	/* Root reads everything whatever the modes: run the scan as nobody then, so the check is real. */
	if (geteuid() == 0) {
		char *tree = bs_xasprintf("%s/tree", dir);
		cr_assert_eq(chmod(tree, 0755), 0);
		free(tree);
		cr_assert_eq(run_as_nobody(&p, dir, (const char *[]){ "scan", "--format", "json", "tree", NULL }), 1,
			     "%s", p.err.ptr);
	} else {
		cr_assert_eq(run_in(&p, dir, (const char *[]){ "scan", "--format", "json", "tree", NULL }), 1, "%s",
			     p.err.ptr);
	}
	cr_assert_not_null(strstr(p.err.ptr, "locked-dir"), "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, "locked-file.txt"), "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, "ermission denied"), "%s", p.err.ptr);
	arr = json_array(&p);
	cr_assert_eq(cJSON_GetArraySize(arr), 1, "%s", p.out.ptr);
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "path")->valuestring, "tree/good.txt");
	cJSON_Delete(arr);
	bs_test_proc_free(&p);
	chmod(locked_dir, 0755);
	chmod(locked_file, 0644);
	bs_buf_free(&c);
	bs_test_rmtree(dir);
	free(locked_dir);
	free(locked_file);
	free(dir);
}

/* Another process truncates and regrows a file while bstscan reads it. Whatever the interleaving,
 * bstscan must finish with 0 or 1 (never a crash or a hang), report only tokens that are really in
 * the file at the offsets it read, and never read past what it was given. */
Test(reliability_inputs, a_file_that_shrinks_and_grows_while_read, .timeout = 240)
{
	char *dir = bs_test_mkdtemp();
	char *path = bs_xasprintf("%s/changing.log", dir);
	char tok[48];
	bs_buf block = BS_BUF_INIT;
	pid_t writer;
	bs_test_make_bst_token(tok);
	while (block.len < (1u << 20))
		bs_buf_addf(&block, "line of text %zu and a token %s here\n", block.len, tok);
	bs_test_write_file(dir, "changing.log", block.ptr, block.len);
	writer = fork();
	cr_assert_neq(writer, -1);
	if (writer == 0) {
		/* Shrink to nothing, grow to 8 MB, forever, until killed. */
		for (;;) {
			int fd = open(path, O_WRONLY);
			if (fd < 0)
				_exit(1);
			if (ftruncate(fd, 0) < 0)
				_exit(1);
			for (int i = 0; i < 8; i++)
				if (write(fd, block.ptr, block.len) < 0)
					_exit(1);
			if (ftruncate(fd, 4096) < 0)
				_exit(1);
			close(fd);
		}
	}
	for (int round = 0; round < 20; round++) {
		bs_test_proc p;
		cJSON *arr, *f;
		int st = run_in(&p, dir, (const char *[]){ "scan", "--format", "json", "changing.log", NULL });
		cr_assert(st == 0 || st == 1, "round %d: exit %d: %s", round, st, p.err.ptr);
		arr = json_array(&p);
		cJSON_ArrayForEach(f, arr)
		{
			cr_assert_str_eq(cJSON_GetObjectItem(f, "rule_id")->valuestring, "bastionary-pat");
			cr_assert_str_eq(cJSON_GetObjectItem(f, "path")->valuestring, "changing.log");
		}
		cJSON_Delete(arr);
		bs_test_proc_free(&p);
	}
	kill(writer, SIGKILL);
	waitpid(writer, NULL, 0);
	bs_buf_free(&block);
	bs_test_rmtree(dir);
	free(path);
	free(dir);
}

/* Runs bstscan and returns its exit status; *maxrss_kb gets its peak resident memory. */
static int run_measured(const char *cwd, const char *const *args, long *maxrss_kb, bs_buf *out)
{
	int pipefd[2], status = 0;
	struct rusage ru;
	pid_t pid;
	char buf[65536];
	ssize_t n;
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		const char *argv[24];
		size_t k = 0;
		int devnull = open("/dev/null", O_RDWR);
		argv[k++] = BSTSCAN_BIN;
		for (; *args && k < 23; args++)
			argv[k++] = *args;
		argv[k] = NULL;
		dup2(devnull, 0);
		dup2(pipefd[1], 1);
		dup2(devnull, 2);
		close(pipefd[0]);
		if (chdir(cwd) < 0)
			_exit(127);
		execv(BSTSCAN_BIN, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], buf, sizeof(buf))) > 0)
		bs_buf_add(out, buf, (size_t)n);
	close(pipefd[0]);
	cr_assert_eq(wait4(pid, &status, 0, &ru), pid);
	*maxrss_kb = ru.ru_maxrss;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(reliability_inputs, a_two_gigabyte_file_is_scanned_in_bounded_memory, .timeout = 600)
{
	char *dir = bs_test_mkdtemp();
	char *path = bs_xasprintf("%s/huge.bin", dir);
	char tok[48];
	const off_t size = 2048LL << 20;
	const off_t at[] = { 0, (1LL << 30) - 20, size - 48 };
	bs_buf out = BS_BUF_INIT;
	long rss;
	int fd;
	cJSON *arr;
	bs_test_make_bst_token(tok);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	/* Sparse: 2 GB of zeros that take no disk, with a token at the start, across the 1 GiB mark and at the end. */
	cr_assert_eq(ftruncate(fd, size), 0);
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(pwrite(fd, tok, 47, at[i]), 47);
	close(fd);
	cr_assert_eq(run_measured(dir, (const char *[]){ "scan", "--format", "json", "huge.bin", NULL }, &rss, &out), 1);
	arr = cJSON_Parse(out.ptr);
	cr_assert(cJSON_IsArray(arr), "%.300s", out.ptr);
	cr_assert_eq(cJSON_GetArraySize(arr), 3, "%s", out.ptr);
	for (int i = 0; i < 3; i++) {
		cJSON *f = cJSON_GetArrayItem(arr, i);
		cr_assert_eq((off_t)cJSON_GetObjectItem(f, "offset")->valuedouble, at[i]);
		cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(f, "binary")));
	}
	cr_assert_lt(rss, RSS_LIMIT_KB, "peak RSS %ld KB for a 2 GB file", rss);
	cJSON_Delete(arr);
	bs_buf_free(&out);
	unlink(path);
	bs_test_rmtree(dir);
	free(path);
	free(dir);
}

/* Invalid UTF-8 (a lone continuation, a surrogate), NUL and control bytes, a terminal escape. */
#define BAD1 "\xff\xfe\xc3(\x00\xed\xa0\x80 abc "
#define BAD2 "\xe2\x82\x00\x01zz\x1b[31m "

Test(reliability_inputs, a_ten_megabyte_line_with_invalid_utf8_and_nul_bytes, .timeout = 300)
{
	char *dir = bs_test_mkdtemp();
	char tok[48];
	bs_buf big = BS_BUF_INIT, out = BS_BUF_INIT;
	long rss;
	cJSON *arr, *f;
	const char *lt;
	bs_test_make_bst_token(tok);
	while (big.len < (5u << 20))
		bs_buf_add(&big, BAD1, sizeof(BAD1) - 1);
	bs_buf_addf(&big, " %s ", tok);
	while (big.len < (10u << 20))
		bs_buf_add(&big, BAD2, sizeof(BAD2) - 1);
	bs_test_write_file(dir, "line.bin", big.ptr, big.len);
	cr_assert_eq(run_measured(dir, (const char *[]){ "scan", "--format", "json", "line.bin", NULL }, &rss, &out), 1);
	arr = cJSON_Parse(out.ptr);
	cr_assert(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == 1, "%.300s", out.ptr);
	f = cJSON_GetArrayItem(arr, 0);
	cr_assert_eq(cJSON_GetObjectItem(f, "line")->valueint, 1);
	cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(f, "binary")));
	lt = cJSON_GetObjectItem(f, "line_text")->valuestring;
	/* Bounded, printable, and the secret only redacted. */
	cr_assert_lt(strlen(lt), 2048, "%zu", strlen(lt));
	cr_assert_null(strstr(lt, tok));
	cr_assert_null(strchr(lt, '\x1b'));
	cr_assert_null(strstr(out.ptr, tok));
	cr_assert_lt(rss, RSS_LIMIT_KB, "peak RSS %ld KB", rss);
	cJSON_Delete(arr);
	bs_buf_free(&out);
	bs_buf_free(&big);
	bs_test_rmtree(dir);
	free(dir);
}

Test(reliability_inputs, a_repository_with_100000_refs, .timeout = 300)
{
	char *repo = fx_repo_new();
	char *tok = fx_token(), *head, *packed_path;
	bs_buf content = BS_BUF_INIT, refs = BS_BUF_INIT;
	bs_test_proc p;
	cJSON *arr;
	FILE *fp;
	bs_buf_addf(&content, "key = %s\n", tok);
	fx_commit_file(repo, "config.env", content.ptr, "add config");
	head = fx_rev(repo, "HEAD");
	/* packed-refs written directly: fast, and exactly what git reads. */
	bs_buf_adds(&refs, "# pack-refs with: peeled fully-peeled sorted \n");
	for (int i = 0; i < 100000; i++)
		bs_buf_addf(&refs, "%s refs/heads/branch-%06d\n", head, i);
	packed_path = bs_xasprintf("%s/.git/packed-refs", repo);
	fp = fopen(packed_path, "w");
	cr_assert_not_null(fp);
	cr_assert_eq(fwrite(refs.ptr, 1, refs.len, fp), refs.len);
	fclose(fp);
	FX_BSTSCAN(&p, repo, NULL, "git", "--format", "json", ".");
	cr_assert_eq(p.status, 1, "%s", p.err.ptr);
	arr = json_array(&p);
	/* 100,000 refs to one commit: the blob is scanned once, reported once. */
	cr_assert_eq(cJSON_GetArraySize(arr), 1, "%.500s", p.out.ptr);
	cJSON_Delete(arr);
	bs_test_proc_free(&p);
	bs_buf_free(&content);
	bs_buf_free(&refs);
	bs_test_rmtree(repo);
	free(repo);
	free(tok);
	free(head);
	free(packed_path);
}
