/*
 * bcrypt_pbkdf.c - the key derivation OpenSSH uses for passphrase-protected
 * openssh-key-v1 files: a PBKDF2-like construction whose inner function is
 * bcrypt's expensive Blowfish key schedule over SHA-512 digests.
 *
 * libcrypto has no Eksblowfish, so Blowfish is here in full.  Its initial
 * state is the hexadecimal expansion of pi; rather than carry a 4 KiB table
 * we compute those digits with libcrypto's BIGNUM (Machin's formula) and
 * check the first words against the published ones.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "kb.h"
#include "admin.h"

#define BF_ROUNDS	16
#define BF_PWORDS	(BF_ROUNDS + 2)
#define BF_SWORDS	(4 * 256)
#define BF_WORDS	(BF_PWORDS + BF_SWORDS)
#define PI_BITS		(BF_WORDS * 32)
#define PI_GUARD	64

#define BCRYPT_WORDS	8
#define BCRYPT_HASHLEN	(BCRYPT_WORDS * 4)
#define BCRYPT_KEY_MAX	(BCRYPT_HASHLEN * BCRYPT_HASHLEN)

struct bf_state {
	uint32_t p[BF_PWORDS];
	uint32_t s[4][256];
};

/*
 * fix += sign * atan(1/x) * 2^bits (as a fixed-point BIGNUM), by the
 * alternating series; x*x must fit a BN_ULONG.
 */
static int
pi_add_atan(BIGNUM *fix, BN_ULONG x, int bits, int negate, BN_CTX *ctx)
{
	BIGNUM *term = NULL, *q = NULL;
	BN_ULONG k;
	int r = KB_ERR_CRYPTO, minus = negate;

	BN_CTX_start(ctx);
	if ((term = BN_CTX_get(ctx)) == NULL || (q = BN_CTX_get(ctx)) == NULL)
		goto out;
	if (BN_one(term) != 1 || BN_lshift(term, term, bits) != 1 ||
	    BN_div_word(term, x) == (BN_ULONG)-1)
		goto out;
	for (k = 1; !BN_is_zero(term); k += 2) {
		if (BN_copy(q, term) == NULL ||
		    BN_div_word(q, k) == (BN_ULONG)-1)
			goto out;
		if ((minus ? BN_sub(fix, fix, q) : BN_add(fix, fix, q)) != 1)
			goto out;
		minus = !minus;
		if (BN_div_word(term, x * x) == (BN_ULONG)-1)
			goto out;
	}
	r = 0;
 out:
	BN_CTX_end(ctx);
	return r;
}

/* Blowfish's initial state: the fractional hex digits of pi. */
static int
bf_initstate(struct bf_state *st)
{
	static const uint32_t first[4] =
	    { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344 };
	unsigned char *digits = NULL;
	BN_CTX *ctx = NULL;
	BIGNUM *pi = NULL, *three = NULL;
	size_t i, nbytes = PI_BITS / 8;
	int r = KB_ERR_CRYPTO, bits = PI_BITS + PI_GUARD;
	uint32_t w;

	if ((ctx = BN_CTX_new()) == NULL || (pi = BN_new()) == NULL ||
	    (three = BN_new()) == NULL)
		goto out;
	/* pi = 16 atan(1/5) - 4 atan(1/239) */
	BN_zero(pi);
	if ((r = pi_add_atan(pi, 5, bits, 0, ctx)) != 0 ||
	    BN_lshift(pi, pi, 2) != 1 ||
	    (r = pi_add_atan(pi, 239, bits, 1, ctx)) != 0 ||
	    BN_lshift(pi, pi, 2) != 1) {
		r = KB_ERR_CRYPTO;
		goto out;
	}
	r = KB_ERR_CRYPTO;
	if (BN_set_word(three, 3) != 1 || BN_lshift(three, three, bits) != 1 ||
	    BN_sub(pi, pi, three) != 1 || BN_rshift(pi, pi, PI_GUARD) != 1)
		goto out;
	if ((digits = malloc(nbytes)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if (BN_bn2binpad(pi, digits, (int)nbytes) != (int)nbytes)
		goto out;
	for (i = 0; i < BF_WORDS; i++) {
		w = (uint32_t)digits[4 * i] << 24 |
		    (uint32_t)digits[4 * i + 1] << 16 |
		    (uint32_t)digits[4 * i + 2] << 8 | digits[4 * i + 3];
		if (i < BF_PWORDS)
			st->p[i] = w;
		else
			st->s[(i - BF_PWORDS) / 256][(i - BF_PWORDS) % 256] = w;
	}
	r = KB_ERR_INTERNAL;
	for (i = 0; i < 4; i++)
		if (st->p[i] != first[i])
			goto out;
	r = 0;
 out:
	free(digits);
	BN_free(pi);
	BN_free(three);
	BN_CTX_free(ctx);
	return r;
}

static uint32_t
bf_f(const struct bf_state *st, uint32_t x)
{
	return ((st->s[0][x >> 24] + st->s[1][(x >> 16) & 0xff]) ^
	    st->s[2][(x >> 8) & 0xff]) + st->s[3][x & 0xff];
}

static void
bf_encipher(const struct bf_state *st, uint32_t *xl, uint32_t *xr)
{
	uint32_t l = *xl, r = *xr;
	int i;

	l ^= st->p[0];
	for (i = 1; i <= BF_ROUNDS; i += 2) {
		r ^= bf_f(st, l) ^ st->p[i];
		l ^= bf_f(st, r) ^ st->p[i + 1];
	}
	*xl = r ^ st->p[BF_PWORDS - 1];
	*xr = l;
}

/* The next 4 bytes of data (cycling) as a big-endian word. */
static uint32_t
bf_stream_word(const unsigned char *data, size_t len, size_t *pos)
{
	uint32_t w = 0;
	int i;

	for (i = 0; i < 4; i++) {
		if (*pos >= len)
			*pos = 0;
		w = w << 8 | data[(*pos)++];
	}
	return w;
}

/*
 * The expensive key schedule step: mix key into P, then re-key every
 * P and S word by chained encryption, folding data in if not NULL.
 */
static void
bf_expand(struct bf_state *st, const unsigned char *data, size_t datalen,
    const unsigned char *key, size_t keylen)
{
	uint32_t l = 0, r = 0, *w;
	size_t i, pos = 0;

	for (i = 0; i < BF_PWORDS; i++)
		st->p[i] ^= bf_stream_word(key, keylen, &pos);
	pos = 0;
	for (i = 0; i < BF_WORDS; i += 2) {
		if (data != NULL) {
			l ^= bf_stream_word(data, datalen, &pos);
			r ^= bf_stream_word(data, datalen, &pos);
		}
		bf_encipher(st, &l, &r);
		w = i < BF_PWORDS ? &st->p[i] :
		    &st->s[(i - BF_PWORDS) / 256][(i - BF_PWORDS) % 256];
		w[0] = l;
		w[1] = r;
	}
}

/* bcrypt's hash of two SHA-512 digests into 32 bytes. */
static void
bcrypt_hash(const struct bf_state *init, const unsigned char *sha2pass,
    const unsigned char *sha2salt, unsigned char *out)
{
	static const char magic[BCRYPT_HASHLEN + 1] =
	    "OxychromaticBlowfishSwatDynamite";
	struct bf_state st;
	uint32_t cdata[BCRYPT_WORDS];
	size_t i, pos = 0;
	int round;

	memcpy(&st, init, sizeof(st));
	bf_expand(&st, sha2salt, SHA512_DIGEST_LENGTH, sha2pass,
	    SHA512_DIGEST_LENGTH);
	for (round = 0; round < 64; round++) {
		bf_expand(&st, NULL, 0, sha2salt, SHA512_DIGEST_LENGTH);
		bf_expand(&st, NULL, 0, sha2pass, SHA512_DIGEST_LENGTH);
	}
	for (i = 0; i < BCRYPT_WORDS; i++)
		cdata[i] = bf_stream_word((const unsigned char *)magic,
		    BCRYPT_HASHLEN, &pos);
	for (round = 0; round < 64; round++)
		for (i = 0; i < BCRYPT_WORDS; i += 2)
			bf_encipher(&st, &cdata[i], &cdata[i + 1]);
	for (i = 0; i < BCRYPT_WORDS; i++) {
		out[4 * i + 3] = (unsigned char)(cdata[i] >> 24);
		out[4 * i + 2] = (unsigned char)(cdata[i] >> 16);
		out[4 * i + 1] = (unsigned char)(cdata[i] >> 8);
		out[4 * i] = (unsigned char)cdata[i];
	}
	OPENSSL_cleanse(&st, sizeof(st));
	OPENSSL_cleanse(cdata, sizeof(cdata));
}

int
bcrypt_pbkdf(const char *pass, size_t passlen, const unsigned char *salt,
    size_t saltlen, unsigned char *key, size_t keylen, unsigned rounds)
{
	struct bf_state *init = NULL;
	unsigned char sha2pass[SHA512_DIGEST_LENGTH];
	unsigned char sha2salt[SHA512_DIGEST_LENGTH];
	unsigned char out[BCRYPT_HASHLEN], tmp[BCRYPT_HASHLEN];
	unsigned char *countsalt = NULL;
	size_t i, j, amt, stride, left = keylen, dest;
	uint32_t count;
	int r = KB_ERR_INVALID_ARG;

	if (rounds < 1 || passlen == 0 || saltlen == 0 || saltlen > 1024 ||
	    keylen == 0 || keylen > BCRYPT_KEY_MAX)
		goto out;
	if ((init = malloc(sizeof(*init))) == NULL ||
	    (countsalt = malloc(saltlen + 4)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if ((r = bf_initstate(init)) != 0)
		goto out;
	stride = (keylen + sizeof(out) - 1) / sizeof(out);
	amt = (keylen + stride - 1) / stride;
	memcpy(countsalt, salt, saltlen);
	SHA512((const unsigned char *)pass, passlen, sha2pass);
	for (count = 1; left > 0; count++) {
		countsalt[saltlen] = (unsigned char)(count >> 24);
		countsalt[saltlen + 1] = (unsigned char)(count >> 16);
		countsalt[saltlen + 2] = (unsigned char)(count >> 8);
		countsalt[saltlen + 3] = (unsigned char)count;
		SHA512(countsalt, saltlen + 4, sha2salt);
		bcrypt_hash(init, sha2pass, sha2salt, tmp);
		memcpy(out, tmp, sizeof(out));
		for (i = 1; i < rounds; i++) {
			SHA512(tmp, sizeof(tmp), sha2salt);
			bcrypt_hash(init, sha2pass, sha2salt, tmp);
			for (j = 0; j < sizeof(out); j++)
				out[j] ^= tmp[j];
		}
		/* the output bytes are spread over the key, not appended */
		if (amt > left)
			amt = left;
		for (i = 0; i < amt; i++) {
			dest = i * stride + (count - 1);
			if (dest >= keylen)
				break;
			key[dest] = out[i];
		}
		left -= i;
	}
	r = 0;
 out:
	OPENSSL_cleanse(sha2pass, sizeof(sha2pass));
	OPENSSL_cleanse(sha2salt, sizeof(sha2salt));
	OPENSSL_cleanse(out, sizeof(out));
	OPENSSL_cleanse(tmp, sizeof(tmp));
	free(init);
	free(countsalt);
	return r;
}
