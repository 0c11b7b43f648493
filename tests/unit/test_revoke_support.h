/* Shared by tests/unit/test_revoke_*.c and test_webhook*.c: a real bstscan-server on a free
 * loopback port with a fresh database (users, PATs, faults and the audit/notification tables
 * through its admin CLI), running bstscan with an isolated environment, ECDSA P-256 keys made at
 * test time to sign webhook bodies, and a small libcurl POST. Everything is static inline so each test
 * file takes what it uses. */
#ifndef BS_TEST_REVOKE_SUPPORT_H
#define BS_TEST_REVOKE_SUPPORT_H

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/buf.h"
#include "common/secure.h"
#include "tests/support/testutil.h"

typedef struct issuer {
	char *dir;
	char *db;
	char url[128];
	pid_t pid;
	char svc_token[64]; /* leaks:check,leaks:revoke service PAT */
} issuer;

static inline void run_ok(bs_test_proc *p, const char *const *argv, const char *const *env, const char *in)
{
	memset(p, 0, sizeof(*p));
	cr_assert_eq(bs_test_run(p, argv, NULL, env, in, in ? strlen(in) : 0, 60), 0, "cannot run %s", argv[0]);
}

static inline void admin(issuer *is, bs_buf *out, const char *const *args, const char *in)
{
	const char *argv[24];
	int n = 0;
	bs_test_proc p;
	argv[n++] = BSTSCAN_SERVER_BIN;
	argv[n++] = "admin";
	argv[n++] = "--db";
	argv[n++] = is->db;
	for (; *args && n < 23; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	run_ok(&p, argv, NULL, in);
	cr_assert_eq(p.status, 0, "admin %s failed: %s", argv[4], p.err.ptr);
	if (out)
		bs_buf_add(out, p.out.ptr, p.out.len);
	bs_test_proc_free(&p);
}

/* Creates a PAT for alice and returns it in out (48 bytes). */
static inline void issuer_pat(issuer *is, const char *name, const char *scopes, char out[64])
{
	bs_buf b = BS_BUF_INIT;
	const char *args[] = {"pat", "create", "--user", "alice", "--name", name, "--scopes", scopes, NULL};
	admin(is, &b, args, NULL);
	while (b.len && (b.ptr[b.len - 1] == '\n' || b.ptr[b.len - 1] == '\r'))
		b.ptr[--b.len] = '\0';
	cr_assert(b.len == 47 && strncmp(b.ptr, "bst_", 4) == 0, "pat create printed %zu bytes", b.len);
	memcpy(out, b.ptr, 48);
	bs_buf_free_secure(&b);
}

static inline void issuer_run(issuer *is)
{
	const char *argv[] = {BSTSCAN_SERVER_BIN, "--listen", "127.0.0.1:0", "--db", is->db, NULL};
	bs_buf line = BS_BUF_INIT;
	is->pid = bs_test_spawn_until(argv, NULL, "listening on ", &line, 20);
	cr_assert_gt(is->pid, 0, "bstscan-server did not start");
	snprintf(is->url, sizeof(is->url), "%s", line.ptr + strlen("listening on "));
	bs_buf_free(&line);
}

static inline void issuer_start(issuer *is)
{
	const char *user[] = {"user", "add", "alice", NULL};
	memset(is, 0, sizeof(*is));
	is->dir = bs_test_mkdtemp();
	is->db = bs_xasprintf("%s/issuer.db", is->dir);
	issuer_run(is);
	admin(is, NULL, user, "alice-password\n");
	issuer_pat(is, "service", "leaks:check,leaks:revoke", is->svc_token);
}

static inline void issuer_stop(issuer *is)
{
	if (is->pid > 0)
		bs_test_stop(is->pid);
	is->pid = 0;
}

static inline void issuer_free(issuer *is)
{
	issuer_stop(is);
	bs_test_rmtree(is->dir);
	free(is->dir);
	free(is->db);
}

static inline size_t count_lines_containing(const bs_buf *b, const char *needle)
{
	size_t n = 0;
	const char *p = b->ptr;
	while ((p = strstr(p, needle))) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* Number of notifications / audit rows mentioning s. */
static inline size_t issuer_notifications(issuer *is, const char *s)
{
	const char *args[] = {"notifications", "list", NULL};
	bs_buf b = BS_BUF_INIT;
	size_t n;
	admin(is, &b, args, NULL);
	n = count_lines_containing(&b, s);
	bs_buf_free(&b);
	return n;
}

static inline void issuer_fault(issuer *is, const char *endpoint, const char *status)
{
	const char *set[] = {"fault", "set", endpoint, status, NULL};
	const char *clear[] = {"fault", "clear", NULL};
	admin(is, NULL, status ? set : clear, NULL);
}

static inline void token_hash(const char *token, char out[65])
{
	bs_sha256_hex(token, strlen(token), out);
}

/* ---- HTTP ---- */

typedef struct http_resp {
	long status;
	bs_buf body;
	cJSON *json;
} http_resp;

static inline size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	bs_buf_add(ud, p, sz * n);
	return sz * n;
}

/* POSTs body with extra headers ("Name: value", NULL-terminated, may be NULL). */
static inline void http_post(http_resp *r, const char *url, const void *body, size_t len, const char *const *headers)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	CURLcode rc;
	memset(r, 0, sizeof(*r));
	bs_buf_init(&r->body, 0);
	h = curl_slist_append(h, "Content-Type: application/json");
	for (; headers && *headers; headers++)
		h = curl_slist_append(h, *headers);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	rc = curl_easy_perform(c);
	cr_assert_eq(rc, CURLE_OK, "POST %s: %s", url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	r->json = cJSON_ParseWithLength(r->body.ptr, r->body.len);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static inline void http_get(http_resp *r, const char *url)
{
	CURL *c = curl_easy_init();
	CURLcode rc;
	memset(r, 0, sizeof(*r));
	bs_buf_init(&r->body, 0);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	rc = curl_easy_perform(c);
	cr_assert_eq(rc, CURLE_OK, "GET %s: %s", url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	r->json = cJSON_ParseWithLength(r->body.ptr, r->body.len);
	curl_easy_cleanup(c);
}

static inline void http_resp_free(http_resp *r)
{
	bs_buf_free(&r->body);
	cJSON_Delete(r->json);
}

/* ---- signing keys ---- */

static inline EVP_PKEY *key_new(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	cr_assert(k, "cannot generate a P-256 key");
	return k;
}

static inline char *key_public_pem(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;
	char *s;
	cr_assert(PEM_write_bio_PUBKEY(bio, k) == 1);
	len = BIO_get_mem_data(bio, &data);
	s = bs_xstrndup(data, (size_t)len);
	BIO_free(bio);
	return s;
}

/* base64(DER ECDSA signature over SHA-256 of body). */
static inline char *sign_body(EVP_PKEY *k, const void *body, size_t len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[256];
	size_t slen = sizeof(sig);
	bs_buf b = BS_BUF_INIT;
	cr_assert(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) == 1);
	cr_assert(EVP_DigestSign(md, sig, &slen, body, len) == 1);
	EVP_MD_CTX_free(md);
	bs_base64_encode(&b, sig, slen);
	return bs_buf_detach(&b, NULL);
}

/* {"public_keys": [...]} for the keys (ids[i], keys[i]); the last one is current. */
static inline char *key_document(const char *const *ids, EVP_PKEY *const *keys, size_t n)
{
	cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "public_keys");
	char *s, *copy;
	for (size_t i = 0; i < n; i++) {
		cJSON *e = cJSON_CreateObject();
		char *pem = key_public_pem(keys[i]);
		cJSON_AddStringToObject(e, "key_identifier", ids[i]);
		cJSON_AddStringToObject(e, "key", pem);
		cJSON_AddBoolToObject(e, "is_current", i + 1 == n);
		cJSON_AddItemToArray(a, e);
		free(pem);
	}
	s = cJSON_Print(o);
	copy = bs_xstrdup(s);
	cJSON_free(s);
	cJSON_Delete(o);
	return copy;
}

#endif
