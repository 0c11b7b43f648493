#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/banned.h"

int bs_error_vset(bs_error *err, int code, const char *fmt, va_list ap)
{
	if (err) {
		err->code = code;
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
	}
	return code;
}

int bs_error_set(bs_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bs_error_vset(err, code, fmt, ap);
	va_end(ap);
	return code;
}

void bs_error_prefix(bs_error *err, const char *fmt, ...)
{
	char prefix[BS_ERROR_MSG_MAX];
	char old[BS_ERROR_MSG_MAX];
	va_list ap;
	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->message, sizeof(old));
	{
		/* Build in a buffer of its own; truncation to the message size is intended. */
		bs_buf b = BS_BUF_INIT;
		size_t n;
		bs_buf_addf(&b, "%s: %s", prefix, old);
		n = b.len < sizeof(err->message) - 1 ? b.len : sizeof(err->message) - 1;
		memcpy(err->message, b.ptr, n);
		err->message[n] = '\0';
		bs_buf_free(&b);
	}
}

void bs_error_clear(bs_error *err)
{
	if (err) {
		err->code = 0;
		err->message[0] = '\0';
	}
}

const char *bs_status_name(int code)
{
	switch (code) {
	case BS_OK: return "ok";
	case BS_ERR_NOMEM: return "out of memory";
	case BS_ERR_IO: return "i/o error";
	case BS_ERR_PARSE: return "parse error";
	case BS_ERR_RULE: return "rule error";
	case BS_ERR_USAGE: return "usage error";
	case BS_ERR_NET: return "network error";
	case BS_ERR_AUTH: return "authentication error";
	case BS_ERR_SERVER: return "server error";
	case BS_ERR_NOTFOUND: return "not found";
	case BS_ERR_CANCELLED: return "cancelled";
	case BS_ERR_LIMIT: return "limit exceeded";
	case BS_ERR_UNSUPPORTED: return "unsupported";
	default: return "internal error";
	}
}
