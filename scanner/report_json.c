#include <stdlib.h>
#include <string.h>

#include "scanner/report_internal.h"
#include "common/banned.h"

static void add_git(cJSON *o, const bs_git_provenance *g)
{
	bs_report_json_add_str(o, "repository", g->repository);
	bs_report_json_add_str(o, "commit", g->commit);
	bs_report_json_add_str(o, "author_name", g->author_name);
	bs_report_json_add_str(o, "author_email", g->author_email);
	bs_report_json_add_str(o, "date", g->date);
	bs_report_json_add_str(o, "summary", g->summary);
	cJSON_AddBoolToObject(o, "in_head", g->in_head != 0);
	cJSON_AddBoolToObject(o, "reachable", g->reachable != 0);
	if (g->blob)
		bs_report_json_add_str(o, "blob", g->blob);
}

static void add_check(cJSON *o, const bs_check_result *c)
{
	bs_report_json_add_str(o, "status", c->status ? c->status : "unchecked");
	bs_report_json_add_str(o, "name", c->name);
	bs_report_json_add_str(o, "owner", c->owner);
	bs_report_json_add_str(o, "expires_at", c->expires_at);
	bs_report_json_add_str(o, "last_used_at", c->last_used_at);
	if (c->revoke_outcome)
		bs_report_json_add_str(o, "revoke_outcome", c->revoke_outcome);
}

cJSON *bs_report_finding_json(const bs_finding *f, const bs_report_opts *opts)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	/* Field order is part of the output's determinism: keep it fixed. */
	bs_report_json_add_str(o, "rule_id", f->rule_id);
	bs_report_json_add_str(o, "description", f->rule_description);
	cJSON_AddStringToObject(o, "severity", bs_severity_name(f->severity));
	bs_report_json_add_str(o, "path", f->path ? f->path : "");
	cJSON_AddNumberToObject(o, "line", (double)f->line);
	cJSON_AddNumberToObject(o, "column", (double)f->column);
	cJSON_AddNumberToObject(o, "offset", (double)f->offset);
	bs_report_json_add_str(o, "redacted", f->redacted);
	cJSON_AddStringToObject(o, "token_hash", f->token_hash);
	cJSON_AddStringToObject(o, "fingerprint", f->fingerprint);
	cJSON_AddBoolToObject(o, "binary", f->binary != 0);
	bs_report_json_add_str(o, "line_text", f->line_text);
	if (opts && opts->show_secret && f->secret)
		bs_report_json_add_secret(o, "secret", f);
	if (f->invalid) {
		cJSON_AddTrueToObject(o, "invalid");
		bs_report_json_add_str(o, "invalid_reason", f->invalid_reason);
	}
	if (f->git)
		add_git(o, f->git);
	if (f->check)
		add_check(o, f->check);
	return o;
}

/* Indents every line of a pretty-printed object by one tab, so the array
 * reads as one document. cJSON escapes newlines inside strings, so every
 * '\n' in its output is a line break. */
static void add_indented(bs_buf *b, const char *s)
{
	bs_buf_addch(b, '\t');
	for (; *s; s++) {
		bs_buf_addch(b, *s);
		if (*s == '\n')
			bs_buf_addch(b, '\t');
	}
}

int bs_report_write_json(FILE *out, const bs_findings *fs, const bs_report_opts *opts, int lines, bs_error *err)
{
	bs_buf b = BS_BUF_INIT;
	int rc = 0;

	if (!lines && fs->len == 0)
		return bs_report_put(out, "[]\n", 3, err);
	if (!lines)
		rc = bs_report_put(out, "[\n", 2, err);
	/* One finding at a time: memory stays bounded by the largest finding. */
	for (size_t i = 0; i < fs->len && rc == 0; i++) {
		cJSON *o = bs_report_finding_json(fs->items[i], opts);
		char *s = o ? (lines ? cJSON_PrintUnformatted(o) : cJSON_Print(o)) : NULL;
		cJSON_Delete(o);
		if (!s) {
			rc = bs_error_set(err, BS_ERR_NOMEM, "cannot build the JSON report");
			break;
		}
		bs_buf_reset(&b);
		if (lines) {
			bs_buf_adds(&b, s);
			bs_buf_addch(&b, '\n');
		} else {
			add_indented(&b, s);
			bs_buf_adds(&b, i + 1 < fs->len ? ",\n" : "\n");
		}
		/* A finding may carry the raw secret (--show-secret): wipe our copies. */
		bs_secure_zero(s, strlen(s));
		cJSON_free(s);
		rc = bs_report_put(out, b.ptr, b.len, err);
	}
	bs_buf_free_secure(&b);
	if (rc == 0 && !lines)
		rc = bs_report_put(out, "]\n", 2, err);
	return rc;
}
