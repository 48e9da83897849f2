/*
 * fuzz_keyopts.c - libFuzzer target for authorized_keys options.
 *
 * Both parse modes and the bare syntax check run on every input; whatever
 * parses is rendered, and the rendering must parse back to the same
 * options and render identically (the round trip sshd relies on).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "keyopts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
round_trip(const struct kb_keyopts *o)
{
	struct kb_keyopts back;
	char *out = NULL, *again = NULL;

	if (opts_render(o, &out) != 0)
		abort();
	if (opts_parse(out, strlen(out), KB_OPTS_STRICT, &back, NULL, 0) != 0)
		abort();
	if (back.flags != o->flags || !same_str(back.from, o->from) ||
	    !same_str(back.command, o->command))
		abort();
	if (opts_render(&back, &again) != 0 || strcmp(out, again) != 0)
		abort();
	opts_clear(&back);
	free(out);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_keyopts o;
	char dropped[64];
	const char *s = (const char *)data;
	int mode, r;

	for (mode = KB_OPTS_STRICT; mode <= KB_OPTS_DROP_UNKNOWN; mode++) {
		r = opts_parse(s, size, mode, &o, dropped, sizeof(dropped));
		if (strlen(dropped) >= sizeof(dropped))
			abort();
		if (r == 0) {
			round_trip(&o);
			/* anything that parses passes the syntax check */
			if (opts_check_syntax(s, size) != 0)
				abort();
		} else if (o.flags != 0 || o.from != NULL ||
		    o.command != NULL)
			abort();
		opts_clear(&o);
	}
	(void)opts_check_syntax(s, size);
	return 0;
}
