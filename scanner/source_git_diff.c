/* Changes: the added lines of a diff or a patch, for range scans (source_git_range.c) and the staged scan
 * (source_git_staged.c).
 *
 * Only added lines are scanned, each run of consecutive added lines fed as one input whose first_line is the
 * run's line number in the new file, so a token elsewhere in a touched file is not reported again and line numbers
 * are those of the new file. Renames are detected so that moving a file does not re-report what it held. A binary
 * file has no lines: its new version is scanned whole and secrets its old version already held are dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "scanner/source_git_internal.h"
#include "common/banned.h"

typedef struct added_run {
	bs_scan_ctx *ctx;
	int open;
	size_t next_line;
} added_run;

void bs_git_report(const bs_git_opts *o, const char *what, const char *why)
{
	const git_error *e = git_error_last();
	bs_buf msg = BS_BUF_INIT;
	if (!o || !o->on_error)
		return;
	bs_buf_addf(&msg, "%s: %s", why, e && e->message ? e->message : "unknown libgit2 error");
	o->on_error(o->ud, what, msg.ptr);
	bs_buf_free(&msg);
}

/* Gives findings [from, end) of out their provenance, blob and in_head. */
static void attach(bs_findings *out, size_t from, const bs_git_provenance *prov, const git_oid *blob,
                   git_repository *repo, git_tree *head_tree)
{
	char hex[GIT_OID_HEXSZ + 1];
	if (!prov)
		return;
	git_oid_tostr(hex, sizeof(hex), blob);
	for (size_t i = from; i < out->len; i++) {
		bs_finding *f = out->items[i];
		bs_git_provenance *p = bs_git_provenance_dup(prov);
		free(p->blob);
		p->blob = bs_xstrdup(hex);
		p->in_head = bs_git_in_head(repo, head_tree, f->path, hex, f);
		bs_git_provenance_free(f->git);
		f->git = p;
	}
}

static void drop_old_secrets(bs_findings *out, size_t from, git_repository *repo, const git_oid *old_id)
{
	git_blob *old = NULL;
	size_t w = from;
	if (git_oid_is_zero(old_id) || git_blob_lookup(&old, repo, old_id) < 0)
		return;
	for (size_t i = from; i < out->len; i++) {
		bs_finding *f = out->items[i];
		if (f->secret_len &&
		    memmem(git_blob_rawcontent(old), (size_t)git_blob_rawsize(old), f->secret, f->secret_len)) {
			bs_finding_free(f);
			continue;
		}
		out->items[w++] = f;
	}
	out->len = w;
	git_blob_free(old);
}

static int scan_binary(bs_scan_ctx *ctx, git_repository *repo, const git_diff_delta *d, const bs_git_opts *opts,
                       bs_findings *out, bs_git_stats *stats)
{
	git_blob *b = NULL;
	bs_scan_input in = {0};
	bs_error err = BS_ERROR_INIT;
	size_t before = out->len;
	if (git_blob_lookup(&b, repo, &d->new_file.id) < 0) {
		bs_git_report(opts, d->new_file.path, "cannot read blob");
		return -1;
	}
	in.path = d->new_file.path;
	bs_scan_buffer(ctx, &in, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b), out, &err);
	if (stats) {
		stats->blobs++;
		stats->bytes += (uint64_t)git_blob_rawsize(b);
	}
	git_blob_free(b);
	if (out->len > before && d->status != GIT_DELTA_ADDED)
		drop_old_secrets(out, before, repo, &d->old_file.id);
	return 0;
}

static void run_close(added_run *r, bs_findings *out)
{
	bs_error err = BS_ERROR_INIT;
	if (r->open)
		bs_scan_end(r->ctx, out, &err);
	r->open = 0;
}

int bs_git_scan_patch_added(bs_scan_ctx *ctx, git_repository *repo, git_patch *patch, const bs_git_provenance *prov,
                            git_tree *head_tree, const bs_git_opts *opts, bs_findings *out, bs_git_stats *stats)
{
	const git_diff_delta *d = git_patch_get_delta(patch);
	added_run run = {ctx, 0, 0};
	size_t before = out->len;
	bs_error e2 = BS_ERROR_INIT;

	if (d->flags & GIT_DIFF_FLAG_BINARY) {
		scan_binary(ctx, repo, d, opts, out, stats);
	} else {
		size_t nh = git_patch_num_hunks(patch);
		for (size_t hk = 0; hk < nh; hk++) {
			size_t nl = (size_t)git_patch_num_lines_in_hunk(patch, hk);
			for (size_t l = 0; l < nl; l++) {
				const git_diff_line *line = NULL;
				if (git_patch_get_line_in_hunk(&line, patch, hk, l) < 0 ||
				    line->origin != GIT_DIFF_LINE_ADDITION || line->new_lineno <= 0)
					continue;
				if (!run.open || (size_t)line->new_lineno != run.next_line) {
					bs_scan_input in = {0};
					run_close(&run, out);
					in.path = d->new_file.path;
					in.first_line = (uint64_t)line->new_lineno;
					in.base_offset = line->content_offset >= 0 ? (uint64_t)line->content_offset : 0;
					bs_scan_begin(ctx, &in);
					run.open = 1;
					if (stats)
						stats->blobs++;
				}
				bs_scan_feed(ctx, line->content, line->content_len, &e2);
				if (stats)
					stats->bytes += line->content_len;
				run.next_line = (size_t)line->new_lineno + 1;
			}
			run_close(&run, out);
		}
	}
	attach(out, before, prov, &d->new_file.id, repo, head_tree);
	return 0;
}

int bs_git_scan_diff_added(bs_scan_ctx *ctx, git_repository *repo, git_diff *diff, const bs_git_provenance *prov,
                           git_tree *head_tree, const bs_git_opts *opts, bs_findings *out, bs_git_stats *stats,
                           bs_error *err)
{
	size_t n = git_diff_num_deltas(diff);
	for (size_t i = 0; i < n; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		git_patch *patch = NULL;

		if (d->status == GIT_DELTA_DELETED || d->status == GIT_DELTA_UNMODIFIED ||
		    d->status == GIT_DELTA_IGNORED || d->new_file.mode == GIT_FILEMODE_COMMIT ||
		    d->new_file.mode == GIT_FILEMODE_UNREADABLE)
			continue;
		if (git_patch_from_diff(&patch, diff, i) < 0) {
			bs_git_report(opts, d->new_file.path, "cannot diff");
			continue;
		}
		bs_git_scan_patch_added(ctx, repo, patch, prov, head_tree, opts, out, stats);
		git_patch_free(patch);
	}
	(void)err;
	return 0;
}

void bs_git_diff_options(git_diff_options *o)
{
	git_diff_options_init(o, GIT_DIFF_OPTIONS_VERSION);
	o->context_lines = 0;
	o->interhunk_lines = 0;
}

int bs_git_find_renames(git_diff *diff)
{
	git_diff_find_options fo;
	git_diff_find_options_init(&fo, GIT_DIFF_FIND_OPTIONS_VERSION);
	fo.flags = GIT_DIFF_FIND_RENAMES;
	return git_diff_find_similar(diff, &fo);
}

int bs_git_open(git_repository **repo, const char *path, const bs_git_opts *opts, bs_error *err)
{
	const char *dir = opts && opts->git_dir && *opts->git_dir ? opts->git_dir : NULL;
	bs_git_global_init();
	/* libgit2 1.5's GIT_REPOSITORY_OPEN_FROM_ENV rejects GIT_WORK_TREE: do what git does ourselves. */
	if (dir) {
		if (git_repository_open_ext(repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
			return bs_git_error(err, BS_ERR_NOTFOUND, dir);
		if (opts->work_tree && *opts->work_tree && git_repository_set_workdir(*repo, opts->work_tree, 0) < 0) {
			git_repository_free(*repo);
			*repo = NULL;
			return bs_git_error(err, BS_ERR_NOTFOUND, opts->work_tree);
		}
		return 0;
	}
	if (git_repository_open_ext(repo, path ? path : ".", 0, NULL) < 0)
		return bs_git_error(err, BS_ERR_NOTFOUND, path ? path : ".");
	return 0;
}
