#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/secure.h"
#include "common/timeutil.h"
#include "server/srv.h"
#include "common/banned.h"

typedef struct cred {
	int is_pat;
	long long user_id; /* 0: not bound to a user (token exchange) */
	long long pat_id;
	char *sub;
	char *name;
	char *scopes;
	char prefix[13];
	time_t expires_at; /* 0: never */
} cred;

static void cred_free(cred *c)
{
	free(c->sub);
	free(c->name);
	free(c->scopes);
}

static void unauthorized(bs_srv_resp *r, const char *desc)
{
	char *h = bs_xasprintf("Bearer error=\"invalid_token\", error_description=\"%s\"", desc);
	bs_srv_resp_header(r, "WWW-Authenticate", h);
	free(h);
	bs_srv_resp_error(r, 401, "invalid_token", "%s", desc);
}

static int auth_pat(bs_srv *s, const char *tok, cred *c, bs_srv_resp *r)
{
	char hash[65];
	sqlite3_stmt *st = bs_srv_prep(s->db, "SELECT p.id, p.user_id, u.username, p.name, p.scopes, p.expires_at,"
	                                      " p.revoked_at IS NOT NULL, p.token_prefix FROM personal_access_tokens p"
	                                      " JOIN users u ON u.id = p.user_id WHERE p.token_hash = ?");
	int rc = -1;
	if (!st) {
		bs_srv_resp_error(r, 500, "server_error", "database error");
		return -1;
	}
	bs_sha256_hex(tok, strlen(tok), hash);
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		unauthorized(r, "unknown token");
	} else if (sqlite3_column_int(st, 6)) {
		unauthorized(r, "the token has been revoked");
	} else if (sqlite3_column_type(st, 5) != SQLITE_NULL &&
	           sqlite3_column_int64(st, 5) <= (sqlite3_int64)time(NULL)) {
		unauthorized(r, "the token has expired");
	} else {
		c->is_pat = 1;
		c->pat_id = sqlite3_column_int64(st, 0);
		c->user_id = sqlite3_column_int64(st, 1);
		c->sub = bs_srv_col_strdup(st, 2);
		c->name = bs_srv_col_strdup(st, 3);
		c->scopes = bs_srv_col_strdup(st, 4);
		c->expires_at = (time_t)sqlite3_column_int64(st, 5);
		snprintf(c->prefix, sizeof(c->prefix), "%s", (const char *)sqlite3_column_text(st, 7));
		rc = 0;
	}
	sqlite3_finalize(st);
	if (rc == 0) {
		/* At most one write per token and second: a busy PAT (the webhook's
		 * service credential) does not turn every read into a write. */
		st = bs_srv_prep(s->db, "UPDATE personal_access_tokens SET last_used_at = ?1 WHERE id = ?2 AND"
		                        " (last_used_at IS NULL OR last_used_at < ?1)");
		if (st) {
			sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
			sqlite3_bind_int64(st, 2, c->pat_id);
			sqlite3_step(st);
			sqlite3_finalize(st);
		}
	}
	return rc;
}

static int auth_jwt(bs_srv *s, const char *tok, cred *c, bs_srv_resp *r)
{
	cJSON *claims = NULL;
	bs_error err = BS_ERROR_INIT;
	const cJSON *jti, *sub, *scope, *exp;
	sqlite3_stmt *st;
	int revoked = 1;
	if (bs_srv_jwt_verify_own(s, tok, &claims, &err) < 0) {
		unauthorized(r, err.message);
		return -1;
	}
	jti = cJSON_GetObjectItemCaseSensitive(claims, "jti");
	sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
	scope = cJSON_GetObjectItemCaseSensitive(claims, "scope");
	exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
	if (!cJSON_IsString(jti) || !cJSON_IsString(sub) || !cJSON_IsString(scope)) {
		cJSON_Delete(claims);
		unauthorized(r, "the access token lacks jti, sub or scope");
		return -1;
	}
	st = bs_srv_prep(s->db, "SELECT revoked_at IS NOT NULL FROM access_tokens WHERE jti = ?");
	if (st) {
		sqlite3_bind_text(st, 1, jti->valuestring, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			revoked = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (revoked) {
		cJSON_Delete(claims);
		unauthorized(r, "the access token has been revoked");
		return -1;
	}
	c->sub = bs_xstrdup(sub->valuestring);
	c->name = bs_xstrdup(sub->valuestring);
	c->scopes = bs_xstrdup(scope->valuestring);
	c->expires_at = (time_t)exp->valuedouble;
	c->user_id = strncmp(c->sub, "ci:", 3) == 0 ? 0 : bs_srv_user_id(s->db, c->sub);
	if (c->user_id < 0)
		c->user_id = 0;
	cJSON_Delete(claims);
	return 0;
}

/* Authenticates the bearer credential and checks scope (NULL: any). Returns 0,
 * or -1 with the 401/403 response written. */
static int authenticate(bs_srv *s, bs_srv_req *q, bs_srv_resp *r, cred *c, const char *scope)
{
	const char *h = bs_srv_req_header(q, "Authorization");
	const char *tok;
	int rc;
	memset(c, 0, sizeof(*c));
	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		unauthorized(r, "a Bearer credential (access token or PAT) is required");
		return -1;
	}
	tok = h + 7;
	while (*tok == ' ')
		tok++;
	if (strncmp(tok, "bst_", 4) == 0)
		rc = auth_pat(s, tok, c, r);
	else if (strchr(tok, '.'))
		rc = auth_jwt(s, tok, c, r);
	else {
		unauthorized(r, "the credential is neither a PAT nor an access token");
		rc = -1;
	}
	if (rc < 0) {
		cred_free(c);
		return -1;
	}
	if (scope && !bs_srv_scope_has(c->scopes, scope)) {
		char *hdr = bs_xasprintf("Bearer error=\"insufficient_scope\", scope=\"%s\"", scope);
		bs_srv_resp_header(r, "WWW-Authenticate", hdr);
		free(hdr);
		bs_srv_resp_error(r, 403, "insufficient_scope", "this call needs the %s scope", scope);
		cred_free(c);
		return -1;
	}
	return 0;
}

/* Parses the JSON body; returns the object or NULL with a 400 written. */
static cJSON *json_body(bs_srv_req *q, bs_srv_resp *r)
{
	const char *end = NULL;
	cJSON *j;
	if (!q->body.len) {
		bs_srv_resp_error(r, 400, "invalid_request", "the request body is empty; a JSON object is expected");
		return NULL;
	}
	j = cJSON_ParseWithLengthOpts(q->body.ptr, q->body.len, &end, 0);
	if (!j) {
		size_t off = end && end >= q->body.ptr ? (size_t)(end - q->body.ptr) : 0;
		bs_srv_resp_error(r, 400, "invalid_request", "malformed JSON body: syntax error at byte %zu", off);
		return NULL;
	}
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		bs_srv_resp_error(r, 400, "invalid_request", "the JSON body must be an object");
		return NULL;
	}
	return j;
}

/* The token_hashes array, validated; NULL with the error written. */
static const cJSON *token_hashes(const cJSON *body, bs_srv_resp *r)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(body, "token_hashes"), *e;
	int n, i = 0;
	if (!cJSON_IsArray(a)) {
		bs_srv_resp_error(r, 400, "invalid_request", "token_hashes must be an array of SHA-256 hex strings");
		return NULL;
	}
	n = cJSON_GetArraySize(a);
	if (n == 0) {
		bs_srv_resp_error(r, 400, "invalid_request", "token_hashes is empty (1 to %d hashes)",
		                  BS_SRV_MAX_BATCH);
		return NULL;
	}
	if (n > BS_SRV_MAX_BATCH) {
		bs_srv_resp_error(r, 413, "too_many_hashes", "token_hashes has %d entries; at most %d per request", n,
		                  BS_SRV_MAX_BATCH);
		return NULL;
	}
	cJSON_ArrayForEach(e, a)
	{
		if (!cJSON_IsString(e) || !bs_is_sha256_hex(e->valuestring)) {
			bs_srv_resp_error(r, 400, "invalid_request",
			                  "token_hashes[%d] is not a SHA-256 hash (64 lowercase hex digits)", i);
			return NULL;
		}
		i++;
	}
	return a;
}

static void add_time(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
	char t[BS_RFC3339_LEN];
	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	bs_time_format_rfc3339((time_t)sqlite3_column_int64(st, col), t);
	cJSON_AddStringToObject(o, name, t);
}

static void add_time_t(cJSON *o, const char *name, time_t v)
{
	char t[BS_RFC3339_LEN];
	if (!v) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	bs_time_format_rfc3339(v, t);
	cJSON_AddStringToObject(o, name, t);
}

#define PAT_BY_HASH                                                                                                    \
	"SELECT p.id, p.token_prefix, p.name, u.username, p.expires_at, p.last_used_at, p.revoked_at IS NOT NULL"      \
	" FROM personal_access_tokens p JOIN users u ON u.id = p.user_id WHERE p.token_hash = ?"

void bs_srv_h_check(bs_srv *s, bs_srv_req *q, bs_srv_resp *r)
{
	cred c;
	cJSON *body, *out, *results;
	const cJSON *hashes, *h;
	sqlite3_stmt *st;
	if (authenticate(s, q, r, &c, "leaks:check") < 0)
		return;
	body = json_body(q, r);
	hashes = body ? token_hashes(body, r) : NULL;
	st = hashes ? bs_srv_prep(s->db, PAT_BY_HASH) : NULL;
	if (!st) {
		if (hashes)
			bs_srv_resp_error(r, 500, "server_error", "database error");
		cJSON_Delete(body);
		cred_free(&c);
		return;
	}
	out = cJSON_CreateObject();
	results = cJSON_AddArrayToObject(out, "results");
	cJSON_ArrayForEach(h, hashes)
	{
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "token_hash", h->valuestring);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, h->valuestring, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *status = "active";
			if (sqlite3_column_int(st, 6))
				status = "revoked";
			else if (sqlite3_column_type(st, 4) != SQLITE_NULL &&
			         sqlite3_column_int64(st, 4) <= (sqlite3_int64)time(NULL))
				status = "expired";
			cJSON_AddStringToObject(e, "status", status);
			cJSON_AddStringToObject(e, "token_prefix", (const char *)sqlite3_column_text(st, 1));
			cJSON_AddStringToObject(e, "name", (const char *)sqlite3_column_text(st, 2));
			cJSON_AddStringToObject(e, "owner", (const char *)sqlite3_column_text(st, 3));
			add_time(e, "expires_at", st, 4);
			add_time(e, "last_used_at", st, 5);
		} else {
			cJSON_AddStringToObject(e, "status", "unknown");
		}
		cJSON_AddItemToArray(results, e);
	}
	sqlite3_finalize(st);
	bs_srv_resp_json(r, 200, out);
	cJSON_Delete(out);
	cJSON_Delete(body);
	cred_free(&c);
}

/* Validates reason and source; returns 0 or -1 with a 400 written. */
static int revoke_params(const cJSON *body, bs_srv_resp *r, const char **reason, char **source_json)
{
	const cJSON *re = cJSON_GetObjectItemCaseSensitive(body, "reason");
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(body, "source"), *f;
	*reason = "leaked";
	*source_json = NULL;
	if (re && !cJSON_IsNull(re)) {
		if (!cJSON_IsString(re) || !*re->valuestring || strlen(re->valuestring) > 200) {
			bs_srv_resp_error(r, 400, "invalid_request",
			                  "reason must be a non-empty string of at most 200 bytes");
			return -1;
		}
		*reason = re->valuestring;
	}
	if (src && !cJSON_IsNull(src)) {
		if (!cJSON_IsObject(src)) {
			bs_srv_resp_error(r, 400, "invalid_request",
			                  "source must be an object with url, repository, commit and path");
			return -1;
		}
		cJSON_ArrayForEach(f, src)
		{
			if (!cJSON_IsString(f) && !cJSON_IsNull(f)) {
				bs_srv_resp_error(r, 400, "invalid_request", "source.%.64s must be a string",
				                  f->string);
				return -1;
			}
		}
		*source_json = cJSON_PrintUnformatted(src);
	}
	return 0;
}

void bs_srv_h_revoke(bs_srv *s, bs_srv_req *q, bs_srv_resp *r)
{
	cred c;
	cJSON *body, *out, *results;
	const cJSON *hashes, *h;
	const char *reason;
	char *source = NULL, *actor;
	sqlite3_stmt *st;
	if (authenticate(s, q, r, &c, "leaks:revoke") < 0)
		return;
	body = json_body(q, r);
	hashes = body ? token_hashes(body, r) : NULL;
	if (!hashes || revoke_params(body, r, &reason, &source) < 0) {
		cJSON_Delete(body);
		cred_free(&c);
		return;
	}
	st = bs_srv_prep(s->db, PAT_BY_HASH);
	if (!st) {
		bs_srv_resp_error(r, 500, "server_error", "database error");
		goto out;
	}
	actor = c.is_pat ? bs_xasprintf("%s (PAT %s)", c.sub, c.prefix) : bs_xstrdup(c.sub);
	bs_srv_exec(s->db, "BEGIN IMMEDIATE");
	out = cJSON_CreateObject();
	results = cJSON_AddArrayToObject(out, "results");
	cJSON_ArrayForEach(h, hashes)
	{
		cJSON *e = cJSON_CreateObject();
		const char *outcome = "unknown";
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, h->valuestring, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			long long id = sqlite3_column_int64(st, 0);
			if (sqlite3_column_int(st, 6))
				outcome = "already_revoked";
			else if (sqlite3_column_type(st, 4) != SQLITE_NULL &&
			         sqlite3_column_int64(st, 4) <= (sqlite3_int64)time(NULL))
				outcome = "expired";
			else
				outcome = bs_srv_pat_revoke_row(s->db, id, reason) == 1 ? "revoked" : "already_revoked";
		}
		bs_srv_audit(s->db, actor, "leak_revoke", h->valuestring, reason, source, outcome);
		cJSON_AddStringToObject(e, "token_hash", h->valuestring);
		cJSON_AddStringToObject(e, "outcome", outcome);
		cJSON_AddItemToArray(results, e);
	}
	bs_srv_exec(s->db, "COMMIT");
	sqlite3_finalize(st);
	free(actor);
	bs_srv_resp_json(r, 200, out);
	cJSON_Delete(out);
out:
	cJSON_Delete(body);
	free(source);
	cred_free(&c);
}

/* ---------- PATs ---------- */

long long bs_srv_user_id(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st = bs_srv_prep(db, "SELECT id FROM users WHERE username = ?");
	long long id = -1;
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

int bs_srv_pat_create(sqlite3 *db, long long user_id, const char *name, const char *scopes, time_t expires_at,
                      char token_out[48], long long *id_out, bs_error *err)
{
	char hash[65];
	sqlite3_stmt *st =
	    bs_srv_prep(db, "INSERT INTO personal_access_tokens (user_id, name, token_hash, token_prefix,"
	                    " scopes, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
	char prefix[13];
	int ok;
	if (!st)
		return bs_error_set(err, BS_ERR_IO, "database error");
	bs_srv_new_pat(token_out);
	bs_sha256_hex(token_out, strlen(token_out), hash);
	snprintf(prefix, sizeof(prefix), "%.12s", token_out);
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, scopes, -1, SQLITE_STATIC);
	if (expires_at)
		sqlite3_bind_int64(st, 6, (sqlite3_int64)expires_at);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)time(NULL));
	ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	if (!ok) {
		bs_secure_zero(token_out, 48);
		return bs_error_set(err, BS_ERR_IO, "cannot store the token: %s", sqlite3_errmsg(db));
	}
	if (id_out)
		*id_out = sqlite3_last_insert_rowid(db);
	return 0;
}

static cJSON *scopes_array(const char *scopes);

static void pat_create(bs_srv *s, bs_srv_req *q, bs_srv_resp *r, cred *c)
{
	cJSON *body = json_body(q, r), *out;
	const cJSON *name, *scopes, *exp, *e;
	bs_buf sc = BS_BUF_INIT;
	time_t expires_at = 0;
	char token[48], t[BS_RFC3339_LEN];
	long long id;
	bs_error err = BS_ERROR_INIT;
	int i = 0;
	if (!body)
		return;
	name = cJSON_GetObjectItemCaseSensitive(body, "name");
	scopes = cJSON_GetObjectItemCaseSensitive(body, "scopes");
	exp = cJSON_GetObjectItemCaseSensitive(body, "expires_at");
	if (!cJSON_IsString(name) || !*name->valuestring || strlen(name->valuestring) > 100) {
		bs_srv_resp_error(r, 400, "invalid_request", "name must be a non-empty string of at most 100 bytes");
		goto out;
	}
	if (!cJSON_IsArray(scopes) || cJSON_GetArraySize(scopes) == 0) {
		bs_srv_resp_error(r, 400, "invalid_request", "scopes must be a non-empty array of scope strings");
		goto out;
	}
	cJSON_ArrayForEach(e, scopes)
	{
		if (!cJSON_IsString(e) || !bs_srv_scope_has(BS_SRV_PRODUCT_SCOPES, e->valuestring)) {
			bs_srv_resp_error(r, 400, "invalid_scope", "scopes[%d] is not one of %s", i,
			                  BS_SRV_PRODUCT_SCOPES);
			goto out;
		}
		/* A credential cannot mint one stronger than itself. */
		if (!bs_srv_scope_has(c->scopes, e->valuestring)) {
			bs_srv_resp_error(r, 403, "insufficient_scope",
			                  "scopes[%d] (%s) exceeds the scopes of the credential making the call", i,
			                  e->valuestring);
			goto out;
		}
		if (!bs_srv_scope_has(sc.ptr, e->valuestring)) {
			if (sc.len)
				bs_buf_addch(&sc, ' ');
			bs_buf_adds(&sc, e->valuestring);
		}
		i++;
	}
	if (exp && !cJSON_IsNull(exp)) {
		if (!cJSON_IsString(exp) || bs_time_parse_rfc3339(exp->valuestring, &expires_at) < 0) {
			bs_srv_resp_error(r, 400, "invalid_request", "expires_at must be an RFC 3339 time or null");
			goto out;
		}
		if (expires_at <= time(NULL)) {
			bs_srv_resp_error(r, 400, "invalid_request", "expires_at is in the past");
			goto out;
		}
	}
	if (!c->user_id) {
		bs_srv_resp_error(r, 403, "insufficient_scope",
		                  "this credential is not bound to a user and cannot own PATs");
		goto out;
	}
	if (bs_srv_pat_create(s->db, c->user_id, name->valuestring, sc.ptr, expires_at, token, &id, &err) < 0) {
		bs_srv_resp_error(r, 500, "server_error", "%s", err.message);
		goto out;
	}
	out = cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "id", (double)id);
	cJSON_AddStringToObject(out, "token", token);
	token[12] = '\0';
	cJSON_AddStringToObject(out, "token_prefix", token);
	cJSON_AddStringToObject(out, "name", name->valuestring);
	cJSON_AddItemToObject(out, "scopes", scopes_array(sc.ptr));
	add_time_t(out, "expires_at", expires_at);
	bs_time_format_rfc3339(time(NULL), t);
	cJSON_AddStringToObject(out, "created_at", t);
	bs_srv_resp_json(r, 201, out);
	cJSON_Delete(out);
	bs_secure_zero(token, sizeof(token));
out:
	bs_buf_free(&sc);
	cJSON_Delete(body);
}

static cJSON *scopes_array(const char *scopes)
{
	cJSON *a = cJSON_CreateArray();
	const char *p = scopes;
	while (p && *p) {
		size_t l;
		while (*p == ' ')
			p++;
		l = strcspn(p, " ");
		if (l) {
			char *w = bs_xstrndup(p, l);
			cJSON_AddItemToArray(a, cJSON_CreateString(w));
			free(w);
		}
		p += l;
	}
	return a;
}

static void pat_list(bs_srv *s, bs_srv_resp *r, cred *c)
{
	sqlite3_stmt *st =
	    bs_srv_prep(s->db, "SELECT id, name, token_prefix, scopes, created_at, expires_at, last_used_at,"
	                       " revoked_at FROM personal_access_tokens WHERE user_id = ? ORDER BY id");
	cJSON *out, *arr;
	if (!st) {
		bs_srv_resp_error(r, 500, "server_error", "database error");
		return;
	}
	out = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(out, "pats");
	sqlite3_bind_int64(st, 1, c->user_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *e = cJSON_CreateObject();
		const char *status = "active";
		if (sqlite3_column_type(st, 7) != SQLITE_NULL)
			status = "revoked";
		else if (sqlite3_column_type(st, 5) != SQLITE_NULL &&
		         sqlite3_column_int64(st, 5) <= (sqlite3_int64)time(NULL))
			status = "expired";
		cJSON_AddNumberToObject(e, "id", (double)sqlite3_column_int64(st, 0));
		cJSON_AddStringToObject(e, "name", (const char *)sqlite3_column_text(st, 1));
		cJSON_AddStringToObject(e, "token_prefix", (const char *)sqlite3_column_text(st, 2));
		cJSON_AddItemToObject(e, "scopes", scopes_array((const char *)sqlite3_column_text(st, 3)));
		add_time(e, "created_at", st, 4);
		add_time(e, "expires_at", st, 5);
		add_time(e, "last_used_at", st, 6);
		add_time(e, "revoked_at", st, 7);
		cJSON_AddStringToObject(e, "status", status);
		cJSON_AddItemToArray(arr, e);
	}
	sqlite3_finalize(st);
	bs_srv_resp_json(r, 200, out);
	cJSON_Delete(out);
}

void bs_srv_h_pats(bs_srv *s, bs_srv_req *q, bs_srv_resp *r)
{
	cred c;
	int post = strcmp(q->method, "POST") == 0;
	if (authenticate(s, q, r, &c, post ? "pats:write" : "pats:read") < 0)
		return;
	if (post)
		pat_create(s, q, r, &c);
	else
		pat_list(s, r, &c);
	cred_free(&c);
}

void bs_srv_h_pat_delete(bs_srv *s, bs_srv_req *q, bs_srv_resp *r)
{
	cred c;
	const char *idp = q->path + strlen("/api/v1/pats/");
	char *end;
	long long id;
	sqlite3_stmt *st;
	int found = 0;
	char *hash = NULL;
	if (authenticate(s, q, r, &c, "pats:write") < 0)
		return;
	id = strtoll(idp, &end, 10);
	if (*idp < '0' || *idp > '9' || *end || id <= 0) {
		bs_srv_resp_error(r, 404, "not_found", "no PAT with id %.32s", idp);
		cred_free(&c);
		return;
	}
	st = bs_srv_prep(s->db, "SELECT token_hash FROM personal_access_tokens WHERE id = ? AND user_id = ?");
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, c.user_id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			found = 1;
			hash = bs_srv_col_strdup(st, 0);
		}
		sqlite3_finalize(st);
	}
	if (!found) {
		/* Another user's PAT is indistinguishable from a missing one. */
		bs_srv_resp_error(r, 404, "not_found", "no PAT with id %lld among yours", id);
	} else {
		if (bs_srv_pat_revoke_row(s->db, id, "deleted by its owner") == 1)
			bs_srv_audit(s->db, c.sub, "pat_delete", hash, "deleted by its owner", NULL, "revoked");
		r->status = 204;
		r->content_type = NULL;
	}
	free(hash);
	cred_free(&c);
}

void bs_srv_h_me(bs_srv *s, bs_srv_req *q, bs_srv_resp *r)
{
	cred c;
	cJSON *o;
	if (authenticate(s, q, r, &c, NULL) < 0)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "sub", c.sub);
	cJSON_AddStringToObject(o, "name", c.name);
	cJSON_AddItemToObject(o, "scopes", scopes_array(c.scopes));
	cJSON_AddStringToObject(o, "token_type", c.is_pat ? "pat" : "access_token");
	if (c.is_pat)
		cJSON_AddStringToObject(o, "token_prefix", c.prefix);
	add_time_t(o, "expires_at", c.expires_at);
	bs_srv_resp_json(r, 200, o);
	cJSON_Delete(o);
	cred_free(&c);
}
