/* `bstscan auth ...` end to end against the fake OAuth server: what goes to stdout and stderr,
 * exit codes, the browser rules, and that no token or device code is ever printed by accident. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "tests/fixtures/auth/fake_oauth.h"
#include "tests/support/testutil.h"

static char *tmp;
static char *xdg;

static void setup(void)
{
	tmp = bs_test_mkdtemp();
	xdg = bs_xasprintf("XDG_CONFIG_HOME=%s", tmp);
}

static void teardown(void)
{
	bs_test_rmtree(tmp);
	free(tmp);
	free(xdg);
}

TestSuite(auth_cli, .init = setup, .fini = teardown);

/* Runs bstscan with args and a clean environment plus extra (NULL-terminated, may be NULL). */
static void run(bs_test_proc *p, const char *const *args, const char *const *extra)
{
	const char *argv[32];
	const char *env[32];
	int n = 0, e = 0;
	argv[n++] = BSTSCAN_BIN;
	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	env[e++] = xdg;
	env[e++] = "BSTSCAN_TOKEN=";
	env[e++] = "BSTSCAN_SERVER=";
	env[e++] = "BSTSCAN_OIDC=";
	env[e++] = "DISPLAY=";
	env[e++] = "WAYLAND_DISPLAY=";
	env[e++] = "ACTIONS_ID_TOKEN_REQUEST_URL=";
	for (; extra && *extra; extra++)
		env[e++] = *extra;
	env[e] = NULL;
	cr_assert_eq(bs_test_run(p, argv, NULL, env, NULL, 0, 60), 0);
}

Test(auth_cli, help_answers_on_stdout)
{
	bs_test_proc p;
	run(&p, (const char *[]){"auth", "--help", NULL}, NULL);
	cr_assert_eq(p.status, 0);
	cr_assert(strstr(p.out.ptr, "bstscan auth login"), "%s", p.out.ptr);
	cr_assert(strstr(p.out.ptr, "BSTSCAN_TOKEN"));
	bs_test_proc_free(&p);
	run(&p, (const char *[]){"auth", "login", "--help", NULL}, NULL);
	cr_assert_eq(p.status, 0);
	cr_assert(strstr(p.out.ptr, "--no-browser"));
	bs_test_proc_free(&p);
	run(&p, (const char *[]){"auth", "frobnicate", NULL}, NULL);
	cr_assert_eq(p.status, 2);
	bs_test_proc_free(&p);
}

Test(auth_cli, without_a_server_says_how_to_set_one)
{
	bs_test_proc p;
	run(&p, (const char *[]){"auth", "status", NULL}, NULL);
	cr_assert_eq(p.status, 2);
	cr_assert(strstr(p.err.ptr, "--server"), "%s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "BSTSCAN_SERVER"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	run(&p, (const char *[]){"auth", "status", "--server", "http://issuer.example", NULL}, NULL);
	cr_assert_eq(p.status, 2);
	cr_assert(strstr(p.err.ptr, "https://"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
}

Test(auth_cli, login_refuses_while_bstscan_token_is_set)
{
	bs_test_proc p;
	char pat[48], *env_tok;
	bs_test_make_bst_token(pat);
	env_tok = bs_xasprintf("BSTSCAN_TOKEN=%s", pat);
	run(&p, (const char *[]){"auth", "login", "--server", "http://127.0.0.1:9", NULL},
	    (const char *[]){env_tok, NULL});
	cr_assert_eq(p.status, 2);
	cr_assert(strstr(p.err.ptr, "BSTSCAN_TOKEN is set"), "%s", p.err.ptr);
	cr_assert_null(strstr(p.err.ptr, pat));
	bs_test_proc_free(&p);
	free(env_tok);
}

Test(auth_cli, token_and_status_with_bstscan_token_never_leak_it_to_stderr)
{
	fake_oauth *fo = fo_start();
	bs_test_proc p;
	char pat[48], *env_tok;
	bs_test_make_bst_token(pat);
	env_tok = bs_xasprintf("BSTSCAN_TOKEN=%s", pat);
	fo_json(fo, "GET", "/api/v1/me", 200, "{\"sub\":\"user-1\",\"name\":\"alice\",\"scopes\":[\"leaks:check\"]}");
	run(&p, (const char *[]){"auth", "token", "--server", fo->url, NULL}, (const char *[]){env_tok, NULL});
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert_eq(p.out.len, 48);
	cr_assert(strncmp(p.out.ptr, pat, 47) == 0 && p.out.ptr[47] == '\n');
	bs_test_proc_free(&p);

	run(&p, (const char *[]){"auth", "status", "--verbose", "--server", fo->url, NULL},
	    (const char *[]){env_tok, NULL});
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert(strstr(p.out.ptr, "Credential: BSTSCAN_TOKEN"), "%s", p.out.ptr);
	cr_assert(strstr(p.out.ptr, "alice (user-1)"), "%s", p.out.ptr);
	cr_assert(strstr(p.out.ptr, "leaks:check"), "%s", p.out.ptr);
	cr_assert(strstr(p.err.ptr, "Authorization: Bearer [redacted]"), "%s", p.err.ptr);
	cr_assert_null(strstr(p.out.ptr, pat));
	cr_assert_null(strstr(p.err.ptr, pat));
	cr_assert_str_eq(fo_req(fo, "/api/v1/me", 0).authorization + 7, pat);
	bs_test_proc_free(&p);
	free(env_tok);
	fo_stop(fo);
}

static void script_login(fake_oauth *fo, const char *final_error)
{
	char *tok = fo_make_jwt((long long)time(NULL) + 900, "alice");
	char *body = bs_xasprintf("{\"access_token\":\"%s\",\"token_type\":\"Bearer\",\"expires_in\":900,"
	                          "\"refresh_token\":\"cli-rt-1\",\"scope\":\"leaks:check leaks:revoke\"}",
	                          tok);
	fo_json(fo, "GET", "/.well-known/oauth-authorization-server", 200, FO_DISCOVERY_DOC);
	fo_json(fo, "POST", "/oauth/device/authorize", 200,
	        "{\"device_code\":\"DEVICE-CODE-NEVER-SHOWN\",\"user_code\":\"QWRT-ZXCV\",\"verification_uri\":"
	        "\"{URL}/device\",\"verification_uri_complete\":\"{URL}/device?user_code=QWRTZXCV\",\"expires_in\":60,"
	        "\"interval\":1}");
	fo_json(fo, "POST", "/oauth/token", 400, "{\"error\":\"authorization_pending\"}");
	if (final_error) {
		char *e = bs_xasprintf("{\"error\":\"%s\"}", final_error);
		fo_json(fo, "POST", "/oauth/token", 400, e);
		free(e);
	} else {
		fo_json(fo, "POST", "/oauth/token", 200, body);
	}
	fo_json(fo, "GET", "/api/v1/me", 200, "{\"sub\":\"user-1\",\"name\":\"alice\",\"scopes\":[\"leaks:check\"]}");
	free(tok);
	free(body);
}

/* A fake xdg-open that records its argument. */
static char *fake_browser(char **record)
{
	char *bin = bs_xasprintf("%s/bin", tmp);
	char *script;
	*record = bs_xasprintf("%s/xdg-open.log", tmp);
	script = bs_xasprintf("#!/bin/sh\necho \"$1\" > %s.tmp && mv %s.tmp %s\n", *record, *record, *record);
	bs_test_write_str(tmp, "bin/xdg-open", script);
	bs_test_write_str(tmp, "bin/.keep", "");
	free(script);
	script = bs_xasprintf("%s/xdg-open", bin);
	cr_assert_eq(chmod(script, 0755), 0);
	free(script);
	return bin;
}

static int wait_for_file(const char *path, int seconds)
{
	struct stat st;
	for (int i = 0; i < seconds * 10; i++) {
		if (stat(path, &st) == 0)
			return 1;
		usleep(100000);
	}
	return 0;
}

Test(auth_cli, login_shows_the_code_on_stderr_opens_a_browser_and_saves_the_login)
{
	fake_oauth *fo = fo_start();
	bs_test_proc p;
	char *record, *bin = fake_browser(&record);
	char *path = bs_xasprintf("PATH=%s:/usr/bin:/bin", bin);
	char *cred = bs_xasprintf("%s/bstscan/credentials.json", tmp);
	bs_buf rec = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	struct stat st;
	script_login(fo, NULL);
	run(&p, (const char *[]){"auth", "login", "--server", fo->url, "--credential-store", "file", NULL},
	    (const char *[]){path, "DISPLAY=:0", "SSH_CONNECTION=", "SSH_TTY=", "SSH_CLIENT=", NULL});
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert_eq(p.out.len, 0, "nothing on stdout: %s", p.out.ptr);
	cr_assert(strstr(p.err.ptr, "QWRT-ZXCV"), "%s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "/device"), "%s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "/device?user_code=QWRTZXCV"), "%s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "Logged in to"), "%s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "as alice"), "%s", p.err.ptr);
	cr_assert_null(strstr(p.err.ptr, "DEVICE-CODE-NEVER-SHOWN"));
	cr_assert_null(strstr(p.err.ptr, "cli-rt-1"));
	cr_assert_null(strstr(p.err.ptr, "eyJ"), "no token on stderr");
	cr_assert(wait_for_file(record, 10), "xdg-open was started in a desktop session");
	cr_assert_eq(bs_fs_read_file(&rec, record, 4096, &err), 0);
	cr_assert(strstr(rec.ptr, "/device?user_code=QWRTZXCV"), "the complete URL is opened: %s", rec.ptr);
	cr_assert_eq(stat(cred, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	bs_test_proc_free(&p);

	/* auth token then finds it, also without --credential-store. */
	run(&p, (const char *[]){"auth", "token", "--server", fo->url, NULL}, NULL);
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert(strncmp(p.out.ptr, "eyJ", 3) == 0, "%s", p.out.ptr);
	bs_test_proc_free(&p);
	bs_buf_free(&rec);
	free(record);
	free(bin);
	free(path);
	free(cred);
	fo_stop(fo);
}

Test(auth_cli, no_browser_over_ssh_or_with_no_browser)
{
	for (int variant = 0; variant < 2; variant++) {
		fake_oauth *fo = fo_start();
		bs_test_proc p;
		char *record, *bin = fake_browser(&record);
		char *path = bs_xasprintf("PATH=%s:/usr/bin:/bin", bin);
		struct stat st;
		script_login(fo, NULL);
		if (variant == 0)
			run(&p,
			    (const char *[]){"auth", "login", "--server", fo->url, "--credential-store", "file", NULL},
			    (const char *[]){path, "DISPLAY=:0", "SSH_CONNECTION=10.0.0.1 5000 10.0.0.2 22", NULL});
		else
			run(&p,
			    (const char *[]){"auth", "login", "--no-browser", "--server", fo->url, "--credential-store",
			                     "file", NULL},
			    (const char *[]){path, "WAYLAND_DISPLAY=wayland-0", "SSH_CONNECTION=", NULL});
		cr_assert_eq(p.status, 0, "%s", p.err.ptr);
		usleep(500000);
		cr_assert_neq(stat(record, &st), 0, "variant %d must not start a browser", variant);
		bs_test_proc_free(&p);
		free(record);
		free(bin);
		free(path);
		fo_stop(fo);
	}
}

Test(auth_cli, a_denied_login_fails_clearly)
{
	fake_oauth *fo = fo_start();
	bs_test_proc p;
	script_login(fo, "access_denied");
	run(&p, (const char *[]){"auth", "login", "--server", fo->url, "--credential-store", "file", NULL}, NULL);
	cr_assert_eq(p.status, 2);
	cr_assert(strstr(p.err.ptr, "denied"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	fo_stop(fo);
}

Test(auth_cli, logout_with_the_server_down_deletes_locally_and_says_so)
{
	fake_oauth *fo = fo_start();
	bs_test_proc p;
	char *server = bs_xstrdup(fo->url);
	script_login(fo, NULL);
	run(&p, (const char *[]){"auth", "login", "--server", server, "--credential-store", "file", NULL}, NULL);
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	bs_test_proc_free(&p);
	fo_stop(fo);
	run(&p, (const char *[]){"auth", "logout", "--server", server, "--credential-store", "file", NULL}, NULL);
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "Logged out locally"), "%s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "could not be revoked"), "%s", p.err.ptr);
	cr_assert_null(strstr(p.err.ptr, "cli-rt-1"));
	bs_test_proc_free(&p);
	run(&p, (const char *[]){"auth", "token", "--server", server, "--credential-store", "file", NULL}, NULL);
	cr_assert_eq(p.status, 2);
	cr_assert(strstr(p.err.ptr, "Not logged in"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	free(server);
}

Test(auth_cli, a_world_readable_credentials_file_is_refused)
{
	fake_oauth *fo = fo_start();
	bs_test_proc p;
	char *cred = bs_xasprintf("%s/bstscan/credentials.json", tmp);
	script_login(fo, NULL);
	run(&p, (const char *[]){"auth", "login", "--server", fo->url, "--credential-store", "file", NULL}, NULL);
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	bs_test_proc_free(&p);
	cr_assert_eq(chmod(cred, 0644), 0);
	run(&p, (const char *[]){"auth", "token", "--server", fo->url, "--credential-store", "file", NULL}, NULL);
	cr_assert_eq(p.status, 2);
	cr_assert(strstr(p.err.ptr, "chmod 600"), "%s", p.err.ptr);
	cr_assert_eq(p.out.len, 0);
	bs_test_proc_free(&p);
	free(cred);
	fo_stop(fo);
}

Test(auth_cli, on_a_terminal_login_counts_down_the_time_left)
{
	fake_oauth *fo = fo_start();
	bs_test_proc p;
	char *cmd;
	const char *argv[] = {"/usr/bin/script", "-qfec", NULL, "/dev/null", NULL};
	const char *env[] = {xdg, "BSTSCAN_TOKEN=", "DISPLAY=", "WAYLAND_DISPLAY=", NULL};
	script_login(fo, NULL);
	cmd = bs_xasprintf("%s auth login --no-browser --credential-store file --server %s", BSTSCAN_BIN, fo->url);
	argv[2] = cmd;
	cr_assert_eq(bs_test_run(&p, argv, NULL, env, NULL, 0, 60), 0);
	cr_assert_eq(p.status, 0, "%s%s", p.out.ptr, p.err.ptr);
	cr_assert(strstr(p.out.ptr, "QWRT-ZXCV"), "%s", p.out.ptr);
	cr_assert(strstr(p.out.ptr, "left (Ctrl-C to cancel)"), "a countdown on the terminal: %s", p.out.ptr);
	cr_assert(strstr(p.out.ptr, "\rWaiting for approval... 0:5"), "it counts from the expiry: %s", p.out.ptr);
	bs_test_proc_free(&p);
	free(cmd);
	fo_stop(fo);
}

Test(auth_cli, off_a_terminal_login_prints_no_countdown)
{
	fake_oauth *fo = fo_start();
	bs_test_proc p;
	script_login(fo, NULL);
	run(&p,
	    (const char *[]){"auth", "login", "--no-browser", "--server", fo->url, "--credential-store", "file", NULL},
	    NULL);
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert_null(strstr(p.err.ptr, "\r"), "no carriage-return animation in logs: %s", p.err.ptr);
	cr_assert(strstr(p.err.ptr, "Waiting for approval (the code expires in 1 min)"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	fo_stop(fo);
}

Test(auth_cli, a_hostile_server_cannot_drive_the_terminal_or_the_browser)
{
	fake_oauth *fo = fo_start();
	bs_test_proc p;
	char *record, *bin = fake_browser(&record);
	char *path = bs_xasprintf("PATH=%s:/usr/bin:/bin", bin);
	struct stat st;
	fo_json(fo, "GET", "/.well-known/oauth-authorization-server", 200, FO_DISCOVERY_DOC);
	fo_json(fo, "POST", "/oauth/device/authorize", 200,
	        "{\"device_code\":\"dc\",\"user_code\":\"\\u001b]0;pwned\\u0007ABCD-EFGH\\u001b[2J\","
	        "\"verification_uri\":\"file:///etc/passwd\",\"expires_in\":60,\"interval\":1}");
	fo_json(fo, "POST", "/oauth/token", 400, "{\"error\":\"access_denied\"}");
	run(&p, (const char *[]){"auth", "login", "--server", fo->url, "--credential-store", "file", NULL},
	    (const char *[]){path, "DISPLAY=:0", "SSH_CONNECTION=", "SSH_TTY=", "SSH_CLIENT=", NULL});
	cr_assert_eq(p.status, 2);
	cr_assert(strstr(p.err.ptr, "ABCD-EFGH"), "%s", p.err.ptr);
	cr_assert_null(memchr(p.err.ptr, 0x1b, p.err.len), "no escape sequences reach the terminal");
	cr_assert_null(memchr(p.err.ptr, 0x07, p.err.len));
	usleep(500000);
	cr_assert_neq(stat(record, &st), 0, "a file: URL is never handed to xdg-open");
	bs_test_proc_free(&p);
	free(record);
	free(bin);
	free(path);
	fo_stop(fo);
}
