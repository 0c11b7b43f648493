/* bstscan auth login|status|token|logout: a thin front end over auth/. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "common/timeutil.h"
#include "common/banned.h"

extern char **environ;

static const char usage_text[] =
    "usage: bstscan auth login  [--server URL] [--scopes LIST] [--no-browser] [--client-id ID]\n"
    "                           [--credential-store keychain|file] [--verbose]\n"
    "       bstscan auth login  --oidc [--oidc-env VAR | --oidc-token-file PATH] [--oidc-audience AUD]\n"
    "       bstscan auth status [--server URL] [--credential-store keychain|file]\n"
    "       bstscan auth token  [--server URL] [--credential-store keychain|file]\n"
    "       bstscan auth logout [--server URL] [--credential-store keychain|file]\n"
    "\n"
    "Authenticates bstscan to the issuer API.\n"
    "\n"
    "  login    log in with the OAuth device flow: open the URL shown, enter the code, approve\n"
    "  status   show which credential is in use, who it belongs to, its scopes and expiry\n"
    "  token    print a valid access token on standard output (for scripts), refreshing it if needed\n"
    "  logout   revoke the login at the server and delete it locally\n"
    "\n"
    "Credentials are taken from, in this order: BSTSCAN_TOKEN (a personal access token, never stored;\n"
    "the way to authenticate CI), workload identity (BSTSCAN_OIDC=1 or login --oidc: the CI provider's\n"
    "OIDC ID token exchanged for a short-lived access token), then the stored login.\n"
    "\n"
    "Options:\n"
    "  --server URL             issuer URL (else BSTSCAN_SERVER, else \"server\" in\n"
    "                           $XDG_CONFIG_HOME/bstscan/config.json)\n"
    "  --scopes LIST            scopes to ask for, comma- or space-separated\n"
    "                           (default: leaks:check,leaks:revoke)\n"
    "  --no-browser             do not try to open a browser\n"
    "  --client-id ID           OAuth client id (default: bstscan-cli)\n"
    "  --credential-store KIND  keychain (Secret Service) or file ($XDG_CONFIG_HOME/bstscan/credentials.json);\n"
    "                           default: the keychain when one is running, else the file\n"
    "  --oidc                   use CI workload identity (GitHub Actions: needs id-token: write)\n"
    "  --oidc-env VAR           take the ID token from the variable VAR (GitLab CI id_tokens)\n"
    "  --oidc-token-file PATH   take the ID token from a file\n"
    "  --oidc-audience AUD      audience to ask the CI provider for (default: the server URL)\n"
    "  -v, --verbose            log HTTP requests to standard error (Authorization redacted)\n"
    "  -h, --help               show this help\n";

enum {
	OPT_SERVER = 1000,
	OPT_SCOPES,
	OPT_NO_BROWSER,
	OPT_CLIENT_ID,
	OPT_STORE,
	OPT_OIDC,
	OPT_OIDC_ENV,
	OPT_OIDC_FILE,
	OPT_OIDC_AUD
};

typedef struct auth_args {
	const char *server, *scopes, *client_id, *oidc_env, *oidc_file, *oidc_aud;
	bs_store_kind store;
	int no_browser, oidc, verbose;
} auth_args;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int is_interrupted(void *ctx)
{
	(void)ctx;
	return interrupted != 0;
}

static void log_line(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "* %s\n", line);
}

static int parse_args(auth_args *a, int argc, char **argv, const char *sub)
{
	static const struct option longopts[] = {
	    {"server", required_argument, NULL, OPT_SERVER},
	    {"scopes", required_argument, NULL, OPT_SCOPES},
	    {"no-browser", no_argument, NULL, OPT_NO_BROWSER},
	    {"client-id", required_argument, NULL, OPT_CLIENT_ID},
	    {"credential-store", required_argument, NULL, OPT_STORE},
	    {"oidc", no_argument, NULL, OPT_OIDC},
	    {"oidc-env", required_argument, NULL, OPT_OIDC_ENV},
	    {"oidc-token-file", required_argument, NULL, OPT_OIDC_FILE},
	    {"oidc-audience", required_argument, NULL, OPT_OIDC_AUD},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	memset(a, 0, sizeof(*a));
	while ((c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SERVER:
			a->server = optarg;
			break;
		case OPT_SCOPES:
			a->scopes = optarg;
			break;
		case OPT_NO_BROWSER:
			a->no_browser = 1;
			break;
		case OPT_CLIENT_ID:
			a->client_id = optarg;
			break;
		case OPT_STORE:
			if (!strcmp(optarg, "keychain"))
				a->store = BS_STORE_KEYCHAIN;
			else if (!strcmp(optarg, "file"))
				a->store = BS_STORE_FILE;
			else
				return cli_usage_error(
				    "auth", "--credential-store must be 'keychain' or 'file', not '%s'", optarg);
			break;
		case OPT_OIDC:
			a->oidc = 1;
			break;
		case OPT_OIDC_ENV:
			a->oidc_env = optarg, a->oidc = 1;
			break;
		case OPT_OIDC_FILE:
			a->oidc_file = optarg, a->oidc = 1;
			break;
		case OPT_OIDC_AUD:
			a->oidc_aud = optarg;
			break;
		case 'v':
			a->verbose = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return -1;
		case ':':
			return cli_usage_error("auth", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("auth", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("auth", "unexpected argument '%s' for '%s'", argv[optind], sub);
	if ((a->scopes || a->no_browser || a->oidc) && strcmp(sub, "login") != 0)
		return cli_usage_error("auth", "--scopes, --no-browser and --oidc* belong to 'auth login'");
	return 0;
}

/* "a,b c" -> "a b c", the OAuth scope syntax (RFC 6749 §3.3). */
static char *scope_string(const char *list)
{
	bs_buf b = BS_BUF_INIT;
	const char *p = list;
	while (*p) {
		size_t n;
		while (*p == ',' || *p == ' ')
			p++;
		n = strcspn(p, ", ");
		if (n) {
			if (b.len)
				bs_buf_addch(&b, ' ');
			bs_buf_add(&b, p, n);
		}
		p += n;
	}
	return bs_buf_detach(&b, NULL);
}

static int open_session(bs_auth_session **s, bs_http **http, const auth_args *a, int stored_only, bs_error *err)
{
	char *server = NULL;
	bs_auth_options o = {0};
	char *scope = a->scopes ? scope_string(a->scopes) : NULL;
	int rc;
	*s = NULL;
	if ((rc = bs_auth_resolve_server(&server, a->server, err)) < 0)
		goto out;
	if ((rc = bs_http_new(http, NULL, err)) < 0)
		goto out;
	if (a->verbose)
		bs_http_set_log(*http, log_line, NULL);
	bs_http_set_cancel(*http, is_interrupted, NULL);
	o.server = server;
	o.client_id = a->client_id;
	o.store = a->store;
	o.stored_only = stored_only;
	o.workload = a->oidc;
	o.oidc_env = a->oidc_env;
	o.oidc_token_file = a->oidc_file;
	o.oidc_audience = a->oidc_aud;
	o.scope = scope;
	o.http = *http;
	rc = bs_auth_session_open(s, &o, err);
out:
	free(server);
	free(scope);
	return rc;
}

static void print_warning(bs_auth_session *s)
{
	const char *w = s ? bs_auth_session_warning(s) : NULL;
	if (w)
		cli_warn("%s", w);
}

/* Text from the server (codes, URLs, names) printed safely: a hostile server must not be able to
 * send escape sequences to the terminal. Returns a static buffer, valid until the next call. */
static const char *safe(const char *text)
{
	static bs_buf b = BS_BUF_INIT;
	const unsigned char *p = (const unsigned char *)(text ? text : "");
	bs_buf_reset(&b);
	for (; *p && b.len < 2000; p++) {
		if (*p < 0x20 || *p == 0x7f)
			bs_buf_addch(&b, '?');
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			bs_buf_addch(&b, '?'), p++; /* C1 controls (U+0080..U+009F), CSI among them */
		else
			bs_buf_addch(&b, *p);
	}
	return b.ptr;
}

/* ---- the browser ---- */

/* A browser can show up only in a local graphical session: not over SSH, not headless. */
static int desktop_session(void)
{
	const char *d = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
	if (getenv("SSH_CONNECTION") || getenv("SSH_TTY") || getenv("SSH_CLIENT"))
		return 0;
	return (d && *d) || (w && *w);
}

/* Starts xdg-open detached (double fork, so it never becomes our zombie and never blocks us).
 * Failure is only a missed convenience: the URL is on screen. */
static void open_browser(const char *url)
{
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		char *argv[] = {"xdg-open", (char *)url, NULL};
		posix_spawn_file_actions_t fa;
		pid_t child;
		setsid();
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
		posix_spawnp(&child, "xdg-open", &fa, NULL, argv, environ);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

/* ---- login ---- */

typedef struct login_ui {
	int tty;
	int browser;
	int ticking;
} login_ui;

static void ui_show(void *ctx, const bs_device_prompt *p)
{
	login_ui *u = ctx;
	const char *to_open = p->verification_uri_complete ? p->verification_uri_complete : p->verification_uri;
	fprintf(stderr, "To log in, open %s in a browser ", safe(p->verification_uri));
	fprintf(stderr, "and enter the code:\n\n    %s\n\n", safe(p->user_code));
	if (p->verification_uri_complete)
		fprintf(stderr, "Or open this link, which fills in the code: %s\n", safe(p->verification_uri_complete));
	/* Only web URLs bstscan itself would talk to go to xdg-open, never file: or other handlers. */
	if (u->browser && bs_http_check_url(to_open, NULL) == 0) {
		open_browser(to_open);
		fprintf(stderr, "(A browser window should open; if it does not, use the link above.)\n");
	}
	if (!u->tty)
		fprintf(stderr, "Waiting for approval (the code expires in %ld min)...\n", (p->expires_in + 59) / 60);
	fflush(stderr);
}

static void ui_tick(void *ctx, long left)
{
	login_ui *u = ctx;
	if (!u->tty)
		return;
	if (left < 0)
		left = 0;
	fprintf(stderr, "\rWaiting for approval... %ld:%02ld left (Ctrl-C to cancel) ", left / 60, left % 60);
	fflush(stderr);
	u->ticking = 1;
}

static void ui_notice(void *ctx, const char *msg)
{
	login_ui *u = ctx;
	if (u->ticking)
		fputc('\n', stderr);
	u->ticking = 0;
	fprintf(stderr, "%s\n", msg);
}

static int ui_cancelled(void *ctx)
{
	(void)ctx;
	return interrupted != 0;
}

static int login_oidc(bs_auth_session *s)
{
	bs_auth_me me;
	bs_error err = BS_ERROR_INIT;
	if (bs_auth_session_me(s, &me, &err) < 0)
		return cli_fatal(&err);
	fprintf(stderr, "Workload identity works: authenticated to %s as %s", bs_auth_session_server(s),
	        safe(me.name ? me.name : me.sub));
	if (me.name)
		fprintf(stderr, " (%s)", safe(me.sub));
	fputs(".\n", stderr);
	fprintf(stderr, "The access token is kept in memory only; set BSTSCAN_OIDC=1 in the job so every bstscan "
	                "command uses it.\n");
	if (me.scopes)
		fprintf(stderr, "Scopes: %s\n", safe(me.scopes));
	bs_auth_me_free(&me);
	return 0;
}

static int cmd_login(const auth_args *a)
{
	bs_auth_session *s = NULL;
	bs_http *http = NULL;
	bs_error err = BS_ERROR_INIT;
	struct sigaction sa, old;
	login_ui u = {isatty(2), 0, 0};
	bs_device_ui ui = {ui_show, ui_tick, ui_notice, ui_cancelled, NULL, NULL, &u};
	const char *tok = getenv("BSTSCAN_TOKEN");
	char *scope;
	int rc;

	if (tok && *tok) {
		cli_error("BSTSCAN_TOKEN is set, and it takes precedence over any login: the new login would not be "
		          "used. Unset BSTSCAN_TOKEN first (unset BSTSCAN_TOKEN), then run bstscan auth login.");
		return CLI_EXIT_ERROR;
	}
	u.browser = !a->no_browser && desktop_session();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);

	if (open_session(&s, &http, a, !a->oidc, &err) < 0) {
		rc = cli_fatal(&err);
		goto out;
	}
	if (a->oidc) {
		rc = login_oidc(s);
		goto out;
	}
	print_warning(s);
	scope = scope_string(a->scopes ? a->scopes : "leaks:check,leaks:revoke");
	rc = bs_auth_session_login(s, scope, &ui, &err);
	free(scope);
	if (u.ticking)
		fputc('\n', stderr);
	if (rc == BS_ERR_CANCELLED) {
		fprintf(stderr, "Login cancelled.\n");
		rc = 130;
		goto out;
	}
	if (rc < 0) {
		rc = cli_fatal(&err);
		goto out;
	}
	{
		bs_auth_me me;
		bs_error merr = BS_ERROR_INIT;
		const char *where = bs_auth_session_source(s) == BS_AUTH_SOURCE_KEYCHAIN ? "the keychain" : "";
		bs_buf loc = BS_BUF_INIT;
		bs_buf_adds(&loc, *where ? where : "the credentials file");
		if (bs_auth_session_me(s, &me, &merr) == 0) {
			fprintf(stderr, "Logged in to %s as %s. Credentials saved in %s.\n", bs_auth_session_server(s),
			        safe(me.name ? me.name : me.sub), loc.ptr);
			bs_auth_me_free(&me);
		} else {
			fprintf(stderr, "Logged in to %s. Credentials saved in %s.\n", bs_auth_session_server(s),
			        loc.ptr);
		}
		bs_buf_free(&loc);
	}
	rc = 0;
out:
	sigaction(SIGINT, &old, NULL);
	bs_auth_session_close(s);
	bs_http_free(http);
	return rc;
}

/* ---- status, token, logout ---- */

static void describe_expiry(FILE *f, time_t exp)
{
	char when[BS_RFC3339_LEN];
	long left = (long)(exp - time(NULL));
	if (!exp) {
		fprintf(f, "  Expires:    unknown (a personal access token, or no expiry given)\n");
		return;
	}
	bs_time_format_rfc3339(exp, when);
	if (left <= 0)
		fprintf(f, "  Expires:    %s (expired; it will be refreshed on next use)\n", when);
	else
		fprintf(f, "  Expires:    %s (in %ld min %ld s)\n", when, left / 60, left % 60);
}

static int cmd_status(const auth_args *a)
{
	bs_auth_session *s = NULL;
	bs_http *http = NULL;
	bs_error err = BS_ERROR_INIT;
	bs_auth_me me;
	bs_auth_source src;
	int rc;
	if (open_session(&s, &http, a, 0, &err) < 0) {
		rc = cli_fatal(&err);
		goto out;
	}
	print_warning(s);
	src = bs_auth_session_source(s);
	printf("%s\n", bs_auth_session_server(s));
	if (src == BS_AUTH_SOURCE_NONE) {
		printf("  Not logged in. Run: bstscan auth login (or set BSTSCAN_TOKEN)\n");
		rc = CLI_EXIT_ERROR;
		goto out;
	}
	printf("  Credential: %s\n", bs_auth_source_name(src));
	rc = bs_auth_session_me(s, &me, &err);
	if (rc < 0) {
		fflush(stdout);
		rc = cli_fatal(&err);
		goto out;
	}
	printf("  Account:    %s", safe(me.name ? me.name : me.sub));
	if (me.name)
		printf(" (%s)", safe(me.sub));
	printf("\n  Scopes:     %s\n", safe(me.scopes                  ? me.scopes
	                                    : bs_auth_session_scope(s) ? bs_auth_session_scope(s)
	                                                               : "?"));
	describe_expiry(stdout, bs_auth_session_expires_at(s));
	bs_auth_me_free(&me);
	rc = 0;
out:
	bs_auth_session_close(s);
	bs_http_free(http);
	return rc;
}

static int cmd_token(const auth_args *a)
{
	bs_auth_session *s = NULL;
	bs_http *http = NULL;
	bs_error err = BS_ERROR_INIT;
	bs_buf tok = BS_BUF_INIT;
	int rc;
	if (open_session(&s, &http, a, 0, &err) < 0 || bs_auth_bearer(s, &tok, &err) < 0) {
		print_warning(s);
		rc = cli_fatal(&err);
		goto out;
	}
	print_warning(s);
	/* Printing the token is this command's purpose; it goes to stdout only. */
	fwrite(tok.ptr, 1, tok.len, stdout);
	fputc('\n', stdout);
	rc = fflush(stdout) == 0 ? 0 : CLI_EXIT_ERROR;
out:
	bs_buf_free_secure(&tok);
	bs_auth_session_close(s);
	bs_http_free(http);
	return rc;
}

static int cmd_logout(const auth_args *a)
{
	bs_auth_session *s = NULL;
	bs_http *http = NULL;
	bs_error err = BS_ERROR_INIT, rerr = BS_ERROR_INIT;
	const char *tok = getenv("BSTSCAN_TOKEN");
	int revoked = 0, rc;
	if (open_session(&s, &http, a, 1, &err) < 0) {
		rc = cli_fatal(&err);
		goto out;
	}
	rc = bs_auth_session_logout(s, &revoked, &rerr, &err);
	if (rc == BS_ERR_NOTFOUND) {
		fprintf(stderr, "Not logged in to %s; nothing to do.\n", bs_auth_session_server(s));
		rc = 0;
	} else if (rc < 0) {
		rc = cli_fatal(&err);
	} else if (revoked) {
		fprintf(stderr,
		        "Logged out of %s: the session was revoked at the server and the local credentials "
		        "deleted.\n",
		        bs_auth_session_server(s));
	} else {
		fprintf(stderr,
		        "Logged out locally: the credentials were deleted, but the session could not be revoked at "
		        "the server (%s). It stays valid there until it expires.\n",
		        rerr.message[0] ? rerr.message : "unknown error");
	}
	if (tok && *tok)
		cli_warn("BSTSCAN_TOKEN is still set; bstscan keeps using it until you unset it");
out:
	bs_auth_session_close(s);
	bs_http_free(http);
	return rc;
}

int cmd_auth(int argc, char **argv)
{
	auth_args a;
	const char *sub;
	int rc;
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_ERROR : 0;
	}
	sub = argv[1];
	if (strcmp(sub, "login") && strcmp(sub, "status") && strcmp(sub, "token") && strcmp(sub, "logout"))
		return cli_usage_error("auth", "unknown subcommand '%s' (login, status, token, logout)", sub);
	optind = 1;
	opterr = 0;
	rc = parse_args(&a, argc - 1, argv + 1, sub);
	if (rc < 0)
		return 0;
	if (rc > 0)
		return rc;
	if (!strcmp(sub, "login"))
		return cmd_login(&a);
	if (!strcmp(sub, "status"))
		return cmd_status(&a);
	if (!strcmp(sub, "token"))
		return cmd_token(&a);
	return cmd_logout(&a);
}
