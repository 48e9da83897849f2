/*
 * test_config.c - the keybound.conf parser and the password file reader.
 *
 *  - good fixtures (tests/fixtures/config/good-*.conf) load, with every
 *    field asserted;
 *  - every bad fixture (bad-*.conf) is refused with KB_ERR_CONFIG and its
 *    messages equal bad-*.expect line for line;
 *  - byte-level problems (NUL, CR, invalid UTF-8, long lines, size) built
 *    here;
 *  - ownership and mode checks on files this test creates in a temp dir.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "kb.h"
#include "names.h"
#include "sshkey.h"
#include "tap.h"

#define MAX_MSGS	64

struct msgs {
	char *m[MAX_MSGS];
	size_t n;
};

static void
collect(void *ctx, const char *msg)
{
	struct msgs *ms = ctx;

	if (ms->n < MAX_MSGS)
		ms->m[ms->n++] = strdup(msg);
}

static void
msgs_clear(struct msgs *ms)
{
	size_t i;

	for (i = 0; i < ms->n; i++)
		free(ms->m[i]);
	ms->n = 0;
}

static char tmpdir[256];

static const char *
tmp_path(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

/* Create name in the temp dir with these bytes and this mode. */
static void
write_file(const char *name, const char *data, size_t len, mode_t mode)
{
	const char *path = tmp_path(name);
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd != -1);
	if (fd == -1)
		return;
	CHECK(write(fd, data, len) == (ssize_t)len);
	CHECK(fchmod(fd, mode) == 0);
	close(fd);
}

static const char minimal[] =
    "uri ldaps://ldap.example.com\nbase dc=example,dc=com\ninstance h\n";

static struct kb_config *
load_ok(const char *path)
{
	struct kb_config *cfg = NULL;
	struct msgs ms = { { NULL }, 0 };
	int r;

	r = config_load(path, 0, collect, &ms, &cfg);
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(ms.n, 0);
	if (r != 0 || ms.n != 0)
		fprintf(stderr, "%s: %s%s\n", path, kb_strerror(r),
		    ms.n > 0 ? ms.m[0] : "");
	msgs_clear(&ms);
	return cfg;
}

static char *
short_host_name(void)
{
	struct utsname u;
	char *s;

	if (uname(&u) != 0 || (s = strdup(u.nodename)) == NULL)
		return NULL;
	s[strcspn(s, ".")] = '\0';
	return s;
}

static void
test_good_minimal(void)
{
	struct kb_config *cfg;
	char *host = short_host_name();

	if ((cfg = load_ok("good-minimal.conf")) == NULL)
		goto out;
	CHECK_EQ_INT(cfg->nuris, 1);
	CHECK_EQ_STR(cfg->uris[0], "ldaps://ldap.example.com");
	CHECK_EQ_STR(cfg->base, "ou=keypairs,dc=example,dc=com");
	CHECK(cfg->group_base == NULL);
	CHECK_EQ_STR(config_group_base(cfg), "ou=keypairs,dc=example,dc=com");
	CHECK_EQ_INT(cfg->schema, KB_SCHEMA_KEYBOUND);
	CHECK_EQ_STR(cfg->key_filter,
	    "(&(objectClass=keyboundKeyPair)(keyboundAttachment=%u@%i))");
	CHECK_EQ_STR(cfg->key_attribute, "keyboundPublicKey");
	CHECK_EQ_STR(cfg->fingerprint_attribute, "keyboundFingerprint");
	CHECK_EQ_STR(cfg->expiry_attribute, "keyboundNotAfter");
	CHECK_EQ_STR(cfg->options_attribute, "keyboundKeyOptions");
	CHECK_EQ_STR(cfg->instance, host);	/* default %h */
	CHECK(cfg->binddn == NULL);
	CHECK(cfg->bindpw_file == NULL);
	CHECK(cfg->sasl_mech == NULL);
	CHECK_EQ_INT(cfg->starttls, 1);
	CHECK(cfg->tls_cacert == NULL);
	CHECK(cfg->tls_cacertdir == NULL);
	CHECK(cfg->tls_cert == NULL);
	CHECK(cfg->tls_key == NULL);
	CHECK_EQ_INT(cfg->timeout, 3);
	CHECK_EQ_INT(cfg->network_timeout, 1);
	CHECK_EQ_STR(cfg->cache_dir, "/var/cache/keybound");
	CHECK_EQ_INT(cfg->cache_ttl, 10);
	CHECK_EQ_INT(cfg->offline_max_age, 86400);
	CHECK_EQ_INT(cfg->allowed_key_types, KB_KT_DEFAULT_MASK);
	CHECK_EQ_INT(cfg->min_rsa_bits, 2048);
	CHECK_EQ_INT(cfg->max_keys, 100);
	config_free(cfg);
 out:
	free(host);
}

static void
test_good_all(void)
{
	struct kb_config *cfg;

	if ((cfg = load_ok("good-all.conf")) == NULL)
		return;
	CHECK_EQ_INT(cfg->nuris, 3);
	CHECK_EQ_STR(cfg->uris[0], "ldap://ldap1.example.com:389");
	CHECK_EQ_STR(cfg->uris[1], "ldaps://[2001:db8::1]:636/");
	CHECK_EQ_STR(cfg->uris[2], "ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi");
	CHECK_EQ_STR(cfg->base, "ou=Key Pairs,dc=example,dc=com");
	CHECK_EQ_STR(config_group_base(cfg),
	    "ou=Host Groups,dc=example,dc=com");
	CHECK_EQ_INT(cfg->schema, KB_SCHEMA_KEYBOUND);
	CHECK_EQ_STR(cfg->key_filter, "(&(objectClass=keyboundKeyPair)"
	    "(keyboundAttachment=%u@%i)(!(description=disabled)))");
	CHECK_EQ_STR(cfg->key_attribute, "keyboundPublicKey");
	CHECK_EQ_STR(cfg->fingerprint_attribute, "1.3.6.1.4.1.99999.1.2");
	CHECK_EQ_STR(cfg->expiry_attribute, "myNotAfter");
	CHECK_EQ_STR(cfg->options_attribute, "myKeyOptions");
	CHECK_EQ_STR(cfg->instance, "web-01.example");
	CHECK_EQ_STR(cfg->binddn,
	    "cn=keybound reader,ou=services,dc=example,dc=com");
	CHECK_EQ_STR(cfg->bindpw_file, "/etc/keybound/bind pw");
	CHECK(cfg->sasl_mech == NULL);
	CHECK_EQ_INT(cfg->starttls, 1);
	CHECK_EQ_STR(cfg->tls_cacert, "/etc/keybound/ca.pem");
	CHECK_EQ_STR(cfg->tls_cacertdir, "/etc/keybound/cas");
	CHECK_EQ_STR(cfg->tls_cert, "/etc/keybound/client.crt");
	CHECK_EQ_STR(cfg->tls_key, "/etc/keybound/client.key");
	CHECK_EQ_INT(cfg->timeout, 300);
	CHECK_EQ_INT(cfg->network_timeout, 60);
	CHECK_EQ_STR(cfg->cache_dir, "/run/keybound/cache");
	CHECK_EQ_INT(cfg->cache_ttl, 0);
	CHECK_EQ_INT(cfg->offline_max_age, 0);
	CHECK_EQ_INT(cfg->allowed_key_types, KB_KT_ED25519 | KB_KT_RSA |
	    KB_KT_SK_ED25519 | KB_KT_ECDSA_P384);
	CHECK_EQ_INT(cfg->min_rsa_bits, 16384);
	CHECK_EQ_INT(cfg->max_keys, 10000);
	config_free(cfg);
}

static void
test_good_profiles(void)
{
	struct kb_config *cfg;
	char *host = short_host_name(), want[300];

	if ((cfg = load_ok("good-openssh-lpk.conf")) != NULL) {
		CHECK_EQ_INT(cfg->schema, KB_SCHEMA_OPENSSH_LPK);
		CHECK_EQ_STR(config_schema_name(cfg->schema), "openssh-lpk");
		CHECK_EQ_STR(cfg->key_filter,
		    "(&(objectClass=ldapPublicKey)(uid=%u))");
		CHECK_EQ_STR(cfg->key_attribute, "sshPublicKey");
		CHECK(config_group_base(cfg) == NULL);	/* no groups */
		CHECK(cfg->fingerprint_attribute == NULL);
		CHECK(cfg->expiry_attribute == NULL);
		CHECK(cfg->options_attribute == NULL);
		CHECK_EQ_STR(cfg->instance, "build-42");
		config_free(cfg);
	}
	if ((cfg = load_ok("good-lpk-override.conf")) != NULL) {
		CHECK_EQ_INT(cfg->schema, KB_SCHEMA_OPENSSH_LPK);
		CHECK_EQ_STR(cfg->key_filter,
		    "(&(objectClass=posixAccount)(uid=%u)(host=%i))");
		CHECK_EQ_STR(cfg->key_attribute, "altSecurityIdentities");
		CHECK(cfg->fingerprint_attribute == NULL);
		CHECK_EQ_STR(cfg->expiry_attribute, "shadowExpire");
		CHECK(cfg->options_attribute == NULL);
		config_free(cfg);
	}
	if ((cfg = load_ok("good-custom.conf")) != NULL) {
		CHECK_EQ_INT(cfg->schema, KB_SCHEMA_CUSTOM);
		CHECK_EQ_STR(config_schema_name(cfg->schema), "custom");
		CHECK_EQ_STR(cfg->key_filter,
		    "(&(objectClass=inetOrgPerson)(uid=%u))");
		CHECK_EQ_STR(cfg->key_attribute, "sshKey");
		CHECK(cfg->fingerprint_attribute == NULL);
		CHECK(cfg->expiry_attribute == NULL);
		CHECK(cfg->options_attribute == NULL);
		config_free(cfg);
	}
	if ((cfg = load_ok("good-loopback.conf")) != NULL) {
		CHECK_EQ_INT(cfg->starttls, 0);
		CHECK_EQ_INT(cfg->nuris, 8);
		CHECK_EQ_STR(cfg->uris[2], "ldap://LOCALHOST:389/");
		CHECK_EQ_STR(cfg->uris[7], "ldapi:///");
		config_free(cfg);
	}
	if ((cfg = load_ok("good-sasl-ldapi.conf")) != NULL) {
		CHECK_EQ_STR(cfg->sasl_mech, "EXTERNAL");
		CHECK(cfg->tls_cert == NULL);
		config_free(cfg);
	}
	if ((cfg = load_ok("good-sasl-tls.conf")) != NULL) {
		CHECK_EQ_STR(cfg->sasl_mech, "EXTERNAL");
		CHECK_EQ_STR(cfg->tls_key, "/etc/keybound/client.key");
		config_free(cfg);
	}
	if (host != NULL && (cfg = load_ok("good-host-instance.conf")) !=
	    NULL) {
		snprintf(want, sizeof(want), "web-%s", host);
		CHECK_EQ_STR(cfg->instance, want);
		config_free(cfg);
	}
	CHECK_EQ_STR(config_schema_name(KB_SCHEMA_KEYBOUND), "keybound");
	free(host);
}

/* Read a whole small text file; NULL on error. */
static char *
slurp(const char *path)
{
	char *buf;
	size_t n;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	if ((buf = calloc(1, 65536)) != NULL) {
		n = fread(buf, 1, 65535, f);
		buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

/* One bad fixture: refused, messages exactly as in its .expect file. */
static int
check_bad_fixture(const char *conf)
{
	struct kb_config *cfg = (struct kb_config *)1;
	struct msgs ms = { { NULL }, 0 };
	char expect_path[300], *expect, *line, *save = NULL;
	size_t i = 0;
	int r, ok = 1;

	snprintf(expect_path, sizeof(expect_path), "%.*s.expect",
	    (int)(strlen(conf) - 5), conf);
	if ((expect = slurp(expect_path)) == NULL) {
		fprintf(stderr, "%s: no %s\n", conf, expect_path);
		CHECK(expect != NULL);
		return 0;
	}
	r = config_load(conf, 0, collect, &ms, &cfg);
	CHECK_EQ_INT(r, KB_ERR_CONFIG);
	CHECK(cfg == NULL);
	for (line = strtok_r(expect, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), i++) {
		if (i >= ms.n) {
			fprintf(stderr, "%s: missing message: %s\n", conf,
			    line);
			ok = 0;
		} else if (strcmp(line, ms.m[i]) != 0) {
			fprintf(stderr, "%s: got      %s\n%s: expected %s\n",
			    conf, ms.m[i], conf, line);
			ok = 0;
		}
	}
	if (i == 0 || i != ms.n) {
		fprintf(stderr, "%s: %zu messages, expected %zu\n", conf,
		    ms.n, i);
		ok = 0;
	}
	CHECK(ok);
	msgs_clear(&ms);
	free(expect);
	return r == KB_ERR_CONFIG && ok;
}

static void
test_bad_fixtures(void)
{
	struct dirent *de;
	size_t nbad = 0, len;
	DIR *d;

	if ((d = opendir(".")) == NULL) {
		CHECK(d != NULL);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (strncmp(de->d_name, "bad-", 4) != 0 || len < 9 ||
		    strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		check_bad_fixture(de->d_name);
		nbad++;
	}
	closedir(d);
	CHECK(nbad >= 30);
}

/* Parse bytes; expect KB_ERR_CONFIG and exactly one message. */
static void
bytes_refused(const char *data, size_t len, const char *want)
{
	struct kb_config *cfg = (struct kb_config *)1;
	struct msgs ms = { { NULL }, 0 };

	CHECK_EQ_INT(config_parse_buffer("mem.conf", data, len, collect, &ms,
	    &cfg), KB_ERR_CONFIG);
	CHECK(cfg == NULL);
	CHECK_EQ_INT(ms.n, 1);
	CHECK_EQ_STR(ms.n > 0 ? ms.m[0] : NULL, want);
	msgs_clear(&ms);
}

static void
test_bytes(void)
{
	struct kb_config *cfg = NULL;
	char buf[KB_CONFIG_MAX_BYTES + 64], *big;
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "%stimeout 5\r\n", minimal);
	bytes_refused(buf, n, "mem.conf:4: control character in line");
	n = (size_t)snprintf(buf, sizeof(buf), "%scache_dir /x", minimal);
	buf[n - 1] = '\0';		/* "/\0": NUL inside a value */
	bytes_refused(buf, n, "mem.conf:4: NUL byte in line");
	n = (size_t)snprintf(buf, sizeof(buf), "%sbase dc=\xff\n", minimal);
	bytes_refused(buf, n, "mem.conf:4: invalid UTF-8 in line");
	n = (size_t)snprintf(buf, sizeof(buf), "%s# \x1b[2J\n", minimal);
	bytes_refused(buf, n, "mem.conf:4: control character in line");
	n = (size_t)snprintf(buf, sizeof(buf), "%stimeout 5\x7f\n", minimal);
	bytes_refused(buf, n, "mem.conf:4: control character in line");

	/* a line of KB_CONFIG_MAX_LINE bytes is fine, one more is not */
	n = (size_t)snprintf(buf, sizeof(buf), "%s#", minimal);
	memset(buf + n, 'x', KB_CONFIG_MAX_LINE - 1);
	n += KB_CONFIG_MAX_LINE - 1;
	buf[n++] = '\n';
	CHECK_EQ_INT(config_parse_buffer("mem.conf", buf, n, NULL, NULL,
	    &cfg), 0);
	config_free(cfg);
	buf[n - 1] = 'x';
	buf[n++] = '\n';
	bytes_refused(buf, n, "mem.conf:4: line longer than 4096 bytes");

	/* whole-buffer size bound */
	if ((big = malloc(KB_CONFIG_MAX_BYTES + 1)) == NULL) {
		CHECK(big != NULL);
		return;
	}
	memset(big, '\n', KB_CONFIG_MAX_BYTES + 1);
	memcpy(big, minimal, sizeof(minimal) - 1);
	CHECK_EQ_INT(config_parse_buffer("mem.conf", big, KB_CONFIG_MAX_BYTES,
	    NULL, NULL, &cfg), 0);
	config_free(cfg);
	bytes_refused(big, KB_CONFIG_MAX_BYTES + 1,
	    "mem.conf: larger than 65536 bytes");
	free(big);

	/* no trailing newline, NULL report function */
	cfg = NULL;
	CHECK_EQ_INT(config_parse_buffer(NULL, minimal,
	    sizeof(minimal) - 2, NULL, NULL, &cfg), 0);
	CHECK(cfg != NULL);
	if (cfg != NULL)
		CHECK_EQ_STR(cfg->instance, "h");
	config_free(cfg);
	config_free(NULL);
}

/* The keywords of signed entries, and what they may be combined with. */
static void
test_signing_keywords(void)
{
	struct kb_config *cfg = NULL;
	char buf[1024];
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "%strusted_signers /etc/ts\n"
	    "signature_max_age 12h\nsigning_key agent:SHA256:abc\n", minimal);
	CHECK_EQ_INT(config_parse_buffer("mem.conf", buf, n, NULL, NULL,
	    &cfg), 0);
	if (cfg != NULL) {
		CHECK_EQ_STR(cfg->trusted_signers, "/etc/ts");
		CHECK_EQ_INT(cfg->signature_max_age, 12 * 3600);
		CHECK_EQ_STR(cfg->signing_key, "agent:SHA256:abc");
	}
	config_free(cfg);
	cfg = NULL;
	CHECK_EQ_INT(config_parse_buffer("mem.conf", minimal,
	    sizeof(minimal) - 1, NULL, NULL, &cfg), 0);
	if (cfg != NULL)	/* the default: 30 days */
		CHECK_EQ_INT(cfg->signature_max_age, 30 * 86400);
	config_free(cfg);

	n = (size_t)snprintf(buf, sizeof(buf), "%ssignature_max_age 30\n",
	    minimal);
	bytes_refused(buf, n, "mem.conf:4: signature_max_age: not a duration "
	    "(a positive number followed by s, m, h or d)");
	n = (size_t)snprintf(buf, sizeof(buf), "%ssigning_key agent:abc\n",
	    minimal);
	bytes_refused(buf, n, "mem.conf:4: signing_key: agent: needs a "
	    "SHA256: fingerprint");
	n = (size_t)snprintf(buf, sizeof(buf), "%strusted_signers ts\n",
	    minimal);
	bytes_refused(buf, n, "mem.conf:4: trusted_signers: must be an "
	    "absolute path");
	n = (size_t)snprintf(buf, sizeof(buf), "%sschema openssh-lpk\n"
	    "trusted_signers /etc/ts\n", minimal);
	bytes_refused(buf, n, "mem.conf:5: trusted_signers: signed entries "
	    "need schema keybound");
	/* keys, options or expiry read from an attribute the signature
	   does not cover would be served unsigned */
	n = (size_t)snprintf(buf, sizeof(buf), "%skey_attribute sshPublicKey\n"
	    "trusted_signers /etc/ts\n", minimal);
	bytes_refused(buf, n, "mem.conf:5: trusted_signers: the signature "
	    "covers keyboundPublicKey, keyboundKeyOptions and keyboundNotAfter;"
	    " key_attribute, options_attribute and expiry_attribute must name "
	    "them");
	n = (size_t)snprintf(buf, sizeof(buf), "%soptions_attribute description"
	    "\ntrusted_signers /etc/ts\n", minimal);
	CHECK_EQ_INT(config_parse_buffer("mem.conf", buf, n, NULL, NULL,
	    &cfg), KB_ERR_CONFIG);
	n = (size_t)snprintf(buf, sizeof(buf), "%sexpiry_attribute description"
	    "\ntrusted_signers /etc/ts\n", minimal);
	CHECK_EQ_INT(config_parse_buffer("mem.conf", buf, n, NULL, NULL,
	    &cfg), KB_ERR_CONFIG);
	n = (size_t)snprintf(buf, sizeof(buf), "%skey_attribute KEYBOUNDpublickey"
	    "\ntrusted_signers /etc/ts\n", minimal);
	CHECK_EQ_INT(config_parse_buffer("mem.conf", buf, n, NULL, NULL,
	    &cfg), 0);
	config_free(cfg);
}

static void
test_value_parsers(void)
{
	static const char *const words[] = { "deny", "allow", NULL };
	unsigned u = 7;
	int v = 7;

	CHECK_EQ_INT(config_parse_uint("0", 0, 5, &u), 0);
	CHECK_EQ_INT(u, 0);
	CHECK_EQ_INT(config_parse_uint("4294967295", 0, 4294967295U, &u), 0);
	CHECK_EQ_INT(u, 4294967295U);
	u = 7;
	CHECK_EQ_INT(config_parse_uint("6", 0, 5, &u), KB_ERR_CONFIG);
	CHECK_EQ_INT(config_parse_uint("", 0, 5, &u), KB_ERR_CONFIG);
	CHECK_EQ_INT(config_parse_uint(" 1", 0, 5, &u), KB_ERR_CONFIG);
	CHECK_EQ_INT(config_parse_uint("1 ", 0, 5, &u), KB_ERR_CONFIG);
	CHECK_EQ_INT(config_parse_uint("+1", 0, 5, &u), KB_ERR_CONFIG);
	CHECK_EQ_INT(config_parse_uint("-0", 0, 5, &u), KB_ERR_CONFIG);
	CHECK_EQ_INT(config_parse_uint("0x1", 0, 5, &u), KB_ERR_CONFIG);
	CHECK_EQ_INT(config_parse_uint("4294967296", 0, 4294967295U, &u),
	    KB_ERR_CONFIG);
	CHECK_EQ_INT(config_parse_uint("99999999999999999999", 0,
	    4294967295U, &u), KB_ERR_CONFIG);
	CHECK_EQ_INT(config_parse_uint(NULL, 0, 5, &u), KB_ERR_CONFIG);
	CHECK_EQ_INT(u, 7);
	CHECK_EQ_INT(config_parse_bool("YES", &v), 0);
	CHECK_EQ_INT(v, 1);
	CHECK_EQ_INT(config_parse_bool("no", &v), 0);
	CHECK_EQ_INT(v, 0);
	CHECK_EQ_INT(config_parse_bool("true", &v), KB_ERR_CONFIG);
	CHECK_EQ_INT(config_parse_bool("yes ", &v), KB_ERR_CONFIG);
	CHECK_EQ_INT(config_parse_choice("Allow", words, &v), 0);
	CHECK_EQ_INT(v, 1);
	CHECK_EQ_INT(config_parse_choice("al", words, &v), KB_ERR_CONFIG);
}

/* config_load on a temp file: result code and the single message. */
static void
load_expect(const char *path, unsigned flags, int want_r,
    const char *want_msg)
{
	struct kb_config *cfg = (struct kb_config *)1;
	struct msgs ms = { { NULL }, 0 };
	char want[700];
	int r;

	r = config_load(path, flags, collect, &ms, &cfg);
	CHECK_EQ_INT(r, want_r);
	if (want_r != 0) {
		CHECK(cfg == NULL);
		snprintf(want, sizeof(want), "%s: %s", path, want_msg);
		CHECK_EQ_INT(ms.n, 1);
		CHECK_EQ_STR(ms.n > 0 ? ms.m[0] : NULL, want);
	} else {
		CHECK(cfg != NULL);
		CHECK_EQ_INT(ms.n, 0);
		config_free(cfg);
	}
	msgs_clear(&ms);
}

static void
test_config_permissions(void)
{
	char path[600], big[KB_CONFIG_MAX_BYTES + 2];

	write_file("ok.conf", minimal, sizeof(minimal) - 1, 0644);
	snprintf(path, sizeof(path), "%s", tmp_path("ok.conf"));
	load_expect(path, KB_CONFIG_CHECK_OWNER, 0, NULL);

	write_file("gw.conf", minimal, sizeof(minimal) - 1, 0664);
	snprintf(path, sizeof(path), "%s", tmp_path("gw.conf"));
	load_expect(path, KB_CONFIG_CHECK_OWNER, KB_ERR_CONFIG_PERM,
	    "writable by group or others (mode 0664)");
	load_expect(path, 0, 0, NULL);	/* without the check it loads */

	write_file("ow.conf", minimal, sizeof(minimal) - 1, 0602);
	snprintf(path, sizeof(path), "%s", tmp_path("ow.conf"));
	load_expect(path, KB_CONFIG_CHECK_OWNER, KB_ERR_CONFIG_PERM,
	    "writable by group or others (mode 0602)");

	/* owned by someone else (needs root to create) */
	write_file("other.conf", minimal, sizeof(minimal) - 1, 0644);
	snprintf(path, sizeof(path), "%s", tmp_path("other.conf"));
	if (geteuid() == 0) {
		CHECK(chown(path, 4242, 4242) == 0);
		load_expect(path, KB_CONFIG_CHECK_OWNER, KB_ERR_CONFIG_PERM,
		    "owned by uid 4242, not by root");
	} else
		fprintf(stderr, "not root: foreign-owner config skipped\n");

	/* a symlink to a safe config is followed (documented) */
	snprintf(path, sizeof(path), "%s", tmp_path("link.conf"));
	CHECK(symlink("ok.conf", path) == 0);
	load_expect(path, KB_CONFIG_CHECK_OWNER, 0, NULL);
	unlink(path);

	snprintf(path, sizeof(path), "%s", tmp_path("dir.conf"));
	CHECK(mkdir(path, 0755) == 0);
	load_expect(path, 0, KB_ERR_CONFIG_PERM, "not a regular file");
	rmdir(path);

	snprintf(path, sizeof(path), "%s", tmp_path("fifo.conf"));
	CHECK(mkfifo(path, 0644) == 0);	/* must not block */
	load_expect(path, 0, KB_ERR_CONFIG_PERM, "not a regular file");
	unlink(path);

	snprintf(path, sizeof(path), "%s", tmp_path("missing.conf"));
	load_expect(path, 0, KB_ERR_CONFIG_OPEN,
	    "cannot open: No such file or directory");

	memset(big, '\n', sizeof(big));
	memcpy(big, minimal, sizeof(minimal) - 1);
	write_file("big.conf", big, KB_CONFIG_MAX_BYTES + 1, 0644);
	snprintf(path, sizeof(path), "%s", tmp_path("big.conf"));
	load_expect(path, 0, KB_ERR_CONFIG, "larger than 65536 bytes");
	write_file("max.conf", big, KB_CONFIG_MAX_BYTES, 0644);
	snprintf(path, sizeof(path), "%s", tmp_path("max.conf"));
	load_expect(path, 0, 0, NULL);
}

/* config_read_password on a temp file. */
static void
password_expect(const char *name, int want_r, const char *want_pw,
    size_t want_len)
{
	char *pw = (char *)1;
	size_t len = 7;
	int r;

	r = config_read_password(tmp_path(name), &pw, &len);
	CHECK_EQ_INT(r, want_r);
	if (r != want_r)
		fprintf(stderr, "password file %s: %s\n", name,
		    kb_strerror(r));
	if (want_r == 0 && r == 0) {
		CHECK_EQ_INT(len, want_len);
		CHECK(pw != NULL && memcmp(pw, want_pw, want_len) == 0 &&
		    pw[len] == '\0');
		explicit_bzero(pw, len);
		free(pw);
	} else {
		CHECK(pw == NULL);
		CHECK_EQ_INT(len, 0);
	}
}

static void
test_password(void)
{
	char big[KB_CONFIG_MAX_PASSWORD + 2];
	char *pw;
	size_t len;

	write_file("pw0600", "s3cret\n", 7, 0600);
	password_expect("pw0600", 0, "s3cret", 6);
	write_file("pw0640", "s3cret\n", 7, 0640);
	password_expect("pw0640", 0, "s3cret", 6);
	write_file("pw0400", "s3cret", 6, 0400);	/* no newline */
	password_expect("pw0400", 0, "s3cret", 6);
	write_file("pw-two-nl", "s3cret\n\n", 8, 0600);	/* one removed */
	password_expect("pw-two-nl", 0, "s3cret\n", 7);
	write_file("pw-crlf", "s3cret\r\n", 8, 0600);
	password_expect("pw-crlf", 0, "s3cret\r", 7);
	write_file("pw-spaces", " a b \n", 6, 0600);
	password_expect("pw-spaces", 0, " a b ", 5);

	write_file("pw0644", "s3cret\n", 7, 0644);	/* world-readable */
	password_expect("pw0644", KB_ERR_CONFIG_PERM, NULL, 0);
	write_file("pw0604", "s3cret\n", 7, 0604);
	password_expect("pw0604", KB_ERR_CONFIG_PERM, NULL, 0);
	write_file("pw0660", "s3cret\n", 7, 0660);	/* group-writable */
	password_expect("pw0660", KB_ERR_CONFIG_PERM, NULL, 0);
	write_file("pw0602", "s3cret\n", 7, 0602);
	password_expect("pw0602", KB_ERR_CONFIG_PERM, NULL, 0);

	CHECK(symlink("pw0600", tmp_path("pw-link")) == 0);
	password_expect("pw-link", KB_ERR_CONFIG_PERM, NULL, 0);
	CHECK(mkdir(tmp_path("pw-dir"), 0700) == 0);
	password_expect("pw-dir", KB_ERR_CONFIG_PERM, NULL, 0);
	CHECK(mkfifo(tmp_path("pw-fifo"), 0600) == 0);
	password_expect("pw-fifo", KB_ERR_CONFIG_PERM, NULL, 0);
	password_expect("pw-missing", KB_ERR_CONFIG_OPEN, NULL, 0);

	write_file("pw-empty", "", 0, 0600);
	password_expect("pw-empty", KB_ERR_CONFIG, NULL, 0);
	write_file("pw-nl", "\n", 1, 0600);
	password_expect("pw-nl", KB_ERR_CONFIG, NULL, 0);
	write_file("pw-nul", "ab\0cd\n", 6, 0600);
	password_expect("pw-nul", KB_ERR_CONFIG, NULL, 0);

	memset(big, 'p', sizeof(big));
	write_file("pw-max", big, KB_CONFIG_MAX_PASSWORD, 0600);
	password_expect("pw-max", 0, big, KB_CONFIG_MAX_PASSWORD);
	write_file("pw-big", big, KB_CONFIG_MAX_PASSWORD + 1, 0600);
	password_expect("pw-big", KB_ERR_TOO_LONG, NULL, 0);

	if (geteuid() == 0) {
		write_file("pw-other", "s3cret\n", 7, 0600);
		CHECK(chown(tmp_path("pw-other"), 4242, 4242) == 0);
		password_expect("pw-other", KB_ERR_CONFIG_PERM, NULL, 0);
		/* 0640 root:other-group is the intended deployment */
		write_file("pw-group", "s3cret\n", 7, 0640);
		CHECK(chown(tmp_path("pw-group"), 0, 4242) == 0);
		password_expect("pw-group", 0, "s3cret", 6);
	} else
		fprintf(stderr, "not root: foreign-owner password case "
		    "skipped\n");

	pw = (char *)1;
	CHECK_EQ_INT(config_read_password(NULL, &pw, &len),
	    KB_ERR_INVALID_ARG);
	CHECK(pw == NULL);
}

/* config_read_bindpw() with the policy cfg was loaded with. */
static void
bindpw_expect(const char *conf, unsigned flags, int want_r)
{
	struct kb_config *cfg = NULL;
	char *pw = (char *)1;
	size_t len = 7;
	int r;

	CHECK_EQ_INT(config_load(tmp_path(conf), flags, NULL, NULL, &cfg), 0);
	if (cfg == NULL)
		return;
	r = config_read_bindpw(cfg, &pw, &len);
	CHECK_EQ_INT(r, want_r);
	if (r == 0) {
		CHECK(len == 6 && memcmp(pw, "s3cret", 6) == 0);
		explicit_bzero(pw, len);
		free(pw);
	} else
		CHECK(pw == NULL && len == 0);
	config_free(cfg);
}

/*
 * Who may own the config and its bindpw_file: root only for
 * keybound-keys (KB_CONFIG_CHECK_OWNER), root or the caller's euid for
 * the admin CLI (KB_CONFIG_OWNER_SELF too).  The "caller" here is uid
 * 4242, taken with seteuid, so this needs root.
 */
static void
test_owner_policy(void)
{
	struct msgs ms = { { NULL }, 0 };
	struct kb_config *cfg;
	char conf[600], path[600], pwline[700], want[1400];
	int n;

	if (geteuid() != 0) {
		fprintf(stderr, "not root: owner policy cases skipped\n");
		return;
	}
	write_file("pw-self", "s3cret\n", 7, 0600);
	CHECK(chown(tmp_path("pw-self"), 4242, 4242) == 0);
	write_file("pw-root", "s3cret\n", 7, 0640);
	n = snprintf(pwline, sizeof(pwline), "%sbinddn cn=reader,dc=x\n"
	    "bindpw_file %s\n", minimal, tmp_path("pw-self"));
	write_file("self.conf", pwline, (size_t)n, 0644);
	CHECK(chown(tmp_path("self.conf"), 4242, 4242) == 0);
	n = snprintf(pwline, sizeof(pwline), "%sbinddn cn=reader,dc=x\n"
	    "bindpw_file %s\n", minimal, tmp_path("pw-root"));
	write_file("root.conf", pwline, (size_t)n, 0644);
	write_file("foreign.conf", minimal, sizeof(minimal) - 1, 0644);
	CHECK(chown(tmp_path("foreign.conf"), 4243, 4243) == 0);
	write_file("self-gw.conf", minimal, sizeof(minimal) - 1, 0664);
	CHECK(chown(tmp_path("self-gw.conf"), 4242, 4242) == 0);
	/* a root-owned config naming a password file the caller owns */
	n = snprintf(pwline, sizeof(pwline), "%sbinddn cn=reader,dc=x\n"
	    "bindpw_file %s\n", minimal, tmp_path("pw-self"));
	write_file("root-selfpw.conf", pwline, (size_t)n, 0644);

	CHECK(chmod(tmpdir, 0711) == 0);
	CHECK(seteuid(4242) == 0);
	snprintf(conf, sizeof(conf), "%s", tmp_path("self.conf"));
	/* keybound-keys running as the owner: refused */
	load_expect(conf, KB_CONFIG_CHECK_OWNER, KB_ERR_CONFIG_PERM,
	    "owned by uid 4242, not by root");
	/* the admin CLI running as the owner: accepted */
	load_expect(conf, KB_CONFIG_CHECK_OWNER | KB_CONFIG_OWNER_SELF, 0,
	    NULL);
	snprintf(path, sizeof(path), "%s", tmp_path("foreign.conf"));
	load_expect(path, KB_CONFIG_CHECK_OWNER | KB_CONFIG_OWNER_SELF,
	    KB_ERR_CONFIG_PERM, "owned by uid 4243, not by root or uid 4242");
	snprintf(path, sizeof(path), "%s", tmp_path("self-gw.conf"));
	load_expect(path, KB_CONFIG_CHECK_OWNER | KB_CONFIG_OWNER_SELF,
	    KB_ERR_CONFIG_PERM, "writable by group or others (mode 0664)");
	/*
	 * A password file the caller owns: only with OWNER_SELF.  With the
	 * owner check it is a config error at once; without, the read
	 * refuses it.
	 */
	snprintf(path, sizeof(path), "%s", tmp_path("root-selfpw.conf"));
	cfg = (struct kb_config *)1;
	CHECK_EQ_INT(config_load(path, KB_CONFIG_CHECK_OWNER, collect, &ms,
	    &cfg), KB_ERR_CONFIG);
	CHECK(cfg == NULL);
	snprintf(want, sizeof(want), "%s:5: bindpw_file: owned by uid "
	    "4242, not by root", path);
	CHECK_EQ_INT(ms.n, 1);
	CHECK_EQ_STR(ms.n > 0 ? ms.m[0] : NULL, want);
	msgs_clear(&ms);
	bindpw_expect("root-selfpw.conf", 0, KB_ERR_CONFIG_PERM);
	bindpw_expect("self.conf", KB_CONFIG_CHECK_OWNER |
	    KB_CONFIG_OWNER_SELF, 0);
	CHECK(seteuid(0) == 0);
	CHECK(chmod(tmpdir, 0700) == 0);
	/* root-owned 0640 password file: fine for both */
	bindpw_expect("root.conf", KB_CONFIG_CHECK_OWNER, 0);
	bindpw_expect("root.conf", KB_CONFIG_CHECK_OWNER |
	    KB_CONFIG_OWNER_SELF, 0);
}

static const char *const tmp_names[] = {
	"pw-self", "pw-root", "self.conf", "root.conf", "foreign.conf",
	"self-gw.conf", "root-selfpw.conf",
	"ok.conf", "gw.conf", "ow.conf", "other.conf", "big.conf", "max.conf",
	"pw0600", "pw0640", "pw0400", "pw-two-nl", "pw-crlf", "pw-spaces",
	"pw0644", "pw0604", "pw0660", "pw0602", "pw-link", "pw-fifo",
	"pw-empty", "pw-nl", "pw-nul", "pw-max", "pw-big", "pw-other",
	"pw-group", "link.conf", "fifo.conf",
};

static void
tmp_cleanup(void)
{
	size_t i;

	for (i = 0; i < sizeof(tmp_names) / sizeof(tmp_names[0]); i++)
		unlink(tmp_path(tmp_names[i]));
	rmdir(tmp_path("pw-dir"));
	rmdir(tmp_path("dir.conf"));
	if (rmdir(tmpdir) != 0)
		fprintf(stderr, "could not remove %s: %s\n", tmpdir,
		    strerror(errno));
}

int
main(void)
{
	const char *src = getenv("KB_SRC"), *tmp = getenv("TMPDIR");
	char fixtures[1024];

	snprintf(tmpdir, sizeof(tmpdir), "%s/kbconfig.XXXXXX",
	    tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	umask(022);
	test_value_parsers();
	test_bytes();
	test_signing_keywords();
	test_config_permissions();
	test_password();
	test_owner_policy();
	tmp_cleanup();

	snprintf(fixtures, sizeof(fixtures), "%s/tests/fixtures/config",
	    src != NULL ? src : ".");
	if (chdir(fixtures) != 0) {
		perror(fixtures);
		return 1;
	}
	test_good_minimal();
	test_good_all();
	test_good_profiles();
	test_bad_fixtures();
	return tap_done();
}
