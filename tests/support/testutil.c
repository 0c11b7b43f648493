#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/fs.h"
#include "common/secure.h"
#include "tests/support/testutil.h"
#include "common/banned.h"

char *bs_test_mkdtemp(void)
{
	const char *t = getenv("TMPDIR");
	char *tmpl = bs_xasprintf("%s/bstscan-test-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpl))
		cr_assert_fail("mkdtemp: %s", strerror(errno));
	return tmpl;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		chmod(path, 0700), rmdir(path);
	else
		unlink(path);
	return 0;
}

void bs_test_rmtree(const char *path)
{
	if (path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void bs_test_write_file(const char *dir, const char *rel, const void *data, size_t len)
{
	char *path = bs_xasprintf("%s/%s", dir, rel);
	char *slash = strrchr(path, '/');
	bs_error err = BS_ERROR_INIT;
	FILE *f;
	*slash = '\0';
	cr_assert_eq(bs_fs_mkdir_p(path, 0755, &err), 0, "%s", err.message);
	*slash = '/';
	f = fopen(path, "wb");
	cr_assert_not_null(f, "cannot write %s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	free(path);
}

void bs_test_write_str(const char *dir, const char *rel, const char *s)
{
	bs_test_write_file(dir, rel, s, strlen(s));
}

static void apply_env(const char *const *env)
{
	for (; env && *env; env++) {
		const char *eq = strchr(*env, '=');
		if (!eq)
			continue;
		if (eq[1] == '\0') {
			char *name = bs_xstrndup(*env, (size_t)(eq - *env));
			unsetenv(name);
			free(name);
		} else {
			putenv((char *)*env);
		}
	}
}

int bs_test_run(bs_test_proc *p, const char *const *argv, const char *cwd, const char *const *env,
		const void *stdin_data, size_t stdin_len, int timeout_s)
{
	int in[2], out[2], errp[2];
	pid_t pid;
	size_t written = 0;
	long long deadline = (long long)time(NULL) + timeout_s;
	int status;

	bs_buf_init(&p->out, 0);
	bs_buf_init(&p->err, 0);
	p->status = -1;
	if (pipe(in) || pipe(out) || pipe(errp))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(errp[1], 2);
		close(in[0]), close(in[1]), close(out[0]), close(out[1]), close(errp[0]), close(errp[1]);
		if (cwd && chdir(cwd) < 0)
			_exit(126);
		apply_env(env);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	if (!stdin_data || !stdin_len) {
		close(in[1]);
		in[1] = -1;
	} else {
		fcntl(in[1], F_SETFL, O_NONBLOCK);
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		struct pollfd fds[3];
		int nfds = 0, r;
		char chunk[65536];
		if (out[0] >= 0)
			fds[nfds++] = (struct pollfd){ out[0], POLLIN, 0 };
		if (errp[0] >= 0)
			fds[nfds++] = (struct pollfd){ errp[0], POLLIN, 0 };
		if (in[1] >= 0)
			fds[nfds++] = (struct pollfd){ in[1], POLLOUT, 0 };
		if (!nfds)
			break;
		if ((long long)time(NULL) > deadline) {
			kill(pid, SIGKILL);
			break;
		}
		r = poll(fds, (nfds_t)nfds, 1000);
		if (r <= 0)
			continue;
		for (int i = 0; i < nfds; i++) {
			if (!fds[i].revents)
				continue;
			if (fds[i].fd == in[1]) {
				ssize_t n = write(in[1], (const char *)stdin_data + written, stdin_len - written);
				if (n > 0)
					written += (size_t)n;
				if (n < 0 || written == stdin_len) {
					close(in[1]);
					in[1] = -1;
				}
				continue;
			}
			{
				ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));
				if (n <= 0) {
					close(fds[i].fd);
					if (fds[i].fd == out[0])
						out[0] = -1;
					else
						errp[0] = -1;
				} else {
					bs_buf_add(fds[i].fd == out[0] ? &p->out : &p->err, chunk, (size_t)n);
				}
			}
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	if (out[0] >= 0)
		close(out[0]);
	if (errp[0] >= 0)
		close(errp[0]);
	waitpid(pid, &status, 0);
	p->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

void bs_test_proc_free(bs_test_proc *p)
{
	bs_buf_free(&p->out);
	bs_buf_free(&p->err);
}

pid_t bs_test_spawn_until(const char *const *argv, const char *const *env, const char *ready_prefix,
			  bs_buf *ready_line, int timeout_s)
{
	int out[2];
	pid_t pid;
	bs_buf acc = BS_BUF_INIT;
	long long deadline = (long long)time(NULL) + timeout_s;
	if (pipe(out))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		apply_env(env);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	while ((long long)time(NULL) <= deadline) {
		struct pollfd pfd = { out[0], POLLIN, 0 };
		char c;
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if (read(out[0], &c, 1) != 1)
			break;
		if (c != '\n') {
			bs_buf_addch(&acc, c);
			continue;
		}
		if (strncmp(acc.ptr, ready_prefix, strlen(ready_prefix)) == 0) {
			if (ready_line)
				bs_buf_add(ready_line, acc.ptr, acc.len);
			bs_buf_free(&acc);
			/* Keep the pipe open but drain nothing more: the child writes little. */
			return pid;
		}
		bs_buf_reset(&acc);
	}
	bs_buf_free(&acc);
	close(out[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

int bs_test_stop(pid_t pid)
{
	int status = 0;
	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return 128 + SIGKILL;
}

void bs_test_make_bst_token(char out[48])
{
	uint8_t raw[32];
	bs_buf b = BS_BUF_INIT;
	cr_assert_eq(bs_random_bytes(raw, sizeof(raw)), 0);
	bs_buf_adds(&b, "bst_");
	bs_base64url_encode(&b, raw, sizeof(raw));
	cr_assert_eq(b.len, 47);
	memcpy(out, b.ptr, 48);
	bs_buf_free(&b);
}
