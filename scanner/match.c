#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/rule_internal.h"
#include "common/banned.h"

/* Compile state moves 0 (not yet) -> 1 (ready) or -1 (failed), once, under
 * the lock; readers check it with an acquire load so the fast path after
 * the first hit takes no lock. */
typedef struct rule_compiled {
	pthread_mutex_t lock;
	int state;
	pcre2_code *code;
	char *error;
} rule_compiled;

void *bs_rule_compiled_new(void)
{
	rule_compiled *c = bs_xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void bs_rule_compiled_free(void *p)
{
	rule_compiled *c = p;
	if (!c)
		return;
	pcre2_code_free(c->code);
	free(c->error);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

pcre2_code *bs_rule_code(const bs_rule *r)
{
	return ((rule_compiled *)r->compiled)->code;
}

static int compile_locked(bs_rule *r, rule_compiled *c)
{
	int code;
	PCRE2_SIZE off;
	uint32_t groups = 0;
	c->code = pcre2_compile((PCRE2_SPTR)r->regex, PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
	if (!c->code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		c->error = bs_xasprintf("%s: rule '%s': bad regex at offset %zu: %s", r->source, r->id, (size_t)off,
					(char *)msg);
		return -1;
	}
	pcre2_pattern_info(c->code, PCRE2_INFO_CAPTURECOUNT, &groups);
	if ((uint32_t)r->secret_group > groups) {
		c->error = bs_xasprintf("%s: rule '%s': \"secret_group\" is %d but the regex has %u groups", r->source,
					r->id, r->secret_group, groups);
		pcre2_code_free(c->code);
		c->code = NULL;
		return -1;
	}
	/* JIT is an optimisation: if it is unavailable the interpreter still runs. */
	pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE);
	return 1;
}

int bs_rule_compile(bs_rule *r, bs_error *err)
{
	rule_compiled *c = r->compiled;
	int state = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
	if (state == 0) {
		pthread_mutex_lock(&c->lock);
		state = c->state;
		if (state == 0) {
			state = compile_locked(r, c);
			__atomic_store_n(&c->state, state, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&c->lock);
	}
	if (state < 0)
		return bs_error_set(err, BS_ERR_RULE, "%s", c->error);
	return 0;
}
