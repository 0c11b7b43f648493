/* The full-history scan.
 *
 * Two things happen at once: `jobs` worker threads read every blob of the object store in pack order and scan it
 * (each with its own git_repository, as libgit2 objects must not be shared between threads, and its own
 * bs_scan_ctx), while the calling thread walks the commit graph to learn which blobs are reachable and where each
 * was introduced, and scans commit and tag messages. Findings are attributed once both are done: a blob that no
 * walked commit holds is unreachable and dropped, unless all_objects asked for it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/timeutil.h"
#include "scanner/source_git_internal.h"
#include "common/banned.h"

#define DEFAULT_STREAM_THRESHOLD ((size_t)32 * 1024 * 1024)
#define STREAM_PIECE (1024 * 1024)
#define CLAIM_BATCH 4
#define WORKER_CACHE_BYTES ((size_t)32 * 1024 * 1024)
#define PROGRESS_MS 100

typedef struct obj_error {
	git_oid id;
	char *reason;
} obj_error;

typedef struct scan_job {
	bs_scanner *s;
	const char *gitdir;
	const bs_git_opts *opts;
	size_t stream_threshold;
	const bs_git_objects *objs;
	size_t cache_bytes; /* each worker's delta-base cache */
	atomic_size_t next; /* next unit to claim */
	atomic_size_t done;
	atomic_uint_fast64_t bytes;
	atomic_uint_fast64_t findings;
	atomic_int workers_left;
	pthread_mutex_t mu; /* guards found, errors */
	bs_findings found;
	obj_error *errors;
	size_t n_errors, cap_errors;
	int setup_failed;
	bs_error setup_err;
} scan_job;

static void job_error(scan_job *j, const git_oid *id, const char *what)
{
	const git_error *e = git_error_last();
	pthread_mutex_lock(&j->mu);
	BS_ARRAY_GROW(j->errors, j->cap_errors, j->n_errors + 1);
	j->errors[j->n_errors].id = *id;
	j->errors[j->n_errors].reason =
	    bs_xasprintf("%s: %s", what, e && e->message ? e->message : "unknown libgit2 error");
	j->n_errors++;
	pthread_mutex_unlock(&j->mu);
}

static void tag_blob(bs_findings *fs, size_t from, const git_oid *id)
{
	char hex[GIT_OID_HEXSZ + 1];
	git_oid_tostr(hex, sizeof(hex), id);
	for (size_t i = from; i < fs->len; i++) {
		bs_finding *f = fs->items[i];
		if (!f->git)
			f->git = bs_xcalloc(1, sizeof(*f->git));
		free(f->git->blob);
		f->git->blob = bs_xstrdup(hex);
	}
}

/* Streams a large loose blob through the engine; returns -1 when the store cannot stream it. */
static int scan_streamed(scan_job *j, bs_scan_ctx *ctx, git_odb *odb, const git_oid *id, bs_findings *out,
                         uint64_t *bytes)
{
	git_odb_stream *st = NULL;
	size_t len;
	git_object_t type;
	char *piece;
	bs_scan_input in = {0};
	bs_error err = BS_ERROR_INIT;
	int rc = 0;

	if (git_odb_open_rstream(&st, &len, &type, odb, id) < 0)
		return -1;
	if (type != GIT_OBJECT_BLOB) {
		git_odb_stream_free(st);
		return 0;
	}
	piece = bs_xmalloc(STREAM_PIECE);
	in.path = "";
	bs_scan_begin(ctx, &in);
	for (;;) {
		int n = git_odb_stream_read(st, piece, STREAM_PIECE);
		if (n < 0) {
			job_error(j, id, "cannot read blob");
			rc = 1;
			break;
		}
		if (n == 0)
			break;
		bs_scan_feed(ctx, piece, (size_t)n, &err);
		*bytes += (uint64_t)n;
	}
	bs_scan_end(ctx, out, &err);
	free(piece);
	git_odb_stream_free(st);
	return rc;
}

static void finish_object(scan_job *j, bs_findings *local, size_t before, const git_oid *id, uint64_t bytes)
{
	if (local->len > before) {
		tag_blob(local, before, id);
		atomic_fetch_add(&j->findings, local->len - before);
	}
	atomic_fetch_add(&j->bytes, bytes);
	atomic_fetch_add(&j->done, 1);
}

/* An object outside any pack (or one our pack reader could not read): through libgit2. */
static void scan_loose(scan_job *j, bs_scan_ctx *ctx, git_odb *odb, const git_oid *id, git_object_t type, uint64_t size,
                       bs_findings *local)
{
	size_t before = local->len;
	uint64_t bytes = 0;
	git_odb_object *obj = NULL;
	bs_scan_input in = {0};
	bs_error err = BS_ERROR_INIT;

	if (type == GIT_OBJECT_BLOB && size > j->stream_threshold && scan_streamed(j, ctx, odb, id, local, &bytes) >= 0)
		goto done;
	if (git_odb_read(&obj, odb, id) < 0) {
		job_error(j, id, "cannot read object");
		goto done;
	}
	if (git_odb_object_type(obj) == GIT_OBJECT_BLOB) {
		in.path = "";
		bytes = git_odb_object_size(obj);
		bs_scan_buffer(ctx, &in, git_odb_object_data(obj), (size_t)bytes, local, &err);
	}
	git_odb_object_free(obj);
done:
	finish_object(j, local, before, id, bytes);
}

typedef struct feed_state {
	bs_scan_ctx *ctx;
	uint64_t bytes;
} feed_state;

static void feed_piece(void *ud, const unsigned char *piece, size_t n)
{
	feed_state *fs = ud;
	bs_error err = BS_ERROR_INIT;
	bs_scan_feed(fs->ctx, piece, n, &err);
	fs->bytes += n;
}

static void scan_packed(scan_job *j, bs_scan_ctx *ctx, bs_git_pack_reader *reader, git_odb *odb, uint32_t p, uint32_t i,
                        bs_findings *local)
{
	const bs_git_pack_entry *e = &j->objs->packs[p].entries[i];
	size_t before = local->len;
	const unsigned char *data;
	size_t len;
	bs_scan_input in = {0};
	bs_error err = BS_ERROR_INIT;

	in.path = "";
	/* A large full object is streamed: memory stays bounded whatever its size. */
	if (e->kind == GIT_OBJECT_BLOB && e->size > j->stream_threshold && !e->dependents) {
		feed_state fs = {ctx, 0};
		bs_scan_begin(ctx, &in);
		if (bs_git_pack_stream(reader, p, i, feed_piece, &fs) == 0) {
			bs_scan_end(ctx, local, &err);
			finish_object(j, local, before, &e->id, fs.bytes);
			return;
		}
		bs_scan_end(ctx, local, &err);
		while (local->len > before)
			bs_finding_free(local->items[--local->len]);
	} else if (bs_git_pack_read(reader, p, i, &data, &len) == 0) {
		bs_scan_buffer(ctx, &in, data, len, local, &err);
		finish_object(j, local, before, &e->id, len);
		return;
	}
	scan_loose(j, ctx, odb, &e->id, GIT_OBJECT_BLOB, e->size, local);
}

static void *worker_main(void *arg)
{
	scan_job *j = arg;
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	bs_scan_ctx *ctx = NULL;
	bs_findings local = BS_FINDINGS_INIT;
	bs_git_pack_reader *reader = NULL;
	bs_error err = BS_ERROR_INIT;

	if (git_repository_open(&repo, j->gitdir) < 0 || git_repository_odb(&odb, repo) < 0 ||
	    bs_scan_ctx_new(&ctx, j->s, &err) < 0) {
		pthread_mutex_lock(&j->mu);
		if (!j->setup_failed) {
			j->setup_failed = 1;
			if (err.code)
				j->setup_err = err;
			else
				bs_git_error(&j->setup_err, BS_ERR_IO, "cannot open the repository in a worker");
		}
		pthread_mutex_unlock(&j->mu);
		goto out;
	}
	reader = bs_git_pack_reader_new(j->objs, j->cache_bytes);
	for (;;) {
		size_t start = atomic_fetch_add(&j->next, CLAIM_BATCH);
		if (start >= j->objs->n_units)
			break;
		for (size_t u = start; u < start + CLAIM_BATCH && u < j->objs->n_units; u++) {
			const bs_git_unit *unit = &j->objs->units[u];
			if (unit->pack == BS_GIT_NONE) {
				const bs_git_object *o = &j->objs->others[unit->first];
				scan_loose(j, ctx, odb, &o->id, o->type, o->size, &local);
				continue;
			}
			for (uint32_t m = 0; m < unit->count; m++) {
				uint32_t i = j->objs->members[unit->first + m];
				const bs_git_pack_entry *e = &j->objs->packs[unit->pack].entries[i];
				if (e->scan)
					scan_packed(j, ctx, reader, odb, unit->pack, i, &local);
			}
			/* The family is done: none of its bases is needed again. */
			bs_git_pack_reader_reset(reader);
		}
	}
out:
	pthread_mutex_lock(&j->mu);
	bs_findings_move(&j->found, &local);
	pthread_mutex_unlock(&j->mu);
	bs_findings_free(&local);
	bs_git_pack_reader_free(reader);
	bs_scan_ctx_free(ctx);
	git_odb_free(odb);
	git_repository_free(repo);
	atomic_fetch_sub(&j->workers_left, 1);
	return NULL;
}

/* ---- the calling thread: walk, messages, progress ---- */

typedef struct history_run {
	bs_scanner *s;
	const bs_git_opts *opts;
	const char *label;
	git_repository *repo;
	bs_scan_ctx *ctx;
	scan_job *job;
	bs_git_history *h;
	bs_findings messages;
	bs_oidmap reported; /* ids already reported as errors */
	size_t errors;
	size_t commits;
	long long start_ms, last_progress_ms;
} history_run;

static void progress(history_run *r, int force)
{
	bs_git_progress p;
	long long now = bs_time_monotonic_ms();
	if (!r->opts->on_progress || (!force && now - r->last_progress_ms < PROGRESS_MS))
		return;
	r->last_progress_ms = now;
	p.objects_done = atomic_load(&r->job->done);
	p.objects_total = r->job->objs->n_scan;
	p.bytes_done = atomic_load(&r->job->bytes);
	p.findings = atomic_load(&r->job->findings) + r->messages.len;
	p.commits = r->commits;
	p.elapsed_ms = now - r->start_ms;
	r->opts->on_progress(r->opts->ud, &p);
}

static void run_error(history_run *r, const char *what, const char *reason)
{
	git_oid id;
	if (git_oid_fromstr(&id, what) == 0 && !bs_oidmap_put(&r->reported, &id, 1))
		return;
	r->errors++;
	if (r->opts->on_error)
		r->opts->on_error(r->opts->ud, what, reason);
}

static void walk_on_error(void *ud, const char *what, const char *reason)
{
	run_error(ud, what, reason);
}

static void walk_on_tick(void *ud, size_t done)
{
	history_run *r = ud;
	r->commits = done;
	progress(r, 0);
}

static void scan_message(history_run *r, const char *msg, const bs_git_provenance *prov)
{
	size_t before = r->messages.len;
	bs_scan_input in = {0};
	bs_error err = BS_ERROR_INIT;
	if (!msg || !*msg)
		return;
	in.path = "";
	bs_scan_buffer(r->ctx, &in, msg, strlen(msg), &r->messages, &err);
	for (size_t i = before; i < r->messages.len; i++)
		r->messages.items[i]->git = bs_git_provenance_dup(prov);
}

static void walk_on_commit(void *ud, git_commit *c, uint32_t index)
{
	history_run *r = ud;
	const char *msg = git_commit_message(c);
	bs_git_provenance *prov;
	/* Cheap test first: most messages hold no keyword, and provenance strings cost allocations. */
	if (!msg || !*msg)
		return;
	prov = bs_git_provenance_from_commit(r->label, c);
	prov->reachable = r->h->commits[index].reachable;
	scan_message(r, msg, prov);
	bs_git_provenance_free(prov);
}

static void scan_tag_messages(history_run *r)
{
	for (size_t i = 0; i < r->h->n_tags; i++) {
		git_tag *t = NULL;
		git_object *peeled = NULL;
		const git_signature *sig;
		bs_git_provenance *p;
		char hex[GIT_OID_HEXSZ + 1];
		char date[BS_RFC3339_LEN];
		const char *msg, *nl;

		if (git_tag_lookup(&t, r->repo, &r->h->tags[i]) < 0)
			continue;
		msg = git_tag_message(t);
		p = bs_xcalloc(1, sizeof(*p));
		p->repository = bs_xstrdup(r->label);
		if (git_tag_peel(&peeled, t) == 0 && git_object_type(peeled) == GIT_OBJECT_COMMIT) {
			git_oid_tostr(hex, sizeof(hex), git_object_id(peeled));
			p->commit = bs_xstrdup(hex);
		}
		sig = git_tag_tagger(t);
		p->author_name = bs_xstrdup(sig && sig->name ? sig->name : "");
		p->author_email = bs_xstrdup(sig && sig->email ? sig->email : "");
		if (sig) {
			bs_time_format_rfc3339((time_t)sig->when.time, date);
			p->date = bs_xstrdup(date);
		} else {
			p->date = bs_xstrdup("");
		}
		nl = msg ? strchr(msg, '\n') : NULL;
		p->summary = msg ? (nl ? bs_xstrndup(msg, (size_t)(nl - msg)) : bs_xstrdup(msg)) : bs_xstrdup("");
		p->reachable = 1;
		scan_message(r, msg, p);
		bs_git_provenance_free(p);
		git_object_free(peeled);
		git_tag_free(t);
	}
}

/* A blob a commit's tree names but the object store lacks: reported with its id, path and commit (a partial clone
 * lacks blobs by design: nothing to report there). */
static void report_missing_blobs(history_run *r, const bs_git_objects *objs)
{
	git_config *cfg = NULL;
	const bs_oidmap *m = &r->h->blob_index;
	int partial = 0;
	if (git_repository_config_snapshot(&cfg, r->repo) == 0) {
		git_buf v = {0};
		partial = git_config_get_string_buf(&v, cfg, "extensions.partialclone") == 0;
		git_buf_dispose(&v);
		git_config_free(cfg);
	}
	if (partial)
		return;
	for (size_t i = 0; i < m->cap; i++) {
		const bs_git_blob_origin *o;
		char hex[GIT_OID_HEXSZ + 1], cid[GIT_OID_HEXSZ + 1] = "";
		bs_buf why = BS_BUF_INIT;
		if (!m->used[i] || bs_oidmap_get(&objs->all, &m->keys[i], NULL))
			continue;
		o = &r->h->origins[m->vals[i]];
		git_oid_tostr(hex, sizeof(hex), &m->keys[i]);
		if (o->commit != BS_GIT_NO_COMMIT)
			git_oid_tostr(cid, sizeof(cid), &r->h->commits[o->commit].id);
		bs_buf_addf(&why, "missing blob (%s%s%s)", o->path, *cid ? " in commit " : "", cid);
		run_error(r, hex, why.ptr);
		bs_buf_free(&why);
	}
}

/* Gives each blob finding its origin's path and commit; drops unreachable ones unless all_objects. */
static void attribute(history_run *r, bs_findings *in, bs_findings *out)
{
	git_tree *head_tree = NULL;
	git_object *head = NULL;
	bs_git_provenance **cache = bs_xcalloc(r->h->n_commits + 1, sizeof(*cache));

	if (git_revparse_single(&head, r->repo, "HEAD^{tree}") == 0)
		head_tree = (git_tree *)head;
	for (size_t i = 0; i < in->len; i++) {
		bs_finding *f = in->items[i];
		git_oid id;
		uint64_t oi;
		const bs_git_blob_origin *o = NULL;
		bs_git_provenance *p;
		char *blob = f->git ? f->git->blob : NULL;

		in->items[i] = NULL;
		if (!blob || git_oid_fromstr(&id, blob) < 0) {
			bs_finding_free(f);
			continue;
		}
		if (bs_oidmap_get(&r->h->blob_index, &id, &oi))
			o = &r->h->origins[oi];
		else if (!r->opts->all_objects) {
			bs_finding_free(f);
			continue;
		}
		if (o && o->commit != BS_GIT_NO_COMMIT) {
			uint32_t ci = o->commit;
			if (!cache[ci]) {
				git_commit *c = NULL;
				if (git_commit_lookup(&c, r->repo, &r->h->commits[ci].id) == 0) {
					cache[ci] = bs_git_provenance_from_commit(r->label, c);
					git_commit_free(c);
				} else {
					cache[ci] = bs_xcalloc(1, sizeof(*cache[ci]));
					cache[ci]->repository = bs_xstrdup(r->label);
				}
				cache[ci]->reachable = r->h->commits[ci].reachable;
			}
			p = bs_git_provenance_dup(cache[ci]);
		} else {
			p = bs_xcalloc(1, sizeof(*p));
			p->repository = bs_xstrdup(r->label);
			p->reachable = o != NULL;
		}
		p->blob = bs_xstrdup(blob);
		free(f->path);
		f->path = bs_xstrdup(o ? o->path : "");
		bs_finding_compute_ids(f);
		p->in_head = o ? bs_git_in_head(r->repo, head_tree, o->path, blob, f) : 0;
		bs_git_provenance_free(f->git);
		f->git = p;
		bs_findings_push(out, f);
	}
	in->len = 0;
	for (size_t i = 0; i < r->h->n_commits; i++)
		bs_git_provenance_free(cache[i]);
	free(cache);
	git_object_free(head);
}

typedef struct sub_list {
	char **paths;
	size_t n, cap;
} sub_list;

static int on_tree_entry(const char *root, const git_tree_entry *e, void *payload)
{
	sub_list *l = payload;
	if (git_tree_entry_filemode(e) != GIT_FILEMODE_COMMIT)
		return 0;
	BS_ARRAY_GROW(l->paths, l->cap, l->n + 1);
	l->paths[l->n++] = bs_xasprintf("%s%s", root, git_tree_entry_name(e));
	return 0;
}

/* Submodules are the gitlinks of HEAD's tree; one is scanned when its work tree holds a repository (it is
 * checked out). We read the tree rather than git_submodule_foreach, which leaks in libgit2 1.5 (its config regex). */
static void scan_submodules(history_run *r, bs_findings *out, bs_git_stats *stats)
{
	sub_list l = {NULL, 0, 0};
	git_object *head = NULL;
	const char *workdir = git_repository_workdir(r->repo);
	if (!workdir || git_revparse_single(&head, r->repo, "HEAD^{tree}") < 0)
		goto out;
	git_tree_walk((git_tree *)head, GIT_TREEWALK_PRE, on_tree_entry, &l);
	for (size_t i = 0; i < l.n; i++) {
		git_repository *sub = NULL;
		bs_git_opts o = *r->opts;
		bs_git_stats st = {0};
		bs_error err = BS_ERROR_INIT;
		char *label, *dir = bs_xasprintf("%s%s", workdir, l.paths[i]);
		if (git_repository_open_ext(&sub, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
			free(dir);
			continue;
		}
		label = bs_xasprintf("%s/%s", r->label, l.paths[i]);
		o.repository = label;
		if (bs_git_scan_history(r->s, git_repository_path(sub), &o, out, &st, &err) < 0)
			run_error(r, label, err.message);
		if (stats) {
			stats->commits += st.commits;
			stats->blobs += st.blobs;
			stats->bytes += st.bytes;
			stats->errors += st.errors;
		}
		free(label);
		free(dir);
		git_repository_free(sub);
	}
out:
	git_object_free(head);
	for (size_t i = 0; i < l.n; i++)
		free(l.paths[i]);
	free(l.paths);
}

int bs_git_scan_history(bs_scanner *s, const char *path, const bs_git_opts *opts, bs_findings *out, bs_git_stats *stats,
                        bs_error *err)
{
	history_run r;
	scan_job job;
	bs_git_objects objs;
	bs_git_history h;
	bs_git_walk_cb cb;
	const git_oid *extra = NULL;
	size_t n_extra = 0;
	pthread_t *threads = NULL;
	int jobs, started = 0, rc = 0;
	bs_findings blobs = BS_FINDINGS_INIT;

	bs_git_global_init();
	memset(&r, 0, sizeof(r));
	memset(&job, 0, sizeof(job));
	memset(&h, 0, sizeof(h));
	r.s = s;
	r.opts = opts;
	r.label = opts->repository ? opts->repository : path;
	r.job = &job;
	r.h = &h;
	r.start_ms = bs_time_monotonic_ms();
	bs_oidmap_init(&r.reported);
	if (stats)
		memset(stats, 0, sizeof(*stats));

	if (git_repository_open_ext(&r.repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0 &&
	    git_repository_open_ext(&r.repo, path, 0, NULL) < 0)
		return bs_git_error(err, BS_ERR_NOTFOUND, path);
	if ((rc = bs_git_objects_list(r.repo, &objs, err)) < 0) {
		git_repository_free(r.repo);
		return rc;
	}
	if ((rc = bs_scan_ctx_new(&r.ctx, s, err)) < 0)
		goto done;

	if (opts->all_objects) {
		extra = objs.commits;
		n_extra = objs.n_commits;
	}
	job.s = s;
	job.gitdir = git_repository_path(r.repo);
	job.opts = opts;
	job.stream_threshold = opts->stream_threshold ? opts->stream_threshold : DEFAULT_STREAM_THRESHOLD;
	job.objs = &objs;
	pthread_mutex_init(&job.mu, NULL);
	jobs = opts->jobs > 0 ? opts->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (jobs < 1)
		jobs = 1;
	if ((size_t)jobs > objs.n_units)
		jobs = objs.n_units ? (int)objs.n_units : 1;
	job.cache_bytes = WORKER_CACHE_BYTES;
	threads = bs_xcalloc((size_t)jobs, sizeof(*threads));
	atomic_store(&job.workers_left, jobs);
	for (int i = 0; i < jobs; i++) {
		if (pthread_create(&threads[i], NULL, worker_main, &job) != 0) {
			atomic_fetch_sub(&job.workers_left, jobs - i);
			break;
		}
		started++;
	}
	if (!started) {
		/* No thread could start: scan here, one object at a time. */
		atomic_store(&job.workers_left, 1);
		worker_main(&job);
	}

	memset(&cb, 0, sizeof(cb));
	cb.on_commit = walk_on_commit;
	cb.on_tick = walk_on_tick;
	cb.on_error = walk_on_error;
	cb.ud = &r;
	rc = bs_git_history_walk(&h, r.repo, extra, n_extra, &cb, err);
	r.commits = h.n_commits;
	if (rc == 0)
		scan_tag_messages(&r);

	while (atomic_load(&job.workers_left) > 0) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		progress(&r, 0);
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	progress(&r, 1);
	if (job.setup_failed && rc == 0) {
		*err = job.setup_err;
		rc = err->code ? err->code : BS_ERR_INTERNAL;
	}
	if (rc < 0)
		goto done;

	/* Errors of objects no ref reaches are noise unless those objects were asked for. */
	for (size_t i = 0; i < job.n_errors; i++) {
		char hex[GIT_OID_HEXSZ + 1];
		if (!opts->all_objects && !bs_oidmap_get(&h.blob_index, &job.errors[i].id, NULL))
			continue;
		git_oid_tostr(hex, sizeof(hex), &job.errors[i].id);
		run_error(&r, hex, job.errors[i].reason);
	}
	report_missing_blobs(&r, &objs);
	bs_findings_move(&blobs, &job.found);
	attribute(&r, &blobs, out);
	bs_findings_move(out, &r.messages);
	if (stats) {
		stats->commits = h.n_commits;
		stats->blobs = objs.n_scan;
		stats->bytes = atomic_load(&job.bytes);
		stats->errors = r.errors;
	}
	if (opts->recurse_submodules)
		scan_submodules(&r, out, stats);
done:
	for (size_t i = 0; i < job.n_errors; i++)
		free(job.errors[i].reason);
	free(job.errors);
	bs_findings_free(&job.found);
	bs_findings_free(&blobs);
	bs_findings_free(&r.messages);
	if (threads)
		pthread_mutex_destroy(&job.mu);
	free(threads);
	bs_git_history_free(&h);
	bs_git_objects_free(&objs);
	bs_oidmap_free(&r.reported);
	bs_scan_ctx_free(r.ctx);
	git_repository_free(r.repo);
	return rc;
}
