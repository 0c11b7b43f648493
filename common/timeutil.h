/* RFC 3339 UTC times, as the issuer API uses them. Thread-safe. */
#ifndef BS_COMMON_TIMEUTIL_H
#define BS_COMMON_TIMEUTIL_H

#include <stddef.h>
#include <time.h>

#define BS_RFC3339_LEN 21 /* "2026-11-27T03:27:07Z" + NUL */

/* Formats t as "YYYY-MM-DDTHH:MM:SSZ". */
void bs_time_format_rfc3339(time_t t, char out[BS_RFC3339_LEN]);
/* Parses RFC 3339 (fractional seconds and numeric offsets accepted).
 * Returns 0 and sets *out, or -1. */
int bs_time_parse_rfc3339(const char *s, time_t *out);
/* Monotonic clock in milliseconds. */
long long bs_time_monotonic_ms(void);

#endif
