/*
 * test_directory.c - the directory client's contract without a server:
 * argument checks, out-params cleared, refused loopback URIs failing fast
 * under the deadline with printable error text, the environment set up
 * before libldap runs, NULL-safe accessors.  The real-server paths are in
 * tests/integration/directory_*.sh.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kb.h"
#include "clock.h"
#include "config.h"
#include "directory.h"
#include "tap.h"

static struct kb_config *
load(const char *text)
{
	struct kb_config *cfg = NULL;

	if (config_parse_buffer("test.conf", text, strlen(text), NULL, NULL,
	    &cfg) != 0)
		return NULL;
	return cfg;
}

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static int
never_called(void *ctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	(void)ctx;
	(void)dn;
	(void)attrs;
	(void)nattrs;
	return KB_ERR_INTERNAL;
}

static void
test_arguments(void)
{
	struct kb_config *cfg;
	struct kb_dir *d = (struct kb_dir *)1;
	struct timespec dl;
	char err[64];
	size_t dropped = 7;
	const char *attrs[] = { "cn", NULL };

	cfg = load("uri ldap://127.0.0.1:1\nbase dc=x\nstarttls no\n");
	CHECK(cfg != NULL);
	deadline_set(&dl, 1000);
	CHECK_EQ_INT(dir_open(NULL, NULL, &dl, &d, err, sizeof(err)),
	    KB_ERR_INVALID_ARG);
	CHECK(d == NULL);
	d = (struct kb_dir *)1;
	CHECK_EQ_INT(dir_open(cfg, NULL, NULL, &d, err, sizeof(err)),
	    KB_ERR_INVALID_ARG);
	CHECK(d == NULL);
	CHECK_EQ_INT(dir_open(cfg, NULL, &dl, NULL, NULL, 0),
	    KB_ERR_INVALID_ARG);
	CHECK_EQ_INT(dir_search(NULL, "dc=x", KB_SCOPE_SUB, "(cn=a)", attrs,
	    0, never_called, NULL, &dropped), KB_ERR_INVALID_ARG);
	CHECK_EQ_INT(dropped, 0);
	CHECK_EQ_INT(dir_add(NULL, "cn=a", NULL, 0), KB_ERR_INVALID_ARG);
	CHECK_EQ_INT(dir_modify(NULL, "cn=a", NULL, 0, NULL, 0),
	    KB_ERR_INVALID_ARG);
	CHECK_EQ_INT(dir_delete(NULL, "cn=a", NULL), KB_ERR_INVALID_ARG);
	CHECK_EQ_STR(dir_uri(NULL), "");
	CHECK_EQ_STR(dir_bind_identity(NULL), "anonymous");
	CHECK_EQ_STR(dir_last_error(NULL), "");
	dir_close(NULL);
	config_free(cfg);
}

/* Every URI refused: KB_ERR_DIR_UNAVAILABLE, fast, all of them named. */
static void
test_refused(void)
{
	struct kb_config *cfg;
	struct kb_dir *d = (struct kb_dir *)1;
	struct timespec dl, start;
	char err[512];

	cfg = load("uri ldap://127.0.0.1:1 ldaps://127.0.0.1:2\n"
	    "uri ldap://127.0.0.1:3\nbase dc=x\nstarttls no\n"
	    "timeout 3\nnetwork_timeout 1\n");
	CHECK(cfg != NULL);
	if (cfg == NULL)
		return;
	clock_now(&start);
	deadline_set(&dl, 3000);
	CHECK_EQ_INT(dir_open(cfg, NULL, &dl, &d, err, sizeof(err)),
	    KB_ERR_DIR_UNAVAILABLE);
	CHECK(d == NULL);
	/* valgrind runs libldap's start-up some 50 times slower */
	CHECK(clock_elapsed_ms(&start) <
	    (getenv("KB_UNDER_VALGRIND") != NULL ? 5000 : 1000));
	CHECK(strstr(err, "127.0.0.1:1") != NULL);
	CHECK(strstr(err, "127.0.0.1:2") != NULL);
	CHECK(strstr(err, "127.0.0.1:3") != NULL);
	CHECK(printable(err));
	/* A one-byte buffer still ends up a valid (empty) string. */
	CHECK_EQ_INT(dir_open(cfg, NULL, &dl, &d, err, 1),
	    KB_ERR_DIR_UNAVAILABLE);
	CHECK_EQ_INT(err[0], '\0');
	config_free(cfg);
}

/* A deadline already passed: nothing is tried. */
static void
test_deadline_passed(void)
{
	struct kb_config *cfg;
	struct kb_dir *d = NULL;
	struct timespec dl;
	char err[256];

	cfg = load("uri ldap://127.0.0.1:1\nbase dc=x\nstarttls no\n");
	CHECK(cfg != NULL);
	if (cfg == NULL)
		return;
	deadline_set(&dl, 0);
	CHECK_EQ_INT(dir_open(cfg, NULL, &dl, &d, err, sizeof(err)),
	    KB_ERR_DIR_UNAVAILABLE);
	CHECK(d == NULL);
	config_free(cfg);
}

/* The admin override: an empty password is refused before connecting. */
static void
test_override(void)
{
	struct kb_config *cfg;
	struct kb_dir_auth auth;
	struct kb_dir *d = NULL;
	struct timespec dl;
	char err[256];

	cfg = load("uri ldap://127.0.0.1:1\nbase dc=x\nstarttls no\n");
	CHECK(cfg != NULL);
	if (cfg == NULL)
		return;
	memset(&auth, 0, sizeof(auth));
	auth.binddn = "cn=admin,dc=x";
	auth.password = "";
	auth.passwordlen = 0;
	deadline_set(&dl, 1000);
	CHECK_EQ_INT(dir_open(cfg, &auth, &dl, &d, err, sizeof(err)),
	    KB_ERR_DIR_AUTH);
	CHECK(strstr(err, "empty") != NULL);
	auth.password = NULL;
	CHECK_EQ_INT(dir_open(cfg, &auth, &dl, &d, err, sizeof(err)),
	    KB_ERR_DIR_AUTH);
	/* -H replaces the configured URIs. */
	auth.binddn = NULL;
	auth.uri = "ldap://127.0.0.1:4";
	CHECK_EQ_INT(dir_open(cfg, &auth, &dl, &d, err, sizeof(err)),
	    KB_ERR_DIR_UNAVAILABLE);
	CHECK(strstr(err, "127.0.0.1:4") != NULL);
	CHECK(strstr(err, "127.0.0.1:1") == NULL);
	CHECK(d == NULL);
	config_free(cfg);
}

/* dir_open keeps libldap's environment and ldaprc files out. */
static void
test_environment(void)
{
	struct kb_config *cfg;
	struct kb_dir *d = NULL;
	struct timespec dl;
	const char *v;

	cfg = load("uri ldap://127.0.0.1:1\nbase dc=x\nstarttls no\n");
	CHECK(cfg != NULL);
	if (cfg == NULL)
		return;
	setenv("SASL_PATH", "/tmp", 1);
	deadline_set(&dl, 1000);
	(void)dir_open(cfg, NULL, &dl, &d, NULL, 0);
	v = getenv("LDAPNOINIT");
	CHECK(v != NULL);
	v = getenv("SASL_PATH");
	CHECK_EQ_STR(v, "/proc/self/fdinfo");
	dir_close(d);
	config_free(cfg);
}

int
main(void)
{
	test_arguments();
	test_refused();
	test_deadline_passed();
	test_override();
	test_environment();
	return tap_done();
}
