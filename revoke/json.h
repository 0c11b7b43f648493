/* Strict JSON parsing for everything revoke/ and its commands read from outside: cJSON's plain
 * parse stops after the first value and ignores what follows, which would let `[...] junk` (or a
 * JSON-lines file read as one document) pass as valid. Thread-safe. */
#ifndef BS_REVOKE_JSON_H
#define BS_REVOKE_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* The value of s[0, len) when it is exactly one JSON value (whitespace around it allowed), or NULL.
 * The caller frees it with cJSON_Delete. */
cJSON *bs_json_parse_exact(const char *s, size_t len);

#endif
