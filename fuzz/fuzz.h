/* Shared by the libFuzzer targets and by tests/unit/test_reliability_fuzz_replay.c, which
 * compiles every target into one Criterion test (each target's entry point renamed with
 * BS_FUZZ_ENTRY) and replays the committed corpora and regression inputs under the normal
 * and sanitizer builds. A target never prints, keeps no state between inputs (except
 * read-only setup done once), and aborts (BS_FUZZ_CHECK) on a broken invariant. */
#ifndef BS_FUZZ_FUZZ_H
#define BS_FUZZ_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef BS_FUZZ_ENTRY
#define BS_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

/* A broken invariant: print why (stderr) and abort so libFuzzer saves the input. */
#define BS_FUZZ_CHECK(cond, ...)                                                                                  \
	do {                                                                                                         \
		if (!(cond)) {                                                                                       \
			fprintf(stderr, "fuzz invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);     \
			fprintf(stderr, __VA_ARGS__);                                                                \
			fputc('\n', stderr);                                                                         \
			abort();                                                                                     \
		}                                                                                                    \
	} while (0)

#endif
