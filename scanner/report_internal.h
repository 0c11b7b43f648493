/* Private to the reporters (scanner/report*.c): the shared helpers that keep
 * every format valid UTF-8 and free of raw secrets. Not part of the API. */
#ifndef BS_SCANNER_REPORT_INTERNAL_H
#define BS_SCANNER_REPORT_INTERNAL_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/error.h"
#include "scanner/report.h"

/* Appends s (NULL: nothing) as valid UTF-8: invalid bytes and control
 * characters become U+FFFD (so a path cannot carry terminal escapes). */
void bs_report_add_clean(bs_buf *b, const char *s);
/* The same for at most the first n bytes of s (short commit ids). */
void bs_report_add_clean_n(bs_buf *b, const char *s, size_t n);
/* The same as a heap string; the caller frees it. */
char *bs_report_clean(const char *s);

/* Adds key: sanitized v to o, or key: null when v is NULL. */
void bs_report_json_add_str(cJSON *o, const char *key, const char *v);

/* Adds key: the raw secret (sanitized to UTF-8), wiping the temporary copy.
 * Callers add it only when opts->show_secret. */
void bs_report_json_add_secret(cJSON *o, const char *key, const bs_finding *f);

/* The finding's token is live: the issuer said "active". */
int bs_report_is_active(const bs_finding *f);
/* SARIF level of a severity: critical/high error, medium warning, low note. */
const char *bs_report_sarif_level(bs_severity s);

/* Writes len bytes; on failure fills err (BS_ERR_IO) and returns it. */
int bs_report_put(FILE *out, const char *s, size_t len, bs_error *err);

int bs_report_write_text(FILE *out, const bs_findings *fs, const bs_report_opts *opts, bs_error *err);
int bs_report_write_json(FILE *out, const bs_findings *fs, const bs_report_opts *opts, int lines, bs_error *err);
int bs_report_write_sarif(FILE *out, const bs_findings *fs, const bs_report_opts *opts, bs_error *err);

#endif
