#include <criterion/criterion.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/secure.h"
#include "common/timeutil.h"
#include "tests/support/testutil.h"

Test(buf, invariants_hold_through_growth)
{
	bs_buf b = BS_BUF_INIT;
	cr_assert_not_null(b.ptr);
	cr_assert_eq(b.ptr[0], '\0');
	for (int i = 0; i < 1000; i++)
		bs_buf_addf(&b, "%d,", i);
	cr_assert_eq(b.ptr[b.len], '\0');
	cr_assert(strncmp(b.ptr, "0,1,2,", 6) == 0);
	bs_buf_add(&b, "\0x", 2);
	cr_assert_eq(b.ptr[b.len - 2], '\0');
	cr_assert_eq(b.ptr[b.len - 1], 'x');
	bs_buf_truncate(&b, 2);
	cr_assert_str_eq(b.ptr, "0,");
	bs_buf_free(&b);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(b.cap, 0);
}

Test(secure, sha256_hex_matches_known_vector)
{
	char hex[65];
	bs_sha256_hex("abc", 3, hex);
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	cr_assert(bs_is_sha256_hex(hex));
	cr_assert_not(bs_is_sha256_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
	cr_assert_not(bs_is_sha256_hex("abc"));
}

Test(base64, url_roundtrip_and_rfc4648_vectors)
{
	bs_buf b = BS_BUF_INIT, d = BS_BUF_INIT;
	bs_base64_encode(&b, "foobar", 6);
	cr_assert_str_eq(b.ptr, "Zm9vYmFy");
	bs_buf_reset(&b);
	bs_base64_encode(&b, "fo", 2);
	cr_assert_str_eq(b.ptr, "Zm8=");
	bs_buf_reset(&b);
	bs_base64url_encode(&b, "\xfb\xff", 2);
	cr_assert_str_eq(b.ptr, "-_8");
	cr_assert_eq(bs_base64url_decode(&d, b.ptr, b.len), 0);
	cr_assert_eq(d.len, 2);
	cr_assert_eq(memcmp(d.ptr, "\xfb\xff", 2), 0);
	bs_buf_reset(&d);
	cr_assert_eq(bs_base64url_decode(&d, "a+b", 3), -1);
	bs_buf_free(&b);
	bs_buf_free(&d);
}

Test(fs, atomic_write_creates_0600_and_replaces)
{
	char *dir = bs_test_mkdtemp();
	char *path = bs_xasprintf("%s/sub/cred.json", dir);
	char *sub = bs_xasprintf("%s/sub", dir);
	bs_error err = BS_ERROR_INIT;
	bs_buf b = BS_BUF_INIT;
	struct stat st;
	cr_assert_eq(bs_fs_mkdir_p(sub, 0700, &err), 0, "%s", err.message);
	cr_assert_eq(bs_fs_write_atomic(path, "one", 3, 0600, &err), 0, "%s", err.message);
	cr_assert_eq(bs_fs_write_atomic(path, "two", 3, 0600, &err), 0, "%s", err.message);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(bs_fs_read_file(&b, path, 100, &err), 0);
	cr_assert_str_eq(b.ptr, "two");
	bs_buf_reset(&b);
	cr_assert_eq(bs_fs_read_file(&b, path, 2, &err), BS_ERR_LIMIT);
	bs_buf_free(&b);
	bs_test_rmtree(dir);
	free(path);
	free(sub);
	free(dir);
}

Test(timeutil, rfc3339_roundtrip_and_offsets)
{
	char out[BS_RFC3339_LEN];
	time_t t;
	cr_assert_eq(bs_time_parse_rfc3339("2026-11-27T03:27:07Z", &t), 0);
	bs_time_format_rfc3339(t, out);
	cr_assert_str_eq(out, "2026-11-27T03:27:07Z");
	cr_assert_eq(bs_time_parse_rfc3339("2026-11-27T05:27:07.123+02:00", &t), 0);
	bs_time_format_rfc3339(t, out);
	cr_assert_str_eq(out, "2026-11-27T03:27:07Z");
	cr_assert_eq(bs_time_parse_rfc3339("2026-13-27T03:27:07Z", &t), -1);
	cr_assert_eq(bs_time_parse_rfc3339("yesterday", &t), -1);
}
