/* Findings: one secret found at one place, and the list that collects them.
 *
 * A finding owns all its strings. The raw secret is kept in memory only so
 * that --show-secret can print it; bs_finding_free() wipes it. Reporters
 * must never print `secret` unless asked to.
 */
#ifndef BS_SCANNER_FINDING_H
#define BS_SCANNER_FINDING_H

#include <stddef.h>
#include <stdint.h>

#include "common/secure.h"
#include "scanner/rule.h"

/* How many leading characters of a secret the redacted form keeps: what the
 * issuer's dashboard shows as token_prefix. */
#define BS_REDACT_PREFIX 12

/* Where a git finding came from (scanner/source_git.c fills it). */
typedef struct bs_git_provenance {
	char *repository;   /* path or URL as given by the user */
	char *commit;       /* hex id of the commit that introduced it */
	char *author_name;
	char *author_email;
	char *date;         /* RFC 3339 */
	char *summary;      /* first line of the commit message */
	int in_head;        /* still present in HEAD's tree */
	int reachable;      /* reachable from a ref (0 with --all-objects extras) */
	char *blob;         /* hex id of the blob, when from a blob */
} bs_git_provenance;

/* What the issuer said of the token (revoke/ fills it; status NULL = not checked). */
typedef struct bs_check_result {
	char *status;       /* "active", "revoked", "expired", "unknown", "unchecked" */
	char *name;
	char *owner;
	char *expires_at;
	char *last_used_at;
	char *revoke_outcome; /* "revoked", "already_revoked", "expired", "unknown", "failed" */
} bs_check_result;

typedef struct bs_finding {
	char *rule_id;
	char *rule_description;
	bs_severity severity;
	int issuer;          /* the issuer can check/revoke it */
	int invalid;         /* failed a validator (only kept with --report-invalid) */
	char *invalid_reason; /* the validator that failed */
	char *path;          /* "" for commit and tag messages */
	uint64_t line;       /* 1-based */
	uint64_t column;     /* 1-based, in bytes */
	uint64_t offset;     /* 0-based byte offset of the secret */
	char *secret;        /* raw bytes, NUL-terminated; NEVER printed without --show-secret */
	size_t secret_len;
	char *redacted;      /* first BS_REDACT_PREFIX characters then "…" (UTF-8) */
	char token_hash[BS_SHA256_HEX_LEN + 1];  /* SHA-256 hex of the secret */
	char fingerprint[BS_SHA256_HEX_LEN + 1]; /* SHA-256 hex of rule_id, token_hash, path */
	int binary;          /* the content holds NUL bytes */
	char *line_text;     /* the line, secret replaced by its redacted form, valid UTF-8, bounded */
	bs_git_provenance *git;  /* NULL unless from git */
	bs_check_result *check;  /* NULL unless --check ran */
} bs_finding;

void bs_finding_free(bs_finding *f);
/* Sets hash, fingerprint and redacted from rule_id, secret and path. */
void bs_finding_compute_ids(bs_finding *f);
/* The redacted form of a secret: a heap string (first BS_REDACT_PREFIX
 * bytes, or half of a shorter secret, then "…"). Non-printable bytes become '?'. */
char *bs_redact(const char *secret, size_t len);

typedef struct bs_findings {
	bs_finding **items;
	size_t len;
	size_t cap;
} bs_findings;

#define BS_FINDINGS_INIT { NULL, 0, 0 }

void bs_findings_push(bs_findings *fs, bs_finding *f);
/* Moves every finding of src to the end of dst; src ends empty. */
void bs_findings_move(bs_findings *dst, bs_findings *src);
/* Sorts by repository, path, offset, rule id, commit: deterministic output. */
void bs_findings_sort(bs_findings *fs);
/* Removes findings for which drop(f, ud) is nonzero (freeing them). */
void bs_findings_remove_if(bs_findings *fs, int (*drop)(const bs_finding *, void *), void *ud);
void bs_findings_free(bs_findings *fs);

#endif
