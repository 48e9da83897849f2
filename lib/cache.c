/*
 * cache.c - keybound-keys' answer cache and its serving policy.
 *
 * File format (one record per line; printable ASCII but for key pair
 * names, which are UTF-8 without spaces), one file per user:
 *
 *	keybound-cache 2
 *	user HEX(user bytes)
 *	instance INSTANCE
 *	[floor SECONDS.NANOSECONDS]
 *	[touch *|SHA256:...]
 *	answer *|SHA256:... SECONDS.NANOSECONDS NKEYS
 *	key SHA256:... NAME TYPE BASE64 HEX(options)|- NOTAFTER|-
 *	[signed-pair BASE64(record) BASE64(SSHSIG)]
 *	[signed-group BASE64(record) BASE64(SSHSIG)]
 *	...
 *	end NANSWERS
 *
 * Nothing read back is trusted: the header must match the query exactly
 * and every key line is handed to lookup_add_cached_key(), the checks of a
 * directory value but the cryptographic ones (the key passed them before
 * it was stored, and only this account can write cache_dir); the stored
 * fingerprint (used to remove a revoked key) must be the one the key
 * hashes to.
 *
 * With trusted_signers every key must carry its signed records (the
 * pair's, and the host group's when a group attachment granted it): on
 * load the decision is made again from the records alone
 * (lookup_add_signed_key()), so the account that owns cache_dir can no
 * longer grant a key no trusted signer vouched for; an answer with a key
 * whose records are missing or refused is not served at all.
 *
 * An answer the directory gives again unchanged is not rewritten: the
 * file's modification time is set to the new stamp instead (one
 * utimensat, no new file, no rename).  The "touch" line names the one
 * answer whose stamp the modification time may advance; a writer names
 * the answer it records, and only when that answer is the newest in the
 * file, so the modification time stays the newest stamp (what pruning
 * relies on).  Readers take the later of that answer's written stamp and
 * the modification time; both come from the same open file, whose bytes
 * a touch never changes.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kb.h"
#include "cache.h"
#include "config.h"
#include "lookup.h"
#include "safefile.h"
#include "sha256.h"

#define CACHE_MAGIC	"keybound-cache 2"
#define NAME_LEN	(2 + 2 * 32)	/* "u-" + hex SHA-256 */
#define PRUNE_MARK	".pruned"
#define GLOBAL_FLOOR	".floor"
#define NSEC		1000000000LL
#define STAMP_MAX_S	8589934591ULL

struct kb_cache {
	int dfd;
};

struct buf {
	char *s;
	size_t len;
	size_t cap;
};

/* One key of a cached answer; strings belong to the file buffer or to
   the directory's answer, never to this struct. */
struct ckey {
	const char *fp;
	const char *name;
	const char *key_text;		/* "TYPE BASE64" */
	const char *opts;		/* raw options or NULL */
	const char *not_after;		/* or NULL */
	const char *signed_pair;	/* "B64 B64" records, or NULL */
	const char *signed_group;
};

/* One answer the directory gave: all keys ("*") or one fingerprint. */
struct canswer {
	const char *fp;
	struct timespec stamp;
	struct ckey *keys;
	size_t nkeys;
};

/* A user's file, parsed. */
struct cfile {
	struct canswer *ans;
	size_t n;
	struct timespec floor;		/* newest answer that took keys away,
					   or zero */
	const char *touch;		/* answer whose stamp the file's
					   mtime may advance, or NULL */
	struct timespec mtime;		/* the file's modification time */
	struct buf raw;
};

static const char hexdigits[] = "0123456789abcdef";

int
cache_open(const char *dir, struct kb_cache **cp)
{
	struct kb_cache *c = NULL;
	int fd = -1, r = KB_ERR_INTERNAL;

	*cp = NULL;
	if ((r = safefile_dir_open(dir, &fd)) != 0)
		goto out;
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

/* ---- small pieces ---- */

/* File name for (user, instance). */
static int
cache_name(const struct kb_query *q, char name[NAME_LEN + 1])
{
	struct kb_sha256 c;
	unsigned char md[KB_SHA256_LEN];
	unsigned int i;

	sha256_init(&c);
	sha256_update(&c, "keybound-cache-2", 17);
	sha256_update(&c, q->user, q->userlen);
	sha256_update(&c, "", 1);
	sha256_update(&c, q->instance, strlen(q->instance));
	sha256_final(&c, md);
	name[0] = 'u';
	name[1] = '-';
	for (i = 0; i < KB_SHA256_LEN; i++) {
		name[2 + 2 * i] = hexdigits[md[i] >> 4];
		name[3 + 2 * i] = hexdigits[md[i] & 0xf];
	}
	name[NAME_LEN] = '\0';
	return 0;
}

static long long
ts_ns(const struct timespec *t)
{
	return (long long)t->tv_sec * NSEC + t->tv_nsec;
}

static int
ts_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

/* The longest any answer may be kept: max(cache_ttl, offline_max_age). */
static long long
horizon_ns(const struct kb_config *cfg)
{
	unsigned s = cfg->cache_ttl > cfg->offline_max_age ?
	    cfg->cache_ttl : cfg->offline_max_age;

	return (long long)s * NSEC;
}

static void
cfile_free(struct cfile *cf)
{
	size_t i;

	for (i = 0; i < cf->n; i++)
		free(cf->ans[i].keys);
	free(cf->ans);
	free(cf->raw.s);
	memset(cf, 0, sizeof(*cf));
}

static struct canswer *
cfile_find(struct cfile *cf, const char *fp)
{
	size_t i;

	for (i = 0; i < cf->n; i++)
		if (strcmp(cf->ans[i].fp, fp) == 0)
			return &cf->ans[i];
	return NULL;
}

static void
cfile_remove(struct cfile *cf, struct canswer *an)
{
	size_t i = (size_t)(an - cf->ans);

	free(an->keys);
	memmove(&cf->ans[i], &cf->ans[i + 1],
	    (cf->n - i - 1) * sizeof(cf->ans[0]));
	cf->n--;
}

/* Append an answer with room for nkeys keys; NULL without memory. */
static struct canswer *
cfile_add(struct cfile *cf, const char *fp, const struct timespec *stamp,
    size_t nkeys)
{
	struct canswer *n, *an;

	if ((n = reallocarray(cf->ans, cf->n + 1, sizeof(*n))) == NULL)
		return NULL;
	cf->ans = n;
	an = &cf->ans[cf->n];
	memset(an, 0, sizeof(*an));
	if (nkeys > 0 && (an->keys = calloc(nkeys, sizeof(*an->keys))) ==
	    NULL)
		return NULL;
	an->fp = fp;
	an->stamp = *stamp;
	cf->n++;
	return an;
}

/* ---- reading ---- */

static int
read_file(struct kb_cache *c, const char *name, struct buf *b,
    struct timespec *mtime)
{
	struct stat st;
	ssize_t n;
	int fd, r = KB_ERR_INTERNAL;

	if ((r = safefile_open(c->dfd, name, &fd, &st)) != 0)
		return r;
	if (st.st_size <= 0 || st.st_size > KB_CACHE_MAX_BYTES) {
		r = KB_ERR_CACHE_CORRUPT;
		goto out;
	}
	if (mtime != NULL)
		*mtime = st.st_mtim;
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

/* Split line in place at single spaces into exactly n non-empty fields. */
static int
split_fields(char *line, char **f, int n)
{
	char *p = line;
	int i;

	for (i = 0; i < n; i++) {
		f[i] = p;
		p = strchr(p, ' ');
		if ((p == NULL) != (i == n - 1))
			return -1;
		if (p != NULL)
			*p++ = '\0';
		if (f[i][0] == '\0')
			return -1;
	}
	return 0;
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

/* A decimal number of at most maxdigits digits, no sign, no padding. */
static int
parse_uint(const char *s, size_t maxdigits, unsigned long long *vp)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n != strlen(s) || n > maxdigits ||
	    (n > 1 && s[0] == '0'))
		return -1;
	*vp = strtoull(s, NULL, 10);
	return 0;
}

/* "SECONDS.NANOSECONDS" with exactly nine digits after the point. */
static int
parse_stamp(char *s, struct timespec *t)
{
	unsigned long long sec, nsec;
	char *dot = strchr(s, '.');

	if (dot == NULL || strlen(dot + 1) != 9 ||
	    strspn(dot + 1, "0123456789") != 9)
		return -1;
	*dot = '\0';
	/* at most 2^33 - 1 seconds (year 2242): nanoseconds fit in 63 bits */
	if (parse_uint(s, 10, &sec) != 0 || sec > STAMP_MAX_S)
		return -1;
	nsec = strtoull(dot + 1, NULL, 10);
	t->tv_sec = (time_t)sec;
	t->tv_nsec = (long)nsec;
	return 0;
}

static int
parse_header(char **p, char *end, const struct kb_query *q)
{
	char *line, *v;
	ssize_t ulen;

	if ((line = next_line(p, end)) == NULL || strcmp(line, CACHE_MAGIC))
		return KB_ERR_CACHE_CORRUPT;
	if ((line = next_line(p, end)) == NULL ||
	    strncmp(line, "user ", 5) != 0)
		return KB_ERR_CACHE_CORRUPT;
	v = line + 5;
	if ((ulen = unhex(v)) < 0)
		return KB_ERR_CACHE_CORRUPT;
	if ((size_t)ulen != q->userlen || memcmp(v, q->user, q->userlen))
		return KB_ERR_CACHE_MISS;	/* a hash collision */
	if ((line = next_line(p, end)) == NULL ||
	    strncmp(line, "instance ", 9) != 0)
		return KB_ERR_CACHE_CORRUPT;
	if (strcmp(line + 9, q->instance) != 0)
		return KB_ERR_CACHE_MISS;
	return 0;
}

/* "key FP NAME TYPE BASE64 OPTS NOTAFTER" into k (pointing into line). */
static int
parse_key(char *line, struct ckey *k)
{
	char *f[6];
	ssize_t optslen;

	if (strncmp(line, "key ", 4) != 0 || split_fields(line + 4, f, 6))
		return KB_ERR_CACHE_CORRUPT;
	f[2][strlen(f[2])] = ' ';	/* TYPE and BASE64 back together */
	k->fp = f[0];
	k->name = f[1];
	k->key_text = f[2];
	k->opts = NULL;
	if (strcmp(f[4], "-") != 0) {
		if ((optslen = unhex(f[4])) <= 0 ||
		    strlen(f[4]) != (size_t)optslen)
			return KB_ERR_CACHE_CORRUPT;
		k->opts = f[4];
	}
	k->not_after = strcmp(f[5], "-") == 0 ? NULL : f[5];
	return 0;
}

/*
 * An optional "TAG B64 B64" line after a key line: its value (in the
 * buffer), NULL when the next line is not one.
 */
static int
parse_signed(char **p, char *end, const char *tag, const char **vp)
{
	size_t tlen = strlen(tag);
	char *line, *v, *sp;

	*vp = NULL;
	if ((size_t)(end - *p) <= tlen || strncmp(*p, tag, tlen) != 0)
		return 0;
	if ((line = next_line(p, end)) == NULL)
		return KB_ERR_CACHE_CORRUPT;
	v = line + tlen;
	if ((sp = strchr(v, ' ')) == NULL || sp == v || sp[1] == '\0' ||
	    strchr(sp + 1, ' ') != NULL ||
	    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/= ") != strlen(v))
		return KB_ERR_CACHE_CORRUPT;
	*vp = v;
	return 0;
}

/* "answer FP STAMP NKEYS" and its key lines. */
static int
parse_answer(char *line, char **p, char *end, struct cfile *cf)
{
	struct canswer *an;
	struct timespec stamp;
	unsigned long long nkeys;
	char *f[3];
	size_t i;
	int r;

	if (strncmp(line, "answer ", 7) != 0 ||
	    split_fields(line + 7, f, 3) != 0 ||
	    (strcmp(f[0], "*") != 0 && strncmp(f[0], "SHA256:", 7) != 0) ||
	    parse_stamp(f[1], &stamp) != 0 || parse_uint(f[2], 6, &nkeys) ||
	    cfile_find(cf, f[0]) != NULL || cf->n >= KB_CACHE_MAX_ANSWERS ||
	    nkeys > (unsigned long long)(end - *p) / 16)
		return KB_ERR_CACHE_CORRUPT;
	if ((an = cfile_add(cf, f[0], &stamp, (size_t)nkeys)) == NULL)
		return KB_ERR_NOMEM;
	for (i = 0; i < nkeys; i++) {
		if ((line = next_line(p, end)) == NULL)
			return KB_ERR_CACHE_CORRUPT;
		if ((r = parse_key(line, &an->keys[i])) != 0 ||
		    (r = parse_signed(p, end, "signed-pair ",
		    &an->keys[i].signed_pair)) != 0 ||
		    (an->keys[i].signed_pair != NULL &&
		    (r = parse_signed(p, end, "signed-group ",
		    &an->keys[i].signed_group)) != 0))
			return r;
		an->nkeys++;
	}
	return 0;
}

/*
 * The touch line's answer is stamped with the later of its written stamp
 * and the file's modification time; a touch line naming no answer makes
 * the file corrupt.
 */
static int
touch_apply(struct cfile *cf)
{
	struct canswer *an;

	if (cf->touch == NULL)
		return 0;
	if ((an = cfile_find(cf, cf->touch)) == NULL)
		return -1;
	if (ts_cmp(&cf->mtime, &an->stamp) > 0)
		an->stamp = cf->mtime;
	return 0;
}

/* Read and parse q's user file; KB_ERR_CACHE_MISS if there is none. */
static int
cfile_load(struct kb_cache *c, const struct kb_query *q,
    const char *name, struct cfile *cf)
{
	unsigned long long n;
	char *p, *end, *line;
	int r;

	memset(cf, 0, sizeof(*cf));
	if ((r = read_file(c, name, &cf->raw, &cf->mtime)) != 0)
		goto out;
	if (memchr(cf->raw.s, '\0', cf->raw.len) != NULL) {
		r = KB_ERR_CACHE_CORRUPT;
		goto out;
	}
	p = cf->raw.s;
	end = cf->raw.s + cf->raw.len;
	if ((r = parse_header(&p, end, q)) != 0)
		goto out;
	r = KB_ERR_CACHE_CORRUPT;
	while ((line = next_line(&p, end)) != NULL) {
		if (strncmp(line, "floor ", 6) == 0 && cf->n == 0 &&
		    cf->floor.tv_sec == 0 && cf->floor.tv_nsec == 0) {
			if (parse_stamp(line + 6, &cf->floor) != 0 ||
			    (cf->floor.tv_sec == 0 && cf->floor.tv_nsec == 0))
				break;
			continue;
		}
		if (strncmp(line, "touch ", 6) == 0 && cf->n == 0 &&
		    cf->touch == NULL) {
			cf->touch = line + 6;
			if (strcmp(cf->touch, "*") != 0 &&
			    strncmp(cf->touch, "SHA256:", 7) != 0)
				break;
			continue;
		}
		if (strncmp(line, "end ", 4) == 0) {
			if (p == end && parse_uint(line + 4, 6, &n) == 0 &&
			    n == cf->n && touch_apply(cf) == 0)
				r = 0;
			break;
		}
		if ((r = parse_answer(line, &p, end, cf)) != 0)
			break;
		r = KB_ERR_CACHE_CORRUPT;
	}
 out:
	if (r != 0)
		cfile_free(cf);
	return r;
}

/* ---- the serving policy ---- */

/*
 * Build the answer q gets from one cached answer: every key re-checked
 * as untrusted, and its stored fingerprint must be the key's.
 */
static int
answer_from(const struct kb_config *cfg, const struct kb_query *q,
    const struct canswer *an, time_t now, lookup_note_fn note, void *ctx,
    struct kb_answer **ap)
{
	struct kb_answer *a = NULL;
	const struct ckey *k;
	size_t i, before;
	int r;

	*ap = NULL;
	if ((r = lookup_answer_new(&a)) != 0)
		goto out;
	for (i = 0; i < an->nkeys; i++) {
		k = &an->keys[i];
		before = a->nkeys;
		if (cfg->trusted_signers != NULL)
			r = lookup_add_signed_key(cfg, q, now, k->signed_pair,
			    k->signed_group, note, ctx, a);
		else
			r = lookup_add_cached_key(cfg, q, now, k->name,
			    strlen(k->name), k->key_text,
			    strlen(k->key_text), k->opts,
			    k->opts ? strlen(k->opts) : 0, k->not_after,
			    k->not_after ? strlen(k->not_after) : 0, note,
			    ctx, a);
		if (r != 0)
			goto out;
		if (a->nkeys > before &&
		    strcmp(a->keys[before].fingerprint, k->fp) != 0) {
			r = KB_ERR_CACHE_CORRUPT;
			goto out;
		}
	}
	lookup_finish(cfg, a, note, ctx);
	a->fetched = an->stamp;
	*ap = a;
	a = NULL;
	r = 0;
 out:
	lookup_answer_free(a);
	return r;
}

/* Keys of an that a fingerprint query for fp would get (by stored fp). */
static size_t
keys_matching(const struct canswer *an, const char *fp)
{
	size_t i, n = 0;

	for (i = 0; i < an->nkeys; i++)
		if (strcmp(an->keys[i].fp, fp) == 0)
			n++;
	return n;
}

/*
 * The answer that speaks for q: the all-keys answer, or for a
 * fingerprint the newer of its own answer and the all-keys one (on a tie,
 * the one granting less).
 */
static const struct canswer *
choose_answer(struct cfile *cf, const struct kb_query *q)
{
	const struct canswer *all = cfile_find(cf, "*"), *own;
	int cmp;

	if (q->fingerprint == NULL)
		return all;
	own = cfile_find(cf, q->fingerprint);
	if (own == NULL || all == NULL)
		return own != NULL ? own : all;
	cmp = ts_cmp(&own->stamp, &all->stamp);
	if (cmp == 0)
		return own->nkeys <= keys_matching(all, q->fingerprint) ?
		    own : all;
	return cmp > 0 ? own : all;
}

/*
 * Stamps come from this host's clock: one further ahead than a second
 * means the clock was set back, and the answer's age is unknown.
 */
static enum kb_cache_state
judge_age(const struct kb_config *cfg, long long age_ns)
{
	if (age_ns < -(long long)KB_CACHE_FUTURE_S * NSEC)
		return KB_CACHE_FUTURE;
	if (age_ns < 0)
		age_ns = 0;
	if (age_ns < (long long)cfg->cache_ttl * NSEC)
		return KB_CACHE_FRESH;
	if (cfg->offline_max_age > 0 &&
	    age_ns <= (long long)cfg->offline_max_age * NSEC)
		return KB_CACHE_OFFLINE;
	return KB_CACHE_TOO_OLD;
}

/* cache_consult(); an OFFLINE answer is built only with offline. */
static int
consult(struct kb_cache *c, const struct kb_config *cfg,
    const struct kb_query *q, const struct timespec *now,
    lookup_note_fn note, void *ctx, int offline, struct kb_cached *out)
{
	struct cfile cf;
	const struct canswer *an;
	char name[NAME_LEN + 1];
	long long age;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&cf, 0, sizeof(cf));
	if (c == NULL)
		return 0;
	if ((r = cache_name(q, name)) != 0)
		return r;
	if ((r = cfile_load(c, q, name, &cf)) != 0)
		return r == KB_ERR_CACHE_MISS ? 0 : r;
	if ((an = choose_answer(&cf, q)) == NULL)
		goto out;
	age = ts_ns(now) - ts_ns(&an->stamp);
	out->age_ms = age / 1000000;
	out->state = judge_age(cfg, age);
	if (out->state == KB_CACHE_FRESH ||
	    (out->state == KB_CACHE_OFFLINE && offline)) {
		r = answer_from(cfg, q, an, now->tv_sec, note, ctx,
		    &out->answer);
		if (r != 0)
			out->state = KB_CACHE_NONE;
	}
 out:
	cfile_free(&cf);
	return r;
}

int
cache_consult(struct kb_cache *c, const struct kb_config *cfg,
    const struct kb_query *q, const struct timespec *now,
    lookup_note_fn note, void *ctx, struct kb_cached *out)
{
	return consult(c, cfg, q, now, note, ctx, 1, out);
}

int
cache_consult_fresh(struct kb_cache *c, const struct kb_config *cfg,
    const struct kb_query *q, const struct timespec *now,
    lookup_note_fn note, void *ctx, struct kb_cached *out)
{
	return consult(c, cfg, q, now, note, ctx, 0, out);
}

/* ---- superseding ---- */

/* The directory's answer as a cached answer (strings stay a's). */
static int
add_directory_answer(struct cfile *cf, const char *fp,
    const struct kb_answer *a)
{
	struct canswer *an;
	size_t i;

	if ((an = cfile_add(cf, fp, &a->fetched, a->nkeys)) == NULL)
		return KB_ERR_NOMEM;
	for (i = 0; i < a->nkeys; i++) {
		an->keys[i].fp = a->keys[i].fingerprint;
		an->keys[i].name = a->keys[i].name;
		an->keys[i].key_text = a->keys[i].key_text;
		an->keys[i].opts = a->keys[i].options;
		an->keys[i].not_after = a->keys[i].not_after;
		an->keys[i].signed_pair = a->keys[i].signed_pair;
		an->keys[i].signed_group = a->keys[i].signed_group;
	}
	an->nkeys = a->nkeys;
	return 0;
}

/* Drop fp's key from an (an empty answer for fp is newer). */
static void
drop_key(struct canswer *an, const char *fp)
{
	size_t i = 0;

	while (i < an->nkeys) {
		if (strcmp(an->keys[i].fp, fp) == 0) {
			memmove(&an->keys[i], &an->keys[i + 1],
			    (an->nkeys - i - 1) * sizeof(an->keys[0]));
			an->nkeys--;
		} else
			i++;
	}
}

/*
 * An all-keys answer: it replaces every older answer for the user (on a
 * tie, an all-keys answer granting no more than it stays).
 */
static int
merge_all(struct cfile *cf, const struct kb_answer *a, int add)
{
	struct canswer *an;
	size_t i = 0;
	int cmp;

	while (i < cf->n) {
		an = &cf->ans[i];
		cmp = ts_cmp(&an->stamp, &a->fetched);
		if (cmp < 0 || (cmp == 0 &&
		    (strcmp(an->fp, "*") != 0 || an->nkeys > a->nkeys)))
			cfile_remove(cf, an);
		else
			i++;
	}
	if (!add || cfile_find(cf, "*") != NULL)
		return 0;		/* a newer all-keys answer stays */
	return add_directory_answer(cf, "*", a);
}

/* A fingerprint answer: replaces its own older answer; empty, it also
   takes the key out of an older all-keys answer. */
static int
merge_fingerprint(struct cfile *cf, const char *fp,
    const struct kb_answer *a, int add)
{
	struct canswer *own = cfile_find(cf, fp), *all = cfile_find(cf, "*");

	if (a->nkeys == 0 && all != NULL &&
	    ts_cmp(&all->stamp, &a->fetched) <= 0)
		drop_key(all, fp);
	if (own != NULL) {
		if (ts_cmp(&own->stamp, &a->fetched) > 0 ||
		    (ts_cmp(&own->stamp, &a->fetched) == 0 &&
		    own->nkeys <= a->nkeys))
			return 0;	/* ours is older: keep the newer */
		cfile_remove(cf, own);
	}
	if (a->nkeys == 0 || !add)
		return 0;
	return add_directory_answer(cf, fp, a);
}

/*
 * Forget answers stamped further ahead than KB_CACHE_FUTURE_S: they were
 * stored before the clock was set back.  Kept, they would stop every
 * newer answer (stamped by the corrected clock) from replacing them, and
 * come back as fresh once the clock caught up, a detach in between
 * notwithstanding.
 */
static void
drop_future(struct cfile *cf, const struct timespec *now)
{
	size_t i = 0;

	while (i < cf->n) {
		if (ts_ns(&cf->ans[i].stamp) - ts_ns(now) >
		    (long long)KB_CACHE_FUTURE_S * NSEC)
			cfile_remove(cf, &cf->ans[i]);
		else
			i++;
	}
}

/* Forget answers too old to serve, and the oldest past the bound. */
static void
drop_old(struct cfile *cf, const struct kb_config *cfg,
    const struct timespec *now)
{
	size_t i = 0, oldest;

	while (i < cf->n) {
		if (ts_ns(now) - ts_ns(&cf->ans[i].stamp) > horizon_ns(cfg))
			cfile_remove(cf, &cf->ans[i]);
		else
			i++;
	}
	while (cf->n > KB_CACHE_MAX_ANSWERS) {
		oldest = 0;
		for (i = 1; i < cf->n; i++)
			if (ts_cmp(&cf->ans[i].stamp,
			    &cf->ans[oldest].stamp) < 0)
				oldest = i;
		cfile_remove(cf, &cf->ans[oldest]);
	}
}

static int
cfile_has_keys(const struct cfile *cf)
{
	size_t i;

	for (i = 0; i < cf->n; i++)
		if (cf->ans[i].nkeys > 0)
			return 1;
	return 0;
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
format_key(struct buf *b, const struct ckey *k)
{
	int r;

	if ((r = buf_str(b, "key ")) != 0 || (r = buf_str(b, k->fp)) != 0 ||
	    (r = buf_str(b, " ")) != 0 || (r = buf_str(b, k->name)) != 0 ||
	    (r = buf_str(b, " ")) != 0 ||
	    (r = buf_str(b, k->key_text)) != 0 || (r = buf_str(b, " ")) != 0)
		return r;
	if (k->opts != NULL && k->opts[0] != '\0')
		r = buf_hex(b, k->opts, strlen(k->opts));
	else
		r = buf_str(b, "-");
	if (r != 0 || (r = buf_str(b, " ")) != 0 ||
	    (r = buf_str(b, k->not_after ? k->not_after : "-")) != 0 ||
	    (r = buf_str(b, "\n")) != 0)
		return r;
	if (k->signed_pair != NULL && ((r = buf_str(b, "signed-pair ")) != 0 ||
	    (r = buf_str(b, k->signed_pair)) != 0 ||
	    (r = buf_str(b, "\n")) != 0))
		return r;
	if (k->signed_pair != NULL && k->signed_group != NULL &&
	    ((r = buf_str(b, "signed-group ")) != 0 ||
	    (r = buf_str(b, k->signed_group)) != 0 ||
	    (r = buf_str(b, "\n")) != 0))
		return r;
	return 0;
}

static int
format_file(const struct kb_query *q, const struct cfile *cf, struct buf *b)
{
	const struct canswer *an;
	char num[96];
	size_t i, j;
	int r;

	if ((r = buf_str(b, CACHE_MAGIC "\nuser ")) != 0 ||
	    (r = buf_hex(b, q->user, q->userlen)) != 0 ||
	    (r = buf_str(b, "\ninstance ")) != 0 ||
	    (r = buf_str(b, q->instance)) != 0 || (r = buf_str(b, "\n")) != 0)
		return r;
	if (ts_ns(&cf->floor) > 0) {
		snprintf(num, sizeof(num), "floor %" PRIdMAX ".%09ld\n",
		    (intmax_t)cf->floor.tv_sec, cf->floor.tv_nsec);
		if ((r = buf_str(b, num)) != 0)
			return r;
	}
	if (cf->touch != NULL && ((r = buf_str(b, "touch ")) != 0 ||
	    (r = buf_str(b, cf->touch)) != 0 || (r = buf_str(b, "\n")) != 0))
		return r;
	for (i = 0; i < cf->n; i++) {
		an = &cf->ans[i];
		snprintf(num, sizeof(num), " %" PRIdMAX ".%09ld %zu\n",
		    (intmax_t)an->stamp.tv_sec, an->stamp.tv_nsec, an->nkeys);
		if ((r = buf_str(b, "answer ")) != 0 ||
		    (r = buf_str(b, an->fp)) != 0 || (r = buf_str(b, num)))
			return r;
		for (j = 0; j < an->nkeys; j++)
			if ((r = format_key(b, &an->keys[j])) != 0)
				return r;
	}
	snprintf(num, sizeof(num), "end %zu\n", cf->n);
	return buf_str(b, num);
}

/*
 * Replace name with b's bytes: temp file, rename.  With durable, the data
 * is synced before the rename and the directory after it.
 *
 * Only a file that grants less than the one it replaces needs that: after
 * a crash the name then holds the new answer, never the older one that
 * still granted the revoked key.  Any other write (the same keys with a
 * newer stamp, more keys, a new file) may be lost to a crash without harm:
 * the name then holds the older answer, which grants no more than the new
 * one, or an empty file, which does not parse and is ignored.  Skipping
 * the two syncs keeps them off the directory path of nearly every miss.
 *
 * mtime (if not NULL) becomes the file's modification time: the stamp of
 * the answer its touch line names.
 */
static int
write_atomic(struct kb_cache *c, const char *name, const struct buf *b,
    int durable, const struct timespec *mtime)
{
	return safefile_replace(c->dfd, name, ".tmp-", b->s, b->len, durable,
	    mtime);
}

/* ---- the writers' lock, counting, pruning ---- */

static int
cache_lock(struct kb_cache *c)
{
	return safefile_lock(c->dfd, KB_CACHE_LOCK_MS);
}

static void
cache_unlock(struct kb_cache *c)
{
	flock(c->dfd, LOCK_UN);
}

static DIR *
open_listing(struct kb_cache *c)
{
	DIR *d;
	int fd;

	if ((fd = openat(c->dfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		close(fd);
	return d;
}

static int
is_user_file(const char *n)
{
	return strncmp(n, "u-", 2) == 0 && strlen(n) == NAME_LEN;
}

/* Whether cache_dir holds KB_CACHE_MAX_FILES user files (unreadable:
   counts as full). */
static int
cache_full(struct kb_cache *c)
{
	struct dirent *de;
	DIR *d;
	size_t n = 0;

	if ((d = open_listing(c)) == NULL)
		return 1;
	while (n < KB_CACHE_MAX_FILES && (de = readdir(d)) != NULL)
		if (is_user_file(de->d_name))
			n++;
	closedir(d);
	return n >= KB_CACHE_MAX_FILES;
}

/* Seconds since the last pruning pass (a large number if never). */
static long long
since_prune(struct kb_cache *c, time_t now)
{
	struct stat st;

	if (fstatat(c->dfd, PRUNE_MARK, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode) || st.st_mtime > now)
		return LLONG_MAX;
	return (long long)(now - st.st_mtime);
}

static void
mark_pruned(struct kb_cache *c)
{
	int fd;

	fd = openat(c->dfd, PRUNE_MARK, O_WRONLY | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd == -1)
		return;
	futimens(fd, NULL);
	close(fd);
}

/* Whether the entry n is left over or too old; the lock is held. */
static int
prunable(struct kb_cache *c, const char *n, long long horizon_s, time_t now)
{
	struct stat st;

	if (strncmp(n, ".tmp-", 5) == 0)
		return 1;		/* only lock holders write these */
	/* floors.c's, left by a crash (a live one lasts milliseconds) */
	if (strncmp(n, ".ftmp-", 6) == 0)
		return fstatat(c->dfd, n, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_mtime + KB_CACHE_PRUNE_S < now;
	if (strncmp(n, "a-", 2) == 0 && strlen(n) == NAME_LEN)
		return 1;		/* the format before answer stamps */
	if (!is_user_file(n))
		return 0;
	if (fstatat(c->dfd, n, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return 0;
	if (S_ISDIR(st.st_mode))
		return 0;
	/* every answer in a file is older than the file */
	return !S_ISREG(st.st_mode) || st.st_mtime + horizon_s < now;
}

static int
prune_locked(struct kb_cache *c, const struct kb_config *cfg)
{
	struct dirent *de;
	DIR *d;
	time_t now = time(NULL);
	long long horizon_s = horizon_ns(cfg) / NSEC;

	if ((d = open_listing(c)) == NULL)
		return KB_ERR_SYSTEM;
	while ((de = readdir(d)) != NULL)
		if (prunable(c, de->d_name, horizon_s, now))
			unlinkat(c->dfd, de->d_name, 0);
	closedir(d);
	mark_pruned(c);
	return 0;
}

int
cache_prune(struct kb_cache *c, const struct kb_config *cfg)
{
	int r;

	if ((r = cache_lock(c)) != 0)
		return r;
	r = prune_locked(c, cfg);
	cache_unlock(c);
	return r;
}

/* ---- recording ---- */

/* One key an answer in a user's file grants (strings in the file buffer). */
struct grant {
	const char *answer_fp;
	const char *key_fp;
	const char *opts;
	const char *not_after;
};

/* Every (answer, key) pair cf grants; *np of them.  NULL with none. */
static struct grant *
grants_of(const struct cfile *cf, size_t *np)
{
	struct grant *g;
	size_t i, j, n = 0;

	*np = 0;
	for (i = 0; i < cf->n; i++)
		n += cf->ans[i].nkeys;
	if (n == 0 || (g = calloc(n, sizeof(*g))) == NULL)
		return NULL;
	for (i = 0; i < cf->n; i++)
		for (j = 0; j < cf->ans[i].nkeys; j++) {
			g[*np].answer_fp = cf->ans[i].fp;
			g[*np].key_fp = cf->ans[i].keys[j].fp;
			g[*np].opts = cf->ans[i].keys[j].opts;
			g[*np].not_after = cf->ans[i].keys[j].not_after;
			(*np)++;
		}
	return g;
}

static int
same_opt(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * Whether cf no longer grants one of the n grants g exactly as it did:
 * a key gone, or kept with other options or another expiry (which may
 * restrict it), counts.
 */
static int
grants_less(struct cfile *cf, const struct grant *g, size_t n)
{
	const struct canswer *an;
	const struct ckey *k;
	size_t i, j;

	for (i = 0; i < n; i++) {
		an = cfile_find(cf, g[i].answer_fp);
		for (j = 0; an != NULL && j < an->nkeys; j++) {
			k = &an->keys[j];
			if (strcmp(k->fp, g[i].key_fp) == 0 &&
			    same_opt(k->opts, g[i].opts) &&
			    same_opt(k->not_after, g[i].not_after))
				break;
		}
		if (an == NULL || j == an->nkeys)
			return 1;
	}
	return 0;
}

/*
 * The newest stamp of an answer without keys that had no user file to go
 * to (a fingerprint nothing matches, a user with no file in a full
 * cache): zero if none.  Written under the lock, read by writers only.
 */
static void
read_global_floor(struct kb_cache *c, struct timespec *t)
{
	struct buf b = { NULL, 0, 0 };
	size_t len;

	memset(t, 0, sizeof(*t));
	if (read_file(c, GLOBAL_FLOOR, &b, NULL) == 0 &&
	    (len = b.len) > 1 &&
	    b.s[len - 1] == '\n') {
		b.s[len - 1] = '\0';
		if (parse_stamp(b.s, t) != 0)
			memset(t, 0, sizeof(*t));
	}
	free(b.s);
}

static int
write_global_floor(struct kb_cache *c, const struct timespec *t)
{
	char num[64];
	struct buf b;

	snprintf(num, sizeof(num), "%" PRIdMAX ".%09ld\n",
	    (intmax_t)t->tv_sec, t->tv_nsec);
	b.s = num;
	b.len = strlen(num);
	b.cap = sizeof(num);
	return write_atomic(c, GLOBAL_FLOOR, &b, 0, NULL);
}

static void
ts_max(struct timespec *a, const struct timespec *b)
{
	if (ts_cmp(b, a) > 0)
		*a = *b;
}

/* A floor stamped further ahead than KB_CACHE_FUTURE_S is forgotten. */
static void
floor_sane(struct timespec *f, const struct timespec *now)
{
	if (ts_ns(f) - ts_ns(now) > (long long)KB_CACHE_FUTURE_S * NSEC)
		memset(f, 0, sizeof(*f));
}

/*
 * Merge a into cf.  An answer with keys asked before the newest answer
 * that took keys away (floor) may hold a key revoked since: it only
 * removes older answers, it adds nothing.
 */
static int
merge_answer(struct cfile *cf, const struct kb_config *cfg,
    const struct kb_query *q, const struct kb_answer *a,
    const struct timespec *floor, const struct timespec *now)
{
	int add, r;

	add = a->nkeys == 0 || ts_cmp(&a->fetched, floor) >= 0;
	drop_future(cf, now);
	if (q->fingerprint == NULL)
		r = merge_all(cf, a, add);
	else
		r = merge_fingerprint(cf, q->fingerprint, a, add);
	if (r == 0)
		drop_old(cf, cfg, now);
	return r;
}

/*
 * The answer the file's modification time may advance (its touch line):
 * the one just recorded (fp), when it is the newest in the file.
 */
static void
choose_touch(struct cfile *cf, const char *fp)
{
	const struct canswer *an = cfile_find(cf, fp);
	size_t i;

	cf->touch = NULL;
	if (an == NULL)
		return;
	for (i = 0; i < cf->n; i++)
		if (ts_cmp(&cf->ans[i].stamp, &an->stamp) > 0)
			return;
	cf->touch = an->fp;
}

/*
 * The directory repeated what the file holds.  *donep = 1 when nothing
 * more is to be written: the merged file is the one read (a newer answer
 * kept this one out), or the only change is the stamp of the touch
 * answer, which is then recorded as the file's modification time alone.
 * old is the file as read (formatted), oldstamp the touch answer's stamp
 * in it.
 */
static int
record_unchanged(struct kb_cache *c, const struct kb_query *q,
    const char *name, struct cfile *cf, const struct buf *old,
    const struct timespec *oldstamp, const char *fp,
    const struct timespec *stamp, int *donep)
{
	struct buf b = { NULL, 0, 0 };
	struct canswer *an;
	struct timespec saved, times[2];
	size_t i;
	int r;

	*donep = 0;
	if ((r = format_file(q, cf, &b)) != 0)
		goto out;
	if (b.len == old->len && memcmp(b.s, old->s, b.len) == 0) {
		*donep = 1;
		goto out;
	}
	if (cf->touch == NULL || strcmp(cf->touch, fp) != 0 ||
	    (an = cfile_find(cf, fp)) == NULL || ts_cmp(&an->stamp, stamp))
		goto out;
	for (i = 0; i < cf->n; i++)
		if (ts_cmp(&cf->ans[i].stamp, stamp) > 0)
			goto out;
	/* the same bytes but for the touch answer's stamp? */
	saved = an->stamp;
	an->stamp = *oldstamp;
	b.len = 0;
	r = format_file(q, cf, &b);
	an->stamp = saved;
	if (r != 0 || b.len != old->len || memcmp(b.s, old->s, b.len) != 0)
		goto out;
	times[0].tv_sec = 0;
	times[0].tv_nsec = UTIME_OMIT;
	times[1] = *stamp;
	if (utimensat(c->dfd, name, times, AT_SYMLINK_NOFOLLOW) != 0) {
		r = KB_ERR_SYSTEM;
		goto out;
	}
	*donep = 1;
 out:
	free(b.s);
	return r;
}

/*
 * Write cf as q's file, durably when it grants less than before; remove
 * the file when nothing is left to keep.  A new file without keys only
 * while the cache is not full, and never for a fingerprint answer.
 * mtime, if not NULL, is the stamp of the answer the touch line names.
 * *storedp: whether the file now holds what a said.
 */
static int
save_file(struct kb_cache *c, const struct kb_config *cfg,
    const struct kb_query *q, const char *name, const struct cfile *cf,
    const struct timespec *mtime, int existed, int revokes, int *storedp)
{
	struct buf b = { NULL, 0, 0 };
	int r, empty = cf->n == 0 && ts_ns(&cf->floor) == 0;

	*storedp = 0;
	if (empty || (!existed && cf->n == 0)) {
		if (existed && unlinkat(c->dfd, name, 0) != 0 &&
		    errno != ENOENT)
			return KB_ERR_SYSTEM;
		if (revokes && fsync(c->dfd) != 0)
			return KB_ERR_SYSTEM;
		*storedp = existed;
		return 0;
	}
	if (!existed && !cfile_has_keys(cf) && cache_full(c)) {
		if (since_prune(c, time(NULL)) < 1)
			return KB_ERR_CACHE_FULL;
		prune_locked(c, cfg);
		if (cache_full(c))
			return KB_ERR_CACHE_FULL;
	}
	if ((r = format_file(q, cf, &b)) == 0)
		r = write_atomic(c, name, &b, revokes, mtime);
	free(b.s);
	*storedp = r == 0;
	return r;
}

/* The locked part of cache_record(); *existedp for the caller's cleanup. */
static int
record_locked(struct kb_cache *c, const struct kb_config *cfg,
    const struct kb_query *q, const struct kb_answer *a, const char *name,
    int *existedp)
{
	struct cfile cf;
	struct grant *before = NULL;
	struct buf old = { NULL, 0, 0 };
	struct timespec now, gfloor, floor, oldstamp;
	const struct canswer *an;
	const char *fp = q->fingerprint != NULL ? q->fingerprint : "*";
	size_t nbefore = 0;
	int r, revokes, stored = 0, have_old = 0, done = 0;

	memset(&cf, 0, sizeof(cf));
	memset(&oldstamp, 0, sizeof(oldstamp));
	*existedp = 1;
	clock_gettime(CLOCK_REALTIME, &now);
	r = cfile_load(c, q, name, &cf);
	if (r == KB_ERR_CACHE_MISS)
		*existedp = 0;
	else if (r != 0 && r != KB_ERR_CACHE_UNSAFE &&
	    r != KB_ERR_CACHE_CORRUPT)
		goto out;
	/* the file as read, to tell an answer repeated from a change */
	if (r == 0 && format_file(q, &cf, &old) == 0) {
		have_old = 1;
		if (cf.touch != NULL && (an = cfile_find(&cf, cf.touch)))
			oldstamp = an->stamp;
	}
	/* an unsafe or corrupt file is replaced like an empty one */
	read_global_floor(c, &gfloor);
	floor_sane(&gfloor, &now);
	floor_sane(&cf.floor, &now);
	floor = cf.floor;
	ts_max(&floor, &gfloor);
	before = grants_of(&cf, &nbefore);
	if (nbefore > 0 && before == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if ((r = merge_answer(&cf, cfg, q, a, &floor, &now)) != 0)
		goto out;
	revokes = grants_less(&cf, before, nbefore);
	if (a->nkeys == 0 || revokes)
		ts_max(&cf.floor, &a->fetched);
	if (have_old && !revokes && a->nkeys > 0 &&
	    (r = record_unchanged(c, q, name, &cf, &old, &oldstamp, fp,
	    &a->fetched, &done)) != 0)
		goto out;
	if (done)
		goto prune;
	choose_touch(&cf, fp);
	an = cf.touch != NULL ? cfile_find(&cf, cf.touch) : NULL;
	r = save_file(c, cfg, q, name, &cf, an != NULL ? &an->stamp : NULL,
	    *existedp, revokes, &stored);
	/* "nothing attached" with no file to hold it: every writer sees it */
	if (a->nkeys == 0 && !stored && (r == 0 || r == KB_ERR_CACHE_FULL) &&
	    ts_cmp(&a->fetched, &gfloor) > 0 &&
	    write_global_floor(c, &a->fetched) != 0 && r == 0)
		r = KB_ERR_SYSTEM;
	if (r != 0)
		goto out;
 prune:
	if (since_prune(c, time(NULL)) >= KB_CACHE_PRUNE_S)
		prune_locked(c, cfg);
 out:
	free(old.s);
	free(before);
	cfile_free(&cf);
	return r;
}

int
cache_record(struct kb_cache *c, const struct kb_config *cfg,
    const struct kb_query *q, const struct kb_answer *a)
{
	char name[NAME_LEN + 1];
	int r, existed = 1;

	if ((r = cache_name(q, name)) != 0)
		return r;
	if ((r = cache_lock(c)) != 0) {
		/*
		 * Another writer kept the lock too long: forget this
		 * user's file rather than keep what the newer answer may
		 * contradict.  (A writer holding the lock may still rename
		 * its own answer in afterwards; that one is then newer than
		 * every answer it merged.)
		 */
		if (r == KB_ERR_CACHE_BUSY)
			unlinkat(c->dfd, name, 0);
		return r;
	}
	r = record_locked(c, cfg, q, a, name, &existed);
	if (r != 0 && r != KB_ERR_CACHE_FULL && existed) {
		/*
		 * The newer answer could not be written: forgetting the
		 * older one is always safe, serving it might not be.
		 */
		unlinkat(c->dfd, name, 0);
		fsync(c->dfd);
	}
	cache_unlock(c);
	return r;
}
