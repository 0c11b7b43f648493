#include <cjson/cJSON.h>
#include <errno.h>
#include <strings.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "common/fs.h"
#include "common/secure.h"
#include "common/timeutil.h"
#include "common/banned.h"

#define REFRESH_MARGIN_S 60
#define LOCK_WAIT_MS 30000

struct bs_auth_session {
	char *server;
	char *client_id;
	bs_store_kind store_kind;
	int keychain_timeout_ms;
	char *oidc_env, *oidc_token_file, *oidc_audience, *scope;
	bs_http *http;
	int own_http;
	bs_auth_source source;
	bs_cred_store *store;
	bs_store_kind found_in;
	bs_auth_creds creds; /* the stored login, when source is KEYCHAIN or FILE */
	char *mem_token;     /* BSTSCAN_TOKEN or the exchanged access token */
	time_t mem_expires_at;
	char *mem_scope;
	char *token_endpoint; /* discovered, for token exchange */
	char *warning;
};

static void free_secret(char **p)
{
	if (*p) {
		bs_secure_zero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

static char *dup_or_null(const char *s)
{
	return s ? bs_xstrdup(s) : NULL;
}

static void set_warning(bs_auth_session *s, const char *msg)
{
	free(s->warning);
	s->warning = dup_or_null(msg);
}

const char *bs_auth_source_name(bs_auth_source src)
{
	switch (src) {
	case BS_AUTH_SOURCE_ENV:
		return "BSTSCAN_TOKEN";
	case BS_AUTH_SOURCE_WORKLOAD:
		return "workload identity";
	case BS_AUTH_SOURCE_KEYCHAIN:
		return "keychain";
	case BS_AUTH_SOURCE_FILE:
		return "credentials file";
	default:
		return "none";
	}
}

/* ---- the server URL ---- */

static int normalize_server(char **out, const char *raw, const char *origin, bs_error *err)
{
	size_t n = strlen(raw);
	char *s;
	int rc;
	while (n && (raw[n - 1] == '/' || raw[n - 1] == ' ' || raw[n - 1] == '\n'))
		n--;
	s = bs_xstrndup(raw, n);
	if (strpbrk(s, "?#")) {
		free(s);
		return bs_error_set(err, BS_ERR_USAGE, "the server URL from %s must not have a query or fragment",
		                    origin);
	}
	if ((rc = bs_http_check_url(s, err)) < 0) {
		bs_error_prefix(err, "server URL from %s", origin);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int bs_auth_resolve_server(char **out, const char *flag_value, bs_error *err)
{
	const char *env = getenv("BSTSCAN_SERVER");
	char *dir, *path;
	bs_buf raw = BS_BUF_INIT;
	cJSON *j;
	const cJSON *srv;
	int rc;
	*out = NULL;
	if (flag_value && *flag_value)
		return normalize_server(out, flag_value, "--server", err);
	if (env && *env)
		return normalize_server(out, env, "BSTSCAN_SERVER", err);
	dir = bs_fs_config_dir();
	path = dir ? bs_xasprintf("%s/config.json", dir) : bs_xstrdup("$XDG_CONFIG_HOME/bstscan/config.json");
	free(dir);
	rc = bs_fs_read_file(&raw, path, 1 << 20, err);
	if (rc == BS_ERR_NOTFOUND || (rc < 0 && !strchr(path, '/'))) {
		rc = bs_error_set(err, BS_ERR_USAGE,
		                  "no issuer server configured: pass --server URL, set BSTSCAN_SERVER, or write "
		                  "{\"server\": \"https://...\"} to %s",
		                  path);
		goto out;
	}
	if (rc < 0)
		goto out;
	j = cJSON_ParseWithLength(raw.ptr, raw.len);
	srv = cJSON_GetObjectItemCaseSensitive(j, "server");
	if (!j || !cJSON_IsString(srv) || !srv->valuestring[0]) {
		rc = bs_error_set(err, BS_ERR_PARSE, "%s: expected a JSON object with a \"server\" string", path);
	} else {
		bs_buf origin = BS_BUF_INIT;
		bs_buf_adds(&origin, path);
		rc = normalize_server(out, srv->valuestring, origin.ptr, err);
		bs_buf_free(&origin);
	}
	cJSON_Delete(j);
out:
	bs_buf_free(&raw);
	free(path);
	return rc;
}

/* ---- open / close ---- */

static int env_true(const char *name)
{
	const char *v = getenv(name);
	return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes"));
}

static const char *opt_or_env(const char *opt, const char *env)
{
	const char *v;
	if (opt && *opt)
		return opt;
	v = getenv(env);
	return v && *v ? v : NULL;
}

int bs_auth_session_open(bs_auth_session **out, const bs_auth_options *o, bs_error *err)
{
	bs_auth_session *s;
	const char *tok = getenv("BSTSCAN_TOKEN");
	int rc;
	*out = NULL;
	if (!o || !o->server)
		return bs_error_set(err, BS_ERR_USAGE, "no server given to bs_auth_session_open");
	s = bs_xcalloc(1, sizeof(*s));
	s->server = bs_xstrdup(o->server);
	s->client_id = bs_xstrdup(o->client_id && *o->client_id ? o->client_id : BS_OAUTH_DEFAULT_CLIENT_ID);
	s->store_kind = o->store;
	s->keychain_timeout_ms = o->keychain_timeout_ms;
	s->oidc_env = dup_or_null(opt_or_env(o->oidc_env, "BSTSCAN_OIDC_ENV"));
	s->oidc_token_file = dup_or_null(opt_or_env(o->oidc_token_file, "BSTSCAN_OIDC_TOKEN_FILE"));
	s->oidc_audience = bs_xstrdup(opt_or_env(o->oidc_audience, "BSTSCAN_OIDC_AUDIENCE")
	                                  ? opt_or_env(o->oidc_audience, "BSTSCAN_OIDC_AUDIENCE")
	                                  : o->server);
	s->scope = dup_or_null(o->scope);
	if (o->http) {
		s->http = o->http;
	} else if ((rc = bs_http_new(&s->http, NULL, err)) < 0) {
		bs_auth_session_close(s);
		return rc;
	} else {
		s->own_http = 1;
	}

	if (!o->stored_only && tok && *tok) {
		s->source = BS_AUTH_SOURCE_ENV;
		s->mem_token = bs_xstrdup(tok);
		s->mem_expires_at = bs_oauth_jwt_exp(tok);
		*out = s;
		return 0;
	}
	if (!o->stored_only && (o->workload || env_true("BSTSCAN_OIDC"))) {
		s->source = BS_AUTH_SOURCE_WORKLOAD;
		*out = s;
		return 0;
	}
	{
		bs_cred_store_options so = {o->store, o->keychain_timeout_ms};
		if ((rc = bs_cred_store_open(&s->store, &so, err)) < 0) {
			bs_auth_session_close(s);
			return rc;
		}
	}
	set_warning(s, bs_cred_store_warning(s->store));
	rc = bs_cred_store_load(s->store, s->server, &s->creds, &s->found_in, err);
	if (rc == BS_ERR_NOTFOUND) {
		bs_error_clear(err);
		s->source = BS_AUTH_SOURCE_NONE;
	} else if (rc < 0) {
		bs_auth_session_close(s);
		return rc;
	} else {
		s->source = s->found_in == BS_STORE_KEYCHAIN ? BS_AUTH_SOURCE_KEYCHAIN : BS_AUTH_SOURCE_FILE;
	}
	*out = s;
	return 0;
}

void bs_auth_session_close(bs_auth_session *s)
{
	if (!s)
		return;
	free(s->server);
	free(s->client_id);
	free(s->oidc_env);
	free(s->oidc_token_file);
	free(s->oidc_audience);
	free(s->scope);
	if (s->own_http)
		bs_http_free(s->http);
	bs_cred_store_close(s->store);
	bs_auth_creds_free(&s->creds);
	free_secret(&s->mem_token);
	free(s->mem_scope);
	free(s->token_endpoint);
	free(s->warning);
	free(s);
}

bs_auth_source bs_auth_session_source(const bs_auth_session *s)
{
	return s->source;
}

const char *bs_auth_session_server(const bs_auth_session *s)
{
	return s->server;
}

bs_http *bs_auth_session_http(bs_auth_session *s)
{
	return s->http;
}

time_t bs_auth_session_expires_at(const bs_auth_session *s)
{
	if (s->source == BS_AUTH_SOURCE_KEYCHAIN || s->source == BS_AUTH_SOURCE_FILE)
		return s->creds.expires_at;
	return s->mem_expires_at;
}

const char *bs_auth_session_scope(const bs_auth_session *s)
{
	if (s->source == BS_AUTH_SOURCE_KEYCHAIN || s->source == BS_AUTH_SOURCE_FILE)
		return s->creds.scope;
	return s->mem_scope;
}

const char *bs_auth_session_warning(const bs_auth_session *s)
{
	return s->warning;
}

/* ---- the refresh lock ---- */

/* An exclusive flock on <config>/refresh.lock, waited for at most LOCK_WAIT_MS. Returns the fd. */
static int lock_refresh(bs_error *err)
{
	char *dir = bs_fs_config_dir(), *path;
	long long until = bs_time_monotonic_ms() + LOCK_WAIT_MS;
	int fd, rc;
	if (!dir)
		return bs_error_set(err, BS_ERR_IO,
		                    "cannot find a configuration directory: set HOME or XDG_CONFIG_HOME");
	if ((rc = bs_fs_mkdir_p(dir, 0700, err)) < 0) {
		free(dir);
		return rc;
	}
	path = bs_xasprintf("%s/refresh.lock", dir);
	free(dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = bs_error_set(err, BS_ERR_IO, "cannot open the refresh lock %s: %s", path, strerror(errno));
		free(path);
		return rc;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		struct timespec ts = {0, 50 * 1000000L};
		if (errno != EWOULDBLOCK && errno != EINTR) {
			rc = bs_error_set(err, BS_ERR_IO, "cannot lock %s: %s", path, strerror(errno));
			close(fd);
			free(path);
			return rc;
		}
		if (bs_time_monotonic_ms() > until) {
			rc = bs_error_set(err, BS_ERR_IO,
			                  "another bstscan process has been refreshing the login for %d s (lock %s)",
			                  LOCK_WAIT_MS / 1000, path);
			close(fd);
			free(path);
			return rc;
		}
		nanosleep(&ts, NULL);
	}
	free(path);
	return fd;
}

static void unlock_refresh(int fd)
{
	flock(fd, LOCK_UN);
	close(fd);
}

/* ---- bearer ---- */

static int fresh(time_t expires_at)
{
	return !expires_at || expires_at - time(NULL) > REFRESH_MARGIN_S;
}

static int discover_token_endpoint(bs_auth_session *s, bs_error *err)
{
	bs_oauth_endpoints ep;
	int rc;
	if (s->token_endpoint)
		return 0;
	if ((rc = bs_oauth_discover(&ep, s->http, s->server, err)) < 0)
		return rc;
	s->token_endpoint = ep.token_endpoint;
	ep.token_endpoint = NULL;
	bs_oauth_endpoints_free(&ep);
	return 0;
}

static int workload_exchange(bs_auth_session *s, bs_error *err)
{
	bs_buf id = BS_BUF_INIT;
	bs_oauth_tokens t;
	int rc;
	if ((rc = discover_token_endpoint(s, err)) < 0)
		return rc;
	/* CI ID tokens live minutes: mint one right before each exchange. */
	rc = bs_auth_fetch_ci_id_token(&id, s->http, s->oidc_env, s->oidc_token_file, s->oidc_audience, err);
	if (rc == 0)
		/* RFC 8693 audience: the service the token is for (this server), not the ID token's. */
		rc = bs_oauth_token_exchange(&t, s->http, s->token_endpoint, s->client_id, id.ptr, s->server, s->scope,
		                             err);
	bs_buf_free_secure(&id);
	if (rc < 0) {
		bs_error_prefix(err, "workload identity");
		return rc;
	}
	free_secret(&s->mem_token);
	free(s->mem_scope);
	s->mem_token = t.access_token;
	s->mem_scope = t.scope;
	s->mem_expires_at = t.expires_at;
	t.access_token = NULL;
	t.scope = NULL;
	bs_oauth_tokens_free(&t);
	return 0;
}

/* Refreshes the stored login under the cross-process lock. force: the current access token was
 * refused, so refresh even when it looks fresh (unless another process already replaced it). */
static int refresh_stored(bs_auth_session *s, int force, bs_error *err)
{
	bs_auth_creds cur, next;
	bs_oauth_tokens t;
	bs_store_kind where = s->found_in;
	int fd, rc;

	fd = lock_refresh(err);
	if (fd < 0)
		return fd;
	/* Another process may have refreshed while we waited: its rotation is the one that counts. */
	rc = bs_cred_store_load(s->store, s->server, &cur, &where, err);
	if (rc == BS_ERR_NOTFOUND) {
		unlock_refresh(fd);
		bs_auth_creds_free(&s->creds);
		s->source = BS_AUTH_SOURCE_NONE;
		return bs_error_set(err, BS_ERR_AUTH, "Not logged in to %s. Run: bstscan auth login", s->server);
	}
	if (rc < 0) {
		unlock_refresh(fd);
		return rc;
	}
	/* Someone else refreshed while we waited: use theirs as long as it is valid at all (a server
	 * with short-lived tokens would otherwise make every waiting process refresh in turn). */
	if (strcmp(cur.access_token, s->creds.access_token) != 0 && (!cur.expires_at || cur.expires_at > time(NULL))) {
		unlock_refresh(fd);
		bs_auth_creds_free(&s->creds);
		s->creds = cur;
		s->found_in = where;
		return 0;
	}
	(void)force;
	if (!cur.refresh_token) {
		unlock_refresh(fd);
		bs_auth_creds_free(&cur);
		return bs_error_set(err, BS_ERR_AUTH, "Session expired. Run: bstscan auth login");
	}
	if (!cur.token_endpoint) {
		if ((rc = discover_token_endpoint(s, err)) < 0) {
			unlock_refresh(fd);
			bs_auth_creds_free(&cur);
			return rc;
		}
		cur.token_endpoint = bs_xstrdup(s->token_endpoint);
	}
	rc = bs_oauth_refresh(&t, s->http, cur.token_endpoint, cur.client_id ? cur.client_id : s->client_id,
	                      cur.refresh_token, err);
	if (rc == BS_ERR_AUTH) {
		/* invalid_grant: the login is over (expired, revoked, or the family was revoked for reuse). */
		bs_error delerr = BS_ERROR_INIT;
		bs_cred_store_delete(s->store, s->server, NULL, &delerr);
		unlock_refresh(fd);
		bs_auth_creds_free(&cur);
		bs_auth_creds_free(&s->creds);
		s->source = BS_AUTH_SOURCE_NONE;
		return bs_error_set(err, BS_ERR_AUTH, "Session expired. Run: bstscan auth login");
	}
	if (rc < 0) {
		unlock_refresh(fd);
		bs_auth_creds_free(&cur);
		return rc;
	}
	memset(&next, 0, sizeof(next));
	bs_auth_creds_copy(&next, &cur);
	free_secret(&next.access_token);
	next.access_token = t.access_token;
	t.access_token = NULL;
	if (t.refresh_token) {
		free_secret(&next.refresh_token);
		next.refresh_token = t.refresh_token;
		t.refresh_token = NULL;
	}
	if (t.scope) {
		free(next.scope);
		next.scope = t.scope;
		t.scope = NULL;
	}
	next.expires_at = t.expires_at;
	bs_oauth_tokens_free(&t);
	bs_auth_creds_free(&cur);
	/* The old refresh token is spent: the new one must be safe before the access token is used. */
	rc = bs_cred_store_save_to(s->store, where, &next, err);
	unlock_refresh(fd);
	if (rc < 0) {
		bs_auth_creds_free(&next);
		bs_error_prefix(err, "the login was refreshed but could not be saved (log in again)");
		return rc;
	}
	bs_auth_creds_free(&s->creds);
	s->creds = next;
	s->found_in = where;
	return 0;
}

static int bearer(bs_auth_session *s, bs_buf *out, int force, bs_error *err)
{
	int rc;
	switch (s->source) {
	case BS_AUTH_SOURCE_ENV:
		if (force)
			return bs_error_set(err, BS_ERR_AUTH, "the server refused the token in BSTSCAN_TOKEN");
		bs_buf_adds(out, s->mem_token);
		return 0;
	case BS_AUTH_SOURCE_WORKLOAD:
		if (force || !s->mem_token || !fresh(s->mem_expires_at))
			if ((rc = workload_exchange(s, err)) < 0)
				return rc;
		bs_buf_adds(out, s->mem_token);
		return 0;
	case BS_AUTH_SOURCE_KEYCHAIN:
	case BS_AUTH_SOURCE_FILE:
		if (force || !fresh(s->creds.expires_at)) {
			rc = refresh_stored(s, force, err);
			if (rc < 0) {
				/* A transient failure with a token not yet expired: use it, and say so. */
				if (!force && (rc == BS_ERR_NET || rc == BS_ERR_SERVER) && s->creds.access_token &&
				    s->creds.expires_at > time(NULL)) {
					bs_buf w = BS_BUF_INIT;
					bs_buf_addf(&w, "could not refresh the login (%s); using the current token",
					            err ? err->message : "error");
					set_warning(s, w.ptr);
					bs_buf_free(&w);
					bs_error_clear(err);
				} else {
					return rc;
				}
			}
		}
		bs_buf_adds(out, s->creds.access_token);
		return 0;
	default:
		return bs_error_set(err, BS_ERR_AUTH,
		                    "Not logged in to %s. Run: bstscan auth login (or set BSTSCAN_TOKEN)", s->server);
	}
}

int bs_auth_bearer(bs_auth_session *s, bs_buf *out, bs_error *err)
{
	return bearer(s, out, 0, err);
}

int bs_auth_bearer_renew(bs_auth_session *s, bs_buf *out, bs_error *err)
{
	return bearer(s, out, 1, err);
}

/* ---- me ---- */

void bs_auth_me_free(bs_auth_me *me)
{
	if (!me)
		return;
	free(me->sub);
	free(me->name);
	free(me->scopes);
	memset(me, 0, sizeof(*me));
}

static int get_me(bs_auth_session *s, const char *tok, bs_http_response *resp, bs_error *err)
{
	char *url = bs_xasprintf("%s/api/v1/me", s->server);
	int rc = bs_http_get(s->http, resp, url, tok, BS_HTTP_RETRY_IDEMPOTENT, err);
	free(url);
	return rc;
}

int bs_auth_session_me(bs_auth_session *s, bs_auth_me *out, bs_error *err)
{
	bs_buf tok = BS_BUF_INIT;
	bs_http_response resp;
	cJSON *j = NULL;
	const cJSON *v;
	int rc;
	memset(out, 0, sizeof(*out));
	memset(&resp, 0, sizeof(resp));
	if ((rc = bs_auth_bearer(s, &tok, err)) < 0)
		goto out;
	rc = get_me(s, tok.ptr, &resp, err);
	if (rc == 0 && resp.status == 401 && s->source != BS_AUTH_SOURCE_ENV) {
		/* Revoked or rotated elsewhere: one renewal, one retry. */
		bs_buf_free_secure(&tok);
		bs_http_response_free(&resp);
		if ((rc = bs_auth_bearer_renew(s, &tok, err)) < 0)
			goto out;
		rc = get_me(s, tok.ptr, &resp, err);
	}
	if (rc < 0)
		goto out;
	if (resp.status == 401) {
		rc = bs_error_set(err, BS_ERR_AUTH, "the server refused the credential from %s (HTTP 401)",
		                  bs_auth_source_name(s->source));
		goto out;
	}
	j = resp.status == 200 ? cJSON_ParseWithLength(resp.body.ptr, resp.body.len) : NULL;
	v = cJSON_GetObjectItemCaseSensitive(j, "sub");
	if (!cJSON_IsString(v)) {
		rc = bs_error_set(err, BS_ERR_SERVER, "unexpected answer from %s/api/v1/me: HTTP %ld", s->server,
		                  resp.status);
		goto out;
	}
	out->sub = bs_xstrdup(v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(j, "name");
	if (cJSON_IsString(v))
		out->name = bs_xstrdup(v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(j, "scopes");
	if (cJSON_IsArray(v)) {
		bs_buf sc = BS_BUF_INIT;
		const cJSON *it;
		cJSON_ArrayForEach(it, v)
		{
			if (cJSON_IsString(it)) {
				if (sc.len)
					bs_buf_addch(&sc, ' ');
				bs_buf_adds(&sc, it->valuestring);
			}
		}
		out->scopes = bs_buf_detach(&sc, NULL);
	} else if (cJSON_IsString(v)) {
		out->scopes = bs_xstrdup(v->valuestring);
	}
	rc = 0;
out:
	cJSON_Delete(j);
	bs_http_response_free(&resp);
	bs_buf_free_secure(&tok);
	return rc;
}

/* ---- login / logout ---- */

int bs_auth_session_login(bs_auth_session *s, const char *scope, const bs_device_ui *ui, bs_error *err)
{
	bs_oauth_endpoints ep;
	bs_oauth_tokens t;
	bs_auth_creds c, old;
	int rc;
	if (!s->store)
		return bs_error_set(err, BS_ERR_USAGE, "login needs a session opened with stored_only");
	if ((rc = bs_oauth_discover(&ep, s->http, s->server, err)) < 0)
		return rc;
	rc = bs_oauth_device_login(&t, s->http, &ep, s->client_id, scope, ui, err);
	if (rc < 0) {
		bs_oauth_endpoints_free(&ep);
		return rc;
	}
	memset(&c, 0, sizeof(c));
	c.server = bs_xstrdup(s->server);
	c.client_id = bs_xstrdup(s->client_id);
	c.token_endpoint = bs_xstrdup(ep.token_endpoint);
	c.revocation_endpoint = dup_or_null(ep.revocation_endpoint);
	c.access_token = t.access_token;
	c.refresh_token = t.refresh_token;
	c.scope = t.scope;
	c.expires_at = t.expires_at;
	c.created_at = time(NULL);
	t.access_token = t.refresh_token = t.scope = NULL;
	bs_oauth_tokens_free(&t);
	bs_oauth_endpoints_free(&ep);
	rc = bs_cred_store_save(s->store, &c, err);
	if (rc < 0) {
		bs_auth_creds_free(&c);
		bs_error_prefix(err, "logged in, but the login could not be saved");
		return rc;
	}
	/* A replaced login's refresh token would stay valid at the server: revoke it, best effort. */
	old = s->creds;
	if (old.refresh_token && old.revocation_endpoint) {
		bs_error ignored = BS_ERROR_INIT;
		bs_oauth_revoke(s->http, old.revocation_endpoint, old.client_id ? old.client_id : s->client_id,
		                old.refresh_token, "refresh_token", &ignored);
	}
	bs_auth_creds_free(&old);
	s->creds = c;
	s->found_in = bs_cred_store_kind(s->store);
	s->source = s->found_in == BS_STORE_KEYCHAIN ? BS_AUTH_SOURCE_KEYCHAIN : BS_AUTH_SOURCE_FILE;
	return 0;
}

int bs_auth_session_logout(bs_auth_session *s, int *revoked, bs_error *revoke_err, bs_error *err)
{
	bs_auth_creds *c = &s->creds;
	int deleted = 0, rc;
	*revoked = 0;
	if (!s->store)
		return bs_error_set(err, BS_ERR_USAGE, "logout needs a session opened with stored_only");
	if (s->source != BS_AUTH_SOURCE_KEYCHAIN && s->source != BS_AUTH_SOURCE_FILE)
		return bs_error_set(err, BS_ERR_NOTFOUND, "not logged in to %s", s->server);
	{
		const char *tok = c->refresh_token ? c->refresh_token : c->access_token;
		const char *hint = c->refresh_token ? "refresh_token" : "access_token";
		char *endpoint = dup_or_null(c->revocation_endpoint);
		bs_error rerr = BS_ERROR_INIT;
		if (!endpoint) {
			bs_oauth_endpoints ep;
			if (bs_oauth_discover(&ep, s->http, s->server, &rerr) == 0) {
				endpoint = dup_or_null(ep.revocation_endpoint);
				if (!endpoint)
					bs_error_set(&rerr, BS_ERR_UNSUPPORTED,
					             "the server has no revocation endpoint");
				bs_oauth_endpoints_free(&ep);
			}
		}
		if (endpoint && bs_oauth_revoke(s->http, endpoint, c->client_id ? c->client_id : s->client_id, tok,
		                                hint, &rerr) == 0)
			*revoked = 1;
		if (!*revoked && revoke_err)
			*revoke_err = rerr;
		free(endpoint);
	}
	/* Local credentials go whatever the server said: the user asked to be logged out here. */
	rc = bs_cred_store_delete(s->store, s->server, &deleted, err);
	if (rc < 0)
		return rc;
	bs_auth_creds_free(&s->creds);
	s->source = BS_AUTH_SOURCE_NONE;
	return 0;
}
