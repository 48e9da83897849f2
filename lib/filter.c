/*
 * filter.c - RFC 4515 search filters: value escaping, template checks and
 * expansion, and the template's subject items (see filter.h).
 *
 * Decisions worth knowing:
 *  - filter_escape() escapes the space (0x20) too, as every byte outside
 *    0x21..0x7e, so an escaped value never holds whitespace.
 *  - The template grammar is checked by one recursive descent (depth
 *    bounded); the same walk records the subject items, so the items
 *    lookup.c re-checks are exactly the ones the server evaluates.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "filter.h"
#include "strbuf.h"

#define FILTER_MAX_DEPTH	32
#define KB_ATTRIBUTE_MAX	128

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
filter_escape_append(struct strbuf *b, const char *val, size_t len)
{
	const unsigned char *v = (const unsigned char *)val;
	size_t i;
	int r;

	if ((r = sb_reserve(b, len)) != 0)
		return r;
	for (i = 0; i < len; i++) {
		if (v[i] < 0x21 || v[i] > 0x7e || v[i] == '*' ||
		    v[i] == '(' || v[i] == ')' || v[i] == '\\')
			r = sb_puthex(b, v[i]);
		else
			r = sb_putc(b, (char)v[i]);
		if (r != 0)
			return r;
	}
	return 0;
}

int
filter_escape(const char *val, size_t len, char **outp)
{
	struct strbuf b = STRBUF_INIT;
	int r = KB_ERR_INTERNAL;

	*outp = NULL;
	if (val == NULL && len != 0) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if (len > (SIZE_MAX - 1) / 3) {
		r = KB_ERR_TOO_LONG;
		goto out;
	}
	if ((r = filter_escape_append(&b, val, len)) != 0)
		goto out;
	r = sb_finish(&b, outp);
 out:
	free(b.s);
	return r;
}

/* The values %u, %i and %f stand for. */
struct subst {
	const char *user;
	const char *instance;
	const char *fingerprint;
};

/* Append tmpl[from, to) with its %-sequences expanded and escaped. */
static int
expand_range(struct strbuf *b, const char *tmpl, size_t from, size_t to,
    const struct subst *su)
{
	const char *val;
	size_t i;
	int r;

	for (i = from; i < to; i++) {
		if (tmpl[i] != '%') {
			if ((r = sb_putc(b, tmpl[i])) != 0)
				return r;
			continue;
		}
		if (i + 1 >= to)
			return KB_ERR_FILTER_TEMPLATE;
		switch (tmpl[++i]) {
		case '%':
			if ((r = sb_putc(b, '%')) != 0)
				return r;
			continue;
		case 'u':
			val = su->user;
			break;
		case 'i':
			val = su->instance;
			break;
		case 'f':
			val = su->fingerprint;
			break;
		default:
			return KB_ERR_FILTER_TEMPLATE;
		}
		if (val == NULL)
			return KB_ERR_FILTER_TEMPLATE;
		if ((r = filter_escape_append(b, val, strlen(val))) != 0)
			return r;
	}
	return 0;
}

int
filter_expand(const char *tmpl, const char *user, const char *instance,
    const char *fingerprint, char **outp)
{
	return filter_expand_targets(tmpl, NULL, user, instance, NULL, 0,
	    fingerprint, outp);
}

int
filter_expand_targets(const char *tmpl, const struct filter_item *it,
    const char *user, const char *instance, const char *const *groups,
    size_t ngroups, const char *fingerprint, char **outp)
{
	struct strbuf b = STRBUF_INIT;
	struct subst su;
	size_t g, len;
	int r = KB_ERR_INTERNAL;

	*outp = NULL;
	su.user = user;
	su.instance = instance;
	su.fingerprint = fingerprint;
	if (tmpl == NULL || (ngroups > 0 && (it == NULL || groups == NULL))) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	len = strlen(tmpl);
	if (ngroups == 0 || it == NULL) {
		r = expand_range(&b, tmpl, 0, len, &su);
		goto finish;
	}
	if (!it->targets || it->end > len || it->start >= it->end ||
	    it->attr + it->attrlen > it->end) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	/* (|(ATTR=USER@INSTANCE)(ATTR=USER@+G)...) in place of the item */
	if ((r = expand_range(&b, tmpl, 0, it->start, &su)) != 0 ||
	    (r = sb_put(&b, "(|", 2)) != 0 ||
	    (r = expand_range(&b, tmpl, it->start, it->end, &su)) != 0)
		goto out;
	for (g = 0; g < ngroups; g++) {
		if ((r = sb_putc(&b, '(')) != 0 ||
		    (r = sb_put(&b, tmpl + it->attr, it->attrlen)) != 0 ||
		    (r = sb_putc(&b, '=')) != 0 ||
		    (r = filter_escape_append(&b, user, strlen(user))) != 0 ||
		    (r = sb_put(&b, "@+", 2)) != 0 ||
		    (r = filter_escape_append(&b, groups[g],
		    strlen(groups[g]))) != 0 ||
		    (r = sb_putc(&b, ')')) != 0)
			goto out;
	}
	if ((r = sb_putc(&b, ')')) != 0 ||
	    (r = expand_range(&b, tmpl, it->end, len, &su)) != 0)
		goto out;
 finish:
	if (r != 0)
		goto out;
	r = sb_finish(&b, outp);
 out:
	free(b.s);
	return r;
}

/*
 * Filter template syntax (RFC 4515), with %u %i %f %% allowed only inside
 * assertion values.  A recursive descent over the template; depth bounded.
 */
struct fparse {
	const unsigned char *s;
	size_t pos;
	unsigned uses;
	size_t subject_refs;	/* %u and %i seen so far */
	size_t subject_items;	/* attr=value items naming %u or %i */
	int either;		/* inside a '|' or '!' */
	int unchecked;		/* a subject item the answer cannot be
				   re-checked against as written */
	size_t item_start;	/* where the item at hand starts ('(') */
	struct filter_item *items;	/* subject items found, or NULL */
	size_t max_items;
};

/* keystring = ALPHA *(ALPHA / DIGIT / "-") */
static int
fp_keystring(struct fparse *p)
{
	if (!is_alpha(p->s[p->pos]))
		return -1;
	while (is_alpha(p->s[p->pos]) || is_digit(p->s[p->pos]) ||
	    p->s[p->pos] == '-')
		p->pos++;
	return 0;
}

/* numericoid = number 1*("." number), number without leading zeros */
static int
fp_numericoid(struct fparse *p)
{
	size_t parts = 0;

	for (;;) {
		if (!is_digit(p->s[p->pos]))
			return -1;
		if (p->s[p->pos] == '0' && is_digit(p->s[p->pos + 1]))
			return -1;
		while (is_digit(p->s[p->pos]))
			p->pos++;
		parts++;
		if (p->s[p->pos] != '.')
			break;
		p->pos++;
	}
	return parts >= 2 ? 0 : -1;
}

/* oid = descr / numericoid */
static int
fp_oid(struct fparse *p)
{
	if (is_digit(p->s[p->pos]))
		return fp_numericoid(p);
	return fp_keystring(p);
}

/* attributedescription = oid *(";" option) */
static int
fp_attrdesc(struct fparse *p)
{
	if (fp_oid(p) != 0)
		return -1;
	while (p->s[p->pos] == ';') {
		p->pos++;
		if (!is_alpha(p->s[p->pos]) && !is_digit(p->s[p->pos]) &&
		    p->s[p->pos] != '-')
			return -1;
		while (is_alpha(p->s[p->pos]) || is_digit(p->s[p->pos]) ||
		    p->s[p->pos] == '-')
			p->pos++;
	}
	return 0;
}

/*
 * An assertion value up to ')' or (when stars is set) '*'.  Stores the
 * number of '*' seen in *nstars if stars is set.
 */
static int
fp_value(struct fparse *p, int stars, size_t *nstars)
{
	unsigned char c;

	for (;;) {
		c = p->s[p->pos];
		if (c == ')')
			return 0;
		if (c == '\0' || c == '(' || c < 0x20 || c == 0x7f)
			return -1;
		if (c == '*') {
			if (!stars)
				return -1;
			(*nstars)++;
			p->pos++;
		} else if (c == '\\') {
			if (!is_hex(p->s[p->pos + 1]) ||
			    !is_hex(p->s[p->pos + 2]))
				return -1;
			p->pos += 3;
		} else if (c == '%') {
			switch (p->s[p->pos + 1]) {
			case 'u':
				p->uses |= KB_FILTER_USES_USER;
				p->subject_refs++;
				break;
			case 'i':
				p->uses |= KB_FILTER_USES_INSTANCE;
				p->subject_refs++;
				break;
			case 'f':
				p->uses |= KB_FILTER_USES_FINGERPRINT;
				break;
			case '%':
				break;
			default:
				return -1;
			}
			p->pos += 2;
		} else
			p->pos++;
	}
}

/*
 * A %u or %i in an item other than attr=value (approximate, ordering,
 * extensible match) cannot be re-checked byte for byte: the server's
 * matching rule decides what it matches.
 */
static int
fp_value_unchecked(struct fparse *p)
{
	size_t n = 0, refs = p->subject_refs;

	if (fp_value(p, 0, &n) != 0)
		return -1;
	if (p->subject_refs > refs)
		p->unchecked = 1;
	return 0;
}

/* extensible match after the attribute (or none): [":dn"] [":" oid] ":=" */
static int
fp_extensible(struct fparse *p, int have_attr)
{
	int have_rule = 0;

	if (p->s[p->pos] == ':' && p->s[p->pos + 1] == 'd' &&
	    p->s[p->pos + 2] == 'n' &&
	    (p->s[p->pos + 3] == ':'))
		p->pos += 3;
	if (p->s[p->pos] == ':' && p->s[p->pos + 1] != '=') {
		p->pos++;
		if (fp_oid(p) != 0)
			return -1;
		have_rule = 1;
	}
	if (!have_attr && !have_rule)
		return -1;
	if (p->s[p->pos] != ':' || p->s[p->pos + 1] != '=')
		return -1;
	p->pos += 2;
	return fp_value_unchecked(p);
}

/* item = simple / present / substring / extensible (after "(") */
static int
fp_item(struct fparse *p)
{
	struct filter_item *it;
	size_t nstars = 0, refs, attr, attrlen, val;
	unsigned char c;

	if (p->s[p->pos] == ':')
		return fp_extensible(p, 0);
	attr = p->pos;
	if (fp_attrdesc(p) != 0)
		return -1;
	attrlen = p->pos - attr;
	c = p->s[p->pos];
	if (c == ':')
		return fp_extensible(p, 1);
	if (c == '~' || c == '>' || c == '<') {
		if (p->s[p->pos + 1] != '=')
			return -1;
		p->pos += 2;
		return fp_value_unchecked(p);
	}
	if (c != '=')
		return -1;
	p->pos++;
	val = p->pos;
	refs = p->subject_refs;
	if (fp_value(p, 1, &nstars) != 0)
		return -1;
	/*
	 * lookup.c re-checks every attr=value item naming %u or %i byte
	 * for byte and requires all of them: a '*' cannot be checked that
	 * way, and under '|' or '!' requiring all would change the meaning.
	 * The other item kinds were refused above (fp_value_unchecked).
	 */
	if (p->subject_refs > refs) {
		if (p->items != NULL && p->subject_items < p->max_items) {
			it = &p->items[p->subject_items];
			it->start = p->item_start;
			it->end = p->pos + 1;		/* the ')' */
			it->attr = attr;
			it->attrlen = attrlen;
			it->val = val;
			it->vallen = p->pos - val;
			it->targets = it->vallen == 5 &&
			    memcmp(p->s + val, "%u@%i", 5) == 0;
		}
		p->subject_items++;
		if (nstars > 0 || p->either)
			p->unchecked = 1;
	}
	return 0;
}

static int
fp_filter(struct fparse *p, int depth)
{
	size_t n;
	int r, either;

	if (depth > FILTER_MAX_DEPTH || p->s[p->pos] != '(')
		return -1;
	p->item_start = p->pos;
	p->pos++;
	switch (p->s[p->pos]) {
	case '&':
	case '|':
		either = p->s[p->pos] == '|';
		p->either += either;
		p->pos++;
		for (n = 0; p->s[p->pos] == '('; n++)
			if (fp_filter(p, depth + 1) != 0)
				return -1;
		p->either -= either;
		r = n > 0 ? 0 : -1;
		break;
	case '!':
		p->either++;
		p->pos++;
		r = fp_filter(p, depth + 1);
		p->either--;
		break;
	default:
		r = fp_item(p);
		break;
	}
	if (r != 0 || p->s[p->pos] != ')')
		return -1;
	p->pos++;
	return 0;
}

int
filter_attribute_valid(const char *name)
{
	struct fparse p;

	if (name == NULL || strlen(name) > KB_ATTRIBUTE_MAX)
		return KB_ERR_INVALID_ARG;
	memset(&p, 0, sizeof(p));
	p.s = (const unsigned char *)name;
	if (fp_oid(&p) != 0 || p.s[p.pos] != '\0')
		return KB_ERR_INVALID_ARG;
	return 0;
}

int
filter_template_check(const char *tmpl, unsigned *usesp)
{
	struct fparse p;

	if (usesp != NULL)
		*usesp = 0;
	if (tmpl == NULL)
		return KB_ERR_FILTER_TEMPLATE;
	memset(&p, 0, sizeof(p));
	p.s = (const unsigned char *)tmpl;
	if (fp_filter(&p, 0) != 0 || p.s[p.pos] != '\0')
		return KB_ERR_FILTER_TEMPLATE;
	if (usesp != NULL)
		*usesp = p.uses;
	return 0;
}

int
filter_template_items(const char *tmpl, struct filter_item *items,
    size_t max, size_t *np)
{
	struct fparse p;

	*np = 0;
	if (tmpl == NULL)
		return KB_ERR_FILTER_TEMPLATE;
	memset(&p, 0, sizeof(p));
	p.s = (const unsigned char *)tmpl;
	p.items = items;
	p.max_items = items != NULL ? max : 0;
	if (fp_filter(&p, 0) != 0 || p.s[p.pos] != '\0' || p.unchecked)
		return KB_ERR_FILTER_TEMPLATE;
	*np = p.subject_items;
	return 0;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
filter_item_value(const char *tmpl, const struct filter_item *it,
    const char *user, size_t userlen, const char *instance, char **outp,
    size_t *lenp)
{
	struct strbuf b = STRBUF_INIT;
	const char *v;
	size_t i, len;
	int hi, lo, r = KB_ERR_INTERNAL;

	*outp = NULL;
	*lenp = 0;
	if (tmpl == NULL || it == NULL || user == NULL || instance == NULL ||
	    it->val + it->vallen > strlen(tmpl)) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	v = tmpl + it->val;
	len = it->vallen;
	for (i = 0; i < len; i++) {
		if (v[i] == '*') {
			r = KB_ERR_FILTER_TEMPLATE;
			goto out;
		}
		if (v[i] == '%' && i + 1 < len) {
			switch (v[++i]) {
			case '%':
				r = sb_putc(&b, '%');
				break;
			case 'u':
				r = sb_put(&b, user, userlen);
				break;
			case 'i':
				r = sb_put(&b, instance, strlen(instance));
				break;
			default:
				r = KB_ERR_FILTER_TEMPLATE;
				break;
			}
		} else if (v[i] == '\\' && i + 2 < len &&
		    (hi = hex_value((unsigned char)v[i + 1])) >= 0 &&
		    (lo = hex_value((unsigned char)v[i + 2])) >= 0) {
			r = sb_putc(&b, (char)(hi << 4 | lo));
			i += 2;
		} else if (v[i] == '%' || v[i] == '\\')
			r = KB_ERR_FILTER_TEMPLATE;
		else
			r = sb_putc(&b, v[i]);
		if (r != 0)
			goto out;
	}
	*lenp = b.len;
	r = sb_finish(&b, outp);
 out:
	free(b.s);
	return r;
}
