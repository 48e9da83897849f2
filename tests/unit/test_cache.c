/*
 * test_cache.c - the answer cache: round trip, the serving policy (fresh,
 * offline, too old, from the future), superseding (an empty answer
 * removes older keys, an older answer never replaces a newer one, a full
 * cache or a failed write never keeps a revoked key), pruning, owner/mode
 * and symlink checks, corrupt and hostile files re-parsed as untrusted,
 * and concurrent writers.
 */
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
#include "tap.h"

#define ED1 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJOvXMIRHrqGkOZpxa0VPid4H+PY7i3I9qcYK67NrqkN"
#define ED1_FP "SHA256:KI3yi8SKTQDJYmnUNyYBcldnkTLx4aaKl5mVOXuZ2RU"
#define EC1 "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGAURlMhQznmbTD2ah1isOjGrKy63UzsBPqs3fQnICQjFybkcTr7hVv7QlgSlAeS0Kw0R39SEqgBvL5DBmnLBoU="
#define EC1_FP "SHA256:W8fvKmSOXITZeBrhnkVXnJwtyfh6MLu/XlovGCRKkHk"

#define TTL	10
#define OFFLINE	3600

static struct kb_config cfg;
static char dir[64];
static size_t nnotes;
static struct timespec base;	/* "now" when the tests started */

/* fsync() calls made by lib/cache.c (this definition takes libc's place) */
static int nfsync;

int
fsync(int fd)
{
	nfsync++;
	return (int)syscall(SYS_fsync, fd);
}

/*
 * With fail_user_files set, renaming onto or removing a user file fails
 * with EROFS, as on a file system remounted read-only after an error
 * (these definitions take libc's place for lib/cache.c).
 */
static int fail_user_files;
static int nrename_user;		/* user files renamed into place */

int
renameat(int olddfd, const char *oldp, int newdfd, const char *newp)
{
	if (fail_user_files && strncmp(newp, "u-", 2) == 0) {
		errno = EROFS;
		return -1;
	}
	if (strncmp(newp, "u-", 2) == 0)
		nrename_user++;
	return (int)syscall(SYS_renameat, olddfd, oldp, newdfd, newp);
}

/* ... and the file system reports itself read-only, as it then would */
int
fstatvfs(int fd, struct statvfs *buf)
{
	memset(buf, 0, sizeof(*buf));
	if (fcntl(fd, F_GETFD) == -1)
		return -1;
	buf->f_flag = fail_user_files ? ST_RDONLY : 0;
	return 0;
}

int
unlinkat(int dfd, const char *p, int flags)
{
	if (fail_user_files && strncmp(p, "u-", 2) == 0) {
		errno = EROFS;
		return -1;
	}
	return (int)syscall(SYS_unlinkat, dfd, p, flags);
}

static const struct kb_query qall = { "alice", 5, "web-01", NULL, NULL, NULL };
static const struct kb_query qec = { "alice", 5, "web-01", EC1_FP, NULL, NULL };
static const struct kb_query qed = { "alice", 5, "web-01", ED1_FP, NULL, NULL };

static void
note(void *ctx, const struct kb_note *n)
{
	(void)ctx;
	(void)n;
	nnotes++;
}

static void
setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.instance = (char *)(uintptr_t)"web-01";
	cfg.allowed_key_types = KB_KT_DEFAULT_MASK;
	cfg.min_rsa_bits = 2048;
	cfg.max_keys = 100;
	cfg.cache_ttl = TTL;
	cfg.offline_max_age = OFFLINE;
	snprintf(dir, sizeof(dir), "/tmp/kbtestcache.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	chmod(dir, 0700);
	clock_gettime(CLOCK_REALTIME, &base);
}

/* base + ms milliseconds */
static struct timespec
at(long long ms)
{
	struct timespec t = base;
	long long ns = (long long)t.tv_nsec + (ms % 1000) * 1000000LL;

	t.tv_sec += (time_t)(ms / 1000);
	while (ns < 0) {
		ns += 1000000000LL;
		t.tv_sec--;
	}
	while (ns >= 1000000000LL) {
		ns -= 1000000000LL;
		t.tv_sec++;
	}
	t.tv_nsec = (long)ns;
	return t;
}

/* Files in dir whose name starts with prefix ("" for all but . and ..),
   removed if remove is set. */
static size_t
walk_files(const char *prefix, int remove)
{
	DIR *d;
	struct dirent *de;
	char p[512];
	size_t n = 0;

	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0 ||
			    strncmp(de->d_name, prefix, strlen(prefix)) != 0)
				continue;
			n++;
			if (!remove)
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	return n;
}

static void
cleanup_files(void)
{
	(void)walk_files("", 1);
}

static size_t
count_files(const char *prefix)
{
	return walk_files(prefix, 0);
}

/* The single u-* file in dir. */
static void
cache_file(char *out, size_t outlen)
{
	DIR *d;
	struct dirent *de;

	out[0] = '\0';
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "u-", 2) == 0)
			snprintf(out, outlen, "%s/%s", dir, de->d_name);
	closedir(d);
}

static void
write_file(const char *path, const char *content, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd == -1 || write(fd, content, strlen(content)) !=
	    (ssize_t)strlen(content)) {
		perror(path);
		exit(1);
	}
	fchmod(fd, mode);
	close(fd);
}

/* An answer for q holding the given keys (NULL-terminated), stamped. */
static struct kb_answer *
answer(const struct kb_query *q, struct timespec stamp, const char *k1,
    const char *k2)
{
	struct kb_answer *a = NULL;

	lookup_answer_new(&a);
	if (k1 != NULL)
		lookup_add_key(&cfg, q, time(NULL), "k1", 2, k1, strlen(k1),
		    "restrict,command=\"echo hi\"", 26, "20991231235959Z", 15,
		    note, NULL, a);
	if (k2 != NULL)
		lookup_add_key(&cfg, q, time(NULL), "k2", 2, k2, strlen(k2),
		    NULL, 0, NULL, 0, note, NULL, a);
	a->fetched = stamp;
	return a;
}

/* Record an answer for q with the given keys and stamp. */
static int
record(const struct kb_query *q, struct timespec stamp, const char *k1,
    const char *k2)
{
	struct kb_cache *c = NULL;
	struct kb_answer *a;
	int r;

	if (cache_open(dir, &c) != 0)
		return -1000;
	a = answer(q, stamp, k1, k2);
	r = cache_record(c, &cfg, q, a);
	lookup_answer_free(a);
	cache_close(c);
	return r;
}

/* Consult for q at now; the number of keys served, -1 if nothing is. */
static int
served(const struct kb_query *q, struct timespec now,
    enum kb_cache_state *statep)
{
	struct kb_cache *c = NULL;
	struct kb_cached cc;
	int n = -1;

	if (cache_open(dir, &c) != 0)
		return -1000;
	if (cache_consult(c, &cfg, q, &now, note, NULL, &cc) == 0 &&
	    cc.answer != NULL)
		n = (int)cc.answer->nkeys;
	if (statep != NULL)
		*statep = cc.state;
	lookup_answer_free(cc.answer);
	cache_close(c);
	return n;
}

static void
test_round_trip(void)
{
	struct kb_cache *c = NULL;
	struct kb_answer *a;
	struct kb_cached cc;
	struct kb_query other = { "bob", 3, "web-01", NULL, NULL, NULL };
	struct kb_query elsewhere = { "alice", 5, "web-02", NULL, NULL, NULL };
	struct timespec now = at(1000);

	cleanup_files();
	CHECK_EQ_INT(cache_open(dir, &c), 0);
	a = answer(&qall, at(0), ED1, EC1);
	CHECK_EQ_INT(a->nkeys, 2);
	CHECK_EQ_INT(cache_record(c, &cfg, &qall, a), 0);
	CHECK_EQ_INT(count_files("u-"), 1);
	CHECK_EQ_INT(cache_consult(c, &cfg, &qall, &now, note, NULL, &cc), 0);
	CHECK_EQ_INT(cc.state, KB_CACHE_FRESH);
	CHECK_EQ_INT(cc.age_ms, 1000);
	CHECK(cc.answer != NULL);
	if (cc.answer != NULL) {
		CHECK_EQ_INT(cc.answer->nkeys, 2);
		CHECK_EQ_INT(cc.answer->fetched.tv_sec, base.tv_sec);
		CHECK_EQ_INT(cc.answer->fetched.tv_nsec, base.tv_nsec);
		CHECK_EQ_STR(cc.answer->keys[0].line, a->keys[0].line);
		CHECK_EQ_STR(cc.answer->keys[1].line, a->keys[1].line);
		CHECK_EQ_STR(cc.answer->keys[0].line,
		    "restrict,command=\"echo hi\","
		    "expiry-time=\"20991231235959Z\" " ED1 " keybound:k1");
	}
	lookup_answer_free(cc.answer);
	/* other users and instances do not see it */
	CHECK_EQ_INT(served(&other, now, NULL), -1);
	CHECK_EQ_INT(served(&elsewhere, now, NULL), -1);
	/* a fingerprint query reads the all-keys answer, filtered */
	CHECK_EQ_INT(served(&qec, now, NULL), 1);
	CHECK_EQ_INT(cache_consult(c, &cfg, &qec, &now, note, NULL, &cc), 0);
	if (cc.answer != NULL && cc.answer->nkeys == 1)
		CHECK_EQ_STR(cc.answer->keys[0].fingerprint, EC1_FP);
	lookup_answer_free(cc.answer);
	/* policy is applied again at load time */
	cfg.allowed_key_types = KB_KT_ED25519;
	CHECK_EQ_INT(served(&qall, now, NULL), 1);
	cfg.allowed_key_types = KB_KT_DEFAULT_MASK;
	/* an empty answer ("nothing attached") round-trips too */
	lookup_answer_free(a);
	a = answer(&other, at(0), NULL, NULL);
	CHECK_EQ_INT(cache_record(c, &cfg, &other, a), 0);
	CHECK_EQ_INT(served(&other, now, NULL), 0);
	lookup_answer_free(a);
	cache_close(c);
	/* no temporary file is left behind */
	CHECK_EQ_INT(count_files(".tmp-"), 0);
}

static void
test_ages(void)
{
	enum kb_cache_state st;

	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(0), ED1, NULL), 0);
	CHECK_EQ_INT(served(&qall, at(TTL * 1000 - 1), &st), 1);
	CHECK_EQ_INT(st, KB_CACHE_FRESH);
	CHECK_EQ_INT(served(&qall, at(TTL * 1000), &st), 1);
	CHECK_EQ_INT(st, KB_CACHE_OFFLINE);
	CHECK_EQ_INT(served(&qall, at(OFFLINE * 1000LL), &st), 1);
	CHECK_EQ_INT(st, KB_CACHE_OFFLINE);
	CHECK_EQ_INT(served(&qall, at(OFFLINE * 1000LL + 1), &st), -1);
	CHECK_EQ_INT(st, KB_CACHE_TOO_OLD);
	/* a clock set back: a stamp more than a second ahead is ignored */
	CHECK_EQ_INT(served(&qall, at(-500), &st), 1);
	CHECK_EQ_INT(st, KB_CACHE_FRESH);
	CHECK_EQ_INT(served(&qall, at(-1001), &st), -1);
	CHECK_EQ_INT(st, KB_CACHE_FUTURE);
	/* cache_ttl 0: always ask, offline still */
	cfg.cache_ttl = 0;
	CHECK_EQ_INT(served(&qall, at(0), &st), 1);
	CHECK_EQ_INT(st, KB_CACHE_OFFLINE);
	/* offline_max_age 0: never offline */
	cfg.cache_ttl = TTL;
	cfg.offline_max_age = 0;
	CHECK_EQ_INT(served(&qall, at(TTL * 1000), &st), -1);
	CHECK_EQ_INT(st, KB_CACHE_TOO_OLD);
	cfg.offline_max_age = OFFLINE;
	/* expiry is evaluated again at load time */
	cfg.cache_ttl = 4000000000U;
	CHECK_EQ_INT(record(&qall, at(1), ED1, EC1), 0);
	CHECK_EQ_INT(served(&qall, at((4102444800LL + 86400 -
	    base.tv_sec) * 1000), NULL), 1);
	cfg.cache_ttl = TTL;
}

/*
 * cache_consult_fresh(): the same states, but an answer usable only
 * offline is not built (its keys are checked when it is needed).
 */
static void
test_consult_fresh(void)
{
	struct kb_cache *c = NULL;
	struct kb_cached cc;
	struct timespec now;

	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(0), ED1, EC1), 0);
	CHECK_EQ_INT(cache_open(dir, &c), 0);
	now = at(TTL * 1000 - 1);
	CHECK_EQ_INT(cache_consult_fresh(c, &cfg, &qall, &now, note, NULL,
	    &cc), 0);
	CHECK_EQ_INT(cc.state, KB_CACHE_FRESH);
	CHECK(cc.answer != NULL && cc.answer->nkeys == 2);
	lookup_answer_free(cc.answer);
	now = at(TTL * 1000);
	CHECK_EQ_INT(cache_consult_fresh(c, &cfg, &qall, &now, note, NULL,
	    &cc), 0);
	CHECK_EQ_INT(cc.state, KB_CACHE_OFFLINE);
	CHECK(cc.answer == NULL);
	CHECK_EQ_INT(cc.age_ms, TTL * 1000);
	/* built when asked for */
	CHECK_EQ_INT(cache_consult(c, &cfg, &qall, &now, note, NULL, &cc), 0);
	CHECK_EQ_INT(cc.state, KB_CACHE_OFFLINE);
	CHECK(cc.answer != NULL && cc.answer->nkeys == 2);
	lookup_answer_free(cc.answer);
	now = at(OFFLINE * 1000LL + 1);
	CHECK_EQ_INT(cache_consult_fresh(c, &cfg, &qall, &now, note, NULL,
	    &cc), 0);
	CHECK_EQ_INT(cc.state, KB_CACHE_TOO_OLD);
	CHECK(cc.answer == NULL);
	cache_close(c);
}

/* An empty answer for the user removes every older key for that user. */
static void
test_empty_supersedes(void)
{
	enum kb_cache_state st;

	/* USER FP answers, then an empty USER answer */
	cleanup_files();
	CHECK_EQ_INT(record(&qec, at(0), EC1, NULL), 0);
	CHECK_EQ_INT(record(&qed, at(1), ED1, NULL), 0);
	CHECK_EQ_INT(served(&qec, at(10), NULL), 1);
	CHECK_EQ_INT(record(&qall, at(2), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qec, at(10), &st), 0);
	CHECK_EQ_INT(st, KB_CACHE_FRESH);
	CHECK_EQ_INT(served(&qed, at(10), NULL), 0);
	CHECK_EQ_INT(served(&qall, at(10), NULL), 0);
	/* and offline too */
	CHECK_EQ_INT(served(&qec, at(TTL * 1000 + 10), &st), 0);
	CHECK_EQ_INT(st, KB_CACHE_OFFLINE);

	/* a USER answer, then an empty USER FP answer */
	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(0), ED1, EC1), 0);
	CHECK_EQ_INT(record(&qec, at(1), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qec, at(10), NULL), 0);
	CHECK_EQ_INT(served(&qall, at(10), NULL), 1);
	CHECK_EQ_INT(served(&qed, at(10), NULL), 1);
	CHECK_EQ_INT(served(&qec, at(TTL * 1000 + 10), NULL), 0);

	/* a USER FP answer, then an empty USER FP answer for that key */
	cleanup_files();
	CHECK_EQ_INT(record(&qec, at(0), EC1, NULL), 0);
	CHECK_EQ_INT(record(&qec, at(1), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qec, at(10), NULL), -1);
	/* what is left is the file's floor: no answer, no key */
	CHECK_EQ_INT(count_files("u-"), 1);
	CHECK_EQ_INT(served(&qall, at(10), NULL), -1);

	/* a USER answer without the key supersedes an older USER FP one */
	cleanup_files();
	CHECK_EQ_INT(record(&qec, at(0), EC1, NULL), 0);
	CHECK_EQ_INT(record(&qall, at(1), ED1, NULL), 0);
	CHECK_EQ_INT(served(&qec, at(10), NULL), 0);
	CHECK_EQ_INT(served(&qed, at(10), NULL), 1);

	/* an empty USER FP answer never creates a file */
	cleanup_files();
	CHECK_EQ_INT(record(&qec, at(0), NULL, NULL), 0);
	CHECK_EQ_INT(count_files("u-"), 0);
}

/* Answers are ordered by their sub-second stamps, not by arrival. */
static void
test_order(void)
{
	/* within one second, the later stamp wins, whatever came last */
	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(200), NULL, NULL), 0);
	CHECK_EQ_INT(record(&qall, at(100), ED1, EC1), 0);
	CHECK_EQ_INT(served(&qall, at(300), NULL), 0);
	CHECK_EQ_INT(record(&qec, at(150), EC1, NULL), 0);
	CHECK_EQ_INT(served(&qec, at(300), NULL), 0);
	CHECK_EQ_INT(record(&qall, at(250), ED1, NULL), 0);
	CHECK_EQ_INT(served(&qall, at(300), NULL), 1);
	/* a fingerprint answer newer than the all-keys one speaks for it */
	CHECK_EQ_INT(record(&qec, at(260), EC1, NULL), 0);
	CHECK_EQ_INT(served(&qec, at(300), NULL), 1);
	CHECK_EQ_INT(record(&qec, at(255), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qec, at(300), NULL), 1);
	CHECK_EQ_INT(record(&qec, at(270), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qec, at(300), NULL), 0);
	/* equal stamps: the answer granting less speaks */
	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(0), ED1, NULL), 0);
	CHECK_EQ_INT(record(&qed, at(0), ED1, NULL), 0);
	CHECK_EQ_INT(record(&qall, at(0), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qed, at(10), NULL), 0);
}

/*
 * Answers stored before the clock was set back must not outlive a detach
 * recorded after it: the next answer drops them.
 */
static void
test_clock_set_back(void)
{
	struct timespec now = at(0);
	enum kb_cache_state st;

	cleanup_files();
	/* stored while the clock ran an hour ahead */
	CHECK_EQ_INT(record(&qall, at(3600 * 1000LL), ED1, NULL), 0);
	CHECK_EQ_INT(served(&qall, now, &st), -1);
	CHECK_EQ_INT(st, KB_CACHE_FUTURE);
	/* the clock is right again; the directory says nothing is attached */
	CHECK_EQ_INT(record(&qall, at(10), NULL, NULL), 0);
	/* an hour later, the old answer does not come back */
	CHECK_EQ_INT(served(&qall, at(3600 * 1000LL + 5), NULL), 0);
	CHECK_EQ_INT(served(&qed, at(3600 * 1000LL + 5), NULL), 0);

	/* the same for a fingerprint answer */
	cleanup_files();
	CHECK_EQ_INT(record(&qec, at(3600 * 1000LL), EC1, NULL), 0);
	CHECK_EQ_INT(record(&qall, at(10), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qec, at(3600 * 1000LL + 5), NULL), 0);
	cleanup_files();
	CHECK_EQ_INT(record(&qec, at(3600 * 1000LL), EC1, NULL), 0);
	CHECK_EQ_INT(record(&qec, at(10), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qec, at(3600 * 1000LL + 5), NULL), -1);
}

/* Concurrent writers with shuffled stamps: the newest answer survives. */
static void
test_concurrent(void)
{
	enum { WRITERS = 24 };
	pid_t pids[WRITERS];
	int i, st, bad = 0;

	cleanup_files();
	for (i = 0; i < WRITERS; i++) {
		/* stamps 0..23 ms written in a scrambled order */
		int ms = (i * 7) % WRITERS;

		if ((pids[i] = fork()) == 0) {
			int r = record(&qall, at(ms), ms % 2 ? ED1 : NULL,
			    NULL);

			_exit(r == 0 ? 0 : 1);
		}
	}
	for (i = 0; i < WRITERS; i++)
		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			bad++;
	CHECK_EQ_INT(bad, 0);
	/* 23 ms is the newest and has a key; 22 ms had none */
	CHECK_EQ_INT(served(&qall, at(100), NULL), 1);
	CHECK_EQ_INT(record(&qall, at(22), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qall, at(100), NULL), 1);
	CHECK_EQ_INT(record(&qall, at(24), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qall, at(100), NULL), 0);
	CHECK_EQ_INT(count_files(".tmp-"), 0);
}

/* Write content as alice's file and consult it; returns cache_consult's
   result, *np the keys served or -1. */
static int
consult_planted(const char *content, mode_t mode, int *np)
{
	struct kb_cache *c = NULL;
	struct kb_cached cc;
	struct timespec now = at(1000);
	char path[512];
	int r;

	*np = -1;
	cleanup_files();
	if (record(&qall, at(0), ED1, EC1) != 0)
		return -1000;
	cache_file(path, sizeof(path));
	if (content != NULL)
		write_file(path, content, mode);
	else
		chmod(path, mode);
	if (cache_open(dir, &c) != 0)
		return -1000;
	nnotes = 0;
	r = cache_consult(c, &cfg, &qall, &now, note, NULL, &cc);
	if (cc.answer != NULL)
		*np = (int)cc.answer->nkeys;
	lookup_answer_free(cc.answer);
	cache_close(c);
	return r;
}

#define HDR "keybound-cache 2\nuser 616c696365\ninstance web-01\n"
#define ANS(n) "answer * 4102444000.000000000 " #n "\n"

static void
test_planted(void)
{
	static const char *const corrupt[] = {
		"",
		"garbage\n",
		HDR,
		HDR "end 1\n",
		HDR "end 0\nextra\n",
		HDR "end 0",
		HDR "end x\n",
		HDR "end 00\n",
		HDR ANS(1) "end 1\n",
		HDR ANS(0) "end 2\n",
		HDR ANS(0) ANS(0) "end 2\n",
		HDR ANS(1) "key " ED1_FP " k1 " ED1 " - -\nend 2\n",
		HDR ANS(1) "key " ED1_FP " k1 " ED1 " zz -\nend 1\n",
		HDR ANS(1) "key " ED1_FP " k1 " ED1 " 7\nend 1\n",
		HDR ANS(1) "key " ED1_FP " k1 ssh-ed25519 - -\nend 1\n",
		HDR ANS(1) "key " ED1_FP " k1  " ED1 " - -\nend 1\n",
		HDR ANS(1) "key " ED1_FP " k1 " ED1 " 00 -\nend 1\n",
		HDR ANS(999999) "end 1\n",
		HDR "answer * 4102444000.00000000 0\nend 1\n",
		HDR "answer * -5.000000000 0\nend 1\n",
		HDR "answer * 8589934592.000000000 0\nend 1\n",
		HDR "answer * 99999999999999999.000000000 0\nend 1\n",
		HDR "answer x 4102444000.000000000 0\nend 1\n",
		HDR "touch *\nend 0\n",
		HDR "touch " EC1_FP "\n" ANS(0) "end 1\n",
		HDR "touch x\n" ANS(0) "end 1\n",
		HDR "touch *\ntouch *\n" ANS(0) "end 1\n",
		HDR ANS(0) "touch *\nend 1\n",
		"keybound-cache 1\nuser 616c696365\ninstance web-01\n"
		    "fingerprint *\nfetched 1\nend 0\n",
	};
	char buf[1024];
	size_t i;
	int n;

	for (i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
		CHECK_EQ_INT(consult_planted(corrupt[i], 0600, &n),
		    KB_ERR_CACHE_CORRUPT);
		CHECK_EQ_INT(n, -1);
	}
	/* the stored fingerprint must be the key's */
	snprintf(buf, sizeof(buf), HDR "answer * %lld.000000000 1\n"
	    "key " EC1_FP " k1 " ED1 " - -\nend 1\n", (long long)base.tv_sec);
	CHECK_EQ_INT(consult_planted(buf, 0600, &n), KB_ERR_CACHE_CORRUPT);
	CHECK_EQ_INT(n, -1);
	snprintf(buf, sizeof(buf), HDR "answer * %lld.000000000 1\n"
	    "key " ED1_FP " k1 " ED1 " - -\nend 1\n", (long long)base.tv_sec);
	CHECK_EQ_INT(consult_planted(buf, 0600, &n), 0);
	CHECK_EQ_INT(n, 1);
	/* the stored query must match: another user's answer in our file */
	CHECK_EQ_INT(consult_planted("keybound-cache 2\nuser 626f62\n"
	    "instance web-01\n" ANS(0) "end 1\n", 0600, &n), 0);
	CHECK_EQ_INT(n, -1);
	CHECK_EQ_INT(consult_planted("keybound-cache 2\nuser 616c696365\n"
	    "instance web-02\n" ANS(0) "end 1\n", 0600, &n), 0);
	CHECK_EQ_INT(n, -1);
	/* hostile content is parsed like a directory value: skipped */
	cfg.cache_ttl = 4000000000U;
	CHECK_EQ_INT(consult_planted(HDR "answer * 1.000000000 5\n"
	    "key " ED1_FP " k1 " ED1 " 636f6d6d616e643d222f62696e2f7368220a -\n"
	    "key " EC1_FP " k2 " EC1 " - 19990101000000Z\n"
	    "key " ED1_FP " 9x " ED1 " - -\n"
	    "key " ED1_FP " k4 ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIJOvXMIRHrqGkOZpxa0VPid4H+PY7i3I9qcYK67NrqkN - -\n"
	    "key " ED1_FP " k5 " ED1 " 656e7669726f6e6d656e743d22413d6222 -\n"
	    "end 1\n", 0600, &n), 0);
	CHECK_EQ_INT(n, 1);
	cfg.cache_ttl = TTL;
	/* owner and mode */
	CHECK_EQ_INT(consult_planted(NULL, 0644, &n), KB_ERR_CACHE_UNSAFE);
	CHECK_EQ_INT(consult_planted(NULL, 0640, &n), KB_ERR_CACHE_UNSAFE);
	CHECK_EQ_INT(consult_planted(NULL, 0400, &n), KB_ERR_CACHE_UNSAFE);
	CHECK_EQ_INT(n, -1);
	CHECK_EQ_INT(consult_planted(NULL, 0600, &n), 0);
	CHECK_EQ_INT(n, 2);
	/* a corrupt file is replaced by the next answer */
	CHECK_EQ_INT(consult_planted("garbage\n", 0600, &n),
	    KB_ERR_CACHE_CORRUPT);
	CHECK_EQ_INT(record(&qall, at(5), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qall, at(10), NULL), 0);
}

static void
test_symlink_and_dir(void)
{
	struct kb_cache *c = NULL;
	char path[512], stash[512], dirlink[600];

	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(0), ED1, EC1), 0);
	cache_file(path, sizeof(path));
	snprintf(stash, sizeof(stash), "%s/stash", dir);
	CHECK_EQ_INT(rename(path, stash), 0);
	CHECK_EQ_INT(symlink("stash", path), 0);
	CHECK_EQ_INT(served(&qall, at(10), NULL), -1);
	unlink(path);
	CHECK_EQ_INT(mkfifo(path, 0600), 0);
	CHECK_EQ_INT(served(&qall, at(10), NULL), -1);
	unlink(path);
	CHECK_EQ_INT(link(stash, path), 0);
	CHECK_EQ_INT(served(&qall, at(10), NULL), -1);
	/* a hard link in place is replaced, never written through */
	CHECK_EQ_INT(record(&qall, at(20), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qall, at(30), NULL), 0);
	unlink(path);
	unlink(stash);

	/* the directory itself */
	chmod(dir, 0770);
	CHECK_EQ_INT(cache_open(dir, &c), KB_ERR_CACHE_UNSAFE);
	chmod(dir, 0702);
	CHECK_EQ_INT(cache_open(dir, &c), KB_ERR_CACHE_UNSAFE);
	chmod(dir, 0755);
	CHECK_EQ_INT(cache_open(dir, &c), 0);
	cache_close(c);
	c = NULL;
	chmod(dir, 0700);
	snprintf(dirlink, sizeof(dirlink), "%s.link", dir);
	CHECK_EQ_INT(symlink(dir, dirlink), 0);
	CHECK_EQ_INT(cache_open(dirlink, &c), KB_ERR_CACHE_UNSAFE);
	unlink(dirlink);
	CHECK_EQ_INT(cache_open("/nonexistent/kbcache", &c),
	    KB_ERR_CACHE_MISS);
	CHECK_EQ_INT(cache_open("relative", &c), KB_ERR_INVALID_ARG);
	if (geteuid() == 0) {
		/* owned by someone else */
		CHECK_EQ_INT(chown(dir, 1, 1), 0);
		CHECK_EQ_INT(cache_open(dir, &c), KB_ERR_CACHE_UNSAFE);
		CHECK_EQ_INT(chown(dir, 0, 0), 0);
	}
	CHECK(c == NULL);
}

/* Create n user files named u-<filler><hex>, with mtime age seconds ago. */
static void
fill(size_t n, const char *tag, time_t age)
{
	struct timespec ts[2];
	char name[512];
	size_t i;
	int fd;

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	for (i = 0; i < n; i++) {
		/* "u-" and 64 characters, like a real user file */
		snprintf(name, sizeof(name), "%s/u-%s%0*zx", dir, tag,
		    (int)(64 - strlen(tag)), i);
		fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd == -1)
			break;
		futimens(fd, ts);
		close(fd);
	}
}

/* Empty answers stop creating files at KB_CACHE_MAX_FILES; replacing and
   removing never stop. */
static void
test_full(void)
{
	struct kb_query madeup = { "made-up", 7, "web-01", NULL, NULL, NULL };
	struct kb_query madeup2 = { "made-up-2", 9, "web-01", NULL, NULL, NULL };

	cleanup_files();
	CHECK_EQ_INT(record(&madeup, at(0), NULL, NULL), 0);
	CHECK_EQ_INT(record(&qall, at(0), ED1, EC1), 0);
	CHECK_EQ_INT(record(&qec, at(1), EC1, NULL), 0);
	fill(KB_CACHE_MAX_FILES - 2, "f", 0);
	CHECK_EQ_INT(count_files("u-"), KB_CACHE_MAX_FILES);
	/* full: another made-up name is not stored */
	CHECK_EQ_INT(record(&madeup2, at(2), NULL, NULL), KB_ERR_CACHE_FULL);
	CHECK_EQ_INT(served(&madeup2, at(10), NULL), -1);
	CHECK_EQ_INT(count_files("u-"), KB_CACHE_MAX_FILES);
	/* a known user's answer is still replaced, and removes keys */
	CHECK_EQ_INT(record(&qec, at(3), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qec, at(10), NULL), 0);
	CHECK_EQ_INT(served(&qall, at(10), NULL), 1);
	CHECK_EQ_INT(record(&qall, at(4), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qall, at(10), NULL), 0);
	CHECK_EQ_INT(served(&qed, at(10), NULL), 0);
	/* an answer with keys is still stored */
	CHECK_EQ_INT(record(&madeup2, at(5), ED1, NULL), 0);
	CHECK_EQ_INT(served(&madeup2, at(10), NULL), 1);

	/* old files do not hold the cache full: they are pruned */
	cleanup_files();
	fill(KB_CACHE_MAX_FILES, "o", OFFLINE + 10);
	CHECK_EQ_INT(record(&madeup2, at(6), NULL, NULL), 0);
	CHECK_EQ_INT(served(&madeup2, at(10), NULL), 0);
	CHECK_EQ_INT(count_files("u-"), 1);
}

static void
test_prune(void)
{
	struct kb_cache *c = NULL;
	char p[512];

	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(0), ED1, NULL), 0);
	fill(3, "old", OFFLINE + 5);
	fill(2, "new", OFFLINE - 100);
	snprintf(p, sizeof(p), "%s/.tmp-0011223344556677", dir);
	write_file(p, "half", 0600);
	snprintf(p, sizeof(p), "%s/a-%064d", dir, 0);
	write_file(p, "keybound-cache 1\n", 0600);
	snprintf(p, sizeof(p), "%s/unrelated", dir);
	write_file(p, "x", 0600);
	CHECK_EQ_INT(cache_open(dir, &c), 0);
	CHECK_EQ_INT(cache_prune(c, &cfg), 0);
	cache_close(c);
	CHECK_EQ_INT(count_files("u-old"), 0);
	CHECK_EQ_INT(count_files("u-new"), 2);
	CHECK_EQ_INT(count_files(".tmp-"), 0);
	CHECK_EQ_INT(count_files("a-"), 0);
	CHECK_EQ_INT(count_files("unrelated"), 1);
	CHECK_EQ_INT(served(&qall, at(10), NULL), 1);
	/* recording prunes when a pass is due (no marker: due) */
	snprintf(p, sizeof(p), "%s/.pruned", dir);
	unlink(p);
	fill(3, "old", OFFLINE + 5);
	CHECK_EQ_INT(record(&qec, at(20), EC1, NULL), 0);
	CHECK_EQ_INT(count_files("u-old"), 0);
	/* answers too old to serve are dropped from a file on rewrite */
	cleanup_files();
	CHECK_EQ_INT(record(&qec, at(-(OFFLINE + 5) * 1000LL), EC1, NULL), 0);
	CHECK_EQ_INT(count_files("u-"), 0);
}

/* A write that fails (full disk) forgets the older answer. */
static void
test_write_fails(void)
{
	struct rlimit old, small = { 16, 16 };

	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(0), ED1, EC1), 0);
	CHECK_EQ_INT(served(&qall, at(10), NULL), 2);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	small.rlim_max = old.rlim_max;
	setrlimit(RLIMIT_FSIZE, &small);
	CHECK(record(&qall, at(5), NULL, NULL) != 0);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	CHECK_EQ_INT(served(&qall, at(10), NULL), -1);
	CHECK_EQ_INT(served(&qec, at(10), NULL), -1);
	CHECK_EQ_INT(count_files("u-"), 0);
	CHECK_EQ_INT(count_files(".tmp-"), 0);
}

/*
 * The promise: once a lookup that reached the directory after a detach
 * has been recorded, the detached key is never served again, whatever
 * the order in which concurrent runs finish.  Here a run that asked the
 * directory before the detach (stamp 5 ms) finishes after a run that
 * asked after it (7 ms) and was told the key is gone.  Past cache_ttl,
 * with the directory down, the offline answer must not hold the key.
 */
#define AFTER_TTL	(7 + TTL * 1000LL + 100)

static void
test_late_older_answer_after_empty_fp(void)
{
	enum kb_cache_state st;

	/* no file yet: the empty USER FP answer leaves no trace */
	cleanup_files();
	CHECK_EQ_INT(record(&qed, at(7), NULL, NULL), 0);
	CHECK_EQ_INT(record(&qall, at(5), ED1, EC1), 0);
	CHECK(served(&qed, at(AFTER_TTL), &st) <= 0);
	CHECK(served(&qall, at(AFTER_TTL), &st) <= 1);

	/* an older all-keys answer on file: the key is dropped from it,
	   then a newer (still pre-detach) all-keys answer brings it back */
	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(0), ED1, EC1), 0);
	CHECK_EQ_INT(record(&qed, at(7), NULL, NULL), 0);
	CHECK_EQ_INT(served(&qed, at(10), NULL), 0);
	CHECK_EQ_INT(record(&qall, at(5), ED1, EC1), 0);
	CHECK(served(&qed, at(AFTER_TTL), &st) <= 0);
	CHECK(served(&qall, at(AFTER_TTL), &st) <= 1);

	/* the same with a late USER FP answer */
	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(0), ED1, EC1), 0);
	CHECK_EQ_INT(record(&qed, at(7), NULL, NULL), 0);
	CHECK_EQ_INT(record(&qed, at(5), ED1, NULL), 0);
	CHECK(served(&qed, at(AFTER_TTL), &st) <= 0);
}

/*
 * A full cache_dir: the empty all-keys answer (7 ms) of a user with no
 * file is not stored, then an older answer (5 ms) holding the key is.
 */
static void
test_full_then_older_answer(void)
{
	enum kb_cache_state st;

	cleanup_files();
	fill(KB_CACHE_MAX_FILES, "f", 0);
	CHECK_EQ_INT(record(&qall, at(7), NULL, NULL), KB_ERR_CACHE_FULL);
	CHECK_EQ_INT(record(&qall, at(5), ED1, NULL), 0);
	CHECK(served(&qall, at(AFTER_TTL), &st) <= 0);
	CHECK(served(&qed, at(AFTER_TTL), &st) <= 0);
	cleanup_files();
}

/*
 * Another writer holds the lock past KB_CACHE_LOCK_MS (a slow disk, a
 * pruning pass, many runs at once): the directory's empty answer is not
 * recorded and the older file, which still grants the key, is kept.
 */
static void
test_lock_busy_keeps_revoked(void)
{
	enum kb_cache_state st;
	int fd;

	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(0), ED1, NULL), 0);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd != -1 && flock(fd, LOCK_EX) == 0);
	CHECK_EQ_INT(record(&qall, at(7), NULL, NULL), KB_ERR_CACHE_BUSY);
	if (fd != -1)
		close(fd);
	CHECK(served(&qall, at(AFTER_TTL), &st) <= 0);
	CHECK(served(&qed, at(AFTER_TTL), &st) <= 0);
}

/*
 * A write is synced only when it takes an (answer, key) pair away.  An
 * answer that keeps the key but restricts it (options added, an expiry
 * brought forward) grants less too: lost to a crash, the older file
 * comes back and serves the key unrestricted, offline, after a lookup
 * reached the directory.
 */
static void
test_narrowing_is_durable(void)
{
	struct kb_cache *c = NULL;
	struct kb_answer *a;

	/* ED1 with no options and no expiry, then with restrict,command= */
	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(0), NULL, ED1), 0);
	nfsync = 0;
	CHECK_EQ_INT(record(&qall, at(5), ED1, NULL), 0);
	CHECK(nfsync >= 2);

	/* the same key and options, the expiry brought forward */
	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(0), ED1, NULL), 0);
	CHECK_EQ_INT(cache_open(dir, &c), 0);
	lookup_answer_new(&a);
	lookup_add_key(&cfg, &qall, time(NULL), "k1", 2, ED1, strlen(ED1),
	    "restrict,command=\"echo hi\"", 26, "20300101000000Z", 15, note,
	    NULL, a);
	CHECK_EQ_INT(a->nkeys, 1);
	a->fetched = at(5);
	nfsync = 0;
	CHECK_EQ_INT(cache_record(c, &cfg, &qall, a), 0);
	CHECK(nfsync >= 2);
	lookup_answer_free(a);
	cache_close(c);
	/* the counter sees the syncs of a write that removes the key */
	nfsync = 0;
	CHECK_EQ_INT(record(&qall, at(6), NULL, NULL), 0);
	CHECK(nfsync >= 2);
}

/*
 * The file system holding cache_dir turns read-only: the empty answer can
 * neither replace the user's file nor remove it, and the file, which
 * still grants the key, keeps being served offline.
 */
static void
test_readonly_keeps_revoked(void)
{
	enum kb_cache_state st;

	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(0), ED1, NULL), 0);
	fail_user_files = 1;
	CHECK(record(&qall, at(7), NULL, NULL) != 0);
	CHECK(served(&qall, at(AFTER_TTL), &st) <= 0);
	CHECK(served(&qed, at(AFTER_TTL), &st) <= 0);
	fail_user_files = 0;
	CHECK_EQ_INT(count_files(".tmp-"), 0);
}

/*
 * Equal stamps (a coarse CLOCK_REALTIME, or two runs in one tick): the
 * policy is that the answer granting less speaks, but merge_all() lets
 * the last writer replace an all-keys answer of the same stamp.
 */
static void
test_tie_last_writer(void)
{
	cleanup_files();
	CHECK_EQ_INT(record(&qall, at(5), NULL, NULL), 0);
	CHECK_EQ_INT(record(&qall, at(5), ED1, NULL), 0);
	CHECK_EQ_INT(served(&qall, at(10), NULL), 0);
	CHECK_EQ_INT(served(&qed, at(10), NULL), 0);
}

/*
 * The same answer again is not rewritten: the file's modification time
 * carries the new stamp (the answer stays fresh for cache_ttl from it);
 * any change, and any answer other than the newest, is written out.
 */
static void
test_repeat_not_rewritten(void)
{
	/* every stamp in the past: a future one would be dropped */
#define ago(ms)	at((ms) - 60000)
	char path[600];
	struct stat st, st2;
	enum kb_cache_state state;
	int before;

	cleanup_files();
	nrename_user = 0;
	CHECK_EQ_INT(record(&qall, ago(0), ED1, EC1), 0);
	CHECK_EQ_INT(nrename_user, 1);
	cache_file(path, sizeof(path));
	CHECK_EQ_INT(stat(path, &st), 0);
	CHECK_EQ_INT(st.st_mtim.tv_sec, ago(0).tv_sec);
	CHECK_EQ_INT(st.st_mtim.tv_nsec, ago(0).tv_nsec);

	/* the same answer: no new file, the stamp in the mtime */
	CHECK_EQ_INT(record(&qall, ago(TTL * 1000LL - 500), ED1, EC1), 0);
	CHECK_EQ_INT(nrename_user, 1);
	CHECK_EQ_INT(stat(path, &st2), 0);
	CHECK_EQ_INT(st2.st_ino, st.st_ino);
	CHECK_EQ_INT(st2.st_mtim.tv_sec, ago(TTL * 1000LL - 500).tv_sec);
	/* fresh for cache_ttl from the new stamp, not the written one */
	CHECK_EQ_INT(served(&qall, ago(TTL * 1000LL + 1000), &state), 2);
	CHECK_EQ_INT(state, KB_CACHE_FRESH);
	CHECK_EQ_INT(served(&qall, ago(2 * TTL * 1000LL), &state), 2);
	CHECK(state != KB_CACHE_FRESH);

	/* an older answer than the file's: nothing written at all */
	before = nfsync;
	CHECK_EQ_INT(record(&qall, ago(1000), ED1, EC1), 0);
	CHECK_EQ_INT(record(&qall, ago(1000), ED1, NULL), 0);
	CHECK_EQ_INT(nrename_user, 1);
	CHECK_EQ_INT(nfsync, before);

	/* a fingerprint answer is new content; it becomes the newest */
	CHECK_EQ_INT(record(&qec, ago(TTL * 1000LL), EC1, NULL), 0);
	CHECK_EQ_INT(nrename_user, 2);
	/* the all-keys answer again: not the touch answer, written once */
	CHECK_EQ_INT(record(&qall, ago(TTL * 1000LL + 100), ED1, EC1), 0);
	CHECK_EQ_INT(nrename_user, 3);
	CHECK_EQ_INT(record(&qall, ago(TTL * 1000LL + 200), ED1, EC1), 0);
	CHECK_EQ_INT(nrename_user, 3);

	/* a changed answer (a key gone) is written, durably */
	before = nfsync;
	CHECK_EQ_INT(record(&qall, ago(TTL * 1000LL + 300), ED1, NULL), 0);
	CHECK_EQ_INT(nrename_user, 4);
	CHECK(nfsync >= before + 2);
	CHECK_EQ_INT(served(&qall, ago(TTL * 1000LL + 300), NULL), 1);
	CHECK_EQ_INT(served(&qec, ago(TTL * 1000LL + 300), NULL), 0);

	/* a modification time set back never makes the answer older */
	cache_file(path, sizeof(path));
	{
		struct timespec t[2] = { { 0, UTIME_OMIT }, { 1, 0 } };

		CHECK_EQ_INT(utimensat(AT_FDCWD, path, t, 0), 0);
	}
	CHECK_EQ_INT(served(&qall, ago(TTL * 1000LL + 1000), &state), 1);
	CHECK_EQ_INT(state, KB_CACHE_FRESH);
	cleanup_files();
#undef ago
}

int
main(void)
{
	setup();
	test_round_trip();
	test_ages();
	test_consult_fresh();
	test_empty_supersedes();
	test_order();
	test_clock_set_back();
	test_concurrent();
	test_planted();
	test_symlink_and_dir();
	test_full();
	test_prune();
	test_write_fails();
	test_late_older_answer_after_empty_fp();
	test_full_then_older_answer();
	test_lock_busy_keeps_revoked();
	test_narrowing_is_durable();
	test_readonly_keeps_revoked();
	test_tie_last_writer();
	test_repeat_not_rewritten();
	cleanup_files();
	rmdir(dir);
	return tap_done();
}
