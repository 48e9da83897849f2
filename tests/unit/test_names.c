/*
 * test_names.c - user/instance/key pair names, RFC 4514 DN escaping,
 * instance specs, UTF-8.  Filters are tests/unit/test_filter.c's.
 */
#include <sys/utsname.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "names.h"
#include "tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

struct bytes {
	const char *s;
	size_t len;	/* 0: strlen */
};

static void
test_user_names(void)
{
	static const char *real[] = {
		"alice", "j.doe", "svc_backup$", "user@example.com",
		"DOMAIN\\user", "a", "root", "www-data", "_apt", "Bob",
		"x1", "first last", "o'brien", "jos\xc3\xa9",
		"\xe5\xbc\xa0\xe4\xbc\x9f", "\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd",
		"\xf0\x9f\x94\x91key", "user+tag", "a-", "a.", "123",
		"bogus)(uid=*", "*", "\\2a", "a\\",
	};
	static const struct bytes hostile[] = {
		{ "", 1 }, { "-alice", 0 }, { "--", 0 }, { "-", 0 },
		{ " alice", 0 }, { "alice ", 0 }, { " ", 0 }, { "  ", 0 },
		{ "ali\0ce", 6 }, { "\0", 1 }, { "alice\n", 0 },
		{ "alice\r", 0 }, { "al\tice", 0 }, { "\x1b[31m", 0 },
		{ "a\x7f", 0 }, { "\xff", 0 }, { "\xc3", 0 },
		{ "a\xc3(", 0 }, { "\xc0\xaf", 0 }, { "\xe0\x80\xaf", 0 },
		{ "\xed\xa0\x80", 0 }, { "\xf4\x90\x80\x80", 0 },
		{ "\xf8\x88\x80\x80\x80", 0 }, { "\x80", 0 }, { "\xbf", 0 },
		{ "a\xc2\x85", 0 }, { "\xc2\x9f", 0 }, { "\xfe\xff", 0 },
		{ "\xe2\x82", 0 }, { "alice\xf0\x9f\x94", 0 },
	};
	static const size_t toolong[] = { 257, 4096, 65536 };
	char *buf;
	size_t i, nrefused = 0;

	for (i = 0; i < NELEM(real); i++) {
		CHECK_EQ_INT(name_user_valid(real[i], strlen(real[i])), 0);
		if (name_user_valid(real[i], strlen(real[i])) != 0)
			fprintf(stderr, "refused real name %s\n", real[i]);
	}
	for (i = 0; i < NELEM(hostile); i++) {
		size_t len = hostile[i].len ? hostile[i].len :
		    strlen(hostile[i].s);

		if (hostile[i].s[0] == '\0' && hostile[i].len == 1)
			len = 0;	/* the empty name */
		CHECK_EQ_INT(name_user_valid(hostile[i].s, len),
		    KB_ERR_USER_NAME);
		nrefused += name_user_valid(hostile[i].s, len) != 0;
	}
	/* every control byte, alone and inside a name */
	for (i = 1; i < 0x20; i++) {
		char n1[2] = { (char)i, 0 }, n2[4] = { 'a', (char)i, 'b', 0 };

		CHECK_EQ_INT(name_user_valid(n1, 1), KB_ERR_USER_NAME);
		CHECK_EQ_INT(name_user_valid(n2, 3), KB_ERR_USER_NAME);
		nrefused += 2;
	}
	CHECK_EQ_INT(name_user_valid("\x7f", 1), KB_ERR_USER_NAME);
	CHECK_EQ_INT(name_user_valid(NULL, 0), KB_ERR_USER_NAME);
	/* lengths: 256 bytes fine, 257 / 4 KiB / 64 KiB not */
	if ((buf = malloc(65536)) == NULL) {
		CHECK(buf != NULL);
		return;
	}
	memset(buf, 'a', 65536);
	CHECK_EQ_INT(name_user_valid(buf, 256), 0);
	for (i = 0; i < NELEM(toolong); i++) {
		CHECK_EQ_INT(name_user_valid(buf, toolong[i]),
		    KB_ERR_USER_NAME);
		nrefused++;
	}
	/* 256 bytes ending inside a multi-byte character */
	memcpy(buf + 254, "\xc3\xa9", 2);
	CHECK_EQ_INT(name_user_valid(buf, 256), 0);
	CHECK_EQ_INT(name_user_valid(buf, 255), KB_ERR_USER_NAME);
	free(buf);
	CHECK(nrefused >= 40);
}

static void
test_instance_names(void)
{
	static const char *good[] = {
		"web01", "web-01.example.com", "a",
		"0123456789abcdef0123456789abcdef",
		"db_1", "A.B-C_D", "1",
	};
	static const char *bad[] = {
		"", "-web", ".web", "_web", "web+g", "+web", "web 01", "web@01", "web/01", "web:01",
		"web\n", "w\xc3\xa9", "web*", "web(1)", "web\\", "\t",
		"web%h",
	};
	char buf[300];
	size_t i;

	for (i = 0; i < NELEM(good); i++)
		CHECK_EQ_INT(name_instance_valid(good[i]), 0);
	for (i = 0; i < NELEM(bad); i++)
		CHECK_EQ_INT(name_instance_valid(bad[i]), KB_ERR_INSTANCE_NAME);
	CHECK_EQ_INT(name_instance_valid(NULL), KB_ERR_INSTANCE_NAME);
	memset(buf, 'a', sizeof(buf));
	buf[253] = '\0';
	CHECK_EQ_INT(name_instance_valid(buf), 0);
	buf[253] = 'a';
	buf[254] = '\0';
	CHECK_EQ_INT(name_instance_valid(buf), KB_ERR_INSTANCE_NAME);
}

static void
test_keypair_names(void)
{
	static const char *good[] = {
		"ab", "alice-laptop", "k1", "Deploy_Key:2024", "a-", "z:",
		"KeyPair_01", "x0123456789012345678901234567890123456789"
		"01234567890123456789012",	/* 64 */
	};
	static const char *bad[] = {
		"", "a", "1abc", "-ab", "_ab", ":ab", "ab cd", "ab,cd",
		"ab=cd", "ab+cd", "ab\"", "ab\\cd", "ab;cd", "ab<", "ab>",
		"ab#", "#ab", " ab", "ab ", "ab.cd", "ab/cd", "ab*", "ab(",
		"ab\n", "\xc3\xa9t\xc3\xa9", "ab\xc3\xa9",
		"x01234567890123456789012345678901234567890123456789"
		"01234567890123",		/* 65 */
		/* names as the clouds write them: what is still refused */
		"\xc0\xe4\xb8\x80",		/* overlong '@' + ideograph */
		"\xe0\x80\xe1\xe4\xb8\x80",	/* overlong 3-byte */
		"\xe8\xbf\x90\xed\xa0\x80",	/* a surrogate */
		"\xe8\xbf\x90\xe7\xbb",	/* truncated sequence */
		"\xcc\x81" "a",			/* lone combining mark first */
		"ab\xcc\x81",			/* combining mark inside */
		"\xe2\x80\x8f" "ab",		/* RIGHT-TO-LEFT MARK */
		"ab\xe2\x80\x8f",
		"ab\xe2\x80\xae",		/* RIGHT-TO-LEFT OVERRIDE */
		"ab\xef\xbc\x91",		/* FULLWIDTH DIGIT ONE */
		"\xef\xbc\xa1" "b",		/* FULLWIDTH LATIN CAPITAL A */
		"1\xe8\xbf\x90",		/* digit first */
		"\xe3\x80\x80" "ab",		/* IDEOGRAPHIC SPACE */
		"\xe8\xbf\x90\xe3\x80\x82",	/* IDEOGRAPHIC FULL STOP */
		"\xef\xa4\x80" "b",		/* U+F900 compatibility ideograph */
		"\xe3\x81\x82" "b",		/* hiragana: not an ideograph */
		"\xea\xb0\x80" "b",		/* hangul syllable */
		"\xe8\xbf\x90",		/* one character */
	};
	char buf[KB_KEYPAIR_NAME_BYTES + 8];
	size_t i;

	for (i = 0; i < NELEM(good); i++)
		CHECK_EQ_INT(name_keypair_valid(good[i]), 0);
	for (i = 0; i < NELEM(bad); i++)
		CHECK_EQ_INT(name_keypair_valid(bad[i]), KB_ERR_KEYPAIR_NAME);
	CHECK_EQ_INT(name_keypair_valid(NULL), KB_ERR_KEYPAIR_NAME);

	/* CJK unified ideographs, counted in characters, not bytes */
	CHECK_EQ_INT(name_keypair_valid("\xe8\xbf\x90\xe7\xbb\xb4-"
	    "\xe5\xaf\x86\xe9\x92\xa5:1"), 0);	/* 运维-密钥:1 */
	CHECK_EQ_INT(name_keypair_valid("\xe4\xb8\x80" "a"), 0);	/* U+4E00 */
	CHECK_EQ_INT(name_keypair_valid("\xe9\xbf\xbf" "a"), 0);	/* U+9FFF */
	CHECK_EQ_INT(name_keypair_valid("\xe3\x90\x80" "a"), 0);	/* ext A */
	CHECK_EQ_INT(name_keypair_valid("\xf0\xa0\x80\x80" "a"), 0);	/* ext B */
	CHECK_EQ_INT(name_keypair_valid("k\xe4\xb8\x80"), 0);
	for (i = 0; i < 64; i++)
		memcpy(buf + 3 * i, "\xe5\xaf\x86", 3);
	buf[3 * 64] = '\0';
	CHECK_EQ_INT(name_keypair_valid(buf), 0);		/* 64: 192 bytes */
	memcpy(buf + 3 * 64, "\xe5\xaf\x86", 4);
	CHECK_EQ_INT(name_keypair_valid(buf), KB_ERR_KEYPAIR_NAME);	/* 65 */
	for (i = 0; i < 64; i++)
		memcpy(buf + 4 * i, "\xf0\xa0\x80\x80", 4);
	buf[4 * 64] = '\0';
	CHECK_EQ_INT(name_keypair_valid(buf), 0);	/* 64 x 4 bytes */
}

static void
test_dn_escape(void)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "alice", "alice" },
		{ "a,b", "a\\,b" },
		{ "a+b", "a\\+b" },
		{ "a\"b", "a\\\"b" },
		{ "a\\b", "a\\\\b" },
		{ "a<b>c", "a\\<b\\>c" },
		{ "a;b", "a\\;b" },
		{ "a=b", "a\\=b" },
		{ " a", "\\ a" },
		{ "a ", "a\\ " },
		{ " ", "\\ " },
		{ "  ", "\\ \\ " },
		{ "a b", "a b" },
		{ "#a", "\\#a" },
		{ "a#", "a#" },
		{ "a\nb", "a\\0ab" },
		{ "\x01\x1f\x7f", "\\01\\1f\\7f" },
		{ "\xc3\xa9", "\\c3\\a9" },
		{ "cn=x,dc=evil", "cn\\=x\\,dc\\=evil" },
		{ "*()", "*()" },
	};
	char *out;
	size_t i;

	for (i = 0; i < NELEM(t); i++) {
		out = NULL;
		CHECK_EQ_INT(dn_escape_value(t[i].in, &out), 0);
		CHECK_EQ_STR(out, t[i].out);
		free(out);
	}
	out = (char *)1;
	CHECK_EQ_INT(dn_escape_value("", &out), KB_ERR_INVALID_ARG);
	CHECK(out == NULL);
	CHECK_EQ_INT(dn_escape_value(NULL, &out), KB_ERR_INVALID_ARG);
}

/* The machine id as instance_expand should see it, or "" if unusable. */
static void
read_machine_id(char *id, size_t idlen)
{
	FILE *f;
	size_t i;

	id[0] = '\0';
	if ((f = fopen("/etc/machine-id", "re")) == NULL)
		return;
	if (fgets(id, (int)idlen, f) == NULL)
		id[0] = '\0';
	fclose(f);
	id[strcspn(id, "\n")] = '\0';
	for (i = 0; id[i] != '\0'; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			id[0] = '\0';
	if (strlen(id) != 32)
		id[0] = '\0';
}

static void
test_instance_expand(void)
{
	static const char *bad[] = {
		"", "%", "%x", "%%", "web %h", "-%h", "%h@x", "web/1", "%u",
	};
	struct utsname u;
	char full[300], shortname[300], id[64], want[400];
	char *out;
	size_t i;

	CHECK(uname(&u) == 0);
	snprintf(full, sizeof(full), "%s", u.nodename);
	snprintf(shortname, sizeof(shortname), "%s", u.nodename);
	shortname[strcspn(shortname, ".")] = '\0';
	read_machine_id(id, sizeof(id));

	CHECK_EQ_INT(instance_expand("web01", &out), 0);
	CHECK_EQ_STR(out, "web01");
	free(out);
	if (name_instance_valid(shortname) == 0) {
		CHECK_EQ_INT(instance_expand("%h", &out), 0);
		CHECK_EQ_STR(out, shortname);
		free(out);
		snprintf(want, sizeof(want), "web-%s", shortname);
		CHECK_EQ_INT(instance_expand("web-%h", &out), 0);
		CHECK_EQ_STR(out, want);
		free(out);
	}
	if (name_instance_valid(full) == 0) {
		CHECK_EQ_INT(instance_expand("%H", &out), 0);
		CHECK_EQ_STR(out, full);
		free(out);
	}
	if (id[0] != '\0') {
		CHECK_EQ_INT(instance_expand("%m", &out), 0);
		CHECK_EQ_STR(out, id);
		free(out);
		snprintf(want, sizeof(want), "%s.%s", shortname, id);
		if (name_instance_valid(shortname) == 0) {
			CHECK_EQ_INT(instance_expand("%h.%m", &out), 0);
			CHECK_EQ_STR(out, want);
			free(out);
		}
	} else {
		out = (char *)1;
		CHECK(instance_expand("%m", &out) != 0);
		CHECK(out == NULL);
	}
	for (i = 0; i < NELEM(bad); i++) {
		out = (char *)1;
		CHECK(instance_expand(bad[i], &out) != 0);
		CHECK(out == NULL);
	}
}

static void
test_utf8(void)
{
	CHECK_EQ_INT(name_utf8_valid("abc\xc3\xa9\xf0\x9f\x94\x91", 9), 0);
	CHECK_EQ_INT(name_utf8_valid("", 0), 0);
	CHECK_EQ_INT(name_utf8_valid("\xc0\x80", 2), KB_ERR_INVALID_ARG);
	CHECK_EQ_INT(name_utf8_valid("\xed\xbf\xbf", 3), KB_ERR_INVALID_ARG);
	CHECK_EQ_INT(name_utf8_valid("\xc3\xa9", 1), KB_ERR_INVALID_ARG);
}

int
main(void)
{
	test_user_names();
	test_instance_names();
	test_keypair_names();
	test_dn_escape();
	test_instance_expand();
	test_utf8();
	return tap_done();
}
