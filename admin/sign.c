/*
 * sign.c - the admin side of signed entries: the signing key (a private
 * key file or ssh-agent) and the signature every write of a key pair or
 * host group entry carries (keybound(1), SIGNED RECORDS).
 *
 * A write never vouches for what it did not check: it reads the entry,
 * verifies the signature it carries (this signing key, or one of the
 * config's trusted_signers), applies its own change to that image in
 * memory (image.c), signs the result (a new serial, now; lib/signed.c,
 * the mapping the hosts use) and sends the change and the new signature
 * in one modify, asserting that keyboundSignature still holds the value
 * read.  An entry that does not verify, or whose serial is older than
 * one this CLI has seen (its own floors), is not written to: only
 * `resign` signs an entry as it stands.  A change slipped in between the
 * read and the modify leaves the entry not verifying, which the
 * read-back reports; hosts that require signatures refuse it (fail
 * closed).
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kb.h"
#include "config.h"
#include "directory.h"
#include "filter.h"
#include "floors.h"
#include "signed.h"
#include "sshkey.h"
#include "sshsig.h"
#include "admin.h"

#define SIGN_ROUNDS		16	/* re-reads after a lost race */
#define SIGN_BACKOFF_MS		20	/* at most, times the round */
#define AGENT_SIGN_MS		30000	/* a hardware token may ask */
#define SIGN_PROBE		"keybound signing key check"

struct admin_signer {
	struct kb_privkey *key;		/* a private key file, or */
	char *agent_fp;			/* the key ssh-agent holds */
	struct kb_key *agent_pub;	/* ... and its public key */
	const struct kb_key *pub;	/* the public key, either way */
	char *fp;			/* SHA256 fingerprint */
	struct kb_signers *trusted;	/* the config's trusted_signers */
	struct kb_floors *floors;	/* the serials this CLI has seen */
	char *floors_dir;
};

/* One read of an entry about to be signed. */
struct sign_read {
	int found;
	enum kb_record_kind kind;
	char *name;			/* first cn, for messages */
	char *oldsig;			/* keyboundSignature value or NULL */
	struct entry_image img;		/* the signed attributes as read */
};

static const char *const sign_attrs[] = {
	"objectClass", AT_CN, AT_PUBKEY, AT_ATTACH, AT_END, AT_NOTAFTER,
	AT_OPTIONS, AT_BLOCKED, AT_MEMBER, AT_SIGNATURE, NULL
};

static const char *const sigonly_attrs[] = {
	"objectClass", AT_CN, AT_SIGNATURE, NULL
};

#define SIGNED_FILTER	"(|(objectClass=" OC_KEYPAIR ")(objectClass=" \
			    OC_GROUP "))"

static void
signer_free(struct admin_signer *s)
{
	if (s == NULL)
		return;
	sshsig_privkey_free(s->key);
	free(s->agent_fp);
	key_free(s->agent_pub);
	free(s->fp);
	signers_free(s->trusted);
	floors_close(s->floors);
	free(s->floors_dir);
	free(s);
}

void
admin_signer_close(struct kb_admin *a)
{
	if (a->signer == NULL)
		return;
	signer_free(a->signer);
	a->signer = NULL;
}

const char *
admin_signer_fp(const struct kb_admin *a)
{
	return a->signer != NULL ? a->signer->fp : NULL;
}

/* Sign msg with the open signing key; *sigp is the caller's. */
static int
signer_sign(const struct admin_signer *s, const unsigned char *msg,
    size_t len, unsigned char **sigp, size_t *siglenp)
{
	if (s->key != NULL)
		return sshsig_sign(s->key, msg, len, sigp, siglenp);
	return sshsig_sign_agent(NULL, s->agent_fp, AGENT_SIGN_MS, msg, len,
	    sigp, siglenp);
}

/* Why a signing key cannot be used, as an exit status (reported). */
static int
signer_refused(const char *spec, int r)
{
	switch (r) {
	case KB_ERR_PRIVKEY_ENCRYPTED:
		return admin_fail(EXIT_USAGE, "signing key %s is encrypted "
		    "and keybound never prompts: load it into ssh-agent "
		    "(ssh-add %s) and give -S agent:SHA256:...", spec, spec);
	case KB_ERR_AGENT_NO_KEY:
		return admin_fail(EXIT_USAGE, "signing key %s: ssh-agent "
		    "does not hold that key (ssh-add -l lists what it "
		    "holds)", spec);
	case KB_ERR_AGENT:
		return admin_fail(EXIT_USAGE, "signing key %s: no usable "
		    "ssh-agent at $SSH_AUTH_SOCK", spec);
	default:
		return admin_fail(EXIT_USAGE, "signing key %s: %s", spec,
		    kb_strerror(r));
	}
}

/* The config's trusted_signers for s (none set: only s's own key). */
static int
signer_trusted(struct kb_admin *a, struct admin_signer *s)
{
	const char *path = a->cfg != NULL ? a->cfg->trusted_signers : NULL;
	unsigned line = 0;
	int r;

	if (path == NULL)
		return EXIT_OK;
	if ((r = signers_load(path, 0, &s->trusted, &line)) == 0)
		return EXIT_OK;
	if (line > 0)
		return admin_fail(EXIT_USAGE, "trusted_signers %s:%u: %s",
		    path, line, kb_strerror(r));
	return admin_fail(EXIT_USAGE, "trusted_signers %s: %s", path,
	    kb_strerror(r));
}

/* mkdir dir and every missing parent, mode 0700 (XDG base directories). */
static int
mkdir_parents(char *dir)
{
	char *p;

	for (p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return mkdir(dir, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/*
 * The serials this CLI has seen, per entry DN, in $XDG_STATE_HOME/
 * keybound/floors (default ~/.local/state): a write to an entry whose
 * valid signature is older than one seen is refused, since that is an
 * older version written back.  Unusable: one warning, none kept.
 */
static void
signer_floors(struct admin_signer *s)
{
	const char *base = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int r;

	if (base != NULL && base[0] == '/')
		r = asprintf(&s->floors_dir, "%s/keybound/floors", base);
	else if (home != NULL && home[0] == '/')
		r = asprintf(&s->floors_dir, "%s/.local/state/keybound/floors",
		    home);
	else {
		admin_err("warning: neither XDG_STATE_HOME nor HOME is set: "
		    "the serials signed entries had are not remembered, so "
		    "an older version written back is not noticed");
		return;
	}
	if (r < 0) {
		s->floors_dir = NULL;
		return;
	}
	if (mkdir_parents(s->floors_dir) != 0 ||
	    floors_open(s->floors_dir, &s->floors) != 0) {
		admin_err("warning: %s is not usable (owned by you, mode 0700): "
		    "the serials signed entries had are not remembered, so "
		    "an older version written back is not noticed",
		    s->floors_dir);
		s->floors = NULL;
	}
}

int
admin_signer_open(struct kb_admin *a)
{
	struct admin_signer *s = NULL;
	const char *spec;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int r, status = EXIT_FAIL;

	spec = a->signing_key != NULL ? a->signing_key :
	    a->cfg != NULL ? a->cfg->signing_key : NULL;
	if (spec == NULL || a->signer != NULL)
		return EXIT_OK;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		r = KB_ERR_NOMEM;
		goto fail;
	}
	if (strncmp(spec, "agent:", 6) == 0) {
		if (fingerprint_decode(spec + 6, NULL) != 0) {
			status = admin_fail(EXIT_USAGE, "signing key %s: "
			    "agent: needs a SHA256: fingerprint as ssh-add -l "
			    "prints it", spec);
			goto out;
		}
		if ((s->agent_fp = strdup(spec + 6)) == NULL) {
			r = KB_ERR_NOMEM;
			goto fail;
		}
		/* one signature now: nothing is written with a dead agent */
		if ((r = signer_sign(s, (const unsigned char *)SIGN_PROBE,
		    strlen(SIGN_PROBE), &sig, &siglen)) != 0 ||
		    (r = sshsig_parse(sig, siglen, &s->agent_pub)) != 0 ||
		    (r = sshsig_verify(s->agent_pub,
		    (const unsigned char *)SIGN_PROBE, strlen(SIGN_PROBE), sig,
		    siglen)) != 0)
			goto fail;
		s->pub = s->agent_pub;
	} else {
		if ((r = sshsig_privkey_load(spec, &s->key)) != 0)
			goto fail;
		s->pub = sshsig_privkey_public(s->key);
	}
	if ((r = key_fingerprint_sha256(s->pub, &s->fp)) != 0)
		goto fail;
	if ((status = signer_trusted(a, s)) != EXIT_OK)
		goto out;
	signer_floors(s);
	a->signer = s;
	s = NULL;
	status = EXIT_OK;
	goto out;
 fail:
	status = r == KB_ERR_NOMEM ? admin_fail(EXIT_FAIL, "%s",
	    kb_strerror(r)) : signer_refused(spec, r);
 out:
	free(sig);
	signer_free(s);
	return status;
}

static void
sign_read_clear(struct sign_read *sr)
{
	free(sr->name);
	free(sr->oldsig);
	image_free(&sr->img);
	memset(sr, 0, sizeof(*sr));
}

static const struct kb_attr *
attr_find(const struct kb_attr *attrs, size_t nattrs, const char *name)
{
	size_t i;

	for (i = 0; i < nattrs; i++)
		if (strcasecmp(attrs[i].name, name) == 0)
			return &attrs[i];
	return NULL;
}

/* The first value of attribute name as a string (*outp NULL: none). */
static int
first_value(const struct kb_attr *attrs, size_t nattrs, const char *name,
    char **outp)
{
	const struct kb_attr *at = attr_find(attrs, nattrs, name);

	*outp = NULL;
	if (at == NULL || at->nvals == 0)
		return 0;
	return (*outp = strndup(at->vals[0].bytes, at->vals[0].len)) ==
	    NULL ? KB_ERR_NOMEM : 0;
}

/* Keep what sign_read() asked for of the one entry found. */
static int
sign_collect(void *ctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	struct sign_read *sr = ctx;
	int kind, r;

	(void)dn;
	if (sr->found++ > 0 || (kind = admin_entry_kind(attrs, nattrs)) == 0)
		return 0;
	sr->kind = (enum kb_record_kind)kind;
	if ((r = first_value(attrs, nattrs, AT_CN, &sr->name)) != 0 ||
	    (r = first_value(attrs, nattrs, AT_SIGNATURE, &sr->oldsig)) != 0)
		return r;
	return image_from_attrs(&sr->img, attrs, nattrs);
}

/* Read dn for signing (attrs: everything signed, or the signature). */
static int
sign_read(struct kb_admin *a, const char *dn, int full, struct sign_read *sr)
{
	int r;

	sign_read_clear(sr);
	r = dir_search(a->dir, dn, KB_SCOPE_BASE, SIGNED_FILTER,
	    full ? sign_attrs : sigonly_attrs, 2, sign_collect, sr, NULL);
	if (r == KB_ERR_DIR_NO_SUCH_OBJECT)
		r = 0;			/* gone: found stays 0 */
	return r;
}

/* The name of the entry for messages. */
static const char *
sign_name(const struct sign_read *sr, const char *dn)
{
	return sr->name != NULL ? sr->name : dn;
}

/*
 * 0 if the signature the image carries verifies over the image with this
 * signing key or one of the trusted signers, else why not.
 */
static int
sign_vouch(const struct admin_signer *s, struct sign_read *sr)
{
	const struct kb_attr *attrs = image_view(&sr->img);
	struct kb_signed_info info;
	int r;

	if (attrs == NULL && sr->img.nattrs > 0)
		return KB_ERR_NOMEM;
	if ((r = signed_entry_prepare(sr->kind, attrs, sr->img.nattrs,
	    &info)) != 0)
		return r;
	r = sshsig_verify(s->pub, info.record, info.reclen, info.sig,
	    info.siglen);
	if (r == KB_ERR_SIG_KEY && s->trusted != NULL)
		r = signed_info_verify(s->trusted, &info);
	else if (r == KB_ERR_SIG_KEY)
		r = KB_ERR_SIG_UNTRUSTED;
	signed_info_clear(&info);
	return r;
}

/* Why a write to an entry that does not verify is refused (reported). */
static int
sign_refuse(struct kb_admin *a, const char *name, int r)
{
	admin_err("%s: %s%s; a signed write would vouch for all it holds, "
	    "so nothing was written: review it (keybound verify %s, "
	    "keybound show %s) and, if it is right, sign it as it stands "
	    "with keybound resign %s", name, kb_strerror(r),
	    r == KB_ERR_SIG_UNTRUSTED ? " (neither this signing key nor "
	    "one of trusted_signers)" : "", name, name, name);
	return r;
}

/*
 * The entry's serial against the serials this CLI has seen for it.  A
 * write (change) refuses an older one, reported; resign warns and goes
 * on (its serial comes out newer than both).  A floor that cannot be
 * read or raised only warns: these floors are a second line, the
 * hosts' own are the first.
 */
static int
sign_floor(struct kb_admin *a, const struct sign_read *sr, const char *dn,
    int change)
{
	struct admin_signer *s = a->signer;
	unsigned char *sig = NULL;
	uint64_t serial = 0, at;
	size_t siglen;
	const char *name = sr->name != NULL ? sr->name : dn;
	int r;

	if (s->floors == NULL || sr->oldsig == NULL ||
	    signed_value_parse(sr->oldsig, strlen(sr->oldsig), &serial, &at,
	    &sig, &siglen) != 0)
		return 0;
	free(sig);
	r = floors_check(s->floors, sr->kind, dn, strlen(dn), serial, change);
	if (r == KB_ERR_SIG_REPLAYED && change) {
		admin_err("%s: its serial %llu is older than one this CLI has "
		    "seen for it (%s): an older signed version was written "
		    "back?  Nothing was written: review it (keybound verify "
		    "%s, keybound show %s) and, if it is right, sign it as it "
		    "stands with keybound resign %s", name,
		    (unsigned long long)serial, s->floors_dir, name, name,
		    name);
		return r;
	}
	if (r == KB_ERR_SIG_REPLAYED)
		admin_err("warning: %s: its serial %llu is older than one this "
		    "CLI has seen for it: an older signed version written "
		    "back is being signed as it stands", name,
		    (unsigned long long)serial);
	else if (r != 0)
		admin_err("warning: %s: the serial this CLI saw for it is not "
		    "usable in %s: %s", name, s->floors_dir, kb_strerror(r));
	return 0;
}


/* The assertion that keyboundSignature still holds old (or none). */
static int
sign_assertion(const char *old, const char *also, char **outp)
{
	char *esc = NULL;
	int r = 0;

	*outp = NULL;
	if (old != NULL && (r = filter_escape(old, strlen(old), &esc)) != 0)
		return r;
	if (asprintf(outp, "(&%s%s%s%s)", also != NULL ? also : "",
	    esc != NULL ? "(" AT_SIGNATURE "=" : "(!(" AT_SIGNATURE "=*)",
	    esc != NULL ? esc : "", ")") < 0) {
		*outp = NULL;
		r = KB_ERR_NOMEM;
	}
	free(esc);
	return r;
}

/*
 * The keyboundSignature value for the image at serial (now): *valuep is
 * the caller's.
 */
static int
sign_image(const struct admin_signer *s, struct sign_read *sr,
    uint64_t serial, char **valuep)
{
	const struct kb_attr *attrs = image_view(&sr->img);
	size_t nattrs = sr->img.nattrs;
	unsigned char *rec = NULL, *sig = NULL;
	size_t reclen = 0, siglen = 0;
	uint64_t now = (uint64_t)time(NULL);
	int r;

	*valuep = NULL;
	if (attrs == NULL && nattrs > 0)
		return KB_ERR_NOMEM;
	r = sr->kind == KB_RECORD_PAIR ?
	    signed_pair_record(attrs, nattrs, serial, now, &rec, &reclen) :
	    signed_group_record(attrs, nattrs, serial, now, &rec, &reclen);
	if (r == 0 && (r = signer_sign(s, rec, reclen, &sig, &siglen)) == 0)
		r = signed_value_format(serial, now, sig, siglen, valuep);
	free(rec);
	free(sig);
	return r;
}

/* mods plus the replace of keyboundSignature by value; *outp the caller's. */
static int
mods_signed(const struct kb_mod *mods, size_t nmods, const char *const *vals,
    struct kb_mod **outp)
{
	struct kb_mod *m;

	if ((m = calloc(nmods + 1, sizeof(*m))) == NULL)
		return KB_ERR_NOMEM;
	if (nmods > 0)
		memcpy(m, mods, nmods * sizeof(*m));
	m[nmods].op = KB_MOD_REPLACE;
	m[nmods].attr = AT_SIGNATURE;
	m[nmods].vals = vals;
	*outp = m;
	return 0;
}

/* The time now in milliseconds since the epoch (0 if unknown). */
static uint64_t
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A pause before round (1, 2, ...) of a lost race, with jitter. */
static void
sign_backoff(int round)
{
	struct timespec ts;
	unsigned ms;

	ms = arc4random_uniform((unsigned)(SIGN_BACKOFF_MS * round) + 1);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/*
 * After a write signed with value: the entry must verify as read back.
 * A change someone slipped in between our read and our modify shows
 * here; it is reported (the write itself stands) and sets sign_status.
 */
static void
sign_confirm(struct kb_admin *a, const char *dn, const char *name)
{
	struct sign_read sr;
	int r;

	memset(&sr, 0, sizeof(sr));
	if ((r = sign_read(a, dn, 1, &sr)) == 0 && sr.found == 0)
		goto out;		/* deleted meanwhile */
	if (r == 0 && sr.kind != 0)
		r = sign_vouch(a->signer, &sr);
	if (r == 0)
		goto out;
	a->sign_status = EXIT_FAIL;
	admin_err("%s: written, but it does not verify as read back (%s): "
	    "someone changed it while this write was made; hosts that "
	    "require signatures refuse it until it is reviewed (keybound "
	    "verify %s) and signed (keybound resign %s)", name,
	    kb_strerror(r), name, name);
 out:
	sign_read_clear(&sr);
}

/*
 * After a signed write of serial: this CLI has seen it, and the entry is
 * read back.
 */
static void
sign_written(struct kb_admin *a, const struct sign_read *sr, const char *dn,
    uint64_t serial)
{
	if (a->signer->floors != NULL)
		(void)floors_check(a->signer->floors, sr->kind, dn, strlen(dn),
		    serial, 1);
	sign_confirm(a, dn, sign_name(sr, dn));
}

/* How a signed write treats the entry it reads. */
enum sign_how {
	SIGN_CHANGE,		/* verify what is there, apply mods, sign */
	SIGN_AS_IS,		/* resign: sign what is there */
};

/*
 * One signed modify of dn (see the top of this file).  *serialp gets the
 * serial written (0: the entry is gone or is no pair or group).
 */
static int
sign_modify(struct kb_admin *a, const char *dn, const struct kb_mod *mods,
    size_t nmods, const char *assertion, int permissive, enum sign_how how,
    uint64_t *serialp)
{
	struct sign_read sr;
	struct kb_mod *all = NULL;
	const char *vals[2] = { NULL, NULL };
	char *value = NULL, *guard = NULL, *oldsig = NULL;
	uint64_t serial = 0;
	int round, reset, r = KB_ERR_INTERNAL;

	memset(&sr, 0, sizeof(sr));
	*serialp = 0;
	for (round = 0; round < SIGN_ROUNDS; round++) {
		if (round > 0)
			sign_backoff(round);
		free(value);
		free(guard);
		free(all);
		value = guard = NULL;
		all = NULL;
		if ((r = sign_read(a, dn, 1, &sr)) != 0)
			goto out;
		/* a failed assertion was the caller's if ours still holds */
		if (round > 0 && assertion != NULL && sr.found &&
		    ((oldsig == NULL && sr.oldsig == NULL) ||
		    (oldsig != NULL && sr.oldsig != NULL &&
		    strcmp(oldsig, sr.oldsig) == 0))) {
			r = KB_ERR_DIR_ASSERTION;
			goto out;
		}
		if (sr.found == 0 || sr.kind == 0) {
			/* gone, or no pair or group: the server says */
			if (how == SIGN_AS_IS)
				goto out;
			r = dir_modify(a->dir, dn, mods, nmods, assertion,
			    permissive);
			goto out;
		}
		if (how == SIGN_CHANGE &&
		    (r = sign_vouch(a->signer, &sr)) != 0) {
			if (r != KB_ERR_NOMEM)
				(void)sign_refuse(a, sign_name(&sr, dn), r);
			goto out;
		}
		if ((r = sign_floor(a, &sr, dn, how == SIGN_CHANGE)) != 0)
			goto out;
		if ((r = sign_next_serial(sr.oldsig, sr.oldsig != NULL ?
		    strlen(sr.oldsig) : 0, now_ms(), &serial, &reset)) != 0)
			goto out;
		if (reset)
			admin_err("warning: %s: its keyboundSignature was "
			    "unreadable; its serial is now %llu (hosts that "
			    "saw a higher one refuse it)",
			    sign_name(&sr, dn), (unsigned long long)serial);
		if ((r = image_apply(&sr.img, mods, nmods)) != 0 ||
		    (r = sign_image(a->signer, &sr, serial, &value)) != 0 ||
		    (r = mods_signed(mods, nmods, vals, &all)) != 0)
			goto out;
		vals[0] = value;
		if (!a->no_assertion &&
		    (r = sign_assertion(sr.oldsig, assertion, &guard)) != 0)
			goto out;
		r = dir_modify(a->dir, dn, all, nmods + 1,
		    a->no_assertion ? assertion : guard, permissive);
		if (r == KB_ERR_DIR_NO_CONTROL && !a->no_assertion) {
			a->no_assertion = 1;	/* 389-ds, AD */
			if (assertion != NULL)
				goto out;	/* the caller's fallback */
			round--;
			continue;
		}
		if (r != KB_ERR_DIR_ASSERTION || a->no_assertion)
			break;
		/* whose assertion failed: the next read tells */
		free(oldsig);
		oldsig = sr.oldsig;
		sr.oldsig = NULL;
	}
	if (r == KB_ERR_DIR_ASSERTION) {
		admin_err("%s: signed by others meanwhile, again and again; "
		    "nothing was written", sign_name(&sr, dn));
		goto out;
	}
	if (r != 0)
		goto out;
	*serialp = serial;
	sign_written(a, &sr, dn, serial);
 out:
	sign_read_clear(&sr);
	free(value);
	free(guard);
	free(all);
	free(oldsig);
	return r;
}

int
admin_sign_entry(struct kb_admin *a, const char *dn,
    unsigned long long *serialp)
{
	uint64_t serial = 0;
	int r;

	r = sign_modify(a, dn, NULL, 0, NULL, 0, SIGN_AS_IS, &serial);
	if (serialp != NULL)
		*serialp = serial;
	if (r != 0 && r != KB_ERR_NOMEM)
		admin_err("cannot sign %s: %s", dn, kb_strerror(r));
	return r;
}

/* Without a signing key: warn when the entry written carries a signature. */
static void
sign_warn_unsigned(struct kb_admin *a, const char *dn)
{
	struct sign_read sr;

	memset(&sr, 0, sizeof(sr));
	if (sign_read(a, dn, 0, &sr) == 0 && sr.found && sr.kind != 0 &&
	    sr.oldsig != NULL)
		admin_err("warning: %s carries a signature and was changed "
		    "without a signing key: it no longer verifies on hosts "
		    "that require signatures (-S or signing_key)",
		    sign_name(&sr, dn));
	sign_read_clear(&sr);
}

int
admin_modify(struct kb_admin *a, const char *dn, const struct kb_mod *mods,
    size_t nmods, const char *assertion, int permissive)
{
	uint64_t serial;
	int r;

	if (a->signer != NULL)
		return sign_modify(a, dn, mods, nmods, assertion, permissive,
		    SIGN_CHANGE, &serial);
	if ((r = dir_modify(a->dir, dn, mods, nmods, assertion,
	    permissive)) == 0)
		sign_warn_unsigned(a, dn);
	return r;
}

int
admin_add(struct kb_admin *a, const char *dn, const struct kb_mod *mods,
    size_t nmods)
{
	struct sign_read sr;
	struct kb_mod *all = NULL;
	const struct kb_attr *view;
	const char *vals[2] = { NULL, NULL };
	char *value = NULL;
	uint64_t serial;
	size_t i;
	int kind, reset, r;

	if (a->signer == NULL)
		return dir_add(a->dir, dn, mods, nmods);
	memset(&sr, 0, sizeof(sr));
	/* the new entry is exactly its attributes: sign them, serial 1 */
	for (i = 0; i < nmods; i++) {
		struct kb_mod m = mods[i];

		m.op = KB_MOD_ADD;
		if ((r = image_apply(&sr.img, &m, 1)) != 0)
			goto out;
	}
	if ((view = image_view(&sr.img)) == NULL && sr.img.nattrs > 0) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if ((kind = admin_entry_kind(view, sr.img.nattrs)) == 0) {
		r = dir_add(a->dir, dn, mods, nmods);
		goto out;
	}
	sr.kind = (enum kb_record_kind)kind;
	if ((r = first_value(view, sr.img.nattrs, AT_CN, &sr.name)) != 0 ||
	    (r = sign_next_serial(NULL, 0, now_ms(), &serial, &reset)) != 0 ||
	    (r = sign_image(a->signer, &sr, serial, &value)) != 0 ||
	    (r = mods_signed(mods, nmods, vals, &all)) != 0)
		goto out;
	vals[0] = value;
	if ((r = dir_add(a->dir, dn, all, nmods + 1)) == 0)
		sign_written(a, &sr, dn, serial);
 out:
	sign_read_clear(&sr);
	free(value);
	free(all);
	return r;
}
