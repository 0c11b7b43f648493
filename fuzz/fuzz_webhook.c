/* The webhook receiver's request path end to end: the real server (revoke/webhook.c) in this
 * process, a fake issuer next to it, and each input sent as one raw HTTP request over loopback.
 *
 * Input: byte 0 holds flags (bit 0: sign the body with the registered key, bit 1: lowercase
 * header names, bit 2: no signature header, bit 3: no key-id header, bit 4: an unknown key id,
 * bit 5: the first line of the rest is an extra raw header, bit 6: declare half the body's length
 * (the server reads a truncated body), bit 7: a wrong path); the rest is the body. (A declared
 * length the body never reaches is held until the server's 60 s connection timeout: too slow to
 * fuzz; listed under "Known gaps" in docs/reliability.md.) The server must answer every
 * request with one of the statuses of docs/webhook.md, 401 for anything not signed by the
 * registered key, and 200 with a JSON array for a signed array of {"token"} objects. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/base64.h"
#include "fuzz/fuzz.h"
#include "revoke/json.h"
#include "revoke/webhook.h"
#include "common/banned.h"

int BS_FUZZ_ENTRY(const uint8_t *data, size_t size);

static EVP_PKEY *fw_key;
static bs_webhook_keys *fw_keys;
static bs_webhook *fw_server;
static struct MHD_Daemon *fw_issuer;

/* The fake issuer: every hash is known; its status follows its first hex digit. */
static enum MHD_Result fw_issuer_req(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				     const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	bs_buf *body = *con_cls;
	static const char *const statuses[] = { "active", "revoked", "expired", "unknown" };
	cJSON *in, *out, *arr;
	const cJSON *it;
	char *text;
	struct MHD_Response *resp;
	enum MHD_Result rc;
	int revoke = strstr(url, "revoke") != NULL;
	if (!body) {
		body = bs_xcalloc(1, sizeof(*body));
		bs_buf_init(body, 0);
		*con_cls = body;
		return MHD_YES;
	}
	if (*upload_size) {
		bs_buf_add(body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	in = cJSON_ParseWithLength(body->ptr, body->len);
	out = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(out, "results");
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(in, "token_hashes"))
	{
		cJSON *r = cJSON_CreateObject();
		const char *h = cJSON_IsString(it) ? it->valuestring : "";
		cJSON_AddStringToObject(r, "token_hash", h);
		cJSON_AddStringToObject(r, revoke ? "outcome" : "status", revoke ? "revoked" : statuses[(h[0] & 0xf) % 4]);
		cJSON_AddItemToArray(arr, r);
	}
	text = cJSON_PrintUnformatted(out);
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	rc = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	cJSON_free(text);
	cJSON_Delete(out);
	cJSON_Delete(in);
	return rc;
}

static void fw_issuer_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	bs_buf *body = *con_cls;
	if (body) {
		bs_buf_free(body);
		free(body);
		*con_cls = NULL;
	}
}

static void fw_stop(void)
{
	bs_webhook_stop(fw_server);
	bs_webhook_keys_free(fw_keys);
	MHD_stop_daemon(fw_issuer);
	EVP_PKEY_free(fw_key);
}

static void fw_setup(void)
{
	bs_error err = BS_ERROR_INIT;
	char path[4096], issuer[64];
	const char *t = getenv("TMPDIR");
	BIO *bio;
	char *pem = NULL, *doc;
	long n;
	cJSON *o, *k;
	FILE *fp;
	int fd;
	const union MHD_DaemonInfo *info;
	if (fw_server)
		return;
	bio = BIO_new(BIO_s_mem());
	o = cJSON_CreateObject();
	k = cJSON_CreateObject();
	fw_key = EVP_EC_gen("P-256");
	BS_FUZZ_CHECK(fw_key && bio && PEM_write_bio_PUBKEY(bio, fw_key) == 1, "test key");
	n = BIO_get_mem_data(bio, &pem);
	doc = bs_xstrndup(pem, (size_t)n);
	cJSON_AddStringToObject(k, "key_identifier", "k1");
	cJSON_AddStringToObject(k, "key", doc);
	cJSON_AddBoolToObject(k, "is_current", 1);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "public_keys"), k);
	free(doc);
	doc = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	BIO_free(bio);
	snprintf(path, sizeof(path), "%s/bstscan-fuzz-keys-XXXXXX", t && *t ? t : "/tmp");
	fd = mkstemp(path);
	BS_FUZZ_CHECK(fd >= 0 && (fp = fdopen(fd, "w")) && fputs(doc, fp) >= 0 && fclose(fp) == 0, "keys file");
	cJSON_free(doc);
	BS_FUZZ_CHECK(bs_webhook_keys_new(&fw_keys, path, NULL, &err) == 0, "%s", err.message);
	unlink(path);

	fw_issuer = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
				     fw_issuer_req, NULL, MHD_OPTION_NOTIFY_COMPLETED, fw_issuer_done, NULL,
				     MHD_OPTION_SOCK_ADDR,
				     (struct sockaddr *)&(struct sockaddr_in){ .sin_family = AF_INET,
									       .sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
				     MHD_OPTION_END);
	BS_FUZZ_CHECK(fw_issuer != NULL, "fake issuer");
	info = MHD_get_daemon_info(fw_issuer, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(issuer, sizeof(issuer), "http://127.0.0.1:%u", (unsigned)info->port);
	{
		bs_webhook_options wo;
		memset(&wo, 0, sizeof(wo));
		wo.listen = "127.0.0.1:0";
		wo.threads = 2;
		wo.keys = fw_keys;
		wo.server = issuer;
		wo.bearer = "fuzz-service-credential";
		wo.deadline_ms = 5000;
		wo.max_body = 64 * 1024;
		BS_FUZZ_CHECK(bs_webhook_start(&fw_server, &wo, &err) == 0, "%s", err.message);
	}
	atexit(fw_stop);
}

static void fw_sign(bs_buf *out, const void *body, size_t len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[256];
	size_t sl = sizeof(sig);
	BS_FUZZ_CHECK(md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, fw_key) == 1 &&
			      EVP_DigestSign(md, sig, &sl, body, len) == 1,
		      "signing");
	EVP_MD_CTX_free(md);
	bs_base64_encode(out, sig, sl);
}

/* Sends req, returns the HTTP status of the answer (0 when none came). */
static int fw_roundtrip(const bs_buf *req, bs_buf *answer)
{
	struct sockaddr_in sa;
	struct timeval tv = { 10, 0 };
	char buf[4096];
	ssize_t r;
	int fd = -1, status = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)bs_webhook_port(fw_server));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* A full accept queue under a busy machine refuses a connection now and then: the harness
	 * retries; only a receiver that stays unreachable is a failure. */
	for (int tries = 0; tries < 50; tries++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
		usleep(20 * 1000);
	}
	BS_FUZZ_CHECK(fd >= 0, "cannot connect to the receiver");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* Close with a reset once the answer is read: tens of thousands of requests a minute would
	 * otherwise fill the loopback port range with TIME_WAIT sockets. */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger){ 1, 0 }, sizeof(struct linger));
	if (write(fd, req->ptr, req->len) < 0) {
		/* the server may refuse early; its answer is still read */
	}
	shutdown(fd, SHUT_WR);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		bs_buf_add(answer, buf, (size_t)r);
	close(fd);
	if (answer->len > 12 && !memcmp(answer->ptr, "HTTP/1.", 7))
		status = atoi(answer->ptr + 9);
	return status;
}

/* 1 when body is a JSON array of well-formed items, each with a non-empty "token" string (the
 * happy path). A token over the receiver's size limit would be a 400: the fuzzer keeps bodies short. */
static int fw_wellformed(const char *body, size_t len)
{
	cJSON *j = bs_json_parse_exact(body, len); /* one JSON value, nothing after it */
	const cJSON *it;
	int ok = cJSON_IsArray(j) && cJSON_GetArraySize(j) > 0;
	cJSON_ArrayForEach(it, j)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "token");
		const cJSON *ty = cJSON_GetObjectItemCaseSensitive(it, "type");
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(it, "url");
		const cJSON *so = cJSON_GetObjectItemCaseSensitive(it, "source");
		/* docs/webhook.md: "type" a string when present; "url" and "source" strings or null. */
		ok = ok && cJSON_IsObject(it) && cJSON_IsString(t) && t->valuestring[0] && (!ty || cJSON_IsString(ty)) &&
		     (!u || cJSON_IsString(u) || cJSON_IsNull(u)) && (!so || cJSON_IsString(so) || cJSON_IsNull(so));
	}
	cJSON_Delete(j);
	return ok;
}

int BS_FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	unsigned flags;
	const char *body, *extra = NULL;
	size_t len, extra_len = 0;
	bs_buf req = BS_BUF_INIT, sig = BS_BUF_INIT, answer = BS_BUF_INIT;
	int lower, status, signed_ok;
	if (size < 1)
		return 0;
	fw_setup();
	flags = data[0];
	body = (const char *)data + 1;
	len = size - 1;
	lower = flags & 2;
	if (flags & 32) {
		const char *nl = memchr(body, '\n', len);
		if (nl) {
			extra = body;
			extra_len = (size_t)(nl - body);
			len -= extra_len + 1;
			body = nl + 1;
		}
	}
	fw_sign(&sig, body, len);
	if (!(flags & 1))
		sig.ptr[sig.len / 2] ^= 1; /* still base64 (mostly); the signature is wrong */
	bs_buf_addf(&req, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", (flags & 128) ? "/elsewhere" : "/");
	bs_buf_addf(&req, "%s: application/json\r\n", lower ? "content-type" : "Content-Type");
	if (!(flags & 8))
		bs_buf_addf(&req, "%s: %s\r\n", lower ? "github-public-key-identifier" : "Github-Public-Key-Identifier",
			    (flags & 16) ? "k-unknown" : "k1");
	if (!(flags & 4))
		bs_buf_addf(&req, "%s: %s\r\n", lower ? "github-public-key-signature" : "Github-Public-Key-Signature",
			    sig.ptr);
	if (extra) {
		/* A raw header line: no CR or LF inside it (that would be a different request). */
		for (size_t i = 0; i < extra_len; i++)
			bs_buf_addch(&req, extra[i] == '\r' || extra[i] == '\n' ? ' ' : extra[i]);
		bs_buf_adds(&req, "\r\n");
	}
	bs_buf_addf(&req, "Content-Length: %zu\r\n\r\n", (flags & 64) ? len / 2 : len);
	bs_buf_add(&req, body, len);
	status = fw_roundtrip(&req, &answer);
	if (status == 0) {
		/* No answer at all (a loaded machine, a reset under two fuzzers): once more, then it counts. */
		bs_buf_reset(&answer);
		usleep(100 * 1000);
		status = fw_roundtrip(&req, &answer);
	}

	/* Bytes the server never reads (a shorter declared length, or framing broken by a raw header)
	 * make its close a TCP reset, which may discard its answer before we read it: no status. */
	int may_vanish = extra != NULL || ((flags & 64) && len > 0);
	signed_ok = (flags & 1) && !(flags & 4) && !(flags & 8) && !(flags & 16) && !((flags & 64) && len > 0) &&
		    !(flags & 128);
	if (flags & 128) {
		BS_FUZZ_CHECK(status == 404 || status == 400 || (may_vanish && status == 0), "wrong path answered %d", status);
	} else if (!signed_ok) {
		BS_FUZZ_CHECK(status == 401 || status == 400 || status == 413 || (may_vanish && status == 0),
			      "unsigned request answered %d: %.200s", status, answer.ptr);
	} else {
		/* A raw extra header may break the request's framing (a NUL, a second Content-Length):
		 * the server then reads another body than the one signed (401), or libmicrohttpd drops
		 * the connection without an answer (0); neither is a crash. */
		BS_FUZZ_CHECK(status == 200 || status == 400 || status == 413 || status == 503 ||
				      (extra && status == 401) || (may_vanish && status == 0),
			      "signed request answered %d", status);
		if (!extra && fw_wellformed(body, len) && len < 60000)
			BS_FUZZ_CHECK(status == 200, "a signed well-formed request answered %d: %.300s", status, answer.ptr);
	}
	bs_buf_free(&req);
	bs_buf_free(&sig);
	bs_buf_free(&answer);
	return 0;
}
