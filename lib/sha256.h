/*
 * sha256.h - SHA-256 (FIPS 180-4) without libcrypto.
 *
 * keybound-keys hashes on every run (the cache file name, the fingerprint
 * of every key it serves) but needs libcrypto only to validate RSA and
 * ECDSA keys.  A cache hit and a directory answer of Ed25519 keys then
 * never map libcrypto (about 1.2 ms and 2.5 MiB per run with OpenSSL 3's
 * loading and initialisation).  Hashing public data needs no constant-time
 * care.
 */
#ifndef KB_SHA256_H
#define KB_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define KB_SHA256_LEN	32

struct kb_sha256 {
	uint32_t h[8];
	uint64_t bytes;			/* message length so far */
	unsigned char block[64];
	size_t fill;			/* bytes waiting in block */
};

void sha256_init(struct kb_sha256 *c);
void sha256_update(struct kb_sha256 *c, const void *p, size_t len);
void sha256_final(struct kb_sha256 *c, unsigned char md[KB_SHA256_LEN]);

/* One call: md = SHA-256(p[0..len)). */
void sha256(const void *p, size_t len, unsigned char md[KB_SHA256_LEN]);

#endif /* KB_SHA256_H */
