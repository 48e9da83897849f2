/*
 * signed.c - signed directory entries: the keyboundSignature value, the
 * record an entry's attributes stand for, trusted_signers (signed.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "kb.h"
#include "b64.h"
#include "directory.h"
#include "ed25519.h"
#include "fdio.h"
#include "lookup.h"
#include "record.h"
#include "signed.h"
#include "sshkey.h"
#include "sshsig.h"

#define SIGNERS_FILE_MAX	(256 * 1024)
#define SIGNERS_MAX		256
#define SIGNER_NAME_MAX		256
#define GENTIME_LEN		15	/* YYYYMMDDHHMMSSZ */

struct signer {
	char *name;
	struct kb_key *key;
};

struct kb_signers {
	struct signer *v;
	size_t n;
};

static const struct kb_attr *
attr_get(const struct kb_attr *attrs, size_t nattrs, const char *name)
{
	size_t i;

	for (i = 0; i < nattrs; i++)
		if (strcasecmp(attrs[i].name, name) == 0)
			return &attrs[i];
	return NULL;
}

/* NUL-free copy of one value. */
static char *
val_dup(const struct kb_val *v)
{
	char *s;

	if (memchr(v->bytes, '\0', v->len) != NULL)
		return NULL;
	if ((s = malloc(v->len + 1)) == NULL)
		return NULL;
	memcpy(s, v->bytes, v->len);
	s[v->len] = '\0';
	return s;
}

static void
strings_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Every value of a (NULL: none) as a NUL-free string: *valsp (free with
 * strings_free()) and *np.  More than KB_RECORD_MAX_ITEMS values, or a
 * value that cannot be copied: KB_ERR_RECORD.
 */
static int
attr_strings(const struct kb_attr *a, char ***valsp, size_t *np)
{
	char **vals = NULL;
	size_t i, n = a != NULL ? a->nvals : 0;
	int r = KB_ERR_RECORD;

	*valsp = NULL;
	*np = 0;
	if (n > KB_RECORD_MAX_ITEMS)
		return KB_ERR_RECORD;
	if (n > 0 && (vals = calloc(n, sizeof(*vals))) == NULL)
		return KB_ERR_NOMEM;
	for (i = 0; i < n; i++)
		if ((vals[i] = val_dup(&a->vals[i])) == NULL)
			goto out;
	*valsp = vals;
	*np = n;
	vals = NULL;
	r = 0;
 out:
	strings_free(vals, n);
	return r;
}

/* Absent, or exactly one value: 0; more: KB_ERR_RECORD. */
static int
single(const struct kb_attr *attrs, size_t nattrs, const char *name,
    const struct kb_val **vp)
{
	const struct kb_attr *at = attr_get(attrs, nattrs, name);

	*vp = NULL;
	if (at == NULL || at->nvals == 0)
		return 0;
	if (at->nvals != 1)
		return KB_ERR_RECORD;
	*vp = &at->vals[0];
	return 0;
}

static int
gentime_u64(const char *s, size_t len, uint64_t *tp)
{
	time_t t;

	if (lookup_parse_gentime(s, len, &t) != 0 || t <= 0)
		return KB_ERR_RECORD;
	*tp = (uint64_t)t;
	return 0;
}

int
signed_value_parse(const char *v, size_t len, uint64_t *serialp,
    uint64_t *signed_atp, unsigned char **sigp, size_t *siglenp)
{
	uint64_t serial = 0;
	time_t t;
	size_t i = 0;

	*sigp = NULL;
	*siglenp = 0;
	if (len > KB_SIGNED_VALUE_MAX || len == 0 || v[0] < '1' || v[0] > '9')
		return KB_ERR_SIG_FORMAT;
	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
		if (serial > UINT64_MAX / 10 || (serial == UINT64_MAX / 10 &&
		    (uint64_t)(v[i] - '0') > UINT64_MAX % 10))
			return KB_ERR_SIG_FORMAT;
		serial = serial * 10 + (uint64_t)(v[i] - '0');
	}
	if (i == len || v[i] != ' ' || len - i - 1 < GENTIME_LEN + 2 ||
	    v[i + 1 + GENTIME_LEN] != ' ' ||
	    v[i + GENTIME_LEN] != 'Z' ||
	    lookup_parse_gentime(v + i + 1, GENTIME_LEN, &t) != 0 || t <= 0)
		return KB_ERR_SIG_FORMAT;
	i += 1 + GENTIME_LEN + 1;
	if (b64_decode_strict(v + i, len - i, sigp, siglenp) != 0) {
		*sigp = NULL;
		*siglenp = 0;
		return KB_ERR_SIG_FORMAT;
	}
	*serialp = serial;
	*signed_atp = (uint64_t)t;
	return 0;
}

int
signed_value_format(uint64_t serial, uint64_t signed_at,
    const unsigned char *sig, size_t siglen, char **outp)
{
	char when[GENTIME_LEN + 1], *b64 = NULL;
	int r;

	*outp = NULL;
	if (serial == 0 || signed_at == 0 || (time_t)signed_at <= 0 ||
	    siglen == 0 || siglen > SSHSIG_MAX)
		return KB_ERR_INVALID_ARG;
	if ((r = lookup_format_gentime((time_t)signed_at, when,
	    sizeof(when))) != 0)
		return r;
	if ((r = b64_encode(sig, siglen, &b64)) != 0)
		return r;
	if (asprintf(outp, "%llu %s %s", (unsigned long long)serial, when,
	    b64) < 0) {
		*outp = NULL;
		r = KB_ERR_NOMEM;
	}
	free(b64);
	return r;
}

/*
 * The end of attachment a: the earliest end value "a TIME" (split at the
 * last space), 0 when none names it.  A naming value whose time does not
 * parse: KB_ERR_RECORD.
 */
static int
att_end(const struct kb_attr *ends, const struct kb_val *a, uint64_t *endp)
{
	const struct kb_val *e;
	size_t i, k;
	uint64_t t;

	*endp = 0;
	for (i = 0; ends != NULL && i < ends->nvals; i++) {
		e = &ends->vals[i];
		for (k = e->len; k > 0 && e->bytes[k - 1] != ' '; k--)
			;
		if (k == 0 || k - 1 != a->len ||
		    memcmp(e->bytes, a->bytes, a->len) != 0)
			continue;
		if (gentime_u64(e->bytes + k, e->len - k, &t) != 0)
			return KB_ERR_RECORD;
		if (*endp == 0 || t < *endp)
			*endp = t;
	}
	return 0;
}

int
signed_pair_record(const struct kb_attr *attrs, size_t nattrs,
    uint64_t serial, uint64_t signed_at, unsigned char **recp, size_t *lenp)
{
	struct kb_record rec;
	struct kb_record_att *atts = NULL;
	const struct kb_attr *att, *ends;
	const struct kb_val *cn, *key, *na, *opts, *blk;
	struct kb_key *k = NULL;
	char *name = NULL, *options = NULL, **vals = NULL;
	size_t i, n = 0;
	int r;

	*recp = NULL;
	*lenp = 0;
	memset(&rec, 0, sizeof(rec));
	if ((r = single(attrs, nattrs, "cn", &cn)) != 0 ||
	    (r = single(attrs, nattrs, KB_ATTR_S_PUBKEY, &key)) != 0 ||
	    (r = single(attrs, nattrs, KB_ATTR_S_NOTAFTER, &na)) != 0 ||
	    (r = single(attrs, nattrs, KB_ATTR_S_OPTIONS, &opts)) != 0 ||
	    (r = single(attrs, nattrs, KB_ATTR_S_BLOCKED, &blk)) != 0)
		goto out;
	r = KB_ERR_RECORD;
	if (cn == NULL || key == NULL || (name = val_dup(cn)) == NULL)
		goto out;
	if (key_parse_line(key->bytes, key->len, 0, &k) != 0)
		goto out;
	rec.kind = KB_RECORD_PAIR;
	rec.name = name;
	rec.serial = serial;
	rec.signed_at = signed_at;
	rec.key_blob = key_blob(k, &rec.key_bloblen);
	if (na != NULL && gentime_u64(na->bytes, na->len, &rec.not_after) != 0)
		goto out;
	if (opts != NULL && (options = val_dup(opts)) == NULL)
		goto out;
	rec.options = options != NULL ? options : "";
	rec.blocked = blk != NULL && !(blk->len == 5 &&
	    memcmp(blk->bytes, "FALSE", 5) == 0);
	att = attr_get(attrs, nattrs, KB_ATTR_S_ATTACHMENT);
	ends = attr_get(attrs, nattrs, KB_ATTR_S_END);
	if ((r = attr_strings(att, &vals, &n)) != 0)
		goto out;
	if (n > 0 && (atts = calloc(n, sizeof(*atts))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		atts[i].value = vals[i];
		if ((r = att_end(ends, &att->vals[i], &atts[i].end)) != 0)
			goto out;
	}
	rec.atts = atts;
	rec.natts = n;
	r = record_encode(&rec, recp, lenp);
	if (r != 0 && r != KB_ERR_NOMEM)
		r = KB_ERR_RECORD;
 out:
	strings_free(vals, n);
	free(atts);
	free(name);
	free(options);
	key_free(k);
	return r;
}

int
signed_group_record(const struct kb_attr *attrs, size_t nattrs,
    uint64_t serial, uint64_t signed_at, unsigned char **recp, size_t *lenp)
{
	struct kb_record rec;
	const struct kb_attr *mem;
	const struct kb_val *cn;
	char *name = NULL, **vals = NULL;
	size_t n = 0;
	int r;

	*recp = NULL;
	*lenp = 0;
	memset(&rec, 0, sizeof(rec));
	if ((r = single(attrs, nattrs, "cn", &cn)) != 0)
		goto out;
	r = KB_ERR_RECORD;
	if (cn == NULL || (name = val_dup(cn)) == NULL)
		goto out;
	mem = attr_get(attrs, nattrs, KB_ATTR_S_MEMBER);
	if ((r = attr_strings(mem, &vals, &n)) != 0)
		goto out;
	rec.kind = KB_RECORD_GROUP;
	rec.name = name;
	rec.serial = serial;
	rec.signed_at = signed_at;
	rec.members = (const char *const *)vals;
	rec.nmembers = n;
	r = record_encode(&rec, recp, lenp);
	if (r != 0 && r != KB_ERR_NOMEM)
		r = KB_ERR_RECORD;
 out:
	strings_free(vals, n);
	free(name);
	return r;
}

void
signers_free(struct kb_signers *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->v[i].name);
		key_free(s->v[i].key);
	}
	free(s->v);
	free(s);
}

/* One "NAME KEYTYPE BASE64 [COMMENT]" line (NUL-terminated, writable). */
static int
signer_line(struct kb_signers *s, char *line)
{
	struct kb_key *k = NULL;
	char *sp, *p;
	size_t i;

	if ((sp = strchr(line, ' ')) == NULL || sp == line ||
	    (size_t)(sp - line) > SIGNER_NAME_MAX)
		return KB_ERR_SIGNERS;
	for (p = line; p < sp; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return KB_ERR_SIGNERS;
	*sp = '\0';
	if (key_parse_line(sp + 1, strlen(sp + 1), 0, &k) != 0)
		return KB_ERR_SIGNERS;
	switch (key_type(k)) {
	case KB_KT_ED25519:
	case KB_KT_ECDSA_P256:
	case KB_KT_ECDSA_P384:
	case KB_KT_ECDSA_P521:
	case KB_KT_RSA:
		break;
	default:
		key_free(k);
		return KB_ERR_SIGNERS;
	}
	for (i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].name, line) == 0 ||
		    key_equal(s->v[i].key, k)) {
			key_free(k);
			return KB_ERR_SIGNERS;	/* said twice */
		}
	}
	if (s->n == SIGNERS_MAX) {
		key_free(k);
		return KB_ERR_SIGNERS;
	}
	if ((s->v[s->n].name = strdup(line)) == NULL) {
		key_free(k);
		return KB_ERR_NOMEM;
	}
	s->v[s->n++].key = k;
	return 0;
}

int
signers_parse(const char *text, size_t len, struct kb_signers **sp,
    unsigned *linep)
{
	struct kb_signers *s = NULL;
	char *buf = NULL, *line, *nl;
	unsigned lineno = 0;
	size_t i;
	int r = KB_ERR_NOMEM;

	*sp = NULL;
	if (linep != NULL)
		*linep = 0;
	if (len > SIGNERS_FILE_MAX || memchr(text, '\0', len) != NULL)
		return KB_ERR_SIGNERS;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->v = calloc(SIGNERS_MAX, sizeof(*s->v))) == NULL ||
	    (buf = malloc(len + 1)) == NULL)
		goto out;
	memcpy(buf, text, len);
	buf[len] = '\0';
	/* up to the end of the text: an empty text has no line at all */
	for (line = buf; line < buf + len; line = nl) {
		lineno++;
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		else
			nl = buf + len;
		r = KB_ERR_SIGNERS;
		for (i = 0; line[i] != '\0'; i++)
			if ((unsigned char)line[i] < 0x20 ||
			    (unsigned char)line[i] == 0x7f)
				goto out;
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if ((r = signer_line(s, line)) != 0)
			goto out;
	}
	r = s->n > 0 ? 0 : KB_ERR_SIGNERS;
	lineno = 0;
 out:
	free(buf);
	if (r != 0) {
		if (linep != NULL)
			*linep = lineno;
		signers_free(s);
		s = NULL;
	}
	*sp = s;
	return r;
}

int
signers_load(const char *path, int check_owner, struct kb_signers **sp,
    unsigned *linep)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, r = KB_ERR_INTERNAL;

	*sp = NULL;
	if (linep != NULL)
		*linep = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NOFOLLOW)) == -1) {
		r = errno == ELOOP ? KB_ERR_CONFIG_PERM : KB_ERR_CONFIG_OPEN;
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		r = KB_ERR_SYSTEM;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (check_owner && (st.st_uid != 0 ||
	    (st.st_mode & 022) != 0))) {
		r = KB_ERR_CONFIG_PERM;
		goto out;
	}
	if (st.st_size > SIGNERS_FILE_MAX) {
		r = KB_ERR_SIGNERS;
		goto out;
	}
	if ((buf = malloc(SIGNERS_FILE_MAX + 1)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if ((r = fd_read_bounded(fd, buf, SIGNERS_FILE_MAX, &len)) != 0) {
		if (r == KB_ERR_TOO_LONG)
			r = KB_ERR_SIGNERS;
		goto out;
	}
	r = signers_parse(buf, len, sp, linep);
 out:
	free(buf);
	if (fd != -1)
		close(fd);
	return r;
}

size_t
signers_count(const struct kb_signers *s)
{
	return s != NULL ? s->n : 0;
}

const char *
signers_name(const struct kb_signers *s, size_t i)
{
	return s != NULL && i < s->n ? s->v[i].name : NULL;
}

const struct kb_key *
signers_key(const struct kb_signers *s, size_t i)
{
	return s != NULL && i < s->n ? s->v[i].key : NULL;
}

void
signers_prepare(const struct kb_signers *s)
{
	size_t i, n = 0;

	for (i = 0; s != NULL && i < s->n && n < ED25519_KEPT_KEYS; i++)
		n += (size_t)sshsig_prepare(s->v[i].key);
}

int
signers_verify(const struct kb_signers *s, const unsigned char *rec,
    size_t reclen, const unsigned char *sig, size_t siglen,
    const char **namep)
{
	struct kb_key *signer = NULL;
	size_t i;
	int r;

	if (namep != NULL)
		*namep = NULL;
	if ((r = sshsig_parse(sig, siglen, &signer)) != 0)
		return r;
	r = KB_ERR_SIG_UNTRUSTED;
	for (i = 0; s != NULL && i < s->n; i++) {
		if (!key_equal(s->v[i].key, signer))
			continue;
		r = sshsig_verify(s->v[i].key, rec, reclen, sig, siglen);
		if (r == 0 && namep != NULL)
			*namep = s->v[i].name;
		break;
	}
	key_free(signer);
	return r;
}

void
signed_info_clear(struct kb_signed_info *info)
{
	if (info == NULL)
		return;
	free(info->record);
	free(info->sig);
	memset(info, 0, sizeof(*info));
}

int
signed_entry_prepare(enum kb_record_kind kind, const struct kb_attr *attrs,
    size_t nattrs, struct kb_signed_info *info)
{
	const struct kb_attr *sa;
	int r;

	memset(info, 0, sizeof(*info));
	sa = attr_get(attrs, nattrs, KB_ATTR_SIGNATURE);
	if (sa == NULL || sa->nvals == 0)
		return KB_ERR_SIG_MISSING;
	if (sa->nvals != 1)
		return KB_ERR_SIG_FORMAT;
	if ((r = signed_value_parse(sa->vals[0].bytes, sa->vals[0].len,
	    &info->serial, &info->signed_at, &info->sig, &info->siglen)) != 0)
		goto out;
	switch (kind) {
	case KB_RECORD_PAIR:
		r = signed_pair_record(attrs, nattrs, info->serial,
		    info->signed_at, &info->record, &info->reclen);
		break;
	case KB_RECORD_GROUP:
		r = signed_group_record(attrs, nattrs, info->serial,
		    info->signed_at, &info->record, &info->reclen);
		break;
	default:
		r = KB_ERR_INVALID_ARG;
		break;
	}
 out:
	if (r != 0)
		signed_info_clear(info);
	return r;
}

int
signed_info_verify(const struct kb_signers *s, struct kb_signed_info *info)
{
	int r;

	info->signer = NULL;
	r = signers_verify(s, info->record, info->reclen, info->sig,
	    info->siglen, &info->signer);
	if (r != 0)
		signed_info_clear(info);
	return r;
}

int
signed_entry_verify(const struct kb_signers *s, enum kb_record_kind kind,
    const struct kb_attr *attrs, size_t nattrs, struct kb_signed_info *info)
{
	int r;

	if ((r = signed_entry_prepare(kind, attrs, nattrs, info)) != 0)
		return r;
	return signed_info_verify(s, info);
}
