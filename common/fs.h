/* Small file-system helpers shared by every module. Thread-safe. */
#ifndef BS_COMMON_FS_H
#define BS_COMMON_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/error.h"

/* Writes data to path atomically: a temporary file in the same directory is
 * created with mode, written, fsync'ed, then renamed over path (and the
 * directory fsync'ed). On any failure path is left untouched and the
 * temporary file is removed. */
int bs_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, bs_error *err);
/* Appends the whole file to out, refusing files larger than max_bytes. */
int bs_fs_read_file(bs_buf *out, const char *path, size_t max_bytes, bs_error *err);
/* mkdir -p with mode for every directory it creates. */
int bs_fs_mkdir_p(const char *path, mode_t mode, bs_error *err);
/* $XDG_CONFIG_HOME (or ~/.config) and $XDG_CACHE_HOME (or ~/.cache), with
 * "/bstscan" appended; the caller frees the result. NULL without HOME. */
char *bs_fs_config_dir(void);
char *bs_fs_cache_dir(void);

#endif
