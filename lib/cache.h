/*
 * cache.h - keybound-keys' answer cache in cache_dir, and the one policy
 * that says which cached answer may be served now.
 *
 * One file per (user, instance), named by a SHA-256 of the pair, holding
 * every answer the directory gave for that user: the all-keys answer and
 * answers for single fingerprints, each with the sub-second time the
 * directory was asked.  Files hold structured fields (key pair name, key
 * text, options, not-after), never rendered lines; on load every field
 * goes through lookup_add_cached_key() again as untrusted input (every
 * check of lookup_add_key() but the cryptographic ones, which the key
 * passed before it was stored: a hit never loads libcrypto).  With
 * trusted_signers each key also keeps its signed records, and on load the
 * decision is made again from them alone (lookup_add_signed_key(): the
 * signatures checked, libcrypto loaded); an answer with a key whose
 * records are missing or refused is not served at all.
 *
 * Revocation rules (cache_record):
 *   - every directory answer supersedes every older answer for that user
 *     that it contradicts: an all-keys answer replaces the older all-keys
 *     answer and removes the older fingerprint answers; an empty
 *     fingerprint answer removes that fingerprint's answer and that key
 *     from an older all-keys answer;
 *   - an answer is never replaced by an older one: writers hold a lock on
 *     cache_dir from reading the file to renaming its replacement; on
 *     equal stamps the answer granting less stays;
 *   - an answer with keys asked before the newest answer that took keys
 *     away (the user file's floor, or cache_dir's .floor for an empty
 *     answer that had no file to go to) adds nothing: it may hold a key
 *     revoked since;
 *   - a full cache, a failed write or a lock held too long never blocks
 *     removing: the user's file is deleted instead;
 *   - a write that grants less than the file it replaces (a key gone, or
 *     kept with other options or expiry) is synced before it counts;
 *   - an answer the file already holds is not written again: only the
 *     file's modification time moves to its stamp (see cache.c);
 *   - a cache_dir on a read-only file system is not trusted at all.
 *
 * The directory must be owned by the euid and not group/world-writable;
 * files must be regular, owned by the euid, mode 0600, one link.  Writes
 * are atomic (O_EXCL temp file, fsync, renameat).  Files older than the
 * longer of cache_ttl and offline_max_age, and temporary files left by a
 * crash, are pruned.
 */
#ifndef KB_CACHE_H
#define KB_CACHE_H

#include <stddef.h>
#include <time.h>

#include "lookup.h"

#define KB_CACHE_MAX_BYTES	(4 * 1024 * 1024)	/* one user's file */
#define KB_CACHE_MAX_FILES	10000	/* user files before empty answers
					   start no new file */
#define KB_CACHE_MAX_ANSWERS	256	/* answers kept in one user's file */
#define KB_CACHE_LOCK_MS	500	/* longest wait for the writers' lock */
#define KB_CACHE_PRUNE_S	60	/* seconds between pruning passes */
#define KB_CACHE_FUTURE_S	1	/* answers stamped further ahead are
					   ignored (the clock was set back) */

struct kb_cache;
struct kb_config;

/* What the cache holds for a query, seen at one moment. */
enum kb_cache_state {
	KB_CACHE_NONE = 0,	/* nothing usable */
	KB_CACHE_FRESH,		/* younger than cache_ttl: serve it */
	KB_CACHE_OFFLINE,	/* within offline_max_age: serve it only when
				   no directory server answers */
	KB_CACHE_TOO_OLD,	/* past both: never served */
	KB_CACHE_FUTURE,	/* stamped in the future: ignored */
};

/* The verdict of cache_consult(). */
struct kb_cached {
	enum kb_cache_state state;
	struct kb_answer *answer;	/* FRESH, and OFFLINE from
					   cache_consult(); caller frees */
	long long age_ms;		/* age of the newest answer found */
};

/*
 * Open cache_dir relative to nothing but its path (final component not a
 * symlink) and check it: a directory owned by the euid, not writable by
 * group or others.  KB_ERR_CACHE_UNSAFE when the checks fail,
 * KB_ERR_CACHE_MISS when it does not exist.
 */
int cache_open(const char *dir, struct kb_cache **cp);

/* Close (NULL is fine). */
void cache_close(struct kb_cache *c);

/*
 * Which cached answer for q may be served at wall-clock time now, and
 * why.  A fingerprint query takes the newer of the answer for that
 * fingerprint and the all-keys answer filtered by it.  Every key is
 * re-checked with lookup_add_key() at now.  Returns 0 (out->state says
 * what was found), KB_ERR_CACHE_UNSAFE or KB_ERR_CACHE_CORRUPT for a file
 * that was ignored (out->state is then NONE), or a fatal error.
 */
int cache_consult(struct kb_cache *c, const struct kb_config *cfg,
    const struct kb_query *q, const struct timespec *now,
    lookup_note_fn note, void *ctx, struct kb_cached *out);

/*
 * As cache_consult(), but an answer usable only offline is not built:
 * out->state is then KB_CACHE_OFFLINE with out->answer NULL.  Checking
 * its keys (and their signatures) is work lost whenever the directory
 * answers; a caller that needs it after all calls cache_consult(), which
 * reads the file again (another run may have recorded a newer answer
 * since).
 */
int cache_consult_fresh(struct kb_cache *c, const struct kb_config *cfg,
    const struct kb_query *q, const struct timespec *now,
    lookup_note_fn note, void *ctx, struct kb_cached *out);

/*
 * Record the directory's answer a (stamped a->fetched) for q under the
 * revocation rules above, then prune if a pass is due.  Waits at most
 * KB_CACHE_LOCK_MS for other writers.  An empty all-keys answer for a
 * user with no file yet is not stored once cache_dir holds
 * KB_CACHE_MAX_FILES user files (KB_ERR_CACHE_FULL); an empty fingerprint
 * answer never creates a file.
 */
int cache_record(struct kb_cache *c, const struct kb_config *cfg,
    const struct kb_query *q, const struct kb_answer *a);

/*
 * Remove every user file older than the longer of cache_ttl and
 * offline_max_age, old-format files and temporary files left by a crash.
 * Takes the writers' lock.  cache_record() calls it every
 * KB_CACHE_PRUNE_S seconds.
 */
int cache_prune(struct kb_cache *c, const struct kb_config *cfg);

#endif /* KB_CACHE_H */
