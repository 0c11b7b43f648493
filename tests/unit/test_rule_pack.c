/* The default rule pack as a whole: coverage of the families issue 7 lists,
 * the quality bar every rule must meet (examples, keywords, validators), and
 * interactions between rules (cross-rule matches, PEM blocks once each). */
#include <criterion/criterion.h>
#include <string.h>

#include "common/buf.h"
#include "scanner/engine.h"
#include "scanner/rule.h"
#include "scanner/validate.h"
#include "tests/support/testutil.h"

static bs_ruleset *pack(void)
{
	bs_ruleset *rs = bs_ruleset_new();
	bs_error err = BS_ERROR_INIT;
	cr_assert_eq(bs_ruleset_load_default(rs, &err), 0, "%s", err.message);
	return rs;
}

static int has_validator(const bs_rule *r, const char *name)
{
	for (size_t i = 0; i < r->n_validators; i++)
		if (strcmp(r->validators[i].type->name, name) == 0)
			return 1;
	return 0;
}

/* Scans text with the given scanner; returns the findings (caller frees). */
static bs_findings scan(bs_scanner *s, const char *text)
{
	bs_scan_ctx *ctx;
	bs_error err = BS_ERROR_INIT;
	bs_findings fs = BS_FINDINGS_INIT;
	bs_scan_input in = { "example", 1, 0, NULL, NULL };
	cr_assert_eq(bs_scan_ctx_new(&ctx, s, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scan_buffer(ctx, &in, text, strlen(text), &fs, &err), 0, "%s", err.message);
	bs_scan_ctx_free(ctx);
	return fs;
}

Test(rule_pack, covers_every_family_of_the_issue)
{
	static const char *const families[] = {
		"bastionary", "github",	     "gitlab",	    "slack",	   "stripe",   "npm",	      "pypi",
		"aws",	      "google",	     "openai",	    "anthropic",   "huggingface", "shopify", "digitalocean",
		"doppler",    "hashicorp",   "databricks",  "linear",	   "postman",  "pulumi",      "grafana",
		"sendgrid",   "twilio",	     "mailgun",	    "atlassian",   "sentry",   "planetscale", "supabase",
		"figma",      "private-key", NULL,
	};
	bs_ruleset *rs = pack();
	bs_buf missing = BS_BUF_INIT;
	for (size_t f = 0; families[f]; f++) {
		int found = 0;
		for (size_t i = 0; i < bs_ruleset_count(rs) && !found; i++)
			found = strcmp(bs_ruleset_get(rs, i)->family, families[f]) == 0;
		if (!found)
			bs_buf_addf(&missing, " %s", families[f]);
	}
	cr_assert_eq(missing.len, 0, "families without a rule:%s", missing.ptr);
	bs_buf_free(&missing);
	bs_ruleset_free(rs);
}

Test(rule_pack, every_rule_meets_the_bar)
{
	bs_ruleset *rs = pack();
	bs_buf problems = BS_BUF_INIT;
	for (size_t i = 0; i < bs_ruleset_count(rs); i++) {
		const bs_rule *r = bs_ruleset_get(rs, i);
		if (r->n_tp < 2)
			bs_buf_addf(&problems, "%s: %zu tp examples (at least 2)\n", r->id, r->n_tp);
		if (r->n_fp < 3)
			bs_buf_addf(&problems, "%s: %zu fp examples (at least 3)\n", r->id, r->n_fp);
		/* Short keywords fire everywhere and make the prefilter useless. */
		for (size_t k = 0; k < r->n_keywords; k++)
			if (strlen(r->keywords[k]) < 3)
				bs_buf_addf(&problems, "%s: keyword '%s' is shorter than 3 bytes\n", r->id,
					    r->keywords[k]);
		if (r->max_length > BS_RULE_MAX_MAX_LENGTH)
			bs_buf_addf(&problems, "%s: max_length %zu\n", r->id, r->max_length);
		if (r->issuer != (strcmp(r->family, "bastionary") == 0))
			bs_buf_addf(&problems, "%s: issuer is %d; only bastionary rules are checked by the issuer\n",
				    r->id, r->issuer);
		if (!r->description[0] || !r->family[0])
			bs_buf_addf(&problems, "%s: empty description or family\n", r->id);
	}
	cr_assert_eq(problems.len, 0, "%s", problems.ptr);
	bs_buf_free(&problems);
	bs_ruleset_free(rs);
}

Test(rule_pack, every_rule_passes_its_own_examples)
{
	bs_ruleset *rs = pack();
	bs_buf report = BS_BUF_INIT;
	int failures = 0;
	for (size_t i = 0; i < bs_ruleset_count(rs); i++) {
		bs_error err = BS_ERROR_INIT;
		int n = bs_rule_test_examples(bs_ruleset_get(rs, i), &report, &err);
		cr_assert_geq(n, 0, "%s: %s", bs_ruleset_get(rs, i)->id, err.message);
		failures += n;
	}
	cr_assert_eq(failures, 0, "%d failing examples:\n%s", failures, report.ptr);
	bs_buf_free(&report);
	bs_ruleset_free(rs);
}

Test(rule_pack, formats_with_a_checksum_or_structure_use_their_validator)
{
	static const struct {
		const char *rule, *validator;
	} want[] = {
		{ "bastionary-pat", "last_char_in" },
		{ "github-classic-token", "crc32_base62" },
		{ "npm-access-token", "crc32_base62" },
		{ "pypi-api-token", "pypi_macaroon" },
		{ "pypi-test-api-token", "pypi_macaroon" },
		{ "grafana-service-account-token", "crc32_hex" },
		{ "atlassian-api-token", "crc32_hex" },
		{ "pem-private-key", "pem_private_key" },
		{ "pgp-private-key", "pgp_private_key" },
		{ "aws-secret-access-key", "char_classes" },
		{ "aws-access-key-id", "not_placeholder" },
	};
	bs_ruleset *rs = pack();
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const bs_rule *r = bs_ruleset_find(rs, want[i].rule);
		cr_assert_not_null(r, "rule %s is missing", want[i].rule);
		cr_assert(has_validator(r, want[i].validator), "%s lacks validator %s", want[i].rule,
			  want[i].validator);
	}
	/* The last_char_in set of bst_ stays the 2-zero-bit base64url subset. */
	{
		const bs_rule *b = bs_ruleset_find(rs, "bastionary-pat");
		cr_assert_str_eq((const char *)b->validators[0].params, "AEIMQUYcgkosw048");
	}
	/* Every rule without a checksum still rejects placeholders somehow. */
	for (size_t i = 0; i < bs_ruleset_count(rs); i++) {
		const bs_rule *r = bs_ruleset_get(rs, i);
		cr_assert_gt(r->n_validators, 0, "%s has no validator", r->id);
	}
	bs_ruleset_free(rs);
}

/* Overlaps that are intended: the secret-key rule needs an access key id
 * next to the secret, and that id is itself reported by its own rule. */
static int expected_overlap(const char *rule, const char *other)
{
	return strcmp(rule, "aws-secret-access-key") == 0 && strcmp(other, "aws-access-key-id") == 0;
}

Test(rule_pack, true_examples_do_not_trigger_unrelated_rules)
{
	bs_ruleset *rs = pack();
	bs_scanner *s;
	bs_error err = BS_ERROR_INIT;
	bs_buf cross = BS_BUF_INIT;
	cr_assert_eq(bs_scanner_new(&s, rs, NULL, &err), 0, "%s", err.message);
	for (size_t i = 0; i < bs_ruleset_count(rs); i++) {
		const bs_rule *r = bs_ruleset_get(rs, i);
		for (size_t t = 0; t < r->n_tp; t++) {
			bs_findings fs = scan(s, r->tp_examples[t]);
			int own = 0;
			for (size_t k = 0; k < fs.len; k++) {
				const char *id = fs.items[k]->rule_id;
				if (strcmp(id, r->id) == 0)
					own++;
				else if (!expected_overlap(r->id, id))
					bs_buf_addf(&cross, "%s tp #%zu also matches %s\n", r->id, t + 1, id);
			}
			if (!own)
				bs_buf_addf(&cross, "%s tp #%zu not found with the full pack loaded\n", r->id, t + 1);
			bs_findings_free(&fs);
		}
	}
	cr_assert_eq(cross.len, 0, "%s", cross.ptr);
	bs_buf_free(&cross);
	bs_scanner_free(s);
	bs_ruleset_free(rs);
}

static size_t count_rule(const bs_findings *fs, const char *id)
{
	size_t n = 0;
	for (size_t i = 0; i < fs->len; i++)
		n += strcmp(fs->items[i]->rule_id, id) == 0;
	return n;
}

Test(rule_pack, pem_blocks_are_reported_once_each_even_when_streamed)
{
	bs_ruleset *rs = pack();
	const bs_rule *pem = bs_ruleset_find(rs, "pem-private-key");
	bs_scanner_opts opts = { 0, 4096 };
	bs_scanner *s;
	bs_scan_ctx *ctx;
	bs_error err = BS_ERROR_INIT;
	bs_buf text = BS_BUF_INIT;
	bs_findings fs = BS_FINDINGS_INIT;
	bs_scan_input in = { "keys.txt", 1, 0, NULL, NULL };

	cr_assert_not_null(pem);
	cr_assert_geq(pem->max_length, 3300, "a 4096-bit RSA key must fit in max_length");
	/* Two blocks, with filler between them so they land in different chunks. */
	bs_buf_adds(&text, pem->tp_examples[0]);
	for (int i = 0; i < 200; i++)
		bs_buf_adds(&text, "\nsome ordinary configuration line = 42");
	bs_buf_addch(&text, '\n');
	bs_buf_adds(&text, pem->tp_examples[0]);
	bs_buf_addch(&text, '\n');

	cr_assert_eq(bs_scanner_new(&s, rs, &opts, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scan_ctx_new(&ctx, s, &err), 0, "%s", err.message);
	bs_scan_begin(ctx, &in);
	for (size_t off = 0; off < text.len; off += 777)
		bs_scan_feed(ctx, text.ptr + off, text.len - off < 777 ? text.len - off : 777, &err);
	cr_assert_eq(bs_scan_end(ctx, &fs, &err), 0, "%s", err.message);
	cr_assert_eq(count_rule(&fs, "pem-private-key"), 2, "%zu findings", fs.len);
	cr_assert_eq(fs.len, 2);
	/* The secret is the whole block, BEGIN to END. */
	cr_assert_eq(strncmp(fs.items[0]->secret, "-----BEGIN ", 11), 0);
	cr_assert_not_null(strstr(fs.items[0]->secret, "-----END "));
	bs_findings_free(&fs);
	bs_scan_ctx_free(ctx);
	bs_scanner_free(s);
	bs_buf_free(&text);
	bs_ruleset_free(rs);
}

Test(rule_pack, validator_failures_surface_only_with_report_invalid)
{
	bs_ruleset *rs = pack();
	const bs_rule *gh = bs_ruleset_find(rs, "github-classic-token");
	bs_scanner_opts opts = { 1, 0 };
	bs_scanner *plain, *invalid;
	bs_error err = BS_ERROR_INIT;
	bs_findings fs;
	/* fp #1 of the GitHub rule is a well-formed token with a wrong checksum. */
	const char *bad = gh->fp_examples[0];
	cr_assert_eq(bs_scanner_new(&plain, rs, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(bs_scanner_new(&invalid, rs, &opts, &err), 0, "%s", err.message);
	fs = scan(plain, bad);
	cr_assert_eq(fs.len, 0);
	bs_findings_free(&fs);
	fs = scan(invalid, bad);
	cr_assert_eq(fs.len, 1);
	cr_assert_str_eq(fs.items[0]->rule_id, "github-classic-token");
	cr_assert_eq(fs.items[0]->severity, BS_SEV_LOW);
	cr_assert(fs.items[0]->invalid);
	cr_assert_str_eq(fs.items[0]->invalid_reason, "crc32_base62");
	bs_findings_free(&fs);
	bs_scanner_free(plain);
	bs_scanner_free(invalid);
	bs_ruleset_free(rs);
}

/* ---- bstscan rules list / test ------------------------------------------ */

static int run_rules(bs_test_proc *p, const char *cwd, const char *const *args)
{
	const char *argv[16];
	size_t n = 0;
	argv[n++] = BSTSCAN_BIN;
	argv[n++] = "rules";
	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	cr_assert_eq(bs_test_run(p, argv, cwd, NULL, NULL, 0, 60), 0);
	return p->status;
}

Test(rules_cli, list_shows_every_rule_as_text_and_json)
{
	bs_test_proc p;
	cJSON *arr, *it;
	size_t n = 0;
	int saw_github = 0;
	cr_assert_eq(run_rules(&p, NULL, (const char *[]){ "list", NULL }), 0, "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.out.ptr, "github-classic-token"));
	cr_assert_not_null(strstr(p.out.ptr, "crc32_base62"));
	cr_assert_not_null(strstr(p.out.ptr, "SEVERITY"));
	bs_test_proc_free(&p);

	cr_assert_eq(run_rules(&p, NULL, (const char *[]){ "list", "--format", "json", NULL }), 0, "%s", p.err.ptr);
	arr = cJSON_Parse(p.out.ptr);
	cr_assert(cJSON_IsArray(arr), "%s", p.out.ptr);
	cJSON_ArrayForEach(it, arr)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
		cr_assert(cJSON_IsString(id));
		cr_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "family")));
		cr_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "severity")));
		cr_assert(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(it, "validators")));
		if (strcmp(id->valuestring, "github-classic-token") == 0) {
			const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(it, "validators"), 0);
			cr_assert_str_eq(v->valuestring, "crc32_base62");
			saw_github = 1;
		}
		n++;
	}
	{
		bs_ruleset *rs = pack();
		cr_assert_eq(n, bs_ruleset_count(rs));
		bs_ruleset_free(rs);
	}
	cr_assert(saw_github);
	cJSON_Delete(arr);
	bs_test_proc_free(&p);
}

Test(rules_cli, list_honours_rules_and_no_default_rules)
{
	bs_test_proc p;
	char *dir = bs_test_mkdtemp();
	bs_test_write_str(dir, "mine.json",
			  "[{\"id\": \"acme-key\", \"description\": \"ACME\", \"regex\": \"(acme_[a-z]{8})\", "
			  "\"keywords\": [\"acme_\"], \"secret_group\": 1, \"severity\": \"high\"}]");
	cr_assert_eq(run_rules(&p, dir, (const char *[]){ "list", "--no-default-rules", "--rules", "mine.json", NULL }),
		     0, "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.out.ptr, "acme-key"));
	cr_assert_null(strstr(p.out.ptr, "github-classic-token"));
	cr_assert_not_null(strstr(p.out.ptr, "1 rules"));
	bs_test_proc_free(&p);
	cr_assert_eq(run_rules(&p, dir, (const char *[]){ "list", "--rules", "missing.json", NULL }), 2);
	cr_assert_not_null(strstr(p.err.ptr, "missing.json"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	bs_test_rmtree(dir);
	free(dir);
}

Test(rules_cli, test_passes_the_pack_and_reports_failures)
{
	bs_test_proc p;
	char *dir = bs_test_mkdtemp();
	cr_assert_eq(run_rules(&p, BS_SOURCE_DIR, (const char *[]){ "test", "rules", NULL }), 0, "%s%s", p.out.ptr,
		     p.err.ptr);
	cr_assert_not_null(strstr(p.out.ptr, "ok    github-classic-token"), "%s", p.out.ptr);
	cr_assert_not_null(strstr(p.out.ptr, " 0 failed"), "%s", p.out.ptr);
	bs_test_proc_free(&p);

	/* One tp that finds nothing and one fp that is reported. */
	bs_test_write_str(dir, "weak.json",
			  "{\"rules\": [{\"id\": \"demo-weak\", \"description\": \"d\", \"regex\": \"(demo_[a-z]{5})\", "
			  "\"keywords\": [\"demo_\"], \"secret_group\": 1, \"severity\": \"low\", \"examples\": "
			  "{\"tp\": [\"demo_abcde\", \"nothing here\"], \"fp\": [\"demo_zzzzz\"]}}]}");
	cr_assert_eq(run_rules(&p, dir, (const char *[]){ "test", "weak.json", NULL }), 1, "%s", p.out.ptr);
	cr_assert_not_null(strstr(p.out.ptr, "FAIL  demo-weak"), "%s", p.out.ptr);
	cr_assert_not_null(strstr(p.out.ptr, "nothing here"), "%s", p.out.ptr);
	cr_assert_not_null(strstr(p.out.ptr, "demo_zzzzz"), "%s", p.out.ptr);
	bs_test_proc_free(&p);

	bs_test_write_str(dir, "broken.json",
			  "[{\"id\": \"demo-broken\", \"description\": \"d\", \"regex\": \"(a\", \"keywords\": "
			  "[\"abc\"], \"severity\": \"low\"}]");
	cr_assert_eq(run_rules(&p, dir, (const char *[]){ "test", "broken.json", "weak.json", NULL }), 2);
	cr_assert_not_null(strstr(p.err.ptr, "broken.json"), "%s", p.err.ptr);
	cr_assert_not_null(strstr(p.err.ptr, "demo-broken"), "%s", p.err.ptr);
	bs_test_proc_free(&p);
	bs_test_rmtree(dir);
	free(dir);
}

Test(rules_cli, help_and_usage_errors)
{
	bs_test_proc p;
	cr_assert_eq(run_rules(&p, NULL, (const char *[]){ "--help", NULL }), 0);
	cr_assert_not_null(strstr(p.out.ptr, "bstscan rules list"));
	cr_assert_not_null(strstr(p.out.ptr, "bstscan rules test"));
	bs_test_proc_free(&p);
	cr_assert_eq(run_rules(&p, NULL, (const char *[]){ NULL }), 2);
	bs_test_proc_free(&p);
	cr_assert_eq(run_rules(&p, NULL, (const char *[]){ "frobnicate", NULL }), 2);
	cr_assert_not_null(strstr(p.err.ptr, "frobnicate"));
	bs_test_proc_free(&p);
	cr_assert_eq(run_rules(&p, NULL, (const char *[]){ "list", "--format", "xml", NULL }), 2);
	bs_test_proc_free(&p);
	cr_assert_eq(run_rules(&p, NULL, (const char *[]){ "test", NULL }), 2);
	bs_test_proc_free(&p);
}
