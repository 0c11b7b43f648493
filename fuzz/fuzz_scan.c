/* The scan engine against a slow reference matcher.
 *
 * The engine finds keywords with the prefilter, runs each rule's regex only in a window around a
 * hit, and streams content through a bounded window in chunks. The reference has none of that: it
 * runs each rule's regex with plain PCRE2 (no JIT, no prefilter, no chunking) over the whole
 * buffer, leftmost first, and keeps the matches that contain one of the rule's keywords, whose
 * secret passes the validators and whose line carries no "bstscan:allow" within 320 bytes of the
 * secret. Both must report the
 * same multiset of (rule, secret offset), with the same line and column.
 *
 * Input: 4 parameter bytes (chunk size; seed of the piece sizes fed through
 * bs_scan_begin/feed/end), then the content. The engine runs with the default pack, once over the
 * whole buffer (bs_scan_buffer) and twice streamed in random pieces (bs_scan_feed, and the
 * zero-copy bs_scan_feed_reserve/commit), all with a small chunk size
 * so chunk boundaries fall everywhere.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "fuzz/fuzz.h"
#include "scanner/engine.h"
#include "scanner/rule.h"
#include "scanner/validate.h"
#include "common/banned.h"

int BS_FUZZ_ENTRY(const uint8_t *data, size_t size);

typedef struct fs_hit {
	size_t rule;
	uint64_t offset, line, column;
} fs_hit;

typedef struct fs_hits {
	fs_hit *v;
	size_t n, cap;
} fs_hits;

static bs_ruleset *fs_rules;
static bs_scanner *fs_scanners[3];
static size_t fs_chunks[3];
static pcre2_code **fs_ref_code;

static void fs_push(fs_hits *h, size_t rule, uint64_t off, uint64_t line, uint64_t col)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 16;
		h->v = bs_xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	h->v[h->n++] = (fs_hit){ rule, off, line, col };
}

static int fs_cmp(const void *pa, const void *pb)
{
	const fs_hit *a = pa, *b = pb;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	return a->rule < b->rule ? -1 : a->rule > b->rule;
}

static void fs_setup(void)
{
	bs_error err = BS_ERROR_INIT;
	size_t n;
	if (fs_rules)
		return;
	fs_rules = bs_ruleset_new();
	if (bs_ruleset_load_default(fs_rules, &err) < 0)
		BS_FUZZ_CHECK(0, "default pack: %s", err.message);
	n = bs_ruleset_count(fs_rules);
	fs_ref_code = bs_xcalloc(n + 1, sizeof(*fs_ref_code));
	for (size_t i = 0; i < n; i++) {
		int code;
		PCRE2_SIZE off;
		fs_ref_code[i] = pcre2_compile((PCRE2_SPTR)bs_ruleset_get(fs_rules, i)->regex, PCRE2_ZERO_TERMINATED, 0,
					       &code, &off, NULL);
		BS_FUZZ_CHECK(fs_ref_code[i] != NULL, "rule %s does not compile", bs_ruleset_get(fs_rules, i)->id);
	}
	/* Three chunk sizes, built once: scanners are costly to build (the prefilter). */
	fs_chunks[0] = 1;
	fs_chunks[1] = 61;
	fs_chunks[2] = 1000;
	for (int i = 0; i < 3; i++)
		if (bs_scanner_new(&fs_scanners[i], fs_rules, &(bs_scanner_opts){ 0, fs_chunks[i] }, &err) < 0)
			BS_FUZZ_CHECK(0, "scanner: %s", err.message);
}

static int fs_has_keyword(const bs_rule *r, const uint8_t *buf, size_t len, size_t ms, size_t me)
{
	for (size_t k = 0; k < r->n_keywords; k++) {
		size_t kl = strlen(r->keywords[k]);
		for (size_t h = ms; h < me && h + kl <= len; h++) {
			if (r->keywords_nocase ? strncasecmp((const char *)buf + h, r->keywords[k], kl) == 0
					       : memcmp(buf + h, r->keywords[k], kl) == 0)
				return 1;
		}
	}
	return 0;
}

static void fs_reference(fs_hits *out, const uint8_t *buf, size_t len)
{
	pcre2_match_data *md = pcre2_match_data_create(100, NULL);
	for (size_t ri = 0; ri < bs_ruleset_count(fs_rules); ri++) {
		const bs_rule *r = bs_ruleset_get(fs_rules, ri);
		PCRE2_SIZE start = 0;
		while (start <= len) {
			int rc = pcre2_match(fs_ref_code[ri], buf, len, start, 0, md, NULL);
			PCRE2_SIZE *ov, ss, se;
			const uint8_t *ls, *le;
			const char *failed;
			uint64_t line = 1;
			if (rc == PCRE2_ERROR_NOMATCH)
				break;
			BS_FUZZ_CHECK(rc > 0, "reference match error %d for rule %s", rc, r->id);
			ov = pcre2_get_ovector_pointer(md);
			if (ov[1] == ov[0]) {
				start = ov[0] + 1;
				continue;
			}
			start = ov[1];
			if (!fs_has_keyword(r, buf, len, ov[0], ov[1]))
				continue;
			if (r->secret_group >= rc || ov[2 * r->secret_group] == PCRE2_UNSET)
				continue;
			ss = ov[2 * r->secret_group];
			se = ov[2 * r->secret_group + 1];
			if (se <= ss)
				continue;
			if (r->n_validators && !bs_validators_run(r->validators, r->n_validators, buf + ss, se - ss, &failed))
				continue;
			ls = buf + ss;
			while (ls > buf && ls[-1] != '\n')
				ls--;
			le = memchr(buf + se, '\n', len - se);
			if (!le)
				le = buf + len;
			/* The marker counts on the secret's line within 320 bytes of it (engine.h). */
			{
				const uint8_t *as = buf + ss - ls > 320 ? buf + ss - 320 : ls;
				const uint8_t *ae = le - (buf + se) > 320 ? buf + se + 320 : le;
				if (memmem(as, (size_t)(ae - as), "bstscan:allow", 13))
					continue;
			}
			for (const uint8_t *p = buf; p < ls; p++)
				line += *p == '\n';
			fs_push(out, ri, ss, line, (uint64_t)(buf + ss - ls) + 1);
		}
	}
	pcre2_match_data_free(md);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), fs_cmp);
}

static void fs_collect(fs_hits *out, const bs_findings *fs, const uint8_t *buf, size_t len, int binary)
{
	for (size_t i = 0; i < fs->len; i++) {
		const bs_finding *f = fs->items[i];
		size_t ri = bs_ruleset_count(fs_rules);
		for (size_t k = 0; k < bs_ruleset_count(fs_rules); k++)
			if (!strcmp(bs_ruleset_get(fs_rules, k)->id, f->rule_id))
				ri = k;
		BS_FUZZ_CHECK(ri < bs_ruleset_count(fs_rules), "unknown rule %s", f->rule_id);
		BS_FUZZ_CHECK(f->offset + f->secret_len <= len && !memcmp(buf + f->offset, f->secret, f->secret_len),
			      "finding at %llu does not hold its secret", (unsigned long long)f->offset);
		BS_FUZZ_CHECK(f->binary == binary, "binary flag %d, content %d", f->binary, binary);
		BS_FUZZ_CHECK(f->line_text != NULL && f->redacted != NULL, "finding without line_text/redacted");
		fs_push(out, ri, f->offset, f->line, f->column);
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), fs_cmp);
}

static void fs_dump(const char *what, const fs_hits *h)
{
	fprintf(stderr, "%s:", what);
	for (size_t i = 0; i < h->n; i++)
		fprintf(stderr, " %s@%llu", bs_ruleset_get(fs_rules, h->v[i].rule)->id, (unsigned long long)h->v[i].offset);
	fputc('\n', stderr);
}

static void fs_compare(const fs_hits *ref, const fs_hits *got, const char *mode, size_t chunk)
{
	size_t n = ref->n < got->n ? ref->n : got->n;
	int same = ref->n == got->n;
	for (size_t i = 0; i < n && same; i++)
		same = ref->v[i].rule == got->v[i].rule && ref->v[i].offset == got->v[i].offset;
	if (!same) {
		fs_dump("reference", ref);
		fs_dump("engine   ", got);
	}
	for (size_t i = 0; i < n; i++) {
		const fs_hit *a = &ref->v[i], *b = &got->v[i];
		BS_FUZZ_CHECK(a->rule == b->rule && a->offset == b->offset,
			      "%s, chunk %zu: reference has rule %zu at %llu, engine rule %zu at %llu", mode, chunk,
			      a->rule, (unsigned long long)a->offset, b->rule, (unsigned long long)b->offset);
		BS_FUZZ_CHECK(a->line == b->line && a->column == b->column,
			      "%s, chunk %zu: offset %llu: reference line %llu col %llu, engine line %llu col %llu",
			      mode, chunk, (unsigned long long)a->offset, (unsigned long long)a->line,
			      (unsigned long long)a->column, (unsigned long long)b->line, (unsigned long long)b->column);
	}
	BS_FUZZ_CHECK(ref->n == got->n, "%s, chunk %zu: reference found %zu, engine %zu (first extra at %llu)", mode,
		      chunk, ref->n, got->n,
		      (unsigned long long)(ref->n > got->n ? ref->v[n].offset : got->v[n].offset));
}

int BS_FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	const uint8_t *buf;
	size_t len;
	unsigned seed;
	int binary;
	fs_hits ref = { 0 };
	bs_scanner *sc;
	size_t chunk;
	if (size < 4)
		return 0;
	fs_setup();
	sc = fs_scanners[data[0] % 3];
	chunk = fs_chunks[data[0] % 3];
	seed = (unsigned)data[1] | (unsigned)data[2] << 8 | (unsigned)data[3] << 16;
	buf = data + 4;
	len = size - 4;
	/* engine.h: binary means a NUL byte in the first 8000 bytes. */
	binary = len && memchr(buf, 0, len < 8000 ? len : 8000) != NULL;
	fs_reference(&ref, buf, len);

	for (int mode = 0; mode < 3; mode++) {
		bs_scan_ctx *ctx = NULL;
		bs_error err = BS_ERROR_INIT;
		bs_findings fs = BS_FINDINGS_INIT;
		bs_scan_input in = { "fuzz", 1, 0, NULL, NULL };
		fs_hits got = { 0 };
		BS_FUZZ_CHECK(bs_scan_ctx_new(&ctx, sc, &err) == 0, "ctx: %s", err.message);
		if (mode == 0) {
			bs_scan_buffer(ctx, &in, buf, len, &fs, &err);
		} else {
			/* Pieces of 0..max bytes; a cheap LCG keeps it reproducible from the input. */
			size_t pos = 0, max = 1 + (seed & 0x3ff);
			uint32_t x = seed | 1;
			bs_scan_begin(ctx, &in);
			while (pos < len) {
				size_t n;
				x = x * 1103515245u + 12345u;
				n = (x >> 8) % (max + 1);
				if (n > len - pos)
					n = len - pos;
				if (mode == 1) {
					bs_scan_feed(ctx, buf + pos, n, &err);
				} else {
					/* Zero-copy: reserve more than is written, as a short read does. */
					void *room = bs_scan_feed_reserve(ctx, n + (x & 0xff));
					memcpy(room, buf + pos, n);
					bs_scan_feed_commit(ctx, n, &err);
				}
				pos += n;
			}
			bs_scan_end(ctx, &fs, &err);
		}
		fs_collect(&got, &fs, buf, len, binary);
		fs_compare(&ref, &got, mode == 0 ? "buffer" : mode == 1 ? "feed" : "reserve/commit", chunk);
		free(got.v);
		bs_findings_free(&fs);
		bs_scan_ctx_free(ctx);
	}
	free(ref.v);
	return 0;
}
