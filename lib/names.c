/*
 * names.c - validation of user, instance and key pair names, RFC 4514
 * DN value escaping, and expansion of the `instance` config value.
 * Search filters are lib/filter.c's.
 *
 * Decisions worth knowing:
 *  - User names follow the SPEC rule (1..256 bytes, no control byte, no
 *    leading/trailing space, no leading '-') plus strict UTF-8 (no overlong
 *    forms, no surrogates, nothing above U+10FFFF) and no C1 control code
 *    points (U+0080..U+009F).  Filter metacharacters and backslashes are
 *    allowed ("DOMAIN\user" is a real winbind name): values are always
 *    escaped before they reach a filter, and the directory's answer is
 *    re-checked byte for byte.
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
#include "strbuf.h"

#define MACHINE_ID_PATH		"/etc/machine-id"
#define MACHINE_ID_LEN		32

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

	if (instance == NULL || (!is_alpha(s[0]) && !is_digit(s[0])))
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

int
dn_escape_value(const char *val, char **outp)
{
	struct strbuf b = STRBUF_INIT;
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
	struct strbuf b = STRBUF_INIT;
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
