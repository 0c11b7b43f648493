/* Error codes and the error record every library function fills.
 *
 * Library functions return 0 (BS_OK) on success or a negative bs_status, and
 * fill a caller-provided bs_error with a human message (as curl's error
 * buffer). The message never contains a credential or a raw secret: callers
 * that format one in must pass a redacted form. Only cli/ prints messages and
 * picks exit codes.
 */
#ifndef BS_COMMON_ERROR_H
#define BS_COMMON_ERROR_H

#include <stdarg.h>

typedef enum bs_status {
	BS_OK = 0,
	BS_ERR_NOMEM = -1,
	BS_ERR_IO = -2,        /* file system or OS call failed */
	BS_ERR_PARSE = -3,     /* malformed input (JSON, config, report) */
	BS_ERR_RULE = -4,      /* a rule failed to load or compile */
	BS_ERR_USAGE = -5,     /* caller passed something invalid */
	BS_ERR_NET = -6,       /* network unreachable, timeout, TLS failure */
	BS_ERR_AUTH = -7,      /* credentials missing, expired or refused */
	BS_ERR_SERVER = -8,    /* server answered an error or garbage */
	BS_ERR_NOTFOUND = -9,
	BS_ERR_CANCELLED = -10, /* interrupted (Ctrl-C) */
	BS_ERR_LIMIT = -11,    /* a size, time or match limit was hit */
	BS_ERR_UNSUPPORTED = -12,
	BS_ERR_INTERNAL = -13
} bs_status;

#define BS_ERROR_MSG_MAX 1024

typedef struct bs_error {
	int code;
	char message[BS_ERROR_MSG_MAX];
} bs_error;

#define BS_ERROR_INIT { 0, { 0 } }

/* Sets err (which may be NULL) and returns code, so callers can write
 * `return bs_error_set(err, BS_ERR_IO, "cannot open %s: %s", p, strerror(e));` */
int bs_error_set(bs_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int bs_error_vset(bs_error *err, int code, const char *fmt, va_list ap);
/* Prefixes the existing message with "prefix: ". */
void bs_error_prefix(bs_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bs_error_clear(bs_error *err);
/* A short name for a status ("io error", "parse error", ...). */
const char *bs_status_name(int code);

#endif
