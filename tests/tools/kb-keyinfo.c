/*
 * kb-keyinfo - the key model seen from a shell script.
 *
 *   kb-keyinfo [-o] [-m MINBITS] [FILE]
 *	for each line: "LABEL BITS SHA256:... MD5:..." or an error code name
 *   kb-keyinfo [-o] --public [FILE]
 *	for each line: "TYPE BASE64" re-encoded from the blob, or an error
 *   kb-keyinfo [-o] --render NAME [--options OPTS] [--drop-unknown]
 *	[--expiry UNIX] [FILE]
 *	for each line: the rendered authorized_keys line, or an error
 *
 * -o accepts (and discards) an options prefix on the input lines.  Input is
 * read from FILE or stdin, one key per line; only the final '\n' of a line
 * is removed, so CR and NUL bytes reach the parser.  The exit status is 0
 * when every line was processed, whatever the per-line results.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "keyopts.h"
#include "sshkey.h"

#define ERRNAME(e)	{ e, #e }

static const struct {
	int code;
	const char *name;
} errnames[] = {
	ERRNAME(KB_ERR_INTERNAL), ERRNAME(KB_ERR_NOMEM),
	ERRNAME(KB_ERR_INVALID_ARG), ERRNAME(KB_ERR_SYSTEM),
	ERRNAME(KB_ERR_TOO_LONG), ERRNAME(KB_ERR_KEY_FORMAT),
	ERRNAME(KB_ERR_KEY_BAD_BYTE), ERRNAME(KB_ERR_KEY_BASE64),
	ERRNAME(KB_ERR_KEY_UNKNOWN_TYPE), ERRNAME(KB_ERR_KEY_TYPE_MISMATCH),
	ERRNAME(KB_ERR_KEY_TRUNCATED), ERRNAME(KB_ERR_KEY_TRAILING),
	ERRNAME(KB_ERR_KEY_INVALID), ERRNAME(KB_ERR_KEY_CURVE_MISMATCH),
	ERRNAME(KB_ERR_KEY_DSA), ERRNAME(KB_ERR_KEY_RSA_TOO_SMALL),
	ERRNAME(KB_ERR_KEY_TYPE_REFUSED), ERRNAME(KB_ERR_KEY_OPTIONS),
	ERRNAME(KB_ERR_KEY_COMMENT), ERRNAME(KB_ERR_CRYPTO),
	ERRNAME(KB_ERR_OPT_SYNTAX), ERRNAME(KB_ERR_OPT_UNKNOWN),
	ERRNAME(KB_ERR_OPT_FROM), ERRNAME(KB_ERR_OPT_COMMAND),
	ERRNAME(KB_ERR_OPT_DUPLICATE), ERRNAME(KB_ERR_KEYPAIR_NAME),
	ERRNAME(KB_ERR_TIME),
};

static const char *
errname(int code)
{
	size_t i;

	for (i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++) {
		if (errnames[i].code == code)
			return errnames[i].name;
	}
	return "KB_ERR_UNNAMED";
}

enum mode { MODE_INFO, MODE_PUBLIC, MODE_RENDER };

struct job {
	enum mode mode;
	unsigned parse_flags;
	unsigned min_rsa_bits;		/* 0: no policy check */
	const char *name;
	struct kb_keyopts opts;
	int have_opts;
};

static void
usage(void)
{
	fprintf(stderr, "usage: kb-keyinfo [-o] [-m MINBITS] [FILE]\n"
	    "       kb-keyinfo [-o] --public [FILE]\n"
	    "       kb-keyinfo [-o] --render NAME [--options OPTS] "
	    "[--drop-unknown] [--expiry UNIX] [FILE]\n");
	exit(2);
}

static int
parse_ulong(const char *s, unsigned long max, unsigned long *vp)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*vp = v;
	return 0;
}

/* One input line to one output line. */
static void
process(const struct job *j, const char *line, size_t len)
{
	struct kb_key *k = NULL;
	char *a = NULL, *b = NULL;
	int r;

	if ((r = key_parse_line(line, len, j->parse_flags, &k)) != 0)
		goto out;
	if (j->min_rsa_bits > 0 && (r = key_policy_check(k,
	    KB_KT_DEFAULT_MASK, j->min_rsa_bits)) != 0)
		goto out;
	switch (j->mode) {
	case MODE_INFO:
		if ((r = key_fingerprint_sha256(k, &a)) != 0 ||
		    (r = key_fingerprint_md5(k, &b)) != 0)
			goto out;
		printf("%s %u %s %s\n", key_type_label(k), key_bits(k), a, b);
		break;
	case MODE_PUBLIC:
		if ((r = key_public_text(k, &a)) != 0)
			goto out;
		printf("%s\n", a);
		break;
	case MODE_RENDER:
		if ((r = key_render_line(k, j->have_opts ? &j->opts : NULL,
		    j->name, &a)) != 0)
			goto out;
		printf("%s\n", a);
		break;
	}
 out:
	if (r != 0)
		printf("%s\n", errname(r));
	free(a);
	free(b);
	key_free(k);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "public", no_argument, NULL, 'p' },
		{ "render", required_argument, NULL, 'r' },
		{ "options", required_argument, NULL, 'O' },
		{ "drop-unknown", no_argument, NULL, 'd' },
		{ "expiry", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	struct job j;
	const char *optstr = NULL;
	char dropped[256];
	FILE *in = stdin;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long v;
	int ch, drop = 0, r;

	memset(&j, 0, sizeof(j));
	while ((ch = getopt_long(argc, argv, "om:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			j.parse_flags |= KB_KEY_ALLOW_OPTIONS;
			break;
		case 'm':
			if (parse_ulong(optarg, UINT_MAX, &v) != 0)
				usage();
			j.min_rsa_bits = (unsigned)v;
			break;
		case 'p':
			j.mode = MODE_PUBLIC;
			break;
		case 'r':
			j.mode = MODE_RENDER;
			j.name = optarg;
			break;
		case 'O':
			optstr = optarg;
			break;
		case 'd':
			drop = 1;
			break;
		case 'e':
			if (parse_ulong(optarg, LONG_MAX, &v) != 0)
				usage();
			j.opts.has_expiry = 1;
			j.opts.expiry = (time_t)v;
			j.have_opts = 1;
			break;
		default:
			usage();
		}
	}
	if (argc - optind > 1)
		usage();
	if (optstr != NULL) {
		int has_expiry = j.opts.has_expiry;
		time_t expiry = j.opts.expiry;

		if ((r = opts_parse(optstr, strlen(optstr), drop ?
		    KB_OPTS_DROP_UNKNOWN : KB_OPTS_STRICT, &j.opts, dropped,
		    sizeof(dropped))) != 0) {
			printf("%s\n", errname(r));
			return 1;
		}
		if (dropped[0] != '\0')
			fprintf(stderr, "dropped: %s\n", dropped);
		j.opts.has_expiry = has_expiry;
		j.opts.expiry = expiry;
		j.have_opts = 1;
	}
	if (optind < argc && (in = fopen(argv[optind], "re")) == NULL) {
		perror(argv[optind]);
		return 1;
	}
	while ((n = getline(&line, &cap, in)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			n--;
		process(&j, line, (size_t)n);
	}
	free(line);
	opts_clear(&j.opts);
	if (in != stdin)
		fclose(in);
	return ferror(stdout) || fflush(stdout) != 0 ? 1 : 0;
}
