#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/secure.h"
#include "scanner/engine.h"
#include "tests/support/testutil.h"

static bs_ruleset *rules;
static bs_scanner *scanner;
static bs_scan_ctx *ctx;

static void teardown(void);

static void setup_with(size_t chunk, int report_invalid)
{
	bs_error err = BS_ERROR_INIT;
	bs_scanner_opts o = { report_invalid, chunk };
	teardown(); /* the suite's .init already ran when a test calls this again */
	rules = bs_ruleset_new();
	cr_assert_eq(bs_ruleset_load_default(rules, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scanner_new(&scanner, rules, &o, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scan_ctx_new(&ctx, scanner, &err), 0, "%s", err.message);
}

static void setup(void)
{
	setup_with(0, 0);
}

static void teardown(void)
{
	bs_scan_ctx_free(ctx);
	bs_scanner_free(scanner);
	bs_ruleset_free(rules);
	ctx = NULL;
	scanner = NULL;
	rules = NULL;
}

static void scan(const void *data, size_t len, bs_findings *out)
{
	bs_error err = BS_ERROR_INIT;
	bs_scan_input in = { "f.txt", 1, 0, NULL, NULL };
	cr_assert_eq(bs_scan_buffer(ctx, &in, data, len, out, &err), 0, "%s", err.message);
}

static size_t count_rule(const bs_findings *fs, const char *rule)
{
	size_t n = 0;
	for (size_t i = 0; i < fs->len; i++)
		n += strcmp(fs->items[i]->rule_id, rule) == 0;
	return n;
}

TestSuite(engine, .init = setup, .fini = teardown);

Test(engine, finds_token_with_position_hash_and_redaction)
{
	char tok[48], hash[65];
	bs_buf text = BS_BUF_INIT;
	bs_findings fs = BS_FINDINGS_INIT;
	bs_finding *f;
	bs_test_make_bst_token(tok);
	bs_buf_addf(&text, "first line\n  token = \"%s\" # here\nlast\n", tok);
	scan(text.ptr, text.len, &fs);
	cr_assert_eq(count_rule(&fs, "bastionary-pat"), 1);
	f = fs.items[0];
	cr_assert_eq(f->line, 2);
	cr_assert_eq(f->column, 12);
	cr_assert_eq(f->offset, 11 + 11);
	cr_assert_eq(f->secret_len, 47);
	cr_assert_eq(memcmp(f->secret, tok, 47), 0);
	bs_sha256_hex(tok, 47, hash);
	cr_assert_str_eq(f->token_hash, hash);
	cr_assert_eq(strncmp(f->redacted, tok, 12), 0);
	cr_assert_str_eq(f->redacted + 12, "\xe2\x80\xa6");
	cr_assert_null(strstr(f->line_text, tok), "line_text leaks the secret: %s", f->line_text);
	cr_assert_not_null(strstr(f->line_text, f->redacted));
	cr_assert_not_null(strstr(f->line_text, "# here"));
	cr_assert_eq(f->binary, 0);
	cr_assert_eq(strlen(f->fingerprint), 64);
	bs_findings_free(&fs);
	bs_buf_free(&text);
}

Test(engine, fingerprint_ignores_other_lines_but_not_the_path)
{
	char tok[48];
	bs_buf a = BS_BUF_INIT, b = BS_BUF_INIT;
	bs_findings fa = BS_FINDINGS_INIT, fb = BS_FINDINGS_INIT, fc = BS_FINDINGS_INIT;
	bs_scan_input other = { "other.txt", 1, 0, NULL, NULL };
	bs_error err = BS_ERROR_INIT;
	bs_test_make_bst_token(tok);
	bs_buf_addf(&a, "x=%s\n", tok);
	bs_buf_addf(&b, "a new line\nanother\nx=%s\n", tok);
	scan(a.ptr, a.len, &fa);
	scan(b.ptr, b.len, &fb);
	bs_scan_buffer(ctx, &other, a.ptr, a.len, &fc, &err);
	cr_assert_eq(fa.len, 1);
	cr_assert_eq(fb.len, 1);
	cr_assert_eq(fc.len, 1);
	cr_assert_str_eq(fa.items[0]->fingerprint, fb.items[0]->fingerprint);
	cr_assert_str_neq(fa.items[0]->fingerprint, fc.items[0]->fingerprint);
	bs_findings_free(&fa);
	bs_findings_free(&fb);
	bs_findings_free(&fc);
	bs_buf_free(&a);
	bs_buf_free(&b);
}

Test(engine, decoys_are_not_reported)
{
	char tok[48];
	bs_buf t = BS_BUF_INIT;
	bs_findings fs = BS_FINDINGS_INIT;
	bs_test_make_bst_token(tok);
	bs_buf_addf(&t, "sub%s\n", tok);      /* subst_... */
	bs_buf_addf(&t, "x%s\n", tok);        /* xbst_... */
	bs_buf_addf(&t, "%sA\n", tok);        /* 44 characters */
	bs_buf_addf(&t, "%.46s\n", tok);      /* 42 characters */
	bs_buf_addf(&t, "%.46sB\n", tok);     /* last character with padding bits set */
	bs_buf_adds(&t, "token_prefix: bst_A3kz...\n");
	scan(t.ptr, t.len, &fs);
	cr_assert_eq(count_rule(&fs, "bastionary-pat"), 0, "decoy reported at line %llu",
		     fs.len ? (unsigned long long)fs.items[0]->line : 0ULL);
	bs_findings_free(&fs);
	bs_buf_free(&t);
}

Test(engine, report_invalid_keeps_near_misses_at_low_severity, .init = NULL)
{
	char tok[48];
	bs_buf t = BS_BUF_INIT;
	bs_findings fs = BS_FINDINGS_INIT;
	setup_with(0, 1);
	bs_test_make_bst_token(tok);
	bs_buf_addf(&t, "%.46sB\n", tok);
	scan(t.ptr, t.len, &fs);
	cr_assert_eq(count_rule(&fs, "bastionary-pat"), 1);
	cr_assert(fs.items[0]->invalid);
	cr_assert_eq(fs.items[0]->severity, BS_SEV_LOW);
	cr_assert_str_eq(fs.items[0]->invalid_reason, "last_char_in");
	bs_findings_free(&fs);
	bs_buf_free(&t);
}

Test(engine, allow_marker_on_the_same_line_only)
{
	char tok[48];
	bs_buf t = BS_BUF_INIT;
	bs_findings fs = BS_FINDINGS_INIT;
	bs_test_make_bst_token(tok);
	bs_buf_addf(&t, "a = \"%s\" # bstscan:allow\n", tok);
	bs_buf_addf(&t, "# bstscan:allow\nb = \"%s\"\n", tok);
	scan(t.ptr, t.len, &fs);
	cr_assert_eq(fs.len, 1);
	cr_assert_eq(fs.items[0]->line, 3);
	bs_findings_free(&fs);
	bs_buf_free(&t);
}

Test(engine, crlf_and_token_at_eof_without_newline)
{
	char tok[48];
	bs_buf t = BS_BUF_INIT;
	bs_findings fs = BS_FINDINGS_INIT;
	bs_test_make_bst_token(tok);
	bs_buf_addf(&t, "one\r\ntwo=%s\r\nthree=%s", tok, tok);
	scan(t.ptr, t.len, &fs);
	cr_assert_eq(fs.len, 2);
	cr_assert_eq(fs.items[0]->line, 2);
	cr_assert_eq(fs.items[0]->column, 5);
	cr_assert_null(strchr(fs.items[0]->line_text, '\r'));
	cr_assert_eq(fs.items[1]->line, 3);
	cr_assert_eq(fs.items[1]->offset, t.len - 47);
	bs_findings_free(&fs);
	bs_buf_free(&t);
}

Test(engine, nul_bytes_mark_binary_and_are_scanned)
{
	char tok[48];
	bs_buf t = BS_BUF_INIT;
	bs_findings fs = BS_FINDINGS_INIT;
	bs_test_make_bst_token(tok);
	bs_buf_add(&t, "\x7f" "ELF\0\0\0\xff\xfe", 9);
	bs_buf_add(&t, tok, 47);
	bs_buf_add(&t, "\0\0", 2);
	scan(t.ptr, t.len, &fs);
	cr_assert_eq(fs.len, 1);
	cr_assert(fs.items[0]->binary);
	cr_assert_eq(fs.items[0]->offset, 9);
	bs_findings_free(&fs);
	bs_buf_free(&t);
}

Test(engine, two_tokens_on_one_line_are_both_redacted_in_line_text)
{
	char a[48], b[48];
	bs_buf t = BS_BUF_INIT;
	bs_findings fs = BS_FINDINGS_INIT;
	bs_test_make_bst_token(a);
	bs_test_make_bst_token(b);
	bs_buf_addf(&t, "pair %s %s\n", a, b);
	scan(t.ptr, t.len, &fs);
	cr_assert_eq(fs.len, 2);
	for (size_t i = 0; i < 2; i++) {
		cr_assert_null(strstr(fs.items[i]->line_text, a));
		cr_assert_null(strstr(fs.items[i]->line_text, b));
	}
	bs_findings_free(&fs);
	bs_buf_free(&t);
}

Test(engine, ten_megabyte_line_is_bounded)
{
	size_t n = 10u << 20;
	char *big = malloc(n + 1);
	char tok[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_test_make_bst_token(tok);
	memset(big, 'a', n);
	for (size_t i = 0; i < n; i += 100)
		big[i] = ' ';
	memcpy(big + n / 2 + 1, tok, 47);
	big[n / 2] = ' ';
	big[n / 2 + 48] = ' ';
	scan(big, n, &fs);
	cr_assert_eq(fs.len, 1);
	cr_assert_eq(fs.items[0]->line, 1);
	cr_assert_eq(fs.items[0]->offset, n / 2 + 1);
	cr_assert_eq(fs.items[0]->column, n / 2 + 2);
	cr_assert_lt(strlen(fs.items[0]->line_text), 600);
	bs_findings_free(&fs);
	free(big);
}

Test(engine, invalid_utf8_line_text_is_valid_utf8)
{
	char tok[48];
	bs_buf t = BS_BUF_INIT;
	bs_findings fs = BS_FINDINGS_INIT;
	bs_test_make_bst_token(tok);
	bs_buf_adds(&t, "\xc3\x28 \xff\xfe \x01 ");
	bs_buf_adds(&t, tok);
	bs_buf_adds(&t, " \xe2\x82\n");
	scan(t.ptr, t.len, &fs);
	cr_assert_eq(fs.len, 1);
	for (const unsigned char *p = (const unsigned char *)fs.items[0]->line_text; *p; p++)
		cr_assert(*p != 0xff && *p != 0xfe && *p != 0x01, "raw invalid byte in line_text");
	bs_findings_free(&fs);
	bs_buf_free(&t);
}

/* Streams content in pieces of every size through a tiny chunk so that the
 * token straddles step boundaries at every possible position. */
Test(engine, chunk_boundaries_find_each_token_exactly_once, .init = NULL)
{
	char tok[48];
	bs_buf t = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	setup_with(512, 0);
	bs_test_make_bst_token(tok);
	for (int i = 0; i < 300; i++)
		bs_buf_addf(&t, "line %d %s\n", i, i % 7 == 3 ? tok : "nothing here at all");
	for (size_t piece = 1; piece < 700; piece += piece < 64 ? 1 : 37) {
		bs_findings fs = BS_FINDINGS_INIT;
		bs_scan_input in = { "s", 1, 0, NULL, NULL };
		size_t expect = 0, line = 0;
		bs_scan_begin(ctx, &in);
		for (size_t off = 0; off < t.len; off += piece)
			bs_scan_feed(ctx, t.ptr + off, off + piece < t.len ? piece : t.len - off, &err);
		bs_scan_end(ctx, &fs, &err);
		for (int i = 0; i < 300; i++)
			expect += i % 7 == 3;
		cr_assert_eq(fs.len, expect, "piece %zu: %zu findings, want %zu", piece, fs.len, expect);
		for (size_t k = 0; k < fs.len; k++) {
			line = (size_t)fs.items[k]->line;
			cr_assert_eq((line - 1) % 7, 3, "piece %zu: wrong line %zu", piece, line);
			cr_assert_eq(memcmp(t.ptr + fs.items[k]->offset, tok, 47), 0, "piece %zu: wrong offset", piece);
			if (k)
				cr_assert_gt(fs.items[k]->offset, fs.items[k - 1]->offset);
		}
		bs_findings_free(&fs);
	}
	bs_buf_free(&t);
}

Test(engine, in_memory_buffer_larger_than_a_chunk, .init = NULL)
{
	char tok[48];
	bs_buf t = BS_BUF_INIT;
	bs_findings fs = BS_FINDINGS_INIT;
	setup_with(1000, 0);
	bs_test_make_bst_token(tok);
	/* Put tokens right across the 1000-byte step edges. */
	while (t.len < 20000) {
		size_t edge = (t.len / 1000 + 1) * 1000;
		while (t.len < edge - 20)
			bs_buf_addch(&t, t.len % 50 == 49 ? '\n' : 'z');
		bs_buf_addch(&t, ' ');
		bs_buf_adds(&t, tok);
		bs_buf_addch(&t, ' ');
	}
	scan(t.ptr, t.len, &fs);
	cr_assert_eq(fs.len, 20);
	bs_findings_free(&fs);
	bs_buf_free(&t);
}

Test(engine, empty_input_finds_nothing)
{
	bs_findings fs = BS_FINDINGS_INIT;
	scan("", 0, &fs);
	cr_assert_eq(fs.len, 0);
}
