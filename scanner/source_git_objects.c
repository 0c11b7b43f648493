/* Object enumeration in pack order.
 *
 * Reading a pack's objects in the order of their ids jumps all over the file and defeats the delta-base cache (on a
 * 40k-commit history the same stream took 21 s in hash order and 5.9 s in pack order). libgit2 1.5 lists objects
 * only in hash order and has no pack-offset API, so we read the .idx files (version 2: a simple format) ourselves,
 * sort each pack's objects by offset, and learn each object's type from its pack header (following delta chains
 * through headers only) so that commits and trees are never inflated just to be skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fs.h"
#include "scanner/source_git_internal.h"
#include "common/banned.h"

#define IDX_MAGIC 0xff744f63u
#define PACK_HEADER_READ 32
#define PACK_WINDOW (64 * 1024)
#define DELTA_DEPTH_MAX 10000

/* Pack object kinds as stored in pack headers. */
enum { PACK_OFS_DELTA = 6, PACK_REF_DELTA = 7 };

static uint32_t be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Buffered header reads: entries are visited in offset order, so one pread serves many small objects. */
typedef struct header_reader {
	int fd;
	unsigned char buf[PACK_WINDOW];
	uint64_t buf_off;
	size_t buf_len;
} header_reader;

static const unsigned char *header_at(header_reader *h, uint64_t off, size_t need, size_t *avail)
{
	ssize_t got;
	if (off >= h->buf_off && off + need <= h->buf_off + h->buf_len) {
		*avail = (size_t)(h->buf_off + h->buf_len - off);
		return h->buf + (off - h->buf_off);
	}
	got = pread(h->fd, h->buf, sizeof(h->buf), (off_t)off);
	if (got <= 0)
		return NULL;
	h->buf_off = off;
	h->buf_len = (size_t)got;
	*avail = h->buf_len;
	return h->buf;
}

static int cmp_offset(const void *a, const void *b)
{
	const bs_git_pack_entry *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static uint32_t find_offset(const bs_git_pack *p, uint64_t off)
{
	uint32_t lo = 0, hi = p->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->entries[mid].offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->n && p->entries[lo].offset == off ? lo : BS_GIT_NONE;
}

/* Offset of id in this pack, from the .idx's sorted id table. */
static int idx_lookup(const unsigned char *idx, uint32_t n, const unsigned char *id, uint64_t *off)
{
	const unsigned char *fan = idx + 8, *ids = fan + 256 * 4;
	const unsigned char *offs = ids + (size_t)n * 24;
	uint32_t lo = id[0] ? be32(fan + 4 * (id[0] - 1)) : 0, hi = be32(fan + 4 * id[0]);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(ids + (size_t)mid * 20, id, 20);
		if (c == 0) {
			uint32_t o = be32(offs + (size_t)mid * 4);
			if (o & 0x80000000u) {
				const unsigned char *big = offs + (size_t)n * 4 + (size_t)(o & 0x7fffffffu) * 8;
				*off = ((uint64_t)be32(big) << 32) | be32(big + 4);
			} else {
				*off = o;
			}
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Parses entry i's header: kind, size, header length and delta base. */
static void parse_header(bs_git_pack *p, header_reader *hr, const unsigned char *idx, uint32_t i)
{
	bs_git_pack_entry *e = &p->entries[i];
	const unsigned char *h;
	size_t avail, k = 0;
	unsigned c;
	int shift = 4;

	e->base = BS_GIT_NONE;
	e->kind = 0;
	h = header_at(hr, e->offset, PACK_HEADER_READ, &avail);
	if (!h || !avail)
		return;
	c = h[k++];
	e->kind = (c >> 4) & 7;
	e->size = c & 15;
	while ((c & 0x80) && k < avail && shift < 64) {
		c = h[k++];
		e->size |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	}
	if (e->kind == PACK_OFS_DELTA && k < avail) {
		uint64_t ofs;
		c = h[k++];
		ofs = c & 0x7f;
		while ((c & 0x80) && k < avail) {
			c = h[k++];
			ofs = ((ofs + 1) << 7) | (c & 0x7f);
		}
		if (ofs && ofs <= e->offset)
			e->base = find_offset(p, e->offset - ofs);
	} else if (e->kind == PACK_REF_DELTA && k + 20 <= avail) {
		uint64_t off;
		if (idx_lookup(idx, p->n, h + k, &off) == 0)
			e->base = find_offset(p, off);
		k += 20;
	}
	e->hdr_len = (uint16_t)k;
}

/* Type and family root through the delta chain (bases may come later for ref-deltas: memoised recursion). */
static void resolve(bs_git_pack *p, uint32_t i, int depth)
{
	bs_git_pack_entry *e = &p->entries[i];
	if (e->state == 2)
		return;
	e->type = GIT_OBJECT_INVALID;
	e->root = BS_GIT_NONE;
	if (e->state == 1 || depth > DELTA_DEPTH_MAX)
		return; /* a delta cycle: corrupt pack */
	e->state = 1;
	if (e->kind >= GIT_OBJECT_COMMIT && e->kind <= GIT_OBJECT_TAG) {
		e->type = e->kind;
		e->root = i;
	} else if ((e->kind == PACK_OFS_DELTA || e->kind == PACK_REF_DELTA) && e->base != BS_GIT_NONE) {
		resolve(p, e->base, depth + 1);
		e->type = p->entries[e->base].type;
		e->root = p->entries[e->base].root;
	}
	e->state = 2;
}

static void add_unit(bs_git_objects *o, uint32_t pack, size_t first, uint32_t count)
{
	BS_ARRAY_GROW(o->units, o->cap_units, o->n_units + 1);
	o->units[o->n_units].pack = pack;
	o->units[o->n_units].first = first;
	o->units[o->n_units].count = count;
	o->n_units++;
}

static void add_commit(bs_git_objects *o, const git_oid *id)
{
	BS_ARRAY_GROW(o->commits, o->cap_commits, o->n_commits + 1);
	o->commits[o->n_commits++] = *id;
}

/* Reads one .idx (v2) and its pack's headers, and files the pack's blobs as families. Returns -1 when the index is
 * not one we understand (its objects are then listed with the loose ones). */
static int list_pack(const char *idx_path, bs_oidmap *seen, bs_git_objects *out)
{
	bs_buf raw = BS_BUF_INIT, pack_path = BS_BUF_INIT;
	bs_git_pack pk;
	header_reader *hr = NULL;
	const unsigned char *d, *ids, *offs;
	uint32_t n, *count = NULL, *start = NULL;
	size_t need;
	struct stat st;
	uint32_t pack_no = (uint32_t)out->n_packs;

	memset(&pk, 0, sizeof(pk));
	pk.fd = -1;
	if (bs_fs_read_file(&raw, idx_path, (size_t)1 << 32, NULL) < 0 || raw.len < 8 + 256 * 4 + 40)
		goto fail;
	d = (const unsigned char *)raw.ptr;
	if (be32(d) != IDX_MAGIC || be32(d + 4) != 2)
		goto fail;
	n = be32(d + 8 + 255 * 4);
	need = 8 + 256 * 4 + (size_t)n * (20 + 4 + 4) + 40;
	if (raw.len < need || n == BS_GIT_NONE)
		goto fail;
	ids = d + 8 + 256 * 4;
	offs = ids + (size_t)n * 24;

	bs_buf_add(&pack_path, idx_path, strlen(idx_path) - 4);
	bs_buf_adds(&pack_path, ".pack");
	pk.fd = open(pack_path.ptr, O_RDONLY | O_CLOEXEC);
	if (pk.fd < 0 || fstat(pk.fd, &st) < 0 || st.st_size < 32)
		goto fail;
	pk.size = (uint64_t)st.st_size;
	pk.entries = bs_xcalloc(n ? n : 1, sizeof(*pk.entries));
	pk.n = n;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t o = be32(offs + (size_t)i * 4);
		git_oid_fromraw(&pk.entries[i].id, ids + (size_t)i * 20);
		if (o & 0x80000000u) {
			size_t at = (size_t)n * 4 + (size_t)(o & 0x7fffffffu) * 8;
			if ((size_t)(offs - d) + at + 8 > raw.len - 40)
				goto fail;
			pk.entries[i].offset = ((uint64_t)be32(offs + at) << 32) | be32(offs + at + 4);
		} else {
			pk.entries[i].offset = o;
		}
		if (pk.entries[i].offset < 12 || pk.entries[i].offset >= pk.size - 20)
			goto fail;
	}
	qsort(pk.entries, n, sizeof(*pk.entries), cmp_offset);
	hr = bs_xmalloc(sizeof(*hr));
	hr->fd = pk.fd;
	hr->buf_off = hr->buf_len = 0;
	for (uint32_t i = 0; i < n; i++) {
		pk.entries[i].end = i + 1 < n ? pk.entries[i + 1].offset : pk.size - 20;
		parse_header(&pk, hr, d, i);
	}
	for (uint32_t i = 0; i < n; i++) {
		resolve(&pk, i, 0);
		if (pk.entries[i].base != BS_GIT_NONE)
			pk.entries[pk.entries[i].base].dependents++;
		pk.entries[i].scan = bs_oidmap_put(seen, &pk.entries[i].id, 1) ? 1 : 0;
		if (pk.entries[i].scan && pk.entries[i].type == GIT_OBJECT_COMMIT)
			add_commit(out, &pk.entries[i].id);
	}

	/* Families of blobs: members grouped by root, each group in offset order; groups in their root's order. A
	 * broken chain (unknown type) is a unit of its own, read through libgit2 to report why. */
	count = bs_xcalloc((size_t)n + 1, sizeof(uint32_t));
	start = bs_xcalloc((size_t)n + 1, sizeof(uint32_t));
	for (uint32_t i = 0; i < n; i++)
		if (pk.entries[i].type == GIT_OBJECT_BLOB)
			count[pk.entries[i].root]++;
	{
		size_t base = out->n_members, total = 0;
		for (uint32_t i = 0; i < n; i++) {
			start[i] = (uint32_t)total;
			total += count[i];
		}
		BS_ARRAY_GROW(out->members, out->cap_members, base + total + 1);
		memset(count, 0, (size_t)n * sizeof(uint32_t));
		for (uint32_t i = 0; i < n; i++) {
			bs_git_pack_entry *e = &pk.entries[i];
			if (e->type != GIT_OBJECT_BLOB)
				continue;
			out->members[base + start[e->root] + count[e->root]++] = i;
		}
		for (uint32_t r = 0; r < n; r++) {
			uint32_t scan = 0;
			if (!count[r])
				continue;
			for (uint32_t k = 0; k < count[r]; k++)
				scan += pk.entries[out->members[base + start[r] + k]].scan;
			if (scan) {
				add_unit(out, pack_no, base + start[r], count[r]);
				out->n_scan += scan;
			}
		}
		out->n_members = base + total;
	}
	for (uint32_t i = 0; i < n; i++) {
		bs_git_pack_entry *e = &pk.entries[i];
		if (e->type == GIT_OBJECT_INVALID && e->scan) {
			BS_ARRAY_GROW(out->members, out->cap_members, out->n_members + 1);
			out->members[out->n_members] = i;
			add_unit(out, pack_no, out->n_members++, 1);
			out->n_scan++;
		}
	}
	BS_ARRAY_GROW(out->packs, out->cap_packs, out->n_packs + 1);
	out->packs[out->n_packs++] = pk;
	free(count);
	free(start);
	free(hr);
	bs_buf_free(&raw);
	bs_buf_free(&pack_path);
	return 0;
fail:
	if (pk.fd >= 0)
		close(pk.fd);
	free(pk.entries);
	free(count);
	free(start);
	free(hr);
	bs_buf_free(&raw);
	bs_buf_free(&pack_path);
	return -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct foreach_ctx {
	bs_oidmap *seen;
	bs_git_objects *out;
} foreach_ctx;

static int on_odb_object(const git_oid *id, void *payload)
{
	foreach_ctx *fc = payload;
	bs_git_object *o;
	if (!bs_oidmap_put(fc->seen, id, 1))
		return 0;
	BS_ARRAY_GROW(fc->out->others, fc->out->cap_others, fc->out->n_others + 1);
	o = &fc->out->others[fc->out->n_others++];
	memset(o, 0, sizeof(*o));
	o->id = *id;
	o->type = GIT_OBJECT_INVALID;
	return 0;
}

int bs_git_objects_list(git_repository *repo, bs_git_objects *out, bs_error *err)
{
	bs_buf dir = BS_BUF_INIT;
	char **names = NULL;
	size_t n_names = 0, cap_names = 0;
	git_odb *odb = NULL;
	DIR *dh;
	struct dirent *de;
	foreach_ctx fc;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	bs_oidmap_init(&out->all);
	bs_buf_adds(&dir, git_repository_commondir(repo));
	if (dir.len && dir.ptr[dir.len - 1] != '/')
		bs_buf_addch(&dir, '/');
	bs_buf_adds(&dir, "objects/pack");
	dh = opendir(dir.ptr);
	while (dh && (de = readdir(dh)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 4 && !strcmp(de->d_name + l - 4, ".idx")) {
			BS_ARRAY_GROW(names, cap_names, n_names + 1);
			names[n_names++] = bs_xasprintf("%s/%s", dir.ptr, de->d_name);
		}
	}
	if (dh)
		closedir(dh);
	if (n_names > 1)
		qsort(names, n_names, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n_names; i++)
		list_pack(names[i], &out->all, out);

	/* Loose objects, alternates and any pack we could not parse: libgit2 lists them (in hash order). */
	if (git_repository_odb(&odb, repo) < 0) {
		rc = bs_git_error(err, BS_ERR_IO, "cannot open the object database");
		goto done;
	}
	fc.seen = &out->all;
	fc.out = out;
	if (git_odb_foreach(odb, on_odb_object, &fc) < 0) {
		rc = bs_git_error(err, BS_ERR_IO, "cannot list the object database");
		goto done;
	}
	for (size_t i = 0; i < out->n_others; i++) {
		size_t size;
		git_object_t type;
		bs_git_object *o = &out->others[i];
		if (git_odb_read_header(&size, &type, odb, &o->id) == 0) {
			o->type = type;
			o->size = size;
		}
		if (o->type == GIT_OBJECT_COMMIT)
			add_commit(out, &o->id);
		if (o->type == GIT_OBJECT_BLOB || o->type == GIT_OBJECT_INVALID) {
			add_unit(out, BS_GIT_NONE, i, 1);
			out->n_scan++;
		}
	}
done:
	git_odb_free(odb);
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	bs_buf_free(&dir);
	return rc;
}

void bs_git_objects_free(bs_git_objects *o)
{
	for (size_t i = 0; i < o->n_packs; i++) {
		if (o->packs[i].fd >= 0)
			close(o->packs[i].fd);
		free(o->packs[i].entries);
	}
	free(o->packs);
	free(o->members);
	free(o->units);
	free(o->others);
	free(o->commits);
	bs_oidmap_free(&o->all);
	memset(o, 0, sizeof(*o));
}
