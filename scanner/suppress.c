#include <fnmatch.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/fs.h"
#include "common/secure.h"
#include "scanner/suppress.h"
#include "common/banned.h"

#define SUPPRESS_FILE_MAX (64u << 20)

struct bs_allowlist {
	char **fps; /* sorted once lookups start */
	size_t n_fps, cap_fps;
	int sorted;
	char **globs;
	size_t n_globs, cap_globs;
	char *base;
};

void bs_allowlist_set_base(bs_allowlist *al, const char *dir)
{
	size_t n;
	free(al->base);
	al->base = NULL;
	if (!dir || !strcmp(dir, ".") || !strcmp(dir, "./"))
		return;
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	al->base = bs_xstrndup(dir, n);
}

bs_allowlist *bs_allowlist_new(void)
{
	return bs_xcalloc(1, sizeof(bs_allowlist));
}

void bs_allowlist_free(bs_allowlist *al)
{
	if (!al)
		return;
	for (size_t i = 0; i < al->n_fps; i++)
		free(al->fps[i]);
	for (size_t i = 0; i < al->n_globs; i++)
		free(al->globs[i]);
	free(al->fps);
	free(al->globs);
	free(al->base);
	free(al);
}

void bs_allowlist_add_fingerprint(bs_allowlist *al, const char *fp)
{
	BS_ARRAY_GROW(al->fps, al->cap_fps, al->n_fps + 1);
	al->fps[al->n_fps++] = bs_xstrdup(fp);
	al->sorted = 0;
}

void bs_allowlist_add_path_glob(bs_allowlist *al, const char *glob)
{
	BS_ARRAY_GROW(al->globs, al->cap_globs, al->n_globs + 1);
	al->globs[al->n_globs++] = bs_xstrdup(glob);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_fingerprints(bs_allowlist *al, const cJSON *arr, const char *path, const char *field, bs_error *err)
{
	const cJSON *it;
	size_t i = 0;
	if (!cJSON_IsArray(arr))
		return bs_error_set(err, BS_ERR_PARSE, "%s: \"%s\" must be an array of fingerprints", path, field);
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it) || !bs_is_sha256_hex(it->valuestring))
			return bs_error_set(err, BS_ERR_PARSE,
					    "%s: %s[%zu] is not a fingerprint (64 lowercase hex digits)", path, field, i);
		bs_allowlist_add_fingerprint(al, it->valuestring);
		i++;
	}
	return 0;
}

static cJSON *read_json(const char *path, const char *what, bs_error *err)
{
	bs_buf text = BS_BUF_INIT;
	cJSON *root;
	if (bs_fs_read_file(&text, path, SUPPRESS_FILE_MAX, err) < 0) {
		bs_error_prefix(err, "cannot read %s", what);
		bs_buf_free(&text);
		return NULL;
	}
	root = cJSON_ParseWithLength(text.ptr, text.len);
	if (!root) {
		const char *at = cJSON_GetErrorPtr();
		size_t line = 1;
		if (at && at >= text.ptr && at <= text.ptr + text.len)
			for (const char *p = text.ptr; p < at; p++)
				line += *p == '\n';
		bs_error_set(err, BS_ERR_PARSE, "%s:%zu: invalid JSON in %s", path, line, what);
	}
	bs_buf_free(&text);
	return root;
}

int bs_baseline_load(bs_allowlist *al, const char *path, bs_error *err)
{
	cJSON *root = read_json(path, "baseline", err);
	int rc;
	if (!root)
		return err->code;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return bs_error_set(err, BS_ERR_PARSE, "%s: a baseline is an object {\"version\": 1, \"fingerprints\": [...]}",
				    path);
	}
	rc = load_fingerprints(al, cJSON_GetObjectItemCaseSensitive(root, "fingerprints"), path, "fingerprints", err);
	cJSON_Delete(root);
	return rc;
}

int bs_baseline_write(const bs_findings *fs, const char *path, bs_error *err)
{
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	char **fps = bs_xcalloc(fs->len + 1, sizeof(char *));
	size_t n = 0;
	char *text;
	int rc;
	for (size_t i = 0; i < fs->len; i++)
		fps[n++] = fs->items[i]->fingerprint;
	qsort(fps, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(fps[i], fps[i - 1]) != 0)
			cJSON_AddItemToArray(arr, cJSON_CreateString(fps[i]));
	cJSON_AddNumberToObject(root, "version", 1);
	cJSON_AddStringToObject(root, "tool", "bstscan");
	cJSON_AddItemToObject(root, "fingerprints", arr);
	text = cJSON_Print(root);
	{
		bs_buf b = BS_BUF_INIT;
		bs_buf_adds(&b, text);
		bs_buf_addch(&b, '\n');
		rc = bs_fs_write_atomic(path, b.ptr, b.len, 0644, err);
		bs_buf_free(&b);
	}
	free(text);
	free(fps);
	cJSON_Delete(root);
	return rc;
}

int bs_config_load(const char *path, bs_allowlist *al, bs_ruleset *rs, bs_error *err)
{
	cJSON *root = read_json(path, "config", err);
	const cJSON *allow, *v, *it;
	int rc = 0;
	size_t i = 0;
	if (!root)
		return err->code;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return bs_error_set(err, BS_ERR_PARSE, "%s: the config must be a JSON object", path);
	}
	allow = cJSON_GetObjectItemCaseSensitive(root, "allow");
	if (allow && !cJSON_IsObject(allow)) {
		rc = bs_error_set(err, BS_ERR_PARSE, "%s: \"allow\" must be an object", path);
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(allow, "paths");
	if (v && !cJSON_IsArray(v)) {
		rc = bs_error_set(err, BS_ERR_PARSE, "%s: \"allow.paths\" must be an array of globs", path);
		goto out;
	}
	cJSON_ArrayForEach(it, v)
	{
		if (!cJSON_IsString(it) || !it->valuestring[0]) {
			rc = bs_error_set(err, BS_ERR_PARSE, "%s: allow.paths[%zu] must be a non-empty string", path, i);
			goto out;
		}
		bs_allowlist_add_path_glob(al, it->valuestring);
		i++;
	}
	v = cJSON_GetObjectItemCaseSensitive(allow, "fingerprints");
	if (v && (rc = load_fingerprints(al, v, path, "allow.fingerprints", err)) < 0)
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "rules");
	if (v && rs) {
		char *text = cJSON_PrintUnformatted(v);
		char *source = bs_xasprintf("%s (rules)", path);
		rc = bs_ruleset_load_json(rs, text, strlen(text), source, err);
		free(text);
		free(source);
		if (rc < 0)
			goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "rule_files");
	if (v && !cJSON_IsArray(v)) {
		rc = bs_error_set(err, BS_ERR_PARSE, "%s: \"rule_files\" must be an array of paths", path);
		goto out;
	}
	i = 0;
	cJSON_ArrayForEach(it, v)
	{
		char *copy, *p;
		if (!cJSON_IsString(it)) {
			rc = bs_error_set(err, BS_ERR_PARSE, "%s: rule_files[%zu] must be a string", path, i);
			goto out;
		}
		copy = bs_xstrdup(path);
		/* Relative rule files are relative to the config file, not the cwd. */
		p = it->valuestring[0] == '/' ? bs_xstrdup(it->valuestring)
					      : bs_xasprintf("%s/%s", dirname(copy), it->valuestring);
		if (rs)
			rc = bs_ruleset_load_path(rs, p, err);
		free(p);
		free(copy);
		if (rc < 0)
			goto out;
		i++;
	}
out:
	cJSON_Delete(root);
	return rc;
}

int bs_allowlist_match(const bs_allowlist *al_c, const bs_finding *f)
{
	bs_allowlist *al = (bs_allowlist *)al_c;
	if (al->n_fps) {
		const char *key = f->fingerprint;
		if (!al->sorted) {
			qsort(al->fps, al->n_fps, sizeof(char *), cmp_str);
			al->sorted = 1;
		}
		if (bsearch(&key, al->fps, al->n_fps, sizeof(char *), cmp_str))
			return 1;
	}
	if (f->path && f->path[0]) {
		const char *p = f->path;
		size_t bl = al->base ? strlen(al->base) : 0;
		if (bl && strncmp(p, al->base, bl) == 0 && p[bl] == '/')
			p += bl + 1;
		while (p[0] == '.' && p[1] == '/')
			p += 2;
		for (size_t i = 0; i < al->n_globs; i++)
			if (fnmatch(al->globs[i], p, 0) == 0 || fnmatch(al->globs[i], p, FNM_LEADING_DIR) == 0)
				return 1;
	}
	return 0;
}

static int drop_allowed(const bs_finding *f, void *ud)
{
	return bs_allowlist_match(ud, f);
}

size_t bs_allowlist_apply(const bs_allowlist *al, bs_findings *fs)
{
	size_t before = fs->len;
	bs_findings_remove_if(fs, drop_allowed, (void *)al);
	return before - fs->len;
}
