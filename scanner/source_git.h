/* Source: git repositories, read through libgit2 (the product never runs `git`).
 *
 * Three ways in, one per question a user asks of a repository:
 *   bs_git_scan_history()  everything ever committed: every blob reachable from any ref, each scanned once, read
 *                          in pack order by `jobs` threads, plus commit and annotated-tag messages; each finding
 *                          is attributed to the commit that introduced its blob at its path (the earliest in
 *                          topological order);
 *   bs_git_scan_range()    what some commits introduced: the added lines of each commit's diff against its first
 *                          parent (what a push or a pull request brings), with that commit's provenance;
 *   bs_git_scan_staged()   what `git commit` would record now: the added lines of the index against HEAD.
 *
 * Findings carry f->git (the finding owns it). An object or commit that cannot be read is reported through
 * opts->on_error with its id and the scan goes on. Each call opens its own libgit2 handles: calls on different
 * repositories may run in different threads. Output order is unspecified; callers sort (bs_findings_sort).
 */
#ifndef BS_SCANNER_SOURCE_GIT_H
#define BS_SCANNER_SOURCE_GIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "scanner/engine.h"

typedef struct bs_git_progress {
	uint64_t objects_done;
	uint64_t objects_total;
	uint64_t bytes_done;
	uint64_t findings;
	uint64_t commits; /* commits walked for provenance so far */
	long long elapsed_ms;
} bs_git_progress;

typedef struct bs_git_opts {
	const char *repository;  /* label copied into findings (the path or URL as given); NULL = the path */
	int jobs;                /* scanning threads for the full history; 0 = number of CPUs */
	int all_objects;         /* also scan objects no ref reaches (reported reachable = 0) */
	int recurse_submodules;  /* also scan checked-out submodules (labelled "<repository>/<path>") */
	size_t stream_threshold; /* blobs larger than this are streamed when the object store allows; 0 = 32 MiB */
	const char
	    *index_file;       /* staged: the index to read (git's GIT_INDEX_FILE in a hook); NULL = the repository's */
	const char *git_dir;   /* range and staged: the repository git names in a hook (GIT_DIR), path being ignored */
	const char *work_tree; /* with git_dir: its work tree (GIT_WORK_TREE), for a bare repository used with one */
	/* Called, serialised, for each object, commit or submodule that cannot be read. what names it (an object id,
	 * a ref or a path); reason says why. May be NULL. */
	void (*on_error)(void *ud, const char *what, const char *reason);
	/* Called from the calling thread about ten times a second during a full-history scan. May be NULL. */
	void (*on_progress)(void *ud, const bs_git_progress *p);
	void *ud;
} bs_git_opts;

typedef struct bs_git_stats {
	size_t commits; /* commits walked */
	size_t blobs;   /* blobs (or diff runs) scanned */
	uint64_t bytes; /* bytes scanned */
	size_t errors;  /* objects that could not be read */
} bs_git_stats;

/* Scans the full history of the repository at path (a work tree, a .git directory or a bare repository). Returns 0
 * when the repository was opened and walked (objects that could not be read are counted in stats->errors), or a
 * negative bs_status when it could not be opened at all. */
int bs_git_scan_history(bs_scanner *s, const char *path, const bs_git_opts *opts, bs_findings *out, bs_git_stats *stats,
                        bs_error *err);

/* Which commits a range scan covers, as `git rev-list` would list them: reachable from some include, from no
 * exclude. An include may be a range "A..B". exclude_remote_refs also hides every commit reachable from a
 * remote-tracking ref (refs/remotes/...): what a new branch pushes. */
typedef struct bs_git_range {
	const char *const *include;
	size_t n_include;
	const char *const *exclude;
	size_t n_exclude;
	int exclude_remote_refs;
} bs_git_range;

int bs_git_scan_range(bs_scanner *s, const char *path, const bs_git_range *range, const bs_git_opts *opts,
                      bs_findings *out, bs_git_stats *stats, bs_error *err);

/* Scans the added lines of the index against HEAD (the whole index on an unborn branch) of the repository found
 * from path (searching upwards, as git does). New and binary files are included; a binary file is scanned whole and
 * secrets its HEAD version already held are not reported again. Findings have no f->git (nothing is committed). */
int bs_git_scan_staged(bs_scanner *s, const char *path, const bs_git_opts *opts, bs_findings *out, bs_git_stats *stats,
                       bs_error *err);

/* 1 when s looks like a clone URL (https://, http://, ssh://, git://, file://, or user@host:path) rather than a
 * path. */
int bs_git_is_url(const char *s);
/* The URL with any password or token in it replaced by "***": what may be printed. Heap string. */
char *bs_git_url_display(const char *url);
/* Makes a bare mirror of url under cache_dir (cloned the first time, fetched on later runs) and returns its path
 * (heap string) in *path_out. The directory name is the sanitized URL (without credentials) plus a short hash. */
int bs_git_mirror(char **path_out, const char *url, const char *cache_dir, bs_error *err);

/* The hooks directory of the repository found from path: core.hooksPath when set (a relative value is relative to
 * the work tree, as git reads it), else <common git dir>/hooks. Heap string in *out; the directory may not exist. */
int bs_git_hooks_dir(char **out, const char *path, bs_error *err);

#endif
