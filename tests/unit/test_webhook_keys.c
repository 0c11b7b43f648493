/* revoke/webhook_keys: the key document and signature verification, without HTTP. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "revoke/webhook.h"
#include "test_revoke_support.h"
#include "common/banned.h"

static bs_webhook_keys *keys_from(const char *doc)
{
	char *dir = bs_test_mkdtemp(), *path = bs_xasprintf("%s/keys.json", dir);
	bs_webhook_keys *k = NULL;
	bs_error err = BS_ERROR_INIT;
	bs_test_write_str(dir, "keys.json", doc);
	cr_assert_eq(bs_webhook_keys_new(&k, path, NULL, &err), 0, "%s", err.message);
	bs_test_rmtree(dir);
	free(dir);
	free(path);
	return k;
}

static int load_error(const char *doc, bs_error *err)
{
	char *dir = bs_test_mkdtemp(), *path = bs_xasprintf("%s/keys.json", dir);
	bs_webhook_keys *k = NULL;
	int rc;
	bs_test_write_str(dir, "keys.json", doc);
	rc = bs_webhook_keys_new(&k, path, NULL, err);
	cr_assert_null(k);
	bs_test_rmtree(dir);
	free(dir);
	free(path);
	return rc;
}

Test(webhook_keys, verifies_each_listed_key_and_nothing_else)
{
	EVP_PKEY *a = key_new(), *b = key_new(), *stranger = key_new();
	const char *ids[] = {"old", "new"};
	EVP_PKEY *ks[] = {a, b};
	char *doc = key_document(ids, ks, 2);
	bs_webhook_keys *k = keys_from(doc);
	const char body[] = "[{\"token\":\"bst_x\",\"type\":\"t\"}]";
	char *sa = sign_body(a, body, strlen(body)), *sb = sign_body(b, body, strlen(body));
	char *ss = sign_body(stranger, body, strlen(body));
	bs_error err = BS_ERROR_INIT;

	cr_assert_eq(bs_webhook_keys_count(k), 2);
	cr_assert_eq(bs_webhook_keys_verify(k, "old", sa, body, strlen(body), &err), 0, "%s", err.message);
	cr_assert_eq(bs_webhook_keys_verify(k, "new", sb, body, strlen(body), &err), 0, "%s", err.message);
	/* Right signature, wrong key id; a key not listed; a changed body; a body with a newline. */
	cr_assert_eq(bs_webhook_keys_verify(k, "new", sa, body, strlen(body), &err), BS_ERR_AUTH);
	cr_assert_eq(bs_webhook_keys_verify(k, "old", ss, body, strlen(body), &err), BS_ERR_AUTH);
	cr_assert_eq(bs_webhook_keys_verify(k, "old", sa, body, strlen(body) - 1, &err), BS_ERR_AUTH);
	{
		char *nl = bs_xasprintf("%s\n", body);
		cr_assert_eq(bs_webhook_keys_verify(k, "old", sa, nl, strlen(nl), &err), BS_ERR_AUTH);
		free(nl);
	}
	cr_assert_eq(bs_webhook_keys_verify(k, "nope", sa, body, strlen(body), &err), BS_ERR_AUTH);
	cr_assert(strstr(err.message, "unknown key"), "%s", err.message);
	cr_assert_eq(bs_webhook_keys_verify(k, NULL, sa, body, strlen(body), &err), BS_ERR_AUTH);
	cr_assert_eq(bs_webhook_keys_verify(k, "old", NULL, body, strlen(body), &err), BS_ERR_AUTH);
	cr_assert_eq(bs_webhook_keys_verify(k, "old", "", body, strlen(body), &err), BS_ERR_AUTH);
	cr_assert_eq(bs_webhook_keys_verify(k, "old", "%%%", body, strlen(body), &err), BS_ERR_AUTH);
	cr_assert_eq(bs_webhook_keys_verify(k, "old", "AAAA", body, strlen(body), &err), BS_ERR_AUTH);
	/* The unknown id made one reload (the file is gone by now: the old keys stay), and no more
	 * within the minute. */
	cr_assert_eq(bs_webhook_keys_loads(k), 2);
	cr_assert_eq(bs_webhook_keys_verify(k, "old", sa, body, strlen(body), &err), 0, "%s", err.message);
	cr_assert_eq(bs_webhook_keys_verify(k, "other", sa, body, strlen(body), &err), BS_ERR_AUTH);
	cr_assert_eq(bs_webhook_keys_loads(k), 2);

	bs_webhook_keys_free(k);
	free(doc);
	free(sa);
	free(sb);
	free(ss);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(stranger);
}

Test(webhook_keys, bad_documents_are_refused_with_a_reason)
{
	bs_error err = BS_ERROR_INIT;
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	const char *ids[] = {"k"};
	char *doc;
	struct {
		const char *doc;
		const char *says;
	} cases[] = {
	    {"", "not JSON"},
	    {"[]", "public_keys"},
	    {"{\"public_keys\": {}}", "public_keys"},
	    {"{\"public_keys\": []}", "no keys"},
	    {"{\"public_keys\": [{\"key\": \"x\"}]}", "key_identifier"},
	    {"{\"public_keys\": [{\"key_identifier\": \"k\"}]}", "key is missing"},
	    {"{\"public_keys\": [{\"key_identifier\": \"k\", \"key\": \"not a pem\"}]}", "not a PEM"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bs_error_clear(&err);
		cr_assert_lt(load_error(cases[i].doc, &err), 0, "accepted: %s", cases[i].doc);
		cr_assert(strstr(err.message, cases[i].says), "'%s': %s", cases[i].doc, err.message);
	}
	cr_assert(p384 && ed);
	doc = key_document(ids, &p384, 1);
	cr_assert_lt(load_error(doc, &err), 0);
	cr_assert(strstr(err.message, "P-256"), "%s", err.message);
	free(doc);
	doc = key_document(ids, &ed, 1);
	cr_assert_lt(load_error(doc, &err), 0);
	cr_assert(strstr(err.message, "P-256"), "%s", err.message);
	free(doc);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(ed);
	/* Not both sources, not neither; keys URLs follow the HTTP client's rule. */
	cr_assert_eq(bs_webhook_keys_new(&(bs_webhook_keys *){NULL}, NULL, NULL, &err), BS_ERR_USAGE);
	cr_assert_eq(bs_webhook_keys_new(&(bs_webhook_keys *){NULL}, NULL, "http://keys.example/k", &err),
	             BS_ERR_USAGE);
}
