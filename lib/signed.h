/*
 * signed.h - signed directory entries: the keyboundSignature value, the
 * record (record.h) an entry's attributes stand for, and the host's
 * trusted_signers.  The CLI signs what signed_pair_record() and
 * signed_group_record() build from an entry; a host rebuilds the same
 * bytes from exactly the attributes it received and checks the signature
 * over them, so both sides share this one mapping.
 *
 * keyboundSignature value: "SERIAL SIGNED_AT SIGNATURE" - the serial in
 * decimal (1 or more, no leading zero), the signing time as
 * YYYYMMDDHHMMSSZ, the SSHSIG blob in padded base64 (sshsig.h).  Serial
 * and time are in the signed record too; the value only carries them.
 */
#ifndef KB_SIGNED_H
#define KB_SIGNED_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct kb_attr;
struct kb_key;

#define KB_ATTR_SIGNATURE	"keyboundSignature"
#define KB_ATTR_TOMBSTONE	"keyboundTombstone"
#define KB_SIGNED_VALUE_MAX	(64 + 4 * ((32768 + 2) / 3))	/* serial,
					   time and SSHSIG_MAX in base64 */

/* The attributes signed_*_record() read (besides cn). */
#define KB_ATTR_S_PUBKEY	"keyboundPublicKey"
#define KB_ATTR_S_ATTACHMENT	"keyboundAttachment"
#define KB_ATTR_S_END		"keyboundAttachmentEnd"
#define KB_ATTR_S_NOTAFTER	"keyboundNotAfter"
#define KB_ATTR_S_OPTIONS	"keyboundKeyOptions"
#define KB_ATTR_S_BLOCKED	"keyboundBlocked"
#define KB_ATTR_S_MEMBER	"keyboundMember"

/*
 * Parse a keyboundSignature value of len bytes.  *sigp (the SSHSIG blob,
 * the caller's) is only base64-decoded, not checked.  0 or
 * KB_ERR_SIG_FORMAT, KB_ERR_NOMEM.
 */
int signed_value_parse(const char *v, size_t len, uint64_t *serialp,
    uint64_t *signed_atp, unsigned char **sigp, size_t *siglenp);

/* The value for serial, signed_at and sig; *outp is the caller's. */
int signed_value_format(uint64_t serial, uint64_t signed_at,
    const unsigned char *sig, size_t siglen, char **outp);

/*
 * The record a key pair entry stands for, with the given serial and
 * signing time: cn (one value), keyboundPublicKey (one line; its blob),
 * every keyboundAttachment value with its end (the earliest
 * keyboundAttachmentEnd value "ATTACHMENT TIME" naming it, split at the
 * last space; end values naming no attachment are not part of it),
 * keyboundNotAfter, keyboundKeyOptions exactly as stored, keyboundBlocked
 * (anything but FALSE is 1).  An end value naming an attachment whose time
 * does not parse, a second cn, key, not-after, options or blocked value,
 * or anything record_encode() refuses: KB_ERR_RECORD.
 */
int signed_pair_record(const struct kb_attr *attrs, size_t nattrs,
    uint64_t serial, uint64_t signed_at, unsigned char **recp,
    size_t *lenp);

/* The record of a host group entry: cn and every keyboundMember value. */
int signed_group_record(const struct kb_attr *attrs, size_t nattrs,
    uint64_t serial, uint64_t signed_at, unsigned char **recp,
    size_t *lenp);

/* The signers a host trusts (trusted_signers). */
struct kb_signers;

/*
 * Parse trusted_signers text: "NAME KEYTYPE BASE64 [COMMENT]" lines, '#'
 * comments and blank lines; NAME printable ASCII without spaces; Ed25519,
 * ECDSA or RSA keys only.  Any bad line refuses the whole text; at least
 * one signer.  *linep (may be NULL) gets the bad line's number.
 * 0, KB_ERR_SIGNERS, KB_ERR_NOMEM.
 */
int signers_parse(const char *text, size_t len, struct kb_signers **sp,
    unsigned *linep);

/*
 * Read trusted_signers from path: a regular file, with check_owner owned
 * by root and writable by nobody else.  KB_ERR_CONFIG_OPEN,
 * KB_ERR_CONFIG_PERM, or signers_parse()'s errors.
 */
int signers_load(const char *path, int check_owner, struct kb_signers **sp,
    unsigned *linep);

void signers_free(struct kb_signers *s);

/* How many signers; the i-th one's name and key. */
size_t signers_count(const struct kb_signers *s);
const char *signers_name(const struct kb_signers *s, size_t i);
const struct kb_key *signers_key(const struct kb_signers *s, size_t i);

/*
 * The signers' keys made ready to verify (sshsig_prepare()), as many as
 * are kept: work for a moment spent waiting (the host group search).
 */
void signers_prepare(const struct kb_signers *s);

/*
 * Check that sig is a keybound SSHSIG over exactly rec by one of the
 * trusted signers; *namep (may be NULL) gets its name (owned by s).
 * KB_ERR_SIG_UNTRUSTED, or sshsig_verify()'s errors.
 */
int signers_verify(const struct kb_signers *s, const unsigned char *rec,
    size_t reclen, const unsigned char *sig, size_t siglen,
    const char **namep);

/* What signed_entry_verify() learned about a verified entry. */
struct kb_signed_info {
	uint64_t serial;
	uint64_t signed_at;
	const char *signer;		/* owned by the signers */
	unsigned char *record;		/* the verified record, the caller's */
	size_t reclen;
	unsigned char *sig;		/* its SSHSIG blob, the caller's */
	size_t siglen;
};

/*
 * Verify an entry as received: its keyboundSignature value (exactly one),
 * the record of kind rebuilt from attrs, a trusted signer.  Neither age
 * nor serial is judged here.  On success *info is filled (release with
 * signed_info_clear()).  KB_ERR_SIG_MISSING, KB_ERR_SIG_FORMAT,
 * KB_ERR_RECORD, KB_ERR_SIG_UNTRUSTED, KB_ERR_SIG_BAD, ...
 */
int signed_entry_verify(const struct kb_signers *s,
    enum kb_record_kind kind, const struct kb_attr *attrs, size_t nattrs,
    struct kb_signed_info *info);

/*
 * signed_entry_verify() in two steps, for a caller that checks the
 * signature later (while it waits for the directory): the value parsed
 * and the record rebuilt into *info (info->signer NULL: not verified
 * yet) ...
 */
int signed_entry_prepare(enum kb_record_kind kind,
    const struct kb_attr *attrs, size_t nattrs, struct kb_signed_info *info);

/* ... then its signature checked; *info is cleared if that fails. */
int signed_info_verify(const struct kb_signers *s,
    struct kb_signed_info *info);

void signed_info_clear(struct kb_signed_info *info);

#endif /* KB_SIGNED_H */
