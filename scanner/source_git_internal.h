/* Private to scanner/source_git*.c: the pieces of the git source, one file each.
 *
 *   source_git_objects.c   object enumeration in pack order (our own .idx v2 and pack-header reader)
 *   source_git_walk.c      the commit graph, topological order, and the first (commit, path) of every blob
 *   source_git.c           the full-history scan: worker threads, attribution, messages
 *   source_git_diff.c      added lines of a diff: range scans and the staged scan
 *   source_git_remote.c    clone URLs into the cache and fetch them
 *
 * None of these is thread-safe unless it says so; a libgit2 handle belongs to one thread.
 */
#ifndef BS_SCANNER_SOURCE_GIT_INTERNAL_H
#define BS_SCANNER_SOURCE_GIT_INTERNAL_H

#include <git2.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "scanner/finding.h"
#include "scanner/source_git.h"

/* Initialises libgit2 once per process and bounds its memory (object cache, mapped pack windows). Thread-safe. */
void bs_git_global_init(void);
/* Fills err from libgit2's last error, prefixed by what. Returns code. */
int bs_git_error(bs_error *err, int code, const char *what);

/* An open-addressing map from object id to a 64-bit value. */
typedef struct bs_oidmap {
	git_oid *keys;
	uint64_t *vals;
	unsigned char *used;
	size_t cap;    /* power of two */
	size_t len;
} bs_oidmap;

void bs_oidmap_init(bs_oidmap *m);
void bs_oidmap_free(bs_oidmap *m);
/* Returns 1 and sets *val when id is present, else 0. */
int bs_oidmap_get(const bs_oidmap *m, const git_oid *id, uint64_t *val);
/* Inserts id -> val unless present; returns 1 when inserted, 0 when it was already there (value untouched). */
int bs_oidmap_put(bs_oidmap *m, const git_oid *id, uint64_t val);

/* The object store's objects, in the order they should be read: each pack's objects by offset (packs in the order
 * found), then objects outside packs (loose, alternates). type is GIT_OBJECT_INVALID when unknown (a corrupt loose
 * object, or a pack we could not parse): readers then find out by reading it. */
typedef struct bs_git_object {
	git_oid id;
	git_object_t type;
	uint32_t pack;    /* UINT32_MAX when outside any pack */
	uint64_t offset;
	uint64_t size;    /* inflated size when known from the header, else 0 */
} bs_git_object;

typedef struct bs_git_objects {
	bs_git_object *items;
	size_t len, cap;
	size_t packed;    /* how many of items came from pack indexes */
} bs_git_objects;

/* Lists every object of repo's object store once, in read order. */
int bs_git_objects_list(git_repository *repo, bs_git_objects *out, bs_error *err);
void bs_git_objects_free(bs_git_objects *o);

/* The history walk: commits in topological order (parents first; among commits whose parents are all done, the
 * oldest first) and, for each blob, the first commit and path at which it appears. */
#define BS_GIT_NO_COMMIT UINT32_MAX

typedef struct bs_git_commit_node {
	git_oid id;
	int64_t time;
	uint32_t first_parent;  /* index, or BS_GIT_NO_COMMIT (root, shallow boundary, missing parent) */
	unsigned reachable : 1;
} bs_git_commit_node;

typedef struct bs_git_blob_origin {
	uint32_t commit;        /* index into commits, or BS_GIT_NO_COMMIT (reached from a tag to a tree or blob) */
	char *path;
} bs_git_blob_origin;

typedef struct bs_git_history {
	bs_git_commit_node *commits;
	size_t n_commits, cap_commits;
	bs_oidmap commit_index;   /* commit id -> index in commits */
	bs_oidmap blob_index;     /* blob id -> index in origins */
	bs_git_blob_origin *origins;
	size_t n_origins, cap_origins;
	git_oid *tags;            /* annotated tag objects met (their messages are scanned too) */
	size_t n_tags, cap_tags;
} bs_git_history;

typedef struct bs_git_walk_cb {
	/* Called for each commit, in topological order, once its blobs are recorded. May be NULL. */
	void (*on_commit)(void *ud, git_commit *c, uint32_t index);
	/* Called every few hundred commits (for progress). May be NULL. */
	void (*on_tick)(void *ud, size_t commits_done);
	void (*on_error)(void *ud, const char *what, const char *reason);
	void *ud;
} bs_git_walk_cb;

/* Walks every commit reachable from any ref, HEAD and every stash entry; with extra_commits (commits no ref reaches,
 * from bs_git_objects_list) also those, marked unreachable. */
int bs_git_history_walk(bs_git_history *h, git_repository *repo, const git_oid *extra_commits, size_t n_extra,
			const bs_git_walk_cb *cb, bs_error *err);
void bs_git_history_free(bs_git_history *h);

/* A provenance record for commit c (strings duplicated); repository copied. in_head, reachable and blob are left
 * for the caller. */
bs_git_provenance *bs_git_provenance_from_commit(const char *repository, const git_commit *c);
bs_git_provenance *bs_git_provenance_dup(const bs_git_provenance *p);
void bs_git_provenance_free(bs_git_provenance *p);
/* 1 when HEAD's tree holds path with blob id, or a blob there contains the secret: the token is still in HEAD. */
int bs_git_in_head(git_repository *repo, git_tree *head_tree, const char *path, const char *blob_hex,
		   const bs_finding *f);

/* Scans the added lines of every delta of diff (see bs_git_scan_range). prov (may be NULL) is copied into each
 * finding, with blob and in_head filled per finding when head_tree is given. */
int bs_git_scan_diff_added(bs_scan_ctx *ctx, git_repository *repo, git_diff *diff, const bs_git_provenance *prov,
			   git_tree *head_tree, const bs_git_opts *opts, bs_findings *out, bs_git_stats *stats,
			   bs_error *err);

#endif
