/* The scan engine: prefilter -> regex window -> validators -> finding.
 *
 * A bs_scanner is built once from a rule set and is then read-only: share it
 * between threads. Each thread scans through its own bs_scan_ctx. Content is
 * fed as a stream of pieces of any size (a file read in chunks, a git blob,
 * stdin); the context keeps a bounded window with enough overlap for the
 * longest match, so memory stays bounded whatever the content size and a
 * secret straddling two pieces is found exactly once.
 *
 *   bs_scan_begin(ctx, &input);
 *   while (more) bs_scan_feed(ctx, data, n, &err);
 *   bs_scan_end(ctx, &findings, &err);   // this content's findings, in offset order
 */
#ifndef BS_SCANNER_ENGINE_H
#define BS_SCANNER_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "scanner/finding.h"
#include "scanner/rule.h"

typedef struct bs_scanner bs_scanner;
typedef struct bs_scan_ctx bs_scan_ctx;

typedef struct bs_scanner_opts {
	int report_invalid;  /* keep validator failures as low-severity findings */
	size_t chunk_size;   /* bytes scanned per step; 0 = default (1 MiB) */
} bs_scanner_opts;

/* The scanner borrows rs, which must outlive it. */
int bs_scanner_new(bs_scanner **out, bs_ruleset *rs, const bs_scanner_opts *opts, bs_error *err);
void bs_scanner_free(bs_scanner *s);
const bs_ruleset *bs_scanner_rules(const bs_scanner *s);

int bs_scan_ctx_new(bs_scan_ctx **out, bs_scanner *s, bs_error *err);
void bs_scan_ctx_free(bs_scan_ctx *ctx);

typedef struct bs_scan_input {
	const char *path;       /* label copied into findings ("" for commit messages) */
	uint64_t first_line;    /* line number of the first byte fed (0 means 1) */
	uint64_t base_offset;   /* offset reported for the first byte fed */
	/* Called for each finding before it is kept; may fill f->git, or return
	 * nonzero to drop it. May be NULL. */
	int (*on_finding)(void *ud, bs_finding *f);
	void *ud;
} bs_scan_input;

void bs_scan_begin(bs_scan_ctx *ctx, const bs_scan_input *input);
/* Feeds the next piece of content. Returns 0; a rule whose regex fails to
 * compile is skipped and noted in bs_scan_ctx_warnings(), the scan goes on. */
int bs_scan_feed(bs_scan_ctx *ctx, const void *data, size_t len, bs_error *err);
/* Zero-copy feeding: bs_scan_feed_reserve() returns room for at least want
 * bytes at the end of the context's window; the caller writes (reads) up to
 * want bytes there and passes how many with bs_scan_feed_commit(). The
 * pointer is valid only until the commit. */
void *bs_scan_feed_reserve(bs_scan_ctx *ctx, size_t want);
int bs_scan_feed_commit(bs_scan_ctx *ctx, size_t len, bs_error *err);
/* Flushes the tail of the content and appends its findings to out, in offset
 * order, each marked binary when the content has a NUL byte in its first
 * 8000 bytes (as git and ripgrep decide). Findings on a line that carries the
 * marker "bstscan:allow" within 320 bytes of the secret are dropped (bounded
 * so that streaming and chunking never change it). */
int bs_scan_end(bs_scan_ctx *ctx, bs_findings *out, bs_error *err);

/* Convenience: begin, feed the whole buffer, end. */
int bs_scan_buffer(bs_scan_ctx *ctx, const bs_scan_input *input, const void *data, size_t len, bs_findings *out,
		   bs_error *err);

/* Rule compile errors met so far by this context (a rule with a bad regex is
 * skipped, not fatal): appended one per line. */
const char *bs_scan_ctx_warnings(const bs_scan_ctx *ctx);

#endif
