#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>

#include "common/fs.h"
#include "scanner/rule.h"
#include "scanner/rule_internal.h"
#include "scanner/rules_embedded.h"
#include "scanner/validate.h"
#include "common/banned.h"

/* A rule file larger than this is certainly not hand-written rule data. */
#define RULE_FILE_MAX (16u << 20)

struct bs_ruleset {
	bs_rule **rules;
	unsigned char *owned;
	size_t len;
	size_t cap;
	size_t owned_cap;
};

static const char *const severity_names[] = { "low", "medium", "high", "critical" };

const char *bs_severity_name(bs_severity s)
{
	return (unsigned)s < 4 ? severity_names[s] : "unknown";
}

int bs_severity_parse(const char *name, bs_severity *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, severity_names[i]) == 0) {
			*out = (bs_severity)i;
			return 0;
		}
	}
	return -1;
}

bs_ruleset *bs_ruleset_new(void)
{
	return bs_xcalloc(1, sizeof(bs_ruleset));
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void rule_free(bs_rule *r)
{
	if (!r)
		return;
	free(r->id);
	free(r->description);
	free(r->family);
	free(r->source);
	free(r->regex);
	free_strv(r->keywords, r->n_keywords);
	for (size_t i = 0; i < r->n_validators; i++)
		bs_validator_clear(&r->validators[i]);
	free(r->validators);
	free_strv(r->tp_examples, r->n_tp);
	free_strv(r->fp_examples, r->n_fp);
	bs_rule_compiled_free(r->compiled);
	free(r);
}

void bs_ruleset_free(bs_ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->len; i++)
		if (rs->owned[i])
			rule_free(rs->rules[i]);
	free(rs->rules);
	free(rs->owned);
	free(rs);
}

static void ruleset_put(bs_ruleset *rs, bs_rule *r, int owned)
{
	for (size_t i = 0; i < rs->len; i++) {
		if (strcmp(rs->rules[i]->id, r->id) == 0) {
			/* A later definition overrides: users may replace a default rule. */
			if (rs->owned[i])
				rule_free(rs->rules[i]);
			rs->rules[i] = r;
			rs->owned[i] = (unsigned char)owned;
			return;
		}
	}
	BS_ARRAY_GROW(rs->rules, rs->cap, rs->len + 1);
	BS_ARRAY_GROW(rs->owned, rs->owned_cap, rs->len + 1);
	rs->rules[rs->len] = r;
	rs->owned[rs->len] = (unsigned char)owned;
	rs->len++;
}

void bs_ruleset_add_borrowed(bs_ruleset *rs, bs_rule *r)
{
	ruleset_put(rs, r, 0);
}

size_t bs_ruleset_count(const bs_ruleset *rs)
{
	return rs->len;
}

bs_rule *bs_ruleset_get(const bs_ruleset *rs, size_t i)
{
	return i < rs->len ? rs->rules[i] : NULL;
}

bs_rule *bs_ruleset_find(const bs_ruleset *rs, const char *id)
{
	for (size_t i = 0; i < rs->len; i++)
		if (strcmp(rs->rules[i]->id, id) == 0)
			return rs->rules[i];
	return NULL;
}

void bs_ruleset_filter(bs_ruleset *rs, int (*keep)(const bs_rule *, void *), void *ud)
{
	size_t j = 0;
	for (size_t i = 0; i < rs->len; i++) {
		if (keep(rs->rules[i], ud)) {
			rs->rules[j] = rs->rules[i];
			rs->owned[j] = rs->owned[i];
			j++;
		} else if (rs->owned[i]) {
			rule_free(rs->rules[i]);
		}
	}
	rs->len = j;
}

size_t bs_ruleset_max_length(const bs_ruleset *rs)
{
	size_t m = 0;
	for (size_t i = 0; i < rs->len; i++)
		if (rs->rules[i]->max_length > m)
			m = rs->rules[i]->max_length;
	return m;
}

static int valid_id(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_' || *s == '.'))
			return 0;
	return 1;
}

static int string_array(const cJSON *arr, char ***out, size_t *n, int allow_empty_strings)
{
	const cJSON *it;
	size_t i = 0;
	*out = NULL;
	*n = 0;
	if (!cJSON_IsArray(arr))
		return -1;
	*n = (size_t)cJSON_GetArraySize(arr);
	*out = bs_xcalloc(*n ? *n : 1, sizeof(char *));
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it) || (!allow_empty_strings && !it->valuestring[0])) {
			free_strv(*out, i);
			*out = NULL;
			*n = 0;
			return -1;
		}
		(*out)[i++] = bs_xstrdup(it->valuestring);
	}
	return 0;
}

#define RULE_ERR(...) (bs_error_set(err, BS_ERR_RULE, __VA_ARGS__), rule_free(r), BS_ERR_RULE)

static int parse_rule(bs_rule **out, const cJSON *j, const char *source, size_t index, int check_regex,
		      bs_error *err)
{
	bs_rule *r = bs_xcalloc(1, sizeof(*r));
	const cJSON *v;
	const char *id;

	if (!cJSON_IsObject(j))
		return RULE_ERR("%s: rule #%zu is not a JSON object", source, index + 1);
	v = cJSON_GetObjectItemCaseSensitive(j, "id");
	if (!cJSON_IsString(v) || !valid_id(v->valuestring))
		return RULE_ERR("%s: rule #%zu: \"id\" must be a string of letters, digits, '-', '_' or '.'", source,
				index + 1);
	r->id = bs_xstrdup(v->valuestring);
	id = r->id;
	r->source = bs_xstrdup(source);

	v = cJSON_GetObjectItemCaseSensitive(j, "description");
	if (!cJSON_IsString(v) || !v->valuestring[0])
		return RULE_ERR("%s: rule '%s': missing string \"description\"", source, id);
	r->description = bs_xstrdup(v->valuestring);

	v = cJSON_GetObjectItemCaseSensitive(j, "family");
	if (v && !cJSON_IsString(v))
		return RULE_ERR("%s: rule '%s': \"family\" must be a string", source, id);
	if (v) {
		r->family = bs_xstrdup(v->valuestring);
	} else {
		const char *dash = strchr(id, '-');
		r->family = dash ? bs_xstrndup(id, (size_t)(dash - id)) : bs_xstrdup(id);
	}

	v = cJSON_GetObjectItemCaseSensitive(j, "regex");
	if (!cJSON_IsString(v) || !v->valuestring[0])
		return RULE_ERR("%s: rule '%s': missing string \"regex\"", source, id);
	r->regex = bs_xstrdup(v->valuestring);

	v = cJSON_GetObjectItemCaseSensitive(j, "keywords");
	if (string_array(v, &r->keywords, &r->n_keywords, 0) < 0 || r->n_keywords == 0)
		return RULE_ERR("%s: rule '%s': \"keywords\" must be a non-empty array of non-empty strings", source,
				id);
	v = cJSON_GetObjectItemCaseSensitive(j, "keywords_nocase");
	if (v && !cJSON_IsBool(v))
		return RULE_ERR("%s: rule '%s': \"keywords_nocase\" must be true or false", source, id);
	r->keywords_nocase = cJSON_IsTrue(v);

	v = cJSON_GetObjectItemCaseSensitive(j, "secret_group");
	if (v && (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 99 ||
		  v->valuedouble != (double)v->valueint))
		return RULE_ERR("%s: rule '%s': \"secret_group\" must be a whole number from 0 to 99", source, id);
	r->secret_group = v ? v->valueint : 0;

	v = cJSON_GetObjectItemCaseSensitive(j, "severity");
	if (!cJSON_IsString(v) || bs_severity_parse(v->valuestring, &r->severity) < 0)
		return RULE_ERR("%s: rule '%s': \"severity\" must be one of low, medium, high, critical", source, id);

	v = cJSON_GetObjectItemCaseSensitive(j, "issuer");
	if (v && !cJSON_IsBool(v))
		return RULE_ERR("%s: rule '%s': \"issuer\" must be true or false", source, id);
	r->issuer = cJSON_IsTrue(v);

	v = cJSON_GetObjectItemCaseSensitive(j, "max_length");
	if (v && (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > BS_RULE_MAX_MAX_LENGTH ||
		  v->valuedouble != (double)v->valueint))
		return RULE_ERR("%s: rule '%s': \"max_length\" must be a whole number from 1 to %d", source, id,
				BS_RULE_MAX_MAX_LENGTH);
	r->max_length = v ? (size_t)v->valueint : BS_RULE_DEFAULT_MAX_LENGTH;

	v = cJSON_GetObjectItemCaseSensitive(j, "validators");
	if (v) {
		const cJSON *it;
		if (!cJSON_IsArray(v))
			return RULE_ERR("%s: rule '%s': \"validators\" must be an array", source, id);
		r->validators = bs_xcalloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(bs_validator));
		cJSON_ArrayForEach(it, v)
		{
			bs_error verr = BS_ERROR_INIT;
			if (bs_validator_parse(&r->validators[r->n_validators], it, &verr) < 0)
				return RULE_ERR("%s: rule '%s': %s", source, id, verr.message);
			r->n_validators++;
		}
	}

	v = cJSON_GetObjectItemCaseSensitive(j, "examples");
	if (v) {
		if (!cJSON_IsObject(v))
			return RULE_ERR("%s: rule '%s': \"examples\" must be an object with \"tp\" and \"fp\" arrays",
					source, id);
		if (cJSON_GetObjectItemCaseSensitive(v, "tp") &&
		    string_array(cJSON_GetObjectItemCaseSensitive(v, "tp"), &r->tp_examples, &r->n_tp, 1) < 0)
			return RULE_ERR("%s: rule '%s': \"examples.tp\" must be an array of strings", source, id);
		if (cJSON_GetObjectItemCaseSensitive(v, "fp") &&
		    string_array(cJSON_GetObjectItemCaseSensitive(v, "fp"), &r->fp_examples, &r->n_fp, 1) < 0)
			return RULE_ERR("%s: rule '%s': \"examples.fp\" must be an array of strings", source, id);
	}

	r->compiled = bs_rule_compiled_new();
	if (check_regex) {
		/* User rules are checked now so a typo fails fast with PCRE2's
		 * message; the JIT compile still waits for the first keyword hit. */
		int code;
		PCRE2_SIZE off;
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)r->regex, PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
		if (!re) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(code, msg, sizeof(msg));
			return RULE_ERR("%s: rule '%s': bad regex at offset %zu: %s", source, id, (size_t)off,
					(char *)msg);
		} else {
			uint32_t groups = 0;
			pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
			pcre2_code_free(re);
			if ((uint32_t)r->secret_group > groups)
				return RULE_ERR("%s: rule '%s': \"secret_group\" is %d but the regex has %u groups",
						source, id, r->secret_group, groups);
		}
		/* A user rule that could stall every scan is refused here, not met mid-scan. */
		if (bs_rule_check_safety(r, err) < 0) {
			rule_free(r);
			return BS_ERR_RULE;
		}
	}
	*out = r;
	return 0;
}

static int load_json(bs_ruleset *rs, const char *text, size_t len, const char *source, int check_regex, bs_error *err)
{
	cJSON *root = cJSON_ParseWithLength(text, len);
	const cJSON *arr, *it;
	size_t i = 0;
	int rc = 0;
	if (!root) {
		const char *at = cJSON_GetErrorPtr();
		size_t line = 1;
		if (at && at >= text && at <= text + len)
			for (const char *p = text; p < at; p++)
				line += *p == '\n';
		return bs_error_set(err, BS_ERR_RULE, "%s:%zu: invalid JSON", source, line);
	}
	arr = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "rules");
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(root);
		return bs_error_set(err, BS_ERR_RULE, "%s: expected {\"rules\": [...]} or an array of rules", source);
	}
	cJSON_ArrayForEach(it, arr)
	{
		bs_rule *r;
		rc = parse_rule(&r, it, source, i++, check_regex, err);
		if (rc < 0)
			break;
		ruleset_put(rs, r, 1);
	}
	cJSON_Delete(root);
	return rc;
}

int bs_ruleset_load_json(bs_ruleset *rs, const char *text, size_t len, const char *source, bs_error *err)
{
	return load_json(rs, text, len, source, 1, err);
}

int bs_ruleset_load_default(bs_ruleset *rs, bs_error *err)
{
	for (const bs_embedded_rule_file *f = bs_embedded_rule_files; f->name; f++) {
		char *source = bs_xasprintf("builtin:%s", f->name);
		/* The embedded pack is tested at build time; skip the eager regex check. */
		int rc = load_json(rs, f->text, f->len, source, 0, err);
		free(source);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_file(bs_ruleset *rs, const char *path, bs_error *err)
{
	bs_buf text = BS_BUF_INIT;
	int rc = bs_fs_read_file(&text, path, RULE_FILE_MAX, err);
	if (rc == 0)
		rc = bs_ruleset_load_json(rs, text.ptr, text.len, path, err);
	else
		err->code = BS_ERR_RULE;
	bs_buf_free(&text);
	return rc < 0 ? BS_ERR_RULE : 0;
}

int bs_ruleset_load_path(bs_ruleset *rs, const char *path, bs_error *err)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (stat(path, &st) < 0)
		return bs_error_set(err, BS_ERR_RULE, "cannot read rules from %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return load_file(rs, path, err);
	d = opendir(path);
	if (!d)
		return bs_error_set(err, BS_ERR_RULE, "cannot read rules from %s: %s", path, strerror(errno));
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		BS_ARRAY_GROW(names, cap, n + 1);
		names[n++] = bs_xasprintf("%s/%s", path, de->d_name);
	}
	closedir(d);
	if (n > 1) /* qsort(NULL, 0, ...) is undefined behaviour: an empty directory has no names */
		qsort(names, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = load_file(rs, names[i], err);
	free_strv(names, n);
	return rc;
}
