/* Validators: structural checks a candidate secret must pass (checksums,
 * padding bits, alphabet, length). Named in rule data as objects:
 *   {"type": "last_char_in", "chars": "AEIMQUYcgkosw048"}
 * Validators are pure functions of the secret bytes, thread-safe.
 */
#ifndef BS_SCANNER_VALIDATE_H
#define BS_SCANNER_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/error.h"

typedef struct bs_validator_type bs_validator_type;

struct bs_validator {
	const bs_validator_type *type;
	void *params; /* parsed by the type; freed by bs_validator_clear */
};

struct bs_validator_type {
	const char *name;
	const char *summary; /* one line for docs and `rules list` */
	/* Parses the rule's JSON object; returns 0 or fills err. */
	int (*parse)(const cJSON *json, void **params, bs_error *err);
	/* Returns 1 when the secret passes. */
	int (*check)(const void *params, const uint8_t *secret, size_t len);
	void (*free_params)(void *params);
};

/* Finds a validator type by name, or NULL. */
const bs_validator_type *bs_validator_type_find(const char *name);
/* All known types, NULL-terminated (for docs and `rules list`). */
const bs_validator_type *const *bs_validator_types(void);
int bs_validator_parse(struct bs_validator *v, const cJSON *json, bs_error *err);
void bs_validator_clear(struct bs_validator *v);
/* IEEE CRC-32 (as zlib's crc32) and the Shannon entropy in bits per byte:
 * the primitives behind crc32_base62, crc32_hex and entropy_min, exposed for
 * tests. Pure functions. */
uint32_t bs_validate_crc32(const uint8_t *p, size_t n);
double bs_validate_entropy(const uint8_t *s, size_t n);

/* Runs every validator of a rule; returns 1 when all pass, else 0 and sets
 * *failed to the name of the first that failed. */
int bs_validators_run(const struct bs_validator *vs, size_t n, const uint8_t *secret, size_t len,
		      const char **failed);

#endif
