/*
 * config.c - the keybound.conf parser: a keyword table of small typed
 * setters, every bad line reported, then the whole file refused.
 *
 * Syntax: one "keyword value..." per line; keywords are case-insensitive;
 * blanks are spaces and tabs; a '#' that starts a token (at the start of
 * the line or after a blank) starts a comment that runs to the end of the
 * line.  There is no quoting: list keywords (uri, allowed_key_types) split
 * their value on blanks (allowed_key_types also on commas), every other
 * keyword takes the rest of the line with surrounding blanks removed;
 * numbers, yes/no and choices must then be a single token.  A line may not
 * hold a control character other than tab (a CR from a CRLF file
 * included), a NUL byte or invalid UTF-8, and is at most
 * KB_CONFIG_MAX_LINE bytes.  A keyword given twice is an error, except
 * uri, which appends.
 *
 * Messages, in this order:
 *   FILE: problem                 the file as a whole (open, mode, size)
 *   FILE:LINE: problem            a line that cannot be tokenised
 *   FILE:LINE: keyword: problem   a bad keyword or value, in line order
 *   FILE: keyword: problem        a required keyword missing, or the
 *                                 default instance not expanding
 *   FILE:LINE: keyword: problem   checks across keywords (plain-text
 *                                 LDAP, timeouts, bind and TLS settings;
 *                                 with the owner check, bindpw_file's
 *                                 owner and mode)
 *
 * The config file itself may be a symlink (deployments manage /etc that
 * way); the ownership and mode checks apply to the file actually opened,
 * via fstat on its descriptor.  The password file may not be a symlink.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "fdio.h"
#include "kb.h"
#include "filter.h"
#include "names.h"
#include "sshkey.h"

#define MSG_MAX		1024
#define ECHO_MAX	64	/* bytes of an unknown word echoed back */
#define BLANKS		" \t"

struct parse;
struct keyword;

typedef int (*setter_fn)(struct parse *, const struct keyword *, char *);

struct keyword {
	const char *name;
	setter_fn set;
	size_t off;		/* field in struct kb_config */
	unsigned min, max;	/* numbers */
	int repeat;		/* may appear on more than one line */
};

struct parse {
	const char *file;
	config_report_fn report;
	void *ctx;
	struct kb_config *cfg;
	unsigned line;
	int nerrors;
	unsigned *seen;		/* per keyword: first line, 0 = never */
	int schema_ok;		/* the schema line was valid */
	int starttls_ok;	/* the starttls line was valid */
	int instance_ok;	/* the instance line was valid */
	unsigned uri_line[KB_CONFIG_MAX_URIS];
	int uri_plain_remote[KB_CONFIG_MAX_URIS];
	int uri_all_ldapi;
};

static const char *const schema_names[] = {
	"keybound", "openssh-lpk", "custom", NULL
};

struct profile {
	const char *key_filter;
	const char *key_attribute;
	const char *fingerprint_attribute;
	const char *expiry_attribute;
	const char *options_attribute;
};

static const struct profile profiles[] = {
	[KB_SCHEMA_KEYBOUND] = {
		"(&(objectClass=keyboundKeyPair)(keyboundAttachment=%u@%i))",
		"keyboundPublicKey", "keyboundFingerprint",
		"keyboundNotAfter", "keyboundKeyOptions",
	},
	[KB_SCHEMA_OPENSSH_LPK] = {
		"(&(objectClass=ldapPublicKey)(uid=%u))",
		"sshPublicKey", NULL, NULL, NULL,
	},
	[KB_SCHEMA_CUSTOM] = { NULL, NULL, NULL, NULL, NULL },
};

static const struct {
	const char *name;
	const char *wire;
	unsigned bit;
} key_types[] = {
	{ "ed25519", "ssh-ed25519", KB_KT_ED25519 },
	{ "ecdsa-nistp256", "ecdsa-sha2-nistp256", KB_KT_ECDSA_P256 },
	{ "ecdsa-nistp384", "ecdsa-sha2-nistp384", KB_KT_ECDSA_P384 },
	{ "ecdsa-nistp521", "ecdsa-sha2-nistp521", KB_KT_ECDSA_P521 },
	{ "sk-ed25519", "sk-ssh-ed25519@openssh.com", KB_KT_SK_ED25519 },
	{ "sk-ecdsa", "sk-ecdsa-sha2-nistp256@openssh.com", KB_KT_SK_ECDSA },
	{ "rsa", "ssh-rsa", KB_KT_RSA },
};

/* Messages: "FILE:LINE: " (line 0: "FILE: ") + text, control bytes as '?'. */
static void report(struct parse *, unsigned, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(struct parse *p, unsigned line, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;
	size_t i;
	int n;

	p->nerrors++;
	if (p->report == NULL)
		return;
	if (line > 0)
		n = snprintf(msg, sizeof(msg), "%s:%u: ", p->file, line);
	else
		n = snprintf(msg, sizeof(msg), "%s: ", p->file);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	p->report(p->ctx, msg);
}

/* Report "keyword: problem" on the current line. */
static void bad(struct parse *, const struct keyword *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
bad(struct parse *p, const struct keyword *kw, const char *fmt, ...)
{
	char text[MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	report(p, p->line, "%s: %s", kw->name, text);
}

/* A short printable copy of an unknown word for a message. */
static void
echo_word(const char *w, size_t len, char *out, size_t outlen)
{
	size_t cut = ECHO_MAX;

	/* never cut a UTF-8 sequence in two */
	while (len > ECHO_MAX && cut > 0 &&
	    ((unsigned char)w[cut] & 0xc0) == 0x80)
		cut--;
	if (len > ECHO_MAX)
		snprintf(out, outlen, "%.*s...", (int)cut, w);
	else
		snprintf(out, outlen, "%.*s", (int)len, w);
}

#define FIELD_STR(cfg, off)	(*(char **)(void *)((char *)(cfg) + (off)))
#define FIELD_UINT(cfg, off)	(*(unsigned *)(void *)((char *)(cfg) + (off)))

int
config_parse_uint(const char *s, unsigned min, unsigned max, unsigned *valp)
{
	unsigned long v = 0;
	size_t i;

	if (s == NULL || s[0] == '\0')
		return KB_ERR_CONFIG;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 10)
			return KB_ERR_CONFIG;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < min || v > max)
		return KB_ERR_CONFIG;
	*valp = (unsigned)v;
	return 0;
}

int
config_parse_choice(const char *s, const char *const *words, int *idxp)
{
	int i;

	if (s == NULL || words == NULL)
		return KB_ERR_CONFIG;
	for (i = 0; words[i] != NULL; i++) {
		if (strcasecmp(s, words[i]) == 0) {
			*idxp = i;
			return 0;
		}
	}
	return KB_ERR_CONFIG;
}

int
config_parse_bool(const char *s, int *valp)
{
	static const char *const words[] = { "no", "yes", NULL };
	int i;

	if (config_parse_choice(s, words, &i) != 0)
		return KB_ERR_CONFIG;
	*valp = i;
	return 0;
}

/* Replace a string field with a copy of val. */
static int
store_str(struct parse *p, size_t off, const char *val)
{
	char *copy;

	if ((copy = strdup(val)) == NULL)
		return KB_ERR_NOMEM;
	free(FIELD_STR(p->cfg, off));
	FIELD_STR(p->cfg, off) = copy;
	return 0;
}

static int
one_token(struct parse *p, const struct keyword *kw, const char *val)
{
	if (strpbrk(val, BLANKS) != NULL) {
		bad(p, kw, "expected one value");
		return KB_ERR_CONFIG;
	}
	return 0;
}

static int
set_uint(struct parse *p, const struct keyword *kw, char *val)
{
	unsigned v;
	int r;

	if ((r = one_token(p, kw, val)) != 0)
		return r;
	if (config_parse_uint(val, kw->min, kw->max, &v) != 0) {
		bad(p, kw, "must be an integer in %u..%u", kw->min, kw->max);
		return KB_ERR_CONFIG;
	}
	FIELD_UINT(p->cfg, kw->off) = v;
	return 0;
}

static int
set_starttls(struct parse *p, const struct keyword *kw, char *val)
{
	int v, r;

	if ((r = one_token(p, kw, val)) != 0)
		return r;
	if (config_parse_bool(val, &v) != 0) {
		bad(p, kw, "must be yes or no");
		return KB_ERR_CONFIG;
	}
	p->cfg->starttls = v;
	p->starttls_ok = 1;
	return 0;
}

static int
set_schema(struct parse *p, const struct keyword *kw, char *val)
{
	int v, r;

	if ((r = one_token(p, kw, val)) != 0)
		return r;
	if (config_parse_choice(val, schema_names, &v) != 0) {
		bad(p, kw, "must be keybound, openssh-lpk or custom");
		return KB_ERR_CONFIG;
	}
	p->cfg->schema = (enum kb_schema)v;
	p->schema_ok = 1;
	return 0;
}

/* A DN: checked only loosely here (the directory has the last word). */
static int
set_dn(struct parse *p, const struct keyword *kw, char *val)
{
	if (strchr(val, '=') == NULL || val[0] == '=' || val[0] == ',') {
		bad(p, kw, "not a DN");
		return KB_ERR_CONFIG;
	}
	return store_str(p, kw->off, val);
}

static int
set_path(struct parse *p, const struct keyword *kw, char *val)
{
	if (val[0] != '/') {
		bad(p, kw, "must be an absolute path");
		return KB_ERR_CONFIG;
	}
	return store_str(p, kw->off, val);
}

/* FILE (absolute) or agent:SHA256:BASE64 (the key ssh-agent holds). */
static int
set_signing_key(struct parse *p, const struct keyword *kw, char *val)
{
	int r;

	if ((r = one_token(p, kw, val)) != 0)
		return r;
	if (strncmp(val, "agent:", 6) == 0) {
		if (strncmp(val + 6, "SHA256:", 7) != 0 || val[13] == '\0') {
			bad(p, kw, "agent: needs a SHA256: fingerprint");
			return KB_ERR_CONFIG;
		}
		return store_str(p, kw->off, val);
	}
	return set_path(p, kw, val);
}

/* A DURATION ("30d"), kept in seconds. */
static int
set_duration(struct parse *p, const struct keyword *kw, char *val)
{
	time_t secs;
	int r;

	if ((r = one_token(p, kw, val)) != 0)
		return r;
	if (clock_parse_duration(val, &secs) != 0) {
		bad(p, kw, "not a duration (a positive number followed by "
		    "s, m, h or d)");
		return KB_ERR_CONFIG;
	}
	FIELD_UINT(p->cfg, kw->off) = (unsigned)secs;
	return 0;
}

static int
set_attribute(struct parse *p, const struct keyword *kw, char *val)
{
	int r;

	if ((r = one_token(p, kw, val)) != 0)
		return r;
	if (filter_attribute_valid(val) != 0) {
		bad(p, kw, "not an attribute name (a descriptor or "
		    "a numeric OID)");
		return KB_ERR_CONFIG;
	}
	return store_str(p, kw->off, val);
}

static int
set_filter(struct parse *p, const struct keyword *kw, char *val)
{
	unsigned uses;
	size_t nitems;

	if (filter_template_check(val, &uses) != 0) {
		bad(p, kw, "not an RFC 4515 filter (%%u and %%i only inside "
		    "values)");
		return KB_ERR_CONFIG;
	}
	if ((uses & KB_FILTER_USES_FINGERPRINT) != 0) {
		bad(p, kw, "%%f is not allowed here");
		return KB_ERR_CONFIG;
	}
	if ((uses & KB_FILTER_USES_USER) == 0) {
		bad(p, kw, "must contain %%u");
		return KB_ERR_CONFIG;
	}
	/* what lookup.c can re-check, or every lookup would fail */
	if (filter_template_items(val, NULL, 0, &nitems) != 0 ||
	    nitems == 0 || nitems > KB_FILTER_MAX_SUBJECT_ITEMS) {
		bad(p, kw, "%%u and %%i only in 1 to %d attr=value items "
		    "without '*' and not under '|' or '!' (each answer is "
		    "re-checked against them)", KB_FILTER_MAX_SUBJECT_ITEMS);
		return KB_ERR_CONFIG;
	}
	return store_str(p, kw->off, val);
}

static int
set_instance(struct parse *p, const struct keyword *kw, char *val)
{
	char *inst = NULL;
	int r;

	if ((r = one_token(p, kw, val)) != 0)
		return r;
	switch ((r = instance_expand(val, &inst))) {
	case 0:
		break;
	case KB_ERR_NOMEM:
		return r;
	case KB_ERR_SYSTEM:
		bad(p, kw, "cannot read the host name or /etc/machine-id");
		return KB_ERR_CONFIG;
	default:
		bad(p, kw, "not a valid instance id (letters, digits, '.', "
		    "'_', '-', or %%h %%H %%m)");
		return KB_ERR_CONFIG;
	}
	free(p->cfg->instance);
	p->cfg->instance = inst;
	p->instance_ok = 1;
	return 0;
}

static int
set_sasl_mech(struct parse *p, const struct keyword *kw, char *val)
{
	int r;

	if ((r = one_token(p, kw, val)) != 0)
		return r;
	if (strcasecmp(val, "EXTERNAL") != 0) {
		bad(p, kw, "only EXTERNAL is supported");
		return KB_ERR_CONFIG;
	}
	return store_str(p, kw->off, "EXTERNAL");
}

static int
set_key_types(struct parse *p, const struct keyword *kw, char *val)
{
	char word[ECHO_MAX + 4];
	unsigned mask = 0;
	size_t len, i;
	char *t;
	int errors = 0;

	for (t = val; *t != '\0'; t += len) {
		t += strspn(t, BLANKS ",");
		if ((len = strcspn(t, BLANKS ",")) == 0)
			break;
		for (i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
			if ((strlen(key_types[i].name) == len &&
			    strncasecmp(t, key_types[i].name, len) == 0) ||
			    (strlen(key_types[i].wire) == len &&
			    strncasecmp(t, key_types[i].wire, len) == 0))
				break;
		if (i < sizeof(key_types) / sizeof(key_types[0])) {
			mask |= key_types[i].bit;
			continue;
		}
		errors++;
		if ((len == 3 && strncasecmp(t, "dsa", 3) == 0) ||
		    (len == 7 && strncasecmp(t, "ssh-dss", 7) == 0)) {
			bad(p, kw, "DSA (ssh-dss) keys are never allowed");
			continue;
		}
		echo_word(t, len, word, sizeof(word));
		bad(p, kw, "unknown key type \"%s\"", word);
	}
	if (errors > 0)
		return KB_ERR_CONFIG;
	if (mask == 0) {
		bad(p, kw, "no key type given");
		return KB_ERR_CONFIG;
	}
	p->cfg->allowed_key_types = mask;
	return 0;
}

/* "localhost", 127.0.0.0/8, ::1 or ::ffff:127.x.y.z */
static int
host_is_loopback(const char *host, size_t len, int bracketed)
{
	struct in6_addr a6;
	struct in_addr a4;
	char buf[INET6_ADDRSTRLEN + 1];

	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (bracketed) {
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return 0;
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	if (strcasecmp(buf, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, buf, &a4) != 1)
		return 0;
	return (ntohl(a4.s_addr) >> 24) == 127;
}

/* host[:port] or [v6][:port] of an ldap:// or ldaps:// URI. */
static int
uri_hostport_check(const char *s, size_t len, int *loopbackp)
{
	struct in6_addr a6;
	char buf[INET6_ADDRSTRLEN + 1];
	size_t hlen, i;
	unsigned port;

	if (len > 0 && s[0] == '[') {
		if ((hlen = strcspn(s, "]")) >= len ||
		    hlen - 1 >= sizeof(buf))
			return -1;
		memcpy(buf, s + 1, hlen - 1);
		buf[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return -1;
		*loopbackp = host_is_loopback(s + 1, hlen - 1, 1);
		hlen++;
	} else {
		hlen = strcspn(s, ":");
		if (hlen > len)
			hlen = len;
		if (hlen == 0 || hlen > KB_INSTANCE_MAX ||
		    s[0] == '-' || s[0] == '.')
			return -1;
		for (i = 0; i < hlen; i++)
			if (strchr("abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-", s[i]) ==
			    NULL)
				return -1;
		*loopbackp = host_is_loopback(s, hlen, 0);
	}
	if (hlen == len)
		return 0;
	if (s[hlen] != ':' || len - hlen - 1 > 5)
		return -1;
	memcpy(buf, s + hlen + 1, len - hlen - 1);
	buf[len - hlen - 1] = '\0';
	return config_parse_uint(buf, 1, 65535, &port) == 0 ? 0 : -1;
}

/* The socket path of an ldapi:// URI: percent-encoded, may be empty. */
static int
uri_ldapi_path_check(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (len - i < 3 || !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]))
				return -1;
			i += 2;
		} else if (strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-", s[i]) == NULL)
			return -1;
	}
	return 0;
}

static int
add_uri(struct parse *p, const struct keyword *kw, char *u)
{
	static const char *const schemes[] = {
		"ldap://", "ldaps://", "ldapi://", NULL
	};
	char word[ECHO_MAX + 4];
	size_t slen, rest, i;
	int scheme, loopback = 0, r;

	echo_word(u, strlen(u), word, sizeof(word));

	for (scheme = 0; schemes[scheme] != NULL; scheme++)
		if (strncasecmp(u, schemes[scheme],
		    strlen(schemes[scheme])) == 0)
			break;
	if (schemes[scheme] == NULL) {
		bad(p, kw, "%s: unsupported scheme (use ldap://, ldaps:// or "
		    "ldapi://)", word);
		return KB_ERR_CONFIG;
	}
	slen = strlen(schemes[scheme]);
	rest = strlen(u + slen);
	if (rest > 0 && u[slen + rest - 1] == '/')
		rest--;		/* one trailing '/' is fine */
	if (memchr(u + slen, '/', rest) != NULL) {
		bad(p, kw, "%s: only scheme://host[:port] is allowed", word);
		return KB_ERR_CONFIG;
	}
	if (scheme == 2)
		r = uri_ldapi_path_check(u + slen, rest);
	else
		r = uri_hostport_check(u + slen, rest, &loopback);
	if (r != 0) {
		bad(p, kw, "%s: invalid host, port or socket path", word);
		return KB_ERR_CONFIG;
	}
	if (p->cfg->nuris >= KB_CONFIG_MAX_URIS) {
		bad(p, kw, "%s: more than %d URIs", word, KB_CONFIG_MAX_URIS);
		return KB_ERR_CONFIG;
	}
	for (i = 0; i < slen; i++)	/* scheme in lower case */
		u[i] = schemes[scheme][i];
	if ((p->cfg->uris[p->cfg->nuris] = strdup(u)) == NULL)
		return KB_ERR_NOMEM;
	p->uri_line[p->cfg->nuris] = p->line;
	p->uri_plain_remote[p->cfg->nuris] = scheme == 0 && !loopback;
	if (scheme != 2)
		p->uri_all_ldapi = 0;
	p->cfg->nuris++;
	return 0;
}

static int
set_uri(struct parse *p, const struct keyword *kw, char *val)
{
	char *t, *save = NULL;
	int r, ret = 0;

	for (t = strtok_r(val, BLANKS, &save); t != NULL;
	    t = strtok_r(NULL, BLANKS, &save)) {
		if ((r = add_uri(p, kw, t)) == KB_ERR_NOMEM)
			return r;
		if (r != 0)
			ret = r;
	}
	return ret;
}

#define OFF(f)	offsetof(struct kb_config, f)

static const struct keyword keywords[] = {
	{ "uri", set_uri, 0, 0, 0, 1 },
	{ "base", set_dn, OFF(base), 0, 0, 0 },
	{ "group_base", set_dn, OFF(group_base), 0, 0, 0 },
	{ "schema", set_schema, 0, 0, 0, 0 },
	{ "key_filter", set_filter, OFF(key_filter), 0, 0, 0 },
	{ "key_attribute", set_attribute, OFF(key_attribute), 0, 0, 0 },
	{ "fingerprint_attribute", set_attribute,
	    OFF(fingerprint_attribute), 0, 0, 0 },
	{ "expiry_attribute", set_attribute, OFF(expiry_attribute), 0, 0, 0 },
	{ "options_attribute", set_attribute, OFF(options_attribute),
	    0, 0, 0 },
	{ "instance", set_instance, 0, 0, 0, 0 },
	{ "binddn", set_dn, OFF(binddn), 0, 0, 0 },
	{ "bindpw_file", set_path, OFF(bindpw_file), 0, 0, 0 },
	{ "sasl_mech", set_sasl_mech, OFF(sasl_mech), 0, 0, 0 },
	{ "starttls", set_starttls, 0, 0, 0, 0 },
	{ "tls_cacert", set_path, OFF(tls_cacert), 0, 0, 0 },
	{ "tls_cacertdir", set_path, OFF(tls_cacertdir), 0, 0, 0 },
	{ "tls_cert", set_path, OFF(tls_cert), 0, 0, 0 },
	{ "tls_key", set_path, OFF(tls_key), 0, 0, 0 },
	{ "timeout", set_uint, OFF(timeout), 1, 300, 0 },
	{ "network_timeout", set_uint, OFF(network_timeout), 1, 60, 0 },
	{ "cache_dir", set_path, OFF(cache_dir), 0, 0, 0 },
	{ "cache_ttl", set_uint, OFF(cache_ttl), 0, 86400, 0 },
	{ "offline_max_age", set_uint, OFF(offline_max_age), 0, 31536000, 0 },
	{ "allowed_key_types", set_key_types, 0, 0, 0, 0 },
	{ "min_rsa_bits", set_uint, OFF(min_rsa_bits), 2048, 16384, 0 },
	{ "max_keys", set_uint, OFF(max_keys), 1, 10000, 0 },
	{ "signing_key", set_signing_key, OFF(signing_key), 0, 0, 0 },
	{ "trusted_signers", set_path, OFF(trusted_signers), 0, 0, 0 },
	{ "signature_max_age", set_duration, OFF(signature_max_age), 0, 0, 0 },
};

#define NKEYWORDS	(sizeof(keywords) / sizeof(keywords[0]))

static size_t
keyword_index(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYWORDS; i++)
		if (strcmp(keywords[i].name, name) == 0)
			return i;
	return NKEYWORDS;	/* not reached for names in the table */
}

static unsigned
seen_line(const struct parse *p, const char *name)
{
	size_t i = keyword_index(name);

	return i < NKEYWORDS ? p->seen[i] : 0;
}

/* One line, NUL-terminated and writable; len bytes. */
static int
parse_line(struct parse *p, char *s, size_t len)
{
	char word[ECHO_MAX + 4];
	size_t i, klen;
	char *kw, *val, *end;

	if (len > KB_CONFIG_MAX_LINE) {
		report(p, p->line, "line longer than %d bytes",
		    KB_CONFIG_MAX_LINE);
		return 0;
	}
	if (memchr(s, '\0', len) != NULL) {
		report(p, p->line, "NUL byte in line");
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f) {
			report(p, p->line, "control character in line");
			return 0;
		}
	}
	if (name_utf8_valid(s, len) != 0) {
		report(p, p->line, "invalid UTF-8 in line");
		return 0;
	}
	for (i = 0; i < len; i++) {	/* a '#' starting a token */
		if (s[i] == '#' && (i == 0 || s[i - 1] == ' ' ||
		    s[i - 1] == '\t')) {
			s[i] = '\0';
			len = i;
			break;
		}
	}
	kw = s + strspn(s, BLANKS);
	if (*kw == '\0')
		return 0;
	klen = strcspn(kw, BLANKS);
	val = kw + klen + strspn(kw + klen, BLANKS);
	for (end = val + strlen(val); end > val &&
	    (end[-1] == ' ' || end[-1] == '\t'); end--)
		;
	*end = '\0';
	for (i = 0; i < NKEYWORDS; i++)
		if (strlen(keywords[i].name) == klen &&
		    strncasecmp(kw, keywords[i].name, klen) == 0)
			break;
	if (i == NKEYWORDS) {
		echo_word(kw, klen, word, sizeof(word));
		report(p, p->line, "%s: unknown keyword", word);
		return 0;
	}
	if (p->seen[i] != 0 && !keywords[i].repeat) {
		bad(p, &keywords[i], "duplicate keyword (first on line %u)",
		    p->seen[i]);
		return 0;
	}
	if (p->seen[i] == 0)
		p->seen[i] = p->line;
	if (*val == '\0') {
		bad(p, &keywords[i], "missing value");
		return 0;
	}
	return keywords[i].set(p, &keywords[i], val) == KB_ERR_NOMEM ?
	    KB_ERR_NOMEM : 0;
}

static int
apply_profile(struct parse *p)
{
	const struct profile *pr = &profiles[p->cfg->schema];
	const char *names[] = {
		"key_filter", "key_attribute", "fingerprint_attribute",
		"expiry_attribute", "options_attribute",
	};
	const char *vals[] = {
		pr->key_filter, pr->key_attribute, pr->fingerprint_attribute,
		pr->expiry_attribute, pr->options_attribute,
	};
	size_t i, k;
	int r;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		k = keyword_index(names[i]);
		if (p->seen[k] != 0 || vals[i] == NULL)
			continue;
		if ((r = store_str(p, keywords[k].off, vals[i])) != 0)
			return r;
	}
	return 0;
}

static int
check_required(struct parse *p)
{
	char *inst = NULL;
	int r;

	if (seen_line(p, "uri") == 0)
		report(p, 0, "uri: required keyword missing");
	if (seen_line(p, "base") == 0)
		report(p, 0, "base: required keyword missing");
	if (p->schema_ok && p->cfg->schema == KB_SCHEMA_CUSTOM) {
		if (seen_line(p, "key_filter") == 0)
			report(p, 0, "key_filter: required with schema custom");
		if (seen_line(p, "key_attribute") == 0)
			report(p, 0,
			    "key_attribute: required with schema custom");
	}
	if (seen_line(p, "instance") == 0) {
		r = instance_expand("%h", &inst);
		if (r == KB_ERR_NOMEM)
			return r;
		if (r != 0)
			report(p, 0, "instance: the host name is not a valid "
			    "instance id; set instance");
		else
			p->cfg->instance = inst;
	}
	return 0;
}

/* Does the attribute a (may be NULL) name want (case-insensitive)? */
static int
same_attr(const char *a, const char *want)
{
	return a != NULL && strcasecmp(a, want) == 0;
}

static void
check_transport(struct parse *p)
{
	struct kb_config *c = p->cfg;
	size_t i;

	if (p->starttls_ok && !c->starttls) {
		for (i = 0; i < c->nuris; i++)
			if (p->uri_plain_remote[i])
				report(p, p->uri_line[i], "uri: %s: plain-text "
				    "LDAP to a host that is not loopback; use "
				    "starttls yes, ldaps:// or ldapi://",
				    c->uris[i]);
	}
	if (c->network_timeout > c->timeout)
		report(p, seen_line(p, "network_timeout"),
		    "network_timeout: must not exceed timeout (%u)",
		    c->timeout);
	if (c->trusted_signers != NULL && c->schema != KB_SCHEMA_KEYBOUND)
		report(p, seen_line(p, "trusted_signers"),
		    "trusted_signers: signed entries need schema keybound");
	/* a key, options or expiry read from elsewhere would be unsigned */
	else if (c->trusted_signers != NULL &&
	    (!same_attr(c->key_attribute, "keyboundPublicKey") ||
	    !same_attr(c->options_attribute, "keyboundKeyOptions") ||
	    !same_attr(c->expiry_attribute, "keyboundNotAfter")))
		report(p, seen_line(p, "trusted_signers"),
		    "trusted_signers: the signature covers keyboundPublicKey, "
		    "keyboundKeyOptions and keyboundNotAfter; key_attribute, "
		    "options_attribute and expiry_attribute must name them");
}

static void
check_auth(struct parse *p)
{
	struct kb_config *c = p->cfg;

	if (c->binddn != NULL && c->bindpw_file == NULL &&
	    c->sasl_mech == NULL)
		report(p, seen_line(p, "binddn"),
		    "binddn: needs bindpw_file");
	if (c->bindpw_file != NULL && c->binddn == NULL)
		report(p, seen_line(p, "bindpw_file"),
		    "bindpw_file: needs binddn");
	if (c->sasl_mech != NULL && (c->binddn != NULL ||
	    c->bindpw_file != NULL))
		report(p, seen_line(p, "sasl_mech"),
		    "sasl_mech: cannot be combined with binddn or bindpw_file");
	if (c->sasl_mech != NULL && (c->tls_cert == NULL ||
	    c->tls_key == NULL) && !(p->uri_all_ldapi && c->nuris > 0))
		report(p, seen_line(p, "sasl_mech"), "sasl_mech: EXTERNAL "
		    "needs tls_cert and tls_key (or only ldapi:// URIs)");
	if (c->tls_cert != NULL && c->tls_key == NULL)
		report(p, seen_line(p, "tls_cert"), "tls_cert: needs tls_key");
	if (c->tls_key != NULL && c->tls_cert == NULL)
		report(p, seen_line(p, "tls_key"), "tls_key: needs tls_cert");
}

static int
config_defaults(struct kb_config **cfgp)
{
	struct kb_config *c;

	*cfgp = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return KB_ERR_NOMEM;
	c->schema = KB_SCHEMA_KEYBOUND;
	c->starttls = 1;
	c->timeout = 3;
	c->network_timeout = 1;
	c->cache_ttl = 10;
	c->offline_max_age = 86400;
	c->signature_max_age = 30 * 86400;
	c->allowed_key_types = KB_KT_DEFAULT_MASK;
	c->min_rsa_bits = 2048;
	c->max_keys = 100;
	if ((c->cache_dir = strdup("/var/cache/keybound")) == NULL) {
		free(c);
		return KB_ERR_NOMEM;
	}
	*cfgp = c;
	return 0;
}

/* Parse the lines of a NUL-terminated copy of the file. */
static int
parse_lines(struct parse *p, char *buf, size_t len)
{
	size_t start, end;
	int r;

	for (start = 0; start < len; start = end + 1) {
		p->line++;
		for (end = start; end < len && buf[end] != '\n'; end++)
			;
		buf[end] = '\0';
		if ((r = parse_line(p, buf + start, end - start)) != 0)
			return r;
	}
	return 0;
}

/* Root, or with self set the effective user (the admin CLI's own files). */
static int
owner_ok(const struct stat *st, int self)
{
	return st->st_uid == 0 || (self && st->st_uid == geteuid());
}

/*
 * With the owner check, a bindpw_file that exists with the wrong owner or
 * mode is a config error now rather than a failed bind later (the file
 * may be unreadable until keybound-keys drops privileges, so it is only
 * looked at here; it is checked again on the descriptor when read).
 */
static void
check_bindpw_file(struct parse *p, int self)
{
	struct stat st;
	const char *f = p->cfg->bindpw_file;
	unsigned line = seen_line(p, "bindpw_file");

	if (f == NULL || lstat(f, &st) == -1)
		return;
	if (!S_ISREG(st.st_mode))	/* lstat: a symlink too */
		report(p, line, "bindpw_file: not a regular file");
	else if (!owner_ok(&st, self)) {
		if (self)
			report(p, line, "bindpw_file: owned by uid %u, not by "
			    "root or uid %u", (unsigned)st.st_uid,
			    (unsigned)geteuid());
		else
			report(p, line, "bindpw_file: owned by uid %u, not by "
			    "root", (unsigned)st.st_uid);
	} else if ((st.st_mode & (S_IWGRP | S_IWOTH | S_IROTH)) != 0)
		report(p, line, "bindpw_file: readable by others or "
		    "writable by group or others (mode %04o)",
		    (unsigned)(st.st_mode & 07777));
}

static int
parse_buffer(const char *name, const char *buf, size_t len, unsigned flags,
    config_report_fn reportfn, void *ctx, struct kb_config **cfgp)
{
	struct kb_config *cfg = NULL;
	unsigned seen[NKEYWORDS];
	struct parse p;
	char *copy = NULL;
	int r = KB_ERR_INTERNAL;

	*cfgp = NULL;
	memset(&p, 0, sizeof(p));
	memset(seen, 0, sizeof(seen));
	p.file = name != NULL ? name : "(config)";
	p.report = reportfn;
	p.ctx = ctx;
	p.seen = seen;
	p.uri_all_ldapi = 1;
	if (buf == NULL && len != 0) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if (len > KB_CONFIG_MAX_BYTES) {
		report(&p, 0, "larger than %d bytes", KB_CONFIG_MAX_BYTES);
		r = KB_ERR_CONFIG;
		goto out;
	}
	if ((r = config_defaults(&cfg)) != 0)
		goto out;
	p.cfg = cfg;
	if ((copy = malloc(len + 1)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if (len > 0)
		memcpy(copy, buf, len);
	copy[len] = '\0';
	if ((r = parse_lines(&p, copy, len)) != 0 ||
	    (r = apply_profile(&p)) != 0 || (r = check_required(&p)) != 0)
		goto out;
	check_transport(&p);
	check_auth(&p);
	cfg->owner_self = (flags & KB_CONFIG_OWNER_SELF) != 0;
	if ((flags & KB_CONFIG_CHECK_OWNER) != 0)
		check_bindpw_file(&p, cfg->owner_self);
	if (p.nerrors > 0) {
		r = KB_ERR_CONFIG;
		goto out;
	}
	*cfgp = cfg;
	cfg = NULL;
	r = 0;
 out:
	free(copy);
	config_free(cfg);
	return r;
}

int
config_parse_buffer(const char *name, const char *buf, size_t len,
    config_report_fn reportfn, void *ctx, struct kb_config **cfgp)
{
	return parse_buffer(name, buf, len, 0, reportfn, ctx, cfgp);
}

/* Open a file for reading without blocking on a FIFO or a tty. */
static int
open_regular(const char *path, int nofollow, int *fdp, struct stat *st)
{
	int fd, saved, flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

	*fdp = -1;
	if (nofollow)
		flags |= O_NOFOLLOW;
	if ((fd = open(path, flags)) == -1)
		return errno == ELOOP ? KB_ERR_CONFIG_PERM : KB_ERR_CONFIG_OPEN;
	if (fstat(fd, st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return KB_ERR_CONFIG_OPEN;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return KB_ERR_CONFIG_PERM;
	}
	*fdp = fd;
	return 0;
}

static void
report_file(struct parse *p, int err, int saved_errno)
{
	char ebuf[128];

	switch (err) {
	case KB_ERR_CONFIG_OPEN:
		report(p, 0, "cannot open: %s",
		    strerror_r(saved_errno, ebuf, sizeof(ebuf)));
		break;
	case KB_ERR_CONFIG_PERM:
		report(p, 0, "not a regular file");
		break;
	default:
		report(p, 0, "cannot read: %s",
		    strerror_r(saved_errno, ebuf, sizeof(ebuf)));
		break;
	}
}

int
config_load(const char *path, unsigned flags, config_report_fn reportfn,
    void *ctx, struct kb_config **cfgp)
{
	struct parse p;
	struct stat st;
	char *buf = NULL;
	size_t len;
	int fd = -1, self, r = KB_ERR_INTERNAL;

	*cfgp = NULL;
	memset(&p, 0, sizeof(p));
	p.file = path != NULL ? path : KB_CONFIG_PATH;
	p.report = reportfn;
	p.ctx = ctx;
	self = (flags & KB_CONFIG_OWNER_SELF) != 0;
	if ((r = open_regular(p.file, 0, &fd, &st)) != 0) {
		report_file(&p, r, errno);
		goto out;
	}
	if ((flags & KB_CONFIG_CHECK_OWNER) != 0 && !owner_ok(&st, self)) {
		if (self)
			report(&p, 0, "owned by uid %u, not by root or uid %u",
			    (unsigned)st.st_uid, (unsigned)geteuid());
		else
			report(&p, 0, "owned by uid %u, not by root",
			    (unsigned)st.st_uid);
		r = KB_ERR_CONFIG_PERM;
		goto out;
	}
	if ((flags & KB_CONFIG_CHECK_OWNER) != 0 &&
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		report(&p, 0, "writable by group or others (mode %04o)",
		    (unsigned)(st.st_mode & 07777));
		r = KB_ERR_CONFIG_PERM;
		goto out;
	}
	if ((buf = malloc(KB_CONFIG_MAX_BYTES + 1)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if ((r = fd_read_bounded(fd, buf, KB_CONFIG_MAX_BYTES, &len)) != 0) {
		if (r == KB_ERR_TOO_LONG) {
			report(&p, 0, "larger than %d bytes",
			    KB_CONFIG_MAX_BYTES);
			r = KB_ERR_CONFIG;
		} else {
			report_file(&p, r, errno);
			r = KB_ERR_CONFIG_OPEN;
		}
		goto out;
	}
	r = parse_buffer(p.file, buf, len, flags, reportfn, ctx, cfgp);
 out:
	if (fd != -1)
		close(fd);
	free(buf);
	return r;
}

void
config_free(struct kb_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nuris && i < KB_CONFIG_MAX_URIS; i++)
		free(cfg->uris[i]);
	free(cfg->base);
	free(cfg->group_base);
	free(cfg->key_filter);
	free(cfg->key_attribute);
	free(cfg->fingerprint_attribute);
	free(cfg->expiry_attribute);
	free(cfg->options_attribute);
	free(cfg->instance);
	free(cfg->binddn);
	free(cfg->bindpw_file);
	free(cfg->signing_key);
	free(cfg->trusted_signers);
	free(cfg->sasl_mech);
	free(cfg->tls_cacert);
	free(cfg->tls_cacertdir);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->cache_dir);
	free(cfg);
}

static int
read_password(const char *path, int self, char **pwp, size_t *lenp)
{
	char buf[KB_CONFIG_MAX_PASSWORD + 1];
	struct stat st;
	char *pw = NULL;
	size_t len = 0;
	int fd = -1, r = KB_ERR_INTERNAL;

	*pwp = NULL;
	*lenp = 0;
	if (path == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = open_regular(path, 1, &fd, &st)) != 0)
		goto out;
	if (!owner_ok(&st, self) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH | S_IROTH)) != 0) {
		r = KB_ERR_CONFIG_PERM;
		goto out;
	}
	if ((r = fd_read_bounded(fd, buf, KB_CONFIG_MAX_PASSWORD, &len)) != 0)
		goto out;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0 || memchr(buf, '\0', len) != NULL) {
		r = KB_ERR_CONFIG;
		goto out;
	}
	if ((pw = malloc(len + 1)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	memcpy(pw, buf, len);
	pw[len] = '\0';
	*pwp = pw;
	*lenp = len;
	r = 0;
 out:
	explicit_bzero(buf, sizeof(buf));
	if (fd != -1)
		close(fd);
	return r;
}

int
config_read_password(const char *path, char **pwp, size_t *lenp)
{
	return read_password(path, 1, pwp, lenp);
}

int
config_read_bindpw(const struct kb_config *cfg, char **pwp, size_t *lenp)
{
	*pwp = NULL;
	*lenp = 0;
	if (cfg == NULL)
		return KB_ERR_INVALID_ARG;
	return read_password(cfg->bindpw_file, cfg->owner_self, pwp, lenp);
}

const char *
config_schema_name(enum kb_schema s)
{
	switch (s) {
	case KB_SCHEMA_KEYBOUND:
		return "keybound";
	case KB_SCHEMA_OPENSSH_LPK:
		return "openssh-lpk";
	case KB_SCHEMA_CUSTOM:
		return "custom";
	default:
		return "unknown";
	}
}

const char *
config_group_base(const struct kb_config *cfg)
{
	if (cfg->group_base != NULL)
		return cfg->group_base;
	return cfg->schema == KB_SCHEMA_KEYBOUND ? cfg->base : NULL;
}
