#include <stdlib.h>
#include <string.h>

#include "scanner/report_internal.h"
#include "scanner/text.h"
#include "common/banned.h"

#define C_RESET "\x1b[0m"
#define C_BOLD "\x1b[1m"
#define C_DIM "\x1b[2m"
#define C_RED "\x1b[31m"
#define C_YELLOW "\x1b[33m"
#define C_GREEN "\x1b[32m"
#define C_CYAN "\x1b[36m"
#define C_LIVE "\x1b[1;97;41m"

/* How many hex digits of a commit id the text report shows. */
#define SHORT_COMMIT 12

typedef struct text_ctx {
	bs_buf *b;
	int color;
} text_ctx;

static void paint_on(text_ctx *t, const char *code)
{
	if (t->color)
		bs_buf_adds(t->b, code);
}

static void paint_off(text_ctx *t)
{
	if (t->color)
		bs_buf_adds(t->b, C_RESET);
}

/* Appends untrusted text (paths, names, summaries) cleaned of control
 * characters, so the report cannot drive the terminal. */
static void add_painted(text_ctx *t, const char *code, const char *s)
{
	paint_on(t, code);
	bs_report_add_clean(t->b, s);
	paint_off(t);
}

static const char *severity_color(bs_severity s)
{
	switch (s) {
	case BS_SEV_CRITICAL:
		return C_BOLD C_RED;
	case BS_SEV_HIGH:
		return C_RED;
	case BS_SEV_MEDIUM:
		return C_YELLOW;
	default:
		return C_CYAN;
	}
}

static const char *status_color(const char *status)
{
	if (strcmp(status, "active") == 0)
		return C_BOLD C_RED;
	if (strcmp(status, "revoked") == 0 || strcmp(status, "expired") == 0)
		return C_GREEN;
	return C_YELLOW;
}

static void add_label(text_ctx *t, const char *label)
{
	bs_buf_adds(t->b, "    ");
	paint_on(t, C_DIM);
	bs_buf_addf(t->b, "%-9s", label);
	paint_off(t);
	bs_buf_addch(t->b, ' ');
}

static void add_location(text_ctx *t, const bs_finding *f)
{
	paint_on(t, C_BOLD);
	if (f->path && *f->path) {
		bs_report_add_clean(t->b, f->path);
	} else if (f->git && f->git->commit) {
		bs_buf_adds(t->b, "commit ");
		bs_report_add_clean_n(t->b, f->git->commit, SHORT_COMMIT);
		bs_buf_adds(t->b, " message");
	} else {
		bs_buf_adds(t->b, "(no path)");
	}
	bs_buf_addf(t->b, ":%llu:%llu", (unsigned long long)f->line, (unsigned long long)f->column);
	paint_off(t);
}

static void add_check(text_ctx *t, const bs_check_result *c)
{
	const char *status = c->status ? c->status : "unchecked";
	add_label(t, "status");
	add_painted(t, status_color(status), status);
	if (strcmp(status, "active") == 0)
		bs_buf_adds(t->b, " (the token works: revoke it)");
	bs_buf_addch(t->b, '\n');
	if (c->name || c->owner) {
		add_label(t, "token");
		if (c->name) {
			bs_buf_addch(t->b, '"');
			bs_report_add_clean(t->b, c->name);
			bs_buf_addch(t->b, '"');
		}
		if (c->owner) {
			bs_buf_adds(t->b, c->name ? ", owner " : "owner ");
			bs_report_add_clean(t->b, c->owner);
		}
		bs_buf_addch(t->b, '\n');
	}
	if (c->expires_at) {
		add_label(t, "expires");
		bs_report_add_clean(t->b, c->expires_at);
		bs_buf_addch(t->b, '\n');
	}
	if (c->last_used_at) {
		add_label(t, "last used");
		bs_report_add_clean(t->b, c->last_used_at);
		bs_buf_addch(t->b, '\n');
	}
	if (c->revoke_outcome) {
		add_label(t, "revoke");
		add_painted(t, strcmp(c->revoke_outcome, "failed") == 0 ? C_BOLD C_RED : C_GREEN, c->revoke_outcome);
		bs_buf_addch(t->b, '\n');
	}
}

static void add_git(text_ctx *t, const bs_git_provenance *g)
{
	if (g->repository && *g->repository) {
		add_label(t, "repo");
		bs_report_add_clean(t->b, g->repository);
		bs_buf_addch(t->b, '\n');
	}
	add_label(t, "commit");
	paint_on(t, C_YELLOW);
	if (g->commit)
		bs_report_add_clean_n(t->b, g->commit, SHORT_COMMIT);
	else
		bs_buf_adds(t->b, "?");
	paint_off(t);
	if (g->summary) {
		bs_buf_addch(t->b, ' ');
		bs_report_add_clean(t->b, g->summary);
	}
	bs_buf_addch(t->b, '\n');
	if (g->author_name || g->author_email || g->date) {
		add_label(t, "author");
		bs_report_add_clean(t->b, g->author_name ? g->author_name : "?");
		if (g->author_email) {
			bs_buf_adds(t->b, " <");
			bs_report_add_clean(t->b, g->author_email);
			bs_buf_addch(t->b, '>');
		}
		if (g->date) {
			bs_buf_adds(t->b, ", ");
			bs_report_add_clean(t->b, g->date);
		}
		bs_buf_addch(t->b, '\n');
	}
	add_label(t, "in HEAD");
	if (g->in_head)
		add_painted(t, C_BOLD, "yes, still in HEAD");
	else
		bs_buf_adds(t->b, "no, only in history");
	if (!g->reachable)
		bs_buf_adds(t->b, " (unreachable object)");
	bs_buf_addch(t->b, '\n');
}

static void add_finding(text_ctx *t, const bs_finding *f, const bs_report_opts *opts)
{
	int active = bs_report_is_active(f);

	if (active) {
		add_painted(t, C_LIVE, "LIVE TOKEN");
		bs_buf_addch(t->b, ' ');
	}
	add_location(t, f);
	bs_buf_adds(t->b, "  ");
	bs_report_add_clean(t->b, f->rule_id);
	bs_buf_adds(t->b, " (");
	add_painted(t, severity_color(f->severity), bs_severity_name(f->severity));
	bs_buf_addch(t->b, ')');
	if (f->check && !active) {
		bs_buf_adds(t->b, " [");
		bs_report_add_clean(t->b, f->check->status ? f->check->status : "unchecked");
		bs_buf_addch(t->b, ']');
	}
	if (f->binary)
		add_painted(t, C_YELLOW, " [binary file]");
	if (f->invalid) {
		bs_buf_adds(t->b, " [invalid: ");
		bs_report_add_clean(t->b, f->invalid_reason ? f->invalid_reason : "failed a validator");
		bs_buf_addch(t->b, ']');
	}
	bs_buf_addch(t->b, '\n');

	if (opts->show_secret && f->secret) {
		add_label(t, "secret");
		paint_on(t, C_BOLD C_RED);
		bs_text_add_sanitized(t->b, (const uint8_t *)f->secret, f->secret_len);
		paint_off(t);
	} else {
		add_label(t, "redacted");
		bs_report_add_clean(t->b, f->redacted);
	}
	bs_buf_addch(t->b, '\n');
	add_label(t, "sha256");
	bs_buf_adds(t->b, f->token_hash);
	bs_buf_addch(t->b, '\n');
	if (f->line_text) {
		add_label(t, "line");
		bs_report_add_clean(t->b, f->line_text);
		bs_buf_addch(t->b, '\n');
	}
	if (f->check)
		add_check(t, f->check);
	if (f->git)
		add_git(t, f->git);
	bs_buf_addch(t->b, '\n');
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Distinct places: a file is a (repository, path) pair; a commit message
 * counts as a place of its own. */
static size_t count_files(const bs_findings *fs)
{
	char **keys;
	size_t n = 0;
	if (fs->len == 0)
		return 0;
	keys = bs_xcalloc(fs->len, sizeof(*keys));
	for (size_t i = 0; i < fs->len; i++) {
		const bs_finding *f = fs->items[i];
		const char *repo = f->git && f->git->repository ? f->git->repository : "";
		if (f->path && *f->path)
			keys[i] = bs_xasprintf("%s%c%s", repo, 1, f->path);
		else
			keys[i] = bs_xasprintf("%s%c%c%s", repo, 1, 2, f->git && f->git->commit ? f->git->commit : "");
	}
	qsort(keys, fs->len, sizeof(*keys), cmp_str);
	for (size_t i = 0; i < fs->len; i++) {
		if (i == 0 || strcmp(keys[i], keys[i - 1]) != 0)
			n++;
	}
	for (size_t i = 0; i < fs->len; i++)
		free(keys[i]);
	free(keys);
	return n;
}

int bs_report_write_text(FILE *out, const bs_findings *fs, const bs_report_opts *opts, bs_error *err)
{
	bs_buf b = BS_BUF_INIT;
	text_ctx t = {&b, opts->color};
	size_t active = 0, checked = 0, files;
	int rc = 0;

	for (size_t i = 0; i < fs->len; i++) {
		active += bs_report_is_active(fs->items[i]) != 0;
		checked += fs->items[i]->check != NULL;
	}
	if (active) {
		add_painted(&t, C_LIVE, "LIVE TOKEN");
		bs_buf_addf(&b, " %zu leaked token%s still work%s: revoke %s now.\n\n", active, active == 1 ? "" : "s",
		            active == 1 ? "s" : "", active == 1 ? "it" : "them");
	}
	/* Live tokens first: they are the headline. The rest keeps its order. */
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		for (size_t i = 0; i < fs->len && rc == 0; i++) {
			const bs_finding *f = fs->items[i];
			if ((pass == 0) != (bs_report_is_active(f) != 0))
				continue;
			add_finding(&t, f, opts);
			rc = bs_report_put(out, b.ptr, b.len, err);
			bs_buf_reset(&b);
		}
	}
	if (rc) {
		bs_buf_free_secure(&b);
		return rc;
	}

	files = count_files(fs);
	if (fs->len == 0) {
		bs_buf_adds(&b, "No secrets found.\n");
	} else {
		paint_on(&t, C_BOLD);
		bs_buf_addf(&b, "%zu finding%s in %zu file%s", fs->len, fs->len == 1 ? "" : "s", files,
		            files == 1 ? "" : "s");
		paint_off(&t);
		if (checked) {
			bs_buf_adds(&b, ", ");
			paint_on(&t, active ? C_BOLD C_RED : C_GREEN);
			bs_buf_addf(&b, "%zu active", active);
			paint_off(&t);
		}
		bs_buf_adds(&b, ".\n");
	}
	rc = bs_report_put(out, b.ptr, b.len, err);
	bs_buf_free_secure(&b);
	return rc;
}
