#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/timeutil.h"
#include "revoke/json.h"
#include "revoke/leaks.h"
#include "common/banned.h"

/* A reply for 1000 hashes is about 400 KB; anything far beyond is not a reply. */
#define LEAKS_MAX_REPLY (8u << 20)

struct bs_leaks_client {
	char *server;
	bs_auth_session *session;
	bs_buf bearer;
	bs_http *http;
	int own_http;
	size_t batch_max;
	long long deadline_ms;
	size_t requests;
};

static int past_deadline(void *ctx)
{
	const bs_leaks_client *c = ctx;
	return c->deadline_ms > 0 && bs_time_monotonic_ms() >= c->deadline_ms;
}

int bs_leaks_client_new(bs_leaks_client **out, const bs_leaks_options *opts, bs_error *err)
{
	bs_leaks_client *c;
	size_t len;
	*out = NULL;
	if (!opts->server || !*opts->server)
		return bs_error_set(err, BS_ERR_USAGE, "no issuer server URL");
	if (!!opts->session == !!opts->bearer)
		return bs_error_set(err, BS_ERR_USAGE, "the leaks client needs either a session or a bearer token");
	if (bs_http_check_url(opts->server, err) < 0)
		return err ? err->code : BS_ERR_USAGE;
	c = bs_xcalloc(1, sizeof(*c));
	c->server = bs_xstrdup(opts->server);
	len = strlen(c->server);
	while (len > 0 && c->server[len - 1] == '/')
		c->server[--len] = '\0';
	c->session = opts->session;
	bs_buf_init(&c->bearer, 0);
	if (opts->bearer)
		bs_buf_adds(&c->bearer, opts->bearer);
	c->batch_max = opts->batch_max ? opts->batch_max : BS_LEAKS_BATCH_MAX;
	if (c->batch_max > BS_LEAKS_BATCH_MAX)
		c->batch_max = BS_LEAKS_BATCH_MAX;
	if (opts->http) {
		c->http = opts->http;
	} else if (opts->session) {
		c->http = bs_auth_session_http(opts->session);
	} else {
		bs_http_options ho = {0};
		ho.max_body_bytes = LEAKS_MAX_REPLY;
		if (bs_http_new(&c->http, &ho, err) < 0) {
			bs_leaks_client_free(c);
			return err ? err->code : BS_ERR_INTERNAL;
		}
		c->own_http = 1;
	}
	*out = c;
	return 0;
}

void bs_leaks_client_free(bs_leaks_client *c)
{
	if (!c)
		return;
	if (c->own_http)
		bs_http_free(c->http);
	bs_buf_free_secure(&c->bearer);
	free(c->server);
	free(c);
}

void bs_leaks_client_set_deadline(bs_leaks_client *c, long long deadline_ms)
{
	c->deadline_ms = deadline_ms;
}

size_t bs_leaks_client_requests(const bs_leaks_client *c)
{
	return c->requests;
}

/* ---- results ---- */

static void result_clear(bs_leak_result *r)
{
	free(r->status);
	free(r->outcome);
	free(r->token_prefix);
	free(r->name);
	free(r->owner);
	free(r->expires_at);
	free(r->last_used_at);
	memset(r, 0, sizeof(*r));
}

void bs_leak_results_free(bs_leak_results *r)
{
	for (size_t i = 0; i < r->len; i++)
		result_clear(&r->items[i]);
	free(r->items);
	free(r->index);
	memset(r, 0, sizeof(*r));
}

static int cmp_result_ix(const void *a, const void *b, void *ctx)
{
	const bs_leak_result *items = ctx;
	return strcmp(items[*(const size_t *)a].token_hash, items[*(const size_t *)b].token_hash);
}

static size_t *sorted_index(const bs_leak_result *items, size_t first, size_t n)
{
	size_t *ix = bs_xmalloc((n ? n : 1) * sizeof(*ix));
	for (size_t i = 0; i < n; i++)
		ix[i] = first + i;
	qsort_r(ix, n, sizeof(*ix), cmp_result_ix, (void *)items);
	return ix;
}

static bs_leak_result *lookup(bs_leak_result *items, const size_t *ix, size_t n, const char *hash)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(items[ix[mid]].token_hash, hash);
		if (c == 0)
			return &items[ix[mid]];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const bs_leak_result *bs_leak_results_find(const bs_leak_results *r, const char *hash)
{
	if (!r->index || !hash)
		return NULL;
	return lookup(r->items, r->index, r->len, hash);
}

static void results_reindex(bs_leak_results *r)
{
	free(r->index);
	r->index = sorted_index(r->items, 0, r->len);
}

static int cmp_str_ix(const void *a, const void *b, void *ctx)
{
	const char *const *s = ctx;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	int c = strcmp(s[ia], s[ib]);
	return c ? c : (ia < ib ? -1 : ia > ib);
}

/* Sets keep[i] for the first occurrence of each distinct string (O(n log n)). */
static void first_occurrences(const char *const *s, size_t n, unsigned char *keep)
{
	size_t *ix = bs_xmalloc((n ? n : 1) * sizeof(*ix));
	for (size_t i = 0; i < n; i++)
		ix[i] = i;
	qsort_r(ix, n, sizeof(*ix), cmp_str_ix, (void *)s);
	for (size_t i = 0; i < n; i++)
		keep[ix[i]] = i == 0 || strcmp(s[ix[i]], s[ix[i - 1]]) != 0;
	free(ix);
}

static int validate_hashes(const char *const *hashes, size_t n, bs_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (!hashes[i] || !bs_is_sha256_hex(hashes[i]))
			return bs_error_set(err, BS_ERR_USAGE, "hash %zu is not 64 lowercase hex digits", i + 1);
	return 0;
}

static void results_push(bs_leak_results *r, const char *hash)
{
	BS_ARRAY_GROW(r->items, r->cap, r->len + 1);
	memset(&r->items[r->len], 0, sizeof(r->items[0]));
	memcpy(r->items[r->len].token_hash, hash, BS_SHA256_HEX_LEN + 1);
	r->len++;
}

/* ---- request bodies ---- */

static cJSON *hash_array(const char *const *hashes, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(hashes[i]));
	return a;
}

static char *print_and_delete(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);
	char *copy;
	cJSON_Delete(o);
	if (!s)
		abort(); /* cJSON fails only on allocation failure: like bs_xmalloc */
	copy = bs_xstrdup(s);
	cJSON_free(s);
	return copy;
}

char *bs_leaks_check_body(const char *const *hashes, size_t n)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "token_hashes", hash_array(hashes, n));
	return print_and_delete(o);
}

char *bs_leaks_revoke_body(const char *const *hashes, size_t n, const char *reason, const bs_leak_source *src)
{
	cJSON *o = cJSON_CreateObject(), *so;
	cJSON_AddItemToObject(o, "token_hashes", hash_array(hashes, n));
	cJSON_AddStringToObject(o, "reason", reason ? reason : "leaked");
	so = cJSON_AddObjectToObject(o, "source");
	if (src) {
		const char *names[] = {"url", "repository", "commit", "path"};
		const char *vals[] = {src->url, src->repository, src->commit, src->path};
		for (size_t i = 0; i < 4; i++)
			if (vals[i] && *vals[i])
				cJSON_AddStringToObject(so, names[i], vals[i]);
	}
	return print_and_delete(o);
}

/* ---- reply parsing ---- */

/* The server's words go into our messages: keep them short and printable, and never let a
 * token it echoes through (anything shaped like bst_ and a long tail) reach a message. */
static void add_sanitized(bs_buf *b, const char *s, size_t max)
{
	size_t i;
	for (i = 0; s[i] && i < max; i++) {
		if (strncmp(s + i, "bst_", 4) == 0) {
			size_t j = i + 4;
			while (s[j] && (isalnum((unsigned char)s[j]) || s[j] == '-' || s[j] == '_'))
				j++;
			if (j - i >= 16) {
				bs_buf_adds(b, "bst_[redacted]");
				i = j - 1;
				continue;
			}
		}
		bs_buf_addch(b, isprint((unsigned char)s[i]) ? s[i] : '?');
	}
	if (s[i])
		bs_buf_adds(b, "...");
}

/* Replaces every occurrence of secret in err's message (a last line of defence). */
static void scrub(bs_error *err, const char *secret)
{
	bs_buf m = BS_BUF_INIT;
	const char *p, *hit;
	size_t sl = secret ? strlen(secret) : 0;
	if (!err || sl < 8 || !strstr(err->message, secret))
		return;
	for (p = err->message; (hit = strstr(p, secret)); p = hit + sl) {
		bs_buf_add(&m, p, (size_t)(hit - p));
		bs_buf_adds(&m, "[redacted]");
	}
	bs_buf_adds(&m, p);
	snprintf(err->message, sizeof(err->message), "%s", m.ptr);
	bs_buf_free(&m);
}

static int one_of(const char *v, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (strcmp(v, *allowed) == 0)
			return 1;
	return 0;
}

static int take_string(char **dst, const cJSON *item, const char *field, size_t idx, bs_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, field);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || !v->valuestring)
		return bs_error_set(err, BS_ERR_SERVER,
		                    "malformed reply from the issuer: results[%zu].%s is not a string", idx, field);
	if (strlen(v->valuestring) > BS_LEAKS_FIELD_MAX)
		return bs_error_set(err, BS_ERR_SERVER,
		                    "malformed reply from the issuer: results[%zu].%s is longer than %d bytes", idx,
		                    field, BS_LEAKS_FIELD_MAX);
	free(*dst);
	*dst = bs_xstrdup(v->valuestring);
	return 0;
}

static const char *const check_statuses[] = {"active", "revoked", "expired", "unknown", NULL};
static const char *const revoke_outcomes[] = {"revoked", "already_revoked", "expired", "unknown", NULL};

static int parse_reply(bs_leak_results *out, size_t first, size_t n, const char *body, size_t len, int revoke,
                       bs_error *err)
{
	const char *field = revoke ? "outcome" : "status";
	const char *const *allowed = revoke ? revoke_outcomes : check_statuses;
	cJSON *root = bs_json_parse_exact(body, len);
	const cJSON *results, *item;
	size_t *ix = NULL, idx = 0, seen = 0;
	unsigned char *got = NULL;
	int rc = 0;

	if (!root)
		return bs_error_set(err, BS_ERR_SERVER, "malformed reply from the issuer: not JSON");
	results = cJSON_GetObjectItemCaseSensitive(root, "results");
	if (!cJSON_IsObject(root) || !cJSON_IsArray(results)) {
		rc = bs_error_set(err, BS_ERR_SERVER, "malformed reply from the issuer: no \"results\" array");
		goto out;
	}
	ix = sorted_index(out->items, first, n);
	got = bs_xcalloc(n ? n : 1, 1);
	cJSON_ArrayForEach(item, results)
	{
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(item, "token_hash");
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, field);
		bs_leak_result *r;
		char *value = NULL;
		if (!cJSON_IsObject(item)) {
			rc = bs_error_set(err, BS_ERR_SERVER,
			                  "malformed reply from the issuer: results[%zu] is not an object", idx);
			goto out;
		}
		if (!cJSON_IsString(h) || !bs_is_sha256_hex(h->valuestring)) {
			rc = bs_error_set(err, BS_ERR_SERVER,
			                  "malformed reply from the issuer: results[%zu].token_hash is not a lowercase "
			                  "SHA-256 hex hash",
			                  idx);
			goto out;
		}
		r = lookup(out->items, ix, n, h->valuestring);
		if (!r) {
			rc = bs_error_set(err, BS_ERR_SERVER,
			                  "malformed reply from the issuer: results[%zu] is for hash %.12s..., which "
			                  "was not asked about",
			                  idx, h->valuestring);
			goto out;
		}
		if (got[r - out->items - first]) {
			rc = bs_error_set(err, BS_ERR_SERVER,
			                  "malformed reply from the issuer: hash %.12s... answered twice",
			                  h->valuestring);
			goto out;
		}
		if (!cJSON_IsString(v) || !one_of(v->valuestring, allowed)) {
			bs_buf m = BS_BUF_INIT;
			if (cJSON_IsString(v))
				add_sanitized(&m, v->valuestring, 40);
			rc = bs_error_set(err, BS_ERR_SERVER,
			                  "malformed reply from the issuer: results[%zu].%s is %s%s%s", idx, field,
			                  cJSON_IsString(v) ? "the unknown value \"" : "missing or not a string", m.ptr,
			                  cJSON_IsString(v) ? "\"" : "");
			bs_buf_free(&m);
			goto out;
		}
		value = bs_xstrdup(v->valuestring);
		if (revoke) {
			free(r->outcome);
			r->outcome = value;
		} else {
			free(r->status);
			r->status = value;
		}
		if (take_string(&r->token_prefix, item, "token_prefix", idx, err) < 0 ||
		    take_string(&r->name, item, "name", idx, err) < 0 ||
		    take_string(&r->owner, item, "owner", idx, err) < 0 ||
		    take_string(&r->expires_at, item, "expires_at", idx, err) < 0 ||
		    take_string(&r->last_used_at, item, "last_used_at", idx, err) < 0) {
			rc = err ? err->code : BS_ERR_SERVER;
			goto out;
		}
		got[r - out->items - first] = 1;
		seen++;
		idx++;
	}
	if (seen != n) {
		for (size_t i = 0; i < n; i++)
			if (!got[i]) {
				rc = bs_error_set(err, BS_ERR_SERVER,
				                  "malformed reply from the issuer: %zu of %zu hashes have no result "
				                  "(first: %.12s...)",
				                  n - seen, n, out->items[first + i].token_hash);
				break;
			}
	}
out:
	if (rc < 0) {
		/* Half-parsed answers must not look like answers. */
		for (size_t i = 0; i < n; i++) {
			bs_leak_result *r = &out->items[first + i];
			free(revoke ? r->outcome : r->status);
			if (revoke)
				r->outcome = NULL;
			else
				r->status = NULL;
		}
	}
	free(ix);
	free(got);
	cJSON_Delete(root);
	return rc;
}

int bs_leaks_parse_check_reply(bs_leak_results *out, size_t first, size_t n, const char *body, size_t len,
                               bs_error *err)
{
	return parse_reply(out, first, n, body, len, 0, err);
}

int bs_leaks_parse_revoke_reply(bs_leak_results *out, size_t first, size_t n, const char *body, size_t len,
                                bs_error *err)
{
	return parse_reply(out, first, n, body, len, 1, err);
}

/* ---- HTTP ---- */

/* Why the issuer refused, from an RFC 6749-style error body when it sent one. */
static int refusal(const bs_http_response *resp, const char *what, bs_error *err)
{
	bs_buf m = BS_BUF_INIT;
	cJSON *root = NULL;
	int code;
	if (bs_http_response_is_json(resp))
		root = cJSON_ParseWithLength(resp->body.ptr, resp->body.len);
	if (root) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "error_description");
		if (cJSON_IsString(e)) {
			bs_buf_adds(&m, ": ");
			add_sanitized(&m, e->valuestring, 60);
			if (cJSON_IsString(d)) {
				bs_buf_adds(&m, " (");
				add_sanitized(&m, d->valuestring, 200);
				bs_buf_adds(&m, ")");
			}
		}
		cJSON_Delete(root);
	}
	switch (resp->status) {
	case 401:
		code = BS_ERR_AUTH;
		break;
	case 403:
		code = BS_ERR_AUTH;
		if (!m.len)
			bs_buf_adds(&m, ": insufficient_scope");
		break;
	default:
		code = BS_ERR_SERVER;
	}
	bs_error_set(err, code, "the issuer refused the %s request with HTTP %ld%s", what, resp->status, m.ptr);
	bs_buf_free(&m);
	return code;
}

static int get_bearer(bs_leaks_client *c, int renew, bs_buf *tok, bs_error *err)
{
	bs_buf_reset(tok);
	if (!c->session) {
		bs_buf_add(tok, c->bearer.ptr, c->bearer.len);
		return 0;
	}
	return renew ? bs_auth_bearer_renew(c->session, tok, err) : bs_auth_bearer(c->session, tok, err);
}

/* POSTs body to path; on 200 leaves the reply in resp. */
static int post(bs_leaks_client *c, const char *path, const char *what, const char *body, bs_http_response *resp,
                bs_error *err)
{
	bs_buf url = BS_BUF_INIT, tok = BS_BUF_INIT;
	bs_http_request req = {0};
	int rc, renewed = 0;

	if (past_deadline(c))
		return bs_error_set(err, BS_ERR_CANCELLED, "the %s request ran out of time", what);
	bs_buf_addf(&url, "%s%s", c->server, path);
	rc = get_bearer(c, 0, &tok, err);
	/* Only with a deadline: the http client may be the caller's, with a cancel callback of its own. */
	if (c->deadline_ms > 0)
		bs_http_set_cancel(c->http, past_deadline, c);
	while (rc == 0) {
		req.method = "POST";
		req.url = url.ptr;
		req.bearer = tok.ptr;
		req.content_type = "application/json";
		req.body = body;
		req.body_len = strlen(body);
		/* Both calls are idempotent on the issuer's side (revoke notifies once). */
		req.retry = BS_HTTP_RETRY_IDEMPOTENT;
		bs_http_response_free(resp);
		c->requests++;
		rc = bs_http_send(c->http, resp, &req, err);
		if (rc < 0) {
			if (rc == BS_ERR_CANCELLED)
				bs_error_set(err, BS_ERR_CANCELLED, "the %s request ran out of time", what);
			break;
		}
		if (resp->status == 401 && c->session && !renewed &&
		    bs_auth_session_source(c->session) != BS_AUTH_SOURCE_ENV) {
			renewed = 1;
			rc = get_bearer(c, 1, &tok, err);
			continue;
		}
		if (resp->status != 200) {
			rc = refusal(resp, what, err);
			break;
		}
		break;
	}
	if (c->deadline_ms > 0)
		bs_http_set_cancel(c->http, NULL, NULL);
	if (rc < 0)
		scrub(err, tok.ptr);
	bs_buf_free_secure(&tok);
	bs_buf_free(&url);
	return rc;
}

int bs_leaks_check(bs_leaks_client *c, bs_leak_results *out, const char *const *hashes, size_t n, bs_error *err)
{
	unsigned char *keep;
	int rc = 0;

	bs_leak_results_free(out);
	if (validate_hashes(hashes, n, err) < 0)
		return BS_ERR_USAGE;
	keep = bs_xcalloc(n ? n : 1, 1);
	first_occurrences(hashes, n, keep);
	for (size_t i = 0; i < n; i++)
		if (keep[i])
			results_push(out, hashes[i]);
	free(keep);
	for (size_t first = 0; first < out->len && rc == 0; first += c->batch_max) {
		size_t cnt = out->len - first < c->batch_max ? out->len - first : c->batch_max;
		const char **batch = bs_xmalloc(cnt * sizeof(*batch));
		bs_http_response resp = {0};
		char *body;
		for (size_t i = 0; i < cnt; i++)
			batch[i] = out->items[first + i].token_hash;
		body = bs_leaks_check_body(batch, cnt);
		rc = post(c, "/api/v1/leaks/check", "check", body, &resp, err);
		if (rc == 0)
			rc = bs_leaks_parse_check_reply(out, first, cnt, resp.body.ptr, resp.body.len, err);
		bs_http_response_free(&resp);
		free(body);
		free(batch);
	}
	if (rc < 0) {
		bs_leak_results_free(out);
		return rc;
	}
	results_reindex(out);
	return 0;
}

static int src_cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int source_cmp(const bs_leak_source *a, const bs_leak_source *b)
{
	int c = src_cmp_str(a->url, b->url);
	if (!c)
		c = src_cmp_str(a->repository, b->repository);
	if (!c)
		c = src_cmp_str(a->commit, b->commit);
	if (!c)
		c = src_cmp_str(a->path, b->path);
	return c;
}

typedef struct revoke_ctx {
	const bs_revoke_item *items;
	const size_t *item_of; /* result index -> the item that gave its source */
} revoke_ctx;

static int cmp_by_source(const void *a, const void *b, void *ctx)
{
	const revoke_ctx *rc = ctx;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	int c = source_cmp(&rc->items[rc->item_of[ia]].source, &rc->items[rc->item_of[ib]].source);
	return c ? c : (ia < ib ? -1 : ia > ib);
}

int bs_leaks_revoke(bs_leaks_client *c, bs_leak_results *out, const bs_revoke_item *items, size_t n, const char *reason,
                    bs_error *err)
{
	const char **hashes;
	unsigned char *keep;
	size_t *item_of, *order;
	revoke_ctx ctx;
	int first_rc = 0;
	bs_error e = BS_ERROR_INIT;

	bs_leak_results_free(out);
	hashes = bs_xmalloc((n ? n : 1) * sizeof(*hashes));
	for (size_t i = 0; i < n; i++)
		hashes[i] = items[i].token_hash;
	if (validate_hashes(hashes, n, err) < 0) {
		free(hashes);
		return BS_ERR_USAGE;
	}
	keep = bs_xcalloc(n ? n : 1, 1);
	item_of = bs_xmalloc((n ? n : 1) * sizeof(*item_of));
	first_occurrences(hashes, n, keep);
	for (size_t i = 0; i < n; i++)
		if (keep[i]) {
			item_of[out->len] = i;
			results_push(out, hashes[i]);
		}
	/* Group results by source (stable), then send each group in batches. */
	order = bs_xmalloc((out->len ? out->len : 1) * sizeof(*order));
	for (size_t i = 0; i < out->len; i++)
		order[i] = i;
	ctx.items = items;
	ctx.item_of = item_of;
	qsort_r(order, out->len, sizeof(*order), cmp_by_source, &ctx);
	for (size_t g = 0; g < out->len;) {
		const bs_leak_source *src = &items[item_of[order[g]]].source;
		size_t end = g;
		while (end < out->len && end - g < c->batch_max &&
		       source_cmp(&items[item_of[order[end]]].source, src) == 0)
			end++;
		{
			size_t cnt = end - g;
			const char **batch = bs_xmalloc(cnt * sizeof(*batch));
			bs_leak_results sub = BS_LEAK_RESULTS_INIT;
			bs_http_response resp = {0};
			char *body;
			int rc;
			for (size_t i = 0; i < cnt; i++) {
				batch[i] = out->items[order[g + i]].token_hash;
				results_push(&sub, batch[i]);
			}
			body = bs_leaks_revoke_body(batch, cnt, reason, src);
			bs_error_clear(&e);
			rc = post(c, "/api/v1/leaks/revoke", "revoke", body, &resp, &e);
			if (rc == 0)
				rc = bs_leaks_parse_revoke_reply(&sub, 0, cnt, resp.body.ptr, resp.body.len, &e);
			if (rc == 0) {
				for (size_t i = 0; i < cnt; i++) {
					bs_leak_result *d = &out->items[order[g + i]];
					bs_leak_result *s = &sub.items[i];
					d->outcome = s->outcome;
					s->outcome = NULL;
				}
			} else if (!first_rc) {
				first_rc = rc;
				if (err)
					*err = e;
			}
			bs_leak_results_free(&sub);
			bs_http_response_free(&resp);
			free(body);
			free(batch);
		}
		g = end;
	}
	free(order);
	free(item_of);
	free(keep);
	free(hashes);
	results_reindex(out);
	return first_rc;
}

char *bs_leaks_url_without_userinfo(const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *host, *at, *slash;
	bs_buf b = BS_BUF_INIT;
	if (!scheme)
		return bs_xstrdup(url);
	host = scheme + 3;
	slash = strchr(host, '/');
	at = memchr(host, '@', slash ? (size_t)(slash - host) : strlen(host));
	if (!at)
		return bs_xstrdup(url);
	bs_buf_add(&b, url, (size_t)(host - url));
	bs_buf_adds(&b, at + 1);
	return bs_buf_detach(&b, NULL);
}
