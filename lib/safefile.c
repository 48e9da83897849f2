/*
 * safefile.c - files in a directory only the euid may write (safefile.h).
 */
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "kb.h"
#include "clock.h"
#include "fdio.h"
#include "safefile.h"

#define TMP_PREFIX_MAX	15	/* bytes before the 16 random hex digits */

int
safefile_dir_open(const char *dir, int *dfdp)
{
	struct statvfs vfs;
	struct stat st;
	int fd = -1, r = KB_ERR_CACHE_UNSAFE;

	*dfdp = -1;
	if (dir == NULL || dir[0] != '/')
		return KB_ERR_INVALID_ARG;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? KB_ERR_CACHE_MISS : KB_ERR_CACHE_UNSAFE;
	if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
		goto out;
	/*
	 * On a read-only file system (remounted after an error) no newer
	 * file can replace or remove an older one: trust none of them.
	 */
	if (fstatvfs(fd, &vfs) != 0 || (vfs.f_flag & ST_RDONLY))
		goto out;
	*dfdp = fd;
	fd = -1;
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	return r;
}

int
safefile_open(int dfd, const char *name, int *fdp, struct stat *st)
{
	int fd;

	*fdp = -1;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? KB_ERR_CACHE_MISS : KB_ERR_CACHE_UNSAFE;
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) ||
	    st->st_uid != geteuid() || (st->st_mode & 07777) != 0600 ||
	    st->st_nlink != 1) {
		close(fd);
		return KB_ERR_CACHE_UNSAFE;
	}
	*fdp = fd;
	return 0;
}

int
safefile_replace(int dfd, const char *name, const char *tmp_prefix,
    const void *p, size_t len, int durable, const struct timespec *mtime)
{
	struct timespec times[2];
	uint64_t rnd;
	char tmp[TMP_PREFIX_MAX + 16 + 1];
	int n, fd = -1, r = KB_ERR_SYSTEM, created = 0;

	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		goto out;
	n = snprintf(tmp, sizeof(tmp), "%s%016" PRIx64, tmp_prefix, rnd);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1)
		goto out;
	created = 1;
	if (fchmod(fd, 0600) != 0 || fd_write_all(fd, p, len) != 0)
		goto out;
	if (mtime != NULL) {
		times[0].tv_sec = 0;
		times[0].tv_nsec = UTIME_OMIT;
		times[1] = *mtime;
		if (futimens(fd, times) != 0)
			goto out;
	}
	if (durable && fsync(fd) != 0)
		goto out;
	r = close(fd);
	fd = -1;
	if (r != 0 || renameat(dfd, tmp, dfd, name) != 0) {
		r = KB_ERR_SYSTEM;
		goto out;
	}
	created = 0;
	r = durable && fsync(dfd) != 0 ? KB_ERR_SYSTEM : 0;
 out:
	if (fd != -1)
		close(fd);
	if (created)
		unlinkat(dfd, tmp, 0);
	return r;
}

int
safefile_lock(int fd, long ms)
{
	struct timespec until, pause = { 0, 1000000L };

	deadline_set(&until, ms);
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return KB_ERR_SYSTEM;
		if (deadline_left_ms(&until) == 0)
			return KB_ERR_CACHE_BUSY;
		nanosleep(&pause, NULL);
	}
}
