/*
 * kb-dirtool - a small command line over lib/directory.c for tests.
 *
 *   kb-dirtool -c CONF [-H URI] [-D DN -y PWFILE] [-T MS] [-P] COMMAND ...
 *
 *   search [-z N] [-s base|one|sub] BASE FILTER [ATTR...]
 *	print "dn: DN" and "ATTR: VALUE" lines (bytes outside printable
 *	ASCII as \xHH), then "# entries N dropped M"
 *   add DN ATTR=VALUE...
 *   modify [-a FILTER] [-p] DN OP:ATTR[=VALUE]...	OP add|delete|replace
 *   delete [-a FILTER] DN
 *
 * -T sets the deadline for everything (default: the config's timeout).
 * -P leaves SIGPIPE as inherited instead of ignoring it like the front
 * ends do, to show that the directory client itself never writes to a
 * connection it gave up on (run it under kb-sshdexec for SIG_DFL).
 * Exit 0 on success; on failure a line "kb-dirtool: NAME: reason" on
 * stderr (NAME such as KB_ERR_DIR_TLS) and the exit status -KB_ERR_*.
 * Usage errors exit 100.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kb.h"
#include "clock.h"
#include "config.h"
#include "directory.h"

#define USAGE_EXIT	100
#define MAX_ITEMS	64

static const struct {
	int code;
	const char *name;
} err_names[] = {
	{ KB_ERR_INTERNAL, "KB_ERR_INTERNAL" },
	{ KB_ERR_NOMEM, "KB_ERR_NOMEM" },
	{ KB_ERR_INVALID_ARG, "KB_ERR_INVALID_ARG" },
	{ KB_ERR_SYSTEM, "KB_ERR_SYSTEM" },
	{ KB_ERR_CONFIG, "KB_ERR_CONFIG" },
	{ KB_ERR_CONFIG_PERM, "KB_ERR_CONFIG_PERM" },
	{ KB_ERR_CONFIG_OPEN, "KB_ERR_CONFIG_OPEN" },
	{ KB_ERR_DIR_UNAVAILABLE, "KB_ERR_DIR_UNAVAILABLE" },
	{ KB_ERR_DIR_AUTH, "KB_ERR_DIR_AUTH" },
	{ KB_ERR_DIR_TLS, "KB_ERR_DIR_TLS" },
	{ KB_ERR_DIR_NO_SUCH_OBJECT, "KB_ERR_DIR_NO_SUCH_OBJECT" },
	{ KB_ERR_DIR_ALREADY_EXISTS, "KB_ERR_DIR_ALREADY_EXISTS" },
	{ KB_ERR_DIR_ASSERTION, "KB_ERR_DIR_ASSERTION" },
	{ KB_ERR_DIR_VALUE_EXISTS, "KB_ERR_DIR_VALUE_EXISTS" },
	{ KB_ERR_DIR_NO_SUCH_VALUE, "KB_ERR_DIR_NO_SUCH_VALUE" },
	{ KB_ERR_DIR_SIZELIMIT, "KB_ERR_DIR_SIZELIMIT" },
	{ KB_ERR_DIR_AMBIGUOUS, "KB_ERR_DIR_AMBIGUOUS" },
	{ KB_ERR_DIR_PROTOCOL, "KB_ERR_DIR_PROTOCOL" },
	{ KB_ERR_DIR_TIMEOUT, "KB_ERR_DIR_TIMEOUT" },
	{ KB_ERR_DIR_REFUSED, "KB_ERR_DIR_REFUSED" },
	{ KB_ERR_DIR_UNSUPPORTED, "KB_ERR_DIR_UNSUPPORTED" },
};

static const char *
err_name(int r)
{
	size_t i;

	for (i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++)
		if (err_names[i].code == r)
			return err_names[i].name;
	return "KB_ERR_OTHER";
}

static void
usage(void)
{
	fprintf(stderr, "usage: kb-dirtool -c CONF [-H URI] [-D DN -y PWFILE] "
	    "[-T MS] [-P] search|add|modify|delete ...\n");
	exit(USAGE_EXIT);
}

static void
report(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "%s\n", msg);
}

/* Print bytes, printable ASCII as is, the rest as \xHH. */
static void
print_value(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c <= 0x7e && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
}

struct search_out {
	size_t entries;
};

static int
print_entry(void *ctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	struct search_out *so = ctx;
	size_t i, j;

	so->entries++;
	printf("dn: ");
	print_value(dn, strlen(dn));
	putchar('\n');
	for (i = 0; i < nattrs; i++) {
		for (j = 0; j < attrs[i].nvals; j++) {
			printf("%s: ", attrs[i].name);
			print_value(attrs[i].vals[j].bytes,
			    attrs[i].vals[j].len);
			putchar('\n');
		}
	}
	return 0;
}

/* Read a whole small file (a password) without its trailing newline. */
static int
read_secret(const char *path, char **pwp, size_t *lenp)
{
	char buf[1024];
	ssize_t n;
	size_t len = 0;
	int fd, r = KB_ERR_CONFIG_OPEN;

	*pwp = NULL;
	*lenp = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		goto out;
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (n < 0 || len >= sizeof(buf) - 1) {
		r = KB_ERR_TOO_LONG;
		goto out;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if ((*pwp = malloc(len + 1)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	memcpy(*pwp, buf, len);
	(*pwp)[len] = '\0';
	*lenp = len;
	r = 0;
 out:
	explicit_bzero(buf, sizeof(buf));
	return r;
}

static int
parse_scope(const char *s)
{
	if (strcmp(s, "base") == 0)
		return KB_SCOPE_BASE;
	if (strcmp(s, "one") == 0)
		return KB_SCOPE_ONE;
	if (strcmp(s, "sub") == 0)
		return KB_SCOPE_SUB;
	usage();
	return -1;
}

static int
cmd_search(struct kb_dir *d, int argc, char **argv)
{
	const char *attrs[MAX_ITEMS + 1];
	struct search_out so = { 0 };
	size_t dropped = 0, sizelimit = 0, i;
	int scope = KB_SCOPE_SUB, ch, r;

	optind = 1;
	while ((ch = getopt(argc, argv, "+z:s:")) != -1) {
		switch (ch) {
		case 'z':
			sizelimit = strtoul(optarg, NULL, 10);
			break;
		case 's':
			scope = parse_scope(optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2 || argc - 2 > MAX_ITEMS)
		usage();
	for (i = 0; i < (size_t)argc - 2; i++)
		attrs[i] = argv[i + 2];
	attrs[i] = NULL;
	r = dir_search(d, argv[0], scope, argv[1], attrs, sizelimit,
	    print_entry, &so, &dropped);
	printf("# entries %zu dropped %zu\n", so.entries, dropped);
	return r;
}

/* Parse "OP:ATTR[=VALUE]" (or "ATTR=VALUE" when op is fixed). */
static int
parse_mod(char *arg, int fixed_add, struct kb_mod *m, const char **valslot)
{
	char *colon, *eq;

	m->op = KB_MOD_ADD;
	if (!fixed_add) {
		if ((colon = strchr(arg, ':')) == NULL)
			return -1;
		*colon = '\0';
		if (strcmp(arg, "add") == 0)
			m->op = KB_MOD_ADD;
		else if (strcmp(arg, "delete") == 0)
			m->op = KB_MOD_DELETE;
		else if (strcmp(arg, "replace") == 0)
			m->op = KB_MOD_REPLACE;
		else
			return -1;
		arg = colon + 1;
	}
	m->attr = arg;
	m->vals = NULL;
	if ((eq = strchr(arg, '=')) != NULL) {
		*eq = '\0';
		valslot[0] = eq + 1;
		valslot[1] = NULL;
		m->vals = valslot;
	} else if (fixed_add)
		return -1;
	return 0;
}

static int
cmd_write(struct kb_dir *d, const char *cmd, int argc, char **argv)
{
	struct kb_mod mods[MAX_ITEMS];
	const char *vals[MAX_ITEMS][2];
	const char *assertion = NULL;
	int permissive = 0, ch, i, nmods = 0;
	int is_add = strcmp(cmd, "add") == 0;
	int is_delete = strcmp(cmd, "delete") == 0;

	optind = 1;
	while ((ch = getopt(argc, argv, "+a:p")) != -1) {
		switch (ch) {
		case 'a':
			assertion = optarg;
			break;
		case 'p':
			permissive = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc - 1 > MAX_ITEMS)
		usage();
	if (is_delete) {
		if (argc != 1)
			usage();
		return dir_delete(d, argv[0], assertion);
	}
	for (i = 1; i < argc; i++) {
		if (parse_mod(argv[i], is_add, &mods[nmods], vals[nmods]) != 0)
			usage();
		nmods++;
	}
	if (is_add)
		return dir_add(d, argv[0], mods, (size_t)nmods);
	return dir_modify(d, argv[0], mods, (size_t)nmods, assertion,
	    permissive);
}

int
main(int argc, char **argv)
{
	struct kb_config *cfg = NULL;
	struct kb_dir_auth auth, *authp = NULL;
	struct kb_dir *d = NULL;
	struct timespec deadline;
	const char *conf = NULL, *pwfile = NULL;
	char errbuf[512], *pw = NULL;
	size_t pwlen = 0;
	long ms = -1;
	int ch, keep_sigpipe = 0, r = KB_ERR_INTERNAL;

	memset(&auth, 0, sizeof(auth));
	while ((ch = getopt(argc, argv, "+c:H:D:y:T:P")) != -1) {
		switch (ch) {
		case 'P':
			keep_sigpipe = 1;
			break;
		case 'c':
			conf = optarg;
			break;
		case 'H':
			auth.uri = optarg;
			authp = &auth;
			break;
		case 'D':
			auth.binddn = optarg;
			authp = &auth;
			break;
		case 'y':
			pwfile = optarg;
			break;
		case 'T':
			ms = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (conf == NULL || argc < 1)
		usage();
	/* libldap writes to sockets; a peer that went away is an error. */
	if (!keep_sigpipe)
		signal(SIGPIPE, SIG_IGN);
	if ((r = config_load(conf, 0, report, NULL, &cfg)) != 0)
		goto out;
	if (pwfile != NULL) {
		if ((r = read_secret(pwfile, &pw, &pwlen)) != 0)
			goto out;
		auth.password = pw;
		auth.passwordlen = pwlen;
	}
	deadline_set(&deadline, ms >= 0 ? ms : (long)cfg->timeout * 1000L);
	if ((r = dir_open(cfg, authp, &deadline, &d, errbuf,
	    sizeof(errbuf))) != 0) {
		fprintf(stderr, "kb-dirtool: %s: %s\n", err_name(r), errbuf);
		goto done;
	}
	if (pw != NULL) {
		explicit_bzero(pw, pwlen);
		free(pw);
		pw = NULL;
	}
	if (strcmp(argv[0], "search") == 0)
		r = cmd_search(d, argc, argv);
	else if (strcmp(argv[0], "add") == 0 ||
	    strcmp(argv[0], "modify") == 0 || strcmp(argv[0], "delete") == 0)
		r = cmd_write(d, argv[0], argc, argv);
	else
		usage();
 out:
	if (r != 0)
		fprintf(stderr, "kb-dirtool: %s: %s\n", err_name(r),
		    d != NULL && dir_last_error(d)[0] ? dir_last_error(d) :
		    kb_strerror(r));
 done:
	if (pw != NULL) {
		explicit_bzero(pw, pwlen);
		free(pw);
	}
	dir_close(d);
	config_free(cfg);
	return r == 0 ? 0 : (r < 0 && r > -100 ? -r : 99);
}
