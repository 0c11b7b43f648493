#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/oauth.h"
#include "common/base64.h"
#include "common/secure.h"
#include "common/timeutil.h"
#include "common/banned.h"

static void free_secret(char **p)
{
	if (*p) {
		bs_secure_zero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

void bs_oauth_tokens_free(bs_oauth_tokens *t)
{
	if (!t)
		return;
	free_secret(&t->access_token);
	free_secret(&t->refresh_token);
	free(t->scope);
	free(t->issued_token_type);
	memset(t, 0, sizeof(*t));
}

void bs_oauth_endpoints_free(bs_oauth_endpoints *ep)
{
	if (!ep)
		return;
	free(ep->issuer);
	free(ep->device_authorization_endpoint);
	free(ep->token_endpoint);
	free(ep->revocation_endpoint);
	memset(ep, 0, sizeof(*ep));
}

void bs_oauth_append_server_text(bs_buf *out, const char *text)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)text; p && *p && n < 200; p++, n++)
		bs_buf_addch(out, (*p >= 0x20 && *p < 0x7f) ? *p : '?');
	if (text && strlen(text) > 200)
		bs_buf_adds(out, "...");
}

/* Parses the body as a JSON object whatever the Content-Type says: some servers label their
 * JSON errors text/plain. NULL when it is not one. */
static cJSON *body_object(const bs_http_response *resp)
{
	cJSON *j;
	if (!resp->body.len)
		return NULL;
	j = cJSON_ParseWithLength(resp->body.ptr, resp->body.len);
	if (j && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static const char *json_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* A non-negative integer member; servers in the wild send numbers and numeric strings. */
static int json_long(const cJSON *o, const char *name, long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0 && v->valuedouble < 1e9) {
		*out = (long)v->valuedouble;
		return 0;
	}
	if (cJSON_IsString(v) && v->valuestring && *v->valuestring) {
		char *end;
		long n = strtol(v->valuestring, &end, 10);
		if (!*end && n >= 0 && n < 1000000000L) {
			*out = n;
			return 0;
		}
	}
	return -1;
}

/* Describes an answer that is not what the protocol promises, without echoing its body. */
static int unexpected(bs_error *err, const char *what, const char *url, const bs_http_response *resp)
{
	bs_buf d = BS_BUF_INIT;
	int rc;
	bs_http_url_for_display(&d, url);
	rc = bs_error_set(err, BS_ERR_SERVER, "unexpected answer to %s from %s: HTTP %ld, %s%s", what, d.ptr,
	                  resp->status, resp->content_type ? resp->content_type : "no content type",
	                  resp->body.len ? "" : ", empty body");
	bs_buf_free(&d);
	return rc;
}

/* "error (description)" from an RFC 6749 §5.2 error object, made safe to print. */
static void describe_oauth_error(bs_buf *out, const cJSON *j)
{
	const char *e = json_str(j, "error"), *d = json_str(j, "error_description");
	bs_oauth_append_server_text(out, e ? e : "unknown_error");
	if (d && *d) {
		bs_buf_adds(out, " (");
		bs_oauth_append_server_text(out, d);
		bs_buf_adds(out, ")");
	}
}

time_t bs_oauth_jwt_exp(const char *jwt)
{
	const char *dot1, *dot2;
	bs_buf payload = BS_BUF_INIT;
	cJSON *j = NULL;
	const cJSON *exp;
	time_t out = 0;
	if (!jwt || !(dot1 = strchr(jwt, '.')) || !(dot2 = strchr(dot1 + 1, '.')))
		return 0;
	if (bs_base64url_decode(&payload, dot1 + 1, (size_t)(dot2 - dot1 - 1)) == 0)
		j = cJSON_ParseWithLength(payload.ptr, payload.len);
	exp = cJSON_GetObjectItemCaseSensitive(j, "exp");
	if (cJSON_IsNumber(exp) && isfinite(exp->valuedouble) && exp->valuedouble > 0 && exp->valuedouble < 1e13)
		out = (time_t)exp->valuedouble;
	cJSON_Delete(j);
	bs_buf_free_secure(&payload);
	return out;
}

/* Fills out from a successful token response (RFC 6749 §5.1). */
static int parse_tokens(bs_oauth_tokens *out, const cJSON *j, const char *requested_scope, const char *what,
                        bs_error *err)
{
	const char *at = json_str(j, "access_token"), *tt = json_str(j, "token_type");
	const char *rt = json_str(j, "refresh_token"), *sc = json_str(j, "scope");
	const char *itt = json_str(j, "issued_token_type");
	long expires_in;
	time_t exp;
	memset(out, 0, sizeof(*out));
	if (!at || !*at)
		return bs_error_set(err, BS_ERR_SERVER, "malformed answer to %s: no access_token", what);
	/* RFC 6749 §7.1: the type is case-insensitive; anything but Bearer is a token we cannot use. */
	if (tt && strcasecmp(tt, "bearer") != 0) {
		bs_buf t = BS_BUF_INIT;
		bs_oauth_append_server_text(&t, tt);
		bs_error_set(err, BS_ERR_SERVER, "the server issued a token of type '%s'; bstscan needs a Bearer token",
		             t.ptr);
		bs_buf_free(&t);
		return err ? err->code : BS_ERR_SERVER;
	}
	out->access_token = bs_xstrdup(at);
	out->refresh_token = rt && *rt ? bs_xstrdup(rt) : NULL;
	out->scope = sc ? bs_xstrdup(sc) : requested_scope ? bs_xstrdup(requested_scope) : NULL;
	out->issued_token_type = itt ? bs_xstrdup(itt) : NULL;
	exp = bs_oauth_jwt_exp(at);
	if (json_long(j, "expires_in", &expires_in) == 0) {
		time_t by_lifetime = time(NULL) + expires_in;
		if (!exp || by_lifetime < exp)
			exp = by_lifetime;
	}
	out->expires_at = exp;
	return 0;
}

/* ---- discovery ---- */

/* Issuers compare as strings (RFC 8414 §3.3), but a trailing slash is a frequent harmless
 * difference between what people type and what servers publish. */
static int same_issuer(const char *a, const char *b)
{
	size_t an = strlen(a), bn = strlen(b);
	while (an && a[an - 1] == '/')
		an--;
	while (bn && b[bn - 1] == '/')
		bn--;
	return an == bn && memcmp(a, b, an) == 0;
}

/* RFC 8414 §3.1: the well-known suffix goes between the host and the issuer's path. */
static void rfc8414_url(bs_buf *out, const char *server)
{
	const char *scheme_end = strstr(server, "://");
	const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
	if (!path) {
		bs_buf_addf(out, "%s/.well-known/oauth-authorization-server", server);
		return;
	}
	bs_buf_add(out, server, (size_t)(path - server));
	bs_buf_addf(out, "/.well-known/oauth-authorization-server%s", path);
}

/* 1 found (out filled), 0 not there, <0 error. */
static int fetch_metadata(bs_oauth_endpoints *out, bs_http *h, const char *url, const char *server,
                          bs_oauth_discovery kind, bs_error *err)
{
	bs_http_response resp;
	cJSON *j = NULL;
	const char *iss, *tok;
	int rc = bs_http_get(h, &resp, url, NULL, BS_HTTP_RETRY_IDEMPOTENT, err);
	if (rc < 0)
		goto out;
	if (resp.status == 404 || resp.status == 410 || resp.status == 405) {
		rc = 0;
		goto out;
	}
	if (resp.status != 200 || !(j = body_object(&resp))) {
		rc = unexpected(err, "the discovery request", url, &resp);
		goto out;
	}
	iss = json_str(j, "issuer");
	tok = json_str(j, "token_endpoint");
	if (!iss || !tok) {
		rc = bs_error_set(err, BS_ERR_SERVER, "the discovery document at %s lacks %s", url,
		                  !iss ? "issuer" : "token_endpoint");
		goto out;
	}
	/* RFC 8414 §3.3: metadata naming another issuer must not be used (it may be an impostor's). */
	if (!same_issuer(iss, server)) {
		bs_buf t = BS_BUF_INIT;
		bs_oauth_append_server_text(&t, iss);
		rc = bs_error_set(err, BS_ERR_SERVER,
		                  "the discovery document at %s names issuer '%s', not %s; check the server URL", url,
		                  t.ptr, server);
		bs_buf_free(&t);
		goto out;
	}
	out->issuer = bs_xstrdup(iss);
	out->token_endpoint = bs_xstrdup(tok);
	if (json_str(j, "device_authorization_endpoint"))
		out->device_authorization_endpoint = bs_xstrdup(json_str(j, "device_authorization_endpoint"));
	if (json_str(j, "revocation_endpoint"))
		out->revocation_endpoint = bs_xstrdup(json_str(j, "revocation_endpoint"));
	out->source = kind;
	rc = 1;
out:
	cJSON_Delete(j);
	bs_http_response_free(&resp);
	return rc;
}

int bs_oauth_discover(bs_oauth_endpoints *out, bs_http *h, const char *server, bs_error *err)
{
	bs_buf url = BS_BUF_INIT;
	int rc;
	memset(out, 0, sizeof(*out));
	rfc8414_url(&url, server);
	rc = fetch_metadata(out, h, url.ptr, server, BS_OAUTH_DISCOVERY_RFC8414, err);
	if (rc == 0) {
		bs_buf_reset(&url);
		bs_buf_addf(&url, "%s/.well-known/openid-configuration", server);
		rc = fetch_metadata(out, h, url.ptr, server, BS_OAUTH_DISCOVERY_OIDC, err);
	}
	bs_buf_free(&url);
	if (rc < 0) {
		bs_oauth_endpoints_free(out);
		return rc;
	}
	if (rc == 0) {
		out->device_authorization_endpoint = bs_xasprintf("%s/oauth/device/authorize", server);
		out->token_endpoint = bs_xasprintf("%s/oauth/token", server);
		out->revocation_endpoint = bs_xasprintf("%s/oauth/revoke", server);
		out->source = BS_OAUTH_DISCOVERY_DEFAULTS;
	}
	return 0;
}

/* ---- device flow ---- */

static long long ui_now(const bs_device_ui *ui)
{
	return ui && ui->now_ms ? ui->now_ms(ui->ctx) : bs_time_monotonic_ms();
}

static void ui_sleep(const bs_device_ui *ui, long ms)
{
	if (ui && ui->sleep_ms) {
		ui->sleep_ms(ui->ctx, ms);
	} else {
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static int ui_cancelled(const bs_device_ui *ui)
{
	return ui && ui->cancelled && ui->cancelled(ui->ctx);
}

static void ui_notice(const bs_device_ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ui_notice(const bs_device_ui *ui, const char *fmt, ...)
{
	bs_buf b = BS_BUF_INIT;
	va_list ap;
	if (!ui || !ui->notice)
		return;
	va_start(ap, fmt);
	bs_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	ui->notice(ui->ctx, b.ptr);
	bs_buf_free(&b);
}

/* Waits ms in slices of at most a second, ticking the countdown. 1 when cancelled. */
static int wait_with_ticks(const bs_device_ui *ui, long ms, long long deadline)
{
	long long end = ui_now(ui) + ms;
	for (;;) {
		long long now = ui_now(ui);
		long slice;
		if (ui_cancelled(ui))
			return 1;
		if (ui && ui->tick)
			ui->tick(ui->ctx, (long)((deadline - now + 999) / 1000));
		if (now >= end)
			return 0;
		slice = end - now > 1000 ? 1000 : (long)(end - now);
		ui_sleep(ui, slice);
	}
}

typedef struct device_code {
	char *device_code;
	char *user_code;
	char *verification_uri;
	char *verification_uri_complete;
	long expires_in;
	long interval;
} device_code;

static void device_code_free(device_code *d)
{
	free_secret(&d->device_code);
	free(d->user_code);
	free(d->verification_uri);
	free(d->verification_uri_complete);
}

static int request_device_code(device_code *d, bs_http *h, const char *url, const char *client_id, const char *scope,
                               bs_error *err)
{
	bs_buf form = BS_BUF_INIT;
	bs_http_response resp;
	cJSON *j = NULL;
	const char *dc, *uc, *vu, *vuc;
	int rc;
	memset(d, 0, sizeof(*d));
	bs_http_form_add(&form, "client_id", client_id);
	if (scope && *scope)
		bs_http_form_add(&form, "scope", scope);
	/* Asking for a code has no effect a retry could double: safe to repeat on 5xx. */
	rc = bs_http_post_form(h, &resp, url, &form, NULL, BS_HTTP_RETRY_IDEMPOTENT, err);
	bs_buf_free(&form);
	if (rc < 0)
		goto out;
	j = body_object(&resp);
	if (j && json_str(j, "error")) {
		bs_buf e = BS_BUF_INIT;
		describe_oauth_error(&e, j);
		rc = bs_error_set(err, BS_ERR_SERVER, "the server refused to start a device login: %s", e.ptr);
		bs_buf_free(&e);
		goto out;
	}
	if (resp.status / 100 != 2 || !j) {
		rc = unexpected(err, "the device authorization request", url, &resp);
		goto out;
	}
	dc = json_str(j, "device_code");
	uc = json_str(j, "user_code");
	/* "verification_url" is what some pre-RFC servers (Google) send. */
	vu = json_str(j, "verification_uri") ? json_str(j, "verification_uri") : json_str(j, "verification_url");
	vuc = json_str(j, "verification_uri_complete");
	if (!dc || !*dc || !uc || !*uc || !vu || !*vu) {
		rc = bs_error_set(err, BS_ERR_SERVER, "malformed device authorization answer: %s missing",
		                  !dc || !*dc   ? "device_code"
		                  : !uc || !*uc ? "user_code"
		                                : "verification_uri");
		goto out;
	}
	d->device_code = bs_xstrdup(dc);
	d->user_code = bs_xstrdup(uc);
	d->verification_uri = bs_xstrdup(vu);
	d->verification_uri_complete = vuc && *vuc ? bs_xstrdup(vuc) : NULL;
	/* RFC 8628 §3.2: interval defaults to 5 s; expires_in is required, but be forgiving. */
	if (json_long(j, "interval", &d->interval) < 0 || d->interval < 1)
		d->interval = 5;
	if (json_long(j, "expires_in", &d->expires_in) < 0 || d->expires_in < 1)
		d->expires_in = 900;
	rc = 0;
out:
	cJSON_Delete(j);
	bs_http_response_free(&resp);
	return rc;
}

int bs_oauth_device_login(bs_oauth_tokens *out, bs_http *h, const bs_oauth_endpoints *ep, const char *client_id,
                          const char *scope, const bs_device_ui *ui, bs_error *err)
{
	device_code d;
	bs_device_prompt prompt;
	bs_buf form = BS_BUF_INIT;
	long long deadline;
	long interval_ms, net_backoff_ms = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!ep->device_authorization_endpoint)
		return bs_error_set(err, BS_ERR_UNSUPPORTED,
		                    "the server does not offer the device authorization grant (RFC 8628); "
		                    "use a personal access token in BSTSCAN_TOKEN instead");
	rc = request_device_code(&d, h, ep->device_authorization_endpoint, client_id, scope, err);
	if (rc < 0)
		return rc;
	prompt =
	    (bs_device_prompt){d.verification_uri, d.verification_uri_complete, d.user_code, d.expires_in, d.interval};
	if (ui && ui->show)
		ui->show(ui->ctx, &prompt);
	deadline = ui_now(ui) + (long long)d.expires_in * 1000;
	interval_ms = d.interval * 1000;
	bs_http_form_add(&form, "grant_type", BS_OAUTH_GRANT_DEVICE_CODE);
	bs_http_form_add(&form, "device_code", d.device_code);
	bs_http_form_add(&form, "client_id", client_id);

	for (;;) {
		bs_http_response resp;
		bs_error perr = BS_ERROR_INIT;
		cJSON *j;
		const char *e;
		long long now = ui_now(ui);
		long wait = interval_ms + net_backoff_ms;
		if (now + wait > deadline)
			wait = deadline > now ? (long)(deadline - now) : 0;
		if (wait_with_ticks(ui, wait, deadline)) {
			rc = bs_error_set(err, BS_ERR_CANCELLED, "login cancelled");
			break;
		}
		if (ui_now(ui) >= deadline) {
			rc = bs_error_set(err, BS_ERR_AUTH,
			                  "the code expired before the login was approved. Run: bstscan auth login");
			break;
		}
		/* The poll loop does its own pacing: no hidden retries inside bs_http. */
		rc = bs_http_post_form(h, &resp, ep->token_endpoint, &form, NULL, BS_HTTP_RETRY_NONE, &perr);
		if (rc == BS_ERR_CANCELLED) {
			bs_http_response_free(&resp);
			rc = bs_error_set(err, BS_ERR_CANCELLED, "login cancelled");
			break;
		}
		if (rc == BS_ERR_NET) {
			/* RFC 8628 §3.5: back off on connection trouble and keep going until the deadline. */
			net_backoff_ms = net_backoff_ms ? net_backoff_ms * 2 : interval_ms;
			if (net_backoff_ms > 60000)
				net_backoff_ms = 60000;
			ui_notice(ui, "%s; retrying in %ld s", perr.message, (interval_ms + net_backoff_ms) / 1000);
			bs_http_response_free(&resp);
			continue;
		}
		if (rc < 0) {
			bs_error_set(err, rc, "%s", perr.message);
			bs_http_response_free(&resp);
			break;
		}
		j = body_object(&resp);
		e = j ? json_str(j, "error") : NULL;
		if (e) {
			/* A real OAuth answer: the server is healthy again, back to the plain interval. */
			net_backoff_ms = 0;
			rc = 1;
			if (!strcmp(e, "authorization_pending")) {
				/* keep polling */
			} else if (!strcmp(e, "slow_down")) {
				/* RFC 8628 §3.5: +5 s for this and every later request. */
				interval_ms += 5000;
				ui_notice(ui, "the server asked to slow down: polling every %ld s", interval_ms / 1000);
			} else if (!strcmp(e, "access_denied")) {
				rc = bs_error_set(err, BS_ERR_AUTH, "the login request was denied");
			} else if (!strcmp(e, "expired_token")) {
				rc = bs_error_set(
				    err, BS_ERR_AUTH,
				    "the code expired before the login was approved. Run: bstscan auth login");
			} else {
				bs_buf m = BS_BUF_INIT;
				describe_oauth_error(&m, j);
				rc = bs_error_set(err, BS_ERR_SERVER, "the server refused the login: %s", m.ptr);
				bs_buf_free(&m);
			}
		} else if (resp.status / 100 == 2 && j) {
			rc = parse_tokens(out, j, scope, "the device login", err);
		} else if (resp.status == 429 || resp.status >= 500) {
			/* An overloaded or failing server (an HTML error page): wait longer, do not give up. */
			long ra = bs_http_parse_retry_after(resp.retry_after);
			net_backoff_ms = ra > 0 ? ra : (net_backoff_ms ? net_backoff_ms * 2 : interval_ms);
			if (net_backoff_ms > 60000)
				net_backoff_ms = 60000;
			ui_notice(ui, "the server answered HTTP %ld; retrying in %ld s", resp.status,
			          (interval_ms + net_backoff_ms) / 1000);
			rc = 1;
		} else {
			rc = unexpected(err, "the device login poll", ep->token_endpoint, &resp);
		}
		cJSON_Delete(j);
		bs_http_response_free(&resp);
		if (rc <= 0)
			break;
	}
	bs_buf_free_secure(&form);
	device_code_free(&d);
	if (rc < 0)
		bs_oauth_tokens_free(out);
	return rc;
}

/* ---- refresh, exchange, revoke ---- */

/* Posts a token request and interprets the answer: invalid_grant is BS_ERR_AUTH, any other
 * refusal or a malformed answer BS_ERR_SERVER. */
static int token_request(bs_oauth_tokens *out, bs_http *h, const char *url, const bs_buf *form, const char *scope,
                         const char *what, bs_error *err)
{
	bs_http_response resp;
	cJSON *j = NULL;
	const char *e;
	/* Only retry what the server cannot have acted on: a spent refresh token is gone for good. */
	int rc = bs_http_post_form(h, &resp, url, form, NULL, BS_HTTP_RETRY_UNSENT, err);
	memset(out, 0, sizeof(*out));
	if (rc < 0)
		goto out;
	j = body_object(&resp);
	e = j ? json_str(j, "error") : NULL;
	if (e) {
		/* An error member is an error whatever the status (RFC 6749 says 400; not every server does). */
		bs_buf m = BS_BUF_INIT;
		describe_oauth_error(&m, j);
		rc = bs_error_set(err, !strcmp(e, "invalid_grant") ? BS_ERR_AUTH : BS_ERR_SERVER,
		                  "the server refused %s: %s", what, m.ptr);
		bs_buf_free(&m);
		goto out;
	}
	if (resp.status / 100 != 2 || !j) {
		rc = unexpected(err, what, url, &resp);
		goto out;
	}
	rc = parse_tokens(out, j, scope, what, err);
out:
	cJSON_Delete(j);
	bs_http_response_free(&resp);
	return rc;
}

int bs_oauth_refresh(bs_oauth_tokens *out, bs_http *h, const char *token_endpoint, const char *client_id,
                     const char *refresh_token, bs_error *err)
{
	bs_buf form = BS_BUF_INIT;
	int rc;
	bs_http_form_add(&form, "grant_type", "refresh_token");
	bs_http_form_add(&form, "refresh_token", refresh_token);
	bs_http_form_add(&form, "client_id", client_id);
	rc = token_request(out, h, token_endpoint, &form, NULL, "the refresh", err);
	bs_buf_free_secure(&form);
	return rc;
}

int bs_oauth_token_exchange(bs_oauth_tokens *out, bs_http *h, const char *token_endpoint, const char *client_id,
                            const char *subject_token, const char *audience, const char *scope, bs_error *err)
{
	bs_buf form = BS_BUF_INIT;
	int rc;
	bs_http_form_add(&form, "grant_type", BS_OAUTH_GRANT_TOKEN_EXCHANGE);
	bs_http_form_add(&form, "subject_token", subject_token);
	bs_http_form_add(&form, "subject_token_type", BS_OAUTH_TOKEN_TYPE_ID_TOKEN);
	bs_http_form_add(&form, "requested_token_type", BS_OAUTH_TOKEN_TYPE_ACCESS_TOKEN);
	if (audience && *audience)
		bs_http_form_add(&form, "audience", audience);
	if (scope && *scope)
		bs_http_form_add(&form, "scope", scope);
	bs_http_form_add(&form, "client_id", client_id);
	rc = token_request(out, h, token_endpoint, &form, scope, "the token exchange", err);
	bs_buf_free_secure(&form);
	if (rc == 0 && (!out->issued_token_type || strcmp(out->issued_token_type, BS_OAUTH_TOKEN_TYPE_ACCESS_TOKEN))) {
		/* RFC 8693 §2.2.1: issued_token_type is required; anything else is not usable as a bearer. */
		bs_buf t = BS_BUF_INIT;
		bs_oauth_append_server_text(&t, out->issued_token_type ? out->issued_token_type : "(none)");
		rc = bs_error_set(err, BS_ERR_SERVER,
		                  "the token exchange issued a token of type %s, not an access token", t.ptr);
		bs_buf_free(&t);
		bs_oauth_tokens_free(out);
	}
	return rc;
}

int bs_oauth_revoke(bs_http *h, const char *revocation_endpoint, const char *client_id, const char *token,
                    const char *hint, bs_error *err)
{
	bs_buf form = BS_BUF_INIT;
	bs_http_response resp;
	int rc;
	bs_http_form_add(&form, "token", token);
	if (hint)
		bs_http_form_add(&form, "token_type_hint", hint);
	bs_http_form_add(&form, "client_id", client_id);
	/* Revoking twice is harmless (RFC 7009 §2.2): retry freely. */
	rc = bs_http_post_form(h, &resp, revocation_endpoint, &form, NULL, BS_HTTP_RETRY_IDEMPOTENT, err);
	bs_buf_free_secure(&form);
	if (rc == 0 && resp.status != 200) {
		cJSON *j = body_object(&resp);
		if (j && json_str(j, "error")) {
			bs_buf m = BS_BUF_INIT;
			describe_oauth_error(&m, j);
			rc = bs_error_set(err, BS_ERR_SERVER, "the server refused the revocation: %s", m.ptr);
			bs_buf_free(&m);
		} else {
			rc = unexpected(err, "the revocation", revocation_endpoint, &resp);
		}
		cJSON_Delete(j);
	}
	bs_http_response_free(&resp);
	return rc;
}
