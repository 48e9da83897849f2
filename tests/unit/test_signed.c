/*
 * test_signed.c - lib/signed.c: the keyboundSignature value, the records
 * entry attributes stand for (compared byte for byte with record_encode()
 * of the fields they should hold), trusted_signers, and verification of
 * whole entries with the fixture keys of tests/fixtures/sshsig/.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kb.h"
#include "directory.h"
#include "record.h"
#include "signed.h"
#include "sshkey.h"
#include "sshsig.h"
#include "sshsig_fixtures.h"
#include "tap.h"

#define T0	1767225600ULL	/* 2026-01-01T00:00:00Z */

/* The public key line of a fixture, without its newline. */
static char *
pub_line(const char *name)
{
	char path[128], *text, *nl;
	size_t len;

	snprintf(path, sizeof(path), FIX "%s.pub", name);
	if ((text = slurp(path, &len)) != NULL &&
	    (nl = strchr(text, '\n')) != NULL)
		*nl = '\0';
	return text;
}

/* ---- attributes as a search hands them over ---- */

#define MAXV	8
struct entry {
	struct kb_attr a[12];
	struct kb_val v[12][MAXV];
	size_t n;
};

static void
put(struct entry *e, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (strcmp(e->a[i].name, name) == 0)
			break;
	if (i == e->n) {
		e->a[i].name = name;
		e->a[i].vals = e->v[i];
		e->a[i].nvals = 0;
		e->n++;
	}
	e->v[i][e->a[i].nvals].bytes = value;
	e->v[i][e->a[i].nvals].len = strlen(value);
	e->a[i].nvals++;
}

/* record_encode() of fields, to compare with what an entry gives. */
static int
same_record(const unsigned char *got, size_t gotlen,
    const struct kb_record *want)
{
	unsigned char *w = NULL;
	size_t wlen = 0;
	int same;

	if (record_encode(want, &w, &wlen) != 0)
		return 0;
	same = wlen == gotlen && memcmp(w, got, wlen) == 0;
	free(w);
	return same;
}

static void
test_value(void)
{
	unsigned char sig[5] = { 1, 2, 3, 4, 5 }, *out = NULL;
	uint64_t serial = 0, at = 0;
	size_t outlen = 0;
	char *v = NULL;
	static const char *const bad[] = {
		"", "0 20260101000000Z AQIDBAU=", "01 20260101000000Z AQIDBAU=",
		"1  20260101000000Z AQIDBAU=", "1 20260101000000 AQIDBAU=",
		"1 20261301000000Z AQIDBAU=", "1 20260101000000Z",
		"1 20260101000000Z ", "1 20260101000000Z AQIDBAU",
		"1 20260101000000Z AQIDBAU= ", "1 20260101000000ZAQIDBAU=",
		"18446744073709551616 20260101000000Z AQIDBAU=",
		"-1 20260101000000Z AQIDBAU=", "x 20260101000000Z AQIDBAU=",
		"1 20260101000000.5Z AQIDBAU=",
	};
	size_t i;

	CHECK_EQ_INT(signed_value_format(42, T0, sig, sizeof(sig), &v), 0);
	CHECK_EQ_STR(v, "42 20260101000000Z AQIDBAU=");
	CHECK_EQ_INT(signed_value_parse(v, strlen(v), &serial, &at, &out,
	    &outlen), 0);
	CHECK_EQ_INT(serial, 42);
	CHECK_EQ_INT(at, T0);
	CHECK(outlen == sizeof(sig) && memcmp(out, sig, outlen) == 0);
	free(out);
	free(v);
	CHECK_EQ_INT(signed_value_parse("18446744073709551615 "
	    "20260101000000Z AQIDBAU=", 45, &serial, &at, &out, &outlen), 0);
	CHECK(serial == UINT64_MAX);
	free(out);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = (unsigned char *)"x";
		CHECK_EQ_INT(signed_value_parse(bad[i], strlen(bad[i]),
		    &serial, &at, &out, &outlen), KB_ERR_SIG_FORMAT);
		CHECK(out == NULL && outlen == 0);
	}
	CHECK_EQ_INT(signed_value_format(0, T0, sig, sizeof(sig), &v),
	    KB_ERR_INVALID_ARG);
	CHECK(v == NULL);
	CHECK_EQ_INT(signed_value_format(1, 0, sig, sizeof(sig), &v),
	    KB_ERR_INVALID_ARG);
	CHECK_EQ_INT(signed_value_format(1, T0, sig, 0, &v),
	    KB_ERR_INVALID_ARG);
}

static void
test_pair_record(const char *pub)
{
	struct entry e;
	struct kb_record want;
	struct kb_record_att atts[3];
	struct kb_key *k = NULL;
	unsigned char *rec = NULL;
	size_t len = 0;

	CHECK_EQ_INT(key_parse_line(pub, strlen(pub), 0, &k), 0);
	memset(&e, 0, sizeof(e));
	put(&e, "cn", "web-key");
	put(&e, "keyboundPublicKey", pub);
	put(&e, "keyboundAttachment", "bob@web-02");
	put(&e, "keyboundAttachment", "alice@+web");
	put(&e, "keyboundAttachment", "carol x@web-01");
	/* the earliest end of two; a user name with a space; a dangling one */
	put(&e, "keyboundAttachmentEnd", "alice@+web 20260301000000Z");
	put(&e, "keyboundAttachmentEnd", "alice@+web 20260201000000Z");
	put(&e, "keyboundAttachmentEnd", "carol x@web-01 20260102000000Z");
	put(&e, "keyboundAttachmentEnd", "gone@web-09 garbage");
	put(&e, "keyboundNotAfter", "20270101000000Z");
	put(&e, "keyboundKeyOptions", "no-pty,from=\"10.0.0.0/8\"");
	put(&e, "keyboundBlocked", "FALSE");
	put(&e, "keyboundTombstone", "web-02");	/* not signed */
	put(&e, "description", "not signed either");

	memset(&want, 0, sizeof(want));
	want.kind = KB_RECORD_PAIR;
	want.name = "web-key";
	want.serial = 7;
	want.signed_at = T0;
	want.key_blob = key_blob(k, &want.key_bloblen);
	atts[0].value = "alice@+web";
	atts[0].end = T0 + 31 * 86400;
	atts[1].value = "bob@web-02";
	atts[1].end = 0;
	atts[2].value = "carol x@web-01";
	atts[2].end = T0 + 86400;
	want.atts = atts;
	want.natts = 3;
	want.not_after = T0 + 365 * 86400;
	want.options = "no-pty,from=\"10.0.0.0/8\"";
	want.blocked = 0;
	CHECK_EQ_INT(signed_pair_record(e.a, e.n, 7, T0, &rec, &len), 0);
	CHECK(same_record(rec, len, &want));
	free(rec);

	/* blocked: anything but an exact FALSE */
	e.v[6][0].bytes = "TRUE";
	e.v[6][0].len = 4;
	want.blocked = 1;
	CHECK_EQ_INT(signed_pair_record(e.a, e.n, 7, T0, &rec, &len), 0);
	CHECK(same_record(rec, len, &want));
	free(rec);
	e.v[6][0].bytes = "false";
	e.v[6][0].len = 5;
	CHECK_EQ_INT(signed_pair_record(e.a, e.n, 7, T0, &rec, &len), 0);
	CHECK(same_record(rec, len, &want));
	free(rec);
	e.v[6][0].bytes = "FALSE";
	e.v[6][0].len = 5;

	/* a bad end naming an attachment refuses the record */
	e.v[3][0].bytes = "alice@+web 2026030100000Z";
	e.v[3][0].len = strlen(e.v[3][0].bytes);
	rec = (unsigned char *)"x";
	CHECK_EQ_INT(signed_pair_record(e.a, e.n, 7, T0, &rec, &len),
	    KB_ERR_RECORD);
	CHECK(rec == NULL && len == 0);
	e.v[3][0].bytes = "alice@+web 20260301000000Z";
	e.v[3][0].len = strlen(e.v[3][0].bytes);

	/* an attachment holding a NUL refuses the record */
	e.v[2][1].bytes = "alice@+web\0x";
	e.v[2][1].len = 12;
	CHECK_EQ_INT(signed_pair_record(e.a, e.n, 7, T0, &rec, &len),
	    KB_ERR_RECORD);
	CHECK(rec == NULL && len == 0);
	e.v[2][1].bytes = "alice@+web";
	e.v[2][1].len = 10;

	/* a second cn, key, not-after, options or blocked value */
	put(&e, "cn", "other");
	CHECK_EQ_INT(signed_pair_record(e.a, e.n, 7, T0, &rec, &len),
	    KB_ERR_RECORD);
	e.a[0].nvals = 1;
	put(&e, "keyboundNotAfter", "20280101000000Z");
	CHECK_EQ_INT(signed_pair_record(e.a, e.n, 7, T0, &rec, &len),
	    KB_ERR_RECORD);
	e.a[4].nvals = 1;
	put(&e, "keyboundBlocked", "FALSE");
	CHECK_EQ_INT(signed_pair_record(e.a, e.n, 7, T0, &rec, &len),
	    KB_ERR_RECORD);
	e.a[6].nvals = 1;
	put(&e, "keyboundKeyOptions", "no-pty");
	CHECK_EQ_INT(signed_pair_record(e.a, e.n, 7, T0, &rec, &len),
	    KB_ERR_RECORD);
	e.a[5].nvals = 1;
	/* a duplicate attachment */
	put(&e, "keyboundAttachment", "bob@web-02");
	CHECK_EQ_INT(signed_pair_record(e.a, e.n, 7, T0, &rec, &len),
	    KB_ERR_RECORD);
	e.a[2].nvals = 3;
	/* no key, no cn */
	e.a[1].nvals = 0;
	CHECK_EQ_INT(signed_pair_record(e.a, e.n, 7, T0, &rec, &len),
	    KB_ERR_RECORD);
	e.a[1].nvals = 1;
	e.a[0].nvals = 0;
	CHECK_EQ_INT(signed_pair_record(e.a, e.n, 7, T0, &rec, &len),
	    KB_ERR_RECORD);
	e.a[0].nvals = 1;
	/* attribute names are matched without regard to case */
	e.a[0].name = "CN";
	e.a[5].name = "KEYBOUNDKEYOPTIONS";
	want.blocked = 0;
	CHECK_EQ_INT(signed_pair_record(e.a, e.n, 7, T0, &rec, &len), 0);
	CHECK(same_record(rec, len, &want));
	free(rec);
	key_free(k);
}

/* KB_RECORD_MAX_ITEMS members make a record, one more does not. */
static void
test_group_bound(struct entry *e)
{
	static char names[KB_RECORD_MAX_ITEMS + 1][8];
	struct kb_val *many;
	const struct kb_val *saved = e->a[1].vals;
	unsigned char *rec = NULL;
	size_t i, len = 0;

	if ((many = calloc(KB_RECORD_MAX_ITEMS + 1, sizeof(*many))) == NULL) {
		CHECK(0);
		return;
	}
	for (i = 0; i <= KB_RECORD_MAX_ITEMS; i++) {
		snprintf(names[i], sizeof(names[i]), "m%05zu", i);
		many[i].bytes = names[i];
		many[i].len = strlen(names[i]);
	}
	e->a[1].vals = many;
	e->a[1].nvals = KB_RECORD_MAX_ITEMS;
	CHECK_EQ_INT(signed_group_record(e->a, e->n, 3, T0, &rec, &len), 0);
	free(rec);
	e->a[1].nvals = KB_RECORD_MAX_ITEMS + 1;
	CHECK_EQ_INT(signed_group_record(e->a, e->n, 3, T0, &rec, &len),
	    KB_ERR_RECORD);
	e->a[1].vals = saved;
	e->a[1].nvals = 2;
	free(many);
}

static void
test_group_record(void)
{
	struct entry e;
	struct kb_record want;
	const char *members[] = { "db-01", "web-01" };
	unsigned char *rec = NULL;
	size_t len = 0;

	memset(&e, 0, sizeof(e));
	put(&e, "cn", "web");
	put(&e, "keyboundMember", "web-01");
	put(&e, "keyboundMember", "db-01");
	put(&e, "keyboundTombstone", "web-09");
	memset(&want, 0, sizeof(want));
	want.kind = KB_RECORD_GROUP;
	want.name = "web";
	want.serial = 3;
	want.signed_at = T0;
	want.members = members;
	want.nmembers = 2;
	CHECK_EQ_INT(signed_group_record(e.a, e.n, 3, T0, &rec, &len), 0);
	CHECK(same_record(rec, len, &want));
	free(rec);
	/* no members is a group too */
	e.a[1].nvals = 0;
	want.nmembers = 0;
	CHECK_EQ_INT(signed_group_record(e.a, e.n, 3, T0, &rec, &len), 0);
	CHECK(same_record(rec, len, &want));
	free(rec);
	put(&e, "cn", "db");
	CHECK_EQ_INT(signed_group_record(e.a, e.n, 3, T0, &rec, &len),
	    KB_ERR_RECORD);
	e.a[0].nvals = 1;
	/* a member holding a NUL */
	e.a[1].nvals = 2;
	e.v[1][1].bytes = "db\0-01";
	e.v[1][1].len = 6;
	CHECK_EQ_INT(signed_group_record(e.a, e.n, 3, T0, &rec, &len),
	    KB_ERR_RECORD);
	CHECK(rec == NULL && len == 0);
	e.v[1][1].bytes = "db-01";
	e.v[1][1].len = 5;
	test_group_bound(&e);
}

static void
test_signers(const char *ed, const char *ec, const char *rsa)
{
	struct kb_signers *s = NULL;
	char text[8192], path[] = "/tmp/kb-test-signers.XXXXXX";
	unsigned line = 0;
	int fd;

	snprintf(text, sizeof(text), "# trusted\n\nadmin %s\nbackup %s "
	    "a comment\nrsa-admin %s", ed, ec, rsa);
	CHECK_EQ_INT(signers_parse(text, strlen(text), &s, &line), 0);
	CHECK_EQ_INT(line, 0);
	CHECK_EQ_INT(signers_count(s), 3);
	CHECK_EQ_STR(signers_name(s, 0), "admin");
	CHECK_EQ_STR(signers_name(s, 2), "rsa-admin");
	CHECK(signers_name(s, 3) == NULL);
	signers_free(s);

	/* the same name twice, the same key twice */
	snprintf(text, sizeof(text), "admin %s\nadmin %s\n", ed, ec);
	CHECK_EQ_INT(signers_parse(text, strlen(text), &s, &line),
	    KB_ERR_SIGNERS);
	CHECK(s == NULL);
	CHECK_EQ_INT(line, 2);
	snprintf(text, sizeof(text), "admin %s\nother %s\n", ed, ed);
	CHECK_EQ_INT(signers_parse(text, strlen(text), &s, &line),
	    KB_ERR_SIGNERS);
	CHECK_EQ_INT(line, 2);
	/* bad lines, each refusing the whole text */
	snprintf(text, sizeof(text), "admin %s\n%s\n", ed, ec);
	CHECK_EQ_INT(signers_parse(text, strlen(text), &s, &line),
	    KB_ERR_SIGNERS);
	CHECK_EQ_INT(line, 2);
	snprintf(text, sizeof(text), "admin\tx %s\n", ed);
	CHECK_EQ_INT(signers_parse(text, strlen(text), &s, &line),
	    KB_ERR_SIGNERS);
	snprintf(text, sizeof(text), " admin %s\n", ed);
	CHECK_EQ_INT(signers_parse(text, strlen(text), &s, &line),
	    KB_ERR_SIGNERS);
	snprintf(text, sizeof(text), "admin ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n");
	CHECK_EQ_INT(signers_parse(text, strlen(text), &s, &line),
	    KB_ERR_SIGNERS);
	snprintf(text, sizeof(text), "admin %s\r\n", ed);
	CHECK_EQ_INT(signers_parse(text, strlen(text), &s, &line),
	    KB_ERR_SIGNERS);
	CHECK_EQ_INT(signers_parse("# nobody\n\n", 10, &s, &line),
	    KB_ERR_SIGNERS);
	CHECK_EQ_INT(signers_parse("", 0, &s, &line), KB_ERR_SIGNERS);
	CHECK_EQ_INT(signers_parse("a\0b", 3, &s, &line), KB_ERR_SIGNERS);

	/* signers_load: root's file, writable by no one else */
	snprintf(text, sizeof(text), "admin %s\n", ed);
	if ((fd = mkstemp(path)) == -1 ||
	    write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		CHECK(0);
		return;
	}
	fchmod(fd, 0644);
	if (geteuid() == 0) {
		CHECK_EQ_INT(signers_load(path, 1, &s, &line), 0);
		signers_free(s);
		CHECK_EQ_INT(fchmod(fd, 0664), 0);
		CHECK_EQ_INT(signers_load(path, 1, &s, &line),
		    KB_ERR_CONFIG_PERM);
		fchmod(fd, 0644);
		CHECK_EQ_INT(fchown(fd, 65534, 65534), 0);
	}
	/* not root's (a user's, or nobody's) */
	CHECK_EQ_INT(signers_load(path, 1, &s, &line), KB_ERR_CONFIG_PERM);
	CHECK(s == NULL);
	CHECK_EQ_INT(signers_load(path, 0, &s, &line), 0);
	signers_free(s);
	close(fd);
	unlink(path);
	CHECK_EQ_INT(signers_load(path, 1, &s, &line), KB_ERR_CONFIG_OPEN);
	CHECK_EQ_INT(signers_load("/", 1, &s, &line), KB_ERR_CONFIG_PERM);
}

/* A signed pair entry: its attributes and its keyboundSignature value. */
static void
test_entry_verify(const char *ed, const char *ec)
{
	struct kb_privkey *admin = priv_fixture("ed25519");
	struct kb_privkey *rogue = priv_fixture("ecdsa");
	struct kb_signers *s = NULL;
	struct kb_signed_info si;
	struct entry e;
	unsigned char *rec = NULL, *sig = NULL, *sig2 = NULL;
	size_t len = 0, siglen = 0, sig2len = 0;
	char text[2048], *val = NULL, *val2 = NULL;

	CHECK(admin != NULL && rogue != NULL);
	if (admin == NULL || rogue == NULL)
		return;
	snprintf(text, sizeof(text), "admin %s\n", ed);
	CHECK_EQ_INT(signers_parse(text, strlen(text), &s, NULL), 0);
	memset(&e, 0, sizeof(e));
	put(&e, "cn", "k1");
	put(&e, "keyboundPublicKey", ec);
	put(&e, "keyboundAttachment", "alice@web-01");
	CHECK_EQ_INT(signed_pair_record(e.a, e.n, 5, T0, &rec, &len), 0);
	CHECK_EQ_INT(sshsig_sign(admin, rec, len, &sig, &siglen), 0);
	CHECK_EQ_INT(signed_value_format(5, T0, sig, siglen, &val), 0);

	/* signers_verify: the trusted key, an untrusted one */
	CHECK_EQ_INT(signers_verify(s, rec, len, sig, siglen, NULL), 0);
	CHECK_EQ_INT(sshsig_sign(rogue, rec, len, &sig2, &sig2len), 0);
	CHECK_EQ_INT(signers_verify(s, rec, len, sig2, sig2len, NULL),
	    KB_ERR_SIG_UNTRUSTED);
	rec[len - 1] ^= 1;
	CHECK_EQ_INT(signers_verify(s, rec, len, sig, siglen, NULL),
	    KB_ERR_SIG_BAD);
	rec[len - 1] ^= 1;

	/* unsigned, then signed */
	CHECK_EQ_INT(signed_entry_verify(s, KB_RECORD_PAIR, e.a, e.n, &si),
	    KB_ERR_SIG_MISSING);
	put(&e, KB_ATTR_SIGNATURE, val);
	memset(&si, 0xff, sizeof(si));
	CHECK_EQ_INT(signed_entry_verify(s, KB_RECORD_PAIR, e.a, e.n, &si),
	    0);
	CHECK_EQ_INT(si.serial, 5);
	CHECK_EQ_INT(si.signed_at, T0);
	CHECK_EQ_STR(si.signer, "admin");
	CHECK(si.reclen == len && memcmp(si.record, rec, len) == 0);
	signed_info_clear(&si);
	/* the wrong kind */
	CHECK_EQ_INT(signed_entry_verify(s, KB_RECORD_GROUP, e.a, e.n, &si),
	    KB_ERR_SIG_BAD);
	/* an attachment added after signing */
	put(&e, "keyboundAttachment", "mallory@web-01");
	CHECK_EQ_INT(signed_entry_verify(s, KB_RECORD_PAIR, e.a, e.n, &si),
	    KB_ERR_SIG_BAD);
	CHECK(si.record == NULL && si.sig == NULL);
	e.a[2].nvals = 1;
	/* another serial in the value than in the record */
	val[0] = '6';
	CHECK_EQ_INT(signed_entry_verify(s, KB_RECORD_PAIR, e.a, e.n, &si),
	    KB_ERR_SIG_BAD);
	val[0] = '5';
	/* two signature values */
	put(&e, KB_ATTR_SIGNATURE, val);
	CHECK_EQ_INT(signed_entry_verify(s, KB_RECORD_PAIR, e.a, e.n, &si),
	    KB_ERR_SIG_FORMAT);
	e.a[3].nvals = 1;
	/* signed by a key no host trusts */
	CHECK_EQ_INT(signed_value_format(5, T0, sig2, sig2len, &val2), 0);
	e.v[3][0].bytes = val2;
	e.v[3][0].len = strlen(val2);
	CHECK_EQ_INT(signed_entry_verify(s, KB_RECORD_PAIR, e.a, e.n, &si),
	    KB_ERR_SIG_UNTRUSTED);
	CHECK_EQ_INT(signed_entry_verify(NULL, KB_RECORD_PAIR, e.a, e.n,
	    &si), KB_ERR_SIG_UNTRUSTED);

	signers_free(s);
	sshsig_privkey_free(admin);
	sshsig_privkey_free(rogue);
	free(rec);
	free(sig);
	free(sig2);
	free(val);
	free(val2);
}

int
main(void)
{
	char *ed = pub_line("ed25519"), *ec = pub_line("ecdsa"),
	    *rsa = pub_line("rsa");

	CHECK(ed != NULL && ec != NULL && rsa != NULL);
	if (ed == NULL || ec == NULL || rsa == NULL)
		return tap_done();
	test_value();
	test_pair_record(ec);
	test_group_record();
	test_signers(ed, ec, rsa);
	test_entry_verify(ed, ec);
	free(ed);
	free(ec);
	free(rsa);
	return tap_done();
}
