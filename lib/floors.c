/*
 * floors.c - the highest serial seen per signed entry (floors.h).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kb.h"
#include "floors.h"
#include "safefile.h"
#include "sha256.h"

#define FLOOR_NAME_LEN	(2 + 2 * KB_SHA256_LEN)	/* "f-" + hex */
#define FLOOR_MAX_BYTES	24			/* 20 digits and "\n" */
#define FLOORS_LOCK	".floors.lock"

struct kb_floors {
	int dfd;
};

static const char hexdigits[] = "0123456789abcdef";

int
floors_open(const char *dir, struct kb_floors **fp)
{
	struct kb_floors *f = NULL;
	int fd = -1, r = KB_ERR_INTERNAL;

	*fp = NULL;
	if ((r = safefile_dir_open(dir, &fd)) != 0)
		goto out;
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	f->dfd = fd;
	fd = -1;
	*fp = f;
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	return r;
}

void
floors_close(struct kb_floors *f)
{
	if (f == NULL)
		return;
	close(f->dfd);
	free(f);
}

/* "f-" and the hex SHA-256 of "KIND\0NAME". */
static void
floor_name(enum kb_record_kind kind, const char *name, size_t namelen,
    char out[FLOOR_NAME_LEN + 1])
{
	struct kb_sha256 c;
	unsigned char md[KB_SHA256_LEN];
	const char *k = kind == KB_RECORD_GROUP ? "group" : "pair";
	size_t i;

	sha256_init(&c);
	sha256_update(&c, k, strlen(k) + 1);
	sha256_update(&c, name, namelen);
	sha256_final(&c, md);
	out[0] = 'f';
	out[1] = '-';
	for (i = 0; i < KB_SHA256_LEN; i++) {
		out[2 + 2 * i] = hexdigits[md[i] >> 4];
		out[3 + 2 * i] = hexdigits[md[i] & 0xf];
	}
	out[FLOOR_NAME_LEN] = '\0';
}

/* The floor in file name: 0 when there is none. */
static int
floor_read(struct kb_floors *f, const char *name, uint64_t *vp)
{
	struct stat st;
	char buf[FLOOR_MAX_BYTES + 1];
	uint64_t v = 0;
	ssize_t n;
	size_t i;
	int fd, r = KB_ERR_CACHE_UNSAFE;

	*vp = 0;
	if ((r = safefile_open(f->dfd, name, &fd, &st)) != 0)
		return r == KB_ERR_CACHE_MISS ? 0 : r;
	r = KB_ERR_CACHE_CORRUPT;
	do
		n = read(fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 2 || (size_t)n > FLOOR_MAX_BYTES || buf[n - 1] != '\n' ||
	    buf[0] < '1' || buf[0] > '9')
		goto out;
	for (i = 0; i < (size_t)n - 1; i++) {
		if (buf[i] < '0' || buf[i] > '9' || v > UINT64_MAX / 10 ||
		    (v == UINT64_MAX / 10 &&
		    (uint64_t)(buf[i] - '0') > UINT64_MAX % 10))
			goto out;
		v = v * 10 + (uint64_t)(buf[i] - '0');
	}
	*vp = v;
	r = 0;
 out:
	close(fd);
	return r;
}

/* Replace name with serial: temp file, fsync, rename, directory fsync. */
static int
floor_write(struct kb_floors *f, const char *name, uint64_t serial)
{
	char num[FLOOR_MAX_BYTES];

	snprintf(num, sizeof(num), "%" PRIu64 "\n", serial);
	return safefile_replace(f->dfd, name, ".ftmp-", num, strlen(num), 1,
	    NULL);
}

/* The floors' lock: a file of cache_dir's, held with flock(). */
static int
floors_lock(struct kb_floors *f, int *lfdp)
{
	struct stat st;
	int fd, r;

	*lfdp = -1;
	fd = openat(f->dfd, FLOORS_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd == -1)
		return KB_ERR_CACHE_UNSAFE;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid()) {
		close(fd);
		return KB_ERR_CACHE_UNSAFE;
	}
	if ((r = safefile_lock(fd, KB_FLOORS_LOCK_MS)) != 0) {
		close(fd);
		return r;
	}
	*lfdp = fd;
	return 0;
}

int
floors_check(struct kb_floors *f, enum kb_record_kind kind,
    const char *name, size_t namelen, uint64_t serial, int raise)
{
	char fname[FLOOR_NAME_LEN + 1];
	uint64_t floor;
	int lfd = -1, r;

	if (f == NULL || serial == 0)
		return KB_ERR_INVALID_ARG;
	floor_name(kind, name, namelen, fname);
	if ((r = floor_read(f, fname, &floor)) != 0)
		return r;
	if (serial < floor)
		return KB_ERR_SIG_REPLAYED;
	if (serial == floor || !raise)
		return 0;
	if ((r = floors_lock(f, &lfd)) != 0)
		return r;
	/* another run may have raised it since */
	if ((r = floor_read(f, fname, &floor)) == 0) {
		if (serial < floor)
			r = KB_ERR_SIG_REPLAYED;
		else if (serial > floor)
			r = floor_write(f, fname, serial);
	}
	flock(lfd, LOCK_UN);
	close(lfd);
	return r;
}
