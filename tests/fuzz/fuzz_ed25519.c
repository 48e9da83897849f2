/*
 * fuzz_ed25519.c - libFuzzer target holding lib/ed25519.c's verdict beside
 * OpenSSL's (EVP_DigestVerify with EVP_PKEY_ED25519) on arbitrary input,
 * read as signature (64 bytes), public key (32) and message (the rest).
 * Any disagreement aborts.
 *
 * Random bytes almost never verify, so part of the input is also used as
 * a seed: a key made from it signs the message (OpenSSL), and the first
 * byte chooses one change to the signature, key or message, or none --
 * then both must still agree, and an unchanged signature must verify.
 * Each check is made twice: the second finds the key ed25519.c prepared
 * for the first (its multiples kept for the next signature), and must
 * give the same verdict.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "kb.h"
#include "ed25519.h"
#include "../unit/ed25519_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
ours_verify(const unsigned char sig[64], const unsigned char *msg,
    size_t len, const unsigned char pub[32])
{
	int r = ed25519_verify(sig, msg, len, pub);

	if ((r != 0 && r != KB_ERR_SIG_BAD) ||
	    ed25519_verify(sig, msg, len, pub) != r)
		abort();
	return r == 0;
}

static void
compare(const unsigned char sig[64], const unsigned char *msg, size_t len,
    const unsigned char pub[32])
{
	if (ours_verify(sig, msg, len, pub) != ossl_verify(sig, msg, len, pub))
		abort();
}

/* Sign msg with the key seeded by seed; change one thing; compare. */
static void
signed_case(unsigned char how, const unsigned char seed[32],
    const unsigned char *msg, size_t len)
{
	static const unsigned char none[1];
	unsigned char pub[32], sig[64], *m = NULL;
	size_t publen = sizeof(pub), siglen = sizeof(sig), bit;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *md = NULL;

	if ((pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
	    32)) == NULL || (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_PKEY_get_raw_public_key(pk, pub, &publen) != 1 ||
	    EVP_DigestSignInit(md, NULL, NULL, NULL, pk) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, len ? msg : none, len) != 1)
		abort();
	if ((m = malloc(len + 1)) == NULL)
		abort();
	memcpy(m, msg, len);
	bit = (size_t)how * 7;
	switch (how % 4) {
	case 0:		/* unchanged: must verify */
		if (!ours_verify(sig, m, len, pub))
			abort();
		break;
	case 1:
		sig[bit / 8 % 64] ^= 1 << (bit % 8);
		break;
	case 2:
		pub[bit / 8 % 32] ^= 1 << (bit % 8);
		break;
	case 3:
		if (len > 0)
			m[bit / 8 % len] ^= 1 << (bit % 8);
		break;
	}
	compare(sig, m, len, pub);
	free(m);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 64 + 32)
		return 0;
	/* as they are: sig, pub, message */
	compare(data, data + 96, size - 96, data + 64);
	/* a signature made over the message with a key seeded by data */
	signed_case(data[0], data + 64, data + 96, size - 96);
	return 0;
}
