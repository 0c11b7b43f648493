#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "common/banned.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "bstscan%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nhint: run 'bstscan %s%s--help' for usage\n", cmd ? cmd : "", cmd ? " " : "");
	return CLI_EXIT_ERROR;
}

int cli_fatal(const bs_error *err)
{
	fprintf(stderr, "bstscan: error: %s\n", err && err->message[0] ? err->message : "unknown error");
	return CLI_EXIT_ERROR;
}

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("bstscan: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;
	fputs("bstscan: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_use_color(FILE *f)
{
	const char *term = getenv("TERM");
	if (getenv("NO_COLOR"))
		return 0;
	if (term && strcmp(term, "dumb") == 0)
		return 0;
	return isatty(fileno(f));
}

int cli_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;
	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int cli_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (int)n;
}
