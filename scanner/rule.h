/* Rules: what a secret looks like, loaded from JSON data (rules/ and --rules).
 *
 * A rule set owns its rules. Rules are immutable after loading except for the
 * compiled regex, which bs_rule_compile() fills once, lazily and thread-safely,
 * the first time the rule's keyword fires. A loaded rule set may be shared by
 * any number of scanning threads.
 */
#ifndef BS_SCANNER_RULE_H
#define BS_SCANNER_RULE_H

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

typedef enum bs_severity {
	BS_SEV_LOW = 0,
	BS_SEV_MEDIUM = 1,
	BS_SEV_HIGH = 2,
	BS_SEV_CRITICAL = 3
} bs_severity;

const char *bs_severity_name(bs_severity s);
/* Returns 0 and sets *out, or -1 for an unknown name. */
int bs_severity_parse(const char *name, bs_severity *out);

typedef struct bs_validator bs_validator; /* see scanner/validate.h */

/* The default longest match a rule may produce when it does not say. */
#define BS_RULE_DEFAULT_MAX_LENGTH 256
/* The hard ceiling for max_length (it sizes the chunk overlap). */
#define BS_RULE_MAX_MAX_LENGTH 16384

typedef struct bs_rule {
	char *id;
	char *description;
	char *family;      /* vendor family, e.g. "bastionary", "github" */
	char *source;      /* where it was loaded from: "builtin:bastionary.json" or a path */
	char *regex;       /* PCRE2 pattern */
	char **keywords;   /* literals; one occurs in every match */
	size_t n_keywords;
	int keywords_nocase; /* keywords match without regard to ASCII case */
	int secret_group;  /* capture group holding the secret (0: whole match) */
	bs_severity severity;
	int issuer;        /* 1 when the issuer API can check and revoke it (bst_) */
	size_t max_length; /* longest match in bytes; bounds the regex window */
	bs_validator *validators;
	size_t n_validators;
	char **tp_examples; /* strings in which the rule must find a secret */
	size_t n_tp;
	char **fp_examples; /* strings in which it must find nothing */
	size_t n_fp;
	void *compiled;     /* private: compiled regex state (scanner/match.c) */
} bs_rule;

typedef struct bs_ruleset bs_ruleset;

bs_ruleset *bs_ruleset_new(void);
void bs_ruleset_free(bs_ruleset *rs);

/* Loads the pack embedded at build time (rules/ *.json). */
int bs_ruleset_load_default(bs_ruleset *rs, bs_error *err);
/* Loads a rule file, or every *.json file of a directory (sorted by name). */
int bs_ruleset_load_path(bs_ruleset *rs, const char *path, bs_error *err);
/* Loads one rule file's text. source names it in errors. A rule file is either
 * {"rules": [ ... ]} or a bare array of rules. A rule whose id is already
 * loaded replaces the earlier one (so users can override a default rule). */
int bs_ruleset_load_json(bs_ruleset *rs, const char *text, size_t len, const char *source, bs_error *err);

size_t bs_ruleset_count(const bs_ruleset *rs);
bs_rule *bs_ruleset_get(const bs_ruleset *rs, size_t i);
bs_rule *bs_ruleset_find(const bs_ruleset *rs, const char *id);
/* Keeps only the rules for which keep(rule, ud) returns nonzero. */
void bs_ruleset_filter(bs_ruleset *rs, int (*keep)(const bs_rule *, void *), void *ud);
/* The largest max_length of any rule: the scanner's chunk overlap derives from it. */
size_t bs_ruleset_max_length(const bs_ruleset *rs);

/* Compiles (PCRE2 with JIT) the rule's regex if not yet done. Thread-safe.
 * On a bad regex the error names the rule, its source, PCRE2's message and
 * the offset. */
int bs_rule_compile(bs_rule *rule, bs_error *err);

/* The regex-safety check (scanner/rule_safety.c), run at load time on user-supplied rules (--rules,
 * config) and by the test suite on the default pack: the regex compiles, runs every example within
 * the scanner's PCRE2 limits, and does not hit those limits on a 1 MB adversarial input. BS_ERR_RULE with a message naming the rule and its source otherwise. Costs
 * a few milliseconds for a well-behaved rule; compiles the rule (thread-safe). */
int bs_rule_check_safety(bs_rule *rule, bs_error *err);

/* Runs a rule's own examples (every tp must yield a finding that passes the
 * validators, every fp none). Appends one line per failure to report and
 * returns the number of failures; a rule with no tp or no fp example counts
 * as a failure. */
int bs_rule_test_examples(bs_rule *rule, bs_buf *report, bs_error *err);

#endif
