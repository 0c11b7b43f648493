#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/banned.h"

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int bs_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, bs_error *err)
{
	char *tmp = bs_xasprintf("%s.tmp.XXXXXX", path);
	char *dir_copy = bs_xstrdup(path);
	int fd, e, dfd;

	fd = mkstemp(tmp);
	if (fd < 0) {
		e = errno;
		bs_error_set(err, BS_ERR_IO, "cannot create a temporary file next to %s: %s", path, strerror(e));
		goto fail;
	}
	/* mkstemp creates 0600; apply the requested mode before any byte lands. */
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		bs_error_set(err, BS_ERR_IO, "cannot write %s: %s", path, strerror(e));
		goto fail;
	}
	if (close(fd) < 0) {
		e = errno;
		unlink(tmp);
		bs_error_set(err, BS_ERR_IO, "cannot write %s: %s", path, strerror(e));
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		bs_error_set(err, BS_ERR_IO, "cannot replace %s: %s", path, strerror(e));
		goto fail;
	}
	dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(tmp);
	free(dir_copy);
	return 0;
fail:
	free(tmp);
	free(dir_copy);
	return err ? err->code : BS_ERR_IO;
}

int bs_fs_read_file(bs_buf *out, const char *path, size_t max_bytes, bs_error *err)
{
	char chunk[65536];
	size_t total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bs_error_set(err, errno == ENOENT ? BS_ERR_NOTFOUND : BS_ERR_IO, "cannot open %s: %s", path,
				    strerror(errno));
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			close(fd);
			return bs_error_set(err, BS_ERR_IO, "cannot read %s: %s", path, strerror(e));
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > max_bytes) {
			close(fd);
			return bs_error_set(err, BS_ERR_LIMIT, "%s is larger than %zu bytes", path, max_bytes);
		}
		bs_buf_add(out, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

int bs_fs_mkdir_p(const char *path, mode_t mode, bs_error *err)
{
	char *p = bs_xstrdup(path);
	int rc = 0;
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST) {
				rc = bs_error_set(err, BS_ERR_IO, "cannot create directory %s: %s", p, strerror(errno));
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	return rc;
}

static char *xdg_dir(const char *var, const char *fallback)
{
	const char *v = getenv(var);
	const char *home;
	if (v && v[0] == '/')
		return bs_xasprintf("%s/bstscan", v);
	home = getenv("HOME");
	if (!home || !*home)
		return NULL;
	return bs_xasprintf("%s/%s/bstscan", home, fallback);
}

char *bs_fs_config_dir(void)
{
	return xdg_dir("XDG_CONFIG_HOME", ".config");
}

char *bs_fs_cache_dir(void)
{
	return xdg_dir("XDG_CACHE_HOME", ".cache");
}
