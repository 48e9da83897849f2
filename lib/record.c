/*
 * record.c - the canonical signed record (keybound(1), SIGNED RECORDS).
 *
 *	uint32	version (1)
 *	string	kind ("pair" or "group")
 * pair:
 *	string	name
 *	string	public key blob
 *	uint32	number of attachments, then for each, sorted bytewise:
 *		string	attachment
 *		uint64	end (0 permanent)
 *	uint64	not-after (0 none)
 *	string	options (canonical text, empty for none)
 *	byte	blocked (0 or 1)
 *	uint64	serial
 *	uint64	signing time
 * group:
 *	string	name
 *	uint32	number of members, then each, sorted bytewise:
 *		string	member
 *	uint64	serial
 *	uint64	signing time
 *
 * No libcrypto here: the key blob is validated through lib/sshkey.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "blob.h"
#include "names.h"
#include "record.h"
#include "sshkey.h"

#define KIND_PAIR	"pair"
#define KIND_GROUP	"group"

/*
 * Non-empty (unless may_be_empty), bounded, valid UTF-8 without control
 * characters (key pair names may be CJK; everything else is ASCII by the
 * name rules).
 */
static int
rec_text_ok(const char *s, size_t len, int may_be_empty)
{
	size_t i;

	if ((len == 0 && !may_be_empty) || len > KB_RECORD_MAX_STRING)
		return 0;
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return 0;
	}
	return name_utf8_valid(s, len) == 0;
}

static int
rec_key_ok(const unsigned char *blob, size_t len)
{
	struct kb_key *k = NULL;
	int r;

	if (blob == NULL || len == 0)
		return KB_ERR_RECORD;
	r = key_from_blob(blob, len, &k);
	key_free(k);
	return r == 0 ? 0 : KB_ERR_RECORD;
}

static int
att_cmp(const void *a, const void *b)
{
	const struct kb_record_att *x = *(const struct kb_record_att *const *)a;
	const struct kb_record_att *y = *(const struct kb_record_att *const *)b;

	return strcmp(x->value, y->value);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
rec_encode_pair(const struct kb_record *rec, struct kb_wblob *w)
{
	const struct kb_record_att **sorted = NULL;
	size_t i;
	int r = KB_ERR_INTERNAL;

	if ((r = rec_key_ok(rec->key_blob, rec->key_bloblen)) != 0)
		goto out;
	if (rec->natts > KB_RECORD_MAX_ITEMS ||
	    (rec->natts > 0 && rec->atts == NULL) || rec->options == NULL ||
	    !rec_text_ok(rec->options, strlen(rec->options), 1) ||
	    (rec->blocked != 0 && rec->blocked != 1)) {
		r = KB_ERR_RECORD;
		goto out;
	}
	if ((sorted = calloc(rec->natts + 1, sizeof(*sorted))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < rec->natts; i++) {
		if (rec->atts[i].value == NULL ||
		    !rec_text_ok(rec->atts[i].value,
		    strlen(rec->atts[i].value), 0)) {
			r = KB_ERR_RECORD;
			goto out;
		}
		sorted[i] = &rec->atts[i];
	}
	qsort(sorted, rec->natts, sizeof(*sorted), att_cmp);
	for (i = 1; i < rec->natts; i++) {
		if (strcmp(sorted[i - 1]->value, sorted[i]->value) == 0) {
			r = KB_ERR_RECORD;
			goto out;
		}
	}
	blob_put_string(w, rec->key_blob, rec->key_bloblen);
	blob_put_u32(w, (uint32_t)rec->natts);
	for (i = 0; i < rec->natts; i++) {
		blob_put_cstring(w, sorted[i]->value);
		blob_put_u64(w, sorted[i]->end);
	}
	blob_put_u64(w, rec->not_after);
	blob_put_cstring(w, rec->options);
	blob_put_u8(w, (unsigned char)rec->blocked);
	r = 0;
 out:
	free(sorted);
	return r;
}

static int
rec_encode_group(const struct kb_record *rec, struct kb_wblob *w)
{
	const char **sorted = NULL;
	size_t i;
	int r = KB_ERR_INTERNAL;

	if (rec->nmembers > KB_RECORD_MAX_ITEMS ||
	    (rec->nmembers > 0 && rec->members == NULL)) {
		r = KB_ERR_RECORD;
		goto out;
	}
	if ((sorted = calloc(rec->nmembers + 1, sizeof(*sorted))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < rec->nmembers; i++) {
		if (rec->members[i] == NULL ||
		    !rec_text_ok(rec->members[i], strlen(rec->members[i]), 0)) {
			r = KB_ERR_RECORD;
			goto out;
		}
		sorted[i] = rec->members[i];
	}
	qsort(sorted, rec->nmembers, sizeof(*sorted), str_cmp);
	for (i = 1; i < rec->nmembers; i++) {
		if (strcmp(sorted[i - 1], sorted[i]) == 0) {
			r = KB_ERR_RECORD;
			goto out;
		}
	}
	blob_put_u32(w, (uint32_t)rec->nmembers);
	for (i = 0; i < rec->nmembers; i++)
		blob_put_cstring(w, sorted[i]);
	r = 0;
 out:
	free(sorted);
	return r;
}

int
record_encode(const struct kb_record *rec, unsigned char **outp,
    size_t *lenp)
{
	struct kb_wblob w;
	unsigned char *out = NULL;
	size_t len = 0;
	int r = KB_ERR_INTERNAL;

	memset(&w, 0, sizeof(w));
	if (outp != NULL)
		*outp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	if (rec == NULL || outp == NULL || lenp == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if (rec->name == NULL ||
	    !rec_text_ok(rec->name, strlen(rec->name), 0)) {
		r = KB_ERR_RECORD;
		goto out;
	}
	blob_put_u32(&w, KB_RECORD_VERSION);
	switch (rec->kind) {
	case KB_RECORD_PAIR:
		blob_put_cstring(&w, KIND_PAIR);
		blob_put_cstring(&w, rec->name);
		r = rec_encode_pair(rec, &w);
		break;
	case KB_RECORD_GROUP:
		blob_put_cstring(&w, KIND_GROUP);
		blob_put_cstring(&w, rec->name);
		r = rec_encode_group(rec, &w);
		break;
	default:
		r = KB_ERR_RECORD;
		break;
	}
	if (r != 0)
		goto out;
	blob_put_u64(&w, rec->serial);
	blob_put_u64(&w, rec->signed_at);
	if ((r = blob_w_done(&w, &out, &len)) != 0)
		goto out;
	if (len > KB_RECORD_MAX) {
		r = KB_ERR_TOO_LONG;
		goto out;
	}
	*outp = out;
	*lenp = len;
	out = NULL;
	r = 0;
 out:
	blob_w_free(&w);
	free(out);
	return r;
}

/*
 * Decoder state: strings are copied NUL-terminated into one arena that is
 * as large as the input plus one NUL per possible string.
 */
struct rec_dec {
	struct kb_blob b;
	char *arena;
	size_t used;
	size_t cap;
};

/* A string field as NUL-terminated text (checked) into the arena. */
static int
dec_text(struct rec_dec *d, int may_be_empty, const char **sp)
{
	const unsigned char *p;
	size_t n;

	*sp = NULL;
	if (blob_get_string(&d->b, &p, &n) != 0)
		return KB_ERR_RECORD;
	if (!rec_text_ok((const char *)p, n, may_be_empty) ||
	    n + 1 > d->cap - d->used)
		return KB_ERR_RECORD;
	memcpy(d->arena + d->used, p, n);
	d->arena[d->used + n] = '\0';
	*sp = d->arena + d->used;
	d->used += n + 1;
	return 0;
}

static int
dec_count(struct rec_dec *d, size_t min_item, size_t *np)
{
	uint32_t n;

	*np = 0;
	if (blob_get_u32(&d->b, &n) != 0)
		return KB_ERR_RECORD;
	/* every item takes at least min_item bytes of what is left */
	if (n > KB_RECORD_MAX_ITEMS || n > d->b.left / min_item)
		return KB_ERR_RECORD;
	*np = n;
	return 0;
}

static int
dec_pair(struct rec_dec *d, struct kb_record *rec)
{
	struct kb_record_att *atts = NULL;
	const unsigned char *kb;
	unsigned char blocked;
	size_t i, klen;
	int r;

	if (blob_get_string(&d->b, &kb, &klen) != 0 ||
	    klen + 1 > d->cap - d->used)
		return KB_ERR_RECORD;
	if ((r = rec_key_ok(kb, klen)) != 0)
		return r;
	memcpy(d->arena + d->used, kb, klen);
	rec->key_blob = (unsigned char *)d->arena + d->used;
	rec->key_bloblen = klen;
	d->used += klen + 1;

	if ((r = dec_count(d, 4 + 1 + 8, &rec->natts)) != 0)
		return r;
	if ((atts = calloc(rec->natts + 1, sizeof(*atts))) == NULL)
		return KB_ERR_NOMEM;
	rec->owned_[1] = atts;
	rec->atts = atts;
	for (i = 0; i < rec->natts; i++) {
		if ((r = dec_text(d, 0, &atts[i].value)) != 0)
			return r;
		if (blob_get_u64(&d->b, &atts[i].end) != 0)
			return KB_ERR_RECORD;
		if (i > 0 && strcmp(atts[i - 1].value, atts[i].value) >= 0)
			return KB_ERR_RECORD;
	}
	if (blob_get_u64(&d->b, &rec->not_after) != 0)
		return KB_ERR_RECORD;
	if ((r = dec_text(d, 1, &rec->options)) != 0)
		return r;
	if (blob_get_u8(&d->b, &blocked) != 0 || blocked > 1)
		return KB_ERR_RECORD;
	rec->blocked = blocked;
	return 0;
}

static int
dec_group(struct rec_dec *d, struct kb_record *rec)
{
	const char **members = NULL;
	size_t i;
	int r;

	if ((r = dec_count(d, 4 + 1, &rec->nmembers)) != 0)
		return r;
	if ((members = calloc(rec->nmembers + 1, sizeof(*members))) == NULL)
		return KB_ERR_NOMEM;
	rec->owned_[2] = members;
	rec->members = members;
	for (i = 0; i < rec->nmembers; i++) {
		if ((r = dec_text(d, 0, &members[i])) != 0)
			return r;
		if (i > 0 && strcmp(members[i - 1], members[i]) >= 0)
			return KB_ERR_RECORD;
	}
	return 0;
}

int
record_decode(const unsigned char *p, size_t len, struct kb_record *rec)
{
	struct rec_dec d;
	const unsigned char *kind;
	size_t kindlen;
	uint32_t version;
	int r = KB_ERR_INTERNAL;

	memset(&d, 0, sizeof(d));
	if (rec != NULL)
		memset(rec, 0, sizeof(*rec));
	if (p == NULL || rec == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if (len > KB_RECORD_MAX) {
		r = KB_ERR_TOO_LONG;
		goto out;
	}
	blob_init(&d.b, p, len);
	if (blob_get_u32(&d.b, &version) != 0) {
		r = KB_ERR_RECORD;
		goto out;
	}
	if (version != KB_RECORD_VERSION) {
		r = KB_ERR_RECORD_VERSION;
		goto out;
	}
	d.cap = len + len / 4 + 1;
	if ((d.arena = malloc(d.cap)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	rec->owned_[0] = d.arena;
	if (blob_get_string(&d.b, &kind, &kindlen) != 0) {
		r = KB_ERR_RECORD;
		goto out;
	}
	if ((r = dec_text(&d, 0, &rec->name)) != 0)
		goto out;
	if (kindlen == strlen(KIND_PAIR) &&
	    memcmp(kind, KIND_PAIR, kindlen) == 0) {
		rec->kind = KB_RECORD_PAIR;
		rec->options = "";
		r = dec_pair(&d, rec);
	} else if (kindlen == strlen(KIND_GROUP) &&
	    memcmp(kind, KIND_GROUP, kindlen) == 0) {
		rec->kind = KB_RECORD_GROUP;
		r = dec_group(&d, rec);
	} else
		r = KB_ERR_RECORD;
	if (r != 0)
		goto out;
	if (blob_get_u64(&d.b, &rec->serial) != 0 ||
	    blob_get_u64(&d.b, &rec->signed_at) != 0 || !blob_empty(&d.b)) {
		r = KB_ERR_RECORD;
		goto out;
	}
	r = 0;
 out:
	if (r != 0)
		record_free(rec);
	return r;
}

void
record_free(struct kb_record *rec)
{
	size_t i;

	if (rec == NULL)
		return;
	for (i = 0; i < sizeof(rec->owned_) / sizeof(rec->owned_[0]); i++)
		free(rec->owned_[i]);
	memset(rec, 0, sizeof(*rec));
}
