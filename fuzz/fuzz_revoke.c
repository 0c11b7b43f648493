/* The issuer replies revoke/ reads and the webhook's key handling, on arbitrary bytes:
 *   0: a /api/v1/leaks/check reply, 1: a /api/v1/leaks/revoke reply (for 1 to 4 hashes asked,
 *      some of them repeated hashes the reply may name), 2: the strict JSON parser,
 *   3: the sender's public-key document, 4: a signature (base64 DER) checked against a key
 *      loaded once, over the rest of the input.
 * A reply either fills exactly the hashes asked, with a known status/outcome, or fails with a
 * message and leaves them untouched. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fuzz/fuzz.h"
#include "revoke/json.h"
#include "revoke/leaks.h"
#include "revoke/webhook.h"
#include "common/banned.h"

int BS_FUZZ_ENTRY(const uint8_t *data, size_t size);

static const char *const fr_hashes[] = {
	"1111111111111111111111111111111111111111111111111111111111111111",
	"2222222222222222222222222222222222222222222222222222222222222222",
	"abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd",
	"0000000000000000000000000000000000000000000000000000000000000000",
};

/* A document with one freshly generated P-256 key, as the webhook loads it. */
static char *fr_key_document(void)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL, *doc;
	long n;
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "public_keys"), *k = cJSON_CreateObject();
	BS_FUZZ_CHECK(pk && bio && PEM_write_bio_PUBKEY(bio, pk) == 1, "cannot make a test key");
	n = BIO_get_mem_data(bio, &pem);
	{
		char *copy = bs_xstrndup(pem, (size_t)n);
		cJSON_AddStringToObject(k, "key_identifier", "k1");
		cJSON_AddStringToObject(k, "key", copy);
		cJSON_AddBoolToObject(k, "is_current", 1);
		free(copy);
	}
	cJSON_AddItemToArray(arr, k);
	doc = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return doc;
}

static bs_webhook_keys *fr_keys;

static void fr_setup(void)
{
	bs_error err = BS_ERROR_INIT;
	char *doc, path[4096];
	const char *t = getenv("TMPDIR");
	FILE *fp;
	int fd;
	if (fr_keys)
		return;
	doc = fr_key_document();
	snprintf(path, sizeof(path), "%s/bstscan-fuzz-keys-XXXXXX", t && *t ? t : "/tmp");
	fd = mkstemp(path);
	BS_FUZZ_CHECK(fd >= 0 && (fp = fdopen(fd, "w")) && fputs(doc, fp) >= 0 && fclose(fp) == 0, "keys file");
	BS_FUZZ_CHECK(bs_webhook_keys_new(&fr_keys, path, NULL, &err) == 0, "%s", err.message);
	unlink(path);
	free(doc);
}

int BS_FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	bs_error err = BS_ERROR_INIT;
	const char *body;
	size_t len;
	if (size < 2)
		return 0;
	body = (const char *)data + 2;
	len = size - 2;
	switch (data[0] % 5) {
	case 0:
	case 1: {
		bs_leak_results r = BS_LEAK_RESULTS_INIT;
		size_t n = 1 + data[1] % 4;
		int revoke = data[0] % 5 == 1, rc;
		r.items = bs_xcalloc(n, sizeof(*r.items));
		r.len = r.cap = n;
		for (size_t i = 0; i < n; i++)
			memcpy(r.items[i].token_hash, fr_hashes[i], BS_SHA256_HEX_LEN + 1);
		rc = revoke ? bs_leaks_parse_revoke_reply(&r, 0, n, body, len, &err)
			    : bs_leaks_parse_check_reply(&r, 0, n, body, len, &err);
		for (size_t i = 0; i < n; i++) {
			const char *v = revoke ? r.items[i].outcome : r.items[i].status;
			if (rc == 0)
				BS_FUZZ_CHECK(v != NULL, "accepted reply left hash %zu without an answer", i);
			else
				BS_FUZZ_CHECK(v == NULL, "failed reply still filled hash %zu", i);
			BS_FUZZ_CHECK(!r.items[i].name || strlen(r.items[i].name) <= BS_LEAKS_FIELD_MAX, "field too long");
		}
		if (rc < 0)
			BS_FUZZ_CHECK(err.message[0], "failure without a message");
		bs_leak_results_free(&r);
		break;
	}
	case 2: {
		cJSON *j = bs_json_parse_exact(body, len);
		cJSON_Delete(j);
		break;
	}
	case 3: {
		bs_webhook_keys *k;
		fr_setup();
		/* A second set loaded from the input: replaces its keys or fails leaving them. */
		k = fr_keys;
		if (bs_webhook_keys_load_json(k, body, len, &err) == 0)
			BS_FUZZ_CHECK(bs_webhook_keys_count(k) > 0, "a loaded document without keys");
		else
			BS_FUZZ_CHECK(bs_webhook_keys_count(k) > 0, "a bad document emptied the key set");
		break;
	}
	case 4: {
		/* Input: signature text, NUL, then the body it is checked against. */
		const char *nul = memchr(body, 0, len);
		char *sig;
		fr_setup();
		sig = bs_xstrndup(body, nul ? (size_t)(nul - body) : len);
		BS_FUZZ_CHECK(bs_webhook_keys_verify(fr_keys, (data[1] & 1) ? "k1" : "k2", sig, nul ? nul + 1 : "",
						     nul ? len - (size_t)(nul + 1 - body) : 0, &err) < 0,
			      "a fuzzed signature verified");
		free(sig);
		break;
	}
	}
	return 0;
}
