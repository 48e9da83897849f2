/*
 * lookup.c - which keys may USER use on INSTANCE: the one decision path.
 *
 * Directory bytes are untrusted: every entry is re-checked against the
 * filter's user assertions byte for byte (LDAP matching may fold case and
 * trim spaces), every value must be printable ASCII, every key is parsed
 * and checked against policy and expiry, options are parsed against the
 * allow-list, and the output line is rebuilt from parsed data only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kb.h"
#include "config.h"
#include "directory.h"
#include "keyopts.h"
#include "lookup.h"
#include "filter.h"
#include "floors.h"
#include "names.h"
#include "b64.h"
#include "record.h"
#include "signed.h"
#include "sshkey.h"
#include "strbuf.h"

#define MAX_ASSERTIONS		KB_FILTER_MAX_SUBJECT_ITEMS
#define MAX_ATTRS		(16 + MAX_ASSERTIONS)
#define OPTS_MAX		4096
#define GENTIME_MAX		32
#define ANSWER_MAX_KEYS		(KB_DIR_MAX_ENTRIES * 4)
#define ANSWER_MAX_BYTES	(16 * 1024 * 1024)	/* of kept records */
#define REPLAY_ASKS		2	/* searches again when entries come
				   back older than seen, at most */
#define REPLAY_HELD		8	/* their notes held, at most */
#define TOMB_PREFIX		"(&(objectClass=keyboundKeyPair)(|(" \
				KB_ATTR_TOMBSTONE "="

/* A user assertion from the filter template, as bytes the entry must hold. */
struct assertion {
	char *attr;
	char *value;
	size_t len;
	int targets;		/* USER@INSTANCE, widened by host groups */
};

/*
 * A signed host group whose record is built but whose signature is
 * checked only once the key search is sent (verify_groups()).
 */
struct pending_group {
	char *name;
	struct kb_signed_info si;
	int member;		/* lists this instance (else: a tombstone) */
};

/* How an entry grants the key: the attachment and its end. */
struct grant {
	const struct kb_val *via;	/* the attachment value, or NULL */
	int ended;			/* every matching attachment ended */
	int bad_end;			/* an end value that does not parse */
	int blocked;			/* flagged keyboundBlocked */
	int has_end;			/* via is time-boxed ... */
	time_t end;			/* ... until then */
};

struct search_ctx {
	const struct kb_config *cfg;
	const struct kb_query *q;
	time_t now;
	struct assertion as[MAX_ASSERTIONS];
	size_t nas;
	size_t nentries;
	size_t generated;	/* names made up for profiles without cn */
	struct filter_item target;	/* the first targets item ... */
	const struct filter_item *target_item;	/* ... or NULL */
	char *groups[KB_LOOKUP_MAX_GROUPS];	/* sorted, valid names */
	char *group_signed[KB_LOOKUP_MAX_GROUPS]; /* their signed records
						   (trusted_signers) */
	size_t ngroups;
	size_t groups_over;	/* member of more groups than kept */
	struct pending_group *pending;	/* signed groups for verify_groups() */
	size_t npending;
	size_t pending_cap;
	int pending_err;		/* a fatal error it met */
	lookup_note_fn note;
	void *note_ctx;
	struct kb_answer *a;
	const struct kb_signers *signers;	/* trusted_signers, or NULL */
	size_t replayed;	/* entries older than their floor ... */
	uint64_t replay_sum;	/* ... and a digest of which, at what serial */
	struct {		/* their notes, held until no search follows */
		int err;
		char *name;
		const char *why;
	} held[REPLAY_HELD];
	size_t nheld;
};

/* The signed records that grant a key, for the cache (or NULL). */
struct signed_src {
	const char *pair;
	const char *group;
};

static void
notify(lookup_note_fn note, void *ctx, enum kb_note_kind kind, int err,
    const char *name, const char *detail, size_t count)
{
	struct kb_note n;

	if (note == NULL)
		return;
	n.kind = kind;
	n.err = err;
	n.name = name;
	n.detail = detail;
	n.count = count;
	note(ctx, &n);
}

static int
printable_ascii(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * A stored key is "TYPE BASE64" (a comment is tolerated and dropped):
 * single spaces, none leading or trailing.  sshd would repair other
 * spacing; we reject it rather than guess what the writer meant.
 */
static int
spacing_canonical(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == ' ' || s[len - 1] == ' ')
		return 0;
	for (i = 1; i < len; i++)
		if (s[i] == ' ' && s[i - 1] == ' ')
			return 0;
	return 1;
}

static int
two_digits(const char *s, int *v)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	*v = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

int
lookup_parse_gentime(const char *s, size_t len, time_t *tp)
{
	static const int mdays[12] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	struct tm tm;
	int cc, yy, mo, dd, hh, mi, ss, year;
	size_t i;
	time_t t;

	*tp = 0;
	if (len < 15 || len > GENTIME_MAX || s[len - 1] != 'Z')
		return KB_ERR_TIME;
	if (two_digits(s, &cc) || two_digits(s + 2, &yy) ||
	    two_digits(s + 4, &mo) || two_digits(s + 6, &dd) ||
	    two_digits(s + 8, &hh) || two_digits(s + 10, &mi) ||
	    two_digits(s + 12, &ss))
		return KB_ERR_TIME;
	if (len > 15) {
		/* optional fraction of a second: [.,]digits, then 'Z' */
		if ((s[14] != '.' && s[14] != ',') || len < 17)
			return KB_ERR_TIME;
		for (i = 15; i < len - 1; i++)
			if (s[i] < '0' || s[i] > '9')
				return KB_ERR_TIME;
	}
	year = cc * 100 + yy;
	if (year < 1970 || mo < 1 || mo > 12 || dd < 1 || dd > mdays[mo - 1] ||
	    hh > 23 || mi > 59 || ss > 59)
		return KB_ERR_TIME;
	if (mo == 2 && dd == 29 &&
	    !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return KB_ERR_TIME;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = dd;
	tm.tm_hour = hh;
	tm.tm_min = mi;
	tm.tm_sec = ss;
	errno = 0;
	t = timegm(&tm);
	if (t == (time_t)-1 && errno != 0)
		return KB_ERR_TIME;
	*tp = t;
	return 0;
}

int
lookup_format_gentime(time_t t, char *buf, size_t buflen)
{
	struct tm tm;

	if (buflen < 16 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, buflen, "%Y%m%d%H%M%SZ", &tm) != 15)
		return KB_ERR_TIME;
	return 0;
}

/*
 * libldap's global initialisation looks up this host's own name, and any
 * host name in a URI needs DNS too.  glibc's default (5 s, 2 attempts per
 * server) outlasts the whole deadline when DNS is unreachable, so bound
 * each query by network_timeout: the lookup then fails fast enough for the
 * directory to answer within timeout.
 */
int
lookup_prepare(const struct kb_config *cfg)
{
	char opts[64];
	unsigned t = cfg->network_timeout;

	if (t < 1)
		t = 1;
	if (t > 30)
		t = 30;
	snprintf(opts, sizeof(opts), "timeout:%u attempts:1", t);
	if (setenv("RES_OPTIONS", opts, 1) != 0)
		return KB_ERR_SYSTEM;
	return dir_init_env();
}

int
lookup_answer_new(struct kb_answer **ap)
{
	struct kb_answer *a;

	*ap = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return KB_ERR_NOMEM;
	clock_gettime(CLOCK_REALTIME, &a->fetched);
	*ap = a;
	return 0;
}

static void
keyrec_clear(struct kb_keyrec *r)
{
	free(r->name);
	free(r->key_text);
	free(r->options);
	free(r->not_after);
	free(r->fingerprint);
	free(r->line);
	free(r->via);
	free(r->until);
	free(r->signed_pair);
	free(r->signed_group);
	memset(r, 0, sizeof(*r));
}

void
lookup_answer_free(struct kb_answer *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->nkeys; i++)
		keyrec_clear(&a->keys[i]);
	free(a->keys);
	free(a->uri);
	free(a);
}

static int
keyrec_cmp(const void *va, const void *vb)
{
	const struct kb_keyrec *a = va, *b = vb;
	int c;

	if ((c = strcmp(a->name, b->name)) != 0)
		return c;
	return strcmp(a->fingerprint, b->fingerprint);
}

/* Bytes a kept record holds, for the answer's bound. */
static size_t
keyrec_bytes(const struct kb_keyrec *r)
{
	return sizeof(*r) + strlen(r->name) + strlen(r->key_text) +
	    (r->options != NULL ? strlen(r->options) : 0) +
	    (r->not_after != NULL ? strlen(r->not_after) : 0) +
	    strlen(r->fingerprint) + strlen(r->line) +
	    (r->via != NULL ? strlen(r->via) : 0) +
	    (r->until != NULL ? strlen(r->until) : 0) +
	    (r->signed_pair != NULL ? strlen(r->signed_pair) : 0) +
	    (r->signed_group != NULL ? strlen(r->signed_group) : 0);
}

/* Max-heap on keyrec_cmp: restore the order below node i of n. */
static void
heap_sift_down(struct kb_keyrec *k, size_t n, size_t i)
{
	struct kb_keyrec tmp;
	size_t top, c;

	for (;;) {
		top = i;
		for (c = 2 * i + 1; c <= 2 * i + 2 && c < n; c++)
			if (keyrec_cmp(&k[c], &k[top]) > 0)
				top = c;
		if (top == i)
			return;
		tmp = k[i];
		k[i] = k[top];
		k[top] = tmp;
		i = top;
	}
}

/*
 * Move r into a, which holds at most limit records (r is emptied either
 * way).  Below the limit records are appended in arrival order.  At the
 * limit the array becomes a max-heap by name (once), and r replaces the
 * greatest record if it sorts before it; either way one usable key is
 * over the limit.  So a stream of any length needs memory for limit
 * records only; lookup_finish() sorts.
 */
static int
answer_keep(struct kb_answer *a, size_t limit, struct kb_keyrec *r)
{
	struct kb_keyrec *nk;
	size_t ncap, i, rbytes = keyrec_bytes(r);

	if (limit > ANSWER_MAX_KEYS)
		limit = ANSWER_MAX_KEYS;
	if (a->nkeys >= limit) {
		if (a->over_limit++ == 0)
			for (i = a->nkeys / 2; i-- > 0;)
				heap_sift_down(a->keys, a->nkeys, i);
		if (a->nkeys == 0 || keyrec_cmp(r, &a->keys[0]) >= 0) {
			keyrec_clear(r);
			return 0;
		}
		a->kept_bytes -= keyrec_bytes(&a->keys[0]);
		keyrec_clear(&a->keys[0]);
		a->keys[0] = *r;
		memset(r, 0, sizeof(*r));
		heap_sift_down(a->keys, a->nkeys, 0);
		a->kept_bytes += rbytes;
		return a->kept_bytes > ANSWER_MAX_BYTES ? KB_ERR_TOO_LONG : 0;
	}
	if (a->kept_bytes + rbytes > ANSWER_MAX_BYTES) {
		keyrec_clear(r);
		return KB_ERR_TOO_LONG;
	}
	if (a->nkeys == a->cap) {
		ncap = a->cap == 0 ? 8 : a->cap * 2;
		if ((nk = reallocarray(a->keys, ncap, sizeof(*nk))) == NULL) {
			keyrec_clear(r);
			return KB_ERR_NOMEM;
		}
		a->keys = nk;
		a->cap = ncap;
	}
	a->keys[a->nkeys++] = *r;
	a->kept_bytes += rbytes;
	memset(r, 0, sizeof(*r));
	return 0;
}

/* Parse options (dropping unknown ones) and note what was dropped. */
static int
parse_options(const char *opts, size_t optslen, const char *name,
    lookup_note_fn note, void *ctx, struct kb_keyopts *o)
{
	char dropped[256];
	int r;

	dropped[0] = '\0';
	memset(o, 0, sizeof(*o));
	if (optslen == 0)
		return 0;
	r = opts_parse(opts, optslen, KB_OPTS_DROP_UNKNOWN, o, dropped,
	    sizeof(dropped));
	if (r != 0)
		return r;
	dropped[sizeof(dropped) - 1] = '\0';
	if (dropped[0] != '\0')
		notify(note, ctx, KB_NOTE_OPTS_DROPPED, KB_ERR_OPT_UNKNOWN,
		    name, dropped, 0);
	return 0;
}

/* Fill r from a parsed key; the options text is rendered before expiry. */
static int
build_record(const struct kb_key *k, struct kb_keyopts *o, const char *name,
    const char *fp, int has_na, time_t na, struct kb_keyrec *r)
{
	char gt[16];
	int rc;

	if ((r->name = strdup(name)) == NULL ||
	    (r->fingerprint = strdup(fp)) == NULL)
		return KB_ERR_NOMEM;
	if ((rc = key_public_text(k, &r->key_text)) != 0)
		return rc;
	if (o->flags != 0 || o->from != NULL || o->command != NULL) {
		if ((rc = opts_render(o, &r->options)) != 0)
			return rc;
	}
	if (has_na) {
		if ((rc = lookup_format_gentime(na, gt, sizeof(gt))) != 0)
			return rc;
		if ((r->not_after = strdup(gt)) == NULL)
			return KB_ERR_NOMEM;
		o->has_expiry = 1;
		o->expiry = na;
	}
	return key_render_line(k, o, name, &r->line);
}

/* Record which attachment granted r, until when, and the signed records. */
static int
grant_record(const struct grant *g, const struct signed_src *ss,
    struct kb_keyrec *r)
{
	char gt[16];
	int rc;

	if (ss != NULL && ((ss->pair != NULL &&
	    (r->signed_pair = strdup(ss->pair)) == NULL) ||
	    (ss->group != NULL &&
	    (r->signed_group = strdup(ss->group)) == NULL)))
		return KB_ERR_NOMEM;

	if (g->via != NULL &&
	    (r->via = strndup(g->via->bytes, g->via->len)) == NULL)
		return KB_ERR_NOMEM;
	if (g->has_end) {
		if ((rc = lookup_format_gentime(g->end, gt, sizeof(gt))) != 0)
			return rc;
		if ((r->until = strdup(gt)) == NULL)
			return KB_ERR_NOMEM;
	}
	return 0;
}

/*
 * lookup_add_key() with how the directory granted the key (g NULL: from
 * the cache, where that was decided when it was stored); keyflags for
 * the key (KB_KEY_STRUCTURAL for the cache's own records).
 */
static int
add_key(const struct kb_config *cfg, const struct kb_query *q,
    time_t now, const char *name, size_t namelen, const char *key,
    size_t keylen, const char *opts, size_t optslen, const char *notafter,
    size_t notafterlen, const struct grant *g, const struct signed_src *ss,
    lookup_note_fn note, void *ctx, struct kb_answer *a, unsigned keyflags)
{
	struct kb_keyopts o;
	struct kb_keyrec rec;
	struct kb_key *k = NULL;
	char kpname[KB_KEYPAIR_NAME_BYTES + 1];
	char *fp = NULL;
	const char *why = NULL;
	time_t na = 0;
	int has_na = 0, r = KB_ERR_INTERNAL, skip = 0;

	memset(&o, 0, sizeof(o));
	memset(&rec, 0, sizeof(rec));
	kpname[0] = '\0';
	/* names may be UTF-8 (CJK): name_keypair_valid() checks it strictly */
	if (namelen > KB_KEYPAIR_NAME_BYTES || memchr(name, '\0', namelen)) {
		skip = KB_ERR_KEYPAIR_NAME;
		goto skipped;
	}
	memcpy(kpname, name, namelen);
	kpname[namelen] = '\0';
	if (name_keypair_valid(kpname) != 0) {
		kpname[0] = '\0';
		skip = KB_ERR_KEYPAIR_NAME;
		goto skipped;
	}
	if (g != NULL && g->blocked) {
		skip = KB_ERR_KEY_BLOCKED;
		why = "blocked";
		goto skipped;
	}
	if (g != NULL && g->ended) {
		skip = KB_ERR_TIME;
		why = g->bad_end ? "attachment end invalid" :
		    "attachment ended";
		goto skipped;
	}
	if (!printable_ascii(key, keylen) || !printable_ascii(opts, optslen) ||
	    !printable_ascii(notafter, notafterlen)) {
		skip = KB_ERR_KEY_BAD_BYTE;
		goto skipped;
	}
	if (keylen > KB_KEY_LINE_MAX || optslen > OPTS_MAX) {
		skip = KB_ERR_TOO_LONG;
		goto skipped;
	}
	if (!spacing_canonical(key, keylen)) {
		skip = KB_ERR_KEY_FORMAT;
		goto skipped;
	}
	if ((skip = key_parse_line(key, keylen, keyflags, &k)) != 0 ||
	    (skip = key_policy_check(k, cfg->allowed_key_types,
	    cfg->min_rsa_bits)) != 0)
		goto skipped;
	if (notafterlen > 0) {
		if ((skip = lookup_parse_gentime(notafter, notafterlen,
		    &na)) != 0)
			goto skipped;
		if (na <= now) {
			skip = KB_ERR_TIME;
			why = "expired";
			goto skipped;
		}
		has_na = 1;
	}
	/* served until the earlier of the attachment's end and not-after */
	if (g != NULL && g->has_end && (!has_na || g->end < na)) {
		na = g->end;
		has_na = 1;
	}
	if ((r = key_fingerprint_sha256(k, &fp)) != 0)
		goto out;
	if (q->fingerprint != NULL && strcmp(fp, q->fingerprint) != 0) {
		r = 0;		/* not the key asked for */
		goto out;
	}
	if ((skip = parse_options(opts, optslen, kpname, note, ctx, &o)) != 0)
		goto skipped;
	if ((r = build_record(k, &o, kpname, fp, has_na, na, &rec)) != 0 ||
	    (g != NULL && (r = grant_record(g, ss, &rec)) != 0))
		goto out;
	r = answer_keep(a, cfg->max_keys, &rec);
	goto out;
 skipped:
	a->skipped++;
	notify(note, ctx, KB_NOTE_KEY_SKIPPED, skip,
	    kpname[0] != '\0' ? kpname : NULL, why, 0);
	r = 0;
 out:
	keyrec_clear(&rec);
	opts_clear(&o);
	key_free(k);
	free(fp);
	return r;
}

int
lookup_add_key(const struct kb_config *cfg, const struct kb_query *q,
    time_t now, const char *name, size_t namelen, const char *key,
    size_t keylen, const char *opts, size_t optslen, const char *notafter,
    size_t notafterlen, lookup_note_fn note, void *ctx, struct kb_answer *a)
{
	return add_key(cfg, q, now, name, namelen, key, keylen, opts, optslen,
	    notafter, notafterlen, NULL, NULL, note, ctx, a, 0);
}

int
lookup_add_cached_key(const struct kb_config *cfg, const struct kb_query *q,
    time_t now, const char *name, size_t namelen, const char *key,
    size_t keylen, const char *opts, size_t optslen, const char *notafter,
    size_t notafterlen, lookup_note_fn note, void *ctx, struct kb_answer *a)
{
	return add_key(cfg, q, now, name, namelen, key, keylen, opts, optslen,
	    notafter, notafterlen, NULL, NULL, note, ctx, a,
	    KB_KEY_STRUCTURAL);
}

void
lookup_finish(const struct kb_config *cfg, struct kb_answer *a,
    lookup_note_fn note, void *ctx)
{
	size_t i;

	if (a->nkeys > 1)
		qsort(a->keys, a->nkeys, sizeof(a->keys[0]), keyrec_cmp);
	if (a->nkeys > cfg->max_keys) {	/* built with another max_keys */
		a->over_limit += a->nkeys - cfg->max_keys;
		for (i = cfg->max_keys; i < a->nkeys; i++) {
			a->kept_bytes -= keyrec_bytes(&a->keys[i]);
			keyrec_clear(&a->keys[i]);
		}
		a->nkeys = cfg->max_keys;
	}
	if (a->over_limit > 0)
		notify(note, ctx, KB_NOTE_MAX_KEYS, KB_ERR_TOO_LONG, NULL,
		    NULL, a->over_limit);
}

/*
 * Every attr=value item of the template naming %u or %i, as the exact
 * bytes each entry returned must hold (filter.c finds them and refuses
 * templates where that cannot be required).
 */
static int
collect_assertions(const char *tmpl, const struct kb_query *q,
    struct search_ctx *sc)
{
	struct filter_item items[MAX_ASSERTIONS];
	size_t n, i;
	int r;

	if (filter_template_items(tmpl, items, MAX_ASSERTIONS, &n) != 0 ||
	    n == 0 || n > MAX_ASSERTIONS)
		return KB_ERR_FILTER_TEMPLATE;
	for (i = 0; i < n; i++) {
		if ((sc->as[i].attr = strndup(tmpl + items[i].attr,
		    items[i].attrlen)) == NULL)
			return KB_ERR_NOMEM;
		sc->nas = i + 1;
		if ((r = filter_item_value(tmpl, &items[i], q->user,
		    q->userlen, q->instance, &sc->as[i].value,
		    &sc->as[i].len)) != 0)
			return r;
		sc->as[i].targets = items[i].targets;
		if (items[i].targets && sc->target_item == NULL) {
			sc->target = items[i];
			sc->target_item = &sc->target;
		}
	}
	return 0;
}

static const struct kb_attr *
find_attr(const struct kb_attr *attrs, size_t nattrs, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < nattrs; i++)
		if (strcasecmp(attrs[i].name, name) == 0)
			return &attrs[i];
	return NULL;
}

/* Is group (len bytes) one of the host groups this instance is in? */
static int
in_groups(const struct search_ctx *sc, const char *group, size_t len)
{
	size_t lo = 0, hi = sc->ngroups, mid;
	int c;

	if (len == 0 || memchr(group, '\0', len) != NULL)
		return 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		/* groups[mid] is NUL-terminated: strncmp stops there */
		c = strncmp(sc->groups[mid], group, len);
		if (c == 0 && sc->groups[mid][len] != '\0')
			c = 1;
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * Does value v grant what assertion a asks: its exact bytes, or for the
 * targets item USER@+GROUP with GROUP one of this instance's groups.
 */
static int
value_grants(const struct search_ctx *sc, const struct assertion *a,
    const struct kb_val *v)
{
	size_t ulen = sc->q->userlen;

	if (v->len == a->len && memcmp(v->bytes, a->value, a->len) == 0)
		return 1;
	if (!a->targets || sc->ngroups == 0 || v->len < ulen + 3 ||
	    memcmp(v->bytes, sc->q->user, ulen) != 0 ||
	    v->bytes[ulen] != '@' || v->bytes[ulen + 1] != '+')
		return 0;
	return in_groups(sc, v->bytes + ulen + 2, v->len - ulen - 2);
}

/*
 * When attachment v ends: the earliest of the end values "V TIME" naming
 * it (split at the last space: TIME never holds one, a user name may).
 * *bad is set when one names it and its time does not parse.
 */
static int
attachment_end(const struct kb_attr *ends, const struct kb_val *v,
    time_t *endp, int *bad)
{
	const struct kb_val *e;
	const char *sp;
	size_t i, k;
	time_t t;
	int found = 0;

	for (i = 0; ends != NULL && i < ends->nvals; i++) {
		e = &ends->vals[i];
		for (sp = NULL, k = e->len; k > 0; k--)
			if (e->bytes[k - 1] == ' ') {
				sp = e->bytes + k - 1;
				break;
			}
		if (sp == NULL || (size_t)(sp - e->bytes) != v->len ||
		    memcmp(e->bytes, v->bytes, v->len) != 0)
			continue;
		if (lookup_parse_gentime(sp + 1, e->len - v->len - 1,
		    &t) != 0) {
			*bad = 1;
			continue;
		}
		if (!found || t < *endp)
			*endp = t;
		found = 1;
	}
	return found;
}

/*
 * Re-check an entry against every assertion, byte for byte.  For the
 * targets item, pick among the values that grant (USER@INSTANCE and
 * USER@+GROUP) the one lasting longest: permanent first, then the latest
 * end, the direct attachment on a tie.  Returns 0 when the entry does not
 * match at all.
 */
static int
entry_matches(const struct search_ctx *sc, const struct kb_attr *attrs,
    size_t nattrs, struct grant *g)
{
	const struct kb_attr *at, *ends;
	const struct kb_val *v;
	size_t i, j;
	time_t end;
	int found, timed, bad, direct;

	memset(g, 0, sizeof(*g));
	ends = sc->cfg->schema == KB_SCHEMA_KEYBOUND ?
	    find_attr(attrs, nattrs, KB_ATTR_ATTACHMENT_END) : NULL;
	for (i = 0; i < sc->nas; i++) {
		if ((at = find_attr(attrs, nattrs, sc->as[i].attr)) == NULL)
			return 0;
		found = 0;
		for (j = 0; j < at->nvals; j++) {
			v = &at->vals[j];
			if (!value_grants(sc, &sc->as[i], v))
				continue;
			found = 1;
			if (!sc->as[i].targets)
				continue;
			bad = 0;
			timed = attachment_end(ends, v, &end, &bad);
			if (bad) {
				g->bad_end = 1;
				continue;	/* fail closed: not granted */
			}
			if (timed && end <= sc->now)
				continue;
			direct = v->len == sc->as[i].len &&
			    memcmp(v->bytes, sc->as[i].value, v->len) == 0;
			/* keep the one held unless v lasts longer, or as
			   long and is the direct attachment */
			if (g->via != NULL && !g->has_end && (timed || !direct))
				continue;
			if (g->via != NULL && g->has_end && timed &&
			    (end < g->end || (end == g->end && !direct)))
				continue;
			g->via = v;
			g->has_end = timed;
			g->end = timed ? end : 0;
		}
		if (!found)
			return 0;
		if (sc->as[i].targets && g->via == NULL)
			g->ended = 1;
	}
	return 1;
}

/* A single-valued attribute: absent (0, NULL) or exactly one value. */
static int
single_value(const struct kb_attr *at, const struct kb_val **vp)
{
	*vp = NULL;
	if (at == NULL || at->nvals == 0)
		return 0;
	if (at->nvals != 1)
		return -1;
	*vp = &at->vals[0];
	return 0;
}

/* ---- signed entries (trusted_signers) ---- */

/*
 * Judge a verified entry: its serial against its floor (raised to it with
 * raise: every verified entry teaches the host), then its age.  *whyp
 * gets a detail for the note.
 */
static int
signed_judge(const struct kb_config *cfg, struct kb_floors *floors,
    int raise, enum kb_record_kind kind, const char *name, size_t namelen,
    uint64_t serial, uint64_t signed_at, time_t now, const char **whyp)
{
	int r;

	*whyp = "signature";
	if (floors != NULL && (r = floors_check(floors, kind, name, namelen,
	    serial, raise)) != 0) {
		if (r != KB_ERR_SIG_REPLAYED)
			*whyp = "signature: serial floor unusable";
		return r;
	}
	if (signed_at <= (uint64_t)now &&
	    (uint64_t)now - signed_at > cfg->signature_max_age)
		return KB_ERR_SIG_TOO_OLD;
	if (signed_at > (uint64_t)now + KB_SIG_FUTURE_S) {
		*whyp = "signature: signed in the future";
		return KB_ERR_TIME;
	}
	return 0;
}

/* "BASE64(record) BASE64(SSHSIG)", what the cache keeps. */
static int
signed_text(const struct kb_signed_info *si, char **outp)
{
	char *rec = NULL, *sig = NULL;
	int r;

	*outp = NULL;
	if ((r = b64_encode(si->record, si->reclen, &rec)) != 0 ||
	    (r = b64_encode(si->sig, si->siglen, &sig)) != 0)
		goto out;
	if (asprintf(outp, "%s %s", rec, sig) < 0) {
		*outp = NULL;
		r = KB_ERR_NOMEM;
	}
 out:
	free(rec);
	free(sig);
	return r;
}

/* The entry's cn as a printable name for a note, or NULL. */
static const char *
note_name(const struct kb_attr *attrs, size_t nattrs, char *buf,
    size_t buflen)
{
	const struct kb_attr *cn = find_attr(attrs, nattrs, "cn");

	if (cn == NULL || cn->nvals != 1 || cn->vals[0].len >= buflen ||
	    memchr(cn->vals[0].bytes, '\0', cn->vals[0].len) != NULL)
		return NULL;
	memcpy(buf, cn->vals[0].bytes, cn->vals[0].len);
	buf[cn->vals[0].len] = '\0';
	return name_keypair_valid(buf) == 0 ? buf : NULL;
}

/*
 * A skipped entry's note.  An entry older than its floor may be asked for
 * again (lookup_directory()): its note waits for the last answer, so one
 * lookup logs it once.
 */
static void
note_skipped(struct search_ctx *sc, int err, const char *name,
    const char *why)
{
	if (err == KB_ERR_SIG_REPLAYED && sc->nheld < REPLAY_HELD &&
	    name != NULL &&
	    (sc->held[sc->nheld].name = strdup(name)) != NULL) {
		sc->held[sc->nheld].err = err;
		sc->held[sc->nheld++].why = why;
		return;
	}
	notify(sc->note, sc->note_ctx, KB_NOTE_ENTRY_SKIPPED, err, name, why,
	    0);
}

/* Log (or, when the searches are asked again, drop) the held notes. */
static void
held_notes_flush(struct search_ctx *sc, int log)
{
	size_t i;

	for (i = 0; i < sc->nheld; i++) {
		if (log)
			notify(sc->note, sc->note_ctx, KB_NOTE_ENTRY_SKIPPED,
			    sc->held[i].err, sc->held[i].name,
			    sc->held[i].why, 0);
		free(sc->held[i].name);
		sc->held[i].name = NULL;
	}
	sc->nheld = 0;
}

/* FNV-1a of kind, name and serial: which entry came back how old. */
static uint64_t
replay_digest(enum kb_record_kind kind, const char *name, size_t len,
    uint64_t serial)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	h = (h ^ (uint64_t)kind) * 1099511628211ULL;
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ULL;
	for (i = 0; i < 8; i++)
		h = (h ^ ((serial >> (8 * i)) & 0xff)) * 1099511628211ULL;
	return h;
}

/*
 * Verify and judge an entry of kind as received.  0 with *textp (the
 * caller's) when it may count; else *errp and *whyp say why (and the
 * return is 0 too); < 0 only for fatal errors.
 */
static int
entry_verify(struct search_ctx *sc, enum kb_record_kind kind,
    const struct kb_attr *attrs, size_t nattrs, char **textp, int *errp,
    const char **whyp)
{
	struct kb_signed_info si;
	const struct kb_attr *cn;
	int r;

	*textp = NULL;
	*whyp = "signature";
	*errp = signed_entry_verify(sc->signers, kind, attrs, nattrs, &si);
	if (*errp == KB_ERR_NOMEM)
		return KB_ERR_NOMEM;
	if (*errp != 0)
		return 0;
	/* the record holds exactly one cn, or it would not have verified */
	cn = find_attr(attrs, nattrs, "cn");
	*errp = signed_judge(sc->cfg, sc->q->floors, 1, kind,
	    cn->vals[0].bytes, cn->vals[0].len, si.serial, si.signed_at,
	    sc->now, whyp);
	if (*errp == KB_ERR_SIG_REPLAYED) {
		sc->replayed++;
		sc->replay_sum += replay_digest(kind, cn->vals[0].bytes,
		    cn->vals[0].len, si.serial);
	}
	r = *errp == 0 ? signed_text(&si, textp) : 0;
	signed_info_clear(&si);
	return r;
}

/* Does a keyboundTombstone value name this instance or one of its groups? */
static int
tombstoned_here(const struct search_ctx *sc, const struct kb_attr *attrs,
    size_t nattrs)
{
	const struct kb_attr *ts = find_attr(attrs, nattrs, KB_ATTR_TOMBSTONE);
	const struct kb_val *v;
	size_t i, ilen = strlen(sc->q->instance);

	for (i = 0; ts != NULL && i < ts->nvals; i++) {
		v = &ts->vals[i];
		if (v->len == ilen && memcmp(v->bytes, sc->q->instance,
		    ilen) == 0)
			return 1;
		if (v->len > 1 && v->bytes[0] == '+' &&
		    in_groups(sc, v->bytes + 1, v->len - 1))
			return 1;
	}
	return 0;
}

/* The signed record of the group whose attachment via is, or NULL. */
static const char *
via_group_signed(const struct search_ctx *sc, const struct kb_val *via)
{
	size_t ulen = sc->q->userlen, glen, i;

	if (via == NULL || via->len < ulen + 3 || via->bytes[ulen + 1] != '+')
		return NULL;
	glen = via->len - ulen - 2;
	for (i = 0; i < sc->ngroups; i++)
		if (strlen(sc->groups[i]) == glen &&
		    memcmp(sc->groups[i], via->bytes + ulen + 2, glen) == 0)
			return sc->group_signed[i];
	return NULL;
}

/*
 * Keep group name (with its signed record *stext, taken over, or NULL)
 * among the first KB_LOOKUP_MAX_GROUPS by name, sorted; a name seen
 * before is kept once.
 */
static int
group_insert(struct search_ctx *sc, const char *name, char **stext)
{
	char *dup;
	size_t at;
	int c;

	for (at = 0; at < sc->ngroups; at++) {
		if ((c = strcmp(sc->groups[at], name)) == 0)
			return 0;	/* seen */
		if (c > 0)
			break;
	}
	if (sc->ngroups == KB_LOOKUP_MAX_GROUPS) {
		sc->groups_over++;
		if (at == sc->ngroups)
			return 0;	/* sorts last */
		sc->ngroups--;
		free(sc->groups[sc->ngroups]);
		free(sc->group_signed[sc->ngroups]);
	}
	if ((dup = strdup(name)) == NULL)
		return KB_ERR_NOMEM;
	memmove(&sc->groups[at + 1], &sc->groups[at],
	    (sc->ngroups - at) * sizeof(sc->groups[0]));
	memmove(&sc->group_signed[at + 1], &sc->group_signed[at],
	    (sc->ngroups - at) * sizeof(sc->group_signed[0]));
	sc->groups[at] = dup;
	sc->group_signed[at] = stext != NULL ? *stext : NULL;
	if (stext != NULL)
		*stext = NULL;
	sc->ngroups++;
	return 0;
}

static void
groups_clear(struct search_ctx *sc)
{
	size_t i;

	for (i = 0; i < sc->ngroups; i++) {
		free(sc->groups[i]);
		free(sc->group_signed[i]);
		sc->groups[i] = NULL;
		sc->group_signed[i] = NULL;
	}
	sc->ngroups = 0;
	sc->groups_over = 0;
}

static void
pending_clear(struct search_ctx *sc)
{
	size_t i;

	for (i = 0; i < sc->npending; i++) {
		free(sc->pending[i].name);
		signed_info_clear(&sc->pending[i].si);
	}
	sc->npending = 0;
}

/* Keep a signed group for verify_groups(); *si is taken over. */
static int
pending_add(struct search_ctx *sc, const char *name,
    struct kb_signed_info *si, int member)
{
	struct pending_group *p;
	size_t cap;

	if (sc->npending == sc->pending_cap) {
		cap = sc->pending_cap == 0 ? 8 : 2 * sc->pending_cap;
		if ((p = reallocarray(sc->pending, cap, sizeof(*p))) == NULL)
			goto nomem;
		sc->pending = p;
		sc->pending_cap = cap;
	}
	p = &sc->pending[sc->npending];
	if ((p->name = strdup(name)) == NULL)
		goto nomem;
	p->si = *si;
	memset(si, 0, sizeof(*si));
	p->member = member;
	sc->npending++;
	return 0;
 nomem:
	signed_info_clear(si);
	return KB_ERR_NOMEM;
}

/*
 * The signatures of the host groups on_group() kept, checked and judged
 * (serial floors raised from every one that verifies, age) while the key
 * search is on its way (dir_set_idle()), at the latest before the first
 * key entry is looked at.  One that fails gets its note; groups[] is
 * then made again from those that verify, as on_group() makes it without
 * signatures.  A fatal error leaves groups[] empty and stays in
 * pending_err.
 */
static void
verify_groups(struct search_ctx *sc)
{
	struct pending_group *p;
	const char *why;
	char *stext;
	size_t i;
	int err;

	if (sc->npending == 0)
		return;
	groups_clear(sc);
	for (i = 0; i < sc->npending && sc->pending_err == 0; i++) {
		p = &sc->pending[i];
		why = "signature";
		stext = NULL;
		err = signed_info_verify(sc->signers, &p->si);
		if (err == 0)
			err = signed_judge(sc->cfg, sc->q->floors, 1,
			    KB_RECORD_GROUP, p->name, strlen(p->name),
			    p->si.serial, p->si.signed_at, sc->now, &why);
		if (err == KB_ERR_NOMEM) {
			sc->pending_err = err;
			break;
		}
		if (err == KB_ERR_SIG_REPLAYED) {
			sc->replayed++;
			sc->replay_sum += replay_digest(KB_RECORD_GROUP,
			    p->name, strlen(p->name), p->si.serial);
		}
		if (err != 0) {
			note_skipped(sc, err, p->name, why);
			continue;
		}
		if (p->member && ((err = signed_text(&p->si, &stext)) != 0 ||
		    (err = group_insert(sc, p->name, &stext)) != 0))
			sc->pending_err = err;
		free(stext);
	}
	if (sc->pending_err != 0)
		groups_clear(sc);
	else if (sc->groups_over > 0)
		notify(sc->note, sc->note_ctx, KB_NOTE_MAX_GROUPS,
		    KB_ERR_TOO_LONG, NULL, NULL, sc->groups_over);
	pending_clear(sc);
}

static void
verify_groups_idle(void *ctx)
{
	verify_groups(ctx);
}

/*
 * While a search travels (the group search, or the key search when no
 * group is to be verified): the signers' keys, ready to verify.
 */
static void
prepare_signers_idle(void *ctx)
{
	const struct search_ctx *sc = ctx;

	signers_prepare(sc->signers);
}

/* Re-check one entry and hand its keys to lookup_add_key(). */
static int
entry_keys(struct search_ctx *sc, const struct kb_attr *attrs,
    size_t nattrs)
{
	const struct kb_config *cfg = sc->cfg;
	const struct kb_attr *keys;
	const struct kb_val *cn = NULL, *opts = NULL, *na = NULL, *blk = NULL;
	struct grant g;
	struct signed_src ss = { NULL, NULL };
	char gen[KB_KEYPAIR_NAME_MAX + 1], *stext = NULL;
	char nbuf[KB_KEYPAIR_NAME_BYTES + 1];
	const char *why = NULL;
	size_t i;
	int r = 0, named, matched, err = 0;

	if (++sc->nentries > 1 && cfg->schema == KB_SCHEMA_OPENSSH_LPK)
		return KB_ERR_DIR_AMBIGUOUS;
	if (sc->npending > 0)
		verify_groups(sc);	/* before any grant through one */
	if (sc->pending_err != 0)
		return sc->pending_err;
	if (sc->signers != NULL && (r = entry_verify(sc, KB_RECORD_PAIR,
	    attrs, nattrs, &stext, &err, &why)) != 0)
		return r;
	matched = entry_matches(sc, attrs, nattrs, &g);
	if (err != 0) {
		/* one line for an entry this user's answer would have used;
		   a tombstone's carrier for another user is not ours */
		if (matched)
			note_skipped(sc, err, note_name(attrs, nattrs, nbuf,
			    sizeof(nbuf)), why);
		return 0;
	}
	if (!matched) {
		if (sc->signers == NULL || !tombstoned_here(sc, attrs, nattrs))
			notify(sc->note, sc->note_ctx, KB_NOTE_ENTRY_SKIPPED,
			    KB_ERR_USER_NAME, NULL, "attachment mismatch", 0);
		goto out;
	}
	ss.pair = stext;
	ss.group = via_group_signed(sc, g.via);
	named = cfg->schema == KB_SCHEMA_KEYBOUND;
	keys = find_attr(attrs, nattrs, cfg->key_attribute);
	if ((named && single_value(find_attr(attrs, nattrs, "cn"), &cn)) ||
	    single_value(find_attr(attrs, nattrs, cfg->options_attribute),
	    &opts) ||
	    single_value(find_attr(attrs, nattrs, cfg->expiry_attribute),
	    &na) || (named && (cn == NULL || (keys != NULL &&
	    keys->nvals > 1))) ||
	    single_value(find_attr(attrs, nattrs, named ? KB_ATTR_BLOCKED :
	    NULL), &blk)) {
		notify(sc->note, sc->note_ctx, KB_NOTE_ENTRY_SKIPPED,
		    KB_ERR_DIR_PROTOCOL, NULL, "malformed entry", 0);
		goto out;
	}
	/* anything but an exact FALSE is blocked: fail closed */
	g.blocked = blk != NULL && !(blk->len == 5 &&
	    memcmp(blk->bytes, "FALSE", 5) == 0);
	for (i = 0; keys != NULL && i < keys->nvals; i++) {
		if (!named) {
			snprintf(gen, sizeof(gen), "key-%05zu",
			    ++sc->generated);
		}
		r = add_key(cfg, sc->q, sc->now,
		    named ? cn->bytes : gen, named ? cn->len : strlen(gen),
		    keys->vals[i].bytes, keys->vals[i].len,
		    opts ? opts->bytes : NULL, opts ? opts->len : 0,
		    na ? na->bytes : NULL, na ? na->len : 0, &g,
		    sc->signers != NULL ? &ss : NULL, sc->note, sc->note_ctx,
		    sc->a, 0);
		if (r != 0)
			goto out;
	}
 out:
	free(stext);
	return r;
}

static int
on_entry(void *vctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	int r;

	if ((r = entry_keys(vctx, attrs, nattrs)) != 0)
		return r;
	/*
	 * Nothing of the entry is held past this call: what lookup_add_key
	 * kept is bounded by max_keys and ANSWER_MAX_BYTES, so the entry's
	 * bytes need not count toward the search's total.
	 */
	return KB_DIR_ENTRY_RELEASED;
}

/*
 * One host group this instance is a member of: cn single and a valid
 * name, the member value exactly the instance id.  The first
 * KB_LOOKUP_MAX_GROUPS by name are kept, sorted, for value_grants().
 * With trusted_signers its record is rebuilt here and its signature
 * checked by verify_groups(), which then makes groups[] again from the
 * groups that verify; until then groups[] serves the key search's
 * filter only.
 */
static int
on_group(void *vctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	struct search_ctx *sc = vctx;
	struct kb_signed_info si;
	const struct kb_attr *mem;
	const struct kb_val *cn = NULL;
	char name[KB_KEYPAIR_NAME_MAX + 1];
	size_t i, ilen = strlen(sc->q->instance);
	int r, member = 0;

	(void)dn;
	if (single_value(find_attr(attrs, nattrs, "cn"), &cn) != 0 ||
	    cn == NULL || cn->len > KB_KEYPAIR_NAME_MAX ||
	    memchr(cn->bytes, '\0', cn->len) != NULL) {
		notify(sc->note, sc->note_ctx, KB_NOTE_ENTRY_SKIPPED,
		    KB_ERR_KEYPAIR_NAME, NULL, "malformed host group", 0);
		return KB_DIR_ENTRY_RELEASED;
	}
	memcpy(name, cn->bytes, cn->len);
	name[cn->len] = '\0';
	if (name_keypair_valid(name) != 0) {
		notify(sc->note, sc->note_ctx, KB_NOTE_ENTRY_SKIPPED,
		    KB_ERR_KEYPAIR_NAME, NULL, "malformed host group", 0);
		return KB_DIR_ENTRY_RELEASED;
	}
	if (sc->signers != NULL) {
		r = signed_entry_prepare(KB_RECORD_GROUP, attrs, nattrs, &si);
		if (r == KB_ERR_NOMEM)
			return r;
		if (r != 0) {
			note_skipped(sc, r, name, "signature");
			return KB_DIR_ENTRY_RELEASED;
		}
	}
	mem = find_attr(attrs, nattrs, KB_ATTR_MEMBER);
	for (i = 0; mem != NULL && i < mem->nvals; i++)
		if (mem->vals[i].len == ilen &&
		    memcmp(mem->vals[i].bytes, sc->q->instance, ilen) == 0)
			member = 1;
	if (sc->signers != NULL &&
	    (r = pending_add(sc, name, &si, member)) != 0)
		return r;
	if (!member) {
		/* signed: returned for its tombstone, its floor now known */
		if (sc->signers == NULL)
			notify(sc->note, sc->note_ctx, KB_NOTE_ENTRY_SKIPPED,
			    KB_ERR_INSTANCE_NAME, name, "member mismatch", 0);
		return KB_DIR_ENTRY_RELEASED;
	}
	if ((r = group_insert(sc, name, NULL)) != 0)
		return r;
	return KB_DIR_ENTRY_RELEASED;
}

/*
 * The host groups this instance is a member of (the first search): only
 * their names are kept, and the matched-values control keeps a big
 * group's member list on the server.
 */
static int
search_groups(struct search_ctx *sc, struct kb_dir *d, const char *base,
    char *errbuf, size_t errlen)
{
	static const char *const attrs[] = { "cn", KB_ATTR_MEMBER, NULL };
	static const char *const signed_attrs[] = { "cn", KB_ATTR_MEMBER,
	    KB_ATTR_SIGNATURE, KB_ATTR_TOMBSTONE, NULL };
	char *inst = NULL, *filter = NULL;
	size_t dropped = 0;
	int r = KB_ERR_INTERNAL;

	if ((r = filter_escape(sc->q->instance, strlen(sc->q->instance),
	    &inst)) != 0)
		goto out;
	if ((sc->signers == NULL && asprintf(&filter, "(&(objectClass=%s)"
	    "(%s=%s))", KB_OC_HOST_GROUP, KB_ATTR_MEMBER, inst) < 0) ||
	    (sc->signers != NULL && asprintf(&filter, "(&(objectClass=%s)"
	    "(|(%s=%s)(%s=%s)))", KB_OC_HOST_GROUP, KB_ATTR_MEMBER, inst,
	    KB_ATTR_TOMBSTONE, inst) < 0)) {
		filter = NULL;
		r = KB_ERR_NOMEM;
		goto out;
	}
	/*
	 * A signed group's record needs every member: no matched-values
	 * control then (the group entry is bounded like any other).
	 */
	if (sc->signers != NULL)
		r = dir_search(d, base, KB_SCOPE_SUB, filter, signed_attrs, 0,
		    on_group, sc, &dropped);
	else
		r = dir_search_values(d, base, KB_SCOPE_SUB, filter, attrs, 0,
		    KB_ATTR_MEMBER, sc->q->instance, on_group, sc, &dropped);
	if (r != 0 && errlen > 0 && errbuf[0] == '\0')
		snprintf(errbuf, errlen, "host groups: %s", kb_strerror(r));
	if (r == 0 && dropped > 0)
		notify(sc->note, sc->note_ctx, KB_NOTE_VALUES_DROPPED,
		    KB_ERR_TOO_LONG, NULL, "host groups", dropped);
	/* with signers, verify_groups() counts those that verify */
	if (r == 0 && sc->groups_over > 0 && sc->signers == NULL)
		notify(sc->note, sc->note_ctx, KB_NOTE_MAX_GROUPS,
		    KB_ERR_TOO_LONG, NULL, NULL, sc->groups_over);
 out:
	free(inst);
	free(filter);
	return r;
}

/*
 * With trusted_signers: base widened to the key pairs whose tombstone
 * names this instance or one of its groups, so that the host learns the
 * serial a detach signed (one search; keyboundTombstone is indexed):
 * "(|BASE(&(objectClass=keyboundKeyPair)(|(keyboundTombstone=I)
 * (keyboundTombstone=+G1)...)))".
 */
static int
widen_tombstones(const struct search_ctx *sc, char **basep)
{
	struct strbuf b = STRBUF_INIT;
	char *v = NULL, *out = NULL;
	size_t i;
	int r;

	if ((r = filter_escape(sc->q->instance, strlen(sc->q->instance),
	    &v)) != 0)
		goto out;
	if ((r = sb_put(&b, "(|", 2)) != 0 ||
	    (r = sb_put(&b, *basep, strlen(*basep))) != 0 ||
	    (r = sb_put(&b, TOMB_PREFIX, strlen(TOMB_PREFIX))) != 0 ||
	    (r = sb_put(&b, v, strlen(v))) != 0 ||
	    (r = sb_putc(&b, ')')) != 0)
		goto out;
	for (i = 0; i < sc->ngroups; i++) {
		free(v);
		/* group names are valid key pair names: nothing to escape
		   but what filter_escape() escapes */
		if ((r = filter_escape(sc->groups[i], strlen(sc->groups[i]),
		    &v)) != 0)
			goto out;
		if ((r = sb_put(&b, "(" KB_ATTR_TOMBSTONE "=+",
		    strlen(KB_ATTR_TOMBSTONE) + 3)) != 0 ||
		    (r = sb_put(&b, v, strlen(v))) != 0 ||
		    (r = sb_putc(&b, ')')) != 0)
			goto out;
	}
	if ((r = sb_put(&b, ")))", 3)) != 0 || (r = sb_finish(&b, &out)) != 0)
		goto out;
	free(*basep);
	*basep = out;
 out:
	free(b.s);
	free(v);
	return r;
}

/*
 * The filter to send: the key filter, its attachment item widened to
 * this instance's groups (and with trusted_signers to tombstones),
 * narrowed by fingerprint if we can.
 */
static int
build_filter(const struct kb_config *cfg, const struct kb_query *q,
    const struct search_ctx *sc, char **filterp)
{
	char *base = NULL, *fpv = NULL, *f = NULL;
	int r = KB_ERR_INTERNAL;

	*filterp = NULL;
	if ((r = filter_expand_targets(cfg->key_filter, sc->target_item,
	    q->user, q->instance, (const char *const *)sc->groups,
	    sc->ngroups, NULL, &base)) != 0)
		goto out;
	if (sc->signers != NULL && (r = widen_tombstones(sc, &base)) != 0)
		goto out;
	if (q->fingerprint != NULL && cfg->fingerprint_attribute != NULL) {
		if ((r = filter_escape(q->fingerprint, strlen(q->fingerprint),
		    &fpv)) != 0)
			goto out;
		if (asprintf(&f, "(&%s(%s=%s))", base,
		    cfg->fingerprint_attribute, fpv) < 0) {
			f = NULL;
			r = KB_ERR_NOMEM;
			goto out;
		}
	} else {
		f = base;
		base = NULL;
	}
	*filterp = f;
	r = 0;
 out:
	free(base);
	free(fpv);
	return r;
}

static void
add_attr(const char **list, size_t *n, const char *name)
{
	size_t i;

	if (name == NULL)
		return;
	for (i = 0; i < *n; i++)
		if (strcasecmp(list[i], name) == 0)
			return;
	list[(*n)++] = name;
}

/* Forget what a lookup gathered, to start it again on another URI. */
static int
restart_state(struct search_ctx *sc)
{
	groups_clear(sc);
	pending_clear(sc);
	sc->pending_err = 0;
	sc->nentries = 0;
	sc->generated = 0;
	sc->replayed = 0;
	sc->replay_sum = 0;
	held_notes_flush(sc, 0);
	lookup_answer_free(sc->a);
	sc->a = NULL;
	return lookup_answer_new(&sc->a);
}

int
lookup_directory(const struct kb_config *cfg, const struct kb_query *q,
    const struct timespec *deadline, lookup_note_fn note, void *ctx,
    struct kb_answer **ap, char *errbuf, size_t errlen)
{
	struct search_ctx sc;
	struct kb_signers *owned = NULL;
	struct kb_dir *d = NULL;
	struct timespec sent;
	const char *attrs[MAX_ATTRS + 1], *groups_base;
	char *filter = NULL;
	size_t nattrs = 0, i, dropped = 0;
	uint64_t replay_sum = 0;
	size_t replayed = 0;
	int asked = 0, r = KB_ERR_INTERNAL;

	*ap = NULL;
	if (errlen > 0)
		errbuf[0] = '\0';
	memset(&sc, 0, sizeof(sc));
	sc.cfg = cfg;
	sc.q = q;
	sc.now = time(NULL);
	sc.note = note;
	sc.note_ctx = ctx;
	if (cfg->key_filter == NULL || cfg->key_attribute == NULL ||
	    cfg->base == NULL) {
		r = KB_ERR_CONFIG;
		goto out;
	}
	if ((r = collect_assertions(cfg->key_filter, q, &sc)) != 0 ||
	    (r = lookup_answer_new(&sc.a)) != 0)
		goto out;
	if (cfg->trusted_signers != NULL) {
		sc.signers = q->signers;
		if (sc.signers == NULL) {
			if ((r = signers_load(cfg->trusted_signers, 1, &owned,
			    NULL)) != 0) {
				snprintf(errbuf, errlen, "trusted_signers %s: "
				    "%s", cfg->trusted_signers,
				    kb_strerror(r));
				r = KB_ERR_SIGNERS;
				goto out;
			}
			sc.signers = owned;
		}
	}
	groups_base = sc.target_item != NULL ? config_group_base(cfg) : NULL;
	if (cfg->schema == KB_SCHEMA_KEYBOUND) {
		add_attr(attrs, &nattrs, "cn");
		add_attr(attrs, &nattrs, KB_ATTR_ATTACHMENT_END);
		add_attr(attrs, &nattrs, KB_ATTR_BLOCKED);
	}
	add_attr(attrs, &nattrs, cfg->key_attribute);
	add_attr(attrs, &nattrs, cfg->options_attribute);
	add_attr(attrs, &nattrs, cfg->expiry_attribute);
	for (i = 0; i < sc.nas; i++)
		add_attr(attrs, &nattrs, sc.as[i].attr);
	if (sc.signers != NULL) {
		/* every attribute of the signed record, and the marks */
		add_attr(attrs, &nattrs, "cn");
		add_attr(attrs, &nattrs, KB_ATTR_S_PUBKEY);
		add_attr(attrs, &nattrs, KB_ATTR_S_ATTACHMENT);
		add_attr(attrs, &nattrs, KB_ATTR_S_END);
		add_attr(attrs, &nattrs, KB_ATTR_S_NOTAFTER);
		add_attr(attrs, &nattrs, KB_ATTR_S_OPTIONS);
		add_attr(attrs, &nattrs, KB_ATTR_S_BLOCKED);
		add_attr(attrs, &nattrs, KB_ATTR_SIGNATURE);
		add_attr(attrs, &nattrs, KB_ATTR_TOMBSTONE);
	}
	attrs[nattrs] = NULL;

	if ((r = dir_open(cfg, NULL, deadline, &d, errbuf, errlen)) != 0)
		goto out;
	for (;;) {
		if (groups_base != NULL) {
			if (sc.signers != NULL)
				dir_set_idle(d, prepare_signers_idle, &sc);
			r = search_groups(&sc, d, groups_base, errbuf, errlen);
			dir_set_idle(d, NULL, NULL);
			if (r != 0)
				goto out;
			/* the answer is as old as the membership it
			   relies on */
			dir_search_sent(d, &sent);
		}
		if ((r = build_filter(cfg, q, &sc, &filter)) != 0)
			goto out;
		/* the groups' signatures are checked while it travels */
		if (sc.npending > 0)
			dir_set_idle(d, verify_groups_idle, &sc);
		else if (sc.signers != NULL)
			dir_set_idle(d, prepare_signers_idle, &sc);
		r = dir_search(d, cfg->base, KB_SCOPE_SUB, filter, attrs, 0,
		    on_entry, &sc, &dropped);
		dir_set_idle(d, NULL, NULL);
		verify_groups(&sc);	/* never sent: checked all the same */
		if (r == 0)
			r = sc.pending_err;
		/*
		 * An entry older than its floor: another lookup may have
		 * seen a write that landed after this search was answered.
		 * Both searches are asked again while the entries that come
		 * back too old change; a restored older version comes back
		 * the same, and stays refused.
		 */
		if (r == 0 && sc.replayed > 0 && asked < REPLAY_ASKS &&
		    (sc.replayed != replayed || sc.replay_sum != replay_sum)) {
			asked++;
			replayed = sc.replayed;
			replay_sum = sc.replay_sum;
		}
		/*
		 * The server died between the two searches, before any
		 * entry: both start again on the next URI (keys from one
		 * server, groups from another, would be stamped wrongly).
		 */
		else if (r == 0 || groups_base == NULL || sc.nentries > 0 ||
		    dir_move_on(d) != 0)
			break;
		if ((r = restart_state(&sc)) != 0)
			goto out;
		free(filter);
		filter = NULL;
		dropped = 0;
		if (errlen > 0)
			errbuf[0] = '\0';
	}
	if (r != 0) {
		if (errlen > 0 && r == KB_ERR_TOO_LONG)
			snprintf(errbuf, errlen, "%s: keys larger than %d "
			    "bytes", dir_uri(d), ANSWER_MAX_BYTES);
		else if (errlen > 0 && errbuf[0] == '\0')
			snprintf(errbuf, errlen, "%s", kb_strerror(r));
		goto out;
	}
	/*
	 * When the search was sent to the URI that answered: the answer is
	 * at least this fresh (a stamp from before a failover would let an
	 * answer given before a detach outrank this one).
	 */
	if (groups_base != NULL)
		sc.a->fetched = sent;
	else
		dir_search_sent(d, &sc.a->fetched);
	/* after the search: failover may have moved to another URI */
	if (printable_ascii(dir_uri(d), strlen(dir_uri(d))) &&
	    (sc.a->uri = strdup(dir_uri(d))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if (dropped > 0)
		notify(note, ctx, KB_NOTE_VALUES_DROPPED, KB_ERR_TOO_LONG,
		    NULL, NULL, dropped);
	lookup_finish(cfg, sc.a, note, ctx);
	*ap = sc.a;
	sc.a = NULL;
	r = 0;
 out:
	held_notes_flush(&sc, 1);
	dir_close(d);
	for (i = 0; i < sc.nas; i++) {
		free(sc.as[i].attr);
		free(sc.as[i].value);
	}
	for (i = 0; i < sc.ngroups; i++) {
		free(sc.groups[i]);
		free(sc.group_signed[i]);
	}
	pending_clear(&sc);
	free(sc.pending);
	signers_free(owned);
	lookup_answer_free(sc.a);
	free(filter);
	return r;
}

/*
 * One "BASE64(record) BASE64(SSHSIG)" from the cache: verified with the
 * signers, decoded as kind, judged (floor not raised).  *r is the
 * caller's to record_free().
 */
static int
cached_record(const struct kb_config *cfg, const struct kb_query *q,
    time_t now, const char *text, enum kb_record_kind kind,
    struct kb_record *r, const char **whyp)
{
	const char *sp;
	unsigned char *rec = NULL, *sig = NULL;
	size_t reclen = 0, siglen = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	*whyp = "signature";
	if (text == NULL || (sp = strchr(text, ' ')) == NULL ||
	    b64_decode_strict(text, (size_t)(sp - text), &rec, &reclen) != 0 ||
	    b64_decode_strict(sp + 1, strlen(sp + 1), &sig, &siglen) != 0) {
		rc = text == NULL ? KB_ERR_SIG_MISSING : KB_ERR_SIG_FORMAT;
		goto out;
	}
	if ((rc = signers_verify(q->signers, rec, reclen, sig, siglen,
	    NULL)) != 0 || (rc = record_decode(rec, reclen, r)) != 0)
		goto out;
	if (r->kind != kind) {
		rc = KB_ERR_RECORD;
		goto out;
	}
	rc = signed_judge(cfg, q->floors, 0, kind, r->name, strlen(r->name),
	    r->serial, r->signed_at, now, whyp);
 out:
	if (rc != 0)
		record_free(r);
	free(rec);
	free(sig);
	return rc;
}

/* Does the group record list instance? */
static int
group_lists(const struct kb_record *gr, const char *instance)
{
	size_t i;

	for (i = 0; i < gr->nmembers; i++)
		if (strcmp(gr->members[i], instance) == 0)
			return 1;
	return 0;
}

/*
 * The attachment of pr that grants q (USER@INSTANCE, or USER@+G for the
 * verified group record gr listing the instance) lasting longest; its
 * index or -1.  *endedp when one names q but every such one has ended.
 */
static long
record_grant(const struct kb_query *q, const struct kb_record *pr,
    const struct kb_record *gr, time_t now, int *endedp)
{
	const struct kb_record_att *at;
	size_t i, ulen = q->userlen, ilen = strlen(q->instance);
	long best = -1;
	int direct;

	*endedp = 0;
	for (i = 0; i < pr->natts; i++) {
		at = &pr->atts[i];
		if (strlen(at->value) < ulen + 2 ||
		    memcmp(at->value, q->user, ulen) != 0 ||
		    at->value[ulen] != '@')
			continue;
		direct = strlen(at->value) == ulen + 1 + ilen &&
		    memcmp(at->value + ulen + 1, q->instance, ilen) == 0;
		if (!direct && (gr == NULL || at->value[ulen + 1] != '+' ||
		    strcmp(at->value + ulen + 2, gr->name) != 0 ||
		    !group_lists(gr, q->instance)))
			continue;
		if (at->end != 0 && at->end <= (uint64_t)now) {
			*endedp = 1;
			continue;
		}
		/* keep the one held unless this one lasts longer, or as
		   long and is the direct attachment (as entry_matches) */
		if (best >= 0 && pr->atts[best].end == 0 &&
		    (at->end != 0 || !direct))
			continue;
		if (best >= 0 && pr->atts[best].end != 0 && at->end != 0 &&
		    (at->end < pr->atts[best].end ||
		    (at->end == pr->atts[best].end && !direct)))
			continue;
		best = (long)i;
	}
	return best;
}

int
lookup_add_signed_key(const struct kb_config *cfg, const struct kb_query *q,
    time_t now, const char *signed_pair, const char *signed_group,
    lookup_note_fn note, void *ctx, struct kb_answer *a)
{
	struct kb_record pr, gr;
	struct kb_key *k = NULL;
	struct kb_val via;
	struct grant g;
	struct signed_src ss;
	char na[16], *text = NULL;
	const char *why = NULL;
	long i;
	int r, ended;

	memset(&pr, 0, sizeof(pr));
	memset(&gr, 0, sizeof(gr));
	memset(&g, 0, sizeof(g));
	na[0] = '\0';
	if (q->signers == NULL) {
		r = KB_ERR_SIGNERS;
		goto refused;
	}
	if ((r = cached_record(cfg, q, now, signed_pair, KB_RECORD_PAIR, &pr,
	    &why)) != 0 || (signed_group != NULL && (r = cached_record(cfg, q,
	    now, signed_group, KB_RECORD_GROUP, &gr, &why)) != 0))
		goto refused;
	if ((r = key_from_blob(pr.key_blob, pr.key_bloblen, &k)) != 0 ||
	    (r = key_public_text(k, &text)) != 0 ||
	    (pr.not_after != 0 && (r = lookup_format_gentime(
	    (time_t)pr.not_after, na, sizeof(na))) != 0))
		goto refused;
	/* the decision, made again from the records alone */
	g.blocked = pr.blocked;
	i = record_grant(q, &pr, signed_group != NULL ? &gr : NULL, now,
	    &ended);
	if (i < 0)
		g.ended = 1;	/* refused below, with a note */
	else {
		via.bytes = pr.atts[i].value;
		via.len = strlen(pr.atts[i].value);
		g.via = &via;
		g.has_end = pr.atts[i].end != 0;
		g.end = (time_t)pr.atts[i].end;
	}
	ss.pair = signed_pair;
	ss.group = signed_group;
	r = add_key(cfg, q, now, pr.name, strlen(pr.name), text, strlen(text),
	    pr.options, strlen(pr.options), na, strlen(na), &g, &ss, note,
	    ctx, a, 0);
	goto out;
 refused:
	a->skipped++;
	notify(note, ctx, KB_NOTE_KEY_SKIPPED, r, pr.name != NULL &&
	    name_keypair_valid(pr.name) == 0 ? pr.name : NULL,
	    why != NULL ? why : "signature", 0);
	if (r == 0)
		r = KB_ERR_INTERNAL;
 out:
	record_free(&pr);
	record_free(&gr);
	key_free(k);
	free(text);
	return r;
}
