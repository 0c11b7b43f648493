/* What `scan --check/--revoke`, `git --check/--revoke` and `bstscan revoke` share: opening the
 * issuer client, describing a token for the person about to revoke it, and asking them. */
#ifndef BS_CLI_CHECK_REVOKE_H
#define BS_CLI_CHECK_REVOKE_H

#include "auth/auth.h"
#include "common/error.h"
#include "revoke/leaks.h"

typedef struct cli_issuer {
	char *server;
	bs_http *http;
	bs_auth_session *session;
	bs_leaks_client *client;
} cli_issuer;

/* Resolves the server (--server, BSTSCAN_SERVER, config), opens the credential session and the
 * leaks client; verbose logs each HTTP request on stderr (Authorization redacted). On error
 * everything is released and err says why. */
int cli_issuer_open(cli_issuer *is, const char *server_flag, int verbose, bs_error *err);
void cli_issuer_close(cli_issuer *is);

typedef enum cli_confirm_result {
	CLI_CONFIRM_YES = 0,
	CLI_CONFIRM_NO = 1,    /* the person said no */
	CLI_CONFIRM_NO_TTY = 2 /* no terminal to ask on and no --yes: refused */
} cli_confirm_result;

/* --yes answers yes; otherwise asks `question [y/N]` on the terminal (stdin and stderr must be
 * TTYs). */
cli_confirm_result cli_confirm(const char *question, int yes);

/* After the list of what would be revoked: says so and returns 0 for --dry-run or a "no",
 * refuses with a message and returns -1 (exit 2) without a terminal or --yes, and returns 1
 * when revoking may go ahead. */
int cli_revoke_go_ahead(int dry_run, int yes);

#endif
