#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "scanner/source_files.h"
#include "common/banned.h"

/* Files up to this size are read whole and scanned in place; larger ones
 * are streamed through the engine in pieces, so memory stays bounded. */
#define WHOLE_FILE_MAX (8u << 20)
#define STREAM_PIECE (1u << 20)

typedef struct work_item {
	char *path;
	struct work_item *next;
} work_item;

typedef struct walker {
	bs_scanner *scanner;
	const bs_files_opts *opts;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	work_item *head, *tail;
	int done;
	bs_files_stats stats;
	pthread_mutex_t err_lock;
} walker;

typedef struct worker {
	walker *w;
	pthread_t thread;
	bs_scan_ctx *ctx;
	bs_findings found;
	bs_buf data;
	bs_files_stats stats;
	int started;
} worker;

static void report_error(walker *w, const char *path, const char *reason)
{
	pthread_mutex_lock(&w->err_lock);
	w->stats.errors++;
	if (w->opts->on_error)
		w->opts->on_error(w->opts->ud, path, reason);
	pthread_mutex_unlock(&w->err_lock);
}

static void push(walker *w, char *path)
{
	work_item *it = bs_xmalloc(sizeof(*it));
	it->path = path;
	it->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next = it;
	else
		w->head = it;
	w->tail = it;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static char *pop(walker *w)
{
	work_item *it;
	char *path;
	pthread_mutex_lock(&w->lock);
	while (!w->head && !w->done)
		pthread_cond_wait(&w->cond, &w->lock);
	it = w->head;
	if (it) {
		w->head = it->next;
		if (!w->head)
			w->tail = NULL;
	}
	pthread_mutex_unlock(&w->lock);
	if (!it)
		return NULL;
	path = it->path;
	free(it);
	return path;
}

static int excluded(const bs_files_opts *o, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < o->n_excludes; i++)
		if (fnmatch(o->excludes[i], path, 0) == 0 || fnmatch(o->excludes[i], base, 0) == 0)
			return 1;
	return 0;
}

static int read_some(int fd, void *buf, size_t len, ssize_t *got)
{
	do {
		*got = read(fd, buf, len);
	} while (*got < 0 && errno == EINTR);
	return *got < 0 ? -1 : 0;
}

/* Scans one open file. Reading stops at EOF whatever fstat said: files that
 * grow or shrink while being read are scanned as far as they go. */
static int scan_open_file(bs_scan_ctx *ctx, int fd, const char *label, bs_buf *data, bs_findings *out,
			  size_t *bytes, const char **fail)
{
	struct stat st;
	bs_scan_input in = { label, 1, 0, NULL, NULL };
	bs_error err = BS_ERROR_INIT;
	ssize_t n;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= WHOLE_FILE_MAX) {
		bs_buf_reset(data);
		bs_buf_grow(data, (size_t)st.st_size + 1);
		for (;;) {
			if (data->cap - data->len < 2)
				bs_buf_grow(data, STREAM_PIECE);
			if (read_some(fd, data->ptr + data->len, data->cap - data->len - 1, &n) < 0) {
				*fail = strerror(errno);
				return -1;
			}
			if (n == 0)
				break;
			data->len += (size_t)n;
			if (data->len > WHOLE_FILE_MAX)
				break;
		}
		if (data->len <= WHOLE_FILE_MAX) {
			*bytes += data->len;
			bs_scan_buffer(ctx, &in, data->ptr, data->len, out, &err);
			bs_secure_zero(data->ptr, data->len);
			return 0;
		}
		/* It grew past the limit while we read: stream the rest. */
		bs_scan_begin(ctx, &in);
		bs_scan_feed(ctx, data->ptr, data->len, &err);
		*bytes += data->len;
	} else {
		bs_scan_begin(ctx, &in);
	}
	bs_buf_reset(data);
	bs_buf_grow(data, STREAM_PIECE);
	for (;;) {
		if (read_some(fd, data->ptr, STREAM_PIECE, &n) < 0) {
			*fail = strerror(errno);
			bs_scan_end(ctx, out, &err);
			return -1;
		}
		if (n == 0)
			break;
		*bytes += (size_t)n;
		bs_scan_feed(ctx, data->ptr, (size_t)n, &err);
	}
	bs_scan_end(ctx, out, &err);
	return 0;
}

static void scan_path(worker *wk, const char *path)
{
	walker *w = wk->w;
	const char *fail = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		report_error(w, path, strerror(errno));
		return;
	}
	/* O_NONBLOCK only guarded the open against FIFOs; read normally. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (scan_open_file(wk->ctx, fd, path, &wk->data, &wk->found, &wk->stats.bytes, &fail) < 0)
		report_error(w, path, fail);
	else
		wk->stats.files++;
	close(fd);
}

static void *worker_main(void *arg)
{
	worker *wk = arg;
	char *path;
	while ((path = pop(wk->w))) {
		scan_path(wk, path);
		free(path);
	}
	return NULL;
}

/* Rule problems met while scanning (a regex that hit its match limit) are
 * passed on as errors of the rule, one line each. */
static void report_warnings(walker *w, const char *text)
{
	while (text && *text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		char *line = bs_xstrndup(text, len);
		report_error(w, "rules", line);
		free(line);
		text += len + (nl ? 1 : 0);
	}
}

typedef struct dir_id {
	dev_t dev;
	ino_t ino;
} dir_id;

static char *join(const char *dir, const char *name)
{
	if (strcmp(dir, ".") == 0)
		return bs_xstrdup(name);
	if (dir[0] && dir[strlen(dir) - 1] == '/')
		return bs_xasprintf("%s%s", dir, name);
	return bs_xasprintf("%s/%s", dir, name);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk_dir(walker *w, const char *dir, dir_id *stack, size_t depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	if (!d) {
		report_error(w, dir, strerror(errno));
		return;
	}
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		BS_ARRAY_GROW(names, cap, n + 1);
		names[n++] = bs_xstrdup(de->d_name);
	}
	if (errno)
		report_error(w, dir, strerror(errno));
	closedir(d);
	/* Sorted, so the work order (and any error order) is reproducible. */
	qsort(names, n, sizeof(char *), cmp_name);
	for (size_t i = 0; i < n; i++) {
		char *path = join(dir, names[i]);
		struct stat st;
		int is_link;
		free(names[i]);
		if (lstat(path, &st) < 0) {
			report_error(w, path, strerror(errno));
			free(path);
			continue;
		}
		is_link = S_ISLNK(st.st_mode);
		if (is_link) {
			if (!w->opts->follow_symlinks || stat(path, &st) < 0) {
				free(path);
				continue;
			}
		}
		if (excluded(w->opts, path)) {
			free(path);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			size_t k;
			if (strcmp(strrchr(path, '/') ? strrchr(path, '/') + 1 : path, ".git") == 0) {
				free(path);
				continue;
			}
			for (k = 0; k < depth; k++)
				if (stack[k].dev == st.st_dev && stack[k].ino == st.st_ino)
					break;
			if (k < depth) {
				report_error(w, path, "symbolic link loop, not followed");
				free(path);
				continue;
			}
			stack[depth] = (dir_id){ st.st_dev, st.st_ino };
			if (depth + 1 < 4096)
				walk_dir(w, path, stack, depth + 1);
			else
				report_error(w, path, "directory nesting too deep");
			free(path);
		} else if (S_ISREG(st.st_mode)) {
			push(w, path);
		} else {
			free(path); /* FIFOs, sockets and devices are not content */
		}
	}
	free(names);
}

static void walk_root(walker *w, const char *root, dir_id *stack)
{
	struct stat st;
	/* A path named on the command line is followed even when it is a link. */
	if (stat(root, &st) < 0) {
		report_error(w, root, strerror(errno));
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		stack[0] = (dir_id){ st.st_dev, st.st_ino };
		walk_dir(w, root, stack, 1);
	} else {
		push(w, bs_xstrdup(root));
	}
}

int bs_scan_files(bs_scanner *s, const bs_files_opts *opts, bs_findings *out, bs_files_stats *stats, bs_error *err)
{
	static const char *const dot[] = { "." };
	const char *const *paths = opts->n_paths ? opts->paths : dot;
	size_t n_paths = opts->n_paths ? opts->n_paths : 1;
	int jobs = opts->jobs > 0 ? opts->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
	walker w;
	worker *workers;
	dir_id *stack = bs_xcalloc(4096, sizeof(dir_id));
	int rc = 0;

	if (jobs < 1)
		jobs = 1;
	if (jobs > 256)
		jobs = 256;
	memset(&w, 0, sizeof(w));
	w.scanner = s;
	w.opts = opts;
	pthread_mutex_init(&w.lock, NULL);
	pthread_mutex_init(&w.err_lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	workers = bs_xcalloc((size_t)jobs, sizeof(worker));
	for (int i = 0; i < jobs; i++) {
		workers[i].w = &w;
		bs_buf_init(&workers[i].data, 0);
		rc = bs_scan_ctx_new(&workers[i].ctx, s, err);
		if (rc < 0)
			break;
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
			rc = bs_error_set(err, BS_ERR_INTERNAL, "cannot start a scanning thread");
			break;
		}
		workers[i].started = 1;
	}
	if (rc == 0)
		for (size_t i = 0; i < n_paths; i++)
			walk_root(&w, paths[i], stack);
	pthread_mutex_lock(&w.lock);
	w.done = 1;
	pthread_cond_broadcast(&w.cond);
	pthread_mutex_unlock(&w.lock);
	for (int i = 0; i < jobs; i++) {
		if (workers[i].started)
			pthread_join(workers[i].thread, NULL);
		w.stats.files += workers[i].stats.files;
		w.stats.bytes += workers[i].stats.bytes;
		bs_findings_move(out, &workers[i].found);
		bs_findings_free(&workers[i].found);
		bs_buf_free_secure(&workers[i].data);
		if (workers[i].ctx)
			report_warnings(&w, bs_scan_ctx_warnings(workers[i].ctx));
		bs_scan_ctx_free(workers[i].ctx);
	}
	while (w.head) {
		work_item *it = w.head;
		w.head = it->next;
		free(it->path);
		free(it);
	}
	free(workers);
	free(stack);
	pthread_mutex_destroy(&w.lock);
	pthread_mutex_destroy(&w.err_lock);
	pthread_cond_destroy(&w.cond);
	bs_findings_sort(out);
	if (stats)
		*stats = w.stats;
	return rc;
}

int bs_scan_fd(bs_scanner *s, int fd, const char *name, bs_findings *out, bs_error *err)
{
	bs_scan_ctx *ctx;
	bs_buf data = BS_BUF_INIT;
	const char *fail = NULL;
	size_t bytes = 0;
	int rc = bs_scan_ctx_new(&ctx, s, err);
	if (rc < 0)
		return rc;
	if (scan_open_file(ctx, fd, name, &data, out, &bytes, &fail) < 0)
		rc = bs_error_set(err, BS_ERR_IO, "cannot read %s: %s", name, fail);
	bs_buf_free_secure(&data);
	bs_scan_ctx_free(ctx);
	bs_findings_sort(out);
	return rc;
}
