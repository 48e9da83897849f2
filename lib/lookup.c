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
#include "names.h"
#include "sshkey.h"

#define MAX_ASSERTIONS		KB_FILTER_MAX_SUBJECT_ITEMS
#define MAX_ATTRS		(5 + MAX_ASSERTIONS)
#define OPTS_MAX		4096
#define GENTIME_MAX		32
#define ANSWER_MAX_KEYS		(KB_DIR_MAX_ENTRIES * 4)
#define ANSWER_MAX_BYTES	(16 * 1024 * 1024)	/* of kept records */

/* A user assertion from the filter template, as bytes the entry must hold. */
struct assertion {
	char *attr;
	char *value;
	size_t len;
};

struct search_ctx {
	const struct kb_config *cfg;
	const struct kb_query *q;
	time_t now;
	struct assertion as[MAX_ASSERTIONS];
	size_t nas;
	size_t nentries;
	size_t generated;	/* names made up for profiles without cn */
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
	    strlen(r->fingerprint) + strlen(r->line);
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

/* lookup_add_key() and lookup_add_cached_key(); keyflags for the key. */
static int
add_key(const struct kb_config *cfg, const struct kb_query *q,
    time_t now, const char *name, size_t namelen, const char *key,
    size_t keylen, const char *opts, size_t optslen, const char *notafter,
    size_t notafterlen, lookup_note_fn note, void *ctx, struct kb_answer *a,
    unsigned keyflags)
{
	struct kb_keyopts o;
	struct kb_keyrec rec;
	struct kb_key *k = NULL;
	char kpname[KB_KEYPAIR_NAME_MAX + 1];
	char *fp = NULL;
	const char *why = NULL;
	time_t na = 0;
	int has_na = 0, r = KB_ERR_INTERNAL, skip = 0;

	memset(&o, 0, sizeof(o));
	memset(&rec, 0, sizeof(rec));
	kpname[0] = '\0';
	if (namelen > KB_KEYPAIR_NAME_MAX || !printable_ascii(name, namelen)) {
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
	if ((r = key_fingerprint_sha256(k, &fp)) != 0)
		goto out;
	if (q->fingerprint != NULL && strcmp(fp, q->fingerprint) != 0) {
		r = 0;		/* not the key asked for */
		goto out;
	}
	if ((skip = parse_options(opts, optslen, kpname, note, ctx, &o)) != 0)
		goto skipped;
	if ((r = build_record(k, &o, kpname, fp, has_na, na, &rec)) != 0)
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
	    notafter, notafterlen, note, ctx, a, 0);
}

int
lookup_add_cached_key(const struct kb_config *cfg, const struct kb_query *q,
    time_t now, const char *name, size_t namelen, const char *key,
    size_t keylen, const char *opts, size_t optslen, const char *notafter,
    size_t notafterlen, lookup_note_fn note, void *ctx, struct kb_answer *a)
{
	return add_key(cfg, q, now, name, namelen, key, keylen, opts, optslen,
	    notafter, notafterlen, note, ctx, a, KB_KEY_STRUCTURAL);
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
 * Turn one filter value containing %u/%i into the exact bytes an entry's
 * value must hold: %u, %i substituted raw, RFC 4515 \XX escapes decoded.
 * A '*' (substring or presence) cannot be checked byte for byte: refused.
 */
static int
assertion_value(const char *v, size_t len, const struct kb_query *q,
    struct assertion *as)
{
	char *out;
	size_t i, n = 0, cap;
	int hi, lo;

	cap = len + 1;
	for (i = 0; i + 1 < len; i++)
		if (v[i] == '%' && (v[i + 1] == 'u' || v[i + 1] == 'i'))
			cap += (v[i + 1] == 'u' ? q->userlen :
			    strlen(q->instance));
	if ((out = malloc(cap)) == NULL)
		return KB_ERR_NOMEM;
	for (i = 0; i < len; i++) {
		if (v[i] == '*')
			goto bad;
		if (v[i] == '%') {
			if (i + 1 >= len)
				goto bad;
			switch (v[++i]) {
			case '%':
				out[n++] = '%';
				break;
			case 'u':
				memcpy(out + n, q->user, q->userlen);
				n += q->userlen;
				break;
			case 'i':
				memcpy(out + n, q->instance,
				    strlen(q->instance));
				n += strlen(q->instance);
				break;
			default:
				goto bad;
			}
		} else if (v[i] == '\\') {
			if (i + 2 >= len)
				goto bad;
			hi = v[i + 1];
			lo = v[i + 2];
			if (!((hi >= '0' && hi <= '9') ||
			    (hi >= 'a' && hi <= 'f') || (hi >= 'A' && hi <= 'F')) ||
			    !((lo >= '0' && lo <= '9') ||
			    (lo >= 'a' && lo <= 'f') || (lo >= 'A' && lo <= 'F')))
				goto bad;
			hi = hi <= '9' ? hi - '0' : (hi | 0x20) - 'a' + 10;
			lo = lo <= '9' ? lo - '0' : (lo | 0x20) - 'a' + 10;
			out[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			out[n++] = v[i];
	}
	out[n] = '\0';
	as->value = out;
	as->len = n;
	return 0;
 bad:
	free(out);
	return KB_ERR_FILTER_TEMPLATE;
}

static int
attr_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ';';
}

/* A template value mentions the user or instance. */
static int
mentions_subject(const char *v, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (v[i] != '%')
			continue;
		if (v[i + 1] == 'u' || v[i + 1] == 'i')
			return 1;
		i++;		/* skip "%%" and friends */
	}
	return 0;
}

/*
 * Collect every simple equality item (attr=value) of the template whose
 * value names %u or %i; the entries returned must hold those exact bytes.
 * A template with no such item, or with one under '|' or '!', cannot be
 * re-checked as written and is refused.
 */
static int
collect_assertions(const char *tmpl, const struct kb_query *q,
    struct search_ctx *sc)
{
	const char *p, *a0, *v0, *v1;
	size_t nitems;
	int r;

	/* items under '|' or '!' cannot all be required: refused */
	if (filter_template_subject_items(tmpl, &nitems) != 0)
		return KB_ERR_FILTER_TEMPLATE;
	for (p = tmpl; (p = strchr(p, '(')) != NULL; p++) {
		a0 = p + 1;
		for (v0 = a0; attr_byte(*v0); v0++)
			;
		if (v0 == a0 || *v0 != '=')
			continue;
		v0++;
		if ((v1 = strchr(v0, ')')) == NULL)
			return KB_ERR_FILTER_TEMPLATE;
		if (!mentions_subject(v0, (size_t)(v1 - v0)))
			continue;
		if (sc->nas == MAX_ASSERTIONS)
			return KB_ERR_FILTER_TEMPLATE;
		if ((sc->as[sc->nas].attr = strndup(a0,
		    (size_t)(v0 - 1 - a0))) == NULL)
			return KB_ERR_NOMEM;
		r = assertion_value(v0, (size_t)(v1 - v0), q,
		    &sc->as[sc->nas]);
		sc->nas++;
		if (r != 0)
			return r;
	}
	return sc->nas > 0 ? 0 : KB_ERR_FILTER_TEMPLATE;
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

static int
entry_matches(const struct search_ctx *sc, const struct kb_attr *attrs,
    size_t nattrs)
{
	const struct kb_attr *at;
	size_t i, j;
	int found;

	for (i = 0; i < sc->nas; i++) {
		if ((at = find_attr(attrs, nattrs, sc->as[i].attr)) == NULL)
			return 0;
		found = 0;
		for (j = 0; j < at->nvals; j++)
			if (at->vals[j].len == sc->as[i].len &&
			    memcmp(at->vals[j].bytes, sc->as[i].value,
			    sc->as[i].len) == 0)
				found = 1;
		if (!found)
			return 0;
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
	const struct kb_val *cn = NULL, *opts = NULL, *na = NULL;
	char gen[KB_KEYPAIR_NAME_MAX + 1];
	size_t i;
	int r, named;

	if (++sc->nentries > 1 && cfg->schema == KB_SCHEMA_OPENSSH_LPK)
		return KB_ERR_DIR_AMBIGUOUS;
	if (!entry_matches(sc, attrs, nattrs)) {
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
	    keys->nvals > 1)))) {
		notify(sc->note, sc->note_ctx, KB_NOTE_ENTRY_SKIPPED,
		    KB_ERR_DIR_PROTOCOL, NULL, "malformed entry", 0);
		return 0;
	}
	for (i = 0; keys != NULL && i < keys->nvals; i++) {
		if (!named) {
			snprintf(gen, sizeof(gen), "key-%05zu",
			    ++sc->generated);
		}
		r = lookup_add_key(cfg, sc->q, sc->now,
		    named ? cn->bytes : gen, named ? cn->len : strlen(gen),
		    keys->vals[i].bytes, keys->vals[i].len,
		    opts ? opts->bytes : NULL, opts ? opts->len : 0,
		    na ? na->bytes : NULL, na ? na->len : 0,
		    sc->note, sc->note_ctx, sc->a);
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

/* The filter to send: the key filter, narrowed by fingerprint if we can. */
static int
build_filter(const struct kb_config *cfg, const struct kb_query *q,
    char **filterp)
{
	char *base = NULL, *fpv = NULL, *f = NULL;
	int r = KB_ERR_INTERNAL;

	*filterp = NULL;
	if ((r = filter_expand(cfg->key_filter, q->user, q->instance, NULL,
	    &base)) != 0)
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
	const char *attrs[MAX_ATTRS + 1];
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
	    (r = build_filter(cfg, q, &filter)) != 0 ||
	    (r = lookup_answer_new(&sc.a)) != 0)
		goto out;
	if (cfg->schema == KB_SCHEMA_KEYBOUND)
		add_attr(attrs, &nattrs, "cn");
	add_attr(attrs, &nattrs, cfg->key_attribute);
	add_attr(attrs, &nattrs, cfg->options_attribute);
	add_attr(attrs, &nattrs, cfg->expiry_attribute);
	for (i = 0; i < sc.nas; i++)
		add_attr(attrs, &nattrs, sc.as[i].attr);
	attrs[nattrs] = NULL;

	if ((r = dir_open(cfg, NULL, deadline, &d, errbuf, errlen)) != 0)
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
	lookup_answer_free(sc.a);
	free(filter);
	return r;
}
