/* The regex-safety check run on user-supplied rules at load time (and on the default pack by the
 * test suite): a rule must run its own examples within the scanner's PCRE2 limits, and its regex
 * must not exhaust those limits on a 1 MB adversarial subject. (Whether the examples give the right
 * answers is `bstscan rules test`'s and the test suite's job: bs_rule_test_examples.)
 *
 * The scanner never runs a regex over more than a window of about 2 * max_length bytes around a
 * keyword hit, so the adversarial subject is made of window-sized segments, each a keyword followed
 * by what the regex is likely to accept (runs of each character the rule's own examples use, runs
 * of character pairs, the keyword repeated, the examples repeated and cut short), then a character
 * that breaks the match, then every character seen (so that the literal a regex requires is there
 * and PCRE2 cannot skip the attempt). Each distinct segment is first tried alone, stopping at the
 * first limit error (so a catastrophic regex costs one match limit, not one per segment); then the
 * 1 MB of segments goes through the real engine, which reports any limit it hits. */
#include <stdlib.h>
#include <string.h>

#include "scanner/engine.h"
#include "scanner/rule_internal.h"
#include "common/banned.h"

#define SAFETY_SUBJECT (1u << 20)
/* Distinct characters taken from the examples; enough for every class in practice. */
#define SAFETY_MAX_CHARS 48

typedef struct safety {
	bs_rule *r;
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
	bs_buf segs;         /* segments, each followed by '\n' */
	size_t n_segs;
	size_t seg_len;      /* the run length inside a segment */
	char tail[64];       /* after the breaker: every character collected, so that PCRE2's
			      * "required character" shortcut cannot skip the backtracking */
} safety;

/* Runs the regex once over s; PCRE2's result (a limit error is < 0 and not NOMATCH). */
static int try_match(safety *sf, const char *s, size_t len)
{
	return pcre2_match(sf->code, (PCRE2_SPTR)s, len, 0, 0, sf->md, sf->mctx);
}

static int limit_error(safety *sf, int rc, const char *what, bs_error *err)
{
	PCRE2_UCHAR msg[128];
	pcre2_get_error_message(rc, msg, sizeof(msg));
	return bs_error_set(err, BS_ERR_RULE,
			    "%s: rule '%s': its regex can backtrack catastrophically (%s on %s); bound its "
			    "quantifiers or make them possessive, and avoid nested repeats such as (a+)+",
			    sf->r->source, sf->r->id, (char *)msg, what);
}

/* Appends one segment: keyword, then body (a unit repeated to fill the run), then breaker. */
static void add_segment(safety *sf, const char *kw, const char *unit, size_t unit_len, char breaker)
{
	size_t start = sf->segs.len;
	/* Segments beyond 1 MB in all would only repeat the kinds already there (long windows). */
	if (!unit_len || sf->segs.len + sf->seg_len > SAFETY_SUBJECT)
		return;
	bs_buf_adds(&sf->segs, kw);
	while (sf->segs.len - start < sf->seg_len)
		bs_buf_add(&sf->segs, unit, unit_len);
	bs_buf_addch(&sf->segs, breaker);
	bs_buf_adds(&sf->segs, sf->tail);
	bs_buf_addch(&sf->segs, '\n');
	sf->n_segs++;
}

static void build_segments(safety *sf)
{
	bs_rule *r = sf->r;
	unsigned char seen[256] = { 0 };
	char chars[SAFETY_MAX_CHARS + 8];
	size_t n_chars = 0;
	static const char base[] = "a0A_-= \"";
	/* Characters the rule's own examples and keywords use: what its classes accept. */
	for (const char *p = base; *p; p++)
		if (!seen[(unsigned char)*p]++)
			chars[n_chars++] = *p;
	for (size_t i = 0; i < r->n_tp + r->n_keywords && n_chars < SAFETY_MAX_CHARS; i++) {
		const char *s = i < r->n_tp ? r->tp_examples[i] : r->keywords[i - r->n_tp];
		for (; *s && n_chars < SAFETY_MAX_CHARS; s++)
			if ((unsigned char)*s >= 0x20 && !seen[(unsigned char)*s]++)
				chars[n_chars++] = *s;
	}
	memcpy(sf->tail, chars, n_chars);
	sf->tail[n_chars] = '\0';
	/* Most telling kinds first: the budget may cut the list short for long windows. */
	for (size_t k = 0; k < r->n_keywords && k < 4; k++) {
		const char *kw = r->keywords[k];
		add_segment(sf, kw, kw, strlen(kw), '!');
		/* The examples repeated, and cut one short (near-misses). */
		for (size_t i = 0; i < r->n_tp + r->n_fp && i < 8; i++) {
			const char *ex = i < r->n_tp ? r->tp_examples[i] : r->fp_examples[i - r->n_tp];
			size_t len = strlen(ex);
			add_segment(sf, kw, ex, len, '!');
			if (len > 1)
				add_segment(sf, kw, ex, len - 1, '!');
		}
		for (size_t i = 0; i < n_chars; i++)
			add_segment(sf, kw, &chars[i], 1, '!');
	}
	for (size_t k = 0; k < r->n_keywords && k < 4; k++) {
		const char *kw = r->keywords[k];
		for (size_t i = 0; i < n_chars; i++) {
			char pair[2] = { chars[i], i + 1 < n_chars ? chars[i + 1] : ' ' };
			add_segment(sf, kw, pair, 2, '!');
			add_segment(sf, kw, &chars[i], 1, '\x01');
		}
	}
}

/* Occurrences of the rule's keywords in s[0, len) (exact bytes; enough to tell dense segments). */
static size_t keyword_count(const bs_rule *r, const char *s, size_t len)
{
	size_t n = 0;
	for (size_t k = 0; k < r->n_keywords; k++) {
		size_t kl = strlen(r->keywords[k]);
		for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), r->keywords[k], kl)); p++)
			n++;
	}
	return n;
}

int bs_rule_check_safety(bs_rule *r, bs_error *err)
{
	safety sf;
	int rc = 0;
	memset(&sf, 0, sizeof(sf));
	sf.r = r;
	if ((rc = bs_rule_compile(r, err)) < 0)
		return rc;
	sf.code = bs_rule_code(r);
	sf.md = pcre2_match_data_create_from_pattern(sf.code, NULL);
	sf.mctx = pcre2_match_context_create(NULL);
	sf.jit = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
	if (!sf.md || !sf.mctx || !sf.jit) {
		rc = bs_error_set(err, BS_ERR_NOMEM, "cannot allocate PCRE2 match state");
		goto out;
	}
	/* The very limits the scanner runs with (engine.c). */
	pcre2_set_match_limit(sf.mctx, BS_PCRE2_MATCH_LIMIT);
	pcre2_set_depth_limit(sf.mctx, BS_PCRE2_DEPTH_LIMIT);
	pcre2_set_heap_limit(sf.mctx, BS_PCRE2_HEAP_LIMIT_KB);
	pcre2_jit_stack_assign(sf.mctx, NULL, sf.jit);

	for (size_t i = 0; i < r->n_tp + r->n_fp; i++) {
		int is_tp = i < r->n_tp;
		const char *ex = is_tp ? r->tp_examples[i] : r->fp_examples[i - r->n_tp];
		size_t no = is_tp ? i + 1 : i - r->n_tp + 1;
		int m = try_match(&sf, ex, strlen(ex));
		if (m < 0 && m != PCRE2_ERROR_NOMATCH) {
			bs_buf what = BS_BUF_INIT;
			bs_buf_addf(&what, "its own %s example #%zu", is_tp ? "tp" : "fp", no);
			rc = limit_error(&sf, m, what.ptr, err);
			bs_buf_free(&what);
			goto out;
		}
	}

	sf.seg_len = 2 * r->max_length + 64;
	build_segments(&sf);
	for (size_t off = 0; off < sf.segs.len;) {
		const char *seg = sf.segs.ptr + off;
		size_t len = (size_t)((const char *)memchr(seg, '\n', sf.segs.len - off) - seg);
		int m = try_match(&sf, seg, len);
		if (m < 0 && m != PCRE2_ERROR_NOMATCH) {
			bs_buf what = BS_BUF_INIT;
			bs_buf_addf(&what, "a %zu-byte adversarial input starting \"%.12s\"", len, seg);
			for (size_t k = 0; k < what.len; k++)
				if ((unsigned char)what.ptr[k] < 0x20)
					what.ptr[k] = '?';
			rc = limit_error(&sf, m, what.ptr, err);
			bs_buf_free(&what);
			goto out;
		}
		off += len + 1;
	}

	/* 1 MB of those segments through the engine as a scan runs it. Segments dense with keywords
	 * (the keyword or an example repeated) were tried alone above; in the engine each hit would
	 * be a window and, for a rule that matches them, a finding: a million for a one-byte rule. */
	{
		bs_ruleset *rs = bs_ruleset_new();
		bs_scanner *sc = NULL;
		bs_scan_ctx *ctx = NULL;
		bs_findings fs = BS_FINDINGS_INIT;
		bs_scan_input in = { r->source, 1, 0, NULL, NULL };
		bs_buf big = BS_BUF_INIT, sparse = BS_BUF_INIT;
		bs_ruleset_add_borrowed(rs, r);
		for (size_t off = 0; off < sf.segs.len;) {
			const char *seg = sf.segs.ptr + off;
			size_t len = (size_t)((const char *)memchr(seg, '\n', sf.segs.len - off) - seg) + 1;
			if (keyword_count(r, seg, len) <= 2)
				bs_buf_add(&sparse, seg, len);
			off += len;
		}
		while (sparse.len && big.len < SAFETY_SUBJECT)
			bs_buf_add(&big, sparse.ptr, sparse.len);
		bs_buf_free(&sparse);
		if ((rc = bs_scanner_new(&sc, rs, NULL, err)) == 0 && (rc = bs_scan_ctx_new(&ctx, sc, err)) == 0) {
			bs_scan_buffer(ctx, &in, big.ptr, big.len, &fs, err);
			if (bs_scan_ctx_warnings(ctx) && bs_scan_ctx_warnings(ctx)[0])
				rc = bs_error_set(err, BS_ERR_RULE,
						  "%s: rule '%s': its regex can backtrack catastrophically (it hit PCRE2's "
						  "limits on a 1 MB adversarial input); bound its quantifiers or make "
						  "them possessive, and avoid nested repeats such as (a+)+",
						  r->source, r->id);
		}
		bs_findings_free(&fs);
		bs_scan_ctx_free(ctx);
		bs_scanner_free(sc);
		bs_ruleset_free(rs);
		bs_buf_free(&big);
	}
out:
	pcre2_match_data_free(sf.md);
	pcre2_match_context_free(sf.mctx);
	pcre2_jit_stack_free(sf.jit);
	bs_buf_free(&sf.segs);
	return rc;
}
