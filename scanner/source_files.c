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

/* Work is either a directory to list or a file to scan. Any worker takes
 * either kind, so walking a tree is as parallel as scanning it (as
 * ripgrep's parallel walker does). */
typedef struct work_item {
	char *path;
	int is_dir;
	struct work_item *next;
} work_item;

typedef struct dir_id {
	dev_t dev;
	ino_t ino;
} dir_id;

typedef struct walker {
	bs_scanner *scanner;
	const bs_files_opts *opts;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	work_item *head, *tail;
	size_t pending;             /* queued or being processed */
	size_t queued;              /* in the queue now */
	size_t idle;                /* workers waiting for work */
	size_t jobs;
	int done;
	bs_files_stats stats;
	pthread_mutex_t err_lock;
	dir_id *visited;            /* directories entered, with --follow-symlinks */
	size_t n_visited, cap_visited;
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

static void push(walker *w, char *path, int is_dir)
{
	work_item *it = bs_xmalloc(sizeof(*it));
	it->path = path;
	it->is_dir = is_dir;
	it->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next = it;
	else
		w->head = it;
	w->tail = it;
	w->pending++;
	w->queued++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static work_item *pop(walker *w)
{
	work_item *it;
	pthread_mutex_lock(&w->lock);
	while (!w->head && !w->done) {
		w->idle++;
		pthread_cond_wait(&w->cond, &w->lock);
		w->idle--;
	}
	it = w->head;
	if (it) {
		w->queued--;
		w->head = it->next;
		if (!w->head)
			w->tail = NULL;
	}
	pthread_mutex_unlock(&w->lock);
	return it;
}

/* Marks one item finished; the walk is over when nothing is pending. */
static void finish_item(walker *w)
{
	pthread_mutex_lock(&w->lock);
	if (--w->pending == 0) {
		w->done = 1;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

/* With --follow-symlinks a directory is entered once: a second way in is a
 * link loop or a duplicate link, and either would scan files twice. */
static int first_visit(walker *w, dev_t dev, ino_t ino)
{
	int first = 1;
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->n_visited; i++)
		if (w->visited[i].dev == dev && w->visited[i].ino == ino)
			first = 0;
	if (first) {
		BS_ARRAY_GROW(w->visited, w->cap_visited, w->n_visited + 1);
		w->visited[w->n_visited++] = (dir_id){ dev, ino };
	}
	pthread_mutex_unlock(&w->lock);
	return first;
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

/* Scans one open file. Reading stops at EOF whatever the size was when the
 * walk saw it: files that grow or shrink while being read are scanned as far
 * as they go. Small files are read whole and scanned in place; once a file
 * passes WHOLE_FILE_MAX it is streamed, so memory stays bounded. */
static int scan_open_file(bs_scan_ctx *ctx, int fd, int regular, const char *label, bs_buf *data,
			  bs_findings *out, size_t *bytes, const char **fail)
{
	bs_scan_input in = { label, 1, 0, NULL, NULL };
	bs_error err = BS_ERROR_INIT;
	ssize_t n;

	bs_buf_reset(data);
	for (;;) {
		size_t room;
		if (data->cap - data->len < 4096)
			bs_buf_grow(data, data->cap < 65536 ? 65536 : data->cap);
		room = data->cap - data->len - 1;
		if (read_some(fd, data->ptr + data->len, room, &n) < 0) {
			*fail = strerror(errno);
			return -1;
		}
		if (n == 0)
			break;
		data->len += (size_t)n;
		if (data->len > WHOLE_FILE_MAX)
			break;
		/* A short read of a regular file is its end: spare the read that
		 * would return 0 (one syscall in four per small file). */
		if (regular && (size_t)n < room) {
			n = 0;
			break;
		}
	}
	*bytes += data->len;
	if (n == 0) {
		bs_scan_buffer(ctx, &in, data->ptr, data->len, out, &err);
		return 0;
	}
	bs_scan_begin(ctx, &in);
	bs_scan_feed(ctx, data->ptr, data->len, &err);
	for (;;) {
		/* Read straight into the engine's window: no copy per piece. */
		void *room = bs_scan_feed_reserve(ctx, STREAM_PIECE);
		if (read_some(fd, room, STREAM_PIECE, &n) < 0) {
			*fail = strerror(errno);
			bs_scan_end(ctx, out, &err);
			return -1;
		}
		if (n == 0)
			break;
		*bytes += (size_t)n;
		bs_scan_feed_commit(ctx, (size_t)n, &err);
	}
	bs_scan_end(ctx, out, &err);
	return 0;
}

/* Scans path, opened relative to dir_fd (AT_FDCWD, or the directory being
 * listed, which spares the kernel a walk of the whole path per file). */
static void scan_path(worker *wk, int dir_fd, const char *name, const char *path)
{
	walker *w = wk->w;
	const char *fail = NULL;
	/* Only regular files are scanned (the walk checked), so a plain open
	 * cannot block on a FIFO. */
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		report_error(w, path, strerror(errno));
		return;
	}
	if (scan_open_file(wk->ctx, fd, 1, path, &wk->data, &wk->found, &wk->stats.bytes, &fail) < 0)
		report_error(w, path, fail);
	else
		wk->stats.files++;
	close(fd);
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

static char *join(const char *dir, const char *name)
{
	if (strcmp(dir, ".") == 0)
		return bs_xstrdup(name);
	if (dir[0] && dir[strlen(dir) - 1] == '/')
		return bs_xasprintf("%s%s", dir, name);
	return bs_xasprintf("%s/%s", dir, name);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Decides what a directory entry is and queues it. Takes path. */
static void visit_entry(walker *w, char *path, unsigned char d_type)
{
	struct stat st;
	if (d_type == DT_REG) {
		/* d_type spares an lstat per file. */
		if (!excluded(w->opts, path))
			push(w, path, 0);
		else
			free(path);
		return;
	}
	if (d_type == DT_DIR && !w->opts->follow_symlinks) {
		if (strcmp(base_name(path), ".git") != 0 && !excluded(w->opts, path))
			push(w, path, 1);
		else
			free(path);
		return;
	}
	if (lstat(path, &st) < 0) {
		report_error(w, path, strerror(errno));
		free(path);
		return;
	}
	if (S_ISLNK(st.st_mode)) {
		if (!w->opts->follow_symlinks) {
			free(path);
			return;
		}
		if (stat(path, &st) < 0) {
			report_error(w, path, strerror(errno));
			free(path);
			return;
		}
	}
	if (excluded(w->opts, path)) {
		free(path);
	} else if (S_ISDIR(st.st_mode)) {
		if (strcmp(base_name(path), ".git") == 0) {
			free(path);
		} else if (w->opts->follow_symlinks && !first_visit(w, st.st_dev, st.st_ino)) {
			report_error(w, path, "directory already visited (symbolic link loop), not followed");
			free(path);
		} else {
			push(w, path, 1);
		}
	} else if (S_ISREG(st.st_mode)) {
		push(w, path, 0);
	} else {
		free(path); /* FIFOs, sockets and devices are not content */
	}
}

/* 1 when some worker is waiting for work. */
static int someone_idle(walker *w)
{
	return __atomic_load_n(&w->idle, __ATOMIC_RELAXED) > 0;
}

/* Lists a directory: subdirectories are queued for any worker; files are
 * scanned right here through the open directory (openat spares the kernel a
 * walk of the whole path), except that when another worker sits idle, the
 * back half of the files still to do is handed over in one batch: one
 * wake-up per batch rather than a hand-off per file. */
static void list_dir(worker *wk, const char *dir)
{
	walker *w = wk->w;
	DIR *d = opendir(dir);
	struct dirent *de;
	char **files = NULL;
	size_t n = 0, cap = 0, end;
	if (!d) {
		report_error(w, dir, strerror(errno));
		return;
	}
	while ((errno = 0, de = readdir(d))) {
		char *path;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		path = join(dir, de->d_name);
		if (de->d_type == DT_REG && !excluded(w->opts, path)) {
			BS_ARRAY_GROW(files, cap, n + 1);
			files[n++] = path;
			continue;
		}
		if (de->d_type == DT_REG)
			free(path);
		else
			visit_entry(w, path, de->d_type);
	}
	if (errno)
		report_error(w, dir, strerror(errno));
	end = n;
	for (size_t i = 0; i < end; i++) {
		if (end - i > 1 && w->jobs > 1 && someone_idle(w)) {
			size_t half = i + (end - i) / 2;
			for (size_t k = half; k < end; k++)
				push(w, files[k], 0);
			end = half;
		}
		scan_path(wk, dirfd(d), base_name(files[i]), files[i]);
		free(files[i]);
	}
	free(files);
	closedir(d);
}

static void *worker_main(void *arg)
{
	worker *wk = arg;
	work_item *it;
	while ((it = pop(wk->w))) {
		if (it->is_dir)
			list_dir(wk, it->path);
		else
			scan_path(wk, AT_FDCWD, it->path, it->path);
		free(it->path);
		free(it);
		finish_item(wk->w);
	}
	return NULL;
}

static void add_root(walker *w, const char *root)
{
	struct stat st;
	/* A path named on the command line is followed even when it is a link. */
	if (stat(root, &st) < 0) {
		report_error(w, root, strerror(errno));
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		if (w->opts->follow_symlinks)
			first_visit(w, st.st_dev, st.st_ino);
		push(w, bs_xstrdup(root), 1);
	} else if (S_ISREG(st.st_mode)) {
		push(w, bs_xstrdup(root), 0);
	} else {
		report_error(w, root, "not a regular file or directory");
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
	int rc = 0;

	if (jobs < 1)
		jobs = 1;
	if (jobs > 256)
		jobs = 256;
	memset(&w, 0, sizeof(w));
	w.scanner = s;
	w.opts = opts;
	w.jobs = (size_t)jobs;
	pthread_mutex_init(&w.lock, NULL);
	pthread_mutex_init(&w.err_lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	/* Hold one pending count while the roots are queued, so workers cannot
	 * see an empty, finished walk before it starts. */
	w.pending = 1;
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
			add_root(&w, paths[i]);
	if (rc < 0) {
		/* Stop the workers that did start; queued work is dropped below. */
		pthread_mutex_lock(&w.lock);
		w.done = 1;
		pthread_cond_broadcast(&w.cond);
		pthread_mutex_unlock(&w.lock);
	} else {
		finish_item(&w);
	}
	for (int i = 0; i < jobs; i++) {
		if (workers[i].started)
			pthread_join(workers[i].thread, NULL);
		w.stats.files += workers[i].stats.files;
		w.stats.bytes += workers[i].stats.bytes;
		bs_findings_move(out, &workers[i].found);
		bs_findings_free(&workers[i].found);
		bs_buf_free(&workers[i].data);
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
	free(w.visited);
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
	if (scan_open_file(ctx, fd, 0, name, &data, out, &bytes, &fail) < 0)
		rc = bs_error_set(err, BS_ERR_IO, "cannot read %s: %s", name, fail);
	bs_buf_free(&data);
	bs_scan_ctx_free(ctx);
	bs_findings_sort(out);
	return rc;
}
