#include <stdlib.h>
#include <string.h>

#include "scanner/finding.h"
#include "scanner/text.h"
#include "common/banned.h"

#define REPLACEMENT "\xef\xbf\xbd"
#define ELLIPSIS "\xe2\x80\xa6"

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when invalid. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void bs_text_add_sanitized(bs_buf *out, const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t n = utf8_seq(p + i, len - i);
		if (n == 0 || (n == 1 && ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f))) {
			bs_buf_adds(out, REPLACEMENT);
			i++;
			continue;
		}
		bs_buf_add(out, p + i, n);
		i += n;
	}
}

static int cmp_range(const void *a, const void *b)
{
	const bs_text_range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

char *bs_text_line_excerpt(const uint8_t *base, size_t ls, size_t le, size_t ss, size_t se, size_t context,
			   const bs_text_range *secrets, size_t n_secrets, int cut_before)
{
	bs_buf out = BS_BUF_INIT;
	size_t from = ss > ls + context ? ss - context : ls;
	size_t to = se + context < le ? se + context : le;
	bs_text_range *rs = NULL;
	size_t pos;

	if (to == le && to > from && base[to - 1] == '\r')
		to--;
	/* Do not start or end in the middle of a UTF-8 sequence. */
	while (from > ls && from < ss && (base[from] & 0xc0) == 0x80)
		from++;
	while (to < le && to > se && (base[to] & 0xc0) == 0x80)
		to--;
	if (from > ls || cut_before)
		bs_buf_adds(&out, ELLIPSIS);
	if (n_secrets) {
		rs = bs_xcalloc(n_secrets, sizeof(*rs));
		memcpy(rs, secrets, n_secrets * sizeof(*rs));
		qsort(rs, n_secrets, sizeof(*rs), cmp_range);
	}
	pos = from;
	for (size_t i = 0; i < n_secrets; i++) {
		size_t a = rs[i].start, b = rs[i].end;
		char *red;
		if (b <= pos || a >= to)
			continue;
		if (a > pos)
			bs_text_add_sanitized(&out, base + pos, a - pos);
		/* A secret cut by the excerpt edge is still shown only redacted. */
		red = bs_redact((const char *)base + a, b - a);
		bs_buf_adds(&out, red);
		free(red);
		pos = b;
	}
	if (pos < to)
		bs_text_add_sanitized(&out, base + pos, to - pos);
	if (to < le)
		bs_buf_adds(&out, ELLIPSIS);
	free(rs);
	return bs_buf_detach(&out, NULL);
}
