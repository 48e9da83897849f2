/*
 * test_pam_direct - dlopen pam_keybound.so and call pam_sm_authenticate
 * directly over the whole case corpus: every hostile and invalid user name,
 * every helper outcome, every argument combination including bad ones.
 * PAM_SUCCESS must come back zero times.
 *
 * The module's helper path is fixed at build time, so the test builds its
 * own copy (make B=TMP KB_HELPER=TMP/bin/keybound-keys) whose helper is a
 * symlink to tests/tools/pam-fake-helper, steered by TMP/bin/fake-mode.
 * It needs a real libpam handle: pam_start_confdir with a private
 * configuration directory (never /etc/pam.d).
 *
 * The module resolves PAM_USER through NSS and asks the helper about the
 * account's name: the test user is an account every system has (daemon,
 * bin, ...), looked up at start; a name that is no account is refused
 * with PAM_USER_UNKNOWN before the helper runs.
 *
 * exclude= (the break-glass account) steps aside for the accounts it names
 * without running the helper, whatever the helper would say and whatever
 * on_error says; it never turns a name that is no account, or an invalid
 * one, into anything but PAM_USER_UNKNOWN.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "tap.h"
#include "../tools/pam-corpus.h"

typedef int (*pam_sm_fn)(pam_handle_t *, int, int, const char **);

static char tmpdir[] = "/tmp/kbpamdirect.XXXXXX";
/* tmpdir is short: these bounds hold every path built from it */
static char bindir[64], confdir[64], helper[128], modepath[128];
static char callspath[128], module[192];
static pam_sm_fn sm_auth, sm_setcred;
static pam_handle_t *pamh;
static int info_msgs;
static long successes, calls_total;
/*
 * The test account and the users= and exclude= arguments naming it
 * (set_account()); exclude_upper names it in upper case, which is another
 * name; exclude_full is exactly PK_USERS_MAX (4096) bytes ending with it,
 * exclude_long one byte more.
 */
static char account[64], users_listed[96], users_only[80];
static char exclude_listed[96], exclude_only[80], exclude_upper[80];
static char exclude_full[8 + 4096 + 1], exclude_long[8 + 4097 + 1];

#define MAXARGS 8

/* One argument set: its words and what a bad one must produce. */
struct argset {
	const char *words[MAXARGS];
	int bad;		/* PAM_SERVICE_ERR expected */
	int allow;		/* on_error=allow */
	int scoped_out;		/* users= leaves the test user out */
	int notify;
	int excluded;		/* exclude= names the test user */
};

static const struct argset good_args[] = {
	{ { NULL }, 0, 0, 0, 0, 0 },
	{ { "on_error=deny", NULL }, 0, 0, 0, 0, 0 },
	{ { "on_error=allow", NULL }, 0, 1, 0, 0, 0 },
	{ { "notify", "debug", NULL }, 0, 0, 0, 1, 0 },
	{ { "config=/etc/keybound/other.conf", "timeout=5", NULL },
	    0, 0, 0, 0, 0 },
	{ { "users=root", NULL }, 0, 0, 1, 0, 0 },
	{ { users_listed, "on_error=allow", NULL },
	    0, 1, 0, 0, 0 },
	{ { users_only, "notify", "on_error=deny", "debug",
	    "timeout=120", "config=/x/y.conf", NULL }, 0, 0, 0, 1, 0 },
	{ { "exclude=root", NULL }, 0, 0, 0, 0, 0 },
	{ { exclude_upper, "notify", NULL }, 0, 0, 0, 1, 0 },
	{ { users_only, "exclude=root,adm", NULL }, 0, 0, 0, 0, 0 },
	{ { exclude_only, NULL }, 0, 0, 0, 0, 1 },
	{ { exclude_listed, "on_error=deny", "notify", NULL }, 0, 0, 0, 1, 1 },
	{ { "users=root", exclude_only, "debug", NULL }, 0, 0, 1, 0, 1 },
	{ { exclude_full, "timeout=1", NULL }, 0, 0, 0, 0, 1 },
};

static const struct argset bad_args[] = {
	{ { "bogus", NULL }, 1, 0, 0, 0, 0 },
	{ { "", NULL }, 1, 0, 0, 0, 0 },
	{ { "config=", NULL }, 1, 0, 0, 0, 0 },
	{ { "config=relative.conf", NULL }, 1, 0, 0, 0, 0 },
	{ { "config=/etc/a\nb", NULL }, 1, 0, 0, 0, 0 },
	{ { "config=/", NULL }, 1, 0, 0, 0, 0 },
	{ { "users=", NULL }, 1, 0, 0, 0, 0 },
	{ { "users=,root", NULL }, 1, 0, 0, 0, 0 },
	{ { "users=root,", NULL }, 1, 0, 0, 0, 0 },
	{ { "users=root,,adm", NULL }, 1, 0, 0, 0, 0 },
	{ { "users=-root", NULL }, 1, 0, 0, 0, 0 },
	{ { "users= root", NULL }, 1, 0, 0, 0, 0 },
	{ { "on_error=", NULL }, 1, 0, 0, 0, 0 },
	{ { "on_error=maybe", NULL }, 1, 0, 0, 0, 0 },
	{ { "on_error=ALLOW", NULL }, 1, 0, 0, 0, 0 },
	{ { "timeout=0", NULL }, 1, 0, 0, 0, 0 },
	{ { "timeout=-1", NULL }, 1, 0, 0, 0, 0 },
	{ { "timeout=121", NULL }, 1, 0, 0, 0, 0 },
	{ { "timeout=1x", NULL }, 1, 0, 0, 0, 0 },
	{ { "timeout= 5", NULL }, 1, 0, 0, 0, 0 },
	{ { "timeout=", NULL }, 1, 0, 0, 0, 0 },
	{ { "timeout=99999999999999999999", NULL }, 1, 0, 0, 0, 0 },
	{ { "notify=1", NULL }, 1, 0, 0, 0, 0 },
	{ { "debug=yes", NULL }, 1, 0, 0, 0, 0 },
	{ { "DEBUG", NULL }, 1, 0, 0, 0, 0 },
	{ { "use_first_pass", NULL }, 1, 0, 0, 0, 0 },
	{ { "notify", "notify", NULL }, 1, 0, 0, 0, 0 },
	{ { "on_error=deny", "on_error=allow", NULL }, 1, 0, 0, 0, 0 },
	{ { "config=/a", "config=/b", NULL }, 1, 0, 0, 0, 0 },
	{ { "on_error=allow", "users=root", "nonsense", NULL }, 1, 0, 0, 0, 0 },
	{ { "on_error=allow", "\x1b[31m", NULL }, 1, 0, 0, 0, 0 },
	{ { "exclude=", NULL }, 1, 0, 0, 0, 0 },
	{ { "exclude", NULL }, 1, 0, 0, 0, 0 },
	{ { "EXCLUDE=root", NULL }, 1, 0, 0, 0, 0 },
	{ { "exclude=,root", NULL }, 1, 0, 0, 0, 0 },
	{ { "exclude=root,", NULL }, 1, 0, 0, 0, 0 },
	{ { "exclude=root,,adm", NULL }, 1, 0, 0, 0, 0 },
	{ { "exclude=-root", NULL }, 1, 0, 0, 0, 0 },
	{ { "exclude= root", NULL }, 1, 0, 0, 0, 0 },
	{ { "exclude=root ", NULL }, 1, 0, 0, 0, 0 },
	{ { "exclude=ro\x01ot", NULL }, 1, 0, 0, 0, 0 },
	{ { "exclude=ro\x7fot", NULL }, 1, 0, 0, 0, 0 },
	{ { "exclude=\xff", NULL }, 1, 0, 0, 0, 0 },
	{ { exclude_long, NULL }, 1, 0, 0, 0, 0 },
	{ { "exclude=root", "exclude=adm", NULL }, 1, 0, 0, 0, 0 },
	{ { exclude_only, exclude_only, NULL }, 1, 0, 0, 0, 0 },
	{ { "users=root", "exclude=root", NULL }, 1, 0, 0, 0, 0 },
	{ { "users=root,adm", "exclude=lp,adm", NULL }, 1, 0, 0, 0, 0 },
	{ { "exclude=adm,root", "users=root,adm", NULL }, 1, 0, 0, 0, 0 },
	{ { users_only, exclude_only, NULL }, 1, 0, 0, 0, 0 },
	{ { users_listed, exclude_listed, "on_error=allow", NULL },
	    1, 0, 0, 0, 0 },
	{ { exclude_only, "on_error=sometimes", NULL }, 1, 0, 0, 0, 0 },
};

#define NGOOD	(sizeof(good_args) / sizeof(good_args[0]))
#define NBAD	(sizeof(bad_args) / sizeof(bad_args[0]))

/* Helper behaviours and the verdict each must produce. */
enum expect { EXPECT_ATTACHED, EXPECT_NOT_ATTACHED, EXPECT_ERROR };

static const struct {
	const char *mode;
	enum expect expect;
} modes[] = {
	{ "exit 0", EXPECT_ATTACHED },
	{ "exit 3", EXPECT_NOT_ATTACHED },
	{ "check", EXPECT_NOT_ATTACHED },
	{ "exit 1", EXPECT_ERROR },
	{ "exit 2", EXPECT_ERROR },
	{ "exit 4", EXPECT_ERROR },
	{ "exit 42", EXPECT_ERROR },
	{ "exit 126", EXPECT_ERROR },
	{ "exit 127", EXPECT_ERROR },
	{ "exit 255", EXPECT_ERROR },
	{ "signal", EXPECT_ERROR },
};

#define NMODES	(sizeof(modes) / sizeof(modes[0]))

static int
converse(int n, const struct pam_message **msg, struct pam_response **resp,
    void *appdata)
{
	int i;

	*resp = NULL;
	for (i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_TEXT_INFO)
			info_msgs++;
		else
			return PAM_CONV_ERR;	/* no prompts expected */
	return PAM_SUCCESS;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static void
set_mode(const char *mode)
{
	write_file(modepath, mode);
}

static long
helper_calls(void)
{
	FILE *f = fopen(callspath, "re");
	long n = 0;
	int c;

	if (f == NULL)
		return -1;
	while ((c = fgetc(f)) != EOF)
		if (c == '\n')
			n++;
	fclose(f);
	return n;
}

static long
count_fds(void)
{
	struct dirent *de;
	DIR *d;
	long n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static long
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Run make and wait for it. */
static int
build_module(const char *src)
{
	char bdir[96], target[160], hdef[160], bvar[128];
	char *argv[12];
	int argc = 0, status;
	pid_t pid;

	snprintf(bdir, sizeof(bdir), "%s/build", tmpdir);
	snprintf(bvar, sizeof(bvar), "B=%s", bdir);
	snprintf(hdef, sizeof(hdef), "KB_HELPER=%s", helper);
	snprintf(target, sizeof(target), "%s/pam_keybound.so", bdir);
	snprintf(module, sizeof(module), "%s", target);
	argv[argc++] = (char *)(uintptr_t)"make";
	argv[argc++] = (char *)(uintptr_t)"-s";
	argv[argc++] = (char *)(uintptr_t)"-j4";
	argv[argc++] = (char *)(uintptr_t)"-C";
	argv[argc++] = (char *)(uintptr_t)src;
	argv[argc++] = bvar;
	argv[argc++] = hdef;
#if defined(__SANITIZE_ADDRESS__)
	argv[argc++] = (char *)(uintptr_t)"SAN=1";
#endif
	argv[argc++] = target;
	argv[argc] = NULL;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		/*
		 * A fresh make: no sanitizer preload, no jobserver or
		 * variable overrides inherited from a make check above us.
		 */
		unsetenv("LD_PRELOAD");
		unsetenv("MAKEFLAGS");
		unsetenv("MFLAGS");
		unsetenv("MAKELEVEL");
		execvp("make", argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int
call_auth(const struct argset *a, const char *user, int flags)
{
	const char *argv[MAXARGS];
	int argc = 0, r;

	while (argc < MAXARGS && a->words[argc] != NULL) {
		argv[argc] = a->words[argc];
		argc++;
	}
	if (pam_set_item(pamh, PAM_USER, user) != PAM_SUCCESS) {
		fprintf(stderr, "pam_set_item failed\n");
		exit(1);
	}
	r = sm_auth(pamh, flags, argc, argv);
	calls_total++;
	if (r == PAM_SUCCESS)
		successes++;
	return r;
}

static int
expected_code(const struct argset *a, enum expect e)
{
	if (a->bad)
		return PAM_SERVICE_ERR;
	if (a->scoped_out || a->excluded)
		return PAM_IGNORE;
	switch (e) {
	case EXPECT_ATTACHED:
		return PAM_AUTH_ERR;
	case EXPECT_NOT_ATTACHED:
		return PAM_IGNORE;
	case EXPECT_ERROR:
	default:
		return a->allow ? PAM_IGNORE : PAM_AUTHINFO_UNAVAIL;
	}
}

/* Invalid names: PAM_USER_UNKNOWN (or the argument error), helper idle. */
static void
test_invalid_names(char **names, size_t n)
{
	size_t i, j;
	long before;

	set_mode("exit 0");
	before = helper_calls();
	for (i = 0; i < n; i++) {
		for (j = 0; j < NGOOD; j++)
			CHECK_EQ_INT(call_auth(&good_args[j], names[i], 0),
			    PAM_USER_UNKNOWN);
		for (j = 0; j < NBAD; j += 5)
			CHECK_EQ_INT(call_auth(&bad_args[j], names[i], 0),
			    PAM_SERVICE_ERR);
	}
	CHECK_EQ_INT(helper_calls(), before);
}

/*
 * Valid but hostile names: none is an account, so whatever the helper
 * would say and whatever the arguments, PAM_USER_UNKNOWN, helper idle.
 * (Should one ever name an account here, it gets the helper's mapping.)
 */
static void
test_hostile_names(char **names, size_t n)
{
	static const struct argset plain = { { NULL }, 0, 0, 0, 0, 0 };
	static const struct argset allow = { { "on_error=allow", NULL },
	    0, 1, 0, 0, 0 };
	static const struct argset scoped = { { "users=root", NULL },
	    0, 0, 1, 0, 0 };
	struct argset excl = { { NULL }, 0, 0, 0, 0, 1 };
	char exclude_name[8 + 256 + 1];
	size_t i, m;
	long before, runs = 0;

	before = helper_calls();
	for (m = 0; m < 4; m++) {
		set_mode(modes[m].mode);
		for (i = 0; i < n; i++) {
			if (getpwnam(names[i]) != NULL) {
				CHECK_EQ_INT(call_auth(&plain, names[i], 0),
				    expected_code(&plain, modes[m].expect));
				runs++;
				continue;
			}
			CHECK_EQ_INT(call_auth(&plain, names[i], 0),
			    PAM_USER_UNKNOWN);
			CHECK_EQ_INT(call_auth(&allow, names[i], 0),
			    PAM_USER_UNKNOWN);
			CHECK_EQ_INT(call_auth(&scoped, names[i], 0),
			    PAM_USER_UNKNOWN);
			/* Excluding a name that is no account changes nothing. */
			snprintf(exclude_name, sizeof(exclude_name),
			    "exclude=%s", names[i]);
			if (strchr(names[i], ',') != NULL ||
			    strlen(names[i]) > 256)
				continue;
			excl.words[0] = exclude_name;
			CHECK_EQ_INT(call_auth(&excl, names[i], 0),
			    PAM_USER_UNKNOWN);
		}
	}
	CHECK_EQ_INT(helper_calls(), before + runs);
}

/* The last name the helper was asked about, hex encoded, into buf. */
static void
last_call(char *buf, size_t bufsz)
{
	char line[2 * 256 + 2];
	FILE *f = fopen(callspath, "re");

	buf[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		snprintf(buf, bufsz, "%.*s", (int)strcspn(line, "\n"), line);
	fclose(f);
}

/*
 * The helper is asked about the account's own name (pw_name); a valid
 * name that is no account never reaches it, whatever the arguments.
 */
static void
test_account_names(void)
{
	static const char *const unknown[] = { "kbdirect-no-such-user",
	    "KBDIRECT", "nobody-kb" };
	char want[2 * sizeof(account) + 1], got[2 * 256 + 1];
	size_t i, j;
	long before;

	for (i = 0; account[i] != '\0'; i++)
		snprintf(want + 2 * i, 3, "%02x", (unsigned char)account[i]);
	want[2 * i] = '\0';
	set_mode("exit 3");
	before = helper_calls();
	CHECK_EQ_INT(call_auth(&good_args[0], account, 0), PAM_IGNORE);
	CHECK_EQ_INT(helper_calls(), before + 1);
	last_call(got, sizeof(got));
	CHECK(strcmp(got, want) == 0);

	set_mode("exit 0");
	before = helper_calls();
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		if (getpwnam(unknown[i]) != NULL)
			continue;
		for (j = 0; j < NGOOD; j++)
			CHECK_EQ_INT(call_auth(&good_args[j], unknown[i], 0),
			    PAM_USER_UNKNOWN);
	}
	CHECK_EQ_INT(helper_calls(), before);
}

/* Every helper outcome against every argument set. */
static void
test_outcomes(void)
{
	size_t i, j;
	long before;
	int expect;

	for (i = 0; i < NMODES; i++) {
		set_mode(modes[i].mode);
		for (j = 0; j < NGOOD; j++) {
			before = helper_calls();
			info_msgs = 0;
			expect = expected_code(&good_args[j], modes[i].expect);
			CHECK_EQ_INT(call_auth(&good_args[j], account, 0),
			    expect);
			CHECK_EQ_INT(helper_calls(), before +
			    (good_args[j].scoped_out || good_args[j].excluded ?
			    0 : 1));
			CHECK_EQ_INT(info_msgs, good_args[j].notify &&
			    expect == PAM_AUTH_ERR ? 1 : 0);
		}
		before = helper_calls();
		for (j = 0; j < NBAD; j++)
			CHECK_EQ_INT(call_auth(&bad_args[j], account, 0),
			    PAM_SERVICE_ERR);
		CHECK_EQ_INT(helper_calls(), before);
	}
}

/* notify is quiet under PAM_SILENT. */
static void
test_notify_silent(void)
{
	static const struct argset notify = { { "notify", NULL }, 0, 0, 0, 1, 0 };

	set_mode("exit 0");
	info_msgs = 0;
	CHECK_EQ_INT(call_auth(&notify, account, PAM_SILENT),
	    PAM_AUTH_ERR);
	CHECK_EQ_INT(info_msgs, 0);
	CHECK_EQ_INT(call_auth(&notify, account, 0), PAM_AUTH_ERR);
	CHECK_EQ_INT(info_msgs, 1);
}

/* Helper missing, not executable, a directory: on_error decides. */
static void
test_helper_broken(void)
{
	static const struct argset deny = { { NULL }, 0, 0, 0, 0, 0 };
	static const struct argset allow = { { "on_error=allow", NULL },
	    0, 1, 0, 0, 0 };
	char plain_file[128];
	const char *targets[] = { NULL, plain_file, "/" };
	size_t i;

	/* a file that exists but is not executable */
	snprintf(plain_file, sizeof(plain_file), "%s/not-exec", bindir);
	write_file(plain_file, "#!/bin/sh\nexit 3\n");
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		CHECK(unlink(helper) == 0 || errno == ENOENT);
		if (targets[i] != NULL)
			CHECK(symlink(targets[i], helper) == 0);
		CHECK_EQ_INT(call_auth(&deny, account, 0),
		    PAM_AUTHINFO_UNAVAIL);
		CHECK_EQ_INT(call_auth(&allow, account, 0), PAM_IGNORE);
		/* no account: refused before the (broken) helper matters */
		CHECK_EQ_INT(call_auth(&deny, "bogus)(uid=*", 0),
		    PAM_USER_UNKNOWN);
	}
}

/* A hanging helper is killed at the deadline; on_error decides. */
static void
test_timeout(void)
{
	static const struct argset deny = { { "timeout=1", NULL },
	    0, 0, 0, 0, 0 };
	static const struct argset allow = { { "timeout=1",
	    "on_error=allow", NULL }, 0, 1, 0, 0, 0 };
	long t0, ms;

	set_mode("sleep 30");
	t0 = now_ms();
	CHECK_EQ_INT(call_auth(&deny, account, 0), PAM_AUTHINFO_UNAVAIL);
	ms = now_ms() - t0;
	CHECK(ms >= 900 && ms < 4000);
	t0 = now_ms();
	CHECK_EQ_INT(call_auth(&allow, account, 0), PAM_IGNORE);
	ms = now_ms() - t0;
	CHECK(ms >= 900 && ms < 4000);
}

/* SIGCHLD ignored by the host (children auto-reaped) still works. */
static void
test_sigchld_ignored(void)
{
	static const struct argset plain = { { NULL }, 0, 0, 0, 0, 0 };
	struct sigaction ign, old, now;

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	CHECK(sigaction(SIGCHLD, &ign, &old) == 0);
	set_mode("exit 0");
	CHECK_EQ_INT(call_auth(&plain, account, 0), PAM_AUTH_ERR);
	set_mode("exit 3");
	CHECK_EQ_INT(call_auth(&plain, account, 0), PAM_IGNORE);
	CHECK(sigaction(SIGCHLD, NULL, &now) == 0);
	CHECK(now.sa_handler == SIG_IGN);
	CHECK(sigaction(SIGCHLD, &old, NULL) == 0);
}

/* A host with SIGCHLD blocked: the child is still waited for in time. */
static void
test_sigchld_blocked(void)
{
	static const struct argset plain = { { "timeout=2", NULL },
	    0, 0, 0, 0, 0 };
	sigset_t block, old, now;
	long t0;

	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	CHECK(sigprocmask(SIG_BLOCK, &block, &old) == 0);
	set_mode("exit 3");
	t0 = now_ms();
	CHECK_EQ_INT(call_auth(&plain, account, 0), PAM_IGNORE);
	CHECK(now_ms() - t0 < 1500);
	set_mode("exit 0");
	CHECK_EQ_INT(call_auth(&plain, account, 0), PAM_AUTH_ERR);
	CHECK(sigprocmask(SIG_SETMASK, &old, &now) == 0);
	CHECK(sigismember(&now, SIGCHLD));
}

static void
test_setcred(void)
{
	const char *argv[] = { "bogus" };

	CHECK_EQ_INT(sm_setcred(pamh, 0, 0, NULL), PAM_IGNORE);
	CHECK_EQ_INT(sm_setcred(pamh, PAM_ESTABLISH_CRED, 1, argv),
	    PAM_IGNORE);
}

/* No PAM_USER and a conversation that cannot answer. */
static void
test_no_user(void)
{
	const char *argv[1] = { NULL };
	int r;

	CHECK(pam_set_item(pamh, PAM_USER, NULL) == PAM_SUCCESS);
	r = sm_auth(pamh, 0, 0, argv);
	calls_total++;
	if (r == PAM_SUCCESS)
		successes++;
	CHECK_EQ_INT(r, PAM_USER_UNKNOWN);
}

static int
copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in, out, r = -1;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) == -1)
		goto out;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto out;
	r = n == 0 && fchmod(out, mode) == 0 ? 0 : -1;
 out:
	if (out != -1 && close(out) != 0)
		r = -1;
	close(in);
	return r;
}

/*
 * "exclude=" and a list of exactly listlen bytes: one-letter entries (and
 * one two-letter entry to make the length come out), then the account.
 */
static int
fill_list(char *buf, size_t bufsz, size_t listlen)
{
	size_t alen = strlen(account), o = 8, end;

	if (listlen < alen + 3 || 8 + listlen + 1 > bufsz)
		return -1;
	memcpy(buf, "exclude=", 8);
	end = 8 + listlen - alen;
	if ((end - o) % 2 == 1) {
		memcpy(buf + o, "xx,", 3);
		o += 3;
	}
	while (o < end) {
		memcpy(buf + o, "x,", 2);
		o += 2;
	}
	memcpy(buf + o, account, alen + 1);
	return strlen(buf + 8) == listlen ? 0 : -1;
}

/*
 * The test user: an account every system has, not root (users=root must
 * leave it out), spelled as the database spells it.
 */
static int
set_account(void)
{
	static const char *const candidates[] = { "daemon", "bin", "sys",
	    "nobody" };
	struct passwd *pw;
	size_t i;
	char *p;

	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if ((pw = getpwnam(candidates[i])) == NULL || pw->pw_uid == 0 ||
		    strcmp(pw->pw_name, candidates[i]) != 0)
			continue;
		snprintf(account, sizeof(account), "%s", candidates[i]);
		snprintf(users_listed, sizeof(users_listed),
		    "users=root,%s,adm", account);
		snprintf(users_only, sizeof(users_only), "users=%s", account);
		snprintf(exclude_listed, sizeof(exclude_listed),
		    "exclude=root,%s,adm", account);
		snprintf(exclude_only, sizeof(exclude_only), "exclude=%s",
		    account);
		snprintf(exclude_upper, sizeof(exclude_upper), "exclude=%s",
		    account);
		for (p = exclude_upper + 8; *p != '\0'; p++)
			*p = (char)toupper((unsigned char)*p);
		if (fill_list(exclude_full, sizeof(exclude_full), 4096) != 0 ||
		    fill_list(exclude_long, sizeof(exclude_long), 4097) != 0)
			return -1;
		return 0;
	}
	fprintf(stderr, "no account among daemon, bin, sys, nobody\n");
	return -1;
}

static int
setup(const char *src, const char *build)
{
	char path[128], rel[PATH_MAX], fake[PATH_MAX];
	void *h, *sym;

	if (set_account() != 0)
		return -1;
	if (mkdtemp(tmpdir) == NULL || chmod(tmpdir, 0755) != 0)
		return -1;
	snprintf(bindir, sizeof(bindir), "%s/bin", tmpdir);
	snprintf(confdir, sizeof(confdir), "%s/pam.d", tmpdir);
	if (mkdir(bindir, 0755) != 0 || mkdir(confdir, 0755) != 0)
		return -1;
	snprintf(helper, sizeof(helper), "%s/keybound-keys", bindir);
	snprintf(modepath, sizeof(modepath), "%s/fake-mode", bindir);
	snprintf(callspath, sizeof(callspath), "%s/fake-calls", bindir);
	snprintf(rel, sizeof(rel), "%s/tests/tools/pam-fake-helper", build);
	if (realpath(rel, fake) == NULL) {
		fprintf(stderr, "%s: %s (make tests)\n", rel, strerror(errno));
		return -1;
	}
	/* A private copy: a concurrent rebuild must not swap it mid-test. */
	snprintf(path, sizeof(path), "%s/pam-fake-helper", bindir);
	if (copy_file(fake, path, 0755) != 0 || symlink(path, helper) != 0)
		return -1;
	write_file(callspath, "");
	snprintf(path, sizeof(path), "%s/kbdirect", confdir);
	write_file(path, "auth required pam_permit.so\n");
	if (build_module(src) != 0) {
		fprintf(stderr, "building %s failed\n", module);
		return -1;
	}
	if ((h = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return -1;
	}
	/* POSIX: a function pointer round-trips through void *. */
	sym = dlsym(h, "pam_sm_authenticate");
	memcpy(&sm_auth, &sym, sizeof(sym));
	sym = dlsym(h, "pam_sm_setcred");
	memcpy(&sm_setcred, &sym, sizeof(sym));
	if (sm_auth == NULL || sm_setcred == NULL)
		return -1;
	return 0;
}

static void
remove_tree(void)
{
	char cmd[PATH_MAX];
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "%s", tmpdir);
	if (strncmp(cmd, "/tmp/kbpamdirect.", 17) != 0)
		return;
	if ((pid = fork()) == 0) {
		execlp("rm", "rm", "-rf", "--", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
}

int
main(void)
{
	struct pam_conv conv = { converse, NULL };
	const char *src = getenv("KB_SRC"), *build = getenv("KB_BUILD");
	char path[PATH_MAX + 64], **invalid = NULL, **hostile = NULL;
	size_t ninvalid = 0, nhostile = 0;
	long fds_before;

	if (src == NULL)
		src = ".";
	if (build == NULL)
		build = "build";
	if (setup(src, build) != 0) {
		CHECK(!"set-up failed");
		remove_tree();
		return tap_done();
	}
	snprintf(path, sizeof(path), "%s/tests/fixtures/pam/invalid-users.txt",
	    src);
	CHECK(corpus_load(path, &invalid, &ninvalid) == 0);
	CHECK(ninvalid >= 40);
	snprintf(path, sizeof(path), "%s/tests/fixtures/pam/hostile-users.txt",
	    src);
	CHECK(corpus_load(path, &hostile, &nhostile) == 0);
	CHECK(nhostile >= 20);
	CHECK_EQ_INT(pam_start_confdir("kbdirect", "kbdirect", &conv, confdir,
	    &pamh), PAM_SUCCESS);
	if (pamh == NULL) {
		remove_tree();
		return tap_done();
	}

	/* Log like any PAM host: libc's syslog socket is open from now on. */
	openlog("test_pam_direct", LOG_NDELAY | LOG_PID, LOG_AUTHPRIV);
	fds_before = count_fds();
	test_invalid_names(invalid, ninvalid);
	test_hostile_names(hostile, nhostile);
	test_account_names();
	test_outcomes();
	test_notify_silent();
	test_sigchld_ignored();
	test_sigchld_blocked();
	test_timeout();
	test_helper_broken();
	test_setcred();
	test_no_user();
	CHECK_EQ_INT(count_fds(), fds_before);
	CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);

	printf("%ld direct calls, %ld returned PAM_SUCCESS\n", calls_total,
	    successes);
	CHECK(calls_total > 1000);
	CHECK_EQ_INT(successes, 0);

	pam_end(pamh, PAM_SUCCESS);
	corpus_free(invalid, ninvalid);
	corpus_free(hostile, nhostile);
	remove_tree();
	return tap_done();
}
