/*
 * filter.h - RFC 4515 search filters: escaping assertion values, checking
 * and expanding the key_filter template (%u %i %f), and the template's
 * subject items, which every entry the directory returns is re-checked
 * against byte for byte.
 */
#ifndef KB_FILTER_H
#define KB_FILTER_H

#include <stddef.h>

/*
 * An LDAP attribute type name (RFC 4512): a descriptor (letter, then
 * letters, digits, '-') or a numeric OID, at most 128 bytes, no options.
 * Returns 0 or KB_ERR_INVALID_ARG.
 */
int filter_attribute_valid(const char *name);

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
 * A subject item: an attr=value item of the template whose value names
 * %u or %i.  Offsets into the template.
 */
struct filter_item {
	size_t start, end;	/* the item "(attr=value)" is [start, end) */
	size_t attr, attrlen;	/* the attribute description */
	size_t val, vallen;	/* the value as written (escapes, %u, %i) */
	int targets;		/* the value is exactly "%u@%i": an
				   attachment, which host groups extend */
};

/*
 * The subject items of a valid template: lookup.c requires every one of
 * them to hold its exact bytes in each entry returned.
 * KB_ERR_FILTER_TEMPLATE if one cannot be re-checked as written: it holds
 * a '*' (substring or presence), or it sits under a '|' or '!' (requiring
 * all of them would change the filter's meaning), or %u or %i appears in
 * a ~=, >=, <= or extensible-match item (the server's matching rule, not
 * the bytes, decides what those match).  *np gets their number; the
 * first max of them go to items (which may be NULL to count only).
 */
int filter_template_items(const char *tmpl, struct filter_item *items,
    size_t max, size_t *np);

/*
 * The exact bytes an entry must hold for item it of tmpl: %u and %i
 * substituted raw (user is userlen bytes), RFC 4515 \XX escapes decoded
 * (so the result may hold any byte: compare *lenp bytes).  *outp is
 * NUL-terminated.
 */
int filter_item_value(const char *tmpl, const struct filter_item *it,
    const char *user, size_t userlen, const char *instance, char **outp,
    size_t *lenp);

/*
 * filter_expand(), with the targets item `it` (NULL: none) widened to
 * every target USER may be granted through on this instance:
 * "(|(ATTR=USER@INSTANCE)(ATTR=USER@+G1)...)" for the ngroups host
 * groups given (names already valid).  With ngroups 0 it is
 * filter_expand().
 */
int filter_expand_targets(const char *tmpl, const struct filter_item *it,
    const char *user, const char *instance, const char *const *groups,
    size_t ngroups, const char *fingerprint, char **outp);

#endif /* KB_FILTER_H */
