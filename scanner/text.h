/* Text helpers for findings: bounded, redacted, valid UTF-8 line excerpts.
 * Pure functions, thread-safe. */
#ifndef BS_SCANNER_TEXT_H
#define BS_SCANNER_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef struct bs_text_range {
	size_t start, end; /* [start, end) in the same coordinates as the excerpt's buffer */
} bs_text_range;

/* The line base[ls, le) around the secret [ss, se): at most context bytes on
 * each side of the secret, a trailing '\r' dropped, every range in secrets
 * replaced by its redacted form, "…" where the line was cut (cut_before says
 * the line began before ls), invalid UTF-8 and control characters replaced.
 * Returns a heap string. */
char *bs_text_line_excerpt(const uint8_t *base, size_t ls, size_t le, size_t ss, size_t se, size_t context,
			   const bs_text_range *secrets, size_t n_secrets, int cut_before);

/* Appends bytes to out as valid UTF-8: invalid sequences become U+FFFD and
 * control characters other than tab become U+FFFD too. */
void bs_text_add_sanitized(bs_buf *out, const uint8_t *p, size_t len);

#endif
