/* Bad rules: catastrophic regexes (refused at load with a clear error, or bounded by the PCRE2
 * limits mid-scan when they come from the embedded pack), rule directories with nothing in them.
 * The default pack must pass the regex-safety check that user rules get at load time. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/engine.h"
#include "scanner/rule.h"
#include "scanner/rule_internal.h"
#include "tests/support/testutil.h"

/* A rule file with one rule; regex and the tp/fp examples are JSON-escaped by the caller. */
static char *rule_json(const char *id, const char *regex, const char *kw, const char *tp, const char *fp)
{
	return bs_xasprintf("{\"rules\": [{\"id\": \"%s\", \"description\": \"test rule\", \"regex\": \"%s\", "
			    "\"keywords\": [\"%s\"], \"severity\": \"low\", \"examples\": {\"tp\": [\"%s\"], \"fp\": "
			    "[\"%s\"]}}]}",
			    id, regex, kw, tp, fp);
}

static int load(const char *json, bs_error *err)
{
	bs_ruleset *rs = bs_ruleset_new();
	int rc = bs_ruleset_load_json(rs, json, strlen(json), "user-rules.json", err);
	bs_ruleset_free(rs);
	return rc;
}

Test(reliability_rules, the_default_pack_passes_the_regex_safety_check, .timeout = 120)
{
	bs_error err = BS_ERROR_INIT;
	bs_ruleset *rs = bs_ruleset_new();
	cr_assert_eq(bs_ruleset_load_default(rs, &err), 0, "%s", err.message);
	cr_assert_gt(bs_ruleset_count(rs), 0);
	for (size_t i = 0; i < bs_ruleset_count(rs); i++) {
		bs_rule *r = bs_ruleset_get(rs, i);
		cr_expect_eq(bs_rule_check_safety(r, &err), 0, "%s", err.message);
	}
	bs_ruleset_free(rs);
}

/* Nested and overlapping repeats that backtrack exponentially once the text stops matching. */
static const char *const catastrophic[][4] = {
	{ "nested-plus", "ktok_(a+)+b", "ktok_", "ktok_aab" },
	{ "word-space-run", "ktok_(\\\\w+\\\\s?)+$", "ktok_", "ktok_ab cd" },
	{ "alternation-overlap", "ktok_(a|aa)+c", "ktok_", "ktok_aac" },
	{ "adjacent-repeats", "ktok_(x+x+)+y", "ktok_", "ktok_xxy" },
	{ "dot-star-groups", "ktok_(.*a){12}z", "ktok_", "ktok_aaaaaaaaaaaaz" },
};

Test(reliability_rules, catastrophic_regexes_are_refused_naming_rule_and_file, .timeout = 120)
{
	for (size_t i = 0; i < sizeof(catastrophic) / sizeof(catastrophic[0]); i++) {
		bs_error err = BS_ERROR_INIT;
		char *json = rule_json(catastrophic[i][0], catastrophic[i][1], catastrophic[i][2], catastrophic[i][3],
				       "nothing");
		cr_expect_eq(load(json, &err), BS_ERR_RULE, "%s was accepted", catastrophic[i][0]);
		cr_expect_not_null(strstr(err.message, "user-rules.json"), "%s", err.message);
		cr_expect_not_null(strstr(err.message, catastrophic[i][0]), "%s", err.message);
		cr_expect_not_null(strstr(err.message, "catastrophically"), "%s", err.message);
		free(json);
	}
}

Test(reliability_rules, well_behaved_unbounded_regexes_are_accepted)
{
	static const char *const ok[][4] = {
		{ "plain-run", "ktok_[a-z0-9]+", "ktok_", "ktok_abc123" },
		{ "assignment", "(?i)ktok[_-]?key\\\\s*[:=]\\\\s*['\\\\\\\"]?([a-z0-9]{32,64})", "ktok",
		  "ktok_key = 0123456789abcdef0123456789abcdef" },
		{ "lookarounds", "(?<![a-z])ktok_[A-Za-z0-9_-]{20}(?![A-Za-z0-9_-])", "ktok_", "ktok_abcdefghij0123456789" },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		bs_error err = BS_ERROR_INIT;
		char *json = rule_json(ok[i][0], ok[i][1], ok[i][2], ok[i][3], "nothing");
		cr_expect_eq(load(json, &err), 0, "%s: %s", ok[i][0], err.message);
		free(json);
	}
}

Test(reliability_rules, a_regex_that_exceeds_the_limits_on_its_own_example_is_refused)
{
	bs_error err = BS_ERROR_INIT;
	bs_buf fp = BS_BUF_INIT;
	char *json;
	bs_buf_adds(&fp, "ktok_");
	for (int i = 0; i < 40; i++)
		bs_buf_addch(&fp, 'a');
	bs_buf_adds(&fp, "!b"); /* the b PCRE2 requires, after the point where matching fails */
	json = rule_json("own-example", "ktok_(a|a)+b", "ktok_", "ktok_ab", fp.ptr);
	cr_assert_eq(load(json, &err), BS_ERR_RULE);
	cr_assert_not_null(strstr(err.message, "fp example #1"), "%s", err.message);
	cr_assert_not_null(strstr(err.message, "own-example"), "%s", err.message);
	free(json);
	bs_buf_free(&fp);
}

static int run_bstscan(bs_test_proc *p, const char *cwd, const char *const *args)
{
	const char *argv[16];
	size_t n = 0;
	argv[n++] = BSTSCAN_BIN;
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	cr_assert_eq(bs_test_run(p, argv, cwd, NULL, NULL, 0, 120), 0);
	return p->status;
}

Test(reliability_rules, the_cli_refuses_a_catastrophic_rule_from_rules_or_config_with_exit_2, .timeout = 120)
{
	char *dir = bs_test_mkdtemp();
	char *json = rule_json("nested-plus", "ktok_(a+)+b", "ktok_", "ktok_aab", "nothing");
	bs_buf cfg = BS_BUF_INIT;
	bs_test_proc p;
	bs_test_write_str(dir, "evil.json", json);
	bs_test_write_str(dir, "src/a.txt", "hello\n");
	cr_assert_eq(run_bstscan(&p, dir, (const char *[]){ "scan", "--rules", "evil.json", "src", NULL }), 2);
	cr_assert_not_null(strstr(p.err.ptr, "evil.json"), "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, "nested-plus"), "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, "catastrophically"), "%s", p.err.ptr);
	bs_test_proc_free(&p);

	/* The same rule inline in the project config. */
	bs_buf_adds(&cfg, "{\"rules\": [");
	bs_buf_adds(&cfg, strchr(json, '[') + 1);
	bs_buf_truncate(&cfg, cfg.len - 1); /* drop the file's closing brace */
	bs_buf_adds(&cfg, "}");
	bs_test_write_str(dir, ".bstscan.json", cfg.ptr);
	cr_assert_eq(run_bstscan(&p, dir, (const char *[]){ "scan", ".", NULL }), 2, "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, ".bstscan.json"), "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, "nested-plus"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	bs_buf_free(&cfg);
	free(json);
	bs_test_rmtree(dir);
	free(dir);
}

/* Rules of the embedded pack skip the load-time check (the suite runs it instead). Should one be
 * catastrophic anyway, the PCRE2 match and depth limits stop it on each window, the scan reports
 * it and goes on: the other rules still find their secrets. */
Test(reliability_rules, a_catastrophic_regex_met_mid_scan_is_bounded_reported_and_the_scan_goes_on, .timeout = 120)
{
	bs_error err = BS_ERROR_INIT;
	bs_ruleset *rs = bs_ruleset_new();
	bs_scanner *sc;
	bs_scan_ctx *ctx;
	bs_findings fs = BS_FINDINGS_INIT;
	bs_scan_input in = { "big.txt", 1, 0, NULL, NULL };
	bs_rule evil;
	char tok[48];
	bs_buf text = BS_BUF_INIT;
	size_t bst = 0;
	memset(&evil, 0, sizeof(evil));
	evil.id = "evil";
	evil.description = "catastrophic";
	evil.source = "test";
	evil.regex = "ktok_(a+)+b";
	evil.keywords = (char *[]){ "ktok_" };
	evil.n_keywords = 1;
	evil.max_length = 256;
	evil.compiled = bs_rule_compiled_new();
	cr_assert_eq(bs_ruleset_load_default(rs, &err), 0, "%s", err.message);
	bs_ruleset_add_borrowed(rs, &evil);
	bs_test_make_bst_token(tok);
	for (int i = 0; i < 50; i++) {
		bs_buf_adds(&text, "ktok_");
		for (int k = 0; k < 200; k++)
			bs_buf_addch(&text, 'a');
		bs_buf_addf(&text, "!\nline %d %s\n", i, i % 10 == 0 ? tok : "clean");
	}
	cr_assert_eq(bs_scanner_new(&sc, rs, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scan_ctx_new(&ctx, sc, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scan_buffer(ctx, &in, text.ptr, text.len, &fs, &err), 0, "%s", err.message);
	for (size_t i = 0; i < fs.len; i++)
		bst += strcmp(fs.items[i]->rule_id, "bastionary-pat") == 0;
	cr_assert_eq(bst, 5, "the other rules must still find every token");
	cr_assert_not_null(bs_scan_ctx_warnings(ctx));
	cr_assert_not_null(strstr(bs_scan_ctx_warnings(ctx), "rule 'evil' stopped"), "%s", bs_scan_ctx_warnings(ctx));
	cr_assert_not_null(strstr(bs_scan_ctx_warnings(ctx), "limit"), "%s", bs_scan_ctx_warnings(ctx));
	bs_findings_free(&fs);
	bs_scan_ctx_free(ctx);
	bs_scanner_free(sc);
	bs_ruleset_free(rs);
	bs_rule_compiled_free(evil.compiled);
	bs_buf_free(&text);
}

/* A rules directory with no *.json file used to reach qsort(NULL, 0, ...) (undefined behaviour;
 * UBSan aborts). Found by fuzz_config: tests/fixtures/fuzz-regressions/fuzz_config/rule-files-names-an-empty-directory. */
Test(reliability_rules, an_empty_rules_directory_loads_nothing_and_is_not_an_error)
{
	char *dir = bs_test_mkdtemp();
	char *rules = bs_xasprintf("%s/empty", dir);
	bs_error err = BS_ERROR_INIT;
	bs_ruleset *rs = bs_ruleset_new();
	bs_test_proc p;
	bs_test_write_str(dir, "empty/README", "no rules here\n");
	bs_test_write_str(dir, "a.txt", "hello\n");
	cr_assert_eq(bs_ruleset_load_path(rs, rules, &err), 0, "%s", err.message);
	cr_assert_eq(bs_ruleset_count(rs), 0);
	bs_ruleset_free(rs);
	cr_assert_eq(run_bstscan(&p, dir, (const char *[]){ "scan", "--rules", "empty", "a.txt", NULL }), 0, "%s",
		     p.err.ptr);
	bs_test_proc_free(&p);
	bs_test_rmtree(dir);
	free(rules);
	free(dir);
}
