/* Shared by tests/unit/test_server_*.c: start a real bstscan-server on a free
 * loopback port with a fresh database, talk to it with libcurl, run its admin
 * CLI, and mint test JWTs with keys generated at test time. Everything here
 * is static inline so each test file takes what it uses. The JWT code is
 * written independently of server/crypto.c on purpose. */
#ifndef BS_TEST_SERVER_SUPPORT_H
#define BS_TEST_SERVER_SUPPORT_H

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/secure.h"
#include "tests/support/testutil.h"

typedef struct srv_ctx {
	char *dir;
	char *db;
	char url[128];
	pid_t pid;
} srv_ctx;

typedef struct http_resp {
	long status;
	bs_buf body;
	bs_buf headers;
	cJSON *json;
} http_resp;

/* Starts the server with extra args (NULL-terminated, may be NULL) and env. */
static inline void srv_start_env(srv_ctx *s, const char *const *extra, const char *const *env)
{
	const char *argv[32];
	int n = 0;
	bs_buf line = BS_BUF_INIT;
	if (!s->dir) {
		s->dir = bs_test_mkdtemp();
		s->db = bs_xasprintf("%s/issuer.db", s->dir);
	}
	argv[n++] = BSTSCAN_SERVER_BIN;
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--db";
	argv[n++] = s->db;
	argv[n++] = "--device-interval";
	argv[n++] = "1";
	argv[n++] = "--device-expires-in";
	argv[n++] = "30";
	for (; extra && *extra && n < 30; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	s->pid = bs_test_spawn_until(argv, env, "listening on ", &line, 20);
	cr_assert_gt(s->pid, 0, "bstscan-server did not print its ready line");
	cr_assert(strncmp(line.ptr, "listening on http://127.0.0.1:", 30) == 0, "ready line: %s", line.ptr);
	snprintf(s->url, sizeof(s->url), "%s", line.ptr + strlen("listening on "));
	bs_buf_free(&line);
}

static inline void srv_start(srv_ctx *s, const char *const *extra)
{
	srv_start_env(s, extra, NULL);
}

/* Stops the server (asserting a clean exit 0) and removes its files. */
static inline void srv_stop(srv_ctx *s)
{
	int st = bs_test_stop(s->pid);
	s->pid = 0;
	bs_test_rmtree(s->dir);
	free(s->dir);
	free(s->db);
	s->dir = s->db = NULL;
	cr_assert_eq(st, 0, "bstscan-server exited with %d on SIGTERM", st);
}

/* Runs `bstscan-server admin --db DB args...` (NULL-terminated). Returns the
 * exit status; out (may be NULL) receives stdout. */
static inline int srv_admin_in(srv_ctx *s, const char *in, bs_buf *out, ...)
{
	const char *argv[32];
	int n = 0;
	va_list ap;
	bs_test_proc p;
	argv[n++] = BSTSCAN_SERVER_BIN;
	argv[n++] = "admin";
	argv[n++] = "--db";
	argv[n++] = s->db;
	va_start(ap, out);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 31;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	cr_assert_eq(bs_test_run(&p, argv, NULL, NULL, in, in ? strlen(in) : 0, 30), 0);
	if (out)
		bs_buf_add(out, p.out.ptr, p.out.len);
	n = p.status;
	bs_test_proc_free(&p);
	return n;
}
#define srv_admin(s, out, ...) srv_admin_in((s), NULL, (out), __VA_ARGS__, (const char *)NULL)

/* Adds user name (password "pw-<name>") and returns a new PAT (caller frees). */
static inline char *srv_user_pat(srv_ctx *s, const char *name, const char *scopes)
{
	bs_buf out = BS_BUF_INIT;
	char pw[80];
	snprintf(pw, sizeof(pw), "pw-%s\n", name);
	/* The user may exist already: ignore that failure, the PAT call checks. */
	srv_admin_in(s, pw, NULL, "user", "add", name, (const char *)NULL);
	cr_assert_eq(srv_admin(s, &out, "pat", "create", "--user", name, "--name", "test pat", "--scopes", scopes), 0);
	while (out.len && out.ptr[out.len - 1] == '\n')
		bs_buf_truncate(&out, out.len - 1);
	cr_assert_eq(out.len, 47, "PAT: %s", out.ptr);
	return bs_buf_detach(&out, NULL);
}

static inline size_t http_collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
	bs_buf_add(ud, ptr, size * nmemb);
	return size * nmemb;
}

/* One request. headers: NULL-terminated "Name: value" strings (may be NULL).
 * body may be NULL. The JSON body, if any, is parsed into r->json. */
static inline void http_req(srv_ctx *s, http_resp *r, const char *method, const char *path, const char *const *headers,
                            const char *body, size_t body_len)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char *url = bs_xasprintf("%s%s", s->url, path);
	CURLcode rc;
	memset(r, 0, sizeof(*r));
	bs_buf_init(&r->body, 0);
	bs_buf_init(&r->headers, 0);
	cr_assert_not_null(c);
	for (; headers && *headers; headers++)
		h = curl_slist_append(h, *headers);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(url);
	if (r->body.len)
		r->json = cJSON_ParseWithLength(r->body.ptr, r->body.len);
}

static inline void http_free(http_resp *r)
{
	bs_buf_free(&r->body);
	bs_buf_free(&r->headers);
	cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}

/* A header value of the response (case-insensitive name), or NULL; static buffer. */
static inline const char *http_header(const http_resp *r, const char *name)
{
	static char val[1024];
	const char *p = r->headers.ptr;
	size_t nl = strlen(name);
	while (p && *p) {
		const char *eol = strstr(p, "\r\n");
		if (!eol)
			break;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(val, sizeof(val), "%.*s", (int)(eol - v), v);
			return val;
		}
		p = eol + 2;
	}
	return NULL;
}

static inline const char *json_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Asserts an RFC 6749 §5.2 style error body. */
static inline void expect_error(const http_resp *r, long status, const char *error)
{
	cr_assert_eq(r->status, status, "status %ld, want %ld: %s", r->status, status, r->body.ptr);
	cr_assert_not_null(r->json, "error body is not JSON: %s", r->body.ptr);
	cr_assert_str_eq(json_str(r->json, "error"), error, "%s", r->body.ptr);
	cr_assert_not_null(json_str(r->json, "error_description"), "%s", r->body.ptr);
	cr_assert_gt(strlen(json_str(r->json, "error_description")), 5);
}

/* POST a JSON body with a bearer credential. */
static inline void api_post(srv_ctx *s, http_resp *r, const char *path, const char *bearer, const char *json)
{
	char auth[1200];
	const char *h[] = {auth, "Content-Type: application/json", NULL};
	if (bearer)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
	http_req(s, r, "POST", path, bearer ? h : h + 1, json, json ? strlen(json) : 0);
}

static inline void api_call(srv_ctx *s, http_resp *r, const char *method, const char *path, const char *bearer)
{
	char auth[1200];
	const char *h[] = {auth, NULL};
	if (bearer)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
	http_req(s, r, method, path, bearer ? h : NULL, NULL, 0);
}

/* POST form (already encoded) to path. */
static inline void form_post(srv_ctx *s, http_resp *r, const char *path, const char *form)
{
	const char *h[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	http_req(s, r, "POST", path, h, form, strlen(form));
}

static inline void sha256_hex_of(const char *s, char out[65])
{
	bs_sha256_hex(s, strlen(s), out);
}

/* ---- test JWTs ---- */

static inline EVP_PKEY *test_key_ec(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	cr_assert_not_null(k);
	return k;
}

static inline EVP_PKEY *test_key_rsa(void)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	cr_assert_not_null(k);
	return k;
}

static inline void b64url_bn(bs_buf *out, const BIGNUM *bn, int pad)
{
	unsigned char buf[512];
	int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	bs_base64url_encode(out, buf, (size_t)n);
}

/* Appends the JWK of k's public half (with kid) to a JWKS array. */
static inline void jwks_add(cJSON *keys, EVP_PKEY *k, const char *kid)
{
	cJSON *j = cJSON_CreateObject();
	bs_buf a = BS_BUF_INIT, b = BS_BUF_INIT;
	if (EVP_PKEY_is_a(k, "RSA")) {
		BIGNUM *n = NULL, *e = NULL;
		EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n);
		EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e);
		b64url_bn(&a, n, 0);
		b64url_bn(&b, e, 0);
		cJSON_AddStringToObject(j, "kty", "RSA");
		cJSON_AddStringToObject(j, "n", a.ptr);
		cJSON_AddStringToObject(j, "e", b.ptr);
		cJSON_AddStringToObject(j, "alg", "RS256");
		BN_free(n);
		BN_free(e);
	} else {
		BIGNUM *x = NULL, *y = NULL;
		EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x);
		EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
		b64url_bn(&a, x, 32);
		b64url_bn(&b, y, 32);
		cJSON_AddStringToObject(j, "kty", "EC");
		cJSON_AddStringToObject(j, "crv", "P-256");
		cJSON_AddStringToObject(j, "x", a.ptr);
		cJSON_AddStringToObject(j, "y", b.ptr);
		cJSON_AddStringToObject(j, "alg", "ES256");
		BN_free(x);
		BN_free(y);
	}
	cJSON_AddStringToObject(j, "kid", kid);
	cJSON_AddStringToObject(j, "use", "sig");
	cJSON_AddItemToArray(keys, j);
	bs_buf_free(&a);
	bs_buf_free(&b);
}

/* Signs claims (JSON text) with k as RS256 or ES256 (by key type). */
static inline char *test_jwt(EVP_PKEY *k, const char *kid, const char *claims)
{
	int rsa = EVP_PKEY_is_a(k, "RSA");
	char hdr[200];
	bs_buf out = BS_BUF_INIT;
	unsigned char sig[512];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", rsa ? "RS256" : "ES256", kid);
	bs_base64url_encode(&out, hdr, strlen(hdr));
	bs_buf_addch(&out, '.');
	bs_base64url_encode(&out, claims, strlen(claims));
	cr_assert_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
	cr_assert_eq(EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)out.ptr, out.len), 1);
	EVP_MD_CTX_free(ctx);
	bs_buf_addch(&out, '.');
	if (rsa) {
		bs_base64url_encode(&out, sig, siglen);
	} else {
		/* DER ECDSA-Sig-Value -> JWS r||s */
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
		unsigned char raw[64];
		cr_assert_not_null(es);
		BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
		ECDSA_SIG_free(es);
		bs_base64url_encode(&out, raw, 64);
	}
	return bs_buf_detach(&out, NULL);
}

/* The payload of a JWT (no verification), parsed. */
static inline cJSON *jwt_payload(const char *jwt)
{
	const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	bs_buf raw = BS_BUF_INIT;
	cJSON *j;
	cr_assert(d1 && d2, "not a JWT: %s", jwt);
	cr_assert_eq(bs_base64url_decode(&raw, d1 + 1, (size_t)(d2 - d1 - 1)), 0);
	j = cJSON_ParseWithLength(raw.ptr, raw.len);
	bs_buf_free(&raw);
	cr_assert_not_null(j);
	return j;
}

#endif
