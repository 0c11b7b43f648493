#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "scanner/validate.h"
#include "common/banned.h"

/* last_char_in: the secret's last byte is one of "chars". For base64url
 * bodies whose bit length is not a multiple of 6 the last character carries
 * zero padding bits, so only a subset of the alphabet can end a real token. */
static int last_char_parse(const cJSON *json, void **params, bs_error *err)
{
	const cJSON *chars = cJSON_GetObjectItemCaseSensitive(json, "chars");
	if (!cJSON_IsString(chars) || !chars->valuestring[0])
		return bs_error_set(err, BS_ERR_RULE, "validator last_char_in needs a non-empty string \"chars\"");
	*params = bs_xstrdup(chars->valuestring);
	return 0;
}

static int last_char_check(const void *params, const uint8_t *secret, size_t len)
{
	return len > 0 && secret[len - 1] != '\0' && strchr(params, secret[len - 1]) != NULL;
}

static const bs_validator_type last_char_in = {
	"last_char_in",
	"the last character is one of \"chars\" (base64 padding bits must be zero)",
	last_char_parse,
	last_char_check,
	free,
};

static const bs_validator_type *const types[] = {
	&last_char_in,
	NULL,
};

const bs_validator_type *const *bs_validator_types(void)
{
	return types;
}

const bs_validator_type *bs_validator_type_find(const char *name)
{
	for (size_t i = 0; types[i]; i++)
		if (strcmp(types[i]->name, name) == 0)
			return types[i];
	return NULL;
}

int bs_validator_parse(struct bs_validator *v, const cJSON *json, bs_error *err)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "type");
	v->type = NULL;
	v->params = NULL;
	if (!cJSON_IsObject(json) || !cJSON_IsString(type))
		return bs_error_set(err, BS_ERR_RULE, "a validator must be an object with a string \"type\"");
	v->type = bs_validator_type_find(type->valuestring);
	if (!v->type)
		return bs_error_set(err, BS_ERR_RULE, "unknown validator type \"%s\"", type->valuestring);
	return v->type->parse ? v->type->parse(json, &v->params, err) : 0;
}

void bs_validator_clear(struct bs_validator *v)
{
	if (v->type && v->type->free_params && v->params)
		v->type->free_params(v->params);
	v->type = NULL;
	v->params = NULL;
}

int bs_validators_run(const struct bs_validator *vs, size_t n, const uint8_t *secret, size_t len,
		      const char **failed)
{
	for (size_t i = 0; i < n; i++) {
		if (!vs[i].type->check(vs[i].params, secret, len)) {
			if (failed)
				*failed = vs[i].type->name;
			return 0;
		}
	}
	return 1;
}
