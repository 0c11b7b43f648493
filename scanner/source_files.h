/* Source: files and directories on disk, walked and scanned in parallel.
 *
 * Directories are walked recursively, skipping .git; symlinks are followed
 * only when asked (loops are then detected by device and inode). A file or
 * directory that cannot be read is reported through on_error and the walk
 * goes on. Findings are returned sorted (bs_findings_sort), whatever jobs.
 */
#ifndef BS_SCANNER_SOURCE_FILES_H
#define BS_SCANNER_SOURCE_FILES_H

#include <stddef.h>

#include "common/error.h"
#include "scanner/engine.h"

typedef struct bs_files_opts {
	const char *const *paths;   /* files and directories; NULL/0 means "." */
	size_t n_paths;
	const char *const *excludes; /* fnmatch globs matched against the path and its basename */
	size_t n_excludes;
	int follow_symlinks;
	int jobs;                   /* 0 = number of CPUs */
	/* Called (from any thread, serialised) for each file or directory that
	 * cannot be read. */
	void (*on_error)(void *ud, const char *path, const char *reason);
	void *ud;
} bs_files_opts;

typedef struct bs_files_stats {
	size_t files;
	size_t bytes;
	size_t errors;
} bs_files_stats;

int bs_scan_files(bs_scanner *s, const bs_files_opts *opts, bs_findings *out, bs_files_stats *stats, bs_error *err);

/* Scans a file descriptor read to its end (stdin), labelled name. */
int bs_scan_fd(bs_scanner *s, int fd, const char *name, bs_findings *out, bs_error *err);

#endif
