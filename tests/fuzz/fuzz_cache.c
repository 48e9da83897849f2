/*
 * fuzz_cache.c - libFuzzer target: arbitrary bytes as a user's cache file.
 *
 * Each input becomes alice's file in a private cache_dir.  Both queries
 * (all keys, one fingerprint) consult it, then an empty answer for each
 * is recorded with the current time, which must supersede whatever the
 * file said: consulting again may serve nothing but answers stamped later
 * than that (impossible unless the input holds a stamp from the future).
 * Besides ASan/UBSan findings, it aborts when that promise breaks.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kb.h"
#include "cache.h"
#include "config.h"
#include "lookup.h"
#include "sshkey.h"

#define ED1_FP "SHA256:KI3yi8SKTQDJYmnUNyYBcldnkTLx4aaKl5mVOXuZ2RU"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kb_config cfg;
static char dir[64], path[256];
static const struct kb_query qall = { "alice", 5, "web-01", NULL };
static const struct kb_query qfp = { "alice", 5, "web-01", ED1_FP };

static void
note(void *ctx, const struct kb_note *n)
{
	(void)ctx;
	(void)n;
}

static void
cleanup(void)
{
	struct dirent *de;
	char p[512];
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* A private cache_dir, and the name cache_record gives alice's file. */
static void
setup(void)
{
	struct kb_cache *c = NULL;
	struct kb_answer *a = NULL;
	struct dirent *de;
	DIR *d;

	cfg.instance = (char *)(uintptr_t)"web-01";
	cfg.allowed_key_types = KB_KT_DEFAULT_MASK;
	cfg.min_rsa_bits = 2048;
	cfg.max_keys = 100;
	cfg.cache_ttl = 10;
	cfg.offline_max_age = 4000000000U;	/* any past stamp is served */
	snprintf(dir, sizeof(dir), "/tmp/kbfuzzcache.XXXXXX");
	if (mkdtemp(dir) == NULL || chmod(dir, 0700) != 0 ||
	    cache_open(dir, &c) != 0 || lookup_answer_new(&a) != 0 ||
	    cache_record(c, &cfg, &qall, a) != 0)
		abort();
	atexit(cleanup);
	lookup_answer_free(a);
	cache_close(c);
	if ((d = opendir(dir)) == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "u-", 2) == 0)
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
	closedir(d);
	if (path[0] == '\0')
		abort();
}

static void
plant(const uint8_t *data, size_t size)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1 || (size > 0 && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
}

/* Consult q; abort if keys are served from an answer not after t. */
static void
consult(struct kb_cache *c, const struct kb_query *q,
    const struct timespec *t, int must_be_empty)
{
	struct kb_cached cc;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	cache_consult(c, &cfg, q, &now, note, NULL, &cc);
	if (cc.answer != NULL) {
		if (must_be_empty && cc.answer->nkeys > 0 &&
		    (cc.answer->fetched.tv_sec < t->tv_sec ||
		    (cc.answer->fetched.tv_sec == t->tv_sec &&
		    cc.answer->fetched.tv_nsec <= t->tv_nsec)))
			abort();
		lookup_answer_free(cc.answer);
	}
}

/* Record an empty answer for q stamped now; returns the stamp. */
static struct timespec
record_empty(struct kb_cache *c, const struct kb_query *q)
{
	struct kb_answer *a = NULL;
	struct timespec t;

	if (lookup_answer_new(&a) != 0)
		abort();
	t = a->fetched;
	cache_record(c, &cfg, q, a);
	lookup_answer_free(a);
	return t;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_cache *c = NULL;
	struct timespec t;

	if (path[0] == '\0')
		setup();
	if (size > 65536)
		return 0;
	plant(data, size);
	if (cache_open(dir, &c) != 0)
		abort();
	consult(c, &qall, NULL, 0);
	consult(c, &qfp, NULL, 0);
	t = record_empty(c, &qfp);
	consult(c, &qfp, &t, 1);
	plant(data, size);
	t = record_empty(c, &qall);
	consult(c, &qall, &t, 1);
	consult(c, &qfp, &t, 1);
	cache_close(c);
	return 0;
}
