#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/scan_common.h"
#include "common/banned.h"

const char cli_scan_options_help[] =
	"Report:\n"
	"  -f, --format FORMAT     text (default), json, jsonl or sarif\n"
	"  -o, --output FILE       write the report to FILE instead of standard output\n"
	"      --show-secret       include raw secrets in the report (otherwise only the\n"
	"                          first 12 characters and the SHA-256 hash are shown)\n"
	"      --no-color          no colours in the text report\n"
	"      --exit-code N       exit with N instead of 1 when something is found\n"
	"  -q, --quiet             no progress or warnings on standard error\n"
	"      --verbose           more detail on standard error\n"
	"Rules and suppressions:\n"
	"      --rules PATH        load extra rules from a JSON file or a directory (repeatable)\n"
	"      --no-default-rules  do not load the built-in rule pack\n"
	"      --report-invalid    report near-misses that fail a rule's validator, at low severity\n"
	"      --config FILE       project config (default: .bstscan.json at the scanned root)\n"
	"      --baseline FILE     hide findings whose fingerprints are in FILE\n"
	"      --baseline-out FILE write the fingerprints of the findings to FILE\n"
	"                          (a line containing \"bstscan:allow\" is never reported)\n"
	"Issuer:\n"
	"      --check             ask the issuer which bst_ tokens are live (sends hashes only)\n"
	"      --only-active       with --check, report only live tokens\n"
	"      --revoke            check, then revoke the live tokens (asks on a TTY)\n"
	"      --yes               revoke without asking\n"
	"      --dry-run           show what --revoke would do\n"
	"      --fail-on-check-error  exit 2 when the issuer cannot be asked\n"
	"      --server URL        the issuer (default: BSTSCAN_SERVER, then the config)\n"
	"  -j, --jobs N            threads (default: number of CPUs)\n"
	"  -h, --help              show this help\n"
	"Exit codes: 0 nothing found, 1 found, 2 usage or fatal error, 3 found and a\n"
	"revocation failed.\n";

void cli_scan_opts_init(cli_scan_opts *o, const char *cmd)
{
	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->format = BS_REPORT_TEXT;
	o->exit_found = CLI_EXIT_FOUND;
}

void cli_scan_opts_free(cli_scan_opts *o)
{
	free(o->rule_paths);
	o->rule_paths = NULL;
}

int cli_scan_opt(cli_scan_opts *o, int c, const char *arg)
{
	unsigned long v;
	switch (c) {
	case 'f':
	case CLI_OPT_FORMAT:
		if (bs_report_format_parse(arg, &o->format) < 0)
			return cli_usage_error(o->cmd, "unknown format '%s' (use text, json, jsonl or sarif)", arg), -1;
		return 1;
	case 'o':
	case CLI_OPT_OUTPUT:
		o->output = arg;
		return 1;
	case CLI_OPT_SHOW_SECRET:
		o->show_secret = 1;
		return 1;
	case CLI_OPT_NO_COLOR:
		o->no_color = 1;
		return 1;
	case CLI_OPT_EXIT_CODE:
		if (cli_parse_uint(arg, 255, &v) < 0)
			return cli_usage_error(o->cmd, "--exit-code takes a number from 0 to 255"), -1;
		o->exit_found = (int)v;
		return 1;
	case CLI_OPT_RULES:
		o->rule_paths = bs_xrealloc(o->rule_paths, (o->n_rule_paths + 1) * sizeof(char *));
		o->rule_paths[o->n_rule_paths++] = arg;
		return 1;
	case CLI_OPT_NO_DEFAULT_RULES:
		o->no_default_rules = 1;
		return 1;
	case CLI_OPT_BASELINE:
		o->baseline = arg;
		return 1;
	case CLI_OPT_BASELINE_OUT:
		o->baseline_out = arg;
		return 1;
	case CLI_OPT_CONFIG:
		o->config = arg;
		return 1;
	case CLI_OPT_REPORT_INVALID:
		o->report_invalid = 1;
		return 1;
	case 'q':
	case CLI_OPT_QUIET:
		o->quiet = 1;
		return 1;
	case CLI_OPT_VERBOSE:
		o->verbose = 1;
		return 1;
	case CLI_OPT_CHECK:
		o->check = 1;
		return 1;
	case CLI_OPT_ONLY_ACTIVE:
		o->only_active = o->check = 1;
		return 1;
	case CLI_OPT_REVOKE:
		o->revoke = o->check = 1;
		return 1;
	case CLI_OPT_YES:
		o->yes = 1;
		return 1;
	case CLI_OPT_DRY_RUN:
		o->dry_run = 1;
		return 1;
	case CLI_OPT_FAIL_ON_CHECK_ERROR:
		o->fail_on_check_error = 1;
		return 1;
	case CLI_OPT_SERVER:
		o->server = arg;
		return 1;
	case 'j':
		if (cli_parse_uint(arg, 1024, &v) < 0 || v == 0)
			return cli_usage_error(o->cmd, "--jobs takes a number from 1 to 1024"), -1;
		o->jobs = (int)v;
		return 1;
	case 'h':
		o->help = 1;
		return 1;
	default:
		return 0;
	}
}

int cli_scan_bad_option(const cli_scan_opts *o, char **argv)
{
	if (optopt && optopt < 256)
		return cli_usage_error(o->cmd, "unknown or incomplete option '-%c'", optopt);
	return cli_usage_error(o->cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
}

int cli_scan_print_help(const char *usage)
{
	fputs(usage, stdout);
	fputc('\n', stdout);
	fputs(cli_scan_options_help, stdout);
	return CLI_EXIT_CLEAN;
}

void cli_scan_warn_input(void *ud, const char *what, const char *reason)
{
	const cli_scan_opts *o = ud;
	if (!o->quiet)
		fprintf(stderr, "bstscan: warning: %s: %s\n", what, reason);
}

int cli_scan_setup(cli_scan_opts *o, const char *root, cli_scan_env *env)
{
	bs_error err = BS_ERROR_INIT;
	bs_scanner_opts sopts = { o->report_invalid, 0 };
	char *config = NULL;
	const char *config_dir = NULL;
	char *config_copy = NULL;

	memset(env, 0, sizeof(*env));
	env->rules = bs_ruleset_new();
	env->allow = bs_allowlist_new();
	if (!o->no_default_rules && bs_ruleset_load_default(env->rules, &err) < 0)
		goto fail;
	for (size_t i = 0; i < o->n_rule_paths; i++)
		if (bs_ruleset_load_path(env->rules, o->rule_paths[i], &err) < 0)
			goto fail;
	if (o->config) {
		config = bs_xstrdup(o->config);
	} else if (root) {
		struct stat st;
		char *dir = bs_xstrdup(root);
		if (stat(root, &st) == 0 && !S_ISDIR(st.st_mode)) {
			char *slash = strrchr(dir, '/');
			if (slash)
				*slash = '\0';
			else {
				free(dir);
				dir = bs_xstrdup(".");
			}
		}
		config = bs_xasprintf("%s/.bstscan.json", dir);
		free(dir);
		if (access(config, F_OK) != 0) {
			free(config);
			config = NULL;
		}
	}
	if (config) {
		if (bs_config_load(config, env->allow, env->rules, &err) < 0)
			goto fail;
		/* Path globs in the config are relative to the config's directory. */
		config_copy = bs_xstrdup(config);
		{
			char *slash = strrchr(config_copy, '/');
			if (slash) {
				*slash = '\0';
				config_dir = config_copy;
			} else {
				config_dir = ".";
			}
		}
		bs_allowlist_set_base(env->allow, config_dir);
	}
	if (o->baseline && bs_baseline_load(env->allow, o->baseline, &err) < 0)
		goto fail;
	if (bs_ruleset_count(env->rules) == 0) {
		bs_error_set(&err, BS_ERR_USAGE, "no rules to scan with (--no-default-rules needs --rules PATH)");
		goto fail;
	}
	if (bs_scanner_new(&env->scanner, env->rules, &sopts, &err) < 0)
		goto fail;
	free(config);
	free(config_copy);
	return 0;
fail:
	free(config);
	free(config_copy);
	bs_scanner_free(env->scanner);
	bs_ruleset_free(env->rules);
	bs_allowlist_free(env->allow);
	memset(env, 0, sizeof(*env));
	return cli_fatal(&err);
}

static int not_active(const bs_finding *f, void *ud)
{
	(void)ud;
	/* A token that could not be checked may be live: --only-active keeps it. */
	return !f->check || !f->check->status ||
	       (strcmp(f->check->status, "active") != 0 && strcmp(f->check->status, "unchecked") != 0);
}

int cli_scan_finish(cli_scan_opts *o, cli_scan_env *env)
{
	bs_error err = BS_ERROR_INIT;
	bs_report_opts ropts = { 0 };
	FILE *out = stdout;
	int code = 0, rc;

	bs_allowlist_apply(env->allow, &env->findings);
	bs_findings_sort(&env->findings);
	if (o->baseline_out && bs_baseline_write(&env->findings, o->baseline_out, &err) < 0) {
		code = cli_fatal(&err);
		goto out;
	}
	if (o->check && env->findings.len) {
		/* Whatever the issuer said (or failed to say), the findings are still reported in full;
		 * a nonzero code (2 check failed with --fail-on-check-error, 3 a revocation failed) wins. */
		code = cli_check_and_revoke(o, &env->findings);
		if (o->only_active)
			bs_findings_remove_if(&env->findings, not_active, NULL);
	}
	if (o->output) {
		out = fopen(o->output, "w");
		if (!out) {
			cli_error("cannot write %s: %s", o->output, strerror(errno));
			code = CLI_EXIT_ERROR;
			goto out;
		}
	}
	ropts.show_secret = o->show_secret;
	ropts.color = !o->no_color && !o->output && o->format == BS_REPORT_TEXT && cli_use_color(stdout);
	ropts.rules = env->rules;
	ropts.tool_version = BS_VERSION;
	rc = bs_report_write(out, o->format, &env->findings, &ropts, &err);
	if (out != stdout) {
		if (fclose(out) != 0 && rc == 0)
			rc = bs_error_set(&err, BS_ERR_IO, "cannot write %s: %s", o->output, strerror(errno));
	} else if (fflush(stdout) != 0 && rc == 0) {
		rc = bs_error_set(&err, BS_ERR_IO, "cannot write the report: %s", strerror(errno));
	}
	if (rc < 0) {
		code = cli_fatal(&err);
		goto out;
	}
	if (!code)
		code = env->findings.len ? o->exit_found : CLI_EXIT_CLEAN;
out:
	bs_findings_free(&env->findings);
	bs_scanner_free(env->scanner);
	bs_ruleset_free(env->rules);
	bs_allowlist_free(env->allow);
	memset(env, 0, sizeof(*env));
	return code;
}
