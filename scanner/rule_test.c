#include <stdlib.h>
#include <string.h>

#include "scanner/engine.h"
#include "scanner/rule_internal.h"
#include "common/banned.h"

static int count_findings(bs_scan_ctx *ctx, const char *text, size_t *n, bs_error *err)
{
	bs_findings fs = BS_FINDINGS_INIT;
	bs_scan_input in = { "example", 1, 0, NULL, NULL };
	int rc = bs_scan_buffer(ctx, &in, text, strlen(text), &fs, err);
	*n = fs.len;
	bs_findings_free(&fs);
	return rc;
}

int bs_rule_test_examples(bs_rule *rule, bs_buf *report, bs_error *err)
{
	bs_ruleset *rs = bs_ruleset_new();
	bs_scanner *sc = NULL;
	bs_scan_ctx *ctx = NULL;
	int failures = 0, rc;

	rc = bs_rule_compile(rule, err);
	if (rc < 0) {
		bs_buf_addf(report, "%s: %s\n", rule->id, err->message);
		bs_ruleset_free(rs);
		return 1;
	}
	bs_ruleset_add_borrowed(rs, rule);
	if ((rc = bs_scanner_new(&sc, rs, NULL, err)) < 0 || (rc = bs_scan_ctx_new(&ctx, sc, err)) < 0) {
		bs_scanner_free(sc);
		bs_ruleset_free(rs);
		return rc;
	}
	if (!rule->n_tp) {
		bs_buf_addf(report, "%s: no true-positive (tp) example\n", rule->id);
		failures++;
	}
	if (!rule->n_fp) {
		bs_buf_addf(report, "%s: no false-positive (fp) example\n", rule->id);
		failures++;
	}
	for (size_t i = 0; i < rule->n_tp; i++) {
		size_t n;
		if (count_findings(ctx, rule->tp_examples[i], &n, err) == 0 && n == 0) {
			bs_buf_addf(report, "%s: tp example #%zu found nothing: %s\n", rule->id, i + 1,
				    rule->tp_examples[i]);
			failures++;
		}
	}
	for (size_t i = 0; i < rule->n_fp; i++) {
		size_t n;
		if (count_findings(ctx, rule->fp_examples[i], &n, err) == 0 && n != 0) {
			bs_buf_addf(report, "%s: fp example #%zu was reported: %s\n", rule->id, i + 1,
				    rule->fp_examples[i]);
			failures++;
		}
	}
	bs_scan_ctx_free(ctx);
	bs_scanner_free(sc);
	bs_ruleset_free(rs);
	return failures;
}
