/* bs_leaks: asking the issuer about leaked tokens, and revoking them, by hash
 * (POST /api/v1/leaks/check and /api/v1/leaks/revoke of docs/api.md).
 *
 * Only SHA-256 hashes leave the machine. Requests are batched (at most
 * BS_LEAKS_BATCH_MAX distinct hashes each); duplicates are sent once; results
 * come back in the order of first appearance and are matched by hash, never by
 * position. A reply that is not what the contract says (wrong shape, a hash
 * that was not asked about, a missing one, an unknown status, an oversized
 * field) is an error naming what is wrong. Error messages never hold a token.
 *
 * Thread-safety: a client belongs to one thread at a time (it uses one
 * bs_http). Results are plain data owned by the caller.
 */
#ifndef BS_REVOKE_LEAKS_H
#define BS_REVOKE_LEAKS_H

#include <stddef.h>

#include "auth/auth.h"
#include "auth/http.h"
#include "common/error.h"
#include "common/secure.h"

#define BS_LEAKS_BATCH_MAX 1000
/* Longest descriptive string (name, owner, ...) accepted from the issuer. */
#define BS_LEAKS_FIELD_MAX 1024

typedef struct bs_leaks_client bs_leaks_client;

typedef struct bs_leaks_options {
	const char *server; /* base URL, e.g. https://issuer.example (a trailing '/' is fine); copied */
	/* The credential: a session (borrowed; its bearer is renewed once on a 401), or a fixed
	 * bearer token (copied, wiped on free). Exactly one of them. */
	bs_auth_session *session;
	const char *bearer;
	bs_http *http;    /* borrowed client; NULL: the session's, else one of our own */
	size_t batch_max; /* 0: BS_LEAKS_BATCH_MAX (tests use smaller batches) */
} bs_leaks_options;

int bs_leaks_client_new(bs_leaks_client **out, const bs_leaks_options *opts, bs_error *err);
void bs_leaks_client_free(bs_leaks_client *c);
/* Calls made after the monotonic time deadline_ms (bs_time_monotonic_ms) are cancelled with
 * BS_ERR_CANCELLED, also in the middle of a transfer or a retry wait; 0 turns it off. While a call
 * with a deadline runs, the client's cancel callback is ours (and NULL after it). */
void bs_leaks_client_set_deadline(bs_leaks_client *c, long long deadline_ms);
/* Number of HTTP requests sent so far (batches, retries excluded). */
size_t bs_leaks_client_requests(const bs_leaks_client *c);

/* What the issuer said of one hash. Strings are NULL when the server did not send them. */
typedef struct bs_leak_result {
	char token_hash[BS_SHA256_HEX_LEN + 1];
	char *status;  /* after a check: "active", "revoked", "expired", "unknown" */
	char *outcome; /* after a revoke: "revoked", "already_revoked", "expired", "unknown";
	                  NULL when the batch holding it failed */
	char *token_prefix;
	char *name;
	char *owner;
	char *expires_at;
	char *last_used_at;
} bs_leak_result;

typedef struct bs_leak_results {
	bs_leak_result *items; /* distinct hashes, in order of first appearance */
	size_t len;
	size_t cap;
	size_t *index; /* items sorted by hash, for bs_leak_results_find */
} bs_leak_results;

#define BS_LEAK_RESULTS_INIT                                                                                           \
	{                                                                                                              \
		NULL, 0, 0, NULL                                                                                       \
	}

void bs_leak_results_free(bs_leak_results *r);
/* The result for hash, or NULL. */
const bs_leak_result *bs_leak_results_find(const bs_leak_results *r, const char *hash);

/* Checks the hashes (lowercase hex; others are a BS_ERR_USAGE error). out (initialised by the
 * caller, emptied first) gets one result per distinct hash. On error out is left empty. */
int bs_leaks_check(bs_leaks_client *c, bs_leak_results *out, const char *const *hashes, size_t n, bs_error *err);

/* Where a token leaked, sent with the revocation so the owner's notice says so. Any member may
 * be NULL. */
typedef struct bs_leak_source {
	const char *url;
	const char *repository;
	const char *commit;
	const char *path;
} bs_leak_source;

typedef struct bs_revoke_item {
	const char *token_hash;
	bs_leak_source source;
} bs_revoke_item;

/* Revokes the items' hashes with reason (NULL: "leaked"). A hash listed twice is revoked once,
 * with the source of its first item; hashes sharing a source share requests. out gets one result
 * per distinct hash with its outcome. When a batch fails the other batches still run: their
 * outcomes are kept, the failed batch's are NULL, and the first error is returned. */
int bs_leaks_revoke(bs_leaks_client *c, bs_leak_results *out, const bs_revoke_item *items, size_t n, const char *reason,
                    bs_error *err);

/* Request bodies and reply parsing, exposed for tests and the webhook. The reply parsers take
 * the hashes that were asked (distinct, lowercase) and fill the matching results of out, which
 * already holds those hashes. */
char *bs_leaks_check_body(const char *const *hashes, size_t n);
char *bs_leaks_revoke_body(const char *const *hashes, size_t n, const char *reason, const bs_leak_source *src);
int bs_leaks_parse_check_reply(bs_leak_results *out, size_t first, size_t n, const char *body, size_t len,
                               bs_error *err);
int bs_leaks_parse_revoke_reply(bs_leak_results *out, size_t first, size_t n, const char *body, size_t len,
                                bs_error *err);

/* Removes user:password@ from a URL (remote URLs may carry credentials); returns a heap string. */
char *bs_leaks_url_without_userinfo(const char *url);

#endif
