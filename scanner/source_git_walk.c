/* Provenance: one pass over the commit graph.
 *
 * Commits are ordered parents-first (Kahn's algorithm; among ready commits the oldest first, then by id, so the
 * order is deterministic), and each commit's tree is compared with its first parent's tree, entry by entry,
 * skipping identical subtrees: no content is diffed, we only learn which path maps to which new blob id. The
 * first (commit, path) that brings a blob id is its origin: the earliest commit in topological order that
 * introduced that blob at that path. Every blob of every walked commit is met this way (a blob present in a
 * commit is either in its first parent at the same path, or new there), so the map also is the reachable set.
 *
 * We walk the graph ourselves rather than with git_revwalk so that a shallow boundary, a missing parent or a
 * corrupt commit is one reported error (or, for a shallow clone, expected) instead of the end of the walk.
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/timeutil.h"
#include "scanner/source_git_internal.h"
#include "common/banned.h"

typedef struct walk_state {
	bs_git_history *h;
	git_repository *repo;
	git_odb *odb;
	const bs_git_walk_cb *cb;
	int shallow;
	/* Parents of each loaded commit, as ids (resolved to indexes once all are loaded). */
	git_oid *parents;
	size_t n_parents, cap_parents;
	size_t *parent_start; /* per commit: first index into parents; parent_start[n] = end */
	size_t cap_start;
	git_oid *stack;
	size_t n_stack, cap_stack;
	git_oid *tree_tips;
	size_t n_tree_tips, cap_tree_tips;
	git_oid *blob_tips;
	size_t n_blob_tips, cap_blob_tips;
	bs_oidmap tags_seen;
} walk_state;

static void report(walk_state *w, const git_oid *id, const char *what)
{
	char hex[GIT_OID_HEXSZ + 1];
	const git_error *e = git_error_last();
	bs_buf msg = BS_BUF_INIT;
	if (!w->cb || !w->cb->on_error)
		return;
	git_oid_tostr(hex, sizeof(hex), id);
	bs_buf_addf(&msg, "%s: %s", what, e && e->message ? e->message : "not found");
	w->cb->on_error(w->cb->ud, hex, msg.ptr);
	bs_buf_free(&msg);
}

static void push_stack(walk_state *w, const git_oid *id)
{
	BS_ARRAY_GROW(w->stack, w->cap_stack, w->n_stack + 1);
	w->stack[w->n_stack++] = *id;
}

/* Peels a ref's target through annotated tags, recording each tag, and files what it reaches. */
static void add_tip(walk_state *w, const git_oid *target, const char *refname)
{
	git_oid id = *target;
	for (int depth = 0; depth < 64; depth++) {
		git_object *obj = NULL;
		git_object_t t;
		if (git_object_lookup(&obj, w->repo, &id, GIT_OBJECT_ANY) < 0) {
			if (!(w->shallow && !git_odb_exists(w->odb, &id)))
				report(w, &id, refname ? refname : "cannot read object");
			return;
		}
		t = git_object_type(obj);
		if (t == GIT_OBJECT_TAG) {
			if (bs_oidmap_put(&w->tags_seen, &id, 1)) {
				BS_ARRAY_GROW(w->h->tags, w->h->cap_tags, w->h->n_tags + 1);
				w->h->tags[w->h->n_tags++] = id;
			}
			id = *git_tag_target_id((git_tag *)obj);
			git_object_free(obj);
			continue;
		}
		git_object_free(obj);
		if (t == GIT_OBJECT_COMMIT) {
			push_stack(w, &id);
		} else if (t == GIT_OBJECT_TREE) {
			BS_ARRAY_GROW(w->tree_tips, w->cap_tree_tips, w->n_tree_tips + 1);
			w->tree_tips[w->n_tree_tips++] = id;
		} else if (t == GIT_OBJECT_BLOB) {
			BS_ARRAY_GROW(w->blob_tips, w->cap_blob_tips, w->n_blob_tips + 1);
			w->blob_tips[w->n_blob_tips++] = id;
		}
		return;
	}
}

static void collect_ref_tips(walk_state *w)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;
	git_reflog *rl = NULL;
	git_oid head;

	if (git_reference_iterator_new(&it, w->repo) == 0) {
		int rc;
		while ((rc = git_reference_next(&ref, it)) == 0) {
			if (git_reference_type(ref) == GIT_REFERENCE_DIRECT)
				add_tip(w, git_reference_target(ref), git_reference_name(ref));
			git_reference_free(ref);
		}
		git_reference_iterator_free(it);
	}
	if (git_reference_name_to_id(&head, w->repo, "HEAD") == 0)
		add_tip(w, &head, "HEAD");
	/* refs/stash names only the newest stash entry; the others live in its reflog. */
	if (git_reflog_read(&rl, w->repo, "refs/stash") == 0) {
		for (size_t i = 0; i < git_reflog_entrycount(rl); i++)
			add_tip(w, git_reflog_entry_id_new(git_reflog_entry_byindex(rl, i)), "refs/stash");
		git_reflog_free(rl);
	}
}

/* Loads every commit reachable from the stack that is not loaded yet. */
static void load_commits(walk_state *w, int reachable)
{
	bs_git_history *h = w->h;
	while (w->n_stack) {
		git_oid id = w->stack[--w->n_stack];
		git_commit *c = NULL;
		bs_git_commit_node *n;
		unsigned np;

		if (bs_oidmap_get(&h->commit_index, &id, NULL))
			continue;
		if (git_commit_lookup(&c, w->repo, &id) < 0) {
			/* A shallow clone's boundary parents are absent by design. */
			if (!(w->shallow && !git_odb_exists(w->odb, &id)))
				report(w, &id, "cannot read commit");
			/* Remember it as seen so it is reported once. */
			bs_oidmap_put(&h->commit_index, &id, BS_GIT_NO_COMMIT);
			continue;
		}
		BS_ARRAY_GROW(h->commits, h->cap_commits, h->n_commits + 1);
		BS_ARRAY_GROW(w->parent_start, w->cap_start, h->n_commits + 2);
		n = &h->commits[h->n_commits];
		memset(n, 0, sizeof(*n));
		n->id = id;
		n->time = git_commit_time(c);
		n->reachable = reachable ? 1 : 0;
		n->first_parent = BS_GIT_NO_COMMIT;
		bs_oidmap_put(&h->commit_index, &id, h->n_commits);
		w->parent_start[h->n_commits] = w->n_parents;
		np = git_commit_parentcount(c);
		for (unsigned i = 0; i < np; i++) {
			const git_oid *pid = git_commit_parent_id(c, i);
			BS_ARRAY_GROW(w->parents, w->cap_parents, w->n_parents + 1);
			w->parents[w->n_parents++] = *pid;
			push_stack(w, pid);
		}
		h->n_commits++;
		w->parent_start[h->n_commits] = w->n_parents;
		git_commit_free(c);
	}
}

typedef struct heap {
	uint32_t *v;
	size_t n, cap;
	const bs_git_commit_node *nodes;
} heap;

static int heap_less(const heap *hp, uint32_t a, uint32_t b)
{
	const bs_git_commit_node *x = &hp->nodes[a], *y = &hp->nodes[b];
	if (x->time != y->time)
		return x->time < y->time;
	return git_oid_cmp(&x->id, &y->id) < 0;
}

static void heap_push(heap *hp, uint32_t x)
{
	size_t i;
	BS_ARRAY_GROW(hp->v, hp->cap, hp->n + 1);
	i = hp->n++;
	hp->v[i] = x;
	while (i && heap_less(hp, hp->v[i], hp->v[(i - 1) / 2])) {
		uint32_t t = hp->v[i];
		hp->v[i] = hp->v[(i - 1) / 2];
		hp->v[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static uint32_t heap_pop(heap *hp)
{
	uint32_t top = hp->v[0];
	size_t i = 0;
	hp->v[0] = hp->v[--hp->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < hp->n && heap_less(hp, hp->v[l], hp->v[m]))
			m = l;
		if (r < hp->n && heap_less(hp, hp->v[r], hp->v[m]))
			m = r;
		if (m == i)
			break;
		uint32_t t = hp->v[i];
		hp->v[i] = hp->v[m];
		hp->v[m] = t;
		i = m;
	}
	return top;
}

uint32_t *bs_git_topo_sort(const bs_git_commit_node *nodes, size_t n, const size_t *pstart, const uint32_t *parents)
{
	uint32_t *indeg = bs_xcalloc(n + 1, sizeof(uint32_t));
	size_t *child_start = bs_xcalloc(n + 2, sizeof(size_t));
	size_t *fill = bs_xcalloc(n + 1, sizeof(size_t));
	uint32_t *children = bs_xcalloc(pstart[n] + 1, sizeof(uint32_t));
	uint32_t *order = bs_xcalloc(n + 1, sizeof(uint32_t));
	size_t n_order = 0;
	heap hp = {NULL, 0, 0, nodes};

	if (!n)
		goto out;
	for (size_t i = 0; i < n; i++)
		for (size_t k = pstart[i]; k < pstart[i + 1]; k++)
			if (parents[k] != BS_GIT_NONE) {
				indeg[i]++;
				child_start[parents[k] + 1]++;
			}
	for (size_t i = 0; i < n; i++)
		child_start[i + 1] += child_start[i];
	for (size_t i = 0; i < n; i++)
		for (size_t k = pstart[i]; k < pstart[i + 1]; k++)
			if (parents[k] != BS_GIT_NONE)
				children[child_start[parents[k]] + fill[parents[k]]++] = (uint32_t)i;
	for (size_t i = 0; i < n; i++)
		if (!indeg[i])
			heap_push(&hp, (uint32_t)i);
	while (hp.n) {
		uint32_t x = heap_pop(&hp);
		order[n_order++] = x;
		for (size_t k = child_start[x]; k < child_start[x + 1]; k++)
			if (--indeg[children[k]] == 0)
				heap_push(&hp, children[k]);
	}
out:
	free(hp.v);
	free(indeg);
	free(child_start);
	free(fill);
	free(children);
	return order;
}

/* Returns the commits' indexes parents-first. */
static uint32_t *topo_order(walk_state *w)
{
	bs_git_history *h = w->h;
	uint32_t *pidx = bs_xcalloc(w->n_parents + 1, sizeof(uint32_t)), *order;
	if (!h->n_commits) {
		free(pidx);
		return bs_xcalloc(1, sizeof(uint32_t));
	}
	for (size_t i = 0; i < h->n_commits; i++) {
		for (size_t k = w->parent_start[i]; k < w->parent_start[i + 1]; k++) {
			uint64_t pi;
			pidx[k] = BS_GIT_NONE;
			if (bs_oidmap_get(&h->commit_index, &w->parents[k], &pi) && pi != BS_GIT_NO_COMMIT) {
				pidx[k] = (uint32_t)pi;
				if (k == w->parent_start[i])
					h->commits[i].first_parent = (uint32_t)pi;
			}
		}
	}
	order = bs_git_topo_sort(h->commits, h->n_commits, w->parent_start, pidx);
	free(pidx);
	return order;
}

static void add_origin(bs_git_history *h, const git_oid *blob, uint32_t commit, const char *path)
{
	if (!bs_oidmap_put(&h->blob_index, blob, h->n_origins))
		return;
	BS_ARRAY_GROW(h->origins, h->cap_origins, h->n_origins + 1);
	h->origins[h->n_origins].commit = commit;
	h->origins[h->n_origins].path = bs_xstrdup(path);
	h->n_origins++;
}

/* Records the blobs of new_id that old_id (NULL: none) does not hold at the same path. */
static void diff_trees(walk_state *w, const git_oid *old_id, const git_oid *new_id, bs_buf *path, uint32_t commit)
{
	git_tree *old_tree = NULL, *new_tree = NULL;
	size_t base = path->len, n;

	if (old_id && git_oid_equal(old_id, new_id))
		return;
	if (git_tree_lookup(&new_tree, w->repo, new_id) < 0) {
		report(w, new_id, "cannot read tree");
		return;
	}
	if (old_id && git_tree_lookup(&old_tree, w->repo, old_id) < 0)
		old_tree = NULL; /* reported when its own commit was walked */
	n = git_tree_entrycount(new_tree);
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(new_tree, i);
		const git_tree_entry *oe = old_tree ? git_tree_entry_byname(old_tree, git_tree_entry_name(e)) : NULL;
		const git_oid *eid = git_tree_entry_id(e);
		git_object_t t = git_tree_entry_type(e);

		if (oe && git_oid_equal(git_tree_entry_id(oe), eid))
			continue;
		if (t == GIT_OBJECT_BLOB) {
			if (bs_oidmap_get(&w->h->blob_index, eid, NULL))
				continue;
			bs_buf_truncate(path, base);
			bs_buf_adds(path, git_tree_entry_name(e));
			add_origin(w->h, eid, commit, path->ptr);
		} else if (t == GIT_OBJECT_TREE) {
			const git_oid *oid_old =
			    oe && git_tree_entry_type(oe) == GIT_OBJECT_TREE ? git_tree_entry_id(oe) : NULL;
			bs_buf_truncate(path, base);
			bs_buf_adds(path, git_tree_entry_name(e));
			bs_buf_addch(path, '/');
			diff_trees(w, oid_old, eid, path, commit);
		}
		/* GIT_OBJECT_COMMIT: a submodule's gitlink; its objects live in the submodule. */
	}
	bs_buf_truncate(path, base);
	git_tree_free(old_tree);
	git_tree_free(new_tree);
}

/* Records the blobs of the (un)reachable commits, in topological order. */
static void walk_commits(walk_state *w, const uint32_t *order, int reachable, bs_buf *path)
{
	bs_git_history *h = w->h;
	const bs_git_walk_cb *cb = w->cb;
	for (size_t k = 0; k < h->n_commits; k++) {
		uint32_t i = order[k];
		git_commit *c = NULL, *p = NULL;
		const git_oid *old_tree = NULL;
		if (h->commits[i].reachable != (unsigned)reachable)
			continue;
		if (git_commit_lookup(&c, w->repo, &h->commits[i].id) < 0)
			continue;
		if (h->commits[i].first_parent != BS_GIT_NO_COMMIT &&
		    git_commit_lookup(&p, w->repo, &h->commits[h->commits[i].first_parent].id) == 0)
			old_tree = git_commit_tree_id(p);
		bs_buf_reset(path);
		diff_trees(w, old_tree, git_commit_tree_id(c), path, i);
		if (cb && cb->on_commit)
			cb->on_commit(cb->ud, c, i);
		git_commit_free(p);
		git_commit_free(c);
		if (cb && cb->on_tick && (k & 255) == 255)
			cb->on_tick(cb->ud, k + 1);
	}
}

int bs_git_history_walk(bs_git_history *h, git_repository *repo, const git_oid *extra_commits, size_t n_extra,
                        const bs_git_walk_cb *cb, bs_error *err)
{
	walk_state w;
	uint32_t *order;
	bs_buf path = BS_BUF_INIT;

	memset(h, 0, sizeof(*h));
	memset(&w, 0, sizeof(w));
	w.h = h;
	w.repo = repo;
	w.cb = cb;
	w.shallow = git_repository_is_shallow(repo) == 1;
	bs_oidmap_init(&h->commit_index);
	bs_oidmap_init(&h->blob_index);
	bs_oidmap_init(&w.tags_seen);
	if (git_repository_odb(&w.odb, repo) < 0)
		return bs_git_error(err, BS_ERR_IO, "cannot open the object database");

	collect_ref_tips(&w);
	load_commits(&w, 1);
	for (size_t i = 0; i < n_extra; i++)
		push_stack(&w, &extra_commits[i]);
	load_commits(&w, 0);

	order = topo_order(&w);
	/* What refs reach first, so that a blob both a ref and a dangling commit hold counts as reachable. */
	walk_commits(&w, order, 1, &path);
	for (size_t i = 0; i < w.n_tree_tips; i++) {
		bs_buf_reset(&path);
		diff_trees(&w, NULL, &w.tree_tips[i], &path, BS_GIT_NO_COMMIT);
	}
	for (size_t i = 0; i < w.n_blob_tips; i++)
		add_origin(h, &w.blob_tips[i], BS_GIT_NO_COMMIT, "");
	walk_commits(&w, order, 0, &path);

	free(order);
	bs_buf_free(&path);
	free(w.parents);
	free(w.parent_start);
	free(w.stack);
	free(w.tree_tips);
	free(w.blob_tips);
	bs_oidmap_free(&w.tags_seen);
	git_odb_free(w.odb);
	return 0;
}

void bs_git_history_free(bs_git_history *h)
{
	for (size_t i = 0; i < h->n_origins; i++)
		free(h->origins[i].path);
	free(h->origins);
	free(h->commits);
	free(h->tags);
	bs_oidmap_free(&h->commit_index);
	bs_oidmap_free(&h->blob_index);
	memset(h, 0, sizeof(*h));
}

/* ---- provenance records ---- */

static char *signature_date(const git_signature *sig)
{
	char buf[BS_RFC3339_LEN];
	bs_time_format_rfc3339((time_t)sig->when.time, buf);
	return bs_xstrdup(buf);
}

bs_git_provenance *bs_git_provenance_from_commit(const char *repository, const git_commit *c)
{
	bs_git_provenance *p = bs_xcalloc(1, sizeof(*p));
	const git_signature *a = git_commit_author(c);
	const char *summary = git_commit_summary((git_commit *)c);
	char hex[GIT_OID_HEXSZ + 1];
	git_oid_tostr(hex, sizeof(hex), git_commit_id(c));
	p->repository = bs_xstrdup(repository ? repository : "");
	p->commit = bs_xstrdup(hex);
	p->author_name = bs_xstrdup(a && a->name ? a->name : "");
	p->author_email = bs_xstrdup(a && a->email ? a->email : "");
	p->date = a ? signature_date(a) : bs_xstrdup("");
	p->summary = bs_xstrdup(summary ? summary : "");
	p->reachable = 1;
	return p;
}

static char *dup_or_null(const char *s)
{
	return s ? bs_xstrdup(s) : NULL;
}

bs_git_provenance *bs_git_provenance_dup(const bs_git_provenance *src)
{
	bs_git_provenance *p = bs_xcalloc(1, sizeof(*p));
	p->repository = dup_or_null(src->repository);
	p->commit = dup_or_null(src->commit);
	p->author_name = dup_or_null(src->author_name);
	p->author_email = dup_or_null(src->author_email);
	p->date = dup_or_null(src->date);
	p->summary = dup_or_null(src->summary);
	p->in_head = src->in_head;
	p->reachable = src->reachable;
	p->blob = dup_or_null(src->blob);
	return p;
}

void bs_git_provenance_free(bs_git_provenance *p)
{
	if (!p)
		return;
	free(p->repository);
	free(p->commit);
	free(p->author_name);
	free(p->author_email);
	free(p->date);
	free(p->summary);
	free(p->blob);
	free(p);
}

int bs_git_in_head(git_repository *repo, git_tree *head_tree, const char *path, const char *blob_hex,
                   const bs_finding *f)
{
	git_tree_entry *e = NULL;
	git_blob *b = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	int in = 0;

	if (!head_tree || !path || !*path || git_tree_entry_bypath(&e, head_tree, path) < 0)
		return 0;
	if (git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
		git_oid_tostr(hex, sizeof(hex), git_tree_entry_id(e));
		if (blob_hex && !strcmp(hex, blob_hex)) {
			in = 1;
		} else if (f->secret && f->secret_len && git_blob_lookup(&b, repo, git_tree_entry_id(e)) == 0) {
			/* The file changed since, but the token may still be in it. */
			in = memmem(git_blob_rawcontent(b), (size_t)git_blob_rawsize(b), f->secret, f->secret_len) !=
			     NULL;
			git_blob_free(b);
		}
	}
	git_tree_entry_free(e);
	return in;
}
