/*
 * floors.h - serial floors: the highest serial a host has seen per signed
 * entry (key pair or host group), kept in cache_dir so that an older,
 * validly signed version of an entry restored in the directory is refused
 * (KB_ERR_SIG_REPLAYED) once a newer one was seen.
 *
 * One file per entry, "f-" and the SHA-256 hex of "pair\0NAME" or
 * "group\0NAME", holding the serial in decimal and a newline; owned by
 * the euid, mode 0600, one link.  Readers take no lock (a floor file is
 * only ever replaced by rename); raising takes an exclusive lock on
 * cache_dir's ".floors.lock", reads the floor again and writes the new one
 * (temp file, fsync, rename) only when it is higher, so a floor never goes
 * down, whoever runs at the same time.  Floors are never pruned: they are
 * a few bytes per entry ever seen.
 *
 * The floors guard against a directory writer, not against the account
 * that owns cache_dir (it can remove them): what it can do with an old
 * signed version is bounded by signature_max_age.
 */
#ifndef KB_FLOORS_H
#define KB_FLOORS_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define KB_FLOORS_LOCK_MS	500	/* longest wait for the floors' lock */

struct kb_floors;

/*
 * Open dir (cache_dir) for floors: a directory owned by the euid, not
 * writable by group or others, on a writable file system.
 * KB_ERR_CACHE_MISS when it does not exist, else KB_ERR_CACHE_UNSAFE.
 */
int floors_open(const char *dir, struct kb_floors **fp);

/* Close (NULL is fine). */
void floors_close(struct kb_floors *f);

/*
 * Judge serial for the entry kind/name (namelen bytes): below its floor,
 * KB_ERR_SIG_REPLAYED; else 0, and with raise the floor is now at least
 * serial.  A floor file that is unsafe or unreadable, or a lock held
 * longer than KB_FLOORS_LOCK_MS, is an error (the caller refuses the
 * entry: fail closed).
 */
int floors_check(struct kb_floors *f, enum kb_record_kind kind,
    const char *name, size_t namelen, uint64_t serial, int raise);

#endif /* KB_FLOORS_H */
