/* bstscan-server internals: the reference issuer of docs/api.md.
 *
 * The server is single-threaded: libmicrohttpd runs every handler on its one
 * internal polling thread, so a bs_srv and its SQLite connection are used by
 * one thread at a time and need no locks. The admin CLI opens the same
 * database from another process; SQLite's WAL mode and a busy timeout make
 * that safe. Nothing here is shared with auth/ or revoke/ on purpose: the
 * server is an independent reading of the RFCs, so a misreading on either
 * side shows up as a failing end-to-end test.
 */
#ifndef BS_SERVER_SRV_H
#define BS_SERVER_SRV_H

#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "common/buf.h"
#include "common/error.h"

#define BS_SRV_MAX_BODY (1024 * 1024)
#define BS_SRV_MAX_BATCH 1000
#define BS_SRV_CLIENT_ID "bstscan-cli"
#define BS_SRV_API_AUDIENCE "bstscan-api"
#define BS_SRV_PRODUCT_SCOPES "leaks:check leaks:revoke pats:read pats:write"
#define BS_SRV_OIDC_SCOPES "openid profile offline_access"
#define BS_SRV_TT_ID_TOKEN "urn:ietf:params:oauth:token-type:id_token"
#define BS_SRV_TT_ACCESS_TOKEN "urn:ietf:params:oauth:token-type:access_token"
#define BS_SRV_GT_DEVICE "urn:ietf:params:oauth:grant-type:device_code"
#define BS_SRV_GT_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"

typedef struct bs_srv_fault {
	char endpoint[32];
	int status;
} bs_srv_fault;

typedef struct bs_srv {
	sqlite3 *db;
	char *issuer;     /* "http://127.0.0.1:PORT" unless --issuer */
	long access_ttl;  /* seconds */
	long refresh_ttl; /* seconds */
	long device_expires_in;
	long device_interval;
	EVP_PKEY *signing_key; /* ES256, kept in the database */
	char kid[24];
	bs_srv_fault faults[16]; /* from BSTSCAN_SERVER_FAULTS */
	size_t nfaults;
	/* `demo` only: printed before the ready line. */
	const char *demo_pat;
	const char *demo_user;
	const char *demo_password;
	const char *demo_db;
} bs_srv;

/* ---- db.c: opening, migrations, small helpers ---- */
/* Opens (creating) the database, enables WAL and a busy timeout, applies the
 * pending migrations. */
int bs_srv_db_open(sqlite3 **out, const char *path, bs_error *err);
/* Prepares sql; on failure logs to stderr and returns NULL (callers answer
 * 500 rather than abort a running server). */
sqlite3_stmt *bs_srv_prep(sqlite3 *db, const char *sql);
int bs_srv_exec(sqlite3 *db, const char *sql);
/* Setting values (key/value table); get returns a heap string or NULL. */
char *bs_srv_setting_get(sqlite3 *db, const char *key);
int bs_srv_setting_set(sqlite3 *db, const char *key, const char *value);
/* Column text as a heap copy (NULL for SQL NULL). */
char *bs_srv_col_strdup(sqlite3_stmt *st, int col);
long long bs_srv_now_ms(void);
/* Appends an audit row; who/action/hash/reason/source/outcome may be NULL. */
int bs_srv_audit(sqlite3 *db, const char *who, const char *action, const char *token_hash, const char *reason,
                 const char *source_json, const char *outcome);
/* Revokes a PAT row by id (sets revoked_at, records the owner notification
 * once). Returns 1 when it changed the row, 0 when already revoked. */
int bs_srv_pat_revoke_row(sqlite3 *db, long long pat_id, const char *why);

/* ---- crypto.c: keys, JWT, passwords, random tokens ---- */
int bs_srv_keys_load(bs_srv *s, bs_error *err);
/* A JWS compact ES256 token over the claims object (not consumed). */
char *bs_srv_jwt_sign(bs_srv *s, const cJSON *claims);
/* Verifies one of our access tokens; on success *claims_out holds the parsed
 * payload (caller frees with cJSON_Delete). Checks alg, kid, signature, iss,
 * aud and exp; revocation is the caller's job. */
int bs_srv_jwt_verify_own(bs_srv *s, const char *jwt, cJSON **claims_out, bs_error *err);
/* Splits a compact JWS and verifies its signature (RS256 or ES256) with one
 * key of the JWKS document; returns the payload, or NULL with err set. */
cJSON *bs_srv_jws_verify_jwks(const char *jwt, const char *jwks_json, bs_error *err);
/* The payload of a compact JWS, NOT verified: only to pick which trust
 * policy's keys to verify it with. Caller frees. */
cJSON *bs_srv_jwt_peek(const char *jwt);
/* Our public key as a JWKS document (caller frees). */
char *bs_srv_jwks_json(bs_srv *s);
/* "pbkdf2_sha256$iter$salt$hash" for password; caller frees. */
char *bs_srv_password_hash(const char *password);
int bs_srv_password_check(const char *stored, const char *password);
/* Random base64url string of nbytes random bytes (caller frees). */
char *bs_srv_random_token(size_t nbytes);
/* A new PAT (bst_ + 43 characters) into out[48]. */
void bs_srv_new_pat(char out[48]);
/* 8 characters from BCDFGHJKLMNPQRSTVWXZ, NUL-terminated. */
void bs_srv_new_user_code(char out[9]);

/* ---- util.c: forms, scopes, HTML ---- */
typedef struct bs_srv_form {
	char **names;
	char **values;
	size_t n;
} bs_srv_form;
/* Parses application/x-www-form-urlencoded text. Returns 0, or a negative
 * bs_status with err naming the problem (bad percent-escape, NUL byte,
 * repeated parameter, more than 64 parameters); f is then empty. */
int bs_srv_form_parse(bs_srv_form *f, const char *body, size_t len, bs_error *err);
const char *bs_srv_form_get(const bs_srv_form *f, const char *name);
void bs_srv_form_free(bs_srv_form *f);
void bs_srv_html_escape(bs_buf *out, const char *s);
/* Normalises a user code: drops dashes and spaces, upper-cases; 0 when the
 * result is 8 characters of the alphabet. */
int bs_srv_user_code_normalize(const char *in, char out[9]);
/* 1 when every space-separated word of words is one of the words of set. */
int bs_srv_scopes_subset(const char *words, const char *set);
int bs_srv_scope_has(const char *scopes, const char *scope);
/* Rewrites "a,b c" (commas or spaces) into "a b c"; caller frees. */
char *bs_srv_scopes_normalize(const char *in);

/* ---- http.c: the daemon ---- */
typedef struct bs_srv_header {
	char *name;
	char *value;
} bs_srv_header;

typedef struct bs_srv_resp {
	unsigned status;
	const char *content_type;
	bs_buf body;
	bs_srv_header headers[8];
	size_t nheaders;
} bs_srv_resp;

typedef struct bs_srv_req {
	void *conn; /* struct MHD_Connection */
	const char *method;
	const char *path;
	bs_buf body;
} bs_srv_req;

void bs_srv_resp_header(bs_srv_resp *r, const char *name, const char *value);
void bs_srv_resp_json(bs_srv_resp *r, unsigned status, const cJSON *json);
/* {"error": code, "error_description": desc} with status. */
void bs_srv_resp_error(bs_srv_resp *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *bs_srv_req_header(const bs_srv_req *q, const char *name);
const char *bs_srv_req_query(const bs_srv_req *q, const char *name);
/* 1 when the Content-Type is application/x-www-form-urlencoded. */
int bs_srv_req_is_form(const bs_srv_req *q);

/* Runs the daemon until SIGTERM/SIGINT; prints the ready line. */
int bs_srv_run(bs_srv *s, const char *host, int port, bs_error *err);

/* ---- handlers ---- */
void bs_srv_h_discovery(bs_srv *s, bs_srv_req *q, bs_srv_resp *r);
void bs_srv_h_jwks(bs_srv *s, bs_srv_req *q, bs_srv_resp *r);
void bs_srv_h_device_authorize(bs_srv *s, bs_srv_req *q, bs_srv_resp *r);
void bs_srv_h_token(bs_srv *s, bs_srv_req *q, bs_srv_resp *r);
void bs_srv_h_oauth_revoke(bs_srv *s, bs_srv_req *q, bs_srv_resp *r);
void bs_srv_h_device_page(bs_srv *s, bs_srv_req *q, bs_srv_resp *r);
void bs_srv_h_check(bs_srv *s, bs_srv_req *q, bs_srv_resp *r);
void bs_srv_h_revoke(bs_srv *s, bs_srv_req *q, bs_srv_resp *r);
void bs_srv_h_pats(bs_srv *s, bs_srv_req *q, bs_srv_resp *r);
void bs_srv_h_pat_delete(bs_srv *s, bs_srv_req *q, bs_srv_resp *r);
void bs_srv_h_me(bs_srv *s, bs_srv_req *q, bs_srv_resp *r);

/* ---- admin.c ---- */
/* `bstscan-server admin --db FILE ...`; returns the exit code and prints. */
int bs_srv_admin_main(int argc, char **argv);
/* Creates a user; 0, or negative with err (e.g. the name is taken). */
int bs_srv_user_add(sqlite3 *db, const char *name, const char *password, bs_error *err);
/* Creates a PAT for user; out receives the raw token. */
int bs_srv_pat_create(sqlite3 *db, long long user_id, const char *name, const char *scopes, time_t expires_at,
                      char token_out[48], long long *id_out, bs_error *err);
long long bs_srv_user_id(sqlite3 *db, const char *name);

#endif
