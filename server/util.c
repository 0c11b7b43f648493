#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "server/srv.h"
#include "common/banned.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int url_decode(bs_buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+') {
			bs_buf_addch(out, ' ');
		} else if (s[i] == '%') {
			int h, l;
			if (i + 2 >= len)
				return -1;
			h = hexval((unsigned char)s[i + 1]);
			l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			bs_buf_addch(out, h * 16 + l);
			i += 2;
		} else {
			bs_buf_addch(out, s[i]);
		}
	}
	return 0;
}

int bs_srv_form_parse(bs_srv_form *f, const char *body, size_t len, bs_error *err)
{
	size_t cap = 0, i = 0;
	memset(f, 0, sizeof(*f));
	while (i < len) {
		size_t end = i, eq;
		bs_buf name = BS_BUF_INIT, value = BS_BUF_INIT;
		while (end < len && body[end] != '&')
			end++;
		if (end == i) {
			i = end + 1;
			continue;
		}
		/* Bounds the quadratic repeat check below; OAuth forms have a handful. */
		if (f->n == 64) {
			bs_srv_form_free(f);
			return bs_error_set(err, BS_ERR_LIMIT, "the form has more than 64 parameters");
		}
		eq = i;
		while (eq < end && body[eq] != '=')
			eq++;
		if (url_decode(&name, body + i, eq - i) < 0 ||
		    (eq < end && url_decode(&value, body + eq + 1, end - eq - 1) < 0)) {
			bs_buf_free(&name);
			bs_buf_free(&value);
			bs_srv_form_free(f);
			return bs_error_set(err, BS_ERR_PARSE, "the form body has a malformed percent-escape");
		}
		if (memchr(name.ptr, '\0', name.len) || memchr(value.ptr, '\0', value.len)) {
			bs_buf_free(&name);
			bs_buf_free(&value);
			bs_srv_form_free(f);
			return bs_error_set(err, BS_ERR_PARSE, "the form body contains a NUL byte");
		}
		/* RFC 6749 §3.1: request parameters MUST NOT be included more than once. */
		if (bs_srv_form_get(f, name.ptr)) {
			bs_error_set(err, BS_ERR_PARSE, "parameter %.64s is repeated", name.ptr);
			bs_buf_free(&name);
			bs_buf_free(&value);
			bs_srv_form_free(f);
			return BS_ERR_PARSE;
		}
		BS_ARRAY_GROW(f->names, cap, f->n + 1);
		f->values = bs_xrealloc(f->values, cap * sizeof(*f->values));
		f->names[f->n] = bs_buf_detach(&name, NULL);
		f->values[f->n] = bs_buf_detach(&value, NULL);
		f->n++;
		i = end + 1;
	}
	return 0;
}

const char *bs_srv_form_get(const bs_srv_form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->names[i], name) == 0)
			return f->values[i];
	return NULL;
}

void bs_srv_form_free(bs_srv_form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->names[i]);
		free(f->values[i]);
	}
	free(f->names);
	free(f->values);
	memset(f, 0, sizeof(*f));
}

void bs_srv_html_escape(bs_buf *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			bs_buf_adds(out, "&amp;");
			break;
		case '<':
			bs_buf_adds(out, "&lt;");
			break;
		case '>':
			bs_buf_adds(out, "&gt;");
			break;
		case '"':
			bs_buf_adds(out, "&quot;");
			break;
		case '\'':
			bs_buf_adds(out, "&#39;");
			break;
		default:
			bs_buf_addch(out, *s);
		}
	}
}

int bs_srv_user_code_normalize(const char *in, char out[9])
{
	static const char alphabet[] = "BCDFGHJKLMNPQRSTVWXZ";
	size_t n = 0;
	for (; in && *in; in++) {
		int c = toupper((unsigned char)*in);
		if (c == '-' || c == ' ')
			continue;
		if (n == 8 || !strchr(alphabet, c) || c == 0)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return n == 8 ? 0 : -1;
}

static int has_word(const char *set, const char *w, size_t wl)
{
	const char *p = set;
	while (p && *p) {
		size_t l;
		while (*p == ' ')
			p++;
		l = strcspn(p, " ");
		if (l && l == wl && memcmp(p, w, wl) == 0)
			return 1;
		p += l;
	}
	return 0;
}

int bs_srv_scope_has(const char *scopes, const char *scope)
{
	return has_word(scopes, scope, strlen(scope));
}

int bs_srv_scopes_subset(const char *words, const char *set)
{
	const char *p = words;
	while (p && *p) {
		size_t l;
		while (*p == ' ')
			p++;
		l = strcspn(p, " ");
		if (l && !has_word(set, p, l))
			return 0;
		p += l;
	}
	return 1;
}

char *bs_srv_scopes_normalize(const char *in)
{
	bs_buf out = BS_BUF_INIT;
	const char *p = in;
	while (p && *p) {
		size_t l;
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		l = strcspn(p, " ,\t");
		if (l && !has_word(out.ptr, p, l)) {
			if (out.len)
				bs_buf_addch(&out, ' ');
			bs_buf_add(&out, p, l);
		}
		p += l;
	}
	return bs_buf_detach(&out, NULL);
}
