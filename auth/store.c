#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/keychain.h"
#include "auth/store.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/secure.h"
#include "common/timeutil.h"
#include "common/banned.h"

#define CREDS_MAX_BYTES (1u << 20)

struct bs_cred_store {
	bs_store_kind kind; /* KEYCHAIN or FILE */
	int auto_mode;
	int timeout_ms;
	char *dir;
	char *file;
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

void bs_auth_creds_free(bs_auth_creds *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->client_id);
	free(c->token_endpoint);
	free(c->revocation_endpoint);
	free_secret(&c->access_token);
	free_secret(&c->refresh_token);
	free(c->scope);
	memset(c, 0, sizeof(*c));
}

static char *dup_or_null(const char *s)
{
	return s ? bs_xstrdup(s) : NULL;
}

void bs_auth_creds_copy(bs_auth_creds *dst, const bs_auth_creds *src)
{
	dst->server = dup_or_null(src->server);
	dst->client_id = dup_or_null(src->client_id);
	dst->token_endpoint = dup_or_null(src->token_endpoint);
	dst->revocation_endpoint = dup_or_null(src->revocation_endpoint);
	dst->access_token = dup_or_null(src->access_token);
	dst->refresh_token = dup_or_null(src->refresh_token);
	dst->scope = dup_or_null(src->scope);
	dst->expires_at = src->expires_at;
	dst->created_at = src->created_at;
}

static cJSON *creds_to_object(const bs_auth_creds *c)
{
	cJSON *o = cJSON_CreateObject();
	char t[BS_RFC3339_LEN];
	cJSON_AddStringToObject(o, "server", c->server ? c->server : "");
	if (c->client_id)
		cJSON_AddStringToObject(o, "client_id", c->client_id);
	if (c->token_endpoint)
		cJSON_AddStringToObject(o, "token_endpoint", c->token_endpoint);
	if (c->revocation_endpoint)
		cJSON_AddStringToObject(o, "revocation_endpoint", c->revocation_endpoint);
	if (c->access_token)
		cJSON_AddStringToObject(o, "access_token", c->access_token);
	if (c->refresh_token)
		cJSON_AddStringToObject(o, "refresh_token", c->refresh_token);
	if (c->scope)
		cJSON_AddStringToObject(o, "scope", c->scope);
	if (c->expires_at) {
		bs_time_format_rfc3339(c->expires_at, t);
		cJSON_AddStringToObject(o, "expires_at", t);
	}
	if (c->created_at) {
		bs_time_format_rfc3339(c->created_at, t);
		cJSON_AddStringToObject(o, "created_at", t);
	}
	return o;
}

/* cJSON_Delete does not clear memory; tokens pass through these trees. */
static void wipe_tree(cJSON *o)
{
	cJSON *it;
	if (!o)
		return;
	if (cJSON_IsString(o) && o->valuestring)
		bs_secure_zero(o->valuestring, strlen(o->valuestring));
	cJSON_ArrayForEach(it, o)
	{
		wipe_tree(it);
	}
}

static void delete_wiped(cJSON *o)
{
	wipe_tree(o);
	cJSON_Delete(o);
}

static char *print_and_wipe(cJSON *o)
{
	char *s = cJSON_Print(o);
	if (!s)
		abort();
	delete_wiped(o);
	return s;
}

char *bs_auth_creds_to_json(const bs_auth_creds *c)
{
	return print_and_wipe(creds_to_object(c));
}

static const char *ostr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int creds_from_object(bs_auth_creds *out, const cJSON *o, bs_error *err)
{
	const char *s;
	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(o) || !ostr(o, "server") || !ostr(o, "access_token"))
		return bs_error_set(err, BS_ERR_PARSE, "stored login is incomplete (no server or access token)");
	out->server = bs_xstrdup(ostr(o, "server"));
	out->client_id = dup_or_null(ostr(o, "client_id"));
	out->token_endpoint = dup_or_null(ostr(o, "token_endpoint"));
	out->revocation_endpoint = dup_or_null(ostr(o, "revocation_endpoint"));
	out->access_token = bs_xstrdup(ostr(o, "access_token"));
	out->refresh_token = dup_or_null(ostr(o, "refresh_token"));
	out->scope = dup_or_null(ostr(o, "scope"));
	if ((s = ostr(o, "expires_at")))
		bs_time_parse_rfc3339(s, &out->expires_at);
	if ((s = ostr(o, "created_at")))
		bs_time_parse_rfc3339(s, &out->created_at);
	return 0;
}

int bs_auth_creds_from_json(bs_auth_creds *out, const char *json, size_t len, bs_error *err)
{
	cJSON *o = cJSON_ParseWithLength(json, len);
	int rc;
	if (!o)
		return bs_error_set(err, BS_ERR_PARSE, "stored login is not valid JSON");
	rc = creds_from_object(out, o, err);
	delete_wiped(o);
	return rc;
}

/* ---- the file backend ---- */

/* Reads the credentials file after checking that only we can read it. BS_ERR_NOTFOUND if absent. */
static int file_read(bs_cred_store *s, bs_buf *out, bs_error *err)
{
	struct stat st;
	int fd = open(s->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return bs_error_set(err, BS_ERR_NOTFOUND, "no credentials file at %s", s->file);
		if (errno == ELOOP)
			return bs_error_set(err, BS_ERR_IO, "refusing to read %s: it is a symbolic link", s->file);
		return bs_error_set(err, BS_ERR_IO, "cannot open %s: %s", s->file, strerror(errno));
	}
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return bs_error_set(err, BS_ERR_IO, "cannot stat %s: %s", s->file, strerror(e));
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != getuid()) {
		close(fd);
		return bs_error_set(err, BS_ERR_IO, "refusing to read %s: it is not a regular file owned by you",
		                    s->file);
	}
	if (st.st_mode & 077) {
		close(fd);
		return bs_error_set(err, BS_ERR_IO,
		                    "refusing to read %s: other users can access it (mode %03o); run: chmod 600 %s",
		                    s->file, (unsigned)(st.st_mode & 0777), s->file);
	}
	close(fd);
	/* The checks above ran on the file we then read: a swap in between would need write access to
	 * a directory that is ours. */
	return bs_fs_read_file(out, s->file, CREDS_MAX_BYTES, err);
}

/* The file holds {"version": 1, "logins": [creds...]}. Returns the parsed tree or NULL when absent. */
static int file_load_tree(bs_cred_store *s, cJSON **tree, bs_error *err)
{
	bs_buf raw = BS_BUF_INIT;
	int rc = file_read(s, &raw, err);
	*tree = NULL;
	if (rc == BS_ERR_NOTFOUND) {
		bs_buf_free(&raw);
		return 0;
	}
	if (rc < 0) {
		bs_buf_free_secure(&raw);
		return rc;
	}
	*tree = cJSON_ParseWithLength(raw.ptr, raw.len);
	bs_buf_free_secure(&raw);
	if (!*tree || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*tree, "logins"))) {
		delete_wiped(*tree);
		*tree = NULL;
		return bs_error_set(err, BS_ERR_PARSE,
		                    "%s is not a bstscan credentials file; move it away and log in again", s->file);
	}
	return 0;
}

static cJSON *find_login(cJSON *tree, const char *server, int *index)
{
	cJSON *it;
	int i = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(tree, "logins"))
	{
		const char *srv = ostr(it, "server");
		if (srv && !strcmp(srv, server)) {
			if (index)
				*index = i;
			return it;
		}
		i++;
	}
	return NULL;
}

static int file_load(bs_cred_store *s, const char *server, bs_auth_creds *out, bs_error *err)
{
	cJSON *tree, *o;
	int rc = file_load_tree(s, &tree, err);
	if (rc < 0)
		return rc;
	o = tree ? find_login(tree, server, NULL) : NULL;
	if (!o)
		rc = bs_error_set(err, BS_ERR_NOTFOUND, "no login for %s in %s", server, s->file);
	else
		rc = creds_from_object(out, o, err);
	delete_wiped(tree);
	return rc;
}

static int file_write_tree(bs_cred_store *s, cJSON *tree, bs_error *err)
{
	char *text;
	int rc;
	if ((rc = bs_fs_mkdir_p(s->dir, 0700, err)) < 0)
		return rc;
	text = print_and_wipe(tree);
	rc = bs_fs_write_atomic(s->file, text, strlen(text), 0600, err);
	bs_secure_zero(text, strlen(text));
	free(text);
	return rc;
}

static int file_save(bs_cred_store *s, const bs_auth_creds *c, bs_error *err)
{
	cJSON *tree, *logins;
	int idx = -1;
	int rc = file_load_tree(s, &tree, err);
	if (rc < 0)
		return rc;
	if (!tree) {
		tree = cJSON_CreateObject();
		cJSON_AddNumberToObject(tree, "version", 1);
		cJSON_AddItemToObject(tree, "logins", cJSON_CreateArray());
	}
	logins = cJSON_GetObjectItemCaseSensitive(tree, "logins");
	if (find_login(tree, c->server, &idx)) {
		delete_wiped(cJSON_DetachItemFromArray(logins, idx));
		cJSON_InsertItemInArray(logins, idx, creds_to_object(c));
	} else {
		cJSON_AddItemToArray(logins, creds_to_object(c));
	}
	return file_write_tree(s, tree, err);
}

static int file_delete(bs_cred_store *s, const char *server, int *deleted, bs_error *err)
{
	cJSON *tree;
	int idx = -1;
	int rc = file_load_tree(s, &tree, err);
	if (rc < 0 || !tree)
		return rc;
	if (!find_login(tree, server, &idx)) {
		delete_wiped(tree);
		return 0;
	}
	delete_wiped(cJSON_DetachItemFromArray(cJSON_GetObjectItemCaseSensitive(tree, "logins"), idx));
	if (deleted)
		*deleted = 1;
	return file_write_tree(s, tree, err);
}

/* ---- dispatch ---- */

int bs_cred_store_open(bs_cred_store **out, const bs_cred_store_options *opts, bs_error *err)
{
	bs_cred_store *s;
	bs_store_kind kind = opts ? opts->kind : BS_STORE_AUTO;
	const char *env_to = getenv("BSTSCAN_KEYCHAIN_TIMEOUT_MS");
	*out = NULL;
	s = bs_xcalloc(1, sizeof(*s));
	s->timeout_ms = opts && opts->keychain_timeout_ms > 0 ? opts->keychain_timeout_ms : 10000;
	if ((!opts || opts->keychain_timeout_ms <= 0) && env_to && atoi(env_to) > 0)
		s->timeout_ms = atoi(env_to);
	s->dir = bs_fs_config_dir();
	if (!s->dir) {
		free(s);
		return bs_error_set(err, BS_ERR_IO,
		                    "cannot find a configuration directory: set HOME or XDG_CONFIG_HOME");
	}
	s->file = bs_xasprintf("%s/credentials.json", s->dir);
	if (kind == BS_STORE_FILE) {
		s->kind = BS_STORE_FILE;
	} else {
		bs_buf why = BS_BUF_INIT;
		int rc = bs_keychain_probe(s->timeout_ms, &why, err);
		if (rc < 0) {
			bs_buf_free(&why);
			bs_cred_store_close(s);
			return rc;
		}
		if (rc == 0 && kind == BS_STORE_KEYCHAIN) {
			rc = bs_error_set(err, BS_ERR_UNSUPPORTED, "the keychain is not available here (%s)", why.ptr);
			bs_buf_free(&why);
			bs_cred_store_close(s);
			return rc;
		}
		if (rc == 0) {
			s->kind = BS_STORE_FILE;
			s->warning = bs_xasprintf("secure storage is unavailable (%s); credentials are kept in %s",
			                          why.ptr, s->file);
		} else {
			s->kind = BS_STORE_KEYCHAIN;
			s->auto_mode = kind == BS_STORE_AUTO;
		}
		bs_buf_free(&why);
	}
	*out = s;
	return 0;
}

void bs_cred_store_close(bs_cred_store *s)
{
	if (!s)
		return;
	free(s->dir);
	free(s->file);
	free(s->warning);
	free(s);
}

bs_store_kind bs_cred_store_kind(const bs_cred_store *s)
{
	return s->kind;
}

const char *bs_cred_store_warning(const bs_cred_store *s)
{
	return s->warning;
}

const char *bs_cred_store_file_path(const bs_cred_store *s)
{
	return s->file;
}

int bs_cred_store_load(bs_cred_store *s, const char *server, bs_auth_creds *out, bs_store_kind *found_in, bs_error *err)
{
	int rc;
	memset(out, 0, sizeof(*out));
	if (s->kind == BS_STORE_KEYCHAIN) {
		bs_buf secret = BS_BUF_INIT;
		rc = bs_keychain_load(server, &secret, s->timeout_ms, err);
		if (rc == 0)
			rc = bs_auth_creds_from_json(out, secret.ptr, secret.len, err);
		bs_buf_free_secure(&secret);
		if (rc == 0 && found_in)
			*found_in = BS_STORE_KEYCHAIN;
		/* A login made with --credential-store file is still this user's login. */
		if (rc != BS_ERR_NOTFOUND || !s->auto_mode)
			return rc;
	}
	rc = file_load(s, server, out, err);
	if (rc == 0 && found_in)
		*found_in = BS_STORE_FILE;
	return rc;
}

int bs_cred_store_save_to(bs_cred_store *s, bs_store_kind where, const bs_auth_creds *c, bs_error *err)
{
	if (where == BS_STORE_KEYCHAIN) {
		char *json = bs_auth_creds_to_json(c);
		int rc = bs_keychain_store(c->server, json, s->timeout_ms, err);
		bs_secure_zero(json, strlen(json));
		free(json);
		return rc;
	}
	return file_save(s, c, err);
}

int bs_cred_store_save(bs_cred_store *s, const bs_auth_creds *c, bs_error *err)
{
	return bs_cred_store_save_to(s, s->kind, c, err);
}

int bs_cred_store_delete(bs_cred_store *s, const char *server, int *deleted, bs_error *err)
{
	int rc = 0;
	if (deleted)
		*deleted = 0;
	if (s->kind == BS_STORE_KEYCHAIN && (rc = bs_keychain_delete(server, deleted, s->timeout_ms, err)) < 0)
		return rc;
	return file_delete(s, server, deleted, err);
}
