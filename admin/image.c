/*
 * image.c - an entry as the directory will hold it after a modify: a copy
 * of the attributes read, with the modify's operations applied in memory
 * the way an LDAP server applies them (RFC 4511 4.6).  The CLI signs the
 * image and sends the signature in the same modify (sign.c), so what it
 * vouches for is what it read and verified plus its own change, never
 * what someone else wrote meanwhile.
 *
 * Values are compared as the keybound schema's matching rules do:
 * caseExactIA5Match (byte for byte) for every keybound attribute, and
 * case-insensitively for cn and objectClass.  A difference in how a
 * server stored a value shows at the read-back (sign.c), never as a
 * signature over something the entry does not hold.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kb.h"
#include "directory.h"
#include "record.h"
#include "admin.h"

struct image_attr {
	char *name;
	char **vals;			/* NUL-terminated copies */
	size_t *lens;
	size_t nvals;
};

static void
view_clear(struct entry_image *im)
{
	free(im->view);
	free(im->viewvals);
	im->view = NULL;
	im->viewvals = NULL;
}

static void
attr_clear(struct image_attr *at)
{
	size_t j;

	for (j = 0; j < at->nvals; j++)
		free(at->vals[j]);
	free(at->vals);
	free(at->lens);
	free(at->name);
}

void
image_free(struct entry_image *im)
{
	size_t i;

	for (i = 0; i < im->nattrs; i++)
		attr_clear(&im->attrs[i]);
	free(im->attrs);
	view_clear(im);
	memset(im, 0, sizeof(*im));
}

static int
image_ci(const char *name)
{
	return strcasecmp(name, "cn") == 0 ||
	    strcasecmp(name, "objectClass") == 0;
}

/* The index of value s (len bytes) in at, or at->nvals. */
static size_t
attr_index(const struct image_attr *at, const char *s, size_t len)
{
	size_t i;
	int ci = image_ci(at->name);

	for (i = 0; i < at->nvals; i++) {
		if (at->lens[i] != len)
			continue;
		if (ci ? strncasecmp(at->vals[i], s, len) == 0 :
		    memcmp(at->vals[i], s, len) == 0)
			break;
	}
	return i;
}

/* The attribute named name, or NULL. */
static struct image_attr *
image_attr(struct entry_image *im, const char *name)
{
	size_t i;

	for (i = 0; i < im->nattrs; i++)
		if (strcasecmp(im->attrs[i].name, name) == 0)
			return &im->attrs[i];
	return NULL;
}

/* A new, empty attribute named name at the end. */
static int
image_attr_new(struct entry_image *im, const char *name,
    struct image_attr **atp)
{
	struct image_attr *na;

	*atp = NULL;
	if ((na = reallocarray(im->attrs, im->nattrs + 1,
	    sizeof(*na))) == NULL)
		return KB_ERR_NOMEM;
	im->attrs = na;
	na = &im->attrs[im->nattrs];
	memset(na, 0, sizeof(*na));
	if ((na->name = strdup(name)) == NULL)
		return KB_ERR_NOMEM;
	im->nattrs++;
	*atp = na;
	return 0;
}

/* Append a copy of s (len bytes) to at. */
static int
attr_push(struct image_attr *at, const char *s, size_t len)
{
	char **nv, *copy;
	size_t *nl;

	if ((nv = reallocarray(at->vals, at->nvals + 1, sizeof(*nv))) == NULL)
		return KB_ERR_NOMEM;
	at->vals = nv;
	if ((nl = reallocarray(at->lens, at->nvals + 1, sizeof(*nl))) == NULL)
		return KB_ERR_NOMEM;
	at->lens = nl;
	if ((copy = malloc(len + 1)) == NULL)
		return KB_ERR_NOMEM;
	memcpy(copy, s, len);
	copy[len] = '\0';
	at->vals[at->nvals] = copy;
	at->lens[at->nvals++] = len;
	return 0;
}

/* Remove value i of at. */
static void
attr_drop(struct image_attr *at, size_t i)
{
	free(at->vals[i]);
	memmove(&at->vals[i], &at->vals[i + 1],
	    (at->nvals - i - 1) * sizeof(*at->vals));
	memmove(&at->lens[i], &at->lens[i + 1],
	    (at->nvals - i - 1) * sizeof(*at->lens));
	at->nvals--;
}

/* Remove the attribute at (all its values) from im. */
static void
image_attr_drop(struct entry_image *im, struct image_attr *at)
{
	size_t i = (size_t)(at - im->attrs);

	attr_clear(at);
	memmove(at, at + 1, (im->nattrs - i - 1) * sizeof(*at));
	im->nattrs--;
}

int
image_from_attrs(struct entry_image *im, const struct kb_attr *attrs,
    size_t nattrs)
{
	struct image_attr *at;
	size_t i, j;
	int r;

	memset(im, 0, sizeof(*im));
	for (i = 0; i < nattrs; i++) {
		if ((at = image_attr(im, attrs[i].name)) == NULL &&
		    (r = image_attr_new(im, attrs[i].name, &at)) != 0)
			goto fail;
		for (j = 0; j < attrs[i].nvals; j++)
			if ((r = attr_push(at, attrs[i].vals[j].bytes,
			    attrs[i].vals[j].len)) != 0)
				goto fail;
	}
	return 0;
 fail:
	image_free(im);
	return r;
}

/* Apply one modification; values present or absent already are left. */
static int
image_mod(struct entry_image *im, const struct kb_mod *m)
{
	struct image_attr *at = image_attr(im, m->attr);
	size_t i, k, len;
	int r;

	if (m->op != KB_MOD_ADD && m->op != KB_MOD_DELETE &&
	    m->op != KB_MOD_REPLACE)
		return KB_ERR_INVALID_ARG;
	if (m->op == KB_MOD_REPLACE || (m->op == KB_MOD_DELETE &&
	    (m->vals == NULL || m->vals[0] == NULL))) {
		if (at != NULL)
			image_attr_drop(im, at);
		if (m->op == KB_MOD_DELETE)
			return 0;
		at = NULL;
	}
	for (k = 0; m->vals != NULL && m->vals[k] != NULL; k++) {
		len = strlen(m->vals[k]);
		i = at != NULL ? attr_index(at, m->vals[k], len) : 0;
		if (m->op == KB_MOD_DELETE) {
			if (at != NULL && i < at->nvals)
				attr_drop(at, i);
			continue;
		}
		if (at != NULL && i < at->nvals)
			continue;		/* present: one value */
		if (at == NULL && (r = image_attr_new(im, m->attr, &at)) != 0)
			return r;
		if ((r = attr_push(at, m->vals[k], len)) != 0)
			return r;
	}
	if (at != NULL && at->nvals == 0)
		image_attr_drop(im, at);
	return 0;
}

int
image_apply(struct entry_image *im, const struct kb_mod *mods, size_t nmods)
{
	size_t i;
	int r;

	view_clear(im);
	for (i = 0; i < nmods; i++)
		if ((r = image_mod(im, &mods[i])) != 0)
			return r;
	return 0;
}

const struct kb_attr *
image_view(struct entry_image *im)
{
	size_t i, j, n = 0;
	struct kb_val *v;

	if (im->view != NULL || im->nattrs == 0)
		return im->view;
	for (i = 0; i < im->nattrs; i++)
		n += im->attrs[i].nvals;
	if ((im->view = calloc(im->nattrs, sizeof(*im->view))) == NULL ||
	    (n > 0 && (im->viewvals = calloc(n, sizeof(*v))) == NULL)) {
		view_clear(im);
		return NULL;
	}
	v = im->viewvals;
	for (i = 0; i < im->nattrs; i++) {
		im->view[i].name = im->attrs[i].name;
		im->view[i].vals = v;
		im->view[i].nvals = im->attrs[i].nvals;
		for (j = 0; j < im->attrs[i].nvals; j++, v++) {
			v->bytes = im->attrs[i].vals[j];
			v->len = im->attrs[i].lens[j];
		}
	}
	return im->view;
}

/* KB_RECORD_PAIR or KB_RECORD_GROUP by objectClass, else 0. */
int
admin_entry_kind(const struct kb_attr *attrs, size_t nattrs)
{
	size_t i, j;

	for (i = 0; i < nattrs; i++) {
		if (strcasecmp(attrs[i].name, "objectClass") != 0)
			continue;
		for (j = 0; j < attrs[i].nvals; j++) {
			if (strcasecmp(attrs[i].vals[j].bytes, OC_KEYPAIR) == 0)
				return KB_RECORD_PAIR;
			if (strcasecmp(attrs[i].vals[j].bytes, OC_GROUP) == 0)
				return KB_RECORD_GROUP;
		}
	}
	return 0;
}
