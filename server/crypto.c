#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "common/base64.h"
#include "common/secure.h"
#include "server/srv.h"
#include "common/banned.h"

#define PBKDF2_ITERATIONS 100000

/* ---------- random values ---------- */

char *bs_srv_random_token(size_t nbytes)
{
	unsigned char raw[64];
	bs_buf out = BS_BUF_INIT;
	if (nbytes > sizeof(raw) || bs_random_bytes(raw, nbytes) < 0)
		abort(); /* no randomness: nothing safe to hand out */
	bs_base64url_encode(&out, raw, nbytes);
	bs_secure_zero(raw, sizeof(raw));
	return bs_buf_detach(&out, NULL);
}

void bs_srv_new_pat(char out[48])
{
	char *r = bs_srv_random_token(32);
	snprintf(out, 48, "bst_%s", r);
	bs_secure_zero(r, strlen(r));
	free(r);
}

void bs_srv_new_user_code(char out[9])
{
	static const char alphabet[] = "BCDFGHJKLMNPQRSTVWXZ";
	int i = 0;
	while (i < 8) {
		unsigned char b;
		if (bs_random_bytes(&b, 1) < 0)
			abort();
		/* 20 divides 240: rejecting 240..255 keeps the draw uniform. */
		if (b >= 240)
			continue;
		out[i++] = alphabet[b % 20];
	}
	out[8] = '\0';
}

/* ---------- passwords ---------- */

char *bs_srv_password_hash(const char *password)
{
	unsigned char salt[16], dk[32];
	bs_buf out = BS_BUF_INIT;
	if (bs_random_bytes(salt, sizeof(salt)) < 0)
		abort();
	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof(salt), PBKDF2_ITERATIONS, EVP_sha256(),
	                  sizeof(dk), dk);
	bs_buf_addf(&out, "pbkdf2_sha256$%d$", PBKDF2_ITERATIONS);
	bs_base64url_encode(&out, salt, sizeof(salt));
	bs_buf_addch(&out, '$');
	bs_base64url_encode(&out, dk, sizeof(dk));
	bs_secure_zero(dk, sizeof(dk));
	return bs_buf_detach(&out, NULL);
}

int bs_srv_password_check(const char *stored, const char *password)
{
	int iter = 0, ok = 0;
	const char *p, *q;
	bs_buf salt = BS_BUF_INIT, want = BS_BUF_INIT;
	unsigned char dk[32];

	if (!stored || strncmp(stored, "pbkdf2_sha256$", 14) != 0)
		return 0;
	p = stored + 14;
	iter = atoi(p);
	p = strchr(p, '$');
	if (iter <= 0 || iter > 10000000 || !p)
		return 0;
	q = strchr(p + 1, '$');
	if (!q || bs_base64url_decode(&salt, p + 1, (size_t)(q - p - 1)) < 0 ||
	    bs_base64url_decode(&want, q + 1, strlen(q + 1)) < 0 || want.len != sizeof(dk))
		goto out;
	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), (unsigned char *)salt.ptr, (int)salt.len, iter, EVP_sha256(),
	                  sizeof(dk), dk);
	ok = bs_secure_equal(dk, want.ptr, sizeof(dk));
	bs_secure_zero(dk, sizeof(dk));
out:
	bs_buf_free(&salt);
	bs_buf_free(&want);
	return ok;
}

/* ---------- the signing key ---------- */

static int ec_public_xy(EVP_PKEY *k, unsigned char xy[64])
{
	unsigned char pub[65];
	size_t len = 0;
	if (!EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &len) || len != 65 ||
	    pub[0] != 4)
		return -1;
	memcpy(xy, pub + 1, 64);
	return 0;
}

int bs_srv_keys_load(bs_srv *s, bs_error *err)
{
	/* The key lives in the database so tokens survive a restart and the
	 * admin CLI and the server agree on it. */
	char *pem = bs_srv_setting_get(s->db, "signing_key_pem");
	EVP_PKEY *k = NULL;
	unsigned char xy[64];
	char hex[65];

	if (pem) {
		BIO *bio = BIO_new_mem_buf(pem, -1);
		k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
		bs_secure_zero(pem, strlen(pem));
		free(pem);
		if (!k)
			return bs_error_set(err, BS_ERR_PARSE, "the signing key stored in the database is unreadable");
	} else {
		BIO *bio = BIO_new(BIO_s_mem());
		char *data;
		long n;
		k = EVP_EC_gen("P-256");
		if (!k || !PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)) {
			BIO_free(bio);
			EVP_PKEY_free(k);
			return bs_error_set(err, BS_ERR_INTERNAL, "cannot generate the ES256 signing key");
		}
		n = BIO_get_mem_data(bio, &data);
		pem = bs_xstrndup(data, (size_t)n);
		BIO_free(bio);
		/* INSERT OR IGNORE semantics via a conditional write: if another
		 * process stored a key first, use that one. */
		{
			sqlite3_stmt *st = bs_srv_prep(
			    s->db, "INSERT OR IGNORE INTO settings (key, value) VALUES ('signing_key_pem', ?)");
			int changed = 0;
			if (st) {
				sqlite3_bind_text(st, 1, pem, -1, SQLITE_STATIC);
				changed = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(s->db) > 0;
				sqlite3_finalize(st);
			}
			bs_secure_zero(pem, strlen(pem));
			free(pem);
			if (!changed) {
				char *other = bs_srv_setting_get(s->db, "signing_key_pem");
				EVP_PKEY_free(k);
				if (!other)
					return bs_error_set(err, BS_ERR_IO,
					                    "cannot store the signing key in the database");
				bs_secure_zero(other, strlen(other));
				free(other);
				return bs_srv_keys_load(s, err);
			}
		}
	}
	if (ec_public_xy(k, xy) < 0) {
		EVP_PKEY_free(k);
		return bs_error_set(err, BS_ERR_INTERNAL, "the signing key is not a P-256 key");
	}
	bs_sha256_hex(xy, sizeof(xy), hex);
	snprintf(s->kid, sizeof(s->kid), "%.16s", hex);
	s->signing_key = k;
	return 0;
}

char *bs_srv_jwks_json(bs_srv *s)
{
	unsigned char xy[64];
	bs_buf x = BS_BUF_INIT, y = BS_BUF_INIT;
	cJSON *root = cJSON_CreateObject(), *keys = cJSON_AddArrayToObject(root, "keys"), *k = cJSON_CreateObject();
	char *out;
	ec_public_xy(s->signing_key, xy);
	bs_base64url_encode(&x, xy, 32);
	bs_base64url_encode(&y, xy + 32, 32);
	cJSON_AddStringToObject(k, "kty", "EC");
	cJSON_AddStringToObject(k, "crv", "P-256");
	cJSON_AddStringToObject(k, "x", x.ptr);
	cJSON_AddStringToObject(k, "y", y.ptr);
	cJSON_AddStringToObject(k, "kid", s->kid);
	cJSON_AddStringToObject(k, "alg", "ES256");
	cJSON_AddStringToObject(k, "use", "sig");
	cJSON_AddItemToArray(keys, k);
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	bs_buf_free(&x);
	bs_buf_free(&y);
	return out;
}

/* ---------- JWS ---------- */

static int es256_sign(EVP_PKEY *k, const char *data, size_t len, unsigned char sig[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[128];
	size_t derlen = sizeof(der);
	const unsigned char *p = der;
	ECDSA_SIG *es = NULL;
	int rc = -1;
	if (ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
	    EVP_DigestSign(ctx, der, &derlen, (const unsigned char *)data, len) == 1 &&
	    (es = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) != NULL) {
		const BIGNUM *r, *s;
		ECDSA_SIG_get0(es, &r, &s);
		if (BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32)
			rc = 0;
	}
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* JWS ES256 signatures are r||s (RFC 7518 §3.4); OpenSSL wants DER. */
static int es256_verify(EVP_PKEY *k, const char *data, size_t len, const unsigned char *sig, size_t siglen)
{
	ECDSA_SIG *es;
	BIGNUM *r, *s;
	unsigned char *der = NULL;
	int derlen, ok = 0;
	EVP_MD_CTX *ctx;
	if (siglen != 64)
		return 0;
	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, 32, NULL);
	s = BN_bin2bn(sig + 32, 32, NULL);
	if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return 0;
	}
	derlen = i2d_ECDSA_SIG(es, &der);
	ECDSA_SIG_free(es);
	if (derlen <= 0)
		return 0;
	ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
	    EVP_DigestVerify(ctx, der, (size_t)derlen, (const unsigned char *)data, len) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ERR_clear_error();
	return ok;
}

static int rs256_verify(EVP_PKEY *k, const char *data, size_t len, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = 0;
	if (ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)data, len) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

static void add_b64url_json(bs_buf *out, const cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	bs_base64url_encode(out, s, strlen(s));
	free(s);
}

char *bs_srv_jwt_sign(bs_srv *s, const cJSON *claims)
{
	cJSON *hdr = cJSON_CreateObject();
	bs_buf out = BS_BUF_INIT;
	unsigned char sig[64];
	cJSON_AddStringToObject(hdr, "alg", "ES256");
	cJSON_AddStringToObject(hdr, "typ", "at+jwt");
	cJSON_AddStringToObject(hdr, "kid", s->kid);
	add_b64url_json(&out, hdr);
	cJSON_Delete(hdr);
	bs_buf_addch(&out, '.');
	add_b64url_json(&out, claims);
	if (es256_sign(s->signing_key, out.ptr, out.len, sig) < 0) {
		bs_buf_free(&out);
		return NULL;
	}
	bs_buf_addch(&out, '.');
	bs_base64url_encode(&out, sig, sizeof(sig));
	return bs_buf_detach(&out, NULL);
}

typedef struct jws_parts {
	cJSON *header;
	cJSON *payload;
	bs_buf sig;
	size_t signed_len; /* bytes of "header.payload" */
} jws_parts;

static void jws_free(jws_parts *p)
{
	cJSON_Delete(p->header);
	cJSON_Delete(p->payload);
	bs_buf_free(&p->sig);
}

static cJSON *decode_json_part(const char *s, size_t len)
{
	bs_buf raw = BS_BUF_INIT;
	cJSON *j = NULL;
	if (bs_base64url_decode(&raw, s, len) == 0)
		j = cJSON_ParseWithLength(raw.ptr, raw.len);
	bs_buf_free(&raw);
	if (j && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		j = NULL;
	}
	return j;
}

static int jws_split(jws_parts *p, const char *jwt, bs_error *err)
{
	const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	memset(p, 0, sizeof(*p));
	bs_buf_init(&p->sig, 0);
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return bs_error_set(err, BS_ERR_PARSE, "the token is not a compact JWS (three dot-separated parts)");
	p->header = decode_json_part(jwt, (size_t)(d1 - jwt));
	p->payload = decode_json_part(d1 + 1, (size_t)(d2 - d1 - 1));
	if (!p->header || !p->payload || bs_base64url_decode(&p->sig, d2 + 1, strlen(d2 + 1)) < 0) {
		jws_free(p);
		return bs_error_set(err, BS_ERR_PARSE, "the token's JWS parts are not base64url JSON");
	}
	p->signed_len = (size_t)(d2 - jwt);
	return 0;
}

static const char *jstr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int bs_srv_jwt_verify_own(bs_srv *s, const char *jwt, cJSON **claims_out, bs_error *err)
{
	jws_parts p;
	const char *alg, *kid, *iss;
	const cJSON *exp, *aud;
	*claims_out = NULL;
	if (jws_split(&p, jwt, err) < 0)
		return BS_ERR_AUTH;
	alg = jstr(p.header, "alg");
	kid = jstr(p.header, "kid");
	if (!alg || strcmp(alg, "ES256") != 0 || !kid || strcmp(kid, s->kid) != 0) {
		jws_free(&p);
		return bs_error_set(err, BS_ERR_AUTH, "the access token was not signed by this issuer");
	}
	if (!es256_verify(s->signing_key, jwt, p.signed_len, (unsigned char *)p.sig.ptr, p.sig.len)) {
		jws_free(&p);
		return bs_error_set(err, BS_ERR_AUTH, "the access token's signature is invalid");
	}
	iss = jstr(p.payload, "iss");
	exp = cJSON_GetObjectItemCaseSensitive(p.payload, "exp");
	aud = cJSON_GetObjectItemCaseSensitive(p.payload, "aud");
	if (!iss || strcmp(iss, s->issuer) != 0 || !cJSON_IsString(aud) ||
	    strcmp(aud->valuestring, BS_SRV_API_AUDIENCE) != 0) {
		jws_free(&p);
		return bs_error_set(err, BS_ERR_AUTH, "the access token is for another issuer or audience");
	}
	if (!cJSON_IsNumber(exp) || exp->valuedouble <= (double)time(NULL)) {
		jws_free(&p);
		return bs_error_set(err, BS_ERR_AUTH, "the access token has expired");
	}
	*claims_out = p.payload;
	p.payload = NULL;
	jws_free(&p);
	return 0;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *k = NULL;
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	ERR_clear_error();
	return k;
}

/* A JWK (RFC 7517) as an OpenSSL public key: RSA from n/e, EC P-256 from x/y. */
static EVP_PKEY *jwk_to_pkey(const cJSON *jwk, const char **kty_out)
{
	const char *kty = jstr(jwk, "kty");
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *k = NULL;
	bs_buf a = BS_BUF_INIT, b = BS_BUF_INIT;
	*kty_out = kty;
	if (!kty)
		return NULL;
	bld = OSSL_PARAM_BLD_new();
	if (strcmp(kty, "RSA") == 0) {
		const char *n = jstr(jwk, "n"), *e = jstr(jwk, "e");
		BIGNUM *bn_n = NULL, *bn_e = NULL;
		if (n && e && bs_base64url_decode(&a, n, strlen(n)) == 0 &&
		    bs_base64url_decode(&b, e, strlen(e)) == 0 && a.len >= 256 && b.len > 0) {
			bn_n = BN_bin2bn((unsigned char *)a.ptr, (int)a.len, NULL);
			bn_e = BN_bin2bn((unsigned char *)b.ptr, (int)b.len, NULL);
			if (bn_n && bn_e && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
			    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
				k = pkey_from_params("RSA", bld);
		}
		BN_free(bn_n);
		BN_free(bn_e);
	} else if (strcmp(kty, "EC") == 0) {
		const char *crv = jstr(jwk, "crv"), *x = jstr(jwk, "x"), *y = jstr(jwk, "y");
		unsigned char pub[65];
		if (crv && strcmp(crv, "P-256") == 0 && x && y && bs_base64url_decode(&a, x, strlen(x)) == 0 &&
		    bs_base64url_decode(&b, y, strlen(y)) == 0 && a.len == 32 && b.len == 32) {
			pub[0] = 4;
			memcpy(pub + 1, a.ptr, 32);
			memcpy(pub + 33, b.ptr, 32);
			if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
			    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)))
				k = pkey_from_params("EC", bld);
		}
	}
	OSSL_PARAM_BLD_free(bld);
	bs_buf_free(&a);
	bs_buf_free(&b);
	return k;
}

cJSON *bs_srv_jws_verify_jwks(const char *jwt, const char *jwks_json, bs_error *err)
{
	jws_parts p;
	const char *alg, *kid, *want_kty;
	cJSON *jwks, *keys, *key;
	int tried = 0, ok = 0;

	if (jws_split(&p, jwt, err) < 0)
		return NULL;
	alg = jstr(p.header, "alg");
	kid = jstr(p.header, "kid");
	/* Only the two algorithms CI providers use; never "none", never HMAC
	 * (which would let a public key be used as a shared secret). */
	if (alg && strcmp(alg, "RS256") == 0)
		want_kty = "RSA";
	else if (alg && strcmp(alg, "ES256") == 0)
		want_kty = "EC";
	else {
		bs_error_set(err, BS_ERR_AUTH, "the subject token's alg %s is not supported (RS256 or ES256)",
		             alg ? alg : "(missing)");
		jws_free(&p);
		return NULL;
	}
	jwks = cJSON_Parse(jwks_json);
	keys = cJSON_GetObjectItemCaseSensitive(jwks, "keys");
	cJSON_ArrayForEach(key, keys)
	{
		const char *kty, *kkid = jstr(key, "kid"), *kalg = jstr(key, "alg");
		EVP_PKEY *k;
		if (kid && kkid && strcmp(kid, kkid) != 0)
			continue;
		if (kalg && strcmp(kalg, alg) != 0)
			continue;
		k = jwk_to_pkey(key, &kty);
		if (!k)
			continue;
		if (strcmp(kty, want_kty) == 0) {
			tried++;
			if (strcmp(alg, "RS256") == 0)
				ok = rs256_verify(k, jwt, p.signed_len, (unsigned char *)p.sig.ptr, p.sig.len);
			else
				ok = es256_verify(k, jwt, p.signed_len, (unsigned char *)p.sig.ptr, p.sig.len);
		}
		EVP_PKEY_free(k);
		if (ok)
			break;
	}
	cJSON_Delete(jwks);
	if (!ok) {
		if (!tried)
			bs_error_set(err, BS_ERR_AUTH,
			             "no key of the trusted JWKS matches the subject token (kid %s, alg %s)",
			             kid ? kid : "(none)", alg);
		else
			bs_error_set(err, BS_ERR_AUTH, "the subject token's signature does not verify");
		jws_free(&p);
		return NULL;
	}
	{
		cJSON *payload = p.payload;
		p.payload = NULL;
		jws_free(&p);
		return payload;
	}
}

cJSON *bs_srv_jwt_peek(const char *jwt)
{
	jws_parts p;
	cJSON *payload;
	if (jws_split(&p, jwt, NULL) < 0)
		return NULL;
	payload = p.payload;
	p.payload = NULL;
	jws_free(&p);
	return payload;
}
