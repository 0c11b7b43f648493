#include <criterion/criterion.h>
#include <string.h>

#include "scanner/engine.h"
#include "scanner/rule.h"
#include "tests/support/testutil.h"

static const char good_rule[] =
	"{\"rules\": [{\"id\": \"acme-key\", \"description\": \"ACME key\", \"regex\": \"(acme_[a-z]{8})\","
	"\"keywords\": [\"acme_\"], \"secret_group\": 1, \"severity\": \"high\","
	"\"examples\": {\"tp\": [\"k=acme_abcdefgh\"], \"fp\": [\"acme_ABC\"]}}]}";

static int load(const char *json, bs_error *err)
{
	bs_ruleset *rs = bs_ruleset_new();
	int rc = bs_ruleset_load_json(rs, json, strlen(json), "my-rules.json", err);
	bs_ruleset_free(rs);
	return rc;
}

Test(rules, loads_a_good_rule_and_passes_its_examples)
{
	bs_ruleset *rs = bs_ruleset_new();
	bs_error err = BS_ERROR_INIT;
	bs_buf report = BS_BUF_INIT;
	bs_rule *r;
	cr_assert_eq(bs_ruleset_load_json(rs, good_rule, strlen(good_rule), "my-rules.json", &err), 0, "%s",
		     err.message);
	r = bs_ruleset_find(rs, "acme-key");
	cr_assert_not_null(r);
	cr_assert_str_eq(r->family, "acme");
	cr_assert_eq(r->severity, BS_SEV_HIGH);
	cr_assert_eq(r->max_length, BS_RULE_DEFAULT_MAX_LENGTH);
	cr_assert_eq(bs_rule_test_examples(r, &report, &err), 0, "%s", report.ptr);
	bs_buf_free(&report);
	bs_ruleset_free(rs);
}

Test(rules, bad_regex_error_names_file_rule_message_and_offset)
{
	bs_error err = BS_ERROR_INIT;
	const char *bad = "[{\"id\": \"broken\", \"description\": \"d\", \"regex\": \"abc(def\", \"keywords\": [\"abc\"],"
			  "\"severity\": \"low\"}]";
	cr_assert_eq(load(bad, &err), BS_ERR_RULE);
	cr_assert_not_null(strstr(err.message, "my-rules.json"), "%s", err.message);
	cr_assert_not_null(strstr(err.message, "'broken'"), "%s", err.message);
	cr_assert_not_null(strstr(err.message, "offset 7"), "%s", err.message);
	cr_assert_not_null(strstr(err.message, "missing closing parenthesis"), "%s", err.message);
}

Test(rules, missing_fields_are_named)
{
	bs_error err = BS_ERROR_INIT;
	cr_assert_eq(load("[{\"id\": \"r1\", \"description\": \"d\", \"keywords\": [\"k\"], \"severity\": \"low\"}]", &err),
		     BS_ERR_RULE);
	cr_assert_not_null(strstr(err.message, "'r1'"));
	cr_assert_not_null(strstr(err.message, "\"regex\""), "%s", err.message);
	cr_assert_eq(load("[{\"id\": \"r2\", \"description\": \"d\", \"regex\": \"k\", \"keywords\": [], \"severity\": \"low\"}]",
			  &err),
		     BS_ERR_RULE);
	cr_assert_not_null(strstr(err.message, "\"keywords\""), "%s", err.message);
	cr_assert_eq(load("[{\"id\": \"r3\", \"description\": \"d\", \"regex\": \"k\", \"keywords\": [\"k\"], \"severity\": \"dire\"}]",
			  &err),
		     BS_ERR_RULE);
	cr_assert_not_null(strstr(err.message, "\"severity\""), "%s", err.message);
	cr_assert_eq(load("[{\"id\": \"r4\", \"description\": \"d\", \"regex\": \"(k)\", \"keywords\": [\"k\"], \"severity\": \"low\","
			  "\"secret_group\": 2}]",
			  &err),
		     BS_ERR_RULE);
	cr_assert_not_null(strstr(err.message, "secret_group"), "%s", err.message);
	cr_assert_eq(load("[{\"id\": \"r5\", \"description\": \"d\", \"regex\": \"k\", \"keywords\": [\"k\"], \"severity\": \"low\","
			  "\"validators\": [{\"type\": \"nope\"}]}]",
			  &err),
		     BS_ERR_RULE);
	cr_assert_not_null(strstr(err.message, "unknown validator type \"nope\""), "%s", err.message);
}

Test(rules, invalid_json_names_file_and_line)
{
	bs_error err = BS_ERROR_INIT;
	cr_assert_eq(load("{\"rules\": [\n{\"id\": \"x\",\n oops}]}", &err), BS_ERR_RULE);
	cr_assert_not_null(strstr(err.message, "my-rules.json:3"), "%s", err.message);
}

Test(rules, rule_without_examples_fails_its_test)
{
	bs_ruleset *rs = bs_ruleset_new();
	bs_error err = BS_ERROR_INIT;
	bs_buf report = BS_BUF_INIT;
	const char *j = "[{\"id\": \"noex\", \"description\": \"d\", \"regex\": \"zz[0-9]+\", \"keywords\": [\"zz\"],"
			"\"severity\": \"low\", \"examples\": {\"tp\": [\"zz1\"]}}]";
	cr_assert_eq(bs_ruleset_load_json(rs, j, strlen(j), "x.json", &err), 0);
	cr_assert_eq(bs_rule_test_examples(bs_ruleset_find(rs, "noex"), &report, &err), 1);
	cr_assert_not_null(strstr(report.ptr, "no false-positive"));
	bs_buf_free(&report);
	bs_ruleset_free(rs);
}

Test(rules, later_rule_with_same_id_overrides)
{
	bs_ruleset *rs = bs_ruleset_new();
	bs_error err = BS_ERROR_INIT;
	const char *j = "[{\"id\": \"bastionary-pat\", \"description\": \"mine\", \"regex\": \"bst_x\", \"keywords\": [\"bst_\"],"
			"\"severity\": \"low\"}]";
	cr_assert_eq(bs_ruleset_load_default(rs, &err), 0, "%s", err.message);
	cr_assert_eq(bs_ruleset_load_json(rs, j, strlen(j), "x.json", &err), 0);
	cr_assert_str_eq(bs_ruleset_find(rs, "bastionary-pat")->description, "mine");
	bs_ruleset_free(rs);
}

Test(rules, default_pack_bastionary_rule_passes_its_examples)
{
	bs_ruleset *rs = bs_ruleset_new();
	bs_error err = BS_ERROR_INIT;
	bs_buf report = BS_BUF_INIT;
	bs_rule *r;
	cr_assert_eq(bs_ruleset_load_default(rs, &err), 0, "%s", err.message);
	r = bs_ruleset_find(rs, "bastionary-pat");
	cr_assert_not_null(r);
	cr_assert(r->issuer);
	cr_assert_geq(r->n_fp, 5);
	cr_assert_eq(bs_rule_test_examples(r, &report, &err), 0, "%s", report.ptr);
	bs_buf_free(&report);
	bs_ruleset_free(rs);
}

Test(rules, load_path_reads_a_directory_and_reports_a_missing_one)
{
	char *dir = bs_test_mkdtemp();
	bs_ruleset *rs = bs_ruleset_new();
	bs_error err = BS_ERROR_INIT;
	char *missing = bs_xasprintf("%s/nope", dir);
	bs_test_write_str(dir, "a.json", good_rule);
	bs_test_write_str(dir, "notes.txt", "not a rule");
	cr_assert_eq(bs_ruleset_load_path(rs, dir, &err), 0, "%s", err.message);
	cr_assert_eq(bs_ruleset_count(rs), 1);
	cr_assert_eq(bs_ruleset_load_path(rs, missing, &err), BS_ERR_RULE);
	cr_assert_not_null(strstr(err.message, missing));
	bs_ruleset_free(rs);
	bs_test_rmtree(dir);
	free(dir);
	free(missing);
}
