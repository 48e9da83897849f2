/*
 * directory.c - the LDAP directory client: the only file that talks to
 * libldap.
 *
 * Every wait (connect, StartTLS, bind, each search reply) is bounded by
 * min(network_timeout, time left before the caller's deadline), and the
 * client walks the configured URIs itself: libldap only fails over on
 * connect errors, so a server that accepts a connection and never answers
 * would otherwise hold the whole lookup.  A handle that timed out is
 * dropped, never reused.
 *
 * All options are set per handle, never globally, and LDAPNOINIT keeps
 * ldap.conf, ldaprc files and LDAP* environment variables out.
 *
 * libldap is not linked: it is loaded with dlopen() on the first
 * dir_open(), so a process that never asks the directory (keybound-keys
 * answering from its cache) does not map and relocate libldap and its
 * dependency tree (GnuTLS, nettle, gmp, libsasl2, ...).  Every libldap and
 * liblber function used here is called through the table "dl", typed from
 * <ldap.h>.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <lber.h>
#include <ldap.h>

#include "kb.h"
#include "clock.h"
#include "config.h"
#include "directory.h"

#define DIR_ERRTEXT_MAX		512
#define DIR_MAX_ATTRS		32	/* attributes asked per search */
#define DIR_MAX_BYTES		(16 * 1024 * 1024) /* values per search */
#define DIR_MAX_MODS		64
/* Largest LDAP message accepted: libldap allocates what the peer declares. */
#define DIR_MAX_PDU		(2 * DIR_MAX_BYTES)

/* libldap's SONAME, from the libldap the tree is built against. */
#ifndef KB_LDAP_SONAME
#error "KB_LDAP_SONAME must name libldap's SONAME (set by the Makefile)"
#endif
/* dlopen("") would hand back the program itself. */
_Static_assert(sizeof(KB_LDAP_SONAME) > 1, "KB_LDAP_SONAME is empty");

/*
 * Every libldap/liblber function this file calls.  liblber is a dependency
 * of libldap, so dlsym() on libldap's handle finds its symbols too.
 */
#define DIR_LDAP_FUNCS(X) \
	X(ber_memfree) \
	X(ber_sockbuf_ctrl) \
	X(ldap_abandon_ext) \
	X(ldap_add_ext) \
	X(ldap_connect) \
	X(ldap_control_find) \
	X(ldap_control_free) \
	X(ldap_controls_free) \
	X(ldap_count_values_len) \
	X(ldap_create_assertion_control) \
	X(ldap_create_page_control) \
	X(ldap_delete_ext) \
	X(ldap_err2string) \
	X(ldap_get_dn) \
	X(ldap_get_option) \
	X(ldap_get_values_len) \
	X(ldap_initialize) \
	X(ldap_install_tls) \
	X(ldap_memfree) \
	X(ldap_modify_ext) \
	X(ldap_msgfree) \
	X(ldap_msgtype) \
	X(ldap_parse_pageresponse_control) \
	X(ldap_parse_result) \
	X(ldap_result) \
	X(ldap_sasl_bind) \
	X(ldap_search_ext) \
	X(ldap_set_option) \
	X(ldap_start_tls) \
	X(ldap_unbind_ext) \
	X(ldap_value_free_len)

/* One pointer per function, of the exact type <ldap.h> declares. */
#define DIR_LDAP_FIELD(name)	__typeof__(name) *name;
static struct {
	DIR_LDAP_FUNCS(DIR_LDAP_FIELD)
} dl;
#undef DIR_LDAP_FIELD
/* LDAP_OPT_ON is the address of liblber's ber_pvt_opt_on: resolved too. */
static void *dl_opt_on;

static pthread_once_t dl_once = PTHREAD_ONCE_INIT;
static int dl_status = KB_ERR_INTERNAL;	/* 0: every symbol resolved */
static char dl_reason[256];		/* why loading failed */

/* Trust anchors when neither tls_cacert nor tls_cacertdir is set. */
#ifndef KB_SYSTEM_CA_FILE
#define KB_SYSTEM_CA_FILE	"/etc/ssl/certs/ca-certificates.crt"
#endif

struct dir_watchdog;

enum dir_bind_kind {
	DIR_BIND_NONE = 0,
	DIR_BIND_SIMPLE,
	DIR_BIND_EXTERNAL,
};

struct kb_dir {
	LDAP *ld;			/* NULL once dropped */
	const struct kb_config *cfg;
	struct timespec deadline;
	char *uris[KB_CONFIG_MAX_URIS];
	size_t nuris;
	size_t cur;			/* index of the connected URI */
	enum dir_bind_kind bind;
	char *binddn;
	char *password;		/* admin CLI only; wiped at close */
	size_t passwordlen;
	int may_move_on;		/* nothing answered yet on this URI */
	struct timespec search_sent;	/* CLOCK_REALTIME, last search sent */
	dir_idle_fn idle;		/* dir_set_idle(): once, after a send */
	void *idle_ctx;
	int nullfd;			/* /dev/null, to disarm a socket */
	struct ldap_conncb conncb;	/* hands new sockets to watch */
	struct dir_watchdog *watch;	/* during an ldaps:// connect */
	char *identity;
	char errtext[DIR_ERRTEXT_MAX];
};

/* Copy src into dst as printable ASCII; anything else becomes '?'. */
static void
dir_printable(char *dst, size_t dstlen, const char *src)
{
	size_t i;

	if (dstlen == 0)
		return;
	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
	}
	dst[i] = '\0';
}

/* Append src to the NUL-terminated dst, truncating at dstlen - 1. */
static void
dir_append(char *dst, size_t dstlen, const char *src)
{
	size_t used = strlen(dst);

	while (*src != '\0' && used + 1 < dstlen)
		dst[used++] = *src++;
	dst[used] = '\0';
}

/* Replace the handle's error text (printf-style, then sanitised). */
static void
dir_set_error(struct kb_dir *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
dir_set_error(struct kb_dir *d, const char *fmt, ...)
{
	char raw[DIR_ERRTEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	dir_printable(d->errtext, sizeof(d->errtext), raw);
}

/*
 * Map an LDAP result or API code to KB_ERR_*.  Anything not listed is an
 * error: nothing defaults to success.
 */
static int
dir_map_result(int rc)
{
	switch (rc) {
	case LDAP_SUCCESS:
		return 0;
	case LDAP_NO_SUCH_OBJECT:
		return KB_ERR_DIR_NO_SUCH_OBJECT;
	case LDAP_ALREADY_EXISTS:
		return KB_ERR_DIR_ALREADY_EXISTS;
	case LDAP_ASSERTION_FAILED:
		return KB_ERR_DIR_ASSERTION;
	case LDAP_TYPE_OR_VALUE_EXISTS:
		return KB_ERR_DIR_VALUE_EXISTS;
	case LDAP_NO_SUCH_ATTRIBUTE:
		return KB_ERR_DIR_NO_SUCH_VALUE;
	case LDAP_SIZELIMIT_EXCEEDED:
	case LDAP_ADMINLIMIT_EXCEEDED:
		return KB_ERR_DIR_SIZELIMIT;
	case LDAP_TIMELIMIT_EXCEEDED:
	case LDAP_TIMEOUT:
		return KB_ERR_DIR_TIMEOUT;
	case LDAP_INVALID_CREDENTIALS:
	case LDAP_INAPPROPRIATE_AUTH:
	case LDAP_AUTH_METHOD_NOT_SUPPORTED:
	case LDAP_STRONG_AUTH_REQUIRED:
	case LDAP_AUTH_UNKNOWN:
		return KB_ERR_DIR_AUTH;
	case LDAP_INSUFFICIENT_ACCESS:
	case LDAP_UNWILLING_TO_PERFORM:
	case LDAP_CONFIDENTIALITY_REQUIRED:
	case LDAP_OBJECT_CLASS_VIOLATION:
	case LDAP_CONSTRAINT_VIOLATION:
	case LDAP_UNDEFINED_TYPE:
	case LDAP_INAPPROPRIATE_MATCHING:
	case LDAP_NAMING_VIOLATION:
	case LDAP_INVALID_DN_SYNTAX:
	case LDAP_NOT_ALLOWED_ON_NONLEAF:
	case LDAP_NOT_ALLOWED_ON_RDN:
	case LDAP_NO_OBJECT_CLASS_MODS:
	case LDAP_ALIAS_PROBLEM:
	case LDAP_AFFECTS_MULTIPLE_DSAS:
		return KB_ERR_DIR_REFUSED;
	case LDAP_UNAVAILABLE_CRITICAL_EXTENSION:
		return KB_ERR_DIR_NO_CONTROL;	/* e.g. no assertion in AD */
	case LDAP_INVALID_SYNTAX:
		return KB_ERR_DIR_SYNTAX;
	case LDAP_SERVER_DOWN:
	case LDAP_CONNECT_ERROR:
	case LDAP_BUSY:
	case LDAP_UNAVAILABLE:
		return KB_ERR_DIR_UNAVAILABLE;
	case LDAP_NO_MEMORY:
		return KB_ERR_NOMEM;
	case LDAP_FILTER_ERROR:
	case LDAP_PARAM_ERROR:
		return KB_ERR_INVALID_ARG;
	default:
		return KB_ERR_DIR_PROTOCOL;
	}
}

/* Whether failing with r on one URI lets the next URI have a go. */
static int
dir_try_next_after(int r)
{
	switch (r) {
	case KB_ERR_DIR_UNAVAILABLE:
	case KB_ERR_DIR_TIMEOUT:
	case KB_ERR_DIR_TLS:
	case KB_ERR_DIR_PROTOCOL:
		return 1;
	default:
		return 0;
	}
}

/* Milliseconds the next wait may take: min(network_timeout, time left). */
static long
dir_wait_ms(const struct kb_dir *d)
{
	long left, net;

	left = deadline_left_ms(&d->deadline);
	net = (long)d->cfg->network_timeout * 1000L;
	if (net <= 0)
		net = 1000;
	return left < net ? left : net;
}

static void
dir_ms_to_tv(long ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/* The API error code stored in the handle after a failed call. */
static int
dir_ld_errno(LDAP *ld)
{
	int rc = LDAP_OTHER;

	if (dl.ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc) !=
	    LDAP_OPT_SUCCESS)
		rc = LDAP_OTHER;
	return rc;
}

/* libldap's diagnostic message for the handle, as printable ASCII. */
static void
dir_ld_diag(LDAP *ld, char *buf, size_t len)
{
	char *diag = NULL;

	buf[0] = '\0';
	if (ld != NULL && dl.ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE,
	    &diag) == LDAP_OPT_SUCCESS && diag != NULL) {
		dir_printable(buf, len, diag);
		dl.ldap_memfree(diag);
	}
}

/*
 * Drop a failed connection without waiting for it or writing to it.
 * libldap's only way to free a handle sends an UnbindRequest with
 * write(2): on a socket the handshake watchdog shut down, or one the
 * server reset, that raises SIGPIPE, which kills a caller that has not
 * ignored it; on a stalled one it tells nobody anything.  So the socket
 * is first replaced by /dev/null under the same descriptor number (which
 * stays libldap's until it closes it, so nothing else can take it over):
 * the unbind and any TLS alert go nowhere and the server just sees the
 * connection close.  Should even that fail, the handle is leaked rather
 * than written through.
 */
static void
dir_drop(struct kb_dir *d)
{
	int fd = -1;

	if (d->ld == NULL)
		return;
	if (dl.ldap_get_option(d->ld, LDAP_OPT_DESC, &fd) ==
	    LDAP_OPT_SUCCESS && fd >= 0 &&
	    (d->nullfd == -1 || dup3(d->nullfd, fd, O_CLOEXEC) == -1)) {
		d->ld = NULL;
		return;
	}
	(void)dl.ldap_unbind_ext(d->ld, NULL, NULL);
	d->ld = NULL;
}

/*
 * Wait for the reply to msgid (one message, or all with LDAP_MSG_ALL)
 * for at most dir_wait_ms().  A timeout drops the connection.
 */
static int
dir_wait(struct kb_dir *d, int msgid, int all, LDAPMessage **resp)
{
	struct timeval tv;
	char diag[128];
	long ms;
	int rc;

	*resp = NULL;
	if ((ms = dir_wait_ms(d)) <= 0) {
		dir_set_error(d, "%s: deadline passed", d->uris[d->cur]);
		dir_drop(d);
		return KB_ERR_DIR_TIMEOUT;
	}
	dir_ms_to_tv(ms, &tv);
	rc = dl.ldap_result(d->ld, msgid, all, &tv, resp);
	if (rc == 0) {
		dir_set_error(d, "%s: no reply within %ld ms",
		    d->uris[d->cur], ms);
		*resp = NULL;
		dir_drop(d);
		return KB_ERR_DIR_TIMEOUT;
	}
	if (rc == -1) {
		rc = dir_ld_errno(d->ld);
		dir_ld_diag(d->ld, diag, sizeof(diag));
		dir_set_error(d, "%s: %s%s%s", d->uris[d->cur],
		    dl.ldap_err2string(rc), diag[0] ? ": " : "", diag);
		*resp = NULL;
		dir_drop(d);
		rc = dir_map_result(rc);
		return rc != 0 ? rc : KB_ERR_DIR_PROTOCOL;
	}
	return 0;
}

/*
 * Read the result of an operation (freeing msg) and map its code; the
 * server's diagnostic text goes to the error text, sanitised.
 */
static int
dir_parse_result(struct kb_dir *d, LDAPMessage *msg, const char *what)
{
	char *diag = NULL, clean[256];
	int err = LDAP_OTHER, rc;

	rc = dl.ldap_parse_result(d->ld, msg, &err, NULL, &diag, NULL, NULL, 1);
	if (rc != LDAP_SUCCESS) {
		dir_set_error(d, "%s: %s: unreadable result: %s",
		    d->uris[d->cur], what, dl.ldap_err2string(rc));
		return KB_ERR_DIR_PROTOCOL;
	}
	dir_printable(clean, sizeof(clean), diag);
	if (diag != NULL)
		dl.ldap_memfree(diag);
	if (err != LDAP_SUCCESS)
		dir_set_error(d, "%s: %s: %s%s%s", d->uris[d->cur], what,
		    dl.ldap_err2string(err), clean[0] ? ": " : "", clean);
	return dir_map_result(err);
}

static int
dir_uri_is(const char *uri, const char *scheme)
{
	return strncasecmp(uri, scheme, strlen(scheme)) == 0;
}

/* One per-handle option; a failure is an internal error. */
static int
dir_opt(LDAP *ld, int opt, const void *val)
{
	return dl.ldap_set_option(ld, opt, val) == LDAP_OPT_SUCCESS ? 0 :
	    KB_ERR_INTERNAL;
}

static int
dir_set_options(struct kb_dir *d, LDAP *ld, long ms, int tls)
{
	const struct kb_config *cfg = d->cfg;
	struct timeval tv;
	int version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND;
	int tlsmin = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, zero = 0;
	int r = KB_ERR_INTERNAL;

	dir_ms_to_tv(ms, &tv);
	if ((r = dir_opt(ld, LDAP_OPT_PROTOCOL_VERSION, &version)) != 0 ||
	    (r = dir_opt(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv)) != 0 ||
	    (r = dir_opt(ld, LDAP_OPT_TIMEOUT, &tv)) != 0 ||
	    (r = dir_opt(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF)) != 0 ||
	    (r = dir_opt(ld, LDAP_OPT_RESTART, LDAP_OPT_OFF)) != 0)
		goto out;
	if (!tls) {
		r = 0;
		goto out;
	}
	/* The TLS context is built only when this URI needs it. */
	if ((r = dir_opt(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand)) != 0 ||
	    (r = dir_opt(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tlsmin)) != 0)
		goto out;
	if (cfg->tls_cacert != NULL && (r = dir_opt(ld,
	    LDAP_OPT_X_TLS_CACERTFILE, cfg->tls_cacert)) != 0)
		goto out;
	if (cfg->tls_cacertdir != NULL && (r = dir_opt(ld,
	    LDAP_OPT_X_TLS_CACERTDIR, cfg->tls_cacertdir)) != 0)
		goto out;
	if (cfg->tls_cacert == NULL && cfg->tls_cacertdir == NULL &&
	    (r = dir_opt(ld, LDAP_OPT_X_TLS_CACERTFILE,
	    KB_SYSTEM_CA_FILE)) != 0)
		goto out;
	if (cfg->tls_cert != NULL && (r = dir_opt(ld,
	    LDAP_OPT_X_TLS_CERTFILE, cfg->tls_cert)) != 0)
		goto out;
	if (cfg->tls_key != NULL && (r = dir_opt(ld,
	    LDAP_OPT_X_TLS_KEYFILE, cfg->tls_key)) != 0)
		goto out;
	/* Last: build this handle's own context from the options above. */
	if (dl.ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) !=
	    LDAP_OPT_SUCCESS) {
		r = KB_ERR_DIR_TLS;
		goto out;
	}
	r = 0;
 out:
	if (r != 0 && r != KB_ERR_DIR_TLS)
		dir_set_error(d, "cannot set LDAP options");
	else if (r == KB_ERR_DIR_TLS)
		dir_set_error(d, "cannot load TLS certificates or keys");
	return r;
}

/*
 * A watchdog for the TLS handshakes.  libldap 2.5's synchronous handshake
 * loop (ldap_install_tls, for StartTLS) retries a non-blocking read without
 * waiting or looking at LDAP_OPT_NETWORK_TIMEOUT, so a server that answers
 * StartTLS and then falls silent would hold this process forever at full
 * CPU; its asynchronous one (ldaps://) polls with the timeout but then
 * reads whole TLS records from a blocking socket, so a server that sends
 * half a record and stops holds it forever in read().  The watchdog thread
 * shuts the socket down when the wait is over; the handshake then fails
 * like any broken connection, and the connection is only ever dropped
 * (dir_drop: nothing more is written to it).
 */
struct dir_watchdog {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct timespec until;		/* CLOCK_MONOTONIC */
	int fd;				/* a dup of the socket, or -1 */
	int done;
	int fired;
	pthread_t tid;
};

static void *
dir_watchdog_run(void *arg)
{
	struct dir_watchdog *w = arg;
	int rc = 0;

	pthread_mutex_lock(&w->mu);
	while (!w->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cv, &w->mu, &w->until);
	if (!w->done) {
		w->fired = 1;
		if (w->fd >= 0)
			(void)shutdown(w->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/*
 * SIGPIPE held back in the calling thread around a watched libldap call.
 * After the watchdog has shut the socket down, libldap's error path may
 * still write to it (a TLS alert, a close): the SIGPIPE that raises is
 * taken here, so a cut connection cannot end a caller that left SIGPIPE
 * at its default.
 */
struct dir_sigpipe {
	sigset_t old;
	int was_pending;
};

static void
dir_sigpipe_hold(struct dir_sigpipe *sp)
{
	sigset_t pipe, pending;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &sp->old);
	sp->was_pending = sigpending(&pending) == 0 &&
	    sigismember(&pending, SIGPIPE) == 1;
}

static void
dir_sigpipe_release(struct dir_sigpipe *sp)
{
	struct timespec zero = { 0, 0 };
	sigset_t pipe, pending;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	/* One pending before the call was not ours to take. */
	if (!sp->was_pending && sigpending(&pending) == 0 &&
	    sigismember(&pending, SIGPIPE) == 1) {
		while (sigtimedwait(&pipe, NULL, &zero) == -1 &&
		    errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &sp->old, NULL);
}

/*
 * Start a watchdog that fires after ms; the socket it cuts is given later
 * with dir_watchdog_watch().  0, or -1 if no thread was started.
 */
static int
dir_watchdog_start(struct dir_watchdog *w, long ms)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int made = 0, started;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	deadline_set(&w->until, ms);
	if (pthread_condattr_init(&ca) != 0)
		return -1;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&w->cv, &ca) == 0) {
		if (pthread_mutex_init(&w->mu, NULL) == 0)
			made = 1;
		else
			pthread_cond_destroy(&w->cv);
	}
	pthread_condattr_destroy(&ca);
	if (!made)
		return -1;
	/* The thread takes no signals: they stay with the caller's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	started = pthread_create(&w->tid, NULL, dir_watchdog_run, w) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!started) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		return -1;
	}
	return 0;
}

/*
 * Tell the watchdog which socket to cut.  It keeps a descriptor of its
 * own: shutdown() acts on the socket, and libldap may close its descriptor
 * (whose number could then be reused) before the watchdog is stopped.
 */
static int
dir_watchdog_watch(struct dir_watchdog *w, int fd)
{
	int dup;

	if ((dup = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return -1;
	pthread_mutex_lock(&w->mu);
	if (w->fd == -1) {
		w->fd = dup;
		dup = -1;
		if (w->fired)
			(void)shutdown(w->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&w->mu);
	if (dup != -1)
		close(dup);
	return 0;
}

/* Stop and free the watchdog; 1 if it fired (the socket is shut down). */
static int
dir_watchdog_stop(struct dir_watchdog *w)
{
	int fired;

	pthread_mutex_lock(&w->mu);
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->tid, NULL);
	fired = w->fired;
	if (w->fd != -1)
		close(w->fd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	return fired;
}

/* ldap_install_tls() bounded by ms; sets *timed_out if it was cut off. */
static int
dir_install_tls_bounded(struct kb_dir *d, long ms, int *timed_out)
{
	struct dir_watchdog w;
	struct dir_sigpipe sp;
	int fd = -1, rc;

	*timed_out = 0;
	if (dl.ldap_get_option(d->ld, LDAP_OPT_DESC, &fd) !=
	    LDAP_OPT_SUCCESS || fd < 0 || dir_watchdog_start(&w, ms) != 0)
		return LDAP_LOCAL_ERROR;
	if (dir_watchdog_watch(&w, fd) != 0) {
		(void)dir_watchdog_stop(&w);
		return LDAP_LOCAL_ERROR;
	}
	dir_sigpipe_hold(&sp);
	rc = dl.ldap_install_tls(d->ld);
	*timed_out = dir_watchdog_stop(&w);
	dir_sigpipe_release(&sp);
	return rc;
}

/* StartTLS on a plain connection: the request, then the handshake. */
static int
dir_starttls(struct kb_dir *d)
{
	LDAPMessage *res = NULL;
	char diag[128];
	long ms;
	int msgid = -1, timed_out = 0, rc, r = KB_ERR_INTERNAL;

	rc = dl.ldap_start_tls(d->ld, NULL, NULL, &msgid);
	if (rc != LDAP_SUCCESS) {
		dir_ld_diag(d->ld, diag, sizeof(diag));
		dir_set_error(d, "%s: StartTLS: %s%s%s", d->uris[d->cur],
		    dl.ldap_err2string(rc), diag[0] ? ": " : "", diag);
		r = dir_map_result(rc);
		goto out;
	}
	if ((r = dir_wait(d, msgid, LDAP_MSG_ALL, &res)) != 0)
		goto out;
	r = dir_parse_result(d, res, "StartTLS");
	res = NULL;
	if (r != 0) {
		r = KB_ERR_DIR_TLS;
		goto out;
	}
	if ((ms = dir_wait_ms(d)) <= 0) {
		dir_set_error(d, "%s: deadline passed", d->uris[d->cur]);
		r = KB_ERR_DIR_TIMEOUT;
		goto out;
	}
	rc = dir_install_tls_bounded(d, ms, &timed_out);
	if (timed_out) {
		dir_set_error(d, "%s: no TLS handshake within %ld ms",
		    d->uris[d->cur], ms);
		r = KB_ERR_DIR_TIMEOUT;
		goto out;
	}
	if (rc != LDAP_SUCCESS) {
		dir_ld_diag(d->ld, diag, sizeof(diag));
		dir_set_error(d, "%s: TLS handshake failed: %s%s%s",
		    d->uris[d->cur], dl.ldap_err2string(rc),
		    diag[0] ? ": " : "", diag);
		r = KB_ERR_DIR_TLS;
		goto out;
	}
	r = 0;
 out:
	if (res != NULL)
		dl.ldap_msgfree(res);
	return r;
}

/*
 * Send the configured bind and wait for its result.  The bind password is
 * read for this attempt only and wiped as soon as the request is encoded.
 */
static int
dir_bind(struct kb_dir *d)
{
	struct berval cred = { 0, NULL };
	LDAPMessage *res = NULL;
	char empty[] = "", *pw = NULL;
	size_t pwlen = 0;
	int msgid = -1, rc, r = KB_ERR_INTERNAL;

	switch (d->bind) {
	case DIR_BIND_NONE:
		return 0;
	case DIR_BIND_EXTERNAL:
		/* An empty initial response: the identity the transport
		   proves (client certificate, peer credentials), in one
		   round trip and without the SASL library. */
		cred.bv_val = empty;
		cred.bv_len = 0;
		rc = dl.ldap_sasl_bind(d->ld, NULL, "EXTERNAL", &cred, NULL,
		    NULL, &msgid);
		break;
	case DIR_BIND_SIMPLE:
		if (d->password != NULL) {
			if ((pw = malloc(d->passwordlen + 1)) == NULL) {
				r = KB_ERR_NOMEM;
				goto out;
			}
			memcpy(pw, d->password, d->passwordlen);
			pw[d->passwordlen] = '\0';
			pwlen = d->passwordlen;
		} else if ((r = config_read_bindpw(d->cfg, &pw,
		    &pwlen)) != 0) {
			dir_set_error(d, "cannot read bindpw_file: %s",
			    kb_strerror(r));
			goto out;
		}
		/* An empty password would be an unauthenticated bind. */
		if (pwlen == 0) {
			dir_set_error(d, "empty bind password refused");
			r = KB_ERR_DIR_AUTH;
			goto out;
		}
		cred.bv_val = pw;
		cred.bv_len = pwlen;
		rc = dl.ldap_sasl_bind(d->ld, d->binddn, LDAP_SASL_SIMPLE,
		    &cred, NULL, NULL, &msgid);
		break;
	default:
		r = KB_ERR_INTERNAL;
		goto out;
	}
	if (pw != NULL) {
		explicit_bzero(pw, pwlen);
		free(pw);
		pw = NULL;
	}
	if (rc != LDAP_SUCCESS) {
		dir_set_error(d, "%s: bind: %s", d->uris[d->cur],
		    dl.ldap_err2string(rc));
		r = dir_map_result(rc);
		goto out;
	}
	if ((r = dir_wait(d, msgid, LDAP_MSG_ALL, &res)) != 0)
		goto out;
	r = dir_parse_result(d, res, "bind");
	res = NULL;
 out:
	if (pw != NULL) {
		explicit_bzero(pw, pwlen);
		free(pw);
	}
	if (res != NULL)
		dl.ldap_msgfree(res);
	return r == KB_ERR_DIR_REFUSED || r == KB_ERR_DIR_NO_CONTROL ?
	    KB_ERR_DIR_AUTH : r;
}

/* Called by libldap when a TLS session starts on a connection. */
static int
dir_tls_started(LDAP *ld, void *ssl, void *ctx, void *arg)
{
	int *started = arg;

	*started = 1;
	return 0;
}

/*
 * Called by libldap once a connection's socket exists, before any TLS:
 * during an ldaps:// connect the watchdog gets it.  Failing fails the
 * connect: an unwatched handshake could last forever.
 */
static int
dir_conn_added(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr,
    struct ldap_conncb *ctx)
{
	struct kb_dir *d = ctx->lc_arg;
	int fd = -1;

	if (d->watch == NULL)
		return 0;
	if (dl.ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) != 1 || fd < 0)
		return -1;
	return dir_watchdog_watch(d->watch, fd);
}

/* The watchdog holds its own descriptor: nothing to do on close. */
static void
dir_conn_deleted(LDAP *ld, Sockbuf *sb, struct ldap_conncb *ctx)
{
}

/*
 * ldap_connect() for ldaps://: libldap's asynchronous connect mode, whose
 * handshake waits are bounded by LDAP_OPT_NETWORK_TIMEOUT (the synchronous
 * loop spins on a server that accepts and never speaks TLS), under the
 * watchdog for the reads that are not (a server that sends half a record).
 */
static int
dir_connect_tls(struct kb_dir *d, long ms, int *rcp, int *startedp,
    int *timed_out)
{
	struct dir_watchdog w;
	struct dir_sigpipe sp;

	*rcp = LDAP_LOCAL_ERROR;
	*timed_out = 0;
	d->conncb.lc_add = dir_conn_added;
	d->conncb.lc_del = dir_conn_deleted;
	d->conncb.lc_arg = d;
	if (dl.ldap_set_option(d->ld, LDAP_OPT_CONNECT_ASYNC, dl_opt_on) !=
	    LDAP_OPT_SUCCESS ||
	    dl.ldap_set_option(d->ld, LDAP_OPT_CONNECT_CB, &d->conncb) !=
	    LDAP_OPT_SUCCESS ||
	    dl.ldap_set_option(d->ld, LDAP_OPT_X_TLS_CONNECT_CB,
	    (void *)dir_tls_started) != LDAP_OPT_SUCCESS ||
	    dl.ldap_set_option(d->ld, LDAP_OPT_X_TLS_CONNECT_ARG,
	    startedp) != LDAP_OPT_SUCCESS ||
	    dir_watchdog_start(&w, ms) != 0) {
		dir_set_error(d, "cannot set LDAP options");
		return KB_ERR_INTERNAL;
	}
	d->watch = &w;
	dir_sigpipe_hold(&sp);
	*rcp = dl.ldap_connect(d->ld);
	d->watch = NULL;
	*timed_out = dir_watchdog_stop(&w);
	dir_sigpipe_release(&sp);
	(void)dl.ldap_set_option(d->ld, LDAP_OPT_X_TLS_CONNECT_CB, NULL);
	(void)dl.ldap_set_option(d->ld, LDAP_OPT_X_TLS_CONNECT_ARG, NULL);
	return 0;
}

/* Connect now, so a dead URI is known here. */
static int
dir_connect(struct kb_dir *d, int ldaps, long ms)
{
	struct timespec start;
	char diag[128];
	int started = 0, timed_out = 0, rc, r = KB_ERR_INTERNAL;

	clock_now(&start);
	if (!ldaps)
		rc = dl.ldap_connect(d->ld);
	else if ((r = dir_connect_tls(d, ms, &rc, &started, &timed_out)) != 0)
		return r;
	if (timed_out) {
		dir_set_error(d, "%s: no TLS handshake within %ld ms",
		    d->uris[d->cur], ms);
		return KB_ERR_DIR_TIMEOUT;
	}
	if (rc == LDAP_SUCCESS)
		return 0;
	dir_ld_diag(d->ld, diag, sizeof(diag));
	/*
	 * In asynchronous mode the TLS session starts before the TCP
	 * connection is up, so a refused connection shows up as a
	 * transport (push/pull) error of the handshake: not a TLS problem.
	 */
	if (started && clock_elapsed_ms(&start) < ms &&
	    strstr(diag, "push function") == NULL &&
	    strstr(diag, "pull function") == NULL) {
		/* The handshake began and failed before the timeout. */
		dir_set_error(d, "%s: TLS handshake failed (certificate not "
		    "trusted or not for this host?): %s", d->uris[d->cur],
		    diag);
		return KB_ERR_DIR_TLS;
	}
	dir_set_error(d, "%s: %s%s%s", d->uris[d->cur], dl.ldap_err2string(rc),
	    diag[0] ? ": " : "", diag);
	r = dir_map_result(rc);
	return r != 0 ? r : KB_ERR_DIR_PROTOCOL;
}

/*
 * Bound each incoming LDAP message.  libldap allocates the length a BER
 * header declares and fills it as data arrives, with no limit of its own,
 * so a broken or hostile server could make one reply take all memory.
 */
static int
dir_bound_messages(struct kb_dir *d)
{
	Sockbuf *sb = NULL;
	ber_len_t max = DIR_MAX_PDU;

	if (dl.ldap_get_option(d->ld, LDAP_OPT_SOCKBUF, &sb) !=
	    LDAP_OPT_SUCCESS || sb == NULL ||
	    dl.ber_sockbuf_ctrl(sb, LBER_SB_OPT_SET_MAX_INCOMING, &max) != 1) {
		dir_set_error(d, "cannot bound LDAP message size");
		return KB_ERR_INTERNAL;
	}
	return 0;
}

/* One attempt on d->uris[d->cur]: connect, StartTLS, bind. */
static int
dir_attempt(struct kb_dir *d)
{
	const char *uri = d->uris[d->cur];
	long ms;
	int ldaps, starttls, rc, r = KB_ERR_INTERNAL;

	d->errtext[0] = '\0';
	if ((ms = dir_wait_ms(d)) <= 0) {
		dir_set_error(d, "%s: deadline passed", uri);
		return KB_ERR_DIR_TIMEOUT;
	}
	ldaps = dir_uri_is(uri, "ldaps://");
	starttls = dir_uri_is(uri, "ldap://") && d->cfg->starttls;
	if ((rc = dl.ldap_initialize(&d->ld, uri)) != LDAP_SUCCESS) {
		d->ld = NULL;
		dir_set_error(d, "%s: %s", uri, dl.ldap_err2string(rc));
		r = rc == LDAP_NO_MEMORY ? KB_ERR_NOMEM : KB_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = dir_set_options(d, d->ld, ms, ldaps || starttls)) != 0)
		goto out;
	if ((r = dir_connect(d, ldaps, ms)) != 0 ||
	    (r = dir_bound_messages(d)) != 0)
		goto out;
	if (starttls && (r = dir_starttls(d)) != 0)
		goto out;
	if ((r = dir_bind(d)) != 0)
		goto out;
	/*
	 * Until a search or a write has been answered here, a server that
	 * falls silent loses its turn like one that refused the connection:
	 * a handshake and a bind prove little, a server can stall after them.
	 */
	d->may_move_on = 1;
	r = 0;
 out:
	if (r != 0)
		dir_drop(d);
	return r;
}

/*
 * Try the URIs from index first on, in order, until one connects and
 * binds or the deadline passes.
 */
static int
dir_connect_from(struct kb_dir *d, size_t first)
{
	char trail[DIR_ERRTEXT_MAX];
	int r = KB_ERR_DIR_UNAVAILABLE, tls_failed = 0;
	size_t i;

	trail[0] = '\0';
	for (i = first; i < d->nuris; i++) {
		d->cur = i;
		if (deadline_left_ms(&d->deadline) <= 0)
			break;
		if ((r = dir_attempt(d)) == 0)
			return 0;
		/* Keep each URI's reason for the caller's log line. */
		if (d->errtext[0] != '\0') {
			if (trail[0] != '\0')
				dir_append(trail, sizeof(trail), "; ");
			dir_append(trail, sizeof(trail), d->errtext);
		}
		if (!dir_try_next_after(r))
			goto out;
		if (r == KB_ERR_DIR_TLS)
			tls_failed = 1;
	}
	r = tls_failed ? KB_ERR_DIR_TLS : KB_ERR_DIR_UNAVAILABLE;
	if (trail[0] == '\0')
		(void)snprintf(trail, sizeof(trail), "no URI left to try");
 out:
	dir_printable(d->errtext, sizeof(d->errtext), trail);
	return r;
}

int
dir_move_on(struct kb_dir *d)
{
	if (d == NULL || d->ld != NULL || d->cur + 1 >= d->nuris ||
	    deadline_left_ms(&d->deadline) <= 0)
		return KB_ERR_DIR_UNAVAILABLE;
	return dir_connect_from(d, d->cur + 1);
}

void
dir_close(struct kb_dir *d)
{
	size_t i;

	if (d == NULL)
		return;
	/* A connection still held here is healthy: say goodbye. */
	if (d->ld != NULL)
		(void)dl.ldap_unbind_ext(d->ld, NULL, NULL);
	d->ld = NULL;
	if (d->nullfd != -1)
		close(d->nullfd);
	for (i = 0; i < d->nuris; i++)
		free(d->uris[i]);
	if (d->password != NULL) {
		explicit_bzero(d->password, d->passwordlen);
		free(d->password);
	}
	free(d->binddn);
	free(d->identity);
	explicit_bzero(d, sizeof(*d));
	free(d);
}

/* Decide how to bind and copy what the attempts need into d. */
static int
dir_setup_bind(struct kb_dir *d, const struct kb_config *cfg,
    const struct kb_dir_auth *auth)
{
	const char *who;

	if (auth != NULL && auth->binddn != NULL) {
		if (auth->password == NULL || auth->passwordlen == 0) {
			dir_set_error(d, "empty bind password refused");
			return KB_ERR_DIR_AUTH;
		}
		d->bind = DIR_BIND_SIMPLE;
		who = auth->binddn;
		if ((d->password = malloc(auth->passwordlen + 1)) == NULL)
			return KB_ERR_NOMEM;
		memcpy(d->password, auth->password, auth->passwordlen);
		d->password[auth->passwordlen] = '\0';
		d->passwordlen = auth->passwordlen;
	} else if (cfg->sasl_mech != NULL) {
		if (strcasecmp(cfg->sasl_mech, "EXTERNAL") != 0) {
			dir_set_error(d, "unsupported sasl_mech");
			return KB_ERR_INVALID_ARG;
		}
		d->bind = DIR_BIND_EXTERNAL;
		who = "sasl:EXTERNAL";
	} else if (cfg->binddn != NULL) {
		if (cfg->bindpw_file == NULL) {
			dir_set_error(d, "binddn without bindpw_file");
			return KB_ERR_INVALID_ARG;
		}
		d->bind = DIR_BIND_SIMPLE;
		who = cfg->binddn;
	} else {
		d->bind = DIR_BIND_NONE;
		who = "anonymous";
	}
	if (d->bind == DIR_BIND_SIMPLE) {
		if ((d->binddn = strdup(who)) == NULL)
			return KB_ERR_NOMEM;
	}
	if ((d->identity = strdup(who)) == NULL)
		return KB_ERR_NOMEM;
	return 0;
}

/*
 * Load libldap and resolve the table, once per process.  The handle is
 * never closed: libldap and GnuTLS keep global state for the life of the
 * process, and a failed load leaves nothing that could be called.
 */
static void
dl_load_once(void)
{
	const char *err;
	void *h, *sym;
	int r = KB_ERR_DIR_UNAVAILABLE;

	if ((h = dlopen(KB_LDAP_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		err = dlerror();
		(void)snprintf(dl_reason, sizeof(dl_reason),
		    "cannot load %s: %s", KB_LDAP_SONAME,
		    err != NULL ? err : "unknown error");
		goto out;
	}
	/* POSIX lets dlsym()'s result be converted to a function pointer. */
#define DIR_LDAP_RESOLVE(name) \
	if ((sym = dlsym(h, #name)) == NULL) { \
		(void)snprintf(dl_reason, sizeof(dl_reason), \
		    "%s: symbol %s not found", KB_LDAP_SONAME, #name); \
		goto out; \
	} \
	dl.name = (__typeof__(dl.name))sym;
	DIR_LDAP_FUNCS(DIR_LDAP_RESOLVE)
#undef DIR_LDAP_RESOLVE
	if ((dl_opt_on = dlsym(h, "ber_pvt_opt_on")) == NULL) {
		(void)snprintf(dl_reason, sizeof(dl_reason),
		    "%s: symbol ber_pvt_opt_on not found", KB_LDAP_SONAME);
		goto out;
	}
	r = 0;
 out:
	if (r != 0) {
		memset(&dl, 0, sizeof(dl));
		dl_opt_on = NULL;
	}
	dl_status = r;
}

/*
 * 0 when libldap is loaded; else KB_ERR_DIR_UNAVAILABLE with the reason
 * in *whyp.  Safe from any thread.
 */
static int
dl_load(const char **whyp)
{
	*whyp = "";
	if (pthread_once(&dl_once, dl_load_once) != 0) {
		*whyp = "cannot load libldap: pthread_once failed";
		return KB_ERR_DIR_UNAVAILABLE;
	}
	if (dl_status != 0)
		*whyp = dl_reason;
	return dl_status;
}

/* setenv only when the value differs, so a second call mutates nothing. */
static int
env_set_once(const char *name, const char *value)
{
	const char *cur = getenv(name);

	if (cur != NULL && strcmp(cur, value) == 0)
		return 0;
	return setenv(name, value, 1) == 0 ? 0 : KB_ERR_SYSTEM;
}

int
dir_init_env(void)
{
	int r;

	/*
	 * libldap's one-time initialisation reads ldap.conf, ~/ldaprc,
	 * ./ldaprc and LDAP* environment variables (LDAPTLS_REQCERT=never,
	 * a TLS_REQCERT line in a planted ldaprc, ...).  LDAPNOINIT makes it
	 * skip all of them, so only what keybound.conf says counts.  It must
	 * be set before the first libldap call in the process.
	 */
	if ((r = env_set_once("LDAPNOINIT", "1")) != 0)
		return r;
	/*
	 * The same initialisation starts Cyrus SASL, which dlopen()s every
	 * plugin in its plugin directory (or in $SASL_PATH, a directory an
	 * inherited environment may name): about 2 ms and eight shared
	 * objects per process.  keybound never uses them: SASL EXTERNAL is
	 * one plain ldap_sasl_bind() with an empty response.  So the plugin
	 * path is a directory that exists wherever /proc does and can never
	 * hold a plugin: its entries are descriptor numbers, no one can
	 * create a file in it, and no name ends in ".so".  A path that is not
	 * a directory would load nothing too, but the library then logs
	 * "failed to open directory" to syslog on every cache miss.
	 */
	return env_set_once("SASL_PATH", "/proc/self/fdinfo");
}

int
dir_open(const struct kb_config *cfg, const struct kb_dir_auth *auth,
    const struct timespec *deadline, struct kb_dir **dp,
    char *errbuf, size_t errlen)
{
	struct kb_dir *d = NULL;
	const char *why;
	size_t i;
	int r = KB_ERR_INTERNAL;

	if (dp != NULL)
		*dp = NULL;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (cfg == NULL || deadline == NULL || dp == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = dir_init_env()) != 0)
		goto out;
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	d->nullfd = -1;
	d->cfg = cfg;
	d->deadline = *deadline;
	/* Opened now so that dropping a connection later cannot fail. */
	if ((d->nullfd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		dir_set_error(d, "cannot open /dev/null: %s", strerror(errno));
		r = KB_ERR_SYSTEM;
		goto out;
	}
	/* After dir_init_env(): libldap's initialisation reads it. */
	if ((r = dl_load(&why)) != 0) {
		dir_set_error(d, "%s", why);
		goto out;
	}
	if (auth != NULL && auth->uri != NULL) {
		if ((d->uris[0] = strdup(auth->uri)) == NULL) {
			r = KB_ERR_NOMEM;
			goto out;
		}
		d->nuris = 1;
	} else {
		for (i = 0; i < cfg->nuris && i < KB_CONFIG_MAX_URIS; i++) {
			if ((d->uris[i] = strdup(cfg->uris[i])) == NULL) {
				r = KB_ERR_NOMEM;
				goto out;
			}
			d->nuris++;
		}
	}
	if (d->nuris == 0) {
		dir_set_error(d, "no URI configured");
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = dir_setup_bind(d, cfg, auth)) != 0)
		goto out;
	if ((r = dir_connect_from(d, 0)) != 0)
		goto out;
	*dp = d;
	d = NULL;
	r = 0;
 out:
	if (d != NULL && errbuf != NULL && errlen > 0)
		dir_printable(errbuf, errlen, d->errtext[0] ? d->errtext :
		    kb_strerror(r));
	dir_close(d);
	return r;
}

const char *
dir_uri(const struct kb_dir *d)
{
	if (d == NULL || d->nuris == 0)
		return "";
	return d->uris[d->cur];
}

const char *
dir_bind_identity(const struct kb_dir *d)
{
	if (d == NULL || d->identity == NULL)
		return "anonymous";
	return d->identity;
}

const char *
dir_last_error(const struct kb_dir *d)
{
	return d == NULL ? "" : d->errtext;
}

/* What one search has handed over so far, for its bounds. */
struct dir_search_state {
	size_t entries;
	size_t bytes;
	size_t dropped;
	size_t limit;
	LDAPControl **sctrls;	/* server controls to send, or NULL */
};

static void
dir_free_attrs(struct kb_attr *at, size_t nat)
{
	size_t i, j;

	for (i = 0; i < nat; i++) {
		/* The values were allocated here: cast back to free. */
		struct kb_val *vals = (struct kb_val *)(uintptr_t)at[i].vals;

		for (j = 0; j < at[i].nvals; j++)
			free((void *)(uintptr_t)vals[j].bytes);
		free(vals);
	}
}

/* Copy one attribute's values, dropping those over KB_DIR_VALUE_MAX. */
static int
dir_copy_values(struct berval **bv, struct dir_search_state *st,
    struct kb_attr *at)
{
	struct kb_val *vals = NULL;
	size_t n, i, k = 0;
	char *copy;
	int r = KB_ERR_INTERNAL;

	n = (size_t)dl.ldap_count_values_len(bv);
	if ((vals = calloc(n ? n : 1, sizeof(*vals))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (bv[i]->bv_len > KB_DIR_VALUE_MAX) {
			st->dropped++;
			continue;
		}
		st->bytes += bv[i]->bv_len;
		if (st->bytes > DIR_MAX_BYTES) {
			r = KB_ERR_DIR_SIZELIMIT;
			goto out;
		}
		if ((copy = malloc(bv[i]->bv_len + 1)) == NULL) {
			r = KB_ERR_NOMEM;
			goto out;
		}
		if (bv[i]->bv_len > 0)
			memcpy(copy, bv[i]->bv_val, bv[i]->bv_len);
		copy[bv[i]->bv_len] = '\0';
		vals[k].bytes = copy;
		vals[k].len = bv[i]->bv_len;
		k++;
	}
	r = 0;
 out:
	at->vals = vals;
	at->nvals = k;
	return r;
}

/* Hand one entry, with the requested attributes present, to fn. */
static int
dir_deliver(struct kb_dir *d, LDAPMessage *e, const char *const *attrs,
    size_t nattrs, struct dir_search_state *st, dir_entry_fn fn, void *ctx)
{
	struct kb_attr at[DIR_MAX_ATTRS];
	struct berval **bv = NULL;
	char *dn = NULL;
	size_t i, nat = 0, before = st->bytes;
	int r = KB_ERR_INTERNAL;

	if ((dn = dl.ldap_get_dn(d->ld, e)) == NULL) {
		dir_set_error(d, "%s: entry without a DN", d->uris[d->cur]);
		r = KB_ERR_DIR_PROTOCOL;
		goto out;
	}
	for (i = 0; i < nattrs; i++) {
		if ((bv = dl.ldap_get_values_len(d->ld, e, attrs[i])) == NULL)
			continue;
		at[nat].name = attrs[i];
		r = dir_copy_values(bv, st, &at[nat]);
		nat++;
		dl.ldap_value_free_len(bv);
		bv = NULL;
		if (r != 0) {
			if (r == KB_ERR_DIR_SIZELIMIT)
				dir_set_error(d, "%s: answer larger than %d "
				    "bytes", d->uris[d->cur], DIR_MAX_BYTES);
			goto out;
		}
	}
	r = fn(ctx, dn, at, nat);
	if (r == KB_DIR_ENTRY_RELEASED) {	/* fn kept nothing of it */
		st->bytes = before;
		r = 0;
	}
 out:
	dir_free_attrs(at, nat);
	if (dn != NULL)
		dl.ldap_memfree(dn);
	return r;
}

/*
 * RFC 2696 simple paged results: the page size asked for, the cookie the
 * server handed back, and whether it answered with the control at all.
 */
struct dir_page {
	struct berval cookie;		/* bv_val from libldap, or NULL */
	LDAPControl *ctrl;		/* the request control of this page */
	int answered;			/* the last result carried the control */
};

/* Send the search request; attrs NULL asks for no attributes ("1.1"). */
static int
dir_send_search(struct kb_dir *d, const char *base, int scope,
    const char *filter, const char *const *attrs, size_t nattrs,
    size_t limit, LDAPControl **sctrls, int *msgidp)
{
	char *av[DIR_MAX_ATTRS + 1];
	char noattrs[] = LDAP_NO_ATTRS;
	struct timeval tl;
	long left;
	size_t i;
	int ldscope, rc;

	switch (scope) {
	case KB_SCOPE_BASE:
		ldscope = LDAP_SCOPE_BASE;
		break;
	case KB_SCOPE_ONE:
		ldscope = LDAP_SCOPE_ONELEVEL;
		break;
	case KB_SCOPE_SUB:
		ldscope = LDAP_SCOPE_SUBTREE;
		break;
	default:
		return KB_ERR_INVALID_ARG;
	}
	/* libldap takes char **; it does not write through them. */
	for (i = 0; i < nattrs; i++)
		av[i] = (char *)(uintptr_t)attrs[i];
	if (nattrs == 0)
		av[nattrs++] = noattrs;
	av[nattrs] = NULL;
	/* The server's own time limit: what is left, rounded up. */
	left = deadline_left_ms(&d->deadline);
	tl.tv_sec = (left + 999) / 1000;
	tl.tv_usec = 0;
	rc = dl.ldap_search_ext(d->ld, base, ldscope, filter, av, 0, sctrls,
	    NULL, &tl, limit > INT_MAX ? 0 : (int)limit, msgidp);
	if (rc != LDAP_SUCCESS) {
		dir_set_error(d, "%s: search: %s", d->uris[d->cur],
		    dl.ldap_err2string(rc));
		rc = dir_map_result(rc);
		if (rc == KB_ERR_DIR_UNAVAILABLE)
			dir_drop(d);
		return rc != 0 ? rc : KB_ERR_DIR_PROTOCOL;
	}
	return 0;
}

/*
 * The result of one page: its code, and the cookie of the paged results
 * response control into pg (answered = 0 if the server sent none: it
 * ignored the control and this was the whole search).
 */
static int
dir_parse_page_result(struct kb_dir *d, LDAPMessage *msg,
    struct dir_page *pg)
{
	LDAPControl **ctrls = NULL, *c;
	char *diag = NULL, clean[256];
	ber_int_t count = 0;
	int err = LDAP_OTHER, rc;

	rc = dl.ldap_parse_result(d->ld, msg, &err, NULL, &diag, NULL, &ctrls,
	    1);
	if (rc != LDAP_SUCCESS) {
		dir_set_error(d, "%s: search: unreadable result: %s",
		    d->uris[d->cur], dl.ldap_err2string(rc));
		return KB_ERR_DIR_PROTOCOL;
	}
	dir_printable(clean, sizeof(clean), diag);
	if (diag != NULL)
		dl.ldap_memfree(diag);
	if (pg->cookie.bv_val != NULL)
		dl.ber_memfree(pg->cookie.bv_val);
	pg->cookie.bv_val = NULL;
	pg->cookie.bv_len = 0;
	pg->answered = 0;
	c = ctrls != NULL ? dl.ldap_control_find(LDAP_CONTROL_PAGEDRESULTS,
	    ctrls, NULL) : NULL;
	if (c != NULL) {
		if (dl.ldap_parse_pageresponse_control(d->ld, c, &count,
		    &pg->cookie) != LDAP_SUCCESS) {
			dl.ldap_controls_free(ctrls);
			dir_set_error(d, "%s: search: unreadable paged results "
			    "control", d->uris[d->cur]);
			return KB_ERR_DIR_PROTOCOL;
		}
		pg->answered = 1;
	}
	if (ctrls != NULL)
		dl.ldap_controls_free(ctrls);
	if (err != LDAP_SUCCESS)
		dir_set_error(d, "%s: search: %s%s%s", d->uris[d->cur],
		    dl.ldap_err2string(err), clean[0] ? ": " : "", clean);
	return dir_map_result(err);
}

void
dir_set_idle(struct kb_dir *d, dir_idle_fn fn, void *ctx)
{
	if (d == NULL)
		return;
	d->idle = fn;
	d->idle_ctx = ctx;
}

/* The work set with dir_set_idle(), once. */
static void
dir_run_idle(struct kb_dir *d)
{
	dir_idle_fn fn = d->idle;

	d->idle = NULL;
	if (fn != NULL)
		fn(d->idle_ctx);
}

/* Run one search (or one page, pg not NULL) on the current connection. */
static int
dir_search_once(struct kb_dir *d, const char *base, int scope,
    const char *filter, const char *const *attrs, size_t nattrs,
    struct dir_search_state *st, dir_entry_fn fn, void *ctx,
    struct dir_page *pg)
{
	LDAPMessage *msg = NULL;
	LDAPControl *ctrls[3];
	size_t nctrls = 0;
	int msgid = -1, done = 0, r = KB_ERR_INTERNAL;

	if (st->sctrls != NULL && st->sctrls[0] != NULL)
		ctrls[nctrls++] = st->sctrls[0];	/* matched values */
	if (pg != NULL && pg->ctrl != NULL)
		ctrls[nctrls++] = pg->ctrl;		/* paged results */
	ctrls[nctrls] = NULL;
	clock_gettime(CLOCK_REALTIME, &d->search_sent);
	if ((r = dir_send_search(d, base, scope, filter, attrs, nattrs,
	    st->limit, nctrls > 0 ? ctrls : NULL, &msgid)) != 0)
		goto out;
	dir_run_idle(d);
	for (;;) {
		if ((r = dir_wait(d, msgid, LDAP_MSG_ONE, &msg)) != 0)
			goto out;
		switch (dl.ldap_msgtype(msg)) {
		case LDAP_RES_SEARCH_ENTRY:
			/* A server may ignore the size limit; we do not. */
			if (++st->entries > st->limit) {
				dir_set_error(d, "%s: more than %zu entries",
				    d->uris[d->cur], st->limit);
				r = KB_ERR_DIR_SIZELIMIT;
				goto out;
			}
			r = dir_deliver(d, msg, attrs, nattrs, st, fn, ctx);
			if (r != 0)
				goto out;
			break;
		case LDAP_RES_SEARCH_RESULT:
			done = 1;
			r = pg != NULL ? dir_parse_page_result(d, msg, pg) :
			    dir_parse_result(d, msg, "search");
			msg = NULL;
			goto out;
		case LDAP_RES_SEARCH_REFERENCE:
		case LDAP_RES_INTERMEDIATE:
			break;		/* referrals are not followed */
		default:
			dir_set_error(d, "%s: unexpected message in search",
			    d->uris[d->cur]);
			r = KB_ERR_DIR_PROTOCOL;
			goto out;
		}
		dl.ldap_msgfree(msg);
		msg = NULL;
	}
 out:
	if (msg != NULL)
		dl.ldap_msgfree(msg);
	/* Stopped early: tell the server, keep the connection usable. */
	if (r != 0 && !done && msgid != -1 && d->ld != NULL)
		(void)dl.ldap_abandon_ext(d->ld, msgid, NULL, NULL);
	return r;
}

void
dir_search_sent(const struct kb_dir *d, struct timespec *t)
{
	*t = d->search_sent;
}

/*
 * BER length octets: short form below 128, else 0x81/0x82 and the bytes.
 * Returns how many were written to p (which has room for 3).
 */
static size_t
ber_length(unsigned char *p, size_t len)
{
	if (len < 0x80) {
		p[0] = (unsigned char)len;
		return 1;
	}
	if (len <= 0xff) {
		p[0] = 0x81;
		p[1] = (unsigned char)len;
		return 2;
	}
	p[0] = 0x82;
	p[1] = (unsigned char)(len >> 8);
	p[2] = (unsigned char)len;
	return 3;
}

/*
 * The RFC 3876 matched-values control: of attribute vr_attr only the
 * values equal to vr_value, of every other attribute asked for all of
 * them.  ValuesReturnFilter ::= SEQUENCE OF SimpleFilterItem; here one
 * equalityMatch [3] { attributeDesc, assertionValue } and a present [7]
 * item per other attribute (an attribute the filter does not name comes
 * back without values).  Encoded by hand into buf: the strings are short.
 */
#define DIR_VR_MAX	1024
static int
dir_vr_control(const char *vr_attr, const char *vr_value,
    const char *const *attrs, size_t nattrs, unsigned char *buf,
    size_t buflen, struct berval *out)
{
	unsigned char hdr[4];
	size_t alen = strlen(vr_attr), vlen = strlen(vr_value), items, eq;
	size_t i, n = 0, h, l;

	if (alen > 127 || vlen > 255)
		return KB_ERR_INVALID_ARG;
	eq = 2 + alen + (vlen < 0x80 ? 2 : 3) + vlen;
	items = 1 + ber_length(hdr, eq) + eq;
	for (i = 0; i < nattrs; i++) {
		if ((l = strlen(attrs[i])) > 127)
			return KB_ERR_INVALID_ARG;
		if (strcasecmp(attrs[i], vr_attr) != 0)
			items += 2 + l;
	}
	if (items + 4 > buflen)
		return KB_ERR_INVALID_ARG;
	buf[n++] = 0x30;			/* SEQUENCE OF */
	h = ber_length(hdr, items);
	memcpy(buf + n, hdr, h);
	n += h;
	buf[n++] = 0xa3;			/* [3] equalityMatch */
	h = ber_length(hdr, eq);
	memcpy(buf + n, hdr, h);
	n += h;
	buf[n++] = 0x04;			/* attributeDesc */
	buf[n++] = (unsigned char)alen;
	memcpy(buf + n, vr_attr, alen);
	n += alen;
	buf[n++] = 0x04;			/* assertionValue */
	h = ber_length(hdr, vlen);
	memcpy(buf + n, hdr, h);
	n += h;
	memcpy(buf + n, vr_value, vlen);
	n += vlen;
	for (i = 0; i < nattrs; i++) {
		if (strcasecmp(attrs[i], vr_attr) == 0)
			continue;
		l = strlen(attrs[i]);
		buf[n++] = 0x87;		/* [7] present */
		buf[n++] = (unsigned char)l;
		memcpy(buf + n, attrs[i], l);
		n += l;
	}
	out->bv_val = (char *)buf;
	out->bv_len = n;
	return 0;
}

int
dir_search(struct kb_dir *d, const char *base, int scope,
    const char *filter, const char *const *attrs, size_t sizelimit,
    dir_entry_fn fn, void *ctx, size_t *dropped)
{
	return dir_search_values(d, base, scope, filter, attrs, sizelimit,
	    NULL, NULL, fn, ctx, dropped);
}

int
dir_search_values(struct kb_dir *d, const char *base, int scope,
    const char *filter, const char *const *attrs, size_t sizelimit,
    const char *vr_attr, const char *vr_value, dir_entry_fn fn, void *ctx,
    size_t *dropped)
{
	static char vr_oid[] = "1.2.826.0.1.3344810.2.3";
	struct dir_search_state st;
	LDAPControl vr, *sctrls[2];
	unsigned char vr_buf[DIR_VR_MAX];
	size_t nattrs = 0;
	int r = KB_ERR_INTERNAL;

	if (dropped != NULL)
		*dropped = 0;
	memset(&st, 0, sizeof(st));
	if (d == NULL || base == NULL || filter == NULL || fn == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	for (nattrs = 0; attrs != NULL && attrs[nattrs] != NULL; nattrs++) {
		if (nattrs >= DIR_MAX_ATTRS) {
			r = KB_ERR_INVALID_ARG;
			goto out;
		}
	}
	st.limit = (sizelimit == 0 || sizelimit > KB_DIR_MAX_ENTRIES) ?
	    KB_DIR_MAX_ENTRIES : sizelimit;
	if (vr_attr != NULL && vr_value != NULL) {
		/* not critical: a server without it sends every value */
		if ((r = dir_vr_control(vr_attr, vr_value, attrs, nattrs,
		    vr_buf, sizeof(vr_buf), &vr.ldctl_value)) != 0)
			goto out;
		vr.ldctl_oid = vr_oid;
		vr.ldctl_iscritical = 0;
		sctrls[0] = &vr;
		sctrls[1] = NULL;
		st.sctrls = sctrls;
	}
	for (;;) {
		if (d->ld == NULL) {
			dir_set_error(d, "not connected");
			r = KB_ERR_DIR_UNAVAILABLE;
			goto out;
		}
		r = dir_search_once(d, base, scope, filter, attrs, nattrs, &st,
		    fn, ctx, NULL);
		/*
		 * A URI that accepted the connection but never answered the
		 * first request loses its turn like one that refused it,
		 * as long as nothing has been handed to fn yet.
		 */
		if (r == 0 || !d->may_move_on || st.entries > 0 ||
		    d->ld != NULL || d->cur + 1 >= d->nuris)
			break;
		if ((r = dir_connect_from(d, d->cur + 1)) != 0)
			break;
	}
	if (r == 0)
		d->may_move_on = 0;
 out:
	if (dropped != NULL)
		*dropped = st.dropped;
	return r;
}

int
dir_search_paged(struct kb_dir *d, const char *base, int scope,
    const char *filter, const char *const *attrs, dir_entry_fn fn, void *ctx,
    size_t *dropped, int *unpagedp)
{
	struct dir_search_state st;
	struct dir_page pg;
	size_t nattrs = 0, dropped_total = 0;
	int rc, r = KB_ERR_INTERNAL;

	memset(&st, 0, sizeof(st));
	memset(&pg, 0, sizeof(pg));
	if (unpagedp != NULL)
		*unpagedp = 0;
	if (d == NULL || base == NULL || filter == NULL || fn == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	for (nattrs = 0; attrs != NULL && attrs[nattrs] != NULL; nattrs++) {
		if (nattrs >= DIR_MAX_ATTRS) {
			r = KB_ERR_INVALID_ARG;
			goto out;
		}
	}
	st.limit = SIZE_MAX;		/* no cap: each page is bounded */
	for (;;) {
		if (d->ld == NULL) {
			dir_set_error(d, "not connected");
			r = KB_ERR_DIR_UNAVAILABLE;
			goto out;
		}
		/* non-critical: a server without paging runs one search */
		rc = dl.ldap_create_page_control(d->ld, KB_DIR_PAGE_SIZE,
		    &pg.cookie, 0, &pg.ctrl);
		if (rc != LDAP_SUCCESS) {
			dir_set_error(d, "paged results control: %s",
			    dl.ldap_err2string(rc));
			r = KB_ERR_INTERNAL;
			goto out;
		}
		st.bytes = 0;		/* DIR_MAX_BYTES bounds each page */
		r = dir_search_once(d, base, scope, filter, attrs, nattrs, &st,
		    fn, ctx, &pg);
		dl.ldap_control_free(pg.ctrl);
		pg.ctrl = NULL;
		dropped_total += st.dropped;
		st.dropped = 0;
		if (r != 0 && d->may_move_on && st.entries == 0 &&
		    d->ld == NULL && d->cur + 1 < d->nuris) {
			if ((r = dir_connect_from(d, d->cur + 1)) != 0)
				goto out;
			continue;
		}
		if (r != 0 || !pg.answered || pg.cookie.bv_len == 0)
			break;
		d->may_move_on = 0;	/* later pages: this server only */
	}
	if (!pg.answered && unpagedp != NULL)
		*unpagedp = 1;
	if (r == 0)
		d->may_move_on = 0;
 out:
	if (pg.cookie.bv_val != NULL)
		dl.ber_memfree(pg.cookie.bv_val);
	if (dropped != NULL)
		*dropped = dropped_total;
	return r;
}

/* Build libldap's modification list; values are borrowed, not copied. */
static int
dir_build_mods(const struct kb_mod *mods, size_t nmods, int adding,
    LDAPMod **listp, LDAPMod ***ptrsp)
{
	LDAPMod *list = NULL, **ptrs = NULL;
	size_t i, j, nv;
	int r = KB_ERR_INTERNAL;

	*listp = NULL;
	*ptrsp = NULL;
	if (nmods == 0 || nmods > DIR_MAX_MODS || mods == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if ((list = calloc(nmods, sizeof(*list))) == NULL ||
	    (ptrs = calloc(nmods + 1, sizeof(*ptrs))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < nmods; i++) {
		ptrs[i] = &list[i];
		switch (adding ? KB_MOD_ADD : mods[i].op) {
		case KB_MOD_ADD:
			list[i].mod_op = LDAP_MOD_ADD;
			break;
		case KB_MOD_DELETE:
			list[i].mod_op = LDAP_MOD_DELETE;
			break;
		case KB_MOD_REPLACE:
			list[i].mod_op = LDAP_MOD_REPLACE;
			break;
		default:
			r = KB_ERR_INVALID_ARG;
			goto out;
		}
		if (mods[i].attr == NULL) {
			r = KB_ERR_INVALID_ARG;
			goto out;
		}
		list[i].mod_type = (char *)(uintptr_t)mods[i].attr;
		for (nv = 0; mods[i].vals != NULL && mods[i].vals[nv] != NULL;
		    nv++)
			;
		if (nv == 0) {
			if (adding || mods[i].op == KB_MOD_ADD) {
				r = KB_ERR_INVALID_ARG;
				goto out;
			}
			continue;	/* the whole attribute */
		}
		if ((list[i].mod_values = calloc(nv + 1,
		    sizeof(char *))) == NULL) {
			r = KB_ERR_NOMEM;
			goto out;
		}
		for (j = 0; j < nv; j++)
			list[i].mod_values[j] =
			    (char *)(uintptr_t)mods[i].vals[j];
	}
	*listp = list;
	*ptrsp = ptrs;
	list = NULL;
	ptrs = NULL;
	r = 0;
 out:
	if (list != NULL) {
		for (i = 0; i < nmods; i++)
			free(list[i].mod_values);
		free(list);
	}
	free(ptrs);
	return r;
}

static void
dir_free_mods(LDAPMod *list, LDAPMod **ptrs, size_t nmods)
{
	size_t i;

	if (list != NULL) {
		for (i = 0; i < nmods; i++)
			free(list[i].mod_values);
		free(list);
	}
	free(ptrs);
}

/* Operations for dir_write(). */
enum dir_write_op {
	DIR_WRITE_ADD,
	DIR_WRITE_MODIFY,
	DIR_WRITE_DELETE,
};

/*
 * One write with optional assertion and permissive-modify controls, and
 * its result.  Writes never move on to another URI.
 */
static int
dir_write(struct kb_dir *d, enum dir_write_op op, const char *dn,
    const struct kb_mod *mods, size_t nmods, const char *assertion,
    int permissive)
{
	static char permissive_oid[] = LDAP_CONTROL_X_PERMISSIVE_MODIFY;
	LDAPControl permissive_ctrl, *assert_ctrl = NULL, *ctrls[3];
	LDAPMod *list = NULL, **ptrs = NULL;
	LDAPMessage *res = NULL;
	char *filter = NULL;
	const char *what;
	size_t nctrls = 0;
	int msgid = -1, rc, r = KB_ERR_INTERNAL;

	if (d == NULL || dn == NULL) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if (d->ld == NULL) {
		dir_set_error(d, "not connected");
		r = KB_ERR_DIR_UNAVAILABLE;
		goto out;
	}
	if (op != DIR_WRITE_DELETE && (r = dir_build_mods(mods, nmods,
	    op == DIR_WRITE_ADD, &list, &ptrs)) != 0)
		goto out;
	if (assertion != NULL) {
		if ((filter = strdup(assertion)) == NULL) {
			r = KB_ERR_NOMEM;
			goto out;
		}
		rc = dl.ldap_create_assertion_control(d->ld, filter, 1,
		    &assert_ctrl);
		if (rc != LDAP_SUCCESS) {
			dir_set_error(d, "assertion filter: %s",
			    dl.ldap_err2string(rc));
			r = KB_ERR_INVALID_ARG;
			goto out;
		}
		ctrls[nctrls++] = assert_ctrl;
	}
	if (permissive) {
		permissive_ctrl.ldctl_oid = permissive_oid;
		permissive_ctrl.ldctl_value.bv_len = 0;
		permissive_ctrl.ldctl_value.bv_val = NULL;
		permissive_ctrl.ldctl_iscritical = 1;
		ctrls[nctrls++] = &permissive_ctrl;
	}
	ctrls[nctrls] = NULL;
	switch (op) {
	case DIR_WRITE_ADD:
		what = "add";
		rc = dl.ldap_add_ext(d->ld, dn, ptrs, ctrls, NULL, &msgid);
		break;
	case DIR_WRITE_MODIFY:
		what = "modify";
		rc = dl.ldap_modify_ext(d->ld, dn, ptrs, ctrls, NULL, &msgid);
		break;
	case DIR_WRITE_DELETE:
		what = "delete";
		rc = dl.ldap_delete_ext(d->ld, dn, ctrls, NULL, &msgid);
		break;
	default:
		r = KB_ERR_INTERNAL;
		goto out;
	}
	if (rc != LDAP_SUCCESS) {
		dir_set_error(d, "%s: %s: %s", d->uris[d->cur], what,
		    dl.ldap_err2string(rc));
		r = dir_map_result(rc);
		if (r == 0)
			r = KB_ERR_DIR_PROTOCOL;
		goto out;
	}
	if ((r = dir_wait(d, msgid, LDAP_MSG_ALL, &res)) != 0)
		goto out;
	r = dir_parse_result(d, res, what);
	res = NULL;
	d->may_move_on = 0;
 out:
	if (res != NULL)
		dl.ldap_msgfree(res);
	if (assert_ctrl != NULL)
		dl.ldap_control_free(assert_ctrl);
	free(filter);
	dir_free_mods(list, ptrs, nmods);
	return r;
}

int
dir_add(struct kb_dir *d, const char *dn, const struct kb_mod *mods,
    size_t nmods)
{
	return dir_write(d, DIR_WRITE_ADD, dn, mods, nmods, NULL, 0);
}

int
dir_modify(struct kb_dir *d, const char *dn, const struct kb_mod *mods,
    size_t nmods, const char *assertion, int permissive)
{
	return dir_write(d, DIR_WRITE_MODIFY, dn, mods, nmods, assertion,
	    permissive);
}

int
dir_delete(struct kb_dir *d, const char *dn, const char *assertion)
{
	return dir_write(d, DIR_WRITE_DELETE, dn, NULL, 0, assertion, 0);
}
