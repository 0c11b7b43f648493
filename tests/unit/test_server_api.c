/* bstscan-server: startup, routing, bearer authentication, the leaks and PAT
 * API, size limits, fault injection. Each test starts its own server. */
#include <sqlite3.h>

#include "tests/unit/test_server_support.h"

#define ALL_SCOPES "leaks:check,leaks:revoke,pats:read,pats:write"

static srv_ctx S;

static void setup(void)
{
	memset(&S, 0, sizeof(S));
	srv_start(&S, NULL);
}

static void teardown(void)
{
	if (S.pid)
		srv_stop(&S);
}

TestSuite(server_api, .init = setup, .fini = teardown, .timeout = 60);

static char *hashes_json(const char *const *hashes, size_t n)
{
	bs_buf b = BS_BUF_INIT;
	bs_buf_adds(&b, "{\"token_hashes\":[");
	for (size_t i = 0; i < n; i++)
		bs_buf_addf(&b, "%s\"%s\"", i ? "," : "", hashes[i]);
	bs_buf_adds(&b, "]}");
	return bs_buf_detach(&b, NULL);
}

static const cJSON *result_at(const http_resp *r, int i)
{
	const cJSON *results = cJSON_GetObjectItemCaseSensitive(r->json, "results");
	cr_assert(cJSON_IsArray(results), "%s", r->body.ptr);
	return cJSON_GetArrayItem(results, i);
}

Test(server_api, discovery_routing_and_clean_shutdown)
{
	http_resp r;
	const cJSON *a;
	char want[200];
	http_req(&S, &r, "GET", "/.well-known/oauth-authorization-server", NULL, NULL, 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(json_str(r.json, "issuer"), S.url);
	snprintf(want, sizeof(want), "%s/oauth/device/authorize", S.url);
	cr_assert_str_eq(json_str(r.json, "device_authorization_endpoint"), want);
	snprintf(want, sizeof(want), "%s/oauth/token", S.url);
	cr_assert_str_eq(json_str(r.json, "token_endpoint"), want);
	snprintf(want, sizeof(want), "%s/oauth/revoke", S.url);
	cr_assert_str_eq(json_str(r.json, "revocation_endpoint"), want);
	a = cJSON_GetObjectItemCaseSensitive(r.json, "grant_types_supported");
	cr_assert_eq(cJSON_GetArraySize(a), 3);
	a = cJSON_GetObjectItemCaseSensitive(r.json, "scopes_supported");
	cr_assert(cJSON_IsArray(a) && cJSON_GetArraySize(a) >= 4);
	cr_assert(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r.json, "response_types_supported")));
	a = cJSON_GetObjectItemCaseSensitive(r.json, "token_endpoint_auth_methods_supported");
	cr_assert_str_eq(cJSON_GetArrayItem(a, 0)->valuestring, "none");
	http_free(&r);

	http_req(&S, &r, "GET", "/no/such/path", NULL, NULL, 0);
	expect_error(&r, 404, "not_found");
	http_free(&r);

	http_req(&S, &r, "GET", "/api/v1/leaks/check", NULL, NULL, 0);
	expect_error(&r, 405, "method_not_allowed");
	cr_assert_str_eq(http_header(&r, "Allow"), "POST");
	http_free(&r);

	http_req(&S, &r, "DELETE", "/api/v1/pats", NULL, NULL, 0);
	cr_assert_eq(r.status, 405);
	cr_assert_str_eq(http_header(&r, "Allow"), "GET, POST");
	http_free(&r);
	/* teardown asserts exit status 0 after SIGTERM */
}

Test(server_api, bearer_errors_are_401_with_www_authenticate)
{
	http_resp r;
	char *pat = srv_user_pat(&S, "alice", "leaks:check"), *revoked, *expired, hash[65];
	char fake[48];
	bs_buf out = BS_BUF_INIT;

	api_call(&S, &r, "GET", "/api/v1/me", NULL);
	expect_error(&r, 401, "invalid_token");
	cr_assert_not_null(strstr(http_header(&r, "WWW-Authenticate"), "Bearer error=\"invalid_token\""));
	http_free(&r);

	bs_test_make_bst_token(fake);
	api_call(&S, &r, "GET", "/api/v1/me", fake);
	expect_error(&r, 401, "invalid_token");
	cr_assert_not_null(http_header(&r, "WWW-Authenticate"));
	http_free(&r);

	api_call(&S, &r, "GET", "/api/v1/me", "not-a-token");
	expect_error(&r, 401, "invalid_token");
	http_free(&r);

	api_call(&S, &r, "GET", "/api/v1/me", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.");
	expect_error(&r, 401, "invalid_token");
	http_free(&r);

	/* revoked by an administrator */
	revoked = srv_user_pat(&S, "alice", "leaks:check");
	sha256_hex_of(revoked, hash);
	cr_assert_eq(srv_admin(&S, &out, "pat", "revoke", "--hash", hash), 0);
	cr_assert_str_eq(out.ptr, "revoked\n");
	api_post(&S, &r, "/api/v1/leaks/check", revoked, "{\"token_hashes\":[]}");
	expect_error(&r, 401, "invalid_token");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "revoked"));
	http_free(&r);

	/* expired */
	bs_buf_reset(&out);
	cr_assert_eq(srv_admin(&S, &out, "pat", "create", "--user", "alice", "--name", "old", "--scopes", "leaks:check",
	                       "--expires-at", "2020-01-01T00:00:00Z"),
	             0);
	expired = bs_xstrndup(out.ptr, 47);
	api_call(&S, &r, "GET", "/api/v1/me", expired);
	expect_error(&r, 401, "invalid_token");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "expired"));
	http_free(&r);

	/* a valid PAT without the scope */
	api_post(&S, &r, "/api/v1/leaks/revoke", pat, "{\"token_hashes\":[]}");
	expect_error(&r, 403, "insufficient_scope");
	cr_assert_not_null(strstr(http_header(&r, "WWW-Authenticate"), "insufficient_scope"));
	http_free(&r);

	bs_buf_free(&out);
	free(pat);
	free(revoked);
	free(expired);
}

Test(server_api, check_reports_each_status_in_request_order)
{
	http_resp r;
	char *caller = srv_user_pat(&S, "svc", "leaks:check");
	char *active = srv_user_pat(&S, "bob", "leaks:check");
	char *revoked = srv_user_pat(&S, "bob", "leaks:check");
	char *expired, h_active[65], h_revoked[65], h_expired[65], h_unknown[65], unknown[48];
	bs_buf out = BS_BUF_INIT;
	const char *hashes[5];
	char *body;
	const cJSON *e;

	cr_assert_eq(srv_admin(&S, &out, "pat", "create", "--user", "bob", "--name", "expired one", "--scopes",
	                       "leaks:check", "--expires-at", "2021-06-01T00:00:00Z"),
	             0);
	expired = bs_xstrndup(out.ptr, 47);
	sha256_hex_of(active, h_active);
	sha256_hex_of(revoked, h_revoked);
	sha256_hex_of(expired, h_expired);
	bs_test_make_bst_token(unknown);
	sha256_hex_of(unknown, h_unknown);
	cr_assert_eq(srv_admin(&S, NULL, "pat", "revoke", "--hash", h_revoked), 0);

	/* use the active one so last_used_at is set */
	api_call(&S, &r, "GET", "/api/v1/me", active);
	cr_assert_eq(r.status, 200);
	http_free(&r);

	hashes[0] = h_unknown;
	hashes[1] = h_expired;
	hashes[2] = h_active;
	hashes[3] = h_revoked;
	hashes[4] = h_active;
	body = hashes_json(hashes, 5);
	api_post(&S, &r, "/api/v1/leaks/check", caller, body);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "results")), 5);

	e = result_at(&r, 0);
	cr_assert_str_eq(json_str(e, "token_hash"), h_unknown);
	cr_assert_str_eq(json_str(e, "status"), "unknown");
	cr_assert_null(cJSON_GetObjectItemCaseSensitive(e, "owner"), "descriptive fields only for known hashes");
	cr_assert_null(cJSON_GetObjectItemCaseSensitive(e, "token_prefix"));

	e = result_at(&r, 1);
	cr_assert_str_eq(json_str(e, "status"), "expired");
	cr_assert_str_eq(json_str(e, "expires_at"), "2021-06-01T00:00:00Z");
	cr_assert_str_eq(json_str(e, "name"), "expired one");

	e = result_at(&r, 2);
	cr_assert_str_eq(json_str(e, "token_hash"), h_active);
	cr_assert_str_eq(json_str(e, "status"), "active");
	cr_assert_str_eq(json_str(e, "owner"), "bob");
	cr_assert_str_eq(json_str(e, "name"), "test pat");
	cr_assert(strncmp(json_str(e, "token_prefix"), active, 12) == 0 && strlen(json_str(e, "token_prefix")) == 12);
	cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "expires_at")));
	cr_assert_not_null(json_str(e, "last_used_at"), "last_used_at is updated when a PAT is used");

	e = result_at(&r, 3);
	cr_assert_str_eq(json_str(e, "status"), "revoked");
	cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "last_used_at")));
	e = result_at(&r, 4);
	cr_assert_str_eq(json_str(e, "status"), "active");
	http_free(&r);

	free(body);
	bs_buf_free(&out);
	free(caller);
	free(active);
	free(revoked);
	free(expired);
}

Test(server_api, check_rejects_bad_bodies_with_useful_errors)
{
	http_resp r;
	char *pat = srv_user_pat(&S, "alice", "leaks:check");
	char good[65], body[300];
	bs_buf big = BS_BUF_INIT;

	sha256_hex_of("x", good);
	api_post(&S, &r, "/api/v1/leaks/check", pat, "");
	expect_error(&r, 400, "invalid_request");
	http_free(&r);

	api_post(&S, &r, "/api/v1/leaks/check", pat, "{\"token_hashes\": [\"abc\"");
	expect_error(&r, 400, "invalid_request");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "JSON"), "%s", r.body.ptr);
	http_free(&r);

	api_post(&S, &r, "/api/v1/leaks/check", pat, "[1,2]");
	expect_error(&r, 400, "invalid_request");
	http_free(&r);

	api_post(&S, &r, "/api/v1/leaks/check", pat, "{\"hashes\": []}");
	expect_error(&r, 400, "invalid_request");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "token_hashes"));
	http_free(&r);

	api_post(&S, &r, "/api/v1/leaks/check", pat, "{\"token_hashes\": []}");
	expect_error(&r, 400, "invalid_request");
	http_free(&r);

	/* upper-case hex is not the issuer's format: the index is named */
	snprintf(body, sizeof(body), "{\"token_hashes\": [\"%s\", \"%s\"]}", good,
	         "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
	api_post(&S, &r, "/api/v1/leaks/check", pat, body);
	expect_error(&r, 400, "invalid_request");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "token_hashes[1]"), "%s", r.body.ptr);
	http_free(&r);

	snprintf(body, sizeof(body), "{\"token_hashes\": [\"%s\", 7]}", good);
	api_post(&S, &r, "/api/v1/leaks/check", pat, body);
	expect_error(&r, 400, "invalid_request");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "token_hashes[1]"));
	http_free(&r);

	/* 1001 hashes: 413 */
	bs_buf_adds(&big, "{\"token_hashes\":[");
	for (int i = 0; i < 1001; i++)
		bs_buf_addf(&big, "%s\"%s\"", i ? "," : "", good);
	bs_buf_adds(&big, "]}");
	api_post(&S, &r, "/api/v1/leaks/check", pat, big.ptr);
	cr_assert_eq(r.status, 413, "%s", r.body.ptr);
	http_free(&r);

	/* exactly 1000 is fine */
	bs_buf_reset(&big);
	bs_buf_adds(&big, "{\"token_hashes\":[");
	for (int i = 0; i < 1000; i++)
		bs_buf_addf(&big, "%s\"%s\"", i ? "," : "", good);
	bs_buf_adds(&big, "]}");
	api_post(&S, &r, "/api/v1/leaks/check", pat, big.ptr);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "results")), 1000);
	http_free(&r);

	bs_buf_free(&big);
	free(pat);
}

/* Sends a body of n bytes, either with Content-Length or chunked. */
static size_t read_filler(char *buf, size_t size, size_t nitems, void *ud)
{
	size_t *left = ud, n = size * nitems;
	if (n > *left)
		n = *left;
	memset(buf, ' ', n);
	*left -= n;
	return n;
}

static long post_big(srv_ctx *s, const char *pat, size_t n, int chunked, bs_buf *body)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char *url = bs_xasprintf("%s/api/v1/leaks/check", s->url), auth[200];
	long status = 0;
	size_t left = n;
	CURLcode rc;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", pat);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	if (chunked)
		h = curl_slist_append(h, "Transfer-Encoding: chunked");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_filler);
	curl_easy_setopt(c, CURLOPT_READDATA, &left);
	if (!chunked)
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	rc = curl_easy_perform(c);
	/* The server may close before reading the rest: a send error after the
	 * response arrived is fine, what matters is the status. */
	if (rc == CURLE_OK || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(url);
	return status;
}

Test(server_api, bodies_over_one_megabyte_get_413)
{
	char *pat = srv_user_pat(&S, "alice", "leaks:check");
	bs_buf body = BS_BUF_INIT;
	http_resp r;
	cr_assert_eq(post_big(&S, pat, 1024 * 1024 + 1, 0, &body), 413, "%s", body.ptr);
	cr_assert_not_null(strstr(body.ptr, "request_too_large"));
	bs_buf_reset(&body);
	cr_assert_eq(post_big(&S, pat, 3 * 1024 * 1024, 1, &body), 413, "%s", body.ptr);
	bs_buf_reset(&body);
	/* a big but allowed body is read and parsed (and is not JSON) */
	cr_assert_eq(post_big(&S, pat, 1000 * 1000, 0, &body), 400, "%s", body.ptr);
	bs_buf_free(&body);
	/* the server is still healthy */
	api_call(&S, &r, "GET", "/api/v1/me", pat);
	cr_assert_eq(r.status, 200);
	http_free(&r);
	free(pat);
}

Test(server_api, revoke_is_idempotent_audited_and_notifies_once)
{
	http_resp r;
	char *caller = srv_user_pat(&S, "responder", "leaks:check,leaks:revoke");
	char *victim = srv_user_pat(&S, "carol", "leaks:check");
	char *expired, h_victim[65], h_expired[65], h_unknown[65], unknown[48], body[1200];
	bs_buf out = BS_BUF_INIT;
	const cJSON *e;
	cJSON *line;

	cr_assert_eq(srv_admin(&S, &out, "pat", "create", "--user", "carol", "--name", "old", "--scopes", "leaks:check",
	                       "--expires-at", "2022-01-01T00:00:00Z"),
	             0);
	expired = bs_xstrndup(out.ptr, 47);
	sha256_hex_of(victim, h_victim);
	sha256_hex_of(expired, h_expired);
	bs_test_make_bst_token(unknown);
	sha256_hex_of(unknown, h_unknown);

	/* the victim works before */
	api_call(&S, &r, "GET", "/api/v1/me", victim);
	cr_assert_eq(r.status, 200);
	http_free(&r);

	snprintf(body, sizeof(body),
	         "{\"token_hashes\":[\"%s\",\"%s\",\"%s\",\"%s\"],\"reason\":\"leaked\",\"source\":{\"url\":"
	         "\"https://example.test/r/blob/abc/x.env\",\"repository\":\"example/"
	         "r\",\"commit\":\"abc\",\"path\":\"x.env\"}}",
	         h_victim, h_expired, h_unknown, h_victim);
	api_post(&S, &r, "/api/v1/leaks/revoke", caller, body);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	e = result_at(&r, 0);
	cr_assert_str_eq(json_str(e, "token_hash"), h_victim);
	cr_assert_str_eq(json_str(e, "outcome"), "revoked");
	cr_assert_str_eq(json_str(result_at(&r, 1), "outcome"), "expired");
	cr_assert_str_eq(json_str(result_at(&r, 2), "outcome"), "unknown");
	cr_assert_str_eq(json_str(result_at(&r, 3), "outcome"), "already_revoked");
	http_free(&r);

	/* the revoked PAT is refused from now on */
	api_call(&S, &r, "GET", "/api/v1/me", victim);
	expect_error(&r, 401, "invalid_token");
	http_free(&r);

	/* again: idempotent */
	api_post(&S, &r, "/api/v1/leaks/revoke", caller, body);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(json_str(result_at(&r, 0), "outcome"), "already_revoked");
	http_free(&r);

	/* check agrees */
	snprintf(body, sizeof(body), "{\"token_hashes\":[\"%s\"]}", h_victim);
	api_post(&S, &r, "/api/v1/leaks/check", caller, body);
	cr_assert_str_eq(json_str(result_at(&r, 0), "status"), "revoked");
	http_free(&r);

	/* the owner is notified exactly once */
	bs_buf_reset(&out);
	cr_assert_eq(srv_admin(&S, &out, "notifications", "list"), 0);
	line = cJSON_Parse(out.ptr);
	cr_assert_not_null(line, "%s", out.ptr);
	cr_assert_str_eq(json_str(line, "owner"), "carol");
	{
		int lines = 0;
		for (size_t i = 0; i < out.len; i++)
			lines += out.ptr[i] == '\n';
		cr_assert_eq(lines, 1, "exactly one notification: %s", out.ptr);
	}
	cJSON_Delete(line);

	/* the audit log has the revocation with who, why and the source */
	bs_buf_reset(&out);
	cr_assert_eq(srv_admin(&S, &out, "audit", "list"), 0);
	cr_assert_not_null(strstr(out.ptr, h_victim));
	cr_assert_not_null(strstr(out.ptr, "\"outcome\":\"revoked\""));
	cr_assert_not_null(strstr(out.ptr, "\"reason\":\"leaked\""));
	cr_assert_not_null(strstr(out.ptr, "example/r"));
	cr_assert_not_null(strstr(out.ptr, "responder"));
	cr_assert_null(strstr(out.ptr, victim), "the raw token never reaches the audit log");

	/* malformed source */
	snprintf(body, sizeof(body), "{\"token_hashes\":[\"%s\"],\"source\":\"github\"}", h_unknown);
	api_post(&S, &r, "/api/v1/leaks/revoke", caller, body);
	expect_error(&r, 400, "invalid_request");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "source"));
	http_free(&r);

	bs_buf_free(&out);
	free(caller);
	free(victim);
	free(expired);
}

Test(server_api, pat_lifecycle)
{
	http_resp r;
	char *admin = srv_user_pat(&S, "dave", "leaks:check,pats:read,pats:write");
	char *other = srv_user_pat(&S, "erin", "pats:read,pats:write");
	char *reader = srv_user_pat(&S, "dave", "pats:read");
	char *token, hash[65], path[64], body[200];
	long long id;
	const cJSON *pats, *p;
	bs_buf out = BS_BUF_INIT;

	api_post(&S, &r, "/api/v1/pats", admin,
	         "{\"name\":\"ci\",\"scopes\":[\"leaks:check\"],\"expires_at\":\"2099-01-01T00:00:00Z\"}");
	cr_assert_eq(r.status, 201, "%s", r.body.ptr);
	token = bs_xstrdup(json_str(r.json, "token"));
	cr_assert_eq(strlen(token), 47);
	cr_assert(strncmp(token, "bst_", 4) == 0);
	cr_assert_not_null(strchr("AEIMQUYcgkosw048", token[46]), "last character carries 2 zero bits");
	cr_assert_eq(strncmp(json_str(r.json, "token_prefix"), token, 12), 0);
	cr_assert_eq(strlen(json_str(r.json, "token_prefix")), 12);
	cr_assert_str_eq(json_str(r.json, "name"), "ci");
	cr_assert_str_eq(json_str(r.json, "expires_at"), "2099-01-01T00:00:00Z");
	cr_assert_not_null(json_str(r.json, "created_at"));
	cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "scopes"), 0)->valuestring,
	                 "leaks:check");
	id = (long long)cJSON_GetObjectItemCaseSensitive(r.json, "id")->valuedouble;
	http_free(&r);

	/* only the hash is stored */
	sha256_hex_of(token, hash);
	cr_assert_eq(srv_admin(&S, &out, "pat", "list", "--user", "dave"), 0);
	cr_assert_not_null(strstr(out.ptr, hash));
	cr_assert_null(strstr(out.ptr, token));

	/* the new PAT works with its own scopes */
	api_call(&S, &r, "GET", "/api/v1/me", token);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(json_str(r.json, "sub"), "dave");
	cr_assert_str_eq(json_str(r.json, "name"), "ci");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "scopes")), 1);
	http_free(&r);

	/* list: the caller's PATs, never tokens or hashes */
	api_call(&S, &r, "GET", "/api/v1/pats", reader);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	pats = cJSON_GetObjectItemCaseSensitive(r.json, "pats");
	cr_assert_eq(cJSON_GetArraySize(pats), 3, "%s", r.body.ptr);
	cJSON_ArrayForEach(p, pats)
	{
		cr_assert_null(cJSON_GetObjectItemCaseSensitive(p, "token"));
		cr_assert_null(cJSON_GetObjectItemCaseSensitive(p, "token_hash"));
		cr_assert_not_null(json_str(p, "token_prefix"));
	}
	cr_assert_null(strstr(r.body.ptr, token));
	cr_assert_null(strstr(r.body.ptr, hash));
	http_free(&r);

	/* pats:read cannot create or delete */
	api_post(&S, &r, "/api/v1/pats", reader, "{\"name\":\"x\",\"scopes\":[\"pats:read\"]}");
	expect_error(&r, 403, "insufficient_scope");
	http_free(&r);

	/* no escalation beyond the caller's scopes, no unknown scopes, no past expiry */
	api_post(&S, &r, "/api/v1/pats", admin, "{\"name\":\"x\",\"scopes\":[\"leaks:revoke\"]}");
	expect_error(&r, 403, "insufficient_scope");
	http_free(&r);
	api_post(&S, &r, "/api/v1/pats", admin, "{\"name\":\"x\",\"scopes\":[\"admin:all\"]}");
	expect_error(&r, 400, "invalid_scope");
	http_free(&r);
	api_post(&S, &r, "/api/v1/pats", admin,
	         "{\"name\":\"x\",\"scopes\":[\"leaks:check\"],\"expires_at\":\"2001-01-01T00:00:00Z\"}");
	expect_error(&r, 400, "invalid_request");
	http_free(&r);
	api_post(&S, &r, "/api/v1/pats", admin, "{\"scopes\":[\"leaks:check\"]}");
	expect_error(&r, 400, "invalid_request");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "name"));
	http_free(&r);

	/* another user cannot delete it, nor can a reader */
	snprintf(path, sizeof(path), "/api/v1/pats/%lld", id);
	api_call(&S, &r, "DELETE", path, other);
	expect_error(&r, 404, "not_found");
	http_free(&r);
	api_call(&S, &r, "DELETE", path, reader);
	expect_error(&r, 403, "insufficient_scope");
	http_free(&r);
	api_call(&S, &r, "DELETE", "/api/v1/pats/abc", admin);
	cr_assert_eq(r.status, 404);
	http_free(&r);
	api_call(&S, &r, "GET", path, admin);
	cr_assert_eq(r.status, 405);
	cr_assert_str_eq(http_header(&r, "Allow"), "DELETE");
	http_free(&r);

	/* the owner deletes it: 204, then it is refused and listed as revoked */
	api_call(&S, &r, "DELETE", path, admin);
	cr_assert_eq(r.status, 204, "%s", r.body.ptr);
	http_free(&r);
	api_call(&S, &r, "GET", "/api/v1/me", token);
	expect_error(&r, 401, "invalid_token");
	http_free(&r);
	snprintf(body, sizeof(body), "{\"token_hashes\":[\"%s\"]}", hash);
	api_post(&S, &r, "/api/v1/leaks/check", admin, body);
	cr_assert_str_eq(json_str(result_at(&r, 0), "status"), "revoked");
	http_free(&r);
	api_call(&S, &r, "DELETE", path, admin);
	cr_assert_eq(r.status, 204, "deleting twice is harmless");
	http_free(&r);

	bs_buf_free(&out);
	free(token);
	free(admin);
	free(other);
	free(reader);
}

Test(server_api, data_and_signing_key_survive_a_restart)
{
	http_resp r;
	char *pat = srv_user_pat(&S, "frank", "leaks:check");
	sqlite3 *db;
	sqlite3_stmt *st;
	int version = -1;
	const char *restart[] = {NULL};
	cr_assert_eq(bs_test_stop(S.pid), 0);
	S.pid = 0;
	srv_start(&S, restart);
	api_call(&S, &r, "GET", "/api/v1/me", pat);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	http_free(&r);

	/* the schema is versioned and WAL is on */
	cr_assert_eq(sqlite3_open_v2(S.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	cr_assert_geq(version, 1);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	/* the audit log is append-only */
	cr_assert_neq(sqlite3_exec(db, "DELETE FROM audit_log", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	free(pat);
}

Test(server_api, admin_fault_injection_for_n_requests)
{
	http_resp r;
	char *pat = srv_user_pat(&S, "gina", "leaks:check");
	char h[65], body[200];
	sha256_hex_of("y", h);
	snprintf(body, sizeof(body), "{\"token_hashes\":[\"%s\"]}", h);
	cr_assert_eq(srv_admin(&S, NULL, "fault", "set", "check", "503", "--count", "2"), 0);
	for (int i = 0; i < 2; i++) {
		api_post(&S, &r, "/api/v1/leaks/check", pat, body);
		cr_assert_eq(r.status, 503, "%s", r.body.ptr);
		cr_assert_str_eq(http_header(&r, "Retry-After"), "1");
		http_free(&r);
	}
	api_post(&S, &r, "/api/v1/leaks/check", pat, body);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	http_free(&r);
	cr_assert_eq(srv_admin(&S, NULL, "fault", "set", "me", "429"), 0);
	api_call(&S, &r, "GET", "/api/v1/me", pat);
	cr_assert_eq(r.status, 429);
	cr_assert_not_null(http_header(&r, "Retry-After"));
	http_free(&r);
	cr_assert_eq(srv_admin(&S, NULL, "fault", "clear"), 0);
	api_call(&S, &r, "GET", "/api/v1/me", pat);
	cr_assert_eq(r.status, 200);
	http_free(&r);
	free(pat);
}

static void setup_env_faults(void)
{
	static const char *env[] = {"BSTSCAN_SERVER_FAULTS=revoke:500,token:503", NULL};
	memset(&S, 0, sizeof(S));
	srv_start_env(&S, NULL, env);
}

Test(server_env_faults, env_variable_makes_an_endpoint_fail, .init = setup_env_faults, .fini = teardown, .timeout = 60)
{
	srv_ctx *sp = &S;
	http_resp r;
	char *pat;
	pat = srv_user_pat(sp, "hank", "leaks:check,leaks:revoke");
	api_post(sp, &r, "/api/v1/leaks/revoke", pat, "{}");
	cr_assert_eq(r.status, 500, "%s", r.body.ptr);
	http_free(&r);
	form_post(sp, &r, "/oauth/token", "grant_type=refresh_token&refresh_token=x");
	cr_assert_eq(r.status, 503);
	http_free(&r);
	api_call(sp, &r, "GET", "/api/v1/me", pat);
	cr_assert_eq(r.status, 200);
	http_free(&r);
	free(pat);
}
