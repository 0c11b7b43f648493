#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "common/fs.h"
#include "common/banned.h"

#define ID_TOKEN_MAX_BYTES (64u << 10)

static void trim(bs_buf *b)
{
	while (b->len && (b->ptr[b->len - 1] == '\n' || b->ptr[b->len - 1] == '\r' || b->ptr[b->len - 1] == ' '))
		bs_buf_truncate(b, b->len - 1);
}

/* GitHub Actions: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD with the request token as bearer,
 * answer {"value": "<JWT>"}. */
static int github_id_token(bs_buf *out, bs_http *h, const char *url, const char *req_token, const char *audience,
                           bs_error *err)
{
	bs_buf full = BS_BUF_INIT;
	bs_http_response resp;
	cJSON *j = NULL;
	const cJSON *v;
	int rc;
	bs_buf_adds(&full, url);
	if (audience && *audience) {
		bs_buf_adds(&full, strchr(url, '?') ? "&audience=" : "?audience=");
		bs_http_urlencode(&full, audience);
	}
	rc = bs_http_get(h, &resp, full.ptr, req_token, BS_HTTP_RETRY_IDEMPOTENT, err);
	bs_buf_free(&full);
	if (rc < 0) {
		bs_error_prefix(err, "cannot get the GitHub Actions ID token");
		goto out;
	}
	if (resp.status == 200)
		j = cJSON_ParseWithLength(resp.body.ptr, resp.body.len);
	v = cJSON_GetObjectItemCaseSensitive(j, "value");
	if (!cJSON_IsString(v) || !v->valuestring[0]) {
		rc =
		    bs_error_set(err, BS_ERR_SERVER,
		                 "the GitHub Actions ID-token endpoint answered HTTP %ld without a token (does the job "
		                 "have `permissions: id-token: write`?)",
		                 resp.status);
		goto out;
	}
	bs_buf_adds(out, v->valuestring);
	rc = 0;
out:
	if (j) {
		v = cJSON_GetObjectItemCaseSensitive(j, "value");
		if (cJSON_IsString(v))
			memset(v->valuestring, 0, strlen(v->valuestring));
	}
	cJSON_Delete(j);
	bs_http_response_free(&resp);
	return rc;
}

int bs_auth_fetch_ci_id_token(bs_buf *out, bs_http *h, const char *oidc_env, const char *token_file,
                              const char *audience, bs_error *err)
{
	const char *gh_url = getenv("ACTIONS_ID_TOKEN_REQUEST_URL");
	const char *gh_tok = getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
	int rc;
	if (token_file && *token_file) {
		/* Re-read every time: platforms (Kubernetes projected tokens) rotate the file in place. */
		rc = bs_fs_read_file(out, token_file, ID_TOKEN_MAX_BYTES, err);
		if (rc < 0)
			return rc;
		trim(out);
		if (!out->len)
			return bs_error_set(err, BS_ERR_AUTH, "the ID token file %s is empty", token_file);
		return 0;
	}
	if (oidc_env && *oidc_env) {
		const char *v = getenv(oidc_env);
		if (!v || !*v)
			return bs_error_set(err, BS_ERR_AUTH,
			                    "the variable %s holds no ID token (GitLab CI: declare it under id_tokens: "
			                    "with an aud: in the job)",
			                    oidc_env);
		bs_buf_adds(out, v);
		trim(out);
		return 0;
	}
	if (gh_url && *gh_url) {
		if (!gh_tok || !*gh_tok)
			return bs_error_set(
			    err, BS_ERR_AUTH,
			    "ACTIONS_ID_TOKEN_REQUEST_URL is set but ACTIONS_ID_TOKEN_REQUEST_TOKEN is not");
		return github_id_token(out, h, gh_url, gh_tok, audience, err);
	}
	return bs_error_set(err, BS_ERR_AUTH,
	                    "no CI ID token available: in GitHub Actions grant `permissions: id-token: write`; in "
	                    "GitLab CI declare an id_tokens variable and pass --oidc-env NAME; elsewhere use "
	                    "--oidc-token-file PATH");
}
