/* Hashing, randomness and secret hygiene (OpenSSL libcrypto underneath).
 * All functions are thread-safe. */
#ifndef BS_COMMON_SECURE_H
#define BS_COMMON_SECURE_H

#include <stddef.h>
#include <stdint.h>

#define BS_SHA256_HEX_LEN 64

/* Lowercase SHA-256 hex of data into out (65 bytes, NUL-terminated):
 * the issuer's token_hash. */
void bs_sha256_hex(const void *data, size_t len, char out[BS_SHA256_HEX_LEN + 1]);
void bs_sha256(const void *data, size_t len, uint8_t out[32]);
/* Fills out with n bytes from the OS CSPRNG; returns 0 or -1. */
int bs_random_bytes(void *out, size_t n);
/* Zeroes memory in a way the compiler may not remove. */
void bs_secure_zero(void *p, size_t n);
/* Constant-time comparison; returns 1 when equal. */
int bs_secure_equal(const void *a, const void *b, size_t n);
/* 1 when s is exactly 64 lowercase hex digits. */
int bs_is_sha256_hex(const char *s);

#endif
