/* bstscan's credentials: which server, which token, and keeping that token valid.
 *
 * A session answers "give me a bearer token for the issuer API" (bs_auth_bearer), taking the
 * credential from the first of these sources that applies:
 *   1. BSTSCAN_TOKEN in the environment (a PAT or an access token): used as is, never stored;
 *   2. workload identity (opts.workload, or BSTSCAN_OIDC=1): the CI provider's OIDC ID token is
 *      fetched fresh and exchanged (RFC 8693) for an access token kept in memory only;
 *   3. the stored login (keychain or credentials file, see store.h), refreshed when its access
 *      token is less than 60 s from expiry. Refreshes are serialised across processes with a lock
 *      file; the store is re-read under the lock (another process may have refreshed already); the
 *      rotated refresh token is stored before the new access token is handed out; an
 *      invalid_grant answer deletes the login ("Session expired. Run: bstscan auth login"); any
 *      other failure leaves the stored login untouched.
 *
 * Typical use (what revoke/ does):
 *     bs_auth_options o = { .server = url };
 *     bs_auth_session *s;
 *     if (bs_auth_session_open(&s, &o, &err) < 0) ...
 *     bs_buf tok = BS_BUF_INIT;
 *     if (bs_auth_bearer(s, &tok, &err) < 0) ...          // then "Authorization: Bearer <tok>"
 *     ... on 401 invalid_token: bs_auth_bearer_renew(s, &tok, &err) once, and retry ...
 *     bs_buf_free_secure(&tok);
 *     bs_auth_session_close(s);
 *
 * Thread-safety: a session belongs to one thread at a time. Messages never contain a token.
 */
#ifndef BS_AUTH_AUTH_H
#define BS_AUTH_AUTH_H

#include <time.h>

#include "auth/http.h"
#include "auth/oauth.h"
#include "auth/store.h"
#include "common/buf.h"
#include "common/error.h"

/* Finds the server URL: flag_value (--server), then BSTSCAN_SERVER, then the "server" member of
 * $XDG_CONFIG_HOME/bstscan/config.json. The result has no trailing slash and passed
 * bs_http_check_url; the caller frees it. BS_ERR_USAGE with a how-to when none is set. */
int bs_auth_resolve_server(char **out, const char *flag_value, bs_error *err);

typedef enum bs_auth_source {
	BS_AUTH_SOURCE_NONE = 0, /* nothing: not logged in */
	BS_AUTH_SOURCE_ENV,      /* BSTSCAN_TOKEN */
	BS_AUTH_SOURCE_WORKLOAD, /* CI workload identity (token exchange) */
	BS_AUTH_SOURCE_KEYCHAIN, /* stored login, Secret Service */
	BS_AUTH_SOURCE_FILE      /* stored login, credentials file */
} bs_auth_source;

/* The name a user knows the source by: "BSTSCAN_TOKEN", "workload identity", "keychain",
 * "credentials file", "none". Static string. */
const char *bs_auth_source_name(bs_auth_source src);

typedef struct bs_auth_options {
	const char *server;          /* required: from bs_auth_resolve_server() */
	const char *client_id;       /* NULL: "bstscan-cli" */
	bs_store_kind store;         /* --credential-store; AUTO by default */
	int keychain_timeout_ms;     /* 0: the store's default */
	int stored_only;             /* 1: ignore BSTSCAN_TOKEN and BSTSCAN_OIDC (login, logout) */
	int workload;                /* 1: use workload identity even without BSTSCAN_OIDC=1 */
	const char *oidc_env;        /* variable holding the ID token (GitLab CI); NULL: $BSTSCAN_OIDC_ENV */
	const char *oidc_token_file; /* file holding the ID token; NULL: $BSTSCAN_OIDC_TOKEN_FILE */
	const char *oidc_audience;   /* audience asked of the CI provider for the ID token (what the server's
	                              * trust policy expects); NULL: $BSTSCAN_OIDC_AUDIENCE, else the server URL.
	                              * The exchange itself always asks for a token for the server URL. */
	const char *scope;           /* scope asked for in a token exchange; may be NULL */
	bs_http *http;               /* borrowed client; NULL: the session creates one with defaults */
} bs_auth_options;

typedef struct bs_auth_session bs_auth_session;

/* Picks the source (see the top of this file) and, for a stored login, reads it. Not being
 * logged in is not an error here (the source is then NONE; bs_auth_bearer says how to log in);
 * an unreadable store (locked keychain, a credentials file others can read) is. */
int bs_auth_session_open(bs_auth_session **out, const bs_auth_options *opts, bs_error *err);
void bs_auth_session_close(bs_auth_session *s);

/* Appends a bearer token valid for at least a minute (when its lifetime is known) to out,
 * refreshing or re-exchanging as needed. The caller wipes out with bs_buf_free_secure(). */
int bs_auth_bearer(bs_auth_session *s, bs_buf *out, bs_error *err);
/* Like bs_auth_bearer, but the current token was just refused (401 invalid_token): refresh or
 * re-exchange now whatever its expiry says. BS_ERR_AUTH for BSTSCAN_TOKEN, which cannot be renewed. */
int bs_auth_bearer_renew(bs_auth_session *s, bs_buf *out, bs_error *err);

bs_auth_source bs_auth_session_source(const bs_auth_session *s);
const char *bs_auth_session_server(const bs_auth_session *s);
/* The session's HTTP client, for API calls made with its tokens (borrowed; lives as long as s). */
bs_http *bs_auth_session_http(bs_auth_session *s);
/* Expiry of the current access token (0 unknown, e.g. a PAT), and its scope (NULL unknown). */
time_t bs_auth_session_expires_at(const bs_auth_session *s);
const char *bs_auth_session_scope(const bs_auth_session *s);
/* A one-line warning to show the user (file fallback, a refresh that failed but left a still-valid
 * token in use), or NULL. Valid until the next call on s. */
const char *bs_auth_session_warning(const bs_auth_session *s);

/* Who the credential belongs to, from GET /api/v1/me. Free with bs_auth_me_free(). */
typedef struct bs_auth_me {
	char *sub;
	char *name;   /* may be NULL */
	char *scopes; /* space-separated; may be NULL */
} bs_auth_me;
int bs_auth_session_me(bs_auth_session *s, bs_auth_me *out, bs_error *err);
void bs_auth_me_free(bs_auth_me *me);

/* Device-flow login (opened with stored_only): discovery, RFC 8628, then saves the login in the
 * store (the previous login for this server, if any, is revoked best-effort). scope may be NULL. */
int bs_auth_session_login(bs_auth_session *s, const char *scope, const bs_device_ui *ui, bs_error *err);

/* Logout (opened with stored_only): revokes the refresh token at the server (RFC 7009), then
 * deletes the login from every store, also when the server could not be reached. Returns 0 when
 * the local login is gone; *revoked says whether the server confirmed, and revoke_err (may be NULL)
 * says why not. BS_ERR_NOTFOUND when there was no login. */
int bs_auth_session_logout(bs_auth_session *s, int *revoked, bs_error *revoke_err, bs_error *err);

/* Workload identity, exposed for tests and `auth login --oidc`: fetches a fresh CI ID token into
 * out (the caller wipes it). */
int bs_auth_fetch_ci_id_token(bs_buf *out, bs_http *h, const char *oidc_env, const char *token_file,
                              const char *audience, bs_error *err);

#endif
