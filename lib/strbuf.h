/*
 * strbuf.h - a growing, always NUL-terminated output string for the text
 * the library builds (filters, DNs, instance ids); every append checks for
 * overflow and fails with a KB_ERR_* code.
 */
#ifndef KB_STRBUF_H
#define KB_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *s;
	size_t len;
	size_t cap;
};

#define STRBUF_INIT	{ NULL, 0, 0 }

/* Room for more bytes after len (and the NUL). */
int sb_reserve(struct strbuf *b, size_t more);
int sb_putc(struct strbuf *b, char c);
int sb_put(struct strbuf *b, const char *s, size_t len);
/* "\xx": a backslash and two lower-case hex digits. */
int sb_puthex(struct strbuf *b, unsigned char c);
/* Hand the buffer to *outp (an empty string if nothing was appended). */
int sb_finish(struct strbuf *b, char **outp);

#endif /* KB_STRBUF_H */
