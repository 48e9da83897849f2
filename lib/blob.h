/*
 * blob.h - a bounds-checked reader for SSH wire format (RFC 4251 section 5):
 * uint32 lengths, strings, mpints.  No allocation; views into the buffer.
 * And its writer: a growing buffer that wipes what it frees.
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

/* Read a big-endian uint64.  0 or KB_ERR_KEY_TRUNCATED. */
int blob_get_u64(struct kb_blob *b, uint64_t *vp);

/* Read one byte.  0 or KB_ERR_KEY_TRUNCATED. */
int blob_get_u8(struct kb_blob *b, unsigned char *vp);

/* Read n raw bytes; *pp points into the blob.  0 or KB_ERR_KEY_TRUNCATED. */
int blob_get_raw(struct kb_blob *b, size_t n, const unsigned char **pp);

/*
 * The writer.  Start from a zeroed struct; a failed put (memory, size)
 * sets err and makes every later put a no-op, so callers check once at the
 * end with blob_w_done().  The buffer is wiped when freed or grown.
 */
struct kb_wblob {
	unsigned char *p;
	size_t len;
	size_t cap;
	int err;
};

#define KB_WBLOB_MAX	(16u * 1024 * 1024)	/* largest buffer */

void blob_put_raw(struct kb_wblob *w, const void *data, size_t len);
void blob_put_u8(struct kb_wblob *w, unsigned char v);
void blob_put_u32(struct kb_wblob *w, uint32_t v);
void blob_put_u64(struct kb_wblob *w, uint64_t v);
/* uint32 length + bytes; strings longer than UINT32_MAX set err. */
void blob_put_string(struct kb_wblob *w, const void *data, size_t len);
void blob_put_cstring(struct kb_wblob *w, const char *s);
/* An mpint from a big-endian magnitude: minimal, sign byte if needed. */
void blob_put_mpint(struct kb_wblob *w, const unsigned char *mag, size_t len);

/*
 * 0 and hand the bytes to *outp and *lenp (the caller's; never NULL on
 * success, even when empty), or the first error; w is left empty.
 */
int blob_w_done(struct kb_wblob *w, unsigned char **outp, size_t *lenp);

/* Wipe and free (safe on a zeroed or finished struct). */
void blob_w_free(struct kb_wblob *w);

#endif /* KB_BLOB_H */
