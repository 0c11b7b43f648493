#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/secure.h"
#include "common/banned.h"

void bs_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 32;
	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void bs_sha256_hex(const void *data, size_t len, char out[BS_SHA256_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t md[32];
	bs_sha256(data, len, md);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

int bs_random_bytes(void *out, size_t n)
{
	return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
}

void bs_secure_zero(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

int bs_secure_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int bs_is_sha256_hex(const char *s)
{
	size_t i;
	if (!s)
		return 0;
	for (i = 0; i < 64; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return s[64] == '\0';
}
