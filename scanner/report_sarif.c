/* SARIF 2.1.0 as GitHub code scanning accepts it: one run, the rule pack as
 * tool.driver.rules (with security-severity), relative artifact URIs, and a
 * stable partialFingerprints entry so alerts survive unrelated edits. */
#include <stdlib.h>
#include <string.h>

#include "scanner/report_internal.h"
#include "common/banned.h"

#define SARIF_SCHEMA "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#define FINGERPRINT_KEY "bstscan/v1"
#define SHORT_COMMIT 12

/* The rules of the run, in tool.driver.rules order. A rule either comes
 * from the rule set or, when a finding names a rule the set does not hold
 * (or no set was given), from the finding itself. */
typedef struct sarif_rule {
	const char *id;
	const char *description;
	const char *family;
	bs_severity severity;
	int issuer;
} sarif_rule;

typedef struct sarif_rules {
	sarif_rule *items;
	size_t len, cap;
} sarif_rules;

static long find_rule(const sarif_rules *rs, const char *id)
{
	for (size_t i = 0; i < rs->len; i++) {
		if (strcmp(rs->items[i].id, id) == 0)
			return (long)i;
	}
	return -1;
}

static void push_rule(sarif_rules *rs, sarif_rule r)
{
	BS_ARRAY_GROW(rs->items, rs->cap, rs->len + 1);
	rs->items[rs->len++] = r;
}

static void collect_rules(sarif_rules *rs, const bs_findings *fs, const bs_report_opts *opts)
{
	if (opts->rules) {
		size_t n = bs_ruleset_count(opts->rules);
		for (size_t i = 0; i < n; i++) {
			const bs_rule *r = bs_ruleset_get(opts->rules, i);
			if (find_rule(rs, r->id) < 0)
				push_rule(rs, (sarif_rule){r->id, r->description, r->family, r->severity, r->issuer});
		}
	}
	for (size_t i = 0; i < fs->len; i++) {
		const bs_finding *f = fs->items[i];
		if (find_rule(rs, f->rule_id) < 0)
			push_rule(rs, (sarif_rule){f->rule_id, f->rule_description, NULL, f->severity, f->issuer});
	}
}

/* GitHub's scale: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, under 4 low. */
static const char *security_severity(bs_severity s)
{
	switch (s) {
	case BS_SEV_CRITICAL:
		return "9.5";
	case BS_SEV_HIGH:
		return "8.0";
	case BS_SEV_MEDIUM:
		return "5.5";
	default:
		return "3.0";
	}
}

static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* "bastionary-pat" -> "BastionaryPat": SARIF's readable rule name. */
static char *rule_name(const char *id)
{
	bs_buf b = BS_BUF_INIT;
	int upper = 1;
	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		if (!is_alnum(*p)) {
			upper = 1;
			continue;
		}
		bs_buf_addch(&b, upper && *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
		upper = 0;
	}
	if (b.len == 0)
		bs_buf_adds(&b, "Secret");
	return bs_buf_detach(&b, NULL);
}

/* The description up to its first ':' or ". ": one line for listings. */
static char *short_description(const char *desc, const char *id)
{
	size_t n;
	const char *dot;
	if (!desc || !*desc)
		return bs_xstrdup(id);
	n = strcspn(desc, ":\n");
	dot = strstr(desc, ". ");
	if (dot && (size_t)(dot - desc) < n)
		n = (size_t)(dot - desc);
	if (n == 0)
		n = strlen(desc);
	return bs_xstrndup(desc, n);
}

/* text and markdown must already be valid UTF-8 (built from cleaned parts):
 * they keep their line breaks, which a cleaning pass would replace. */
static cJSON *message_string(const char *text, const char *markdown)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "text", text);
	if (markdown)
		cJSON_AddStringToObject(m, "markdown", markdown);
	return m;
}

static cJSON *rule_json(const sarif_rule *r)
{
	cJSON *o = cJSON_CreateObject(), *cfg, *props, *tags;
	char *name = rule_name(r->id);
	char *id = bs_report_clean(r->id);
	char *full = bs_report_clean(r->description && *r->description ? r->description : r->id);
	char *shortd = short_description(full, id);
	bs_buf help = BS_BUF_INIT, md = BS_BUF_INIT;

	bs_report_json_add_str(o, "id", r->id);
	bs_report_json_add_str(o, "name", name);
	cJSON_AddItemToObject(o, "shortDescription", message_string(shortd, NULL));
	cJSON_AddItemToObject(o, "fullDescription", message_string(full, NULL));

	bs_buf_addf(&help,
	            "A secret matching rule %s was found: %s\n\nTreat it as compromised: revoke or rotate it where "
	            "it was issued, then remove it from the code (and from the git history if it was pushed). A "
	            "deliberate test value can be allowed with a `bstscan:allow` comment on its line or through a "
	            "baseline (`--baseline-out`, `--baseline`).",
	            id, full);
	bs_buf_addf(&md,
	            "A secret matching rule `%s` was found: %s\n\n1. Treat it as compromised: **revoke or rotate it** "
	            "where it was issued%s.\n2. Remove it from the code, and from the git history if it was pushed.\n"
	            "3. A deliberate test value can be allowed with a `bstscan:allow` comment on its line or through "
	            "a baseline (`--baseline-out`, `--baseline`).",
	            id, full, r->issuer ? " (`bstscan scan --revoke` does it for this issuer)" : "");
	cJSON_AddItemToObject(o, "help", message_string(help.ptr, md.ptr));

	cfg = cJSON_AddObjectToObject(o, "defaultConfiguration");
	cJSON_AddStringToObject(cfg, "level", bs_report_sarif_level(r->severity));

	props = cJSON_AddObjectToObject(o, "properties");
	tags = cJSON_AddArrayToObject(props, "tags");
	cJSON_AddItemToArray(tags, cJSON_CreateString("security"));
	cJSON_AddItemToArray(tags, cJSON_CreateString("secret"));
	cJSON_AddItemToArray(tags, cJSON_CreateString("external/cwe/cwe-798"));
	cJSON_AddStringToObject(props, "security-severity", security_severity(r->severity));
	cJSON_AddStringToObject(props, "severity", bs_severity_name(r->severity));
	if (r->family)
		bs_report_json_add_str(props, "family", r->family);
	cJSON_AddBoolToObject(props, "issuer", r->issuer != 0);

	bs_buf_free(&help);
	bs_buf_free(&md);
	free(name);
	free(id);
	free(full);
	free(shortd);
	return o;
}

static int uri_keep(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
}

/* A path as a URI reference: relative paths stay relative (GitHub resolves
 * them against the repository root) without a leading "./"; absolute paths
 * become file:// URIs. Everything but unreserved characters and '/' is
 * percent-encoded, after the path was made valid UTF-8. */
static char *path_uri(const char *path)
{
	char *clean = bs_report_clean(path);
	const char *p = clean;
	bs_buf b = BS_BUF_INIT;

	if (*p == '/') {
		bs_buf_adds(&b, "file://");
	} else {
		while (p[0] == '.' && p[1] == '/') {
			p += 2;
			while (*p == '/')
				p++;
		}
	}
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (uri_keep(c))
			bs_buf_addch(&b, c);
		else
			bs_buf_addf(&b, "%%%02X", c);
	}
	if (b.len == 0)
		bs_buf_addch(&b, '.');
	free(clean);
	return bs_buf_detach(&b, NULL);
}

static char *result_message(const bs_finding *f)
{
	bs_buf b = BS_BUF_INIT;
	/* Only the redacted form and the hash: the message is shown everywhere. */
	bs_buf_adds(&b, "Secret found (rule ");
	bs_report_add_clean(&b, f->rule_id);
	bs_buf_adds(&b, "): ");
	bs_report_add_clean(&b, f->redacted);
	bs_buf_adds(&b, " (SHA-256 ");
	bs_buf_adds(&b, f->token_hash);
	bs_buf_adds(&b, ").");
	if (f->invalid) {
		bs_buf_adds(&b, " Near miss: failed validator ");
		bs_report_add_clean(&b, f->invalid_reason ? f->invalid_reason : "?");
		bs_buf_addch(&b, '.');
	}
	if (f->check) {
		const char *status = f->check->status ? f->check->status : "unchecked";
		if (bs_report_is_active(f))
			bs_buf_adds(&b, " LIVE TOKEN: the issuer reports it active; revoke it.");
		else {
			bs_buf_adds(&b, " Token status: ");
			bs_report_add_clean(&b, status);
			bs_buf_addch(&b, '.');
		}
		if (f->check->owner) {
			bs_buf_adds(&b, " Owner: ");
			bs_report_add_clean(&b, f->check->owner);
			bs_buf_addch(&b, '.');
		}
	}
	if (f->git && f->git->commit) {
		bs_buf_adds(&b, " Introduced in commit ");
		bs_report_add_clean_n(&b, f->git->commit, SHORT_COMMIT);
		if (f->git->author_name) {
			bs_buf_adds(&b, " by ");
			bs_report_add_clean(&b, f->git->author_name);
		}
		if (f->git->date) {
			bs_buf_adds(&b, " on ");
			bs_report_add_clean(&b, f->git->date);
		}
		bs_buf_adds(&b, f->git->in_head ? "; still in HEAD." : "; no longer in HEAD.");
	}
	return bs_buf_detach(&b, NULL);
}

static cJSON *location_json(const bs_finding *f)
{
	cJSON *loc = cJSON_CreateObject(), *phys, *art, *region;
	int commit_message = (!f->path || !*f->path) && f->git && f->git->commit;
	char *uri = path_uri(commit_message ? f->git->commit : (f->path ? f->path : ""));
	uint64_t line = f->line ? f->line : 1, col = f->column ? f->column : 1;

	phys = cJSON_AddObjectToObject(loc, "physicalLocation");
	art = cJSON_AddObjectToObject(phys, "artifactLocation");
	cJSON_AddStringToObject(art, "uri", uri);
	if (commit_message) {
		/* The message of a commit is no file: name the commit as the
		 * artifact and say so with a logical location. */
		cJSON *logical = cJSON_AddArrayToObject(loc, "logicalLocations"), *l = cJSON_CreateObject();
		cJSON_AddItemToObject(art, "description", message_string("commit message", NULL));
		bs_report_json_add_str(l, "name", f->git->commit);
		bs_report_json_add_str(l, "fullyQualifiedName", f->git->commit);
		cJSON_AddStringToObject(l, "kind", "commit-message");
		cJSON_AddItemToArray(logical, l);
	}
	region = cJSON_AddObjectToObject(phys, "region");
	cJSON_AddNumberToObject(region, "startLine", (double)line);
	cJSON_AddNumberToObject(region, "startColumn", (double)col);
	cJSON_AddNumberToObject(region, "endColumn", (double)(col + f->secret_len));
	free(uri);
	return loc;
}

static cJSON *result_json(const bs_finding *f, long rule_index, const bs_report_opts *opts)
{
	cJSON *o = cJSON_CreateObject(), *locs, *fp, *props;
	char *msg = result_message(f);
	static const char *const dropped[] = {"rule_id", "description", "path", "line", "column", "fingerprint"};

	bs_report_json_add_str(o, "ruleId", f->rule_id);
	cJSON_AddNumberToObject(o, "ruleIndex", (double)rule_index);
	cJSON_AddStringToObject(o, "level", bs_report_sarif_level(f->severity));
	cJSON_AddItemToObject(o, "message", message_string(msg, NULL));
	locs = cJSON_AddArrayToObject(o, "locations");
	cJSON_AddItemToArray(locs, location_json(f));
	fp = cJSON_AddObjectToObject(o, "partialFingerprints");
	cJSON_AddStringToObject(fp, FINGERPRINT_KEY, f->fingerprint);
	/* The same fields as the JSON report (token_hash, redacted, check and
	 * git fields), less what the result already says in SARIF's terms. */
	props = bs_report_finding_json(f, opts);
	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(props, dropped[i]);
	cJSON_AddItemToObject(o, "properties", props);
	free(msg);
	return o;
}

/* Appends s with every line after the first indented by depth tabs. */
static void add_nested(bs_buf *b, const char *s, int depth)
{
	for (; *s; s++) {
		bs_buf_addch(b, *s);
		if (*s == '\n')
			for (int i = 0; i < depth; i++)
				bs_buf_addch(b, '\t');
	}
}

static int put_json(FILE *out, bs_buf *b, cJSON *o, int depth, bs_error *err)
{
	char *s = cJSON_Print(o);
	int rc;
	cJSON_Delete(o);
	if (!s)
		return bs_error_set(err, BS_ERR_NOMEM, "cannot build the SARIF report");
	add_nested(b, s, depth);
	bs_secure_zero(s, strlen(s));
	cJSON_free(s);
	rc = bs_report_put(out, b->ptr, b->len, err);
	bs_buf_reset(b);
	return rc;
}

int bs_report_write_sarif(FILE *out, const bs_findings *fs, const bs_report_opts *opts, bs_error *err)
{
	sarif_rules rules = {NULL, 0, 0};
	bs_buf b = BS_BUF_INIT;
	cJSON *tool, *driver, *rarr;
	int rc;

	collect_rules(&rules, fs, opts);
	tool = cJSON_CreateObject();
	driver = cJSON_AddObjectToObject(tool, "driver");
	cJSON_AddStringToObject(driver, "name", "bstscan");
	cJSON_AddStringToObject(driver, "informationUri", BS_REPORT_INFORMATION_URI);
	if (opts->tool_version && *opts->tool_version) {
		bs_report_json_add_str(driver, "version", opts->tool_version);
		bs_report_json_add_str(driver, "semanticVersion", opts->tool_version);
	}
	rarr = cJSON_AddArrayToObject(driver, "rules");
	for (size_t i = 0; i < rules.len; i++)
		cJSON_AddItemToArray(rarr, rule_json(&rules.items[i]));

	/* Streamed result by result so a large history scan stays bounded. */
	bs_buf_adds(&b, "{\n\t\"$schema\": \"" SARIF_SCHEMA
	                "\",\n\t\"version\": \"2.1.0\",\n\t\"runs\": [\n\t\t{\n\t\t\t\"tool\": ");
	rc = put_json(out, &b, tool, 3, err);
	if (rc == 0) {
		static const char results[] = ",\n\t\t\t\"results\": [";
		rc = bs_report_put(out, results, sizeof(results) - 1, err);
	}
	for (size_t i = 0; i < fs->len && rc == 0; i++) {
		const bs_finding *f = fs->items[i];
		bs_buf_adds(&b, i ? ",\n\t\t\t\t" : "\n\t\t\t\t");
		rc = put_json(out, &b, result_json(f, find_rule(&rules, f->rule_id), opts), 4, err);
	}
	if (rc == 0) {
		bs_buf_adds(&b, fs->len ? "\n\t\t\t]\n\t\t}\n\t]\n}\n" : "]\n\t\t}\n\t]\n}\n");
		rc = bs_report_put(out, b.ptr, b.len, err);
	}
	bs_buf_free(&b);
	free(rules.items);
	return rc;
}
