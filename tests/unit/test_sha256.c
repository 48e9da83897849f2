/*
 * test_sha256.c - lib/sha256.c against the FIPS 180-4 example vectors
 * (NIST CSRC "SHA256.pdf", plus the one-million-'a' message) and against
 * OpenSSL for every length from 0 to 1000 bytes, fed whole and in uneven
 * pieces (block boundaries, padding that spills into a second block).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sha256.h"
#include "tap.h"

static void
hex(const unsigned char *md, char out[2 * KB_SHA256_LEN + 1])
{
	static const char d[] = "0123456789abcdef";
	int i;

	for (i = 0; i < KB_SHA256_LEN; i++) {
		out[2 * i] = d[md[i] >> 4];
		out[2 * i + 1] = d[md[i] & 0xf];
	}
	out[2 * KB_SHA256_LEN] = '\0';
}

static void
check_vector(const char *msg, const char *want)
{
	unsigned char md[KB_SHA256_LEN];
	char got[2 * KB_SHA256_LEN + 1];

	sha256(msg, strlen(msg), md);
	hex(md, got);
	CHECK_EQ_STR(got, want);
}

static void
test_nist_vectors(void)
{
	struct kb_sha256 c;
	unsigned char md[KB_SHA256_LEN], a[1000];
	char got[2 * KB_SHA256_LEN + 1];
	int i;

	check_vector("",
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_vector("abc",
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_vector("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	check_vector("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
	/* one million times 'a', in pieces of 1000 */
	memset(a, 'a', sizeof(a));
	sha256_init(&c);
	for (i = 0; i < 1000; i++)
		sha256_update(&c, a, sizeof(a));
	sha256_final(&c, md);
	hex(md, got);
	CHECK_EQ_STR(got,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void
test_against_openssl(void)
{
	unsigned char buf[1000], mine[KB_SHA256_LEN], mine2[KB_SHA256_LEN];
	unsigned char theirs[EVP_MAX_MD_SIZE];
	unsigned int tlen;
	struct kb_sha256 c;
	size_t len, off, step;
	int bad = 0, bad_pieces = 0;

	for (len = 0; len < sizeof(buf); len++)
		buf[len] = (unsigned char)(len * 131 + 7);
	for (len = 0; len <= sizeof(buf); len++) {
		sha256(buf, len, mine);
		if (EVP_Digest(buf, len, theirs, &tlen, EVP_sha256(),
		    NULL) != 1 || tlen != KB_SHA256_LEN ||
		    memcmp(mine, theirs, KB_SHA256_LEN) != 0)
			bad++;
		/* the same message in pieces of 1, 2, ... 67 bytes */
		step = len % 67 + 1;
		sha256_init(&c);
		for (off = 0; off < len; off += step)
			sha256_update(&c, buf + off,
			    len - off < step ? len - off : step);
		sha256_final(&c, mine2);
		if (memcmp(mine, mine2, KB_SHA256_LEN) != 0)
			bad_pieces++;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(bad_pieces, 0);
}

int
main(void)
{
	test_nist_vectors();
	test_against_openssl();
	return tap_done();
}
