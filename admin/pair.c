/*
 * pair.c - key pair entries as the admin CLI reads them, and the
 * USER@INSTANCE targets it writes into them.
 *
 * Every byte read here is untrusted directory data: values are kept with
 * their lengths, the public key is parsed by the key model (a key that
 * fails to parse leaves key NULL), nothing is printed from here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kb.h"
#include "config.h"
#include "directory.h"
#include "b64.h"
#include "filter.h"
#include "lookup.h"
#include "names.h"
#include "sshkey.h"
#include "admin.h"

#define PAIR_FILTER	"(objectClass=" OC_KEYPAIR ")"

static const char *const pair_attrs[] = {
	AT_CN, AT_PUBKEY, AT_FP, AT_ATTACH, AT_NOTAFTER, AT_OPTIONS, AT_DESC,
	AT_CREATED, AT_END, AT_BLOCKED, AT_TOMBSTONE, NULL
};

struct pair_list {
	struct kb_pair **pairs;
	size_t n;
	size_t cap;
};

static void
text_free(struct kb_text *t)
{
	free(t->s);
	t->s = NULL;
	t->len = 0;
}

static int
text_set(struct kb_text *t, const char *s, size_t len)
{
	char *c;

	if ((c = malloc(len + 1)) == NULL)
		return KB_ERR_NOMEM;
	memcpy(c, s, len);
	c[len] = '\0';
	free(t->s);
	t->s = c;
	t->len = len;
	return 0;
}

void
pair_free(struct kb_pair *p)
{
	size_t i;

	if (p == NULL)
		return;
	text_free(&p->dn);
	text_free(&p->name);
	text_free(&p->pubkey);
	text_free(&p->stored_fp);
	for (i = 0; i < p->nattach; i++)
		text_free(&p->attach[i]);
	free(p->attach);
	for (i = 0; i < p->nends; i++)
		text_free(&p->ends[i]);
	free(p->ends);
	for (i = 0; i < p->ntombstones; i++)
		text_free(&p->tombstones[i]);
	free(p->tombstones);
	for (i = 0; i < p->ndetached; i++)
		text_free(&p->detached[i]);
	free(p->detached);
	text_free(&p->not_after);
	text_free(&p->options);
	text_free(&p->description);
	text_free(&p->created);
	key_free(p->key);
	free(p);
}

const char *
pair_status(const struct kb_pair *p, time_t now)
{
	time_t t;

	if (p->blocked)
		return "blocked";
	if (p->not_after.s != NULL && (lookup_parse_gentime(p->not_after.s,
	    p->not_after.len, &t) != 0 || t <= now))
		return "expired";	/* an unreadable time fails closed */
	if (p->nattach == 0)
		return "unattached";
	if (p->not_after.s != NULL && t - now <= PAIR_EXPIRING_SECS)
		return "expiring";
	return "active";
}

int
pair_read_failed(const char *name, int r)
{
	if (r == KB_ERR_DIR_NO_SUCH_OBJECT)
		return admin_fail(EXIT_NOTFOUND, "no key pair %s", name);
	return admin_fail(admin_status(r), "cannot read key pair %s: %s",
	    name, kb_strerror(r));
}

void
pair_free_all(struct kb_pair **pairs, size_t n)
{
	size_t i;

	if (pairs == NULL)
		return;
	for (i = 0; i < n; i++)
		pair_free(pairs[i]);
	free(pairs);
}

int
pair_has_attachment(const struct kb_pair *p, const char *value)
{
	size_t i, len = strlen(value);

	for (i = 0; i < p->nattach; i++)
		if (p->attach[i].len == len &&
		    memcmp(p->attach[i].s, value, len) == 0)
			return 1;
	return 0;
}

int
pair_stores_attachment(const struct kb_pair *p, const char *value)
{
	size_t i, len = strlen(value);

	if (pair_has_attachment(p, value))
		return 1;
	for (i = 0; i < p->ndetached; i++)
		if (p->detached[i].len == len &&
		    memcmp(p->detached[i].s, value, len) == 0)
			return 1;
	return 0;
}

const char *
attachment_target(const char *v)
{
	const char *at = strrchr(v, '@');

	return at != NULL ? at + 1 : "";
}

int
pair_value_tombstoned(const struct kb_pair *p, const char *v, size_t len,
    time_t now)
{
	const char *target;
	time_t end;
	size_t i, tlen;

	if (strlen(v) != len || !pair_attachment_end(p, v, len, &end, NULL) ||
	    end > now)
		return 0;
	target = attachment_target(v);
	tlen = strlen(target);
	for (i = 0; i < p->ntombstones; i++)
		if (p->tombstones[i].len == tlen &&
		    memcmp(p->tombstones[i].s, target, tlen) == 0)
			return 1;
	return 0;
}

/*
 * Move the attachment values detached with a tombstone out of attach
 * into detached: for every reader of the CLI they are not attachments.
 */
static int
pair_split_detached(struct kb_pair *p, time_t now)
{
	size_t i, k = 0;

	if (p->ntombstones == 0 || p->nattach == 0)
		return 0;
	if ((p->detached = calloc(p->nattach, sizeof(*p->detached))) == NULL)
		return KB_ERR_NOMEM;
	for (i = 0; i < p->nattach; i++) {
		if (pair_value_tombstoned(p, p->attach[i].s, p->attach[i].len,
		    now))
			p->detached[p->ndetached++] = p->attach[i];
		else
			p->attach[k++] = p->attach[i];
	}
	p->nattach = k;
	return 0;
}

/*
 * The name is the cn value the DN is named by: a valid key pair name
 * with dn starting "cn=NAME," (names need no DN escaping).  Failing
 * that, the first cn value, shown but flagged invalid by its rules.
 */
static int
pair_set_name(struct kb_pair *p, const struct kb_attr *cn)
{
	const struct kb_val *v;
	size_t i;

	if (cn == NULL || cn->nvals == 0)
		return text_set(&p->name, "", 0);
	for (i = 0; i < cn->nvals; i++) {
		v = &cn->vals[i];
		if (strlen(v->bytes) != v->len || name_keypair_valid(v->bytes))
			continue;
		if (p->dn.len > v->len + 3 &&
		    strncasecmp(p->dn.s, "cn=", 3) == 0 &&
		    strncasecmp(p->dn.s + 3, v->bytes, v->len) == 0 &&
		    p->dn.s[3 + v->len] == ',')
			return text_set(&p->name, v->bytes, v->len);
	}
	return text_set(&p->name, cn->vals[0].bytes, cn->vals[0].len);
}

/* All values of a multi-valued attribute into *vp (*np counted). */
static int
pair_set_multi(struct kb_text **vp, size_t *np, const struct kb_attr *at)
{
	size_t i;
	int r;

	if (*vp != NULL)
		return 0;	/* the first of a repeated attribute */
	if ((*vp = calloc(at->nvals ? at->nvals : 1, sizeof(**vp))) == NULL)
		return KB_ERR_NOMEM;
	for (i = 0; i < at->nvals; i++) {
		if ((r = text_set(&(*vp)[i], at->vals[i].bytes,
		    at->vals[i].len)) != 0)
			return r;
		(*np)++;
	}
	return 0;
}

/* The first value of a single-valued attribute. */
static int
pair_set_single(struct kb_text *t, const struct kb_attr *at)
{
	if (at->nvals == 0)
		return 0;
	return text_set(t, at->vals[0].bytes, at->vals[0].len);
}

/* Build a key pair from one search entry. */
static int
pair_from_entry(const char *dn, const struct kb_attr *attrs, size_t nattrs,
    struct kb_pair **pp)
{
	struct kb_pair *p = NULL;
	const struct kb_attr *cn = NULL, *at;
	struct kb_text *single;
	size_t i;
	int r = KB_ERR_INTERNAL;

	*pp = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if ((r = text_set(&p->dn, dn, strlen(dn))) != 0)
		goto out;
	for (i = 0; i < nattrs; i++) {
		at = &attrs[i];
		single = NULL;
		if (strcasecmp(at->name, AT_CN) == 0)
			cn = at;
		else if (strcasecmp(at->name, AT_ATTACH) == 0) {
			if ((r = pair_set_multi(&p->attach, &p->nattach,
			    at)) != 0)
				goto out;
		} else if (strcasecmp(at->name, AT_END) == 0) {
			if ((r = pair_set_multi(&p->ends, &p->nends, at)) != 0)
				goto out;
		} else if (strcasecmp(at->name, AT_TOMBSTONE) == 0) {
			if ((r = pair_set_multi(&p->tombstones,
			    &p->ntombstones, at)) != 0)
				goto out;
		} else if (strcasecmp(at->name, AT_BLOCKED) == 0) {
			/* any value but exactly FALSE counts: fail closed */
			p->blocked = at->nvals > 0 && !(at->nvals == 1 &&
			    at->vals[0].len == 5 &&
			    memcmp(at->vals[0].bytes, "FALSE", 5) == 0);
		} else if (strcasecmp(at->name, AT_PUBKEY) == 0)
			single = &p->pubkey;
		else if (strcasecmp(at->name, AT_FP) == 0)
			single = &p->stored_fp;
		else if (strcasecmp(at->name, AT_NOTAFTER) == 0)
			single = &p->not_after;
		else if (strcasecmp(at->name, AT_OPTIONS) == 0)
			single = &p->options;
		else if (strcasecmp(at->name, AT_DESC) == 0)
			single = &p->description;
		else if (strcasecmp(at->name, AT_CREATED) == 0)
			single = &p->created;
		if (single != NULL && (r = pair_set_single(single, at)) != 0)
			goto out;
	}
	if ((r = pair_set_name(p, cn)) != 0 ||
	    (r = pair_split_detached(p, time(NULL))) != 0)
		goto out;
	p->key_err = KB_ERR_KEY_FORMAT;
	if (p->pubkey.s != NULL)
		p->key_err = key_parse_line(p->pubkey.s, p->pubkey.len, 0,
		    &p->key);
	*pp = p;
	p = NULL;
	r = 0;
 out:
	pair_free(p);
	return r;
}

static int
pair_collect(void *ctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	struct pair_list *l = ctx;
	struct kb_pair **np, *p;
	size_t ncap;
	int r;

	if (l->n == l->cap) {
		ncap = l->cap ? l->cap * 2 : 16;
		if ((np = reallocarray(l->pairs, ncap, sizeof(*np))) == NULL)
			return KB_ERR_NOMEM;
		l->pairs = np;
		l->cap = ncap;
	}
	if ((r = pair_from_entry(dn, attrs, nattrs, &p)) != 0)
		return r;
	l->pairs[l->n++] = p;
	return 0;
}

static int
pair_cmp(const void *a, const void *b)
{
	const struct kb_pair *pa = *(struct kb_pair *const *)a;
	const struct kb_pair *pb = *(struct kb_pair *const *)b;
	size_t n = pa->name.len < pb->name.len ? pa->name.len : pb->name.len;
	int c;

	if ((c = memcmp(pa->name.s, pb->name.s, n)) != 0)
		return c;
	return pa->name.len < pb->name.len ? -1 : pa->name.len > pb->name.len;
}

int
pair_search(struct kb_admin *a, const char *filter, struct kb_pair ***pairsp,
    size_t *np)
{
	struct pair_list l = { NULL, 0, 0 };
	int r, unpaged = 0;

	*pairsp = NULL;
	*np = 0;
	/* paged (RFC 2696): no cap, whatever the server's size limit */
	if ((r = dir_search_paged(a->dir, a->cfg->base, KB_SCOPE_ONE, filter,
	    pair_attrs, pair_collect, &l, NULL, &unpaged)) != 0) {
		if (r == KB_ERR_DIR_SIZELIMIT && unpaged)
			admin_err("the directory stopped at its size limit "
			    "after %zu key pairs and did not page the answer "
			    "(RFC 2696 paged results unsupported, or limited "
			    "for this bind identity): raise its limits",
			    l.n);
		goto out;
	}
	if (l.n > 1)
		qsort(l.pairs, l.n, sizeof(*l.pairs), pair_cmp);
	*pairsp = l.pairs;
	*np = l.n;
	l.pairs = NULL;
	l.n = 0;
 out:
	pair_free_all(l.pairs, l.n);
	return r;
}

int
pair_read(struct kb_admin *a, const char *name, struct kb_pair **pp)
{
	struct pair_list l = { NULL, 0, 0 };
	char *dn = NULL;
	int r;

	*pp = NULL;
	if ((r = admin_pair_dn(a, name, &dn)) != 0)
		goto out;
	if ((r = dir_search(a->dir, dn, KB_SCOPE_BASE, PAIR_FILTER,
	    pair_attrs, 2, pair_collect, &l, NULL)) != 0)
		goto out;
	if (l.n == 0) {
		r = KB_ERR_DIR_NO_SUCH_OBJECT;
		goto out;
	}
	if (l.n != 1) {
		r = KB_ERR_DIR_AMBIGUOUS;
		goto out;
	}
	*pp = l.pairs[0];
	l.pairs[0] = NULL;
	r = 0;
 out:
	pair_free_all(l.pairs, l.n);
	free(dn);
	return r;
}

int
pair_read_dn(struct kb_admin *a, const char *dn, struct kb_pair **pp)
{
	struct pair_list l = { NULL, 0, 0 };
	int r;

	*pp = NULL;
	if ((r = dir_search(a->dir, dn, KB_SCOPE_BASE, PAIR_FILTER,
	    pair_attrs, 2, pair_collect, &l, NULL)) != 0)
		goto out;
	if (l.n != 1) {
		r = l.n == 0 ? KB_ERR_DIR_NO_SUCH_OBJECT : KB_ERR_DIR_AMBIGUOUS;
		goto out;
	}
	*pp = l.pairs[0];
	l.pairs[0] = NULL;
	r = 0;
 out:
	pair_free_all(l.pairs, l.n);
	return r;
}

int
target_parse(const char *text, struct kb_target *t)
{
	const char *at;
	int r = KB_ERR_INTERNAL;

	memset(t, 0, sizeof(*t));
	t->text = text;
	if ((at = strrchr(text, '@')) == NULL || at == text) {
		r = KB_ERR_USER_NAME;
		goto out;
	}
	if ((t->user = strndup(text, (size_t)(at - text))) == NULL ||
	    (t->instance = strdup(at + 1)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if ((r = name_user_valid(t->user, strlen(t->user))) != 0 ||
	    (r = name_instance_valid(t->instance)) != 0)
		goto out;
	/* keyboundAttachment is an IA5String keybound-keys reads as ASCII */
	for (at = text; *at != '\0'; at++) {
		if ((unsigned char)*at < 0x20 || (unsigned char)*at > 0x7e) {
			r = KB_ERR_USER_NAME;
			goto out;
		}
	}
	r = 0;
 out:
	if (r != 0)
		target_clear(t);
	return r;
}

int
target_parse_attach(const char *text, struct kb_target *t)
{
	const char *at;
	int r = KB_ERR_INTERNAL;

	if ((at = strrchr(text, '@')) == NULL || at[1] != '+')
		return target_parse(text, t);
	memset(t, 0, sizeof(*t));
	t->text = text;
	if (at == text) {
		r = KB_ERR_USER_NAME;
		goto out;
	}
	if ((t->user = strndup(text, (size_t)(at - text))) == NULL ||
	    (t->instance = strdup(at + 1)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if ((r = name_user_valid(t->user, strlen(t->user))) != 0)
		goto out;
	if (name_keypair_valid(t->instance + 1) != 0) {
		r = KB_ERR_KEYPAIR_NAME;
		goto out;
	}
	for (at = text; *at != '\0'; at++) {
		if ((unsigned char)*at < 0x20 || (unsigned char)*at > 0x7e) {
			r = KB_ERR_USER_NAME;
			goto out;
		}
	}
	r = 0;
 out:
	if (r != 0)
		target_clear(t);
	return r;
}

void
target_clear(struct kb_target *t)
{
	free(t->user);
	free(t->instance);
	t->user = NULL;
	t->instance = NULL;
}

int
target_filter(const char *text, char **filterp)
{
	char *esc = NULL, *f = NULL;
	size_t len;
	int r;

	*filterp = NULL;
	if ((r = filter_escape(text, strlen(text), &esc)) != 0)
		goto out;
	len = strlen(esc) + sizeof("(&" PAIR_FILTER "(" AT_ATTACH "=))");
	if ((f = malloc(len)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	snprintf(f, len, "(&" PAIR_FILTER "(" AT_ATTACH "=%s))", esc);
	*filterp = f;
	f = NULL;
	r = 0;
 out:
	free(esc);
	free(f);
	return r;
}

int
end_value_of(const char *e, size_t len, const char *value, size_t vlen)
{
	const char *sp;

	/* split at the last space: user names may hold spaces */
	if ((sp = memrchr(e, ' ', len)) == NULL)
		return 0;
	return (size_t)(sp - e) == vlen && memcmp(e, value, vlen) == 0;
}

int
pair_attachment_end(const struct kb_pair *p, const char *value, size_t len,
    time_t *endp, size_t *badp)
{
	const struct kb_text *e;
	size_t i;
	time_t t;
	int found = 0;

	*endp = 0;
	if (badp != NULL)
		*badp = 0;
	for (i = 0; i < p->nends; i++) {
		e = &p->ends[i];
		/* the attachment text, one space, then the time */
		if (e->len <= len || e->s[len] != ' ' ||
		    memcmp(e->s, value, len) != 0 ||
		    strchr(e->s + len + 1, ' ') != NULL)
			continue;
		if (e->len != len + TIME_GTIME_LEN ||
		    lookup_parse_gentime(e->s + len + 1, e->len - len - 1,
		    &t) != 0) {
			if (badp != NULL)
				(*badp)++;
			continue;
		}
		if (!found || t < *endp)
			*endp = t;
		found = 1;
	}
	return found;
}

int
fingerprint_decode(const char *fp, unsigned char *hash)
{
	char padded[7 + 44 + 1];
	unsigned char *raw = NULL;
	size_t i, rawlen = 0;
	int r = KB_ERR_INVALID_ARG;

	if (strncmp(fp, "SHA256:", 7) != 0 || strlen(fp) != 7 + 43)
		return KB_ERR_INVALID_ARG;
	for (i = 7; fp[i] != '\0'; i++)
		if (!((fp[i] >= 'A' && fp[i] <= 'Z') ||
		    (fp[i] >= 'a' && fp[i] <= 'z') ||
		    (fp[i] >= '0' && fp[i] <= '9') || fp[i] == '+' ||
		    fp[i] == '/'))
			return KB_ERR_INVALID_ARG;
	memcpy(padded, fp + 7, 43);
	padded[43] = '=';
	padded[44] = '\0';
	if (b64_decode_strict(padded, 44, &raw, &rawlen) != 0)
		goto out;
	if (rawlen == 32) {
		if (hash != NULL)
			memcpy(hash, raw, 32);
		r = 0;
	}
 out:
	free(raw);
	return r;
}
