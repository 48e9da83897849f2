/*
 * test_safefile.c - lib/safefile.c: a replaced file holds exactly the new
 * bytes, mode 0600 and the given modification time, and no temporary file
 * is left, whether the rename worked or not; files and directories that
 * fail the checks are refused; the lock waits at most its bound.
 * (test_cache.c and test_floors.c check the same through their callers.)
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kb.h"
#include "safefile.h"
#include "tap.h"

/* How many entries of dir start with prefix. */
static int
count_prefixed(const char *dir, const char *prefix)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static void
test_replace(const char *dir, int dfd)
{
	struct timespec mtime = { 1700000000, 123456789 };
	struct stat st;
	char buf[32];
	ssize_t n;
	int fd;

	CHECK_EQ_INT(safefile_replace(dfd, "f", ".t-", "one\n", 4, 0, NULL),
	    0);
	CHECK_EQ_INT(safefile_replace(dfd, "f", ".t-", "second\n", 7, 1,
	    &mtime), 0);
	CHECK_EQ_INT(safefile_open(dfd, "f", &fd, &st), 0);
	if (fd != -1) {
		n = read(fd, buf, sizeof(buf));
		CHECK_EQ_INT(n, 7);
		CHECK(n == 7 && memcmp(buf, "second\n", 7) == 0);
		close(fd);
	}
	CHECK_EQ_INT(st.st_mode & 07777, 0600);
	CHECK_EQ_INT(st.st_mtim.tv_sec, mtime.tv_sec);
	CHECK_EQ_INT(st.st_mtim.tv_nsec, mtime.tv_nsec);
	CHECK_EQ_INT(count_prefixed(dir, ".t-"), 0);
	/* a rename that fails (onto a directory) leaves no temporary file */
	CHECK_EQ_INT(mkdirat(dfd, "d", 0700), 0);
	CHECK_EQ_INT(safefile_replace(dfd, "d", ".t-", "x", 1, 1, NULL),
	    KB_ERR_SYSTEM);
	CHECK_EQ_INT(count_prefixed(dir, ".t-"), 0);
	CHECK_EQ_INT(safefile_replace(dfd, "g", ".prefix-too-long-", "x", 1,
	    0, NULL), KB_ERR_INVALID_ARG);
	CHECK_EQ_INT(count_prefixed(dir, ".prefix"), 0);
}

static void
test_open(int dfd)
{
	struct stat st;
	int fd;

	CHECK_EQ_INT(safefile_open(dfd, "none", &fd, &st), KB_ERR_CACHE_MISS);
	CHECK_EQ_INT(fd, -1);
	CHECK_EQ_INT(symlinkat("f", dfd, "sl"), 0);
	CHECK_EQ_INT(safefile_open(dfd, "sl", &fd, &st), KB_ERR_CACHE_UNSAFE);
	CHECK_EQ_INT(safefile_open(dfd, "d", &fd, &st), KB_ERR_CACHE_UNSAFE);
	CHECK_EQ_INT(fchmodat(dfd, "f", 0640, 0), 0);
	CHECK_EQ_INT(safefile_open(dfd, "f", &fd, &st), KB_ERR_CACHE_UNSAFE);
	CHECK_EQ_INT(fchmodat(dfd, "f", 0600, 0), 0);
	CHECK_EQ_INT(linkat(dfd, "f", dfd, "f2", 0), 0);
	CHECK_EQ_INT(safefile_open(dfd, "f", &fd, &st), KB_ERR_CACHE_UNSAFE);
	CHECK_EQ_INT(unlinkat(dfd, "f2", 0), 0);
	CHECK_EQ_INT(safefile_open(dfd, "f", &fd, &st), 0);
	if (fd != -1)
		close(fd);
}

static void
test_lock(const char *dir, int dfd)
{
	struct timespec t0, t1;
	long ms;
	int other;

	if ((other = open(dir, O_RDONLY | O_DIRECTORY)) == -1) {
		CHECK(0);
		return;
	}
	CHECK_EQ_INT(flock(other, LOCK_EX), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ_INT(safefile_lock(dfd, 50), KB_ERR_CACHE_BUSY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 40);		/* it waited (ms rounding aside) */
	flock(other, LOCK_UN);
	close(other);
	CHECK_EQ_INT(safefile_lock(dfd, 50), 0);
	flock(dfd, LOCK_UN);
}

static void
test_dir(const char *dir)
{
	char sub[256];
	int dfd;

	CHECK_EQ_INT(safefile_dir_open("relative", &dfd), KB_ERR_INVALID_ARG);
	snprintf(sub, sizeof(sub), "%s/none", dir);
	CHECK_EQ_INT(safefile_dir_open(sub, &dfd), KB_ERR_CACHE_MISS);
	/* a symlink to a directory that passes */
	snprintf(sub, sizeof(sub), "%s/dl", dir);
	CHECK_EQ_INT(symlink(dir, sub), 0);
	CHECK_EQ_INT(safefile_dir_open(sub, &dfd), KB_ERR_CACHE_UNSAFE);
	unlink(sub);
	CHECK_EQ_INT(chmod(dir, 0702), 0);
	CHECK_EQ_INT(safefile_dir_open(dir, &dfd), KB_ERR_CACHE_UNSAFE);
	CHECK_EQ_INT(dfd, -1);
	CHECK_EQ_INT(chmod(dir, 0700), 0);
}

int
main(void)
{
	char dir[] = "/tmp/kb-test-safefile.XXXXXX", path[256];
	int dfd;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	CHECK_EQ_INT(safefile_dir_open(dir, &dfd), 0);
	if (dfd != -1) {
		test_replace(dir, dfd);
		test_open(dfd);
		test_lock(dir, dfd);
		close(dfd);
	}
	test_dir(dir);
	snprintf(path, sizeof(path), "%s/f", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sl", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/d", dir);
	rmdir(path);
	rmdir(dir);
	return tap_done();
}
