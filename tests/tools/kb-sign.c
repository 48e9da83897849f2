/*
 * kb-sign - signed records and SSHSIG from a shell script.
 *
 *   kb-sign pair NAME PUBLIC-KEY-LINE [-a ATTACHMENT[=END]]... [-n NOTAFTER]
 *	[-o OPTIONS] [-b] -s SERIAL -t TIME
 *   kb-sign group NAME [-m MEMBER]... -s SERIAL -t TIME
 *	write the canonical record to stdout
 *   kb-sign decode		read a record on stdin, print its fields
 *   kb-sign sign [-r] KEYFILE|agent:SHA256:...
 *	sign stdin; print the armored signature (-r: one line of base64)
 *   kb-sign verify PUBLIC-KEY-FILE SIGFILE
 *	verify SIGFILE (armored, or one line of base64) over stdin
 *   kb-sign signer SIGFILE	print the signer's SHA256 fingerprint
 *
 * Errors are printed as the KB_ERR_* name and kb_strerror() text on
 * stderr; the exit status is 0 on success, 1 on a refused input, 2 on
 * usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kb.h"
#include "b64.h"
#include "record.h"
#include "sshkey.h"
#include "sshsig.h"

#define ERRNAME(e)	{ e, #e }
#define MAX_ITEMS	64
#define AGENT_TIMEOUT_MS	10000

static const struct {
	int code;
	const char *name;
} errnames[] = {
	ERRNAME(KB_ERR_INVALID_ARG), ERRNAME(KB_ERR_TOO_LONG),
	ERRNAME(KB_ERR_NOMEM), ERRNAME(KB_ERR_CRYPTO),
	ERRNAME(KB_ERR_CONFIG_OPEN), ERRNAME(KB_ERR_CONFIG_PERM),
	ERRNAME(KB_ERR_RECORD), ERRNAME(KB_ERR_RECORD_VERSION),
	ERRNAME(KB_ERR_SIG_FORMAT), ERRNAME(KB_ERR_SIG_NAMESPACE),
	ERRNAME(KB_ERR_SIG_HASH), ERRNAME(KB_ERR_SIG_KEY),
	ERRNAME(KB_ERR_SIG_BAD), ERRNAME(KB_ERR_SIG_KEYTYPE),
	ERRNAME(KB_ERR_PRIVKEY), ERRNAME(KB_ERR_PRIVKEY_ENCRYPTED),
	ERRNAME(KB_ERR_AGENT), ERRNAME(KB_ERR_AGENT_NO_KEY),
	ERRNAME(KB_ERR_AGENT_REFUSED), ERRNAME(KB_ERR_AGENT_TIMEOUT),
};

static int
fail(const char *what, int code)
{
	const char *name = "KB_ERR_UNNAMED";
	size_t i;

	for (i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++) {
		if (errnames[i].code == code)
			name = errnames[i].name;
	}
	fprintf(stderr, "kb-sign: %s: %s (%s)\n", what, name,
	    kb_strerror(code));
	return 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: kb-sign pair|group|decode|sign|verify|signer"
	    " ...\n");
	exit(2);
}

static uint64_t
num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-')
		usage();
	return (uint64_t)v;
}

static int
slurp(FILE *f, unsigned char **outp, size_t *lenp)
{
	unsigned char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;

	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if (cap > 64 * 1024 * 1024 ||
			    (nb = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				return -1;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		return -1;
	}
	if (buf == NULL && (buf = malloc(1)) == NULL)
		return -1;
	buf[len] = '\0';
	*outp = buf;
	*lenp = len;
	return 0;
}

static int
slurp_path(const char *path, unsigned char **outp, size_t *lenp)
{
	FILE *f;
	int r;

	if ((f = fopen(path, "re")) == NULL) {
		fprintf(stderr, "kb-sign: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	r = slurp(f, outp, lenp);
	fclose(f);
	return r;
}

static int
load_key_line(const char *line, size_t len, struct kb_key **kp)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	return key_parse_line(line, len, 0, kp);
}

static int
cmd_encode(int argc, char **argv, int group)
{
	struct kb_record rec;
	struct kb_record_att atts[MAX_ITEMS];
	const char *members[MAX_ITEMS];
	struct kb_key *k = NULL;
	unsigned char *out = NULL;
	size_t len, natts = 0, nmembers = 0;
	char *eq;
	int c, r, have_serial = 0, have_time = 0;

	memset(&rec, 0, sizeof(rec));
	rec.options = "";
	rec.kind = group ? KB_RECORD_GROUP : KB_RECORD_PAIR;
	while ((c = getopt(argc, argv, "a:bm:n:o:s:t:")) != -1) {
		switch (c) {
		case 'a':
			if (group || natts == MAX_ITEMS)
				usage();
			atts[natts].value = optarg;
			atts[natts].end = 0;
			if ((eq = strchr(optarg, '=')) != NULL) {
				*eq = '\0';
				atts[natts].end = num(eq + 1);
			}
			natts++;
			break;
		case 'b':
			rec.blocked = 1;
			break;
		case 'm':
			if (!group || nmembers == MAX_ITEMS)
				usage();
			members[nmembers++] = optarg;
			break;
		case 'n':
			rec.not_after = num(optarg);
			break;
		case 'o':
			rec.options = optarg;
			break;
		case 's':
			rec.serial = num(optarg);
			have_serial = 1;
			break;
		case 't':
			rec.signed_at = num(optarg);
			have_time = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != (group ? 1 : 2) || !have_serial || !have_time)
		usage();
	rec.name = argv[0];
	if (!group) {
		if ((r = load_key_line(argv[1], strlen(argv[1]), &k)) != 0)
			return fail("public key", r);
		rec.key_blob = key_blob(k, &rec.key_bloblen);
		rec.atts = atts;
		rec.natts = natts;
	} else {
		rec.members = members;
		rec.nmembers = nmembers;
	}
	if ((r = record_encode(&rec, &out, &len)) != 0) {
		key_free(k);
		return fail("encode", r);
	}
	fwrite(out, 1, len, stdout);
	free(out);
	key_free(k);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int
cmd_decode(void)
{
	struct kb_record rec;
	struct kb_key *k = NULL;
	unsigned char *in;
	char *text = NULL;
	size_t len, i;
	int r;

	if (slurp(stdin, &in, &len) != 0)
		return 2;
	r = record_decode(in, len, &rec);
	free(in);
	if (r != 0)
		return fail("decode", r);
	printf("kind %s\nname %s\n", rec.kind == KB_RECORD_PAIR ? "pair" :
	    "group", rec.name);
	if (rec.kind == KB_RECORD_PAIR) {
		if (key_from_blob(rec.key_blob, rec.key_bloblen, &k) == 0 &&
		    key_public_text(k, &text) == 0)
			printf("key %s\n", text);
		for (i = 0; i < rec.natts; i++)
			printf("attachment %s %" PRIu64 "\n", rec.atts[i].value,
			    rec.atts[i].end);
		printf("not-after %" PRIu64 "\noptions %s\nblocked %d\n",
		    rec.not_after, rec.options, rec.blocked);
	} else {
		for (i = 0; i < rec.nmembers; i++)
			printf("member %s\n", rec.members[i]);
	}
	printf("serial %" PRIu64 "\nsigned-at %" PRIu64 "\n", rec.serial,
	    rec.signed_at);
	free(text);
	key_free(k);
	record_free(&rec);
	return 0;
}

static int
cmd_sign(int argc, char **argv)
{
	struct kb_privkey *pk = NULL;
	unsigned char *in = NULL, *sig = NULL;
	size_t len, siglen;
	char *text = NULL;
	int c, raw = 0, r;

	while ((c = getopt(argc, argv, "r")) != -1) {
		if (c != 'r')
			usage();
		raw = 1;
	}
	if (argc - optind != 1)
		usage();
	if (slurp(stdin, &in, &len) != 0)
		return 2;
	if (strncmp(argv[optind], "agent:", 6) == 0)
		r = sshsig_sign_agent(NULL, argv[optind] + 6, AGENT_TIMEOUT_MS,
		    in, len, &sig, &siglen);
	else if ((r = sshsig_privkey_load(argv[optind], &pk)) == 0)
		r = sshsig_sign(pk, in, len, &sig, &siglen);
	free(in);
	sshsig_privkey_free(pk);
	if (r != 0)
		return fail("sign", r);
	r = raw ? b64_encode(sig, siglen, &text) :
	    sshsig_armor(sig, siglen, &text);
	free(sig);
	if (r != 0)
		return fail("armor", r);
	printf(raw ? "%s\n" : "%s", text);
	free(text);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* An armored signature, or one line of base64 (the stored form). */
static int
read_sig(const char *path, unsigned char **sigp, size_t *siglenp)
{
	unsigned char *text;
	size_t len;
	int r;

	if (slurp_path(path, &text, &len) != 0)
		return KB_ERR_NOMEM;
	if (len > 0 && text[0] == '-')
		r = sshsig_dearmor((char *)text, len, sigp, siglenp);
	else {
		if (len > 0 && text[len - 1] == '\n')
			len--;
		r = b64_decode_strict((char *)text, len, sigp, siglenp);
		if (r != 0)
			r = KB_ERR_SIG_FORMAT;
	}
	free(text);
	return r;
}

static int
cmd_verify(int argc, char **argv)
{
	struct kb_key *k = NULL;
	unsigned char *line = NULL, *in = NULL, *sig = NULL;
	size_t linelen, len, siglen;
	int r;

	if (argc != 3)
		usage();
	if (slurp_path(argv[1], &line, &linelen) != 0 ||
	    slurp(stdin, &in, &len) != 0)
		return 2;
	if ((r = load_key_line((char *)line, linelen, &k)) != 0) {
		r = fail("public key", r);
		goto out;
	}
	if ((r = read_sig(argv[2], &sig, &siglen)) != 0) {
		r = fail("signature", r);
		goto out;
	}
	if ((r = sshsig_verify(k, in, len, sig, siglen)) != 0) {
		r = fail("verify", r);
		goto out;
	}
	printf("good signature\n");
 out:
	key_free(k);
	free(line);
	free(in);
	free(sig);
	return r;
}

static int
cmd_signer(int argc, char **argv)
{
	struct kb_key *k = NULL;
	unsigned char *sig = NULL;
	char *fp = NULL;
	size_t siglen;
	int r;

	if (argc != 2)
		usage();
	if ((r = read_sig(argv[1], &sig, &siglen)) != 0)
		return fail("signature", r);
	r = sshsig_parse(sig, siglen, &k);
	free(sig);
	if (r != 0)
		return fail("signature", r);
	if ((r = key_fingerprint_sha256(k, &fp)) != 0) {
		key_free(k);
		return fail("fingerprint", r);
	}
	printf("%s\n", fp);
	free(fp);
	key_free(k);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "pair") == 0)
		return cmd_encode(argc - 1, argv + 1, 0);
	if (strcmp(argv[1], "group") == 0)
		return cmd_encode(argc - 1, argv + 1, 1);
	if (strcmp(argv[1], "decode") == 0 && argc == 2)
		return cmd_decode();
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "signer") == 0)
		return cmd_signer(argc - 1, argv + 1);
	usage();
	return 2;
}
