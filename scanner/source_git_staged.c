/* The staged scan: what `git commit` would record now, as added lines against HEAD.
 *
 * It runs in every pre-commit hook, so it must cost little more than starting the program. libgit2's
 * git_repository_index + git_diff_tree_to_index spend most of their time checksumming and indexing all 10,000
 * entries of a 10,000-file repository; we read the index file ourselves (versions 2 to 4: a flat, sorted list of
 * path, mode and blob id), walk HEAD's tree in the same order, and compare the two lists: only the blobs of the
 * changed files are loaded. Exact renames (a new path holding a blob HEAD had at a removed path) are not re-scanned.
 * Anything unusual (conflicts, intent-to-add, split or sparse index, an unknown version) goes through libgit2.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fs.h"
#include "scanner/source_git_internal.h"
#include "common/banned.h"

#define INDEX_MAX_BYTES ((size_t)1 << 31)

typedef struct staged_entry {
	char *path;
	git_oid id;
	uint32_t mode;
} staged_entry;

typedef struct entry_list {
	staged_entry *v;
	size_t n, cap;
} entry_list;

static void list_add(entry_list *l, const char *path, size_t len, const git_oid *id, uint32_t mode)
{
	BS_ARRAY_GROW(l->v, l->cap, l->n + 1);
	l->v[l->n].path = bs_xstrndup(path, len);
	l->v[l->n].id = *id;
	l->v[l->n].mode = mode;
	l->n++;
}

static void list_free(entry_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static uint32_t be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int sorted(const entry_list *l)
{
	for (size_t i = 1; i < l->n; i++)
		if (strcmp(l->v[i - 1].path, l->v[i].path) >= 0)
			return 0;
	return 1;
}

/* Reads the index file. Returns 0, or -1 when it is not one this reader handles (the caller uses libgit2). */
static int read_index(const char *file, entry_list *out)
{
	bs_buf raw = BS_BUF_INIT, prev = BS_BUF_INIT;
	const unsigned char *d, *p, *end;
	uint32_t version, count;
	int rc = -1;

	if (bs_fs_read_file(&raw, file, INDEX_MAX_BYTES, NULL) < 0) {
		/* No index yet (nothing ever added): nothing is staged. Any other failure: let libgit2 say why. */
		return access(file, F_OK) == 0 || errno != ENOENT ? -1 : 0;
	}
	d = (const unsigned char *)raw.ptr;
	end = d + raw.len;
	if (raw.len < 12 + 20 || memcmp(d, "DIRC", 4) != 0)
		goto out;
	version = be32(d + 4);
	count = be32(d + 8);
	if (version < 2 || version > 4)
		goto out;
	end -= 20; /* the trailing checksum */
	p = d + 12;
	for (uint32_t i = 0; i < count; i++) {
		const unsigned char *q = p + 62, *nul;
		uint32_t mode;
		unsigned flags;
		git_oid id;
		if (end - p < 62)
			goto out;
		mode = be32(p + 24);
		git_oid_fromraw(&id, p + 40);
		flags = ((unsigned)p[60] << 8) | p[61];
		if (flags & 0x3000)
			goto out; /* a conflict: stage 1-3 */
		if (flags & 0x4000) {
			unsigned ext;
			if (version < 3 || end - q < 2)
				goto out;
			ext = ((unsigned)q[0] << 8) | q[1];
			if (ext & 0x2000)
				goto out; /* intent-to-add: not committed as it stands */
			q += 2;
		}
		if ((mode & 0170000) == 0040000)
			goto out; /* a sparse index's directory entry */
		if (version == 4) {
			uint64_t strip;
			unsigned c;
			if (q >= end)
				goto out;
			c = *q++;
			strip = c & 0x7f;
			while (c & 0x80) {
				if (q >= end || strip > ((uint64_t)1 << 40))
					goto out;
				c = *q++;
				strip = ((strip + 1) << 7) | (c & 0x7f);
			}
			if (strip > prev.len || !(nul = memchr(q, 0, (size_t)(end - q))))
				goto out;
			bs_buf_truncate(&prev, prev.len - (size_t)strip);
			bs_buf_add(&prev, q, (size_t)(nul - q));
			list_add(out, prev.ptr, prev.len, &id, mode);
			p = nul + 1;
		} else {
			size_t len, entry;
			if (!(nul = memchr(q, 0, (size_t)(end - q))))
				goto out;
			len = (size_t)(nul - q);
			entry = ((size_t)(q - p) + len + 8) & ~(size_t)7;
			if ((size_t)(end - p) < entry)
				goto out;
			list_add(out, (const char *)q, len, &id, mode);
			p += entry;
		}
	}
	/* Extensions: a split index ("link") or a sparse one ("sdir") holds entries elsewhere. */
	while (end - p >= 8) {
		uint32_t size = be32(p + 4);
		if (!memcmp(p, "link", 4) || !memcmp(p, "sdir", 4))
			goto out;
		if ((uint64_t)(end - p - 8) < size)
			goto out;
		p += 8 + size;
	}
	rc = sorted(out) ? 0 : -1;
out:
	if (rc < 0)
		list_free(out);
	bs_buf_free(&raw);
	bs_buf_free(&prev);
	return rc;
}

static int on_tree_entry(const char *root, const git_tree_entry *e, void *payload)
{
	entry_list *l = payload;
	git_object_t t = git_tree_entry_type(e);
	if (t == GIT_OBJECT_BLOB || t == GIT_OBJECT_COMMIT) {
		bs_buf p = BS_BUF_INIT;
		bs_buf_adds(&p, root);
		bs_buf_adds(&p, git_tree_entry_name(e));
		list_add(l, p.ptr, p.len, git_tree_entry_id(e), git_tree_entry_filemode(e));
		bs_buf_free(&p);
	}
	return 0;
}

/* Scans one staged file: the lines new adds to old (old NULL: a new file). The patch is made from the blobs'
 * buffers, without the repository: libgit2 would otherwise load the attribute files for each file to pick a diff
 * driver, which costs more than the diff. Binary files are told by libgit2's own content test. */
static void scan_change(bs_scan_ctx *ctx, git_repository *repo, const staged_entry *old, const staged_entry *new,
                        const bs_git_opts *opts, bs_findings *out, bs_git_stats *stats)
{
	git_blob *ob = NULL, *nb = NULL;
	git_patch *patch = NULL;
	git_diff_options dopts;
	const char *od = "", *nd;
	size_t ol = 0, nl;
	if ((old && git_blob_lookup(&ob, repo, &old->id) < 0) || git_blob_lookup(&nb, repo, &new->id) < 0) {
		bs_git_report(opts, new->path, "cannot read blob");
		goto out;
	}
	if (ob) {
		od = git_blob_rawcontent(ob);
		ol = (size_t)git_blob_rawsize(ob);
	}
	nd = git_blob_rawcontent(nb);
	nl = (size_t)git_blob_rawsize(nb);
	if (git_blob_is_binary(nb) || (ob && git_blob_is_binary(ob))) {
		/* No lines to diff: the new version whole, less the secrets the old one held. */
		bs_scan_input in = {0};
		bs_error e2 = BS_ERROR_INIT;
		size_t before = out->len, w = before;
		in.path = new->path;
		bs_scan_buffer(ctx, &in, nd, nl, out, &e2);
		for (size_t i = before; i < out->len; i++) {
			bs_finding *f = out->items[i];
			if (ob && f->secret_len && memmem(od, ol, f->secret, f->secret_len))
				bs_finding_free(f);
			else
				out->items[w++] = f;
		}
		out->len = w;
		if (stats) {
			stats->blobs++;
			stats->bytes += nl;
		}
		goto out;
	}
	bs_git_diff_options(&dopts);
	dopts.flags |= GIT_DIFF_FORCE_TEXT;
	if (git_patch_from_buffers(&patch, od, ol, old ? old->path : NULL, nd, nl, new->path, &dopts) < 0) {
		bs_git_report(opts, new->path, "cannot diff");
		goto out;
	}
	bs_git_scan_patch_added(ctx, repo, patch, NULL, NULL, opts, out, stats);
out:
	git_patch_free(patch);
	git_blob_free(ob);
	git_blob_free(nb);
}

static int is_gitlink(uint32_t mode)
{
	return (mode & 0170000) == 0160000;
}

/* The fast path. Returns 0, 1 when the index needs libgit2, or a negative bs_status. */
static int staged_fast(bs_scanner *s, git_repository *repo, const bs_git_opts *opts, bs_findings *out,
                       bs_git_stats *stats, bs_error *err)
{
	entry_list idx = {0}, head = {0};
	git_object *tree = NULL;
	bs_scan_ctx *ctx = NULL;
	bs_oidmap removed;
	char *index_file;
	size_t i = 0, j = 0;
	int rc = 0;

	bs_oidmap_init(&removed);
	index_file = opts->index_file && *opts->index_file ? bs_xstrdup(opts->index_file)
	                                                   : bs_xasprintf("%sindex", git_repository_path(repo));
	if (read_index(index_file, &idx) < 0) {
		rc = 1;
		goto out;
	}
	if (git_revparse_single(&tree, repo, "HEAD^{tree}") == 0) {
		if (git_tree_walk((git_tree *)tree, GIT_TREEWALK_PRE, on_tree_entry, &head) < 0 || !sorted(&head)) {
			rc = 1;
			goto out;
		}
	} else if (git_repository_head_unborn(repo) != 1) {
		rc = bs_git_error(err, BS_ERR_IO, "cannot read HEAD");
		goto out;
	}
	/* Paths HEAD has and the index no longer has: the sources of exact renames. */
	while (j < head.n) {
		int c = i < idx.n ? strcmp(idx.v[i].path, head.v[j].path) : -1;
		if (i < idx.n && c < 0) {
			i++;
		} else if (i < idx.n && c == 0) {
			i++;
			j++;
		} else {
			bs_oidmap_put(&removed, &head.v[j].id, 1);
			j++;
		}
	}
	if ((rc = bs_scan_ctx_new(&ctx, s, err)) < 0)
		goto out;
	for (i = 0, j = 0; i < idx.n; i++) {
		const staged_entry *n = &idx.v[i], *o = NULL;
		while (j < head.n && strcmp(head.v[j].path, n->path) < 0)
			j++;
		if (j < head.n && !strcmp(head.v[j].path, n->path))
			o = &head.v[j];
		if (is_gitlink(n->mode) || (o && git_oid_equal(&o->id, &n->id)))
			continue;
		if (o && is_gitlink(o->mode))
			o = NULL;
		if (!o && bs_oidmap_get(&removed, &n->id, NULL))
			continue; /* moved as it was */
		scan_change(ctx, repo, o, n, opts, out, stats);
	}
out:
	bs_scan_ctx_free(ctx);
	git_object_free(tree);
	bs_oidmap_free(&removed);
	list_free(&idx);
	list_free(&head);
	free(index_file);
	return rc;
}

/* The general path: libgit2 reads the index and diffs it against HEAD (renames detected by similarity). */
static int staged_with_libgit2(bs_scanner *s, git_repository *repo, const bs_git_opts *opts, bs_findings *out,
                               bs_git_stats *stats, bs_error *err)
{
	git_index *index = NULL;
	git_object *head = NULL;
	git_diff *diff = NULL;
	bs_scan_ctx *ctx = NULL;
	git_diff_options dopts;
	int rc;

	/* `git commit -a` and `git commit PATH` run the hook on a temporary index: scan that one. */
	if (opts->index_file && *opts->index_file ? git_index_open(&index, opts->index_file) < 0
	                                          : git_repository_index(&index, repo) < 0) {
		rc = bs_git_error(err, BS_ERR_IO, "cannot read the index");
		goto out;
	}
	/* On an unborn branch there is no HEAD tree: everything in the index is new. */
	if (git_revparse_single(&head, repo, "HEAD^{tree}") < 0 && git_repository_head_unborn(repo) != 1) {
		rc = bs_git_error(err, BS_ERR_IO, "cannot read HEAD");
		goto out;
	}
	bs_git_diff_options(&dopts);
	if (git_diff_tree_to_index(&diff, repo, (git_tree *)head, index, &dopts) < 0 || bs_git_find_renames(diff) < 0) {
		rc = bs_git_error(err, BS_ERR_IO, "cannot diff the index against HEAD");
		goto out;
	}
	if ((rc = bs_scan_ctx_new(&ctx, s, err)) < 0)
		goto out;
	rc = bs_git_scan_diff_added(ctx, repo, diff, NULL, NULL, opts, out, stats, err);
out:
	bs_scan_ctx_free(ctx);
	git_diff_free(diff);
	git_object_free(head);
	git_index_free(index);
	return rc;
}

int bs_git_scan_staged(bs_scanner *s, const char *path, const bs_git_opts *opts, bs_findings *out, bs_git_stats *stats,
                       bs_error *err)
{
	git_repository *repo = NULL;
	int rc;

	if (stats)
		memset(stats, 0, sizeof(*stats));
	if ((rc = bs_git_open(&repo, path, opts, err)) < 0)
		return rc;
	if (git_repository_is_bare(repo)) {
		rc = bs_error_set(err, BS_ERR_USAGE, "%s: a bare repository has no index", path ? path : ".");
	} else {
		size_t before = out->len;
		rc = staged_fast(s, repo, opts, out, stats, err);
		if (rc == 1) {
			while (out->len > before)
				bs_finding_free(out->items[--out->len]);
			if (stats)
				memset(stats, 0, sizeof(*stats));
			rc = staged_with_libgit2(s, repo, opts, out, stats, err);
		}
	}
	git_repository_free(repo);
	return rc;
}
