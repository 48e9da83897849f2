/*
 * strbuf.c - the growing output string (see strbuf.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "strbuf.h"

static const char hexdigits[] = "0123456789abcdef";

int
sb_reserve(struct strbuf *b, size_t more)
{
	size_t need, cap;
	char *p;

	if (more > SIZE_MAX - b->len - 1)
		return KB_ERR_TOO_LONG;
	need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap == 0 ? 64 : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if ((p = realloc(b->s, cap)) == NULL)
		return KB_ERR_NOMEM;
	b->s = p;
	b->s[b->len] = '\0';
	b->cap = cap;
	return 0;
}

int
sb_putc(struct strbuf *b, char c)
{
	int r;

	if ((r = sb_reserve(b, 1)) != 0)
		return r;
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
	return 0;
}

int
sb_put(struct strbuf *b, const char *s, size_t len)
{
	int r;

	if ((r = sb_reserve(b, len)) != 0)
		return r;
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
	return 0;
}

int
sb_puthex(struct strbuf *b, unsigned char c)
{
	int r;

	if ((r = sb_reserve(b, 3)) != 0)
		return r;
	b->s[b->len++] = '\\';
	b->s[b->len++] = hexdigits[c >> 4];
	b->s[b->len++] = hexdigits[c & 0xf];
	b->s[b->len] = '\0';
	return 0;
}

int
sb_finish(struct strbuf *b, char **outp)
{
	int r;

	if ((r = sb_reserve(b, 0)) != 0)
		return r;
	b->s[b->len] = '\0';
	*outp = b->s;
	b->s = NULL;
	return 0;
}
