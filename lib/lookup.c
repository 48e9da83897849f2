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
#include "names.h"
#include "sshkey.h"

#define MAX_ASSERTIONS		KB_FILTER_MAX_SUBJECT_ITEMS
#define MAX_ATTRS		(7 + MAX_ASSERTIONS)
#define OPTS_MAX		4096
#define GENTIME_MAX		32
#define ANSWER_MAX_KEYS		(KB_DIR_MAX_ENTRIES * 4)
#define ANSWER_MAX_BYTES	(16 * 1024 * 1024)	/* of kept records */

/* A user assertion from the filter template, as bytes the entry must hold. */
struct assertion {
	char *attr;
	char *value;
	size_t len;
	int targets;		/* USER@INSTANCE, widened by host groups */
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
	size_t ngroups;
	size_t groups_over;	/* member of more groups than kept */
	lookup_note_fn note;
	void *note_ctx;
	struct kb_answer *a;
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
	    (r->until != NULL ? strlen(r->until) : 0);
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

/* Record which attachment granted r and until when. */
static int
grant_record(const struct grant *g, struct kb_keyrec *r)
{
	char gt[16];
	int rc;

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
    size_t notafterlen, const struct grant *g, lookup_note_fn note,
    void *ctx, struct kb_answer *a, unsigned keyflags)
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
	    (g != NULL && (r = grant_record(g, &rec)) != 0))
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
	    notafter, notafterlen, NULL, note, ctx, a, 0);
}

int
lookup_add_cached_key(const struct kb_config *cfg, const struct kb_query *q,
    time_t now, const char *name, size_t namelen, const char *key,
    size_t keylen, const char *opts, size_t optslen, const char *notafter,
    size_t notafterlen, lookup_note_fn note, void *ctx, struct kb_answer *a)
{
	return add_key(cfg, q, now, name, namelen, key, keylen, opts, optslen,
	    notafter, notafterlen, NULL, note, ctx, a, KB_KEY_STRUCTURAL);
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

/* Re-check one entry and hand its keys to lookup_add_key(). */
static int
entry_keys(struct search_ctx *sc, const struct kb_attr *attrs,
    size_t nattrs)
{
	const struct kb_config *cfg = sc->cfg;
	const struct kb_attr *keys;
	const struct kb_val *cn = NULL, *opts = NULL, *na = NULL, *blk = NULL;
	struct grant g;
	char gen[KB_KEYPAIR_NAME_MAX + 1];
	size_t i;
	int r, named;

	if (++sc->nentries > 1 && cfg->schema == KB_SCHEMA_OPENSSH_LPK)
		return KB_ERR_DIR_AMBIGUOUS;
	if (!entry_matches(sc, attrs, nattrs, &g)) {
		notify(sc->note, sc->note_ctx, KB_NOTE_ENTRY_SKIPPED,
		    KB_ERR_USER_NAME, NULL, "attachment mismatch", 0);
		return 0;
	}
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
		return 0;
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
		    sc->note, sc->note_ctx, sc->a, 0);
		if (r != 0)
			return r;
	}
	return 0;
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
 */
static int
on_group(void *vctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	struct search_ctx *sc = vctx;
	const struct kb_attr *mem;
	const struct kb_val *cn = NULL;
	char name[KB_KEYPAIR_NAME_MAX + 1], *dup;
	size_t i, at, ilen = strlen(sc->q->instance);
	int c, member = 0;

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
	mem = find_attr(attrs, nattrs, KB_ATTR_MEMBER);
	for (i = 0; mem != NULL && i < mem->nvals; i++)
		if (mem->vals[i].len == ilen &&
		    memcmp(mem->vals[i].bytes, sc->q->instance, ilen) == 0)
			member = 1;
	if (!member) {
		notify(sc->note, sc->note_ctx, KB_NOTE_ENTRY_SKIPPED,
		    KB_ERR_INSTANCE_NAME, name, "member mismatch", 0);
		return KB_DIR_ENTRY_RELEASED;
	}
	for (at = 0; at < sc->ngroups; at++) {
		if ((c = strcmp(sc->groups[at], name)) == 0)
			return KB_DIR_ENTRY_RELEASED;	/* seen */
		if (c > 0)
			break;
	}
	if (sc->ngroups == KB_LOOKUP_MAX_GROUPS) {
		sc->groups_over++;
		if (at == sc->ngroups)
			return KB_DIR_ENTRY_RELEASED;	/* sorts last */
		free(sc->groups[--sc->ngroups]);
	}
	if ((dup = strdup(name)) == NULL)
		return KB_ERR_NOMEM;
	memmove(&sc->groups[at + 1], &sc->groups[at],
	    (sc->ngroups - at) * sizeof(sc->groups[0]));
	sc->groups[at] = dup;
	sc->ngroups++;
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
	char *inst = NULL, *filter = NULL;
	size_t dropped = 0;
	int r = KB_ERR_INTERNAL;

	if ((r = filter_escape(sc->q->instance, strlen(sc->q->instance),
	    &inst)) != 0)
		goto out;
	if (asprintf(&filter, "(&(objectClass=%s)(%s=%s))", KB_OC_HOST_GROUP,
	    KB_ATTR_MEMBER, inst) < 0) {
		filter = NULL;
		r = KB_ERR_NOMEM;
		goto out;
	}
	r = dir_search_values(d, base, KB_SCOPE_SUB, filter, attrs, 0,
	    KB_ATTR_MEMBER, sc->q->instance, on_group, sc, &dropped);
	if (r != 0 && errlen > 0 && errbuf[0] == '\0')
		snprintf(errbuf, errlen, "host groups: %s", kb_strerror(r));
	if (r == 0 && dropped > 0)
		notify(sc->note, sc->note_ctx, KB_NOTE_VALUES_DROPPED,
		    KB_ERR_TOO_LONG, NULL, "host groups", dropped);
	if (r == 0 && sc->groups_over > 0)
		notify(sc->note, sc->note_ctx, KB_NOTE_MAX_GROUPS,
		    KB_ERR_TOO_LONG, NULL, NULL, sc->groups_over);
 out:
	free(inst);
	free(filter);
	return r;
}

/*
 * The filter to send: the key filter, its attachment item widened to
 * this instance's groups, narrowed by fingerprint if we can.
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

int
lookup_directory(const struct kb_config *cfg, const struct kb_query *q,
    const struct timespec *deadline, lookup_note_fn note, void *ctx,
    struct kb_answer **ap, char *errbuf, size_t errlen)
{
	struct search_ctx sc;
	struct kb_dir *d = NULL;
	struct timespec sent;
	const char *attrs[MAX_ATTRS + 1], *groups_base;
	char *filter = NULL;
	size_t nattrs = 0, i, dropped = 0;
	int r = KB_ERR_INTERNAL;

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
	attrs[nattrs] = NULL;

	if ((r = dir_open(cfg, NULL, deadline, &d, errbuf, errlen)) != 0)
		goto out;
	if (groups_base != NULL) {
		if ((r = search_groups(&sc, d, groups_base, errbuf,
		    errlen)) != 0)
			goto out;
		/* the answer is as old as the membership it relies on */
		dir_search_sent(d, &sent);
	}
	if ((r = build_filter(cfg, q, &sc, &filter)) != 0)
		goto out;
	r = dir_search(d, cfg->base, KB_SCOPE_SUB, filter, attrs, 0,
	    on_entry, &sc, &dropped);
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
	dir_close(d);
	for (i = 0; i < sc.nas; i++) {
		free(sc.as[i].attr);
		free(sc.as[i].value);
	}
	for (i = 0; i < sc.ngroups; i++)
		free(sc.groups[i]);
	lookup_answer_free(sc.a);
	free(filter);
	return r;
}
