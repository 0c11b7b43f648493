#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth/http.h"
#include "common/buf.h"
#include "common/secure.h"
#include "common/timeutil.h"
#include "revoke/json.h"
#include "revoke/leaks.h"
#include "revoke/webhook.h"
#include "common/banned.h"

/* Bytes of an oversized chunked body (no Content-Length) we read and drop so that we can still
 * answer 413; past this we drop the connection. */
#define DISCARD_MAX (8u << 20)
#define TOKEN_MAX 4096
#define KEY_ID_LOG_MAX 128

struct bs_webhook {
	struct MHD_Daemon *daemon;
	char *path;
	char *health_path;
	bs_webhook_keys *keys;
	char *server;
	bs_buf bearer;
	long deadline_ms;
	size_t max_body;
	size_t batch_max;
	bs_webhook_log_fn log;
	void *log_ctx;
	char address[64];
	unsigned port;
	pthread_key_t http_key; /* one bs_http per server thread */
	atomic_int in_flight;
};

typedef struct conn_state {
	long long start_ms;
	bs_buf body;
	size_t received;
	int too_large;
	int answered;
} conn_state;

/* ---- the outcome of one request, for the reply and the log line ---- */

typedef struct req_log {
	const char *key_id;
	long status;
	size_t count;
	size_t counts[8]; /* by status / outcome, see count_names */
	size_t true_pos, false_pos;
	const char *error;
} req_log;

static const char *const count_names[] = {"active",         "revoked",        "expired",
                                          "unknown",        "revoke_revoked", "revoke_already_revoked",
                                          "revoke_expired", "revoke_unknown"};

static void count(req_log *l, const char *name)
{
	for (size_t i = 0; i < sizeof(count_names) / sizeof(count_names[0]); i++)
		if (name && strcmp(count_names[i], name) == 0)
			l->counts[i]++;
}

static void emit_log(bs_webhook *w, const req_log *l, const char *method, const char *url, long long start_ms)
{
	cJSON *o, *c;
	char ts[BS_RFC3339_LEN], *s;
	if (!w->log)
		return;
	bs_time_format_rfc3339(time(NULL), ts);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "time", ts);
	cJSON_AddStringToObject(o, "method", method);
	cJSON_AddStringToObject(o, "path", url);
	cJSON_AddNumberToObject(o, "status", (double)l->status);
	if (l->key_id) {
		/* The header is the sender's text: keep it short. */
		char id[KEY_ID_LOG_MAX + 1];
		size_t n = strnlen(l->key_id, KEY_ID_LOG_MAX);
		memcpy(id, l->key_id, n);
		id[n] = '\0';
		cJSON_AddStringToObject(o, "key_id", id);
	}
	cJSON_AddNumberToObject(o, "count", (double)l->count);
	c = cJSON_AddObjectToObject(o, "outcomes");
	for (size_t i = 0; i < sizeof(count_names) / sizeof(count_names[0]); i++)
		if (l->counts[i])
			cJSON_AddNumberToObject(c, count_names[i], (double)l->counts[i]);
	cJSON_AddNumberToObject(o, "true_positive", (double)l->true_pos);
	cJSON_AddNumberToObject(o, "false_positive", (double)l->false_pos);
	cJSON_AddNumberToObject(o, "duration_ms", (double)(bs_time_monotonic_ms() - start_ms));
	if (l->error)
		cJSON_AddStringToObject(o, "error", l->error);
	s = cJSON_PrintUnformatted(o);
	if (s)
		w->log(w->log_ctx, s);
	cJSON_free(s);
	cJSON_Delete(o);
}

/* ---- replies ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *error, const char *desc)
{
	cJSON *o = cJSON_CreateObject();
	char *s;
	enum MHD_Result rc;
	cJSON_AddStringToObject(o, "error", error);
	if (desc)
		cJSON_AddStringToObject(o, "error_description", desc);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	rc = reply(c, status, "application/json", s ? s : "{}", s ? strlen(s) : 2);
	cJSON_free(s);
	return rc;
}

/* ---- processing a verified body ---- */

typedef struct token_entry {
	char hash[BS_SHA256_HEX_LEN + 1];
	char *type;
	char *url;
} token_entry;

/* Parses the array, hashing each token at once (the raw tokens are wiped with the parse tree). */
static int parse_tokens(token_entry **out, size_t *n_out, char **source_out, const char *body, size_t len,
                        bs_error *err)
{
	cJSON *root = bs_json_parse_exact(body, len), *item;
	token_entry *t = NULL;
	size_t n = 0, cap = 0, idx = 0;
	int rc = 0;
	*out = NULL;
	*n_out = 0;
	*source_out = NULL;
	if (!root)
		return bs_error_set(err, BS_ERR_PARSE, "the body is not valid JSON");
	if (!cJSON_IsArray(root)) {
		cJSON_Delete(root);
		return bs_error_set(err, BS_ERR_PARSE, "the body is not a JSON array");
	}
	cJSON_ArrayForEach(item, root)
	{
		const cJSON *tok = cJSON_GetObjectItemCaseSensitive(item, "token");
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
		const cJSON *url = cJSON_GetObjectItemCaseSensitive(item, "url");
		const cJSON *src = cJSON_GetObjectItemCaseSensitive(item, "source");
		size_t tlen;
		if (!cJSON_IsObject(item)) {
			rc = bs_error_set(err, BS_ERR_PARSE, "item %zu is not an object", idx);
			break;
		}
		if (!cJSON_IsString(tok) || !(tlen = strlen(tok->valuestring)) || tlen > TOKEN_MAX) {
			rc = bs_error_set(err, BS_ERR_PARSE, "item %zu has no \"token\" string (or one over %d bytes)",
			                  idx, TOKEN_MAX);
			break;
		}
		if ((type && !cJSON_IsString(type)) || (url && !cJSON_IsString(url) && !cJSON_IsNull(url)) ||
		    (src && !cJSON_IsString(src) && !cJSON_IsNull(src))) {
			rc = bs_error_set(err, BS_ERR_PARSE,
			                  "item %zu: \"type\", \"url\" and \"source\" must be strings", idx);
			break;
		}
		BS_ARRAY_GROW(t, cap, n + 1);
		bs_sha256_hex(tok->valuestring, tlen, t[n].hash);
		t[n].type = bs_xstrdup(cJSON_IsString(type) ? type->valuestring : "");
		t[n].url = cJSON_IsString(url) && *url->valuestring ? bs_xstrdup(url->valuestring) : NULL;
		if (!*source_out && cJSON_IsString(src) && *src->valuestring) {
			/* The sender's spelling varies ("content", "Content"): compare and keep lowercase. */
			size_t sl = strnlen(src->valuestring, 41);
			char *s = bs_xstrndup(src->valuestring, sl > 40 ? 40 : sl);
			for (char *p = s; *p; p++)
				*p = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '_';
			*source_out = s;
		}
		n++;
		idx++;
	}
	/* Wipe every raw token before the tree goes back to the allocator. */
	cJSON_ArrayForEach(item, root)
	{
		cJSON *tok = cJSON_GetObjectItemCaseSensitive(item, "token");
		if (cJSON_IsString(tok) && tok->valuestring)
			bs_secure_zero(tok->valuestring, strlen(tok->valuestring));
	}
	cJSON_Delete(root);
	if (rc < 0) {
		for (size_t i = 0; i < n; i++) {
			free(t[i].type);
			free(t[i].url);
		}
		free(t);
		free(*source_out);
		*source_out = NULL;
		return rc;
	}
	*out = t;
	*n_out = n;
	return 0;
}

static void free_http(void *p)
{
	bs_http_free(p);
}

static bs_http *thread_http(bs_webhook *w, bs_error *err)
{
	bs_http *h = pthread_getspecific(w->http_key);
	if (!h) {
		bs_http_options ho = {0};
		ho.timeout_ms = w->deadline_ms;
		ho.max_body_bytes = 8u << 20;
		if (bs_http_new(&h, &ho, err) < 0)
			return NULL;
		pthread_setspecific(w->http_key, h);
	}
	return h;
}

static int is_known(const char *status)
{
	return status &&
	       (strcmp(status, "active") == 0 || strcmp(status, "revoked") == 0 || strcmp(status, "expired") == 0);
}

/* Check, revoke the active ones, and build the reply. Returns the HTTP status; *reply_out is
 * the body (JSON) for 200, or an error description. */
static unsigned process(bs_webhook *w, conn_state *cs, req_log *l, char **reply_out, bs_error *err)
{
	token_entry *t = NULL;
	size_t n = 0;
	char *source = NULL, *reason = NULL;
	const char **hashes = NULL;
	bs_revoke_item *items = NULL;
	size_t nitems = 0;
	bs_leak_results checked = BS_LEAK_RESULTS_INIT, revoked = BS_LEAK_RESULTS_INIT;
	bs_leaks_client *client = NULL;
	bs_leaks_options lo = {0};
	bs_http *h;
	unsigned status = 200;
	cJSON *arr;
	char *s;

	*reply_out = NULL;
	if (parse_tokens(&t, &n, &source, cs->body.ptr, cs->body.len, err) < 0) {
		bs_buf_free_secure(&cs->body);
		return 400;
	}
	/* The raw tokens are in the body buffer too: gone now that they are hashed. */
	bs_buf_free_secure(&cs->body);
	l->count = n;
	if (n > 0) {
		h = thread_http(w, err);
		if (!h) {
			status = 503;
			goto out;
		}
		lo.server = w->server;
		lo.bearer = w->bearer.ptr;
		lo.http = h;
		lo.batch_max = w->batch_max;
		if (bs_leaks_client_new(&client, &lo, err) < 0) {
			status = 503;
			goto out;
		}
		bs_leaks_client_set_deadline(client, cs->start_ms + w->deadline_ms);
		hashes = bs_xmalloc(n * sizeof(*hashes));
		for (size_t i = 0; i < n; i++)
			hashes[i] = t[i].hash;
		if (bs_leaks_check(client, &checked, hashes, n, err) < 0) {
			status = 503;
			goto out;
		}
		items = bs_xcalloc(n, sizeof(*items));
		for (size_t i = 0; i < n; i++) {
			const bs_leak_result *r = bs_leak_results_find(&checked, t[i].hash);
			if (r && r->status && strcmp(r->status, "active") == 0) {
				items[nitems].token_hash = t[i].hash;
				items[nitems].source.url = t[i].url;
				nitems++;
			}
		}
		for (size_t i = 0; i < checked.len; i++)
			count(l, checked.items[i].status);
		if (nitems) {
			reason = bs_xasprintf("leaked: reported by the code host's secret scanning (%s)",
			                      source ? source : "public content");
			if (bs_leaks_revoke(client, &revoked, items, nitems, reason, err) < 0) {
				status = 503;
				goto out;
			}
			for (size_t i = 0; i < revoked.len; i++) {
				char name[64];
				snprintf(name, sizeof(name), "revoke_%s",
				         revoked.items[i].outcome ? revoked.items[i].outcome : "failed");
				count(l, name);
			}
		}
	}
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		const bs_leak_result *r = bs_leak_results_find(&checked, t[i].hash);
		cJSON *o = cJSON_CreateObject();
		int known = r && is_known(r->status);
		cJSON_AddStringToObject(o, "token_hash", t[i].hash);
		cJSON_AddStringToObject(o, "token_type", t[i].type);
		cJSON_AddStringToObject(o, "label", known ? "true_positive" : "false_positive");
		if (known)
			l->true_pos++;
		else
			l->false_pos++;
		cJSON_AddItemToArray(arr, o);
	}
	s = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	*reply_out = bs_xstrdup(s ? s : "[]");
	cJSON_free(s);
out:
	if (status == 503 && err && err->code == BS_ERR_CANCELLED)
		bs_error_set(err, BS_ERR_CANCELLED, "the request did not finish within %ld ms", w->deadline_ms);
	bs_leak_results_free(&checked);
	bs_leak_results_free(&revoked);
	bs_leaks_client_free(client);
	for (size_t i = 0; i < n; i++) {
		free(t[i].type);
		free(t[i].url);
	}
	free(t);
	free(items);
	free(hashes);
	free(source);
	free(reason);
	return status;
}

static enum MHD_Result handle_post(bs_webhook *w, struct MHD_Connection *c, conn_state *cs, const char *method,
                                   const char *url)
{
	req_log l = {0};
	bs_error err = BS_ERROR_INIT;
	const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Github-Public-Key-Signature");
	char *body = NULL;
	unsigned status;
	enum MHD_Result rc;

	/* MHD compares header names without regard to case. */
	l.key_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Github-Public-Key-Identifier");
	if (bs_webhook_keys_verify(w->keys, l.key_id, sig, cs->body.ptr, cs->body.len, &err) < 0) {
		bs_buf_free_secure(&cs->body);
		l.status = 401;
		l.error = err.message;
		rc = reply_error(c, 401, "invalid_signature", err.message);
		emit_log(w, &l, method, url, cs->start_ms);
		return rc;
	}
	status = process(w, cs, &l, &body, &err);
	l.status = status;
	if (status == 200) {
		rc = reply(c, 200, "application/json", body, strlen(body));
	} else {
		l.error = err.message;
		/* A 400 explains the sender's mistake; a 503 says only "later": how our issuer failed is
		 * for our log, not for the code host. */
		if (status == 400)
			rc = reply_error(c, 400, "invalid_request", err.message);
		else
			rc = reply_error(c, status, "temporarily_unavailable",
			                 "the issuer cannot be asked now; retry later");
	}
	emit_log(w, &l, method, url, cs->start_ms);
	free(body);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	bs_webhook *w = cls;
	conn_state *cs = *con_cls;

	if (!cs) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		cs = bs_xcalloc(1, sizeof(*cs));
		cs->start_ms = bs_time_monotonic_ms();
		bs_buf_init(&cs->body, 0);
		*con_cls = cs;
		atomic_fetch_add(&w->in_flight, 1);
		if (strcmp(url, w->health_path) == 0) {
			cs->answered = 1;
			if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
				return reply_error(c, 405, "method_not_allowed", "use GET");
			return reply(c, 200, "application/json", "{\"status\":\"ok\"}", 15);
		}
		if (strcmp(url, w->path) != 0) {
			cs->answered = 1;
			return reply_error(c, 404, "not_found", NULL);
		}
		if (strcmp(method, "POST") != 0) {
			cs->answered = 1;
			return reply_error(c, 405, "method_not_allowed", "use POST");
		}
		/* A declared oversize body is refused before any of it is read. */
		if (cl) {
			char *end;
			unsigned long long len = strtoull(cl, &end, 10);
			if (end == cl || *end || len > w->max_body) {
				req_log l = {0};
				enum MHD_Result rc;
				cs->answered = 1;
				l.status = 413;
				l.error = "body over the limit";
				rc = reply_error(c, 413, "payload_too_large", "the body is over the limit");
				emit_log(w, &l, method, url, cs->start_ms);
				return rc;
			}
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		cs->received += *upload_data_size;
		if (!cs->too_large && cs->body.len + *upload_data_size > w->max_body) {
			cs->too_large = 1;
			bs_buf_free_secure(&cs->body);
		}
		if (cs->received > DISCARD_MAX)
			return MHD_NO;
		if (!cs->too_large)
			bs_buf_add(&cs->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (cs->answered)
		return MHD_YES;
	cs->answered = 1;
	if (cs->too_large) {
		req_log l = {0};
		enum MHD_Result rc;
		l.status = 413;
		l.error = "body over the limit";
		rc = reply_error(c, 413, "payload_too_large", "the body is over the limit");
		emit_log(w, &l, method, url, cs->start_ms);
		return rc;
	}
	return handle_post(w, c, cs, method, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	bs_webhook *w = cls;
	conn_state *cs = *con_cls;
	if (!cs)
		return;
	bs_buf_free_secure(&cs->body);
	free(cs);
	*con_cls = NULL;
	atomic_fetch_sub(&w->in_flight, 1);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sl, bs_error *err)
{
	const char *colon = strrchr(listen, ':');
	char host[64];
	char *end;
	unsigned long port;
	size_t hl;
	memset(ss, 0, sizeof(*ss));
	if (!colon || colon == listen)
		return bs_error_set(err, BS_ERR_USAGE, "--listen takes ADDR:PORT, e.g. 127.0.0.1:8080");
	hl = (size_t)(colon - listen);
	if (hl >= sizeof(host))
		return bs_error_set(err, BS_ERR_USAGE, "--listen: the address is too long");
	memcpy(host, listen, hl);
	host[hl] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (end == colon + 1 || *end || port > 65535)
		return bs_error_set(err, BS_ERR_USAGE, "--listen: '%s' is not a port", colon + 1);
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		host[hl - 1] = '\0';
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return bs_error_set(err, BS_ERR_USAGE, "--listen: '%s' is not an IPv6 address", host + 1);
		*sl = sizeof(*a);
		return 0;
	}
	{
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (strcmp(host, "localhost") == 0)
			inet_pton(AF_INET, "127.0.0.1", &a->sin_addr);
		else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return bs_error_set(err, BS_ERR_USAGE, "--listen: '%s' is not an IPv4 address", host);
		*sl = sizeof(*a);
	}
	return 0;
}

int bs_webhook_start(bs_webhook **out, const bs_webhook_options *opts, bs_error *err)
{
	bs_webhook *w;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	const union MHD_DaemonInfo *info;
	unsigned threads = opts->threads ? opts->threads : 4;

	*out = NULL;
	if (!opts->keys || !opts->server || !opts->bearer || !*opts->bearer)
		return bs_error_set(err, BS_ERR_USAGE,
		                    "the webhook needs keys, an issuer URL and a service credential");
	if (bs_http_check_url(opts->server, err) < 0)
		return BS_ERR_USAGE;
	if (parse_listen(opts->listen ? opts->listen : "127.0.0.1:0", &ss, &sl, err) < 0)
		return BS_ERR_USAGE;
	w = bs_xcalloc(1, sizeof(*w));
	w->path = bs_xstrdup(opts->path && *opts->path ? opts->path : "/");
	w->health_path = bs_xstrdup(opts->health_path ? opts->health_path : "/healthz");
	w->keys = opts->keys;
	w->server = bs_xstrdup(opts->server);
	bs_buf_init(&w->bearer, 0);
	bs_buf_adds(&w->bearer, opts->bearer);
	w->deadline_ms = opts->deadline_ms > 0 ? opts->deadline_ms : BS_WEBHOOK_DEADLINE_MS;
	w->max_body = opts->max_body ? opts->max_body : BS_WEBHOOK_MAX_BODY;
	w->batch_max = opts->batch_max;
	w->log = opts->log;
	w->log_ctx = opts->log_ctx;
	atomic_init(&w->in_flight, 0);
	pthread_key_create(&w->http_key, free_http);
	w->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_AUTO |
	                                 (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	                             0, NULL, NULL, on_request, w, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	                             MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
	                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60, MHD_OPTION_CONNECTION_LIMIT,
	                             (unsigned int)1000, MHD_OPTION_END);
	if (!w->daemon) {
		int rc =
		    bs_error_set(err, BS_ERR_IO, "cannot listen on %s", opts->listen ? opts->listen : "127.0.0.1:0");
		pthread_key_delete(w->http_key);
		bs_buf_free_secure(&w->bearer);
		free(w->path);
		free(w->health_path);
		free(w->server);
		free(w);
		return rc;
	}
	info = MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_BIND_PORT);
	w->port = info ? info->port : 0;
	if (ss.ss_family == AF_INET6) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a, sizeof(a));
		snprintf(w->address, sizeof(w->address), "[%s]", a);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, w->address, sizeof(w->address));
	}
	*out = w;
	return 0;
}

const char *bs_webhook_address(const bs_webhook *w)
{
	return w->address;
}

unsigned bs_webhook_port(const bs_webhook *w)
{
	return w->port;
}

void bs_webhook_stop(bs_webhook *w)
{
	long long until;
	MHD_socket s;
	if (!w)
		return;
	/* Stop accepting, let the requests in flight finish, then stop the threads. */
	s = MHD_quiesce_daemon(w->daemon);
	if (s != MHD_INVALID_SOCKET)
		close(s);
	until = bs_time_monotonic_ms() + w->deadline_ms + 5000;
	while (atomic_load(&w->in_flight) > 0 && bs_time_monotonic_ms() < until) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(w->daemon);
	pthread_key_delete(w->http_key);
	bs_buf_free_secure(&w->bearer);
	free(w->path);
	free(w->health_path);
	free(w->server);
	free(w);
}
