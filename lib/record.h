/*
 * record.h - the canonical signed record: the bytes an SSHSIG signature
 * covers for one key pair or one host group entry (keybound(1), SIGNED
 * RECORDS).  SSH wire types throughout, so other tools can produce it.
 *
 * The encoder takes the fields in any order and sorts them; the decoder
 * accepts only the one canonical encoding and refuses everything else.
 */
#ifndef KB_RECORD_H
#define KB_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define KB_RECORD_VERSION	1
#define KB_RECORD_MAX		(256u * 1024)	/* bytes in a record */
#define KB_RECORD_MAX_ITEMS	4096	/* attachments or members */
#define KB_RECORD_MAX_STRING	4096	/* any one text field */

enum kb_record_kind {
	KB_RECORD_PAIR = 1,		/* "pair" */
	KB_RECORD_GROUP = 2,		/* "group" */
};

struct kb_record_att {
	const char *value;		/* USER@INSTANCE or USER@+GROUP */
	uint64_t end;			/* 0 permanent, else epoch seconds */
};

struct kb_record {
	enum kb_record_kind kind;
	const char *name;		/* pair or group name */
	uint64_t serial;		/* increases with every write */
	uint64_t signed_at;		/* seconds since the epoch */

	/* KB_RECORD_PAIR */
	const unsigned char *key_blob;	/* public key, SSH wire format */
	size_t key_bloblen;
	const struct kb_record_att *atts;
	size_t natts;
	uint64_t not_after;		/* keyboundNotAfter; 0 none */
	const char *options;		/* canonical options; "" none */
	int blocked;			/* keyboundBlocked */

	/* KB_RECORD_GROUP */
	const char *const *members;	/* instance names */
	size_t nmembers;

	/* the decoder's allocations; record_free() releases them */
	void *owned_[3];
};

/*
 * Encode r (its attachments or members in any order) into *outp and *lenp, the
 * caller's to free.  Strings must be printable ASCII, name and items
 * non-empty, the key blob a valid public key; duplicates are refused.
 * 0, KB_ERR_RECORD, KB_ERR_TOO_LONG, KB_ERR_NOMEM or a key error.
 */
int record_encode(const struct kb_record *r, unsigned char **outp,
    size_t *lenp);

/*
 * Decode exactly one canonical record of len bytes into *r (zeroed first;
 * release with record_free()).  Refused: unknown version or kind,
 * truncation, trailing bytes, unsorted or duplicate items, empty or
 * non-printable strings, an invalid key, a blocked flag other than 0 or 1.
 * 0, KB_ERR_RECORD_VERSION, KB_ERR_RECORD, KB_ERR_TOO_LONG or KB_ERR_NOMEM.
 */
int record_decode(const unsigned char *p, size_t len, struct kb_record *r);

/* Release what record_decode() allocated; r is zeroed (NULL is fine). */
void record_free(struct kb_record *r);

#endif /* KB_RECORD_H */
