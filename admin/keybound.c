/*
 * keybound.c - the admin CLI: global options, the bind password, the
 * directory connection, command dispatch and the audit line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <termios.h>
#include <unistd.h>

#include "kb.h"
#include "clock.h"
#include "config.h"
#include "directory.h"
#include "log.h"
#include "names.h"
#include "admin.h"

#define ADMIN_TIMEOUT_MS	30000	/* least time for a whole command */
#define PASSWORD_MAX		1024

struct command {
	const char *name;
	int (*fn)(struct kb_admin *, int, char **);
	const char *synopsis;
	const char *help;	/* what it does and every option */
};

static const struct command commands[] = {
	{ "create", cmd_create, "create NAME [-t ed25519|rsa|ecdsa] [-b BITS] "
	    "-o FILE|- [--passphrase-file FILE]",
	    "Generate a key pair, write the private key to FILE and store the\n"
	    "public key as NAME.\n"
	    "  -t TYPE      ed25519 (default), rsa or ecdsa\n"
	    "  -b BITS      RSA 2048-16384 (default 3072); ECDSA 256, 384,\n"
	    "               521\n"
	    "  -o FILE      new file for the private key (mode 0600, never\n"
	    "               overwritten); - writes it to stdout and nothing "
	    "else\n"
	    "  --passphrase-file FILE\n"
	    "               encrypt the private key with the passphrase in "
	    "FILE\n" },
	{ "import", cmd_import, "import NAME FILE|- [--allow-duplicate]",
	    "Store an existing OpenSSH public key (FILE, or - for stdin).\n"
	    "  --allow-duplicate  store it even if the same key is stored "
	    "already\n" },
	{ "set", cmd_set, "set NAME [--expires TIME|never] "
	    "[--options OPTS|none] [--description TEXT] [--force]",
	    "Change a key pair's settings, in one atomic modify.\n"
	    "  --expires TIME|never   stop working after TIME (UTC); never "
	    "removes it\n"
	    "  --options OPTS|none    authorized_keys options from the "
	    "allow-list\n"
	    "  --description TEXT     free text; empty removes it\n"
	    "  --force                accept an --expires time in the past\n" },
	{ "list", cmd_list, "list [--attached-to USER@INSTANCE|USER@+GROUP] "
	    "[--instance ID] [--user USER] [--fingerprint FP] [--name GLOB] "
	    "[--expired] [--expiring DURATION] [--unattached] [--wide]",
	    "List key pairs: name, type, bits, fingerprint, status (active,\n"
	    "expired, expiring within 30 days, unattached), attachment count.\n"
	    "Filters combine (all must hold).\n"
	    "  --attached-to USER@INSTANCE  only those attached there\n"
	    "  --instance ID        attached to some user on instance ID\n"
	    "  --user USER          attached to USER on some instance\n"
	    "  --fingerprint FP     with this SHA256: fingerprint\n"
	    "  --name GLOB          name matching the shell pattern GLOB\n"
	    "  --expired            past their expiry time\n"
	    "  --expiring DURATION  expiring within DURATION (30d, 12h, 2w)\n"
	    "  --unattached         attached nowhere\n"
	    "  --wide       also print the targets\n" },
	{ "show", cmd_show, "show NAME...",
	    "Everything about key pairs (several: JSON array).\n" },
	{ "attach", cmd_attach, "attach NAME USER@TARGET... [--for DURATION | "
	    "--until TIME] [--replace | --replace-only OTHER] "
	    "[--targets-from FILE|-] [--force] [--dry-run]",
	    "Let key pair NAME log in as USER on TARGET: an INSTANCE, or +GROUP\n"
	    "for every member of host group GROUP.\n"
	    "  --for DURATION\n"
	    "               end the attachment after DURATION (90s, 30m, 4h,\n"
	    "               7d); a plain attach makes it permanent again\n"
	    "  --until TIME end it at TIME (UTC, in the future)\n"
	    "  --replace    remove other key pairs' attachments to the same\n"
	    "               targets\n"
	    "  --replace-only OTHER\n"
	    "               remove key pair OTHER's attachments to them only\n"
	    "               (a break-glass key elsewhere stays)\n"
	    "  --targets-from FILE|-\n"
	    "               more targets, one per line (# comments), from\n"
	    "               FILE or stdin; still one modify for the key pair\n"
	    "  --force      attach even an expired key pair\n"
	    "  --dry-run    say what would change, change nothing\n" },
	{ "detach", cmd_detach, "detach NAME [USER@INSTANCE... | --all] "
	    "[--targets-from FILE|-] [--dry-run]",
	    "Remove attachments of key pair NAME.  With a signing key each is\n"
	    "ended now and marked with a tombstone instead, so hosts learn\n"
	    "of the detach; prune removes it after signature_max_age.\n"
	    "  --all        remove all of them\n"
	    "  --targets-from FILE|-\n"
	    "               more targets, one per line, from FILE or stdin\n"
	    "  --dry-run    say what would change, change nothing\n" },
	{ "delete", cmd_delete, "delete NAME... [--if-exists] [--dry-run]",
	    "Delete key pairs; each is refused while attached.\n"
	    "  --if-exists  a missing key pair is not an error\n"
	    "  --dry-run    say what would be deleted, change nothing\n" },
	{ "rotate", cmd_rotate, "rotate OLD NEW [--dry-run] [--force]",
	    "Attach key pair NEW to every target of OLD, then detach OLD\n"
	    "from them: every target always has one of the two.\n"
	    "  --dry-run    say what would change, change nothing\n"
	    "  --force      rotate even to an expired NEW\n" },
	{ "check", cmd_check, "check USER@INSTANCE",
	    "What keybound-keys would print for USER on INSTANCE, and whether\n"
	    "password login is refused there; each key with the attachment or\n"
	    "group that granted it, its end and options, and each of the\n"
	    "user's key pairs not served there with the reason.\n" },
	{ "group", cmd_group, "group create NAME [-d TEXT] | "
	    "group add|remove NAME INSTANCE... |\n"
	    "    group delete NAME | group list | group show NAME",
	    "Host groups: attach NAME USER@+GROUP grants on every member.\n"
	    "  create NAME [-d TEXT]   a new, empty group\n"
	    "  add|remove NAME INSTANCE...  change its members (with a\n"
	    "               signing key a removed one leaves a tombstone)\n"
	    "  delete NAME             refused while an attachment names it\n"
	    "  list, show NAME         the groups; members and attachments\n" },
	{ "block", cmd_block, "block FINGERPRINT|NAME [--reason TEXT]",
	    "Put a key on the blocklist: never served anywhere, never\n"
	    "imported again.\n"
	    "  --reason TEXT  why (shown by blocked)\n" },
	{ "unblock", cmd_unblock, "unblock FINGERPRINT",
	    "Take a key off the blocklist.\n" },
	{ "blocked", cmd_blocked, "blocked [--revoked-keys [-o FILE]]",
	    "List the blocklist.\n"
	    "  --revoked-keys  write it as an OpenSSH KRL for sshd's RevokedKeys\n"
	    "  -o FILE         to FILE (replaced atomically) instead of stdout\n" },
	{ "prune", cmd_prune, "prune [--dry-run]",
	    "Remove attachments whose end has passed.  With a signing key,\n"
	    "an attachment detached with a tombstone stays until its end is\n"
	    "older than signature_max_age, then goes with its tombstone; a\n"
	    "group's tombstones go once its signature is that old.\n"
	    "  --dry-run    say what would be removed, change nothing\n" },
	{ "signer", cmd_signer, "signer create -o FILE [-C COMMENT]",
	    "Generate an Ed25519 signing key: the private key into FILE\n"
	    "(OpenSSH format, unencrypted, mode 0600, never overwritten), the\n"
	    "public line on stdout for the hosts' trusted_signers (prefixed\n"
	    "there by a NAME).\n"
	    "  -o FILE      the new private key file\n"
	    "  -C COMMENT   the public line's comment (default keybound-signer)\n" },
	{ "verify", cmd_verify, "verify [-T FILE] [NAME...]",
	    "Check the signature of every key pair and host group (or the\n"
	    "named ones): signer, serial, signing time, age, valid or why\n"
	    "not.  Exit 0 when every one verifies, 1 otherwise.\n"
	    "  -T FILE      trusted signers (NAME KEYTYPE BASE64 lines); else\n"
	    "               the config's trusted_signers; else a signature is\n"
	    "               checked with the key it carries\n" },
	{ "resign", cmd_resign, "resign --all | NAME...",
	    "Sign key pairs and host groups anew (serial + 1, signed now):\n"
	    "after a signer change, or to refresh their age.  Needs -S or\n"
	    "signing_key.\n"
	    "  --all        every key pair and host group\n" },
	{ NULL, NULL, NULL, NULL }
};

static const char usage_head[] =
    "usage: keybound [-c FILE] [-H URI] [-b BASE] [-D BINDDN] "
    "[-y PASSFILE | -W] [-S KEY] [--json] COMMAND ...\n";

static const char usage_tail[] =
    "  help [COMMAND]\n"
    "  --version\n"
    "\n"
    "options (before COMMAND; --json may also follow it):\n"
    "  -c FILE      config file; else $KEYBOUND_CONF, else\n"
    "               ~/" ADMIN_USER_CONFIG ", else\n"
    "               " KB_CONFIG_PATH "\n"
    "  -H URI       directory URI, replacing the config's uri lines\n"
    "  -b BASE      search base, replacing the config's base; with -H\n"
    "               no config file is needed\n"
    "  -D BINDDN    bind DN for simple bind (with -y or -W)\n"
    "  -y PASSFILE  read the bind password from PASSFILE\n"
    "  -W           prompt for the bind password on the terminal\n"
    "  -S FILE|agent:SHA256:...\n"
    "               sign every entry written with this key (a private\n"
    "               key file, or a key ssh-agent holds), replacing the\n"
    "               config's signing_key\n"
    "  --json       machine-readable output\n"
    "\n"
    "TIME is YYYY-MM-DDTHH:MM:SSZ or YYYYMMDDHHMMSSZ (UTC); DURATION is\n"
    "a positive integer and s, m, h or d.  USER@INSTANCE is split at its\n"
    "last '@'; USER@+GROUP names every member of host group GROUP.\n"
    "Exit status: 0 success, 1 failure, 2 usage, bad value or\n"
    "configuration error, 3 not found, 4 exists or conflict (attached,\n"
    "blocked, expired), 5 bind refused, 6 directory unreachable.\n";

static volatile sig_atomic_t prompt_signal;

/* The first failure reported, for the --json error object. */
static struct {
	int status;		/* 0 = none given: derived from the exit */
	int conflict;		/* EXIT_EXISTS reported as "conflict" */
	int have_msg;
	char msg[1024];
} failure;

/* Messages may quote directory data: made terminal-safe on stderr. */
static void
admin_vreport(const char *fmt, va_list ap)
{
	char buf[1024];

	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	if (!failure.have_msg) {
		(void)snprintf(failure.msg, sizeof(failure.msg), "%s", buf);
		failure.have_msg = 1;
	}
	fflush(stdout);
	fputs("keybound: ", stderr);
	text_safe(stderr, buf, strlen(buf));
	fputc('\n', stderr);
}

void
admin_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	admin_vreport(fmt, ap);
	va_end(ap);
}

int
admin_fail(int status, const char *fmt, ...)
{
	va_list ap;

	if (failure.status == 0)
		failure.status = status;
	va_start(ap, fmt);
	admin_vreport(fmt, ap);
	va_end(ap);
	return status;
}

int
admin_conflict(const char *fmt, ...)
{
	va_list ap;

	if (failure.status == 0) {
		failure.status = EXIT_EXISTS;
		failure.conflict = 1;
	}
	va_start(ap, fmt);
	admin_vreport(fmt, ap);
	va_end(ap);
	return EXIT_EXISTS;
}

int
admin_status(int r)
{
	switch (r) {
	case KB_ERR_DIR_NO_SUCH_OBJECT:
		return EXIT_NOTFOUND;
	case KB_ERR_DIR_ALREADY_EXISTS:
		return EXIT_EXISTS;
	case KB_ERR_DIR_UNAVAILABLE:
	case KB_ERR_DIR_TIMEOUT:
	case KB_ERR_DIR_TLS:
		return EXIT_UNREACH;
	case KB_ERR_USER_NAME:
	case KB_ERR_KEYPAIR_NAME:
	case KB_ERR_INSTANCE_NAME:
	case KB_ERR_TIME:
	case KB_ERR_CONFIG:
	case KB_ERR_CONFIG_PERM:
	case KB_ERR_CONFIG_OPEN:
		return EXIT_USAGE;
	default:
		return EXIT_FAIL;
	}
}

int
admin_bind_status(int r)
{
	return r == KB_ERR_DIR_AUTH ? EXIT_BIND : admin_status(r);
}

int
admin_exit(int r)
{
	if (r == 0)
		return EXIT_OK;
	if (failure.status != 0)
		return failure.status;
	return admin_status(r);
}

/* The --json error code for an exit status. */
static const char *
failure_code(int status)
{
	switch (status) {
	case EXIT_USAGE:
		return "usage";
	case EXIT_NOTFOUND:
		return "not_found";
	case EXIT_EXISTS:
		return failure.conflict ? "conflict" : "exists";
	case EXIT_BIND:
		return "bind_refused";
	case EXIT_UNREACH:
		return "unreachable";
	default:
		return "failure";
	}
}

/* With --json, a failure also goes to stdout as one JSON object. */
static void
failure_json(int status)
{
	const char *msg = failure.have_msg ? failure.msg : "failed";

	if (failure.status != status)
		failure.conflict = 0;
	printf("{\"error\":{\"code\":\"%s\",\"message\":",
	    failure_code(status));
	json_string(stdout, msg, strlen(msg));
	printf("}}\n");
}

static const struct command *
command_find(const char *name)
{
	const struct command *c;

	for (c = commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/*
 * 1 if the command (argv[0], its subcommand argv[1] if any) may write key
 * pair or group entries: the signing key is opened for it.
 */
static int
command_writes(int argc, char **argv)
{
	static const char *const readonly[] = { "list", "show", "check",
	    "blocked", "verify", "signer", NULL };
	size_t i;

	for (i = 0; readonly[i] != NULL; i++)
		if (strcmp(readonly[i], argv[0]) == 0)
			return 0;
	if (strcmp(argv[0], "group") == 0 && argc > 1 &&
	    (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "show") == 0))
		return 0;
	return 1;
}

static void
usage_print(FILE *f)
{
	const struct command *c;

	fputs(usage_head, f);
	fputs("\ncommands:\n", f);
	for (c = commands; c->name != NULL; c++)
		fprintf(f, "  %s\n", c->synopsis);
	fputs(usage_tail, f);
}

int
admin_usage(const char *cmd, const char *fmt, ...)
{
	const struct command *c;
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	if (!failure.have_msg) {
		int n = snprintf(failure.msg, sizeof(failure.msg), "%s: ", cmd);

		if (n > 0 && (size_t)n < sizeof(failure.msg))
			(void)vsnprintf(failure.msg + n,
			    sizeof(failure.msg) - (size_t)n, fmt, ap);
		failure.have_msg = 1;
	}
	va_end(ap);
	fprintf(stderr, "keybound: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if ((c = command_find(cmd)) != NULL)
		fprintf(stderr, "usage: keybound [global options] %s\n",
		    c->synopsis);
	return EXIT_USAGE;
}

int
admin_getopt(struct kb_admin *a, int argc, char **argv,
    const char *optstring, const struct option *longopts)
{
	char spec[32];
	const char *arg;
	int ch;

	/* a leading ':' makes a missing value ':' rather than '?' */
	if (snprintf(spec, sizeof(spec), ":%s", optstring) >= (int)sizeof(spec))
		return '?';
	opterr = 0;
	while ((ch = getopt_long(argc, argv, spec, longopts, NULL)) == 'J')
		a->json = 1;
	if (ch != '?' && ch != ':')
		return ch;
	arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	if (ch == ':' && optopt != 0 && strchr(optstring, optopt) != NULL)
		admin_usage(argv[0], "option -%c needs a value", optopt);
	else if (ch == ':')
		admin_usage(argv[0], "option %s needs a value", arg);
	else if (optopt != 0)
		admin_usage(argv[0], "unknown option -%c", optopt);
	else
		admin_usage(argv[0], "unknown option %s", arg);
	return '?';
}

/* Config problems go to stderr; ctx counts them. */
static void
config_report_stderr(void *ctx, const char *msg)
{
	int *reported = ctx;

	if (reported != NULL)
		(*reported)++;
	admin_err("%s", msg);
}

/* Write s to the terminal; the prompt is best effort. */
static void
tty_say(int fd, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, s, len)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return;
		}
		s += n;
		len -= (size_t)n;
	}
}

/* Restore echo on the terminal before a signal ends the prompt. */
static void
prompt_catch(int sig)
{
	prompt_signal = sig;
}

/*
 * Read one line from the terminal into buf (at most PASSWORD_MAX bytes);
 * stops early when a signal arrives.  0 or a KB_ERR_* code.
 */
static int
tty_read_line(int fd, char *buf, size_t *lenp)
{
	size_t len = 0;
	ssize_t n;
	char c;
	int r;

	for (;;) {
		n = read(fd, &c, 1);
		if (n == 1 && c != '\n' && c != '\r') {
			if (len == PASSWORD_MAX) {
				r = KB_ERR_TOO_LONG;
				break;
			}
			buf[len++] = c;
			continue;
		}
		if (n == -1 && errno == EINTR && prompt_signal == 0)
			continue;
		r = n >= 0 && prompt_signal == 0 ? 0 : KB_ERR_SYSTEM;
		break;
	}
	c = 0;
	*lenp = len;
	return r;
}

/*
 * Read the bind password from /dev/tty with echo off, like ldap-utils -W.
 * A signal during the prompt restores the terminal, then is re-raised.
 */
static int
tty_read_password(char **pwp, size_t *lenp)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP,
	    SIGTTIN, SIGTTOU };
	struct sigaction sa, saved[sizeof(sigs) / sizeof(sigs[0])];
	struct termios old, quiet;
	char *buf = NULL;
	size_t i, len = 0;
	int fd = -1, r = KB_ERR_SYSTEM, echo_off = 0, caught;

	*pwp = NULL;
	*lenp = 0;
	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
		admin_err("-W: cannot open /dev/tty: %s", strerror(errno));
		return KB_ERR_SYSTEM;
	}
	if ((buf = malloc(PASSWORD_MAX + 1)) == NULL) {
		close(fd);
		return KB_ERR_NOMEM;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = prompt_catch;	/* no SA_RESTART: read() returns */
	sigemptyset(&sa.sa_mask);
	prompt_signal = 0;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, &saved[i]);
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0)
			echo_off = 1;
	}
	tty_say(fd, "Enter LDAP Password: ");
	r = tty_read_line(fd, buf, &len);
	if (echo_off)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	tty_say(fd, "\n");
	close(fd);
	caught = prompt_signal;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &saved[i], NULL);
	if (caught == 0 && r == 0 && len > 0) {
		buf[len] = '\0';
		*pwp = buf;
		*lenp = len;
		return 0;
	}
	explicit_bzero(buf, PASSWORD_MAX + 1);
	free(buf);
	if (caught != 0)
		raise(caught);
	admin_err("-W: no password read");
	return r != 0 ? r : KB_ERR_INVALID_ARG;
}

/*
 * -H replaces the config's URIs; the URI is checked by the config
 * parser's own rules (scheme, plain text only to loopback).
 */
static int
admin_apply_uri(struct kb_admin *a)
{
	struct kb_config *probe = NULL;
	char *text = NULL, *uri = NULL;
	size_t i;
	int n, r = KB_ERR_CONFIG;

	if (strpbrk(a->uri, " \t\r\n#") != NULL) {
		admin_err("-H: invalid URI");
		goto out;
	}
	n = asprintf(&text, "uri %s\nbase %s\nstarttls %s\n", a->uri,
	    a->cfg->base, a->cfg->starttls ? "yes" : "no");
	if (n < 0) {
		text = NULL;
		r = KB_ERR_NOMEM;
		goto out;
	}
	if (config_parse_buffer("-H", text, (size_t)n, config_report_stderr,
	    NULL, &probe) != 0)
		goto out;
	if ((uri = strdup(a->uri)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < a->cfg->nuris; i++) {
		free(a->cfg->uris[i]);
		a->cfg->uris[i] = NULL;
	}
	a->cfg->uris[0] = uri;
	a->cfg->nuris = 1;
	r = 0;
 out:
	config_free(probe);
	free(text);
	return r;
}

/* -D and -y also go into the config, so `check` binds like the rest. */
static int
admin_apply_auth(struct kb_admin *a)
{
	char *dn = NULL, *pf = NULL;

	if ((a->binddn != NULL && (dn = strdup(a->binddn)) == NULL) ||
	    (a->passfile != NULL && (pf = strdup(a->passfile)) == NULL)) {
		free(dn);
		return KB_ERR_NOMEM;
	}
	if (dn != NULL) {
		free(a->cfg->binddn);
		a->cfg->binddn = dn;
	}
	if (pf != NULL) {
		free(a->cfg->bindpw_file);
		a->cfg->bindpw_file = pf;
	}
	return 0;
}

/* -b replaces the config's base, checked by the parser's own rules. */
static int
admin_apply_base(struct kb_admin *a)
{
	struct kb_config *probe = NULL;
	char *text = NULL, *base = NULL;
	int n, r = KB_ERR_CONFIG;

	if (strpbrk(a->base, "\r\n") != NULL) {
		admin_err("-b: invalid base");
		goto out;
	}
	n = asprintf(&text, "uri ldapi:///\nbase %s\n", a->base);
	if (n < 0) {
		text = NULL;
		r = KB_ERR_NOMEM;
		goto out;
	}
	if (config_parse_buffer("-b", text, (size_t)n, config_report_stderr,
	    NULL, &probe) != 0)
		goto out;
	if ((base = strdup(probe->base)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	free(a->cfg->base);
	a->cfg->base = base;
	r = 0;
 out:
	config_free(probe);
	free(text);
	return r;
}

/*
 * No file at all: -H URI and -b BASE make the whole configuration (the
 * parser's defaults for everything else, so its rules apply: StartTLS on
 * ldap:// URIs, plain text only to loopback or ldapi://).
 */
static int
admin_config_from_args(struct kb_admin *a)
{
	char *text = NULL;
	int n, r;

	if (strpbrk(a->uri, " \t\r\n#") != NULL ||
	    strpbrk(a->base, "\r\n") != NULL) {
		admin_err("-H/-b: invalid value");
		return KB_ERR_CONFIG;
	}
	if ((n = asprintf(&text, "uri %s\nbase %s\n", a->uri, a->base)) < 0)
		return KB_ERR_NOMEM;
	r = config_parse_buffer("-H/-b", text, (size_t)n,
	    config_report_stderr, NULL, &a->cfg);
	free(text);
	return r;
}

/*
 * Which file to read: -c, else $KEYBOUND_CONF, else the user's own
 * ~/.config/keybound/keybound.conf if it exists, else the system's.
 * *explicit says the user named it (so a missing one is an error even
 * with -H and -b).  Returns NULL only for lack of memory.
 */
static char *
admin_config_path(const struct kb_admin *a, int *explicit)
{
	struct stat st;
	const char *env, *home;
	char *user = NULL;

	*explicit = 1;
	if (a->config_path != NULL)
		return strdup(a->config_path);
	if ((env = getenv("KEYBOUND_CONF")) != NULL && env[0] != '\0')
		return strdup(env);
	*explicit = 0;
	if ((home = getenv("HOME")) != NULL && home[0] == '/' &&
	    asprintf(&user, "%s/%s", home, ADMIN_USER_CONFIG) >= 0) {
		if (lstat(user, &st) == 0)
			return user;
		free(user);
	}
	return strdup(KB_CONFIG_PATH);
}

int
admin_load_config(struct kb_admin *a)
{
	struct stat st;
	char *path = NULL;
	int r, explicit, reported = 0, status = EXIT_USAGE;

	if (a->cfg != NULL)
		return EXIT_OK;
	if ((path = admin_config_path(a, &explicit)) == NULL)
		return admin_fail(EXIT_FAIL, "%s", kb_strerror(KB_ERR_NOMEM));
	if (!explicit && lstat(path, &st) != 0) {
		if (a->uri != NULL && a->base != NULL) {
			if ((r = admin_config_from_args(a)) != 0) {
				status = r == KB_ERR_NOMEM ? EXIT_FAIL :
				    EXIT_USAGE;
				goto out;
			}
			goto overrides;
		}
		status = admin_fail(EXIT_USAGE, "no configuration file: "
		    "tried -c FILE, $KEYBOUND_CONF, ~/" ADMIN_USER_CONFIG
		    " and " KB_CONFIG_PATH "; write one (see "
		    "keybound.conf(5)) or give -H URI -b BASE");
		goto out;
	}
	/* like keybound-keys, but the invoking user's own file is fine */
	if ((r = config_load(path, KB_CONFIG_CHECK_OWNER |
	    KB_CONFIG_OWNER_SELF, config_report_stderr, &reported,
	    &a->cfg)) != 0) {
		if (reported == 0)
			admin_fail(EXIT_USAGE, "%s: %s", path, kb_strerror(r));
		goto out;
	}
	if (a->uri != NULL && admin_apply_uri(a) != 0)
		goto out;
	if (a->base != NULL && admin_apply_base(a) != 0)
		goto out;
 overrides:
	if (admin_apply_auth(a) != 0) {
		status = admin_fail(EXIT_FAIL, "%s",
		    kb_strerror(KB_ERR_NOMEM));
		goto out;
	}
	status = EXIT_OK;
 out:
	if (status == EXIT_USAGE && !failure.status)
		failure.status = EXIT_USAGE;
	free(path);
	return status;
}

int
admin_connect(struct kb_admin *a, long extra_ms)
{
	struct kb_dir_auth auth;
	char errbuf[256], *pw = NULL;
	size_t pwlen = 0;
	long ms;
	int r, status = EXIT_FAIL;

	if ((status = admin_load_config(a)) != EXIT_OK)
		return status;
	/* key pairs exist only in the keybound profile: refuse before a bind */
	if (a->cfg->schema != KB_SCHEMA_KEYBOUND) {
		return admin_fail(EXIT_USAGE, "the config uses the %s schema "
		    "profile; key pairs are managed only with the keybound "
		    "profile", config_schema_name(a->cfg->schema));
	}
	/* the signing key works before anything is written */
	if (a->writes && (status = admin_signer_open(a)) != EXIT_OK)
		return status;
	status = EXIT_FAIL;
	memset(&auth, 0, sizeof(auth));
	if (a->prompt_password) {
		if (tty_read_password(&pw, &pwlen) != 0)
			goto out;
	} else if (a->passfile != NULL) {
		if ((r = config_read_password(a->passfile, &pw, &pwlen)) != 0) {
			status = admin_fail(EXIT_USAGE, "%s: %s", a->passfile,
			    kb_strerror(r));
			goto out;
		}
	}
	auth.binddn = a->binddn;
	auth.password = pw;
	auth.passwordlen = pwlen;
	ms = (long)a->cfg->timeout * 1000;
	if (ms < ADMIN_TIMEOUT_MS)
		ms = ADMIN_TIMEOUT_MS;
	deadline_set(&a->deadline, ms + extra_ms);
	errbuf[0] = '\0';
	if ((r = dir_open(a->cfg, &auth, &a->deadline, &a->dir, errbuf,
	    sizeof(errbuf))) != 0) {
		status = admin_fail(admin_bind_status(r), "cannot use the "
		    "directory: %s", errbuf[0] != '\0' ? errbuf :
		    kb_strerror(r));
		goto out;
	}
	status = EXIT_OK;
 out:
	if (pw != NULL) {
		explicit_bzero(pw, pwlen);
		free(pw);
	}
	return status;
}

int
admin_pair_dn(const struct kb_admin *a, const char *name, char **dnp)
{
	char *esc = NULL;
	int r;

	*dnp = NULL;
	if ((r = dn_escape_value(name, &esc)) != 0)
		return r;
	if (asprintf(dnp, "cn=%s,%s", esc, a->cfg->base) < 0) {
		*dnp = NULL;
		r = KB_ERR_NOMEM;
	}
	free(esc);
	return r;
}

void
admin_audit(const struct kb_admin *a, const char *command,
    const char *keypair, const struct kb_target *t, size_t nt,
    const char *result)
{
	struct kb_logline l;
	char *targets = NULL, *p;
	size_t i, len = 1;

	for (i = 0; i < nt; i++)
		len += strlen(t[i].text) + 1;
	if (nt > 0 && (targets = malloc(len)) != NULL) {
		p = targets;
		for (i = 0; i < nt; i++) {
			if (i > 0)
				*p++ = ',';
			memcpy(p, t[i].text, strlen(t[i].text));
			p += strlen(t[i].text);
		}
		*p = '\0';
	}
	logline_init(&l);
	logline_str(&l, "command", command);
	logline_str(&l, "keypair", keypair);
	if (nt > 0)
		logline_str(&l, "targets", targets != NULL ? targets : "?");
	logline_str(&l, "bind", a->dir != NULL ? dir_bind_identity(a->dir) :
	    "-");
	logline_str(&l, "uri", a->dir != NULL ? dir_uri(a->dir) : "-");
	logline_str(&l, "result", result);
	log_emit(strcmp(result, "ok") == 0 ? LOG_INFO : LOG_WARNING, &l);
	free(targets);
}

static int
cmd_help(const char *topic)
{
	const struct command *c;

	if (topic == NULL) {
		usage_print(stdout);
		return EXIT_OK;
	}
	if ((c = command_find(topic)) == NULL) {
		admin_err("help: unknown command %s", topic);
		return EXIT_USAGE;
	}
	printf("usage: keybound [global options] %s\n\n%s", c->synopsis,
	    c->help);
	printf("  --json       machine-readable output\n"
	    "  --help       this text\n");
	return EXIT_OK;
}

static int
parse_global(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+c:H:b:D:y:S:Wwh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			a->config_path = optarg;
			break;
		case 'H':
			a->uri = optarg;
			break;
		case 'b':
			a->base = optarg;
			break;
		case 'D':
			a->binddn = optarg;
			break;
		case 'y':
			a->passfile = optarg;
			break;
		case 'S':
			if (optarg[0] == '\0') {
				admin_err("-S: empty signing key");
				return EXIT_USAGE;
			}
			a->signing_key = optarg;
			break;
		case 'W':
			a->prompt_password = 1;
			break;
		case 'J':
			a->json = 1;
			break;
		case 'w':
			admin_err("-w: passwords are never accepted on the "
			    "command line; use -y PASSFILE or -W");
			return EXIT_USAGE;
		case 'V':
			printf("keybound %s\n", KB_VERSION);
			return -1;
		case 'h':
			usage_print(stdout);
			return -1;
		default:
			if (optopt != 0 && strchr("cHbDyS", optopt) != NULL)
				admin_err("option -%c needs a value", optopt);
			else if (optopt != 0)
				admin_err("unknown option -%c", optopt);
			else
				admin_err("unknown option %s",
				    argv[optind - 1]);
			fputs(usage_head, stderr);
			return EXIT_USAGE;
		}
	}
	if (a->passfile != NULL && a->prompt_password) {
		admin_err("-y and -W exclude each other");
		return EXIT_USAGE;
	}
	if (a->binddn != NULL && a->passfile == NULL && !a->prompt_password) {
		admin_err("-D needs -y PASSFILE or -W");
		return EXIT_USAGE;
	}
	if (a->binddn != NULL && a->binddn[0] == '\0') {
		admin_err("-D: empty bind DN");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static void
no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int
main(int argc, char **argv)
{
	struct kb_admin a;
	const struct command *c;
	int i, status;

	/* A directory server that goes away is an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	memset(&a, 0, sizeof(a));
	/*
	 * This process holds bind passwords and, for create, private keys:
	 * no core file and no ptrace by other processes of the same user.
	 */
	no_core_dumps();
	log_open("keybound");
	if ((status = parse_global(&a, argc, argv)) != EXIT_OK) {
		status = status < 0 ? EXIT_OK : status;
		goto out;
	}
	if (optind >= argc) {
		admin_err("no command given");
		fputs(usage_head, stderr);
		status = EXIT_USAGE;
		goto out;
	}
	if (strcmp(argv[optind], "help") == 0) {
		status = cmd_help(optind + 1 < argc ? argv[optind + 1] : NULL);
		goto out;
	}
	if ((c = command_find(argv[optind])) == NULL) {
		admin_err("unknown command %s", argv[optind]);
		fputs(usage_head, stderr);
		status = EXIT_USAGE;
		goto out;
	}
	argc -= optind;
	argv += optind;
	/* --json anywhere: an error in an earlier option is JSON too */
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--json") == 0)
			a.json = 1;
		if (strcmp(argv[i], "--help") == 0) {
			a.json = 0;
			status = cmd_help(c->name);
			goto out;
		}
	}
	optind = 0;
	a.writes = command_writes(argc, argv);
	status = c->fn(&a, argc, argv);
	if (status == EXIT_OK && a.sign_status != 0)
		status = a.sign_status;
 out:
	if (status != EXIT_OK && a.json && !a.verdict)
		failure_json(status);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (status == EXIT_OK)
			admin_err("cannot write output: %s", strerror(errno));
		status = status == EXIT_OK ? EXIT_FAIL : status;
	}
	admin_signer_close(&a);
	dir_close(a.dir);
	config_free(a.cfg);
	closelog();
	return status;
}
