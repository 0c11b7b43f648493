/* The default rule pack, embedded at build time (cmake/embed_rules.cmake). */
#ifndef BS_SCANNER_RULES_EMBEDDED_H
#define BS_SCANNER_RULES_EMBEDDED_H

#include <stddef.h>

typedef struct bs_embedded_rule_file {
	const char *name; /* file name in rules/ */
	const char *text; /* NUL-terminated JSON */
	size_t len;
} bs_embedded_rule_file;

/* Terminated by an entry whose name is NULL. */
extern const bs_embedded_rule_file bs_embedded_rule_files[];

#endif
