#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "scanner/prefilter.h"
#include "common/banned.h"

/* First version: a table from first byte to the keywords that can start with
 * it, then an exact comparison at every offset. Obviously correct; the SIMD
 * strategy replaces the candidate search later. */

typedef struct pf_keyword {
	uint8_t *bytes; /* lowercased when nocase */
	size_t len;
	int nocase;
} pf_keyword;

struct bs_prefilter {
	pf_keyword *kw;
	size_t n;
	/* by_first[first[b] .. first[b+1]) lists keyword indices whose first byte may be b. */
	uint32_t first[257];
	uint32_t *by_first;
	const char *strategy;
};

static inline uint8_t fold(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static int keyword_matches(const pf_keyword *k, const uint8_t *p)
{
	if (!k->nocase)
		return memcmp(k->bytes, p, k->len) == 0;
	for (size_t i = 0; i < k->len; i++)
		if (fold(p[i]) != k->bytes[i])
			return 0;
	return 1;
}

static int keyword_starts_with(const pf_keyword *k, unsigned b)
{
	return k->nocase ? fold((uint8_t)b) == k->bytes[0] : k->bytes[0] == b;
}

int bs_prefilter_new(bs_prefilter **out, const char *const *keywords, const size_t *lens, const int *nocase,
		     size_t n, bs_error *err)
{
	*out = NULL;
	if (n > UINT32_MAX / 2)
		return bs_error_set(err, BS_ERR_USAGE, "too many prefilter keywords (%zu)", n);
	for (size_t i = 0; i < n; i++)
		if (lens[i] == 0 || !keywords[i])
			return bs_error_set(err, BS_ERR_USAGE, "prefilter keyword %zu is empty", i);

	bs_prefilter *pf = bs_xcalloc(1, sizeof(*pf));
	pf->n = n;
	pf->kw = bs_xcalloc(n ? n : 1, sizeof(*pf->kw));
	for (size_t i = 0; i < n; i++) {
		pf_keyword *k = &pf->kw[i];
		k->len = lens[i];
		k->nocase = nocase && nocase[i];
		k->bytes = (uint8_t *)bs_xmemdup(keywords[i], lens[i]);
		if (k->nocase)
			for (size_t j = 0; j < k->len; j++)
				k->bytes[j] = fold(k->bytes[j]);
	}

	size_t total = 0;
	for (unsigned b = 0; b < 256; b++) {
		pf->first[b] = (uint32_t)total;
		for (size_t i = 0; i < n; i++)
			total += keyword_starts_with(&pf->kw[i], b);
	}
	pf->first[256] = (uint32_t)total;
	pf->by_first = bs_xmalloc((total ? total : 1) * sizeof(*pf->by_first));
	size_t at = 0;
	for (unsigned b = 0; b < 256; b++)
		for (size_t i = 0; i < n; i++)
			if (keyword_starts_with(&pf->kw[i], b))
				pf->by_first[at++] = (uint32_t)i;
	pf->strategy = "scalar-firstbyte";
	*out = pf;
	return 0;
}

void bs_prefilter_free(bs_prefilter *pf)
{
	if (!pf)
		return;
	for (size_t i = 0; i < pf->n; i++)
		free(pf->kw[i].bytes);
	free(pf->kw);
	free(pf->by_first);
	free(pf);
}

int bs_prefilter_scan(const bs_prefilter *pf, const uint8_t *buf, size_t len, bs_prefilter_cb cb, void *ud)
{
	for (size_t i = 0; i < len; i++) {
		uint32_t lo = pf->first[buf[i]], hi = pf->first[buf[i] + 1];
		for (uint32_t j = lo; j < hi; j++) {
			const pf_keyword *k = &pf->kw[pf->by_first[j]];
			if (k->len <= len - i && keyword_matches(k, buf + i)) {
				int rc = cb(ud, pf->by_first[j], i);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

const char *bs_prefilter_strategy(const bs_prefilter *pf)
{
	return pf->strategy;
}
