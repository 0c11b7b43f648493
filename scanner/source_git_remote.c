/* Clone URLs: a bare mirror per URL in the cache, cloned once and fetched on later runs.
 *
 * The URL is given to an anonymous remote on each fetch and never written into the mirror's config, so a token
 * embedded in an https URL is not left on disk; the directory name is derived from the URL without its
 * credentials. TLS verification stays libgit2's default (on).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/fs.h"
#include "common/secure.h"
#include "scanner/source_git_internal.h"
#include "common/banned.h"

#define NAME_MAX_CHARS 80

static const char *const url_schemes[] = {"https://", "http://",    "ssh://",    "git://",
                                          "file://",  "git+ssh://", "ssh+git://"};

int bs_git_is_url(const char *s)
{
	const char *at, *colon, *slash;
	for (size_t i = 0; i < sizeof(url_schemes) / sizeof(url_schemes[0]); i++)
		if (!strncmp(s, url_schemes[i], strlen(url_schemes[i])))
			return 1;
	/* scp-like: user@host:path (a ':' before any '/', after an '@'). */
	at = strchr(s, '@');
	colon = strchr(s, ':');
	slash = strchr(s, '/');
	return at && colon && at < colon && (!slash || colon < slash);
}

/* Splits scheme://userinfo@rest; returns the userinfo span (or none). */
static int userinfo(const char *url, size_t *start, size_t *end)
{
	const char *p = strstr(url, "://"), *at, *stop;
	if (!p)
		return 0;
	p += 3;
	stop = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(stop - p));
	if (!at)
		return 0;
	/* The last '@' before the host ends the userinfo (a password may hold '@'). */
	for (const char *q = at; q && q < stop; q = memchr(q + 1, '@', (size_t)(stop - q - 1)))
		at = q;
	*start = (size_t)(p - url);
	*end = (size_t)(at - url);
	return 1;
}

char *bs_git_url_display(const char *url)
{
	size_t a, b;
	bs_buf out = BS_BUF_INIT;
	const char *colon;
	if (!userinfo(url, &a, &b))
		return bs_xstrdup(url);
	bs_buf_add(&out, url, a);
	colon = memchr(url + a, ':', b - a);
	if (colon) {
		bs_buf_add(&out, url + a, (size_t)(colon - (url + a)));
		bs_buf_adds(&out, ":***");
	} else if (!strncmp(url, "http", 4)) {
		bs_buf_adds(&out, "***"); /* https://TOKEN@host: the user name is the secret */
	} else {
		bs_buf_add(&out, url + a, b - a);
	}
	bs_buf_adds(&out, url + b);
	return bs_buf_detach(&out, NULL);
}

static char *mirror_name(const char *url)
{
	size_t a, b;
	bs_buf bare = BS_BUF_INIT, name = BS_BUF_INIT;
	char hash[BS_SHA256_HEX_LEN + 1];
	const char *p;
	if (userinfo(url, &a, &b)) {
		bs_buf_add(&bare, url, a);
		bs_buf_adds(&bare, url + b + 1);
	} else {
		bs_buf_adds(&bare, url);
	}
	bs_sha256_hex(bare.ptr, bare.len, hash);
	p = strstr(bare.ptr, "://");
	p = p ? p + 3 : bare.ptr;
	for (; *p && name.len < NAME_MAX_CHARS; p++)
		bs_buf_addch(&name, isalnum((unsigned char)*p) || *p == '.' || *p == '-' ? *p : '_');
	bs_buf_addf(&name, "-%.12s", hash);
	bs_buf_free(&bare);
	return bs_buf_detach(&name, NULL);
}

/* libgit2's messages may quote the URL: never let its credentials through. */
static void scrub_userinfo(bs_error *err, const char *url)
{
	size_t a, b;
	char *hit;
	if (!err || !userinfo(url, &a, &b) || b == a)
		return;
	while ((hit = memmem(err->message, strlen(err->message), url + a, b - a)) != NULL) {
		bs_buf fixed = BS_BUF_INIT;
		bs_buf_add(&fixed, err->message, (size_t)(hit - err->message));
		bs_buf_adds(&fixed, "***");
		bs_buf_adds(&fixed, hit + (b - a));
		snprintf(err->message, sizeof(err->message), "%s", fixed.ptr);
		bs_buf_free(&fixed);
	}
}

typedef struct cred_state {
	int tries;
} cred_state;

static int acquire_credential(git_credential **out, const char *url, const char *user_from_url, unsigned int allowed,
                              void *payload)
{
	cred_state *cs = payload;
	/* Asked again means the last answer was refused: stop rather than loop. */
	if (cs->tries++ > 0)
		return GIT_PASSTHROUGH;
	if (allowed & GIT_CREDENTIAL_SSH_KEY)
		return git_credential_ssh_key_from_agent(out, user_from_url ? user_from_url : "git");
	if (allowed & GIT_CREDENTIAL_DEFAULT)
		return git_credential_default_new(out);
	return GIT_PASSTHROUGH;
}

int bs_git_mirror(char **path_out, const char *url, const char *cache_dir, bs_error *err)
{
	char *name = mirror_name(url), *display = bs_git_url_display(url);
	bs_buf dir = BS_BUF_INIT;
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_fetch_options fo;
	git_remote_create_options ro;
	char *specs[] = {"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"};
	git_strarray refspecs = {specs, 2};
	cred_state cs = {0};
	git_buf head = {0};
	struct stat st;
	int rc = 0;

	bs_git_global_init();
	*path_out = NULL;
	bs_buf_addf(&dir, "%s/%s", cache_dir, name);
	if (stat(dir.ptr, &st) == 0) {
		if (git_repository_open_bare(&repo, dir.ptr) < 0) {
			rc = bs_git_error(err, BS_ERR_IO, dir.ptr);
			goto out;
		}
	} else {
		if ((rc = bs_fs_mkdir_p(cache_dir, 0700, err)) < 0)
			goto out;
		if (git_repository_init(&repo, dir.ptr, 1) < 0) {
			rc = bs_git_error(err, BS_ERR_IO, dir.ptr);
			goto out;
		}
	}
	/* Exactly the URL given: url.insteadOf rewriting is skipped (it also leaks in libgit2 1.5, whose config
	 * regex match data is never freed). */
	git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, url, &ro) < 0) {
		rc = bs_git_error(err, BS_ERR_USAGE, display);
		goto out;
	}
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.callbacks.credentials = acquire_credential;
	fo.callbacks.payload = &cs;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
	if (git_remote_fetch(remote, &refspecs, &fo, NULL) < 0) {
		bs_buf msg = BS_BUF_INIT;
		bs_buf_addf(&msg, "cannot fetch %s", display);
		rc = bs_git_error(err, BS_ERR_NET, msg.ptr);
		scrub_userinfo(err, url);
		bs_buf_free(&msg);
		goto out;
	}
	/* Point HEAD at the remote's default branch, so in_head means what it says. */
	if (git_remote_default_branch(&head, remote) == 0)
		git_repository_set_head(repo, head.ptr);
	*path_out = bs_buf_detach(&dir, NULL);
out:
	git_buf_dispose(&head);
	git_remote_free(remote);
	git_repository_free(repo);
	bs_buf_free(&dir);
	free(name);
	free(display);
	return rc;
}
