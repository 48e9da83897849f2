/*
 * cmd_create.c - `keybound create` (generate a key pair, keep the private
 * key in a new file, store the public key) and `keybound import` (store an
 * existing public key).
 *
 * create checks everything it can before generating or writing anything:
 * the name, that it is not taken, that FILE does not exist.  The private
 * key file appears only complete (an unnamed O_TMPFILE linked into place,
 * which never replaces an existing name), before the public key is
 * stored; if storing fails, the file is removed again.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "kb.h"
#include "config.h"
#include "directory.h"
#include "fdio.h"
#include "filter.h"
#include "names.h"
#include "sshkey.h"
#include "admin.h"

#define KEYGEN_SLOW_MS		600000	/* big RSA keys take minutes */
#define KEYGEN_FAST_MS		60000

/* What gets stored for a new key pair. */
struct newpair {
	const char *name;
	struct kb_key *key;
	char *text;		/* "TYPE BASE64" */
	char *fp;		/* SHA256 */
	char *fp_md5;
};

static void
newpair_clear(struct newpair *np)
{
	key_free(np->key);
	free(np->text);
	free(np->fp);
	free(np->fp_md5);
	memset(np, 0, sizeof(*np));
}

/* Fill np from a parsed key (np->key is set). */
static int
newpair_fill(struct newpair *np)
{
	int r;

	if ((r = key_public_text(np->key, &np->text)) != 0 ||
	    (r = key_fingerprint_sha256(np->key, &np->fp)) != 0 ||
	    (r = key_fingerprint_md5(np->key, &np->fp_md5)) != 0)
		return r;
	return 0;
}

/*
 * Refuse an existing FILE (a dangling symlink counts) and prepare an
 * unnamed file in its directory; an exit status.
 */
int
keyfile_prepare(struct keyfile *kf)
{
	struct stat st;
	char *copy = NULL;
	const char *dir;
	int status = EXIT_FAIL;

	kf->fd = -1;
	if (strcmp(kf->path, "-") == 0) {
		/* a private key is not for the screen or for a log */
		if (isatty(STDOUT_FILENO))
			return admin_fail(EXIT_USAGE, "-o -: stdout is a "
			    "terminal; redirect it or name a FILE");
		kf->to_stdout = 1;
		return EXIT_OK;
	}
	if (lstat(kf->path, &st) == 0) {
		status = admin_fail(EXIT_EXISTS, "%s: already exists; not "
		    "overwriting it", kf->path);
		goto out;
	}
	if (errno != ENOENT) {
		admin_err("%s: %s", kf->path, strerror(errno));
		goto out;
	}
	if ((copy = strdup(kf->path)) == NULL) {
		admin_err("%s", kb_strerror(KB_ERR_NOMEM));
		goto out;
	}
	dir = dirname(copy);
	kf->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (kf->fd != -1 && access("/proc/self/fd", X_OK) == 0) {
		kf->tmpfile = 1;
		status = EXIT_OK;
		goto out;
	}
	if (kf->fd != -1) {
		close(kf->fd);
		kf->fd = -1;
	} else if (errno != EOPNOTSUPP && errno != EISDIR &&
	    errno != EINVAL) {
		admin_err("%s: cannot create a file in %s: %s", kf->path, dir,
		    strerror(errno));
		goto out;
	}
	/* no O_TMPFILE here: check the directory is writable at least */
	if (access(dir, W_OK | X_OK) != 0) {
		admin_err("%s: cannot create a file in %s: %s", kf->path, dir,
		    strerror(errno));
		goto out;
	}
	status = EXIT_OK;
 out:
	free(copy);
	return status;
}

/* Write the key and give it its name; an exit status. */
int
keyfile_commit(struct keyfile *kf, const unsigned char *data, size_t len)
{
	char procpath[64];

	if (!kf->tmpfile) {
		kf->fd = open(kf->path, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (kf->fd == -1) {
			return admin_fail(errno == EEXIST ? EXIT_EXISTS :
			    EXIT_FAIL, "%s: %s", kf->path, errno == EEXIST ?
			    "already exists; not overwriting it" :
			    strerror(errno));
		}
		kf->linked = 1;
	}
	if (fchmod(kf->fd, 0600) != 0 ||
	    fd_write_all(kf->fd, data, len) != 0 ||
	    fsync(kf->fd) != 0) {
		admin_err("%s: cannot write the private key: %s", kf->path,
		    strerror(errno));
		return EXIT_FAIL;
	}
	if (kf->tmpfile) {
		snprintf(procpath, sizeof(procpath), "/proc/self/fd/%d",
		    kf->fd);
		/* link(2) never replaces or follows an existing name */
		if (linkat(AT_FDCWD, procpath, AT_FDCWD, kf->path,
		    AT_SYMLINK_FOLLOW) != 0) {
			return admin_fail(errno == EEXIST ? EXIT_EXISTS :
			    EXIT_FAIL, "%s: %s", kf->path, errno == EEXIST ?
			    "already exists; not overwriting it" :
			    strerror(errno));
		}
		kf->linked = 1;
	}
	return EXIT_OK;
}

/*
 * Remove the file again (storing failed); 0 if it is gone.  Only if the
 * name still refers to the file we wrote: never someone else's.
 */
int
keyfile_discard(struct keyfile *kf)
{
	struct stat ours, now;
	int r = 0;

	if (kf->linked) {
		if (kf->fd == -1 || fstat(kf->fd, &ours) != 0)
			r = -1;
		else if (lstat(kf->path, &now) != 0)
			r = errno == ENOENT ? 0 : -1;
		else if (now.st_dev != ours.st_dev ||
		    now.st_ino != ours.st_ino) {
			errno = EEXIST;
			r = -1;
		} else if (unlink(kf->path) != 0 && errno != ENOENT)
			r = -1;
		if (r == 0)
			kf->linked = 0;
	}
	if (kf->fd != -1) {
		close(kf->fd);
		kf->fd = -1;
	}
	return r;
}

void
keyfile_close(struct keyfile *kf)
{
	if (kf->fd != -1)
		close(kf->fd);
	kf->fd = -1;
}

/* An exit status: 0 when name is free, 1 (reported) when not. */
static int
name_free(struct kb_admin *a, const char *name)
{
	struct kb_pair *p = NULL;
	int r;

	r = pair_read(a, name, &p);
	pair_free(p);
	if (r == KB_ERR_DIR_NO_SUCH_OBJECT)
		return EXIT_OK;
	if (r == 0)
		return admin_fail(EXIT_EXISTS, "key pair %s already exists",
		    name);
	return admin_fail(admin_status(r), "cannot read key pair %s: %s",
	    name, kb_strerror(r));
}

/*
 * Before storing: the name is not a host group's and the key is not on
 * the blocklist.  An exit status (EXIT_EXISTS reported).
 */
static int
fleet_precheck(struct kb_admin *a, const struct newpair *np)
{
	int r;

	if ((r = group_name_taken(a, np->name)) != 0) {
		if (r == 1) {
			admin_err("a host group %s exists: key pairs and groups "
			    "share one name space", np->name);
			return EXIT_EXISTS;
		}
		admin_err("cannot read host group %s: %s", np->name,
		    kb_strerror(r));
		return EXIT_FAIL;
	}
	if ((r = blocklist_has(a, np->fp)) != 0) {
		if (r == 1) {
			admin_err("key %s is blocked (on the blocklist): not "
			    "stored", np->fp);
			return EXIT_EXISTS;
		}
		admin_err("cannot read the blocklist: %s", kb_strerror(r));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/*
 * After storing: a block or a host group of the same name that raced us
 * wins; take the pair back.  An exit status (EXIT_EXISTS reported).
 */
static int
fleet_postcheck(struct kb_admin *a, const struct newpair *np)
{
	char *dn = NULL;
	int blocked, group, r;

	blocked = blocklist_has(a, np->fp);
	group = group_name_taken(a, np->name);
	if (blocked == 0 && group == 0)
		return EXIT_OK;
	if ((r = admin_pair_dn(a, np->name, &dn)) == 0)
		r = dir_delete(a->dir, dn, NULL);
	free(dn);
	if (blocked == 1)
		admin_err("key %s was blocked meanwhile: key pair %s taken "
		    "back", np->fp, np->name);
	else if (group == 1)
		admin_err("a host group %s was created meanwhile: key pair "
		    "taken back", np->name);
	else
		admin_err("cannot check the blocklist after storing: key pair "
		    "%s taken back", np->name);
	if (r != 0 && r != KB_ERR_DIR_NO_SUCH_OBJECT)
		admin_err("could not take key pair %s back: %s; delete it",
		    np->name, kb_strerror(r));
	return blocked == 1 || group == 1 ? EXIT_EXISTS : EXIT_FAIL;
}

/* Add the entry cn=NAME,base; a KB_ERR_* code. */
static int
store_pair(struct kb_admin *a, const struct newpair *np)
{
	const char *oc[] = { OC_KEYPAIR, NULL };
	const char *cn[] = { np->name, NULL };
	const char *pk[] = { np->text, NULL };
	const char *fp[] = { np->fp, NULL };
	struct kb_mod mods[] = {
		{ KB_MOD_ADD, "objectClass", oc },
		{ KB_MOD_ADD, AT_CN, cn },
		{ KB_MOD_ADD, AT_PUBKEY, pk },
		{ KB_MOD_ADD, AT_FP, fp },
	};
	char *dn = NULL;
	int r;

	if ((r = admin_pair_dn(a, np->name, &dn)) != 0)
		return r;
	r = admin_add(a, dn, mods, sizeof(mods) / sizeof(mods[0]));
	free(dn);
	return r;
}

/* Delete the entry just stored again (nothing attached can be lost). */
static int
unstore_pair(struct kb_admin *a, const char *name)
{
	char *dn = NULL;
	int r;

	if ((r = admin_pair_dn(a, name, &dn)) != 0)
		return r;
	r = dir_delete(a->dir, dn, "(&(objectClass=" OC_KEYPAIR ")(!("
	    AT_ATTACH "=*)))");
	free(dn);
	return r;
}

/* Report a failed store; returns the exit status. */
static int
store_error(struct kb_admin *a, const char *name, int r)
{
	const char *detail = dir_last_error(a->dir);

	if (r == KB_ERR_DIR_ALREADY_EXISTS)
		return admin_fail(EXIT_EXISTS, "key pair %s already exists",
		    name);
	return admin_fail(admin_status(r), "cannot store key pair %s: "
	    "%s%s%s", name, kb_strerror(r), detail[0] != '\0' ? ": " : "",
	    detail);
}

/*
 * Report the stored key pair: one line, or (--json) the key pair object
 * read back from the directory, as show prints it.  With the private key
 * on stdout (-o -) the line goes to stderr.  An exit status.
 */
static int
print_new(struct kb_admin *a, const char *verb, const struct newpair *np,
    const char *file)
{
	struct kb_pair *p = NULL;
	FILE *f = file != NULL && strcmp(file, "-") == 0 ? stderr : stdout;
	int r;

	if (!a->json) {
		fprintf(f, "%s key pair ", verb);
		text_safe(f, np->name, strlen(np->name));
		fprintf(f, ": %s %u %s", key_type_label(np->key),
		    key_bits(np->key), np->fp);
		if (file != NULL && f == stdout)
			fprintf(f, ", private key in %s", file);
		fprintf(f, "\n");
		return EXIT_OK;
	}
	if ((r = pair_read(a, np->name, &p)) != 0)
		return admin_fail(admin_status(r), "stored key pair %s, but "
		    "cannot read it back: %s", np->name, kb_strerror(r));
	r = pair_print_json(p, file);
	pair_free(p);
	return r == 0 ? EXIT_OK : admin_fail(EXIT_FAIL, "%s",
	    kb_strerror(r));
}

static int
parse_key_type(const char *s, enum keygen_type *tp)
{
	if (strcmp(s, "ed25519") == 0)
		*tp = KEYGEN_ED25519;
	else if (strcmp(s, "rsa") == 0)
		*tp = KEYGEN_RSA;
	else if (strcmp(s, "ecdsa") == 0)
		*tp = KEYGEN_ECDSA;
	else
		return -1;
	return 0;
}

/* Generate, write the file, store; everything checked already. */
static int
create_run(struct kb_admin *a, const char *name, enum keygen_type type,
    unsigned bits, const char *pass, size_t passlen, struct keyfile *kf)
{
	struct newpair np;
	struct keygen *k = NULL;
	unsigned char *pem = NULL;
	size_t pemlen = 0;
	char *line = NULL;
	int r, status = EXIT_FAIL;

	memset(&np, 0, sizeof(np));
	np.name = name;
	if ((r = keygen_generate(type, bits, &k)) != 0 ||
	    (r = keygen_public_line(k, &line)) != 0 ||
	    (r = key_parse_line(line, strlen(line), 0, &np.key)) != 0 ||
	    (r = newpair_fill(&np)) != 0 ||
	    (r = keygen_private_pem(k, name, pass, passlen, &pem,
	    &pemlen)) != 0) {
		admin_err("key generation failed: %s", kb_strerror(r));
		goto out;
	}
	if ((r = key_policy_check(np.key, a->cfg->allowed_key_types,
	    a->cfg->min_rsa_bits)) != 0) {
		status = admin_fail(EXIT_USAGE, "refused by the config: %s",
		    kb_strerror(r));
		goto out;
	}
	keygen_free(k);
	k = NULL;
	if ((status = fleet_precheck(a, &np)) != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	if (!kf->to_stdout &&
	    (status = keyfile_commit(kf, pem, pemlen)) != EXIT_OK) {
		if (keyfile_discard(kf) != 0)
			admin_err("%s: could not remove it: %s", kf->path,
			    strerror(errno));
		goto out;
	}
	if ((r = store_pair(a, &np)) != 0) {
		status = store_error(a, name, r);
		if (kf->to_stdout)
			;	/* nothing was written */
		else if (keyfile_discard(kf) == 0)
			admin_err("%s removed: nothing was stored", kf->path);
		else
			admin_err("%s: could not remove it: %s", kf->path,
			    strerror(errno));
		admin_audit(a, "create", name, NULL, 0, kb_strerror(r));
		goto out;
	}
	if ((status = fleet_postcheck(a, &np)) != EXIT_OK) {
		if (!kf->to_stdout && keyfile_discard(kf) == 0)
			admin_err("%s removed: nothing was stored", kf->path);
		admin_audit(a, "create", name, NULL, 0, "taken back");
		goto out;
	}
	status = EXIT_FAIL;
	if (kf->to_stdout && fd_write_all(STDOUT_FILENO, pem, pemlen) != 0) {
		status = admin_fail(EXIT_FAIL, "cannot write the private key "
		    "to stdout: %s", strerror(errno));
		r = unstore_pair(a, name);
		admin_err("%s", r == 0 ? "the key pair was deleted again" :
		    "the key pair stays stored without its private key; "
		    "delete it");
		admin_audit(a, "create", name, NULL, 0, "stdout failed");
		goto out;
	}
	admin_audit(a, "create", name, NULL, 0, "ok");
	status = print_new(a, "created", &np, kf->path);
 out:
	keygen_free(k);
	if (pem != NULL) {
		OPENSSL_cleanse(pem, pemlen);
		free(pem);
	}
	free(line);
	newpair_clear(&np);
	return status;
}

/* The arguments of create. */
struct create_args {
	const char *name;
	const char *passfile;
	enum keygen_type type;
	unsigned bits;
};

/* Parse create's arguments; an exit status. */
static int
create_parse(struct kb_admin *a, int argc, char **argv,
    struct create_args *ca, struct keyfile *kf)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = admin_getopt(a, argc, argv, "t:b:o:", longopts)) != -1) {
		switch (ch) {
		case 't':
			if (parse_key_type(optarg, &ca->type) != 0)
				return admin_usage(argv[0], "-t: key type "
				    "must be ed25519, rsa or ecdsa");
			break;
		case 'b':
			if (config_parse_uint(optarg, 1, 65536, &ca->bits) != 0)
				return admin_usage(argv[0], "-b: bad size");
			break;
		case 'o':
			kf->path = optarg;
			break;
		case 'P':
			ca->passfile = optarg;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return admin_usage(argv[0], "expected one NAME");
	ca->name = argv[optind];
	if (kf->path == NULL || kf->path[0] == '\0')
		return admin_usage(argv[0], "-o FILE is required");
	if (strcmp(kf->path, "-") == 0 && a->json)
		return admin_usage(argv[0], "-o - and --json both want stdout");
	if (keygen_check_bits(ca->type, &ca->bits) != 0)
		return admin_usage(argv[0], "-b: %u bits not possible for this "
		    "type (RSA 2048-16384, ECDSA 256/384/521, Ed25519 256)",
		    ca->bits);
	return EXIT_OK;
}

int
cmd_create(struct kb_admin *a, int argc, char **argv)
{
	struct keyfile kf = { NULL, -1, 0, 0, 0 };
	struct create_args ca = { NULL, NULL, KEYGEN_ED25519, 0 };
	char *pass = NULL;
	size_t passlen = 0;
	long extra_ms;
	int r, status;

	if ((status = create_parse(a, argc, argv, &ca, &kf)) != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	if (name_keypair_valid(ca.name) != 0) {
		status = admin_fail(EXIT_USAGE, "%s", NAME_RULE_TEXT);
		goto out;
	}
	if (ca.passfile != NULL && (r = config_read_password(ca.passfile,
	    &pass, &passlen)) != 0) {
		status = admin_fail(EXIT_USAGE, "%s: %s", ca.passfile,
		    kb_strerror(r));
		goto out;
	}
	if ((status = keyfile_prepare(&kf)) != EXIT_OK)
		goto out;
	extra_ms = ca.type == KEYGEN_RSA && ca.bits > 4096 ? KEYGEN_SLOW_MS :
	    KEYGEN_FAST_MS;
	if ((status = admin_connect(a, extra_ms)) != EXIT_OK ||
	    (status = name_free(a, ca.name)) != EXIT_OK)
		goto out;
	status = create_run(a, ca.name, ca.type, ca.bits, pass, passlen, &kf);
 out:
	keyfile_close(&kf);
	if (pass != NULL) {
		explicit_bzero(pass, passlen);
		free(pass);
	}
	return status;
}

/* Read the one public key line of path ("-" = stdin); an exit status. */
static int
read_key_line(const char *path, char **linep, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0, max = KB_KEY_LINE_MAX + 2;
	ssize_t n;
	int fd = STDIN_FILENO, status = EXIT_USAGE;

	*linep = NULL;
	if (strcmp(path, "-") != 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		admin_err("%s: %s", path, strerror(errno));
		goto out;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		admin_err("%s", kb_strerror(KB_ERR_NOMEM));
		goto out;
	}
	while (len < max + 1) {
		n = read(fd, buf + len, max + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			admin_err("%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		admin_err("%s: too long for a public key line", path);
		goto out;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0 || memchr(buf, '\n', len) != NULL) {
		admin_err("%s: expected exactly one public key line", path);
		goto out;
	}
	buf[len] = '\0';
	*linep = buf;
	*lenp = len;
	buf = NULL;
	status = EXIT_OK;
 out:
	if (fd != STDIN_FILENO && fd != -1)
		close(fd);
	free(buf);
	return status;
}

/* Refuse a key already stored under another name; an exit status. */
static int
refuse_duplicate(struct kb_admin *a, const struct newpair *np)
{
	struct kb_pair **pairs = NULL;
	char *esc = NULL, *filter = NULL;
	size_t n = 0;
	int r, status = EXIT_FAIL;

	if ((r = filter_escape(np->fp, strlen(np->fp), &esc)) != 0 ||
	    asprintf(&filter, "(&(objectClass=" OC_KEYPAIR ")(" AT_FP
	    "=%s))", esc) < 0) {
		filter = NULL;
		admin_err("%s", kb_strerror(r ? r : KB_ERR_NOMEM));
		goto out;
	}
	if ((r = pair_search(a, filter, &pairs, &n)) != 0) {
		status = admin_fail(admin_status(r), "cannot search for "
		    "duplicates: %s", kb_strerror(r));
		goto out;
	}
	if (n > 0) {
		status = admin_fail(EXIT_EXISTS, "this key is already stored "
		    "as key pair %.*s (use --allow-duplicate to store it "
		    "again)", (int)pairs[0]->name.len, pairs[0]->name.s);
		goto out;
	}
	status = EXIT_OK;
 out:
	pair_free_all(pairs, n);
	free(esc);
	free(filter);
	return status;
}

int
cmd_import(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ "allow-duplicate", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 }
	};
	struct newpair np;
	char *line = NULL;
	size_t len = 0;
	int ch, r, dup_ok = 0, status = EXIT_FAIL;

	memset(&np, 0, sizeof(np));
	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1) {
		if (ch != 'A')
			return EXIT_USAGE;
		dup_ok = 1;
	}
	if (argc - optind != 2)
		return admin_usage(argv[0], "expected NAME and FILE (or -)");
	np.name = argv[optind];
	if (name_keypair_valid(np.name) != 0) {
		status = admin_fail(EXIT_USAGE, "%s", NAME_RULE_TEXT);
		goto out;
	}
	if ((status = read_key_line(argv[optind + 1], &line, &len)) != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	if ((r = key_parse_line(line, len, 0, &np.key)) != 0) {
		status = admin_fail(EXIT_USAGE, "%s: not a usable public key: "
		    "%s", argv[optind + 1], kb_strerror(r));
		goto out;
	}
	if ((r = newpair_fill(&np)) != 0) {
		admin_err("%s", kb_strerror(r));
		goto out;
	}
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	if ((r = key_policy_check(np.key, a->cfg->allowed_key_types,
	    a->cfg->min_rsa_bits)) != 0) {
		status = admin_fail(EXIT_USAGE, "%s: refused by the config: "
		    "%s", argv[optind + 1], kb_strerror(r));
		goto out;
	}
	if ((status = name_free(a, np.name)) != EXIT_OK ||
	    (status = fleet_precheck(a, &np)) != EXIT_OK ||
	    (!dup_ok && (status = refuse_duplicate(a, &np)) != EXIT_OK))
		goto out;
	status = EXIT_FAIL;
	if ((r = store_pair(a, &np)) != 0) {
		status = store_error(a, np.name, r);
		admin_audit(a, "import", np.name, NULL, 0, kb_strerror(r));
		goto out;
	}
	if ((status = fleet_postcheck(a, &np)) != EXIT_OK) {
		admin_audit(a, "import", np.name, NULL, 0, "taken back");
		goto out;
	}
	status = EXIT_FAIL;
	admin_audit(a, "import", np.name, NULL, 0, "ok");
	status = print_new(a, "imported", &np, NULL);
 out:
	free(line);
	newpair_clear(&np);
	return status;
}
