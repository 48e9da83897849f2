/*
 * sshsig.h - OpenSSH SSHSIG signatures (PROTOCOL.sshsig) over signed
 * records: namespace "keybound", hash sha512, so that
 * `ssh-keygen -Y verify -n keybound` checks them by hand.
 *
 * Signers: Ed25519, ECDSA (nistp256/384/521) and RSA (rsa-sha2-512), from
 * an unencrypted OpenSSH private key file or held by ssh-agent (agent.h).
 * Security-key (sk-) and DSA signers are refused.  Apart from lib/sshkey.c
 * this is the only file that hands key material to libcrypto.
 *
 * Stored form (keyboundSignature): the SSHSIG blob as one line of padded
 * base64 (b64_encode()), i.e. the armored form without its BEGIN/END lines
 * and line breaks; sshsig_armor() gives what ssh-keygen reads.
 */
#ifndef KB_SSHSIG_H
#define KB_SSHSIG_H

#include <stddef.h>

#define SSHSIG_NAMESPACE	"keybound"
#define SSHSIG_HASH		"sha512"
#define SSHSIG_MAX		32768	/* bytes of one SSHSIG blob */
#define SSHSIG_PRIVKEY_MAX	65536	/* bytes of a private key file */

struct kb_key;
struct kb_privkey;

/*
 * Parse an unencrypted OpenSSH private key ("-----BEGIN OPENSSH PRIVATE
 * KEY-----", openssh-key-v1, cipher "none") of len bytes, check that its
 * public half matches and that it signs.  0, KB_ERR_PRIVKEY,
 * KB_ERR_PRIVKEY_ENCRYPTED, KB_ERR_SIG_KEYTYPE, KB_ERR_NOMEM, KB_ERR_CRYPTO.
 */
int sshsig_privkey_parse(const char *text, size_t len,
    struct kb_privkey **kp);

/*
 * Read and parse a private key file: a regular file owned by the real uid
 * or root, not accessible by group or others (else KB_ERR_CONFIG_PERM),
 * at most SSHSIG_PRIVKEY_MAX bytes.  The bytes read are wiped.
 */
int sshsig_privkey_load(const char *path, struct kb_privkey **kp);

/* The public half (owned by k). */
const struct kb_key *sshsig_privkey_public(const struct kb_privkey *k);

/* Wipe and free (NULL is fine). */
void sshsig_privkey_free(struct kb_privkey *k);

/* Sign msg with a private key: *sigp is the SSHSIG blob, the caller's. */
int sshsig_sign(const struct kb_privkey *k, const unsigned char *msg,
    size_t len, unsigned char **sigp, size_t *siglenp);

/*
 * Sign msg through the ssh-agent at sock (NULL: $SSH_AUTH_SOCK) with the
 * key whose fingerprint is fp ("SHA256:..."), within timeout_ms.  The
 * agent's signature is verified before it is wrapped.  Agent errors as in
 * agent.h; KB_ERR_SIG_BAD if the agent signed wrongly.
 */
int sshsig_sign_agent(const char *sock, const char *fp, long timeout_ms,
    const unsigned char *msg, size_t len, unsigned char **sigp,
    size_t *siglenp);

/*
 * Parse the SSHSIG structure only (no cryptography): magic, version 1,
 * the signer's key (valid, supported type), namespace "keybound", empty
 * reserved, hash "sha512", one signature of the key's algorithm, nothing
 * after.  *signerp (may be NULL) gets the embedded key, the caller's.
 * 0, KB_ERR_SIG_FORMAT, KB_ERR_SIG_NAMESPACE, KB_ERR_SIG_HASH,
 * KB_ERR_SIG_KEYTYPE, KB_ERR_TOO_LONG, KB_ERR_NOMEM.
 */
int sshsig_parse(const unsigned char *sig, size_t siglen,
    struct kb_key **signerp);

/*
 * Make signer ready to verify (an Ed25519 key: ed25519_prepare(); other
 * types: nothing), for a moment spent waiting anyway.  1 if it was
 * prepared, else 0.
 */
int sshsig_prepare(const struct kb_key *signer);

/*
 * Verify that sig is a "keybound" SSHSIG over exactly msg made by signer.
 * Besides sshsig_parse()'s errors: KB_ERR_SIG_KEY (another key signed),
 * KB_ERR_SIG_BAD (the signature does not verify).
 */
int sshsig_verify(const struct kb_key *signer, const unsigned char *msg,
    size_t len, const unsigned char *sig, size_t siglen);

/* The armored text ssh-keygen writes (70 columns, final newline). */
int sshsig_armor(const unsigned char *sig, size_t siglen, char **textp);

/*
 * Undo sshsig_armor(): BEGIN line, base64 lines, END line, optional final
 * newline; nothing else.  0 or KB_ERR_SIG_FORMAT, KB_ERR_TOO_LONG.
 */
int sshsig_dearmor(const char *text, size_t len, unsigned char **sigp,
    size_t *siglenp);

#endif /* KB_SSHSIG_H */
