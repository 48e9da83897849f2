/*
 * admin.h - the keybound admin CLI: shared state and the pieces its
 * commands are built from.
 */
#ifndef KB_ADMIN_H
#define KB_ADMIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <getopt.h>
#include <time.h>

struct kb_config;
struct kb_dir;
struct kb_key;
struct kb_mod;
struct kb_attr;
struct kb_val;
struct admin_signer;

/* Exit statuses of the CLI. */
#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2	/* usage, bad argument value, configuration */
#define EXIT_NOTFOUND	3	/* no such key pair, group or entry */
#define EXIT_EXISTS	4	/* already exists, or a conflict (attached,
				   blocked, expired) */
#define EXIT_BIND	5	/* bind refused */
#define EXIT_UNREACH	6	/* no directory server answered */

/* The key pair attribute names of the keybound schema profile. */
#define AT_CN		"cn"
#define AT_PUBKEY	"keyboundPublicKey"
#define AT_FP		"keyboundFingerprint"
#define AT_ATTACH	"keyboundAttachment"
#define AT_NOTAFTER	"keyboundNotAfter"
#define AT_OPTIONS	"keyboundKeyOptions"
#define AT_DESC		"description"
#define AT_CREATED	"createTimestamp"
#define AT_END		"keyboundAttachmentEnd"
#define AT_BLOCKED	"keyboundBlocked"
#define AT_MEMBER	"keyboundMember"
#define AT_SIGNATURE	"keyboundSignature"
#define AT_TOMBSTONE	"keyboundTombstone"
#define OC_KEYPAIR	"keyboundKeyPair"
#define OC_GROUP	"keyboundHostGroup"
#define OC_BLOCKED	"keyboundBlockedKey"

/* What a refused key pair name is told (SPEC: the cloud naming rule). */
#define NAME_RULE_TEXT	"invalid key pair name (2-64 characters: an ASCII " \
	"letter or a CJK ideograph, then ASCII letters, digits, CJK " \
	"ideographs, ':', '_', '-')"

/* The invoking user's own config, below $HOME. */
#define ADMIN_USER_CONFIG	".config/keybound/keybound.conf"

#define ADMIN_MAX_TARGETS	10000	/* USER@INSTANCE targets per run */
#define ADMIN_DESC_MAX		1024	/* bytes of a description */

/* Global options and the open directory, shared by every command. */
struct kb_admin {
	const char *config_path;	/* -c */
	const char *uri;		/* -H */
	const char *base;		/* -b */
	const char *binddn;		/* -D */
	const char *passfile;		/* -y */
	int prompt_password;		/* -W */
	int json;			/* --json */
	const char *signing_key;	/* -S FILE|agent:SHA256:... */
	int writes;			/* the command writes entries */
	struct admin_signer *signer;	/* NULL: entries are not signed */
	int sign_status;		/* a re-sign failed: this exit status */
	int no_assertion;		/* the server lacks the assertion
					   control (389-ds, AD) */
	int verdict;			/* the exit status is an answer (verify),
					   not an error: no --json error object */
	struct kb_config *cfg;
	struct kb_dir *dir;
	struct timespec deadline;	/* for every directory operation */
};

/* Long option every command accepts: --json (getopt value 'J'). */
#define ADMIN_OPT_JSON	{ "json", no_argument, NULL, 'J' }

/* A counted byte string from the directory (untrusted; NUL-terminated). */
struct kb_text {
	char *s;
	size_t len;
};

/* One key pair entry as read from the directory. */
struct kb_pair {
	struct kb_text dn;
	struct kb_text name;		/* the cn the DN is named by */
	struct kb_text pubkey;
	struct kb_text stored_fp;
	struct kb_text *attach;
	size_t nattach;
	struct kb_text not_after;
	struct kb_text options;
	struct kb_text description;
	struct kb_text created;
	struct kb_text *ends;		/* keyboundAttachmentEnd values */
	size_t nends;
	struct kb_text *tombstones;	/* keyboundTombstone values */
	size_t ntombstones;
	struct kb_text *detached;	/* attachment values detached with a
					   tombstone (not in attach) */
	size_t ndetached;
	int blocked;			/* keyboundBlocked: TRUE */
	struct kb_key *key;		/* parsed public key or NULL */
	int key_err;			/* why key is NULL */
};

/*
 * A USER@INSTANCE target split at the last '@'; for USER@+GROUP (only
 * where target_parse_attach() allows it) instance is "+GROUP".
 */
struct kb_target {
	const char *text;		/* the whole argument */
	char *user;
	char *instance;
};

/* GROUP of a USER@+GROUP target, else NULL. */
#define TARGET_GROUP(t)	((t)->instance != NULL && \
			    (t)->instance[0] == '+' ? (t)->instance + 1 : NULL)

/* keybound.c */

/* Print "keybound: MESSAGE" on stderr. */
void admin_err(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * Print "keybound: MESSAGE" on stderr and return status; the message and
 * status also make the --json error object main() prints on failure.
 */
int admin_fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* admin_fail(EXIT_EXISTS, ...) whose --json code is "conflict". */
int admin_conflict(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * The exit status for a KB_ERR_* code (EXIT_FAIL when none fits).  A
 * write refused with "strong auth required" (anonymous) is no refused
 * bind: only admin_bind_status(), for connecting, gives EXIT_BIND.
 */
int admin_status(int r);
int admin_bind_status(int r);

/*
 * The exit status of a command whose work ended with r (0 = success):
 * the status of the first failure reported, else admin_status(r).
 */
int admin_exit(int r);

/*
 * Report a usage error for command cmd ("keybound: cmd: MESSAGE" and the
 * command's synopsis on stderr); returns EXIT_USAGE.
 */
int admin_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * getopt_long() over a command's arguments (argv[0] is the command name);
 * handles --json itself and turns unknown options and missing arguments
 * into '?' after reporting them.  Set optind = 0 before the first call.
 */
int admin_getopt(struct kb_admin *a, int argc, char **argv,
    const char *optstring, const struct option *longopts);

/*
 * Load the config (once) and apply -H, -D and -y to it; an exit status.
 */
int admin_load_config(struct kb_admin *a);

/*
 * Load the config, refuse (exit status 1) unless it uses the keybound
 * profile, and open the directory with the -H/-D/-y/-W overrides;
 * extra_ms widens the deadline (key generation).  Returns an exit status.
 */
int admin_connect(struct kb_admin *a, long extra_ms);

/*
 * One audit line (authpriv, ident keybound) for a write: command, key
 * pair, targets (may be NULL), bind identity and result.
 */
void admin_audit(const struct kb_admin *a, const char *command,
    const char *keypair, const struct kb_target *t, size_t nt,
    const char *result);

/* The DN cn=NAME,base for a valid key pair name; *dnp is the caller's. */
int admin_pair_dn(const struct kb_admin *a, const char *name, char **dnp);

/* pair.c */

/*
 * Read the key pair NAME.  0 with *pp set, KB_ERR_DIR_NO_SUCH_OBJECT if
 * there is none, or another KB_ERR_*.
 */
int pair_read(struct kb_admin *a, const char *name, struct kb_pair **pp);

/* Read the key pair entry dn (as pair_read()). */
int pair_read_dn(struct kb_admin *a, const char *dn, struct kb_pair **pp);

/*
 * Read every key pair matching filter (already escaped) below base,
 * sorted by name.  *pairsp is an array of *np pointers.
 */
int pair_search(struct kb_admin *a, const char *filter,
    struct kb_pair ***pairsp, size_t *np);

/*
 * The status of p at now: "expired", "unattached", "expiring" (within
 * PAIR_EXPIRING_SECS) or "active".
 */
const char *pair_status(const struct kb_pair *p, time_t now);

#define PAIR_EXPIRING_SECS	(30 * 86400)

/* Report a failed pair_read() of name; returns the exit status. */
int pair_read_failed(const char *name, int r);

/* Free one key pair (NULL is fine). */
void pair_free(struct kb_pair *p);

/* Free an array from pair_search(). */
void pair_free_all(struct kb_pair **pairs, size_t n);

/* 1 if p holds the attachment value exactly (byte for byte). */
int pair_has_attachment(const struct kb_pair *p, const char *value);

/*
 * 1 if p holds the value as an attachment or as a detached one (a
 * tombstoned attachment value is still stored).
 */
int pair_stores_attachment(const struct kb_pair *p, const char *value);

/*
 * 1 if attachment value v (len bytes) is detached with a tombstone at
 * now: its end (the earliest End value) has passed and a
 * keyboundTombstone value names its target (the INSTANCE or +GROUP after
 * the last '@').  Such a value grants nothing anywhere; the CLI shows it
 * as detached.
 */
int pair_value_tombstoned(const struct kb_pair *p, const char *v, size_t len,
    time_t now);

/* The target of attachment value v: the text after its last '@'. */
const char *attachment_target(const char *v);

/*
 * Split and validate USER@INSTANCE at its last '@' (name_user_valid,
 * name_instance_valid).  Clear t with target_clear().
 */
int target_parse(const char *text, struct kb_target *t);

/*
 * target_parse(), or USER@+GROUP with GROUP a valid group name
 * (name_keypair_valid): what an attachment value may be.
 */
int target_parse_attach(const char *text, struct kb_target *t);

/* Free what target_parse() allocated. */
void target_clear(struct kb_target *t);

/* The filter (&(objectClass=keyboundKeyPair)(keyboundAttachment=T)). */
int target_filter(const char *text, char **filterp);

/*
 * The end of attachment value (byte for byte) on p: the earliest of its
 * keyboundAttachmentEnd values "VALUE YYYYMMDDHHMMSSZ".  1 with *endp
 * set, 0 when it has none (permanent).  *badp (may be NULL) counts its
 * End values whose time does not parse.
 */
int pair_attachment_end(const struct kb_pair *p, const char *value,
    size_t len, time_t *endp, size_t *badp);

/*
 * 1 if End value e (len bytes) belongs to attachment value (its text up
 * to the last space is exactly value).
 */
int end_value_of(const char *e, size_t len, const char *value,
    size_t vlen);

/* "4h12m", "2d3h", "59s" for a positive number of seconds into buf. */
void time_format_left(time_t secs, char *buf, size_t len);

/* group_base of the config (config_group_base(), else base). */
const char *admin_group_base(const struct kb_admin *a);

/* The DN cn=NAME,group_base for a valid group name; *dnp is the caller's. */
int admin_group_dn(const struct kb_admin *a, const char *name, char **dnp);

/*
 * 1 if the group NAME exists (its cn byte for byte), 0 if not, or a
 * negative KB_ERR_* code.
 */
int group_exists(struct kb_admin *a, const char *name);

/*
 * 1 if a group entry cn=NAME,group_base exists, its cn in any case (as
 * the DN matches: the name space key pairs and groups share), 0 if not,
 * or a negative KB_ERR_* code.
 */
int group_name_taken(struct kb_admin *a, const char *name);

/*
 * 1 if a key pair NAME exists (the DN matches, in any case), 0 if not,
 * or a negative KB_ERR_* code.
 */
int pair_exists(struct kb_admin *a, const char *name);

/*
 * 1 if the blocklist holds fingerprint fp ("SHA256:..."), 0 if not, or
 * a negative KB_ERR_* code.
 */
int blocklist_has(struct kb_admin *a, const char *fp);

/* The DN of the blocklist entry for fp; *dnp is the caller's. */
int blocklist_dn(const struct kb_admin *a, const char *fp, char **dnp);

/*
 * 1 if the two DNs are spelled alike but for case (how keybound writes
 * them): group_base and base name the same container.
 */
int admin_same_dn(const char *x, const char *y);

/*
 * A description or reason: at most ADMIN_DESC_MAX bytes of UTF-8, no
 * control characters; an exit status (EXIT_USAGE, reported as what).
 */
int admin_text_valid(const char *what, const char *arg);

/* 1 if attachment value v (len bytes) is USER@+GROUP for this group. */
int attachment_names_group(const char *v, size_t len, const char *group);

/*
 * 0 if fp is "SHA256:" and 43 base64 characters that decode to 32 bytes
 * (ssh-keygen's form), filling hash[32] if not NULL; else
 * KB_ERR_INVALID_ARG.
 */
int fingerprint_decode(const char *fp, unsigned char *hash);

/* output.c */

/*
 * Write s (len bytes) as a JSON string: quotes, escapes, control bytes as
 * \u00XX, invalid UTF-8 as \ufffd.
 */
void json_string(FILE *f, const char *s, size_t len);

/* A JSON string, or null when s is NULL. */
void json_string_or_null(FILE *f, const char *s);

/*
 * Write s for a terminal: printable ASCII and valid UTF-8 above U+009F
 * as they are, every other byte as \xHH.
 */
void text_safe(FILE *f, const char *s, size_t len);

/* Columns text_safe() would use for s. */
size_t text_safe_width(const char *s, size_t len);

/* text_safe() padded with spaces to width columns. */
void text_safe_pad(FILE *f, const char *s, size_t len, size_t width);

/* timeutil.c */

#define TIME_RFC3339_LEN	21	/* "YYYY-MM-DDTHH:MM:SSZ" + NUL */
#define TIME_GTIME_LEN		16	/* "YYYYMMDDHHMMSSZ" + NUL */

/*
 * Parse a user-given UTC time, "YYYY-MM-DDTHH:MM:SSZ" or
 * "YYYYMMDDHHMMSSZ".  0 or KB_ERR_TIME.
 */
int time_parse_user(const char *s, time_t *tp);

/* Format t as RFC 3339 UTC into buf[TIME_RFC3339_LEN]. */
int time_format_rfc3339(time_t t, char *buf, size_t len);


/*
 * GeneralizedTime is read and written with lookup_parse_gentime() and
 * lookup_format_gentime() (lib/lookup.h), the same functions keybound-keys
 * uses, so show, check and the login path agree on every stored time.
 */

/* keygen.c */

enum keygen_type {
	KEYGEN_ED25519 = 0,
	KEYGEN_RSA,
	KEYGEN_ECDSA,
};

struct keygen;

/* Check type and bits (0 = the type's default); fills in the default. */
int keygen_check_bits(enum keygen_type type, unsigned *bitsp);

/* Generate a key pair. */
int keygen_generate(enum keygen_type type, unsigned bits,
    struct keygen **kp);

/* Free and wipe (NULL is fine). */
void keygen_free(struct keygen *k);

/* The public key as "TYPE BASE64" (caller frees). */
int keygen_public_line(const struct keygen *k, char **linep);

/*
 * Serialise the private key as ssh loads it: openssh-key-v1 for Ed25519,
 * PKCS#8 PEM for RSA and ECDSA; encrypted when pass is not NULL
 * (bcrypt KDF + aes256-ctr, or PKCS#8 PBES2 with AES-256).  The buffer
 * is the caller's to wipe (OPENSSL_cleanse) and free.
 */
int keygen_private_pem(const struct keygen *k, const char *comment,
    const char *pass, size_t passlen, unsigned char **outp, size_t *lenp);

/* bcrypt_pbkdf.c */

/*
 * The bcrypt-based PBKDF OpenSSH uses for its private key format.
 * rounds >= 1, keylen <= 1024.  0 or KB_ERR_INVALID_ARG.
 */
int bcrypt_pbkdf(const char *pass, size_t passlen, const unsigned char *salt,
    size_t saltlen, unsigned char *key, size_t keylen, unsigned rounds);

/* sign.c: signed entries (keybound(1), SIGNED RECORDS) */

/*
 * Open the signing key of -S or signing_key (nothing when neither is
 * set): a private key file, or a key ssh-agent holds, checked with one
 * signature before anything is written.  An exit status (reported).
 */
int admin_signer_open(struct kb_admin *a);

void admin_signer_close(struct kb_admin *a);

/* The signer's SHA256 fingerprint (owned by a's signer). */
const char *admin_signer_fp(const struct kb_admin *a);

/*
 * Sign the key pair or host group entry dn as it stands (resign): read
 * it, serial + 1, now, replace keyboundSignature guarded by the
 * assertion that it still holds the value read (bounded retries; plain
 * replace where the server lacks the control).  *serialp (may be NULL)
 * gets the new serial, 0 if dn is gone or no pair or group.  Failures
 * are reported.  0 or a KB_ERR_* code.
 */
int admin_sign_entry(struct kb_admin *a, const char *dn,
    unsigned long long *serialp);

/* image.c: an entry as it will be after a modify */

struct image_attr;

/* An entry's attributes and values, all owned. */
struct entry_image {
	struct image_attr *attrs;
	size_t nattrs;
	struct kb_attr *view;		/* image_view(), rebuilt on change */
	struct kb_val *viewvals;
};

/* A copy of attrs (values of a repeated name merged). */
int image_from_attrs(struct entry_image *im, const struct kb_attr *attrs,
    size_t nattrs);

/*
 * Apply mods as a server applies a modify: add (a present value is
 * left), delete (values, or the whole attribute), replace.  Values are
 * compared byte for byte, cn and objectClass case-insensitively.
 */
int image_apply(struct entry_image *im, const struct kb_mod *mods,
    size_t nmods);

/*
 * The image as im->nattrs search attributes (valid until the next change
 * or image_free()); NULL when empty or out of memory.
 */
const struct kb_attr *image_view(struct entry_image *im);

void image_free(struct entry_image *im);

/* KB_RECORD_PAIR or KB_RECORD_GROUP by the entry's objectClass, else 0. */
int admin_entry_kind(const struct kb_attr *attrs, size_t nattrs);

/*
 * dir_modify() of dn.  With a signing key and a key pair or group entry:
 * the entry read must verify (this key or trusted_signers; else reported,
 * nothing written, KB_ERR_SIG_*), and the modify carries the signature
 * of the entry as it will be, asserting keyboundSignature still holds
 * the value read (together with assertion, if any); a read-back that
 * does not verify is reported and sets sign_status.  Without a signing
 * key, a warning when the entry carries a signature.
 */
int admin_modify(struct kb_admin *a, const char *dn, const struct kb_mod *mods,
    size_t nmods, const char *assertion, int permissive);

/* dir_add() of dn; a key pair or group entry is added signed (serial 1). */
int admin_add(struct kb_admin *a, const char *dn, const struct kb_mod *mods,
    size_t nmods);

/* tombstone.c: the pure rules of serials and tombstones */

/*
 * The serial after keyboundSignature value old (len bytes; NULL: none):
 * old serial + 1, and at least now_ms (the time in milliseconds since the
 * epoch), so that an entry deleted and made again under its name, or a
 * group put back, is newer than anything the hosts saw of it before.  An
 * unreadable value whose leading decimal serial still parses counts by
 * that serial; otherwise it counts from 0 and *resetp is set.
 * KB_ERR_SIG_FORMAT when the serial cannot grow.
 */
int sign_next_serial(const char *old, size_t len, uint64_t now_ms,
    uint64_t *nextp, int *resetp);

/*
 * 1 if a tombstoned attachment whose end was end may be dropped at now:
 * every signed version that still granted it was signed before end, so
 * once end + max_age has passed no host accepts any of them.
 */
int tombstone_expired(time_t end, time_t now, unsigned max_age);

/*
 * 1 if a group's tombstones may be dropped at now: the group's current
 * signature (signed_at) is older than max_age, so every version that
 * still listed a removed member is older still.
 */
int group_tombstones_expired(time_t signed_at, time_t now, unsigned max_age);

/* The private key file `create` and `signer create` write. */
struct keyfile {
	const char *path;
	int fd;
	int tmpfile;		/* fd is an unnamed O_TMPFILE */
	int linked;		/* path now names our file */
	int to_stdout;		/* -o -: stdout, once the key is stored */
};

/* cmd_create.c: refuse an existing FILE, prepare it; an exit status. */
int keyfile_prepare(struct keyfile *kf);

/* Write the key (0600) and give it its name; an exit status. */
int keyfile_commit(struct keyfile *kf, const unsigned char *data,
    size_t len);

/* Remove the file we wrote again; 0 if it is gone. */
int keyfile_discard(struct keyfile *kf);

void keyfile_close(struct keyfile *kf);

/* cmd_show.c */

/*
 * Print the key pair object every command's --json uses, one line;
 * keyfile (may be NULL) adds "private_key_file".  0 or a KB_ERR_* code.
 */
int pair_print_json(const struct kb_pair *p, const char *keyfile);

/* commands */
int cmd_create(struct kb_admin *a, int argc, char **argv);
int cmd_import(struct kb_admin *a, int argc, char **argv);
int cmd_set(struct kb_admin *a, int argc, char **argv);
int cmd_list(struct kb_admin *a, int argc, char **argv);
int cmd_show(struct kb_admin *a, int argc, char **argv);
int cmd_attach(struct kb_admin *a, int argc, char **argv);
int cmd_detach(struct kb_admin *a, int argc, char **argv);
int cmd_delete(struct kb_admin *a, int argc, char **argv);
int cmd_check(struct kb_admin *a, int argc, char **argv);
int cmd_group(struct kb_admin *a, int argc, char **argv);
int cmd_block(struct kb_admin *a, int argc, char **argv);
int cmd_unblock(struct kb_admin *a, int argc, char **argv);
int cmd_blocked(struct kb_admin *a, int argc, char **argv);
int cmd_prune(struct kb_admin *a, int argc, char **argv);
int cmd_rotate(struct kb_admin *a, int argc, char **argv);
int cmd_signer(struct kb_admin *a, int argc, char **argv);
int cmd_verify(struct kb_admin *a, int argc, char **argv);
int cmd_resign(struct kb_admin *a, int argc, char **argv);

#endif /* KB_ADMIN_H */
