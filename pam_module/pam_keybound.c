/*
 * pam_keybound.c - refuse password (and keyboard-interactive) login while a
 * key pair is attached to (this instance, the account PAM_USER names).
 *
 *   auth required pam_keybound.so [config=FILE] [users=LIST]
 *       [exclude=LIST] [on_error=deny|allow] [timeout=SECONDS] [notify]
 *       [debug]
 *
 * The module links neither libldap nor libcrypto into the host: it asks
 * `keybound-keys -c FILE --has-keys USER` (installed at KB_HELPER_PATH,
 * fixed at build time) and maps the exit status.  USER is the account's
 * own name from the user database (pw_name), the name sshd hands its
 * AuthorizedKeysCommand as %u, not the spelling the client typed.  It
 * never returns PAM_SUCCESS: at best it steps aside (PAM_IGNORE) and the
 * rest of the stack decides.  An account in exclude= (a break-glass
 * account) is stepped aside for without asking anyone, and every such
 * attempt is logged.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define PAM_SM_AUTH
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "config.h"
#include "helper.h"
#include "names.h"

#ifndef KB_HELPER_PATH
#error "KB_HELPER_PATH must be defined by the build"
#endif

#define PK_TIMEOUT_DEFAULT	10	/* seconds; keybound-keys' own is 3 */
#define PK_TIMEOUT_MAX		120	/* sshd's default LoginGraceTime */
#define PK_USERS_MAX		4096	/* bytes in users= and in exclude= */
#define PK_LOG_NAME_MAX		64	/* bytes of a name shown in a log line */
#define PK_LOG_BUF		(PK_LOG_NAME_MAX * 4 + 4)
#define PK_LOG_WHO		(PK_LOG_BUF * 2 + 32)
#define PK_PWBUF_MIN		1024	/* bytes for one passwd entry, at first */
#define PK_PWBUF_MAX		(1024 * 1024)	/* ... and at most */

#define PK_NOTICE	"Password login is disabled for this account because " \
			"a key pair is attached to it; log in with the key."

struct pk_args {
	const char *config;	/* absolute path; points into argv */
	const char *users;	/* comma-separated list, NULL = everyone */
	const char *exclude;	/* comma-separated list, NULL = nobody */
	int on_error_allow;	/* 0 = deny (default) */
	int notify;
	int debug;
	long timeout_ms;
};

/* What keybound-keys said, as far as the module is concerned. */
enum pk_verdict {
	PK_ERROR = 0,		/* no trustworthy answer: on_error decides */
	PK_ATTACHED,		/* exit 0: a usable key pair is attached */
	PK_NOT_ATTACHED,	/* exit 3: nothing attached */
};

/* What the user database said about PAM_USER. */
enum pk_lookup {
	PK_LOOKUP_ERROR = 0,	/* no trustworthy answer: on_error decides */
	PK_LOOKUP_FOUND,	/* an account; its name is the one to ask about */
	PK_LOOKUP_UNKNOWN,	/* no such account */
};

/*
 * Render up to PK_LOG_NAME_MAX bytes of s for a log line: printable ASCII
 * other than '\\' and '"' as is, everything else as \xNN, "..." if cut.
 */
static void
log_escape(const char *s, char *buf, size_t bufsz)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i, o = 0;

	for (i = 0; p[i] != '\0' && i < PK_LOG_NAME_MAX; i++) {
		if (o + 5 > bufsz)
			break;
		if (p[i] > 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '"') {
			buf[o++] = (char)p[i];
			continue;
		}
		buf[o++] = '\\';
		buf[o++] = 'x';
		buf[o++] = hex[p[i] >> 4];
		buf[o++] = hex[p[i] & 0xf];
	}
	if (p[i] != '\0' && o + 4 <= bufsz) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

/* Strict decimal in [min, max]; no sign, no spaces, no trailing bytes. */
static int
parse_seconds(const char *s, long min, long max, long *vp)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*vp = v;
	return 0;
}

/* users=a,b,c: non-empty entries, each a valid user name. */
static int
users_valid(const char *list)
{
	const char *p, *comma;
	size_t len;

	if (strnlen(list, PK_USERS_MAX + 1) > PK_USERS_MAX)
		return -1;
	for (p = list;; p = comma + 1) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len == 0 || name_user_valid(p, len) != 0)
			return -1;
		if (comma == NULL)
			return 0;
	}
}

/* Are the ulen bytes at user one of the comma-separated entries of list? */
static int
users_contains_len(const char *list, const char *user, size_t ulen)
{
	const char *p, *comma;
	size_t len;

	for (p = list;; p = comma + 1) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len == ulen && memcmp(p, user, len) == 0)
			return 1;
		if (comma == NULL)
			return 0;
	}
}

/* Is user one of the comma-separated entries of list? */
static int
users_contains(const char *list, const char *user)
{
	return users_contains_len(list, user, strlen(user));
}

/* Does an entry of the (valid) list a also appear in the list b? */
static int
users_overlap(const char *a, const char *b)
{
	const char *p, *comma;
	size_t len;

	for (p = a;; p = comma + 1) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (users_contains_len(b, p, len))
			return 1;
		if (comma == NULL)
			return 0;
	}
}

/* config=: an absolute path without control bytes. */
static int
config_path_valid(const char *path)
{
	const unsigned char *p;
	size_t len = strnlen(path, PATH_MAX);

	if (len < 2 || len >= PATH_MAX || path[0] != '/')
		return -1;
	for (p = (const unsigned char *)path; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return -1;
	return 0;
}

static int
set_config(struct pk_args *a, const char *v)
{
	if (config_path_valid(v) != 0)
		return -1;
	a->config = v;
	return 0;
}

static int
set_users(struct pk_args *a, const char *v)
{
	if (users_valid(v) != 0)
		return -1;
	a->users = v;
	return 0;
}

static int
set_exclude(struct pk_args *a, const char *v)
{
	if (users_valid(v) != 0)
		return -1;
	a->exclude = v;
	return 0;
}

static int
set_on_error(struct pk_args *a, const char *v)
{
	if (strcmp(v, "deny") == 0)
		a->on_error_allow = 0;
	else if (strcmp(v, "allow") == 0)
		a->on_error_allow = 1;
	else
		return -1;
	return 0;
}

static int
set_timeout(struct pk_args *a, const char *v)
{
	long secs;

	if (parse_seconds(v, 1, PK_TIMEOUT_MAX, &secs) != 0)
		return -1;
	a->timeout_ms = secs * 1000L;
	return 0;
}

static int
set_notify(struct pk_args *a, const char *v)
{
	a->notify = 1;
	return 0;
}

static int
set_debug(struct pk_args *a, const char *v)
{
	a->debug = 1;
	return 0;
}

/* Module arguments: "name=value" when takes_value, else a bare flag. */
static const struct pk_keyword {
	const char *name;
	int takes_value;
	int (*set)(struct pk_args *, const char *);
} pk_keywords[] = {
	{ "config", 1, set_config },
	{ "users", 1, set_users },
	{ "exclude", 1, set_exclude },
	{ "on_error", 1, set_on_error },
	{ "timeout", 1, set_timeout },
	{ "notify", 0, set_notify },
	{ "debug", 0, set_debug },
};

#define PK_NKEYWORDS	(sizeof(pk_keywords) / sizeof(pk_keywords[0]))

/* Apply one argument; -1 if unknown or its value is bad. */
static int
arg_apply(struct pk_args *a, const char *arg, unsigned *seen)
{
	const struct pk_keyword *kw;
	size_t i, len;

	for (i = 0; i < PK_NKEYWORDS; i++) {
		kw = &pk_keywords[i];
		len = strlen(kw->name);
		if (strncmp(arg, kw->name, len) != 0)
			continue;
		if (kw->takes_value ? arg[len] != '=' : arg[len] != '\0')
			continue;
		if ((*seen & (1U << i)) != 0)
			return -1;	/* repeated: which one wins is unclear */
		*seen |= 1U << i;
		return kw->set(a, kw->takes_value ? arg + len + 1 : NULL);
	}
	return -1;
}

/*
 * Parse the module arguments; every bad, unknown or repeated one is logged
 * and the whole set refused (PAM_SERVICE_ERR).  So is an account named in
 * both users= and exclude=: which of the two was meant is unclear.
 */
static int
args_parse(pam_handle_t *pamh, int argc, const char **argv,
    struct pk_args *a)
{
	char shown[PK_LOG_BUF];
	const char *arg;
	unsigned seen = 0;
	int i, bad = 0;

	memset(a, 0, sizeof(*a));
	a->config = KB_CONFIG_PATH;
	a->timeout_ms = PK_TIMEOUT_DEFAULT * 1000L;
	for (i = 0; i < argc; i++) {
		arg = argv[i] != NULL ? argv[i] : "";
		if (arg_apply(a, arg, &seen) != 0) {
			log_escape(arg, shown, sizeof(shown));
			pam_syslog(pamh, LOG_ERR, "bad, unknown or repeated "
			    "argument \"%s\"", shown);
			bad = 1;
		}
	}
	if (a->users != NULL && a->exclude != NULL &&
	    users_overlap(a->exclude, a->users)) {
		pam_syslog(pamh, LOG_ERR, "an account is named in both users= "
		    "and exclude=");
		bad = 1;
	}
	return bad ? PAM_SERVICE_ERR : PAM_SUCCESS;
}

/*
 * Read getpwnam_r()'s status.  "No such user" is 0 with no entry, but
 * getpwnam_r(3) and POSIX also allow ENOENT, ESRCH, EBADF and EPERM for
 * it, and glibc passes those up from a backend it could not ask at all
 * (an unreadable /etc/passwd, a missing daemon socket).  Such a code
 * cannot be told apart from a missing user, so it is read the closed way:
 * no such account, PAM_USER_UNKNOWN whatever on_error says, never the
 * PAM_IGNORE of on_error=allow.  Every other code (EIO, EAGAIN, ENOMEM,
 * EMFILE, ETIMEDOUT, an entry larger than PK_PWBUF_MAX, ...) is a lookup
 * error: there is an account database that did not answer, and on_error
 * decides as it does when the directory does not answer.
 */
static enum pk_lookup
lookup_classify(int e)
{
	switch (e) {
	case 0:
	case ENOENT:
	case ESRCH:
	case EBADF:
	case EPERM:
		return PK_LOOKUP_UNKNOWN;
	default:
		return PK_LOOKUP_ERROR;
	}
}

/*
 * Resolve user through NSS as sshd does (getpwnam) and copy the account's
 * name, which the database may spell differently (case folded, short
 * instead of qualified), into account.  *errp gets getpwnam_r's code.
 * The buffer grows on ERANGE up to PK_PWBUF_MAX; it may hold a password
 * hash, so it is wiped before it is freed.
 */
static enum pk_lookup
account_lookup(const char *user, char *account, size_t accountsz, int *errp)
{
	struct passwd pw, *found = NULL;
	enum pk_lookup r = PK_LOOKUP_ERROR;
	char *buf = NULL;
	size_t bufsz = PK_PWBUF_MIN, len;
	long hint;
	int e;

	account[0] = '\0';
	if ((hint = sysconf(_SC_GETPW_R_SIZE_MAX)) > PK_PWBUF_MIN &&
	    hint <= PK_PWBUF_MAX)
		bufsz = (size_t)hint;
	for (;;) {
		if ((buf = malloc(bufsz)) == NULL) {
			e = ENOMEM;
			goto out;
		}
		found = NULL;
		e = getpwnam_r(user, &pw, buf, bufsz, &found);
		if (e != ERANGE || bufsz >= PK_PWBUF_MAX)
			break;
		explicit_bzero(buf, bufsz);
		free(buf);
		buf = NULL;
		bufsz = bufsz * 2 > PK_PWBUF_MAX ? PK_PWBUF_MAX : bufsz * 2;
	}
	if (e != 0 || found == NULL) {
		r = lookup_classify(e);
		goto out;
	}
	/* Too long for account: leave it empty, name_user_valid says no. */
	if (found->pw_name != NULL &&
	    (len = strnlen(found->pw_name, accountsz)) < accountsz)
		memcpy(account, found->pw_name, len + 1);
	r = PK_LOOKUP_FOUND;
 out:
	if (buf != NULL) {
		explicit_bzero(buf, bufsz);
		free(buf);
	}
	*errp = e;
	return r;
}

/*
 * "user=ACCOUNT" for a log line, and " pam_user=TYPED" after it when the
 * client spelled the account differently.
 */
static void
log_who(const char *account, const char *typed, char *buf, size_t bufsz)
{
	char a[PK_LOG_BUF], t[PK_LOG_BUF];

	log_escape(account, a, sizeof(a));
	if (strcmp(account, typed) == 0) {
		snprintf(buf, bufsz, "user=%s", a);
		return;
	}
	log_escape(typed, t, sizeof(t));
	snprintf(buf, bufsz, "user=%s pam_user=%s", a, t);
}

/* Map the helper's outcome: only exit 0 and exit 3 are answers. */
static enum pk_verdict
verdict_of(const struct helper_result *res)
{
	switch (res->outcome) {
	case HELPER_EXITED:
		switch (res->code) {
		case 0:
			return PK_ATTACHED;
		case 3:
			return PK_NOT_ATTACHED;
		default:
			return PK_ERROR;
		}
	case HELPER_SIGNALED:
	case HELPER_TIMEOUT:
	case HELPER_EXEC_FAILED:
	case HELPER_SPAWN_FAILED:
	default:
		return PK_ERROR;
	}
}

/* Describe a failed run for the log line. */
static void
describe_failure(const struct helper_result *res, char *buf, size_t bufsz)
{
	switch (res->outcome) {
	case HELPER_EXITED:
		snprintf(buf, bufsz, "helper-exit=%d", res->code);
		break;
	case HELPER_SIGNALED:
		snprintf(buf, bufsz, "helper-signal=%d", res->code);
		break;
	case HELPER_TIMEOUT:
		snprintf(buf, bufsz, "helper-timeout");
		break;
	case HELPER_EXEC_FAILED:
		snprintf(buf, bufsz, "helper-exec-failed (%s)",
		    strerror(res->err));
		break;
	case HELPER_SPAWN_FAILED:
	default:
		snprintf(buf, bufsz, "spawn-failed (%s)", strerror(res->err));
		break;
	}
}

/*
 * " rhost=HOST" when the application set PAM_RHOST (sshd: the client's
 * address), escaped like a user name; else "".  Appended to the lines
 * that refuse, so fail2ban can tell where an attempt came from.
 */
static void
log_rhost(pam_handle_t *pamh, char *buf, size_t bufsz)
{
	const void *item = NULL;
	char shown[PK_LOG_BUF];

	buf[0] = '\0';
	if (pam_get_item(pamh, PAM_RHOST, &item) != PAM_SUCCESS ||
	    item == NULL || *(const char *)item == '\0')
		return;
	log_escape(item, shown, sizeof(shown));
	snprintf(buf, bufsz, " rhost=%s", shown);
}

/* Ask keybound-keys about user; fills *res. */
static void
ask_helper(const struct pk_args *a, const char *user,
    struct helper_result *res)
{
	static char *const envp[] = { "PATH=/usr/bin:/bin", NULL };
	char *argv[6];

	/* execve's prototype is not const-correct; nothing writes these. */
	argv[0] = (char *)(uintptr_t)KB_HELPER_PATH;
	argv[1] = (char *)(uintptr_t)"-c";
	argv[2] = (char *)(uintptr_t)a->config;
	argv[3] = (char *)(uintptr_t)"--has-keys";
	argv[4] = (char *)(uintptr_t)user;
	argv[5] = NULL;
	helper_run(KB_HELPER_PATH, argv, envp, a->timeout_ms, res);
}

/* Turn the verdict into a PAM code and write the one log line. */
static int
decide(pam_handle_t *pamh, int flags, const struct pk_args *a,
    const char *account, const char *typed, const char *from,
    const struct helper_result *res)
{
	char who[PK_LOG_WHO], why[128];
	int r = PAM_AUTH_ERR;

	log_who(account, typed, who, sizeof(who));
	switch (verdict_of(res)) {
	case PK_ATTACHED:
		r = PAM_AUTH_ERR;
		pam_syslog(pamh, LOG_NOTICE, "%s decision=deny "
		    "reason=key-pair-attached elapsed_ms=%ld%s", who,
		    res->elapsed_ms, from);
		if (a->notify && (flags & PAM_SILENT) == 0)
			(void)pam_info(pamh, "%s", PK_NOTICE);
		break;
	case PK_NOT_ATTACHED:
		r = PAM_IGNORE;
		pam_syslog(pamh, LOG_INFO, "%s decision=ignore "
		    "reason=not-attached elapsed_ms=%ld", who,
		    res->elapsed_ms);
		break;
	case PK_ERROR:
	default:
		r = a->on_error_allow ? PAM_IGNORE : PAM_AUTHINFO_UNAVAIL;
		describe_failure(res, why, sizeof(why));
		pam_syslog(pamh, LOG_ERR, "%s decision=%s reason=%s "
		    "on_error=%s elapsed_ms=%ld", who,
		    a->on_error_allow ? "ignore" : "unavailable", why,
		    a->on_error_allow ? "allow" : "deny", res->elapsed_ms);
		break;
	}
	return r;
}

/*
 * Find the account user names (see account_lookup); PAM_SUCCESS with its
 * name in account, or the PAM code to return, its log line written.
 */
static int
resolve_account(pam_handle_t *pamh, const struct pk_args *a,
    const char *user, const char *from, char *account, size_t accountsz)
{
	char shown[PK_LOG_BUF], who[PK_LOG_WHO];
	int e = 0, r = PAM_AUTH_ERR;

	log_escape(user, shown, sizeof(shown));
	switch (account_lookup(user, account, accountsz, &e)) {
	case PK_LOOKUP_FOUND:
		break;
	case PK_LOOKUP_UNKNOWN:
		if (e == 0)
			pam_syslog(pamh, LOG_NOTICE, "user=%s decision=deny "
			    "reason=unknown-user%s", shown, from);
		else
			pam_syslog(pamh, LOG_NOTICE, "user=%s decision=deny "
			    "reason=unknown-user (%s)%s", shown, strerror(e),
			    from);
		r = PAM_USER_UNKNOWN;
		goto out;
	case PK_LOOKUP_ERROR:
	default:
		r = a->on_error_allow ? PAM_IGNORE : PAM_AUTHINFO_UNAVAIL;
		pam_syslog(pamh, LOG_ERR, "user=%s decision=%s "
		    "reason=user-lookup-failed (%s) on_error=%s", shown,
		    a->on_error_allow ? "ignore" : "unavailable", strerror(e),
		    a->on_error_allow ? "allow" : "deny");
		goto out;
	}
	/* The database's name goes to the helper: the same rules apply. */
	if (name_user_valid(account, strnlen(account, KB_USER_MAX + 1)) != 0) {
		log_who(account, user, who, sizeof(who));
		pam_syslog(pamh, LOG_NOTICE, "%s decision=deny "
		    "reason=invalid-account-name%s", who, from);
		r = PAM_USER_UNKNOWN;
		goto out;
	}
	r = PAM_SUCCESS;
 out:
	return r;
}

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	struct helper_result res;
	struct pk_args a;
	char shown[PK_LOG_BUF], who[PK_LOG_WHO], account[KB_USER_MAX + 1];
	char from[PK_LOG_BUF + 8];
	const char *user = NULL;
	int r = PAM_AUTH_ERR;

	if ((r = args_parse(pamh, argc, argv, &a)) != PAM_SUCCESS) {
		r = PAM_SERVICE_ERR;
		goto out;
	}
	log_rhost(pamh, from, sizeof(from));
	if ((r = pam_get_user(pamh, &user, NULL)) != PAM_SUCCESS ||
	    user == NULL) {
		if (r != PAM_INCOMPLETE)
			r = PAM_USER_UNKNOWN;
		pam_syslog(pamh, LOG_ERR, "no user name: decision=deny");
		goto out;
	}
	/* Any client-chosen string arrives here: check it before all else. */
	if (name_user_valid(user, strnlen(user, KB_USER_MAX + 1)) != 0) {
		log_escape(user, shown, sizeof(shown));
		pam_syslog(pamh, LOG_NOTICE, "user=%s decision=deny "
		    "reason=invalid-user-name%s", shown, from);
		r = PAM_USER_UNKNOWN;
		goto out;
	}
	/* From here on the account's own name, the one sshd uses for %u. */
	if ((r = resolve_account(pamh, &a, user, from, account,
	    sizeof(account))) !=
	    PAM_SUCCESS)
		goto out;
	r = PAM_AUTH_ERR;
	/*
	 * A break-glass account: stepped aside for without the helper, so a
	 * directory outage cannot refuse its password; every attempt logged.
	 */
	if (a.exclude != NULL && users_contains(a.exclude, account)) {
		log_who(account, user, who, sizeof(who));
		pam_syslog(pamh, LOG_NOTICE, "%s decision=ignore "
		    "reason=excluded", who);
		r = PAM_IGNORE;
		goto out;
	}
	if (a.users != NULL && !users_contains(a.users, account)) {
		if (a.debug) {
			log_who(account, user, who, sizeof(who));
			pam_syslog(pamh, LOG_DEBUG, "%s decision=ignore "
			    "reason=not-in-users", who);
		}
		r = PAM_IGNORE;
		goto out;
	}
	if (a.debug)
		pam_syslog(pamh, LOG_DEBUG, "running %s -c %s --has-keys "
		    "(timeout %ld ms)", KB_HELPER_PATH, a.config,
		    a.timeout_ms);
	ask_helper(&a, account, &res);
	r = decide(pamh, flags, &a, account, user, from, &res);
 out:
	/* This module can refuse or step aside; it never grants. */
	if (r == PAM_SUCCESS)
		r = PAM_AUTH_ERR;
	return r;
}

PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_IGNORE;
}
