/* bstscan-server: its helpers in-process (forms, user codes, scopes,
 * passwords, our own JWTs), hostile input against the running process, and
 * the demo command. */
#include <signal.h>
#include <sys/wait.h>

#include "server/srv.h"
#include "tests/unit/test_server_support.h"

Test(server_units, form_parsing)
{
	bs_srv_form f;
	bs_error err = BS_ERROR_INIT;
	const char *body = "a=1&b=hello+world&c=%2F%3a&empty=&flag&&d=x%3Dy";
	cr_assert_eq(bs_srv_form_parse(&f, body, strlen(body), &err), 0, "%s", err.message);
	cr_assert_str_eq(bs_srv_form_get(&f, "a"), "1");
	cr_assert_str_eq(bs_srv_form_get(&f, "b"), "hello world");
	cr_assert_str_eq(bs_srv_form_get(&f, "c"), "/:");
	cr_assert_str_eq(bs_srv_form_get(&f, "empty"), "");
	cr_assert_str_eq(bs_srv_form_get(&f, "flag"), "");
	cr_assert_str_eq(bs_srv_form_get(&f, "d"), "x=y");
	cr_assert_null(bs_srv_form_get(&f, "zzz"));
	bs_srv_form_free(&f);

	cr_assert_lt(bs_srv_form_parse(&f, "a=%4", 4, &err), 0);
	cr_assert_lt(bs_srv_form_parse(&f, "a=%zz", 5, &err), 0);
	cr_assert_lt(bs_srv_form_parse(&f, "a=%00", 5, &err), 0);
	cr_assert_lt(bs_srv_form_parse(&f, "a=1&a=2", 7, &err), 0);
	cr_assert_not_null(strstr(err.message, "repeated"));
	{
		bs_buf many = BS_BUF_INIT;
		for (int i = 0; i < 100; i++)
			bs_buf_addf(&many, "p%d=1&", i);
		cr_assert_lt(bs_srv_form_parse(&f, many.ptr, many.len, &err), 0);
		bs_buf_free(&many);
	}
}

Test(server_units, user_codes)
{
	char code[9], out[9];
	for (int i = 0; i < 200; i++) {
		bs_srv_new_user_code(code);
		cr_assert_eq(strlen(code), 8);
		cr_assert_eq(strspn(code, "BCDFGHJKLMNPQRSTVWXZ"), 8, "%s", code);
	}
	cr_assert_eq(bs_srv_user_code_normalize("wdjb-mjht", out), 0);
	cr_assert_str_eq(out, "WDJBMJHT");
	cr_assert_eq(bs_srv_user_code_normalize(" WDJB MJHT ", out), 0);
	cr_assert_lt(bs_srv_user_code_normalize("WDJB-MJH", out), 0);
	cr_assert_lt(bs_srv_user_code_normalize("WDJB-MJHTX", out), 0);
	cr_assert_lt(bs_srv_user_code_normalize("AEIO-UAEI", out), 0, "vowels are not in the alphabet");
}

Test(server_units, scopes_and_pats)
{
	char *n = bs_srv_scopes_normalize("leaks:check, pats:read,leaks:check  ");
	char pat[48];
	cr_assert_str_eq(n, "leaks:check pats:read");
	free(n);
	cr_assert(bs_srv_scopes_subset("leaks:check", "leaks:check pats:read"));
	cr_assert_not(bs_srv_scopes_subset("leaks:che", "leaks:check"));
	cr_assert_not(bs_srv_scopes_subset("leaks:check pats:write", "leaks:check pats:read"));
	cr_assert(bs_srv_scope_has("a b c", "b"));
	cr_assert_not(bs_srv_scope_has("abc", "b"));
	for (int i = 0; i < 50; i++) {
		bs_srv_new_pat(pat);
		cr_assert_eq(strlen(pat), 47);
		cr_assert_eq(strncmp(pat, "bst_", 4), 0);
		cr_assert_not_null(strchr("AEIMQUYcgkosw048", pat[46]));
	}
}

Test(server_units, passwords)
{
	char *h = bs_srv_password_hash("correct horse");
	cr_assert_eq(strncmp(h, "pbkdf2_sha256$", 14), 0);
	cr_assert_null(strstr(h, "correct horse"));
	cr_assert(bs_srv_password_check(h, "correct horse"));
	cr_assert_not(bs_srv_password_check(h, "correct horsE"));
	cr_assert_not(bs_srv_password_check("plain", "plain"));
	cr_assert_not(bs_srv_password_check("pbkdf2_sha256$1$$", ""));
	free(h);
}

Test(server_units, own_jwt_round_trip_and_rejections)
{
	bs_srv s = {0};
	bs_error err = BS_ERROR_INIT;
	char *dir = bs_test_mkdtemp(), *db = bs_xasprintf("%s/x.db", dir), *jwt;
	cJSON *c = cJSON_CreateObject(), *out = NULL;
	cr_assert_eq(bs_srv_db_open(&s.db, db, &err), 0, "%s", err.message);
	cr_assert_eq(bs_srv_keys_load(&s, &err), 0, "%s", err.message);
	s.issuer = bs_xstrdup("http://127.0.0.1:1");
	cJSON_AddStringToObject(c, "iss", s.issuer);
	cJSON_AddStringToObject(c, "aud", "bstscan-api");
	cJSON_AddNumberToObject(c, "exp", (double)time(NULL) + 60);
	jwt = bs_srv_jwt_sign(&s, c);
	cr_assert_not_null(jwt);
	cr_assert_eq(bs_srv_jwt_verify_own(&s, jwt, &out, &err), 0, "%s", err.message);
	cJSON_Delete(out);
	/* the key is the one stored in the database */
	{
		bs_srv s2 = {0};
		s2.db = s.db;
		s2.issuer = s.issuer;
		cr_assert_eq(bs_srv_keys_load(&s2, &err), 0);
		cr_assert_str_eq(s2.kid, s.kid);
		cr_assert_eq(bs_srv_jwt_verify_own(&s2, jwt, &out, &err), 0);
		cJSON_Delete(out);
		EVP_PKEY_free(s2.signing_key);
	}
	free(jwt);
	/* expired */
	cJSON_ReplaceItemInObject(c, "exp", cJSON_CreateNumber((double)time(NULL) - 1));
	jwt = bs_srv_jwt_sign(&s, c);
	cr_assert_lt(bs_srv_jwt_verify_own(&s, jwt, &out, &err), 0);
	cr_assert_not_null(strstr(err.message, "expired"));
	free(jwt);
	/* wrong audience */
	cJSON_ReplaceItemInObject(c, "exp", cJSON_CreateNumber((double)time(NULL) + 60));
	cJSON_ReplaceItemInObject(c, "aud", cJSON_CreateString("elsewhere"));
	jwt = bs_srv_jwt_sign(&s, c);
	cr_assert_lt(bs_srv_jwt_verify_own(&s, jwt, &out, &err), 0);
	free(jwt);
	cr_assert_lt(bs_srv_jwt_verify_own(&s, "a.b.c", &out, &err), 0);
	cr_assert_lt(bs_srv_jwt_verify_own(&s, "...", &out, &err), 0);
	cJSON_Delete(c);
	EVP_PKEY_free(s.signing_key);
	free(s.issuer);
	sqlite3_close(s.db);
	bs_test_rmtree(dir);
	free(dir);
	free(db);
}

/* Sends raw bytes over a fresh TCP connection and reads whatever comes back. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
static void raw_send(const srv_ctx *s, const void *data, size_t len)
{
	struct sockaddr_in sa = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = atoi(strrchr(s->url, ':') + 1);
	char buf[4096];
	struct timeval tv = {5, 0};
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, data, len) < 0) {
		/* the server may close early; that is fine */
	}
	shutdown(fd, SHUT_WR);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

/* Servers started by a test are stopped by the suite's teardown, so a failed
 * assertion never leaves a process behind. */
static srv_ctx S;

static void stop_server(void)
{
	if (S.pid)
		srv_stop(&S);
}

static void start_server(void)
{
	memset(&S, 0, sizeof(S));
	srv_start(&S, NULL);
}

Test(server_hostile, garbage_never_hurts_the_server, .init = start_server, .fini = stop_server, .timeout = 60)
{
	http_resp r;
	char *pat;
	bs_buf deep = BS_BUF_INIT, form = BS_BUF_INIT;
	const char *json_h[] = {"Content-Type: application/json", NULL};
	pat = srv_user_pat(&S, "ivy", "leaks:check,leaks:revoke,pats:read,pats:write");

#define RAW(lit) raw_send(&S, lit, sizeof(lit) - 1)
	RAW("GARBAGE\r\n\r\n");
	RAW("POST /oauth/token HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\nx");
	RAW("POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab");
	RAW("GET /\x01\x02\xff HTTP/1.1\r\n\r\n");
	RAW("POST /api/v1/leaks/check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
#undef RAW

	for (int i = 0; i < 5000; i++)
		bs_buf_addch(&deep, '[');
	api_post(&S, &r, "/api/v1/leaks/check", pat, deep.ptr);
	expect_error(&r, 400, "invalid_request");
	http_free(&r);
	api_post(&S, &r, "/api/v1/pats", pat, "{\"name\":\"\\u0000x\",\"scopes\":[\"leaks:check\"]}");
	cr_assert_lt(r.status, 500, "%s", r.body.ptr);
	http_free(&r);
	api_post(&S, &r, "/api/v1/pats", pat, "{\"name\":\"\xff\xfe\",\"scopes\":\"leaks:check\"}");
	expect_error(&r, 400, "invalid_request");
	http_free(&r);
	api_post(&S, &r, "/api/v1/leaks/revoke", pat, "{\"token_hashes\":[\"'; DROP TABLE users; --\"]}");
	expect_error(&r, 400, "invalid_request");
	http_free(&r);
	for (int i = 0; i < 100; i++)
		bs_buf_addf(&form, "p%d=1&", i);
	form_post(&S, &r, "/oauth/token", form.ptr);
	expect_error(&r, 400, "invalid_request");
	http_free(&r);
	http_req(&S, &r, "POST", "/api/v1/leaks/check", json_h, "{}", 2);
	expect_error(&r, 401, "invalid_token");
	http_free(&r);
	api_call(&S, &r, "DELETE", "/api/v1/pats/99999999999999999999999", pat);
	cr_assert_eq(r.status, 404);
	http_free(&r);
	api_call(&S, &r, "GET", "/api/v1/../../etc/passwd", pat);
	cr_assert_eq(r.status, 404);
	http_free(&r);

	/* still alive and the data intact */
	api_call(&S, &r, "GET", "/api/v1/me", pat);
	cr_assert_eq(r.status, 200);
	http_free(&r);
	bs_buf_free(&deep);
	bs_buf_free(&form);
	free(pat);
}

Test(server_demo, demo_starts_with_a_ready_admin_pat, .fini = stop_server, .timeout = 60)
{
	char *dir = bs_test_mkdtemp(), *db = bs_xasprintf("%s/demo.db", dir);
	const char *argv[] = {BSTSCAN_SERVER_BIN, "demo", "--listen", "127.0.0.1:0", "--db", db, NULL};
	bs_buf line = BS_BUF_INIT;
	const char *list[] = {BSTSCAN_SERVER_BIN, "admin", "--db", db, "pat", "list", NULL};
	bs_test_proc p;
	pid_t pid = bs_test_spawn_until(argv, NULL, "listening on ", &line, 20);
	cr_assert_gt(pid, 0);
	S.pid = pid;
	S.dir = dir;
	S.db = db;
	snprintf(S.url, sizeof(S.url), "%s", line.ptr + strlen("listening on "));
	cr_assert_eq(bs_test_run(&p, list, NULL, NULL, NULL, 0, 20), 0);
	cr_assert_eq(p.status, 0);
	cr_assert_not_null(strstr(p.out.ptr, "\"owner\":\"demo\""), "%s", p.out.ptr);
	cr_assert_not_null(strstr(p.out.ptr, "leaks:check leaks:revoke pats:read pats:write"), "%s", p.out.ptr);
	bs_test_proc_free(&p);
	/* user names cannot collide with token-exchange subjects */
	{
		const char *bad[] = {BSTSCAN_SERVER_BIN, "admin", "--db", db, "user", "add", "ci:repo", NULL};
		cr_assert_eq(bs_test_run(&p, bad, NULL, NULL, "pw\n", 3, 20), 0);
		cr_assert_eq(p.status, 1, "%s", p.err.ptr);
		bs_test_proc_free(&p);
	}
	/* a demo refuses to reuse an existing database */
	{
		const char *again[] = {BSTSCAN_SERVER_BIN, "demo", "--listen", "127.0.0.1:0", "--db", db, NULL};
		cr_assert_eq(bs_test_run(&p, again, NULL, NULL, NULL, 0, 20), 0);
		cr_assert_neq(p.status, 0);
		bs_test_proc_free(&p);
	}
	bs_buf_free(&line);
	/* teardown stops it (exit 0 asserted) and removes dir */
}

Test(server_options, issuer_option_and_sigint, .fini = stop_server, .timeout = 60)
{
	const char *extra[] = {"--issuer", "https://issuer.example.test/", NULL};
	http_resp r;
	int status = -1;
	memset(&S, 0, sizeof(S));
	srv_start(&S, extra);
	http_req(&S, &r, "GET", "/.well-known/oauth-authorization-server", NULL, NULL, 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(json_str(r.json, "issuer"), "https://issuer.example.test");
	cr_assert_str_eq(json_str(r.json, "token_endpoint"), "https://issuer.example.test/oauth/token");
	http_free(&r);
	form_post(&S, &r, "/oauth/device/authorize", "client_id=bstscan-cli");
	cr_assert_str_eq(json_str(r.json, "verification_uri"), "https://issuer.example.test/device");
	http_free(&r);

	/* SIGINT is a graceful stop too */
	kill(S.pid, SIGINT);
	for (int i = 0; i < 100; i++) {
		int st;
		if (waitpid(S.pid, &st, WNOHANG) == S.pid) {
			status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			break;
		}
		usleep(50000);
	}
	cr_assert_eq(status, 0, "exit status after SIGINT: %d", status);
	S.pid = 0;
	bs_test_rmtree(S.dir);
	free(S.dir);
	free(S.db);
	S.dir = S.db = NULL;
}
