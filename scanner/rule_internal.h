/* Private to scanner/: compiled regex state and helpers shared by rule.c,
 * match.c and engine.c. Not part of the library's API. */
#ifndef BS_SCANNER_RULE_INTERNAL_H
#define BS_SCANNER_RULE_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "scanner/rule.h"

/* PCRE2 limits that bound a pathological regex on adversarial input. */
#define BS_PCRE2_MATCH_LIMIT 1000000u
#define BS_PCRE2_DEPTH_LIMIT 10000u
#define BS_PCRE2_HEAP_LIMIT_KB 20000u

void *bs_rule_compiled_new(void);
void bs_rule_compiled_free(void *c);
/* The compiled code of a rule, after a successful bs_rule_compile(). */
pcre2_code *bs_rule_code(const bs_rule *r);
/* The rule set takes r without owning it (for testing one rule's examples). */
void bs_ruleset_add_borrowed(bs_ruleset *rs, bs_rule *r);

#endif
