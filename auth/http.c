#include <arpa/inet.h>
#include <stddef.h>
#include <stdarg.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth/http.h"
#include "common/secure.h"
#include "common/banned.h"

struct bs_http {
	CURL *curl;
	bs_http_options o;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int bs_http_new(bs_http **out, const bs_http_options *opts, bs_error *err)
{
	bs_http *h;
	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return bs_error_set(err, BS_ERR_INTERNAL, "cannot initialise libcurl: %s",
		                    curl_easy_strerror(curl_init_rc));
	h = bs_xcalloc(1, sizeof(*h));
	if (opts)
		h->o = *opts;
	if (h->o.connect_timeout_ms <= 0)
		h->o.connect_timeout_ms = 10000;
	if (h->o.timeout_ms <= 0)
		h->o.timeout_ms = 30000;
	if (h->o.max_retries == 0)
		h->o.max_retries = 3;
	if (h->o.max_retries < 0)
		h->o.max_retries = 0;
	if (h->o.retry_base_ms <= 0)
		h->o.retry_base_ms = 500;
	if (h->o.max_retry_wait_ms <= 0)
		h->o.max_retry_wait_ms = 30000;
	if (h->o.max_body_bytes == 0)
		h->o.max_body_bytes = 8u << 20;
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		return bs_error_set(err, BS_ERR_INTERNAL, "cannot create a libcurl handle");
	}
	*out = h;
	return 0;
}

void bs_http_free(bs_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

void bs_http_set_log(bs_http *h, bs_http_log_fn log, void *ctx)
{
	h->o.log = log;
	h->o.log_ctx = ctx;
}

void bs_http_set_cancel(bs_http *h, bs_http_cancel_fn cancel, void *ctx)
{
	h->o.cancel = cancel;
	h->o.cancel_ctx = ctx;
}

void bs_http_response_free(bs_http_response *resp)
{
	if (!resp)
		return;
	free(resp->content_type);
	free(resp->retry_after);
	free(resp->www_authenticate);
	/* Token responses pass through here: wipe them. */
	bs_buf_free_secure(&resp->body);
	memset(resp, 0, sizeof(*resp));
	resp->body = (bs_buf)BS_BUF_INIT;
}

static void logf_(bs_http *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(bs_http *h, const char *fmt, ...)
{
	bs_buf line = BS_BUF_INIT;
	va_list ap;
	if (!h->o.log)
		return;
	va_start(ap, fmt);
	bs_buf_vaddf(&line, fmt, ap);
	va_end(ap);
	h->o.log(h->o.log_ctx, line.ptr);
	bs_buf_free(&line);
}

int bs_http_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char tmp[64];
	size_t n;
	if (!host || !*host)
		return 0;
	if (!strcasecmp(host, "localhost") || !strcasecmp(host, "localhost."))
		return 1;
	n = strlen(host);
	if (host[0] == '[' && n > 2 && host[n - 1] == ']' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		host = tmp;
	}
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

void bs_http_url_for_display(bs_buf *out, const char *url)
{
	size_t n = strcspn(url, "?#");
	bs_buf_add(out, url, n);
}

int bs_http_check_url(const char *url, bs_error *err)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *user = NULL;
	int rc = 0;
	bs_buf disp = BS_BUF_INIT;
	if (!url || !*url)
		return bs_error_set(err, BS_ERR_USAGE, "empty URL");
	bs_http_url_for_display(&disp, url);
	u = curl_url();
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = bs_error_set(err, BS_ERR_USAGE, "'%s' is not a valid URL (expected https://host[:port][/path])",
		                  disp.ptr);
		goto out;
	}
	/* Credentials in a URL would end up in logs and process listings. */
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK && user) {
		rc = bs_error_set(err, BS_ERR_USAGE, "URLs with a user name or password are not accepted");
		goto out;
	}
	if (!strcasecmp(scheme, "https"))
		goto out;
	if (!strcasecmp(scheme, "http")) {
		if (!bs_http_host_is_loopback(host))
			rc = bs_error_set(
			    err, BS_ERR_USAGE,
			    "refusing plain http:// to %s: credentials would travel unencrypted; use https:// "
			    "(http:// is allowed only for loopback addresses)",
			    host);
		goto out;
	}
	rc = bs_error_set(err, BS_ERR_USAGE, "unsupported URL scheme '%s' in %s (use https://)", scheme, disp.ptr);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	bs_buf_free(&disp);
	return rc;
}

void bs_http_urlencode(bs_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '.' || *p == '_' || *p == '~') {
			bs_buf_addch(out, *p);
		} else {
			bs_buf_addch(out, '%');
			bs_buf_addch(out, hex[*p >> 4]);
			bs_buf_addch(out, hex[*p & 15]);
		}
	}
}

void bs_http_form_add(bs_buf *form, const char *name, const char *value)
{
	if (form->len)
		bs_buf_addch(form, '&');
	bs_http_urlencode(form, name);
	bs_buf_addch(form, '=');
	bs_http_urlencode(form, value ? value : "");
}

long bs_http_parse_retry_after(const char *value)
{
	char *end;
	long secs;
	time_t when;
	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (*value >= '0' && *value <= '9') {
		secs = strtol(value, &end, 10);
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end || secs < 0 || secs > 86400L * 365)
			return -1;
		return secs * 1000;
	}
	when = curl_getdate(value, NULL);
	if (when == (time_t)-1)
		return -1;
	when -= time(NULL);
	/* Like delta seconds, a date over a year away is not a wait anyone means (and would overflow). */
	if (when > 86400L * 365)
		return -1;
	return when < 0 ? 0 : (long)when * 1000;
}

int bs_http_response_is_json(const bs_http_response *resp)
{
	const char *ct = resp->content_type;
	size_t n;
	if (!ct)
		return 0;
	n = strcspn(ct, ";");
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	if (n == 16 && !strncasecmp(ct, "application/json", 16))
		return 1;
	return n > 5 && !strncasecmp(ct + n - 5, "+json", 5);
}

struct xfer {
	bs_http *h;
	bs_http_response *resp;
	int too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	if (x->resp->body.len + n > x->h->o.max_body_bytes) {
		x->too_big = 1;
		return 0;
	}
	bs_buf_add(&x->resp->body, data, n);
	return n;
}

static void keep_header(char **slot, const char *v, size_t n)
{
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	free(*slot);
	*slot = bs_xstrndup(v, n);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	static const struct {
		const char *name;
		size_t off;
	} wanted[] = {
	    {"content-type", offsetof(bs_http_response, content_type)},
	    {"retry-after", offsetof(bs_http_response, retry_after)},
	    {"www-authenticate", offsetof(bs_http_response, www_authenticate)},
	};
	/* A new status line starts a new header block (after 100 Continue): forget the old one. */
	if (n > 5 && !strncmp(data, "HTTP/", 5)) {
		for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
			char **slot = (char **)((char *)x->resp + wanted[i].off);
			free(*slot);
			*slot = NULL;
		}
		return n;
	}
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		size_t ln = strlen(wanted[i].name);
		if (n > ln && data[ln] == ':' && !strncasecmp(data, wanted[i].name, ln)) {
			const char *v = data + ln + 1;
			size_t vn = n - ln - 1;
			while (vn && (*v == ' ' || *v == '\t'))
				v++, vn--;
			keep_header((char **)((char *)x->resp + wanted[i].off), v, vn);
		}
	}
	return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct xfer *x = ud;
	(void)dt, (void)dn, (void)ut, (void)un;
	return x->h->o.cancel && x->h->o.cancel(x->h->o.cancel_ctx) ? 1 : 0;
}

/* Sleeps ms, waking every 100 ms to honour the cancel callback. Returns 1 if cancelled. */
static int wait_ms(bs_http *h, long ms)
{
	while (ms > 0) {
		long step = ms < 100 ? ms : 100;
		struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
		if (h->o.cancel && h->o.cancel(h->o.cancel_ctx))
			return 1;
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return h->o.cancel && h->o.cancel(h->o.cancel_ctx);
}

static long backoff_ms(bs_http *h, int attempt)
{
	long d = h->o.retry_base_ms;
	uint32_t r = 0;
	for (int i = 0; i < attempt && d < h->o.max_retry_wait_ms; i++)
		d *= 2;
	if (d > h->o.max_retry_wait_ms)
		d = h->o.max_retry_wait_ms;
	/* "Equal jitter": half fixed, half random, so many clients do not retry in step. */
	if (bs_random_bytes(&r, sizeof(r)) < 0)
		r = (uint32_t)rand();
	return d / 2 + (long)(r % (uint32_t)(d / 2 + 1));
}

static int transport_retryable(CURLcode c, bs_http_retry retry)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return retry >= BS_HTTP_RETRY_UNSENT;
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return retry >= BS_HTTP_RETRY_IDEMPOTENT;
	default:
		return 0;
	}
}

static int status_retryable(long status, bs_http_retry retry)
{
	if (status == 429)
		return retry >= BS_HTTP_RETRY_UNSENT;
	if (status >= 500 && status != 501 && status != 505)
		return retry >= BS_HTTP_RETRY_IDEMPOTENT;
	return 0;
}

static void reset_response(bs_http_response *resp)
{
	int attempts = resp->attempts;
	bs_http_response_free(resp);
	resp->attempts = attempts;
}

int bs_http_send(bs_http *h, bs_http_response *resp, const bs_http_request *req, bs_error *err)
{
	const char *method = req->method ? req->method : (req->body ? "POST" : "GET");
	bs_buf disp = BS_BUF_INIT, auth = BS_BUF_INIT, ct = BS_BUF_INIT;
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL;
	struct xfer x = {h, resp, 0};
	int rc = 0;

	memset(resp, 0, sizeof(*resp));
	resp->body = (bs_buf)BS_BUF_INIT;
	bs_http_url_for_display(&disp, req->url ? req->url : "");
	if ((rc = bs_http_check_url(req->url, err)) < 0)
		goto out;

	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (req->bearer) {
		bs_buf_addf(&auth, "Authorization: Bearer %s", req->bearer);
		hdrs = curl_slist_append(hdrs, auth.ptr);
	}
	if (req->body) {
		bs_buf_addf(&ct, "Content-Type: %s", req->content_type ? req->content_type : "application/json");
		hdrs = curl_slist_append(hdrs, ct.ptr);
	}
	/* No "Expect: 100-continue" round trip for our small bodies. */
	hdrs = curl_slist_append(hdrs, "Expect:");

	for (int attempt = 0;; attempt++) {
		CURL *c = h->curl;
		CURLcode cc;
		long wait = -1;
		reset_response(resp);
		curl_easy_reset(c);
		errbuf[0] = '\0';
		curl_easy_setopt(c, CURLOPT_URL, req->url);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->o.timeout_ms);
		curl_easy_setopt(c, CURLOPT_USERAGENT, "bstscan/" BS_VERSION);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->o.max_body_bytes);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		/* curl silently re-sends a request once when a reused connection turns out closed; for a
		 * call that must not run twice (a refresh grant) only a fresh connection rules that out. */
		if (req->retry != BS_HTTP_RETRY_IDEMPOTENT && strcmp(method, "GET") != 0)
			curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
		if (req->body) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		} else if (!strcmp(method, "GET")) {
			curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
		}

		logf_(h, "> %s %s", method, disp.ptr);
		if (req->bearer)
			logf_(h, "> Authorization: Bearer [redacted]");
		if (req->body)
			logf_(h, "> Content-Type: %s (%zu bytes, body not logged)",
			      req->content_type ? req->content_type : "application/json", req->body_len);
		x.too_big = 0;
		resp->attempts++;
		cc = curl_easy_perform(c);
		if (cc == CURLE_OK) {
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
			logf_(h, "< HTTP %ld (%s, %zu bytes)", resp->status,
			      resp->content_type ? resp->content_type : "no content type", resp->body.len);
			if (attempt >= h->o.max_retries || !status_retryable(resp->status, req->retry))
				break;
			if (resp->retry_after) {
				wait = bs_http_parse_retry_after(resp->retry_after);
				/* A server asking for longer than we are willing to wait gets its answer back. */
				if (wait > h->o.max_retry_wait_ms)
					break;
			}
			if (wait < 0)
				wait = backoff_ms(h, attempt);
			logf_(h, "  HTTP %ld: retrying in %ld ms", resp->status, wait);
		} else {
			if (cc == CURLE_ABORTED_BY_CALLBACK) {
				rc = bs_error_set(err, BS_ERR_CANCELLED, "request to %s cancelled", disp.ptr);
				goto out;
			}
			if (x.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
				rc = bs_error_set(err, BS_ERR_LIMIT, "answer from %s is larger than %zu bytes",
				                  disp.ptr, h->o.max_body_bytes);
				goto out;
			}
			logf_(h, "< no answer: %s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
			if (attempt >= h->o.max_retries || !transport_retryable(cc, req->retry)) {
				rc = bs_error_set(err, BS_ERR_NET, "cannot reach %s: %s", disp.ptr,
				                  errbuf[0] ? errbuf : curl_easy_strerror(cc));
				goto out;
			}
			wait = backoff_ms(h, attempt);
			logf_(h, "  retrying in %ld ms", wait);
		}
		if (wait_ms(h, wait)) {
			rc = bs_error_set(err, BS_ERR_CANCELLED, "request to %s cancelled", disp.ptr);
			goto out;
		}
	}
out:
	curl_slist_free_all(hdrs);
	/* The header list held the bearer token in clear; scrub our copy. */
	bs_buf_free_secure(&auth);
	bs_buf_free(&ct);
	bs_buf_free(&disp);
	return rc;
}

int bs_http_get(bs_http *h, bs_http_response *resp, const char *url, const char *bearer, bs_http_retry retry,
                bs_error *err)
{
	bs_http_request r = {"GET", url, bearer, NULL, NULL, 0, retry};
	return bs_http_send(h, resp, &r, err);
}

int bs_http_post_form(bs_http *h, bs_http_response *resp, const char *url, const bs_buf *form, const char *bearer,
                      bs_http_retry retry, bs_error *err)
{
	bs_http_request r = {"POST", url, bearer, "application/x-www-form-urlencoded", form->ptr, form->len, retry};
	return bs_http_send(h, resp, &r, err);
}

int bs_http_post_json(bs_http *h, bs_http_response *resp, const char *url, const char *json, const char *bearer,
                      bs_http_retry retry, bs_error *err)
{
	bs_http_request r = {"POST", url, bearer, "application/json", json, strlen(json), retry};
	return bs_http_send(h, resp, &r, err);
}
