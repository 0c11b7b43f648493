#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/secure.h"
#include "common/banned.h"

char bs_buf_empty[1];

static void die_oom(size_t n)
{
	/* Libraries never exit(); running out of memory is the one abort. */
	fprintf(stderr, "bstscan: out of memory allocating %zu bytes\n", n);
	abort();
}

void *bs_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die_oom(n);
	return p;
}

void *bs_xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		die_oom(count * size);
	return p;
}

void *bs_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die_oom(n);
	return q;
}

char *bs_xstrdup(const char *s)
{
	return bs_xmemdup(s, strlen(s));
}

char *bs_xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	return bs_xmemdup(s, len);
}

char *bs_xmemdup(const void *p, size_t n)
{
	char *q = bs_xmalloc(n + 1);
	memcpy(q, p, n);
	q[n] = '\0';
	return q;
}

char *bs_xasprintf(const char *fmt, ...)
{
	bs_buf b = BS_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	bs_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return bs_buf_detach(&b, NULL);
}

void bs_array_grow(void **arr, size_t *cap, size_t need, size_t elem_size)
{
	size_t n;
	if (need <= *cap)
		return;
	n = *cap ? *cap : 8;
	while (n < need)
		n *= 2;
	if (n > SIZE_MAX / elem_size)
		die_oom(SIZE_MAX);
	*arr = bs_xrealloc(*arr, n * elem_size);
	*cap = n;
}

void bs_buf_init(bs_buf *b, size_t hint)
{
	b->ptr = bs_buf_empty;
	b->len = 0;
	b->cap = 0;
	if (hint)
		bs_buf_grow(b, hint);
}

void bs_buf_free(bs_buf *b)
{
	if (b->cap)
		free(b->ptr);
	bs_buf_init(b, 0);
}

void bs_buf_free_secure(bs_buf *b)
{
	if (b->cap)
		bs_secure_zero(b->ptr, b->cap);
	bs_buf_free(b);
}

void bs_buf_grow(bs_buf *b, size_t extra)
{
	size_t need;
	if (extra > SIZE_MAX - b->len - 1)
		die_oom(SIZE_MAX);
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	if (!b->cap) {
		size_t n = need < 64 ? 64 : need;
		b->ptr = bs_xmalloc(n);
		b->ptr[0] = '\0';
		b->cap = n;
		return;
	}
	{
		size_t n = b->cap;
		while (n < need)
			n = n / 2 * 3 + 16;
		b->ptr = bs_xrealloc(b->ptr, n);
		b->cap = n;
	}
}

void bs_buf_reset(bs_buf *b)
{
	bs_buf_truncate(b, 0);
}

void bs_buf_truncate(bs_buf *b, size_t len)
{
	if (len > b->len)
		return;
	b->len = len;
	if (b->cap)
		b->ptr[len] = '\0';
}

void bs_buf_add(bs_buf *b, const void *data, size_t len)
{
	if (!len)
		return;
	bs_buf_grow(b, len);
	memmove(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
}

void bs_buf_adds(bs_buf *b, const char *s)
{
	bs_buf_add(b, s, strlen(s));
}

void bs_buf_addch(bs_buf *b, int c)
{
	bs_buf_grow(b, 1);
	b->ptr[b->len++] = (char)c;
	b->ptr[b->len] = '\0';
}

void bs_buf_vaddf(bs_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	bs_buf_grow(b, 64);
	va_copy(cp, ap);
	n = vsnprintf(b->ptr + b->len, b->cap - b->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		bs_buf_grow(b, (size_t)n);
		va_copy(cp, ap);
		n = vsnprintf(b->ptr + b->len, b->cap - b->len, fmt, cp);
		va_end(cp);
	}
	b->len += (size_t)n;
}

void bs_buf_addf(bs_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bs_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

char *bs_buf_detach(bs_buf *b, size_t *len_out)
{
	char *p;
	if (!b->cap)
		bs_buf_grow(b, 0);
	p = b->ptr;
	if (len_out)
		*len_out = b->len;
	bs_buf_init(b, 0);
	return p;
}
