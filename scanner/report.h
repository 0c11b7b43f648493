/* Reporters: findings -> text, JSON, JSON lines, SARIF 2.1.0.
 *
 * A reporter never needs to know where bytes came from: it reads only the
 * finding records. The raw secret is written only when opts->show_secret.
 * Output goes to the FILE the caller (cli/) chose.
 */
#ifndef BS_SCANNER_REPORT_H
#define BS_SCANNER_REPORT_H

#include <stdio.h>

#include "common/error.h"
#include "scanner/finding.h"
#include "scanner/rule.h"

typedef enum bs_report_format {
	BS_REPORT_TEXT,
	BS_REPORT_JSON,
	BS_REPORT_JSONL,
	BS_REPORT_SARIF
} bs_report_format;

/* Returns 0 and sets *out, or -1 for an unknown name. */
int bs_report_format_parse(const char *name, bs_report_format *out);

/* SARIF tool.driver.informationUri: where people learn about the tool. */
#define BS_REPORT_INFORMATION_URI "https://github.com/bastionary/bstscan"

typedef struct bs_report_opts {
	int show_secret;
	int color;               /* text only: ANSI colours */
	const bs_ruleset *rules; /* SARIF: tool.driver.rules */
	const char *tool_version;
} bs_report_opts;

int bs_report_write(FILE *out, bs_report_format fmt, const bs_findings *fs, const bs_report_opts *opts,
		    bs_error *err);

/* The JSON object of one finding (as in the json and jsonl formats); the
 * caller frees it with cJSON_Delete. */
struct cJSON;
struct cJSON *bs_report_finding_json(const bs_finding *f, const bs_report_opts *opts);

#endif
