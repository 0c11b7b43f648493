/* bs_http: the project's one HTTP client, over libcurl.
 *
 * Promises, whatever the caller asks:
 *   - TLS certificates and host names are always verified; there is no option to turn that off.
 *   - plain http:// is accepted only when the host is a loopback address (127.0.0.0/8, ::1,
 *     localhost); any other http:// URL is refused with a clear error before a byte is sent.
 *   - redirects are never followed (a redirect is returned to the caller as a 3xx response).
 *   - every request carries `User-Agent: bstscan/BS_VERSION` and `Accept: application/json`.
 *   - a response body larger than max_body_bytes is an error (BS_ERR_LIMIT), never truncated.
 *   - error messages and verbose log lines never contain a bearer token, a request body or a
 *     URL's query string; the Authorization header is logged as "[redacted]".
 *
 * Status codes: bs_http_send() returns 0 whenever the server answered, whatever the HTTP status
 * (the caller reads resp->status); BS_ERR_NET for transport failures and timeouts, BS_ERR_USAGE for
 * a refused URL, BS_ERR_LIMIT for an oversized body, BS_ERR_CANCELLED when the cancel callback fired.
 *
 * Thread-safety: a bs_http belongs to one thread at a time (it owns one curl easy handle); use one
 * client per thread. Creating clients is thread-safe (curl_global_init runs once).
 */
#ifndef BS_AUTH_HTTP_H
#define BS_AUTH_HTTP_H

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

typedef struct bs_http bs_http;

/* Called with one line (no newline) per logged event in verbose mode. */
typedef void (*bs_http_log_fn)(void *ctx, const char *line);
/* Polled during waits and transfers; returning nonzero aborts with BS_ERR_CANCELLED. */
typedef int (*bs_http_cancel_fn)(void *ctx);

typedef struct bs_http_options {
	long connect_timeout_ms; /* 0: 10 s */
	long timeout_ms;         /* whole transfer; 0: 30 s */
	int max_retries;         /* extra attempts for retryable calls; 0: 3; negative: none */
	long retry_base_ms;      /* first backoff delay before jitter; 0: 500 ms */
	long max_retry_wait_ms;  /* cap for one wait, Retry-After included; 0: 30 s */
	size_t max_body_bytes;   /* 0: 8 MiB */
	bs_http_log_fn log;      /* verbose mode when non-NULL */
	void *log_ctx;
	bs_http_cancel_fn cancel; /* may be NULL */
	void *cancel_ctx;
} bs_http_options;

/* Whether a request may be sent again. The caller decides, because only it knows whether
 * repeating the call is harmless (a refresh-token grant is not: the server may have spent the
 * token before a 5xx). */
typedef enum bs_http_retry {
	BS_HTTP_RETRY_NONE = 0,      /* one attempt */
	BS_HTTP_RETRY_UNSENT = 1,    /* retry only when the server surely did not act: 429, no connection.
	                              * NONE and UNSENT non-GET requests also use a fresh connection, so
	                              * curl never re-sends them on its own. */
	BS_HTTP_RETRY_IDEMPOTENT = 2 /* also 5xx, timeouts and dropped connections */
} bs_http_retry;

typedef struct bs_http_request {
	const char *method; /* "GET", "POST", "DELETE"...; NULL: GET, or POST with a body */
	const char *url;
	const char *bearer;       /* sent as `Authorization: Bearer ...` when non-NULL; never logged */
	const char *content_type; /* of body, e.g. "application/x-www-form-urlencoded" */
	const void *body;
	size_t body_len;
	bs_http_retry retry;
} bs_http_request;

typedef struct bs_http_response {
	long status;        /* HTTP status of the last attempt */
	char *content_type; /* header values, or NULL when absent; owned by the response */
	char *retry_after;
	char *www_authenticate;
	bs_buf body;  /* at most max_body_bytes */
	int attempts; /* how many requests were sent */
} bs_http_response;

/* A new client; opts may be NULL for the defaults. Free with bs_http_free(). */
int bs_http_new(bs_http **out, const bs_http_options *opts, bs_error *err);
void bs_http_free(bs_http *h);
/* Replaces the verbose logger / cancel callback of an existing client (NULL turns it off). */
void bs_http_set_log(bs_http *h, bs_http_log_fn log, void *ctx);
void bs_http_set_cancel(bs_http *h, bs_http_cancel_fn cancel, void *ctx);

/* Sends req (with retries as req->retry allows) and fills resp, which the caller releases with
 * bs_http_response_free() whatever the result. See the top of this file for return codes. */
int bs_http_send(bs_http *h, bs_http_response *resp, const bs_http_request *req, bs_error *err);
void bs_http_response_free(bs_http_response *resp);

/* Shorthands for the common shapes. form is an application/x-www-form-urlencoded body. */
int bs_http_get(bs_http *h, bs_http_response *resp, const char *url, const char *bearer, bs_http_retry retry,
                bs_error *err);
int bs_http_post_form(bs_http *h, bs_http_response *resp, const char *url, const bs_buf *form, const char *bearer,
                      bs_http_retry retry, bs_error *err);
int bs_http_post_json(bs_http *h, bs_http_response *resp, const char *url, const char *json, const char *bearer,
                      bs_http_retry retry, bs_error *err);

/* Appends `name=value` (percent-encoded, '&'-separated) to a form body. */
void bs_http_form_add(bs_buf *form, const char *name, const char *value);
/* Appends s percent-encoded (RFC 3986 unreserved characters kept). */
void bs_http_urlencode(bs_buf *out, const char *s);

/* 0 when url is https://, or http:// to a loopback host; else BS_ERR_USAGE with the reason. */
int bs_http_check_url(const char *url, bs_error *err);
/* 1 when host (as in a URL, IPv6 in brackets allowed) is a loopback address or "localhost". */
int bs_http_host_is_loopback(const char *host);
/* Appends url without its query string and fragment (the form used in messages and logs). */
void bs_http_url_for_display(bs_buf *out, const char *url);

/* 1 when the response's Content-Type is JSON (application/json or +json). */
int bs_http_response_is_json(const bs_http_response *resp);
/* Parses a Retry-After value (delta seconds or an HTTP date) into milliseconds from now; -1 if invalid. */
long bs_http_parse_retry_after(const char *value);

#endif
