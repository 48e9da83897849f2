/*
 * test_ed25519.c - lib/ed25519.c: the RFC 8032 section 7.1 vectors, and
 * OpenSSL's Ed25519 (EVP_DigestVerify) side by side with ours: thousands
 * of keys and messages signed by OpenSSL, single-bit changes to the
 * signature, message and key, garbage, S >= L, public keys that are not
 * canonical encodings, small-order points.  The verdicts must be the
 * same in every case, not only where RFC 8032 says what they should be.
 * A few signers with many messages each, interleaved, as a lookup checks
 * them (the prepared keys kept between signatures).  The constant
 * multiples of the base point against the arithmetic.  And the
 * reduction of 512-bit numbers modulo L, against OpenSSL's BN.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "kb.h"
#include "ed25519.h"
#include "ed25519_oracle.h"
#include "tap.h"

/* RFC 8032 section 7.1: secret key, public key, message, signature */
struct vector {
	const char *name, *sk, *pk, *msg, *sig;
};

static const struct vector rfc_vectors[] = {
	{ "TEST 1",
	  "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
	  "",
	  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
	{ "TEST 2",
	  "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
	  "72",
	  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
	  "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
	{ "TEST 3",
	  "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
	  "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
	  "af82",
	  "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
	  "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a" },
	{ "TEST 1024",
	  "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
	  "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
	  "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98"
	  "fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8"
	  "79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
	  "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc"
	  "1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe"
	  "ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
	  "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef"
	  "efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7"
	  "aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
	  "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2"
	  "d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24"
	  "554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
	  "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc"
	  "2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07"
	  "07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
	  "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a"
	  "ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e"
	  "c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
	  "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c"
	  "42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8"
	  "ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
	  "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08"
	  "d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649"
	  "de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
	  "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3"
	  "2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e"
	  "6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
	  "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5"
	  "0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1"
	  "369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
	  "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c"
	  "0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0",
	  "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350"
	  "aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03" },
	{ "TEST SHA(abc)",
	  "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
	  "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
	  "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
	  "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
	  "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704" },
};

/* The eight points of order dividing 8, canonically encoded. */
static const char *small_order[8] = {
	"0100000000000000000000000000000000000000000000000000000000000000",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
	"0000000000000000000000000000000000000000000000000000000000000000",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
};

/* L, little-endian */
static const unsigned char order_le[32] = {
	0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
	0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: reproducible test data */
static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void
rng_bytes(unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(rng() >> 56);
}

static size_t
unhex(const char *h, unsigned char *out, size_t max)
{
	size_t n = strlen(h) / 2, i;
	unsigned int b;

	if (n > max)
		abort();
	for (i = 0; i < n; i++) {
		if (sscanf(h + 2 * i, "%2x", &b) != 1)
			abort();
		out[i] = (unsigned char)b;
	}
	return n;
}

static int
ours_verify(const unsigned char sig[64], const unsigned char *msg,
    size_t len, const unsigned char pub[32])
{
	int r = ed25519_verify(sig, msg, len, pub);

	if (r != 0 && r != KB_ERR_SIG_BAD)
		abort();
	return r == 0;
}

/* A key from a 32-byte seed; its public half and sig = sign(msg). */
static void
ossl_sign(const unsigned char seed[32], const unsigned char *msg,
    size_t len, unsigned char pub[32], unsigned char sig[64])
{
	static const unsigned char none[1];
	EVP_PKEY *pk;
	EVP_MD_CTX *md;
	size_t publen = 32, siglen = 64;

	if ((pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
	    32)) == NULL || (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_PKEY_get_raw_public_key(pk, pub, &publen) != 1 ||
	    EVP_DigestSignInit(md, NULL, NULL, NULL, pk) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, len ? msg : none, len) != 1 ||
	    publen != 32 || siglen != 64)
		abort();
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
}

static void
test_rfc_vectors(void)
{
	unsigned char sk[32], pk[32], msg[1024], sig[64], mypk[32], mysig[64];
	size_t len, i, bit;

	memset(msg, 0, sizeof(msg));	/* the byte after a message is read */
	for (i = 0; i < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); i++) {
		const struct vector *v = &rfc_vectors[i];

		unhex(v->sk, sk, sizeof(sk));
		unhex(v->pk, pk, sizeof(pk));
		len = unhex(v->msg, msg, sizeof(msg));
		unhex(v->sig, sig, sizeof(sig));
		/* the transcription is right: OpenSSL makes the same */
		ossl_sign(sk, msg, len, mypk, mysig);
		CHECK(memcmp(mypk, pk, 32) == 0);
		CHECK(memcmp(mysig, sig, 64) == 0);
		CHECK_EQ_INT(ed25519_verify(sig, msg, len, pk), 0);
		CHECK(ossl_verify(sig, msg, len, pk));
		/* every bit of the signature, the key and the message matters */
		for (bit = 0; bit < 8 * 64; bit += 7) {
			sig[bit / 8] ^= 1 << (bit % 8);
			CHECK_EQ_INT(ed25519_verify(sig, msg, len, pk),
			    KB_ERR_SIG_BAD);
			sig[bit / 8] ^= 1 << (bit % 8);
		}
		for (bit = 0; bit < 8 * 32; bit += 5) {
			pk[bit / 8] ^= 1 << (bit % 8);
			CHECK_EQ_INT(ed25519_verify(sig, msg, len, pk),
			    KB_ERR_SIG_BAD);
			pk[bit / 8] ^= 1 << (bit % 8);
		}
		for (bit = 0; bit < 8 * len; bit += 1 + len) {
			msg[bit / 8] ^= 1 << (bit % 8);
			CHECK_EQ_INT(ed25519_verify(sig, msg, len, pk),
			    KB_ERR_SIG_BAD);
			msg[bit / 8] ^= 1 << (bit % 8);
		}
		/* one byte more or less */
		CHECK_EQ_INT(ed25519_verify(sig, msg, len + 1, pk),
		    KB_ERR_SIG_BAD);
		if (len > 0)
			CHECK_EQ_INT(ed25519_verify(sig, msg, len - 1, pk),
			    KB_ERR_SIG_BAD);
		CHECK_EQ_INT(ed25519_verify(sig, msg, len, pk), 0);
	}
}

/* x mod L with OpenSSL's BN, x 64 bytes little-endian */
static void
bn_reduce(unsigned char out[32], const unsigned char x[64])
{
	BIGNUM *a, *l, *r;
	BN_CTX *ctx;

	if ((a = BN_lebin2bn(x, 64, NULL)) == NULL ||
	    (l = BN_lebin2bn(order_le, 32, NULL)) == NULL ||
	    (r = BN_new()) == NULL || (ctx = BN_CTX_new()) == NULL ||
	    BN_mod(r, a, l, ctx) != 1 || BN_bn2lebinpad(r, out, 32) != 32)
		abort();
	BN_free(a);
	BN_free(l);
	BN_free(r);
	BN_CTX_free(ctx);
}

/* x = m L + add (m < 2^128, add small), 64 bytes little-endian */
static void
multiple_of_order(unsigned char x[64], uint64_t mlo, uint64_t mhi, int add)
{
	BIGNUM *l, *m, *r;
	BN_CTX *ctx;
	unsigned char mb[16];
	int i;

	for (i = 0; i < 8; i++) {
		mb[i] = (unsigned char)(mlo >> (8 * i));
		mb[8 + i] = (unsigned char)(mhi >> (8 * i));
	}
	if ((l = BN_lebin2bn(order_le, 32, NULL)) == NULL ||
	    (m = BN_lebin2bn(mb, 16, NULL)) == NULL || (r = BN_new()) == NULL ||
	    (ctx = BN_CTX_new()) == NULL || BN_mul(r, l, m, ctx) != 1 ||
	    (add >= 0 ? BN_add_word(r, (BN_ULONG)add) :
	    BN_sub_word(r, (BN_ULONG)-add)) != 1 ||
	    BN_bn2lebinpad(r, x, 64) != 64)
		abort();
	BN_free(l);
	BN_free(m);
	BN_free(r);
	BN_CTX_free(ctx);
}

static void
test_scalar_reduce(void)
{
	unsigned char x[64], mine[32], theirs[32];
	int i, bad = 0, add;

	/* 0, 2^512 - 1, L - 1, L, L + 1, 2^252, ... and random numbers */
	for (i = 0; i < 20000; i++) {
		switch (i) {
		case 0:
			memset(x, 0, sizeof(x));
			break;
		case 1:
			memset(x, 0xff, sizeof(x));
			break;
		case 2:
		case 3:
		case 4:
			memset(x, 0, sizeof(x));
			memcpy(x, order_le, 32);
			x[0] += (unsigned char)(i - 3);
			break;
		case 5:
			memset(x, 0, sizeof(x));
			x[31] = 0x10;
			break;
		default:
			if (i < 2000) {
				/* m L - 1, m L, m L + 1 with m up to 2^128 */
				add = i % 3 - 1;
				multiple_of_order(x, rng(), i % 2 ? rng() :
				    rng() >> (i % 64), i < 8 && add < 0 ?
				    0 : add);
			} else {
				rng_bytes(x, sizeof(x));
				if (i % 4 == 0)		/* shorter numbers */
					memset(x + (i / 4) % 64, 0,
					    64 - (i / 4) % 64);
			}
			break;
		}
		ed25519_scalar_reduce(mine, x);
		bn_reduce(theirs, x);
		if (memcmp(mine, theirs, 32) != 0)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
}

/* Random keys and messages signed by OpenSSL; changes and garbage. */
static void
test_against_openssl(int rounds)
{
	unsigned char seed[32], pub[32], sig[64], msg[300], junk[64];
	size_t len, bit;
	int i, good = 0, same = 0, compared = 0;

	for (i = 0; i < rounds; i++) {
		rng_bytes(seed, sizeof(seed));
		len = rng() % sizeof(msg);
		rng_bytes(msg, len);
		ossl_sign(seed, msg, len, pub, sig);
		good += ours_verify(sig, msg, len, pub);

		/* one bit of the signature */
		bit = rng() % (8 * 64);
		sig[bit / 8] ^= 1 << (bit % 8);
		same += ours_verify(sig, msg, len, pub) ==
		    ossl_verify(sig, msg, len, pub);
		sig[bit / 8] ^= 1 << (bit % 8);
		/* one bit of the key */
		bit = rng() % (8 * 32);
		pub[bit / 8] ^= 1 << (bit % 8);
		same += ours_verify(sig, msg, len, pub) ==
		    ossl_verify(sig, msg, len, pub);
		pub[bit / 8] ^= 1 << (bit % 8);
		/* one bit of the message, or one byte more */
		if (len > 0) {
			bit = rng() % (8 * len);
			msg[bit / 8] ^= 1 << (bit % 8);
			same += ours_verify(sig, msg, len, pub) ==
			    ossl_verify(sig, msg, len, pub);
			msg[bit / 8] ^= 1 << (bit % 8);
		} else {
			same += ours_verify(sig, msg, 1, pub) ==
			    ossl_verify(sig, msg, 1, pub);
		}
		/* a garbage R, a garbage S, a garbage key */
		rng_bytes(junk, sizeof(junk));
		memcpy(junk + 32, sig + 32, 32);
		same += ours_verify(junk, msg, len, pub) ==
		    ossl_verify(junk, msg, len, pub);
		rng_bytes(junk + 32, 32);
		memcpy(junk, sig, 32);
		same += ours_verify(junk, msg, len, pub) ==
		    ossl_verify(junk, msg, len, pub);
		rng_bytes(junk, 32);
		same += ours_verify(sig, msg, len, junk) ==
		    ossl_verify(sig, msg, len, junk);
		compared += 6;
	}
	CHECK_EQ_INT(good, rounds);
	CHECK_EQ_INT(same, compared);
}

/* (S + L) with the original R: the same point, refused by both. */
static void
test_s_not_reduced(int rounds)
{
	unsigned char seed[32], pub[32], sig[64], msg[64];
	unsigned int carry, t;
	int i, j, ours = 0, theirs = 0;

	for (i = 0; i < rounds; i++) {
		rng_bytes(seed, sizeof(seed));
		rng_bytes(msg, sizeof(msg));
		ossl_sign(seed, msg, sizeof(msg), pub, sig);
		for (carry = 0, j = 0; j < 32; j++) {
			t = sig[32 + j] + order_le[j] + carry;
			sig[32 + j] = (unsigned char)t;
			carry = t >> 8;
		}
		CHECK_EQ_INT(carry, 0);
		ours += ours_verify(sig, msg, sizeof(msg), pub);
		theirs += ossl_verify(sig, msg, sizeof(msg), pub);
	}
	CHECK_EQ_INT(ours, 0);
	CHECK_EQ_INT(theirs, 0);
	/* S = L and S = 2^256 - 1 */
	memcpy(sig + 32, order_le, 32);
	CHECK_EQ_INT(ours_verify(sig, msg, sizeof(msg), pub), 0);
	CHECK_EQ_INT(ossl_verify(sig, msg, sizeof(msg), pub), 0);
	/*
	 * With the identity as key and as R, [S]B - [k]A = [S]B is R for
	 * S = 0 and would be for S = L: only the range check refuses that.
	 */
	unhex(small_order[0], pub, 32);
	unhex(small_order[0], sig, 32);
	memset(sig + 32, 0, 32);
	CHECK_EQ_INT(ours_verify(sig, msg, sizeof(msg), pub), 1);
	CHECK_EQ_INT(ossl_verify(sig, msg, sizeof(msg), pub), 1);
	memcpy(sig + 32, order_le, 32);
	CHECK_EQ_INT(ours_verify(sig, msg, sizeof(msg), pub), 0);
	CHECK_EQ_INT(ossl_verify(sig, msg, sizeof(msg), pub), 0);
	memset(sig + 32, 0xff, 32);
	CHECK_EQ_INT(ours_verify(sig, msg, sizeof(msg), pub), 0);
	CHECK_EQ_INT(ossl_verify(sig, msg, sizeof(msg), pub), 0);
}

/*
 * Keys that are small-order points or not canonical encodings (y >= p,
 * x = 0 with the sign bit set), with R any small-order point and S = 0:
 * R' = -[k]A is then itself a small-order point, so exactly the R that
 * equals it verifies -- if the key decodes at all.  Ours and OpenSSL's
 * must agree on every combination, and on random S too.
 */
static void
test_odd_keys(void)
{
	unsigned char keys[8 + 38 + 2][32], sig[64], msg[16];
	int nkeys = 0, i, j, m, k, same = 0, compared = 0, accepted = 0;

	for (i = 0; i < 8; i++)
		unhex(small_order[i], keys[nkeys++], 32);
	/* p + k for k = 0..18 (y = k), with and without the sign bit */
	for (k = 0; k < 19; k++) {
		for (j = 0; j < 2; j++) {
			memset(keys[nkeys], 0xff, 32);
			keys[nkeys][0] = (unsigned char)(0xed + k);
			keys[nkeys][31] = j ? 0xff : 0x7f;
			nkeys++;
		}
	}
	/* x = 0 with the sign bit: the identity and the point of order 2 */
	unhex(small_order[0], keys[nkeys], 32);
	keys[nkeys++][31] |= 0x80;
	unhex(small_order[4], keys[nkeys], 32);
	keys[nkeys++][31] |= 0x80;

	for (i = 0; i < nkeys; i++) {
		for (m = 0; m < 4; m++) {
			rng_bytes(msg, sizeof(msg));
			for (j = 0; j < 8 + 1; j++) {
				if (j < 8)
					unhex(small_order[j], sig, 32);
				else
					rng_bytes(sig, 32);
				memset(sig + 32, 0, 32);
				if (m == 3)
					rng_bytes(sig + 32, 31);
				k = ours_verify(sig, msg, sizeof(msg),
				    keys[i]);
				accepted += k;
				same += k == ossl_verify(sig, msg,
				    sizeof(msg), keys[i]);
				compared++;
			}
		}
	}
	CHECK_EQ_INT(same, compared);
	/* some of them do verify: the comparison is not all refusals */
	CHECK(accepted > 0);
	printf("odd keys: %d combinations, %d accepted by both\n", compared,
	    accepted);
}

/*
 * Signers that sign many messages each, interleaved: first fewer signers
 * than ed25519.c keeps prepared (every key found again), then more (keys
 * pushed out and prepared again); each signature also with one bit
 * changed, and the key with one bit changed, against OpenSSL.
 */
static void
test_signers(int rounds)
{
	unsigned char seeds[7][32], pub[32], sig[64], msg[200], bad[32];
	size_t len, bit;
	int i, n, good = 0, same = 0, compared = 0;

	for (i = 0; i < 7; i++)
		rng_bytes(seeds[i], 32);
	/* prepared ahead, as while a search travels: the same verdicts */
	for (i = 0; i < 3; i++) {
		ossl_sign(seeds[i], msg, 0, pub, sig);
		ed25519_prepare(pub);
	}
	memset(bad, 0, sizeof(bad));
	bad[0] = 2;			/* y = 2: no x, a key that fails */
	ed25519_prepare(bad);
	CHECK_EQ_INT(ours_verify(sig, msg, 0, bad), 0);
	CHECK_EQ_INT(ossl_verify(sig, msg, 0, bad), 0);
	for (i = 0; i < rounds; i++) {
		n = i < rounds / 2 ? 3 : 7;
		len = rng() % sizeof(msg);
		rng_bytes(msg, len);
		ossl_sign(seeds[i % n], msg, len, pub, sig);
		good += ours_verify(sig, msg, len, pub);
		bit = rng() % (8 * 64);
		sig[bit / 8] ^= 1 << (bit % 8);
		same += ours_verify(sig, msg, len, pub) ==
		    ossl_verify(sig, msg, len, pub);
		sig[bit / 8] ^= 1 << (bit % 8);
		memcpy(bad, pub, 32);
		bit = rng() % (8 * 32);
		bad[bit / 8] ^= 1 << (bit % 8);
		same += ours_verify(sig, msg, len, bad) ==
		    ossl_verify(sig, msg, len, bad);
		/* the good key again, after the changed one */
		good += ours_verify(sig, msg, len, pub);
		compared += 2;
	}
	CHECK_EQ_INT(good, 2 * rounds);
	CHECK_EQ_INT(same, compared);
}

/*
 * The multiples of B in ed25519_tables.h; and [S]B alone (the identity
 * as key: [k]A is the identity) for S = 1 and L - 1, R = B and -B.
 */
static void
test_base_multiples(void)
{
	static const char *base_hex =
	    "5866666666666666666666666666666666666666666666666666666666666666";
	unsigned char sig[64], pub[32], msg[8];
	int i;

	CHECK_EQ_INT(ed25519_selftest(), 0);
	memset(msg, 0, sizeof(msg));
	unhex(small_order[0], pub, 32);
	for (i = 0; i < 2; i++) {
		unhex(base_hex, sig, 32);
		memset(sig + 32, 0, 32);
		if (i == 0)
			sig[32] = 1;
		else {
			memcpy(sig + 32, order_le, 32);
			sig[32]--;		/* L - 1: -B */
			sig[31] |= 0x80;	/* B's x is even: -B's odd */
		}
		CHECK_EQ_INT(ours_verify(sig, msg, sizeof(msg), pub), 1);
		CHECK_EQ_INT(ossl_verify(sig, msg, sizeof(msg), pub), 1);
		sig[31] ^= 0x80;		/* the other sign: refused */
		CHECK_EQ_INT(ours_verify(sig, msg, sizeof(msg), pub), 0);
		CHECK_EQ_INT(ossl_verify(sig, msg, sizeof(msg), pub), 0);
	}
}

int
main(void)
{
	int heavy = getenv("KB_UNDER_VALGRIND") == NULL;

	test_rfc_vectors();
	test_scalar_reduce();
	test_against_openssl(heavy ? 5000 : 300);
	test_s_not_reduced(heavy ? 500 : 30);
	test_odd_keys();
	test_signers(heavy ? 2000 : 100);
	test_base_multiples();
	return tap_done();
}
