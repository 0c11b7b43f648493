#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "server/srv.h"
#include "common/banned.h"

typedef void (*handler_fn)(bs_srv *s, bs_srv_req *q, bs_srv_resp *r);

typedef struct route {
	const char *path;
	int prefix;          /* path is a prefix ("/api/v1/pats/" + id) */
	const char *methods; /* the Allow header value */
	const char *fault;   /* name used by fault injection */
	handler_fn fn;
} route;

static const route routes[] = {
    {"/.well-known/oauth-authorization-server", 0, "GET", "discovery", bs_srv_h_discovery},
    {"/.well-known/jwks.json", 0, "GET", "jwks", bs_srv_h_jwks},
    {"/oauth/device/authorize", 0, "POST", "device_authorize", bs_srv_h_device_authorize},
    {"/oauth/token", 0, "POST", "token", bs_srv_h_token},
    {"/oauth/revoke", 0, "POST", "oauth_revoke", bs_srv_h_oauth_revoke},
    {"/device", 0, "GET, POST", "device", bs_srv_h_device_page},
    {"/api/v1/leaks/check", 0, "POST", "check", bs_srv_h_check},
    {"/api/v1/leaks/revoke", 0, "POST", "revoke", bs_srv_h_revoke},
    {"/api/v1/pats", 0, "GET, POST", "pats", bs_srv_h_pats},
    {"/api/v1/pats/", 1, "DELETE", "pats", bs_srv_h_pat_delete},
    {"/api/v1/me", 0, "GET", "me", bs_srv_h_me},
};

typedef struct conn_state {
	bs_srv_req req;
	int too_large;
	int answered;
} conn_state;

static volatile sig_atomic_t stop_requested;

void bs_srv_resp_header(bs_srv_resp *r, const char *name, const char *value)
{
	if (r->nheaders == sizeof(r->headers) / sizeof(r->headers[0]))
		return;
	r->headers[r->nheaders].name = bs_xstrdup(name);
	r->headers[r->nheaders].value = bs_xstrdup(value);
	r->nheaders++;
}

void bs_srv_resp_json(bs_srv_resp *r, unsigned status, const cJSON *json)
{
	char *s = cJSON_PrintUnformatted(json);
	r->status = status;
	r->content_type = "application/json";
	bs_buf_reset(&r->body);
	bs_buf_adds(&r->body, s);
	bs_buf_addch(&r->body, '\n');
	free(s);
}

void bs_srv_resp_error(bs_srv_resp *r, unsigned status, const char *code, const char *fmt, ...)
{
	cJSON *o = cJSON_CreateObject();
	bs_buf desc = BS_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	bs_buf_vaddf(&desc, fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(o, "error", code);
	cJSON_AddStringToObject(o, "error_description", desc.ptr);
	bs_srv_resp_json(r, status, o);
	cJSON_Delete(o);
	bs_buf_free(&desc);
}

const char *bs_srv_req_header(const bs_srv_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
}

const char *bs_srv_req_query(const bs_srv_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
}

int bs_srv_req_is_form(const bs_srv_req *q)
{
	const char *ct = bs_srv_req_header(q, "Content-Type");
	size_t n = strlen("application/x-www-form-urlencoded");
	return ct && strncasecmp(ct, "application/x-www-form-urlencoded", n) == 0 && (ct[n] == '\0' || ct[n] == ';');
}

static enum MHD_Result send_resp(struct MHD_Connection *c, bs_srv_resp *r)
{
	struct MHD_Response *mr = MHD_create_response_from_buffer(r->body.len, r->body.ptr, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;
	if (!mr)
		return MHD_NO;
	if (r->content_type)
		MHD_add_response_header(mr, "Content-Type", r->content_type);
	for (size_t i = 0; i < r->nheaders; i++)
		MHD_add_response_header(mr, r->headers[i].name, r->headers[i].value);
	rc = MHD_queue_response(c, r->status, mr);
	MHD_destroy_response(mr);
	return rc;
}

static void resp_free(bs_srv_resp *r)
{
	bs_buf_free(&r->body);
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
}

/* Fault injection for client tests: BSTSCAN_SERVER_FAULTS (fixed for the
 * process) and the faults table (set with `admin fault set`, optionally for
 * N requests) make an endpoint answer a chosen status. */
static int injected_fault(bs_srv *s, const char *name)
{
	sqlite3_stmt *st;
	int status = 0;
	for (size_t i = 0; i < s->nfaults; i++)
		if (strcmp(s->faults[i].endpoint, name) == 0 || strcmp(s->faults[i].endpoint, "*") == 0)
			return s->faults[i].status;
	st = bs_srv_prep(s->db, "SELECT status, remaining FROM faults WHERE endpoint IN (?, '*') AND "
	                        "(remaining IS NULL OR remaining > 0) ORDER BY endpoint = '*' LIMIT 1");
	if (!st)
		return 0;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		status = sqlite3_column_int(st, 0);
		if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
			sqlite3_stmt *up = bs_srv_prep(
			    s->db,
			    "UPDATE faults SET remaining = remaining - 1 WHERE endpoint IN (?, '*') AND remaining > 0");
			if (up) {
				sqlite3_bind_text(up, 1, name, -1, SQLITE_STATIC);
				sqlite3_step(up);
				sqlite3_finalize(up);
			}
		}
	}
	sqlite3_finalize(st);
	return status;
}

static void dispatch(bs_srv *s, bs_srv_req *q, bs_srv_resp *r)
{
	const route *rt = NULL;
	int fault;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const route *c = &routes[i];
		if (c->prefix ? strncmp(q->path, c->path, strlen(c->path)) == 0 && q->path[strlen(c->path)]
		              : strcmp(q->path, c->path) == 0) {
			rt = c;
			break;
		}
	}
	if (!rt) {
		bs_srv_resp_error(r, 404, "not_found", "no endpoint at %.200s", q->path);
		return;
	}
	{
		/* "GET, POST" holds the method as a whole word. */
		const char *m = rt->methods, *hit = NULL;
		size_t ml = strlen(q->method);
		while ((m = strstr(m, q->method)) != NULL) {
			if ((m == rt->methods || m[-1] == ' ') && (m[ml] == '\0' || m[ml] == ','))
				hit = m;
			m += ml;
		}
		if (!hit) {
			bs_srv_resp_header(r, "Allow", rt->methods);
			bs_srv_resp_error(r, 405, "method_not_allowed", "%.16s is not allowed on %s (allowed: %s)",
			                  q->method, rt->path, rt->methods);
			return;
		}
	}
	fault = injected_fault(s, rt->fault);
	if (fault) {
		if (fault == 429 || fault == 503)
			bs_srv_resp_header(r, "Retry-After", "1");
		bs_srv_resp_error(r, (unsigned)fault, fault == 429 ? "rate_limited" : "injected_fault",
		                  "fault injected for endpoint %s", rt->fault);
		return;
	}
	rt->fn(s, q, r);
}

static enum MHD_Result too_large(struct MHD_Connection *c)
{
	bs_srv_resp r = {0};
	enum MHD_Result rc;
	bs_buf_init(&r.body, 0);
	bs_srv_resp_header(&r, "Connection", "close");
	bs_srv_resp_error(&r, 413, "request_too_large", "the request body exceeds %d bytes", BS_SRV_MAX_BODY);
	rc = send_resp(c, &r);
	resp_free(&r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	bs_srv *s = cls;
	conn_state *cs = *con_cls;
	bs_srv_resp r = {0};
	enum MHD_Result rc;

	if (!cs) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		cs = bs_xcalloc(1, sizeof(*cs));
		bs_buf_init(&cs->req.body, 0);
		*con_cls = cs;
		/* Refuse a declared oversize body before reading any of it. */
		if (cl) {
			char *end;
			unsigned long long n = strtoull(cl, &end, 10);
			if (end == cl || *end || n > BS_SRV_MAX_BODY) {
				cs->too_large = 1;
				cs->answered = 1;
				return too_large(c);
			}
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* Count bytes as they arrive (chunked bodies have no length) and
		 * drop them once over the limit instead of buffering them. */
		if (!cs->too_large && cs->req.body.len + *upload_data_size > BS_SRV_MAX_BODY) {
			cs->too_large = 1;
			bs_buf_free(&cs->req.body);
		}
		if (!cs->too_large)
			bs_buf_add(&cs->req.body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (cs->answered)
		return MHD_YES;
	cs->answered = 1;
	if (cs->too_large)
		return too_large(c);

	cs->req.conn = c;
	cs->req.method = method;
	cs->req.path = url;
	bs_buf_init(&r.body, 0);
	r.status = 500;
	dispatch(s, &cs->req, &r);
	bs_srv_resp_header(&r, "Cache-Control", "no-store");
	rc = send_resp(c, &r);
	resp_free(&r);
	return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	conn_state *cs = *con_cls;
	if (!cs)
		return;
	bs_buf_free_secure(&cs->req.body);
	free(cs);
	*con_cls = NULL;
}

static void parse_env_faults(bs_srv *s)
{
	const char *env = getenv("BSTSCAN_SERVER_FAULTS");
	const char *p = env;
	while (p && *p && s->nfaults < sizeof(s->faults) / sizeof(s->faults[0])) {
		size_t l = strcspn(p, ",");
		const char *colon = memchr(p, ':', l);
		if (colon && (size_t)(colon - p) < sizeof(s->faults[0].endpoint)) {
			bs_srv_fault *f = &s->faults[s->nfaults];
			memcpy(f->endpoint, p, (size_t)(colon - p));
			f->endpoint[colon - p] = '\0';
			f->status = atoi(colon + 1);
			if (f->status >= 400 && f->status <= 599)
				s->nfaults++;
		}
		p += l;
		if (*p == ',')
			p++;
	}
}

int bs_srv_run(bs_srv *s, const char *host, int port, bs_error *err)
{
	struct sockaddr_in sa;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t set;
	int sig, bound;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return bs_error_set(err, BS_ERR_USAGE, "--listen needs an IPv4 address, not %s", host);
	parse_env_faults(s);
	if (!s->issuer && port)
		s->issuer = bs_xasprintf("http://%s:%d", host, port);

	/* The daemon's thread inherits this mask, so only sigwait below sees
	 * the signals and shutdown happens on the main thread. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* poll(): no FD_SETSIZE ceiling for load tests, and a peer's half-close
	 * is noticed at once (epoll left such connections to the timeout). */
	d = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, s,
	                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
	                     NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_CONNECTION_LIMIT,
	                     (unsigned int)1000, MHD_OPTION_END);
	if (!d)
		return bs_error_set(err, BS_ERR_IO, "cannot listen on %s:%d: %s", host, port, strerror(errno));
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	bound = info ? info->port : port;
	if (!s->issuer)
		s->issuer = bs_xasprintf("http://%s:%d", host, bound);
	if (s->demo_pat) {
		printf("bstscan demo issuer (database %s)\n", s->demo_db);
		printf("  issuer URL:   %s\n", s->issuer);
		printf("  admin PAT:    %s\n", s->demo_pat);
		printf("  web sign-in:  %s / %s  (for %s/device)\n", s->demo_user, s->demo_password, s->issuer);
		/* Suggest the environment, never a command line, for the credential. */
		printf("  try:          export BSTSCAN_SERVER=%s BSTSCAN_TOKEN=<the admin PAT above>\n", s->issuer);
		printf("                bstscan auth status && bstscan scan --check examples/leaky-project\n");
	}
	printf("listening on http://%s:%d\n", host, bound);
	fflush(stdout);

	while (!stop_requested) {
		if (sigwait(&set, &sig) == 0 && (sig == SIGTERM || sig == SIGINT))
			stop_requested = 1;
	}
	MHD_stop_daemon(d);
	return 0;
}
