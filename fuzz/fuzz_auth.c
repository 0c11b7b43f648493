/* The auth client's parsers on arbitrary server replies: discovery documents, device
 * authorization and token answers (device login, refresh, token exchange), revocation answers,
 * error objects, the GitHub Actions ID-token answer, the JWT payload decoder, the stored-login
 * JSON and Retry-After values.
 *
 * auth/oauth.c and auth/workload.c are compiled into this target with their HTTP calls renamed to
 * a fake transport that answers from the fuzz input, so the real protocol code reads the replies
 * (everything else in auth/, http.c's helpers included, is the real library).
 *
 * Input: byte 0 picks the scenario; the rest is a list of replies separated by "|~|". In a reply,
 * byte 0 picks the HTTP status (0 means a transport error), byte 1 the Content-Type and whether a
 * Retry-After header comes along; the rest is the body.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fuzz/fuzz.h"

#define bs_http_get fa_http_get
#define bs_http_post_form fa_http_post_form
#include "auth/oauth.c"
#include "auth/workload.c"
#undef bs_http_get
#undef bs_http_post_form

#include "auth/store.h"
#include "common/banned.h"

int BS_FUZZ_ENTRY(const uint8_t *data, size_t size);

static const uint8_t *fa_data;
static size_t fa_size, fa_pos;
static int fa_calls;

/* The next reply from the input, or a transport error when there is none left. */
static int fa_reply(bs_http_response *resp, bs_error *err)
{
	static const long statuses[] = { 0, 200, 200, 400, 401, 404, 429, 500, 503, 302, 201, 410 };
	static const char *const types[] = { "application/json", "text/html", NULL, "text/plain; charset=utf-8",
					     "application/problem+json" };
	const uint8_t *p, *end, *sep;
	memset(resp, 0, sizeof(*resp));
	resp->body = (bs_buf)BS_BUF_INIT;
	fa_calls++;
	if (fa_pos >= fa_size || fa_calls > 64)
		return bs_error_set(err, BS_ERR_NET, "fuzz: no more replies");
	p = fa_data + fa_pos;
	end = fa_data + fa_size;
	sep = memmem(p, (size_t)(end - p), "|~|", 3);
	if (!sep)
		sep = end;
	fa_pos = (size_t)(sep - fa_data) + (sep < end ? 3 : 0);
	resp->attempts = 1;
	if (sep - p < 2) {
		resp->status = 200;
		return 0;
	}
	resp->status = statuses[p[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	if (resp->status == 0)
		return bs_error_set(err, BS_ERR_NET, "fuzz: connection refused");
	if (types[p[1] % 5])
		resp->content_type = bs_xstrdup(types[p[1] % 5]);
	if (p[1] & 0x80)
		resp->retry_after = bs_xstrdup((p[1] & 0x40) ? "2" : "Wed, 21 Oct 2015 07:28:00 GMT");
	bs_buf_add(&resp->body, p + 2, (size_t)(sep - p - 2));
	return 0;
}

int fa_http_get(bs_http *h, bs_http_response *resp, const char *url, const char *bearer, bs_http_retry retry,
		bs_error *err)
{
	return fa_reply(resp, err);
}

int fa_http_post_form(bs_http *h, bs_http_response *resp, const char *url, const bs_buf *form, const char *bearer,
		      bs_http_retry retry, bs_error *err)
{
	return fa_reply(resp, err);
}

/* A virtual clock: the device flow's waits take no real time. */
static long long fa_clock;
static long long fa_now(void *ctx)
{
	return fa_clock;
}
static void fa_sleep(void *ctx, long ms)
{
	fa_clock += ms;
}
static int fa_cancelled(void *ctx)
{
	return fa_pos >= fa_size || fa_calls > 64;
}
static void fa_show(void *ctx, const bs_device_prompt *p)
{
	BS_FUZZ_CHECK(p->user_code && p->verification_uri && p->interval >= 1 && p->expires_in >= 1, "bad prompt");
}

static void fa_check_tokens(const bs_oauth_tokens *t)
{
	BS_FUZZ_CHECK(t->access_token && t->access_token[0], "success without an access token");
}

static void fa_check_error(int rc, const bs_error *err)
{
	BS_FUZZ_CHECK(rc < 0 && err->message[0], "failure without a message");
	/* Replies are fuzz data; a message must be printable ASCII or UTF-8 from our own text. */
	for (const unsigned char *m = (const unsigned char *)err->message; *m; m++)
		BS_FUZZ_CHECK(*m >= 0x20 || *m == '\t', "control byte 0x%02x in an error message", *m);
}

int BS_FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	bs_error err = BS_ERROR_INIT;
	bs_oauth_tokens t;
	char *s;
	int rc;
	if (size < 1)
		return 0;
	fa_data = data + 1;
	fa_size = size - 1;
	fa_pos = 0;
	fa_calls = 0;
	fa_clock = 0;
	switch (data[0] % 9) {
	case 0: /* the JWT payload decoder */
		s = bs_xstrndup((const char *)fa_data, fa_size);
		BS_FUZZ_CHECK(bs_oauth_jwt_exp(s) >= 0, "negative exp");
		free(s);
		break;
	case 1: { /* the stored login */
		bs_auth_creds c;
		memset(&c, 0, sizeof(c));
		rc = bs_auth_creds_from_json(&c, (const char *)fa_data, fa_size, &err);
		if (rc == 0) {
			char *back = bs_auth_creds_to_json(&c);
			bs_auth_creds c2;
			memset(&c2, 0, sizeof(c2));
			BS_FUZZ_CHECK(back != NULL, "cannot serialise a loaded login");
			BS_FUZZ_CHECK(bs_auth_creds_from_json(&c2, back, strlen(back), &err) == 0,
				      "a serialised login does not load back: %s", err.message);
			bs_auth_creds_free(&c2);
			free(back);
		}
		bs_auth_creds_free(&c);
		break;
	}
	case 2: { /* discovery: RFC 8414, then OIDC */
		bs_oauth_endpoints ep;
		rc = bs_oauth_discover(&ep, NULL, "https://issuer.example", &err);
		if (rc == 0)
			BS_FUZZ_CHECK(ep.token_endpoint != NULL, "discovery without a token endpoint");
		else
			fa_check_error(rc, &err);
		bs_oauth_endpoints_free(&ep);
		break;
	}
	case 3: { /* the whole device flow */
		bs_oauth_endpoints ep = { NULL, "https://issuer.example/device", "https://issuer.example/token", NULL, 0 };
		bs_device_ui ui = { fa_show, NULL, NULL, fa_cancelled, fa_now, fa_sleep, NULL };
		rc = bs_oauth_device_login(&t, NULL, &ep, "bstscan-cli", "leaks:check", &ui, &err);
		if (rc == 0)
			fa_check_tokens(&t);
		else
			fa_check_error(rc, &err);
		bs_oauth_tokens_free(&t);
		break;
	}
	case 4:
		rc = bs_oauth_refresh(&t, NULL, "https://issuer.example/token", "bstscan-cli", "rt", &err);
		if (rc == 0)
			fa_check_tokens(&t);
		else
			fa_check_error(rc, &err);
		bs_oauth_tokens_free(&t);
		break;
	case 5:
		rc = bs_oauth_token_exchange(&t, NULL, "https://issuer.example/token", "bstscan-cli", "id", "aud", NULL,
					     &err);
		if (rc == 0)
			fa_check_tokens(&t);
		else
			fa_check_error(rc, &err);
		bs_oauth_tokens_free(&t);
		break;
	case 6:
		rc = bs_oauth_revoke(NULL, "https://issuer.example/revoke", "bstscan-cli", "rt", "refresh_token", &err);
		if (rc < 0)
			fa_check_error(rc, &err);
		break;
	case 7: /* Retry-After */
		s = bs_xstrndup((const char *)fa_data, fa_size);
		bs_http_parse_retry_after(s);
		free(s);
		break;
	case 8: { /* the GitHub Actions ID-token endpoint */
		bs_buf out = BS_BUF_INIT;
		rc = github_id_token(&out, NULL, "https://gh.example/token?x=1", "req", "aud", &err);
		if (rc == 0)
			BS_FUZZ_CHECK(out.len > 0, "empty ID token accepted");
		else
			fa_check_error(rc, &err);
		bs_buf_free_secure(&out);
		break;
	}
	}
	return 0;
}
