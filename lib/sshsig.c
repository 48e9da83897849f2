/*
 * sshsig.c - SSHSIG (OpenSSH PROTOCOL.sshsig) signing and verification.
 *
 *	byte[6]	"SSHSIG"
 *	uint32	1
 *	string	publickey
 *	string	namespace ("keybound")
 *	string	reserved (empty)
 *	string	hash_algorithm ("sha512")
 *	string	signature (string sigtype, string sigdata)
 *
 * and the bytes actually signed:
 *
 *	byte[6]	"SSHSIG"
 *	string	namespace
 *	string	reserved
 *	string	hash_algorithm
 *	string	H(message)
 *
 * Key parsing and validation stay in lib/sshkey.c (key_from_blob()); this
 * file only turns validated blobs into libcrypto keys.
 *
 * Checking an Ed25519 signature needs no libcrypto: H(message) is
 * lib/sha512.c's and the signature is checked by lib/ed25519.c, whose
 * verdicts are OpenSSL's.  keybound-keys with Ed25519 trusted_signers then
 * never loads libcrypto for them (loading and initialising OpenSSL 3 costs
 * several milliseconds per run).  Signing, and checking ECDSA and RSA
 * signatures, stay with libcrypto.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

#include "kb.h"
#include "agent.h"
#include "b64.h"
#include "blob.h"
#include "ed25519.h"
#include "fdio.h"
#include "sha512.h"
#include "sshkey.h"
#include "sshsig.h"

#define SIG_MAGIC		"SSHSIG"
#define SIG_MAGIC_LEN		6
#define SIG_VERSION		1
#define SIG_BEGIN		"-----BEGIN SSH SIGNATURE-----"
#define SIG_END			"-----END SSH SIGNATURE-----"
#define SIG_COLUMNS		70		/* as ssh-keygen */
#define ED25519_LEN		32
#define ED25519_SIG_LEN		64

#define PK_MAGIC		"openssh-key-v1"	/* followed by a NUL */
#define PK_BEGIN		"-----BEGIN OPENSSH PRIVATE KEY-----"
#define PK_END			"-----END OPENSSH PRIVATE KEY-----"
#define PK_BLOCK		8		/* padding of cipher "none" */

/* libcrypto's SONAME, from the libcrypto the tree is built against. */
#ifndef KB_CRYPTO_SONAME
#error "KB_CRYPTO_SONAME must name libcrypto's SONAME (set by the Makefile)"
#endif

/*
 * Every libcrypto function this file calls.  libcrypto is loaded with
 * dlopen() on the first signature made or the first ECDSA or RSA
 * signature checked, as lib/sshkey.c does: keybound-keys links no
 * libcrypto, so a cache hit, and a lookup whose signatures are all
 * Ed25519, never map it.
 */
#define SIG_CRYPTO_FUNCS(X) \
	X(BN_CTX_free) \
	X(BN_CTX_secure_new) \
	X(BN_bin2bn) \
	X(BN_bn2bin) \
	X(BN_clear_free) \
	X(BN_free) \
	X(BN_div) \
	X(BN_num_bits) \
	X(BN_secure_new) \
	X(BN_sub) \
	X(BN_value_one) \
	X(CRYPTO_free) \
	X(ECDSA_SIG_free) \
	X(ECDSA_SIG_get0) \
	X(ECDSA_SIG_new) \
	X(ECDSA_SIG_set0) \
	X(d2i_ECDSA_SIG) \
	X(i2d_ECDSA_SIG) \
	X(EVP_DigestSign) \
	X(EVP_DigestSignInit) \
	X(EVP_DigestVerify) \
	X(EVP_DigestVerifyInit) \
	X(EVP_MD_CTX_free) \
	X(EVP_MD_CTX_new) \
	X(EVP_PKEY_CTX_free) \
	X(EVP_PKEY_CTX_new_from_name) \
	X(EVP_PKEY_free) \
	X(EVP_PKEY_fromdata) \
	X(EVP_PKEY_fromdata_init) \
	X(EVP_PKEY_get_size) \
	X(EVP_PKEY_new_raw_private_key) \
	X(EVP_sha256) \
	X(EVP_sha384) \
	X(EVP_sha512) \
	X(OPENSSL_init_crypto) \
	X(OSSL_PARAM_BLD_free) \
	X(OSSL_PARAM_BLD_new) \
	X(OSSL_PARAM_BLD_push_BN) \
	X(OSSL_PARAM_BLD_push_octet_string) \
	X(OSSL_PARAM_BLD_push_utf8_string) \
	X(OSSL_PARAM_BLD_to_param) \
	X(OSSL_PARAM_free)

/* One pointer per function, of the exact type the headers declare. */
#define SIG_CRYPTO_FIELD(name)	__typeof__(name) *name;
static struct {
	SIG_CRYPTO_FUNCS(SIG_CRYPTO_FIELD)
} sc;
#undef SIG_CRYPTO_FIELD

static pthread_once_t sc_once = PTHREAD_ONCE_INIT;
static int sc_status = KB_ERR_CRYPTO;	/* 0: every symbol resolved */

static void
sc_load_once(void)
{
	void *h, *sym;

	if ((h = dlopen(KB_CRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL)
		goto fail;
#define SIG_CRYPTO_RESOLVE(name) \
	if ((sym = dlsym(h, #name)) == NULL) \
		goto fail; \
	sc.name = (__typeof__(sc.name))sym;
	SIG_CRYPTO_FUNCS(SIG_CRYPTO_RESOLVE)
#undef SIG_CRYPTO_RESOLVE
	if (sc.OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
		goto fail;
	sc_status = 0;
	return;
 fail:
	memset(&sc, 0, sizeof(sc));
	sc_status = KB_ERR_CRYPTO;
}

/* 0 when libcrypto is loaded, else KB_ERR_CRYPTO.  Any thread. */
static int
sc_load(void)
{
	if (pthread_once(&sc_once, sc_load_once) != 0)
		return KB_ERR_CRYPTO;
	return sc_status;
}

struct kb_privkey {
	struct kb_key *pub;
	EVP_PKEY *pkey;
};

/* What signing with a key of this type means. */
struct sig_alg {
	const char *sigtype;		/* signature type name */
	const EVP_MD *md;		/* NULL for Ed25519 */
	const char *group;		/* ECDSA: OpenSSL group name */
};

static int
sig_alg_for(const struct kb_key *k, struct sig_alg *a)
{
	memset(a, 0, sizeof(*a));
	if (key_type(k) == KB_KT_ED25519) {	/* no libcrypto needed */
		a->sigtype = "ssh-ed25519";
		return 0;
	}
	if (sc_load() != 0)
		return KB_ERR_CRYPTO;
	switch (key_type(k)) {
	case KB_KT_ECDSA_P256:
		a->sigtype = key_type_name(k);
		a->md = sc.EVP_sha256();
		a->group = "prime256v1";
		return 0;
	case KB_KT_ECDSA_P384:
		a->sigtype = key_type_name(k);
		a->md = sc.EVP_sha384();
		a->group = "secp384r1";
		return 0;
	case KB_KT_ECDSA_P521:
		a->sigtype = key_type_name(k);
		a->md = sc.EVP_sha512();
		a->group = "secp521r1";
		return 0;
	case KB_KT_RSA:
		a->sigtype = "rsa-sha2-512";
		a->md = sc.EVP_sha512();
		return 0;
	default:
		return KB_ERR_SIG_KEYTYPE;
	}
}

/*
 * The "SSHSIG" preamble blob that is actually signed.  H is lib/sha512.c
 * for every signer: the same bytes as libcrypto's, without loading it.
 */
static int
sig_signed_data(const unsigned char *msg, size_t len, unsigned char **outp,
    size_t *outlenp)
{
	unsigned char md[KB_SHA512_LEN];
	struct kb_wblob w;
	int r;

	memset(&w, 0, sizeof(w));
	sha512(msg, len, md);
	blob_put_raw(&w, SIG_MAGIC, SIG_MAGIC_LEN);
	blob_put_cstring(&w, SSHSIG_NAMESPACE);
	blob_put_string(&w, "", 0);
	blob_put_cstring(&w, SSHSIG_HASH);
	blob_put_string(&w, md, sizeof(md));
	r = blob_w_done(&w, outp, outlenp);
	blob_w_free(&w);
	return r;
}

/* A libcrypto public key from a validated ECDSA or RSA key blob. */
static int
sig_public_pkey(const struct kb_key *k, EVP_PKEY **pkeyp)
{
	struct kb_blob b;
	struct sig_alg a;
	const unsigned char *blob, *p1, *p2;
	size_t bloblen, l1, l2;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *e = NULL, *n = NULL;
	int r = KB_ERR_INTERNAL;

	if (sc_load() != 0)
		return KB_ERR_CRYPTO;
	*pkeyp = NULL;
	if ((r = sig_alg_for(k, &a)) != 0)
		goto out;
	blob = key_blob(k, &bloblen);
	blob_init(&b, blob, bloblen);
	if (blob_get_string(&b, &p1, &l1) != 0) {	/* type */
		r = KB_ERR_INTERNAL;
		goto out;
	}
	r = KB_ERR_CRYPTO;
	switch (key_type(k)) {
	case KB_KT_ECDSA_P256:
	case KB_KT_ECDSA_P384:
	case KB_KT_ECDSA_P521:
		if (blob_get_string(&b, &p1, &l1) != 0 ||	/* curve */
		    blob_get_string(&b, &p2, &l2) != 0) {
			r = KB_ERR_INTERNAL;
			goto out;
		}
		if ((bld = sc.OSSL_PARAM_BLD_new()) == NULL ||
		    sc.OSSL_PARAM_BLD_push_utf8_string(bld,
		    OSSL_PKEY_PARAM_GROUP_NAME, a.group, 0) != 1 ||
		    sc.OSSL_PARAM_BLD_push_octet_string(bld,
		    OSSL_PKEY_PARAM_PUB_KEY, p2, l2) != 1 ||
		    (params = sc.OSSL_PARAM_BLD_to_param(bld)) == NULL ||
		    (ctx = sc.EVP_PKEY_CTX_new_from_name(NULL, "EC",
		    NULL)) == NULL ||
		    sc.EVP_PKEY_fromdata_init(ctx) != 1 ||
		    sc.EVP_PKEY_fromdata(ctx, pkeyp, EVP_PKEY_PUBLIC_KEY,
		    params) != 1)
			goto out;
		break;
	case KB_KT_RSA:
		if (blob_get_positive_mpint(&b, &p1, &l1) != 0 ||
		    blob_get_positive_mpint(&b, &p2, &l2) != 0) {
			r = KB_ERR_INTERNAL;
			goto out;
		}
		if ((e = sc.BN_bin2bn(p1, (int)l1, NULL)) == NULL ||
		    (n = sc.BN_bin2bn(p2, (int)l2, NULL)) == NULL ||
		    (bld = sc.OSSL_PARAM_BLD_new()) == NULL ||
		    sc.OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N,
		    n) != 1 ||
		    sc.OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E,
		    e) != 1 ||
		    (params = sc.OSSL_PARAM_BLD_to_param(bld)) == NULL ||
		    (ctx = sc.EVP_PKEY_CTX_new_from_name(NULL, "RSA",
		    NULL)) == NULL ||
		    sc.EVP_PKEY_fromdata_init(ctx) != 1 ||
		    sc.EVP_PKEY_fromdata(ctx, pkeyp, EVP_PKEY_PUBLIC_KEY,
		    params) != 1)
			goto out;
		break;
	default:
		r = KB_ERR_SIG_KEYTYPE;
		goto out;
	}
	r = 0;
 out:
	sc.EVP_PKEY_CTX_free(ctx);
	sc.OSSL_PARAM_free(params);
	sc.OSSL_PARAM_BLD_free(bld);
	sc.BN_free(e);
	sc.BN_free(n);
	return r;
}

/* The 32 bytes of Ed25519 key k (key_from_blob() checked them), or NULL. */
static const unsigned char *
ed25519_pub_of(const struct kb_key *k)
{
	struct kb_blob b;
	const unsigned char *blob, *type, *pub;
	size_t bloblen, typelen, publen;

	blob = key_blob(k, &bloblen);
	blob_init(&b, blob, bloblen);
	if (blob_get_string(&b, &type, &typelen) != 0 ||
	    blob_get_string(&b, &pub, &publen) != 0 || publen != ED25519_LEN)
		return NULL;
	return pub;
}

/* Check an Ed25519 signature s over data with key k: lib/ed25519.c. */
static int
sig_verify_ed25519(const struct kb_key *k, const unsigned char *data,
    size_t datalen, const unsigned char *s, size_t slen)
{
	const unsigned char *pub;

	if (slen != ED25519_SIG_LEN)
		return KB_ERR_SIG_FORMAT;
	if ((pub = ed25519_pub_of(k)) == NULL)
		return KB_ERR_INTERNAL;		/* key_from_blob() checked */
	return ed25519_verify(s, data, datalen, pub);
}

int
sshsig_prepare(const struct kb_key *signer)
{
	const unsigned char *pub;

	if (signer == NULL || key_type(signer) != KB_KT_ED25519 ||
	    (pub = ed25519_pub_of(signer)) == NULL)
		return 0;
	ed25519_prepare(pub);
	return 1;
}

/* Check an ECDSA or RSA signature s (of type a) over data with key k. */
static int
sig_verify_libcrypto(const struct kb_key *k, const struct sig_alg *a,
    const unsigned char *data, size_t datalen, const unsigned char *s,
    size_t slen)
{
	struct kb_blob inner;
	const unsigned char *rp, *sp;
	size_t rlen, splen, modlen;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *esig = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *der = NULL, *padded = NULL;
	const unsigned char *vsig;
	size_t vlen;
	int derlen, r = KB_ERR_INTERNAL;

	if (sc_load() != 0)
		return KB_ERR_CRYPTO;
	if ((r = sig_public_pkey(k, &pkey)) != 0)
		goto out;
	vsig = s;
	vlen = slen;
	switch (key_type(k)) {
	case KB_KT_ECDSA_P256:
	case KB_KT_ECDSA_P384:
	case KB_KT_ECDSA_P521:
		blob_init(&inner, s, slen);
		if (blob_get_positive_mpint(&inner, &rp, &rlen) != 0 ||
		    blob_get_positive_mpint(&inner, &sp, &splen) != 0 ||
		    !blob_empty(&inner)) {
			r = KB_ERR_SIG_FORMAT;
			goto out;
		}
		r = KB_ERR_CRYPTO;
		if ((esig = sc.ECDSA_SIG_new()) == NULL ||
		    (br = sc.BN_bin2bn(rp, (int)rlen, NULL)) == NULL ||
		    (bs = sc.BN_bin2bn(sp, (int)splen, NULL)) == NULL ||
		    sc.ECDSA_SIG_set0(esig, br, bs) != 1)
			goto out;
		br = bs = NULL;
		if ((derlen = sc.i2d_ECDSA_SIG(esig, &der)) <= 0)
			goto out;
		vsig = der;
		vlen = (size_t)derlen;
		break;
	case KB_KT_RSA:
		/* OpenSSH accepts a signature shorter than the modulus */
		modlen = (size_t)sc.EVP_PKEY_get_size(pkey);
		if (slen == 0 || slen > modlen) {
			r = KB_ERR_SIG_FORMAT;
			goto out;
		}
		if (slen < modlen) {
			if ((padded = calloc(1, modlen)) == NULL) {
				r = KB_ERR_NOMEM;
				goto out;
			}
			memcpy(padded + modlen - slen, s, slen);
			vsig = padded;
			vlen = modlen;
		}
		break;
	default:
		r = KB_ERR_SIG_KEYTYPE;
		goto out;
	}
	r = KB_ERR_CRYPTO;
	if ((md = sc.EVP_MD_CTX_new()) == NULL ||
	    sc.EVP_DigestVerifyInit(md, NULL, a->md, NULL, pkey) != 1)
		goto out;
	r = sc.EVP_DigestVerify(md, vsig, vlen, data, datalen) == 1 ?
	    0 : KB_ERR_SIG_BAD;
 out:
	sc.EVP_MD_CTX_free(md);
	sc.EVP_PKEY_free(pkey);
	sc.ECDSA_SIG_free(esig);
	sc.BN_free(br);
	sc.BN_free(bs);
	sc.CRYPTO_free(der, __FILE__, __LINE__);
	free(padded);
	return r;
}

/*
 * Check the SSH signature blob (string type, string data) over data with
 * key k: the type must be k's (rsa-sha2-512 for RSA), nothing after.
 */
static int
sig_verify_raw(const struct kb_key *k, const unsigned char *data,
    size_t datalen, const unsigned char *sig, size_t siglen)
{
	struct kb_blob b;
	struct sig_alg a;
	const unsigned char *type, *s;
	size_t typelen, slen;
	int r;

	if ((r = sig_alg_for(k, &a)) != 0)
		return r;
	blob_init(&b, sig, siglen);
	if (blob_get_string(&b, &type, &typelen) != 0 ||
	    blob_get_string(&b, &s, &slen) != 0 || !blob_empty(&b) ||
	    typelen != strlen(a.sigtype) ||
	    memcmp(type, a.sigtype, typelen) != 0)
		return KB_ERR_SIG_FORMAT;
	if (key_type(k) == KB_KT_ED25519)
		return sig_verify_ed25519(k, data, datalen, s, slen);
	return sig_verify_libcrypto(k, &a, data, datalen, s, slen);
}

/* An SSH signature blob over data with the private key. */
static int
sig_sign_raw(const struct kb_privkey *k, const unsigned char *data,
    size_t datalen, unsigned char **sigp, size_t *siglenp)
{
	struct kb_wblob w, inner;
	struct sig_alg a;
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *esig = NULL;
	const BIGNUM *br, *bs;
	unsigned char *s = NULL, *ib = NULL, num[80];
	const unsigned char *dp;
	size_t slen = 0, iblen;
	int nlen, r = KB_ERR_INTERNAL;

	if (sc_load() != 0)
		return KB_ERR_CRYPTO;
	memset(&w, 0, sizeof(w));
	memset(&inner, 0, sizeof(inner));
	*sigp = NULL;
	*siglenp = 0;
	if ((r = sig_alg_for(k->pub, &a)) != 0)
		goto out;
	r = KB_ERR_CRYPTO;
	if ((md = sc.EVP_MD_CTX_new()) == NULL ||
	    sc.EVP_DigestSignInit(md, NULL, a.md, NULL, k->pkey) != 1 ||
	    sc.EVP_DigestSign(md, NULL, &slen, data, datalen) != 1)
		goto out;
	if ((s = malloc(slen)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if (sc.EVP_DigestSign(md, s, &slen, data, datalen) != 1)
		goto out;
	blob_put_cstring(&w, a.sigtype);
	switch (key_type(k->pub)) {
	case KB_KT_ED25519:
	case KB_KT_RSA:
		blob_put_string(&w, s, slen);
		break;
	case KB_KT_ECDSA_P256:
	case KB_KT_ECDSA_P384:
	case KB_KT_ECDSA_P521:
		dp = s;
		if ((esig = sc.d2i_ECDSA_SIG(NULL, &dp, (long)slen)) == NULL)
			goto out;
		sc.ECDSA_SIG_get0(esig, &br, &bs);
		if ((nlen = sc.BN_bn2bin(br, num)) < 0 ||
		    (size_t)((sc.BN_num_bits(br) + 7) / 8) > sizeof(num))
			goto out;
		blob_put_mpint(&inner, num, (size_t)nlen);
		if ((size_t)((sc.BN_num_bits(bs) + 7) / 8) > sizeof(num) ||
		    (nlen = sc.BN_bn2bin(bs, num)) < 0)
			goto out;
		blob_put_mpint(&inner, num, (size_t)nlen);
		if ((r = blob_w_done(&inner, &ib, &iblen)) != 0)
			goto out;
		blob_put_string(&w, ib, iblen);
		break;
	default:
		r = KB_ERR_SIG_KEYTYPE;
		goto out;
	}
	r = blob_w_done(&w, sigp, siglenp);
 out:
	sc.EVP_MD_CTX_free(md);
	sc.ECDSA_SIG_free(esig);
	blob_w_free(&w);
	blob_w_free(&inner);
	free(s);
	free(ib);
	return r;
}

/* Wrap an SSH signature blob made by signer into an SSHSIG blob. */
static int
sig_wrap(const struct kb_key *signer, const unsigned char *raw, size_t rawlen,
    unsigned char **sigp, size_t *siglenp)
{
	struct kb_wblob w;
	const unsigned char *kb;
	size_t kblen;
	int r;

	memset(&w, 0, sizeof(w));
	kb = key_blob(signer, &kblen);
	blob_put_raw(&w, SIG_MAGIC, SIG_MAGIC_LEN);
	blob_put_u32(&w, SIG_VERSION);
	blob_put_string(&w, kb, kblen);
	blob_put_cstring(&w, SSHSIG_NAMESPACE);
	blob_put_string(&w, "", 0);
	blob_put_cstring(&w, SSHSIG_HASH);
	blob_put_string(&w, raw, rawlen);
	r = blob_w_done(&w, sigp, siglenp);
	if (r == 0 && *siglenp > SSHSIG_MAX) {
		free(*sigp);
		*sigp = NULL;
		*siglenp = 0;
		r = KB_ERR_TOO_LONG;
	}
	blob_w_free(&w);
	return r;
}

int
sshsig_sign(const struct kb_privkey *k, const unsigned char *msg, size_t len,
    unsigned char **sigp, size_t *siglenp)
{
	unsigned char *data = NULL, *raw = NULL;
	size_t datalen = 0, rawlen = 0;
	int r = KB_ERR_INTERNAL;

	if (sigp != NULL)
		*sigp = NULL;
	if (siglenp != NULL)
		*siglenp = 0;
	if (k == NULL || (msg == NULL && len > 0) || sigp == NULL ||
	    siglenp == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = sig_signed_data(msg, len, &data, &datalen)) != 0 ||
	    (r = sig_sign_raw(k, data, datalen, &raw, &rawlen)) != 0 ||
	    (r = sig_wrap(k->pub, raw, rawlen, sigp, siglenp)) != 0)
		goto out;
 out:
	free(data);
	free(raw);
	return r;
}

int
sshsig_sign_agent(const char *sock, const char *fp, long timeout_ms,
    const unsigned char *msg, size_t len, unsigned char **sigp,
    size_t *siglenp)
{
	unsigned char *data = NULL, *raw = NULL, *kb = NULL;
	size_t datalen = 0, rawlen = 0, kblen = 0;
	struct kb_key *k = NULL;
	int r = KB_ERR_INTERNAL;

	if (sigp != NULL)
		*sigp = NULL;
	if (siglenp != NULL)
		*siglenp = 0;
	if (fp == NULL || (msg == NULL && len > 0) || sigp == NULL ||
	    siglenp == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = sig_signed_data(msg, len, &data, &datalen)) != 0 ||
	    (r = agent_sign(sock, fp, timeout_ms, data, datalen, &kb, &kblen,
	    &raw, &rawlen)) != 0)
		goto out;
	if ((r = key_from_blob(kb, kblen, &k)) != 0) {
		r = KB_ERR_AGENT;
		goto out;
	}
	/* never store what the agent made without checking it */
	if ((r = sig_verify_raw(k, data, datalen, raw, rawlen)) != 0) {
		if (r != KB_ERR_SIG_KEYTYPE && r != KB_ERR_NOMEM)
			r = KB_ERR_SIG_BAD;
		goto out;
	}
	r = sig_wrap(k, raw, rawlen, sigp, siglenp);
 out:
	key_free(k);
	free(kb);
	free(data);
	free(raw);
	return r;
}

/*
 * Split an SSHSIG blob; *rawp and *rawlenp view the inner signature.
 * With expect, the embedded key must be that (already validated) key,
 * byte for byte, and *signerp stays NULL; without, *signerp gets the
 * embedded key, validated, the caller's.
 */
static int
sig_split(const unsigned char *sig, size_t siglen, const struct kb_key *expect,
    struct kb_key **signerp, const unsigned char **rawp, size_t *rawlenp)
{
	struct kb_blob b;
	struct sig_alg a;
	const unsigned char *magic, *kb, *ns, *res, *hash, *ekb;
	size_t kblen, nslen, reslen, hashlen, ekblen;
	uint32_t version;
	struct kb_key *k = NULL;
	int r = KB_ERR_INTERNAL;

	*signerp = NULL;
	*rawp = NULL;
	*rawlenp = 0;
	if (siglen > SSHSIG_MAX) {
		r = KB_ERR_TOO_LONG;
		goto out;
	}
	r = KB_ERR_SIG_FORMAT;
	blob_init(&b, sig, siglen);
	if (blob_get_raw(&b, SIG_MAGIC_LEN, &magic) != 0 ||
	    memcmp(magic, SIG_MAGIC, SIG_MAGIC_LEN) != 0 ||
	    blob_get_u32(&b, &version) != 0 || version != SIG_VERSION ||
	    blob_get_string(&b, &kb, &kblen) != 0 ||
	    blob_get_string(&b, &ns, &nslen) != 0 ||
	    blob_get_string(&b, &res, &reslen) != 0 ||
	    blob_get_string(&b, &hash, &hashlen) != 0 ||
	    blob_get_string(&b, rawp, rawlenp) != 0 || !blob_empty(&b))
		goto out;
	if (reslen != 0)
		goto out;
	if (nslen != strlen(SSHSIG_NAMESPACE) ||
	    memcmp(ns, SSHSIG_NAMESPACE, nslen) != 0) {
		r = KB_ERR_SIG_NAMESPACE;
		goto out;
	}
	if (hashlen != strlen(SSHSIG_HASH) ||
	    memcmp(hash, SSHSIG_HASH, hashlen) != 0) {
		r = KB_ERR_SIG_HASH;
		goto out;
	}
	if (expect != NULL) {
		ekb = key_blob(expect, &ekblen);
		if (ekblen != kblen || memcmp(ekb, kb, kblen) != 0) {
			r = KB_ERR_SIG_KEY;
			goto out;
		}
		r = sig_alg_for(expect, &a);
		goto out;
	}
	if ((r = key_from_blob(kb, kblen, &k)) != 0) {
		r = r == KB_ERR_NOMEM ? r : KB_ERR_SIG_FORMAT;
		goto out;
	}
	if ((r = sig_alg_for(k, &a)) != 0)
		goto out;
	*signerp = k;
	k = NULL;
	r = 0;
 out:
	if (r != 0) {
		*rawp = NULL;
		*rawlenp = 0;
	}
	key_free(k);
	return r;
}

int
sshsig_parse(const unsigned char *sig, size_t siglen, struct kb_key **signerp)
{
	struct kb_key *k = NULL;
	struct kb_blob b;
	const unsigned char *raw, *type, *s;
	size_t rawlen, typelen, slen;
	struct sig_alg a;
	int r = KB_ERR_INTERNAL;

	if (signerp != NULL)
		*signerp = NULL;
	if (sig == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = sig_split(sig, siglen, NULL, &k, &raw, &rawlen)) != 0 ||
	    (r = sig_alg_for(k, &a)) != 0)
		goto out;
	blob_init(&b, raw, rawlen);
	if (blob_get_string(&b, &type, &typelen) != 0 ||
	    blob_get_string(&b, &s, &slen) != 0 || !blob_empty(&b) ||
	    typelen != strlen(a.sigtype) ||
	    memcmp(type, a.sigtype, typelen) != 0) {
		r = KB_ERR_SIG_FORMAT;
		goto out;
	}
	if (signerp != NULL) {
		*signerp = k;
		k = NULL;
	}
	r = 0;
 out:
	key_free(k);
	return r;
}

int
sshsig_verify(const struct kb_key *signer, const unsigned char *msg,
    size_t len, const unsigned char *sig, size_t siglen)
{
	struct kb_key *k = NULL;
	const unsigned char *raw;
	unsigned char *data = NULL;
	size_t rawlen, datalen;
	int r = KB_ERR_INTERNAL;

	if (signer == NULL || sig == NULL || (msg == NULL && len > 0)) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = sig_split(sig, siglen, signer, &k, &raw, &rawlen)) != 0)
		goto out;
	if ((r = sig_signed_data(msg, len, &data, &datalen)) != 0)
		goto out;
	r = sig_verify_raw(signer, data, datalen, raw, rawlen);
 out:
	key_free(k);
	free(data);
	return r;
}

int
sshsig_armor(const unsigned char *sig, size_t siglen, char **textp)
{
	char *b64 = NULL, *text = NULL, *o;
	size_t n, i, cap;
	int r = KB_ERR_INTERNAL;

	*textp = NULL;
	if (siglen > SSHSIG_MAX) {
		r = KB_ERR_TOO_LONG;
		goto out;
	}
	if ((r = b64_encode(sig, siglen, &b64)) != 0)
		goto out;
	n = strlen(b64);
	cap = sizeof(SIG_BEGIN) + sizeof(SIG_END) + n + n / SIG_COLUMNS + 4;
	if ((text = malloc(cap)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	o = text;
	memcpy(o, SIG_BEGIN "\n", sizeof(SIG_BEGIN));
	o += sizeof(SIG_BEGIN);
	for (i = 0; i < n; i += SIG_COLUMNS) {
		size_t chunk = n - i < SIG_COLUMNS ? n - i : SIG_COLUMNS;

		memcpy(o, b64 + i, chunk);
		o += chunk;
		*o++ = '\n';
	}
	memcpy(o, SIG_END "\n", sizeof(SIG_END) + 1);
	*textp = text;
	text = NULL;
	r = 0;
 out:
	free(b64);
	free(text);
	return r;
}

/*
 * BEGIN line, base64 lines, END line, optional final newline; the joined
 * base64 decoded strictly into at most max bytes.
 */
static int
sig_dearmor_any(const char *text, size_t len, const char *begin,
    const char *end, size_t max, int err, unsigned char **outp,
    size_t *outlenp)
{
	size_t bl = strlen(begin), el = strlen(end), i, j, body;
	char *b64 = NULL;
	int r = err;

	*outp = NULL;
	*outlenp = 0;
	if (len > 2 * max + 1024) {
		r = KB_ERR_TOO_LONG;
		goto out;
	}
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len < bl + 1 + el || memcmp(text, begin, bl) != 0 ||
	    text[bl] != '\n' || memcmp(text + len - el, end, el) != 0 ||
	    text[len - el - 1] != '\n')
		goto out;
	body = len - el - bl - 1;
	if ((b64 = malloc(body + 1)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	for (i = bl + 1, j = 0; i < len - el; i++) {
		if (text[i] == '\n') {
			if (text[i - 1] == '\n')	/* empty line */
				goto out;
			continue;
		}
		b64[j++] = text[i];
	}
	if (j == 0 || b64_decode_strict(b64, j, outp, outlenp) != 0)
		goto out;
	if (*outlenp > max) {
		free(*outp);
		*outp = NULL;
		*outlenp = 0;
		r = KB_ERR_TOO_LONG;
		goto out;
	}
	r = 0;
 out:
	if (b64 != NULL) {
		explicit_bzero(b64, body + 1);
		free(b64);
	}
	return r;
}

int
sshsig_dearmor(const char *text, size_t len, unsigned char **sigp,
    size_t *siglenp)
{
	return sig_dearmor_any(text, len, SIG_BEGIN, SIG_END, SSHSIG_MAX,
	    KB_ERR_SIG_FORMAT, sigp, siglenp);
}

/* The libcrypto private key from a private section, per type. */
static int
pk_private_pkey(const struct kb_key *pub, struct kb_blob *b, EVP_PKEY **pkeyp,
    struct kb_wblob *pubw)
{
	const unsigned char *p[6];
	size_t l[6], i;
	struct sig_alg a;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *bn[8] = { NULL };
	BN_CTX *bnctx = NULL;
	int r = KB_ERR_PRIVKEY;

	if (sc_load() != 0)
		return KB_ERR_CRYPTO;
	*pkeyp = NULL;
	if ((r = sig_alg_for(pub, &a)) != 0)
		goto out;
	r = KB_ERR_PRIVKEY;
	blob_put_cstring(pubw, key_type_name(pub));
	switch (key_type(pub)) {
	case KB_KT_ED25519:
		/* string pk, string sk (seed || pk) */
		if (blob_get_string(b, &p[0], &l[0]) != 0 ||
		    blob_get_string(b, &p[1], &l[1]) != 0 ||
		    l[0] != ED25519_LEN || l[1] != 2 * ED25519_LEN ||
		    memcmp(p[1] + ED25519_LEN, p[0], ED25519_LEN) != 0)
			goto out;
		blob_put_string(pubw, p[0], l[0]);
		r = KB_ERR_CRYPTO;
		if ((*pkeyp = sc.EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519,
		    NULL, p[1], ED25519_LEN)) == NULL)
			goto out;
		break;
	case KB_KT_ECDSA_P256:
	case KB_KT_ECDSA_P384:
	case KB_KT_ECDSA_P521:
		/* string curve, string Q, mpint d */
		if (blob_get_string(b, &p[0], &l[0]) != 0 ||
		    blob_get_string(b, &p[1], &l[1]) != 0 ||
		    blob_get_positive_mpint(b, &p[2], &l[2]) != 0)
			goto out;
		blob_put_string(pubw, p[0], l[0]);
		blob_put_string(pubw, p[1], l[1]);
		r = KB_ERR_CRYPTO;
		if ((bn[0] = sc.BN_secure_new()) == NULL ||
		    sc.BN_bin2bn(p[2], (int)l[2], bn[0]) == NULL ||
		    (bld = sc.OSSL_PARAM_BLD_new()) == NULL ||
		    sc.OSSL_PARAM_BLD_push_utf8_string(bld,
		    OSSL_PKEY_PARAM_GROUP_NAME, a.group, 0) != 1 ||
		    sc.OSSL_PARAM_BLD_push_octet_string(bld,
		    OSSL_PKEY_PARAM_PUB_KEY, p[1], l[1]) != 1 ||
		    sc.OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY,
		    bn[0]) != 1 ||
		    (params = sc.OSSL_PARAM_BLD_to_param(bld)) == NULL ||
		    (ctx = sc.EVP_PKEY_CTX_new_from_name(NULL, "EC",
		    NULL)) == NULL ||
		    sc.EVP_PKEY_fromdata_init(ctx) != 1 ||
		    sc.EVP_PKEY_fromdata(ctx, pkeyp, EVP_PKEY_KEYPAIR,
		    params) != 1)
			goto out;
		break;
	case KB_KT_RSA:
		/* mpint n, e, d, iqmp, p, q */
		for (i = 0; i < 6; i++) {
			if (blob_get_positive_mpint(b, &p[i], &l[i]) != 0)
				goto out;
		}
		blob_put_mpint(pubw, p[1], l[1]);
		blob_put_mpint(pubw, p[0], l[0]);
		r = KB_ERR_CRYPTO;
		for (i = 0; i < 6; i++) {
			if ((bn[i] = sc.BN_secure_new()) == NULL ||
			    sc.BN_bin2bn(p[i], (int)l[i], bn[i]) == NULL)
				goto out;
		}
		/* d mod (p-1), d mod (q-1) */
		if ((bnctx = sc.BN_CTX_secure_new()) == NULL ||
		    (bn[6] = sc.BN_secure_new()) == NULL ||
		    (bn[7] = sc.BN_secure_new()) == NULL ||
		    sc.BN_sub(bn[6], bn[4], sc.BN_value_one()) != 1 ||
		    sc.BN_div(NULL, bn[6], bn[2], bn[6], bnctx) != 1 ||
		    sc.BN_sub(bn[7], bn[5], sc.BN_value_one()) != 1 ||
		    sc.BN_div(NULL, bn[7], bn[2], bn[7], bnctx) != 1)
			goto out;
		if ((bld = sc.OSSL_PARAM_BLD_new()) == NULL ||
		    sc.OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N,
		    bn[0]) != 1 ||
		    sc.OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E,
		    bn[1]) != 1 ||
		    sc.OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D,
		    bn[2]) != 1 ||
		    sc.OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1,
		    bn[4]) != 1 ||
		    sc.OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2,
		    bn[5]) != 1 ||
		    sc.OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1,
		    bn[6]) != 1 ||
		    sc.OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2,
		    bn[7]) != 1 ||
		    sc.OSSL_PARAM_BLD_push_BN(bld,
		    OSSL_PKEY_PARAM_RSA_COEFFICIENT1, bn[3]) != 1 ||
		    (params = sc.OSSL_PARAM_BLD_to_param(bld)) == NULL ||
		    (ctx = sc.EVP_PKEY_CTX_new_from_name(NULL, "RSA",
		    NULL)) == NULL ||
		    sc.EVP_PKEY_fromdata_init(ctx) != 1 ||
		    sc.EVP_PKEY_fromdata(ctx, pkeyp, EVP_PKEY_KEYPAIR,
		    params) != 1)
			goto out;
		break;
	default:
		r = KB_ERR_SIG_KEYTYPE;
		goto out;
	}
	r = 0;
 out:
	sc.EVP_PKEY_CTX_free(ctx);
	sc.OSSL_PARAM_free(params);
	sc.OSSL_PARAM_BLD_free(bld);
	sc.BN_CTX_free(bnctx);
	for (i = 0; i < sizeof(bn) / sizeof(bn[0]); i++)
		sc.BN_clear_free(bn[i]);
	return r;
}

/* openssh-key-v1 without encryption. */
static int
pk_parse_binary(const unsigned char *bin, size_t binlen, struct kb_privkey *k)
{
	struct kb_blob b, priv;
	struct kb_wblob pubw;
	const unsigned char *magic, *cipher, *kdf, *kdfopt, *pub, *sec, *type;
	const unsigned char *comment, *pad;
	unsigned char *mine = NULL, probe[] = "keybound self-test";
	unsigned char *sig = NULL;
	size_t cipherlen, kdflen, kdfoptlen, publen, seclen, typelen;
	size_t commentlen, minelen, siglen, i;
	uint32_t nkeys, check1, check2;
	int r = KB_ERR_PRIVKEY;

	memset(&pubw, 0, sizeof(pubw));
	blob_init(&b, bin, binlen);
	if (blob_get_raw(&b, sizeof(PK_MAGIC), &magic) != 0 ||
	    memcmp(magic, PK_MAGIC, sizeof(PK_MAGIC)) != 0 ||
	    blob_get_string(&b, &cipher, &cipherlen) != 0 ||
	    blob_get_string(&b, &kdf, &kdflen) != 0 ||
	    blob_get_string(&b, &kdfopt, &kdfoptlen) != 0)
		goto out;
	if (cipherlen != 4 || memcmp(cipher, "none", 4) != 0) {
		r = KB_ERR_PRIVKEY_ENCRYPTED;
		goto out;
	}
	if (kdflen != 4 || memcmp(kdf, "none", 4) != 0 || kdfoptlen != 0 ||
	    blob_get_u32(&b, &nkeys) != 0 || nkeys != 1 ||
	    blob_get_string(&b, &pub, &publen) != 0 ||
	    blob_get_string(&b, &sec, &seclen) != 0 || !blob_empty(&b) ||
	    seclen % PK_BLOCK != 0)
		goto out;
	if ((r = key_from_blob(pub, publen, &k->pub)) != 0) {
		r = r == KB_ERR_NOMEM ? r : KB_ERR_PRIVKEY;
		goto out;
	}
	r = KB_ERR_PRIVKEY;
	blob_init(&priv, sec, seclen);
	if (blob_get_u32(&priv, &check1) != 0 ||
	    blob_get_u32(&priv, &check2) != 0 || check1 != check2 ||
	    blob_get_string(&priv, &type, &typelen) != 0 ||
	    typelen != strlen(key_type_name(k->pub)) ||
	    memcmp(type, key_type_name(k->pub), typelen) != 0)
		goto out;
	if ((r = pk_private_pkey(k->pub, &priv, &k->pkey, &pubw)) != 0)
		goto out;
	r = KB_ERR_PRIVKEY;
	if (blob_get_string(&priv, &comment, &commentlen) != 0 ||
	    priv.left >= PK_BLOCK ||
	    blob_get_raw(&priv, priv.left, &pad) != 0)
		goto out;
	for (i = 0; i < (size_t)(priv.p - pad); i++) {
		if (pad[i] != i + 1)
			goto out;
	}
	/* the private half must belong to the public key written beside it */
	if ((r = blob_w_done(&pubw, &mine, &minelen)) != 0)
		goto out;
	if (minelen != publen || memcmp(mine, pub, publen) != 0) {
		r = KB_ERR_PRIVKEY;
		goto out;
	}
	/* and must sign for it */
	if ((r = sig_sign_raw(k, probe, sizeof(probe), &sig, &siglen)) != 0)
		goto out;
	if (sig_verify_raw(k->pub, probe, sizeof(probe), sig, siglen) != 0) {
		r = KB_ERR_PRIVKEY;
		goto out;
	}
	r = 0;
 out:
	blob_w_free(&pubw);
	free(mine);
	free(sig);
	return r;
}

int
sshsig_privkey_parse(const char *text, size_t len, struct kb_privkey **kp)
{
	struct kb_privkey *k = NULL;
	unsigned char *bin = NULL;
	size_t binlen = 0;
	int r = KB_ERR_INTERNAL;

	if (kp != NULL)
		*kp = NULL;
	if (text == NULL || kp == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = sig_dearmor_any(text, len, PK_BEGIN, PK_END,
	    SSHSIG_PRIVKEY_MAX, KB_ERR_PRIVKEY, &bin, &binlen)) != 0)
		goto out;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if ((r = pk_parse_binary(bin, binlen, k)) != 0)
		goto out;
	*kp = k;
	k = NULL;
	r = 0;
 out:
	if (bin != NULL) {
		explicit_bzero(bin, binlen);
		free(bin);
	}
	sshsig_privkey_free(k);
	return r;
}

int
sshsig_privkey_load(const char *path, struct kb_privkey **kp)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, r = KB_ERR_INTERNAL;

	if (kp != NULL)
		*kp = NULL;
	if (path == NULL || kp == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		r = KB_ERR_CONFIG_OPEN;
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		r = KB_ERR_SYSTEM;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 ||
	    (st.st_uid != getuid() && st.st_uid != 0)) {
		r = KB_ERR_CONFIG_PERM;
		goto out;
	}
	if (st.st_size > SSHSIG_PRIVKEY_MAX) {
		r = KB_ERR_TOO_LONG;
		goto out;
	}
	if ((buf = malloc(SSHSIG_PRIVKEY_MAX + 1)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if ((r = fd_read_bounded(fd, buf, SSHSIG_PRIVKEY_MAX, &len)) != 0)
		goto out;
	r = sshsig_privkey_parse(buf, len, kp);
 out:
	if (buf != NULL) {
		explicit_bzero(buf, SSHSIG_PRIVKEY_MAX + 1);
		free(buf);
	}
	if (fd != -1)
		close(fd);
	return r;
}

const struct kb_key *
sshsig_privkey_public(const struct kb_privkey *k)
{
	return k->pub;
}

void
sshsig_privkey_free(struct kb_privkey *k)
{
	if (k == NULL)
		return;
	key_free(k->pub);
	if (k->pkey != NULL)		/* only made once libcrypto is loaded */
		sc.EVP_PKEY_free(k->pkey);
	free(k);
}
