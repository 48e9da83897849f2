/*
 * names.h - validation of user, instance and key pair names, RFC 4515
 * filter-value escaping and %-template expansion.
 */
#ifndef KB_NAMES_H
#define KB_NAMES_H

#include <stddef.h>

#define KB_USER_MAX		256	/* bytes */
#define KB_INSTANCE_MAX		253	/* bytes */
#define KB_KEYPAIR_NAME_MIN	2
#define KB_KEYPAIR_NAME_MAX	64	/* characters (code points) */
#define KB_KEYPAIR_NAME_BYTES	(KB_KEYPAIR_NAME_MAX * 4) /* UTF-8 bytes */

/*
 * A user name is 1..256 bytes, no control byte (< 0x20, 0x7f), no leading or
 * trailing space, does not start with '-', and is valid UTF-8 (real POSIX
 * and directory names, including non-ASCII ones, pass).  Strict UTF-8: no
 * overlong forms, surrogates or C1 controls (U+0080..U+009F).  Filter
 * metacharacters and '\' are allowed ("DOMAIN\user"): values are always
 * escaped on their way into a filter.
 * Returns 0 or KB_ERR_USER_NAME.
 */
int name_user_valid(const char *user, size_t len);

/*
 * An instance id: 1..253 bytes of [A-Za-z0-9._-], not starting with '-' or
 * '.'.  Returns 0 or KB_ERR_INSTANCE_NAME.
 */
int name_instance_valid(const char *instance);

/*
 * A key pair name (the clouds' rule): 2..64 characters (code points, strict
 * UTF-8), first an ASCII letter or a CJK unified ideograph, then ASCII
 * letters, digits, CJK unified ideographs, ':', '_', '-'.  Nothing else:
 * no combining mark, bidi control or fullwidth form.  At most
 * KB_KEYPAIR_NAME_BYTES bytes.  Returns 0 or KB_ERR_KEYPAIR_NAME.
 */
int name_keypair_valid(const char *name);

/*
 * 0 if s[0..len) is valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), else KB_ERR_INVALID_ARG.
 */
int name_utf8_valid(const char *s, size_t len);

/*
 * An LDAP attribute type name (RFC 4512): a descriptor (letter, then
 * letters, digits, '-') or a numeric OID, at most 128 bytes, no options.
 * Returns 0 or KB_ERR_INVALID_ARG.
 */
int name_attribute_valid(const char *name);

/*
 * RFC 4515 escaping of one assertion value: '*', '(', ')', '\' and NUL and
 * every byte outside 0x21..0x7e (so the space too) become \XX with
 * lower-case hex.  *outp is NUL-terminated.
 */
int filter_escape(const char *val, size_t len, char **outp);

/*
 * Expand a filter template: %u -> escaped user, %i -> escaped instance,
 * %f -> escaped fingerprint (NULL: %f is an error), %% -> %.  Any other
 * %-sequence is KB_ERR_FILTER_TEMPLATE.  Values are always escaped.
 */
int filter_expand(const char *tmpl, const char *user, const char *instance,
    const char *fingerprint, char **outp);

/* What filter_template_check() found in a template. */
#define KB_FILTER_USES_USER		0x1	/* %u */
#define KB_FILTER_USES_INSTANCE		0x2	/* %i */
#define KB_FILTER_USES_FINGERPRINT	0x4	/* %f */

/*
 * Check that a filter template is one RFC 4515 filter (nesting at most 32
 * deep) whose %u %i %f %% appear only inside assertion values, so that
 * filter_expand() of it is a well-formed filter whatever the values.
 * *usesp (if not NULL) gets KB_FILTER_USES_* bits.  Returns 0 or
 * KB_ERR_FILTER_TEMPLATE.
 */
int filter_template_check(const char *tmpl, unsigned *usesp);

/* Most attr=value items naming %u or %i that a template may hold. */
#define KB_FILTER_MAX_SUBJECT_ITEMS	4

/*
 * The attr=value items of a valid template that name %u or %i: lookup.c
 * requires every one of them to hold its exact bytes in each entry
 * returned.  KB_ERR_FILTER_TEMPLATE if one cannot be re-checked as
 * written: it holds a '*' (substring or presence), or it sits under a
 * '|' or '!' (requiring all of them would change the filter's meaning),
 * or %u or %i appears in a ~=, >=, <= or extensible-match item (the
 * server's matching rule, not the bytes, decides what those match).
 * *np gets their number.
 */
int filter_template_subject_items(const char *tmpl, size_t *np);

/*
 * RFC 4514 escaping of one RDN attribute value for building a DN:
 * " + , ; < > \ = and a leading space or '#' and a trailing space get a
 * backslash; bytes outside 0x20..0x7e become \XX.  Empty is
 * KB_ERR_INVALID_ARG.
 */
int dn_escape_value(const char *val, char **outp);

/*
 * Expand the `instance` config value: a literal, or %h (short host name),
 * %H (full host name as the kernel has it; no DNS lookup), %m
 * (/etc/machine-id).  The result is checked with name_instance_valid().
 */
int instance_expand(const char *spec, char **outp);

#endif /* KB_NAMES_H */
