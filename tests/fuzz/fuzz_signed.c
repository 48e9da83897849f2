/*
 * fuzz_signed.c - libFuzzer target for lib/signed.c: the keyboundSignature
 * value, trusted_signers text, and the records entry attributes stand for.
 *
 * Every input is read as a keyboundSignature value (whatever parses must
 * format back to the very same bytes), as trusted_signers text, and as
 * an entry ("ATTRIBUTE: value" lines): whatever record signed_pair_record()
 * or signed_group_record() builds from it must decode as the one
 * canonical record of that kind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "directory.h"
#include "record.h"
#include "signed.h"
#include "sshsig.h"

#define MAX_ATTRS	12
#define MAX_VALS	32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_value(const uint8_t *data, size_t size)
{
	unsigned char *sig = NULL;
	uint64_t serial, at;
	size_t siglen;
	char *back = NULL;

	if (signed_value_parse((const char *)data, size, &serial, &at, &sig,
	    &siglen) != 0) {
		if (sig != NULL)
			abort();
		return;
	}
	if (serial == 0 || siglen == 0)
		abort();
	if (siglen <= SSHSIG_MAX) {
		if (signed_value_format(serial, at, sig, siglen, &back) != 0 ||
		    strlen(back) != size || memcmp(back, data, size) != 0)
			abort();
	}
	free(back);
	free(sig);
}

static void
fuzz_signers(const uint8_t *data, size_t size)
{
	struct kb_signers *s = NULL;
	unsigned line;

	if (signers_parse((const char *)data, size, &s, &line) != 0) {
		if (s != NULL)
			abort();
		return;
	}
	if (signers_count(s) == 0)
		abort();
	signers_free(s);
}

/* One record kind from the entry's attributes: canonical if built. */
static void
fuzz_entry(const struct kb_attr *attrs, size_t nattrs, int group)
{
	struct kb_record rec;
	unsigned char *out = NULL;
	size_t len = 0;
	int r;

	r = group ? signed_group_record(attrs, nattrs, 3, 1767225600, &out,
	    &len) : signed_pair_record(attrs, nattrs, 3, 1767225600, &out,
	    &len);
	if (r != 0) {
		if (out != NULL)
			abort();
		return;
	}
	if (record_decode(out, len, &rec) != 0 || rec.serial != 3 ||
	    rec.kind != (group ? KB_RECORD_GROUP : KB_RECORD_PAIR))
		abort();
	record_free(&rec);
	free(out);
}

static void
fuzz_attrs(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "cn", "keyboundPublicKey",
	    "keyboundAttachment", "keyboundAttachmentEnd",
	    "keyboundNotAfter", "keyboundKeyOptions", "keyboundBlocked",
	    "keyboundMember", "keyboundSignature" };
	struct kb_attr attrs[MAX_ATTRS];
	struct kb_val vals[MAX_ATTRS][MAX_VALS];
	const char *p = (const char *)data, *end = p + size, *nl, *colon;
	size_t i, n = 0, k;

	memset(attrs, 0, sizeof(attrs));
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((colon = memchr(p, ':', (size_t)(nl - p))) != NULL &&
		    colon + 1 < nl && colon[1] == ' ') {
			for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
				if (strlen(names[k]) == (size_t)(colon - p) &&
				    memcmp(names[k], p, (size_t)(colon - p)) ==
				    0)
					break;
			for (i = 0; k < sizeof(names) / sizeof(names[0]) &&
			    i < n; i++)
				if (attrs[i].name == names[k])
					break;
			if (k < sizeof(names) / sizeof(names[0]) &&
			    (i < n || n < MAX_ATTRS) &&
			    attrs[i].nvals < MAX_VALS) {
				if (i == n) {
					attrs[n].name = names[k];
					attrs[n].vals = vals[n];
					n++;
				}
				vals[i][attrs[i].nvals].bytes = colon + 2;
				vals[i][attrs[i].nvals].len =
				    (size_t)(nl - colon - 2);
				attrs[i].nvals++;
			}
		}
		p = nl + 1;
	}
	fuzz_entry(attrs, n, 0);
	fuzz_entry(attrs, n, 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_value(data, size);
	fuzz_signers(data, size);
	fuzz_attrs(data, size);
	return 0;
}
