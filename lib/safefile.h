/*
 * safefile.h - files in a directory only the euid may write (cache_dir):
 * the directory opened and checked, a file in it opened and checked, a
 * file replaced atomically, a lock taken with a bounded wait.  The answer
 * cache (cache.c) and the serial floors (floors.c) share these; what a
 * file holds, and what an error means to the caller, stays theirs.
 */
#ifndef KB_SAFEFILE_H
#define KB_SAFEFILE_H

#include <sys/stat.h>

#include <stddef.h>
#include <time.h>

/*
 * Open dir (an absolute path, final component not a symlink) and check
 * it: a directory owned by the euid, not writable by group or others, on
 * a file system mounted read-write.  *dfdp gets the descriptor.
 * KB_ERR_INVALID_ARG for a relative path, KB_ERR_CACHE_MISS when it does
 * not exist, else KB_ERR_CACHE_UNSAFE.
 */
int safefile_dir_open(const char *dir, int *dfdp);

/*
 * Open name in dfd for reading (not a symlink, without blocking) and
 * check it: a regular file owned by the euid, mode 0600, one link.  *fdp
 * gets the descriptor and *st its fstat().  KB_ERR_CACHE_MISS when it
 * does not exist, else KB_ERR_CACHE_UNSAFE.
 */
int safefile_open(int dfd, const char *name, int *fdp, struct stat *st);

/*
 * Replace name in dfd with the len bytes of p: a temporary file named
 * tmp_prefix and 16 random hex digits (O_EXCL, mode 0600), renamed over
 * name.  With durable the file is synced before the rename and dfd after
 * it; mtime, if not NULL, becomes the file's modification time.  The
 * temporary file is removed on failure.  Returns 0 or KB_ERR_SYSTEM
 * (KB_ERR_INVALID_ARG for a tmp_prefix longer than 15 bytes).
 */
int safefile_replace(int dfd, const char *name, const char *tmp_prefix,
    const void *p, size_t len, int durable, const struct timespec *mtime);

/*
 * Take an exclusive flock() on fd, waiting at most ms milliseconds.
 * Returns 0, KB_ERR_CACHE_BUSY when the wait ran out, or KB_ERR_SYSTEM.
 */
int safefile_lock(int fd, long ms);

#endif /* KB_SAFEFILE_H */
