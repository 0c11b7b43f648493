/* auth/session.c, store.c (file backend) and workload.c against the fake OAuth server: the
 * credential order, refresh with rotation and its cross-process lock, what may and may not erase
 * a stored login, workload identity, logout. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "common/fs.h"
#include "tests/fixtures/auth/fake_oauth.h"
#include "tests/support/testutil.h"

static char *tmp;

static void setup(void)
{
	tmp = bs_test_mkdtemp();
	setenv("XDG_CONFIG_HOME", tmp, 1);
	unsetenv("BSTSCAN_TOKEN");
	unsetenv("BSTSCAN_OIDC");
	unsetenv("BSTSCAN_SERVER");
	unsetenv("BSTSCAN_OIDC_ENV");
	unsetenv("BSTSCAN_OIDC_TOKEN_FILE");
	unsetenv("BSTSCAN_OIDC_AUDIENCE");
	unsetenv("ACTIONS_ID_TOKEN_REQUEST_URL");
	unsetenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
}

static void teardown(void)
{
	bs_test_rmtree(tmp);
	free(tmp);
}

TestSuite(session, .init = setup, .fini = teardown);
TestSuite(server_url, .init = setup, .fini = teardown);
TestSuite(file_store, .init = setup, .fini = teardown);
TestSuite(workload, .init = setup, .fini = teardown);

static char *path_in(const char *rel)
{
	return bs_xasprintf("%s/bstscan/%s", tmp, rel);
}

static void read_text(bs_buf *out, const char *rel)
{
	char *p = path_in(rel);
	bs_error err = BS_ERROR_INIT;
	bs_buf_reset(out);
	cr_assert_eq(bs_fs_read_file(out, p, 1 << 20, &err), 0, "%s", err.message);
	free(p);
}

/* Stores a login for fo in the credentials file. */
static void store_login(fake_oauth *fo, const char *access, const char *refresh, time_t expires_at)
{
	bs_cred_store *st;
	bs_cred_store_options so = {BS_STORE_FILE, 0};
	bs_error err = BS_ERROR_INIT;
	bs_auth_creds c = {0};
	cr_assert_eq(bs_cred_store_open(&st, &so, &err), 0, "%s", err.message);
	c.server = bs_xstrdup(fo->url);
	c.client_id = bs_xstrdup("bstscan-cli");
	c.token_endpoint = bs_xasprintf("%s/oauth/token", fo->url);
	c.revocation_endpoint = bs_xasprintf("%s/oauth/revoke", fo->url);
	c.access_token = bs_xstrdup(access);
	c.refresh_token = refresh ? bs_xstrdup(refresh) : NULL;
	c.scope = bs_xstrdup("leaks:check");
	c.expires_at = expires_at;
	c.created_at = time(NULL);
	cr_assert_eq(bs_cred_store_save(st, &c, &err), 0, "%s", err.message);
	bs_auth_creds_free(&c);
	bs_cred_store_close(st);
}

static bs_auth_session *open_file_session(fake_oauth *fo, int stored_only)
{
	bs_auth_options o = {0};
	bs_auth_session *s;
	bs_error err = BS_ERROR_INIT;
	o.server = fo->url;
	o.store = BS_STORE_FILE;
	o.stored_only = stored_only;
	cr_assert_eq(bs_auth_session_open(&s, &o, &err), 0, "%s", err.message);
	return s;
}

static char *refresh_reply(const char *new_refresh, char **access_out)
{
	char *jwt = fo_make_jwt((long long)time(NULL) + 900, "alice");
	char *body = bs_xasprintf("{\"access_token\":\"%s\",\"token_type\":\"Bearer\",\"expires_in\":900,"
	                          "\"refresh_token\":\"%s\",\"scope\":\"leaks:check\"}",
	                          jwt, new_refresh);
	*access_out = jwt;
	return body;
}

/* ---- the server URL ---- */

Test(server_url, flag_then_environment_then_config_file)
{
	char *url = NULL;
	bs_error err = BS_ERROR_INIT;
	cr_assert_eq(bs_auth_resolve_server(&url, NULL, &err), BS_ERR_USAGE);
	cr_assert(strstr(err.message, "--server"), "%s", err.message);
	cr_assert(strstr(err.message, "BSTSCAN_SERVER"), "%s", err.message);
	cr_assert(strstr(err.message, "config.json"), "%s", err.message);
	bs_test_write_str(tmp, "bstscan/config.json", "{\"server\": \"https://config.example/\"}");
	cr_assert_eq(bs_auth_resolve_server(&url, NULL, &err), 0, "%s", err.message);
	cr_assert_str_eq(url, "https://config.example");
	free(url);
	setenv("BSTSCAN_SERVER", "https://env.example", 1);
	cr_assert_eq(bs_auth_resolve_server(&url, NULL, &err), 0);
	cr_assert_str_eq(url, "https://env.example");
	free(url);
	cr_assert_eq(bs_auth_resolve_server(&url, "http://127.0.0.1:9/", &err), 0);
	cr_assert_str_eq(url, "http://127.0.0.1:9");
	free(url);
	cr_assert_eq(bs_auth_resolve_server(&url, "http://issuer.example", &err), BS_ERR_USAGE);
	cr_assert(strstr(err.message, "--server"), "%s", err.message);
	cr_assert(strstr(err.message, "https://"), "%s", err.message);
}

Test(server_url, a_malformed_config_file_is_reported)
{
	char *url = NULL;
	bs_error err = BS_ERROR_INIT;
	bs_test_write_str(tmp, "bstscan/config.json", "{\"srv\": 1}");
	cr_assert_eq(bs_auth_resolve_server(&url, NULL, &err), BS_ERR_PARSE);
	cr_assert(strstr(err.message, "\"server\""), "%s", err.message);
}

/* ---- the credential order ---- */

Test(session, bstscan_token_wins_and_is_never_stored)
{
	fake_oauth *fo = fo_start();
	bs_auth_session *s;
	bs_buf tok = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	char pat[48];
	struct stat st;
	char *cred = path_in("credentials.json");
	bs_test_make_bst_token(pat);
	store_login(fo, "stored-access", "stored-refresh", time(NULL) + 900);
	unlink(cred);
	setenv("BSTSCAN_TOKEN", pat, 1);
	setenv("BSTSCAN_OIDC", "1", 1);
	s = open_file_session(fo, 0);
	cr_assert_eq(bs_auth_session_source(s), BS_AUTH_SOURCE_ENV);
	cr_assert_str_eq(bs_auth_source_name(bs_auth_session_source(s)), "BSTSCAN_TOKEN");
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), 0);
	cr_assert_str_eq(tok.ptr, pat);
	cr_assert_eq(bs_auth_bearer_renew(s, &tok, &err), BS_ERR_AUTH, "an env token cannot be renewed");
	bs_auth_session_close(s);
	cr_assert_neq(stat(cred, &st), 0, "BSTSCAN_TOKEN is never written anywhere");
	cr_assert_eq(fo_hits(fo, "POST", NULL), 0);
	bs_buf_free_secure(&tok);
	free(cred);
	fo_stop(fo);
}

Test(session, not_logged_in_says_how_to_log_in)
{
	fake_oauth *fo = fo_start();
	bs_auth_session *s = open_file_session(fo, 0);
	bs_buf tok = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	cr_assert_eq(bs_auth_session_source(s), BS_AUTH_SOURCE_NONE);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), BS_ERR_AUTH);
	cr_assert(strstr(err.message, "bstscan auth login"), "%s", err.message);
	bs_auth_session_close(s);
	fo_stop(fo);
}

/* ---- refresh ---- */

Test(session, a_fresh_stored_token_is_used_without_asking_the_server)
{
	fake_oauth *fo = fo_start();
	bs_auth_session *s;
	bs_buf tok = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	store_login(fo, "stored-access", "stored-refresh", time(NULL) + 600);
	s = open_file_session(fo, 0);
	cr_assert_eq(bs_auth_session_source(s), BS_AUTH_SOURCE_FILE);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), 0, "%s", err.message);
	cr_assert_str_eq(tok.ptr, "stored-access");
	cr_assert_eq(fo_hits(fo, "POST", NULL), 0);
	bs_auth_session_close(s);
	bs_buf_free_secure(&tok);
	fo_stop(fo);
}

Test(session, refreshes_within_a_minute_of_expiry_and_stores_the_rotated_token)
{
	fake_oauth *fo = fo_start();
	bs_auth_session *s;
	bs_buf tok = BS_BUF_INIT, file = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	char *access, *body = refresh_reply("rt-2", &access);
	fo_json(fo, "POST", "/oauth/token", 200, body);
	store_login(fo, "old-access", "rt-1", time(NULL) + 50);
	s = open_file_session(fo, 0);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), 0, "%s", err.message);
	cr_assert_str_eq(tok.ptr, access);
	cr_assert(strstr(fo_req(fo, "/oauth/token", 0).body, "refresh_token=rt-1"));
	read_text(&file, "credentials.json");
	cr_assert(strstr(file.ptr, "\"rt-2\""), "the rotated refresh token is stored");
	cr_assert_null(strstr(file.ptr, "\"rt-1\""));
	cr_assert(strstr(file.ptr, access));
	bs_buf_reset(&tok);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), 0);
	cr_assert_eq(fo_hits(fo, "POST", "/oauth/token"), 1, "a fresh token is not refreshed again");
	bs_auth_session_close(s);
	bs_buf_free_secure(&tok);
	bs_buf_free(&file);
	free(access);
	free(body);
	fo_stop(fo);
}

Test(session, invalid_grant_clears_the_login)
{
	fake_oauth *fo = fo_start();
	bs_auth_session *s;
	bs_buf tok = BS_BUF_INIT, file = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	fo_json(fo, "POST", "/oauth/token", 400, "{\"error\":\"invalid_grant\",\"error_description\":\"reused\"}");
	store_login(fo, "old-access", "rt-1", time(NULL) - 10);
	s = open_file_session(fo, 0);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), BS_ERR_AUTH);
	cr_assert_str_eq(err.message, "Session expired. Run: bstscan auth login");
	cr_assert_eq(bs_auth_session_source(s), BS_AUTH_SOURCE_NONE);
	read_text(&file, "credentials.json");
	cr_assert_null(strstr(file.ptr, "rt-1"), "the dead login is gone: %s", file.ptr);
	bs_auth_session_close(s);
	bs_buf_free(&file);
	fo_stop(fo);
}

Test(session, malformed_or_failed_refreshes_never_erase_the_login)
{
	static const fo_reply bad[] = {
	    {200, "application/json", "{\"access_token\":\"new", NULL, 0, 0},
	    {500, "text/html", "<html>Internal Server Error</html>", NULL, 0, 0},
	    {200, "text/html", "<html>login page</html>", NULL, 0, 0},
	    {400, "application/json", "{\"error\":\"server_error\"}", NULL, 0, 0},
	    {0, NULL, NULL, NULL, 1, 0},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fake_oauth *fo = fo_start();
		bs_auth_session *s;
		bs_buf tok = BS_BUF_INIT, before = BS_BUF_INIT, after = BS_BUF_INIT;
		bs_error err = BS_ERROR_INIT;
		fo_add(fo, "POST", "/oauth/token", bad[i]);
		store_login(fo, "old-access", "rt-1", time(NULL) - 10);
		read_text(&before, "credentials.json");
		s = open_file_session(fo, 0);
		cr_assert_lt(bs_auth_bearer(s, &tok, &err), 0, "case %zu", i);
		cr_assert_neq(err.code, BS_ERR_AUTH, "case %zu: %s", i, err.message);
		cr_assert_null(strstr(err.message, "rt-1"));
		read_text(&after, "credentials.json");
		cr_assert_str_eq(before.ptr, after.ptr, "case %zu: the stored login is untouched", i);
		bs_auth_session_close(s);
		bs_buf_free(&before);
		bs_buf_free(&after);
		fo_stop(fo);
	}
}

Test(session, a_failed_refresh_with_a_token_still_valid_uses_it_and_warns)
{
	fake_oauth *fo = fo_start();
	bs_auth_session *s;
	bs_buf tok = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	fo_add(fo, "POST", "/oauth/token", (fo_reply){503, "text/html", "<html>down</html>", NULL, 0, 0});
	store_login(fo, "still-valid", "rt-1", time(NULL) + 30);
	s = open_file_session(fo, 0);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), 0, "%s", err.message);
	cr_assert_str_eq(tok.ptr, "still-valid");
	cr_assert_not_null(bs_auth_session_warning(s));
	cr_assert(strstr(bs_auth_session_warning(s), "could not refresh"));
	bs_auth_session_close(s);
	bs_buf_free_secure(&tok);
	fo_stop(fo);
}

Test(session, two_processes_refreshing_at_once_spend_the_refresh_token_once)
{
	fake_oauth *fo = fo_start();
	char *access, *body = refresh_reply("rt-2", &access);
	pid_t kids[3];
	int pipes[3][2];
	bs_buf file = BS_BUF_INIT;
	/* The server is slow to answer, so the processes overlap; a second use of rt-1 would be reuse. */
	fo_add(fo, "POST", "/oauth/token", (fo_reply){200, "application/json", body, NULL, 0, 400});
	fo_json(fo, "POST", "/oauth/token", 400, "{\"error\":\"invalid_grant\",\"error_description\":\"reuse\"}");
	store_login(fo, "old-access", "rt-1", time(NULL) + 10);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(pipe(pipes[i]), 0);
		kids[i] = fork();
		cr_assert_geq(kids[i], 0);
		if (kids[i] == 0) {
			bs_auth_options o = {0};
			bs_auth_session *s;
			bs_buf tok = BS_BUF_INIT;
			bs_error err = BS_ERROR_INIT;
			int rc;
			o.server = fo->url;
			o.store = BS_STORE_FILE;
			rc = bs_auth_session_open(&s, &o, &err);
			if (rc == 0)
				rc = bs_auth_bearer(s, &tok, &err);
			if (rc == 0 && write(pipes[i][1], tok.ptr, tok.len) < 0)
				rc = -1;
			_exit(rc == 0 ? 0 : 1);
		}
		close(pipes[i][1]);
	}
	for (int i = 0; i < 3; i++) {
		int status;
		char got[2048];
		ssize_t n = read(pipes[i][0], got, sizeof(got) - 1);
		waitpid(kids[i], &status, 0);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "process %d failed", i);
		cr_assert_gt(n, 0);
		got[n] = '\0';
		cr_assert_str_eq(got, access, "every process ends with the one new token");
		close(pipes[i][0]);
	}
	cr_assert_eq(fo_hits(fo, "POST", "/oauth/token"), 1, "exactly one refresh reached the server");
	read_text(&file, "credentials.json");
	cr_assert(strstr(file.ptr, "\"rt-2\""));
	bs_buf_free(&file);
	free(access);
	free(body);
	fo_stop(fo);
}

/* ---- logout and login ---- */

Test(session, logout_revokes_then_deletes)
{
	fake_oauth *fo = fo_start();
	bs_auth_session *s;
	bs_error err = BS_ERROR_INIT, rerr = BS_ERROR_INIT;
	bs_buf file = BS_BUF_INIT;
	int revoked = 0;
	fo_add(fo, "POST", "/oauth/revoke", (fo_reply){200, NULL, "", NULL, 0, 0});
	store_login(fo, "acc", "rt-logout", time(NULL) + 600);
	s = open_file_session(fo, 1);
	cr_assert_eq(bs_auth_session_logout(s, &revoked, &rerr, &err), 0, "%s", err.message);
	cr_assert(revoked);
	cr_assert(strstr(fo_req(fo, "/oauth/revoke", 0).body, "token=rt-logout&token_type_hint=refresh_token"));
	read_text(&file, "credentials.json");
	cr_assert_null(strstr(file.ptr, "rt-logout"));
	bs_auth_session_close(s);
	s = open_file_session(fo, 1);
	cr_assert_eq(bs_auth_session_logout(s, &revoked, &rerr, &err), BS_ERR_NOTFOUND);
	bs_auth_session_close(s);
	bs_buf_free(&file);
	fo_stop(fo);
}

Test(session, logout_with_the_server_down_still_deletes_and_says_so)
{
	fake_oauth *fo = fo_start();
	bs_auth_session *s;
	bs_error err = BS_ERROR_INIT, rerr = BS_ERROR_INIT;
	bs_buf file = BS_BUF_INIT;
	int revoked = 1;
	bs_auth_options o = {0};
	char *url = bs_xasprintf("http://127.0.0.1:%d", fo_closed_port());
	bs_cred_store *st;
	bs_cred_store_options so = {BS_STORE_FILE, 0};
	bs_auth_creds c = {0};
	bs_http *h;
	bs_http_options ho = {0};
	ho.max_retries = -1;
	cr_assert_eq(bs_http_new(&h, &ho, &err), 0);
	cr_assert_eq(bs_cred_store_open(&st, &so, &err), 0);
	c.server = url;
	c.access_token = bs_xstrdup("acc");
	c.refresh_token = bs_xstrdup("rt-down");
	c.revocation_endpoint = bs_xasprintf("%s/oauth/revoke", url);
	cr_assert_eq(bs_cred_store_save(st, &c, &err), 0);
	bs_cred_store_close(st);
	o.server = url;
	o.store = BS_STORE_FILE;
	o.stored_only = 1;
	o.http = h;
	cr_assert_eq(bs_auth_session_open(&s, &o, &err), 0, "%s", err.message);
	cr_assert_eq(bs_auth_session_logout(s, &revoked, &rerr, &err), 0, "%s", err.message);
	cr_assert_not(revoked);
	cr_assert(strstr(rerr.message, "cannot reach"), "%s", rerr.message);
	cr_assert_null(strstr(rerr.message, "rt-down"));
	read_text(&file, "credentials.json");
	cr_assert_null(strstr(file.ptr, "rt-down"));
	bs_auth_session_close(s);
	bs_auth_creds_free(&c);
	bs_http_free(h);
	bs_buf_free(&file);
	fo_stop(fo);
}

Test(session, device_login_saves_to_the_chosen_store)
{
	fake_oauth *fo = fo_start();
	bs_auth_session *s;
	bs_error err = BS_ERROR_INIT;
	bs_buf file = BS_BUF_INIT, tok = BS_BUF_INIT;
	char *access, *body = refresh_reply("rt-login", &access);
	struct stat st;
	char *dir = path_in(""), *cred = path_in("credentials.json");
	fo_json(fo, "GET", "/.well-known/oauth-authorization-server", 200, FO_DISCOVERY_DOC);
	fo_json(fo, "POST", "/oauth/device/authorize", 200,
	        "{\"device_code\":\"dc\",\"user_code\":\"BCDF-GHJK\",\"verification_uri\":\"{URL}/device\","
	        "\"expires_in\":60,\"interval\":1}");
	fo_json(fo, "POST", "/oauth/token", 200, body);
	s = open_file_session(fo, 1);
	cr_assert_eq(bs_auth_session_login(s, "leaks:check", NULL, &err), 0, "%s", err.message);
	cr_assert_eq(bs_auth_session_source(s), BS_AUTH_SOURCE_FILE);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), 0);
	cr_assert_str_eq(tok.ptr, access);
	read_text(&file, "credentials.json");
	cr_assert(strstr(file.ptr, "rt-login"));
	cr_assert(strstr(file.ptr, "/oauth/token"), "the token endpoint is remembered for refreshes");
	cr_assert_eq(stat(cred, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	bs_auth_session_close(s);
	bs_buf_free(&file);
	bs_buf_free_secure(&tok);
	free(dir);
	free(cred);
	free(access);
	free(body);
	fo_stop(fo);
}

/* ---- the credentials file ---- */

Test(file_store, refuses_a_file_others_can_read)
{
	fake_oauth *fo = fo_start();
	bs_auth_options o = {0};
	bs_auth_session *s;
	bs_error err = BS_ERROR_INIT;
	char *cred = path_in("credentials.json");
	store_login(fo, "acc", "rt", time(NULL) + 600);
	cr_assert_eq(chmod(cred, 0644), 0);
	o.server = fo->url;
	o.store = BS_STORE_FILE;
	cr_assert_lt(bs_auth_session_open(&s, &o, &err), 0);
	cr_assert(strstr(err.message, "chmod 600"), "%s", err.message);
	cr_assert(strstr(err.message, cred), "%s", err.message);
	cr_assert_eq(chmod(cred, 0600), 0);
	cr_assert_eq(bs_auth_session_open(&s, &o, &err), 0, "%s", err.message);
	cr_assert_eq(bs_auth_session_source(s), BS_AUTH_SOURCE_FILE);
	bs_auth_session_close(s);
	free(cred);
	fo_stop(fo);
}

Test(file_store, refuses_a_symlink)
{
	fake_oauth *fo = fo_start();
	bs_auth_options o = {0};
	bs_auth_session *s;
	bs_error err = BS_ERROR_INIT;
	char *cred = path_in("credentials.json"), *real = path_in("real.json");
	store_login(fo, "acc", "rt", time(NULL) + 600);
	cr_assert_eq(rename(cred, real), 0);
	cr_assert_eq(symlink(real, cred), 0);
	o.server = fo->url;
	o.store = BS_STORE_FILE;
	cr_assert_lt(bs_auth_session_open(&s, &o, &err), 0);
	cr_assert(strstr(err.message, "symbolic link"), "%s", err.message);
	free(cred);
	free(real);
	fo_stop(fo);
}

Test(file_store, keeps_logins_for_several_servers)
{
	bs_cred_store *st;
	bs_cred_store_options so = {BS_STORE_FILE, 0};
	bs_error err = BS_ERROR_INIT;
	bs_auth_creds a = {0}, b = {0}, got;
	int deleted = 0;
	cr_assert_eq(bs_cred_store_open(&st, &so, &err), 0);
	a.server = "https://one.example";
	a.access_token = "A";
	b.server = "https://two.example";
	b.access_token = "B";
	b.expires_at = 1893456000;
	cr_assert_eq(bs_cred_store_save(st, &a, &err), 0);
	cr_assert_eq(bs_cred_store_save(st, &b, &err), 0);
	cr_assert_eq(bs_cred_store_load(st, "https://two.example", &got, NULL, &err), 0);
	cr_assert_str_eq(got.access_token, "B");
	cr_assert_eq(got.expires_at, 1893456000);
	bs_auth_creds_free(&got);
	cr_assert_eq(bs_cred_store_delete(st, "https://one.example", &deleted, &err), 0);
	cr_assert(deleted);
	cr_assert_eq(bs_cred_store_load(st, "https://one.example", &got, NULL, &err), BS_ERR_NOTFOUND);
	cr_assert_eq(bs_cred_store_load(st, "https://two.example", &got, NULL, &err), 0);
	bs_auth_creds_free(&got);
	bs_cred_store_close(st);
}

/* ---- workload identity ---- */

static const char *exchange_reply(long expires_in)
{
	static char body[1024];
	snprintf(body, sizeof(body),
	         "{\"access_token\":\"wl-access\",\"token_type\":\"Bearer\",\"expires_in\":%ld,"
	         "\"issued_token_type\":\"urn:ietf:params:oauth:token-type:access_token\",\"scope\":\"leaks:check\"}",
	         expires_in);
	return body;
}

Test(workload, github_actions_id_token_is_exchanged_and_kept_in_memory)
{
	fake_oauth *fo = fo_start();
	bs_auth_options o = {0};
	bs_auth_session *s;
	bs_error err = BS_ERROR_INIT;
	bs_buf tok = BS_BUF_INIT;
	char *gh = bs_xasprintf("%s/gh-id-token?api-version=2.0", fo->url);
	char *cred = path_in("credentials.json");
	struct stat st;
	fo_request q;
	fo_json(fo, "GET", "/gh-id-token", 200, "{\"value\":\"gh-id-jwt-1\"}");
	fo_json(fo, "GET", "/gh-id-token", 200, "{\"value\":\"gh-id-jwt-2\"}");
	fo_json(fo, "POST", "/oauth/token", 200, exchange_reply(30));
	setenv("BSTSCAN_OIDC", "1", 1);
	setenv("ACTIONS_ID_TOKEN_REQUEST_URL", gh, 1);
	setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token", 1);
	o.server = fo->url;
	o.oidc_audience = "bstscan-ci";
	cr_assert_eq(bs_auth_session_open(&s, &o, &err), 0, "%s", err.message);
	cr_assert_eq(bs_auth_session_source(s), BS_AUTH_SOURCE_WORKLOAD);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), 0, "%s", err.message);
	cr_assert_str_eq(tok.ptr, "wl-access");
	q = fo_req(fo, "/gh-id-token", 0);
	cr_assert_str_eq(q.authorization, "Bearer gh-request-token");
	cr_assert_str_eq(q.audience, "bstscan-ci");
	q = fo_req(fo, "/oauth/token", 0);
	cr_assert(strstr(q.body, "subject_token=gh-id-jwt-1"), "%s", q.body);
	cr_assert_null(strstr(q.body, "audience=bstscan-ci"), "the ID token's audience is not the exchange's");
	{
		bs_buf want = BS_BUF_INIT;
		bs_buf_adds(&want, "audience=");
		bs_http_urlencode(&want, fo->url);
		cr_assert(strstr(q.body, want.ptr), "the exchange asks for a token for this server: %s", q.body);
		bs_buf_free(&want);
	}
	/* 30 s of life is inside the refresh margin: the next call mints a fresh ID token first. */
	bs_buf_reset(&tok);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), 0, "%s", err.message);
	cr_assert_eq(fo_hits(fo, "GET", "/gh-id-token"), 2);
	cr_assert(strstr(fo_req(fo, "/oauth/token", 1).body, "subject_token=gh-id-jwt-2"));
	cr_assert_neq(stat(cred, &st), 0, "workload tokens are never stored");
	bs_auth_session_close(s);
	bs_buf_free_secure(&tok);
	free(gh);
	free(cred);
	fo_stop(fo);
}

Test(workload, gitlab_variable_and_token_file)
{
	fake_oauth *fo = fo_start();
	bs_auth_options o = {0};
	bs_auth_session *s;
	bs_error err = BS_ERROR_INIT;
	bs_buf tok = BS_BUF_INIT;
	char *file = bs_xasprintf("%s/idtoken", tmp);
	fo_json(fo, "POST", "/oauth/token", 200, exchange_reply(900));
	setenv("MY_ID_TOKEN", "gitlab-id-jwt", 1);
	o.server = fo->url;
	o.workload = 1;
	o.oidc_env = "MY_ID_TOKEN";
	cr_assert_eq(bs_auth_session_open(&s, &o, &err), 0);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), 0, "%s", err.message);
	cr_assert(strstr(fo_req(fo, "/oauth/token", 0).body, "subject_token=gitlab-id-jwt"));
	bs_buf_reset(&tok);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), 0);
	cr_assert_eq(fo_hits(fo, "POST", "/oauth/token"), 1, "a fresh exchanged token is reused");
	bs_auth_session_close(s);

	bs_test_write_str(tmp, "idtoken", "file-id-jwt\n");
	o.oidc_env = NULL;
	o.oidc_token_file = file;
	cr_assert_eq(bs_auth_session_open(&s, &o, &err), 0);
	bs_buf_reset(&tok);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), 0, "%s", err.message);
	cr_assert(strstr(fo_req(fo, "/oauth/token", 1).body, "subject_token=file-id-jwt&"));
	bs_auth_session_close(s);
	bs_buf_free_secure(&tok);
	free(file);
	fo_stop(fo);
}

Test(workload, without_a_ci_token_says_what_to_configure)
{
	fake_oauth *fo = fo_start();
	bs_auth_options o = {0};
	bs_auth_session *s;
	bs_error err = BS_ERROR_INIT;
	bs_buf tok = BS_BUF_INIT;
	o.server = fo->url;
	o.workload = 1;
	cr_assert_eq(bs_auth_session_open(&s, &o, &err), 0);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), BS_ERR_AUTH);
	cr_assert(strstr(err.message, "id-token: write"), "%s", err.message);
	cr_assert_eq(fo_hits(fo, "POST", "/oauth/token"), 0);
	bs_auth_session_close(s);
	fo_stop(fo);
}

Test(workload, a_refused_exchange_is_an_auth_error)
{
	fake_oauth *fo = fo_start();
	bs_auth_options o = {0};
	bs_auth_session *s;
	bs_error err = BS_ERROR_INIT;
	bs_buf tok = BS_BUF_INIT;
	fo_json(fo, "POST", "/oauth/token", 400,
	        "{\"error\":\"invalid_grant\",\"error_description\":\"no trust policy matches\"}");
	setenv("MY_ID_TOKEN", "gitlab-id-jwt", 1);
	o.server = fo->url;
	o.workload = 1;
	o.oidc_env = "MY_ID_TOKEN";
	cr_assert_eq(bs_auth_session_open(&s, &o, &err), 0);
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), BS_ERR_AUTH);
	cr_assert(strstr(err.message, "workload identity"), "%s", err.message);
	cr_assert(strstr(err.message, "no trust policy matches"), "%s", err.message);
	cr_assert_null(strstr(err.message, "gitlab-id-jwt"));
	bs_auth_session_close(s);
	fo_stop(fo);
}
