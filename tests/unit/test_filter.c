/*
 * test_filter.c - RFC 4515 filter escaping and expansion, filter
 * templates and their subject items, attribute names, and the attachment
 * item widened to host groups.
 *
 * The escaping checks use their own decoder and well-formedness walker,
 * written independently of lib/filter.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "filter.h"
#include "tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;	/* upper case is not what we emit */
}

/*
 * Walk an escaped assertion value: every byte is printable ASCII
 * (0x21..0x7e) other than * ( ) \, or a \XX escape with lower-case hex.
 * Decode into dec (room for len bytes); return the decoded length, or -1
 * on the first violation.
 */
static long
check_escaped(const char *s, size_t len, unsigned char *dec)
{
	size_t i, n = 0;
	unsigned char c;
	int hi, lo;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '\\') {
			if (len - i < 3)
				return -1;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			dec[n++] = (unsigned char)(hi << 4 | lo);
			i += 2;
			continue;
		}
		if (c < 0x21 || c > 0x7e || c == '*' || c == '(' || c == ')')
			return -1;
		dec[n++] = c;
	}
	return (long)n;
}

/* Escape val, check the output is clean and decodes back byte for byte. */
static int
escape_roundtrip(const char *val, size_t len)
{
	unsigned char *dec = NULL;
	char *out = NULL;
	long n;
	int ok = 0;

	if (filter_escape(val, len, &out) != 0 || out == NULL)
		goto done;
	if ((dec = malloc(strlen(out) + 1)) == NULL)
		goto done;
	n = check_escaped(out, strlen(out), dec);
	ok = n >= 0 && (size_t)n == len && memcmp(dec, val, len) == 0;
 done:
	free(out);
	free(dec);
	return ok;
}

/* Unescaped parentheses balance and never close below zero. */
static int
parens_balanced(const char *f, size_t *nopen)
{
	long depth = 0;
	size_t i, opens = 0;

	for (i = 0; f[i] != '\0'; i++) {
		if (f[i] == '\\') {
			if (f[i + 1] == '\0' || f[i + 2] == '\0')
				return 0;
			i += 2;
		} else if (f[i] == '(') {
			depth++;
			opens++;
		} else if (f[i] == ')' && --depth < 0)
			return 0;
	}
	*nopen = opens;
	return depth == 0;
}

/*
 * Expand a template "PREFIX%uSUFFIX" and check that the text between the
 * literal prefix and suffix is a clean escaping of user, and that no '*'
 * or extra parenthesis got in.
 */
static int
expand_user_ok(const char *user)
{
	static const char prefix[] =
	    "(&(objectClass=keyboundKeyPair)(keyboundAttachment=";
	static const char suffix[] = "@web01))";
	unsigned char *dec = NULL;
	char *out = NULL;
	size_t olen, mid, nopen;
	long n;
	int ok = 0;

	if (filter_expand("(&(objectClass=keyboundKeyPair)"
	    "(keyboundAttachment=%u@%i))", user, "web01", NULL, &out) != 0)
		goto done;
	olen = strlen(out);
	if (olen < sizeof(prefix) - 1 + sizeof(suffix) - 1 ||
	    strncmp(out, prefix, sizeof(prefix) - 1) != 0 ||
	    strcmp(out + olen - (sizeof(suffix) - 1), suffix) != 0)
		goto done;
	mid = olen - (sizeof(prefix) - 1) - (sizeof(suffix) - 1);
	if ((dec = malloc(mid + 1)) == NULL)
		goto done;
	n = check_escaped(out + sizeof(prefix) - 1, mid, dec);
	if (n < 0 || (size_t)n != strlen(user) ||
	    memcmp(dec, user, (size_t)n) != 0)
		goto done;
	if (!parens_balanced(out, &nopen) || nopen != 3 ||
	    strchr(out, '*') != NULL)
		goto done;
	ok = 1;
 done:
	free(out);
	free(dec);
	return ok;
}

static void
test_escape(void)
{
	static const char *hostile[] = {
		"*", "*)(uid=*", "\\", "\\2a", "(|(uid=*))", ")(", "()",
		"alice)(|(objectClass=*)", "*)(&", "\\5c\\2a", "a b", " ",
		"%u", "%%", "bogus)(uid=*", "x\\", "\\\\", "@", "user@host",
		"\xc3\xa9t\xc3\xa9", "\xff\xfe", "(", ")", "**", "\\00",
	};
	char one[2], *big, *out = NULL;
	const size_t biglen = 64 * 1024;
	size_t i;

	for (i = 0; i < NELEM(hostile); i++) {
		CHECK(escape_roundtrip(hostile[i], strlen(hostile[i])));
		CHECK(expand_user_ok(hostile[i]));
	}
	for (i = 1; i <= 0xff; i++) {		/* every non-NUL byte */
		one[0] = (char)i;
		one[1] = '\0';
		CHECK(escape_roundtrip(one, 1));
		CHECK(expand_user_ok(one));
	}
	/* embedded NUL through filter_escape's len */
	CHECK(escape_roundtrip("a\0b", 3));
	CHECK(escape_roundtrip("\0", 1));
	CHECK_EQ_INT(filter_escape("a\0*", 3, &out), 0);
	CHECK_EQ_STR(out, "a\\00\\2a");
	free(out);
	/* exact encodings */
	CHECK_EQ_INT(filter_escape("*)(uid=*", 8, &out), 0);
	CHECK_EQ_STR(out, "\\2a\\29\\28uid=\\2a");
	free(out);
	CHECK_EQ_INT(filter_escape("a b\x7f\x80", 5, &out), 0);
	CHECK_EQ_STR(out, "a\\20b\\7f\\80");
	free(out);
	CHECK_EQ_INT(filter_escape("", 0, &out), 0);
	CHECK_EQ_STR(out, "");
	free(out);
	/* a 64 KiB value: every byte value, several times */
	if ((big = malloc(biglen + 1)) == NULL) {
		CHECK(big != NULL);
		return;
	}
	for (i = 0; i < biglen; i++)
		big[i] = (char)(i % 256);
	CHECK(escape_roundtrip(big, biglen));
	for (i = 0; i < biglen; i++)
		big[i] = (char)(1 + i % 255);
	big[biglen] = '\0';
	CHECK(expand_user_ok(big));
	memset(big, '*', biglen);
	CHECK(expand_user_ok(big));
	free(big);
}

static void
test_expand(void)
{
	char *out = (char *)1;

	CHECK_EQ_INT(filter_expand("(uid=%u)", "alice", NULL, NULL, &out), 0);
	CHECK_EQ_STR(out, "(uid=alice)");
	free(out);
	CHECK_EQ_INT(filter_expand("(&(a=%u)(b=%i)(c=%f)(d=100%%))", "u*",
	    "i(", "SHA256:x/y+z", &out), 0);
	CHECK_EQ_STR(out, "(&(a=u\\2a)(b=i\\28)(c=SHA256:x/y+z)(d=100%))");
	free(out);
	CHECK_EQ_INT(filter_expand("(a=%i%u)", "%u", "%i", NULL, &out), 0);
	CHECK_EQ_STR(out, "(a=%i%u)");	/* no second round of expansion */
	free(out);

	out = (char *)1;
	CHECK_EQ_INT(filter_expand("(a=%f)", "u", "i", NULL, &out),
	    KB_ERR_FILTER_TEMPLATE);
	CHECK(out == NULL);
	out = (char *)1;
	CHECK_EQ_INT(filter_expand("(a=%x)", "u", "i", NULL, &out),
	    KB_ERR_FILTER_TEMPLATE);
	CHECK(out == NULL);
	CHECK_EQ_INT(filter_expand("(a=b)%", "u", "i", NULL, &out),
	    KB_ERR_FILTER_TEMPLATE);
	CHECK_EQ_INT(filter_expand("(a=%U)", "u", "i", NULL, &out),
	    KB_ERR_FILTER_TEMPLATE);
	CHECK_EQ_INT(filter_expand("(a=%u)", NULL, "i", NULL, &out),
	    KB_ERR_FILTER_TEMPLATE);
	CHECK_EQ_INT(filter_expand("(a=%i)", "u", NULL, NULL, &out),
	    KB_ERR_FILTER_TEMPLATE);
	CHECK(out == NULL);
}

/* Which %u/%i items lookup.c can re-check byte for byte. */
static void
test_template_subjects(void)
{
	static const struct {
		const char *tmpl;
		int r;
		size_t n;
	} cases[] = {
		{ "(&(objectClass=keyboundKeyPair)(keyboundAttachment=%u@%i))",
		    0, 1 },
		{ "(&(uid=%u)(host=%i))", 0, 2 },
		{ "(&(uid=%u)(!(pwdAccountLockedTime=*)))", 0, 1 },
		{ "(&(uid=%u)(|(a=1)(b=2)))", 0, 1 },
		{ "(&(uid=%u)(cn~=smith)(mail>=a)(cn:caseExactMatch:=x))",
		    0, 1 },
		{ "(&(uid=%u)(cn>=100%%u))", 0, 1 },
		/* the server's matching rule decides these: not re-checkable */
		{ "(&(uid=%u)(cn~=%u)(mail>=%u))", KB_ERR_FILTER_TEMPLATE, 0 },
		{ "(&(uid=%u)(host~=%i))", KB_ERR_FILTER_TEMPLATE, 0 },
		{ "(&(uid=%u)(host>=%i))", KB_ERR_FILTER_TEMPLATE, 0 },
		{ "(&(uid=%u)(host<=%i))", KB_ERR_FILTER_TEMPLATE, 0 },
		{ "(uid:caseExactMatch:=%u)", KB_ERR_FILTER_TEMPLATE, 0 },
		{ "(&(uid=%u)(host:caseExactMatch:=%i))",
		    KB_ERR_FILTER_TEMPLATE, 0 },
		{ "(&(uid=%u)(:dn:2.5.13.5:=%i))", KB_ERR_FILTER_TEMPLATE, 0 },
		{ "(&(uid=%u)(host:dn:=x%u))", KB_ERR_FILTER_TEMPLATE, 0 },
		{ "(&(a=%u)(b=%u)(c=%u)(d=%u)(e=%i))", 0, 5 },
		{ "(&(description=100%%u))", 0, 0 },
		{ "(cn=pre*%u*post)", KB_ERR_FILTER_TEMPLATE, 0 },
		{ "(uid=%u*)", KB_ERR_FILTER_TEMPLATE, 0 },
		{ "(|(uid=%u)(mail=%u@example.com))", KB_ERR_FILTER_TEMPLATE, 0 },
		{ "(!(cn=%u))", KB_ERR_FILTER_TEMPLATE, 0 },
		{ "(&(a=1)(|(b=2)(&(uid=%u))))", KB_ERR_FILTER_TEMPLATE, 0 },
		{ "(&(uid=%u)(!(host=%i)))", KB_ERR_FILTER_TEMPLATE, 0 },
		{ "(uid=%u", KB_ERR_FILTER_TEMPLATE, 0 },
	};
	size_t i, n;

	for (i = 0; i < NELEM(cases); i++) {
		n = 99;
		CHECK_EQ_INT(filter_template_items(cases[i].tmpl, NULL, 0, &n),
		    cases[i].r);
		CHECK_EQ_INT(n, cases[i].n);
		if (filter_template_items(cases[i].tmpl, NULL, 0, &n) !=
		    cases[i].r)
			fprintf(stderr, "subject items: %s\n", cases[i].tmpl);
	}
	CHECK_EQ_INT(filter_template_items(NULL, NULL, 0, &n),
	    KB_ERR_FILTER_TEMPLATE);
}

static void
test_templates(void)
{
	static const char *good[] = {
		"(&(objectClass=keyboundKeyPair)(keyboundAttachment=%u@%i))",
		"(&(objectClass=ldapPublicKey)(uid=%u))",
		"(uid=%u)",
		"(|(uid=%u)(mail=%u@example.com))",
		"(!(cn=%u))",
		"(&(uid=%u)(!(pwdAccountLockedTime=*)))",
		"(cn=pre*%u*post)",
		"(uid:caseExactMatch:=%u)",
		"(uid:=%u)",
		"(uid:dn:2.5.13.5:=%u)",
		"(:dn:2.5.13.5:=%u)",
		"(2.5.4.3=%u)",
		"(cn;lang-en=%u)",
		"(uid>=%u)", "(uid<=%u)", "(uid~=%u)",
		"(description=a\\2ab %u)",
	};
	static const char *bad[] = {
		"", "uid=%u", "(uid=%u", "uid=%u)", "(uid=%u))", "((uid=%u))",
		"(%u=x)", "(uid=%x)", "(uid=%)", "(uid=%u)(x=1)",
		"(&)", "(|)", "(!)", "(!(a=1)(b=2))", "(uid>=*%u)",
		"(uid=\\2)", "(uid=\\zz)", "(uid=a(b)", "(=x%u)",
		"(1uid=%u)", "(01.2=%u)", "(1=%u)", "(cn;=%u)",
		"(:=%u)", "(cn:dn:=%u", "(uid=%u) ",
		" (uid=%u)", "(uid=\x01%u)", "(u id=%u)",
	};
	char deep[256];
	unsigned uses;
	size_t i;

	for (i = 0; i < NELEM(good); i++) {
		CHECK_EQ_INT(filter_template_check(good[i], &uses), 0);
		if (filter_template_check(good[i], NULL) != 0)
			fprintf(stderr, "refused good template %s\n", good[i]);
	}
	for (i = 0; i < NELEM(bad); i++) {
		CHECK_EQ_INT(filter_template_check(bad[i], &uses),
		    KB_ERR_FILTER_TEMPLATE);
		if (filter_template_check(bad[i], NULL) == 0)
			fprintf(stderr, "accepted bad template %s\n", bad[i]);
	}
	CHECK_EQ_INT(filter_template_check(good[0], &uses), 0);
	CHECK_EQ_INT(uses, KB_FILTER_USES_USER | KB_FILTER_USES_INSTANCE);
	CHECK_EQ_INT(filter_template_check("(&(a=%f)(b=%%))", &uses), 0);
	CHECK_EQ_INT(uses, KB_FILTER_USES_FINGERPRINT);
	/* nesting: 32 levels are fine, 40 are not */
	memset(deep, 0, sizeof(deep));
	for (i = 0; i < 32; i++)
		strcat(deep, "(!");
	strcat(deep, "(a=%u)");
	for (i = 0; i < 32; i++)
		strcat(deep, ")");
	CHECK_EQ_INT(filter_template_check(deep, NULL), 0);
	memset(deep, 0, sizeof(deep));
	for (i = 0; i < 40; i++)
		strcat(deep, "(!");
	strcat(deep, "(a=%u)");
	for (i = 0; i < 40; i++)
		strcat(deep, ")");
	CHECK_EQ_INT(filter_template_check(deep, NULL),
	    KB_ERR_FILTER_TEMPLATE);
}

static void
test_attributes(void)
{
	static const char *good[] = {
		"cn", "keyboundPublicKey", "sshPublicKey", "x-attr",
		"a1", "2.5.4.3", "1.3.6.1.4.1.1466.115.121.1.26", "0.0",
	};
	static const char *bad[] = {
		"", "1", "1.", ".1", "01.2", "1..2", "-cn", "c n", "cn;binary",
		"cn*", "cn)", "c_n", "\xc3\xa9", "2.5.4.03", "1a",
	};
	char longname[200];
	size_t i;

	for (i = 0; i < NELEM(good); i++)
		CHECK_EQ_INT(filter_attribute_valid(good[i]), 0);
	for (i = 0; i < NELEM(bad); i++)
		CHECK_EQ_INT(filter_attribute_valid(bad[i]), KB_ERR_INVALID_ARG);
	memset(longname, 'a', sizeof(longname));
	longname[128] = '\0';
	CHECK_EQ_INT(filter_attribute_valid(longname), 0);
	longname[128] = 'a';
	longname[129] = '\0';
	CHECK_EQ_INT(filter_attribute_valid(longname), KB_ERR_INVALID_ARG);

}

/* Items: offsets, attribute, value as written, the targets flag. */
static void
test_items(void)
{
	static const char t1[] =
	    "(&(objectClass=keyboundKeyPair)(keyboundAttachment=%u@%i))";
	static const char t2[] = "(&(uid=%u)(host=\\2a%i))";
	struct filter_item it[KB_FILTER_MAX_SUBJECT_ITEMS];
	char *v = NULL;
	size_t n = 0, len = 0;

	CHECK_EQ_INT(filter_template_items(t1, it, 4, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(it[0].start, 31);
	CHECK_EQ_INT(it[0].end, sizeof(t1) - 2);
	CHECK(strncmp(t1 + it[0].attr, "keyboundAttachment",
	    it[0].attrlen) == 0 && it[0].attrlen == 18);
	CHECK_EQ_INT(it[0].vallen, 5);
	CHECK_EQ_INT(it[0].targets, 1);
	CHECK_EQ_INT(filter_item_value(t1, &it[0], "al\0ce", 5, "web-01", &v,
	    &len), 0);
	CHECK_EQ_INT(len, 12);
	CHECK(v != NULL && memcmp(v, "al\0ce@web-01", 12) == 0);
	free(v);

	CHECK_EQ_INT(filter_template_items(t2, it, 4, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(it[0].targets, 0);
	CHECK_EQ_INT(it[1].targets, 0);
	CHECK_EQ_INT(filter_item_value(t2, &it[1], "bob", 3, "h1", &v, &len),
	    0);
	CHECK_EQ_STR(v, "*h1");
	free(v);
	/* more items than room: counted, the first kept */
	CHECK_EQ_INT(filter_template_items("(&(a=%u)(b=%u)(c=%i))", it, 2,
	    &n), 0);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(it[1].attr, 9);
}

/* The targets item widened: every value escaped, the rest unchanged. */
static void
test_expand_targets(void)
{
	static const char t1[] = "(&(objectClass=keyboundKeyPair)"
	    "(keyboundAttachment=%u@%i)(!(description=off)))";
	static const char t2[] = "(keyboundAttachment=%u@%i)";
	static const char *const groups[] = { "db", "web:1" };
	struct filter_item it[4];
	char *out = NULL;
	size_t n;

	CHECK_EQ_INT(filter_template_items(t1, it, 4, &n), 0);
	CHECK_EQ_INT(filter_expand_targets(t1, &it[0], "a*)", "web-01",
	    groups, 2, NULL, &out), 0);
	CHECK_EQ_STR(out, "(&(objectClass=keyboundKeyPair)"
	    "(|(keyboundAttachment=a\\2a\\29@web-01)"
	    "(keyboundAttachment=a\\2a\\29@+db)"
	    "(keyboundAttachment=a\\2a\\29@+web:1))"
	    "(!(description=off)))");
	CHECK_EQ_INT(filter_template_check(out, NULL), 0);
	free(out);
	CHECK_EQ_INT(filter_expand_targets(t1, &it[0], "bob", "h", groups, 0,
	    NULL, &out), 0);
	CHECK_EQ_STR(out, "(&(objectClass=keyboundKeyPair)"
	    "(keyboundAttachment=bob@h)(!(description=off)))");
	free(out);
	/* the item is the whole filter */
	CHECK_EQ_INT(filter_template_items(t2, it, 4, &n), 0);
	CHECK_EQ_INT(filter_expand_targets(t2, &it[0], "bob", "h", groups, 1,
	    NULL, &out), 0);
	CHECK_EQ_STR(out, "(|(keyboundAttachment=bob@h)"
	    "(keyboundAttachment=bob@+db))");
	free(out);
	/* a non-targets item cannot be widened */
	CHECK_EQ_INT(filter_template_items("(&(uid=%u)(h=%i))", it, 4, &n), 0);
	CHECK_EQ_INT(filter_expand_targets("(&(uid=%u)(h=%i))", &it[0], "b",
	    "h", groups, 1, NULL, &out), KB_ERR_INVALID_ARG);
	CHECK(out == NULL);
}

int
main(void)
{
	test_escape();
	test_expand();
	test_templates();
	test_template_subjects();
	test_attributes();
	test_items();
	test_expand_targets();
	return tap_done();
}
