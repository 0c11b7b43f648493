/* bstscan-server: RFC 8693 token exchange of a CI provider's ID token, with
 * JWTs signed at test time by keys generated in the test. */
#include "tests/unit/test_server_support.h"

#define CI_ISSUER "https://ci.example.test"
#define CI_AUD "bstscan"
#define GT_EXCHANGE "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
#define TT_ID "urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token"

static srv_ctx S;
static EVP_PKEY *rsa_key, *ec_key;

static void setup(void)
{
	cJSON *jwks = cJSON_CreateObject(), *keys = cJSON_AddArrayToObject(jwks, "keys");
	char *text;
	bs_buf out = BS_BUF_INIT;
	memset(&S, 0, sizeof(S));
	srv_start(&S, NULL);
	rsa_key = test_key_rsa();
	ec_key = test_key_ec();
	jwks_add(keys, rsa_key, "rsa-1");
	jwks_add(keys, ec_key, "ec-1");
	text = cJSON_Print(jwks);
	bs_test_write_str(S.dir, "jwks.json", text);
	free(text);
	cJSON_Delete(jwks);
	text = bs_xasprintf("%s/jwks.json", S.dir);
	cr_assert_eq(srv_admin(&S, &out, "trust", "add", "--issuer", CI_ISSUER, "--jwks", text, "--audience", CI_AUD,
	                       "--subject", "repo:example/app:ref:refs/heads/*", "--scopes",
	                       "leaks:check,leaks:revoke"),
	             0);
	free(text);
	bs_buf_free(&out);
}

static void teardown(void)
{
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ec_key);
	if (S.pid)
		srv_stop(&S);
}

TestSuite(exchange, .init = setup, .fini = teardown, .timeout = 60);

/* Claims with exp/iat relative to now; aud_json is raw JSON. */
static char *claims(const char *iss, const char *aud_json, const char *sub, long exp_in, long nbf_in)
{
	long now = (long)time(NULL);
	return bs_xasprintf("{\"iss\":\"%s\",\"aud\":%s,\"sub\":\"%s\",\"iat\":%ld,\"nbf\":%ld,\"exp\":%ld,"
	                    "\"repository\":\"example/app\"}",
	                    iss, aud_json, sub, now - 5, now + nbf_in, now + exp_in);
}

static void exchange_with(http_resp *r, const char *subject_token, const char *extra)
{
	char *form = bs_xasprintf("grant_type=%s&subject_token=%s&subject_token_type=%s%s", GT_EXCHANGE, subject_token,
	                          TT_ID, extra ? extra : "");
	form_post(&S, r, "/oauth/token", form);
	free(form);
}

/* test_jwt over claims c, which it frees. */
static char *jwt_of(EVP_PKEY *k, const char *kid, char *c)
{
	char *jwt = test_jwt(k, kid, c);
	free(c);
	return jwt;
}

static void exchange_claims(http_resp *r, EVP_PKEY *k, const char *kid, char *c, const char *extra)
{
	char *jwt = test_jwt(k, kid, c);
	exchange_with(r, jwt, extra);
	free(jwt);
	free(c);
}

#define MAIN_SUB "repo:example/app:ref:refs/heads/main"

Test(exchange, valid_rs256_id_token_gets_an_access_token_without_refresh)
{
	http_resp r;
	char *access, h[65], body[200];
	cJSON *c;
	exchange_claims(&r, rsa_key, "rsa-1", claims(CI_ISSUER, "\"" CI_AUD "\"", MAIN_SUB, 300, 0), NULL);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	cr_assert_str_eq(json_str(r.json, "issued_token_type"), "urn:ietf:params:oauth:token-type:access_token");
	cr_assert_str_eq(json_str(r.json, "token_type"), "Bearer");
	cr_assert_str_eq(json_str(r.json, "scope"), "leaks:check leaks:revoke");
	cr_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r.json, "expires_in")));
	cr_assert_null(cJSON_GetObjectItemCaseSensitive(r.json, "refresh_token"),
	               "token exchange issues no refresh token");
	access = bs_xstrdup(json_str(r.json, "access_token"));
	http_free(&r);

	c = jwt_payload(access);
	cr_assert_str_eq(json_str(c, "sub"), "ci:" MAIN_SUB);
	cr_assert_str_eq(json_str(c, "iss"), S.url);
	cJSON_Delete(c);

	sha256_hex_of("z", h);
	snprintf(body, sizeof(body), "{\"token_hashes\":[\"%s\"]}", h);
	api_post(&S, &r, "/api/v1/leaks/check", access, body);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	http_free(&r);
	api_call(&S, &r, "GET", "/api/v1/me", access);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(json_str(r.json, "sub"), "ci:" MAIN_SUB);
	http_free(&r);
	/* only the policy's scopes */
	api_call(&S, &r, "GET", "/api/v1/pats", access);
	expect_error(&r, 403, "insufficient_scope");
	http_free(&r);
	free(access);
}

Test(exchange, valid_es256_id_token_and_audience_array)
{
	http_resp r;
	exchange_claims(&r, ec_key, "ec-1", claims(CI_ISSUER, "[\"other\",\"" CI_AUD "\"]", MAIN_SUB, 300, 0),
	                "&audience=bstscan-api&scope=leaks%3Acheck");
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	cr_assert_str_eq(json_str(r.json, "scope"), "leaks:check");
	http_free(&r);
}

Test(exchange, wrong_issuer)
{
	http_resp r;
	exchange_claims(&r, rsa_key, "rsa-1", claims("https://evil.example.test", "\"" CI_AUD "\"", MAIN_SUB, 300, 0),
	                NULL);
	expect_error(&r, 400, "invalid_grant");
	http_free(&r);
}

Test(exchange, wrong_audience)
{
	http_resp r;
	exchange_claims(&r, rsa_key, "rsa-1", claims(CI_ISSUER, "\"someone-else\"", MAIN_SUB, 300, 0), NULL);
	expect_error(&r, 400, "invalid_grant");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "audience"), "%s", r.body.ptr);
	http_free(&r);
}

Test(exchange, expired_and_not_yet_valid)
{
	http_resp r;
	exchange_claims(&r, ec_key, "ec-1", claims(CI_ISSUER, "\"" CI_AUD "\"", MAIN_SUB, -3600, -4000), NULL);
	expect_error(&r, 400, "invalid_grant");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "expired"), "%s", r.body.ptr);
	http_free(&r);
	exchange_claims(&r, ec_key, "ec-1", claims(CI_ISSUER, "\"" CI_AUD "\"", MAIN_SUB, 7200, 3600), NULL);
	expect_error(&r, 400, "invalid_grant");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "nbf"), "%s", r.body.ptr);
	http_free(&r);
}

Test(exchange, bad_signature)
{
	http_resp r;
	EVP_PKEY *other = test_key_rsa(), *other_ec = test_key_ec();
	char *jwt;
	/* signed by an untrusted key that claims a trusted kid */
	exchange_claims(&r, other, "rsa-1", claims(CI_ISSUER, "\"" CI_AUD "\"", MAIN_SUB, 300, 0), NULL);
	expect_error(&r, 400, "invalid_grant");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "signature"), "%s", r.body.ptr);
	http_free(&r);
	exchange_claims(&r, other_ec, "ec-1", claims(CI_ISSUER, "\"" CI_AUD "\"", MAIN_SUB, 300, 0), NULL);
	expect_error(&r, 400, "invalid_grant");
	http_free(&r);

	/* a valid token whose payload was swapped for another subject */
	{
		char *good = jwt_of(rsa_key, "rsa-1", claims(CI_ISSUER, "\"" CI_AUD "\"", MAIN_SUB, 300, 0));
		char *evil_claims = claims(CI_ISSUER, "\"" CI_AUD "\"", "repo:example/app:ref:refs/heads/evil", 300, 0);
		bs_buf forged = BS_BUF_INIT;
		const char *d1 = strchr(good, '.'), *d2 = strchr(d1 + 1, '.');
		bs_buf_add(&forged, good, (size_t)(d1 - good) + 1);
		bs_base64url_encode(&forged, evil_claims, strlen(evil_claims));
		bs_buf_adds(&forged, d2);
		exchange_with(&r, forged.ptr, NULL);
		expect_error(&r, 400, "invalid_grant");
		http_free(&r);
		bs_buf_free(&forged);
		free(good);
		free(evil_claims);
	}

	/* alg none and HS256 are never accepted */
	{
		char *c = claims(CI_ISSUER, "\"" CI_AUD "\"", MAIN_SUB, 300, 0);
		bs_buf none = BS_BUF_INIT;
		bs_base64url_encode(&none, "{\"alg\":\"none\"}", 14);
		bs_buf_addch(&none, '.');
		bs_base64url_encode(&none, c, strlen(c));
		bs_buf_addch(&none, '.');
		exchange_with(&r, none.ptr, NULL);
		expect_error(&r, 400, "invalid_grant");
		http_free(&r);
		bs_buf_reset(&none);
		bs_base64url_encode(&none, "{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", 29);
		bs_buf_addch(&none, '.');
		bs_base64url_encode(&none, c, strlen(c));
		bs_buf_adds(&none, ".AAAA");
		exchange_with(&r, none.ptr, NULL);
		expect_error(&r, 400, "invalid_grant");
		http_free(&r);
		bs_buf_free(&none);
		free(c);
	}
	jwt = test_jwt(other, "x", "{}");
	exchange_with(&r, jwt, NULL);
	expect_error(&r, 400, "invalid_grant");
	http_free(&r);
	free(jwt);
	EVP_PKEY_free(other);
	EVP_PKEY_free(other_ec);
}

Test(exchange, subject_outside_the_policy_pattern)
{
	http_resp r;
	exchange_claims(&r, rsa_key, "rsa-1",
	                claims(CI_ISSUER, "\"" CI_AUD "\"", "repo:example/app:pull_request", 300, 0), NULL);
	expect_error(&r, 400, "invalid_grant");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "sub"), "%s", r.body.ptr);
	http_free(&r);
	exchange_claims(&r, rsa_key, "rsa-1",
	                claims(CI_ISSUER, "\"" CI_AUD "\"", "repo:example/other:ref:refs/heads/main", 300, 0), NULL);
	expect_error(&r, 400, "invalid_grant");
	http_free(&r);
}

Test(exchange, malformed_requests)
{
	http_resp r;
	char *jwt = jwt_of(rsa_key, "rsa-1", claims(CI_ISSUER, "\"" CI_AUD "\"", MAIN_SUB, 300, 0));
	char *form = bs_xasprintf("grant_type=%s&subject_token=%s&subject_token_type=%s", GT_EXCHANGE, jwt,
	                          "urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token");
	form_post(&S, &r, "/oauth/token", form);
	expect_error(&r, 400, "invalid_request");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "subject_token_type"));
	http_free(&r);
	free(form);

	form = bs_xasprintf("grant_type=%s&subject_token_type=%s", GT_EXCHANGE, TT_ID);
	form_post(&S, &r, "/oauth/token", form);
	expect_error(&r, 400, "invalid_request");
	http_free(&r);
	free(form);

	exchange_with(&r, "not-a-jwt", NULL);
	expect_error(&r, 400, "invalid_grant");
	http_free(&r);

	exchange_with(&r, jwt, "&audience=https%3A%2F%2Fsomewhere.else");
	expect_error(&r, 400, "invalid_target");
	http_free(&r);

	exchange_with(&r, jwt, "&scope=pats%3Awrite");
	expect_error(&r, 400, "invalid_scope");
	http_free(&r);

	exchange_with(&r, jwt, "&client_id=unknown");
	expect_error(&r, 401, "invalid_client");
	http_free(&r);
	free(jwt);
}

Test(exchange, audience_may_name_the_issuer)
{
	http_resp r;
	bs_buf extra = BS_BUF_INIT;
	const char *suffix[] = {"", "%2F"};
	for (int i = 0; i < 2; i++) {
		bs_buf_reset(&extra);
		bs_buf_adds(&extra, "&audience=");
		for (const char *p = S.url; *p; p++) {
			if (*p == ':' || *p == '/')
				bs_buf_addf(&extra, "%%%02X", (unsigned char)*p);
			else
				bs_buf_addch(&extra, *p);
		}
		bs_buf_adds(&extra, suffix[i]);
		exchange_claims(&r, rsa_key, "rsa-1", claims(CI_ISSUER, "\"" CI_AUD "\"", MAIN_SUB, 300, 0), extra.ptr);
		cr_assert_eq(r.status, 200, "%s: %s", extra.ptr, r.body.ptr);
		http_free(&r);
	}
	bs_buf_free(&extra);
}
