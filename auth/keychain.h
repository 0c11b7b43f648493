/* Internal to auth/: the Secret Service backend of store.c (libsecret, with timeouts).
 * Each call runs the D-Bus work under a GCancellable that a timer thread cancels after timeout_ms,
 * so a locked keyring waiting on a prompt cannot hang bstscan. Not for use outside auth/. */
#ifndef BS_AUTH_KEYCHAIN_H
#define BS_AUTH_KEYCHAIN_H

#include "common/buf.h"
#include "common/error.h"

/* 1: a Secret Service is there (running or activatable); 0: none (why says which, for the
 * fallback warning); <0: the session bus itself failed in an unexpected way. */
int bs_keychain_probe(int timeout_ms, bs_buf *why, bs_error *err);
/* Appends the stored secret for server to out; BS_ERR_NOTFOUND when there is none. */
int bs_keychain_load(const char *server, bs_buf *out, int timeout_ms, bs_error *err);
int bs_keychain_store(const char *server, const char *secret, int timeout_ms, bs_error *err);
/* *deleted = 1 when an item was removed. */
int bs_keychain_delete(const char *server, int *deleted, int timeout_ms, bs_error *err);

#endif
