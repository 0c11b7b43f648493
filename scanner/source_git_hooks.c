/* Where a repository's hooks live: core.hooksPath when set (relative to the work tree, as git reads it, or to the
 * git directory of a bare repository), else the hooks directory of the common git directory (shared by linked
 * worktrees). */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "scanner/source_git_internal.h"
#include "common/banned.h"

int bs_git_hooks_dir(char **out, const char *path, bs_error *err)
{
	git_repository *repo = NULL;
	git_config *cfg = NULL;
	git_buf buf = {0};
	int rc = 0;

	bs_git_global_init();
	*out = NULL;
	if (git_repository_open_ext(&repo, path ? path : ".", 0, NULL) < 0)
		return bs_git_error(err, BS_ERR_NOTFOUND, path ? path : ".");
	if (git_repository_config_snapshot(&cfg, repo) == 0 && git_config_get_path(&buf, cfg, "core.hooksPath") == 0 &&
	    buf.ptr && *buf.ptr) {
		const char *base =
		    git_repository_workdir(repo) ? git_repository_workdir(repo) : git_repository_path(repo);
		bs_buf p = BS_BUF_INIT;
		if (buf.ptr[0] != '/') {
			bs_buf_adds(&p, base);
			if (p.len && p.ptr[p.len - 1] != '/')
				bs_buf_addch(&p, '/');
		}
		bs_buf_adds(&p, buf.ptr);
		*out = bs_buf_detach(&p, NULL);
	} else {
		git_buf_dispose(&buf);
		if (git_repository_item_path(&buf, repo, GIT_REPOSITORY_ITEM_HOOKS) < 0)
			rc = bs_git_error(err, BS_ERR_IO, "cannot find the hooks directory");
		else
			*out = bs_xstrdup(buf.ptr);
	}
	/* Trailing slashes make for ugly messages. */
	if (*out) {
		size_t l = strlen(*out);
		while (l > 1 && (*out)[l - 1] == '/')
			(*out)[--l] = '\0';
	}
	git_buf_dispose(&buf);
	git_config_free(cfg);
	git_repository_free(repo);
	return rc;
}
