/* Our pack reader (scanner/source_git_pack.c) against git itself: every blob it produces must hash to its id,
 * whatever the delta encoding (offset or ref deltas), the cache size, and the order objects are asked in. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "scanner/source_git_internal.h"
#include "tests/support/testutil.h"
#include "tests/unit/test_git_fixture.h"

TestSuite(git_pack, .timeout = 120);

/* A repository whose history has long delta chains: 300 commits editing 20 files, repacked with deep chains. */
static char *make_repo(int ref_deltas)
{
	char *dir = bs_test_mkdtemp();
	bs_buf cmd = BS_BUF_INIT;
	bs_test_proc p;
	const char *argv[] = {"/bin/sh", "-c", NULL, NULL};
	const char *env[] = {"GIT_CONFIG_NOSYSTEM=1", NULL};
	bs_buf_addf(&cmd,
	            "set -e; git init -q --bare r.git; python3 %s/bench/gen-git-history.py 300 3 20 5 2>/dev/null |"
	            " git -C r.git fast-import --quiet;"
	            " git -C r.git -c repack.useDeltaBaseOffset=%s -c pack.deltaCacheSize=1m repack -adfq --window=20"
	            " --depth=40",
	            BS_SOURCE_DIR, ref_deltas ? "false" : "true");
	argv[2] = cmd.ptr;
	cr_assert_eq(bs_test_run(&p, argv, dir, env, NULL, 0, 120), 0);
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	bs_test_proc_free(&p);
	bs_buf_free(&cmd);
	return dir;
}

static void check_all_blobs(const char *dir, size_t cache_bytes, int reverse, int want_kind)
{
	git_repository *repo = NULL;
	bs_git_objects objs;
	bs_git_pack_reader *r;
	bs_error err = BS_ERROR_INIT;
	char *path = bs_xasprintf("%s/r.git", dir);
	size_t checked = 0, deltas = 0, of_kind = 0;

	bs_git_global_init();
	cr_assert_eq(git_repository_open(&repo, path), 0);
	cr_assert_eq(bs_git_objects_list(repo, &objs, &err), 0, "%s", err.message);
	cr_assert_eq(objs.n_packs, 1);
	cr_assert_eq(objs.n_others, 0);
	r = bs_git_pack_reader_new(&objs, cache_bytes);
	for (size_t k = 0; k < objs.n_units; k++) {
		const bs_git_unit *u = &objs.units[reverse ? objs.n_units - 1 - k : k];
		cr_assert_neq(u->pack, BS_GIT_NONE);
		for (uint32_t m = 0; m < u->count; m++) {
			uint32_t i = objs.members[u->first + (reverse ? u->count - 1 - m : m)];
			const bs_git_pack_entry *e = &objs.packs[u->pack].entries[i];
			const unsigned char *data;
			size_t len;
			git_oid id;
			cr_assert_eq(e->type, GIT_OBJECT_BLOB);
			cr_assert_eq(bs_git_pack_read(r, u->pack, i, &data, &len), 0);
			cr_assert_eq(git_odb_hash(&id, data, len, GIT_OBJECT_BLOB), 0);
			cr_assert(git_oid_equal(&id, &e->id), "blob %u differs from its id", i);
			deltas += e->kind == 6 || e->kind == 7;
			of_kind += e->kind == want_kind;
			checked++;
		}
		if (!reverse)
			bs_git_pack_reader_reset(r);
	}
	cr_assert_eq(checked, objs.n_scan);
	cr_assert_gt(checked, 300);
	cr_assert_gt(deltas, checked / 2, "the fixture should be mostly deltas (%zu of %zu)", deltas, checked);
	cr_assert_gt(of_kind, 0, "no delta of kind %d in the fixture", want_kind);
	bs_git_pack_reader_free(r);
	bs_git_objects_free(&objs);
	git_repository_free(repo);
	free(path);
}

Test(git_pack, offset_deltas_in_family_order)
{
	char *dir = make_repo(0);
	check_all_blobs(dir, 64 * 1024 * 1024, 0, 6);
	bs_test_rmtree(dir);
	free(dir);
}

Test(git_pack, ref_deltas_tiny_cache_reverse_order)
{
	char *dir = make_repo(1);
	check_all_blobs(dir, 4096, 1, 7);
	check_all_blobs(dir, 64 * 1024 * 1024, 0, 7);
	bs_test_rmtree(dir);
	free(dir);
}

Test(git_pack, listing_types_and_commits)
{
	char *dir = make_repo(0), *path = bs_xasprintf("%s/r.git", dir);
	git_repository *repo = NULL;
	bs_git_objects objs;
	bs_error err = BS_ERROR_INIT;
	size_t commits = 0, trees = 0;
	cr_assert_eq(git_repository_open(&repo, path), 0);
	cr_assert_eq(bs_git_objects_list(repo, &objs, &err), 0);
	/* Every entry's type agrees with libgit2's. */
	for (uint32_t i = 0; i < objs.packs[0].n; i++) {
		const bs_git_pack_entry *e = &objs.packs[0].entries[i];
		git_odb *odb = NULL;
		size_t size;
		git_object_t t;
		cr_assert_eq(git_repository_odb(&odb, repo), 0);
		cr_assert_eq(git_odb_read_header(&size, &t, odb, &e->id), 0);
		cr_assert_eq((int)e->type, (int)t);
		commits += t == GIT_OBJECT_COMMIT;
		trees += t == GIT_OBJECT_TREE;
		git_odb_free(odb);
	}
	cr_assert_eq(objs.n_commits, commits);
	cr_assert_eq(commits, 300 + 0);
	cr_assert_gt(trees, 0);
	bs_git_objects_free(&objs);
	git_repository_free(repo);
	bs_test_rmtree(dir);
	free(dir);
	free(path);
}
