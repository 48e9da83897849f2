/*
 * b64.c - strict base64: decoding refuses anything but the one canonical
 * encoding of a byte string, so two different texts never name one key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "b64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of one alphabet character, or -1. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
b64_decode_strict(const char *s, size_t len, unsigned char **outp,
    size_t *outlenp)
{
	unsigned char *out = NULL;
	size_t i, k, o = 0, pad = 0, outlen;
	uint32_t acc;
	int v, r = KB_ERR_KEY_BASE64;

	*outp = NULL;
	*outlenp = 0;
	if (len == 0 || len % 4 != 0)
		goto out;
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	outlen = len / 4 * 3 - pad;
	if ((out = malloc(outlen + 1)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < len; i += 4) {
		acc = 0;
		for (k = i; k < i + 4; k++) {
			if (k >= len - pad)
				v = 0;
			else if ((v = b64_value((unsigned char)s[k])) < 0)
				goto out;	/* '=' inside, space, junk */
			acc = acc << 6 | (uint32_t)v;
		}
		out[o++] = (unsigned char)(acc >> 16);
		if (o < outlen)
			out[o++] = (unsigned char)(acc >> 8);
		if (o < outlen)
			out[o++] = (unsigned char)acc;
	}
	/* the bits hidden under the padding must be zero (canonical form) */
	if ((pad == 1 && (acc & 0xff) != 0) ||
	    (pad == 2 && (acc & 0xffff) != 0))
		goto out;
	out[outlen] = '\0';
	*outp = out;
	*outlenp = outlen;
	out = NULL;
	r = 0;
 out:
	free(out);
	return r;
}

/* Encode into dst (room for 4 * ceil(len / 3) + 1); returns chars written. */
static size_t
b64_encode_into(const unsigned char *in, size_t len, char *dst)
{
	size_t i, o = 0;
	uint32_t acc;

	for (i = 0; i + 3 <= len; i += 3) {
		acc = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		dst[o++] = b64_alphabet[acc >> 18 & 0x3f];
		dst[o++] = b64_alphabet[acc >> 12 & 0x3f];
		dst[o++] = b64_alphabet[acc >> 6 & 0x3f];
		dst[o++] = b64_alphabet[acc & 0x3f];
	}
	if (len - i == 1) {
		acc = (uint32_t)in[i] << 16;
		dst[o++] = b64_alphabet[acc >> 18 & 0x3f];
		dst[o++] = b64_alphabet[acc >> 12 & 0x3f];
		dst[o++] = '=';
		dst[o++] = '=';
	} else if (len - i == 2) {
		acc = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		dst[o++] = b64_alphabet[acc >> 18 & 0x3f];
		dst[o++] = b64_alphabet[acc >> 12 & 0x3f];
		dst[o++] = b64_alphabet[acc >> 6 & 0x3f];
		dst[o++] = '=';
	}
	dst[o] = '\0';
	return o;
}

/* Shared body: prefix (may be NULL) + base64, padded unless strip. */
static int
b64_encode_prefixed(const char *prefix, const unsigned char *in, size_t len,
    int strip, char **outp)
{
	size_t plen = prefix == NULL ? 0 : strlen(prefix), n;
	char *out;

	*outp = NULL;
	if (len > (SIZE_MAX - plen - 8) / 4 * 3)
		return KB_ERR_TOO_LONG;
	if ((out = malloc(plen + (len + 2) / 3 * 4 + 1)) == NULL)
		return KB_ERR_NOMEM;
	if (plen > 0)
		memcpy(out, prefix, plen);
	n = plen + b64_encode_into(in, len, out + plen);
	while (strip && n > plen && out[n - 1] == '=')
		out[--n] = '\0';
	*outp = out;
	return 0;
}

int
b64_encode(const unsigned char *in, size_t len, char **outp)
{
	return b64_encode_prefixed(NULL, in, len, 0, outp);
}

int
b64_unpadded(const char *prefix, const unsigned char *in, size_t len,
    char **outp)
{
	return b64_encode_prefixed(prefix, in, len, 1, outp);
}
