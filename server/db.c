#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/srv.h"
#include "common/banned.h"

/* Migrations are applied in order, each in its own transaction, and
 * PRAGMA user_version records how many ran. A released migration is never
 * edited: a change to the schema is a new entry at the end. */
static const char *const migrations[] = {
    /* 1: the initial schema. Times are Unix seconds (UTC) unless the name
     * ends in _ms. */
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE personal_access_tokens ("
    "  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), name TEXT NOT NULL,"
    "  token_hash TEXT NOT NULL UNIQUE, token_prefix TEXT NOT NULL, scopes TEXT NOT NULL,"
    "  last_used_at INTEGER, expires_at INTEGER, created_at INTEGER NOT NULL, revoked_at INTEGER);"
    "CREATE INDEX pat_user ON personal_access_tokens(user_id);"
    "CREATE TABLE device_authorizations ("
    "  id INTEGER PRIMARY KEY, device_code_hash TEXT NOT NULL UNIQUE, user_code TEXT NOT NULL UNIQUE,"
    "  client_id TEXT NOT NULL, scopes TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('pending','approved','denied','redeemed')),"
    "  user_id INTEGER REFERENCES users(id), interval INTEGER NOT NULL, last_poll_ms INTEGER,"
    "  expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE refresh_token_families ("
    "  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), client_id TEXT NOT NULL,"
    "  scopes TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER, revoked_reason TEXT);"
    "CREATE TABLE refresh_tokens ("
    "  id INTEGER PRIMARY KEY, family_id INTEGER NOT NULL REFERENCES refresh_token_families(id),"
    "  token_hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    "  used_at INTEGER);"
    "CREATE TABLE access_tokens ("
    "  jti TEXT PRIMARY KEY, family_id INTEGER REFERENCES refresh_token_families(id), sub TEXT NOT NULL,"
    "  expires_at INTEGER NOT NULL, revoked_at INTEGER);"
    "CREATE TABLE trust_policies ("
    "  id INTEGER PRIMARY KEY, issuer TEXT NOT NULL, jwks TEXT NOT NULL, audience TEXT NOT NULL,"
    "  subject_glob TEXT NOT NULL, scopes TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE audit_log ("
    "  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT, action TEXT NOT NULL, token_hash TEXT,"
    "  reason TEXT, source TEXT, outcome TEXT);"
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
    "CREATE TABLE notifications ("
    "  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),"
    "  pat_id INTEGER NOT NULL REFERENCES personal_access_tokens(id), kind TEXT NOT NULL,"
    "  message TEXT NOT NULL, created_at INTEGER NOT NULL, UNIQUE (pat_id, kind));"
    "CREATE TABLE web_sessions ("
    "  id_hash TEXT PRIMARY KEY, csrf TEXT NOT NULL, user_id INTEGER REFERENCES users(id),"
    "  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);"
    "CREATE TABLE faults ("
    "  endpoint TEXT PRIMARY KEY, status INTEGER NOT NULL, remaining INTEGER);",
};

static void log_sql_error(sqlite3 *db, const char *what)
{
	fprintf(stderr, "bstscan-server: sqlite: %s: %s\n", what, sqlite3_errmsg(db));
}

sqlite3_stmt *bs_srv_prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_sql_error(db, sql);
		return NULL;
	}
	return st;
}

int bs_srv_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "bstscan-server: sqlite: %s\n", msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int bs_srv_db_open(sqlite3 **out, const char *path, bs_error *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int version = 0;
	const int count = (int)(sizeof(migrations) / sizeof(migrations[0]));

	*out = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		bs_error_set(err, BS_ERR_IO, "cannot open database %s: %s", path,
		             db ? sqlite3_errmsg(db) : "no memory");
		sqlite3_close(db);
		return BS_ERR_IO;
	}
	/* The admin CLI writes while the server runs: wait for the lock instead
	 * of failing with SQLITE_BUSY. */
	sqlite3_busy_timeout(db, 10000);
	if (bs_srv_exec(db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;") < 0)
		goto fail;
	st = bs_srv_prep(db, "PRAGMA user_version");
	if (!st)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > count) {
		bs_error_set(err, BS_ERR_UNSUPPORTED, "database %s has schema version %d, newer than this server (%d)",
		             path, version, count);
		sqlite3_close(db);
		return BS_ERR_UNSUPPORTED;
	}
	for (int v = version; v < count; v++) {
		char pragma[64];
		/* IMMEDIATE: two processes opening a fresh file at once must not
		 * both run migration 1. */
		if (bs_srv_exec(db, "BEGIN IMMEDIATE") < 0)
			goto fail;
		st = bs_srv_prep(db, "PRAGMA user_version");
		if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > v) {
			sqlite3_finalize(st);
			bs_srv_exec(db, "COMMIT");
			continue;
		}
		sqlite3_finalize(st);
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", v + 1);
		if (bs_srv_exec(db, migrations[v]) < 0 || bs_srv_exec(db, pragma) < 0) {
			bs_srv_exec(db, "ROLLBACK");
			bs_error_set(err, BS_ERR_IO, "migration %d failed on %s", v + 1, path);
			sqlite3_close(db);
			return BS_ERR_IO;
		}
		if (bs_srv_exec(db, "COMMIT") < 0)
			goto fail;
	}
	*out = db;
	return 0;
fail:
	bs_error_set(err, BS_ERR_IO, "cannot prepare database %s: %s", path, sqlite3_errmsg(db));
	sqlite3_close(db);
	return BS_ERR_IO;
}

char *bs_srv_col_strdup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return t ? bs_xstrdup((const char *)t) : NULL;
}

char *bs_srv_setting_get(sqlite3 *db, const char *key)
{
	sqlite3_stmt *st = bs_srv_prep(db, "SELECT value FROM settings WHERE key = ?");
	char *v = NULL;
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = bs_srv_col_strdup(st, 0);
	sqlite3_finalize(st);
	return v;
}

int bs_srv_setting_set(sqlite3 *db, const char *key, const char *value)
{
	sqlite3_stmt *st = bs_srv_prep(db, "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)");
	int rc;
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc;
}

long long bs_srv_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

int bs_srv_audit(sqlite3 *db, const char *who, const char *action, const char *token_hash, const char *reason,
                 const char *source_json, const char *outcome)
{
	sqlite3_stmt *st =
	    bs_srv_prep(db, "INSERT INTO audit_log (at, actor, action, token_hash, reason, source, outcome)"
	                    " VALUES (?, ?, ?, ?, ?, ?, ?)");
	int rc;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	bind_opt(st, 2, who);
	bind_opt(st, 3, action);
	bind_opt(st, 4, token_hash);
	bind_opt(st, 5, reason);
	bind_opt(st, 6, source_json);
	bind_opt(st, 7, outcome);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	if (rc < 0)
		log_sql_error(db, "audit");
	sqlite3_finalize(st);
	return rc;
}

int bs_srv_pat_revoke_row(sqlite3 *db, long long pat_id, const char *why)
{
	sqlite3_stmt *st =
	    bs_srv_prep(db, "UPDATE personal_access_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
	int changed;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 2, pat_id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	changed = sqlite3_changes(db) > 0;
	if (changed) {
		/* The owner hears about it once per token: UNIQUE (pat_id, kind). */
		st = bs_srv_prep(db, "INSERT OR IGNORE INTO notifications (user_id, pat_id, kind, message, created_at)"
		                     " SELECT user_id, id, 'revoked', 'Your token ' || name || ' (' || token_prefix || "
		                     "') was revoked: ' || ?,"
		                     " ? FROM personal_access_tokens WHERE id = ?");
		if (st) {
			sqlite3_bind_text(st, 1, why ? why : "revoked", -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
			sqlite3_bind_int64(st, 3, pat_id);
			sqlite3_step(st);
			sqlite3_finalize(st);
		}
	}
	return changed;
}
