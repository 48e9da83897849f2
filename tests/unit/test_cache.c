/*
 * test_cache.c - the answer cache: round trip, query binding, owner/mode
 * and symlink checks, corrupt and hostile files re-parsed as untrusted.
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
#include "tap.h"

#define ED1 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJOvXMIRHrqGkOZpxa0VPid4H+PY7i3I9qcYK67NrqkN"
#define ED1_FP "SHA256:KI3yi8SKTQDJYmnUNyYBcldnkTLx4aaKl5mVOXuZ2RU"
#define EC1 "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGAURlMhQznmbTD2ah1isOjGrKy63UzsBPqs3fQnICQjFybkcTr7hVv7QlgSlAeS0Kw0R39SEqgBvL5DBmnLBoU="
#define EC1_FP "SHA256:W8fvKmSOXITZeBrhnkVXnJwtyfh6MLu/XlovGCRKkHk"

static struct kb_config cfg;
static char dir[64];
static size_t nnotes;

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
	snprintf(dir, sizeof(dir), "/tmp/kbtestcache.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	chmod(dir, 0700);
}

/* Count the files in dir, removing them if remove is set. */
static size_t
walk_files(int remove)
{
	DIR *d;
	struct dirent *de;
	char p[512];
	size_t n = 0;

	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
			    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
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
	(void)walk_files(1);
}

static size_t
count_files(void)
{
	return walk_files(0);
}

static void
cleanup(void)
{
	cleanup_files();
	rmdir(dir);
}

/* The single a-* file in dir (tests store one answer at a time). */
static void
cache_file(char *out, size_t outlen)
{
	DIR *d;
	struct dirent *de;

	out[0] = '\0';
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "a-", 2) == 0)
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

static struct kb_answer *
answer_two(void)
{
	struct kb_answer *a = NULL;
	struct kb_query q = { "alice", 5, "web-01", NULL };

	lookup_answer_new(&a);
	lookup_add_key(&cfg, &q, time(NULL), "k1", 2, ED1, strlen(ED1),
	    "restrict,command=\"echo hi\"", 26, "20991231235959Z", 15, note,
	    NULL, a);
	lookup_add_key(&cfg, &q, time(NULL), "k2", 2, EC1, strlen(EC1),
	    NULL, 0, NULL, 0, note, NULL, a);
	a->fetched = 1700000000;
	return a;
}

static void
test_round_trip(void)
{
	struct kb_cache *c = NULL;
	struct kb_answer *a, *b = NULL;
	struct kb_query q = { "alice", 5, "web-01", NULL };
	struct kb_query qfp = { "alice", 5, "web-01", EC1_FP };
	struct kb_query other = { "bob", 3, "web-01", NULL };

	CHECK_EQ_INT(cache_open(dir, &c), 0);
	a = answer_two();
	CHECK_EQ_INT(a->nkeys, 2);
	CHECK_EQ_INT(cache_store(c, &q, a), 0);
	CHECK_EQ_INT(cache_load(c, &cfg, &q, 0, time(NULL), note, NULL, &b),
	    0);
	if (b != NULL) {
		CHECK_EQ_INT(b->nkeys, 2);
		CHECK_EQ_INT(b->fetched, 1700000000);
		CHECK_EQ_STR(b->keys[0].line, a->keys[0].line);
		CHECK_EQ_STR(b->keys[1].line, a->keys[1].line);
		CHECK_EQ_STR(b->keys[0].line, "restrict,command=\"echo hi\","
		    "expiry-time=\"20991231235959Z\" " ED1 " keybound:k1");
	}
	lookup_answer_free(b);
	b = NULL;
	/* other queries do not see it */
	CHECK_EQ_INT(cache_load(c, &cfg, &other, 0, time(NULL), note, NULL,
	    &b), KB_ERR_CACHE_MISS);
	CHECK_EQ_INT(cache_load(c, &cfg, &qfp, 0, time(NULL), note, NULL, &b),
	    KB_ERR_CACHE_MISS);
	/* ... except the fingerprint query reading the all-keys answer */
	CHECK_EQ_INT(cache_load(c, &cfg, &qfp, KB_CACHE_ALL_KEYS, time(NULL),
	    note, NULL, &b), 0);
	if (b != NULL) {
		CHECK_EQ_INT(b->nkeys, 1);
		CHECK_EQ_STR(b->keys[0].fingerprint, EC1_FP);
	}
	lookup_answer_free(b);
	b = NULL;
	/* expiry is evaluated again at load time */
	CHECK_EQ_INT(cache_load(c, &cfg, &q, 0, 4102444800 + 86400, note,
	    NULL, &b), 0);
	if (b != NULL)
		CHECK_EQ_INT(b->nkeys, 1);
	lookup_answer_free(b);
	b = NULL;
	/* policy is applied again at load time */
	cfg.allowed_key_types = KB_KT_ED25519;
	CHECK_EQ_INT(cache_load(c, &cfg, &q, 0, time(NULL), note, NULL, &b),
	    0);
	if (b != NULL)
		CHECK_EQ_INT(b->nkeys, 1);
	cfg.allowed_key_types = KB_KT_DEFAULT_MASK;
	lookup_answer_free(b);
	b = NULL;
	/* an empty answer ("nothing attached") round-trips too */
	lookup_answer_free(a);
	lookup_answer_new(&a);
	CHECK_EQ_INT(cache_store(c, &other, a), 0);
	CHECK_EQ_INT(cache_load(c, &cfg, &other, 0, time(NULL), note, NULL,
	    &b), 0);
	if (b != NULL)
		CHECK_EQ_INT(b->nkeys, 0);
	lookup_answer_free(b);
	lookup_answer_free(a);
	cache_close(c);
}

/* Write content as alice's answer file and load it. */
static int
load_planted(const char *content, mode_t mode, struct kb_answer **bp)
{
	struct kb_cache *c = NULL;
	struct kb_answer *a;
	struct kb_query q = { "alice", 5, "web-01", NULL };
	char path[512];
	int r;

	*bp = NULL;
	if (cache_open(dir, &c) != 0)
		return -1000;
	a = answer_two();
	cache_store(c, &q, a);
	lookup_answer_free(a);
	cache_file(path, sizeof(path));
	if (content != NULL)
		write_file(path, content, mode);
	else
		chmod(path, mode);
	nnotes = 0;
	r = cache_load(c, &cfg, &q, 0, time(NULL), note, NULL, bp);
	cache_close(c);
	unlink(path);
	return r;
}

#define HDR "keybound-cache 1\nuser 616c696365\ninstance web-01\n" \
	"fingerprint *\nfetched 1700000000\n"

static void
test_planted(void)
{
	struct kb_answer *b = NULL;
	static const char *const corrupt[] = {
		"",
		"garbage\n",
		HDR,
		HDR "end 1\n",
		HDR "end 0\nextra\n",
		HDR "end 0",
		HDR "end x\n",
		HDR "key k1 " ED1 " - -\nend 2\n",
		HDR "key k1 " ED1 " zz -\nend 1\n",
		HDR "key k1 " ED1 " 7\nend 1\n",
		HDR "key k1 ssh-ed25519 - -\nend 1\n",
		"keybound-cache 2\nuser 616c696365\ninstance web-01\n"
		    "fingerprint *\nfetched 1\nend 0\n",
		"keybound-cache 1\nuser 616c696365\ninstance web-01\n"
		    "fingerprint *\nfetched -5\nend 0\n",
	};
	size_t i;

	for (i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
		CHECK_EQ_INT(load_planted(corrupt[i], 0600, &b),
		    KB_ERR_CACHE_CORRUPT);
		CHECK(b == NULL);
	}
	/* the stored query must match: another user's answer in our file */
	CHECK_EQ_INT(load_planted("keybound-cache 1\nuser 626f62\n"
	    "instance web-01\nfingerprint *\nfetched 1\nend 0\n", 0600, &b),
	    KB_ERR_CACHE_MISS);
	CHECK_EQ_INT(load_planted("keybound-cache 1\nuser 616c696365\n"
	    "instance web-02\nfingerprint *\nfetched 1\nend 0\n", 0600, &b),
	    KB_ERR_CACHE_MISS);
	/* hostile content is parsed like a directory value: skipped */
	CHECK_EQ_INT(load_planted(HDR
	    "key k1 " ED1 " 636f6d6d616e643d222f62696e2f7368220a -\n"
	    "key k2 " EC1 " - 19990101000000Z\n"
	    "key 9x " ED1 " - -\n"
	    "key k4 ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIJOvXMIRHrqGkOZpxa0VPid4H+PY7i3I9qcYK67NrqkN - -\n"
	    "key k5 " ED1 " 656e7669726f6e6d656e743d22413d6222 -\n"
	    "end 5\n", 0600, &b), 0);
	if (b != NULL) {
		CHECK_EQ_INT(b->nkeys, 1);
		CHECK_EQ_STR(b->keys[0].line, ED1 " keybound:k5");
		CHECK_EQ_INT(b->skipped, 4);
	}
	lookup_answer_free(b);
	/* owner and mode */
	CHECK_EQ_INT(load_planted(NULL, 0644, &b), KB_ERR_CACHE_UNSAFE);
	CHECK_EQ_INT(load_planted(NULL, 0640, &b), KB_ERR_CACHE_UNSAFE);
	CHECK_EQ_INT(load_planted(NULL, 0400, &b), KB_ERR_CACHE_UNSAFE);
	CHECK_EQ_INT(load_planted(NULL, 0600, &b), 0);
	lookup_answer_free(b);
}

static void
test_symlink_and_dir(void)
{
	struct kb_cache *c = NULL;
	struct kb_answer *a, *b = NULL;
	struct kb_query q = { "alice", 5, "web-01", NULL };
	char path[512], stash[512], dirlink[600];

	CHECK_EQ_INT(cache_open(dir, &c), 0);
	a = answer_two();
	CHECK_EQ_INT(cache_store(c, &q, a), 0);
	lookup_answer_free(a);
	cache_file(path, sizeof(path));
	snprintf(stash, sizeof(stash), "%s/stash", dir);
	CHECK_EQ_INT(rename(path, stash), 0);
	CHECK_EQ_INT(symlink("stash", path), 0);
	CHECK_EQ_INT(cache_load(c, &cfg, &q, 0, time(NULL), note, NULL, &b),
	    KB_ERR_CACHE_UNSAFE);
	CHECK(b == NULL);
	unlink(path);
	CHECK_EQ_INT(mkfifo(path, 0600), 0);
	CHECK_EQ_INT(cache_load(c, &cfg, &q, 0, time(NULL), note, NULL, &b),
	    KB_ERR_CACHE_UNSAFE);
	unlink(path);
	CHECK_EQ_INT(link(stash, path), 0);
	CHECK_EQ_INT(cache_load(c, &cfg, &q, 0, time(NULL), note, NULL, &b),
	    KB_ERR_CACHE_UNSAFE);
	unlink(path);
	unlink(stash);
	cache_close(c);
	c = NULL;

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
	/* no temp file left behind by the stores */
	cache_file(path, sizeof(path));
}

/* Empty answers stop being stored at KB_CACHE_MAX_FILES; keys never do. */
static void
test_full(void)
{
	struct kb_cache *c = NULL;
	struct kb_answer *none = NULL, *two, *b = NULL;
	struct kb_query q = { "made-up", 7, "web-01", NULL };
	struct kb_query qk = { "alice", 5, "web-01", NULL };
	char name[512];
	size_t i;
	int fd;

	cleanup_files();
	CHECK_EQ_INT(cache_open(dir, &c), 0);
	lookup_answer_new(&none);
	CHECK_EQ_INT(cache_store(c, &q, none), 0);
	for (i = 1; i < KB_CACHE_MAX_FILES; i++) {
		snprintf(name, sizeof(name), "%s/filler-%zu", dir, i);
		fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd == -1)
			break;
		close(fd);
	}
	CHECK_EQ_INT(count_files(), KB_CACHE_MAX_FILES);
	/* full: another made-up name is not stored */
	q.user = "made-up-2";
	q.userlen = 9;
	CHECK_EQ_INT(cache_store(c, &q, none), KB_ERR_CACHE_FULL);
	CHECK_EQ_INT(cache_load(c, &cfg, &q, 0, time(NULL), note, NULL, &b),
	    KB_ERR_CACHE_MISS);
	CHECK(b == NULL);
	CHECK_EQ_INT(count_files(), KB_CACHE_MAX_FILES);
	/* an answer with keys still is */
	two = answer_two();
	CHECK_EQ_INT(cache_store(c, &qk, two), 0);
	CHECK_EQ_INT(cache_load(c, &cfg, &qk, 0, time(NULL), note, NULL, &b),
	    0);
	CHECK(b != NULL && b->nkeys == 2);
	CHECK_EQ_INT(count_files(), KB_CACHE_MAX_FILES + 1);
	lookup_answer_free(b);
	lookup_answer_free(two);
	lookup_answer_free(none);
	cache_close(c);
	cleanup_files();
}

int
main(void)
{
	setup();
	test_round_trip();
	test_planted();
	test_symlink_and_dir();
	test_full();
	cleanup();
	return tap_done();
}
