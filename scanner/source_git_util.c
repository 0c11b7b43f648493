/* Small helpers the git source shares: libgit2's one-time setup, its errors, and a map keyed by object id. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "scanner/source_git_internal.h"
#include "common/banned.h"

static void global_init_once(void)
{
	git_libgit2_init();
	/* Bound memory whatever the repository size: a small object cache (trees and commits of the walk), and
	 * pack windows mapped in 8 MiB slices, at most 32 MiB at a time (mapped pages count in the RSS). */
	git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)32 * 1024 * 1024);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)8 * 1024 * 1024);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)32 * 1024 * 1024);
	/* git itself does not re-hash objects it reads; a corrupt object still fails to inflate. */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
}

void bs_git_global_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, global_init_once);
}

int bs_git_error(bs_error *err, int code, const char *what)
{
	const git_error *e = git_error_last();
	return bs_error_set(err, code, "%s: %s", what, e && e->message ? e->message : "unknown libgit2 error");
}

static size_t oid_hash(const git_oid *id)
{
	size_t h;
	memcpy(&h, id->id, sizeof(h));
	return h;
}

void bs_oidmap_init(bs_oidmap *m)
{
	memset(m, 0, sizeof(*m));
}

void bs_oidmap_free(bs_oidmap *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	memset(m, 0, sizeof(*m));
}

int bs_oidmap_get(const bs_oidmap *m, const git_oid *id, uint64_t *val)
{
	if (!m->cap)
		return 0;
	for (size_t i = oid_hash(id) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->used[i])
			return 0;
		if (git_oid_equal(&m->keys[i], id)) {
			if (val)
				*val = m->vals[i];
			return 1;
		}
	}
}

static void oidmap_grow(bs_oidmap *m)
{
	bs_oidmap n;
	n.cap = m->cap ? m->cap * 2 : 1024;
	n.len = 0;
	n.keys = bs_xmalloc(n.cap * sizeof(*n.keys));
	n.vals = bs_xmalloc(n.cap * sizeof(*n.vals));
	n.used = bs_xcalloc(n.cap, 1);
	for (size_t i = 0; i < m->cap; i++)
		if (m->used[i])
			bs_oidmap_put(&n, &m->keys[i], m->vals[i]);
	bs_oidmap_free(m);
	*m = n;
}

int bs_oidmap_put(bs_oidmap *m, const git_oid *id, uint64_t val)
{
	size_t i;
	if ((m->len + 1) * 4 > m->cap * 3)
		oidmap_grow(m);
	for (i = oid_hash(id) & (m->cap - 1); m->used[i]; i = (i + 1) & (m->cap - 1))
		if (git_oid_equal(&m->keys[i], id))
			return 0;
	m->used[i] = 1;
	m->keys[i] = *id;
	m->vals[i] = val;
	m->len++;
	return 1;
}
