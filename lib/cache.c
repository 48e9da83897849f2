/*
 * cache.c - keybound-keys' answer cache.
 *
 * File format (printable ASCII, one record per line):
 *
 *	keybound-cache 1
 *	user HEX(user bytes)
 *	instance INSTANCE
 *	fingerprint SHA256:...|*
 *	fetched UNIX-SECONDS
 *	key NAME TYPE BASE64 HEX(options)|- NOTAFTER|-
 *	...
 *	end COUNT
 *
 * Nothing read back is trusted: the header must match the query exactly
 * and every key line is handed to lookup_add_key() like a directory value.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "kb.h"
#include "cache.h"
#include "config.h"
#include "lookup.h"

#define CACHE_MAGIC	"keybound-cache 1"
#define NAME_LEN	(2 + 2 * 32)	/* "a-" + hex SHA-256 */

struct kb_cache {
	int dfd;
};

struct buf {
	char *s;
	size_t len;
	size_t cap;
};

static const char hexdigits[] = "0123456789abcdef";

int
cache_open(const char *dir, struct kb_cache **cp)
{
	struct kb_cache *c = NULL;
	struct stat st;
	int fd = -1, r = KB_ERR_INTERNAL;

	*cp = NULL;
	if (dir == NULL || dir[0] != '/') {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		r = errno == ENOENT ? KB_ERR_CACHE_MISS : KB_ERR_CACHE_UNSAFE;
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		r = KB_ERR_CACHE_UNSAFE;
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	c->dfd = fd;
	fd = -1;
	*cp = c;
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	return r;
}

void
cache_close(struct kb_cache *c)
{
	if (c == NULL)
		return;
	close(c->dfd);
	free(c);
}

/* File name for (user, instance, fingerprint or all). */
static int
cache_name(const struct kb_query *q, int all, char name[NAME_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	const char *fp = (all || q->fingerprint == NULL) ? "*" : q->fingerprint;
	EVP_MD_CTX *ctx;
	int r = KB_ERR_CRYPTO;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return KB_ERR_NOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, "keybound-cache-1", 17) != 1 ||
	    EVP_DigestUpdate(ctx, q->user, q->userlen) != 1 ||
	    EVP_DigestUpdate(ctx, "", 1) != 1 ||
	    EVP_DigestUpdate(ctx, q->instance, strlen(q->instance) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, fp, strlen(fp)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto out;
	name[0] = 'a';
	name[1] = '-';
	for (i = 0; i < 32; i++) {
		name[2 + 2 * i] = hexdigits[md[i] >> 4];
		name[3 + 2 * i] = hexdigits[md[i] & 0xf];
	}
	name[NAME_LEN] = '\0';
	r = 0;
 out:
	EVP_MD_CTX_free(ctx);
	return r;
}

/* ---- writing ---- */

static int
buf_add(struct buf *b, const char *s, size_t len)
{
	char *n;
	size_t ncap;

	if (len > KB_CACHE_MAX_BYTES - b->len)
		return KB_ERR_TOO_LONG;
	if (b->len + len + 1 > b->cap) {
		ncap = b->cap ? b->cap : 4096;
		while (ncap < b->len + len + 1)
			ncap *= 2;
		if ((n = realloc(b->s, ncap)) == NULL)
			return KB_ERR_NOMEM;
		b->s = n;
		b->cap = ncap;
	}
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
	return 0;
}

static int
buf_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

static int
buf_hex(struct buf *b, const char *s, size_t len)
{
	char h[2];
	size_t i;
	int r;

	for (i = 0; i < len; i++) {
		h[0] = hexdigits[(unsigned char)s[i] >> 4];
		h[1] = hexdigits[(unsigned char)s[i] & 0xf];
		if ((r = buf_add(b, h, 2)) != 0)
			return r;
	}
	return 0;
}

static int
format_answer(const struct kb_query *q, int all, const struct kb_answer *a,
    struct buf *b)
{
	const struct kb_keyrec *k;
	char num[64];
	size_t i;
	int r;

	snprintf(num, sizeof(num), "%" PRIdMAX, (intmax_t)a->fetched);
	if ((r = buf_str(b, CACHE_MAGIC "\nuser ")) != 0 ||
	    (r = buf_hex(b, q->user, q->userlen)) != 0 ||
	    (r = buf_str(b, "\ninstance ")) != 0 ||
	    (r = buf_str(b, q->instance)) != 0 ||
	    (r = buf_str(b, "\nfingerprint ")) != 0 ||
	    (r = buf_str(b, all || q->fingerprint == NULL ? "*" :
	    q->fingerprint)) != 0 ||
	    (r = buf_str(b, "\nfetched ")) != 0 ||
	    (r = buf_str(b, num)) != 0 || (r = buf_str(b, "\n")) != 0)
		return r;
	for (i = 0; i < a->nkeys; i++) {
		k = &a->keys[i];
		if ((r = buf_str(b, "key ")) != 0 ||
		    (r = buf_str(b, k->name)) != 0 ||
		    (r = buf_str(b, " ")) != 0 ||
		    (r = buf_str(b, k->key_text)) != 0 ||
		    (r = buf_str(b, " ")) != 0)
			return r;
		if (k->options != NULL && k->options[0] != '\0')
			r = buf_hex(b, k->options, strlen(k->options));
		else
			r = buf_str(b, "-");
		if (r != 0 || (r = buf_str(b, " ")) != 0 ||
		    (r = buf_str(b, k->not_after ? k->not_after : "-")) != 0 ||
		    (r = buf_str(b, "\n")) != 0)
			return r;
	}
	snprintf(num, sizeof(num), "end %zu\n", a->nkeys);
	return buf_str(b, num);
}

static int
write_all(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return KB_ERR_SYSTEM;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Whether the cache directory holds at least KB_CACHE_MAX_FILES entries.
 * An unreadable directory counts as full.
 */
static int
cache_full(struct kb_cache *c)
{
	struct dirent *de;
	DIR *d = NULL;
	size_t n = 0;
	int fd, full = 1;

	if ((fd = openat(c->dfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		goto out;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		goto out;
	}
	while (n < KB_CACHE_MAX_FILES && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	}
	full = n >= KB_CACHE_MAX_FILES;
 out:
	if (d != NULL)
		closedir(d);
	return full;
}

int
cache_store(struct kb_cache *c, const struct kb_query *q,
    const struct kb_answer *a)
{
	struct buf b = { NULL, 0, 0 };
	unsigned char rnd[8];
	char name[NAME_LEN + 1], tmp[32];
	size_t i;
	int fd = -1, r = KB_ERR_INTERNAL, created = 0;

	/*
	 * "Nothing attached" is the answer for any name a client makes up
	 * (sshd hands PAM whatever user name it was sent): bounded.
	 */
	if (a->nkeys == 0 && cache_full(c)) {
		r = KB_ERR_CACHE_FULL;
		goto out;
	}
	if ((r = cache_name(q, 0, name)) != 0 ||
	    (r = format_answer(q, 0, a, &b)) != 0)
		goto out;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		r = KB_ERR_SYSTEM;
		goto out;
	}
	memcpy(tmp, ".tmp-", 5);
	for (i = 0; i < sizeof(rnd); i++) {
		tmp[5 + 2 * i] = hexdigits[rnd[i] >> 4];
		tmp[6 + 2 * i] = hexdigits[rnd[i] & 0xf];
	}
	tmp[5 + 2 * sizeof(rnd)] = '\0';
	fd = openat(c->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		r = KB_ERR_SYSTEM;
		goto out;
	}
	created = 1;
	if (fchmod(fd, 0600) != 0 || (r = write_all(fd, b.s, b.len)) != 0 ||
	    fsync(fd) != 0) {
		r = KB_ERR_SYSTEM;
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = KB_ERR_SYSTEM;
		goto out;
	}
	fd = -1;
	if (renameat(c->dfd, tmp, c->dfd, name) != 0) {
		r = KB_ERR_SYSTEM;
		goto out;
	}
	created = 0;
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	if (created)
		unlinkat(c->dfd, tmp, 0);
	free(b.s);
	return r;
}

/* ---- reading ---- */

static int
read_file(struct kb_cache *c, const char *name, struct buf *b)
{
	struct stat st;
	ssize_t n;
	int fd, r = KB_ERR_INTERNAL;

	fd = openat(c->dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? KB_ERR_CACHE_MISS : KB_ERR_CACHE_UNSAFE;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 07777) != 0600 ||
	    st.st_nlink != 1) {
		r = KB_ERR_CACHE_UNSAFE;
		goto out;
	}
	if (st.st_size <= 0 || st.st_size > KB_CACHE_MAX_BYTES) {
		r = KB_ERR_CACHE_CORRUPT;
		goto out;
	}
	if ((b->s = malloc((size_t)st.st_size + 1)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	b->cap = (size_t)st.st_size + 1;
	while (b->len < (size_t)st.st_size) {
		n = read(fd, b->s + b->len, (size_t)st.st_size - b->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = KB_ERR_CACHE_CORRUPT;
			goto out;
		}
		b->len += (size_t)n;
	}
	b->s[b->len] = '\0';
	r = 0;
 out:
	close(fd);
	return r;
}

/* Split the next line off *p (within end); NULL at the end. */
static char *
next_line(char **p, char *end)
{
	char *line = *p, *nl;

	if (line >= end)
		return NULL;
	if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
		return NULL;
	*nl = '\0';
	*p = nl + 1;
	return line;
}

/* The value after "word " on line, or NULL. */
static const char *
field(const char *line, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(line, word, n) != 0 || line[n] != ' ')
		return NULL;
	return line + n + 1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode lowercase hex in place; returns the length or -1. */
static ssize_t
unhex(char *s)
{
	size_t i, n = strlen(s);
	int hi, lo;

	if (n % 2 != 0)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if ((hi = hexval(s[2 * i])) < 0 ||
		    (lo = hexval(s[2 * i + 1])) < 0)
			return -1;
		s[i] = (char)(hi << 4 | lo);
	}
	s[n / 2] = '\0';
	return (ssize_t)(n / 2);
}

static int
parse_time(const char *s, time_t *tp)
{
	char *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return -1;
	*tp = (time_t)v;
	return 0;
}

/* Check the header lines against the query. */
static int
check_header(char **p, char *end, const struct kb_query *q, int all,
    time_t *fetched)
{
	const char *v, *want_fp;
	char *line, *user;
	ssize_t ulen;

	want_fp = all || q->fingerprint == NULL ? "*" : q->fingerprint;
	if ((line = next_line(p, end)) == NULL || strcmp(line, CACHE_MAGIC))
		return KB_ERR_CACHE_CORRUPT;
	if ((line = next_line(p, end)) == NULL ||
	    (v = field(line, "user")) == NULL)
		return KB_ERR_CACHE_CORRUPT;
	user = line + 5;
	if ((ulen = unhex(user)) < 0)
		return KB_ERR_CACHE_CORRUPT;
	if ((size_t)ulen != q->userlen || memcmp(user, q->user, q->userlen))
		return KB_ERR_CACHE_MISS;	/* a hash collision */
	if ((line = next_line(p, end)) == NULL ||
	    (v = field(line, "instance")) == NULL)
		return KB_ERR_CACHE_CORRUPT;
	if (strcmp(v, q->instance) != 0)
		return KB_ERR_CACHE_MISS;
	if ((line = next_line(p, end)) == NULL ||
	    (v = field(line, "fingerprint")) == NULL)
		return KB_ERR_CACHE_CORRUPT;
	if (strcmp(v, want_fp) != 0)
		return KB_ERR_CACHE_MISS;
	if ((line = next_line(p, end)) == NULL ||
	    parse_time(field(line, "fetched"), fetched) != 0)
		return KB_ERR_CACHE_CORRUPT;
	return 0;
}

/* "key NAME TYPE BASE64 OPTS NOTAFTER": split in place into 5 fields. */
static int
split_key_line(char *line, char *f[5])
{
	char *p;
	int i;

	if (strncmp(line, "key ", 4) != 0)
		return -1;
	p = line + 4;
	for (i = 0; i < 5; i++) {
		f[i] = p;
		p = strchr(p, ' ');
		if (i < 4) {
			if (p == NULL)
				return -1;
			*p++ = '\0';
		}
	}
	if (p != NULL)
		return -1;
	for (i = 0; i < 5; i++)
		if (f[i][0] == '\0')
			return -1;
	/* TYPE and BASE64 go back together as the key text */
	f[1][strlen(f[1])] = ' ';
	return 0;
}

static int
parse_keys(char **p, char *end, const struct kb_config *cfg,
    const struct kb_query *q, time_t now, lookup_note_fn note, void *ctx,
    struct kb_answer *a)
{
	char *line, *f[5], *opts, *na;
	ssize_t optslen;
	size_t n = 0;
	int r;

	while ((line = next_line(p, end)) != NULL) {
		if (strncmp(line, "end ", 4) == 0) {
			if (*p != end || strspn(line + 4, "0123456789") !=
			    strlen(line + 4) || line[4] == '\0' ||
			    strtoull(line + 4, NULL, 10) != n)
				return KB_ERR_CACHE_CORRUPT;
			return 0;
		}
		if (split_key_line(line, f) != 0)
			return KB_ERR_CACHE_CORRUPT;
		/* f[1] now holds "TYPE BASE64", f[2] its second half */
		opts = f[3];
		na = f[4];
		optslen = 0;
		if (strcmp(opts, "-") != 0 && (optslen = unhex(opts)) <= 0)
			return KB_ERR_CACHE_CORRUPT;
		if (strcmp(na, "-") == 0)
			na = NULL;
		r = lookup_add_key(cfg, q, now, f[0], strlen(f[0]), f[1],
		    strlen(f[1]), optslen > 0 ? opts : NULL, (size_t)optslen,
		    na, na ? strlen(na) : 0, note, ctx, a);
		if (r != 0)
			return r;
		n++;
	}
	return KB_ERR_CACHE_CORRUPT;
}

int
cache_load(struct kb_cache *c, const struct kb_config *cfg,
    const struct kb_query *q, unsigned flags, time_t now,
    lookup_note_fn note, void *ctx, struct kb_answer **ap)
{
	struct buf b = { NULL, 0, 0 };
	struct kb_answer *a = NULL;
	char name[NAME_LEN + 1], *p;
	int all = (flags & KB_CACHE_ALL_KEYS) != 0, r = KB_ERR_INTERNAL;

	*ap = NULL;
	if (c == NULL) {
		r = KB_ERR_CACHE_MISS;
		goto out;
	}
	if ((r = cache_name(q, all, name)) != 0 ||
	    (r = read_file(c, name, &b)) != 0 ||
	    (r = lookup_answer_new(&a)) != 0)
		goto out;
	if (memchr(b.s, '\0', b.len) != NULL) {
		r = KB_ERR_CACHE_CORRUPT;
		goto out;
	}
	p = b.s;
	if ((r = check_header(&p, b.s + b.len, q, all, &a->fetched)) != 0 ||
	    (r = parse_keys(&p, b.s + b.len, cfg, q, now, note, ctx, a)) != 0)
		goto out;
	lookup_finish(cfg, a, note, ctx);
	*ap = a;
	a = NULL;
	r = 0;
 out:
	lookup_answer_free(a);
	free(b.s);
	return r;
}
