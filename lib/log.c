/*
 * log.c - key=value syslog lines from untrusted values.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static const char hexdigits[] = "0123456789abcdef";

void
logline_init(struct kb_logline *l)
{
	l->len = 0;
	l->buf[0] = '\0';
}

/* Append n bytes if they fit with the terminating NUL, else nothing. */
static int
append(struct kb_logline *l, const char *s, size_t n)
{
	if (n >= sizeof(l->buf) - l->len)
		return -1;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = '\0';
	return 0;
}

/* A byte that may stand unquoted in a value. */
static int
is_token_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("._-:@/+=,%", c) != NULL;
}

static int
is_token(const unsigned char *v, size_t len)
{
	size_t i;

	if (len == 0 || len > KB_LOG_VALUE_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (v[i] == '\0' || !is_token_byte(v[i]))
			return 0;
	return 1;
}

/*
 * Length of a well-formed UTF-8 sequence at v (at most len bytes) whose
 * code point is a CJK unified ideograph (the non-ASCII characters of key
 * pair names), else 0: every other byte above 0x7e is shown as \xHH.
 */
static size_t
cjk_seq(const unsigned char *v, size_t len)
{
	unsigned long cp;
	size_t n, i;

	if (v[0] >= 0xe3 && v[0] <= 0xe9)
		n = 3;
	else if (v[0] == 0xf0)
		n = 4;
	else
		return 0;
	if (len < n)
		return 0;
	cp = v[0] & (n == 3 ? 0x0f : 0x07);
	for (i = 1; i < n; i++) {
		if ((v[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (v[i] & 0x3f);
	}
	if ((cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x4e00 && cp <= 0x9fff) ||
	    (cp >= 0x20000 && cp <= 0x2a6df) ||
	    (cp >= 0x2a700 && cp <= 0x2ee5f) ||
	    (cp >= 0x30000 && cp <= 0x323af))
		return n;
	return 0;
}

/* Append key, '=', and the escaped value; a line too long is cut cleanly. */
static void
append_kv(struct kb_logline *l, const char *key, const unsigned char *v,
    size_t len)
{
	char esc[4];
	size_t i, n, shown, save = l->len;

	if ((l->len > 0 && append(l, " ", 1) != 0) ||
	    append(l, key, strlen(key)) != 0 || append(l, "=", 1) != 0)
		goto cut;
	if (is_token(v, len)) {
		if (append(l, (const char *)v, len) != 0)
			goto cut;
		return;
	}
	shown = len > KB_LOG_VALUE_MAX ? KB_LOG_VALUE_MAX : len;
	if (append(l, "\"", 1) != 0)
		goto cut;
	for (i = 0; i < shown; i++) {
		if (v[i] == '"' || v[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)v[i];
			if (append(l, esc, 2) != 0)
				goto cut;
		} else if (v[i] >= 0x20 && v[i] < 0x7f) {
			if (append(l, (const char *)&v[i], 1) != 0)
				goto cut;
		} else if ((n = cjk_seq(v + i, shown - i)) > 0) {
			/* a CJK ideograph (key pair names) stays readable */
			if (append(l, (const char *)&v[i], n) != 0)
				goto cut;
			i += n - 1;
		} else {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hexdigits[v[i] >> 4];
			esc[3] = hexdigits[v[i] & 0xf];
			if (append(l, esc, 4) != 0)
				goto cut;
		}
	}
	if (shown < len && append(l, "...", 3) != 0)
		goto cut;
	if (append(l, "\"", 1) != 0)
		goto cut;
	return;
 cut:
	/* Never leave half a field: drop it and mark the line. */
	l->len = save;
	l->buf[l->len] = '\0';
	if (l->len + 4 < sizeof(l->buf) &&
	    (l->len < 4 || strcmp(l->buf + l->len - 4, " ...") != 0))
		append(l, " ...", 4);
}

void
logline_bytes(struct kb_logline *l, const char *key, const void *val,
    size_t len)
{
	append_kv(l, key, val, len);
}

void
logline_str(struct kb_logline *l, const char *key, const char *val)
{
	if (val == NULL)
		val = "-";
	append_kv(l, key, (const unsigned char *)val, strlen(val));
}

void
logline_num(struct kb_logline *l, const char *key, long long v)
{
	char num[32];
	int n;

	n = snprintf(num, sizeof(num), "%lld", v);
	if (n > 0 && (size_t)n < sizeof(num))
		append_kv(l, key, (const unsigned char *)num, (size_t)n);
}

const char *
logline_text(const struct kb_logline *l)
{
	return l->buf;
}

void
log_open(const char *ident)
{
	openlog(ident, LOG_PID, LOG_AUTHPRIV);
}

void
log_emit(int prio, const struct kb_logline *l)
{
	syslog(LOG_AUTHPRIV | prio, "%s", l->buf);
}
