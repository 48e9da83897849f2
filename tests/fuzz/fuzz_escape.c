/*
 * fuzz_escape.c - libFuzzer target: filter escaping and expansion, DN
 * escaping and the name validators, each checked against an independent
 * reading of its output; any violation aborts.
 *
 * Input: the first byte picks what the rest is:
 *   even  a value: escaped alone (NULs included), expanded into the
 *         keybound template as user and instance (split at the first NUL),
 *         DN-escaped, and run through every validator;
 *   odd   "TEMPLATE\0USER\0INSTANCE": whenever filter_template_check()
 *         accepts the template, the expansion must have exactly the
 *         structure of the template expanded with empty values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "filter.h"
#include "names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Our own RFC 4515 value escaping, to compare with the library's. */
static char *
ref_escape(const unsigned char *v, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *out, *o;
	size_t i;

	if ((out = malloc(len * 3 + 1)) == NULL)
		abort();
	for (o = out, i = 0; i < len; i++) {
		if (v[i] > 0x20 && v[i] < 0x7f && v[i] != '*' && v[i] != '(' &&
		    v[i] != ')' && v[i] != '\\') {
			*o++ = (char)v[i];
		} else {
			*o++ = '\\';
			*o++ = hex[v[i] >> 4];
			*o++ = hex[v[i] & 15];
		}
	}
	*o = '\0';
	return out;
}

/* Every byte printable and not a metacharacter, or a \xx escape; decodes
 * back to v. */
static void
check_escaped(const char *s, const unsigned char *v, size_t len)
{
	size_t i, n = 0;
	unsigned char c;
	int hi, lo;

	for (i = 0; s[i] != '\0'; i++, n++) {
		c = (unsigned char)s[i];
		if (c == '\\') {
			hi = hexval((unsigned char)s[i + 1]);
			lo = hi < 0 ? -1 : hexval((unsigned char)s[i + 2]);
			if (lo < 0)
				abort();
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c < 0x21 || c > 0x7e || c == '*' || c == '(' ||
		    c == ')')
			abort();
		if (n >= len || v[n] != c)
			abort();
	}
	if (n != len)
		abort();
}

/* The unescaped '(' ')' '*' of a filter, in order; aborts on a bad escape. */
static char *
skeleton(const char *f)
{
	char *out, *o;
	size_t i;

	if ((out = malloc(strlen(f) + 1)) == NULL)
		abort();
	for (o = out, i = 0; f[i] != '\0'; i++) {
		if (f[i] == '\\') {
			if (hexval((unsigned char)f[i + 1]) < 0 &&
			    !(f[i + 1] >= 'A' && f[i + 1] <= 'F'))
				abort();
			if (hexval((unsigned char)f[i + 2]) < 0 &&
			    !(f[i + 2] >= 'A' && f[i + 2] <= 'F'))
				abort();
			i += 2;
		} else if (f[i] == '(' || f[i] == ')' || f[i] == '*')
			*o++ = f[i];
	}
	*o = '\0';
	return out;
}

static void
check_balanced(const char *skel)
{
	long depth = 0;
	size_t i;

	for (i = 0; skel[i] != '\0'; i++) {
		if (skel[i] == '(')
			depth++;
		else if (skel[i] == ')' && --depth < 0)
			abort();
		if (skel[i] != '*' && depth == 0 && skel[i + 1] != '\0')
			abort();	/* one filter, nothing after it */
	}
	if (depth != 0)
		abort();
}

static void
fuzz_value(const unsigned char *v, size_t len)
{
	static const char prefix[] =
	    "(&(objectClass=keyboundKeyPair)(keyboundAttachment=";
	char *out = NULL, *user, *inst, *eu, *ei, *want, *skel;
	size_t ulen, i;

	if (filter_escape((const char *)v, len, &out) != 0)
		abort();
	check_escaped(out, v, len);
	free(out);

	/* user and instance: C strings split at the first NUL */
	ulen = strnlen((const char *)v, len);
	if ((user = strndup((const char *)v, ulen)) == NULL)
		abort();
	inst = ulen < len ? strndup((const char *)v + ulen + 1,
	    len - ulen - 1) : strdup("");
	if (inst == NULL)
		abort();
	if (filter_expand("(&(objectClass=keyboundKeyPair)"
	    "(keyboundAttachment=%u@%i))", user, inst, NULL, &out) != 0)
		abort();
	eu = ref_escape((const unsigned char *)user, strlen(user));
	ei = ref_escape((const unsigned char *)inst, strlen(inst));
	if ((want = malloc(strlen(prefix) + strlen(eu) + strlen(ei) + 4)) ==
	    NULL)
		abort();
	strcpy(want, prefix);
	strcat(want, eu);
	strcat(want, "@");
	strcat(want, ei);
	strcat(want, "))");
	if (strcmp(out, want) != 0)
		abort();
	skel = skeleton(out);
	if (strcmp(skel, "(()())") != 0)
		abort();
	free(skel);
	free(want);
	free(eu);
	free(ei);
	free(out);

	/* validators: whatever they accept meets the stated rules */
	if (name_user_valid((const char *)v, len) == 0) {
		if (len < 1 || len > KB_USER_MAX || v[0] == '-' ||
		    v[0] == ' ' || v[len - 1] == ' ' ||
		    name_utf8_valid((const char *)v, len) != 0)
			abort();
		for (i = 0; i < len; i++)
			if (v[i] < 0x20 || v[i] == 0x7f)
				abort();
	}
	if (name_instance_valid(user) == 0) {
		if (strlen(user) > KB_INSTANCE_MAX || user[0] == '-' ||
		    user[0] == '.' || strspn(user, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(user))
			abort();
	}
	if (name_keypair_valid(user) == 0) {
		/*
		 * strict UTF-8, 2..64 code points; ASCII only from the
		 * allowed set (a letter first); nothing encoded below U+3400
		 * (lead bytes c2-e2: Latin, combining marks, bidi controls)
		 * nor in U+F000-U+FFFF (lead ef: fullwidth forms).
		 */
		size_t cps = 0, ulen = strlen(user);
		const unsigned char *u = (const unsigned char *)user;

		if (name_utf8_valid(user, ulen) != 0 ||
		    ulen > KB_KEYPAIR_NAME_BYTES ||
		    (u[0] < 0x80 && strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ", u[0]) == NULL))
			abort();
		for (i = 0; i < ulen; i++) {
			if ((u[i] & 0xc0) != 0x80)
				cps++;
			if ((u[i] < 0x80 && strchr("abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-",
			    u[i]) == NULL) || (u[i] >= 0xc2 && u[i] <= 0xe2) ||
			    u[i] == 0xef)
				abort();
		}
		if (cps < 2 || cps > 64)
			abort();
	}
	if (user[0] != '\0') {
		if (dn_escape_value(user, &out) != 0)
			abort();
		/* decode: no unescaped special, control or non-ASCII byte */
		for (i = 0; out[i] != '\0'; i++) {
			unsigned char c = (unsigned char)out[i];

			if (c == '\\') {
				if (out[i + 1] == '\0')
					abort();
				if (hexval((unsigned char)out[i + 1]) >= 0 &&
				    hexval((unsigned char)out[i + 2]) >= 0)
					i += 2;
				else if (strchr("\"+,;<>\\= #",
				    out[i + 1]) == NULL)
					abort();
				else
					i++;
				continue;
			}
			if (c < 0x20 || c > 0x7e || strchr("\"+,;<>=", c))
				abort();
			if ((i == 0 && (c == ' ' || c == '#')) ||
			    (c == ' ' && out[i + 1] == '\0'))
				abort();
		}
		free(out);
	}
	free(user);
	free(inst);
}

/*
 * A template whose first subject item is an attachment (%u@%i), widened
 * to host groups: the result is one well-formed filter again, with the
 * user and groups only inside escaped values.
 */
static void
fuzz_targets(const char *tmpl, const char *user, const char *inst)
{
	static const char *const groups[] = { "web", "db:1", "a-b_c" };
	struct filter_item it[KB_FILTER_MAX_SUBJECT_ITEMS];
	char *out = NULL, *plain = NULL;
	size_t n, i;

	if (filter_template_items(tmpl, it, KB_FILTER_MAX_SUBJECT_ITEMS,
	    &n) != 0)
		return;
	for (i = 0; i < n && i < KB_FILTER_MAX_SUBJECT_ITEMS; i++)
		if (it[i].targets)
			break;
	if (i == n || i == KB_FILTER_MAX_SUBJECT_ITEMS)
		return;
	if (filter_expand_targets(tmpl, &it[i], user, inst, groups, 3,
	    "SHA256:x", &out) != 0 ||
	    filter_expand_targets(tmpl, &it[i], "u", "i", groups, 3, "f",
	    &plain) != 0)
		abort();
	/*
	 * The user's bytes never change the filter's structure.  (An
	 * expanded filter is not a template: a "%%" became a lone '%'.)
	 */
	{
		char *s1 = skeleton(out), *s2 = skeleton(plain);

		if (strcmp(s1, s2) != 0)
			abort();
		check_balanced(s1);
		free(s1);
		free(s2);
	}
	free(out);
	free(plain);
}

static void
fuzz_template(const unsigned char *d, size_t len)
{
	char *tmpl, *user, *inst, *out = NULL, *empty = NULL, *s1, *s2;
	size_t a, b;

	a = strnlen((const char *)d, len);
	b = a < len ? strnlen((const char *)d + a + 1, len - a - 1) : 0;
	tmpl = strndup((const char *)d, a);
	user = a < len ? strndup((const char *)d + a + 1, b) : strdup("");
	inst = a + 1 + b < len ? strndup((const char *)d + a + b + 2,
	    len - a - b - 2) : strdup("");
	if (tmpl == NULL || user == NULL || inst == NULL)
		abort();
	if (filter_template_check(tmpl, NULL) == 0) {
		if (filter_expand(tmpl, user, inst, "SHA256:x", &out) != 0 ||
		    filter_expand(tmpl, "", "", "", &empty) != 0)
			abort();
		s1 = skeleton(out);
		s2 = skeleton(empty);
		if (strcmp(s1, s2) != 0)
			abort();
		check_balanced(s1);
		free(s1);
		free(s2);
		fuzz_targets(tmpl, user, inst);
	} else {
		/* must not crash, whatever it returns */
		if (filter_expand(tmpl, user, inst, NULL, &out) != 0 &&
		    out != NULL)
			abort();
	}
	free(out);
	free(empty);
	free(tmpl);
	free(user);
	free(inst);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > 256 * 1024)
		return 0;
	if ((data[0] & 1) == 0)
		fuzz_value(data + 1, size - 1);
	else
		fuzz_template(data + 1, size - 1);
	return 0;
}
