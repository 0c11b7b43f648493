/* Reading packed objects ourselves: inflate, apply deltas, keep the bases the current family still needs.
 *
 * libgit2 reads one object at a time with a small shared delta-base cache and re-hashes what it reads; a
 * full-history scan reads every blob once, so we do what `git index-pack` does instead: the listing
 * (source_git_objects.c) knows each object's base and how many objects depend on it, a worker reads one delta
 * family at a time in pack order, and a base stays cached exactly until its last dependent has been read. Each
 * base is then inflated once. Anything unexpected (a corrupt stream, a missing base) returns -1 and the caller falls
 * back to libgit2, which reports the error with the object's id.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/buf.h"
#include "scanner/source_git_internal.h"
#include "common/banned.h"

#define DELTA_DEPTH_MAX 10000
#define STREAM_PIECE (1024 * 1024)

typedef struct cached_base {
	uint32_t pack, index;
	unsigned char *data;
	size_t len;
	uint32_t remaining; /* dependents not yet read */
} cached_base;

struct bs_git_pack_reader {
	const bs_git_objects *objs;
	z_stream z;
	int z_ok;
	bs_buf comp, delta, a, b;
	cached_base *cache;
	size_t n_cache, cap_cache;
	size_t cache_bytes, cache_max;
	uint32_t *chain;
	size_t cap_chain;
};

bs_git_pack_reader *bs_git_pack_reader_new(const bs_git_objects *objs, size_t cache_bytes)
{
	bs_git_pack_reader *r = bs_xcalloc(1, sizeof(*r));
	r->objs = objs;
	r->cache_max = cache_bytes;
	r->z_ok = inflateInit(&r->z) == Z_OK;
	return r;
}

void bs_git_pack_reader_reset(bs_git_pack_reader *r)
{
	for (size_t i = 0; i < r->n_cache; i++)
		free(r->cache[i].data);
	r->n_cache = 0;
	r->cache_bytes = 0;
}

void bs_git_pack_reader_free(bs_git_pack_reader *r)
{
	if (!r)
		return;
	bs_git_pack_reader_reset(r);
	free(r->cache);
	free(r->chain);
	if (r->z_ok)
		inflateEnd(&r->z);
	bs_buf_free(&r->comp);
	bs_buf_free(&r->delta);
	bs_buf_free(&r->a);
	bs_buf_free(&r->b);
	free(r);
}

static ssize_t cache_find(const bs_git_pack_reader *r, uint32_t p, uint32_t i)
{
	for (size_t k = 0; k < r->n_cache; k++)
		if (r->cache[k].index == i && r->cache[k].pack == p)
			return (ssize_t)k;
	return -1;
}

static void cache_drop(bs_git_pack_reader *r, size_t k)
{
	r->cache_bytes -= r->cache[k].len;
	free(r->cache[k].data);
	memmove(&r->cache[k], &r->cache[k + 1], (r->n_cache - k - 1) * sizeof(*r->cache));
	r->n_cache--;
}

static void cache_add(bs_git_pack_reader *r, uint32_t p, uint32_t i, const unsigned char *data, size_t len,
                      uint32_t remaining)
{
	cached_base *c;
	/* A base too large to keep is inflated again when needed: memory stays bounded. */
	if (!remaining || len > r->cache_max / 2 || cache_find(r, p, i) >= 0)
		return;
	while (r->n_cache && r->cache_bytes + len > r->cache_max)
		cache_drop(r, 0);
	BS_ARRAY_GROW(r->cache, r->cap_cache, r->n_cache + 1);
	c = &r->cache[r->n_cache++];
	c->pack = p;
	c->index = i;
	c->data = (unsigned char *)bs_xmemdup(data, len ? len : 1);
	c->len = len;
	c->remaining = remaining;
	r->cache_bytes += len;
}

static void cache_use(bs_git_pack_reader *r, uint32_t p, uint32_t i)
{
	ssize_t k = cache_find(r, p, i);
	if (k >= 0 && --r->cache[k].remaining == 0)
		cache_drop(r, (size_t)k);
}

static int read_fully(int fd, void *buf, size_t len, uint64_t off)
{
	unsigned char *b = buf;
	while (len) {
		ssize_t n = pread(fd, b, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Inflates entry e (its object, or its delta data) into out. */
static int inflate_entry(bs_git_pack_reader *r, const bs_git_pack *pk, const bs_git_pack_entry *e, bs_buf *out)
{
	uint64_t data_at = e->offset + e->hdr_len;
	size_t clen;
	int zr;
	if (!r->z_ok || !e->hdr_len || e->end <= data_at || e->size > SIZE_MAX / 2)
		return -1;
	clen = (size_t)(e->end - data_at);
	bs_buf_reset(&r->comp);
	bs_buf_grow(&r->comp, clen);
	if (read_fully(pk->fd, r->comp.ptr, clen, data_at) < 0)
		return -1;
	bs_buf_reset(out);
	bs_buf_grow(out, (size_t)e->size + 1);
	if (inflateReset(&r->z) != Z_OK)
		return -1;
	r->z.next_in = (unsigned char *)r->comp.ptr;
	r->z.avail_in = (uInt)clen;
	r->z.next_out = (unsigned char *)out->ptr;
	r->z.avail_out = (uInt)(e->size + 1);
	if (clen > UINT32_MAX || e->size + 1 > UINT32_MAX)
		return -1; /* zlib's counters are 32-bit here: leave giants to the stream path or libgit2 */
	zr = inflate(&r->z, Z_FINISH);
	if (zr != Z_STREAM_END || r->z.total_out != e->size)
		return -1;
	out->len = (size_t)e->size;
	out->ptr[out->len] = '\0';
	return 0;
}

static int varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	int shift = 0;
	*v = 0;
	while (*p < end && shift < 64) {
		unsigned c = *(*p)++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
		if (!(c & 0x80))
			return 0;
	}
	return -1;
}

/* Git's delta format: source and target sizes, then copy (from the base) and insert (literal) instructions. */
static int apply_delta(const unsigned char *base, size_t blen, const bs_buf *delta, bs_buf *out)
{
	const unsigned char *p = (const unsigned char *)delta->ptr, *end = p + delta->len;
	uint64_t src, dst;
	size_t w = 0;
	unsigned char *o;
	if (varint(&p, end, &src) < 0 || varint(&p, end, &dst) < 0 || src != blen || dst > SIZE_MAX / 2)
		return -1;
	bs_buf_reset(out);
	bs_buf_grow(out, (size_t)dst + 1);
	o = (unsigned char *)out->ptr;
	while (p < end) {
		unsigned c = *p++;
		if (c & 0x80) {
			size_t off = 0, sz = 0;
			for (int k = 0; k < 4; k++)
				if (c & (1u << k)) {
					if (p >= end)
						return -1;
					off |= (size_t)*p++ << (8 * k);
				}
			for (int k = 0; k < 3; k++)
				if (c & (0x10u << k)) {
					if (p >= end)
						return -1;
					sz |= (size_t)*p++ << (8 * k);
				}
			if (!sz)
				sz = 0x10000;
			if (off > blen || sz > blen - off || sz > dst - w)
				return -1;
			memcpy(o + w, base + off, sz);
			w += sz;
		} else if (c) {
			if ((size_t)(end - p) < c || c > dst - w)
				return -1;
			memcpy(o + w, p, c);
			p += c;
			w += c;
		} else {
			return -1;
		}
	}
	if (w != dst)
		return -1;
	out->len = w;
	out->ptr[w] = '\0';
	return 0;
}

static int is_delta(const bs_git_pack_entry *e)
{
	return e->kind == 6 || e->kind == 7;
}

int bs_git_pack_read(bs_git_pack_reader *r, uint32_t p, uint32_t i, const unsigned char **data, size_t *len)
{
	const bs_git_pack *pk = &r->objs->packs[p];
	size_t n = 0;
	uint32_t x = i;
	ssize_t hit = -1;
	const unsigned char *base;
	size_t blen;
	int base_cached;
	bs_buf *cur = &r->a, *other = &r->b;

	/* Walk down the chain to a cached base or a full object. */
	for (;;) {
		const bs_git_pack_entry *e = &pk->entries[x];
		BS_ARRAY_GROW(r->chain, r->cap_chain, n + 1);
		r->chain[n++] = x;
		if ((hit = cache_find(r, p, x)) >= 0)
			break;
		if (!is_delta(e)) {
			if (e->kind < 1 || e->kind > 4)
				return -1;
			break;
		}
		if (e->base == BS_GIT_NONE || n > DELTA_DEPTH_MAX)
			return -1;
		x = e->base;
	}
	if (hit >= 0) {
		base = r->cache[hit].data;
		blen = r->cache[hit].len;
		base_cached = 1;
	} else {
		const bs_git_pack_entry *e = &pk->entries[x];
		if (inflate_entry(r, pk, e, cur) < 0)
			return -1;
		base = (const unsigned char *)cur->ptr;
		blen = cur->len;
		base_cached = 0;
		cache_add(r, p, x, base, blen, e->dependents);
		bs_buf *t = cur;
		cur = other;
		other = t;
	}
	for (size_t k = n - 1; k-- > 0;) {
		const bs_git_pack_entry *e = &pk->entries[r->chain[k]];
		if (inflate_entry(r, pk, e, &r->delta) < 0 || apply_delta(base, blen, &r->delta, cur) < 0)
			return -1;
		if (base_cached)
			cache_use(r, p, r->chain[k + 1]);
		base = (const unsigned char *)cur->ptr;
		blen = cur->len;
		base_cached = 0;
		cache_add(r, p, r->chain[k], base, blen, e->dependents);
		bs_buf *t = cur;
		cur = other;
		other = t;
	}
	*data = base;
	*len = blen;
	return 0;
}

int bs_git_pack_stream(bs_git_pack_reader *r, uint32_t p, uint32_t i,
                       void (*feed)(void *ud, const unsigned char *piece, size_t n), void *ud)
{
	const bs_git_pack *pk = &r->objs->packs[p];
	const bs_git_pack_entry *e = &pk->entries[i];
	uint64_t at = e->offset + e->hdr_len, total = 0;
	int zr = Z_OK;
	if (!r->z_ok || is_delta(e) || !e->hdr_len || e->end <= at || inflateReset(&r->z) != Z_OK)
		return -1;
	bs_buf_reset(&r->comp);
	bs_buf_grow(&r->comp, STREAM_PIECE);
	bs_buf_reset(&r->a);
	bs_buf_grow(&r->a, STREAM_PIECE);
	while (zr != Z_STREAM_END) {
		size_t want = e->end - at < STREAM_PIECE ? (size_t)(e->end - at) : STREAM_PIECE;
		if (r->z.avail_in == 0) {
			if (!want || read_fully(pk->fd, r->comp.ptr, want, at) < 0)
				return -1;
			at += want;
			r->z.next_in = (unsigned char *)r->comp.ptr;
			r->z.avail_in = (uInt)want;
		}
		r->z.next_out = (unsigned char *)r->a.ptr;
		r->z.avail_out = STREAM_PIECE;
		zr = inflate(&r->z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END)
			return -1;
		if (STREAM_PIECE - r->z.avail_out) {
			size_t got = STREAM_PIECE - r->z.avail_out;
			total += got;
			if (total > e->size)
				return -1;
			feed(ud, (const unsigned char *)r->a.ptr, got);
		}
	}
	return total == e->size ? 0 : -1;
}
