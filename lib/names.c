/*
 * names.c - validation of user, instance and key pair names, RFC 4515
 * filter-value escaping, filter template checks and expansion, RFC 4514
 * DN value escaping, and expansion of the `instance` config value.
 *
 * Decisions worth knowing:
 *  - User names follow the SPEC rule (1..256 bytes, no control byte, no
 *    leading/trailing space, no leading '-') plus strict UTF-8 (no overlong
 *    forms, no surrogates, nothing above U+10FFFF) and no C1 control code
 *    points (U+0080..U+009F).  Filter metacharacters and backslashes are
 *    allowed ("DOMAIN\user" is a real winbind name): values are always
 *    escaped before they reach a filter, and the directory's answer is
 *    re-checked byte for byte.
 *  - filter_escape() escapes the space (0x20) too, as every byte outside
 *    0x21..0x7e, so an escaped value never holds whitespace.
 *  - dn_escape_value() escapes every byte outside 0x20..0x7e as \XX (so
 *    non-ASCII input comes out as hex pairs), and the RFC 4514 specials
 *    with a backslash.
 */
#include <sys/utsname.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kb.h"
#include "names.h"

#define MACHINE_ID_PATH		"/etc/machine-id"
#define MACHINE_ID_LEN		32
#define FILTER_MAX_DEPTH	32
#define KB_ATTRIBUTE_MAX	128

static const char hexdigits[] = "0123456789abcdef";

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

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is
 * not one.  Stores the code point in *cpp.
 */
static size_t
utf8_seq(const unsigned char *s, size_t n, uint32_t *cpp)
{
	uint32_t cp, min;
	size_t len, i;

	if (s[0] < 0x80) {
		*cpp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cpp = cp;
	return len;
}

int
name_user_valid(const char *user, size_t len)
{
	const unsigned char *u = (const unsigned char *)user;
	uint32_t cp;
	size_t i, n;

	if (user == NULL || len == 0 || len > KB_USER_MAX)
		return KB_ERR_USER_NAME;
	if (u[0] == ' ' || u[0] == '-' || u[len - 1] == ' ')
		return KB_ERR_USER_NAME;
	for (i = 0; i < len; i += n) {
		if ((n = utf8_seq(u + i, len - i, &cp)) == 0)
			return KB_ERR_USER_NAME;
		/* C0 controls, DEL and the C1 controls */
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return KB_ERR_USER_NAME;
	}
	return 0;
}

int
name_instance_valid(const char *instance)
{
	const unsigned char *s = (const unsigned char *)instance;
	size_t i;

	if (instance == NULL || s[0] == '\0' || s[0] == '-' || s[0] == '.')
		return KB_ERR_INSTANCE_NAME;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= KB_INSTANCE_MAX)
			return KB_ERR_INSTANCE_NAME;
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-')
			return KB_ERR_INSTANCE_NAME;
	}
	return 0;
}

/*
 * 1 for a code point in the CJK Unified Ideographs blocks (the main block
 * and extensions A to I).  The compatibility ideographs (U+F900-U+FAFF)
 * are not among them: most decompose to a unified ideograph, and two names
 * that look the same must not be two key pairs.
 */
static int
is_cjk_ideograph(uint32_t cp)
{
	return (cp >= 0x3400 && cp <= 0x4dbf) ||	/* extension A */
	    (cp >= 0x4e00 && cp <= 0x9fff) ||		/* unified */
	    (cp >= 0x20000 && cp <= 0x2a6df) ||	/* extension B */
	    (cp >= 0x2a700 && cp <= 0x2ee5f) ||	/* extensions C-F, I */
	    (cp >= 0x30000 && cp <= 0x323af);		/* extensions G, H */
}

int
name_keypair_valid(const char *name)
{
	const unsigned char *s = (const unsigned char *)name;
	uint32_t cp;
	size_t i, k, len, n = 0;
	int ok;

	if (name == NULL)
		return KB_ERR_KEYPAIR_NAME;
	len = strlen(name);
	for (i = 0; i < len; i += k, n++) {
		/* strict UTF-8: no overlong form, surrogate or stray byte */
		if ((k = utf8_seq(s + i, len - i, &cp)) == 0 ||
		    n >= KB_KEYPAIR_NAME_MAX)
			return KB_ERR_KEYPAIR_NAME;
		ok = (cp < 0x80 && is_alpha((unsigned char)cp)) ||
		    is_cjk_ideograph(cp);
		if (n > 0 && !ok)
			ok = cp == ':' || cp == '_' || cp == '-' ||
			    (cp < 0x80 && is_digit((unsigned char)cp));
		if (!ok)
			return KB_ERR_KEYPAIR_NAME;
	}
	if (n < KB_KEYPAIR_NAME_MIN)
		return KB_ERR_KEYPAIR_NAME;
	return 0;
}

int
name_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t cp;
	size_t i, n;

	if (s == NULL && len != 0)
		return KB_ERR_INVALID_ARG;
	for (i = 0; i < len; i += n)
		if ((n = utf8_seq(u + i, len - i, &cp)) == 0)
			return KB_ERR_INVALID_ARG;
	return 0;
}

/* A growing output string; every append checks for overflow. */
struct strbuf {
	char *s;
	size_t len;
	size_t cap;
};

static int
sb_reserve(struct strbuf *b, size_t more)
{
	size_t need, cap;
	char *p;

	if (more > SIZE_MAX - b->len - 1)
		return KB_ERR_TOO_LONG;
	need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap == 0 ? 64 : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if ((p = realloc(b->s, cap)) == NULL)
		return KB_ERR_NOMEM;
	b->s = p;
	b->s[b->len] = '\0';
	b->cap = cap;
	return 0;
}

static int
sb_putc(struct strbuf *b, char c)
{
	int r;

	if ((r = sb_reserve(b, 1)) != 0)
		return r;
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
	return 0;
}

static int
sb_puthex(struct strbuf *b, unsigned char c)
{
	int r;

	if ((r = sb_reserve(b, 3)) != 0)
		return r;
	b->s[b->len++] = '\\';
	b->s[b->len++] = hexdigits[c >> 4];
	b->s[b->len++] = hexdigits[c & 0xf];
	b->s[b->len] = '\0';
	return 0;
}

/* Hand the buffer to *outp (an empty string if nothing was appended). */
static int
sb_finish(struct strbuf *b, char **outp)
{
	int r;

	if ((r = sb_reserve(b, 0)) != 0)
		return r;
	b->s[b->len] = '\0';
	*outp = b->s;
	b->s = NULL;
	return 0;
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
	struct strbuf b = { NULL, 0, 0 };
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

int
filter_expand(const char *tmpl, const char *user, const char *instance,
    const char *fingerprint, char **outp)
{
	struct strbuf b = { NULL, 0, 0 };
	const char *val;
	size_t i;
	int r = KB_ERR_INTERNAL;

	*outp = NULL;
	if (tmpl == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	for (i = 0; tmpl[i] != '\0'; i++) {
		if (tmpl[i] != '%') {
			if ((r = sb_putc(&b, tmpl[i])) != 0)
				goto out;
			continue;
		}
		switch (tmpl[++i]) {
		case '%':
			if ((r = sb_putc(&b, '%')) != 0)
				goto out;
			continue;
		case 'u':
			val = user;
			break;
		case 'i':
			val = instance;
			break;
		case 'f':
			val = fingerprint;
			break;
		default:
			r = KB_ERR_FILTER_TEMPLATE;
			goto out;
		}
		if (val == NULL) {
			r = KB_ERR_FILTER_TEMPLATE;
			goto out;
		}
		if ((r = filter_escape_append(&b, val, strlen(val))) != 0)
			goto out;
	}
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
	size_t nstars = 0, refs;
	unsigned char c;

	if (p->s[p->pos] == ':')
		return fp_extensible(p, 0);
	if (fp_attrdesc(p) != 0)
		return -1;
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
name_attribute_valid(const char *name)
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
filter_template_subject_items(const char *tmpl, size_t *np)
{
	struct fparse p;

	*np = 0;
	if (tmpl == NULL)
		return KB_ERR_FILTER_TEMPLATE;
	memset(&p, 0, sizeof(p));
	p.s = (const unsigned char *)tmpl;
	if (fp_filter(&p, 0) != 0 || p.s[p.pos] != '\0' || p.unchecked)
		return KB_ERR_FILTER_TEMPLATE;
	*np = p.subject_items;
	return 0;
}

int
dn_escape_value(const char *val, char **outp)
{
	struct strbuf b = { NULL, 0, 0 };
	const unsigned char *v = (const unsigned char *)val;
	size_t i, len;
	int r = KB_ERR_INTERNAL;

	*outp = NULL;
	if (val == NULL || val[0] == '\0') {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	len = strlen(val);
	for (i = 0; i < len; i++) {
		if (v[i] < 0x20 || v[i] > 0x7e)
			r = sb_puthex(&b, v[i]);
		else if (strchr("\"+,;<>\\=", v[i]) != NULL ||
		    (i == 0 && (v[i] == ' ' || v[i] == '#')) ||
		    (i == len - 1 && v[i] == ' ')) {
			if ((r = sb_putc(&b, '\\')) == 0)
				r = sb_putc(&b, (char)v[i]);
		} else
			r = sb_putc(&b, (char)v[i]);
		if (r != 0)
			goto out;
	}
	r = sb_finish(&b, outp);
 out:
	free(b.s);
	return r;
}

/* /etc/machine-id: exactly 32 lower-case hex digits and a newline. */
static int
machine_id_read(struct strbuf *b)
{
	char buf[MACHINE_ID_LEN + 2];
	ssize_t n;
	size_t i;
	int fd = -1, r = KB_ERR_INTERNAL;

	if ((fd = open(MACHINE_ID_PATH, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		r = KB_ERR_SYSTEM;
		goto out;
	}
	do
		n = read(fd, buf, sizeof(buf));
	while (n == -1 && errno == EINTR);
	if (n < MACHINE_ID_LEN || n > MACHINE_ID_LEN + 1 ||
	    (n == MACHINE_ID_LEN + 1 && buf[MACHINE_ID_LEN] != '\n')) {
		r = KB_ERR_INSTANCE_NAME;
		goto out;
	}
	for (i = 0; i < MACHINE_ID_LEN; i++) {
		if (!is_digit((unsigned char)buf[i]) &&
		    !(buf[i] >= 'a' && buf[i] <= 'f')) {
			r = KB_ERR_INSTANCE_NAME;
			goto out;
		}
	}
	for (i = 0; i < MACHINE_ID_LEN; i++)
		if ((r = sb_putc(b, buf[i])) != 0)
			goto out;
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	return r;
}

/* The kernel's host name, whole or cut at the first dot; no DNS. */
static int
host_name_append(struct strbuf *b, int shortname)
{
	struct utsname u;
	size_t i;
	int r;

	if (uname(&u) == -1)
		return KB_ERR_SYSTEM;
	for (i = 0; i < sizeof(u.nodename) && u.nodename[i] != '\0'; i++) {
		if (shortname && u.nodename[i] == '.')
			break;
		if ((r = sb_putc(b, u.nodename[i])) != 0)
			return r;
	}
	return 0;
}

int
instance_expand(const char *spec, char **outp)
{
	struct strbuf b = { NULL, 0, 0 };
	size_t i;
	int r = KB_ERR_INTERNAL;

	*outp = NULL;
	if (spec == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	for (i = 0; spec[i] != '\0'; i++) {
		if (b.len > KB_INSTANCE_MAX) {
			r = KB_ERR_INSTANCE_NAME;
			goto out;
		}
		if (spec[i] != '%') {
			r = sb_putc(&b, spec[i]);
		} else {
			switch (spec[++i]) {
			case 'h':
				r = host_name_append(&b, 1);
				break;
			case 'H':
				r = host_name_append(&b, 0);
				break;
			case 'm':
				r = machine_id_read(&b);
				break;
			default:
				r = KB_ERR_INSTANCE_NAME;
				break;
			}
		}
		if (r != 0)
			goto out;
	}
	if ((r = sb_reserve(&b, 0)) != 0)
		goto out;
	if ((r = name_instance_valid(b.s)) != 0)
		goto out;
	r = sb_finish(&b, outp);
 out:
	free(b.s);
	return r;
}
