/*
 * blob.h - a bounds-checked reader for SSH wire format (RFC 4251 section 5):
 * uint32 lengths, strings, mpints.  No allocation; views into the buffer.
 */
#ifndef KB_BLOB_H
#define KB_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct kb_blob {
	const unsigned char *p;		/* next unread byte */
	size_t left;			/* bytes not yet read */
};

/* Start reading len bytes at p. */
void blob_init(struct kb_blob *b, const unsigned char *p, size_t len);

/* Read a big-endian uint32.  0 or KB_ERR_KEY_TRUNCATED. */
int blob_get_u32(struct kb_blob *b, uint32_t *vp);

/*
 * Read a length-prefixed string; *pp points into the blob (not
 * NUL-terminated).  0 or KB_ERR_KEY_TRUNCATED.
 */
int blob_get_string(struct kb_blob *b, const unsigned char **pp,
    size_t *lenp);

/*
 * Read an mpint that must be strictly positive and minimally encoded
 * (RFC 4251: no superfluous leading zero byte, sign bit clear).  The out-params
 * give the magnitude without the leading zero.  0, KB_ERR_KEY_TRUNCATED or
 * KB_ERR_KEY_INVALID.
 */
int blob_get_positive_mpint(struct kb_blob *b, const unsigned char **pp,
    size_t *lenp);

/* 1 if every byte has been read. */
int blob_empty(const struct kb_blob *b);

#endif /* KB_BLOB_H */
