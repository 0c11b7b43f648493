/* `bstscan scan --check/--revoke` and `bstscan revoke` end to end against a real bstscan-server:
 * a generated tree holds a live PAT, a revoked one, an expired one and an unknown one. */
#include <criterion/criterion.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "revoke/leaks.h"
#include "test_revoke_support.h"
#include "common/banned.h"

static issuer IS;
static char *tree;
static char live[64], revoked[64], expired[64], unknown[48];
static char h_live[65], h_revoked[65], h_expired[65], h_unknown[65];

static void setup(void)
{
	const char *rev[] = {"pat", "revoke", "--hash", h_revoked, NULL};
	const char *exp[] = {"pat",     "create",   "--user",      "alice",        "--name",
	                     "old-one", "--scopes", "leaks:check", "--expires-at", "2020-01-01T00:00:00Z",
	                     NULL};
	bs_buf b = BS_BUF_INIT;
	char *content;
	issuer_start(&IS);
	issuer_pat(&IS, "deploy-bot", "leaks:check", live);
	issuer_pat(&IS, "already-dead", "leaks:check", revoked);
	token_hash(live, h_live);
	token_hash(revoked, h_revoked);
	admin(&IS, NULL, rev, NULL);
	admin(&IS, &b, exp, NULL);
	cr_assert_geq(b.len, 47);
	memcpy(expired, b.ptr, 47);
	expired[47] = '\0';
	bs_buf_free_secure(&b);
	token_hash(expired, h_expired);
	bs_test_make_bst_token(unknown);
	token_hash(unknown, h_unknown);
	tree = bs_test_mkdtemp();
	content = bs_xasprintf("API_TOKEN=%s\n", live);
	bs_test_write_str(tree, "app/.env", content);
	free(content);
	content = bs_xasprintf("token: %s\n", revoked);
	bs_test_write_str(tree, "ci/config.yml", content);
	free(content);
	content = bs_xasprintf("# old\nexport T=%s\n", expired);
	bs_test_write_str(tree, "scripts/run.sh", content);
	free(content);
	content = bs_xasprintf("const t = \"%s\";\n", unknown);
	bs_test_write_str(tree, "src/main.js", content);
	free(content);
	/* The live token twice: checked and revoked once. */
	content = bs_xasprintf("copy=%s\n", live);
	bs_test_write_str(tree, "src/copy.txt", content);
	free(content);
}

static void teardown(void)
{
	issuer_free(&IS);
	bs_test_rmtree(tree);
	free(tree);
}

TestSuite(revoke_cli, .init = setup, .fini = teardown, .timeout = 120);

/* Runs bstscan with args (NULL-terminated) in an environment of its own; server_url may be
 * NULL (then none is configured). */
static void bstscan(bs_test_proc *p, const char *server_url, const char *const *args, const char *in)
{
	const char *argv[40];
	char *tok = bs_xasprintf("BSTSCAN_TOKEN=%s", IS.svc_token);
	char *xdg = bs_xasprintf("XDG_CONFIG_HOME=%s/xdg", IS.dir);
	char *home = bs_xasprintf("HOME=%s", IS.dir);
	char *srv = bs_xasprintf("BSTSCAN_SERVER=%s", server_url ? server_url : "");
	const char *env[] = {tok, xdg, home, srv, "DBUS_SESSION_BUS_ADDRESS=", NULL};
	int n = 0;
	argv[n++] = BSTSCAN_BIN;
	for (; *args && n < 39; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	memset(p, 0, sizeof(*p));
	cr_assert_eq(bs_test_run(p, argv, tree, env, in, in ? strlen(in) : 0, 90), 0);
	free(tok);
	free(xdg);
	free(home);
	free(srv);
}

static cJSON *find_by_path(cJSON *arr, const char *path)
{
	cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		const cJSON *p = cJSON_GetObjectItem(o, "path");
		if (cJSON_IsString(p) && strstr(p->valuestring, path))
			return o;
	}
	return NULL;
}

static const char *field(cJSON *arr, const char *path, const char *name)
{
	cJSON *o = find_by_path(arr, path);
	const cJSON *v;
	cr_assert(o, "no finding for %s", path);
	v = cJSON_GetObjectItem(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *parse_report(const bs_test_proc *p)
{
	cJSON *r = cJSON_ParseWithLength(p->out.ptr, p->out.len);
	cr_assert(cJSON_IsArray(r), "not a JSON report: %s\nstderr: %s", p->out.ptr, p->err.ptr);
	return r;
}

/* Asks the issuer (with the service credential) what it now says of a hash. */
static char *status_now(const char *hash)
{
	bs_leaks_client *c;
	bs_leaks_options o = {0};
	bs_leak_results r = BS_LEAK_RESULTS_INIT;
	bs_error err = BS_ERROR_INIT;
	const char *h[] = {hash};
	char *s;
	o.server = IS.url;
	o.bearer = IS.svc_token;
	cr_assert_eq(bs_leaks_client_new(&c, &o, &err), 0, "%s", err.message);
	cr_assert_eq(bs_leaks_check(c, &r, h, 1, &err), 0, "%s", err.message);
	s = bs_xstrdup(r.items[0].status);
	bs_leak_results_free(&r);
	bs_leaks_client_free(c);
	return s;
}

static void assert_status_now(const char *hash, const char *want)
{
	char *s = status_now(hash);
	cr_assert_str_eq(s, want);
	free(s);
}

Test(revoke_cli, check_reports_statuses_and_details)
{
	bs_test_proc p;
	const char *args[] = {"scan", "--check", "-f", "json", ".", NULL};
	cJSON *r;
	bstscan(&p, IS.url, args, NULL);
	cr_assert_eq(p.status, 1, "exit %d: %s", p.status, p.err.ptr);
	r = parse_report(&p);
	cr_assert_eq(cJSON_GetArraySize(r), 5);
	cr_assert_str_eq(field(r, "app/.env", "status"), "active");
	cr_assert_str_eq(field(r, "app/.env", "name"), "deploy-bot");
	cr_assert_str_eq(field(r, "app/.env", "owner"), "alice");
	cr_assert_str_eq(field(r, "src/copy.txt", "status"), "active");
	cr_assert_str_eq(field(r, "ci/config.yml", "status"), "revoked");
	cr_assert_str_eq(field(r, "scripts/run.sh", "status"), "expired");
	cr_assert(field(r, "scripts/run.sh", "expires_at"), "expires_at is reported");
	cr_assert_str_eq(field(r, "src/main.js", "status"), "unknown");
	cr_assert_null(field(r, "src/main.js", "owner"));
	cr_assert_null(strstr(p.out.ptr, live), "no raw secret without --show-secret");
	cJSON_Delete(r);
	bs_test_proc_free(&p);
	assert_status_now(h_live, "active");
}

Test(revoke_cli, only_active_keeps_live_tokens)
{
	bs_test_proc p;
	const char *args[] = {"scan", "--check", "--only-active", "-f", "json", ".", NULL};
	cJSON *r, *o;
	bstscan(&p, IS.url, args, NULL);
	cr_assert_eq(p.status, 1, "exit %d: %s", p.status, p.err.ptr);
	r = parse_report(&p);
	cr_assert_eq(cJSON_GetArraySize(r), 2, "%s", p.out.ptr);
	cJSON_ArrayForEach(o, r) cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "active");
	cJSON_Delete(r);
	bs_test_proc_free(&p);
}

Test(revoke_cli, revoke_yes_revokes_live_tokens_with_their_source)
{
	bs_test_proc p;
	const char *args[] = {"scan", "--revoke", "--yes", "-f", "json", ".", NULL};
	const char *audit[] = {"audit", "list", NULL};
	bs_buf b = BS_BUF_INIT;
	cJSON *r;
	bstscan(&p, IS.url, args, NULL);
	cr_assert_eq(p.status, 1, "all live tokens revoked: exit 1, got %d: %s", p.status, p.err.ptr);
	r = parse_report(&p);
	cr_assert_str_eq(field(r, "app/.env", "revoke_outcome"), "revoked");
	cr_assert_str_eq(field(r, "src/copy.txt", "revoke_outcome"), "revoked");
	cr_assert_null(field(r, "ci/config.yml", "revoke_outcome"), "only live tokens are revoked");
	cr_assert_null(field(r, "src/main.js", "revoke_outcome"));
	cr_assert(strstr(p.err.ptr, "deploy-bot"), "the list names the token: %s", p.err.ptr);
	cJSON_Delete(r);
	bs_test_proc_free(&p);
	assert_status_now(h_live, "revoked");
	cr_assert_eq(issuer_notifications(&IS, "deploy-bot"), 1, "revoked once, notified once");
	admin(&IS, &b, audit, NULL);
	cr_assert(strstr(b.ptr, "app/.env") || strstr(b.ptr, "src/copy.txt"), "the source path is sent: %s", b.ptr);
	bs_buf_free(&b);
	/* Run again: nothing live any more, still exit 1 (found). */
	bstscan(&p, IS.url, args, NULL);
	cr_assert_eq(p.status, 1);
	cr_assert(strstr(p.err.ptr, "no live tokens"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
}

Test(revoke_cli, failed_revocation_exits_3)
{
	bs_test_proc p;
	const char *args[] = {"scan", "--revoke", "--yes", "-f", "json", ".", NULL};
	cJSON *r;
	issuer_fault(&IS, "revoke", "503");
	bstscan(&p, IS.url, args, NULL);
	cr_assert_eq(p.status, 3, "exit %d: %s", p.status, p.err.ptr);
	r = parse_report(&p);
	cr_assert_str_eq(field(r, "app/.env", "revoke_outcome"), "failed");
	cJSON_Delete(r);
	bs_test_proc_free(&p);
	issuer_fault(&IS, NULL, NULL);
	assert_status_now(h_live, "active");
}

Test(revoke_cli, no_tty_without_yes_refuses_and_dry_run_only_shows)
{
	bs_test_proc p;
	const char *refuse[] = {"scan", "--revoke", "-f", "json", ".", NULL};
	const char *dry[] = {"scan", "--revoke", "--dry-run", "-f", "json", ".", NULL};
	bstscan(&p, IS.url, refuse, NULL);
	cr_assert_eq(p.status, 2, "exit %d", p.status);
	cr_assert(strstr(p.err.ptr, "--yes"), "the message says how: %s", p.err.ptr);
	bs_test_proc_free(&p);
	assert_status_now(h_live, "active");
	bstscan(&p, IS.url, dry, NULL);
	cr_assert_eq(p.status, 1, "exit %d: %s", p.status, p.err.ptr);
	cr_assert(strstr(p.err.ptr, "would revoke"), "%s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "deploy-bot") && strstr(p.err.ptr, "alice") && strstr(p.err.ptr, "app/.env"),
	          "prefix, name, owner, where: %s", p.err.ptr);
	bs_test_proc_free(&p);
	assert_status_now(h_live, "active");
}

Test(revoke_cli, issuer_down_reports_unchecked)
{
	bs_test_proc p;
	const char *args[] = {"scan", "--check", "-f", "json", ".", NULL};
	const char *strict[] = {"scan", "--check", "--fail-on-check-error", "-f", "json", ".", NULL};
	cJSON *r, *o;
	issuer_stop(&IS);
	bstscan(&p, IS.url, args, NULL);
	cr_assert_eq(p.status, 1, "exit %d: %s", p.status, p.err.ptr);
	r = parse_report(&p);
	cr_assert_eq(cJSON_GetArraySize(r), 5, "the findings are reported in full");
	cJSON_ArrayForEach(o, r) cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "unchecked");
	cr_assert(strstr(p.err.ptr, "cannot check"), "one line says why: %s", p.err.ptr);
	cr_assert_eq(count_lines_containing(&p.err, "\n"), 1, "one line: %s", p.err.ptr);
	cJSON_Delete(r);
	bs_test_proc_free(&p);
	bstscan(&p, IS.url, strict, NULL);
	cr_assert_eq(p.status, 2, "exit %d: %s", p.status, p.err.ptr);
	r = parse_report(&p);
	cr_assert_eq(cJSON_GetArraySize(r), 5);
	cJSON_Delete(r);
	bs_test_proc_free(&p);
	/* --revoke that cannot even check: nothing was revoked, so not exit 1. */
	{
		const char *rev[] = {"scan", "--revoke", "--yes", "-f", "json", ".", NULL};
		bstscan(&p, IS.url, rev, NULL);
		cr_assert_eq(p.status, 3, "exit %d: %s", p.status, p.err.ptr);
		bs_test_proc_free(&p);
	}
}

Test(revoke_cli, refused_credential_reports_unchecked_without_the_token)
{
	bs_test_proc p;
	const char *args[] = {"scan", "--check", "-f", "json", ".", NULL};
	const char *rev[] = {"pat", "revoke", "--hash", NULL, NULL};
	char h[65];
	token_hash(IS.svc_token, h);
	rev[3] = h;
	admin(&IS, NULL, rev, NULL);
	bstscan(&p, IS.url, args, NULL);
	cr_assert_eq(p.status, 1, "exit %d: %s", p.status, p.err.ptr);
	cr_assert(strstr(p.err.ptr, "401"), "%s", p.err.ptr);
	cr_assert_null(strstr(p.err.ptr, IS.svc_token));
	cr_assert(strstr(p.out.ptr, "unchecked"));
	bs_test_proc_free(&p);
}

Test(revoke_cli, revoke_from_report_and_by_hash_idempotent)
{
	bs_test_proc p;
	const char *scan[] = {"scan", "-f", "json", "-o", "report.json", ".", NULL};
	const char *scanl[] = {"scan", "-f", "jsonl", "-o", "report.jsonl", ".", NULL};
	const char *from[] = {"revoke", "--from", "report.json", "--yes", NULL};
	const char *froml[] = {"revoke", "--from", "report.jsonl", "--yes", NULL};
	const char *nyes[] = {"revoke", "--from", "report.json", NULL};
	const char *dry[] = {"revoke", "--from", "report.json", "--dry-run", NULL};
	bs_buf report = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	char *path;

	bstscan(&p, NULL, scan, NULL);
	cr_assert_eq(p.status, 1, "%s", p.err.ptr);
	bs_test_proc_free(&p);
	bstscan(&p, NULL, scanl, NULL);
	cr_assert_eq(p.status, 1, "%s", p.err.ptr);
	bs_test_proc_free(&p);
	path = bs_xasprintf("%s/report.json", tree);
	cr_assert_eq(bs_fs_read_file(&report, path, 1 << 20, &err), 0);
	cr_assert_null(strstr(report.ptr, live), "the report holds no raw secret");
	bs_buf_free(&report);
	free(path);

	bstscan(&p, IS.url, nyes, NULL);
	cr_assert_eq(p.status, 2, "no terminal, no --yes: %d", p.status);
	bs_test_proc_free(&p);
	bstscan(&p, IS.url, dry, NULL);
	cr_assert_eq(p.status, 0);
	cr_assert(strstr(p.err.ptr, "deploy-bot"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	assert_status_now(h_live, "active");

	bstscan(&p, IS.url, from, NULL);
	cr_assert_eq(p.status, 0, "exit %d: %s", p.status, p.err.ptr);
	{
		char *want_live = bs_xasprintf("revoked         %s", h_live);
		char *want_rev = bs_xasprintf("already_revoked %s", h_revoked);
		char *want_exp = bs_xasprintf("expired         %s", h_expired);
		char *want_unk = bs_xasprintf("unknown         %s", h_unknown);
		cr_assert(strstr(p.out.ptr, want_live), "%s", p.out.ptr);
		cr_assert(strstr(p.out.ptr, want_rev), "%s", p.out.ptr);
		cr_assert(strstr(p.out.ptr, want_exp), "%s", p.out.ptr);
		cr_assert(strstr(p.out.ptr, want_unk), "%s", p.out.ptr);
		cr_assert_eq(count_lines_containing(&p.out, h_live), 1, "a token found twice is revoked once");
		free(want_live);
		free(want_rev);
		free(want_exp);
		free(want_unk);
	}
	bs_test_proc_free(&p);
	assert_status_now(h_live, "revoked");

	/* Run again (an interrupted run is simply repeated): idempotent, one notification. */
	bstscan(&p, IS.url, froml, NULL);
	cr_assert_eq(p.status, 0, "exit %d: %s", p.status, p.err.ptr);
	{
		/* Every line of the JSON-lines report counts, not only the first. */
		char *want = bs_xasprintf("already_revoked %s", h_live);
		cr_assert(strstr(p.out.ptr, want), "%s", p.out.ptr);
		cr_assert(strstr(p.out.ptr, h_revoked) && strstr(p.out.ptr, h_expired) && strstr(p.out.ptr, h_unknown),
		          "%s", p.out.ptr);
		cr_assert_eq(count_lines_containing(&p.out, "\n"), 4, "one line per distinct hash: %s", p.out.ptr);
		free(want);
	}
	bs_test_proc_free(&p);
	cr_assert_eq(issuer_notifications(&IS, "deploy-bot"), 1);
}

Test(revoke_cli, revoke_by_hash)
{
	bs_test_proc p;
	char upper[65];
	const char *args[] = {"revoke", "--yes", "--hash", upper, h_unknown, NULL};
	for (size_t i = 0; i < 65; i++)
		upper[i] = (char)(h_live[i] >= 'a' && h_live[i] <= 'f' ? h_live[i] - 32 : h_live[i]);
	bstscan(&p, IS.url, args, NULL);
	cr_assert_eq(p.status, 0, "exit %d: %s", p.status, p.err.ptr);
	cr_assert(strstr(p.out.ptr, "revoked ") && strstr(p.out.ptr, h_live), "%s", p.out.ptr);
	cr_assert(strstr(p.out.ptr, "unknown ") && strstr(p.out.ptr, h_unknown), "%s", p.out.ptr);
	bs_test_proc_free(&p);
	assert_status_now(h_live, "revoked");
	/* The issuer fails: exit 3, run again later. */
	issuer_fault(&IS, "revoke", "503");
	{
		const char *again[] = {"revoke", "--yes", "--hash", h_expired, NULL};
		bstscan(&p, IS.url, again, NULL);
		cr_assert_eq(p.status, 3, "exit %d: %s", p.status, p.err.ptr);
		cr_assert(strstr(p.out.ptr, "failed"), "%s", p.out.ptr);
		bs_test_proc_free(&p);
	}
	issuer_fault(&IS, NULL, NULL);
}

Test(revoke_cli, revoke_usage_errors)
{
	bs_test_proc p;
	const char *raw[] = {"revoke", "--yes", "--hash", live, NULL};
	const char *short_hash[] = {"revoke", "--yes", "--hash", "abcd", NULL};
	const char *none[] = {"revoke", "--yes", NULL};
	const char *bad_report[] = {"revoke", "--yes", "--from", "src/main.js", NULL};
	bstscan(&p, IS.url, raw, NULL);
	cr_assert_eq(p.status, 2);
	cr_assert(strstr(p.err.ptr, "not a hash"), "%s", p.err.ptr);
	cr_assert_null(strstr(p.err.ptr, live), "the token is never echoed");
	bs_test_proc_free(&p);
	bstscan(&p, IS.url, short_hash, NULL);
	cr_assert_eq(p.status, 2);
	bs_test_proc_free(&p);
	bstscan(&p, IS.url, none, NULL);
	cr_assert_eq(p.status, 2);
	bs_test_proc_free(&p);
	bstscan(&p, IS.url, bad_report, NULL);
	cr_assert_eq(p.status, 2);
	cr_assert(strstr(p.err.ptr, "not JSON"), "%s", p.err.ptr);
	cr_assert_null(strstr(p.err.ptr, unknown), "the report's content is never echoed");
	bs_test_proc_free(&p);
	assert_status_now(h_live, "active");
}

Test(revoke_cli, git_remote_credentials_never_leave)
{
	bs_test_proc p;
	const char *args[] = {"scan", "--revoke", "--yes", "-f", "json", "app", NULL};
	const char *audit[] = {"audit", "list", NULL};
	const char *init[] = {"/usr/bin/git", "-C", NULL, "init", "-q", NULL};
	const char *remote[] = {"/usr/bin/git",
	                        "-C",
	                        NULL,
	                        "remote",
	                        "add",
	                        "origin",
	                        "https://bob:ghp_remotepassword@git.example/acme/app.git",
	                        NULL};
	bs_buf b = BS_BUF_INIT;
	init[2] = tree;
	remote[2] = tree;
	memset(&p, 0, sizeof(p));
	cr_assert_eq(bs_test_run(&p, init, NULL, NULL, NULL, 0, 30), 0);
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	bs_test_proc_free(&p);
	cr_assert_eq(bs_test_run(&p, remote, NULL, NULL, NULL, 0, 30), 0);
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	bs_test_proc_free(&p);
	bstscan(&p, IS.url, args, NULL);
	cr_assert_eq(p.status, 1, "exit %d: %s", p.status, p.err.ptr);
	bs_test_proc_free(&p);
	admin(&IS, &b, audit, NULL);
	cr_assert(strstr(b.ptr, "https://git.example/acme/app.git"), "the remote is the source: %s", b.ptr);
	cr_assert_null(strstr(b.ptr, "ghp_remotepassword"), "remote credentials were sent: %s", b.ptr);
	bs_buf_free(&b);
}

static void git(const char *dir, const char *const *args)
{
	const char *argv[16];
	const char *env[] = {"GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.test", "GIT_COMMITTER_NAME=Dev",
	                     "GIT_COMMITTER_EMAIL=dev@example.test", NULL};
	bs_test_proc p;
	int n = 0;
	argv[n++] = "/usr/bin/git";
	argv[n++] = "-C";
	argv[n++] = dir;
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	memset(&p, 0, sizeof(p));
	cr_assert_eq(bs_test_run(&p, argv, NULL, env, NULL, 0, 30), 0);
	cr_assert_eq(p.status, 0, "git %s: %s", argv[3], p.err.ptr);
	bs_test_proc_free(&p);
}

Test(revoke_cli, git_history_revoke_sends_commit_path_and_remote)
{
	bs_test_proc p;
	char *repo = bs_xasprintf("%s/repo", tree), *content = bs_xasprintf("DEPLOY=%s\n", live);
	const char *init[] = {"init", "-q", NULL};
	const char *remote[] = {"remote", "add", "origin", "https://ci:hunter2@git.example/acme/site.git", NULL};
	const char *add[] = {"add", "-A", NULL};
	const char *commit1[] = {"commit", "-q", "-m", "add deploy config", NULL};
	const char *rm[] = {"rm", "-q", "deploy.env", NULL};
	const char *commit2[] = {"commit", "-q", "-m", "remove the secret", NULL};
	const char *args[] = {"git", "--revoke", "--yes", "-f", "json", "repo", NULL};
	const char *audit[] = {"audit", "list", NULL};
	bs_buf b = BS_BUF_INIT;
	cJSON *r, *o;
	const char *commit;
	bs_test_write_str(repo, "deploy.env", content);
	git(repo, init);
	git(repo, remote);
	git(repo, add);
	git(repo, commit1);
	git(repo, rm);
	git(repo, commit2);
	bstscan(&p, IS.url, args, NULL);
	cr_assert_eq(p.status, 1, "exit %d: %s", p.status, p.err.ptr);
	r = parse_report(&p);
	cr_assert_eq(cJSON_GetArraySize(r), 1, "%s", p.out.ptr);
	o = cJSON_GetArrayItem(r, 0);
	cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "active");
	cr_assert_str_eq(cJSON_GetObjectItem(o, "revoke_outcome")->valuestring, "revoked");
	commit = cJSON_GetObjectItem(o, "commit")->valuestring;
	cr_assert(commit && strlen(commit) == 40);
	assert_status_now(h_live, "revoked");
	admin(&IS, &b, audit, NULL);
	cr_assert(strstr(b.ptr, commit), "the commit is the source: %s", b.ptr);
	cr_assert(strstr(b.ptr, "deploy.env"), "the path is the source: %s", b.ptr);
	cr_assert(strstr(b.ptr, "https://git.example/acme/site.git"), "the remote is the source: %s", b.ptr);
	cr_assert_null(strstr(b.ptr, "hunter2"), "remote credentials were sent: %s", b.ptr);
	bs_buf_free(&b);
	cJSON_Delete(r);
	bs_test_proc_free(&p);
	free(repo);
	free(content);
}

/* Runs `bstscan scan --revoke` on a pseudo-terminal, answers the question with answer, and
 * returns the exit status; the terminal's output is appended to out. */
static int revoke_on_tty(const char *answer, bs_buf *out)
{
	int master, status = -1;
	pid_t pid = forkpty(&master, NULL, NULL, NULL);
	int answered = 0;
	cr_assert_geq(pid, 0, "forkpty");
	if (pid == 0) {
		char *const argv[] = {(char *)BSTSCAN_BIN, "scan", "--revoke", "--no-color", "-f", "json", ".", NULL};
		char xdg[512];
		snprintf(xdg, sizeof(xdg), "%s/xdg", IS.dir);
		setenv("BSTSCAN_TOKEN", IS.svc_token, 1);
		setenv("BSTSCAN_SERVER", IS.url, 1);
		setenv("XDG_CONFIG_HOME", xdg, 1);
		setenv("HOME", IS.dir, 1);
		setenv("DBUS_SESSION_BUS_ADDRESS", "", 1);
		if (chdir(tree) != 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	for (;;) {
		char buf[4096];
		ssize_t n = read(master, buf, sizeof(buf));
		if (n <= 0)
			break; /* EIO once the child has exited */
		bs_buf_add(out, buf, (size_t)n);
		if (!answered && strstr(out->ptr, "[y/N]")) {
			cr_assert_eq(write(master, answer, strlen(answer)), (ssize_t)strlen(answer));
			answered = 1;
		}
	}
	close(master);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(answered, "no question was asked: %s", out->ptr);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

Test(revoke_cli, terminal_asks_before_revoking)
{
	bs_buf out = BS_BUF_INIT;
	cr_assert_eq(revoke_on_tty("n\n", &out), 1, "%s", out.ptr);
	cr_assert(strstr(out.ptr, "deploy-bot") && strstr(out.ptr, "owner alice"), "the list comes first: %s", out.ptr);
	cr_assert(strstr(out.ptr, "nothing was revoked"), "%s", out.ptr);
	assert_status_now(h_live, "active");
	bs_buf_reset(&out);
	cr_assert_eq(revoke_on_tty("y\n", &out), 1, "%s", out.ptr);
	cr_assert(strstr(out.ptr, "revoked 1 of 1"), "%s", out.ptr);
	assert_status_now(h_live, "revoked");
	bs_buf_free(&out);
}
