#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "scanner/finding.h"
#include "common/banned.h"

static void git_free(bs_git_provenance *g)
{
	if (!g)
		return;
	free(g->repository);
	free(g->commit);
	free(g->author_name);
	free(g->author_email);
	free(g->date);
	free(g->summary);
	free(g->blob);
	free(g);
}

static void check_free(bs_check_result *c)
{
	if (!c)
		return;
	free(c->status);
	free(c->name);
	free(c->owner);
	free(c->expires_at);
	free(c->last_used_at);
	free(c->revoke_outcome);
	free(c);
}

void bs_finding_free(bs_finding *f)
{
	if (!f)
		return;
	free(f->rule_id);
	free(f->rule_description);
	free(f->invalid_reason);
	free(f->path);
	if (f->secret) {
		bs_secure_zero(f->secret, f->secret_len);
		free(f->secret);
	}
	free(f->redacted);
	free(f->line_text);
	git_free(f->git);
	check_free(f->check);
	free(f);
}

char *bs_redact(const char *secret, size_t len)
{
	bs_buf b = BS_BUF_INIT;
	/* Short secrets keep at most half, so the redacted form never gives most of one away. */
	size_t keep = len / 2 < BS_REDACT_PREFIX ? len / 2 : BS_REDACT_PREFIX;
	for (size_t i = 0; i < keep; i++) {
		unsigned char c = (unsigned char)secret[i];
		bs_buf_addch(&b, c >= 0x20 && c < 0x7f ? c : '?');
	}
	bs_buf_adds(&b, "\xe2\x80\xa6");
	return bs_buf_detach(&b, NULL);
}

void bs_finding_compute_ids(bs_finding *f)
{
	bs_buf b = BS_BUF_INIT;
	bs_sha256_hex(f->secret, f->secret_len, f->token_hash);
	/* rule id, hash and path only: editing other lines of a file keeps the fingerprint. */
	bs_buf_adds(&b, f->rule_id);
	bs_buf_addch(&b, '\0');
	bs_buf_adds(&b, f->token_hash);
	bs_buf_addch(&b, '\0');
	bs_buf_adds(&b, f->path ? f->path : "");
	bs_sha256_hex(b.ptr, b.len, f->fingerprint);
	bs_buf_free(&b);
	free(f->redacted);
	f->redacted = bs_redact(f->secret, f->secret_len);
}

void bs_findings_push(bs_findings *fs, bs_finding *f)
{
	BS_ARRAY_GROW(fs->items, fs->cap, fs->len + 1);
	fs->items[fs->len++] = f;
}

void bs_findings_move(bs_findings *dst, bs_findings *src)
{
	if (!src->len)
		return;
	BS_ARRAY_GROW(dst->items, dst->cap, dst->len + src->len);
	memcpy(dst->items + dst->len, src->items, src->len * sizeof(*src->items));
	dst->len += src->len;
	src->len = 0;
}

static int cmp_opt_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int cmp_finding(const void *pa, const void *pb)
{
	const bs_finding *a = *(bs_finding *const *)pa, *b = *(bs_finding *const *)pb;
	int c = cmp_opt_str(a->git ? a->git->repository : NULL, b->git ? b->git->repository : NULL);
	if (c)
		return c;
	c = cmp_opt_str(a->path, b->path);
	if (c)
		return c;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	c = strcmp(a->rule_id, b->rule_id);
	if (c)
		return c;
	c = cmp_opt_str(a->git ? a->git->commit : NULL, b->git ? b->git->commit : NULL);
	if (c)
		return c;
	return strcmp(a->token_hash, b->token_hash);
}

void bs_findings_sort(bs_findings *fs)
{
	if (fs->len > 1)
		qsort(fs->items, fs->len, sizeof(*fs->items), cmp_finding);
}

void bs_findings_remove_if(bs_findings *fs, int (*drop)(const bs_finding *, void *), void *ud)
{
	size_t j = 0;
	for (size_t i = 0; i < fs->len; i++) {
		if (drop(fs->items[i], ud))
			bs_finding_free(fs->items[i]);
		else
			fs->items[j++] = fs->items[i];
	}
	fs->len = j;
}

void bs_findings_free(bs_findings *fs)
{
	for (size_t i = 0; i < fs->len; i++)
		bs_finding_free(fs->items[i]);
	free(fs->items);
	fs->items = NULL;
	fs->len = fs->cap = 0;
}
