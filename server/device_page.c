#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "common/secure.h"
#include "server/srv.h"
#include "common/banned.h"

/* The /device page (RFC 8628 §3.3): sign in, check the code, approve or
 * deny. A session cookie carries a random id (stored hashed); every form
 * carries that session's CSRF token, compared in constant time. The session
 * id is replaced at sign-in so a planted cookie cannot be promoted. */

#define SESSION_COOKIE "bstscan_session"
#define SESSION_TTL (30 * 60)

typedef struct session {
	char id_hash[65];
	char *csrf;
	long long user_id;
	char *username;
} session;

static void session_free(session *ss)
{
	free(ss->csrf);
	free(ss->username);
	memset(ss, 0, sizeof(*ss));
}

static int session_load(bs_srv *s, bs_srv_req *q, session *ss)
{
	const char *id = MHD_lookup_connection_value(q->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
	sqlite3_stmt *st;
	int found = 0;
	memset(ss, 0, sizeof(*ss));
	if (!id || !*id)
		return 0;
	bs_sha256_hex(id, strlen(id), ss->id_hash);
	st = bs_srv_prep(s->db, "SELECT w.csrf, w.user_id, u.username FROM web_sessions w LEFT JOIN users u"
	                        " ON u.id = w.user_id WHERE w.id_hash = ? AND w.expires_at > ?");
	if (!st)
		return 0;
	sqlite3_bind_text(st, 1, ss->id_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	if (sqlite3_step(st) == SQLITE_ROW) {
		ss->csrf = bs_srv_col_strdup(st, 0);
		ss->user_id = sqlite3_column_int64(st, 1);
		ss->username = bs_srv_col_strdup(st, 2);
		found = 1;
	}
	sqlite3_finalize(st);
	return found;
}

/* Creates a session (signed in when user_id) and sets its cookie. */
static int session_create(bs_srv *s, bs_srv_resp *r, session *ss, long long user_id, const char *username)
{
	char *id = bs_srv_random_token(32), *cookie;
	sqlite3_stmt *st =
	    bs_srv_prep(s->db, "INSERT INTO web_sessions (id_hash, csrf, user_id, created_at, expires_at)"
	                       " VALUES (?, ?, ?, ?, ?)");
	int ok;
	session_free(ss);
	bs_sha256_hex(id, strlen(id), ss->id_hash);
	ss->csrf = bs_srv_random_token(32);
	ss->user_id = user_id;
	ss->username = username ? bs_xstrdup(username) : NULL;
	if (!st) {
		free(id);
		return -1;
	}
	sqlite3_bind_text(st, 1, ss->id_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ss->csrf, -1, SQLITE_STATIC);
	if (user_id)
		sqlite3_bind_int64(st, 3, user_id);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 5, (sqlite3_int64)(time(NULL) + SESSION_TTL));
	ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	cookie =
	    bs_xasprintf(SESSION_COOKIE "=%s; Path=/device; HttpOnly; SameSite=Strict; Max-Age=%d", id, SESSION_TTL);
	bs_srv_resp_header(r, "Set-Cookie", cookie);
	free(cookie);
	bs_secure_zero(id, strlen(id));
	free(id);
	return ok ? 0 : -1;
}

static void session_delete(bs_srv *s, const session *ss)
{
	sqlite3_stmt *st = bs_srv_prep(s->db, "DELETE FROM web_sessions WHERE id_hash = ? OR expires_at <= ?");
	if (st) {
		sqlite3_bind_text(st, 1, ss->id_hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
}

static void page_start(bs_buf *b, const char *title)
{
	bs_buf_adds(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
	bs_srv_html_escape(b, title);
	bs_buf_adds(b, "</title><style>body{font-family:sans-serif;max-width:32em;margin:3em auto}"
	               "input{display:block;margin:.4em 0 1em;font-size:1.1em}</style></head><body>\n<h1>");
	bs_srv_html_escape(b, title);
	bs_buf_adds(b, "</h1>\n");
}

static void csrf_field(bs_buf *b, const session *ss)
{
	bs_buf_adds(b, "<input type=\"hidden\" name=\"csrf\" value=\"");
	bs_srv_html_escape(b, ss->csrf);
	bs_buf_adds(b, "\">\n");
}

static void finish(bs_srv_resp *r, unsigned status, bs_buf *b)
{
	bs_buf_adds(b, "</body></html>\n");
	r->status = status;
	r->content_type = "text/html; charset=utf-8";
	bs_buf_reset(&r->body);
	bs_buf_add(&r->body, b->ptr, b->len);
	bs_buf_free(b);
	bs_srv_resp_header(r, "X-Frame-Options", "DENY");
	bs_srv_resp_header(r, "Content-Security-Policy",
	                   "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
}

static void signin_page(bs_srv_resp *r, unsigned status, const session *ss, const char *user_code, const char *msg)
{
	bs_buf b = BS_BUF_INIT;
	page_start(&b, "Sign in to authorize a device");
	if (msg) {
		bs_buf_adds(&b, "<p class=\"error\">");
		bs_srv_html_escape(&b, msg);
		bs_buf_adds(&b, "</p>\n");
	}
	bs_buf_adds(&b, "<form method=\"post\" action=\"/device\">\n");
	csrf_field(&b, ss);
	bs_buf_adds(
	    &b, "<input type=\"hidden\" name=\"action\" value=\"login\">\n"
	        "<label>Username<input name=\"username\" autocomplete=\"username\"></label>\n"
	        "<label>Password<input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label>\n"
	        "<label>Code<input name=\"user_code\" value=\"");
	bs_srv_html_escape(&b, user_code ? user_code : "");
	bs_buf_adds(&b, "\" placeholder=\"XXXX-XXXX\"></label>\n<button type=\"submit\">Sign in</button>\n</form>\n");
	finish(r, status, &b);
}

/* The approve/deny form for a signed-in person. */
static void confirm_page(bs_srv *s, bs_srv_resp *r, unsigned status, const session *ss, const char *user_code,
                         const char *msg)
{
	bs_buf b = BS_BUF_INIT;
	char code[9];
	char *scopes = NULL;
	if (user_code && bs_srv_user_code_normalize(user_code, code) == 0) {
		sqlite3_stmt *st = bs_srv_prep(s->db, "SELECT scopes FROM device_authorizations WHERE user_code = ?"
		                                      " AND status = 'pending' AND expires_at > ?");
		if (st) {
			sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
			if (sqlite3_step(st) == SQLITE_ROW)
				scopes = bs_srv_col_strdup(st, 0);
			sqlite3_finalize(st);
		}
	}
	page_start(&b, "Authorize a device");
	bs_buf_adds(&b, "<p>Signed in as <strong>");
	bs_srv_html_escape(&b, ss->username);
	bs_buf_adds(&b, "</strong>.</p>\n");
	if (msg) {
		bs_buf_adds(&b, "<p class=\"error\">");
		bs_srv_html_escape(&b, msg);
		bs_buf_adds(&b, "</p>\n");
	}
	if (scopes) {
		bs_buf_adds(&b, "<p>bstscan asks for: <code>");
		bs_srv_html_escape(&b, scopes);
		bs_buf_adds(&b, "</code>. Check that the code matches the one in your terminal.</p>\n");
	}
	bs_buf_adds(&b, "<form method=\"post\" action=\"/device\">\n");
	csrf_field(&b, ss);
	bs_buf_adds(&b, "<label>Code<input name=\"user_code\" value=\"");
	bs_srv_html_escape(&b, user_code ? user_code : "");
	bs_buf_adds(&b, "\" placeholder=\"XXXX-XXXX\"></label>\n"
	                "<button type=\"submit\" name=\"action\" value=\"approve\">Approve</button>\n"
	                "<button type=\"submit\" name=\"action\" value=\"deny\">Deny</button>\n</form>\n");
	free(scopes);
	finish(r, status, &b);
}

static void message_page(bs_srv_resp *r, unsigned status, const char *title, const char *text)
{
	bs_buf b = BS_BUF_INIT;
	page_start(&b, title);
	bs_buf_adds(&b, "<p>");
	bs_srv_html_escape(&b, text);
	bs_buf_adds(&b, "</p>\n");
	finish(r, status, &b);
}

static long long check_login(bs_srv *s, const char *user, const char *pw)
{
	sqlite3_stmt *st;
	long long id = 0;
	if (!user || !pw)
		return 0;
	st = bs_srv_prep(s->db, "SELECT id, password_hash FROM users WHERE username = ?");
	if (!st)
		return 0;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && bs_srv_password_check((const char *)sqlite3_column_text(st, 1), pw))
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

static void decide(bs_srv *s, bs_srv_resp *r, const session *ss, const char *user_code, int approve)
{
	char code[9];
	sqlite3_stmt *st;
	if (!user_code || bs_srv_user_code_normalize(user_code, code) < 0) {
		confirm_page(s, r, 400, ss, user_code, "That is not a valid code: 8 letters, like WDJB-MJHT.");
		return;
	}
	st = bs_srv_prep(s->db, "UPDATE device_authorizations SET status = ?, user_id = ? WHERE user_code = ?"
	                        " AND status = 'pending' AND expires_at > ?");
	if (!st) {
		message_page(r, 500, "Error", "database error");
		return;
	}
	sqlite3_bind_text(st, 1, approve ? "approved" : "denied", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ss->user_id);
	sqlite3_bind_text(st, 3, code, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	sqlite3_step(st);
	sqlite3_finalize(st);
	if (sqlite3_changes(s->db) != 1) {
		confirm_page(s, r, 400, ss, user_code, "Unknown or expired code, or it was already used.");
		return;
	}
	if (approve)
		message_page(r, 200, "Device approved", "Device approved. You can return to your terminal.");
	else
		message_page(r, 200, "Request denied", "The request was denied. You can close this page.");
}

void bs_srv_h_device_page(bs_srv *s, bs_srv_req *q, bs_srv_resp *r)
{
	session ss;
	bs_srv_form f;
	bs_error err = BS_ERROR_INIT;
	const char *csrf, *action, *user_code;
	int have = session_load(s, q, &ss);

	if (strcmp(q->method, "GET") == 0) {
		user_code = bs_srv_req_query(q, "user_code");
		if (!have && session_create(s, r, &ss, 0, NULL) < 0) {
			message_page(r, 500, "Error", "cannot create a session");
		} else if (ss.user_id) {
			confirm_page(s, r, 200, &ss, user_code, NULL);
		} else {
			signin_page(r, 200, &ss, user_code, NULL);
		}
		session_free(&ss);
		return;
	}
	if (!bs_srv_req_is_form(q) || bs_srv_form_parse(&f, q->body.ptr, q->body.len, &err) < 0) {
		message_page(r, 400, "Bad request",
		             err.code ? err.message : "the form must be application/x-www-form-urlencoded");
		session_free(&ss);
		return;
	}
	csrf = bs_srv_form_get(&f, "csrf");
	action = bs_srv_form_get(&f, "action");
	user_code = bs_srv_form_get(&f, "user_code");
	if (!have || !csrf || strlen(csrf) != strlen(ss.csrf) || !bs_secure_equal(csrf, ss.csrf, strlen(csrf))) {
		message_page(r, 403, "Forbidden",
		             "The form expired or did not come from this site (CSRF check failed). "
		             "Reload the page and try again.");
	} else if (action && strcmp(action, "login") == 0) {
		long long uid = check_login(s, bs_srv_form_get(&f, "username"), bs_srv_form_get(&f, "password"));
		if (!uid) {
			signin_page(r, 401, &ss, user_code, "Wrong username or password.");
		} else {
			char *name = bs_xstrdup(bs_srv_form_get(&f, "username"));
			session_delete(s, &ss);
			if (session_create(s, r, &ss, uid, name) < 0)
				message_page(r, 500, "Error", "cannot create a session");
			else
				confirm_page(s, r, 200, &ss, user_code, NULL);
			free(name);
		}
	} else if (action && (strcmp(action, "approve") == 0 || strcmp(action, "deny") == 0)) {
		if (!ss.user_id)
			signin_page(r, 401, &ss, user_code, "Sign in first.");
		else
			decide(s, r, &ss, user_code, strcmp(action, "approve") == 0);
	} else {
		message_page(r, 400, "Bad request", "action must be login, approve or deny");
	}
	bs_srv_form_free(&f);
	session_free(&ss);
}
