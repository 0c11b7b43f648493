#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/check_revoke.h"
#include "cli/cli.h"
#include "cli/scan_common.h"
#include "common/buf.h"
#include "revoke/leaks.h"
#include "common/banned.h"

static void http_log(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "* %s\n", line);
}

int cli_issuer_open(cli_issuer *is, const char *server_flag, int verbose, bs_error *err)
{
	bs_auth_options ao = {0};
	bs_leaks_options lo = {0};
	const char *warning;
	memset(is, 0, sizeof(*is));
	if (bs_auth_resolve_server(&is->server, server_flag, err) < 0)
		goto fail;
	if (bs_http_new(&is->http, NULL, err) < 0)
		goto fail;
	if (verbose)
		bs_http_set_log(is->http, http_log, NULL);
	ao.server = is->server;
	ao.http = is->http;
	if (bs_auth_session_open(&is->session, &ao, err) < 0)
		goto fail;
	warning = bs_auth_session_warning(is->session);
	if (warning)
		cli_warn("%s", warning);
	lo.server = is->server;
	lo.session = is->session;
	if (bs_leaks_client_new(&is->client, &lo, err) < 0)
		goto fail;
	return 0;
fail:
	cli_issuer_close(is);
	return err && err->code ? err->code : BS_ERR_INTERNAL;
}

void cli_issuer_close(cli_issuer *is)
{
	bs_leaks_client_free(is->client);
	bs_auth_session_close(is->session);
	bs_http_free(is->http);
	free(is->server);
	memset(is, 0, sizeof(*is));
}

int cli_revoke_go_ahead(int dry_run, int yes)
{
	if (dry_run) {
		fprintf(stderr, "bstscan: dry run: nothing was revoked\n");
		return 0;
	}
	switch (cli_confirm("Revoke these tokens now?", yes)) {
	case CLI_CONFIRM_YES:
		return 1;
	case CLI_CONFIRM_NO:
		fprintf(stderr, "bstscan: nothing was revoked\n");
		return 0;
	case CLI_CONFIRM_NO_TTY:
	default:
		cli_error("refusing to revoke without confirmation: no terminal to ask on; pass --yes to revoke, "
		          "or --dry-run to only show what would be revoked");
		return -1;
	}
}

cli_confirm_result cli_confirm(const char *question, int yes)
{
	char line[64];
	if (yes)
		return CLI_CONFIRM_YES;
	if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
		return CLI_CONFIRM_NO_TTY;
	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return CLI_CONFIRM_NO;
	return (line[0] == 'y' || line[0] == 'Y') ? CLI_CONFIRM_YES : CLI_CONFIRM_NO;
}

/* ---- where a finding leaked: the revoke request's source ---- */

/* The origin remote's URL (without credentials) of the repository holding dir, cached for the
 * last directory asked; NULL when there is none. */
typedef struct remote_cache {
	char *dir;
	char *url;
} remote_cache;

static const char *remote_url(remote_cache *rc, const char *dir)
{
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	if (rc->dir && strcmp(rc->dir, dir) == 0)
		return rc->url;
	free(rc->dir);
	free(rc->url);
	rc->dir = bs_xstrdup(dir);
	rc->url = NULL;
	if (git_repository_open_ext(&repo, dir, 0, NULL) == 0) {
		if (git_remote_lookup(&remote, repo, "origin") == 0 && git_remote_url(remote))
			rc->url = bs_leaks_url_without_userinfo(git_remote_url(remote));
		git_remote_free(remote);
		git_repository_free(repo);
	}
	return rc->url;
}

static int looks_like_url(const char *s)
{
	return strstr(s, "://") != NULL || (strchr(s, '@') && strchr(s, ':'));
}

/* Fills src for f; strings live in f or in the cache (or in *owned, which the caller frees). */
static void finding_source(const bs_finding *f, remote_cache *rc, bs_leak_source *src, char **owned)
{
	memset(src, 0, sizeof(*src));
	*owned = NULL;
	src->path = f->path && *f->path ? f->path : NULL;
	if (f->git) {
		src->commit = f->git->commit;
		if (f->git->repository && looks_like_url(f->git->repository)) {
			*owned = bs_leaks_url_without_userinfo(f->git->repository);
			src->repository = *owned;
		} else if (f->git->repository) {
			src->repository = remote_url(rc, f->git->repository);
		}
	} else if (f->path && *f->path && strcmp(f->path, "-") != 0) {
		char *dir = bs_xstrdup(f->path), *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		src->repository = remote_url(rc, slash ? (*dir ? dir : "/") : ".");
		free(dir);
	}
	src->url = src->repository;
}

/* ---- scan --check / --revoke ---- */

static void set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = s ? bs_xstrdup(s) : NULL;
}

static void mark_unchecked(bs_findings *fs)
{
	for (size_t i = 0; i < fs->len; i++) {
		bs_finding *f = fs->items[i];
		if (!f->issuer)
			continue;
		if (!f->check)
			f->check = bs_xcalloc(1, sizeof(*f->check));
		set_str(&f->check->status, "unchecked");
	}
}

static void describe(FILE *out, const bs_finding *f, const char *prefix)
{
	fprintf(out, "  %s", prefix && *prefix ? prefix : f->redacted);
	if (f->check && f->check->name)
		fprintf(out, "  \"%s\"", f->check->name);
	if (f->check && f->check->owner)
		fprintf(out, "  owner %s", f->check->owner);
	fprintf(out, "  found in %s:%llu", f->path && *f->path ? f->path : "(message)", (unsigned long long)f->line);
	if (f->git && f->git->commit)
		fprintf(out, " (commit %.12s)", f->git->commit);
	fputc('\n', out);
}

int cli_check_and_revoke(cli_scan_opts *o, bs_findings *fs)
{
	bs_error err = BS_ERROR_INIT;
	cli_issuer is;
	bs_leak_results checked = BS_LEAK_RESULTS_INIT, revoked = BS_LEAK_RESULTS_INIT;
	const char **hashes;
	size_t n = 0, nactive = 0, nfailed = 0, nrevoked = 0;
	bs_revoke_item *items = NULL;
	char **owned = NULL;
	remote_cache rc = {0};
	const bs_finding **first_of = NULL;
	int code = 0, rcv;

	hashes = bs_xmalloc((fs->len ? fs->len : 1) * sizeof(*hashes));
	for (size_t i = 0; i < fs->len; i++)
		if (fs->items[i]->issuer)
			hashes[n++] = fs->items[i]->token_hash;
	if (n == 0) {
		free(hashes);
		return 0;
	}
	if (cli_issuer_open(&is, o->server, o->verbose, &err) < 0 ||
	    bs_leaks_check(is.client, &checked, hashes, n, &err) < 0) {
		mark_unchecked(fs);
		cli_error("cannot check the tokens with the issuer, reported as unchecked: %s", err.message);
		cli_issuer_close(&is);
		free(hashes);
		if (o->fail_on_check_error)
			return CLI_EXIT_ERROR;
		/* With --revoke nothing could be revoked: exit 1 would claim every live token was. */
		return o->revoke && !o->dry_run ? CLI_EXIT_REVOKE_FAILED : 0;
	}
	free(hashes);
	for (size_t i = 0; i < fs->len; i++) {
		bs_finding *f = fs->items[i];
		const bs_leak_result *r;
		if (!f->issuer)
			continue;
		r = bs_leak_results_find(&checked, f->token_hash);
		if (!f->check)
			f->check = bs_xcalloc(1, sizeof(*f->check));
		set_str(&f->check->status, r && r->status ? r->status : "unchecked");
		set_str(&f->check->name, r ? r->name : NULL);
		set_str(&f->check->owner, r ? r->owner : NULL);
		set_str(&f->check->expires_at, r ? r->expires_at : NULL);
		set_str(&f->check->last_used_at, r ? r->last_used_at : NULL);
	}
	if (!o->revoke)
		goto out;

	/* One revocation per live token, with the first place it was found as the source. */
	first_of = bs_xcalloc(checked.len ? checked.len : 1, sizeof(*first_of));
	for (size_t i = 0; i < fs->len; i++) {
		bs_finding *f = fs->items[i];
		const bs_leak_result *r;
		if (!f->issuer || !f->check || strcmp(f->check->status, "active") != 0)
			continue;
		r = bs_leak_results_find(&checked, f->token_hash);
		if (r && !first_of[r - checked.items]) {
			first_of[r - checked.items] = f;
			nactive++;
		}
	}
	if (nactive == 0) {
		if (!o->quiet)
			fprintf(stderr, "bstscan: no live tokens to revoke\n");
		goto out;
	}
	fprintf(stderr, "bstscan: %s %zu live token%s:\n", o->dry_run ? "would revoke" : "about to revoke", nactive,
	        nactive == 1 ? "" : "s");
	for (size_t i = 0; i < checked.len; i++)
		if (first_of[i])
			describe(stderr, first_of[i], checked.items[i].token_prefix);
	switch (cli_revoke_go_ahead(o->dry_run, o->yes)) {
	case 0:
		goto out;
	case -1:
		code = CLI_EXIT_ERROR;
		goto out;
	}
	git_libgit2_init();
	items = bs_xcalloc(nactive, sizeof(*items));
	owned = bs_xcalloc(nactive, sizeof(*owned));
	n = 0;
	for (size_t i = 0; i < checked.len; i++)
		if (first_of[i]) {
			items[n].token_hash = checked.items[i].token_hash;
			finding_source(first_of[i], &rc, &items[n].source, &owned[n]);
			/* The cache may be overwritten by the next finding: keep our own copy. */
			if (items[n].source.repository && items[n].source.repository != owned[n]) {
				owned[n] = bs_xstrdup(items[n].source.repository);
				items[n].source.repository = items[n].source.url = owned[n];
			}
			n++;
		}
	git_libgit2_shutdown();
	rcv = bs_leaks_revoke(is.client, &revoked, items, n, "leaked", &err);
	for (size_t i = 0; i < fs->len; i++) {
		bs_finding *f = fs->items[i];
		const bs_leak_result *r;
		if (!f->issuer || !f->check || strcmp(f->check->status, "active") != 0)
			continue;
		r = bs_leak_results_find(&revoked, f->token_hash);
		set_str(&f->check->revoke_outcome, r && r->outcome ? r->outcome : "failed");
	}
	for (size_t i = 0; i < revoked.len; i++) {
		if (revoked.items[i].outcome)
			nrevoked++;
		else
			nfailed++;
	}
	if (!o->quiet || nfailed)
		fprintf(stderr, "bstscan: revoked %zu of %zu live token%s\n", nrevoked, nactive,
		        nactive == 1 ? "" : "s");
	if (rcv < 0 || nfailed) {
		cli_error("%zu revocation%s failed: %s", nfailed ? nfailed : nactive,
		          (nfailed ? nfailed : nactive) == 1 ? "" : "s", err.message);
		code = CLI_EXIT_REVOKE_FAILED;
	}
out:
	for (size_t i = 0; owned && i < nactive; i++)
		free(owned[i]);
	free(owned);
	free(items);
	free(first_of);
	free(rc.dir);
	free(rc.url);
	bs_leak_results_free(&checked);
	bs_leak_results_free(&revoked);
	cli_issuer_close(&is);
	return code;
}
