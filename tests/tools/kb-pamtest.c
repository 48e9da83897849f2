/*
 * kb-pamtest - drive real libpam with a private configuration directory
 * (pam_start_confdir), so tests never read or write /etc/pam.d.
 *
 *   kb-pamtest -d CONFDIR [-s SERVICE] [-p PASSWORD] [-x] USER
 *	one pam_authenticate; prints conversation messages as "info: TEXT"
 *	or "error: TEXT", then the result name (e.g. PAM_AUTH_ERR)
 *   kb-pamtest -d CONFDIR [-s SERVICE] [-p PASSWORD] -f CORPUS
 *	one pam_authenticate per name of a corpus file (tests/tools/
 *	pam-corpus.h); prints "RESULT<TAB>INDEX" per name, then
 *	"total=N success=N"
 *   kb-pamtest -d CONFDIR ... -n COUNT [-e RESULT] [-F NFDS] [-S] USER
 *	COUNT rounds of pam_start/pam_authenticate/pam_end in this process;
 *	with -F first opens NFDS more descriptors (not close-on-exec); with
 *	-S installs a SIGCHLD handler and a blocked SIGUSR1 first.  It opens
 *	its syslog connection first, as a real host has.  Fails
 *	(exit 1) if any result differs from RESULT, the descriptor count
 *	changes, a child is left behind, or (-S) the SIGCHLD disposition or
 *	the signal mask is not what it was.
 *   kb-pamtest -D MODULE
 *	dlopen MODULE with RTLD_NOW and look up pam_sm_authenticate and
 *	pam_sm_setcred.
 *
 * -x: USER is written with the corpus escapes (\xNN, \\).
 * Exit status: 0 when the run itself worked (whatever PAM answered), 1 on
 * a failed check, 2 on usage or set-up errors.
 */
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "pam-corpus.h"

#define NRESULTS	40

struct opts {
	const char *confdir;
	const char *service;
	const char *password;
	const char *expect;
	const char *corpus;
	const char *module;
	long count;
	long extra_fds;
	int sigcheck;
	int escaped;
};

static const char *const result_names[NRESULTS] = {
	[PAM_SUCCESS] = "PAM_SUCCESS",
	[PAM_OPEN_ERR] = "PAM_OPEN_ERR",
	[PAM_SYMBOL_ERR] = "PAM_SYMBOL_ERR",
	[PAM_SERVICE_ERR] = "PAM_SERVICE_ERR",
	[PAM_SYSTEM_ERR] = "PAM_SYSTEM_ERR",
	[PAM_BUF_ERR] = "PAM_BUF_ERR",
	[PAM_PERM_DENIED] = "PAM_PERM_DENIED",
	[PAM_AUTH_ERR] = "PAM_AUTH_ERR",
	[PAM_CRED_INSUFFICIENT] = "PAM_CRED_INSUFFICIENT",
	[PAM_AUTHINFO_UNAVAIL] = "PAM_AUTHINFO_UNAVAIL",
	[PAM_USER_UNKNOWN] = "PAM_USER_UNKNOWN",
	[PAM_MAXTRIES] = "PAM_MAXTRIES",
	[PAM_NEW_AUTHTOK_REQD] = "PAM_NEW_AUTHTOK_REQD",
	[PAM_ACCT_EXPIRED] = "PAM_ACCT_EXPIRED",
	[PAM_SESSION_ERR] = "PAM_SESSION_ERR",
	[PAM_CRED_UNAVAIL] = "PAM_CRED_UNAVAIL",
	[PAM_CRED_EXPIRED] = "PAM_CRED_EXPIRED",
	[PAM_CRED_ERR] = "PAM_CRED_ERR",
	[PAM_NO_MODULE_DATA] = "PAM_NO_MODULE_DATA",
	[PAM_CONV_ERR] = "PAM_CONV_ERR",
	[PAM_AUTHTOK_ERR] = "PAM_AUTHTOK_ERR",
	[PAM_AUTHTOK_RECOVERY_ERR] = "PAM_AUTHTOK_RECOVERY_ERR",
	[PAM_AUTHTOK_LOCK_BUSY] = "PAM_AUTHTOK_LOCK_BUSY",
	[PAM_AUTHTOK_DISABLE_AGING] = "PAM_AUTHTOK_DISABLE_AGING",
	[PAM_TRY_AGAIN] = "PAM_TRY_AGAIN",
	[PAM_IGNORE] = "PAM_IGNORE",
	[PAM_ABORT] = "PAM_ABORT",
	[PAM_AUTHTOK_EXPIRED] = "PAM_AUTHTOK_EXPIRED",
	[PAM_MODULE_UNKNOWN] = "PAM_MODULE_UNKNOWN",
	[PAM_BAD_ITEM] = "PAM_BAD_ITEM",
	[PAM_CONV_AGAIN] = "PAM_CONV_AGAIN",
	[PAM_INCOMPLETE] = "PAM_INCOMPLETE",
};

static const char *
result_name(int r)
{
	if (r >= 0 && r < NRESULTS && result_names[r] != NULL)
		return result_names[r];
	return "PAM_UNKNOWN_RESULT";
}

static int quiet;

/* Answer password prompts with the password; print the rest. */
static int
converse(int n, const struct pam_message **msg, struct pam_response **resp,
    void *appdata)
{
	const char *password = appdata;
	struct pam_response *r;
	int i;

	*resp = NULL;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	if ((r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
		case PAM_PROMPT_ECHO_ON:
			if (password == NULL ||
			    (r[i].resp = strdup(password)) == NULL)
				goto fail;
			break;
		case PAM_TEXT_INFO:
			if (!quiet)
				printf("info: %s\n", msg[i]->msg);
			break;
		case PAM_ERROR_MSG:
			if (!quiet)
				printf("error: %s\n", msg[i]->msg);
			break;
		default:
			goto fail;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
 fail:
	for (i = 0; i < n; i++)
		free(r[i].resp);
	free(r);
	return PAM_CONV_ERR;
}

/* One pam_start_confdir / pam_authenticate / pam_end round. */
static int
authenticate(const struct opts *o, const char *user)
{
	struct pam_conv conv = { converse, NULL };
	pam_handle_t *pamh = NULL;
	int r;

	conv.appdata_ptr = (void *)(uintptr_t)o->password;
	r = pam_start_confdir(o->service, user, &conv, o->confdir, &pamh);
	if (r != PAM_SUCCESS) {
		fprintf(stderr, "kb-pamtest: pam_start_confdir: %s\n",
		    result_name(r));
		return -1;
	}
	r = pam_authenticate(pamh, 0);
	pam_end(pamh, r);
	return r;
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
	return n - 1;		/* the directory's own descriptor */
}

static int
open_extra_fds(long n)
{
	struct rlimit rl;
	long i;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < n + 64) {
		rl.rlim_cur = (rlim_t)(n + 64);
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
			return -1;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			return -1;
	}
	for (i = 0; i < n; i++)		/* deliberately not O_CLOEXEC */
		if (open("/dev/null", O_RDONLY) == -1)
			return -1;
	return 0;
}

static void
on_sigchld(int sig)
{
	(void)sig;
}

static int
run_loop(const struct opts *o, const char *user)
{
	struct sigaction sa, before, after;
	sigset_t mask_before, mask_after;
	struct timespec t0, t1;
	long counts[NRESULTS + 1], fds_before, fds_after, i;
	int r, bad = 0;

	memset(counts, 0, sizeof(counts));
	if (o->extra_fds > 0 && open_extra_fds(o->extra_fds) != 0) {
		fprintf(stderr, "kb-pamtest: cannot open %ld descriptors: %s\n",
		    o->extra_fds, strerror(errno));
		return 2;
	}
	if (o->sigcheck) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sigchld;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaddset(&sa.sa_mask, SIGUSR2);
		sigaction(SIGCHLD, &sa, NULL);
		sigemptyset(&mask_before);
		sigaddset(&mask_before, SIGUSR1);
		sigprocmask(SIG_BLOCK, &mask_before, NULL);
		sigaction(SIGCHLD, NULL, &before);
		sigprocmask(SIG_BLOCK, NULL, &mask_before);
	}
	/* Log like any PAM host: libc's syslog socket is open from now on. */
	openlog("kb-pamtest", LOG_NDELAY | LOG_PID, LOG_AUTHPRIV);
	fds_before = count_fds();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < o->count; i++) {
		if ((r = authenticate(o, user)) < 0)
			return 2;
		counts[r >= 0 && r < NRESULTS ? r : NRESULTS]++;
		if (o->expect != NULL && strcmp(result_name(r), o->expect) != 0)
			bad = 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fds_after = count_fds();
	for (r = 0; r <= NRESULTS; r++)
		if (counts[r] != 0)
			printf("%s %ld\n", r < NRESULTS ? result_name(r) :
			    "PAM_UNKNOWN_RESULT", counts[r]);
	printf("elapsed_ms %ld\n", (long)(t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000);
	printf("fds before=%ld after=%ld\n", fds_before, fds_after);
	if (fds_before != fds_after || fds_before < 0)
		bad = 1;
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD) {
		printf("children: left behind\n");
		bad = 1;
	} else {
		printf("children: none\n");
	}
	if (o->sigcheck) {
		sigaction(SIGCHLD, NULL, &after);
		sigprocmask(SIG_BLOCK, NULL, &mask_after);
		if (after.sa_handler != before.sa_handler ||
		    after.sa_flags != before.sa_flags ||
		    !sigismember(&after.sa_mask, SIGUSR2) ||
		    !sigismember(&mask_after, SIGUSR1) ||
		    sigismember(&mask_after, SIGCHLD)) {
			printf("signals: changed\n");
			bad = 1;
		} else {
			printf("signals: restored\n");
		}
	}
	return bad;
}

static int
run_corpus(const struct opts *o)
{
	char **names;
	size_t n, i, success = 0;
	int r;

	if (corpus_load(o->corpus, &names, &n) != 0) {
		fprintf(stderr, "kb-pamtest: cannot load %s\n", o->corpus);
		return 2;
	}
	quiet = 1;
	for (i = 0; i < n; i++) {
		if ((r = authenticate(o, names[i])) < 0) {
			corpus_free(names, n);
			return 2;
		}
		if (r == PAM_SUCCESS)
			success++;
		printf("%s\t%zu\n", result_name(r), i);
	}
	printf("total=%zu success=%zu\n", n, success);
	corpus_free(names, n);
	return 0;
}

static int
check_module(const char *path)
{
	void *h;
	int r = 1;

	if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		printf("dlopen failed: %s\n", dlerror());
		return 1;
	}
	if (dlsym(h, "pam_sm_authenticate") == NULL ||
	    dlsym(h, "pam_sm_setcred") == NULL) {
		printf("entry points missing\n");
	} else {
		printf("dlopen ok\n");
		r = 0;
	}
	dlclose(h);
	return r;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: kb-pamtest -d CONFDIR [-s SERVICE] "
	    "[-p PASSWORD] [-x] [-n COUNT [-e RESULT] [-F NFDS] [-S]] USER\n"
	    "       kb-pamtest -d CONFDIR [-s SERVICE] [-p PASSWORD] "
	    "-f CORPUS\n"
	    "       kb-pamtest -D MODULE\n");
	exit(2);
}

static long
number(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < 0)
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	struct opts o;
	char *user = NULL;
	int c, r;

	memset(&o, 0, sizeof(o));
	o.service = "kbtest";
	while ((c = getopt(argc, argv, "D:d:e:F:f:n:p:Ss:x")) != -1) {
		switch (c) {
		case 'D': o.module = optarg; break;
		case 'd': o.confdir = optarg; break;
		case 'e': o.expect = optarg; break;
		case 'F': o.extra_fds = number(optarg); break;
		case 'f': o.corpus = optarg; break;
		case 'n': o.count = number(optarg); break;
		case 'p': o.password = optarg; break;
		case 'S': o.sigcheck = 1; break;
		case 's': o.service = optarg; break;
		case 'x': o.escaped = 1; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (o.module != NULL)
		return check_module(o.module);
	if (o.confdir == NULL)
		usage();
	if (o.corpus != NULL)
		return argc == 0 ? run_corpus(&o) : (usage(), 2);
	if (argc != 1)
		usage();
	if (o.escaped) {
		if (corpus_decode(argv[0], &user) != 0)
			usage();
	} else if ((user = strdup(argv[0])) == NULL) {
		return 2;
	}
	if (o.count > 0) {
		r = run_loop(&o, user);
	} else if ((r = authenticate(&o, user)) >= 0) {
		printf("%s\n", result_name(r));
		r = 0;
	} else {
		r = 2;
	}
	free(user);
	return r;
}
