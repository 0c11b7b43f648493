#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/report_internal.h"
#include "scanner/text.h"
#include "common/banned.h"

int bs_report_format_parse(const char *name, bs_report_format *out)
{
	static const struct {
		const char *name;
		bs_report_format fmt;
	} formats[] = {
	    {"text", BS_REPORT_TEXT},
	    {"json", BS_REPORT_JSON},
	    {"jsonl", BS_REPORT_JSONL},
	    {"sarif", BS_REPORT_SARIF},
	};
	if (!name)
		return -1;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (strcmp(name, formats[i].name) == 0) {
			*out = formats[i].fmt;
			return 0;
		}
	}
	return -1;
}

void bs_report_add_clean(bs_buf *b, const char *s)
{
	if (s)
		bs_text_add_sanitized(b, (const uint8_t *)s, strlen(s));
}

void bs_report_add_clean_n(bs_buf *b, const char *s, size_t n)
{
	if (s)
		bs_text_add_sanitized(b, (const uint8_t *)s, strnlen(s, n));
}

char *bs_report_clean(const char *s)
{
	bs_buf b = BS_BUF_INIT;
	bs_report_add_clean(&b, s);
	return bs_buf_detach(&b, NULL);
}

void bs_report_json_add_str(cJSON *o, const char *key, const char *v)
{
	char *clean;
	if (!v) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	/* cJSON copies bytes >= 0x80 as they are: only valid UTF-8 may go in. */
	clean = bs_report_clean(v);
	cJSON_AddStringToObject(o, key, clean);
	free(clean);
}

void bs_report_json_add_secret(cJSON *o, const char *key, const bs_finding *f)
{
	bs_buf b = BS_BUF_INIT;
	bs_text_add_sanitized(&b, (const uint8_t *)f->secret, f->secret_len);
	cJSON_AddStringToObject(o, key, b.ptr);
	bs_buf_free_secure(&b);
}

int bs_report_is_active(const bs_finding *f)
{
	return f->check && f->check->status && strcmp(f->check->status, "active") == 0;
}

const char *bs_report_sarif_level(bs_severity s)
{
	switch (s) {
	case BS_SEV_CRITICAL:
	case BS_SEV_HIGH:
		return "error";
	case BS_SEV_MEDIUM:
		return "warning";
	default:
		return "note";
	}
}

int bs_report_put(FILE *out, const char *s, size_t len, bs_error *err)
{
	if (len && fwrite(s, 1, len, out) != len)
		return bs_error_set(err, BS_ERR_IO, "cannot write the report: %s", strerror(errno ? errno : EIO));
	return 0;
}

int bs_report_write(FILE *out, bs_report_format fmt, const bs_findings *fs, const bs_report_opts *opts, bs_error *err)
{
	static const bs_findings none = BS_FINDINGS_INIT;
	static const bs_report_opts defaults = {0, 0, NULL, NULL};
	int rc;

	if (!out)
		return bs_error_set(err, BS_ERR_USAGE, "no output stream for the report");
	if (!fs)
		fs = &none;
	if (!opts)
		opts = &defaults;
	errno = 0;
	switch (fmt) {
	case BS_REPORT_TEXT:
		rc = bs_report_write_text(out, fs, opts, err);
		break;
	case BS_REPORT_JSON:
		rc = bs_report_write_json(out, fs, opts, 0, err);
		break;
	case BS_REPORT_JSONL:
		rc = bs_report_write_json(out, fs, opts, 1, err);
		break;
	case BS_REPORT_SARIF:
		rc = bs_report_write_sarif(out, fs, opts, err);
		break;
	default:
		return bs_error_set(err, BS_ERR_USAGE, "unknown report format %d", (int)fmt);
	}
	if (rc)
		return rc;
	if (fflush(out) != 0 || ferror(out))
		return bs_error_set(err, BS_ERR_IO, "cannot write the report: %s", strerror(errno ? errno : EIO));
	return 0;
}
