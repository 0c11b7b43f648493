/* `bstscan webhook serve` end to end: a real bstscan-server as the issuer, the receiver as its own
 * process, requests signed at test time with P-256 keys generated here. */
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_revoke_support.h"
#include "common/banned.h"

typedef struct receiver {
	pid_t pid;
	char url[128];
	char *log;
	char *keys_file;
} receiver;

static issuer IS;
static EVP_PKEY *key_a, *key_b;
/* Receivers still running: a failed assertion ends the test early, teardown stops them. */
static pid_t running[8];

static void track(pid_t pid, int on)
{
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
		if (on ? running[i] == 0 : running[i] == pid) {
			running[i] = on ? pid : 0;
			return;
		}
}

static void setup(void)
{
	issuer_start(&IS);
	key_a = key_new();
	key_b = key_new();
}

static void teardown(void)
{
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
		if (running[i] > 0)
			bs_test_stop(running[i]);
	issuer_free(&IS);
	EVP_PKEY_free(key_a);
	EVP_PKEY_free(key_b);
}

TestSuite(webhook, .init = setup, .fini = teardown, .timeout = 120);

static void write_keys(const char *path, const char *const *ids, EVP_PKEY *const *keys, size_t n)
{
	char *doc = key_document(ids, keys, n);
	char *tmp = bs_xasprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	cr_assert(f);
	fputs(doc, f);
	fclose(f);
	cr_assert_eq(rename(tmp, path), 0);
	free(tmp);
	free(doc);
}

/* Starts the receiver; keys_arg is "--keys" or "--keys-url" with its value; extra may be NULL. */
static void receiver_start_with(receiver *r, const char *server_url, const char *keys_opt, const char *keys_val,
                                const char *extra)
{
	char *cmd;
	char *tok_env = bs_xasprintf("BSTSCAN_TOKEN=%s", IS.svc_token);
	char *xdg = bs_xasprintf("XDG_CONFIG_HOME=%s/xdg", IS.dir);
	const char *env[] = {tok_env, xdg, "BSTSCAN_SERVER=", NULL};
	bs_buf line = BS_BUF_INIT;
	const char *argv[] = {"/bin/sh", "-c", NULL, NULL};
	memset(r, 0, sizeof(*r));
	r->log = bs_xasprintf("%s/webhook-%ld.log", IS.dir, (long)random());
	/* stderr (the JSON log) goes to a file; the command line holds no secret. */
	cmd = bs_xasprintf("exec '%s' webhook serve --listen 127.0.0.1:0 --server '%s' %s '%s' %s 2>'%s'", BSTSCAN_BIN,
	                   server_url, keys_opt, keys_val, extra ? extra : "", r->log);
	argv[2] = cmd;
	r->pid = bs_test_spawn_until(argv, env, "listening on ", &line, 20);
	cr_assert_gt(r->pid, 0, "the receiver did not start");
	track(r->pid, 1);
	cr_assert(strncmp(line.ptr, "listening on http://127.0.0.1:", 30) == 0, "%s", line.ptr);
	snprintf(r->url, sizeof(r->url), "%s/", line.ptr + strlen("listening on "));
	bs_buf_free(&line);
	free(cmd);
	free(tok_env);
	free(xdg);
}

static void receiver_start(receiver *r, int both_keys)
{
	const char *ids[] = {"key-a", "key-b"};
	EVP_PKEY *keys[] = {key_a, key_b};
	char *file = bs_xasprintf("%s/keys.json", IS.dir);
	write_keys(file, ids, keys, both_keys ? 2 : 1);
	receiver_start_with(r, IS.url, "--keys", file, NULL);
	r->keys_file = file;
}

static bs_buf receiver_log(receiver *r)
{
	bs_buf b = BS_BUF_INIT;
	bs_error err = BS_ERROR_INIT;
	cr_assert_eq(bs_fs_read_file(&b, r->log, 1 << 24, &err), 0, "%s", err.message);
	return b;
}

/* Stops it with SIGTERM (asserting a clean exit) and checks the log never holds a token. */
static void receiver_stop(receiver *r, const char *const *tokens)
{
	bs_buf log;
	track(r->pid, 0);
	cr_assert_eq(bs_test_stop(r->pid), 0, "SIGTERM stops the receiver cleanly");
	log = receiver_log(r);
	for (; tokens && *tokens; tokens++)
		cr_assert_null(strstr(log.ptr, *tokens), "a token appears in the log");
	cr_assert_null(strstr(log.ptr, IS.svc_token), "the service credential appears in the log");
	bs_buf_free(&log);
	free(r->log);
	free(r->keys_file);
}

static char *body_for(const char *const *tokens, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	char *s, *copy;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "token", tokens[i]);
		cJSON_AddStringToObject(o, "type", "bastionary_pat");
		cJSON_AddStringToObject(o, "url", "https://github.com/octo/demo/blob/abc/config.env");
		cJSON_AddStringToObject(o, "source", "Content");
		cJSON_AddItemToArray(a, o);
	}
	s = cJSON_PrintUnformatted(a);
	copy = bs_xstrdup(s);
	cJSON_free(s);
	cJSON_Delete(a);
	return copy;
}

/* POSTs body signed by key under key_id (NULLs leave the headers out); header names are sent
 * in the case given. */
static void post_signed(http_resp *resp, receiver *r, const char *body, size_t len, EVP_PKEY *key, const char *key_id,
                        const char *id_header, const char *sig_header)
{
	char *sig = key ? sign_body(key, body, len) : NULL;
	char *h1 = key_id ? bs_xasprintf("%s: %s", id_header, key_id) : NULL;
	char *h2 = sig ? bs_xasprintf("%s: %s", sig_header, sig) : NULL;
	const char *headers[3] = {NULL, NULL, NULL};
	int n = 0;
	if (h1)
		headers[n++] = h1;
	if (h2)
		headers[n++] = h2;
	http_post(resp, r->url, body, len, headers);
	free(sig);
	free(h1);
	free(h2);
}

static void post(http_resp *resp, receiver *r, const char *body, EVP_PKEY *key, const char *key_id)
{
	post_signed(resp, r, body, strlen(body), key, key_id, "Github-Public-Key-Identifier",
	            "Github-Public-Key-Signature");
}

/* Whether the PAT with this hash has revoked_at set in the issuer's database. */
static int revoked_in_db(const char *hash)
{
	const char *args[] = {"pat", "list", "--user", "alice", NULL};
	bs_buf b = BS_BUF_INIT;
	char *line, *save = NULL;
	int found = -1;
	admin(&IS, &b, args, NULL);
	for (line = strtok_r(b.ptr, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *o = cJSON_Parse(line);
		const cJSON *h = cJSON_GetObjectItem(o, "token_hash");
		if (cJSON_IsString(h) && strcmp(h->valuestring, hash) == 0)
			found = !cJSON_IsNull(cJSON_GetObjectItem(o, "revoked_at"));
		cJSON_Delete(o);
	}
	bs_buf_free(&b);
	cr_assert_neq(found, -1, "no PAT with that hash");
	return found;
}

static const char *label_of(const cJSON *arr, const char *hash)
{
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		const cJSON *h = cJSON_GetObjectItem(o, "token_hash");
		if (cJSON_IsString(h) && strcmp(h->valuestring, hash) == 0)
			return cJSON_GetObjectItem(o, "label")->valuestring;
	}
	return NULL;
}

Test(webhook, end_to_end_revokes_and_labels_then_replay_changes_nothing)
{
	receiver r;
	char live[64], unknown[48], hl[65], hu[65];
	const char *toks[3];
	char *body;
	http_resp resp;
	bs_buf log;
	issuer_pat(&IS, "leaked-in-public", "leaks:check", live);
	bs_test_make_bst_token(unknown);
	token_hash(live, hl);
	token_hash(unknown, hu);
	toks[0] = live;
	toks[1] = unknown;
	toks[2] = NULL;
	receiver_start(&r, 0);
	body = body_for(toks, 2);

	/* Header names in any case. */
	post_signed(&resp, &r, body, strlen(body), key_a, "key-a", "github-public-key-identifier",
	            "GITHUB-PUBLIC-KEY-SIGNATURE");
	cr_assert_eq(resp.status, 200, "%s", resp.body.ptr);
	cr_assert(cJSON_IsArray(resp.json) && cJSON_GetArraySize(resp.json) == 2, "%s", resp.body.ptr);
	cr_assert_str_eq(label_of(resp.json, hl), "true_positive");
	cr_assert_str_eq(label_of(resp.json, hu), "false_positive");
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(resp.json, 0), "token_type")->valuestring,
	                 "bastionary_pat");
	cr_assert_null(strstr(resp.body.ptr, live), "the reply never holds a token");
	http_resp_free(&resp);
	cr_assert(revoked_in_db(hl), "the PAT is revoked in the issuer's database");
	cr_assert_eq(issuer_notifications(&IS, "leaked-in-public"), 1);

	/* The code host retries: same answer, no second notification. */
	post(&resp, &r, body, key_a, "key-a");
	cr_assert_eq(resp.status, 200, "%s", resp.body.ptr);
	cr_assert_str_eq(label_of(resp.json, hl), "true_positive");
	cr_assert_str_eq(label_of(resp.json, hu), "false_positive");
	http_resp_free(&resp);
	cr_assert_eq(issuer_notifications(&IS, "leaked-in-public"), 1, "replay notified the owner again");

	log = receiver_log(&r);
	cr_assert(strstr(log.ptr, "\"key_id\":\"key-a\""), "log: %s", log.ptr);
	cr_assert(strstr(log.ptr, "\"count\":2"), "log: %s", log.ptr);
	cr_assert(strstr(log.ptr, "\"revoke_revoked\":1"), "log: %s", log.ptr);
	cr_assert(strstr(log.ptr, "\"duration_ms\""), "log: %s", log.ptr);
	bs_buf_free(&log);
	free(body);
	receiver_stop(&r, toks);
}

Test(webhook, bad_signatures_get_401_and_change_nothing)
{
	receiver r;
	char live[64], hl[65];
	const char *toks[2];
	char *body, *tampered, *newline, *sig;
	http_resp resp;
	issuer_pat(&IS, "must-stay-live", "leaks:check", live);
	token_hash(live, hl);
	toks[0] = live;
	toks[1] = NULL;
	receiver_start(&r, 0);
	body = body_for(toks, 1);

	/* Tampered body: signature of the original, one byte changed. */
	sig = sign_body(key_a, body, strlen(body));
	tampered = bs_xstrdup(body);
	tampered[strlen(tampered) - 3] ^= 1;
	{
		char *h1 = bs_xasprintf("Github-Public-Key-Identifier: key-a");
		char *h2 = bs_xasprintf("Github-Public-Key-Signature: %s", sig);
		const char *headers[] = {h1, h2, NULL};
		http_post(&resp, r.url, tampered, strlen(tampered), headers);
		cr_assert_eq(resp.status, 401, "tampered body: %ld", resp.status);
		http_resp_free(&resp);
		/* A trailing newline added after signing. */
		newline = bs_xasprintf("%s\n", body);
		http_post(&resp, r.url, newline, strlen(newline), headers);
		cr_assert_eq(resp.status, 401, "trailing newline: %ld", resp.status);
		http_resp_free(&resp);
		/* Garbage instead of base64. */
		free(h2);
		h2 = bs_xasprintf("Github-Public-Key-Signature: %s", "!!not base64!!");
		headers[1] = h2;
		http_post(&resp, r.url, body, strlen(body), headers);
		cr_assert_eq(resp.status, 401);
		http_resp_free(&resp);
		free(h1);
		free(h2);
		free(newline);
	}
	/* Signed by a key that is not listed, under an unknown id, and under a known id. */
	post(&resp, &r, body, key_b, "key-unknown");
	cr_assert_eq(resp.status, 401);
	cr_assert(strstr(resp.body.ptr, "unknown key"), "%s", resp.body.ptr);
	http_resp_free(&resp);
	post(&resp, &r, body, key_b, "key-a");
	cr_assert_eq(resp.status, 401);
	http_resp_free(&resp);
	/* Missing headers: none, only the id, only the signature. */
	post(&resp, &r, body, NULL, NULL);
	cr_assert_eq(resp.status, 401);
	http_resp_free(&resp);
	post(&resp, &r, body, NULL, "key-a");
	cr_assert_eq(resp.status, 401);
	http_resp_free(&resp);
	post_signed(&resp, &r, body, strlen(body), key_a, NULL, "Github-Public-Key-Identifier",
	            "Github-Public-Key-Signature");
	cr_assert_eq(resp.status, 401);
	http_resp_free(&resp);

	cr_assert_not(revoked_in_db(hl), "nothing happens on a bad signature");
	cr_assert_eq(issuer_notifications(&IS, "must-stay-live"), 0);
	free(sig);
	free(tampered);
	free(body);
	receiver_stop(&r, toks);
}

Test(webhook, rotation_both_listed_keys_verify)
{
	receiver r;
	char t1[64], t2[64], h1[65], h2[65];
	const char *one[2] = {t1, NULL}, *two[2] = {t2, NULL}, *all[3] = {t1, t2, NULL};
	char *b1, *b2;
	http_resp resp;
	issuer_pat(&IS, "rot-1", "leaks:check", t1);
	issuer_pat(&IS, "rot-2", "leaks:check", t2);
	token_hash(t1, h1);
	token_hash(t2, h2);
	receiver_start(&r, 1);
	b1 = body_for(one, 1);
	b2 = body_for(two, 1);
	post(&resp, &r, b1, key_a, "key-a");
	cr_assert_eq(resp.status, 200, "old key: %s", resp.body.ptr);
	http_resp_free(&resp);
	post(&resp, &r, b2, key_b, "key-b");
	cr_assert_eq(resp.status, 200, "new key: %s", resp.body.ptr);
	http_resp_free(&resp);
	cr_assert(revoked_in_db(h1));
	cr_assert(revoked_in_db(h2));
	free(b1);
	free(b2);
	receiver_stop(&r, all);
}

Test(webhook, oversized_and_malformed_bodies)
{
	receiver r;
	http_resp resp;
	const char *malformed[] = {"not json",
	                           "{\"token\": \"x\"}",
	                           "[1, 2]",
	                           "[{\"type\": \"bastionary_pat\"}]",
	                           "[{\"token\": 12}]",
	                           "[{\"token\": \"bst_x\", \"url\": 5}]",
	                           "[",
	                           "[] trailing",
	                           "[{\"token\": \"bst_x\"}]\n[{\"token\": \"bst_y\"}]"};
	size_t big = (1u << 20) + 1;
	char *huge = malloc(big + 1);
	receiver_start(&r, 0);
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		post(&resp, &r, malformed[i], key_a, "key-a");
		cr_assert_eq(resp.status, 400, "'%s' got %ld", malformed[i], resp.status);
		cr_assert(resp.json && cJSON_GetObjectItem(resp.json, "error_description"), "%s", resp.body.ptr);
		http_resp_free(&resp);
	}
	/* An empty array is well formed: nothing to do. */
	post(&resp, &r, "[]", key_a, "key-a");
	cr_assert_eq(resp.status, 200);
	cr_assert_str_eq(resp.body.ptr, "[]");
	http_resp_free(&resp);
	/* Over 1 MB with a Content-Length, and chunked without one. */
	memset(huge, ' ', big);
	huge[0] = '[';
	huge[big - 1] = ']';
	huge[big] = '\0';
	{
		const char *headers[] = {"Github-Public-Key-Identifier: key-a", "Github-Public-Key-Signature: AAAA",
		                         NULL};
		const char *chunked[] = {"Github-Public-Key-Identifier: key-a", "Github-Public-Key-Signature: AAAA",
		                         "Transfer-Encoding: chunked", NULL};
		http_post(&resp, r.url, huge, big, headers);
		cr_assert_eq(resp.status, 413);
		http_resp_free(&resp);
		http_post(&resp, r.url, huge, big, chunked);
		cr_assert_eq(resp.status, 413);
		http_resp_free(&resp);
	}
	/* The health route, and unknown paths. */
	{
		char *health = bs_xasprintf("%shealthz", r.url);
		char *other = bs_xasprintf("%snope", r.url);
		http_get(&resp, health);
		cr_assert_eq(resp.status, 200);
		http_resp_free(&resp);
		http_get(&resp, other);
		cr_assert_eq(resp.status, 404);
		http_resp_free(&resp);
		http_get(&resp, r.url);
		cr_assert_eq(resp.status, 405);
		http_resp_free(&resp);
		free(health);
		free(other);
	}
	free(huge);
	receiver_stop(&r, NULL);
}

Test(webhook, more_than_1000_tokens_are_batched)
{
	receiver r;
	size_t n = 1105;
	char **toks = calloc(n + 1, sizeof(*toks));
	char live[64], hl[65];
	char *body;
	http_resp resp;
	size_t tp = 0, fp = 0;
	const cJSON *o;
	issuer_pat(&IS, "in-a-big-batch", "leaks:check", live);
	token_hash(live, hl);
	for (size_t i = 0; i < n - 1; i++) {
		toks[i] = malloc(48);
		bs_test_make_bst_token(toks[i]);
	}
	toks[n - 1] = live;
	receiver_start(&r, 0);
	body = body_for((const char *const *)toks, n);
	post(&resp, &r, body, key_a, "key-a");
	/* The issuer refuses batches over 1000 (413): a 200 means the receiver split them. */
	cr_assert_eq(resp.status, 200, "%s", resp.body.ptr);
	cr_assert_eq(cJSON_GetArraySize(resp.json), (int)n);
	cJSON_ArrayForEach(o, resp.json)
	{
		if (strcmp(cJSON_GetObjectItem(o, "label")->valuestring, "true_positive") == 0)
			tp++;
		else
			fp++;
	}
	cr_assert_eq(tp, 1);
	cr_assert_eq(fp, n - 1);
	cr_assert_str_eq(label_of(resp.json, hl), "true_positive");
	cr_assert(revoked_in_db(hl));
	http_resp_free(&resp);
	toks[n - 1] = NULL;
	receiver_stop(&r, (const char *const *)toks);
	for (size_t i = 0; i < n - 1; i++)
		free(toks[i]);
	free(toks);
	free(body);
}

Test(webhook, issuer_down_answers_503_never_a_label)
{
	receiver r;
	char live[64], hl[65];
	const char *toks[2] = {live, NULL};
	char *body;
	http_resp resp;
	issuer_pat(&IS, "while-down", "leaks:check", live);
	token_hash(live, hl);
	receiver_start(&r, 0);
	body = body_for(toks, 1);
	/* The check endpoint fails... */
	issuer_fault(&IS, "check", "503");
	post(&resp, &r, body, key_a, "key-a");
	cr_assert_eq(resp.status, 503, "%s", resp.body.ptr);
	cr_assert_null(strstr(resp.body.ptr, "positive"), "no label while the issuer is down");
	http_resp_free(&resp);
	/* ...then only revoke fails: still 503, the sender will retry. */
	issuer_fault(&IS, NULL, NULL);
	issuer_fault(&IS, "revoke", "503");
	post(&resp, &r, body, key_a, "key-a");
	cr_assert_eq(resp.status, 503, "%s", resp.body.ptr);
	http_resp_free(&resp);
	cr_assert_not(revoked_in_db(hl));
	/* The issuer is back: the retry works. */
	issuer_fault(&IS, NULL, NULL);
	post(&resp, &r, body, key_a, "key-a");
	cr_assert_eq(resp.status, 200, "%s", resp.body.ptr);
	cr_assert_str_eq(label_of(resp.json, hl), "true_positive");
	http_resp_free(&resp);
	cr_assert(revoked_in_db(hl));
	/* The issuer process is gone altogether. */
	issuer_stop(&IS);
	post(&resp, &r, body, key_a, "key-a");
	cr_assert_eq(resp.status, 503, "%s", resp.body.ptr);
	http_resp_free(&resp);
	free(body);
	receiver_stop(&r, toks);
}

/* ---- a key document server, and a slow issuer ---- */

static pthread_mutex_t doc_lock = PTHREAD_MUTEX_INITIALIZER;
static char *key_doc;
static atomic_int key_fetches;
static int slow_ms;

static atomic_int issuer_calls;

/* The key document at /keys; anything else is a slow issuer that knows no token. */
static enum MHD_Result on_aux(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *data, size_t *size, void **con_cls)
{
	bs_buf *acc = *con_cls;
	struct MHD_Response *r;
	enum MHD_Result rc;
	char *body;
	if (!acc) {
		acc = bs_xcalloc(1, sizeof(*acc));
		bs_buf_init(acc, 0);
		*con_cls = acc;
		return MHD_YES;
	}
	if (*size) {
		bs_buf_add(acc, data, *size);
		*size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/keys") == 0) {
		atomic_fetch_add(&key_fetches, 1);
		pthread_mutex_lock(&doc_lock);
		body = bs_xstrdup(key_doc);
		pthread_mutex_unlock(&doc_lock);
	} else {
		struct timespec ts = {slow_ms / 1000, (slow_ms % 1000) * 1000000L};
		cJSON *req = cJSON_ParseWithLength(acc->ptr, acc->len), *h;
		cJSON *out = cJSON_CreateObject(), *res = cJSON_AddArrayToObject(out, "results");
		char *s;
		atomic_fetch_add(&issuer_calls, 1);
		nanosleep(&ts, NULL);
		cJSON_ArrayForEach(h, cJSON_GetObjectItem(req, "token_hashes"))
		{
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "token_hash", h->valuestring);
			cJSON_AddStringToObject(o, "status", "unknown");
			cJSON_AddItemToArray(res, o);
		}
		s = cJSON_PrintUnformatted(out);
		body = bs_xstrdup(s);
		cJSON_free(s);
		cJSON_Delete(out);
		cJSON_Delete(req);
	}
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	rc = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return rc;
}

static void on_aux_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	bs_buf *acc = *con_cls;
	if (acc) {
		bs_buf_free(acc);
		free(acc);
	}
	*con_cls = NULL;
}

static struct MHD_Daemon *aux_start(char *url, size_t len)
{
	struct MHD_Daemon *d =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, on_aux,
	                     NULL, MHD_OPTION_NOTIFY_COMPLETED, on_aux_done, NULL, MHD_OPTION_END);
	cr_assert(d);
	snprintf(url, len, "http://127.0.0.1:%u", MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
	return d;
}

Test(webhook, keys_url_refetches_on_unknown_key_at_most_once_a_minute)
{
	receiver r;
	char aux[64], *keys_url, t1[64];
	const char *ids[] = {"key-a", "key-b"};
	EVP_PKEY *keys[] = {key_a, key_b};
	const char *toks[2] = {t1, NULL};
	EVP_PKEY *key_c = key_new();
	char *body;
	http_resp resp;
	struct MHD_Daemon *d = aux_start(aux, sizeof(aux));
	issuer_pat(&IS, "via-url", "leaks:check", t1);
	key_doc = key_document(ids, keys, 1);
	keys_url = bs_xasprintf("%s/keys", aux);
	receiver_start_with(&r, IS.url, "--keys-url", keys_url, NULL);
	cr_assert_eq(atomic_load(&key_fetches), 1);
	body = body_for(toks, 1);
	/* The sender rotates: key-b is published after the receiver started. */
	pthread_mutex_lock(&doc_lock);
	free(key_doc);
	key_doc = key_document(ids, keys, 2);
	pthread_mutex_unlock(&doc_lock);
	post(&resp, &r, body, key_b, "key-b");
	cr_assert_eq(resp.status, 200, "new key after a re-fetch: %s", resp.body.ptr);
	http_resp_free(&resp);
	cr_assert_eq(atomic_load(&key_fetches), 2);
	/* Another unknown id within the minute: no fetch, 401. */
	post(&resp, &r, body, key_c, "key-c");
	cr_assert_eq(resp.status, 401);
	http_resp_free(&resp);
	post(&resp, &r, body, key_c, "key-d");
	cr_assert_eq(resp.status, 401);
	http_resp_free(&resp);
	cr_assert_eq(atomic_load(&key_fetches), 2, "unknown ids re-fetch at most once a minute");
	/* Both keys keep working. */
	post(&resp, &r, body, key_a, "key-a");
	cr_assert_eq(resp.status, 200);
	http_resp_free(&resp);
	receiver_stop(&r, toks);
	MHD_stop_daemon(d);
	EVP_PKEY_free(key_c);
	free(key_doc);
	free(keys_url);
	free(body);
}

Test(webhook, slow_issuer_gets_503_within_the_deadline)
{
	receiver r;
	char aux[64], t1[48];
	const char *toks[2] = {t1, NULL};
	const char *ids[] = {"key-a"};
	EVP_PKEY *keys[] = {key_a};
	char *file = bs_xasprintf("%s/keys-slow.json", IS.dir);
	char *body;
	http_resp resp;
	struct MHD_Daemon *d;
	slow_ms = 4000;
	d = aux_start(aux, sizeof(aux));
	bs_test_make_bst_token(t1);
	write_keys(file, ids, keys, 1);
	receiver_start_with(&r, aux, "--keys", file, "--timeout 1");
	body = body_for(toks, 1);
	post(&resp, &r, body, key_a, "key-a");
	cr_assert_eq(resp.status, 503, "%s", resp.body.ptr);
	cr_assert(strstr(resp.body.ptr, "retry later"), "%s", resp.body.ptr);
	cr_assert_null(strstr(resp.body.ptr, aux), "the issuer's address is not told to the sender: %s", resp.body.ptr);
	http_resp_free(&resp);
	{
		bs_buf log = receiver_log(&r);
		cr_assert(strstr(log.ptr, "did not finish within 1000 ms"), "the log says why: %s", log.ptr);
		cr_assert(strstr(log.ptr, "\"status\":503"), "%s", log.ptr);
		bs_buf_free(&log);
	}
	receiver_stop(&r, toks);
	MHD_stop_daemon(d);
	free(file);
	free(body);
}

typedef struct bg_post {
	receiver *r;
	char *body;
	http_resp resp;
} bg_post;

static void *post_in_background(void *arg)
{
	bg_post *b = arg;
	char *sig = sign_body(key_a, b->body, strlen(b->body));
	char *h2 = bs_xasprintf("Github-Public-Key-Signature: %s", sig);
	const char *headers[] = {"Github-Public-Key-Identifier: key-a", h2, NULL};
	http_post(&b->resp, b->r->url, b->body, strlen(b->body), headers);
	free(sig);
	free(h2);
	return NULL;
}

Test(webhook, sigterm_lets_the_request_in_flight_finish)
{
	receiver r;
	char aux[64], t1[48];
	const char *toks[2] = {t1, NULL};
	const char *ids[] = {"key-a"};
	EVP_PKEY *keys[] = {key_a};
	char *file = bs_xasprintf("%s/keys-term.json", IS.dir);
	struct MHD_Daemon *d;
	pthread_t th;
	bg_post b = {0};
	int status;
	slow_ms = 1500;
	d = aux_start(aux, sizeof(aux));
	bs_test_make_bst_token(t1);
	write_keys(file, ids, keys, 1);
	receiver_start_with(&r, aux, "--keys", file, NULL);
	b.r = &r;
	b.body = body_for(toks, 1);
	cr_assert_eq(pthread_create(&th, NULL, post_in_background, &b), 0);
	/* Wait until the request is at the issuer, then ask the receiver to stop. */
	while (atomic_load(&issuer_calls) == 0) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	kill(r.pid, SIGTERM);
	pthread_join(th, NULL);
	cr_assert_eq(b.resp.status, 200, "the request in flight is answered: %ld %s", b.resp.status, b.resp.body.ptr);
	cr_assert(strstr(b.resp.body.ptr, "false_positive"), "%s", b.resp.body.ptr);
	http_resp_free(&b.resp);
	cr_assert_eq(waitpid(r.pid, &status, 0), r.pid);
	track(r.pid, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
	r.pid = 0;
	MHD_stop_daemon(d);
	free(r.log);
	free(file);
	free(b.body);
}
