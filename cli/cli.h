/* Shared helpers of the command-line front end. Only cli/ prints. */
#ifndef BS_CLI_CLI_H
#define BS_CLI_CLI_H

#include <stdio.h>

#include "common/error.h"

#define CLI_EXIT_CLEAN 0
#define CLI_EXIT_FOUND 1
#define CLI_EXIT_ERROR 2
#define CLI_EXIT_REVOKE_FAILED 3

/* Prints "bstscan <cmd>: <message>" and a hint to stderr; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "bstscan: error: <message>" to stderr; returns 2. */
int cli_fatal(const bs_error *err);
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 1 when colour should be used on f (a TTY, NO_COLOR unset, TERM not dumb). */
int cli_use_color(FILE *f);
/* Parses a positive integer option value; returns 0 or -1. */
int cli_parse_uint(const char *s, unsigned long max, unsigned long *out);
/* Number of online CPUs (at least 1). */
int cli_cpu_count(void);

#endif
