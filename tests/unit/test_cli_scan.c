/* End-to-end: the built bstscan binary on generated trees. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/testutil.h"

static int run(bs_test_proc *p, const char *cwd, const char *const *args, const char *in)
{
	const char *argv[32];
	size_t n = 0;
	argv[n++] = BSTSCAN_BIN;
	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	cr_assert_eq(bs_test_run(p, argv, cwd, NULL, in, in ? strlen(in) : 0, 120), 0);
	return p->status;
}

static cJSON *parse_array(const bs_test_proc *p)
{
	cJSON *j = cJSON_Parse(p->out.ptr);
	cr_assert(cJSON_IsArray(j), "not a JSON array: %s / %s", p->out.ptr, p->err.ptr);
	return j;
}

Test(cli_scan, finds_tokens_in_a_tree_with_json_fields_and_exit_1)
{
	char *dir = bs_test_mkdtemp();
	char tok[48];
	bs_buf content = BS_BUF_INIT;
	bs_test_proc p;
	cJSON *arr, *f;
	bs_test_make_bst_token(tok);
	bs_buf_addf(&content, "A=1\nTOKEN=%s\n", tok);
	bs_test_write_str(dir, "app/.env", content.ptr);
	bs_test_write_str(dir, "app/clean.txt", "nothing to see\n");
	bs_test_write_str(dir, ".git/config", content.ptr); /* .git is skipped */
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--format", "json", ".", NULL }, NULL), 1, "%s", p.err.ptr);
	arr = parse_array(&p);
	cr_assert_eq(cJSON_GetArraySize(arr), 1, "%s", p.out.ptr);
	f = cJSON_GetArrayItem(arr, 0);
	cr_assert_str_eq(cJSON_GetObjectItem(f, "rule_id")->valuestring, "bastionary-pat");
	cr_assert_str_eq(cJSON_GetObjectItem(f, "path")->valuestring, "app/.env");
	cr_assert_eq(cJSON_GetObjectItem(f, "line")->valueint, 2);
	cr_assert_eq(cJSON_GetObjectItem(f, "column")->valueint, 7);
	cr_assert_eq(cJSON_GetObjectItem(f, "offset")->valueint, 10);
	cr_assert_eq(strlen(cJSON_GetObjectItem(f, "token_hash")->valuestring), 64);
	cr_assert_eq(strlen(cJSON_GetObjectItem(f, "fingerprint")->valuestring), 64);
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(f, "binary")));
	cr_assert_not_null(cJSON_GetObjectItem(f, "line_text"));
	cr_assert_not_null(cJSON_GetObjectItem(f, "redacted"));
	cr_assert_null(cJSON_GetObjectItem(f, "secret"));
	cr_assert_null(strstr(p.out.ptr, tok), "raw secret printed without --show-secret");
	cJSON_Delete(arr);
	bs_test_proc_free(&p);

	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--format", "json", "--show-secret", NULL }, NULL), 1);
	cr_assert_not_null(strstr(p.out.ptr, tok));
	bs_test_proc_free(&p);

	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--format", "text", "--exit-code", "7", NULL }, NULL), 7);
	cr_assert_not_null(strstr(p.out.ptr, "app/.env:2:7"), "%s", p.out.ptr);
	cr_assert_null(strstr(p.out.ptr, tok));
	cr_assert_null(strstr(p.out.ptr, "\x1b["), "colour on a pipe");
	bs_test_proc_free(&p);
	bs_buf_free(&content);
	bs_test_rmtree(dir);
	free(dir);
}

Test(cli_scan, clean_tree_exits_0_and_usage_errors_exit_2)
{
	char *dir = bs_test_mkdtemp();
	bs_test_proc p;
	bs_test_write_str(dir, "a.txt", "hello\n");
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", NULL }, NULL), 0, "%s", p.err.ptr);
	bs_test_proc_free(&p);
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--bogus", NULL }, NULL), 2);
	cr_assert_not_null(strstr(p.err.ptr, "--bogus"), "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, "hint:"));
	bs_test_proc_free(&p);
	cr_assert_eq(run(&p, dir, (const char *[]){ "frobnicate", NULL }, NULL), 2);
	cr_assert_not_null(strstr(p.err.ptr, "'frobnicate' is not a bstscan command"));
	bs_test_proc_free(&p);
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--format", "xml", NULL }, NULL), 2);
	bs_test_proc_free(&p);
	cr_assert_eq(run(&p, dir, (const char *[]){ "--version", NULL }, NULL), 0);
	cr_assert(strncmp(p.out.ptr, "bstscan ", 8) == 0);
	bs_test_proc_free(&p);
	cr_assert_eq(run(&p, dir, (const char *[]){ "help", "scan", NULL }, NULL), 0);
	cr_assert_not_null(strstr(p.out.ptr, "usage: bstscan scan"));
	bs_test_proc_free(&p);
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--help", NULL }, NULL), 0);
	cr_assert_not_null(strstr(p.out.ptr, "--show-secret"));
	bs_test_proc_free(&p);
	bs_test_rmtree(dir);
	free(dir);
}

Test(cli_scan, stdin_with_a_name)
{
	char tok[48];
	bs_buf in = BS_BUF_INIT;
	bs_test_proc p;
	cJSON *arr;
	bs_test_make_bst_token(tok);
	bs_buf_addf(&in, "pasted %s\n", tok);
	cr_assert_eq(run(&p, NULL, (const char *[]){ "scan", "--format", "jsonl", "--stdin-name", "paste.txt", "-", NULL },
			 in.ptr),
		     1, "%s", p.err.ptr);
	arr = cJSON_Parse(p.out.ptr);
	cr_assert_not_null(arr, "%s", p.out.ptr);
	cr_assert_str_eq(cJSON_GetObjectItem(arr, "path")->valuestring, "paste.txt");
	cJSON_Delete(arr);
	bs_test_proc_free(&p);
	bs_buf_free(&in);
}

Test(cli_scan, unreadable_paths_are_reported_and_the_scan_goes_on)
{
	char *dir = bs_test_mkdtemp();
	char tok[48];
	char *link;
	bs_buf content = BS_BUF_INIT;
	bs_test_proc p;
	bs_test_make_bst_token(tok);
	bs_buf_addf(&content, "%s\n", tok);
	bs_test_write_str(dir, "good.txt", content.ptr);
	bs_test_write_str(dir, "secret/locked.txt", content.ptr);
	link = bs_xasprintf("%s/dangling", dir);
	cr_assert_eq(symlink("/nonexistent/target", link), 0);
	chmod(link, 0);
	{
		char *locked = bs_xasprintf("%s/secret", dir);
		chmod(locked, 0);
		free(locked);
	}
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--format", "json", "good.txt", "missing.txt", "dangling",
						    "secret", NULL },
			 NULL),
		     1, "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, "missing.txt"), "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, "dangling"), "%s", p.err.ptr);
	if (geteuid() != 0)
		cr_assert_not_null(strstr(p.err.ptr, "secret"), "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.out.ptr, "good.txt"));
	bs_test_proc_free(&p);
	{
		char *locked = bs_xasprintf("%s/secret", dir);
		chmod(locked, 0755);
		free(locked);
	}
	bs_buf_free(&content);
	bs_test_rmtree(dir);
	free(link);
	free(dir);
}

Test(cli_scan, output_is_the_same_whatever_the_jobs)
{
	char *dir = bs_test_mkdtemp();
	bs_test_proc p1, p2;
	for (int i = 0; i < 60; i++) {
		char tok[48], rel[64];
		bs_buf c = BS_BUF_INIT;
		bs_test_make_bst_token(tok);
		bs_buf_addf(&c, "x\ny=%s\n", tok);
		snprintf(rel, sizeof(rel), "d%d/f%d.txt", i % 7, i);
		bs_test_write_str(dir, rel, c.ptr);
		bs_buf_free(&c);
	}
	cr_assert_eq(run(&p1, dir, (const char *[]){ "scan", "--format", "json", "-j", "1", NULL }, NULL), 1);
	cr_assert_eq(run(&p2, dir, (const char *[]){ "scan", "--format", "json", "-j", "4", NULL }, NULL), 1);
	cr_assert_str_eq(p1.out.ptr, p2.out.ptr);
	bs_test_proc_free(&p1);
	bs_test_proc_free(&p2);
	bs_test_rmtree(dir);
	free(dir);
}

Test(cli_scan, baseline_and_config_suppress)
{
	char *dir = bs_test_mkdtemp();
	char tok[48], tok2[48];
	bs_buf c = BS_BUF_INIT;
	bs_test_proc p;
	bs_test_make_bst_token(tok);
	bs_test_make_bst_token(tok2);
	bs_buf_addf(&c, "k=%s\n", tok);
	bs_test_write_str(dir, "src/a.txt", c.ptr);
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--baseline-out", "base.json", "src", NULL }, NULL), 1);
	bs_test_proc_free(&p);
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--baseline", "base.json", "src", NULL }, NULL), 0,
		     "%s%s", p.out.ptr, p.err.ptr);
	bs_test_proc_free(&p);
	/* A new token is still reported over the baseline. */
	bs_buf_addf(&c, "k2=%s\n", tok2);
	bs_test_write_str(dir, "src/a.txt", c.ptr);
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--format", "json", "--baseline", "base.json", "src", NULL },
			 NULL),
		     1);
	{
		cJSON *arr = parse_array(&p);
		cr_assert_eq(cJSON_GetArraySize(arr), 1);
		cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "line")->valueint, 2);
		cJSON_Delete(arr);
	}
	bs_test_proc_free(&p);
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--baseline", "nope.json", "src", NULL }, NULL), 2);
	cr_assert_not_null(strstr(p.err.ptr, "nope.json"));
	bs_test_proc_free(&p);
	/* Config at the scanned root allowlists a path glob. */
	bs_test_write_str(dir, ".bstscan.json", "{\"allow\": {\"paths\": [\"src/*\"]}}");
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", ".", NULL }, NULL), 0, "%s", p.out.ptr);
	bs_test_proc_free(&p);
	bs_test_write_str(dir, ".bstscan.json", "{\"allow\": {\"paths\": [\"src/*\"],}");
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", ".", NULL }, NULL), 2);
	cr_assert_not_null(strstr(p.err.ptr, ".bstscan.json"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	bs_buf_free(&c);
	bs_test_rmtree(dir);
	free(dir);
}

Test(cli_scan, extra_rules_and_broken_rule_files)
{
	char *dir = bs_test_mkdtemp();
	bs_test_proc p;
	bs_test_write_str(dir, "r.json",
			  "[{\"id\": \"acme-key\", \"description\": \"ACME\", \"regex\": \"(acme_[a-z]{8})\", \"keywords\": "
			  "[\"acme_\"], \"secret_group\": 1, \"severity\": \"high\"}]");
	bs_test_write_str(dir, "bad.json",
			  "[{\"id\": \"bad-one\", \"description\": \"x\", \"regex\": \"(a\", \"keywords\": [\"a\"], "
			  "\"severity\": \"high\"}]");
	bs_test_write_str(dir, "t/x.txt", "key acme_abcdefgh\n");
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--rules", "r.json", "--no-default-rules", "t", NULL }, NULL),
		     1, "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.out.ptr, "acme-key"));
	bs_test_proc_free(&p);
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--rules", "bad.json", "t", NULL }, NULL), 2);
	cr_assert_not_null(strstr(p.err.ptr, "bad.json"), "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, "bad-one"), "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, "offset"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	bs_test_rmtree(dir);
	free(dir);
}

Test(cli_scan, this_repository_scans_clean)
{
	bs_test_proc p;
	int rc = run(&p, BS_SOURCE_DIR, (const char *[]){ "scan", "--exclude", "build*", "--exclude", "bench/data", ".", NULL }, NULL);
	cr_assert_eq(rc, 0, "bstscan scan . on its own repository found:\n%s\n%s", p.out.ptr, p.err.ptr);
	bs_test_proc_free(&p);
}

Test(cli_scan, example_project_shows_its_fake_token)
{
	bs_test_proc p;
	int rc = run(&p, BS_SOURCE_DIR, (const char *[]){ "scan", "--format", "json", "examples/leaky-project", NULL }, NULL);
	cJSON *arr;
	cr_assert_eq(rc, 1, "%s", p.err.ptr);
	arr = parse_array(&p);
	cr_assert_eq(cJSON_GetArraySize(arr), 1, "%s", p.out.ptr);
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "path")->valuestring,
			 "examples/leaky-project/config/settings.env");
	cJSON_Delete(arr);
	bs_test_proc_free(&p);
}

Test(cli_scan, symlinks_are_skipped_unless_followed_and_loops_are_detected)
{
	char *dir = bs_test_mkdtemp();
	char tok[48];
	char *target = NULL, *loop = NULL, *file_link = NULL;
	bs_buf c = BS_BUF_INIT;
	bs_test_proc p;
	cJSON *arr;
	bs_test_make_bst_token(tok);
	bs_buf_addf(&c, "t=%s\n", tok);
	bs_test_write_str(dir, "outside/secret.txt", c.ptr);
	bs_test_write_str(dir, "tree/a.txt", "clean\n");
	target = bs_xasprintf("%s/outside", dir);
	loop = bs_xasprintf("%s/tree/loop", dir);
	file_link = bs_xasprintf("%s/tree/link-to-outside", dir);
	cr_assert_eq(symlink("..", loop), 0);
	cr_assert_eq(symlink(target, file_link), 0);
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "tree", NULL }, NULL), 0, "%s", p.out.ptr);
	bs_test_proc_free(&p);
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--format", "json", "--follow-symlinks", "tree", NULL }, NULL),
		     1, "%s", p.err.ptr);
	arr = parse_array(&p);
	/* Through the loop and the direct link, the secret is still reported once. */
	cr_assert_eq(cJSON_GetArraySize(arr), 1, "%s", p.out.ptr);
	cr_assert_not_null(strstr(p.err.ptr, "already visited"), "%s", p.err.ptr);
	cJSON_Delete(arr);
	bs_test_proc_free(&p);
	bs_buf_free(&c);
	bs_test_rmtree(dir);
	free(target);
	free(loop);
	free(file_link);
	free(dir);
}

Test(cli_scan, large_file_is_streamed_and_every_token_found_once)
{
	char *dir = bs_test_mkdtemp();
	char *path = bs_xasprintf("%s/big.log", dir);
	FILE *f = fopen(path, "wb");
	char tok[48];
	bs_test_proc p;
	cJSON *arr;
	size_t written = 0, planted = 0;
	bs_test_make_bst_token(tok);
	cr_assert_not_null(f);
	/* 24 MB: past the whole-file limit, so the streaming path runs; tokens
	 * sit at every MiB edge, where pieces and steps meet. */
	while (written < (24u << 20)) {
		size_t edge = (written / (1u << 20) + 1) * (1u << 20);
		while (written < edge - 20) {
			size_t n = edge - 20 - written < 64 ? edge - 20 - written : 64;
			fwrite("the quick brown fox jumps over the lazy dog 0123456789 abcdefgh\n", 1, n, f);
			written += n;
		}
		fputc(' ', f);
		fwrite(tok, 1, 47, f);
		fputc('\n', f);
		written += 49;
		planted++;
	}
	fclose(f);
	cr_assert_eq(run(&p, dir, (const char *[]){ "scan", "--format", "json", "big.log", NULL }, NULL), 1, "%s",
		     p.err.ptr);
	arr = parse_array(&p);
	cr_assert_eq((size_t)cJSON_GetArraySize(arr), planted);
	cJSON_Delete(arr);
	bs_test_proc_free(&p);
	bs_test_rmtree(dir);
	free(path);
	free(dir);
}
