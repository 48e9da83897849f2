/*
 * sshkey.h - the SSH public key model: strict parsing of OpenSSH public key
 * lines, validation, fingerprints, policy and canonical rendering.
 * lib/sshkey.c is the only file that uses libcrypto for key material, and
 * loads it (dlopen) only when a key needs it.
 */
#ifndef KB_SSHKEY_H
#define KB_SSHKEY_H

#include <stddef.h>
#include <time.h>

struct kb_keyopts;

/* Key types; also the bits of the allowed_key_types mask. */
enum kb_keytype {
	KB_KT_ED25519		= 1 << 0,	/* ssh-ed25519 */
	KB_KT_ECDSA_P256	= 1 << 1,	/* ecdsa-sha2-nistp256 */
	KB_KT_ECDSA_P384	= 1 << 2,	/* ecdsa-sha2-nistp384 */
	KB_KT_ECDSA_P521	= 1 << 3,	/* ecdsa-sha2-nistp521 */
	KB_KT_SK_ED25519	= 1 << 4,	/* sk-ssh-ed25519@openssh.com */
	KB_KT_SK_ECDSA		= 1 << 5,	/* sk-ecdsa-sha2-nistp256@openssh.com */
	KB_KT_RSA		= 1 << 6,	/* ssh-rsa */
};

#define KB_KT_DEFAULT_MASK	(KB_KT_ED25519 | KB_KT_ECDSA_P256 | \
	KB_KT_ECDSA_P384 | KB_KT_ECDSA_P521 | KB_KT_SK_ED25519 | \
	KB_KT_SK_ECDSA | KB_KT_RSA)

#define KB_KEY_LINE_MAX		16384	/* longest key line accepted */

/* Flags for key_parse_line(). */
#define KB_KEY_ALLOW_OPTIONS	0x1	/* accept (and discard) an options prefix */
/*
 * Check the key's structure only, without libcrypto: every field and
 * length of the blob, the ECDSA point's encoding and size, RSA's numbers
 * from their bytes; not whether the point is on its curve or the RSA key
 * loads.  Only for a key that passed the full check when it was stored
 * by this account (the cache) and is read back from a file only that
 * account can write.
 */
#define KB_KEY_STRUCTURAL	0x2

struct kb_key;

/*
 * Parse one public key line "[options] TYPE BASE64 [comment]" of len bytes
 * (no terminating newline; NUL, CR, LF or other control bytes anywhere are
 * refused).  Options are refused unless KB_KEY_ALLOW_OPTIONS; even then they
 * are only checked for syntax and never kept.  The comment is dropped.
 * On success *keyp owns a validated key; on failure it is NULL.
 */
int key_parse_line(const char *line, size_t len, unsigned flags,
    struct kb_key **keyp);

/*
 * Parse and validate a wire-format public key blob (as in SSHSIG, ssh-agent
 * answers and signed records) exactly as key_parse_line() does the blob of
 * a line.  On success *keyp owns a copy.
 */
int key_from_blob(const unsigned char *blob, size_t len,
    struct kb_key **keyp);

/* Free a key (NULL is fine). */
void key_free(struct kb_key *k);

/* Canonical type name, e.g. "ssh-ed25519". */
const char *key_type_name(const struct kb_key *k);

/* Type as an enum kb_keytype bit. */
enum kb_keytype key_type(const struct kb_key *k);

/* Size in bits as ssh-keygen -l prints it (RSA modulus, curve size, 256). */
unsigned key_bits(const struct kb_key *k);

/* Short type label as ssh-keygen -l prints it: "ED25519", "RSA", ... */
const char *key_type_label(const struct kb_key *k);

/* For sk- keys, the application string ("ssh:" ...); NULL otherwise. */
const char *key_sk_application(const struct kb_key *k);

/* "SHA256:" + unpadded base64, byte-identical to ssh-keygen -l. */
int key_fingerprint_sha256(const struct kb_key *k, char **fpp);

/* "MD5:aa:bb:...", byte-identical to ssh-keygen -E md5 -l. */
int key_fingerprint_md5(const struct kb_key *k, char **fpp);

/* The raw wire-format blob. */
const unsigned char *key_blob(const struct kb_key *k, size_t *lenp);

/* 1 if both keys have identical blobs, else 0. */
int key_equal(const struct kb_key *a, const struct kb_key *b);

/* Policy: type in allowed_mask (enum kb_keytype bits), RSA >= min_rsa_bits. */
int key_policy_check(const struct kb_key *k, unsigned allowed_mask,
    unsigned min_rsa_bits);

/* "TYPE BASE64" with no options and no comment (for storing in LDAP). */
int key_public_text(const struct kb_key *k, char **textp);

/*
 * Render "[options ]TYPE BASE64 keybound:NAME" from the parsed key, the
 * structured options (NULL for none) and the key pair name (validated with
 * name_keypair_valid()).  No byte of the original line is reused.
 */
int key_render_line(const struct kb_key *k, const struct kb_keyopts *opts,
    const char *name, char **linep);

#endif /* KB_SSHKEY_H */
