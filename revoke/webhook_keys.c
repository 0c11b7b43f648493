#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/http.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/timeutil.h"
#include "revoke/json.h"
#include "revoke/webhook.h"
#include "common/banned.h"

#define KEYS_MAX_DOC (1u << 20)
#define KEYS_MAX 64
#define KEY_ID_MAX 512

typedef struct key_entry {
	char *id;
	EVP_PKEY *pkey;
	int current;
} key_entry;

struct bs_webhook_keys {
	char *file;
	char *url;
	pthread_rwlock_t lock; /* guards keys/nkeys */
	key_entry *keys;
	size_t nkeys;
	pthread_mutex_t reload_lock; /* one reload at a time; guards refetched and the times */
	int refetched;               /* an unknown key id caused a reload already */
	long long last_refetch_ms;
	size_t loads;
};

static void free_entries(key_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].id);
		EVP_PKEY_free(e[i].pkey);
	}
	free(e);
}

/* An EC P-256 public key from PEM, or NULL with the reason. */
static EVP_PKEY *parse_p256(const char *pem, size_t idx, bs_error *err)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	char group[64] = "";
	size_t glen = 0;
	BIO_free(bio);
	if (!pk) {
		bs_error_set(err, BS_ERR_PARSE, "public_keys[%zu].key is not a PEM public key", idx);
		return NULL;
	}
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), &glen) ||
	    (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
		EVP_PKEY_free(pk);
		bs_error_set(err, BS_ERR_PARSE, "public_keys[%zu].key is not an EC P-256 key", idx);
		return NULL;
	}
	return pk;
}

int bs_webhook_keys_load_json(bs_webhook_keys *k, const char *json, size_t len, bs_error *err)
{
	cJSON *root = bs_json_parse_exact(json, len);
	const cJSON *arr, *item;
	key_entry *entries = NULL, *old;
	size_t n = 0, idx = 0, nold;
	int rc = 0;

	if (!root)
		return bs_error_set(err, BS_ERR_PARSE, "the key document is not JSON");
	arr = cJSON_GetObjectItemCaseSensitive(root, "public_keys");
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(root);
		return bs_error_set(err, BS_ERR_PARSE, "the key document has no \"public_keys\" array");
	}
	entries = bs_xcalloc(KEYS_MAX, sizeof(*entries));
	cJSON_ArrayForEach(item, arr)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "key_identifier");
		const cJSON *key = cJSON_GetObjectItemCaseSensitive(item, "key");
		const cJSON *cur = cJSON_GetObjectItemCaseSensitive(item, "is_current");
		if (n == KEYS_MAX) {
			rc = bs_error_set(err, BS_ERR_LIMIT, "the key document lists more than %d keys", KEYS_MAX);
			break;
		}
		if (!cJSON_IsString(id) || !*id->valuestring || strlen(id->valuestring) > KEY_ID_MAX) {
			rc = bs_error_set(err, BS_ERR_PARSE,
			                  "public_keys[%zu].key_identifier is missing or not a short string", idx);
			break;
		}
		if (!cJSON_IsString(key)) {
			rc = bs_error_set(err, BS_ERR_PARSE, "public_keys[%zu].key is missing or not a string", idx);
			break;
		}
		entries[n].pkey = parse_p256(key->valuestring, idx, err);
		if (!entries[n].pkey) {
			rc = err ? err->code : BS_ERR_PARSE;
			break;
		}
		entries[n].id = bs_xstrdup(id->valuestring);
		entries[n].current = cJSON_IsTrue(cur);
		n++;
		idx++;
	}
	cJSON_Delete(root);
	if (rc == 0 && n == 0)
		rc = bs_error_set(err, BS_ERR_PARSE, "the key document lists no keys");
	if (rc < 0) {
		free_entries(entries, n);
		return rc;
	}
	pthread_rwlock_wrlock(&k->lock);
	old = k->keys;
	nold = k->nkeys;
	k->keys = entries;
	k->nkeys = n;
	pthread_rwlock_unlock(&k->lock);
	free_entries(old, nold);
	return 0;
}

static int load(bs_webhook_keys *k, bs_error *err)
{
	bs_buf doc = BS_BUF_INIT;
	int rc;
	if (k->file) {
		rc = bs_fs_read_file(&doc, k->file, KEYS_MAX_DOC, err);
	} else {
		bs_http_options ho = {0};
		bs_http *h = NULL;
		bs_http_response resp = {0};
		ho.max_body_bytes = KEYS_MAX_DOC;
		ho.timeout_ms = 10000;
		ho.max_retries = 1;
		rc = bs_http_new(&h, &ho, err);
		if (rc == 0)
			rc = bs_http_get(h, &resp, k->url, NULL, BS_HTTP_RETRY_IDEMPOTENT, err);
		if (rc == 0 && resp.status != 200)
			rc = bs_error_set(err, BS_ERR_SERVER, "the key document URL answered HTTP %ld", resp.status);
		if (rc == 0)
			bs_buf_add(&doc, resp.body.ptr, resp.body.len);
		bs_http_response_free(&resp);
		bs_http_free(h);
	}
	if (rc == 0)
		rc = bs_webhook_keys_load_json(k, doc.ptr, doc.len, err);
	bs_buf_free(&doc);
	k->loads++;
	if (rc < 0)
		bs_error_prefix(err, "cannot load the webhook keys from %s", k->file ? k->file : "--keys-url");
	return rc;
}

int bs_webhook_keys_new(bs_webhook_keys **out, const char *file, const char *url, bs_error *err)
{
	bs_webhook_keys *k;
	int rc;
	*out = NULL;
	if (!file == !url)
		return bs_error_set(err, BS_ERR_USAGE, "give the webhook keys as a file or a URL (one of them)");
	if (url && bs_http_check_url(url, err) < 0)
		return BS_ERR_USAGE;
	k = bs_xcalloc(1, sizeof(*k));
	k->file = file ? bs_xstrdup(file) : NULL;
	k->url = url ? bs_xstrdup(url) : NULL;
	pthread_rwlock_init(&k->lock, NULL);
	pthread_mutex_init(&k->reload_lock, NULL);
	pthread_mutex_lock(&k->reload_lock);
	rc = load(k, err);
	pthread_mutex_unlock(&k->reload_lock);
	if (rc < 0) {
		bs_webhook_keys_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

void bs_webhook_keys_free(bs_webhook_keys *k)
{
	if (!k)
		return;
	free_entries(k->keys, k->nkeys);
	pthread_rwlock_destroy(&k->lock);
	pthread_mutex_destroy(&k->reload_lock);
	free(k->file);
	free(k->url);
	free(k);
}

size_t bs_webhook_keys_count(bs_webhook_keys *k)
{
	size_t n;
	pthread_rwlock_rdlock(&k->lock);
	n = k->nkeys;
	pthread_rwlock_unlock(&k->lock);
	return n;
}

size_t bs_webhook_keys_loads(bs_webhook_keys *k)
{
	size_t n;
	pthread_mutex_lock(&k->reload_lock);
	n = k->loads;
	pthread_mutex_unlock(&k->reload_lock);
	return n;
}

/* The key for id with a reference the caller frees, or NULL. */
static EVP_PKEY *find_key(bs_webhook_keys *k, const char *id)
{
	EVP_PKEY *pk = NULL;
	pthread_rwlock_rdlock(&k->lock);
	for (size_t i = 0; i < k->nkeys; i++)
		if (strcmp(k->keys[i].id, id) == 0) {
			pk = k->keys[i].pkey;
			EVP_PKEY_up_ref(pk);
			break;
		}
	pthread_rwlock_unlock(&k->lock);
	return pk;
}

int bs_webhook_keys_verify(bs_webhook_keys *k, const char *key_id, const char *sig_b64, const void *body, size_t len,
                           bs_error *err)
{
	EVP_PKEY *pk;
	EVP_MD_CTX *md;
	bs_buf sig = BS_BUF_INIT;
	int ok;

	if (!key_id || !*key_id || !sig_b64 || !*sig_b64)
		return bs_error_set(err, BS_ERR_AUTH, "missing signature headers");
	pk = find_key(k, key_id);
	if (!pk) {
		/* Rotation: the sender may have published a new key. Reload, but rarely: unknown ids are
		 * free for anyone to send. */
		pthread_mutex_lock(&k->reload_lock);
		long long now = bs_time_monotonic_ms();
		if (!k->refetched || now - k->last_refetch_ms >= BS_WEBHOOK_KEYS_REFETCH_MS) {
			bs_error e = BS_ERROR_INIT;
			k->refetched = 1;
			k->last_refetch_ms = now;
			(void)load(k, &e); /* a failed reload keeps the old keys */
		}
		pthread_mutex_unlock(&k->reload_lock);
		pk = find_key(k, key_id);
	}
	if (!pk)
		return bs_error_set(err, BS_ERR_AUTH, "unknown key identifier");
	if (bs_base64_decode(&sig, sig_b64, strlen(sig_b64)) < 0 || sig.len == 0 || sig.len > 256) {
		EVP_PKEY_free(pk);
		bs_buf_free(&sig);
		return bs_error_set(err, BS_ERR_AUTH, "the signature is not base64");
	}
	md = EVP_MD_CTX_new();
	ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
	     EVP_DigestVerify(md, (const unsigned char *)sig.ptr, sig.len, body, len) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	bs_buf_free(&sig);
	if (!ok)
		return bs_error_set(err, BS_ERR_AUTH, "bad signature");
	return 0;
}
