/* bstscan auth end to end against the reference server (bstscan-server): device login approved,
 * denied, expired and slowed down; refresh with rotation; concurrent refreshes; reuse detection;
 * logout with the server up and down; workload identity by token exchange with an ID token signed
 * here and served by a fake GitHub Actions endpoint; status and token. Server-side effects are
 * checked in the server's database (sqlite3), not only through the client's eyes. */
#include "tests/unit/test_server_support.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "auth/auth.h"
#include "common/fs.h"
#include "common/timeutil.h"
#include "tests/fixtures/auth/fake_oauth.h"

static srv_ctx S;
static char *home; /* XDG_CONFIG_HOME of the client */
static char *xdg_env;

static void setup_common(const char *const *server_args)
{
	memset(&S, 0, sizeof(S));
	home = bs_test_mkdtemp();
	xdg_env = bs_xasprintf("XDG_CONFIG_HOME=%s", home);
	setenv("XDG_CONFIG_HOME", home, 1);
	unsetenv("BSTSCAN_TOKEN");
	unsetenv("BSTSCAN_OIDC");
	unsetenv("BSTSCAN_SERVER");
	srv_start(&S, server_args);
	cr_assert_eq(srv_admin_in(&S, "pw-alice\n", NULL, "user", "add", "alice", (const char *)NULL), 0);
}

static void setup(void)
{
	setup_common(NULL);
}

/* Access tokens that live 90 s; tests age the stored one to force a refresh (expire_stored()). */
static void setup_short(void)
{
	static const char *const args[] = {"--access-ttl", "90", NULL};
	setup_common(args);
}

static void teardown(void)
{
	if (S.pid)
		srv_stop(&S);
	bs_test_rmtree(home);
	free(home);
	free(xdg_env);
}

TestSuite(e2e, .init = setup, .fini = teardown, .timeout = 120);
TestSuite(e2e_refresh, .init = setup_short, .fini = teardown, .timeout = 120);

/* One value from the server's database. */
static long long db_count(const char *sql)
{
	const char *argv[] = {"/usr/bin/sqlite3", S.db, sql, NULL};
	bs_test_proc p;
	long long v;
	cr_assert_eq(bs_test_run(&p, argv, NULL, NULL, NULL, 0, 20), 0);
	cr_assert_eq(p.status, 0, "sqlite3: %s", p.err.ptr);
	v = atoll(p.out.ptr);
	bs_test_proc_free(&p);
	return v;
}

/* ---- the CLI in the background, read as a person would read its stderr ---- */

typedef struct bg {
	pid_t pid;
	int err_fd;
	bs_buf err;
} bg;

static void bg_start(bg *b, const char *const *args, const char *const *env)
{
	const char *argv[24];
	int n = 0, pe[2];
	argv[n++] = BSTSCAN_BIN;
	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	cr_assert_eq(pipe(pe), 0);
	b->err = (bs_buf)BS_BUF_INIT;
	b->pid = fork();
	cr_assert_geq(b->pid, 0);
	if (b->pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(pe[1], 2);
		close(pe[0]);
		close(pe[1]);
		setenv("XDG_CONFIG_HOME", home, 1);
		unsetenv("DISPLAY");
		unsetenv("WAYLAND_DISPLAY");
		for (; env && *env; env++)
			putenv((char *)*env);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pe[1]);
	b->err_fd = pe[0];
}

/* Reads stderr until the indented user code line; returns the code (static buffer). */
static const char *bg_user_code(bg *b)
{
	static char code[16];
	long long until = bs_time_monotonic_ms() + 20000;
	while (bs_time_monotonic_ms() < until) {
		struct pollfd pfd = {b->err_fd, POLLIN, 0};
		char chunk[512];
		ssize_t n;
		const char *p;
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(b->err_fd, chunk, sizeof(chunk));
		cr_assert_gt(n, 0, "bstscan exited before showing a code: %s", b->err.ptr);
		bs_buf_add(&b->err, chunk, (size_t)n);
		p = strstr(b->err.ptr, "\n    ");
		if (p && strlen(p + 5) >= 9 && p[5 + 4] == '-') {
			memcpy(code, p + 5, 9);
			code[9] = '\0';
			return code;
		}
	}
	cr_assert_fail("no user code on stderr: %s", b->err.ptr);
	return NULL;
}

static int bg_wait(bg *b)
{
	char chunk[512];
	ssize_t n;
	int status;
	while ((n = read(b->err_fd, chunk, sizeof(chunk))) > 0)
		bs_buf_add(&b->err, chunk, (size_t)n);
	close(b->err_fd);
	waitpid(b->pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void run_cli(bs_test_proc *p, const char *const *args, const char *const *extra)
{
	const char *argv[24];
	const char *env[24];
	int n = 0, e = 0;
	argv[n++] = BSTSCAN_BIN;
	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	env[e++] = xdg_env;
	env[e++] = "BSTSCAN_TOKEN=";
	env[e++] = "BSTSCAN_OIDC=";
	for (; extra && *extra; extra++)
		env[e++] = *extra;
	env[e] = NULL;
	cr_assert_eq(bs_test_run(p, argv, NULL, env, NULL, 0, 60), 0);
}

static void login_via_cli(void)
{
	bg b;
	const char *code;
	bg_start(
	    &b,
	    (const char *[]){"auth", "login", "--server", S.url, "--credential-store", "file", "--no-browser", NULL},
	    NULL);
	code = bg_user_code(&b);
	cr_assert_eq(srv_admin(&S, NULL, "device", "approve", code, "--user", "alice"), 0);
	cr_assert_eq(bg_wait(&b), 0, "%s", b.err.ptr);
	bs_buf_free(&b.err);
}

Test(e2e, login_approved_then_status_and_token)
{
	bs_test_proc p;
	bg b;
	const char *code;
	bg_start(&b,
	         (const char *[]){"auth", "login", "--server", S.url, "--credential-store", "file", "--no-browser",
	                          "--scopes", "leaks:check,leaks:revoke", NULL},
	         NULL);
	code = bg_user_code(&b);
	cr_assert(strstr(b.err.ptr, "/device"), "%s", b.err.ptr);
	cr_assert_eq(srv_admin(&S, NULL, "device", "approve", code, "--user", "alice"), 0);
	cr_assert_eq(bg_wait(&b), 0, "%s", b.err.ptr);
	cr_assert(strstr(b.err.ptr, "Logged in to"), "%s", b.err.ptr);
	cr_assert(strstr(b.err.ptr, "alice"), "%s", b.err.ptr);
	cr_assert_null(strstr(b.err.ptr, "eyJ"), "no token on stderr");
	bs_buf_free(&b.err);

	run_cli(&p, (const char *[]){"auth", "status", "--server", S.url, NULL}, NULL);
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert(strstr(p.out.ptr, "Credential: credentials file"), "%s", p.out.ptr);
	cr_assert(strstr(p.out.ptr, "alice"), "%s", p.out.ptr);
	cr_assert(strstr(p.out.ptr, "leaks:revoke"), "%s", p.out.ptr);
	cr_assert(strstr(p.out.ptr, "Expires:"), "%s", p.out.ptr);
	cr_assert_null(strstr(p.out.ptr, "eyJ"));
	bs_test_proc_free(&p);

	run_cli(&p, (const char *[]){"auth", "token", "--server", S.url, NULL}, NULL);
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert(strncmp(p.out.ptr, "eyJ", 3) == 0, "a JWT access token: %s", p.out.ptr);
	{
		/* The printed token works against the API. */
		http_resp r;
		bs_buf_truncate(&p.out, p.out.len - 1);
		api_call(&S, &r, "GET", "/api/v1/me", p.out.ptr);
		cr_assert_eq(r.status, 200, "%s", r.body.ptr);
		http_free(&r);
	}
	bs_test_proc_free(&p);
}

Test(e2e, login_denied)
{
	bg b;
	const char *code;
	bg_start(
	    &b,
	    (const char *[]){"auth", "login", "--server", S.url, "--credential-store", "file", "--no-browser", NULL},
	    NULL);
	code = bg_user_code(&b);
	cr_assert_eq(srv_admin(&S, NULL, "device", "deny", code, "--user", "alice"), 0);
	cr_assert_eq(bg_wait(&b), 2, "%s", b.err.ptr);
	cr_assert(strstr(b.err.ptr, "denied"), "%s", b.err.ptr);
	bs_buf_free(&b.err);
}

Test(e2e, login_expired)
{
	bg b;
	srv_stop(&S);
	srv_start(&S, (const char *[]){"--device-expires-in", "3", NULL});
	bg_start(
	    &b,
	    (const char *[]){"auth", "login", "--server", S.url, "--credential-store", "file", "--no-browser", NULL},
	    NULL);
	(void)bg_user_code(&b);
	cr_assert_eq(bg_wait(&b), 2, "%s", b.err.ptr);
	cr_assert(strstr(b.err.ptr, "expired"), "%s", b.err.ptr);
	cr_assert(strstr(b.err.ptr, "bstscan auth login"), "%s", b.err.ptr);
	bs_buf_free(&b.err);
}

Test(e2e, login_interrupted_by_ctrl_c)
{
	bg b;
	(void)0;
	bg_start(
	    &b,
	    (const char *[]){"auth", "login", "--server", S.url, "--credential-store", "file", "--no-browser", NULL},
	    NULL);
	(void)bg_user_code(&b);
	kill(b.pid, SIGINT);
	cr_assert_eq(bg_wait(&b), 130, "%s", b.err.ptr);
	cr_assert(strstr(b.err.ptr, "cancelled"), "%s", b.err.ptr);
	bs_buf_free(&b.err);
}

/* ---- library-level device flow, with the first two waits skipped to poll too fast once ---- */

typedef struct slow_ui {
	long long skipped_ms;
	long long skip_budget_ms;
	int notices;
	char code[16];
} slow_ui;

static long long slow_now(void *ctx)
{
	slow_ui *u = ctx;
	return bs_time_monotonic_ms() + u->skipped_ms;
}

static void slow_sleep(void *ctx, long ms)
{
	slow_ui *u = ctx;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	if (u->skip_budget_ms > 0) {
		u->skip_budget_ms -= ms;
		u->skipped_ms += ms;
		return;
	}
	nanosleep(&ts, NULL);
}

static void slow_show(void *ctx, const bs_device_prompt *p)
{
	slow_ui *u = ctx;
	snprintf(u->code, sizeof(u->code), "%s", p->user_code);
}

static void slow_notice(void *ctx, const char *msg)
{
	slow_ui *u = ctx;
	if (strstr(msg, "slow down")) {
		u->notices++;
		/* Approve now: the next poll succeeds only if it waits the new, longer interval. */
		cr_assert_eq(srv_admin(&S, NULL, "device", "approve", u->code, "--user", "alice"), 0);
	}
}

Test(e2e, slow_down_from_the_server_is_honoured_for_good)
{
	slow_ui u = {0, 2000, 0, {0}};
	bs_device_ui ui = {slow_show, NULL, slow_notice, NULL, slow_now, slow_sleep, &u};
	bs_auth_options o = {0};
	bs_auth_session *s;
	bs_error err = BS_ERROR_INIT;
	o.server = S.url;
	o.store = BS_STORE_FILE;
	o.stored_only = 1;
	cr_assert_eq(bs_auth_session_open(&s, &o, &err), 0, "%s", err.message);
	cr_assert_eq(bs_auth_session_login(s, "leaks:check", &ui, &err), 0, "%s", err.message);
	cr_assert_eq(u.notices, 1, "one slow_down, then the client kept the longer interval");
	cr_assert_eq(db_count("SELECT interval FROM device_authorizations"), 6, "the server raised it to 1 + 5 s");
	bs_auth_session_close(s);
}

/* ---- refresh ---- */

static bs_auth_session *login_lib_open(void)
{
	{
		bs_auth_options o = {0};
		bs_auth_session *s;
		bs_error err = BS_ERROR_INIT;
		o.server = S.url;
		o.store = BS_STORE_FILE;
		cr_assert_eq(bs_auth_session_open(&s, &o, &err), 0, "%s", err.message);
		cr_assert_eq(bs_auth_session_source(s), BS_AUTH_SOURCE_FILE);
		return s;
	}
}

static bs_auth_session *login_lib(void)
{
	login_via_cli();
	return login_lib_open();
}

static void read_creds(bs_buf *out)
{
	char *p = bs_xasprintf("%s/bstscan/credentials.json", home);
	bs_error err = BS_ERROR_INIT;
	bs_buf_reset(out);
	cr_assert_eq(bs_fs_read_file(out, p, 1 << 20, &err), 0, "%s", err.message);
	free(p);
}

static void write_creds(const bs_buf *data)
{
	char *p = bs_xasprintf("%s/bstscan/credentials.json", home);
	bs_error err = BS_ERROR_INIT;
	cr_assert_eq(bs_fs_write_atomic(p, data->ptr, data->len, 0600, &err), 0, "%s", err.message);
	free(p);
}

/* Makes the stored access token look expired, as if the login were old. */
static void expire_stored(void)
{
	bs_buf raw = BS_BUF_INIT;
	cJSON *j, *it;
	char *text;
	read_creds(&raw);
	j = cJSON_ParseWithLength(raw.ptr, raw.len);
	cr_assert_not_null(j);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "logins"))
	{
		cJSON_ReplaceItemInObject(it, "expires_at", cJSON_CreateString("2001-01-01T00:00:00Z"));
	}
	text = cJSON_Print(j);
	bs_buf_reset(&raw);
	bs_buf_adds(&raw, text);
	write_creds(&raw);
	free(text);
	cJSON_Delete(j);
	bs_buf_free(&raw);
}

Test(e2e_refresh, refresh_rotates_and_the_new_tokens_work)
{
	bs_auth_session *s = login_lib();
	bs_buf before = BS_BUF_INIT, after = BS_BUF_INIT, tok = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	bs_auth_me me;
	long long used = db_count("SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL");
	long long issued = db_count("SELECT count(*) FROM refresh_tokens");
	bs_auth_session_close(s);
	expire_stored();
	s = login_lib_open();
	read_creds(&before);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), 0, "%s", err.message);
	read_creds(&after);
	cr_assert_str_neq(before.ptr, after.ptr, "the refresh was stored");
	cr_assert_eq(db_count("SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL"), used + 1);
	cr_assert_eq(db_count("SELECT count(*) FROM refresh_tokens"), issued + 1,
	             "rotation issued a new refresh token");
	cr_assert_eq(bs_auth_session_me(s, &me, &err), 0, "%s", err.message);
	cr_assert_str_eq(me.sub, "alice");
	bs_auth_me_free(&me);
	cr_assert_eq(db_count("SELECT count(*) FROM refresh_token_families WHERE revoked_at IS NOT NULL"), 0);
	bs_auth_session_close(s);
	bs_buf_free(&before);
	bs_buf_free(&after);
	bs_buf_free_secure(&tok);
}

Test(e2e_refresh, concurrent_processes_refresh_once)
{
	bs_test_proc p;
	pid_t kids[3];
	int rd[3];
	bs_buf tokens[3];
	long long used;
	login_via_cli();
	expire_stored();
	used = db_count("SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL");
	/* Three `bstscan auth token` at the same moment, each needing a refresh. */
	for (int i = 0; i < 3; i++) {
		int fds[2];
		cr_assert_eq(pipe(fds), 0);
		kids[i] = fork();
		if (kids[i] == 0) {
			close(fds[0]);
			run_cli(&p, (const char *[]){"auth", "token", "--server", S.url, NULL}, NULL);
			if (p.status == 0 && write(fds[1], p.out.ptr, p.out.len) < 0)
				_exit(3);
			_exit(p.status);
		}
		close(fds[1]);
		tokens[i] = (bs_buf)BS_BUF_INIT;
		rd[i] = fds[0];
	}
	for (int i = 0; i < 3; i++) {
		char chunk[4096];
		ssize_t n;
		int status;
		while ((n = read(rd[i], chunk, sizeof(chunk))) > 0)
			bs_buf_add(&tokens[i], chunk, (size_t)n);
		close(rd[i]);
		waitpid(kids[i], &status, 0);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bstscan auth token #%d failed", i);
		cr_assert(tokens[i].len > 10);
	}
	cr_assert_str_eq(tokens[0].ptr, tokens[1].ptr, "all three share the one refreshed token");
	cr_assert_str_eq(tokens[1].ptr, tokens[2].ptr);
	cr_assert_eq(db_count("SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL"), used + 1,
	             "exactly one refresh reached the server");
	cr_assert_eq(db_count("SELECT count(*) FROM refresh_token_families WHERE revoked_at IS NOT NULL"), 0,
	             "no reuse was detected");
	for (int i = 0; i < 3; i++)
		bs_buf_free(&tokens[i]);
}

Test(e2e_refresh, reuse_of_a_spent_refresh_token_ends_the_session)
{
	bs_auth_session *s = login_lib();
	bs_buf stale = BS_BUF_INIT, tok = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	bs_test_proc p;
	bs_auth_session_close(s);
	expire_stored();
	read_creds(&stale);
	s = login_lib_open();
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), 0, "%s", err.message);
	bs_auth_session_close(s);
	/* A copy of the old credentials (a stolen backup, say) presents the spent refresh token. */
	write_creds(&stale);
	run_cli(&p, (const char *[]){"auth", "token", "--server", S.url, NULL}, NULL);
	cr_assert_eq(p.status, 2);
	cr_assert(strstr(p.err.ptr, "Session expired. Run: bstscan auth login"), "%s", p.err.ptr);
	cr_assert_eq(p.out.len, 0);
	bs_test_proc_free(&p);
	cr_assert_eq(db_count("SELECT count(*) FROM refresh_token_families WHERE revoked_at IS NOT NULL"), 1,
	             "the server revoked the whole family");
	run_cli(&p, (const char *[]){"auth", "status", "--server", S.url, NULL}, NULL);
	cr_assert(strstr(p.out.ptr, "Not logged in"), "the dead login was cleared: %s", p.out.ptr);
	bs_test_proc_free(&p);
	bs_buf_free(&stale);
	bs_buf_free_secure(&tok);
}

/* ---- logout ---- */

Test(e2e, logout_revokes_at_the_server)
{
	bs_test_proc p;
	login_via_cli();
	cr_assert_eq(db_count("SELECT count(*) FROM refresh_token_families WHERE revoked_at IS NOT NULL"), 0);
	run_cli(&p, (const char *[]){"auth", "logout", "--server", S.url, NULL}, NULL);
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "revoked at the server"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	cr_assert_eq(db_count("SELECT count(*) FROM refresh_token_families WHERE revoked_at IS NOT NULL"), 1);
	run_cli(&p, (const char *[]){"auth", "token", "--server", S.url, NULL}, NULL);
	cr_assert_eq(p.status, 2);
	cr_assert(strstr(p.err.ptr, "Not logged in"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
}

Test(e2e, logout_with_the_server_down)
{
	bs_test_proc p;
	char *url;
	login_via_cli();
	url = bs_xstrdup(S.url);
	cr_assert_eq(bs_test_stop(S.pid), 0);
	S.pid = 0;
	run_cli(&p, (const char *[]){"auth", "logout", "--server", url, NULL}, NULL);
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "Logged out locally"), "%s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "cannot reach"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	run_cli(&p, (const char *[]){"auth", "status", "--server", url, NULL}, NULL);
	cr_assert(strstr(p.out.ptr, "Not logged in"), "%s", p.out.ptr);
	bs_test_proc_free(&p);
	free(url);
	bs_test_rmtree(S.dir);
	free(S.dir);
	free(S.db);
	S.dir = S.db = NULL;
}

/* ---- PAT and workload identity ---- */

Test(e2e, bstscan_token_with_a_pat)
{
	char *pat = srv_user_pat(&S, "alice", "leaks:check");
	char *env = bs_xasprintf("BSTSCAN_TOKEN=%s", pat);
	bs_test_proc p;
	run_cli(&p, (const char *[]){"auth", "status", "--server", S.url, NULL}, (const char *[]){env, NULL});
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert(strstr(p.out.ptr, "Credential: BSTSCAN_TOKEN"), "%s", p.out.ptr);
	cr_assert(strstr(p.out.ptr, "alice"), "%s", p.out.ptr);
	cr_assert_null(strstr(p.out.ptr, pat));
	cr_assert_null(strstr(p.err.ptr, pat));
	bs_test_proc_free(&p);
	free(env);
	free(pat);
}

#define CI_ISS "https://token.actions.githubusercontent.com"

Test(e2e, workload_identity_with_a_github_actions_id_token)
{
	EVP_PKEY *key = test_key_ec();
	cJSON *jwks = cJSON_CreateObject(), *keys = cJSON_AddArrayToObject(jwks, "keys");
	char *text, *jwks_path, *claims, *idtok, *body, *url_env, *tok_env, *bad_claims, *bad_tok, *bad_body;
	fake_oauth *gh;
	bs_test_proc p;
	long now = (long)time(NULL);
	jwks_add(keys, key, "gh-1");
	text = cJSON_Print(jwks);
	bs_test_write_str(home, "jwks.json", text);
	jwks_path = bs_xasprintf("%s/jwks.json", home);
	cr_assert_eq(srv_admin(&S, NULL, "trust", "add", "--issuer", CI_ISS, "--jwks", jwks_path, "--audience",
	                       "bstscan-e2e", "--subject", "repo:acme/app:*", "--scopes", "leaks:check"),
	             0);
	claims = bs_xasprintf("{\"iss\":\"" CI_ISS "\",\"aud\":\"bstscan-e2e\",\"sub\":\"repo:acme/app:ref:refs/heads/"
	                      "main\",\"iat\":%ld,\"nbf\":%ld,\"exp\":%ld}",
	                      now - 5, now - 5, now + 300);
	idtok = test_jwt(key, "gh-1", claims);
	body = bs_xasprintf("{\"count\":1,\"value\":\"%s\"}", idtok);
	bad_claims = bs_xasprintf("{\"iss\":\"" CI_ISS "\",\"aud\":\"other\",\"sub\":\"repo:acme/app:ref:refs/heads/"
	                          "main\",\"iat\":%ld,\"nbf\":%ld,\"exp\":%ld}",
	                          now - 5, now - 5, now + 300);
	bad_tok = test_jwt(key, "gh-1", bad_claims);
	bad_body = bs_xasprintf("{\"count\":1,\"value\":\"%s\"}", bad_tok);
	gh = fo_start();
	fo_json(gh, "GET", "/_apis/idtoken", 200, body);
	fo_json(gh, "GET", "/_apis/idtoken", 200, body);
	fo_json(gh, "GET", "/_apis/idtoken", 200, bad_body);
	url_env = bs_xasprintf("ACTIONS_ID_TOKEN_REQUEST_URL=%s/_apis/idtoken?api-version=2.0", gh->url);
	tok_env = bs_xasprintf("ACTIONS_ID_TOKEN_REQUEST_TOKEN=gh-runtime-token");

	run_cli(&p, (const char *[]){"auth", "status", "--server", S.url, NULL},
	        (const char *[]){"BSTSCAN_OIDC=1", "BSTSCAN_OIDC_AUDIENCE=bstscan-e2e", url_env, tok_env, NULL});
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert(strstr(p.out.ptr, "Credential: workload identity"), "%s", p.out.ptr);
	cr_assert(strstr(p.out.ptr, "repo:acme/app"), "%s", p.out.ptr);
	cr_assert_null(strstr(p.out.ptr, idtok));
	cr_assert_null(strstr(p.err.ptr, idtok));
	bs_test_proc_free(&p);
	cr_assert_str_eq(fo_req(gh, "/_apis/idtoken", 0).audience, "bstscan-e2e");
	cr_assert_str_eq(fo_req(gh, "/_apis/idtoken", 0).authorization, "Bearer gh-runtime-token");

	run_cli(&p,
	        (const char *[]){"auth", "login", "--oidc", "--oidc-audience", "bstscan-e2e", "--server", S.url, NULL},
	        (const char *[]){url_env, tok_env, NULL});
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "Workload identity works"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	{
		struct stat st;
		char *cred = bs_xasprintf("%s/bstscan/credentials.json", home);
		cr_assert_neq(stat(cred, &st), 0, "workload tokens are never stored");
		free(cred);
	}

	/* An ID token for an audience the trust policy does not name is refused. */
	run_cli(&p, (const char *[]){"auth", "token", "--server", S.url, NULL},
	        (const char *[]){"BSTSCAN_OIDC=1", "BSTSCAN_OIDC_AUDIENCE=bstscan-e2e", url_env, tok_env, NULL});
	cr_assert_eq(p.status, 2, "%s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "workload identity"), "%s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "invalid_grant"), "%s", p.err.ptr);
	bs_test_proc_free(&p);

	fo_stop(gh);
	cJSON_Delete(jwks);
	EVP_PKEY_free(key);
	free(text);
	free(jwks_path);
	free(claims);
	free(idtok);
	free(body);
	free(url_env);
	free(tok_env);
	free(bad_claims);
	free(bad_tok);
	free(bad_body);
}

Test(e2e, logging_in_again_revokes_the_previous_session)
{
	login_via_cli();
	cr_assert_eq(db_count("SELECT count(*) FROM refresh_token_families"), 1);
	login_via_cli();
	cr_assert_eq(db_count("SELECT count(*) FROM refresh_token_families"), 2);
	cr_assert_eq(db_count("SELECT count(*) FROM refresh_token_families WHERE revoked_at IS NOT NULL"), 1,
	             "the replaced login's refresh token no longer works at the server");
}

Test(e2e, verbose_login_logs_requests_but_no_secret)
{
	bg b;
	const char *code;
	bg_start(&b,
	         (const char *[]){"auth", "login", "--verbose", "--server", S.url, "--credential-store", "file",
	                          "--no-browser", NULL},
	         NULL);
	code = bg_user_code(&b);
	cr_assert_eq(srv_admin(&S, NULL, "device", "approve", code, "--user", "alice"), 0);
	cr_assert_eq(bg_wait(&b), 0, "%s", b.err.ptr);
	cr_assert(strstr(b.err.ptr, "> POST "), "%s", b.err.ptr);
	cr_assert(strstr(b.err.ptr, "/oauth/token"), "%s", b.err.ptr);
	cr_assert(strstr(b.err.ptr, "Authorization: Bearer [redacted]"), "the /me call after login: %s", b.err.ptr);
	cr_assert_null(strstr(b.err.ptr, "eyJ"), "no token: %s", b.err.ptr);
	cr_assert_null(strstr(b.err.ptr, "device_code="), "no request body: %s", b.err.ptr);
	bs_buf_free(&b.err);
}
