/* Where a login's credentials live between runs.
 *
 * Two backends:
 *   - keychain: the Secret Service (GNOME Keyring, KWallet...) through libsecret, one item per server
 *     under the schema "org.bstscan.Credentials" with the attribute server=<URL>. Every call has a
 *     timeout, because a locked keyring can wait forever on a password prompt.
 *   - file: $XDG_CONFIG_HOME/bstscan/credentials.json, directory created 0700, file written 0600
 *     atomically; a file that other users can read (or that is not ours, or is a symlink) is refused.
 *
 * BS_STORE_AUTO picks the keychain when a Secret Service is reachable. When there is none (no D-Bus
 * session bus, or no service owns or can be activated as org.freedesktop.secrets) it falls back to
 * the file and sets a one-line warning. A Secret Service that is present but locked, times out or
 * fails is an error, not a fallback: credentials must not silently move to a weaker store.
 *
 * Thread-safety: a store handle belongs to one thread. Cross-process consistency of refreshes is the
 * session's job (auth.h), not the store's.
 */
#ifndef BS_AUTH_STORE_H
#define BS_AUTH_STORE_H

#include <time.h>

#include "common/error.h"

typedef enum bs_store_kind { BS_STORE_AUTO = 0, BS_STORE_KEYCHAIN = 1, BS_STORE_FILE = 2 } bs_store_kind;

/* One stored login. All strings are heap-owned; access_token and refresh_token are secrets. */
typedef struct bs_auth_creds {
	char *server; /* the issuer / API base URL, no trailing slash */
	char *client_id;
	char *token_endpoint;      /* remembered from login so refreshes need no discovery */
	char *revocation_endpoint; /* may be NULL */
	char *access_token;
	char *refresh_token; /* may be NULL */
	char *scope;         /* may be NULL */
	time_t expires_at;   /* of the access token; 0 unknown */
	time_t created_at;   /* when the login happened */
} bs_auth_creds;

/* Wipes the secrets and frees everything; leaves c zeroed. */
void bs_auth_creds_free(bs_auth_creds *c);
/* Deep copy. */
void bs_auth_creds_copy(bs_auth_creds *dst, const bs_auth_creds *src);

typedef struct bs_cred_store bs_cred_store;

typedef struct bs_cred_store_options {
	bs_store_kind kind;
	int keychain_timeout_ms; /* 0: 10 s (BSTSCAN_KEYCHAIN_TIMEOUT_MS overrides the default) */
} bs_cred_store_options;

/* Opens the store chosen by opts (NULL: AUTO). Fails when no config directory can be found, when
 * the keychain was asked for and is unavailable, or when it is present but unusable. */
int bs_cred_store_open(bs_cred_store **out, const bs_cred_store_options *opts, bs_error *err);
void bs_cred_store_close(bs_cred_store *s);
/* The backend in use: BS_STORE_KEYCHAIN or BS_STORE_FILE. */
bs_store_kind bs_cred_store_kind(const bs_cred_store *s);
/* The fallback warning ("secure storage is unavailable ..."), or NULL. Valid until close. */
const char *bs_cred_store_warning(const bs_cred_store *s);
/* The credentials file path (used by the file backend, and searched by load in AUTO mode). */
const char *bs_cred_store_file_path(const bs_cred_store *s);

/* Loads the login for server into out (free with bs_auth_creds_free). found_in (may be NULL) tells
 * which backend held it: in AUTO mode with a keychain, a login kept in the file (made with
 * --credential-store file) is found too. BS_ERR_NOTFOUND when there is none. */
int bs_cred_store_load(bs_cred_store *s, const char *server, bs_auth_creds *out, bs_store_kind *found_in,
                       bs_error *err);
/* Saves (replaces) the login for c->server in the backend in use. */
int bs_cred_store_save(bs_cred_store *s, const bs_auth_creds *c, bs_error *err);
/* Saves into the given backend (the one load reported), so a refresh lands where the login was. */
int bs_cred_store_save_to(bs_cred_store *s, bs_store_kind where, const bs_auth_creds *c, bs_error *err);
/* Deletes the login for server from every backend that can be reached; *deleted (may be NULL) is
 * set to 1 when something was removed. */
int bs_cred_store_delete(bs_cred_store *s, const char *server, int *deleted, bs_error *err);

/* Serialisation used by both backends (exposed for tests). */
char *bs_auth_creds_to_json(const bs_auth_creds *c);
int bs_auth_creds_from_json(bs_auth_creds *out, const char *json, size_t len, bs_error *err);

#endif
