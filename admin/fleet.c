/*
 * fleet.c - what the fleet commands share: where host groups and
 * blocklist entries live, and whether one exists.
 *
 * Host groups are cn=NAME,<group_base>; blocklist entries are
 * keyboundFingerprint=SHA256:...,<base> (the RDN escaped: base64 holds
 * '+' and '/').  Existence is always asked of the directory at the
 * moment it matters; callers that race other admins re-ask after their
 * write (see cmd_group.c and cmd_block.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kb.h"
#include "config.h"
#include "directory.h"
#include "names.h"
#include "admin.h"

static const char *const dn_only[] = { "1.1", NULL };

const char *
admin_group_base(const struct kb_admin *a)
{
	const char *b = config_group_base(a->cfg);

	return b != NULL ? b : a->cfg->base;
}

int
admin_group_dn(const struct kb_admin *a, const char *name, char **dnp)
{
	char *esc = NULL;
	int r;

	*dnp = NULL;
	if ((r = dn_escape_value(name, &esc)) != 0)
		return r;
	if (asprintf(dnp, "cn=%s,%s", esc, admin_group_base(a)) < 0) {
		*dnp = NULL;
		r = KB_ERR_NOMEM;
	}
	free(esc);
	return r;
}

static int
count_entry(void *ctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	size_t *n = ctx;

	(void)dn;
	(void)attrs;
	(void)nattrs;
	(*n)++;
	return KB_DIR_ENTRY_RELEASED;
}

/* 1 if dn exists and matches filter, 0 if not, or a KB_ERR_* code. */
static int
entry_exists(struct kb_admin *a, const char *dn, const char *filter)
{
	size_t n = 0;
	int r;

	r = dir_search(a->dir, dn, KB_SCOPE_BASE, filter, dn_only, 2,
	    count_entry, &n, NULL);
	if (r == KB_ERR_DIR_NO_SUCH_OBJECT)
		return 0;
	if (r != 0)
		return r;
	return n > 0;
}

/* Look for a cn value equal to ctx's name byte for byte. */
static int
cn_exact(void *ctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	struct cn_match { const char *name; int found; } *m = ctx;
	size_t i, k, len = strlen(m->name);

	(void)dn;
	for (i = 0; i < nattrs; i++) {
		if (strcasecmp(attrs[i].name, AT_CN) != 0)
			continue;
		for (k = 0; k < attrs[i].nvals; k++)
			if (attrs[i].vals[k].len == len &&
			    memcmp(attrs[i].vals[k].bytes, m->name, len) == 0)
				m->found = 1;
	}
	return KB_DIR_ENTRY_RELEASED;
}

int
group_exists(struct kb_admin *a, const char *name)
{
	static const char *const cn_only[] = { AT_CN, NULL };
	struct cn_match { const char *name; int found; } m = { name, 0 };
	char *dn = NULL;
	int r;

	/* cn matches ignoring case; group names in attachments do not */
	if ((r = admin_group_dn(a, name, &dn)) != 0)
		return r;
	r = dir_search(a->dir, dn, KB_SCOPE_BASE, "(objectClass=" OC_GROUP
	    ")", cn_only, 2, cn_exact, &m, NULL);
	free(dn);
	if (r == KB_ERR_DIR_NO_SUCH_OBJECT)
		return 0;
	return r != 0 ? r : m.found;
}

int
group_name_taken(struct kb_admin *a, const char *name)
{
	char *dn = NULL;
	int r;

	if ((r = admin_group_dn(a, name, &dn)) != 0)
		return r;
	r = entry_exists(a, dn, "(objectClass=" OC_GROUP ")");
	free(dn);
	return r;
}

int
pair_exists(struct kb_admin *a, const char *name)
{
	char *dn = NULL;
	int r;

	if ((r = admin_pair_dn(a, name, &dn)) != 0)
		return r;
	r = entry_exists(a, dn, "(objectClass=" OC_KEYPAIR ")");
	free(dn);
	return r;
}

int
blocklist_dn(const struct kb_admin *a, const char *fp, char **dnp)
{
	char *esc = NULL;
	int r;

	*dnp = NULL;
	if ((r = dn_escape_value(fp, &esc)) != 0)
		return r;
	if (asprintf(dnp, AT_FP "=%s,%s", esc, a->cfg->base) < 0) {
		*dnp = NULL;
		r = KB_ERR_NOMEM;
	}
	free(esc);
	return r;
}

int
blocklist_has(struct kb_admin *a, const char *fp)
{
	char *dn = NULL;
	int r;

	if ((r = blocklist_dn(a, fp, &dn)) != 0)
		return r;
	r = entry_exists(a, dn, "(objectClass=" OC_BLOCKED ")");
	free(dn);
	return r;
}

int
admin_same_dn(const char *x, const char *y)
{
	return strcasecmp(x, y) == 0;
}

int
admin_text_valid(const char *what, const char *arg)
{
	size_t i, len = strlen(arg);

	if (len > ADMIN_DESC_MAX || name_utf8_valid(arg, len) != 0) {
		admin_err("%s: at most %d bytes of UTF-8 text", what,
		    ADMIN_DESC_MAX);
		return EXIT_USAGE;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)arg[i] < 0x20 || arg[i] == 0x7f) {
			admin_err("%s: control characters are not allowed",
			    what);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

int
attachment_names_group(const char *v, size_t len, const char *group)
{
	size_t glen = strlen(group);
	const char *at;

	/* USER@+GROUP: the last '@' is followed by '+' and GROUP exactly */
	if (strlen(v) != len || (at = strrchr(v, '@')) == NULL || at == v)
		return 0;
	return at[1] == '+' && (size_t)(len - (size_t)(at + 2 - v)) == glen &&
	    memcmp(at + 2, group, glen) == 0;
}
