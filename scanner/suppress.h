/* Suppressions: baselines and the project config (.bstscan.json).
 *
 * A baseline is a JSON file {"version": 1, "fingerprints": ["<hex>", ...]}
 * written by --baseline-out and read by --baseline. The config file holds
 *   {"allow": {"paths": ["glob", ...], "fingerprints": ["<hex>", ...]},
 *    "rules": [ rule objects as in rules/ ], "rule_files": ["path", ...]}
 * Inline "bstscan:allow" comments are handled by the engine.
 */
#ifndef BS_SCANNER_SUPPRESS_H
#define BS_SCANNER_SUPPRESS_H

#include <stdio.h>

#include "common/error.h"
#include "scanner/finding.h"
#include "scanner/rule.h"

typedef struct bs_allowlist bs_allowlist;

bs_allowlist *bs_allowlist_new(void);
void bs_allowlist_free(bs_allowlist *al);
void bs_allowlist_add_fingerprint(bs_allowlist *al, const char *fp);
/* Globs match the finding's path relative to the base directory set by
 * bs_allowlist_set_base (the directory holding the config file). */
void bs_allowlist_add_path_glob(bs_allowlist *al, const char *glob);
void bs_allowlist_set_base(bs_allowlist *al, const char *dir);
/* Reads a baseline file into al. Errors name the file and what is wrong. */
int bs_baseline_load(bs_allowlist *al, const char *path, bs_error *err);
/* Writes the findings' fingerprints as a baseline (atomically). */
int bs_baseline_write(const bs_findings *fs, const char *path, bs_error *err);
/* Reads a config file: allowlist entries into al, extra rules into rs
 * (rules relative to the config's directory). */
int bs_config_load(const char *path, bs_allowlist *al, bs_ruleset *rs, bs_error *err);
/* 1 when the finding is allowlisted (fingerprint or path glob). */
int bs_allowlist_match(const bs_allowlist *al, const bs_finding *f);
/* Removes every allowlisted finding from fs; returns how many. */
size_t bs_allowlist_apply(const bs_allowlist *al, bs_findings *fs);

#endif
