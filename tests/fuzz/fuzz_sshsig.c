/*
 * fuzz_sshsig.c - libFuzzer target for the signed record decoder and the
 * SSHSIG parsers.
 *
 * Every input is read as a record (whatever decodes must re-encode to the
 * very same bytes: one canonical form), as an SSHSIG blob (whatever parses
 * is verified against its own signer over the input, which must not
 * crash and must not succeed unless the signature really covers it), as
 * armored text, and as a private key file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "record.h"
#include "sshkey.h"
#include "sshsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_record(const uint8_t *data, size_t size)
{
	struct kb_record rec;
	unsigned char *out = NULL;
	size_t len = 0;

	if (record_decode(data, size, &rec) != 0)
		return;
	if (record_encode(&rec, &out, &len) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
	free(out);
	record_free(&rec);
}

static void
fuzz_sig(const uint8_t *data, size_t size)
{
	struct kb_key *signer = NULL;
	int r;

	if (sshsig_parse(data, size, &signer) != 0) {
		if (signer != NULL)
			abort();
		return;
	}
	/* a signature cannot cover the bytes that contain it */
	r = sshsig_verify(signer, data, size, data, size);
	if (r == 0)
		abort();
	(void)sshsig_verify(signer, (const unsigned char *)"", 0, data, size);
	key_free(signer);
}

static void
fuzz_text(const uint8_t *data, size_t size)
{
	struct kb_privkey *k = NULL;
	unsigned char *sig = NULL;
	char *again = NULL;
	size_t siglen;

	if (sshsig_dearmor((const char *)data, size, &sig, &siglen) == 0) {
		if (sshsig_armor(sig, siglen, &again) != 0)
			abort();
		fuzz_sig(sig, siglen);
		free(again);
		free(sig);
	}
	if (sshsig_privkey_parse((const char *)data, size, &k) == 0) {
		if (sshsig_privkey_public(k) == NULL)
			abort();
		sshsig_privkey_free(k);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_record(data, size);
	fuzz_sig(data, size);
	fuzz_text(data, size);
	return 0;
}
