/*
 * keyopts.c - authorized_keys options as structured data.
 *
 * The grammar is sshd's (auth-options.c): options separated by ',', each a
 * keyword optionally followed by ="value"; inside the quotes \" stands for
 * a quote and every other backslash is literal.  Only the allow-list is ever
 * kept; values are re-validated before rendering so that a rendered line
 * always reads back to exactly the same options.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kb.h"
#include "keyopts.h"

#define OPTS_STRING_MAX		8192	/* whole options string */
#define OPTS_KEYWORD_MAX	64

enum opt_kind { OPT_FLAG, OPT_FROM, OPT_COMMAND };

struct opt_def {
	const char *name;		/* canonical spelling, render order */
	enum opt_kind kind;
	unsigned flag;
};

static const struct opt_def opt_defs[] = {
	{ "restrict",		OPT_FLAG,	KB_OPT_RESTRICT },
	{ "no-agent-forwarding", OPT_FLAG,	KB_OPT_NO_AGENT_FORWARDING },
	{ "no-port-forwarding",	OPT_FLAG,	KB_OPT_NO_PORT_FORWARDING },
	{ "no-pty",		OPT_FLAG,	KB_OPT_NO_PTY },
	{ "no-user-rc",		OPT_FLAG,	KB_OPT_NO_USER_RC },
	{ "no-X11-forwarding",	OPT_FLAG,	KB_OPT_NO_X11_FORWARDING },
	{ "verify-required",	OPT_FLAG,	KB_OPT_VERIFY_REQUIRED },
	{ "from",		OPT_FROM,	0 },
	{ "command",		OPT_COMMAND,	0 },
};

#define KB_OPT_ALL_FLAGS	0x7f

/*
 * Options outside the allow-list that may be dropped: each only grants
 * something, so leaving it out can only narrow what the key may do.  Any
 * other unknown option (permitopen=, permitlisten=, tunnel=, principals=,
 * expiry-time=, cert-authority, or one we do not know at all) may restrict
 * the key; dropping it would widen access, so the whole string is refused
 * and the key is not served.
 */
static const char *const opt_grant_only[] = {
	"environment", "agent-forwarding", "port-forwarding", "pty",
	"user-rc", "X11-forwarding", "no-touch-required",
};

/* One option as read from the string. */
struct opt_token {
	const char *kw;
	size_t kwlen;
	int has_value;
	char *value;			/* dequoted, NUL-terminated, or NULL */
};

static int
opt_keyword_char(unsigned char c)
{
	return isascii(c) && (isalnum(c) || c == '-' || c == '_');
}

/*
 * Dequote "..." starting at *sp (which points at the opening quote), as
 * sshd does.  The value must be printable ASCII and at most
 * KB_OPT_VALUE_MAX bytes once dequoted.
 */
static int
opt_dequote(const char **sp, const char *end, char **valuep)
{
	const char *s = *sp;
	char *v = NULL;
	size_t n = 0;
	int r = KB_ERR_OPT_SYNTAX;

	*valuep = NULL;
	if (s >= end || *s != '"')
		goto out;
	s++;
	if ((v = malloc(KB_OPT_VALUE_MAX + 1)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	while (s < end && *s != '"') {
		if (*s == '\\' && s + 1 < end && s[1] == '"')
			s++;
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			goto out;
		if (n == KB_OPT_VALUE_MAX) {
			r = KB_ERR_TOO_LONG;
			goto out;
		}
		v[n++] = *s++;
	}
	if (s >= end)			/* missing end quote */
		goto out;
	v[n] = '\0';
	*sp = s + 1;
	*valuep = v;
	v = NULL;
	r = 0;
 out:
	free(v);
	return r;
}

/* Read one option at *sp; on success *sp is past it and its separator. */
static int
opt_next(const char **sp, const char *end, struct opt_token *t)
{
	const char *s = *sp;
	int r;

	memset(t, 0, sizeof(*t));
	t->kw = s;
	while (s < end && opt_keyword_char((unsigned char)*s))
		s++;
	t->kwlen = (size_t)(s - t->kw);
	if (t->kwlen == 0 || t->kwlen > OPTS_KEYWORD_MAX)
		return KB_ERR_OPT_SYNTAX;
	if (s < end && *s == '=') {
		s++;
		if ((r = opt_dequote(&s, end, &t->value)) != 0)
			return r;
		t->has_value = 1;
	}
	if (s < end) {
		/* anything but a comma after an option is an error */
		if (*s != ',' || s + 1 == end) {
			free(t->value);
			t->value = NULL;
			return KB_ERR_OPT_SYNTAX;
		}
		s++;
	}
	*sp = s;
	return 0;
}

static const struct opt_def *
opt_lookup(const struct opt_token *t)
{
	size_t i;

	for (i = 0; i < sizeof(opt_defs) / sizeof(opt_defs[0]); i++) {
		if (strlen(opt_defs[i].name) == t->kwlen &&
		    strncasecmp(opt_defs[i].name, t->kw, t->kwlen) == 0)
			return &opt_defs[i];
	}
	return NULL;
}

static int
opt_droppable(const struct opt_token *t)
{
	size_t i;

	for (i = 0; i < sizeof(opt_grant_only) / sizeof(opt_grant_only[0]);
	    i++) {
		if (strlen(opt_grant_only[i]) == t->kwlen &&
		    strncasecmp(opt_grant_only[i], t->kw, t->kwlen) == 0)
			return 1;
	}
	return 0;
}

/* Append a dropped keyword (lower-cased) if it fits whole. */
static void
opt_note_dropped(const struct opt_token *t, char *dropped, size_t dropsz)
{
	size_t used, need, i;

	if (dropped == NULL || dropsz == 0)
		return;
	used = strlen(dropped);
	need = t->kwlen + (used > 0 ? 1 : 0);
	if (used + need + 1 > dropsz)
		return;
	if (used > 0)
		dropped[used++] = ',';
	for (i = 0; i < t->kwlen; i++)
		dropped[used++] = (char)tolower((unsigned char)t->kw[i]);
	dropped[used] = '\0';
}

/* An allow-listed flag takes no value; from= and command= need one. */
static int
opt_check_form(const struct opt_def *d, const struct opt_token *t)
{
	if ((d->kind == OPT_FLAG) == (t->has_value != 0))
		return KB_ERR_OPT_SYNTAX;
	return 0;
}

/* Store one allow-listed option into o. */
static int
opt_apply(const struct opt_def *d, struct opt_token *t, struct kb_keyopts *o)
{
	int r;

	if ((r = opt_check_form(d, t)) != 0)
		return r;
	switch (d->kind) {
	case OPT_FLAG:
		if (o->flags & d->flag)
			return KB_ERR_OPT_DUPLICATE;
		o->flags |= d->flag;
		return 0;
	case OPT_FROM:
		if (o->from != NULL)
			return KB_ERR_OPT_DUPLICATE;
		if ((r = opts_valid_from(t->value)) != 0)
			return r;
		o->from = t->value;
		t->value = NULL;
		return 0;
	case OPT_COMMAND:
		if (o->command != NULL)
			return KB_ERR_OPT_DUPLICATE;
		if ((r = opts_valid_command(t->value)) != 0)
			return r;
		o->command = t->value;
		t->value = NULL;
		return 0;
	default:
		return KB_ERR_INTERNAL;
	}
}

/* Common walk; o == NULL means syntax check only. */
static int
opts_walk(const char *s, size_t len, int mode, struct kb_keyopts *o,
    char *dropped, size_t dropsz)
{
	const char *end = s + len;
	const struct opt_def *d;
	struct opt_token t;
	int r = 0;

	if (len > OPTS_STRING_MAX)
		return KB_ERR_TOO_LONG;
	while (s < end) {
		if ((r = opt_next(&s, end, &t)) != 0)
			return r;
		d = opt_lookup(&t);
		if (o == NULL)
			r = d == NULL ? 0 : opt_check_form(d, &t);
		else if (d != NULL)
			r = opt_apply(d, &t, o);
		else if (mode == KB_OPTS_DROP_UNKNOWN && opt_droppable(&t))
			opt_note_dropped(&t, dropped, dropsz);
		else
			r = KB_ERR_OPT_UNKNOWN;
		free(t.value);
		if (r != 0)
			return r;
	}
	return 0;
}

int
opts_parse(const char *s, size_t len, int mode, struct kb_keyopts *o,
    char *dropped, size_t dropsz)
{
	struct kb_keyopts tmp;
	int r = KB_ERR_INTERNAL;

	memset(&tmp, 0, sizeof(tmp));
	memset(o, 0, sizeof(*o));
	if (dropped != NULL && dropsz > 0)
		dropped[0] = '\0';
	if (s == NULL || (mode != KB_OPTS_STRICT &&
	    mode != KB_OPTS_DROP_UNKNOWN)) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = opts_walk(s, len, mode, &tmp, dropped, dropsz)) != 0)
		goto out;
	*o = tmp;
	memset(&tmp, 0, sizeof(tmp));
	r = 0;
 out:
	if (r != 0 && dropped != NULL && dropsz > 0)
		dropped[0] = '\0';
	opts_clear(&tmp);
	return r;
}

int
opts_check_syntax(const char *s, size_t len)
{
	if (s == NULL)
		return KB_ERR_INVALID_ARG;
	return opts_walk(s, len, KB_OPTS_DROP_UNKNOWN, NULL, NULL, 0);
}

/* A CIDR "ADDR/LEN": a real address, a sane length, no host bits set. */
static int
opt_valid_cidr(const char *p, size_t n)
{
	unsigned char addr[16];
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash = memchr(p, '/', n);
	size_t alen, i, nbytes;
	unsigned masklen = 0, maxlen;
	int af;

	if (slash == NULL)
		return KB_ERR_OPT_FROM;
	alen = (size_t)(slash - p);
	if (alen == 0 || alen >= sizeof(buf))
		return KB_ERR_OPT_FROM;
	memcpy(buf, p, alen);
	buf[alen] = '\0';
	af = memchr(buf, ':', alen) != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(af, buf, addr) != 1)
		return KB_ERR_OPT_FROM;
	maxlen = af == AF_INET ? 32 : 128;
	nbytes = maxlen / 8;
	/* the length: 1-3 digits, no leading zero, at most maxlen */
	p = slash + 1;
	n -= alen + 1;
	if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
		return KB_ERR_OPT_FROM;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return KB_ERR_OPT_FROM;
		masklen = masklen * 10 + (unsigned)(p[i] - '0');
	}
	if (masklen > maxlen)
		return KB_ERR_OPT_FROM;
	for (i = 0; i < nbytes; i++) {
		unsigned first = (unsigned)i * 8;
		unsigned char hostmask;

		if (first + 8 <= masklen)
			continue;
		hostmask = first >= masklen ? 0xff :
		    (unsigned char)(0xff >> (masklen - first));
		if (addr[i] & hostmask)
			return KB_ERR_OPT_FROM;
	}
	return 0;
}

/* One pattern of a from= list (without its '!'). */
static int
opt_valid_pattern(const char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return KB_ERR_OPT_FROM;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (!(isascii(c) && isalnum(c)) && strchr(".:*?/_-", c) == NULL)
			return KB_ERR_OPT_FROM;
	}
	if (memchr(p, '/', n) == NULL)
		return 0;
	/* a network: no wildcards, exactly one address and one length */
	if (memchr(p, '*', n) != NULL || memchr(p, '?', n) != NULL)
		return KB_ERR_OPT_FROM;
	return opt_valid_cidr(p, n);
}

int
opts_valid_from(const char *patterns)
{
	const char *p, *comma;
	size_t len, n;
	int r;

	if (patterns == NULL)
		return KB_ERR_INVALID_ARG;
	len = strlen(patterns);
	if (len == 0)
		return KB_ERR_OPT_FROM;
	if (len > KB_OPT_VALUE_MAX)
		return KB_ERR_TOO_LONG;
	for (p = patterns; ; p = comma + 1) {
		comma = strchr(p, ',');
		n = comma == NULL ? strlen(p) : (size_t)(comma - p);
		if (n > 0 && *p == '!') {
			p++;
			n--;
		}
		if ((r = opt_valid_pattern(p, n)) != 0)
			return r;
		if (comma == NULL)
			break;
	}
	return 0;
}

int
opts_valid_command(const char *command)
{
	size_t i, len;

	if (command == NULL)
		return KB_ERR_INVALID_ARG;
	len = strlen(command);
	if (len == 0)
		return KB_ERR_OPT_COMMAND;
	if (len > KB_OPT_VALUE_MAX)
		return KB_ERR_TOO_LONG;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)command[i];

		if (c < 0x20 || c > 0x7e)
			return KB_ERR_OPT_COMMAND;
	}
	/*
	 * A final backslash would sit right before the closing quote and
	 * turn it into an escaped quote: no quoting can express it.
	 */
	if (command[len - 1] == '\\')
		return KB_ERR_OPT_COMMAND;
	return 0;
}

/* Bounded appender for opts_render. */
struct opt_out {
	char *buf;
	size_t len, size;
};

static int
opt_put(struct opt_out *w, const char *s, size_t n)
{
	if (n >= w->size - w->len)
		return KB_ERR_TOO_LONG;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
	return 0;
}

static int
opt_put_sep(struct opt_out *w)
{
	return w->len == 0 ? 0 : opt_put(w, ",", 1);
}

/* command="...": every '"' written as \" (sshd's only escape). */
static int
opt_put_quoted(struct opt_out *w, const char *name, const char *value)
{
	const char *p;
	int r;

	if ((r = opt_put_sep(w)) != 0 ||
	    (r = opt_put(w, name, strlen(name))) != 0 ||
	    (r = opt_put(w, "=\"", 2)) != 0)
		return r;
	for (p = value; *p != '\0'; p++) {
		if (*p == '"')
			r = opt_put(w, "\\\"", 2);
		else
			r = opt_put(w, p, 1);
		if (r != 0)
			return r;
	}
	return opt_put(w, "\"", 1);
}

static int
opt_put_expiry(struct opt_out *w, time_t t)
{
	struct tm tm;
	char buf[64];
	int n, r;

	if (t < 0 || gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999)
		return KB_ERR_TIME;
	n = snprintf(buf, sizeof(buf),
	    "expiry-time=\"%04d%02d%02d%02d%02d%02dZ\"",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return KB_ERR_INTERNAL;
	if ((r = opt_put_sep(w)) != 0)
		return r;
	return opt_put(w, buf, (size_t)n);
}

int
opts_render(const struct kb_keyopts *o, char **outp)
{
	struct opt_out w = { NULL, 0, 0 };
	size_t i;
	int r = KB_ERR_INTERNAL;

	*outp = NULL;
	if (o == NULL || (o->flags & ~(unsigned)KB_OPT_ALL_FLAGS) != 0) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if ((o->from != NULL && (r = opts_valid_from(o->from)) != 0) ||
	    (o->command != NULL &&
	    (r = opts_valid_command(o->command)) != 0))
		goto out;
	w.size = 4 * KB_OPT_VALUE_MAX + 512;
	if ((w.buf = malloc(w.size)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	w.buf[0] = '\0';
	for (i = 0; i < sizeof(opt_defs) / sizeof(opt_defs[0]); i++) {
		const struct opt_def *d = &opt_defs[i];

		if (d->kind == OPT_FLAG && (o->flags & d->flag)) {
			if ((r = opt_put_sep(&w)) != 0 ||
			    (r = opt_put(&w, d->name, strlen(d->name))) != 0)
				goto out;
		} else if (d->kind == OPT_FROM && o->from != NULL) {
			if ((r = opt_put_quoted(&w, d->name, o->from)) != 0)
				goto out;
		} else if (d->kind == OPT_COMMAND && o->command != NULL) {
			if ((r = opt_put_quoted(&w, d->name, o->command)) != 0)
				goto out;
		}
	}
	if (o->has_expiry && (r = opt_put_expiry(&w, o->expiry)) != 0)
		goto out;
	*outp = w.buf;
	w.buf = NULL;
	r = 0;
 out:
	free(w.buf);
	return r;
}

void
opts_clear(struct kb_keyopts *o)
{
	if (o == NULL)
		return;
	free(o->from);
	free(o->command);
	memset(o, 0, sizeof(*o));
}
