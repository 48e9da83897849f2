/*
 * keybound-keys - sshd's AuthorizedKeysCommand: print the keys attached to
 * USER on this instance, from the LDAP directory or keybound's cache.
 *
 *	keybound-keys [-c FILE] USER [FINGERPRINT]
 *	keybound-keys [-c FILE] --has-keys USER
 *
 * Exit 0 with the lines (possibly none); 1 if neither the directory nor a
 * usable cache answered; 2 for usage or config errors; --has-keys: 0 if a
 * usable key pair is attached, 3 if none, 1 and 2 as above.
 *
 * sshd discards stderr and sets no timeout, so every decision goes to
 * syslog and one monotonic deadline bounds the whole run.  Run by hand
 * with stderr on a terminal, the warning and error lines also go to
 * stderr, so "keybound-keys USER" says why it printed nothing.  libldap's
 * first call may block in a DNS lookup of the host's own name far beyond any
 * timeout, so the directory lookup runs under a watchdog thread that
 * answers from the cache (or fails) at the deadline; whichever of the two
 * claims the answer first is the only one that writes stdout.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "kb.h"
#include "cache.h"
#include "clock.h"
#include "config.h"
#include "fdio.h"
#include "floors.h"
#include "log.h"
#include "lookup.h"
#include "names.h"
#include "signed.h"

#define EXIT_KEYS	0	/* answered (--has-keys: attached) */
#define EXIT_NO_ANSWER	1	/* neither directory nor cache answered */
#define EXIT_USAGE	2	/* usage or config error */
#define EXIT_NONE	3	/* --has-keys: nothing attached */

#define WATCHDOG_GRACE_MS	50
#define FP_B64_LEN		43	/* unpadded base64 of 32 bytes */

struct run {
	const char *cfgpath;
	int has_keys;
	const char *user;
	size_t userlen;
	const char *fingerprint;
	struct kb_config *cfg;
	struct kb_query q;
	struct timespec start;
	struct timespec deadline;
	struct kb_cache *cache;
	struct kb_signers *signers;	/* trusted_signers, or NULL */
	struct kb_floors *floors;	/* their serial floors (cache_dir) */
	int offline_seen;		/* the cache held an answer usable
					   offline when the run started */
	struct kb_answer *offline;	/* that answer, built when needed */
	size_t notes;
	size_t notes_suppressed;
	/* the answer is claimed once, by the main thread or the watchdog */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int claimed;
	int lookup_done;
};

static int stderr_tty;	/* stderr is a terminal: a person is reading */

static void
usage(FILE *f)
{
	fprintf(f, "usage: keybound-keys [-c FILE] USER [FINGERPRINT]\n"
	    "       keybound-keys [-c FILE] --has-keys USER\n");
}

/*
 * Send a line to syslog; a warning or an error also to a terminal on
 * stderr (the line is already escaped for syslog, so safe to print).
 */
static void
emit(int prio, const struct kb_logline *l)
{
	log_emit(prio, l);
	if (stderr_tty && prio <= LOG_WARNING)
		fprintf(stderr, "keybound-keys: %s\n", logline_text(l));
}

/* Descriptors 0-2 must be open (we write stdout); nothing else inherited. */
static void
sanitize_fds(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			if (open("/dev/null", O_RDWR) == -1)
				_exit(EXIT_NO_ANSWER);
		}
	}
	if (close_range(3, ~0U, 0) != 0) {
		for (fd = 3; fd < 1024; fd++)
			close(fd);
	}
}

/* "SHA256:" and exactly 43 base64 characters, as ssh-keygen prints. */
static int
fingerprint_valid(const char *fp)
{
	size_t i;

	if (strncmp(fp, "SHA256:", 7) != 0 || strlen(fp) != 7 + FP_B64_LEN)
		return 0;
	for (i = 7; fp[i] != '\0'; i++) {
		if (!((fp[i] >= 'A' && fp[i] <= 'Z') ||
		    (fp[i] >= 'a' && fp[i] <= 'z') ||
		    (fp[i] >= '0' && fp[i] <= '9') || fp[i] == '+' ||
		    fp[i] == '/'))
			return 0;
	}
	return 1;
}

static int
parse_args(int argc, char **argv, struct run *rn)
{
	int i = 1, nargs;

	rn->cfgpath = KB_CONFIG_PATH;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			rn->cfgpath = argv[++i];
		else if (strcmp(argv[i], "--has-keys") == 0)
			rn->has_keys = 1;
		else
			break;
	}
	nargs = argc - i;
	if (nargs < 1 || nargs > 2 || (rn->has_keys && nargs != 1))
		return -1;
	rn->user = argv[i];
	rn->userlen = strlen(argv[i]);
	rn->fingerprint = nargs == 2 ? argv[i + 1] : NULL;
	return 0;
}

/* The start of every log line about this run. */
static void
log_subject(const struct run *rn, struct kb_logline *l)
{
	logline_init(l);
	logline_bytes(l, "user", rn->user, rn->userlen);
	if (rn->cfg != NULL)
		logline_str(l, "instance", rn->cfg->instance);
	if (rn->fingerprint != NULL)
		logline_str(l, "fingerprint", rn->fingerprint);
	if (rn->has_keys)
		logline_str(l, "mode", "has-keys");
}

static void
log_config_problem(void *ctx, const char *msg)
{
	struct kb_logline l;

	fprintf(stderr, "keybound-keys: %s\n", msg);
	logline_init(&l);
	logline_str(&l, "config", msg);
	log_emit(LOG_ERR, &l);	/* already on stderr */
}

static const char *
note_event(enum kb_note_kind kind)
{
	switch (kind) {
	case KB_NOTE_KEY_SKIPPED:	return "key-skipped";
	case KB_NOTE_OPTS_DROPPED:	return "options-dropped";
	case KB_NOTE_ENTRY_SKIPPED:	return "entry-skipped";
	case KB_NOTE_VALUES_DROPPED:	return "values-dropped";
	case KB_NOTE_MAX_KEYS:		return "max-keys";
	case KB_NOTE_MAX_GROUPS:	return "max-groups";
	default:			return "unknown";
	}
}

/* One log line per note, at most KB_LOOKUP_MAX_NOTES per run. */
static void
log_note(void *ctx, const struct kb_note *n)
{
	struct run *rn = ctx;
	struct kb_logline l;

	/* one-per-answer notes always pass; per-key ones are bounded */
	if (n->kind != KB_NOTE_MAX_KEYS && n->kind != KB_NOTE_VALUES_DROPPED &&
	    n->kind != KB_NOTE_MAX_GROUPS) {
		if (rn->notes >= KB_LOOKUP_MAX_NOTES) {
			rn->notes_suppressed++;
			return;
		}
		rn->notes++;
	}
	log_subject(rn, &l);
	logline_str(&l, "event", note_event(n->kind));
	if (n->name != NULL)
		logline_str(&l, "keypair", n->name);
	if (n->kind == KB_NOTE_OPTS_DROPPED)
		logline_str(&l, "dropped", n->detail);
	else {
		if (n->err != 0)
			logline_str(&l, "reason", kb_strerror(n->err));
		if (n->detail != NULL)
			logline_str(&l, "detail", n->detail);
	}
	if (n->count > 0)
		logline_num(&l, "count", (long long)n->count);
	emit(n->kind == KB_NOTE_MAX_KEYS || n->kind == KB_NOTE_MAX_GROUPS ?
	    LOG_ERR : LOG_WARNING, &l);
}

static void
log_suppressed(struct run *rn)
{
	struct kb_logline l;

	if (rn->notes_suppressed == 0)
		return;
	log_subject(rn, &l);
	logline_str(&l, "event", "notes-suppressed");
	logline_num(&l, "count", (long long)rn->notes_suppressed);
	emit(LOG_WARNING, &l);
	rn->notes_suppressed = 0;
}

/*
 * The decision line.  result: ok, attached, none, offline, unavailable,
 * error; err (if not 0) and why (if not NULL) explain failures.
 */
static void
log_decision(struct run *rn, const char *source, const struct kb_answer *a,
    const char *result, int err, const char *why)
{
	struct kb_logline l;

	log_suppressed(rn);
	log_subject(rn, &l);
	if (source != NULL)
		logline_str(&l, "source", source);
	if (a != NULL) {
		logline_num(&l, "count", (long long)a->nkeys);
		if (strcmp(source, "cache") == 0)
			logline_num(&l, "age_s",
			    (long long)(time(NULL) - a->fetched.tv_sec));
	}
	if (a != NULL && a->uri != NULL && strcmp(source, "directory") == 0)
		logline_str(&l, "uri", a->uri);
	logline_num(&l, "elapsed_ms", clock_elapsed_ms(&rn->start));
	logline_str(&l, "result", result);
	if (err != 0)
		logline_str(&l, "error", kb_strerror(err));
	if (why != NULL && why[0] != '\0')
		logline_str(&l, "detail", why);
	emit(strcmp(result, "unavailable") == 0 ||
	    strcmp(result, "error") == 0 ? LOG_ERR : LOG_INFO, &l);
}

/*
 * One line per key served: its key pair name and fingerprint, so sshd's
 * "Accepted publickey for USER ... SHA256:..." joins to a key pair name
 * (a usage report: config-examples/usage-report.sh).
 */
static void
log_served(struct run *rn, const struct kb_keyrec *k)
{
	struct kb_logline l;

	log_subject(rn, &l);
	logline_str(&l, "event", "served");
	logline_str(&l, "keypair", k->name != NULL ? k->name : "-");
	logline_str(&l, "fp", k->fingerprint != NULL ? k->fingerprint : "-");
	log_emit(LOG_INFO, &l);
}

/* Print the answer (nothing for --has-keys) and return the exit status. */
static int
serve(struct run *rn, const struct kb_answer *a, const char *source,
    const char *result, int err, const char *why)
{
	const char *res = result;
	size_t i;

	if (rn->has_keys)
		res = a->nkeys > 0 ? "attached" : "none";
	for (i = 0; !rn->has_keys && i < a->nkeys; i++) {
		if (fd_write_all(1, a->keys[i].line, strlen(a->keys[i].line)) ||
		    fd_write_all(1, "\n", 1)) {
			log_decision(rn, source, a, "error", KB_ERR_SYSTEM,
			    "stdout");
			return EXIT_NO_ANSWER;
		}
	}
	for (i = 0; !rn->has_keys && i < a->nkeys; i++)
		log_served(rn, &a->keys[i]);
	if (rn->has_keys && strcmp(result, "offline") == 0)
		res = a->nkeys > 0 ? "attached-offline" : "none-offline";
	log_decision(rn, source, a, res, err, why);
	if (rn->has_keys)
		return a->nkeys > 0 ? EXIT_KEYS : EXIT_NONE;
	return EXIT_KEYS;
}

/*
 * Nothing more goes to stdout: hand sshd its end of file now (descriptor
 * 1 stays open, on /dev/null, so nothing later can take its number).
 */
static void
release_stdout(void)
{
	int fd;

	if ((fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		return;
	if (fd != 1) {
		(void)dup2(fd, 1);
		close(fd);
	}
}

static void
log_cache_problem(struct run *rn, const char *what, int err)
{
	struct kb_logline l;

	log_subject(rn, &l);
	logline_str(&l, "event", what);
	logline_str(&l, "error", kb_strerror(err));
	emit(LOG_WARNING, &l);
}

/*
 * The directory did not answer and the cache held an answer usable
 * offline when the run started: build it now (its keys and signatures
 * are checked only when it may be served), from the cache read again:
 * another run may have recorded a newer directory answer since (after a
 * detach, say), and only what the cache still says is kept.  The
 * watchdog passes no notes: the main thread may still be logging its
 * own.
 */
static void
offline_load(struct run *rn, int notes)
{
	struct kb_cached cc;
	struct timespec now;
	int r;

	if (!rn->offline_seen || rn->cache == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	r = cache_consult(rn->cache, rn->cfg, &rn->q, &now,
	    notes ? log_note : NULL, rn, &cc);
	if (r != 0 && notes)
		log_cache_problem(rn, "cache-ignored", r);
	if (cc.state == KB_CACHE_FRESH || cc.state == KB_CACHE_OFFLINE)
		rn->offline = cc.answer;
	else
		lookup_answer_free(cc.answer);
}

/* The directory did not answer: the offline cache, or nothing. */
static int
serve_offline(struct run *rn, int err, const char *why, int notes)
{
	offline_load(rn, notes);
	if (rn->offline != NULL)
		return serve(rn, rn->offline, "cache", "offline", err, why);
	log_decision(rn, NULL, NULL, "unavailable", err, why);
	return EXIT_NO_ANSWER;
}

/* Which directory failures may fall back to the offline cache. */
static int
offline_allowed(int err)
{
	switch (err) {
	case KB_ERR_DIR_UNAVAILABLE:
	case KB_ERR_DIR_TIMEOUT:
	case KB_ERR_DIR_TLS:
	case KB_ERR_DIR_AUTH:
	case KB_ERR_DIR_PROTOCOL:
	case KB_ERR_DIR_REFUSED:
	case KB_ERR_DIR_NO_CONTROL:
	case KB_ERR_DIR_SYNTAX:
	case KB_ERR_DIR_SIZELIMIT:
	case KB_ERR_SYSTEM:
	case KB_ERR_NOMEM:
		return 1;
	default:
		return 0;
	}
}

/*
 * When started as root, become the owner of cache_dir (its uid and gid, no
 * supplementary groups) before touching the network or the cache, and
 * check that root cannot be regained.  A cache_dir that is missing, owned
 * by root or in group root names no one to become: run as nobody (the
 * cache is then not ours and is ignored) rather than talk to the network
 * as root, or keep group root's access to files (a 0640 root:root bind
 * password, keys) after the drop.
 */
#define NOBODY_ID	65534

static int
drop_privileges(const char *dir, int *as_nobody, char *why, size_t whylen)
{
	struct stat st;
	uid_t uid = NOBODY_ID, ru, eu, su;
	gid_t gid = NOBODY_ID, rg, eg, sg;
	int fd;

	*as_nobody = 0;
	if (geteuid() != 0 && getuid() != 0)
		return 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd != -1 && fstat(fd, &st) == 0 && st.st_uid != 0 &&
	    st.st_gid != 0) {
		uid = st.st_uid;
		gid = st.st_gid;
	} else
		*as_nobody = 1;
	if (fd != -1)
		close(fd);
	if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		snprintf(why, whylen, "setuid: %s", strerror(errno));
		return -1;
	}
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != uid || eu != uid || su != uid || rg != gid || eg != gid ||
	    sg != gid || setuid(0) == 0 || getgroups(0, NULL) != 0) {
		snprintf(why, whylen, "privilege drop did not hold");
		return -1;
	}
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

/*
 * Ask the cache which answer may be served now: returns a fresh answer or
 * NULL, and notes whether one usable only offline is there (built by
 * offline_load() if the directory does not answer).  The policy (ages,
 * superseding, which of a user's answers speaks for the query) is
 * cache_consult()'s.
 */
static struct kb_answer *
cache_lookup(struct run *rn)
{
	struct kb_cached cc;
	struct timespec now;
	int r;

	if (rn->cache == NULL)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &now);
	r = cache_consult_fresh(rn->cache, rn->cfg, &rn->q, &now, log_note,
	    rn, &cc);
	if (r != 0)
		log_cache_problem(rn, "cache-ignored", r);
	switch (cc.state) {
	case KB_CACHE_FRESH:
		return cc.answer;
	case KB_CACHE_OFFLINE:
		rn->offline_seen = 1;
		lookup_answer_free(cc.answer);	/* NULL: not built */
		return NULL;
	case KB_CACHE_FUTURE:
		log_cache_problem(rn, "cache-ignored", KB_ERR_CACHE_STALE);
		return NULL;
	default:
		lookup_answer_free(cc.answer);
		return NULL;
	}
}

/* ---- the watchdog ---- */

static void *
watchdog(void *arg)
{
	struct run *rn = arg;
	struct timespec until = rn->deadline;
	int r = 0, code;

	until.tv_nsec += WATCHDOG_GRACE_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&rn->mu);
	while (!rn->lookup_done && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&rn->cv, &rn->mu, &until);
	if (rn->lookup_done || rn->claimed) {
		pthread_mutex_unlock(&rn->mu);
		return NULL;
	}
	rn->claimed = 1;
	pthread_mutex_unlock(&rn->mu);
	code = serve_offline(rn, KB_ERR_DIR_TIMEOUT, "deadline", 0);
	_exit(code);
}

/* Claim the answer for the main thread; if the watchdog has it, wait. */
static void
claim_answer(struct run *rn)
{
	pthread_mutex_lock(&rn->mu);
	if (rn->claimed) {
		pthread_mutex_unlock(&rn->mu);
		for (;;)
			pause();	/* the watchdog answers and exits */
	}
	rn->claimed = 1;
	rn->lookup_done = 1;
	pthread_cond_signal(&rn->cv);
	pthread_mutex_unlock(&rn->mu);
}

static int
start_watchdog(struct run *rn, pthread_t *tid)
{
	pthread_condattr_t ca;
	int r;

	if (pthread_condattr_init(&ca) != 0)
		return -1;
	r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(&rn->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (r != 0)
		return -1;
	if (pthread_mutex_init(&rn->mu, NULL) != 0) {
		pthread_cond_destroy(&rn->cv);
		return -1;
	}
	if (pthread_create(tid, NULL, watchdog, rn) != 0) {
		pthread_mutex_destroy(&rn->mu);
		pthread_cond_destroy(&rn->cv);
		return -1;
	}
	return 0;
}

static void
stop_watchdog(struct run *rn, pthread_t tid)
{
	pthread_join(tid, NULL);
	pthread_mutex_destroy(&rn->mu);
	pthread_cond_destroy(&rn->cv);
}

/* Ask the directory under the watchdog; serve or fall back. */
static int
directory_answer(struct run *rn)
{
	struct kb_answer *a = NULL;
	pthread_t tid;
	char errbuf[256];
	int r, code, store;

	errbuf[0] = '\0';
	/* environment changes happen before the watchdog thread exists */
	if (lookup_prepare(rn->cfg) != 0 || start_watchdog(rn, &tid) != 0) {
		log_decision(rn, NULL, NULL, "error", KB_ERR_SYSTEM,
		    "watchdog");
		return EXIT_NO_ANSWER;
	}
	r = lookup_directory(rn->cfg, &rn->q, &rn->deadline, log_note, rn,
	    &a, errbuf, sizeof(errbuf));
	claim_answer(rn);
	stop_watchdog(rn, tid);
	if ((r == KB_ERR_INVALID_ARG || r == KB_ERR_INTERNAL) &&
	    deadline_left_ms(&rn->deadline) == 0)
		r = KB_ERR_DIR_TIMEOUT;	/* libldap refuses a zero timeout */
	if (r == 0) {
		/*
		 * The answer goes to sshd first, then to the cache.  Every
		 * answer is recorded, empty ones included: it must supersede
		 * what older answers said about this user.  The record syncs
		 * (fsync) only an answer that grants less than the cached
		 * one, and what it syncs is for later runs: the answer
		 * served here is already the narrower one, and a crash
		 * between serving and syncing leaves the disk as a crash
		 * before serving would (the older file, or the new one).
		 * So nothing is gained by making sshd wait for the disk
		 * before it reads the keys.  sshd still waits for our exit
		 * status, but it reads to end of file first: stdout is
		 * handed over (closed) before the record, so sshd parses
		 * and matches the keys while the file is written.
		 */
		code = serve(rn, a, "directory", "ok", 0, NULL);
		release_stdout();
		if (rn->cache != NULL &&
		    (store = cache_record(rn->cache, rn->cfg, &rn->q, a)) != 0)
			log_cache_problem(rn, "cache-store-failed", store);
	} else if (offline_allowed(r))
		code = serve_offline(rn, r, errbuf, 1);
	else {
		log_decision(rn, "directory", NULL, "error", r, errbuf);
		code = EXIT_NO_ANSWER;
	}
	lookup_answer_free(a);
	return code;
}

/*
 * trusted_signers: root-owned, not writable by group or others, every
 * line good.  Anything else is a config error: nothing is served.
 */
static int
load_signers(struct run *rn)
{
	struct kb_logline l;
	char msg[512];
	unsigned line = 0;
	int r;

	if ((r = signers_load(rn->cfg->trusted_signers, 1, &rn->signers,
	    &line)) == 0)
		return 0;
	if (line > 0)
		snprintf(msg, sizeof(msg), "%s:%u: trusted_signers: %s",
		    rn->cfg->trusted_signers, line, kb_strerror(r));
	else
		snprintf(msg, sizeof(msg), "%s: trusted_signers: %s",
		    rn->cfg->trusted_signers, r == KB_ERR_CONFIG_PERM ?
		    "must be owned by root and writable by no one else" :
		    kb_strerror(r));
	log_config_problem(NULL, msg);
	log_subject(rn, &l);
	logline_str(&l, "result", "config-error");
	logline_str(&l, "config", rn->cfgpath);
	emit(LOG_ERR, &l);
	return -1;
}

static int
run_lookup(struct run *rn)
{
	struct kb_answer *fresh;
	struct kb_logline l;
	char why[128];
	int r, code, as_nobody;

	if (drop_privileges(rn->cfg->cache_dir, &as_nobody, why,
	    sizeof(why)) != 0) {
		log_decision(rn, NULL, NULL, "error", KB_ERR_SYSTEM, why);
		return EXIT_NO_ANSWER;
	}
	if (as_nobody) {
		log_subject(rn, &l);
		logline_str(&l, "event", "cache-dir-not-owned");
		logline_str(&l, "detail", "running as nobody, cache unused");
		emit(LOG_WARNING, &l);
	}
	deadline_set(&rn->deadline, (long)rn->cfg->timeout * 1000L);
	rn->q.user = rn->user;
	rn->q.userlen = rn->userlen;
	rn->q.instance = rn->cfg->instance;
	rn->q.fingerprint = rn->fingerprint;
	rn->q.signers = rn->signers;
	/*
	 * Signed entries need their serial floors: without a cache_dir
	 * this account owns, a restored older version could not be told
	 * from the newest, so nothing is served (fail closed).
	 */
	if (rn->signers != NULL) {
		if ((r = floors_open(rn->cfg->cache_dir, &rn->floors)) != 0) {
			log_decision(rn, NULL, NULL, "error", r, "serial floors: "
			    "cache_dir missing or not this account's");
			return EXIT_NO_ANSWER;
		}
		rn->q.floors = rn->floors;
	}

	r = cache_open(rn->cfg->cache_dir, &rn->cache);
	if (r != 0)
		log_cache_problem(rn, "cache-unusable", r);
	if ((fresh = cache_lookup(rn)) != NULL) {
		code = serve(rn, fresh, "cache", "ok", 0, NULL);
		lookup_answer_free(fresh);
		return code;
	}
	return directory_answer(rn);
}

int
main(int argc, char **argv)
{
	struct run rn;
	struct kb_logline l;
	int code = EXIT_USAGE;

	/*
	 * sshd and pam_keybound start this with SIGPIPE at its default:
	 * a directory server that resets or stalls (the client then shuts
	 * the socket) must cost its URI, not the process (the next URI and
	 * the cache are still to be tried); a closed stdout is a write error.
	 */
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	sanitize_fds();
	memset(&rn, 0, sizeof(rn));
	clock_now(&rn.start);
	stderr_tty = isatty(2);
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		/* asked for: stdout, exit 0, no lookup and no log line */
		usage(stdout);
		code = fflush(stdout) == 0 && !ferror(stdout) ? 0 : EXIT_USAGE;
		goto out;
	}
	log_open("keybound-keys");
	if (parse_args(argc, argv, &rn) != 0) {
		usage(stderr);
		goto out;
	}
	if (name_user_valid(rn.user, rn.userlen) != 0) {
		log_subject(&rn, &l);
		logline_str(&l, "result", "invalid-user");
		emit(LOG_WARNING, &l);
		goto out;
	}
	if (rn.fingerprint != NULL && !fingerprint_valid(rn.fingerprint)) {
		log_subject(&rn, &l);
		logline_str(&l, "result", "invalid-fingerprint");
		emit(LOG_WARNING, &l);
		goto out;
	}
	if (config_load(rn.cfgpath, KB_CONFIG_CHECK_OWNER, log_config_problem,
	    NULL, &rn.cfg) != 0) {
		log_subject(&rn, &l);
		logline_str(&l, "result", "config-error");
		logline_str(&l, "config", rn.cfgpath);
		emit(LOG_ERR, &l);
		goto out;
	}
	/* read as root, before the privilege drop: root's file */
	if (rn.cfg->trusted_signers != NULL && load_signers(&rn) != 0)
		goto out;
	code = run_lookup(&rn);
 out:
	lookup_answer_free(rn.offline);
	cache_close(rn.cache);
	floors_close(rn.floors);
	signers_free(rn.signers);
	config_free(rn.cfg);
	closelog();
	return code;
}
