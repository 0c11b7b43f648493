#include <cjson/cJSON.h>
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/check_revoke.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/secure.h"
#include "revoke/json.h"
#include "revoke/leaks.h"
#include "scanner/rule.h"
#include "common/banned.h"

#define REPORT_MAX (512u << 20)

static const char usage[] = "usage: bstscan revoke --from REPORT [options]\n"
                            "       bstscan revoke --hash HASH [HASH...] [options]\n\n"
                            "Revokes leaked Bastionary tokens at the issuer by their SHA-256 hashes: the ones\n"
                            "in a JSON or JSON-lines report written by `bstscan scan|git --format json|jsonl`\n"
                            "(no raw secrets needed: token_hash, path, commit and repository are used), or the\n"
                            "hashes given. Only hashes are sent. Revocation is idempotent: an interrupted run\n"
                            "can simply be run again. Each outcome is printed on standard output:\n"
                            "revoked, already_revoked, expired, unknown, or failed.\n\n"
                            "Options:\n"
                            "      --from FILE      the report (- for standard input)\n"
                            "      --hash HASH      a token's SHA-256 hex hash (repeatable; more may follow)\n"
                            "      --reason TEXT    the reason recorded by the issuer (default: leaked)\n"
                            "      --yes            revoke without asking (needed when not on a terminal)\n"
                            "      --dry-run        show what would be revoked, revoke nothing\n"
                            "      --server URL     the issuer (default: BSTSCAN_SERVER, then the config)\n"
                            "  -q, --quiet          print only the outcomes\n"
                            "  -v, --verbose        log HTTP requests to standard error (Authorization redacted)\n"
                            "  -h, --help           show this help\n\n"
                            "Exit codes: 0 every token has an outcome, 2 usage or fatal error,\n"
                            "3 at least one revocation failed (run again).\n";

enum { OPT_FROM = 3000, OPT_HASH, OPT_REASON, OPT_YES, OPT_DRY_RUN, OPT_SERVER };

typedef struct target {
	char hash[BS_SHA256_HEX_LEN + 1];
	char *path, *commit, *repository, *where;
} target;

typedef struct targets {
	target *items;
	size_t len, cap;
} targets;

static void targets_free(targets *t)
{
	for (size_t i = 0; i < t->len; i++) {
		free(t->items[i].path);
		free(t->items[i].commit);
		free(t->items[i].repository);
		free(t->items[i].where);
	}
	free(t->items);
	memset(t, 0, sizeof(*t));
}

static target *targets_push(targets *t, const char *hash)
{
	target *x;
	BS_ARRAY_GROW(t->items, t->cap, t->len + 1);
	x = &t->items[t->len++];
	memset(x, 0, sizeof(*x));
	memcpy(x->hash, hash, BS_SHA256_HEX_LEN + 1);
	return x;
}

static int cmp_target_ix(const void *a, const void *b, void *ctx)
{
	const target *t = ctx;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	int c = strcmp(t[ia].hash, t[ib].hash);
	return c ? c : (ia < ib ? -1 : ia > ib);
}

/* first[i] is 1 when t->items[i] is the first target with its hash (a token found in several
 * places is listed once, where it was found first). The caller frees the array. */
static unsigned char *first_of_each_hash(const targets *t)
{
	size_t *ix = bs_xmalloc((t->len ? t->len : 1) * sizeof(*ix));
	unsigned char *first = bs_xcalloc(t->len ? t->len : 1, 1);
	for (size_t i = 0; i < t->len; i++)
		ix[i] = i;
	qsort_r(ix, t->len, sizeof(*ix), cmp_target_ix, t->items);
	for (size_t i = 0; i < t->len; i++)
		first[ix[i]] = i == 0 || strcmp(t->items[ix[i]].hash, t->items[ix[i - 1]].hash) != 0;
	free(ix);
	return first;
}

/* A hash given on the command line: hex in either case, never a raw token. */
static int add_hash_arg(targets *t, const char *arg)
{
	char h[BS_SHA256_HEX_LEN + 1];
	size_t len = strlen(arg);
	if (strncmp(arg, "bst_", 4) == 0)
		return cli_usage_error("revoke", "that is a token, not a hash: bstscan never sends raw tokens; "
		                                 "pass its SHA-256 (e.g. printf %%s \"$TOKEN\" | sha256sum)");
	if (len != BS_SHA256_HEX_LEN)
		return cli_usage_error("revoke", "a hash is 64 hex digits (got %zu characters)", len);
	for (size_t i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)arg[i]))
			return cli_usage_error("revoke", "a hash is 64 hex digits (character %zu is not one)", i + 1);
		h[i] = (char)tolower((unsigned char)arg[i]);
	}
	h[len] = '\0';
	targets_push(t, h);
	return 0;
}

static const char *json_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

static char *dup_or_null(const char *s)
{
	return s ? bs_xstrdup(s) : NULL;
}

/* Whether a reported finding is one the issuer can revoke: its rule says so (built-in rules), or
 * it was checked with the issuer already (it carries a status). */
static int is_issuer_finding(const cJSON *o, const bs_ruleset *rules)
{
	const char *rule_id = json_str(o, "rule_id");
	const bs_rule *r = rule_id && rules ? bs_ruleset_find(rules, rule_id) : NULL;
	if (r)
		return r->issuer;
	return json_str(o, "status") != NULL;
}

static int add_finding(targets *t, const cJSON *o, size_t idx, const bs_ruleset *rules, size_t *skipped, bs_error *err)
{
	const cJSON *git = cJSON_GetObjectItemCaseSensitive(o, "git");
	const char *hash = json_str(o, "token_hash"), *path, *commit, *repo;
	target *x;
	bs_buf where = BS_BUF_INIT;
	const cJSON *ln;
	if (!cJSON_IsObject(o))
		return bs_error_set(err, BS_ERR_PARSE, "finding %zu is not a JSON object", idx + 1);
	if (!hash || !bs_is_sha256_hex(hash))
		return bs_error_set(err, BS_ERR_PARSE, "finding %zu has no token_hash of 64 lowercase hex digits",
		                    idx + 1);
	if (!is_issuer_finding(o, rules)) {
		(*skipped)++;
		return 0;
	}
	path = json_str(o, "path");
	commit = json_str(o, "commit");
	repo = json_str(o, "repository");
	if (cJSON_IsObject(git)) { /* a nested provenance object is accepted too */
		commit = commit ? commit : json_str(git, "commit");
		repo = repo ? repo : json_str(git, "repository");
	}
	x = targets_push(t, hash);
	x->path = dup_or_null(path);
	x->commit = dup_or_null(commit);
	if (repo && (strstr(repo, "://") || (strchr(repo, '@') && strchr(repo, ':'))))
		x->repository = bs_leaks_url_without_userinfo(repo);
	ln = cJSON_GetObjectItemCaseSensitive(o, "line");
	bs_buf_adds(&where, path ? path : "(message)");
	if (cJSON_IsNumber(ln))
		bs_buf_addf(&where, ":%.0f", ln->valuedouble);
	if (commit)
		bs_buf_addf(&where, " (commit %.12s)", commit);
	x->where = bs_buf_detach(&where, NULL);
	return 0;
}

static int load_report(targets *t, const char *file, size_t *skipped, bs_error *err)
{
	bs_buf doc = BS_BUF_INIT;
	bs_ruleset *rules = bs_ruleset_new();
	cJSON *root;
	int rc;
	bs_error rerr = BS_ERROR_INIT;
	if (bs_ruleset_load_default(rules, &rerr) < 0) {
		bs_ruleset_free(rules);
		rules = NULL;
	}
	rc = bs_fs_read_file(&doc, strcmp(file, "-") == 0 ? "/dev/stdin" : file, REPORT_MAX, err);
	if (rc < 0)
		goto out;
	root = bs_json_parse_exact(doc.ptr, doc.len);
	if (root) {
		/* One JSON document: an array of findings, or an object holding one. */
		const cJSON *arr = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "findings");
		const cJSON *item;
		size_t idx = 0;
		if (!cJSON_IsArray(arr) && cJSON_IsObject(root) && json_str(root, "token_hash")) {
			rc = add_finding(t, root, 0, rules, skipped, err);
		} else if (!cJSON_IsArray(arr)) {
			rc = bs_error_set(err, BS_ERR_PARSE, "%s is not a bstscan JSON report (no array of findings)",
			                  file);
		} else {
			cJSON_ArrayForEach(item, arr)
			{
				if ((rc = add_finding(t, item, idx++, rules, skipped, err)) < 0)
					break;
			}
		}
		cJSON_Delete(root);
	} else {
		/* JSON lines: one finding per line. */
		size_t lineno = 0;
		char *p = doc.ptr, *end = doc.ptr + doc.len;
		while (p < end && rc == 0) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
			cJSON *o;
			lineno++;
			while (len && isspace((unsigned char)p[len - 1]))
				len--;
			if (len) {
				o = bs_json_parse_exact(p, len);
				if (!o)
					rc = bs_error_set(
					    err, BS_ERR_PARSE,
					    "%s: line %zu is not JSON (expected a JSON or JSON-lines report)", file,
					    lineno);
				else
					rc = add_finding(t, o, lineno - 1, rules, skipped, err);
				if (rc < 0 && o)
					bs_error_prefix(err, "%s: line %zu", file, lineno);
				cJSON_Delete(o);
			}
			p = nl ? nl + 1 : end;
		}
	}
	if (rc < 0 && !strstr(err->message, file))
		bs_error_prefix(err, "%s", file);
out:
	/* The report may hold raw secrets (--show-secret): wipe our copy. */
	bs_buf_free_secure(&doc);
	bs_ruleset_free(rules);
	return rc;
}

int cmd_revoke(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"from", required_argument, NULL, OPT_FROM},
	    {"hash", required_argument, NULL, OPT_HASH},
	    {"reason", required_argument, NULL, OPT_REASON},
	    {"yes", no_argument, NULL, OPT_YES},
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	    {"server", required_argument, NULL, OPT_SERVER},
	    {"quiet", no_argument, NULL, 'q'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *from = NULL, *reason = "leaked", *server = NULL;
	int yes = 0, dry_run = 0, quiet = 0, verbose = 0, c, code = 0, have_hash = 0;
	targets t = {0};
	size_t skipped = 0, nfailed = 0;
	bs_error err = BS_ERROR_INIT;
	cli_issuer is = {0};
	bs_leak_results checked = BS_LEAK_RESULTS_INIT, revoked = BS_LEAK_RESULTS_INIT;
	bs_revoke_item *items = NULL;
	const char **hashes = NULL;
	int have_check = 0;

	while ((c = getopt_long(argc, argv, "qvh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FROM:
			from = optarg;
			break;
		case OPT_HASH:
			have_hash = 1;
			if (add_hash_arg(&t, optarg))
				goto usage_fail;
			break;
		case OPT_REASON:
			reason = optarg;
			break;
		case OPT_YES:
			yes = 1;
			break;
		case OPT_DRY_RUN:
			dry_run = 1;
			break;
		case OPT_SERVER:
			server = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			targets_free(&t);
			return 0;
		default:
			cli_usage_error("revoke", "unknown or incomplete option '%s'", argv[optind - 1]);
			goto usage_fail;
		}
	}
	/* `--hash H1 H2 H3`: the hashes after the first are operands. */
	for (int i = optind; i < argc; i++) {
		if (!have_hash) {
			cli_usage_error("revoke", "unexpected argument '%s'", argv[i]);
			goto usage_fail;
		}
		if (add_hash_arg(&t, argv[i]))
			goto usage_fail;
	}
	if (!from == !have_hash) {
		cli_usage_error("revoke", "give either --from REPORT or --hash HASH...");
		goto usage_fail;
	}
	if (from && load_report(&t, from, &skipped, &err) < 0) {
		targets_free(&t);
		return cli_fatal(&err);
	}
	if (skipped && !quiet)
		fprintf(
		    stderr,
		    "bstscan: skipped %zu finding%s of other vendors' secrets (the issuer can only revoke its own)\n",
		    skipped, skipped == 1 ? "" : "s");
	if (t.len == 0) {
		if (!quiet)
			fprintf(stderr, "bstscan: no Bastionary tokens to revoke\n");
		targets_free(&t);
		return 0;
	}
	if (cli_issuer_open(&is, server, verbose, &err) < 0) {
		targets_free(&t);
		return cli_fatal(&err);
	}
	hashes = bs_xmalloc(t.len * sizeof(*hashes));
	for (size_t i = 0; i < t.len; i++)
		hashes[i] = t.items[i].hash;
	/* Knowing the tokens helps the person decide; a credential without leaks:check can still revoke. */
	if (bs_leaks_check(is.client, &checked, hashes, t.len, &err) == 0)
		have_check = 1;
	else if (!quiet)
		cli_warn("cannot look the tokens up before revoking (%s)", err.message);
	if (!quiet || dry_run) {
		fprintf(stderr, "bstscan: %s:\n", dry_run ? "would revoke" : "about to revoke");
		unsigned char *first = first_of_each_hash(&t);
		for (size_t i = 0; i < t.len; i++) {
			const bs_leak_result *r = have_check ? bs_leak_results_find(&checked, t.items[i].hash) : NULL;
			if (!first[i])
				continue;
			fprintf(stderr, "  %s", r && r->token_prefix ? r->token_prefix : "");
			fprintf(stderr, "%s%.16s...", r && r->token_prefix ? "  " : "", t.items[i].hash);
			if (r && r->status)
				fprintf(stderr, "  %s", r->status);
			if (r && r->name)
				fprintf(stderr, "  \"%s\"", r->name);
			if (r && r->owner)
				fprintf(stderr, "  owner %s", r->owner);
			if (t.items[i].where)
				fprintf(stderr, "  found in %s", t.items[i].where);
			fputc('\n', stderr);
		}
		free(first);
	}
	switch (cli_revoke_go_ahead(dry_run, yes)) {
	case 0:
		goto out;
	case -1:
		code = CLI_EXIT_ERROR;
		goto out;
	}
	items = bs_xcalloc(t.len, sizeof(*items));
	for (size_t i = 0; i < t.len; i++) {
		items[i].token_hash = t.items[i].hash;
		items[i].source.url = t.items[i].repository;
		items[i].source.repository = t.items[i].repository;
		items[i].source.commit = t.items[i].commit;
		items[i].source.path = t.items[i].path;
	}
	if (bs_leaks_revoke(is.client, &revoked, items, t.len, reason, &err) < 0)
		cli_error("%s", err.message);
	for (size_t i = 0; i < revoked.len; i++) {
		const bs_leak_result *r = &revoked.items[i];
		const bs_leak_result *ck = have_check ? bs_leak_results_find(&checked, r->token_hash) : NULL;
		printf("%-15s %s", r->outcome ? r->outcome : "failed", r->token_hash);
		if (ck && ck->token_prefix)
			printf("  %s", ck->token_prefix);
		if (ck && ck->name)
			printf("  \"%s\"", ck->name);
		putchar('\n');
		if (!r->outcome)
			nfailed++;
	}
	fflush(stdout);
	if (nfailed) {
		cli_error("%zu revocation%s failed; run the same command again to retry", nfailed,
		          nfailed == 1 ? "" : "s");
		code = CLI_EXIT_REVOKE_FAILED;
	}
out:
	free(items);
	free(hashes);
	bs_leak_results_free(&checked);
	bs_leak_results_free(&revoked);
	cli_issuer_close(&is);
	targets_free(&t);
	return code;
usage_fail:
	targets_free(&t);
	return CLI_EXIT_ERROR;
}
