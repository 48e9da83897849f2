/*
 * sign.c - the admin side of signed entries: the signing key (a private
 * key file or ssh-agent) and the one re-sign every write of a key pair or
 * host group entry ends with (keybound(1), SIGNED RECORDS).
 *
 * The record is rebuilt from the entry as the directory holds it after
 * the write (lib/signed.c, the mapping the hosts use), never from what
 * the command meant to write: what is signed is exactly what hosts get.
 * The new signature replaces the value read, guarded by the assertion
 * control, so two admins re-signing at once never leave a serial
 * behind; between the write and the re-sign the entry does not verify
 * and hosts that require signatures refuse it (fail closed).
 */
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
#include "signed.h"
#include "sshkey.h"
#include "sshsig.h"
#include "admin.h"

#define SIGN_ROUNDS		5	/* re-reads after a lost race */
#define AGENT_SIGN_MS		30000	/* a hardware token may ask */
#define SIGN_PROBE		"keybound signing key check"

struct admin_signer {
	struct kb_privkey *key;		/* a private key file, or */
	char *agent_fp;			/* the key ssh-agent holds */
	char *fp;			/* SHA256 fingerprint */
};

/* What the read-back of one entry gives. */
struct sign_read {
	int found;
	enum kb_record_kind kind;
	char *name;			/* first cn, for messages */
	char *oldsig;			/* keyboundSignature value or NULL */
	uint64_t serial;		/* the new serial */
	int serial_reset;		/* old value unreadable: started anew */
	uint64_t signed_at;
	int want_record;		/* a signer is open */
	unsigned char *rec;
	size_t reclen;
	int rec_err;
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

void
admin_signer_close(struct kb_admin *a)
{
	if (a->signer == NULL)
		return;
	sshsig_privkey_free(a->signer->key);
	free(a->signer->agent_fp);
	free(a->signer->fp);
	free(a->signer);
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

/* The fingerprint of the key an SSHSIG blob carries; *fpp the caller's. */
static int
sig_signer_fp(const unsigned char *sig, size_t siglen, char **fpp)
{
	struct kb_key *k = NULL;
	int r;

	*fpp = NULL;
	if ((r = sshsig_parse(sig, siglen, &k)) == 0)
		r = key_fingerprint_sha256(k, fpp);
	key_free(k);
	return r;
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
		    strlen(SIGN_PROBE), &sig, &siglen)) != 0)
			goto fail;
		if ((r = sig_signer_fp(sig, siglen, &s->fp)) != 0)
			goto fail;
	} else {
		if ((r = sshsig_privkey_load(spec, &s->key)) != 0 ||
		    (r = key_fingerprint_sha256(sshsig_privkey_public(s->key),
		    &s->fp)) != 0)
			goto fail;
	}
	a->signer = s;
	s = NULL;
	status = EXIT_OK;
	goto out;
 fail:
	status = r == KB_ERR_NOMEM ? admin_fail(EXIT_FAIL, "%s",
	    kb_strerror(r)) : signer_refused(spec, r);
 out:
	free(sig);
	if (s != NULL) {
		sshsig_privkey_free(s->key);
		free(s->agent_fp);
		free(s->fp);
		free(s);
	}
	return status;
}

static void
sign_read_clear(struct sign_read *sr)
{
	free(sr->name);
	free(sr->oldsig);
	free(sr->rec);
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

int
admin_entry_kind(const struct kb_attr *attrs, size_t nattrs)
{
	const struct kb_attr *oc = attr_find(attrs, nattrs, "objectClass");
	size_t i;

	for (i = 0; oc != NULL && i < oc->nvals; i++) {
		if (strcasecmp(oc->vals[i].bytes, OC_KEYPAIR) == 0)
			return KB_RECORD_PAIR;
		if (strcasecmp(oc->vals[i].bytes, OC_GROUP) == 0)
			return KB_RECORD_GROUP;
	}
	return 0;
}

/* Read back one entry: its kind, old signature, the record to sign. */
static int
sign_collect(void *ctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	struct sign_read *sr = ctx;
	const struct kb_attr *at;
	int kind;

	(void)dn;
	if (sr->found++ > 0 || (kind = admin_entry_kind(attrs, nattrs)) == 0)
		return 0;
	sr->kind = (enum kb_record_kind)kind;
	if ((at = attr_find(attrs, nattrs, AT_CN)) != NULL && at->nvals > 0 &&
	    (sr->name = strndup(at->vals[0].bytes, at->vals[0].len)) == NULL)
		return KB_ERR_NOMEM;
	if ((at = attr_find(attrs, nattrs, AT_SIGNATURE)) != NULL &&
	    at->nvals > 0 && (sr->oldsig = strndup(at->vals[0].bytes,
	    at->vals[0].len)) == NULL)
		return KB_ERR_NOMEM;
	if (!sr->want_record)
		return 0;
	if (sign_next_serial(sr->oldsig, sr->oldsig ? strlen(sr->oldsig) : 0,
	    &sr->serial, &sr->serial_reset) != 0) {
		sr->rec_err = KB_ERR_SIG_FORMAT;
		return 0;
	}
	sr->signed_at = (uint64_t)time(NULL);
	sr->rec_err = sr->kind == KB_RECORD_PAIR ?
	    signed_pair_record(attrs, nattrs, sr->serial, sr->signed_at,
	    &sr->rec, &sr->reclen) :
	    signed_group_record(attrs, nattrs, sr->serial, sr->signed_at,
	    &sr->rec, &sr->reclen);
	return 0;
}

/* Read dn for signing (attrs: everything, or only the signature). */
static int
sign_read(struct kb_admin *a, const char *dn, int full, struct sign_read *sr)
{
	int r;

	sign_read_clear(sr);
	sr->want_record = full;
	r = dir_search(a->dir, dn, KB_SCOPE_BASE, SIGNED_FILTER,
	    full ? sign_attrs : sigonly_attrs, 2, sign_collect, sr, NULL);
	if (r == KB_ERR_DIR_NO_SUCH_OBJECT)
		r = 0;			/* deleted meanwhile: nothing to sign */
	return r;
}

/* Report a failed re-sign of entry name; sets a->sign_status. */
static void
sign_failed(struct kb_admin *a, const char *name, const char *why)
{
	a->sign_status = EXIT_FAIL;
	admin_fail(EXIT_FAIL, "cannot sign %s: %s; it does not verify on "
	    "hosts that require signatures until `keybound resign %s` "
	    "succeeds", name, why, name);
}

/* The assertion that keyboundSignature still holds old (or none). */
static int
sign_assertion(const char *old, char **outp)
{
	char *esc = NULL;
	int r;

	*outp = NULL;
	if (old == NULL)
		return (*outp = strdup("(!(" AT_SIGNATURE "=*))")) == NULL ?
		    KB_ERR_NOMEM : 0;
	if ((r = filter_escape(old, strlen(old), &esc)) != 0)
		return r;
	if (asprintf(outp, "(" AT_SIGNATURE "=%s)", esc) < 0) {
		*outp = NULL;
		r = KB_ERR_NOMEM;
	}
	free(esc);
	return r;
}

/* Sign what sr holds and replace the signature; a KB_ERR_* code. */
static int
sign_write(struct kb_admin *a, const char *dn, const struct sign_read *sr,
    int guard)
{
	struct kb_mod mod;
	const char *vals[2] = { NULL, NULL };
	unsigned char *sig = NULL;
	char *value = NULL, *assertion = NULL;
	size_t siglen = 0;
	int r;

	if ((r = signer_sign(a->signer, sr->rec, sr->reclen, &sig,
	    &siglen)) != 0 ||
	    (r = signed_value_format(sr->serial, sr->signed_at, sig, siglen,
	    &value)) != 0 ||
	    (guard && (r = sign_assertion(sr->oldsig, &assertion)) != 0))
		goto out;
	vals[0] = value;
	mod.op = KB_MOD_REPLACE;
	mod.attr = AT_SIGNATURE;
	mod.vals = vals;
	r = dir_modify(a->dir, dn, &mod, 1, assertion, 0);
 out:
	free(sig);
	free(value);
	free(assertion);
	return r;
}

int
admin_sign_entry(struct kb_admin *a, const char *dn,
    unsigned long long *serialp)
{
	struct sign_read sr;
	char why[256];
	int round, guard = 1, r = KB_ERR_INTERNAL;

	memset(&sr, 0, sizeof(sr));
	if (serialp != NULL)
		*serialp = 0;
	for (round = 0; round < SIGN_ROUNDS; round++) {
		if ((r = sign_read(a, dn, a->signer != NULL, &sr)) != 0)
			break;
		if (sr.found == 0 || sr.kind == 0)
			goto out;	/* gone, or no pair or group */
		if (a->signer == NULL) {
			if (sr.oldsig != NULL)
				admin_err("warning: %s carries a signature "
				    "and was changed without a signing key: "
				    "it no longer verifies on hosts that "
				    "require signatures (-S or signing_key)",
				    sr.name != NULL ? sr.name : dn);
			r = 0;
			goto out;
		}
		if (sr.rec_err != 0) {
			r = sr.rec_err;
			break;
		}
		if (sr.serial_reset)
			admin_err("warning: %s: its keyboundSignature was "
			    "unreadable; serial starts again at %llu (hosts "
			    "that saw a higher one refuse it)", sr.name ?
			    sr.name : dn, (unsigned long long)sr.serial);
		r = sign_write(a, dn, &sr, guard);
		if (r == KB_ERR_DIR_NO_CONTROL && guard) {
			guard = 0;	/* 389-ds, AD: plain replace */
			round--;
			continue;
		}
		if (r != KB_ERR_DIR_ASSERTION)
			break;
	}
	if (r == 0) {
		if (serialp != NULL)
			*serialp = sr.serial;
		goto out;
	}
	(void)snprintf(why, sizeof(why), "%s%s", kb_strerror(r),
	    r == KB_ERR_DIR_ASSERTION ? " (signed by others meanwhile, "
	    "again and again)" : "");
	sign_failed(a, sr.name != NULL ? sr.name : dn, why);
 out:
	sign_read_clear(&sr);
	return r;
}

int
admin_modify(struct kb_admin *a, const char *dn, const struct kb_mod *mods,
    size_t nmods, const char *assertion, int permissive)
{
	int r;

	if ((r = dir_modify(a->dir, dn, mods, nmods, assertion,
	    permissive)) != 0)
		return r;
	(void)admin_sign_entry(a, dn, NULL);
	return 0;
}

int
admin_add(struct kb_admin *a, const char *dn, const struct kb_mod *mods,
    size_t nmods)
{
	int r;

	if ((r = dir_add(a->dir, dn, mods, nmods)) != 0)
		return r;
	(void)admin_sign_entry(a, dn, NULL);
	return 0;
}
