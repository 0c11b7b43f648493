#include <ctype.h>

#include "revoke/json.h"
#include "common/banned.h"

cJSON *bs_json_parse_exact(const char *s, size_t len)
{
	const char *end = NULL;
	cJSON *v;
	if (!s || !len)
		return NULL;
	v = cJSON_ParseWithLengthOpts(s, len, &end, 0);
	if (!v)
		return NULL;
	for (; end && end < s + len; end++)
		if (!isspace((unsigned char)*end)) {
			cJSON_Delete(v);
			return NULL;
		}
	return v;
}
