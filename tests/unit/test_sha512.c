/*
 * test_sha512.c - lib/sha512.c against the FIPS 180-4 example vectors
 * (NIST CSRC "SHA512.pdf", plus the empty and one-million-'a' messages)
 * and against OpenSSL for every length from 0 to 1000 bytes, fed whole
 * and in uneven pieces (block boundaries, padding that spills into a
 * second block).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sha512.h"
#include "tap.h"

static void
hex(const unsigned char *md, char out[2 * KB_SHA512_LEN + 1])
{
	static const char d[] = "0123456789abcdef";
	int i;

	for (i = 0; i < KB_SHA512_LEN; i++) {
		out[2 * i] = d[md[i] >> 4];
		out[2 * i + 1] = d[md[i] & 0xf];
	}
	out[2 * KB_SHA512_LEN] = '\0';
}

static void
check_vector(const char *msg, const char *want)
{
	unsigned char md[KB_SHA512_LEN];
	char got[2 * KB_SHA512_LEN + 1];

	sha512(msg, strlen(msg), md);
	hex(md, got);
	CHECK_EQ_STR(got, want);
}

static void
test_nist_vectors(void)
{
	struct kb_sha512 c;
	unsigned char md[KB_SHA512_LEN], a[1000];
	char got[2 * KB_SHA512_LEN + 1];
	int i;

	check_vector("",
	    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
	    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
	check_vector("abc",
	    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	check_vector("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
	    "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445");
	check_vector("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	    "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
	    "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
	/* one million times 'a', in pieces of 1000 */
	memset(a, 'a', sizeof(a));
	sha512_init(&c);
	for (i = 0; i < 1000; i++)
		sha512_update(&c, a, sizeof(a));
	sha512_final(&c, md);
	hex(md, got);
	CHECK_EQ_STR(got,
	    "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
	    "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
}

static void
test_against_openssl(void)
{
	unsigned char buf[1000], mine[KB_SHA512_LEN], mine2[KB_SHA512_LEN];
	unsigned char theirs[EVP_MAX_MD_SIZE];
	unsigned int tlen;
	struct kb_sha512 c;
	size_t len, off, step;
	int bad = 0, bad_pieces = 0;

	for (len = 0; len < sizeof(buf); len++)
		buf[len] = (unsigned char)(len * 131 + 7);
	for (len = 0; len <= sizeof(buf); len++) {
		sha512(buf, len, mine);
		if (EVP_Digest(buf, len, theirs, &tlen, EVP_sha512(),
		    NULL) != 1 || tlen != KB_SHA512_LEN ||
		    memcmp(mine, theirs, KB_SHA512_LEN) != 0)
			bad++;
		/* the same message in pieces of 1, 2, ... 131 bytes */
		step = len % 131 + 1;
		sha512_init(&c);
		for (off = 0; off < len; off += step)
			sha512_update(&c, buf + off,
			    len - off < step ? len - off : step);
		sha512_final(&c, mine2);
		if (memcmp(mine, mine2, KB_SHA512_LEN) != 0)
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
