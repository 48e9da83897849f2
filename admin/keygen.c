/*
 * keygen.c - key pair generation for `keybound create` and the private key
 * files ssh loads: OpenSSH's openssh-key-v1 format for Ed25519 (OpenSSH
 * 9.2 does not load PKCS#8 Ed25519), PKCS#8 PEM for RSA and ECDSA.
 *
 * Private key bytes only ever live in buffers this file wipes before
 * freeing; the caller gets the serialised file and wipes it.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "kb.h"
#include "b64.h"
#include "admin.h"

#define RSA_BITS_MIN		2048
#define RSA_BITS_MAX		16384
#define RSA_BITS_DEFAULT	3072
#define ECDSA_BITS_DEFAULT	256
#define ED25519_LEN		32

#define OSSH_MAGIC		"openssh-key-v1"	/* with its NUL */
#define OSSH_BEGIN		"-----BEGIN OPENSSH PRIVATE KEY-----\n"
#define OSSH_END		"-----END OPENSSH PRIVATE KEY-----\n"
#define OSSH_LINE		70	/* base64 columns, as ssh-keygen */
#define OSSH_CIPHER		"aes256-ctr"
#define OSSH_KDF		"bcrypt"
#define OSSH_SALT_LEN		16
#define OSSH_ROUNDS		16	/* ssh-keygen's default */
#define OSSH_KEY_LEN		32
#define OSSH_IV_LEN		16

struct keygen {
	enum keygen_type type;
	unsigned bits;
	EVP_PKEY *pkey;
	const char *ssh_type;
	unsigned char *blob;		/* public key, SSH wire format */
	size_t bloblen;
};

/* A growing output buffer that wipes what it drops. */
struct wbuf {
	unsigned char *p;
	size_t len;
	size_t cap;
	int err;
};

static void
wbuf_free(struct wbuf *w)
{
	if (w->p != NULL) {
		OPENSSL_cleanse(w->p, w->cap);
		free(w->p);
	}
	memset(w, 0, sizeof(*w));
}

static void
wbuf_put(struct wbuf *w, const void *data, size_t len)
{
	unsigned char *np;
	size_t ncap;

	if (w->err)
		return;
	if (len > SIZE_MAX / 2 - w->len) {
		w->err = KB_ERR_TOO_LONG;
		return;
	}
	if (w->len + len > w->cap) {
		ncap = w->cap ? w->cap : 256;
		while (ncap < w->len + len)
			ncap *= 2;
		/* no realloc: the old block may hold key material */
		if ((np = malloc(ncap)) == NULL) {
			w->err = KB_ERR_NOMEM;
			return;
		}
		if (w->len > 0)
			memcpy(np, w->p, w->len);
		if (w->p != NULL) {
			OPENSSL_cleanse(w->p, w->cap);
			free(w->p);
		}
		w->p = np;
		w->cap = ncap;
	}
	if (len > 0)
		memcpy(w->p + w->len, data, len);
	w->len += len;
}

static void
wbuf_put_u32(struct wbuf *w, uint32_t v)
{
	unsigned char b[4];

	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
	wbuf_put(w, b, sizeof(b));
}

static void
wbuf_put_string(struct wbuf *w, const void *data, size_t len)
{
	if (len > UINT32_MAX) {
		w->err = KB_ERR_TOO_LONG;
		return;
	}
	wbuf_put_u32(w, (uint32_t)len);
	wbuf_put(w, data, len);
}

static void
wbuf_put_cstring(struct wbuf *w, const char *s)
{
	wbuf_put_string(w, s, strlen(s));
}

/* An SSH mpint from a non-negative BIGNUM. */
static void
wbuf_put_bignum(struct wbuf *w, const BIGNUM *bn)
{
	unsigned char *b;
	int n;

	if (w->err)
		return;
	n = BN_num_bytes(bn);
	if ((b = malloc((size_t)n + 1)) == NULL) {
		w->err = KB_ERR_NOMEM;
		return;
	}
	b[0] = 0;
	if (BN_bn2bin(bn, b + 1) != n) {
		w->err = KB_ERR_CRYPTO;
	} else if (n > 0 && (b[1] & 0x80) != 0) {
		wbuf_put_string(w, b, (size_t)n + 1);
	} else
		wbuf_put_string(w, b + 1, (size_t)n);
	OPENSSL_cleanse(b, (size_t)n + 1);
	free(b);
}

int
keygen_check_bits(enum keygen_type type, unsigned *bitsp)
{
	unsigned bits = *bitsp;

	switch (type) {
	case KEYGEN_ED25519:
		if (bits != 0 && bits != 256)
			return KB_ERR_INVALID_ARG;
		*bitsp = 256;
		return 0;
	case KEYGEN_RSA:
		if (bits == 0)
			bits = RSA_BITS_DEFAULT;
		if (bits < RSA_BITS_MIN || bits > RSA_BITS_MAX)
			return KB_ERR_INVALID_ARG;
		*bitsp = bits;
		return 0;
	case KEYGEN_ECDSA:
		if (bits == 0)
			bits = ECDSA_BITS_DEFAULT;
		if (bits != 256 && bits != 384 && bits != 521)
			return KB_ERR_INVALID_ARG;
		*bitsp = bits;
		return 0;
	default:
		return KB_ERR_INVALID_ARG;
	}
}

static const char *
ecdsa_curve(unsigned bits, const char **ssh_typep)
{
	switch (bits) {
	case 256:
		*ssh_typep = "ecdsa-sha2-nistp256";
		return "P-256";
	case 384:
		*ssh_typep = "ecdsa-sha2-nistp384";
		return "P-384";
	case 521:
		*ssh_typep = "ecdsa-sha2-nistp521";
		return "P-521";
	default:
		*ssh_typep = NULL;
		return NULL;
	}
}

/* The public half in SSH wire format (RFC 4253 6.6, RFC 5656, RFC 8709). */
static int
keygen_make_blob(struct keygen *k)
{
	struct wbuf w;
	unsigned char pub[160];
	BIGNUM *n = NULL, *e = NULL;
	size_t publen = sizeof(pub);
	int r = KB_ERR_CRYPTO;

	memset(&w, 0, sizeof(w));
	wbuf_put_cstring(&w, k->ssh_type);
	switch (k->type) {
	case KEYGEN_ED25519:
		if (EVP_PKEY_get_raw_public_key(k->pkey, pub, &publen) != 1 ||
		    publen != ED25519_LEN)
			goto out;
		wbuf_put_string(&w, pub, publen);
		break;
	case KEYGEN_RSA:
		if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E,
		    &e) != 1 || EVP_PKEY_get_bn_param(k->pkey,
		    OSSL_PKEY_PARAM_RSA_N, &n) != 1)
			goto out;
		wbuf_put_bignum(&w, e);
		wbuf_put_bignum(&w, n);
		break;
	case KEYGEN_ECDSA:
		if (EVP_PKEY_get_octet_string_param(k->pkey,
		    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof(pub),
		    &publen) != 1 || publen < 1 || pub[0] != 0x04)
			goto out;
		/* "ecdsa-sha2-" is 11 bytes; the curve name follows */
		wbuf_put_cstring(&w, k->ssh_type + 11);
		wbuf_put_string(&w, pub, publen);
		break;
	default:
		r = KB_ERR_INTERNAL;
		goto out;
	}
	if ((r = w.err) != 0)
		goto out;
	k->blob = w.p;
	k->bloblen = w.len;
	w.p = NULL;
	r = 0;
 out:
	BN_free(n);
	BN_free(e);
	wbuf_free(&w);
	return r;
}

int
keygen_generate(enum keygen_type type, unsigned bits, struct keygen **kp)
{
	struct keygen *k = NULL;
	const char *curve;
	int r = KB_ERR_INTERNAL;

	*kp = NULL;
	if ((r = keygen_check_bits(type, &bits)) != 0)
		goto out;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	k->type = type;
	k->bits = bits;
	r = KB_ERR_CRYPTO;
	switch (type) {
	case KEYGEN_ED25519:
		k->ssh_type = "ssh-ed25519";
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	case KEYGEN_RSA:
		k->ssh_type = "ssh-rsa";
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
		break;
	case KEYGEN_ECDSA:
		if ((curve = ecdsa_curve(bits, &k->ssh_type)) == NULL)
			goto out;
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
		break;
	}
	if (k->pkey == NULL)
		goto out;
	if ((r = keygen_make_blob(k)) != 0)
		goto out;
	*kp = k;
	k = NULL;
	r = 0;
 out:
	keygen_free(k);
	return r;
}

void
keygen_free(struct keygen *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);		/* clears the private parts */
	free(k->blob);
	free(k);
}

int
keygen_public_line(const struct keygen *k, char **linep)
{
	char *b64 = NULL, *line = NULL;
	size_t len;
	int r = KB_ERR_INTERNAL;

	*linep = NULL;
	if ((r = b64_encode(k->blob, k->bloblen, &b64)) != 0)
		goto out;
	len = strlen(k->ssh_type) + 1 + strlen(b64) + 1;
	if ((line = malloc(len)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	snprintf(line, len, "%s %s", k->ssh_type, b64);
	*linep = line;
	line = NULL;
	r = 0;
 out:
	free(b64);
	free(line);
	return r;
}

/* Copy a memory BIO's contents into a malloc'ed buffer. */
static int
bio_take(BIO *bio, unsigned char **outp, size_t *lenp)
{
	char *data;
	long n;

	n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		return KB_ERR_CRYPTO;
	if ((*outp = malloc((size_t)n)) == NULL)
		return KB_ERR_NOMEM;
	memcpy(*outp, data, (size_t)n);
	*lenp = (size_t)n;
	return 0;
}

/* RSA and ECDSA: PKCS#8 PEM, PBES2 with AES-256 when encrypted. */
static int
keygen_pkcs8(const struct keygen *k, const char *pass, size_t passlen,
    unsigned char **outp, size_t *lenp)
{
	BIO *bio = NULL;
	int r = KB_ERR_CRYPTO;

	if (passlen > INT_MAX) {
		r = KB_ERR_TOO_LONG;
		goto out;
	}
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		goto out;
	if (PEM_write_bio_PKCS8PrivateKey(bio, k->pkey,
	    pass != NULL ? EVP_aes_256_cbc() : NULL, pass, (int)passlen,
	    NULL, NULL) != 1)
		goto out;
	r = bio_take(bio, outp, lenp);
 out:
	BIO_free(bio);		/* a secmem BIO clears its buffer */
	return r;
}

/* Pad the private section with 1, 2, 3, ... to a multiple of bs. */
static void
ossh_pad(struct wbuf *w, size_t start, size_t bs)
{
	unsigned char i = 1;

	while ((w->len - start) % bs != 0 && !w->err) {
		wbuf_put(w, &i, 1);
		i++;
	}
}

/* The private section of openssh-key-v1: check ints, key, comment. */
static int
ossh_private_section(const struct keygen *k, const char *comment,
    size_t blocksize, struct wbuf *w)
{
	unsigned char sk[2 * ED25519_LEN];
	size_t sklen = ED25519_LEN, publen = ED25519_LEN;
	uint32_t check;
	int r = KB_ERR_CRYPTO;

	if (RAND_bytes((unsigned char *)&check, sizeof(check)) != 1)
		goto out;
	if (EVP_PKEY_get_raw_private_key(k->pkey, sk, &sklen) != 1 ||
	    sklen != ED25519_LEN ||
	    EVP_PKEY_get_raw_public_key(k->pkey, sk + ED25519_LEN,
	    &publen) != 1 || publen != ED25519_LEN)
		goto out;
	wbuf_put_u32(w, check);
	wbuf_put_u32(w, check);
	wbuf_put_cstring(w, k->ssh_type);
	wbuf_put_string(w, sk + ED25519_LEN, ED25519_LEN);
	wbuf_put_string(w, sk, sizeof(sk));	/* seed || public */
	wbuf_put_cstring(w, comment);
	ossh_pad(w, 0, blocksize);
	r = w->err;
 out:
	OPENSSL_cleanse(sk, sizeof(sk));
	OPENSSL_cleanse(&check, sizeof(check));
	return r;
}

/* Encrypt buf in place with aes256-ctr keyed by bcrypt_pbkdf. */
static int
ossh_encrypt(unsigned char *buf, size_t len, const char *pass,
    size_t passlen, const unsigned char *salt)
{
	unsigned char keyiv[OSSH_KEY_LEN + OSSH_IV_LEN];
	EVP_CIPHER_CTX *ctx = NULL;
	int outl, r = KB_ERR_CRYPTO;

	if (len > INT_MAX) {
		r = KB_ERR_TOO_LONG;
		goto out;
	}
	if ((r = bcrypt_pbkdf(pass, passlen, salt, OSSH_SALT_LEN, keyiv,
	    sizeof(keyiv), OSSH_ROUNDS)) != 0)
		goto out;
	r = KB_ERR_CRYPTO;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, keyiv,
	    keyiv + OSSH_KEY_LEN) != 1 ||
	    EVP_EncryptUpdate(ctx, buf, &outl, buf, (int)len) != 1 ||
	    (size_t)outl != len)
		goto out;
	r = 0;
 out:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(keyiv, sizeof(keyiv));
	return r;
}

/* Base64 with OSSH_LINE columns between the armour lines. */
static int
ossh_armour(const struct wbuf *bin, unsigned char **outp, size_t *lenp)
{
	struct wbuf w;
	char *b64 = NULL;
	size_t i, n, b64len = 0;
	int r;

	memset(&w, 0, sizeof(w));
	if ((r = b64_encode(bin->p, bin->len, &b64)) != 0)
		goto out;
	b64len = strlen(b64);
	wbuf_put(&w, OSSH_BEGIN, strlen(OSSH_BEGIN));
	for (i = 0; i < b64len; i += n) {
		n = b64len - i < OSSH_LINE ? b64len - i : OSSH_LINE;
		wbuf_put(&w, b64 + i, n);
		wbuf_put(&w, "\n", 1);
	}
	wbuf_put(&w, OSSH_END, strlen(OSSH_END));
	if ((r = w.err) != 0)
		goto out;
	*outp = w.p;
	*lenp = w.len;
	w.p = NULL;
 out:
	if (b64 != NULL) {
		OPENSSL_cleanse(b64, b64len);
		free(b64);
	}
	wbuf_free(&w);
	return r;
}

/* Ed25519: openssh-key-v1 (OpenSSH's PROTOCOL.key). */
static int
keygen_openssh(const struct keygen *k, const char *comment,
    const char *pass, size_t passlen, unsigned char **outp, size_t *lenp)
{
	struct wbuf w, priv, kdf;
	unsigned char salt[OSSH_SALT_LEN];
	int r = KB_ERR_INTERNAL;

	memset(&w, 0, sizeof(w));
	memset(&priv, 0, sizeof(priv));
	memset(&kdf, 0, sizeof(kdf));
	if (pass != NULL) {
		if (passlen == 0) {
			r = KB_ERR_INVALID_ARG;
			goto out;
		}
		if (RAND_bytes(salt, sizeof(salt)) != 1) {
			r = KB_ERR_CRYPTO;
			goto out;
		}
		wbuf_put_string(&kdf, salt, sizeof(salt));
		wbuf_put_u32(&kdf, OSSH_ROUNDS);
	}
	if ((r = ossh_private_section(k, comment, pass != NULL ? 16 : 8,
	    &priv)) != 0 || (r = kdf.err) != 0)
		goto out;
	if (pass != NULL && (r = ossh_encrypt(priv.p, priv.len, pass,
	    passlen, salt)) != 0)
		goto out;
	wbuf_put(&w, OSSH_MAGIC, sizeof(OSSH_MAGIC));
	wbuf_put_cstring(&w, pass != NULL ? OSSH_CIPHER : "none");
	wbuf_put_cstring(&w, pass != NULL ? OSSH_KDF : "none");
	wbuf_put_string(&w, kdf.p, kdf.len);
	wbuf_put_u32(&w, 1);
	wbuf_put_string(&w, k->blob, k->bloblen);
	wbuf_put_string(&w, priv.p, priv.len);
	if ((r = w.err) != 0)
		goto out;
	r = ossh_armour(&w, outp, lenp);
 out:
	wbuf_free(&w);
	wbuf_free(&priv);
	wbuf_free(&kdf);
	return r;
}

int
keygen_private_pem(const struct keygen *k, const char *comment,
    const char *pass, size_t passlen, unsigned char **outp, size_t *lenp)
{
	*outp = NULL;
	*lenp = 0;
	switch (k->type) {
	case KEYGEN_ED25519:
		return keygen_openssh(k, comment, pass, passlen, outp, lenp);
	case KEYGEN_RSA:
	case KEYGEN_ECDSA:
		return keygen_pkcs8(k, pass, passlen, outp, lenp);
	default:
		return KB_ERR_INTERNAL;
	}
}
