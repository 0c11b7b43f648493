/* The literal prefilter: finds every occurrence of any rule keyword in a
 * buffer, fast, so that regexes only run in small windows around hits.
 *
 * Built once from the keyword set; read-only afterwards, so one prefilter
 * may be used by any number of threads at once.
 */
#ifndef BS_SCANNER_PREFILTER_H
#define BS_SCANNER_PREFILTER_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct bs_prefilter bs_prefilter;

/* keywords[i] has lens[i] bytes (1 or more; any byte values). nocase may be
 * NULL; nocase[i] != 0 makes keyword i match without regard to ASCII case.
 * Duplicate keywords are allowed and each is reported under its own index. */
int bs_prefilter_new(bs_prefilter **out, const char *const *keywords, const size_t *lens, const int *nocase,
		     size_t n, bs_error *err);
void bs_prefilter_free(bs_prefilter *pf);

/* Called for each occurrence: index of the keyword, offset of its first byte.
 * Return nonzero to stop the scan (bs_prefilter_scan then returns that value). */
typedef int (*bs_prefilter_cb)(void *ud, size_t keyword_index, size_t offset);

/* Reports every occurrence of every keyword that lies wholly inside
 * buf[0, len), in ascending order of offset (ties in any order). Overlapping
 * occurrences are all reported. Returns 0, or the callback's nonzero value. */
int bs_prefilter_scan(const bs_prefilter *pf, const uint8_t *buf, size_t len, bs_prefilter_cb cb, void *ud);

/* A short name of the search strategy chosen (for --verbose and benchmarks):
 * "teddy-avx512vbmi", "teddy-avx2", "teddy-ssse3" or "teddy-neon" (SIMD
 * fingerprints of the first four bytes of each keyword in 8 buckets, then
 * exact verification; the AVX-512 VBMI one looks whole bytes up instead of
 * nibble pairs; x86 picks at run time from what the CPU supports) or
 * "scalar-hash" (portable; also used when there are so many keywords that the
 * SIMD buckets would fire almost everywhere). The environment variable
 * BSTSCAN_PREFILTER=scalar|ssse3|avx2|avx512|neon, read by
 * bs_prefilter_new, forces one (for tests and benchmarks); a SIMD strategy the
 * CPU lacks falls back to the next best. Results never depend on the strategy. */
const char *bs_prefilter_strategy(const bs_prefilter *pf);

#endif
