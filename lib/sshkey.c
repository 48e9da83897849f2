/*
 * sshkey.c - the SSH public key model.  The only file that hands key
 * material to libcrypto.
 *
 * libcrypto is not linked: it is loaded with dlopen() the first time a key
 * needs it (RSA and ECDSA validation, MD5 fingerprints), like libldap in
 * directory.c.  keybound-keys runs twice per key login and most runs need
 * no libcrypto at all: a cache hit re-checks stored keys structurally
 * (KB_KEY_STRUCTURAL), Ed25519 keys need only a length check, SHA-256
 * fingerprints come from sha256.c.  Mapping and initialising OpenSSL 3
 * costs about 1.2 ms and 2.5 MiB per process; linking it with lazy
 * binding would still map it and run its constructors, and validating
 * curve points or RSA numbers with our own bignum code would trade that
 * for code nobody reviews.  The point and key checks stay OpenSSL's.
 *
 * A key line is split into [options] TYPE BASE64 [comment]; the options are
 * at most syntax-checked, the comment is dropped, and only the decoded blob
 * is kept.  Everything printed later (fingerprints, canonical lines) is
 * computed from that blob, so no byte of the input line but the key itself
 * can ever reach sshd.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "kb.h"
#include "b64.h"
#include "blob.h"
#include "keyopts.h"
#include "names.h"
#include "sha256.h"
#include "sshkey.h"

#define KEY_ED25519_LEN		32
#define KEY_SK_APP_MAX		256	/* longest sk application string */
#define KEY_RSA_MIN_BITS	1024	/* below this OpenSSH refuses to load */
#define KEY_RSA_MAX_BITS	16384	/* above this OpenSSH refuses to load */

struct key_type_info {
	const char *name;		/* wire and text name */
	enum kb_keytype type;
	const char *label;		/* as ssh-keygen -l prints it */
	const char *curve;		/* ECDSA: curve name inside the blob */
	int nid;			/* ECDSA: OpenSSL curve */
	unsigned bits;			/* fixed size, 0 for RSA */
	size_t field;			/* ECDSA: bytes per coordinate */
};

static const struct key_type_info key_types[] = {
	{ "ssh-ed25519", KB_KT_ED25519, "ED25519", NULL, NID_undef, 256, 0 },
	{ "ecdsa-sha2-nistp256", KB_KT_ECDSA_P256, "ECDSA", "nistp256",
	    NID_X9_62_prime256v1, 256, 32 },
	{ "ecdsa-sha2-nistp384", KB_KT_ECDSA_P384, "ECDSA", "nistp384",
	    NID_secp384r1, 384, 48 },
	{ "ecdsa-sha2-nistp521", KB_KT_ECDSA_P521, "ECDSA", "nistp521",
	    NID_secp521r1, 521, 66 },
	{ "sk-ssh-ed25519@openssh.com", KB_KT_SK_ED25519, "ED25519-SK", NULL,
	    NID_undef, 256, 0 },
	{ "sk-ecdsa-sha2-nistp256@openssh.com", KB_KT_SK_ECDSA, "ECDSA-SK",
	    "nistp256", NID_X9_62_prime256v1, 256, 32 },
	{ "ssh-rsa", KB_KT_RSA, "RSA", NULL, NID_undef, 0, 0 },
};

#define KEY_DSA_NAME	"ssh-dss"

/* libcrypto's SONAME, from the libcrypto the tree is built against. */
#ifndef KB_CRYPTO_SONAME
#error "KB_CRYPTO_SONAME must name libcrypto's SONAME (set by the Makefile)"
#endif
_Static_assert(sizeof(KB_CRYPTO_SONAME) > 1, "KB_CRYPTO_SONAME is empty");

/* Every libcrypto function this file calls. */
#define KEY_CRYPTO_FUNCS(X) \
	X(BN_CTX_end) \
	X(BN_CTX_free) \
	X(BN_CTX_get) \
	X(BN_CTX_new) \
	X(BN_CTX_start) \
	X(BN_bin2bn) \
	X(BN_cmp) \
	X(BN_free) \
	X(BN_is_odd) \
	X(BN_is_one) \
	X(BN_num_bits) \
	X(BN_sub) \
	X(BN_value_one) \
	X(EC_GROUP_free) \
	X(EC_GROUP_get0_order) \
	X(EC_GROUP_get_degree) \
	X(EC_GROUP_new_by_curve_name) \
	X(EC_POINT_free) \
	X(EC_POINT_get_affine_coordinates) \
	X(EC_POINT_is_at_infinity) \
	X(EC_POINT_new) \
	X(EC_POINT_oct2point) \
	X(EVP_Digest) \
	X(EVP_PKEY_CTX_free) \
	X(EVP_PKEY_CTX_new_from_name) \
	X(EVP_PKEY_CTX_new_from_pkey) \
	X(EVP_PKEY_free) \
	X(EVP_PKEY_fromdata) \
	X(EVP_PKEY_fromdata_init) \
	X(EVP_PKEY_get_bits) \
	X(EVP_PKEY_public_check) \
	X(EVP_md5) \
	X(OBJ_nid2sn) \
	X(OPENSSL_init_crypto) \
	X(OSSL_PARAM_BLD_free) \
	X(OSSL_PARAM_BLD_new) \
	X(OSSL_PARAM_BLD_push_BN) \
	X(OSSL_PARAM_BLD_to_param) \
	X(OSSL_PARAM_construct_end) \
	X(OSSL_PARAM_construct_octet_string) \
	X(OSSL_PARAM_construct_utf8_string) \
	X(OSSL_PARAM_free)

/* One pointer per function, of the exact type the headers declare. */
#define KEY_CRYPTO_FIELD(name)	__typeof__(name) *name;
static struct {
	KEY_CRYPTO_FUNCS(KEY_CRYPTO_FIELD)
} kc;
#undef KEY_CRYPTO_FIELD

static pthread_once_t kc_once = PTHREAD_ONCE_INIT;
static int kc_status = KB_ERR_CRYPTO;	/* 0: every symbol resolved */

/*
 * Load libcrypto and resolve the table, once per process; the handle is
 * never closed (OpenSSL keeps global state).  A program that links
 * libcrypto itself (the admin CLI) gets the copy it already has.
 */
static void
kc_load_once(void)
{
	void *h, *sym;

	if ((h = dlopen(KB_CRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL)
		goto fail;
	/* POSIX lets dlsym()'s result be converted to a function pointer. */
#define KEY_CRYPTO_RESOLVE(name) \
	if ((sym = dlsym(h, #name)) == NULL) \
		goto fail; \
	kc.name = (__typeof__(kc.name))sym;
	KEY_CRYPTO_FUNCS(KEY_CRYPTO_RESOLVE)
#undef KEY_CRYPTO_RESOLVE
	/* public keys and digests need no openssl.cnf (0.4 ms to read) */
	if (kc.OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
		goto fail;
	kc_status = 0;
	return;
 fail:
	memset(&kc, 0, sizeof(kc));
	kc_status = KB_ERR_CRYPTO;
}

/* 0 when libcrypto is loaded, else KB_ERR_CRYPTO.  Any thread. */
static int
kc_load(void)
{
	if (pthread_once(&kc_once, kc_load_once) != 0)
		return KB_ERR_CRYPTO;
	return kc_status;
}

struct kb_key {
	const struct key_type_info *ti;
	unsigned bits;
	unsigned char *blob;
	size_t bloblen;
	char *application;		/* sk- keys only */
};

static const struct key_type_info *
key_type_lookup(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
		if (strlen(key_types[i].name) == len &&
		    memcmp(key_types[i].name, s, len) == 0)
			return &key_types[i];
	}
	return NULL;
}

static int
key_is_dsa_name(const char *s, size_t len)
{
	return len == strlen(KEY_DSA_NAME) && memcmp(s, KEY_DSA_NAME, len) == 0;
}

/*
 * ECDSA point checks: uncompressed encoding of the right size, on the
 * curve, not infinity, in the prime-order subgroup (EVP public check), and
 * OpenSSH's extra bounds (sshkey_ec_validate_public), so that every key we
 * accept is also one sshd accepts.
 */
static int
key_check_ec_point(const struct key_type_info *ti, const unsigned char *q,
    size_t qlen)
{
	EC_GROUP *group = NULL;
	EC_POINT *point = NULL;
	BN_CTX *bnctx = NULL;
	BIGNUM *x, *y, *limit;
	const BIGNUM *order;
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *pctx = NULL, *cctx = NULL;
	EVP_PKEY *pkey = NULL;
	unsigned char *qcopy = NULL;
	const char *group_name;
	size_t field;
	int r;

	if ((r = kc_load()) != 0)
		return r;
	r = KB_ERR_CRYPTO;
	if ((bnctx = kc.BN_CTX_new()) == NULL)
		goto out;
	kc.BN_CTX_start(bnctx);
	if ((group = kc.EC_GROUP_new_by_curve_name(ti->nid)) == NULL ||
	    (point = kc.EC_POINT_new(group)) == NULL ||
	    (group_name = kc.OBJ_nid2sn(ti->nid)) == NULL)
		goto out;
	x = kc.BN_CTX_get(bnctx);
	y = kc.BN_CTX_get(bnctx);
	if ((limit = kc.BN_CTX_get(bnctx)) == NULL)
		goto out;
	field = ((size_t)kc.EC_GROUP_get_degree(group) + 7) / 8;
	r = KB_ERR_KEY_INVALID;
	if (qlen != 1 + 2 * field || q[0] != POINT_CONVERSION_UNCOMPRESSED)
		goto out;
	/* oct2point refuses points that are not on the curve */
	if (kc.EC_POINT_oct2point(group, point, q, qlen, bnctx) != 1 ||
	    kc.EC_POINT_is_at_infinity(group, point) ||
	    kc.EC_POINT_get_affine_coordinates(group, point, x, y,
	    bnctx) != 1)
		goto out;
	if ((order = kc.EC_GROUP_get0_order(group)) == NULL ||
	    !kc.BN_sub(limit, order, kc.BN_value_one())) {
		r = KB_ERR_CRYPTO;
		goto out;
	}
	if (kc.BN_num_bits(x) <= kc.BN_num_bits(order) / 2 ||
	    kc.BN_num_bits(y) <= kc.BN_num_bits(order) / 2 ||
	    kc.BN_cmp(x, limit) >= 0 || kc.BN_cmp(y, limit) >= 0)
		goto out;

	/* the same point as an OpenSSL 3 key, then its public check */
	if ((qcopy = malloc(qlen)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	memcpy(qcopy, q, qlen);
	params[0] = kc.OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)(uintptr_t)group_name, 0);
	params[1] = kc.OSSL_PARAM_construct_octet_string(
	    OSSL_PKEY_PARAM_PUB_KEY, qcopy, qlen);
	params[2] = kc.OSSL_PARAM_construct_end();
	if ((pctx = kc.EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    kc.EVP_PKEY_fromdata_init(pctx) != 1) {
		r = KB_ERR_CRYPTO;
		goto out;
	}
	if (kc.EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY,
	    params) != 1)
		goto out;
	if ((cctx = kc.EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL) {
		r = KB_ERR_CRYPTO;
		goto out;
	}
	if (kc.EVP_PKEY_public_check(cctx) != 1)
		goto out;
	r = 0;
 out:
	kc.EVP_PKEY_CTX_free(cctx);
	kc.EVP_PKEY_free(pkey);
	kc.EVP_PKEY_CTX_free(pctx);
	free(qcopy);
	if (bnctx != NULL)
		kc.BN_CTX_end(bnctx);
	kc.BN_CTX_free(bnctx);
	kc.EC_POINT_free(point);
	kc.EC_GROUP_free(group);
	return r;
}

/* Bits of a minimal big-endian positive number (first byte not 0). */
static unsigned
key_num_bits(const unsigned char *p, size_t len)
{
	unsigned bits = 8 * (unsigned)(len - 1);
	unsigned char top = p[0];

	for (; top != 0; top >>= 1)
		bits++;
	return bits;
}

/*
 * RSA numbers, from their bytes: n odd, of a size OpenSSH loads; e odd,
 * >= 3, below n.  Both are minimal (blob_get_positive_mpint): no leading
 * zero byte, not zero.  *bitsp gets the bits of n.
 */
static int
key_check_rsa_numbers(const unsigned char *e, size_t elen,
    const unsigned char *n, size_t nlen, unsigned *bitsp)
{
	*bitsp = 0;
	if (nlen > KEY_RSA_MAX_BITS / 8 || elen > nlen)
		return KB_ERR_KEY_INVALID;
	if (key_num_bits(n, nlen) < KEY_RSA_MIN_BITS)
		return KB_ERR_KEY_RSA_TOO_SMALL;
	if ((n[nlen - 1] & 1) == 0 || (e[elen - 1] & 1) == 0 ||
	    (elen == 1 && e[0] == 1) ||
	    (elen == nlen && memcmp(e, n, nlen) >= 0))
		return KB_ERR_KEY_INVALID;
	*bitsp = key_num_bits(n, nlen);
	return 0;
}

/*
 * The same numbers through libcrypto (checked again as BIGNUMs), and the
 * pair constructible as an OpenSSL 3 key of the same size.
 */
static int
key_check_rsa(const unsigned char *e, size_t elen, const unsigned char *n,
    size_t nlen, unsigned *bitsp)
{
	BIGNUM *bn_e = NULL, *bn_n = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	int bits, r;

	if ((r = key_check_rsa_numbers(e, elen, n, nlen, bitsp)) != 0)
		return r;
	*bitsp = 0;
	if ((r = kc_load()) != 0)
		return r;
	r = KB_ERR_CRYPTO;
	if ((bn_e = kc.BN_bin2bn(e, (int)elen, NULL)) == NULL ||
	    (bn_n = kc.BN_bin2bn(n, (int)nlen, NULL)) == NULL)
		goto out;
	if ((bits = kc.BN_num_bits(bn_n)) < KEY_RSA_MIN_BITS) {
		r = KB_ERR_KEY_RSA_TOO_SMALL;
		goto out;
	}
	r = KB_ERR_KEY_INVALID;
	if (!kc.BN_is_odd(bn_n) || !kc.BN_is_odd(bn_e) ||
	    kc.BN_is_one(bn_e) || kc.BN_cmp(bn_e, bn_n) >= 0)
		goto out;
	r = KB_ERR_CRYPTO;
	if ((bld = kc.OSSL_PARAM_BLD_new()) == NULL ||
	    !kc.OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !kc.OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
	    (params = kc.OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pctx = kc.EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    kc.EVP_PKEY_fromdata_init(pctx) != 1)
		goto out;
	if (kc.EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY,
	    params) != 1 || kc.EVP_PKEY_get_bits(pkey) != bits) {
		r = KB_ERR_KEY_INVALID;
		goto out;
	}
	*bitsp = (unsigned)bits;
	r = 0;
 out:
	kc.EVP_PKEY_free(pkey);
	kc.EVP_PKEY_CTX_free(pctx);
	kc.OSSL_PARAM_free(params);
	kc.OSSL_PARAM_BLD_free(bld);
	kc.BN_free(bn_e);
	kc.BN_free(bn_n);
	return r;
}

/* The sk application string: non-empty printable ASCII, bounded. */
static int
key_get_sk_application(struct kb_blob *b, char **appp)
{
	const unsigned char *p;
	size_t n, i;
	char *app;
	int r;

	*appp = NULL;
	if ((r = blob_get_string(b, &p, &n)) != 0)
		return r;
	if (n == 0 || n > KEY_SK_APP_MAX)
		return KB_ERR_KEY_INVALID;
	for (i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] > 0x7e)
			return KB_ERR_KEY_INVALID;
	}
	if ((app = malloc(n + 1)) == NULL)
		return KB_ERR_NOMEM;
	memcpy(app, p, n);
	app[n] = '\0';
	*appp = app;
	return 0;
}

/*
 * ECDSA body: curve name, point.  KB_KEY_STRUCTURAL stops at the point's
 * encoding (uncompressed, the curve's size); otherwise libcrypto checks
 * the point itself.
 */
static int
key_parse_ecdsa(const struct key_type_info *ti, struct kb_blob *b,
    unsigned flags)
{
	const unsigned char *curve, *q;
	size_t curvelen, qlen;
	int r;

	if ((r = blob_get_string(b, &curve, &curvelen)) != 0)
		return r;
	if (curvelen != strlen(ti->curve) ||
	    memcmp(curve, ti->curve, curvelen) != 0)
		return KB_ERR_KEY_CURVE_MISMATCH;
	if ((r = blob_get_string(b, &q, &qlen)) != 0)
		return r;
	if (qlen != 1 + 2 * ti->field || q[0] != POINT_CONVERSION_UNCOMPRESSED)
		return KB_ERR_KEY_INVALID;
	if (flags & KB_KEY_STRUCTURAL)
		return 0;
	return key_check_ec_point(ti, q, qlen);
}

/* Ed25519 body: exactly 32 bytes of public key. */
static int
key_parse_ed25519(struct kb_blob *b)
{
	const unsigned char *pk;
	size_t pklen;
	int r;

	if ((r = blob_get_string(b, &pk, &pklen)) != 0)
		return r;
	return pklen == KEY_ED25519_LEN ? 0 : KB_ERR_KEY_INVALID;
}

/* RSA body: e, n; KB_KEY_STRUCTURAL checks the numbers' bytes only. */
static int
key_parse_rsa(struct kb_blob *b, unsigned flags, unsigned *bitsp)
{
	const unsigned char *e, *n;
	size_t elen, nlen;
	int r;

	if ((r = blob_get_positive_mpint(b, &e, &elen)) != 0 ||
	    (r = blob_get_positive_mpint(b, &n, &nlen)) != 0)
		return r;
	if (flags & KB_KEY_STRUCTURAL)
		return key_check_rsa_numbers(e, elen, n, nlen, bitsp);
	return key_check_rsa(e, elen, n, nlen, bitsp);
}

/* Validate a whole blob against its declared type; fill k's fields. */
static int
key_parse_blob(const struct key_type_info *ti, const unsigned char *blob,
    size_t len, unsigned flags, struct kb_key *k)
{
	struct kb_blob b;
	const unsigned char *name;
	size_t namelen;
	int r;

	blob_init(&b, blob, len);
	if ((r = blob_get_string(&b, &name, &namelen)) != 0)
		return r;
	if (namelen != strlen(ti->name) || memcmp(name, ti->name, namelen) != 0)
		return KB_ERR_KEY_TYPE_MISMATCH;
	k->bits = ti->bits;
	switch (ti->type) {
	case KB_KT_ED25519:
		r = key_parse_ed25519(&b);
		break;
	case KB_KT_SK_ED25519:
		if ((r = key_parse_ed25519(&b)) == 0)
			r = key_get_sk_application(&b, &k->application);
		break;
	case KB_KT_ECDSA_P256:
	case KB_KT_ECDSA_P384:
	case KB_KT_ECDSA_P521:
		r = key_parse_ecdsa(ti, &b, flags);
		break;
	case KB_KT_SK_ECDSA:
		if ((r = key_parse_ecdsa(ti, &b, flags)) == 0)
			r = key_get_sk_application(&b, &k->application);
		break;
	case KB_KT_RSA:
		r = key_parse_rsa(&b, flags, &k->bits);
		break;
	default:
		r = KB_ERR_INTERNAL;
		break;
	}
	if (r != 0)
		return r;
	return blob_empty(&b) ? 0 : KB_ERR_KEY_TRAILING;
}

/*
 * End of a token starting at p, the way sshd skips an options prefix
 * (sshkey_advance_past_options): spaces inside "..." do not end it, \"
 * never toggles quoting.  *unterminated is set for an open quote.
 */
static size_t
key_token_len(const char *p, size_t left, int *unterminated)
{
	size_t i;
	int quoted = 0;

	for (i = 0; i < left && (quoted || p[i] != ' '); i++) {
		if (p[i] == '\\' && i + 1 < left && p[i + 1] == '"')
			i++;
		else if (p[i] == '"')
			quoted = !quoted;
	}
	*unterminated = quoted;
	return i;
}

static size_t
key_skip_spaces(const char *p, size_t left)
{
	size_t i;

	for (i = 0; i < left && p[i] == ' '; i++)
		;
	return i;
}

/* 1 if the token names a type we recognise (including the refused DSA). */
static int
key_is_type_token(const char *p, size_t n)
{
	return key_type_lookup(p, n) != NULL || key_is_dsa_name(p, n);
}

/* 1 if the token holds a byte only an options prefix would: '"', '=', ','. */
static int
key_token_has_option_syntax(const char *p, size_t n)
{
	return memchr(p, '"', n) != NULL || memchr(p, '=', n) != NULL ||
	    memchr(p, ',', n) != NULL;
}

/*
 * Find TYPE and BASE64 in a byte-checked line, dealing with an options
 * prefix according to flags.
 */
static int
key_split_line(const char *line, size_t len, unsigned flags,
    const char **typep, size_t *typelenp, const char **b64p, size_t *b64lenp)
{
	const char *p = line, *end = line + len, *next;
	size_t tok, nexttok;
	int open_quote, dummy, r;

	p += key_skip_spaces(p, (size_t)(end - p));
	if (p == end)
		return KB_ERR_KEY_FORMAT;
	tok = key_token_len(p, (size_t)(end - p), &open_quote);
	if (!key_is_type_token(p, tok)) {
		next = p + tok;
		next += key_skip_spaces(next, (size_t)(end - next));
		nexttok = key_token_len(next, (size_t)(end - next), &dummy);
		if (!key_is_type_token(next, nexttok) &&
		    !key_token_has_option_syntax(p, tok)) {
			/* not options: an unknown type, or no key at all */
			return nexttok == 0 ? KB_ERR_KEY_FORMAT :
			    KB_ERR_KEY_UNKNOWN_TYPE;
		}
		if ((flags & KB_KEY_ALLOW_OPTIONS) == 0)
			return KB_ERR_KEY_OPTIONS;
		if (open_quote)
			return KB_ERR_OPT_SYNTAX;
		if ((r = opts_check_syntax(p, tok)) != 0)
			return r;
		p = next;
		tok = nexttok;
		if (tok == 0)
			return KB_ERR_KEY_FORMAT;
		if (!key_is_type_token(p, tok))
			return KB_ERR_KEY_UNKNOWN_TYPE;
	}
	*typep = p;
	*typelenp = tok;
	p += tok;
	p += key_skip_spaces(p, (size_t)(end - p));
	for (tok = 0; p + tok < end && p[tok] != ' '; tok++)
		;
	if (tok == 0)
		return KB_ERR_KEY_FORMAT;
	*b64p = p;
	*b64lenp = tok;
	return 0;		/* the rest is the comment: dropped */
}

int
key_parse_line(const char *line, size_t len, unsigned flags,
    struct kb_key **keyp)
{
	struct kb_key *k = NULL;
	const struct key_type_info *ti;
	const char *type = NULL, *b64 = NULL;
	unsigned char *blob = NULL;
	size_t i, typelen = 0, b64len = 0, bloblen = 0;
	int r = KB_ERR_INTERNAL;

	if (keyp != NULL)
		*keyp = NULL;
	if (line == NULL || keyp == NULL ||
	    (flags & ~(unsigned)(KB_KEY_ALLOW_OPTIONS | KB_KEY_STRUCTURAL)) !=
	    0) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if (len > KB_KEY_LINE_MAX) {
		r = KB_ERR_TOO_LONG;
		goto out;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)line[i] < 0x20 ||
		    (unsigned char)line[i] > 0x7e) {
			r = KB_ERR_KEY_BAD_BYTE;
			goto out;
		}
	}
	if ((r = key_split_line(line, len, flags, &type, &typelen,
	    &b64, &b64len)) != 0)
		goto out;
	if (key_is_dsa_name(type, typelen)) {
		r = KB_ERR_KEY_DSA;
		goto out;
	}
	if ((ti = key_type_lookup(type, typelen)) == NULL) {
		r = KB_ERR_KEY_UNKNOWN_TYPE;
		goto out;
	}
	if ((r = b64_decode_strict(b64, b64len, &blob, &bloblen)) != 0)
		goto out;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	k->ti = ti;
	if ((r = key_parse_blob(ti, blob, bloblen, flags, k)) != 0)
		goto out;
	k->blob = blob;
	k->bloblen = bloblen;
	blob = NULL;
	*keyp = k;
	k = NULL;
	r = 0;
 out:
	free(blob);
	key_free(k);
	return r;
}

int
key_from_blob(const unsigned char *blob, size_t len, struct kb_key **keyp)
{
	struct kb_key *k = NULL;
	const struct key_type_info *ti;
	struct kb_blob b;
	const unsigned char *type;
	size_t typelen;
	int r = KB_ERR_INTERNAL;

	if (keyp != NULL)
		*keyp = NULL;
	if (blob == NULL || keyp == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if (len > KB_KEY_LINE_MAX) {
		r = KB_ERR_TOO_LONG;
		goto out;
	}
	blob_init(&b, blob, len);
	if ((r = blob_get_string(&b, &type, &typelen)) != 0)
		goto out;
	if (key_is_dsa_name((const char *)type, typelen)) {
		r = KB_ERR_KEY_DSA;
		goto out;
	}
	if ((ti = key_type_lookup((const char *)type, typelen)) == NULL) {
		r = KB_ERR_KEY_UNKNOWN_TYPE;
		goto out;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->blob = malloc(len)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	k->ti = ti;
	if ((r = key_parse_blob(ti, blob, len, 0, k)) != 0)
		goto out;
	memcpy(k->blob, blob, len);
	k->bloblen = len;
	*keyp = k;
	k = NULL;
	r = 0;
 out:
	key_free(k);
	return r;
}

void
key_free(struct kb_key *k)
{
	if (k == NULL)
		return;
	free(k->blob);
	free(k->application);
	free(k);
}

const char *
key_type_name(const struct kb_key *k)
{
	return k->ti->name;
}

enum kb_keytype
key_type(const struct kb_key *k)
{
	return k->ti->type;
}

unsigned
key_bits(const struct kb_key *k)
{
	return k->bits;
}

const char *
key_type_label(const struct kb_key *k)
{
	return k->ti->label;
}

const char *
key_sk_application(const struct kb_key *k)
{
	return k->application;
}

int
key_fingerprint_sha256(const struct kb_key *k, char **fpp)
{
	unsigned char md[KB_SHA256_LEN];
	char *fp = NULL;
	int r = KB_ERR_INTERNAL;

	*fpp = NULL;
	if (k == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	sha256(k->blob, k->bloblen, md);
	if ((r = b64_unpadded("SHA256:", md, sizeof(md), &fp)) != 0)
		goto out;
	*fpp = fp;
	fp = NULL;
	r = 0;
 out:
	free(fp);
	return r;
}

int
key_fingerprint_md5(const struct kb_key *k, char **fpp)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[MD5_DIGEST_LENGTH];
	char *fp = NULL;
	size_t i, o;
	int r = KB_ERR_INTERNAL;

	*fpp = NULL;
	if (k == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = kc_load()) != 0)
		goto out;
	if (kc.EVP_Digest(k->blob, k->bloblen, md, NULL, kc.EVP_md5(),
	    NULL) != 1) {
		r = KB_ERR_CRYPTO;
		goto out;
	}
	/* "MD5:" + "aa:" per byte, the last ':' becomes the NUL */
	if ((fp = malloc(4 + 3 * sizeof(md))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	memcpy(fp, "MD5:", 4);
	for (i = 0, o = 4; i < sizeof(md); i++) {
		fp[o++] = hex[md[i] >> 4];
		fp[o++] = hex[md[i] & 0x0f];
		fp[o++] = i + 1 < sizeof(md) ? ':' : '\0';
	}
	*fpp = fp;
	fp = NULL;
	r = 0;
 out:
	free(fp);
	return r;
}

const unsigned char *
key_blob(const struct kb_key *k, size_t *lenp)
{
	*lenp = k->bloblen;
	return k->blob;
}

int
key_equal(const struct kb_key *a, const struct kb_key *b)
{
	if (a == NULL || b == NULL)
		return 0;
	return a->bloblen == b->bloblen &&
	    memcmp(a->blob, b->blob, a->bloblen) == 0;
}

int
key_policy_check(const struct kb_key *k, unsigned allowed_mask,
    unsigned min_rsa_bits)
{
	if (k == NULL)
		return KB_ERR_INVALID_ARG;
	if ((allowed_mask & (unsigned)k->ti->type) == 0)
		return KB_ERR_KEY_TYPE_REFUSED;
	if (k->ti->type == KB_KT_RSA && k->bits < min_rsa_bits)
		return KB_ERR_KEY_RSA_TOO_SMALL;
	return 0;
}

/*
 * The shared renderer: options (may be NULL), type and base64 re-encoded
 * from the blob, and "keybound:NAME" when name is not NULL.
 */
static int
key_render(const struct kb_key *k, const struct kb_keyopts *opts,
    const char *name, char **linep)
{
	char *optstr = NULL, *b64 = NULL, *line = NULL;
	size_t need;
	int n, r = KB_ERR_INTERNAL;

	*linep = NULL;
	if (k == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if (opts != NULL && (r = opts_render(opts, &optstr)) != 0)
		goto out;
	if ((r = b64_encode(k->blob, k->bloblen, &b64)) != 0)
		goto out;
	need = (optstr == NULL ? 0 : strlen(optstr) + 1) +
	    strlen(k->ti->name) + 1 + strlen(b64) +
	    (name == NULL ? 0 : strlen(" keybound:") + strlen(name)) + 1;
	if ((line = malloc(need)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	n = snprintf(line, need, "%s%s%s %s%s%s",
	    optstr == NULL ? "" : optstr,
	    optstr == NULL || *optstr == '\0' ? "" : " ",
	    k->ti->name, b64,
	    name == NULL ? "" : " keybound:", name == NULL ? "" : name);
	if (n < 0 || (size_t)n >= need) {
		r = KB_ERR_INTERNAL;
		goto out;
	}
	*linep = line;
	line = NULL;
	r = 0;
 out:
	free(line);
	free(b64);
	free(optstr);
	return r;
}

int
key_public_text(const struct kb_key *k, char **textp)
{
	*textp = NULL;
	if (k == NULL)
		return KB_ERR_INVALID_ARG;
	return key_render(k, NULL, NULL, textp);
}

int
key_render_line(const struct kb_key *k, const struct kb_keyopts *opts,
    const char *name, char **linep)
{
	int r;

	*linep = NULL;
	if (k == NULL || name == NULL)
		return KB_ERR_INVALID_ARG;
	if ((r = name_keypair_valid(name)) != 0)
		return r;
	return key_render(k, opts, name, linep);
}
