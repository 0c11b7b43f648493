/* Private to scanner/source_git*.c: the pieces of the git source, one file each.
 *
 *   source_git_util.c      libgit2 setup and errors, the object-id map
 *   source_git_objects.c   object enumeration in pack order (our own .idx v2 and pack-header reader)
 *   source_git_pack.c      reading packed objects: inflate, deltas, a per-family base cache
 *   source_git_walk.c      the commit graph, topological order, and the first (commit, path) of every blob
 *   source_git.c           the full-history scan: worker threads, attribution, messages
 *   source_git_diff.c      added lines of a diff or patch
 *   source_git_range.c     range scans: which commits a range holds (our own rev-list walk), what each added
 *   source_git_staged.c    the staged scan: our own index reader against HEAD's tree, libgit2 as the fallback
 *   source_git_remote.c    clone URLs into the cache and fetch them
 *   source_git_hooks.c     where a repository's hooks live
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
	size_t cap; /* power of two */
	size_t len;
} bs_oidmap;

void bs_oidmap_init(bs_oidmap *m);
void bs_oidmap_free(bs_oidmap *m);
/* Returns 1 and sets *val when id is present, else 0. */
int bs_oidmap_get(const bs_oidmap *m, const git_oid *id, uint64_t *val);
/* Inserts id -> val unless present; returns 1 when inserted, 0 when it was already there (value untouched). */
int bs_oidmap_put(bs_oidmap *m, const git_oid *id, uint64_t val);

/* The object store, laid out for reading in pack order.
 *
 * Each pack's .idx (v2) is parsed and every object's pack header read (headers only: nothing is inflated), which
 * gives its type through delta chains, its delta base and how many objects use it as their base. A pack's blobs are
 * grouped into delta families (all objects whose chains end at the same full object), families in the pack order of
 * their root, members in pack order: a worker that reads one family at a time inflates each base once and holds
 * only that family's bases. Objects outside packs (loose, alternates, packs we cannot parse) are listed in `others`
 * and read through libgit2. */
typedef struct bs_git_pack_entry {
	git_oid id;
	uint64_t offset;     /* of the object's header */
	uint64_t end;        /* where its compressed data ends (the next object, or the pack trailer) */
	uint64_t size;       /* from the header: the object's size, or a delta's size */
	uint32_t base;       /* index of the delta base in this pack, or BS_GIT_NONE */
	uint32_t dependents; /* objects whose delta base this is */
	uint16_t hdr_len;    /* header bytes before the compressed data */
	uint8_t kind;        /* pack type: 1-4 an object, 6 ofs-delta, 7 ref-delta */
	int8_t type;         /* git_object_t after following deltas; GIT_OBJECT_INVALID when the chain is broken */
	uint8_t scan;        /* 0 when an earlier pack holds the same object */
	uint8_t state;       /* private to the listing */
	uint32_t root;       /* private to the listing */
} bs_git_pack_entry;

#define BS_GIT_NONE UINT32_MAX

typedef struct bs_git_pack {
	int fd;
	uint64_t size;
	bs_git_pack_entry *entries; /* sorted by offset */
	uint32_t n;
} bs_git_pack;

typedef struct bs_git_object {
	git_oid id;
	git_object_t type; /* GIT_OBJECT_INVALID when unknown (unreadable header): readers find out */
	uint64_t size;
} bs_git_object;

/* A unit of work: a delta family of a pack (members[first .. first+count) index pack's entries), or, with pack ==
 * BS_GIT_NONE, the object others[first]. */
typedef struct bs_git_unit {
	uint32_t pack;
	uint32_t count;
	size_t first;
} bs_git_unit;

typedef struct bs_git_objects {
	bs_git_pack *packs;
	size_t n_packs, cap_packs;
	uint32_t *members;
	size_t n_members, cap_members;
	bs_git_unit *units; /* blobs (and objects of unknown type) to scan, in read order */
	size_t n_units, cap_units;
	size_t n_scan; /* objects the units scan */
	bs_git_object *others;
	size_t n_others, cap_others;
	git_oid *commits; /* every commit id in the store (for --all-objects) */
	size_t n_commits, cap_commits;
	bs_oidmap all; /* every object id listed */
} bs_git_objects;

/* Lists every object of repo's object store once (an object in two packs is scanned from the first). */
int bs_git_objects_list(git_repository *repo, bs_git_objects *out, bs_error *err);
void bs_git_objects_free(bs_git_objects *o);

/* A pack reader: inflates objects and applies deltas itself, keeping the bases the current family still needs. One
 * per thread; the packs it reads are shared read-only. */
typedef struct bs_git_pack_reader bs_git_pack_reader;

bs_git_pack_reader *bs_git_pack_reader_new(const bs_git_objects *objs, size_t cache_bytes);
void bs_git_pack_reader_free(bs_git_pack_reader *r);
/* Reads entry i of pack p; *data and *len stay valid until the next call. Returns 0, or -1 (corrupt or missing
 * base: the caller falls back to libgit2, which reports the error). */
int bs_git_pack_read(bs_git_pack_reader *r, uint32_t p, uint32_t i, const unsigned char **data, size_t *len);
/* Streams a full (non-delta) object through feed in pieces, without holding it whole. Returns 0 or -1. */
int bs_git_pack_stream(bs_git_pack_reader *r, uint32_t p, uint32_t i,
                       void (*feed)(void *ud, const unsigned char *piece, size_t n), void *ud);
/* Drops every cached base (between families). */
void bs_git_pack_reader_reset(bs_git_pack_reader *r);

/* The history walk: commits in topological order (parents first; among commits whose parents are all done, the
 * oldest first) and, for each blob, the first commit and path at which it appears. */
#define BS_GIT_NO_COMMIT UINT32_MAX

typedef struct bs_git_commit_node {
	git_oid id;
	int64_t time;
	uint32_t first_parent; /* index, or BS_GIT_NO_COMMIT (root, shallow boundary, missing parent) */
	unsigned reachable : 1;
} bs_git_commit_node;

typedef struct bs_git_blob_origin {
	uint32_t commit; /* index into commits, or BS_GIT_NO_COMMIT (reached from a tag to a tree or blob) */
	char *path;
} bs_git_blob_origin;

typedef struct bs_git_history {
	bs_git_commit_node *commits;
	size_t n_commits, cap_commits;
	bs_oidmap commit_index; /* commit id -> index in commits */
	bs_oidmap blob_index;   /* blob id -> index in origins */
	bs_git_blob_origin *origins;
	size_t n_origins, cap_origins;
	git_oid *tags; /* annotated tag objects met (their messages are scanned too) */
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

/* Orders n commits parents-first (Kahn's algorithm; among ready commits the oldest, then by id). The parents of
 * commit i are parents[pstart[i] .. pstart[i+1]) as indexes (BS_GIT_NONE: not in the set). Returns n indexes
 * (heap array, the caller frees it). */
uint32_t *bs_git_topo_sort(const bs_git_commit_node *nodes, size_t n, const size_t *pstart, const uint32_t *parents);

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

/* Shared by the diff-based scans (source_git_diff.c, source_git_staged.c). */
void bs_git_report(const bs_git_opts *o, const char *what, const char *why);
void bs_git_diff_options(git_diff_options *o); /* no context lines: only what changed */
int bs_git_find_renames(git_diff *diff);
/* Opens the repository holding path (searching upwards, as git does), or the one opts->git_dir names. */
int bs_git_open(git_repository **repo, const char *path, const bs_git_opts *opts, bs_error *err);
/* Scans the added lines of one file's patch (or, binary, its new version less the secrets the old one held). */
int bs_git_scan_patch_added(bs_scan_ctx *ctx, git_repository *repo, git_patch *patch, const bs_git_provenance *prov,
                            git_tree *head_tree, const bs_git_opts *opts, bs_findings *out, bs_git_stats *stats);

/* Scans the added lines of every delta of diff (see bs_git_scan_range). prov (may be NULL) is copied into each
 * finding, with blob and in_head filled per finding when head_tree is given. */
int bs_git_scan_diff_added(bs_scan_ctx *ctx, git_repository *repo, git_diff *diff, const bs_git_provenance *prov,
                           git_tree *head_tree, const bs_git_opts *opts, bs_findings *out, bs_git_stats *stats,
                           bs_error *err);

#endif
