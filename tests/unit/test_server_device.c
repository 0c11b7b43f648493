/* bstscan-server: the RFC 8628 device flow, refresh rotation and reuse
 * detection, RFC 7009 revocation, and the CSRF-protected /device page. */
#include <openssl/param_build.h>

#include "tests/unit/test_server_support.h"

#define GT_DEVICE "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"

static srv_ctx S;

static void setup(void)
{
	const char *extra[] = {"--access-ttl", "120", NULL};
	memset(&S, 0, sizeof(S));
	srv_start(&S, extra);
	/* the user must exist for approvals */
	cr_assert_eq(srv_admin_in(&S, "s3cret pass\n", NULL, "user", "add", "alice", (const char *)NULL), 0);
}

static void teardown(void)
{
	if (S.pid)
		srv_stop(&S);
}

TestSuite(device, .init = setup, .fini = teardown, .timeout = 60);

typedef struct grant {
	char *device_code;
	char *user_code;
} grant;

static void authorize(srv_ctx *s, grant *g, const char *scope)
{
	http_resp r;
	char form[300];
	snprintf(form, sizeof(form), "client_id=bstscan-cli&scope=%s", scope);
	form_post(s, &r, "/oauth/device/authorize", form);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	g->device_code = bs_xstrdup(json_str(r.json, "device_code"));
	g->user_code = bs_xstrdup(json_str(r.json, "user_code"));
	http_free(&r);
}

static void grant_free(grant *g)
{
	free(g->device_code);
	free(g->user_code);
}

static void poll_once(srv_ctx *s, http_resp *r, const grant *g)
{
	char *form = bs_xasprintf("grant_type=%s&device_code=%s&client_id=bstscan-cli", GT_DEVICE, g->device_code);
	form_post(s, r, "/oauth/token", form);
	free(form);
}

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Runs the flow to tokens with an admin approval; r holds the token response. */
static void obtain_tokens(srv_ctx *s, http_resp *r, const char *scope)
{
	grant g;
	authorize(s, &g, scope);
	cr_assert_eq(srv_admin(s, NULL, "device", "approve", g.user_code, "--user", "alice"), 0);
	poll_once(s, r, &g);
	cr_assert_eq(r->status, 200, "%s", r->body.ptr);
	grant_free(&g);
}

/* Verifies an ES256 JWT with the server's published JWKS, independently of
 * the server's code: x/y -> OpenSSL key, JWS r||s -> DER. Returns 1 when valid. */
static int verify_with_published_jwks(srv_ctx *s, const char *jwt)
{
	http_resp r;
	const cJSON *k;
	bs_buf x = BS_BUF_INIT, y = BS_BUF_INIT, sig = BS_BUF_INIT;
	unsigned char pub[65], *der = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ECDSA_SIG *es = ECDSA_SIG_new();
	const char *dot2 = strrchr(jwt, '.');
	int derlen, ok;
	cJSON *hdr;

	http_req(s, &r, "GET", "/.well-known/jwks.json", NULL, NULL, 0);
	cr_assert_eq(r.status, 200);
	k = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "keys"), 0);
	cr_assert_str_eq(json_str(k, "kty"), "EC");
	cr_assert_str_eq(json_str(k, "crv"), "P-256");
	{
		/* the token names the published key */
		bs_buf h = BS_BUF_INIT;
		cr_assert_eq(bs_base64url_decode(&h, jwt, (size_t)(strchr(jwt, '.') - jwt)), 0);
		hdr = cJSON_ParseWithLength(h.ptr, h.len);
		cr_assert_str_eq(json_str(hdr, "alg"), "ES256");
		cr_assert_str_eq(json_str(hdr, "kid"), json_str(k, "kid"));
		cJSON_Delete(hdr);
		bs_buf_free(&h);
	}
	cr_assert_eq(bs_base64url_decode(&x, json_str(k, "x"), strlen(json_str(k, "x"))), 0);
	cr_assert_eq(bs_base64url_decode(&y, json_str(k, "y"), strlen(json_str(k, "y"))), 0);
	cr_assert_eq(x.len, 32);
	cr_assert_eq(y.len, 32);
	http_free(&r);
	pub[0] = 4;
	memcpy(pub + 1, x.ptr, 32);
	memcpy(pub + 33, y.ptr, 32);
	OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
	OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub));
	params = OSSL_PARAM_BLD_to_param(bld);
	cr_assert_eq(EVP_PKEY_fromdata_init(pctx), 1);
	cr_assert_eq(EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
	cr_assert_eq(bs_base64url_decode(&sig, dot2 + 1, strlen(dot2 + 1)), 0);
	cr_assert_eq(sig.len, 64, "an ES256 JWS signature is r||s, 64 bytes");
	ECDSA_SIG_set0(es, BN_bin2bn((unsigned char *)sig.ptr, 32, NULL),
	               BN_bin2bn((unsigned char *)sig.ptr + 32, 32, NULL));
	derlen = i2d_ECDSA_SIG(es, &der);
	cr_assert_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
	ok = EVP_DigestVerify(md, der, (size_t)derlen, (const unsigned char *)jwt, (size_t)(dot2 - jwt)) == 1;
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	bs_buf_free(&x);
	bs_buf_free(&y);
	bs_buf_free(&sig);
	return ok;
}

Test(device, authorization_response_follows_rfc8628)
{
	http_resp r;
	const char *uc, *alphabet = "BCDFGHJKLMNPQRSTVWXZ";
	char want[200];
	form_post(&S, &r, "/oauth/device/authorize", "client_id=bstscan-cli&scope=leaks%3Acheck+leaks%3Arevoke+openid");
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	cr_assert_gt(strlen(json_str(r.json, "device_code")), 30);
	uc = json_str(r.json, "user_code");
	cr_assert_eq(strlen(uc), 9, "%s", uc);
	cr_assert_eq(uc[4], '-');
	for (int i = 0; i < 9; i++)
		if (i != 4)
			cr_assert_not_null(strchr(alphabet, uc[i]), "user code %s", uc);
	snprintf(want, sizeof(want), "%s/device", S.url);
	cr_assert_str_eq(json_str(r.json, "verification_uri"), want);
	snprintf(want, sizeof(want), "%s/device?user_code=%s", S.url, uc);
	cr_assert_str_eq(json_str(r.json, "verification_uri_complete"), want);
	cr_assert_eq(cJSON_GetObjectItemCaseSensitive(r.json, "expires_in")->valueint, 30);
	cr_assert_eq(cJSON_GetObjectItemCaseSensitive(r.json, "interval")->valueint, 1);
	http_free(&r);

	form_post(&S, &r, "/oauth/device/authorize", "scope=leaks%3Acheck");
	expect_error(&r, 400, "invalid_request");
	http_free(&r);
	form_post(&S, &r, "/oauth/device/authorize", "client_id=someone-else");
	expect_error(&r, 401, "invalid_client");
	http_free(&r);
	form_post(&S, &r, "/oauth/device/authorize", "client_id=bstscan-cli&scope=admin%3Aeverything");
	expect_error(&r, 400, "invalid_scope");
	http_free(&r);
	form_post(&S, &r, "/oauth/device/authorize", "client_id=bstscan-cli&client_id=bstscan-cli");
	expect_error(&r, 400, "invalid_request");
	cr_assert_not_null(strstr(json_str(r.json, "error_description"), "repeated"));
	http_free(&r);
	form_post(&S, &r, "/oauth/device/authorize", "client_id=bstscan%ZZcli");
	expect_error(&r, 400, "invalid_request");
	http_free(&r);
	{
		const char *h[] = {"Content-Type: application/json", NULL};
		http_req(&S, &r, "POST", "/oauth/device/authorize", h, "{\"client_id\":\"bstscan-cli\"}", 26);
		expect_error(&r, 400, "invalid_request");
		cr_assert_not_null(strstr(json_str(r.json, "error_description"), "x-www-form-urlencoded"));
		http_free(&r);
	}
	http_req(&S, &r, "GET", "/oauth/device/authorize", NULL, NULL, 0);
	cr_assert_eq(r.status, 405);
	http_free(&r);
}

Test(device, approve_yields_tokens_exactly_once)
{
	grant g;
	http_resp r;
	cJSON *claims;
	char *access, lower[16];
	authorize(&S, &g, "leaks%3Acheck+pats%3Aread");
	poll_once(&S, &r, &g);
	expect_error(&r, 400, "authorization_pending");
	http_free(&r);

	/* codes are accepted without regard to case or dashes */
	snprintf(lower, sizeof(lower), "%.4s%s", g.user_code, g.user_code + 5);
	for (char *p = lower; *p; p++)
		*p = (char)(*p - 'A' + 'a');
	cr_assert_eq(srv_admin(&S, NULL, "device", "approve", lower, "--user", "alice"), 0);
	nap_ms(1100);
	poll_once(&S, &r, &g);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	cr_assert_str_eq(http_header(&r, "Cache-Control"), "no-store");
	cr_assert_str_eq(json_str(r.json, "token_type"), "Bearer");
	cr_assert_str_eq(json_str(r.json, "scope"), "leaks:check pats:read");
	cr_assert_eq(cJSON_GetObjectItemCaseSensitive(r.json, "expires_in")->valueint, 120);
	cr_assert_not_null(json_str(r.json, "refresh_token"));
	access = bs_xstrdup(json_str(r.json, "access_token"));
	http_free(&r);

	claims = jwt_payload(access);
	cr_assert_str_eq(json_str(claims, "iss"), S.url);
	cr_assert_str_eq(json_str(claims, "sub"), "alice");
	cr_assert_str_eq(json_str(claims, "aud"), "bstscan-api");
	cr_assert_str_eq(json_str(claims, "scope"), "leaks:check pats:read");
	cr_assert_not_null(json_str(claims, "jti"));
	cr_assert_eq(cJSON_GetObjectItemCaseSensitive(claims, "exp")->valuedouble -
	                 cJSON_GetObjectItemCaseSensitive(claims, "iat")->valuedouble,
	             120);
	cJSON_Delete(claims);
	cr_assert(verify_with_published_jwks(&S, access), "the access token verifies with /.well-known/jwks.json");
	{
		char *forged = bs_xstrdup(access);
		char *p = strchr(forged, '.') + 3;
		*p = *p == 'A' ? 'B' : 'A';
		cr_assert_not(verify_with_published_jwks(&S, forged));
		free(forged);
	}

	/* the access token works against the API with its scopes */
	api_call(&S, &r, "GET", "/api/v1/me", access);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	cr_assert_str_eq(json_str(r.json, "sub"), "alice");
	http_free(&r);
	api_call(&S, &r, "GET", "/api/v1/pats", access);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	http_free(&r);
	api_post(&S, &r, "/api/v1/leaks/revoke", access, "{\"token_hashes\":[]}");
	expect_error(&r, 403, "insufficient_scope");
	http_free(&r);

	/* a tampered token is refused */
	{
		char *bad = bs_xstrdup(access);
		size_t n = strlen(bad);
		bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
		api_call(&S, &r, "GET", "/api/v1/me", bad);
		expect_error(&r, 401, "invalid_token");
		http_free(&r);
		free(bad);
	}

	/* the device code yields tokens once */
	nap_ms(1100);
	poll_once(&S, &r, &g);
	expect_error(&r, 400, "invalid_grant");
	http_free(&r);
	free(access);
	grant_free(&g);
}

Test(device, deny_gives_access_denied)
{
	grant g;
	http_resp r;
	authorize(&S, &g, "leaks%3Acheck");
	cr_assert_eq(srv_admin(&S, NULL, "device", "deny", g.user_code, "--user", "alice"), 0);
	poll_once(&S, &r, &g);
	expect_error(&r, 400, "access_denied");
	http_free(&r);
	/* a decided code cannot be approved afterwards */
	cr_assert_neq(srv_admin(&S, NULL, "device", "approve", g.user_code, "--user", "alice"), 0);
	grant_free(&g);
}

Test(device, slow_down_grows_the_interval_by_five_seconds)
{
	grant g;
	http_resp r;
	authorize(&S, &g, "leaks%3Acheck");
	poll_once(&S, &r, &g);
	expect_error(&r, 400, "authorization_pending");
	http_free(&r);
	poll_once(&S, &r, &g);
	expect_error(&r, 400, "slow_down");
	http_free(&r);
	/* 1.5 s would satisfy the original 1 s interval but not 1 + 5 s */
	nap_ms(1500);
	poll_once(&S, &r, &g);
	expect_error(&r, 400, "slow_down");
	http_free(&r);
	grant_free(&g);
}

Test(device, unknown_and_malformed_token_requests)
{
	http_resp r;
	form_post(&S, &r, "/oauth/token", "grant_type=" GT_DEVICE "&device_code=nope&client_id=bstscan-cli");
	expect_error(&r, 400, "invalid_grant");
	http_free(&r);
	form_post(&S, &r, "/oauth/token", "grant_type=" GT_DEVICE "&client_id=bstscan-cli");
	expect_error(&r, 400, "invalid_request");
	http_free(&r);
	form_post(&S, &r, "/oauth/token", "grant_type=" GT_DEVICE "&device_code=x&client_id=evil");
	expect_error(&r, 401, "invalid_client");
	http_free(&r);
	form_post(&S, &r, "/oauth/token", "grant_type=password&username=a&password=b");
	expect_error(&r, 400, "unsupported_grant_type");
	http_free(&r);
	form_post(&S, &r, "/oauth/token", "client_id=bstscan-cli");
	expect_error(&r, 400, "invalid_request");
	http_free(&r);
	form_post(&S, &r, "/oauth/token", "grant_type=refresh_token&refresh_token=%G0");
	expect_error(&r, 400, "invalid_request");
	http_free(&r);
}

static void setup_short_lived(void)
{
	const char *extra[] = {"--device-expires-in", "1", "--device-interval", "0", NULL};
	memset(&S, 0, sizeof(S));
	srv_start(&S, extra);
	cr_assert_eq(srv_admin_in(&S, "pw\n", NULL, "user", "add", "alice", (const char *)NULL), 0);
}

Test(device_expiry, expired_device_code_gives_expired_token, .init = setup_short_lived, .fini = teardown, .timeout = 60)
{
	srv_ctx *sp = &S;
	grant g;
	http_resp r;
	authorize(sp, &g, "leaks%3Acheck");
	poll_once(sp, &r, &g);
	expect_error(&r, 400, "authorization_pending");
	http_free(&r);
	nap_ms(2100);
	/* too late to approve, and polling says so */
	cr_assert_neq(srv_admin(sp, NULL, "device", "approve", g.user_code, "--user", "alice"), 0);
	poll_once(sp, &r, &g);
	expect_error(&r, 400, "expired_token");
	http_free(&r);
	grant_free(&g);
}

static void refresh(srv_ctx *s, http_resp *r, const char *rt, const char *scope)
{
	char *form = bs_xasprintf("grant_type=refresh_token&refresh_token=%s&client_id=bstscan-cli%s%s", rt,
	                          scope ? "&scope=" : "", scope ? scope : "");
	form_post(s, r, "/oauth/token", form);
	free(form);
}

Test(device, refresh_rotates_and_reuse_revokes_the_family)
{
	http_resp r;
	char *rt1, *rt2, *rt3, *at2;
	obtain_tokens(&S, &r, "leaks%3Acheck+pats%3Aread");
	rt1 = bs_xstrdup(json_str(r.json, "refresh_token"));
	http_free(&r);

	refresh(&S, &r, rt1, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	rt2 = bs_xstrdup(json_str(r.json, "refresh_token"));
	at2 = bs_xstrdup(json_str(r.json, "access_token"));
	cr_assert_str_neq(rt1, rt2, "every refresh rotates the refresh token");
	cr_assert_str_eq(json_str(r.json, "scope"), "leaks:check pats:read");
	http_free(&r);

	/* narrowing is allowed, widening is not */
	refresh(&S, &r, rt2, "leaks%3Arevoke");
	expect_error(&r, 400, "invalid_scope");
	http_free(&r);
	refresh(&S, &r, rt2, "leaks%3Acheck");
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	cr_assert_str_eq(json_str(r.json, "scope"), "leaks:check");
	rt3 = bs_xstrdup(json_str(r.json, "refresh_token"));
	http_free(&r);

	api_call(&S, &r, "GET", "/api/v1/me", at2);
	cr_assert_eq(r.status, 200);
	http_free(&r);

	/* rt1 was spent: presenting it again is theft; the whole family dies */
	refresh(&S, &r, rt1, NULL);
	expect_error(&r, 400, "invalid_grant");
	http_free(&r);
	refresh(&S, &r, rt3, NULL);
	expect_error(&r, 400, "invalid_grant");
	http_free(&r);
	api_call(&S, &r, "GET", "/api/v1/me", at2);
	expect_error(&r, 401, "invalid_token");
	http_free(&r);

	refresh(&S, &r, "never-issued", NULL);
	expect_error(&r, 400, "invalid_grant");
	http_free(&r);
	form_post(&S, &r, "/oauth/token", "grant_type=refresh_token&client_id=bstscan-cli");
	expect_error(&r, 400, "invalid_request");
	http_free(&r);
	free(rt1);
	free(rt2);
	free(rt3);
	free(at2);
}

Test(device, rfc7009_revocation)
{
	http_resp r;
	char *rt, *at, *form, *pat;
	obtain_tokens(&S, &r, "leaks%3Acheck");
	rt = bs_xstrdup(json_str(r.json, "refresh_token"));
	at = bs_xstrdup(json_str(r.json, "access_token"));
	http_free(&r);

	/* access token: denylisted by jti */
	form = bs_xasprintf("token=%s&token_type_hint=access_token", at);
	form_post(&S, &r, "/oauth/revoke", form);
	cr_assert_eq(r.status, 200);
	http_free(&r);
	free(form);
	api_call(&S, &r, "GET", "/api/v1/me", at);
	expect_error(&r, 401, "invalid_token");
	http_free(&r);

	/* refresh token: the family is revoked (the hint is only a hint) */
	form = bs_xasprintf("token=%s&token_type_hint=access_token&client_id=bstscan-cli", rt);
	form_post(&S, &r, "/oauth/revoke", form);
	cr_assert_eq(r.status, 200);
	http_free(&r);
	free(form);
	refresh(&S, &r, rt, NULL);
	expect_error(&r, 400, "invalid_grant");
	http_free(&r);

	/* unknown tokens: still 200 */
	form_post(&S, &r, "/oauth/revoke", "token=whatever");
	cr_assert_eq(r.status, 200);
	http_free(&r);
	/* a PAT can be revoked by its holder */
	pat = srv_user_pat(&S, "alice", "leaks:check");
	form = bs_xasprintf("token=%s", pat);
	form_post(&S, &r, "/oauth/revoke", form);
	cr_assert_eq(r.status, 200);
	http_free(&r);
	free(form);
	api_call(&S, &r, "GET", "/api/v1/me", pat);
	expect_error(&r, 401, "invalid_token");
	http_free(&r);

	/* malformed requests */
	form_post(&S, &r, "/oauth/revoke", "token_type_hint=refresh_token");
	expect_error(&r, 400, "invalid_request");
	http_free(&r);
	form_post(&S, &r, "/oauth/revoke", "token=x&client_id=nobody");
	expect_error(&r, 401, "invalid_client");
	http_free(&r);
	free(rt);
	free(at);
	free(pat);
}

/* ---- the /device page ---- */

static char *extract(const char *hay, const char *before, const char *after)
{
	const char *p = strstr(hay, before), *e;
	cr_assert_not_null(p, "%s not in %s", before, hay);
	p += strlen(before);
	e = strstr(p, after);
	cr_assert_not_null(e);
	return bs_xstrndup(p, (size_t)(e - p));
}

static char *session_cookie(const http_resp *r)
{
	const char *sc = http_header(r, "Set-Cookie");
	cr_assert_not_null(sc, "no Set-Cookie: %s", r->headers.ptr);
	cr_assert_not_null(strstr(sc, "HttpOnly"));
	cr_assert_not_null(strstr(sc, "SameSite=Strict"));
	return bs_xstrndup(sc, strcspn(sc, ";"));
}

static void page_post(srv_ctx *s, http_resp *r, const char *cookie, const char *form)
{
	char ch[300];
	const char *h[] = {"Content-Type: application/x-www-form-urlencoded", ch, NULL};
	snprintf(ch, sizeof(ch), "Cookie: %s", cookie ? cookie : "none=1");
	http_req(s, r, "POST", "/device", h, form, strlen(form));
}

Test(device, device_page_sign_in_and_approve_with_csrf)
{
	grant g;
	http_resp r;
	char path[100], *cookie, *csrf, *cookie2, *csrf2, *form;
	authorize(&S, &g, "leaks%3Acheck");

	snprintf(path, sizeof(path), "/device?user_code=%s", g.user_code);
	http_req(&S, &r, "GET", path, NULL, NULL, 0);
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(strstr(http_header(&r, "Content-Type"), "text/html"));
	cookie = session_cookie(&r);
	csrf = extract(r.body.ptr, "name=\"csrf\" value=\"", "\"");
	cr_assert_gt(strlen(csrf), 20);
	{
		char *prefill = bs_xasprintf("name=\"user_code\" value=\"%s\"", g.user_code);
		cr_assert_not_null(strstr(r.body.ptr, prefill), "user code pre-filled: %s", r.body.ptr);
		free(prefill);
	}
	cr_assert_not_null(strstr(r.body.ptr, "name=\"password\""));
	http_free(&r);

	/* no cookie, or a wrong CSRF token: 403 */
	form = bs_xasprintf("csrf=%s&action=login&username=alice&password=s3cret+pass&user_code=%s", csrf, g.user_code);
	page_post(&S, &r, NULL, form);
	cr_assert_eq(r.status, 403, "%s", r.body.ptr);
	http_free(&r);
	free(form);
	form = bs_xasprintf("csrf=forged&action=login&username=alice&password=s3cret+pass&user_code=%s", g.user_code);
	page_post(&S, &r, cookie, form);
	cr_assert_eq(r.status, 403);
	http_free(&r);
	free(form);

	/* wrong password */
	form = bs_xasprintf("csrf=%s&action=login&username=alice&password=nope&user_code=%s", csrf, g.user_code);
	page_post(&S, &r, cookie, form);
	cr_assert_eq(r.status, 401);
	cr_assert_not_null(strstr(r.body.ptr, "Wrong username or password"));
	http_free(&r);
	free(form);

	/* approving before signing in is refused */
	form = bs_xasprintf("csrf=%s&action=approve&user_code=%s", csrf, g.user_code);
	page_post(&S, &r, cookie, form);
	cr_assert_eq(r.status, 401);
	http_free(&r);
	free(form);

	/* sign in: a new session and CSRF token */
	form = bs_xasprintf("csrf=%s&action=login&username=alice&password=s3cret+pass&user_code=%s", csrf, g.user_code);
	page_post(&S, &r, cookie, form);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	cr_assert_not_null(strstr(r.body.ptr, "value=\"approve\""));
	cr_assert_not_null(strstr(r.body.ptr, "leaks:check"), "the page shows the requested scopes");
	cookie2 = session_cookie(&r);
	csrf2 = extract(r.body.ptr, "name=\"csrf\" value=\"", "\"");
	cr_assert_str_neq(cookie, cookie2, "the session id changes at sign-in");
	http_free(&r);
	free(form);

	/* the pre-sign-in session is gone */
	form = bs_xasprintf("csrf=%s&action=approve&user_code=%s", csrf, g.user_code);
	page_post(&S, &r, cookie, form);
	cr_assert_eq(r.status, 403);
	http_free(&r);
	free(form);

	/* a mistyped code */
	form = bs_xasprintf("csrf=%s&action=approve&user_code=BBBB-BBBB", csrf2);
	page_post(&S, &r, cookie2, form);
	cr_assert_eq(r.status, 400);
	http_free(&r);
	free(form);

	/* approve (lower case, no dash) */
	{
		char lower[16];
		snprintf(lower, sizeof(lower), "%.4s%s", g.user_code, g.user_code + 5);
		for (char *p = lower; *p; p++)
			*p = (char)(*p - 'A' + 'a');
		form = bs_xasprintf("csrf=%s&action=approve&user_code=%s", csrf2, lower);
	}
	page_post(&S, &r, cookie2, form);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	cr_assert_not_null(strstr(r.body.ptr, "approved"));
	http_free(&r);
	free(form);

	poll_once(&S, &r, &g);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	http_free(&r);

	/* a signed-in GET shows the approve form directly; user input is escaped */
	{
		char ch[300];
		const char *h[] = {ch, NULL};
		snprintf(ch, sizeof(ch), "Cookie: %s", cookie2);
		http_req(&S, &r, "GET", "/device?user_code=%3Cscript%3Ex", h, NULL, 0);
		cr_assert_eq(r.status, 200);
		cr_assert_not_null(strstr(r.body.ptr, "value=\"deny\""));
		cr_assert_null(strstr(r.body.ptr, "<script>"));
		cr_assert_not_null(strstr(r.body.ptr, "&lt;script&gt;"));
		http_free(&r);
	}
	free(cookie);
	free(csrf);
	free(cookie2);
	free(csrf2);
	grant_free(&g);
}

Test(device, device_page_deny)
{
	grant g;
	http_resp r;
	char *cookie, *csrf, *form;
	authorize(&S, &g, "leaks%3Acheck");
	http_req(&S, &r, "GET", "/device", NULL, NULL, 0);
	cookie = session_cookie(&r);
	csrf = extract(r.body.ptr, "name=\"csrf\" value=\"", "\"");
	http_free(&r);
	form = bs_xasprintf("csrf=%s&action=login&username=alice&password=s3cret+pass", csrf);
	page_post(&S, &r, cookie, form);
	cr_assert_eq(r.status, 200);
	free(cookie);
	free(csrf);
	free(form);
	cookie = session_cookie(&r);
	csrf = extract(r.body.ptr, "name=\"csrf\" value=\"", "\"");
	http_free(&r);
	form = bs_xasprintf("csrf=%s&action=deny&user_code=%s", csrf, g.user_code);
	page_post(&S, &r, cookie, form);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	http_free(&r);
	poll_once(&S, &r, &g);
	expect_error(&r, 400, "access_denied");
	http_free(&r);
	free(cookie);
	free(csrf);
	free(form);
	grant_free(&g);
}
