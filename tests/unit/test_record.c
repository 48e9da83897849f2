/*
 * test_record.c - the canonical signed record: known byte layouts built
 * here piece by piece from keybound(1) SIGNED RECORDS, the fixture
 * tests/fixtures/sshsig/pair.rec, and a negative corpus where each input
 * breaks exactly one rule the strict decoder enforces.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "b64.h"
#include "record.h"
#include "sshkey.h"
#include "tap.h"

#define ED_B64	"AAAAC3NzaC1lZDI1NTE5AAAAIIMEtz3HP3YeQCKXqWOXa9s4mYqo" \
	"OerEfmkxrWTZvFgL"

/* A test-local writer, independent of lib/blob.c. */
struct buf {
	unsigned char b[4096];
	size_t n;
};

static void
put_u32(struct buf *o, uint32_t v)
{
	o->b[o->n++] = (unsigned char)(v >> 24);
	o->b[o->n++] = (unsigned char)(v >> 16);
	o->b[o->n++] = (unsigned char)(v >> 8);
	o->b[o->n++] = (unsigned char)v;
}

static void
put_u64(struct buf *o, uint64_t v)
{
	put_u32(o, (uint32_t)(v >> 32));
	put_u32(o, (uint32_t)v);
}

static void
put_mem(struct buf *o, const void *p, size_t n)
{
	put_u32(o, (uint32_t)n);
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void
put_str(struct buf *o, const char *s)
{
	put_mem(o, s, strlen(s));
}

static unsigned char *keyblob;
static size_t keybloblen;

/* The fixture pair, laid out by hand; knobs break one rule each. */
struct knobs {
	uint32_t version;
	const char *kind;
	const char *first, *second;	/* attachments in this order */
	unsigned char blocked;
	int bad_key;
	uint32_t extra_count;		/* added to the attachment count */
	int trailing;
};

static void
build_pair(struct buf *o, const struct knobs *k)
{
	unsigned char badkey[64];

	o->n = 0;
	put_u32(o, k->version);
	put_str(o, k->kind);
	put_str(o, "web-deploy");
	if (k->bad_key) {
		memcpy(badkey, keyblob, keybloblen);
		put_mem(o, badkey, keybloblen - 1);	/* point cut short */
	} else
		put_mem(o, keyblob, keybloblen);
	put_u32(o, 2 + k->extra_count);
	put_str(o, k->first);
	put_u64(o, strcmp(k->first, "alice@web-01") == 0 ? 1893456000 : 0);
	put_str(o, k->second);
	put_u64(o, strcmp(k->second, "alice@web-01") == 0 ? 1893456000 : 0);
	put_u64(o, 1900000000);
	put_str(o, "restrict");
	o->b[o->n++] = k->blocked;
	put_u64(o, 7);
	put_u64(o, 1764000000);
	if (k->trailing)
		o->b[o->n++] = 0;
}

static const struct knobs good = {
	1, "pair", "alice@web-01", "bob@+prod", 0, 0, 0, 0
};

static int
decode_buf(const struct buf *o)
{
	struct kb_record rec;
	int r;

	r = record_decode(o->b, o->n, &rec);
	record_free(&rec);
	return r;
}

static void
test_pair_vector(void)
{
	struct kb_record_att atts[2] = {
		{ "bob@+prod", 0 }, { "alice@web-01", 1893456000 },
	};
	struct kb_record rec, back;
	struct buf want;
	unsigned char *out = NULL;
	size_t len = 0, i;
	FILE *f;
	unsigned char fixture[512];
	size_t flen;

	build_pair(&want, &good);
	memset(&rec, 0, sizeof(rec));
	rec.kind = KB_RECORD_PAIR;
	rec.name = "web-deploy";
	rec.key_blob = keyblob;
	rec.key_bloblen = keybloblen;
	rec.atts = atts;		/* unsorted: the encoder sorts */
	rec.natts = 2;
	rec.not_after = 1900000000;
	rec.options = "restrict";
	rec.serial = 7;
	rec.signed_at = 1764000000;
	CHECK_EQ_INT(record_encode(&rec, &out, &len), 0);
	CHECK_EQ_INT(len, want.n);
	CHECK(out != NULL && len == want.n && memcmp(out, want.b, len) == 0);

	/* the fixture the integration test and ssh-keygen signed */
	f = fopen("tests/fixtures/sshsig/pair.rec", "rb");
	CHECK(f != NULL);
	flen = f != NULL ? fread(fixture, 1, sizeof(fixture), f) : 0;
	if (f != NULL)
		fclose(f);
	CHECK(flen == len && memcmp(fixture, out, len) == 0);

	CHECK_EQ_INT(record_decode(out, len, &back), 0);
	CHECK_EQ_INT(back.kind, KB_RECORD_PAIR);
	CHECK_EQ_STR(back.name, "web-deploy");
	CHECK(back.key_bloblen == keybloblen &&
	    memcmp(back.key_blob, keyblob, keybloblen) == 0);
	CHECK_EQ_INT(back.natts, 2);
	if (back.natts == 2) {
		CHECK_EQ_STR(back.atts[0].value, "alice@web-01");
		CHECK_EQ_INT(back.atts[0].end, 1893456000);
		CHECK_EQ_STR(back.atts[1].value, "bob@+prod");
		CHECK_EQ_INT(back.atts[1].end, 0);
	}
	CHECK_EQ_INT(back.not_after, 1900000000);
	CHECK_EQ_STR(back.options, "restrict");
	CHECK_EQ_INT(back.blocked, 0);
	CHECK_EQ_INT(back.serial, 7);
	CHECK_EQ_INT(back.signed_at, 1764000000);
	record_free(&back);
	CHECK(back.name == NULL);

	/* every proper prefix is refused, and so is one byte more */
	for (i = 0; i < len; i++)
		CHECK(record_decode(out, i, &back) != 0);
	free(out);
}

static void
test_pair_refused(void)
{
	struct knobs k;
	struct buf o;

	build_pair(&o, &good);
	CHECK_EQ_INT(decode_buf(&o), 0);

	k = good; k.version = 2; build_pair(&o, &k);
	CHECK_EQ_INT(decode_buf(&o), KB_ERR_RECORD_VERSION);
	k = good; k.version = 0; build_pair(&o, &k);
	CHECK_EQ_INT(decode_buf(&o), KB_ERR_RECORD_VERSION);
	k = good; k.kind = "pairs"; build_pair(&o, &k);
	CHECK_EQ_INT(decode_buf(&o), KB_ERR_RECORD);
	k = good; k.kind = "group"; build_pair(&o, &k);
	CHECK_EQ_INT(decode_buf(&o), KB_ERR_RECORD);
	k = good; k.first = "bob@+prod"; k.second = "alice@web-01";
	build_pair(&o, &k);
	CHECK_EQ_INT(decode_buf(&o), KB_ERR_RECORD);	/* unsorted */
	k = good; k.second = "alice@web-01"; build_pair(&o, &k);
	CHECK_EQ_INT(decode_buf(&o), KB_ERR_RECORD);	/* duplicate */
	k = good; k.first = ""; build_pair(&o, &k);
	CHECK_EQ_INT(decode_buf(&o), KB_ERR_RECORD);	/* empty */
	k = good; k.first = "alice\n@web-01"; build_pair(&o, &k);
	CHECK_EQ_INT(decode_buf(&o), KB_ERR_RECORD);	/* control byte */
	k = good; k.blocked = 1; build_pair(&o, &k);
	CHECK_EQ_INT(decode_buf(&o), 0);
	k = good; k.blocked = 2; build_pair(&o, &k);
	CHECK_EQ_INT(decode_buf(&o), KB_ERR_RECORD);
	k = good; k.bad_key = 1; build_pair(&o, &k);
	CHECK_EQ_INT(decode_buf(&o), KB_ERR_RECORD);
	k = good; k.extra_count = 1; build_pair(&o, &k);
	CHECK_EQ_INT(decode_buf(&o), KB_ERR_RECORD);
	k = good; k.extra_count = 0xfffffff0u; build_pair(&o, &k);
	CHECK_EQ_INT(decode_buf(&o), KB_ERR_RECORD);
	k = good; k.trailing = 1; build_pair(&o, &k);
	CHECK_EQ_INT(decode_buf(&o), KB_ERR_RECORD);
}

static void
test_group(void)
{
	/* keybound(1): version, "group", name, count, members, serial, time */
	static const unsigned char want[] = {
		0, 0, 0, 1,  0, 0, 0, 5, 'g', 'r', 'o', 'u', 'p',
		0, 0, 0, 4, 'p', 'r', 'o', 'd',
		0, 0, 0, 2,
		0, 0, 0, 5, 'd', 'b', '-', '0', '1',
		0, 0, 0, 6, 'w', 'e', 'b', '-', '0', '1',
		0, 0, 0, 0, 0, 0, 0, 3,
		0, 0, 0, 0, 0x69, 0x24, 0x81, 0x00,
	};
	const char *members[] = { "web-01", "db-01" };
	const char *dups[] = { "web-01", "db-01", "web-01" };
	const char *empty[] = { "" };
	struct kb_record rec, back;
	unsigned char *out = NULL, bad[sizeof(want) + 1];
	size_t len = 0;

	memset(&rec, 0, sizeof(rec));
	rec.kind = KB_RECORD_GROUP;
	rec.name = "prod";
	rec.members = members;
	rec.nmembers = 2;
	rec.serial = 3;
	rec.signed_at = 1764000000;
	CHECK_EQ_INT(record_encode(&rec, &out, &len), 0);
	CHECK(len == sizeof(want) && memcmp(out, want, len) == 0);
	free(out);

	CHECK_EQ_INT(record_decode(want, sizeof(want), &back), 0);
	CHECK_EQ_INT(back.kind, KB_RECORD_GROUP);
	CHECK_EQ_STR(back.name, "prod");
	CHECK_EQ_INT(back.nmembers, 2);
	if (back.nmembers == 2) {
		CHECK_EQ_STR(back.members[0], "db-01");
		CHECK_EQ_STR(back.members[1], "web-01");
	}
	CHECK_EQ_INT(back.serial, 3);
	CHECK_EQ_INT(back.signed_at, 1764000000);
	record_free(&back);

	/* "db-01" becomes "zz-01", which sorts after "web-01" */
	memcpy(bad, want, sizeof(want));
	memcpy(bad + 29, "zz-01", 5);
	CHECK_EQ_INT(record_decode(bad, sizeof(want), &back), KB_ERR_RECORD);
	memcpy(bad, want, sizeof(want));
	bad[sizeof(want)] = 0;
	CHECK_EQ_INT(record_decode(bad, sizeof(want) + 1, &back),
	    KB_ERR_RECORD);

	rec.members = dups;
	rec.nmembers = 3;
	CHECK_EQ_INT(record_encode(&rec, &out, &len), KB_ERR_RECORD);
	CHECK(out == NULL);
	rec.members = empty;
	rec.nmembers = 1;
	CHECK_EQ_INT(record_encode(&rec, &out, &len), KB_ERR_RECORD);
	rec.nmembers = 0;
	CHECK_EQ_INT(record_encode(&rec, &out, &len), 0);
	free(out);
	rec.name = "";
	CHECK_EQ_INT(record_encode(&rec, &out, &len), KB_ERR_RECORD);
}

static void
test_encode_refused(void)
{
	struct kb_record_att dup[2] = { { "a@b", 0 }, { "a@b", 5 } };
	struct kb_record rec;
	unsigned char *out = NULL, junk[4] = { 1, 2, 3, 4 };
	size_t len;

	memset(&rec, 0, sizeof(rec));
	rec.kind = KB_RECORD_PAIR;
	rec.name = "p";
	rec.key_blob = keyblob;
	rec.key_bloblen = keybloblen;
	rec.options = "";
	CHECK_EQ_INT(record_encode(&rec, &out, &len), 0);
	free(out);
	rec.atts = dup;
	rec.natts = 2;
	CHECK_EQ_INT(record_encode(&rec, &out, &len), KB_ERR_RECORD);
	rec.natts = 0;
	rec.options = NULL;
	CHECK_EQ_INT(record_encode(&rec, &out, &len), KB_ERR_RECORD);
	rec.options = "";
	rec.blocked = 2;
	CHECK_EQ_INT(record_encode(&rec, &out, &len), KB_ERR_RECORD);
	rec.blocked = 0;
	rec.key_blob = junk;
	rec.key_bloblen = sizeof(junk);
	CHECK_EQ_INT(record_encode(&rec, &out, &len), KB_ERR_RECORD);
	rec.key_blob = keyblob;
	rec.kind = 0;
	CHECK_EQ_INT(record_encode(&rec, &out, &len), KB_ERR_RECORD);
	CHECK(out == NULL);
}

int
main(void)
{
	CHECK_EQ_INT(b64_decode_strict(ED_B64, strlen(ED_B64), &keyblob,
	    &keybloblen), 0);
	test_pair_vector();
	test_pair_refused();
	test_group();
	test_encode_refused();
	free(keyblob);
	return tap_done();
}
