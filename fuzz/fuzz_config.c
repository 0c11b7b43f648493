/* The `.bstscan.json` config and baseline loaders on arbitrary bytes. Input byte 0 picks the
 * loader; the rest is the file's content, written to a file in a private temporary directory so
 * the real file-reading code runs (and relative rule_files resolve there). A failure must name the file; a success must leave an allowlist
 * and rule set that work. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "scanner/engine.h"
#include "scanner/rule.h"
#include "scanner/suppress.h"
#include "common/banned.h"

int BS_FUZZ_ENTRY(const uint8_t *data, size_t size);

static char *fc_dir;

static void fc_cleanup(void)
{
	if (fc_dir)
		rmdir(fc_dir);
}

int BS_FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	char path[4096];
	FILE *fp;
	int rc, which;
	bs_allowlist *al;
	bs_ruleset *rs;
	bs_error err = BS_ERROR_INIT;
	if (size < 1)
		return 0;
	which = data[0] & 1;
	data++;
	size--;
	/* rule_files may name any path: keep the fuzzer away from devices that block (/dev/stdin). */
	if (memmem(data, size, "/dev", 4) || memmem(data, size, "/proc", 5) || memmem(data, size, "/sys", 4))
		return 0;
	if (!fc_dir) {
		const char *t = getenv("TMPDIR");
		char tmpl[4096];
		snprintf(tmpl, sizeof(tmpl), "%s/bstscan-fuzz-XXXXXX", t && *t ? t : "/tmp");
		BS_FUZZ_CHECK(mkdtemp(tmpl) != NULL, "mkdtemp %s", tmpl);
		fc_dir = bs_xstrdup(tmpl);
		atexit(fc_cleanup);
	}
	snprintf(path, sizeof(path), "%s/%s", fc_dir, which ? "baseline.json" : ".bstscan.json");
	fp = fopen(path, "wb");
	BS_FUZZ_CHECK(fp && fwrite(data, 1, size, fp) == size && fclose(fp) == 0, "cannot write %s", path);
	al = bs_allowlist_new();
	rs = bs_ruleset_new();
	rc = which ? bs_baseline_load(al, path, &err) : bs_config_load(path, al, rs, &err);
	if (rc < 0) {
		BS_FUZZ_CHECK(err.message[0] != 0, "error without a message");
	} else {
		/* The loaded allowlist must answer for findings with and without a path. */
		bs_finding f;
		memset(&f, 0, sizeof(f));
		f.rule_id = "r";
		f.path = "src/a.txt";
		memset(f.fingerprint, 'a', 64);
		bs_allowlist_match(al, &f);
		f.path = "";
		bs_allowlist_match(al, &f);
		for (size_t i = 0; i < bs_ruleset_count(rs); i++)
			BS_FUZZ_CHECK(bs_ruleset_get(rs, i)->id[0], "rule without id");
	}
	bs_ruleset_free(rs);
	bs_allowlist_free(al);
	unlink(path);
	return 0;
}
