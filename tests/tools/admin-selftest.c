/*
 * admin-selftest.c - unit checks of the admin CLI's pure parts (JSON and
 * terminal escaping, time parsing, key generation, bcrypt_pbkdf, the
 * serial and tombstone rules of signed entries, the entry image a
 * signed write signs), built
 * from the admin sources themselves.  Run by tests/integration/admin_unit.sh
 * (plain, ASan/UBSan and valgrind builds).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "../../admin/output.c"
#include "../../admin/timeutil.c"
#include "../../admin/keygen.c"
#include "../../admin/bcrypt_pbkdf.c"
#include "../../admin/tombstone.c"
#include "../../admin/image.c"

#include "lookup.h"
#include "sshkey.h"
#include "../unit/tap.h"

/* Run fn's output into a string. */
static char *
capture_json(const char *s, size_t len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &size)) == NULL)
		return NULL;
	json_string(f, s, len);
	fclose(f);
	return buf;
}

static char *
capture_text(const char *s, size_t len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &size)) == NULL)
		return NULL;
	text_safe(f, s, len);
	fclose(f);
	return buf;
}

static void
check_json(const char *in, size_t len, const char *want)
{
	char *got = capture_json(in, len);

	CHECK_EQ_STR(got, want);
	free(got);
}

static void
check_text(const char *in, size_t len, const char *want)
{
	char *got = capture_text(in, len);

	CHECK_EQ_STR(got, want);
	free(got);
}

static void
test_json(void)
{
	check_json("plain", 5, "\"plain\"");
	check_json("", 0, "\"\"");
	check_json("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	check_json("l1\nl2\tx", 7, "\"l1\\nl2\\tx\"");
	check_json("\r\x01\x1f\x7f", 4, "\"\\u000d\\u0001\\u001f\\u007f\"");
	check_json("a\0b", 3, "\"a\\u0000b\"");
	check_json("w\xc3\xb6rld", 6, "\"w\xc3\xb6rld\"");
	check_json("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");
	check_json("\xf0\x9f\x94\x91", 4, "\"\xf0\x9f\x94\x91\"");
	/* invalid UTF-8: lone continuation, overlong, surrogate, too big */
	check_json("\x80", 1, "\"\\ufffd\"");
	check_json("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
	check_json("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
	check_json("\xf4\x90\x80\x80", 4,
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	check_json("\xc3", 1, "\"\\ufffd\"");
	check_json("\xe2\x80\xa8", 3, "\"\\u2028\"");
}

static void
test_text(void)
{
	check_text("alice@web1", 10, "alice@web1");
	check_text("a\nb", 3, "a\\x0ab");
	check_text("\x1b[31mred", 8, "\\x1b[31mred");
	check_text("\xc2\x9b", 2, "\\xc2\\x9b");		/* C1 CSI */
	check_text("w\xc3\xb6rld", 6, "w\xc3\xb6rld");
	check_text("\xe2\x80\xae", 3, "\\xe2\\x80\\xae");	/* RLO */
	check_text("\xff", 1, "\\xff");
	CHECK_EQ_INT(text_safe_width("w\xc3\xb6rld", 6), 5);
	CHECK_EQ_INT(text_safe_width("a\n", 2), 5);
}

static void
check_user_time(const char *s, long long want)
{
	time_t t = 1;
	int r;

	r = time_parse_user(s, &t);
	if (want < 0) {
		CHECK_EQ_INT(r, KB_ERR_TIME);
		CHECK_EQ_INT(t, 0);
	} else {
		CHECK_EQ_INT(r, 0);
		CHECK_EQ_INT(t, want);
	}
}

static void
check_gtime(const char *s, long long want)
{
	time_t t = 1;
	int r;

	r = lookup_parse_gentime(s, strlen(s), &t);
	if (want < 0) {
		CHECK_EQ_INT(r, KB_ERR_TIME);
	} else {
		CHECK_EQ_INT(r, 0);
		CHECK_EQ_INT(t, want);
	}
}

static void
test_time(void)
{
	char buf[TIME_RFC3339_LEN], g[TIME_GTIME_LEN];

	check_user_time("2030-01-02T03:04:05Z", 1893553445LL);
	check_user_time("20300102030405Z", 1893553445LL);
	check_user_time("1970-01-01T00:00:00Z", 0);
	check_user_time("2024-02-29T23:59:59Z", 1709251199LL);
	check_user_time("2023-02-29T00:00:00Z", -1);
	check_user_time("2030-13-01T00:00:00Z", -1);
	check_user_time("2030-00-01T00:00:00Z", -1);
	check_user_time("2030-01-32T00:00:00Z", -1);
	check_user_time("2030-01-01T24:00:00Z", -1);
	check_user_time("2030-01-01T00:60:00Z", -1);
	check_user_time("2030-01-01T00:00:60Z", -1);
	check_user_time("2030-01-01T00:00:00", -1);
	check_user_time("2030-01-01 00:00:00Z", -1);
	check_user_time("2030-01-01T00:00:00+01:00", -1);
	check_user_time("2030010100000Z", -1);
	check_user_time("203001010000000Z", -1);
	check_user_time("20300101000000z", -1);
	check_user_time("+030-01-01T00:00:00Z", -1);
	check_user_time("1969-12-31T23:59:59Z", -1);
	check_user_time("", -1);
	check_user_time("never", -1);
	/*
	 * Stored times are read exactly as keybound-keys reads them: a
	 * keyboundNotAfter it would refuse (offsets, short forms) is shown
	 * as unreadable, never as a time the login path does not apply.
	 */
	check_gtime("20300102030405Z", 1893553445LL);
	check_gtime("20300102030405.123Z", 1893553445LL);
	check_gtime("20300102040405+0100", -1);
	check_gtime("20300102020405-0100", -1);
	check_gtime("2030010203Z", -1);
	check_gtime("20300102030405", -1);
	check_gtime("20300102030405.Z", -1);
	check_gtime("20300102030405Zx", -1);
	check_gtime("2030010203040Z", -1);
	check_gtime("20300102030405+01", -1);
	CHECK_EQ_INT(time_format_rfc3339(1893553445, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "2030-01-02T03:04:05Z");
	CHECK_EQ_INT(lookup_format_gentime(1893553445, g, sizeof(g)), 0);
	CHECK_EQ_STR(g, "20300102030405Z");
	CHECK_EQ_INT(time_format_rfc3339(1893553445, buf, 5), KB_ERR_TIME);
	CHECK_EQ_INT(lookup_format_gentime(1893553445, g, 5), KB_ERR_TIME);
}

/* Generate, parse the public line with the key model, serialise. */
static void
check_keygen(enum keygen_type type, unsigned bits, const char *want_type,
    unsigned want_bits, const char *want_pem)
{
	struct keygen *k = NULL;
	struct kb_key *key = NULL;
	unsigned char *pem = NULL;
	size_t pemlen = 0;
	char *line = NULL;

	CHECK_EQ_INT(keygen_generate(type, bits, &k), 0);
	if (k == NULL)
		return;
	CHECK_EQ_INT(keygen_public_line(k, &line), 0);
	CHECK(line != NULL && strncmp(line, want_type, strlen(want_type)) == 0);
	CHECK_EQ_INT(key_parse_line(line, strlen(line), 0, &key), 0);
	if (key != NULL) {
		CHECK_EQ_STR(key_type_name(key), want_type);
		CHECK_EQ_INT(key_bits(key), want_bits);
	}
	CHECK_EQ_INT(keygen_private_pem(k, "unit", NULL, 0, &pem, &pemlen), 0);
	CHECK(pem != NULL && pemlen > strlen(want_pem) &&
	    memcmp(pem, want_pem, strlen(want_pem)) == 0);
	if (pem != NULL) {
		OPENSSL_cleanse(pem, pemlen);
		free(pem);
	}
	pem = NULL;
	CHECK_EQ_INT(keygen_private_pem(k, "unit", "pass", 4, &pem, &pemlen),
	    0);
	CHECK(pem != NULL && pemlen > 0);
	free(pem);
	key_free(key);
	free(line);
	keygen_free(k);
}

static void
test_keygen(void)
{
	unsigned bits;

	bits = 0;
	CHECK_EQ_INT(keygen_check_bits(KEYGEN_RSA, &bits), 0);
	CHECK_EQ_INT(bits, 3072);
	bits = 0;
	CHECK_EQ_INT(keygen_check_bits(KEYGEN_ECDSA, &bits), 0);
	CHECK_EQ_INT(bits, 256);
	bits = 0;
	CHECK_EQ_INT(keygen_check_bits(KEYGEN_ED25519, &bits), 0);
	CHECK_EQ_INT(bits, 256);
	bits = 1024;
	CHECK_EQ_INT(keygen_check_bits(KEYGEN_RSA, &bits), KB_ERR_INVALID_ARG);
	bits = 16385;
	CHECK_EQ_INT(keygen_check_bits(KEYGEN_RSA, &bits), KB_ERR_INVALID_ARG);
	bits = 16384;
	CHECK_EQ_INT(keygen_check_bits(KEYGEN_RSA, &bits), 0);
	bits = 512;
	CHECK_EQ_INT(keygen_check_bits(KEYGEN_ECDSA, &bits),
	    KB_ERR_INVALID_ARG);
	bits = 384;
	CHECK_EQ_INT(keygen_check_bits(KEYGEN_ED25519, &bits),
	    KB_ERR_INVALID_ARG);
	check_keygen(KEYGEN_ED25519, 0, "ssh-ed25519", 256,
	    OSSH_BEGIN);
	check_keygen(KEYGEN_ECDSA, 256, "ecdsa-sha2-nistp256", 256,
	    "-----BEGIN PRIVATE KEY-----\n");
	check_keygen(KEYGEN_ECDSA, 384, "ecdsa-sha2-nistp384", 384,
	    "-----BEGIN PRIVATE KEY-----\n");
	check_keygen(KEYGEN_ECDSA, 521, "ecdsa-sha2-nistp521", 521,
	    "-----BEGIN PRIVATE KEY-----\n");
	if (getenv("KB_UNDER_VALGRIND") == NULL)
		check_keygen(KEYGEN_RSA, 2048, "ssh-rsa", 2048,
		    "-----BEGIN PRIVATE KEY-----\n");
}

static void
test_bcrypt(void)
{
	struct bf_state st;
	unsigned char k1[48], k2[48], salt[16];

	/* Blowfish's initial state: first and last words of pi's digits */
	CHECK_EQ_INT(bf_initstate(&st), 0);
	CHECK_EQ_INT(st.p[0], 0x243f6a88);
	CHECK_EQ_INT(st.p[17], 0x8979fb1b);
	CHECK_EQ_INT(st.s[0][0], 0xd1310ba6);
	CHECK_EQ_INT(st.s[3][255], 0x3ac372e6);
	memset(salt, 7, sizeof(salt));
	CHECK_EQ_INT(bcrypt_pbkdf("pw", 2, salt, sizeof(salt), k1,
	    sizeof(k1), 2), 0);
	CHECK_EQ_INT(bcrypt_pbkdf("pw", 2, salt, sizeof(salt), k2,
	    sizeof(k2), 2), 0);
	CHECK(memcmp(k1, k2, sizeof(k1)) == 0);
	CHECK_EQ_INT(bcrypt_pbkdf("pW", 2, salt, sizeof(salt), k2,
	    sizeof(k2), 2), 0);
	CHECK(memcmp(k1, k2, sizeof(k1)) != 0);
	CHECK_EQ_INT(bcrypt_pbkdf("", 0, salt, sizeof(salt), k2, sizeof(k2),
	    2), KB_ERR_INVALID_ARG);
	CHECK_EQ_INT(bcrypt_pbkdf("pw", 2, salt, sizeof(salt), k2, sizeof(k2),
	    0), KB_ERR_INVALID_ARG);
	CHECK_EQ_INT(bcrypt_pbkdf("pw", 2, salt, sizeof(salt), k2, 0, 2),
	    KB_ERR_INVALID_ARG);
}

static void
check_serial_at(const char *old, uint64_t now_ms, uint64_t want,
    int want_reset, int want_r)
{
	uint64_t next = 99;
	int reset = 9;

	CHECK_EQ_INT(sign_next_serial(old, old ? strlen(old) : 0, now_ms,
	    &next, &reset), want_r);
	if (want_r == 0) {
		CHECK(next == want);
		CHECK_EQ_INT(reset, want_reset);
	}
}

/* Without the clock's part (now 0): the counting alone. */
static void
check_serial(const char *old, uint64_t want, int want_reset, int want_r)
{
	check_serial_at(old, 0, want, want_reset, want_r);
}

static void
test_signing_rules(void)
{
	/* at least the time in ms: a name made again is newer than before */
	check_serial_at(NULL, 1764669600000ULL, 1764669600000ULL, 0, 0);
	check_serial_at("41 20261202093000Z AAAA", 1764669600000ULL,
	    1764669600000ULL, 0, 0);
	check_serial_at("1764669600000 20261202093000Z AAAA",
	    1764669600000ULL, 1764669600001ULL, 0, 0);
	check_serial_at("1764669600007 20261202093000Z AAAA",
	    1764669600003ULL, 1764669600008ULL, 0, 0);	/* a clock behind */
	check_serial_at("garbage", 1764669600000ULL, 1764669600000ULL, 1, 0);
	/* the next serial: +1, 1 for none, damaged values keep counting */
	check_serial(NULL, 1, 0, 0);
	check_serial("1 20261202093000Z AAAA", 2, 0, 0);
	check_serial("41 20261202093000Z AAAA", 42, 0, 0);
	check_serial("41 notatime AAAA", 42, 0, 0);
	check_serial("41", 42, 0, 0);
	check_serial("41x 20261202093000Z AAAA", 1, 1, 0);
	check_serial("garbage", 1, 1, 0);
	check_serial("", 1, 1, 0);
	check_serial("0 20261202093000Z AAAA", 1, 1, 0);
	check_serial("1844674407370955160 20261202093000Z AAAA",
	    1844674407370955161ULL, 0, 0);
	/* the largest serials: the next one, then none left */
	check_serial("18446744073709551614 20261202093000Z AAAA",
	    18446744073709551615ULL, 0, 0);
	check_serial("18446744073709551614 x", 18446744073709551615ULL, 0, 0);
	check_serial("18446744073709551615 20261202093000Z AAAA", 0, 0,
	    KB_ERR_SIG_FORMAT);
	/* past what a serial can hold: started anew, warned */
	check_serial("18446744073709551616 x", 1, 1, 0);
	check_serial("99999999999999999999 x", 1, 1, 0);

	/* a tombstoned attachment goes once end + max_age has passed */
	CHECK_EQ_INT(tombstone_expired(1000, 1000, 3600), 0);
	CHECK_EQ_INT(tombstone_expired(1000, 4600, 3600), 0);
	CHECK_EQ_INT(tombstone_expired(1000, 4601, 3600), 1);
	CHECK_EQ_INT(tombstone_expired(5000, 4601, 0), 0);	/* not ended */
	CHECK_EQ_INT(tombstone_expired(1000, 1001, 0), 1);
	/* a group's once its current signature is older than max_age */
	CHECK_EQ_INT(group_tombstones_expired(1000, 4600, 3600), 0);
	CHECK_EQ_INT(group_tombstones_expired(1000, 4601, 3600), 1);
	CHECK_EQ_INT(group_tombstones_expired(0, 999999, 3600), 0);
}

/* The image as "attr=v1|v2;attr=..." in attribute order. */
static char *
image_text(struct entry_image *im)
{
	const struct kb_attr *v = image_view(im);
	char *buf = NULL;
	size_t size = 0, i, j;
	FILE *f;

	if ((f = open_memstream(&buf, &size)) == NULL)
		return NULL;
	for (i = 0; v != NULL && i < im->nattrs; i++) {
		fprintf(f, "%s%s=", i ? ";" : "", v[i].name);
		for (j = 0; j < v[i].nvals; j++)
			fprintf(f, "%s%.*s", j ? "|" : "", (int)v[i].vals[j].len,
			    v[i].vals[j].bytes);
	}
	fclose(f);
	return buf;
}

static void
check_image(struct entry_image *im, const struct kb_mod *m, size_t n,
    const char *want)
{
	char *t;

	CHECK_EQ_INT(image_apply(im, m, n), 0);
	t = image_text(im);
	CHECK_EQ_STR(t, want);
	free(t);
}

static void
test_image(void)
{
	static const struct kb_val oc[] = { { "top", 3 },
	    { "keyboundKeyPair", 15 } };
	static const struct kb_val cn[] = { { "Web", 3 } };
	static const struct kb_val at[] = { { "a@h1", 4 }, { "b@h2", 4 } };
	static const struct kb_val at2[] = { { "c@h3", 4 } };
	const struct kb_attr attrs[] = {
		{ "objectClass", oc, 2 }, { "cn", cn, 1 },
		{ "keyboundAttachment", at, 2 },
		{ "KEYBOUNDATTACHMENT", at2, 1 },	/* merged */
	};
	const char *add1[] = { "d@h4", "a@h1", NULL };
	const char *del1[] = { "b@h2", "x@h9", NULL };
	const char *rep1[] = { "TRUE", NULL };
	const char *up[] = { "A@H1", NULL };
	const char *ocv[] = { "KEYBOUNDKEYPAIR", NULL };
	const char *cnv[] = { "WEB", NULL };
	struct kb_mod m[3];
	struct entry_image im;
	char *t;

	CHECK_EQ_INT(image_from_attrs(&im, attrs, 4), 0);
	t = image_text(&im);
	CHECK_EQ_STR(t, "objectClass=top|keyboundKeyPair;cn=Web;"
	    "keyboundAttachment=a@h1|b@h2|c@h3");
	free(t);
	CHECK_EQ_INT(admin_entry_kind(image_view(&im), im.nattrs),
	    KB_RECORD_PAIR);
	/* add: a present value stays single; delete: absent ones ignored */
	m[0] = (struct kb_mod){ KB_MOD_ADD, "keyboundattachment", add1 };
	m[1] = (struct kb_mod){ KB_MOD_DELETE, "keyboundAttachment", del1 };
	check_image(&im, m, 2, "objectClass=top|keyboundKeyPair;cn=Web;"
	    "keyboundAttachment=a@h1|c@h3|d@h4");
	/* keybound values are case-exact; cn and objectClass are not */
	m[0] = (struct kb_mod){ KB_MOD_ADD, "keyboundAttachment", up };
	m[1] = (struct kb_mod){ KB_MOD_ADD, "objectClass", ocv };
	m[2] = (struct kb_mod){ KB_MOD_DELETE, "cn", cnv };
	check_image(&im, m, 3, "objectClass=top|keyboundKeyPair;"
	    "keyboundAttachment=a@h1|c@h3|d@h4|A@H1");
	/* replace: new attribute, then values replaced, then none */
	m[0] = (struct kb_mod){ KB_MOD_REPLACE, "keyboundBlocked", rep1 };
	check_image(&im, m, 1, "objectClass=top|keyboundKeyPair;"
	    "keyboundAttachment=a@h1|c@h3|d@h4|A@H1;keyboundBlocked=TRUE");
	m[0] = (struct kb_mod){ KB_MOD_REPLACE, "keyboundAttachment", add1 };
	m[1] = (struct kb_mod){ KB_MOD_REPLACE, "keyboundBlocked", NULL };
	check_image(&im, m, 2, "objectClass=top|keyboundKeyPair;"
	    "keyboundAttachment=d@h4|a@h1");
	/* delete of every value, or of the attribute, removes it */
	m[0] = (struct kb_mod){ KB_MOD_DELETE, "keyboundAttachment", add1 };
	m[1] = (struct kb_mod){ KB_MOD_DELETE, "objectClass", NULL };
	check_image(&im, m, 2, "");
	CHECK(image_view(&im) == NULL);
	CHECK_EQ_INT(admin_entry_kind(image_view(&im), im.nattrs), 0);
	m[0] = (struct kb_mod){ (enum kb_mod_op)7, "cn", cnv };
	CHECK_EQ_INT(image_apply(&im, m, 1), KB_ERR_INVALID_ARG);
	image_free(&im);
}

int
main(void)
{
	test_signing_rules();
	test_image();
	test_json();
	test_text();
	test_time();
	test_keygen();
	test_bcrypt();
	return tap_done();
}
