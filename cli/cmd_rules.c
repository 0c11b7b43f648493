#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "common/buf.h"
#include "scanner/rule.h"
#include "scanner/validate.h"
#include "common/banned.h"

static const char usage_text[] =
	"usage: bstscan rules list [--format text|json] [--rules PATH]... [--no-default-rules]\n"
	"       bstscan rules test FILE...\n"
	"\n"
	"  list   Show every loaded rule: id, family, severity and validators.\n"
	"  test   Load each rule file (or directory of *.json files) and run every rule\n"
	"         against its own examples: each \"tp\" example must yield a finding that\n"
	"         passes the rule's validators, each \"fp\" example none.\n"
	"\n"
	"Options:\n"
	"  -f, --format FORMAT     list: text (default) or json\n"
	"      --rules PATH        list: also load rules from a file or directory (repeatable)\n"
	"      --no-default-rules  list: leave out the built-in rule pack\n"
	"  -h, --help              show this help\n"
	"\n"
	"Exit codes: list 0, or 2 on a usage or rule loading error; test 0 when every\n"
	"example behaves, 1 when any fails, 2 when a file cannot be loaded.\n"
	"The rule format is described in docs/rules.md.\n";

static int usage(void)
{
	fputs(usage_text, stdout);
	return CLI_EXIT_CLEAN;
}

enum { OPT_RULES = 1000, OPT_NO_DEFAULT_RULES };

static void validator_names(bs_buf *out, const bs_rule *r)
{
	for (size_t i = 0; i < r->n_validators; i++)
		bs_buf_addf(out, "%s%s", i ? "," : "", r->validators[i].type->name);
}

static void list_text(const bs_ruleset *rs)
{
	size_t w_id = 2, w_fam = 6;
	for (size_t i = 0; i < bs_ruleset_count(rs); i++) {
		const bs_rule *r = bs_ruleset_get(rs, i);
		if (strlen(r->id) > w_id)
			w_id = strlen(r->id);
		if (strlen(r->family) > w_fam)
			w_fam = strlen(r->family);
	}
	printf("%-*s  %-*s  %-8s  %s\n", (int)w_id, "ID", (int)w_fam, "FAMILY", "SEVERITY", "VALIDATORS");
	for (size_t i = 0; i < bs_ruleset_count(rs); i++) {
		const bs_rule *r = bs_ruleset_get(rs, i);
		bs_buf v = BS_BUF_INIT;
		validator_names(&v, r);
		printf("%-*s  %-*s  %-8s  %s\n", (int)w_id, r->id, (int)w_fam, r->family, bs_severity_name(r->severity),
		       v.len ? v.ptr : "-");
		bs_buf_free(&v);
	}
	printf("%zu rules\n", bs_ruleset_count(rs));
}

static void list_json(const bs_ruleset *rs)
{
	cJSON *arr = cJSON_CreateArray();
	char *text;
	for (size_t i = 0; i < bs_ruleset_count(rs); i++) {
		const bs_rule *r = bs_ruleset_get(rs, i);
		cJSON *o = cJSON_CreateObject(), *kw = cJSON_CreateArray(), *vs = cJSON_CreateArray();
		cJSON_AddStringToObject(o, "id", r->id);
		cJSON_AddStringToObject(o, "family", r->family);
		cJSON_AddStringToObject(o, "severity", bs_severity_name(r->severity));
		cJSON_AddStringToObject(o, "description", r->description);
		cJSON_AddStringToObject(o, "source", r->source);
		cJSON_AddBoolToObject(o, "issuer", r->issuer);
		for (size_t k = 0; k < r->n_keywords; k++)
			cJSON_AddItemToArray(kw, cJSON_CreateString(r->keywords[k]));
		cJSON_AddItemToObject(o, "keywords", kw);
		for (size_t k = 0; k < r->n_validators; k++)
			cJSON_AddItemToArray(vs, cJSON_CreateString(r->validators[k].type->name));
		cJSON_AddItemToObject(o, "validators", vs);
		cJSON_AddNumberToObject(o, "max_length", (double)r->max_length);
		cJSON_AddItemToArray(arr, o);
	}
	text = cJSON_Print(arr);
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(arr);
}

static int cmd_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "rules", required_argument, NULL, OPT_RULES },
		{ "no-default-rules", no_argument, NULL, OPT_NO_DEFAULT_RULES },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char **paths = NULL;
	size_t n_paths = 0, cap = 0;
	int json = 0, defaults = 1, c, rc = CLI_EXIT_CLEAN;
	bs_ruleset *rs;
	bs_error err = BS_ERROR_INIT;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "json") == 0) {
				json = 1;
			} else if (strcmp(optarg, "text") == 0) {
				json = 0;
			} else {
				free(paths);
				return cli_usage_error("rules", "unknown format '%s' (text or json)", optarg);
			}
			break;
		case OPT_RULES:
			BS_ARRAY_GROW(paths, cap, n_paths + 1);
			paths[n_paths++] = optarg;
			break;
		case OPT_NO_DEFAULT_RULES:
			defaults = 0;
			break;
		case 'h':
			free(paths);
			return usage();
		case ':':
			free(paths);
			return cli_usage_error("rules", "option '%s' needs a value", argv[optind - 1]);
		default:
			free(paths);
			return cli_usage_error("rules", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		free(paths);
		return cli_usage_error("rules", "unexpected argument '%s'", argv[optind]);
	}
	rs = bs_ruleset_new();
	if (defaults && bs_ruleset_load_default(rs, &err) < 0)
		rc = cli_fatal(&err);
	for (size_t i = 0; rc == CLI_EXIT_CLEAN && i < n_paths; i++)
		if (bs_ruleset_load_path(rs, paths[i], &err) < 0)
			rc = cli_fatal(&err);
	if (rc == CLI_EXIT_CLEAN) {
		if (json)
			list_json(rs);
		else
			list_text(rs);
	}
	bs_ruleset_free(rs);
	free(paths);
	return rc;
}

/* Prints the report's lines indented under the rule they belong to. */
static void print_indented(const char *text)
{
	while (text && *text) {
		const char *nl = strchr(text, '\n');
		size_t n = nl ? (size_t)(nl - text) : strlen(text);
		printf("      %.*s\n", (int)n, text);
		text += n + (nl != NULL);
	}
}

static int cmd_test(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, load_errors = 0, failed_rules = 0, passed_rules = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h')
			return usage();
		return cli_usage_error("rules", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind >= argc)
		return cli_usage_error("rules", "'rules test' needs at least one rule file");

	for (int a = optind; a < argc; a++) {
		bs_ruleset *rs = bs_ruleset_new();
		bs_error err = BS_ERROR_INIT;
		printf("%s\n", argv[a]);
		if (bs_ruleset_load_path(rs, argv[a], &err) < 0) {
			/* The message names the file and the rule id. */
			cli_error("%s", err.message);
			printf("  ERROR cannot load: %s\n", err.message);
			load_errors++;
			bs_ruleset_free(rs);
			continue;
		}
		if (bs_ruleset_count(rs) == 0)
			printf("  (no rules)\n");
		for (size_t i = 0; i < bs_ruleset_count(rs); i++) {
			bs_rule *r = bs_ruleset_get(rs, i);
			bs_buf report = BS_BUF_INIT;
			bs_error terr = BS_ERROR_INIT;
			int fails = bs_rule_test_examples(r, &report, &terr);
			if (fails < 0) {
				printf("  ERROR %s: %s\n", r->id, terr.message);
				load_errors++;
			} else if (fails > 0) {
				printf("  FAIL  %s (%d of %zu examples)\n", r->id, fails, r->n_tp + r->n_fp);
				print_indented(report.ptr);
				failed_rules++;
			} else {
				printf("  ok    %s (%zu tp, %zu fp)\n", r->id, r->n_tp, r->n_fp);
				passed_rules++;
			}
			bs_buf_free(&report);
		}
		bs_ruleset_free(rs);
	}
	printf("%d rules passed, %d failed", passed_rules, failed_rules);
	if (load_errors)
		printf(", %d errors", load_errors);
	printf("\n");
	if (load_errors)
		return CLI_EXIT_ERROR;
	return failed_rules ? CLI_EXIT_FOUND : CLI_EXIT_CLEAN;
}

int cmd_rules(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("rules", "missing subcommand (list or test)");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return usage();
	if (strcmp(argv[1], "list") == 0)
		return cmd_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "test") == 0)
		return cmd_test(argc - 1, argv + 1);
	return cli_usage_error("rules", "unknown subcommand '%s' (list or test)", argv[1]);
}
