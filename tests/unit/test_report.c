/* Reporters: every format's fields, secrets only with show_secret, git and
 * check fields, colour only when asked, empty input, UTF-8 validity, and
 * SARIF validated against the official SARIF 2.1.0 schema. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/secure.h"
#include "scanner/finding.h"
#include "scanner/report.h"
#include "scanner/rule.h"
#include "tests/support/testutil.h"

#define SCHEMA BS_SOURCE_DIR "/tests/fixtures/sarif/sarif-schema-2.1.0.json"
#define VALIDATOR BS_SOURCE_DIR "/tests/fixtures/sarif/validate_sarif.py"
#define PYTHON "/usr/bin/python3"

/* ---- helpers ---------------------------------------------------------- */

static bs_finding *make_finding(const char *path, const char *secret, uint64_t line, uint64_t column, uint64_t offset)
{
	bs_finding *f = bs_xcalloc(1, sizeof(*f));
	f->rule_id = bs_xstrdup("bastionary-pat");
	f->rule_description = bs_xstrdup("Bastionary personal access token");
	f->severity = BS_SEV_CRITICAL;
	f->issuer = 1;
	f->path = bs_xstrdup(path);
	f->line = line;
	f->column = column;
	f->offset = offset;
	f->secret = bs_xstrdup(secret);
	f->secret_len = strlen(secret);
	bs_finding_compute_ids(f);
	f->line_text = bs_xasprintf("TOKEN=\"%s\"", f->redacted);
	return f;
}

static bs_finding *make_token_finding(const char *path, char token[48])
{
	bs_test_make_bst_token(token);
	return make_finding(path, token, 3, 8, 40);
}

static void add_git(bs_finding *f, const char *commit, int in_head, const char *blob)
{
	f->git = bs_xcalloc(1, sizeof(*f->git));
	f->git->repository = bs_xstrdup("/srv/repos/app");
	f->git->commit = bs_xstrdup(commit);
	f->git->author_name = bs_xstrdup("Alice Example");
	f->git->author_email = bs_xstrdup("alice@example.com");
	f->git->date = bs_xstrdup("2026-03-04T05:06:07Z");
	f->git->summary = bs_xstrdup("Add deploy configuration");
	f->git->in_head = in_head;
	f->git->reachable = 1;
	f->git->blob = blob ? bs_xstrdup(blob) : NULL;
}

static void add_check(bs_finding *f, const char *status, const char *name, const char *owner, const char *revoke)
{
	f->check = bs_xcalloc(1, sizeof(*f->check));
	f->check->status = bs_xstrdup(status);
	f->check->name = name ? bs_xstrdup(name) : NULL;
	f->check->owner = owner ? bs_xstrdup(owner) : NULL;
	f->check->expires_at = name ? bs_xstrdup("2027-01-01T00:00:00Z") : NULL;
	f->check->last_used_at = name ? bs_xstrdup("2026-11-20T10:00:00Z") : NULL;
	f->check->revoke_outcome = revoke ? bs_xstrdup(revoke) : NULL;
}

/* Runs a reporter into memory; returns the heap output and asserts success. */
static char *render(bs_report_format fmt, const bs_findings *fs, const bs_report_opts *opts)
{
	char *data = NULL;
	size_t len = 0;
	bs_error err = BS_ERROR_INIT;
	FILE *out = open_memstream(&data, &len);
	cr_assert_not_null(out);
	int rc = bs_report_write(out, fmt, fs, opts, &err);
	cr_assert_eq(rc, 0, "bs_report_write failed: %s", err.message);
	cr_assert_eq(fclose(out), 0);
	cr_assert_eq(strlen(data), len, "the report holds a NUL byte");
	return data;
}

/* 1 when s is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static int valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p, n, cp;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return 0;
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	cr_assert(cJSON_IsString(v), "field %s is not a string", key);
	return v->valuestring;
}

static double jnum(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	cr_assert(cJSON_IsNumber(v), "field %s is not a number", key);
	return v->valuedouble;
}

static int jbool(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	cr_assert(cJSON_IsBool(v), "field %s is not a boolean", key);
	return cJSON_IsTrue(v);
}

static int jhas(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key) != NULL;
}

static const cJSON *jpath(const cJSON *o, const char *path)
{
	/* "a.b.0.c": object keys and array indexes. */
	char *copy = bs_xstrdup(path), *save = NULL;
	const cJSON *cur = o;
	for (char *tok = strtok_r(copy, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
		if (cJSON_IsArray(cur))
			cur = cJSON_GetArrayItem(cur, atoi(tok));
		else
			cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
	}
	free(copy);
	cr_assert_not_null(cur, "no %s in the document", path);
	return cur;
}

static const char *const base_fields[] = {"rule_id", "path",      "line",       "column",
                                          "offset",  "redacted",  "token_hash", "fingerprint",
                                          "binary",  "line_text", "severity",   "description"};

static void assert_base_fields(const cJSON *o, const bs_finding *f)
{
	for (size_t i = 0; i < sizeof(base_fields) / sizeof(base_fields[0]); i++)
		cr_assert(jhas(o, base_fields[i]), "missing field %s", base_fields[i]);
	cr_assert_str_eq(jstr(o, "rule_id"), f->rule_id);
	cr_assert_str_eq(jstr(o, "path"), f->path);
	cr_assert_eq(jnum(o, "line"), (double)f->line);
	cr_assert_eq(jnum(o, "column"), (double)f->column);
	cr_assert_eq(jnum(o, "offset"), (double)f->offset);
	cr_assert_str_eq(jstr(o, "redacted"), f->redacted);
	cr_assert_str_eq(jstr(o, "token_hash"), f->token_hash);
	cr_assert_str_eq(jstr(o, "fingerprint"), f->fingerprint);
	cr_assert_eq(jbool(o, "binary"), f->binary != 0);
	cr_assert_str_eq(jstr(o, "line_text"), f->line_text);
	cr_assert_str_eq(jstr(o, "severity"), bs_severity_name(f->severity));
	cr_assert_str_eq(jstr(o, "description"), f->rule_description);
}

/* ---- format names ------------------------------------------------------ */

Test(report, format_names_parse)
{
	bs_report_format f;
	cr_assert_eq(bs_report_format_parse("text", &f), 0);
	cr_assert_eq(f, BS_REPORT_TEXT);
	cr_assert_eq(bs_report_format_parse("json", &f), 0);
	cr_assert_eq(f, BS_REPORT_JSON);
	cr_assert_eq(bs_report_format_parse("jsonl", &f), 0);
	cr_assert_eq(f, BS_REPORT_JSONL);
	cr_assert_eq(bs_report_format_parse("sarif", &f), 0);
	cr_assert_eq(f, BS_REPORT_SARIF);
	cr_assert_eq(bs_report_format_parse("xml", &f), -1);
	cr_assert_eq(bs_report_format_parse("JSON", &f), -1);
	cr_assert_eq(bs_report_format_parse(NULL, &f), -1);
}

/* ---- JSON and JSON lines ----------------------------------------------- */

Test(report, json_has_every_field_and_no_secret)
{
	char token[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_finding *f = make_token_finding("src/config.py", token);
	bs_report_opts opts = {0};
	bs_findings_push(&fs, f);

	char *out = render(BS_REPORT_JSON, &fs, &opts);
	cr_assert_null(strstr(out, token), "raw secret in the JSON report");
	cJSON *doc = cJSON_Parse(out);
	cr_assert(cJSON_IsArray(doc));
	cr_assert_eq(cJSON_GetArraySize(doc), 1);
	const cJSON *o = cJSON_GetArrayItem(doc, 0);
	assert_base_fields(o, f);
	char hash[65];
	bs_sha256_hex(token, strlen(token), hash);
	cr_assert_str_eq(jstr(o, "token_hash"), hash);
	cr_assert(strncmp(jstr(o, "redacted"), token, BS_REDACT_PREFIX) == 0);
	cr_assert_not(jhas(o, "secret"));
	cr_assert_not(jhas(o, "invalid"));
	cr_assert_not(jhas(o, "commit"));
	cr_assert_not(jhas(o, "repository"));
	cr_assert_not(jhas(o, "status"));
	cr_assert_eq(cJSON_GetArraySize(o), 12, "unexpected extra fields");
	cJSON_Delete(doc);
	free(out);
	bs_findings_free(&fs);
}

Test(report, json_secret_only_with_show_secret)
{
	char token[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_findings_push(&fs, make_token_finding("a.txt", token));
	bs_report_opts opts = {.show_secret = 1};

	char *out = render(BS_REPORT_JSON, &fs, &opts);
	cJSON *doc = cJSON_Parse(out);
	cr_assert_str_eq(jstr(cJSON_GetArrayItem(doc, 0), "secret"), token);
	cJSON_Delete(doc);
	free(out);

	out = render(BS_REPORT_JSONL, &fs, &opts);
	cr_assert_not_null(strstr(out, token));
	free(out);

	cJSON *o = bs_report_finding_json(fs.items[0], &opts);
	cr_assert_str_eq(jstr(o, "secret"), token);
	cJSON_Delete(o);
	opts.show_secret = 0;
	o = bs_report_finding_json(fs.items[0], &opts);
	cr_assert_not(jhas(o, "secret"));
	cJSON_Delete(o);
	bs_findings_free(&fs);
}

Test(report, jsonl_is_one_object_per_line)
{
	char t1[48], t2[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_findings_push(&fs, make_token_finding("a.txt", t1));
	bs_findings_push(&fs, make_token_finding("b/c.txt", t2));
	bs_report_opts opts = {0};

	char *out = render(BS_REPORT_JSONL, &fs, &opts);
	cr_assert_null(strstr(out, t1));
	cr_assert_null(strstr(out, t2));
	char *save = NULL, *copy = bs_xstrdup(out);
	int n = 0;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
		cJSON *o = cJSON_Parse(line);
		cr_assert(cJSON_IsObject(o), "line %d is not a JSON object: %s", n, line);
		assert_base_fields(o, fs.items[n]);
		cJSON_Delete(o);
	}
	cr_assert_eq(n, 2);
	cr_assert_eq(out[strlen(out) - 1], '\n');
	free(copy);
	free(out);
	bs_findings_free(&fs);
}

Test(report, empty_input)
{
	bs_findings fs = BS_FINDINGS_INIT;
	bs_report_opts opts = {0};
	char *out = render(BS_REPORT_JSON, &fs, &opts);
	cr_assert_str_eq(out, "[]\n");
	free(out);
	out = render(BS_REPORT_JSONL, &fs, &opts);
	cr_assert_str_eq(out, "");
	free(out);
	out = render(BS_REPORT_TEXT, &fs, &opts);
	cr_assert_str_eq(out, "No secrets found.\n");
	free(out);
	out = render(BS_REPORT_SARIF, &fs, &opts);
	cJSON *doc = cJSON_Parse(out);
	cr_assert_not_null(doc, "empty SARIF does not parse: %s", out);
	cr_assert_eq(cJSON_GetArraySize(jpath(doc, "runs.0.results")), 0);
	cJSON_Delete(doc);
	free(out);
	/* A NULL list is the empty list. */
	out = render(BS_REPORT_JSON, NULL, NULL);
	cr_assert_str_eq(out, "[]\n");
	free(out);
}

Test(report, json_git_fields)
{
	char t1[48], t2[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_finding *a = make_token_finding("deploy/key.env", t1);
	bs_finding *b = make_token_finding("", t2);
	add_git(a, "0123456789abcdef0123456789abcdef01234567", 1, "fedcba9876543210fedcba9876543210fedcba98");
	add_git(b, "89abcdef0123456789abcdef0123456789abcdef", 0, NULL);
	b->git->reachable = 0;
	bs_findings_push(&fs, a);
	bs_findings_push(&fs, b);
	bs_report_opts opts = {0};

	char *out = render(BS_REPORT_JSON, &fs, &opts);
	cJSON *doc = cJSON_Parse(out);
	const cJSON *o = cJSON_GetArrayItem(doc, 0);
	cr_assert_str_eq(jstr(o, "repository"), "/srv/repos/app");
	cr_assert_str_eq(jstr(o, "commit"), a->git->commit);
	cr_assert_str_eq(jstr(o, "author_name"), "Alice Example");
	cr_assert_str_eq(jstr(o, "author_email"), "alice@example.com");
	cr_assert_str_eq(jstr(o, "date"), "2026-03-04T05:06:07Z");
	cr_assert_str_eq(jstr(o, "summary"), "Add deploy configuration");
	cr_assert(jbool(o, "in_head"));
	cr_assert(jbool(o, "reachable"));
	cr_assert_str_eq(jstr(o, "blob"), a->git->blob);
	o = cJSON_GetArrayItem(doc, 1);
	cr_assert_str_eq(jstr(o, "path"), "");
	cr_assert_not(jbool(o, "in_head"));
	cr_assert_not(jbool(o, "reachable"));
	cr_assert_not(jhas(o, "blob"));
	cJSON_Delete(doc);
	free(out);
	bs_findings_free(&fs);
}

Test(report, json_check_fields)
{
	char t1[48], t2[48], t3[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_finding *a = make_token_finding("a", t1), *b = make_token_finding("b", t2), *c = make_token_finding("c", t3);
	add_check(a, "active", "deploy key", "alice", "revoked");
	add_check(b, "unknown", NULL, NULL, NULL);
	add_check(c, "unchecked", NULL, NULL, "failed");
	bs_findings_push(&fs, a);
	bs_findings_push(&fs, b);
	bs_findings_push(&fs, c);
	bs_report_opts opts = {0};

	char *out = render(BS_REPORT_JSON, &fs, &opts);
	cJSON *doc = cJSON_Parse(out);
	const cJSON *o = cJSON_GetArrayItem(doc, 0);
	cr_assert_str_eq(jstr(o, "status"), "active");
	cr_assert_str_eq(jstr(o, "name"), "deploy key");
	cr_assert_str_eq(jstr(o, "owner"), "alice");
	cr_assert_str_eq(jstr(o, "expires_at"), "2027-01-01T00:00:00Z");
	cr_assert_str_eq(jstr(o, "last_used_at"), "2026-11-20T10:00:00Z");
	cr_assert_str_eq(jstr(o, "revoke_outcome"), "revoked");
	o = cJSON_GetArrayItem(doc, 1);
	cr_assert_str_eq(jstr(o, "status"), "unknown");
	cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "name")));
	cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "owner")));
	cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "expires_at")));
	cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "last_used_at")));
	cr_assert_not(jhas(o, "revoke_outcome"));
	o = cJSON_GetArrayItem(doc, 2);
	cr_assert_str_eq(jstr(o, "status"), "unchecked");
	cr_assert_str_eq(jstr(o, "revoke_outcome"), "failed");
	cJSON_Delete(doc);
	free(out);
	bs_findings_free(&fs);
}

Test(report, json_invalid_near_miss)
{
	bs_findings fs = BS_FINDINGS_INIT;
	char token[48];
	bs_finding *f = make_token_finding("x", token);
	f->invalid = 1;
	f->invalid_reason = bs_xstrdup("last_char_in");
	bs_findings_push(&fs, f);
	bs_report_opts opts = {0};
	char *out = render(BS_REPORT_JSONL, &fs, &opts);
	cJSON *o = cJSON_Parse(out);
	cr_assert(jbool(o, "invalid"));
	cr_assert_str_eq(jstr(o, "invalid_reason"), "last_char_in");
	cJSON_Delete(o);
	free(out);
	bs_findings_free(&fs);
}

Test(report, json_paths_become_valid_utf8)
{
	char token[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_findings_push(&fs, make_token_finding("bad\xff\xfe-name\x1b[31m/caf\xc3\xa9.txt", token));
	bs_report_opts opts = {0};
	for (int fmt = BS_REPORT_TEXT; fmt <= BS_REPORT_SARIF; fmt++) {
		char *out = render((bs_report_format)fmt, &fs, &opts);
		cr_assert(valid_utf8(out), "format %d is not valid UTF-8", fmt);
		cr_assert_null(strchr(out, '\x1b'), "format %d passed an escape character through", fmt);
		free(out);
	}
	char *out = render(BS_REPORT_JSON, &fs, &opts);
	cJSON *doc = cJSON_Parse(out);
	cr_assert_str_eq(jstr(cJSON_GetArrayItem(doc, 0), "path"),
	                 "bad\xef\xbf\xbd\xef\xbf\xbd-name\xef\xbf\xbd[31m/caf\xc3\xa9.txt");
	cJSON_Delete(doc);
	free(out);
	bs_findings_free(&fs);
}

Test(report, output_is_deterministic)
{
	char t1[48], t2[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_findings_push(&fs, make_token_finding("a", t1));
	bs_findings_push(&fs, make_token_finding("b", t2));
	add_git(fs.items[1], "0123456789abcdef0123456789abcdef01234567", 1, NULL);
	add_check(fs.items[0], "active", "n", "o", NULL);
	bs_report_opts opts = {0};
	for (int fmt = BS_REPORT_TEXT; fmt <= BS_REPORT_SARIF; fmt++) {
		char *x = render((bs_report_format)fmt, &fs, &opts), *y = render((bs_report_format)fmt, &fs, &opts);
		cr_assert_str_eq(x, y);
		free(x);
		free(y);
	}
	bs_findings_free(&fs);
}

/* ---- text -------------------------------------------------------------- */

Test(report, text_shows_the_finding_without_the_secret)
{
	char t1[48], t2[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_findings_push(&fs, make_token_finding("src/config.py", t1));
	bs_finding *bin = make_token_finding("assets/app.bin", t2);
	bin->binary = 1;
	bs_findings_push(&fs, bin);
	bs_report_opts opts = {0};

	char *out = render(BS_REPORT_TEXT, &fs, &opts);
	cr_assert_null(strstr(out, t1), "raw secret in the text report");
	cr_assert_null(strstr(out, t2), "raw secret in the text report");
	cr_assert_null(strchr(out, '\x1b'), "colour without opts->color");
	cr_assert_not_null(strstr(out, "src/config.py:3:8"));
	cr_assert_not_null(strstr(out, "bastionary-pat"));
	cr_assert_not_null(strstr(out, "critical"));
	cr_assert_not_null(strstr(out, fs.items[0]->redacted));
	cr_assert_not_null(strstr(out, fs.items[0]->token_hash));
	cr_assert_not_null(strstr(out, fs.items[0]->line_text));
	cr_assert_not_null(strstr(out, "assets/app.bin:3:8"));
	const char *bin_line = strstr(out, "assets/app.bin");
	const char *eol = strchr(bin_line, '\n');
	const char *marker = strstr(bin_line, "binary");
	cr_assert(marker && marker < eol, "binary file not marked on its header line");
	cr_assert_not_null(strstr(out, "2 findings in 2 files."), "no summary line: %s", out);
	cr_assert_null(strstr(out, "LIVE TOKEN"));
	free(out);
	bs_findings_free(&fs);
}

Test(report, text_secret_only_with_show_secret)
{
	char token[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_findings_push(&fs, make_token_finding("a.env", token));
	bs_report_opts opts = {.show_secret = 1};
	char *out = render(BS_REPORT_TEXT, &fs, &opts);
	cr_assert_not_null(strstr(out, token));
	free(out);
	bs_findings_free(&fs);
}

Test(report, text_colour_only_when_asked)
{
	char token[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_findings_push(&fs, make_token_finding("a.env", token));
	bs_report_opts opts = {.color = 1};
	char *out = render(BS_REPORT_TEXT, &fs, &opts);
	cr_assert_not_null(strstr(out, "\x1b["), "no ANSI colour with opts->color");
	cr_assert_not_null(strstr(out, "\x1b[0m"));
	cr_assert_null(strstr(out, token));
	free(out);
	opts.color = 0;
	out = render(BS_REPORT_TEXT, &fs, &opts);
	cr_assert_null(strchr(out, '\x1b'));
	free(out);
	bs_findings_free(&fs);
}

Test(report, text_live_token_is_the_headline)
{
	char t1[48], t2[48], t3[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_finding *revoked = make_token_finding("a/old.env", t1);
	bs_finding *live = make_token_finding("z/live.env", t2);
	bs_finding *unchecked = make_token_finding("m/other.env", t3);
	add_check(revoked, "revoked", "old key", "bob", NULL);
	add_check(live, "active", "deploy key", "alice@example.com", NULL);
	add_check(unchecked, "unchecked", NULL, NULL, NULL);
	bs_findings_push(&fs, revoked);
	bs_findings_push(&fs, live);
	bs_findings_push(&fs, unchecked);
	bs_report_opts opts = {0};

	char *out = render(BS_REPORT_TEXT, &fs, &opts);
	const char *live_at = strstr(out, "z/live.env:3:8");
	const char *revoked_at = strstr(out, "a/old.env:3:8");
	cr_assert(live_at && revoked_at);
	cr_assert(live_at < revoked_at, "the live token is not listed first:\n%s", out);
	/* The header line of the live finding starts with the marker. */
	cr_assert(live_at - out >= 11 && strncmp(live_at - 11, "LIVE TOKEN ", 11) == 0, "no marker:\n%s", out);
	cr_assert_eq(strncmp(out, "LIVE TOKEN", 10), 0, "no headline:\n%s", out);
	cr_assert_not_null(strstr(out, "deploy key"));
	cr_assert_not_null(strstr(out, "alice@example.com"));
	cr_assert_not_null(strstr(out, "2027-01-01T00:00:00Z"));
	cr_assert_not_null(strstr(out, "2026-11-20T10:00:00Z"));
	cr_assert_not_null(strstr(out, "[revoked]"));
	cr_assert_not_null(strstr(out, "[unchecked]"));
	cr_assert_not_null(strstr(out, "3 findings in 3 files, 1 active."), "summary:\n%s", out);
	cr_assert_null(strstr(out, t2));
	free(out);
	bs_findings_free(&fs);
}

Test(report, text_git_provenance)
{
	char t1[48], t2[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_finding *a = make_token_finding("deploy/key.env", t1);
	bs_finding *msg = make_token_finding("", t2);
	add_git(a, "0123456789abcdef0123456789abcdef01234567", 0, NULL);
	add_git(msg, "89abcdef0123456789abcdef0123456789abcdef", 1, NULL);
	bs_findings_push(&fs, a);
	bs_findings_push(&fs, msg);
	bs_report_opts opts = {0};
	char *out = render(BS_REPORT_TEXT, &fs, &opts);
	cr_assert_not_null(strstr(out, "0123456789ab"));
	cr_assert_null(strstr(out, "0123456789abcdef0"), "commit id not shortened");
	cr_assert_not_null(strstr(out, "Alice Example <alice@example.com>"));
	cr_assert_not_null(strstr(out, "2026-03-04T05:06:07Z"));
	cr_assert_not_null(strstr(out, "Add deploy configuration"));
	cr_assert_not_null(strstr(out, "only in history"));
	cr_assert_not_null(strstr(out, "still in HEAD"));
	cr_assert_not_null(strstr(out, "commit 89abcdef0123 message:3:8"), "commit message location:\n%s", out);
	cr_assert_not_null(strstr(out, "2 findings in 2 files."));
	free(out);
	bs_findings_free(&fs);
}

/* ---- SARIF ------------------------------------------------------------- */

static bs_ruleset *default_rules(void)
{
	bs_ruleset *rs = bs_ruleset_new();
	bs_error err = BS_ERROR_INIT;
	cr_assert_eq(bs_ruleset_load_default(rs, &err), 0, "%s", err.message);
	cr_assert_gt(bs_ruleset_count(rs), 0);
	return rs;
}

Test(report, sarif_structure_for_github)
{
	char t1[48], t2[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_ruleset *rs = default_rules();
	bs_finding *a = make_token_finding("./src/app config.py", t1);
	bs_finding *b = make_token_finding("", t2);
	add_check(a, "active", "deploy key", "alice", NULL);
	add_git(b, "89abcdef0123456789abcdef0123456789abcdef", 0, NULL);
	bs_findings_push(&fs, a);
	bs_findings_push(&fs, b);
	bs_report_opts opts = {.rules = rs, .tool_version = "1.2.3"};

	char *out = render(BS_REPORT_SARIF, &fs, &opts);
	cr_assert_null(strstr(out, t1));
	cr_assert_null(strstr(out, t2));
	cJSON *doc = cJSON_Parse(out);
	cr_assert_not_null(doc, "SARIF does not parse");
	cr_assert_str_eq(jstr(doc, "version"), "2.1.0");
	cr_assert(strncmp(jstr(doc, "$schema"), "https://", 8) == 0);
	cr_assert_eq(cJSON_GetArraySize(jpath(doc, "runs")), 1);
	const cJSON *driver = jpath(doc, "runs.0.tool.driver");
	cr_assert_str_eq(jstr(driver, "name"), "bstscan");
	cr_assert(strncmp(jstr(driver, "informationUri"), "https://", 8) == 0);
	cr_assert_str_eq(jstr(driver, "version"), "1.2.3");
	cr_assert_str_eq(jstr(driver, "semanticVersion"), "1.2.3");

	/* Every rule of the set, fully described. */
	const cJSON *rules = jpath(driver, "rules");
	cr_assert_eq((size_t)cJSON_GetArraySize(rules), bs_ruleset_count(rs));
	for (size_t i = 0; i < bs_ruleset_count(rs); i++) {
		const bs_rule *r = bs_ruleset_get(rs, i);
		const cJSON *sr = cJSON_GetArrayItem(rules, (int)i);
		cr_assert_str_eq(jstr(sr, "id"), r->id);
		cr_assert_gt(strlen(jstr(sr, "name")), 0);
		cr_assert_gt(strlen(jstr(jpath(sr, "shortDescription"), "text")), 0);
		cr_assert_str_eq(jstr(jpath(sr, "fullDescription"), "text"), r->description);
		const char *help = jstr(jpath(sr, "help"), "text");
		cr_assert_not_null(strstr(help, "revoke"));
		cr_assert_not_null(strchr(help, '\n'), "help text lost its line breaks");
		cr_assert_null(strstr(help, "\xef\xbf\xbd"), "help text holds U+FFFD");
		cr_assert_not_null(strstr(jstr(jpath(sr, "help"), "markdown"), "revoke"));
		const char *level = jstr(jpath(sr, "defaultConfiguration"), "level");
		cr_assert(strcmp(level, "error") == 0 || strcmp(level, "warning") == 0 || strcmp(level, "note") == 0);
		const char *sev = jstr(jpath(sr, "properties"), "security-severity");
		char *end;
		double v = strtod(sev, &end);
		cr_assert(*end == '\0' && v > 0.0 && v <= 10.0, "security-severity %s", sev);
		const cJSON *tags = jpath(sr, "properties.tags");
		int security = 0, secret = 0;
		for (int k = 0; k < cJSON_GetArraySize(tags); k++) {
			security |= strcmp(cJSON_GetArrayItem(tags, k)->valuestring, "security") == 0;
			secret |= strcmp(cJSON_GetArrayItem(tags, k)->valuestring, "secret") == 0;
		}
		cr_assert(security && secret);
	}

	const cJSON *res = jpath(doc, "runs.0.results.0");
	cr_assert_str_eq(jstr(res, "ruleId"), "bastionary-pat");
	int idx = (int)jnum(res, "ruleIndex");
	cr_assert_str_eq(jstr(cJSON_GetArrayItem(rules, idx), "id"), "bastionary-pat");
	cr_assert_str_eq(jstr(res, "level"), "error");
	const char *msg = jstr(jpath(res, "message"), "text");
	cr_assert_not_null(strstr(msg, a->redacted));
	cr_assert_not_null(strstr(msg, "LIVE TOKEN"));
	const cJSON *phys = jpath(res, "locations.0.physicalLocation");
	cr_assert_str_eq(jstr(jpath(phys, "artifactLocation"), "uri"), "src/app%20config.py");
	const cJSON *region = jpath(phys, "region");
	cr_assert_eq(jnum(region, "startLine"), 3);
	cr_assert_eq(jnum(region, "startColumn"), 8);
	cr_assert_eq(jnum(region, "endColumn"), 8 + 47);
	cr_assert_str_eq(jstr(jpath(res, "partialFingerprints"), "bstscan/v1"), a->fingerprint);
	const cJSON *props = jpath(res, "properties");
	cr_assert_str_eq(jstr(props, "token_hash"), a->token_hash);
	cr_assert_str_eq(jstr(props, "redacted"), a->redacted);
	cr_assert_str_eq(jstr(props, "status"), "active");
	cr_assert_str_eq(jstr(props, "name"), "deploy key");
	cr_assert_str_eq(jstr(props, "owner"), "alice");
	cr_assert_not(jhas(props, "secret"));

	/* A commit message: the commit is the artifact, plus a logical location. */
	res = jpath(doc, "runs.0.results.1");
	cr_assert_str_eq(jstr(jpath(res, "locations.0.physicalLocation.artifactLocation"), "uri"), b->git->commit);
	cr_assert_str_eq(jstr(jpath(res, "locations.0.logicalLocations.0"), "name"), b->git->commit);
	props = jpath(res, "properties");
	cr_assert_str_eq(jstr(props, "commit"), b->git->commit);
	cr_assert_str_eq(jstr(props, "author_name"), "Alice Example");
	cr_assert_not(jbool(props, "in_head"));
	cJSON_Delete(doc);
	free(out);

	/* With show_secret the secret may appear in properties, never in the message. */
	opts.show_secret = 1;
	out = render(BS_REPORT_SARIF, &fs, &opts);
	doc = cJSON_Parse(out);
	res = jpath(doc, "runs.0.results.0");
	cr_assert_null(strstr(jstr(jpath(res, "message"), "text"), t1));
	cr_assert_str_eq(jstr(jpath(res, "properties"), "secret"), t1);
	cJSON_Delete(doc);
	free(out);
	bs_findings_free(&fs);
	bs_ruleset_free(rs);
}

Test(report, sarif_levels_and_rules_without_a_ruleset)
{
	static const struct {
		bs_severity sev;
		const char *level;
	} cases[] = {
	    {BS_SEV_CRITICAL, "error"}, {BS_SEV_HIGH, "error"}, {BS_SEV_MEDIUM, "warning"}, {BS_SEV_LOW, "note"}};
	bs_findings fs = BS_FINDINGS_INIT;
	for (size_t i = 0; i < 4; i++) {
		char token[48];
		bs_finding *f = make_token_finding("f.txt", token);
		free(f->rule_id);
		f->rule_id = bs_xasprintf("rule-%zu", i);
		f->severity = cases[i].sev;
		bs_findings_push(&fs, f);
	}
	bs_report_opts opts = {0};
	char *out = render(BS_REPORT_SARIF, &fs, &opts);
	cJSON *doc = cJSON_Parse(out);
	const cJSON *rules = jpath(doc, "runs.0.tool.driver.rules");
	cr_assert_eq(cJSON_GetArraySize(rules), 4);
	for (size_t i = 0; i < 4; i++) {
		const cJSON *res = cJSON_GetArrayItem(jpath(doc, "runs.0.results"), (int)i);
		cr_assert_str_eq(jstr(res, "level"), cases[i].level);
		const cJSON *rule = cJSON_GetArrayItem(rules, (int)jnum(res, "ruleIndex"));
		cr_assert_str_eq(jstr(rule, "id"), fs.items[i]->rule_id);
		cr_assert_str_eq(jstr(jpath(rule, "defaultConfiguration"), "level"), cases[i].level);
	}
	cJSON_Delete(doc);
	free(out);
	bs_findings_free(&fs);
}

Test(report, sarif_uris_are_relative_and_encoded)
{
	static const struct {
		const char *path, *uri;
	} cases[] = {
	    {"src/main.c", "src/main.c"},
	    {"./src/main.c", "src/main.c"},
	    {".//./a/b.txt", "a/b.txt"},
	    {"-", "-"},
	    {"stdin-name", "stdin-name"},
	    {"dir/with space/100%.txt", "dir/with%20space/100%25.txt"},
	    {"a:b/c#d?e", "a%3Ab/c%23d%3Fe"},
	    {"caf\xc3\xa9/x", "caf%C3%A9/x"},
	    {"bad\xff", "bad%EF%BF%BD"},
	    {"../up/x", "../up/x"},
	    {"/abs/dir/f.txt", "file:///abs/dir/f.txt"},
	};
	bs_findings fs = BS_FINDINGS_INIT;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char token[48];
		bs_findings_push(&fs, make_token_finding(cases[i].path, token));
	}
	bs_report_opts opts = {0};
	char *out = render(BS_REPORT_SARIF, &fs, &opts);
	cJSON *doc = cJSON_Parse(out);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const cJSON *res = cJSON_GetArrayItem(jpath(doc, "runs.0.results"), (int)i);
		cr_assert_str_eq(jstr(jpath(res, "locations.0.physicalLocation.artifactLocation"), "uri"), cases[i].uri,
		                 "path %s", cases[i].path);
	}
	cJSON_Delete(doc);
	free(out);
	bs_findings_free(&fs);
}

/* Writes text to dir/name; returns the path (heap). */
static char *write_tmp(const char *dir, const char *name, const char *text)
{
	bs_test_write_str(dir, name, text);
	return bs_xasprintf("%s/%s", dir, name);
}

static bs_test_proc validate(const char *const *files)
{
	const char *argv[16] = {PYTHON, VALIDATOR, SCHEMA};
	size_t n = 3;
	for (; *files && n < 15; files++)
		argv[n++] = *files;
	argv[n] = NULL;
	bs_test_proc p = {0};
	cr_assert_eq(bs_test_run(&p, argv, NULL, NULL, NULL, 0, 60), 0, "cannot run %s", PYTHON);
	return p;
}

Test(report, sarif_validates_against_the_official_schema)
{
	bs_findings fs = BS_FINDINGS_INIT;
	bs_ruleset *rs = default_rules();
	char token[48];
	bs_finding *f;
	static const char *const paths[] = {"./src/app.py", "-", "dir/with space/caf\xc3\xa9 \xff.txt", "/abs/x.env",
	                                    "a:b#c?d[e]"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		bs_findings_push(&fs, make_token_finding(paths[i], token));
	f = make_token_finding("", token); /* a commit message */
	add_git(f, "89abcdef0123456789abcdef0123456789abcdef", 0, NULL);
	add_check(f, "revoked", "old", "bob", "already_revoked");
	bs_findings_push(&fs, f);
	f = make_token_finding("lib/blob.bin", token);
	f->binary = 1;
	add_git(f, "0123456789abcdef0123456789abcdef01234567", 1, "fedcba9876543210fedcba9876543210fedcba98");
	add_check(f, "active", "deploy", "alice", NULL);
	bs_findings_push(&fs, f);
	f = make_token_finding("near/miss.txt", token);
	f->invalid = 1;
	f->invalid_reason = bs_xstrdup("last_char_in");
	f->severity = BS_SEV_LOW;
	free(f->rule_id);
	f->rule_id = bs_xstrdup("not-in-the-set");
	bs_findings_push(&fs, f);
	f = make_token_finding("weird/line", token);
	f->line = 0;
	f->column = 0;
	bs_findings_push(&fs, f);

	bs_findings empty = BS_FINDINGS_INIT;
	bs_report_opts opts = {.rules = rs, .tool_version = "0.1.0", .show_secret = 1};
	bs_report_opts plain = {0};
	char *dir = bs_test_mkdtemp();
	char *full = render(BS_REPORT_SARIF, &fs, &opts);
	char *bare = render(BS_REPORT_SARIF, &fs, &plain);
	char *none = render(BS_REPORT_SARIF, &empty, &opts);
	char *files[4] = {write_tmp(dir, "full.sarif", full), write_tmp(dir, "bare.sarif", bare),
	                  write_tmp(dir, "empty.sarif", none), NULL};

	bs_test_proc p = validate((const char *const *)files);
	cr_assert_eq(p.status, 0, "SARIF does not validate (exit %d):\n%s%s", p.status, p.out.ptr, p.err.ptr);
	bs_test_proc_free(&p);

	/* The validator must be able to fail: a broken document is rejected. */
	cJSON *doc = cJSON_Parse(full);
	cJSON_DeleteItemFromObject((cJSON *)jpath(doc, "runs.0.results.0"), "message");
	char *broken_text = cJSON_Print(doc);
	cJSON_Delete(doc);
	char *broken[2] = {write_tmp(dir, "broken.sarif", broken_text), NULL};
	p = validate((const char *const *)broken);
	cr_assert_eq(p.status, 1, "the validator accepted a result without a message (exit %d): %s", p.status,
	             p.err.ptr);
	bs_test_proc_free(&p);
	/* ... and a URI that is not a URI reference. */
	char *bad_uri_text = bs_xstrdup(bare);
	char *at = strstr(bad_uri_text, "src/app.py");
	cr_assert_not_null(at);
	memcpy(at, "src\\\\app y", 10); /* JSON for: src\app y */
	char *bad_uri[2] = {write_tmp(dir, "bad-uri.sarif", bad_uri_text), NULL};
	p = validate((const char *const *)bad_uri);
	cr_assert_eq(p.status, 1, "the validator accepted an invalid URI (exit %d): %s", p.status, p.err.ptr);
	bs_test_proc_free(&p);

	free(broken_text);
	free(broken[0]);
	free(bad_uri_text);
	free(bad_uri[0]);
	for (int i = 0; files[i]; i++)
		free(files[i]);
	free(full);
	free(bare);
	free(none);
	bs_test_rmtree(dir);
	free(dir);
	bs_findings_free(&fs);
	bs_ruleset_free(rs);
}

Test(report, write_errors_are_reported)
{
	char token[48];
	bs_findings fs = BS_FINDINGS_INIT;
	bs_findings_push(&fs, make_token_finding("a.env", token));
	bs_report_opts opts = {0};
	for (int fmt = BS_REPORT_TEXT; fmt <= BS_REPORT_SARIF; fmt++) {
		FILE *full = fopen("/dev/full", "w");
		cr_assert_not_null(full);
		bs_error err = BS_ERROR_INIT;
		int rc = bs_report_write(full, (bs_report_format)fmt, &fs, &opts, &err);
		cr_assert_eq(rc, BS_ERR_IO, "format %d: a full disk was not reported (rc %d)", fmt, rc);
		cr_assert_not_null(strstr(err.message, "cannot write the report"));
		cr_assert_null(strstr(err.message, token));
		fclose(full);
	}
	bs_error err = BS_ERROR_INIT;
	cr_assert_eq(bs_report_write(stdout, (bs_report_format)42, &fs, &opts, &err), BS_ERR_USAGE);
	bs_findings_free(&fs);
}
