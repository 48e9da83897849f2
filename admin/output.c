/*
 * output.c - JSON strings and terminal-safe text for the admin CLI.
 *
 * Everything printed from a directory entry is untrusted: JSON output is
 * always valid UTF-8 JSON, table output never sends a control byte (C0,
 * DEL or C1) to the terminal.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kb.h"
#include "admin.h"

/*
 * Length of the valid UTF-8 sequence at s (at most len bytes) and its code
 * point, or 0 if the bytes there are not valid UTF-8 (overlong forms,
 * surrogates and values beyond U+10FFFF are invalid).
 */
static size_t
utf8_seq(const unsigned char *s, size_t len, uint32_t *cpp)
{
	uint32_t cp, min;
	size_t n, i;

	if (s[0] < 0x80) {
		*cpp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cpp = cp;
	return n;
}

void
json_string(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;

	fputc('"', f);
	while (i < len) {
		if ((n = utf8_seq(p + i, len - i, &cp)) == 0) {
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		if (cp == '"')
			fputs("\\\"", f);
		else if (cp == '\\')
			fputs("\\\\", f);
		else if (cp == '\n')
			fputs("\\n", f);
		else if (cp == '\t')
			fputs("\\t", f);
		else if (cp < 0x20 || cp == 0x7f)
			fprintf(f, "\\u%04x", (unsigned)cp);
		else if (cp == 0x2028 || cp == 0x2029)
			fprintf(f, "\\u%04x", (unsigned)cp);
		else
			fwrite(p + i, 1, n, f);
		i += n;
	}
	fputc('"', f);
}

void
json_string_or_null(FILE *f, const char *s)
{
	if (s == NULL)
		fputs("null", f);
	else
		json_string(f, s, strlen(s));
}

/* 1 if the code point may go to a terminal as it is. */
static int
text_printable(uint32_t cp)
{
	if (cp < 0x80)
		return cp >= 0x20 && cp < 0x7f;
	return cp >= 0xa0 && cp != 0x2028 && cp != 0x2029 &&
	    !(cp >= 0x200b && cp <= 0x200f) &&	/* zero width, bidi marks */
	    !(cp >= 0x202a && cp <= 0x202e) &&	/* bidi embeddings */
	    !(cp >= 0x2066 && cp <= 0x2069);	/* bidi isolates */
}

/*
 * Terminal columns of a printable code point: 0 for combining marks, 2
 * for East Asian wide and fullwidth characters (CJK ideographs, kana,
 * hangul, fullwidth forms), else 1.
 */
static size_t
cp_width(uint32_t cp)
{
	if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x1ab0 && cp <= 0x1aff) ||
	    (cp >= 0x1dc0 && cp <= 0x1dff) || (cp >= 0x20d0 && cp <= 0x20ff) ||
	    (cp >= 0xfe20 && cp <= 0xfe2f))
		return 0;
	if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
	    (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
	    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
	    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
	    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
	    (cp >= 0xffe0 && cp <= 0xffe6) ||
	    (cp >= 0x1f300 && cp <= 0x1f64f) ||
	    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
	    (cp >= 0x20000 && cp <= 0x2fffd) ||
	    (cp >= 0x30000 && cp <= 0x3fffd))
		return 2;
	return 1;
}

/*
 * Walk s as text_safe() prints it; write to f if not NULL.  Returns the
 * number of terminal columns (by display width; escapes count their
 * length).
 */
static size_t
text_walk(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, cols = 0;
	uint32_t cp;

	while (i < len) {
		n = utf8_seq(p + i, len - i, &cp);
		if (n == 0 || !text_printable(cp)) {
			if (f != NULL)
				fprintf(f, "\\x%02x", p[i]);
			cols += 4;
			i++;
			continue;
		}
		if (f != NULL)
			fwrite(p + i, 1, n, f);
		cols += cp_width(cp);
		i += n;
	}
	return cols;
}

void
text_safe(FILE *f, const char *s, size_t len)
{
	(void)text_walk(f, s, len);
}

size_t
text_safe_width(const char *s, size_t len)
{
	return text_walk(NULL, s, len);
}

void
text_safe_pad(FILE *f, const char *s, size_t len, size_t width)
{
	size_t cols;

	cols = text_walk(f, s, len);
	for (; cols < width; cols++)
		fputc(' ', f);
}
