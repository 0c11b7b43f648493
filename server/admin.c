#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fs.h"
#include "common/secure.h"
#include "common/timeutil.h"
#include "server/srv.h"
#include "common/banned.h"

/* `bstscan-server admin --db FILE <noun> <verb> ...`: what tests and demos
 * need to set up and inspect a server, working on the same database while the
 * server runs. Output is for scripts: one value, or JSON lines. */

typedef struct opts {
	const char *pos[4];
	int npos;
	const char *names[12];
	const char *values[12];
	int n;
} opts;

static int usage_to(FILE *f, int rc)
{
	fputs("usage: bstscan-server admin --db FILE COMMAND\n"
	      "  user add NAME                      (password on stdin)\n"
	      "  pat create --user NAME --name LABEL --scopes S1,S2 [--expires-in DAYS | --expires-at RFC3339]\n"
	      "  pat revoke (--hash HEX | --id ID)\n"
	      "  pat list [--user NAME]\n"
	      "  device approve USER_CODE --user NAME\n"
	      "  device deny USER_CODE --user NAME\n"
	      "  trust add --issuer URL --jwks FILE --audience AUD --subject GLOB --scopes S1,S2\n"
	      "  trust list\n"
	      "  audit list\n"
	      "  notifications list\n"
	      "  fault set ENDPOINT STATUS [--count N]\n"
	      "  fault clear [ENDPOINT]\n",
	      f);
	return rc;
}

static int usage(void)
{
	return usage_to(stderr, 2);
}

static int parse_opts(opts *o, int argc, char **argv)
{
	memset(o, 0, sizeof(*o));
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0) {
			if (i + 1 >= argc || o->n == 12) {
				fprintf(stderr, "bstscan-server admin: %s needs a value\n", argv[i]);
				return -1;
			}
			o->names[o->n] = argv[i] + 2;
			o->values[o->n++] = argv[++i];
		} else if (o->npos < 4) {
			o->pos[o->npos++] = argv[i];
		} else {
			fprintf(stderr, "bstscan-server admin: unexpected argument %s\n", argv[i]);
			return -1;
		}
	}
	return 0;
}

static const char *opt(const opts *o, const char *name)
{
	for (int i = 0; i < o->n; i++)
		if (strcmp(o->names[i], name) == 0)
			return o->values[i];
	return NULL;
}

static const char *need(const opts *o, const char *name)
{
	const char *v = opt(o, name);
	if (!v)
		fprintf(stderr, "bstscan-server admin: --%s is required\n", name);
	return v;
}

static int fail(const char *msg)
{
	fprintf(stderr, "bstscan-server admin: %s\n", msg);
	return 1;
}

int bs_srv_user_add(sqlite3 *db, const char *name, const char *password, bs_error *err)
{
	char *hash;
	sqlite3_stmt *st;
	int ok;
	if (!*name || strlen(name) > 64)
		return bs_error_set(err, BS_ERR_USAGE, "a user name has 1 to 64 bytes");
	/* ':' is reserved: "ci:<subject>" names token-exchange callers. */
	for (const char *p = name; *p; p++)
		if (*p == ':' || (unsigned char)*p <= ' ' || *p == 0x7f)
			return bs_error_set(err, BS_ERR_USAGE, "a user name has no ':', spaces or control characters");
	if (strlen(password) < 1)
		return bs_error_set(err, BS_ERR_USAGE, "the password is empty");
	st = bs_srv_prep(db, "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)");
	if (!st)
		return bs_error_set(err, BS_ERR_IO, "database error");
	hash = bs_srv_password_hash(password);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	free(hash);
	if (!ok)
		return bs_error_set(err, BS_ERR_USAGE, "cannot add user %s: %s", name, sqlite3_errmsg(db));
	return 0;
}

static int cmd_user(sqlite3 *db, const opts *o)
{
	char line[1024];
	size_t n;
	bs_error err = BS_ERROR_INIT;
	if (o->npos != 3 || strcmp(o->pos[1], "add") != 0)
		return usage();
	if (!fgets(line, sizeof(line), stdin))
		return fail("no password on stdin");
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (bs_srv_user_add(db, o->pos[2], line, &err) < 0) {
		bs_secure_zero(line, sizeof(line));
		return fail(err.message);
	}
	bs_secure_zero(line, sizeof(line));
	return 0;
}

static void print_row_json(sqlite3_stmt *st)
{
	cJSON *o = cJSON_CreateObject();
	char *s;
	for (int i = 0; i < sqlite3_column_count(st); i++) {
		const char *name = sqlite3_column_name(st, i);
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_NULL:
			cJSON_AddNullToObject(o, name);
			break;
		case SQLITE_INTEGER:
		case SQLITE_FLOAT:
			cJSON_AddNumberToObject(o, name, sqlite3_column_double(st, i));
			break;
		default:
			cJSON_AddStringToObject(o, name, (const char *)sqlite3_column_text(st, i));
		}
	}
	s = cJSON_PrintUnformatted(o);
	puts(s);
	free(s);
	cJSON_Delete(o);
}

static int print_query(sqlite3 *db, const char *sql, const char *arg)
{
	sqlite3_stmt *st = bs_srv_prep(db, sql);
	if (!st)
		return 1;
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		print_row_json(st);
	sqlite3_finalize(st);
	return 0;
}

static int cmd_pat(sqlite3 *db, const opts *o)
{
	if (o->npos == 2 && strcmp(o->pos[1], "create") == 0) {
		const char *user = need(o, "user"), *name = need(o, "name"), *scopes = need(o, "scopes");
		const char *days = opt(o, "expires-in"), *at = opt(o, "expires-at");
		char token[48], *norm;
		time_t expires_at = 0;
		long long uid;
		bs_error err = BS_ERROR_INIT;
		if (!user || !name || !scopes)
			return 2;
		uid = bs_srv_user_id(db, user);
		if (uid < 0)
			return fail("no such user");
		if (days) {
			char *end;
			long d = strtol(days, &end, 10);
			if (*end || d <= 0 || d > 3650)
				return fail("--expires-in takes 1 to 3650 days");
			expires_at = time(NULL) + d * 86400;
		} else if (at && bs_time_parse_rfc3339(at, &expires_at) < 0) {
			return fail(
			    "--expires-at takes an RFC 3339 time (a past one makes an expired token, for tests)");
		}
		norm = bs_srv_scopes_normalize(scopes);
		if (!*norm || !bs_srv_scopes_subset(norm, BS_SRV_PRODUCT_SCOPES)) {
			free(norm);
			return fail(
			    "--scopes takes a comma-separated subset of leaks:check,leaks:revoke,pats:read,pats:write");
		}
		if (bs_srv_pat_create(db, uid, name, norm, expires_at, token, NULL, &err) < 0) {
			free(norm);
			return fail(err.message);
		}
		free(norm);
		/* The one place the raw token is shown, as the issue asks. */
		puts(token);
		bs_secure_zero(token, sizeof(token));
		return 0;
	}
	if (o->npos == 2 && strcmp(o->pos[1], "revoke") == 0) {
		const char *hash = opt(o, "hash"), *id = opt(o, "id");
		sqlite3_stmt *st;
		long long pid = -1;
		int rc;
		if (!hash && !id)
			return usage();
		st = bs_srv_prep(db, hash ? "SELECT id FROM personal_access_tokens WHERE token_hash = ?"
		                          : "SELECT id FROM personal_access_tokens WHERE id = ?");
		if (!st)
			return 1;
		sqlite3_bind_text(st, 1, hash ? hash : id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			pid = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (pid < 0)
			return fail("no such token");
		rc = bs_srv_pat_revoke_row(db, pid, "revoked by an administrator");
		if (rc == 1)
			bs_srv_audit(db, "admin", "admin_revoke", hash, "revoked by an administrator", NULL, "revoked");
		puts(rc == 1 ? "revoked" : "already_revoked");
		return rc < 0 ? 1 : 0;
	}
	if (o->npos == 2 && strcmp(o->pos[1], "list") == 0) {
		const char *user = opt(o, "user");
		return print_query(
		    db,
		    user ? "SELECT p.id, u.username AS owner, p.name, p.token_prefix, p.token_hash, p.scopes,"
		           " p.created_at, p.expires_at, p.last_used_at, p.revoked_at FROM personal_access_tokens p"
		           " JOIN users u ON u.id = p.user_id WHERE u.username = ? ORDER BY p.id"
		         : "SELECT p.id, u.username AS owner, p.name, p.token_prefix, p.token_hash, p.scopes,"
		           " p.created_at, p.expires_at, p.last_used_at, p.revoked_at FROM personal_access_tokens p"
		           " JOIN users u ON u.id = p.user_id ORDER BY p.id",
		    user);
	}
	return usage();
}

static int cmd_device(sqlite3 *db, const opts *o)
{
	const char *user = need(o, "user");
	char code[9];
	long long uid;
	int approve;
	sqlite3_stmt *st;
	if (o->npos != 3 || !user)
		return usage();
	approve = strcmp(o->pos[1], "approve") == 0;
	if (!approve && strcmp(o->pos[1], "deny") != 0)
		return usage();
	if (bs_srv_user_code_normalize(o->pos[2], code) < 0)
		return fail("not a user code (8 letters of BCDFGHJKLMNPQRSTVWXZ, dashes optional)");
	uid = bs_srv_user_id(db, user);
	if (uid < 0)
		return fail("no such user");
	st = bs_srv_prep(db, "UPDATE device_authorizations SET status = ?, user_id = ? WHERE user_code = ?"
	                     " AND status = 'pending' AND expires_at > ?");
	if (!st)
		return 1;
	sqlite3_bind_text(st, 1, approve ? "approved" : "denied", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_text(st, 3, code, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	sqlite3_step(st);
	sqlite3_finalize(st);
	if (sqlite3_changes(db) != 1)
		return fail("no pending, unexpired authorization has that code");
	return 0;
}

static int cmd_trust(sqlite3 *db, const opts *o)
{
	const char *issuer, *jwks_path, *aud, *subject, *scopes;
	bs_buf jwks = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	cJSON *j;
	char *norm;
	sqlite3_stmt *st;
	int ok;
	if (o->npos == 2 && strcmp(o->pos[1], "list") == 0)
		return print_query(db,
		                   "SELECT id, issuer, audience, subject_glob, scopes, created_at FROM trust_policies"
		                   " ORDER BY id",
		                   NULL);
	if (o->npos != 2 || strcmp(o->pos[1], "add") != 0)
		return usage();
	issuer = need(o, "issuer");
	jwks_path = need(o, "jwks");
	aud = need(o, "audience");
	subject = need(o, "subject");
	scopes = need(o, "scopes");
	if (!issuer || !jwks_path || !aud || !subject || !scopes)
		return 2;
	if (bs_fs_read_file(&jwks, jwks_path, 1024 * 1024, &err) < 0)
		return fail(err.message);
	/* Stored at policy time: token exchange then needs no network or file. */
	j = cJSON_ParseWithLength(jwks.ptr, jwks.len);
	if (!j || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "keys"))) {
		cJSON_Delete(j);
		bs_buf_free(&jwks);
		return fail("--jwks must be a JWKS document ({\"keys\": [...]})");
	}
	cJSON_Delete(j);
	norm = bs_srv_scopes_normalize(scopes);
	if (!*norm || !bs_srv_scopes_subset(norm, BS_SRV_PRODUCT_SCOPES)) {
		free(norm);
		bs_buf_free(&jwks);
		return fail("--scopes takes a comma-separated subset of leaks:check,leaks:revoke,pats:read,pats:write");
	}
	st = bs_srv_prep(db, "INSERT INTO trust_policies (issuer, jwks, audience, subject_glob, scopes, created_at)"
	                     " VALUES (?, ?, ?, ?, ?, ?)");
	if (!st) {
		free(norm);
		bs_buf_free(&jwks);
		return 1;
	}
	sqlite3_bind_text(st, 1, issuer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, jwks.ptr, (int)jwks.len, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, aud, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, norm, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	free(norm);
	bs_buf_free(&jwks);
	if (!ok)
		return fail("cannot store the policy");
	printf("%lld\n", (long long)sqlite3_last_insert_rowid(db));
	return 0;
}

static int cmd_fault(sqlite3 *db, const opts *o)
{
	sqlite3_stmt *st;
	if (o->npos >= 2 && strcmp(o->pos[1], "clear") == 0) {
		st = bs_srv_prep(db, o->npos == 3 ? "DELETE FROM faults WHERE endpoint = ?" : "DELETE FROM faults");
		if (!st)
			return 1;
		if (o->npos == 3)
			sqlite3_bind_text(st, 1, o->pos[2], -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_finalize(st);
		return 0;
	}
	if (o->npos == 4 && strcmp(o->pos[1], "set") == 0) {
		int status = atoi(o->pos[3]);
		const char *count = opt(o, "count");
		if (status < 400 || status > 599)
			return fail("STATUS must be 400 to 599");
		st = bs_srv_prep(db, "INSERT OR REPLACE INTO faults (endpoint, status, remaining) VALUES (?, ?, ?)");
		if (!st)
			return 1;
		sqlite3_bind_text(st, 1, o->pos[2], -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, status);
		if (count)
			sqlite3_bind_int(st, 3, atoi(count));
		else
			sqlite3_bind_null(st, 3);
		sqlite3_step(st);
		sqlite3_finalize(st);
		return 0;
	}
	return usage();
}

int bs_srv_admin_main(int argc, char **argv)
{
	const char *dbpath = NULL;
	opts o;
	sqlite3 *db;
	bs_error err = BS_ERROR_INIT;
	int rc, i = 1;
	if (i + 1 < argc && strcmp(argv[i], "--db") == 0) {
		dbpath = argv[i + 1];
		i += 2;
	}
	if (i < argc && (strcmp(argv[i], "help") == 0 || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0))
		return usage_to(stdout, 0);
	if (!dbpath || parse_opts(&o, argc - i, argv + i) < 0 || o.npos < 1)
		return usage();
	if (bs_srv_db_open(&db, dbpath, &err) < 0) {
		fprintf(stderr, "bstscan-server admin: %s\n", err.message);
		return 1;
	}
	if (strcmp(o.pos[0], "user") == 0)
		rc = cmd_user(db, &o);
	else if (strcmp(o.pos[0], "pat") == 0)
		rc = cmd_pat(db, &o);
	else if (strcmp(o.pos[0], "device") == 0)
		rc = cmd_device(db, &o);
	else if (strcmp(o.pos[0], "trust") == 0)
		rc = cmd_trust(db, &o);
	else if (strcmp(o.pos[0], "audit") == 0 && o.npos == 2 && strcmp(o.pos[1], "list") == 0)
		rc = print_query(
		    db, "SELECT id, at, actor, action, token_hash, reason, source, outcome FROM audit_log ORDER BY id",
		    NULL);
	else if (strcmp(o.pos[0], "notifications") == 0 && o.npos == 2 && strcmp(o.pos[1], "list") == 0)
		rc = print_query(db,
		                 "SELECT n.id, u.username AS owner, n.pat_id, n.kind, n.message, n.created_at FROM"
		                 " notifications n JOIN users u ON u.id = n.user_id ORDER BY n.id",
		                 NULL);
	else if (strcmp(o.pos[0], "fault") == 0)
		rc = cmd_fault(db, &o);
	else
		rc = usage();
	fflush(stdout);
	sqlite3_close(db);
	return rc;
}
