/*
 * pam-corpus.h - read the user name corpora in tests/fixtures/pam/ (shared
 * by kb-pamtest and test_pam_direct; header-only).
 *
 * One name per line.  Blank lines and lines starting with '#' are skipped.
 * "\xNN" is a byte, "\\" a backslash (any other backslash is an error);
 * "@empty" is the empty name; "@repeat N C" is the byte C repeated N times.
 */
#ifndef KB_PAM_CORPUS_H
#define KB_PAM_CORPUS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORPUS_MAX_NAMES	1024
#define CORPUS_MAX_REPEAT	(1024 * 1024)

static inline int
corpus_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode one line (no newline): 0 and *namep, 1 to skip, -1 if malformed. */
static inline int
corpus_decode(const char *line, char **namep)
{
	char *out, c;
	size_t i, o, len = strlen(line);
	long n;
	int hi, lo;

	*namep = NULL;
	if (len == 0 || line[0] == '#')
		return 1;
	if (strcmp(line, "@empty") == 0)
		return (*namep = strdup("")) != NULL ? 0 : -1;
	if (sscanf(line, "@repeat %ld %c", &n, &c) == 2) {
		if (n < 1 || n > CORPUS_MAX_REPEAT || (out = malloc((size_t)n + 1)) == NULL)
			return -1;
		memset(out, c, (size_t)n);
		out[n] = '\0';
		*namep = out;
		return 0;
	}
	if ((out = malloc(len + 1)) == NULL)
		return -1;
	for (i = o = 0; i < len; i++) {
		if (line[i] != '\\') {
			out[o++] = line[i];
		} else if (line[i + 1] == '\\') {
			out[o++] = '\\';
			i++;
		} else if (line[i + 1] == 'x' &&
		    (hi = corpus_hexval(line[i + 2])) >= 0 &&
		    (lo = corpus_hexval(line[i + 3])) >= 0 && (hi | lo) != 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 3;
		} else {
			free(out);
			return -1;
		}
	}
	out[o] = '\0';
	*namep = out;
	return 0;
}

static inline void
corpus_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Load every name of a corpus file; -1 on I/O or format error. */
static inline int
corpus_load(const char *path, char ***namesp, size_t *np)
{
	char *line = NULL, **names = NULL, *name;
	size_t cap = 0, n = 0, len;
	ssize_t got;
	FILE *f;
	int r = -1, d;

	*namesp = NULL;
	*np = 0;
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	if ((names = calloc(CORPUS_MAX_NAMES, sizeof(*names))) == NULL)
		goto out;
	while ((got = getline(&line, &cap, f)) != -1) {
		len = (size_t)got;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if ((d = corpus_decode(line, &name)) < 0 ||
		    (d == 0 && n == CORPUS_MAX_NAMES)) {
			free(name);
			goto out;
		}
		if (d == 0)
			names[n++] = name;
	}
	if (ferror(f))
		goto out;
	*namesp = names;
	*np = n;
	names = NULL;
	r = 0;
 out:
	if (names != NULL)
		corpus_free(names, n);
	free(line);
	fclose(f);
	return r;
}

#endif /* KB_PAM_CORPUS_H */
