/*
 * cache.h - keybound-keys' answer cache in cache_dir.
 *
 * One file per (user, instance, fingerprint-or-all), named by a SHA-256 of
 * that triple.  Files hold structured fields (key pair name, key text,
 * options, not-after), never rendered lines; on load every field goes
 * through lookup_add_key() again as untrusted input.  The directory must be
 * owned by the euid and not group/world-writable; files must be regular,
 * owned by the euid, mode 0600.  Writes are atomic (O_EXCL temp file in the
 * same directory, fsync, renameat).
 */
#ifndef KB_CACHE_H
#define KB_CACHE_H

#include <stddef.h>
#include <time.h>

#include "lookup.h"

#define KB_CACHE_MAX_BYTES	(4 * 1024 * 1024)	/* one answer file */
#define KB_CACHE_MAX_FILES	10000	/* files before empty answers are
					   no longer stored */

struct kb_cache;
struct kb_config;

/*
 * Open cache_dir relative to nothing but its path (final component not a
 * symlink) and check it: a directory owned by the euid, not writable by
 * group or others.  KB_ERR_CACHE_UNSAFE when the checks fail,
 * KB_ERR_CACHE_MISS when it does not exist.
 */
int cache_open(const char *dir, struct kb_cache **cp);

/* Close (NULL is fine). */
void cache_close(struct kb_cache *c);

/* Flags for cache_load(). */
#define KB_CACHE_ALL_KEYS	0x1	/* read the all-keys answer even for a
					   fingerprint query (filtered by it) */

/*
 * Load the stored answer for q (or, with KB_CACHE_ALL_KEYS, the all-keys
 * answer filtered by q->fingerprint).  The stored user, instance and
 * fingerprint must equal q's; every key is re-checked with lookup_add_key()
 * at time now and the answer finished with lookup_finish().  (*ap)->fetched
 * is the time the directory gave the answer.  KB_ERR_CACHE_MISS if there is
 * none, KB_ERR_CACHE_UNSAFE for a file failing the owner/mode checks,
 * KB_ERR_CACHE_CORRUPT for one that does not parse.
 */
int cache_load(struct kb_cache *c, const struct kb_config *cfg,
    const struct kb_query *q, unsigned flags, time_t now,
    lookup_note_fn note, void *ctx, struct kb_answer **ap);

/*
 * Store a (structured fields and a->fetched) as the answer for q.  An
 * answer without keys is not stored once the directory holds
 * KB_CACHE_MAX_FILES entries (KB_ERR_CACHE_FULL): such answers can be
 * asked for with any user name, so they must not grow the cache without
 * bound.
 */
int cache_store(struct kb_cache *c, const struct kb_query *q,
    const struct kb_answer *a);

#endif /* KB_CACHE_H */
