/*
 * blob.c - SSH wire-format reader.  Every read checks the remaining length
 * first; nothing here allocates or copies.
 */
#include "kb.h"
#include "blob.h"

void
blob_init(struct kb_blob *b, const unsigned char *p, size_t len)
{
	b->p = p;
	b->left = len;
}

int
blob_get_u32(struct kb_blob *b, uint32_t *vp)
{
	*vp = 0;
	if (b->left < 4)
		return KB_ERR_KEY_TRUNCATED;
	*vp = (uint32_t)b->p[0] << 24 | (uint32_t)b->p[1] << 16 |
	    (uint32_t)b->p[2] << 8 | (uint32_t)b->p[3];
	b->p += 4;
	b->left -= 4;
	return 0;
}

int
blob_get_string(struct kb_blob *b, const unsigned char **pp, size_t *lenp)
{
	uint32_t n;
	int r;

	*pp = NULL;
	*lenp = 0;
	if ((r = blob_get_u32(b, &n)) != 0)
		return r;
	if (n > b->left)
		return KB_ERR_KEY_TRUNCATED;
	*pp = b->p;
	*lenp = n;
	b->p += n;
	b->left -= n;
	return 0;
}

int
blob_get_positive_mpint(struct kb_blob *b, const unsigned char **pp,
    size_t *lenp)
{
	const unsigned char *p;
	size_t n;
	int r;

	*pp = NULL;
	*lenp = 0;
	if ((r = blob_get_string(b, &p, &n)) != 0)
		return r;
	if (n == 0)			/* zero */
		return KB_ERR_KEY_INVALID;
	if (p[0] & 0x80)		/* negative */
		return KB_ERR_KEY_INVALID;
	if (p[0] == 0) {
		/* a leading zero is only there to clear the sign bit */
		if (n == 1 || (p[1] & 0x80) == 0)
			return KB_ERR_KEY_INVALID;
		p++;
		n--;
	}
	*pp = p;
	*lenp = n;
	return 0;
}

int
blob_empty(const struct kb_blob *b)
{
	return b->left == 0;
}
