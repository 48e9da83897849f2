/*
 * test_floors.c - lib/floors.c: a floor is raised, never lowered, kept per
 * kind and name; concurrent raisers leave the highest serial; unsafe or
 * corrupt floor files are errors (the caller refuses the entry).
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kb.h"
#include "floors.h"
#include "tap.h"

#define RAISERS	8
#define ROUNDS	40

/* The one floor file in dir (the only "f-" entry), or "". */
static void
floor_file(const char *dir, char *path, size_t len)
{
	struct dirent *de;
	DIR *d;

	path[0] = '\0';
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "f-", 2) == 0)
			snprintf(path, len, "%s/%s", dir, de->d_name);
	closedir(d);
}

static void
test_raise(struct kb_floors *f)
{
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k1", 2, 5, 0), 0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k1", 2, 1, 0), 0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k1", 2, 5, 1), 0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k1", 2, 4, 1),
	    KB_ERR_SIG_REPLAYED);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k1", 2, 5, 1), 0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k1", 2, 9, 1), 0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k1", 2, 5, 0),
	    KB_ERR_SIG_REPLAYED);
	/* per kind and name */
	CHECK_EQ_INT(floors_check(f, KB_RECORD_GROUP, "k1", 2, 1, 1), 0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k2", 2, 1, 1), 0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k1x", 3, 1, 0), 0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k1", 2, UINT64_MAX, 1),
	    0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k1", 2,
	    UINT64_MAX - 1, 0), KB_ERR_SIG_REPLAYED);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k1", 2, 0, 0),
	    KB_ERR_INVALID_ARG);
}

/* RAISERS processes raise one floor to interleaved serials at once. */
static void
test_concurrent(const char *dir)
{
	struct kb_floors *f = NULL;
	pid_t pids[RAISERS];
	int i, j, st, failed = 0;

	for (i = 0; i < RAISERS; i++) {
		if ((pids[i] = fork()) == 0) {
			if (floors_open(dir, &f) != 0)
				_exit(1);
			for (j = 1; j <= ROUNDS; j++) {
				/* odd raisers offer their serials downwards:
				   a high one is written between lower ones */
				int k = i % 2 ? ROUNDS + 1 - j : j;
				int r;

				/* a lock held past its bound refuses (the
				   caller fails closed); here, try again */
				while ((r = floors_check(f, KB_RECORD_GROUP,
				    "web", 3, (uint64_t)(k * RAISERS + i),
				    1)) == KB_ERR_CACHE_BUSY)
					;
				if (r != 0 && r != KB_ERR_SIG_REPLAYED)
					_exit(2);
			}
			floors_close(f);
			_exit(0);
		}
	}
	for (i = 0; i < RAISERS; i++)
		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			failed++;
	CHECK_EQ_INT(failed, 0);
	CHECK_EQ_INT(floors_open(dir, &f), 0);
	/* the highest serial any of them offered, nothing lower */
	CHECK_EQ_INT(floors_check(f, KB_RECORD_GROUP, "web", 3,
	    ROUNDS * RAISERS + RAISERS - 1, 0), 0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_GROUP, "web", 3,
	    ROUNDS * RAISERS + RAISERS - 2, 0), KB_ERR_SIG_REPLAYED);
	floors_close(f);
}

/* A raise waits for the floors' lock, and gives up after the bound. */
static void
test_lock(const char *dir)
{
	struct kb_floors *f = NULL;
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/.floors.lock", dir);
	if ((fd = open(path, O_RDWR | O_CREAT, 0600)) == -1 ||
	    flock(fd, LOCK_EX) != 0) {
		CHECK(0);
		return;
	}
	CHECK_EQ_INT(floors_open(dir, &f), 0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "locked", 6, 3, 1),
	    KB_ERR_CACHE_BUSY);
	/* nothing was written: serial 2 is not below a floor */
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "locked", 6, 2, 0), 0);
	flock(fd, LOCK_UN);
	close(fd);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "locked", 6, 3, 1), 0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "locked", 6, 2, 0),
	    KB_ERR_SIG_REPLAYED);
	floors_close(f);
}

static void
test_files(const char *dir)
{
	struct kb_floors *f = NULL;
	char sub[256], path[512];
	int fd;

	snprintf(sub, sizeof(sub), "%s/files", dir);
	CHECK_EQ_INT(mkdir(sub, 0700), 0);
	CHECK_EQ_INT(floors_open(sub, &f), 0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k", 1, 7, 1), 0);
	floor_file(sub, path, sizeof(path));
	CHECK(path[0] != '\0');
	/* corrupt: an error, not a floor of 0 */
	if ((fd = open(path, O_WRONLY | O_TRUNC)) != -1) {
		CHECK_EQ_INT(write(fd, "07\n", 3), 3);
		close(fd);
	}
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k", 1, 9, 0),
	    KB_ERR_CACHE_CORRUPT);
	if ((fd = open(path, O_WRONLY | O_TRUNC)) != -1) {
		CHECK_EQ_INT(write(fd, "7", 1), 1);
		close(fd);
	}
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k", 1, 9, 0),
	    KB_ERR_CACHE_CORRUPT);
	/* unsafe: another mode, a second link */
	if ((fd = open(path, O_WRONLY | O_TRUNC)) != -1) {
		CHECK_EQ_INT(write(fd, "7\n", 2), 2);
		close(fd);
	}
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k", 1, 9, 0), 0);
	CHECK_EQ_INT(chmod(path, 0644), 0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k", 1, 9, 0),
	    KB_ERR_CACHE_UNSAFE);
	CHECK_EQ_INT(chmod(path, 0600), 0);
	snprintf(sub, sizeof(sub), "%s/files/link", dir);
	CHECK_EQ_INT(link(path, sub), 0);
	CHECK_EQ_INT(floors_check(f, KB_RECORD_PAIR, "k", 1, 9, 0),
	    KB_ERR_CACHE_UNSAFE);
	floors_close(f);
	/* the directory itself: missing, group-writable */
	snprintf(sub, sizeof(sub), "%s/none", dir);
	CHECK_EQ_INT(floors_open(sub, &f), KB_ERR_CACHE_MISS);
	snprintf(sub, sizeof(sub), "%s/files", dir);
	CHECK_EQ_INT(chmod(sub, 0770), 0);
	CHECK_EQ_INT(floors_open(sub, &f), KB_ERR_CACHE_UNSAFE);
	CHECK(f == NULL);
	CHECK_EQ_INT(floors_open("relative", &f), KB_ERR_INVALID_ARG);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int
main(void)
{
	char dir[] = "/tmp/kb-test-floors.XXXXXX";
	struct kb_floors *f = NULL;

	if (mkdtemp(dir) == NULL) {
		CHECK(0);
		return tap_done();
	}
	CHECK_EQ_INT(floors_open(dir, &f), 0);
	test_raise(f);
	floors_close(f);
	test_concurrent(dir);
	test_lock(dir);
	test_files(dir);
	if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return tap_done();
}
