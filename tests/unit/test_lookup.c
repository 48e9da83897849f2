/*
 * test_lookup.c - the decision path with a fake directory: re-checks,
 * parsing, policy, expiry, options, max_keys, GeneralizedTime.
 *
 * This file defines dir_open/dir_search/dir_close/dir_uri/dir_set_idle
 * itself, so the real directory client is not linked in: each test hands
 * the fake a list of entries and looks at the filter and attributes it
 * was asked for.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kb.h"
#include "config.h"
#include "directory.h"
#include "keyopts.h"
#include "lookup.h"
#include "sshkey.h"
#include "tap.h"

/* ---- golden keys (generated with ssh-keygen) ---- */

#define ED1 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJOvXMIRHrqGkOZpxa0VPid4H+PY7i3I9qcYK67NrqkN"
#define ED1_FP "SHA256:KI3yi8SKTQDJYmnUNyYBcldnkTLx4aaKl5mVOXuZ2RU"
#define EC1 "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGAURlMhQznmbTD2ah1isOjGrKy63UzsBPqs3fQnICQjFybkcTr7hVv7QlgSlAeS0Kw0R39SEqgBvL5DBmnLBoU="
#define EC1_FP "SHA256:W8fvKmSOXITZeBrhnkVXnJwtyfh6MLu/XlovGCRKkHk"

/* ---- the fake directory ---- */

#define FAKE_MAX_ENTRIES	80
#define FAKE_MAX_ATTRS		8

struct fake_entry {
	struct kb_attr attrs[FAKE_MAX_ATTRS];
	struct kb_val vals[FAKE_MAX_ATTRS][4];
	size_t nattrs;
};

static struct fake_entry fake[FAKE_MAX_ENTRIES];
static size_t nfake;
static struct fake_entry fake_groups[FAKE_MAX_ENTRIES];
static size_t nfake_groups;
static char fake_group_filter[1024];
static char fake_vr[300];		/* "ATTR=VALUE" of the control */
static size_t fake_searches;
static int fake_open_error;
static char fake_filter[4096];
static char fake_attrs[512];
static int fake_dir;
static size_t fake_released;	/* entries the callback did not keep */

void
dir_search_sent(const struct kb_dir *d, struct timespec *t)
{
	(void)d;
	clock_gettime(CLOCK_REALTIME, t);
}

/* One fake server: nowhere to move on to. */
int
dir_move_on(struct kb_dir *d)
{
	(void)d;
	return KB_ERR_DIR_UNAVAILABLE;
}

/* As the real client: run once, after the next search is "sent". */
static dir_idle_fn fake_idle;
static void *fake_idle_ctx;

void
dir_set_idle(struct kb_dir *d, dir_idle_fn fn, void *ctx)
{
	(void)d;
	fake_idle = fn;
	fake_idle_ctx = ctx;
}

static void
fake_run_idle(void)
{
	dir_idle_fn fn = fake_idle;

	fake_idle = NULL;
	if (fn != NULL)
		fn(fake_idle_ctx);
}

/* lookup_prepare() sets the client's environment; nothing to do here. */
int
dir_init_env(void)
{
	return 0;
}

int
dir_open(const struct kb_config *cfg, const struct kb_dir_auth *auth,
    const struct timespec *deadline, struct kb_dir **dp, char *errbuf,
    size_t errlen)
{
	(void)cfg;
	(void)auth;
	(void)deadline;
	*dp = NULL;
	if (fake_open_error != 0) {
		snprintf(errbuf, errlen, "fake: down");
		return fake_open_error;
	}
	*dp = (struct kb_dir *)&fake_dir;
	return 0;
}

void
dir_close(struct kb_dir *d)
{
	(void)d;
}

const char *
dir_uri(const struct kb_dir *d)
{
	(void)d;
	return "ldap://fake";
}

/* The group search: the only one sent with the matched-values control. */
int
dir_search_values(struct kb_dir *d, const char *base, int scope,
    const char *filter, const char *const *attrs, size_t sizelimit,
    const char *vr_attr, const char *vr_value, dir_entry_fn fn, void *ctx,
    size_t *dropped)
{
	size_t i;
	int r;

	(void)d;
	(void)base;
	(void)scope;
	(void)sizelimit;
	(void)attrs;
	fake_searches++;
	snprintf(fake_group_filter, sizeof(fake_group_filter), "%s", filter);
	snprintf(fake_vr, sizeof(fake_vr), "%s=%s", vr_attr ? vr_attr : "",
	    vr_value ? vr_value : "");
	if (dropped != NULL)
		*dropped = 0;
	fake_run_idle();
	for (i = 0; i < nfake_groups; i++) {
		r = fn(ctx, "cn=g", fake_groups[i].attrs,
		    fake_groups[i].nattrs);
		if (r != 0 && r != KB_DIR_ENTRY_RELEASED)
			return r;
	}
	return 0;
}

int
dir_search(struct kb_dir *d, const char *base, int scope, const char *filter,
    const char *const *attrs, size_t sizelimit, dir_entry_fn fn, void *ctx,
    size_t *dropped)
{
	size_t i;
	int r;

	fake_searches++;
	(void)d;
	(void)base;
	(void)scope;
	(void)sizelimit;
	snprintf(fake_filter, sizeof(fake_filter), "%s", filter);
	fake_attrs[0] = '\0';
	for (i = 0; attrs[i] != NULL; i++) {
		strncat(fake_attrs, attrs[i], sizeof(fake_attrs) -
		    strlen(fake_attrs) - 2);
		strcat(fake_attrs, " ");
	}
	if (dropped != NULL)
		*dropped = 0;
	fake_run_idle();
	for (i = 0; i < nfake; i++) {
		r = fn(ctx, "cn=x", fake[i].attrs, fake[i].nattrs);
		if (r == KB_DIR_ENTRY_RELEASED)
			fake_released++;
		else if (r != 0)
			return r;
	}
	return 0;
}

static void
fake_reset(void)
{
	memset(fake, 0, sizeof(fake));
	nfake = 0;
	memset(fake_groups, 0, sizeof(fake_groups));
	nfake_groups = 0;
	fake_searches = 0;
	fake_group_filter[0] = '\0';
	fake_open_error = 0;
	fake_released = 0;
}

static struct fake_entry *
fake_entry(void)
{
	return &fake[nfake++];
}

/* Add attribute name with up to 4 values (NULL-terminated, may hold NUL
 * when given through fake_val_len). */
static void
fake_attr(struct fake_entry *e, const char *name, const char *v0,
    const char *v1)
{
	struct kb_attr *a = &e->attrs[e->nattrs];
	const char *vs[2] = { v0, v1 };
	size_t i, n = 0;

	for (i = 0; i < 2; i++) {
		if (vs[i] == NULL)
			continue;
		e->vals[e->nattrs][n].bytes = vs[i];
		e->vals[e->nattrs][n].len = strlen(vs[i]);
		n++;
	}
	a->name = name;
	a->vals = e->vals[e->nattrs];
	a->nvals = n;
	e->nattrs++;
}

static void
fake_group(const char *cn, const char *m0, const char *m1)
{
	struct fake_entry *e = &fake_groups[nfake_groups++];

	fake_attr(e, "cn", cn, NULL);
	fake_attr(e, "keyboundMember", m0, m1);
}

static void
fake_keypair(const char *cn, const char *key, const char *attach,
    const char *opts, const char *notafter)
{
	struct fake_entry *e = fake_entry();

	fake_attr(e, "cn", cn, NULL);
	fake_attr(e, "keyboundPublicKey", key, NULL);
	fake_attr(e, "keyboundAttachment", attach, NULL);
	if (opts != NULL)
		fake_attr(e, "keyboundKeyOptions", opts, NULL);
	if (notafter != NULL)
		fake_attr(e, "keyboundNotAfter", notafter, NULL);
}

/* ---- helpers ---- */

static struct kb_config cfg;

static void
cfg_keybound(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.base = (char *)(uintptr_t)"ou=keypairs,dc=example,dc=test";
	cfg.schema = KB_SCHEMA_KEYBOUND;
	cfg.key_filter = (char *)(uintptr_t)
	    "(&(objectClass=keyboundKeyPair)(keyboundAttachment=%u@%i))";
	cfg.key_attribute = (char *)(uintptr_t)"keyboundPublicKey";
	cfg.fingerprint_attribute = (char *)(uintptr_t)"keyboundFingerprint";
	cfg.expiry_attribute = (char *)(uintptr_t)"keyboundNotAfter";
	cfg.options_attribute = (char *)(uintptr_t)"keyboundKeyOptions";
	cfg.instance = (char *)(uintptr_t)"web-01";
	cfg.timeout = 3;
	cfg.allowed_key_types = KB_KT_DEFAULT_MASK;
	cfg.min_rsa_bits = 2048;
	cfg.max_keys = 100;
}

static void
cfg_lpk(void)
{
	cfg_keybound();
	cfg.schema = KB_SCHEMA_OPENSSH_LPK;
	cfg.key_filter = (char *)(uintptr_t)
	    "(&(objectClass=ldapPublicKey)(uid=%u))";
	cfg.key_attribute = (char *)(uintptr_t)"sshPublicKey";
	cfg.fingerprint_attribute = NULL;
	cfg.expiry_attribute = NULL;
	cfg.options_attribute = NULL;
}

static size_t nnotes;
static int last_note_kind;
static int last_note_err;
static char last_note_detail[256];

static void
count_note(void *ctx, const struct kb_note *n)
{
	(void)ctx;
	nnotes++;
	last_note_kind = n->kind;
	last_note_err = n->err;
	snprintf(last_note_detail, sizeof(last_note_detail), "%s",
	    n->detail ? n->detail : "");
}

static int
run(const char *user, const char *fp, struct kb_answer **ap)
{
	struct kb_query q;
	struct timespec dl = { 0, 0 };
	char err[128];

	q.user = user;
	q.userlen = strlen(user);
	q.instance = cfg.instance;
	q.fingerprint = fp;
	nnotes = 0;
	return lookup_directory(&cfg, &q, &dl, count_note, NULL, ap, err,
	    sizeof(err));
}

static int
add(const char *name, const char *key, const char *opts,
    const char *notafter, const char *fp, struct kb_answer *a)
{
	struct kb_query q = { "alice", 5, "web-01", fp, NULL, NULL };

	nnotes = 0;
	return lookup_add_key(&cfg, &q, time(NULL), name, strlen(name), key,
	    strlen(key), opts, opts ? strlen(opts) : 0, notafter,
	    notafter ? strlen(notafter) : 0, count_note, NULL, a);
}

/* restrict plus a command= and a from= of about 1,000 bytes each */
static const char *
big_opts(void)
{
	static char o[2200];
	size_t n;

	if (o[0] != '\0')
		return o;
	n = (size_t)snprintf(o, sizeof(o), "restrict,command=\"");
	memset(o + n, 'c', 1000);
	n += 1000;
	n += (size_t)snprintf(o + n, sizeof(o) - n, "\",from=\"");
	while (n < 2000) {	/* from= stays under 1,000 bytes */
		memcpy(o + n, "10.0.0.1,", 9);
		n += 9;
	}
	snprintf(o + n, sizeof(o) - n, "10.0.0.2\"");
	return o;
}

/* ---- tests ---- */

static void
test_gentime(void)
{
	char buf[16];
	time_t t;

	CHECK_EQ_INT(lookup_parse_gentime("20300101000000Z", 15, &t), 0);
	CHECK_EQ_INT(t, 1893456000);
	CHECK_EQ_INT(lookup_parse_gentime("20300101000000.123Z", 19, &t), 0);
	CHECK_EQ_INT(t, 1893456000);
	CHECK_EQ_INT(lookup_parse_gentime("20240229120000Z", 15, &t), 0);
	CHECK_EQ_INT(lookup_parse_gentime("20230229120000Z", 15, &t),
	    KB_ERR_TIME);
	CHECK_EQ_INT(lookup_parse_gentime("20301301000000Z", 15, &t),
	    KB_ERR_TIME);
	CHECK_EQ_INT(lookup_parse_gentime("20300431000000Z", 15, &t),
	    KB_ERR_TIME);
	CHECK_EQ_INT(lookup_parse_gentime("20300101240000Z", 15, &t),
	    KB_ERR_TIME);
	CHECK_EQ_INT(lookup_parse_gentime("20300101000060Z", 15, &t),
	    KB_ERR_TIME);
	CHECK_EQ_INT(lookup_parse_gentime("20300101000000", 14, &t),
	    KB_ERR_TIME);
	CHECK_EQ_INT(lookup_parse_gentime("20300101000000+0100", 19, &t),
	    KB_ERR_TIME);
	CHECK_EQ_INT(lookup_parse_gentime("203001010000Z", 13, &t),
	    KB_ERR_TIME);
	CHECK_EQ_INT(lookup_parse_gentime("2030010100000aZ", 15, &t),
	    KB_ERR_TIME);
	CHECK_EQ_INT(lookup_parse_gentime("20300101000000.Z", 16, &t),
	    KB_ERR_TIME);
	CHECK_EQ_INT(lookup_parse_gentime("20300101000000.1xZ", 18, &t),
	    KB_ERR_TIME);
	CHECK_EQ_INT(lookup_parse_gentime("19691231235959Z", 15, &t),
	    KB_ERR_TIME);
	CHECK_EQ_INT(lookup_parse_gentime(" 20300101000000Z", 16, &t),
	    KB_ERR_TIME);
	CHECK_EQ_INT(lookup_format_gentime(1893456000, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "20300101000000Z");
	CHECK_EQ_INT(lookup_format_gentime(0, buf, 10), KB_ERR_TIME);
}

static void
test_add_key(void)
{
	struct kb_answer *a = NULL;

	cfg_keybound();
	CHECK_EQ_INT(lookup_answer_new(&a), 0);
	CHECK_EQ_INT(add("k1", ED1, NULL, NULL, NULL, a), 0);
	CHECK_EQ_INT(a->nkeys, 1);
	CHECK_EQ_STR(a->keys[0].line, ED1 " keybound:k1");
	CHECK_EQ_STR(a->keys[0].fingerprint, ED1_FP);
	CHECK_EQ_STR(a->keys[0].key_text, ED1);

	/* options: allowed kept and canonical, unknown dropped and noted */
	CHECK_EQ_INT(add("k2", ED1, "no-pty,environment=\"A=b\",restrict",
	    NULL, NULL, a), 0);
	CHECK_EQ_INT(a->nkeys, 2);
	CHECK_EQ_STR(a->keys[1].line, "restrict,no-pty " ED1 " keybound:k2");
	CHECK_EQ_STR(a->keys[1].options, "restrict,no-pty");
	CHECK_EQ_INT(nnotes, 1);
	CHECK_EQ_INT(last_note_kind, KB_NOTE_OPTS_DROPPED);
	CHECK(strstr(last_note_detail, "environment") != NULL);

	/* future not-after: expiry-time; past: skipped */
	CHECK_EQ_INT(add("k3", ED1, NULL, "20991231235959Z", NULL, a), 0);
	CHECK_EQ_INT(a->nkeys, 3);
	CHECK_EQ_STR(a->keys[2].line,
	    "expiry-time=\"20991231235959Z\" " ED1 " keybound:k3");
	CHECK_EQ_STR(a->keys[2].not_after, "20991231235959Z");
	CHECK_EQ_INT(add("k4", ED1, NULL, "20200101000000Z", NULL, a), 0);
	CHECK_EQ_INT(a->nkeys, 3);
	CHECK_EQ_INT(last_note_kind, KB_NOTE_KEY_SKIPPED);
	CHECK_EQ_STR(last_note_detail, "expired");
	CHECK_EQ_INT(add("k4", ED1, NULL, "2099-12-31", NULL, a), 0);
	CHECK_EQ_INT(a->nkeys, 3);

	/* everything that must be skipped, each with a note */
	{
		static const char *const bad_keys[] = {
			ED1 "\ncommand=\"/bin/sh\" " EC1,
			ED1 "\r",
			" " ED1,
			ED1 " ",
			"ssh-ed25519  AAAAC3NzaC1lZDI1NTE5AAAAIJOvXMIRHrqGkOZpxa0VPid4H+PY7i3I9qcYK67NrqkN",
			"ssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAAIJOvXMIRHrqGkOZpxa0VPid4H+PY7i3I9qcYK67NrqkN",
			"command=\"/bin/sh\" " ED1,
			"restrict " ED1,
			"ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIJOvXMIRHrqGkOZpxa0VPid4H+PY7i3I9qcYK67NrqkN",
			"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJOvXMIRHrqGkOZpxa0VPid4H+PY7i3I9qcYK67Nrqk",
			"ssh-ed25519 !!!!",
			"",
			ED1 " caf\xc3\xa9",
		};
		size_t i;

		for (i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
			CHECK_EQ_INT(add("bad", bad_keys[i], NULL, NULL, NULL,
			    a), 0);
			CHECK_EQ_INT(a->nkeys, 3);
			CHECK_EQ_INT(nnotes, 1);
			CHECK_EQ_INT(last_note_kind, KB_NOTE_KEY_SKIPPED);
		}
	}
	/* bad names, bad option bytes, option syntax errors */
	CHECK_EQ_INT(add("1bad", ED1, NULL, NULL, NULL, a), 0);
	CHECK_EQ_INT(add("bad name", ED1, NULL, NULL, NULL, a), 0);
	CHECK_EQ_INT(add("x", ED1, NULL, NULL, NULL, a), 0);
	CHECK_EQ_INT(add("k5", ED1, "restrict\ncommand=\"/bin/sh\"", NULL,
	    NULL, a), 0);
	CHECK_EQ_INT(add("k5", ED1, "command=\"/bin/sh", NULL, NULL, a), 0);
	CHECK_EQ_INT(add("k5", ED1, "from=\"10.0.0.1\",", NULL, NULL, a), 0);
	CHECK_EQ_INT(a->nkeys, 3);
	CHECK_EQ_INT(a->skipped, 13 + 2 + 6);

	/* fingerprint: only the matching key is added, silently */
	CHECK_EQ_INT(add("k6", EC1, NULL, NULL, ED1_FP, a), 0);
	CHECK_EQ_INT(a->nkeys, 3);
	CHECK_EQ_INT(nnotes, 0);
	CHECK_EQ_INT(add("k6", EC1, NULL, NULL, EC1_FP, a), 0);
	CHECK_EQ_INT(a->nkeys, 4);

	/* policy */
	cfg.allowed_key_types = KB_KT_ECDSA_P256;
	CHECK_EQ_INT(add("k7", ED1, NULL, NULL, NULL, a), 0);
	CHECK_EQ_INT(a->nkeys, 4);
	lookup_answer_free(a);
}

static void
test_directory_rechecks(void)
{
	struct kb_answer *a = NULL;

	cfg_keybound();
	fake_reset();
	fake_keypair("good", ED1, "alice@web-01", NULL, NULL);
	fake_keypair("spaced", EC1, "alice@web-01 ", NULL, NULL);
	fake_keypair("folded", EC1, "ALICE@web-01", NULL, NULL);
	fake_keypair("other", EC1, "alice@web-02", NULL, NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 1);
	CHECK_EQ_STR(a->keys[0].name, "good");
	CHECK_EQ_STR(a->uri, "ldap://fake");
	CHECK_EQ_STR(fake_filter,
	    "(&(objectClass=keyboundKeyPair)(keyboundAttachment=alice@web-01))");
	CHECK(strstr(fake_attrs, "cn ") != NULL);
	CHECK(strstr(fake_attrs, "keyboundAttachment") != NULL);
	CHECK(strstr(fake_attrs, "keyboundNotAfter") != NULL);
	lookup_answer_free(a);

	/* hostile user: escaped in the filter, matched byte for byte */
	fake_reset();
	fake_keypair("good", ED1, "*)(cn=*@web-01", NULL, NULL);
	CHECK_EQ_INT(run("*)(cn=*", NULL, &a), 0);
	CHECK_EQ_STR(fake_filter, "(&(objectClass=keyboundKeyPair)"
	    "(keyboundAttachment=\\2a\\29\\28cn=\\2a@web-01))");
	CHECK_EQ_INT(a->nkeys, 1);
	lookup_answer_free(a);

	/* the fingerprint narrows the search */
	fake_reset();
	fake_keypair("good", ED1, "alice@web-01", NULL, NULL);
	fake_keypair("ec", EC1, "alice@web-01", NULL, NULL);
	CHECK_EQ_INT(run("alice", EC1_FP, &a), 0);
	CHECK(strstr(fake_filter, "(keyboundFingerprint=" EC1_FP ")") !=
	    NULL);
	CHECK_EQ_INT(a->nkeys, 1);
	CHECK_EQ_STR(a->keys[0].name, "ec");
	lookup_answer_free(a);

	/* two cn values or two keys: malformed, skipped */
	fake_reset();
	{
		struct fake_entry *e = fake_entry();

		fake_attr(e, "cn", "a1", "a2");
		fake_attr(e, "keyboundPublicKey", ED1, NULL);
		fake_attr(e, "keyboundAttachment", "alice@web-01", NULL);
		e = fake_entry();
		fake_attr(e, "cn", "b1", NULL);
		fake_attr(e, "keyboundPublicKey", ED1, EC1);
		fake_attr(e, "keyboundAttachment", "alice@web-01", NULL);
	}
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 0);
	CHECK_EQ_INT(nnotes, 2);
	lookup_answer_free(a);

	/* directory down: the error comes back, no answer */
	fake_reset();
	fake_open_error = KB_ERR_DIR_UNAVAILABLE;
	a = (struct kb_answer *)&fake_dir;
	CHECK_EQ_INT(run("alice", NULL, &a), KB_ERR_DIR_UNAVAILABLE);
	CHECK(a == NULL);
}

static void
test_max_keys(void)
{
	static char names[30][16];
	struct kb_answer *a = NULL;
	int i;

	cfg_keybound();
	cfg.max_keys = 5;
	fake_reset();
	for (i = 29; i >= 0; i--) {
		snprintf(names[i], sizeof(names[i]), "k%02d", i);
		fake_keypair(names[i], i % 2 ? ED1 : EC1, "alice@web-01",
		    NULL, NULL);
	}
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 5);
	CHECK_EQ_INT(a->over_limit, 25);
	CHECK_EQ_STR(a->keys[0].name, "k00");
	CHECK_EQ_STR(a->keys[4].name, "k04");
	CHECK_EQ_INT(last_note_kind, KB_NOTE_MAX_KEYS);
	/* streamed: never more than max_keys records held */
	CHECK(a->cap <= 8);
	CHECK_EQ_INT(fake_released, 30);
	lookup_answer_free(a);
}

/*
 * Keys arriving in any order: the first max_keys by name (then
 * fingerprint) are kept, in memory for max_keys records only.
 */
static void
test_max_keys_stream(void)
{
	static const int order[] = {
		17, 3, 29, 0, 11, 24, 8, 5, 21, 14, 1, 27, 9, 19, 4, 26, 12,
		2, 23, 7, 16, 28, 10, 6, 20, 13, 25, 18, 15, 22,
	};
	struct kb_answer *a = NULL;
	char name[16];
	size_t i;
	int r = 0;

	cfg_keybound();
	cfg.max_keys = 4;
	CHECK_EQ_INT(lookup_answer_new(&a), 0);
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		snprintf(name, sizeof(name), "k%02d", order[i]);
		CHECK_EQ_INT(add(name, ED1, NULL, NULL, NULL, a), 0);
		/* the same name with another key: ordered by fingerprint */
		if (order[i] == 1)
			CHECK_EQ_INT(add(name, EC1, NULL, NULL, NULL, a), 0);
		CHECK(a->nkeys <= 4 && a->cap <= 4 + 4);
	}
	nnotes = 0;
	lookup_finish(&cfg, a, count_note, NULL);
	CHECK_EQ_INT(a->nkeys, 4);
	CHECK_EQ_INT(a->over_limit, 27);
	CHECK_EQ_STR(a->keys[0].name, "k00");
	CHECK_EQ_STR(a->keys[1].name, "k01");
	CHECK_EQ_STR(a->keys[2].name, "k01");
	CHECK(strcmp(a->keys[1].fingerprint, a->keys[2].fingerprint) < 0);
	CHECK_EQ_STR(a->keys[3].name, "k02");
	CHECK_EQ_INT(nnotes, 1);
	CHECK_EQ_INT(last_note_kind, KB_NOTE_MAX_KEYS);
	lookup_answer_free(a);

	/* at most 16 MiB of kept records, whatever max_keys allows */
	cfg.max_keys = 10000;
	CHECK_EQ_INT(lookup_answer_new(&a), 0);
	for (i = 0; i < 10000 && r == 0; i++) {
		snprintf(name, sizeof(name), "k%05zu", i);
		r = add(name, ED1, big_opts(), NULL, NULL, a);
	}
	CHECK_EQ_INT(r, KB_ERR_TOO_LONG);
	CHECK(i > 1000 && i < 10000);
	CHECK(a->kept_bytes <= 16 * 1024 * 1024);
	lookup_answer_free(a);
}

static void
test_lpk(void)
{
	struct kb_answer *a = NULL;
	struct fake_entry *e;

	cfg_lpk();
	fake_reset();
	e = fake_entry();
	fake_attr(e, "uid", "alice", NULL);
	fake_attr(e, "sshPublicKey", ED1 " alice@laptop", EC1);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 2);
	CHECK_EQ_STR(a->keys[0].line, ED1 " keybound:key-00001");
	CHECK_EQ_STR(a->keys[1].line, EC1 " keybound:key-00002");
	CHECK_EQ_STR(fake_filter, "(&(objectClass=ldapPublicKey)(uid=alice))");
	lookup_answer_free(a);

	/* fingerprint filtered on our side: no attribute to search */
	CHECK_EQ_INT(run("alice", EC1_FP, &a), 0);
	CHECK_EQ_STR(fake_filter, "(&(objectClass=ldapPublicKey)(uid=alice))");
	CHECK_EQ_INT(a->nkeys, 1);
	CHECK_EQ_STR(a->keys[0].fingerprint, EC1_FP);
	lookup_answer_free(a);

	/* uid folded by the server: not ours */
	fake_reset();
	e = fake_entry();
	fake_attr(e, "uid", "Alice", NULL);
	fake_attr(e, "sshPublicKey", ED1, NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 0);
	lookup_answer_free(a);

	/* two entries: ambiguous, no answer */
	fake_reset();
	e = fake_entry();
	fake_attr(e, "uid", "alice", NULL);
	fake_attr(e, "sshPublicKey", ED1, NULL);
	e = fake_entry();
	fake_attr(e, "uid", "alice", NULL);
	fake_attr(e, "sshPublicKey", EC1, NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), KB_ERR_DIR_AMBIGUOUS);
	CHECK(a == NULL);
}

static void
test_templates(void)
{
	struct kb_answer *a = NULL;

	cfg_keybound();
	fake_reset();
	/* a user assertion that cannot be checked byte for byte */
	cfg.key_filter = (char *)(uintptr_t)"(uid=%u*)";
	CHECK_EQ_INT(run("alice", NULL, &a), KB_ERR_FILTER_TEMPLATE);
	cfg.key_filter = (char *)(uintptr_t)"(objectClass=keyboundKeyPair)";
	CHECK_EQ_INT(run("alice", NULL, &a), KB_ERR_FILTER_TEMPLATE);
	/* requiring both sides of an OR would change what it means */
	fake_keypair("here", ED1, "alice@web-01", NULL, NULL);
	cfg.key_filter = (char *)(uintptr_t)"(&(objectClass=x)"
	    "(|(keyboundAttachment=%u@%i)(keyboundAttachment=%u@all)))";
	CHECK_EQ_INT(run("alice", NULL, &a), KB_ERR_FILTER_TEMPLATE);
	CHECK(a == NULL);
	fake_reset();
	/* escapes in the template are decoded for the re-check */
	cfg.key_filter = (char *)(uintptr_t)
	    "(&(objectClass=x)(keyboundAttachment=%u\\40%i))";
	fake_keypair("good", ED1, "alice@web-01", NULL, NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 1);
	lookup_answer_free(a);
}

/* Host groups: the first search, the widened filter, byte-for-byte checks. */
static void
test_groups(void)
{
	struct kb_answer *a = NULL;
	struct fake_entry *e;
	char name[16];
	size_t i;

	cfg_keybound();
	fake_reset();
	fake_keypair("direct", ED1, "alice@web-01", NULL, NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(fake_searches, 2);
	CHECK_EQ_STR(fake_group_filter,
	    "(&(objectClass=keyboundHostGroup)(keyboundMember=web-01))");
	CHECK_EQ_STR(fake_vr, "keyboundMember=web-01");
	CHECK_EQ_STR(fake_filter, "(&(objectClass=keyboundKeyPair)"
	    "(keyboundAttachment=alice@web-01))");
	CHECK(strstr(fake_attrs, "keyboundAttachmentEnd ") != NULL);
	CHECK(strstr(fake_attrs, "keyboundBlocked ") != NULL);
	CHECK_EQ_INT(a->nkeys, 1);
	CHECK_EQ_STR(a->keys[0].via, "alice@web-01");
	CHECK(a->keys[0].until == NULL);
	lookup_answer_free(a);

	/* two groups: the item widened, names escaped, sorted */
	fake_reset();
	fake_group("web", "db-01", "web-01");
	fake_group("db", "web-01", NULL);
	fake_keypair("viaweb", ED1, "alice@+web", NULL, NULL);
	fake_keypair("other", EC1, "alice@+other", NULL, NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_STR(fake_filter, "(&(objectClass=keyboundKeyPair)"
	    "(|(keyboundAttachment=alice@web-01)(keyboundAttachment=alice@+db)"
	    "(keyboundAttachment=alice@+web)))");
	CHECK_EQ_INT(a->nkeys, 1);
	CHECK_EQ_STR(a->keys[0].name, "viaweb");
	CHECK_EQ_STR(a->keys[0].via, "alice@+web");
	lookup_answer_free(a);

	/* a user name with filter metacharacters is escaped in every term */
	fake_reset();
	fake_group("web", "web-01", NULL);
	CHECK_EQ_INT(run("a*)(x", NULL, &a), 0);
	CHECK_EQ_STR(fake_filter, "(&(objectClass=keyboundKeyPair)"
	    "(|(keyboundAttachment=a\\2a\\29\\28x@web-01)"
	    "(keyboundAttachment=a\\2a\\29\\28x@+web)))");
	lookup_answer_free(a);

	/* member and group name must match byte for byte */
	fake_reset();
	fake_group("web", "WEB-01", NULL);
	fake_group("db", " web-01", NULL);
	fake_group("x)(y", "web-01", NULL);
	fake_keypair("viaweb", ED1, "alice@+web", NULL, NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_STR(fake_filter, "(&(objectClass=keyboundKeyPair)"
	    "(keyboundAttachment=alice@web-01))");
	CHECK_EQ_INT(a->nkeys, 0);
	lookup_answer_free(a);

	fake_reset();
	fake_group("web", "web-01", NULL);
	fake_keypair("upper", ED1, "alice@+WEB", NULL, NULL);
	fake_keypair("bobs", EC1, "bob@+web", NULL, NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 0);
	CHECK_EQ_INT(last_note_kind, KB_NOTE_ENTRY_SKIPPED);
	lookup_answer_free(a);

	/* more groups than kept: the first by name, and a note */
	fake_reset();
	for (i = 0; i < KB_LOOKUP_MAX_GROUPS + 3; i++) {
		e = &fake_groups[nfake_groups];
		fake_group("x", "web-01", NULL);
		snprintf(name, sizeof(name), "g%03zu", 200 - i);
		e->vals[0][0].bytes = strdup(name);
		e->vals[0][0].len = strlen(name);
	}
	fake_keypair("first", ED1, "alice@+g137", NULL, NULL);
	fake_keypair("dropped", EC1, "alice@+g200", NULL, NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 1);
	CHECK_EQ_STR(a->nkeys > 0 ? a->keys[0].name : "", "first");
	CHECK(strstr(fake_filter, "alice@+g134)") != NULL);
	CHECK(strstr(fake_filter, "alice@+g198)") == NULL);
	lookup_answer_free(a);
	for (i = 0; i < nfake_groups; i++)
		free((char *)(uintptr_t)fake_groups[i].vals[0][0].bytes);

	/* openssh-lpk has no groups: one search */
	cfg_lpk();
	fake_reset();
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(fake_searches, 1);
	lookup_answer_free(a);
}

/* Time-boxed attachments and the blocked flag. */
static void
test_timebox_blocked(void)
{
	struct kb_answer *a = NULL;
	struct fake_entry *e;
	char later[16], sooner[16], past[16], end1[64], end2[64];

	lookup_format_gentime(time(NULL) + 7200, later, sizeof(later));
	lookup_format_gentime(time(NULL) + 3600, sooner, sizeof(sooner));
	lookup_format_gentime(time(NULL) - 10, past, sizeof(past));
	cfg_keybound();

	/* the end becomes the key's expiry-time */
	fake_reset();
	snprintf(end1, sizeof(end1), "alice@web-01 %s", sooner);
	e = fake_entry();
	fake_attr(e, "cn", "boxed", NULL);
	fake_attr(e, "keyboundPublicKey", ED1, NULL);
	fake_attr(e, "keyboundAttachment", "alice@web-01", NULL);
	fake_attr(e, "keyboundAttachmentEnd", end1, NULL);
	fake_attr(e, "keyboundNotAfter", later, NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 1);
	CHECK_EQ_STR(a->keys[0].until, sooner);
	CHECK_EQ_STR(a->keys[0].not_after, sooner);
	CHECK(strstr(a->keys[0].line, sooner) != NULL);
	lookup_answer_free(a);

	/* a not-after sooner than the end wins */
	fake_reset();
	snprintf(end1, sizeof(end1), "alice@web-01 %s", later);
	e = fake_entry();
	fake_attr(e, "cn", "boxed", NULL);
	fake_attr(e, "keyboundPublicKey", ED1, NULL);
	fake_attr(e, "keyboundAttachment", "alice@web-01", NULL);
	fake_attr(e, "keyboundAttachmentEnd", end1, NULL);
	fake_attr(e, "keyboundNotAfter", sooner, NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 1);
	CHECK_EQ_STR(a->keys[0].until, later);
	CHECK_EQ_STR(a->keys[0].not_after, sooner);
	lookup_answer_free(a);

	/* ended: not served, and the note says why; the earliest end counts */
	fake_reset();
	snprintf(end1, sizeof(end1), "alice@web-01 %s", past);
	snprintf(end2, sizeof(end2), "alice@web-01 %s", later);
	e = fake_entry();
	fake_attr(e, "cn", "ended", NULL);
	fake_attr(e, "keyboundPublicKey", ED1, NULL);
	fake_attr(e, "keyboundAttachment", "alice@web-01", NULL);
	fake_attr(e, "keyboundAttachmentEnd", end2, end1);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 0);
	CHECK_EQ_INT(a->skipped, 1);
	CHECK_EQ_STR(last_note_detail, "attachment ended");
	lookup_answer_free(a);

	/* direct ended, through a group permanent: served through the group */
	fake_reset();
	fake_group("web", "web-01", NULL);
	e = fake_entry();
	fake_attr(e, "cn", "both", NULL);
	fake_attr(e, "keyboundPublicKey", ED1, NULL);
	fake_attr(e, "keyboundAttachment", "alice@web-01", "alice@+web");
	fake_attr(e, "keyboundAttachmentEnd", end1, NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 1);
	CHECK_EQ_STR(a->keys[0].via, "alice@+web");
	CHECK(a->keys[0].until == NULL);
	CHECK(a->keys[0].not_after == NULL);
	lookup_answer_free(a);

	/* an end value that does not parse: refused, not permanent */
	fake_reset();
	e = fake_entry();
	fake_attr(e, "cn", "badend", NULL);
	fake_attr(e, "keyboundPublicKey", ED1, NULL);
	fake_attr(e, "keyboundAttachment", "alice@web-01", NULL);
	fake_attr(e, "keyboundAttachmentEnd", "alice@web-01 tomorrow", NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 0);
	CHECK_EQ_STR(last_note_detail, "attachment end invalid");
	lookup_answer_free(a);

	/* the time is after the last space: another user's end is not ours */
	fake_reset();
	snprintf(end1, sizeof(end1), "alice@web-01 x %s", past);
	e = fake_entry();
	fake_attr(e, "cn", "spaces", NULL);
	fake_attr(e, "keyboundPublicKey", ED1, NULL);
	fake_attr(e, "keyboundAttachment", "alice@web-01", NULL);
	fake_attr(e, "keyboundAttachmentEnd", end1, NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 1);
	lookup_answer_free(a);

	/* blocked: TRUE or anything but FALSE */
	fake_reset();
	e = fake_entry();
	fake_attr(e, "cn", "blocked", NULL);
	fake_attr(e, "keyboundPublicKey", ED1, NULL);
	fake_attr(e, "keyboundAttachment", "alice@web-01", NULL);
	fake_attr(e, "keyboundBlocked", "TRUE", NULL);
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 0);
	CHECK_EQ_INT(last_note_err, KB_ERR_KEY_BLOCKED);
	lookup_answer_free(a);
	e->vals[3][0].bytes = "true";
	e->vals[3][0].len = 4;
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 0);
	lookup_answer_free(a);
	e->vals[3][0].bytes = "FALSE";
	e->vals[3][0].len = 5;
	CHECK_EQ_INT(run("alice", NULL, &a), 0);
	CHECK_EQ_INT(a->nkeys, 1);
	lookup_answer_free(a);
}

int
main(void)
{
	test_gentime();
	test_add_key();
	test_directory_rechecks();
	test_max_keys();
	test_max_keys_stream();
	test_lpk();
	test_templates();
	test_groups();
	test_timebox_blocked();
	return tap_done();
}
