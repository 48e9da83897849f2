/*
 * fuzz_key.c - libFuzzer target for the key line parser.
 *
 * Every input is parsed with and without KB_KEY_ALLOW_OPTIONS; whatever
 * parses is fingerprinted, policy-checked, rendered, and the rendering is
 * parsed back: it must give the same key.  The structural check
 * (KB_KEY_STRUCTURAL, the cache's) must accept every key the full check
 * accepts, with the same type and size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "keyopts.h"
#include "sshkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
exercise(const struct kb_key *k)
{
	struct kb_keyopts o;
	struct kb_key *back = NULL;
	char *s = NULL;
	size_t len;

	if (key_fingerprint_sha256(k, &s) == 0 &&
	    strncmp(s, "SHA256:", 7) != 0)
		abort();
	free(s);
	if (key_fingerprint_md5(k, &s) == 0 && strlen(s) != 4 + 47)
		abort();
	free(s);
	(void)key_policy_check(k, KB_KT_DEFAULT_MASK, 2048);
	(void)key_blob(k, &len);
	if (key_bits(k) == 0 || key_type_label(k) == NULL)
		abort();

	memset(&o, 0, sizeof(o));
	o.flags = KB_OPT_RESTRICT;
	o.has_expiry = 1;
	o.expiry = 1893456000;
	if (key_render_line(k, &o, "fuzz-key", &s) != 0)
		abort();
	if (key_parse_line(s, strlen(s), KB_KEY_ALLOW_OPTIONS, &back) != 0 ||
	    !key_equal(k, back))
		abort();
	key_free(back);
	free(s);
	if (key_public_text(k, &s) != 0)
		abort();
	if (key_parse_line(s, strlen(s), 0, &back) != 0 || !key_equal(k, back))
		abort();
	key_free(back);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_key *k = NULL, *sk = NULL;
	unsigned flags;
	int sr;

	for (flags = 0; flags <= KB_KEY_ALLOW_OPTIONS; flags++) {
		sr = key_parse_line((const char *)data, size,
		    flags | KB_KEY_STRUCTURAL, &sk);
		if ((sr == 0) != (sk != NULL))
			abort();
		if (key_parse_line((const char *)data, size, flags, &k) == 0) {
			if (sk == NULL || !key_equal(k, sk) ||
			    key_bits(k) != key_bits(sk) ||
			    key_type(k) != key_type(sk))
				abort();
			exercise(k);
			key_free(k);
			k = NULL;
		} else if (k != NULL)
			abort();
		key_free(sk);
		sk = NULL;
	}
	return 0;
}
