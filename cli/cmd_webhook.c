#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "common/buf.h"
#include "revoke/webhook.h"
#include "common/banned.h"

static const char usage[] = "usage: bstscan webhook serve (--keys FILE | --keys-url URL) [options]\n\n"
                            "Serves the secret scanning partner-program endpoint: a code host POSTs the bst_\n"
                            "tokens it found in public content, signed with ECDSA P-256. Each request's\n"
                            "signature is verified over the raw body first; then every token is hashed,\n"
                            "checked and (when live) revoked at the issuer, and labelled true_positive\n"
                            "(the issuer knows it) or false_positive. See docs/webhook.md.\n\n"
                            "The service credential comes from BSTSCAN_TOKEN (a PAT with leaks:check and\n"
                            "leaks:revoke); the issuer from --server, BSTSCAN_SERVER or the config.\n\n"
                            "Options:\n"
                            "      --listen ADDR:PORT  where to listen (default 127.0.0.1:8080; port 0 picks a\n"
                            "                          free one); prints `listening on http://ADDR:PORT`\n"
                            "      --path PATH         the receiving path (default /); GET /healthz answers ok\n"
                            "      --keys FILE         the sender's public keys (JSON: public_keys[])\n"
                            "      --keys-url URL      fetch them from URL instead (https, or http on loopback);\n"
                            "                          re-fetched at most once a minute on an unknown key id\n"
                            "      --server URL        the issuer (default: BSTSCAN_SERVER, then the config)\n"
                            "      --threads N         worker threads (default 4)\n"
                            "      --timeout SECONDS   answer 503 when a request takes longer (default 25)\n"
                            "  -h, --help              show this help\n\n"
                            "Stops gracefully on SIGTERM or SIGINT. Logs one JSON line per request on\n"
                            "standard error (never a token).\n";

enum { OPT_LISTEN = 4000, OPT_PATH, OPT_KEYS, OPT_KEYS_URL, OPT_SERVER, OPT_THREADS, OPT_TIMEOUT };

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_line(void *ctx, const char *line)
{
	(void)ctx;
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

static int serve(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, OPT_LISTEN},
	    {"path", required_argument, NULL, OPT_PATH},
	    {"keys", required_argument, NULL, OPT_KEYS},
	    {"keys-url", required_argument, NULL, OPT_KEYS_URL},
	    {"server", required_argument, NULL, OPT_SERVER},
	    {"threads", required_argument, NULL, OPT_THREADS},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bs_webhook_options wo = {0};
	const char *keys_file = NULL, *keys_url = NULL, *server_flag = NULL, *token;
	char *server = NULL;
	bs_webhook_keys *keys = NULL;
	bs_webhook *w = NULL;
	bs_error err = BS_ERROR_INIT;
	unsigned long v;
	sigset_t set;
	int c, sig = 0;

	wo.listen = "127.0.0.1:8080";
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			wo.listen = optarg;
			break;
		case OPT_PATH:
			if (optarg[0] != '/')
				return cli_usage_error("webhook serve", "--path must start with '/'");
			wo.path = optarg;
			break;
		case OPT_KEYS:
			keys_file = optarg;
			break;
		case OPT_KEYS_URL:
			keys_url = optarg;
			break;
		case OPT_SERVER:
			server_flag = optarg;
			break;
		case OPT_THREADS:
			if (cli_parse_uint(optarg, 256, &v) < 0 || v == 0)
				return cli_usage_error("webhook serve", "--threads takes a number from 1 to 256");
			wo.threads = (unsigned)v;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_uint(optarg, 3600, &v) < 0 || v == 0)
				return cli_usage_error("webhook serve", "--timeout takes seconds, from 1 to 3600");
			wo.deadline_ms = (long)v * 1000;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return cli_usage_error("webhook serve", "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("webhook serve", "unexpected argument '%s'", argv[optind]);
	if (!keys_file == !keys_url)
		return cli_usage_error("webhook serve", "give the sender's keys with --keys FILE or --keys-url URL");
	token = getenv("BSTSCAN_TOKEN");
	if (!token || !*token) {
		cli_error("the webhook needs a service credential in BSTSCAN_TOKEN (a PAT with leaks:check and "
		          "leaks:revoke)");
		return CLI_EXIT_ERROR;
	}
	if (bs_auth_resolve_server(&server, server_flag, &err) < 0)
		return cli_fatal(&err);
	if (bs_webhook_keys_new(&keys, keys_file, keys_url, &err) < 0) {
		free(server);
		return cli_fatal(&err);
	}
	/* Signals are taken by this thread only: block them before the server threads start. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	wo.keys = keys;
	wo.server = server;
	wo.bearer = token;
	wo.log = log_line;
	if (bs_webhook_start(&w, &wo, &err) < 0) {
		bs_webhook_keys_free(keys);
		free(server);
		return cli_fatal(&err);
	}
	printf("listening on http://%s:%u\n", bs_webhook_address(w), bs_webhook_port(w));
	fflush(stdout);
	while (sigwait(&set, &sig) != 0)
		;
	fprintf(stderr, "bstscan: webhook: stopping (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	bs_webhook_stop(w);
	bs_webhook_keys_free(keys);
	free(server);
	return 0;
}

int cmd_webhook(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_ERROR : 0;
	}
	if (strcmp(argv[1], "serve") != 0)
		return cli_usage_error("webhook", "unknown subcommand '%s' (use: serve)", argv[1]);
	return serve(argc - 1, argv + 1);
}
