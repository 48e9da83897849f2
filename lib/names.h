/*
 * names.h - validation of user, instance and key pair names, RFC 4514 DN
 * value escaping and the `instance` config value.  Search filters are in
 * filter.h.
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
 * An instance id: 1..253 bytes of [A-Za-z0-9._-], starting with a letter
 * or digit ('+' never occurs: USER@+GROUP names a host group).  Returns 0
 * or KB_ERR_INSTANCE_NAME.
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
