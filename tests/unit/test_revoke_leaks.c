/* revoke/leaks: request bodies, reply parsing (good and malformed), batching, de-duplication,
 * matching by hash, errors that never hold the credential. A fake issuer (libmicrohttpd, in this
 * process) records each request and answers as the test says. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/secure.h"
#include "revoke/leaks.h"
#include "common/banned.h"

#define SECRET_BEARER "bst_ThisIsTheServiceCredentialNeverShownAnywhereAAAA"

typedef enum fake_mode {
	FAKE_OK,           /* results in reverse order; status from the hash's first digit */
	FAKE_EXTRA_HASH,   /* answers a hash nobody asked about */
	FAKE_MISSING_HASH, /* leaves one out */
	FAKE_BAD_STATUS,   /* an unknown status word */
	FAKE_NOT_JSON,
	FAKE_HUGE_NAME,
	FAKE_401,
	FAKE_503,
	FAKE_FAIL_SECOND /* 503 for the second request only (revoke: partial failure) */
} fake_mode;

typedef struct fake {
	struct MHD_Daemon *d;
	char url[64];
	fake_mode mode;
	pthread_mutex_t lock;
	size_t requests;
	size_t max_batch;
	size_t total_hashes;
	bs_buf last_body;
	int saw_bearer;
} fake;

static fake F;
static bs_http *no_retry_http;

typedef struct body_acc {
	bs_buf b;
} body_acc;

static const char *status_for(const char *hash, int revoke)
{
	static const char *const st[] = {"active", "revoked", "expired", "unknown"};
	static const char *const oc[] = {"revoked", "already_revoked", "expired", "unknown"};
	int d = hash[0] >= 'a' ? hash[0] - 'a' + 10 : hash[0] - '0';
	return revoke ? oc[d % 4] : st[d % 4];
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;
	MHD_add_response_header(r, "Content-Type", "application/json");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *data, size_t *size, void **con_cls)
{
	body_acc *acc = *con_cls;
	cJSON *req, *hashes, *out, *results, *h;
	int revoke = strstr(url, "/revoke") != NULL;
	size_t n, reqno;
	const char *auth;
	char *s;
	enum MHD_Result rc;
	if (!acc) {
		acc = calloc(1, sizeof(*acc));
		bs_buf_init(&acc->b, 0);
		*con_cls = acc;
		return MHD_YES;
	}
	if (*size) {
		bs_buf_add(&acc->b, data, *size);
		*size = 0;
		return MHD_YES;
	}
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	pthread_mutex_lock(&F.lock);
	reqno = ++F.requests;
	F.saw_bearer = auth && strcmp(auth, "Bearer " SECRET_BEARER) == 0;
	bs_buf_reset(&F.last_body);
	bs_buf_add(&F.last_body, acc->b.ptr, acc->b.len);
	pthread_mutex_unlock(&F.lock);
	req = cJSON_ParseWithLength(acc->b.ptr, acc->b.len);
	hashes = cJSON_GetObjectItem(req, "token_hashes");
	n = (size_t)cJSON_GetArraySize(hashes);
	pthread_mutex_lock(&F.lock);
	if (n > F.max_batch)
		F.max_batch = n;
	F.total_hashes += n;
	pthread_mutex_unlock(&F.lock);
	if (F.mode == FAKE_401) {
		cJSON_Delete(req);
		return answer(c, 401,
		              "{\"error\":\"invalid_token\",\"error_description\":\"token " SECRET_BEARER
		              " is revoked\"}");
	}
	if (F.mode == FAKE_503 || (F.mode == FAKE_FAIL_SECOND && reqno == 2)) {
		cJSON_Delete(req);
		return answer(c, 503, "{\"error\":\"unavailable\"}");
	}
	if (F.mode == FAKE_NOT_JSON) {
		cJSON_Delete(req);
		return answer(c, 200, "<html>oops</html>");
	}
	out = cJSON_CreateObject();
	results = cJSON_AddArrayToObject(out, "results");
	for (int i = (int)n - 1; i >= 0; i--) {
		cJSON *o = cJSON_CreateObject();
		h = cJSON_GetArrayItem(hashes, i);
		if (F.mode == FAKE_MISSING_HASH && i == 0) {
			cJSON_Delete(o);
			continue;
		}
		cJSON_AddStringToObject(o, "token_hash", h->valuestring);
		cJSON_AddStringToObject(o, revoke ? "outcome" : "status",
		                        F.mode == FAKE_BAD_STATUS ? "pwned\x01" : status_for(h->valuestring, revoke));
		if (!revoke && strcmp(status_for(h->valuestring, 0), "unknown") != 0) {
			cJSON_AddStringToObject(o, "token_prefix", "bst_abcdefgh");
			cJSON_AddStringToObject(o, "owner", "alice");
			if (F.mode == FAKE_HUGE_NAME) {
				char *big = malloc(5000);
				memset(big, 'x', 4999);
				big[4999] = 0;
				cJSON_AddStringToObject(o, "name", big);
				free(big);
			} else {
				cJSON_AddStringToObject(o, "name", "ci");
			}
			cJSON_AddNullToObject(o, "last_used_at");
		}
		cJSON_AddItemToArray(results, o);
	}
	if (F.mode == FAKE_EXTRA_HASH) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "token_hash",
		                        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
		cJSON_AddStringToObject(o, revoke ? "outcome" : "status", "unknown");
		cJSON_AddItemToArray(results, o);
	}
	s = cJSON_PrintUnformatted(out);
	rc = answer(c, 200, s);
	cJSON_free(s);
	cJSON_Delete(out);
	cJSON_Delete(req);
	return rc;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	body_acc *acc = *con_cls;
	if (acc) {
		bs_buf_free(&acc->b);
		free(acc);
	}
	*con_cls = NULL;
}

static void fake_start(void)
{
	const union MHD_DaemonInfo *info;
	memset(&F, 0, sizeof(F));
	pthread_mutex_init(&F.lock, NULL);
	bs_buf_init(&F.last_body, 0);
	F.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, on_req, NULL,
	                       MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
	cr_assert(F.d);
	info = MHD_get_daemon_info(F.d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(F.url, sizeof(F.url), "http://127.0.0.1:%u", info->port);
}

static void fake_stop(void)
{
	bs_http_free(no_retry_http);
	no_retry_http = NULL;
	MHD_stop_daemon(F.d);
	bs_buf_free(&F.last_body);
}

TestSuite(leaks, .init = fake_start, .fini = fake_stop, .timeout = 60);

static bs_leaks_client *client(size_t batch)
{
	bs_leaks_client *c;
	bs_leaks_options o = {0};
	bs_http_options ho = {0};
	bs_error err = BS_ERROR_INIT;
	/* One attempt per request, so that request counts are exact and failures stay failed. */
	ho.max_retries = -1;
	if (!no_retry_http)
		cr_assert_eq(bs_http_new(&no_retry_http, &ho, &err), 0);
	o.server = F.url;
	o.bearer = SECRET_BEARER;
	o.batch_max = batch;
	o.http = no_retry_http;
	cr_assert_eq(bs_leaks_client_new(&c, &o, &err), 0, "%s", err.message);
	return c;
}

/* n distinct random hashes (plus dups duplicates of the first ones). */
static char **make_hashes(size_t n, size_t dups)
{
	char **h = calloc(n + dups, sizeof(*h));
	for (size_t i = 0; i < n; i++) {
		unsigned char raw[16];
		h[i] = malloc(65);
		cr_assert_eq(bs_random_bytes(raw, sizeof(raw)), 0);
		bs_sha256_hex(raw, sizeof(raw), h[i]);
	}
	for (size_t i = 0; i < dups; i++)
		h[n + i] = bs_xstrdup(h[i % n]);
	return h;
}

static void free_hashes(char **h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i]);
	free(h);
}

Test(leaks, check_batches_dedups_and_matches_by_hash)
{
	bs_leaks_client *c = client(0);
	bs_leak_results r = BS_LEAK_RESULTS_INIT;
	bs_error err = BS_ERROR_INIT;
	size_t n = 2500, dups = 300;
	char **h = make_hashes(n, dups);
	cr_assert_eq(bs_leaks_check(c, &r, (const char *const *)h, n + dups, &err), 0, "%s", err.message);
	cr_assert_eq(r.len, n, "one result per distinct hash");
	cr_assert_eq(F.requests, 3, "2500 distinct hashes take 3 requests of at most 1000, got %zu", F.requests);
	cr_assert_eq(F.max_batch, 1000);
	cr_assert_eq(F.total_hashes, n, "duplicates are sent once");
	for (size_t i = 0; i < n; i++) {
		const bs_leak_result *x = bs_leak_results_find(&r, h[i]);
		cr_assert_str_eq(r.items[i].token_hash, h[i], "results keep request order");
		cr_assert(x && x->status);
		/* The fake answers in reverse order: a positional match would be wrong here. */
		cr_assert_str_eq(x->status, status_for(h[i], 0));
		if (strcmp(x->status, "unknown") != 0) {
			cr_assert_str_eq(x->owner, "alice");
			cr_assert_str_eq(x->name, "ci");
			cr_assert_null(x->last_used_at);
		} else {
			cr_assert_null(x->owner);
		}
	}
	cr_assert(F.saw_bearer, "the bearer is sent in the Authorization header");
	bs_leak_results_free(&r);
	free_hashes(h, n + dups);
	bs_leaks_client_free(c);
}

Test(leaks, check_small_batches)
{
	bs_leaks_client *c = client(7);
	bs_leak_results r = BS_LEAK_RESULTS_INIT;
	bs_error err = BS_ERROR_INIT;
	char **h = make_hashes(20, 0);
	cr_assert_eq(bs_leaks_check(c, &r, (const char *const *)h, 20, &err), 0, "%s", err.message);
	cr_assert_eq(F.requests, 3);
	cr_assert_eq(F.max_batch, 7);
	bs_leak_results_free(&r);
	free_hashes(h, 20);
	bs_leaks_client_free(c);
}

static void expect_check_error(fake_mode mode, const char *needle, int code)
{
	bs_leaks_client *c = client(0);
	bs_leak_results r = BS_LEAK_RESULTS_INIT;
	bs_error err = BS_ERROR_INIT;
	char **h = make_hashes(5, 0);
	F.mode = mode;
	cr_assert_eq(bs_leaks_check(c, &r, (const char *const *)h, 5, &err), code, "mode %d: %s", mode, err.message);
	cr_assert(strstr(err.message, needle), "message '%s' should say '%s'", err.message, needle);
	cr_assert_null(strstr(err.message, SECRET_BEARER), "the credential never appears in a message");
	cr_assert_eq(r.len, 0, "no half results");
	free_hashes(h, 5);
	bs_leaks_client_free(c);
}

Test(leaks, malformed_replies_are_errors_naming_the_problem)
{
	expect_check_error(FAKE_EXTRA_HASH, "was not asked about", BS_ERR_SERVER);
}

Test(leaks, missing_result)
{
	expect_check_error(FAKE_MISSING_HASH, "have no result", BS_ERR_SERVER);
}

Test(leaks, unknown_status)
{
	expect_check_error(FAKE_BAD_STATUS, "unknown value \"pwned?\"", BS_ERR_SERVER);
}

Test(leaks, not_json)
{
	expect_check_error(FAKE_NOT_JSON, "not JSON", BS_ERR_SERVER);
}

Test(leaks, oversized_field)
{
	expect_check_error(FAKE_HUGE_NAME, "results[", BS_ERR_SERVER);
}

Test(leaks, refused_credential_is_auth_error_without_the_token)
{
	/* The fake even echoes the token in its error_description. */
	bs_leaks_client *c = client(0);
	bs_leak_results r = BS_LEAK_RESULTS_INIT;
	bs_error err = BS_ERROR_INIT;
	char **h = make_hashes(1, 0);
	F.mode = FAKE_401;
	cr_assert_eq(bs_leaks_check(c, &r, (const char *const *)h, 1, &err), BS_ERR_AUTH);
	cr_assert(strstr(err.message, "401"), "%s", err.message);
	cr_assert(strstr(err.message, "invalid_token"), "%s", err.message);
	cr_assert_null(strstr(err.message, SECRET_BEARER), "leaked credential in: %s", err.message);
	free_hashes(h, 1);
	bs_leaks_client_free(c);
}

Test(leaks, server_error_is_an_error)
{
	expect_check_error(FAKE_503, "503", BS_ERR_SERVER);
}

Test(leaks, bad_hash_is_usage_error)
{
	bs_leaks_client *c = client(0);
	bs_leak_results r = BS_LEAK_RESULTS_INIT;
	bs_error err = BS_ERROR_INIT;
	const char *h[] = {"ABCDEF"};
	cr_assert_eq(bs_leaks_check(c, &r, h, 1, &err), BS_ERR_USAGE);
	cr_assert_eq(F.requests, 0, "nothing sent");
	bs_leaks_client_free(c);
}

Test(leaks, revoke_groups_by_source_and_keeps_partial_outcomes)
{
	bs_leaks_client *c = client(0);
	bs_leak_results r = BS_LEAK_RESULTS_INIT;
	bs_error err = BS_ERROR_INIT;
	char **h = make_hashes(4, 0);
	bs_revoke_item items[5] = {0};
	size_t failed = 0, ok = 0;
	for (size_t i = 0; i < 4; i++) {
		items[i].token_hash = h[i];
		items[i].source.path = i < 2 ? "a.txt" : "b.txt";
		items[i].source.commit = "0123456789abcdef0123456789abcdef01234567";
	}
	items[4].token_hash = h[0]; /* a duplicate with another source: revoked once, first source wins */
	items[4].source.path = "c.txt";
	F.mode = FAKE_FAIL_SECOND;
	cr_assert_eq(bs_leaks_revoke(c, &r, items, 5, "leaked", &err), BS_ERR_SERVER, "%s", err.message);
	cr_assert_eq(F.requests, 2, "one request per distinct source");
	cr_assert_eq(r.len, 4);
	for (size_t i = 0; i < 4; i++) {
		const bs_leak_result *x = bs_leak_results_find(&r, h[i]);
		cr_assert(x);
		if (x->outcome) {
			cr_assert_str_eq(x->outcome, status_for(h[i], 1));
			ok++;
		} else {
			failed++;
		}
	}
	cr_assert_eq(ok, 2, "the batch that worked keeps its outcomes");
	cr_assert_eq(failed, 2, "the failed batch has no outcomes");
	bs_leak_results_free(&r);
	free_hashes(h, 4);
	bs_leaks_client_free(c);
}

Test(leaks, revoke_body_carries_reason_and_source)
{
	const char *h[] = {"0000000000000000000000000000000000000000000000000000000000000000"};
	bs_leak_source src = {"https://git.example/o/r", "https://git.example/o/r", "abc", "config/.env"};
	char *body = bs_leaks_revoke_body(h, 1, "leaked", &src);
	cJSON *o = cJSON_Parse(body), *s = cJSON_GetObjectItem(o, "source");
	cr_assert_str_eq(cJSON_GetObjectItem(o, "reason")->valuestring, "leaked");
	cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "token_hashes"), 0)->valuestring, h[0]);
	cr_assert_str_eq(cJSON_GetObjectItem(s, "url")->valuestring, "https://git.example/o/r");
	cr_assert_str_eq(cJSON_GetObjectItem(s, "commit")->valuestring, "abc");
	cr_assert_str_eq(cJSON_GetObjectItem(s, "path")->valuestring, "config/.env");
	cJSON_Delete(o);
	free(body);
}

Test(leaks, parse_reply_edge_cases)
{
	bs_leak_results r = BS_LEAK_RESULTS_INIT;
	bs_error err = BS_ERROR_INIT;
	const char *h = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *bad[] = {
	    "",
	    "[]",
	    "{\"results\": {}}",
	    "{\"results\": [1]}",
	    "{\"results\": [{\"token_hash\": 5, \"status\": \"active\"}]}",
	    "{\"results\": [{\"token_hash\": \"1111111111111111111111111111111111111111111111111111111111111111\"}]}",
	    "{\"results\": [{\"token_hash\": \"1111111111111111111111111111111111111111111111111111111111111111\", "
	    "\"status\": \"active\", \"name\": 7}]}",
	    "{\"results\": [{\"token_hash\": \"1111111111111111111111111111111111111111111111111111111111111111\", "
	    "\"status\": \"active\"}, {\"token_hash\": "
	    "\"1111111111111111111111111111111111111111111111111111111111111111\", \"status\": \"active\"}]}",
	    "{\"results\": [{\"token_hash\": \"1111111111111111111111111111111111111111111111111111111111111111\", "
	    "\"status\": \"active\"",
	    "{\"results\": [{\"token_hash\": \"1111111111111111111111111111111111111111111111111111111111111111\", "
	    "\"status\": \"active\"}]} {}",
	};
	r.items = calloc(1, sizeof(*r.items));
	r.len = r.cap = 1;
	memcpy(r.items[0].token_hash, h, 65);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bs_error_clear(&err);
		cr_assert_lt(bs_leaks_parse_check_reply(&r, 0, 1, bad[i], strlen(bad[i]), &err), 0, "accepted: %s",
		             bad[i]);
		cr_assert(strstr(err.message, "malformed reply"), "%s", err.message);
		cr_assert_null(r.items[0].status);
	}
	{
		const char *good = "{\"results\": [{\"token_hash\": "
		                   "\"1111111111111111111111111111111111111111111111111111111111111111\", \"status\": "
		                   "\"expired\", \"expires_at\": \"2026-01-01T00:00:00Z\", \"extra\": [1,2]}]}";
		cr_assert_eq(bs_leaks_parse_check_reply(&r, 0, 1, good, strlen(good), &err), 0, "%s", err.message);
		cr_assert_str_eq(r.items[0].status, "expired");
		cr_assert_str_eq(r.items[0].expires_at, "2026-01-01T00:00:00Z");
	}
	bs_leak_results_free(&r);
}

Test(leaks, url_without_userinfo)
{
	char *a = bs_leaks_url_without_userinfo("https://user:ghp_secret@github.com/o/r.git");
	char *b = bs_leaks_url_without_userinfo("https://github.com/o/r@x");
	char *c = bs_leaks_url_without_userinfo("git@github.com:o/r.git");
	cr_assert_str_eq(a, "https://github.com/o/r.git");
	cr_assert_str_eq(b, "https://github.com/o/r@x");
	cr_assert_str_eq(c, "git@github.com:o/r.git");
	free(a);
	free(b);
	free(c);
}
