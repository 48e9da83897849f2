/*
 * lookup.h - the one code path that decides which keys USER may use on
 * INSTANCE: filter expansion, directory search, per-entry re-checks, key
 * parsing, policy, expiry and options, canonical rendering.  keybound-keys,
 * the admin CLI's `check` and (through keybound-keys --has-keys) the PAM
 * module all use it; cached answers go through the same checks again.
 */
#ifndef KB_LOOKUP_H
#define KB_LOOKUP_H

#include <stddef.h>
#include <time.h>

struct kb_config;
struct kb_floors;
struct kb_signers;

#define KB_LOOKUP_MAX_NOTES	20	/* notes reported per answer */
#define KB_LOOKUP_MAX_GROUPS	64	/* host groups one instance is in */
#define KB_SIG_FUTURE_S		300	/* signing times further ahead are
					   refused (clock skew allowed) */

/* keybound schema attributes beyond the profile's keywords */
#define KB_ATTR_ATTACHMENT_END	"keyboundAttachmentEnd"
#define KB_ATTR_BLOCKED		"keyboundBlocked"
#define KB_ATTR_MEMBER		"keyboundMember"
#define KB_OC_HOST_GROUP	"keyboundHostGroup"

/* What is asked: USER on INSTANCE, all keys or the one with FINGERPRINT. */
struct kb_query {
	const char *user;		/* passed name_user_valid() */
	size_t userlen;
	const char *instance;		/* cfg->instance */
	const char *fingerprint;	/* "SHA256:..." or NULL for all */
	/*
	 * With cfg->trusted_signers: the signers (NULL: lookup_directory()
	 * loads them itself, root-owned) and the serial floors (NULL: none
	 * judged nor raised, as for `keybound check`).
	 */
	const struct kb_signers *signers;
	struct kb_floors *floors;
};

/* One usable key, everything rebuilt from parsed data. */
struct kb_keyrec {
	char *name;		/* key pair name (name_keypair_valid) */
	char *key_text;		/* canonical "TYPE BASE64" */
	char *options;		/* canonical options without expiry, or NULL */
	char *not_after;	/* canonical "YYYYMMDDHHMMSSZ", or NULL */
	char *fingerprint;	/* "SHA256:..." of the key */
	char *line;		/* the authorized_keys line to print */
	/* from the directory only (NULL when read from the cache): */
	char *via;		/* the attachment value that granted it,
				   "USER@INSTANCE" or "USER@+GROUP" */
	char *until;		/* that attachment's end "YYYYMMDDHHMMSSZ",
				   or NULL when permanent */
	/* with trusted_signers, what the cache keeps to re-verify it:
	   "BASE64(record) BASE64(SSHSIG)" of the pair, and of the host
	   group whose attachment granted it (else NULL) */
	char *signed_pair;
	char *signed_group;
};

/* A decided answer; nkeys == 0 means "nothing attached". */
struct kb_answer {
	struct kb_keyrec *keys;
	size_t nkeys;
	size_t cap;
	size_t skipped;		/* keys refused (parse, policy, expiry, ...) */
	size_t over_limit;	/* keys beyond max_keys, not served */
	struct timespec fetched; /* wall-clock time the directory was asked */
	char *uri;		/* the URI that answered (printable), or NULL */
	size_t kept_bytes;	/* held by keys[], bounded while adding */
};

/* Kinds of note handed to the caller's log. */
enum kb_note_kind {
	KB_NOTE_KEY_SKIPPED = 1,	/* a key refused; err says why */
	KB_NOTE_OPTS_DROPPED,		/* options outside the allow-list */
	KB_NOTE_ENTRY_SKIPPED,		/* an entry failed the re-checks */
	KB_NOTE_VALUES_DROPPED,		/* the directory dropped huge values */
	KB_NOTE_MAX_KEYS,		/* more keys than max_keys */
	KB_NOTE_MAX_GROUPS,		/* instance in more host groups than
					   KB_LOOKUP_MAX_GROUPS */
};

/* A note: name and detail are printable ASCII (sanitized), may be NULL. */
struct kb_note {
	enum kb_note_kind kind;
	int err;			/* KB_ERR_* or 0 */
	const char *name;		/* key pair name when known */
	const char *detail;		/* e.g. dropped option keywords */
	size_t count;			/* for VALUES_DROPPED / MAX_KEYS */
};

typedef void (*lookup_note_fn)(void *ctx, const struct kb_note *n);

/*
 * Ask the directory (cfg's URIs under the absolute monotonic deadline) for
 * the keys q->user may use on q->instance.  With host groups (the keybound
 * schema, or group_base set) that is two searches on one connection: the
 * groups q->instance is a member of, then the key pairs attached to
 * USER@INSTANCE or USER@+GROUP for one of them; the answer is stamped with
 * the time the first was sent.  Every entry is re-checked (attachment,
 * member or uid byte for byte), every value parsed as untrusted; a key
 * pair flagged keyboundBlocked, or whose every matching attachment has
 * ended, is skipped with a note, and a time-boxed key's not-after is the
 * earlier of the attachment's end and keyboundNotAfter.  For
 * openssh-lpk more than one entry is KB_ERR_DIR_AMBIGUOUS.
 *
 * With cfg->trusted_signers every host group and key pair entry must
 * verify (signed.h) over exactly the attributes received, be signed
 * within signature_max_age and not more than KB_SIG_FUTURE_S ahead, and
 * hold a serial no lower than its floor (q->floors); others are skipped
 * with a KB_NOTE_ENTRY_SKIPPED note naming the entry and the reason.
 * Both searches are widened to entries whose keyboundTombstone names this
 * instance (or one of its groups), so that floors are raised from every
 * verified entry returned, served or not; the group search then asks for
 * whole member lists (no matched-values control).  Served keys carry
 * their signed records (signed_pair, signed_group) for the cache.
 *
 * Notes (if note is not NULL) report skipped keys and dropped options.  On success *ap
 * owns the answer, sorted by key pair name and cut to max_keys.  errbuf
 * gets a short printable reason on failure.
 */
int lookup_directory(const struct kb_config *cfg, const struct kb_query *q,
    const struct timespec *deadline, lookup_note_fn note, void *ctx,
    struct kb_answer **ap, char *errbuf, size_t errlen);

/*
 * Prepare the process environment the directory client reads on its
 * first use (resolver bounds from network_timeout, LDAPNOINIT, no SASL
 * plugins).  A program with threads calls it before starting them.
 */
int lookup_prepare(const struct kb_config *cfg);

/* An empty answer with fetched = now (CLOCK_REALTIME). */
int lookup_answer_new(struct kb_answer **ap);

/* Free an answer (NULL is fine). */
void lookup_answer_free(struct kb_answer *a);

/*
 * Check one key pair given as untrusted raw fields (from the directory or
 * the cache) and add it to a if usable: every byte printable ASCII, name
 * valid, key parsed (no options, comment dropped), policy, not-after
 * (skipped when past), options parsed dropping unknown ones; with
 * q->fingerprint only the matching key is added.  a keeps at most
 * cfg->max_keys keys, the first by key pair name (then fingerprint):
 * below that they are kept in arrival order, beyond it a usable key
 * replaces a later one or is dropped, and a->over_limit counts the keys
 * not kept, so any number of keys needs memory for max_keys only; call
 * lookup_finish() before reading keys[].  Returns 0 when the key was
 * added, dropped or skipped (a note says why), KB_ERR_TOO_LONG when the
 * kept keys would exceed 16 MiB, < 0 for other fatal errors.
 * optslen/notafterlen may be 0 with NULL pointers.
 */
int lookup_add_key(const struct kb_config *cfg, const struct kb_query *q,
    time_t now, const char *name, size_t namelen, const char *key,
    size_t keylen, const char *opts, size_t optslen, const char *notafter,
    size_t notafterlen, lookup_note_fn note, void *ctx, struct kb_answer *a);

/*
 * lookup_add_key() for a key read back from the cache: every check but
 * the cryptographic ones (KB_KEY_STRUCTURAL: the ECDSA point on its
 * curve, the RSA key loadable), which the key passed when it was stored.
 * The cache is written only by the account that reads it (cache.h), so a
 * hit never loads libcrypto.
 */
int lookup_add_cached_key(const struct kb_config *cfg,
    const struct kb_query *q, time_t now, const char *name, size_t namelen,
    const char *key, size_t keylen, const char *opts, size_t optslen,
    const char *notafter, size_t notafterlen, lookup_note_fn note,
    void *ctx, struct kb_answer *a);

/*
 * With trusted_signers, a key read back from the cache: the decision is
 * made again from the signed records alone (signed_pair, and signed_group
 * when a host group's attachment granted it, each "BASE64(record)
 * BASE64(SSHSIG)"): both verified with q->signers, judged for age and
 * against q->floors (not raised), the group's record listing
 * q->instance; the attachment USER@INSTANCE or USER@+GROUP for that
 * group, its end, not-after, options, blocked and the key all from the
 * records; then every check of lookup_add_key().  A record that does not
 * verify or is refused: a KB_NOTE_KEY_SKIPPED note and that error (the
 * caller serves nothing of the answer); 0 otherwise, as lookup_add_key().
 */
int lookup_add_signed_key(const struct kb_config *cfg,
    const struct kb_query *q, time_t now, const char *signed_pair,
    const char *signed_group, lookup_note_fn note, void *ctx,
    struct kb_answer *a);

/*
 * Sort by key pair name and keep the first max_keys; a KB_NOTE_MAX_KEYS
 * note reports how many usable keys were not kept (over_limit).  Called
 * by lookup_directory(); callers building answers from the cache call it
 * themselves.
 */
void lookup_finish(const struct kb_config *cfg, struct kb_answer *a,
    lookup_note_fn note, void *ctx);

/*
 * Parse a GeneralizedTime in UTC strictly: "YYYYMMDDHHMMSS[.fraction]Z"
 * (fraction ignored).  Returns 0 or KB_ERR_TIME.
 */
int lookup_parse_gentime(const char *s, size_t len, time_t *tp);

/* Format t as "YYYYMMDDHHMMSSZ" into buf (at least 16 bytes). */
int lookup_format_gentime(time_t t, char *buf, size_t buflen);

#endif /* KB_LOOKUP_H */
