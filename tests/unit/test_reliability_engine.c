/* Bad inputs for the scan engine itself (library level): results must not depend on how the
 * content is cut into chunks or pieces. Found by fuzz/fuzz_scan.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/engine.h"
#include "scanner/rule_internal.h"
#include "tests/support/testutil.h"

/* Scans data with the default pack and the given chunk size, whole (bs_scan_buffer) when
 * piece is 0, else streamed in pieces of that size; returns the number of findings. */
static size_t count(const char *data, size_t len, size_t chunk, size_t piece)
{
	bs_error err = BS_ERROR_INIT;
	bs_ruleset *rs = bs_ruleset_new();
	bs_scanner *sc;
	bs_scan_ctx *ctx;
	bs_findings fs = BS_FINDINGS_INIT;
	bs_scan_input in = { "f.txt", 1, 0, NULL, NULL };
	size_t n;
	cr_assert_eq(bs_ruleset_load_default(rs, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scanner_new(&sc, rs, &(bs_scanner_opts){ 0, chunk }, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scan_ctx_new(&ctx, sc, &err), 0, "%s", err.message);
	if (!piece) {
		cr_assert_eq(bs_scan_buffer(ctx, &in, data, len, &fs, &err), 0);
	} else {
		bs_scan_begin(ctx, &in);
		for (size_t pos = 0; pos < len; pos += piece)
			bs_scan_feed(ctx, data + pos, len - pos < piece ? len - pos : piece, &err);
		cr_assert_eq(bs_scan_end(ctx, &fs, &err), 0);
	}
	n = fs.len;
	bs_findings_free(&fs);
	bs_scan_ctx_free(ctx);
	bs_scanner_free(sc);
	bs_ruleset_free(rs);
	return n;
}

/* A "bstscan:allow" far away on a very long line was honoured when the whole content was in
 * memory and ignored when it was streamed (the window no longer held it). The marker now counts
 * within 320 bytes of the secret, whatever the chunking. Regression input:
 * tests/fixtures/fuzz-regressions/fuzz_scan/allow-marker-far-on-long-line. */
Test(reliability_engine, allow_marker_reach_does_not_depend_on_chunking)
{
	char tok[48];
	bs_buf far = BS_BUF_INIT, near = BS_BUF_INIT;
	bs_test_make_bst_token(tok);
	bs_buf_addf(&far, "k=%s ", tok);
	for (int i = 0; i < 5000; i++)
		bs_buf_addch(&far, 'y');
	bs_buf_adds(&far, " # bstscan:allow\n");
	bs_buf_addf(&near, "%s k=%s # bstscan:allow\n", far.ptr, tok); /* line 2: allowed */
	for (size_t chunk = 1; chunk <= 4096; chunk *= 8) {
		cr_assert_eq(count(far.ptr, far.len, chunk, 0), 1, "buffer, chunk %zu", chunk);
		cr_assert_eq(count(far.ptr, far.len, chunk, 61), 1, "stream, chunk %zu", chunk);
		cr_assert_eq(count(near.ptr, near.len, chunk, 0), 1, "buffer, chunk %zu", chunk);
		cr_assert_eq(count(near.ptr, near.len, chunk, 7), 1, "stream, chunk %zu", chunk);
	}
	bs_buf_free(&far);
	bs_buf_free(&near);
}

/* Every finding's line_text used to look at every other candidate of the chunk (to redact them
 * too), which made a chunk dense with matches quadratic: 1 MB of 2-byte matches took minutes.
 * Found through the regex-safety check's 1 MB run in fuzz_config and fuzz_rules (regressions:
 * tests/fixtures/fuzz-regressions/fuzz_config/dense-matches, tests/fixtures/fuzz-regressions/fuzz_rules/dense-matches). The
 * timeout only catches a hang; nothing here measures speed. */

Test(reliability_engine, content_dense_with_matches_is_scanned_in_linear_time, .timeout = 120)
{
	bs_error err = BS_ERROR_INIT;
	bs_ruleset *rs = bs_ruleset_new();
	bs_scanner *sc;
	bs_scan_ctx *ctx;
	bs_findings fs = BS_FINDINGS_INIT;
	bs_scan_input in = { "dense.txt", 1, 0, NULL, NULL };
	bs_rule r;
	bs_buf text = BS_BUF_INIT;
	memset(&r, 0, sizeof(r));
	r.id = "dense";
	r.description = "two-byte matches";
	r.source = "test";
	r.regex = "ab";
	r.keywords = (char *[]){ "ab" };
	r.n_keywords = 1;
	r.max_length = 256;
	r.compiled = bs_rule_compiled_new();
	bs_ruleset_add_borrowed(rs, &r);
	while (text.len < (1u << 20))
		bs_buf_adds(&text, "ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab\n");
	cr_assert_eq(bs_scanner_new(&sc, rs, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scan_ctx_new(&ctx, sc, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scan_buffer(ctx, &in, text.ptr, text.len, &fs, &err), 0);
	cr_assert_eq(fs.len, text.len / 45 * 15);
	/* Neighbours on the line are still redacted in each excerpt. */
	cr_assert_null(strstr(fs.items[1]->line_text, "ab ab"), "%s", fs.items[1]->line_text);
	bs_findings_free(&fs);
	bs_scan_ctx_free(ctx);
	bs_scanner_free(sc);
	bs_ruleset_free(rs);
	bs_rule_compiled_free(r.compiled);
	bs_buf_free(&text);
}

static void random_from(char *out, size_t n, const char *alphabet)
{
	size_t k = strlen(alphabet);
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[(size_t)rand() % k];
	out[n] = '\0';
}

/* Scans with the default pack at the given chunk size; fills offsets of rule's findings. */
static size_t offsets_of(const char *data, size_t len, size_t chunk, const char *rule, uint64_t *out, size_t max)
{
	bs_error err = BS_ERROR_INIT;
	bs_ruleset *rs = bs_ruleset_new();
	bs_scanner *sc;
	bs_scan_ctx *ctx;
	bs_findings fs = BS_FINDINGS_INIT;
	bs_scan_input in = { "f.txt", 1, 0, NULL, NULL };
	size_t n = 0;
	cr_assert_eq(bs_ruleset_load_default(rs, &err), 0, "%s", err.message);
	cr_assert_not_null(bs_ruleset_find(rs, rule), "no rule %s in the pack", rule);
	cr_assert_eq(bs_scanner_new(&sc, rs, &(bs_scanner_opts){ 0, chunk }, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scan_ctx_new(&ctx, sc, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scan_buffer(ctx, &in, data, len, &fs, &err), 0);
	for (size_t i = 0; i < fs.len; i++)
		if (!strcmp(fs.items[i]->rule_id, rule) && n < max)
			out[n++] = fs.items[i]->offset;
	bs_findings_free(&fs);
	bs_scan_ctx_free(ctx);
	bs_scanner_free(sc);
	bs_ruleset_free(rs);
	return n;
}

/* A rule whose match spans two keyword hits (an AWS key id, then its secret; or the secret, then
 * the id) reported the same secret twice when a chunk edge fell between them: the second hit's
 * search started inside the first match. A rule's matches now never overlap, as in a global regex
 * search. Found by fuzz_scan: tests/fixtures/fuzz-regressions/fuzz_scan/overlapping-match-reported-twice. */
Test(reliability_engine, a_match_spanning_two_keyword_hits_is_reported_once_whatever_the_chunking)
{
	char id1[17], id2[17], s1[41], s2[41];
	bs_buf t = BS_BUF_INIT;
	size_t o1, o2;
	srand(8);
	random_from(id1, 16, "BCDFGHJKLMNPQRSTVWXZ234567");
	random_from(id2, 16, "BCDFGHJKLMNPQRSTVWXZ234567");
	random_from(s1, 40, "bcdfghjklmnpqrstvwxzBCDFGHJKLMNPQRSTVWXZ0123456789/+");
	random_from(s2, 40, "bcdfghjklmnpqrstvwxzBCDFGHJKLMNPQRSTVWXZ0123456789/+");
	s1[0] = s2[0] = 'Q';
	s1[1] = s2[1] = 'q';
	bs_buf_addf(&t, "aws keys\nAKIA%s,%s key\n", id1, s1);
	o1 = t.len - 45;
	bs_buf_addf(&t, "AKIA%s,%s\n", id2, s2);
	o2 = t.len - 41;
	for (size_t chunk = 1; chunk <= 160; chunk++) {
		uint64_t off[8];
		size_t n = offsets_of(t.ptr, t.len, chunk, "aws-secret-access-key", off, 8);
		cr_assert_eq(n, 2, "chunk %zu: %zu findings", chunk, n);
		cr_assert(off[0] == o1 && off[1] == o2, "chunk %zu: secrets at %llu and %llu, expected %zu and %zu", chunk,
			  (unsigned long long)off[0], (unsigned long long)off[1], o1, o2);
	}
	bs_buf_free(&t);
}

/* Scans with the default pack at the given chunk size; fills rule ids, lines and columns. */
static size_t lines_of(const char *data, size_t len, size_t chunk, char rules[][32], uint64_t *lines, uint64_t *cols,
		       size_t max)
{
	bs_error err = BS_ERROR_INIT;
	bs_ruleset *rs = bs_ruleset_new();
	bs_scanner *sc;
	bs_scan_ctx *ctx;
	bs_findings fs = BS_FINDINGS_INIT;
	bs_scan_input in = { "f.txt", 1, 0, NULL, NULL };
	size_t n = 0;
	cr_assert_eq(bs_ruleset_load_default(rs, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scanner_new(&sc, rs, &(bs_scanner_opts){ 0, chunk }, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scan_ctx_new(&ctx, sc, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scan_buffer(ctx, &in, data, len, &fs, &err), 0);
	for (size_t i = 0; i < fs.len && n < max; i++, n++) {
		snprintf(rules[n], 32, "%s", fs.items[i]->rule_id);
		lines[n] = fs.items[i]->line;
		cols[n] = fs.items[i]->column;
	}
	bs_findings_free(&fs);
	bs_scan_ctx_free(ctx);
	bs_scanner_free(sc);
	bs_ruleset_free(rs);
	return n;
}

/* A match that spans lines (an AWS key id, then its secret two lines down) moved the line counter
 * past a later-starting match whose secret sits in between; that finding got the wrong line when
 * a chunk edge fell between the two. Found by fuzz_scan:
 * tests/fixtures/fuzz-regressions/fuzz_scan/line-of-a-match-inside-a-multiline-match. */
Test(reliability_engine, line_numbers_hold_when_a_match_spans_lines_across_a_chunk_edge)
{
	char id1[17], id0[17], s1[41];
	bs_buf t = BS_BUF_INIT;
	srand(11);
	random_from(id1, 16, "BCDFGHJKLMNPQRSTVWXZ234567");
	random_from(id0, 16, "BCDFGHJKLMNPQRSTVWXZ234567");
	random_from(s1, 40, "bcdfghjklmnpqrstvwxzBCDFGHJKLMNPQRSTVWXZ0123456789/+");
	s1[0] = 'Q';
	s1[1] = 'q';
	bs_buf_addf(&t, "keys\nAKIA%s\nAKIA%s\n%s\n", id1, id0, s1);
	for (size_t chunk = 1; chunk <= 120; chunk++) {
		char rules[8][32];
		uint64_t lines[8], cols[8];
		size_t n = lines_of(t.ptr, t.len, chunk, rules, lines, cols, 8);
		for (size_t i = 0; i < n; i++) {
			uint64_t want = !strcmp(rules[i], "aws-secret-access-key") ? 4 : i == 0 ? 2 : 3;
			cr_assert_eq(lines[i], want, "chunk %zu: %s reported on line %llu, not %llu", chunk, rules[i],
				     (unsigned long long)lines[i], (unsigned long long)want);
			cr_assert_eq(cols[i], 1, "chunk %zu: %s column %llu", chunk, rules[i], (unsigned long long)cols[i]);
		}
		cr_assert_eq(n, 3, "chunk %zu: %zu findings", chunk, n);
	}
	bs_buf_free(&t);
}
