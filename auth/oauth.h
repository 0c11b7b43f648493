/* The OAuth 2.0 client protocol pieces, over bs_http:
 *   - RFC 8414 authorization-server metadata, then OpenID Connect discovery, then the default paths;
 *   - RFC 8628 device authorization grant (login);
 *   - RFC 6749 §6 refresh;
 *   - RFC 8693 token exchange (a CI provider's ID token for an access token);
 *   - RFC 7009 revocation.
 * Stateless: nothing here stores credentials (see store.h and auth.h). Tokens returned are owned
 * by the caller and must be released with bs_oauth_tokens_free(), which wipes them. Error messages
 * never contain a token or a device code. Thread-safe as far as the bs_http passed in is.
 */
#ifndef BS_AUTH_OAUTH_H
#define BS_AUTH_OAUTH_H

#include <time.h>

#include "auth/http.h"
#include "common/buf.h"
#include "common/error.h"

#define BS_OAUTH_DEFAULT_CLIENT_ID "bstscan-cli"
#define BS_OAUTH_GRANT_DEVICE_CODE "urn:ietf:params:oauth:grant-type:device_code"
#define BS_OAUTH_GRANT_TOKEN_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"
#define BS_OAUTH_TOKEN_TYPE_ID_TOKEN "urn:ietf:params:oauth:token-type:id_token"
#define BS_OAUTH_TOKEN_TYPE_ACCESS_TOKEN "urn:ietf:params:oauth:token-type:access_token"

typedef enum bs_oauth_discovery {
	BS_OAUTH_DISCOVERY_DEFAULTS = 0, /* neither document exists: the contract's default paths */
	BS_OAUTH_DISCOVERY_RFC8414 = 1,
	BS_OAUTH_DISCOVERY_OIDC = 2
} bs_oauth_discovery;

typedef struct bs_oauth_endpoints {
	char *issuer;                        /* NULL with the default paths */
	char *device_authorization_endpoint; /* NULL when the server advertises none */
	char *token_endpoint;
	char *revocation_endpoint; /* NULL when the server advertises none */
	bs_oauth_discovery source;
} bs_oauth_endpoints;

typedef struct bs_oauth_tokens {
	char *access_token;
	char *refresh_token;     /* NULL when the server issued none (token exchange, or no rotation) */
	char *scope;             /* granted scope; the requested one when the server omits it */
	char *issued_token_type; /* RFC 8693 answers only */
	time_t expires_at;       /* the earlier of the JWT's exp and now + expires_in; 0 when unknown */
} bs_oauth_tokens;

/* What the user must see to approve a device login. user_code and the URIs are meant to be shown;
 * the device code never leaves the library. */
typedef struct bs_device_prompt {
	const char *verification_uri;
	const char *verification_uri_complete; /* NULL when the server sent none */
	const char *user_code;
	long expires_in; /* seconds */
	long interval;   /* seconds, after defaulting */
} bs_device_prompt;

/* Callbacks of the device flow; every member may be NULL. */
typedef struct bs_device_ui {
	void (*show)(void *ctx, const bs_device_prompt *p);
	/* About once a second while waiting: seconds left before the code expires. */
	void (*tick)(void *ctx, long seconds_left);
	/* One-line progress notes ("server asked to slow down: polling every 10 s"). */
	void (*notice)(void *ctx, const char *msg);
	/* Nonzero stops the flow with BS_ERR_CANCELLED (Ctrl-C). */
	int (*cancelled)(void *ctx);
	/* Test seams: the clock (ms, monotonic) and the sleep; defaults are the real ones. */
	long long (*now_ms)(void *ctx);
	void (*sleep_ms)(void *ctx, long ms);
	void *ctx;
} bs_device_ui;

/* Finds the endpoints of the authorization server at server (an https:// or loopback URL without a
 * trailing slash). A 404 moves on to the next method; a network error, a 5xx, a document that is not
 * JSON or whose issuer differs from server is an error. Free with bs_oauth_endpoints_free(). */
int bs_oauth_discover(bs_oauth_endpoints *out, bs_http *h, const char *server, bs_error *err);
void bs_oauth_endpoints_free(bs_oauth_endpoints *ep);

/* Runs the whole RFC 8628 flow: requests a code, shows it through ui, polls until the person
 * approves (0, tokens in out), denies (BS_ERR_AUTH), the code expires (BS_ERR_AUTH), the server
 * answers another error (BS_ERR_SERVER) or the user cancels (BS_ERR_CANCELLED). scope may be NULL. */
int bs_oauth_device_login(bs_oauth_tokens *out, bs_http *h, const bs_oauth_endpoints *ep, const char *client_id,
                          const char *scope, const bs_device_ui *ui, bs_error *err);

/* Spends refresh_token once (never retried after the server may have acted on it). Returns
 * BS_ERR_AUTH only when the server answered invalid_grant (the login is over); BS_ERR_NET or
 * BS_ERR_SERVER for answers that say nothing about the token's validity. */
int bs_oauth_refresh(bs_oauth_tokens *out, bs_http *h, const char *token_endpoint, const char *client_id,
                     const char *refresh_token, bs_error *err);

/* RFC 8693: exchanges an ID token for an access token; checks issued_token_type. audience and
 * scope may be NULL. BS_ERR_AUTH when the server refuses the ID token (invalid_grant...). */
int bs_oauth_token_exchange(bs_oauth_tokens *out, bs_http *h, const char *token_endpoint, const char *client_id,
                            const char *subject_token, const char *audience, const char *scope, bs_error *err);

/* RFC 7009: revokes token (hint "refresh_token" or "access_token", may be NULL). 0 when the server
 * answered 200 (which it does for unknown tokens too). */
int bs_oauth_revoke(bs_http *h, const char *revocation_endpoint, const char *client_id, const char *token,
                    const char *hint, bs_error *err);

void bs_oauth_tokens_free(bs_oauth_tokens *t);

/* The exp claim of a JWT (read, not verified: the client only schedules refreshes with it), or 0. */
time_t bs_oauth_jwt_exp(const char *jwt);

/* Appends text from a server (an error_description) made safe to print: printable ASCII only,
 * at most 200 characters. */
void bs_oauth_append_server_text(bs_buf *out, const char *text);

#endif
