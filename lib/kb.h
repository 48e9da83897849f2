/*
 * kb.h - error codes and small shared definitions for every part of keybound.
 *
 * lib/ functions return 0 on success or a negative KB_ERR_* code; they never
 * print, exit or abort (they run inside sshd's helper and PAM hosts).
 */
#ifndef KB_H
#define KB_H

#include <stddef.h>

#define KB_VERSION		"0.1.0"

enum kb_err {
	KB_OK = 0,
	KB_ERR_INTERNAL = -1,		/* a bug or an impossible state */
	KB_ERR_NOMEM = -2,
	KB_ERR_INVALID_ARG = -3,
	KB_ERR_SYSTEM = -4,		/* a system call failed; errno kept */
	KB_ERR_TOO_LONG = -5,		/* input beyond a fixed bound */

	/* SSH public key model */
	KB_ERR_KEY_FORMAT = -20,	/* line is not [opts] TYPE BASE64 [c] */
	KB_ERR_KEY_BAD_BYTE = -21,	/* NUL, CR, LF, control or non-ASCII */
	KB_ERR_KEY_BASE64 = -22,	/* base64 does not decode exactly */
	KB_ERR_KEY_UNKNOWN_TYPE = -23,	/* declared type not recognised */
	KB_ERR_KEY_TYPE_MISMATCH = -24,	/* blob's inner type != declared */
	KB_ERR_KEY_TRUNCATED = -25,	/* blob ends inside a field */
	KB_ERR_KEY_TRAILING = -26,	/* bytes left after the last field */
	KB_ERR_KEY_INVALID = -27,	/* bad RSA numbers, point off curve */
	KB_ERR_KEY_CURVE_MISMATCH = -28,/* ECDSA curve name != type */
	KB_ERR_KEY_DSA = -29,		/* ssh-dss: recognised, refused */
	KB_ERR_KEY_RSA_TOO_SMALL = -30,	/* below min_rsa_bits */
	KB_ERR_KEY_TYPE_REFUSED = -31,	/* not in allowed_key_types */
	KB_ERR_KEY_OPTIONS = -32,	/* options where none are allowed */
	KB_ERR_KEY_COMMENT = -33,	/* comment holds forbidden bytes */
	KB_ERR_CRYPTO = -34,		/* libcrypto failed unexpectedly */
	KB_ERR_KEY_BLOCKED = -35,	/* the key is on the blocklist */

	/* authorized_keys options */
	KB_ERR_OPT_SYNTAX = -40,	/* quoting or separator error */
	KB_ERR_OPT_UNKNOWN = -41,	/* option outside the allow-list */
	KB_ERR_OPT_FROM = -42,		/* from= pattern list invalid */
	KB_ERR_OPT_COMMAND = -43,	/* command= value invalid */
	KB_ERR_OPT_DUPLICATE = -44,

	/* names and filters */
	KB_ERR_USER_NAME = -50,		/* user name fails validation */
	KB_ERR_KEYPAIR_NAME = -51,	/* key pair name fails the cloud rules */
	KB_ERR_INSTANCE_NAME = -52,
	KB_ERR_FILTER_TEMPLATE = -53,	/* unknown %-escape in a template */
	KB_ERR_TIME = -54,		/* time string invalid */

	/* configuration */
	KB_ERR_CONFIG = -60,		/* one or more bad lines */
	KB_ERR_CONFIG_PERM = -61,	/* file owner or mode unsafe */
	KB_ERR_CONFIG_OPEN = -62,

	/* directory */
	KB_ERR_DIR_UNAVAILABLE = -70,	/* no URI answered in time */
	KB_ERR_DIR_AUTH = -71,		/* bind refused */
	KB_ERR_DIR_TLS = -72,		/* TLS set-up or verification failed */
	KB_ERR_DIR_NO_SUCH_OBJECT = -73,
	KB_ERR_DIR_ALREADY_EXISTS = -74,
	KB_ERR_DIR_ASSERTION = -75,	/* assertion control did not hold */
	KB_ERR_DIR_VALUE_EXISTS = -76,
	KB_ERR_DIR_NO_SUCH_VALUE = -77,
	KB_ERR_DIR_SIZELIMIT = -78,
	KB_ERR_DIR_AMBIGUOUS = -79,	/* more entries than the profile allows */
	KB_ERR_DIR_PROTOCOL = -80,	/* unexpected reply or result */
	KB_ERR_DIR_TIMEOUT = -81,	/* the overall deadline passed */
	KB_ERR_DIR_REFUSED = -82,	/* server refused the operation */
	KB_ERR_DIR_NO_CONTROL = -83,	/* a critical control is unsupported */
	KB_ERR_DIR_SYNTAX = -84,	/* a value's syntax was refused */

	/* cache */
	KB_ERR_CACHE_MISS = -90,
	KB_ERR_CACHE_UNSAFE = -91,	/* owner/mode wrong, symlink, ... */
	KB_ERR_CACHE_STALE = -92,
	KB_ERR_CACHE_CORRUPT = -93,
	KB_ERR_CACHE_FULL = -94,	/* too many files to add an empty answer */
	KB_ERR_CACHE_BUSY = -95,	/* another writer held the lock too long */

	/* signed records, SSHSIG, ssh-agent */
	KB_ERR_RECORD = -100,		/* record not in canonical form */
	KB_ERR_RECORD_VERSION = -101,	/* record version not understood */
	KB_ERR_SIG_FORMAT = -102,	/* not a well-formed SSHSIG */
	KB_ERR_SIG_NAMESPACE = -103,	/* SSHSIG namespace is not "keybound" */
	KB_ERR_SIG_HASH = -104,		/* SSHSIG hash is not sha512 */
	KB_ERR_SIG_KEY = -105,		/* signed by another key */
	KB_ERR_SIG_BAD = -106,		/* signature does not verify */
	KB_ERR_SIG_KEYTYPE = -107,	/* signer key type not supported */
	KB_ERR_PRIVKEY = -108,		/* private key file not usable */
	KB_ERR_PRIVKEY_ENCRYPTED = -109,/* passphrase-protected private key */
	KB_ERR_AGENT = -110,		/* ssh-agent unreachable or misbehaving */
	KB_ERR_AGENT_NO_KEY = -111,	/* agent does not hold that key */
	KB_ERR_AGENT_REFUSED = -112,	/* agent refused to sign */
	KB_ERR_AGENT_TIMEOUT = -113,	/* agent did not answer in time */
	KB_ERR_SIG_MISSING = -114,	/* entry has no signature */
	KB_ERR_SIG_UNTRUSTED = -115,	/* signer not in trusted_signers */
	KB_ERR_SIG_TOO_OLD = -116,	/* signed longer ago than
					   signature_max_age */
	KB_ERR_SIG_REPLAYED = -117,	/* serial older than one seen */
	KB_ERR_SIGNERS = -118,		/* trusted_signers file not usable */
};

/* Human-readable text for a KB_ERR_* code; never NULL. */
const char *kb_strerror(int err);

#endif /* KB_H */
