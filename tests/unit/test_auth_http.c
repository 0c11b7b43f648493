/* auth/http.c and auth/oauth.c against the fake OAuth server: the HTTP promises (TLS-only except
 * loopback, headers, retries, limits, redaction) and the protocol quirks of real servers. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/http.h"
#include "auth/oauth.h"
#include "common/buf.h"
#include "tests/fixtures/auth/fake_oauth.h"
#include "tests/support/testutil.h"

static bs_http *new_client(long timeout_ms)
{
	bs_http *h;
	bs_error err = BS_ERROR_INIT;
	bs_http_options o = {0};
	o.timeout_ms = timeout_ms;
	o.connect_timeout_ms = timeout_ms;
	o.retry_base_ms = 20;
	o.max_retry_wait_ms = 2000;
	cr_assert_eq(bs_http_new(&h, &o, &err), 0, "%s", err.message);
	return h;
}

static void collect_log(void *ctx, const char *line)
{
	bs_buf_adds(ctx, line);
	bs_buf_addch(ctx, '\n');
}

Test(http, plain_http_only_for_loopback)
{
	bs_error err = BS_ERROR_INIT;
	cr_assert_eq(bs_http_check_url("https://issuer.example/x", &err), 0);
	cr_assert_eq(bs_http_check_url("http://127.0.0.1:8080/x", &err), 0);
	cr_assert_eq(bs_http_check_url("http://127.9.8.7/", &err), 0);
	cr_assert_eq(bs_http_check_url("http://localhost:1/", &err), 0);
	cr_assert_eq(bs_http_check_url("http://[::1]:99/", &err), 0);
	cr_assert_eq(bs_http_check_url("http://issuer.example/", &err), BS_ERR_USAGE);
	cr_assert(strstr(err.message, "https://"), "%s", err.message);
	cr_assert_eq(bs_http_check_url("http://128.0.0.1/", &err), BS_ERR_USAGE);
	cr_assert_eq(bs_http_check_url("http://localhost.evil.example/", &err), BS_ERR_USAGE);
	cr_assert_eq(bs_http_check_url("ftp://127.0.0.1/", &err), BS_ERR_USAGE);
	cr_assert_eq(bs_http_check_url("https://user:pw@issuer.example/", &err), BS_ERR_USAGE);
	cr_assert_null(strstr(err.message, "pw"));
	cr_assert_eq(bs_http_check_url("not a url", &err), BS_ERR_USAGE);
}

Test(http, refuses_plain_http_to_a_remote_host_before_sending)
{
	bs_http *h = new_client(2000);
	bs_http_response r;
	bs_error err = BS_ERROR_INIT;
	cr_assert_eq(bs_http_get(h, &r, "http://192.0.2.1/api", "secret-bearer", BS_HTTP_RETRY_NONE, &err),
	             BS_ERR_USAGE);
	cr_assert_eq(r.attempts, 0);
	cr_assert_null(strstr(err.message, "secret-bearer"));
	bs_http_response_free(&r);
	bs_http_free(h);
}

Test(http, sends_user_agent_accept_and_bearer_and_logs_it_redacted)
{
	fake_oauth *fo = fo_start();
	bs_http *h = new_client(5000);
	bs_http_response r;
	bs_error err = BS_ERROR_INIT;
	bs_buf log = BS_BUF_INIT, url = BS_BUF_INIT;
	fo_request q;
	fo_json(fo, "GET", "/api/v1/me", 200, "{\"sub\":\"u1\"}");
	bs_http_set_log(h, collect_log, &log);
	bs_buf_addf(&url, "%s/api/v1/me?x=secret-query", fo->url);
	cr_assert_eq(bs_http_get(h, &r, url.ptr, "tok-SECRET-123", BS_HTTP_RETRY_NONE, &err), 0, "%s", err.message);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body.ptr, "{\"sub\":\"u1\"}");
	cr_assert(bs_http_response_is_json(&r));
	q = fo_req(fo, "/api/v1/me", 0);
	cr_assert_str_eq(q.user_agent, "bstscan/" BS_VERSION);
	cr_assert_str_eq(q.accept, "application/json");
	cr_assert_str_eq(q.authorization, "Bearer tok-SECRET-123");
	cr_assert(strstr(log.ptr, "Authorization: Bearer [redacted]"), "%s", log.ptr);
	cr_assert_null(strstr(log.ptr, "tok-SECRET-123"));
	cr_assert_null(strstr(log.ptr, "secret-query"), "query strings stay out of logs: %s", log.ptr);
	bs_http_response_free(&r);
	bs_buf_free(&log);
	bs_buf_free(&url);
	bs_http_free(h);
	fo_stop(fo);
}

Test(http, form_bodies_are_percent_encoded)
{
	bs_buf f = BS_BUF_INIT;
	bs_http_form_add(&f, "scope", "leaks:check leaks:revoke");
	bs_http_form_add(&f, "x", "a&b=c/é");
	cr_assert_str_eq(f.ptr, "scope=leaks%3Acheck%20leaks%3Arevoke&x=a%26b%3Dc%2F%C3%A9");
	bs_buf_free(&f);
}

Test(http, retries_5xx_only_when_the_caller_allows)
{
	fake_oauth *fo = fo_start();
	bs_http *h = new_client(5000);
	bs_http_response r;
	bs_error err = BS_ERROR_INIT;
	char url[128];
	snprintf(url, sizeof(url), "%s/idem", fo->url);
	fo_add(fo, "GET", "/idem", (fo_reply){503, "text/html", "<html>busy</html>", NULL, 0, 0});
	fo_json(fo, "GET", "/idem", 200, "{}");
	cr_assert_eq(bs_http_get(h, &r, url, NULL, BS_HTTP_RETRY_IDEMPOTENT, &err), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.attempts, 2);
	bs_http_response_free(&r);

	snprintf(url, sizeof(url), "%s/once", fo->url);
	fo_add(fo, "POST", "/once", (fo_reply){503, "text/html", "<html>busy</html>", NULL, 0, 0});
	fo_json(fo, "POST", "/once", 200, "{}");
	cr_assert_eq(bs_http_post_json(h, &r, url, "{}", NULL, BS_HTTP_RETRY_UNSENT, &err), 0);
	cr_assert_eq(r.status, 503, "a 5xx is not retried when the server may have acted");
	cr_assert_eq(fo_hits(fo, "POST", "/once"), 1);
	bs_http_response_free(&r);
	bs_http_free(h);
	fo_stop(fo);
}

Test(http, honours_retry_after_on_429_and_gives_up_past_the_cap)
{
	fake_oauth *fo = fo_start();
	bs_http *h = new_client(5000);
	bs_http_response r;
	bs_error err = BS_ERROR_INIT;
	char url[128];
	snprintf(url, sizeof(url), "%s/rl", fo->url);
	fo_add(fo, "POST", "/rl", (fo_reply){429, "application/json", "{}", "Retry-After: 1", 0, 0});
	fo_json(fo, "POST", "/rl", 200, "{\"ok\":true}");
	cr_assert_eq(bs_http_post_json(h, &r, url, "{}", NULL, BS_HTTP_RETRY_UNSENT, &err), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.attempts, 2);
	bs_http_response_free(&r);

	snprintf(url, sizeof(url), "%s/rl2", fo->url);
	fo_add(fo, "GET", "/rl2", (fo_reply){429, "application/json", "{}", "Retry-After: 3600", 0, 0});
	cr_assert_eq(bs_http_get(h, &r, url, NULL, BS_HTTP_RETRY_IDEMPOTENT, &err), 0);
	cr_assert_eq(r.status, 429);
	cr_assert_str_eq(r.retry_after, "3600");
	cr_assert_eq(r.attempts, 1, "a wait beyond the cap is the caller's decision");
	bs_http_response_free(&r);
	bs_http_free(h);
	fo_stop(fo);
}

Test(http, parses_retry_after_forms)
{
	cr_assert_eq(bs_http_parse_retry_after("7"), 7000);
	cr_assert_eq(bs_http_parse_retry_after(" 0 "), 0);
	cr_assert_eq(bs_http_parse_retry_after("soon"), -1);
	cr_assert_eq(bs_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), 0, "a past date means now");
	cr_assert_eq(bs_http_parse_retry_after(NULL), -1);
}

Test(http, bounds_the_response_body)
{
	fake_oauth *fo = fo_start();
	bs_http *h;
	bs_http_response r;
	bs_error err = BS_ERROR_INIT;
	bs_http_options o = {0};
	char url[128];
	static char big[5000];
	memset(big, 'a', sizeof(big) - 1);
	o.max_body_bytes = 1000;
	cr_assert_eq(bs_http_new(&h, &o, &err), 0);
	snprintf(url, sizeof(url), "%s/big", fo->url);
	fo_add(fo, "GET", "/big", (fo_reply){200, "text/plain", big, NULL, 0, 0});
	cr_assert_eq(bs_http_get(h, &r, url, NULL, BS_HTTP_RETRY_NONE, &err), BS_ERR_LIMIT);
	cr_assert(strstr(err.message, "1000 bytes"), "%s", err.message);
	bs_http_response_free(&r);
	bs_http_free(h);
	fo_stop(fo);
}

Test(http, a_server_that_never_answers_times_out_as_a_network_error)
{
	int port, s = fo_black_hole(&port);
	bs_http *h = new_client(500);
	bs_http_response r;
	bs_error err = BS_ERROR_INIT;
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/oauth/token", port);
	cr_assert_eq(bs_http_get(h, &r, url, "never-shown-token", BS_HTTP_RETRY_NONE, &err), BS_ERR_NET);
	cr_assert(strstr(err.message, "cannot reach"), "%s", err.message);
	cr_assert_null(strstr(err.message, "never-shown-token"));
	bs_http_response_free(&r);
	bs_http_free(h);
	close(s);
}

Test(http, a_dropped_connection_is_retried_for_idempotent_calls)
{
	fake_oauth *fo = fo_start();
	bs_http *h = new_client(3000);
	bs_http_response r;
	bs_error err = BS_ERROR_INIT;
	char url[128];
	snprintf(url, sizeof(url), "%s/flaky", fo->url);
	fo_add(fo, "GET", "/flaky", (fo_reply){0, NULL, NULL, NULL, 1, 0});
	fo_json(fo, "GET", "/flaky", 200, "{}");
	cr_assert_eq(bs_http_get(h, &r, url, NULL, BS_HTTP_RETRY_IDEMPOTENT, &err), 0, "%s", err.message);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(fo_hits(fo, "GET", "/flaky"), 2);
	bs_http_response_free(&r);
	bs_http_free(h);
	fo_stop(fo);
}

/* ---- discovery ---- */

Test(discovery, prefers_rfc8414_metadata)
{
	fake_oauth *fo = fo_start();
	bs_http *h = new_client(5000);
	bs_oauth_endpoints ep;
	bs_error err = BS_ERROR_INIT;
	char want[128];
	fo_json(
	    fo, "GET", "/.well-known/oauth-authorization-server", 200,
	    "{\"issuer\":\"{URL}\",\"device_authorization_endpoint\":\"{URL}/dev\",\"token_endpoint\":\"{URL}/tok\","
	    "\"revocation_endpoint\":\"{URL}/rev\"}");
	cr_assert_eq(bs_oauth_discover(&ep, h, fo->url, &err), 0, "%s", err.message);
	cr_assert_eq(ep.source, BS_OAUTH_DISCOVERY_RFC8414);
	snprintf(want, sizeof(want), "%s/tok", fo->url);
	cr_assert_str_eq(ep.token_endpoint, want);
	snprintf(want, sizeof(want), "%s/dev", fo->url);
	cr_assert_str_eq(ep.device_authorization_endpoint, want);
	cr_assert_eq(fo_hits(fo, "GET", "/.well-known/openid-configuration"), 0);
	bs_oauth_endpoints_free(&ep);
	bs_http_free(h);
	fo_stop(fo);
}

Test(discovery, falls_back_to_oidc_then_to_default_paths)
{
	fake_oauth *fo = fo_start();
	bs_http *h = new_client(5000);
	bs_oauth_endpoints ep;
	bs_error err = BS_ERROR_INIT;
	char want[128];
	fo_json(fo, "GET", "/.well-known/openid-configuration", 200,
	        "{\"issuer\":\"{URL}/\",\"token_endpoint\":\"{URL}/o/token\"}");
	cr_assert_eq(bs_oauth_discover(&ep, h, fo->url, &err), 0, "%s", err.message);
	cr_assert_eq(ep.source, BS_OAUTH_DISCOVERY_OIDC);
	cr_assert_null(ep.device_authorization_endpoint, "an OIDC provider without device flow says so");
	bs_oauth_endpoints_free(&ep);
	fo_stop(fo);

	fo = fo_start();
	cr_assert_eq(bs_oauth_discover(&ep, h, fo->url, &err), 0, "%s", err.message);
	cr_assert_eq(ep.source, BS_OAUTH_DISCOVERY_DEFAULTS);
	snprintf(want, sizeof(want), "%s/oauth/device/authorize", fo->url);
	cr_assert_str_eq(ep.device_authorization_endpoint, want);
	snprintf(want, sizeof(want), "%s/oauth/revoke", fo->url);
	cr_assert_str_eq(ep.revocation_endpoint, want);
	cr_assert_eq(fo_hits(fo, "GET", "/.well-known/oauth-authorization-server"), 1);
	cr_assert_eq(fo_hits(fo, "GET", "/.well-known/openid-configuration"), 1);
	bs_oauth_endpoints_free(&ep);
	bs_http_free(h);
	fo_stop(fo);
}

Test(discovery, rejects_metadata_for_another_issuer_and_server_errors)
{
	fake_oauth *fo = fo_start();
	bs_http *h = new_client(5000);
	bs_oauth_endpoints ep;
	bs_error err = BS_ERROR_INIT;
	fo_json(fo, "GET", "/.well-known/oauth-authorization-server", 200,
	        "{\"issuer\":\"https://evil.example\",\"token_endpoint\":\"https://evil.example/t\"}");
	cr_assert_eq(bs_oauth_discover(&ep, h, fo->url, &err), BS_ERR_SERVER);
	cr_assert(strstr(err.message, "evil.example"), "%s", err.message);
	fo_stop(fo);

	fo = fo_start();
	fo_add(fo, "GET", "/.well-known/oauth-authorization-server",
	       (fo_reply){500, "text/html", "<html><body>Internal error</body></html>", NULL, 0, 0});
	cr_assert_eq(bs_oauth_discover(&ep, h, fo->url, &err), BS_ERR_SERVER);
	cr_assert(strstr(err.message, "HTTP 500"), "%s", err.message);
	cr_assert_null(strstr(err.message, "<html>"), "no HTML in messages: %s", err.message);
	bs_http_free(h);
	fo_stop(fo);
}

/* ---- device flow, with a fake clock so intervals are asserted exactly and nothing sleeps ---- */

typedef struct fake_ui {
	int shown;
	int ticks;
	int cancel_after_ticks;
	char user_code[32];
	char vuc[256];
	int had_vuc;
	bs_buf notices;
} fake_ui;

static long long fake_now(void *ctx)
{
	(void)ctx;
	return fo_clock_ms;
}

static void fake_sleep(void *ctx, long ms)
{
	(void)ctx;
	fo_clock_ms += ms;
}

static void fake_show(void *ctx, const bs_device_prompt *p)
{
	fake_ui *u = ctx;
	u->shown++;
	snprintf(u->user_code, sizeof(u->user_code), "%s", p->user_code);
	u->had_vuc = p->verification_uri_complete != NULL;
	if (p->verification_uri_complete)
		snprintf(u->vuc, sizeof(u->vuc), "%s", p->verification_uri_complete);
}

static void fake_tick(void *ctx, long left)
{
	fake_ui *u = ctx;
	(void)left;
	u->ticks++;
}

static void fake_notice(void *ctx, const char *msg)
{
	fake_ui *u = ctx;
	bs_buf_adds(&u->notices, msg);
	bs_buf_addch(&u->notices, '\n');
}

static int fake_cancelled(void *ctx)
{
	fake_ui *u = ctx;
	return u->cancel_after_ticks && u->ticks >= u->cancel_after_ticks;
}

#define DEVICE_CODE "dc-very-secret-device-code"

static int run_login(fake_oauth *fo, fake_ui *u, bs_oauth_tokens *t, bs_error *err)
{
	bs_http *h = new_client(2000);
	bs_oauth_endpoints ep;
	bs_device_ui ui = {fake_show, fake_tick, fake_notice, fake_cancelled, fake_now, fake_sleep, u};
	int rc;
	fo_clock_ms = 1000000;
	u->notices = (bs_buf)BS_BUF_INIT;
	cr_assert_eq(bs_oauth_discover(&ep, h, fo->url, err), 0, "%s", err->message);
	rc = bs_oauth_device_login(t, h, &ep, "bstscan-cli", "leaks:check", &ui, err);
	bs_oauth_endpoints_free(&ep);
	bs_http_free(h);
	return rc;
}

static void device_code_reply(fake_oauth *fo, const char *extra)
{
	char body[1024];
	snprintf(body, sizeof(body),
	         "{\"device_code\":\"" DEVICE_CODE
	         "\",\"user_code\":\"WDJB-MJHT\",\"verification_uri\":\"{URL}/device\""
	         "%s}",
	         extra);
	fo_json(fo, "POST", "/oauth/device/authorize", 200, body);
}

static const char *tokens_body(void)
{
	static char body[1024];
	char *jwt = fo_make_jwt((long long)time(NULL) + 900, "u1");
	snprintf(body, sizeof(body),
	         "{\"access_token\":\"%s\",\"token_type\":\"Bearer\",\"expires_in\":600,\"refresh_token\":\"rt-1\","
	         "\"scope\":\"leaks:check\"}",
	         jwt);
	free(jwt);
	return body;
}

/* Gap between the k-th and (k-1)-th poll, in fake-clock ms. Polls are told apart by their clock:
 * curl transparently re-sends once when a reused connection turns out dead, at the same instant. */
static long poll_gap(fake_oauth *fo, int k)
{
	long long clocks[64];
	int n = 0, total = fo_hits(fo, "POST", "/oauth/token");
	for (int i = 0; i < total && n < 64; i++) {
		long long c = fo_req(fo, "/oauth/token", i).clock;
		if (!n || clocks[n - 1] != c)
			clocks[n++] = c;
	}
	cr_assert_lt(k, n, "only %d polls", n);
	return (long)(clocks[k] - clocks[k - 1]);
}

Test(device_flow, polls_at_the_interval_and_slow_down_adds_five_seconds_for_good)
{
	fake_oauth *fo = fo_start();
	fake_ui u = {0};
	bs_oauth_tokens t;
	bs_error err = BS_ERROR_INIT;
	fo_request q;
	device_code_reply(fo, ",\"verification_uri_complete\":\"{URL}/device?user_code=WDJBMJHT\",\"expires_in\":600,"
	                      "\"interval\":2");
	fo_json(fo, "POST", "/oauth/token", 400, "{\"error\":\"authorization_pending\"}");
	fo_json(fo, "POST", "/oauth/token", 400, "{\"error\":\"slow_down\"}");
	fo_json(fo, "POST", "/oauth/token", 400, "{\"error\":\"authorization_pending\"}");
	fo_json(fo, "POST", "/oauth/token", 400, "{\"error\":\"authorization_pending\"}");
	fo_json(fo, "POST", "/oauth/token", 200, tokens_body());
	cr_assert_eq(run_login(fo, &u, &t, &err), 0, "%s", err.message);
	cr_assert_eq(u.shown, 1);
	cr_assert_str_eq(u.user_code, "WDJB-MJHT");
	cr_assert(u.had_vuc);
	cr_assert_eq(fo_hits(fo, "POST", "/oauth/token"), 5);
	cr_assert_eq(poll_gap(fo, 1), 2000, "the poll answered slow_down came at the interval (%ld)", poll_gap(fo, 1));
	cr_assert_eq(poll_gap(fo, 2), 7000, "slow_down: 2 + 5 s (%ld)", poll_gap(fo, 2));
	cr_assert_eq(poll_gap(fo, 3), 7000, "and it stays increased");
	cr_assert_eq(poll_gap(fo, 4), 7000, "for the rest of the flow");
	cr_assert(strstr(u.notices.ptr, "slow down"), "%s", u.notices.ptr);
	q = fo_req(fo, "/oauth/token", 0);
	cr_assert_str_eq(q.accept, "application/json");
	cr_assert(strstr(q.body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"), "%s", q.body);
	cr_assert(strstr(q.body, "client_id=bstscan-cli"));
	q = fo_req(fo, "/oauth/device/authorize", 0);
	cr_assert(strstr(q.body, "scope=leaks%3Acheck"), "%s", q.body);
	cr_assert_str_eq(t.refresh_token, "rt-1");
	cr_assert_str_eq(t.scope, "leaks:check");
	cr_assert(t.expires_at > time(NULL) + 500 && t.expires_at <= time(NULL) + 601,
	          "expiry is the earlier of exp and expires_in");
	bs_oauth_tokens_free(&t);
	bs_buf_free(&u.notices);
	fo_stop(fo);
}

Test(device_flow, missing_interval_means_five_seconds_and_missing_complete_uri_is_fine)
{
	fake_oauth *fo = fo_start();
	fake_ui u = {0};
	bs_oauth_tokens t;
	bs_error err = BS_ERROR_INIT;
	device_code_reply(fo, ",\"expires_in\":600");
	/* Some servers answer 200 with an error member: it is still an error. */
	fo_json(fo, "POST", "/oauth/token", 200, "{\"error\":\"authorization_pending\"}");
	fo_json(fo, "POST", "/oauth/token", 200, tokens_body());
	cr_assert_eq(run_login(fo, &u, &t, &err), 0, "%s", err.message);
	cr_assert_not(u.had_vuc);
	cr_assert_eq(fo_req(fo, "/oauth/token", 0).clock - 1000000, 5000);
	cr_assert_eq(poll_gap(fo, 1), 5000);
	bs_oauth_tokens_free(&t);
	bs_buf_free(&u.notices);
	fo_stop(fo);
}

Test(device_flow, stops_on_access_denied)
{
	fake_oauth *fo = fo_start();
	fake_ui u = {0};
	bs_oauth_tokens t;
	bs_error err = BS_ERROR_INIT;
	device_code_reply(fo, ",\"interval\":1,\"expires_in\":60");
	fo_json(fo, "POST", "/oauth/token", 400, "{\"error\":\"authorization_pending\"}");
	fo_json(fo, "POST", "/oauth/token", 400, "{\"error\":\"access_denied\"}");
	cr_assert_eq(run_login(fo, &u, &t, &err), BS_ERR_AUTH);
	cr_assert(strstr(err.message, "denied"), "%s", err.message);
	cr_assert_eq(fo_hits(fo, "POST", "/oauth/token"), 2);
	cr_assert_null(t.access_token);
	bs_buf_free(&u.notices);
	fo_stop(fo);
}

Test(device_flow, stops_on_expired_token)
{
	fake_oauth *fo = fo_start();
	fake_ui u = {0};
	bs_oauth_tokens t;
	bs_error err = BS_ERROR_INIT;
	device_code_reply(fo, ",\"interval\":1,\"expires_in\":60");
	fo_json(fo, "POST", "/oauth/token", 400, "{\"error\":\"expired_token\"}");
	cr_assert_eq(run_login(fo, &u, &t, &err), BS_ERR_AUTH);
	cr_assert(strstr(err.message, "expired"), "%s", err.message);
	cr_assert(strstr(err.message, "bstscan auth login"), "%s", err.message);
	bs_buf_free(&u.notices);
	fo_stop(fo);
}

Test(device_flow, stops_at_the_deadline_without_polling_past_it)
{
	fake_oauth *fo = fo_start();
	fake_ui u = {0};
	bs_oauth_tokens t;
	bs_error err = BS_ERROR_INIT;
	device_code_reply(fo, ",\"interval\":2,\"expires_in\":7");
	fo_json(fo, "POST", "/oauth/token", 400, "{\"error\":\"authorization_pending\"}");
	cr_assert_eq(run_login(fo, &u, &t, &err), BS_ERR_AUTH);
	cr_assert(strstr(err.message, "expired"), "%s", err.message);
	cr_assert_eq(fo_hits(fo, "POST", "/oauth/token"), 3, "polls at 2, 4, 6 s; none at or after 7 s");
	cr_assert(u.ticks >= 7, "the countdown ticked each second (%d)", u.ticks);
	bs_buf_free(&u.notices);
	fo_stop(fo);
}

Test(device_flow, other_errors_stop_with_a_message_that_never_shows_the_device_code)
{
	fake_oauth *fo = fo_start();
	fake_ui u = {0};
	bs_oauth_tokens t;
	bs_error err = BS_ERROR_INIT;
	device_code_reply(fo, ",\"interval\":1");
	fo_json(fo, "POST", "/oauth/token", 400,
	        "{\"error\":\"invalid_client\",\"error_description\":\"unknown client\\u0007 id\"}");
	cr_assert_eq(run_login(fo, &u, &t, &err), BS_ERR_SERVER);
	cr_assert(strstr(err.message, "invalid_client"), "%s", err.message);
	cr_assert(strstr(err.message, "unknown client? id"), "control characters are neutralised: %s", err.message);
	cr_assert_null(strstr(err.message, DEVICE_CODE));
	bs_buf_free(&u.notices);
	fo_stop(fo);
}

Test(device_flow, rides_out_html_error_pages_and_dropped_connections_with_growing_waits)
{
	fake_oauth *fo = fo_start();
	fake_ui u = {0};
	bs_oauth_tokens t;
	bs_error err = BS_ERROR_INIT;
	device_code_reply(fo, ",\"interval\":1,\"expires_in\":600");
	fo_add(fo, "POST", "/oauth/token", (fo_reply){0, NULL, NULL, NULL, 1, 0});
	fo_add(fo, "POST", "/oauth/token", (fo_reply){0, NULL, NULL, NULL, 1, 0});
	fo_add(fo, "POST", "/oauth/token", (fo_reply){0, NULL, NULL, NULL, 1, 0});
	fo_add(fo, "POST", "/oauth/token",
	       (fo_reply){502, "text/html", "<html><h1>502 Bad Gateway</h1></html>", NULL, 0, 0});
	fo_json(fo, "POST", "/oauth/token", 200, tokens_body());
	cr_assert_eq(run_login(fo, &u, &t, &err), 0, "%s", err.message);
	cr_assert_geq(fo_hits(fo, "POST", "/oauth/token"), 4);
	cr_assert_eq(poll_gap(fo, 1), 2000, "first network error: interval + interval (%ld)", poll_gap(fo, 1));
	cr_assert_eq(poll_gap(fo, 2), 3000, "second: the extra wait doubles");
	cr_assert_eq(poll_gap(fo, 3), 5000, "and doubles again (%ld)", poll_gap(fo, 3));
	cr_assert(strstr(u.notices.ptr, "HTTP 502"), "%s", u.notices.ptr);
	bs_oauth_tokens_free(&t);
	bs_buf_free(&u.notices);
	fo_stop(fo);
}

Test(device_flow, truncated_json_is_a_malformed_answer)
{
	fake_oauth *fo = fo_start();
	fake_ui u = {0};
	bs_oauth_tokens t;
	bs_error err = BS_ERROR_INIT;
	device_code_reply(fo, ",\"interval\":1");
	fo_json(fo, "POST", "/oauth/token", 200, "{\"access_token\":\"eyJhbGciOi");
	cr_assert_eq(run_login(fo, &u, &t, &err), BS_ERR_SERVER);
	cr_assert(strstr(err.message, "unexpected answer"), "%s", err.message);
	cr_assert_null(strstr(err.message, "eyJ"));
	bs_buf_free(&u.notices);
	fo_stop(fo);
}

Test(device_flow, ctrl_c_cancels)
{
	fake_oauth *fo = fo_start();
	fake_ui u = {0};
	bs_oauth_tokens t;
	bs_error err = BS_ERROR_INIT;
	u.cancel_after_ticks = 4;
	device_code_reply(fo, ",\"interval\":1");
	fo_json(fo, "POST", "/oauth/token", 400, "{\"error\":\"authorization_pending\"}");
	cr_assert_eq(run_login(fo, &u, &t, &err), BS_ERR_CANCELLED);
	cr_assert_lt(fo_hits(fo, "POST", "/oauth/token"), 4);
	bs_buf_free(&u.notices);
	fo_stop(fo);
}

Test(device_flow, a_refused_device_request_is_reported)
{
	fake_oauth *fo = fo_start();
	fake_ui u = {0};
	bs_oauth_tokens t;
	bs_error err = BS_ERROR_INIT;
	fo_json(fo, "POST", "/oauth/device/authorize", 400, "{\"error\":\"invalid_scope\"}");
	cr_assert_eq(run_login(fo, &u, &t, &err), BS_ERR_SERVER);
	cr_assert(strstr(err.message, "invalid_scope"), "%s", err.message);
	cr_assert_eq(u.shown, 0);
	bs_buf_free(&u.notices);
	fo_stop(fo);
}

/* ---- refresh, exchange, revoke ---- */

Test(tokens, refresh_distinguishes_invalid_grant_from_garbage)
{
	fake_oauth *fo = fo_start();
	bs_http *h = new_client(3000);
	bs_oauth_tokens t;
	bs_error err = BS_ERROR_INIT;
	char url[128];
	fo_request q;
	snprintf(url, sizeof(url), "%s/oauth/token", fo->url);
	fo_json(fo, "POST", "/oauth/token", 400, "{\"error\":\"invalid_grant\"}");
	fo_add(fo, "POST", "/oauth/token", (fo_reply){500, "text/html", "<html>oops</html>", NULL, 0, 0});
	fo_json(fo, "POST", "/oauth/token", 200, "{\"access_token\":\"a\",");
	fo_json(fo, "POST", "/oauth/token", 200, "{\"access_token\":\"a2\",\"token_type\":\"mac\"}");
	fo_json(
	    fo, "POST", "/oauth/token", 200,
	    "{\"access_token\":\"a3\",\"token_type\":\"bearer\",\"expires_in\":\"120\",\"refresh_token\":\"rt-2\"}");
	cr_assert_eq(bs_oauth_refresh(&t, h, url, "bstscan-cli", "rt-old-SECRET", &err), BS_ERR_AUTH);
	cr_assert_null(strstr(err.message, "rt-old-SECRET"));
	cr_assert_eq(bs_oauth_refresh(&t, h, url, "bstscan-cli", "rt-old-SECRET", &err), BS_ERR_SERVER);
	cr_assert_eq(fo_hits(fo, "POST", "/oauth/token"), 2, "a 5xx on a refresh is never retried");
	cr_assert_eq(bs_oauth_refresh(&t, h, url, "bstscan-cli", "rt-old-SECRET", &err), BS_ERR_SERVER);
	cr_assert_eq(bs_oauth_refresh(&t, h, url, "bstscan-cli", "rt-old-SECRET", &err), BS_ERR_SERVER);
	cr_assert(strstr(err.message, "Bearer"), "%s", err.message);
	cr_assert_eq(bs_oauth_refresh(&t, h, url, "bstscan-cli", "rt-old-SECRET", &err), 0, "%s", err.message);
	cr_assert_str_eq(t.access_token, "a3");
	cr_assert_str_eq(t.refresh_token, "rt-2");
	cr_assert(t.expires_at >= time(NULL) + 110 && t.expires_at <= time(NULL) + 121);
	q = fo_req(fo, "/oauth/token", 0);
	cr_assert(strstr(q.body, "grant_type=refresh_token"));
	cr_assert(strstr(q.body, "refresh_token=rt-old-SECRET"));
	bs_oauth_tokens_free(&t);
	bs_http_free(h);
	fo_stop(fo);
}

Test(tokens, exchange_checks_the_issued_token_type)
{
	fake_oauth *fo = fo_start();
	bs_http *h = new_client(3000);
	bs_oauth_tokens t;
	bs_error err = BS_ERROR_INIT;
	char url[128];
	fo_request q;
	snprintf(url, sizeof(url), "%s/oauth/token", fo->url);
	fo_json(fo, "POST", "/oauth/token", 200, "{\"access_token\":\"x\",\"token_type\":\"Bearer\"}");
	fo_json(fo, "POST", "/oauth/token", 200,
	        "{\"access_token\":\"x\",\"token_type\":\"N_A\",\"issued_token_type\":"
	        "\"urn:ietf:params:oauth:token-type:access_token\"}");
	fo_json(fo, "POST", "/oauth/token", 200,
	        "{\"access_token\":\"x\",\"token_type\":\"Bearer\",\"expires_in\":300,\"issued_token_type\":"
	        "\"urn:ietf:params:oauth:token-type:access_token\"}");
	cr_assert_eq(bs_oauth_token_exchange(&t, h, url, "bstscan-cli", "idtok", "aud1", "leaks:check", &err),
	             BS_ERR_SERVER);
	cr_assert(strstr(err.message, "issued a token of type (none)"), "%s", err.message);
	cr_assert_eq(bs_oauth_token_exchange(&t, h, url, "bstscan-cli", "idtok", "aud1", "leaks:check", &err),
	             BS_ERR_SERVER);
	cr_assert_eq(bs_oauth_token_exchange(&t, h, url, "bstscan-cli", "idtok", "aud1", "leaks:check", &err), 0, "%s",
	             err.message);
	cr_assert_str_eq(t.access_token, "x");
	cr_assert_null(t.refresh_token);
	q = fo_req(fo, "/oauth/token", 0);
	cr_assert(strstr(q.body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"), "%s", q.body);
	cr_assert(strstr(q.body, "subject_token=idtok"));
	cr_assert(strstr(q.body, "subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token"));
	cr_assert(strstr(q.body, "audience=aud1"));
	bs_oauth_tokens_free(&t);
	bs_http_free(h);
	fo_stop(fo);
}

Test(tokens, revoke_posts_rfc7009_form)
{
	fake_oauth *fo = fo_start();
	bs_http *h = new_client(3000);
	bs_error err = BS_ERROR_INIT;
	char url[128];
	fo_request q;
	snprintf(url, sizeof(url), "%s/oauth/revoke", fo->url);
	fo_add(fo, "POST", "/oauth/revoke", (fo_reply){200, NULL, "", NULL, 0, 0});
	cr_assert_eq(bs_oauth_revoke(h, url, "bstscan-cli", "rt-9", "refresh_token", &err), 0, "%s", err.message);
	q = fo_req(fo, "/oauth/revoke", 0);
	cr_assert_str_eq(q.body, "token=rt-9&token_type_hint=refresh_token&client_id=bstscan-cli");
	cr_assert_str_eq(q.content_type, "application/x-www-form-urlencoded");
	bs_http_free(h);
	fo_stop(fo);
}

Test(tokens, jwt_exp_is_read_without_verification)
{
	char *jwt = fo_make_jwt(1893456000LL, "u");
	cr_assert_eq(bs_oauth_jwt_exp(jwt), (time_t)1893456000LL);
	cr_assert_eq(bs_oauth_jwt_exp("bst_notajwt"), 0);
	cr_assert_eq(bs_oauth_jwt_exp("a.b"), 0);
	cr_assert_eq(bs_oauth_jwt_exp("a.!!!.c"), 0);
	free(jwt);
}

Test(tokens, a_refresh_is_sent_once_even_when_the_connection_dies)
{
	fake_oauth *fo = fo_start();
	bs_http *h = new_client(3000);
	bs_http_response r;
	bs_oauth_tokens t;
	bs_error err = BS_ERROR_INIT;
	char url[128];
	/* A keep-alive connection exists; the server then drops the refresh without answering. Had it
	 * acted first, a silent re-send would present the spent token again (reuse = theft). */
	snprintf(url, sizeof(url), "%s/warm", fo->url);
	fo_json(fo, "GET", "/warm", 200, "{}");
	cr_assert_eq(bs_http_get(h, &r, url, NULL, BS_HTTP_RETRY_NONE, &err), 0);
	bs_http_response_free(&r);
	fo_add(fo, "POST", "/oauth/token", (fo_reply){0, NULL, NULL, NULL, 1, 0});
	snprintf(url, sizeof(url), "%s/oauth/token", fo->url);
	cr_assert_eq(bs_oauth_refresh(&t, h, url, "bstscan-cli", "rt-once", &err), BS_ERR_NET);
	cr_assert_eq(fo_hits(fo, "POST", "/oauth/token"), 1, "the refresh reached the server exactly once");
	bs_http_free(h);
	fo_stop(fo);
}
