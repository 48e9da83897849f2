/*
 * b64.h - strict base64 (RFC 4648, standard alphabet) for SSH key blobs.
 */
#ifndef KB_B64_H
#define KB_B64_H

#include <stddef.h>

/*
 * Decode exactly: length a multiple of 4, only the standard alphabet, '='
 * only as one or two final pad characters, unused pad bits zero, no
 * whitespace.  *outp (NUL-terminated for convenience, not counted in
 * *outlenp) is the caller's.  Returns 0 or KB_ERR_KEY_BASE64.
 */
int b64_decode_strict(const char *s, size_t len, unsigned char **outp,
    size_t *outlenp);

/* Padded base64 of in, NUL-terminated, into *outp. */
int b64_encode(const unsigned char *in, size_t len, char **outp);

/* prefix followed by unpadded base64 of in (ssh-keygen's SHA256 style). */
int b64_unpadded(const char *prefix, const unsigned char *in, size_t len,
    char **outp);

#endif /* KB_B64_H */
