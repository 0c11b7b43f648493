#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "scanner/prefilter.h"

/* Every result of the prefilter is compared with a naive reference: every
 * keyword at every offset. Seeds are fixed so a failure reproduces. */

typedef struct hit {
	size_t off;
	size_t idx;
} hit;

typedef struct hits {
	hit *v;
	size_t n, cap;
	int unordered;     /* set when an offset came before the previous one */
	size_t stop_after; /* return 7 from the callback at this hit number (0: never) */
} hits;

static int collect(void *ud, size_t idx, size_t off)
{
	hits *h = ud;
	if (h->n && off < h->v[h->n - 1].off)
		h->unordered = 1;
	BS_ARRAY_GROW(h->v, h->cap, h->n + 1);
	h->v[h->n].off = off;
	h->v[h->n].idx = idx;
	h->n++;
	if (h->stop_after && h->n == h->stop_after)
		return 7;
	return 0;
}

static int hit_cmp(const void *a, const void *b)
{
	const hit *x = a, *y = b;
	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static void reference(hits *h, const char *const *kw, const size_t *lens, const int *nocase, size_t n,
                      const uint8_t *buf, size_t len)
{
	for (size_t off = 0; off < len; off++)
		for (size_t i = 0; i < n; i++) {
			if (lens[i] > len - off)
				continue;
			size_t j = 0;
			if (nocase && nocase[i])
				while (j < lens[i] && lower(buf[off + j]) == lower((uint8_t)kw[i][j]))
					j++;
			else
				while (j < lens[i] && buf[off + j] == (uint8_t)kw[i][j])
					j++;
			if (j == lens[i])
				collect(h, i, off);
		}
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: small, deterministic, good enough for test data. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* The strategies the test forces through BSTSCAN_PREFILTER; "auto" lets the
 * prefilter choose. */
static const char *const strategies[] = {"scalar", "ssse3", "avx2", "avx512", "neon", "auto"};
#define N_STRATEGIES (sizeof(strategies) / sizeof(strategies[0]))

static bs_prefilter *make_pf(const char *strategy, const char *const *kw, const size_t *lens, const int *nocase,
                             size_t n)
{
	bs_prefilter *pf = NULL;
	bs_error err = BS_ERROR_INIT;
	setenv("BSTSCAN_PREFILTER", strategy, 1);
	int rc = bs_prefilter_new(&pf, kw, lens, nocase, n, &err);
	unsetenv("BSTSCAN_PREFILTER");
	cr_assert_eq(rc, 0, "bs_prefilter_new: %s", err.message);
	cr_assert_not_null(pf);
	const char *name = bs_prefilter_strategy(pf);
	cr_assert_not_null(name);
	/* A forced strategy must be the one used whenever the CPU can run it, so
	 * that each code path really is tested on a machine that has it. */
	if (strcmp(strategy, "scalar") == 0)
		cr_assert_str_eq(name, "scalar-hash");
#if defined(__x86_64__) || defined(__i386__)
	if (strcmp(strategy, "ssse3") == 0 && __builtin_cpu_supports("ssse3"))
		cr_assert_str_eq(name, "teddy-ssse3");
	if (strcmp(strategy, "avx2") == 0 && __builtin_cpu_supports("avx2"))
		cr_assert_str_eq(name, "teddy-avx2");
	if (strcmp(strategy, "avx512") == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vbmi"))
		cr_assert_str_eq(name, "teddy-avx512vbmi");
#elif defined(__aarch64__)
	if (strcmp(strategy, "neon") == 0)
		cr_assert_str_eq(name, "teddy-neon");
#endif
	return pf;
}

/* Scans buf with pf and with the reference; asserts the same multiset of hits
 * and ascending offsets. */
static void check_scan(const bs_prefilter *pf, const char *const *kw, const size_t *lens, const int *nocase, size_t n,
                       const uint8_t *buf, size_t len, const char *what)
{
	hits got = {0}, want = {0};
	/* An exact-size heap copy, so that AddressSanitizer builds catch any read past the end. */
	uint8_t *exact = calloc(len ? len : 1, 1);
	cr_assert_not_null(exact);
	if (len)
		memcpy(exact, buf, len);
	int rc = bs_prefilter_scan(pf, exact, len, collect, &got);
	free(exact);
	cr_assert_eq(rc, 0);
	reference(&want, kw, lens, nocase, n, buf, len);
	cr_assert(!got.unordered, "%s (%s): offsets not ascending", what, bs_prefilter_strategy(pf));
	if (got.n)
		qsort(got.v, got.n, sizeof(hit), hit_cmp);
	if (want.n)
		qsort(want.v, want.n, sizeof(hit), hit_cmp);
	cr_assert_eq(got.n, want.n, "%s (%s), len %zu: %zu hits, want %zu", what, bs_prefilter_strategy(pf), len, got.n,
	             want.n);
	for (size_t i = 0; i < got.n; i++)
		cr_assert(got.v[i].off == want.v[i].off && got.v[i].idx == want.v[i].idx,
		          "%s (%s), len %zu: hit %zu is keyword %zu at %zu, want keyword %zu at %zu", what,
		          bs_prefilter_strategy(pf), len, i, got.v[i].idx, got.v[i].off, want.v[i].idx, want.v[i].off);
	free(got.v);
	free(want.v);
}

static void check_all_strategies(const char *const *kw, const size_t *lens, const int *nocase, size_t n,
                                 const uint8_t *buf, size_t len, const char *what)
{
	for (size_t s = 0; s < N_STRATEGIES; s++) {
		bs_prefilter *pf = make_pf(strategies[s], kw, lens, nocase, n);
		check_scan(pf, kw, lens, nocase, n, buf, len, what);
		bs_prefilter_free(pf);
	}
}

static size_t set_lens(size_t *lens, const char *const *kw, size_t n)
{
	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(kw[i]);
	return n;
}

static const char *const pack[] = {"bst_",
                                   "ghp_",
                                   "gho_",
                                   "ghu_",
                                   "ghs_",
                                   "ghr_",
                                   "github_pat_",
                                   "glpat-",
                                   "gldt-",
                                   "glrt-",
                                   "xoxb-",
                                   "xoxp-",
                                   "xoxa-",
                                   "xoxe-",
                                   "hooks.slack.com",
                                   "sk_live_",
                                   "rk_live_",
                                   "sk_test_",
                                   "npm_",
                                   "pypi-",
                                   "AKIA",
                                   "ASIA",
                                   "AIza",
                                   "sk-proj-",
                                   "T3BlbkFJ",
                                   "sk-ant-",
                                   "hf_",
                                   "shpat_",
                                   "shpss_",
                                   "shpca_",
                                   "shppa_",
                                   "dop_v1_",
                                   "doo_v1_",
                                   "dor_v1_",
                                   "dp.pt.",
                                   "dp.st.",
                                   "hvs.",
                                   "hvb.",
                                   "atlasv1",
                                   "dapi",
                                   "lin_api_",
                                   "PMAK-",
                                   "pul-",
                                   "glc_",
                                   "glsa_",
                                   "SG.",
                                   "AC",
                                   "SK",
                                   "key-",
                                   "ATATT",
                                   "sntrys_",
                                   "sntryu_",
                                   "pscale_tkn_",
                                   "sbp_",
                                   "figd_",
                                   "PRIVATE KEY-----"};
#define N_PACK (sizeof(pack) / sizeof(pack[0]))

Test(prefilter, empty_buffer_and_empty_keyword_set)
{
	const char *kw[] = {"abc"};
	size_t lens[] = {3};
	check_all_strategies(kw, lens, NULL, 1, (const uint8_t *)"", 0, "empty buffer");
	check_all_strategies(kw, lens, NULL, 0, (const uint8_t *)"abcabc", 6, "no keywords");
	for (size_t s = 0; s < N_STRATEGIES; s++) {
		bs_prefilter *pf = make_pf(strategies[s], kw, lens, NULL, 1);
		hits got = {0};
		cr_assert_eq(bs_prefilter_scan(pf, NULL, 0, collect, &got), 0);
		cr_assert_eq(got.n, 0);
		bs_prefilter_free(pf);
	}
}

Test(prefilter, rejects_empty_keyword)
{
	const char *kw[] = {"abc", ""};
	size_t lens[] = {3, 0};
	bs_prefilter *pf = NULL;
	bs_error err = BS_ERROR_INIT;
	cr_assert_eq(bs_prefilter_new(&pf, kw, lens, NULL, 2, &err), BS_ERR_USAGE);
	cr_assert_null(pf);
	cr_assert(strstr(err.message, "empty") != NULL);
}

Test(prefilter, overlapping_and_duplicates)
{
	const char *kw[] = {"aa", "aaa", "a", "aa", "ab"};
	size_t lens[5];
	set_lens(lens, kw, 5);
	const char *text = "aaaaab aab";
	check_all_strategies(kw, lens, NULL, 5, (const uint8_t *)text, strlen(text), "overlap");

	bs_prefilter *pf = make_pf("auto", kw, lens, NULL, 5);
	hits got = {0};
	cr_assert_eq(bs_prefilter_scan(pf, (const uint8_t *)"aa", 2, collect, &got), 0);
	/* "a" at 0 and 1, "aa" twice (indices 0 and 3) at 0. */
	cr_assert_eq(got.n, 4);
	qsort(got.v, got.n, sizeof(hit), hit_cmp);
	cr_assert(got.v[0].off == 0 && got.v[0].idx == 0);
	cr_assert(got.v[1].off == 0 && got.v[1].idx == 2);
	cr_assert(got.v[2].off == 0 && got.v[2].idx == 3);
	cr_assert(got.v[3].off == 1 && got.v[3].idx == 2);
	free(got.v);
	bs_prefilter_free(pf);
}

Test(prefilter, callback_stop_value_propagates)
{
	const char *kw[] = {"ab", "b"};
	size_t lens[] = {2, 1};
	uint8_t buf[1000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = "ab"[i % 2];
	for (size_t s = 0; s < N_STRATEGIES; s++) {
		bs_prefilter *pf = make_pf(strategies[s], kw, lens, NULL, 2);
		for (size_t stop = 1; stop < 40; stop += 3) {
			hits got = {0};
			got.stop_after = stop;
			cr_assert_eq(bs_prefilter_scan(pf, buf, sizeof(buf), collect, &got), 7);
			cr_assert_eq(got.n, stop, "%s: scan went on after the callback stopped it",
			             bs_prefilter_strategy(pf));
			free(got.v);
		}
		bs_prefilter_free(pf);
	}
}

Test(prefilter, case_insensitive_per_keyword)
{
	const char *kw[] = {"Key-", "key-", "PRIVATE KEY", "x@[`{z"};
	size_t lens[4];
	set_lens(lens, kw, 4);
	int nocase[] = {1, 0, 1, 1};
	const char *text = "KEY- key- kEy- private key PRIVATE KEY Private Key X@[`{Z x`{@[z x@[`{z";
	check_all_strategies(kw, lens, nocase, 4, (const uint8_t *)text, strlen(text), "nocase");
}

Test(prefilter, nul_and_high_bytes)
{
	const char *kw[] = {"\0\xff", "\xff", "a\0b", "\xff\xff\xff\xff\xff", "\0"};
	size_t lens[] = {2, 1, 3, 5, 1};
	int nocase[] = {1, 0, 0, 1, 0};
	uint8_t buf[300];
	static const uint8_t alpha[] = {0, 0xff, 'a', 'b'};
	for (uint64_t seed = 42; seed < 46; seed++) {
		rng_state = seed;
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = alpha[rnd() % (seed == 42 ? 4 : 2)];
		for (size_t len = 0; len <= sizeof(buf); len += 7)
			check_all_strategies(kw, lens, nocase, 5, buf + (sizeof(buf) - len), len, "nul/0xff");
	}
	/* Runs of one byte: every offset is a candidate. */
	for (size_t a = 0; a < sizeof(alpha); a++) {
		memset(buf, alpha[a], sizeof(buf));
		check_all_strategies(kw, lens, nocase, 5, buf, sizeof(buf), "run of one byte");
	}
}

/* Random buffers over small and large alphabets (and long runs of one byte)
 * with planted keywords at the start, the end and overlapping, for every length 0..300 (SIMD blocks are 16
 * and 32 bytes, so every tail shape is covered). */
/* Lengths 0 .. 300 one by one, then up to max_len in steps of step (the SIMD
 * loops work in segments of 2 KB). */
static void random_round_to(const char *const *kw, const size_t *lens, const int *nocase, size_t n, uint64_t seed,
                            size_t max_len, size_t step)
{
	uint8_t *buf = malloc(max_len + 64);
	cr_assert_not_null(buf);
	static const char small[] = "ab_-AKIghp";
	rng_state = seed;
	bs_prefilter *pfs[N_STRATEGIES];
	for (size_t s = 0; s < N_STRATEGIES; s++)
		pfs[s] = make_pf(strategies[s], kw, lens, nocase, n);
	for (size_t len = 0; len <= max_len; len += len < 300 ? 1 : step) {
		int alphabet = (int)(rnd() % 4);
		uint8_t run = "\0\xff"
		              "a_"[rnd() % 4];
		for (size_t i = 0; i < len; i++)
			buf[i] = alphabet == 0   ? (uint8_t)small[rnd() % (sizeof(small) - 1)]
			         : alphabet == 1 ? (uint8_t)(rnd() & 0xff)
			         : alphabet == 2 ? (uint8_t)(' ' + rnd() % 95)
			                         : (rnd() % 8 ? run : (uint8_t)small[rnd() % (sizeof(small) - 1)]);
		size_t plants = len ? rnd() % (6 + len / 64) : 0;
		for (size_t p = 0; p < plants; p++) {
			size_t k = rnd() % n;
			if (lens[k] > len)
				continue;
			size_t where = rnd() % 4 == 0   ? 0
			               : rnd() % 4 == 0 ? len - lens[k]
			                                : rnd() % (len - lens[k] + 1);
			for (size_t j = 0; j < lens[k]; j++) {
				uint8_t c = (uint8_t)kw[k][j];
				if (nocase && nocase[k] && (rnd() & 1) && c >= 'a' && c <= 'z')
					c = (uint8_t)(c - 32);
				else if (nocase && nocase[k] && (rnd() & 1) && c >= 'A' && c <= 'Z')
					c = (uint8_t)(c + 32);
				buf[where + j] = c;
			}
		}
		for (size_t s = 0; s < N_STRATEGIES; s++)
			check_scan(pfs[s], kw, lens, nocase, n, buf, len, "random");
	}
	for (size_t s = 0; s < N_STRATEGIES; s++)
		bs_prefilter_free(pfs[s]);
	free(buf);
}

static void random_round(const char *const *kw, const size_t *lens, const int *nocase, size_t n, uint64_t seed)
{
	random_round_to(kw, lens, nocase, n, seed, 300, 1);
}

Test(prefilter, random_rule_pack)
{
	size_t lens[N_PACK];
	int nocase[N_PACK];
	set_lens(lens, pack, N_PACK);
	for (size_t i = 0; i < N_PACK; i++)
		nocase[i] = strcmp(pack[i], "PRIVATE KEY-----") == 0 || strcmp(pack[i], "key-") == 0;
	for (uint64_t seed = 1; seed <= 6; seed++)
		random_round(pack, lens, seed % 2 ? nocase : NULL, N_PACK, seed);
}

Test(prefilter, rule_pack_gets_simd_strategy_when_cpu_has_it)
{
	/* The scanner's speed depends on it: a change to the bucket model that
	 * made the pack fall back to the scalar path would fail here. */
	size_t lens[N_PACK];
	set_lens(lens, pack, N_PACK);
	bs_prefilter *pf = make_pf("auto", pack, lens, NULL, N_PACK);
	const char *name = bs_prefilter_strategy(pf);
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vbmi"))
		cr_assert_str_eq(name, "teddy-avx512vbmi");
	else if (__builtin_cpu_supports("avx2"))
		cr_assert_str_eq(name, "teddy-avx2");
	else if (__builtin_cpu_supports("ssse3"))
		cr_assert_str_eq(name, "teddy-ssse3");
	else
		cr_assert_str_eq(name, "scalar-hash");
#elif defined(__aarch64__)
	cr_assert_str_eq(name, "teddy-neon");
#else
	cr_assert_str_eq(name, "scalar-hash");
#endif
	bs_prefilter_free(pf);
}

Test(prefilter, random_small_sets)
{
	/* Sets with short keywords, shared prefixes, duplicates and common bytes. */
	static const char *const sets[][6] = {
	    {"a", NULL},
	    {"ab", "b", NULL},
	    {"ghp_", "gh", "g", "ghp_", NULL},
	    {"AKI", "aki", "kIa", "_-", NULL},
	    {"-", "_", "--", "-_-", NULL},
	    {"abababab", "babababa", "ab", NULL},
	};
	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		size_t n = 0, lens[6];
		int nocase[6];
		while (sets[s][n]) {
			lens[n] = strlen(sets[s][n]);
			nocase[n] = (int)(n % 2);
			n++;
		}
		random_round(sets[s], lens, NULL, n, 100 + s);
		random_round(sets[s], lens, nocase, n, 200 + s);
	}
}

Test(prefilter, many_keywords)
{
	/* More keywords than any bucket scheme holds comfortably. */
	enum { N = 300 };
	char store[N][8];
	const char *kw[N];
	size_t lens[N];
	int nocase[N];
	rng_state = 777;
	for (size_t i = 0; i < N; i++) {
		lens[i] = 1 + rnd() % 7;
		if (lens[i] == 1 && rnd() % 4)
			lens[i] = 3;
		for (size_t j = 0; j < lens[i]; j++)
			store[i][j] = "ab_-AKIghp"[rnd() % 10];
		kw[i] = store[i];
		nocase[i] = (int)(rnd() % 2);
	}
	random_round(kw, lens, nocase, N, 9);
}

Test(prefilter, keywords_with_high_bytes_random)
{
	/* Bytes >= 0x80 take the other half of the AVX-512 byte tables. */
	const char *kw[] = {"\x80\x81\xfe\x7f",         "\xc3\xa9t\xc3", "\x7f\x80", "a\xffz",
	                    "\xfe\xfe\xfe\xfe\xfe\xfe", "ghp_"};
	size_t lens[6];
	set_lens(lens, kw, 6);
	int nocase[] = {0, 1, 0, 1, 0, 1};
	for (uint64_t seed = 1; seed <= 4; seed++)
		random_round(kw, lens, seed % 2 ? nocase : NULL, 6, seed);
}

Test(prefilter, random_rule_pack_long_buffers)
{
	size_t lens[N_PACK];
	int nocase[N_PACK];
	set_lens(lens, pack, N_PACK);
	for (size_t i = 0; i < N_PACK; i++)
		nocase[i] = strcmp(pack[i], "PRIVATE KEY-----") == 0 || strcmp(pack[i], "key-") == 0;
	for (uint64_t seed = 1; seed <= 2; seed++)
		random_round_to(pack, lens, seed % 2 ? nocase : NULL, N_PACK, seed, 9000, 331);
	const char *few[] = {"bst_", "xy"};
	size_t few_lens[] = {4, 2};
	random_round_to(few, few_lens, NULL, 2, 3, 9000, 331);
}

Test(prefilter, callback_stop_after_many_blocks)
{
	const char *kw[] = {"ab", "b", "zzzz"};
	size_t lens[] = {2, 1, 4};
	static uint8_t buf[20000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = i % 97 < 5 ? "ab"[i % 2] : 'x';
	for (size_t s = 0; s < N_STRATEGIES; s++) {
		bs_prefilter *pf = make_pf(strategies[s], kw, lens, NULL, 3);
		for (size_t stop = 1; stop < 900; stop += 89) {
			hits got = {0};
			got.stop_after = stop;
			cr_assert_eq(bs_prefilter_scan(pf, buf, sizeof(buf), collect, &got), 7);
			cr_assert_eq(got.n, stop, "%s: scan went on after the callback stopped it",
			             bs_prefilter_strategy(pf));
			free(got.v);
		}
		bs_prefilter_free(pf);
	}
}
