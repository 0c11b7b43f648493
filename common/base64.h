/* Base64 (RFC 4648 §4) and base64url without padding (§5). Pure functions. */
#ifndef BS_COMMON_BASE64_H
#define BS_COMMON_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Appends the encoding of data to out. */
void bs_base64url_encode(bs_buf *out, const void *data, size_t len);
void bs_base64_encode(bs_buf *out, const void *data, size_t len);
/* Appends the decoded bytes; accepts input with or without '=' padding.
 * Returns 0, or -1 on a character outside the alphabet (out then holds garbage). */
int bs_base64url_decode(bs_buf *out, const char *in, size_t len);
int bs_base64_decode(bs_buf *out, const char *in, size_t len);
/* 1 when c is in the base64url alphabet [A-Za-z0-9_-]. */
int bs_is_base64url_char(int c);

#endif
