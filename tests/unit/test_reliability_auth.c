/* Bad conditions for the auth client: a full disk while saving credentials (the old login must
 * survive intact), and Ctrl-C while login waits on a server that never answers. Other rows of
 * docs/reliability.md (HTML, empty, truncated, huge and slow replies; Ctrl-C while polling) are
 * shown by test_auth_http.c and test_auth_e2e.c. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/http.h"
#include "auth/store.h"
#include "common/fs.h"
#include "tests/fixtures/auth/fake_oauth.h"
#include "tests/support/testutil.h"

static void creds_fill(bs_auth_creds *c, const char *access, size_t pad)
{
	bs_buf at = BS_BUF_INIT;
	memset(c, 0, sizeof(*c));
	bs_buf_adds(&at, access);
	for (size_t i = 0; i < pad; i++)
		bs_buf_addch(&at, 'x');
	c->server = bs_xstrdup("http://127.0.0.1:9");
	c->client_id = bs_xstrdup("bstscan-cli");
	c->token_endpoint = bs_xstrdup("http://127.0.0.1:9/oauth/token");
	c->access_token = bs_buf_detach(&at, NULL);
	c->refresh_token = bs_xstrdup("refresh-old");
	c->expires_at = time(NULL) + 3600;
	c->created_at = time(NULL);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	cr_assert_not_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.' || (de->d_name[1] && de->d_name[1] != '.' && de->d_name[1] != '\0');
	closedir(d);
	return n;
}

/* The disk fills up (here: RLIMIT_FSIZE, which makes write() fail with EFBIG as a full disk makes it
 * fail with ENOSPC; both take the same path in bs_fs_write_atomic) while a refreshed login is
 * saved: the save fails with an error, the previous credentials file is untouched, and no
 * temporary file is left behind. (A tiny tmpfs would need mount privileges CI may not have.) */
Test(reliability_auth, a_full_disk_while_saving_credentials_keeps_the_old_ones)
{
	char *home = bs_test_mkdtemp();
	char *xdg = bs_xasprintf("%s/config", home);
	bs_cred_store *st;
	bs_cred_store_options so = { BS_STORE_FILE, 0 };
	bs_auth_creds old, big, back;
	bs_error err = BS_ERROR_INIT;
	bs_buf before = BS_BUF_INIT, after = BS_BUF_INIT;
	char *dir;
	struct rlimit rl;
	setenv("XDG_CONFIG_HOME", xdg, 1);
	setenv("HOME", home, 1);
	cr_assert_eq(bs_cred_store_open(&st, &so, &err), 0, "%s", err.message);
	creds_fill(&old, "access-old", 0);
	cr_assert_eq(bs_cred_store_save(st, &old, &err), 0, "%s", err.message);
	cr_assert_eq(bs_fs_read_file(&before, bs_cred_store_file_path(st), 1 << 20, &err), 0);
	dir = bs_xstrdup(bs_cred_store_file_path(st));
	*strrchr(dir, '/') = '\0';

	/* 4 KB is all the disk has left; the new login needs more. */
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = 4096;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	creds_fill(&big, "access-new", 64 * 1024);
	cr_assert_lt(bs_cred_store_save(st, &big, &err), 0, "the save cannot have succeeded");
	cr_assert_neq(err.message[0], 0);
	cr_assert_null(strstr(err.message, "access-new"), "a token in an error: %s", err.message);
	rl.rlim_cur = rl.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);

	cr_assert_eq(bs_fs_read_file(&after, bs_cred_store_file_path(st), 1 << 20, &err), 0);
	cr_assert_eq(after.len, before.len);
	cr_assert_eq(memcmp(after.ptr, before.ptr, before.len), 0, "the old credentials file changed");
	cr_assert_eq(bs_cred_store_load(st, "http://127.0.0.1:9", &back, NULL, &err), 0, "%s", err.message);
	cr_assert_str_eq(back.access_token, "access-old");
	cr_assert_str_eq(back.refresh_token, "refresh-old");
	cr_assert_eq(count_entries(dir), 1, "a temporary file was left next to the credentials");

	bs_auth_creds_free(&old);
	bs_auth_creds_free(&big);
	bs_auth_creds_free(&back);
	bs_cred_store_close(st);
	bs_buf_free_secure(&before);
	bs_buf_free_secure(&after);
	bs_test_rmtree(home);
	free(home);
	free(xdg);
	free(dir);
}

/* Ctrl-C while login waits on discovery from a server that accepts and never answers: bstscan
 * stops at once with "cancelled" (not killed by the signal, not after the HTTP timeout), and a
 * login stored earlier for that server is left as it was. The other stages: polling is
 * test_auth_e2e.c's e2e::login_interrupted_by_ctrl_c; device-code and save are covered by the
 * device-flow cancel test (test_auth_http.c device_flow::ctrl_c_cancels) and the atomic save above. */
Test(reliability_auth, ctrl_c_while_discovery_hangs_cancels_and_keeps_the_old_login, .timeout = 60)
{
	char *home = bs_test_mkdtemp();
	char *xdg = bs_xasprintf("%s/config", home);
	char url[64], envh[4200], envx[4300];
	int port, hole = fo_black_hole(&port);
	bs_cred_store *st;
	bs_cred_store_options so = { BS_STORE_FILE, 0 };
	bs_auth_creds old;
	bs_error err = BS_ERROR_INIT;
	bs_buf before = BS_BUF_INIT, after = BS_BUF_INIT, errtext = BS_BUF_INIT;
	int pipefd[2], status;
	pid_t pid;
	char buf[4096];
	ssize_t n;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	setenv("XDG_CONFIG_HOME", xdg, 1);
	setenv("HOME", home, 1);
	cr_assert_eq(bs_cred_store_open(&st, &so, &err), 0, "%s", err.message);
	creds_fill(&old, "access-old", 0);
	free(old.server);
	old.server = bs_xstrdup(url);
	cr_assert_eq(bs_cred_store_save(st, &old, &err), 0, "%s", err.message);
	cr_assert_eq(bs_fs_read_file(&before, bs_cred_store_file_path(st), 1 << 20, &err), 0);

	snprintf(envh, sizeof(envh), "HOME=%s", home);
	snprintf(envx, sizeof(envx), "XDG_CONFIG_HOME=%s", xdg);
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		putenv(envh);
		putenv(envx);
		unsetenv("BSTSCAN_TOKEN");
		unsetenv("DISPLAY");
		unsetenv("WAYLAND_DISPLAY");
		execl(BSTSCAN_BIN, BSTSCAN_BIN, "auth", "login", "--server", url, "--credential-store", "file",
		      "--no-browser", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	sleep(2); /* long enough to be inside the discovery request, far below its 30 s timeout */
	kill(pid, SIGINT);
	while ((n = read(pipefd[0], buf, sizeof(buf))) > 0)
		bs_buf_add(&errtext, buf, (size_t)n);
	close(pipefd[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "killed by signal %d instead of stopping cleanly", WTERMSIG(status));
	cr_assert_eq(WEXITSTATUS(status), 130, "%s", errtext.ptr);
	cr_assert_not_null(strstr(errtext.ptr, "cancel"), "%s", errtext.ptr);

	cr_assert_eq(bs_fs_read_file(&after, bs_cred_store_file_path(st), 1 << 20, &err), 0);
	cr_assert(after.len == before.len && !memcmp(after.ptr, before.ptr, before.len), "the stored login changed");
	close(hole);
	bs_auth_creds_free(&old);
	bs_cred_store_close(st);
	bs_buf_free_secure(&before);
	bs_buf_free_secure(&after);
	bs_buf_free(&errtext);
	bs_test_rmtree(home);
	free(home);
	free(xdg);
}

/* A Retry-After date thousands of years away overflowed the milliseconds (undefined behaviour;
 * UBSan aborts). Such a date is now invalid, like a delta over a year. Found by fuzz_auth:
 * tests/fixtures/fuzz-regressions/fuzz_auth/retry-after-date-far-away-overflows. */
Test(reliability_auth, a_retry_after_date_far_away_is_invalid_not_an_overflow)
{
	cr_assert_eq(bs_http_parse_retry_after("W\a444622084Oct2"), -1);
	cr_assert_eq(bs_http_parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT"), -1);
	cr_assert_eq(bs_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), 0);
	cr_assert_eq(bs_http_parse_retry_after("120"), 120000);
}
