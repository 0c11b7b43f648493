/* The partner-program webhook receiver: a code host POSTs the bst_ tokens it found in public
 * content; we verify the signature, hash the tokens, check and revoke them through the issuer
 * API, and label each one (GitHub's secret scanning partner program format; docs/webhook.md).
 *
 * Keys (bs_webhook_keys): the sender's public keys, from a JSON document
 * {"public_keys": [{"key_identifier", "key" (PEM SubjectPublicKeyInfo, EC P-256), "is_current"}]}
 * read from a file or fetched from a URL. Thread-safe: verification runs from many threads while
 * a refresh swaps the set; an unknown key id triggers a refresh at most once a minute.
 *
 * Server (bs_webhook): libmicrohttpd with a thread pool. The signature is checked over the raw
 * body before anything is parsed. Tokens never appear in logs, errors or replies.
 */
#ifndef BS_REVOKE_WEBHOOK_H
#define BS_REVOKE_WEBHOOK_H

#include <stddef.h>

#include "common/error.h"

#define BS_WEBHOOK_MAX_BODY (1u << 20)
#define BS_WEBHOOK_DEADLINE_MS 25000
#define BS_WEBHOOK_KEYS_REFETCH_MS 60000

typedef struct bs_webhook_keys bs_webhook_keys;

/* Loads the keys from file, or else from url (https, or http to loopback). Exactly one of them. */
int bs_webhook_keys_new(bs_webhook_keys **out, const char *file, const char *url, bs_error *err);
void bs_webhook_keys_free(bs_webhook_keys *k);
/* Replaces the key set with the keys of a document (used by loading; exposed for tests). */
int bs_webhook_keys_load_json(bs_webhook_keys *k, const char *json, size_t len, bs_error *err);
size_t bs_webhook_keys_count(bs_webhook_keys *k);
/* Times the key document was read or fetched (including the first load). */
size_t bs_webhook_keys_loads(bs_webhook_keys *k);

/* Verifies sig_b64 (base64 of a DER ECDSA signature) over body with the key named key_id. An
 * unknown key id reloads the document first, at most once per BS_WEBHOOK_KEYS_REFETCH_MS.
 * Returns 0, BS_ERR_AUTH (unknown key, bad signature, undecodable signature) with the reason. */
int bs_webhook_keys_verify(bs_webhook_keys *k, const char *key_id, const char *sig_b64, const void *body, size_t len,
                           bs_error *err);

/* One JSON object per request, without a newline; called from server threads. */
typedef void (*bs_webhook_log_fn)(void *ctx, const char *json_line);

typedef struct bs_webhook_options {
	const char *listen;      /* "ADDR:PORT" (IPv4, or [IPv6]); port 0 picks a free one */
	const char *path;        /* the receiving path; NULL: "/" */
	const char *health_path; /* NULL: "/healthz" */
	unsigned threads;        /* 0: 4 */
	bs_webhook_keys *keys;   /* borrowed; must outlive the server */
	const char *server;      /* the issuer's base URL */
	const char *bearer;      /* the service credential (copied, wiped on free) */
	long deadline_ms;        /* whole request; 0: BS_WEBHOOK_DEADLINE_MS */
	size_t max_body;         /* 0: BS_WEBHOOK_MAX_BODY */
	size_t batch_max;        /* hashes per issuer request; 0: the API's maximum (1000) */
	bs_webhook_log_fn log;   /* may be NULL */
	void *log_ctx;
} bs_webhook_options;

typedef struct bs_webhook bs_webhook;

/* Starts serving in background threads. The caller blocks its own signals as it likes. */
int bs_webhook_start(bs_webhook **out, const bs_webhook_options *opts, bs_error *err);
/* The bound address ("127.0.0.1" or "[::1]") and port. */
const char *bs_webhook_address(const bs_webhook *w);
unsigned bs_webhook_port(const bs_webhook *w);
/* Graceful stop: no new connections, requests in flight finish (up to their deadline), then the
 * threads end. Frees w. */
void bs_webhook_stop(bs_webhook *w);

#endif
