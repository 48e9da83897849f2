/*
 * ed25519_oracle.h - OpenSSL's Ed25519 verdict, the oracle lib/ed25519.c
 * is compared with (test_ed25519, fuzz_ed25519).
 */
#ifndef KB_ED25519_ORACLE_H
#define KB_ED25519_ORACLE_H

#include <stddef.h>

#include <openssl/err.h>
#include <openssl/evp.h>

/* OpenSSL's verdict: 1 good, 0 refused (also for a key it refuses). */
static int
ossl_verify(const unsigned char sig[64], const unsigned char *msg,
    size_t len, const unsigned char pub[32])
{
	static const unsigned char none[1];
	EVP_PKEY *pk;
	EVP_MD_CTX *md = NULL;
	int ok = 0;

	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	if (pk != NULL && (md = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) == 1 &&
	    EVP_DigestVerify(md, sig, 64, len ? msg : none, len) == 1)
		ok = 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return ok;
}

#endif /* KB_ED25519_ORACLE_H */
