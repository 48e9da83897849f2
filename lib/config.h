/*
 * config.h - keybound.conf: one parser, shared by keybound-keys, the admin
 * CLI and (through keybound-keys) the PAM module.
 */
#ifndef KB_CONFIG_H
#define KB_CONFIG_H

#include <stddef.h>
#include <sys/types.h>

#define KB_CONFIG_PATH		"/etc/keybound/keybound.conf"
#define KB_CONFIG_MAX_BYTES	(64 * 1024)
#define KB_CONFIG_MAX_URIS	16
#define KB_CONFIG_MAX_LINE	4096	/* bytes per line, newline excluded */
#define KB_CONFIG_MAX_PASSWORD	4096	/* bytes in a bindpw_file */

enum kb_schema {
	KB_SCHEMA_KEYBOUND = 0,
	KB_SCHEMA_OPENSSH_LPK,
	KB_SCHEMA_CUSTOM,
};

struct kb_config {
	char *uris[KB_CONFIG_MAX_URIS];	/* in failover order */
	size_t nuris;
	char *base;
	char *group_base;		/* host groups; NULL = base */
	enum kb_schema schema;
	/* profile presets, overridable one by one; NULL = not used */
	char *key_filter;		/* template with %u %i */
	char *key_attribute;
	char *fingerprint_attribute;
	char *expiry_attribute;
	char *options_attribute;
	char *instance;			/* expanded instance id */
	char *binddn;
	char *bindpw_file;
	char *sasl_mech;
	int starttls;			/* 1 = yes (default) */
	char *tls_cacert;
	char *tls_cacertdir;
	char *tls_cert;
	char *tls_key;
	unsigned timeout;		/* seconds, whole lookup */
	unsigned network_timeout;	/* seconds, per connect / reply */
	char *cache_dir;
	unsigned cache_ttl;		/* seconds */
	unsigned offline_max_age;	/* seconds */
	unsigned allowed_key_types;	/* enum kb_keytype mask */
	unsigned min_rsa_bits;
	unsigned max_keys;
	char *signing_key;		/* admin: FILE or "agent:SHA256:..." */
	char *trusted_signers;		/* host: NAME KEYTYPE BASE64 lines */
	unsigned signature_max_age;	/* seconds a signature is honoured */
	int owner_self;			/* set by config_load(): the caller's
					   euid may own bindpw_file too */
};

/*
 * Called once per problem with "FILE:LINE: keyword: problem" (no newline).
 * Problems with the file as a whole come as "FILE: problem", a missing
 * required keyword as "FILE: uri: required keyword missing", a line that
 * cannot be tokenised (NUL, control byte, invalid UTF-8, too long) as
 * "FILE:LINE: problem".  Control bytes never reach the callback.
 */
typedef void (*config_report_fn)(void *ctx, const char *msg);

/*
 * Flags for config_load().  keybound-keys (and so the PAM module) passes
 * KB_CONFIG_CHECK_OWNER alone: the command user must not be able to
 * change which server is trusted.  The admin CLI adds KB_CONFIG_OWNER_SELF.
 */
#define KB_CONFIG_CHECK_OWNER	0x1	/* refuse a config not owned by root
					   or writable by group/other */
#define KB_CONFIG_OWNER_SELF	0x2	/* with CHECK_OWNER: the caller's euid
					   may own the config and its
					   bindpw_file too */

/*
 * Read and validate a config file.  Every bad line is reported through
 * report (if not NULL), then the whole file is refused with KB_ERR_CONFIG.
 * Profile presets are applied, then explicit keywords override them; the
 * instance spec is expanded; plain-text ldap:// with starttls no is refused
 * unless every such URI is loopback.  Ownership and mode are checked with
 * fstat on the opened descriptor; with KB_CONFIG_CHECK_OWNER an existing
 * bindpw_file's too (lstat: it may be unreadable until privileges are
 * dropped; config_read_bindpw() checks it again when reading).
 */
int config_load(const char *path, unsigned flags, config_report_fn report,
    void *ctx, struct kb_config **cfgp);

/*
 * Parse a config held in memory (len bytes, NUL bytes refused) exactly as
 * config_load() parses a file's contents; name is the FILE of the
 * messages.  No ownership or mode checks.
 */
int config_parse_buffer(const char *name, const char *buf, size_t len,
    config_report_fn report, void *ctx, struct kb_config **cfgp);

/*
 * Value parsers shared with the PAM module's arguments.  Each returns 0 or
 * KB_ERR_CONFIG and sets its out-param only on success.
 */
/* Decimal digits only (no sign, blank or junk), value in min..max. */
int config_parse_uint(const char *s, unsigned min, unsigned max,
    unsigned *valp);
/* "yes" -> 1, "no" -> 0, case-insensitive. */
int config_parse_bool(const char *s, int *valp);
/* Index of s in the NULL-terminated list words, case-insensitive. */
int config_parse_choice(const char *s, const char *const *words, int *idxp);

/* Free a config (NULL is fine). */
void config_free(struct kb_config *cfg);

/*
 * Read a password file named on the admin CLI's command line: owned by
 * root or the caller's euid, no group/world write, no world read, not a
 * symlink; one trailing newline removed; empty refused.  Caller wipes
 * with explicit_bzero() and frees.
 */
int config_read_password(const char *path, char **pwp, size_t *lenp);

/*
 * Read cfg->bindpw_file as config_read_password() does, but owned by
 * root only unless cfg was loaded with KB_CONFIG_OWNER_SELF.
 */
int config_read_bindpw(const struct kb_config *cfg, char **pwp,
    size_t *lenp);

/* Name of a schema profile ("keybound", ...). */
const char *config_schema_name(enum kb_schema s);

/*
 * Where host groups live (group_base, else base), or NULL when the
 * profile has none: groups belong to the keybound schema, and to another
 * profile only when group_base is set for it.
 */
const char *config_group_base(const struct kb_config *cfg);

#endif /* KB_CONFIG_H */
