/* Helpers for Criterion tests: temporary trees, running the built programs,
 * and generating test tokens at run time (so no real-looking token is ever
 * committed). Not thread-safe; tests call them from the test's own thread. */
#ifndef BS_TESTS_TESTUTIL_H
#define BS_TESTS_TESTUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"

/* A fresh directory under $TMPDIR; the caller removes it with bs_test_rmtree. */
char *bs_test_mkdtemp(void);
void bs_test_rmtree(const char *path);
/* Writes a file (creating parent directories); aborts the test on failure. */
void bs_test_write_file(const char *dir, const char *rel, const void *data, size_t len);
void bs_test_write_str(const char *dir, const char *rel, const char *s);

typedef struct bs_test_proc {
	int status;   /* exit code, or 128+signal */
	bs_buf out;   /* stdout */
	bs_buf err;   /* stderr */
} bs_test_proc;

/* Runs argv (argv[0] a path) with cwd (may be NULL) and env additions
 * ("NAME=value" strings, NULL-terminated, may be NULL; "NAME=" unsets NAME),
 * feeding stdin_data (may be NULL: /dev/null). Waits at most timeout_s seconds
 * then kills it. Returns 0 when it ran. */
int bs_test_run(bs_test_proc *p, const char *const *argv, const char *cwd, const char *const *env,
		const void *stdin_data, size_t stdin_len, int timeout_s);
void bs_test_proc_free(bs_test_proc *p);

/* Starts argv in the background with stdout piped; reads stdout until a line
 * starting with ready_prefix arrives (copied to ready_line) or timeout_s.
 * Returns the pid, or -1. The caller stops it with bs_test_stop(pid). */
pid_t bs_test_spawn_until(const char *const *argv, const char *const *env, const char *ready_prefix,
			  bs_buf *ready_line, int timeout_s);
/* SIGTERM, wait up to 5 s, then SIGKILL; returns the exit status. */
int bs_test_stop(pid_t pid);

/* A syntactically valid Bastionary PAT built from random bytes: "bst_" +
 * base64url(32 bytes). out must hold 48 bytes. */
void bs_test_make_bst_token(char out[48]);

#endif
