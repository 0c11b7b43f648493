/* bs_buf: the one growable byte buffer of the project.
 *
 * Invariants (as git's strbuf):
 *   - ptr is never NULL; an empty buffer points at a shared static "".
 *   - ptr[len] == '\0' always, so ptr is a C string when no NULs were added.
 *   - the buffer may hold NUL bytes; len, not strlen, is its length.
 *   - cap == 0 means ptr is the static "" and must not be written or freed.
 * Allocation failure aborts the process (like git's xmalloc): callers never
 * check for NULL. Not thread-safe; a buffer belongs to one thread at a time.
 */
#ifndef BS_COMMON_BUF_H
#define BS_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct bs_buf {
	char *ptr;
	size_t len;
	size_t cap;
} bs_buf;

extern char bs_buf_empty[];
#define BS_BUF_INIT { bs_buf_empty, 0, 0 }

void bs_buf_init(bs_buf *b, size_t hint);
/* Frees the memory and leaves b as BS_BUF_INIT. */
void bs_buf_free(bs_buf *b);
/* Overwrites the contents with zeros before freeing (for secrets). */
void bs_buf_free_secure(bs_buf *b);
/* Ensures room for extra more bytes (plus the NUL). */
void bs_buf_grow(bs_buf *b, size_t extra);
void bs_buf_reset(bs_buf *b);
void bs_buf_truncate(bs_buf *b, size_t len);
void bs_buf_add(bs_buf *b, const void *data, size_t len);
void bs_buf_adds(bs_buf *b, const char *s);
void bs_buf_addch(bs_buf *b, int c);
void bs_buf_addf(bs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bs_buf_vaddf(bs_buf *b, const char *fmt, va_list ap);
/* Returns the heap string and leaves b empty; the caller frees it. */
char *bs_buf_detach(bs_buf *b, size_t *len_out);

/* Allocation helpers that abort on failure. */
void *bs_xmalloc(size_t n);
void *bs_xcalloc(size_t count, size_t size);
void *bs_xrealloc(void *p, size_t n);
char *bs_xstrdup(const char *s);
char *bs_xstrndup(const char *s, size_t n);
char *bs_xmemdup(const void *p, size_t n);
char *bs_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grows an array *arr of *cap elements of elem_size so that index need-1 fits. */
void bs_array_grow(void **arr, size_t *cap, size_t need, size_t elem_size);
#define BS_ARRAY_GROW(arr, cap, need) bs_array_grow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

#endif
