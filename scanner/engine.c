#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "scanner/engine.h"
#include "scanner/prefilter.h"
#include "scanner/rule_internal.h"
#include "scanner/text.h"
#include "scanner/validate.h"
#include "common/banned.h"

#define DEFAULT_CHUNK (1u << 20)
/* Bytes of context kept around a regex window for lookbehind and lookahead. */
#define LOOK_CONTEXT 32
/* Bytes of the line shown on each side of a secret in line_text. */
#define LINE_CONTEXT 160
#define ALLOW_MARKER "bstscan:allow"
/* How far from the secret, on its line, the allow marker is honoured. The streamed window always
 * holds this much around a match, so the answer does not depend on chunking or file size. */
#define ALLOW_REACH (2 * LINE_CONTEXT)
/* Content is binary when a NUL byte occurs in its first 8000 bytes: the
 * test git and ripgrep use, which spares a pass over every large file. */
#define BINARY_SNIFF 8000

struct bs_scanner {
	bs_ruleset *rules;
	bs_scanner_opts opts;
	bs_prefilter *pf;
	size_t n_keywords;
	size_t *kw_rule;   /* keyword index -> rule index */
	size_t *kw_len;
	size_t max_len;    /* longest match of any rule */
	size_t max_kw;     /* longest keyword */
	size_t half;       /* half of the overlap kept between steps */
};

/* A match found in one step, before it becomes a finding. */
typedef struct candidate {
	size_t rule;
	uint64_t start, end;        /* the whole match, absolute */
	uint64_t sec_start, sec_end; /* the secret group, absolute */
	const char *invalid;        /* validator that failed, or NULL */
} candidate;

struct bs_scan_ctx {
	bs_scanner *s;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
	unsigned char *disabled;    /* rules that failed to compile */
	bs_buf warnings;

	/* per content */
	bs_scan_input in;
	char *path;
	bs_buf win;                 /* streamed content window */
	uint64_t win_abs;           /* absolute offset of win.ptr[0] */
	uint64_t own_from;          /* matches starting before this were handled */
	uint64_t *last_end;         /* per rule: end of its last match */
	uint64_t line_pos;          /* lines are counted up to here */
	uint64_t line_no;           /* line number at line_pos */
	int64_t last_nl;            /* absolute offset of the last '\n' before line_pos, or -1 */
	int binary;
	uint64_t sniffed;           /* bytes checked for NUL so far (up to BINARY_SNIFF) */
	bs_findings pending;

	/* per step */
	const uint8_t *base;        /* the bytes of this step */
	uint64_t base_abs;
	size_t base_len;
	uint64_t own_to;
	size_t pf_from;             /* where the prefilter's offsets start, relative to base */
	candidate *cands;
	size_t n_cands, cap_cands;
	bs_error *err;
};

int bs_scanner_new(bs_scanner **out, bs_ruleset *rs, const bs_scanner_opts *opts, bs_error *err)
{
	bs_scanner *s = bs_xcalloc(1, sizeof(*s));
	const char **kws;
	int *nocase;
	size_t n = 0, nr = bs_ruleset_count(rs);
	int rc;

	s->rules = rs;
	if (opts)
		s->opts = *opts;
	if (!s->opts.chunk_size)
		s->opts.chunk_size = DEFAULT_CHUNK;
	for (size_t i = 0; i < nr; i++)
		n += bs_ruleset_get(rs, i)->n_keywords;
	kws = bs_xcalloc(n + 1, sizeof(*kws));
	nocase = bs_xcalloc(n + 1, sizeof(*nocase));
	s->kw_rule = bs_xcalloc(n + 1, sizeof(*s->kw_rule));
	s->kw_len = bs_xcalloc(n + 1, sizeof(*s->kw_len));
	n = 0;
	for (size_t i = 0; i < nr; i++) {
		const bs_rule *r = bs_ruleset_get(rs, i);
		for (size_t k = 0; k < r->n_keywords; k++) {
			kws[n] = r->keywords[k];
			s->kw_len[n] = strlen(r->keywords[k]);
			nocase[n] = r->keywords_nocase;
			s->kw_rule[n] = i;
			if (s->kw_len[n] > s->max_kw)
				s->max_kw = s->kw_len[n];
			n++;
		}
	}
	s->n_keywords = n;
	s->max_len = bs_ruleset_max_length(rs);
	s->half = 2 * s->max_len + s->max_kw + 2 * LOOK_CONTEXT + 2 * LINE_CONTEXT;
	rc = bs_prefilter_new(&s->pf, kws, s->kw_len, nocase, n, err);
	free(kws);
	free(nocase);
	if (rc < 0) {
		bs_scanner_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void bs_scanner_free(bs_scanner *s)
{
	if (!s)
		return;
	bs_prefilter_free(s->pf);
	free(s->kw_rule);
	free(s->kw_len);
	free(s);
}

const bs_ruleset *bs_scanner_rules(const bs_scanner *s)
{
	return s->rules;
}

int bs_scan_ctx_new(bs_scan_ctx **out, bs_scanner *s, bs_error *err)
{
	bs_scan_ctx *c = bs_xcalloc(1, sizeof(*c));
	size_t nr = bs_ruleset_count(s->rules);
	c->s = s;
	c->md = pcre2_match_data_create(100, NULL);
	c->mctx = pcre2_match_context_create(NULL);
	c->jit = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
	if (!c->md || !c->mctx || !c->jit) {
		bs_scan_ctx_free(c);
		return bs_error_set(err, BS_ERR_NOMEM, "cannot allocate PCRE2 match state");
	}
	/* Bound a catastrophic regex: it fails on its window and the scan goes on. */
	pcre2_set_match_limit(c->mctx, BS_PCRE2_MATCH_LIMIT);
	pcre2_set_depth_limit(c->mctx, BS_PCRE2_DEPTH_LIMIT);
	pcre2_set_heap_limit(c->mctx, BS_PCRE2_HEAP_LIMIT_KB);
	pcre2_jit_stack_assign(c->mctx, NULL, c->jit);
	c->disabled = bs_xcalloc(nr + 1, 1);
	c->last_end = bs_xcalloc(nr + 1, sizeof(uint64_t));
	bs_buf_init(&c->warnings, 0);
	bs_buf_init(&c->win, 0);
	*out = c;
	return 0;
}

void bs_scan_ctx_free(bs_scan_ctx *c)
{
	if (!c)
		return;
	pcre2_match_data_free(c->md);
	pcre2_match_context_free(c->mctx);
	pcre2_jit_stack_free(c->jit);
	free(c->disabled);
	free(c->last_end);
	free(c->path);
	free(c->cands);
	bs_findings_free(&c->pending);
	bs_buf_free(&c->warnings);
	bs_buf_free(&c->win);
	free(c);
}

const char *bs_scan_ctx_warnings(const bs_scan_ctx *c)
{
	return c->warnings.ptr;
}

void bs_scan_begin(bs_scan_ctx *c, const bs_scan_input *in)
{
	size_t nr = bs_ruleset_count(c->s->rules);
	c->in = *in;
	free(c->path);
	c->path = bs_xstrdup(in->path ? in->path : "");
	c->in.path = c->path;
	bs_buf_reset(&c->win);
	c->win_abs = 0;
	c->own_from = 0;
	memset(c->last_end, 0, (nr + 1) * sizeof(uint64_t));
	c->line_pos = 0;
	c->line_no = in->first_line ? in->first_line : 1;
	c->last_nl = -1;
	c->binary = 0;
	c->sniffed = 0;
	bs_findings_free(&c->pending);
}

/* Moves the line counter forward to abs (which must be inside the step). */
static void advance_lines(bs_scan_ctx *c, uint64_t abs)
{
	const uint8_t *p, *end, *nl;
	if (abs <= c->line_pos)
		return;
	p = c->base + (c->line_pos - c->base_abs);
	end = c->base + (abs - c->base_abs);
	while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
		c->line_no++;
		c->last_nl = (int64_t)(c->base_abs + (uint64_t)(nl - c->base));
		p = nl + 1;
	}
	c->line_pos = abs;
}

static void add_candidate(bs_scan_ctx *c, const candidate *cd)
{
	BS_ARRAY_GROW(c->cands, c->cap_cands, c->n_cands + 1);
	c->cands[c->n_cands++] = *cd;
}

static int on_hit(void *ud, size_t kw, size_t off)
{
	bs_scan_ctx *c = ud;
	bs_scanner *s = c->s;
	size_t ri = s->kw_rule[kw];
	bs_rule *r = bs_ruleset_get(s->rules, ri);
	uint64_t h = c->base_abs + c->pf_from + off;
	uint64_t s0, sub_start, sub_end, base_end = c->base_abs + c->base_len;
	pcre2_code *code;
	PCRE2_SIZE start;

	if (c->disabled[ri] || h < c->last_end[ri])
		return 0;
	if (bs_rule_compile(r, NULL) < 0) {
		bs_error e = BS_ERROR_INIT;
		bs_rule_compile(r, &e);
		c->disabled[ri] = 1;
		bs_buf_addf(&c->warnings, "%s (rule skipped)\n", e.message);
		return 0;
	}
	code = bs_rule_code(r);
	s0 = h >= c->base_abs + r->max_length ? h - r->max_length : c->base_abs;
	if (s0 < c->own_from)
		s0 = c->own_from;
	/* A rule's matches do not overlap (as a global regex search): one starting inside its previous
	 * match would report that match's secret a second time. */
	if (s0 < c->last_end[ri])
		s0 = c->last_end[ri];
	sub_start = s0 >= c->base_abs + LOOK_CONTEXT ? s0 - LOOK_CONTEXT : c->base_abs;
	sub_end = h + r->max_length + LOOK_CONTEXT;
	if (sub_end > base_end)
		sub_end = base_end;
	start = (PCRE2_SIZE)(s0 - sub_start);
	for (;;) {
		const uint8_t *subj = c->base + (sub_start - c->base_abs);
		int rc = pcre2_match(code, subj, (PCRE2_SIZE)(sub_end - sub_start), start, 0, c->md, c->mctx);
		PCRE2_SIZE *ov;
		uint64_t ms, me;
		candidate cd;
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) {
			/* Match or depth limit: report once per rule and content, keep scanning. */
			PCRE2_UCHAR msg[128];
			pcre2_get_error_message(rc, msg, sizeof(msg));
			bs_buf_addf(&c->warnings, "%s: rule '%s' stopped at offset %llu: %s\n", c->path, r->id,
				    (unsigned long long)h, (char *)msg);
			c->last_end[ri] = h + 1;
			break;
		}
		ov = pcre2_get_ovector_pointer(c->md);
		ms = sub_start + ov[0];
		me = sub_start + ov[1];
		if (ms > h)
			break;
		if (me <= h) {
			start = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
			if (start > sub_end - sub_start)
				break;
			continue;
		}
		/* A match starting at or after own_to belongs to the next step,
		 * which must see this hit again: leave last_end alone. */
		if (ms >= c->own_to)
			break;
		c->last_end[ri] = me;
		if (ms < c->own_from)
			break;
		if ((int)r->secret_group >= rc || ov[2 * r->secret_group] == PCRE2_UNSET)
			break;
		cd.rule = ri;
		cd.start = ms;
		cd.end = me;
		cd.sec_start = sub_start + ov[2 * r->secret_group];
		cd.sec_end = sub_start + ov[2 * r->secret_group + 1];
		cd.invalid = NULL;
		if (cd.sec_end <= cd.sec_start)
			break;
		if (r->n_validators) {
			const char *failed = NULL;
			if (!bs_validators_run(r->validators, r->n_validators, c->base + (cd.sec_start - c->base_abs),
					       (size_t)(cd.sec_end - cd.sec_start), &failed)) {
				if (!s->opts.report_invalid)
					break;
				cd.invalid = failed;
			}
		}
		add_candidate(c, &cd);
		break;
	}
	return 0;
}

static int cmp_cand(const void *pa, const void *pb)
{
	const candidate *a = pa, *b = pb;
	if (a->sec_start != b->sec_start)
		return a->sec_start < b->sec_start ? -1 : 1;
	return a->rule < b->rule ? -1 : a->rule > b->rule;
}

/* The line holding the secret that ends at to, as far as this step's bytes
 * reach: start and end offsets relative to base (line counting has already
 * been advanced to the secret's start). */
static void line_bounds(bs_scan_ctx *c, uint64_t to, size_t *ls, size_t *le)
{
	uint64_t line_start = (uint64_t)(c->last_nl + 1);
	const uint8_t *nl;
	size_t rel_to = (size_t)(to - c->base_abs);
	*ls = line_start > c->base_abs ? (size_t)(line_start - c->base_abs) : 0;
	nl = memchr(c->base + rel_to, '\n', c->base_len - rel_to);
	*le = nl ? (size_t)(nl - c->base) : c->base_len;
}

static void build_finding(bs_scan_ctx *c, const candidate *cd)
{
	bs_rule *r = bs_ruleset_get(c->s->rules, cd->rule);
	size_t ls, le, sec_rel = (size_t)(cd->sec_start - c->base_abs);
	size_t sec_len = (size_t)(cd->sec_end - cd->sec_start);
	bs_finding *f;
	bs_text_range *ranges;
	size_t n_ranges = 0;

	int64_t keep_nl;
	uint64_t line_no;

	advance_lines(c, cd->sec_start);
	keep_nl = c->last_nl;
	line_no = c->line_no;
	if ((uint64_t)(c->last_nl + 1) > cd->sec_start) {
		/* This secret starts before the line counter, past a newline: an earlier step's match
		 * ended after it (a rule whose match spans lines). Count back to its own line and line
		 * start, for this finding only; the counter itself stays where it is. */
		const uint8_t *q = c->base + sec_rel, *e = c->base + (c->line_pos - c->base_abs), *p = q;
		while (p < e && (p = memchr(p, '\n', (size_t)(e - p)))) {
			line_no--;
			p++;
		}
		while (q > c->base && q[-1] != '\n')
			q--;
		c->last_nl = (int64_t)(c->base_abs + (uint64_t)(q - c->base)) - 1;
	}
	line_bounds(c, cd->sec_end, &ls, &le);
	{
		size_t as = sec_rel > ls + ALLOW_REACH ? sec_rel - ALLOW_REACH : ls;
		size_t ae = sec_rel + sec_len + ALLOW_REACH < le ? sec_rel + sec_len + ALLOW_REACH : le;
		if (ae > as && memmem(c->base + as, ae - as, ALLOW_MARKER, sizeof(ALLOW_MARKER) - 1)) {
			c->last_nl = keep_nl;
			return;
		}
	}

	f = bs_xcalloc(1, sizeof(*f));
	f->rule_id = bs_xstrdup(r->id);
	f->rule_description = bs_xstrdup(r->description);
	f->severity = cd->invalid ? BS_SEV_LOW : r->severity;
	f->issuer = r->issuer;
	f->invalid = cd->invalid != NULL;
	f->invalid_reason = cd->invalid ? bs_xstrdup(cd->invalid) : NULL;
	f->path = bs_xstrdup(c->path);
	f->line = line_no;
	f->column = cd->sec_start - (uint64_t)(c->last_nl + 1) + 1;
	f->offset = c->in.base_offset + cd->sec_start;
	f->secret = bs_xmemdup(c->base + sec_rel, sec_len);
	f->secret_len = sec_len;
	bs_finding_compute_ids(f);

	/* Every secret on the line is redacted in line_text, not only this one. Only secrets that reach
	 * the excerpt (LINE_CONTEXT around this one) matter, and candidates are sorted by sec_start:
	 * look at the short run of them around this one, so that content dense with matches costs
	 * linear time, not quadratic. A secret is at most one regex window (2 * max_len + 2 *
	 * LOOK_CONTEXT) long, which bounds how far before the excerpt one can start. */
	{
		uint64_t reach = LINE_CONTEXT + 2 * c->s->max_len + 2 * LOOK_CONTEXT + c->s->max_kw;
		uint64_t lo_abs = cd->sec_start > reach ? cd->sec_start - reach : 0;
		uint64_t hi_abs = cd->sec_end + LINE_CONTEXT;
		size_t lo = (size_t)(cd - c->cands), hi = lo + 1, cap = 0;
		ranges = NULL;
		while (lo > 0 && c->cands[lo - 1].sec_start >= lo_abs)
			lo--;
		while (hi < c->n_cands && c->cands[hi].sec_start < hi_abs)
			hi++;
		for (size_t i = lo; i < hi; i++) {
			size_t a = (size_t)(c->cands[i].sec_start - c->base_abs);
			size_t b = (size_t)(c->cands[i].sec_end - c->base_abs);
			if (b > ls && a < le) {
				BS_ARRAY_GROW(ranges, cap, n_ranges + 1);
				ranges[n_ranges++] = (bs_text_range){ a, b };
			}
		}
	}
	f->line_text = bs_text_line_excerpt(c->base, ls, le, sec_rel, sec_rel + sec_len, LINE_CONTEXT, ranges,
					    n_ranges, (uint64_t)(c->last_nl + 1) < c->base_abs);
	free(ranges);
	c->last_nl = keep_nl;

	if (c->in.on_finding && c->in.on_finding(c->in.ud, f)) {
		bs_finding_free(f);
		return;
	}
	bs_findings_push(&c->pending, f);
}

/* Scans base[0, len) (absolute base_abs) for matches starting in
 * [own_from, own_to). */
static void step(bs_scan_ctx *c, const uint8_t *base, uint64_t base_abs, size_t len, uint64_t own_to)
{
	bs_scanner *s = c->s;
	size_t from = (size_t)(c->own_from - base_abs);
	uint64_t to_abs = own_to + s->max_len + s->max_kw;
	size_t to = to_abs - base_abs < len ? (size_t)(to_abs - base_abs) : len;

	c->base = base;
	c->base_abs = base_abs;
	c->base_len = len;
	c->own_to = own_to;
	c->n_cands = 0;
	c->pf_from = from;
	if (to > from)
		bs_prefilter_scan(s->pf, base + from, to - from, on_hit, c);
	if (c->n_cands > 1)
		qsort(c->cands, c->n_cands, sizeof(*c->cands), cmp_cand);
	for (size_t i = 0; i < c->n_cands; i++)
		build_finding(c, &c->cands[i]);
	c->own_from = own_to;
}

static void sniff_binary(bs_scan_ctx *c, const void *data, size_t len)
{
	size_t n;
	if (c->binary || c->sniffed >= BINARY_SNIFF)
		return;
	n = BINARY_SNIFF - c->sniffed < len ? (size_t)(BINARY_SNIFF - c->sniffed) : len;
	c->binary = memchr(data, '\0', n) != NULL;
	c->sniffed += n;
}

/* Runs every step the window now holds enough bytes for, then drops what
 * no later step needs. */
static void drain(bs_scan_ctx *c)
{
	bs_scanner *s = c->s;
	while (c->win.len >= s->opts.chunk_size + 2 * s->half) {
		uint64_t win_end = c->win_abs + c->win.len;
		uint64_t own_to = win_end - s->half;
		uint64_t keep_from;
		size_t drop;
		step(c, (const uint8_t *)c->win.ptr, c->win_abs, c->win.len, own_to);
		keep_from = own_to - s->half;
		advance_lines(c, keep_from);
		drop = (size_t)(keep_from - c->win_abs);
		memmove(c->win.ptr, c->win.ptr + drop, c->win.len - drop);
		bs_buf_truncate(&c->win, c->win.len - drop);
		c->win_abs = keep_from;
	}
}

int bs_scan_feed(bs_scan_ctx *c, const void *data, size_t len, bs_error *err)
{
	if (!len)
		return 0;
	sniff_binary(c, data, len);
	bs_buf_add(&c->win, data, len);
	drain(c);
	return 0;
}

void *bs_scan_feed_reserve(bs_scan_ctx *c, size_t want)
{
	bs_buf_grow(&c->win, want);
	return c->win.ptr + c->win.len;
}

int bs_scan_feed_commit(bs_scan_ctx *c, size_t len, bs_error *err)
{
	if (!len)
		return 0;
	sniff_binary(c, c->win.ptr + c->win.len, len);
	c->win.len += len;
	c->win.ptr[c->win.len] = '\0';
	drain(c);
	return 0;
}

static void finish(bs_scan_ctx *c, bs_findings *out)
{
	for (size_t i = 0; i < c->pending.len; i++)
		c->pending.items[i]->binary = c->binary;
	bs_findings_move(out, &c->pending);
}

int bs_scan_end(bs_scan_ctx *c, bs_findings *out, bs_error *err)
{
	uint64_t win_end = c->win_abs + c->win.len;
	step(c, (const uint8_t *)c->win.ptr, c->win_abs, c->win.len, win_end + 1);
	bs_buf_reset(&c->win);
	finish(c, out);
	return 0;
}

int bs_scan_buffer(bs_scan_ctx *c, const bs_scan_input *in, const void *data, size_t len, bs_findings *out,
		   bs_error *err)
{
	/* The whole content is in memory: step through it in place, no copy. */
	bs_scanner *s = c->s;
	const uint8_t *p = data;
	uint64_t pos = 0;
	bs_scan_begin(c, in);
	sniff_binary(c, data, len);
	while (len - pos > s->opts.chunk_size) {
		pos += s->opts.chunk_size;
		step(c, p, 0, len, pos);
	}
	step(c, p, 0, len, (uint64_t)len + 1);
	finish(c, out);
	return 0;
}
