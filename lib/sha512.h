/*
 * sha512.h - SHA-512 (FIPS 180-4) without libcrypto.
 *
 * keybound-keys checks the SSHSIG signature of every signed entry with
 * trusted_signers; an Ed25519 signer needs SHA-512 twice per entry (the
 * SSHSIG message hash and Ed25519's own), and loading and initialising
 * OpenSSL 3 for that costs several milliseconds per run.  Hashing public
 * data needs no constant-time care.
 */
#ifndef KB_SHA512_H
#define KB_SHA512_H

#include <stddef.h>
#include <stdint.h>

#define KB_SHA512_LEN	64

struct kb_sha512 {
	uint64_t h[8];
	uint64_t bytes;			/* message length so far */
	unsigned char block[128];
	size_t fill;			/* bytes waiting in block */
};

void sha512_init(struct kb_sha512 *c);
void sha512_update(struct kb_sha512 *c, const void *p, size_t len);
void sha512_final(struct kb_sha512 *c, unsigned char md[KB_SHA512_LEN]);

/* One call: md = SHA-512(p[0..len)). */
void sha512(const void *p, size_t len, unsigned char md[KB_SHA512_LEN]);

#endif /* KB_SHA512_H */
