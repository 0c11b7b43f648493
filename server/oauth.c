#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/secure.h"
#include "server/srv.h"
#include "common/banned.h"

/* Leeway for exp/nbf/iat of foreign ID tokens: CI runners' clocks drift. */
#define EXCHANGE_LEEWAY_S 60

static const char *const supported_scopes[] = {"leaks:check", "leaks:revoke", "pats:read",     "pats:write",
                                               "openid",      "profile",      "offline_access"};

/* ---------- discovery ---------- */

void bs_srv_h_discovery(bs_srv *s, bs_srv_req *q, bs_srv_resp *r)
{
	cJSON *o = cJSON_CreateObject(), *a;
	char *u;
	cJSON_AddStringToObject(o, "issuer", s->issuer);
#define ENDPOINT(name, path)                                                                                           \
	u = bs_xasprintf("%s%s", s->issuer, path);                                                                     \
	cJSON_AddStringToObject(o, name, u);                                                                           \
	free(u);
	ENDPOINT("device_authorization_endpoint", "/oauth/device/authorize")
	ENDPOINT("token_endpoint", "/oauth/token")
	ENDPOINT("revocation_endpoint", "/oauth/revoke")
	ENDPOINT("jwks_uri", "/.well-known/jwks.json")
#undef ENDPOINT
	a = cJSON_AddArrayToObject(o, "grant_types_supported");
	cJSON_AddItemToArray(a, cJSON_CreateString(BS_SRV_GT_DEVICE));
	cJSON_AddItemToArray(a, cJSON_CreateString("refresh_token"));
	cJSON_AddItemToArray(a, cJSON_CreateString(BS_SRV_GT_EXCHANGE));
	a = cJSON_AddArrayToObject(o, "scopes_supported");
	for (size_t i = 0; i < sizeof(supported_scopes) / sizeof(supported_scopes[0]); i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(supported_scopes[i]));
	/* No authorization endpoint, so no response types (RFC 8414 §2). */
	cJSON_AddArrayToObject(o, "response_types_supported");
	a = cJSON_AddArrayToObject(o, "token_endpoint_auth_methods_supported");
	cJSON_AddItemToArray(a, cJSON_CreateString("none"));
	a = cJSON_AddArrayToObject(o, "revocation_endpoint_auth_methods_supported");
	cJSON_AddItemToArray(a, cJSON_CreateString("none"));
	bs_srv_resp_json(r, 200, o);
	cJSON_Delete(o);
}

void bs_srv_h_jwks(bs_srv *s, bs_srv_req *q, bs_srv_resp *r)
{
	char *j = bs_srv_jwks_json(s);
	r->status = 200;
	r->content_type = "application/json";
	bs_buf_adds(&r->body, j);
	free(j);
}

/* ---------- shared form handling ---------- */

/* Parses the form body of an OAuth request and checks client_id. Returns 0,
 * or -1 with the error response written. */
static int oauth_form(bs_srv_req *q, bs_srv_resp *r, bs_srv_form *f, int client_required)
{
	bs_error err = BS_ERROR_INIT;
	const char *cid;
	if (!bs_srv_req_is_form(q)) {
		bs_srv_resp_error(r, 400, "invalid_request", "the body must be application/x-www-form-urlencoded");
		return -1;
	}
	if (bs_srv_form_parse(f, q->body.ptr, q->body.len, &err) < 0) {
		bs_srv_resp_error(r, 400, "invalid_request", "malformed form body: %s", err.message);
		return -1;
	}
	cid = bs_srv_form_get(f, "client_id");
	if (!cid && client_required) {
		bs_srv_resp_error(r, 400, "invalid_request", "client_id is required");
		bs_srv_form_free(f);
		return -1;
	}
	if (cid && strcmp(cid, BS_SRV_CLIENT_ID) != 0) {
		bs_srv_resp_error(r, 401, "invalid_client", "unknown client_id (the public client is %s)",
		                  BS_SRV_CLIENT_ID);
		bs_srv_form_free(f);
		return -1;
	}
	return 0;
}

/* Validates a requested scope string against what is supported (or, when
 * allowed is not NULL, against allowed). Returns the normalised scopes or
 * NULL with the error written. */
static char *requested_scopes(bs_srv_resp *r, const char *scope, const char *dflt, const char *allowed)
{
	char *norm;
	if (!scope || !*scope)
		return bs_xstrdup(dflt);
	norm = bs_srv_scopes_normalize(scope);
	if (!*norm) {
		free(norm);
		return bs_xstrdup(dflt);
	}
	if (!bs_srv_scopes_subset(norm, allowed ? allowed : BS_SRV_PRODUCT_SCOPES " " BS_SRV_OIDC_SCOPES)) {
		bs_srv_resp_error(r, 400, "invalid_scope", "requested scope is not allowed (allowed: %s)",
		                  allowed ? allowed : BS_SRV_PRODUCT_SCOPES " " BS_SRV_OIDC_SCOPES);
		free(norm);
		return NULL;
	}
	return norm;
}

/* ---------- issuing tokens ---------- */

static char *issue_access(bs_srv *s, const char *sub, const char *scopes, long long family_id)
{
	cJSON *c = cJSON_CreateObject();
	time_t now = time(NULL);
	char *jti = bs_srv_random_token(16), *jwt;
	sqlite3_stmt *st;
	cJSON_AddStringToObject(c, "iss", s->issuer);
	cJSON_AddStringToObject(c, "sub", sub);
	cJSON_AddStringToObject(c, "aud", BS_SRV_API_AUDIENCE);
	cJSON_AddNumberToObject(c, "iat", (double)now);
	cJSON_AddNumberToObject(c, "exp", (double)(now + s->access_ttl));
	cJSON_AddStringToObject(c, "scope", scopes);
	cJSON_AddStringToObject(c, "client_id", BS_SRV_CLIENT_ID);
	cJSON_AddStringToObject(c, "jti", jti);
	jwt = bs_srv_jwt_sign(s, c);
	cJSON_Delete(c);
	/* Every issued jti is recorded so RFC 7009 and family revocation can
	 * deny it before it expires. */
	st = bs_srv_prep(s->db, "INSERT INTO access_tokens (jti, family_id, sub, expires_at) VALUES (?, ?, ?, ?)");
	if (!st || !jwt) {
		free(jwt);
		jwt = NULL;
	} else {
		sqlite3_bind_text(st, 1, jti, -1, SQLITE_STATIC);
		if (family_id)
			sqlite3_bind_int64(st, 2, family_id);
		else
			sqlite3_bind_null(st, 2);
		sqlite3_bind_text(st, 3, sub, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)(now + s->access_ttl));
		if (sqlite3_step(st) != SQLITE_DONE) {
			free(jwt);
			jwt = NULL;
		}
	}
	sqlite3_finalize(st);
	free(jti);
	return jwt;
}

/* A new refresh token in family; returns the raw token (caller frees). */
static char *issue_refresh(bs_srv *s, long long family_id)
{
	char *tok = bs_srv_random_token(32);
	char hash[65];
	sqlite3_stmt *st =
	    bs_srv_prep(s->db, "INSERT INTO refresh_tokens (family_id, token_hash, created_at, expires_at)"
	                       " VALUES (?, ?, ?, ?)");
	bs_sha256_hex(tok, strlen(tok), hash);
	if (!st) {
		free(tok);
		return NULL;
	}
	sqlite3_bind_int64(st, 1, family_id);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 4, (sqlite3_int64)(time(NULL) + s->refresh_ttl));
	if (sqlite3_step(st) != SQLITE_DONE) {
		free(tok);
		tok = NULL;
	}
	sqlite3_finalize(st);
	return tok;
}

static void token_response(bs_srv *s, bs_srv_resp *r, const char *access, const char *refresh, const char *scopes,
                           int exchange)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "access_token", access);
	if (exchange)
		cJSON_AddStringToObject(o, "issued_token_type", BS_SRV_TT_ACCESS_TOKEN);
	cJSON_AddStringToObject(o, "token_type", "Bearer");
	cJSON_AddNumberToObject(o, "expires_in", (double)s->access_ttl);
	if (refresh)
		cJSON_AddStringToObject(o, "refresh_token", refresh);
	cJSON_AddStringToObject(o, "scope", scopes);
	bs_srv_resp_json(r, 200, o);
	bs_srv_resp_header(r, "Pragma", "no-cache");
	cJSON_Delete(o);
}

static void revoke_family(bs_srv *s, long long family_id, const char *reason)
{
	sqlite3_stmt *st = bs_srv_prep(s->db, "UPDATE refresh_token_families SET revoked_at = ?, revoked_reason = ?"
	                                      " WHERE id = ? AND revoked_at IS NULL");
	if (st) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
		sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, family_id);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	/* Access tokens minted from the family stop working too. */
	st = bs_srv_prep(s->db, "UPDATE access_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL");
	if (st) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
		sqlite3_bind_int64(st, 2, family_id);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
}

/* ---------- RFC 8628 §3.1-3.2: device authorization ---------- */

void bs_srv_h_device_authorize(bs_srv *s, bs_srv_req *q, bs_srv_resp *r)
{
	bs_srv_form f;
	char *scopes, *device_code = NULL, hash[65], code[9] = "";
	cJSON *o;
	int stored = 0;
	if (oauth_form(q, r, &f, 1) < 0)
		return;
	scopes = requested_scopes(r, bs_srv_form_get(&f, "scope"), BS_SRV_PRODUCT_SCOPES, NULL);
	bs_srv_form_free(&f);
	if (!scopes)
		return;
	for (int attempt = 0; attempt < 5 && !stored; attempt++) {
		sqlite3_stmt *st = bs_srv_prep(s->db, "INSERT INTO device_authorizations (device_code_hash, user_code,"
		                                      " client_id, scopes, status, interval, expires_at, created_at)"
		                                      " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)");
		free(device_code);
		device_code = bs_srv_random_token(32);
		bs_sha256_hex(device_code, strlen(device_code), hash);
		bs_srv_new_user_code(code);
		if (!st)
			break;
		sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, code, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, BS_SRV_CLIENT_ID, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, scopes, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, s->device_interval);
		sqlite3_bind_int64(st, 6, (sqlite3_int64)(time(NULL) + s->device_expires_in));
		sqlite3_bind_int64(st, 7, (sqlite3_int64)time(NULL));
		stored = sqlite3_step(st) == SQLITE_DONE;
		sqlite3_finalize(st);
	}
	free(scopes);
	if (!stored) {
		free(device_code);
		bs_srv_resp_error(r, 500, "server_error", "cannot store the device authorization");
		return;
	}
	{
		char shown[10], *uri = bs_xasprintf("%s/device", s->issuer), *full;
		snprintf(shown, sizeof(shown), "%.4s-%.4s", code, code + 4);
		full = bs_xasprintf("%s?user_code=%s", uri, shown);
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "device_code", device_code);
		cJSON_AddStringToObject(o, "user_code", shown);
		cJSON_AddStringToObject(o, "verification_uri", uri);
		cJSON_AddStringToObject(o, "verification_uri_complete", full);
		cJSON_AddNumberToObject(o, "expires_in", (double)s->device_expires_in);
		cJSON_AddNumberToObject(o, "interval", (double)s->device_interval);
		bs_srv_resp_json(r, 200, o);
		cJSON_Delete(o);
		free(uri);
		free(full);
	}
	bs_secure_zero(device_code, strlen(device_code));
	free(device_code);
}

/* Finds the row a grant names by the SHA-256 of its secret form field.
 * Returns the statement stepped onto that row, or NULL after answering
 * 400 invalid_request (field missing), 500, or 400 invalid_grant (unknown).
 * hash receives the secret's hash, which the statement is bound to. */
static sqlite3_stmt *grant_row_by_hash(bs_srv *s, bs_srv_form *f, bs_srv_resp *r, const char *field, const char *sql,
				       char hash[65])
{
	const char *value = bs_srv_form_get(f, field);
	sqlite3_stmt *st;
	if (!value || !*value) {
		bs_srv_resp_error(r, 400, "invalid_request", "%s is required", field);
		return NULL;
	}
	bs_sha256_hex(value, strlen(value), hash);
	st = bs_srv_prep(s->db, sql);
	if (!st) {
		bs_srv_resp_error(r, 500, "server_error", "database error");
		return NULL;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC); /* hash is the caller's and outlives st */
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		bs_srv_resp_error(r, 400, "invalid_grant", "unknown %s", field);
		return NULL;
	}
	return st;
}

/* ---------- RFC 8628 §3.4-3.5: polling ---------- */

static void grant_device_code(bs_srv *s, bs_srv_form *f, bs_srv_resp *r)
{
	char hash[65];
	sqlite3_stmt *st;
	long long id, user_id, interval, last_poll, now_ms = bs_srv_now_ms();
	time_t expires_at;
	char *status = NULL, *scopes = NULL, *username = NULL;

	st = grant_row_by_hash(s, f, r, "device_code",
			       "SELECT d.id, d.status, d.scopes, d.user_id, d.interval, d.last_poll_ms, d.expires_at,"
			       " u.username FROM device_authorizations d LEFT JOIN users u ON u.id = d.user_id"
			       " WHERE d.device_code_hash = ?",
			       hash);
	if (!st)
		return;
	id = sqlite3_column_int64(st, 0);
	status = bs_srv_col_strdup(st, 1);
	scopes = bs_srv_col_strdup(st, 2);
	user_id = sqlite3_column_int64(st, 3);
	interval = sqlite3_column_int64(st, 4);
	last_poll = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 5);
	expires_at = (time_t)sqlite3_column_int64(st, 6);
	username = bs_srv_col_strdup(st, 7);
	sqlite3_finalize(st);

	if (strcmp(status, "redeemed") == 0) {
		bs_srv_resp_error(r, 400, "invalid_grant", "the device_code has already been used");
		goto out;
	}
	if (time(NULL) >= expires_at) {
		bs_srv_resp_error(r, 400, "expired_token", "the device_code has expired; start a new authorization");
		goto out;
	}
	/* The first poll is free; after that a poll sooner than the interval
	 * (less 250 ms of network jitter) earns slow_down and the interval this
	 * device code must keep grows by 5 s (RFC 8628 §3.5). */
	st = bs_srv_prep(s->db, "UPDATE device_authorizations SET last_poll_ms = ?, interval = ? WHERE id = ?");
	if (st) {
		int too_fast = last_poll >= 0 && interval > 0 && now_ms - last_poll + 250 < interval * 1000;
		sqlite3_bind_int64(st, 1, now_ms);
		sqlite3_bind_int64(st, 2, too_fast ? interval + 5 : interval);
		sqlite3_bind_int64(st, 3, id);
		sqlite3_step(st);
		sqlite3_finalize(st);
		if (too_fast) {
			bs_srv_resp_error(r, 400, "slow_down",
			                  "polling too fast; wait at least %lld seconds between polls", interval + 5);
			goto out;
		}
	}
	if (strcmp(status, "denied") == 0) {
		bs_srv_resp_error(r, 400, "access_denied", "the user denied the authorization request");
		goto out;
	}
	if (strcmp(status, "pending") == 0 || !username) {
		bs_srv_resp_error(r, 400, "authorization_pending", "the user has not yet approved the request");
		goto out;
	}
	/* approved: redeem exactly once (the status check in the WHERE makes a
	 * racing second redemption change nothing). */
	st = bs_srv_prep(s->db,
	                 "UPDATE device_authorizations SET status = 'redeemed' WHERE id = ? AND status = 'approved'");
	if (!st) {
		bs_srv_resp_error(r, 500, "server_error", "database error");
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_step(st);
	sqlite3_finalize(st);
	if (sqlite3_changes(s->db) != 1) {
		bs_srv_resp_error(r, 400, "invalid_grant", "the device_code has already been used");
		goto out;
	}
	{
		long long family = 0;
		char *access = NULL, *refresh = NULL;
		st = bs_srv_prep(s->db, "INSERT INTO refresh_token_families (user_id, client_id, scopes, created_at)"
		                        " VALUES (?, ?, ?, ?)");
		if (st) {
			sqlite3_bind_int64(st, 1, user_id);
			sqlite3_bind_text(st, 2, BS_SRV_CLIENT_ID, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, scopes, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
			if (sqlite3_step(st) == SQLITE_DONE)
				family = sqlite3_last_insert_rowid(s->db);
			sqlite3_finalize(st);
		}
		if (family) {
			access = issue_access(s, username, scopes, family);
			refresh = issue_refresh(s, family);
		}
		if (access && refresh)
			token_response(s, r, access, refresh, scopes, 0);
		else
			bs_srv_resp_error(r, 500, "server_error", "cannot issue tokens");
		free(access);
		if (refresh)
			bs_secure_zero(refresh, strlen(refresh));
		free(refresh);
	}
out:
	free(status);
	free(scopes);
	free(username);
}

/* ---------- refresh with rotation and reuse detection ---------- */

static void grant_refresh(bs_srv *s, bs_srv_form *f, bs_srv_resp *r)
{
	char hash[65], *scopes = NULL, *username = NULL, *new_scopes = NULL, *access = NULL, *refresh = NULL;
	sqlite3_stmt *st;
	long long token_id, family;
	int used, family_revoked;
	time_t expires_at;

	st = grant_row_by_hash(s, f, r, "refresh_token",
			       "SELECT t.id, t.family_id, t.used_at IS NOT NULL, t.expires_at, f.revoked_at IS NOT NULL,"
			       " f.scopes, u.username FROM refresh_tokens t JOIN refresh_token_families f ON"
			       " f.id = t.family_id JOIN users u ON u.id = f.user_id WHERE t.token_hash = ?",
			       hash);
	if (!st)
		return;
	token_id = sqlite3_column_int64(st, 0);
	family = sqlite3_column_int64(st, 1);
	used = sqlite3_column_int(st, 2);
	expires_at = (time_t)sqlite3_column_int64(st, 3);
	family_revoked = sqlite3_column_int(st, 4);
	scopes = bs_srv_col_strdup(st, 5);
	username = bs_srv_col_strdup(st, 6);
	sqlite3_finalize(st);

	if (family_revoked) {
		bs_srv_resp_error(r, 400, "invalid_grant", "the refresh_token has been revoked");
		goto out;
	}
	if (used) {
		/* A spent token came back: someone holds a copy. Kill the family so
		 * neither the thief nor the victim can continue (RFC 9700 §4.14.2). */
		revoke_family(s, family, "refresh token reuse");
		bs_srv_audit(s->db, username, "refresh_reuse", hash, "refresh token reuse detected", NULL,
		             "family_revoked");
		bs_srv_resp_error(r, 400, "invalid_grant", "the refresh_token was already used; its family is revoked");
		goto out;
	}
	if (time(NULL) >= expires_at) {
		bs_srv_resp_error(r, 400, "invalid_grant", "the refresh_token has expired");
		goto out;
	}
	new_scopes = requested_scopes(r, bs_srv_form_get(f, "scope"), scopes, scopes);
	if (!new_scopes)
		goto out;
	st = bs_srv_prep(s->db, "UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL");
	if (!st) {
		bs_srv_resp_error(r, 500, "server_error", "database error");
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 2, token_id);
	sqlite3_step(st);
	sqlite3_finalize(st);
	if (sqlite3_changes(s->db) != 1) {
		bs_srv_resp_error(r, 400, "invalid_grant", "the refresh_token was already used");
		goto out;
	}
	access = issue_access(s, username, new_scopes, family);
	refresh = issue_refresh(s, family);
	if (access && refresh)
		token_response(s, r, access, refresh, new_scopes, 0);
	else
		bs_srv_resp_error(r, 500, "server_error", "cannot issue tokens");
out:
	free(scopes);
	free(username);
	free(new_scopes);
	free(access);
	if (refresh)
		bs_secure_zero(refresh, strlen(refresh));
	free(refresh);
}

/* ---------- RFC 8693 token exchange ---------- */

static int aud_matches(const cJSON *aud, const char *want)
{
	const cJSON *a;
	if (cJSON_IsString(aud))
		return strcmp(aud->valuestring, want) == 0;
	cJSON_ArrayForEach(a, aud)
	{
		if (cJSON_IsString(a) && strcmp(a->valuestring, want) == 0)
			return 1;
	}
	return 0;
}

/* Checks the claims of a verified ID token against one policy; returns NULL
 * when they hold, or why not. */
static const char *policy_mismatch(const cJSON *claims, const char *audience, const char *glob)
{
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
	const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(claims, "nbf");
	const cJSON *iat = cJSON_GetObjectItemCaseSensitive(claims, "iat");
	const cJSON *sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
	double now = (double)time(NULL);
	if (!aud_matches(cJSON_GetObjectItemCaseSensitive(claims, "aud"), audience))
		return "the subject token's audience does not match the trust policy";
	if (!cJSON_IsNumber(exp))
		return "the subject token has no exp claim";
	if (exp->valuedouble + EXCHANGE_LEEWAY_S <= now)
		return "the subject token has expired";
	if (nbf && (!cJSON_IsNumber(nbf) || nbf->valuedouble - EXCHANGE_LEEWAY_S > now))
		return "the subject token is not valid yet (nbf)";
	if (iat && (!cJSON_IsNumber(iat) || iat->valuedouble - EXCHANGE_LEEWAY_S > now))
		return "the subject token was issued in the future (iat)";
	if (!cJSON_IsString(sub) || !*sub->valuestring)
		return "the subject token has no sub claim";
	if (fnmatch(glob, sub->valuestring, 0) != 0)
		return "the subject token's sub does not match the trust policy's subject pattern";
	return NULL;
}

/* The issuer URL, also with one trailing slash. */
static int is_issuer(const bs_srv *s, const char *v)
{
	size_t n = strlen(s->issuer);
	return strncmp(v, s->issuer, n) == 0 && (v[n] == '\0' || (v[n] == '/' && v[n + 1] == '\0'));
}

static void grant_exchange(bs_srv *s, bs_srv_form *f, bs_srv_resp *r)
{
	const char *subject = bs_srv_form_get(f, "subject_token");
	const char *type = bs_srv_form_get(f, "subject_token_type");
	const char *req_type = bs_srv_form_get(f, "requested_token_type");
	const char *audience = bs_srv_form_get(f, "audience");
	cJSON *peek;
	const cJSON *iss;
	sqlite3_stmt *st;
	bs_buf why = BS_BUF_INIT;
	int matched = 0;

	if (!subject || !*subject) {
		bs_srv_resp_error(r, 400, "invalid_request", "subject_token is required");
		return;
	}
	if (!type || strcmp(type, BS_SRV_TT_ID_TOKEN) != 0) {
		bs_srv_resp_error(r, 400, "invalid_request", "subject_token_type must be %s", BS_SRV_TT_ID_TOKEN);
		return;
	}
	if (req_type && strcmp(req_type, BS_SRV_TT_ACCESS_TOKEN) != 0) {
		bs_srv_resp_error(r, 400, "invalid_request", "requested_token_type must be %s", BS_SRV_TT_ACCESS_TOKEN);
		return;
	}
	if (audience && strcmp(audience, BS_SRV_API_AUDIENCE) != 0 && !is_issuer(s, audience)) {
		bs_srv_resp_error(r, 400, "invalid_target", "audience must be %s or %s", BS_SRV_API_AUDIENCE,
		                  s->issuer);
		return;
	}
	if (bs_srv_form_get(f, "actor_token")) {
		bs_srv_resp_error(r, 400, "invalid_request", "delegation (actor_token) is not supported");
		return;
	}
	/* Read iss unverified only to choose the policies whose keys decide. */
	peek = bs_srv_jwt_peek(subject);
	iss = peek ? cJSON_GetObjectItemCaseSensitive(peek, "iss") : NULL;
	if (!cJSON_IsString(iss)) {
		cJSON_Delete(peek);
		bs_srv_resp_error(r, 400, "invalid_grant", "the subject token is not a JWT with an iss claim");
		return;
	}
	st = bs_srv_prep(
	    s->db, "SELECT jwks, audience, subject_glob, scopes FROM trust_policies WHERE issuer = ? ORDER BY id");
	if (!st) {
		cJSON_Delete(peek);
		bs_srv_resp_error(r, 500, "server_error", "database error");
		return;
	}
	sqlite3_bind_text(st, 1, iss->valuestring, -1, SQLITE_TRANSIENT);
	cJSON_Delete(peek);
	while (!matched && sqlite3_step(st) == SQLITE_ROW) {
		const char *jwks = (const char *)sqlite3_column_text(st, 0);
		const char *aud = (const char *)sqlite3_column_text(st, 1);
		const char *glob = (const char *)sqlite3_column_text(st, 2);
		const char *pscopes = (const char *)sqlite3_column_text(st, 3);
		bs_error err = BS_ERROR_INIT;
		cJSON *claims = bs_srv_jws_verify_jwks(subject, jwks, &err);
		const char *mismatch;
		if (!claims) {
			bs_buf_reset(&why);
			bs_buf_adds(&why, err.message);
			continue;
		}
		mismatch = policy_mismatch(claims, aud, glob);
		if (mismatch) {
			bs_buf_reset(&why);
			bs_buf_adds(&why, mismatch);
		} else {
			char *scopes = requested_scopes(r, bs_srv_form_get(f, "scope"), pscopes, pscopes);
			matched = 1;
			if (scopes) {
				const cJSON *sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
				char *issued_sub = bs_xasprintf("ci:%s", sub->valuestring);
				char *access = issue_access(s, issued_sub, scopes, 0);
				if (access)
					token_response(s, r, access, NULL, scopes, 1);
				else
					bs_srv_resp_error(r, 500, "server_error", "cannot issue a token");
				free(access);
				free(issued_sub);
				free(scopes);
			}
		}
		cJSON_Delete(claims);
	}
	sqlite3_finalize(st);
	if (!matched)
		bs_srv_resp_error(r, 400, "invalid_grant", "%s",
		                  why.len ? why.ptr : "no trust policy is configured for the subject token's issuer");
	bs_buf_free(&why);
}

void bs_srv_h_token(bs_srv *s, bs_srv_req *q, bs_srv_resp *r)
{
	bs_srv_form f;
	const char *gt;
	if (oauth_form(q, r, &f, 0) < 0)
		return;
	gt = bs_srv_form_get(&f, "grant_type");
	if (!gt || !*gt) {
		bs_srv_resp_error(r, 400, "invalid_request", "grant_type is required");
	} else if (strcmp(gt, BS_SRV_GT_DEVICE) == 0) {
		if (!bs_srv_form_get(&f, "client_id"))
			bs_srv_resp_error(r, 400, "invalid_request", "client_id is required");
		else
			grant_device_code(s, &f, r);
	} else if (strcmp(gt, "refresh_token") == 0) {
		grant_refresh(s, &f, r);
	} else if (strcmp(gt, BS_SRV_GT_EXCHANGE) == 0) {
		grant_exchange(s, &f, r);
	} else {
		bs_srv_resp_error(r, 400, "unsupported_grant_type", "grant_type %.100s is not supported", gt);
	}
	bs_srv_form_free(&f);
}

/* ---------- RFC 7009 revocation ---------- */

void bs_srv_h_oauth_revoke(bs_srv *s, bs_srv_req *q, bs_srv_resp *r)
{
	bs_srv_form f;
	const char *tok;
	char hash[65];
	sqlite3_stmt *st;
	if (oauth_form(q, r, &f, 0) < 0)
		return;
	tok = bs_srv_form_get(&f, "token");
	if (!tok || !*tok) {
		bs_srv_resp_error(r, 400, "invalid_request", "token is required");
		bs_srv_form_free(&f);
		return;
	}
	bs_sha256_hex(tok, strlen(tok), hash);
	/* The hint is advisory (RFC 7009 §2.1): every kind is tried. */
	st = bs_srv_prep(s->db, "SELECT family_id FROM refresh_tokens WHERE token_hash = ?");
	if (st) {
		sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			revoke_family(s, sqlite3_column_int64(st, 0), "revoked by the client (RFC 7009)");
		sqlite3_finalize(st);
	}
	if (strchr(tok, '.')) {
		cJSON *claims = NULL;
		bs_error err = BS_ERROR_INIT;
		/* An expired token needs no denylisting; a foreign one is ignored. */
		if (bs_srv_jwt_verify_own(s, tok, &claims, &err) == 0) {
			const cJSON *jti = cJSON_GetObjectItemCaseSensitive(claims, "jti");
			if (cJSON_IsString(jti)) {
				st = bs_srv_prep(
				    s->db,
				    "UPDATE access_tokens SET revoked_at = ? WHERE jti = ? AND revoked_at IS NULL");
				if (st) {
					sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
					sqlite3_bind_text(st, 2, jti->valuestring, -1, SQLITE_TRANSIENT);
					sqlite3_step(st);
					sqlite3_finalize(st);
				}
			}
			cJSON_Delete(claims);
		}
	}
	if (strncmp(tok, "bst_", 4) == 0) {
		/* Whoever holds a PAT may revoke it (as GitHub's credential
		 * revocation API): it can only reduce what the holder can do. */
		st = bs_srv_prep(s->db, "SELECT id FROM personal_access_tokens WHERE token_hash = ?");
		if (st) {
			sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW &&
			    bs_srv_pat_revoke_row(s->db, sqlite3_column_int64(st, 0), "revoked by its holder") == 1)
				bs_srv_audit(s->db, "token holder", "oauth_revoke", hash, "revoked by its holder", NULL,
				             "revoked");
			sqlite3_finalize(st);
		}
	}
	bs_srv_form_free(&f);
	r->status = 200;
	r->content_type = "application/json";
	bs_buf_adds(&r->body, "{}\n");
}
