/* Replays every committed fuzz input (fuzz/corpus/TARGET/ seeds and
 * tests/fixtures/fuzz-regressions/TARGET/, the inputs that once crashed or broke an invariant:
 * under tests/fixtures/ because some hold real-looking tokens taken from rule examples) through the fuzz targets' own code, in the
 * normal build and under ASan/UBSan. A target aborts on a broken invariant, which fails the test.
 * The targets are compiled in here with their entry points renamed (fuzz/fuzz.h). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BS_FUZZ_ENTRY fuzz_rules_one
#include "fuzz/fuzz_rules.c"
#undef BS_FUZZ_ENTRY
#define BS_FUZZ_ENTRY fuzz_scan_one
#include "fuzz/fuzz_scan.c"
#undef BS_FUZZ_ENTRY
#define BS_FUZZ_ENTRY fuzz_config_one
#include "fuzz/fuzz_config.c"
#undef BS_FUZZ_ENTRY
#define BS_FUZZ_ENTRY fuzz_auth_one
#include "fuzz/fuzz_auth.c"
#undef BS_FUZZ_ENTRY
#define BS_FUZZ_ENTRY fuzz_revoke_one
#include "fuzz/fuzz_revoke.c"
#undef BS_FUZZ_ENTRY
#define BS_FUZZ_ENTRY fuzz_webhook_one
#include "fuzz/fuzz_webhook.c"
#undef BS_FUZZ_ENTRY

#include "common/fs.h"

typedef int (*fuzz_fn)(const uint8_t *, size_t);

/* Runs fn over every file of BS_SOURCE_DIR/DIR/TARGET; returns how many. */
static size_t replay_dir(fuzz_fn fn, const char *dir, const char *target)
{
	char *path = bs_xasprintf("%s/%s/%s", BS_SOURCE_DIR, dir, target);
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;
	if (!d) {
		free(path);
		return 0;
	}
	while ((de = readdir(d))) {
		char *f;
		bs_buf data = BS_BUF_INIT;
		bs_error err = BS_ERROR_INIT;
		if (de->d_name[0] == '.')
			continue;
		f = bs_xasprintf("%s/%s", path, de->d_name);
		cr_assert_eq(bs_fs_read_file(&data, f, 1u << 24, &err), 0, "%s", err.message);
		/* A copy of exactly the input's size, so ASan sees any read past its end. */
		{
			uint8_t *copy = (uint8_t *)bs_xmemdup(data.ptr, data.len);
			fprintf(stderr, "replay %s/%s/%s\n", dir, target, de->d_name);
			fn(copy, data.len);
			free(copy);
		}
		bs_buf_free(&data);
		free(f);
		n++;
	}
	closedir(d);
	free(path);
	return n;
}

static void replay(fuzz_fn fn, const char *target)
{
	size_t seeds = replay_dir(fn, "fuzz/corpus", target);
	replay_dir(fn, "tests/fixtures/fuzz-regressions", target);
	cr_assert_gt(seeds, 0, "no seed corpus for %s", target);
}

Test(reliability_fuzz_replay, rules)
{
	replay(fuzz_rules_one, "fuzz_rules");
}

Test(reliability_fuzz_replay, scan_engine_against_reference, .timeout = 300)
{
	replay(fuzz_scan_one, "fuzz_scan");
}

Test(reliability_fuzz_replay, config_and_baseline)
{
	replay(fuzz_config_one, "fuzz_config");
}

Test(reliability_fuzz_replay, auth_server_replies_jwt_and_stored_login)
{
	replay(fuzz_auth_one, "fuzz_auth");
}

Test(reliability_fuzz_replay, issuer_check_and_revoke_replies_and_webhook_keys)
{
	replay(fuzz_revoke_one, "fuzz_revoke");
}

Test(reliability_fuzz_replay, webhook_request_path, .timeout = 120)
{
	replay(fuzz_webhook_one, "fuzz_webhook");
}
