/* The rule-file loader on arbitrary bytes: loading must either succeed or fail with a message that
 * names the source; a loaded rule set must compile, run its own examples and scan without crashing. */
#include <stdint.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "scanner/engine.h"
#include "scanner/rule.h"
#include "common/banned.h"

int BS_FUZZ_ENTRY(const uint8_t *data, size_t size);

int BS_FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	bs_ruleset *rs = bs_ruleset_new();
	bs_error err = BS_ERROR_INIT;
	int rc = bs_ruleset_load_json(rs, (const char *)data, size, "fuzz.json", &err);
	if (rc < 0) {
		BS_FUZZ_CHECK(rc == BS_ERR_RULE, "rc %d", rc);
		BS_FUZZ_CHECK(strstr(err.message, "fuzz.json") != NULL, "error does not name the file: %s", err.message);
	} else {
		bs_scanner *sc = NULL;
		bs_scan_ctx *ctx = NULL;
		bs_buf sample = BS_BUF_INIT;
		for (size_t i = 0; i < bs_ruleset_count(rs); i++) {
			bs_rule *r = bs_ruleset_get(rs, i);
			bs_buf report = BS_BUF_INIT;
			bs_error e2 = BS_ERROR_INIT;
			BS_FUZZ_CHECK(r->id && r->id[0] && r->regex && r->n_keywords > 0, "incomplete rule");
			BS_FUZZ_CHECK(r->max_length >= 1 && r->max_length <= BS_RULE_MAX_MAX_LENGTH, "max_length %zu",
				      r->max_length);
			bs_rule_test_examples(r, &report, &e2);
			bs_buf_free(&report);
			for (size_t k = 0; k < r->n_tp; k++) {
				bs_buf_adds(&sample, r->tp_examples[k]);
				bs_buf_addch(&sample, '\n');
			}
		}
		/* Every rule together on the concatenated examples, in small chunks. */
		if (bs_scanner_new(&sc, rs, &(bs_scanner_opts){ 0, 64 }, &err) == 0 &&
		    bs_scan_ctx_new(&ctx, sc, &err) == 0) {
			bs_findings fs = BS_FINDINGS_INIT;
			bs_scan_input in = { "sample", 1, 0, NULL, NULL };
			bs_scan_buffer(ctx, &in, sample.ptr ? sample.ptr : "", sample.len, &fs, &err);
			for (size_t i = 0; i < fs.len; i++)
				BS_FUZZ_CHECK(fs.items[i]->offset + fs.items[i]->secret_len <= sample.len, "finding past end");
			bs_findings_free(&fs);
		}
		bs_scan_ctx_free(ctx);
		bs_scanner_free(sc);
		bs_buf_free(&sample);
	}
	bs_ruleset_free(rs);
	return 0;
}
