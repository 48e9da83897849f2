/*
 * sshsig_fixtures.h - reading the keys of tests/fixtures/sshsig/ (made by
 * ssh-keygen) for the unit tests that sign and verify.
 */
#ifndef KB_SSHSIG_FIXTURES_H
#define KB_SSHSIG_FIXTURES_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sshsig.h"

#define FIX	"tests/fixtures/sshsig/"

/* A whole file (at most 64 KiB - 1), NUL-terminated; NULL if unreadable. */
static inline char *
slurp(const char *path, size_t *lenp)
{
	FILE *f;
	char *buf;
	size_t n;

	*lenp = 0;
	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = calloc(1, 65536);
	n = buf != NULL ? fread(buf, 1, 65535, f) : 0;
	fclose(f);
	*lenp = n;
	return buf;
}

/* The private key of fixture name; NULL if it does not load. */
static inline struct kb_privkey *
priv_fixture(const char *name)
{
	char path[128], *text;
	size_t len;
	struct kb_privkey *k = NULL;

	snprintf(path, sizeof(path), FIX "%s", name);
	if ((text = slurp(path, &len)) == NULL)
		return NULL;
	if (sshsig_privkey_parse(text, len, &k) != 0)
		k = NULL;
	free(text);
	return k;
}

#endif /* KB_SSHSIG_FIXTURES_H */
