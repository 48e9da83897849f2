/*
 * test_keyopts.c - authorized_keys options: the allow-list, sshd's quoting
 * rules, from= validation, dropping of unknown options, and render/parse
 * round trips.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "keyopts.h"
#include "tap.h"

static int
parse(const char *s, int mode, struct kb_keyopts *o)
{
	return opts_parse(s, strlen(s), mode, o, NULL, 0);
}

/* Parse s strictly and expect it to render exactly as want. */
static void
expect_render(const char *s, const char *want)
{
	struct kb_keyopts o;
	char *out = NULL;
	int r;

	if ((r = parse(s, KB_OPTS_STRICT, &o)) != 0)
		fprintf(stderr, "parse \"%s\": %s\n", s, kb_strerror(r));
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(opts_render(&o, &out), 0);
	CHECK_EQ_STR(out, want);
	free(out);
	opts_clear(&o);
}

static void
expect_fail(const char *s, int mode, int expect)
{
	struct kb_keyopts o;
	int r;

	memset(&o, 0xa5, sizeof(o));
	r = parse(s, mode, &o);
	if (r != expect)
		fprintf(stderr, "\"%s\": got %d (%s)\n", s, r, kb_strerror(r));
	CHECK_EQ_INT(r, expect);
	/* on failure the struct is left empty */
	CHECK(o.flags == 0 && o.from == NULL && o.command == NULL &&
	    o.has_expiry == 0);
}

static void
test_allow_list(void)
{
	expect_render("", "");
	expect_render("restrict", "restrict");
	expect_render("no-agent-forwarding", "no-agent-forwarding");
	expect_render("no-port-forwarding", "no-port-forwarding");
	expect_render("no-pty", "no-pty");
	expect_render("no-user-rc", "no-user-rc");
	expect_render("no-X11-forwarding", "no-X11-forwarding");
	expect_render("no-x11-forwarding", "no-X11-forwarding");
	expect_render("verify-required", "verify-required");
	expect_render("from=\"10.0.0.1\"", "from=\"10.0.0.1\"");
	expect_render("command=\"uptime\"", "command=\"uptime\"");
	/* keywords are case-insensitive, rendered canonically and in order */
	expect_render("NO-PTY,Restrict,COMMAND=\"ls\",From=\"*.example.com\","
	    "VERIFY-REQUIRED,no-user-rc,No-Agent-Forwarding,"
	    "no-port-forwarding,NO-X11-FORWARDING",
	    "restrict,no-agent-forwarding,no-port-forwarding,no-pty,"
	    "no-user-rc,no-X11-forwarding,verify-required,"
	    "from=\"*.example.com\",command=\"ls\"");
}

static void
test_strict_refusals(void)
{
	expect_fail("environment=\"PATH=/tmp\"", KB_OPTS_STRICT,
	    KB_ERR_OPT_UNKNOWN);
	expect_fail("restrict,permitopen=\"host:22\"", KB_OPTS_STRICT,
	    KB_ERR_OPT_UNKNOWN);
	expect_fail("tunnel=\"0\"", KB_OPTS_STRICT, KB_ERR_OPT_UNKNOWN);
	expect_fail("cert-authority", KB_OPTS_STRICT, KB_ERR_OPT_UNKNOWN);
	expect_fail("principals=\"root\"", KB_OPTS_STRICT, KB_ERR_OPT_UNKNOWN);
	expect_fail("expiry-time=\"20300101\"", KB_OPTS_STRICT,
	    KB_ERR_OPT_UNKNOWN);
	expect_fail("pty", KB_OPTS_STRICT, KB_ERR_OPT_UNKNOWN);
	expect_fail("restrictx", KB_OPTS_STRICT, KB_ERR_OPT_UNKNOWN);
	expect_fail("no-ptyx", KB_OPTS_STRICT, KB_ERR_OPT_UNKNOWN);

	expect_fail("no-pty,no-pty", KB_OPTS_STRICT, KB_ERR_OPT_DUPLICATE);
	expect_fail("NO-PTY,no-pty", KB_OPTS_STRICT, KB_ERR_OPT_DUPLICATE);
	expect_fail("from=\"a\",from=\"b\"", KB_OPTS_STRICT,
	    KB_ERR_OPT_DUPLICATE);
	expect_fail("command=\"a\",command=\"b\"", KB_OPTS_STRICT,
	    KB_ERR_OPT_DUPLICATE);
}

static void
test_syntax(void)
{
	static const char *bad[] = {
		",", "no-pty,", ",no-pty", "no-pty,,restrict",
		"no-pty restrict",
		" no-pty", "no-pty ", "no-pty\t", "command=", "command=ls",
		"command=\"ls", "command=\"ls\\\"", "command=\"ls\"x",
		"command=\"ls\" ", "command='ls'", "from", "command",
		"no-pty=\"x\"", "restrict=\"\"", "=\"x\"", "no pty",
		"no-pty;restrict", "\"no-pty\"", "command=\"a\nb\"",
		"command=\"a\tb\"", "command=\"caf\303\251\"", "no-pty\n",
		"environment=\"A=\001\"", "x=\"unterminated", "\\\"",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_fail(bad[i], KB_OPTS_STRICT, KB_ERR_OPT_SYNTAX);
		expect_fail(bad[i], KB_OPTS_DROP_UNKNOWN, KB_ERR_OPT_SYNTAX);
		CHECK_EQ_INT(opts_check_syntax(bad[i], strlen(bad[i])),
		    KB_ERR_OPT_SYNTAX);
	}
	/* NUL inside the counted string */
	CHECK_EQ_INT(opts_check_syntax("no-pty\0", 7), KB_ERR_OPT_SYNTAX);
	CHECK_EQ_INT(opts_check_syntax("command=\"a\0b\"", 13),
	    KB_ERR_OPT_SYNTAX);
	CHECK_EQ_INT(opts_check_syntax("environment=\"A=B\",x-y", 21), 0);
	CHECK_EQ_INT(opts_check_syntax("", 0), 0);
}

static void
test_drop_unknown(void)
{
	struct kb_keyopts o;
	char dropped[128], tiny[8];
	const char *s;
	char *out = NULL;

	/* grant-only unknown options are dropped: leaving them out narrows */
	s = "environment=\"LD_PRELOAD=/tmp/x.so\",restrict,Pty,"
	    "agent-forwarding,port-forwarding,user-rc,X11-forwarding,"
	    "command=\"id\",no-touch-required";
	CHECK_EQ_INT(opts_parse(s, strlen(s), KB_OPTS_DROP_UNKNOWN, &o,
	    dropped, sizeof(dropped)), 0);
	CHECK_EQ_STR(dropped, "environment,pty,agent-forwarding,"
	    "port-forwarding,user-rc,x11-forwarding,no-touch-required");
	CHECK_EQ_INT(opts_render(&o, &out), 0);
	CHECK_EQ_STR(out, "restrict,command=\"id\"");
	free(out);
	opts_clear(&o);

	/*
	 * an unknown option that may restrict the key must not be dropped:
	 * the whole string is refused (the key is then not served)
	 */
	expect_fail("restrict,permitopen=\"10.0.0.1:22\"", KB_OPTS_DROP_UNKNOWN,
	    KB_ERR_OPT_UNKNOWN);
	expect_fail("permitlisten=\"8080\"", KB_OPTS_DROP_UNKNOWN,
	    KB_ERR_OPT_UNKNOWN);
	expect_fail("environment=\"A=B\",Tunnel=\"0\"", KB_OPTS_DROP_UNKNOWN,
	    KB_ERR_OPT_UNKNOWN);
	expect_fail("cert-authority", KB_OPTS_DROP_UNKNOWN, KB_ERR_OPT_UNKNOWN);
	expect_fail("principals=\"a,b\"", KB_OPTS_DROP_UNKNOWN,
	    KB_ERR_OPT_UNKNOWN);
	expect_fail("expiry-time=\"20991231000000Z\"", KB_OPTS_DROP_UNKNOWN,
	    KB_ERR_OPT_UNKNOWN);
	expect_fail("no-pty,some-future-option", KB_OPTS_DROP_UNKNOWN,
	    KB_ERR_OPT_UNKNOWN);
	dropped[0] = 'x';
	CHECK_EQ_INT(opts_parse("environment=\"A=B\",cert-authority", 32,
	    KB_OPTS_DROP_UNKNOWN, &o, dropped, sizeof(dropped)),
	    KB_ERR_OPT_UNKNOWN);
	CHECK_EQ_STR(dropped, "");

	/* a small buffer keeps whole keywords only, always terminated */
	CHECK_EQ_INT(opts_parse(s, strlen(s), KB_OPTS_DROP_UNKNOWN, &o,
	    tiny, sizeof(tiny)), 0);
	CHECK(strlen(tiny) < sizeof(tiny));
	opts_clear(&o);
	CHECK_EQ_INT(opts_parse("pty,environment=\"A=B\"", 21,
	    KB_OPTS_DROP_UNKNOWN, &o, tiny, sizeof(tiny)), 0);
	CHECK_EQ_STR(tiny, "pty");
	opts_clear(&o);
	/* NULL buffer is fine */
	CHECK_EQ_INT(opts_parse(s, strlen(s), KB_OPTS_DROP_UNKNOWN, &o,
	    NULL, 0), 0);
	opts_clear(&o);

	/* a syntax error anywhere fails the whole string */
	s = "environment=\"A=B\",restrict,tunnel=\"1";
	expect_fail(s, KB_OPTS_DROP_UNKNOWN, KB_ERR_OPT_SYNTAX);
	dropped[0] = 'x';
	CHECK_EQ_INT(opts_parse(s, strlen(s), KB_OPTS_DROP_UNKNOWN, &o,
	    dropped, sizeof(dropped)), KB_ERR_OPT_SYNTAX);
	CHECK_EQ_STR(dropped, "");
	/* allow-listed options are still validated in drop mode */
	expect_fail("pty,from=\"10.0.0.1/8\"", KB_OPTS_DROP_UNKNOWN,
	    KB_ERR_OPT_FROM);
	expect_fail("no-pty,no-pty", KB_OPTS_DROP_UNKNOWN,
	    KB_ERR_OPT_DUPLICATE);
	expect_fail("x", 7, KB_ERR_INVALID_ARG);
}

static void
test_quoting(void)
{
	struct kb_keyopts o;

	/* \" is a quote; every other backslash is literal (sshd's rule) */
	CHECK_EQ_INT(parse("command=\"echo \\\"hi\\\"\"", KB_OPTS_STRICT, &o),
	    0);
	CHECK_EQ_STR(o.command, "echo \"hi\"");
	opts_clear(&o);
	CHECK_EQ_INT(parse("command=\"a\\b\\\\c\\n\"", KB_OPTS_STRICT, &o), 0);
	CHECK_EQ_STR(o.command, "a\\b\\\\c\\n");
	opts_clear(&o);
	CHECK_EQ_INT(parse("command=\"a\\\\\"b\"", KB_OPTS_STRICT, &o), 0);
	CHECK_EQ_STR(o.command, "a\\\"b");
	opts_clear(&o);
	/* commas and spaces inside quotes are part of the value */
	CHECK_EQ_INT(parse("command=\"a, b\",no-pty", KB_OPTS_STRICT, &o), 0);
	CHECK_EQ_STR(o.command, "a, b");
	CHECK_EQ_INT(o.flags, KB_OPT_NO_PTY);
	opts_clear(&o);

	expect_render("command=\"echo \\\"hi\\\"\"",
	    "command=\"echo \\\"hi\\\"\"");
	expect_render("command=\"a\\\\\"b\"", "command=\"a\\\\\"b\"");
	expect_render("command=\"printf '%s\\n' $HOME; exit\"",
	    "command=\"printf '%s\\n' $HOME; exit\"");

	/* values the renderer could not quote are refused */
	CHECK_EQ_INT(opts_valid_command("trailing\\"), KB_ERR_OPT_COMMAND);
	CHECK_EQ_INT(opts_valid_command(""), KB_ERR_OPT_COMMAND);
	CHECK_EQ_INT(opts_valid_command("a\nb"), KB_ERR_OPT_COMMAND);
	CHECK_EQ_INT(opts_valid_command("a\rb"), KB_ERR_OPT_COMMAND);
	CHECK_EQ_INT(opts_valid_command("a\tb"), KB_ERR_OPT_COMMAND);
	CHECK_EQ_INT(opts_valid_command("\033[0m"), KB_ERR_OPT_COMMAND);
	CHECK_EQ_INT(opts_valid_command("a\177"), KB_ERR_OPT_COMMAND);
	CHECK_EQ_INT(opts_valid_command("caf\303\251"), KB_ERR_OPT_COMMAND);
	CHECK_EQ_INT(opts_valid_command("\\"), KB_ERR_OPT_COMMAND);
	CHECK_EQ_INT(opts_valid_command("a \\\\"), KB_ERR_OPT_COMMAND);
	CHECK_EQ_INT(opts_valid_command("\\a"), 0);
	CHECK_EQ_INT(opts_valid_command("\""), 0);
	CHECK_EQ_INT(opts_valid_command("\\\""), 0);
	CHECK_EQ_INT(opts_valid_command(NULL), KB_ERR_INVALID_ARG);
	expect_fail("command=\"x\\\\\"", KB_OPTS_STRICT, KB_ERR_OPT_SYNTAX);
	expect_fail("command=\"\"", KB_OPTS_STRICT, KB_ERR_OPT_COMMAND);
}

static void
test_bounds(void)
{
	char *s, *v, *out = NULL;
	struct kb_keyopts o;
	size_t n;

	if ((s = malloc(KB_OPT_VALUE_MAX * 3)) == NULL ||
	    (v = malloc(KB_OPT_VALUE_MAX + 2)) == NULL)
		abort();
	/* a value of exactly KB_OPT_VALUE_MAX bytes, all quotes */
	memset(v, '"', KB_OPT_VALUE_MAX);
	v[KB_OPT_VALUE_MAX] = '\0';
	CHECK_EQ_INT(opts_valid_command(v), 0);
	memset(&o, 0, sizeof(o));
	o.command = v;
	CHECK_EQ_INT(opts_render(&o, &out), 0);
	CHECK(out != NULL && strlen(out) == 2 * KB_OPT_VALUE_MAX + 10);
	memset(&o, 0, sizeof(o));
	CHECK_EQ_INT(parse(out, KB_OPTS_STRICT, &o), 0);
	CHECK_EQ_STR(o.command, v);
	opts_clear(&o);
	free(out);
	/* one byte more is too long, whether parsed or validated */
	v[KB_OPT_VALUE_MAX] = 'x';
	v[KB_OPT_VALUE_MAX + 1] = '\0';
	CHECK_EQ_INT(opts_valid_command(v), KB_ERR_TOO_LONG);
	memcpy(s, "command=\"", 9);
	memset(s + 9, 'a', KB_OPT_VALUE_MAX + 1);
	s[9 + KB_OPT_VALUE_MAX + 1] = '"';
	n = 9 + KB_OPT_VALUE_MAX + 2;
	CHECK_EQ_INT(opts_parse(s, n, KB_OPTS_STRICT, &o, NULL, 0),
	    KB_ERR_TOO_LONG);
	memset(v, 'a', KB_OPT_VALUE_MAX + 1);
	CHECK_EQ_INT(opts_valid_from(v), KB_ERR_TOO_LONG);
	free(s);
	free(v);
	/* the whole string is bounded too */
	if ((s = malloc(20000)) == NULL)
		abort();
	memset(s, 'x', 20000);
	CHECK_EQ_INT(opts_check_syntax(s, 20000), KB_ERR_TOO_LONG);
	free(s);
}

static void
test_from(void)
{
	static const char *good[] = {
		"10.0.0.1", "10.0.0.0/8", "192.168.1.0/24", "0.0.0.0/0",
		"10.1.2.3/32", "*.example.com", "host-1.example.com",
		"!10.0.0.1,10.0.0.0/8", "2001:db8::/32", "::1", "::/0",
		"fe80::1/128", "10.0.0.?", "*", "a_b.example", "!*.bad,*",
		"2001:db8::1", "10.*.*.*", "::ffff:10.0.0.0/104",
	};
	static const char *bad[] = {
		"", ",", "10.0.0.1,", ",10.0.0.1", "a,,b", "!", "!,a",
		"10.0.0.1/33", "10.0.0.1/8", "10.0.0.0/08", "10.0.0.0/",
		"/8", "10.0.0.0/8/8", "10.0.0.*/8", "10.0.0/8",
		"256.0.0.0/8", "2001:db8::/129", "2001:db8::1/32",
		"fe80::1%eth0", "a b", "a\"b", "a\\b", "host;rm",
		"10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8x", "exa$mple",
		"10.0.0.0/1000", "h\303\251", "a\tb", "x=y", "(a)",
	};
	size_t i;
	int r;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if ((r = opts_valid_from(good[i])) != 0)
			fprintf(stderr, "from \"%s\": %s\n", good[i],
			    kb_strerror(r));
		CHECK_EQ_INT(r, 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if ((r = opts_valid_from(bad[i])) != KB_ERR_OPT_FROM)
			fprintf(stderr, "from \"%s\": got %d\n", bad[i], r);
		CHECK_EQ_INT(r, KB_ERR_OPT_FROM);
	}
	CHECK_EQ_INT(opts_valid_from(NULL), KB_ERR_INVALID_ARG);
	expect_fail("from=\"10.0.0.1/8\"", KB_OPTS_STRICT, KB_ERR_OPT_FROM);
	expect_fail("from=\"\"", KB_OPTS_STRICT, KB_ERR_OPT_FROM);
	expect_fail("from=\"a b\"", KB_OPTS_STRICT, KB_ERR_OPT_FROM);
	expect_render("from=\"!10.0.0.1,10.0.0.0/8,*.corp\"",
	    "from=\"!10.0.0.1,10.0.0.0/8,*.corp\"");
}

static void
test_expiry(void)
{
	struct kb_keyopts o;
	char *out = NULL;

	memset(&o, 0, sizeof(o));
	o.has_expiry = 1;
	o.expiry = 0;
	CHECK_EQ_INT(opts_render(&o, &out), 0);
	CHECK_EQ_STR(out, "expiry-time=\"19700101000000Z\"");
	free(out);
	o.expiry = 1700000000;
	o.flags = KB_OPT_RESTRICT;
	CHECK_EQ_INT(opts_render(&o, &out), 0);
	CHECK_EQ_STR(out, "restrict,expiry-time=\"20231114221320Z\"");
	free(out);
	o.expiry = 253402300799;	/* 9999-12-31T23:59:59Z */
	CHECK_EQ_INT(opts_render(&o, &out), 0);
	CHECK_EQ_STR(out, "restrict,expiry-time=\"99991231235959Z\"");
	free(out);
	out = (char *)1;
	o.expiry = 253402300800;
	CHECK_EQ_INT(opts_render(&o, &out), KB_ERR_TIME);
	CHECK(out == NULL);
	o.expiry = -1;
	CHECK_EQ_INT(opts_render(&o, &out), KB_ERR_TIME);
}

/* Every combination of flags, with and without values, round-trips. */
static void
test_round_trips(void)
{
	static const char *commands[] = {
		NULL, "uptime", "echo \"a b\"", "a\\\"b", "\"", "x\\y z",
		"rsync --server -e.Lsfx . /srv/backup/", "'\"'\"'",
	};
	static const char *froms[] = {
		NULL, "10.0.0.0/8", "!192.0.2.1,*.example.org,2001:db8::/48",
	};
	struct kb_keyopts o, back;
	char *out, *out2;
	unsigned flags;
	size_t c, f;
	int r;

	for (flags = 0; flags <= 0x7f; flags++) {
		for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
			for (f = 0; f < sizeof(froms) / sizeof(froms[0]); f++) {
				memset(&o, 0, sizeof(o));
				o.flags = flags;
				o.command = (char *)(uintptr_t)commands[c];
				o.from = (char *)(uintptr_t)froms[f];
				out = out2 = NULL;
				CHECK_EQ_INT(opts_render(&o, &out), 0);
				if (out == NULL)
					continue;
				r = parse(out, KB_OPTS_STRICT, &back);
				CHECK_EQ_INT(r, 0);
				CHECK_EQ_INT(back.flags, flags);
				CHECK_EQ_STR(back.command, commands[c]);
				CHECK_EQ_STR(back.from, froms[f]);
				CHECK_EQ_INT(opts_render(&back, &out2), 0);
				CHECK_EQ_STR(out2, out);
				opts_clear(&back);
				free(out);
				free(out2);
			}
		}
	}
	opts_clear(NULL);
}

int
main(void)
{
	test_allow_list();
	test_strict_refusals();
	test_syntax();
	test_drop_unknown();
	test_quoting();
	test_bounds();
	test_from();
	test_expiry();
	test_round_trips();
	return tap_done();
}
