/*
 * blob.c - SSH wire-format reader.  Every read checks the remaining length
 * first; nothing here allocates or copies.  The writer grows a buffer and
 * wipes every copy it drops.
 */
#include <stdlib.h>
#include <string.h>

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

int
blob_get_u64(struct kb_blob *b, uint64_t *vp)
{
	uint32_t hi, lo;

	*vp = 0;
	if (b->left < 8)
		return KB_ERR_KEY_TRUNCATED;
	(void)blob_get_u32(b, &hi);
	(void)blob_get_u32(b, &lo);
	*vp = (uint64_t)hi << 32 | lo;
	return 0;
}

int
blob_get_u8(struct kb_blob *b, unsigned char *vp)
{
	*vp = 0;
	if (b->left < 1)
		return KB_ERR_KEY_TRUNCATED;
	*vp = b->p[0];
	b->p++;
	b->left--;
	return 0;
}

int
blob_get_raw(struct kb_blob *b, size_t n, const unsigned char **pp)
{
	*pp = NULL;
	if (b->left < n)
		return KB_ERR_KEY_TRUNCATED;
	*pp = b->p;
	b->p += n;
	b->left -= n;
	return 0;
}

void
blob_put_raw(struct kb_wblob *w, const void *data, size_t len)
{
	unsigned char *np;
	size_t ncap;

	if (w->err)
		return;
	if (len > KB_WBLOB_MAX - w->len) {
		w->err = KB_ERR_TOO_LONG;
		return;
	}
	if (w->len + len > w->cap) {
		ncap = w->cap < 256 ? 256 : w->cap;
		while (ncap < w->len + len)
			ncap *= 2;
		if ((np = malloc(ncap)) == NULL) {
			w->err = KB_ERR_NOMEM;
			return;
		}
		if (w->p != NULL) {
			memcpy(np, w->p, w->len);
			explicit_bzero(w->p, w->cap);
			free(w->p);
		}
		w->p = np;
		w->cap = ncap;
	}
	if (len > 0)
		memcpy(w->p + w->len, data, len);
	w->len += len;
}

void
blob_put_u8(struct kb_wblob *w, unsigned char v)
{
	blob_put_raw(w, &v, 1);
}

void
blob_put_u32(struct kb_wblob *w, uint32_t v)
{
	unsigned char b[4];

	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
	blob_put_raw(w, b, sizeof(b));
}

void
blob_put_u64(struct kb_wblob *w, uint64_t v)
{
	blob_put_u32(w, (uint32_t)(v >> 32));
	blob_put_u32(w, (uint32_t)v);
}

void
blob_put_string(struct kb_wblob *w, const void *data, size_t len)
{
	if (w->err)
		return;
	if (len > UINT32_MAX) {
		w->err = KB_ERR_TOO_LONG;
		return;
	}
	blob_put_u32(w, (uint32_t)len);
	blob_put_raw(w, data, len);
}

void
blob_put_cstring(struct kb_wblob *w, const char *s)
{
	blob_put_string(w, s, strlen(s));
}

void
blob_put_mpint(struct kb_wblob *w, const unsigned char *mag, size_t len)
{
	while (len > 0 && mag[0] == 0) {
		mag++;
		len--;
	}
	if (len > 0 && (mag[0] & 0x80)) {
		if (len >= UINT32_MAX) {
			w->err = w->err ? w->err : KB_ERR_TOO_LONG;
			return;
		}
		blob_put_u32(w, (uint32_t)len + 1);
		blob_put_u8(w, 0);
		blob_put_raw(w, mag, len);
		return;
	}
	blob_put_string(w, mag, len);
}

int
blob_w_done(struct kb_wblob *w, unsigned char **outp, size_t *lenp)
{
	int r;

	*outp = NULL;
	*lenp = 0;
	if ((r = w->err) != 0) {
		blob_w_free(w);
		return r;
	}
	if (w->p == NULL && (w->p = malloc(1)) == NULL) {
		blob_w_free(w);
		return KB_ERR_NOMEM;
	}
	*outp = w->p;
	*lenp = w->len;
	w->p = NULL;
	w->len = w->cap = 0;
	return 0;
}

void
blob_w_free(struct kb_wblob *w)
{
	if (w->p != NULL) {
		explicit_bzero(w->p, w->cap);
		free(w->p);
	}
	w->p = NULL;
	w->len = w->cap = 0;
	w->err = 0;
}
