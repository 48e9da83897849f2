/*
 * ed25519.h - Ed25519 signature verification (RFC 8032 section 5.1.7)
 * without libcrypto.
 *
 * keybound-keys checks the SSHSIG signature of every signed entry it is
 * served; with an Ed25519 signer this file and lib/sha512.c do the whole
 * check, so such a lookup never loads libcrypto (whose loading and
 * initialisation cost several milliseconds per run).  Signing stays with
 * libcrypto (lib/sshsig.c).
 *
 * Verification handles public data only (the signer's key, the message,
 * the signature), so the arithmetic is variable-time: nothing secret can
 * leak through timing.  Do not reuse it for anything secret.
 *
 * The verdict is OpenSSL's, byte for byte (tests/unit/test_ed25519.c and
 * tests/fuzz/fuzz_ed25519.c hold the two side by side): cofactorless,
 * S >= L refused, R never decoded but compared with the canonical
 * encoding of [S]B - [k]A, and the public key decoded as OpenSSL and
 * OpenSSH decode it: y taken modulo p (encodings of y >= p are read as
 * y - p), x = 0 accepted with either sign bit, a y with no x refused.
 *
 * The decoded point of the last few public keys and its multiples are
 * kept (process-wide, under a lock) for the next signature of the same
 * signer: a lookup checks several entries signed with one key.
 */
#ifndef KB_ED25519_H
#define KB_ED25519_H

#include <stddef.h>

#define ED25519_PUBLIC_LEN	32
#define ED25519_SIGNATURE_LEN	64

/*
 * 0 if sig is pub's Ed25519 signature of msg[0..len), else
 * KB_ERR_SIG_BAD.
 */
int ed25519_verify(const unsigned char sig[ED25519_SIGNATURE_LEN],
    const unsigned char *msg, size_t len,
    const unsigned char pub[ED25519_PUBLIC_LEN]);

/*
 * Decode pub and compute its multiples now, kept as a verification keeps
 * them (the last ED25519_KEPT_KEYS keys): work for a moment the caller
 * would spend waiting, so that its first signature costs no more than
 * the next ones.
 */
#define ED25519_KEPT_KEYS	4
void ed25519_prepare(const unsigned char pub[ED25519_PUBLIC_LEN]);

/* out = in mod L, in a 512-bit little-endian number (for the tests). */
void ed25519_scalar_reduce(unsigned char out[32], const unsigned char in[64]);

/*
 * 0 if the constant multiples of the base point (ed25519_tables.h) are
 * what this file's arithmetic computes, else KB_ERR_INTERNAL (for the
 * tests).
 */
int ed25519_selftest(void);

#endif /* KB_ED25519_H */
