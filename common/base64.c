#include <string.h>

#include "common/base64.h"
#include "common/banned.h"

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void encode(bs_buf *out, const uint8_t *p, size_t len, const char *alpha, int pad)
{
	size_t i = 0;
	bs_buf_grow(out, (len + 2) / 3 * 4);
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		bs_buf_addch(out, alpha[v >> 18 & 63]);
		bs_buf_addch(out, alpha[v >> 12 & 63]);
		bs_buf_addch(out, alpha[v >> 6 & 63]);
		bs_buf_addch(out, alpha[v & 63]);
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		bs_buf_addch(out, alpha[v >> 18 & 63]);
		bs_buf_addch(out, alpha[v >> 12 & 63]);
		if (pad)
			bs_buf_adds(out, "==");
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		bs_buf_addch(out, alpha[v >> 18 & 63]);
		bs_buf_addch(out, alpha[v >> 12 & 63]);
		bs_buf_addch(out, alpha[v >> 6 & 63]);
		if (pad)
			bs_buf_addch(out, '=');
	}
}

void bs_base64url_encode(bs_buf *out, const void *data, size_t len)
{
	encode(out, data, len, url_alpha, 0);
}

void bs_base64_encode(bs_buf *out, const void *data, size_t len)
{
	encode(out, data, len, std_alpha, 1);
}

static int decode(bs_buf *out, const char *in, size_t len, int url)
{
	uint32_t acc = 0;
	int bits = 0;
	while (len && in[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)in[i], v;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == (url ? '-' : '+'))
			v = 62;
		else if (c == (url ? '_' : '/'))
			v = 63;
		else
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			bs_buf_addch(out, (int)(acc >> bits & 0xff));
		}
	}
	return len % 4 == 1 ? -1 : 0;
}

int bs_base64url_decode(bs_buf *out, const char *in, size_t len)
{
	return decode(out, in, len, 1);
}

int bs_base64_decode(bs_buf *out, const char *in, size_t len)
{
	return decode(out, in, len, 0);
}

int bs_is_base64url_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
