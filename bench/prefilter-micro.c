/* Prefilter throughput on a text corpus: the rule-pack keyword set (with and
 * without the two-byte keywords "AC" and "SK") against memmem for "bst_"
 * alone. Not part of the build; run bench/prefilter-micro.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "scanner/prefilter.h"
#include "common/banned.h"

static const char *const pack[] = {
    "bst_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "gldt-", "glrt-", "xoxb-", "xoxp-",
    "xoxa-", "xoxe-", "hooks.slack.com", "sk_live_", "rk_live_", "sk_test_", "npm_", "pypi-", "AKIA", "ASIA", "AIza",
    "sk-proj-", "T3BlbkFJ", "sk-ant-", "hf_", "shpat_", "shpss_", "shpca_", "shppa_", "dop_v1_", "doo_v1_", "dor_v1_",
    "dp.pt.", "dp.st.", "hvs.", "hvb.", "atlasv1", "dapi", "lin_api_", "PMAK-", "pul-", "glc_", "glsa_", "SG.", "key-",
    "ATATT", "sntrys_", "sntryu_", "pscale_tkn_", "sbp_", "figd_", "PRIVATE KEY-----",
    /* last: the two-byte keywords, left out of the "no AC/SK" run */
    "AC", "SK"};
#define N_PACK (sizeof(pack) / sizeof(pack[0]))

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CHUNK=n (bytes): scan in chunks of n bytes, each first copied into a small
 * buffer that stays in cache, as the scanner does with a file it has read. */
static size_t chunk;
static uint8_t *hot;

static int count_hit(void *ud, size_t idx, size_t off)
{
	(*(size_t *)ud)++;
	return 0;
}

/* nocase_some: 1 for "key-" and "PRIVATE KEY-----", or an explicit array. */
static void run_set_nc(const uint8_t *buf, size_t len, const char *const *kw, size_t n, int nocase_some,
                       const int *nocase_in, int reps, const char *label)
{
	size_t lens[512];
	int nocase[512];
	for (size_t i = 0; i < n; i++) {
		lens[i] = strlen(kw[i]);
		nocase[i] = nocase_in
		                ? nocase_in[i]
		                : nocase_some && (strcmp(kw[i], "PRIVATE KEY-----") == 0 || strcmp(kw[i], "key-") == 0);
	}
	bs_prefilter *pf;
	bs_error err = BS_ERROR_INIT;
	double t0 = now();
	if (bs_prefilter_new(&pf, kw, lens, nocase, n, &err)) {
		fprintf(stderr, "%s\n", err.message);
		exit(1);
	}
	double build = now() - t0;
	double best = 1e9;
	size_t hits = 0;
	for (int r = 0; r < reps; r++) {
		hits = 0;
		t0 = now();
		if (chunk) {
			for (size_t at = 0; at < len; at += chunk) {
				size_t l = len - at < chunk ? len - at : chunk;
				memcpy(hot, buf + at, l);
				bs_prefilter_scan(pf, hot, l, count_hit, &hits);
			}
		} else {
			bs_prefilter_scan(pf, buf, len, count_hit, &hits);
		}
		double t = now() - t0;
		if (t < best)
			best = t;
	}
	printf("%-28s %-14s %2zu keywords: %6.2f GB/s  %8zu hits  (build %.2f ms)\n", label, bs_prefilter_strategy(pf),
	       n, (double)len / best / 1e9, hits, build * 1e3);
	bs_prefilter_free(pf);
}

static void run_set(const uint8_t *buf, size_t len, const char *const *kw, size_t n, int nocase_some, int reps,
                    const char *label)
{
	run_set_nc(buf, len, kw, n, nocase_some, NULL, reps, label);
}

/* KEYWORDS file: one keyword a line, "c\t" or "i\t" (case-insensitive) first. */
static void run_file(const uint8_t *buf, size_t len, const char *path, int reps)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	static char store[512][128];
	const char *kw[512];
	int nocase[512];
	size_t n = 0;
	while (n < 512 && fgets(store[n], sizeof(store[n]), f)) {
		size_t l = strlen(store[n]);
		while (l && store[n][l - 1] == '\n')
			store[n][--l] = 0;
		if (l < 3 || store[n][1] != '\t')
			continue;
		nocase[n] = store[n][0] == 'i';
		kw[n] = store[n] + 2;
		n++;
	}
	fclose(f);
	run_set_nc(buf, len, kw, n, 0, nocase, reps, "rules/*.json keywords");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS [MB [KEYWORDS]]\n", argv[0]);
		return 2;
	}
	size_t want = (argc > 2 ? (size_t)atol(argv[2]) : 200) << 20;
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	bs_buf src = BS_BUF_INIT;
	char tmp[1 << 16];
	size_t got;
	while ((got = fread(tmp, 1, sizeof(tmp), f)) > 0)
		bs_buf_add(&src, tmp, got);
	fclose(f);
	if (!src.len)
		return 1;
	uint8_t *buf = bs_xmalloc(want);
	for (size_t at = 0; at < want; at += src.len)
		memcpy(buf + at, src.ptr, want - at < src.len ? want - at : src.len);
	size_t len = want;
	int reps = getenv("REPS") ? atoi(getenv("REPS")) : 5;
	chunk = getenv("CHUNK") ? (size_t)atol(getenv("CHUNK")) : 0;
	if (chunk)
		hot = bs_xmalloc(chunk);
	if (chunk)
		printf("in chunks of %zu bytes copied to a hot buffer (the copy is timed too)\n", chunk);

	if (argc > 3 && getenv("ONLY_FILE")) { /* ONLY_FILE=1: just the KEYWORDS set (for profiling) */
		run_file(buf, len, argv[3], reps);
		return 0;
	}
	double best = 1e9;
	size_t hits = 0;
	for (int r = 0; r < reps; r++) {
		hits = 0;
		double t0 = now();
		const uint8_t *p = buf, *end = buf + len;
		while ((p = memmem(p, (size_t)(end - p), "bst_", 4)) != NULL) {
			hits++;
			p++;
		}
		double t = now() - t0;
		if (t < best)
			best = t;
	}
	printf("corpus %.0f MB\n", (double)len / (1 << 20));
	printf("%-28s %-14s %2d keywords: %6.2f GB/s  %8zu hits\n", "memmem bst_", "glibc", 1, (double)len / best / 1e9,
	       hits);
	run_set(buf, len, pack, 1, 0, reps, "prefilter bst_");
	run_set(buf, len, pack, N_PACK - 2, 1, reps, "pack without AC/SK");
	run_set(buf, len, pack, N_PACK, 1, reps, "full pack");
	if (argc > 3)
		run_file(buf, len, argv[3], reps);
	/* A pack far larger than the rule pack: 200 random 4..9-byte keywords. */
	static char store[200][10];
	const char *many[200];
	uint32_t x = 12345;
	for (int i = 0; i < 200; i++) {
		int l = 4 + i % 6;
		for (int j = 0; j < l; j++) {
			x = x * 1103515245 + 12345;
			store[i][j] =
			    "abcdefghijklmnopqrstuvwxyz_-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[(x >> 16) % 64];
		}
		many[i] = store[i];
	}
	run_set(buf, len, many, 200, 0, reps, "200 random keywords");
	free(buf);
	bs_buf_free(&src);
	return 0;
}
