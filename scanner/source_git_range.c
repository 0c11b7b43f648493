/* Range scans: which commits a range holds (our own rev-list walk) and what each of them added.
 *
 * For each commit, parents first: the added lines of its diff against its first parent (source_git_diff.c), with
 * that commit's provenance, and its message. A merge keeps only what no other parent held.
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "scanner/source_git_internal.h"
#include "common/banned.h"

static int peel_commit(git_oid *out, git_repository *repo, const char *spec)
{
	git_object *o = NULL, *c = NULL;
	int rc = git_revparse_single(&o, repo, spec);
	if (rc == 0)
		rc = git_object_peel(&c, o, GIT_OBJECT_COMMIT);
	if (rc == 0)
		*out = *git_object_id(c);
	git_object_free(c);
	git_object_free(o);
	return rc;
}

/* A merge's diff against its first parent also shows what the other parents brought: those lines were added (and
 * scanned) in their own commits, or are already upstream (merging main into a branch). Keep only the secrets no
 * other parent's version of the file holds: what the merge itself introduced. */
static void drop_merged_secrets(bs_findings *out, size_t from, git_repository *repo, const git_commit *c)
{
	unsigned np = git_commit_parentcount(c);
	size_t w = from;
	for (size_t i = from; i < out->len; i++) {
		bs_finding *f = out->items[i];
		int seen = 0;
		for (unsigned k = 1; k < np && !seen && f->path && *f->path; k++) {
			git_commit *p = NULL;
			git_tree *t = NULL;
			git_tree_entry *e = NULL;
			git_blob *b = NULL;
			if (git_commit_parent(&p, c, k) == 0 && git_commit_tree(&t, p) == 0 &&
			    git_tree_entry_bypath(&e, t, f->path) == 0 && git_tree_entry_type(e) == GIT_OBJECT_BLOB &&
			    git_blob_lookup(&b, repo, git_tree_entry_id(e)) == 0)
				seen = memmem(git_blob_rawcontent(b), (size_t)git_blob_rawsize(b), f->secret,
				              f->secret_len) != NULL;
			git_blob_free(b);
			git_tree_entry_free(e);
			git_tree_free(t);
			git_commit_free(p);
		}
		if (seen) {
			bs_finding_free(f);
			continue;
		}
		out->items[w++] = f;
	}
	out->len = w;
}

static void scan_commit_message(bs_scan_ctx *ctx, const git_commit *c, const bs_git_provenance *prov, bs_findings *out)
{
	const char *msg = git_commit_message(c);
	bs_scan_input in = {0};
	bs_error err = BS_ERROR_INIT;
	size_t before = out->len;
	if (!msg || !*msg)
		return;
	in.path = "";
	bs_scan_buffer(ctx, &in, msg, strlen(msg), out, &err);
	for (size_t i = before; i < out->len; i++)
		out->items[i]->git = bs_git_provenance_dup(prov);
}

/* Which commits a range holds, as `git rev-list INCLUDE... ^EXCLUDE...`: commits are popped newest first; a commit
 * reached from an excluded one is uninteresting and passes that on to its parents; the walk stops once no interesting
 * commit is queued (plus a few more pops against clock skew), so a push of three commits does not walk the whole
 * history. We walk ourselves rather than with git_revwalk because libgit2 1.5 fails on a shallow clone's missing
 * parents, and CI clones are often shallow: a missing parent of a shallow repository is a root here. */

#define RANGE_SLOP 8
enum { R_UNINTERESTING = 1, R_QUEUED = 2, R_POPPED = 4, R_MISSING = 8 };

typedef struct range_walk {
	git_repository *repo;
	git_odb *odb;
	int shallow;
	const bs_git_opts *opts;
	bs_git_stats *stats;
	bs_oidmap index;
	bs_git_commit_node *nodes;
	size_t n, cap;
	unsigned char *flags;
	size_t cap_flags;
	size_t *par_first, *par_count;
	size_t cap_pf, cap_pc;
	git_oid *parents;
	size_t n_par, cap_par;
	uint32_t *heap; /* max-heap by commit time */
	size_t n_heap, cap_heap;
	size_t n_interesting; /* interesting commits in the heap */
	uint32_t *stack;
	size_t n_stack, cap_stack;
} range_walk;

static int newer(const range_walk *w, uint32_t a, uint32_t b)
{
	if (w->nodes[a].time != w->nodes[b].time)
		return w->nodes[a].time > w->nodes[b].time;
	return git_oid_cmp(&w->nodes[a].id, &w->nodes[b].id) > 0;
}

static void rheap_push(range_walk *w, uint32_t x)
{
	size_t i;
	BS_ARRAY_GROW(w->heap, w->cap_heap, w->n_heap + 1);
	i = w->n_heap++;
	w->heap[i] = x;
	while (i && newer(w, w->heap[i], w->heap[(i - 1) / 2])) {
		uint32_t t = w->heap[i];
		w->heap[i] = w->heap[(i - 1) / 2];
		w->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static uint32_t rheap_pop(range_walk *w)
{
	uint32_t top = w->heap[0];
	size_t i = 0;
	w->heap[0] = w->heap[--w->n_heap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < w->n_heap && newer(w, w->heap[l], w->heap[m]))
			m = l;
		if (r < w->n_heap && newer(w, w->heap[r], w->heap[m]))
			m = r;
		if (m == i)
			break;
		uint32_t t = w->heap[i];
		w->heap[i] = w->heap[m];
		w->heap[m] = t;
		i = m;
	}
	return top;
}

/* The node of commit id, loading it the first time; BS_GIT_NONE when it cannot be read. */
static uint32_t range_node(range_walk *w, const git_oid *id)
{
	uint64_t v;
	git_commit *c = NULL;
	uint32_t x;
	if (bs_oidmap_get(&w->index, id, &v))
		return (uint32_t)v;
	x = (uint32_t)w->n;
	bs_oidmap_put(&w->index, id, x);
	BS_ARRAY_GROW(w->nodes, w->cap, w->n + 1);
	BS_ARRAY_GROW(w->flags, w->cap_flags, w->n + 1);
	BS_ARRAY_GROW(w->par_first, w->cap_pf, w->n + 1);
	BS_ARRAY_GROW(w->par_count, w->cap_pc, w->n + 1);
	memset(&w->nodes[x], 0, sizeof(w->nodes[x]));
	w->nodes[x].id = *id;
	w->flags[x] = 0;
	w->par_first[x] = w->n_par;
	w->par_count[x] = 0;
	w->n++;
	if (git_commit_lookup(&c, w->repo, id) < 0) {
		char hex[GIT_OID_HEXSZ + 1];
		w->flags[x] = R_MISSING;
		if (!(w->shallow && !git_odb_exists(w->odb, id))) {
			git_oid_tostr(hex, sizeof(hex), id);
			bs_git_report(w->opts, hex, "cannot read commit");
			if (w->stats)
				w->stats->errors++;
		}
		return x;
	}
	w->nodes[x].time = git_commit_time(c);
	for (unsigned i = 0; i < git_commit_parentcount(c); i++) {
		BS_ARRAY_GROW(w->parents, w->cap_par, w->n_par + 1);
		w->parents[w->n_par++] = *git_commit_parent_id(c, i);
	}
	w->par_count[x] = w->n_par - w->par_first[x];
	git_commit_free(c);
	return x;
}

static void range_queue(range_walk *w, uint32_t x)
{
	if (w->flags[x] & (R_QUEUED | R_POPPED | R_MISSING))
		return;
	w->flags[x] |= R_QUEUED;
	if (!(w->flags[x] & R_UNINTERESTING))
		w->n_interesting++;
	rheap_push(w, x);
}

/* Marks x and, through those already walked, its ancestors uninteresting. */
static void range_hide(range_walk *w, uint32_t x)
{
	w->n_stack = 0;
	BS_ARRAY_GROW(w->stack, w->cap_stack, 1);
	w->stack[w->n_stack++] = x;
	while (w->n_stack) {
		uint32_t y = w->stack[--w->n_stack];
		if (w->flags[y] & (R_UNINTERESTING | R_MISSING))
			continue;
		w->flags[y] |= R_UNINTERESTING;
		if (w->flags[y] & R_QUEUED)
			w->n_interesting--;
		else if (w->flags[y] & R_POPPED)
			for (size_t k = 0; k < w->par_count[y]; k++) {
				uint32_t p = range_node(w, &w->parents[w->par_first[y] + k]);
				BS_ARRAY_GROW(w->stack, w->cap_stack, w->n_stack + 1);
				w->stack[w->n_stack++] = p;
			}
		else
			range_queue(w, y);
	}
}

static int range_add(range_walk *w, const char *spec, int hide, bs_error *err)
{
	git_oid id;
	uint32_t x;
	if (peel_commit(&id, w->repo, spec) < 0)
		return bs_git_error(err, BS_ERR_USAGE, spec);
	x = range_node(w, &id);
	if (hide)
		range_hide(w, x);
	else
		range_queue(w, x);
	return 0;
}

/* Fills *order with the range's commits, parents first. */
static int range_collect(range_walk *w, const bs_git_range *range, uint32_t **order, size_t *n_order, bs_error *err)
{
	int hide_remotes = range->exclude_remote_refs, slop = RANGE_SLOP, rc;
	uint32_t *cand = NULL, *pidx = NULL, *local;
	size_t n_cand = 0, cap_cand = 0, *pstart;
	bs_git_commit_node *cnodes;
	bs_oidmap cidx;

	for (size_t i = 0; i < range->n_include; i++) {
		const char *spec = range->include[i], *dots = strstr(spec, "..");
		if (dots) {
			char *from = bs_xstrndup(spec, (size_t)(dots - spec));
			const char *to = dots + 2;
			if (*to == '.') {
				free(from);
				return bs_error_set(err, BS_ERR_USAGE, "%s: A...B ranges are not supported (use A..B)",
				                    spec);
			}
			rc = range_add(w, *from ? from : "HEAD", 1, err);
			free(from);
			if (rc < 0 || (rc = range_add(w, *to ? to : "HEAD", 0, err)) < 0)
				return rc;
		} else if ((rc = range_add(w, spec, 0, err)) < 0) {
			return rc;
		}
	}
	for (size_t i = 0; i < range->n_exclude; i++) {
		git_oid id;
		/* A remote tip we never fetched: all we know of the remote is its tracking refs. */
		if (peel_commit(&id, w->repo, range->exclude[i]) < 0)
			hide_remotes = 1;
		else
			range_hide(w, range_node(w, &id));
	}
	if (hide_remotes) {
		git_reference_iterator *it = NULL;
		git_reference *ref;
		if (git_reference_iterator_glob_new(&it, w->repo, "refs/remotes/*") == 0) {
			while (git_reference_next(&ref, it) == 0) {
				git_object *o = NULL;
				if (git_reference_peel(&o, ref, GIT_OBJECT_COMMIT) == 0)
					range_hide(w, range_node(w, git_object_id(o)));
				git_object_free(o);
				git_reference_free(ref);
			}
			git_reference_iterator_free(it);
		}
	}

	while (w->n_heap && (w->n_interesting > 0 || slop-- > 0)) {
		uint32_t x = rheap_pop(w);
		w->flags[x] = (unsigned char)((w->flags[x] & ~R_QUEUED) | R_POPPED);
		if (!(w->flags[x] & R_UNINTERESTING))
			w->n_interesting--;
		for (size_t k = 0; k < w->par_count[x]; k++) {
			uint32_t p = range_node(w, &w->parents[w->par_first[x] + k]);
			if (w->flags[x] & R_UNINTERESTING)
				range_hide(w, p);
			else
				range_queue(w, p);
		}
	}

	/* The interesting commits walked, with their parents inside the set, sorted parents first. */
	bs_oidmap_init(&cidx);
	for (size_t x = 0; x < w->n; x++)
		if ((w->flags[x] & R_POPPED) && !(w->flags[x] & (R_UNINTERESTING | R_MISSING))) {
			BS_ARRAY_GROW(cand, cap_cand, n_cand + 1);
			bs_oidmap_put(&cidx, &w->nodes[x].id, n_cand);
			cand[n_cand++] = (uint32_t)x;
		}
	cnodes = bs_xcalloc(n_cand + 1, sizeof(*cnodes));
	pstart = bs_xcalloc(n_cand + 1, sizeof(*pstart));
	for (size_t c = 0; c < n_cand; c++) {
		uint32_t x = cand[c];
		cnodes[c] = w->nodes[x];
		pstart[c + 1] = pstart[c] + w->par_count[x];
	}
	pidx = bs_xcalloc(pstart[n_cand] + 1, sizeof(*pidx));
	for (size_t c = 0; c < n_cand; c++)
		for (size_t k = 0; k < w->par_count[cand[c]]; k++) {
			uint64_t v;
			pidx[pstart[c] + k] = bs_oidmap_get(&cidx, &w->parents[w->par_first[cand[c]] + k], &v)
			                          ? (uint32_t)v
			                          : BS_GIT_NONE;
		}
	local = bs_git_topo_sort(cnodes, n_cand, pstart, pidx);
	for (size_t c = 0; c < n_cand; c++)
		local[c] = cand[local[c]];
	*order = local;
	*n_order = n_cand;
	free(cand);
	free(cnodes);
	free(pstart);
	free(pidx);
	bs_oidmap_free(&cidx);
	return 0;
}

static void range_free(range_walk *w)
{
	bs_oidmap_free(&w->index);
	free(w->nodes);
	free(w->flags);
	free(w->par_first);
	free(w->par_count);
	free(w->parents);
	free(w->heap);
	free(w->stack);
	git_odb_free(w->odb);
}

int bs_git_scan_range(bs_scanner *s, const char *path, const bs_git_range *range, const bs_git_opts *opts,
                      bs_findings *out, bs_git_stats *stats, bs_error *err)
{
	git_repository *repo = NULL;
	git_object *head = NULL;
	git_tree *head_tree = NULL;
	bs_scan_ctx *ctx = NULL;
	git_diff_options dopts;
	range_walk w;
	uint32_t *order = NULL;
	size_t n_order = 0;
	const char *label = opts->repository ? opts->repository : path;
	int rc;

	memset(&w, 0, sizeof(w));
	if (stats)
		memset(stats, 0, sizeof(*stats));
	if ((rc = bs_git_open(&repo, path, opts, err)) < 0)
		return rc;
	w.repo = repo;
	w.opts = opts;
	w.stats = stats;
	w.shallow = git_repository_is_shallow(repo) == 1;
	bs_oidmap_init(&w.index);
	if (git_repository_odb(&w.odb, repo) < 0) {
		rc = bs_git_error(err, BS_ERR_IO, "cannot open the object database");
		goto out;
	}
	if ((rc = range_collect(&w, range, &order, &n_order, err)) < 0)
		goto out;
	if ((rc = bs_scan_ctx_new(&ctx, s, err)) < 0)
		goto out;
	if (git_revparse_single(&head, repo, "HEAD^{tree}") == 0)
		head_tree = (git_tree *)head;
	bs_git_diff_options(&dopts);
	for (size_t k = 0; k < n_order; k++) {
		const git_oid *id = &w.nodes[order[k]].id;
		git_commit *c = NULL, *parent = NULL;
		git_tree *tree = NULL, *ptree = NULL;
		git_diff *diff = NULL;
		bs_git_provenance *prov;
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), id);
		if (git_commit_lookup(&c, repo, id) < 0 || git_commit_tree(&tree, c) < 0) {
			bs_git_report(opts, hex, "cannot read commit");
			if (stats)
				stats->errors++;
			git_commit_free(c);
			continue;
		}
		/* A shallow boundary's parent is absent: the commit is diffed as a root. */
		if (git_commit_parentcount(c) > 0 && git_commit_parent(&parent, c, 0) == 0)
			git_commit_tree(&ptree, parent);
		prov = bs_git_provenance_from_commit(label, c);
		if (git_diff_tree_to_tree(&diff, repo, ptree, tree, &dopts) < 0 || bs_git_find_renames(diff) < 0) {
			bs_git_report(opts, hex, "cannot diff");
			if (stats)
				stats->errors++;
		} else {
			size_t before = out->len;
			bs_git_scan_diff_added(ctx, repo, diff, prov, head_tree, opts, out, stats, err);
			if (git_commit_parentcount(c) > 1)
				drop_merged_secrets(out, before, repo, c);
		}
		scan_commit_message(ctx, c, prov, out);
		if (stats)
			stats->commits++;
		bs_git_provenance_free(prov);
		git_diff_free(diff);
		git_tree_free(ptree);
		git_tree_free(tree);
		git_commit_free(parent);
		git_commit_free(c);
	}
out:
	free(order);
	range_free(&w);
	git_object_free(head);
	bs_scan_ctx_free(ctx);
	git_repository_free(repo);
	return rc;
}
